//! Checkpoints: making the engines' files catch up with the log, so the log can shrink.
//!
//! ## Which log position a checkpoint covers
//!
//! Commits are logged in LSN order but applied to the engines in any order (each commit
//! applies its own batch after its fsync). A checkpoint at LSN `L` needs every record up to
//! `L` applied; [`AppliedLsns`] tracks the records logged but not yet applied, and `L` is
//! just below the oldest of them. Records above `L` that happen to be applied already end
//! up in the checkpoint too; replaying them again later is harmless, because the engines
//! only receive immutable versions.
//!
//! ## Steps
//!
//! 1. `L` = the applied watermark; `last_ts` = the highest commit timestamp assigned.
//! 2. Every keyspace's engine checkpoints up to `L` (for a B+tree: write dirty pages, page
//!    table, fsync, switch the header).
//! 3. `data/MANIFEST` is replaced atomically (write, fsync, rename, fsync the directory)
//!    with `L`, `last_ts` and the next keyspace id. These must survive the log records that
//!    carried them: timestamps must keep increasing and ids must never be reused.
//! 4. Log segments entirely at or below `L` are removed (after a copy to the archive
//!    directory, when one is configured). The active segment is sealed first when all of
//!    it is covered, so a quiet database keeps no log at all.
//!
//! A crash anywhere in between is safe: each engine's file names its own covered LSN, the
//! manifest is written only after every engine's checkpoint, and the log loses nothing
//! until the manifest is durable.
//!
//! So is a failure anywhere in between, a full disk included: an engine's failed
//! checkpoint leaves its previous one in charge (and its pages or memtables in memory), a
//! manifest that could not be written leaves the old one (the temporary file is removed),
//! and no log segment is removed before the manifest is durable. A failed checkpoint is
//! tried again with backoff ([`Retry`], up to [`RETRY_CEILING`] apart), with one log line
//! when the failures start and one when a checkpoint succeeds again.
//!
//! A background thread runs a checkpoint when the log has grown by
//! [`CheckpointOptions::wal_bytes`] since the last checkpoint on disk, or when
//! [`CheckpointOptions::interval`] has passed with new commits. The log an earlier process
//! wrote after that checkpoint (what recovery replayed) counts too, and opening runs a
//! checkpoint at once when recovery replayed that much: otherwise a database killed more
//! often than it fills the threshold would never checkpoint, and its log and its recovery
//! time would grow without bound.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use phantom_storage::retry::Retry;
use phantom_storage::wal::Lsn;
use phantom_storage::{StorageError, Wal};

use crate::keyspace::{KeyspaceId, Keyspaces};
use crate::oracle::Oracle;
use crate::periodic::Periodic;
use crate::{Result, Timestamp};

/// When checkpoints run and where old log segments go.
#[derive(Clone, Debug)]
pub struct CheckpointOptions {
    /// Checkpoint after the log has grown by this many bytes.
    pub wal_bytes: u64,
    /// Checkpoint at least this often while commits arrive.
    pub interval: Duration,
    /// Copy log segments here before removing them (for backups and point-in-time
    /// recovery); `None` just removes them.
    pub archive_dir: Option<PathBuf>,
}

impl Default for CheckpointOptions {
    fn default() -> Self {
        CheckpointOptions {
            wal_bytes: 64 * 1024 * 1024,
            interval: Duration::from_secs(300),
            archive_dir: None,
        }
    }
}

/// Log records appended but not yet applied to the engines.
#[derive(Debug, Default)]
pub struct AppliedLsns {
    state: Mutex<(BTreeSet<Lsn>, Lsn)>,
}

impl AppliedLsns {
    /// Starts tracking at `last`, the highest LSN already applied (after recovery).
    pub fn new(last: Lsn) -> AppliedLsns {
        AppliedLsns { state: Mutex::new((BTreeSet::new(), last)) }
    }

    /// Appends `payload` to `wal` and records its LSN as not yet applied, atomically with
    /// respect to [`AppliedLsns::watermark`].
    pub fn append(&self, wal: &Wal, payload: &[u8]) -> Result<Lsn> {
        // Growing the log's preallocated space is I/O: done before taking the lock that
        // committers finishing their apply need too.
        wal.ensure_room(payload.len())?;
        let mut state = self.state.lock();
        let lsn = wal.append(payload)?;
        state.0.insert(lsn);
        state.1 = lsn;
        Ok(lsn)
    }

    /// Records that `lsn` has been applied (or abandoned because the log failed).
    pub fn finish(&self, lsn: Lsn) {
        self.state.lock().0.remove(&lsn);
    }

    /// The highest LSN at or below which every record has been applied.
    pub fn watermark(&self) -> Lsn {
        let state = self.state.lock();
        state.0.first().map_or(state.1, |&oldest| oldest - 1)
    }
}

/// What the manifest records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub checkpoint_lsn: Lsn,
    pub last_ts: Timestamp,
    pub next_keyspace_id: KeyspaceId,
}

const MANIFEST: &str = "MANIFEST";

impl Manifest {
    /// The manifest's path in data directory `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(MANIFEST)
    }

    /// Reads `dir/MANIFEST`; a missing file is an empty database. Anything that does not
    /// decode (not text, no checksum, a bad one, a malformed line) is corruption.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = Manifest::path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(e) => return Err(StorageError::io(&path, e).into()),
        };
        let corrupt =
            |reason: &str| StorageError::Corrupt { path: path.clone(), offset: 0, reason: reason.into() };
        let text = String::from_utf8(bytes).map_err(|e| StorageError::Corrupt {
            path: path.clone(),
            offset: e.utf8_error().valid_up_to() as u64,
            reason: "the manifest is not text (invalid UTF-8)".into(),
        })?;
        let (body, crc) = text.rsplit_once("crc32c ").ok_or_else(|| corrupt("no checksum line"))?;
        if crc.trim().parse::<u32>().ok() != Some(crc32c::crc32c(body.as_bytes())) {
            return Err(corrupt("checksum mismatch").into());
        }
        let mut manifest = Manifest::default();
        for line in body.lines() {
            let (key, value) = line.split_once(' ').ok_or_else(|| corrupt("malformed line"))?;
            let value: u64 = value.parse().map_err(|_| corrupt("malformed number"))?;
            match key {
                "checkpoint_lsn" => manifest.checkpoint_lsn = value,
                "last_ts" => manifest.last_ts = value,
                "next_keyspace_id" => {
                    manifest.next_keyspace_id =
                        u32::try_from(value).map_err(|_| corrupt("keyspace id out of range"))?
                }
                _ => {} // written by a newer version; not needed to open
            }
        }
        Ok(manifest)
    }

    /// Replaces `dir/MANIFEST` atomically and durably.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let body = format!(
            "checkpoint_lsn {}\nlast_ts {}\nnext_keyspace_id {}\n",
            self.checkpoint_lsn, self.last_ts, self.next_keyspace_id
        );
        let text = format!("{body}crc32c {}\n", crc32c::crc32c(body.as_bytes()));
        let tmp = dir.join("MANIFEST.tmp");
        let path = dir.join(MANIFEST);
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| StorageError::io(p, e)
        };
        let written = std::fs::File::create(&tmp).and_then(|mut file| {
            use std::io::Write;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        });
        if let Err(e) = written {
            // The old manifest stays in charge; a partial new one must not hold space.
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&tmp)(e).into());
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        Ok(())
    }
}

/// Facts about checkpoints, for `phantom_storage_stats`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckpointStats {
    /// Checkpoints completed since the database was opened.
    pub count: u64,
    /// The LSN the last checkpoint covered.
    pub last_lsn: Lsn,
    /// When the last checkpoint completed.
    pub last_at: Option<SystemTime>,
    /// Log segments removed so far.
    pub segments_removed: u64,
}

#[derive(Debug)]
struct Progress {
    stats: CheckpointStats,
    /// Log bytes after the last checkpoint on disk that earlier processes wrote (what
    /// recovery replayed); zero once this process has checkpointed.
    inherited: u64,
    appended_at_last: u64,
    last_instant: Instant,
}

impl Progress {
    /// Log bytes written since the last checkpoint on disk, by this process or an earlier
    /// one. Counting only this process's would let a database that is killed more often
    /// than it fills `wal_bytes` never checkpoint at all.
    fn log_since_checkpoint(&self, wal: &Wal) -> u64 {
        self.inherited + wal.appended_bytes().saturating_sub(self.appended_at_last)
    }
}

/// Runs checkpoints; shared with the background thread.
#[derive(Debug)]
pub struct Checkpointer {
    dir: PathBuf,
    keyspaces: Arc<Keyspaces>,
    wal: Arc<Wal>,
    lsns: Arc<AppliedLsns>,
    oracle: Arc<Oracle>,
    options: CheckpointOptions,
    /// Held for a whole checkpoint: one at a time.
    progress: Mutex<Progress>,
    /// Failed checkpoints, and when the background thread may try again.
    retry: Retry,
}

/// Background checkpoints after a failure are at most this far apart.
pub const RETRY_CEILING: Duration = Duration::from_secs(10);

/// What recovery found: the last checkpoint on disk, and how much log after it it replayed.
#[derive(Clone, Copy, Debug)]
pub struct Recovered {
    pub manifest: Manifest,
    pub replayed_bytes: u64,
}

impl Checkpointer {
    pub fn new(
        dir: PathBuf,
        keyspaces: Arc<Keyspaces>,
        wal: Arc<Wal>,
        lsns: Arc<AppliedLsns>,
        oracle: Arc<Oracle>,
        options: CheckpointOptions,
        recovered: Recovered,
    ) -> Checkpointer {
        let stats =
            CheckpointStats { last_lsn: recovered.manifest.checkpoint_lsn, ..CheckpointStats::default() };
        Checkpointer {
            dir,
            keyspaces,
            wal,
            lsns,
            oracle,
            options,
            progress: Mutex::new(Progress {
                stats,
                inherited: recovered.replayed_bytes,
                appended_at_last: 0,
                last_instant: Instant::now(),
            }),
            retry: Retry::new("checkpoint", RETRY_CEILING),
        }
    }

    /// Runs a checkpoint now; returns the LSN it covers. A failure changes nothing on
    /// disk that recovery depends on (see the module docs) and is recorded for the
    /// background thread's backoff.
    pub fn run(&self) -> Result<Lsn> {
        let result = self.run_once();
        match &result {
            Ok(_) => {
                self.retry.succeeded();
            }
            Err(crate::TxnError::Storage(e)) => {
                self.retry.failed(e);
            }
            Err(e) => {
                self.retry.failed(&StorageError::Failed { path: self.dir.clone(), reason: e.to_string() });
            }
        }
        result
    }

    fn run_once(&self) -> Result<Lsn> {
        let mut progress = self.progress.lock();
        let appended = self.wal.appended_bytes();
        let upto = self.lsns.watermark();
        // With synchronous = normal, commits are written but not fsynced; a checkpoint is
        // one of the moments the log is made durable. It must be durable through `upto`
        // before any file claims to cover `upto`, or a power cut could leave files ahead
        // of the log (which recovery reports as missing log).
        self.wal.sync_all()?;
        let last_ts = self.oracle.last_assigned();
        for (_, engine) in self.keyspaces.engines() {
            engine.checkpoint(upto)?;
        }
        Manifest { checkpoint_lsn: upto, last_ts, next_keyspace_id: self.keyspaces.next_id() }
            .write(&self.dir)?;
        self.wal.seal_if_covered(upto)?;
        let removed = self.wal.remove_segments_through(upto, self.options.archive_dir.as_deref())?;
        progress.stats.count += 1;
        progress.stats.last_lsn = upto;
        progress.stats.last_at = Some(SystemTime::now());
        progress.stats.segments_removed += removed as u64;
        progress.inherited = 0;
        progress.appended_at_last = appended;
        progress.last_instant = Instant::now();
        tracing::debug!(lsn = upto, segments_removed = removed, "checkpoint");
        Ok(upto)
    }

    /// True when the log has grown enough since the last checkpoint on disk, or enough
    /// time has passed with new commits.
    pub fn due(&self) -> bool {
        let progress = self.progress.lock();
        let grown = progress.log_since_checkpoint(&self.wal);
        grown >= self.options.wal_bytes
            || (grown > 0 && progress.last_instant.elapsed() >= self.options.interval)
    }

    pub fn stats(&self) -> CheckpointStats {
        self.progress.lock().stats
    }
}

/// Starts the background checkpoint thread: every `tick` it checks whether a checkpoint
/// is due and runs it. The thread stops (and is joined) when the handle is dropped.
pub fn start_background(checkpointer: Arc<Checkpointer>, tick: Duration) -> Result<Periodic> {
    Periodic::start("phantom-checkpoint", tick, move || {
        // A failure is logged by the retry state, once per spell.
        if checkpointer.retry.ready() && checkpointer.due() {
            let _ = checkpointer.run();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_applied_watermark_waits_for_the_oldest_unapplied_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wal = Wal::open(dir.path(), Default::default(), 0, &mut |_, _| Ok(())).expect("wal");
        let lsns = AppliedLsns::new(0);
        let a = lsns.append(&wal, b"a").expect("append");
        let b = lsns.append(&wal, b"b").expect("append");
        assert_eq!(lsns.watermark(), 0);
        lsns.finish(b);
        assert_eq!(lsns.watermark(), 0, "a is still being applied");
        lsns.finish(a);
        assert_eq!(lsns.watermark(), b);
    }

    #[test]
    fn the_manifest_round_trips_and_detects_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(Manifest::read(dir.path()).expect("missing is empty"), Manifest::default());
        let m = Manifest { checkpoint_lsn: 42, last_ts: 7, next_keyspace_id: 3 };
        m.write(dir.path()).expect("write");
        assert_eq!(Manifest::read(dir.path()).expect("read"), m);
        let path = dir.path().join(MANIFEST);
        let text = std::fs::read_to_string(&path).expect("read").replace("42", "43");
        std::fs::write(&path, text).expect("write");
        assert!(Manifest::read(dir.path()).is_err());
    }
}
