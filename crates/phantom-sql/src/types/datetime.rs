//! Dates, times, timestamps and intervals: their representation, text forms and
//! arithmetic.
//!
//! - DATE: days since 1970-01-01 (proleptic Gregorian calendar).
//! - TIME: microseconds since midnight.
//! - TIMESTAMP and TIMESTAMP WITH TIME ZONE: microseconds since 1970-01-01 00:00:00 UTC.
//!   The session time zone is always UTC, so the two differ only in how they print
//!   (`+00` after a TIMESTAMPTZ) and in accepting an offset on input, which is applied.
//! - INTERVAL: months, days and microseconds kept apart, as in PostgreSQL, because a month
//!   is not a fixed number of days nor a day a fixed number of hours across time zones.
//!
//! Calendar conversions use Howard Hinnant's days-from-civil algorithms: exact over the
//! whole range, no tables.

use std::fmt::Write;

/// Microseconds per second, minute, hour and day.
pub const SECOND: i64 = 1_000_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// An interval: months, days and microseconds, each signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    /// The interval as microseconds, counting a month as 30 days (PostgreSQL's rule for
    /// comparing intervals).
    pub fn approximate_micros(&self) -> i128 {
        (i128::from(self.months) * 30 + i128::from(self.days)) * i128::from(DAY) + i128::from(self.micros)
    }
}

/// Days since 1970-01-01 of a civil date.
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

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn number(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let year = number(parts.next()?)?;
    let month = u32::try_from(number(parts.next()?)?).ok()?;
    let day = u32::try_from(number(parts.next()?)?).ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Parses a DATE as PostgreSQL's input takes it: `YYYY-MM-DD`, optionally followed by a
/// time of day and a time zone, which are checked and then ignored (JDBC's `setDate`
/// sends `2024-02-01 +00`).
pub fn parse_date_input(text: &str) -> Option<i64> {
    let text = text.trim();
    match text.find([' ', 'T']) {
        None => parse_date(text),
        Some(i) => {
            parse_timestamp(text)?;
            parse_date(&text[..i])
        }
    }
}

/// Parses `HH:MM[:SS[.ffffff]]` into microseconds since midnight.
pub fn parse_time(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, ':');
    let hour = number(parts.next()?)?;
    let minute = number(parts.next()?)?;
    let (second, fraction) = match parts.next() {
        None => (0, 0),
        Some(s) => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
            let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
            (number(whole)?, if frac.is_empty() { 0 } else { number(&digits)? })
        }
    };
    if hour > 24 || minute > 59 || second > 60 || (hour == 24 && (minute, second, fraction) != (0, 0, 0)) {
        return None;
    }
    Some(hour * HOUR + minute * MINUTE + second * SECOND + fraction)
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.f]]][Z|±HH[:MM]]` into microseconds since the epoch
/// (UTC; an offset given is applied).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = match text.find([' ', 'T']) {
        Some(i) => (&text[..i], text[i + 1..].trim()),
        None => (text, ""),
    };
    let days = parse_date(date)?;
    if rest.is_empty() {
        return Some(days * DAY);
    }
    let (time, offset) = split_offset(rest)?;
    // A zone alone (`2024-02-01 +00`) means midnight, as in PostgreSQL.
    let time = if time.is_empty() { 0 } else { parse_time(time)? };
    Some(days * DAY + time - offset)
}

/// Splits a trailing `Z`, `+HH[:MM]` or `-HH[:MM]` off a time; returns the offset in
/// microseconds.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(time) = text.strip_suffix('Z').or_else(|| text.strip_suffix("UTC")) {
        return Some((time.trim(), 0));
    }
    let Some(i) = text.rfind(['+', '-']) else { return Some((text, 0)) };
    let (time, offset) = (&text[..i], &text[i..]);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let (hours, minutes) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
    Some((time.trim(), sign * (number(hours)? * HOUR + number(minutes)? * MINUTE)))
}

/// Formats days since the epoch as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    if y > 0 { format!("{y:04}-{m:02}-{d:02}") } else { format!("{:04}-{m:02}-{d:02} BC", 1 - y) }
}

/// Formats microseconds since midnight as `HH:MM:SS[.ffffff]` (trailing zeros trimmed).
pub fn format_time(micros: i64) -> String {
    let mut out =
        format!("{:02}:{:02}:{:02}", micros / HOUR, micros % HOUR / MINUTE, micros % MINUTE / SECOND);
    let fraction = micros % SECOND;
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        let _ = write!(out, ".{}", digits.trim_end_matches('0'));
    }
    out
}

/// Formats microseconds since the epoch as `YYYY-MM-DD HH:MM:SS[.ffffff]`.
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(DAY);
    format!("{} {}", format_date(days), format_time(micros.rem_euclid(DAY)))
}

/// Formats an interval as PostgreSQL does: `1 year 2 mons 3 days 04:05:06`.
pub fn format_interval(i: &Interval) -> String {
    let mut parts = Vec::new();
    let (years, months) = (i.months / 12, i.months % 12);
    let unit = |n: i32, one: &str, many: &str| format!("{n} {}", if n == 1 || n == -1 { one } else { many });
    if years != 0 {
        parts.push(unit(years, "year", "years"));
    }
    if months != 0 {
        parts.push(unit(months, "mon", "mons"));
    }
    if i.days != 0 {
        parts.push(unit(i.days, "day", "days"));
    }
    if i.micros != 0 || parts.is_empty() {
        let sign = if i.micros < 0 { "-" } else { "" };
        parts.push(format!("{sign}{}", format_time(i.micros.abs())));
    }
    parts.join(" ")
}

/// Parses an interval in PostgreSQL's verbose form (`1 year 2 months 3 days 04:05:06`,
/// `90 minutes`, `-1 day`, `@ 2 hours ago` is not supported).
pub fn parse_interval(text: &str) -> Option<Interval> {
    let mut out = Interval::default();
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        if word.contains(':') {
            let (sign, t) = match word.strip_prefix('-') {
                Some(t) => (-1, t),
                None => (1, word.strip_prefix('+').unwrap_or(word)),
            };
            out.micros += sign * parse_time_of_interval(t)?;
            i += 1;
            continue;
        }
        let n: f64 = word.parse().ok()?;
        let unit = words.get(i + 1)?.to_ascii_lowercase();
        let unit = unit.trim_end_matches(',');
        // Plurals: "days", "mons", "secs" (but "ms" and "us" are units of their own).
        let unit = if unit.len() > 3 { unit.strip_suffix('s').unwrap_or(unit) } else { unit };
        match unit {
            "year" | "yr" | "yrs" | "y" => out.months += (n * 12.0) as i32,
            "mon" | "month" => out.months += n as i32,
            "week" | "w" => out.days += (n * 7.0) as i32,
            "day" | "d" => out.days += n as i32,
            "hour" | "hr" | "hrs" | "h" => out.micros += (n * HOUR as f64) as i64,
            "minute" | "min" | "m" => out.micros += (n * MINUTE as f64) as i64,
            "second" | "sec" | "s" => out.micros += (n * SECOND as f64) as i64,
            "millisecond" | "ms" => out.micros += (n * 1000.0) as i64,
            "microsecond" | "us" => out.micros += n as i64,
            _ => return None,
        }
        i += 2;
    }
    Some(out)
}

/// `HH:MM[:SS[.f]]` of an interval, where hours may exceed 24.
fn parse_time_of_interval(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, ':');
    let hours = number(parts.next()?)?;
    let minutes = number(parts.next()?)?;
    let seconds = match parts.next() {
        None => 0,
        Some(s) => (s.parse::<f64>().ok()? * SECOND as f64) as i64,
    };
    Some(hours * HOUR + minutes * MINUTE + seconds)
}

/// `timestamp + interval`: months first (clamping the day to the month's end, as
/// PostgreSQL does), then days, then microseconds.
pub fn add_interval(micros: i64, i: &Interval) -> Option<i64> {
    let days = micros.div_euclid(DAY);
    let time = micros.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + i64::from(m) - 1 + i64::from(i.months);
    let (year, month) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let day = d.min(days_in_month(year, month));
    let days = days_from_civil(year, month, day).checked_add(i64::from(i.days))?;
    days.checked_mul(DAY)?.checked_add(time)?.checked_add(i.micros)
}

/// The field of EXTRACT / date_part of a timestamp (microseconds since the epoch).
pub fn extract_timestamp(field: &str, micros: i64) -> Option<f64> {
    let days = micros.div_euclid(DAY);
    let time = micros.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    Some(match field {
        "year" => y as f64,
        "month" => f64::from(m),
        "day" => f64::from(d),
        "hour" => (time / HOUR) as f64,
        "minute" => (time % HOUR / MINUTE) as f64,
        "second" => (time % MINUTE) as f64 / SECOND as f64,
        "epoch" => micros as f64 / SECOND as f64,
        "dow" => (days + 4).rem_euclid(7) as f64,
        "doy" => (days - days_from_civil(y, 1, 1) + 1) as f64,
        "quarter" => f64::from((m - 1) / 3 + 1),
        "century" => ((y - 1).div_euclid(100) + 1) as f64,
        "millennium" => ((y - 1).div_euclid(1000) + 1) as f64,
        "decade" => y.div_euclid(10) as f64,
        _ => return None,
    })
}

/// `date_trunc(field, timestamp)`.
pub fn trunc_timestamp(field: &str, micros: i64) -> Option<i64> {
    let days = micros.div_euclid(DAY);
    let time = micros.rem_euclid(DAY);
    let (y, m, _) = civil_from_days(days);
    Some(match field {
        "year" => days_from_civil(y, 1, 1) * DAY,
        "quarter" => days_from_civil(y, (m - 1) / 3 * 3 + 1, 1) * DAY,
        "month" => days_from_civil(y, m, 1) * DAY,
        "week" => (days - (days + 3).rem_euclid(7)) * DAY,
        "day" => days * DAY,
        "hour" => days * DAY + time / HOUR * HOUR,
        "minute" => days * DAY + time / MINUTE * MINUTE,
        "second" => days * DAY + time / SECOND * SECOND,
        "millisecond" => days * DAY + time / 1000 * 1000,
        "microsecond" => micros,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        for days in [-800_000, -1, 0, 1, 59, 60, 11_016, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(parse_date("2000-02-29"), Some(11_016));
        assert_eq!(parse_date("1900-02-29"), None);
        assert_eq!(parse_date_input("2000-02-29 +00"), Some(11_016));
        assert_eq!(
            parse_date_input("2000-02-29 23:59:59-05"),
            Some(11_016),
            "the zone is ignored, not applied"
        );
        assert_eq!(parse_date_input("2000-02-29T12:00"), Some(11_016));
        assert_eq!(parse_date_input("2000-02-29 nonsense"), None);
        assert_eq!(format_date(0), "1970-01-01");
    }

    #[test]
    fn timestamps_parse_and_print() {
        let ts = parse_timestamp("2024-03-01 12:34:56.5").expect("parse");
        assert_eq!(format_timestamp(ts), "2024-03-01 12:34:56.5");
        assert_eq!(parse_timestamp("2024-03-01T12:00:00+02:00"), parse_timestamp("2024-03-01 10:00:00"));
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999999");
        assert!(parse_timestamp("2024-13-01").is_none());
    }

    #[test]
    fn interval_arithmetic_clamps_month_ends() {
        let jan31 = parse_timestamp("2023-01-31").expect("parse");
        let plus = add_interval(jan31, &Interval { months: 1, days: 0, micros: 0 }).expect("add");
        assert_eq!(format_timestamp(plus), "2023-02-28 00:00:00");
        let i = parse_interval("1 year 2 mons 3 days 04:05:06").expect("parse");
        assert_eq!(format_interval(&i), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(parse_interval("90 minutes").map(|i| i.micros), Some(90 * MINUTE));
    }

    #[test]
    fn extract_and_trunc() {
        let ts = parse_timestamp("2024-05-17 13:45:30").expect("parse");
        assert_eq!(extract_timestamp("year", ts), Some(2024.0));
        assert_eq!(extract_timestamp("dow", ts), Some(5.0));
        assert_eq!(extract_timestamp("doy", ts), Some(138.0));
        assert_eq!(
            trunc_timestamp("month", ts).map(format_timestamp).as_deref(),
            Some("2024-05-01 00:00:00")
        );
    }
}
