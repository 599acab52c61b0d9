//! `phantom-bench`: Phantom-DB measured side by side with SQLite, in the same run.
//!
//! Every workload runs the same statements against both databases, on fresh data
//! directories on the same disk, at the same durability (Phantom-DB `synchronous = full`;
//! SQLite in WAL mode with `synchronous = FULL`, so both fsync every commit). Results are
//! printed as a table with the ratio Phantom-DB / SQLite and written as Markdown to
//! `bench/results/<workload>.md`.
//!
//! Build with `--release`: debug builds measure the compiler, not the database.

mod report;
mod stats;
mod targets;
mod workloads;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A result whose error is anything printable.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(name = "phantom-bench", about = "Benchmarks Phantom-DB against SQLite and PostgreSQL", version)]
struct Args {
    #[command(subcommand)]
    workload: Workload,
    /// Directory for the Markdown result tables.
    #[arg(long, default_value = "bench/results", global = true)]
    results: PathBuf,
    /// Directory for the databases under test (a fresh temporary directory inside it).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Workload {
    /// Inserts: many rows in one transaction, and one transaction per row.
    Insert {
        /// Rows inserted in one transaction.
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// Rows inserted one transaction (and one fsync) each.
        #[arg(long, default_value_t = 2_000)]
        single_rows: u64,
    },
    /// Point selects by primary key over a loaded table: throughput and latency.
    PointSelect {
        /// Rows in the table.
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// Queries to run.
        #[arg(long, default_value_t = 100_000)]
        queries: u64,
    },
    /// Many rows on disk: load, point reads, range scans, memory, space, crash recovery.
    Storage {
        /// Rows to load.
        #[arg(long, default_value_t = 10_000_000)]
        rows: u64,
        /// Random point reads.
        #[arg(long, default_value_t = 200_000)]
        reads: u64,
        /// Range scans of 1,000 rows.
        #[arg(long, default_value_t = 2_000)]
        scans: u64,
    },
    /// Storage engines side by side: LSM (leveled, tiered), B+tree and SQLite.
    Engines {
        /// Keys to insert (sequentially, then randomly into a fresh store).
        #[arg(long, default_value_t = 10_000_000)]
        keys: u64,
        /// Random point reads.
        #[arg(long, default_value_t = 200_000)]
        reads: u64,
        /// Short range scans of 100 keys.
        #[arg(long, default_value_t = 20_000)]
        scans: u64,
    },
    /// One system of the engine benchmark, in a child process (used by `engines`).
    #[command(hide = true)]
    EnginesWorker {
        #[arg(long, value_enum)]
        system: workloads::engines::System,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        keys: u64,
        #[arg(long)]
        reads: u64,
        #[arg(long)]
        scans: u64,
    },
    /// One phase of the storage benchmark, in a child process (used by `storage`).
    #[command(hide = true)]
    StorageWorker {
        #[arg(long, value_enum)]
        engine: workloads::storage::Engine,
        #[arg(long, value_enum)]
        phase: workloads::storage::Phase,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        rows: u64,
        #[arg(long)]
        reads: u64,
        #[arg(long)]
        scans: u64,
    },
    /// pgbench's TPC-B-like transaction from 1, 4 and 16 client threads, against SQLite.
    Tpcb {
        /// Scale factor: 1 branch, 10 tellers and 100,000 accounts per unit.
        #[arg(long, default_value_t = 1)]
        scale: u64,
        /// Client thread counts, one run each (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
        clients: Vec<usize>,
        /// Seconds per run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Phantom-DB isolation levels, one set of runs each (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "read-committed")]
        levels: Vec<workloads::tpcb::Level>,
        /// Durability settings, one set of runs each (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "full,normal")]
        sync: Vec<workloads::tpcb::Durability>,
    },
    /// One row updated many times (garbage collection of versions) and a 10,000-row
    /// rollback, against SQLite.
    Versions {
        /// Updates of the hot row, one transaction each.
        #[arg(long, default_value_t = 1_000_000)]
        updates: u64,
    },
    /// pgbench (TPC-B-like and select-only) against `phantom serve` and a throwaway
    /// PostgreSQL cluster, over loopback. Needs Debian's postgresql-15 package and
    /// `cargo build --release -p phantom-cli`.
    Pgbench {
        /// pgbench's scale factor.
        #[arg(long, default_value_t = 10)]
        scale: u64,
        /// Client counts, one run of each script per count (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
        clients: Vec<usize>,
        /// Seconds per run.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// pgbench's query protocol (`-M`): simple, extended or prepared.
        #[arg(long, default_value = "simple")]
        protocol: String,
    },
    /// Every workload with its defaults.
    All,
}

fn main() {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; run `cargo run --release -p phantom-bench` for real numbers"
        );
    }
    let base = args.data_dir.clone().unwrap_or_else(std::env::temp_dir);
    let result = match args.workload {
        Workload::Insert { rows, single_rows } => {
            workloads::insert::run(&base, &args.results, rows, single_rows)
        }
        Workload::PointSelect { rows, queries } => {
            workloads::point_select::run(&base, &args.results, rows, queries)
        }
        Workload::Storage { rows, reads, scans } => {
            workloads::storage::run(&base, &args.results, rows, reads, scans)
        }
        Workload::Engines { keys, reads, scans } => {
            workloads::engines::run(&base, &args.results, keys, reads, scans)
        }
        Workload::EnginesWorker { system, dir, keys, reads, scans } => {
            workloads::engines::run_worker(system, &dir, keys, reads, scans)
        }
        Workload::StorageWorker { engine, phase, dir, rows, reads, scans } => {
            workloads::storage::run_worker(engine, phase, &dir, rows, reads, scans)
        }
        Workload::Tpcb { scale, clients, seconds, levels, sync } => {
            let config = workloads::tpcb::Config { scale, clients, seconds, levels, durability: sync };
            workloads::tpcb::run(&base, &args.results, &config)
        }
        Workload::Pgbench { scale, clients, seconds, protocol } => {
            let config = workloads::pgbench::Config { scale, clients, seconds, protocol };
            workloads::pgbench::run(&base, &args.results, &config)
        }
        Workload::Versions { updates } => workloads::versions::run(&base, &args.results, updates),
        Workload::All => workloads::insert::run(&base, &args.results, 100_000, 2_000)
            .and_then(|()| workloads::point_select::run(&base, &args.results, 100_000, 100_000)),
    };
    if let Err(e) = result {
        eprintln!("phantom-bench: {e}");
        std::process::exit(1);
    }
}
