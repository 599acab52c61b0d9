//! Exact decimal numbers: the values of NUMERIC and DECIMAL columns.
//!
//! # Representation
//!
//! A [`Decimal`] is an `i128` *coefficient* and a `u8` *scale*; its value is
//! `coefficient / 10^scale`. The scale is also the *display scale*, PostgreSQL's `dscale`:
//! `1.50` is `(150, 2)` and prints with both fractional digits, while equality, order and
//! hashing go by value, so `1.50 = 1.5`.
//!
//! The coefficient holds at most 38 digits (below 10^38) and the scale is at most 38, the
//! limits of DuckDB's `DECIMAL(38)`. PostgreSQL's `numeric` goes much further (131072
//! digits before the point); we trade that for a value that is `Copy`, two machine words,
//! with native 128-bit addition and comparison, and arithmetic a few hundred lines can get
//! right. A value that needs more than 38 digits is an error, 22003
//! `numeric_value_out_of_range`, never a silently wrong number. The one exception is where
//! an operation itself invents fractional digits: a product or quotient whose exact value
//! needs more than 38 digits keeps as many fractional digits as fit (rounded), which is
//! what division always does anyway. NaN and infinities, which PostgreSQL's `numeric`
//! also has, are not supported (0A000).
//!
//! # Arithmetic
//!
//! The rules are PostgreSQL's ([`arith`]): a sum or difference has the larger scale of its
//! operands, a product the sum of their scales, a quotient at least 16 significant digits
//! (`select_div_scale`). Rounding is half away from zero everywhere (division, `round`,
//! casts to integers, NUMERIC(p,s) columns), as PostgreSQL rounds numerics. Intermediate
//! results wider than 128 bits are computed exactly in 256 bits ([`wide`]).
//!
//! # Keys
//!
//! [`key`] gives an order-preserving byte string of the *value* (1.5 and 1.50 encode
//! alike), so NUMERIC columns work in primary keys and indexes. The display scale is not
//! in the key; the row keeps the full value (see `encoding`).

mod arith;
pub mod key;
mod wide;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use wide::U256;

use crate::error::{Error, Result, SqlState};

/// The most significant digits a decimal holds, and the largest scale.
pub const MAX_DIGITS: u8 = 38;

/// Coefficients stay below this: 10^38.
const LIMIT: u128 = 100_000_000_000_000_000_000_000_000_000_000_000_000;

/// 10^k for k <= 38.
fn pow10(k: u32) -> u128 {
    10u128.pow(k.min(38))
}

/// Number of decimal digits of `v` (0 for zero).
fn digits(v: u128) -> u32 {
    if v == 0 { 0 } else { v.ilog10() + 1 }
}

/// The error for a value that does not fit in 38 digits.
pub fn overflow() -> Error {
    Error::new(SqlState::NumericValueOutOfRange, "value overflows numeric format")
        .with_detail(format!("A NUMERIC value holds at most {MAX_DIGITS} digits."))
}

/// An exact decimal number: `coefficient / 10^scale`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Decimal {
    coef: i128,
    scale: u8,
}

/// How [`Decimal::round_to`] treats the digits it drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// To the nearest; a half goes away from zero (`round`, casts, NUMERIC(p,s)).
    HalfAwayFromZero,
    /// Drop them (`trunc`).
    TowardZero,
    /// Toward negative infinity (`floor`).
    Floor,
    /// Toward positive infinity (`ceil`).
    Ceiling,
}

impl Decimal {
    /// `coefficient / 10^scale`, or 22003 when the coefficient has more than 38 digits or
    /// the scale is above 38.
    pub fn new(coefficient: i128, scale: u8) -> Result<Decimal> {
        if coefficient.unsigned_abs() >= LIMIT || scale > MAX_DIGITS {
            return Err(overflow());
        }
        Ok(Decimal { coef: coefficient, scale })
    }

    /// The coefficient: the value's digits as an integer.
    pub fn coefficient(&self) -> i128 {
        self.coef
    }

    /// The number of digits after the decimal point.
    pub fn scale(&self) -> u8 {
        self.scale
    }

    fn magnitude(&self) -> u128 {
        self.coef.unsigned_abs()
    }

    fn is_negative(&self) -> bool {
        self.coef < 0
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        self.coef.signum() as i32
    }

    /// The absolute value, keeping the scale.
    pub fn abs(self) -> Decimal {
        Decimal { coef: self.coef.abs(), scale: self.scale }
    }

    /// Builds a decimal from a sign and an exact magnitude at `scale`. Trailing fractional
    /// zeros that do not fit are dropped (the value stays exact); anything else that does
    /// not fit is 22003.
    fn exact(negative: bool, mut magnitude: U256, mut scale: u32) -> Result<Decimal> {
        while scale > u32::from(MAX_DIGITS) || (scale > 0 && magnitude >= U256::from(LIMIT)) {
            let (q, r) = magnitude.div_rem_u128(10);
            if r != 0 {
                return Err(overflow());
            }
            magnitude = q;
            scale -= 1;
        }
        let m = magnitude.to_u128().filter(|&m| m < LIMIT).ok_or_else(overflow)?;
        let coef = m as i128; // m < 10^38 < 2^127
        Ok(Decimal { coef: if negative { -coef } else { coef }, scale: scale as u8 })
    }

    /// Builds a decimal from a sign and a magnitude at `scale` that may carry more digits
    /// than fit: the result has at most `max_scale` fractional digits and at most 38
    /// digits in all, rounded half away from zero. `magnitude` may be a truncation of the
    /// true value at `scale` (rounding half away from zero only looks at the first digit
    /// dropped, which truncation below it cannot change). An integer part of more than 38
    /// digits is 22003.
    fn rounded(negative: bool, magnitude: U256, scale: u32, max_scale: u32) -> Result<Decimal> {
        let mut target = scale.min(max_scale).min(u32::from(MAX_DIGITS));
        let kept = magnitude.decimal_digits().saturating_sub(scale - target);
        if kept > u32::from(MAX_DIGITS) {
            let excess = kept - u32::from(MAX_DIGITS);
            if excess > target {
                return Err(overflow());
            }
            target -= excess;
        }
        let (mut q, round_up) = div_pow10(magnitude, scale - target);
        if round_up {
            q = q.checked_add(U256::from(1u128)).ok_or_else(overflow)?;
        }
        // Rounding up may carry into a 39th digit (99.99 -> 100.0); one digit fewer after
        // the point makes room, and that digit is a zero.
        if q == U256::from(LIMIT) && target > 0 {
            q = U256::from(LIMIT / 10);
            target -= 1;
        }
        Decimal::exact(negative, q, target)
    }

    /// The same value with trailing fractional zeros removed (1.500 -> 1.5).
    pub fn normalized(self) -> Decimal {
        let mut d = self;
        while d.scale > 0 && d.coef % 10 == 0 {
            d.coef /= 10;
            d.scale -= 1;
        }
        d
    }

    /// Digits before the decimal point (0 for values below one).
    pub fn integer_digits(&self) -> u32 {
        digits(self.magnitude()).saturating_sub(u32::from(self.scale))
    }

    /// The value rounded to `scale` fractional digits (a negative `scale` rounds to tens,
    /// hundreds, ...). The result's scale is `max(scale, 0)`, except that zeros appended to
    /// reach a larger scale stop where 38 digits are full (the value is the same).
    pub fn round_to(self, scale: i32, mode: Rounding) -> Result<Decimal> {
        // Below -77 every answer is the same (zero, or overflow): keeps the arithmetic small.
        let scale = scale.max(-2 * i32::from(MAX_DIGITS) - 1);
        let current = i32::from(self.scale);
        if scale >= current {
            let room = i32::from(MAX_DIGITS) - digits(self.magnitude()) as i32;
            let pad = (scale - current).min(room).min(i32::from(MAX_DIGITS) - current).max(0);
            let coef = self.coef * pow10(pad as u32) as i128; // fits: room was checked
            return Ok(Decimal { coef, scale: (current + pad) as u8 });
        }
        let drop = (current - scale) as u32;
        let magnitude = self.magnitude();
        let (q, rem, half) = if drop > u32::from(MAX_DIGITS) {
            (0, magnitude, false)
        } else {
            let p = pow10(drop);
            (magnitude / p, magnitude % p, magnitude % p >= p / 2)
        };
        let up = match mode {
            Rounding::HalfAwayFromZero => half,
            Rounding::TowardZero => false,
            Rounding::Floor => self.is_negative() && rem != 0,
            Rounding::Ceiling => !self.is_negative() && rem != 0,
        };
        let q = q + u128::from(up);
        let (q, scale) = if scale < 0 {
            // Back to units: round(1234, -2) is 1200.
            let shift = scale.unsigned_abs();
            let wide = if q == 0 {
                Some(U256::ZERO)
            } else {
                U256::pow10(shift).and_then(|p| p.checked_mul_u128(q))
            };
            (wide.ok_or_else(overflow)?, 0)
        } else {
            (U256::from(q), scale as u32)
        };
        Decimal::exact(self.is_negative(), q, scale)
    }

    /// The value as NUMERIC(precision, scale) stores it: rounded to `scale` digits, then
    /// 22003 "numeric field overflow" if more than `precision - scale` digits remain
    /// before the point.
    pub fn apply_typmod(self, precision: u8, scale: u8) -> Result<Decimal> {
        let rounded = self.round_to(i32::from(scale), Rounding::HalfAwayFromZero)?;
        let max_integer_digits = u32::from(precision.saturating_sub(scale));
        if rounded.integer_digits() > max_integer_digits || rounded.scale != scale {
            let bound =
                if max_integer_digits == 0 { "1".to_string() } else { format!("10^{max_integer_digits}") };
            return Err(Error::new(SqlState::NumericValueOutOfRange, "numeric field overflow").with_detail(format!(
                "A field with precision {precision}, scale {scale} must round to an absolute value less than {bound}."
            )));
        }
        Ok(rounded)
    }

    /// The value rounded half away from zero to an integer, if it fits in an `i64`.
    pub fn to_i64_rounded(self) -> Option<i64> {
        let r = self.round_to(0, Rounding::HalfAwayFromZero).ok()?;
        i64::try_from(r.coef).ok()
    }

    /// The value as an `i64` if it is a whole number that fits.
    pub fn to_i64_exact(self) -> Option<i64> {
        let n = self.normalized();
        if n.scale == 0 { i64::try_from(n.coef).ok() } else { None }
    }

    /// The nearest double (correctly rounded).
    pub fn to_f64(self) -> f64 {
        const POW10: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
            1e18, 1e19, 1e20, 1e21, 1e22,
        ];
        // Both operands exact, so the one division rounds correctly.
        if self.magnitude() < 1 << 53 && usize::from(self.scale) < POW10.len() {
            return self.coef as f64 / POW10[usize::from(self.scale)];
        }
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// A double as NUMERIC, the way PostgreSQL converts it: to its 15 significant digits
    /// (so 0.1::float8 becomes exactly 0.1). NaN and infinities are 0A000.
    pub fn from_f64(v: f64) -> Result<Decimal> {
        if !v.is_finite() {
            let what = crate::types::format_float(v);
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                format!("cannot convert {what} to numeric"),
            ));
        }
        // `%.15g`: 15 significant digits, trailing fractional zeros dropped.
        let text = format!("{v:.14e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        Decimal::parse(&format!("{mantissa}e{exponent}"))
    }

    /// The double equal to this value, if one is (0.5 yes, 0.1 no).
    pub fn exact_f64(self) -> Option<f64> {
        let n = self.normalized();
        // coef / 10^s = (coef / 5^s) / 2^s: a binary fraction only if 5^s divides coef.
        let five = 5i128.pow(u32::from(n.scale));
        if n.coef % five != 0 {
            return None;
        }
        let q = n.coef / five;
        let odd = q.unsigned_abs() >> q.unsigned_abs().trailing_zeros().min(127);
        if odd >= 1 << 53 {
            return None;
        }
        // q is exactly representable, and dividing by a power of two is exact.
        Some(q as f64 / f64::from(1u32 << n.scale.min(31)) / f64::from(1u32 << n.scale.saturating_sub(31)))
    }

    /// Compares with a double exactly (no rounding of either side). NaN is above every
    /// number, as PostgreSQL orders it.
    pub fn cmp_f64(&self, f: f64) -> Ordering {
        if f.is_nan() {
            return Ordering::Less;
        }
        if f.is_infinite() {
            return if f > 0.0 { Ordering::Less } else { Ordering::Greater };
        }
        let f_sign = if f > 0.0 {
            1
        } else if f < 0.0 {
            -1
        } else {
            0
        };
        if self.signum() != f_sign {
            return self.signum().cmp(&f_sign);
        }
        if f_sign == 0 {
            return Ordering::Equal;
        }
        let magnitude = cmp_magnitude_f64(self.magnitude(), u32::from(self.scale), f.abs());
        if f_sign < 0 { magnitude.reverse() } else { magnitude }
    }

    /// Parses PostgreSQL's numeric input: `[+-]digits[.digits][e[+-]digits]`, surrounding
    /// blanks allowed. Bad syntax is 22P02; more than 38 digits is 22003.
    pub fn parse(text: &str) -> Result<Decimal> {
        let invalid = || {
            Error::new(
                SqlState::InvalidTextRepresentation,
                format!("invalid input syntax for type numeric: \"{text}\""),
            )
        };
        let s = text.trim();
        let (negative, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if matches!(body.to_ascii_lowercase().as_str(), "nan" | "infinity" | "inf") {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                format!("numeric value \"{}\" is not supported", text.trim()),
            ));
        }
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], parse_exponent(&body[i + 1..]).ok_or_else(invalid)?),
            None => (body, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return Err(invalid());
        }
        // The significant digits (no leading zeros) and the scale they sit at.
        let mut digits: Vec<u8> =
            int.bytes().chain(frac.bytes()).map(|b| b - b'0').skip_while(|&d| d == 0).collect();
        let mut scale = frac.len() as i64 - exponent;
        if digits.is_empty() {
            return Ok(Decimal { coef: 0, scale: scale.clamp(0, i64::from(MAX_DIGITS)) as u8 });
        }
        // Trailing fractional zeros that do not fit are dropped; the value is the same.
        while (scale > i64::from(MAX_DIGITS) || (scale > 0 && digits.len() > usize::from(MAX_DIGITS)))
            && digits.last() == Some(&0)
        {
            digits.pop();
            scale -= 1;
        }
        if scale < 0 {
            if digits.len() as i64 - scale > i64::from(MAX_DIGITS) {
                return Err(overflow());
            }
            digits.extend(std::iter::repeat_n(0, scale.unsigned_abs() as usize));
            scale = 0;
        }
        if scale > i64::from(MAX_DIGITS) || digits.len() > usize::from(MAX_DIGITS) {
            return Err(overflow());
        }
        let magnitude = digits.iter().fold(0i128, |acc, &d| acc * 10 + i128::from(d));
        Ok(Decimal { coef: if negative { -magnitude } else { magnitude }, scale: scale as u8 })
    }
}

/// An exponent's digits (with an optional sign), clamped far beyond any usable range so
/// that absurd exponents end as overflow (or zero) rather than as arithmetic overflow.
fn parse_exponent(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v = digits.bytes().fold(0i64, |acc, b| (acc * 10 + i64::from(b - b'0')).min(1_000_000));
    Some(if negative { -v } else { v })
}

/// `magnitude / 10^k` truncated, and whether the digits dropped are at least half a unit
/// (so that rounding half away from zero goes up).
fn div_pow10(magnitude: U256, k: u32) -> (U256, bool) {
    if k == 0 {
        return (magnitude, false);
    }
    // Drop the low digits in steps of at most 38; only the last step's remainder holds the
    // first dropped digit, which alone decides the rounding.
    let mut q = magnitude;
    let mut left = k;
    while left > u32::from(MAX_DIGITS) {
        q = q.div_rem_u128(pow10(38)).0;
        left -= 38;
    }
    let p = pow10(left);
    let (q, r) = q.div_rem_u128(p);
    (q, r >= p / 2)
}

/// Compares `magnitude / 10^scale` with the positive finite double `f`, exactly.
fn cmp_magnitude_f64(magnitude: u128, scale: u32, f: f64) -> Ordering {
    // f = m * 2^e with an integer m below 2^53.
    let bits = f.to_bits();
    let raw_exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = u128::from(bits & ((1 << 52) - 1));
    let (m, e) =
        if raw_exponent == 0 { (fraction, -1074) } else { (fraction | 1 << 52, raw_exponent - 1075) };
    let ten_s = pow10(scale);
    if e >= 0 {
        // magnitude vs m * 2^e * 10^s; m * 2^e past 2^128 exceeds every decimal.
        let e = e as u32;
        if 128 - m.leading_zeros() + e > 128 {
            return Ordering::Less;
        }
        let rhs = U256::mul_u128(m << e, ten_s);
        return U256::from(magnitude).cmp(&rhs);
    }
    // magnitude * 2^-e vs m * 10^s (below 2^180); a left side past 256 bits is larger.
    let rhs = U256::mul_u128(m, ten_s);
    match U256::from(magnitude).checked_shl(e.unsigned_abs()) {
        Some(lhs) => lhs.cmp(&rhs),
        None => Ordering::Greater,
    }
}

/// Both magnitudes lined up at the larger scale (exact in 256 bits).
fn aligned_magnitudes(a: &Decimal, b: &Decimal) -> (U256, U256) {
    let scale = a.scale.max(b.scale);
    let up = |d: &Decimal| U256::mul_u128(d.magnitude(), pow10(u32::from(scale - d.scale)));
    (up(a), up(b))
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.scale == other.scale {
            return self.coef.cmp(&other.coef);
        }
        let (a, b) = (self.signum(), other.signum());
        if a != b || a == 0 {
            return a.cmp(&b);
        }
        let (x, y) = aligned_magnitudes(self, other);
        if a < 0 { y.cmp(&x) } else { x.cmp(&y) }
    }
}

impl Hash for Decimal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let n = self.normalized();
        (n.coef, n.scale).hash(state);
    }
}

/// Flips the sign (never overflows: the range is symmetric).
impl std::ops::Neg for Decimal {
    type Output = Decimal;
    fn neg(self) -> Decimal {
        Decimal { coef: -self.coef, scale: self.scale }
    }
}

impl From<i64> for Decimal {
    fn from(v: i64) -> Self {
        Decimal { coef: i128::from(v), scale: 0 }
    }
}

impl From<i32> for Decimal {
    fn from(v: i32) -> Self {
        Decimal::from(i64::from(v))
    }
}

impl FromStr for Decimal {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Decimal::parse(s)
    }
}

impl fmt::Display for Decimal {
    /// PostgreSQL's output: every digit of the scale, never an exponent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.magnitude().to_string();
        let scale = usize::from(self.scale);
        if self.is_negative() {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        let padded = if digits.len() <= scale {
            format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
        } else {
            digits
        };
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{int}.{frac}")
    }
}

#[cfg(test)]
mod tests;
