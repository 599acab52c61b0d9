//! The write-ahead log: one log for the whole database.
//!
//! Every committed transaction is one record in the log before it is anywhere else, so
//! after a crash the database is rebuilt by replaying the log. The log is a directory of
//! *segment* files, each named after the LSN (log sequence number) of its first record;
//! LSNs count records from 1 without gaps across segments. Records are framed with a
//! length and a CRC32C (see [`record`]).
//!
//! ## Group commit
//!
//! [`Wal::append`] only copies a record into an in-memory buffer and hands out its LSN.
//! [`Wal::flush`] makes it durable. When many sessions commit at once, the first one to
//! find no flush in progress becomes the *leader*: it takes the whole buffer (its own
//! record and everyone else's), writes it with one `write` and one `fsync`, and wakes the
//! others, whose records are now durable too. Appenders never wait for I/O, and the state
//! lock is never held during I/O, so a slow disk does not stop other sessions from
//! buffering their records for the next round.
//!
//! ## Durability modes ([`SyncMode`], as SQLite's `synchronous`)
//!
//! - `Full`: fsync before `flush` returns. A commit survives power loss.
//! - `Normal`: write before `flush` returns; fsync when a segment fills up and on
//!   [`Wal::sync_all`]. A commit survives a process crash, not necessarily power loss.
//! - `Off`: write; never fsync. The operating system decides.
//!
//! A failed write or fsync puts the log into a permanent failed state: the bytes on disk
//! are unknown (after a failed fsync Linux may drop the dirty pages), so the log must not
//! promise durability again until the database is reopened and recovered.
//!
//! ## Recovery
//!
//! [`Wal::open`] reads every segment in order and replays each intact record (see
//! [`recovery`]). Where a record does not check out, [`tail`] tells a torn write (the
//! process or machine stopped mid-write: the unwritten bytes read as zeros, or the file
//! ends) from damage. A torn write at the end of the last segment is cut back to the last
//! intact record, reported, and the log continues after it. Everything else is damage and
//! an error naming the segment and offset, leaving the files as they are: intact records
//! after a bad one (a torn write is the end of what was written), a complete record that
//! fails its checksum, a bad record followed by more segments (segments are only started
//! after the previous one is complete), a gap between segments, or a log ending before
//! what the table files already hold. The caller may ask for a salvage instead, which
//! skips damaged records every table file already holds, or else cuts the log at the
//! first bad record and keeps a copy of what it cut.

mod record;
mod recovery;
mod segment;
mod tail;

pub use self::recovery::{Recovery, RecoveryReport, Salvage, SalvageAction, TornTail};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};

use self::segment::{ActiveSegment, Segment};
use crate::{Result, StorageError};

/// A log sequence number: the position of a record in the log, counting from 1.
pub type Lsn = u64;

/// When the log forces data to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// fsync before a commit returns.
    #[default]
    Full,
    /// fsync at segment switches and checkpoints only.
    Normal,
    /// Never fsync.
    Off,
}

/// Log settings.
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// Segment size at which a new segment is started.
    pub segment_size: u64,
    /// When to fsync.
    pub sync: SyncMode,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions { segment_size: 16 * 1024 * 1024, sync: SyncMode::Full }
    }
}

/// State shared by appenders; never held during I/O.
#[derive(Debug)]
struct State {
    /// Framed records not yet handed to a flush.
    buffer: Vec<u8>,
    /// LSN of the first record in `buffer`.
    buffer_first_lsn: Lsn,
    /// The LSN the next append gets.
    next_lsn: Lsn,
    /// Every record up to here is written (and synced, per the mode).
    durable_lsn: Lsn,
    /// A leader is writing.
    flushing: bool,
    /// Set forever once a write or sync failed.
    failed: Option<String>,
}

/// Only the flush leader touches the files.
#[derive(Debug)]
struct Files {
    active: ActiveSegment,
    /// The highest LSN written to the active segment (or an earlier one).
    written_upto: Lsn,
    /// Completed segments, oldest first.
    sealed: Vec<Segment>,
    #[cfg(test)]
    faults: Faults,
}

/// Injected failures, for tests of the failed state.
#[cfg(test)]
#[derive(Debug, Default)]
struct Faults {
    fail_write: bool,
    fail_sync: bool,
}

/// The write-ahead log.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    flushed: Condvar,
    files: Mutex<Files>,
    syncs: AtomicU64,
    /// Bytes appended since the log was opened (checkpoint scheduling).
    appended: AtomicU64,
    /// What recovery did at open that a user should hear about.
    recovery: RecoveryReport,
}

impl Wal {
    /// Opens the log in `dir` (creating it if needed), calling `replay` for every intact
    /// record with an LSN above `skip_through`, in LSN order. See the module docs for how
    /// a torn tail and damage are handled. An error from `replay` aborts the open.
    pub fn open(
        dir: &Path,
        options: WalOptions,
        skip_through: Lsn,
        replay: &mut dyn FnMut(Lsn, &[u8]) -> Result<()>,
    ) -> Result<Wal> {
        Wal::open_with(dir, options, &Recovery { skip_through, ..Recovery::default() }, replay)
    }

    /// [`Wal::open`] with what the caller knows from its table files (the position they
    /// all hold, the position some hold) and whether to salvage a damaged log.
    pub fn open_with(
        dir: &Path,
        options: WalOptions,
        recovery: &Recovery,
        replay: &mut dyn FnMut(Lsn, &[u8]) -> Result<()>,
    ) -> Result<Wal> {
        let recovery::Recovered { sealed, active, next_lsn, report } =
            recovery::recover(dir, recovery, replay)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            options,
            state: Mutex::new(State {
                buffer: Vec::new(),
                buffer_first_lsn: next_lsn,
                next_lsn,
                durable_lsn: next_lsn - 1,
                flushing: false,
                failed: None,
            }),
            flushed: Condvar::new(),
            files: Mutex::new(Files {
                active,
                written_upto: next_lsn - 1,
                sealed,
                #[cfg(test)]
                faults: Faults::default(),
            }),
            syncs: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            recovery: report,
        })
    }

    /// The LSN of the oldest record the log in `dir` holds (the first LSN of its oldest
    /// segment), or `None` when it has no segments; read without opening it.
    pub fn first_lsn(dir: &Path) -> Result<Option<Lsn>> {
        match segment::list(dir) {
            Ok(segments) => Ok(segments.first().map(|s| s.first_lsn)),
            Err(StorageError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What recovery did at open that a user should hear about (a torn tail cut off,
    /// what a salvage discarded).
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Buffers a record and returns its LSN. Cheap: no I/O.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn> {
        if payload.len() >= record::MAX_PAYLOAD {
            return Err(StorageError::TooLarge {
                what: "log record",
                len: payload.len(),
                limit: record::MAX_PAYLOAD,
            });
        }
        let prepared = record::prepare(payload);
        let mut state = self.state.lock();
        if let Some(e) = &state.failed {
            return Err(StorageError::WalFailed(e.clone()));
        }
        let lsn = state.next_lsn;
        if state.buffer.is_empty() {
            state.buffer_first_lsn = lsn;
        }
        record::encode_prepared(&mut state.buffer, lsn, &prepared);
        state.next_lsn += 1;
        self.appended.fetch_add(prepared.frame_len() as u64, Ordering::Relaxed);
        Ok(lsn)
    }

    /// Returns once every record up to `lsn` is written and, in `Full` mode, synced.
    /// Concurrent callers share the I/O (group commit).
    pub fn flush(&self, lsn: Lsn) -> Result<()> {
        self.flush_with(lsn, self.options.sync == SyncMode::Full)
    }

    /// Writes and fsyncs everything appended so far, whatever the mode.
    pub fn sync_all(&self) -> Result<()> {
        let last = self.last_lsn();
        self.flush_with(last, true)?;
        let mut files = self.files.lock();
        let result = files.active.sync();
        self.count_sync();
        result.map_err(|e| self.fail(&files.active.path, e))
    }

    fn flush_with(&self, lsn: Lsn, sync: bool) -> Result<()> {
        let mut state = self.state.lock();
        loop {
            if let Some(e) = &state.failed {
                return Err(StorageError::WalFailed(e.clone()));
            }
            if state.durable_lsn >= lsn {
                return Ok(());
            }
            if state.flushing {
                self.flushed.wait(&mut state);
                continue;
            }
            // Become the leader for everything buffered so far.
            state.flushing = true;
            let batch = std::mem::take(&mut state.buffer);
            let first = state.buffer_first_lsn;
            let upto = state.next_lsn - 1;
            drop(state);
            let result = self.write_batch(&batch, first, upto, sync);
            state = self.state.lock();
            state.flushing = false;
            match result {
                Ok(()) => state.durable_lsn = upto,
                Err(e) => state.failed = Some(e.to_string()),
            }
            self.flushed.notify_all();
        }
    }

    fn write_batch(&self, batch: &[u8], first_lsn: Lsn, last_lsn: Lsn, sync: bool) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut files = self.files.lock();
        if files.active.size >= self.options.segment_size {
            self.rotate(&mut files, first_lsn)?;
        }
        #[cfg(test)]
        if files.faults.fail_write {
            return Err(StorageError::io(
                &files.active.path,
                std::io::Error::other("injected write failure"),
            ));
        }
        files.active.write(batch).map_err(|e| StorageError::io(&files.active.path, e))?;
        files.written_upto = last_lsn;
        if sync {
            #[cfg(test)]
            if files.faults.fail_sync {
                return Err(StorageError::io(
                    &files.active.path,
                    std::io::Error::other("injected fsync failure"),
                ));
            }
            files.active.sync().map_err(|e| StorageError::io(&files.active.path, e))?;
            self.count_sync();
        }
        Ok(())
    }

    /// Seals the active segment if every record in it is at or below `lsn`, so that a
    /// checkpoint covering `lsn` can remove it. Records appended meanwhile go to the new
    /// segment.
    pub fn seal_if_covered(&self, lsn: Lsn) -> Result<()> {
        let mut files = self.files.lock();
        if files.active.size == 0 || files.written_upto > lsn {
            return Ok(());
        }
        let next = files.written_upto + 1;
        self.rotate(&mut files, next)
    }

    /// Seals the active segment and starts a new one at `first_lsn`.
    fn rotate(&self, files: &mut Files, first_lsn: Lsn) -> Result<()> {
        // The sealed segment must be complete on disk before a later one exists, or
        // recovery could not tell a torn tail from corruption.
        let sync = self.options.sync != SyncMode::Off;
        files.active.seal(sync).map_err(|e| StorageError::io(&files.active.path, e))?;
        if sync {
            self.count_sync();
        }
        let next = ActiveSegment::create(&self.dir, first_lsn)?;
        let old = std::mem::replace(&mut files.active, next);
        files.sealed.push(Segment { first_lsn: old.first_lsn, path: old.path, size: old.size });
        Ok(())
    }

    fn fail(&self, path: &Path, e: std::io::Error) -> StorageError {
        let error = StorageError::io(path, e);
        self.state.lock().failed = Some(error.to_string());
        error
    }

    fn count_sync(&self) {
        self.syncs.fetch_add(1, Ordering::Relaxed);
    }

    /// The highest LSN handed out (or recovered).
    pub fn last_lsn(&self) -> Lsn {
        self.state.lock().next_lsn - 1
    }

    /// The highest LSN known to be written (and synced, per the mode).
    pub fn durable_lsn(&self) -> Lsn {
        self.state.lock().durable_lsn
    }

    /// Total bytes in all segment files.
    pub fn size_bytes(&self) -> u64 {
        let files = self.files.lock();
        files.active.size + files.sealed.iter().map(|s| s.size).sum::<u64>()
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.files.lock().sealed.len() + 1
    }

    /// Number of fsyncs issued so far.
    pub fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Bytes of records appended since the log was opened.
    pub fn appended_bytes(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }

    /// Deletes sealed segments all of whose records have an LSN at or below `lsn` (they
    /// are covered by checkpoints), moving them into `archive` first when one is given.
    /// Returns how many were removed.
    pub fn remove_segments_through(&self, lsn: Lsn, archive: Option<&Path>) -> Result<usize> {
        let mut files = self.files.lock();
        let mut removable = 0;
        for i in 0..files.sealed.len() {
            let next_first = files.sealed.get(i + 1).map_or(files.active.first_lsn, |s| s.first_lsn);
            if next_first - 1 <= lsn {
                removable = i + 1;
            } else {
                break;
            }
        }
        if let Some(archive) = archive {
            std::fs::create_dir_all(archive).map_err(|e| StorageError::io(archive, e))?;
        }
        for segment in files.sealed.drain(..removable) {
            if let Some(archive) = archive {
                archive_segment(&segment.path, archive)?;
            }
            std::fs::remove_file(&segment.path).map_err(|e| StorageError::io(&segment.path, e))?;
        }
        if removable > 0 {
            segment::sync_dir(&self.dir)?;
        }
        Ok(removable)
    }

    #[cfg(test)]
    fn inject(&self, fail_write: bool, fail_sync: bool) {
        let mut files = self.files.lock();
        files.faults = Faults { fail_write, fail_sync };
    }
}

/// Copies a segment into the archive directory durably (a copy, not a rename: the
/// archive may be on another file system).
fn archive_segment(path: &Path, archive: &Path) -> Result<()> {
    let name = path.file_name().ok_or_else(|| corrupt(path, 0, "segment path without a name".into()))?;
    let target = archive.join(name);
    std::fs::copy(path, &target).map_err(|e| StorageError::io(&target, e))?;
    std::fs::File::open(&target).and_then(|f| f.sync_all()).map_err(|e| StorageError::io(&target, e))?;
    segment::sync_dir(archive)
}

fn corrupt(path: &Path, offset: u64, reason: String) -> StorageError {
    StorageError::Corrupt { path: path.to_path_buf(), offset, reason }
}

/// A closed log leaves its active segment without the preallocated zeros, so its files
/// hold exactly its records. (After a crash the zeros stay; recovery knows them.)
impl Drop for Wal {
    fn drop(&mut self) {
        let files = self.files.get_mut();
        if let Err(e) = files.active.seal(false) {
            tracing::warn!(segment = %files.active.path.display(), "could not trim the write-ahead log: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
