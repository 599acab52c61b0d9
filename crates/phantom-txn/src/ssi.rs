//! Serializable snapshot isolation: finding the dangerous structures snapshot isolation
//! lets through.
//!
//! Snapshot isolation already prevents every anomaly but write skew and its relatives
//! (G2). Cahill, Röhm and Fekete showed that every such anomaly contains a transaction
//! with both an incoming and an outgoing *rw-antidependency* among concurrent
//! transactions: `T1 -rw-> T2 -rw-> T3`, where `A -rw-> B` means A read a version that B
//! overwrote (A did not see B's write). Aborting that middle transaction (the *pivot*)
//! is enough to make every execution serializable. PostgreSQL's SERIALIZABLE works this
//! way; so does ours, in a simpler and somewhat more conservative form:
//!
//! - Every serializable transaction records what it read: single keys, and the key ranges
//!   its scans covered (so a row inserted into a scanned range counts, which is how
//!   predicate phantoms are caught). It also records the keys it wrote.
//! - A read of a key (or a scan of a range) that a concurrent transaction wrote adds an
//!   edge reader -> writer. A write of a key that a concurrent transaction read adds the
//!   same edge the other way round. Two transactions are concurrent unless one committed
//!   before the other's snapshot.
//! - A transaction with both an incoming and an outgoing edge is a pivot. If it is still
//!   running, it is doomed: its next operation or its commit fails with 40001. If it has
//!   already committed, the transaction whose operation made the edge fails instead.
//!
//! We do not check whether the third transaction committed first (PostgreSQL does), so
//! some harmless structures abort too: the price of a rule that is easy to see is right.
//! Records of committed transactions stay until no running transaction concurrent with them
//! is left, because later edges may still point at them; the edges of committed
//! transactions still tracked outlive those records. Only SERIALIZABLE transactions take
//! part; the catalog keyspace is left out (DDL is rare and would make everyone conflict).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Bound;

use parking_lot::Mutex;

use crate::keyspace::{CATALOG_KEYSPACE, KeyspaceId};
use crate::locks::TxnId;
use crate::transaction::KeyRange;
use crate::{Result, Timestamp, TxnError};

type Key = (KeyspaceId, Vec<u8>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Passed its commit check; commit timestamp not known yet.
    Committing,
    Committed(Timestamp),
}

#[derive(Debug)]
struct SerialTxn {
    snapshot: Timestamp,
    phase: Phase,
    reads: HashSet<Key>,
    ranges: Vec<(KeyspaceId, KeyRange)>,
    writes: BTreeSet<Key>,
    /// Concurrent transactions with an rw-edge into this one (they read what it wrote).
    incoming: HashSet<TxnId>,
    /// Concurrent transactions this one has an rw-edge to (it read what they wrote).
    outgoing: HashSet<TxnId>,
    doomed: bool,
}

impl SerialTxn {
    fn read_covers(&self, keyspace: KeyspaceId, key: &[u8]) -> bool {
        self.reads.contains(&(keyspace, key.to_vec()))
            || self.ranges.iter().any(|(ks, range)| *ks == keyspace && in_range(range, key))
    }

    fn wrote_in(&self, keyspace: KeyspaceId, range: &KeyRange) -> bool {
        let lo = match &range.0 {
            Bound::Included(k) => Bound::Included((keyspace, k.clone())),
            Bound::Excluded(k) => Bound::Excluded((keyspace, k.clone())),
            Bound::Unbounded => Bound::Included((keyspace, Vec::new())),
        };
        self.writes.range((lo, Bound::Unbounded)).take_while(|(ks, _)| *ks == keyspace).any(|(_, k)| {
            match &range.1 {
                Bound::Included(end) => k <= end,
                Bound::Excluded(end) => k < end,
                Bound::Unbounded => true,
            }
        })
    }

    fn is_pivot(&self) -> bool {
        !self.incoming.is_empty() && !self.outgoing.is_empty()
    }
}

fn in_range(range: &KeyRange, key: &[u8]) -> bool {
    let above = match &range.0 {
        Bound::Included(s) => key >= s.as_slice(),
        Bound::Excluded(s) => key > s.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match &range.1 {
        Bound::Included(e) => key <= e.as_slice(),
        Bound::Excluded(e) => key < e.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

/// Which end of an rw-edge an access is: a reader points at the writers of what it read.
#[derive(Clone, Copy)]
enum Side {
    Reader,
    Writer,
}

/// The rw-conflict tracker shared by all serializable transactions.
#[derive(Debug, Default)]
pub struct Ssi {
    txns: Mutex<HashMap<TxnId, SerialTxn>>,
}

fn failure() -> TxnError {
    TxnError::Serialization(
        "could not serialize access due to read/write dependencies among transactions".into(),
    )
}

impl Ssi {
    /// Starts tracking a serializable transaction.
    pub fn register(&self, txn: TxnId, snapshot: Timestamp) {
        self.register_with(txn, || snapshot);
    }

    /// Takes the transaction's snapshot with `take` while holding the tracker's lock, and
    /// starts tracking it. A commit that finishes between taking a snapshot and
    /// registering could otherwise be pruned while the new transaction cannot see it, and
    /// a conflict between the two would go unseen.
    pub fn register_with(&self, txn: TxnId, take: impl FnOnce() -> Timestamp) -> Timestamp {
        let mut txns = self.txns.lock();
        let snapshot = take();
        txns.insert(
            txn,
            SerialTxn {
                snapshot,
                phase: Phase::Running,
                reads: HashSet::new(),
                ranges: Vec::new(),
                writes: BTreeSet::new(),
                incoming: HashSet::new(),
                outgoing: HashSet::new(),
                doomed: false,
            },
        );
        snapshot
    }

    /// Records a read of `key`.
    pub fn read(&self, txn: TxnId, keyspace: KeyspaceId, key: &[u8]) -> Result<()> {
        let key = (keyspace, key.to_vec());
        self.record(
            txn,
            keyspace,
            Side::Reader,
            |t| t.writes.contains(&key),
            |me| {
                me.reads.insert(key.clone());
            },
        )
    }

    /// Records a scan of `range`.
    pub fn scan(&self, txn: TxnId, keyspace: KeyspaceId, range: &KeyRange) -> Result<()> {
        self.record(
            txn,
            keyspace,
            Side::Reader,
            |t| t.wrote_in(keyspace, range),
            |me| me.ranges.push((keyspace, range.clone())),
        )
    }

    /// Records a write of `key`.
    pub fn write(&self, txn: TxnId, keyspace: KeyspaceId, key: &[u8]) -> Result<()> {
        self.record(
            txn,
            keyspace,
            Side::Writer,
            |t| t.read_covers(keyspace, key),
            |me| {
                me.writes.insert((keyspace, key.to_vec()));
            },
        )
    }

    /// Records an access of `txn` (`note` adds it to the transaction's record) and adds
    /// an rw-edge to or from every concurrent transaction whose record `conflicts` with it.
    fn record(
        &self,
        txn: TxnId,
        keyspace: KeyspaceId,
        side: Side,
        conflicts: impl Fn(&SerialTxn) -> bool,
        note: impl FnOnce(&mut SerialTxn),
    ) -> Result<()> {
        if keyspace == CATALOG_KEYSPACE {
            return Ok(());
        }
        let mut txns = self.txns.lock();
        let snapshot = check_alive(&txns, txn)?.snapshot;
        let others: Vec<TxnId> = txns
            .iter()
            .filter(|(id, t)| **id != txn && concurrent(t, snapshot) && conflicts(t))
            .map(|(id, _)| *id)
            .collect();
        if let Some(me) = txns.get_mut(&txn) {
            note(me);
        }
        let edges = others.into_iter().map(|other| match side {
            Side::Reader => (txn, other),
            Side::Writer => (other, txn),
        });
        add_edges(&mut txns, txn, edges)
    }

    /// The commit check: fails if the transaction is doomed or is a pivot. On success the
    /// transaction counts as committing; [`Ssi::committed`] gives it its timestamp.
    pub fn prepare_commit(&self, txn: TxnId) -> Result<()> {
        let mut txns = self.txns.lock();
        let me = check_alive(&txns, txn)?;
        if me.is_pivot() {
            forget(&mut txns, txn);
            return Err(failure());
        }
        if let Some(me) = txns.get_mut(&txn) {
            me.phase = Phase::Committing;
        }
        Ok(())
    }

    /// Records the commit timestamp, and forgets what no running transaction can still
    /// conflict with.
    pub fn committed(&self, txn: TxnId, ts: Timestamp) {
        let mut txns = self.txns.lock();
        if let Some(me) = txns.get_mut(&txn) {
            me.phase = Phase::Committed(ts);
        }
        Self::prune(&mut txns);
    }

    /// Forgets a transaction that rolled back: its reads and writes never happened.
    pub fn aborted(&self, txn: TxnId) {
        let mut txns = self.txns.lock();
        forget(&mut txns, txn);
        Self::prune(&mut txns);
    }

    fn prune(txns: &mut HashMap<TxnId, SerialTxn>) {
        let oldest_running =
            txns.values().filter(|t| !matches!(t.phase, Phase::Committed(_))).map(|t| t.snapshot).min();
        let gone: Vec<TxnId> = txns
            .iter()
            .filter(|(_, t)| match (t.phase, oldest_running) {
                (Phase::Committed(ts), Some(oldest)) => ts <= oldest,
                (Phase::Committed(_), None) => true,
                _ => false,
            })
            .map(|(id, _)| *id)
            .collect();
        // Only the record goes, not the edges others have to it: a committed transaction
        // still tracked may have an rw-edge out to it (it read what the pruned one wrote),
        // and that edge makes it a pivot as soon as a running transaction reads past its
        // writes (the read-only anomaly). Unlike an abort, the edges really happened.
        for id in gone {
            txns.remove(&id);
        }
    }

    /// Number of transactions tracked (for tests).
    pub fn tracked(&self) -> usize {
        self.txns.lock().len()
    }
}

fn check_alive(txns: &HashMap<TxnId, SerialTxn>, txn: TxnId) -> Result<&SerialTxn> {
    match txns.get(&txn) {
        Some(t) if t.doomed => Err(failure()),
        Some(t) => Ok(t),
        None => Err(failure()),
    }
}

/// True if `other` overlaps a transaction whose snapshot is `snapshot`: it has not
/// committed, or committed after that snapshot was taken.
fn concurrent(other: &SerialTxn, snapshot: Timestamp) -> bool {
    match other.phase {
        Phase::Committed(ts) => ts > snapshot,
        _ => true,
    }
}

/// Removes a transaction and every edge touching it.
fn forget(txns: &mut HashMap<TxnId, SerialTxn>, txn: TxnId) {
    if let Some(gone) = txns.remove(&txn) {
        for other in gone.incoming.iter().chain(&gone.outgoing) {
            if let Some(t) = txns.get_mut(other) {
                t.incoming.remove(&txn);
                t.outgoing.remove(&txn);
            }
        }
    }
}

/// Adds rw-edges `(reader, writer)` made by an operation of `actor`. If that makes the
/// actor a pivot, or makes a transaction past its commit check one, the actor fails (and
/// is forgotten, which removes its edges again). Other running pivots are doomed.
fn add_edges(
    txns: &mut HashMap<TxnId, SerialTxn>,
    actor: TxnId,
    edges: impl Iterator<Item = (TxnId, TxnId)>,
) -> Result<()> {
    let mut touched = Vec::new();
    for (reader, writer) in edges {
        if let Some(r) = txns.get_mut(&reader) {
            r.outgoing.insert(writer);
        }
        if let Some(w) = txns.get_mut(&writer) {
            w.incoming.insert(reader);
        }
        touched.push(if reader == actor { writer } else { reader });
    }
    if touched.is_empty() {
        return Ok(());
    }
    let actor_fails = txns.get(&actor).is_some_and(SerialTxn::is_pivot)
        || touched.iter().any(|t| txns.get(t).is_some_and(|t| t.is_pivot() && t.phase != Phase::Running));
    if actor_fails {
        forget(txns, actor);
        return Err(failure());
    }
    for t in touched {
        if let Some(t) = txns.get_mut(&t)
            && t.is_pivot()
        {
            t.doomed = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_skew_aborts_exactly_one_side() {
        // Doctors: both read both rows, each writes the row the other read.
        let ssi = Ssi::default();
        ssi.register(1, 10);
        ssi.register(2, 10);
        for t in [1, 2] {
            assert!(ssi.read(t, 5, b"alice").is_ok());
            assert!(ssi.read(t, 5, b"bob").is_ok());
        }
        assert!(ssi.write(1, 5, b"alice").is_ok()); // 2 -> 1
        assert!(matches!(ssi.write(2, 5, b"bob"), Err(TxnError::Serialization(_)))); // 1 -> 2
        assert!(ssi.prepare_commit(1).is_ok(), "the survivor is no pivot once 2 is gone");
    }

    #[test]
    fn a_running_pivot_is_doomed_by_someone_else() {
        let ssi = Ssi::default();
        for t in [1, 2, 3] {
            ssi.register(t, 10);
        }
        assert!(ssi.write(2, 5, b"y").is_ok());
        assert!(ssi.read(2, 5, b"x").is_ok());
        assert!(ssi.write(3, 5, b"x").is_ok()); // 2 -> 3, made by 3
        assert!(ssi.read(1, 5, b"y").is_ok()); // 1 -> 2, made by 1: 2 is a running pivot
        assert!(matches!(ssi.prepare_commit(2), Err(TxnError::Serialization(_))));
        assert!(ssi.prepare_commit(1).is_ok());
        assert!(ssi.prepare_commit(3).is_ok());
    }

    #[test]
    fn disjoint_transactions_both_commit_and_are_forgotten() {
        let ssi = Ssi::default();
        ssi.register(1, 10);
        ssi.register(2, 10);
        assert!(ssi.read(1, 5, b"a").is_ok());
        assert!(ssi.write(1, 5, b"a").is_ok());
        assert!(ssi.read(2, 5, b"b").is_ok());
        assert!(ssi.write(2, 5, b"b").is_ok());
        assert!(ssi.prepare_commit(1).is_ok());
        ssi.committed(1, 11);
        assert!(ssi.prepare_commit(2).is_ok());
        ssi.committed(2, 12);
        assert_eq!(ssi.tracked(), 0);
    }

    #[test]
    fn pruning_a_committed_transaction_keeps_the_edges_others_have_to_it() {
        // The read-only anomaly: 2 reads x, 1 overwrites x and commits (2 -> 1), 3 begins
        // and sees 1's x, 2 writes y and commits, then 3 reads y without 2's write
        // (3 -> 2). No serial order explains it: 2 before 1 before 3 before 2. When 2
        // commits, 3 is the oldest running transaction and 1 committed at or below its
        // snapshot, so 1 may be forgotten; 2's edge to it may not.
        let ssi = Ssi::default();
        ssi.register(1, 10);
        ssi.register(2, 10);
        assert!(ssi.read(2, 5, b"x").is_ok());
        assert!(ssi.write(1, 5, b"x").is_ok()); // 2 -> 1
        assert!(ssi.prepare_commit(1).is_ok());
        ssi.committed(1, 11);
        assert!(ssi.write(2, 5, b"y").is_ok());
        ssi.register(3, 11);
        assert!(ssi.prepare_commit(2).is_ok());
        ssi.committed(2, 12);
        assert!(ssi.read(3, 5, b"x").is_ok(), "3 sees 1's write: no edge");
        assert!(matches!(ssi.read(3, 5, b"y"), Err(TxnError::Serialization(_))), "3 -> 2 -> 1");
    }

    #[test]
    fn a_scan_conflicts_with_an_insert_into_its_range() {
        let ssi = Ssi::default();
        ssi.register(1, 10);
        ssi.register(2, 10);
        let range: KeyRange = (Bound::Included(b"a".to_vec()), Bound::Excluded(b"m".to_vec()));
        assert!(ssi.scan(1, 5, &range).is_ok());
        assert!(ssi.scan(2, 5, &range).is_ok());
        assert!(ssi.write(2, 5, b"c").is_ok()); // 1 -> 2 (a phantom for 1's scan)
        assert!(ssi.write(1, 5, b"z").is_ok(), "outside 2's range: no edge");
        assert!(matches!(ssi.write(1, 5, b"d"), Err(TxnError::Serialization(_)))); // 2 -> 1
        assert!(ssi.prepare_commit(2).is_ok());
    }
}
