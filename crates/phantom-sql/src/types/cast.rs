//! Conversions between types, with PostgreSQL's rules and errors.
//!
//! There are two strengths of cast. An *explicit* cast (`CAST(x AS t)`, `x::t`) may
//! truncate a string to a `VARCHAR(n)`; an *assignment* (storing into a column) must not
//! lose characters and fails with 22001 instead. Both fail with 22003 when a number does
//! not fit and 22P02 when a string does not parse.
//!
//! Numbers convert as PostgreSQL converts them: a NUMERIC becomes an integer rounded half
//! away from zero (a double rounds half to even), a double becomes a NUMERIC through its
//! 15 significant digits, and NUMERIC(p, s) rounds to s digits and then checks the
//! precision ([`Decimal::apply_typmod`]).

use super::datetime;
use super::value::format_float;
use super::{DataType, Decimal, Value};
use crate::error::{Error, Result, SqlState};

/// How strict a cast is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastKind {
    /// `CAST(x AS t)`: strings are truncated to fit.
    Explicit,
    /// Storing into a column: a string that does not fit is an error.
    Assignment,
}

/// The error for an integer that does not fit its type.
pub fn out_of_range(ty: DataType) -> Error {
    let what = match ty {
        DataType::SmallInt => "smallint out of range",
        DataType::Integer => "integer out of range",
        DataType::BigInt => "bigint out of range",
        _ => "value out of range: overflow",
    };
    Error::new(SqlState::NumericValueOutOfRange, what)
}

fn invalid_input(ty: DataType, text: &str) -> Error {
    let ty = match ty {
        DataType::Double => "double precision".to_string(),
        t => t.to_string(),
    };
    Error::new(SqlState::InvalidTextRepresentation, format!("invalid input syntax for type {ty}: \"{text}\""))
}

/// Checks that an integer fits `ty`.
pub fn check_integer(v: i64, ty: DataType) -> Result<Value> {
    match ty.integer_range() {
        Some((lo, hi)) if v < lo || v > hi => Err(out_of_range(ty)),
        _ => Ok(Value::Int(v)),
    }
}

/// Rounds a double to `ty` (REAL loses precision), failing on overflow and, like
/// PostgreSQL, on a non-zero value that becomes zero as a REAL.
/// True if the digits of a number's mantissa (before any exponent) are not all zero.
fn has_nonzero_mantissa(number: &str) -> bool {
    number.split(['e', 'E']).next().is_some_and(|m| m.bytes().any(|b| (b'1'..=b'9').contains(&b)))
}

/// PostgreSQL's error for float input beyond the type's range: `"1e400" is out of range
/// for type double precision`.
fn out_of_range_input(ty: DataType, input: &str) -> Error {
    Error::new(SqlState::NumericValueOutOfRange, format!("\"{input}\" is out of range for type {ty}"))
}

pub fn check_float(v: f64, ty: DataType) -> Result<Value> {
    if ty == DataType::Real {
        let r = v as f32;
        if r.is_infinite() && v.is_finite() {
            return Err(out_of_range(ty));
        }
        if r == 0.0 && v != 0.0 {
            return Err(Error::new(SqlState::NumericValueOutOfRange, "value out of range: underflow"));
        }
        return Ok(Value::Float(f64::from(r)));
    }
    Ok(Value::Float(v))
}

/// Gives a decimal the precision and scale of `ty` (NUMERIC(p, s)), if it has them.
pub fn check_decimal(d: Decimal, ty: DataType) -> Result<Value> {
    match ty {
        DataType::Numeric(Some((precision, scale))) => d.apply_typmod(precision, scale).map(Value::Numeric),
        _ => Ok(Value::Numeric(d)),
    }
}

/// Converts `value` to `ty`. NULL stays NULL.
pub fn cast(value: Value, ty: DataType, kind: CastKind) -> Result<Value> {
    match (value, ty) {
        (Value::Null, _) | (_, DataType::Null) => Ok(Value::Null),
        (Value::Boolean(b), DataType::Boolean) => Ok(Value::Boolean(b)),
        (Value::Boolean(b), t) if t.is_integer() => Ok(Value::Int(i64::from(b))),
        (Value::Int(i), t) if t.is_integer() => check_integer(i, t),
        (Value::Int(i), t) if t.is_float() => check_float(i as f64, t),
        (Value::Int(i), DataType::Boolean) => Ok(Value::Boolean(i != 0)),
        (Value::Float(f), t) if t.is_float() => check_float(f, t),
        (Value::Numeric(d), t) if t.is_decimal() => check_decimal(d, t),
        (Value::Int(i), t) if t.is_decimal() => check_decimal(Decimal::from(i), t),
        (Value::Float(f), t) if t.is_decimal() => check_decimal(Decimal::from_f64(f)?, t),
        (Value::Numeric(d), t) if t.is_integer() => match d.to_i64_rounded() {
            Some(i) => check_integer(i, t),
            None => Err(out_of_range(t)),
        },
        (Value::Numeric(d), t) if t.is_float() => check_float(d.to_f64(), t),
        (Value::Float(f), t) if t.is_integer() => {
            // PostgreSQL rounds half to even (rint) when converting floats to integers.
            let r = f.round_ties_even();
            if !r.is_finite() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&r) {
                return Err(out_of_range(t));
            }
            check_integer(r as i64, t)
        }
        (Value::Bytes(b), DataType::Bytea) => Ok(Value::Bytes(b)),
        (Value::Date(d), DataType::Date) => Ok(Value::Date(d)),
        (Value::Date(d), DataType::Timestamp) => Ok(Value::Timestamp(datetime::arith::date_to_timestamp(d)?)),
        (Value::Date(d), DataType::TimestampTz) => {
            Ok(Value::TimestampTz(datetime::arith::date_to_timestamptz(d)?))
        }
        (Value::Timestamp(t), DataType::Date) => Ok(Value::Date(datetime::arith::timestamp_to_date(t))),
        (Value::TimestampTz(t), DataType::Date) => {
            Ok(Value::Date(datetime::arith::timestamp_to_date(datetime::arith::timestamptz_to_local(t)?)))
        }
        // The time of an infinite timestamp is NULL, as in PostgreSQL.
        (Value::Timestamp(t), DataType::Time) if !datetime::calendar::timestamp_is_finite(t) => {
            Ok(Value::Null)
        }
        (Value::TimestampTz(t), DataType::Time) if !datetime::calendar::timestamp_is_finite(t) => {
            Ok(Value::Null)
        }
        (Value::Timestamp(t), DataType::Time) => Ok(Value::Time(t.rem_euclid(datetime::DAY))),
        (Value::TimestampTz(t), DataType::Time) => {
            Ok(Value::Time(datetime::arith::timestamptz_to_local(t)?.rem_euclid(datetime::DAY)))
        }
        (Value::Timestamp(t), DataType::Timestamp) => Ok(Value::Timestamp(t)),
        (Value::TimestampTz(t), DataType::TimestampTz) => Ok(Value::TimestampTz(t)),
        (Value::Timestamp(t), DataType::TimestampTz) => {
            Ok(Value::TimestampTz(datetime::arith::local_to_timestamptz(t)?))
        }
        (Value::TimestampTz(t), DataType::Timestamp) => {
            Ok(Value::Timestamp(datetime::arith::timestamptz_to_local(t)?))
        }
        (Value::Time(t), DataType::Time) => Ok(Value::Time(t)),
        (Value::Time(t), DataType::Interval) => {
            Ok(Value::Interval(datetime::Interval { months: 0, days: 0, micros: t }))
        }
        // interval::time keeps the time of day of the interval's time part.
        (Value::Interval(i), DataType::Time) => Ok(Value::Time(i.micros.rem_euclid(datetime::DAY))),
        (Value::Interval(i), DataType::Interval) => Ok(Value::Interval(i)),
        (Value::Text(s), DataType::Bytea) => parse_bytea(&s),
        (Value::Text(s), t) if t.is_string() => fit_string(s, t, kind),
        (v, t) if t.is_string() => fit_string(to_text(&v), t, kind),
        (Value::Text(s), t) => parse_text(&s, t),
        (v, t) => {
            Err(Error::new(SqlState::DatatypeMismatch, format!("cannot cast type {} to {t}", v.data_type())))
        }
    }
}

/// Text as BYTEA input, as PostgreSQL's `byteain` reads it: `\x` and pairs of hex digits
/// (whitespace between pairs), or else the escape format, where `\\` is a backslash,
/// `\ddd` (three octal digits, the first 0-3) a byte, and any other backslash an error.
fn parse_bytea(s: &str) -> Result<Value> {
    if let Some(hex) = s.strip_prefix("\\x") {
        return decode_hex_input(hex).map(Value::Bytes);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = bytes.get(i + 1..i + 4).filter(|d| {
                (b'0'..=b'3').contains(&d[0]) && d[1..].iter().all(|b| (b'0'..=b'7').contains(b))
            });
            let Some(d) = octal else {
                // PostgreSQL's wording, which (unlike other types) does not quote the input.
                return Err(Error::new(
                    SqlState::InvalidTextRepresentation,
                    "invalid input syntax for type bytea",
                ));
            };
            out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
            i += 4;
        }
    }
    Ok(Value::Bytes(out))
}

/// The hex digits of BYTEA input, with PostgreSQL's errors (22023) for a bad digit and
/// an odd count.
fn decode_hex_input(hex: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(hex.len() / 2);
    let mut chars = hex.chars().filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'));
    let digit = |c: char| {
        c.to_digit(16).ok_or_else(|| {
            Error::new(SqlState::InvalidParameterValue, format!("invalid hexadecimal digit: \"{c}\""))
        })
    };
    while let Some(high) = chars.next() {
        let high = digit(high)?;
        let Some(low) = chars.next() else {
            return Err(Error::new(
                SqlState::InvalidParameterValue,
                "invalid hexadecimal data: odd number of digits",
            ));
        };
        out.push((high * 16 + digit(low)?) as u8);
    }
    Ok(out)
}

/// Decodes hex digits (an even number of them), `None` if they are not.
pub fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// The text form of a value, as `CAST(v AS TEXT)` produces it.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Boolean(true) => "true".into(),
        Value::Boolean(false) => "false".into(),
        Value::Float(f) => format_float(*f),
        other => other.to_string(),
    }
}

fn fit_string(s: String, ty: DataType, kind: CastKind) -> Result<Value> {
    match ty {
        DataType::Varchar(Some(n)) | DataType::Char(n) => {
            let n = n as usize;
            let len = s.chars().count();
            let s = if len > n {
                let cut: String = s.chars().take(n).collect();
                let rest_is_blank = s.chars().skip(n).all(|c| c == ' ');
                if kind == CastKind::Assignment && !rest_is_blank {
                    let what =
                        if matches!(ty, DataType::Char(_)) { "character" } else { "character varying" };
                    return Err(Error::new(
                        SqlState::StringDataRightTruncation,
                        format!("value too long for type {what}({n})"),
                    ));
                }
                cut
            } else {
                s
            };
            if matches!(ty, DataType::Char(_)) {
                let len = s.chars().count();
                if len < n {
                    let mut padded = s;
                    padded.extend(std::iter::repeat_n(' ', n - len));
                    return Ok(Value::Text(padded));
                }
            }
            Ok(Value::Text(s))
        }
        _ => Ok(Value::Text(s)),
    }
}

/// Parses text as a value of a non-string type.
pub fn parse_text(s: &str, ty: DataType) -> Result<Value> {
    let t = s.trim();
    match ty {
        DataType::Boolean => match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Ok(Value::Boolean(true)),
            "f" | "false" | "no" | "n" | "off" | "0" => Ok(Value::Boolean(false)),
            _ => Err(invalid_input(ty, s)),
        },
        ty if ty.is_integer() => match t.parse::<i64>() {
            Ok(v) => check_integer(v, ty),
            // A well-formed number that is too big is a range error, not a syntax error.
            Err(_)
                if !t.is_empty()
                    && t.trim_start_matches(['-', '+']).chars().all(|c| c.is_ascii_digit())
                    && t.len() > 1 =>
            {
                Err(out_of_range(ty))
            }
            Err(_) => Err(invalid_input(ty, s)),
        },
        DataType::Date => datetime::parse_date(t).map(Value::Date),
        DataType::Time => datetime::parse_time(t).map(Value::Time),
        DataType::Timestamp => datetime::parse_timestamp(t, false).map(Value::Timestamp),
        DataType::TimestampTz => datetime::parse_timestamp(t, true).map(Value::TimestampTz),
        DataType::Interval => datetime::parse_interval(t).map(Value::Interval),
        DataType::Numeric(_) => check_decimal(Decimal::parse(t)?, ty),
        ty if ty.is_float() => {
            let v = match t.to_ascii_lowercase().as_str() {
                "nan" => f64::NAN,
                "infinity" | "inf" | "+infinity" | "+inf" => f64::INFINITY,
                "-infinity" | "-inf" => f64::NEG_INFINITY,
                other => match other.parse::<f64>() {
                    Ok(v) if v.is_infinite() => return Err(out_of_range_input(ty, t)),
                    // Nonzero digits that come out as zero underflowed (PostgreSQL's
                    // strtod check; subnormal results are fine).
                    Ok(v) if v == 0.0 && has_nonzero_mantissa(other) => {
                        return Err(out_of_range_input(ty, t));
                    }
                    Ok(v) => v,
                    Err(_) => return Err(invalid_input(ty, s)),
                },
            };
            // REAL input is checked against REAL's range, with the same message.
            let narrowed = v as f32;
            if ty == DataType::Real
                && v.is_finite()
                && (narrowed.is_infinite() || (narrowed == 0.0 && v != 0.0))
            {
                return Err(out_of_range_input(ty, t));
            }
            check_float(v, ty)
        }
        _ => Ok(Value::Text(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_range_checked() {
        assert!(cast(Value::Int(40000), DataType::SmallInt, CastKind::Explicit).is_err());
        assert_eq!(
            cast(Value::Text(" 42 ".into()), DataType::Integer, CastKind::Explicit).ok(),
            Some(Value::Int(42))
        );
        let e = cast(Value::Text("4x".into()), DataType::Integer, CastKind::Explicit).err();
        assert_eq!(e.map(|e| e.state), Some(SqlState::InvalidTextRepresentation));
        let e = cast(Value::Text("99999999999".into()), DataType::Integer, CastKind::Explicit).err();
        assert_eq!(e.map(|e| e.state), Some(SqlState::NumericValueOutOfRange));
    }

    #[test]
    fn floats_round_half_even_to_integers() {
        assert_eq!(cast(Value::Float(2.5), DataType::Integer, CastKind::Explicit).ok(), Some(Value::Int(2)));
        assert_eq!(cast(Value::Float(3.5), DataType::Integer, CastKind::Explicit).ok(), Some(Value::Int(4)));
        assert!(cast(Value::Float(f64::NAN), DataType::Integer, CastKind::Explicit).is_err());
    }

    #[test]
    fn numerics_convert_like_postgres() {
        let num = |s: &str| Value::Numeric(s.parse().expect("decimal"));
        let cast_text = |v: Value, ty: DataType| match cast(v, ty, CastKind::Explicit) {
            Ok(v) => to_text(&v),
            Err(e) => format!("ERROR {}", e.sqlstate()),
        };
        let n10_2 = DataType::Numeric(Some((10, 2)));
        assert_eq!(cast_text(num("2.5"), DataType::Integer), "3");
        assert_eq!(cast_text(num("-2.5"), DataType::SmallInt), "-3");
        assert_eq!(cast_text(num("32767.5"), DataType::SmallInt), "ERROR 22003");
        assert_eq!(cast_text(num("1.25"), DataType::Double), "1.25");
        assert_eq!(cast_text(num("1.5"), n10_2), "1.50");
        assert_eq!(cast_text(num("1.555"), n10_2), "1.56");
        assert_eq!(cast_text(num("123456789.1"), n10_2), "ERROR 22003");
        assert_eq!(cast_text(Value::Int(7), DataType::Numeric(None)), "7");
        assert_eq!(cast_text(Value::Int(7), DataType::Numeric(Some((3, 1)))), "7.0");
        assert_eq!(cast_text(Value::Float(0.1), DataType::Numeric(None)), "0.1");
        assert_eq!(cast_text(Value::Float(f64::NAN), DataType::Numeric(None)), "ERROR 0A000");
        assert_eq!(cast_text(Value::Text(" 1.50 ".into()), DataType::Numeric(None)), "1.50");
        assert_eq!(cast_text(Value::Text("abc".into()), DataType::Numeric(None)), "ERROR 22P02");
        assert_eq!(cast_text(Value::Text("1.5".into()), DataType::Numeric(Some((1, 0)))), "2");
        assert_eq!(cast_text(num("1.50"), DataType::Text), "1.50");
        assert_eq!(cast_text(num("1"), DataType::Boolean), "ERROR 42804");
    }

    #[test]
    fn reals_overflow_and_underflow() {
        let real = |v: f64| {
            cast(Value::Float(v), DataType::Real, CastKind::Explicit).map_err(|e| e.sqlstate().to_string())
        };
        assert_eq!(real(1e39).err().as_deref(), Some("22003"));
        assert_eq!(real(1e-50).err().as_deref(), Some("22003"));
        assert_eq!(real(0.0).ok(), Some(Value::Float(0.0)));
        assert_eq!(real(f64::INFINITY).ok(), Some(Value::Float(f64::INFINITY)));
        let e = cast(Value::Text("1e-50".into()), DataType::Real, CastKind::Explicit).err();
        assert_eq!(e.map(|e| e.state), Some(SqlState::NumericValueOutOfRange));
        let e = cast(Value::Int(70000), DataType::SmallInt, CastKind::Explicit).err();
        assert_eq!(e.map(|e| e.message), Some("smallint out of range".to_string()));
    }

    #[test]
    fn strings_fit_their_length() {
        let v = DataType::Varchar(Some(3));
        assert_eq!(
            cast(Value::Text("abcd".into()), v, CastKind::Explicit).ok(),
            Some(Value::Text("abc".into()))
        );
        let e = cast(Value::Text("abcd".into()), v, CastKind::Assignment).err();
        assert_eq!(e.map(|e| e.state), Some(SqlState::StringDataRightTruncation));
        assert_eq!(
            cast(Value::Text("ab  ".into()), v, CastKind::Assignment).ok(),
            Some(Value::Text("ab ".into()))
        );
        assert_eq!(
            cast(Value::Text("a".into()), DataType::Char(3), CastKind::Assignment).ok(),
            Some(Value::Text("a  ".into()))
        );
    }
}
