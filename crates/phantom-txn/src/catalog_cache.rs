//! A cache of committed catalog entries, shared by every transaction.
//!
//! Every statement looks its tables up in the catalog (keyspace 0): schema checks, the
//! table definition, sometimes a view. Each lookup is a B+tree descent and a version
//! scan, for data that changes only when DDL commits. This cache keeps the committed
//! value of each catalog key as of the *catalog version*: the timestamp of the newest
//! commit that wrote the catalog, taken when that commit starts, before anyone can see it.
//!
//! A lookup may use the cache only if the catalog version is the same before and after
//! (for a fill) or the same as the cache's (for a hit), and the reader's snapshot is at
//! or above it. Then no catalog commit newer than the version was visible to the reader
//! or to whoever filled the entry (it would have raised the version before becoming
//! visible), and both see the catalog exactly as of that version. A new version empties
//! the cache.
//!
//! What the cache does not answer, the transaction reads as before: its own writes come
//! first, READ UNCOMMITTED overlays others' writes, and REPEATABLE READ takes a shared
//! lock on each catalog entry it reads, which the cache would skip.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::{Result, Timestamp};

/// How many entries the cache holds at most (a bound against a catalog of many tables
/// being read through once; on overflow it starts again empty).
const CAPACITY: usize = 8192;

#[derive(Debug, Default)]
pub(crate) struct CatalogCache {
    /// The catalog version: the newest timestamp of a commit that wrote the catalog.
    version: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The catalog version the entries hold.
    version: Timestamp,
    entries: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl CatalogCache {
    /// Called by a commit at `ts` that writes the catalog, before it becomes visible.
    pub fn note_commit(&self, ts: Timestamp) {
        self.version.fetch_max(ts, Ordering::SeqCst);
    }

    /// The committed value of catalog `key` at `snapshot`, from the cache or from `read`.
    pub fn get(
        &self,
        key: &[u8],
        snapshot: Timestamp,
        read: impl FnOnce() -> Result<Option<Vec<u8>>>,
    ) -> Result<Option<Vec<u8>>> {
        let version = self.version.load(Ordering::SeqCst);
        let usable = snapshot >= version;
        if usable {
            let state = self.state.lock();
            if state.version == version
                && let Some(value) = state.entries.get(key)
            {
                return Ok(value.clone());
            }
        }
        let value = read()?;
        if usable && self.version.load(Ordering::SeqCst) == version {
            let mut state = self.state.lock();
            if state.version < version || state.entries.len() >= CAPACITY {
                state.entries.clear();
                state.version = state.version.max(version);
            }
            if state.version == version {
                state.entries.insert(key.to_vec(), value.clone());
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalog_commit_empties_the_cache_and_old_snapshots_bypass_it() {
        let cache = CatalogCache::default();
        let read = |v: &'static str| move || Ok(Some(v.as_bytes().to_vec()));
        assert_eq!(cache.get(b"t", 5, read("v1")).expect("get"), Some(b"v1".to_vec()));
        // A hit: the reader is not called.
        assert_eq!(cache.get(b"t", 6, || panic!("should hit")).expect("get"), Some(b"v1".to_vec()));
        cache.note_commit(10);
        // A snapshot from before the commit must read for itself and must not fill.
        assert_eq!(cache.get(b"t", 9, read("v1")).expect("get"), Some(b"v1".to_vec()));
        assert_eq!(cache.get(b"t", 10, read("v2")).expect("get"), Some(b"v2".to_vec()));
        assert_eq!(cache.get(b"t", 12, || panic!("should hit")).expect("get"), Some(b"v2".to_vec()));
        assert_eq!(cache.get(b"t", 9, read("v1")).expect("get"), Some(b"v1".to_vec()), "old snapshot");
    }

    #[test]
    fn a_commit_during_the_read_keeps_the_value_out() {
        let cache = CatalogCache::default();
        let value = cache
            .get(b"t", 5, || {
                cache.note_commit(7);
                Ok(Some(b"old".to_vec()))
            })
            .expect("get");
        assert_eq!(value, Some(b"old".to_vec()));
        assert_eq!(cache.get(b"t", 8, || Ok(Some(b"new".to_vec()))).expect("get"), Some(b"new".to_vec()));
    }
}
