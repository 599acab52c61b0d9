//! The session settings dates and times depend on (`DateStyle`, `IntervalStyle`,
//! `TimeZone`), and how a running statement reaches them.
//!
//! PostgreSQL's input and output functions read these settings from globals, and so
//! does much of what depends on them here: a cast from text to `timestamptz`, the text
//! form of a date inside `||`, a `timestamptz` printed for the client. Passing them down
//! as arguments would thread a context through every cast and every value's `Display`,
//! so instead the session *installs* its settings (with the statement's clock) on its
//! thread while it runs a statement ([`enter`]), and the code that needs them reads
//! [`current`]. A statement runs on its session's thread from parse to the last row
//! sent, so this is exactly PostgreSQL's "the settings in force while the statement
//! runs". Outside any statement the defaults apply (ISO, MDY, postgres, UTC), which is
//! what a `Value` printed by a program embedding the database shows.

use std::cell::RefCell;
use std::rc::Rc;

use super::zone::Zone;
use crate::error::{Error, Result, SqlState};

/// How dates and times are written (the first part of `DateStyle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateStyle {
    /// `1999-01-08 04:05:06-08` (the default)
    Iso,
    /// `Fri Jan 08 04:05:06 1999 PST`
    Postgres,
    /// `01/08/1999 04:05:06 PST`
    Sql,
    /// `08.01.1999 04:05:06 PST`
    German,
}

/// How the fields of an ambiguous numeric date are read, and the order SQL and Postgres
/// styles print them in (the second part of `DateStyle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateOrder {
    Ymd,
    Dmy,
    Mdy,
}

/// How intervals are written (`IntervalStyle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntervalStyle {
    /// `1 year 2 mons 3 days 04:05:06` (the default)
    Postgres,
    /// `@ 1 year 2 mons 3 days 4 hours 5 mins 6 secs`
    PostgresVerbose,
    /// `1-2 3 4:05:06`
    SqlStandard,
    /// `P1Y2M3DT4H5M6S`
    Iso8601,
}

/// The date and time settings of a session.
#[derive(Clone, Debug, PartialEq)]
pub struct DateTimeSettings {
    pub date_style: DateStyle,
    pub date_order: DateOrder,
    pub interval_style: IntervalStyle,
    pub zone: Zone,
}

impl Default for DateTimeSettings {
    fn default() -> Self {
        DateTimeSettings {
            date_style: DateStyle::Iso,
            date_order: DateOrder::Mdy,
            interval_style: IntervalStyle::Postgres,
            zone: Zone::utc(),
        }
    }
}

impl DateTimeSettings {
    /// `SET DateStyle`: a list of a style and/or an order (`ISO, DMY`, `German`,
    /// `euro`); a part not named keeps its value, and German alone implies DMY, as in
    /// PostgreSQL. 22023 for unknown words and conflicting parts.
    pub fn set_date_style(&mut self, value: &str) -> Result<()> {
        let invalid = |detail: String| {
            Error::new(
                SqlState::InvalidParameterValue,
                format!("invalid value for parameter \"DateStyle\": \"{value}\""),
            )
            .with_detail(detail)
        };
        let (mut style, mut order) = (None, None);
        let set_style = |s: DateStyle, style: &mut Option<DateStyle>| {
            if style.is_some_and(|old| old != s) {
                return Err(invalid("Conflicting \"datestyle\" specifications.".to_string()));
            }
            *style = Some(s);
            Ok(())
        };
        let mut implied_order = None;
        for word in value.split([',', ' ']).map(str::trim).filter(|w| !w.is_empty()) {
            let word = word.trim_matches('"');
            let new_order = match word.to_ascii_lowercase().as_str() {
                "iso" => {
                    set_style(DateStyle::Iso, &mut style)?;
                    None
                }
                "sql" => {
                    set_style(DateStyle::Sql, &mut style)?;
                    None
                }
                "postgres" => {
                    set_style(DateStyle::Postgres, &mut style)?;
                    None
                }
                "german" => {
                    set_style(DateStyle::German, &mut style)?;
                    implied_order = Some(DateOrder::Dmy);
                    None
                }
                "ymd" => Some(DateOrder::Ymd),
                "dmy" | "euro" | "european" => Some(DateOrder::Dmy),
                "mdy" | "us" | "noneuro" | "noneuropean" => Some(DateOrder::Mdy),
                "default" => {
                    set_style(DateStyle::Iso, &mut style)?;
                    Some(DateOrder::Mdy)
                }
                _ => return Err(invalid(format!("Unrecognized key word: \"{word}\"."))),
            };
            if let Some(o) = new_order {
                if order.is_some_and(|old| old != o) {
                    return Err(invalid("Conflicting \"datestyle\" specifications.".to_string()));
                }
                order = Some(o);
            }
        }
        if let Some(s) = style {
            self.date_style = s;
        }
        if let Some(o) = order.or(implied_order) {
            self.date_order = o;
        }
        Ok(())
    }

    /// `SHOW DateStyle`: `ISO, MDY`.
    pub fn date_style_name(&self) -> String {
        let style = match self.date_style {
            DateStyle::Iso => "ISO",
            DateStyle::Postgres => "Postgres",
            DateStyle::Sql => "SQL",
            DateStyle::German => "German",
        };
        let order = match self.date_order {
            DateOrder::Ymd => "YMD",
            DateOrder::Dmy => "DMY",
            DateOrder::Mdy => "MDY",
        };
        format!("{style}, {order}")
    }

    /// `SET IntervalStyle`.
    pub fn set_interval_style(&mut self, value: &str) -> Result<()> {
        self.interval_style = match value.trim().to_ascii_lowercase().as_str() {
            "postgres" => IntervalStyle::Postgres,
            "postgres_verbose" => IntervalStyle::PostgresVerbose,
            "sql_standard" => IntervalStyle::SqlStandard,
            "iso_8601" => IntervalStyle::Iso8601,
            _ => {
                return Err(Error::new(
                    SqlState::InvalidParameterValue,
                    format!("invalid value for parameter \"IntervalStyle\": \"{value}\""),
                )
                .with_hint("Available values: postgres, postgres_verbose, sql_standard, iso_8601."));
            }
        };
        Ok(())
    }

    /// `SHOW IntervalStyle`.
    pub fn interval_style_name(&self) -> &'static str {
        match self.interval_style {
            IntervalStyle::Postgres => "postgres",
            IntervalStyle::PostgresVerbose => "postgres_verbose",
            IntervalStyle::SqlStandard => "sql_standard",
            IntervalStyle::Iso8601 => "iso_8601",
        }
    }

    /// `SET TimeZone` (`LOCAL` and `DEFAULT` mean the default, UTC).
    pub fn set_time_zone(&mut self, value: &str) -> Result<()> {
        let v = value.trim();
        self.zone = if v.eq_ignore_ascii_case("local") || v.eq_ignore_ascii_case("default") {
            Zone::utc()
        } else {
            Zone::from_setting(v)?
        };
        Ok(())
    }
}

/// What a running statement's date and time code reads: the session's settings and the
/// statement's clock.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub settings: DateTimeSettings,
    /// `now()`: when the transaction started (microseconds since the epoch).
    pub transaction_start: i64,
    /// `statement_timestamp()`: when the statement started.
    pub statement_start: i64,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Context>>> = const { RefCell::new(None) };
}

/// Installs `context` on this thread until the returned guard is dropped (when the one
/// installed before comes back).
pub fn enter(context: Context) -> Scope {
    let previous = CURRENT.with(|c| c.replace(Some(Rc::new(context))));
    Scope { previous }
}

/// The context installed on this thread, or the defaults (with the clock read now).
pub fn current() -> Rc<Context> {
    CURRENT.with(|c| c.borrow().clone()).unwrap_or_else(|| {
        let now = now_micros();
        Rc::new(Context {
            settings: DateTimeSettings::default(),
            transaction_start: now,
            statement_start: now,
        })
    })
}

/// Restores the previously installed context when dropped.
pub struct Scope {
    previous: Option<Rc<Context>>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The wall clock, in microseconds since the epoch (`clock_timestamp()`).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_style_parts_combine_like_postgres() {
        let mut s = DateTimeSettings::default();
        s.set_date_style("German").expect("set");
        assert_eq!(s.date_style_name(), "German, DMY");
        s.set_date_style("ymd").expect("set");
        assert_eq!(s.date_style_name(), "German, YMD");
        s.set_date_style("SQL, MDY").expect("set");
        assert_eq!(s.date_style_name(), "SQL, MDY");
        assert!(s.set_date_style("ISO, SQL").is_err());
        assert!(s.set_date_style("bogus").is_err());
        assert_eq!(s.date_style_name(), "SQL, MDY", "a failed SET changes nothing");
    }

    #[test]
    fn the_installed_context_is_scoped() {
        let mut settings = DateTimeSettings::default();
        settings.set_interval_style("iso_8601").expect("set");
        {
            let _scope = enter(Context { settings, ..Context::default() });
            assert_eq!(current().settings.interval_style, IntervalStyle::Iso8601);
        }
        assert_eq!(current().settings.interval_style, IntervalStyle::Postgres);
    }
}
