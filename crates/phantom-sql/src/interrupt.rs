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

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::error::{Error, Result, SqlState};

/// A shared "stop now" flag for the statements of one session.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    /// Raised to stop the statement; also the transactions' cancel flag.
    raised: Arc<AtomicBool>,
    /// The flag was raised by the statement's timeout, not by a cancel request.
    timed_out: AtomicBool,
    /// Which arming of the timeout is current: a timer that fires for an older one (the
    /// statement it was for has ended) does nothing.
    armed: AtomicU64,
}

impl Interrupt {
    /// Asks the statement running now to stop with 57014.
    pub fn interrupt(&self) {
        self.0.raised.store(true, Ordering::Relaxed);
    }

    /// Forgets an earlier request; a session does this as each statement starts, so a
    /// cancel that arrives while nothing runs does not hit the next statement.
    pub fn clear(&self) {
        self.0.timed_out.store(false, Ordering::Relaxed);
        self.0.raised.store(false, Ordering::Relaxed);
    }

    /// True when a stop was requested.
    pub fn is_raised(&self) -> bool {
        self.0.raised.load(Ordering::Relaxed)
    }

    /// The flag itself, for the transaction layer: a transaction started with it ends
    /// its lock waits when it is raised (see `phantom_txn::TxnOptions::cancel`).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.raised.clone()
    }

    /// Fails with 57014 when a stop was requested.
    pub fn check(&self) -> Result<()> {
        if self.is_raised() { Err(self.stopped()) } else { Ok(()) }
    }

    /// Raises the flag `after` from now (`statement_timeout`), unless [`Interrupt::disarm`]
    /// comes first.
    pub fn arm(&self, after: Duration) {
        let Some(deadline) = Instant::now().checked_add(after) else { return };
        let generation = self.0.armed.fetch_add(1, Ordering::Relaxed) + 1;
        timer().add(deadline, generation, Arc::downgrade(&self.0));
    }

    /// Cancels the pending [`Interrupt::arm`], if any.
    pub fn disarm(&self) {
        self.0.armed.fetch_add(1, Ordering::Relaxed);
    }

    /// True when the flag was raised by the statement's timeout.
    pub fn timed_out(&self) -> bool {
        self.0.timed_out.load(Ordering::Relaxed)
    }

    /// The error of the statement the flag stopped: a timeout or a cancel request.
    pub fn stopped(&self) -> Error {
        if self.timed_out() { timed_out() } else { canceled() }
    }
}

/// The error of a canceled statement.
pub fn canceled() -> Error {
    Error::new(SqlState::QueryCanceled, "canceling statement due to user request")
}

/// The error of a statement that ran past `statement_timeout`.
pub fn timed_out() -> Error {
    Error::new(SqlState::QueryCanceled, "canceling statement due to statement timeout")
}

/// The one thread that raises the flags of statements past their timeout. Raising the
/// flag is all a timeout does, so everything that stops for a cancel request stops for
/// it too: every operator's rows, every scan, COPY, cursor fetches, and lock waits (the
/// lock manager looks at the flag at least every 100 ms). Timeouts cost nothing to
/// statements of sessions without one; with one, a statement adds an entry to a heap
/// (under a mutex), which stays until its deadline passes even when the statement ended
/// long before.
struct Timer {
    pending: Mutex<BinaryHeap<Reverse<Pending>>>,
    changed: Condvar,
}

struct Pending {
    deadline: Instant,
    generation: u64,
    target: Weak<Shared>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.deadline.cmp(&other.deadline)
    }
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer =
            Box::leak(Box::new(Timer { pending: Mutex::new(BinaryHeap::new()), changed: Condvar::new() }));
        let started = std::thread::Builder::new().name("phantom-timeouts".into()).spawn(move || timer.run());
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the statement timeout thread: timeouts will not fire");
        }
        timer
    })
}

impl Timer {
    fn add(&self, deadline: Instant, generation: u64, target: Weak<Shared>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = pending.peek().is_none_or(|Reverse(p)| deadline < p.deadline);
        pending.push(Reverse(Pending { deadline, generation, target }));
        if earliest {
            self.changed.notify_one();
        }
    }

    fn run(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            while pending.peek().is_some_and(|Reverse(p)| p.deadline <= now) {
                let Some(Reverse(due)) = pending.pop() else { break };
                if let Some(shared) = due.target.upgrade()
                    && shared.armed.load(Ordering::Relaxed) == due.generation
                {
                    shared.timed_out.store(true, Ordering::Relaxed);
                    shared.raised.store(true, Ordering::Relaxed);
                }
            }
            pending = match pending.peek().map(|Reverse(p)| p.deadline) {
                Some(next) => {
                    let wait = next.saturating_duration_since(now);
                    self.changed.wait_timeout(pending, wait).unwrap_or_else(|p| p.into_inner()).0
                }
                None => self.changed.wait(pending).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
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

    #[test]
    fn an_armed_timeout_raises_the_flag_unless_disarmed_first() {
        let flag = Interrupt::default();
        flag.arm(Duration::from_millis(20));
        let started = Instant::now();
        while !flag.is_raised() {
            assert!(started.elapsed() < Duration::from_secs(60), "the timeout never fired");
            std::thread::sleep(Duration::from_millis(5));
        }
        let error = flag.check().err().map(|e| (e.state, e.message));
        assert_eq!(
            error,
            Some((SqlState::QueryCanceled, "canceling statement due to statement timeout".into()))
        );
        flag.clear();
        flag.arm(Duration::from_millis(20));
        flag.disarm();
        std::thread::sleep(Duration::from_millis(200));
        assert!(flag.check().is_ok(), "a disarmed timeout does not fire");
    }
}
