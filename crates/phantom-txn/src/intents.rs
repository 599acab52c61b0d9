//! Write intents: which live transaction is writing which key.
//!
//! A transaction takes an intent on every key before it writes it and holds it until its
//! versions are applied (or it rolls back). A second writer finds the intent and fails with
//! a serialization error instead of waiting; lock waits and deadlock detection belong to the
//! lock manager of the isolation-level work.
//!
//! The table is sharded by key hash so that concurrent writers to different keys rarely
//! contend on the same mutex.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, RandomState};

use parking_lot::Mutex;

use crate::keyspace::KeyspaceId;
use crate::{Result, TxnError};

const SHARDS: usize = 64;

/// Identifies a transaction while it is live.
pub type TxnId = u64;

type IntentKey = (KeyspaceId, Vec<u8>);

/// The intent table.
#[derive(Debug)]
pub struct Intents {
    shards: Vec<Mutex<HashMap<IntentKey, TxnId>>>,
    hasher: RandomState,
}

impl Intents {
    /// An empty table.
    pub fn new() -> Self {
        Intents {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, keyspace: KeyspaceId, key: &[u8]) -> &Mutex<HashMap<IntentKey, TxnId>> {
        let hash = self.hasher.hash_one((keyspace, key));
        &self.shards[(hash as usize) % SHARDS]
    }

    /// Takes the intent on `key` for `txn`. Returns `Ok(true)` if newly taken, `Ok(false)`
    /// if `txn` already held it, and a conflict if another transaction holds it.
    pub fn acquire(&self, txn: TxnId, keyspace: KeyspaceId, key: &[u8]) -> Result<bool> {
        let mut shard = self.shard(keyspace, key).lock();
        match shard.entry((keyspace, key.to_vec())) {
            Entry::Occupied(e) if *e.get() == txn => Ok(false),
            Entry::Occupied(_) => Err(TxnError::WriteConflict),
            Entry::Vacant(e) => {
                e.insert(txn);
                Ok(true)
            }
        }
    }

    /// Releases the intents `txn` holds on `keys`.
    pub fn release<'a>(&self, txn: TxnId, keys: impl IntoIterator<Item = (KeyspaceId, &'a [u8])>) {
        for (keyspace, key) in keys {
            let mut shard = self.shard(keyspace, key).lock();
            let owned = (keyspace, key.to_vec());
            if shard.get(&owned) == Some(&txn) {
                shard.remove(&owned);
            }
        }
    }
}

impl Default for Intents {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_conflicts_until_release() {
        let intents = Intents::new();
        assert!(matches!(intents.acquire(1, 7, b"k"), Ok(true)));
        assert!(matches!(intents.acquire(1, 7, b"k"), Ok(false)));
        assert!(matches!(intents.acquire(2, 7, b"k"), Err(TxnError::WriteConflict)));
        assert!(matches!(intents.acquire(2, 8, b"k"), Ok(true)));
        intents.release(1, [(7, &b"k"[..])]);
        assert!(matches!(intents.acquire(2, 7, b"k"), Ok(true)));
    }
}
