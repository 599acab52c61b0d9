//! Order-preserving encoding of typed values into byte strings.
//!
//! Keys are compared as plain bytes by every engine, so typed values (integers, floats,
//! strings, NULL) are encoded such that the byte order of the encodings equals the SQL
//! order of the values. A composite key is the concatenation of its components; every
//! encoding is self-delimiting, so composite keys compare component by component, and no
//! encoded key is a proper prefix of another (the MVCC layer relies on that when it
//! appends a timestamp).
//!
//! Each component starts with a marker byte:
//!
//! ```text
//!   0x01  NULL, when NULLs sort first
//!   0x02  a value
//!   0x03  NULL, when NULLs sort last (PostgreSQL's default for ascending order)
//! ```
//!
//! followed, for a value, by its payload:
//!
//! ```text
//!   bool    one byte, 0 or 1
//!   i64     8 bytes big-endian with the sign bit flipped (negatives sort first)
//!   u64     8 bytes big-endian
//!   f64     8 bytes: the IEEE bits, with the sign bit flipped for positive numbers and
//!           all bits flipped for negative ones; -0.0 is encoded as 0.0 and every NaN as
//!           one canonical NaN, which sorts above +infinity as in PostgreSQL
//!   bytes   each 0x00 escaped as 0x00 0xFF, then the terminator 0x00 0x00
//! ```
//!
//! A descending component has every byte of its encoding (marker included) inverted,
//! which reverses its order while keeping it self-delimiting. NULL placement is chosen
//! independently through `nulls_first`: the marker is picked before inversion so that
//! NULLs land where asked.

use crate::{Result, StorageError};

/// Sort direction and NULL placement of one key component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Order {
    /// Larger values first.
    pub descending: bool,
    /// NULLs before every value.
    pub nulls_first: bool,
}

impl Order {
    /// Ascending, NULLs last: PostgreSQL's default.
    pub const ASC: Order = Order { descending: false, nulls_first: false };
    /// Descending, NULLs first: PostgreSQL's default for DESC.
    pub const DESC: Order = Order { descending: true, nulls_first: true };
}

const NULL_LOW: u8 = 0x01;
const VALUE: u8 = 0x02;
const NULL_HIGH: u8 = 0x03;

/// The marker a NULL gets, before any inversion for descending order.
fn null_marker(order: Order) -> u8 {
    // After inversion a low marker becomes high and vice versa, so a descending
    // component with NULLs first needs the marker that sorts last before inversion.
    if order.nulls_first != order.descending { NULL_LOW } else { NULL_HIGH }
}

/// Appends `payload` preceded by a value marker, inverting if descending.
fn push(buf: &mut Vec<u8>, order: Order, write: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.push(VALUE);
    write(buf);
    if order.descending {
        for b in &mut buf[start..] {
            *b = !*b;
        }
    }
}

/// Appends a NULL component.
pub fn encode_null(buf: &mut Vec<u8>, order: Order) {
    let marker = null_marker(order);
    buf.push(if order.descending { !marker } else { marker });
}

/// Appends a boolean component.
pub fn encode_bool(buf: &mut Vec<u8>, v: bool, order: Order) {
    push(buf, order, |b| b.push(u8::from(v)));
}

/// Appends a signed integer component.
pub fn encode_i64(buf: &mut Vec<u8>, v: i64, order: Order) {
    push(buf, order, |b| b.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes()));
}

/// Appends an unsigned integer component.
pub fn encode_u64(buf: &mut Vec<u8>, v: u64, order: Order) {
    push(buf, order, |b| b.extend_from_slice(&v.to_be_bytes()));
}

fn float_bits(v: f64) -> u64 {
    let v = if v == 0.0 {
        0.0
    } else if v.is_nan() {
        f64::NAN
    } else {
        v
    };
    let bits = v.to_bits();
    if bits >> 63 == 1 { !bits } else { bits ^ (1 << 63) }
}

/// Appends a float component.
pub fn encode_f64(buf: &mut Vec<u8>, v: f64, order: Order) {
    push(buf, order, |b| b.extend_from_slice(&float_bits(v).to_be_bytes()));
}

/// Appends a byte-string component.
pub fn encode_bytes(buf: &mut Vec<u8>, v: &[u8], order: Order) {
    push(buf, order, |b| {
        b.reserve(v.len() + 2);
        for &byte in v {
            b.push(byte);
            if byte == 0 {
                b.push(0xFF);
            }
        }
        b.extend_from_slice(&[0, 0]);
    });
}

/// Appends a string component (its UTF-8 bytes).
pub fn encode_str(buf: &mut Vec<u8>, v: &str, order: Order) {
    encode_bytes(buf, v.as_bytes(), order);
}

/// The smallest key greater than every key that starts with `prefix`, or `None` if no
/// such key exists (the prefix is empty or all 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Reads components back from an encoded key, in order.
#[derive(Clone, Debug)]
pub struct KeyReader<'a> {
    key: &'a [u8],
    pos: usize,
}

impl<'a> KeyReader<'a> {
    /// A reader at the start of `key`.
    pub fn new(key: &'a [u8]) -> Self {
        KeyReader { key, pos: 0 }
    }

    /// True when every component has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.key.len()
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        &self.key[self.pos.min(self.key.len())..]
    }

    fn corrupt(&self, reason: &str) -> StorageError {
        StorageError::Corrupt { path: "<key>".into(), offset: self.pos as u64, reason: reason.to_string() }
    }

    fn byte(&mut self, order: Order) -> Result<u8> {
        let b = *self.key.get(self.pos).ok_or_else(|| self.corrupt("key ends early"))?;
        self.pos += 1;
        Ok(if order.descending { !b } else { b })
    }

    /// Reads the marker: `Ok(false)` for NULL, `Ok(true)` for a value that follows.
    fn marker(&mut self, order: Order) -> Result<bool> {
        match self.byte(order)? {
            VALUE => Ok(true),
            m if m == null_marker(order) => Ok(false),
            _ => Err(self.corrupt("invalid component marker")),
        }
    }

    fn fixed<const N: usize>(&mut self, order: Order) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.byte(order)?;
        }
        Ok(out)
    }

    /// Reads a boolean component.
    pub fn read_bool(&mut self, order: Order) -> Result<Option<bool>> {
        if !self.marker(order)? {
            return Ok(None);
        }
        match self.byte(order)? {
            0 => Ok(Some(false)),
            1 => Ok(Some(true)),
            _ => Err(self.corrupt("invalid boolean")),
        }
    }

    /// Reads a signed integer component.
    pub fn read_i64(&mut self, order: Order) -> Result<Option<i64>> {
        if !self.marker(order)? {
            return Ok(None);
        }
        Ok(Some((u64::from_be_bytes(self.fixed(order)?) ^ (1 << 63)) as i64))
    }

    /// Reads an unsigned integer component.
    pub fn read_u64(&mut self, order: Order) -> Result<Option<u64>> {
        if !self.marker(order)? {
            return Ok(None);
        }
        Ok(Some(u64::from_be_bytes(self.fixed(order)?)))
    }

    /// Reads a float component.
    pub fn read_f64(&mut self, order: Order) -> Result<Option<f64>> {
        if !self.marker(order)? {
            return Ok(None);
        }
        let bits = u64::from_be_bytes(self.fixed(order)?);
        let bits = if bits >> 63 == 1 { bits ^ (1 << 63) } else { !bits };
        Ok(Some(f64::from_bits(bits)))
    }

    /// Reads a byte-string component.
    pub fn read_bytes(&mut self, order: Order) -> Result<Option<Vec<u8>>> {
        if !self.marker(order)? {
            return Ok(None);
        }
        let mut out = Vec::new();
        loop {
            match self.byte(order)? {
                0 => match self.byte(order)? {
                    0 => return Ok(Some(out)),
                    0xFF => out.push(0),
                    _ => return Err(self.corrupt("invalid escape in byte string")),
                },
                b => out.push(b),
            }
        }
    }

    /// Reads a string component.
    pub fn read_str(&mut self, order: Order) -> Result<Option<String>> {
        match self.read_bytes(order)? {
            None => Ok(None),
            Some(bytes) => {
                String::from_utf8(bytes).map(Some).map_err(|_| self.corrupt("string is not UTF-8"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    #[derive(Clone, Debug)]
    enum Component {
        Null,
        Bool(bool),
        Int(i64),
        Float(f64),
        Text(String),
    }

    /// One column of a tuple: a type, an order, and values of that type (or NULL).
    fn column() -> impl Strategy<Value = (u8, Order)> {
        (0u8..4, any::<bool>(), any::<bool>())
            .prop_map(|(t, d, n)| (t, Order { descending: d, nulls_first: n }))
    }

    fn value_of(t: u8) -> BoxedStrategy<Component> {
        let v = match t {
            0 => any::<bool>().prop_map(Component::Bool).boxed(),
            1 => any::<i64>().prop_map(Component::Int).boxed(),
            2 => prop_oneof![any::<f64>(), Just(0.0), Just(-0.0), Just(f64::NAN), Just(f64::INFINITY)]
                .prop_map(Component::Float)
                .boxed(),
            _ => "[a\\x00\\xFF]{0,6}|.{0,6}".prop_map(Component::Text).boxed(),
        };
        prop_oneof![1 => Just(Component::Null), 6 => v].boxed()
    }

    fn encode(tuple: &[Component], orders: &[Order]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (c, &o) in tuple.iter().zip(orders) {
            match c {
                Component::Null => encode_null(&mut buf, o),
                Component::Bool(b) => encode_bool(&mut buf, *b, o),
                Component::Int(i) => encode_i64(&mut buf, *i, o),
                Component::Float(f) => encode_f64(&mut buf, *f, o),
                Component::Text(s) => encode_str(&mut buf, s, o),
            }
        }
        buf
    }

    fn float_cmp(a: f64, b: f64) -> Ordering {
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        }
    }

    /// SQL ordering of two tuples under `orders`.
    fn model_cmp(a: &[Component], b: &[Component], orders: &[Order]) -> Ordering {
        for ((x, y), o) in a.iter().zip(b).zip(orders) {
            let ord = match (x, y) {
                (Component::Null, Component::Null) => Ordering::Equal,
                (Component::Null, _) => {
                    if o.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (_, Component::Null) => {
                    if o.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (x, y) => {
                    let ord = match (x, y) {
                        (Component::Bool(p), Component::Bool(q)) => p.cmp(q),
                        (Component::Int(p), Component::Int(q)) => p.cmp(q),
                        (Component::Float(p), Component::Float(q)) => float_cmp(*p, *q),
                        (Component::Text(p), Component::Text(q)) => p.as_bytes().cmp(q.as_bytes()),
                        _ => Ordering::Equal,
                    };
                    if o.descending { ord.reverse() } else { ord }
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    fn tuples() -> impl Strategy<Value = (Vec<Order>, Vec<Component>, Vec<Component>)> {
        proptest::collection::vec(column(), 1..4).prop_flat_map(|columns| {
            let orders: Vec<Order> = columns.iter().map(|c| c.1).collect();
            let values = |cols: &[(u8, Order)]| cols.iter().map(|c| value_of(c.0)).collect::<Vec<_>>();
            (Just(orders), values(&columns), values(&columns))
        })
    }

    fn decode(buf: &[u8], template: &[Component], orders: &[Order]) -> Result<Vec<Option<String>>> {
        let mut r = KeyReader::new(buf);
        let mut out = Vec::new();
        for (c, &o) in template.iter().zip(orders) {
            out.push(match c {
                Component::Bool(_) => r.read_bool(o)?.map(|v| v.to_string()),
                Component::Int(_) => r.read_i64(o)?.map(|v| v.to_string()),
                Component::Float(_) => {
                    r.read_f64(o)?.map(|v| format!("{:?}", if v == 0.0 { 0.0 } else { v }))
                }
                Component::Text(_) => r.read_str(o)?,
                Component::Null => {
                    // A NULL of any type reads back as NULL.
                    r.read_i64(o)?.map(|v| v.to_string())
                }
            });
        }
        assert!(r.is_empty(), "trailing bytes after decoding");
        Ok(out)
    }

    fn show(c: &Component) -> Option<String> {
        match c {
            Component::Null => None,
            Component::Bool(b) => Some(b.to_string()),
            Component::Int(i) => Some(i.to_string()),
            Component::Float(f) => Some(format!(
                "{:?}",
                if *f == 0.0 {
                    0.0
                } else if f.is_nan() {
                    f64::NAN
                } else {
                    *f
                }
            )),
            Component::Text(s) => Some(s.clone()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn byte_order_is_sql_order((orders, a, b) in tuples()) {
            let (ea, eb) = (encode(&a, &orders), encode(&b, &orders));
            prop_assert_eq!(ea.cmp(&eb), model_cmp(&a, &b, &orders), "{:?} vs {:?}", a, b);
        }

        #[test]
        fn keys_are_prefix_free((orders, a, b) in tuples()) {
            let (ea, eb) = (encode(&a, &orders), encode(&b, &orders));
            if ea != eb {
                prop_assert!(!eb.starts_with(&ea) && !ea.starts_with(&eb));
            }
        }

        #[test]
        fn components_round_trip((orders, a, _b) in tuples()) {
            let decoded = decode(&encode(&a, &orders), &a, &orders);
            prop_assert!(decoded.is_ok());
            let expected: Vec<Option<String>> = a.iter().map(show).collect();
            prop_assert_eq!(decoded.ok(), Some(expected));
        }

        #[test]
        fn malformed_keys_are_errors_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..24), order in column()) {
            let o = order.1;
            let mut r = KeyReader::new(&bytes);
            let _ = r.read_str(o);
            let mut r = KeyReader::new(&bytes);
            let _ = r.read_i64(o);
            let mut r = KeyReader::new(&bytes);
            let _ = r.read_f64(o);
            let mut r = KeyReader::new(&bytes);
            let _ = r.read_bool(o);
        }
    }

    #[test]
    fn prefix_end_skips_trailing_ff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(&[]), None);
    }
}
