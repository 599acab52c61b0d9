//! Row locks: shared and exclusive, with fair wait queues and deadlock detection.
//!
//! A lock names one user key of one keyspace. Writers take exclusive locks on every key
//! they write and hold them until their versions are applied (or they roll back), so two
//! transactions never write the same key at once. REPEATABLE READ readers and
//! `SELECT ... FOR SHARE` take shared locks; `FOR UPDATE` takes exclusive ones.
//!
//! ## Waiting
//!
//! A request that conflicts waits in the key's FIFO queue. It is granted when it is
//! compatible with every holder and with every request queued ahead of it, so a stream of
//! shared requests cannot starve a waiting writer. An upgrade (shared to exclusive by the
//! same transaction) goes to the front of the queue.
//!
//! Each waiter sleeps on its own [`Parker`]: a flag and a condition variable. Whoever
//! might unblock it (a release, a victim choice) sets the flag before notifying, and the
//! waiter only sleeps while the flag is clear, so a wake-up that arrives between the
//! waiter's last check and its sleep is never lost.
//!
//! ## Deadlocks
//!
//! When a transaction starts to wait (and every time it wakes without being granted) it
//! records, in a global wait-for graph, whom it waits for: the conflicting holders and the
//! conflicting requests ahead of it. It then searches the graph from itself; finding its
//! way back means a cycle. The victim is the youngest transaction of the cycle (the highest
//! id: it has done the least work, most likely), which fails with SQLSTATE 40P01 and a
//! message naming the cycle. Detection happens right when the cycle closes, so it costs
//! microseconds, not a timer period. Waiters also re-check every [`RECHECK`] in case a
//! holder was granted after their edges were recorded.
//!
//! Lock order, to keep the lock manager itself deadlock-free: shard mutex, then the graph
//! mutex, then a parker's mutex. Nothing takes them in the other direction.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::keyspace::KeyspaceId;
use crate::{Result, TxnError};

const SHARDS: usize = 64;
/// How often a waiter re-examines its queue and the wait-for graph even without a wake-up.
const RECHECK: Duration = Duration::from_millis(100);

/// Identifies a transaction while it is live. Ids grow with age: a higher id is younger.
pub type TxnId = u64;

/// A lock's strength.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    /// Many holders at once; blocks exclusive requests.
    Shared,
    /// One holder; blocks everything else.
    Exclusive,
}

impl LockMode {
    fn compatible(self, other: LockMode) -> bool {
        self == LockMode::Shared && other == LockMode::Shared
    }

    fn name(self) -> &'static str {
        match self {
            LockMode::Shared => "ShareLock",
            LockMode::Exclusive => "ExclusiveLock",
        }
    }
}

/// What [`LockManager::acquire`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// The transaction did not hold the key before.
    New,
    /// It held a shared lock and now holds an exclusive one.
    Upgraded,
    /// It already held the key at this strength or stronger.
    Held,
    /// No lock was needed: the key is in a keyspace its transaction created, which no
    /// other transaction can see (returned by the transaction, never by the manager).
    Private,
}

type LockKey = (KeyspaceId, Vec<u8>);

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
    mode: LockMode,
    parker: Arc<Parker>,
}

#[derive(Debug, Default)]
struct LockEntry {
    granted: Vec<(TxnId, LockMode)>,
    waiting: VecDeque<Request>,
}

impl LockEntry {
    /// True if the request at queue position `pos` (or a new request, `None`) by `txn`
    /// may be granted now.
    fn grantable(&self, txn: TxnId, mode: LockMode, pos: Option<usize>) -> bool {
        let holders_ok = self.granted.iter().all(|&(t, m)| t == txn || m.compatible(mode));
        let ahead = pos.unwrap_or(self.waiting.len());
        holders_ok && self.waiting.iter().take(ahead).all(|r| r.txn == txn || r.mode.compatible(mode))
    }

    /// The transactions a request at `pos` waits for.
    fn blockers(&self, txn: TxnId, mode: LockMode, pos: usize) -> Vec<TxnId> {
        let holders = self.granted.iter().filter(|&&(t, m)| t != txn && !m.compatible(mode)).map(|&(t, _)| t);
        let ahead = self.waiting.iter().take(pos).filter(|r| r.txn != txn && !r.mode.compatible(mode));
        let mut out: Vec<TxnId> = holders.chain(ahead.map(|r| r.txn)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn grant(&mut self, txn: TxnId, mode: LockMode) -> Acquired {
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
    table: Mutex<HashMap<LockKey, LockEntry>>,
}

/// A waiting transaction in the wait-for graph.
#[derive(Debug)]
struct WaitNode {
    blockers: Vec<TxnId>,
    mode: LockMode,
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

    fn shard(&self, keyspace: KeyspaceId, key: &[u8]) -> &Shard {
        let hash = self.hasher.hash_one((keyspace, key));
        &self.shards[(hash as usize) % SHARDS]
    }

    /// Takes a `mode` lock on `key` for `txn`, waiting behind conflicting holders for at
    /// most `timeout` (`None`: as long as it takes). Fails with [`TxnError::Deadlock`] if
    /// waiting would close a cycle and `txn` is the youngest in it, and with
    /// [`TxnError::LockTimeout`] when the timeout passes.
    pub fn acquire(
        &self,
        txn: TxnId,
        keyspace: KeyspaceId,
        key: &[u8],
        mode: LockMode,
        timeout: Option<Duration>,
    ) -> Result<Acquired> {
        let shard = self.shard(keyspace, key);
        let lock_key: LockKey = (keyspace, key.to_vec());
        let parker = {
            let mut table = shard.table.lock();
            let entry = table.entry(lock_key.clone()).or_default();
            let held = entry.granted.iter().find(|(t, _)| *t == txn).map(|&(_, m)| m);
            if held.is_some_and(|m| m >= mode) {
                return Ok(Acquired::Held);
            }
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
            parker
        };
        // A timeout past what the clock can represent never expires (`+` would panic).
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let result = self.wait(shard, &lock_key, txn, mode, &parker, deadline);
        self.graph.lock().remove(&txn);
        result
    }

    fn wait(
        &self,
        shard: &Shard,
        key: &LockKey,
        txn: TxnId,
        mode: LockMode,
        parker: &Arc<Parker>,
        deadline: Option<Instant>,
    ) -> Result<Acquired> {
        let mut victim: Option<String> = None;
        loop {
            {
                let mut table = shard.table.lock();
                let Some(entry) = table.get_mut(key) else {
                    return Err(TxnError::Internal("lock entry vanished while waiting".into()));
                };
                let Some(pos) = entry.waiting.iter().position(|r| r.txn == txn) else {
                    return Err(TxnError::Internal("lock request vanished while waiting".into()));
                };
                let expired = deadline.is_some_and(|d| Instant::now() >= d);
                if victim.is_none() && !expired && entry.grantable(txn, mode, Some(pos)) {
                    entry.waiting.remove(pos);
                    return Ok(entry.grant(txn, mode));
                }
                if victim.is_none() && !expired {
                    let blockers = entry.blockers(txn, mode, pos);
                    victim = self.detect(txn, mode, blockers, parker, key);
                }
                if victim.is_some() || expired {
                    // Leaving the queue may unblock the requests behind this one.
                    entry.waiting.remove(pos);
                    entry.wake_waiters();
                    if entry.granted.is_empty() && entry.waiting.is_empty() {
                        table.remove(key);
                    }
                    return Err(match victim {
                        Some(message) => TxnError::Deadlock(message),
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
        mode: LockMode,
        blockers: Vec<TxnId>,
        parker: &Arc<Parker>,
        key: &LockKey,
    ) -> Option<String> {
        let mut graph = self.graph.lock();
        graph.insert(txn, WaitNode { blockers, mode, parker: parker.clone(), chosen: false });
        let cycle = find_cycle(&graph, txn)?;
        let victim = cycle.iter().copied().max().unwrap_or(txn);
        let message = describe_cycle(&graph, &cycle, victim, key.0);
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

    /// Releases `txn`'s locks on `keys`, waking whoever waits for them.
    pub fn release<'a>(&self, txn: TxnId, keys: impl IntoIterator<Item = (KeyspaceId, &'a [u8])>) {
        for (keyspace, key) in keys {
            let mut table = self.shard(keyspace, key).table.lock();
            let lock_key: LockKey = (keyspace, key.to_vec());
            if let Entry::Occupied(mut e) = table.entry(lock_key) {
                let entry = e.get_mut();
                entry.granted.retain(|&(t, _)| t != txn);
                if entry.granted.is_empty() && entry.waiting.is_empty() {
                    e.remove();
                } else {
                    entry.wake_waiters();
                }
            }
        }
    }

    /// The transaction holding an exclusive lock on `key`, if any.
    pub fn exclusive_holder(&self, keyspace: KeyspaceId, key: &[u8]) -> Option<TxnId> {
        let table = self.shard(keyspace, key).table.lock();
        let entry = table.get(&(keyspace, key.to_vec()))?;
        entry.granted.iter().find(|(_, m)| *m == LockMode::Exclusive).map(|&(t, _)| t)
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

fn describe_cycle(graph: &HashMap<TxnId, WaitNode>, cycle: &[TxnId], victim: TxnId, keyspace: u32) -> String {
    let steps: Vec<String> = cycle
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let next = cycle[(i + 1) % cycle.len()];
            let mode = graph.get(t).map_or("a lock", |n| n.mode.name());
            format!("transaction {t} waits for {mode} held by transaction {next}")
        })
        .collect();
    format!(
        "deadlock detected: {}; transaction {victim} (the youngest) was chosen to abort (keyspace {keyspace})",
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
        assert_eq!(locks.acquire(1, 7, b"k", LockMode::Shared, None).ok(), Some(Acquired::New));
        assert_eq!(locks.acquire(2, 7, b"k", LockMode::Shared, None).ok(), Some(Acquired::New));
        assert_eq!(locks.acquire(2, 7, b"k", LockMode::Shared, None).ok(), Some(Acquired::Held));
        let short = Some(Duration::from_millis(30));
        assert!(matches!(locks.acquire(3, 7, b"k", LockMode::Exclusive, short), Err(TxnError::LockTimeout)));
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let locks = locks.clone();
            std::thread::spawn(move || {
                let r = locks.acquire(3, 7, b"k", LockMode::Exclusive, None);
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
        locks.acquire(1, 1, b"k", LockMode::Shared, None).ok();
        let writer = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(2, 1, b"k", LockMode::Exclusive, None).ok())
        };
        std::thread::sleep(Duration::from_millis(30));
        let short = Some(Duration::from_millis(30));
        assert!(matches!(locks.acquire(3, 1, b"k", LockMode::Shared, short), Err(TxnError::LockTimeout)));
        locks.release(1, [(1, &b"k"[..])]);
        assert_eq!(writer.join().ok().flatten(), Some(Acquired::New));
    }

    #[test]
    fn two_way_deadlock_aborts_the_youngest() {
        let locks = manager();
        locks.acquire(1, 1, b"a", LockMode::Exclusive, None).ok();
        locks.acquire(2, 1, b"b", LockMode::Exclusive, None).ok();
        let older = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(1, 1, b"b", LockMode::Exclusive, None))
        };
        std::thread::sleep(Duration::from_millis(30));
        let started = Instant::now();
        let young = locks.acquire(2, 1, b"a", LockMode::Exclusive, None);
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
            locks.acquire(txn, 1, key, LockMode::Exclusive, None).ok();
        }
        let spawn = |txn: TxnId, key: &'static [u8]| {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(txn, 1, key, LockMode::Exclusive, None))
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
        locks.acquire(1, 1, b"k", LockMode::Exclusive, None).ok();
        let waiter = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(2, 1, b"k", LockMode::Exclusive, Some(Duration::MAX)))
        };
        std::thread::sleep(Duration::from_millis(30));
        locks.release(1, [(1, &b"k"[..])]);
        assert!(matches!(waiter.join().ok(), Some(Ok(Acquired::New))));
    }

    #[test]
    fn upgrades_of_two_readers_deadlock() {
        let locks = manager();
        locks.acquire(1, 1, b"k", LockMode::Shared, None).ok();
        locks.acquire(2, 1, b"k", LockMode::Shared, None).ok();
        let older = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire(1, 1, b"k", LockMode::Exclusive, None))
        };
        std::thread::sleep(Duration::from_millis(30));
        assert!(matches!(locks.acquire(2, 1, b"k", LockMode::Exclusive, None), Err(TxnError::Deadlock(_))));
        locks.release(2, [(1, &b"k"[..])]);
        assert!(matches!(older.join().ok(), Some(Ok(Acquired::Upgraded))));
    }
}
