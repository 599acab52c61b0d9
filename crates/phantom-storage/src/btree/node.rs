//! Nodes: the in-memory form of leaf and internal pages, and their page encoding.
//!
//! In memory a node is a pair of sorted vectors, easy to search and edit. On disk it is a
//! page of [`PAGE_SIZE`] bytes:
//!
//! ```text
//!   common header (16 bytes): crc32c u32 | kind u8 | 3 reserved | page id u64
//!   leaf:      prev u64 | next u64 | count u16 | count x entry
//!              entry = varint key_len, key, value
//!              value = varint (len << 1), bytes          (inline)
//!                    | varint 1, total_len u64, first u64 (overflow chain)
//!   internal:  count u16 | child0 u64 | count x (varint key_len, key, child u64)
//! ```
//!
//! Child `i + 1` of an internal node holds the keys `>= keys[i]`. All integers are
//! little-endian. Keys are limited to [`MAX_KEY_LEN`] and inline values to
//! [`MAX_INLINE_VALUE`], so any two entries fit in half a page and a split always produces
//! two nodes that fit.

use crate::varint;

/// A logical page id: stable for the life of a node, mapped to a file position by the
/// page table.
pub type PageId = u64;

/// "No page": the end of a sibling chain or an overflow chain.
pub const NO_PAGE: PageId = u64::MAX;

/// Bytes per page, on disk and as the unit of the buffer pool.
pub const PAGE_SIZE: usize = 8192;

/// Bytes of the header every page starts with.
pub const PAGE_HEADER: usize = 16;

/// The longest key the tree accepts.
pub const MAX_KEY_LEN: usize = 2048;

/// Values longer than this live in a chain of overflow pages.
pub const MAX_INLINE_VALUE: usize = 1024;

/// A node smaller than this after a delete is merged with or refilled from a sibling.
pub const MIN_FILL: usize = PAGE_SIZE / 4;

/// Page kinds, stored in the header.
pub mod kind {
    pub const LEAF: u8 = 1;
    pub const INTERNAL: u8 = 2;
    pub const OVERFLOW: u8 = 3;
    pub const PAGE_TABLE: u8 = 4;
}

/// A value as a leaf stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeafValue {
    /// Short values live in the leaf.
    Inline(Vec<u8>),
    /// Long values live in a chain of overflow pages starting at `first`.
    Overflow { len: u64, first: PageId },
}

impl LeafValue {
    fn encoded_len(&self) -> usize {
        match self {
            LeafValue::Inline(v) => varint::len((v.len() as u64) << 1) + v.len(),
            LeafValue::Overflow { .. } => 1 + 16,
        }
    }
}

/// A leaf: keys and their values, linked to its neighbours for scans. Entries change
/// only through the methods below, which keep the encoded size current (every insert
/// asks for it, and recounting a whole leaf each time was a quarter of the write path).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leaf {
    pub keys: Vec<Vec<u8>>,
    pub values: Vec<LeafValue>,
    pub prev: PageId,
    pub next: PageId,
    /// Bytes of the encoded page.
    size: usize,
}

/// An internal node: `children.len() == keys.len() + 1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Internal {
    pub keys: Vec<Vec<u8>>,
    pub children: Vec<PageId>,
}

/// A tree node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Leaf(Leaf),
    Internal(Internal),
}

fn leaf_entry_len(key: &[u8], value: &LeafValue) -> usize {
    varint::len(key.len() as u64) + key.len() + value.encoded_len()
}

fn internal_entry_len(key: &[u8]) -> usize {
    varint::len(key.len() as u64) + key.len() + 8
}

const LEAF_FIXED: usize = PAGE_HEADER + 8 + 8 + 2;
const INTERNAL_FIXED: usize = PAGE_HEADER + 2 + 8;

impl Leaf {
    /// An empty leaf without neighbours.
    pub fn empty() -> Leaf {
        Leaf { keys: Vec::new(), values: Vec::new(), prev: NO_PAGE, next: NO_PAGE, size: LEAF_FIXED }
    }

    /// Bytes of the encoded page (at most [`PAGE_SIZE`] for a valid node).
    pub fn encoded_len(&self) -> usize {
        self.size
    }

    /// Adds an entry at the end (keys must stay sorted).
    pub fn push(&mut self, key: Vec<u8>, value: LeafValue) {
        self.size += leaf_entry_len(&key, &value);
        self.keys.push(key);
        self.values.push(value);
    }

    /// Inserts an entry at position `i`.
    pub fn insert(&mut self, i: usize, key: Vec<u8>, value: LeafValue) {
        self.size += leaf_entry_len(&key, &value);
        self.keys.insert(i, key);
        self.values.insert(i, value);
    }

    /// Replaces the value at `i`, returning the old one.
    pub fn replace_value(&mut self, i: usize, value: LeafValue) -> LeafValue {
        self.size = self.size + value.encoded_len() - self.values[i].encoded_len();
        std::mem::replace(&mut self.values[i], value)
    }

    /// Removes the entry at `i`.
    pub fn remove(&mut self, i: usize) -> (Vec<u8>, LeafValue) {
        let (key, value) = (self.keys.remove(i), self.values.remove(i));
        self.size -= leaf_entry_len(&key, &value);
        (key, value)
    }

    /// Appends all of `right`'s entries (its keys follow ours).
    pub fn append(&mut self, right: Leaf) {
        self.size += right.size - LEAF_FIXED;
        self.keys.extend(right.keys);
        self.values.extend(right.values);
    }

    fn recount(&mut self) {
        self.size =
            LEAF_FIXED + self.keys.iter().zip(&self.values).map(|(k, v)| leaf_entry_len(k, v)).sum::<usize>();
    }

    /// Splits an overfull leaf in two and returns the right half; the caller links it in.
    /// `appending` (the last insert went to the end) leaves the left node full, which
    /// keeps sequentially loaded trees dense instead of half empty.
    pub fn split(&mut self, appending: bool) -> Leaf {
        let sizes: Vec<usize> =
            self.keys.iter().zip(&self.values).map(|(k, v)| leaf_entry_len(k, v)).collect();
        let at = split_point(&sizes, LEAF_FIXED, appending);
        let mut right = Leaf {
            keys: self.keys.split_off(at),
            values: self.values.split_off(at),
            prev: NO_PAGE,
            next: NO_PAGE,
            size: 0,
        };
        right.recount();
        self.recount();
        right
    }
}

impl Internal {
    /// Bytes of the encoded page.
    pub fn encoded_len(&self) -> usize {
        INTERNAL_FIXED + self.keys.iter().map(|k| internal_entry_len(k)).sum::<usize>()
    }

    /// The index of the child whose subtree holds `key`.
    pub fn child_index(&self, key: &[u8]) -> usize {
        self.keys.partition_point(|k| k.as_slice() <= key)
    }

    /// Splits an overfull node; returns the key that moves up and the right half.
    pub fn split(&mut self, appending: bool) -> (Vec<u8>, Internal) {
        let sizes: Vec<usize> = self.keys.iter().map(|k| internal_entry_len(k)).collect();
        // The middle key moves up, so both halves keep at least one key.
        let at = split_point(&sizes, INTERNAL_FIXED, appending).clamp(1, self.keys.len() - 1);
        let right_keys = self.keys.split_off(at + 1);
        let up = self.keys.pop().unwrap_or_default();
        let right_children = self.children.split_off(at + 1);
        (up, Internal { keys: right_keys, children: right_children })
    }
}

/// Where to cut entries of the given encoded sizes: in the middle by bytes, or as late as
/// fits when appending. Always leaves at least one entry on each side.
fn split_point(sizes: &[usize], fixed: usize, appending: bool) -> usize {
    let total: usize = sizes.iter().sum();
    let target = if appending { PAGE_SIZE - fixed } else { total / 2 };
    let mut acc = 0;
    for (i, size) in sizes.iter().enumerate() {
        if acc + size > target && i > 0 {
            return i.min(sizes.len() - 1);
        }
        acc += size;
    }
    sizes.len() - 1
}

impl Node {
    /// Bytes of the encoded page.
    pub fn encoded_len(&self) -> usize {
        match self {
            Node::Leaf(l) => l.encoded_len(),
            Node::Internal(n) => n.encoded_len(),
        }
    }

    /// Approximate heap bytes, for the buffer pool's memory bound.
    pub fn memory_size(&self) -> usize {
        // Each Vec costs its bytes plus a header; this errs on the high side.
        const VEC: usize = 24;
        match self {
            Node::Leaf(l) => {
                64 + l
                    .keys
                    .iter()
                    .zip(&l.values)
                    .map(|(k, v)| {
                        VEC + k.len()
                            + VEC
                            + match v {
                                LeafValue::Inline(v) => v.len(),
                                LeafValue::Overflow { .. } => 16,
                            }
                    })
                    .sum::<usize>()
            }
            Node::Internal(n) => 64 + n.keys.iter().map(|k| VEC + k.len() + 8).sum::<usize>(),
        }
    }

    /// Encodes into a page buffer (checksum left for the file layer to seal).
    pub fn encode(&self, id: PageId, page: &mut [u8]) {
        debug_assert!(self.encoded_len() <= PAGE_SIZE, "node of {} bytes", self.encoded_len());
        page.fill(0);
        let mut out = Vec::with_capacity(PAGE_SIZE);
        match self {
            Node::Leaf(l) => {
                out.extend_from_slice(&l.prev.to_le_bytes());
                out.extend_from_slice(&l.next.to_le_bytes());
                out.extend_from_slice(&(l.keys.len() as u16).to_le_bytes());
                for (k, v) in l.keys.iter().zip(&l.values) {
                    varint::put(&mut out, k.len() as u64);
                    out.extend_from_slice(k);
                    match v {
                        LeafValue::Inline(v) => {
                            varint::put(&mut out, (v.len() as u64) << 1);
                            out.extend_from_slice(v);
                        }
                        LeafValue::Overflow { len, first } => {
                            varint::put(&mut out, 1);
                            out.extend_from_slice(&len.to_le_bytes());
                            out.extend_from_slice(&first.to_le_bytes());
                        }
                    }
                }
                write_header(page, kind::LEAF, id);
            }
            Node::Internal(n) => {
                out.extend_from_slice(&(n.keys.len() as u16).to_le_bytes());
                out.extend_from_slice(&n.children[0].to_le_bytes());
                for (k, child) in n.keys.iter().zip(&n.children[1..]) {
                    varint::put(&mut out, k.len() as u64);
                    out.extend_from_slice(k);
                    out.extend_from_slice(&child.to_le_bytes());
                }
                write_header(page, kind::INTERNAL, id);
            }
        }
        page[PAGE_HEADER..PAGE_HEADER + out.len()].copy_from_slice(&out);
    }

    /// Decodes a page whose checksum was verified; `Err` explains a structural problem.
    pub fn decode(id: PageId, page: &[u8]) -> Result<Node, String> {
        let (kind, stored_id) = read_header(page);
        if stored_id != id {
            return Err(format!("page holds page id {stored_id}, expected {id}"));
        }
        let mut r = Reader { bytes: &page[PAGE_HEADER..], pos: 0 };
        match kind {
            kind::LEAF => {
                let prev = r.u64()?;
                let next = r.u64()?;
                let count = r.u16()? as usize;
                let mut leaf = Leaf {
                    keys: Vec::with_capacity(count),
                    values: Vec::with_capacity(count),
                    prev,
                    next,
                    size: LEAF_FIXED,
                };
                for _ in 0..count {
                    let key = r.bytes_with_len()?;
                    let header = varint::get(r.bytes, &mut r.pos).ok_or("bad value header")?;
                    let value = match header {
                        1 => LeafValue::Overflow { len: r.u64()?, first: r.u64()? },
                        h if h & 1 == 0 => LeafValue::Inline(r.take((h >> 1) as usize)?.to_vec()),
                        h => return Err(format!("unknown value header {h}")),
                    };
                    leaf.push(key, value);
                }
                Ok(Node::Leaf(leaf))
            }
            kind::INTERNAL => {
                let count = r.u16()? as usize;
                let mut node =
                    Internal { keys: Vec::with_capacity(count), children: Vec::with_capacity(count + 1) };
                node.children.push(r.u64()?);
                for _ in 0..count {
                    node.keys.push(r.bytes_with_len()?);
                    node.children.push(r.u64()?);
                }
                Ok(Node::Internal(node))
            }
            other => Err(format!("page kind {other} is not a tree node")),
        }
    }
}

/// Writes the common header (the checksum is added when the page is sealed).
pub fn write_header(page: &mut [u8], kind: u8, id: PageId) {
    page[4] = kind;
    page[8..16].copy_from_slice(&id.to_le_bytes());
}

/// Reads a page's kind and id.
pub fn read_header(page: &[u8]) -> (u8, PageId) {
    let mut id = [0u8; 8];
    id.copy_from_slice(&page[8..16]);
    (page[4], u64::from_le_bytes(id))
}

/// A bounds-checked cursor over a page body.
pub struct Reader<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("entry runs past the page end")?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    pub fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, String> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }

    pub fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes_with_len(&mut self) -> Result<Vec<u8>, String> {
        let len = varint::get(self.bytes, &mut self.pos).ok_or("bad length")? as usize;
        Ok(self.take(len)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(n: usize, value_len: usize) -> Leaf {
        let mut l = Leaf::empty();
        for i in 0..n {
            l.push(format!("key{i:06}").into_bytes(), LeafValue::Inline(vec![i as u8; value_len]));
        }
        l
    }

    #[test]
    fn nodes_round_trip_through_a_page() {
        let mut l = leaf(40, 100);
        l.replace_value(3, LeafValue::Overflow { len: 1 << 20, first: 77 });
        l.prev = 5;
        let node = Node::Leaf(l);
        let mut page = vec![0u8; PAGE_SIZE];
        node.encode(9, &mut page);
        assert_eq!(Node::decode(9, &page), Ok(node.clone()));
        assert!(Node::decode(10, &page).is_err(), "a page under the wrong id is rejected");

        let internal =
            Node::Internal(Internal { keys: vec![b"m".to_vec(), b"t".to_vec()], children: vec![1, 2, 3] });
        internal.encode(4, &mut page);
        assert_eq!(Node::decode(4, &page), Ok(internal));
    }

    #[test]
    fn splits_produce_nodes_that_fit() {
        let mut l = leaf(100, 100);
        assert!(l.encoded_len() > PAGE_SIZE);
        let right = l.split(false);
        assert!(l.encoded_len() <= PAGE_SIZE && right.encoded_len() <= PAGE_SIZE);
        assert!(l.keys.last() < right.keys.first());
        let diff = l.keys.len().abs_diff(right.keys.len());
        assert!(diff <= 2, "a middle split is balanced: {} vs {}", l.keys.len(), right.keys.len());

        let mut l = leaf(100, 100);
        let right = l.split(true);
        assert!(l.encoded_len() <= PAGE_SIZE);
        assert!(l.encoded_len() > PAGE_SIZE - 200, "an appending split fills the left node");
        assert!(!right.keys.is_empty());
    }

    #[test]
    fn internal_split_moves_the_middle_key_up() {
        let mut n = Internal { keys: (0..10u8).map(|k| vec![k; 900]).collect(), children: (0..11).collect() };
        let (up, right) = n.split(false);
        assert_eq!(n.children.len(), n.keys.len() + 1);
        assert_eq!(right.children.len(), right.keys.len() + 1);
        assert!(n.keys.iter().all(|k| k < &up) && right.keys.iter().all(|k| k > &up));
        assert_eq!(n.keys.len() + right.keys.len() + 1, 10);
    }

    #[test]
    fn a_garbled_page_is_an_error_not_a_panic() {
        let mut page = vec![0u8; PAGE_SIZE];
        Node::Leaf(leaf(3, 10)).encode(1, &mut page);
        page[PAGE_HEADER + 16] = 0xff; // count = 0x..ff: entries run past the end
        page[PAGE_HEADER + 17] = 0xff;
        assert!(Node::decode(1, &page).is_err());
    }
}
