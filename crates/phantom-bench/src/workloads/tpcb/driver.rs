//! Client threads: random inputs, the timed loop with retries, and the consistency check.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::BenchResult;
use crate::stats::{Latencies, rate};
use crate::targets::Rng;
use crate::workloads::progress;

/// Accounts per scale unit (tellers: 10, branches: 1), as in pgbench.
pub const ACCOUNTS: u64 = 100_000;
/// Tellers per scale unit.
pub const TELLERS: u64 = 10;

/// The random values of one transaction, as pgbench's `\set` lines draw them.
pub struct Inputs {
    pub aid: i64,
    pub tid: i64,
    pub bid: i64,
    pub delta: i64,
    /// Microseconds since the Unix epoch (there is no TIMESTAMP type to store yet).
    pub mtime: i64,
}

impl Inputs {
    /// Draws account, teller, branch and delta (-5000..=5000) for `scale`.
    pub fn random(rng: &mut Rng, scale: u64) -> Inputs {
        let aid = 1 + rng.below(ACCOUNTS * scale) as i64;
        let bid = 1 + rng.below(scale) as i64;
        let tid = 1 + rng.below(TELLERS * scale) as i64;
        let delta = rng.below(10_001) as i64 - 5_000;
        let mtime = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
        Inputs { aid, tid, bid, delta, mtime }
    }
}

/// How one attempt at a transaction ended.
pub enum Attempt {
    Committed,
    /// Rolled back after a serialization failure or deadlock (SQLite: busy); retry.
    Aborted,
}

/// One client: a session or connection of its own, used by one thread.
pub trait Client: Send {
    /// Runs the TPC-B transaction once. An error is a benchmark failure.
    fn transaction(&mut self, inputs: &Inputs) -> Result<Attempt, String>;
}

/// What one timed run measured.
pub struct Summary {
    pub commits: u64,
    pub tps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Aborted attempts as a share of all attempts.
    pub abort_percent: f64,
}

struct ThreadStats {
    commits: u64,
    aborts: u64,
    samples: Vec<Duration>,
}

/// Runs `clients`, one thread each, for `seconds`, and summarizes. Latency is per committed
/// transaction, from its first attempt to its commit.
pub fn drive<C: Client>(clients: Vec<C>, seconds: u64, scale: u64, label: &str) -> Result<Summary, String> {
    let duration = Duration::from_secs(seconds);
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(clients.len() + 1);
    let bar = progress(seconds, label);
    let (start, outcomes) = std::thread::scope(|scope| {
        let handles: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, mut client)| {
                let (stop, barrier) = (&stop, &barrier);
                let seed = 0x7c_b0_00 + (i as u64) * 7_919 + seconds;
                scope.spawn(move || {
                    barrier.wait();
                    let result = client_loop(&mut client, seed, scale, Instant::now() + duration, stop);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        while !handles.iter().all(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(100));
            bar.set_position(start.elapsed().as_secs().min(seconds));
        }
        let outcomes: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (start, outcomes)
    });
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    let (mut commits, mut aborts, mut samples) = (0, 0, Vec::new());
    for outcome in outcomes {
        let stats = outcome.map_err(|_| format!("{label}: a client thread panicked"))??;
        commits += stats.commits;
        aborts += stats.aborts;
        samples.extend(stats.samples);
    }
    let latencies = Latencies::new(samples);
    let attempts = (commits + aborts).max(1);
    Ok(Summary {
        commits,
        tps: rate(commits, elapsed),
        p50_us: latencies.percentile(50.0).as_secs_f64() * 1e6,
        p99_us: latencies.percentile(99.0).as_secs_f64() * 1e6,
        abort_percent: aborts as f64 * 100.0 / attempts as f64,
    })
}

fn client_loop(
    client: &mut impl Client,
    seed: u64,
    scale: u64,
    deadline: Instant,
    stop: &AtomicBool,
) -> Result<ThreadStats, String> {
    let mut rng = Rng::new(seed);
    let mut stats = ThreadStats { commits: 0, aborts: 0, samples: Vec::new() };
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        loop {
            match client.transaction(&Inputs::random(&mut rng, scale))? {
                Attempt::Committed => {
                    stats.commits += 1;
                    stats.samples.push(started.elapsed());
                    break;
                }
                Attempt::Aborted => {
                    stats.aborts += 1;
                    if Instant::now() >= deadline {
                        break;
                    }
                }
            }
        }
    }
    Ok(stats)
}

/// The balances after a run: every total must equal the history's.
#[derive(Debug)]
pub struct Sums {
    pub accounts: i64,
    pub tellers: i64,
    pub branches: i64,
    pub history: i64,
    pub history_rows: i64,
}

impl Sums {
    /// Fails loudly unless all sums agree and the history holds `committed` rows.
    pub fn check(&self, label: &str, committed: u64) -> BenchResult<()> {
        let balanced = self.accounts == self.history
            && self.tellers == self.history
            && self.branches == self.history
            && self.history_rows == committed as i64;
        if balanced {
            return Ok(());
        }
        let message = format!(
            "CONSISTENCY FAILURE in {label}: sum(abalance) = {}, sum(tbalance) = {}, sum(bbalance) = {}, \
             sum(delta) = {}, history rows = {} (committed transactions: {committed})",
            self.accounts, self.tellers, self.branches, self.history, self.history_rows
        );
        eprintln!("\n{}\n{message}\n{}\n", "!".repeat(80), "!".repeat(80));
        Err(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_stay_in_pgbench_ranges() {
        let mut rng = Rng::new(7);
        for _ in 0..10_000 {
            let i = Inputs::random(&mut rng, 2);
            assert!((1..=200_000).contains(&i.aid));
            assert!((1..=20).contains(&i.tid));
            assert!((1..=2).contains(&i.bid));
            assert!((-5_000..=5_000).contains(&i.delta));
        }
    }

    #[test]
    fn unbalanced_sums_fail() {
        let sums = Sums { accounts: 5, tellers: 5, branches: 5, history: 5, history_rows: 3 };
        assert!(sums.check("test", 3).is_ok());
        assert!(sums.check("test", 4).is_err());
        assert!(Sums { branches: 4, ..sums }.check("test", 3).is_err());
    }
}
