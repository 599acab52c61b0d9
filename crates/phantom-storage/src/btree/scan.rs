//! Range scans over the linked leaves, in both directions.
//!
//! A scan does not hold the tree lock while its caller consumes entries (a SQL query may
//! take its time, and writers must not wait for it). It takes the read lock, walks the
//! leaves from its cursor copying up to [`CHUNK`] entries, remembers the last key it
//! returned, and lets go; the next chunk starts with a fresh descent from the root. Entries
//! changed between chunks may or may not be seen, which the layer above tolerates (it only
//! reads immutable versions; see the `Engine` docs).

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use super::Inner;
use super::node::{NO_PAGE, Node};
use crate::Result;
use crate::engine::KeyValue;

/// Entries copied per visit to the tree.
const CHUNK: usize = 256;

/// A scan of a key range.
pub struct BTreeScan {
    tree: Arc<Inner>,
    /// What the front has not returned yet: starts at the range's start.
    front: Bound<Vec<u8>>,
    /// What the back has not returned yet: starts at the range's end.
    back: Bound<Vec<u8>>,
    front_buf: VecDeque<KeyValue>,
    back_buf: VecDeque<KeyValue>,
    done: bool,
}

impl BTreeScan {
    pub fn new(tree: Arc<Inner>, (start, end): (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> BTreeScan {
        BTreeScan {
            tree,
            front: start,
            back: end,
            front_buf: VecDeque::new(),
            back_buf: VecDeque::new(),
            done: false,
        }
    }

    fn below_back(&self, key: &[u8]) -> bool {
        match &self.back {
            Bound::Included(b) => key <= b.as_slice(),
            Bound::Excluded(b) => key < b.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn above_front(&self, key: &[u8]) -> bool {
        match &self.front {
            Bound::Included(f) => key >= f.as_slice(),
            Bound::Excluded(f) => key > f.as_slice(),
            Bound::Unbounded => true,
        }
    }

    /// Copies the next chunk of entries in direction `back`.
    fn refill(&mut self, back: bool) -> Result<()> {
        let tree = self.tree.clone();
        let state = tree.state.read();
        let start = if back { &self.back } else { &self.front };
        let seek = match start {
            Bound::Included(k) | Bound::Excluded(k) => Some(k.as_slice()),
            Bound::Unbounded => None,
        };
        let (_, mut node) = tree.find_leaf(&state, seek, back)?;
        let mut out = VecDeque::new();
        let mut first_leaf = true;
        while let Node::Leaf(leaf) = &*node {
            // In the first leaf, binary-search past what the cursor already returned; later
            // leaves lie wholly beyond it.
            let indices: Box<dyn Iterator<Item = usize>> = if back {
                let end = if first_leaf {
                    leaf.keys.partition_point(|k| self.below_back(k))
                } else {
                    leaf.keys.len()
                };
                Box::new((0..end).rev())
            } else {
                let start = if first_leaf { leaf.keys.partition_point(|k| !self.above_front(k)) } else { 0 };
                Box::new(start..leaf.keys.len())
            };
            first_leaf = false;
            for i in indices {
                let key = &leaf.keys[i];
                let in_range = if back { self.above_front(key) } else { self.below_back(key) };
                if !in_range {
                    self.finish_into(back, out);
                    return Ok(());
                }
                out.push_back((key.clone(), tree.resolve(&state, &leaf.values[i])?));
                if out.len() >= CHUNK {
                    self.finish_into(back, out);
                    return Ok(());
                }
            }
            let next = if back { leaf.prev } else { leaf.next };
            if next == NO_PAGE {
                break;
            }
            node = tree.node(&state, next)?;
        }
        self.finish_into(back, out);
        Ok(())
    }

    fn finish_into(&mut self, back: bool, out: VecDeque<KeyValue>) {
        if back { self.back_buf = out } else { self.front_buf = out }
    }

    fn step(&mut self, back: bool) -> Option<Result<KeyValue>> {
        if self.done {
            return None;
        }
        let empty = if back { self.back_buf.is_empty() } else { self.front_buf.is_empty() };
        if empty && let Err(e) = self.refill(back) {
            self.done = true;
            return Some(Err(e));
        }
        let entry = if back { self.back_buf.pop_front() } else { self.front_buf.pop_front() };
        let Some((key, value)) = entry else {
            self.done = true;
            return None;
        };
        // The other end may have moved past entries buffered earlier.
        let inside = if back { self.above_front(&key) } else { self.below_back(&key) };
        if !inside {
            self.done = true;
            return None;
        }
        if back {
            self.back = Bound::Excluded(key.clone());
        } else {
            self.front = Bound::Excluded(key.clone());
        }
        Some(Ok((key, value)))
    }
}

impl Iterator for BTreeScan {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}

impl DoubleEndedIterator for BTreeScan {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}
