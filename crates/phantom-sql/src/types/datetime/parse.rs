//! Date, time and timestamp input, as PostgreSQL's parser reads it.
//!
//! This follows PostgreSQL's "Date/Time Input Interpretation" (and `datetime.c`) step by
//! step, so that the many forms it accepts are read the same way, not approximated:
//!
//! 1. [`tokenize`] (PostgreSQL's `ParseDateTime`) splits the text into fields, each
//!    classified as a number, a word, a date (`1999-01-08`, `08-Jan-1999`,
//!    `America/New_York`), a time (`04:05:06.7`), a signed zone offset (`-08:00`) or a
//!    signed word (`-infinity`). Letters are folded to lower case.
//! 2. [`decode_date_time`] (`DecodeDateTime`) reads the fields left to right into a
//!    broken-down date and time, keeping a mask of the parts already seen so that no part
//!    is given twice. Words are looked up first as zone abbreviations, then in the keyword
//!    table (months, days, AM/PM, AD/BC, `today`, `epoch`, units like `j` for Julian
//!    days); a bare number's meaning depends on what came before it and on
//!    `DateStyle`'s field order (`DecodeNumber`), runs of digits are split by length
//!    (`DecodeNumberField`: `19990108`, `040506`). [`decode_time_only`] is the variant
//!    for TIME input.
//! 3. The result is checked (`ValidateDate`: two-digit years become 1970-2069, BC years
//!    are negated, the day must exist) and the zone is resolved for the date found.
//!
//! Interval input has its own decoder in [`super::interval`], on the same tokens.
//! Errors carry PostgreSQL's SQLSTATEs and messages: 22007 for bad syntax, 22008 for a
//! field out of range (with the `datestyle` hint where the day and month may be
//! swapped), 22009 for a zone displacement, 22023 for an unknown zone name.

use super::calendar::{self, Civil, DAY, SECOND};
use super::settings::{self, DateOrder};
use super::zone;
use crate::error::{Error, Result, SqlState};

/// A field's class, from the tokenizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Number,
    String,
    Date,
    Time,
    Tz,
    Special,
}

/// One field of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub text: String,
    pub kind: Kind,
}

/// Why input was refused, before the text and type are put into the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    BadFormat,
    FieldOverflow,
    /// A month or day out of range: perhaps the day and month are swapped.
    MonthDayOverflow,
    IntervalOverflow,
    ZoneDisplacement,
    UnknownZone(String),
}

/// PostgreSQL's message for a refused input `text` of type `type_name`.
pub fn input_error(problem: Problem, text: &str, type_name: &str) -> Error {
    match problem {
        Problem::BadFormat => Error::new(
            SqlState::InvalidDatetimeFormat,
            format!("invalid input syntax for type {type_name}: \"{text}\""),
        ),
        Problem::FieldOverflow => Error::new(
            SqlState::DatetimeFieldOverflow,
            format!("date/time field value out of range: \"{text}\""),
        ),
        Problem::MonthDayOverflow => Error::new(
            SqlState::DatetimeFieldOverflow,
            format!("date/time field value out of range: \"{text}\""),
        )
        .with_hint("Perhaps you need a different \"datestyle\" setting."),
        Problem::IntervalOverflow => Error::new(
            SqlState::IntervalFieldOverflow,
            format!("interval field value out of range: \"{text}\""),
        ),
        Problem::ZoneDisplacement => Error::new(
            SqlState::InvalidTimeZoneDisplacementValue,
            format!("time zone displacement out of range: \"{text}\""),
        ),
        Problem::UnknownZone(zone) => {
            Error::new(SqlState::InvalidParameterValue, format!("time zone \"{zone}\" not recognized"))
        }
    }
}

type Decode<T> = std::result::Result<T, Problem>;

/// The longest input PostgreSQL takes (its work buffer), and its field limit.
const MAX_INPUT: usize = 128;
const MAX_FIELDS: usize = 25;

/// Splits input into fields (PostgreSQL's `ParseDateTime`).
pub fn tokenize(input: &str) -> Decode<Vec<Field>> {
    if input.len() > MAX_INPUT {
        return Err(Problem::BadFormat);
    }
    let s: Vec<char> = input.chars().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    let at = |i: usize| s.get(i).copied().unwrap_or('\0');
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let mut text = String::new();
        let kind;
        if c.is_ascii_digit() {
            while at(i).is_ascii_digit() {
                text.push(at(i));
                i += 1;
            }
            if at(i) == ':' {
                kind = Kind::Time;
                while at(i).is_ascii_digit() || at(i) == ':' || at(i) == '.' {
                    text.push(at(i));
                    i += 1;
                }
            } else if matches!(at(i), '-' | '/' | '.') {
                let delim = at(i);
                text.push(delim);
                i += 1;
                if at(i).is_ascii_digit() {
                    let mut k = if delim == '.' { Kind::Number } else { Kind::Date };
                    while at(i).is_ascii_digit() {
                        text.push(at(i));
                        i += 1;
                    }
                    if at(i) == delim {
                        k = Kind::Date;
                        while at(i).is_ascii_digit() || at(i) == delim {
                            text.push(at(i));
                            i += 1;
                        }
                    }
                    kind = k;
                } else {
                    kind = Kind::Date;
                    while at(i).is_ascii_alphanumeric() || at(i) == delim {
                        text.push(at(i).to_ascii_lowercase());
                        i += 1;
                    }
                }
            } else {
                kind = Kind::Number;
            }
        } else if c == '.' {
            text.push(c);
            i += 1;
            while at(i).is_ascii_digit() {
                text.push(at(i));
                i += 1;
            }
            kind = Kind::Number;
        } else if c.is_ascii_alphabetic() {
            while at(i).is_ascii_alphabetic() {
                text.push(at(i).to_ascii_lowercase());
                i += 1;
            }
            // Dates can have embedded separators, and zone names embedded '/', '+', '-',
            // '_' or ':' (not first); a digit or '+' next starts a zone name only if what
            // we have is no keyword ("j2451187" is a Julian day).
            let is_date = match at(i) {
                '-' | '/' | '.' => true,
                '+' => keyword(&text).is_none(),
                d if d.is_ascii_digit() => keyword(&text).is_none(),
                _ => false,
            };
            if is_date {
                kind = Kind::Date;
                while matches!(at(i), '+' | '-' | '/' | '_' | '.' | ':') || at(i).is_ascii_alphanumeric() {
                    text.push(at(i).to_ascii_lowercase());
                    i += 1;
                }
            } else {
                kind = Kind::String;
            }
        } else if c == '+' || c == '-' {
            text.push(c);
            i += 1;
            while at(i).is_whitespace() {
                i += 1;
            }
            if at(i).is_ascii_digit() {
                kind = Kind::Tz;
                while at(i).is_ascii_digit() || matches!(at(i), ':' | '.' | '-') {
                    text.push(at(i));
                    i += 1;
                }
            } else if at(i).is_ascii_alphabetic() {
                kind = Kind::Special;
                while at(i).is_ascii_alphabetic() {
                    text.push(at(i).to_ascii_lowercase());
                    i += 1;
                }
            } else {
                return Err(Problem::BadFormat);
            }
        } else if c.is_ascii_punctuation() {
            // Other punctuation only separates fields.
            i += 1;
            continue;
        } else {
            return Err(Problem::BadFormat);
        }
        if fields.len() >= MAX_FIELDS {
            return Err(Problem::BadFormat);
        }
        fields.push(Field { text, kind });
    }
    Ok(fields)
}

/// A keyword of date/time input (PostgreSQL's `datetktbl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    /// `epoch`, `infinity`, `now`, `today`, ...
    Reserved(Special),
    Month(u32),
    /// Day of the week, 0 = Sunday.
    Weekday(u32),
    Am,
    Pm,
    Ad,
    Bc,
    /// `j`, `julian`, `jd`: a Julian day number follows.
    Julian,
    /// `t`: an ISO time follows.
    IsoTime,
    /// `dst` after a zone abbreviation.
    DstModifier,
    /// `at`, `on`: ignored.
    Ignore,
}

/// The reserved words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Epoch,
    Infinity,
    NegInfinity,
    Now,
    Today,
    Tomorrow,
    Yesterday,
    /// `allballs`: 00:00:00 UTC.
    Zulu,
}

/// Looks a word up in the keyword table (only its first 10 letters count, as in
/// PostgreSQL).
pub fn keyword(word: &str) -> Option<Keyword> {
    use Keyword::*;
    let word = match word.char_indices().nth(10) {
        Some((at, _)) => &word[..at],
        None => word,
    };
    Some(match word {
        "-infinity" => Reserved(Special::NegInfinity),
        "infinity" | "+infinity" => Reserved(Special::Infinity),
        "epoch" => Reserved(Special::Epoch),
        "now" => Reserved(Special::Now),
        "today" => Reserved(Special::Today),
        "tomorrow" => Reserved(Special::Tomorrow),
        "yesterday" => Reserved(Special::Yesterday),
        "allballs" => Reserved(Special::Zulu),
        "ad" => Ad,
        "bc" => Bc,
        "am" => Am,
        "pm" => Pm,
        "at" | "on" => Ignore,
        "dst" => DstModifier,
        "j" | "jd" | "julian" => Julian,
        "t" => IsoTime,
        "jan" | "january" => Month(1),
        "feb" | "february" => Month(2),
        "mar" | "march" => Month(3),
        "apr" | "april" => Month(4),
        "may" => Month(5),
        "jun" | "june" => Month(6),
        "jul" | "july" => Month(7),
        "aug" | "august" => Month(8),
        "sep" | "sept" | "september" => Month(9),
        "oct" | "october" => Month(10),
        "nov" | "november" => Month(11),
        "dec" | "december" => Month(12),
        "sun" | "sunday" => Weekday(0),
        "mon" | "monday" => Weekday(1),
        "tue" | "tues" | "tuesday" => Weekday(2),
        "wed" | "weds" | "wednesday" => Weekday(3),
        "thu" | "thur" | "thurs" | "thursday" => Weekday(4),
        "fri" | "friday" => Weekday(5),
        "sat" | "saturday" => Weekday(6),
        _ => return None,
    })
}

// The parts of a date and time, as bits of the mask of parts seen (PostgreSQL's DTK_M).
const RESERVED: u32 = 1 << 0;
const MONTH: u32 = 1 << 1;
const YEAR: u32 = 1 << 2;
const DAY_M: u32 = 1 << 3;
const TZ: u32 = 1 << 5;
const DTZ: u32 = 1 << 6;
const AMPM: u32 = 1 << 9;
const HOUR_M: u32 = 1 << 10;
const MINUTE_M: u32 = 1 << 11;
const SECOND_M: u32 = 1 << 12;
const MILLISECOND: u32 = 1 << 13;
const MICROSECOND: u32 = 1 << 14;
const DOY: u32 = 1 << 15;
const DOW: u32 = 1 << 16;
const ADBC: u32 = 1 << 18;
const DTZMOD: u32 = 1 << 28;
const DATE_M: u32 = YEAR | MONTH | DAY_M;
const ALL_SECS: u32 = SECOND_M | MILLISECOND | MICROSECOND;
const TIME_M: u32 = HOUR_M | MINUTE_M | ALL_SECS;

/// A broken-down date and time being decoded (PostgreSQL's `struct pg_tm` and `fsec`).
#[derive(Clone, Copy, Debug, Default)]
struct Tm {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    micro: i64,
    yday: i64,
}

/// What date/time input decoded to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A date and time, with the zone offset in seconds east when the input gave one.
    DateTime {
        civil: Civil,
        zone: ZoneSpec,
    },
    Epoch,
    Infinity,
    NegInfinity,
}

/// The zone a timestamp's input named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneSpec {
    /// None: the session's zone applies.
    Session,
    /// A fixed offset, seconds east.
    Offset(i32),
}

/// Decodes date or timestamp input (PostgreSQL's `DecodeDateTime`).
pub fn decode_date_time(fields: &[Field]) -> Decode<Decoded> {
    let order = settings::current().settings.date_order;
    let mut fmask = 0u32;
    let mut tm = Tm::default();
    let mut pending: Option<Keyword> = None;
    let (mut pm, mut am) = (false, false);
    let mut have_text_month = false;
    let mut is_julian = false;
    let mut is_2digits = false;
    let mut bc = false;
    let mut offset: Option<i32> = None; // seconds east, once known
    let mut named_zone: Option<String> = None;
    let mut dst_modifier = 0i32;
    let mut special: Option<Special> = None;
    let mut i = 0;
    while i < fields.len() {
        let field = &fields[i];
        let text = field.text.as_str();
        let mut tmask;
        match field.kind {
            Kind::Date => {
                if pending == Some(Keyword::Julian) {
                    // A Julian day with a zone run onto it: "J2451187-08".
                    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
                    let julian: i64 = text[..digits].parse().map_err(|_| Problem::FieldOverflow)?;
                    let (y, m, d) = calendar::civil_from_julian(julian);
                    (tm.year, tm.month, tm.day) = (y, i64::from(m), i64::from(d));
                    is_julian = true;
                    offset = Some(decode_zone_offset(&text[digits..])?);
                    tmask = DATE_M | TIME_M | TZ;
                    pending = None;
                } else if pending.is_some() || fmask & (MONTH | DAY_M) == MONTH | DAY_M {
                    // A zone name with punctuation (America/New_York), or a run-together
                    // time with a zone (hhmmss-zz).
                    if text.starts_with(|c: char| c.is_ascii_digit()) || pending.is_some() {
                        if pending.is_some() && pending != Some(Keyword::IsoTime) {
                            return Err(Problem::BadFormat);
                        }
                        pending = None;
                        if fmask & TIME_M == TIME_M {
                            return Err(Problem::BadFormat);
                        }
                        let dash = text.find('-').ok_or(Problem::BadFormat)?;
                        offset = Some(decode_zone_offset(&text[dash..])?);
                        tmask = decode_number_field(&text[..dash], fmask, &mut tm, &mut is_2digits)?.0;
                        tmask |= TZ;
                    } else {
                        named_zone = Some(text.to_string());
                        tmask = TZ;
                    }
                } else {
                    tmask = decode_date(text, fmask, &mut tm, &mut is_2digits, order)?;
                }
            }
            Kind::Time => {
                if pending.is_some() {
                    if pending != Some(Keyword::IsoTime) {
                        return Err(Problem::BadFormat);
                    }
                    pending = None;
                }
                tmask = decode_time(text, &mut tm)?;
                if time_overflows(&tm) {
                    return Err(Problem::FieldOverflow);
                }
            }
            Kind::Tz => {
                offset = Some(decode_zone_offset(text)?);
                tmask = TZ;
            }
            Kind::Number => {
                if let Some(label) = pending.take() {
                    let (whole, rest) = split_integer(text);
                    let value: i64 = whole.parse().map_err(|_| Problem::FieldOverflow)?;
                    if !rest.is_empty() && !rest.starts_with('.') {
                        return Err(Problem::BadFormat);
                    }
                    match label {
                        Keyword::Julian => {
                            if value < 0 || value > i64::from(i32::MAX) {
                                return Err(Problem::FieldOverflow);
                            }
                            let (y, m, d) = calendar::civil_from_julian(value);
                            (tm.year, tm.month, tm.day) = (y, i64::from(m), i64::from(d));
                            is_julian = true;
                            tmask = DATE_M;
                            if !rest.is_empty() {
                                let fraction = parse_fraction(rest)?;
                                let time = (fraction * DAY as f64) as i64;
                                set_time(&mut tm, time);
                                tmask |= TIME_M;
                            }
                        }
                        Keyword::IsoTime => {
                            let (mask, _) =
                                decode_number_field(text, fmask | DATE_M, &mut tm, &mut is_2digits)?;
                            if mask != TIME_M {
                                return Err(Problem::BadFormat);
                            }
                            tmask = mask;
                        }
                        _ => return Err(Problem::BadFormat),
                    }
                } else {
                    let dot = text.find('.');
                    let flen = text.len();
                    if dot.is_some() && fmask & DATE_M == 0 {
                        tmask = decode_date(text, fmask, &mut tm, &mut is_2digits, order)?;
                    } else if let Some(d) = dot.filter(|&d| d > 2) {
                        let _ = d;
                        tmask = decode_number_field(text, fmask, &mut tm, &mut is_2digits)?.0;
                    } else if flen >= 6 && (fmask & DATE_M == 0 || fmask & TIME_M == 0) {
                        tmask = decode_number_field(text, fmask, &mut tm, &mut is_2digits)?.0;
                    } else {
                        tmask = decode_number(text, have_text_month, fmask, &mut tm, &mut is_2digits, order)?;
                    }
                }
            }
            Kind::String | Kind::Special => {
                if let Some(abbrev) = zone::input_abbreviation(text) {
                    match abbrev {
                        zone::Abbreviation::Fixed(east, dst) => {
                            offset = Some(east);
                            tmask = if dst { DTZ | TZ } else { TZ };
                        }
                        zone::Abbreviation::Dynamic(_) => {
                            // Resolved for the date found, by the abbreviation's own rule.
                            named_zone = Some(text.to_string());
                            tmask = TZ;
                        }
                    }
                } else {
                    match keyword(text) {
                        Some(Keyword::Ignore) => {
                            i += 1;
                            continue;
                        }
                        Some(Keyword::Reserved(s)) => {
                            tmask = RESERVED;
                            match s {
                                Special::Now => {
                                    tmask = DATE_M | TIME_M | TZ;
                                    let cx = settings::current();
                                    let now = cx.transaction_start;
                                    let east = cx.settings.zone.offset_at(now).east;
                                    let local = now + i64::from(east) * SECOND;
                                    set_civil(&mut tm, Civil::from_micros(local));
                                    offset = Some(east);
                                }
                                Special::Today | Special::Tomorrow | Special::Yesterday => {
                                    tmask = DATE_M;
                                    let shift = match s {
                                        Special::Tomorrow => 1,
                                        Special::Yesterday => -1,
                                        _ => 0,
                                    };
                                    let today = current_local_date();
                                    let (y, m, d) = calendar::civil_from_days(today + shift);
                                    (tm.year, tm.month, tm.day) = (y, i64::from(m), i64::from(d));
                                }
                                Special::Zulu => {
                                    tmask = TIME_M | TZ;
                                    (tm.hour, tm.minute, tm.second) = (0, 0, 0);
                                    offset = Some(0);
                                }
                                other => special = Some(other),
                            }
                        }
                        Some(Keyword::Month(m)) => {
                            tmask = MONTH;
                            // A numeric month already read was the day ("8 Jan").
                            if fmask & MONTH != 0
                                && !have_text_month
                                && fmask & DAY_M == 0
                                && (1..=31).contains(&tm.month)
                            {
                                tm.day = tm.month;
                                tmask = DAY_M;
                            }
                            have_text_month = true;
                            tm.month = i64::from(m);
                        }
                        Some(Keyword::DstModifier) => {
                            tmask = DTZMOD | DTZ;
                            dst_modifier = 3600;
                        }
                        Some(Keyword::Am) => {
                            tmask = AMPM;
                            am = true;
                        }
                        Some(Keyword::Pm) => {
                            tmask = AMPM;
                            pm = true;
                        }
                        Some(Keyword::Ad) => tmask = ADBC,
                        Some(Keyword::Bc) => {
                            tmask = ADBC;
                            bc = true;
                        }
                        Some(Keyword::Weekday(_)) => tmask = DOW,
                        Some(Keyword::Julian) => {
                            tmask = 0;
                            if pending.is_some() {
                                return Err(Problem::BadFormat);
                            }
                            pending = Some(Keyword::Julian);
                        }
                        Some(Keyword::IsoTime) => {
                            tmask = 0;
                            if fmask & DATE_M != DATE_M {
                                return Err(Problem::BadFormat);
                            }
                            let next = fields.get(i + 1).map(|f| f.kind);
                            if !matches!(next, Some(Kind::Number | Kind::Time | Kind::Date)) {
                                return Err(Problem::BadFormat);
                            }
                            pending = Some(Keyword::IsoTime);
                        }
                        None => {
                            // Perhaps an all-letters zone name ("Japan").
                            if zone::Zone::by_name(text).is_none() {
                                return Err(Problem::BadFormat);
                            }
                            named_zone = Some(text.to_string());
                            tmask = TZ;
                        }
                    }
                }
            }
        }
        if tmask & fmask != 0 {
            return Err(Problem::BadFormat);
        }
        fmask |= tmask;
        i += 1;
    }
    if pending.is_some() {
        return Err(Problem::BadFormat);
    }
    if let Some(s) = special {
        return Ok(match s {
            Special::Epoch => Decoded::Epoch,
            Special::Infinity => Decoded::Infinity,
            _ => Decoded::NegInfinity,
        });
    }
    validate_date(fmask, is_julian, is_2digits, bc, &mut tm)?;
    apply_meridian(&mut tm, am, pm)?;
    if fmask & DATE_M != DATE_M {
        return Err(Problem::BadFormat);
    }
    let civil = to_civil(&tm);
    let zone = if let Some(name) = named_zone {
        if fmask & DTZMOD != 0 {
            return Err(Problem::BadFormat);
        }
        let local = civil.to_micros().unwrap_or(0);
        ZoneSpec::Offset(zone::input_zone_offset(&name, local).ok_or(Problem::UnknownZone(name))?)
    } else if let Some(east) = offset {
        ZoneSpec::Offset(east + dst_modifier)
    } else {
        if fmask & DTZMOD != 0 {
            return Err(Problem::BadFormat);
        }
        ZoneSpec::Session
    };
    Ok(Decoded::DateTime { civil, zone })
}

/// Decodes TIME input (PostgreSQL's `DecodeTimeOnly`): a zone may be given, and a date
/// where it can only be one; TIME keeps neither.
pub fn decode_time_only(fields: &[Field]) -> Decode<i64> {
    let order = settings::current().settings.date_order;
    let mut fmask = 0u32;
    let mut tm = Tm::default();
    let mut pending: Option<Keyword> = None;
    let (mut am, mut pm) = (false, false);
    let mut is_2digits = false;
    let mut bc = false;
    let n = fields.len();
    for (i, field) in fields.iter().enumerate() {
        let text = field.text.as_str();
        let tmask;
        match field.kind {
            Kind::Date => {
                if i == 0 && n >= 2 && (fields[n - 1].kind == Kind::Date || fields[1].kind == Kind::Time) {
                    tmask = decode_date(text, fmask, &mut tm, &mut is_2digits, order)?;
                } else if text.starts_with(|c: char| c.is_ascii_digit()) {
                    if fmask & TIME_M == TIME_M {
                        return Err(Problem::BadFormat);
                    }
                    let dash = text.find('-').ok_or(Problem::BadFormat)?;
                    decode_zone_offset(&text[dash..])?;
                    let (mask, _) =
                        decode_number_field(&text[..dash], fmask | DATE_M, &mut tm, &mut is_2digits)?;
                    tmask = mask | TZ;
                } else {
                    if zone::Zone::by_name(text).is_none() {
                        return Err(Problem::UnknownZone(text.to_string()));
                    }
                    tmask = TZ;
                }
            }
            Kind::Time => {
                pending = None;
                tmask = decode_time(text, &mut tm)?;
            }
            Kind::Tz => {
                decode_zone_offset(text)?;
                tmask = TZ;
            }
            Kind::Number => {
                if pending.take().is_some() {
                    let (mask, _) = decode_number_field(text, fmask | DATE_M, &mut tm, &mut is_2digits)?;
                    if mask != TIME_M {
                        return Err(Problem::BadFormat);
                    }
                    tmask = mask;
                } else if let Some(dot) = text.find('.') {
                    if i == 0 && n >= 2 && fields[n - 1].kind == Kind::Date {
                        tmask = decode_date(text, fmask, &mut tm, &mut is_2digits, order)?;
                    } else if dot > 2 {
                        tmask = decode_number_field(text, fmask | DATE_M, &mut tm, &mut is_2digits)?.0;
                    } else {
                        return Err(Problem::BadFormat);
                    }
                } else if text.len() > 4 {
                    tmask = decode_number_field(text, fmask | DATE_M, &mut tm, &mut is_2digits)?.0;
                } else {
                    tmask = decode_number(text, false, fmask | DATE_M, &mut tm, &mut is_2digits, order)?;
                }
            }
            Kind::String | Kind::Special => {
                if zone::input_abbreviation(text).is_some() {
                    tmask = TZ;
                } else {
                    match keyword(text) {
                        Some(Keyword::Ignore) => continue,
                        Some(Keyword::Reserved(Special::Now)) => {
                            tmask = TIME_M;
                            let cx = settings::current();
                            let local = cx.settings.zone.utc_to_local(cx.transaction_start).unwrap_or(0);
                            set_time(&mut tm, local.rem_euclid(DAY));
                        }
                        Some(Keyword::Reserved(Special::Zulu)) => {
                            tmask = TIME_M | TZ;
                            set_time(&mut tm, 0);
                        }
                        Some(Keyword::Reserved(_)) => return Err(Problem::BadFormat),
                        Some(Keyword::Am) => {
                            tmask = AMPM;
                            am = true;
                        }
                        Some(Keyword::Pm) => {
                            tmask = AMPM;
                            pm = true;
                        }
                        Some(Keyword::Ad) => tmask = ADBC,
                        Some(Keyword::Bc) => {
                            tmask = ADBC;
                            bc = true;
                        }
                        Some(Keyword::DstModifier) => tmask = DTZMOD | DTZ,
                        Some(Keyword::IsoTime) => {
                            tmask = 0;
                            let next = fields.get(i + 1).map(|f| f.kind);
                            if !matches!(next, Some(Kind::Number | Kind::Time | Kind::Date)) {
                                return Err(Problem::BadFormat);
                            }
                            pending = Some(Keyword::IsoTime);
                        }
                        Some(Keyword::Month(_) | Keyword::Weekday(_) | Keyword::Julian) => {
                            return Err(Problem::BadFormat);
                        }
                        None => {
                            if zone::Zone::by_name(text).is_none() {
                                return Err(Problem::BadFormat);
                            }
                            tmask = TZ;
                        }
                    }
                }
            }
        }
        if tmask & fmask != 0 {
            return Err(Problem::BadFormat);
        }
        fmask |= tmask;
    }
    if pending.is_some() {
        return Err(Problem::BadFormat);
    }
    validate_date(fmask, false, is_2digits, bc, &mut tm)?;
    apply_meridian(&mut tm, am, pm)?;
    if time_overflows(&tm) {
        return Err(Problem::FieldOverflow);
    }
    if fmask & TIME_M != TIME_M {
        return Err(Problem::BadFormat);
    }
    Ok(to_civil(&tm).time_micros())
}

/// Today's date in the session's zone (at the transaction's start).
pub fn current_local_date() -> i64 {
    let cx = settings::current();
    cx.settings.zone.utc_to_local(cx.transaction_start).unwrap_or(0).div_euclid(DAY)
}

fn set_civil(tm: &mut Tm, c: Civil) {
    tm.year = c.year;
    tm.month = i64::from(c.month);
    tm.day = i64::from(c.day);
    tm.hour = c.hour;
    tm.minute = c.minute;
    tm.second = c.second;
    tm.micro = c.micro;
}

fn set_time(tm: &mut Tm, micros: i64) {
    tm.hour = micros / calendar::HOUR;
    tm.minute = micros % calendar::HOUR / calendar::MINUTE;
    tm.second = micros % calendar::MINUTE / SECOND;
    tm.micro = micros % SECOND;
}

fn to_civil(tm: &Tm) -> Civil {
    Civil {
        year: tm.year,
        month: tm.month as u32,
        day: tm.day as u32,
        hour: tm.hour,
        minute: tm.minute,
        second: tm.second,
        micro: tm.micro,
    }
}

/// 12-hour times: `12 AM` is midnight, `1 PM` is 13:00; an hour past 12 is an error.
fn apply_meridian(tm: &mut Tm, am: bool, pm: bool) -> Decode<()> {
    if (am || pm) && tm.hour > 12 {
        return Err(Problem::FieldOverflow);
    }
    if am && tm.hour == 12 {
        tm.hour = 0;
    } else if pm && tm.hour != 12 {
        tm.hour += 12;
    }
    Ok(())
}

/// PostgreSQL's `time_overflows`: beyond 24:00:00 or a field out of its range.
fn time_overflows(tm: &Tm) -> bool {
    if !(0..=24).contains(&tm.hour)
        || !(0..60).contains(&tm.minute)
        || !(0..=60).contains(&tm.second)
        || !(0..=SECOND).contains(&tm.micro)
    {
        return true;
    }
    ((tm.hour * 60 + tm.minute) * 60 + tm.second) * SECOND + tm.micro > DAY
}

/// The leading integer of a field (with an optional sign) and what follows it.
fn split_integer(text: &str) -> (&str, &str) {
    let start = usize::from(text.starts_with(['+', '-']));
    let end = text[start..].find(|c: char| !c.is_ascii_digit()).map_or(text.len(), |e| e + start);
    (&text[..end], &text[end..])
}

/// Parses an integer field as C's `strtol` would, with an overflow check against `i32`
/// (PostgreSQL's `strtoint`): the value and the rest of the text.
fn strtoint(text: &str) -> Decode<(i64, &str)> {
    let (whole, rest) = split_integer(text);
    if whole.is_empty() || whole == "+" || whole == "-" {
        return Err(Problem::BadFormat);
    }
    let v: i64 = whole.parse().map_err(|_| Problem::FieldOverflow)?;
    if v > i64::from(i32::MAX) || v < i64::from(i32::MIN) {
        return Err(Problem::FieldOverflow);
    }
    Ok((v, rest))
}

/// `.123`: the fraction as a double (PostgreSQL's `ParseFraction`).
pub fn parse_fraction(text: &str) -> Decode<f64> {
    if !text.starts_with('.') {
        return Err(Problem::BadFormat);
    }
    let digits = &text[1..];
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::BadFormat);
    }
    format!("0{text}").parse::<f64>().map_err(|_| Problem::BadFormat)
}

/// `.123` as microseconds, rounded.
fn parse_fractional_second(text: &str) -> Decode<i64> {
    Ok((parse_fraction(text)? * 1_000_000.0).round_ties_even() as i64)
}

/// `hh:mm[:ss[.f]]` or `mm:ss.f` (PostgreSQL's `DecodeTime` for timestamps).
fn decode_time(text: &str, tm: &mut Tm) -> Decode<u32> {
    let (hour, rest) = strtoint(text)?;
    let rest = rest.strip_prefix(':').ok_or(Problem::BadFormat)?;
    let (minute, rest) = strtoint(rest)?;
    tm.hour = hour;
    tm.minute = minute;
    tm.second = 0;
    tm.micro = 0;
    if rest.is_empty() {
    } else if rest.starts_with('.') {
        // mm:ss.fff
        tm.micro = parse_fractional_second(rest)?;
        tm.second = tm.minute;
        tm.minute = tm.hour;
        tm.hour = 0;
    } else if let Some(rest) = rest.strip_prefix(':') {
        let (second, rest) = strtoint(rest)?;
        tm.second = second;
        if rest.starts_with('.') {
            tm.micro = parse_fractional_second(rest)?;
        } else if !rest.is_empty() {
            return Err(Problem::BadFormat);
        }
    } else {
        return Err(Problem::BadFormat);
    }
    if tm.hour < 0
        || !(0..60).contains(&tm.minute)
        || !(0..=60).contains(&tm.second)
        || !(0..=SECOND).contains(&tm.micro)
    {
        return Err(Problem::FieldOverflow);
    }
    Ok(TIME_M)
}

/// `+hh[:mm[:ss]]`, `-hhmm`: seconds east (PostgreSQL's `DecodeTimezone`, with its
/// sign turned round).
pub fn decode_zone_offset(text: &str) -> Decode<i32> {
    let negative = match text.chars().next() {
        Some('+') => false,
        Some('-') => true,
        _ => return Err(Problem::BadFormat),
    };
    let body = &text[1..];
    let overflow = |_| Problem::ZoneDisplacement;
    let (mut hour, rest) = strtoint(body)
        .map_err(|e| if e == Problem::FieldOverflow { Problem::ZoneDisplacement } else { e })?;
    let (mut minute, mut second) = (0, 0);
    let mut rest = rest;
    if let Some(r) = rest.strip_prefix(':') {
        let (m, r) = strtoint(r).map_err(overflow)?;
        minute = m;
        rest = r;
        if let Some(r) = rest.strip_prefix(':') {
            let (s, r) = strtoint(r).map_err(overflow)?;
            second = s;
            rest = r;
        }
    } else if rest.is_empty() && text.len() > 3 {
        minute = hour % 100;
        hour /= 100;
    }
    if !(0..=15).contains(&hour) || !(0..60).contains(&minute) || !(0..60).contains(&second) {
        return Err(Problem::ZoneDisplacement);
    }
    if !rest.is_empty() {
        return Err(Problem::BadFormat);
    }
    let east = ((hour * 60 + minute) * 60 + second) as i32;
    Ok(if negative { -east } else { east })
}

/// A date field with separators (`1999-01-08`, `08-jan-1999`, `1/8/1999`; PostgreSQL's
/// `DecodeDate`).
fn decode_date(
    text: &str,
    mut fmask: u32,
    tm: &mut Tm,
    is_2digits: &mut bool,
    order: DateOrder,
) -> Decode<u32> {
    let mut parts: Vec<&str> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && !bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i >= bytes.len() {
            return Err(Problem::BadFormat);
        }
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
        }
        parts.push(&text[start..i]);
        if i < bytes.len() {
            i += 1;
        }
        if parts.len() > MAX_FIELDS {
            return Err(Problem::BadFormat);
        }
    }
    let mut tmask = 0;
    let mut have_text_month = false;
    let mut numeric = Vec::new();
    for part in parts {
        if part.starts_with(|c: char| c.is_ascii_alphabetic()) {
            match keyword(part) {
                Some(Keyword::Ignore) => continue,
                Some(Keyword::Month(m)) => {
                    if fmask & MONTH != 0 {
                        return Err(Problem::BadFormat);
                    }
                    tm.month = i64::from(m);
                    have_text_month = true;
                    fmask |= MONTH;
                    tmask |= MONTH;
                }
                _ => return Err(Problem::BadFormat),
            }
        } else {
            numeric.push(part);
        }
    }
    for part in numeric {
        if part.is_empty() {
            return Err(Problem::BadFormat);
        }
        let dmask = decode_number(part, have_text_month, fmask, tm, is_2digits, order)?;
        if fmask & dmask != 0 {
            return Err(Problem::BadFormat);
        }
        fmask |= dmask;
        tmask |= dmask;
    }
    if fmask & !(DOY | TZ) != DATE_M {
        return Err(Problem::BadFormat);
    }
    Ok(tmask)
}

/// One numeric field of a date: which part it is depends on the parts already seen and
/// on the `DateStyle` order (PostgreSQL's `DecodeNumber`).
fn decode_number(
    text: &str,
    have_text_month: bool,
    fmask: u32,
    tm: &mut Tm,
    is_2digits: &mut bool,
    order: DateOrder,
) -> Decode<u32> {
    let (val, rest) = strtoint(text)?;
    let flen = text.len();
    if rest.starts_with('.') {
        // More than two digits before the point: a date or a run-together time.
        if text.len() - rest.len() > 2 {
            return Ok(decode_number_field(text, fmask | DATE_M, tm, is_2digits)?.0);
        }
        tm.micro = parse_fractional_second(rest)?;
    } else if !rest.is_empty() {
        return Err(Problem::BadFormat);
    }
    // A day of the year after a year.
    if flen == 3 && fmask & DATE_M == YEAR && (1..=366).contains(&val) {
        tm.yday = val;
        return Ok(DOY | MONTH | DAY_M);
    }
    let tmask = match fmask & DATE_M {
        0 => {
            if flen >= 3 || order == DateOrder::Ymd {
                tm.year = val;
                YEAR
            } else if order == DateOrder::Dmy {
                tm.day = val;
                DAY_M
            } else {
                tm.month = val;
                MONTH
            }
        }
        YEAR => {
            tm.month = val;
            MONTH
        }
        MONTH => {
            if have_text_month && (flen >= 3 || order == DateOrder::Ymd) {
                tm.year = val;
                YEAR
            } else {
                tm.day = val;
                DAY_M
            }
        }
        m if m == YEAR | MONTH => {
            if have_text_month && flen >= 3 && *is_2digits {
                // The first number was the day after all (DD-MON-YYYY in YMD mode).
                tm.day = tm.year;
                tm.year = val;
                *is_2digits = false;
            } else {
                tm.day = val;
            }
            DAY_M
        }
        DAY_M => {
            tm.month = val;
            MONTH
        }
        m if m == MONTH | DAY_M => {
            tm.year = val;
            YEAR
        }
        DATE_M => return Ok(decode_number_field(text, fmask, tm, is_2digits)?.0),
        _ => return Err(Problem::BadFormat),
    };
    if tmask == YEAR {
        *is_2digits = flen <= 2;
    }
    Ok(tmask)
}

/// A run of digits: `YYYYMMDD` / `YYMMDD` while the date is missing, `hhmmss` or `hhmm`
/// while the time is, each with an optional fraction (PostgreSQL's `DecodeNumberField`).
/// Returns the parts set and whether they were the date.
fn decode_number_field(text: &str, fmask: u32, tm: &mut Tm, is_2digits: &mut bool) -> Decode<(u32, bool)> {
    let mut digits = text;
    if let Some(dot) = text.find('.') {
        let fraction = &text[dot..];
        tm.micro = if fraction.len() == 1 {
            0
        } else {
            let f: f64 = format!("0{fraction}").parse().map_err(|_| Problem::BadFormat)?;
            (f * 1_000_000.0).round_ties_even() as i64
        };
        digits = &text[..dot];
    } else if fmask & DATE_M != DATE_M && digits.len() >= 6 {
        let len = digits.len();
        let num = |s: &str| s.parse::<i64>().map_err(|_| Problem::BadFormat);
        tm.day = num(&digits[len - 2..])?;
        tm.month = num(&digits[len - 4..len - 2])?;
        tm.year = num(&digits[..len - 4])?;
        if len - 4 == 2 {
            *is_2digits = true;
        }
        return Ok((DATE_M, true));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::BadFormat);
    }
    let num = |s: &str| s.parse::<i64>().map_err(|_| Problem::BadFormat);
    if fmask & TIME_M != TIME_M {
        if digits.len() == 6 {
            tm.second = num(&digits[4..])?;
            tm.minute = num(&digits[2..4])?;
            tm.hour = num(&digits[..2])?;
            return Ok((TIME_M, false));
        } else if digits.len() == 4 {
            tm.second = 0;
            tm.minute = num(&digits[2..])?;
            tm.hour = num(&digits[..2])?;
            return Ok((TIME_M, false));
        }
    }
    Err(Problem::BadFormat)
}

/// Final checks of the date parts (PostgreSQL's `ValidateDate`): BC years and two-digit
/// years are converted, a day of the year becomes a month and day, and the month and day
/// must exist.
fn validate_date(fmask: u32, is_julian: bool, is_2digits: bool, bc: bool, tm: &mut Tm) -> Decode<()> {
    if fmask & YEAR != 0 {
        if is_julian {
        } else if bc {
            if tm.year <= 0 {
                return Err(Problem::FieldOverflow);
            }
            tm.year = -(tm.year - 1);
        } else if is_2digits {
            if tm.year < 0 {
                return Err(Problem::FieldOverflow);
            }
            if tm.year < 70 {
                tm.year += 2000;
            } else if tm.year < 100 {
                tm.year += 1900;
            }
        } else if tm.year <= 0 {
            return Err(Problem::FieldOverflow);
        }
    }
    if fmask & DOY != 0 {
        let days = calendar::days_from_civil(tm.year, 1, 1) + tm.yday - 1;
        let (y, m, d) = calendar::civil_from_days(days);
        (tm.year, tm.month, tm.day) = (y, i64::from(m), i64::from(d));
    }
    if fmask & MONTH != 0 && !(1..=12).contains(&tm.month) {
        return Err(Problem::MonthDayOverflow);
    }
    if fmask & DAY_M != 0 && !(1..=31).contains(&tm.day) {
        return Err(Problem::MonthDayOverflow);
    }
    if fmask & DATE_M == DATE_M && tm.day > i64::from(calendar::days_in_month(tm.year, tm.month as u32)) {
        return Err(Problem::FieldOverflow);
    }
    Ok(())
}

/// DATE input.
pub fn parse_date(text: &str) -> Result<i64> {
    let err = |p| input_error(p, text, "date");
    let fields = tokenize(text).map_err(err)?;
    match decode_date_time(&fields).map_err(err)? {
        Decoded::DateTime { civil, .. } => {
            let out_of_range =
                || Error::new(SqlState::DatetimeFieldOverflow, format!("date out of range: \"{text}\""));
            if !civil.is_valid_julian() {
                return Err(out_of_range());
            }
            let days = civil.days();
            if !calendar::date_in_range(days) {
                return Err(out_of_range());
            }
            Ok(days)
        }
        Decoded::Epoch => Ok(0),
        Decoded::Infinity => Ok(calendar::DATE_INFINITY),
        Decoded::NegInfinity => Ok(calendar::DATE_NEG_INFINITY),
    }
}

/// TIMESTAMP (`with_zone` false) or TIMESTAMPTZ input. A timestamp without time zone
/// ignores a zone given; one with time zone applies it, or the session's.
pub fn parse_timestamp(text: &str, with_zone: bool) -> Result<i64> {
    let type_name = if with_zone { "timestamp with time zone" } else { "timestamp without time zone" };
    let err = |p| input_error(p, text, type_name);
    let fields = tokenize(text).map_err(err)?;
    let out_of_range =
        || Error::new(SqlState::DatetimeFieldOverflow, format!("timestamp out of range: \"{text}\""));
    match decode_date_time(&fields).map_err(err)? {
        Decoded::DateTime { civil, zone } => {
            if !civil.is_valid_julian() {
                return Err(out_of_range());
            }
            let local = civil.to_micros().ok_or_else(out_of_range)?;
            let micros = if !with_zone {
                local
            } else {
                match zone {
                    ZoneSpec::Offset(east) => local.checked_sub(i64::from(east) * SECOND),
                    ZoneSpec::Session => settings::current().settings.zone.local_to_utc(local),
                }
                .ok_or_else(out_of_range)?
            };
            if !calendar::timestamp_in_range(micros) {
                return Err(out_of_range());
            }
            Ok(micros)
        }
        Decoded::Epoch => Ok(0),
        Decoded::Infinity => Ok(calendar::TIMESTAMP_INFINITY),
        Decoded::NegInfinity => Ok(calendar::TIMESTAMP_NEG_INFINITY),
    }
}

/// TIME input: microseconds since midnight (24:00:00 included).
pub fn parse_time(text: &str) -> Result<i64> {
    let err = |p| input_error(p, text, "time without time zone");
    let fields = tokenize(text).map_err(err)?;
    decode_time_only(&fields).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> String {
        match parse_date(text) {
            Ok(d) => super::super::format::format_date(d),
            Err(e) => format!("ERROR {}", e.sqlstate()),
        }
    }

    #[test]
    fn dates_read_as_postgres_reads_them() {
        assert_eq!(date("1999-01-08"), "1999-01-08");
        assert_eq!(date("January 8, 1999"), "1999-01-08");
        assert_eq!(date("1/8/1999"), "1999-01-08");
        assert_eq!(date("08-Jan-1999"), "1999-01-08");
        assert_eq!(date("Jan-08-1999"), "1999-01-08");
        assert_eq!(date("19990108"), "1999-01-08");
        assert_eq!(date("990108"), "1999-01-08");
        assert_eq!(date("1999.008"), "1999-01-08");
        assert_eq!(date("J2451187"), "1999-01-08");
        assert_eq!(date("January 8, 99 BC"), "0099-01-08 BC");
        assert_eq!(date("1/8/69"), "2069-01-08");
        assert_eq!(date("99-01-08"), "ERROR 22008", "99 is no month in MDY order");
        assert_eq!(date("2024-02-30"), "ERROR 22008");
        assert_eq!(date("infinity"), "infinity");
        assert_eq!(date("5874898-01-01"), "ERROR 22008");
        assert_eq!(date("nonsense"), "ERROR 22007");
    }

    #[test]
    fn times_and_zones() {
        assert_eq!(parse_time("04:05:06.789").ok(), Some(((4 * 60 + 5) * 60 + 6) * SECOND + 789_000));
        assert_eq!(parse_time("040506").ok(), Some(((4 * 60 + 5) * 60 + 6) * SECOND));
        assert_eq!(parse_time("04:05 PM").ok(), Some((16 * 60 + 5) * 60 * SECOND));
        assert_eq!(parse_time("04:05:06 PST").ok(), Some(((4 * 60 + 5) * 60 + 6) * SECOND));
        assert_eq!(parse_time("allballs").ok(), Some(0));
        assert_eq!(parse_time("24:00:00").ok(), Some(DAY));
        assert!(parse_time("24:00:01").is_err());
        assert_eq!(decode_zone_offset("-08:00"), Ok(-8 * 3600));
        assert_eq!(decode_zone_offset("+0530"), Ok(5 * 3600 + 30 * 60));
        assert_eq!(decode_zone_offset("+16"), Err(Problem::ZoneDisplacement));
        let pst = parse_timestamp("1999-01-08 04:05:06 PST", true).expect("timestamptz");
        let utc = parse_timestamp("1999-01-08 12:05:06", true).expect("timestamptz");
        assert_eq!(pst, utc);
        assert_eq!(
            parse_timestamp("1999-01-08 04:05:06 PST", false),
            parse_timestamp("1999-01-08 04:05:06", false)
        );
        let ny = parse_timestamp("2020-06-01 08:00 America/New_York", true).expect("named zone");
        assert_eq!(ny, parse_timestamp("2020-06-01 12:00", true).expect("utc"));
        assert!(parse_timestamp("294277-01-01", false).is_err());
    }
}
