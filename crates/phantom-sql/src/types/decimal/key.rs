//! An order-preserving byte form of a decimal's value, for primary keys and indexes.
//!
//! Bytes compare the way the values do (a shorter string that is a prefix of a longer one
//! sorts first), and equal values give equal bytes whatever their display scale: 1.5 and
//! 1.50 are the same key. The value is written as a sign, a decimal exponent and the
//! significant digits, like scientific notation:
//!
//! ```text
//!   zero      0x02
//!   positive  0x03  (E + 64)        (d1 + 1) (d2 + 1) ... (dn + 1)
//!   negative  0x01  (255 - (E + 64)) (254 - d1) ... (254 - dn)  0xFF
//! ```
//!
//! where the value is `±0.d1 d2 ... dn × 10^E` with `d1 != 0` and `dn != 0` (at most 38
//! digits, so E lies in -37..=38). A larger exponent means a larger magnitude; after that
//! the digits decide, and for equal leading digits the longer string is the larger
//! magnitude. Negative values invert every byte of that so larger magnitudes sort first,
//! and end with 0xFF, above any inverted digit, so that -0.12 still sorts after -0.123.
//! No byte is 0x00, so the byte-string component that carries this form in a key
//! (`keycode::encode_bytes`) never needs to escape.

use super::{Decimal, MAX_DIGITS};

const NEGATIVE: u8 = 0x01;
const ZERO: u8 = 0x02;
const POSITIVE: u8 = 0x03;
const EXPONENT_BIAS: i32 = 64;
const NEGATIVE_END: u8 = 0xFF;

impl Decimal {
    /// The order-preserving bytes of the value.
    pub fn to_key_bytes(&self) -> Vec<u8> {
        if self.coef == 0 {
            return vec![ZERO];
        }
        let text = self.magnitude().to_string();
        let exponent = text.len() as i32 - i32::from(self.scale);
        let digits = text.trim_end_matches('0').bytes().map(|b| b - b'0');
        let mut out = Vec::with_capacity(text.len() + 3);
        let biased = (exponent + EXPONENT_BIAS) as u8; // -37..=38 biased: 27..=102
        if self.is_negative() {
            out.push(NEGATIVE);
            out.push(255 - biased);
            out.extend(digits.map(|d| 254 - d));
            out.push(NEGATIVE_END);
        } else {
            out.push(POSITIVE);
            out.push(biased);
            out.extend(digits.map(|d| d + 1));
        }
        out
    }

    /// The value back from [`Decimal::to_key_bytes`], at the smallest scale that holds it;
    /// `None` if the bytes are not such a form.
    pub fn from_key_bytes(bytes: &[u8]) -> Option<Decimal> {
        let (&sign, rest) = bytes.split_first()?;
        let (negative, biased, digits) = match sign {
            ZERO if rest.is_empty() => return Some(Decimal::default()),
            POSITIVE => {
                let (&e, digits) = rest.split_first()?;
                let digits: Option<Vec<u8>> =
                    digits.iter().map(|&b| b.checked_sub(1).filter(|&d| d <= 9)).collect();
                (false, e, digits?)
            }
            NEGATIVE => {
                let (&e, rest) = rest.split_first()?;
                let (&end, digits) = rest.split_last()?;
                if end != NEGATIVE_END {
                    return None;
                }
                let digits: Option<Vec<u8>> =
                    digits.iter().map(|&b| 254u8.checked_sub(b).filter(|&d| d <= 9)).collect();
                (true, 255 - e, digits?)
            }
            _ => return None,
        };
        let max = usize::from(MAX_DIGITS);
        if digits.is_empty() || digits.len() > max || digits.first() == Some(&0) || digits.last() == Some(&0)
        {
            return None;
        }
        let exponent = i32::from(biased) - EXPONENT_BIAS;
        let scale = digits.len() as i32 - exponent;
        // A whole number keeps its trailing zeros in the coefficient.
        let (zeros, scale) = if scale < 0 { (scale.unsigned_abs() as usize, 0) } else { (0, scale) };
        if digits.len() + zeros > max || scale > i32::from(MAX_DIGITS) {
            return None;
        }
        let magnitude = digits
            .iter()
            .copied()
            .chain(std::iter::repeat_n(0, zeros))
            .fold(0i128, |acc, d| acc * 10 + i128::from(d));
        Decimal::new(if negative { -magnitude } else { magnitude }, scale as u8).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phantom_storage::keycode::{self, KeyReader, Order};
    use proptest::prelude::*;

    /// Decimals over the whole range, biased toward small scales and magnitudes so that
    /// ties and near-ties between different representations are common.
    fn decimal() -> impl Strategy<Value = Decimal> {
        let coef = prop_oneof![
            -1000i128..1000,
            any::<i64>().prop_map(i128::from),
            (-(10i128.pow(38)) + 1)..10i128.pow(38),
        ];
        (coef, prop_oneof![0u8..4, 0u8..=38]).prop_map(|(c, s)| Decimal::new(c, s).expect("in range"))
    }

    fn key(d: &Decimal, order: Order) -> Vec<u8> {
        let mut out = Vec::new();
        keycode::encode_bytes(&mut out, &d.to_key_bytes(), order);
        out
    }

    proptest! {
        #[test]
        fn key_order_is_value_order(a in decimal(), b in decimal()) {
            prop_assert_eq!(key(&a, Order::ASC).cmp(&key(&b, Order::ASC)), a.cmp(&b));
            prop_assert_eq!(key(&a, Order::DESC).cmp(&key(&b, Order::DESC)), b.cmp(&a));
        }

        #[test]
        fn key_order_holds_for_shared_digit_prefixes(a in decimal(), digit in 0i128..10) {
            // b continues a's digits by one more (-0.12 and -0.123): the longer digit
            // string is the larger magnitude, the case a terminator must get right.
            let extended = a.coefficient().checked_mul(10).map(|c| c + a.coefficient().signum() * digit);
            if let Some(b) = extended.and_then(|c| Decimal::new(c, a.scale() + 1).ok()) {
                prop_assert_eq!(key(&a, Order::ASC).cmp(&key(&b, Order::ASC)), a.cmp(&b));
                prop_assert_eq!(key(&a, Order::DESC).cmp(&key(&b, Order::DESC)), b.cmp(&a));
            }
        }

        #[test]
        fn keys_decode_to_the_value(a in decimal()) {
            let decoded = Decimal::from_key_bytes(&a.to_key_bytes());
            prop_assert_eq!(decoded, Some(a));
            let encoded = key(&a, Order::DESC);
            let mut reader = KeyReader::new(&encoded);
            let bytes = reader.read_bytes(Order::DESC).ok().flatten();
            prop_assert_eq!(bytes.and_then(|b| Decimal::from_key_bytes(&b)), Some(a));
        }

        #[test]
        fn other_scales_give_the_same_key(a in decimal(), extra in 0u8..10) {
            if let Ok(wider) = a.round_to(i32::from(a.scale()) + i32::from(extra), super::super::Rounding::TowardZero) {
                prop_assert_eq!(wider.to_key_bytes(), a.to_key_bytes());
            }
        }

        #[test]
        fn garbage_is_rejected_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..45)) {
            if let Some(d) = Decimal::from_key_bytes(&bytes) {
                prop_assert_eq!(d.to_key_bytes(), bytes);
            }
        }
    }

    #[test]
    fn known_forms() {
        let d = |s: &str| s.parse::<Decimal>().expect("parse");
        assert_eq!(d("0").to_key_bytes(), vec![ZERO]);
        assert_eq!(d("0.000").to_key_bytes(), vec![ZERO]);
        assert_eq!(d("1.50").to_key_bytes(), d("1.5").to_key_bytes());
        assert_eq!(d("100").to_key_bytes(), vec![POSITIVE, 64 + 3, 2]);
        assert_eq!(
            Decimal::from_key_bytes(&d("100").to_key_bytes()).map(|v| v.to_string()),
            Some("100".into())
        );
        assert_eq!(
            Decimal::from_key_bytes(&d("-0.0120").to_key_bytes()).map(|v| v.to_string()),
            Some("-0.012".into())
        );
        assert!(d("-0.12") > d("-0.123"));
        assert!(key(&d("-0.12"), Order::ASC) > key(&d("-0.123"), Order::ASC));
    }
}
