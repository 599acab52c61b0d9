//! Interrupting a running statement from another thread.
//!
//! A server cancels a client's query (a PostgreSQL CancelRequest) while the session's own
//! thread is busy executing it. The two share an [`Interrupt`]: a flag that the other
//! thread raises and the executor checks as rows flow (every operator's output and every
//! entry a table scan reads), failing the statement with 57014 like PostgreSQL's
//! "canceling statement due to user request". The statement's transaction is then rolled
//! back (or its block failed) as after any other error.
//!
//! A check is one relaxed atomic load per row per operator, cheap next to the work of
//! producing the row. A statement waiting for a lock is interrupted too: the session starts
//! its transactions with this flag as their cancel flag ([`Interrupt::flag`]), which the
//! lock manager polls while it waits (at least every 100 ms), so a statement blocked
//! behind another transaction's row or table lock fails with the same 57014. What is not
//! interrupted: the commit itself (once the WAL record is written the commit stands).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result, SqlState};

/// A shared "stop now" flag for the statements of one session.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Asks the statement running now to stop with 57014.
    pub fn interrupt(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Forgets an earlier request; a session does this as each statement starts, so a
    /// cancel that arrives while nothing runs does not hit the next statement.
    pub fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// True when a stop was requested.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag itself, for the transaction layer: a transaction started with it ends
    /// its lock waits when it is raised (see `phantom_txn::TxnOptions::cancel`).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }

    /// Fails with 57014 when a stop was requested.
    pub fn check(&self) -> Result<()> {
        if self.is_raised() { Err(canceled()) } else { Ok(()) }
    }
}

/// The error of a canceled statement.
pub fn canceled() -> Error {
    Error::new(SqlState::QueryCanceled, "canceling statement due to user request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raised_flag_fails_checks_until_cleared() {
        let flag = Interrupt::default();
        assert!(flag.check().is_ok());
        flag.clone().interrupt();
        assert_eq!(flag.check().map_err(|e| e.state), Err(SqlState::QueryCanceled));
        flag.clear();
        assert!(flag.check().is_ok());
    }
}
