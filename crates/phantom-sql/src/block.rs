//! Transaction blocks and the session settings that shape them.
//!
//! A [`Block`] is what `BEGIN` opens: one [`Transaction`] at a chosen isolation level, its
//! savepoints, and whether a statement in it has failed. PostgreSQL's rules apply:
//!
//! - After an error the block is *failed*: every statement but `ROLLBACK` (or `ROLLBACK TO`
//!   a savepoint, which revives it) fails with 25P02, and `COMMIT` rolls back.
//! - The work of the failed statement is undone at once, not when the client gets round to
//!   `ROLLBACK`: without savepoints the whole transaction rolls back, releasing its locks
//!   (so a deadlock victim unblocks the others immediately); with savepoints it rolls back
//!   to the newest one, as PostgreSQL aborts the current subtransaction.
//! - `SET TRANSACTION ISOLATION LEVEL` is allowed only before the block's first query.
//! - `SET LOCAL` (and `set_config(name, value, true)`) lasts until the block ends: the
//!   block remembers each such setting's earlier value and the session puts it back at
//!   COMMIT or ROLLBACK. Outside a block it changes nothing, as in PostgreSQL (which also
//!   warns). Plain `SET` is not undone by a ROLLBACK here, unlike PostgreSQL.
//!
//! [`Settings`] are the session's `SET` parameters; the ones that matter here are
//! `default_transaction_isolation`, `lock_timeout`, `search_path` (where unqualified
//! names are looked up, see [`crate::catalog`]) and `DateStyle`, `IntervalStyle` and
//! `TimeZone` (how dates and times are read and written, see [`crate::types::datetime`]). Others that PostgreSQL clients
//! commonly send are accepted and shown back, unknown ones fail with 42704. The role the
//! session runs as is kept here too (set when a server client logs in), since `SHOW
//! session_authorization` and `is_superuser` report it.

use std::collections::BTreeMap;
use std::time::Duration;

use phantom_txn::{Isolation, MvccStore, Savepoint, Transaction, TxnOptions};
use sqlparser::ast::{TransactionAccessMode, TransactionIsolationLevel, TransactionMode};

use crate::catalog;
use crate::error::{Error, Result, SqlState};
use crate::interrupt::Interrupt;
use crate::types::datetime::DateTimeSettings;

/// Parameters that are accepted and remembered, but change nothing.
const PASSIVE: &[(&str, &str)] = &[
    ("application_name", ""),
    ("bytea_output", "hex"),
    ("check_function_bodies", "on"),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("default_table_access_method", "heap"),
    ("default_tablespace", ""),
    ("escape_string_warning", "on"),
    ("extra_float_digits", "1"),
    ("idle_in_transaction_session_timeout", "0"),
    ("idle_session_timeout", "0"),
    ("maintenance_work_mem", "64MB"),
    ("row_security", "on"),
    ("server_encoding", "UTF8"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("synchronous_commit", "on"),
    ("work_mem", "4MB"),
    ("xmloption", "content"),
];

/// A size in bytes, as the `phantom.*` size settings take it.
fn parse_bytes(name: &str, value: &str) -> Result<usize> {
    value.trim().parse().map_err(|_| {
        Error::new(
            SqlState::InvalidParameterValue,
            format!("invalid value for parameter \"{name}\": \"{value}\""),
        )
    })
}

/// A session's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub default_isolation: Isolation,
    pub lock_timeout: Option<Duration>,
    /// The write-set limit of each transaction, in bytes.
    pub write_set_limit: usize,
    /// How much of a transaction's write set stays in memory before it spills to disk.
    pub spill_threshold: usize,
    /// Where unqualified table names are looked up, in order.
    pub search_path: Vec<String>,
    /// The role the session runs as (`current_user`, `session_user`).
    pub user: String,
    /// Whether that role is a superuser (`SHOW is_superuser`).
    pub superuser: bool,
    /// `DateStyle`, `IntervalStyle` and `TimeZone` (see [`crate::types::datetime`]).
    pub datetime: DateTimeSettings,
    passive: BTreeMap<String, String>,
    /// Counts changes made through [`Settings::set`], so a caller can tell cheaply
    /// whether anything changed since it last looked.
    version: u64,
}

/// A change `set_config(name, value, is_local)` asked for while a statement was bound;
/// the session applies it, as `SET` / `SET LOCAL`, once the statement has run.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingChange {
    pub name: String,
    pub value: String,
    /// `SET LOCAL`: undone when the transaction block ends.
    pub local: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default_isolation: Isolation::ReadCommitted,
            lock_timeout: None,
            write_set_limit: TxnOptions::default().write_set_limit,
            spill_threshold: TxnOptions::default().spill_threshold,
            search_path: catalog::default_search_path(),
            user: catalog::BOOTSTRAP_ROLE.to_string(),
            superuser: true,
            datetime: DateTimeSettings::default(),
            passive: PASSIVE.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            version: 0,
        }
    }
}

impl Settings {
    /// Transaction options at `isolation` (or the default level).
    pub fn txn_options(&self, isolation: Option<Isolation>) -> TxnOptions {
        TxnOptions {
            isolation: isolation.unwrap_or(self.default_isolation),
            lock_timeout: self.lock_timeout,
            write_set_limit: self.write_set_limit,
            spill_threshold: self.spill_threshold,
            ..TxnOptions::default()
        }
    }

    /// Starts a transaction with these settings, whose lock waits end with 57014 when
    /// `interrupt` is raised (the session's cancel flag).
    pub fn begin(
        &self,
        store: &MvccStore,
        isolation: Option<Isolation>,
        interrupt: &Interrupt,
    ) -> Transaction {
        store.begin_with(TxnOptions { cancel: Some(interrupt.flag()), ..self.txn_options(isolation) })
    }

    /// The search path names are looked up through: `search_path` with `$user` standing
    /// for the session's role (a schema of that name is used if it exists, and skipped
    /// like any missing schema if not, as in PostgreSQL).
    pub fn lookup_path(&self) -> Vec<String> {
        self.search_path.iter().map(|s| if s == "$user" { self.user.clone() } else { s.clone() }).collect()
    }

    /// How many changes [`Settings::set`] has made (see `version`).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// `SET name = value`. `transaction_isolation` is the block's business, not ours.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        self.version += 1;
        match name {
            "default_transaction_isolation" => self.default_isolation = parse_isolation(value)?,
            "lock_timeout" => self.lock_timeout = parse_duration(value)?,
            "phantom.write_set_limit" => self.write_set_limit = parse_bytes(name, value)?,
            "phantom.spill_threshold" => self.spill_threshold = parse_bytes(name, value)?,
            "search_path" if value.trim().eq_ignore_ascii_case("default") => {
                self.search_path = catalog::default_search_path()
            }
            "search_path" => self.search_path = catalog::parse_search_path(value)?,
            "datestyle" => self.datetime.set_date_style(value)?,
            "intervalstyle" => self.datetime.set_interval_style(value)?,
            "timezone" => self.datetime.set_time_zone(value)?,
            _ if self.passive.contains_key(name) => {
                self.passive.insert(name.to_string(), value.to_string());
            }
            _ if crate::catalog::pg_catalog::READ_ONLY_SETTINGS.contains(&name) => {
                return Err(Error::new(
                    SqlState::CantChangeRuntimeParam,
                    format!("parameter \"{name}\" cannot be changed"),
                ));
            }
            _ => return Err(unknown(name)),
        }
        Ok(())
    }

    /// `SHOW name`; `current` is the open block's level, if any.
    pub fn show(&self, name: &str, current: Option<Isolation>) -> Result<String> {
        Ok(match name {
            "transaction_isolation" | "transaction isolation level" => {
                current.unwrap_or(self.default_isolation).name().to_string()
            }
            "default_transaction_isolation" => self.default_isolation.name().to_string(),
            "lock_timeout" => match self.lock_timeout {
                None => "0".to_string(),
                Some(d) => format!("{}ms", d.as_millis()),
            },
            "phantom.write_set_limit" => self.write_set_limit.to_string(),
            "phantom.spill_threshold" => self.spill_threshold.to_string(),
            "search_path" => catalog::format_search_path(&self.search_path),
            "session_authorization" => self.user.clone(),
            "is_superuser" => if self.superuser { "on" } else { "off" }.to_string(),
            "datestyle" => self.datetime.date_style_name(),
            "intervalstyle" => self.datetime.interval_style_name().to_string(),
            "timezone" => self.datetime.zone.name().to_string(),
            _ => match self.passive.get(name) {
                Some(value) => value.clone(),
                None => crate::catalog::pg_catalog::read_only_setting(name).ok_or_else(|| unknown(name))?,
            },
        })
    }

    /// Every setting with its value, by name (for `pg_settings`).
    pub fn all(&self) -> Vec<(String, String)> {
        let mut names: Vec<&str> = vec![
            "default_transaction_isolation",
            "lock_timeout",
            "phantom.spill_threshold",
            "phantom.write_set_limit",
            "search_path",
            "datestyle",
            "intervalstyle",
            "timezone",
        ];
        names.extend(self.passive.keys().map(String::as_str));
        names.extend(crate::catalog::pg_catalog::READ_ONLY_SETTINGS);
        names.sort_unstable();
        names.iter().filter_map(|n| self.show(n, None).ok().map(|v| (n.to_string(), v))).collect()
    }
}

fn unknown(name: &str) -> Error {
    Error::new(SqlState::UndefinedObject, format!("unrecognized configuration parameter \"{name}\""))
}

/// An isolation level by name.
pub fn parse_isolation(value: &str) -> Result<Isolation> {
    Isolation::parse(value).ok_or_else(|| {
        Error::new(
            SqlState::InvalidParameterValue,
            format!("invalid value for parameter \"transaction_isolation\": \"{value}\""),
        )
        .with_detail(
            "Available values: serializable, snapshot, repeatable read, read committed, read uncommitted.",
        )
    })
}

/// A duration as PostgreSQL writes it: `0` (none), `250` (milliseconds), `250ms`, `2s`,
/// `1min`.
fn parse_duration(value: &str) -> Result<Option<Duration>> {
    let v = value.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let bad = || {
        Error::new(
            SqlState::InvalidParameterValue,
            format!("invalid value for parameter \"lock_timeout\": \"{value}\""),
        )
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let ms = match unit.trim() {
        "" | "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "min" => n.checked_mul(60_000),
        _ => return Err(bad()),
    }
    .ok_or_else(bad)?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// The isolation level and access mode a `BEGIN` or `SET TRANSACTION` asks for.
pub fn modes(modes: &[TransactionMode]) -> (Option<Isolation>, Option<bool>) {
    let mut isolation = None;
    let mut read_only = None;
    for mode in modes {
        match mode {
            TransactionMode::IsolationLevel(level) => {
                isolation = Some(match level {
                    TransactionIsolationLevel::ReadUncommitted => Isolation::ReadUncommitted,
                    TransactionIsolationLevel::ReadCommitted => Isolation::ReadCommitted,
                    TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
                    TransactionIsolationLevel::Snapshot => Isolation::Snapshot,
                    TransactionIsolationLevel::Serializable => Isolation::Serializable,
                })
            }
            TransactionMode::AccessMode(TransactionAccessMode::ReadOnly) => read_only = Some(true),
            TransactionMode::AccessMode(TransactionAccessMode::ReadWrite) => read_only = Some(false),
        }
    }
    (isolation, read_only)
}

/// An open `BEGIN ... COMMIT` block.
pub struct Block {
    pub txn: Transaction,
    /// A statement failed: only ROLLBACK [TO SAVEPOINT] is accepted.
    pub failed: bool,
    /// `READ ONLY`: statements that write fail with 25006.
    pub read_only: bool,
    /// Statements run so far (SET TRANSACTION must come first).
    pub statements: u64,
    savepoints: Vec<(String, Savepoint)>,
    /// Settings changed by `SET LOCAL` (or `set_config(..., true)`), with the values to
    /// put back when the block ends.
    pub local_settings: Vec<(String, String)>,
    /// Settings changed by a plain `SET` in the block, with their values from before the
    /// block: a ROLLBACK puts them back, a COMMIT keeps the new ones (as in PostgreSQL).
    pub session_settings: Vec<(String, String)>,
}

impl Block {
    /// A block around `txn`.
    pub fn new(txn: Transaction, read_only: bool) -> Block {
        Block {
            txn,
            failed: false,
            read_only,
            statements: 0,
            savepoints: Vec::new(),
            local_settings: Vec::new(),
            session_settings: Vec::new(),
        }
    }

    /// Marks the block failed and undoes the failed work (see the module docs).
    pub fn fail(&mut self) {
        self.failed = true;
        let undone = match self.savepoints.last() {
            Some((_, savepoint)) => self.txn.rollback_to(*savepoint),
            None => self.txn.rollback(),
        };
        if let Err(e) = undone {
            tracing::debug!(error = %e, "undoing a failed statement");
        }
    }

    /// `SAVEPOINT name`.
    pub fn savepoint(&mut self, name: String) -> Result<()> {
        self.refuse_if_failed()?;
        let savepoint = self.txn.savepoint()?;
        self.savepoints.push((name, savepoint));
        Ok(())
    }

    /// `ROLLBACK TO SAVEPOINT name`: undoes what came after it; the savepoint stays.
    pub fn rollback_to(&mut self, name: &str) -> Result<()> {
        let at = self.find(name)?;
        if !self.txn.is_active() {
            // The whole transaction already failed (without a savepoint to fall back to).
            return Err(aborted());
        }
        self.txn.rollback_to(self.savepoints[at].1)?;
        self.savepoints.truncate(at + 1);
        self.failed = false;
        Ok(())
    }

    /// `RELEASE SAVEPOINT name`: forgets it and every later one, keeping their work.
    pub fn release(&mut self, name: &str) -> Result<()> {
        self.refuse_if_failed()?;
        let at = self.find(name)?;
        self.savepoints.truncate(at);
        if self.savepoints.is_empty() {
            self.txn.release_savepoints()?;
        }
        Ok(())
    }

    fn find(&self, name: &str) -> Result<usize> {
        self.savepoints.iter().rposition(|(n, _)| n == name).ok_or_else(|| {
            Error::new(
                SqlState::InvalidSavepointSpecification,
                format!("savepoint \"{name}\" does not exist"),
            )
        })
    }

    /// How many savepoints are open.
    pub fn savepoint_depth(&self) -> usize {
        self.savepoints.len()
    }

    /// Fails with 25P02 if the block has failed.
    pub fn refuse_if_failed(&self) -> Result<()> {
        if self.failed { Err(aborted()) } else { Ok(()) }
    }
}

fn aborted() -> Error {
    Error::new(
        SqlState::InFailedSqlTransaction,
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_levels_parse_like_postgres() {
        assert_eq!(parse_duration("0").ok(), Some(None));
        assert_eq!(parse_duration("250").ok(), Some(Some(Duration::from_millis(250))));
        assert_eq!(parse_duration("2s").ok(), Some(Some(Duration::from_secs(2))));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("18446744073709551615min").is_err(), "overflows a u64 of milliseconds");
        assert_eq!(parse_isolation("REPEATABLE READ").ok(), Some(Isolation::RepeatableRead));
        assert_eq!(parse_isolation("read_committed").ok(), Some(Isolation::ReadCommitted));
        assert!(parse_isolation("chaos").is_err());
    }

    #[test]
    fn settings_round_trip_and_unknown_ones_fail() {
        let mut s = Settings::default();
        assert!(s.set("default_transaction_isolation", "serializable").is_ok());
        assert_eq!(s.show("transaction_isolation", None).ok().as_deref(), Some("serializable"));
        assert_eq!(
            s.show("transaction_isolation", Some(Isolation::Snapshot)).ok().as_deref(),
            Some("snapshot")
        );
        assert!(s.set("lock_timeout", "1s").is_ok());
        assert_eq!(s.show("lock_timeout", None).ok().as_deref(), Some("1000ms"));
        assert!(s.set("application_name", "psql").is_ok());
        assert_eq!(s.show("application_name", None).ok().as_deref(), Some("psql"));
        assert_eq!(s.set("no_such_thing", "1").map_err(|e| e.sqlstate()), Err("42704"));
        assert_eq!(s.show("search_path", None).ok().as_deref(), Some("\"$user\", public"));
        assert!(s.set("search_path", "App, \"Odd\"").is_ok());
        assert_eq!(s.search_path, ["app", "Odd"]);
        assert_eq!(s.show("search_path", None).ok().as_deref(), Some("app, \"Odd\""));
        assert!(s.set("search_path", "DEFAULT").is_ok());
        assert_eq!(s.search_path, ["$user", "public"]);
    }
}
