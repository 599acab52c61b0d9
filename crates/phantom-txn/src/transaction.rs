//! Transactions: a snapshot, a buffered write set, and commit.
//!
//! See the crate documentation for the protocol. A [`Transaction`] is a cheap handle
//! (`Clone`, `Send`, `Sync`): the SQL executor holds one while it scans and writes in the
//! same statement, which is why methods take `&self` and the write set sits behind a mutex.
//! Dropping the last handle of a transaction that never committed rolls it back, so a
//! session that disappears mid-transaction releases its intents.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::Mutex;
use phantom_storage::{KeyValue, ScanIterator};

use crate::intents::TxnId;
use crate::keyspace::{EngineKind, KeyspaceId};
use crate::record::{CommitRecord, Write};
use crate::store::Shared;
use crate::{Result, Timestamp, TxnError, version};

/// A range of user keys.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// One buffered write, remembering what the transaction's earlier statements wrote to the
/// same key so the current statement can still read that.
#[derive(Clone, Debug)]
struct Entry {
    command: u32,
    value: Option<Vec<u8>>,
    /// The value written by an earlier command, if this entry was overwritten by a later
    /// one: `None` = no earlier own write, `Some(None)` = deleted earlier.
    before: Option<Option<Vec<u8>>>,
}

impl Entry {
    /// The write as statement `command` sees it: `None` if it sees no own write.
    fn visible_at(&self, command: u32) -> Option<&Option<Vec<u8>>> {
        if self.command < command { Some(&self.value) } else { self.before.as_ref() }
    }
}

#[derive(Debug)]
struct State {
    writes: BTreeMap<(KeyspaceId, Vec<u8>), Entry>,
    created: Vec<(KeyspaceId, EngineKind)>,
    dropped: Vec<KeyspaceId>,
    command: u32,
    active: bool,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    id: TxnId,
    snapshot: Timestamp,
    state: Mutex<State>,
}

/// A read-write transaction.
#[derive(Clone, Debug)]
pub struct Transaction {
    inner: Arc<Inner>,
}

impl Transaction {
    pub(crate) fn new(shared: Arc<Shared>, id: TxnId) -> Transaction {
        let snapshot = shared.oracle.begin_snapshot();
        debug_assert!(id > 0 || shared.next_txn_id() > 0);
        Transaction {
            inner: Arc::new(Inner {
                shared,
                id,
                snapshot,
                state: Mutex::new(State {
                    writes: BTreeMap::new(),
                    created: Vec::new(),
                    dropped: Vec::new(),
                    command: 1,
                    active: true,
                }),
            }),
        }
    }

    /// The transaction's id.
    pub fn id(&self) -> TxnId {
        self.inner.id
    }

    /// The snapshot timestamp: commits at or below it are visible.
    pub fn snapshot(&self) -> Timestamp {
        self.inner.snapshot
    }

    /// True until commit or rollback.
    pub fn is_active(&self) -> bool {
        self.inner.state.lock().active
    }

    /// True if the transaction has written anything.
    pub fn has_writes(&self) -> bool {
        let state = self.inner.state.lock();
        !state.writes.is_empty() || !state.created.is_empty() || !state.dropped.is_empty()
    }

    /// Starts the next statement: from now on, reads see every write made so far.
    pub fn next_command(&self) {
        self.inner.state.lock().command += 1;
    }

    /// The value of `key` as the current statement sees it.
    pub fn get(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        {
            let state = self.active_state()?;
            if let Some(entry) = state.writes.get(&(keyspace, key.to_vec()))
                && let Some(own) = entry.visible_at(state.command)
            {
                return Ok(own.clone());
            }
        }
        self.get_committed(keyspace, key)
    }

    /// The value of `key` including writes of the current statement: what a uniqueness
    /// check must see.
    pub fn get_for_update(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        {
            let state = self.active_state()?;
            if let Some(entry) = state.writes.get(&(keyspace, key.to_vec())) {
                return Ok(entry.value.clone());
            }
        }
        self.get_committed(keyspace, key)
    }

    fn get_committed(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let engine = self.inner.shared.keyspaces.get(keyspace)?;
        let mut versions = engine.scan(version::visible_range(key, self.inner.snapshot));
        match versions.next() {
            None => Ok(None),
            Some(entry) => {
                let (_, value) = entry?;
                Ok(version::decode_value(&value)?.map(<[u8]>::to_vec))
            }
        }
    }

    /// The entries of `range` in key order (or reverse), as the current statement sees them.
    pub fn scan(&self, keyspace: KeyspaceId, range: KeyRange, reverse: bool) -> Result<Scan> {
        let own: Vec<OwnWrite> = {
            let state = self.active_state()?;
            let lo = map_bound(&range.0, |k| (keyspace, k.clone()));
            let hi = map_bound(&range.1, |k| (keyspace, k.clone()));
            let lo = match lo {
                Bound::Unbounded => Bound::Included((keyspace, Vec::new())),
                b => b,
            };
            let hi = match hi {
                Bound::Unbounded => match keyspace.checked_add(1) {
                    Some(next) => Bound::Excluded((next, Vec::new())),
                    None => Bound::Unbounded,
                },
                b => b,
            };
            let command = state.command;
            state
                .writes
                .range((lo, hi))
                .filter_map(|((_, k), e)| e.visible_at(command).map(|v| (k.clone(), v.clone())))
                .collect()
        };
        let engine = self.inner.shared.keyspaces.get(keyspace)?;
        let committed = Versions {
            inner: engine.scan(version::engine_range(&range)),
            snapshot: self.inner.snapshot,
            reverse,
            last_key: None,
            candidate: None,
            done: false,
        };
        let mut own = own;
        if reverse {
            own.reverse();
        }
        Ok(Scan { committed: committed.peekable(), own: own.into_iter().peekable(), reverse })
    }

    /// Sets `key` to `value`.
    pub fn put(&self, keyspace: KeyspaceId, key: &[u8], value: Vec<u8>) -> Result<()> {
        self.write(keyspace, key, Some(value))
    }

    /// Deletes `key`.
    pub fn delete(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<()> {
        self.write(keyspace, key, None)
    }

    fn write(&self, keyspace: KeyspaceId, key: &[u8], value: Option<Vec<u8>>) -> Result<()> {
        let mut state = self.active_state()?;
        let shared = &self.inner.shared;
        if shared.intents.acquire(self.inner.id, keyspace, key)? {
            // First write of this key: someone may have committed a newer version after our
            // snapshot. Writing over it would lose their update. The write does not happen,
            // so the intent goes too.
            let newer =
                self.newest_committed(keyspace, key).map(|ts| ts.is_some_and(|ts| ts > self.inner.snapshot));
            if !matches!(newer, Ok(false)) {
                shared.intents.release(self.inner.id, [(keyspace, key)]);
                return Err(newer.err().unwrap_or(TxnError::WriteConflict));
            }
        }
        let command = state.command;
        match state.writes.get_mut(&(keyspace, key.to_vec())) {
            Some(entry) if entry.command == command => entry.value = value,
            Some(entry) => {
                let earlier = std::mem::replace(&mut entry.value, value);
                entry.before = Some(earlier);
                entry.command = command;
            }
            None => {
                state.writes.insert((keyspace, key.to_vec()), Entry { command, value, before: None });
            }
        }
        Ok(())
    }

    fn newest_committed(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<Option<Timestamp>> {
        let engine = self.inner.shared.keyspaces.get(keyspace)?;
        let mut versions = engine.scan(version::visible_range(key, Timestamp::MAX));
        match versions.next() {
            None => Ok(None),
            Some(entry) => Ok(Some(version::decode_key(&entry?.0)?.1)),
        }
    }

    /// Creates a new keyspace (for a table or index) as part of this transaction. It
    /// exists right away for this transaction's writes and is discarded on rollback.
    /// `None` picks the database's default engine; the engine used is returned (an
    /// in-memory database uses the memory engine for everything).
    pub fn create_keyspace(&self, kind: Option<EngineKind>) -> Result<(KeyspaceId, EngineKind)> {
        let mut state = self.active_state()?;
        let keyspaces = &self.inner.shared.keyspaces;
        let id = keyspaces.allocate_id();
        let kind = keyspaces.resolve(kind);
        keyspaces.create(id, kind)?;
        let kind = keyspaces.kind(id).unwrap_or(kind);
        state.created.push((id, kind));
        Ok((id, kind))
    }

    /// Drops a keyspace when this transaction commits. Its data goes once no snapshot
    /// that can still see it is live.
    pub fn drop_keyspace(&self, keyspace: KeyspaceId) -> Result<()> {
        self.active_state()?.dropped.push(keyspace);
        Ok(())
    }

    /// Commits: logs, applies and publishes the write set. Returns the commit timestamp
    /// (the snapshot timestamp for a transaction that wrote nothing).
    pub fn commit(&self) -> Result<Timestamp> {
        let (writes, created, dropped) = {
            let mut state = self.active_state()?;
            state.active = false;
            (
                std::mem::take(&mut state.writes),
                std::mem::take(&mut state.created),
                std::mem::take(&mut state.dropped),
            )
        };
        let shared = &self.inner.shared;
        if writes.is_empty() && created.is_empty() && dropped.is_empty() {
            shared.oracle.end_snapshot(self.inner.snapshot);
            return Ok(self.inner.snapshot);
        }
        let intent_keys: Vec<(KeyspaceId, Vec<u8>)> = writes.keys().cloned().collect();
        let ts = shared.oracle.begin_commit();
        let mut record = CommitRecord { ts, writes: Vec::with_capacity(created.len() + writes.len()) };
        record
            .writes
            .extend(created.iter().map(|&(keyspace, kind)| Write::CreateKeyspace { keyspace, kind }));
        record.writes.extend(writes.into_iter().map(|((keyspace, key), entry)| match entry.value {
            Some(value) => Write::Put { keyspace, key, value },
            None => Write::Delete { keyspace, key },
        }));
        let result = shared.commit(record);
        if result.is_err() {
            for &(id, _) in &created {
                shared.keyspaces.drop_keyspace(id);
            }
        }
        shared.intents.release(self.inner.id, intent_keys.iter().map(|(ks, k)| (*ks, k.as_slice())));
        shared.oracle.end_snapshot(self.inner.snapshot);
        result?;
        shared.drop_keyspaces_after(dropped, ts);
        Ok(ts)
    }

    /// Discards the write set.
    pub fn rollback(&self) -> Result<()> {
        let mut state = self.active_state()?;
        self.inner.abort(&mut state);
        Ok(())
    }

    fn active_state(&self) -> Result<parking_lot::MutexGuard<'_, State>> {
        let state = self.inner.state.lock();
        if state.active { Ok(state) } else { Err(TxnError::NotActive) }
    }
}

impl Inner {
    fn abort(&self, state: &mut State) {
        state.active = false;
        let writes = std::mem::take(&mut state.writes);
        self.shared.intents.release(self.id, writes.keys().map(|(ks, k)| (*ks, k.as_slice())));
        for (id, _) in state.created.drain(..) {
            self.shared.keyspaces.drop_keyspace(id);
        }
        state.dropped.clear();
        self.shared.oracle.end_snapshot(self.snapshot);
        self.shared.drop_keyspaces_after(Vec::new(), 0);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if state.active {
            let mut state = std::mem::replace(
                state,
                State {
                    writes: BTreeMap::new(),
                    created: Vec::new(),
                    dropped: Vec::new(),
                    command: 0,
                    active: false,
                },
            );
            self.abort(&mut state);
        }
    }
}

fn map_bound<T, U>(bound: &Bound<T>, f: impl FnOnce(&T) -> U) -> Bound<U> {
    match bound {
        Bound::Included(v) => Bound::Included(f(v)),
        Bound::Excluded(v) => Bound::Excluded(f(v)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The newest visible version of each key of an engine scan, in either direction.
struct Versions {
    inner: ScanIterator,
    snapshot: Timestamp,
    reverse: bool,
    /// Forward: the last user key decided, whose older versions are skipped.
    last_key: Option<Vec<u8>>,
    /// Reverse: the newest visible version seen so far of the current key (versions of a
    /// key arrive oldest first when scanning backwards).
    candidate: Option<(Vec<u8>, Option<Vec<u8>>)>,
    done: bool,
}

impl Versions {
    fn next_forward(&mut self) -> Result<Option<KeyValue>> {
        for entry in self.inner.by_ref() {
            let (key, value) = entry?;
            let (user_key, ts) = version::decode_key(&key)?;
            if ts > self.snapshot || self.last_key.as_deref() == Some(user_key) {
                continue;
            }
            self.last_key = Some(user_key.to_vec());
            if let Some(v) = version::decode_value(&value)? {
                return Ok(Some((user_key.to_vec(), v.to_vec())));
            }
        }
        Ok(None)
    }

    fn next_reverse(&mut self) -> Result<Option<KeyValue>> {
        loop {
            let Some(entry) = self.inner.next_back() else {
                return Ok(self.candidate.take().and_then(|(k, v)| v.map(|v| (k, v))));
            };
            let (key, value) = entry?;
            let (user_key, ts) = version::decode_key(&key)?;
            if ts > self.snapshot {
                continue;
            }
            let value = version::decode_value(&value)?.map(<[u8]>::to_vec);
            let same_key = self.candidate.as_ref().is_some_and(|(k, _)| k == user_key);
            let previous = self.candidate.replace((user_key.to_vec(), value));
            if !same_key && let Some((k, Some(v))) = previous {
                return Ok(Some((k, v)));
            }
        }
    }
}

impl Iterator for Versions {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = if self.reverse { self.next_reverse() } else { self.next_forward() };
        match next {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A key the transaction wrote, with its value (`None`: deleted).
type OwnWrite = (Vec<u8>, Option<Vec<u8>>);

/// A scan over a transaction's view of a key range: committed versions at the snapshot,
/// overlaid with the transaction's own writes.
pub struct Scan {
    committed: std::iter::Peekable<Versions>,
    own: std::iter::Peekable<std::vec::IntoIter<OwnWrite>>,
    reverse: bool,
}

impl Iterator for Scan {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let take_own = match (self.committed.peek(), self.own.peek()) {
                (_, None) => return self.committed.next(),
                (None, Some(_)) => true,
                (Some(Err(_)), _) => return self.committed.next(),
                (Some(Ok((ck, _))), Some((ok, _))) => {
                    let order = ok.cmp(ck);
                    let order = if self.reverse { order.reverse() } else { order };
                    if order == std::cmp::Ordering::Equal {
                        // Our own write shadows the committed version.
                        self.committed.next();
                    }
                    order != std::cmp::Ordering::Greater
                }
            };
            if !take_own {
                return self.committed.next();
            }
            if let Some((key, Some(value))) = self.own.next() {
                return Some(Ok((key, value)));
            }
            // An own delete: skip it (the committed version, if any, was skipped too).
        }
    }
}
