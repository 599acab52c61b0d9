//! # phantom-storage: the bottom layer of Phantom-DB
//!
//! Everything that touches bytes on disk lives here, and nothing here knows about
//! transactions or SQL:
//!
//! - [`engine`]: the [`Engine`] trait, an ordered map of byte strings with range scans in
//!   both directions and atomic write batches. Every table and index is one engine
//!   instance ("keyspace"). [`memory::Memory`] is the in-memory implementation.
//! - [`btree`]: the B+tree engine: one file per tree, pages cached in a shared
//!   [`btree::BufferPool`], copy-on-write checkpoints.
//! - [`lsm`]: the LSM-tree engine: memtable, table files with bloom filters, a manifest,
//!   leveled or size-tiered compaction in the background, a shared block cache.
//! - [`keycode`]: an order-preserving encoding of typed values, so that composite keys
//!   compare correctly as plain bytes.
//! - [`wal`]: the write-ahead log shared by the whole database: segment files of
//!   CRC32C-framed records, group commit, and recovery that cuts off a torn tail but
//!   refuses damage (or salvages it, when asked).
//! - [`dirlock`]: the OS file lock that keeps a second process out of a data directory.
//! - [`faults`]: injected I/O faults for tests.
//! - [`retry`]: backoff and once-per-change logging for writes that failed on a full disk.
//!
//! The layers above (MVCC in `phantom-txn`, the catalog and executors in `phantom-sql`)
//! only ever see byte keys and byte values.

pub mod btree;
pub mod chunked;
pub mod dirlock;
pub mod engine;
pub mod error;
pub mod faults;
pub mod keycode;
pub mod lsm;
pub mod memory;
pub mod retry;
pub mod varint;
pub mod wal;

pub use btree::{BTree, BufferPool};
pub use engine::{Engine, EngineStats, KeyValue, RecoveryPoint, ScanIterator, WriteBatch, WriteOp};
pub use error::{Result, StorageError};
pub use lsm::Lsm;
pub use memory::Memory;
pub use wal::{Lsn, SyncMode, Wal, WalOptions};
