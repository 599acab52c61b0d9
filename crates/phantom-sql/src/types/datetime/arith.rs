//! Date and time arithmetic: `timestamp ± interval`, differences, and conversions
//! between the date and time types that depend on the session's zone.
//!
//! Adding an interval works field by field as in PostgreSQL: months first (the day is
//! clamped to the end of a shorter month, so Jan 31 + 1 month is Feb 28/29), then days,
//! then microseconds. For a `timestamptz` the months and days are added to the local
//! time in the session's zone and the result is converted back, so `+ 1 day` keeps the
//! wall-clock time across a daylight-saving change while `+ 24 hours` does not.

use super::calendar::{self, Civil, DAY, check_date, check_timestamp, timestamp_out_of_range};
use super::interval::{Interval, interval_out_of_range};
use super::settings;
use super::zone::Zone;
use crate::error::{Error, Result, SqlState};

/// Adds months and days to a local (wall-clock) timestamp.
fn add_months_and_days(local: i64, i: &Interval) -> Result<i64> {
    let mut micros = local;
    if i.months != 0 {
        let c = Civil::from_micros(micros);
        let total = c.year * 12 + i64::from(c.month) - 1 + i64::from(i.months);
        let (year, month) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        let day = c.day.min(calendar::days_in_month(year, month));
        let shifted = Civil { year, month, day, ..c };
        if !shifted.is_valid_julian() {
            return Err(timestamp_out_of_range());
        }
        micros = shifted.to_micros().ok_or_else(timestamp_out_of_range)?;
    }
    if i.days != 0 {
        micros = micros.checked_add(i64::from(i.days) * DAY).ok_or_else(timestamp_out_of_range)?;
    }
    Ok(micros)
}

/// `timestamp + interval` (without time zone).
pub fn timestamp_plus(micros: i64, i: &Interval) -> Result<i64> {
    if !calendar::timestamp_is_finite(micros) {
        return Ok(micros);
    }
    let t = add_months_and_days(micros, i)?;
    check_timestamp(t.checked_add(i.micros).ok_or_else(timestamp_out_of_range)?)
}

/// `timestamptz + interval` in the session's zone.
pub fn timestamptz_plus(utc: i64, i: &Interval) -> Result<i64> {
    timestamptz_plus_in(utc, i, &settings::current().settings.zone)
}

/// `timestamptz + interval`, months and days counted in `zone`.
pub fn timestamptz_plus_in(utc: i64, i: &Interval, zone: &Zone) -> Result<i64> {
    if !calendar::timestamp_is_finite(utc) {
        return Ok(utc);
    }
    let mut t = utc;
    if i.months != 0 || i.days != 0 {
        let local = zone.utc_to_local(utc).ok_or_else(timestamp_out_of_range)?;
        let shifted = add_months_and_days(local, i)?;
        t = zone.local_to_utc(shifted).ok_or_else(timestamp_out_of_range)?;
    }
    check_timestamp(t.checked_add(i.micros).ok_or_else(timestamp_out_of_range)?)
}

/// `timestamp - timestamp`: the difference in days and time (PostgreSQL's
/// `timestamp_mi`, which justifies hours into days).
pub fn timestamp_minus(a: i64, b: i64) -> Result<Interval> {
    if !calendar::timestamp_is_finite(a) || !calendar::timestamp_is_finite(b) {
        return Err(Error::new(SqlState::DatetimeFieldOverflow, "cannot subtract infinite timestamps"));
    }
    let micros = a.checked_sub(b).ok_or_else(interval_out_of_range)?;
    Interval { months: 0, days: 0, micros }.justify_hours()
}

/// `date ± integer`.
pub fn date_plus_days(days: i64, n: i64) -> Result<i64> {
    if !calendar::date_is_finite(days) {
        return Ok(days);
    }
    check_date(days.checked_add(n).ok_or_else(calendar::date_out_of_range)?)
}

/// `date - date`: days.
pub fn date_minus(a: i64, b: i64) -> Result<i64> {
    if !calendar::date_is_finite(a) || !calendar::date_is_finite(b) {
        return Err(Error::new(SqlState::DatetimeFieldOverflow, "cannot subtract infinite dates"));
    }
    Ok(a - b)
}

/// A date as the timestamp of its midnight (22008 beyond the timestamp range).
pub fn date_to_timestamp(days: i64) -> Result<i64> {
    match days {
        calendar::DATE_INFINITY => Ok(calendar::TIMESTAMP_INFINITY),
        calendar::DATE_NEG_INFINITY => Ok(calendar::TIMESTAMP_NEG_INFINITY),
        d => d
            .checked_mul(DAY)
            .filter(|t| calendar::timestamp_in_range(*t))
            .ok_or_else(|| Error::new(SqlState::DatetimeFieldOverflow, "date out of range for timestamp")),
    }
}

/// A date as the `timestamptz` of its midnight in the session's zone.
pub fn date_to_timestamptz(days: i64) -> Result<i64> {
    let local = date_to_timestamp(days)?;
    if !calendar::timestamp_is_finite(local) {
        return Ok(local);
    }
    let zone = &settings::current().settings.zone;
    check_timestamp(zone.local_to_utc(local).ok_or_else(timestamp_out_of_range)?)
}

/// The date of a timestamp.
pub fn timestamp_to_date(micros: i64) -> i64 {
    match micros {
        calendar::TIMESTAMP_INFINITY => calendar::DATE_INFINITY,
        calendar::TIMESTAMP_NEG_INFINITY => calendar::DATE_NEG_INFINITY,
        t => t.div_euclid(DAY),
    }
}

/// A `timestamptz` as the local timestamp in the session's zone (`timestamptz::timestamp`).
pub fn timestamptz_to_local(utc: i64) -> Result<i64> {
    timestamptz_to_local_in(utc, &settings::current().settings.zone)
}

/// A `timestamptz` as the local timestamp in `zone` (`AT TIME ZONE`).
pub fn timestamptz_to_local_in(utc: i64, zone: &Zone) -> Result<i64> {
    if !calendar::timestamp_is_finite(utc) {
        return Ok(utc);
    }
    check_timestamp(zone.utc_to_local(utc).ok_or_else(timestamp_out_of_range)?)
}

/// A local timestamp as the instant it is in the session's zone (`timestamp::timestamptz`).
pub fn local_to_timestamptz(local: i64) -> Result<i64> {
    local_to_timestamptz_in(local, &settings::current().settings.zone)
}

/// A local timestamp as the instant it is in `zone` (`timestamp AT TIME ZONE zone`).
pub fn local_to_timestamptz_in(local: i64, zone: &Zone) -> Result<i64> {
    if !calendar::timestamp_is_finite(local) {
        return Ok(local);
    }
    check_timestamp(zone.local_to_utc(local).ok_or_else(timestamp_out_of_range)?)
}

/// 22008 for an infinite timestamp where a finite one is needed (`timestamp::time`).
pub fn require_finite(micros: i64) -> Result<i64> {
    if calendar::timestamp_is_finite(micros) { Ok(micros) } else { Err(timestamp_out_of_range()) }
}
