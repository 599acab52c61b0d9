//! Injected I/O faults, for tests that prove a failure is reported or survived, never
//! turned into silent corruption.
//!
//! The B+tree's page file and the LSM tree's table and manifest files consult one shared
//! [`Faults`] before each write and fsync. Production code opens files with
//! [`Faults::none`], which costs one atomic load per write.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Faults to inject, shared with the test that arms them.
#[derive(Debug, Default)]
pub struct Faults {
    /// Fail writes after this many more succeed (`u64::MAX`: never).
    pub fail_writes_after: AtomicU64,
    /// Fail every fsync.
    pub fail_sync: AtomicBool,
    /// Injected write failures are ENOSPC, as on a full disk, rather than plain errors.
    pub no_space: AtomicBool,
    /// Write only the first 32 bytes of the page written as the N-th write from now (1 =
    /// the next one; 0 = never), then report success: a torn page, as after a power cut
    /// (B+tree pages only).
    pub tear_on_write: AtomicU64,
}

impl Faults {
    /// No faults armed.
    pub fn none() -> Arc<Faults> {
        Arc::new(Faults { fail_writes_after: AtomicU64::new(u64::MAX), ..Faults::default() })
    }

    /// Counts a write; the error it must fail with, if one is armed.
    pub fn before_write(&self) -> std::io::Result<()> {
        let remaining = self.fail_writes_after.load(Ordering::Relaxed);
        if remaining == 0 {
            return Err(if self.no_space.load(Ordering::Relaxed) {
                std::io::Error::new(std::io::ErrorKind::StorageFull, "injected: disk full")
            } else {
                std::io::Error::other("injected write failure")
            });
        }
        if remaining != u64::MAX {
            self.fail_writes_after.store(remaining - 1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The error an fsync must fail with, if one is armed.
    pub fn before_sync(&self) -> std::io::Result<()> {
        if self.fail_sync.load(Ordering::Relaxed) {
            Err(std::io::Error::other("injected fsync failure"))
        } else {
            Ok(())
        }
    }
}
