//! Point selects by primary key: queries per second and per-query latency.

use std::path::Path;
use std::time::Instant;

use super::{fresh_targets, load, progress};
use crate::BenchResult;
use crate::report::{Better, Metric, environment, publish};
use crate::stats::{Latencies, rate};
use crate::targets::Rng;

const VALUE_LEN: usize = 100;

/// Runs the point-select workload and publishes `point-select.md`.
pub fn run(base: &Path, results: &Path, rows: u64, queries: u64) -> BenchResult<()> {
    let mut fresh = fresh_targets(base)?;
    let mut throughput = Vec::new();
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for target in fresh.targets.iter_mut() {
        load(target.as_mut(), rows, VALUE_LEN)?;
        let mut rng = Rng::new(42);
        let mut samples = Vec::with_capacity(queries as usize);
        let bar = progress(queries, &format!("{}: point selects", target.name()));
        let start = Instant::now();
        for i in 0..queries {
            let id = rng.below(rows) as i64;
            let t = Instant::now();
            let found = target.select(id)?;
            samples.push(t.elapsed());
            if found.is_none() {
                return Err(format!("{}: row {id} not found", target.name()).into());
            }
            if i % 1024 == 0 {
                bar.set_position(i);
            }
        }
        throughput.push(rate(queries, start.elapsed()));
        bar.finish_and_clear();
        let latencies = Latencies::new(samples);
        p50.push(latencies.percentile(50.0).as_secs_f64() * 1e6);
        p99.push(latencies.percentile(99.0).as_secs_f64() * 1e6);
    }
    let metrics = vec![
        Metric {
            name: "queries/s".into(),
            phantom: throughput[0],
            sqlite: throughput[1],
            better: Better::Higher,
        },
        Metric { name: "p50 latency (µs)".into(), phantom: p50[0], sqlite: p50[1], better: Better::Lower },
        Metric { name: "p99 latency (µs)".into(), phantom: p99[0], sqlite: p99[1], better: Better::Lower },
    ];
    let setup = format!(
        "{queries} random point selects by primary key (prepared `SELECT val FROM bench WHERE id = $1`) \
         over {rows} rows with {VALUE_LEN}-byte values, one session, data loaded in one transaction first. {}",
        environment()
    );
    publish("Point selects", "point-select", &setup, &metrics, results)
}
