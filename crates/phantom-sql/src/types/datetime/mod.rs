//! Dates, times, timestamps and intervals, as PostgreSQL 15 has them.
//!
//! - DATE: days since 1970-01-01; TIME: microseconds since midnight; TIMESTAMP and
//!   TIMESTAMP WITH TIME ZONE: microseconds since 1970-01-01 00:00 (a `timestamptz` is an
//!   instant, UTC); INTERVAL: months, days and microseconds. `±infinity` are the extremes
//!   of `i64` (see [`calendar`]).
//! - The session's `DateStyle`, `IntervalStyle` and `TimeZone` decide how values are
//!   read and written; a running statement finds them in [`settings::current`].
//!
//! The pieces, one concept each:
//!
//! - [`calendar`]: civil dates and Julian days, broken-down times, the valid ranges.
//! - [`zone`]: time zones (IANA rules bundled by `jiff`, POSIX rules, fixed offsets) and
//!   the input abbreviations ([`abbreviations`], PostgreSQL's default table).
//! - [`settings`]: the three settings and how a statement reaches them.
//! - [`parse`]: PostgreSQL's date/time input algorithm (tokenizer and field decoder).
//! - [`format`]: output in each `DateStyle`.
//! - [`interval`]: intervals: input (including ISO 8601), output in each
//!   `IntervalStyle`, typmods, arithmetic and `justify_*`.
//! - [`arith`]: `timestamp ± interval` and the conversions that depend on the zone.
//! - [`fields`]: EXTRACT / date_part, date_trunc, date_bin, age, make_*.
//! - [`to_char`]: `to_char`, `to_date` and `to_timestamp` templates.

//!
//! The calendar arithmetic is ours throughout; only the zone rules come from a crate.

mod abbreviations;
pub mod arith;
pub mod calendar;
pub mod fields;
pub mod format;
pub mod interval;
pub mod parse;
pub mod settings;
pub mod to_char;

pub mod zone;

pub use calendar::{DAY, HOUR, MINUTE, SECOND};
pub use format::{format_date, format_time, format_timestamp, format_timestamptz};
pub use interval::{Interval, IntervalTypmod, format_interval, parse_interval};
pub use parse::{parse_date, parse_time, parse_timestamp};
pub use settings::{DateTimeSettings, IntervalStyle};

pub use zone::Zone;
