//! Date, time and timestamp output in each `DateStyle` (PostgreSQL's `EncodeDateOnly`,
//! `EncodeTimeOnly` and `EncodeDateTime`), and `timestamptz` in the session's zone.
//!
//! | style    | date         | timestamptz                          |
//! |----------|--------------|--------------------------------------|
//! | ISO      | `1999-01-08` | `1999-01-08 04:05:06-08`             |
//! | SQL      | `01/08/1999` | `01/08/1999 04:05:06 PST`            |
//! | Postgres | `01-08-1999` | `Fri Jan 08 04:05:06 1999 PST`       |
//! | German   | `08.01.1999` | `08.01.1999 04:05:06 PST`            |
//!
//! SQL and Postgres put the day first in DMY order. Fractional seconds print without
//! trailing zeros; years before 1 AD print with ` BC`.

use std::fmt::Write;

use super::calendar::{self, Civil, DAY, HOUR, MINUTE, SECOND};
use super::settings::{self, DateOrder, DateStyle};
use super::zone::{LocalOffset, Zone, numeric_abbreviation};

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// The year as printed: BC years count from 1 (astronomical 0 is 1 BC).
fn display_year(year: i64) -> i64 {
    if year > 0 { year } else { 1 - year }
}

/// A date in the session's style.
pub fn format_date(days: i64) -> String {
    let s = &settings::current().settings;
    format_date_as(days, s.date_style, s.date_order)
}

/// A date in a given style.
pub fn format_date_as(days: i64, style: DateStyle, order: DateOrder) -> String {
    match days {
        calendar::DATE_INFINITY => return "infinity".into(),
        calendar::DATE_NEG_INFINITY => return "-infinity".into(),
        _ => {}
    }
    let (y, m, d) = calendar::civil_from_days(days);
    let year = display_year(y);
    let mut out = match style {
        DateStyle::Iso => format!("{year:04}-{m:02}-{d:02}"),
        DateStyle::Sql if order == DateOrder::Dmy => format!("{d:02}/{m:02}/{year:04}"),
        DateStyle::Sql => format!("{m:02}/{d:02}/{year:04}"),
        DateStyle::German => format!("{d:02}.{m:02}.{year:04}"),
        DateStyle::Postgres if order == DateOrder::Dmy => format!("{d:02}-{m:02}-{year:04}"),
        DateStyle::Postgres => format!("{m:02}-{d:02}-{year:04}"),
    };
    if y <= 0 {
        out.push_str(" BC");
    }
    out
}

/// Seconds with their fraction, trailing zeros dropped (PostgreSQL's `AppendSeconds`).
pub fn append_seconds(out: &mut String, seconds: i64, micros: i64, zero_pad: bool) {
    if zero_pad {
        let _ = write!(out, "{:02}", seconds.abs());
    } else {
        let _ = write!(out, "{}", seconds.abs());
    }
    if micros != 0 {
        let digits = format!("{:06}", micros.abs());
        let _ = write!(out, ".{}", digits.trim_end_matches('0'));
    }
}

/// A time of day, `HH:MM:SS[.ffffff]` (the same in every style).
pub fn format_time(micros: i64) -> String {
    let mut out = format!("{:02}:{:02}:", micros / HOUR, micros % HOUR / MINUTE);
    append_seconds(&mut out, micros % MINUTE / SECOND, micros % SECOND, true);
    out
}

/// A timestamp without time zone in the session's style.
pub fn format_timestamp(micros: i64) -> String {
    let s = &settings::current().settings;
    format_timestamp_as(micros, None, s.date_style, s.date_order)
}

/// A timestamp with time zone, shown in the session's zone and style.
pub fn format_timestamptz(utc: i64) -> String {
    let cx = settings::current();
    format_timestamptz_in(utc, &cx.settings.zone, cx.settings.date_style, cx.settings.date_order)
}

/// A timestamp with time zone shown in `zone`.
pub fn format_timestamptz_in(utc: i64, zone: &Zone, style: DateStyle, order: DateOrder) -> String {
    if !calendar::timestamp_is_finite(utc) {
        return format_timestamp_as(utc, None, style, order);
    }
    let offset = zone.offset_at(utc);
    match zone.utc_to_local(utc) {
        Some(local) => format_timestamp_as(local, Some(&offset), style, order),
        None => format_timestamp_as(utc, None, style, order),
    }
}

/// A (local) timestamp in a style, with the zone's offset and abbreviation if it has one.
pub fn format_timestamp_as(
    micros: i64,
    zone: Option<&LocalOffset>,
    style: DateStyle,
    order: DateOrder,
) -> String {
    match micros {
        calendar::TIMESTAMP_INFINITY => return "infinity".into(),
        calendar::TIMESTAMP_NEG_INFINITY => return "-infinity".into(),
        _ => {}
    }
    let c = Civil::from_micros(micros);
    let year = display_year(c.year);
    let (m, d) = (c.month, c.day);
    let mut out = String::with_capacity(32);
    let clock = |out: &mut String| {
        let _ = write!(out, "{:02}:{:02}:", c.hour, c.minute);
        append_seconds(out, c.second, c.micro, true);
    };
    // The zone as text styles show it: the abbreviation, else the numeric offset.
    let named = |out: &mut String, z: &LocalOffset| {
        let _ = write!(out, " {}", z.abbreviation);
    };
    match style {
        DateStyle::Iso => {
            let _ = write!(out, "{year:04}-{m:02}-{d:02} ");
            clock(&mut out);
            if let Some(z) = zone {
                out.push_str(&numeric_abbreviation(z.east));
            }
        }
        DateStyle::Sql | DateStyle::German => {
            let _ = match (style, order) {
                (DateStyle::German, _) => write!(out, "{d:02}.{m:02}.{year:04} "),
                (_, DateOrder::Dmy) => write!(out, "{d:02}/{m:02}/{year:04} "),
                _ => write!(out, "{m:02}/{d:02}/{year:04} "),
            };
            clock(&mut out);
            if let Some(z) = zone {
                named(&mut out, z);
            }
        }
        DateStyle::Postgres => {
            let weekday = WEEKDAYS[calendar::weekday(micros.div_euclid(DAY)) as usize];
            let month = MONTHS[(m - 1) as usize];
            let _ = if order == DateOrder::Dmy {
                write!(out, "{weekday} {d:02} {month} ")
            } else {
                write!(out, "{weekday} {month} {d:02} ")
            };
            clock(&mut out);
            let _ = write!(out, " {year:04}");
            if let Some(z) = zone {
                named(&mut out, z);
            }
        }
    }
    if c.year <= 0 {
        out.push_str(" BC");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_style_prints_like_postgres() {
        let ts = (calendar::days_from_civil(1999, 1, 8) * DAY) + (4 * 3600 + 5 * 60 + 6) * SECOND + 500_000;
        let offset = LocalOffset { east: -8 * 3600, abbreviation: "PST".into(), dst: false };
        let f = |style, order| format_timestamp_as(ts, Some(&offset), style, order);
        assert_eq!(f(DateStyle::Iso, DateOrder::Mdy), "1999-01-08 04:05:06.5-08");
        assert_eq!(f(DateStyle::Sql, DateOrder::Mdy), "01/08/1999 04:05:06.5 PST");
        assert_eq!(f(DateStyle::Sql, DateOrder::Dmy), "08/01/1999 04:05:06.5 PST");
        assert_eq!(f(DateStyle::Postgres, DateOrder::Mdy), "Fri Jan 08 04:05:06.5 1999 PST");
        assert_eq!(f(DateStyle::German, DateOrder::Mdy), "08.01.1999 04:05:06.5 PST");
        assert_eq!(
            format_date_as(calendar::days_from_civil(-98, 1, 8), DateStyle::Iso, DateOrder::Mdy),
            "0099-01-08 BC"
        );
        assert_eq!(format_time(DAY), "24:00:00");
    }
}
