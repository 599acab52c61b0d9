//! The memtable: the newest writes of an LSM tree, in memory, sorted.
//!
//! A concurrent skip list (crossbeam's), so readers never wait for the writer. Deletes
//! are kept as tombstones (`None`): they must hide older values in the tables below until
//! compaction reaches the bottom level. When the memtable grows past its budget it is
//! frozen (made immutable) and a fresh one takes new writes while the frozen one is
//! written out as a table file.

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_skiplist::SkipMap;

/// A value as the LSM tree stores it: `None` is a tombstone.
pub type Slot = Option<Vec<u8>>;

/// Sorted in-memory writes.
#[derive(Debug, Default)]
pub struct Memtable {
    map: SkipMap<Vec<u8>, Slot>,
    /// Approximate bytes of keys and values, for the flush budget.
    size: AtomicUsize,
}

impl Memtable {
    pub fn new() -> Memtable {
        Memtable::default()
    }

    /// Sets `key` (a tombstone for `None`).
    pub fn put(&self, key: Vec<u8>, value: Slot) {
        let added = key.len() + value.as_ref().map_or(0, Vec::len) + 32;
        self.size.fetch_add(added, Ordering::Relaxed);
        self.map.insert(key, value);
    }

    /// The slot for `key`: `Some(None)` is a tombstone, `None` means "not here, look below".
    pub fn get(&self, key: &[u8]) -> Option<Slot> {
        self.map.get(key).map(|e| e.value().clone())
    }

    /// Approximate bytes held.
    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Number of entries (tombstones included).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Up to `limit` entries of `range` from its start (or, with `back`, from its end).
    pub fn collect(
        &self,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        back: bool,
        limit: usize,
    ) -> Vec<(Vec<u8>, Slot)> {
        let owned = (range.0.map(<[u8]>::to_vec), range.1.map(<[u8]>::to_vec));
        let entries = self.map.range(owned);
        let take =
            |e: crossbeam_skiplist::map::Entry<'_, Vec<u8>, Slot>| (e.key().clone(), e.value().clone());
        if back {
            entries.rev().take(limit).map(take).collect()
        } else {
            entries.take(limit).map(take).collect()
        }
    }

    /// Every entry in key order (for writing the memtable out as a table).
    pub fn entries(&self) -> Vec<(Vec<u8>, Slot)> {
        self.map.iter().map(|e| (e.key().clone(), e.value().clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tombstones_and_reads_ranges_both_ways() {
        let m = Memtable::new();
        m.put(b"b".to_vec(), Some(b"2".to_vec()));
        m.put(b"a".to_vec(), Some(b"1".to_vec()));
        m.put(b"c".to_vec(), None);
        assert_eq!(m.get(b"c"), Some(None));
        assert_eq!(m.get(b"d"), None);
        let all = m.collect((Bound::Unbounded, Bound::Unbounded), false, 10);
        assert_eq!(all.iter().map(|(k, _)| k.as_slice()).collect::<Vec<_>>(), vec![b"a", b"b", b"c"]);
        let back = m.collect((Bound::Excluded(b"a"), Bound::Included(b"c")), true, 1);
        assert_eq!(back, vec![(b"c".to_vec(), None)]);
        assert!(m.size() > 0);
    }
}
