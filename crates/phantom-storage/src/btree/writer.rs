//! The write path: inserts with splits, deletes with merges, overflow chains.
//!
//! A [`Writer`] runs with the tree's write lock held for one batch. Nodes it changes are
//! *checked out* of the buffer pool (removed, so the writer owns them and edits them in
//! place without copying) and returned as dirty at the end of the batch, or earlier when
//! the batch has checked out many of them, so a huge batch does not hold unbounded memory
//! outside the pool's accounting.
//!
//! Deletes merge a node that fell below a quarter page with a sibling when the two fit in
//! one page. Nodes are not rebalanced otherwise: a node stays under-full only next to a
//! sibling that is more than three-quarters full, which bounds wasted space without the
//! complexity (and the separator-growth cases) of redistribution.

use std::sync::Arc;

use super::node::{
    Internal, Leaf, LeafValue, MAX_INLINE_VALUE, MAX_KEY_LEN, MIN_FILL, NO_PAGE, Node, PAGE_HEADER,
    PAGE_SIZE, PageId, kind,
};
use super::{Inner, PageMap, State};
use crate::{Result, StorageError};

/// Data bytes per overflow page: header, next id, length, data.
pub const OVERFLOW_DATA: usize = PAGE_SIZE - PAGE_HEADER - 12;

/// Return checked-out nodes to the pool once this many are out.
const MAX_CHECKED_OUT: usize = 256;

/// Applies changes to a tree whose write lock the caller holds.
pub struct Writer<'a> {
    pub inner: &'a Inner,
    pub state: &'a mut State,
    out: PageMap<PageId, Node>,
    /// The path to the leaf the last put went to, while the tree's shape is unchanged:
    /// sequential inserts (bulk loads, log replay) skip the descent from the root.
    hint: Option<(Vec<(PageId, usize)>, PageId)>,
}

impl<'a> Writer<'a> {
    pub fn new(inner: &'a Inner, state: &'a mut State) -> Writer<'a> {
        Writer { inner, state, out: PageMap::default(), hint: None }
    }

    /// Looks at a node without checking it out.
    fn with_node<T>(&self, id: PageId, f: impl FnOnce(&Node) -> T) -> Result<T> {
        match self.out.get(&id) {
            Some(node) => Ok(f(node)),
            None => Ok(f(&*self.inner.node(self.state, id)?)),
        }
    }

    /// Takes ownership of node `id` for editing; it goes back to the pool as dirty.
    fn checkout(&mut self, id: PageId) -> Result<&mut Node> {
        if !self.out.contains_key(&id) {
            let node = match self.inner.pool.remove((self.inner.tree, id)) {
                Some((node, _)) => Arc::unwrap_or_clone(node),
                None => Arc::unwrap_or_clone(self.inner.load(self.state, id)?),
            };
            self.out.insert(id, node);
        }
        self.state.dirty.insert(id);
        self.out.get_mut(&id).ok_or_else(|| StorageError::Corrupt {
            path: self.inner.path.clone(),
            offset: 0,
            reason: format!("page {id} vanished while checked out"),
        })
    }

    fn leaf(&mut self, id: PageId) -> Result<&mut Leaf> {
        let path = self.inner.path.clone();
        match self.checkout(id)? {
            Node::Leaf(l) => Ok(l),
            Node::Internal(_) => {
                Err(StorageError::Corrupt { path, offset: 0, reason: format!("page {id} should be a leaf") })
            }
        }
    }

    fn internal(&mut self, id: PageId) -> Result<&mut Internal> {
        let path = self.inner.path.clone();
        match self.checkout(id)? {
            Node::Internal(n) => Ok(n),
            Node::Leaf(_) => Err(StorageError::Corrupt {
                path,
                offset: 0,
                reason: format!("page {id} should be an internal node"),
            }),
        }
    }

    /// A new node with a fresh id, checked out.
    fn create(&mut self, node: Node) -> PageId {
        let id = self.state.pages.allocate();
        self.out.insert(id, node);
        self.state.dirty.insert(id);
        id
    }

    /// Frees node `id` (its content is gone).
    fn destroy(&mut self, id: PageId) {
        self.out.remove(&id);
        self.inner.pool.remove((self.inner.tree, id));
        self.state.dirty.remove(&id);
        self.inner.free_page(self.state, id);
    }

    /// Returns every checked-out node to the pool, dirty.
    pub fn finish(&mut self) {
        self.hint = None;
        for (id, node) in self.out.drain() {
            self.inner.pool.insert((self.inner.tree, id), Arc::new(node), true);
        }
    }

    /// The path from the root to the leaf for `key`: (internal node, child index) pairs,
    /// and the leaf.
    fn descend(&self, key: &[u8]) -> Result<(Vec<(PageId, usize)>, PageId)> {
        let mut path = Vec::new();
        let mut id = self.state.root;
        loop {
            let step = self.with_node(id, |node| match node {
                Node::Leaf(_) => None,
                Node::Internal(n) => {
                    let i = n.child_index(key);
                    Some((i, n.children[i]))
                }
            })?;
            match step {
                None => return Ok((path, id)),
                Some((i, child)) => {
                    path.push((id, i));
                    id = child;
                }
            }
        }
    }

    /// The hinted leaf and its path, if `key` certainly belongs there: between the leaf's
    /// first and last keys, or past its first key when it is the rightmost leaf.
    fn hinted_leaf(&mut self, key: &[u8]) -> Option<(Vec<(PageId, usize)>, PageId)> {
        let (_, leaf_id) = self.hint.as_ref()?;
        let Some(Node::Leaf(leaf)) = self.out.get(leaf_id) else { return None };
        let (first, last) = (leaf.keys.first()?, leaf.keys.last()?);
        let inside = key >= first.as_slice() && (key <= last.as_slice() || leaf.next == NO_PAGE);
        if inside { self.hint.take() } else { None }
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        if key.len() > MAX_KEY_LEN {
            return Err(StorageError::TooLarge { what: "key", len: key.len(), limit: MAX_KEY_LEN });
        }
        let (key_len, value_len_new) = (key.len(), value.len());
        let (path, leaf_id) = match self.hinted_leaf(&key) {
            Some(found) => found,
            None => self.descend(&key)?,
        };
        let stored = if value.len() > MAX_INLINE_VALUE {
            self.write_overflow(&value)?
        } else {
            LeafValue::Inline(value)
        };
        let leaf = self.leaf(leaf_id)?;
        let (replaced, at) = match leaf.keys.binary_search_by(|k| k.as_slice().cmp(&key)) {
            Ok(i) => (Some(leaf.replace_value(i, stored)), i),
            Err(i) => {
                leaf.insert(i, key, stored);
                (None, i)
            }
        };
        let appending = at + 1 == leaf.keys.len() && leaf.next == NO_PAGE;
        let overfull = leaf.encoded_len() > PAGE_SIZE;
        match replaced {
            Some(old) => {
                self.state.live_bytes =
                    self.state.live_bytes.saturating_sub(value_len(&old)) + value_len_new as u64;
                self.free_value(old)?;
            }
            None => {
                self.state.entries += 1;
                self.state.live_bytes += (key_len + value_len_new) as u64;
            }
        }
        if overfull {
            self.hint = None;
            self.split_leaf(path, leaf_id, appending)?;
        } else {
            self.hint = Some((path, leaf_id));
        }
        self.spill_if_needed();
        Ok(())
    }

    /// Removes `key` if present.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        let (path, leaf_id) = self.descend(key)?;
        // Look before checking out, so deleting a missing key dirties nothing.
        let present = self.with_node(leaf_id, |node| match node {
            Node::Leaf(l) => l.keys.binary_search_by(|k| k.as_slice().cmp(key)).ok(),
            Node::Internal(_) => None,
        })?;
        let Some(i) = present else { return Ok(()) };
        let leaf = self.leaf(leaf_id)?;
        let (_, old) = leaf.remove(i);
        let underfull = leaf.encoded_len() < MIN_FILL;
        self.state.entries = self.state.entries.saturating_sub(1);
        self.state.live_bytes = self.state.live_bytes.saturating_sub((key.len() as u64) + value_len(&old));
        self.free_value(old)?;
        if underfull && !path.is_empty() {
            self.hint = None;
            self.merge(path, leaf_id)?;
        }
        self.spill_if_needed();
        Ok(())
    }

    fn spill_if_needed(&mut self) {
        if self.out.len() >= MAX_CHECKED_OUT {
            self.finish();
        }
    }

    fn split_leaf(&mut self, path: Vec<(PageId, usize)>, id: PageId, appending: bool) -> Result<()> {
        let leaf = self.leaf(id)?;
        let mut right = leaf.split(appending);
        let separator = right.keys[0].clone();
        right.prev = id;
        right.next = leaf.next;
        let old_next = leaf.next;
        let right_id = self.create(Node::Leaf(right));
        self.leaf(id)?.next = right_id;
        if old_next != NO_PAGE {
            self.leaf(old_next)?.prev = right_id;
        }
        self.insert_into_parent(path, id, separator, right_id)
    }

    fn insert_into_parent(
        &mut self,
        mut path: Vec<(PageId, usize)>,
        left: PageId,
        key: Vec<u8>,
        right: PageId,
    ) -> Result<()> {
        let Some((parent_id, index)) = path.pop() else {
            let root = Internal { keys: vec![key], children: vec![left, right] };
            self.state.root = self.create(Node::Internal(root));
            return Ok(());
        };
        let parent = self.internal(parent_id)?;
        parent.keys.insert(index, key);
        parent.children.insert(index + 1, right);
        if parent.encoded_len() <= PAGE_SIZE {
            return Ok(());
        }
        let appending = index + 1 == parent.keys.len();
        let (up, new_right) = parent.split(appending);
        let new_right_id = self.create(Node::Internal(new_right));
        self.insert_into_parent(path, parent_id, up, new_right_id)
    }

    /// Merges under-full node `id` (the last step of `path`) with a sibling if the two fit
    /// in a page, then fixes the parent, recursively.
    fn merge(&mut self, mut path: Vec<(PageId, usize)>, id: PageId) -> Result<()> {
        let Some(&(parent_id, index)) = path.last() else { return Ok(()) };
        let parent = self.internal(parent_id)?.clone();
        if parent.children.len() < 2 {
            return Ok(());
        }
        // Merge the pair (left, right) = (child i, child i + 1) that contains `id`.
        let left_index = if index > 0 { index - 1 } else { 0 };
        let (left_id, right_id) = (parent.children[left_index], parent.children[left_index + 1]);
        debug_assert!(left_id == id || right_id == id);
        let separator_len = parent.keys[left_index].len();
        let left = self.with_node(left_id, |n| (n.encoded_len(), matches!(n, Node::Leaf(_))))?;
        let right = self.with_node(right_id, |n| (n.encoded_len(), matches!(n, Node::Leaf(_))))?;
        let fits = match (left, right) {
            // Merged: both nodes' entries under one fixed part.
            ((l, true), (r, true)) => l + r - (PAGE_HEADER + 18) <= PAGE_SIZE,
            // Merged: plus the separator pulled down from the parent.
            ((l, false), (r, false)) => l + r - (PAGE_HEADER + 10) + separator_len + 10 <= PAGE_SIZE,
            _ => false,
        };
        if !fits {
            return Ok(());
        }
        self.checkout(right_id)?;
        let right = self.out.remove(&right_id).ok_or_else(|| StorageError::Corrupt {
            path: self.inner.path.clone(),
            offset: 0,
            reason: format!("page {right_id} vanished while merging"),
        })?;
        match right {
            Node::Leaf(r) => {
                let next = r.next;
                let left = self.leaf(left_id)?;
                left.append(r);
                left.next = next;
                if next != NO_PAGE {
                    self.leaf(next)?.prev = left_id;
                }
            }
            Node::Internal(r) => {
                let separator = parent.keys[left_index].clone();
                let left = self.internal(left_id)?;
                left.keys.push(separator);
                left.keys.extend(r.keys);
                left.children.extend(r.children);
            }
        }
        self.destroy(right_id);
        let parent = self.internal(parent_id)?;
        parent.keys.remove(left_index);
        parent.children.remove(left_index + 1);
        let (only_child, underfull) =
            ((parent.children.len() == 1).then(|| parent.children[0]), parent.encoded_len() < MIN_FILL);
        path.pop();
        if path.is_empty() {
            // The parent is the root: a root with one child hands the role down.
            if let Some(child) = only_child {
                self.destroy(parent_id);
                self.state.root = child;
            }
            return Ok(());
        }
        if underfull { self.merge(path, parent_id) } else { Ok(()) }
    }

    /// Writes a long value to a chain of overflow pages. They are written straight to the
    /// file (never overwritten: a new value gets a new chain), so they bypass the pool; on
    /// a full disk the tree keeps them in memory until write-back can write them.
    fn write_overflow(&mut self, value: &[u8]) -> Result<LeafValue> {
        let chunks: Vec<&[u8]> = value.chunks(OVERFLOW_DATA).collect();
        let ids: Vec<PageId> = chunks.iter().map(|_| self.state.pages.allocate()).collect();
        let mut page = vec![0u8; PAGE_SIZE];
        for (i, chunk) in chunks.iter().enumerate() {
            page.fill(0);
            super::node::write_header(&mut page, kind::OVERFLOW, ids[i]);
            let next = ids.get(i + 1).copied().unwrap_or(NO_PAGE);
            page[PAGE_HEADER..PAGE_HEADER + 8].copy_from_slice(&next.to_le_bytes());
            page[PAGE_HEADER + 8..PAGE_HEADER + 12].copy_from_slice(&(chunk.len() as u32).to_le_bytes());
            page[PAGE_HEADER + 12..PAGE_HEADER + 12 + chunk.len()].copy_from_slice(chunk);
            self.inner.write_overflow_page(self.state, ids[i], &mut page)?;
        }
        Ok(LeafValue::Overflow { len: value.len() as u64, first: ids.first().copied().unwrap_or(NO_PAGE) })
    }

    fn free_value(&mut self, value: LeafValue) -> Result<()> {
        if let LeafValue::Overflow { first, .. } = value {
            for id in self.inner.overflow_chain(self.state, first)? {
                self.inner.free_page(self.state, id);
            }
        }
        Ok(())
    }
}

fn value_len(value: &LeafValue) -> u64 {
    match value {
        LeafValue::Inline(v) => v.len() as u64,
        LeafValue::Overflow { len, .. } => *len,
    }
}
