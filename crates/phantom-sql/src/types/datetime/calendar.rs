//! The calendar: days, Julian day numbers, broken-down times, and the ranges PostgreSQL
//! allows.
//!
//! A DATE is a day count since 1970-01-01 and a TIMESTAMP a microsecond count since
//! 1970-01-01 00:00, both in the proleptic Gregorian calendar with astronomical years
//! (1 BC is year 0). Conversions use Howard Hinnant's days-from-civil algorithms: exact
//! over the whole range, no tables. The two infinities are the extremes of `i64`, so they
//! sort below and above every finite value without special cases in comparisons.
//!
//! PostgreSQL's ranges: a date from 4713 BC (Julian day 0, 4714-11-24 BC) to 5874897 AD,
//! a timestamp from 4713 BC to 294276 AD. A timestamp here counts from 1970, not 2000 as
//! in PostgreSQL, so its `i64` ends earlier: the last timestamp is 294247-01-10
//! 04:00:54.775806 (a known difference, in docs/sql.md). Values outside the range are
//! rejected at input and by every operation that could make one (22008).

use crate::error::{Error, Result, SqlState};

/// Microseconds per second, minute, hour and day.
pub const SECOND: i64 = 1_000_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// The Julian day number of 1970-01-01.
pub const UNIX_EPOCH_JULIAN: i64 = 2_440_588;

/// `date '-infinity'` and `date 'infinity'`.
pub const DATE_NEG_INFINITY: i64 = i64::MIN;
pub const DATE_INFINITY: i64 = i64::MAX;
/// The first valid date (4714-11-24 BC, Julian day 0) and the day after the last one
/// (5874898-01-01), as days since 1970-01-01.
pub const DATE_MIN: i64 = -UNIX_EPOCH_JULIAN;
pub const DATE_END: i64 = 2_147_483_494 - UNIX_EPOCH_JULIAN;

/// `timestamp '-infinity'` and `timestamp 'infinity'`.
pub const TIMESTAMP_NEG_INFINITY: i64 = i64::MIN;
pub const TIMESTAMP_INFINITY: i64 = i64::MAX;
/// The first valid timestamp (4714-11-24 00:00 BC) and the end of the range (exclusive).
pub const TIMESTAMP_MIN: i64 = DATE_MIN * DAY;
pub const TIMESTAMP_END: i64 = i64::MAX;

/// True for a date that is neither infinity.
pub fn date_is_finite(days: i64) -> bool {
    days != DATE_NEG_INFINITY && days != DATE_INFINITY
}

/// True for a timestamp that is neither infinity.
pub fn timestamp_is_finite(micros: i64) -> bool {
    micros != TIMESTAMP_NEG_INFINITY && micros != TIMESTAMP_INFINITY
}

/// True for a finite date inside PostgreSQL's range.
pub fn date_in_range(days: i64) -> bool {
    (DATE_MIN..DATE_END).contains(&days)
}

/// True for a finite timestamp inside the range.
pub fn timestamp_in_range(micros: i64) -> bool {
    (TIMESTAMP_MIN..TIMESTAMP_END).contains(&micros)
}

/// 22008 "date out of range".
pub fn date_out_of_range() -> Error {
    Error::new(SqlState::DatetimeFieldOverflow, "date out of range")
}

/// 22008 "timestamp out of range".
pub fn timestamp_out_of_range() -> Error {
    Error::new(SqlState::DatetimeFieldOverflow, "timestamp out of range")
}

/// Checks a computed date (infinities pass).
pub fn check_date(days: i64) -> Result<i64> {
    if !date_is_finite(days) || date_in_range(days) { Ok(days) } else { Err(date_out_of_range()) }
}

/// Checks a computed timestamp (infinities pass).
pub fn check_timestamp(micros: i64) -> Result<i64> {
    if !timestamp_is_finite(micros) || timestamp_in_range(micros) {
        Ok(micros)
    } else {
        Err(timestamp_out_of_range())
    }
}

/// Days since 1970-01-01 of a civil date (astronomical year numbering).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// True in a Gregorian leap year.
pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days of a month.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Day of the week, 0 = Sunday.
pub fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

/// A broken-down date and time of day, as PostgreSQL's `struct pg_tm` (without a zone).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Civil {
    /// Astronomical year: 0 is 1 BC.
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    /// Microseconds of the second.
    pub micro: i64,
}

impl Civil {
    /// The broken-down form of a (finite) timestamp.
    pub fn from_micros(micros: i64) -> Civil {
        let days = micros.div_euclid(DAY);
        let time = micros.rem_euclid(DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: time / HOUR,
            minute: time % HOUR / MINUTE,
            second: time % MINUTE / SECOND,
            micro: time % SECOND,
        }
    }

    /// Days since 1970-01-01 of the date part.
    pub fn days(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// Microseconds since midnight of the time part (a leap second rolls over).
    pub fn time_micros(&self) -> i64 {
        self.hour * HOUR + self.minute * MINUTE + self.second * SECOND + self.micro
    }

    /// The timestamp, `None` when it does not fit.
    pub fn to_micros(&self) -> Option<i64> {
        self.days().checked_mul(DAY)?.checked_add(self.time_micros())
    }

    /// True when PostgreSQL's `IS_VALID_JULIAN` accepts the date: from November 4714 BC
    /// to the start of June 5874898 (the range checks after conversion finish the job).
    pub fn is_valid_julian(&self) -> bool {
        (self.year > -4713 || (self.year == -4713 && self.month >= 11))
            && (self.year < 5_874_898 || (self.year == 5_874_898 && self.month < 6))
    }
}

/// The civil date of a Julian day number.
pub fn civil_from_julian(julian: i64) -> (i64, u32, u32) {
    civil_from_days(julian - UNIX_EPOCH_JULIAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_over_the_whole_range() {
        for days in [DATE_MIN, -800_000, -1, 0, 1, 59, 60, 11_016, 19_000, 2_932_896, DATE_END - 1] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(DATE_MIN), (-4713, 11, 24));
        assert_eq!(civil_from_days(DATE_END - 1), (5_874_897, 12, 31));
        assert_eq!(civil_from_julian(2_451_545), (2000, 1, 1));
        assert_eq!(Civil::from_micros(TIMESTAMP_MIN).year, -4713);
        assert_eq!(Civil::from_micros(i64::MAX - 1).year, 294_247);
    }
}
