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
//! what division always does anyway. Trailing fractional zeros that do not fit are
//! dropped, since the value stays the same. NaN and infinities, which PostgreSQL's
//! `numeric` also has, are not supported (0A000).
//!
//! # Arithmetic
//!
//! The rules are PostgreSQL's ([`arith`]): a sum or difference has the larger scale of its
//! operands, a product the sum of their scales, a quotient at least 16 significant digits
//! (`select_div_scale`). Rounding is half away from zero everywhere (division, `round`,
//! casts to integers, NUMERIC(p,s) columns), as PostgreSQL rounds numerics. Intermediate
//! results wider than 128 bits are computed exactly in 256 bits ([`wide`]).
//!
//! # Conversions
//!
//! [`convert`] reads and prints PostgreSQL's text form, converts to and from integers
//! (rounding half away from zero) and doubles (through 15 significant digits, as
//! PostgreSQL does), and compares with doubles exactly.
//!
//! # Keys
//!
//! [`key`] gives an order-preserving byte string of the *value* (1.5 and 1.50 encode
//! alike), so NUMERIC columns work in primary keys and indexes. The display scale is not
//! in the key; the row keeps the full value (see `encoding`).

mod arith;
mod convert;
mod key;
mod wide;

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

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

#[cfg(test)]
mod tests;
