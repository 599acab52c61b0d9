//! The date and time functions, evaluated over non-NULL arguments (the binder chose the
//! argument types and the result type; the work is in [`crate::types::datetime`]).

use crate::error::{Error, Result, SqlState};
use crate::exec::eval::as_f64;
use crate::types::datetime::{self, Interval, IntervalTypmod, Zone, arith, calendar, fields, settings};
use crate::types::{DataType, Value};

/// A date or time function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateTimeFunction {
    /// `now()`, `current_timestamp`, `transaction_timestamp()`: the transaction's start.
    Now,
    /// `statement_timestamp()`
    StatementTimestamp,
    /// `clock_timestamp()`: the wall clock, read at each call.
    ClockTimestamp,
    /// `timeofday()`: the wall clock as text.
    TimeOfDay,
    /// `current_date`
    CurrentDate,
    /// `localtimestamp`
    LocalTimestamp,
    /// `localtime`, `current_time` (without the zone: there is no `timetz` here)
    LocalTime,
    /// `EXTRACT(field FROM x)`: NUMERIC
    Extract,
    /// `date_part(field, x)`: double precision
    DatePart,
    /// `date_trunc(field, x [, zone])`
    DateTrunc,
    /// `date_bin(stride, source, origin)`
    DateBin,
    /// `age(a [, b])`
    Age,
    JustifyDays,
    JustifyHours,
    JustifyInterval,
    MakeDate,
    MakeTime,
    MakeTimestamp,
    MakeTimestampTz,
    /// `make_interval(years, months, weeks, days, hours, mins, secs)`
    MakeInterval,
    /// `isfinite(x)`
    IsFinite,
    /// `to_timestamp(epoch)`
    ToTimestampEpoch,
    /// `to_timestamp(text, format)`
    ToTimestamp,
    /// `to_date(text, format)`
    ToDate,
    /// `to_char(value, format)`
    ToChar,
    /// `timezone(zone, x)`, `x AT TIME ZONE zone`
    AtTimeZone,
    /// A cast to an interval type with fields or a precision (`interval(0)`,
    /// `INTERVAL YEAR TO MONTH`).
    IntervalTypmod(IntervalTypmod),
    /// A cast to `timestamp(p)`, `timestamptz(p)` or `time(p)`: rounds the seconds.
    Precision(u8),
}

impl DateTimeFunction {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        use DateTimeFunction::*;
        match self {
            Now => "now",
            StatementTimestamp => "statement_timestamp",
            ClockTimestamp => "clock_timestamp",
            TimeOfDay => "timeofday",
            CurrentDate => "current_date",
            LocalTimestamp => "localtimestamp",
            LocalTime => "localtime",
            Extract => "extract",
            DatePart => "date_part",
            DateTrunc => "date_trunc",
            DateBin => "date_bin",
            Age => "age",
            JustifyDays => "justify_days",
            JustifyHours => "justify_hours",
            JustifyInterval => "justify_interval",
            MakeDate => "make_date",
            MakeTime => "make_time",
            MakeTimestamp => "make_timestamp",
            MakeTimestampTz => "make_timestamptz",
            MakeInterval => "make_interval",
            IsFinite => "isfinite",
            ToTimestampEpoch | ToTimestamp => "to_timestamp",
            ToDate => "to_date",
            ToChar => "to_char",
            AtTimeZone => "timezone",
            IntervalTypmod(_) => "interval",
            Precision(_) => "timestamp",
        }
    }

    /// True for the functions whose value changes within a statement, which constant
    /// folding must leave alone.
    pub fn is_volatile(self) -> bool {
        matches!(self, DateTimeFunction::ClockTimestamp | DateTimeFunction::TimeOfDay)
    }
}

fn text(v: &Value) -> String {
    crate::types::cast::to_text(v)
}

fn int(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        other => {
            let f = as_f64(other)?;
            if f.fract() == 0.0 && f.abs() < 9.0e18 {
                Ok(f as i64)
            } else {
                Err(Error::new(SqlState::NumericValueOutOfRange, "integer out of range"))
            }
        }
    }
}

/// A zone argument (`AT TIME ZONE`, `date_trunc`'s third): a name, an abbreviation, a
/// POSIX rule, or an interval (hours east).
fn zone_argument(v: &Value) -> Result<Zone> {
    match v {
        Value::Interval(i) => {
            if i.months != 0 || i.days != 0 {
                return Err(Error::new(
                    SqlState::InvalidParameterValue,
                    format!("interval time zone \"{v}\" must not include months or days"),
                ));
            }
            let east = i32::try_from(i.micros / datetime::SECOND)
                .ok()
                .filter(|s| s.abs() <= 15 * 3600 + 59 * 60)
                .ok_or_else(|| {
                    Error::new(SqlState::InvalidParameterValue, "time zone displacement out of range")
                })?;
            Ok(Zone::fixed(east))
        }
        other => {
            let name = text(other);
            zone_by_text(&name)
        }
    }
}

/// A zone named in text, as PostgreSQL's `timezone()` reads it: a numeric offset in
/// POSIX's sign convention (`'-05'` is five hours *east*), an abbreviation, a zone name
/// or a POSIX rule.
fn zone_by_text(name: &str) -> Result<Zone> {
    if let Ok(east) = datetime::parse::decode_zone_offset(name.trim()) {
        return Ok(Zone::fixed(-east));
    }
    Zone::by_name(name.trim()).ok_or_else(|| {
        Error::new(SqlState::InvalidParameterValue, format!("time zone \"{name}\" not recognized"))
    })
}

/// Rounds the seconds of a timestamp or time to `p` digits (PostgreSQL's
/// `AdjustTimestampForTypmod`).
fn round_micros(micros: i64, p: u8) -> i64 {
    if p >= 6 {
        return micros;
    }
    let scale = 10i64.pow(6 - u32::from(p));
    let half = scale / 2;
    if micros >= 0 { (micros + half) / scale * scale } else { -((half - micros) / scale * scale) }
}

/// Applies `func` to non-NULL `args`; `ty` is the result type.
pub fn apply(func: DateTimeFunction, args: Vec<Value>, ty: DataType) -> Result<Value> {
    use DateTimeFunction::*;
    let a = |i: usize| &args[i];
    let cx = settings::current();
    Ok(match func {
        Now => Value::TimestampTz(cx.transaction_start),
        StatementTimestamp => Value::TimestampTz(cx.statement_start),
        ClockTimestamp => Value::TimestampTz(settings::now_micros()),
        TimeOfDay => {
            let now = settings::now_micros();
            let zone = &cx.settings.zone;
            let offset = zone.offset_at(now);
            let local = zone.utc_to_local(now).unwrap_or(now);
            // Always the Postgres style, with microseconds: "Mon Dec 07 16:13:29.123456 2026 UTC".
            let c = calendar::Civil::from_micros(local);
            let base = datetime::format::format_timestamp_as(
                local - c.micro,
                Some(&offset),
                settings::DateStyle::Postgres,
                settings::DateOrder::Mdy,
            );
            let clock = format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second);
            Value::Text(base.replacen(&clock, &format!("{clock}.{:06}", c.micro), 1))
        }
        CurrentDate => Value::Date(datetime::parse::current_local_date()),
        LocalTimestamp => Value::Timestamp(arith::timestamptz_to_local(cx.transaction_start)?),
        LocalTime => {
            Value::Time(arith::timestamptz_to_local(cx.transaction_start)?.rem_euclid(datetime::DAY))
        }
        Extract => fields::extract(&text(a(0)), a(1), true)?,
        DatePart => {
            // date_part(text, date) is date_part(text, date::timestamp), as in PostgreSQL.
            let x = match a(1) {
                Value::Date(d) => Value::Timestamp(arith::date_to_timestamp(*d)?),
                v => v.clone(),
            };
            fields::extract(&text(a(0)), &x, false)?
        }
        DateTrunc => {
            let zone = if args.len() > 2 { Some(zone_argument(a(2))?) } else { None };
            fields::trunc(&text(a(0)), a(1), zone.as_ref())?
        }
        DateBin => match (a(0), a(1), a(2)) {
            (Value::Interval(stride), Value::Timestamp(s), Value::Timestamp(o)) => {
                Value::Timestamp(fields::date_bin(stride, *s, *o)?)
            }
            (Value::Interval(stride), Value::TimestampTz(s), Value::TimestampTz(o)) => {
                Value::TimestampTz(fields::date_bin(stride, *s, *o)?)
            }
            _ => return Err(Error::new(SqlState::InternalError, "date_bin arguments")),
        },
        Age => {
            let with_zone = matches!(a(0), Value::TimestampTz(_));
            let instant = |v: &Value| -> Result<i64> {
                match v {
                    Value::Timestamp(t) | Value::TimestampTz(t) => Ok(*t),
                    Value::Date(d) => arith::date_to_timestamp(*d),
                    other => {
                        Err(Error::new(SqlState::InternalError, format!("age of {}", other.data_type())))
                    }
                }
            };
            let (x, y) = if args.len() == 1 {
                // age(x) is age(current_date at midnight, x).
                let today = datetime::parse::current_local_date() * datetime::DAY;
                let today = if with_zone { arith::local_to_timestamptz(today)? } else { today };
                (today, instant(a(0))?)
            } else {
                (instant(a(0))?, instant(a(1))?)
            };
            Value::Interval(fields::age(x, y, with_zone)?)
        }
        JustifyDays | JustifyHours | JustifyInterval => {
            let Value::Interval(i) = a(0) else { return Err(Error::new(SqlState::InternalError, "justify")) };
            Value::Interval(match func {
                JustifyDays => i.justify_days()?,
                JustifyHours => i.justify_hours()?,
                _ => i.justify_interval()?,
            })
        }
        MakeDate => Value::Date(fields::make_date(int(a(0))?, int(a(1))?, int(a(2))?)?),
        MakeTime => Value::Time(fields::make_time(int(a(0))?, int(a(1))?, as_f64(a(2))?)?),
        MakeTimestamp | MakeTimestampTz => {
            let local = fields::make_timestamp(
                int(a(0))?,
                int(a(1))?,
                int(a(2))?,
                int(a(3))?,
                int(a(4))?,
                as_f64(a(5))?,
            )?;
            if func == MakeTimestamp {
                Value::Timestamp(local)
            } else if args.len() > 6 {
                Value::TimestampTz(arith::local_to_timestamptz_in(local, &zone_argument(a(6))?)?)
            } else {
                Value::TimestampTz(arith::local_to_timestamptz(local)?)
            }
        }
        MakeInterval => {
            let field = |i: usize| args.get(i).map(int).transpose().map(|v| v.unwrap_or(0));
            let overflow = datetime::interval::interval_out_of_range;
            let fit = |v: i64| i32::try_from(v).map_err(|_| overflow());
            let months =
                field(0)?.checked_mul(12).and_then(|y| y.checked_add(field(1).ok()?)).ok_or_else(overflow)?;
            let days =
                field(2)?.checked_mul(7).and_then(|w| w.checked_add(field(3).ok()?)).ok_or_else(overflow)?;
            let secs = args.get(6).map(as_f64).transpose()?.unwrap_or(0.0);
            let micros = (field(4)? as f64 * 3600.0 + field(5)? as f64 * 60.0 + secs) * 1_000_000.0;
            if !micros.is_finite() || micros.abs() >= 9.2e18 {
                return Err(overflow());
            }
            Value::Interval(Interval {
                months: fit(months)?,
                days: fit(days)?,
                micros: micros.round_ties_even() as i64,
            })
        }
        IsFinite => Value::Boolean(match a(0) {
            Value::Date(d) => calendar::date_is_finite(*d),
            Value::Timestamp(t) | Value::TimestampTz(t) => calendar::timestamp_is_finite(*t),
            _ => true,
        }),
        ToTimestampEpoch => {
            let seconds = as_f64(a(0))?;
            if seconds.is_nan() {
                return Err(Error::new(SqlState::DatetimeFieldOverflow, "timestamp cannot be NaN"));
            }
            if seconds.is_infinite() {
                return Ok(Value::TimestampTz(if seconds > 0.0 {
                    calendar::TIMESTAMP_INFINITY
                } else {
                    calendar::TIMESTAMP_NEG_INFINITY
                }));
            }
            let micros = (seconds * 1_000_000.0).round_ties_even();
            if !(calendar::TIMESTAMP_MIN as f64..calendar::TIMESTAMP_END as f64).contains(&micros) {
                return Err(Error::new(
                    SqlState::DatetimeFieldOverflow,
                    format!("timestamp out of range: \"{}\"", crate::types::format_float(seconds)),
                ));
            }
            Value::TimestampTz(micros as i64)
        }
        ToTimestamp => Value::TimestampTz(datetime::to_char::to_timestamp(&text(a(0)), &text(a(1)))?),
        ToDate => Value::Date(datetime::to_char::to_date(&text(a(0)), &text(a(1)))?),
        ToChar => Value::Text(datetime::to_char::to_char(a(0), &text(a(1)))?),
        AtTimeZone => {
            let zone = zone_argument(a(0))?;
            match a(1) {
                Value::TimestampTz(t) => Value::Timestamp(arith::timestamptz_to_local_in(*t, &zone)?),
                Value::Timestamp(t) => Value::TimestampTz(arith::local_to_timestamptz_in(*t, &zone)?),
                other => {
                    return Err(Error::new(
                        SqlState::InternalError,
                        format!("AT TIME ZONE of {}", other.data_type()),
                    ));
                }
            }
        }
        IntervalTypmod(typmod) => match a(0) {
            Value::Interval(i) => Value::Interval(typmod.apply(*i)?),
            Value::Text(s) => Value::Interval(datetime::interval::parse_interval_typmod(s, &typmod)?),
            other => {
                let i = crate::types::cast::cast(
                    other.clone(),
                    DataType::Interval,
                    crate::types::cast::CastKind::Explicit,
                )?;
                match i {
                    Value::Interval(i) => Value::Interval(typmod.apply(i)?),
                    v => v,
                }
            }
        },
        Precision(p) => match (a(0), ty) {
            (Value::Timestamp(t), _) if calendar::timestamp_is_finite(*t) => {
                Value::Timestamp(calendar::check_timestamp(round_micros(*t, p))?)
            }
            (Value::TimestampTz(t), _) if calendar::timestamp_is_finite(*t) => {
                Value::TimestampTz(calendar::check_timestamp(round_micros(*t, p))?)
            }
            (Value::Time(t), _) => Value::Time(round_micros(*t, p)),
            (v, _) => v.clone(),
        },
    })
}
