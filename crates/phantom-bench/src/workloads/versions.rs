//! Multi-version costs: one row updated a million times, and rolling back a big
//! transaction.
//!
//! MVCC keeps a new version of a row per committed update; garbage collection must remove
//! the versions no snapshot can see, or a hot row grows without bound and reading it gets
//! slower. The hot-row run updates one row of a 1,000-row table in its own transaction
//! each time (both databases at `synchronous = normal`, so the run measures versions, not
//! fsyncs) and samples, every tenth of the run: the number of stored versions of the
//! table (Phantom-DB), the database's size on disk, and the point-read latency of the row.
//!
//! The rollback run inserts 10,000 rows in one transaction and times the ROLLBACK: in
//! Phantom-DB it drops the write set and releases the locks; nothing reached the log.

use std::path::Path;
use std::time::{Duration, Instant};

use phantom::{Database, Options, SyncMode, Value};
use rusqlite::Connection;

use super::{dir_size, progress};
use crate::BenchResult;
use crate::report::{Better, Metric, environment, format_number, metrics_table, text_table, write_markdown};
use crate::stats::Latencies;

const TABLE_ROWS: i64 = 1_000;
const ROLLBACK_ROWS: i64 = 10_000;
const READS_PER_SAMPLE: usize = 2_000;

struct Sample {
    updates: u64,
    versions: i64,
    /// The table's own file.
    table_bytes: i64,
    /// The whole data directory, log included (the log shrinks at each checkpoint).
    phantom_bytes: u64,
    sqlite_bytes: u64,
    phantom_read: Duration,
    sqlite_read: Duration,
}

/// Runs both parts and publishes `versions.md`.
pub fn run(base: &Path, results: &Path, updates: u64) -> BenchResult<()> {
    let phantom_dir = tempfile::tempdir_in(base)?;
    let sqlite_dir = tempfile::tempdir_in(base)?;
    let db = Database::open_with(
        phantom_dir.path(),
        Options { synchronous: SyncMode::Normal, ..Options::default() },
    )?;
    let mut phantom = db.session();
    let sqlite = Connection::open(sqlite_dir.path().join("bench.sqlite"))?;
    sqlite.pragma_update(None, "journal_mode", "WAL")?;
    sqlite.pragma_update(None, "synchronous", "NORMAL")?;
    let create = "CREATE TABLE hot (id BIGINT PRIMARY KEY, v BIGINT)";
    phantom.execute(create)?;
    sqlite.execute(create, [])?;
    let values: Vec<String> = (0..TABLE_ROWS).map(|i| format!("({i}, 0)")).collect();
    let insert = format!("INSERT INTO hot VALUES {}", values.join(", "));
    phantom.execute(&insert)?;
    sqlite.execute(&insert, [])?;

    let update = phantom.prepare("UPDATE hot SET v = $1 WHERE id = 0")?;
    let read = phantom.prepare("SELECT v FROM hot WHERE id = 0")?;
    let versions =
        phantom.prepare("SELECT keys, disk_bytes FROM phantom_storage_stats WHERE table_name = 'hot'")?;
    let mut samples = Vec::new();
    let step = (updates / 10).max(1);
    let bar = progress(updates, "hot row: updates");
    let (mut phantom_time, mut sqlite_time) = (Duration::ZERO, Duration::ZERO);
    for i in 1..=updates {
        let start = Instant::now();
        phantom.execute_prepared(&update, &[Value::Int(i as i64)])?;
        phantom_time += start.elapsed();
        let start = Instant::now();
        sqlite.prepare_cached("UPDATE hot SET v = ?1 WHERE id = 0")?.execute([i as i64])?;
        sqlite_time += start.elapsed();
        if i % 1024 == 0 {
            bar.set_position(i);
        }
        if i % step == 0 {
            let mut phantom_reads = Vec::with_capacity(READS_PER_SAMPLE);
            let mut sqlite_reads = Vec::with_capacity(READS_PER_SAMPLE);
            for _ in 0..READS_PER_SAMPLE {
                let start = Instant::now();
                let rows = phantom.query_prepared(&read, &[])?;
                phantom_reads.push(start.elapsed());
                if rows.rows.first().map(|r| r.get::<i64>(0)).transpose()? != Some(i as i64) {
                    return Err(format!("Phantom-DB read a stale value after {i} updates").into());
                }
                let start = Instant::now();
                let v: i64 =
                    sqlite.prepare_cached("SELECT v FROM hot WHERE id = 0")?.query_row([], |r| r.get(0))?;
                sqlite_reads.push(start.elapsed());
                if v != i as i64 {
                    return Err(format!("SQLite read a stale value after {i} updates").into());
                }
            }
            // A checkpoint writes the table's file and truncates the log, so the sizes
            // below are the table's, not the log's.
            db.checkpoint()?;
            let stats = phantom.query_prepared(&versions, &[])?;
            let stats = stats.rows.first().ok_or("no storage statistics for the table")?;
            samples.push(Sample {
                updates: i,
                versions: stats.get::<i64>(0)?,
                table_bytes: stats.get::<i64>(1)?,
                phantom_bytes: dir_size(phantom_dir.path()),
                sqlite_bytes: dir_size(sqlite_dir.path()),
                phantom_read: Latencies::new(phantom_reads).percentile(50.0),
                sqlite_read: Latencies::new(sqlite_reads).percentile(50.0),
            });
        }
    }
    bar.finish_and_clear();

    let (phantom_rollback, sqlite_rollback) = rollback(&mut phantom, &sqlite)?;
    drop(phantom);
    drop(db);

    let metrics = vec![
        Metric {
            name: format!("updates/s, one row, {updates} transactions"),
            phantom: updates as f64 / phantom_time.as_secs_f64(),
            sqlite: updates as f64 / sqlite_time.as_secs_f64(),
            better: Better::Higher,
        },
        Metric {
            name: format!("ms to roll back {ROLLBACK_ROWS} inserted rows"),
            phantom: phantom_rollback.as_secs_f64() * 1e3,
            sqlite: sqlite_rollback.as_secs_f64() * 1e3,
            better: Better::Lower,
        },
    ];
    let header = [
        "updates",
        "Phantom-DB versions",
        "Phantom-DB table MiB",
        "Phantom-DB directory MiB",
        "SQLite MiB",
        "Phantom-DB read p50 µs",
        "SQLite read p50 µs",
    ];
    let rows: Vec<Vec<String>> = samples
        .iter()
        .map(|s| {
            vec![
                s.updates.to_string(),
                s.versions.to_string(),
                format!("{:.2}", s.table_bytes as f64 / (1 << 20) as f64),
                format!("{:.2}", s.phantom_bytes as f64 / (1 << 20) as f64),
                format!("{:.2}", s.sqlite_bytes as f64 / (1 << 20) as f64),
                format_number(s.phantom_read.as_secs_f64() * 1e6),
                format_number(s.sqlite_read.as_secs_f64() * 1e6),
            ]
        })
        .collect();
    let mut md = String::from("# Versions: a hot row and a big rollback\n\n");
    md.push_str(&format!(
        "One row of a {TABLE_ROWS}-row table updated {updates} times, one transaction each, both at \
         synchronous=normal (SQLite in WAL mode). Versions = entries stored for the table in Phantom-DB \
         (one per live row plus the versions garbage collection has not removed yet, sampled after \
         a checkpoint, which writes the table's B+tree file and truncates the write-ahead log). {}\n\n",
        environment()
    ));
    md.push_str(&metrics_table("Versions", &metrics)?);
    md.push('\n');
    md.push_str(&text_table("Hot row over time", &header, &rows)?);
    write_markdown(results, "versions", &md)
}

/// Times the ROLLBACK of a transaction that inserted [`ROLLBACK_ROWS`] rows.
fn rollback(phantom: &mut phantom::Session, sqlite: &Connection) -> BenchResult<(Duration, Duration)> {
    let values: Vec<String> = (0..ROLLBACK_ROWS).map(|i| format!("({}, {i})", TABLE_ROWS + i)).collect();
    let insert = format!("INSERT INTO hot VALUES {}", values.join(", "));
    phantom.execute("BEGIN")?;
    phantom.execute(&insert)?;
    let start = Instant::now();
    phantom.execute("ROLLBACK")?;
    let phantom_time = start.elapsed();
    sqlite.execute_batch("BEGIN")?;
    sqlite.execute(&insert, [])?;
    let start = Instant::now();
    sqlite.execute_batch("ROLLBACK")?;
    Ok((phantom_time, start.elapsed()))
}
