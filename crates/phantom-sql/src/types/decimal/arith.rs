//! Decimal arithmetic with PostgreSQL's result scales.
//!
//! | operation | result scale | exact? |
//! |---|---|---|
//! | `a + b`, `a - b` | max(scale a, scale b) | yes, or 22003 past 38 digits |
//! | `a * b` | scale a + scale b | yes when it fits; else fractional digits are rounded away |
//! | `a / b` | PostgreSQL's `select_div_scale`: at least 16 significant digits | rounded |
//! | `a % b` | max(scale a, scale b) | yes (the sign follows `a`) |
//!
//! Each operation first tries native `i128` arithmetic and falls back to exact 256-bit
//! arithmetic ([`U256`]) when an intermediate does not fit, so answers never depend on
//! which path ran.

use super::wide::U256;
use super::{Decimal, LIMIT, MAX_DIGITS, pow10};
use crate::error::{Error, Result, SqlState};

/// PostgreSQL's `NUMERIC_MIN_SIG_DIGITS`: a quotient has at least this many significant
/// digits, so it is no less accurate than a double.
const MIN_SIG_DIGITS: i32 = 16;

/// Digits per base-10000 digit of PostgreSQL's representation; its division scale rule is
/// phrased in those.
const NBASE_DIGITS: i32 = 4;

fn division_by_zero() -> Error {
    Error::new(SqlState::DivisionByZero, "division by zero")
}

impl Decimal {
    /// `self + other`.
    pub fn checked_add(self, other: Decimal) -> Result<Decimal> {
        let scale = self.scale.max(other.scale);
        let up = |d: &Decimal| d.coef.checked_mul(pow10(u32::from(scale - d.scale)) as i128);
        if let (Some(a), Some(b)) = (up(&self), up(&other))
            && let Some(sum) = a.checked_add(b)
        {
            return Decimal::exact(sum < 0, U256::from(sum.unsigned_abs()), u32::from(scale));
        }
        let (a, b) = super::aligned_magnitudes(&self, &other);
        let (negative, magnitude) = if self.is_negative() == other.is_negative() {
            (self.is_negative(), a.checked_add(b).ok_or_else(super::overflow)?)
        } else if a >= b {
            (self.is_negative(), a.checked_sub(b).unwrap_or(U256::ZERO))
        } else {
            (other.is_negative(), b.checked_sub(a).unwrap_or(U256::ZERO))
        };
        Decimal::exact(negative, magnitude, u32::from(scale))
    }

    /// `self - other`.
    pub fn checked_sub(self, other: Decimal) -> Result<Decimal> {
        self.checked_add(-other)
    }

    /// `self * other`.
    pub fn checked_mul(self, other: Decimal) -> Result<Decimal> {
        let scale = u32::from(self.scale) + u32::from(other.scale);
        if scale <= u32::from(MAX_DIGITS)
            && let Some(product) = self.coef.checked_mul(other.coef)
            && product.unsigned_abs() < LIMIT
        {
            return Ok(Decimal { coef: product, scale: scale as u8 });
        }
        let magnitude = U256::mul_u128(self.magnitude(), other.magnitude());
        Decimal::rounded(self.is_negative() != other.is_negative(), magnitude, scale, u32::from(MAX_DIGITS))
    }

    /// `self / other`, rounded half away from zero at [`division_scale`].
    pub fn checked_div(self, other: Decimal) -> Result<Decimal> {
        if other.coef == 0 {
            return Err(division_by_zero());
        }
        let rscale = division_scale(&self, &other);
        let negative = self.is_negative() != other.is_negative();
        let (a, b) = (self.magnitude(), other.magnitude());
        // Long division, one digit at a time: after i steps q = trunc(a / b * 10^i), the
        // quotient's digits at scale i + scale(a) - scale(b). One digit past rscale is
        // enough to round; a quotient already past 40 digits is rounded (or overflows)
        // from what is there.
        let shift = i64::from(other.scale) - i64::from(self.scale);
        let steps = i64::from(rscale) + 1 + shift;
        let mut q = U256::from(a / b);
        let mut r = a % b;
        let mut i = 0;
        while i < steps && q.bits() <= 140 {
            let (digit, rem) = U256::mul_u128(r, 10).div_rem_u128(b);
            q = q.checked_mul_u128(10).and_then(|q| q.checked_add(digit)).ok_or_else(super::overflow)?;
            r = rem;
            i += 1;
        }
        let scale = i - shift;
        if scale < 0 {
            // Stopped early with the point still to the right of every digit computed:
            // the integer part alone is far past 38 digits.
            return Err(super::overflow());
        }
        Decimal::rounded(negative, q, scale as u32, rscale)
    }

    /// `self % other`: `self - trunc(self / other) * other`, exact.
    pub fn checked_rem(self, other: Decimal) -> Result<Decimal> {
        if other.coef == 0 {
            return Err(division_by_zero());
        }
        let scale = self.scale.max(other.scale);
        let up = |d: &Decimal| d.coef.checked_mul(pow10(u32::from(scale - d.scale)) as i128);
        if let (Some(a), Some(b)) = (up(&self), up(&other)) {
            // |a % b| is below both |a| and |b|, one of which was not scaled: it fits.
            return Ok(Decimal { coef: a % b, scale });
        }
        let (a, b) = super::aligned_magnitudes(&self, &other);
        let Some(b) = b.to_u128() else {
            // Only the divisor was scaled up, past 128 bits, so |self| < |other|.
            return Ok(self);
        };
        let r = a.div_rem_u128(b).1 as i128; // below b, itself a coefficient
        Ok(Decimal { coef: if self.is_negative() { -r } else { r }, scale })
    }
}

/// The weight (power of 10000) of a value's leading base-10000 digit and that digit, as
/// PostgreSQL's representation would hold them: 12345.6 is [1][2345][6000] with weight 1,
/// 0.001 is [0010] with weight -1. Zero is (0, 0).
fn nbase_lead(d: &Decimal) -> (i32, u128) {
    let magnitude = d.magnitude();
    if magnitude == 0 {
        return (0, 0);
    }
    let n = super::digits(magnitude) as i32;
    // The leading decimal digit stands for 10^p.
    let p = n - 1 - i32::from(d.scale);
    let weight = p.div_euclid(NBASE_DIGITS);
    // How many decimal digits the leading base-10000 digit spans: 1 to 4.
    let lead = p - NBASE_DIGITS * weight + 1;
    let first =
        if n >= lead { magnitude / pow10((n - lead) as u32) } else { magnitude * pow10((lead - n) as u32) };
    (weight, first)
}

/// The scale of a quotient, by PostgreSQL's `select_div_scale`: enough fractional digits
/// for 16 significant ones, and no fewer than either operand has; capped at 38.
pub fn division_scale(a: &Decimal, b: &Decimal) -> u32 {
    let (weight1, first1) = nbase_lead(a);
    let (weight2, first2) = nbase_lead(b);
    // The quotient's estimated weight; with equal leading digits assume a < b.
    let mut qweight = weight1 - weight2;
    if first1 <= first2 {
        qweight -= 1;
    }
    let rscale =
        (MIN_SIG_DIGITS - qweight * NBASE_DIGITS).max(i32::from(a.scale)).max(i32::from(b.scale)).max(0);
    (rscale as u32).min(u32::from(MAX_DIGITS))
}
