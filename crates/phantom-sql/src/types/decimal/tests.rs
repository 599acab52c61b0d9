use std::cmp::Ordering;

use proptest::prelude::*;

use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn text(r: Result<Decimal>) -> String {
    match r {
        Ok(v) => v.to_string(),
        Err(e) => format!("ERROR {}", e.sqlstate()),
    }
}

#[test]
fn parses_and_prints_like_postgres() {
    let cases = [
        ("1.50", "1.50"),
        (".25", "0.25"),
        ("3.", "3"),
        ("-0.0", "0.0"),
        ("  42  ", "42"),
        ("+7", "7"),
        ("007.100", "7.100"),
        ("1e3", "1000"),
        ("1.5E-3", "0.0015"),
        ("1.50e1", "15.0"),
        ("0e-5", "0.00000"),
        ("-12345678901234567890.123456789012345678", "-12345678901234567890.123456789012345678"),
        ("99999999999999999999999999999999999999", "99999999999999999999999999999999999999"),
        ("0.00000000000000000000000000000000000001", "0.00000000000000000000000000000000000001"),
        // Trailing zeros that do not fit in 38 digits are dropped: the value is unchanged.
        ("1.00000000000000000000000000000000000000000", "1.0000000000000000000000000000000000000"),
        ("0.000000000000000000000000000000000000010000", "0.00000000000000000000000000000000000001"),
    ];
    for (input, shown) in cases {
        assert_eq!(d(input).to_string(), shown, "{input}");
    }
}

#[test]
fn bad_input_is_22p02_and_too_many_digits_22003() {
    for bad in ["", "abc", "1.2.3", "1e", "e5", "--1", ".", "1 2", "0x10", "1e+"] {
        let e = Decimal::parse(bad).expect_err(bad);
        assert_eq!(e.sqlstate(), "22P02", "{bad}");
    }
    for big in [
        "100000000000000000000000000000000000000",
        "1e38",
        "0.000000000000000000000000000000000000001",
        "1e-39",
    ] {
        let e = Decimal::parse(big).expect_err(big);
        assert_eq!(e.sqlstate(), "22003", "{big}");
    }
    assert_eq!(Decimal::parse("NaN").map_err(|e| e.sqlstate().to_string()), Err("0A000".to_string()));
    // Absurd exponents are errors, not hangs or huge allocations.
    assert_eq!(text(Decimal::parse("1e999999999999999999999")), "ERROR 22003");
    assert_eq!(text(Decimal::parse("1e-999999999999999999999")), "ERROR 22003");
    assert_eq!(text(Decimal::parse("0e999999999999")), "0");
}

#[test]
fn sums_are_exact_with_the_larger_scale() {
    assert_eq!(text(d("0.1").checked_add(d("0.2"))), "0.3");
    assert_eq!(text(d("1.5").checked_add(d("1.25"))), "2.75");
    assert_eq!(text(d("1.50").checked_sub(d("0.5"))), "1.00");
    assert_eq!(text(d("-1").checked_add(d("0.001"))), "-0.999");
    let max = d("99999999999999999999999999999999999999");
    assert_eq!(text(max.checked_add(d("1"))), "ERROR 22003");
    assert_eq!(text((-max).checked_sub(d("1"))), "ERROR 22003");
    // Lining up the scales overflows 128 bits, but the sum fits.
    let a = d("18000000000000000000000000000000000000");
    let b = d("-9000000000000000000000000000000000000.0");
    assert_eq!(text(a.checked_add(b)), "9000000000000000000000000000000000000.0");
    // Not exact in 38 digits: an error rather than a rounded sum.
    assert_eq!(text(d("10000000000000000000000000000000000000").checked_add(d("0.5"))), "ERROR 22003");
    // Trailing zeros give way before an exact sum overflows.
    assert_eq!(
        text(d("1.0000000000000000000000000000000000000").checked_add(d("10"))),
        "11.000000000000000000000000000000000000"
    );
}

#[test]
fn products_add_scales_and_round_only_invented_digits() {
    assert_eq!(text(d("1.50").checked_mul(d("2.0"))), "3.000");
    assert_eq!(text(d("-0.1").checked_mul(d("0.1"))), "-0.01");
    assert_eq!(text(d("0").checked_mul(d("1.25"))), "0.00");
    let third = d("0.33333333333333333333");
    // 40 fractional digits do not fit; the 39th and 40th are rounded away.
    assert_eq!(text(third.checked_mul(third)), "0.11111111111111111110888888888888888889");
    assert_eq!(text(d("10000000000000000000").checked_mul(d("100000000000000000000"))), "ERROR 22003");
    let big = d("9999999999999999999.9999999999999999999");
    assert_eq!(text(big.checked_mul(big)), "99999999999999999999999999999999999998");
}

#[test]
fn quotients_follow_select_div_scale() {
    let div = |a: &str, b: &str| text(d(a).checked_div(d(b)));
    assert_eq!(div("1.0", "3"), "0.33333333333333333333");
    assert_eq!(div("1", "3"), "0.33333333333333333333");
    assert_eq!(div("2", "3"), "0.66666666666666666667");
    assert_eq!(div("-2", "3"), "-0.66666666666666666667");
    assert_eq!(div("10", "4"), "2.5000000000000000");
    assert_eq!(div("7.0", "2"), "3.5000000000000000");
    assert_eq!(div("100", "3"), "33.3333333333333333");
    assert_eq!(div("1", "7"), "0.14285714285714285714");
    assert_eq!(div("12345.6", "7"), "1763.6571428571428571");
    assert_eq!(div("0", "5"), "0.00000000000000000000");
    assert_eq!(div("1.000", "0.001"), "1000.0000000000000000");
    assert_eq!(div("99999999999999999999999999999999999999", "1"), "99999999999999999999999999999999999999");
    assert_eq!(div("1", "0.00000000000000000000000000000000000001"), "ERROR 22003");
    assert_eq!(div("1", "0"), "ERROR 22012");
    assert_eq!(div("0", "0.00"), "ERROR 22012");
    // Operand scales near the limit: the quotient keeps the fractional digits that fit.
    assert_eq!(
        div("1.0000000000000000000000000000000000000", "3"),
        "0.3333333333333333333333333333333333333"
    );
    assert_eq!(
        div("12345678901234567890.123456789012345678", "0.7"),
        "17636684144620811271.604938270017636683"
    );
}

#[test]
fn remainders_are_exact_and_follow_the_dividend() {
    let rem = |a: &str, b: &str| text(d(a).checked_rem(d(b)));
    assert_eq!(rem("10.5", "3"), "1.5");
    assert_eq!(rem("-10.5", "3"), "-1.5");
    assert_eq!(rem("10", "-3"), "1");
    assert_eq!(rem("1", "0.3"), "0.1");
    assert_eq!(rem("5", "0"), "ERROR 22012");
    assert_eq!(
        rem("99999999999999999999999999999999999999", "0.00000000000000000000000000000000000007"),
        "0.00000000000000000000000000000000000002"
    );
    // The divisor lined up at the dividend's scale is past 128 bits: the dividend is smaller.
    assert_eq!(
        rem("0.5000000000000000000000000000000000000", "10000000000000000000000000000000000000"),
        "0.5000000000000000000000000000000000000"
    );
}

#[test]
fn rounding_modes() {
    let round = |s: &str, n: i32, mode: Rounding| text(d(s).round_to(n, mode));
    use Rounding::*;
    assert_eq!(round("2.5", 0, HalfAwayFromZero), "3");
    assert_eq!(round("-2.5", 0, HalfAwayFromZero), "-3");
    assert_eq!(round("2.4999", 0, HalfAwayFromZero), "2");
    assert_eq!(round("1.2345", 2, HalfAwayFromZero), "1.23");
    assert_eq!(round("1.235", 2, HalfAwayFromZero), "1.24");
    assert_eq!(round("1234.5", -2, HalfAwayFromZero), "1200");
    assert_eq!(round("1250", -2, HalfAwayFromZero), "1300");
    assert_eq!(round("1.5", 3, HalfAwayFromZero), "1.500");
    assert_eq!(round("-1.99", 1, TowardZero), "-1.9");
    assert_eq!(round("-1.5", 0, Floor), "-2");
    assert_eq!(round("1.5", 0, Floor), "1");
    assert_eq!(round("1.2", 0, Ceiling), "2");
    assert_eq!(round("-1.2", 0, Ceiling), "-1");
    assert_eq!(round("0.5", i32::MIN, HalfAwayFromZero), "0");
    assert_eq!(round("0.5", i32::MIN, Ceiling), "ERROR 22003");
    assert_eq!(round("1.5", i32::MAX, HalfAwayFromZero), "1.5000000000000000000000000000000000000");
    assert_eq!(round("99999999999999999999999999999999999999", -1, HalfAwayFromZero), "ERROR 22003");
    assert_eq!(round("9.99", 1, HalfAwayFromZero), "10.0");
}

#[test]
fn typmods_round_then_check_the_integer_digits() {
    let typmod = |s: &str, p: u8, sc: u8| text(d(s).apply_typmod(p, sc));
    assert_eq!(typmod("1.5", 10, 3), "1.500");
    assert_eq!(typmod("123.456", 5, 2), "123.46");
    assert_eq!(typmod("-123.455", 5, 2), "-123.46");
    assert_eq!(typmod("1234.5", 5, 2), "ERROR 22003");
    assert_eq!(typmod("9.995", 3, 2), "ERROR 22003");
    assert_eq!(typmod("0.5", 1, 1), "0.5");
    assert_eq!(typmod("1", 1, 1), "ERROR 22003");
    assert_eq!(typmod("99999.4", 5, 0), "99999");
    let e = d("1234.5").apply_typmod(5, 2).expect_err("overflow");
    assert_eq!(e.message, "numeric field overflow");
    assert_eq!(
        e.detail.as_deref(),
        Some("A field with precision 5, scale 2 must round to an absolute value less than 10^3.")
    );
    let e = d("1").apply_typmod(2, 2).expect_err("overflow");
    assert_eq!(
        e.detail.as_deref(),
        Some("A field with precision 2, scale 2 must round to an absolute value less than 1.")
    );
}

#[test]
fn conversions_to_and_from_other_numbers() {
    assert_eq!(d("2.5").to_i64_rounded(), Some(3));
    assert_eq!(d("-2.5").to_i64_rounded(), Some(-3));
    assert_eq!(d("9223372036854775807.4").to_i64_rounded(), Some(i64::MAX));
    assert_eq!(d("9223372036854775807.5").to_i64_rounded(), None);
    assert_eq!(d("3.00").to_i64_exact(), Some(3));
    assert_eq!(d("3.01").to_i64_exact(), None);
    assert_eq!(d("0.1").to_f64(), 0.1);
    assert_eq!(d("-123456789012345678901234567.5").to_f64(), -123456789012345678901234567.5);
    assert_eq!(d("0.00000000000000000000000000000000000001").to_f64(), 1e-38);
    assert_eq!(text(Decimal::from_f64(0.1)), "0.1");
    assert_eq!(text(Decimal::from_f64(1.0 / 3.0)), "0.333333333333333");
    assert_eq!(text(Decimal::from_f64(-2.5)), "-2.5");
    assert_eq!(text(Decimal::from_f64(1e20)), "100000000000000000000");
    assert_eq!(text(Decimal::from_f64(123456789012345678.0)), "123456789012346000");
    assert_eq!(text(Decimal::from_f64(-0.0)), "0");
    assert_eq!(text(Decimal::from_f64(f64::NAN)), "ERROR 0A000");
    assert_eq!(text(Decimal::from_f64(f64::INFINITY)), "ERROR 0A000");
    assert_eq!(text(Decimal::from_f64(1e300)), "ERROR 22003");
}

#[test]
fn exact_comparison_with_doubles() {
    assert_eq!(d("0.5").cmp_f64(0.5), Ordering::Equal);
    assert_eq!(d("0.50").exact_f64(), Some(0.5));
    // 0.1 as a double is 0.1000000000000000055...
    assert_eq!(d("0.1").cmp_f64(0.1), Ordering::Less);
    assert_eq!(d("0.1").exact_f64(), None);
    assert_eq!(d("0.10000000000000000555111512312578270211").cmp_f64(0.1), Ordering::Less);
    assert_eq!(d("0.10000000000000000555111512312578270212").cmp_f64(0.1), Ordering::Greater);
    assert_eq!(d("-3").cmp_f64(-3.0), Ordering::Equal);
    assert_eq!(d("-3").cmp_f64(-2.5), Ordering::Less);
    assert_eq!(d("0").cmp_f64(-0.0), Ordering::Equal);
    assert_eq!(d("1").cmp_f64(f64::NAN), Ordering::Less);
    assert_eq!(d("1").cmp_f64(f64::INFINITY), Ordering::Less);
    assert_eq!(d("1").cmp_f64(f64::NEG_INFINITY), Ordering::Greater);
    // 1e38 as a double is 99999999999999997748809823456034029568.
    assert_eq!(d("99999999999999999999999999999999999999").cmp_f64(1e38), Ordering::Greater);
    assert_eq!(d("99999999999999997748809823456034029568").cmp_f64(1e38), Ordering::Equal);
    assert_eq!(d("99999999999999997748809823456034029567").cmp_f64(1e38), Ordering::Less);
    assert_eq!(d("0.00000000000000000000000000000000000001").cmp_f64(5e-324), Ordering::Greater);
    assert_eq!(d("100000000000000000000").exact_f64(), Some(1e20));
}

proptest! {
    #[test]
    fn comparison_agrees_with_subtraction(a in (-10i128.pow(20)..10i128.pow(20), 0u8..=18), b in (-10i128.pow(20)..10i128.pow(20), 0u8..=18)) {
        let (a, b) = (Decimal::new(a.0, a.1).expect("a"), Decimal::new(b.0, b.1).expect("b"));
        let diff = a.checked_sub(b).expect("fits");
        prop_assert_eq!(a.cmp(&b), diff.signum().cmp(&0));
        prop_assert_eq!(b.checked_add(diff).expect("fits"), a);
    }

    #[test]
    fn quotients_are_correctly_rounded(a in -10i128.pow(9)..10i128.pow(9), sa in 0u8..5, b in -10i128.pow(9)..10i128.pow(9), sb in 0u8..5) {
        prop_assume!(b != 0);
        let (x, y) = (Decimal::new(a, sa).expect("a"), Decimal::new(b, sb).expect("b"));
        let q = x.checked_div(y).expect("quotient");
        let rscale = arith::division_scale(&x, &y);
        prop_assert_eq!(u32::from(q.scale()), rscale);
        // The exact quotient times 10^rscale is a * 10^(rscale + sb - sa) / b; it fits in
        // i128 for these sizes, so round it half away from zero directly.
        let shift = rscale as i32 + i32::from(sb) - i32::from(sa);
        let n = a * 10i128.pow(shift as u32);
        let (quot, rem) = (n / b, n % b);
        let expected = if 2 * rem.abs() >= b.abs() { quot + n.signum() * b.signum() } else { quot };
        prop_assert_eq!(q.coefficient(), expected);
    }

    #[test]
    fn doubles_compare_consistently(f in any::<f64>(), c in any::<i64>(), s in 0u8..=20) {
        let x = Decimal::new(i128::from(c), s).expect("decimal");
        let ordering = x.cmp_f64(f);
        let approx = x.to_f64();
        // Where the nearest double already differs, the exact order must agree with it.
        if !f.is_nan() && approx != f {
            prop_assert_eq!(ordering, approx.partial_cmp(&f).expect("not NaN"));
        }
        if let Some(exact) = x.exact_f64() {
            prop_assert_eq!(x.cmp_f64(exact), Ordering::Equal);
            prop_assert_eq!(exact, approx);
        }
        if let Ok(back) = Decimal::from_f64(f) {
            // 15 significant digits, then back to the nearest double.
            prop_assert!((back.to_f64() - f).abs() <= f.abs() * 1e-14);
        }
    }

    #[test]
    fn text_round_trips(c in any::<i128>(), s in 0u8..=38) {
        if let Ok(x) = Decimal::new(c, s) {
            let back: Decimal = x.to_string().parse().expect("parse");
            prop_assert_eq!(back.coefficient(), x.coefficient());
            prop_assert_eq!(back.scale(), x.scale());
        }
    }
}

/// Decimals over the whole range: any coefficient and scale the type allows.
fn any_decimal() -> impl Strategy<Value = Decimal> {
    (any::<i128>(), 0u8..=38, prop_oneof![Just(0u32), 0u32..38, Just(37)]).prop_map(|(c, s, digits)| {
        // Vary the number of digits too, so that small and full-width values both occur.
        let bound = 10i128.pow(digits.max(1));
        Decimal::new(c % bound, s).expect("in range")
    })
}

proptest! {
    /// No operation panics (debug builds trap integer overflow), whatever the operands;
    /// results that exist are well formed and agree with each other where they must.
    #[test]
    fn operations_never_panic(a in any_decimal(), b in any_decimal(), n in any::<i32>(), f in any::<f64>(), p in 1u8..=38) {
        let results = [a.checked_add(b), a.checked_sub(b), a.checked_mul(b), a.checked_div(b), a.checked_rem(b)];
        for v in results.into_iter().flatten() {
            prop_assert!(v.coefficient().unsigned_abs() < LIMIT && v.scale() <= MAX_DIGITS);
        }
        if let Ok(sum) = a.checked_add(b) {
            prop_assert_eq!(sum.checked_sub(b).expect("back"), a);
        }
        if let Ok(q) = a.checked_div(b) {
            // The quotient is within half a unit of its last digit of a / b: checked where
            // q * b is computed exactly (its scale is the sum of the scales).
            let unit = Decimal::new(1, q.scale()).expect("unit");
            let product = q.checked_mul(b).ok().filter(|x| x.scale() == q.scale() + b.scale());
            if let (Some(product), Ok(bound)) = (product, unit.checked_mul(b.abs())) {
                let diff = product.checked_sub(a).expect("close to a").abs();
                if let Ok(twice) = diff.checked_add(diff) {
                    prop_assert!(twice <= bound, "{a} / {b} = {q}");
                }
            }
        }
        for mode in [Rounding::HalfAwayFromZero, Rounding::TowardZero, Rounding::Floor, Rounding::Ceiling] {
            let _ = a.round_to(n, mode);
        }
        let _ = a.apply_typmod(p, p / 2);
        let _ = a.cmp_f64(f);
        let _ = a.to_f64();
        let _ = a.exact_f64();
        let _ = a.to_i64_rounded();
        let _ = Decimal::from_f64(f);
        prop_assert_eq!(Decimal::from_key_bytes(&a.to_key_bytes()), Some(a));
    }
}
