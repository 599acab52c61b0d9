//! Keyspaces: the engines that hold tables and indexes, by id.
//!
//! Every table and index has its own keyspace, so each can choose its engine and be dropped
//! without touching the others. Keyspace 0 holds the catalog. Ids are never reused within
//! the life of a log: a recovered database continues after the highest id it has seen.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::RwLock;
use phantom_storage::{Engine, Memory};

use crate::{Result, TxnError};

/// Identifies a keyspace.
pub type KeyspaceId = u32;

/// The keyspace of the system catalog.
pub const CATALOG_KEYSPACE: KeyspaceId = 0;

/// Which engine a keyspace uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum EngineKind {
    /// The in-memory engine. Data survives restarts only through WAL replay.
    #[default]
    Memory,
}

impl EngineKind {
    /// The tag stored in commit records.
    pub fn tag(self) -> u8 {
        match self {
            EngineKind::Memory => 0,
        }
    }

    /// The kind for a tag from a commit record.
    pub fn from_tag(tag: u8) -> Option<EngineKind> {
        match tag {
            0 => Some(EngineKind::Memory),
            _ => None,
        }
    }

    /// The name users write, e.g. in `WITH (engine = 'memory')`.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Memory => "memory",
        }
    }
}

/// The set of open keyspaces.
#[derive(Debug)]
pub struct Keyspaces {
    engines: RwLock<HashMap<KeyspaceId, Arc<dyn Engine>>>,
    next_id: AtomicU32,
}

impl Keyspaces {
    /// A registry holding only the (empty) catalog keyspace.
    pub fn new() -> Self {
        let keyspaces = Keyspaces { engines: RwLock::new(HashMap::new()), next_id: AtomicU32::new(1) };
        keyspaces.create(CATALOG_KEYSPACE, EngineKind::Memory);
        keyspaces
    }

    /// The engine of keyspace `id`.
    pub fn get(&self, id: KeyspaceId) -> Result<Arc<dyn Engine>> {
        self.engines.read().get(&id).cloned().ok_or(TxnError::UnknownKeyspace(id))
    }

    /// Creates keyspace `id` with an engine of `kind`, or returns the existing one.
    pub fn create(&self, id: KeyspaceId, kind: EngineKind) -> Arc<dyn Engine> {
        self.note_id(id);
        let mut engines = self.engines.write();
        engines
            .entry(id)
            .or_insert_with(|| match kind {
                EngineKind::Memory => Arc::new(Memory::new()) as Arc<dyn Engine>,
            })
            .clone()
    }

    /// Removes keyspace `id` and its data.
    pub fn drop_keyspace(&self, id: KeyspaceId) {
        self.engines.write().remove(&id);
    }

    /// A fresh id that no keyspace has used.
    pub fn allocate_id(&self) -> KeyspaceId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes sure ids handed out later are above `id`.
    pub fn note_id(&self, id: KeyspaceId) {
        self.next_id.fetch_max(id.saturating_add(1), Ordering::Relaxed);
    }

    /// The ids of every open keyspace.
    pub fn ids(&self) -> Vec<KeyspaceId> {
        let mut ids: Vec<_> = self.engines.read().keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

impl Default for Keyspaces {
    fn default() -> Self {
        Self::new()
    }
}
