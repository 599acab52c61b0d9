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
//! ## A full disk
//!
//! A full disk must not fail a record that has already been handed an LSN: LSNs have no
//! gaps, so a record that could not be written would either stop the log for good or,
//! if its bytes half reached the file, come back after a restart as a commit that was
//! reported failed. So the log never writes a record anywhere it might not fit. The
//! active segment keeps zeros ahead of the records (see [`segment`]), and the state
//! counts the *room*: zeros not yet promised to any record. [`Wal::append`] takes its
//! record's room before it hands out the LSN; when there is not enough, it first adds
//! zeros to the file, and if the disk is full it refuses the record with
//! [`StorageError::DiskFull`] before anything is logged. The flush leader tops the room
//! up after its write (one fsync covers both), so appenders rarely meet the edge, and a
//! new segment is made with the old one's zeros before the old one is sealed. After a
//! failure, attempts to grow wait out a backoff ([`crate::retry`]): appends that need
//! room are refused at once until then, and the first one after it tries again, so
//! writing resumes by itself once space is freed. Records that fit in the room left
//! still go through meanwhile.
//!
//! What a full disk cannot reach stays as it was: a failed `fsync` (whatever its errno)
//! is still the permanent failed state, as PostgreSQL treats it, and so is a record
//! write that fails despite its room (a copy-on-write file system can run out of space
//! there): its bytes are overwritten with zeros first, so a restart does not find them.
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

use self::segment::{ActiveSegment, Segment, Spare};
use crate::retry::Retry;
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
    /// Preallocated bytes of the active segment not yet promised to a record.
    room: u64,
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
    /// Growing the preallocated space and making a new segment fail with ENOSPC.
    no_space: bool,
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
    /// Growing the preallocated space after it failed.
    growth: Retry,
    /// What recovery did at open that a user should hear about.
    recovery: RecoveryReport,
}

/// Retries of a failed preallocation are at most this far apart.
const GROWTH_RETRY_CEILING: std::time::Duration = std::time::Duration::from_secs(1);

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
                room: active.free_space(),
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
            growth: Retry::new("growing the write-ahead log", GROWTH_RETRY_CEILING),
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

    /// Buffers a record and returns its LSN. No I/O unless the preallocated space has run
    /// out; if it cannot grow (a full disk), the record is refused and nothing is logged.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn> {
        if payload.len() >= record::MAX_PAYLOAD {
            return Err(StorageError::TooLarge {
                what: "log record",
                len: payload.len(),
                limit: record::MAX_PAYLOAD,
            });
        }
        let prepared = record::prepare(payload);
        let frame_len = prepared.frame_len() as u64;
        loop {
            let mut state = self.state.lock();
            if let Some(e) = &state.failed {
                return Err(StorageError::WalFailed(e.clone()));
            }
            if state.room < frame_len {
                drop(state);
                self.make_room(frame_len)?;
                continue;
            }
            state.room -= frame_len;
            let lsn = state.next_lsn;
            if state.buffer.is_empty() {
                state.buffer_first_lsn = lsn;
            }
            record::encode_prepared(&mut state.buffer, lsn, &prepared);
            state.next_lsn += 1;
            self.appended.fetch_add(frame_len, Ordering::Relaxed);
            return Ok(lsn);
        }
    }

    /// Makes sure a record of `payload_len` bytes would find room now, growing the
    /// preallocated space if needed: lets a caller do the I/O before it takes a lock of
    /// its own around [`Wal::append`]. (The room is not held for it.)
    pub fn ensure_room(&self, payload_len: usize) -> Result<()> {
        let needed = (record::HEADER_LEN + payload_len) as u64;
        if self.state.lock().room >= needed { Ok(()) } else { self.make_room(needed) }
    }

    /// True while growing the log fails for lack of space.
    pub fn is_disk_full(&self) -> bool {
        self.growth.is_disk_full()
    }

    /// Grows the preallocated space until at least `needed` bytes of it are unpromised,
    /// or says why it cannot: a full disk, or the backoff after one.
    fn make_room(&self, needed: u64) -> Result<()> {
        let mut files = self.files.lock();
        let room = self.state.lock().room;
        if room >= needed {
            return Ok(()); // someone else grew it meanwhile
        }
        if !self.growth.ready() {
            return Err(self
                .growth
                .refusal()
                .unwrap_or_else(|| StorageError::DiskFull { path: files.active.path.clone() }));
        }
        self.grow(&mut files, needed - room + segment::PREALLOCATE)
    }

    /// Adds `bytes` of zeros to the active segment and to the room.
    fn grow(&self, files: &mut Files, bytes: u64) -> Result<()> {
        #[cfg(test)]
        let injected = files.faults.no_space.then(no_space);
        #[cfg(not(test))]
        let injected: Option<std::io::Error> = None;
        let result = match injected {
            Some(e) => Err(e),
            None => files.active.extend(bytes),
        };
        match result {
            Ok(()) => {
                self.state.lock().room += bytes;
                self.growth.succeeded();
                Ok(())
            }
            Err(e) => {
                let error = StorageError::io(&files.active.path, e);
                self.growth.failed(&error);
                Err(error)
            }
        }
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
        let written = if files.faults.fail_write {
            // All but the last byte reaches the file, as when the disk fills mid-write.
            files.active.write_torn(batch).and(Err(std::io::Error::other("injected write failure")))
        } else {
            files.active.write(batch)
        };
        #[cfg(not(test))]
        let written = files.active.write(batch);
        if let Err(e) = written {
            // These records' commits are reported failed: none of their bytes may be
            // found by a restart.
            if let Err(erase) = files.active.erase_failed_write(batch.len() as u64) {
                tracing::error!(
                    segment = %files.active.path.display(),
                    error = %erase,
                    "could not erase a failed write from the write-ahead log"
                );
            }
            return Err(StorageError::io(&files.active.path, e));
        }
        files.written_upto = last_lsn;
        // Top the room up while this leader holds the file anyway (its fsync covers the
        // zeros too), so appenders seldom have to. A full disk here fails nobody: these
        // records had their room.
        if self.state.lock().room < segment::PREALLOCATE / 2 && self.growth.ready() {
            let _ = self.grow(&mut files, segment::PREALLOCATE);
        }
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
    /// segment. On a full disk the segment stays active (and is not removed).
    pub fn seal_if_covered(&self, lsn: Lsn) -> Result<()> {
        let mut files = self.files.lock();
        if files.active.size == 0 || files.written_upto > lsn {
            return Ok(());
        }
        let next = files.written_upto + 1;
        self.rotate(&mut files, next)
    }

    /// Seals the active segment and starts a new one at `first_lsn`. The new one is made
    /// first, with at least as many zeros as the old one has left, so the room promised
    /// to records not yet written moves with them; if it cannot be made (a full disk),
    /// the old segment simply stays active and grows past the segment size.
    fn rotate(&self, files: &mut Files, first_lsn: Lsn) -> Result<()> {
        if !self.growth.ready() {
            return Ok(()); // waiting out a full disk
        }
        let carried = files.active.free_space();
        let bytes = carried.max(segment::PREALLOCATE);
        #[cfg(test)]
        let spare = if files.faults.no_space {
            Err(StorageError::io(&self.dir, no_space()))
        } else {
            Spare::make(&self.dir, bytes)
        };
        #[cfg(not(test))]
        let spare = Spare::make(&self.dir, bytes);
        let spare = match spare {
            Ok(spare) => {
                self.growth.succeeded();
                spare
            }
            Err(e) if e.is_disk_full() => {
                self.growth.failed(&e);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        // The sealed segment must be complete on disk before a later one exists, or
        // recovery could not tell a torn tail from corruption.
        let sync = self.options.sync != SyncMode::Off;
        files.active.seal(sync).map_err(|e| StorageError::io(&files.active.path, e))?;
        if sync {
            self.count_sync();
        }
        let next = spare.install(&self.dir, first_lsn)?;
        self.state.lock().room += bytes - carried;
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
        files.faults = Faults { fail_write, fail_sync, no_space: files.faults.no_space };
    }

    /// Makes growing the log fail as on a full disk (tests).
    #[cfg(test)]
    fn inject_no_space(&self, no_space: bool) {
        self.files.lock().faults.no_space = no_space;
    }
}

/// The error a full disk gives (tests).
#[cfg(test)]
fn no_space() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::StorageFull, "injected: no space left on device")
}

/// Copies a segment into the archive directory durably (a copy, not a rename: the
/// archive may be on another file system).
fn archive_segment(path: &Path, archive: &Path) -> Result<()> {
    let name = path.file_name().ok_or_else(|| corrupt(path, 0, "segment path without a name".into()))?;
    let target = archive.join(name);
    let copied = std::fs::copy(path, &target).and_then(|_| std::fs::File::open(&target)?.sync_all());
    if let Err(e) = copied {
        // The segment stays in the log (and is archived by a later checkpoint); a partial
        // copy must not pass for an archived segment, nor hold space on a full disk.
        let _ = std::fs::remove_file(&target);
        return Err(StorageError::io(&target, e));
    }
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
