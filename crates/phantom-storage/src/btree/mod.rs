//! The B+tree engine: one file per tree, a shared buffer pool, copy-on-write checkpoints.
//!
//! ## Layout
//!
//! - [`node`]: leaf and internal nodes and their page encoding; keys up to 2 KiB, values
//!   above 1 KiB in chains of overflow pages (up to any size the WAL accepts).
//! - [`file`]: checksummed page I/O, with fault injection for tests.
//! - [`pages`]: the page table (logical -> physical pages) and the checkpoint protocol;
//!   read its module docs for why the file is always a consistent tree.
//! - [`pool`]: the buffer pool shared by every tree of a database (2Q eviction).
//! - [`writer`]: inserts, deletes, splits and merges.
//! - [`scan`]: range scans in both directions over the linked leaves.
//!
//! ## Durability
//!
//! The tree is not durable on its own between checkpoints: changes since the last one live
//! in dirty pages (in the pool, or written to unprotected pages of the file) and in the
//! write-ahead log. [`Engine::checkpoint`] makes the file catch up; recovery replays the
//! log records after the LSN the header names. Replaying a record that the checkpoint
//! already contains is harmless: the layer above only writes immutable versions, so
//! applying a batch twice gives the same tree.
//!
//! ## Failures
//!
//! What a failure does depends on what the file can still be trusted with:
//!
//! - A failed page *write* (a full disk, say) during write-back or a checkpoint changes
//!   nothing the last durable checkpoint refers to: pages are only ever written to
//!   unprotected places, and the header to the older slot. The pages stay dirty in the
//!   pool and are written again later ([`BufferPool::write_back`] paces the retries); a
//!   failed checkpoint leaves the previous one in charge. Write-back during a batch never
//!   fails the batch: the batch is already in memory, and its commit in the log. The one
//!   write inside a batch, of a long value's overflow pages, keeps a page it cannot write
//!   in memory beside the pool (counted with its dirty pages), to be written with them.
//! - A failed *fsync* is different: the kernel may have dropped pages it had accepted, so
//!   the file may not hold what the tree believes it wrote. So is a batch that failed
//!   halfway (an unreadable page): memory then holds half a commit. Either puts the tree
//!   into its failed state, which refuses changes until the database is reopened and
//!   recovered from the log.
//!
//! [`Engine::check_writable`] is how the layer above learns, *before* logging a commit,
//! that the tree cannot take it: failed, or its pool full of dirty pages that cannot be
//! written.
//! Which header the file opened from, and whether a damaged slot was stepped around, is
//! kept as its [`RecoveryPoint`]: whether an older slot may stand in for a damaged newer
//! one depends on the log, which recovery in the layer above checks.
//!
//! ## Concurrency
//!
//! Each tree has a reader-writer lock. Readers (gets and scan chunks) share it; a batch
//! or a checkpoint takes it exclusively. The lock is per tree, so a slow checkpoint of one
//! table never stalls another; scans hold it only while they copy the next chunk of
//! entries. Within one tree, a checkpoint's I/O does block readers: making checkpoints
//! run beside readers (by freezing dirty pages first) is future work.

mod file;
mod node;
mod pages;
mod pool;
mod scan;
mod writer;

#[cfg(test)]
mod tests;

pub use file::Faults;
pub use pool::{BufferPool, PoolStats};

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use self::file::PageFile;
use self::node::{Leaf, LeafValue, NO_PAGE, Node, PAGE_HEADER, PAGE_SIZE, PageId, kind};
use self::pages::{Header, Pages};
use self::writer::Writer;
use crate::engine::{Engine, EngineStats, RecoveryPoint, ScanIterator, WriteBatch, WriteOp};
use crate::wal::Lsn;
use crate::{Result, StorageError};

/// Hashes page ids (small, dense integers) with a multiply-rotate step (as FxHash does):
/// one multiplication instead of SipHash's rounds, and well spread for hash tables.
/// There is no untrusted input to defend against here.
#[derive(Clone, Copy, Debug, Default)]
pub struct PageIdHasher(u64);

impl Hasher for PageIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A map keyed by page ids.
pub type PageMap<K, V> = HashMap<K, V, BuildHasherDefault<PageIdHasher>>;
/// A set of page ids.
pub type PageSet<K> = HashSet<K, BuildHasherDefault<PageIdHasher>>;

/// A B+tree stored in one file.
#[derive(Debug, Clone)]
pub struct BTree {
    inner: Arc<Inner>,
}

/// What scans share with the tree.
#[derive(Debug)]
pub struct Inner {
    /// This tree's id in the buffer pool.
    tree: u64,
    pool: Arc<BufferPool>,
    path: PathBuf,
    /// What the file held when it was opened.
    opened: RecoveryPoint,
    state: RwLock<State>,
}

/// Everything the tree lock protects.
#[derive(Debug)]
pub struct State {
    pages: Pages,
    root: PageId,
    /// Nodes changed since they were last written.
    dirty: PageSet<PageId>,
    entries: u64,
    live_bytes: u64,
    /// The highest LSN of an applied batch.
    applied_lsn: Lsn,
    /// Set when writing pages failed: the file may not hold what memory says it does, so
    /// the tree refuses further changes rather than risk a checkpoint over lost writes.
    failed: Option<String>,
    /// Overflow pages that could not be written (a full disk): kept here, sealed, until
    /// write-back writes them. Overflow pages bypass the pool, so these are its only copy.
    unwritten: PageMap<PageId, Vec<u8>>,
}

/// Details beyond [`EngineStats`], for `phantom_storage_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BTreeStats {
    pub file_pages: u64,
    pub free_pages: u64,
    pub dirty_pages: u64,
    pub checkpoint_lsn: Lsn,
}

impl BTree {
    /// Opens (or creates) the tree in file `path`, caching its pages in `pool`.
    pub fn open(path: &Path, pool: Arc<BufferPool>) -> Result<BTree> {
        BTree::open_with_faults(path, pool, Faults::none())
    }

    /// Opens with injected I/O faults (tests).
    pub fn open_with_faults(path: &Path, pool: Arc<BufferPool>, faults: Arc<Faults>) -> Result<BTree> {
        let file = PageFile::open(path, faults)?;
        let (mut pages, header) = Pages::open(file)?;
        let tree = pool.register_tree();
        let mut dirty = PageSet::default();
        let (root, entries, live_bytes, lsn) = match header {
            Some(h) => (h.root, h.entries, h.live_bytes, h.checkpoint_lsn),
            None => {
                let root = pages.allocate();
                pool.insert((tree, root), Arc::new(Node::Leaf(Leaf::empty())), true);
                dirty.insert(root);
                (root, 0, 0, 0)
            }
        };
        let opened = recovery_point(path, &pages, header);
        let state = State {
            pages,
            root,
            dirty,
            entries,
            live_bytes,
            applied_lsn: lsn,
            failed: None,
            unwritten: PageMap::default(),
        };
        Ok(BTree {
            inner: Arc::new(Inner {
                tree,
                pool,
                path: path.to_path_buf(),
                opened,
                state: RwLock::new(state),
            }),
        })
    }

    /// What the file held when it was opened: the checkpoint it opened from and any
    /// damaged header slot (see [`pages`] for why the tree cannot judge that alone).
    pub fn recovery_point(&self) -> &RecoveryPoint {
        &self.inner.opened
    }

    /// Page counts and the checkpoint position.
    pub fn btree_stats(&self) -> BTreeStats {
        let state = self.inner.state.read();
        BTreeStats {
            file_pages: state.pages.file_pages(),
            free_pages: state.pages.free_pages(),
            dirty_pages: (state.dirty.len() + state.unwritten.len()) as u64,
            checkpoint_lsn: state.pages.header.checkpoint_lsn,
        }
    }

    /// Forgets the tree's cached pages; the caller deletes the file.
    pub fn evict_all(&self) {
        self.inner.pool.remove_tree(self.inner.tree);
    }
}

/// The recovery point of a file just opened, with the header in charge (if any).
fn recovery_point(path: &Path, pages: &Pages, header: Option<Header>) -> RecoveryPoint {
    let slots = &pages.slots;
    let source = match (header, slots.in_charge) {
        (Some(h), Some(slot)) => format!("header slot {slot} (checkpoint {})", h.sequence),
        _ => "no completed checkpoint".to_string(),
    };
    let offset = slots.damaged.as_ref().map(|(slot, _)| *slot).or(slots.in_charge).unwrap_or(0);
    RecoveryPoint {
        covered_lsn: header.map_or(0, |h| h.checkpoint_lsn),
        path: path.to_path_buf(),
        offset: offset * PAGE_SIZE as u64,
        source,
        damage: slots.damaged.as_ref().map(|(_, why)| why.clone()),
    }
}

impl Inner {
    fn corrupt(&self, page: PageId, reason: impl Into<String>) -> StorageError {
        StorageError::Corrupt {
            path: self.path.clone(),
            offset: page * PAGE_SIZE as u64,
            reason: reason.into(),
        }
    }

    /// Node `id`, from the pool or else from the file (then cached).
    fn node(&self, state: &State, id: PageId) -> Result<Arc<Node>> {
        if let Some(node) = self.pool.get((self.tree, id)) {
            return Ok(node);
        }
        let node = self.load(state, id)?;
        self.pool.insert((self.tree, id), node.clone(), false);
        Ok(node)
    }

    /// Reads and decodes node `id` from the file.
    fn load(&self, state: &State, id: PageId) -> Result<Arc<Node>> {
        let location = state.pages.location(id)?;
        let mut buf = vec![0u8; PAGE_SIZE];
        state.pages.file.read(location, &mut buf)?;
        Node::decode(id, &buf).map(Arc::new).map_err(|reason| self.corrupt(location, reason))
    }

    /// The ids of an overflow chain.
    fn overflow_chain(&self, state: &State, first: PageId) -> Result<Vec<PageId>> {
        let mut ids = Vec::new();
        self.walk_overflow(state, first, |id, _| ids.push(id))?;
        Ok(ids)
    }

    /// Reads a value stored in an overflow chain.
    fn read_overflow(&self, state: &State, first: PageId, len: u64) -> Result<Vec<u8>> {
        let mut value = Vec::with_capacity(len as usize);
        self.walk_overflow(state, first, |_, data| value.extend_from_slice(data))?;
        if value.len() as u64 != len {
            return Err(
                self.corrupt(first, format!("overflow chain holds {} bytes, expected {len}", value.len()))
            );
        }
        Ok(value)
    }

    fn walk_overflow(&self, state: &State, first: PageId, mut f: impl FnMut(PageId, &[u8])) -> Result<()> {
        let mut buf = vec![0u8; PAGE_SIZE];
        let mut id = first;
        while id != NO_PAGE {
            let location = match state.unwritten.get(&id) {
                Some(page) => {
                    buf.copy_from_slice(page);
                    state.pages.location(id).unwrap_or(0)
                }
                None => {
                    let location = state.pages.location(id)?;
                    state.pages.file.read(location, &mut buf)?;
                    location
                }
            };
            let (k, stored) = node::read_header(&buf);
            if k != kind::OVERFLOW || stored != id {
                return Err(self.corrupt(location, format!("expected overflow page {id}")));
            }
            let mut r = node::Reader { bytes: &buf[PAGE_HEADER..], pos: 0 };
            let (next, len) = r
                .u64()
                .and_then(|n| r.u32().map(|l| (n, l as usize)))
                .map_err(|e| self.corrupt(location, e))?;
            if len > writer::OVERFLOW_DATA {
                return Err(self.corrupt(location, "overflow page length out of range"));
            }
            f(id, &buf[PAGE_HEADER + 12..PAGE_HEADER + 12 + len]);
            id = next;
        }
        Ok(())
    }

    /// A leaf value as bytes.
    fn resolve(&self, state: &State, value: &LeafValue) -> Result<Vec<u8>> {
        match value {
            LeafValue::Inline(v) => Ok(v.clone()),
            LeafValue::Overflow { len, first } => self.read_overflow(state, *first, *len),
        }
    }

    /// The leaf whose key range holds `key` (`None`: the leftmost leaf; with `last`, the
    /// rightmost).
    fn find_leaf(&self, state: &State, key: Option<&[u8]>, last: bool) -> Result<(PageId, Arc<Node>)> {
        let mut id = state.root;
        loop {
            let node = self.node(state, id)?;
            match &*node {
                Node::Leaf(_) => return Ok((id, node)),
                Node::Internal(n) => {
                    id = match key {
                        Some(k) => n.children[n.child_index(k)],
                        None if last => n.children[n.children.len() - 1],
                        None => n.children[0],
                    }
                }
            }
        }
    }

    /// Writes back dirty nodes if the pool's retries allow, as a batch or a commit's
    /// admission asks. A failed write only leaves pages dirty (see the module docs).
    fn write_back_if_allowed(&self, state: &mut State) {
        // Nothing to write says nothing about the disk: no attempt, no success.
        if !self.pool.write_back.ready() || (state.dirty.is_empty() && state.unwritten.is_empty()) {
            return;
        }
        let result = self.write_back(state);
        // Recorded either way; the caller carries on (its batch is applied already).
        let _ = self.note_write_result(state, result);
    }

    /// Records the outcome of writing pages: a success ends a spell of failures; a failed
    /// write starts or continues one; anything else (a failed fsync, damage) fails the
    /// tree. Returns the result again.
    fn note_write_result(&self, state: &mut State, result: Result<()>) -> Result<()> {
        match &result {
            Ok(()) => {
                self.pool.write_back.succeeded();
            }
            Err(e) if e.is_io() && !state.pages.file.sync_failed() => {
                self.pool.write_back.failed(e);
            }
            Err(e) => state.failed = Some(e.to_string()),
        }
        result
    }

    /// Writes overflow page `id` to the file; if a write fails as it may on a full disk
    /// (or one is already failing), keeps the page in memory for write-back instead, so the
    /// batch goes on: its commit is in the log already.
    fn write_overflow_page(&self, state: &mut State, id: PageId, page: &mut [u8]) -> Result<()> {
        if self.pool.write_back.ready() {
            match state.pages.write(id, page) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_io() && !state.pages.file.sync_failed() => self.pool.write_back.failed(&e),
                Err(e) => return Err(e),
            };
        }
        file::seal(page);
        if state.unwritten.insert(id, page.to_vec()).is_none() {
            self.pool.add_unpooled_dirty(PAGE_SIZE as isize);
        }
        Ok(())
    }

    /// Releases page `id`, and any copy of it still waiting to be written.
    fn free_page(&self, state: &mut State, id: PageId) {
        if state.unwritten.remove(&id).is_some() {
            self.pool.add_unpooled_dirty(-(PAGE_SIZE as isize));
        }
        state.pages.free(id);
    }

    /// Writes every dirty node (and every overflow page kept back) to the file, to
    /// unprotected pages, and marks it clean. On an error what is not yet written stays
    /// dirty.
    fn write_back(&self, state: &mut State) -> Result<()> {
        let mut kept: Vec<PageId> = state.unwritten.keys().copied().collect();
        kept.sort_unstable();
        for id in kept {
            let Some(mut page) = state.unwritten.remove(&id) else { continue };
            if let Err(e) = state.pages.write(id, &mut page) {
                state.unwritten.insert(id, page);
                return Err(e);
            }
            self.pool.add_unpooled_dirty(-(PAGE_SIZE as isize));
        }
        let mut buf = vec![0u8; PAGE_SIZE];
        let mut dirty: Vec<PageId> = state.dirty.iter().copied().collect();
        dirty.sort_unstable();
        for id in dirty {
            let node = self
                .pool
                .peek((self.tree, id))
                .ok_or_else(|| self.corrupt(id, "dirty page missing from the pool"))?;
            node.encode(id, &mut buf);
            state.pages.write(id, &mut buf)?;
            state.dirty.remove(&id);
            self.pool.mark_clean((self.tree, id));
        }
        Ok(())
    }

    fn check_failed(&self, state: &State) -> Result<()> {
        match &state.failed {
            Some(reason) => Err(StorageError::Failed { path: self.path.clone(), reason: reason.clone() }),
            None => Ok(()),
        }
    }

    /// An error puts the tree into the failed state.
    fn fail_on_error<T>(&self, state: &mut State, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            state.failed = Some(e.to_string());
        }
        result
    }
}

impl Drop for Inner {
    /// Pages kept back from the file are gone with the tree: the pool stops counting them.
    fn drop(&mut self) {
        let kept = self.state.get_mut().unwritten.len();
        self.pool.add_unpooled_dirty(-((kept * PAGE_SIZE) as isize));
    }
}

impl Engine for BTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let state = self.inner.state.read();
        let (_, leaf) = self.inner.find_leaf(&state, Some(key), false)?;
        let Node::Leaf(leaf) = &*leaf else { return Ok(None) };
        match leaf.keys.binary_search_by(|k| k.as_slice().cmp(key)) {
            Ok(i) => self.inner.resolve(&state, &leaf.values[i]).map(Some),
            Err(_) => Ok(None),
        }
    }

    fn scan(&self, range: (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> ScanIterator {
        Box::new(crate::chunked::ChunkedScan::new(scan::TreeChunks { tree: self.inner.clone() }, range))
    }

    fn apply(&self, batch: WriteBatch, lsn: Lsn) -> Result<()> {
        let mut state = self.inner.state.write();
        self.inner.check_failed(&state)?;
        let mut writer = Writer::new(&self.inner, &mut state);
        let mut result = Ok(());
        for op in batch.ops {
            result = match op {
                WriteOp::Put(k, v) => writer.put(k, v),
                WriteOp::Delete(k) => writer.delete(&k),
            };
            if result.is_err() {
                break;
            }
        }
        writer.finish();
        // A batch that failed halfway (a key too large, an unreadable page) has partly
        // changed the tree: it must not be checkpointed.
        self.inner.fail_on_error(&mut state, result)?;
        state.applied_lsn = state.applied_lsn.max(lsn);
        if self.inner.pool.wants_write_back() {
            self.inner.write_back_if_allowed(&mut state);
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        self.inner.check_failed(&self.inner.state.read())?;
        let pool = &self.inner.pool;
        if !pool.dirty_limit_reached() {
            return Ok(());
        }
        // This tree's own dirty pages may be what holds the pool up.
        {
            let mut state = self.inner.state.write();
            self.inner.write_back_if_allowed(&mut state);
            self.inner.check_failed(&state)?;
        }
        match pool.write_back.refusal() {
            Some(refusal) if pool.dirty_limit_reached() => Err(refusal),
            _ => Ok(()),
        }
    }

    fn max_key_len(&self) -> Option<usize> {
        Some(node::MAX_KEY_LEN)
    }

    fn checkpoint(&self, upto: Lsn) -> Result<()> {
        let mut state = self.inner.state.write();
        self.inner.check_failed(&state)?;
        if state.dirty.is_empty()
            && state.unwritten.is_empty()
            && state.pages.header.checkpoint_lsn >= upto
            && state.pages.header.sequence > 0
        {
            return Ok(());
        }
        let result = self.inner.write_back(&mut state).and_then(|()| {
            let header = Header {
                checkpoint_lsn: upto.max(state.pages.header.checkpoint_lsn),
                root: state.root,
                entries: state.entries,
                live_bytes: state.live_bytes,
                ..Header::default()
            };
            state.pages.commit_checkpoint(header)
        });
        self.inner.note_write_result(&mut state, result)
    }

    fn persisted_lsn(&self) -> Lsn {
        self.inner.state.read().pages.header.checkpoint_lsn
    }

    fn stats(&self) -> EngineStats {
        let state = self.inner.state.read();
        EngineStats {
            kind: "btree",
            keys: state.entries,
            live_bytes: state.live_bytes,
            disk_bytes: state.pages.file.size_bytes(),
        }
    }
}
