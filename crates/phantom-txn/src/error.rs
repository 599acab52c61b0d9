//! Errors of the transaction layer.

use phantom_storage::StorageError;

use crate::KeyspaceId;

/// A transaction-layer result.
pub type Result<T> = std::result::Result<T, TxnError>;

/// What can go wrong in a transaction.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// A storage error underneath.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Another transaction wrote the same key concurrently, or committed a newer version
    /// after this transaction's snapshot was taken. Retrying the transaction may succeed.
    #[error("could not serialize access due to concurrent update")]
    WriteConflict,
    /// SERIALIZABLE found a dangerous structure of read/write dependencies (SSI).
    #[error("{0}")]
    Serialization(String),
    /// Waiting for a lock would close a cycle, and this transaction was chosen to abort.
    #[error("{0}")]
    Deadlock(String),
    /// A lock was not granted within `lock_timeout`.
    #[error("canceling statement due to lock timeout")]
    LockTimeout,
    /// A lock wait was ended by the cancel flag (the SQL session's interrupt).
    #[error("canceling statement due to user request")]
    Canceled,
    /// The write set outgrew its limit.
    #[error("transaction write set exceeds its limit of {limit} bytes")]
    WriteSetTooLarge { limit: usize },
    /// A broken invariant of the transaction layer (a bug).
    #[error("internal error: {0}")]
    Internal(String),
    /// The transaction already committed or rolled back.
    #[error("the transaction is no longer active")]
    NotActive,
    /// A keyspace that does not exist (a table or index dropped concurrently).
    #[error("keyspace {0} does not exist")]
    UnknownKeyspace(KeyspaceId),
    /// A request this database cannot serve (e.g. an engine it does not offer).
    #[error("{0}")]
    Unsupported(String),
}
