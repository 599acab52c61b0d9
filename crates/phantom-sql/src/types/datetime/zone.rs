//! Time zones: the session's `TimeZone` and the zones input and `AT TIME ZONE` name.
//!
//! The rules come from the IANA database bundled into the binary by `jiff` (so nothing
//! depends on the system's tzdata); everything else, the calendar included, is ours. A
//! [`Zone`] is one of:
//!
//! - a named IANA zone (`Europe/Berlin`, matched without regard to case, as PostgreSQL
//!   does), or a POSIX rule (`EST5EDT`, `UTC+3`, where `+` means *west* of Greenwich);
//! - a fixed offset, which `SET TIME ZONE -7` makes (shown as PostgreSQL shows it,
//!   `<-07>+07`).
//!
//! Offsets here are seconds *east* of UTC, the opposite of PostgreSQL's internal `tz`.
//!
//! The bundled rules cover years -9999 to 9999. Beyond that (timestamps reach 294247 AD),
//! an instant is moved by whole 400-year Gregorian cycles into that window before the
//! rules are consulted: a cycle has a whole number of weeks, so every rule that repeats
//! yearly (daylight saving) gives the same answer, as PostgreSQL's extrapolation of the
//! last POSIX rule does.
//!
//! Local times that a transition skips or repeats resolve as PostgreSQL resolves them:
//! in a gap (spring forward) the offset from before the transition applies, so 02:30
//! becomes 03:30 daylight time; in a fold (fall back) the offset from after it applies.

use std::fmt;

use jiff::tz::{AmbiguousOffset, TimeZone};

use super::calendar::{Civil, DAY, SECOND};
use crate::error::{Error, Result, SqlState};

/// The length of 400 Gregorian years, in microseconds.
const CYCLE: i64 = 146_097 * DAY;
/// Instants the bundled rules answer for directly (about ±9000 years around 1970).
const RULES_WINDOW: i64 = 22 * CYCLE;

/// What an input abbreviation (`PST`, `CEST`, `MSK`) stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abbreviation {
    /// A fixed offset (seconds east) and whether it is daylight time.
    Fixed(i32, bool),
    /// The offset the named zone has at the time in question.
    Dynamic(&'static str),
}

/// PostgreSQL's default abbreviation table (`timezonesets/Default`).
fn abbreviation(name: &str) -> Option<Abbreviation> {
    let table = super::abbreviations::ABBREVIATIONS;
    table.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| table[i].1)
}

/// A time zone: rules and the name `SHOW TimeZone` reports.
#[derive(Clone, Debug)]
pub struct Zone {
    rules: Rules,
    name: String,
}

#[derive(Clone, Debug)]
enum Rules {
    /// A named zone or a POSIX rule.
    Tz(TimeZone),
    /// A fixed offset, seconds east.
    Fixed(i32),
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The offset and abbreviation in force at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalOffset {
    /// Seconds east of UTC.
    pub east: i32,
    /// `PST`, `CEST`, or PostgreSQL's numeric form (`+05:30`) where the zone has none.
    pub abbreviation: String,
    /// True in daylight saving time.
    pub dst: bool,
}

impl Zone {
    /// UTC, the default.
    pub fn utc() -> Zone {
        Zone { rules: Rules::Tz(TimeZone::UTC), name: "UTC".to_string() }
    }

    /// A fixed offset `east` seconds east of UTC, named as PostgreSQL names one
    /// (`<+05:30>-05:30`).
    pub fn fixed(east: i32) -> Zone {
        let abbreviation = numeric_abbreviation(east);
        let posix = numeric_abbreviation(-east);
        Zone { rules: Rules::Fixed(east), name: format!("<{abbreviation}>{posix}") }
    }

    /// A zone by name, as time-zone names are accepted in input and `AT TIME ZONE`: an
    /// IANA name (any case), a POSIX rule, or an abbreviation of the default table. `None`
    /// when none of these.
    pub fn by_name(name: &str) -> Option<Zone> {
        let lower = name.to_ascii_lowercase();
        if let Some(Abbreviation::Fixed(east, _)) = abbreviation(&lower) {
            // A fixed abbreviation is its offset (`AT TIME ZONE 'PST'`), but `UTC` and
            // the like keep their own name.
            return Some(Zone { rules: Rules::Fixed(east), name: name.to_string() });
        }
        if let Some(Abbreviation::Dynamic(zone)) = abbreviation(&lower) {
            return Zone::named(zone);
        }
        Zone::named(name)
    }

    /// An IANA zone or POSIX rule, named as given.
    fn named(name: &str) -> Option<Zone> {
        if name.is_empty() || name.len() > 64 {
            return None;
        }
        let rules = match TimeZone::get(name) {
            Ok(tz) => tz,
            // POSIX rules need a letter first (`EST5EDT`, `UTC+3`): a bare number is an
            // offset, which the callers parse themselves.
            Err(_) if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '<') => {
                TimeZone::posix(name).ok()?
            }
            Err(_) => return None,
        };
        let name = rules.iana_name().map_or_else(|| name.to_string(), str::to_string);
        Some(Zone { rules: Rules::Tz(rules), name })
    }

    /// The value of `SET TIME ZONE`: a number of hours east of UTC (`-7`, `5.5`), `UTC`,
    /// an IANA name or a POSIX rule. 22023 otherwise, with PostgreSQL's message.
    pub fn from_setting(value: &str) -> Result<Zone> {
        let v = value.trim();
        if let Ok(hours) = v.parse::<f64>()
            && hours.is_finite()
        {
            let seconds = (hours * 3600.0).round();
            if seconds.abs() <= 15.0 * 3600.0 + 59.0 * 60.0 {
                return Ok(Zone::fixed(seconds as i32));
            }
        }
        Zone::named(v)
            .filter(|_| !v.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-'))
            .ok_or_else(|| {
                Error::new(
                    SqlState::InvalidParameterValue,
                    format!("invalid value for parameter \"TimeZone\": \"{value}\""),
                )
            })
    }

    /// The name `SHOW TimeZone` reports.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset in force at the (finite) instant `utc` (microseconds since the epoch).
    pub fn offset_at(&self, utc: i64) -> LocalOffset {
        match &self.rules {
            Rules::Fixed(east) => {
                LocalOffset { east: *east, abbreviation: numeric_abbreviation(*east), dst: false }
            }
            Rules::Tz(tz) => {
                let info = tz.to_offset_info(timestamp(into_window(utc)));
                let east = info.offset().seconds();
                let abbreviation = info.abbreviation();
                // Zones without a letter abbreviation have the offset spelled out, which
                // PostgreSQL prints in its own numeric form.
                let abbreviation = if abbreviation.starts_with(['+', '-']) {
                    numeric_abbreviation(east)
                } else {
                    abbreviation.to_string()
                };
                LocalOffset { east, abbreviation, dst: info.dst().is_dst() }
            }
        }
    }

    /// The seconds east of UTC that the local (wall-clock) time `local` has here, with
    /// PostgreSQL's choice for skipped and repeated local times.
    pub fn offset_of_local(&self, local: i64) -> i32 {
        match &self.rules {
            Rules::Fixed(east) => *east,
            Rules::Tz(tz) => {
                let shift = local - into_window(local);
                let civil = Civil::from_micros(local - shift);
                let Ok(dt) = jiff::civil::DateTime::new(
                    civil.year as i16,
                    civil.month as i8,
                    civil.day as i8,
                    civil.hour as i8,
                    civil.minute as i8,
                    civil.second as i8,
                    0,
                ) else {
                    return 0;
                };
                match tz.to_ambiguous_timestamp(dt).offset() {
                    AmbiguousOffset::Unambiguous { offset } => offset.seconds(),
                    AmbiguousOffset::Gap { before, .. } => before.seconds(),
                    AmbiguousOffset::Fold { after, .. } => after.seconds(),
                }
            }
        }
    }

    /// The instant of the local time `local` here.
    pub fn local_to_utc(&self, local: i64) -> Option<i64> {
        local.checked_sub(i64::from(self.offset_of_local(local)) * SECOND)
    }

    /// The local time of the instant `utc` here.
    pub fn utc_to_local(&self, utc: i64) -> Option<i64> {
        utc.checked_add(i64::from(self.offset_at(utc).east) * SECOND)
    }
}

/// An offset in PostgreSQL's numeric abbreviation form: `+05`, `-07`, `+05:30`.
pub fn numeric_abbreviation(east: i32) -> String {
    let sign = if east < 0 { '-' } else { '+' };
    let s = east.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    match (m, sec) {
        (0, 0) => format!("{sign}{h:02}"),
        (_, 0) => format!("{sign}{h:02}:{m:02}"),
        _ => format!("{sign}{h:02}:{m:02}:{sec:02}"),
    }
}

/// A zone name or abbreviation of input (`PST`, `Europe/Paris`), for the date/time
/// parser: its offset at the local time `local`, or `None` if it is no zone.
pub fn input_zone_offset(name: &str, local: i64) -> Option<i32> {
    match abbreviation(&name.to_ascii_lowercase()) {
        Some(Abbreviation::Fixed(east, _)) => Some(east),
        Some(Abbreviation::Dynamic(zone)) => Zone::named(zone).map(|z| z.abbreviation_offset(name, local)),
        None => Zone::named(name).map(|z| z.offset_of_local(local)),
    }
}

impl Zone {
    /// The offset a zone's abbreviation stands for around the local time `local`: the
    /// zone's offset then if it goes by that abbreviation then, else the offset of the
    /// nearest earlier time it did (PostgreSQL's rule: `MSK` in a Moscow summer is still
    /// +03, not the +04 of MSD), else of the nearest later one.
    fn abbreviation_offset(&self, abbreviation: &str, local: i64) -> i32 {
        let guess = self.offset_of_local(local);
        let matches = |utc: i64| {
            let at = self.offset_at(utc);
            at.abbreviation.eq_ignore_ascii_case(abbreviation).then_some(at.east)
        };
        let utc = local - i64::from(guess) * SECOND;
        if let Some(east) = matches(utc) {
            return east;
        }
        // Probe every two weeks, up to 60 years back, then forward.
        const STEP: i64 = 14 * DAY;
        const STEPS: i64 = 60 * 27;
        (1..=STEPS)
            .find_map(|k| matches(utc - k * STEP))
            .or_else(|| (1..=STEPS).find_map(|k| matches(utc + k * STEP)))
            .unwrap_or(guess)
    }
}

/// The input meaning of an abbreviation, if it is one.
pub fn input_abbreviation(name: &str) -> Option<Abbreviation> {
    abbreviation(name)
}

/// Moves an instant by whole 400-year cycles into the span the bundled rules cover.
fn into_window(micros: i64) -> i64 {
    if (-RULES_WINDOW..RULES_WINDOW).contains(&micros) {
        return micros;
    }
    let cycles = micros.div_euclid(CYCLE);
    micros - cycles * CYCLE
}

fn timestamp(micros: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::datetime::calendar::days_from_civil;

    fn at(y: i64, m: u32, d: u32, h: i64, min: i64) -> i64 {
        days_from_civil(y, m, d) * DAY + h * 3_600_000_000 + min * 60_000_000
    }

    #[test]
    fn the_abbreviation_table_is_sorted_for_binary_search() {
        let table = super::super::abbreviations::ABBREVIATIONS;
        assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(abbreviation("pst"), Some(Abbreviation::Fixed(-28800, false)));
    }

    #[test]
    fn daylight_saving_and_its_gaps_resolve_like_postgres() {
        let ny = Zone::by_name("america/new_york").expect("zone");
        assert_eq!(ny.name(), "America/New_York");
        assert_eq!(ny.offset_at(at(2020, 6, 1, 12, 0)).east, -4 * 3600);
        assert_eq!(ny.offset_at(at(2020, 6, 1, 12, 0)).abbreviation, "EDT");
        assert_eq!(ny.offset_at(at(2020, 1, 1, 12, 0)).abbreviation, "EST");
        // 02:30 does not exist on 2020-03-08: the offset before (EST) applies.
        assert_eq!(ny.offset_of_local(at(2020, 3, 8, 2, 30)), -5 * 3600);
        // 01:30 happens twice on 2020-11-01: the offset after (EST) applies.
        assert_eq!(ny.offset_of_local(at(2020, 11, 1, 1, 30)), -5 * 3600);
        // Far future: the yearly rule still holds.
        assert_eq!(ny.offset_at(at(200_000, 7, 1, 12, 0)).east, -4 * 3600);
    }

    #[test]
    fn settings_take_numbers_names_and_posix_rules() {
        assert_eq!(Zone::from_setting("-7").expect("zone").name(), "<-07>+07");
        assert_eq!(Zone::from_setting("5.5").expect("zone").name(), "<+05:30>-05:30");
        let posix = Zone::from_setting("UTC+3").expect("zone");
        assert_eq!(posix.offset_at(0).east, -3 * 3600);
        assert!(Zone::from_setting("Mars/Olympus").is_err());
        assert_eq!(numeric_abbreviation(-25200), "-07");
    }
}
