//! Errors of the storage layer.
//!
//! Each variant says what failed and where (a file path, an offset), because a user who
//! sees a storage error usually has to act on a specific file.
//!
//! A full disk (ENOSPC, or a full quota) is its own variant, [`StorageError::DiskFull`],
//! made by [`StorageError::io`] from the operating system's error: it is the one I/O
//! failure that is expected to pass, so the writers that meet it retry later (see
//! [`crate::retry`]) instead of giving up on the file, and the SQL layer reports it as
//! PostgreSQL does (53100).

use std::path::PathBuf;

/// A storage-layer result.
pub type Result<T> = std::result::Result<T, StorageError>;

/// What can go wrong below the transaction layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An operating-system I/O error on a named file or directory.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Data on disk failed a checksum or structural check.
    #[error("corrupt data in {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The file that holds the bad data.
        path: PathBuf,
        /// Byte offset of the bad data within the file.
        offset: u64,
        /// What check failed.
        reason: String,
    },
    /// No space is left on the device (or in the quota) for a write to `path`. Nothing
    /// durable was lost: the write can be made again once space is freed.
    #[error("could not extend file \"{}\": No space left on device", path.display())]
    DiskFull {
        /// The file that could not grow.
        path: PathBuf,
    },
    /// Another process holds the data directory.
    #[error("the data directory {0} is in use by another process (it holds the lock on its LOCK file)")]
    Locked(PathBuf),
    /// The write-ahead log failed to persist data earlier; the database no longer accepts
    /// writes, because it can no longer promise that a commit is durable.
    #[error(
        "the write-ahead log is in a failed state after an earlier error ({0}); the database is read-only until it is reopened"
    )]
    WalFailed(String),
    /// Writing an engine's file failed earlier; the engine refuses changes until the
    /// database is reopened and recovered from the log.
    #[error("{path} failed earlier ({reason}); the database is read-only until it is reopened")]
    Failed {
        /// The engine's file.
        path: PathBuf,
        /// The first error.
        reason: String,
    },
    /// A key or value is larger than the storage format allows.
    #[error("{what} of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// "key" or "value" or "record".
        what: &'static str,
        /// The size that was asked for.
        len: usize,
        /// The largest size allowed.
        limit: usize,
    },
}

impl StorageError {
    /// Wraps an I/O error with the path it happened on; a full disk becomes
    /// [`StorageError::DiskFull`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        if is_out_of_space(&source) {
            StorageError::DiskFull { path: path.into() }
        } else {
            StorageError::Io { path: path.into(), source }
        }
    }

    /// True for a full disk or quota.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StorageError::DiskFull { .. })
    }

    /// True for a failed read or write of a file (a full disk included): an operation
    /// that may succeed when tried again, unlike damage or a broken promise of durability.
    pub fn is_io(&self) -> bool {
        matches!(self, StorageError::Io { .. } | StorageError::DiskFull { .. })
    }
}

/// True if the operating system said the device or the user's quota is full.
pub fn is_out_of_space(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
}
