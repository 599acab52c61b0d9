//! The in-memory engine: an ordered map behind a reader-writer lock.
//!
//! Used for `:memory:` databases and in tests, and (until the on-disk engines arrive) for
//! on-disk databases too, whose contents are then rebuilt from the write-ahead log on
//! open. It persists nothing: [`Engine::persisted_lsn`] is always 0.
//!
//! Scans do not hold the lock while the caller consumes them. They copy a small chunk of
//! entries under the read lock, hand those out, and fetch the next chunk starting after
//! the last key returned. A scan may therefore see writes applied after it started; the
//! MVCC layer above makes that harmless (it ignores versions newer than its snapshot).

use std::collections::BTreeMap;
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
        Box::new(MemoryScan {
            state: self.state.clone(),
            front: range.0,
            back: range.1,
            front_buf: Vec::new().into_iter(),
            back_buf: Vec::new().into_iter(),
            done: false,
        })
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

/// A chunked scan. `front` and `back` bound what has not been returned yet; each end
/// refills its buffer from the map within those bounds.
struct MemoryScan {
    state: Arc<RwLock<State>>,
    front: Bound<Vec<u8>>,
    back: Bound<Vec<u8>>,
    front_buf: std::vec::IntoIter<KeyValue>,
    back_buf: std::vec::IntoIter<KeyValue>,
    done: bool,
}

impl MemoryScan {
    /// True if `key` is still between the two cursors.
    fn inside(&self, key: &[u8]) -> bool {
        let after_front = match &self.front {
            Bound::Included(f) => key >= f.as_slice(),
            Bound::Excluded(f) => key > f.as_slice(),
            Bound::Unbounded => true,
        };
        let before_back = match &self.back {
            Bound::Included(b) => key <= b.as_slice(),
            Bound::Excluded(b) => key < b.as_slice(),
            Bound::Unbounded => true,
        };
        after_front && before_back
    }

    fn range_is_empty(&self) -> bool {
        match (&self.front, &self.back) {
            (Bound::Included(f), Bound::Included(b)) => f > b,
            (Bound::Included(f), Bound::Excluded(b))
            | (Bound::Excluded(f), Bound::Included(b))
            | (Bound::Excluded(f), Bound::Excluded(b)) => f >= b,
            _ => false,
        }
    }

    fn refill_front(&mut self) {
        if self.range_is_empty() {
            return;
        }
        let state = self.state.read();
        let chunk: Vec<KeyValue> = state
            .map
            .range((self.front.clone(), self.back.clone()))
            .take(CHUNK)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.front_buf = chunk.into_iter();
    }

    fn refill_back(&mut self) {
        if self.range_is_empty() {
            return;
        }
        let state = self.state.read();
        let chunk: Vec<KeyValue> = state
            .map
            .range((self.front.clone(), self.back.clone()))
            .rev()
            .take(CHUNK)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.back_buf = chunk.into_iter();
    }
}

impl MemoryScan {
    /// The next entry from the front (or the back): from the buffer, refilled under the
    /// read lock when it runs dry. The scan ends when the two cursors meet.
    fn step(&mut self, back: bool) -> Option<Result<KeyValue>> {
        if self.done {
            return None;
        }
        loop {
            let buffered = if back { self.back_buf.next() } else { self.front_buf.next() };
            if let Some((k, v)) = buffered {
                // The other cursor may have moved past entries buffered earlier.
                if !self.inside(&k) {
                    self.done = true;
                    return None;
                }
                let cursor = if back { &mut self.back } else { &mut self.front };
                *cursor = Bound::Excluded(k.clone());
                return Some(Ok((k, v)));
            }
            let refilled = if back {
                self.refill_back();
                self.back_buf.len()
            } else {
                self.refill_front();
                self.front_buf.len()
            };
            if refilled == 0 {
                self.done = true;
                return None;
            }
        }
    }
}

impl Iterator for MemoryScan {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}

impl DoubleEndedIterator for MemoryScan {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(true)
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
