//! Insert throughput: bulk (one transaction) and single-row transactions.
//!
//! The bulk number shows the cost of the write path itself; the single-row number is
//! dominated by the fsync per commit, so it mostly measures the disk and the commit
//! protocol.

use std::path::Path;
use std::time::Instant;

use super::{fresh_targets, load, progress};
use crate::BenchResult;
use crate::report::{Better, Metric, environment, publish};
use crate::stats::rate;
use crate::targets::value_for;

const VALUE_LEN: usize = 100;

/// Runs the insert workload and publishes `insert.md`.
pub fn run(base: &Path, results: &Path, rows: u64, single_rows: u64) -> BenchResult<()> {
    let mut fresh = fresh_targets(base)?;
    let mut bulk = Vec::new();
    let mut single = Vec::new();
    for target in fresh.targets.iter_mut() {
        let start = Instant::now();
        load(target.as_mut(), rows, VALUE_LEN)?;
        bulk.push(rate(rows, start.elapsed()));

        let bar = progress(single_rows, &format!("{}: commit per row", target.name()));
        let start = Instant::now();
        for i in 0..single_rows as i64 {
            let id = rows as i64 + i;
            target.insert(id, &value_for(id, VALUE_LEN))?;
            bar.inc(1);
        }
        single.push(rate(single_rows, start.elapsed()));
        bar.finish_and_clear();
    }
    let metrics = vec![
        Metric {
            name: format!("rows/s, {rows} rows in one transaction"),
            phantom: bulk[0],
            sqlite: bulk[1],
            better: Better::Higher,
        },
        Metric {
            name: format!("rows/s, {single_rows} rows, one transaction each"),
            phantom: single[0],
            sqlite: single[1],
            better: Better::Higher,
        },
    ];
    let setup = format!(
        "Table `bench(id BIGINT PRIMARY KEY, val TEXT)`, {VALUE_LEN}-byte values, prepared INSERT with parameters. \
         Both databases fsync every commit (Phantom-DB synchronous=full; SQLite WAL mode, synchronous=FULL). {}",
        environment()
    );
    publish("Insert throughput", "insert", &setup, &metrics, results)
}
