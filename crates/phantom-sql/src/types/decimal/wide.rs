//! Unsigned 256-bit integers, only as much of them as decimal arithmetic needs.
//!
//! A NUMERIC coefficient has at most 38 digits (below 2^127). Intermediate results can be
//! wider: the exact product of two coefficients has up to 76 digits, and so does a
//! coefficient rescaled by up to 38 digits to line it up with another. Both fit in 256
//! bits (10^77 < 2^256), so every exact intermediate is a `U256` and the result is then
//! rounded or checked down to 38 digits. Division by a 128-bit divisor is plain
//! shift-and-subtract long division: slow next to hardware division, but it only runs when
//! the operands are too wide for `u128`.

use std::cmp::Ordering;

/// An unsigned 256-bit integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct U256 {
    hi: u128,
    lo: u128,
}

impl PartialOrd for U256 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for U256 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.hi.cmp(&other.hi).then(self.lo.cmp(&other.lo))
    }
}

impl From<u128> for U256 {
    fn from(lo: u128) -> Self {
        U256 { hi: 0, lo }
    }
}

impl U256 {
    /// Zero.
    pub const ZERO: U256 = U256 { hi: 0, lo: 0 };

    /// The value, if it fits in 128 bits.
    pub fn to_u128(self) -> Option<u128> {
        (self.hi == 0).then_some(self.lo)
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self == U256::ZERO
    }

    /// The full product of two 128-bit numbers.
    pub fn mul_u128(a: u128, b: u128) -> U256 {
        const LOW: u128 = u64::MAX as u128;
        let (a1, a0) = (a >> 64, a & LOW);
        let (b1, b0) = (b >> 64, b & LOW);
        // Each partial product of two 64-bit halves fits in 128 bits.
        let p00 = a0 * b0;
        let p01 = a0 * b1;
        let p10 = a1 * b0;
        let p11 = a1 * b1;
        // The middle column: the high half of p00 plus the low halves of p01 and p10.
        let middle = (p00 >> 64) + (p01 & LOW) + (p10 & LOW);
        let lo = (p00 & LOW) | (middle << 64);
        let hi = p11 + (p01 >> 64) + (p10 >> 64) + (middle >> 64);
        U256 { hi, lo }
    }

    /// `self * m`, or `None` past 256 bits.
    pub fn checked_mul_u128(self, m: u128) -> Option<U256> {
        let low = U256::mul_u128(self.lo, m);
        let high = U256::mul_u128(self.hi, m);
        if high.hi != 0 {
            return None;
        }
        let hi = high.lo.checked_add(low.hi)?;
        Some(U256 { hi, lo: low.lo })
    }

    /// `self + other`, or `None` past 256 bits.
    pub fn checked_add(self, other: U256) -> Option<U256> {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        let hi = self.hi.checked_add(other.hi)?.checked_add(u128::from(carry))?;
        Some(U256 { hi, lo })
    }

    /// `self - other`, or `None` below zero.
    pub fn checked_sub(self, other: U256) -> Option<U256> {
        let (lo, borrow) = self.lo.overflowing_sub(other.lo);
        let hi = self.hi.checked_sub(other.hi)?.checked_sub(u128::from(borrow))?;
        Some(U256 { hi, lo })
    }

    /// `self << k`, or `None` if a set bit would be shifted out.
    pub fn checked_shl(self, k: u32) -> Option<U256> {
        if self.is_zero() {
            return Some(self);
        }
        if k >= 256 || self.leading_zeros() < k {
            return None;
        }
        Some(match k {
            0 => self,
            1..128 => U256 { hi: (self.hi << k) | (self.lo >> (128 - k)), lo: self.lo << k },
            _ => U256 { hi: self.lo << (k - 128), lo: 0 },
        })
    }

    fn leading_zeros(self) -> u32 {
        if self.hi == 0 { 128 + self.lo.leading_zeros() } else { self.hi.leading_zeros() }
    }

    /// Number of significant bits.
    pub fn bits(self) -> u32 {
        256 - self.leading_zeros()
    }

    fn bit(self, i: u32) -> u128 {
        if i >= 128 { (self.hi >> (i - 128)) & 1 } else { (self.lo >> i) & 1 }
    }

    /// Quotient and remainder of division by `d` (which must not be zero).
    pub fn div_rem_u128(self, d: u128) -> (U256, u128) {
        debug_assert!(d != 0, "division by zero");
        if d == 0 {
            return (U256::ZERO, 0);
        }
        if self.hi == 0 {
            return (U256::from(self.lo / d), self.lo % d);
        }
        let mut quotient = U256::ZERO;
        let mut rem: u128 = 0;
        for i in (0..self.bits()).rev() {
            // The remainder stays below d < 2^128, but shifting it left may carry one bit
            // past 128; then it certainly exceeds d, and the wrapped subtraction is exact.
            let carry = rem >> 127;
            rem = (rem << 1) | self.bit(i);
            let set = carry == 1 || rem >= d;
            if set {
                rem = rem.wrapping_sub(d);
            }
            let q = if i >= 128 { &mut quotient.hi } else { &mut quotient.lo };
            *q |= u128::from(set) << (i % 128);
        }
        (quotient, rem)
    }

    /// 10^k, or `None` past 256 bits (k > 77).
    pub fn pow10(k: u32) -> Option<U256> {
        let mut v = U256::from(1u128);
        let mut left = k;
        while left > 0 {
            let step = left.min(38);
            v = v.checked_mul_u128(10u128.pow(step))?;
            left -= step;
        }
        Some(v)
    }

    /// Number of decimal digits (1 for zero).
    pub fn decimal_digits(self) -> u32 {
        let mut n = 1;
        let mut v = self;
        // Peel 38 digits at a time while the number is wider than 128 bits.
        while v.hi != 0 {
            v = v.div_rem_u128(10u128.pow(38)).0;
            n += 38;
        }
        let mut lo = v.lo;
        while lo >= 10 {
            lo /= 10;
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn products_divide_back(a in any::<u128>(), b in 1u128..) {
            let p = U256::mul_u128(a, b);
            let (q, r) = p.div_rem_u128(b);
            prop_assert_eq!(q, U256::from(a));
            prop_assert_eq!(r, 0);
        }

        #[test]
        fn division_with_remainder(a in any::<u128>(), r in any::<u128>(), d in 1u128..) {
            // n = a * d + r' with r' < d: the division must give back a and r'.
            let rem = r % d;
            let n = U256::mul_u128(a, d).checked_add(U256::from(rem));
            if let Some(n) = n {
                prop_assert_eq!(n.div_rem_u128(d), (U256::from(a), rem));
            }
        }

        #[test]
        fn small_values_match_u128(a in any::<u64>(), b in any::<u64>()) {
            let (a, b) = (u128::from(a), u128::from(b));
            prop_assert_eq!(U256::mul_u128(a, b).to_u128(), Some(a * b));
            prop_assert_eq!(U256::from(a).checked_add(U256::from(b)).and_then(U256::to_u128), Some(a + b));
            prop_assert_eq!(U256::from(a).cmp(&U256::from(b)), a.cmp(&b));
        }
    }

    #[test]
    fn powers_of_ten_and_digits() {
        assert_eq!(U256::pow10(0), Some(U256::from(1u128)));
        assert_eq!(U256::pow10(38).and_then(U256::to_u128), Some(10u128.pow(38)));
        assert!(U256::pow10(77).is_some());
        assert!(U256::pow10(78).is_none());
        assert_eq!(U256::ZERO.decimal_digits(), 1);
        assert_eq!(U256::from(9u128).decimal_digits(), 1);
        assert_eq!(U256::from(10u128).decimal_digits(), 2);
        assert_eq!(U256::pow10(76).map(U256::decimal_digits), Some(77));
        let max = U256::pow10(76).and_then(|p| p.checked_sub(U256::from(1u128)));
        assert_eq!(max.map(U256::decimal_digits), Some(76));
    }

    #[test]
    fn overflow_is_reported() {
        let big = U256::pow10(77).expect("fits");
        assert!(big.checked_mul_u128(10).is_none());
        assert!(big.checked_add(big).is_none());
        assert!(U256::from(1u128).checked_shl(255).is_some());
        assert!(U256::from(2u128).checked_shl(255).is_none());
        assert!(U256::ZERO.checked_sub(U256::from(1u128)).is_none());
    }
}
