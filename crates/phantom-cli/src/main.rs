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
//! The non-interactive modes stop at the first error, print it on stderr and exit with
//! status 1, so scripts can rely on `set -e`. The interactive shell reports errors and
//! carries on.

mod meta;
mod output;
mod runner;
mod script;
mod shell;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::output::Format;
use crate::runner::Runner;

/// Phantom-DB: a relational database in one directory.
#[derive(Parser, Debug)]
#[command(name = "phantom", version, about)]
struct Args {
    /// Data directory to open (created if missing), or `:memory:` for a throwaway database.
    #[arg(default_value = "./phantom-data", value_name = "DB_DIR")]
    database: String,

    /// Run this SQL (and backslash commands) and exit; repeat to run several in order.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,

    /// How query results are printed.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let db = match phantom::Database::open_path_or_memory(&args.database) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("phantom: cannot open {}: {e}", args.database);
            return ExitCode::FAILURE;
        }
    };
    let mut runner = Runner::new(db.session(), args.format);
    let ok = if !args.commands.is_empty() {
        script::run_commands(&mut runner, &args.commands)
    } else if !std::io::stdin().is_terminal() {
        script::run_stream(&mut runner, std::io::stdin().lock())
    } else {
        shell::run(&mut runner, &args.database);
        true
    };
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
