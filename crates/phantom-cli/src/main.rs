//! `phantom`: the Phantom-DB command line.
//!
//! `phantom [DB_DIR]` opens the data directory (default `./phantom-data`, or `:memory:` for a
//! throwaway database) and then, in this order of precedence:
//!
//! - runs every `-c SQL` argument, if there are any;
//! - otherwise reads SQL from stdin when stdin is not a terminal (a pipe or a file), running
//!   each statement as soon as its `;` arrives, so a long-running pipeline sees results as it
//!   goes;
//! - otherwise starts the interactive shell.
//!
//! `phantom serve [DB_DIR] [--listen ADDR]` instead runs the PostgreSQL wire-protocol
//! server on the directory until SIGTERM or SIGINT (see the `phantom-server` crate).
//!
//! The non-interactive modes stop at the first error, print it on stderr and exit with
//! status 1, so scripts can rely on `set -e`. The interactive shell reports errors and
//! carries on.

mod meta;
mod output;
mod runner;
mod script;
mod serve;
mod shell;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::output::Format;

/// mimalloc instead of the system allocator: statements allocate and free many small
/// objects (tokens, plans, rows), and glibc's malloc measured as about a sixth of the
/// server's CPU under pgbench.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use crate::runner::Runner;

/// Phantom-DB: a relational database in one directory.
#[derive(Parser, Debug)]
#[command(name = "phantom", version, about, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Data directory to open (created if missing), or `:memory:` for a throwaway database.
    #[arg(default_value = "./phantom-data", value_name = "DB_DIR")]
    database: String,

    /// Run this SQL (and backslash commands) and exit; repeat to run several in order.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,

    /// How query results are printed.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Serve the database over the PostgreSQL wire protocol (psql, pgbench, drivers).
    Serve(serve::ServeArgs),
}

/// Storage settings (ignored for `:memory:`).
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Storage")]
struct StorageArgs {
    /// When COMMIT waits for the disk: full (fsync every commit), normal (fsync at log
    /// segment switches and checkpoints), off (leave it to the OS).
    #[arg(long, value_enum, default_value_t = Synchronous::Full)]
    synchronous: Synchronous,
    /// Memory for cached table and index pages, in MiB [default: a quarter of the
    /// machine's memory, at least 128]
    #[arg(long, value_name = "MIB")]
    buffer_pool_mib: Option<usize>,
    /// Memory for cached blocks of LSM tables, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    block_cache_mib: usize,
    /// Run a checkpoint after the write-ahead log grows by this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    checkpoint_wal_bytes: u64,
    /// Size of a write-ahead log segment file.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    wal_segment_bytes: u64,
    /// Copy write-ahead log segments here before a checkpoint removes them.
    #[arg(long, value_name = "DIR")]
    wal_archive_dir: Option<std::path::PathBuf>,
    /// Open even though the write-ahead log is damaged: skip damaged records the table
    /// files already hold, or else cut the log at the first damaged record, LOSING the
    /// transactions committed after it (the cut bytes are kept as <segment>.discarded).
    /// Without it a damaged log stops the open with an error.
    #[arg(long)]
    salvage_wal: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Synchronous {
    Full,
    Normal,
    Off,
}

impl StorageArgs {
    /// Opens `database` (or a throwaway in-memory database for `:memory:`), and tells on
    /// stderr what recovery had to do about damage or a torn log tail.
    fn open(&self, database: &str) -> phantom::Result<phantom::Database> {
        if database == ":memory:" {
            return Ok(phantom::Database::memory());
        }
        let db = phantom::Database::open_with(database, self.options())?;
        for note in db.recovery().notes() {
            eprintln!("phantom: warning: {note}");
        }
        Ok(db)
    }

    fn options(&self) -> phantom::Options {
        phantom::Options {
            synchronous: match self.synchronous {
                Synchronous::Full => phantom::SyncMode::Full,
                Synchronous::Normal => phantom::SyncMode::Normal,
                Synchronous::Off => phantom::SyncMode::Off,
            },
            wal_segment_size: self.wal_segment_bytes,
            buffer_pool_size: self
                .buffer_pool_mib
                .map_or_else(phantom::default_buffer_pool_size, |mib| mib.saturating_mul(1024 * 1024)),
            block_cache_size: self.block_cache_mib.saturating_mul(1024 * 1024),
            checkpoint_wal_bytes: self.checkpoint_wal_bytes,
            wal_archive_dir: self.wal_archive_dir.clone(),
            salvage_wal: self.salvage_wal,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Serve(serve)) = &args.command {
        return serve::run(serve);
    }
    let db = match args.storage.open(&args.database) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("phantom: cannot open {}: {e}", args.database);
            return ExitCode::FAILURE;
        }
    };
    // Statements run on a thread with the stack they are guaranteed anyway (see
    // `phantom::SESSION_THREAD_STACK`), so none needs a stack segment of its own.
    let session = std::thread::Builder::new()
        .name("phantom-session".into())
        .stack_size(phantom::SESSION_THREAD_STACK)
        .spawn(move || {
            let mut runner = Runner::new(db.session(), args.format);
            if !args.commands.is_empty() {
                script::run_commands(&mut runner, &args.commands)
            } else if !std::io::stdin().is_terminal() {
                script::run_stream(&mut runner, std::io::stdin().lock())
            } else {
                shell::run(&mut runner, &args.database);
                true
            }
        });
    let ok = match session.map(|thread| thread.join()) {
        Ok(Ok(ok)) => ok,
        Ok(Err(_)) => false,
        Err(e) => {
            eprintln!("phantom: cannot start the session thread: {e}");
            false
        }
    };
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
