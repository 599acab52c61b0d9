//! Row ids for tables without a primary key.
//!
//! Each such table has an in-memory counter, started on first use from the highest row
//! id stored (in any version, committed before the database opened or since). Concurrent
//! inserts draw distinct ids without coordinating through the transaction layer; ids of
//! rolled-back inserts are simply skipped, like PostgreSQL's sequences.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use phantom_txn::{KeyspaceId, MvccStore};

use crate::encoding;
use crate::error::Result;

/// Row-id counters by keyspace.
pub struct Sequences {
    store: MvccStore,
    counters: Mutex<HashMap<KeyspaceId, Arc<AtomicU64>>>,
}

impl Sequences {
    /// Counters over `store`.
    pub fn new(store: MvccStore) -> Self {
        Sequences { store, counters: Mutex::new(HashMap::new()) }
    }

    /// The next row id for keyspace `keyspace`.
    pub fn next(&self, keyspace: KeyspaceId) -> Result<u64> {
        let counter = {
            let mut counters = self.counters.lock();
            match counters.get(&keyspace) {
                Some(c) => c.clone(),
                None => {
                    let last = match self.store.last_key(keyspace)? {
                        Some(key) => encoding::decode_row_id(&key)?,
                        None => 0,
                    };
                    let c = Arc::new(AtomicU64::new(last + 1));
                    counters.insert(keyspace, c.clone());
                    c
                }
            }
        };
        Ok(counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Forgets the counter of a dropped keyspace.
    pub fn forget(&self, keyspace: KeyspaceId) {
        self.counters.lock().remove(&keyspace);
    }
}
