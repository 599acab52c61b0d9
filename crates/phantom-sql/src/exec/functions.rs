//! Scalar functions over non-NULL arguments (NULL handling happens in `eval`).
//!
//! The numeric functions (`abs`, `sign`, `round`, `trunc`, `floor`, `ceil`) work on the
//! type the binder chose: exactly on a NUMERIC (rounding half away from zero, keeping
//! PostgreSQL's display scales), as integers, or as doubles.

use crate::error::{Error, Result, SqlState};
use crate::exec::eval::{as_decimal, as_f64};
use crate::planner::expr::Function;
use crate::types::cast::{self, check_float, check_integer, out_of_range};
use crate::types::decimal::Rounding;
use crate::types::{DataType, Decimal, Value};

fn text(v: &Value) -> String {
    cast::to_text(v)
}

fn int(v: &Value) -> Result<i64> {
    let whole = match v {
        Value::Int(i) => Some(*i),
        Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
        Value::Numeric(d) => d.to_i64_exact(),
        _ => None,
    };
    whole.ok_or_else(|| Error::new(SqlState::DatatypeMismatch, format!("expected an integer, found {v}")))
}

fn float(v: &Value) -> Result<f64> {
    as_f64(v)
}

/// `round`, `trunc`, `floor` and `ceil` of a NUMERIC to `digits` places.
fn round_decimal(v: &Value, digits: i64, mode: Rounding) -> Result<Value> {
    let digits = i32::try_from(digits).unwrap_or(if digits < 0 { i32::MIN } else { i32::MAX });
    Ok(Value::Numeric(as_decimal(v)?.round_to(digits, mode)?))
}

/// Applies `func` to non-NULL `args`; `ty` is the result type the binder worked out.
pub fn apply(func: Function, args: Vec<Value>, ty: DataType) -> Result<Value> {
    use Function::*;
    let a = |i: usize| &args[i];
    let digits = || if args.len() > 1 { int(a(1)) } else { Ok(0) };
    Ok(match func {
        Abs if ty.is_decimal() => Value::Numeric(as_decimal(a(0))?.abs()),
        Sign if ty.is_decimal() => Value::Numeric(Decimal::from(as_decimal(a(0))?.signum())),
        Round if ty.is_decimal() => round_decimal(a(0), digits()?, Rounding::HalfAwayFromZero)?,
        Trunc if ty.is_decimal() => round_decimal(a(0), digits()?, Rounding::TowardZero)?,
        Floor if ty.is_decimal() => round_decimal(a(0), 0, Rounding::Floor)?,
        Ceil if ty.is_decimal() => round_decimal(a(0), 0, Rounding::Ceiling)?,
        Abs => match a(0) {
            Value::Int(i) => check_integer(i.checked_abs().ok_or_else(|| out_of_range(ty))?, ty)?,
            v => Value::Float(float(v)?.abs()),
        },
        Sign => match a(0) {
            Value::Int(i) => Value::Int(i.signum()),
            v => Value::Float(float(v)?.signum() * f64::from(u8::from(float(v)? != 0.0))),
        },
        Length => Value::Int(text(a(0)).chars().count() as i64),
        OctetLength => Value::Int(text(a(0)).len() as i64),
        Upper => Value::Text(text(a(0)).to_uppercase()),
        Lower => Value::Text(text(a(0)).to_lowercase()),
        Round => {
            let digits = digits()?;
            match a(0) {
                Value::Int(i) if digits >= 0 => Value::Int(*i),
                // round(double precision) is rint: half to even.
                v if args.len() == 1 => check_float(
                    float(v)?.round_ties_even(),
                    if ty.is_float() { ty } else { DataType::Double },
                )?,
                v => {
                    let x = float(v)?;
                    let scale = 10f64.powi(digits.clamp(-300, 300) as i32);
                    // Half away from zero, like PostgreSQL's numeric round.
                    check_float(
                        (x * scale).round() / scale,
                        if ty.is_float() { ty } else { DataType::Double },
                    )?
                }
            }
        }
        Trunc => match a(0) {
            Value::Int(i) => Value::Int(*i),
            v => {
                let scale = 10f64.powi(digits()?.clamp(-300, 300) as i32);
                Value::Float((float(v)? * scale).trunc() / scale)
            }
        },
        Floor => match a(0) {
            Value::Int(i) => Value::Int(*i),
            v => Value::Float(float(v)?.floor()),
        },
        Ceil => match a(0) {
            Value::Int(i) => Value::Int(*i),
            v => Value::Float(float(v)?.ceil()),
        },
        Sqrt => {
            let x = float(a(0))?;
            if x < 0.0 {
                return Err(Error::new(
                    SqlState::InvalidArgumentForPowerFunction,
                    "cannot take square root of a negative number",
                ));
            }
            Value::Float(x.sqrt())
        }
        Power => {
            let (x, y) = (float(a(0))?, float(a(1))?);
            // PostgreSQL checks the domain before anything else, infinities included:
            // (-inf) ^ 3.5 is an error, not Infinity.
            if x == 0.0 && y < 0.0 {
                return Err(Error::new(
                    SqlState::InvalidArgumentForPowerFunction,
                    "zero raised to a negative power is undefined",
                ));
            }
            if x < 0.0 && y.is_finite() && y.floor() != y {
                return Err(Error::new(
                    SqlState::InvalidArgumentForPowerFunction,
                    "a negative number raised to a non-integer power yields a complex result",
                ));
            }
            let r = x.powf(y);
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(out_of_range(DataType::Double));
            }
            if r == 0.0 && x.is_finite() && y.is_finite() && x != 0.0 {
                return Err(Error::new(SqlState::NumericValueOutOfRange, "value out of range: underflow"));
            }
            Value::Float(r)
        }
        Mod => crate::exec::eval::arith(crate::planner::expr::ArithOp::Mod, a(0).clone(), a(1).clone(), ty)?,
        Substring => {
            let s: Vec<char> = text(a(0)).chars().collect();
            let start = int(a(1))?;
            let end = if args.len() > 2 {
                let len = int(a(2))?;
                if len < 0 {
                    return Err(Error::new(
                        SqlState::InvalidParameterValue,
                        "negative substring length not allowed",
                    ));
                }
                start.saturating_add(len)
            } else {
                i64::MAX
            };
            // Positions are 1-based; a start before 1 eats into the length.
            let from = (start.max(1) - 1) as usize;
            let to = (end.max(1) - 1).min(s.len() as i64) as usize;
            Value::Text(if from < to { s[from..to].iter().collect() } else { String::new() })
        }
        StrPos => {
            let (s, sub) = (text(a(0)), text(a(1)));
            Value::Int(match s.find(&sub) {
                Some(byte) => s[..byte].chars().count() as i64 + 1,
                None => 0,
            })
        }
        Trim | LTrim | RTrim => {
            let s = text(a(0));
            let chars: Vec<char> = if args.len() > 1 { text(a(1)).chars().collect() } else { vec![' '] };
            let pat = |c: char| chars.contains(&c);
            Value::Text(match func {
                LTrim => s.trim_start_matches(pat).to_string(),
                RTrim => s.trim_end_matches(pat).to_string(),
                _ => s.trim_matches(pat).to_string(),
            })
        }
        Replace => {
            let from = text(a(1));
            let s = text(a(0));
            Value::Text(if from.is_empty() { s } else { s.replace(&from, &text(a(2))) })
        }
        Left | Right => {
            let s: Vec<char> = text(a(0)).chars().collect();
            let n = int(a(1))?;
            let len = s.len() as i64;
            let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            Value::Text(if func == Left {
                s[..keep].iter().collect()
            } else {
                s[s.len() - keep..].iter().collect()
            })
        }
        Repeat => {
            let n = int(a(1))?.max(0) as usize;
            let s = text(a(0));
            if s.len().saturating_mul(n) > 256 * 1024 * 1024 {
                return Err(Error::new(SqlState::ProgramLimitExceeded, "requested length too large"));
            }
            Value::Text(s.repeat(n))
        }
        Reverse => Value::Text(text(a(0)).chars().rev().collect()),
        DateTime(f) => return super::datetime_functions::apply(f, args, ty),
        Pg(f) => return super::pg_functions::apply(f, args),
        Coalesce | NullIf | Greatest | Least | Concat => {
            return Err(Error::new(SqlState::InternalError, format!("{} is evaluated by eval", func.name())));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_follows_sql_positions() {
        let sub = |s: &str, from: i64, len: Option<i64>| {
            let mut args = vec![Value::Text(s.into()), Value::Int(from)];
            args.extend(len.map(Value::Int));
            apply(Function::Substring, args, DataType::Text).ok()
        };
        assert_eq!(sub("hello", 2, Some(3)), Some(Value::Text("ell".into())));
        assert_eq!(sub("hello", 0, Some(2)), Some(Value::Text("h".into())));
        assert_eq!(sub("hello", 4, None), Some(Value::Text("lo".into())));
        assert_eq!(sub("hello", 9, None), Some(Value::Text("".into())));
    }

    #[test]
    fn numeric_functions_keep_postgres_scales() {
        let num = |s: &str| Value::Numeric(s.parse().expect("decimal"));
        let numeric = DataType::Numeric(None);
        let f = |func: Function, args: Vec<Value>| {
            apply(func, args, numeric)
                .map(|v| v.to_string())
                .unwrap_or_else(|e| format!("ERROR {}", e.sqlstate()))
        };
        assert_eq!(f(Function::Round, vec![num("2.5")]), "3");
        assert_eq!(f(Function::Round, vec![num("-2.5")]), "-3");
        assert_eq!(f(Function::Round, vec![num("1.2345"), Value::Int(2)]), "1.23");
        assert_eq!(f(Function::Round, vec![Value::Int(5), Value::Int(2)]), "5.00");
        assert_eq!(f(Function::Round, vec![num("1234.5"), Value::Int(-2)]), "1200");
        assert_eq!(f(Function::Trunc, vec![num("-1.99"), Value::Int(1)]), "-1.9");
        assert_eq!(f(Function::Trunc, vec![num("-1.99")]), "-1");
        assert_eq!(f(Function::Floor, vec![num("-1.5")]), "-2");
        assert_eq!(f(Function::Ceil, vec![num("1.2")]), "2");
        assert_eq!(f(Function::Abs, vec![num("-1.50")]), "1.50");
        assert_eq!(f(Function::Sign, vec![num("-0.5")]), "-1");
        assert_eq!(f(Function::Sign, vec![num("0.00")]), "0");
        assert_eq!(f(Function::Mod, vec![num("7.5"), num("2")]), "1.5");
        assert_eq!(f(Function::Mod, vec![num("7.5"), Value::Int(0)]), "ERROR 22012");
    }

    #[test]
    fn round_of_a_double_is_half_to_even() {
        let r = |x: f64| apply(Function::Round, vec![Value::Float(x)], DataType::Double).ok();
        assert_eq!(r(2.5), Some(Value::Float(2.0)));
        assert_eq!(r(3.5), Some(Value::Float(4.0)));
        assert_eq!(r(-2.5), Some(Value::Float(-2.0)));
        assert_eq!(r(2.6), Some(Value::Float(3.0)));
    }
}
