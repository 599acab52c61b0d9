//! Transactions: a snapshot, a buffered write set, row locks, and commit.
//!
//! See the crate documentation for the protocol. A [`Transaction`] is a cheap handle
//! (`Clone`, `Send`, `Sync`): the SQL executor holds one while it scans and writes in the
//! same statement, which is why methods take `&self` and the write set sits behind a mutex.
//! Dropping the last handle of a transaction that never committed rolls it back, so a
//! session that disappears mid-transaction releases its locks.
//!
//! ## Isolation levels
//!
//! Every level reads committed versions at a snapshot and takes an exclusive lock on each
//! key it writes (waiting for the holder, with deadlock detection; past
//! `TxnOptions::escalation_threshold` row locks in one keyspace, one lock on the keyspace
//! covers them, see [`crate::locks`]). They differ in four switches, all decided here:
//!
//! | level            | snapshot      | write over a newer commit | read locks | SSI |
//! |------------------|---------------|---------------------------|------------|-----|
//! | READ UNCOMMITTED | per statement | allowed (re-check)        | no         | no  |
//! | READ COMMITTED   | per statement | allowed (re-check)        | no         | no  |
//! | REPEATABLE READ  | transaction   | 40001                     | shared     | no  |
//! | SNAPSHOT         | transaction   | 40001                     | no         | no  |
//! | SERIALIZABLE     | transaction   | 40001                     | no         | yes |
//!
//! READ UNCOMMITTED also overlays other live transactions' uncommitted writes on what it
//! reads (dirty reads). "Re-check" means [`Transaction::lock_row`] reports the newer
//! version, and the SQL layer re-evaluates the row against it (as PostgreSQL's READ
//! COMMITTED does). SSI is in [`crate::ssi`].
//!
//! ## Savepoints
//!
//! While a savepoint exists, every change to the write set is logged with the entry it
//! replaced; rolling back to the savepoint replays that log backwards and releases the
//! row locks taken since (keyspace locks stay to the end). Without savepoints nothing is
//! logged.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use phantom_storage::{KeyValue, ScanIterator};

use crate::keyspace::{CATALOG_KEYSPACE, EngineKind, KeyspaceId};
use crate::locks::{self, Acquired, KeyspaceMode, LockMode, TxnId, Wait};
use crate::record::{CommitRecord, Write};
use crate::store::Shared;
use crate::write_set::{Entry, WriteKey, WriteSet};
use crate::{Result, Timestamp, TxnError, version};

/// A range of user keys.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The isolation levels, weakest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Isolation {
    ReadUncommitted,
    #[default]
    ReadCommitted,
    RepeatableRead,
    Snapshot,
    Serializable,
}

impl Isolation {
    /// Every level, weakest first.
    pub const ALL: [Isolation; 5] = [
        Isolation::ReadUncommitted,
        Isolation::ReadCommitted,
        Isolation::RepeatableRead,
        Isolation::Snapshot,
        Isolation::Serializable,
    ];

    /// The level's SQL name, lower case as `SHOW transaction_isolation` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadUncommitted => "read uncommitted",
            Isolation::ReadCommitted => "read committed",
            Isolation::RepeatableRead => "repeatable read",
            Isolation::Snapshot => "snapshot",
            Isolation::Serializable => "serializable",
        }
    }

    /// Parses a level name (any case, words separated by spaces, `_` or `-`).
    pub fn parse(name: &str) -> Option<Isolation> {
        let normal: Vec<String> =
            name.split([' ', '_', '-']).filter(|w| !w.is_empty()).map(str::to_ascii_lowercase).collect();
        Isolation::ALL.into_iter().find(|level| level.name().split(' ').eq(normal.iter().map(String::as_str)))
    }

    /// A fresh snapshot for every statement.
    pub fn statement_snapshots(self) -> bool {
        matches!(self, Isolation::ReadUncommitted | Isolation::ReadCommitted)
    }

    /// Writing a row changed after the snapshot fails with 40001.
    pub fn first_committer_wins(self) -> bool {
        !self.statement_snapshots()
    }
}

/// How a transaction behaves.
#[derive(Clone, Debug)]
pub struct TxnOptions {
    pub isolation: Isolation,
    /// How long to wait for a row lock before failing with 55P03 (`None`: no limit).
    pub lock_timeout: Option<Duration>,
    /// The most memory the write set may take before writes fail with 54000. An on-disk
    /// database spills write sets to disk first (see `spill_threshold`), so with the
    /// defaults only an in-memory database ever reaches it.
    pub write_set_limit: usize,
    /// How much of the write set stays in memory before it spills to a scratch file (see
    /// [`crate::write_set`]).
    pub spill_threshold: usize,
    /// A flag that, once raised, ends a lock wait with [`TxnError::Canceled`] (the SQL
    /// session's interrupt; `None`: waits end only as `lock_timeout` says).
    pub cancel: Option<Arc<AtomicBool>>,
    /// How many row locks the transaction takes in one keyspace before it locks the
    /// keyspace instead (see [`crate::locks`]).
    pub escalation_threshold: usize,
}

/// The default [`TxnOptions::spill_threshold`]: enough that ordinary transactions never
/// spill, small enough that a bulk load's memory stays modest.
pub const DEFAULT_SPILL_THRESHOLD: usize = 64 << 20;

impl Default for TxnOptions {
    fn default() -> Self {
        TxnOptions {
            isolation: Isolation::default(),
            lock_timeout: None,
            write_set_limit: 1 << 30,
            spill_threshold: DEFAULT_SPILL_THRESHOLD,
            cancel: None,
            escalation_threshold: locks::ESCALATION_THRESHOLD,
        }
    }
}

/// What [`Transaction::lock_row`] found once the lock was held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowLock {
    /// The row is as the current statement's snapshot shows it.
    Unchanged,
    /// A newer version was committed after the snapshot (READ COMMITTED and weaker only;
    /// the stronger levels fail with 40001 instead): its value, `None` if deleted.
    Changed(Option<Vec<u8>>),
}

/// A point a transaction can roll back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Savepoint {
    undo: usize,
    locks: usize,
    created: usize,
    dropped: usize,
}

#[derive(Debug, Default)]
struct State {
    writes: WriteSet,
    created: Vec<(KeyspaceId, EngineKind)>,
    dropped: Vec<KeyspaceId>,
    /// Every row lock taken, in order, to release at the end. Escalation releases the
    /// row locks it covers early but leaves them here (releasing one twice is harmless),
    /// so savepoints can keep counting positions in this list.
    locks: Vec<WriteKey>,
    /// The keyspaces it took row locks in: the keyspace lock held and the row count that
    /// decides escalation.
    keyspace_locks: HashMap<KeyspaceId, KeyspaceLocks>,
    /// While savepoints exist: each write's key and the entry it replaced.
    undo: Option<Vec<(WriteKey, Option<Entry>)>>,
    command: u32,
    active: bool,
    /// Registered as a writer, so READ UNCOMMITTED readers can see the write set.
    registered: bool,
    /// The keyspace the current UPDATE or DELETE changes: REPEATABLE READ takes no shared
    /// locks on it, since every row it changes is locked exclusively right away (a shared
    /// lock first would make two updaters of a row deadlock on the upgrade).
    write_target: Option<KeyspaceId>,
}

/// A transaction's lock on one keyspace (see [`crate::locks`]).
#[derive(Debug, Default)]
struct KeyspaceLocks {
    /// The keyspace lock held: an intention, or a whole-keyspace mode after escalation.
    /// `None` until granted.
    mode: Option<KeyspaceMode>,
    /// Row locks requested here since the last escalation and not covered by `mode`. Row
    /// locks a savepoint rollback releases still count: that may bring an escalation
    /// forward, never put one off.
    rows: usize,
}

#[derive(Debug)]
pub(crate) struct Inner {
    shared: Arc<Shared>,
    id: TxnId,
    options: TxnOptions,
    /// The snapshot timestamp; moves forward per statement at the weaker levels.
    snapshot: AtomicU64,
    state: Mutex<State>,
}

/// A read-write transaction.
#[derive(Clone, Debug)]
pub struct Transaction {
    inner: Arc<Inner>,
    /// Set on a handle from [`Transaction::pinned`]: the view its reads keep.
    pin: Option<Arc<Pin>>,
}

/// A fixed view of a transaction: the snapshot and command a cursor opened with. The
/// snapshot stays registered with the oracle while the pin lives, so garbage collection
/// keeps what it can see even after the transaction itself moved on to a newer one.
#[derive(Debug)]
struct Pin {
    snapshot: Timestamp,
    command: u32,
    shared: Arc<Shared>,
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.shared.oracle.end_snapshot(self.snapshot);
    }
}

impl Transaction {
    pub(crate) fn new(shared: Arc<Shared>, id: TxnId, options: TxnOptions) -> Transaction {
        let snapshot = if options.isolation == Isolation::Serializable {
            // Lock order: the SSI tracker, then the oracle (nothing takes them the other way).
            shared.ssi.register_with(id, || shared.oracle.begin_snapshot())
        } else {
            shared.oracle.begin_snapshot()
        };
        let writes = WriteSet::new(shared.spill.clone(), options.spill_threshold, id);
        Transaction {
            inner: Arc::new(Inner {
                shared,
                id,
                options,
                snapshot: AtomicU64::new(snapshot),
                state: Mutex::new(State { command: 1, active: true, writes, ..State::default() }),
            }),
            pin: None,
        }
    }

    /// A handle of this transaction whose reads keep seeing what the current statement
    /// sees now: its snapshot and the writes of earlier statements, not those of later
    /// statements, nor (at READ COMMITTED) later commits. A cursor reads through one, so
    /// that operators it starts between two fetches (the inner side of a join) see what
    /// the first fetch saw, as PostgreSQL's cursors do. Writes through it are the
    /// transaction's writes.
    pub fn pinned(&self) -> Result<Transaction> {
        let command = self.active_state()?.command;
        let snapshot = self.snapshot();
        self.inner.shared.oracle.retain_snapshot(snapshot);
        let pin = Pin { snapshot, command, shared: self.inner.shared.clone() };
        Ok(Transaction { inner: self.inner.clone(), pin: Some(Arc::new(pin)) })
    }

    /// The command whose view reads take: the pinned one, or the current statement's.
    fn read_command(&self, state: &State) -> u32 {
        self.pin.as_ref().map_or(state.command, |p| p.command)
    }

    /// The transaction's id.
    pub fn id(&self) -> TxnId {
        self.inner.id
    }

    /// The isolation level.
    pub fn isolation(&self) -> Isolation {
        self.inner.options.isolation
    }

    /// The snapshot timestamp: commits at or below it are visible.
    pub fn snapshot(&self) -> Timestamp {
        match &self.pin {
            Some(pin) => pin.snapshot,
            None => self.inner.snapshot.load(Ordering::Acquire),
        }
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

    /// Starts the next statement: from now on, reads see every write made so far, and at
    /// READ COMMITTED and weaker, every commit made so far.
    pub fn next_command(&self) {
        {
            let mut state = self.inner.state.lock();
            state.command += 1;
            state.write_target = None;
        }
        if self.inner.options.isolation.statement_snapshots() {
            let oracle = &self.inner.shared.oracle;
            let fresh = oracle.begin_snapshot();
            let old = self.inner.snapshot.swap(fresh, Ordering::AcqRel);
            oracle.end_snapshot(old);
        }
    }

    /// Declares the keyspace the current statement updates or deletes from (see
    /// `write_target` in the state); cleared by the next statement.
    pub fn set_write_target(&self, keyspace: KeyspaceId) {
        self.inner.state.lock().write_target = Some(keyspace);
    }

    /// The value of `key` as the current statement sees it.
    pub fn get(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let target;
        {
            let state = self.active_state()?;
            if let Some(entry) = state.writes.get(&(keyspace, key.to_vec()))?
                && let Some(own) = entry.visible_at(self.read_command(&state))
            {
                return Ok(own.clone());
            }
            target = state.write_target == Some(keyspace);
        }
        match self.inner.options.isolation {
            Isolation::ReadUncommitted => {
                if let Some(dirty) = self.dirty_writes(keyspace, &point_range(key))?.pop() {
                    return Ok(dirty.1);
                }
            }
            Isolation::RepeatableRead if !target => self.read_lock(keyspace, key)?,
            Isolation::Serializable => self.inner.shared.ssi.read(self.inner.id, keyspace, key)?,
            _ => {}
        }
        let snapshot = self.snapshot();
        let cached = matches!(
            self.inner.options.isolation,
            Isolation::ReadCommitted | Isolation::Snapshot | Isolation::Serializable
        );
        if keyspace == CATALOG_KEYSPACE && cached {
            // SSI leaves the catalog out, so skipping `ssi.read` above loses nothing.
            return self
                .inner
                .shared
                .catalog_cache
                .get(key, snapshot, || self.get_committed(keyspace, key, snapshot));
        }
        self.get_committed(keyspace, key, snapshot)
    }

    /// Locks `key` exclusively and returns its newest value including every own write,
    /// the current statement's too: what a uniqueness check must see. At the levels with
    /// a transaction snapshot, a version committed after the snapshot fails with 40001.
    pub fn get_for_update(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_locked(keyspace, key, LockMode::Exclusive)
    }

    /// [`Transaction::get_for_update`] with a lock of either strength (a shared one for
    /// a foreign key's parent row).
    pub fn get_locked(&self, keyspace: KeyspaceId, key: &[u8], mode: LockMode) -> Result<Option<Vec<u8>>> {
        if let Some(own) = self.own_value(keyspace, key)? {
            return Ok(own);
        }
        match self.lock_row(keyspace, key, mode)? {
            RowLock::Changed(value) => Ok(value),
            RowLock::Unchanged => {
                if let Some(own) = self.own_value(keyspace, key)? {
                    return Ok(own);
                }
                self.get_committed(keyspace, key, self.snapshot())
            }
        }
    }

    /// Takes a row lock (`SELECT ... FOR UPDATE / FOR SHARE`, and every UPDATE or DELETE
    /// before it changes a row) and tells whether a newer version was committed after the
    /// current statement's snapshot. At REPEATABLE READ and stronger that fails with
    /// 40001; at READ COMMITTED the caller gets the newer version to re-check.
    pub fn lock_row(&self, keyspace: KeyspaceId, key: &[u8], mode: LockMode) -> Result<RowLock> {
        let acquired = self.lock(keyspace, key, mode)?;
        if acquired == Acquired::Private {
            // Only this transaction ever wrote there: nothing newer can exist.
            return Ok(RowLock::Unchanged);
        }
        if self.inner.options.isolation == Isolation::Serializable {
            self.inner.shared.ssi.read(self.inner.id, keyspace, key)?;
        }
        if acquired == Acquired::Held && mode == LockMode::Exclusive {
            // Held exclusively since an earlier write or lock: nobody committed since then,
            // and that earlier call did this check.
            return Ok(RowLock::Unchanged);
        }
        if self.own_value(keyspace, key)?.is_some() {
            return Ok(RowLock::Unchanged);
        }
        let snapshot = self.snapshot();
        match self.newest_committed(keyspace, key)? {
            Some(ts) if ts > snapshot => {
                if self.inner.options.isolation.first_committer_wins() {
                    return Err(TxnError::WriteConflict);
                }
                Ok(RowLock::Changed(self.get_committed(keyspace, key, Timestamp::MAX)?))
            }
            _ => Ok(RowLock::Unchanged),
        }
    }

    /// The transaction's own write of `key` (any statement's): `None` if there is none.
    fn own_value(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<Option<Option<Vec<u8>>>> {
        let state = self.active_state()?;
        Ok(state.writes.get(&(keyspace, key.to_vec()))?.map(|e| e.value))
    }

    fn get_committed(&self, keyspace: KeyspaceId, key: &[u8], at: Timestamp) -> Result<Option<Vec<u8>>> {
        let engine = self.inner.shared.keyspaces.get(keyspace)?;
        let mut versions = engine.scan(version::visible_range(key, at));
        match versions.next() {
            None => Ok(None),
            Some(entry) => {
                let (_, value) = entry?;
                Ok(version::decode_value(&value)?.map(<[u8]>::to_vec))
            }
        }
    }

    /// The newest committed value of `key`, overlaid with the transaction's own writes,
    /// whatever the snapshot: for integrity checks that must not miss a concurrent commit
    /// (the caller holds the lock that orders it against such commits).
    pub fn get_latest(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.own_value(keyspace, key)? {
            Some(own) => Ok(own),
            None => self.get_committed(keyspace, key, Timestamp::MAX),
        }
    }

    /// [`Transaction::scan`] over the newest committed versions, whatever the snapshot
    /// (see [`Transaction::get_latest`]).
    pub fn scan_latest(&self, keyspace: KeyspaceId, range: KeyRange) -> Result<Scan> {
        self.scan_at(keyspace, range, false, Timestamp::MAX)
    }

    /// The entries of `range` in key order (or reverse), as the current statement sees them.
    pub fn scan(&self, keyspace: KeyspaceId, range: KeyRange, reverse: bool) -> Result<Scan> {
        self.scan_at(keyspace, range, reverse, self.snapshot())
    }

    fn scan_at(&self, keyspace: KeyspaceId, range: KeyRange, reverse: bool, at: Timestamp) -> Result<Scan> {
        let isolation = self.inner.options.isolation;
        let (entries, command, target) = {
            let state = self.active_state()?;
            (
                state.writes.range(keyspace, &range, reverse)?,
                self.read_command(&state),
                state.write_target == Some(keyspace),
            )
        };
        let visible = entries.filter_map(move |item| match item {
            Ok(((_, key), entry)) => entry.into_visible(command).map(|value| Ok((key, value))),
            Err(e) => Some(Err(e)),
        });
        let own: OwnWrites = if isolation == Isolation::ReadUncommitted {
            // Other transactions' writes, shadowed by our own.
            let mut overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>> =
                self.dirty_writes(keyspace, &range)?.into_iter().collect();
            for item in visible {
                let (key, value) = item?;
                overlay.insert(key, value);
            }
            let mut all: Vec<OwnWrite> = overlay.into_iter().collect();
            if reverse {
                all.reverse();
            }
            Box::new(all.into_iter().map(Ok))
        } else {
            Box::new(visible)
        };
        if isolation == Isolation::Serializable {
            self.inner.shared.ssi.scan(self.inner.id, keyspace, &range)?;
        }
        let engine = self.inner.shared.keyspaces.get(keyspace)?;
        let committed = Versions {
            inner: engine.scan(version::engine_range(&range)),
            snapshot: at,
            reverse,
            last_key: None,
            candidate: None,
            done: false,
        };
        let read_locks =
            (isolation == Isolation::RepeatableRead && !target).then(|| (self.clone(), keyspace));
        Ok(Scan { committed: committed.peekable(), own: own.peekable(), reverse, read_locks })
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
        let inner = &self.inner;
        let acquired = self.lock(keyspace, key, LockMode::Exclusive)?;
        if acquired == Acquired::Private {
            // Nobody else can read or write it: no conflict to check, nothing for SSI.
        } else {
            if acquired != Acquired::Held && inner.options.isolation.first_committer_wins() {
                // Someone may have committed a newer version after our snapshot. Writing
                // over it would lose their update.
                let newer = self.newest_committed(keyspace, key)?.is_some_and(|ts| ts > self.snapshot());
                if newer {
                    return Err(TxnError::WriteConflict);
                }
            }
            if inner.options.isolation == Isolation::Serializable {
                inner.shared.ssi.write(inner.id, keyspace, key)?;
            }
        }
        let mut state = self.active_state()?;
        let size = key.len() + value.as_ref().map_or(0, Vec::len);
        if state.writes.memory_bytes() + size > inner.options.write_set_limit {
            return Err(TxnError::WriteSetTooLarge { limit: inner.options.write_set_limit });
        }
        let register = !state.registered;
        state.registered = true;
        let command = state.command;
        let write_key = (keyspace, key.to_vec());
        let logging = state.undo.is_some();
        let replaced = state.writes.write(write_key.clone(), command, value, logging)?;
        if let Some(undo) = state.undo.as_mut() {
            undo.push((write_key, replaced));
        }
        drop(state);
        if register {
            inner.shared.writers.lock().insert(inner.id, Arc::downgrade(inner));
        }
        Ok(())
    }

    /// Takes a row lock, remembering it for release at the end: the keyspace's intention
    /// lock first if the transaction holds none yet, or the whole keyspace once it has
    /// locked more than `escalation_threshold` rows there, after which the keyspace lock
    /// covers every row request.
    ///
    /// Keyspace locks are released only at commit or rollback. A rollback to a savepoint
    /// keeps those taken since (the rows they cover may have been locked before the
    /// savepoint, whose row locks escalation has released); holding a lock longer is
    /// always safe, and a savepoint rollback is rare next to the writes that escalate.
    fn lock(&self, keyspace: KeyspaceId, key: &[u8], mode: LockMode) -> Result<Acquired> {
        let inner = &self.inner;
        let (intention, escalation) = {
            let mut state = self.active_state()?;
            // A keyspace this transaction created (a new table, TRUNCATE, a rewrite) is
            // named only by catalog entries no one else sees before the commit, so no
            // other transaction can read or write it and its rows need no locks. Bulk
            // loads into it (pgbench's TRUNCATE then COPY, ADD PRIMARY KEY) spent a
            // quarter of their time in the lock table otherwise.
            if state.created.iter().any(|&(id, _)| id == keyspace) {
                return Ok(Acquired::Private);
            }
            // The one extra lookup of the hot path: after the first row of a keyspace
            // the lock manager sees only row requests, until escalation.
            let held = state.keyspace_locks.entry(keyspace).or_default();
            if held.mode.is_some_and(|m| m.covers_rows(mode)) {
                return Ok(Acquired::Covered);
            }
            let intention = KeyspaceMode::intention(mode);
            held.rows += 1;
            // Only writers escalate. A reader's shared row locks (REPEATABLE READ, FOR
            // SHARE) stay per row: a shared lock on the whole table would make every
            // writer of it wait for a long report, where per row only the writers of the
            // rows it read do.
            let writes = mode == LockMode::Exclusive || held.mode.is_some_and(|m| m.allows_row_writes());
            let escalation =
                (writes && held.rows > inner.options.escalation_threshold).then_some(KeyspaceMode::Exclusive);
            (held.mode.is_none_or(|m| !m.covers(intention)).then_some(intention), escalation)
        };
        let wait = Wait { timeout: inner.options.lock_timeout, cancel: inner.options.cancel.as_deref() };
        if let Some(target) = escalation {
            self.escalate(keyspace, target, &wait)?;
            return Ok(Acquired::Covered);
        }
        let take_intention = |intention| -> Result<()> {
            inner.shared.locks.acquire_keyspace(inner.id, keyspace, intention, &wait)?;
            Self::record_keyspace_lock(&mut inner.state.lock(), keyspace, intention);
            Ok(())
        };
        let acquired = intention
            .map_or(Ok(()), take_intention)
            .and_then(|()| inner.shared.locks.acquire(inner.id, keyspace, key, mode, &wait));
        let mut state = inner.state.lock();
        if matches!(acquired, Ok(Acquired::New)) {
            state.locks.push((keyspace, key.to_vec()));
        } else if let Some(held) = state.keyspace_locks.get_mut(&keyspace) {
            // Counted in advance above; this request added no row lock.
            held.rows = held.rows.saturating_sub(1);
        }
        acquired
    }

    /// Notes that the transaction's lock on `keyspace` now includes `mode`; returns the
    /// combined mode.
    fn record_keyspace_lock(state: &mut State, keyspace: KeyspaceId, mode: KeyspaceMode) -> KeyspaceMode {
        let held = state.keyspace_locks.entry(keyspace).or_default();
        let combined = held.mode.map_or(mode, |m| m.combine(mode));
        held.mode = Some(combined);
        combined
    }

    /// Locks all of `keyspace` in `target` mode, then lets go of the row locks there that
    /// the keyspace lock now covers.
    fn escalate(&self, keyspace: KeyspaceId, target: KeyspaceMode, wait: &Wait) -> Result<()> {
        let inner = &self.inner;
        inner.shared.locks.acquire_keyspace(inner.id, keyspace, target, wait)?;
        let mut state = inner.state.lock();
        let mode = Self::record_keyspace_lock(&mut state, keyspace, target);
        if let Some(held) = state.keyspace_locks.get_mut(&keyspace) {
            held.rows = 0;
        }
        // Lock order: the transaction's state, then the lock table (as at rollback).
        let rows = state.locks.iter().filter(|(ks, _)| *ks == keyspace).map(|(_, k)| k.as_slice());
        inner.shared.locks.release_covered(inner.id, keyspace, mode, rows);
        Ok(())
    }

    /// REPEATABLE READ's lock on a row it reads: shared, held to the end, and taken only
    /// with proof that the version the snapshot shows is still the newest (40001 if a
    /// newer one was committed). The lock stops later writers; the check covers those that
    /// committed between the snapshot and the lock, whether the read waited for them or
    /// came after. Without it, two transactions could each read a row as it was before the
    /// other changed it, then both commit changes to the rows the other read: write skew
    /// on rows read (G2-item), which this level promises to prevent.
    fn read_lock(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<()> {
        match self.lock(keyspace, key, LockMode::Shared)? {
            // Held since an earlier read or write, which made the same check; nobody can
            // have committed to the key since. Private keys have no other writers.
            Acquired::Held | Acquired::Private => Ok(()),
            Acquired::New | Acquired::Upgraded | Acquired::Covered => {
                if self.own_value(keyspace, key)?.is_some() {
                    return Ok(());
                }
                match self.newest_committed(keyspace, key)? {
                    Some(ts) if ts > self.snapshot() => Err(TxnError::WriteConflict),
                    _ => Ok(()),
                }
            }
        }
    }

    fn newest_committed(&self, keyspace: KeyspaceId, key: &[u8]) -> Result<Option<Timestamp>> {
        let engine = self.inner.shared.keyspaces.get(keyspace)?;
        let mut versions = engine.scan(version::visible_range(key, Timestamp::MAX));
        match versions.next() {
            None => Ok(None),
            Some(entry) => Ok(Some(version::decode_key(&entry?.0)?.1)),
        }
    }

    /// Uncommitted writes of other live transactions in `range` (READ UNCOMMITTED).
    fn dirty_writes(&self, keyspace: KeyspaceId, range: &KeyRange) -> Result<Vec<OwnWrite>> {
        let others: Vec<Arc<Inner>> = {
            let writers = self.inner.shared.writers.lock();
            writers.iter().filter(|(id, _)| **id != self.inner.id).filter_map(|(_, w)| w.upgrade()).collect()
        };
        let mut out = Vec::new();
        for other in others {
            let state = other.state.lock();
            if state.active {
                for item in state.writes.range(keyspace, range, false)? {
                    let ((_, key), entry) = item?;
                    out.push((key, entry.value));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
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

    /// Marks a point to roll back to. From now on writes are logged for undo.
    pub fn savepoint(&self) -> Result<Savepoint> {
        let mut state = self.active_state()?;
        let undo = state.undo.get_or_insert_with(Vec::new).len();
        Ok(Savepoint {
            undo,
            locks: state.locks.len(),
            created: state.created.len(),
            dropped: state.dropped.len(),
        })
    }

    /// Undoes every write made since `savepoint` and releases the locks taken since.
    pub fn rollback_to(&self, savepoint: Savepoint) -> Result<()> {
        let inner = &self.inner;
        let (locks, created) = {
            let mut state = self.active_state()?;
            let undone: Vec<_> = match state.undo.as_mut() {
                Some(undo) if undo.len() >= savepoint.undo => undo.drain(savepoint.undo..).rev().collect(),
                _ => Vec::new(),
            };
            for (key, previous) in undone {
                match previous {
                    Some(entry) => state.writes.insert(key, entry)?,
                    None => state.writes.remove(&key)?,
                }
            }
            state.dropped.truncate(savepoint.dropped);
            let keep_created = savepoint.created.min(state.created.len());
            let created = state.created.split_off(keep_created);
            let keep_locks = savepoint.locks.min(state.locks.len());
            let locks = state.locks.split_off(keep_locks);
            (locks, created)
        };
        inner.shared.locks.release(inner.id, locks.iter().map(|(ks, k)| (*ks, k.as_slice())));
        for (id, _) in created {
            inner.shared.keyspaces.drop_keyspace(id);
        }
        Ok(())
    }

    /// Forgets every savepoint: writes are no longer logged for undo.
    pub fn release_savepoints(&self) -> Result<()> {
        self.active_state()?.undo = None;
        Ok(())
    }

    /// Commits: logs, applies and publishes the write set. Returns the commit timestamp
    /// (the snapshot timestamp for a transaction that wrote nothing).
    pub fn commit(&self) -> Result<Timestamp> {
        let inner = &self.inner;
        let shared = &inner.shared;
        let serializable = inner.options.isolation == Isolation::Serializable;
        if serializable && let Err(e) = shared.ssi.prepare_commit(inner.id) {
            self.rollback()?;
            return Err(e);
        }
        let (writes, created, dropped, locks, registered) = {
            let mut state = self.active_state()?;
            state.active = false;
            (
                std::mem::take(&mut state.writes),
                std::mem::take(&mut state.created),
                std::mem::take(&mut state.dropped),
                std::mem::take(&mut state.locks),
                state.registered,
            )
        };
        let snapshot = inner.snapshot.load(Ordering::Acquire);
        if writes.is_empty() && created.is_empty() && dropped.is_empty() {
            inner.finish(&locks, registered, None);
            shared.oracle.end_snapshot(snapshot);
            return Ok(snapshot);
        }
        let ts = shared.oracle.begin_commit();
        if writes.touches(CATALOG_KEYSPACE) {
            shared.catalog_cache.note_commit(ts);
        }
        let creates = created.iter().map(|&(keyspace, kind)| Write::CreateKeyspace { keyspace, kind });
        let result = if writes.spilled() {
            shared.commit_in_parts(ts, creates.collect(), &writes)
        } else {
            let memory = writes.into_memory().unwrap_or_default();
            let mut record =
                CommitRecord { ts, writes: Vec::with_capacity(created.len() + memory.len()), complete: true };
            record.writes.extend(creates);
            record.writes.extend(memory.into_iter().map(|(key, entry)| entry.into_write(key)));
            shared.commit(record)
        };
        if result.is_err() {
            for &(id, _) in &created {
                shared.keyspaces.drop_keyspace(id);
            }
        }
        // Locks go only now that the versions are applied: a waiter that gets one will
        // find the new version.
        inner.finish(&locks, registered, result.as_ref().ok().map(|_| ts));
        shared.oracle.end_snapshot(snapshot);
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
    /// Releases the locks and forgets the transaction in the shared registries;
    /// `committed` is its commit timestamp, `None` if it wrote nothing or failed.
    fn finish(&self, locks: &[WriteKey], registered: bool, committed: Option<Timestamp>) {
        let keyspaces = std::mem::take(&mut self.state.lock().keyspace_locks);
        self.release_locks(locks, keyspaces);
        if registered {
            self.shared.writers.lock().remove(&self.id);
        }
        if self.options.isolation == Isolation::Serializable {
            // A transaction without writes still counts as committed now, after every
            // commit handed out so far: later writers of what it read must see the edge.
            let ts = committed.unwrap_or_else(|| self.shared.oracle.last_assigned() + 1);
            self.shared.ssi.committed(self.id, ts);
        }
    }

    /// Releases the row locks, then the keyspace locks above them.
    fn release_locks(&self, rows: &[WriteKey], keyspaces: HashMap<KeyspaceId, KeyspaceLocks>) {
        self.shared.locks.release(self.id, rows.iter().map(|(ks, k)| (*ks, k.as_slice())));
        let held = keyspaces.into_iter().filter(|(_, l)| l.mode.is_some()).map(|(ks, _)| ks);
        self.shared.locks.release_keyspaces(self.id, held);
    }

    fn abort(&self, state: &mut State) {
        state.active = false;
        state.writes.clear();
        let locks = std::mem::take(&mut state.locks);
        self.release_locks(&locks, std::mem::take(&mut state.keyspace_locks));
        if state.registered {
            self.shared.writers.lock().remove(&self.id);
        }
        if self.options.isolation == Isolation::Serializable {
            self.shared.ssi.aborted(self.id);
        }
        for (id, _) in state.created.drain(..) {
            self.shared.keyspaces.drop_keyspace(id);
        }
        state.dropped.clear();
        self.shared.oracle.end_snapshot(self.snapshot.load(Ordering::Acquire));
        self.shared.drop_keyspaces_after(Vec::new(), 0);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if state.active {
            let mut state = std::mem::take(state);
            self.abort(&mut state);
        }
    }
}

fn point_range(key: &[u8]) -> KeyRange {
    (Bound::Included(key.to_vec()), Bound::Included(key.to_vec()))
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

/// The transaction's own writes a scan overlays, in scan order.
type OwnWrites = Box<dyn Iterator<Item = Result<OwnWrite>> + Send>;

/// A scan over a transaction's view of a key range: committed versions at the snapshot,
/// overlaid with the transaction's own writes.
pub struct Scan {
    committed: std::iter::Peekable<Versions>,
    own: std::iter::Peekable<OwnWrites>,
    reverse: bool,
    /// REPEATABLE READ: the transaction that takes a shared lock on each committed row
    /// returned, and the keyspace.
    read_locks: Option<(Transaction, KeyspaceId)>,
}

impl Iterator for Scan {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.merged()?;
        if let (Ok((key, _)), Some((txn, keyspace))) = (&next, &self.read_locks)
            && let Err(e) = txn.read_lock(*keyspace, key)
        {
            return Some(Err(e));
        }
        Some(next)
    }
}

impl Scan {
    fn merged(&mut self) -> Option<Result<KeyValue>> {
        loop {
            let take_own = match (self.committed.peek(), self.own.peek()) {
                (_, None) | (Some(Err(_)), _) => return self.committed.next(),
                (_, Some(Err(_))) | (None, Some(Ok(_))) => true,
                (Some(Ok((ck, _))), Some(Ok((ok, _)))) => {
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
            match self.own.next() {
                Some(Ok((key, Some(value)))) => return Some(Ok((key, value))),
                Some(Err(e)) => return Some(Err(e)),
                // An own delete: skip it (the committed version, if any, was skipped too).
                _ => {}
            }
        }
    }
}
