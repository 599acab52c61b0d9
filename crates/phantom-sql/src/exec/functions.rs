//! Scalar functions over non-NULL arguments (NULL handling happens in `eval`).

use crate::error::{Error, Result, SqlState};
use crate::planner::expr::Function;
use crate::types::cast::{self, check_float, check_integer, out_of_range};
use crate::types::{DataType, Value, datetime};

fn text(v: &Value) -> String {
    cast::to_text(v)
}

fn int(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        other => Err(Error::new(SqlState::DatatypeMismatch, format!("expected an integer, found {other}"))),
    }
}

fn float(v: &Value) -> Result<f64> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        other => Err(Error::new(SqlState::DatatypeMismatch, format!("expected a number, found {other}"))),
    }
}

/// Applies `func` to non-NULL `args`; `ty` is the result type the binder worked out.
pub fn apply(func: Function, args: Vec<Value>, ty: DataType) -> Result<Value> {
    use Function::*;
    let a = |i: usize| &args[i];
    Ok(match func {
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
            let digits = if args.len() > 1 { int(a(1))? } else { 0 };
            match a(0) {
                Value::Int(i) if digits >= 0 => Value::Int(*i),
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
            v => Value::Float(float(v)?.trunc()),
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
                    SqlState::InvalidParameterValue,
                    "cannot take square root of a negative number",
                ));
            }
            Value::Float(x.sqrt())
        }
        Power => {
            let (x, y) = (float(a(0))?, float(a(1))?);
            if x == 0.0 && y < 0.0 {
                return Err(Error::new(
                    SqlState::InvalidParameterValue,
                    "zero raised to a negative power is undefined",
                ));
            }
            let r = x.powf(y);
            if r.is_nan() && !x.is_nan() && !y.is_nan() {
                return Err(Error::new(
                    SqlState::InvalidParameterValue,
                    "a negative number raised to a non-integer power yields a complex result",
                ));
            }
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(out_of_range(DataType::Double));
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
        Now => Value::TimestampTz(now_micros()),
        CurrentDate => Value::Date(now_micros().div_euclid(datetime::DAY)),
        DatePart => {
            let field = text(a(0)).to_lowercase();
            let unknown =
                || Error::new(SqlState::InvalidParameterValue, format!("unit \"{field}\" not recognized"));
            let part = match a(1).clone() {
                Value::Date(d) => datetime::extract_timestamp(&field, d * datetime::DAY),
                Value::Timestamp(t) | Value::TimestampTz(t) => datetime::extract_timestamp(&field, t),
                Value::Time(t) => datetime::extract_timestamp(&field, t)
                    .filter(|_| matches!(field.as_str(), "hour" | "minute" | "second" | "epoch")),
                Value::Interval(i) => interval_part(&field, &i),
                _ => None,
            };
            Value::Float(part.ok_or_else(unknown)?)
        }
        DateTrunc => {
            let field = text(a(0)).to_lowercase();
            let unknown =
                || Error::new(SqlState::InvalidParameterValue, format!("unit \"{field}\" not recognized"));
            let (micros, tz) = match a(1).clone() {
                Value::Date(d) => (d * datetime::DAY, false),
                Value::Timestamp(t) => (t, false),
                Value::TimestampTz(t) => (t, true),
                other => return Err(Error::new(SqlState::InternalError, format!("date_trunc of {other}"))),
            };
            let t = datetime::trunc_timestamp(&field, micros).ok_or_else(unknown)?;
            if tz { Value::TimestampTz(t) } else { Value::Timestamp(t) }
        }
        Pg(f) => return super::pg_functions::apply(f, args),
        Coalesce | NullIf | Greatest | Least | Concat => {
            return Err(Error::new(SqlState::InternalError, format!("{} is evaluated by eval", func.name())));
        }
    })
}

/// The current time, in microseconds since the epoch.
fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// A field of an interval, as `EXTRACT` gives it.
fn interval_part(field: &str, i: &datetime::Interval) -> Option<f64> {
    Some(match field {
        "year" => f64::from(i.months / 12),
        "month" => f64::from(i.months % 12),
        "day" => f64::from(i.days),
        "hour" => (i.micros / datetime::HOUR) as f64,
        "minute" => (i.micros % datetime::HOUR / datetime::MINUTE) as f64,
        "second" => (i.micros % datetime::MINUTE) as f64 / datetime::SECOND as f64,
        "epoch" => i.approximate_micros() as f64 / datetime::SECOND as f64,
        _ => return None,
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
    fn round_is_half_away_from_zero() {
        let r = |x: f64| apply(Function::Round, vec![Value::Float(x)], DataType::Double).ok();
        assert_eq!(r(2.5), Some(Value::Float(3.0)));
        assert_eq!(r(-2.5), Some(Value::Float(-3.0)));
    }
}
