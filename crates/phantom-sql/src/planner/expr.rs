//! Bound expressions: names resolved to column positions, types known.
//!
//! The binder turns `sqlparser` expressions into [`Expr`]. A column reference becomes the
//! position of the value in the row the expression is evaluated against, so evaluation
//! never looks anything up by name. Each node that can overflow or must round carries its
//! result type, which is how `SMALLINT` arithmetic knows to fail past 32767.

use std::fmt;

use crate::planner::plan::OutputColumn;
use crate::types::{DataType, Value};

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl CmpOp {
    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            op => op,
        }
    }

    /// The SQL spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
}

impl ArithOp {
    /// The SQL spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }
}

/// Built-in scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// `abs(x)`
    Abs,
    /// `coalesce(a, b, ...)`
    Coalesce,
    /// `nullif(a, b)`
    NullIf,
    /// `length(s)`, `char_length(s)`, `character_length(s)`
    Length,
    /// `octet_length(s)`
    OctetLength,
    /// `upper(s)`
    Upper,
    /// `lower(s)`
    Lower,
    /// `round(x)` and `round(x, digits)`
    Round,
    /// `trunc(x)`
    Trunc,
    /// `floor(x)`
    Floor,
    /// `ceil(x)`, `ceiling(x)`
    Ceil,
    /// `sqrt(x)`
    Sqrt,
    /// `power(x, y)`
    Power,
    /// `mod(a, b)`
    Mod,
    /// `sign(x)`
    Sign,
    /// `greatest(a, ...)`
    Greatest,
    /// `least(a, ...)`
    Least,
    /// `substring(s, from [, for])`
    Substring,
    /// `position(sub in s)` / `strpos(s, sub)` (arguments as for strpos)
    StrPos,
    /// `trim(s)`, `btrim(s, chars)`
    Trim,
    /// `ltrim(s [, chars])`
    LTrim,
    /// `rtrim(s [, chars])`
    RTrim,
    /// `replace(s, from, to)`
    Replace,
    /// `concat(a, ...)`: NULLs are skipped
    Concat,
    /// `left(s, n)`
    Left,
    /// `right(s, n)`
    Right,
    /// `repeat(s, n)`
    Repeat,
    /// `reverse(s)`
    Reverse,
    /// A date or time function (`now()`, `EXTRACT`, `date_trunc`, `to_char`, ...).
    DateTime(crate::exec::datetime_functions::DateTimeFunction),
    /// A PostgreSQL compatibility function (`format_type`, `~`, ...).
    Pg(crate::exec::pg_functions::PgFunction),
}

impl Function {
    /// The function's SQL name.
    pub fn name(self) -> &'static str {
        use Function::*;
        match self {
            Abs => "abs",
            Coalesce => "coalesce",
            NullIf => "nullif",
            Length => "length",
            OctetLength => "octet_length",
            Upper => "upper",
            Lower => "lower",
            Round => "round",
            Trunc => "trunc",
            Floor => "floor",
            Ceil => "ceil",
            Sqrt => "sqrt",
            Power => "power",
            Mod => "mod",
            Sign => "sign",
            Greatest => "greatest",
            Least => "least",
            Substring => "substring",
            StrPos => "strpos",
            Trim => "btrim",
            LTrim => "ltrim",
            RTrim => "rtrim",
            Replace => "replace",
            Concat => "concat",
            Left => "left",
            Right => "right",
            Repeat => "repeat",
            Reverse => "reverse",
            DateTime(f) => f.name(),
            Pg(f) => f.name(),
        }
    }
}

/// A bound scalar expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Constant(Value),
    /// The value at this position of the input row.
    Column(usize),
    /// A statement parameter (`$1` is 0), replaced by its value before execution.
    Parameter(usize),
    /// `NOT e`
    Not(Box<Expr>),
    /// `-e` (result type for the overflow check)
    Negate(Box<Expr>, DataType),
    /// `a AND b`
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`
    Or(Box<Expr>, Box<Expr>),
    /// `a <op> b`
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `a <op> b` with the result type
    Arith(ArithOp, Box<Expr>, Box<Expr>, DataType),
    /// `a || b`
    Concat(Box<Expr>, Box<Expr>),
    /// `e IS [NOT] NULL`
    IsNull(Box<Expr>, bool),
    /// `a IS [NOT] DISTINCT FROM b` (the flag is true for NOT)
    IsDistinctFrom(Box<Expr>, Box<Expr>, bool),
    /// `e IS [NOT] TRUE/FALSE/UNKNOWN`: (expr, the truth value tested, negated)
    IsTruth(Box<Expr>, Option<bool>, bool),
    /// `CAST(e AS type)`
    Cast(Box<Expr>, DataType),
    /// `e [NOT] LIKE pattern [ESCAPE c]`, `ILIKE` when case-insensitive
    Like {
        /// The string tested.
        expr: Box<Expr>,
        /// The pattern.
        pattern: Box<Expr>,
        /// The escape character; `None` means the default backslash.
        escape: Option<char>,
        /// NOT LIKE.
        negated: bool,
        /// ILIKE.
        case_insensitive: bool,
    },
    /// `e [NOT] IN (list)`
    InList(Box<Expr>, Vec<Expr>, bool),
    /// `CASE [operand] WHEN .. THEN .. [ELSE ..] END`
    Case {
        /// The operand of a simple CASE.
        operand: Option<Box<Expr>>,
        /// The WHEN and THEN pairs.
        whens: Vec<(Expr, Expr)>,
        /// The ELSE result.
        otherwise: Option<Box<Expr>>,
    },
    /// A scalar function call with its result type.
    Call(Function, Vec<Expr>, DataType),
    /// A subquery: scalar, EXISTS, IN or a quantified comparison.
    Subquery(Box<Subquery>),
    /// Inside a subquery's plan: the value of the enclosing row's `args[k]` (see
    /// [`Subquery`]). Replaced by a constant before the subquery runs.
    Outer(usize),
    /// `nextval`, `currval`, `setval` or `lastval`: never constant, since each call can
    /// change or read session and sequence state.
    Sequence(Box<SequenceCall>),
}

/// The sequence functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceFunction {
    Nextval,
    Currval,
    Setval,
    Lastval,
}

impl SequenceFunction {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            SequenceFunction::Nextval => "nextval",
            SequenceFunction::Currval => "currval",
            SequenceFunction::Setval => "setval",
            SequenceFunction::Lastval => "lastval",
        }
    }
}

/// Runs sequence functions for a statement. The executor provides it (it needs the
/// session and the transaction, see [`crate::sequence`]); the planner only carries it.
pub trait SequenceAccess: Send + Sync {
    /// The result of `function` on the sequence `def` (none for `lastval`) with the
    /// evaluated further arguments (`setval`'s value and `is_called`).
    fn call(
        &self,
        function: SequenceFunction,
        def: Option<&crate::catalog::SequenceDef>,
        args: &[Value],
    ) -> crate::error::Result<Value>;
}

/// A call of a sequence function, its sequence resolved when the statement was bound.
#[derive(Clone)]
pub struct SequenceCall {
    pub function: SequenceFunction,
    pub sequence: Option<std::sync::Arc<crate::catalog::SequenceDef>>,
    /// The arguments after the sequence.
    pub args: Vec<Expr>,
    /// Set by the executor just before the statement runs.
    pub access: Option<std::sync::Arc<dyn SequenceAccess>>,
}

impl fmt::Debug for SequenceCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SequenceCall")
            .field("function", &self.function)
            .field("sequence", &self.sequence)
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SequenceCall {
    fn eq(&self, other: &Self) -> bool {
        self.function == other.function && self.sequence == other.sequence && self.args == other.args
    }
}

/// What a subquery expression yields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SubqueryKind {
    /// `(SELECT ...)`: the single value of the single row (NULL for none; 21000 for more).
    Scalar,
    /// `EXISTS (SELECT ...)`.
    Exists,
    /// `operand IN (SELECT ...)`, with SQL's NULL rules.
    In,
    /// `operand op ANY/ALL (SELECT ...)`: the operator, and true for ALL.
    Quantified(CmpOp, bool),
    /// `ARRAY(SELECT ...)`: the values as an array (in its text form).
    Array,
}

/// Runs a subquery's plan for given values of its outer references. The executor
/// provides it (it needs the transaction); the planner only carries it.
pub trait SubqueryRunner: Send + Sync {
    /// The rows of `plan` with `Expr::Outer(k)` bound to `args[k]` (shared: an
    /// uncorrelated subquery's rows are computed once and handed out for every row).
    fn rows(
        &self,
        plan: &super::Plan,
        args: &[Value],
    ) -> crate::error::Result<std::sync::Arc<Vec<Vec<Value>>>>;
}

/// A subquery inside an expression. It is *correlated* when its plan refers to the
/// enclosing row: those references are `Expr::Outer(k)` inside the plan and ordinary
/// expressions over the enclosing row in `args`, so that the optimizer, which rewrites the
/// enclosing plan's column positions, keeps them right without looking inside the plan.
#[derive(Clone)]
pub struct Subquery {
    pub kind: SubqueryKind,
    pub plan: std::sync::Arc<super::Plan>,
    /// Values of the enclosing row the plan refers to.
    pub args: Vec<Expr>,
    /// The left side of IN and of quantified comparisons.
    pub operand: Option<Expr>,
    /// Set by the executor just before the statement runs.
    pub runner: Option<std::sync::Arc<dyn SubqueryRunner>>,
}

impl fmt::Debug for Subquery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subquery")
            .field("kind", &self.kind)
            .field("plan", &self.plan)
            .field("args", &self.args)
            .field("operand", &self.operand)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Subquery {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && std::sync::Arc::ptr_eq(&self.plan, &other.plan)
            && self.args == other.args
            && self.operand == other.operand
    }
}

impl Expr {
    /// Boxes `self`.
    pub fn boxed(self) -> Box<Expr> {
        Box::new(self)
    }

    /// `a AND b`, with TRUE dropped.
    pub fn and(a: Expr, b: Expr) -> Expr {
        match (a, b) {
            (Expr::Constant(Value::Boolean(true)), e) | (e, Expr::Constant(Value::Boolean(true))) => e,
            (a, b) => Expr::And(a.boxed(), b.boxed()),
        }
    }

    /// Joins conjuncts with AND; `None` for an empty list.
    pub fn conjunction(exprs: Vec<Expr>) -> Option<Expr> {
        exprs.into_iter().reduce(Expr::and)
    }

    /// Splits a predicate into its AND-ed parts.
    pub fn into_conjuncts(self) -> Vec<Expr> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::And(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                e => out.push(e),
            }
        }
        out
    }

    /// Calls `f` on every node, parents before children.
    pub fn walk(&self, f: &mut impl FnMut(&Expr)) {
        crate::depth::grow(|| {
            f(self);
            self.for_each_child(|c| c.walk(f));
        })
    }

    fn for_each_child(&self, mut f: impl FnMut(&Expr)) {
        match self {
            Expr::Constant(_) | Expr::Column(_) | Expr::Parameter(_) | Expr::Outer(_) => {}
            Expr::Subquery(q) => {
                q.args.iter().for_each(&mut f);
                if let Some(o) = &q.operand {
                    f(o);
                }
            }
            Expr::Not(e)
            | Expr::Negate(e, _)
            | Expr::IsNull(e, _)
            | Expr::IsTruth(e, _, _)
            | Expr::Cast(e, _) => f(e),
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Compare(_, a, b)
            | Expr::Arith(_, a, b, _)
            | Expr::Concat(a, b)
            | Expr::IsDistinctFrom(a, b, _) => {
                f(a);
                f(b);
            }
            Expr::Like { expr, pattern, .. } => {
                f(expr);
                f(pattern);
            }
            Expr::InList(e, list, _) => {
                f(e);
                list.iter().for_each(f);
            }
            Expr::Case { operand, whens, otherwise } => {
                if let Some(o) = operand {
                    f(o);
                }
                for (w, t) in whens {
                    f(w);
                    f(t);
                }
                if let Some(o) = otherwise {
                    f(o);
                }
            }
            Expr::Call(_, args, _) => args.iter().for_each(f),
            Expr::Sequence(call) => call.args.iter().for_each(f),
        }
    }

    /// Rewrites the tree bottom-up: `f` sees each node after its children were rewritten.
    pub fn transform(self, f: &mut impl FnMut(Expr) -> Expr) -> Expr {
        // Each level checks the stack (see crate::depth).
        crate::depth::grow(move || self.transform_node(f))
    }

    fn transform_node(self, f: &mut impl FnMut(Expr) -> Expr) -> Expr {
        // Rewrites in place, reusing the box's allocation.
        fn t(mut e: Box<Expr>, f: &mut impl FnMut(Expr) -> Expr) -> Box<Expr> {
            let inner = std::mem::replace(&mut *e, Expr::Constant(Value::Null));
            *e = inner.transform(f);
            e
        }
        let node = match self {
            e @ (Expr::Constant(_) | Expr::Column(_) | Expr::Parameter(_) | Expr::Outer(_)) => e,
            Expr::Subquery(mut q) => {
                q.args = std::mem::take(&mut q.args).into_iter().map(|e| e.transform(f)).collect();
                q.operand = q.operand.take().map(|e| e.transform(f));
                Expr::Subquery(q)
            }
            Expr::Not(e) => Expr::Not(t(e, f)),
            Expr::Negate(e, ty) => Expr::Negate(t(e, f), ty),
            Expr::IsNull(e, n) => Expr::IsNull(t(e, f), n),
            Expr::IsTruth(e, v, n) => Expr::IsTruth(t(e, f), v, n),
            Expr::Cast(e, ty) => Expr::Cast(t(e, f), ty),
            Expr::And(a, b) => Expr::And(t(a, f), t(b, f)),
            Expr::Or(a, b) => Expr::Or(t(a, f), t(b, f)),
            Expr::Compare(op, a, b) => Expr::Compare(op, t(a, f), t(b, f)),
            Expr::Arith(op, a, b, ty) => Expr::Arith(op, t(a, f), t(b, f), ty),
            Expr::Concat(a, b) => Expr::Concat(t(a, f), t(b, f)),
            Expr::IsDistinctFrom(a, b, n) => Expr::IsDistinctFrom(t(a, f), t(b, f), n),
            Expr::Like { expr, pattern, escape, negated, case_insensitive } => {
                Expr::Like { expr: t(expr, f), pattern: t(pattern, f), escape, negated, case_insensitive }
            }
            Expr::InList(e, list, n) => {
                Expr::InList(t(e, f), list.into_iter().map(|e| e.transform(f)).collect(), n)
            }
            Expr::Case { operand, whens, otherwise } => Expr::Case {
                operand: operand.map(|e| t(e, f)),
                whens: whens.into_iter().map(|(w, r)| (w.transform(f), r.transform(f))).collect(),
                otherwise: otherwise.map(|e| t(e, f)),
            },
            Expr::Call(func, args, ty) => {
                Expr::Call(func, args.into_iter().map(|e| e.transform(f)).collect(), ty)
            }
            Expr::Sequence(mut call) => {
                call.args = std::mem::take(&mut call.args).into_iter().map(|e| e.transform(f)).collect();
                Expr::Sequence(call)
            }
        };
        f(node)
    }

    /// True if `pred` holds for some node.
    pub fn any(&self, pred: &mut impl FnMut(&Expr) -> bool) -> bool {
        let mut found = false;
        self.walk(&mut |e| found = found || pred(e));
        found
    }

    /// The highest column position referenced, if any.
    pub fn max_column(&self) -> Option<usize> {
        let mut max = None;
        self.walk(&mut |e| {
            if let Expr::Column(i) = e {
                max = Some(max.map_or(*i, |m: usize| m.max(*i)));
            }
        });
        max
    }

    /// True if every column referenced is in `range`.
    pub fn columns_within(&self, range: std::ops::Range<usize>) -> bool {
        !self.any(&mut |e| matches!(e, Expr::Column(i) if !range.contains(i)))
    }

    /// Shifts every column reference by `delta` (which must not underflow).
    pub fn shift_columns(self, delta: isize) -> Expr {
        self.transform(&mut |e| match e {
            Expr::Column(i) => Expr::Column(i.wrapping_add_signed(delta)),
            e => e,
        })
    }

    /// True if the expression references no column and no parameter (and holds no
    /// subquery or sequence function, which only run with the statement).
    pub fn is_constant(&self) -> bool {
        !self.any(&mut |e| {
            matches!(
                e,
                Expr::Column(_) | Expr::Parameter(_) | Expr::Outer(_) | Expr::Subquery(_) | Expr::Sequence(_)
            ) || matches!(e, Expr::Call(Function::DateTime(f), _, _) if f.is_volatile())
        })
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Named { expr: self, columns: None }.fmt(f)
    }
}

/// An expression displayed with column positions shown as names (see [`Expr::named`]).
pub struct Named<'a> {
    expr: &'a Expr,
    columns: Option<&'a [OutputColumn]>,
}

impl Expr {
    /// The expression for display, naming column positions after `columns`.
    pub fn named<'a>(&'a self, columns: &'a [OutputColumn]) -> Named<'a> {
        Named { expr: self, columns: Some(columns) }
    }
}

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::depth::grow(|| self.fmt_node(f))
    }
}

impl Named<'_> {
    fn fmt_node(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = self.columns;
        let n = |expr| Named { expr, columns };
        match self.expr {
            Expr::Constant(Value::Text(s)) => write!(f, "'{}'", s.replace('\'', "''")),
            Expr::Constant(v) => write!(f, "{v}"),
            Expr::Column(i) => match self.columns.and_then(|c| c.get(*i)) {
                Some(OutputColumn { table: Some(t), name, .. }) => write!(f, "{t}.{name}"),
                Some(OutputColumn { name, .. }) => f.write_str(name),
                None => write!(f, "#{i}"),
            },
            Expr::Parameter(i) => write!(f, "${}", i + 1),
            Expr::Not(e) => write!(f, "NOT {}", n(e)),
            Expr::Negate(e, _) => write!(f, "-{}", n(e)),
            Expr::And(a, b) => write!(f, "({} AND {})", n(a), n(b)),
            Expr::Or(a, b) => write!(f, "({} OR {})", n(a), n(b)),
            Expr::Compare(op, a, b) => write!(f, "{} {} {}", n(a), op.symbol(), n(b)),
            Expr::Arith(op, a, b, _) => write!(f, "({} {} {})", n(a), op.symbol(), n(b)),
            Expr::Concat(a, b) => write!(f, "({} || {})", n(a), n(b)),
            Expr::IsNull(e, false) => write!(f, "{} IS NULL", n(e)),
            Expr::IsNull(e, true) => write!(f, "{} IS NOT NULL", n(e)),
            Expr::IsDistinctFrom(a, b, negated) => {
                write!(f, "{} IS {}DISTINCT FROM {}", n(a), if *negated { "NOT " } else { "" }, n(b))
            }
            Expr::IsTruth(e, v, negated) => {
                let what = match v {
                    Some(true) => "TRUE",
                    Some(false) => "FALSE",
                    None => "UNKNOWN",
                };
                write!(f, "{} IS {}{what}", n(e), if *negated { "NOT " } else { "" })
            }
            Expr::Cast(e, ty) => write!(f, "CAST({} AS {ty})", n(e)),
            Expr::Like { expr, pattern, negated, case_insensitive, .. } => write!(
                f,
                "{} {}{} {}",
                n(expr),
                if *negated { "NOT " } else { "" },
                if *case_insensitive { "ILIKE" } else { "LIKE" },
                n(pattern)
            ),
            Expr::InList(e, list, negated) => {
                write!(f, "{} {}IN (", n(e), if *negated { "NOT " } else { "" })?;
                for (i, item) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", n(item))?;
                }
                f.write_str(")")
            }
            Expr::Case { operand, whens, otherwise } => {
                f.write_str("CASE")?;
                if let Some(o) = operand {
                    write!(f, " {}", n(o))?;
                }
                for (w, t) in whens {
                    write!(f, " WHEN {} THEN {}", n(w), n(t))?;
                }
                if let Some(o) = otherwise {
                    write!(f, " ELSE {}", n(o))?;
                }
                f.write_str(" END")
            }
            Expr::Call(func, args, _) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", n(a))?;
                }
                f.write_str(")")
            }
            Expr::Outer(k) => write!(f, "$outer{k}"),
            Expr::Sequence(call) => {
                write!(f, "{}(", call.function.name())?;
                let mut first = true;
                if let Some(def) = &call.sequence {
                    write!(f, "'{}'::regclass", def.name.replace('\'', "''"))?;
                    first = false;
                }
                for a in &call.args {
                    if !first {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", n(a))?;
                    first = false;
                }
                f.write_str(")")
            }
            Expr::Subquery(q) => {
                if let Some(o) = &q.operand {
                    write!(f, "{} ", n(o))?;
                }
                match q.kind {
                    SubqueryKind::Scalar => f.write_str("(SubPlan)"),
                    SubqueryKind::Exists => f.write_str("EXISTS(SubPlan)"),
                    SubqueryKind::Array => f.write_str("ARRAY(SubPlan)"),
                    SubqueryKind::In => f.write_str("IN (SubPlan)"),
                    SubqueryKind::Quantified(op, all) => {
                        write!(f, "{} {} (SubPlan)", op.symbol(), if all { "ALL" } else { "ANY" })
                    }
                }
            }
        }
    }
}
