//! TPC-B-like transactions: pgbench's built-in default script, embedded.
//!
//! Data as `pgbench -i` makes it: per scale unit 1 branch, 10 tellers and 100,000 accounts
//! (84-character filler), and an empty history. Each transaction draws a random account,
//! teller, branch and delta (-5000..=5000) and runs, with prepared statements:
//!
//! ```sql
//! BEGIN;
//! UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
//! SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
//! UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
//! UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
//! INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (...);
//! END;
//! ```
//!
//! Each client is a thread with its own session (SQLite: connection), all running for a
//! fixed time; every client count runs under `synchronous = full` and `normal`. Phantom-DB
//! runs once per requested isolation level (`read-committed` is a plain `BEGIN`, the others
//! `BEGIN ISOLATION LEVEL ...`); SQLite (WAL mode, `BEGIN IMMEDIATE`: one writer at a time,
//! so serializable) once per client count. An attempt that fails with a serialization
//! failure (40001) or a deadlock (40P01), or with SQLITE_BUSY after SQLite's busy timeout,
//! is rolled back, counted as an abort and retried with new random values; any other error
//! ends the benchmark. Latency is per committed transaction, including its aborted attempts.
//!
//! After every run the money must add up: sum(abalance) = sum(tbalance) = sum(bbalance) =
//! sum(delta) over the history, which must hold one row per committed transaction.
//!
//! Differences from pgbench: `mtime` is taken by the client (a TIMESTAMP for Phantom-DB,
//! microseconds since the Unix epoch for SQLite, which has no timestamp type) instead of
//! `CURRENT_TIMESTAMP`; the key columns are declared INTEGER (PostgreSQL's `int`) so that
//! SQLite keeps them as its rowid. Both databases get the same DDL and statements.

mod driver;
mod phantom_db;
mod sqlite;

use std::path::Path;

use phantom_storage::SyncMode;

use self::driver::{Summary, drive};
use self::phantom_db::PhantomClient;
use self::sqlite::SqliteClient;
use crate::BenchResult;
use crate::report::{Better, Metric, environment, format_number, metrics_table, text_table, write_markdown};

/// The tables, in the same SQL for both databases.
pub const SCHEMA: [&str; 4] = [
    "CREATE TABLE pgbench_branches (bid INTEGER PRIMARY KEY, bbalance INTEGER, filler CHAR(88))",
    "CREATE TABLE pgbench_tellers (tid INTEGER PRIMARY KEY, bid INTEGER, tbalance INTEGER, filler CHAR(84))",
    "CREATE TABLE pgbench_accounts (aid INTEGER PRIMARY KEY, bid INTEGER, abalance INTEGER, filler CHAR(84))",
    "CREATE TABLE pgbench_history (tid INTEGER, bid INTEGER, aid INTEGER, delta INTEGER, mtime TIMESTAMP, \
     filler CHAR(22))",
];

/// The statements, with PostgreSQL's `$n` parameters.
pub mod sql {
    pub const INSERT_BRANCH: &str = "INSERT INTO pgbench_branches (bid, bbalance) VALUES ($1, 0)";
    pub const INSERT_TELLER: &str = "INSERT INTO pgbench_tellers (tid, bid, tbalance) VALUES ($1, $2, 0)";
    pub const INSERT_ACCOUNT: &str =
        "INSERT INTO pgbench_accounts (aid, bid, abalance, filler) VALUES ($1, $2, 0, $3)";
    pub const UPDATE_ACCOUNT: &str = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2";
    pub const SELECT_ACCOUNT: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
    pub const UPDATE_TELLER: &str = "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2";
    pub const UPDATE_BRANCH: &str = "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2";
    pub const INSERT_HISTORY: &str =
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, $5)";
    pub const SUM_ACCOUNTS: &str = "SELECT sum(abalance) FROM pgbench_accounts";
    pub const SUM_TELLERS: &str = "SELECT sum(tbalance) FROM pgbench_tellers";
    pub const SUM_BRANCHES: &str = "SELECT sum(bbalance) FROM pgbench_branches";
    pub const SUM_HISTORY: &str = "SELECT sum(delta), count(*) FROM pgbench_history";
}

/// A transaction isolation level for Phantom-DB's transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    ReadCommitted,
    RepeatableRead,
    Snapshot,
    Serializable,
}

impl Level {
    /// The statement that starts a transaction at this level.
    pub fn begin(self) -> &'static str {
        match self {
            Level::ReadCommitted => "BEGIN",
            Level::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Level::Snapshot => "BEGIN ISOLATION LEVEL SNAPSHOT",
            Level::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::ReadCommitted => "read committed",
            Level::RepeatableRead => "repeatable read",
            Level::Snapshot => "snapshot",
            Level::Serializable => "serializable",
        }
    }
}

/// The durability setting of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// fsync every commit.
    Full,
    /// fsync the log at checkpoints (SQLite) or segment switches and checkpoints (Phantom-DB).
    Normal,
}

impl Durability {
    fn phantom(self) -> SyncMode {
        match self {
            Durability::Full => SyncMode::Full,
            Durability::Normal => SyncMode::Normal,
        }
    }

    /// SQLite's `PRAGMA synchronous` value.
    pub fn sqlite(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// What to run.
pub struct Config {
    pub scale: u64,
    pub clients: Vec<usize>,
    pub seconds: u64,
    pub levels: Vec<Level>,
    pub durability: Vec<Durability>,
}

/// Runs every configuration and publishes `tpcb.md`.
pub fn run(base: &Path, results: &Path, config: &Config) -> BenchResult<()> {
    if config.scale == 0 || config.seconds == 0 || config.clients.contains(&0) {
        return Err("--scale, --seconds and every --clients count must be at least 1".into());
    }
    if config.clients.is_empty() || config.levels.is_empty() || config.durability.is_empty() {
        return Err("--clients, --levels and --sync need at least one value each".into());
    }
    let mut md = format!("# TPC-B-like transactions (pgbench)\n\n{}\n\n", setup(config));
    let mut by_level = Vec::new();
    for &durability in &config.durability {
        let phantom = run_phantom(base, config, durability)?;
        let sqlite = run_sqlite(base, config, durability)?;
        let mut metrics = Vec::new();
        for &level in &config.levels {
            for (what, better, pick) in MEASURES {
                for (&clients, (p, s)) in config.clients.iter().zip(phantom_row(&phantom, level).zip(&sqlite))
                {
                    let name = format!("{what}, {}, {clients} client{}", level.name(), plural(clients));
                    metrics.push(Metric { name, phantom: pick(p), sqlite: pick(s), better });
                }
            }
        }
        let title = format!("synchronous = {}", durability.sqlite().to_lowercase());
        md.push_str(&format!("## {title}\n\n{}\n", metrics_table(&title, &metrics)?));
        for (level, clients, summary) in &phantom {
            by_level.push(level_row(&format!("Phantom-DB, {}", level.name()), durability, *clients, summary));
        }
        for (&clients, summary) in config.clients.iter().zip(&sqlite) {
            by_level.push(level_row("SQLite (one writer: serializable)", durability, clients, summary));
        }
    }
    let title = "Isolation level × clients";
    let header = ["system, isolation level", "synchronous", "clients", "tx/s", "p99 (µs)", "abort %"];
    md.push_str(&format!("## {title}\n\n{}", text_table(title, &header, &by_level)?));
    write_markdown(results, "tpcb", &md)
}

type Pick = fn(&Summary) -> f64;

/// The reported quantities: name, direction, and where to find them.
const MEASURES: [(&str, Better, Pick); 4] = [
    ("tx/s", Better::Higher, |s| s.tps),
    ("p50 latency (µs)", Better::Lower, |s| s.p50_us),
    ("p99 latency (µs)", Better::Lower, |s| s.p99_us),
    ("abort %", Better::Lower, |s| s.abort_percent),
];

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn phantom_row(runs: &[(Level, usize, Summary)], level: Level) -> impl Iterator<Item = &Summary> {
    runs.iter().filter(move |(l, _, _)| *l == level).map(|(_, _, s)| s)
}

fn level_row(system: &str, durability: Durability, clients: usize, s: &Summary) -> Vec<String> {
    vec![
        system.to_string(),
        durability.sqlite().to_lowercase(),
        clients.to_string(),
        format_number(s.tps),
        format_number(s.p99_us),
        format!("{:.2}", s.abort_percent),
    ]
}

fn setup(config: &Config) -> String {
    let clients: Vec<String> = config.clients.iter().map(usize::to_string).collect();
    format!(
        "pgbench's TPC-B-like script at scale {scale} ({accounts} accounts, {tellers} tellers, {scale} \
         branch{es}), {seconds} s per run, {clients} client threads (one session or connection each), \
         prepared statements; every run is checked for consistency (balances = history). Phantom-DB \
         embedded; SQLite in WAL mode with `BEGIN IMMEDIATE` and a 10 s busy timeout, at the same \
         `synchronous` setting. Aborted attempts (40001/40P01; SQLite: busy) are retried with new values; \
         latency is per committed transaction including its retries. `mtime` is a TIMESTAMP \
         taken by the client (SQLite stores it as an integer of microseconds). {env}",
        scale = config.scale,
        accounts = driver::ACCOUNTS * config.scale,
        tellers = driver::TELLERS * config.scale,
        es = if config.scale == 1 { "" } else { "es" },
        seconds = config.seconds,
        clients = clients.join(", "),
        env = environment(),
    )
}

/// Phantom-DB: one fresh, loaded database, then every level × client count on it.
fn run_phantom(
    base: &Path,
    config: &Config,
    durability: Durability,
) -> BenchResult<Vec<(Level, usize, Summary)>> {
    let dir = tempfile::tempdir_in(base)?;
    let db = phantom_db::open_and_load(dir.path(), durability.phantom(), config.scale)?;
    let mut committed = 0;
    let mut runs = Vec::new();
    for &level in &config.levels {
        phantom_db::check_level(&db, level)?;
    }
    for &level in &config.levels {
        for &clients in &config.clients {
            let label = format!("Phantom-DB {durability:?} {}, {clients} clients", level.name());
            let sessions =
                (0..clients).map(|_| PhantomClient::new(&db, level)).collect::<BenchResult<_>>()?;
            let summary = drive::<PhantomClient>(sessions, config.seconds, config.scale, &label)?;
            committed += summary.commits;
            phantom_db::sums(&db)?.check(&label, committed)?;
            runs.push((level, clients, summary));
        }
    }
    drop(db);
    Ok(runs)
}

/// SQLite: one fresh, loaded database file, then every client count on it.
fn run_sqlite(base: &Path, config: &Config, durability: Durability) -> BenchResult<Vec<Summary>> {
    let dir = tempfile::tempdir_in(base)?;
    let path = sqlite::create_and_load(dir.path(), durability, config.scale)?;
    let mut committed = 0;
    let mut runs = Vec::new();
    for &clients in &config.clients {
        let label = format!("SQLite {durability:?}, {clients} clients");
        let connections =
            (0..clients).map(|_| SqliteClient::new(&path, durability)).collect::<BenchResult<_>>()?;
        let summary = drive::<SqliteClient>(connections, config.seconds, config.scale, &label)?;
        committed += summary.commits;
        sqlite::sums(&path)?.check(&label, committed)?;
        runs.push(summary);
    }
    Ok(runs)
}
