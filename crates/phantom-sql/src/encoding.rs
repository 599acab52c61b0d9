//! How rows and keys are stored.
//!
//! A row is stored under its primary key, encoded with the order-preserving
//! `phantom_storage::keycode` so that a range of keys is a range of rows. A table without a
//! primary key uses a hidden row id (an increasing `u64`) as its key.
//!
//! The row itself is a compact self-describing record (primary-key columns are stored only
//! in the key, where the row marks their place with tag 6, unless the key cannot give the
//! value back exactly: a NUMERIC key holds the value without its display scale, so
//! NUMERIC key columns are stored in the row as well):
//!
//! ```text
//!   varint   number of values
//!   then per value a tag byte and its payload:
//!     0 NULL | 1 false | 2 true
//!     3 integer: zigzag varint
//!     4 float:   8 bytes, little-endian IEEE 754
//!     5 text:    varint length, UTF-8 bytes
//!     6 in key:  the value is the primary-key column at this position
//!     7 bytes:   varint length, the bytes
//!     8 date | 9 time | 10 timestamp | 11 timestamptz: zigzag varint
//!    12 interval: zigzag varints of months, days, microseconds
//!    13 numeric: the scale (one byte), then the coefficient as a zigzag 128-bit varint
//! ```
//!
//! In keys, a NUMERIC is a byte-string component holding the order-preserving form of its
//! value ([`Decimal::to_key_bytes`]): 1.5 and 1.50 are the same key, and the key of an
//! integer written into a NUMERIC column is that of the same decimal.
//!
//! Values carry their own tags, so a row written before `ALTER TABLE ... ADD COLUMN` simply
//! has fewer values; readers fill the missing trailing columns with NULL.

use phantom_storage::keycode::{self, KeyReader, Order};
use phantom_storage::varint;

use crate::error::{Error, Result, SqlState};
use crate::types::datetime::Interval;
use crate::types::{DataType, Decimal, Value};

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const TEXT: u8 = 5;
const BYTES: u8 = 7;
const DATE: u8 = 8;
const TIME: u8 = 9;
const TIMESTAMP: u8 = 10;
const TIMESTAMPTZ: u8 = 11;
const INTERVAL: u8 = 12;
const NUMERIC: u8 = 13;
/// The value is the primary-key column of this position: read it from the key.
const IN_KEY: u8 = 6;

/// Encodes a row's values. The columns listed in `in_key` (the primary-key columns the key
/// restores exactly, `TableDef::key_only_columns`) are stored once, in the key; the row
/// only marks their place.
pub fn encode_row(values: &[Value], in_key: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + values.len() * 9);
    put_varint(&mut out, values.len() as u64);
    for (i, value) in values.iter().enumerate() {
        if in_key.contains(&i) {
            out.push(IN_KEY);
            continue;
        }
        match value {
            Value::Null => out.push(NULL),
            Value::Boolean(false) => out.push(FALSE),
            Value::Boolean(true) => out.push(TRUE),
            Value::Int(i) => {
                out.push(INT);
                put_varint(&mut out, ((*i << 1) ^ (*i >> 63)) as u64);
            }
            Value::Float(f) => {
                out.push(FLOAT);
                out.extend_from_slice(&f.to_le_bytes());
            }
            Value::Numeric(d) => {
                out.push(NUMERIC);
                out.push(d.scale());
                let c = d.coefficient();
                put_varint128(&mut out, ((c << 1) ^ (c >> 127)) as u128);
            }
            Value::Text(s) => {
                out.push(TEXT);
                put_varint(&mut out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bytes(b) => {
                out.push(BYTES);
                put_varint(&mut out, b.len() as u64);
                out.extend_from_slice(b);
            }
            Value::Date(v) | Value::Time(v) | Value::Timestamp(v) | Value::TimestampTz(v) => {
                out.push(match value {
                    Value::Date(_) => DATE,
                    Value::Time(_) => TIME,
                    Value::Timestamp(_) => TIMESTAMP,
                    _ => TIMESTAMPTZ,
                });
                put_zigzag(&mut out, *v);
            }
            Value::Interval(i) => {
                out.push(INTERVAL);
                put_zigzag(&mut out, i.months.into());
                put_zigzag(&mut out, i.days.into());
                put_zigzag(&mut out, i.micros);
            }
        }
    }
    out
}

/// Decodes a row into `out`, padding with NULLs up to `width` values. Returns true if
/// some values are stored in the key (they come out as NULL; see [`fill_from_key`]).
pub fn decode_row_into(bytes: &[u8], width: usize, out: &mut Vec<Value>) -> Result<bool> {
    let mut in_key = false;
    let mut pos = 0;
    let count = get_varint(bytes, &mut pos)? as usize;
    if count > bytes.len() {
        return Err(corrupt("value count exceeds row size"));
    }
    out.reserve(width.max(count));
    for _ in 0..count {
        let tag = *bytes.get(pos).ok_or_else(|| corrupt("row ends early"))?;
        pos += 1;
        let value = match tag {
            NULL => Value::Null,
            IN_KEY => {
                in_key = true;
                Value::Null
            }
            FALSE => Value::Boolean(false),
            TRUE => Value::Boolean(true),
            INT => {
                let z = get_varint(bytes, &mut pos)?;
                Value::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            NUMERIC => {
                let scale = *bytes.get(pos).ok_or_else(|| corrupt("row ends early"))?;
                pos += 1;
                let z = get_varint128(bytes, &mut pos)?;
                let coefficient = ((z >> 1) as i128) ^ -((z & 1) as i128);
                Value::Numeric(Decimal::new(coefficient, scale).map_err(|_| corrupt("numeric out of range"))?)
            }
            FLOAT => {
                let raw = bytes.get(pos..pos + 8).ok_or_else(|| corrupt("row ends early"))?;
                pos += 8;
                let mut b = [0u8; 8];
                b.copy_from_slice(raw);
                Value::Float(f64::from_le_bytes(b))
            }
            TEXT => {
                let len = get_varint(bytes, &mut pos)? as usize;
                let end = pos.checked_add(len).ok_or_else(|| corrupt("bad text length"))?;
                let raw = bytes.get(pos..end).ok_or_else(|| corrupt("row ends early"))?;
                pos = end;
                let s = std::str::from_utf8(raw).map_err(|_| corrupt("text is not UTF-8"))?;
                Value::Text(s.to_string())
            }
            DATE => Value::Date(get_zigzag(bytes, &mut pos)?),
            TIME => Value::Time(get_zigzag(bytes, &mut pos)?),
            TIMESTAMP => Value::Timestamp(get_zigzag(bytes, &mut pos)?),
            TIMESTAMPTZ => Value::TimestampTz(get_zigzag(bytes, &mut pos)?),
            INTERVAL => {
                let months = get_zigzag(bytes, &mut pos)?;
                let days = get_zigzag(bytes, &mut pos)?;
                let micros = get_zigzag(bytes, &mut pos)?;
                let narrow = |v: i64| i32::try_from(v).map_err(|_| corrupt("interval field out of range"));
                Value::Interval(Interval { months: narrow(months)?, days: narrow(days)?, micros })
            }
            BYTES => {
                let len = get_varint(bytes, &mut pos)? as usize;
                let end = pos.checked_add(len).ok_or_else(|| corrupt("bad byte string length"))?;
                let raw = bytes.get(pos..end).ok_or_else(|| corrupt("row ends early"))?;
                pos = end;
                Value::Bytes(raw.to_vec())
            }
            _ => return Err(corrupt("unknown value tag")),
        };
        out.push(value);
    }
    while out.len() < width {
        out.push(Value::Null);
    }
    Ok(in_key)
}

/// Puts the primary-key values decoded from `key` into their columns of `row`; columns
/// whose type the key does not restore exactly were stored in the row and stay as read.
pub fn fill_from_key(row: &mut [Value], key: &[u8], columns: &[usize], types: &[DataType]) -> Result<()> {
    for ((value, &column), ty) in decode_key(key, types)?.into_iter().zip(columns).zip(types) {
        if let Some(slot) = row.get_mut(column)
            && ty.key_restores_value()
        {
            *slot = value;
        }
    }
    Ok(())
}

/// Appends the key encoding of `value` as a column of type `data_type`.
pub fn encode_key_value(out: &mut Vec<u8>, value: &Value, order: Order) {
    match value {
        Value::Null => keycode::encode_null(out, order),
        Value::Boolean(b) => keycode::encode_bool(out, *b, order),
        Value::Int(i) => keycode::encode_i64(out, *i, order),
        Value::Float(f) => keycode::encode_f64(out, *f, order),
        Value::Numeric(d) => keycode::encode_bytes(out, &d.to_key_bytes(), order),
        Value::Text(s) => keycode::encode_str(out, s, order),
        Value::Bytes(b) => keycode::encode_bytes(out, b, order),
        Value::Date(v) | Value::Time(v) | Value::Timestamp(v) | Value::TimestampTz(v) => {
            keycode::encode_i64(out, *v, order)
        }
        // Intervals order by their length with a month of 30 days, as they compare.
        Value::Interval(i) => {
            let micros = i.approximate_micros().clamp(i64::MIN.into(), i64::MAX.into()) as i64;
            keycode::encode_i64(out, micros, order)
        }
    }
}

/// The storage key of a row with these primary-key values.
pub fn encode_key(values: &[&Value]) -> Vec<u8> {
    let mut key = Vec::with_capacity(values.len() * 9);
    for value in values {
        encode_key_value(&mut key, value, Order::ASC);
    }
    key
}

/// The storage key of a hidden row id.
pub fn row_id_key(id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    keycode::encode_u64(&mut key, id, Order::ASC);
    key
}

/// Decodes a hidden row id key.
pub fn decode_row_id(key: &[u8]) -> Result<u64> {
    KeyReader::new(key)
        .read_u64(Order::ASC)
        .map_err(|e| corrupt(&e.to_string()))?
        .ok_or_else(|| corrupt("NULL row id"))
}

/// Decodes a primary key into values of the given types.
pub fn decode_key(key: &[u8], types: &[DataType]) -> Result<Vec<Value>> {
    Ok(split_key(key, types)?.0)
}

/// Decodes the leading values of `key` (one per type) and returns them with the bytes
/// that follow.
pub fn split_key<'a>(key: &'a [u8], types: &[DataType]) -> Result<(Vec<Value>, &'a [u8])> {
    let mut reader = KeyReader::new(key);
    let mut values = Vec::with_capacity(types.len());
    for ty in types {
        let v = match ty {
            DataType::Boolean => reader.read_bool(Order::ASC).map(|v| v.map(Value::Boolean)),
            t if t.is_integer() => reader.read_i64(Order::ASC).map(|v| v.map(Value::Int)),
            t if t.is_float() => reader.read_f64(Order::ASC).map(|v| v.map(Value::Float)),
            DataType::Numeric(_) => {
                let bytes = reader.read_bytes(Order::ASC).map_err(|e| corrupt(&e.to_string()))?;
                let value = match bytes {
                    None => Value::Null,
                    Some(b) => {
                        let d = Decimal::from_key_bytes(&b).ok_or_else(|| corrupt("bad numeric key"))?;
                        crate::types::cast::check_decimal(d, *ty)?
                    }
                };
                values.push(value);
                continue;
            }
            DataType::Bytea => reader.read_bytes(Order::ASC).map(|v| v.map(Value::Bytes)),
            DataType::Date => reader.read_i64(Order::ASC).map(|v| v.map(Value::Date)),
            DataType::Time => reader.read_i64(Order::ASC).map(|v| v.map(Value::Time)),
            DataType::Timestamp => reader.read_i64(Order::ASC).map(|v| v.map(Value::Timestamp)),
            DataType::TimestampTz => reader.read_i64(Order::ASC).map(|v| v.map(Value::TimestampTz)),
            DataType::Interval => reader
                .read_i64(Order::ASC)
                .map(|v| v.map(|micros| Value::Interval(Interval { months: 0, days: 0, micros }))),
            _ => reader.read_str(Order::ASC).map(|v| v.map(Value::Text)),
        }
        .map_err(|e| corrupt(&e.to_string()))?;
        values.push(v.unwrap_or(Value::Null));
    }
    Ok((values, reader.remaining()))
}

fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn get_zigzag(bytes: &[u8], pos: &mut usize) -> Result<i64> {
    let v = get_varint(bytes, pos)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

fn put_varint(out: &mut Vec<u8>, v: u64) {
    varint::put(out, v);
}

/// A 128-bit LEB128 varint (for NUMERIC coefficients; `varint` stops at 64 bits).
fn put_varint128(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint128(bytes: &[u8], pos: &mut usize) -> Result<u128> {
    let mut v: u128 = 0;
    for shift in (0..128).step_by(7) {
        let byte = *bytes.get(*pos).ok_or_else(|| corrupt("row ends early"))?;
        *pos += 1;
        let bits = u128::from(byte & 0x7f);
        if shift == 126 && bits > 3 {
            return Err(corrupt("varint too long"));
        }
        v |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(corrupt("varint too long"))
}

fn get_varint(bytes: &[u8], pos: &mut usize) -> Result<u64> {
    varint::get(bytes, pos).ok_or_else(|| corrupt("bad or truncated varint"))
}

fn corrupt(reason: &str) -> Error {
    Error::new(SqlState::DataCorrupted, format!("corrupt row data: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_filter("NaN != NaN", |f| !f.is_nan()).prop_map(Value::Float),
            (any::<i128>(), 0u8..=38).prop_filter_map("38 digits", |(c, s)| {
                Decimal::new(c % 10i128.pow(38), s).ok().map(Value::Numeric)
            }),
            ".{0,20}".prop_map(Value::Text),
        ]
    }

    fn decode_row(bytes: &[u8], width: usize) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        decode_row_into(bytes, width, &mut out)?;
        Ok(out)
    }

    proptest! {
        #[test]
        fn rows_round_trip(values in proptest::collection::vec(value(), 0..12)) {
            let decoded = decode_row(&encode_row(&values, &[]), values.len()).ok();
            prop_assert_eq!(decoded, Some(values));
        }

        #[test]
        fn key_columns_come_back_from_the_key(a in any::<i64>(), b in ".{0,20}", c in any::<i64>()) {
            let values = vec![Value::Int(a), Value::Text(b.clone()), Value::Int(c)];
            let key = encode_key(&[&values[2], &values[0]]);
            let bytes = encode_row(&values, &[2, 0]);
            let mut row = Vec::new();
            prop_assert!(decode_row_into(&bytes, 3, &mut row).expect("decode"));
            prop_assert_eq!(&row[1], &Value::Text(b));
            fill_from_key(&mut row, &key, &[2, 0], &[DataType::BigInt, DataType::BigInt]).expect("fill");
            prop_assert_eq!(row, values);
        }

        #[test]
        fn numerics_keep_their_scale_in_rows(c in any::<i64>(), s in 0u8..=38) {
            let d = Decimal::new(i128::from(c), s).expect("fits");
            let decoded = decode_row(&encode_row(&[Value::Numeric(d)], &[]), 1).expect("decode");
            match &decoded[0] {
                Value::Numeric(back) => prop_assert_eq!((back.coefficient(), back.scale()), (d.coefficient(), d.scale())),
                other => prop_assert!(false, "decoded {other:?}"),
            }
        }

        #[test]
        fn garbage_rows_are_errors_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_row(&bytes, 3);
        }
    }

    #[test]
    fn short_rows_are_padded_with_nulls() {
        let row = decode_row(&encode_row(&[Value::Int(1)], &[]), 3).ok();
        assert_eq!(row, Some(vec![Value::Int(1), Value::Null, Value::Null]));
    }
}
