//! The storage benchmark: many rows on disk, as in the B+tree issue.
//!
//! For each database, in its own child process (so peak memory is its own):
//!
//! 1. **load** `rows` rows (8-byte key, 100-byte value) in transactions of 10,000 rows,
//!    then make them durable in the data files (Phantom-DB: a checkpoint; SQLite: a WAL
//!    checkpoint), and measure the files against the raw data size;
//! 2. **point reads** by random key: throughput and p50/p99 latency;
//! 3. **range scans** of 1,000 consecutive rows from random starting keys: rows per second;
//! 4. peak resident memory of the process.
//!
//! Then **recovery**: a second child opens the loaded database with automatic checkpoints
//! off, commits new rows until the log has grown by 64 MiB, says so, and is killed with
//! SIGKILL; a third child opens the database and reads one row, timed. That is the time a
//! user waits after a crash before the database answers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use phantom::{Database, Options, Value};
use rusqlite::Connection;

use super::{dir_size, progress};
use crate::BenchResult;
use crate::report::{Better, Metric, environment, publish};
use crate::stats::{Latencies, rate};
use crate::targets::{CREATE_TABLE, Rng, value_for};

const VALUE_LEN: usize = 100;
const BATCH: u64 = 10_000;
const SCAN_LEN: u64 = 1_000;
/// How much log the recovery test leaves unflushed.
const RECOVERY_WAL_BYTES: u64 = 64 * 1024 * 1024;

/// Which database a worker runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    Phantom,
    Sqlite,
}

/// What a worker does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// Load, read, scan; report.
    Measure,
    /// Commit until 64 MiB of log, report "ready", wait to be killed.
    Dirty,
    /// Open after the kill, read a row; report the time.
    Recover,
}

/// The parent: runs the workers and publishes `storage.md`.
pub fn run(base: &Path, results: &Path, rows: u64, reads: u64, scans: u64) -> BenchResult<()> {
    let mut measured = Vec::new();
    let mut recovery = Vec::new();
    for engine in [Engine::Phantom, Engine::Sqlite] {
        let dir = tempfile::tempdir_in(base)?;
        let db = dir.path().join("db");
        let report = worker(engine, Phase::Measure, &db, rows, reads, scans)?;
        measured.push(report);
        recovery.push(crash_and_recover(engine, &db, rows)?);
    }
    let get = |i: usize, key: &str| measured[i].iter().find(|(k, _)| k == key).map_or(0.0, |(_, v)| *v);
    let raw = rows as f64 * (8 + VALUE_LEN) as f64;
    let metric = |name: &str, key: &str, better| Metric {
        name: name.into(),
        phantom: get(0, key),
        sqlite: get(1, key),
        better,
    };
    let metrics = vec![
        metric(
            "load, rows/s (10k-row transactions, durable in the data files)",
            "load_rows_per_s",
            Better::Higher,
        ),
        metric("random point reads/s", "reads_per_s", Better::Higher),
        metric("point read p50 (µs)", "read_p50_us", Better::Lower),
        metric("point read p99 (µs)", "read_p99_us", Better::Lower),
        metric("range scan, rows/s (1,000-row scans)", "scan_rows_per_s", Better::Higher),
        metric("peak RSS (MiB)", "peak_rss_mib", Better::Lower),
        metric("bytes on disk (MiB)", "disk_mib", Better::Lower),
        Metric {
            name: "space overhead vs raw data (%)".into(),
            phantom: (get(0, "disk_mib") * 1048576.0 / raw - 1.0) * 100.0,
            sqlite: (get(1, "disk_mib") * 1048576.0 / raw - 1.0) * 100.0,
            better: Better::Lower,
        },
        Metric {
            name: "recovery after kill -9 with 64 MiB of log (ms)".into(),
            phantom: recovery[0],
            sqlite: recovery[1],
            better: Better::Lower,
        },
    ];
    let setup = format!(
        "{rows} rows of `bench(id BIGINT PRIMARY KEY, val TEXT)` with {VALUE_LEN}-byte values (raw data {:.0} MiB), \
         loaded in key order in transactions of {BATCH} rows; {reads} random point reads; {scans} range scans of \
         {SCAN_LEN} rows; prepared statements on both sides. Phantom-DB: B+tree tables, 128 MiB buffer pool, \
         synchronous=full. SQLite: WAL mode, synchronous=FULL, default page cache. Each database runs in its own \
         process. {}",
        raw / 1048576.0,
        environment()
    );
    publish("Storage: B+tree on disk", "storage", &setup, &metrics, results)
}

/// Runs a worker child and returns the numbers it reported.
fn worker(
    engine: Engine,
    phase: Phase,
    db: &Path,
    rows: u64,
    reads: u64,
    scans: u64,
) -> BenchResult<Vec<(String, f64)>> {
    let output = worker_command(engine, phase, db, rows, reads, scans).stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(format!("{engine:?} {phase:?} worker failed ({})", output.status).into());
    }
    Ok(parse_report(&String::from_utf8_lossy(&output.stdout)))
}

fn worker_command(engine: Engine, phase: Phase, db: &Path, rows: u64, reads: u64, scans: u64) -> Command {
    let mut command =
        Command::new(std::env::current_exe().unwrap_or_else(|_| PathBuf::from("phantom-bench")));
    command
        .arg("storage-worker")
        .args(["--engine", engine_name(engine), "--phase", phase_name(phase)])
        .arg("--dir")
        .arg(db)
        .args(["--rows", &rows.to_string(), "--reads", &reads.to_string(), "--scans", &scans.to_string()]);
    command
}

fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Phantom => "phantom",
        Engine::Sqlite => "sqlite",
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Measure => "measure",
        Phase::Dirty => "dirty",
        Phase::Recover => "recover",
    }
}

/// `key value` lines.
fn parse_report(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|line| {
            let (k, v) = line.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Leaves 64 MiB of log behind a SIGKILL, then times the reopen. Milliseconds.
fn crash_and_recover(engine: Engine, db: &Path, rows: u64) -> BenchResult<f64> {
    let mut child = worker_command(engine, Phase::Dirty, db, rows, 0, 0)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut ready = false;
    for line in BufReader::new(stdout).lines() {
        if line? == "ready" {
            ready = true;
            break;
        }
    }
    child.kill()?;
    child.wait()?;
    if !ready {
        return Err(format!("{engine:?}: the dirty phase ended before it was ready").into());
    }
    let report = worker(engine, Phase::Recover, db, rows, 0, 0)?;
    report.iter().find(|(k, _)| k == "recover_ms").map(|(_, v)| *v).ok_or_else(|| "no recovery time".into())
}

/// A database as the worker drives it.
trait Store {
    fn begin(&mut self) -> BenchResult<()>;
    fn commit(&mut self) -> BenchResult<()>;
    fn insert(&mut self, id: i64, value: &str) -> BenchResult<()>;
    fn get(&mut self, id: i64) -> BenchResult<bool>;
    /// Rows in `[from, from + len)`.
    fn scan(&mut self, from: i64, len: i64) -> BenchResult<u64>;
    /// Makes everything durable in the data files.
    fn flush_to_files(&mut self) -> BenchResult<()>;
    /// Bytes of the log not yet checkpointed.
    fn log_bytes(&self) -> u64;
}

struct PhantomStore {
    session: phantom::Session,
    insert: phantom::Statement,
    get: phantom::Statement,
    scan: phantom::Statement,
    db: Database,
    dir: PathBuf,
}

impl PhantomStore {
    fn open(dir: &Path, checkpoints: bool) -> BenchResult<PhantomStore> {
        let mut options = Options::default();
        if !checkpoints {
            options.checkpoint_wal_bytes = u64::MAX;
        }
        let db = Database::open_with(dir, options)?;
        let mut session = db.session();
        session.execute(&CREATE_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))?;
        let insert = session.prepare("INSERT INTO bench VALUES ($1, $2)")?;
        let get = session.prepare("SELECT val FROM bench WHERE id = $1")?;
        let scan = session.prepare("SELECT id, val FROM bench WHERE id >= $1 AND id < $2")?;
        Ok(PhantomStore { session, insert, get, scan, db, dir: dir.to_path_buf() })
    }
}

impl Store for PhantomStore {
    fn begin(&mut self) -> BenchResult<()> {
        self.session.execute("BEGIN")?;
        Ok(())
    }
    fn commit(&mut self) -> BenchResult<()> {
        self.session.execute("COMMIT")?;
        Ok(())
    }
    fn insert(&mut self, id: i64, value: &str) -> BenchResult<()> {
        self.session.execute_prepared(&self.insert, &[Value::Int(id), Value::Text(value.to_string())])?;
        Ok(())
    }
    fn get(&mut self, id: i64) -> BenchResult<bool> {
        Ok(!self.session.query_prepared(&self.get, &[Value::Int(id)])?.is_empty())
    }
    fn scan(&mut self, from: i64, len: i64) -> BenchResult<u64> {
        Ok(self.session.query_prepared(&self.scan, &[Value::Int(from), Value::Int(from + len)])?.len() as u64)
    }
    fn flush_to_files(&mut self) -> BenchResult<()> {
        self.db.checkpoint()?;
        Ok(())
    }
    fn log_bytes(&self) -> u64 {
        dir_size(&self.dir.join("wal"))
    }
}

struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    fn open(dir: &Path, checkpoints: bool) -> BenchResult<SqliteStore> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("bench.sqlite");
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        if !checkpoints {
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        }
        conn.execute(&CREATE_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"), [])?;
        Ok(SqliteStore { conn, path })
    }
}

impl Store for SqliteStore {
    fn begin(&mut self) -> BenchResult<()> {
        self.conn.execute_batch("BEGIN")?;
        Ok(())
    }
    fn commit(&mut self) -> BenchResult<()> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }
    fn insert(&mut self, id: i64, value: &str) -> BenchResult<()> {
        self.conn
            .prepare_cached("INSERT INTO bench VALUES (?1, ?2)")?
            .execute(rusqlite::params![id, value])?;
        Ok(())
    }
    fn get(&mut self, id: i64) -> BenchResult<bool> {
        let mut statement = self.conn.prepare_cached("SELECT val FROM bench WHERE id = ?1")?;
        let found = statement.query(rusqlite::params![id])?.next()?.is_some();
        Ok(found)
    }
    fn scan(&mut self, from: i64, len: i64) -> BenchResult<u64> {
        let mut statement =
            self.conn.prepare_cached("SELECT id, val FROM bench WHERE id >= ?1 AND id < ?2")?;
        let mut rows = statement.query(rusqlite::params![from, from + len])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let _: String = row.get(1)?;
            n += 1;
        }
        Ok(n)
    }
    fn flush_to_files(&mut self) -> BenchResult<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
    fn log_bytes(&self) -> u64 {
        std::fs::metadata(self.path.with_extension("sqlite-wal")).map_or(0, |m| m.len())
    }
}

fn open_store(engine: Engine, dir: &Path, checkpoints: bool) -> BenchResult<Box<dyn Store>> {
    Ok(match engine {
        Engine::Phantom => Box::new(PhantomStore::open(dir, checkpoints)?),
        Engine::Sqlite => Box::new(SqliteStore::open(dir, checkpoints)?),
    })
}

/// Peak resident set size of this process, from /proc (MiB).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The child process: runs one phase and prints `key value` lines on stdout.
pub fn run_worker(
    engine: Engine,
    phase: Phase,
    dir: &Path,
    rows: u64,
    reads: u64,
    scans: u64,
) -> BenchResult<()> {
    let name = engine_name(engine);
    match phase {
        Phase::Measure => {
            let mut store = open_store(engine, dir, true)?;
            let bar = progress(rows, &format!("{name}: load"));
            let start = Instant::now();
            insert_rows(store.as_mut(), 0, rows, |n| bar.set_position(n))?;
            store.flush_to_files()?;
            let load = rate(rows, start.elapsed());
            bar.finish_and_clear();
            println!("load_rows_per_s {load}");
            println!("disk_mib {}", dir_size(dir) as f64 / 1048576.0);

            let mut rng = Rng::new(7);
            let mut samples = Vec::with_capacity(reads as usize);
            let bar = progress(reads, &format!("{name}: point reads"));
            let start = Instant::now();
            for i in 0..reads {
                let id = rng.below(rows) as i64;
                let t = Instant::now();
                if !store.get(id)? {
                    return Err(format!("{name}: row {id} missing").into());
                }
                samples.push(t.elapsed());
                if i % 4096 == 0 {
                    bar.set_position(i);
                }
            }
            println!("reads_per_s {}", rate(reads, start.elapsed()));
            bar.finish_and_clear();
            let latencies = Latencies::new(samples);
            println!("read_p50_us {}", latencies.percentile(50.0).as_secs_f64() * 1e6);
            println!("read_p99_us {}", latencies.percentile(99.0).as_secs_f64() * 1e6);

            let bar = progress(scans, &format!("{name}: range scans"));
            let start = Instant::now();
            let mut scanned = 0;
            for _ in 0..scans {
                let from = rng.below(rows.saturating_sub(SCAN_LEN).max(1)) as i64;
                scanned += store.scan(from, SCAN_LEN as i64)?;
                bar.inc(1);
            }
            if scanned != scans * SCAN_LEN.min(rows) {
                return Err(format!("{name}: scans returned {scanned} rows").into());
            }
            println!("scan_rows_per_s {}", rate(scanned, start.elapsed()));
            bar.finish_and_clear();
            println!("peak_rss_mib {}", peak_rss_mib());
        }
        Phase::Dirty => {
            let mut store = open_store(engine, dir, false)?;
            let start_log = store.log_bytes();
            let bar = progress(RECOVERY_WAL_BYTES, &format!("{name}: unflushed log"));
            let mut next = rows;
            while store.log_bytes() < start_log + RECOVERY_WAL_BYTES {
                insert_rows(store.as_mut(), next, next + BATCH, |_| {})?;
                next += BATCH;
                bar.set_position(store.log_bytes().saturating_sub(start_log));
            }
            bar.finish_and_clear();
            println!("ready");
            // Wait for the SIGKILL.
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        Phase::Recover => {
            let start = Instant::now();
            let mut store = open_store(engine, dir, true)?;
            if !store.get(rows as i64 + 1)? {
                return Err(format!("{name}: a row committed before the kill is missing").into());
            }
            println!("recover_ms {}", start.elapsed().as_secs_f64() * 1000.0);
            // Leave without the close-time checkpoint skewing anything measured later.
            drop(store);
        }
    }
    Ok(())
}

fn insert_rows(store: &mut dyn Store, from: u64, to: u64, mut progress: impl FnMut(u64)) -> BenchResult<()> {
    let mut id = from;
    while id < to {
        let end = (id + BATCH).min(to);
        store.begin()?;
        for i in id..end {
            store.insert(i as i64, &value_for(i as i64, VALUE_LEN))?;
        }
        store.commit()?;
        progress(end - from);
        id = end;
    }
    Ok(())
}
