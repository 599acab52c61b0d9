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
//!   warns). A plain `SET` in a block is undone by ROLLBACK and kept by COMMIT, as in
//!   PostgreSQL (the session keeps the earlier values, see `Session::end_block`).
//!
//! [`Settings`] are the session's `SET` parameters; the ones that matter here are
//! `default_transaction_isolation`, `lock_timeout`, `statement_timeout` and
//! `idle_in_transaction_session_timeout` (enforced by the session, see
//! [`crate::interrupt`]), `phantom.max_depth` (see [`crate::depth`]),
//! `phantom.statement_mem` (see [`crate::budget`]), `search_path`
//! (where unqualified names are looked up, see [`crate::catalog`]) and `DateStyle`,
//! `IntervalStyle` and `TimeZone` (how dates and times are read and written, see
//! [`crate::types::datetime`]). Others that PostgreSQL
//! clients commonly send are accepted and shown back, unknown ones fail with 42704. Who the
//! session is is kept here too: the role it logged in as (set when a server client logs
//! in), the session user (`session_authorization`) and the current user (`role`, SET
//! ROLE's), so that SET LOCAL and ROLLBACK treat them like other settings; whether the
//! session may become a role is the session's to check before it sets one.

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
    ("idle_session_timeout", "0"),
    ("maintenance_work_mem", "64MB"),
    ("row_security", "on"),
    ("server_encoding", "UTF8"),
    ("standard_conforming_strings", "on"),
    ("synchronous_commit", "on"),
    ("work_mem", "4MB"),
    ("xmloption", "content"),
];

/// Settings that are accepted, shown and kept as PostgreSQL's, with no effect here yet:
/// boolean ones are checked as booleans. The planner's `enable_*` switches will steer
/// the optimizer once it has choices to make.
const BOOLEAN_SWITCHES: &[(&str, &str)] = &[
    ("enable_bitmapscan", "on"),
    ("enable_hashagg", "on"),
    ("enable_hashjoin", "on"),
    ("enable_indexonlyscan", "on"),
    ("enable_indexscan", "on"),
    ("enable_material", "on"),
    ("enable_memoize", "on"),
    ("enable_mergejoin", "on"),
    ("enable_nestloop", "on"),
    ("enable_parallel_append", "on"),
    ("enable_parallel_hash", "on"),
    ("enable_partition_pruning", "on"),
    ("enable_seqscan", "on"),
    ("enable_sort", "on"),
    ("enable_incremental_sort", "on"),
    ("enable_tidscan", "on"),
    ("jit", "off"),
    ("geqo", "on"),
];

/// More accepted-and-shown settings PostgreSQL clients and test suites set.
const MORE_PASSIVE: &[(&str, &str)] = &[
    ("lc_messages", "C"),
    ("lc_monetary", "C"),
    ("lc_numeric", "C"),
    ("lc_time", "C"),
    ("max_parallel_workers_per_gather", "2"),
    ("random_page_cost", "4"),
    ("seq_page_cost", "1"),
    ("cpu_tuple_cost", "0.01"),
    ("effective_cache_size", "4GB"),
    ("default_statistics_target", "100"),
    ("from_collapse_limit", "8"),
    ("join_collapse_limit", "8"),
];

/// True for a custom (placeholder) setting's name: `prefix.name`, both parts
/// identifiers, and a prefix other than our own `phantom`.
fn is_custom_setting(name: &str) -> bool {
    let ident = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    match name.split_once('.') {
        Some((prefix, rest)) => prefix != "phantom" && ident(prefix) && rest.split('.').all(ident),
        None => false,
    }
}

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
    /// `default_transaction_read_only` (and `SET SESSION CHARACTERISTICS AS TRANSACTION
    /// READ ONLY`): blocks start read-only, and so do single statements outside them.
    pub default_read_only: bool,
    pub lock_timeout: Option<Duration>,
    /// How long a statement may run before it fails with 57014 (`statement_timeout`).
    pub statement_timeout: Option<Duration>,
    /// How long a transaction block may wait for its next statement
    /// (`idle_in_transaction_session_timeout`).
    pub idle_in_transaction_timeout: Option<Duration>,
    /// The write-set limit of each transaction, in bytes.
    pub write_set_limit: usize,
    /// How much of a transaction's write set stays in memory before it spills to disk.
    pub spill_threshold: usize,
    /// Where unqualified table names are looked up, in order.
    pub search_path: Vec<String>,
    /// How many levels a statement may nest (`phantom.max_depth`, see [`crate::depth`]).
    pub max_depth: usize,
    /// How much memory a statement may hold, `None` for no limit
    /// (`phantom.statement_mem`, see [`crate::budget`]).
    pub statement_mem: Option<usize>,
    /// The role the session's statements run as (`current_user`): the role of SET ROLE,
    /// else the session user.
    pub user: String,
    /// Whether that role is a superuser (`SHOW is_superuser`; the privilege checks read
    /// the catalog instead, see [`crate::privilege`]).
    pub superuser: bool,
    /// The session user (`session_user`): the role logged in as, or the one SET SESSION
    /// AUTHORIZATION chose.
    pub session_user: String,
    /// SET ROLE's role; `None` for NONE.
    pub role: Option<String>,
    /// The role the client logged in as, and whether it was a superuser then: who may
    /// SET SESSION AUTHORIZATION, and what DEFAULT goes back to (PostgreSQL's
    /// authenticated user).
    pub login: (String, bool),
    /// Whether the roles the session has been set to were superusers when it was, for
    /// `is_superuser` when a block's end puts an earlier role back.
    superusers: BTreeMap<String, bool>,
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
            default_read_only: false,
            lock_timeout: None,
            statement_timeout: None,
            idle_in_transaction_timeout: None,
            write_set_limit: TxnOptions::default().write_set_limit,
            spill_threshold: TxnOptions::default().spill_threshold,
            search_path: catalog::default_search_path(),
            max_depth: crate::depth::MAX_DEPTH,
            statement_mem: Some(crate::budget::DEFAULT_STATEMENT_MEM),
            user: catalog::BOOTSTRAP_ROLE.to_string(),
            superuser: true,
            datetime: DateTimeSettings::default(),
            session_user: catalog::BOOTSTRAP_ROLE.to_string(),
            role: None,
            login: (catalog::BOOTSTRAP_ROLE.to_string(), true),
            superusers: BTreeMap::from([(catalog::BOOTSTRAP_ROLE.to_string(), true)]),
            passive: PASSIVE
                .iter()
                .chain(BOOLEAN_SWITCHES)
                .chain(MORE_PASSIVE)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
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

    /// The session logs in as `name` (a superuser or not): it becomes the session user
    /// and the current user, with no SET ROLE.
    pub fn log_in(&mut self, name: &str, superuser: bool) {
        self.login = (name.to_string(), superuser);
        self.note_superuser(name, superuser);
        self.session_user = name.to_string();
        self.role = None;
        self.settle_user();
    }

    /// Records whether the role `name` is a superuser (the session read it from the
    /// catalog before setting it as `role` or `session_authorization`).
    pub fn note_superuser(&mut self, name: &str, superuser: bool) {
        self.superusers.insert(name.to_string(), superuser);
    }

    /// `current_user` and `is_superuser` after `role` or `session_user` changed.
    fn settle_user(&mut self) {
        self.user = self.role.clone().unwrap_or_else(|| self.session_user.clone());
        self.superuser = self.superusers.get(&self.user).copied().unwrap_or(false);
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
            "default_transaction_read_only" => self.default_read_only = parse_bool(name, value)?,
            "lock_timeout" => self.lock_timeout = parse_duration(name, value)?,
            "statement_timeout" => self.statement_timeout = parse_duration(name, value)?,
            "idle_in_transaction_session_timeout" => {
                self.idle_in_transaction_timeout = parse_duration(name, value)?
            }
            "phantom.write_set_limit" => self.write_set_limit = parse_bytes(name, value)?,
            "phantom.spill_threshold" => self.spill_threshold = parse_bytes(name, value)?,
            "phantom.max_depth" => self.max_depth = parse_max_depth(value)?,
            "phantom.statement_mem" => self.statement_mem = crate::budget::parse_setting(name, value)?,
            "search_path" if value.trim().eq_ignore_ascii_case("default") => {
                self.search_path = catalog::default_search_path()
            }
            "search_path" => self.search_path = catalog::parse_search_path(value)?,
            // Who may become whom is the session's to check (`Session::set_identity`);
            // this only records the result, or puts back an earlier one.
            "role" => {
                self.role = (!value.eq_ignore_ascii_case("none")).then(|| value.to_string());
                self.settle_user();
            }
            "session_authorization" => {
                self.session_user = value.to_string();
                self.role = None;
                self.settle_user();
            }
            _ if BOOLEAN_SWITCHES.iter().any(|(n, _)| *n == name) => {
                self.passive.insert(name.to_string(), on_off(parse_bool(name, value)?));
            }
            "datestyle" => self.datetime.set_date_style(value)?,
            "intervalstyle" => self.datetime.set_interval_style(value)?,
            "timezone" => self.datetime.set_time_zone(value)?,
            _ if self.passive.contains_key(name) => {
                self.passive.insert(name.to_string(), value.to_string());
            }
            // `SET myapp.user_id = '42'`: a two-part name is a custom setting, made by
            // setting it, as PostgreSQL's placeholder variables (applications keep
            // per-session values there). Our own prefix is not open to that.
            _ if is_custom_setting(name) => {
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
            // Outside a block; the session answers for an open one.
            "default_transaction_read_only" | "transaction_read_only" => on_off(self.default_read_only),
            "lock_timeout" => show_duration(self.lock_timeout),
            "statement_timeout" => show_duration(self.statement_timeout),
            "idle_in_transaction_session_timeout" => show_duration(self.idle_in_transaction_timeout),
            "phantom.write_set_limit" => self.write_set_limit.to_string(),
            "phantom.spill_threshold" => self.spill_threshold.to_string(),
            "phantom.max_depth" => self.max_depth.to_string(),
            "phantom.statement_mem" => crate::budget::show_setting(self.statement_mem),
            "search_path" => catalog::format_search_path(&self.search_path),
            "session_authorization" => self.session_user.clone(),
            "role" => self.role.clone().unwrap_or_else(|| "none".to_string()),
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
            "default_transaction_read_only",
            "idle_in_transaction_session_timeout",
            "lock_timeout",
            "statement_timeout",
            "phantom.max_depth",
            "phantom.spill_threshold",
            "phantom.statement_mem",
            "phantom.write_set_limit",
            "role",
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

/// `phantom.max_depth`: 1 to [`crate::depth::MAX_DEPTH`] (a limit can be lowered, not
/// raised past what the stack was sized for).
fn parse_max_depth(value: &str) -> Result<usize> {
    let max = crate::depth::MAX_DEPTH;
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(Error::new(
            SqlState::InvalidParameterValue,
            format!("invalid value for parameter \"phantom.max_depth\": \"{value}\""),
        )
        .with_hint(format!("Valid values are between 1 and {max}."))),
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
/// A boolean setting as PostgreSQL takes one: on/off, true/false, yes/no, 1/0 and their
/// unambiguous prefixes, any case.
fn parse_bool(name: &str, value: &str) -> Result<bool> {
    let v = value.trim().trim_matches('\'').to_ascii_lowercase();
    let prefix_of = |word: &str| !v.is_empty() && word.starts_with(v.as_str());
    match v.as_str() {
        "on" | "1" => Ok(true),
        "off" | "of" | "0" => Ok(false),
        _ if prefix_of("true") || prefix_of("yes") => Ok(true),
        _ if prefix_of("false") || prefix_of("no") => Ok(false),
        _ => Err(Error::new(
            SqlState::InvalidParameterValue,
            format!("parameter \"{name}\" requires a Boolean value"),
        )),
    }
}

fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_string()
}

fn parse_duration(name: &str, value: &str) -> Result<Option<Duration>> {
    let v = value.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let bad = || {
        Error::new(
            SqlState::InvalidParameterValue,
            format!("invalid value for parameter \"{name}\": \"{value}\""),
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

/// A duration setting as SHOW gives it: `0` for none, else milliseconds.
fn show_duration(duration: Option<Duration>) -> String {
    match duration {
        None => "0".to_string(),
        Some(d) => format!("{}ms", d.as_millis()),
    }
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
    /// Opened by the server for the statements up to a Sync (PostgreSQL's implicit
    /// transaction block), not by BEGIN: a BEGIN in it makes it explicit, silently, and
    /// a COMMIT of it warns that no transaction was in progress, as in PostgreSQL.
    pub implicit: bool,
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
            implicit: false,
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
        assert_eq!(parse_duration("lock_timeout", "0").ok(), Some(None));
        assert_eq!(parse_duration("lock_timeout", "250").ok(), Some(Some(Duration::from_millis(250))));
        assert_eq!(parse_duration("lock_timeout", "2s").ok(), Some(Some(Duration::from_secs(2))));
        assert!(parse_duration("lock_timeout", "soon").is_err());
        assert!(
            parse_duration("lock_timeout", "18446744073709551615min").is_err(),
            "overflows a u64 of milliseconds"
        );
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
