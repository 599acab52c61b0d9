//! The write set: what a transaction has written and not yet committed.
//!
//! Writes wait in the write set until commit, when they are logged and applied (see the
//! crate docs). Most write sets are small and live in an ordered map in memory. A bulk load
//! (a COPY of millions of rows, an `INSERT ... SELECT` of a big table) would not fit, so
//! once the map holds more than the *spill threshold*, its entries move to a scratch B+tree
//! file under `DIR/tmp/` and the map starts again empty. The file shares the database's
//! buffer pool, which keeps its hot pages in memory and writes the rest out, so a write set
//! of any size costs a bounded amount of memory.
//!
//! ```text
//!   get(key)   memory map ── miss ──> spill file ── miss ──> not written
//!   scan       memory map ─┐
//!                          ├─ merged in key order; the map shadows the file
//!              spill file ─┘
//! ```
//!
//! The map always holds a key's newest entry when it holds the key at all: a write of a
//! key that only the file has goes to the map, and the map's copy wins.
//!
//! The file is scratch space: never logged and never checkpointed, deleted when the
//! transaction ends, and any leftover from a crash is removed when the database opens.
//! Nothing committed depends on it, because a commit logs the whole write set before it
//! returns (in several records, for a spilled one: see [`crate::record`]).
//!
//! Trade-offs: once spilled, a write also looks the key up in the file (to keep what the
//! transaction's earlier statements wrote there, see [`Entry::before`]), and every scan
//! of the transaction's own writes reads both tiers. An in-memory database has nowhere to
//! spill; its write sets are bounded by the write-set limit instead.

use std::collections::{BTreeMap, HashMap, btree_map};
use std::iter::Peekable;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use phantom_storage::btree::BufferPool;
use phantom_storage::{BTree, Engine, StorageError, WriteBatch};

use crate::keyspace::KeyspaceId;
use crate::locks::TxnId;
use crate::record::Write;
use crate::transaction::KeyRange;
use crate::{Result, TxnError};

/// A key of the write set: the keyspace and the user key.
pub(crate) type WriteKey = (KeyspaceId, Vec<u8>);

/// An item of a write-set scan.
pub(crate) type Item = Result<(WriteKey, Entry)>;

/// An iterator over write-set entries, owning what it yields.
pub(crate) type Entries = Box<dyn Iterator<Item = Item> + Send>;

/// One buffered write, remembering what the transaction's earlier statements wrote to the
/// same key so the current statement can still read that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The statement (command id) that wrote `value`.
    pub command: u32,
    /// The value written; `None` for a delete.
    pub value: Option<Vec<u8>>,
    /// The value written by an earlier command, if this entry was overwritten by a later
    /// one: `None` = no earlier own write, `Some(None)` = deleted earlier.
    pub before: Option<Option<Vec<u8>>>,
}

impl Entry {
    /// The write as statement `command` sees it: `None` if it sees no own write.
    pub fn visible_at(&self, command: u32) -> Option<&Option<Vec<u8>>> {
        if self.command < command { Some(&self.value) } else { self.before.as_ref() }
    }

    /// Statement `command` writes `value` over this entry: an earlier statement's value
    /// becomes `before`, the same statement's is simply replaced.
    fn overwrite(&mut self, command: u32, value: Option<Vec<u8>>) {
        if self.command == command {
            self.value = value;
        } else {
            self.before = Some(std::mem::replace(&mut self.value, value));
            self.command = command;
        }
    }

    /// [`Entry::visible_at`], taking the entry apart.
    pub fn into_visible(self, command: u32) -> Option<Option<Vec<u8>>> {
        if self.command < command { Some(self.value) } else { self.before }
    }

    /// The write a commit record holds for this entry of `key`.
    pub fn into_write(self, (keyspace, key): WriteKey) -> Write {
        match self.value {
            Some(value) => Write::Put { keyspace, key, value },
            None => Write::Delete { keyspace, key },
        }
    }

    /// What the entry costs in memory, roughly (the map's node overhead included).
    fn size(&self, key: &[u8]) -> usize {
        let before = self.before.as_ref().and_then(Option::as_ref).map_or(0, Vec::len);
        key.len() + self.value.as_ref().map_or(0, Vec::len) + before + 64
    }

    /// The file's encoding: command (u32 LE), then the value and the earlier value, each a
    /// tag (0 = absent, 1 = deleted, 2 = a value) and for a value its length (u32 LE)
    /// and bytes.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.size(&[]));
        out.extend_from_slice(&self.command.to_le_bytes());
        put_value(&mut out, Some(&self.value));
        put_value(&mut out, self.before.as_ref());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Entry> {
        let mut r = Reader(bytes);
        let command = u32::from_le_bytes(r.take(4)?.try_into().map_err(|_| corrupt("command"))?);
        let value = r.value()?.ok_or_else(|| corrupt("an entry without a value"))?;
        let before = r.value()?;
        if !r.0.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Entry { command, value, before })
    }
}

fn put_value(out: &mut Vec<u8>, value: Option<&Option<Vec<u8>>>) {
    match value {
        None => out.push(0),
        Some(None) => out.push(1),
        Some(Some(bytes)) => {
            out.push(2);
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(corrupt("truncated entry"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn value(&mut self) -> Result<Option<Option<Vec<u8>>>> {
        match self.take(1)?[0] {
            0 => Ok(None),
            1 => Ok(Some(None)),
            2 => {
                let len = u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| corrupt("length"))?);
                Ok(Some(Some(self.take(len as usize)?.to_vec())))
            }
            _ => Err(corrupt("unknown value tag")),
        }
    }
}

fn corrupt(reason: &str) -> TxnError {
    TxnError::Storage(StorageError::Corrupt {
        path: PathBuf::from("<write set spill file>"),
        offset: 0,
        reason: reason.to_string(),
    })
}

/// The file's key: the keyspace big-endian, so the file orders keys as the map does.
fn spill_key(keyspace: KeyspaceId, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + key.len());
    out.extend_from_slice(&keyspace.to_be_bytes());
    out.extend_from_slice(key);
    out
}

fn split_spill_key(bytes: &[u8]) -> Result<WriteKey> {
    let (keyspace, key) = bytes.split_first_chunk::<4>().ok_or_else(|| corrupt("short key"))?;
    Ok((KeyspaceId::from_be_bytes(*keyspace), key.to_vec()))
}

/// Where write sets spill: the database's scratch directory and buffer pool.
#[derive(Debug)]
pub(crate) struct SpillPlace {
    dir: PathBuf,
    pool: Arc<BufferPool>,
}

impl SpillPlace {
    /// Prepares `dir`, removing what an earlier run left behind (a crash leaves the
    /// scratch files of the transactions it interrupted).
    pub fn open(dir: &Path, pool: Arc<BufferPool>) -> Result<SpillPlace> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        Ok(SpillPlace { dir: dir.to_path_buf(), pool })
    }
}

/// A write set's scratch file.
#[derive(Debug)]
struct Spill {
    tree: BTree,
    path: PathBuf,
    /// The highest key the file holds of each keyspace. Bulk loads write keys in
    /// ascending order (row ids, a sorted index build), so most lookups of a new key can
    /// tell from this alone that the file does not have it, and skip the tree.
    highest: HashMap<KeyspaceId, Vec<u8>>,
}

impl Spill {
    fn get(&self, (keyspace, key): &WriteKey) -> Result<Option<Entry>> {
        if self.highest.get(keyspace).is_none_or(|highest| key > highest) {
            return Ok(None);
        }
        match self.tree.get(&spill_key(*keyspace, key))? {
            None => Ok(None),
            Some(bytes) => Entry::decode(&bytes).map(Some),
        }
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        self.tree.evict_all();
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(file = %self.path.display(), error = %e, "could not remove a write set's scratch file");
        }
    }
}

/// A transaction's buffered writes, in key order.
#[derive(Debug, Default)]
pub(crate) struct WriteSet {
    memory: BTreeMap<WriteKey, Entry>,
    memory_bytes: usize,
    spill: Option<Spill>,
    /// Where to spill; `None` in an in-memory database.
    place: Option<Arc<SpillPlace>>,
    /// Spill once the map holds more than this many bytes.
    threshold: usize,
    /// Names the scratch file.
    txn: TxnId,
}

impl WriteSet {
    pub fn new(place: Option<Arc<SpillPlace>>, threshold: usize, txn: TxnId) -> WriteSet {
        WriteSet { place, threshold, txn, ..WriteSet::default() }
    }

    /// True if nothing was written.
    pub fn is_empty(&self) -> bool {
        self.memory.is_empty() && self.spill.as_ref().is_none_or(|s| s.tree.stats().keys == 0)
    }

    /// True if anything was written to `keyspace`.
    pub fn touches(&self, keyspace: KeyspaceId) -> bool {
        let full: KeyRange = (Bound::Unbounded, Bound::Unbounded);
        self.memory.range(keyspace_range(keyspace, &full)).next().is_some()
            || self.spill.as_ref().is_some_and(|s| s.highest.contains_key(&keyspace))
    }

    /// True once entries have moved to the scratch file.
    pub fn spilled(&self) -> bool {
        self.spill.is_some()
    }

    /// The bytes the in-memory part holds.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    /// The entry of `key`, if it was written.
    pub fn get(&self, key: &WriteKey) -> Result<Option<Entry>> {
        if let Some(entry) = self.memory.get(key) {
            return Ok(Some(entry.clone()));
        }
        match &self.spill {
            None => Ok(None),
            Some(spill) => spill.get(key),
        }
    }

    /// Records that statement `command` wrote `value` to `key`, keeping what earlier
    /// statements wrote there (see [`Entry::before`]). Returns the entry this replaced if
    /// `keep_replaced` (for a savepoint's undo log), `None` otherwise.
    pub fn write(
        &mut self,
        key: WriteKey,
        command: u32,
        value: Option<Vec<u8>>,
        keep_replaced: bool,
    ) -> Result<Option<Entry>> {
        let replaced = match self.memory.entry(key) {
            btree_map::Entry::Occupied(mut slot) => {
                let replaced = keep_replaced.then(|| slot.get().clone());
                let old_size = slot.get().size(&slot.key().1);
                slot.get_mut().overwrite(command, value);
                let new_size = slot.get().size(&slot.key().1);
                self.memory_bytes = self.memory_bytes + new_size - old_size;
                replaced
            }
            btree_map::Entry::Vacant(slot) => {
                let spilled = match &self.spill {
                    Some(spill) => spill.get(slot.key())?,
                    None => None,
                };
                let replaced = if keep_replaced { spilled.clone() } else { None };
                let entry = match spilled {
                    Some(mut entry) => {
                        entry.overwrite(command, value);
                        entry
                    }
                    None => Entry { command, value, before: None },
                };
                self.memory_bytes += entry.size(&slot.key().1);
                slot.insert(entry);
                replaced
            }
        };
        if self.memory_bytes > self.threshold && self.place.is_some() {
            self.spill_memory()?;
        }
        Ok(replaced)
    }

    /// Sets the entry of `key`, spilling the map to the file when it has grown too big.
    pub fn insert(&mut self, key: WriteKey, entry: Entry) -> Result<()> {
        self.memory_bytes += entry.size(&key.1);
        if let Some(old) = self.memory.insert(key.clone(), entry) {
            self.memory_bytes -= old.size(&key.1);
        }
        if self.memory_bytes > self.threshold && self.place.is_some() {
            self.spill_memory()?;
        }
        Ok(())
    }

    /// Forgets `key` (rolling back to a savepoint before its first write).
    pub fn remove(&mut self, key: &WriteKey) -> Result<()> {
        if let Some(old) = self.memory.remove(key) {
            self.memory_bytes -= old.size(&key.1);
        }
        if let Some(spill) = &self.spill {
            let mut batch = WriteBatch::new();
            batch.delete(spill_key(key.0, &key.1));
            spill.tree.apply(batch, 0)?;
        }
        Ok(())
    }

    /// Drops every entry (and the scratch file).
    pub fn clear(&mut self) {
        self.memory.clear();
        self.memory_bytes = 0;
        self.spill = None;
    }

    /// The map's entries, when nothing spilled (for a commit in one record).
    pub fn into_memory(mut self) -> Option<BTreeMap<WriteKey, Entry>> {
        if self.spill.is_some() { None } else { Some(std::mem::take(&mut self.memory)) }
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Result<Entries> {
        self.scan((Bound::Unbounded, Bound::Unbounded), false)
    }

    /// The entries of `range` in `keyspace`, in key order (or reverse). What the map
    /// holds is copied, so the result does not borrow the write set.
    pub fn range(&self, keyspace: KeyspaceId, range: &KeyRange, reverse: bool) -> Result<Entries> {
        self.scan(keyspace_range(keyspace, range), reverse)
    }

    fn scan(&self, range: (Bound<WriteKey>, Bound<WriteKey>), reverse: bool) -> Result<Entries> {
        let mut memory: Vec<(WriteKey, Entry)> =
            self.memory.range(range.clone()).map(|(k, e)| (k.clone(), e.clone())).collect();
        if reverse {
            memory.reverse();
        }
        let Some(spill) = &self.spill else {
            return Ok(Box::new(memory.into_iter().map(Ok)));
        };
        let encode = |bound: Bound<WriteKey>| match bound {
            Bound::Included((ks, k)) => Bound::Included(spill_key(ks, &k)),
            Bound::Excluded((ks, k)) => Bound::Excluded(spill_key(ks, &k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let scan = spill.tree.scan((encode(range.0), encode(range.1)));
        let decode = |entry: phantom_storage::Result<(Vec<u8>, Vec<u8>)>| -> Item {
            let (key, value) = entry?;
            Ok((split_spill_key(&key)?, Entry::decode(&value)?))
        };
        let file: Entries =
            if reverse { Box::new(scan.rev().map(decode)) } else { Box::new(scan.map(decode)) };
        Ok(Box::new(Merge { memory: memory.into_iter().peekable(), file: file.peekable(), reverse }))
    }

    /// Moves the map's entries into the scratch file (creating it the first time).
    fn spill_memory(&mut self) -> Result<()> {
        let Some(place) = &self.place else { return Ok(()) };
        if self.spill.is_none() {
            let path = place.dir.join(format!("txn-{}.spill", self.txn));
            let tree = BTree::open(&path, place.pool.clone())?;
            tracing::debug!(txn = self.txn, bytes = self.memory_bytes, "write set spills to disk");
            self.spill = Some(Spill { tree, path, highest: HashMap::new() });
        }
        let Some(spill) = &mut self.spill else { return Ok(()) };
        // Before the map is emptied into it: a scratch tree that cannot take more (its
        // pool full of pages a full disk will not let it write) refuses here, with the
        // entries still in the map.
        spill.tree.check_writable()?;
        let mut batch = WriteBatch::with_capacity(self.memory.len());
        for ((keyspace, key), entry) in std::mem::take(&mut self.memory) {
            batch.put(spill_key(keyspace, &key), entry.encode());
            // Keys come in ascending order: the last of a keyspace is its highest.
            match spill.highest.get_mut(&keyspace) {
                Some(highest) if *highest >= key => {}
                Some(highest) => *highest = key,
                None => {
                    spill.highest.insert(keyspace, key);
                }
            }
        }
        self.memory_bytes = 0;
        spill.tree.apply(batch, 0)?;
        Ok(())
    }
}

/// Merges the map's entries with the file's; on equal keys the map's wins.
struct Merge {
    memory: Peekable<std::vec::IntoIter<(WriteKey, Entry)>>,
    file: Peekable<Entries>,
    reverse: bool,
}

impl Iterator for Merge {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let take_memory = match (self.memory.peek(), self.file.peek()) {
            (None, _) | (Some(_), Some(Err(_))) => return self.file.next(),
            (Some(_), None) => true,
            (Some((mk, _)), Some(Ok((fk, _)))) => {
                let order = if self.reverse { fk.cmp(mk) } else { mk.cmp(fk) };
                if order == std::cmp::Ordering::Equal {
                    self.file.next();
                }
                order != std::cmp::Ordering::Greater
            }
        };
        if take_memory { self.memory.next().map(Ok) } else { self.file.next() }
    }
}

/// The write-set range holding `range` of `keyspace`.
pub(crate) fn keyspace_range(keyspace: KeyspaceId, range: &KeyRange) -> (Bound<WriteKey>, Bound<WriteKey>) {
    let lo = match map_bound(&range.0, |k| (keyspace, k.clone())) {
        Bound::Unbounded => Bound::Included((keyspace, Vec::new())),
        b => b,
    };
    let hi = match map_bound(&range.1, |k| (keyspace, k.clone())) {
        Bound::Unbounded => match keyspace.checked_add(1) {
            Some(next) => Bound::Excluded((next, Vec::new())),
            None => Bound::Unbounded,
        },
        b => b,
    };
    (lo, hi)
}

fn map_bound<T, U>(bound: &Bound<T>, f: impl FnOnce(&T) -> U) -> Bound<U> {
    match bound {
        Bound::Included(v) => Bound::Included(f(v)),
        Bound::Excluded(v) => Bound::Excluded(f(v)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(KeyspaceId, u8, Option<u8>, u32),
        Remove(KeyspaceId, u8),
        Scan(KeyspaceId, u8, u8, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3u32, any::<u8>(), proptest::option::of(any::<u8>()), 1..4u32)
                .prop_map(|(ks, k, v, c)| Op::Insert(ks, k, v, c)),
            1 => (0..3u32, any::<u8>()).prop_map(|(ks, k)| Op::Remove(ks, k)),
            1 => (0..3u32, any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(ks, a, b, r)| Op::Scan(ks, a, b, r)),
        ]
    }

    fn entry(value: Option<u8>, command: u32) -> Entry {
        Entry { command, value: value.map(|v| vec![v; 40]), before: (command > 1).then(|| Some(vec![7])) }
    }

    proptest! {
        /// A write set with a tiny threshold (spilling every few writes) answers exactly as
        /// an ordered map does.
        #[test]
        fn a_spilling_write_set_behaves_like_a_map(ops in proptest::collection::vec(op(), 1..120)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let place = Arc::new(SpillPlace::open(&dir.path().join("tmp"), BufferPool::new(1 << 20)).expect("place"));
            let mut set = WriteSet::new(Some(place), 600, 1);
            let mut model: BTreeMap<WriteKey, Entry> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(ks, k, v, c) => {
                        set.insert((ks, vec![k]), entry(v, c)).expect("insert");
                        model.insert((ks, vec![k]), entry(v, c));
                    }
                    Op::Remove(ks, k) => {
                        set.remove(&(ks, vec![k])).expect("remove");
                        model.remove(&(ks, vec![k]));
                    }
                    Op::Scan(ks, a, b, reverse) => {
                        let (lo, hi) = (a.min(b), a.max(b));
                        let range: KeyRange = (Bound::Included(vec![lo]), Bound::Excluded(vec![hi]));
                        let got: Vec<_> = set.range(ks, &range, reverse).expect("range").collect::<Result<_>>().expect("scan");
                        let mut want: Vec<_> =
                            model.range(keyspace_range(ks, &range)).map(|(k, e)| (k.clone(), e.clone())).collect();
                        if reverse {
                            want.reverse();
                        }
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(set.is_empty(), model.is_empty());
            }
            for (key, want) in &model {
                prop_assert_eq!(set.get(key).expect("get"), Some(want.clone()));
            }
            let all: Vec<_> = set.iter().expect("iter").collect::<Result<_>>().expect("all");
            let want: Vec<_> = model.into_iter().collect();
            prop_assert_eq!(all, want);
        }
    }

    #[test]
    fn the_scratch_file_goes_with_the_write_set_and_leftovers_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("mkdir");
        std::fs::write(tmp.join("txn-9.spill"), b"left by a crash").expect("leftover");
        let place = Arc::new(SpillPlace::open(&tmp, BufferPool::new(1 << 20)).expect("place"));
        assert_eq!(std::fs::read_dir(&tmp).expect("ls").count(), 0, "leftovers are removed at open");
        let mut set = WriteSet::new(Some(place), 100, 3);
        for i in 0..10u8 {
            set.insert((1, vec![i]), entry(Some(i), 1)).expect("insert");
        }
        assert!(set.spilled());
        assert!(tmp.join("txn-3.spill").exists());
        set.clear();
        assert!(!tmp.join("txn-3.spill").exists(), "clearing removes the file");
    }

    #[test]
    fn entries_round_trip_through_the_file_encoding() {
        for entry in [
            Entry { command: 1, value: None, before: None },
            Entry { command: 2, value: Some(vec![]), before: Some(None) },
            Entry { command: u32::MAX, value: Some(vec![1, 2, 3]), before: Some(Some(vec![4; 300])) },
        ] {
            assert_eq!(Entry::decode(&entry.encode()).expect("decode"), entry);
        }
        assert!(Entry::decode(&[1, 0, 0]).is_err(), "truncated");
        assert!(Entry::decode(&[1, 0, 0, 0, 9]).is_err(), "bad tag");
    }
}
