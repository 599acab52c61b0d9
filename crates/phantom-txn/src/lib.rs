//! # phantom-txn: multi-version concurrency control over the storage engines
//!
//! This layer turns engines that hold plain key-value pairs into a transactional store.
//!
//! ## Versions
//!
//! Every committed write is stored as a new *version* under `(user key, commit timestamp)`
//! (see [`version`]). A delete is a version too (a tombstone). Versions are immutable, so a
//! reader never needs a lock: it picks, for each key, the newest version at or below its
//! snapshot timestamp.
//!
//! ```text
//!   key "a":  ts 9 -> "a3"    <- a snapshot at 12 sees "a3"
//!             ts 5 -> "a2"    <- a snapshot at 7 sees "a2"
//!             ts 2 -> "a1"
//!   key "b":  ts 8 -> (tombstone)  <- invisible from 8 on
//!             ts 3 -> "b1"
//! ```
//!
//! ## Transactions
//!
//! A [`Transaction`] buffers its writes (its *write set*, in memory until it grows big, then
//! spilled to a scratch file) and reads through it, so it sees its own writes. At commit it
//! takes a commit timestamp from the [`oracle`], appends one [`record::CommitRecord`] with
//! the whole write set to the write-ahead log (several, for a spilled one), waits until
//! the log is durable (group commit shares one fsync among concurrent committers), applies
//! the versions to the engines, and only then lets new snapshots see its timestamp (the
//! *visibility watermark*). Engines therefore only ever hold committed data, rollback is
//! dropping the write set, and recovery is redo-only: replay every commit record.
//!
//! ## Conflicts and isolation
//!
//! Two transactions may not write the same key concurrently: a writer takes an exclusive
//! row lock ([`locks`]) and holds it until its versions are applied, so a second writer
//! waits (deadlocks are detected when a wait starts). Row locks sit under intention locks
//! on their keyspace, and a transaction that locks many rows of one keyspace escalates to
//! a lock on the whole keyspace, so bulk writes do not hold a lock per row. What happens once it gets the lock
//! depends on the isolation level: READ COMMITTED goes on with the newest version, the
//! snapshot levels fail with 40001 if a version newer than their snapshot was committed
//! (first committer wins). REPEATABLE READ adds shared locks on rows read; SERIALIZABLE
//! adds rw-conflict tracking ([`ssi`]). The table of levels is in [`transaction`].
//!
//! ## Statements inside a transaction
//!
//! Each write records the *command id* of the statement that made it. Reads see the
//! transaction's writes from earlier statements only, so `INSERT INTO t SELECT * FROM t`
//! reads the table as it was when the statement started, while uniqueness checks
//! ([`Transaction::get_for_update`]) see every write, including the current statement's.

mod catalog_cache;
pub mod checkpoint;
pub mod error;
pub mod gc;
pub mod keyspace;
pub mod locks;
pub mod oracle;
pub mod periodic;
pub mod record;
mod recovery;
pub mod ssi;
pub mod store;
pub mod transaction;
pub mod version;
mod write_set;

pub use checkpoint::{CheckpointOptions, CheckpointStats};
pub use error::{Result, TxnError};
pub use gc::VacuumStats;
pub use keyspace::{EngineKind, KeyspaceId};
pub use locks::{LockMode, TxnId};
pub use phantom_storage::lsm::Compaction;
pub use store::{MvccStore, RecoveryReport, StorageStats, StoreOptions, default_buffer_pool_size};
pub use transaction::{Isolation, RowLock, Savepoint, Scan, Transaction, TxnOptions};

/// A commit timestamp. Timestamps start at 1; a snapshot at `ts` sees every commit whose
/// timestamp is at or below `ts`.
pub type Timestamp = u64;
