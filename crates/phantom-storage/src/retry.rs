//! Pacing the retries of a write that failed for a reason that can pass (a full disk),
//! with one log line per change of state.
//!
//! A full disk is not damage. The log's preallocation, B+tree write-back, LSM flushes and
//! compactions and checkpoints each keep a [`Retry`]: after a failure, the next attempt
//! waits for a delay that starts at [`FIRST_DELAY`] and doubles up to the place's ceiling,
//! so a full disk costs one failed write now and then rather than a busy loop. The first
//! failure of a spell logs a warning, the first success after it one line saying how long
//! it lasted; nothing is logged in between (a database refusing writes ten times a second
//! must not write ten log lines a second, perhaps onto the same full disk).
//!
//! On a nearly full disk some writes succeed between the failures (a B+tree reusing free
//! pages of its file, say), and spells come and go. A spell that starts within
//! [`QUIET`] of the last warning is therefore only reported once it has lasted that long
//! (and then its end too); the warning says how many short spells went unreported.
//!
//! While a spell lasts, [`Retry::refusal`] is the error to give new work that would need
//! the failed writes to succeed first (a commit that would only pile up more dirty pages,
//! say): the last failure again, so a client sees `could not extend file ...: No space
//! left on device` rather than a vaguer "try again".

use std::path::PathBuf;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::StorageError;

/// The delay before the first retry.
pub const FIRST_DELAY: Duration = Duration::from_millis(10);

/// At most one warning per place in this long, unless a spell lasts longer.
pub const QUIET: Duration = Duration::from_secs(30);

/// One place's failure state.
#[derive(Debug)]
pub struct Retry {
    /// What is retried, for the log: "write-ahead log", "checkpoint", ...
    what: &'static str,
    max_delay: Duration,
    spell: Mutex<Option<Spell>>,
    log: Mutex<LogState>,
}

/// What has been said about the place.
#[derive(Debug, Default)]
struct LogState {
    last_warning: Option<Instant>,
    /// Spells that ended before they were reported, since the last warning.
    unreported: u64,
}

/// A run of failures with no success between them.
#[derive(Debug)]
struct Spell {
    since: Instant,
    failures: u64,
    delay: Duration,
    next_attempt: Instant,
    /// The file of the last failure, if it named one.
    path: Option<PathBuf>,
    disk_full: bool,
    /// The last failure, for an error that is not a full disk.
    message: String,
    /// Its start was logged (so its end will be).
    reported: bool,
}

impl Retry {
    /// A place called `what` whose retries are at most `max_delay` apart.
    pub fn new(what: &'static str, max_delay: Duration) -> Retry {
        Retry { what, max_delay, spell: Mutex::new(None), log: Mutex::new(LogState::default()) }
    }

    /// True unless a failure is being waited out: time to try (again).
    pub fn ready(&self) -> bool {
        self.spell.lock().as_ref().is_none_or(|s| Instant::now() >= s.next_attempt)
    }

    /// True while failures have not been followed by a success.
    pub fn is_failing(&self) -> bool {
        self.spell.lock().is_some()
    }

    /// True while the last failure was a full disk.
    pub fn is_disk_full(&self) -> bool {
        self.spell.lock().as_ref().is_some_and(|s| s.disk_full)
    }

    /// Records a failure and pushes the next attempt back. Returns true if it logged a
    /// warning (the start of a spell, or of a spell that has now lasted [`QUIET`]).
    pub fn failed(&self, error: &StorageError) -> bool {
        let (path, disk_full, message) = match error {
            StorageError::DiskFull { path } => (Some(path.clone()), true, String::new()),
            StorageError::Io { path, source } => (Some(path.clone()), false, source.to_string()),
            other => (None, false, other.to_string()),
        };
        let now = Instant::now();
        let mut spell = self.spell.lock();
        let delay = spell.as_ref().map_or(FIRST_DELAY, |s| (s.delay * 2).min(self.max_delay));
        let since = spell.as_ref().map_or(now, |s| s.since);
        let failures = spell.as_ref().map_or(0, |s| s.failures) + 1;
        let mut reported = spell.as_ref().is_some_and(|s| s.reported);
        let mut log = self.log.lock();
        let warn = !reported
            && (log.last_warning.is_none_or(|at| now.duration_since(at) >= QUIET)
                || now.duration_since(since) >= QUIET);
        if warn {
            reported = true;
            tracing::warn!(
                error = %error,
                unreported_earlier_spells = log.unreported,
                "{} failed; retrying with backoff (up to every {:?}) and refusing work that needs it",
                self.what,
                self.max_delay
            );
            log.last_warning = Some(now);
            log.unreported = 0;
        }
        *spell = Some(Spell {
            since,
            failures,
            delay,
            next_attempt: now + delay,
            path,
            disk_full,
            message,
            reported,
        });
        warn
    }

    /// Records a success. Returns true if it ends a spell that was reported (and logs
    /// that it ended).
    pub fn succeeded(&self) -> bool {
        let Some(spell) = self.spell.lock().take() else { return false };
        if !spell.reported {
            self.log.lock().unreported += 1;
            return false;
        }
        tracing::info!(
            failures = spell.failures,
            "{} works again after {:.1?}",
            self.what,
            spell.since.elapsed()
        );
        true
    }

    /// While a spell lasts, the error to refuse new work with: the last failure.
    pub fn refusal(&self) -> Option<StorageError> {
        let spell = self.spell.lock();
        let spell = spell.as_ref()?;
        let path = spell.path.clone().unwrap_or_default();
        Some(if spell.disk_full {
            StorageError::DiskFull { path }
        } else {
            StorageError::Io { path, source: std::io::Error::other(spell.message.clone()) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> StorageError {
        StorageError::io("/x/f", std::io::Error::from(std::io::ErrorKind::StorageFull))
    }

    #[test]
    fn a_spell_is_reported_once_at_each_end_and_backs_off() {
        let retry = Retry::new("test", Duration::from_millis(40));
        assert!(retry.ready() && !retry.is_failing() && retry.refusal().is_none());
        assert!(!retry.succeeded(), "no spell to end");
        assert!(retry.failed(&full()), "the first failure starts the spell");
        assert!(!retry.ready(), "the next attempt waits");
        assert!(retry.is_disk_full());
        let refusal = retry.refusal().expect("failing");
        assert_eq!(refusal.to_string(), "could not extend file \"/x/f\": No space left on device");
        for _ in 0..10 {
            assert!(!retry.failed(&full()), "later failures of the spell are not reported");
        }
        assert!(retry.spell.lock().as_ref().is_some_and(|s| s.reported));
        // The delay doubled up to the ceiling, never past it.
        let spell = retry.spell.lock();
        let delay = spell.as_ref().map(|s| s.delay).expect("spell");
        assert_eq!(delay, Duration::from_millis(40));
        drop(spell);
        std::thread::sleep(Duration::from_millis(45));
        assert!(retry.ready(), "the ceiling has passed");
        assert!(retry.succeeded(), "the first success ends the spell");
        assert!(!retry.succeeded());
        assert!(retry.ready() && retry.refusal().is_none());
        // Spells that come and go soon after the warning are not reported one by one.
        for _ in 0..5 {
            assert!(!retry.failed(&full()), "a short spell soon after the last warning is quiet");
            assert!(retry.is_failing() && retry.refusal().is_some(), "but it is a spell all the same");
            assert!(!retry.succeeded(), "and its end is quiet too");
        }
        assert_eq!(retry.log.lock().unreported, 5);
    }

    #[test]
    fn an_ordinary_io_error_is_refused_as_itself() {
        let retry = Retry::new("test", Duration::from_secs(1));
        retry.failed(&StorageError::io("/x/g", std::io::Error::other("boom")));
        assert!(!retry.is_disk_full());
        let refusal = retry.refusal().expect("failing");
        assert!(matches!(refusal, StorageError::Io { .. }), "{refusal:?}");
        assert!(refusal.to_string().contains("boom"), "{refusal}");
    }
}
