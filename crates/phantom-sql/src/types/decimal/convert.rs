//! Decimals to and from text, integers and doubles, and exact comparison with doubles.
//!
//! Text is PostgreSQL's: input `[+-]digits[.digits][e[+-]digits]` (the scale is the
//! digits after the point minus the exponent), output every digit of the scale and never
//! an exponent. A double becomes a decimal through its 15 significant digits, as
//! PostgreSQL's `float8_numeric` does, and a decimal the nearest double. Comparing a
//! decimal with a double is exact (no rounding of either), so that values of the three
//! number representations form one total order for sorting, grouping and joins.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::wide::U256;
use super::{Decimal, MAX_DIGITS, Rounding, overflow, pow10};
use crate::error::{Error, Result, SqlState};

impl Decimal {
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
