//! One open database as the SQL layer sees it.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use phantom_txn::{MvccStore, StoreOptions};

use crate::catalog::{Catalog, RoleDef};
use crate::error::Result;
use crate::exec::Sequences;
use crate::sequence::SequenceStates;

/// The transactional store plus the SQL state shared by every session: the catalog's
/// decode cache and the row-id sequences.
pub struct Instance {
    pub store: MvccStore,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) sequences: Arc<Sequences>,
    /// The state of SQL sequences (`CREATE SEQUENCE`, SERIAL columns).
    pub(crate) sequence_states: Arc<SequenceStates>,
}

impl Instance {
    /// Opens (or creates) the database in `dir`, recovering it from its log.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Arc<Instance>> {
        let store = MvccStore::open(dir, options)?;
        let instance = Instance::with_store(store);
        instance.discard_dropped_keyspaces()?;
        Ok(Arc::new(instance))
    }

    /// A database that lives in memory only.
    pub fn memory() -> Arc<Instance> {
        Arc::new(Instance::with_store(MvccStore::memory()))
    }

    fn with_store(store: MvccStore) -> Instance {
        let catalog = Arc::new(Catalog::new());
        Instance {
            sequences: Arc::new(Sequences::new(store.clone())),
            sequence_states: Arc::new(SequenceStates::new(store.clone(), catalog.clone())),
            store,
            catalog,
        }
    }

    /// After recovery, the log may have recreated keyspaces of tables (or sequences)
    /// whose drop was committed: only keyspaces the catalog names are kept. Files are
    /// deleted on the catalog's word only, so the catalog is read whole first (every page
    /// checked): a damaged catalog stops the open instead of losing tables. (That the
    /// catalog is not an older state than the rest of the database is what recovery
    /// checked before; see `phantom_txn::recovery`.)
    fn discard_dropped_keyspaces(&self) -> Result<()> {
        self.store.verify_keyspace(phantom_txn::keyspace::CATALOG_KEYSPACE)?;
        let txn = self.store.begin();
        let mut live: HashSet<_> =
            self.catalog.tables(&txn)?.iter().flat_map(|t| t.keyspaces().collect::<Vec<_>>()).collect();
        live.extend(self.catalog.sequences(&txn)?.iter().map(|s| s.keyspace));
        txn.rollback()?;
        self.store.retain_keyspaces(&live);
        Ok(())
    }

    /// The role called `name` as the latest committed state has it (for logging in).
    /// A plain snapshot read: it takes no locks, so it never waits for a session that
    /// is changing roles.
    pub fn role(&self, name: &str) -> Result<Option<RoleDef>> {
        let txn = self.store.begin();
        let role = self.catalog.role(&txn, name);
        txn.rollback()?;
        role
    }

    /// The underlying store.
    pub fn store(&self) -> &MvccStore {
        &self.store
    }
}
