//! Range scans over the linked leaves, in both directions, a chunk at a time (see
//! [`crate::chunked`]): each chunk takes the read lock, descends to the cursor, walks the
//! linked leaves copying as many entries as the cursor asks for (few at first, more as the
//! scan goes on), and lets go.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use super::Inner;
use super::node::{NO_PAGE, Node};
use crate::Result;
use crate::chunked::{ChunkSource, within_end, within_start};
use crate::engine::KeyValue;

/// Entries copied per visit to the tree.
/// Reads chunks of a tree for a [`ChunkedScan`].
pub struct TreeChunks {
    pub tree: Arc<Inner>,
}

impl ChunkSource for TreeChunks {
    fn chunk(
        &mut self,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        back: bool,
        limit: usize,
    ) -> Result<Vec<KeyValue>> {
        let inside = |k: &[u8]| range.contains(k);
        let tree = self.tree.clone();
        let state = tree.state.read();
        let start = if back { range.1 } else { range.0 };
        let seek = match start {
            Bound::Included(k) | Bound::Excluded(k) => Some(k),
            Bound::Unbounded => None,
        };
        let (_, mut node) = tree.find_leaf(&state, seek, back)?;
        let mut out = Vec::new();
        let mut first_leaf = true;
        while let Node::Leaf(leaf) = &*node {
            // In the first leaf, binary-search past what the cursor already returned; later
            // leaves lie wholly beyond it.
            let indices: Box<dyn Iterator<Item = usize>> = if back {
                let end = if first_leaf {
                    leaf.keys.partition_point(|k| within_end(k, range.1))
                } else {
                    leaf.keys.len()
                };
                Box::new((0..end).rev())
            } else {
                let start =
                    if first_leaf { leaf.keys.partition_point(|k| !within_start(k, range.0)) } else { 0 };
                Box::new(start..leaf.keys.len())
            };
            first_leaf = false;
            for i in indices {
                let key = &leaf.keys[i];
                if !inside(key) {
                    return Ok(out);
                }
                out.push((key.clone(), tree.resolve(&state, &leaf.values[i])?));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            let next = if back { leaf.prev } else { leaf.next };
            if next == NO_PAGE {
                break;
            }
            node = tree.node(&state, next)?;
        }
        Ok(out)
    }
}
