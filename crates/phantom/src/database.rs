//! Opening a database.

use std::path::Path;
use std::sync::Arc;

use phantom_sql::Instance;
use phantom_storage::SyncMode;
use phantom_txn::{CheckpointOptions, RecoveryReport, StoreOptions};

use crate::{Result, Role, Session};

/// How to open a database.
#[derive(Clone, Debug)]
pub struct Options {
    /// When COMMIT waits for the disk: `Full` (the default) fsyncs the write-ahead log
    /// before COMMIT returns, so a commit survives power loss.
    pub synchronous: SyncMode,
    /// Size at which the write-ahead log starts a new segment file.
    pub wal_segment_size: u64,
    /// Memory for cached table and index pages (B+trees), shared by all of them.
    pub buffer_pool_size: usize,
    /// Memory for cached blocks of LSM tables, shared by all of them.
    pub block_cache_size: usize,
    /// A checkpoint runs after the write-ahead log has grown by this many bytes; after it,
    /// the log segments it covers are removed.
    pub checkpoint_wal_bytes: u64,
    /// When set, log segments are copied here before they are removed (for backups).
    pub wal_archive_dir: Option<std::path::PathBuf>,
    /// Open even though the write-ahead log is damaged: damaged records every table file
    /// already holds are skipped; otherwise the log is cut at the first damaged record,
    /// losing the transactions committed after it (the cut bytes are kept next to the
    /// segment, as `<segment>.discarded`). Without it, a damaged log is an error (XX001).
    /// See [`Database::recovery`] for what was done.
    pub salvage_wal: bool,
}

impl Default for Options {
    fn default() -> Self {
        let store = StoreOptions::default();
        Options {
            synchronous: store.sync,
            wal_segment_size: store.wal_segment_size,
            buffer_pool_size: store.buffer_pool_size,
            block_cache_size: store.block_cache_size,
            checkpoint_wal_bytes: store.checkpoint.wal_bytes,
            wal_archive_dir: store.checkpoint.archive_dir,
            salvage_wal: store.salvage_wal,
        }
    }
}

/// An open database. Clone it freely and share it across threads; each thread works
/// through its own [`Session`].
#[derive(Clone)]
pub struct Database {
    instance: Arc<Instance>,
}

impl Database {
    /// Opens the database in directory `path`, creating it if needed. Every transaction
    /// committed before the last shutdown or crash is recovered.
    ///
    /// Fails if another process has the directory open.
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Database::open_with(path, Options::default())
    }

    /// Opens with explicit options.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Database> {
        let store = StoreOptions {
            sync: options.synchronous,
            wal_segment_size: options.wal_segment_size,
            buffer_pool_size: options.buffer_pool_size,
            block_cache_size: options.block_cache_size,
            checkpoint: CheckpointOptions {
                wal_bytes: options.checkpoint_wal_bytes,
                archive_dir: options.wal_archive_dir,
                ..CheckpointOptions::default()
            },
            salvage_wal: options.salvage_wal,
        };
        Ok(Database { instance: Instance::open(path.as_ref(), store)? })
    }

    /// What recovery did when the database was opened that a user should hear about: a
    /// torn log tail cut off, what a salvage skipped or cut, damage it could step around.
    /// [`RecoveryReport::notes`] has one line for each.
    pub fn recovery(&self) -> &RecoveryReport {
        self.instance.store.recovery_report()
    }

    /// A throwaway database in memory.
    pub fn memory() -> Database {
        Database { instance: Instance::memory() }
    }

    /// Opens `path`, or an in-memory database for the special name `:memory:`.
    pub fn open_path_or_memory(path: &str) -> Result<Database> {
        if path == ":memory:" { Ok(Database::memory()) } else { Database::open(path) }
    }

    /// Runs a checkpoint now: table files catch up with the write-ahead log, and log
    /// segments they cover are removed. Checkpoints also run on their own in the
    /// background and when the database is closed; this is for tests and tools.
    pub fn checkpoint(&self) -> Result<()> {
        self.instance.store.checkpoint().map(drop).map_err(Into::into)
    }

    /// The role called `name`, if there is one: what the server checks a login against.
    /// Its password, if any, is a SCRAM-SHA-256 verifier (see [`crate::scram`]).
    pub fn role(&self, name: &str) -> Result<Option<Role>> {
        self.instance.role(name)
    }

    /// Starts a session.
    pub fn session(&self) -> Session {
        Session::new(phantom_sql::Session::new(self.instance.clone()))
    }
}
