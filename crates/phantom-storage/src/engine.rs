//! The `Engine` trait: an ordered key-value store of byte strings.
//!
//! An engine holds one keyspace (a table or an index). Keys are ordered bytewise, which is
//! why the layers above encode typed keys with [`crate::keycode`]. An engine only ever holds
//! committed data: the transaction layer buffers writes and applies a transaction's whole
//! write set as one [`WriteBatch`] after it is durable in the WAL. That keeps engines simple
//! (no undo, no visibility rules) and makes recovery redo-only.
//!
//! Scans need not be snapshots. The transaction layer stores immutable versions under
//! `(key, commit timestamp)` and ignores versions newer than its snapshot, so a scan that
//! sees some writes applied after it started still yields a consistent answer upstairs.
//! This lets engines hand out scans that do not pin any lock for their whole lifetime.

use std::fmt::Debug;
use std::ops::Bound;

use crate::Result;
use crate::wal::Lsn;

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// An iterator over a key range, usable from both ends.
pub type ScanIterator = Box<dyn DoubleEndedIterator<Item = Result<KeyValue>> + Send>;

/// One write in a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Set `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Remove `key` (a no-op if absent).
    Delete(Vec<u8>),
}

/// Writes applied atomically, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The writes, applied in this order.
    pub ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `n` writes.
    pub fn with_capacity(n: usize) -> Self {
        WriteBatch { ops: Vec::with_capacity(n) }
    }

    /// Adds a put.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(WriteOp::Put(key, value));
    }

    /// Adds a delete.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push(WriteOp::Delete(key));
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when there are no writes.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Counters an engine reports about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// The engine's name, e.g. "memory" or "btree".
    pub kind: &'static str,
    /// Number of keys stored (all versions; the engine does not know about MVCC).
    pub keys: u64,
    /// Bytes of keys and values stored.
    pub live_bytes: u64,
    /// Bytes the engine occupies on disk (0 for an in-memory engine).
    pub disk_bytes: u64,
}

/// What an on-disk engine's files say they hold, read when it is opened: the log position
/// its last durable checkpoint covers, where that is written, and any damage it had to
/// step around to find it. Recovery (in `phantom-txn`'s store) checks this against the
/// log and the database's checkpoint manifest, because only they can tell whether an
/// older checkpoint can still be brought forward; the engine alone cannot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryPoint {
    /// Every log record at or below this LSN is in the files (0: none is, the engine has
    /// never completed a checkpoint).
    pub covered_lsn: Lsn,
    /// The file that records it (a B+tree's file, an LSM tree's `MANIFEST`).
    pub path: std::path::PathBuf,
    /// Byte offset in that file of what recorded it, or of the damage when there is some.
    pub offset: u64,
    /// Where the covered position comes from, for messages: "header slot 1 (checkpoint 7)".
    pub source: String,
    /// Damage found and stepped around while opening, e.g. "header slot 0 fails its
    /// checksum": the engine fell back to an older durable state, which is sound only if
    /// the log still holds everything after `covered_lsn`.
    pub damage: Option<String>,
}

/// An ordered key-value store of byte strings. All methods take `&self`: engines do their
/// own locking so that many readers can run while one batch is applied.
pub trait Engine: Send + Sync + Debug {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Entries with keys in `range`, in key order (and in reverse with `next_back`).
    fn scan(&self, range: (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> ScanIterator;

    /// Applies `batch` atomically: readers see all of it or none of it. `lsn` is the WAL
    /// position of the record that carries the batch. The batch is moved in, so engines
    /// can keep its keys and values without copying them.
    fn apply(&self, batch: WriteBatch, lsn: Lsn) -> Result<()>;

    /// Makes everything applied so far durable in the engine's own files. The caller
    /// promises that every batch with an LSN at or below `upto` has been applied; the
    /// engine records `upto` as covered, so those log records need not be replayed. (Batches
    /// above `upto` may be in the checkpoint too: replaying them again must be harmless,
    /// which holds because the layer above only writes immutable versions.)
    fn checkpoint(&self, upto: Lsn) -> Result<()>;

    /// The highest LSN whose batch is durable in the engine's own files (0 if none, which
    /// is always the case for an in-memory engine).
    fn persisted_lsn(&self) -> Lsn;

    /// Statistics for inspection.
    fn stats(&self) -> EngineStats;

    /// Whether the engine can take another batch now. Asked *before* a commit is logged,
    /// so that a commit the engine would refuse, or could only take by piling up more
    /// than it can write (a full disk), is refused without reaching the log: once logged,
    /// a commit is durable and its batch must be applied. `Err` when the engine has
    /// failed (it refuses changes until reopened) or is waiting for space.
    fn check_writable(&self) -> Result<()> {
        Ok(())
    }

    /// The longest key the engine stores, if it has a limit; checked before logging too.
    fn max_key_len(&self) -> Option<usize> {
        None
    }
}
