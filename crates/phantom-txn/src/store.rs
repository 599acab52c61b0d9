//! The MVCC store: keyspaces, the write-ahead log, the oracle, and recovery.
//!
//! A data directory looks like this:
//!
//! ```text
//!   DIR/LOCK        held with an OS file lock while the database is open
//!   DIR/wal/*.wal   the write-ahead log (see phantom_storage::wal)
//! ```
//!
//! Opening replays every commit record of the log into the engines. With in-memory engines
//! that is the whole database; engines with their own files (B+tree, LSM) will skip records
//! their checkpoint already covers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use phantom_storage::dirlock::DirLock;
use phantom_storage::wal::{Lsn, SyncMode, Wal, WalOptions};
use phantom_storage::{EngineStats, WriteBatch};

use crate::intents::{Intents, TxnId};
use crate::keyspace::{CATALOG_KEYSPACE, KeyspaceId, Keyspaces};
use crate::oracle::Oracle;
use crate::record::{CommitRecord, Write};
use crate::transaction::Transaction;
use crate::{Result, Timestamp, version};

/// How to open a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// When commits wait for fsync.
    pub sync: SyncMode,
    /// Size at which the log starts a new segment file.
    pub wal_segment_size: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        let wal = WalOptions::default();
        StoreOptions { sync: wal.sync, wal_segment_size: wal.segment_size }
    }
}

/// State shared by the store and every transaction.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) keyspaces: Keyspaces,
    pub(crate) oracle: Oracle,
    pub(crate) intents: Intents,
    pub(crate) wal: Option<Wal>,
    next_txn_id: AtomicU64,
    /// Keyspaces dropped by committed transactions, with the commit timestamp: they are
    /// removed once no snapshot older than that timestamp is live.
    pending_drops: Mutex<Vec<(KeyspaceId, Timestamp)>>,
    path: Option<PathBuf>,
    _lock: Option<DirLock>,
}

/// A transactional, multi-version key-value store over many keyspaces.
#[derive(Clone, Debug)]
pub struct MvccStore {
    shared: Arc<Shared>,
}

impl MvccStore {
    /// Opens (or creates) the database in `dir` and recovers it from its log.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<MvccStore> {
        let lock = DirLock::acquire(dir)?;
        let keyspaces = Keyspaces::new();
        let mut last_ts: Timestamp = 0;
        let wal_options = WalOptions { segment_size: options.wal_segment_size, sync: options.sync };
        let mut replay = |lsn: Lsn, payload: &[u8]| -> phantom_storage::Result<()> {
            let record = CommitRecord::decode(payload).map_err(|e| match e {
                crate::TxnError::Storage(s) => s,
                other => phantom_storage::StorageError::Corrupt {
                    path: dir.join("wal"),
                    offset: 0,
                    reason: format!("record {lsn}: {other}"),
                },
            })?;
            last_ts = last_ts.max(record.ts);
            apply_record(&keyspaces, &record, lsn).map_err(|e| match e {
                crate::TxnError::Storage(s) => s,
                other => phantom_storage::StorageError::Corrupt {
                    path: dir.join("wal"),
                    offset: 0,
                    reason: format!("record {lsn}: {other}"),
                },
            })
        };
        let wal = Wal::open(&dir.join("wal"), wal_options, 0, &mut replay)?;
        tracing::info!(dir = %dir.display(), last_lsn = wal.last_lsn(), last_ts, "recovered database");
        Ok(MvccStore::from_parts(keyspaces, last_ts, Some(wal), Some(dir.to_path_buf()), Some(lock)))
    }

    /// A store that lives in memory only and is gone when dropped.
    pub fn memory() -> MvccStore {
        MvccStore::from_parts(Keyspaces::new(), 0, None, None, None)
    }

    fn from_parts(
        keyspaces: Keyspaces,
        last_ts: Timestamp,
        wal: Option<Wal>,
        path: Option<PathBuf>,
        lock: Option<DirLock>,
    ) -> MvccStore {
        MvccStore {
            shared: Arc::new(Shared {
                keyspaces,
                oracle: Oracle::new(last_ts),
                intents: Intents::new(),
                wal,
                next_txn_id: AtomicU64::new(1),
                pending_drops: Mutex::new(Vec::new()),
                path,
                _lock: lock,
            }),
        }
    }

    /// Starts a read-write transaction with a snapshot of everything committed so far.
    pub fn begin(&self) -> Transaction {
        let id = self.shared.next_txn_id.fetch_add(1, Ordering::Relaxed);
        Transaction::new(self.shared.clone(), id)
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

    /// Total bytes of log segment files (0 for an in-memory store).
    pub fn wal_size(&self) -> u64 {
        self.shared.wal.as_ref().map_or(0, Wal::size_bytes)
    }

    /// The newest visible commit timestamp.
    pub fn watermark(&self) -> Timestamp {
        self.shared.oracle.watermark()
    }
}

impl Shared {
    pub(crate) fn next_txn_id(&self) -> TxnId {
        self.next_txn_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes a commit durable and visible: log it, apply it, advance the watermark.
    pub(crate) fn commit(&self, record: &CommitRecord) -> Result<()> {
        let lsn = match &self.wal {
            Some(wal) => {
                let lsn = wal.append(&record.encode());
                let lsn = lsn.and_then(|lsn| wal.flush(lsn).map(|()| lsn));
                match lsn {
                    Ok(lsn) => lsn,
                    Err(e) => {
                        self.oracle.abandon_commit(record.ts);
                        return Err(e.into());
                    }
                }
            }
            None => 0,
        };
        // The record is durable now: failing to apply it would leave memory behind the log,
        // so the watermark must still move past it either way.
        let applied = apply_record(&self.keyspaces, record, lsn);
        self.oracle.finish_commit(record.ts);
        applied
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
fn apply_record(keyspaces: &Keyspaces, record: &CommitRecord, lsn: Lsn) -> Result<()> {
    let mut batches: Vec<(KeyspaceId, WriteBatch)> = Vec::new();
    for write in &record.writes {
        let (keyspace, key, value) = match write {
            Write::CreateKeyspace { keyspace, kind } => {
                keyspaces.create(*keyspace, *kind);
                continue;
            }
            Write::Put { keyspace, key, value } => (*keyspace, key, Some(value.as_slice())),
            Write::Delete { keyspace, key } => (*keyspace, key, None),
        };
        let batch = match batches.last_mut() {
            Some((id, batch)) if *id == keyspace => batch,
            _ => {
                batches.push((keyspace, WriteBatch::new()));
                &mut batches.last_mut().expect("just pushed").1
            }
        };
        batch.put(version::encode_key(key, record.ts), version::encode_value(value));
    }
    for (keyspace, batch) in batches {
        match keyspaces.get(keyspace) {
            Ok(engine) => engine.apply(&batch, lsn)?,
            // The keyspace was dropped after this record was written (its drop committed
            // and its data was discarded): there is nothing left to apply to.
            Err(crate::TxnError::UnknownKeyspace(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
