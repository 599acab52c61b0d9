//! Runs statements and backslash commands for both the shell and scripts, and prints what
//! they return.

use std::io::{self, Write};
use std::time::Instant;

use phantom::Session;

use crate::output::{Format, write_output};

/// Why a statement or command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The database refused the statement.
    #[error("{0}")]
    Sql(#[from] phantom::Error),
    /// A backslash command was malformed or unknown.
    #[error("{0}")]
    Meta(String),
    /// Writing the output failed (for example, the reader of a pipe went away).
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

/// What the caller does after a backslash command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next statement.
    Continue,
    /// `\q`: stop.
    Quit,
}

/// A session plus the shell's display settings.
pub struct Runner {
    pub(crate) session: Session,
    pub(crate) format: Format,
    pub(crate) timing: bool,
}

impl Runner {
    pub fn new(session: Session, format: Format) -> Runner {
        Runner { session, format, timing: false }
    }

    /// Runs one SQL statement and prints its output on stdout, flushed, so a reader at the
    /// other end of a pipe sees each result as soon as it exists.
    pub fn execute(&mut self, sql: &str) -> Result<(), CliError> {
        let started = Instant::now();
        let result = self.session.execute(sql);
        let elapsed = started.elapsed();
        self.print_notices();
        let output = result?;
        let mut out = io::stdout().lock();
        // Dates and times print in the session's DateStyle and TimeZone.
        self.session.with_display_settings(|| write_output(&mut out, &output, self.format))?;
        if self.timing {
            writeln!(out, "Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0)?;
        }
        out.flush()?;
        Ok(())
    }

    /// The notices and warnings the statement raised, on stderr as psql prints them
    /// (`NOTICE:  ...`, then any `DETAIL:` and `HINT:` lines).
    fn print_notices(&self) {
        let mut err = io::stderr().lock();
        for notice in self.session.take_notices() {
            let _ = writeln!(err, "{}:  {}", notice.severity.name(), notice.message);
            if let Some(detail) = &notice.detail {
                let _ = writeln!(err, "DETAIL:  {detail}");
            }
            if let Some(hint) = &notice.hint {
                let _ = writeln!(err, "HINT:  {hint}");
            }
        }
    }

    /// A prompt marker for the transaction state, as psql shows it: `*` inside a
    /// transaction block, `!` inside a failed one.
    pub fn transaction_marker(&self) -> &'static str {
        if self.session.transaction_failed() {
            "!"
        } else if self.session.in_transaction() {
            "*"
        } else {
            ""
        }
    }
}
