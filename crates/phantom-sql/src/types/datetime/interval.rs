//! Intervals: representation, input, output in each `IntervalStyle`, typmods, and
//! arithmetic.
//!
//! An interval is months, days and microseconds kept apart, as in PostgreSQL, because a
//! month is not a fixed number of days nor a day a fixed number of hours across daylight
//! saving changes. Comparison, hashing and grouping count a month as 30 days and a day as
//! 24 hours (PostgreSQL's `interval_cmp_value`), so `'1 mon'` equals `'30 days'`.
//!
//! Input is PostgreSQL's `DecodeInterval`, on the tokens of [`super::parse::tokenize`],
//! read right to left so that units come before their numbers: `1.5 weeks` is 10 days
//! 12 hours (fractions spill into the next smaller unit, a month counting 30 days),
//! `1 2:03` is a day and a time, `1-2` is a year and two months, `@ 1 hour ago` is
//! negative. A bare number takes the unit of the interval's last field (`INTERVAL '1'
//! YEAR TO MONTH` is a month). What that decoder rejects is tried as ISO 8601
//! (`P1Y2M3DT4H5M6S`, `P0001-02-03T04:05:06`). Every step checks for overflow: a field
//! too big is 22015, a total too big 22008, never a wrapped value.

use std::fmt::Write;

use super::calendar::{DAY, HOUR, MINUTE, SECOND};
use super::format::append_seconds;
use super::parse::{Field, Kind, Problem, input_error, parse_fraction, tokenize};
use super::settings::{self, IntervalStyle};
use crate::error::{Error, Result, SqlState};

/// Days per month and per year in interval arithmetic, as PostgreSQL counts them.
pub const DAYS_PER_MONTH: i32 = 30;

/// An interval: months, days and microseconds, each signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

/// 22008 "interval out of range".
pub fn interval_out_of_range() -> Error {
    Error::new(SqlState::DatetimeFieldOverflow, "interval out of range")
}

impl Interval {
    /// The interval as microseconds, counting a month as 30 days (PostgreSQL's rule for
    /// comparing intervals).
    pub fn approximate_micros(&self) -> i128 {
        (i128::from(self.months) * 30 + i128::from(self.days)) * i128::from(DAY) + i128::from(self.micros)
    }

    /// `-interval`.
    pub fn checked_neg(&self) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_neg().ok_or_else(interval_out_of_range)?,
            days: self.days.checked_neg().ok_or_else(interval_out_of_range)?,
            micros: self.micros.checked_neg().ok_or_else(interval_out_of_range)?,
        })
    }

    /// `a + b`, field by field.
    pub fn checked_add(&self, other: &Interval) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_add(other.months).ok_or_else(interval_out_of_range)?,
            days: self.days.checked_add(other.days).ok_or_else(interval_out_of_range)?,
            micros: self.micros.checked_add(other.micros).ok_or_else(interval_out_of_range)?,
        })
    }

    /// `a - b`, field by field.
    pub fn checked_sub(&self, other: &Interval) -> Result<Interval> {
        self.checked_add(&other.checked_neg()?)
    }

    /// `interval * factor`: whole months and days stay, their fractions spill into days
    /// and time (PostgreSQL's `interval_mul`).
    pub fn mul(&self, factor: f64) -> Result<Interval> {
        let months = self.months as f64 * factor;
        let days = self.days as f64 * factor;
        self.scaled(
            months,
            days,
            self.months as f64 * factor,
            self.days as f64 * factor,
            self.micros as f64 * factor,
        )
    }

    /// `interval / divisor` (PostgreSQL's `interval_div`).
    pub fn div(&self, divisor: f64) -> Result<Interval> {
        if divisor == 0.0 {
            return Err(Error::new(SqlState::DivisionByZero, "division by zero"));
        }
        let months = self.months as f64 / divisor;
        let days = self.days as f64 / divisor;
        self.scaled(months, days, months, days, self.micros as f64 / divisor)
    }

    /// The common tail of `mul` and `div`: `months` and `days` are the scaled fields,
    /// `time` the scaled microseconds.
    fn scaled(
        &self,
        months: f64,
        days: f64,
        exact_months: f64,
        exact_days: f64,
        time: f64,
    ) -> Result<Interval> {
        let fits = |x: f64| !x.is_nan() && x <= f64::from(i32::MAX) && x >= f64::from(i32::MIN);
        if !fits(months) || !fits(days) {
            return Err(interval_out_of_range());
        }
        let (result_months, mut result_days) = (months as i32, days as i32);
        // Round to microseconds, so that 0.1 * 30 days is exactly 3 days.
        let tsround = |x: f64| (x * 1_000_000.0).round_ties_even() / 1_000_000.0;
        let month_remainder_days =
            tsround((exact_months - f64::from(result_months)) * f64::from(DAYS_PER_MONTH));
        let mut sec_remainder = tsround(
            (exact_days - f64::from(result_days) + month_remainder_days
                - f64::from(month_remainder_days as i32))
                * 86_400.0,
        );
        if sec_remainder.abs() >= 86_400.0 {
            let whole = (sec_remainder / 86_400.0) as i32;
            result_days = result_days.checked_add(whole).ok_or_else(interval_out_of_range)?;
            sec_remainder -= f64::from(whole) * 86_400.0;
        }
        result_days =
            result_days.checked_add(month_remainder_days as i32).ok_or_else(interval_out_of_range)?;
        let micros = (time + sec_remainder * 1_000_000.0).round_ties_even();
        if micros.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&micros) {
            return Err(interval_out_of_range());
        }
        Ok(Interval { months: result_months, days: result_days, micros: micros as i64 })
    }

    /// `justify_hours`: whole days of the time part become days.
    pub fn justify_hours(&self) -> Result<Interval> {
        let mut r = *self;
        let whole = r.micros / DAY;
        r.micros -= whole * DAY;
        r.days = i32::try_from(i64::from(r.days) + whole).map_err(|_| interval_out_of_range())?;
        if r.days > 0 && r.micros < 0 {
            r.micros += DAY;
            r.days -= 1;
        } else if r.days < 0 && r.micros > 0 {
            r.micros -= DAY;
            r.days += 1;
        }
        Ok(r)
    }

    /// `justify_days`: whole 30-day periods become months.
    pub fn justify_days(&self) -> Result<Interval> {
        let mut r = *self;
        let whole = r.days / DAYS_PER_MONTH;
        r.days -= whole * DAYS_PER_MONTH;
        r.months = r.months.checked_add(whole).ok_or_else(interval_out_of_range)?;
        if r.months > 0 && r.days < 0 {
            r.days += DAYS_PER_MONTH;
            r.months -= 1;
        } else if r.months < 0 && r.days > 0 {
            r.days -= DAYS_PER_MONTH;
            r.months += 1;
        }
        Ok(r)
    }

    /// `justify_interval`: both, with the signs made consistent.
    pub fn justify_interval(&self) -> Result<Interval> {
        let mut r = *self;
        if (r.days > 0 && r.micros > 0) || (r.days < 0 && r.micros < 0) {
            let whole = r.days / DAYS_PER_MONTH;
            r.days -= whole * DAYS_PER_MONTH;
            r.months = r.months.checked_add(whole).ok_or_else(interval_out_of_range)?;
        }
        let whole_days = r.micros / DAY;
        r.micros -= whole_days * DAY;
        r.days = i32::try_from(i64::from(r.days) + whole_days).map_err(|_| interval_out_of_range())?;
        let whole = r.days / DAYS_PER_MONTH;
        r.days -= whole * DAYS_PER_MONTH;
        r.months = r.months.checked_add(whole).ok_or_else(interval_out_of_range)?;
        if r.months > 0 && (r.days < 0 || (r.days == 0 && r.micros < 0)) {
            r.days += DAYS_PER_MONTH;
            r.months -= 1;
        } else if r.months < 0 && (r.days > 0 || (r.days == 0 && r.micros > 0)) {
            r.days -= DAYS_PER_MONTH;
            r.months += 1;
        }
        if r.days > 0 && r.micros < 0 {
            r.micros += DAY;
            r.days -= 1;
        } else if r.days < 0 && r.micros > 0 {
            r.micros -= DAY;
            r.days += 1;
        }
        Ok(r)
    }
}

/// The fields of an interval type or literal (`YEAR TO MONTH`, `SECOND`), as a mask of
/// [`Unit`]s; and its fractional-seconds precision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IntervalTypmod {
    /// `None` for all fields.
    pub fields: Option<u8>,
    /// `None` for full (microsecond) precision.
    pub precision: Option<u8>,
}

/// Interval fields, as bits of [`IntervalTypmod::fields`].
pub const FIELD_YEAR: u8 = 1;
pub const FIELD_MONTH: u8 = 2;
pub const FIELD_DAY: u8 = 4;
pub const FIELD_HOUR: u8 = 8;
pub const FIELD_MINUTE: u8 = 16;
pub const FIELD_SECOND: u8 = 32;

impl IntervalTypmod {
    /// The typmod of `INTERVAL <from> [TO <to>]`: every field from the first to the
    /// last. `None` for a range PostgreSQL has no type for.
    pub fn range(from: u8, to: Option<u8>) -> Option<IntervalTypmod> {
        let to = to.unwrap_or(from);
        if to < from {
            return None;
        }
        let mut mask = 0;
        let mut bit = from;
        while bit <= to && bit != 0 {
            mask |= bit;
            bit = bit.checked_shl(1).unwrap_or(0);
        }
        let allowed = [
            FIELD_YEAR,
            FIELD_MONTH,
            FIELD_DAY,
            FIELD_HOUR,
            FIELD_MINUTE,
            FIELD_SECOND,
            FIELD_YEAR | FIELD_MONTH,
            FIELD_DAY | FIELD_HOUR,
            FIELD_DAY | FIELD_HOUR | FIELD_MINUTE,
            FIELD_DAY | FIELD_HOUR | FIELD_MINUTE | FIELD_SECOND,
            FIELD_HOUR | FIELD_MINUTE,
            FIELD_HOUR | FIELD_MINUTE | FIELD_SECOND,
            FIELD_MINUTE | FIELD_SECOND,
        ];
        allowed.contains(&mask).then_some(IntervalTypmod { fields: Some(mask), precision: None })
    }

    /// Applies the typmod to a value: fields right of the last one are zeroed, seconds
    /// rounded to the precision (PostgreSQL's `AdjustIntervalForTypmod`).
    pub fn apply(&self, mut i: Interval) -> Result<Interval> {
        if let Some(fields) = self.fields {
            let truncate = |micros: i64, unit: i64| micros / unit * unit;
            match fields {
                FIELD_YEAR => {
                    i.months = i.months / 12 * 12;
                    i.days = 0;
                    i.micros = 0;
                }
                FIELD_MONTH | 3 => {
                    i.days = 0;
                    i.micros = 0;
                }
                FIELD_DAY => i.micros = 0,
                f if f == FIELD_HOUR || f == FIELD_DAY | FIELD_HOUR => i.micros = truncate(i.micros, HOUR),
                f if f == FIELD_MINUTE
                    || f == FIELD_DAY | FIELD_HOUR | FIELD_MINUTE
                    || f == FIELD_HOUR | FIELD_MINUTE =>
                {
                    i.micros = truncate(i.micros, MINUTE)
                }
                _ => {}
            }
        }
        if let Some(p) = self.precision.filter(|&p| p < 6) {
            let scale = 10i64.pow(6 - u32::from(p));
            let half = scale / 2;
            let rounded = if i.micros >= 0 { i.micros.checked_add(half) } else { i.micros.checked_sub(half) }
                .ok_or_else(interval_out_of_range)?;
            i.micros = rounded - rounded % scale;
        }
        Ok(i)
    }

    /// The unit a bare number means under this typmod (the rightmost field).
    fn default_unit(&self) -> Unit {
        match self.fields {
            Some(FIELD_YEAR) => Unit::Year,
            Some(FIELD_MONTH) | Some(3) => Unit::Month,
            Some(FIELD_DAY) => Unit::Day,
            Some(f) if f == FIELD_HOUR || f == FIELD_DAY | FIELD_HOUR => Unit::Hour,
            Some(f)
                if f == FIELD_MINUTE
                    || f == FIELD_HOUR | FIELD_MINUTE
                    || f == FIELD_DAY | FIELD_HOUR | FIELD_MINUTE =>
            {
                Unit::Minute
            }
            _ => Unit::Second,
        }
    }

    /// True for `MINUTE TO SECOND`, where `mm:ss` reads as minutes and seconds.
    fn minute_to_second(&self) -> bool {
        self.fields == Some(FIELD_MINUTE | FIELD_SECOND)
    }
}

/// An interval unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Decade,
    Century,
    Millennium,
}

/// What a word means in interval input (PostgreSQL's `deltatktbl`).
enum IntervalWord {
    Unit(Unit),
    Ago,
    Ignore,
}

fn interval_word(word: &str) -> Option<IntervalWord> {
    use Unit::*;
    // As in PostgreSQL, only the first 10 letters count ("microseconds").
    let word = match word.char_indices().nth(10) {
        Some((at, _)) => &word[..at],
        None => word,
    };
    Some(IntervalWord::Unit(match word {
        "@" => return Some(IntervalWord::Ignore),
        "ago" => return Some(IntervalWord::Ago),
        "microsecon" | "us" | "usec" | "usecs" | "useconds" | "microsecond" => Microsecond,
        "millisecon" | "ms" | "msec" | "msecs" | "mseconds" | "millisecond" => Millisecond,
        "s" | "sec" | "secs" | "second" | "seconds" => Second,
        "m" | "min" | "mins" | "minute" | "minutes" => Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => Hour,
        "d" | "day" | "days" => Day,
        "w" | "week" | "weeks" => Week,
        "mon" | "mons" | "month" | "months" => Month,
        "y" | "yr" | "yrs" | "year" | "years" => Year,
        "dec" | "decs" | "decade" | "decades" => Decade,
        "c" | "cent" | "century" | "centuries" => Century,
        "mil" | "mils" | "millennia" | "millennium" => Millennium,
        _ => return None,
    }))
}

/// The interval being built, with PostgreSQL's separate year count (`pg_itm_in`).
#[derive(Default)]
struct Parts {
    micros: i64,
    days: i32,
    months: i32,
    years: i32,
}

type Decode<T> = std::result::Result<T, Problem>;

impl Parts {
    fn add_fraction_micros(&mut self, fraction: f64, scale: i64) -> Decode<()> {
        if fraction == 0.0 {
            return Ok(());
        }
        let f = fraction * scale as f64;
        let mut usec = f as i64;
        let rest = f - usec as f64;
        if rest > 0.5 {
            usec += 1;
        } else if rest < -0.5 {
            usec -= 1;
        }
        self.micros = self.micros.checked_add(usec).ok_or(Problem::FieldOverflow)?;
        Ok(())
    }

    fn add_fraction_days(&mut self, fraction: f64, scale: i32) -> Decode<()> {
        if fraction == 0.0 {
            return Ok(());
        }
        let f = fraction * f64::from(scale);
        let extra = f as i32;
        self.days = self.days.checked_add(extra).ok_or(Problem::FieldOverflow)?;
        self.add_fraction_micros(f - f64::from(extra), DAY)
    }

    fn add_fraction_years(&mut self, fraction: f64, scale: i32) -> Decode<()> {
        let extra = (fraction * f64::from(scale) * 12.0).round_ties_even() as i32;
        self.months = self.months.checked_add(extra).ok_or(Problem::FieldOverflow)?;
        Ok(())
    }

    fn add_micros(&mut self, value: i64, fraction: f64, scale: i64) -> Decode<()> {
        let usec = value.checked_mul(scale).ok_or(Problem::FieldOverflow)?;
        self.micros = self.micros.checked_add(usec).ok_or(Problem::FieldOverflow)?;
        self.add_fraction_micros(fraction, scale)
    }

    fn add_days(&mut self, value: i64, scale: i32) -> Decode<()> {
        let v = i32::try_from(value).map_err(|_| Problem::FieldOverflow)?;
        let days = v.checked_mul(scale).ok_or(Problem::FieldOverflow)?;
        self.days = self.days.checked_add(days).ok_or(Problem::FieldOverflow)?;
        Ok(())
    }

    fn add_months(&mut self, value: i64) -> Decode<()> {
        let v = i32::try_from(value).map_err(|_| Problem::FieldOverflow)?;
        self.months = self.months.checked_add(v).ok_or(Problem::FieldOverflow)?;
        Ok(())
    }

    fn add_years(&mut self, value: i64, scale: i32) -> Decode<()> {
        let v = i32::try_from(value).map_err(|_| Problem::FieldOverflow)?;
        let years = v.checked_mul(scale).ok_or(Problem::FieldOverflow)?;
        self.years = self.years.checked_add(years).ok_or(Problem::FieldOverflow)?;
        Ok(())
    }

    fn add_unit(&mut self, unit: Unit, value: i64, fraction: f64) -> Decode<()> {
        match unit {
            Unit::Microsecond => self.add_micros(value, fraction, 1),
            Unit::Millisecond => self.add_micros(value, fraction, 1000),
            Unit::Second => self.add_micros(value, fraction, SECOND),
            Unit::Minute => self.add_micros(value, fraction, MINUTE),
            Unit::Hour => self.add_micros(value, fraction, HOUR),
            Unit::Day => {
                self.add_days(value, 1)?;
                self.add_fraction_micros(fraction, DAY)
            }
            Unit::Week => {
                self.add_days(value, 7)?;
                self.add_fraction_days(fraction, 7)
            }
            Unit::Month => {
                self.add_months(value)?;
                self.add_fraction_days(fraction, DAYS_PER_MONTH)
            }
            Unit::Year => {
                self.add_years(value, 1)?;
                self.add_fraction_years(fraction, 1)
            }
            Unit::Decade => {
                self.add_years(value, 10)?;
                self.add_fraction_years(fraction, 10)
            }
            Unit::Century => {
                self.add_years(value, 100)?;
                self.add_fraction_years(fraction, 100)
            }
            Unit::Millennium => {
                self.add_years(value, 1000)?;
                self.add_fraction_years(fraction, 1000)
            }
        }
    }

    fn negate(&mut self) -> Decode<()> {
        self.micros = self.micros.checked_neg().ok_or(Problem::FieldOverflow)?;
        self.days = self.days.checked_neg().ok_or(Problem::FieldOverflow)?;
        self.months = self.months.checked_neg().ok_or(Problem::FieldOverflow)?;
        self.years = self.years.checked_neg().ok_or(Problem::FieldOverflow)?;
        Ok(())
    }

    /// The interval, `None` when the months do not fit (22008 "interval out of range").
    fn finish(self) -> Option<Interval> {
        let months = i64::from(self.years) * 12 + i64::from(self.months);
        Some(Interval { months: i32::try_from(months).ok()?, days: self.days, micros: self.micros })
    }
}

/// The bit of a unit in the mask of parts seen, so that none is given twice.
fn unit_mask(u: Unit) -> u32 {
    1 << (u as u32)
}

/// A `hh:mm:ss` field covers these units.
const M_TIME: u32 = (1 << Unit::Microsecond as u32)
    | (1 << Unit::Millisecond as u32)
    | (1 << Unit::Second as u32)
    | (1 << Unit::Minute as u32)
    | (1 << Unit::Hour as u32);
/// Seconds with a fraction cover the smaller units too.
const M_ALL_SECONDS: u32 =
    (1 << Unit::Microsecond as u32) | (1 << Unit::Millisecond as u32) | (1 << Unit::Second as u32);

/// `hh:mm[:ss[.f]]` (or `mm:ss.f`) of an interval: microseconds, sign not included.
fn decode_interval_time(text: &str, typmod: &IntervalTypmod) -> Decode<i64> {
    let int = |s: &str| -> Decode<(i64, usize)> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        if end == 0 {
            return Err(Problem::BadFormat);
        }
        Ok((s[..end].parse().map_err(|_| Problem::FieldOverflow)?, end))
    };
    let (mut hour, n) = int(text)?;
    let rest = text[n..].strip_prefix(':').ok_or(Problem::BadFormat)?;
    let (mut minute, n) = int(rest)?;
    let rest = &rest[n..];
    let (mut second, mut micro) = (0, 0);
    if rest.is_empty() {
        if typmod.minute_to_second() {
            second = minute;
            minute = hour;
            hour = 0;
        }
    } else if rest.starts_with('.') {
        micro = (parse_fraction(rest)? * 1_000_000.0).round_ties_even() as i64;
        second = minute;
        minute = hour;
        hour = 0;
    } else if let Some(rest) = rest.strip_prefix(':') {
        let (s, n) = int(rest)?;
        second = s;
        let rest = &rest[n..];
        if rest.starts_with('.') {
            micro = (parse_fraction(rest)? * 1_000_000.0).round_ties_even() as i64;
        } else if !rest.is_empty() {
            return Err(Problem::BadFormat);
        }
    } else {
        return Err(Problem::BadFormat);
    }
    if !(0..60).contains(&minute) || !(0..=60).contains(&second) || !(0..=SECOND).contains(&micro) {
        return Err(Problem::FieldOverflow);
    }
    hour.checked_mul(HOUR)
        .and_then(|h| h.checked_add(minute * MINUTE + second * SECOND + micro))
        .ok_or(Problem::FieldOverflow)
}

/// PostgreSQL's `DecodeInterval`.
fn decode_interval(fields: &[Field], typmod: &IntervalTypmod, style: IntervalStyle) -> Decode<Parts> {
    let mut parts = Parts::default();
    let mut fmask = 0u32;
    let mut unit: Option<Unit> = None;
    let mut is_before = false;
    let mut parsing_unit = false;
    // SQL-standard style: a leading minus applies to every field, unless others have
    // signs of their own.
    let force_negative = style == IntervalStyle::SqlStandard
        && fields.first().is_some_and(|f| f.text.starts_with('-'))
        && !fields[1..].iter().any(|f| f.text.starts_with(['-', '+']));
    for field in fields.iter().rev() {
        let text = field.text.as_str();
        let tmask;
        let mut kind = field.kind;
        if kind == Kind::Tz && text[1..].contains(':') {
            if let Ok(time) = decode_interval_time(&text[1..], typmod) {
                let mut time = if text.starts_with('-') { -time } else { time };
                if force_negative && time > 0 {
                    time = -time;
                }
                if fmask & M_TIME != 0 {
                    return Err(Problem::BadFormat);
                }
                // PostgreSQL sets (not adds) the time here.
                parts.micros = time;
                fmask |= M_TIME;
                unit = Some(Unit::Day);
                parsing_unit = false;
                continue;
            }
            kind = Kind::Number;
        }
        match kind {
            Kind::Time => {
                let mut time = decode_interval_time(text, typmod)?;
                if force_negative && time > 0 {
                    time = -time;
                }
                parts.micros = time;
                tmask = M_TIME;
                unit = Some(Unit::Day);
                parsing_unit = false;
            }
            Kind::Date | Kind::Number | Kind::Tz => {
                let u = unit.unwrap_or_else(|| typmod.default_unit());
                let start = usize::from(text.starts_with(['+', '-']));
                let end = text[start..].find(|c: char| !c.is_ascii_digit()).map_or(text.len(), |e| e + start);
                if end == start && !text[start..].starts_with('.') {
                    return Err(Problem::BadFormat);
                }
                let mut value: i64 =
                    if end == start { 0 } else { text[..end].parse().map_err(|_| Problem::FieldOverflow)? };
                let rest = &text[end..];
                let mut fraction = 0.0;
                let mut u = u;
                if let Some(months) = rest.strip_prefix('-') {
                    // SQL's "years-months".
                    let m: i64 = months.parse().map_err(|_| {
                        if months.bytes().all(|b| b.is_ascii_digit()) && !months.is_empty() {
                            Problem::FieldOverflow
                        } else {
                            Problem::BadFormat
                        }
                    })?;
                    if !(0..12).contains(&m) {
                        return Err(Problem::FieldOverflow);
                    }
                    let m = if text.starts_with('-') { -m } else { m };
                    value =
                        value.checked_mul(12).and_then(|v| v.checked_add(m)).ok_or(Problem::FieldOverflow)?;
                    u = Unit::Month;
                } else if rest.starts_with('.') {
                    fraction = parse_fraction(rest)?;
                    if text.starts_with('-') {
                        fraction = -fraction;
                    }
                } else if !rest.is_empty() {
                    return Err(Problem::BadFormat);
                }
                if force_negative {
                    value = -value.abs();
                    fraction = -fraction.abs();
                }
                parts.add_unit(u, value, fraction)?;
                tmask = if u == Unit::Second && fraction != 0.0 { M_ALL_SECONDS } else { unit_mask(u) };
                if u == Unit::Hour {
                    unit = Some(Unit::Day);
                }
                parsing_unit = false;
            }
            Kind::String | Kind::Special => {
                if parsing_unit {
                    return Err(Problem::BadFormat);
                }
                match interval_word(text) {
                    Some(IntervalWord::Ignore) => continue,
                    Some(IntervalWord::Unit(u)) => {
                        unit = Some(u);
                        parsing_unit = true;
                    }
                    Some(IntervalWord::Ago) => is_before = true,
                    None => return Err(Problem::BadFormat),
                }
                tmask = 0;
            }
        }
        if tmask & fmask != 0 {
            return Err(Problem::BadFormat);
        }
        fmask |= tmask;
    }
    if fmask == 0 || parsing_unit {
        return Err(Problem::BadFormat);
    }
    if is_before {
        parts.negate()?;
    }
    Ok(parts)
}

/// A number of ISO 8601 interval input: its integer part and fraction.
fn iso_number(s: &str) -> Decode<(i64, f64, usize)> {
    let bytes = s.as_bytes();
    if !bytes.first().is_some_and(|b| b.is_ascii_digit() || *b == b'-' || *b == b'.') {
        return Err(Problem::BadFormat);
    }
    // The longest prefix `strtod` would take.
    let mut end = usize::from(bytes[0] == b'-');
    let digits_start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end < bytes.len() && bytes[end] == b'.' {
        end += 1;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end == digits_start || &s[digits_start..end] == "." {
        return Err(Problem::BadFormat);
    }
    if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut e = end + 1;
        if e < bytes.len() && (bytes[e] == b'+' || bytes[e] == b'-') {
            e += 1;
        }
        if e < bytes.len() && bytes[e].is_ascii_digit() {
            while e < bytes.len() && bytes[e].is_ascii_digit() {
                e += 1;
            }
            end = e;
        }
    }
    let v: f64 = s[..end].parse().map_err(|_| Problem::BadFormat)?;
    if v.is_nan() || !(-1.0e15..=1.0e15).contains(&v) {
        return Err(Problem::FieldOverflow);
    }
    let whole = v.trunc();
    Ok((whole as i64, v - whole, end))
}

/// The width of the integer digits of a field (after an optional minus).
fn integer_width(s: &str) -> usize {
    let s = s.strip_prefix('-').unwrap_or(s);
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// PostgreSQL's `DecodeISO8601Interval`: `P1Y2M3DT4H5M6S`, `P1W`, and the alternative
/// forms `P00010203T040506` and `P0001-02-03T04:05:06`.
fn decode_iso8601(text: &str) -> Decode<Parts> {
    let mut parts = Parts::default();
    let Some(mut s) = text.strip_prefix('P').filter(|s| !s.is_empty()) else {
        return Err(Problem::BadFormat);
    };
    let mut date_part = true;
    let mut have_field = false;
    while !s.is_empty() {
        if let Some(rest) = s.strip_prefix('T') {
            date_part = false;
            have_field = false;
            s = rest;
            continue;
        }
        let field_start = s;
        let (val, frac, n) = iso_number(s)?;
        s = &s[n..];
        let unit = s.chars().next().unwrap_or('\0');
        if unit != '\0' {
            s = &s[1..];
        }
        if date_part {
            match unit {
                'Y' => {
                    parts.add_years(val, 1)?;
                    parts.add_fraction_years(frac, 1)?;
                }
                'M' => {
                    parts.add_months(val)?;
                    parts.add_fraction_days(frac, DAYS_PER_MONTH)?;
                }
                'W' => {
                    parts.add_days(val, 7)?;
                    parts.add_fraction_days(frac, 7)?;
                }
                'D' => {
                    parts.add_days(val, 1)?;
                    parts.add_fraction_micros(frac, DAY)?;
                }
                'T' | '\0' if integer_width(field_start) == 8 && !have_field => {
                    parts.add_years(val / 10000, 1)?;
                    parts.add_months(val / 100 % 100)?;
                    parts.add_days(val % 100, 1)?;
                    parts.add_fraction_micros(frac, DAY)?;
                    if unit == '\0' {
                        return Ok(parts);
                    }
                    date_part = false;
                    have_field = false;
                    continue;
                }
                'T' | '\0' | '-' => {
                    if have_field {
                        return Err(Problem::BadFormat);
                    }
                    parts.add_years(val, 1)?;
                    parts.add_fraction_years(frac, 1)?;
                    if unit == '\0' {
                        return Ok(parts);
                    }
                    if unit == 'T' {
                        date_part = false;
                        have_field = false;
                        continue;
                    }
                    let (val, frac, n) = iso_number(s)?;
                    s = &s[n..];
                    parts.add_months(val)?;
                    parts.add_fraction_days(frac, DAYS_PER_MONTH)?;
                    if s.is_empty() {
                        return Ok(parts);
                    }
                    if let Some(rest) = s.strip_prefix('T') {
                        s = rest;
                        date_part = false;
                        have_field = false;
                        continue;
                    }
                    s = s.strip_prefix('-').ok_or(Problem::BadFormat)?;
                    let (val, frac, n) = iso_number(s)?;
                    s = &s[n..];
                    parts.add_days(val, 1)?;
                    parts.add_fraction_micros(frac, DAY)?;
                    if s.is_empty() {
                        return Ok(parts);
                    }
                    if let Some(rest) = s.strip_prefix('T') {
                        s = rest;
                        date_part = false;
                        have_field = false;
                        continue;
                    }
                    return Err(Problem::BadFormat);
                }
                _ => return Err(Problem::BadFormat),
            }
        } else {
            match unit {
                'H' => parts.add_micros(val, frac, HOUR)?,
                'M' => parts.add_micros(val, frac, MINUTE)?,
                'S' => parts.add_micros(val, frac, SECOND)?,
                '\0' if integer_width(field_start) == 6 && !have_field => {
                    parts.add_micros(val / 10000, 0.0, HOUR)?;
                    parts.add_micros(val / 100 % 100, 0.0, MINUTE)?;
                    parts.add_micros(val % 100, 0.0, SECOND)?;
                    parts.add_fraction_micros(frac, 1)?;
                    return Ok(parts);
                }
                '\0' | ':' => {
                    if have_field {
                        return Err(Problem::BadFormat);
                    }
                    parts.add_micros(val, frac, HOUR)?;
                    if unit == '\0' {
                        return Ok(parts);
                    }
                    let (val, frac, n) = iso_number(s)?;
                    s = &s[n..];
                    parts.add_micros(val, frac, MINUTE)?;
                    if s.is_empty() {
                        return Ok(parts);
                    }
                    s = s.strip_prefix(':').ok_or(Problem::BadFormat)?;
                    let (val, frac, n) = iso_number(s)?;
                    s = &s[n..];
                    parts.add_micros(val, frac, SECOND)?;
                    if s.is_empty() {
                        return Ok(parts);
                    }
                    return Err(Problem::BadFormat);
                }
                _ => return Err(Problem::BadFormat),
            }
        }
        have_field = true;
    }
    Ok(parts)
}

/// INTERVAL input under a typmod (PostgreSQL's `interval_in`).
pub fn parse_interval_typmod(text: &str, typmod: &IntervalTypmod) -> Result<Interval> {
    let style = settings::current().settings.interval_style;
    let decoded = match tokenize(text) {
        Ok(fields) => decode_interval(&fields, typmod, style),
        Err(e) => Err(e),
    };
    let decoded = match decoded {
        Err(Problem::BadFormat) => decode_iso8601(text),
        other => other,
    };
    let parts = decoded.map_err(|p| {
        let p = if p == Problem::FieldOverflow { Problem::IntervalOverflow } else { p };
        input_error(p, text, "interval")
    })?;
    let interval = parts.finish().ok_or_else(interval_out_of_range)?;
    typmod.apply(interval)
}

/// INTERVAL input.
pub fn parse_interval(text: &str) -> Result<Interval> {
    parse_interval_typmod(text, &IntervalTypmod::default())
}

/// An interval in the session's `IntervalStyle`.
pub fn format_interval(i: &Interval) -> String {
    format_interval_as(i, settings::current().settings.interval_style)
}

/// An interval in a given style (PostgreSQL's `EncodeInterval`).
pub fn format_interval_as(i: &Interval, style: IntervalStyle) -> String {
    let mut year = i64::from(i.months / 12);
    let mut mon = i64::from(i.months % 12);
    let mut mday = i64::from(i.days);
    let time = i.micros;
    let mut hour = time / HOUR;
    let mut min = time % HOUR / MINUTE;
    let mut sec = time % MINUTE / SECOND;
    let mut fsec = time % SECOND;
    let mut out = String::new();
    match style {
        IntervalStyle::SqlStandard => {
            let has_negative = year < 0 || mon < 0 || mday < 0 || hour < 0 || min < 0 || sec < 0 || fsec < 0;
            let has_positive = year > 0 || mon > 0 || mday > 0 || hour > 0 || min > 0 || sec > 0 || fsec > 0;
            let has_year_month = year != 0 || mon != 0;
            let has_day_time = mday != 0 || hour != 0 || min != 0 || sec != 0 || fsec != 0;
            let standard = !((has_negative && has_positive) || (has_year_month && has_day_time));
            if has_negative && standard {
                out.push('-');
                (year, mon, mday, hour, min, sec, fsec) = (-year, -mon, -mday, -hour, -min, -sec, -fsec);
            }
            if !has_negative && !has_positive {
                out.push('0');
            } else if !standard {
                let year_sign = if year < 0 || mon < 0 { '-' } else { '+' };
                let day_sign = if mday < 0 { '-' } else { '+' };
                let sec_sign = if hour < 0 || min < 0 || sec < 0 || fsec < 0 { '-' } else { '+' };
                let _ = write!(
                    out,
                    "{year_sign}{}-{} {day_sign}{} {sec_sign}{}:{:02}:",
                    year.abs(),
                    mon.abs(),
                    mday.abs(),
                    hour.abs(),
                    min.abs()
                );
                append_seconds(&mut out, sec, fsec, true);
            } else if has_year_month {
                let _ = write!(out, "{year}-{mon}");
            } else if mday != 0 {
                let _ = write!(out, "{mday} {hour}:{min:02}:");
                append_seconds(&mut out, sec, fsec, true);
            } else {
                let _ = write!(out, "{hour}:{min:02}:");
                append_seconds(&mut out, sec, fsec, true);
            }
        }
        IntervalStyle::Iso8601 => {
            if year == 0 && mon == 0 && mday == 0 && time == 0 {
                return "PT0S".into();
            }
            out.push('P');
            let part = |out: &mut String, v: i64, unit: char| {
                if v != 0 {
                    let _ = write!(out, "{v}{unit}");
                }
            };
            part(&mut out, year, 'Y');
            part(&mut out, mon, 'M');
            part(&mut out, mday, 'D');
            if time != 0 {
                out.push('T');
            }
            part(&mut out, hour, 'H');
            part(&mut out, min, 'M');
            if sec != 0 || fsec != 0 {
                if sec < 0 || fsec < 0 {
                    out.push('-');
                }
                append_seconds(&mut out, sec, fsec, false);
                out.push('S');
            }
        }
        IntervalStyle::Postgres => {
            let (mut is_zero, mut is_before) = (true, false);
            let mut part = |out: &mut String, v: i64, unit: &str| {
                if v == 0 {
                    return;
                }
                let _ = write!(
                    out,
                    "{}{}{v} {unit}{}",
                    if is_zero { "" } else { " " },
                    if is_before && v > 0 { "+" } else { "" },
                    if v != 1 { "s" } else { "" }
                );
                is_before = v < 0;
                is_zero = false;
            };
            part(&mut out, year, "year");
            part(&mut out, mon, "mon");
            part(&mut out, mday, "day");
            if is_zero || time != 0 {
                let minus = time < 0;
                let _ = write!(
                    out,
                    "{}{}{:02}:{:02}:",
                    if is_zero { "" } else { " " },
                    if minus {
                        "-"
                    } else if is_before {
                        "+"
                    } else {
                        ""
                    },
                    hour.abs(),
                    min.abs()
                );
                append_seconds(&mut out, sec.abs(), fsec.abs(), true);
            }
        }
        IntervalStyle::PostgresVerbose => {
            out.push('@');
            let (mut is_zero, mut is_before) = (true, false);
            let mut part = |out: &mut String, v: i64, unit: &str| {
                if v == 0 {
                    return;
                }
                let mut v = v;
                if is_zero {
                    is_before = v < 0;
                    v = v.abs();
                } else if is_before {
                    v = -v;
                }
                let _ = write!(out, " {v} {unit}{}", if v == 1 { "" } else { "s" });
                is_zero = false;
            };
            part(&mut out, year, "year");
            part(&mut out, mon, "mon");
            part(&mut out, mday, "day");
            part(&mut out, hour, "hour");
            part(&mut out, min, "min");
            if sec != 0 || fsec != 0 {
                out.push(' ');
                if sec < 0 || (sec == 0 && fsec < 0) {
                    if is_zero {
                        is_before = true;
                    } else if !is_before {
                        out.push('-');
                    }
                } else if is_before {
                    out.push('-');
                }
                append_seconds(&mut out, sec, fsec, false);
                let _ = write!(out, " sec{}", if sec.abs() != 1 || fsec != 0 { "s" } else { "" });
                is_zero = false;
            }
            if is_zero {
                out.push_str(" 0");
            }
            if is_before {
                out.push_str(" ago");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> String {
        match parse_interval(text) {
            Ok(i) => format_interval_as(&i, IntervalStyle::Postgres),
            Err(e) => format!("ERROR {}", e.sqlstate()),
        }
    }

    #[test]
    fn fractions_spill_into_smaller_units() {
        assert_eq!(show("1.5 weeks"), "10 days 12:00:00");
        assert_eq!(show("1.5 months"), "1 mon 15 days");
        assert_eq!(show("1.5 years"), "1 year 6 mons");
        assert_eq!(show("1.7 days"), "1 day 16:48:00");
        assert_eq!(show("-1 day"), "-1 days");
        assert_eq!(show("1 2:03"), "1 day 02:03:00");
        assert_eq!(show("1-2"), "1 year 2 mons");
        assert_eq!(show("@ 1 hour ago"), "-01:00:00");
        assert_eq!(show("P1Y2M3DT4H5M6S"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(show("P0001-02-03T04:05:06"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(show("1 week 2147483647 days"), "ERROR 22015");
        assert_eq!(show("1 fortnight"), "ERROR 22007");
    }

    #[test]
    fn typmods_pick_the_unit_and_round() {
        let year_to_month = IntervalTypmod::range(FIELD_YEAR, Some(FIELD_MONTH)).expect("range");
        let i = parse_interval_typmod("1", &year_to_month).expect("parse");
        assert_eq!(format_interval_as(&i, IntervalStyle::Postgres), "1 mon");
        let zero = IntervalTypmod { fields: None, precision: Some(0) };
        let i = parse_interval_typmod("1.5 sec", &zero).expect("parse");
        assert_eq!(format_interval_as(&i, IntervalStyle::Postgres), "00:00:02");
    }

    #[test]
    fn every_style_prints_like_postgres() {
        let i = Interval { months: 14, days: 3, micros: (4 * 3600 + 5 * 60 + 6) * SECOND };
        assert_eq!(format_interval_as(&i, IntervalStyle::Postgres), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(
            format_interval_as(&i, IntervalStyle::PostgresVerbose),
            "@ 1 year 2 mons 3 days 4 hours 5 mins 6 secs"
        );
        assert_eq!(format_interval_as(&i, IntervalStyle::SqlStandard), "+1-2 +3 +4:05:06");
        assert_eq!(format_interval_as(&i, IntervalStyle::Iso8601), "P1Y2M3DT4H5M6S");
        let neg = Interval { months: 0, days: 0, micros: -SECOND / 2 };
        assert_eq!(format_interval_as(&neg, IntervalStyle::PostgresVerbose), "@ 0.5 secs ago");
    }

    #[test]
    fn multiplication_spills_like_postgres() {
        let month = Interval { months: 1, days: 0, micros: 0 };
        assert_eq!(
            format_interval_as(&month.mul(1.5).expect("mul"), IntervalStyle::Postgres),
            "1 mon 15 days"
        );
        assert_eq!(
            format_interval_as(&month.div(7.0).expect("div"), IntervalStyle::Postgres),
            "4 days 06:51:25.6896"
        );
    }
}
