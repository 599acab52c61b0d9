//! PostgreSQL's view of Phantom-DB's types: OIDs, sizes, and the text and binary wire
//! formats of every type, in both directions.
//!
//! Results: each column's [`DataType`] gives its OID in RowDescription, and each value is
//! written in the format the client asked for in Bind (text by default). Text is the
//! value's PostgreSQL text output ([`Value::text_as`]). Binary is PostgreSQL's `*send`
//! layout: big-endian integers and floats, dates as days and timestamps as microseconds
//! since 2000-01-01, intervals as (microseconds, days, months).
//!
//! Parameters: a text parameter becomes a `Value::Text` that the statement converts to the
//! parameter's type with the usual input rules (so `'2024-01-01'` works for a DATE, and a
//! bad value fails with 22P02); a binary one is read in the layout of its type (declared
//! in Parse, or inferred from the statement).
//!
//! OIDs and type modifiers come from the SQL layer's `pg_catalog` (one table for the
//! catalog views and the wire). NUMERIC's binary form is PostgreSQL's: base-10000 digits
//! with a weight, a sign and the display scale ([`numeric_send`] / [`numeric_recv`]).

use bytes::{BufMut, BytesMut};
use phantom::{DataType, Decimal, Interval, Value, calendar};

use crate::error::WireError;

pub const BOOL: u32 = 16;
pub const BYTEA: u32 = 17;
pub const INT8: u32 = 20;
pub const INT2: u32 = 21;
pub const INT4: u32 = 23;
pub const TEXT: u32 = 25;
pub const FLOAT4: u32 = 700;
pub const FLOAT8: u32 = 701;
pub const UNKNOWN: u32 = 705;
pub const BPCHAR: u32 = 1042;
pub const VARCHAR: u32 = 1043;
pub const DATE: u32 = 1082;
pub const TIME: u32 = 1083;
pub const TIMESTAMP: u32 = 1114;
pub const TIMESTAMPTZ: u32 = 1184;
pub const INTERVAL: u32 = 1186;
pub const NUMERIC: u32 = 1700;

/// Days from 1970-01-01 (Phantom-DB's epoch) to 2000-01-01 (PostgreSQL's).
const EPOCH_DAYS: i64 = 10_957;
/// The same distance in microseconds.
const EPOCH_MICROS: i64 = EPOCH_DAYS * 86_400_000_000;

/// A value's wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Binary,
}

impl Format {
    /// Reads a format code (0 text, 1 binary).
    pub fn from_code(code: i16) -> Result<Format, WireError> {
        match code {
            0 => Ok(Format::Text),
            1 => Ok(Format::Binary),
            other => Err(WireError::protocol(format!("unsupported format code: {other}"))),
        }
    }

    /// The format code.
    pub fn code(self) -> i16 {
        match self {
            Format::Text => 0,
            Format::Binary => 1,
        }
    }

    /// One format per item from Bind's list of codes: none means all text, one applies to
    /// all, otherwise one per item.
    pub fn per_item(codes: &[i16], items: usize, what: &str) -> Result<Vec<Format>, WireError> {
        match codes {
            [] => Ok(vec![Format::Text; items]),
            [one] => Ok(vec![Format::from_code(*one)?; items]),
            many if many.len() == items => many.iter().map(|c| Format::from_code(*c)).collect(),
            many => Err(WireError::protocol(format!(
                "bind message has {} {what} formats but {items} {what}s",
                many.len()
            ))),
        }
    }
}

/// The OID of a type.
pub fn oid(ty: DataType) -> u32 {
    match ty {
        // A bare NULL's type; PostgreSQL reports such result columns as text.
        DataType::Null => TEXT,
        ty => u32::try_from(phantom::pg_type_oid(ty)).unwrap_or(TEXT),
    }
}

/// The type a parameter declared with `oid` in Parse is read as; `None` for an OID this
/// server does not know (the parameter is then read as the statement's own type).
pub fn from_oid(oid: u32) -> Option<DataType> {
    Some(match oid {
        BOOL => DataType::Boolean,
        INT2 => DataType::SmallInt,
        INT4 => DataType::Integer,
        INT8 => DataType::BigInt,
        FLOAT4 => DataType::Real,
        FLOAT8 => DataType::Double,
        TEXT | UNKNOWN => DataType::Text,
        VARCHAR => DataType::Varchar(None),
        BPCHAR => DataType::Char(1),
        BYTEA => DataType::Bytea,
        DATE => DataType::Date,
        TIME => DataType::Time,
        TIMESTAMP => DataType::Timestamp,
        TIMESTAMPTZ => DataType::TimestampTz,
        INTERVAL => DataType::Interval,
        NUMERIC => DataType::Numeric(None),
        _ => return None,
    })
}

/// The type's fixed size in bytes, or -1 for variable-length types (RowDescription).
pub fn type_size(ty: DataType) -> i16 {
    match ty {
        DataType::Boolean => 1,
        DataType::SmallInt => 2,
        DataType::Integer | DataType::Real | DataType::Date => 4,
        DataType::BigInt
        | DataType::Double
        | DataType::Time
        | DataType::Timestamp
        | DataType::TimestampTz => 8,
        DataType::Interval => 16,
        _ => -1,
    }
}

/// The type modifier PostgreSQL reports (RowDescription): -1 for none.
pub fn type_modifier(ty: DataType) -> i32 {
    i32::try_from(phantom::pg_type_modifier(ty)).unwrap_or(-1)
}

/// Appends one DataRow field: its length (-1 for NULL) and its bytes in `format`.
pub fn encode_field(
    value: &Value,
    ty: DataType,
    format: Format,
    out: &mut BytesMut,
) -> Result<(), WireError> {
    if value.is_null() {
        out.put_i32(-1);
        return Ok(());
    }
    let at = out.len();
    out.put_i32(0);
    match format {
        Format::Text => out.put_slice(value.text_as(ty).as_bytes()),
        Format::Binary => encode_binary(value, ty, out)?,
    }
    let len =
        i32::try_from(out.len() - at - 4).map_err(|_| WireError::new("54000", "value too large to send"))?;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// PostgreSQL's binary send format of `value` as type `ty`.
fn encode_binary(value: &Value, ty: DataType, out: &mut BytesMut) -> Result<(), WireError> {
    let out_of_range = || WireError::new("22003", format!("value {value} out of range for type {ty}"));
    match (ty, value) {
        (DataType::Boolean, Value::Boolean(b)) => out.put_u8(u8::from(*b)),
        (DataType::SmallInt, Value::Int(i)) => out.put_i16(i16::try_from(*i).map_err(|_| out_of_range())?),
        (DataType::Integer, Value::Int(i)) => out.put_i32(i32::try_from(*i).map_err(|_| out_of_range())?),
        (DataType::BigInt, Value::Int(i)) => out.put_i64(*i),
        (DataType::Real, Value::Float(x)) => out.put_f32(*x as f32),
        (DataType::Real, Value::Int(i)) => out.put_f32(*i as f32),
        (DataType::Double, Value::Float(x)) => out.put_f64(*x),
        (DataType::Double, Value::Int(i)) => out.put_f64(*i as f64),
        (DataType::Bytea, Value::Bytes(b)) => out.put_slice(b),
        // PostgreSQL's infinities are the extremes of its integers, as ours are of i64.
        (DataType::Date, Value::Date(calendar::DATE_INFINITY)) => out.put_i32(i32::MAX),
        (DataType::Date, Value::Date(calendar::DATE_NEG_INFINITY)) => out.put_i32(i32::MIN),
        (DataType::Date, Value::Date(d)) => {
            out.put_i32(i32::try_from(d - EPOCH_DAYS).map_err(|_| out_of_range())?)
        }
        (DataType::Timestamp, Value::Timestamp(calendar::TIMESTAMP_INFINITY))
        | (DataType::TimestampTz, Value::TimestampTz(calendar::TIMESTAMP_INFINITY)) => out.put_i64(i64::MAX),
        (DataType::Timestamp, Value::Timestamp(calendar::TIMESTAMP_NEG_INFINITY))
        | (DataType::TimestampTz, Value::TimestampTz(calendar::TIMESTAMP_NEG_INFINITY)) => {
            out.put_i64(i64::MIN)
        }
        (DataType::Time, Value::Time(t)) => out.put_i64(*t),
        (DataType::Timestamp, Value::Timestamp(t)) | (DataType::TimestampTz, Value::TimestampTz(t)) => {
            out.put_i64(t.checked_sub(EPOCH_MICROS).ok_or_else(out_of_range)?)
        }
        (DataType::Interval, Value::Interval(i)) => {
            out.put_i64(i.micros);
            out.put_i32(i.days);
            out.put_i32(i.months);
        }
        (DataType::Numeric(_), Value::Numeric(d)) => numeric_send(d, out),
        (DataType::Numeric(_), Value::Int(i)) => numeric_send(&Decimal::from(*i), out),
        // Strings, and NULL-typed columns (sent as text): the text bytes.
        (t, v) if t.is_string() || t == DataType::Null => out.put_slice(v.text_as(t).as_bytes()),
        (t, v) => {
            return Err(WireError::new(
                "XX000",
                format!("cannot send a {} value as binary {t}", v.data_type()),
            ));
        }
    }
    Ok(())
}

/// Reads a parameter sent in `format` for a parameter of type `ty`.
pub fn decode_param(bytes: &[u8], ty: DataType, format: Format) -> Result<Value, WireError> {
    match format {
        Format::Text => Ok(Value::Text(utf8(bytes)?)),
        Format::Binary => decode_binary(bytes, ty),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, WireError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| WireError::new("22021", "invalid byte sequence for encoding \"UTF8\""))
}

/// PostgreSQL's binary receive format.
fn decode_binary(b: &[u8], ty: DataType) -> Result<Value, WireError> {
    let wrong_size = || {
        WireError::new(
            "22P03",
            format!("incorrect binary data format in bind parameter: {} bytes for type {ty}", b.len()),
        )
    };
    let fixed =
        |n: usize| -> Result<&[u8], WireError> { if b.len() == n { Ok(b) } else { Err(wrong_size()) } };
    let i64_at = |s: &[u8]| i64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
    let i32_at = |s: &[u8]| i32::from_be_bytes([s[0], s[1], s[2], s[3]]);
    Ok(match ty {
        DataType::Boolean => Value::Boolean(fixed(1)?[0] != 0),
        DataType::SmallInt => {
            let s = fixed(2)?;
            Value::Int(i64::from(i16::from_be_bytes([s[0], s[1]])))
        }
        DataType::Integer => Value::Int(i64::from(i32_at(fixed(4)?))),
        DataType::BigInt => Value::Int(i64_at(fixed(8)?)),
        DataType::Real => Value::Float(f64::from(f32::from_bits(i32_at(fixed(4)?) as u32))),
        DataType::Double => Value::Float(f64::from_bits(i64_at(fixed(8)?) as u64)),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Null => Value::Text(utf8(b)?),
        DataType::Bytea => Value::Bytes(b.to_vec()),
        DataType::Date => Value::Date(match i32_at(fixed(4)?) {
            i32::MAX => calendar::DATE_INFINITY,
            i32::MIN => calendar::DATE_NEG_INFINITY,
            d => i64::from(d) + EPOCH_DAYS,
        }),
        DataType::Time => Value::Time(i64_at(fixed(8)?)),
        DataType::Timestamp => Value::Timestamp(timestamp_recv(i64_at(fixed(8)?))?),
        DataType::TimestampTz => Value::TimestampTz(timestamp_recv(i64_at(fixed(8)?))?),
        DataType::Interval => {
            let s = fixed(16)?;
            Value::Interval(Interval {
                micros: i64_at(&s[0..8]),
                days: i32_at(&s[8..12]),
                months: i32_at(&s[12..16]),
            })
        }
        DataType::Numeric(_) => Value::Numeric(numeric_recv(b).ok_or_else(wrong_size)?),
    })
}

/// A binary timestamp (microseconds since 2000, PostgreSQL's infinities at the ends of
/// i64) as ours; 22008 for one beyond the range a timestamp here holds.
fn timestamp_recv(micros: i64) -> Result<i64, WireError> {
    match micros {
        i64::MAX => Ok(calendar::TIMESTAMP_INFINITY),
        i64::MIN => Ok(calendar::TIMESTAMP_NEG_INFINITY),
        t => t
            .checked_add(EPOCH_MICROS)
            .filter(|t| calendar::timestamp_in_range(*t))
            .ok_or_else(|| WireError::new("22008", "timestamp out of range")),
    }
}

/// Sign words of PostgreSQL's binary NUMERIC.
const NUMERIC_POSITIVE: u16 = 0x0000;
const NUMERIC_NEGATIVE: u16 = 0x4000;

/// Writes `d` as PostgreSQL's `numeric_send` does: the number of base-10000 digits, the
/// weight of the first one (its power of 10000), the sign, the display scale, then the
/// digits, with leading and trailing zero digits left out.
fn numeric_send(d: &Decimal, out: &mut BytesMut) {
    let scale = usize::from(d.scale());
    let digits = d.coefficient().unsigned_abs().to_string();
    // Split at the decimal point, then pad both sides to whole groups of four.
    let (int_part, frac_part) =
        if digits.len() > scale { digits.split_at(digits.len() - scale) } else { ("", digits.as_str()) };
    let frac = format!("{}{frac_part}", "0".repeat(scale - frac_part.len()));
    let int = format!("{}{int_part}", "0".repeat((4 - int_part.len() % 4) % 4));
    let frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
    let mut groups: Vec<i16> = format!("{int}{frac}")
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |n, b| n * 10 + i16::from(b - b'0')))
        .collect();
    let mut weight = (int.len() / 4) as i16 - 1;
    let leading = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..leading);
    weight -= leading as i16;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(groups.len() as i16);
    out.put_i16(weight);
    out.put_u16(if d.signum() < 0 { NUMERIC_NEGATIVE } else { NUMERIC_POSITIVE });
    out.put_u16(scale as u16);
    for g in groups {
        out.put_i16(g);
    }
}

/// Reads PostgreSQL's binary NUMERIC; `None` if malformed, NaN, infinite or beyond 38
/// digits.
fn numeric_recv(b: &[u8]) -> Option<Decimal> {
    let word = |i: usize| b.get(i..i + 2).map(|s| i16::from_be_bytes([s[0], s[1]]));
    let ndigits = usize::try_from(word(0)?).ok()?;
    let weight = i64::from(word(2)?);
    let sign = word(4)? as u16;
    let scale = usize::try_from(word(6)?).ok()?;
    if b.len() != 8 + 2 * ndigits || !matches!(sign, NUMERIC_POSITIVE | NUMERIC_NEGATIVE) {
        return None;
    }
    // Lay the digits out as "int.frac" text and let the decimal parser check the range.
    let mut int = String::new();
    let mut frac = String::new();
    for i in 0..ndigits {
        let digit = word(8 + 2 * i)?;
        if !(0..10_000).contains(&digit) {
            return None;
        }
        let position = weight - i as i64;
        let text = format!("{digit:04}");
        if position >= 0 {
            int.push_str(&text);
        } else {
            let missing = usize::try_from(-position - 1).ok()?.checked_mul(4)?;
            if missing > 1000 {
                return None;
            }
            while frac.len() < missing {
                frac.push('0');
            }
            frac.push_str(&text);
        }
    }
    if weight >= 0 && ndigits > 0 {
        let last_int_position = weight - (ndigits as i64 - 1);
        if last_int_position > 0 {
            let zeros = usize::try_from(last_int_position).ok()?.checked_mul(4)?;
            if zeros > 1000 {
                return None;
            }
            int.push_str(&"0".repeat(zeros));
        }
    }
    frac.truncate(scale);
    while frac.len() < scale {
        frac.push('0');
    }
    let minus = if sign == NUMERIC_NEGATIVE { "-" } else { "" };
    let int = if int.is_empty() { "0" } else { int.as_str() };
    let text = if scale > 0 { format!("{minus}{int}.{frac}") } else { format!("{minus}{int}") };
    Decimal::parse(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: Value, ty: DataType) {
        let mut out = BytesMut::new();
        encode_field(&value, ty, Format::Binary, &mut out).expect("encode");
        let len = i32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(len, out.len() - 4);
        let back = decode_param(&out[4..], ty, Format::Binary).expect("decode");
        assert_eq!(back, value, "{ty}");
    }

    #[test]
    fn binary_round_trips_for_every_type() {
        round_trip(Value::Boolean(true), DataType::Boolean);
        round_trip(Value::Int(-12345), DataType::SmallInt);
        round_trip(Value::Int(i64::from(i32::MIN)), DataType::Integer);
        round_trip(Value::Int(i64::MAX), DataType::BigInt);
        round_trip(Value::Float(0.5), DataType::Real);
        round_trip(Value::Float(-1e300), DataType::Double);
        round_trip(Value::Text("héllo".into()), DataType::Text);
        round_trip(Value::Text("ab".into()), DataType::Varchar(Some(4)));
        round_trip(Value::Bytes(vec![0, 255, 7]), DataType::Bytea);
        round_trip(Value::Date(-3), DataType::Date);
        round_trip(Value::Time(3_600_000_001), DataType::Time);
        round_trip(Value::Timestamp(1_700_000_000_000_000), DataType::Timestamp);
        round_trip(Value::TimestampTz(-5), DataType::TimestampTz);
        round_trip(Value::Date(calendar::DATE_INFINITY), DataType::Date);
        round_trip(Value::Date(calendar::DATE_NEG_INFINITY), DataType::Date);
        round_trip(Value::Timestamp(calendar::TIMESTAMP_INFINITY), DataType::Timestamp);
        round_trip(Value::TimestampTz(calendar::TIMESTAMP_NEG_INFINITY), DataType::TimestampTz);
        round_trip(Value::Interval(Interval { months: 14, days: -3, micros: 7 }), DataType::Interval);
        for text in [
            "0",
            "0.00",
            "1",
            "-1.5",
            "12345.6789",
            "0.0001",
            "100000000",
            "-0.000012",
            "99999999999999999999.999999",
        ] {
            let d = Decimal::parse(text).expect("decimal");
            round_trip(Value::Numeric(d), DataType::Numeric(None));
        }
    }

    #[test]
    fn numeric_binary_layout_matches_postgres() {
        // numeric_send('-12345.678') = ndigits 3, weight 1, NEG, dscale 3, digits 1 2345 6780.
        let mut out = BytesMut::new();
        numeric_send(&Decimal::parse("-12345.678").expect("decimal"), &mut out);
        let words: Vec<i16> = out.chunks(2).map(|c| i16::from_be_bytes([c[0], c[1]])).collect();
        assert_eq!(words, [3, 1, 0x4000, 3, 1, 2345, 6780]);
        out.clear();
        numeric_send(&Decimal::parse("0.00").expect("decimal"), &mut out);
        let words: Vec<i16> = out.chunks(2).map(|c| i16::from_be_bytes([c[0], c[1]])).collect();
        assert_eq!(words, [0, 0, 0, 2]);
        assert!(numeric_recv(&[0, 1, 0, 0, 0xC0, 0, 0, 0, 0, 1]).is_none(), "NaN is refused");
        assert!(numeric_recv(&[0, 2, 0, 0]).is_none(), "truncated");
    }

    #[test]
    fn binary_layouts_match_postgres() {
        let mut out = BytesMut::new();
        encode_field(&Value::Date(EPOCH_DAYS + 1), DataType::Date, Format::Binary, &mut out).expect("date");
        assert_eq!(&out[..], &[0, 0, 0, 4, 0, 0, 0, 1], "2000-01-02 is day 1");
        // PostgreSQL sends 'infinity' as the largest integer of the type (timestamp_send).
        out.clear();
        encode_field(&Value::Date(calendar::DATE_INFINITY), DataType::Date, Format::Binary, &mut out)
            .expect("date");
        assert_eq!(&out[4..], &i32::MAX.to_be_bytes());
        out.clear();
        let neg = Value::TimestampTz(calendar::TIMESTAMP_NEG_INFINITY);
        encode_field(&neg, DataType::TimestampTz, Format::Binary, &mut out).expect("timestamptz");
        assert_eq!(&out[4..], &i64::MIN.to_be_bytes());
        out.clear();
        encode_field(&Value::Null, DataType::Integer, Format::Binary, &mut out).expect("null");
        assert_eq!(&out[..], &(-1i32).to_be_bytes());
        out.clear();
        encode_field(&Value::Float(f64::from(0.1f32)), DataType::Real, Format::Text, &mut out).expect("text");
        assert_eq!(&out[4..], b"0.1");
    }

    #[test]
    fn bad_parameters_are_errors_not_panics() {
        assert_eq!(
            decode_param(&[1, 2], DataType::Integer, Format::Binary).expect_err("short").code,
            "22P03"
        );
        assert_eq!(decode_param(&[0xff], DataType::Text, Format::Text).expect_err("utf8").code, "22021");
        assert!(
            encode_field(&Value::Int(70_000), DataType::SmallInt, Format::Binary, &mut BytesMut::new())
                .is_err()
        );
        assert_eq!(Format::per_item(&[0, 1], 3, "parameter").expect_err("count").code, "08P01");
        assert_eq!(Format::per_item(&[1], 2, "parameter").expect("one for all"), [Format::Binary; 2]);
    }

    #[test]
    fn oids_and_modifiers() {
        assert_eq!(oid(DataType::Varchar(Some(10))), VARCHAR);
        assert_eq!(type_modifier(DataType::Varchar(Some(10))), 14);
        assert_eq!(type_modifier(DataType::Char(84)), 88);
        assert_eq!(from_oid(INT8), Some(DataType::BigInt));
        assert_eq!(from_oid(999_999), None);
        assert_eq!(oid(DataType::Numeric(Some((10, 2)))), NUMERIC);
        assert_eq!(type_modifier(DataType::Numeric(Some((10, 2)))), (10 << 16 | 2) + 4);
        assert_eq!(oid(DataType::Null), TEXT);
    }
}
