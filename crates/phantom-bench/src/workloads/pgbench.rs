//! pgbench against the server: Phantom-DB's `phantom serve` and a throwaway PostgreSQL
//! cluster, on loopback, in the same run.
//!
//! The clients are the real `pgbench` (Debian's PostgreSQL 15 package), so both servers are
//! measured through the same wire protocol, the same client library and the same SQL text.
//! Each server gets its own fresh data directory, `pgbench -i -s SCALE`, then one run per
//! (script, client count): the built-in TPC-B-like script and the select-only script (`-S`),
//! each for a fixed time. Runs use `-n` (no vacuum or history truncation between runs), so
//! at the end the money must add up on both servers: sum(abalance) = sum(tbalance) =
//! sum(bbalance) = sum(delta) over the whole history.
//!
//! Durability is equal: PostgreSQL with its defaults (`fsync = on`, `synchronous_commit =
//! on`: every commit waits for its WAL flush), Phantom-DB with `synchronous = full`.
//!
//! The Phantom-DB server is the `phantom` binary beside this one in the target directory
//! (`cargo build --release -p phantom-cli`), run as a child process like PostgreSQL's
//! postmaster, so neither server shares a process with the benchmark.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::servers::{Server, System, find_pg_program, postgres_version};
use crate::BenchResult;
use crate::report::{environment, format_number, text_table, write_markdown};

/// What to run.
pub struct Config {
    /// pgbench's scale factor (100,000 accounts per unit).
    pub scale: u64,
    /// Client counts, one run of each script per count.
    pub clients: Vec<usize>,
    /// Seconds per run.
    pub seconds: u64,
    /// pgbench's `-M`: simple, extended or prepared.
    pub protocol: String,
}

/// One pgbench run's outcome.
#[derive(Clone, Copy, Default)]
struct RunResult {
    tps: f64,
    latency_ms: f64,
    failed: u64,
}

/// The two pgbench scripts measured.
const SCRIPTS: [(&str, &[&str]); 2] = [("TPC-B-like", &[]), ("select-only", &["-S"])];

/// Runs everything against both servers and publishes `pgbench.md`.
pub fn run(base: &Path, results: &Path, config: &Config) -> BenchResult<()> {
    if config.scale == 0 || config.seconds == 0 || config.clients.is_empty() || config.clients.contains(&0) {
        return Err("--scale, --seconds and every --clients count must be at least 1".into());
    }
    let pgbench = find_pg_program("pgbench")?;
    let mut measured = Vec::new();
    for system in [System::Phantom, System::Postgres] {
        let dir = tempfile::tempdir_in(base)?;
        let server = Server::start(system, dir.path())?;
        println!("{}: pgbench -i -s {} ...", system.name(), config.scale);
        let started = Instant::now();
        server.pgbench(&pgbench, &["-i", "-s", &config.scale.to_string(), "-q"])?;
        let init_seconds = started.elapsed().as_secs_f64();
        let mut runs = Vec::new();
        for (script, flags) in SCRIPTS {
            for &clients in &config.clients {
                println!("{}: {script}, {clients} client(s), {} s ...", system.name(), config.seconds);
                let threads = clients.min(std::thread::available_parallelism().map_or(1, |n| n.get()));
                let mut args = vec![
                    "-n".to_string(),
                    "-M".to_string(),
                    config.protocol.clone(),
                    "-c".to_string(),
                    clients.to_string(),
                    "-j".to_string(),
                    threads.to_string(),
                    "-T".to_string(),
                    config.seconds.to_string(),
                ];
                args.extend(flags.iter().map(|f| f.to_string()));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let output = server.pgbench(&pgbench, &args)?;
                runs.push(parse_pgbench(&output).ok_or_else(|| {
                    format!("{}: could not read pgbench's result from:\n{output}", system.name())
                })?);
            }
        }
        let balances = server.check_balances()?;
        measured.push((system, init_seconds, runs, balances));
        drop(server);
    }
    publish(results, config, &measured)
}

fn publish(
    results: &Path,
    config: &Config,
    measured: &[(System, f64, Vec<RunResult>, String)],
) -> BenchResult<()> {
    let [(_, phantom_init, phantom, phantom_check), (_, pg_init, postgres, pg_check)] = measured else {
        return Err("expected one result set per server".into());
    };
    let mut rows = Vec::new();
    let mut index = 0;
    for (script, _) in SCRIPTS {
        for &clients in &config.clients {
            let (p, q) = (phantom[index], postgres[index]);
            index += 1;
            rows.push(vec![
                format!("{script}, {clients} client{}", if clients == 1 { "" } else { "s" }),
                format_number(p.tps),
                format_number(q.tps),
                ratio(p.tps, q.tps),
                format!("{:.3}", p.latency_ms),
                format!("{:.3}", q.latency_ms),
                format!("{} / {}", p.failed, q.failed),
            ]);
        }
    }
    rows.push(vec![
        format!("pgbench -i -s {} (seconds)", config.scale),
        format!("{phantom_init:.1}"),
        format!("{pg_init:.1}"),
        ratio(*pg_init, *phantom_init),
        String::new(),
        String::new(),
        String::new(),
    ]);
    let header = [
        "run",
        "Phantom-DB tps",
        "PostgreSQL tps",
        "Phantom-DB / PostgreSQL",
        "Phantom-DB latency (ms)",
        "PostgreSQL latency (ms)",
        "failed (Phantom-DB / PostgreSQL)",
    ];
    let title = "pgbench over the PostgreSQL protocol";
    let mut md = format!(
        "# {title}\n\n{}\n\nScale {}, {} s per run, `pgbench -n -M {}`, `-j` = min(clients, cores). \
         Phantom-DB `phantom serve` with synchronous = full and its default buffer pool (a \
         quarter of RAM, a ceiling); PostgreSQL {} with its default durability (fsync, \
         synchronous_commit on) and memory (shared_buffers 128 MB, plus the OS page cache), \
         both on 127.0.0.1. The init ratio reads \"times as fast\".\n\n",
        environment(),
        config.scale,
        config.seconds,
        config.protocol,
        postgres_version().unwrap_or_else(|| "(version unknown)".into()),
    );
    md.push_str(&text_table(title, &header, &rows)?);
    md.push_str(&format!(
        "\nConsistency after all runs (sum of abalance, tbalance, bbalance, history delta):\n\n\
         - Phantom-DB: {phantom_check}\n- PostgreSQL: {pg_check}\n"
    ));
    write_markdown(results, "pgbench", &md)
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs == 0.0 { "-".into() } else { format!("{:.2}x", ours / theirs) }
}

/// Reads tps, average latency and failed transactions from pgbench's report.
fn parse_pgbench(output: &str) -> Option<RunResult> {
    let number_after = |prefix: &str| -> Option<f64> {
        let line = output.lines().find(|l| l.trim_start().starts_with(prefix))?;
        line.trim_start()[prefix.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(RunResult {
        tps: number_after("tps =")?,
        latency_ms: number_after("latency average =").unwrap_or(0.0),
        failed: number_after("number of failed transactions:").unwrap_or(0.0) as u64,
    })
}

impl Server {
    /// Runs pgbench with `args` against this server and returns its stdout and stderr.
    fn pgbench(&self, pgbench: &Path, args: &[&str]) -> BenchResult<String> {
        let output =
            Command::new(pgbench).args(self.connection_args()).args(args).arg(self.user()).output()?;
        let text =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        if !output.status.success() {
            return Err(format!("{}: pgbench {} failed:\n{text}", self.system.name(), args.join(" ")).into());
        }
        Ok(text)
    }

    /// The four sums that must agree, checked with psql; an error if they do not.
    fn check_balances(&self) -> BenchResult<String> {
        let psql = find_pg_program("psql")?;
        let sql = "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM \
                   pgbench_tellers), (SELECT sum(bbalance) FROM pgbench_branches), (SELECT sum(delta) FROM \
                   pgbench_history)";
        let output = Command::new(psql)
            .args(self.connection_args())
            .args(["-d", self.user(), "-At", "-F", " ", "-c", sql])
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !output.status.success() {
            return Err(format!(
                "{}: balance check failed: {}",
                self.system.name(),
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        let sums: Vec<&str> = text.split_whitespace().collect();
        if sums.len() != 4 || sums.iter().any(|s| *s != sums[0]) {
            return Err(format!("{}: balances do not add up: {text}", self.system.name()).into());
        }
        Ok(format!("all four sums are {}", sums[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pgbench_report() {
        let report = "transaction type: <builtin: TPC-B (sort of)>\nnumber of failed transactions: 3 (0.010%)\n\
                      latency average = 1.234 ms\ninitial connection time = 2.000 ms\n\
                      tps = 810.123456 (without initial connection time)\n";
        let r = parse_pgbench(report).expect("parsed");
        assert_eq!(r.tps, 810.123456);
        assert_eq!(r.latency_ms, 1.234);
        assert_eq!(r.failed, 3);
        assert!(parse_pgbench("pgbench: error: connection refused").is_none());
    }
}
