//! Keyspaces: the engines that hold tables and indexes, by id.
//!
//! Every table and index has its own keyspace, so each can choose its engine and be dropped
//! without touching the others. Keyspace 0 holds the catalog.
//!
//! An in-memory database keeps every keyspace in the memory engine. An on-disk database
//! keeps each keyspace under `DIR/data/`: a B+tree in a file `ks-<id>.btree` (all trees
//! share one buffer pool), an LSM tree in a directory `ks-<id>.lsm` (all share one block
//! cache). A file's or directory's existence is what makes a keyspace exist after a
//! restart.
//! Ids are never reused: the checkpoint manifest remembers the next free id, and recovery
//! continues after the highest id it sees in the log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use parking_lot::RwLock;
use phantom_storage::btree::BufferPool;
use phantom_storage::lsm::{BlockCache, Compaction, LsmOptions};
use phantom_storage::{BTree, Engine, Lsm, Memory, RecoveryPoint, StorageError};

use crate::{Result, Timestamp, TxnError};

/// Identifies a keyspace.
pub type KeyspaceId = u32;

/// The keyspace of the system catalog.
pub const CATALOG_KEYSPACE: KeyspaceId = 0;

/// Which engine a keyspace uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// The in-memory engine (in-memory databases).
    Memory,
    /// The B+tree engine (the default on disk).
    BTree,
    /// The LSM-tree engine, with its compaction strategy.
    Lsm(Compaction),
}

impl EngineKind {
    /// The tag stored in commit records.
    pub fn tag(self) -> u8 {
        match self {
            EngineKind::Memory => 0,
            EngineKind::BTree => 1,
            EngineKind::Lsm(Compaction::Leveled) => 2,
            EngineKind::Lsm(Compaction::Tiered) => 3,
        }
    }

    /// The kind for a tag from a commit record.
    pub fn from_tag(tag: u8) -> Option<EngineKind> {
        match tag {
            0 => Some(EngineKind::Memory),
            1 => Some(EngineKind::BTree),
            2 => Some(EngineKind::Lsm(Compaction::Leveled)),
            3 => Some(EngineKind::Lsm(Compaction::Tiered)),
            _ => None,
        }
    }

    /// The name users write, e.g. in `WITH (engine = 'btree')`.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Memory => "memory",
            EngineKind::BTree => "btree",
            EngineKind::Lsm(_) => "lsm",
        }
    }

    /// How `\d` and the statistics describe it, e.g. "lsm (tiered)".
    pub fn description(self) -> String {
        match self {
            EngineKind::Lsm(Compaction::Leveled) => "lsm (leveled)".into(),
            EngineKind::Lsm(Compaction::Tiered) => "lsm (tiered)".into(),
            other => other.name().into(),
        }
    }

    /// The kind [`EngineKind::description`] describes.
    pub fn from_description(text: &str) -> Option<EngineKind> {
        match text {
            "lsm (leveled)" => Some(EngineKind::Lsm(Compaction::Leveled)),
            "lsm (tiered)" => Some(EngineKind::Lsm(Compaction::Tiered)),
            other => EngineKind::from_name(other),
        }
    }

    /// The kind for a user-written engine name (an LSM tree compacts leveled unless
    /// told otherwise).
    pub fn from_name(name: &str) -> Option<EngineKind> {
        match name.to_ascii_lowercase().as_str() {
            "memory" => Some(EngineKind::Memory),
            "btree" | "b+tree" => Some(EngineKind::BTree),
            "lsm" => Some(EngineKind::Lsm(Compaction::Leveled)),
            _ => None,
        }
    }
}

/// A keyspace as garbage collection sees it.
pub struct VacuumCandidate {
    pub id: KeyspaceId,
    pub engine: Arc<dyn Engine>,
    pub kind: EngineKind,
    /// Versions written since the last vacuum; the collector subtracts what it covered.
    pub written: Arc<AtomicU64>,
}

/// An open keyspace.
#[derive(Clone, Debug)]
struct Keyspace {
    engine: Arc<dyn Engine>,
    kind: EngineKind,
    /// Versions written since the last vacuum (see [`crate::gc`]).
    written: Arc<AtomicU64>,
    /// Set for on-disk keyspaces: their file or directory.
    files: Option<Files>,
}

impl Keyspace {
    fn new(engine: Arc<dyn Engine>, kind: EngineKind, files: Option<Files>) -> Keyspace {
        Keyspace { engine, kind, files, written: Arc::new(AtomicU64::new(0)) }
    }
}

/// Where an on-disk keyspace keeps its data.
#[derive(Clone, Debug)]
enum Files {
    BTree(BTree, PathBuf),
    Lsm(Lsm, PathBuf),
}

/// Where the keyspaces of an on-disk database live.
#[derive(Debug)]
struct Disk {
    dir: PathBuf,
    pool: Arc<BufferPool>,
    cache: Arc<BlockCache>,
}

/// The set of open keyspaces.
#[derive(Debug)]
pub struct Keyspaces {
    engines: RwLock<HashMap<KeyspaceId, Keyspace>>,
    next_id: AtomicU32,
    disk: Option<Disk>,
    /// The garbage-collection horizon LSM compactions use (see [`crate::gc`]).
    horizon: Arc<AtomicU64>,
}

/// The file (B+tree) or directory (LSM tree) of keyspace `id`.
fn file_name(id: KeyspaceId, kind: EngineKind) -> String {
    match kind {
        EngineKind::Lsm(_) => format!("ks-{id:08}.lsm"),
        _ => format!("ks-{id:08}.btree"),
    }
}

/// Runs `open` on a keyspace's file or directory at `path`; if that fails and `path` did
/// not exist before (a new keyspace on a full disk, say), removes what it left, so a
/// failed CREATE TABLE leaves no file that a restart would take for a table.
fn undo_creation_on_error<T>(
    path: &Path,
    open: impl FnOnce() -> phantom_storage::Result<T>,
) -> phantom_storage::Result<T> {
    let existed = path.exists();
    let opened = open();
    if opened.is_err() && !existed {
        let _ = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    }
    opened
}

impl Keyspaces {
    /// Keyspaces of an in-memory database, holding only the (empty) catalog.
    pub fn memory() -> Keyspaces {
        let keyspaces = Keyspaces {
            engines: RwLock::new(HashMap::new()),
            next_id: AtomicU32::new(1),
            disk: None,
            horizon: Arc::new(AtomicU64::new(0)),
        };
        let catalog = Keyspace::new(Arc::new(Memory::new()), EngineKind::Memory, None);
        keyspaces.engines.write().insert(CATALOG_KEYSPACE, catalog);
        keyspaces
    }

    /// Keyspaces of an on-disk database: opens every keyspace file in `dir` (creating the
    /// directory and the catalog's file if needed).
    pub fn open(dir: &Path, pool: Arc<BufferPool>, cache: Arc<BlockCache>) -> Result<Keyspaces> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let keyspaces = Keyspaces {
            engines: RwLock::new(HashMap::new()),
            next_id: AtomicU32::new(1),
            disk: Some(Disk { dir: dir.to_path_buf(), pool, cache }),
            horizon: Arc::new(AtomicU64::new(0)),
        };
        let entries = std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StorageError::io(dir, e))?;
            let name = entry.file_name();
            let Some((id, kind)) = name.to_str().and_then(|n| n.strip_prefix("ks-")).and_then(|n| {
                let (id, kind) = if let Some(id) = n.strip_suffix(".btree") {
                    (id, EngineKind::BTree)
                } else {
                    // The tree's manifest knows its real compaction strategy.
                    (n.strip_suffix(".lsm")?, EngineKind::Lsm(Compaction::Leveled))
                };
                Some((id.parse::<KeyspaceId>().ok()?, kind))
            }) else {
                continue;
            };
            keyspaces.create(id, kind)?;
        }
        keyspaces.create(CATALOG_KEYSPACE, EngineKind::BTree)?;
        Ok(keyspaces)
    }

    /// Sets the horizon below which LSM compactions drop invisible versions.
    pub fn set_gc_horizon(&self, horizon: Timestamp) {
        self.horizon.fetch_max(horizon, Ordering::AcqRel);
    }

    /// Counts `n` new versions written to keyspace `id`.
    pub fn note_written(&self, id: KeyspaceId, n: u64) {
        if let Some(k) = self.engines.read().get(&id) {
            k.written.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Every keyspace, for garbage collection.
    pub fn vacuum_candidates(&self) -> Vec<VacuumCandidate> {
        let engines = self.engines.read();
        let mut all: Vec<_> = engines
            .iter()
            .map(|(&id, k)| VacuumCandidate {
                id,
                engine: k.engine.clone(),
                kind: k.kind,
                written: k.written.clone(),
            })
            .collect();
        all.sort_by_key(|c| c.id);
        all
    }

    /// The engine a new keyspace gets: the requested one (or the B+tree) on disk; the
    /// memory engine, whatever was requested, in an in-memory database.
    pub fn resolve(&self, requested: Option<EngineKind>) -> EngineKind {
        match (&self.disk, requested) {
            (None, _) => EngineKind::Memory,
            (Some(_), Some(kind)) => kind,
            (Some(_), None) => EngineKind::BTree,
        }
    }

    /// The engine of keyspace `id`.
    pub fn get(&self, id: KeyspaceId) -> Result<Arc<dyn Engine>> {
        self.engines.read().get(&id).map(|k| k.engine.clone()).ok_or(TxnError::UnknownKeyspace(id))
    }

    /// Creates keyspace `id` with an engine of `kind`, or returns the existing one. An
    /// in-memory database keeps every keyspace in memory, whatever the kind.
    pub fn create(&self, id: KeyspaceId, kind: EngineKind) -> Result<Arc<dyn Engine>> {
        self.note_id(id);
        // Held across the file's open so that two creators of one id cannot both open it.
        let mut engines = self.engines.write();
        if let Some(existing) = engines.get(&id) {
            return Ok(existing.engine.clone());
        }
        let keyspace = match (&self.disk, kind) {
            (None, _) => Keyspace::new(Arc::new(Memory::new()), EngineKind::Memory, None),
            (Some(_), EngineKind::Memory) => {
                return Err(TxnError::Unsupported(
                    "the memory engine is only available in in-memory databases (open \":memory:\"); \
                     on disk, tables live in B+trees"
                        .into(),
                ));
            }
            (Some(disk), EngineKind::BTree) => {
                let path = disk.dir.join(file_name(id, kind));
                let tree = undo_creation_on_error(&path, || BTree::open(&path, disk.pool.clone()))?;
                Keyspace::new(Arc::new(tree.clone()), kind, Some(Files::BTree(tree, path)))
            }
            (Some(disk), EngineKind::Lsm(compaction)) => {
                let path = disk.dir.join(file_name(id, kind));
                let tree = undo_creation_on_error(&path, || {
                    Lsm::open(&path, LsmOptions { compaction, ..LsmOptions::default() }, disk.cache.clone())
                })?;
                tree.set_compaction_filter(Some(crate::gc::compaction_filter(self.horizon.clone())));
                let kind = EngineKind::Lsm(tree.compaction());
                Keyspace::new(Arc::new(tree.clone()), kind, Some(Files::Lsm(tree, path)))
            }
        };
        Ok(engines.entry(id).or_insert(keyspace).engine.clone())
    }

    /// Removes keyspace `id` and its data (the file, for an on-disk keyspace).
    pub fn drop_keyspace(&self, id: KeyspaceId) {
        let Some(keyspace) = self.engines.write().remove(&id) else { return };
        let removed = match keyspace.files {
            Some(Files::BTree(tree, path)) => {
                tree.evict_all();
                std::fs::remove_file(&path).map_err(|e| (path, e))
            }
            Some(Files::Lsm(tree, path)) => {
                // The tree's background thread stops when the last handle goes.
                drop(keyspace.engine);
                drop(tree);
                std::fs::remove_dir_all(&path).map_err(|e| (path, e))
            }
            None => Ok(()),
        };
        if let Err((path, e)) = removed {
            tracing::warn!(file = %path.display(), error = %e, "could not remove a dropped keyspace's files");
        }
    }

    /// A fresh id that no keyspace has used.
    pub fn allocate_id(&self) -> KeyspaceId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes sure ids handed out later are above `id`.
    pub fn note_id(&self, id: KeyspaceId) {
        self.next_id.fetch_max(id.saturating_add(1), Ordering::Relaxed);
    }

    /// The next id [`Keyspaces::allocate_id`] would hand out.
    pub fn next_id(&self) -> KeyspaceId {
        self.next_id.load(Ordering::Relaxed)
    }

    /// The ids of every open keyspace.
    pub fn ids(&self) -> Vec<KeyspaceId> {
        let mut ids: Vec<_> = self.engines.read().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Every open keyspace's engine.
    pub fn engines(&self) -> Vec<(KeyspaceId, Arc<dyn Engine>)> {
        let mut all: Vec<_> = self.engines.read().iter().map(|(&id, k)| (id, k.engine.clone())).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }

    /// The B+tree behind keyspace `id`, if it is one (for statistics).
    pub fn btree(&self, id: KeyspaceId) -> Option<BTree> {
        match self.engines.read().get(&id)?.files.as_ref()? {
            Files::BTree(tree, _) => Some(tree.clone()),
            Files::Lsm(..) => None,
        }
    }

    /// What each on-disk keyspace's files held when they were opened (the checkpoint they
    /// cover and any damage stepped around), for recovery's checks.
    pub fn recovery_points(&self) -> Vec<(KeyspaceId, RecoveryPoint)> {
        let mut points: Vec<_> = self
            .engines
            .read()
            .iter()
            .filter_map(|(&id, k)| match k.files.as_ref()? {
                Files::BTree(tree, _) => Some((id, tree.recovery_point().clone())),
                Files::Lsm(tree, _) => Some((id, tree.recovery_point().clone())),
            })
            .collect();
        points.sort_unstable_by_key(|(id, _)| *id);
        points
    }

    /// After recovery has accepted every keyspace's files: removes what they no longer
    /// need (LSM table files their manifest does not name).
    pub fn finish_recovery(&self) -> Result<()> {
        let trees: Vec<Lsm> = self
            .engines
            .read()
            .values()
            .filter_map(|k| match &k.files {
                Some(Files::Lsm(tree, _)) => Some(tree.clone()),
                _ => None,
            })
            .collect();
        for tree in trees {
            tree.remove_unreferenced_files()?;
        }
        Ok(())
    }

    /// The engine keyspace `id` uses.
    pub fn kind(&self, id: KeyspaceId) -> Option<EngineKind> {
        self.engines.read().get(&id).map(|k| k.kind)
    }

    /// The shared LSM block cache of an on-disk database.
    pub fn block_cache(&self) -> Option<&Arc<BlockCache>> {
        self.disk.as_ref().map(|d| &d.cache)
    }

    /// The shared buffer pool of an on-disk database.
    pub fn pool(&self) -> Option<&Arc<BufferPool>> {
        self.disk.as_ref().map(|d| &d.pool)
    }
}
