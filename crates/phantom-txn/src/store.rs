//! The MVCC store: keyspaces, the write-ahead log, the oracle, recovery and checkpoints.
//!
//! A data directory looks like this:
//!
//! ```text
//!   DIR/LOCK                 held with an OS file lock while the database is open
//!   DIR/wal/*.wal            the write-ahead log (see phantom_storage::wal)
//!   DIR/data/ks-<id>.btree   one B+tree file per keyspace (table or index)
//!   DIR/data/MANIFEST        what the last checkpoint covered (see [`crate::checkpoint`])
//!   DIR/tmp/                 scratch files of write sets too big for memory
//! ```
//!
//! Opening reads the manifest, opens every keyspace file, and replays the log records
//! after the manifest's LSN, skipping for each engine what its own file already covers.
//! Before and after the replay, [`crate::recovery`] checks that the files and the log
//! agree, and refuses to open (a corruption error) when a file fell back to a state older
//! than the rest of the database, or log records are missing. A damaged log is salvaged
//! only when [`StoreOptions::salvage_wal`] asks for it.
//!
//! ## A commit is either durable or absent
//!
//! A commit reported failed must not be in the log, and one in the log must not be
//! reported failed. So everything that could refuse a commit is asked *before* its record
//! is appended ([`Shared::admit`]): every engine it writes must be able to take it
//! (`Engine::check_writable`: not failed, not waiting for disk space with its memory full
//! of what it cannot write), and its keys must fit the engines that store them. The log
//! then refuses the record itself when it cannot grow (a full disk: 53100), again before
//! the record has an LSN. Once the record is durable, nothing turns the commit into a
//! failure: applying it to the engines does no write that can fail for lack of space
//! (write-back failures leave pages dirty), and should applying fail anyway (a damaged
//! page), the commit is still reported as committed, because it is: the error is logged,
//! the engine has failed (and refuses the next commit before it is logged), and recovery
//! applies the commit from the log.
//!
//! ## Commits in parts
//!
//! A write set that spilled to disk is logged as several records (see [`crate::record`]):
//! parts, then the final record. The commit timestamp is taken first, so every part
//! carries it, and nothing is applied to the engines until the final record is durable;
//! while the parts are logged the timestamp is in flight, which holds back the visibility
//! watermark (later commits wait to become visible until this one is). Recovery applies
//! parts as it meets them and, once the log ends, deletes the versions of every timestamp
//! whose final record never came: that takes a scan of the keyspaces those parts wrote,
//! which only happens after a crash in the middle of logging a huge commit. A part refused
//! on a full disk (or by an engine) leaves the parts before it in the log the same way:
//! without a final record they are never applied, and recovery discards them.

use std::collections::HashMap;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use phantom_storage::btree::{BTreeStats, BufferPool, PoolStats};
use phantom_storage::dirlock::DirLock;
use phantom_storage::wal::{Lsn, Recovery, RecoveryReport as WalRecoveryReport, SyncMode, Wal, WalOptions};
use phantom_storage::{EngineStats, WriteBatch};

use crate::catalog_cache::CatalogCache;
use crate::checkpoint::{
    AppliedLsns, CheckpointOptions, CheckpointStats, Checkpointer, Manifest, Recovered, start_background,
};
use crate::keyspace::{CATALOG_KEYSPACE, KeyspaceId, Keyspaces};
use crate::locks::{LockManager, TxnId};
use crate::oracle::Oracle;
use crate::periodic::Periodic;
use crate::record::{CommitRecord, Write};
use crate::recovery::Rules;
use crate::ssi::Ssi;
use crate::transaction::{Inner, Transaction, TxnOptions};
use crate::write_set::{SpillPlace, WriteSet};
use crate::{Result, Timestamp, VacuumStats, version};

/// How many bytes of writes one part of a spilled commit carries.
const PART_BYTES: usize = 4 << 20;

/// How to open a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// When commits wait for fsync.
    pub sync: SyncMode,
    /// Size at which the log starts a new segment file.
    pub wal_segment_size: u64,
    /// Memory for cached B+tree pages, shared by every table and index.
    pub buffer_pool_size: usize,
    /// Memory for cached LSM table blocks, shared by every LSM tree.
    pub block_cache_size: usize,
    /// When checkpoints run, and where removed log segments are archived.
    pub checkpoint: CheckpointOptions,
    /// Open a database whose log is damaged by skipping damaged records every table file
    /// already holds, or else cutting the log at the first bad record (keeping a copy of
    /// what is cut): committed transactions after it are lost. Off by default: damage is
    /// an error (see `phantom_storage::wal::Recovery`).
    pub salvage_wal: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        let wal = WalOptions::default();
        StoreOptions {
            sync: wal.sync,
            wal_segment_size: wal.segment_size,
            buffer_pool_size: default_buffer_pool_size(),
            block_cache_size: 64 * 1024 * 1024,
            checkpoint: CheckpointOptions::default(),
            salvage_wal: false,
        }
    }
}

/// The default size of the buffer pool: a quarter of the machine's memory, and at least
/// 128 MiB (just 128 MiB where the memory size is unknown). Like DuckDB's memory limit it
/// is a ceiling, not an allocation: pages are cached only as they are read. A pool smaller
/// than the hot data pays for every miss with a read and a node decode, which PostgreSQL,
/// reading through the OS page cache into flat pages, pays less for.
pub fn default_buffer_pool_size() -> usize {
    const FLOOR: usize = 128 << 20;
    // Read once per process: every `StoreOptions::default()` asks.
    static SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        });
        total.map_or(FLOOR, |bytes| (bytes / 4).max(FLOOR))
    })
}

/// State shared by the store and every transaction.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) keyspaces: Arc<Keyspaces>,
    pub(crate) oracle: Arc<Oracle>,
    pub(crate) locks: LockManager,
    pub(crate) ssi: Ssi,
    /// Live transactions that have written something, for READ UNCOMMITTED readers.
    pub(crate) writers: Mutex<HashMap<TxnId, Weak<Inner>>>,
    pub(crate) wal: Option<Arc<Wal>>,
    /// Where write sets spill (`None` in memory).
    pub(crate) spill: Option<Arc<SpillPlace>>,
    /// Committed catalog entries, for every transaction's lookups.
    pub(crate) catalog_cache: CatalogCache,
    lsns: Arc<AppliedLsns>,
    checkpointer: Option<Arc<Checkpointer>>,
    /// Declared before the lock: stops (joins) the thread before the directory unlocks.
    background: Mutex<Option<Periodic>>,
    collector: Mutex<Option<Periodic>>,
    next_txn_id: AtomicU64,
    /// Keyspaces dropped by committed transactions, with the commit timestamp: they are
    /// removed once no snapshot older than that timestamp is live.
    pending_drops: Mutex<Vec<(KeyspaceId, Timestamp)>>,
    /// What recovery did at open that a user should hear about.
    recovery: RecoveryReport,
    path: Option<PathBuf>,
    _lock: Option<DirLock>,
}

/// A transactional, multi-version key-value store over many keyspaces.
#[derive(Clone, Debug)]
pub struct MvccStore {
    shared: Arc<Shared>,
}

/// What recovery did when the store was opened that a user should hear about: a torn
/// log tail cut off, what a salvage skipped or cut, damage it stepped around because the
/// log still covered it (a torn header of a checkpoint that never completed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// What the log's recovery did.
    pub wal: WalRecoveryReport,
    /// Damaged files opened from an older state that the log brought up to date.
    pub accepted_damage: Vec<String>,
}

impl RecoveryReport {
    /// One line per thing to tell, most serious first.
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.wal.salvaged.iter().map(ToString::to_string).collect();
        notes.extend(self.accepted_damage.iter().cloned());
        notes.extend(self.wal.torn_tail.iter().map(ToString::to_string));
        notes
    }
}

/// Storage facts for `phantom_storage_stats`.
#[derive(Clone, Debug, Default)]
pub struct StorageStats {
    /// Per keyspace: id, engine statistics, and B+tree details when it is one.
    pub keyspaces: Vec<(KeyspaceId, EngineStats, Option<BTreeStats>)>,
    /// The shared buffer pool (`None` in memory).
    pub pool: Option<PoolStats>,
    /// Bytes of log segment files.
    pub wal_bytes: u64,
    /// Log segment files.
    pub wal_segments: u64,
    pub checkpoints: CheckpointStats,
}

impl MvccStore {
    /// Opens (or creates) the database in `dir` and recovers it from its files and log.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<MvccStore> {
        let lock = DirLock::acquire(dir)?;
        let data_dir = dir.join("data");
        let pool = BufferPool::new(options.buffer_pool_size);
        let spill = Arc::new(SpillPlace::open(&dir.join("tmp"), pool.clone())?);
        let cache = phantom_storage::lsm::BlockCache::new(options.block_cache_size);
        let keyspaces = Arc::new(Keyspaces::open(&data_dir, pool, cache)?);
        let manifest = Manifest::read(&data_dir)?;
        keyspaces.note_id(manifest.next_keyspace_id.saturating_sub(1));
        let points = keyspaces.recovery_points();
        let manifest_path = Manifest::path(&data_dir);
        let rules = Rules { manifest: &manifest, manifest_path: &manifest_path, points: &points };
        let wal_dir = dir.join("wal");
        rules.check_log_start(&wal_dir, Wal::first_lsn(&wal_dir)?)?;
        let mut last_ts: Timestamp = manifest.last_ts;
        let wal_options = WalOptions { segment_size: options.wal_segment_size, sync: options.sync };
        let mut replayed = 0u64;
        let mut replayed_bytes = 0u64;
        // Commits logged in parts whose final record has not come (yet): the keyspaces
        // their parts wrote.
        let mut unfinished: HashMap<Timestamp, HashSet<KeyspaceId>> = HashMap::new();
        // Keyspaces the replayed log creates.
        let mut created: HashSet<KeyspaceId> = HashSet::new();
        let mut replay = |lsn: Lsn, payload: &[u8]| -> phantom_storage::Result<()> {
            let record = CommitRecord::decode(payload).map_err(|e| corrupt_record(dir, lsn, e))?;
            last_ts = last_ts.max(record.ts);
            replayed += 1;
            replayed_bytes += payload.len() as u64;
            created.extend(record.writes.iter().filter_map(|w| match w {
                Write::CreateKeyspace { keyspace, .. } => Some(*keyspace),
                _ => None,
            }));
            if record.complete {
                unfinished.remove(&record.ts);
            } else {
                unfinished.entry(record.ts).or_default().extend(record.writes.iter().map(Write::keyspace));
            }
            apply_record(&keyspaces, record, lsn, true).map_err(|e| corrupt_record(dir, lsn, e))
        };
        let recovery = Recovery {
            skip_through: manifest.checkpoint_lsn,
            must_reach: rules.must_reach(),
            salvage: options.salvage_wal,
        };
        let wal = Arc::new(Wal::open_with(&wal_dir, wal_options, &recovery, &mut replay)?);
        let accepted_damage = rules.check_keyspaces(&created)?;
        keyspaces.finish_recovery()?;
        let recovery = RecoveryReport { wal: wal.recovery_report().clone(), accepted_damage };
        for (ts, written) in unfinished {
            let removed = discard_versions(&keyspaces, ts, &written, wal.last_lsn())?;
            tracing::warn!(
                ts,
                removed,
                "discarded the versions of a commit the crash interrupted while logging it"
            );
        }
        tracing::info!(
            dir = %dir.display(),
            checkpoint_lsn = manifest.checkpoint_lsn,
            replayed,
            last_lsn = wal.last_lsn(),
            last_ts,
            "recovered database"
        );
        let lsns = Arc::new(AppliedLsns::new(wal.last_lsn()));
        let oracle = Arc::new(Oracle::new(last_ts));
        let checkpointer = Arc::new(Checkpointer::new(
            data_dir,
            keyspaces.clone(),
            wal.clone(),
            lsns.clone(),
            oracle.clone(),
            options.checkpoint.clone(),
            Recovered { manifest, replayed_bytes },
        ));
        if checkpointer.due()
            && let Err(e) = checkpointer.run()
        {
            // Not fatal: the log still holds everything, and the background thread tries
            // again (a full disk, say, may have room later).
            tracing::warn!(error = %e, "checkpoint after recovery failed");
        }
        let background = start_background(checkpointer.clone(), Duration::from_millis(100))?;
        let collector = crate::gc::start_collector(keyspaces.clone(), oracle.clone())?;
        Ok(MvccStore {
            shared: Arc::new(Shared {
                keyspaces,
                oracle,
                locks: LockManager::new(),
                ssi: Ssi::default(),
                writers: Mutex::new(HashMap::new()),
                wal: Some(wal),
                spill: Some(spill),
                catalog_cache: CatalogCache::default(),
                lsns,
                checkpointer: Some(checkpointer),
                background: Mutex::new(Some(background)),
                collector: Mutex::new(Some(collector)),
                next_txn_id: AtomicU64::new(1),
                pending_drops: Mutex::new(Vec::new()),
                recovery,
                path: Some(dir.to_path_buf()),
                _lock: Some(lock),
            }),
        })
    }

    /// A store that lives in memory only and is gone when dropped.
    pub fn memory() -> MvccStore {
        let keyspaces = Arc::new(Keyspaces::memory());
        let oracle = Arc::new(Oracle::new(0));
        // Without a thread the collector only runs on VACUUM; a memory database still works.
        let collector = crate::gc::start_collector(keyspaces.clone(), oracle.clone())
            .map_err(|e| tracing::warn!(error = %e, "no background garbage collection"))
            .ok();
        MvccStore {
            shared: Arc::new(Shared {
                keyspaces,
                oracle,
                locks: LockManager::new(),
                ssi: Ssi::default(),
                writers: Mutex::new(HashMap::new()),
                wal: None,
                spill: None,
                catalog_cache: CatalogCache::default(),
                lsns: Arc::new(AppliedLsns::new(0)),
                checkpointer: None,
                background: Mutex::new(None),
                collector: Mutex::new(collector),
                next_txn_id: AtomicU64::new(1),
                pending_drops: Mutex::new(Vec::new()),
                recovery: RecoveryReport::default(),
                path: None,
                _lock: None,
            }),
        }
    }

    /// Starts a SNAPSHOT transaction (one snapshot of everything committed so far, and
    /// first-committer-wins): the natural level for key-value use. SQL sessions choose
    /// their level with [`MvccStore::begin_with`].
    pub fn begin(&self) -> Transaction {
        self.begin_with(TxnOptions { isolation: crate::Isolation::Snapshot, ..TxnOptions::default() })
    }

    /// Starts a transaction with the given isolation level and limits.
    pub fn begin_with(&self, options: TxnOptions) -> Transaction {
        let id = self.shared.next_txn_id.fetch_add(1, Ordering::Relaxed);
        Transaction::new(self.shared.clone(), id, options)
    }

    /// How many rows and keyspaces have locks or waiters in the lock table (for tests:
    /// escalation keeps it small).
    pub fn lock_entries(&self) -> usize {
        self.shared.locks.entries()
    }

    /// What recovery did when the store was opened that a user should hear about.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.shared.recovery
    }

    /// Reads every entry of keyspace `id` (every version), so that each page or block
    /// holding them is read and checked: an error if any is damaged. Returns how many
    /// entries there are.
    pub fn verify_keyspace(&self, id: KeyspaceId) -> Result<u64> {
        let engine = self.shared.keyspaces.get(id)?;
        let mut entries = 0;
        for entry in engine.scan((std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)) {
            version::decode_key(&entry?.0)?;
            entries += 1;
        }
        Ok(entries)
    }

    /// The data directory, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.shared.path.as_deref()
    }

    /// Removes keyspaces that exist but are not in `live` (and are not the catalog). Used
    /// after recovery to discard data of tables whose drop committed.
    pub fn retain_keyspaces(&self, live: &HashSet<KeyspaceId>) {
        for id in self.shared.keyspaces.ids() {
            if id != CATALOG_KEYSPACE && !live.contains(&id) {
                self.shared.keyspaces.drop_keyspace(id);
            }
        }
    }

    /// The highest user key ever written to keyspace `id` (in any version, including
    /// deleted ones), used to continue row-id sequences.
    pub fn last_key(&self, id: KeyspaceId) -> Result<Option<Vec<u8>>> {
        let engine = self.shared.keyspaces.get(id)?;
        let mut scan = engine.scan((std::ops::Bound::Unbounded, std::ops::Bound::Unbounded));
        match scan.next_back() {
            None => Ok(None),
            Some(entry) => Ok(Some(version::decode_key(&entry?.0)?.0.to_vec())),
        }
    }

    /// Statistics of keyspace `id`.
    pub fn keyspace_stats(&self, id: KeyspaceId) -> Result<EngineStats> {
        Ok(self.shared.keyspaces.get(id)?.stats())
    }

    /// Everything `phantom_storage_stats` shows.
    pub fn storage_stats(&self) -> StorageStats {
        let keyspaces = &self.shared.keyspaces;
        StorageStats {
            keyspaces: keyspaces
                .engines()
                .into_iter()
                .map(|(id, engine)| (id, engine.stats(), keyspaces.btree(id).map(|t| t.btree_stats())))
                .collect(),
            pool: keyspaces.pool().map(|p| p.stats()),
            wal_bytes: self.wal_size(),
            wal_segments: self.shared.wal.as_ref().map_or(0, |w| w.segment_count() as u64),
            checkpoints: self.shared.checkpointer.as_ref().map(|c| c.stats()).unwrap_or_default(),
        }
    }

    /// Total bytes of log segment files (0 for an in-memory store).
    pub fn wal_size(&self) -> u64 {
        self.shared.wal.as_ref().map_or(0, |w| w.size_bytes())
    }

    /// The newest visible commit timestamp.
    pub fn watermark(&self) -> Timestamp {
        self.shared.oracle.watermark()
    }

    /// Removes the versions no live snapshot can see from keyspace `id` (every keyspace
    /// when `None`) now, whatever its engine.
    pub fn vacuum(&self, id: Option<KeyspaceId>) -> Result<VacuumStats> {
        let shared = &self.shared;
        crate::gc::vacuum_where(&shared.keyspaces, &shared.oracle, |c| id.is_none_or(|id| id == c.id))
    }

    /// Runs a checkpoint now (a no-op in memory); returns the LSN it covers.
    pub fn checkpoint(&self) -> Result<Lsn> {
        match &self.shared.checkpointer {
            Some(c) => c.run(),
            None => Ok(0),
        }
    }
}

fn corrupt_record(dir: &Path, lsn: Lsn, e: crate::TxnError) -> phantom_storage::StorageError {
    match e {
        crate::TxnError::Storage(s) => s,
        other => phantom_storage::StorageError::Corrupt {
            path: dir.join("wal"),
            offset: 0,
            reason: format!("record {lsn}: {other}"),
        },
    }
}

impl Drop for Shared {
    /// A clean close: stop the background thread, then checkpoint so the next open has
    /// little log to replay. Errors are only logged: everything is in the log anyway.
    fn drop(&mut self) {
        drop(self.collector.lock().take());
        drop(self.background.lock().take());
        if let Some(checkpointer) = &self.checkpointer
            && let Err(e) = checkpointer.run()
        {
            tracing::warn!(error = %e, "checkpoint at close failed; the next open replays the log");
        }
    }
}

impl Shared {
    /// Refuses writes the engines could not take, before any of them is logged: an engine
    /// that failed or is waiting for disk space, a key longer than its engine stores.
    fn admit<'a>(&self, writes: impl IntoIterator<Item = &'a Write>) -> Result<()> {
        let mut checked: Vec<(KeyspaceId, Option<usize>)> = Vec::new();
        for write in writes {
            let (keyspace, key) = match write {
                Write::CreateKeyspace { .. } => continue,
                Write::Put { keyspace, key, .. } | Write::Delete { keyspace, key } => (*keyspace, key),
            };
            let limit = match checked.iter().find(|(id, _)| *id == keyspace) {
                Some(&(_, limit)) => limit,
                None => {
                    let limit = match self.keyspaces.get(keyspace) {
                        Ok(engine) => {
                            engine.check_writable()?;
                            engine.max_key_len()
                        }
                        // Dropped meanwhile: applying skips it too.
                        Err(crate::TxnError::UnknownKeyspace(_)) => None,
                        Err(e) => return Err(e),
                    };
                    checked.push((keyspace, limit));
                    limit
                }
            };
            // Engines store the key with its version's timestamp after it.
            if let Some(limit) = limit
                && key.len() + version::KEY_SUFFIX > limit
            {
                return Err(phantom_storage::StorageError::TooLarge {
                    what: "key",
                    len: key.len(),
                    limit: limit - version::KEY_SUFFIX,
                }
                .into());
            }
        }
        Ok(())
    }

    /// Makes a commit durable and visible: log it, apply it, advance the watermark.
    pub(crate) fn commit(&self, record: CommitRecord) -> Result<()> {
        let lsn = match &self.wal {
            Some(wal) => {
                if let Err(e) = self.admit(&record.writes) {
                    self.oracle.abandon_commit(record.ts);
                    return Err(e);
                }
                let lsn = match self.lsns.append(wal, &record.encode()) {
                    Ok(lsn) => lsn,
                    Err(e) => {
                        self.oracle.abandon_commit(record.ts);
                        return Err(e);
                    }
                };
                if let Err(e) = wal.flush(lsn) {
                    // The log is in its failed state now; nothing after this LSN will be
                    // checkpointed, so forgetting it cannot make a checkpoint lie.
                    self.lsns.finish(lsn);
                    self.oracle.abandon_commit(record.ts);
                    return Err(e.into());
                }
                lsn
            }
            None => 0,
        };
        // The record is durable now: failing to apply it would leave memory behind the log,
        // so the watermark must still move past it either way.
        let ts = record.ts;
        let applied = apply_record(&self.keyspaces, record, lsn, false);
        let reported = self.settle_applied(applied, &[lsn]);
        self.oracle.finish_commit(ts);
        reported
    }

    /// What a commit whose record is durable reports: success, whatever applying it did
    /// (see the module docs). Its LSNs are marked applied only if it was, so no checkpoint
    /// ever covers a commit the engines lack. Without a log, an apply error is the answer.
    fn settle_applied(&self, applied: Result<()>, lsns: &[Lsn]) -> Result<()> {
        match applied {
            Ok(()) => {
                for &lsn in lsns {
                    self.lsns.finish(lsn);
                }
                Ok(())
            }
            Err(e) if self.wal.is_none() => Err(e),
            Err(e) => {
                tracing::error!(
                    lsn = lsns.last().copied().unwrap_or(0),
                    error = %e,
                    "a commit is in the log but could not be applied; it stays committed and \
                     is applied from the log when the database is reopened"
                );
                Ok(())
            }
        }
    }

    /// Commits a spilled write set at `ts`: logs it in parts, the first of which creates
    /// the keyspaces `creates` names, makes the last durable, then applies it all.
    pub(crate) fn commit_in_parts(
        &self,
        ts: Timestamp,
        creates: Vec<Write>,
        writes: &WriteSet,
    ) -> Result<()> {
        let Some(wal) = &self.wal else {
            // Only on-disk databases spill; an in-memory store has no log to write parts to.
            self.oracle.abandon_commit(ts);
            return Err(crate::TxnError::Unsupported("a spilled write set needs a write-ahead log".into()));
        };
        let mut logged: Vec<Lsn> = Vec::new();
        let mut log = || -> Result<Lsn> {
            let mut part = CommitRecord { ts, writes: creates.clone(), complete: false };
            let mut bytes = 0;
            for item in writes.iter()? {
                let (key, entry) = item?;
                bytes += key.1.len() + entry.value.as_ref().map_or(0, Vec::len) + 8;
                part.writes.push(entry.into_write(key));
                if bytes >= PART_BYTES {
                    self.admit(&part.writes)?;
                    logged.push(self.lsns.append(wal, &part.encode())?);
                    part.writes.clear();
                    bytes = 0;
                }
            }
            part.complete = true;
            self.admit(&part.writes)?;
            let last = self.lsns.append(wal, &part.encode())?;
            logged.push(last);
            wal.flush(last)?;
            Ok(last)
        };
        let last = match log() {
            Ok(last) => last,
            Err(e) => {
                // The parts stay in the log without a final record; recovery discards them.
                for lsn in logged {
                    self.lsns.finish(lsn);
                }
                self.oracle.abandon_commit(ts);
                return Err(e);
            }
        };
        // Every batch is applied under the final record's LSN: the parts' LSNs stay
        // unfinished until all of it is in, so no checkpoint can cover a part alone.
        let apply = || -> Result<()> {
            const BATCH: usize = 16_384;
            let mut batch = CommitRecord { ts, writes: creates, complete: true };
            for item in writes.iter()? {
                let (key, entry) = item?;
                batch.writes.push(entry.into_write(key));
                if batch.writes.len() >= BATCH {
                    let full = std::mem::replace(&mut batch.writes, Vec::with_capacity(BATCH));
                    apply_record(
                        &self.keyspaces,
                        CommitRecord { ts, writes: full, complete: true },
                        last,
                        false,
                    )?;
                }
            }
            apply_record(&self.keyspaces, batch, last, false)
        };
        let applied = apply();
        let reported = self.settle_applied(applied, &logged);
        self.oracle.finish_commit(ts);
        reported
    }

    /// Schedules keyspaces dropped by a commit at `ts`, and removes every scheduled one that
    /// no live snapshot can see any more.
    pub(crate) fn drop_keyspaces_after(&self, dropped: Vec<KeyspaceId>, ts: Timestamp) {
        let mut pending = self.pending_drops.lock();
        pending.extend(dropped.into_iter().map(|id| (id, ts)));
        if pending.is_empty() {
            return;
        }
        let oldest = self.oracle.oldest_snapshot();
        pending.retain(|&(id, dropped_at)| {
            if dropped_at <= oldest {
                self.keyspaces.drop_keyspace(id);
                false
            } else {
                true
            }
        });
    }
}

/// Applies a commit record's versions to the engines, one atomic batch per keyspace.
/// During recovery, engines whose own checkpoint covers `lsn` are skipped.
fn apply_record(keyspaces: &Keyspaces, record: CommitRecord, lsn: Lsn, recovering: bool) -> Result<()> {
    let mut batches: Vec<(KeyspaceId, WriteBatch)> = Vec::new();
    let ts = record.ts;
    // Most records write one keyspace, or mostly one: room for all of them up front
    // spares the big ones a series of regrowths.
    let mut room = record.writes.len();
    for write in record.writes {
        let (keyspace, key, value) = match write {
            Write::CreateKeyspace { keyspace, kind } => {
                keyspaces.create(keyspace, kind)?;
                continue;
            }
            Write::Put { keyspace, key, value } => (keyspace, key, Some(value)),
            Write::Delete { keyspace, key } => (keyspace, key, None),
        };
        let batch = match batches.last_mut() {
            Some((id, batch)) if *id == keyspace => batch,
            _ => {
                batches.push((keyspace, WriteBatch::with_capacity(std::mem::take(&mut room))));
                &mut batches.last_mut().expect("just pushed").1
            }
        };
        batch.put(version::into_key(key, ts), version::into_value(value));
    }
    for (keyspace, batch) in batches {
        keyspaces.note_written(keyspace, batch.len() as u64);
        match keyspaces.get(keyspace) {
            Ok(engine) if recovering && engine.persisted_lsn() >= lsn => {}
            Ok(engine) => engine.apply(batch, lsn)?,
            // The keyspace was dropped after this record was written (its drop committed
            // and its data was discarded): there is nothing left to apply to.
            Err(crate::TxnError::UnknownKeyspace(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Deletes every version at timestamp `ts` from the keyspaces `written` (the parts of a
/// commit whose final record never reached the log). Returns how many it removed.
fn discard_versions(
    keyspaces: &Keyspaces,
    ts: Timestamp,
    written: &HashSet<KeyspaceId>,
    lsn: Lsn,
) -> Result<u64> {
    let mut removed = 0;
    for &id in written {
        let Ok(engine) = keyspaces.get(id) else { continue };
        let mut doomed = WriteBatch::new();
        for entry in engine.scan((std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)) {
            let (key, _) = entry?;
            if version::decode_key(&key)?.1 == ts {
                doomed.delete(key);
            }
        }
        removed += doomed.len() as u64;
        if !doomed.is_empty() {
            engine.apply(doomed, lsn)?;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key the B+tree cannot store is refused before the commit is logged: before, the
    /// record reached the log, the apply failed, and every later open failed replaying it.
    #[test]
    fn a_key_too_long_for_its_engine_is_refused_before_it_is_logged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ks = {
            let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("open");
            let txn = store.begin();
            let ks = txn.create_keyspace(None).expect("create").0;
            txn.put(ks, b"short", b"1".to_vec()).expect("put");
            txn.commit().expect("commit");
            let txn = store.begin();
            txn.put(ks, &vec![b'k'; 3000], b"2".to_vec()).expect("put");
            let error = txn.commit().expect_err("too long");
            assert!(
                matches!(error, crate::TxnError::Storage(phantom_storage::StorageError::TooLarge { .. })),
                "{error}"
            );
            let after = store.begin();
            after.put(ks, b"later", b"3".to_vec()).expect("put");
            after.commit().expect("later commits go on");
            ks
        };
        let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("reopen");
        let txn = store.begin();
        assert_eq!(txn.get(ks, &vec![b'k'; 3000]).expect("get"), None);
        assert_eq!(txn.get(ks, b"later").expect("get"), Some(b"3".to_vec()));
    }

    /// A crash between the parts of a commit and its final record: recovery applies the
    /// parts it finds, then removes them, and never hands their timestamp out again.
    #[test]
    fn recovery_discards_a_commit_whose_final_record_never_came() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ks, orphan_ts) = {
            let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("open");
            let txn = store.begin();
            let ks = txn.create_keyspace(None).expect("create").0;
            txn.put(ks, b"kept", b"1".to_vec()).expect("put");
            txn.commit().expect("commit");
            let shared = &store.shared;
            let ts = shared.oracle.begin_commit();
            let part = CommitRecord {
                ts,
                writes: vec![
                    Write::Put { keyspace: ks, key: b"kept".to_vec(), value: b"2".to_vec() },
                    Write::Put { keyspace: ks, key: b"lost".to_vec(), value: b"2".to_vec() },
                ],
                complete: false,
            };
            let wal = shared.wal.as_ref().expect("wal");
            // Appended and never finished: the checkpoint at close stays below it, as a
            // crash would leave it.
            let lsn = shared.lsns.append(wal, &part.encode()).expect("append");
            wal.flush(lsn).expect("flush");
            shared.oracle.abandon_commit(ts);
            (ks, ts)
        };
        let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("reopen");
        let txn = store.begin();
        assert_eq!(txn.get(ks, b"kept").expect("get"), Some(b"1".to_vec()));
        assert_eq!(txn.get(ks, b"lost").expect("get"), None);
        let engine = store.shared.keyspaces.get(ks).expect("keyspace");
        for entry in engine.scan((std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)) {
            let (key, _) = entry.expect("entry");
            assert_ne!(
                version::decode_key(&key).expect("version").1,
                orphan_ts,
                "a version of the orphan remains"
            );
        }
        txn.commit().expect("commit");
        let next = store.begin();
        next.put(ks, b"new", b"3".to_vec()).expect("put");
        assert!(next.commit().expect("commit") > orphan_ts, "the orphan's timestamp is not reused");
    }
}
