//! Binding expressions: resolving names, typing, and coercing literals.
//!
//! A string literal has no type of its own in PostgreSQL: `a = '5'` compares with an
//! integer when `a` is an integer. [`Typed::literal`] marks such literals so that
//! [`Binder::coerce`] can convert them to whatever the context needs, at bind time (a bad
//! literal is reported before any row is read).
//!
//! Numbers follow PostgreSQL's implicit casts: an integer meeting a NUMERIC becomes NUMERIC
//! (exact), a NUMERIC meeting a float becomes DOUBLE PRECISION, both in arithmetic and in
//! comparisons. A literal with a decimal point is NUMERIC, one with an exponent DOUBLE.
//!
//! After GROUP BY, expressions are bound in *aggregate mode* ([`AggState`]): an expression
//! equal to a GROUP BY expression becomes a reference to that group column, an aggregate
//! call becomes a reference to its result, and a bare column that is neither is the
//! familiar 42803 error.

use sqlparser::ast::{self, BinaryOperator, UnaryOperator};

use super::scope::Scope;
use super::{Binder, ident_name, object_name};
use crate::error::{Error, Position, Result, SqlState};
use crate::planner::expr::{ArithOp, CmpOp, Expr, Function, Subquery, SubqueryKind};
use crate::planner::{Aggregate, AggregateFunction};
use crate::types::cast::{self, CastKind};
use crate::types::{DataType, Value};

/// A bound expression and its type.
#[derive(Clone, Debug)]
pub struct Typed {
    /// The expression.
    pub expr: Expr,
    /// Its type (`DataType::Null` for a bare NULL).
    pub ty: DataType,
    /// True for a string literal whose type the context decides.
    pub literal: bool,
}

impl Typed {
    pub(super) fn new(expr: Expr, ty: DataType) -> Typed {
        Typed { expr, ty, literal: false }
    }
}

/// Aggregation state while binding expressions above a GROUP BY.
#[derive(Debug, Default)]
pub struct AggState {
    /// The scope below the aggregation (the FROM clause).
    pub input: Scope,
    /// GROUP BY expressions over `input`.
    pub group_by: Vec<Expr>,
    /// Their types.
    pub group_types: Vec<DataType>,
    /// Aggregates found so far.
    pub aggregates: Vec<Aggregate>,
}

/// An aggregate met inside a subquery whose arguments use only the enclosing query's
/// columns: it belongs to that query, as in PostgreSQL (`SELECT (SELECT max(a)) FROM t`
/// is one row, the max over t). The subquery refers to its result as its argument
/// `slot`; `aggregate` is over the enclosing query's rows, for it to compute.
#[derive(Clone, Debug)]
pub struct Hoisted {
    pub slot: usize,
    pub aggregate: Aggregate,
}

/// Where an expression is bound.
pub struct Cx<'s> {
    /// The visible columns (unused in aggregate mode).
    pub scope: &'s Scope,
    /// Aggregate mode.
    pub agg: Option<&'s mut AggState>,
    /// The clause, for error messages ("WHERE", "VALUES", ...).
    pub clause: &'static str,
}

impl<'s> Cx<'s> {
    /// A plain context over `scope`.
    pub fn new(scope: &'s Scope, clause: &'static str) -> Cx<'s> {
        Cx { scope, agg: None, clause }
    }
}

fn position_of(span: &sqlparser::tokenizer::Span) -> Option<Position> {
    (span.start.line > 0).then_some(Position { line: span.start.line, column: span.start.column })
}

fn with_position(mut e: Error, span: &sqlparser::tokenizer::Span) -> Error {
    if e.position.is_none() {
        e.position = position_of(span);
    }
    e
}

/// True if `e` contains an aggregate call outside any subquery.
pub fn contains_aggregate(e: &ast::Expr) -> bool {
    let mut found = false;
    visit(e, &mut |e| {
        if let ast::Expr::Function(f) = e
            && aggregate_function(f).is_some()
        {
            found = true;
        }
    });
    found
}

/// Calls `f` on `e` and its sub-expressions (not descending into subqueries).
fn visit(e: &ast::Expr, f: &mut impl FnMut(&ast::Expr)) {
    use ast::Expr as E;
    f(e);
    let mut go = |x: &ast::Expr| visit(x, f);
    match e {
        E::IsFalse(x)
        | E::IsNotFalse(x)
        | E::IsTrue(x)
        | E::IsNotTrue(x)
        | E::IsNull(x)
        | E::IsNotNull(x)
        | E::IsUnknown(x)
        | E::IsNotUnknown(x)
        | E::Nested(x) => go(x),
        E::UnaryOp { expr, .. } | E::Cast { expr, .. } | E::Ceil { expr, .. } | E::Floor { expr, .. } => {
            go(expr)
        }
        E::IsDistinctFrom(a, b) | E::IsNotDistinctFrom(a, b) | E::BinaryOp { left: a, right: b, .. } => {
            go(a);
            go(b);
        }
        E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => {
            go(expr);
            go(pattern);
        }
        E::Between { expr, low, high, .. } => {
            go(expr);
            go(low);
            go(high);
        }
        E::In { expr, target: ast::InTarget::List(list), .. } => {
            go(expr);
            list.iter().for_each(go);
        }
        E::In { expr, .. } => go(expr),
        E::Case { operand, conditions, else_result, .. } => {
            if let Some(o) = operand {
                go(o);
            }
            for c in conditions {
                go(&c.condition);
                go(&c.result);
            }
            if let Some(e) = else_result {
                go(e);
            }
        }
        E::Function(func) => {
            if let ast::FunctionArguments::List(list) = &func.args {
                for arg in &list.args {
                    if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) = arg {
                        go(x);
                    }
                }
            }
        }
        E::Substring { expr, substring_from, substring_for, .. } => {
            go(expr);
            if let Some(x) = substring_from {
                go(x);
            }
            if let Some(x) = substring_for {
                go(x);
            }
        }
        E::Trim { expr, trim_what, .. } => {
            go(expr);
            if let Some(x) = trim_what {
                go(x);
            }
        }
        E::Position { expr, r#in } => {
            go(expr);
            go(r#in);
        }
        E::Tuple(list) => list.iter().for_each(go),
        _ => {}
    }
}

/// The aggregate a function call names, if it is one.
pub fn aggregate_function(f: &ast::Function) -> Option<AggregateFunction> {
    if f.over.is_some() {
        return None;
    }
    let name = match f.name.0.as_slice() {
        [name] => name.as_ident().map(ident_name)?,
        [schema, name] if schema.as_ident().map(ident_name).as_deref() == Some("pg_catalog") => {
            name.as_ident().map(ident_name)?
        }
        _ => return None,
    };
    Some(match name.as_str() {
        "count" => AggregateFunction::Count,
        "sum" => AggregateFunction::Sum,
        "avg" => AggregateFunction::Avg,
        "min" => AggregateFunction::Min,
        "max" => AggregateFunction::Max,
        "string_agg" => AggregateFunction::StringAgg,
        _ => return None,
    })
}

/// The widest of two numeric types, by PostgreSQL's promotion rules: integers widen to
/// NUMERIC, anything with a float to DOUBLE PRECISION. NUMERIC(p, s) loses its precision
/// and scale in expressions.
pub fn numeric_result(a: DataType, b: DataType) -> DataType {
    use DataType::*;
    match (a.without_modifier(), b.without_modifier()) {
        (Null, t) | (t, Null) => t,
        (Real, Real) => Real,
        (x, y) if x.is_float() || y.is_float() => Double,
        (Numeric(_), _) | (_, Numeric(_)) => Numeric(None),
        (BigInt, _) | (_, BigInt) => BigInt,
        (Integer, _) | (_, Integer) => Integer,
        _ => SmallInt,
    }
}

/// The type two branches of a CASE (or a UNION, or VALUES rows) resolve to.
pub fn common_type(a: DataType, b: DataType) -> Option<DataType> {
    use DataType::*;
    match (a, b) {
        (Null, t) | (t, Null) => Some(t),
        (x, y) if x == y => Some(x),
        (x, y) if x.is_numeric() && y.is_numeric() => Some(numeric_result(x, y)),
        (x, y) if x.is_string() && y.is_string() => Some(Text),
        (Timestamp, TimestampTz) | (TimestampTz, Timestamp) | (Date, TimestampTz) | (TimestampTz, Date) => {
            Some(TimestampTz)
        }
        (Date, Timestamp) | (Timestamp, Date) => Some(Timestamp),
        _ => None,
    }
}

fn int_literal_type(v: i64) -> DataType {
    if i32::try_from(v).is_ok() { DataType::Integer } else { DataType::BigInt }
}

impl Binder<'_> {
    /// Binds an expression.
    pub fn expr(&mut self, e: &ast::Expr, cx: &mut Cx<'_>) -> Result<Typed> {
        self.nested(1, |b| b.expr_inner(e, cx))
    }

    fn expr_inner(&mut self, e: &ast::Expr, cx: &mut Cx<'_>) -> Result<Typed> {
        if let Some(agg) = cx.agg.as_deref_mut() {
            if let ast::Expr::Function(f) = e
                && let Some(function) = aggregate_function(f)
            {
                if let Some(hoisted) = self.hoist(f, function, &agg.input)? {
                    return Ok(hoisted);
                }
                return self.aggregate_call(f, function, agg);
            }
            // An expression without aggregates may be one over the rows below the
            // aggregation that equals a GROUP BY expression. A subquery in it that uses
            // aggregates of this query cannot be bound so (see `subquery`): it is bound
            // below, in aggregate mode.
            let probe = if contains_aggregate(e) {
                None
            } else {
                match self.expr(e, &mut Cx::new(&agg.input, cx.clause)) {
                    Err(_) if std::mem::take(&mut self.hoist_signal) => None,
                    other => Some(other?),
                }
            };
            if let Some(bound) = probe {
                if let Some(i) = agg.group_by.iter().position(|g| *g == bound.expr) {
                    return Ok(Typed::new(Expr::Column(i), agg.group_types[i]));
                }
                if bound.expr.is_constant() || !bound.expr.any(&mut |x| matches!(x, Expr::Column(_))) {
                    return Ok(bound);
                }
                if let ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) = e {
                    return Err(Error::new(
                        SqlState::GroupingError,
                        format!(
                            "column \"{e}\" must appear in the GROUP BY clause or be used in an aggregate function"
                        ),
                    ));
                }
            }
        }
        use ast::Expr as E;
        match e {
            E::Identifier(ident) => {
                let name = ident_name(ident);
                match self.column(cx, None, &name) {
                    Err(err) if err.state == SqlState::UndefinedColumn && ident.quote_style.is_none() => {
                        if name == "current_schema" {
                            return self.current_schema();
                        }
                        super::pg::keyword_value(&name, self.current_user(), self.session_user())
                            .ok_or_else(|| with_position(err, &ident.span))
                    }
                    result => result.map_err(|err| with_position(err, &ident.span)),
                }
            }
            E::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(ident_name).collect();
                let (table, column) = match names.as_slice() {
                    [t, c] | [_, t, c] | [_, _, t, c] => (t.as_str(), c.as_str()),
                    _ => {
                        return Err(Error::new(
                            SqlState::SyntaxError,
                            format!("improper qualified name (too many dotted names): {e}"),
                        ));
                    }
                };
                let span = parts.last().map(|p| p.span).unwrap_or(sqlparser::tokenizer::Span::empty());
                self.column(cx, Some(table), column).map_err(|err| with_position(err, &span))
            }
            E::Value(v) => self.literal(&v.value),
            E::Nested(inner) => self.expr(inner, cx),
            E::UnaryOp { op, expr } => self.unary(*op, expr, cx),
            E::BinaryOp { left, op, right } => self.binary(left, op, right, cx),
            E::IsNull(x) | E::IsNotNull(x) => {
                let x = self.expr(x, cx)?;
                Ok(Typed::new(Expr::IsNull(x.expr.boxed(), matches!(e, E::IsNotNull(_))), DataType::Boolean))
            }
            E::IsTrue(x)
            | E::IsNotTrue(x)
            | E::IsFalse(x)
            | E::IsNotFalse(x)
            | E::IsUnknown(x)
            | E::IsNotUnknown(x) => {
                let (want, negated) = match e {
                    E::IsTrue(_) => (Some(true), false),
                    E::IsNotTrue(_) => (Some(true), true),
                    E::IsFalse(_) => (Some(false), false),
                    E::IsNotFalse(_) => (Some(false), true),
                    E::IsUnknown(_) => (None, false),
                    _ => (None, true),
                };
                let x = self.expr(x, cx)?;
                let x = self.boolean(x, "IS TRUE")?;
                Ok(Typed::new(Expr::IsTruth(x.boxed(), want, negated), DataType::Boolean))
            }
            E::IsDistinctFrom(a, b) | E::IsNotDistinctFrom(a, b) => {
                let (a, b) = self.comparable(a, b, "IS DISTINCT FROM", cx)?;
                let negated = matches!(e, E::IsNotDistinctFrom(..));
                Ok(Typed::new(Expr::IsDistinctFrom(a.boxed(), b.boxed(), negated), DataType::Boolean))
            }
            E::Between { expr, negated, low, high } => {
                let (x, lo) = self.comparable(expr, low, "BETWEEN", cx)?;
                let (x2, hi) = self.comparable(expr, high, "BETWEEN", cx)?;
                let ge = Expr::Compare(CmpOp::GtEq, x.boxed(), lo.boxed());
                let le = Expr::Compare(CmpOp::LtEq, x2.boxed(), hi.boxed());
                let both = Expr::And(ge.boxed(), le.boxed());
                Ok(Typed::new(if *negated { Expr::Not(both.boxed()) } else { both }, DataType::Boolean))
            }
            E::In { expr, target: ast::InTarget::List(list), negated, .. } => {
                let mut items = Vec::with_capacity(list.len());
                let mut lhs = None;
                for item in list {
                    let (l, r) = self.comparable(expr, item, "IN", cx)?;
                    lhs.get_or_insert(l);
                    items.push(r);
                }
                let lhs = match lhs {
                    Some(l) => l,
                    None => self.expr(expr, cx)?.expr,
                };
                Ok(Typed::new(Expr::InList(lhs.boxed(), items, *negated), DataType::Boolean))
            }
            E::Like { negated, expr, pattern, escape_char, any: false }
            | E::ILike { negated, expr, pattern, escape_char, any: false } => {
                let s = self.expr(expr, cx)?;
                let s = self.string_arg(s, "LIKE")?;
                let p = self.expr(pattern, cx)?;
                let p = self.string_arg(p, "LIKE")?;
                let escape = match escape_char {
                    None => None,
                    Some(esc) => {
                        let esc = self.expr(esc, cx)?;
                        match esc.expr {
                            Expr::Constant(Value::Text(s)) if s.chars().count() <= 1 => {
                                s.chars().next().or(Some('\u{0}'))
                            }
                            _ => {
                                return Err(Error::new(
                                    SqlState::InvalidParameterValue,
                                    "invalid escape string: escape string must be empty or one character",
                                ));
                            }
                        }
                    }
                };
                Ok(Typed::new(
                    Expr::Like {
                        expr: s.boxed(),
                        pattern: p.boxed(),
                        escape,
                        negated: *negated,
                        case_insensitive: matches!(e, E::ILike { .. }),
                    },
                    DataType::Boolean,
                ))
            }
            E::Case { operand, conditions, else_result, .. } => {
                self.case(operand, conditions, else_result, cx)
            }
            E::Cast { expr, data_type, .. } => {
                if let Some(x) = self.pg_cast(expr, data_type, cx)? {
                    return Ok(x);
                }
                let target = self.data_type(data_type)?;
                let source = match expr.as_ref() {
                    E::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => Some(s.clone()),
                        _ => None,
                    },
                    _ => None,
                };
                let x = self.expr(expr, cx)?;
                let source = source.filter(|_| x.literal);
                let cast = self.cast(x, target)?;
                self.apply_datetime_typmod(data_type, source.as_deref(), cast)
            }
            E::Extract { field, expr, .. } => self.extract(field, expr, cx),
            E::AtTimeZone { timestamp, time_zone } => self.at_time_zone(timestamp, time_zone, cx),
            E::Interval(interval) => self.interval_literal(interval),
            E::TypedString(ts) => {
                let target = self.data_type(&ts.data_type)?;
                let x = self.literal(&ts.value.value)?;
                let source = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => Some(s.clone()),
                    _ => None,
                };
                let cast = self.cast(x, target)?;
                self.apply_datetime_typmod(&ts.data_type, source.as_deref(), cast)
            }
            E::Function(f) => self.function(f, cx),
            E::Substring { expr, substring_from, substring_for, .. } => {
                let mut args = vec![expr.as_ref().clone()];
                args.push(
                    substring_from
                        .as_deref()
                        .cloned()
                        .unwrap_or(ast::Expr::value(ast::Value::Number("1".into(), false))),
                );
                if let Some(f) = substring_for {
                    args.push(f.as_ref().clone());
                }
                self.scalar_call(Function::Substring, &args, cx)
            }
            E::Position { expr, r#in } => {
                let args = [r#in.as_ref().clone(), expr.as_ref().clone()];
                self.scalar_call(Function::StrPos, &args, cx)
            }
            E::Trim { expr, trim_where, trim_what, trim_characters } => {
                let func = match trim_where {
                    Some(ast::TrimWhereField::Leading) => Function::LTrim,
                    Some(ast::TrimWhereField::Trailing) => Function::RTrim,
                    _ => Function::Trim,
                };
                let mut args = vec![expr.as_ref().clone()];
                if let Some(what) = trim_what {
                    args.push(what.as_ref().clone());
                } else if let Some(chars) = trim_characters.as_ref().and_then(|c| c.first()) {
                    args.push(chars.clone());
                }
                self.scalar_call(func, &args, cx)
            }
            E::Ceil { expr, field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime) } => {
                self.scalar_call(Function::Ceil, std::slice::from_ref(expr.as_ref()), cx)
            }
            E::Floor { expr, field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime) } => {
                self.scalar_call(Function::Floor, std::slice::from_ref(expr.as_ref()), cx)
            }
            E::Subquery(q) => self.subquery(q, SubqueryKind::Scalar, None, cx),
            E::Exists { subquery, negated } => {
                let exists = self.subquery(subquery, SubqueryKind::Exists, None, cx)?;
                Ok(if *negated {
                    Typed::new(Expr::Not(exists.expr.boxed()), DataType::Boolean)
                } else {
                    exists
                })
            }
            E::In { expr, target: ast::InTarget::Subquery(q), negated, .. } => {
                let operand = self.expr(expr, cx)?.expr;
                let found = self.subquery(q, SubqueryKind::In, Some(operand), cx)?;
                Ok(if *negated {
                    Typed::new(Expr::Not(found.expr.boxed()), DataType::Boolean)
                } else {
                    found
                })
            }
            E::AnyOp { left, compare_op, right, .. } | E::AllOp { left, compare_op, right } => {
                let all = matches!(e, E::AllOp { .. });
                if let (false, Some(op)) = (matches!(right.as_ref(), E::Subquery(_)), comparison(compare_op))
                {
                    return self.pg_any(left, op, right, all, cx);
                }
                let (E::Subquery(q), Some(op)) = (right.as_ref(), comparison(compare_op)) else {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        "ANY and ALL are supported with a comparison and a subquery",
                    ));
                };
                let operand = self.expr(left, cx)?.expr;
                self.subquery(q, SubqueryKind::Quantified(op, all), Some(operand), cx)
            }
            E::In { .. } => {
                Err(Error::new(SqlState::FeatureNotSupported, format!("expression not supported: {e}")))
            }
            other => self.pg_expr(other, cx),
        }
    }

    /// The value of a constant expression (an EXECUTE argument): no columns, no
    /// parameters.
    pub fn constant(&mut self, e: &ast::Expr) -> Result<Value> {
        let empty = Scope::default();
        let bound = self.expr(e, &mut Cx::new(&empty, "EXECUTE"))?;
        if !bound.expr.is_constant() {
            return Err(Error::new(SqlState::FeatureNotSupported, format!("not a constant: {e}")));
        }
        bound.expr.eval(&[])
    }

    /// A column reference: of the current scope, or else, inside a subquery, of an
    /// enclosing query, the nearest one that has the name.
    fn column(&mut self, cx: &Cx<'_>, table: Option<&str>, name: &str) -> Result<Typed> {
        let mut err = match cx.scope.resolve(table, name) {
            Ok(i) => return Ok(Typed::new(Expr::Column(i), cx.scope.columns[i].data_type)),
            Err(e) => e,
        };
        if !matches!(err.state, SqlState::UndefinedColumn | SqlState::UndefinedTable) {
            return Err(err);
        }
        for level in (0..self.outer.len()).rev() {
            match self.outer[level].resolve(table, name) {
                Ok(i) => {
                    let ty = self.outer[level].columns[i].data_type;
                    return Ok(Typed::new(self.capture(level, Expr::Column(i)), ty));
                }
                // The nearest level with a close name gives the hint, as in PostgreSQL.
                Err(e) if matches!(e.state, SqlState::UndefinedColumn | SqlState::UndefinedTable) => {
                    if err.hint.is_none() {
                        err.hint = e.hint;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(err)
    }

    /// Makes `column`, an expression over the enclosing scope `outer[level]`, visible to
    /// the subquery being bound. Each subquery between that level and the innermost one
    /// passes it on as one of its arguments, so a reference two levels out becomes an
    /// argument of the middle subquery that is in turn an argument of the inner one.
    fn capture(&mut self, level: usize, column: Expr) -> Expr {
        let mut expr = column;
        for captures in &mut self.captures[level..] {
            let k = captures.iter().position(|c| *c == expr).unwrap_or_else(|| {
                captures.push(expr.clone());
                captures.len() - 1
            });
            expr = Expr::Outer(k);
        }
        expr
    }

    /// Binds a subquery used in an expression. Its plan sees the enclosing columns
    /// through [`Binder::column`]. Above a GROUP BY the enclosing rows are groups: the
    /// subquery is bound over the rows below the aggregation, and each column it takes
    /// from them must be a GROUP BY expression, which it then takes from the group.
    pub(super) fn subquery(
        &mut self,
        query: &ast::Query,
        kind: SubqueryKind,
        operand: Option<Expr>,
        cx: &mut Cx<'_>,
    ) -> Result<Typed> {
        let outer = match &cx.agg {
            Some(agg) => agg.input.clone(),
            None => cx.scope.clone(),
        };
        self.outer.push(outer);
        self.captures.push(Vec::new());
        self.hoisted.push(Vec::new());
        let plan = self.query(query);
        let mut args = self.captures.pop().unwrap_or_default();
        let hoisted = self.hoisted.pop().unwrap_or_default();
        self.outer.pop();
        let plan = plan?;
        match cx.agg.as_deref_mut() {
            // Aggregates of this query in a subquery make this query an aggregate one;
            // not bound as one, its SELECT binds again (see `select`), or else (WHERE,
            // VALUES ...) they are not allowed here.
            None if !hoisted.is_empty() => {
                self.hoist_signal = true;
                return Err(Error::new(
                    SqlState::GroupingError,
                    format!("aggregate functions are not allowed in {}", cx.clause),
                ));
            }
            None => {}
            Some(agg) => {
                for (k, arg) in args.iter_mut().enumerate() {
                    *arg = match hoisted.iter().find(|h| h.slot == k) {
                        Some(h) => {
                            let index = match agg.aggregates.iter().position(|a| *a == h.aggregate) {
                                Some(i) => i,
                                None => {
                                    agg.aggregates.push(h.aggregate.clone());
                                    agg.aggregates.len() - 1
                                }
                            };
                            Expr::Column(agg.group_by.len() + index)
                        }
                        None => grouped_argument(std::mem::replace(arg, Expr::Constant(Value::Null)), agg)?,
                    };
                }
            }
        }
        let visible: Vec<DataType> =
            plan.columns().iter().filter(|c| !c.hidden).map(|c| c.data_type).collect();
        if kind != SubqueryKind::Exists && visible.len() != 1 {
            return Err(Error::new(SqlState::SyntaxError, "subquery must return only one column"));
        }
        let ty = match kind {
            SubqueryKind::Scalar => visible[0],
            SubqueryKind::Array => DataType::Text,
            _ => DataType::Boolean,
        };
        let subquery = Subquery { kind, plan: std::sync::Arc::new(plan), args, operand, runner: None };
        Ok(Typed::new(Expr::Subquery(Box::new(subquery)), ty))
    }

    fn literal(&mut self, v: &ast::Value) -> Result<Typed> {
        Ok(match v {
            ast::Value::Number(s, _) => number_literal(s)?,
            ast::Value::HexStringLiteral(hex) => {
                let bytes = cast::decode_hex(hex).ok_or_else(|| {
                    Error::new(
                        SqlState::InvalidTextRepresentation,
                        format!("invalid hexadecimal data: \"{hex}\""),
                    )
                })?;
                Typed::new(Expr::Constant(Value::Bytes(bytes)), DataType::Bytea)
            }
            ast::Value::SingleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::NationalStringLiteral(s) => {
                Typed { expr: Expr::Constant(Value::Text(s.clone())), ty: DataType::Text, literal: true }
            }
            ast::Value::DollarQuotedString(s) => Typed {
                expr: Expr::Constant(Value::Text(s.value.clone())),
                ty: DataType::Text,
                literal: true,
            },
            ast::Value::Boolean(b) => Typed::new(Expr::Constant(Value::Boolean(*b)), DataType::Boolean),
            ast::Value::Null => Typed::new(Expr::Constant(Value::Null), DataType::Null),
            ast::Value::Placeholder(p) => {
                let n: usize =
                    p.strip_prefix('$').and_then(|n| n.parse().ok()).filter(|&n| n >= 1).ok_or_else(
                        || Error::new(SqlState::SyntaxError, format!("invalid parameter placeholder {p}")),
                    )?;
                if n > 65535 {
                    return Err(Error::new(SqlState::ProgramLimitExceeded, "too many parameters"));
                }
                if self.params.len() < n {
                    self.params.resize(n, None);
                }
                let ty = self.params[n - 1].unwrap_or(DataType::Null);
                Typed { expr: Expr::Parameter(n - 1), ty, literal: self.params[n - 1].is_none() }
            }
            other => {
                return Err(Error::new(
                    SqlState::FeatureNotSupported,
                    format!("literal not supported: {other}"),
                ));
            }
        })
    }

    /// Converts `x` to `target` where SQL would do so implicitly: literals and parameters
    /// take the target type, numbers widen. Anything else is a type mismatch.
    pub fn coerce(&mut self, x: Typed, target: DataType, what: &str) -> Result<Expr> {
        if x.ty == target || target == DataType::Null {
            return Ok(x.expr);
        }
        match x.expr {
            Expr::Parameter(i) if x.literal => {
                self.params[i] = Some(target);
                Ok(Expr::Parameter(i))
            }
            Expr::Constant(Value::Null) => Ok(Expr::Constant(Value::Null)),
            Expr::Constant(v) if x.literal => Ok(Expr::Constant(cast::cast(v, target, CastKind::Explicit)?)),
            // Untyped text computed at run time (an array element) converts when read.
            e if x.literal => Ok(Expr::Cast(e.boxed(), target)),
            // Integers and floats share their run-time forms loosely, but a NUMERIC is a
            // different value (and prints differently), so crossing into or out of it casts.
            e if x.ty.is_numeric() && target.is_numeric() => {
                let converts = x.ty.is_decimal() != target.is_decimal()
                    || (target.is_decimal() && target != DataType::Numeric(None));
                Ok(if converts { Expr::Cast(e.boxed(), target) } else { e })
            }
            e if x.ty.is_string() && target.is_string() => Ok(e),
            _ => Err(Error::new(
                SqlState::DatatypeMismatch,
                format!("{what} must be type {target}, not type {}", x.ty),
            )),
        }
    }

    /// Coerces for storing into a column of type `target` (assignment rules: numbers may
    /// narrow, anything may become text; the value is checked when stored).
    pub fn assignable(&mut self, x: Typed, target: DataType, column: &str) -> Result<Expr> {
        let ok = x.literal
            || x.ty == DataType::Null
            || x.ty == target
            || (x.ty.is_numeric() && target.is_numeric())
            || target.is_string();
        if !ok && datetime_assignment(x.ty, target) {
            return Ok(Expr::Cast(x.expr.boxed(), target));
        }
        if !ok {
            return Err(Error::new(
                SqlState::DatatypeMismatch,
                format!("column \"{column}\" is of type {target} but expression is of type {}", x.ty),
            ));
        }
        match x.expr {
            Expr::Parameter(i) if x.literal => {
                self.params[i] = Some(target);
                Ok(Expr::Parameter(i))
            }
            Expr::Constant(v) if x.literal => {
                Ok(Expr::Constant(cast::cast(v, target, CastKind::Assignment)?))
            }
            e => Ok(e),
        }
    }

    fn boolean(&mut self, x: Typed, what: &str) -> Result<Expr> {
        if x.ty == DataType::Boolean || x.ty == DataType::Null {
            return Ok(x.expr);
        }
        if x.literal {
            return self.coerce(x, DataType::Boolean, what);
        }
        Err(Error::new(
            SqlState::DatatypeMismatch,
            format!("argument of {what} must be type boolean, not type {}", x.ty),
        ))
    }

    /// Binds a predicate (WHERE, ON, HAVING): it must be boolean.
    pub fn predicate(&mut self, e: &ast::Expr, cx: &mut Cx<'_>) -> Result<Expr> {
        let x = self.expr(e, cx)?;
        let clause = cx.clause;
        self.boolean(x, clause)
    }

    fn string_arg(&mut self, x: Typed, what: &str) -> Result<Expr> {
        if let DataType::Char(_) = x.ty {
            return Ok(char_to_text(x.expr));
        }
        if x.ty.is_string() || x.ty == DataType::Null || x.literal {
            return self.coerce(x, DataType::Text, what);
        }
        Err(Error::undefined_operator(format!("operator does not exist: {} {what} text", x.ty), false))
    }

    pub(super) fn cast(&mut self, x: Typed, target: DataType) -> Result<Typed> {
        // CHAR(n) to TEXT or VARCHAR drops the pad blanks (PostgreSQL's bpchar to text),
        // so 'a'::char(4)::text is 'a' and UNIONs and comparisons see it so.
        let x = match x.ty {
            DataType::Char(_) if matches!(target, DataType::Text | DataType::Varchar(_)) => {
                let trimmed = char_to_text(x.expr);
                Typed::new(trimmed, DataType::Text)
            }
            _ => x,
        };
        let expr = match x.expr {
            Expr::Constant(v) => Expr::Constant(cast::cast(v, target, CastKind::Explicit)?),
            Expr::Parameter(i) if x.literal => {
                self.params[i] = Some(target);
                Expr::Parameter(i)
            }
            e if x.ty == target => e,
            e => {
                let allowed = x.ty.is_string()
                    || target.is_string()
                    || (x.ty.is_numeric() && target.is_numeric())
                    || (x.ty.is_integer() && target == DataType::Boolean)
                    || (x.ty == DataType::Boolean && target.is_integer())
                    || datetime_cast(x.ty, target);
                if !allowed {
                    return Err(Error::new(
                        SqlState::DatatypeMismatch,
                        format!("cannot cast type {} to {target}", x.ty),
                    ));
                }
                Expr::Cast(e.boxed(), target)
            }
        };
        Ok(Typed::new(expr, target))
    }

    /// Binds both sides of a comparison and makes them comparable.
    fn comparable(
        &mut self,
        a: &ast::Expr,
        b: &ast::Expr,
        op: &str,
        cx: &mut Cx<'_>,
    ) -> Result<(Expr, Expr)> {
        let a = self.expr(a, cx)?;
        let b = self.expr(b, cx)?;
        self.unify(a, b, op)
    }

    fn unify(&mut self, a: Typed, b: Typed, op: &str) -> Result<(Expr, Expr)> {
        match (a.literal, b.literal) {
            (true, false) if b.ty != DataType::Null => {
                let ty = b.ty.without_modifier();
                return Ok((self.coerce(a, ty, op)?, b.expr));
            }
            (false, true) if a.ty != DataType::Null => {
                let ty = a.ty.without_modifier();
                return Ok((a.expr, self.coerce(b, ty, op)?));
            }
            (true, true) => {
                let a = self.coerce(a, DataType::Text, op)?;
                let b = self.coerce(b, DataType::Text, op)?;
                return Ok((a, b));
            }
            _ => {}
        }
        if common_type(a.ty, b.ty).is_none() {
            return Err(Error::undefined_operator(
                format!("operator does not exist: {} {op} {}", a.ty, b.ty),
                false,
            ));
        }
        // NUMERIC against a float compares as floats, as in PostgreSQL (0.1 = 0.1::float8).
        let as_double = |x: Typed, other: DataType| {
            if x.ty.is_decimal() && other.is_float() {
                Expr::Cast(x.expr.boxed(), DataType::Double)
            } else {
                x.expr
            }
        };
        // CHAR(n) compares without its pad blanks: two CHAR values of different lengths
        // (or one against TEXT) compare as text with the blanks trimmed, as PostgreSQL's
        // bpchar operators do. Equal lengths pad alike, so the stored forms compare as is
        // (and an index on the column still serves the comparison).
        let same_char = matches!((a.ty, b.ty), (DataType::Char(m), DataType::Char(n)) if m == n);
        let (a, b) = if same_char { (a, b) } else { (trim_char(a), trim_char(b)) };
        let (a_ty, b_ty) = (a.ty, b.ty);
        Ok((as_double(a, b_ty), as_double(b, a_ty)))
    }

    fn unary(&mut self, op: UnaryOperator, x: &ast::Expr, cx: &mut Cx<'_>) -> Result<Typed> {
        match op {
            UnaryOperator::Not => {
                let x = self.expr(x, cx)?;
                let x = self.boolean(x, "NOT")?;
                Ok(Typed::new(Expr::Not(x.boxed()), DataType::Boolean))
            }
            UnaryOperator::Plus => {
                let x = self.expr(x, cx)?;
                self.numeric_operand(&x, "+")?;
                Ok(x)
            }
            UnaryOperator::Minus => {
                // Fold negative literals so that -2147483648 is an INTEGER, as in PostgreSQL.
                if let ast::Expr::Value(v) = x
                    && let ast::Value::Number(s, _) = &v.value
                {
                    return number_literal(&format!("-{s}"));
                }
                let x = self.expr(x, cx)?;
                if x.literal {
                    let e = self.coerce(x, DataType::Double, "-")?;
                    return Ok(Typed::new(Expr::Negate(e.boxed(), DataType::Double), DataType::Double));
                }
                if x.ty != DataType::Interval {
                    self.numeric_operand(&x, "-")?;
                }
                Ok(Typed::new(Expr::Negate(x.expr.boxed(), x.ty), x.ty))
            }
            other => {
                Err(Error::new(SqlState::FeatureNotSupported, format!("operator not supported: {other}")))
            }
        }
    }

    fn numeric_operand(&self, x: &Typed, op: &str) -> Result<()> {
        if x.ty.is_numeric() || x.ty == DataType::Null {
            Ok(())
        } else {
            Err(Error::undefined_operator(format!("operator does not exist: {op} {}", x.ty), true))
        }
    }

    fn binary(
        &mut self,
        l: &ast::Expr,
        op: &BinaryOperator,
        r: &ast::Expr,
        cx: &mut Cx<'_>,
    ) -> Result<Typed> {
        use BinaryOperator as B;
        if let Some(cmp) = comparison(op) {
            let (a, b) = self.comparable(l, r, cmp.symbol(), cx)?;
            return Ok(Typed::new(Expr::Compare(cmp, a.boxed(), b.boxed()), DataType::Boolean));
        }
        let arith = match op {
            B::Plus => Some(ArithOp::Add),
            B::Minus => Some(ArithOp::Sub),
            B::Multiply => Some(ArithOp::Mul),
            B::Divide => Some(ArithOp::Div),
            B::Modulo => Some(ArithOp::Mod),
            _ => None,
        };
        if let Some(arith) = arith {
            let a = self.expr(l, cx)?;
            let b = self.expr(r, cx)?;
            return self.arithmetic(arith, a, b);
        }
        match op {
            B::And | B::Or => {
                let a = self.expr(l, cx)?;
                let what = if *op == B::And { "AND" } else { "OR" };
                let a = self.boolean(a, what)?;
                let b = self.expr(r, cx)?;
                let b = self.boolean(b, what)?;
                let e = if *op == B::And {
                    Expr::And(a.boxed(), b.boxed())
                } else {
                    Expr::Or(a.boxed(), b.boxed())
                };
                Ok(Typed::new(e, DataType::Boolean))
            }
            B::StringConcat => {
                let a = self.expr(l, cx)?;
                let b = self.expr(r, cx)?;
                let stringy = |t: &Typed| t.ty.is_string() || t.literal;
                if !stringy(&a) && !stringy(&b) && a.ty != DataType::Null && b.ty != DataType::Null {
                    return Err(Error::undefined_operator(
                        format!("operator does not exist: {} || {}", a.ty, b.ty),
                        false,
                    ));
                }
                let a = if a.literal { self.coerce(a, DataType::Text, "||")? } else { text_operand(a) };
                let b = if b.literal { self.coerce(b, DataType::Text, "||")? } else { text_operand(b) };
                Ok(Typed::new(Expr::Concat(a.boxed(), b.boxed()), DataType::Text))
            }
            other => match self.pg_binary(l, other, r, cx)? {
                Some(x) => Ok(x),
                None => {
                    Err(Error::new(SqlState::FeatureNotSupported, format!("operator not supported: {other}")))
                }
            },
        }
    }

    fn arithmetic(&mut self, op: ArithOp, a: Typed, b: Typed) -> Result<Typed> {
        if let Some(ty) = datetime_arith(op, &a, &b) {
            if ty == DataType::Null {
                return Err(Error::undefined_operator(
                    format!("operator does not exist: {} {} {}", a.ty, op.symbol(), b.ty),
                    false,
                ));
            }
            // A string literal beside a date or timestamp is an interval ('1 day').
            let interval_literal = |b: &mut Self, t: Typed| {
                if t.literal { b.coerce(t, DataType::Interval, op.symbol()) } else { Ok(t.expr) }
            };
            let a = interval_literal(self, a)?;
            let b = interval_literal(self, b)?;
            return Ok(Typed::new(Expr::Arith(op, a.boxed(), b.boxed(), ty), ty));
        }
        // An untyped literal takes the other side's type (or becomes a number).
        let a_ty = if a.literal {
            if b.ty.is_numeric() { b.ty.without_modifier() } else { DataType::Double }
        } else {
            a.ty
        };
        let b_ty = if b.literal {
            if a_ty.is_numeric() { a_ty.without_modifier() } else { DataType::Double }
        } else {
            b.ty
        };
        let a = if a.literal { self.coerce(a, a_ty, op.symbol())? } else { a.expr };
        let b = if b.literal { self.coerce(b, b_ty, op.symbol())? } else { b.expr };
        let ok = |t: DataType| t.is_numeric() || t == DataType::Null;
        if !ok(a_ty) || !ok(b_ty) {
            return Err(Error::undefined_operator(
                format!("operator does not exist: {a_ty} {} {b_ty}", op.symbol()),
                false,
            ));
        }
        let mut ty = numeric_result(a_ty, b_ty);
        if ty == DataType::Null {
            ty = DataType::Integer;
        }
        Ok(Typed::new(Expr::Arith(op, a.boxed(), b.boxed(), ty), ty))
    }

    fn case(
        &mut self,
        operand: &Option<Box<ast::Expr>>,
        conditions: &[ast::CaseWhen],
        else_result: &Option<Box<ast::Expr>>,
        cx: &mut Cx<'_>,
    ) -> Result<Typed> {
        let operand = match operand {
            Some(o) => Some(self.expr(o, cx)?),
            None => None,
        };
        let mut whens = Vec::with_capacity(conditions.len());
        let mut results = Vec::with_capacity(conditions.len() + 1);
        for c in conditions {
            let cond = match &operand {
                Some(o) => {
                    let w = self.expr(&c.condition, cx)?;
                    self.unify(o.clone(), w, "=")?.1
                }
                None => {
                    let w = self.expr(&c.condition, cx)?;
                    self.boolean(w, "CASE/WHEN")?
                }
            };
            whens.push(cond);
            results.push(self.expr(&c.result, cx)?);
        }
        let otherwise = match else_result {
            Some(e) => Some(self.expr(e, cx)?),
            None => None,
        };
        let mut all: Vec<&Typed> = results.iter().collect();
        all.extend(otherwise.iter());
        let ty = self.result_type(&all, "CASE")?;
        let mut bound_whens = Vec::with_capacity(whens.len());
        for (w, r) in whens.into_iter().zip(results) {
            bound_whens.push((w, self.coerce(r, ty, "CASE result")?));
        }
        let otherwise = match otherwise {
            Some(o) => Some(self.coerce(o, ty, "CASE result")?.boxed()),
            None => None,
        };
        let operand = operand.map(|o| o.expr.boxed());
        Ok(Typed::new(Expr::Case { operand, whens: bound_whens, otherwise }, ty))
    }

    /// The type a set of branches resolves to (typed branches win over untyped literals).
    pub fn result_type(&self, branches: &[&Typed], what: &str) -> Result<DataType> {
        let mut ty = DataType::Null;
        for b in branches.iter().filter(|b| !b.literal) {
            ty = common_type(ty, b.ty).ok_or_else(|| {
                Error::new(
                    SqlState::DatatypeMismatch,
                    format!("{what} types {ty} and {} cannot be matched", b.ty),
                )
            })?;
        }
        if ty == DataType::Null && branches.iter().any(|b| b.literal) {
            ty = DataType::Text;
        }
        Ok(ty)
    }

    fn function(&mut self, f: &ast::Function, cx: &mut Cx<'_>) -> Result<Typed> {
        if let Some(function) = aggregate_function(f) {
            if let Some(hoisted) = self.hoist(f, function, cx.scope)? {
                return Ok(hoisted);
            }
            return Err(Error::new(
                SqlState::GroupingError,
                format!("aggregate functions are not allowed in {}", cx.clause),
            )
            .with_detail(format!("found {}()", function.name())));
        }
        if f.over.is_some() {
            return Err(Error::new(SqlState::FeatureNotSupported, "window functions are not supported yet"));
        }
        let name = object_name(&f.name)?;
        if let Some(x) = self.sequence_function(&name, f, cx)? {
            return Ok(x);
        }
        if let Some(x) = self.pg_function(&name, f, cx)? {
            return Ok(x);
        }
        if let Some(x) = self.datetime_function(&name, f, cx)? {
            return Ok(x);
        }
        let args = plain_args(f)?;
        let func = match name.as_str() {
            "abs" => Function::Abs,
            "coalesce" => Function::Coalesce,
            "nullif" => Function::NullIf,
            "length" | "char_length" | "character_length" => Function::Length,
            "octet_length" => Function::OctetLength,
            "upper" => Function::Upper,
            "lower" => Function::Lower,
            "round" => Function::Round,
            "trunc" => Function::Trunc,
            "floor" => Function::Floor,
            "ceil" | "ceiling" => Function::Ceil,
            "sqrt" => Function::Sqrt,
            "power" | "pow" => Function::Power,
            "mod" => Function::Mod,
            "sign" => Function::Sign,
            "greatest" => Function::Greatest,
            "least" => Function::Least,
            "substring" | "substr" => Function::Substring,
            "strpos" => Function::StrPos,
            "btrim" | "trim" => Function::Trim,
            "ltrim" => Function::LTrim,
            "rtrim" => Function::RTrim,
            "replace" => Function::Replace,
            "concat" => Function::Concat,
            "left" => Function::Left,
            "right" => Function::Right,
            "repeat" => Function::Repeat,
            "reverse" => Function::Reverse,
            _ => {
                // As in PostgreSQL, the arguments are bound first (their errors come
                // first) and the message names their types.
                let mut types = Vec::with_capacity(args.len());
                for arg in &args {
                    let typed = self.expr(arg, cx)?;
                    types.push(if typed.literal && typed.ty == DataType::Text {
                        "unknown".to_string()
                    } else {
                        typed.ty.to_string()
                    });
                }
                return Err(Error::undefined_function(format!(
                    "function {name}({}) does not exist",
                    types.join(", ")
                )));
            }
        };
        self.scalar_call(func, &args, cx)
    }

    fn scalar_call(&mut self, func: Function, args: &[ast::Expr], cx: &mut Cx<'_>) -> Result<Typed> {
        use Function::*;
        let (min, max) = match func {
            Coalesce | Greatest | Least | Concat => (1, usize::MAX),
            NullIf | Power | Mod | StrPos | Left | Right | Repeat => (2, 2),
            Round | Trunc | LTrim | RTrim | Trim => (1, 2),
            Substring => (2, 3),
            Replace => (3, 3),
            _ => (1, 1),
        };
        if args.len() < min || args.len() > max {
            return Err(Error::undefined_function(format!(
                "function {}() does not take {} arguments",
                func.name(),
                args.len()
            )));
        }
        let mut typed = Vec::with_capacity(args.len());
        for a in args {
            typed.push(self.expr(a, cx)?);
        }
        let numeric = |b: &mut Self, t: Typed| -> Result<(Expr, DataType)> {
            if t.literal {
                return Ok((b.coerce(t, DataType::Double, func.name())?, DataType::Double));
            }
            if !(t.ty.is_numeric() || t.ty == DataType::Null) {
                return Err(Error::undefined_function(format!(
                    "function {}({}) does not exist",
                    func.name(),
                    t.ty
                )));
            }
            Ok((t.expr, t.ty))
        };
        let (exprs, ty): (Vec<Expr>, DataType) = match func {
            Abs | Sign | Trunc | Floor | Ceil | Round | Sqrt => {
                let mut exprs = Vec::new();
                let mut first = DataType::Null;
                for (i, t) in typed.into_iter().enumerate() {
                    if i == 0 {
                        let (e, ty) = numeric(self, t)?;
                        first = ty;
                        exprs.push(e);
                    } else {
                        exprs.push(self.coerce(t, DataType::Integer, func.name())?);
                    }
                }
                let ty = match func {
                    Sqrt => DataType::Double,
                    _ if first.is_decimal() => DataType::Numeric(None),
                    // round(x, n) and trunc(x, n) are NUMERIC functions: an integer x
                    // becomes NUMERIC (round(5, 2) is 5.00).
                    Round | Trunc if exprs.len() > 1 && first.is_integer() => DataType::Numeric(None),
                    Round | Trunc if exprs.len() > 1 => DataType::Double,
                    Abs | Sign => first,
                    _ if first.is_integer() => first,
                    _ => DataType::Double,
                };
                (exprs, if ty == DataType::Null { DataType::Double } else { ty })
            }
            Power => {
                let mut exprs = Vec::new();
                for t in typed {
                    exprs.push(numeric(self, t)?.0);
                }
                (exprs, DataType::Double)
            }
            Mod => {
                let mut exprs = Vec::new();
                let mut ty = DataType::Null;
                for t in typed {
                    let (e, t) = numeric(self, t)?;
                    ty = numeric_result(ty, t);
                    exprs.push(e);
                }
                (exprs, if ty == DataType::Null { DataType::Integer } else { ty })
            }
            Coalesce | Greatest | Least | NullIf => {
                let refs: Vec<&Typed> = typed.iter().collect();
                let ty = self.result_type(&refs, func.name())?;
                let mut exprs = Vec::new();
                for t in typed {
                    exprs.push(self.coerce(t, ty, func.name())?);
                }
                (exprs, ty)
            }
            Concat => (typed.into_iter().map(|t| t.expr).collect(), DataType::Text),
            Length | OctetLength | StrPos => {
                let mut exprs = Vec::new();
                for t in typed {
                    exprs.push(self.string_arg(t, func.name())?);
                }
                (exprs, DataType::Integer)
            }
            Substring | Left | Right | Repeat => {
                let mut exprs = Vec::new();
                for (i, t) in typed.into_iter().enumerate() {
                    exprs.push(if i == 0 {
                        self.string_arg(t, func.name())?
                    } else {
                        self.coerce(t, DataType::Integer, func.name())?
                    });
                }
                (exprs, DataType::Text)
            }
            Upper | Lower | Trim | LTrim | RTrim | Replace | Reverse => {
                let mut exprs = Vec::new();
                for t in typed {
                    exprs.push(self.string_arg(t, func.name())?);
                }
                (exprs, DataType::Text)
            }
            // Compatibility functions are bound by `pg_function` and never come here.
            Pg(f) => {
                return Err(Error::new(SqlState::InternalError, format!("{} is bound elsewhere", f.name())));
            }
            DateTime(f) => {
                return Err(Error::new(SqlState::InternalError, format!("{} is bound elsewhere", f.name())));
            }
        };
        Ok(Typed::new(Expr::Call(func, exprs, ty), ty))
    }

    /// Inside a subquery, an aggregate call whose arguments use the enclosing query's
    /// columns and none of this query's (`scope`, the rows it would aggregate) belongs to
    /// the enclosing query, PostgreSQL's rule: it is recorded in [`Hoisted`] for that
    /// query to compute, and here it is a reference to the result, one of the
    /// subquery's arguments. `None` for an aggregate of this query. (One over columns from
    /// two or more levels out is refused: not supported, and rare.)
    fn hoist(
        &mut self,
        f: &ast::Function,
        function: AggregateFunction,
        scope: &Scope,
    ) -> Result<Option<Typed>> {
        if self.captures.is_empty() {
            return Ok(None);
        }
        let captured_before = self.captures.last().map_or(0, Vec::len);
        let mut trial = AggState { input: scope.clone(), ..AggState::default() };
        let bound = self.aggregate_call(f, function, &mut trial)?;
        // The trial's captures are for rebasing only: left in place, the subquery would
        // take enclosing columns it does not use as arguments (and, above a GROUP BY,
        // find them ungrouped). Binding the aggregate here again captures what it needs.
        let captured = self.captures.last().cloned().unwrap_or_default();
        if let Some(c) = self.captures.last_mut() {
            c.truncate(captured_before);
        }
        let Some(mut aggregate) = trial.aggregates.pop() else { return Ok(None) };
        let parts = || aggregate.arg.iter().chain(&aggregate.filter).chain(&aggregate.separator);
        let own = parts().any(|e| e.any(&mut |x| matches!(x, Expr::Column(_) | Expr::Subquery(_))));
        let outer = parts().any(|e| e.any(&mut |x| matches!(x, Expr::Outer(_))));
        if own || !outer {
            return Ok(None);
        }
        let mut deeper = false;
        let mut rebase = |e: Expr| {
            e.transform(&mut |x| match x {
                Expr::Outer(k) => match captured.get(k) {
                    Some(c) => {
                        deeper |= c.any(&mut |y| matches!(y, Expr::Outer(_)));
                        c.clone()
                    }
                    None => Expr::Outer(k),
                },
                other => other,
            })
        };
        aggregate.arg = aggregate.arg.map(&mut rebase);
        aggregate.filter = aggregate.filter.map(&mut rebase);
        aggregate.separator = aggregate.separator.map(&mut rebase);
        if deeper {
            // Its arguments come from a query further out, whose aggregate it is: not
            // supported, and an error rather than the per-row answer it would give here.
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "aggregates of a query two or more levels out are not supported",
            ));
        }
        let (Some(captures), Some(hoisted)) = (self.captures.last_mut(), self.hoisted.last_mut()) else {
            return Ok(None);
        };
        let slot = captures.len();
        // A placeholder no column capture can equal; `subquery` puts the result there.
        captures.push(Expr::Parameter(usize::MAX - slot));
        hoisted.push(Hoisted { slot, aggregate });
        Ok(Some(Typed::new(Expr::Outer(slot), bound.ty)))
    }

    fn aggregate_call(
        &mut self,
        f: &ast::Function,
        function: AggregateFunction,
        agg: &mut AggState,
    ) -> Result<Typed> {
        let filter = match &f.filter {
            None => None,
            Some(w) => {
                if contains_aggregate(w) {
                    return Err(Error::new(
                        SqlState::GroupingError,
                        "aggregate functions are not allowed in FILTER",
                    ));
                }
                Some(self.predicate(w, &mut Cx::new(&agg.input, "FILTER"))?)
            }
        };
        let (args, distinct, star) = match &f.args {
            ast::FunctionArguments::List(list) => {
                let distinct = matches!(list.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct));
                if !list.clauses.is_empty() {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        "ORDER BY inside aggregates is not supported",
                    ));
                }
                let star = matches!(
                    list.args.as_slice(),
                    [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)]
                );
                let args = if star { Vec::new() } else { plain_args(f)? };
                (args, distinct, star)
            }
            ast::FunctionArguments::None => (Vec::new(), false, false),
            ast::FunctionArguments::Subquery(_) => {
                return Err(Error::new(SqlState::FeatureNotSupported, "subqueries are not supported yet"));
            }
        };
        let mut separator = None;
        let (function, arg, ty) = if star {
            if function != AggregateFunction::Count {
                return Err(Error::new(
                    SqlState::SyntaxError,
                    format!("{}(*) is not valid", function.name()),
                ));
            }
            (AggregateFunction::CountStar, None, DataType::BigInt)
        } else {
            let wanted = if function == AggregateFunction::StringAgg { 2 } else { 1 };
            if args.len() != wanted {
                return Err(Error::undefined_function(format!(
                    "function {}() takes exactly {wanted} argument(s)",
                    function.name()
                )));
            }
            if function == AggregateFunction::StringAgg {
                let mut inner = Cx::new(&agg.input, "aggregate arguments");
                let x = self.expr(&args[1], &mut inner)?;
                separator = Some(self.string_arg(x, "string_agg")?);
            }
            if contains_aggregate(&args[0]) {
                return Err(Error::new(SqlState::GroupingError, "aggregate function calls cannot be nested"));
            }
            let mut inner = Cx::new(&agg.input, "aggregate arguments");
            let x = self.expr(&args[0], &mut inner)?;
            let (x, ty) = if x.literal {
                (self.coerce(x, DataType::Text, "aggregate")?, DataType::Text)
            } else {
                (x.expr, x.ty)
            };
            let result = match function {
                AggregateFunction::Count => DataType::BigInt,
                AggregateFunction::Sum | AggregateFunction::Avg
                    if !(ty.is_numeric() || ty == DataType::Null) =>
                {
                    return Err(Error::undefined_function(format!(
                        "function {}({ty}) does not exist",
                        function.name()
                    )));
                }
                // PostgreSQL's result types: sum(smallint | integer) is bigint, sum(bigint)
                // and sum(numeric) are numeric (exact, no overflow at 2^63), avg of any
                // integer or numeric is numeric; floats stay floats.
                AggregateFunction::Sum
                    if matches!(ty, DataType::SmallInt | DataType::Integer | DataType::Null) =>
                {
                    DataType::BigInt
                }
                AggregateFunction::Sum | AggregateFunction::Avg if ty.is_integer() || ty.is_decimal() => {
                    DataType::Numeric(None)
                }
                AggregateFunction::Sum => ty,
                AggregateFunction::Avg => DataType::Double,
                AggregateFunction::StringAgg => DataType::Text,
                _ => ty,
            };
            (function, Some(x), result)
        };
        let aggregate = Aggregate { function, arg, distinct, filter, data_type: ty, separator };
        let index = match agg.aggregates.iter().position(|a| *a == aggregate) {
            Some(i) => i,
            None => {
                agg.aggregates.push(aggregate);
                agg.aggregates.len() - 1
            }
        };
        Ok(Typed::new(Expr::Column(agg.group_by.len() + index), ty))
    }

    /// Maps a SQL type name to a [`DataType`].
    pub fn data_type(&self, t: &ast::DataType) -> Result<DataType> {
        use ast::DataType as T;
        let length = |l: &Option<ast::CharacterLength>| -> Result<Option<u32>> {
            match l {
                None | Some(ast::CharacterLength::Max) => Ok(None),
                Some(ast::CharacterLength::IntegerLength { length, .. }) => {
                    if *length == 0 || *length > 10_485_760 {
                        return Err(Error::new(
                            SqlState::InvalidParameterValue,
                            format!("length for type varchar must be between 1 and 10485760, not {length}"),
                        ));
                    }
                    Ok(Some(*length as u32))
                }
            }
        };
        Ok(match t {
            T::SmallInt(_) | T::Int2(_) => DataType::SmallInt,
            T::Int(_) | T::Integer(_) | T::Int4(_) | T::MediumInt(_) => DataType::Integer,
            T::BigInt(_) | T::Int8(_) => DataType::BigInt,
            T::Real | T::Float4 => DataType::Real,
            T::Double(_) | T::DoublePrecision | T::Float8 => DataType::Double,
            T::Float(info) => match info {
                ast::ExactNumberInfo::Precision(p) if *p <= 24 => DataType::Real,
                _ => DataType::Double,
            },
            T::Numeric(info) | T::Decimal(info) | T::Dec(info) => DataType::Numeric(numeric_typmod(info)?),
            T::Boolean | T::Bool => DataType::Boolean,
            T::Text | T::String(None) => DataType::Text,
            T::Bytea | T::Blob(_) => DataType::Bytea,
            T::Date => DataType::Date,
            T::Time(_, ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone) => DataType::Time,
            T::Timestamp(_, ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone)
            | T::Datetime(_) => DataType::Timestamp,
            T::Timestamp(_, ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz) => DataType::TimestampTz,
            T::Interval { .. } => DataType::Interval,
            T::Varchar(l) | T::CharacterVarying(l) | T::CharVarying(l) => DataType::Varchar(length(l)?),
            T::Char(l) | T::Character(l) => DataType::Char(length(l)?.unwrap_or(1)),
            T::Custom(name, _) => match object_name(name)?.as_str() {
                "int2" => DataType::SmallInt,
                "int4" => DataType::Integer,
                "int8" => DataType::BigInt,
                "float4" => DataType::Real,
                "float8" => DataType::Double,
                "bpchar" => DataType::Char(1),
                "numeric" | "decimal" => DataType::Numeric(None),
                other => {
                    return Err(Error::new(
                        SqlState::UndefinedObject,
                        format!("type \"{other}\" does not exist"),
                    ));
                }
            },
            other => {
                return Err(Error::new(
                    SqlState::FeatureNotSupported,
                    format!("type {other} is not supported yet"),
                ));
            }
        })
    }
}

/// The precision and scale of NUMERIC(p [, s]): 1 <= p <= 38 and 0 <= s <= p (22023
/// otherwise; PostgreSQL's own limit is 1000 digits).
fn numeric_typmod(info: &ast::ExactNumberInfo) -> Result<Option<(u8, u8)>> {
    let (precision, scale) = match info {
        ast::ExactNumberInfo::None => return Ok(None),
        ast::ExactNumberInfo::Precision(p) => (*p, 0),
        ast::ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
    };
    let max = crate::types::decimal::MAX_DIGITS;
    let precision = u8::try_from(precision).ok().filter(|p| (1..=max).contains(p)).ok_or_else(|| {
        Error::new(
            SqlState::InvalidParameterValue,
            format!("NUMERIC precision {precision} must be between 1 and {max}"),
        )
    })?;
    let scale = u8::try_from(scale).ok().filter(|s| *s <= precision).ok_or_else(|| {
        Error::new(
            SqlState::InvalidParameterValue,
            format!("NUMERIC scale {scale} must be between 0 and precision {precision}"),
        )
    })?;
    Ok(Some((precision, scale)))
}

/// CHAR(n) values become text without their padding, as PostgreSQL's bpchar-to-text
/// conversion does.
fn char_to_text(e: Expr) -> Expr {
    Expr::Call(Function::RTrim, vec![e], DataType::Text)
}

/// A CHAR(n) operand as TEXT without its pad blanks; others unchanged.
fn trim_char(x: Typed) -> Typed {
    match x.ty {
        DataType::Char(_) => Typed::new(char_to_text(x.expr), DataType::Text),
        _ => x,
    }
}

fn text_operand(x: Typed) -> Expr {
    if let DataType::Char(_) = x.ty { char_to_text(x.expr) } else { x.expr }
}

/// The unnamed, plain expression arguments of a function call.
pub(super) fn plain_args(f: &ast::Function) -> Result<Vec<ast::Expr>> {
    match &f.args {
        ast::FunctionArguments::None => Ok(Vec::new()),
        ast::FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e.clone()),
                other => Err(Error::new(
                    SqlState::FeatureNotSupported,
                    format!("function argument not supported: {other}"),
                )),
            })
            .collect(),
        ast::FunctionArguments::Subquery(_) => {
            Err(Error::new(SqlState::FeatureNotSupported, "subqueries are not supported yet"))
        }
    }
}

/// Types a numeric literal as PostgreSQL does: INTEGER if it fits, then BIGINT, then
/// NUMERIC (also for any literal with a decimal point), and DOUBLE PRECISION for one with
/// an exponent.
fn number_literal(s: &str) -> Result<Typed> {
    if !s.contains(['e', 'E']) {
        if !s.contains('.')
            && let Ok(v) = s.parse::<i64>()
        {
            return Ok(Typed::new(Expr::Constant(Value::Int(v)), int_literal_type(v)));
        }
        let d = crate::types::Decimal::parse(s)?;
        return Ok(Typed::new(Expr::Constant(Value::Numeric(d)), DataType::Numeric(None)));
    }
    let v: f64 = s.parse().map_err(|_| {
        Error::new(SqlState::InvalidTextRepresentation, format!("invalid number literal {s}"))
    })?;
    if v.is_infinite() {
        return Err(Error::new(SqlState::NumericValueOutOfRange, format!("number {s} is out of range")));
    }
    Ok(Typed::new(Expr::Constant(Value::Float(v)), DataType::Double))
}

/// The comparison a binary operator stands for, if it is one.
fn comparison(op: &BinaryOperator) -> Option<CmpOp> {
    use BinaryOperator as B;
    match op {
        B::Eq => Some(CmpOp::Eq),
        B::NotEq => Some(CmpOp::NotEq),
        B::Lt => Some(CmpOp::Lt),
        B::LtEq => Some(CmpOp::LtEq),
        B::Gt => Some(CmpOp::Gt),
        B::GtEq => Some(CmpOp::GtEq),
        _ => None,
    }
}

/// The result type of date and time arithmetic, `None` when neither side is a date or
/// time type (ordinary numeric arithmetic then applies). A string literal beside a
/// date or timestamp counts as an interval.
fn datetime_arith(op: ArithOp, a: &Typed, b: &Typed) -> Option<DataType> {
    use DataType::*;
    let kind = |t: &Typed, other: &Typed| {
        if t.literal && matches!(other.ty, Date | Timestamp | TimestampTz | Time) { Interval } else { t.ty }
    };
    let (x, y) = (kind(a, b), kind(b, a));
    let is_time = |t: DataType| matches!(t, Date | Time | Timestamp | TimestampTz | Interval);
    if !is_time(x) && !is_time(y) {
        return None;
    }
    Some(match (op, x, y) {
        (ArithOp::Add, Date, t) | (ArithOp::Add, t, Date) | (ArithOp::Sub, Date, t) if t.is_integer() => Date,
        (ArithOp::Add, Date, Time) | (ArithOp::Add, Time, Date) => Timestamp,
        (ArithOp::Mul, Interval, t) | (ArithOp::Mul, t, Interval) | (ArithOp::Div, Interval, t)
            if t.is_numeric() =>
        {
            Interval
        }
        (ArithOp::Sub, Date, Date) => Integer,
        (ArithOp::Add, Date | Timestamp, Interval) | (ArithOp::Add, Interval, Date | Timestamp) => Timestamp,
        (ArithOp::Sub, Date | Timestamp, Interval) => Timestamp,
        (ArithOp::Add, TimestampTz, Interval) | (ArithOp::Add, Interval, TimestampTz) => TimestampTz,
        (ArithOp::Sub, TimestampTz, Interval) => TimestampTz,
        (ArithOp::Sub, Timestamp | TimestampTz, Timestamp | TimestampTz) => Interval,
        (ArithOp::Add | ArithOp::Sub, Interval, Interval) => Interval,
        (ArithOp::Add | ArithOp::Sub, Time, Interval) | (ArithOp::Add, Interval, Time) => Time,
        (ArithOp::Sub, Time, Time) => Interval,
        // Anything else with a date or time type has no operator; let the numeric rules
        // say so with their error.
        _ => return Some(Null),
    })
}

/// The casts between date and time types.
fn datetime_cast(from: DataType, to: DataType) -> bool {
    use DataType::*;
    matches!(
        (from, to),
        (Date, Timestamp | TimestampTz)
            | (Timestamp | TimestampTz, Date | Time | Timestamp | TimestampTz)
            | (Time, Interval)
            | (Interval, Time)
    )
}

/// A subquery argument taken from the rows below a GROUP BY, as the same value taken from
/// the group: a GROUP BY expression becomes its group column; a reference further out
/// stays as it is; anything else varies within a group and is an error, as in PostgreSQL.
fn grouped_argument(arg: Expr, agg: &AggState) -> Result<Expr> {
    if let Some(g) = agg.group_by.iter().position(|g| *g == arg) {
        return Ok(Expr::Column(g));
    }
    if !arg.any(&mut |x| matches!(x, Expr::Column(_))) {
        return Ok(arg);
    }
    let name = match arg {
        Expr::Column(i) => agg.input.columns.get(i).map_or_else(String::new, |c| match &c.table {
            Some(t) => format!("{t}.{}", c.name),
            None => c.name.clone(),
        }),
        _ => String::new(),
    };
    Err(Error::new(
        SqlState::GroupingError,
        format!("subquery uses ungrouped column \"{name}\" from outer query"),
    ))
}

/// PostgreSQL's implicit and assignment casts between date/time types, which storing
/// into a column may apply: `CURRENT_TIMESTAMP` (a TIMESTAMPTZ) into a TIMESTAMP column,
/// a DATE into a TIMESTAMP, a TIMESTAMP into a DATE or TIME.
fn datetime_assignment(from: DataType, to: DataType) -> bool {
    use DataType::{Date, Interval, Time, Timestamp, TimestampTz};
    matches!(
        (from, to),
        (Date | Timestamp | TimestampTz, Date | Timestamp | TimestampTz)
            | (Timestamp | TimestampTz, Time)
            | (Time, Interval)
            | (Interval, Time)
    )
}
