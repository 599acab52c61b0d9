//! The in-memory engine: an ordered map behind a reader-writer lock.
//!
//! Used for `:memory:` databases and in tests. It persists nothing:
//! [`Engine::persisted_lsn`] is always 0.
//!
//! Scans copy a small chunk of entries under the read lock at a time (see
//! [`crate::chunked`]).

use std::collections::BTreeMap;

use crate::chunked::{ChunkSource, ChunkedScan};
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::engine::{Engine, EngineStats, KeyValue, ScanIterator, WriteBatch, WriteOp};
use crate::{Lsn, Result};

/// Entries copied per refill of a scan.
const CHUNK: usize = if cfg!(test) { 2 } else { 64 };

#[derive(Debug, Default)]
struct State {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    live_bytes: u64,
    applied_lsn: Lsn,
}

/// The in-memory engine.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    state: Arc<RwLock<State>>,
}

impl Memory {
    /// An empty engine.
    pub fn new() -> Memory {
        Memory::default()
    }
}

impl Engine for Memory {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.state.read().map.get(key).cloned())
    }

    fn scan(&self, range: (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> ScanIterator {
        Box::new(ChunkedScan::new(MapChunks { state: self.state.clone() }, range))
    }

    fn apply(&self, batch: WriteBatch, lsn: Lsn) -> Result<()> {
        let mut state = self.state.write();
        for op in batch.ops {
            match op {
                WriteOp::Put(k, v) => {
                    let (key_len, added) = (k.len() as u64, (k.len() + v.len()) as u64);
                    if let Some(old) = state.map.insert(k, v) {
                        state.live_bytes -= key_len + old.len() as u64;
                    }
                    state.live_bytes += added;
                }
                WriteOp::Delete(k) => {
                    if let Some(old) = state.map.remove(&k) {
                        state.live_bytes -= (k.len() + old.len()) as u64;
                    }
                }
            }
        }
        state.applied_lsn = state.applied_lsn.max(lsn);
        Ok(())
    }

    fn checkpoint(&self, _upto: Lsn) -> Result<()> {
        Ok(())
    }

    fn persisted_lsn(&self) -> Lsn {
        0
    }

    fn stats(&self) -> EngineStats {
        let state = self.state.read();
        EngineStats {
            kind: "memory",
            keys: state.map.len() as u64,
            live_bytes: state.live_bytes,
            disk_bytes: 0,
        }
    }
}

/// Reads chunks of the map for a [`ChunkedScan`].
struct MapChunks {
    state: Arc<RwLock<State>>,
}

impl ChunkSource for MapChunks {
    fn chunk(
        &mut self,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        back: bool,
        limit: usize,
    ) -> Result<Vec<KeyValue>> {
        let state = self.state.read();
        let limit = limit.min(CHUNK);
        let entries = state.map.range::<[u8], _>(range);
        let copy = |(k, v): (&Vec<u8>, &Vec<u8>)| (k.clone(), v.clone());
        Ok(if back {
            entries.rev().take(limit).map(copy).collect()
        } else {
            entries.take(limit).map(copy).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Put(Vec<u8>, Vec<u8>),
        Delete(Vec<u8>),
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..8, 0..3)
    }

    fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
        prop_oneof![key().prop_map(Bound::Included), key().prop_map(Bound::Excluded), Just(Bound::Unbounded)]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (key(), proptest::collection::vec(any::<u8>(), 0..4)).prop_map(|(k, v)| Op::Put(k, v)),
            1 => key().prop_map(Op::Delete),
        ]
    }

    fn valid(range: &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> bool {
        // BTreeMap::range panics on start > end, so the model only takes sane ranges.
        match range {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a < b || (a == b && matches!(range, (Bound::Included(_), Bound::Included(_))))
            }
            _ => true,
        }
    }

    proptest! {
        #[test]
        fn matches_btreemap_model(
            batches in proptest::collection::vec(proptest::collection::vec(op(), 1..5), 1..12),
            ranges in proptest::collection::vec((bound(), bound(), proptest::collection::vec(any::<bool>(), 0..12)), 1..6),
        ) {
            let engine = Memory::new();
            let mut model = BTreeMap::new();
            for (lsn, ops) in batches.iter().enumerate() {
                let mut batch = WriteBatch::new();
                for op in ops {
                    match op {
                        Op::Put(k, v) => {
                            batch.put(k.clone(), v.clone());
                            model.insert(k.clone(), v.clone());
                        }
                        Op::Delete(k) => {
                            batch.delete(k.clone());
                            model.remove(k);
                        }
                    }
                }
                engine.apply(batch.clone(), lsn as Lsn + 1).expect("apply");
            }
            for (lo, hi, directions) in ranges {
                let range = (lo, hi);
                if !valid(&range) {
                    continue;
                }
                let expected: Vec<KeyValue> = model.range(range.clone()).map(|(k, v)| (k.clone(), v.clone())).collect();
                // Mixed next/next_back must yield every entry exactly once, in order from each end.
                let mut scan = engine.scan(range.clone());
                let (mut front, mut back) = (Vec::new(), Vec::new());
                let mut directions = directions.into_iter();
                loop {
                    let forward = directions.next().unwrap_or(true);
                    let item = if forward { scan.next() } else { scan.next_back() };
                    match item {
                        Some(kv) => if forward { front.push(kv.expect("scan")) } else { back.push(kv.expect("scan")) },
                        None => break,
                    }
                }
                back.reverse();
                front.extend(back);
                prop_assert_eq!(front, expected.clone());
                let reversed: Vec<KeyValue> = engine.scan(range).rev().map(|kv| kv.expect("scan")).collect();
                let mut expected_rev = expected;
                expected_rev.reverse();
                prop_assert_eq!(reversed, expected_rev);
            }
            let stats = engine.stats();
            prop_assert_eq!(stats.keys, model.len() as u64);
            prop_assert_eq!(stats.live_bytes, model.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum::<u64>());
        }
    }
}
