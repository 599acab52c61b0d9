//! Run-time values.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use super::datetime::{self, Interval};
use super::{DataType, Decimal};

/// One SQL datum.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    /// SQL NULL.
    Null,
    /// A BOOLEAN.
    Boolean(bool),
    /// Any integer type (SMALLINT, INTEGER, BIGINT).
    Int(i64),
    /// Any float type (REAL, DOUBLE PRECISION).
    Float(f64),
    /// NUMERIC: an exact decimal with its display scale.
    Numeric(Decimal),
    /// Any string type (TEXT, VARCHAR, CHAR).
    Text(String),
    /// BYTEA: a byte string.
    Bytes(Vec<u8>),
    /// DATE: days since 1970-01-01.
    Date(i64),
    /// TIME: microseconds since midnight.
    Time(i64),
    /// TIMESTAMP: microseconds since 1970-01-01 00:00:00.
    Timestamp(i64),
    /// TIMESTAMP WITH TIME ZONE: microseconds since 1970-01-01 00:00:00 UTC.
    TimestampTz(i64),
    /// INTERVAL.
    Interval(Interval),
}

impl Value {
    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The natural type of the value, used where no declared type is at hand.
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Null => DataType::Null,
            Value::Boolean(_) => DataType::Boolean,
            Value::Int(_) => DataType::BigInt,
            Value::Float(_) => DataType::Double,
            Value::Numeric(_) => DataType::Numeric(None),
            Value::Text(_) => DataType::Text,
            Value::Bytes(_) => DataType::Bytea,
            Value::Date(_) => DataType::Date,
            Value::Time(_) => DataType::Time,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::TimestampTz(_) => DataType::TimestampTz,
            Value::Interval(_) => DataType::Interval,
        }
    }

    /// SQL comparison: `None` if either side is NULL (the result is unknown). Integers,
    /// decimals and floats compare by their exact values (1 = 1.0, 1.5 = 1.50); NaN is
    /// equal to itself and greater than every other number, as in PostgreSQL.
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            _ => Some(self.total_cmp(other)),
        }
    }

    /// A total order over values for sorting and grouping: NULL sorts after everything
    /// (callers handle NULLS FIRST/LAST themselves), then booleans, numbers, strings.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Null, _) => Ordering::Greater,
            (_, Null) => Ordering::Less,
            (Boolean(a), Boolean(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => float_cmp(*a, *b),
            (Int(a), Float(b)) => float_cmp(*a as f64, *b).then_with(|| int_float_tie(*a, *b)),
            (Float(a), Int(b)) => float_cmp(*a, *b as f64).then_with(|| int_float_tie(*b, *a).reverse()),
            (Numeric(a), Numeric(b)) => a.cmp(b),
            (Numeric(a), Int(b)) => a.cmp(&Decimal::from(*b)),
            (Int(a), Numeric(b)) => Decimal::from(*a).cmp(b),
            (Numeric(a), Float(b)) => a.cmp_f64(*b),
            (Float(a), Numeric(b)) => b.cmp_f64(*a).reverse(),
            (Text(a), Text(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Date(a), Date(b)) | (Time(a), Time(b)) => a.cmp(b),
            (Timestamp(a) | TimestampTz(a), Timestamp(b) | TimestampTz(b)) => a.cmp(b),
            // A date is midnight of its day when compared with a timestamp.
            (Date(_), Timestamp(_) | TimestampTz(_)) | (Timestamp(_) | TimestampTz(_), Date(_)) => {
                self.temporal_key().cmp(&other.temporal_key())
            }
            (Interval(a), Interval(b)) => a.approximate_micros().cmp(&b.approximate_micros()),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Boolean(_) => 0,
            Value::Int(_) | Value::Float(_) | Value::Numeric(_) => 1,
            Value::Text(_) => 2,
            Value::Bytes(_) => 3,
            Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => 4,
            Value::Time(_) => 5,
            Value::Interval(_) => 6,
            Value::Null => 7,
        }
    }
}

/// Floats compared with NaN equal to itself and above everything else.
fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        // -0.0 and 0.0 are equal in SQL.
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Breaks a tie between an integer and a float that round to the same f64 (large integers
/// lose precision when converted), so that the order stays exact. Such a float is a whole
/// number within ±2^63, so `f as i128` is exact.
fn int_float_tie(i: i64, f: f64) -> Ordering {
    if !f.is_finite() {
        return Ordering::Equal;
    }
    i128::from(i).cmp(&(f as i128))
}

/// True if `f` is a whole number in the range of `i64` (so `f as i64` is exact).
fn is_i64_valued(f: f64) -> bool {
    f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

impl Value {
    /// What a date or time value compares by: equal keys for equal values (a DATE equals
    /// the TIMESTAMP of its midnight; intervals compare by length).
    fn temporal_key(&self) -> Option<(u8, i128)> {
        Some(match self {
            // The infinities of dates and timestamps are equal to each other.
            Value::Date(datetime::calendar::DATE_INFINITY)
            | Value::Timestamp(datetime::calendar::TIMESTAMP_INFINITY)
            | Value::TimestampTz(datetime::calendar::TIMESTAMP_INFINITY) => (5, i128::MAX),
            Value::Date(datetime::calendar::DATE_NEG_INFINITY)
            | Value::Timestamp(datetime::calendar::TIMESTAMP_NEG_INFINITY)
            | Value::TimestampTz(datetime::calendar::TIMESTAMP_NEG_INFINITY) => (5, i128::MIN),
            Value::Date(d) => (5, i128::from(*d) * i128::from(datetime::DAY)),
            Value::Timestamp(t) | Value::TimestampTz(t) => (5, i128::from(*t)),
            Value::Time(t) => (6, i128::from(*t)),
            Value::Interval(i) => (7, i.approximate_micros()),
            _ => return None,
        })
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Equal values must hash equally, so numbers hash by their value whether they are
        // carried as Int, Float or Numeric: a whole number in i64's range as that i64, any
        // other value a double holds exactly as the double's bits, the rest (decimals no
        // double equals) by their normalized digits.
        match self {
            Value::Null => 0u8.hash(state),
            Value::Boolean(b) => {
                1u8.hash(state);
                b.hash(state);
            }
            Value::Int(i) => {
                2u8.hash(state);
                i.hash(state);
            }
            Value::Float(f) => {
                2u8.hash(state);
                if f.is_nan() {
                    u64::MAX.hash(state);
                } else if is_i64_valued(*f) {
                    (*f as i64).hash(state);
                } else {
                    f.to_bits().hash(state);
                }
            }
            Value::Numeric(d) => {
                2u8.hash(state);
                if let Some(i) = d.to_i64_exact() {
                    i.hash(state);
                } else if let Some(f) = d.exact_f64() {
                    f.to_bits().hash(state);
                } else {
                    d.hash(state);
                }
            }
            Value::Bytes(b) => {
                4u8.hash(state);
                b.hash(state);
            }
            Value::Date(_)
            | Value::Timestamp(_)
            | Value::TimestampTz(_)
            | Value::Time(_)
            | Value::Interval(_) => {
                self.temporal_key().hash(state);
            }
            Value::Text(s) => {
                3u8.hash(state);
                s.hash(state);
            }
        }
    }
}

impl fmt::Display for Value {
    /// PostgreSQL's text output format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Boolean(true) => f.write_str("t"),
            Value::Boolean(false) => f.write_str("f"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&format_float(*x)),
            Value::Numeric(d) => write!(f, "{d}"),
            Value::Text(s) => f.write_str(s),
            // In the session's DateStyle, IntervalStyle and TimeZone while a statement
            // runs (see `datetime::settings`), else in the defaults.
            Value::Date(d) => f.write_str(&datetime::format_date(*d)),
            Value::Time(t) => f.write_str(&datetime::format_time(*t)),
            Value::Timestamp(t) => f.write_str(&datetime::format_timestamp(*t)),
            Value::TimestampTz(t) => f.write_str(&datetime::format_timestamptz(*t)),
            Value::Interval(i) => f.write_str(&datetime::format_interval(i)),
            // PostgreSQL's hex output format.
            Value::Bytes(b) => {
                f.write_str("\\x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
        }
    }
}

/// Formats a float the way PostgreSQL prints a double: shortest round-trip digits,
/// `NaN`, `Infinity`, `-Infinity`, and exponent notation for very large or small values.
pub fn format_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-4..15).contains(&exp) {
        // Shortest digits in scientific form, then PostgreSQL's "e+NN" style.
        let s = format!("{x:e}");
        match s.split_once('e') {
            Some((mantissa, e)) => {
                let e: i32 = e.parse().unwrap_or(0);
                let sign = if e < 0 { '-' } else { '+' };
                format!("{mantissa}e{sign}{:02}", e.abs())
            }
            None => s,
        }
    } else {
        format!("{x}")
    }
}

/// Formats a REAL the way PostgreSQL prints one: the shortest digits that round-trip
/// through its 32-bit value (0.1, not the 0.10000000149011612 of the double it is carried
/// in), with exponent notation from 1e+06 up or below 1e-04.
pub fn format_real(x: f64) -> String {
    let r = x as f32;
    if !r.is_finite() || r == 0.0 {
        return format_float(x);
    }
    let scientific = format!("{r:e}");
    let Some((mantissa, exp)) = scientific.split_once('e') else { return scientific };
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{r}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

impl Value {
    /// PostgreSQL's text output of this value as a value of type `ty`: its `Display`,
    /// except that a REAL prints as its 32-bit value does ([`format_real`]).
    pub fn text_as(&self, ty: DataType) -> String {
        match (self, ty) {
            (Value::Float(x), DataType::Real) => format_real(*x),
            (v, _) => v.to_string(),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<Decimal> for Value {
    fn from(v: Decimal) -> Self {
        Value::Numeric(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_across_representations() {
        assert_eq!(Value::Int(2).sql_cmp(&Value::Float(2.5)), Some(Ordering::Less));
        assert_eq!(Value::Float(3.0), Value::Int(3));
        assert_eq!(Value::Int(1).sql_cmp(&Value::Null), None);
        assert!(Value::Float(f64::NAN) > Value::Float(f64::INFINITY));
        // 2^53 + 1 is not representable as f64; the tie-break keeps the order exact.
        assert!(Value::Int((1 << 53) + 1) > Value::Float((1u64 << 53) as f64));
        assert!(Value::Int(i64::MAX) < Value::Float(9_223_372_036_854_775_808.0));
    }

    fn num(s: &str) -> Value {
        Value::Numeric(s.parse().expect("decimal"))
    }

    fn hash_of(v: &Value) -> u64 {
        use std::collections::hash_map::DefaultHasher;
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    #[test]
    fn decimals_equal_ints_and_floats_of_the_same_value_and_hash_alike() {
        let groups = [
            vec![num("1.5"), num("1.50"), Value::Float(1.5)],
            vec![num("1"), num("1.000"), Value::Int(1), Value::Float(1.0)],
            vec![num("0"), num("0.00"), Value::Int(0), Value::Float(-0.0)],
            vec![num("-9223372036854775808"), Value::Int(i64::MIN), Value::Float(i64::MIN as f64)],
            vec![num("100000000000000000000"), Value::Float(1e20)],
            vec![num("0.1"), num("0.10")],
        ];
        for group in &groups {
            for a in group {
                for b in group {
                    assert_eq!(a, b, "{a:?} = {b:?}");
                    assert_eq!(hash_of(a), hash_of(b), "hash {a:?} = {b:?}");
                }
            }
        }
        assert_ne!(num("0.1"), Value::Float(0.1));
        assert!(num("0.1") < Value::Float(0.1));
        assert!(num("2.5") > Value::Int(2));
        assert!(Value::Float(f64::NAN) > num("99999999999999999999999999999999999999"));
        assert_eq!(num("1.50").to_string(), "1.50");
    }

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(format_float(2.0), "2");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(1e20), "1e+20");
        assert_eq!(format_float(1.5e-7), "1.5e-07");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn reals_print_their_32_bit_digits() {
        assert_eq!(format_real(f64::from(0.1f32)), "0.1");
        assert_eq!(format_real(f64::from(123456.0f32)), "123456");
        assert_eq!(format_real(f64::from(1234567.0f32)), "1.234567e+06");
        assert_eq!(format_real(f64::from(1.5e-5f32)), "1.5e-05");
        assert_eq!(format_real(f64::from(-2.5f32)), "-2.5");
        assert_eq!(format_real(f64::NAN), "NaN");
        assert_eq!(Value::Float(f64::from(0.1f32)).text_as(DataType::Real), "0.1");
        assert_eq!(Value::Float(0.1).text_as(DataType::Double), "0.1");
    }
}
