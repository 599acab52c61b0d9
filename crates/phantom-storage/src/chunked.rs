//! Scans that hold no lock while their caller consumes them.
//!
//! A SQL query may take its time over a scan, and writers must not wait for it. So engines
//! hand out a [`ChunkedScan`]: it asks its [`ChunkSource`] for the next chunk of entries
//! (the source takes its locks, copies up to a chunk, and lets go), remembers the last key
//! it returned from each end, and asks again from there when a chunk runs out. Entries
//! changed between chunks may or may not be seen, which the layer above tolerates (it
//! only reads immutable versions; see the `Engine` docs).

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};

use crate::Result;
use crate::engine::KeyValue;

/// Entries in a scan's first chunk: many scans only want their first entry (the newest
/// version of a key is the first of its versions), so the first chunk is small ...
const FIRST_CHUNK: usize = 4;
/// ... and each next one larger, up to this.
const MAX_CHUNK: usize = 256;

/// Where a [`ChunkedScan`] gets its entries.
pub trait ChunkSource: Send {
    /// The next entries of `range` (at most `limit`, at least one unless the range is
    /// exhausted), in scan order: from its start, or from its end when `back` is set. An
    /// empty chunk means the range holds nothing more.
    fn chunk(
        &mut self,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        back: bool,
        limit: usize,
    ) -> Result<Vec<KeyValue>>;
}

/// A double-ended scan over a source, chunk by chunk.
pub struct ChunkedScan<S> {
    source: S,
    /// What the front has not returned yet: starts at the range's start.
    front: Bound<Vec<u8>>,
    /// What the back has not returned yet: starts at the range's end.
    back: Bound<Vec<u8>>,
    front_buf: VecDeque<KeyValue>,
    back_buf: VecDeque<KeyValue>,
    /// The size of the next chunk from each end.
    front_limit: usize,
    back_limit: usize,
    done: bool,
}

impl<S: ChunkSource> ChunkedScan<S> {
    pub fn new(source: S, (front, back): (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> ChunkedScan<S> {
        ChunkedScan {
            source,
            front,
            back,
            front_buf: VecDeque::new(),
            back_buf: VecDeque::new(),
            front_limit: FIRST_CHUNK,
            back_limit: FIRST_CHUNK,
            done: false,
        }
    }

    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (self.front.as_ref().map(Vec::as_slice), self.back.as_ref().map(Vec::as_slice))
    }

    fn step(&mut self, back: bool) -> Option<Result<KeyValue>> {
        if self.done {
            return None;
        }
        let empty = if back { self.back_buf.is_empty() } else { self.front_buf.is_empty() };
        if empty && is_empty(self.bounds()) {
            // The two ends met (and an ordered map would refuse such a range).
            self.done = true;
            return None;
        }
        if empty {
            let range = (self.front.as_ref().map(Vec::as_slice), self.back.as_ref().map(Vec::as_slice));
            let limit = if back { &mut self.back_limit } else { &mut self.front_limit };
            let size = *limit;
            *limit = (size * 8).min(MAX_CHUNK);
            match self.source.chunk(range, back, size) {
                Ok(entries) => {
                    let buf = if back { &mut self.back_buf } else { &mut self.front_buf };
                    buf.extend(entries);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        let entry = if back { self.back_buf.pop_front() } else { self.front_buf.pop_front() };
        let Some((key, value)) = entry else {
            self.done = true;
            return None;
        };
        // The other end may have moved past entries buffered earlier.
        if !self.bounds().contains(key.as_slice()) {
            self.done = true;
            return None;
        }
        let cursor = if back { &mut self.back } else { &mut self.front };
        *cursor = Bound::Excluded(key.clone());
        Some(Ok((key, value)))
    }
}

/// False once `key` is past the upper bound `end`.
pub fn within_end(key: &[u8], end: Bound<&[u8]>) -> bool {
    match end {
        Bound::Included(e) => key <= e,
        Bound::Excluded(e) => key < e,
        Bound::Unbounded => true,
    }
}

/// False while `key` is before the lower bound `start`.
pub fn within_start(key: &[u8], start: Bound<&[u8]>) -> bool {
    match start {
        Bound::Included(s) => key >= s,
        Bound::Excluded(s) => key > s,
        Bound::Unbounded => true,
    }
}

/// True if no key can lie within `range`.
fn is_empty(range: (Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    match range {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    }
}

impl<S: ChunkSource> Iterator for ChunkedScan<S> {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}

impl<S: ChunkSource> DoubleEndedIterator for ChunkedScan<S> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}
