//! The LSM-tree engine: writes go to a memtable, memtables become sorted table files,
//! and compaction merges table files in the background.
//!
//! ## Layout
//!
//! - [`memtable`]: the concurrent, sorted in-memory buffer of new writes.
//! - [`block`], [`bloom`], [`table`]: the table file format (prefix-compressed blocks with
//!   restart points, a bloom filter, a block index, per-block CRC32C and LZ4).
//! - [`cache`]: the block cache shared by every LSM tree of a database.
//! - [`manifest`]: the durable log of which table files make up the tree.
//! - [`compaction`]: the leveled and size-tiered strategies, and the merge itself.
//!
//! Each tree lives in its own directory: `MANIFEST` plus `<id>.sst` files. Files the
//! manifest does not name are removed by [`Lsm::remove_unreferenced_files`], which the
//! owner calls once recovery has accepted the manifest, never while opening.
//!
//! ## Reads
//!
//! A lookup asks the active memtable, then frozen memtables newest first, then level-0
//! tables newest first, then one table per deeper level; the first answer wins (a
//! tombstone answers "absent"). Bloom filters skip most tables without reading them.
//! Scans merge all sources chunk by chunk (see [`crate::chunked`]).
//!
//! ## Durability
//!
//! The tree relies on the database's write-ahead log: a memtable is not written anywhere
//! until it is flushed. [`Engine::checkpoint`] flushes every memtable and records the log
//! position in the manifest; recovery replays the log after it into a fresh memtable.
//! Memtables that fill up between checkpoints are flushed in the background only to
//! bound memory; they do not advance the persisted position (replaying their writes again
//! is harmless: the layer above writes immutable versions).
//!
//! ## Failures
//!
//! A flush, compaction or checkpoint that fails to write (a full disk) changes nothing:
//! its unfinished table files delete themselves, finished ones not yet in the manifest are
//! deleted, a failed manifest append is cut off (see [`manifest`]), and the memtables it
//! was writing stay where they are. The background worker tries again with backoff
//! ([`crate::retry`]), logging once when the failures start and once when they end.
//! Meanwhile the tree keeps taking writes into its active memtable; once a frozen one
//! waits to be written (or compaction has fallen behind to the stop threshold),
//! [`Engine::check_writable`] refuses new commits before they are logged, so memory does
//! not grow without bound and no logged commit is left waiting. Damage, or a manifest
//! whose fsync failed, instead fails the tree until it is reopened.
//!
//! ## Back-pressure
//!
//! When compaction falls behind, level 0 (or, tiered, the number of runs) grows; at
//! [`LsmOptions::slowdown_runs`] each write batch waits a millisecond, and at
//! [`LsmOptions::stop_runs`] writes wait for compaction, instead of letting reads get
//! slower without bound.

mod block;
mod bloom;
mod cache;
mod compaction;
mod manifest;
mod memtable;
mod table;

pub use cache::BlockCache;
pub use memtable::Slot;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};

use self::manifest::{Edit, Manifest, TableRecord};
use self::memtable::Memtable;
use self::table::{Table, TableBuilder};
use crate::chunked::{ChunkSource, ChunkedScan};
use crate::engine::{Engine, EngineStats, KeyValue, RecoveryPoint, ScanIterator, WriteBatch, WriteOp};
use crate::faults::Faults;
use crate::retry::Retry;
use crate::wal::Lsn;
use crate::{Result, StorageError};

/// How a tree merges its table files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compaction {
    /// Levels of non-overlapping tables, each ten times the one above: little space and
    /// read amplification, more rewriting.
    Leveled,
    /// Runs of similar size merged together: less rewriting, more runs to read.
    Tiered,
}

/// Decides, per entry, whether a compaction keeps it (`true`) or drops it. Called once per
/// compaction with `complete`: true when nothing older than the compaction's inputs lies
/// outside them, whatever its key, so dropping an entry that marks a deletion cannot bring
/// back an older entry the caller relates to it, even under a neighbouring key (a row's
/// older versions, say). Being the bottom of the tree is not enough for that: files that
/// do not overlap the inputs are left out. The function it returns then sees
/// the merged entries in key order and may keep state across them. The transaction layer
/// uses this to drop MVCC versions no snapshot can see.
pub type CompactionFilter = Arc<dyn Fn(bool) -> Box<dyn FnMut(&[u8], &Slot) -> bool + Send> + Send + Sync>;

/// Tuning of one tree.
#[derive(Clone, Debug)]
pub struct LsmOptions {
    pub compaction: Compaction,
    /// Freeze the memtable at this size.
    pub memtable_bytes: usize,
    /// Leveled: compact level 0 into level 1 at this many tables. Tiered: merge this many
    /// runs of similar size.
    pub merge_trigger: usize,
    /// Leveled: the target size of level 1 (each deeper level is ten times larger).
    pub level1_bytes: u64,
    /// Split compaction output into tables of about this size.
    pub table_bytes: u64,
    /// Slow writes down at this many level-0 tables (tiered: runs).
    pub slowdown_runs: usize,
    /// Stop writes at this many level-0 tables (tiered: runs) until compaction catches up.
    pub stop_runs: usize,
    /// Compaction writes at most this many bytes per second (0: unlimited), so it does
    /// not starve foreground queries of disk bandwidth.
    pub compaction_bytes_per_sec: u64,
}

impl Default for LsmOptions {
    fn default() -> Self {
        LsmOptions {
            compaction: Compaction::Leveled,
            memtable_bytes: 16 << 20,
            merge_trigger: 4,
            level1_bytes: 64 << 20,
            table_bytes: 16 << 20,
            slowdown_runs: 12,
            stop_runs: 20,
            compaction_bytes_per_sec: 128 << 20,
        }
    }
}

/// A table file with its manifest record.
#[derive(Debug)]
struct Run {
    table: Table,
    record: TableRecord,
}

/// The table files of the tree at one moment. Level 0 (and every run of a tiered tree) is
/// ordered newest first; deeper levels by key.
#[derive(Debug, Default, Clone)]
struct Version {
    levels: Vec<Vec<Arc<Run>>>,
}

/// What a reader needs, captured at once.
struct Snapshot {
    memtables: Vec<Arc<Memtable>>,
    version: Arc<Version>,
}

#[derive(Debug)]
struct State {
    active: Arc<Memtable>,
    /// Full memtables waiting to be flushed, newest first.
    frozen: Vec<Arc<Memtable>>,
    version: Arc<Version>,
}

/// What scans and the background worker share with the tree.
pub struct Inner {
    dir: PathBuf,
    /// What the manifest held when the tree was opened.
    opened: RecoveryPoint,
    options: LsmOptions,
    cache: Arc<BlockCache>,
    state: RwLock<State>,
    manifest: Mutex<Manifest>,
    /// Held while a memtable is written out, so flushes happen one at a time and in order.
    flush_lock: Mutex<()>,
    /// Held while a compaction runs.
    compact_lock: Mutex<()>,
    /// Wakes the worker (new frozen memtable) and stalled writers (compaction progress).
    signal: Condvar,
    signal_lock: Mutex<()>,
    filter: RwLock<Option<CompactionFilter>>,
    failed: Mutex<Option<String>>,
    /// Flushes and compactions that failed to write, and when to try again.
    retry: Retry,
    faults: Arc<Faults>,
    stop: AtomicBool,
    /// Tests that assert a tree's exact shape hold the background thread off, so the
    /// shape depends only on what they do, not on when the thread ran. Read under
    /// `round_lock`, which the thread holds for each round of work.
    paused: AtomicBool,
    round_lock: Mutex<()>,
}

/// Background retries after a failed write are at most this far apart.
const RETRY_CEILING: Duration = Duration::from_secs(1);

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lsm").field("dir", &self.dir).field("options", &self.options).finish_non_exhaustive()
    }
}

/// Stops and joins the background worker when the last handle goes.
#[derive(Debug)]
struct Worker {
    inner: Arc<Inner>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        self.inner.wake();
        if let Some(handle) = self.handle.lock().take() {
            let _ = handle.join();
        }
    }
}

/// An LSM tree in a directory.
#[derive(Debug, Clone)]
pub struct Lsm {
    inner: Arc<Inner>,
    _worker: Arc<Worker>,
}

fn table_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:010}.sst"))
}

/// Table files written but not (yet) named by the manifest: deleted when this is dropped,
/// unless kept, so a flush or compaction that fails leaves no space taken.
struct NewTables<'a> {
    dir: &'a Path,
    ids: Vec<u64>,
    kept: bool,
}

impl<'a> NewTables<'a> {
    fn new(dir: &'a Path) -> NewTables<'a> {
        NewTables { dir, ids: Vec::new(), kept: false }
    }
}

impl Drop for NewTables<'_> {
    fn drop(&mut self) {
        if !self.kept {
            for &id in &self.ids {
                let _ = std::fs::remove_file(table_path(self.dir, id));
            }
        }
    }
}

impl Lsm {
    /// Opens (or creates) the tree in `dir`. The compaction strategy of an existing tree
    /// is the one it was created with.
    pub fn open(dir: &Path, options: LsmOptions, cache: Arc<BlockCache>) -> Result<Lsm> {
        Lsm::open_with_faults(dir, options, cache, Faults::none())
    }

    /// Opens with injected I/O faults (tests).
    pub fn open_with_faults(
        dir: &Path,
        mut options: LsmOptions,
        cache: Arc<BlockCache>,
        faults: Arc<Faults>,
    ) -> Result<Lsm> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let mut manifest = Manifest::open(dir)?;
        manifest.faults = faults.clone();
        match manifest.state.compaction {
            Some(strategy) => options.compaction = strategy,
            None => manifest.commit(Edit { compaction: Some(options.compaction), ..Edit::default() })?,
        }
        let mut version = Version::default();
        for record in &manifest.state.tables {
            let table = Table::open(&table_path(dir, record.id), record.id)?;
            let level = record.level as usize;
            if version.levels.len() <= level {
                version.levels.resize(level + 1, Vec::new());
            }
            version.levels[level].push(Arc::new(Run { table, record: record.clone() }));
        }
        version.sort();
        let opened = RecoveryPoint {
            covered_lsn: manifest.state.persisted_lsn,
            path: manifest.path().to_path_buf(),
            offset: manifest.torn_tail().map_or(0, |(offset, _)| *offset),
            source: "its MANIFEST".into(),
            damage: manifest.torn_tail().map(|(offset, why)| {
                format!(
                    "the MANIFEST ends in an incomplete edit at offset {offset} ({why}), which was ignored"
                )
            }),
        };
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            opened,
            options,
            cache,
            state: RwLock::new(State {
                active: Arc::new(Memtable::new()),
                frozen: Vec::new(),
                version: Arc::new(version),
            }),
            manifest: Mutex::new(manifest),
            flush_lock: Mutex::new(()),
            compact_lock: Mutex::new(()),
            signal: Condvar::new(),
            signal_lock: Mutex::new(()),
            filter: RwLock::new(None),
            failed: Mutex::new(None),
            retry: Retry::new("LSM flush and compaction", RETRY_CEILING),
            faults,
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            round_lock: Mutex::new(()),
        });
        let background = inner.clone();
        let handle = std::thread::Builder::new()
            .name("phantom-lsm".into())
            .spawn(move || background.work())
            .map_err(|e| StorageError::io(dir, e))?;
        let worker = Arc::new(Worker { inner: inner.clone(), handle: Mutex::new(Some(handle)) });
        Ok(Lsm { inner, _worker: worker })
    }

    /// What the manifest held when the tree was opened: the log position it covers and a
    /// torn last edit it ignored, if any.
    pub fn recovery_point(&self) -> &RecoveryPoint {
        &self.inner.opened
    }

    /// Deletes table files the manifest does not name: leftovers of a flush or compaction
    /// that never reached the manifest (or whose inputs were not yet removed). Call it only
    /// once recovery has accepted the manifest ([`Lsm::recovery_point`]): a table file is
    /// never deleted on the word of a manifest that may have lost edits. Returns how many
    /// files went.
    pub fn remove_unreferenced_files(&self) -> Result<usize> {
        let inner = &self.inner;
        // No flush or compaction is writing a table the manifest does not name yet.
        let _flush = inner.flush_lock.lock();
        let _compact = inner.compact_lock.lock();
        let live: std::collections::HashSet<u64> =
            inner.manifest.lock().state.tables.iter().map(|t| t.id).collect();
        let mut removed = 0;
        for entry in std::fs::read_dir(&inner.dir).map_err(|e| StorageError::io(&inner.dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(&inner.dir, e))?;
            let name = entry.file_name();
            let id = name.to_str().and_then(|n| n.strip_suffix(".sst")).and_then(|n| n.parse::<u64>().ok());
            if let Some(id) = id
                && !live.contains(&id)
            {
                // A leftover that cannot be removed only costs space: say so and go on.
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) => {
                        tracing::warn!(file = %entry.path().display(), error = %e, "could not remove an unreferenced table file")
                    }
                }
            }
        }
        Ok(removed)
    }

    /// Installs the compaction filter.
    pub fn set_compaction_filter(&self, filter: Option<CompactionFilter>) {
        *self.inner.filter.write() = filter;
    }

    /// The tree's compaction strategy.
    pub fn compaction(&self) -> Compaction {
        self.inner.options.compaction
    }

    /// Table files per level, for statistics and tests.
    pub fn tables_per_level(&self) -> Vec<usize> {
        self.inner.state.read().version.levels.iter().map(Vec::len).collect()
    }

    /// Stops (or restarts) background flushes and compactions, for tests whose result
    /// depends on the tree's shape. Memtables that fill up meanwhile stay frozen in
    /// memory until [`Lsm::compact_fully`] or a checkpoint writes them.
    #[cfg(test)]
    pub(crate) fn pause_background_work(&self, paused: bool) {
        // Waits for a round in progress; no round starts work after this.
        let _round = self.inner.round_lock.lock();
        self.inner.paused.store(paused, Ordering::Relaxed);
    }

    /// Flushes the memtables and compacts until no level needs it (tests and tools).
    pub fn compact_fully(&self) -> Result<()> {
        self.inner.flush_all()?;
        while self.inner.compact_once()? {}
        Ok(())
    }
}

impl Version {
    fn sort(&mut self) {
        for (level, runs) in self.levels.iter_mut().enumerate() {
            if level == 0 {
                runs.sort_by_key(|r| std::cmp::Reverse(r.record.seq));
            } else {
                runs.sort_by(|a, b| a.record.smallest.cmp(&b.record.smallest));
            }
        }
    }

    fn total_bytes(&self) -> u64 {
        self.levels.iter().flatten().map(|r| r.record.size).sum()
    }
}

impl Inner {
    fn wake(&self) {
        let _guard = self.signal_lock.lock();
        self.signal.notify_all();
    }

    fn check_failed(&self) -> Result<()> {
        match &*self.failed.lock() {
            Some(reason) => Err(StorageError::Failed { path: self.dir.clone(), reason: reason.clone() }),
            None => Ok(()),
        }
    }

    /// Records the outcome of work that wrote files (a flush, a compaction, a manifest
    /// edit): a failed write (a full disk) starts or continues a spell of retries, a
    /// success ends one, anything else (damage, a broken manifest) fails the tree.
    fn settle<T>(&self, result: Result<T>) -> Result<T> {
        match &result {
            Ok(_) => {
                self.retry.succeeded();
            }
            Err(e) if e.is_io() => {
                self.retry.failed(e);
            }
            Err(e) => {
                let mut failed = self.failed.lock();
                if failed.is_none() {
                    tracing::error!(tree = %self.dir.display(), error = %e, "LSM tree failed; it refuses writes until reopened");
                    *failed = Some(e.to_string());
                }
            }
        }
        result
    }

    /// Commits `edit`, which names the tables in `new`: once it may be durable, they are
    /// the manifest's and stay. (A write error means it is not: the manifest cut it off.)
    fn commit_new_tables(&self, new: &mut NewTables<'_>, edit: Edit) -> Result<()> {
        let result = self.manifest.lock().commit(edit);
        if !matches!(&result, Err(e) if e.is_io()) {
            new.kept = true;
        }
        result
    }

    fn snapshot(&self) -> Snapshot {
        let state = self.state.read();
        let mut memtables = vec![state.active.clone()];
        memtables.extend(state.frozen.iter().cloned());
        Snapshot { memtables, version: state.version.clone() }
    }

    /// Level-0 tables (leveled) or runs (tiered): what back-pressure watches.
    fn runs(&self) -> usize {
        let version = self.state.read().version.clone();
        match self.options.compaction {
            Compaction::Leveled => version.levels.first().map_or(0, Vec::len),
            Compaction::Tiered => version.levels.iter().map(Vec::len).sum(),
        }
    }

    /// The background worker: flushes frozen memtables, then compacts. After a failure
    /// it waits out the retry delay (errors are recorded by [`Inner::settle`]).
    fn work(self: Arc<Self>) {
        while !self.stop.load(Ordering::Relaxed) {
            let result = {
                let _round = self.round_lock.lock();
                let paused = self.paused.load(Ordering::Relaxed);
                (!paused && self.retry.ready() && self.check_failed().is_ok())
                    .then(|| self.flush_frozen().and_then(|flushed| Ok(flushed | self.compact_once()?)))
            };
            match result {
                Some(Ok(true)) => {
                    self.wake();
                    continue;
                }
                Some(Ok(false)) | None => {}
                // Writers waiting for compaction must hear of it.
                Some(Err(_)) => self.wake(),
            }
            let mut guard = self.signal_lock.lock();
            if !self.stop.load(Ordering::Relaxed) {
                self.signal.wait_for(&mut guard, Duration::from_millis(100));
            }
        }
    }

    /// Writes out every frozen memtable, oldest first. True if any was written.
    fn flush_frozen(&self) -> Result<bool> {
        let _flush = self.flush_lock.lock();
        let mut any = false;
        loop {
            let Some(oldest) = self.state.read().frozen.last().cloned() else { return Ok(any) };
            self.settle(self.write_memtable(&oldest))?;
            any = true;
        }
    }

    /// Freezes the active memtable (if it has anything) and flushes all frozen ones.
    fn flush_all(&self) -> Result<()> {
        {
            let mut state = self.state.write();
            if !state.active.is_empty() {
                let full = std::mem::replace(&mut state.active, Arc::new(Memtable::new()));
                state.frozen.insert(0, full);
            }
        }
        self.flush_frozen().map(drop)
    }

    /// Writes `memtable` as a level-0 table and swaps it out of the frozen list.
    fn write_memtable(&self, memtable: &Arc<Memtable>) -> Result<()> {
        let (id, seq) = {
            let mut manifest = self.manifest.lock();
            let id = manifest.next_table_id();
            (id, id)
        };
        let path = table_path(&self.dir, id);
        let mut new = NewTables::new(&self.dir);
        let mut builder = TableBuilder::create(&path, self.faults.clone())?;
        for (key, slot) in memtable.entries() {
            builder.add(&key, &slot)?;
        }
        let info = builder.finish()?;
        new.ids.push(id);
        let record = TableRecord {
            id,
            level: 0,
            seq,
            smallest: info.smallest,
            largest: info.largest,
            size: info.size,
            entries: info.entries,
        };
        let table = Table::open(&path, id)?;
        self.commit_new_tables(&mut new, Edit { added: vec![record.clone()], ..Edit::default() })?;
        let mut state = self.state.write();
        let mut version = (*state.version).clone();
        if version.levels.is_empty() {
            version.levels.push(Vec::new());
        }
        version.levels[0].insert(0, Arc::new(Run { table, record }));
        state.version = Arc::new(version);
        state.frozen.retain(|m| !Arc::ptr_eq(m, memtable));
        Ok(())
    }

    /// The slot of `key` in the newest source that has one.
    fn lookup(&self, snapshot: &Snapshot, key: &[u8]) -> Result<Option<Slot>> {
        for memtable in &snapshot.memtables {
            if let Some(slot) = memtable.get(key) {
                return Ok(Some(slot));
            }
        }
        let hash = bloom::hash(key);
        for (level, runs) in snapshot.version.levels.iter().enumerate() {
            if level == 0 || self.options.compaction == Compaction::Tiered {
                for run in runs {
                    if key >= run.record.smallest.as_slice()
                        && key <= run.record.largest.as_slice()
                        && let Some(slot) = run.table.get(key, hash, &self.cache)?
                    {
                        return Ok(Some(slot));
                    }
                }
            } else {
                let i = runs.partition_point(|r| r.record.largest.as_slice() < key);
                if let Some(run) = runs.get(i)
                    && key >= run.record.smallest.as_slice()
                    && let Some(slot) = run.table.get(key, hash, &self.cache)?
                {
                    return Ok(Some(slot));
                }
            }
        }
        Ok(None)
    }

    /// Up to `limit` live entries of `range` from its start (or end), and whether the
    /// range may hold more beyond them.
    fn collect(
        &self,
        snapshot: &Snapshot,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        back: bool,
        limit: usize,
    ) -> Result<(Vec<KeyValue>, Option<Vec<u8>>)> {
        // Each source's first `limit` entries, newest source first.
        let mut sources: Vec<Vec<(Vec<u8>, Slot)>> = Vec::new();
        for memtable in &snapshot.memtables {
            sources.push(memtable.collect(range, back, limit));
        }
        for (level, runs) in snapshot.version.levels.iter().enumerate() {
            if level == 0 || self.options.compaction == Compaction::Tiered {
                for run in runs {
                    sources.push(run.table.collect(range, back, limit, &self.cache)?);
                }
            } else {
                // A level is one sorted run split across files: read files in key order.
                let mut entries = Vec::new();
                let ordered: Box<dyn Iterator<Item = &Arc<Run>>> =
                    if back { Box::new(runs.iter().rev()) } else { Box::new(runs.iter()) };
                for run in ordered {
                    if !overlaps(range, &run.record) {
                        continue;
                    }
                    entries.extend(run.table.collect(range, back, limit - entries.len(), &self.cache)?);
                    if entries.len() >= limit {
                        break;
                    }
                }
                sources.push(entries);
            }
        }
        // Sources that were cut off may hold more keys past their last one; only keys up to
        // the nearest such cut are certain.
        let cut = sources
            .iter()
            .filter(|s| s.len() >= limit)
            .filter_map(|s| s.last().map(|(k, _)| k.clone()))
            .reduce(|a, b| if back { a.max(b) } else { a.min(b) });
        let mut merged: BTreeMap<Vec<u8>, Slot> = BTreeMap::new();
        for source in sources.into_iter().rev() {
            // Oldest first, so newer sources overwrite.
            for (k, v) in source {
                merged.insert(k, v);
            }
        }
        let certain = |k: &Vec<u8>| match &cut {
            None => true,
            Some(c) => {
                if back {
                    k >= c
                } else {
                    k <= c
                }
            }
        };
        let live = |(k, v): (Vec<u8>, Slot)| v.map(|v| (k, v));
        let out: Vec<KeyValue> = if back {
            merged.into_iter().rev().take_while(|(k, _)| certain(k)).filter_map(live).collect()
        } else {
            merged.into_iter().take_while(|(k, _)| certain(k)).filter_map(live).collect()
        };
        Ok((out, cut))
    }
}

/// True if the table's key range meets the query range.
fn overlaps(range: (Bound<&[u8]>, Bound<&[u8]>), record: &TableRecord) -> bool {
    let after_start = match range.0 {
        Bound::Unbounded => true,
        Bound::Included(k) => record.largest.as_slice() >= k,
        Bound::Excluded(k) => record.largest.as_slice() > k,
    };
    let before_end = match range.1 {
        Bound::Unbounded => true,
        Bound::Included(k) => record.smallest.as_slice() <= k,
        Bound::Excluded(k) => record.smallest.as_slice() < k,
    };
    after_start && before_end
}

impl Engine for Lsm {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let snapshot = self.inner.snapshot();
        Ok(self.inner.lookup(&snapshot, key)?.flatten())
    }

    fn scan(&self, range: (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> ScanIterator {
        Box::new(ChunkedScan::new(TreeChunks { tree: self.inner.clone() }, range))
    }

    fn apply(&self, batch: WriteBatch, _lsn: Lsn) -> Result<()> {
        self.inner.check_failed()?;
        // Back-pressure: compaction must keep up. A compaction that cannot write (a full
        // disk) is not waited for: this batch's commit is logged already, and
        // `check_writable` holds back the next ones.
        let runs = self.inner.runs();
        if runs >= self.inner.options.stop_runs {
            let mut guard = self.inner.signal_lock.lock();
            while self.inner.runs() >= self.inner.options.stop_runs
                && self.inner.failed.lock().is_none()
                && !self.inner.retry.is_failing()
            {
                self.inner.signal.notify_all();
                self.inner.signal.wait_for(&mut guard, Duration::from_millis(50));
            }
        } else if runs >= self.inner.options.slowdown_runs {
            std::thread::sleep(Duration::from_millis(1));
        }
        let state = self.inner.state.read();
        for op in batch.ops {
            match op {
                WriteOp::Put(k, v) => state.active.put(k, Some(v)),
                WriteOp::Delete(k) => state.active.put(k, None),
            }
        }
        let full = state.active.size() >= self.inner.options.memtable_bytes;
        drop(state);
        if full {
            let mut state = self.inner.state.write();
            if state.active.size() >= self.inner.options.memtable_bytes {
                let full = std::mem::replace(&mut state.active, Arc::new(Memtable::new()));
                state.frozen.insert(0, full);
            }
            drop(state);
            self.inner.wake();
        }
        Ok(())
    }

    fn checkpoint(&self, upto: Lsn) -> Result<()> {
        self.inner.check_failed()?;
        self.inner.flush_all()?;
        let mut manifest = self.inner.manifest.lock();
        if manifest.state.persisted_lsn < upto {
            let result = manifest.commit(Edit { persisted_lsn: Some(upto), ..Edit::default() });
            drop(manifest);
            self.inner.settle(result)?;
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        self.inner.check_failed()?;
        if let Some(refusal) = self.inner.retry.refusal() {
            let backlog = !self.inner.state.read().frozen.is_empty()
                || self.inner.runs() >= self.inner.options.stop_runs;
            if backlog {
                return Err(refusal);
            }
        }
        Ok(())
    }

    fn persisted_lsn(&self) -> Lsn {
        self.inner.manifest.lock().state.persisted_lsn
    }

    fn stats(&self) -> EngineStats {
        let snapshot = self.inner.snapshot();
        let tables: Vec<&Arc<Run>> = snapshot.version.levels.iter().flatten().collect();
        EngineStats {
            kind: "lsm",
            keys: tables.iter().map(|r| r.record.entries).sum::<u64>()
                + snapshot.memtables.iter().map(|m| m.len() as u64).sum::<u64>(),
            live_bytes: snapshot.memtables.iter().map(|m| m.size() as u64).sum::<u64>()
                + snapshot.version.total_bytes(),
            disk_bytes: snapshot.version.total_bytes(),
        }
    }
}

/// Reads chunks of an LSM tree for a [`ChunkedScan`]: each chunk merges the next entries
/// of every source.
struct TreeChunks {
    tree: Arc<Inner>,
}

impl ChunkSource for TreeChunks {
    fn chunk(
        &mut self,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        back: bool,
        limit: usize,
    ) -> Result<Vec<KeyValue>> {
        let snapshot = self.tree.snapshot();
        let mut range = (range.0.map(<[u8]>::to_vec), range.1.map(<[u8]>::to_vec));
        loop {
            let bounds = (range.0.as_ref().map(Vec::as_slice), range.1.as_ref().map(Vec::as_slice));
            let (entries, cut) = self.tree.collect(&snapshot, bounds, back, limit)?;
            let Some(cut) = cut.filter(|_| entries.is_empty()) else { return Ok(entries) };
            // Only tombstones up to the cut: continue past it.
            if back {
                range.1 = Bound::Excluded(cut);
            } else {
                range.0 = Bound::Excluded(cut);
            }
        }
    }
}

#[cfg(test)]
mod tests;
