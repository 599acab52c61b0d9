//! The buffer pool: decoded tree nodes of every B+tree of a database, within one memory
//! bound.
//!
//! ## Eviction: 2Q
//!
//! A plain LRU is ruined by one large scan: every page it touches becomes "recent" and
//! pushes out the hot index pages that point queries need. 2Q (Johnson and Shasha, 1994)
//! keeps newcomers on probation:
//!
//! - **A1in**, a FIFO of pages seen once recently (a quarter of the pool). A scan streams
//!   through it and out again without touching the main queue.
//! - **A1out**, the ids (not the contents) of pages recently pushed out of A1in. A page
//!   that is needed again while its id is still remembered has proved it is reused.
//! - **Am**, an LRU of proven pages, which holds the rest of the pool.
//!
//! Queues are `VecDeque`s with lazy deletion: an entry carries the frame's stamp at the
//! time it was queued and is skipped if the frame has moved on since; queues are compacted
//! when stale entries pile up.
//!
//! Dirty pages (changed since they were last written) cannot be dropped; eviction skips
//! them and their tree writes them back (see the tree's write-back) once dirty bytes
//! pass half the pool. The pool therefore may run over its bound for a moment, by at most
//! the dirty bytes of the batch being applied.
//!
//! ## When write-back fails
//!
//! A write-back that fails (a full disk) leaves its pages dirty, to be written later;
//! [`BufferPool::write_back`] paces the retries for every tree of the pool. Dirty pages
//! then pile up, and only new commits can stop that: once they pass three quarters of
//! the pool ([`BufferPool::dirty_limit_reached`]) while write-back is failing, trees
//! refuse new commits before they are logged (see `Engine::check_writable`), with the
//! write-back's error (53100 for a full disk). A commit already logged is always applied,
//! so the pool can still grow past that by one commit's pages.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::node::{Node, PageId};
use super::{PageMap, PageSet};
use crate::retry::Retry;

/// Identifies a cached page: (tree id, logical page id).
pub type FrameKey = (u64, PageId);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queue {
    A1in,
    Am,
}

#[derive(Debug)]
struct Frame {
    node: Arc<Node>,
    size: usize,
    dirty: bool,
    queue: Queue,
    stamp: u64,
}

#[derive(Debug, Default)]
struct State {
    frames: PageMap<FrameKey, Frame>,
    a1in: VecDeque<(FrameKey, u64)>,
    am: VecDeque<(FrameKey, u64)>,
    a1out: VecDeque<FrameKey>,
    a1out_set: PageSet<FrameKey>,
    a1in_bytes: usize,
    used: usize,
    dirty: usize,
    next_stamp: u64,
}

/// Hit and miss counters and sizes, for `phantom_storage_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub dirty_bytes: u64,
    pub pages: u64,
    pub hits: u64,
    pub misses: u64,
}

/// A shared cache of decoded nodes with a memory bound.
#[derive(Debug)]
pub struct BufferPool {
    state: Mutex<State>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    next_tree: AtomicU64,
    /// Failed write-backs of any tree, and when to try again.
    pub write_back: Retry,
    /// Dirty bytes trees hold outside the pool: overflow pages a full disk kept out of
    /// their file (see the tree's write path). Counted with the pool's own dirty pages.
    unpooled_dirty: std::sync::atomic::AtomicUsize,
}

/// Write-back retries after a failure are at most this far apart.
const WRITE_BACK_RETRY_CEILING: std::time::Duration = std::time::Duration::from_secs(1);

impl BufferPool {
    /// A pool that holds about `capacity_bytes` of nodes.
    pub fn new(capacity_bytes: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            state: Mutex::new(State::default()),
            capacity: capacity_bytes.max(64 * 1024),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            next_tree: AtomicU64::new(1),
            write_back: Retry::new("B+tree write-back", WRITE_BACK_RETRY_CEILING),
            unpooled_dirty: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A fresh id for a tree's frames.
    pub fn register_tree(&self) -> u64 {
        self.next_tree.fetch_add(1, Ordering::Relaxed)
    }

    /// The node cached under `key`, counting a hit or a miss.
    pub fn get(&self, key: FrameKey) -> Option<Arc<Node>> {
        let mut s = self.state.lock();
        let stamp = s.next_stamp;
        let window = (s.frames.len() as u64 / 4).max(1);
        let Some(frame) = s.frames.get_mut(&key) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        let node = frame.node.clone();
        // A hit in A1in does not promote: a page must survive probation first. A page
        // requeued since the last quarter of the pool's worth of requeues is near the
        // LRU end's far side already; leaving it in place spares the queue a push per hit
        // for the hottest pages (roots and inner nodes are on every lookup's path).
        let recent = stamp.saturating_sub(frame.stamp) < window;
        if frame.queue == Queue::Am && !recent {
            frame.stamp = stamp;
            s.next_stamp += 1;
            s.am.push_back((key, stamp));
            s.compact_if_needed();
        }
        Some(node)
    }

    /// The node cached under `key`, without counting or promoting (write-back).
    pub fn peek(&self, key: FrameKey) -> Option<Arc<Node>> {
        self.state.lock().frames.get(&key).map(|f| f.node.clone())
    }

    /// Caches `node` under `key` (replacing any cached version), then evicts clean pages
    /// until the pool is within its bound.
    pub fn insert(&self, key: FrameKey, node: Arc<Node>, dirty: bool) {
        let size = node.memory_size();
        let mut s = self.state.lock();
        let stamp = s.next_stamp;
        s.next_stamp += 1;
        let queue = match s.frames.remove(&key) {
            Some(old) => {
                s.forget(&old);
                old.queue
            }
            None if s.a1out_set.remove(&key) => Queue::Am,
            None => Queue::A1in,
        };
        match queue {
            Queue::A1in => {
                s.a1in.push_back((key, stamp));
                s.a1in_bytes += size;
            }
            Queue::Am => s.am.push_back((key, stamp)),
        }
        s.used += size;
        if dirty {
            s.dirty += size;
        }
        s.frames.insert(key, Frame { node, size, dirty, queue, stamp });
        let evicted = self.evict(&mut s);
        s.compact_if_needed();
        drop(s);
        // Freeing a node is a few hundred deallocations: not under the pool's lock.
        drop(evicted);
    }

    /// Removes `key` from the pool and returns its node and whether it was dirty.
    pub fn remove(&self, key: FrameKey) -> Option<(Arc<Node>, bool)> {
        let mut s = self.state.lock();
        let frame = s.frames.remove(&key)?;
        s.forget(&frame);
        Some((frame.node, frame.dirty))
    }

    /// Records that the cached node of `key` has been written back.
    pub fn mark_clean(&self, key: FrameKey) {
        let mut s = self.state.lock();
        if let Some(frame) = s.frames.get_mut(&key)
            && frame.dirty
        {
            frame.dirty = false;
            let size = frame.size;
            s.dirty -= size;
        }
        let evicted = self.evict(&mut s);
        drop(s);
        drop(evicted);
    }

    /// Drops every page of tree `tree` (its file is gone).
    pub fn remove_tree(&self, tree: u64) {
        let mut s = self.state.lock();
        let keys: Vec<FrameKey> = s.frames.keys().filter(|k| k.0 == tree).copied().collect();
        for key in keys {
            if let Some(frame) = s.frames.remove(&key) {
                s.forget(&frame);
            }
        }
    }

    /// True when dirty pages take more than half the pool: time for write-back.
    pub fn wants_write_back(&self) -> bool {
        self.dirty_bytes() > self.capacity / 2
    }

    /// True when dirty pages take more than three quarters of the pool: write-back is not
    /// keeping up, and new commits must wait for it if it is failing.
    pub fn dirty_limit_reached(&self) -> bool {
        self.dirty_bytes() > self.capacity / 4 * 3
    }

    /// Dirty bytes, in the pool and held by trees beside it.
    fn dirty_bytes(&self) -> usize {
        self.state.lock().dirty + self.unpooled_dirty.load(Ordering::Relaxed)
    }

    /// Counts `bytes` more (or, negative, fewer) dirty bytes a tree holds outside the pool.
    pub fn add_unpooled_dirty(&self, bytes: isize) {
        if bytes >= 0 {
            self.unpooled_dirty.fetch_add(bytes as usize, Ordering::Relaxed);
        } else {
            self.unpooled_dirty.fetch_sub(bytes.unsigned_abs(), Ordering::Relaxed);
        }
    }

    /// Counters and sizes.
    pub fn stats(&self) -> PoolStats {
        let s = self.state.lock();
        PoolStats {
            capacity_bytes: self.capacity as u64,
            used_bytes: s.used as u64,
            dirty_bytes: (s.dirty + self.unpooled_dirty.load(Ordering::Relaxed)) as u64,
            pages: s.frames.len() as u64,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Evicts clean frames until the pool fits; returns their nodes for the caller to
    /// drop after releasing the lock.
    fn evict(&self, s: &mut State) -> Vec<Arc<Node>> {
        let mut evicted = Vec::new();
        let a1in_target = self.capacity / 4;
        let ghost_limit = (self.capacity / 2 / super::node::PAGE_SIZE).max(16);
        // Dirty frames are skipped and put back. Each call looks at a bounded number of
        // queue entries: when most of the pool is dirty (waiting for a checkpoint), a full
        // pass per call made every page fetch walk the whole pool (a third of the CPU of
        // a read-only load after a write-heavy one). The pool then stays a little over
        // its size until the checkpoint cleans frames, as it must with dirty frames anyway.
        let mut steps = 0;
        while s.used > self.capacity && steps < MAX_EVICTION_STEPS {
            steps += 1;
            let from_a1in = s.a1in_bytes > a1in_target || s.am.is_empty();
            let entry = if from_a1in { s.a1in.pop_front() } else { s.am.pop_front() };
            let Some((key, stamp)) = entry else { break };
            let Some(frame) = s.frames.get(&key) else { continue };
            if frame.stamp != stamp {
                continue; // stale queue entry
            }
            if frame.dirty {
                if from_a1in {
                    s.a1in.push_back((key, stamp))
                } else {
                    s.am.push_back((key, stamp))
                }
                continue;
            }
            if let Some(frame) = s.frames.remove(&key) {
                s.forget(&frame);
                evicted.push(frame.node);
                if frame.queue == Queue::A1in {
                    s.a1out.push_back(key);
                    s.a1out_set.insert(key);
                    while s.a1out.len() > ghost_limit {
                        if let Some(old) = s.a1out.pop_front() {
                            s.a1out_set.remove(&old);
                        }
                    }
                }
            }
        }
        evicted
    }
}

/// Queue entries one eviction looks at, at most.
const MAX_EVICTION_STEPS: usize = 256;

impl State {
    /// Updates the counters for a frame that leaves the pool (its queue entries go stale).
    fn forget(&mut self, frame: &Frame) {
        self.used -= frame.size;
        if frame.dirty {
            self.dirty -= frame.size;
        }
        if frame.queue == Queue::A1in {
            self.a1in_bytes -= frame.size;
        }
    }

    /// Drops stale queue entries once they outnumber live frames.
    fn compact_if_needed(&mut self) {
        if self.a1in.len() + self.am.len() <= 2 * self.frames.len() + 64 {
            return;
        }
        let frames = &self.frames;
        let live = |(key, stamp): &(FrameKey, u64)| frames.get(key).is_some_and(|f| f.stamp == *stamp);
        self.a1in.retain(live);
        self.am.retain(live);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::node::{Leaf, LeafValue};

    fn node(bytes: usize) -> Arc<Node> {
        let mut leaf = Leaf::empty();
        leaf.push(b"k".to_vec(), LeafValue::Inline(vec![0; bytes]));
        Arc::new(Node::Leaf(leaf))
    }

    #[test]
    fn stays_within_its_bound_and_counts_hits() {
        let pool = BufferPool::new(64 * 1024);
        for i in 0..100 {
            pool.insert((1, i), node(4000), false);
        }
        let stats = pool.stats();
        assert!(stats.used_bytes <= 64 * 1024, "{stats:?}");
        assert!(pool.get((1, 99)).is_some());
        assert!(pool.get((1, 0)).is_none());
        let stats = pool.stats();
        assert_eq!((stats.hits, stats.misses), (1, 1));
    }

    #[test]
    fn a_scan_does_not_evict_proven_pages() {
        let pool = BufferPool::new(64 * 1024);
        // Pages 0..3 are used twice: the second use (after they fell out of A1in) proves them.
        for round in 0..2 {
            for i in 0..4 {
                if pool.get((1, i)).is_none() {
                    pool.insert((1, i), node(4000), false);
                }
            }
            for i in 100..110 {
                pool.insert((1, i + round * 100), node(4000), false);
            }
        }
        for i in 0..4 {
            pool.insert((1, i), node(4000), false);
        }
        // A long scan of pages seen once.
        for i in 1000..1100 {
            pool.insert((1, i), node(4000), false);
        }
        for i in 0..4 {
            assert!(pool.get((1, i)).is_some(), "hot page {i} was evicted by the scan");
        }
    }

    #[test]
    fn dirty_pages_are_never_evicted() {
        let pool = BufferPool::new(64 * 1024);
        pool.insert((1, 0), node(4000), true);
        for i in 1..100 {
            pool.insert((1, i), node(4000), false);
        }
        assert!(pool.get((1, 0)).is_some());
        pool.mark_clean((1, 0));
        for i in 100..200 {
            pool.insert((1, i), node(4000), false);
        }
        assert!(pool.get((1, 0)).is_none(), "once clean it is evictable");
        assert_eq!(pool.stats().dirty_bytes, 0);
    }
}
