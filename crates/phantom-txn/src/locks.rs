//! Locks: shared and exclusive row locks under intention locks on their keyspace, with
//! escalation, fair wait queues, deadlock detection and cancellation.
//!
//! A row lock names one user key of one keyspace. Writers take exclusive locks on every key
//! they write and hold them until their versions are applied (or they roll back), so two
//! transactions never write the same key at once. REPEATABLE READ readers and
//! `SELECT ... FOR SHARE` take shared locks; `FOR UPDATE` takes exclusive ones. Readers at
//! the snapshot levels take none, so nothing here ever blocks them.
//!
//! ## Keyspace locks and escalation
//!
//! Locks form a two-level hierarchy, as in textbooks and in PostgreSQL's table locks.
//! Before its first row lock in a keyspace a transaction takes an *intention* lock on the
//! keyspace: IS (intention shared) for shared row locks, IX (intention exclusive) for
//! exclusive ones. Intentions are compatible with each other, so transactions that lock a
//! few rows each never wait at the keyspace level, and the transaction remembers what it
//! holds, so only its first row lock per keyspace costs a keyspace request.
//!
//! Bulk work would otherwise fill the table with one entry per row (a COPY of millions of
//! rows, millions of entries). So a transaction that has taken more than
//! [`ESCALATION_THRESHOLD`] row locks in one keyspace, exclusive ones among them,
//! *escalates*: it asks for the whole keyspace in X mode, waits for the other
//! transactions' conflicting intentions to go (with the same deadlock detection, timeout
//! and fairness as any wait), then releases the row locks the keyspace lock covers and
//! takes no more. Another transaction's row request in the keyspace then waits at the
//! keyspace level, its IS or IX conflicting with the escalated X. The manager also grants
//! S and SIX (S and IX at once), but transactions do not escalate shared row locks: a
//! reader holding S on a whole table would hold up every writer of it (see
//! `Transaction::lock`).
//!
//! ```text
//!          IS   IX   S    SIX  X        (granted with = y)
//!    IS    y    y    y    y    -
//!    IX    y    y    -    -    -
//!    S     y    -    y    -    -
//!    SIX   y    -    -    -    -
//!    X     -    -    -    -    -
//! ```
//!
//! The cost is concurrency: two bulk writers of one table serialize (or, if each already
//! holds row locks the other waits for, one fails as a deadlock victim), where row locks
//! would have let them interleave. 5,000 rows is far above what OLTP transactions (pgbench:
//! one row per table) lock, and far below where the table's memory matters.
//!
//! ## Waiting
//!
//! A request that conflicts waits in the resource's FIFO queue. It is granted when it is
//! compatible with every holder and with every request queued ahead of it, so a stream of
//! shared requests cannot starve a waiting writer (nor a stream of intentions a waiting
//! escalation). An upgrade (a stronger mode by a holder: shared to exclusive, an intention
//! to an escalated mode) goes to the front of the queue.
//!
//! Each waiter sleeps on its own [`Parker`]: a flag and a condition variable. Whoever
//! might unblock it (a release, a victim choice) sets the flag before notifying, and the
//! waiter only sleeps while the flag is clear, so a wake-up that arrives between the
//! waiter's last check and its sleep is never lost. A waiter also wakes every [`RECHECK`]
//! on its own: to look for deadlocks again and to see whether its statement was canceled
//! ([`Wait::cancel`], the SQL session's interrupt flag, which fails the wait with
//! [`TxnError::Canceled`]). Polling the flag keeps this crate ignorant of who raises it, at
//! the price of up to one period of latency.
//!
//! ## Deadlocks
//!
//! When a transaction starts to wait (and every time it wakes without being granted) it
//! records, in a global wait-for graph, whom it waits for: the conflicting holders and the
//! conflicting requests ahead of it. It then searches the graph from itself; finding its
//! way back means a cycle. The victim is the youngest transaction of the cycle (the highest
//! id: it has done the least work, most likely), which fails with SQLSTATE 40P01 and a
//! message naming the cycle. Detection happens right when the cycle closes, so it costs
//! microseconds, not a timer period. Row and keyspace waits share the graph, so a cycle
//! through both (an escalation waiting for an intention whose holder waits for one of the
//! escalating transaction's rows) is found like any other.
//!
//! Lock order, to keep the lock manager itself deadlock-free: shard mutex, then the graph
//! mutex, then a parker's mutex. Nothing takes them in the other direction.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::keyspace::KeyspaceId;
use crate::{Result, TxnError};

const SHARDS: usize = 64;
/// How often a waiter re-examines its queue, the wait-for graph and its cancel flag even
/// without a wake-up.
const RECHECK: Duration = Duration::from_millis(100);

/// How many row locks one transaction takes in one keyspace before it locks the whole
/// keyspace instead (see the module doc). Transactions may set another threshold
/// (`TxnOptions::escalation_threshold`; tests use small ones).
pub const ESCALATION_THRESHOLD: usize = 5_000;

/// Identifies a transaction while it is live. Ids grow with age: a higher id is younger.
pub type TxnId = u64;

/// A row lock's strength.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    /// Many holders at once; blocks exclusive requests.
    Shared,
    /// One holder; blocks everything else.
    Exclusive,
}

/// A keyspace lock's strength: the multi-granularity lattice (see the module doc). The
/// lock table keeps row locks in the same type, as its two plain modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyspaceMode {
    /// IS: the holder takes shared row locks in the keyspace.
    IntentionShared,
    /// IX: the holder takes exclusive row locks in the keyspace.
    IntentionExclusive,
    /// S: the whole keyspace, shared (an escalated reader).
    Shared,
    /// SIX: S and IX at once (an escalated reader that then writes rows).
    SharedIntentionExclusive,
    /// X: the whole keyspace, exclusive (an escalated writer).
    Exclusive,
}

type Mode = KeyspaceMode;

impl From<LockMode> for KeyspaceMode {
    fn from(mode: LockMode) -> Self {
        match mode {
            LockMode::Shared => KeyspaceMode::Shared,
            LockMode::Exclusive => KeyspaceMode::Exclusive,
        }
    }
}

impl KeyspaceMode {
    /// The intention a row lock of `mode` needs on its keyspace.
    pub fn intention(mode: LockMode) -> KeyspaceMode {
        match mode {
            LockMode::Shared => KeyspaceMode::IntentionShared,
            LockMode::Exclusive => KeyspaceMode::IntentionExclusive,
        }
    }

    /// True if holding `self` gives everything holding `other` would.
    pub fn covers(self, other: KeyspaceMode) -> bool {
        use KeyspaceMode::*;
        match self {
            Exclusive => true,
            SharedIntentionExclusive => other != Exclusive,
            Shared => matches!(other, IntentionShared | Shared),
            IntentionExclusive => matches!(other, IntentionShared | IntentionExclusive),
            IntentionShared => other == IntentionShared,
        }
    }

    /// True if a row lock of `mode` in a keyspace locked with `self` needs no lock of its
    /// own.
    pub fn covers_rows(self, mode: LockMode) -> bool {
        self.covers(mode.into())
    }

    /// True if the holder may take exclusive row locks (it holds IX or more).
    pub fn allows_row_writes(self) -> bool {
        self.covers(KeyspaceMode::IntentionExclusive)
    }

    /// The weakest mode that covers both: what a holder of `self` holds after an upgrade
    /// by `other`.
    pub fn combine(self, other: KeyspaceMode) -> KeyspaceMode {
        if self.covers(other) {
            self
        } else if other.covers(self) {
            other
        } else {
            // The only incomparable pair is S and IX.
            KeyspaceMode::SharedIntentionExclusive
        }
    }

    fn compatible(self, other: KeyspaceMode) -> bool {
        use KeyspaceMode::*;
        match (self, other) {
            (Exclusive, _) | (_, Exclusive) => false,
            (IntentionShared, _) | (_, IntentionShared) => true,
            (IntentionExclusive, IntentionExclusive) | (Shared, Shared) => true,
            _ => false,
        }
    }

    /// The name in deadlock messages (PostgreSQL calls its lock modes this way).
    fn name(self) -> &'static str {
        match self {
            KeyspaceMode::IntentionShared => "IntentionShareLock",
            KeyspaceMode::IntentionExclusive => "IntentionExclusiveLock",
            KeyspaceMode::Shared => "ShareLock",
            KeyspaceMode::SharedIntentionExclusive => "ShareIntentionExclusiveLock",
            KeyspaceMode::Exclusive => "ExclusiveLock",
        }
    }
}

/// What [`LockManager::acquire`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// The transaction did not hold the key before.
    New,
    /// It held a weaker lock and now holds a stronger one.
    Upgraded,
    /// It already held the key at this strength or stronger.
    Held,
    /// No row lock was needed: the transaction's lock on the whole keyspace covers the
    /// row (returned by the transaction, never by the manager). Unlike [`Acquired::Held`]
    /// this says nothing about when the row was last checked: the caller must still look
    /// for a newer committed version, as after [`Acquired::New`].
    Covered,
    /// No lock was needed: the key is in a keyspace its transaction created, which no
    /// other transaction can see (returned by the transaction, never by the manager).
    Private,
}

/// How long a request may wait, and what may end the wait early.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wait<'a> {
    /// Give up with [`TxnError::LockTimeout`] after this long (`None`: no limit).
    pub timeout: Option<Duration>,
    /// Give up with [`TxnError::Canceled`] once this flag is raised. Checked when the wait
    /// starts and whenever the waiter wakes, at least every [`RECHECK`].
    pub cancel: Option<&'a AtomicBool>,
}

impl Wait<'static> {
    /// Waits as long as it takes.
    pub const FOREVER: Wait<'static> = Wait { timeout: None, cancel: None };

    /// Waits at most `timeout`.
    pub fn at_most(timeout: Duration) -> Wait<'static> {
        Wait { timeout: Some(timeout), cancel: None }
    }
}

impl Wait<'_> {
    fn canceled(&self) -> bool {
        self.cancel.is_some_and(|flag| flag.load(Ordering::Relaxed))
    }
}

/// What a lock is on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Resource {
    Keyspace(KeyspaceId),
    Row(KeyspaceId, Vec<u8>),
}

impl Resource {
    /// The resource without its key, for messages.
    fn target(&self) -> Target {
        match self {
            Resource::Keyspace(ks) => Target::Keyspace(*ks),
            Resource::Row(ks, _) => Target::Row(*ks),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Target {
    Keyspace(KeyspaceId),
    Row(KeyspaceId),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Keyspace(ks) => write!(f, "keyspace {ks}"),
            Target::Row(ks) => write!(f, "a row of keyspace {ks}"),
        }
    }
}

/// Wakes one waiting transaction.
#[derive(Debug, Default)]
struct Parker {
    state: Mutex<ParkState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct ParkState {
    signaled: bool,
    /// Set when the deadlock detector chose this waiter as the victim: the message.
    victim: Option<String>,
}

impl Parker {
    fn signal(&self) {
        self.state.lock().signaled = true;
        self.wake.notify_one();
    }

    /// Sleeps until signaled or `until`; returns the victim message if chosen as one.
    fn park(&self, until: Instant) -> Option<String> {
        let mut state = self.state.lock();
        while !state.signaled && state.victim.is_none() {
            if self.wake.wait_until(&mut state, until).timed_out() {
                break;
            }
        }
        state.signaled = false;
        state.victim.clone()
    }
}

#[derive(Debug)]
struct Request {
    txn: TxnId,
    mode: Mode,
    parker: Arc<Parker>,
}

#[derive(Debug, Default)]
struct LockEntry {
    granted: Vec<(TxnId, Mode)>,
    waiting: VecDeque<Request>,
}

impl LockEntry {
    /// True if the request at queue position `pos` (or a new request, `None`) by `txn`
    /// may be granted now.
    fn grantable(&self, txn: TxnId, mode: Mode, pos: Option<usize>) -> bool {
        let holders_ok = self.granted.iter().all(|&(t, m)| t == txn || m.compatible(mode));
        let ahead = pos.unwrap_or(self.waiting.len());
        holders_ok && self.waiting.iter().take(ahead).all(|r| r.txn == txn || r.mode.compatible(mode))
    }

    /// The transactions a request at `pos` waits for.
    fn blockers(&self, txn: TxnId, mode: Mode, pos: usize) -> Vec<TxnId> {
        let holders = self.granted.iter().filter(|&&(t, m)| t != txn && !m.compatible(mode)).map(|&(t, _)| t);
        let ahead = self.waiting.iter().take(pos).filter(|r| r.txn != txn && !r.mode.compatible(mode));
        let mut out: Vec<TxnId> = holders.chain(ahead.map(|r| r.txn)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Grants `mode`, which for a holder already combines what it held.
    fn grant(&mut self, txn: TxnId, mode: Mode) -> Acquired {
        match self.granted.iter_mut().find(|(t, _)| *t == txn) {
            Some(held) => {
                held.1 = mode;
                Acquired::Upgraded
            }
            None => {
                self.granted.push((txn, mode));
                Acquired::New
            }
        }
    }

    fn wake_waiters(&self) {
        for request in &self.waiting {
            request.parker.signal();
        }
    }
}

#[derive(Debug)]
struct Shard {
    table: Mutex<HashMap<Resource, LockEntry>>,
}

/// A waiting transaction in the wait-for graph.
#[derive(Debug)]
struct WaitNode {
    blockers: Vec<TxnId>,
    mode: Mode,
    target: Target,
    parker: Arc<Parker>,
    chosen: bool,
}

/// The lock table.
#[derive(Debug)]
pub struct LockManager {
    shards: Vec<Shard>,
    hasher: RandomState,
    graph: Mutex<HashMap<TxnId, WaitNode>>,
}

impl Default for LockManager {
    fn default() -> Self {
        Self::new()
    }
}

impl LockManager {
    /// An empty table.
    pub fn new() -> Self {
        LockManager {
            shards: (0..SHARDS).map(|_| Shard { table: Mutex::new(HashMap::new()) }).collect(),
            hasher: RandomState::new(),
            graph: Mutex::new(HashMap::new()),
        }
    }

    fn shard(&self, resource: &Resource) -> &Shard {
        let hash = self.hasher.hash_one(resource);
        &self.shards[(hash as usize) % SHARDS]
    }

    /// Takes a `mode` lock on row `key` for `txn`, waiting behind conflicting holders as
    /// `wait` allows. Fails with [`TxnError::Deadlock`] if waiting would close a cycle and
    /// `txn` is the youngest in it, with [`TxnError::LockTimeout`] when the timeout passes
    /// and with [`TxnError::Canceled`] when the cancel flag is raised. The keyspace's
    /// intention lock is the caller's business.
    pub fn acquire(
        &self,
        txn: TxnId,
        keyspace: KeyspaceId,
        key: &[u8],
        mode: LockMode,
        wait: &Wait,
    ) -> Result<Acquired> {
        self.acquire_resource(txn, Resource::Row(keyspace, key.to_vec()), mode.into(), wait)
    }

    /// Takes a `mode` lock on a whole keyspace for `txn` (an intention, or an escalation
    /// when `txn` already holds an intention), waiting as [`LockManager::acquire`] does.
    pub fn acquire_keyspace(
        &self,
        txn: TxnId,
        keyspace: KeyspaceId,
        mode: KeyspaceMode,
        wait: &Wait,
    ) -> Result<Acquired> {
        self.acquire_resource(txn, Resource::Keyspace(keyspace), mode, wait)
    }

    fn acquire_resource(&self, txn: TxnId, resource: Resource, mode: Mode, wait: &Wait) -> Result<Acquired> {
        let shard = self.shard(&resource);
        let (parker, mode) = {
            let mut table = shard.table.lock();
            let entry = table.entry(resource.clone()).or_default();
            let held = entry.granted.iter().find(|(t, _)| *t == txn).map(|&(_, m)| m);
            if held.is_some_and(|m| m.covers(mode)) {
                return Ok(Acquired::Held);
            }
            let mode = held.map_or(mode, |m| m.combine(mode));
            let upgrade = held.is_some();
            if entry.grantable(txn, mode, if upgrade { Some(0) } else { None }) {
                return Ok(entry.grant(txn, mode));
            }
            let parker = Arc::new(Parker::default());
            let request = Request { txn, mode, parker: parker.clone() };
            if upgrade {
                entry.waiting.push_front(request);
            } else {
                entry.waiting.push_back(request);
            }
            (parker, mode)
        };
        // A timeout past what the clock can represent never expires (`+` would panic).
        let deadline = wait.timeout.and_then(|t| Instant::now().checked_add(t));
        let result = self.wait(shard, &resource, txn, mode, &parker, deadline, wait);
        self.graph.lock().remove(&txn);
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn wait(
        &self,
        shard: &Shard,
        resource: &Resource,
        txn: TxnId,
        mode: Mode,
        parker: &Arc<Parker>,
        deadline: Option<Instant>,
        limits: &Wait,
    ) -> Result<Acquired> {
        let mut victim: Option<String> = None;
        loop {
            {
                let mut table = shard.table.lock();
                let Some(entry) = table.get_mut(resource) else {
                    return Err(TxnError::Internal("lock entry vanished while waiting".into()));
                };
                let Some(pos) = entry.waiting.iter().position(|r| r.txn == txn) else {
                    return Err(TxnError::Internal("lock request vanished while waiting".into()));
                };
                let expired = deadline.is_some_and(|d| Instant::now() >= d);
                let canceled = limits.canceled();
                let stop = expired || canceled;
                if victim.is_none() && !stop && entry.grantable(txn, mode, Some(pos)) {
                    entry.waiting.remove(pos);
                    return Ok(entry.grant(txn, mode));
                }
                if victim.is_none() && !stop {
                    let blockers = entry.blockers(txn, mode, pos);
                    victim = self.detect(txn, mode, blockers, parker, resource.target());
                }
                if victim.is_some() || stop {
                    // Leaving the queue may unblock the requests behind this one.
                    entry.waiting.remove(pos);
                    entry.wake_waiters();
                    if entry.granted.is_empty() && entry.waiting.is_empty() {
                        table.remove(resource);
                    }
                    return Err(match victim {
                        Some(message) => TxnError::Deadlock(message),
                        None if canceled => TxnError::Canceled,
                        None => TxnError::LockTimeout,
                    });
                }
            }
            let until = match deadline {
                Some(d) => d.min(Instant::now() + RECHECK),
                None => Instant::now() + RECHECK,
            };
            victim = parker.park(until);
        }
    }

    /// Records that `txn` waits for `blockers` and looks for a cycle through it. Returns
    /// the message for `txn` if it is the victim; if another transaction is, wakes it.
    fn detect(
        &self,
        txn: TxnId,
        mode: Mode,
        blockers: Vec<TxnId>,
        parker: &Arc<Parker>,
        target: Target,
    ) -> Option<String> {
        let mut graph = self.graph.lock();
        graph.insert(txn, WaitNode { blockers, mode, target, parker: parker.clone(), chosen: false });
        let cycle = find_cycle(&graph, txn)?;
        let victim = cycle.iter().copied().max().unwrap_or(txn);
        let message = describe_cycle(&graph, &cycle, victim);
        if victim == txn {
            graph.remove(&txn);
            return Some(message);
        }
        if let Some(node) = graph.get_mut(&victim) {
            node.chosen = true;
            let mut state = node.parker.state.lock();
            state.victim = Some(message);
            node.parker.wake.notify_one();
        }
        None
    }

    /// Releases `txn`'s locks on rows `keys`, waking whoever waits for them. Keys it does
    /// not hold are skipped.
    pub fn release<'a>(&self, txn: TxnId, keys: impl IntoIterator<Item = (KeyspaceId, &'a [u8])>) {
        for (keyspace, key) in keys {
            self.release_resource(txn, Resource::Row(keyspace, key.to_vec()), |_| true);
        }
    }

    /// Releases `txn`'s row locks among `keys` of `keyspace` that a keyspace lock of
    /// `mode` covers: what an escalation no longer needs.
    pub fn release_covered<'a>(
        &self,
        txn: TxnId,
        keyspace: KeyspaceId,
        mode: KeyspaceMode,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) {
        for key in keys {
            self.release_resource(txn, Resource::Row(keyspace, key.to_vec()), |held| mode.covers(held));
        }
    }

    /// Releases `txn`'s locks on whole keyspaces.
    pub fn release_keyspaces(&self, txn: TxnId, keyspaces: impl IntoIterator<Item = KeyspaceId>) {
        for keyspace in keyspaces {
            self.release_resource(txn, Resource::Keyspace(keyspace), |_| true);
        }
    }

    /// Releases `txn`'s lock on `resource` if `release` agrees for the mode it holds.
    fn release_resource(&self, txn: TxnId, resource: Resource, release: impl Fn(Mode) -> bool) {
        let mut table = self.shard(&resource).table.lock();
        if let Entry::Occupied(mut e) = table.entry(resource) {
            let entry = e.get_mut();
            let before = entry.granted.len();
            entry.granted.retain(|&(t, m)| t != txn || !release(m));
            if entry.granted.len() == before {
                return;
            }
            if entry.granted.is_empty() && entry.waiting.is_empty() {
                e.remove();
            } else {
                entry.wake_waiters();
            }
        }
    }

    /// The transaction holding an exclusive lock on row `key`, if any (a keyspace lock
    /// covering the row does not count).
    pub fn exclusive_holder(&self, keyspace: KeyspaceId, key: &[u8]) -> Option<TxnId> {
        let resource = Resource::Row(keyspace, key.to_vec());
        let table = self.shard(&resource).table.lock();
        let entry = table.get(&resource)?;
        entry.granted.iter().find(|(_, m)| *m == Mode::Exclusive).map(|&(t, _)| t)
    }

    /// How many rows and keyspaces have a lock or a waiter: the table's size, for tests
    /// and statistics. Locks every shard in turn, so it is no hot-path call.
    pub fn entries(&self) -> usize {
        self.shards.iter().map(|s| s.table.lock().len()).sum()
    }
}

/// A cycle in the wait-for graph through `start`, as the list of its members in wait
/// order (`start` first), ignoring waiters already chosen as victims.
fn find_cycle(graph: &HashMap<TxnId, WaitNode>, start: TxnId) -> Option<Vec<TxnId>> {
    let mut path = vec![start];
    let mut next_child = vec![0usize];
    let mut visited: HashSet<TxnId> = HashSet::from([start]);
    while let Some(&node) = path.last() {
        let depth = path.len() - 1;
        let blockers = graph.get(&node).filter(|n| !n.chosen).map(|n| n.blockers.as_slice()).unwrap_or(&[]);
        let Some(&child) = blockers.get(next_child[depth]) else {
            path.pop();
            next_child.pop();
            continue;
        };
        next_child[depth] += 1;
        if child == start {
            return Some(path);
        }
        if visited.insert(child) {
            path.push(child);
            next_child.push(0);
        }
    }
    None
}

fn describe_cycle(graph: &HashMap<TxnId, WaitNode>, cycle: &[TxnId], victim: TxnId) -> String {
    let steps: Vec<String> = cycle
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let next = cycle[(i + 1) % cycle.len()];
            match graph.get(t) {
                Some(n) => format!(
                    "transaction {t} waits for {} on {} held by transaction {next}",
                    n.mode.name(),
                    n.target
                ),
                None => format!("transaction {t} waits for a lock held by transaction {next}"),
            }
        })
        .collect();
    format!(
        "deadlock detected: {}; transaction {victim} (the youngest) was chosen to abort",
        steps.join(", ")
    )
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn manager() -> Arc<LockManager> {
        Arc::new(LockManager::new())
    }

    #[test]
    fn shared_locks_coexist_and_exclusive_waits_for_release() {
        let locks = manager();
        assert_eq!(locks.acquire(1, 7, b"k", LockMode::Shared, &Wait::FOREVER).ok(), Some(Acquired::New));
        assert_eq!(locks.acquire(2, 7, b"k", LockMode::Shared, &Wait::FOREVER).ok(), Some(Acquired::New));
        assert_eq!(locks.acquire(2, 7, b"k", LockMode::Shared, &Wait::FOREVER).ok(), Some(Acquired::Held));
        let short = Wait::at_most(Duration::from_millis(30));
        assert!(matches!(locks.acquire(3, 7, b"k", LockMode::Exclusive, &short), Err(TxnError::LockTimeout)));
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let locks = locks.clone();
            std::thread::spawn(move || {
                let r = locks.acquire(3, 7, b"k", LockMode::Exclusive, &Wait::FOREVER);
                let _ = tx.send(());
                r.ok()
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        locks.release(1, [(7, &b"k"[..])]);
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "still one shared holder");
        locks.release(2, [(7, &b"k"[..])]);
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        assert_eq!(waiter.join().ok().flatten(), Some(Acquired::New));
        assert_eq!(locks.exclusive_holder(7, b"k"), Some(3));
    }

    #[test]
    fn a_queued_writer_is_not_starved_by_later_readers() {
        let locks = manager();
        locks.acquire(1, 1, b"k", LockMode::Shared, &Wait::FOREVER).ok();
        let writer = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(2, 1, b"k", LockMode::Exclusive, &Wait::FOREVER).ok())
        };
        std::thread::sleep(Duration::from_millis(30));
        let short = Wait::at_most(Duration::from_millis(30));
        assert!(matches!(locks.acquire(3, 1, b"k", LockMode::Shared, &short), Err(TxnError::LockTimeout)));
        locks.release(1, [(1, &b"k"[..])]);
        assert_eq!(writer.join().ok().flatten(), Some(Acquired::New));
    }

    #[test]
    fn two_way_deadlock_aborts_the_youngest() {
        let locks = manager();
        locks.acquire(1, 1, b"a", LockMode::Exclusive, &Wait::FOREVER).ok();
        locks.acquire(2, 1, b"b", LockMode::Exclusive, &Wait::FOREVER).ok();
        let older = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(1, 1, b"b", LockMode::Exclusive, &Wait::FOREVER))
        };
        std::thread::sleep(Duration::from_millis(30));
        let started = Instant::now();
        let young = locks.acquire(2, 1, b"a", LockMode::Exclusive, &Wait::FOREVER);
        assert!(started.elapsed() < Duration::from_secs(1));
        match young {
            Err(TxnError::Deadlock(message)) => {
                assert!(message.contains("transaction 2 waits"), "{message}");
                assert!(message.contains("transaction 1 waits"), "{message}");
            }
            other => panic!("expected a deadlock, got {other:?}"),
        }
        locks.release(2, [(1, &b"b"[..])]);
        assert!(matches!(older.join().ok(), Some(Ok(Acquired::New))));
    }

    #[test]
    fn the_victim_may_be_a_transaction_already_waiting() {
        // 3 (youngest) waits first; 1 closes the cycle 1 -> 2 -> 3 -> 1 and 3 is chosen.
        let locks = manager();
        for (txn, key) in [(1u64, b"a"), (2, b"b"), (3, b"c")] {
            locks.acquire(txn, 1, key, LockMode::Exclusive, &Wait::FOREVER).ok();
        }
        let spawn = |txn: TxnId, key: &'static [u8]| {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(txn, 1, key, LockMode::Exclusive, &Wait::FOREVER))
        };
        let third = spawn(3, b"a");
        std::thread::sleep(Duration::from_millis(20));
        let second = spawn(2, b"c");
        std::thread::sleep(Duration::from_millis(20));
        let first = spawn(1, b"b");
        assert!(matches!(third.join().ok(), Some(Err(TxnError::Deadlock(_)))));
        locks.release(3, [(1, &b"c"[..])]);
        assert!(matches!(second.join().ok(), Some(Ok(_))));
        locks.release(2, [(1, &b"b"[..]), (1, &b"c"[..])]);
        assert!(matches!(first.join().ok(), Some(Ok(_))));
    }

    #[test]
    fn a_timeout_too_long_for_the_clock_means_no_timeout() {
        let locks = manager();
        locks.acquire(1, 1, b"k", LockMode::Exclusive, &Wait::FOREVER).ok();
        let waiter = {
            let locks = locks.clone();
            std::thread::spawn(move || {
                locks.acquire(2, 1, b"k", LockMode::Exclusive, &Wait::at_most(Duration::MAX))
            })
        };
        std::thread::sleep(Duration::from_millis(30));
        locks.release(1, [(1, &b"k"[..])]);
        assert!(matches!(waiter.join().ok(), Some(Ok(Acquired::New))));
    }

    #[test]
    fn upgrades_of_two_readers_deadlock() {
        let locks = manager();
        locks.acquire(1, 1, b"k", LockMode::Shared, &Wait::FOREVER).ok();
        locks.acquire(2, 1, b"k", LockMode::Shared, &Wait::FOREVER).ok();
        let older = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(1, 1, b"k", LockMode::Exclusive, &Wait::FOREVER))
        };
        std::thread::sleep(Duration::from_millis(30));
        assert!(matches!(
            locks.acquire(2, 1, b"k", LockMode::Exclusive, &Wait::FOREVER),
            Err(TxnError::Deadlock(_))
        ));
        locks.release(2, [(1, &b"k"[..])]);
        assert!(matches!(older.join().ok(), Some(Ok(Acquired::Upgraded))));
    }

    use KeyspaceMode::{
        Exclusive as X, IntentionExclusive as IX, IntentionShared as IS, Shared as S,
        SharedIntentionExclusive as SIX,
    };

    const ALL: [KeyspaceMode; 5] = [IS, IX, S, SIX, X];

    #[test]
    fn keyspace_modes_follow_the_textbook_matrix() {
        // Rows and columns in the order of ALL; 1 = compatible.
        let matrix = [[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1, 0, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]];
        for (i, a) in ALL.into_iter().enumerate() {
            for (j, b) in ALL.into_iter().enumerate() {
                assert_eq!(a.compatible(b), matrix[i][j] == 1, "{a:?} with {b:?}");
            }
        }
        assert_eq!(S.combine(IX), SIX);
        assert_eq!(IX.combine(S), SIX);
        assert_eq!(IS.combine(IX), IX);
        assert_eq!(SIX.combine(X), X);
        assert!(X.covers_rows(LockMode::Exclusive) && SIX.covers_rows(LockMode::Shared));
        assert!(!SIX.covers_rows(LockMode::Exclusive) && !IX.covers_rows(LockMode::Shared));
        assert!(IX.allows_row_writes() && SIX.allows_row_writes() && !S.allows_row_writes());
    }

    #[test]
    fn intentions_coexist_and_an_escalation_waits_for_the_others() {
        let locks = manager();
        assert_eq!(locks.acquire_keyspace(1, 5, IX, &Wait::FOREVER).ok(), Some(Acquired::New));
        assert_eq!(locks.acquire_keyspace(2, 5, IX, &Wait::FOREVER).ok(), Some(Acquired::New));
        assert_eq!(locks.acquire_keyspace(3, 5, IS, &Wait::FOREVER).ok(), Some(Acquired::New));
        assert_eq!(locks.acquire_keyspace(2, 5, IS, &Wait::FOREVER).ok(), Some(Acquired::Held));
        let (tx, rx) = mpsc::channel();
        let escalation = {
            let locks = locks.clone();
            std::thread::spawn(move || {
                let r = locks.acquire_keyspace(1, 5, X, &Wait::FOREVER);
                let _ = tx.send(());
                r.ok()
            })
        };
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "2 and 3 still hold intentions");
        locks.release_keyspaces(2, [5]);
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "3 still holds IS");
        locks.release_keyspaces(3, [5]);
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        assert_eq!(escalation.join().ok().flatten(), Some(Acquired::Upgraded));
        // Now everyone else's intention waits.
        let short = Wait::at_most(Duration::from_millis(30));
        assert!(matches!(locks.acquire_keyspace(2, 5, IS, &short), Err(TxnError::LockTimeout)));
        locks.release_keyspaces(1, [5]);
        assert_eq!(locks.acquire_keyspace(2, 5, IS, &short).ok(), Some(Acquired::New));
    }

    #[test]
    fn a_shared_escalation_lets_readers_in_and_keeps_writers_out() {
        let locks = manager();
        locks.acquire_keyspace(1, 5, IS, &Wait::FOREVER).ok();
        assert_eq!(locks.acquire_keyspace(1, 5, S, &Wait::FOREVER).ok(), Some(Acquired::Upgraded));
        let short = Wait::at_most(Duration::from_millis(30));
        assert_eq!(locks.acquire_keyspace(2, 5, IS, &short).ok(), Some(Acquired::New));
        assert!(matches!(locks.acquire_keyspace(3, 5, IX, &short), Err(TxnError::LockTimeout)));
        // The escalated reader may still write rows: S and IX make SIX, next to IS.
        assert_eq!(locks.acquire_keyspace(1, 5, IX, &short).ok(), Some(Acquired::Upgraded));
        assert!(matches!(locks.acquire_keyspace(1, 5, S, &short), Ok(Acquired::Held)));
    }

    #[test]
    fn queued_escalation_is_not_starved_by_later_intentions() {
        let locks = manager();
        locks.acquire_keyspace(1, 5, IS, &Wait::FOREVER).ok();
        locks.acquire_keyspace(2, 5, IX, &Wait::FOREVER).ok();
        let escalation = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire_keyspace(2, 5, X, &Wait::FOREVER).ok())
        };
        std::thread::sleep(Duration::from_millis(30));
        // IS is compatible with both holders, but not with the X queued ahead of it.
        let short = Wait::at_most(Duration::from_millis(30));
        assert!(matches!(locks.acquire_keyspace(3, 5, IS, &short), Err(TxnError::LockTimeout)));
        locks.release_keyspaces(1, [5]);
        assert_eq!(escalation.join().ok().flatten(), Some(Acquired::Upgraded));
    }

    #[test]
    fn two_escalations_deadlock_and_the_youngest_aborts() {
        let locks = manager();
        locks.acquire_keyspace(1, 5, IX, &Wait::FOREVER).ok();
        locks.acquire_keyspace(2, 5, IX, &Wait::FOREVER).ok();
        let older = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire_keyspace(1, 5, X, &Wait::FOREVER))
        };
        std::thread::sleep(Duration::from_millis(30));
        let started = Instant::now();
        match locks.acquire_keyspace(2, 5, X, &Wait::FOREVER) {
            Err(TxnError::Deadlock(message)) => {
                assert!(message.contains("ExclusiveLock on keyspace 5"), "{message}");
                assert!(message.contains("transaction 2 (the youngest)"), "{message}");
            }
            other => panic!("expected a deadlock, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        locks.release_keyspaces(2, [5]);
        assert!(matches!(older.join().ok(), Some(Ok(Acquired::Upgraded))));
    }

    #[test]
    fn an_escalation_waiting_for_a_row_waiter_is_a_deadlock() {
        // 2 waits for 1's row; 1 escalates and waits for 2's intention.
        let locks = manager();
        locks.acquire_keyspace(1, 5, IX, &Wait::FOREVER).ok();
        locks.acquire(1, 5, b"a", LockMode::Exclusive, &Wait::FOREVER).ok();
        locks.acquire_keyspace(2, 5, IX, &Wait::FOREVER).ok();
        let row_waiter = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(2, 5, b"a", LockMode::Exclusive, &Wait::FOREVER))
        };
        std::thread::sleep(Duration::from_millis(30));
        let escalation = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire_keyspace(1, 5, X, &Wait::FOREVER))
        };
        match row_waiter.join().ok() {
            Some(Err(TxnError::Deadlock(message))) => {
                assert!(message.contains("on a row of keyspace 5"), "{message}")
            }
            other => panic!("expected a deadlock, got {other:?}"),
        }
        locks.release_keyspaces(2, [5]);
        assert!(matches!(escalation.join().ok(), Some(Ok(Acquired::Upgraded))));
    }

    #[test]
    fn escalation_releases_the_row_locks_it_covers() {
        let locks = manager();
        locks.acquire(1, 5, b"r", LockMode::Shared, &Wait::FOREVER).ok();
        locks.acquire(1, 5, b"w", LockMode::Exclusive, &Wait::FOREVER).ok();
        locks.acquire(2, 5, b"r", LockMode::Shared, &Wait::FOREVER).ok();
        assert_eq!(locks.entries(), 2);
        locks.release_covered(1, 5, S, [&b"r"[..], &b"w"[..], &b"absent"[..]]);
        assert_eq!(locks.entries(), 2, "2 still holds r, and S does not cover 1's lock on w");
        assert_eq!(locks.exclusive_holder(5, b"w"), Some(1));
        locks.release_covered(1, 5, X, [&b"w"[..]]);
        assert_eq!(locks.exclusive_holder(5, b"w"), None);
        locks.release(2, [(5, &b"r"[..])]);
        assert_eq!(locks.entries(), 0);
    }

    #[test]
    fn a_raised_cancel_flag_ends_a_wait() {
        let locks = manager();
        locks.acquire(1, 5, b"k", LockMode::Exclusive, &Wait::FOREVER).ok();
        let flag = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (locks, flag) = (locks.clone(), flag.clone());
            std::thread::spawn(move || {
                let wait = Wait { timeout: None, cancel: Some(&flag) };
                let started = Instant::now();
                (locks.acquire(2, 5, b"k", LockMode::Exclusive, &wait), started.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        let raised = Instant::now();
        flag.store(true, Ordering::Relaxed);
        let (result, _) = waiter.join().expect("waiter");
        assert!(matches!(result, Err(TxnError::Canceled)), "{result:?}");
        assert!(raised.elapsed() < Duration::from_secs(1));
        // The request left the queue: the lock goes straight to the next one.
        locks.release(1, [(5, &b"k"[..])]);
        assert_eq!(locks.entries(), 0);
        // A raised flag does not stop a request that need not wait.
        let wait = Wait { timeout: None, cancel: Some(&flag) };
        assert_eq!(locks.acquire(3, 5, b"k", LockMode::Exclusive, &wait).ok(), Some(Acquired::New));
    }
}
