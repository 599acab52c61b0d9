//! The block cache: data blocks (checked and decompressed, still encoded) of every LSM
//! table of a database, within one memory bound, least recently used out first. Caching
//! the encoded form keeps point lookups cheap (they binary-search the restart points
//! instead of decoding the block) and costs no more memory than the bytes themselves.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// (table id, block number).
pub type BlockKey = (u64, u32);

#[derive(Debug, Default)]
struct State {
    blocks: HashMap<BlockKey, (Arc<Vec<u8>>, usize, u64)>,
    /// Recency stamp -> key, oldest first.
    order: BTreeMap<u64, BlockKey>,
    used: usize,
    stamp: u64,
}

/// A bounded cache of decoded blocks, shared by all LSM trees of a database.
#[derive(Debug)]
pub struct BlockCache {
    state: Mutex<State>,
    capacity: usize,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

fn block_size(block: &[u8]) -> usize {
    64 + block.len()
}

impl BlockCache {
    pub fn new(capacity: usize) -> Arc<BlockCache> {
        Arc::new(BlockCache {
            state: Mutex::new(State::default()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    pub fn get(&self, key: BlockKey) -> Option<Arc<Vec<u8>>> {
        let mut s = self.state.lock();
        s.stamp += 1;
        let stamp = s.stamp;
        let Some((block, _, old)) = s.blocks.get_mut(&key) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let (block, old) = (block.clone(), std::mem::replace(old, stamp));
        s.order.remove(&old);
        s.order.insert(stamp, key);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(block)
    }

    pub fn insert(&self, key: BlockKey, block: Arc<Vec<u8>>) {
        let size = block_size(&block);
        let mut evicted = Vec::new();
        let mut s = self.state.lock();
        s.stamp += 1;
        let stamp = s.stamp;
        if let Some((old, old_size, old_stamp)) = s.blocks.insert(key, (block, size, stamp)) {
            s.order.remove(&old_stamp);
            s.used -= old_size;
            evicted.push(old);
        }
        s.order.insert(stamp, key);
        s.used += size;
        while s.used > self.capacity {
            let Some((_, victim)) = s.order.pop_first() else { break };
            if let Some((block, size, _)) = s.blocks.remove(&victim) {
                s.used -= size;
                evicted.push(block);
            }
        }
        drop(s);
        drop(evicted);
    }

    /// Forgets every block of table `table` (its file is gone).
    pub fn remove_table(&self, table: u64) {
        let mut s = self.state.lock();
        let keys: Vec<BlockKey> = s.blocks.keys().filter(|k| k.0 == table).copied().collect();
        for key in keys {
            if let Some((_, size, stamp)) = s.blocks.remove(&key) {
                s.used -= size;
                s.order.remove(&stamp);
            }
        }
    }

    pub fn used_bytes(&self) -> u64 {
        self.state.lock().used as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used_within_the_bound() {
        let cache = BlockCache::new(2000);
        let block = |n: u8| Arc::new(vec![n; 400]);
        cache.insert((1, 0), block(0));
        cache.insert((1, 1), block(1));
        cache.insert((1, 2), block(2));
        assert!(cache.get((1, 0)).is_some());
        cache.insert((1, 3), block(3));
        cache.insert((1, 4), block(4));
        assert!(cache.get((1, 0)).is_some(), "recently used stays");
        assert!(cache.get((1, 1)).is_none(), "least recently used goes");
        assert!(cache.used_bytes() <= 2000);
        cache.remove_table(1);
        assert_eq!(cache.used_bytes(), 0);
    }
}
