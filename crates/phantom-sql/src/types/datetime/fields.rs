//! Fields of dates, times and intervals: `EXTRACT` / `date_part`, `date_trunc`,
//! `date_bin`, `age` and the `make_*` constructors.
//!
//! `EXTRACT` returns NUMERIC in PostgreSQL 15 (seconds with six decimals, `epoch` of a
//! timestamp with six, of a date with none), `date_part` the same value as a double.
//! Which units a type has follows PostgreSQL: a DATE has no `hour` (0A000, "unit "hour"
//! not supported for type date"), a TIME no `day`, a timestamp without time zone no
//! `timezone`; a unit that is no unit at all is 22023. Infinite inputs give ±Infinity
//! for the unbounded fields (`epoch`, `year`, ...) and NULL for the others.

use super::arith;
use super::calendar::{self, Civil, DAY, HOUR, MINUTE, SECOND, UNIX_EPOCH_JULIAN};
use super::interval::Interval;
use super::settings;
use super::zone::Zone;
use crate::error::{Error, Result, SqlState};
use crate::types::{Decimal, Value};

/// A unit of EXTRACT, date_part and date_trunc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Microseconds,
    Milliseconds,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    DayOfWeek,
    IsoDayOfWeek,
    DayOfYear,
    IsoYear,
    Julian,
    Epoch,
    Timezone,
    TimezoneHour,
    TimezoneMinute,
}

impl Unit {
    /// A unit by name (any case, PostgreSQL's plurals and abbreviations); `None` for
    /// an unknown one.
    pub fn parse(name: &str) -> Option<Unit> {
        use Unit::*;
        let lower = name.to_ascii_lowercase();
        let word = match lower.char_indices().nth(10) {
            Some((at, _)) => &lower[..at],
            None => &lower,
        };
        Some(match word {
            "microsecon" | "us" | "usec" | "usecs" | "useconds" | "microsecond" => Microseconds,
            "millisecon" | "ms" | "msec" | "msecs" | "mseconds" | "millisecond" => Milliseconds,
            "s" | "sec" | "secs" | "second" | "seconds" => Second,
            "m" | "min" | "mins" | "minute" | "minutes" => Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Hour,
            "d" | "day" | "days" => Day,
            "w" | "week" | "weeks" => Week,
            "mon" | "mons" | "month" | "months" => Month,
            "qtr" | "quarter" => Quarter,
            "y" | "yr" | "yrs" | "year" | "years" => Year,
            "dec" | "decs" | "decade" | "decades" => Decade,
            "c" | "cent" | "century" | "centuries" => Century,
            "mil" | "mils" | "millennia" | "millennium" => Millennium,
            "dow" => DayOfWeek,
            "isodow" => IsoDayOfWeek,
            "doy" => DayOfYear,
            "isoyear" => IsoYear,
            "j" | "jd" | "julian" => Julian,
            "epoch" => Epoch,
            "timezone" => Timezone,
            "timezone_h" => TimezoneHour,
            "timezone_m" => TimezoneMinute,
            _ => return None,
        })
    }
}

fn not_recognized(name: &str, type_name: &str) -> Error {
    Error::new(
        SqlState::InvalidParameterValue,
        format!("unit \"{}\" not recognized for type {type_name}", name.to_ascii_lowercase()),
    )
}

fn not_supported(name: &str, type_name: &str) -> Error {
    Error::new(
        SqlState::FeatureNotSupported,
        format!("unit \"{}\" not supported for type {type_name}", name.to_ascii_lowercase()),
    )
}

/// A field's value: exact (coefficient and scale) or infinite.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    Exact(i128, u8),
    /// `julian`: a whole day number plus a fraction of a day, divided as NUMERIC does.
    Julian(i64, i64),
    PlusInfinity,
    MinusInfinity,
    Null,
}

fn int(v: i64) -> Part {
    Part::Exact(i128::from(v), 0)
}

/// `year` of a broken-down year: there is no year 0 (1 BC is -1).
fn sql_year(year: i64) -> i64 {
    if year > 0 { year } else { year - 1 }
}

/// The ISO 8601 week number and week-numbering year of a day.
fn iso_week(days: i64) -> (i64, i64) {
    let (year, _, _) = calendar::civil_from_days(days);
    let week_start = |y: i64| {
        let jan4 = calendar::days_from_civil(y, 1, 4);
        jan4 - i64::from((calendar::weekday(jan4) + 6) % 7)
    };
    let mut iso_year = year;
    if days < week_start(year) {
        iso_year -= 1;
    } else if days >= week_start(year + 1) {
        iso_year += 1;
    }
    ((days - week_start(iso_year)) / 7 + 1, iso_year)
}

/// The date fields every type with a date has.
fn date_part_of(unit: Unit, c: &Civil, days: i64) -> Option<Part> {
    use Unit::*;
    let y = c.year;
    Some(match unit {
        Day => int(i64::from(c.day)),
        Month => int(i64::from(c.month)),
        Quarter => int(i64::from((c.month - 1) / 3 + 1)),
        Week => int(iso_week(days).0),
        Year => int(sql_year(y)),
        Decade => int(if y >= 0 { y / 10 } else { -((8 - (y - 1)) / 10) }),
        Century => int(if y > 0 { (y + 99) / 100 } else { -((99 - (y - 1)) / 100) }),
        Millennium => int(if y > 0 { (y + 999) / 1000 } else { -((999 - (y - 1)) / 1000) }),
        DayOfWeek => int(i64::from(calendar::weekday(days))),
        IsoDayOfWeek => int(match calendar::weekday(days) {
            0 => 7,
            d => i64::from(d),
        }),
        DayOfYear => int(days - calendar::days_from_civil(y, 1, 1) + 1),
        IsoYear => {
            let iy = iso_week(days).1;
            int(if iy <= 0 { iy - 1 } else { iy })
        }
        _ => return None,
    })
}

/// The time-of-day fields.
fn time_part_of(unit: Unit, micros_of_day: i64) -> Option<Part> {
    use Unit::*;
    let seconds = micros_of_day % MINUTE;
    Some(match unit {
        Microseconds => int(seconds),
        Milliseconds => Part::Exact(i128::from(seconds), 3),
        Second => Part::Exact(i128::from(seconds), 6),
        Minute => int(micros_of_day % HOUR / MINUTE),
        Hour => int(micros_of_day / HOUR),
        _ => return None,
    })
}

/// An infinite timestamp's field: ±Infinity for the unbounded ones, else NULL.
fn infinite_part(unit: Unit, positive: bool) -> Part {
    use Unit::*;
    match unit {
        Epoch | Year | Decade | Century | Millennium | Julian | IsoYear => {
            if positive {
                Part::PlusInfinity
            } else {
                Part::MinusInfinity
            }
        }
        _ => Part::Null,
    }
}

/// The field `name` of `value`. `numeric`: EXTRACT's NUMERIC result, else date_part's
/// double.
pub fn extract(name: &str, value: &Value, numeric: bool) -> Result<Value> {
    let part = match value {
        Value::Date(d) => date_field(name, *d)?,
        Value::Time(t) => time_field(name, *t)?,
        Value::Timestamp(t) => timestamp_field(name, *t, None)?,
        Value::TimestampTz(t) => {
            let zone = settings::current().settings.zone.clone();
            timestamp_field(name, *t, Some(&zone))?
        }
        Value::Interval(i) => interval_field(name, i)?,
        Value::Null => return Ok(Value::Null),
        other => {
            return Err(Error::new(SqlState::InternalError, format!("extract from {}", other.data_type())));
        }
    };
    to_value(part, numeric)
}

fn to_value(part: Part, numeric: bool) -> Result<Value> {
    let infinity = |positive: bool| {
        if numeric {
            Err(Error::new(
                SqlState::FeatureNotSupported,
                "EXTRACT of an infinite value would be NUMERIC infinity, which is not supported",
            ))
        } else {
            Ok(Value::Float(if positive { f64::INFINITY } else { f64::NEG_INFINITY }))
        }
    };
    match part {
        Part::Null => Ok(Value::Null),
        Part::PlusInfinity => infinity(true),
        Part::MinusInfinity => infinity(false),
        Part::Exact(c, s) if numeric => Ok(Value::Numeric(Decimal::new(c, s)?)),
        Part::Exact(c, s) => Ok(Value::Float(c as f64 / 10f64.powi(i32::from(s)))),
        Part::Julian(day, micros) if numeric => {
            let fraction = Decimal::from(micros).checked_div(Decimal::from(DAY))?;
            Ok(Value::Numeric(Decimal::from(day).checked_add(fraction)?))
        }
        Part::Julian(day, micros) => Ok(Value::Float(day as f64 + micros as f64 / DAY as f64)),
    }
}

fn date_field(name: &str, days: i64) -> Result<Part> {
    let unit = Unit::parse(name).ok_or_else(|| not_recognized(name, "date"))?;
    if !calendar::date_is_finite(days) {
        return match unit {
            Unit::Hour | Unit::Minute | Unit::Second | Unit::Milliseconds | Unit::Microseconds => {
                Err(not_supported(name, "date"))
            }
            u => match infinite_part(u, days > 0) {
                Part::Null if matches!(u, Unit::Timezone | Unit::TimezoneHour | Unit::TimezoneMinute) => {
                    Err(not_supported(name, "date"))
                }
                p => Ok(p),
            },
        };
    }
    let c = Civil::from_micros(0);
    let (y, m, d) = calendar::civil_from_days(days);
    let c = Civil { year: y, month: m, day: d, ..c };
    match unit {
        Unit::Julian => Ok(int(days + UNIX_EPOCH_JULIAN)),
        Unit::Epoch => Ok(Part::Exact(i128::from(days) * 86_400, 0)),
        u => date_part_of(u, &c, days).ok_or_else(|| not_supported(name, "date")),
    }
}

fn time_field(name: &str, micros: i64) -> Result<Part> {
    const TYPE: &str = "time without time zone";
    let unit = Unit::parse(name).ok_or_else(|| not_recognized(name, TYPE))?;
    match unit {
        Unit::Epoch => Ok(Part::Exact(i128::from(micros), 6)),
        u => time_part_of(u, micros).ok_or_else(|| not_supported(name, TYPE)),
    }
}

fn timestamp_field(name: &str, micros: i64, zone: Option<&Zone>) -> Result<Part> {
    let type_name = if zone.is_some() { "timestamp with time zone" } else { "timestamp without time zone" };
    let unit = Unit::parse(name).ok_or_else(|| not_recognized(name, type_name))?;
    if !calendar::timestamp_is_finite(micros) {
        if zone.is_none() && matches!(unit, Unit::Timezone | Unit::TimezoneHour | Unit::TimezoneMinute) {
            return Err(not_supported(name, type_name));
        }
        return Ok(infinite_part(unit, micros > 0));
    }
    let (local, east) = match zone {
        Some(z) => {
            let east = z.offset_at(micros).east;
            (micros + i64::from(east) * SECOND, Some(east))
        }
        None => (micros, None),
    };
    let c = Civil::from_micros(local);
    let days = local.div_euclid(DAY);
    let time = local.rem_euclid(DAY);
    match unit {
        Unit::Epoch => Ok(Part::Exact(i128::from(micros), 6)),
        Unit::Julian => Ok(Part::Julian(days + UNIX_EPOCH_JULIAN, time)),
        Unit::Timezone | Unit::TimezoneHour | Unit::TimezoneMinute => {
            let east = i64::from(east.ok_or_else(|| not_supported(name, type_name))?);
            Ok(int(match unit {
                Unit::Timezone => east,
                Unit::TimezoneHour => east / 3600,
                _ => east / 60 % 60,
            }))
        }
        u => time_part_of(u, time)
            .or_else(|| date_part_of(u, &c, days))
            .ok_or_else(|| not_supported(name, type_name)),
    }
}

fn interval_field(name: &str, i: &Interval) -> Result<Part> {
    let unit = Unit::parse(name).ok_or_else(|| not_recognized(name, "interval"))?;
    let year = i64::from(i.months / 12);
    let month = i64::from(i.months % 12);
    Ok(match unit {
        Unit::Microseconds | Unit::Milliseconds | Unit::Second | Unit::Minute => {
            time_part_of(unit, i.micros % HOUR).unwrap_or(Part::Null)
        }
        Unit::Hour => int(i.micros / HOUR),
        Unit::Day => int(i64::from(i.days)),
        Unit::Month => int(month),
        Unit::Quarter => int(month / 3 + 1),
        Unit::Year => int(year),
        Unit::Decade => int(year / 10),
        Unit::Century => int(year / 100),
        Unit::Millennium => int(year / 1000),
        Unit::Epoch => {
            // A year counts 365.25 days here, a month 30 (PostgreSQL's interval_part).
            let seconds =
                31_557_600 * i128::from(year) + 2_592_000 * i128::from(month) + 86_400 * i128::from(i.days);
            Part::Exact(seconds * 1_000_000 + i128::from(i.micros), 6)
        }
        _ => return Err(not_supported(name, "interval")),
    })
}

/// `date_trunc(unit, timestamp)`; for a `timestamptz`, in `zone` (the session's or the
/// one given as the third argument), where day and longer units start at local midnight.
pub fn trunc(name: &str, value: &Value, zone: Option<&Zone>) -> Result<Value> {
    match value {
        Value::Timestamp(t) => Ok(Value::Timestamp(trunc_local(name, *t, "timestamp without time zone")?)),
        Value::TimestampTz(t) => {
            if !calendar::timestamp_is_finite(*t) {
                return Ok(value.clone());
            }
            let session = settings::current().settings.zone.clone();
            let zone = zone.unwrap_or(&session);
            let local = arith::timestamptz_to_local_in(*t, zone)?;
            let truncated = trunc_local(name, local, "timestamp with time zone")?;
            Ok(Value::TimestampTz(arith::local_to_timestamptz_in(truncated, zone)?))
        }
        Value::Interval(i) => Ok(Value::Interval(trunc_interval(name, i)?)),
        Value::Null => Ok(Value::Null),
        other => Err(Error::new(SqlState::InternalError, format!("date_trunc of {}", other.data_type()))),
    }
}

fn trunc_local(name: &str, micros: i64, type_name: &str) -> Result<i64> {
    use Unit::*;
    let unit = Unit::parse(name).ok_or_else(|| not_recognized(name, type_name))?;
    if !calendar::timestamp_is_finite(micros) {
        return Ok(micros);
    }
    let mut c = Civil::from_micros(micros);
    let days = micros.div_euclid(DAY);
    match unit {
        Week => {
            let monday = days - i64::from((calendar::weekday(days) + 6) % 7);
            return Ok(monday * DAY);
        }
        Millennium | Century | Decade | Year | Quarter | Month | Day | Hour | Minute | Second => {
            let y = c.year;
            match unit {
                Millennium => {
                    c.year = if y > 0 {
                        (y + 999) / 1000 * 1000 - 999
                    } else {
                        -((999 - (y - 1)) / 1000) * 1000 + 1
                    }
                }
                Century => {
                    c.year = if y > 0 { (y + 99) / 100 * 100 - 99 } else { -((99 - (y - 1)) / 100) * 100 + 1 }
                }
                Decade => c.year = if y > 0 { y / 10 * 10 } else { -((8 - (y - 1)) / 10) * 10 },
                _ => {}
            }
            let rank = |u: Unit| match u {
                Millennium | Century | Decade | Year => 5,
                Quarter => 4,
                Month => 3,
                Day => 2,
                Hour => 1,
                Minute => 0,
                _ => -1,
            };
            let r = rank(unit);
            if r >= 5 {
                c.month = 1;
            }
            if r >= 4 {
                c.month = (c.month - 1) / 3 * 3 + 1;
            }
            if r >= 3 {
                c.day = 1;
            }
            if r >= 2 {
                c.hour = 0;
            }
            if r >= 1 {
                c.minute = 0;
            }
            if r >= 0 {
                c.second = 0;
            }
            c.micro = 0;
        }
        Milliseconds => c.micro = c.micro / 1000 * 1000,
        Microseconds => {}
        // date_trunc knows only interval units: dow, epoch and the like are unknown.
        DayOfWeek | IsoDayOfWeek | DayOfYear | IsoYear | Epoch | Julian => {
            return Err(not_recognized(name, type_name));
        }
        _ => return Err(not_supported(name, type_name)),
    }
    c.to_micros().ok_or_else(calendar::timestamp_out_of_range)
}

fn trunc_interval(name: &str, i: &Interval) -> Result<Interval> {
    use Unit::*;
    let unit = Unit::parse(name).ok_or_else(|| not_recognized(name, "interval"))?;
    let mut r = *i;
    let years = |n: i32| i.months / 12 / n * n * 12;
    match unit {
        Millennium => r = Interval { months: years(1000), days: 0, micros: 0 },
        Century => r = Interval { months: years(100), days: 0, micros: 0 },
        Decade => r = Interval { months: years(10), days: 0, micros: 0 },
        Year => r = Interval { months: years(1), days: 0, micros: 0 },
        Quarter => r = Interval { months: i.months / 3 * 3, days: 0, micros: 0 },
        Month => r = Interval { months: i.months, days: 0, micros: 0 },
        Day => r.micros = 0,
        Hour => r.micros = i.micros / HOUR * HOUR,
        Minute => r.micros = i.micros / MINUTE * MINUTE,
        Second => r.micros = i.micros / SECOND * SECOND,
        Milliseconds => r.micros = i.micros / 1000 * 1000,
        Microseconds => {}
        DayOfWeek | IsoDayOfWeek | DayOfYear | IsoYear | Epoch | Julian => {
            return Err(not_recognized(name, "interval"));
        }
        Week => {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                format!("unit \"{}\" not supported for type interval", name.to_ascii_lowercase()),
            )
            .with_detail("Months usually have fractional weeks."));
        }
        _ => return Err(not_supported(name, "interval")),
    }
    Ok(r)
}

/// `age(a, b)`: the difference in years, months and days, then time, as PostgreSQL's
/// `timestamp_age` counts it (borrowing from the month before the later date). For a
/// `timestamptz` both are first shown in the session's zone.
pub fn age(a: i64, b: i64, with_zone: bool) -> Result<Interval> {
    if !calendar::timestamp_is_finite(a) || !calendar::timestamp_is_finite(b) {
        return Err(Error::new(SqlState::DatetimeFieldOverflow, "cannot subtract infinite timestamps"));
    }
    let (la, lb) =
        if with_zone { (arith::timestamptz_to_local(a)?, arith::timestamptz_to_local(b)?) } else { (a, b) };
    let (t1, t2) = (Civil::from_micros(la), Civil::from_micros(lb));
    let mut fsec = t1.micro - t2.micro;
    let mut sec = t1.second - t2.second;
    let mut min = t1.minute - t2.minute;
    let mut hour = t1.hour - t2.hour;
    let mut mday = i64::from(t1.day) - i64::from(t2.day);
    let mut mon = i64::from(t1.month) - i64::from(t2.month);
    let mut year = t1.year - t2.year;
    let flip = la < lb;
    if flip {
        (fsec, sec, min, hour, mday, mon, year) = (-fsec, -sec, -min, -hour, -mday, -mon, -year);
    }
    while fsec < 0 {
        fsec += SECOND;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        mday -= 1;
    }
    while mday < 0 {
        let from = if flip { &t1 } else { &t2 };
        mday += i64::from(calendar::days_in_month(from.year, from.month));
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    if flip {
        (fsec, sec, min, hour, mday, mon, year) = (-fsec, -sec, -min, -hour, -mday, -mon, -year);
    }
    let months = year.checked_mul(12).and_then(|m| m.checked_add(mon)).and_then(|m| i32::try_from(m).ok());
    let days = i32::try_from(mday).ok();
    match (months, days) {
        (Some(months), Some(days)) => {
            Ok(Interval { months, days, micros: ((hour * 60 + min) * 60 + sec) * SECOND + fsec })
        }
        _ => Err(super::interval::interval_out_of_range()),
    }
}

/// `make_date(year, month, day)` (a negative year is BC).
pub fn make_date(year: i64, month: i64, day: i64) -> Result<i64> {
    let bad = || {
        Error::new(
            SqlState::DatetimeFieldOverflow,
            format!("date field value out of range: {year}-{month:02}-{day:02}"),
        )
    };
    if year == 0 || !(1..=12).contains(&month) || day < 1 {
        return Err(bad());
    }
    let y = if year < 0 { year + 1 } else { year };
    if day > i64::from(calendar::days_in_month(y, month as u32)) {
        return Err(bad());
    }
    let c = Civil { year: y, month: month as u32, day: day as u32, ..Civil::default() };
    if !c.is_valid_julian() || !calendar::date_in_range(c.days()) {
        return Err(Error::new(
            SqlState::DatetimeFieldOverflow,
            format!("date out of range: {year}-{month:02}-{day:02}"),
        ));
    }
    Ok(c.days())
}

/// `make_time(hour, min, sec)`.
pub fn make_time(hour: i64, minute: i64, second: f64) -> Result<i64> {
    let micros = (second * 1_000_000.0).round_ties_even();
    let total = (hour * 60 + minute) as f64 * 60_000_000.0 + micros;
    if !((0..24).contains(&hour) || (hour == 24 && minute == 0 && micros == 0.0))
        || !(0..60).contains(&minute)
        || !(0.0..=60_000_000.0).contains(&micros)
        || total > DAY as f64
    {
        return Err(Error::new(
            SqlState::DatetimeFieldOverflow,
            format!(
                "time field value out of range: {hour}:{minute:02}:{}",
                super::super::value::format_float(second)
            ),
        ));
    }
    Ok(total as i64)
}

/// `make_timestamp(year, month, day, hour, min, sec)`.
pub fn make_timestamp(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: f64) -> Result<i64> {
    let days = make_date(year, month, day)?;
    let time = make_time(hour, minute, second)?;
    let t = days
        .checked_mul(DAY)
        .and_then(|d| d.checked_add(time))
        .ok_or_else(calendar::timestamp_out_of_range)?;
    calendar::check_timestamp(t).map_err(|_| {
        Error::new(
            SqlState::DatetimeFieldOverflow,
            format!("timestamp out of range: {year}-{month:02}-{day:02} {hour}:{minute:02}:{second}"),
        )
    })
}

/// `date_bin(stride, source, origin)`: the start of the stride-long bin `source` falls
/// in, bins counted from `origin`. Strides with months are refused, as in PostgreSQL.
pub fn date_bin(stride: &Interval, source: i64, origin: i64) -> Result<i64> {
    if !calendar::timestamp_is_finite(source) {
        return Ok(source);
    }
    if !calendar::timestamp_is_finite(origin) {
        return Err(Error::new(SqlState::DatetimeFieldOverflow, "origin out of range"));
    }
    if stride.months != 0 {
        return Err(Error::new(
            SqlState::FeatureNotSupported,
            "timestamps cannot be binned into intervals containing months or years",
        ));
    }
    let stride_micros = i64::from(stride.days)
        .checked_mul(DAY)
        .and_then(|d| d.checked_add(stride.micros))
        .ok_or_else(super::interval::interval_out_of_range)?;
    if stride_micros <= 0 {
        return Err(Error::new(SqlState::DatetimeFieldOverflow, "stride must be greater than zero"));
    }
    let diff = i128::from(source) - i128::from(origin);
    let binned = diff - diff.rem_euclid(i128::from(stride_micros));
    let result = i128::from(origin) + binned;
    i64::try_from(result)
        .ok()
        .and_then(|r| calendar::check_timestamp(r).ok())
        .ok_or_else(calendar::timestamp_out_of_range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: Result<Value>) -> String {
        match v {
            Ok(v) => v.to_string(),
            Err(e) => format!("ERROR {}", e.sqlstate()),
        }
    }

    #[test]
    fn extract_gives_postgres_numerics() {
        let ts =
            Value::Timestamp(calendar::days_from_civil(2000, 1, 1) * DAY + 12 * HOUR + 30 * SECOND + 500_000);
        assert_eq!(text(extract("second", &ts, true)), "30.500000");
        assert_eq!(text(extract("milliseconds", &ts, true)), "30500.000");
        assert_eq!(text(extract("epoch", &ts, true)), "946728030.500000");
        assert_eq!(
            text(extract(
                "julian",
                &Value::Timestamp(calendar::days_from_civil(2000, 1, 1) * DAY + 12 * HOUR),
                true
            )),
            "2451545.50000000000000000000"
        );
        let date = Value::Date(calendar::days_from_civil(2024, 12, 30));
        assert_eq!(text(extract("week", &date, true)), "1");
        assert_eq!(text(extract("isoyear", &date, true)), "2025");
        assert_eq!(text(extract("hour", &date, true)), "ERROR 0A000");
        assert_eq!(text(extract("eon", &date, true)), "ERROR 22023");
        assert_eq!(
            text(extract("epoch", &Value::Timestamp(calendar::TIMESTAMP_INFINITY), false)),
            "Infinity"
        );
        assert_eq!(text(extract("hour", &Value::Timestamp(calendar::TIMESTAMP_INFINITY), false)), "NULL");
    }

    #[test]
    fn age_borrows_from_the_right_month() {
        let at = |y, m, d| calendar::days_from_civil(y, m, d) * DAY;
        let a = age(at(2001, 4, 10), at(1957, 6, 13), false).expect("age");
        assert_eq!(a, Interval { months: 43 * 12 + 9, days: 27, micros: 0 });
    }
}
