//! Evaluating bound expressions against a row.
//!
//! NULL follows SQL's three-valued logic: comparisons with NULL are unknown (NULL), `AND`
//! is false if either side is false, `OR` is true if either side is true, and otherwise an
//! unknown operand makes the result unknown. A WHERE clause keeps a row only when its
//! predicate is TRUE.

use std::cmp::Ordering;

use crate::error::{Error, Result, SqlState};
use crate::exec::pg_functions::PgFunction;
use crate::planner::expr::{ArithOp, CmpOp, Expr, Function, Subquery, SubqueryKind};
use crate::types::cast::{self, CastKind, check_float, check_integer, out_of_range};
use crate::types::{DataType, Decimal, Value, datetime};

impl Expr {
    /// Evaluates the expression with `row` as its input.
    pub fn eval(&self, row: &[Value]) -> Result<Value> {
        match self {
            // Leaves, the most common case, skip the stack check.
            Expr::Constant(v) => Ok(v.clone()),
            Expr::Column(i) => row.get(*i).cloned().ok_or_else(|| missing_column(*i, row)),
            // Nested expressions recurse as deep as they nest (see crate::depth).
            _ => crate::depth::grow(|| self.eval_node(row)),
        }
    }

    fn eval_node(&self, row: &[Value]) -> Result<Value> {
        Ok(match self {
            Expr::Constant(v) => v.clone(),
            Expr::Column(i) => row.get(*i).cloned().ok_or_else(|| missing_column(*i, row))?,
            Expr::Parameter(i) => {
                return Err(Error::new(
                    SqlState::UndefinedParameter,
                    format!("there is no value for parameter ${}", i + 1),
                ));
            }
            Expr::Not(e) => match e.eval(row)? {
                Value::Boolean(b) => Value::Boolean(!b),
                _ => Value::Null,
            },
            Expr::Negate(e, ty) => match e.eval(row)? {
                Value::Int(i) => check_integer(i.checked_neg().ok_or_else(|| out_of_range(*ty))?, *ty)?,
                Value::Float(f) => Value::Float(-f),
                Value::Numeric(d) => Value::Numeric(-d),
                Value::Interval(i) => Value::Interval(i.checked_neg()?),
                _ => Value::Null,
            },
            Expr::And(a, b) => {
                let a = truth(a.eval(row)?);
                if a == Some(false) {
                    return Ok(Value::Boolean(false));
                }
                match (a, truth(b.eval(row)?)) {
                    (_, Some(false)) => Value::Boolean(false),
                    (Some(true), Some(true)) => Value::Boolean(true),
                    _ => Value::Null,
                }
            }
            Expr::Or(a, b) => {
                let a = truth(a.eval(row)?);
                if a == Some(true) {
                    return Ok(Value::Boolean(true));
                }
                match (a, truth(b.eval(row)?)) {
                    (_, Some(true)) => Value::Boolean(true),
                    (Some(false), Some(false)) => Value::Boolean(false),
                    _ => Value::Null,
                }
            }
            Expr::Compare(op, a, b) => compare(*op, &a.eval(row)?, &b.eval(row)?),
            Expr::Arith(op, a, b, ty) => arith(*op, a.eval(row)?, b.eval(row)?, *ty)?,
            Expr::Concat(a, b) => match (a.eval(row)?, b.eval(row)?) {
                (Value::Null, _) | (_, Value::Null) => Value::Null,
                (a, b) => Value::Text(cast::to_text(&a) + &cast::to_text(&b)),
            },
            Expr::IsNull(e, negated) => Value::Boolean(e.eval(row)?.is_null() != *negated),
            Expr::IsDistinctFrom(a, b, negated) => {
                let (a, b) = (a.eval(row)?, b.eval(row)?);
                let distinct = match (a.is_null(), b.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => a != b,
                };
                Value::Boolean(distinct != *negated)
            }
            Expr::IsTruth(e, want, negated) => {
                let t = truth(e.eval(row)?);
                Value::Boolean((t == *want) != *negated)
            }
            Expr::Cast(e, ty) => cast::cast(e.eval(row)?, *ty, CastKind::Explicit)?,
            Expr::Like { expr, pattern, escape, negated, case_insensitive } => {
                match (expr.eval(row)?, pattern.eval(row)?) {
                    (Value::Null, _) | (_, Value::Null) => Value::Null,
                    (s, p) => {
                        let (s, p) = (cast::to_text(&s), cast::to_text(&p));
                        let matched = if *case_insensitive {
                            like(&s.to_lowercase(), &p.to_lowercase(), *escape)?
                        } else {
                            like(&s, &p, *escape)?
                        };
                        Value::Boolean(matched != *negated)
                    }
                }
            }
            Expr::InList(e, list, negated) => {
                let v = e.eval(row)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    match v.sql_cmp(&item.eval(row)?) {
                        Some(Ordering::Equal) => return Ok(Value::Boolean(!negated)),
                        None => saw_null = true,
                        Some(_) => {}
                    }
                }
                if saw_null { Value::Null } else { Value::Boolean(*negated) }
            }
            Expr::Case { operand, whens, otherwise } => {
                let operand = operand.as_ref().map(|o| o.eval(row)).transpose()?;
                for (when, then) in whens {
                    let w = when.eval(row)?;
                    let hit = match &operand {
                        Some(o) => o.sql_cmp(&w) == Some(Ordering::Equal),
                        None => truth(w) == Some(true),
                    };
                    if hit {
                        return then.eval(row);
                    }
                }
                match otherwise {
                    Some(e) => e.eval(row)?,
                    None => Value::Null,
                }
            }
            Expr::Call(func, args, ty) => call(*func, args, row, *ty)?,
            Expr::Subquery(q) => subquery(q, row)?,
            Expr::Sequence(call) => {
                let Some(access) = &call.access else {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        format!("{}() cannot be used here", call.function.name()),
                    ));
                };
                let args = call.args.iter().map(|a| a.eval(row)).collect::<Result<Vec<_>>>()?;
                access.call(call.function, call.sequence.as_deref(), &args)?
            }
            Expr::Outer(k) => {
                return Err(Error::new(
                    SqlState::InternalError,
                    format!("outer reference ${k} outside its subquery"),
                ));
            }
        })
    }

    /// Evaluates a predicate: true only when the result is TRUE (NULL counts as false).
    pub fn eval_predicate(&self, row: &[Value]) -> Result<bool> {
        Ok(truth(self.eval(row)?) == Some(true))
    }
}

/// The truth value of a boolean (None for NULL or a non-boolean).
pub fn truth(v: Value) -> Option<bool> {
    match v {
        Value::Boolean(b) => Some(b),
        _ => None,
    }
}

/// Applies a comparison operator.
pub fn compare(op: CmpOp, a: &Value, b: &Value) -> Value {
    match a.sql_cmp(b) {
        None => Value::Null,
        Some(o) => Value::Boolean(match op {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::NotEq => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::LtEq => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::GtEq => o != Ordering::Less,
        }),
    }
}

/// Date and time arithmetic, with the result type the binder chose (the rules are in
/// [`datetime::arith`] and [`datetime::Interval`]).
fn datetime_arith(op: ArithOp, a: Value, b: Value, ty: DataType) -> Result<Value> {
    use Value::*;
    use datetime::arith as dt;
    let plus = |t: Value, i: &datetime::Interval| -> Result<Value> {
        Ok(match t {
            TimestampTz(t) => TimestampTz(dt::timestamptz_plus(t, i)?),
            Timestamp(t) => Timestamp(dt::timestamp_plus(t, i)?),
            Date(d) if ty == DataType::TimestampTz => {
                TimestampTz(dt::timestamptz_plus(dt::date_to_timestamptz(d)?, i)?)
            }
            Date(d) => Timestamp(dt::timestamp_plus(dt::date_to_timestamp(d)?, i)?),
            other => return Err(Error::new(SqlState::InternalError, format!("{other:?} + interval"))),
        })
    };
    let instant = |v: &Value| -> Result<Option<i64>> {
        Ok(match v {
            Date(d) => Some(dt::date_to_timestamp(*d)?),
            Timestamp(t) | TimestampTz(t) => Some(*t),
            _ => None,
        })
    };
    let factor = |v: &Value| -> Option<f64> {
        match v {
            Int(i) => Some(*i as f64),
            Float(f) => Some(*f),
            Numeric(d) => Some(d.to_f64()),
            _ => None,
        }
    };
    Ok(match (op, a, b) {
        (ArithOp::Add, Date(d), Int(n)) | (ArithOp::Add, Int(n), Date(d)) => Date(dt::date_plus_days(d, n)?),
        (ArithOp::Sub, Date(d), Int(n)) => {
            Date(dt::date_plus_days(d, n.checked_neg().ok_or_else(datetime::calendar::date_out_of_range)?)?)
        }
        (ArithOp::Sub, Date(a), Date(b)) => Int(dt::date_minus(a, b)?),
        (ArithOp::Add, Date(d), Time(t)) | (ArithOp::Add, Time(t), Date(d)) => {
            let midnight = dt::date_to_timestamp(d)?;
            let sum = if datetime::calendar::timestamp_is_finite(midnight) { midnight + t } else { midnight };
            Timestamp(datetime::calendar::check_timestamp(sum)?)
        }
        (ArithOp::Add, t @ (Date(_) | Timestamp(_) | TimestampTz(_)), Interval(i))
        | (ArithOp::Add, Interval(i), t @ (Date(_) | Timestamp(_) | TimestampTz(_))) => plus(t, &i)?,
        (ArithOp::Sub, t @ (Date(_) | Timestamp(_) | TimestampTz(_)), Interval(i)) => {
            plus(t, &i.checked_neg()?)?
        }
        (ArithOp::Sub, a, b)
            if !matches!((&a, &b), (Date(_), Date(_)))
                && instant(&a)?.is_some()
                && instant(&b)?.is_some() =>
        {
            let (Some(x), Some(y)) = (instant(&a)?, instant(&b)?) else { return Ok(Null) };
            Interval(dt::timestamp_minus(x, y)?)
        }
        (ArithOp::Add, Interval(a), Interval(b)) => Interval(a.checked_add(&b)?),
        (ArithOp::Sub, Interval(a), Interval(b)) => Interval(a.checked_sub(&b)?),
        (ArithOp::Mul, Interval(i), n) | (ArithOp::Mul, n, Interval(i)) if factor(&n).is_some() => {
            Interval(i.mul(factor(&n).unwrap_or(1.0))?)
        }
        (ArithOp::Div, Interval(i), n) if factor(&n).is_some() => Interval(i.div(factor(&n).unwrap_or(1.0))?),
        (ArithOp::Add, Time(t), Interval(i)) | (ArithOp::Add, Interval(i), Time(t)) => {
            Time((t + i.micros % datetime::DAY).rem_euclid(datetime::DAY))
        }
        (ArithOp::Sub, Time(t), Interval(i)) => {
            Time((t - i.micros % datetime::DAY).rem_euclid(datetime::DAY))
        }
        (ArithOp::Sub, Time(a), Time(b)) => {
            Interval(datetime::Interval { months: 0, days: 0, micros: a - b })
        }
        (op, a, b) => {
            return Err(Error::undefined_operator(
                format!("operator does not exist: {} {} {}", a.data_type(), op.symbol(), b.data_type()),
                false,
            ));
        }
    })
}

fn division_by_zero() -> Error {
    Error::new(SqlState::DivisionByZero, "division by zero")
}

/// Applies an arithmetic operator with the result type `ty`: integer arithmetic for an
/// integer type, exact decimal arithmetic for NUMERIC (integer operands included), double
/// arithmetic otherwise.
pub fn arith(op: ArithOp, a: Value, b: Value, ty: DataType) -> Result<Value> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
        (
            a @ (Value::Date(_)
            | Value::Time(_)
            | Value::Timestamp(_)
            | Value::TimestampTz(_)
            | Value::Interval(_)),
            b,
        )
        | (
            a,
            b @ (Value::Date(_)
            | Value::Time(_)
            | Value::Timestamp(_)
            | Value::TimestampTz(_)
            | Value::Interval(_)),
        ) => datetime_arith(op, a, b, ty),
        (Value::Int(a), Value::Int(b)) if ty.is_integer() => {
            let r = match op {
                ArithOp::Add => a.checked_add(b),
                ArithOp::Sub => a.checked_sub(b),
                ArithOp::Mul => a.checked_mul(b),
                ArithOp::Div if b == 0 => return Err(division_by_zero()),
                ArithOp::Div => a.checked_div(b),
                ArithOp::Mod if b == 0 => return Err(division_by_zero()),
                // i64::MIN % -1 overflows in Rust but is 0 in SQL.
                ArithOp::Mod => Some(a.checked_rem(b).unwrap_or(0)),
            };
            check_integer(r.ok_or_else(|| out_of_range(ty))?, ty)
        }
        (a, b) if ty.is_decimal() => {
            let (x, y) = (as_decimal(&a)?, as_decimal(&b)?);
            Ok(Value::Numeric(match op {
                ArithOp::Add => x.checked_add(y)?,
                ArithOp::Sub => x.checked_sub(y)?,
                ArithOp::Mul => x.checked_mul(y)?,
                ArithOp::Div => x.checked_div(y)?,
                ArithOp::Mod => x.checked_rem(y)?,
            }))
        }
        (a, b) => {
            let (x, y) = (as_f64(&a)?, as_f64(&b)?);
            let r = match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div if y == 0.0 => return Err(division_by_zero()),
                ArithOp::Div => x / y,
                ArithOp::Mod if y == 0.0 => return Err(division_by_zero()),
                ArithOp::Mod => x % y,
            };
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(Error::new(SqlState::NumericValueOutOfRange, "value out of range: overflow"));
            }
            let ty = if ty.is_float() { ty } else { DataType::Double };
            check_float(r, ty)
        }
    }
}

/// A number as a double (for float arithmetic and functions).
pub fn as_f64(v: &Value) -> Result<f64> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Numeric(d) => Ok(d.to_f64()),
        other => Err(not_a_number(other)),
    }
}

/// A number as an exact decimal (for NUMERIC arithmetic and functions).
pub fn as_decimal(v: &Value) -> Result<Decimal> {
    match v {
        Value::Int(i) => Ok(Decimal::from(*i)),
        Value::Numeric(d) => Ok(*d),
        Value::Float(f) => Decimal::from_f64(*f),
        other => Err(not_a_number(other)),
    }
}

fn not_a_number(v: &Value) -> Error {
    Error::new(SqlState::DatatypeMismatch, format!("cannot use {} as a number", v.data_type()))
}

/// SQL LIKE: `%` matches any run of characters, `_` any one character, and the escape
/// character (backslash unless ESCAPE says otherwise) makes the next one literal.
pub fn like(s: &str, pattern: &str, escape: Option<char>) -> Result<bool> {
    let escape = escape.or(Some('\\'));
    let s: Vec<char> = s.chars().collect();
    let mut p = Vec::new();
    let mut chars = pattern.chars();
    // Tokens: Some(c) literal, None for `_`; `%` is a separate marker.
    enum Tok {
        Lit(char),
        One,
        Any,
    }
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(n) => p.push(Tok::Lit(n)),
                None => {
                    return Err(Error::new(
                        SqlState::InvalidParameterValue,
                        "LIKE pattern must not end with escape character",
                    ));
                }
            }
        } else if c == '%' {
            p.push(Tok::Any);
        } else if c == '_' {
            p.push(Tok::One);
        } else {
            p.push(Tok::Lit(c));
        }
    }
    // Greedy matching with backtracking to the last `%`: linear in practice.
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(Tok::Lit(c)) if *c == s[si] => {
                si += 1;
                pi += 1;
            }
            Some(Tok::One) => {
                si += 1;
                pi += 1;
            }
            Some(Tok::Any) => {
                star = Some((pi, si));
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return Ok(false),
            },
        }
    }
    Ok(p[pi..].iter().all(|t| matches!(t, Tok::Any)))
}

fn call(func: Function, args: &[Expr], row: &[Value], ty: DataType) -> Result<Value> {
    // Functions that do not propagate NULL the usual way.
    match func {
        Function::Coalesce => {
            for a in args {
                let v = a.eval(row)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            return Ok(Value::Null);
        }
        Function::NullIf => {
            let a = args[0].eval(row)?;
            let b = args[1].eval(row)?;
            return Ok(if a.sql_cmp(&b) == Some(Ordering::Equal) { Value::Null } else { a });
        }
        Function::Greatest | Function::Least => {
            let mut best: Option<Value> = None;
            for a in args {
                let v = a.eval(row)?;
                if v.is_null() {
                    continue;
                }
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let keep_new = if func == Function::Greatest { v > b } else { v < b };
                        if keep_new { v } else { b }
                    }
                });
            }
            return match best {
                Some(v) => cast::cast(v, ty, CastKind::Explicit),
                None => Ok(Value::Null),
            };
        }
        Function::Concat => {
            let mut out = String::new();
            for a in args {
                let v = a.eval(row)?;
                if !v.is_null() {
                    out.push_str(&cast::to_text(&v));
                }
            }
            return Ok(Value::Text(out));
        }
        // `x op ANY/ALL (array)`: a NULL array is NULL, but a NULL x is compared like any
        // value, so ALL over an empty array is true and ANY false, as for a subquery.
        Function::Pg(PgFunction::ArrayAny { .. }) => {
            let array = args[1].eval(row)?;
            if array.is_null() {
                return Ok(Value::Null);
            }
            return crate::exec::functions::apply(func, vec![args[0].eval(row)?, array], ty);
        }
        _ => {}
    }
    let mut values = Vec::with_capacity(args.len());
    for a in args {
        let v = a.eval(row)?;
        if v.is_null() {
            return Ok(Value::Null);
        }
        values.push(v);
    }
    crate::exec::functions::apply(func, values, ty)
}

/// Evaluates a subquery expression for the enclosing `row`.
fn missing_column(i: usize, row: &[Value]) -> Error {
    Error::new(SqlState::InternalError, format!("column #{i} is not in a row of {}", row.len()))
}

fn subquery(q: &Subquery, row: &[Value]) -> Result<Value> {
    let Some(runner) = &q.runner else {
        return Err(Error::new(SqlState::InternalError, "subquery was not prepared for execution"));
    };
    let args: Vec<Value> = q.args.iter().map(|a| a.eval(row)).collect::<Result<_>>()?;
    // A subquery's rows are pulled from here, inside the row of the enclosing query:
    // nested subqueries recurse through it at run time (see crate::depth).
    let rows = crate::depth::grow(|| runner.rows(&q.plan, &args))?;
    let operand = q.operand.as_ref().map(|o| o.eval(row)).transpose()?;
    Ok(match q.kind {
        SubqueryKind::Exists => Value::Boolean(!rows.is_empty()),
        SubqueryKind::Scalar => match rows.as_slice() {
            [] => Value::Null,
            [only] => only.first().cloned().unwrap_or(Value::Null),
            _ => {
                return Err(Error::new(
                    SqlState::CardinalityViolation,
                    "more than one row returned by a subquery used as an expression",
                ));
            }
        },
        SubqueryKind::In => quantified(CmpOp::Eq, false, &operand.unwrap_or(Value::Null), &rows),
        SubqueryKind::Array => crate::catalog::pg_catalog::array_text(rows.iter().map(|r| match r.first() {
            None | Some(Value::Null) => "NULL".to_string(),
            Some(v) => crate::exec::pg_functions::quote_element(&cast::to_text(v)),
        })),
        SubqueryKind::Quantified(op, all) => quantified(op, all, &operand.unwrap_or(Value::Null), &rows),
    })
}

/// `x op ANY (rows)` (IN is `= ANY`) or `x op ALL (rows)`, with SQL's NULL rules: a
/// decisive comparison wins; otherwise an unknown one makes the answer unknown.
pub(crate) fn quantified(op: CmpOp, all: bool, x: &Value, rows: &[Vec<Value>]) -> Value {
    let mut unknown = false;
    for r in rows {
        match compare(op, x, r.first().unwrap_or(&Value::Null)) {
            Value::Boolean(b) if b != all => return Value::Boolean(b),
            Value::Boolean(_) => {}
            _ => unknown = true,
        }
    }
    if unknown { Value::Null } else { Value::Boolean(all) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: Value) -> Box<Expr> {
        Expr::Constant(v).boxed()
    }

    const T: Value = Value::Boolean(true);
    const F: Value = Value::Boolean(false);
    const N: Value = Value::Null;

    #[test]
    fn and_or_not_follow_three_valued_logic() {
        // (left, right, AND, OR), from the SQL standard's truth tables.
        let table = [(T, T, T, T), (T, F, F, T), (T, N, N, T), (F, F, F, F), (F, N, F, N), (N, N, N, N)];
        for (a, b, and, or) in table {
            for (x, y) in [(a.clone(), b.clone()), (b.clone(), a.clone())] {
                assert_eq!(Expr::And(c(x.clone()), c(y.clone())).eval(&[]).expect("and"), and, "{x} AND {y}");
                assert_eq!(Expr::Or(c(x.clone()), c(y.clone())).eval(&[]).expect("or"), or, "{x} OR {y}");
            }
        }
        assert_eq!(Expr::Not(c(N)).eval(&[]).expect("not"), N);
        assert_eq!(Expr::Not(c(T)).eval(&[]).expect("not"), F);
    }

    #[test]
    fn comparisons_with_null_are_unknown_and_predicates_treat_unknown_as_false() {
        assert_eq!(compare(CmpOp::Eq, &N, &N), N);
        assert_eq!(compare(CmpOp::NotEq, &Value::Int(1), &N), N);
        assert_eq!(compare(CmpOp::LtEq, &Value::Int(1), &Value::Float(1.0)), T);
        let unknown = Expr::Compare(CmpOp::Eq, c(Value::Int(1)), c(N));
        assert!(!unknown.eval_predicate(&[]).expect("predicate"));
    }

    #[test]
    fn integer_arithmetic_checks_overflow_and_division_by_zero() {
        let err = arith(ArithOp::Add, Value::Int(i32::MAX as i64), Value::Int(1), DataType::Integer)
            .expect_err("integer overflow");
        assert_eq!(err.state, SqlState::NumericValueOutOfRange);
        assert_eq!(
            arith(ArithOp::Add, Value::Int(i32::MAX as i64), Value::Int(1), DataType::BigInt)
                .expect("bigint"),
            Value::Int(i32::MAX as i64 + 1)
        );
        let err =
            arith(ArithOp::Mul, Value::Int(i64::MAX), Value::Int(2), DataType::BigInt).expect_err("overflow");
        assert_eq!(err.state, SqlState::NumericValueOutOfRange);
        for op in [ArithOp::Div, ArithOp::Mod] {
            let err = arith(op, Value::Int(1), Value::Int(0), DataType::Integer).expect_err("by zero");
            assert_eq!(err.state, SqlState::DivisionByZero);
            let err = arith(op, Value::Float(1.0), Value::Float(0.0), DataType::Double).expect_err("by zero");
            assert_eq!(err.state, SqlState::DivisionByZero);
        }
        assert_eq!(
            arith(ArithOp::Mod, Value::Int(i64::MIN), Value::Int(-1), DataType::BigInt).expect("mod"),
            Value::Int(0)
        );
        assert_eq!(
            arith(ArithOp::Div, Value::Int(-7), Value::Int(2), DataType::Integer).expect("div"),
            Value::Int(-3)
        );
        assert_eq!(arith(ArithOp::Add, N, Value::Int(1), DataType::Integer).expect("null"), N);
    }

    #[test]
    fn numeric_arithmetic_is_exact_and_takes_integers_along() {
        let num = |s: &str| Value::Numeric(s.parse().expect("decimal"));
        let numeric = DataType::Numeric(None);
        let show =
            |r: Result<Value>| r.map(|v| v.to_string()).unwrap_or_else(|e| format!("ERROR {}", e.sqlstate()));
        assert_eq!(show(arith(ArithOp::Add, num("0.1"), num("0.2"), numeric)), "0.3");
        assert_eq!(show(arith(ArithOp::Div, Value::Int(10), num("4"), numeric)), "2.5000000000000000");
        assert_eq!(
            show(arith(ArithOp::Div, Value::Int(1), Value::Int(3), numeric)),
            "0.33333333333333333333"
        );
        assert_eq!(show(arith(ArithOp::Mul, Value::Int(3), num("1.50"), numeric)), "4.50");
        assert_eq!(show(arith(ArithOp::Mod, num("7.5"), Value::Int(2), numeric)), "1.5");
        assert_eq!(show(arith(ArithOp::Div, num("1.5"), Value::Int(0), numeric)), "ERROR 22012");
        assert_eq!(show(arith(ArithOp::Mod, num("1.5"), num("0.0"), numeric)), "ERROR 22012");
        // numeric op double is double.
        assert_eq!(show(arith(ArithOp::Add, num("0.5"), Value::Float(0.25), DataType::Double)), "0.75");
        let neg = Expr::Negate(c(num("1.50")), numeric).eval(&[]).expect("negate");
        assert_eq!(neg.to_string(), "-1.50");
    }

    #[test]
    fn float_overflow_is_an_error_but_infinity_in_stays_infinity() {
        let err = arith(ArithOp::Mul, Value::Float(1e308), Value::Float(10.0), DataType::Double)
            .expect_err("overflow");
        assert_eq!(err.state, SqlState::NumericValueOutOfRange);
        assert_eq!(
            arith(ArithOp::Add, Value::Float(f64::INFINITY), Value::Float(1.0), DataType::Double)
                .expect("inf"),
            Value::Float(f64::INFINITY)
        );
    }

    #[test]
    fn like_handles_wildcards_escapes_and_backtracking() {
        let cases = [
            ("abc", "abc", true),
            ("abc", "a%", true),
            ("abc", "%c", true),
            ("abc", "a_c", true),
            ("abc", "a_", false),
            ("aXbXc", "%X%c", true),
            ("mississippi", "%iss%ppi", true),
            ("mississippi", "%iss%pp", false),
            ("", "%", true),
            ("", "_", false),
            ("50%", "50\\%", true),
            ("505", "50\\%", false),
        ];
        for (s, p, expected) in cases {
            assert_eq!(like(s, p, None).expect("like"), expected, "{s:?} LIKE {p:?}");
        }
        assert!(like("a_b", "a!_b", Some('!')).expect("escape"));
        assert!(!like("axb", "a!_b", Some('!')).expect("escape"));
        assert_eq!(
            like("a", "a\\", None).expect_err("dangling escape").state,
            SqlState::InvalidParameterValue
        );
    }
}
