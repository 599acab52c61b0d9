//! Transactions over the MVCC store: visibility, conflicts, rollback, recovery.

use std::collections::BTreeMap;
use std::ops::Bound;

use std::time::Duration;

use phantom_txn::{Isolation, KeyspaceId, MvccStore, StoreOptions, Transaction, TxnError, TxnOptions};
use proptest::prelude::*;

fn all(txn: &Transaction, ks: KeyspaceId) -> Vec<(Vec<u8>, Vec<u8>)> {
    txn.scan(ks, (Bound::Unbounded, Bound::Unbounded), false)
        .expect("scan")
        .map(|kv| kv.expect("entry"))
        .collect()
}

fn all_reverse(txn: &Transaction, ks: KeyspaceId) -> Vec<(Vec<u8>, Vec<u8>)> {
    txn.scan(ks, (Bound::Unbounded, Bound::Unbounded), true)
        .expect("scan")
        .map(|kv| kv.expect("entry"))
        .collect()
}

fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

fn new_keyspace(store: &MvccStore) -> KeyspaceId {
    let txn = store.begin();
    let ks = txn.create_keyspace(None).expect("create").0;
    txn.commit().expect("commit");
    ks
}

#[test]
fn snapshots_do_not_see_later_commits() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store);
    let t1 = store.begin();
    t1.put(ks, b"a", b"1".to_vec()).expect("put");
    t1.commit().expect("commit");

    let reader = store.begin();
    let writer = store.begin();
    writer.put(ks, b"a", b"2".to_vec()).expect("put");
    writer.put(ks, b"b", b"2".to_vec()).expect("put");
    // Uncommitted writes are invisible to others, visible to their writer.
    assert_eq!(reader.get(ks, b"a").expect("get"), Some(b"1".to_vec()));
    writer.next_command();
    assert_eq!(writer.get(ks, b"a").expect("get"), Some(b"2".to_vec()));
    writer.commit().expect("commit");
    // Committed after the reader's snapshot: still invisible to it.
    assert_eq!(reader.get(ks, b"a").expect("get"), Some(b"1".to_vec()));
    assert_eq!(all(&reader, ks), vec![kv("a", "1")]);
    assert_eq!(all(&store.begin(), ks), vec![kv("a", "2"), kv("b", "2")]);
}

#[test]
fn concurrent_writers_of_one_key_conflict() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store);
    let snapshot = TxnOptions {
        isolation: Isolation::Snapshot,
        lock_timeout: Some(Duration::from_millis(50)),
        ..TxnOptions::default()
    };
    let t1 = store.begin_with(snapshot.clone());
    let t2 = store.begin_with(snapshot);
    t1.put(ks, b"k", b"1".to_vec()).expect("put");
    // t2 waits for t1's row lock, and gives up after lock_timeout.
    assert!(matches!(t2.put(ks, b"k", b"2".to_vec()), Err(TxnError::LockTimeout)));
    t1.commit().expect("commit");
    // t2's snapshot predates t1's commit: writing the key would lose t1's update.
    assert!(matches!(t2.put(ks, b"k", b"2".to_vec()), Err(TxnError::WriteConflict)));
    // A failed transaction keeps its locks until it rolls back.
    t2.rollback().expect("rollback");
    // A transaction that starts after the commit may write.
    let t3 = store.begin();
    t3.put(ks, b"k", b"3".to_vec()).expect("put");
    t3.commit().expect("commit");
}

#[test]
fn writes_to_a_keyspace_the_transaction_created_take_no_row_locks() {
    let store = MvccStore::memory();
    let options = TxnOptions { lock_timeout: Some(Duration::from_millis(50)), ..TxnOptions::default() };
    let creator = store.begin_with(options.clone());
    let fresh = creator.create_keyspace(None).expect("create").0;
    creator.put(fresh, b"k", b"1".to_vec()).expect("put");
    // Nobody else can name the keyspace before the commit; a transaction that does so
    // anyway (only a test can) finds no lock to wait for, which shows none was taken.
    let other = store.begin_with(options.clone());
    other
        .lock_row(fresh, b"k", phantom_txn::LockMode::Exclusive)
        .expect("no lock held on a private keyspace");
    other.rollback().expect("rollback");
    creator.commit().expect("commit");
    // Once committed the keyspace is shared, and its writes lock as usual.
    let t1 = store.begin_with(options.clone());
    let t2 = store.begin_with(options);
    t1.put(fresh, b"k", b"2".to_vec()).expect("put");
    assert!(matches!(t2.put(fresh, b"k", b"3".to_vec()), Err(TxnError::LockTimeout)));
    t1.commit().expect("commit");
    assert_eq!(store.begin().get(fresh, b"k").expect("get"), Some(b"2".to_vec()));
}

#[test]
fn rollback_and_drop_discard_writes_and_release_keys() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store);
    let t1 = store.begin();
    t1.put(ks, b"k", b"1".to_vec()).expect("put");
    t1.rollback().expect("rollback");
    assert!(matches!(t1.put(ks, b"x", Vec::new()), Err(TxnError::NotActive)));
    {
        let t2 = store.begin();
        t2.put(ks, b"k", b"2".to_vec()).expect("put");
        // Dropped without commit: rolled back.
    }
    let t3 = store.begin();
    assert_eq!(t3.get(ks, b"k").expect("get"), None);
    t3.put(ks, b"k", b"3".to_vec()).expect("intent was released");
    t3.commit().expect("commit");
}

#[test]
fn deletes_hide_keys_in_both_scan_directions() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store);
    let t = store.begin();
    for k in ["a", "b", "c", "d"] {
        t.put(ks, k.as_bytes(), k.as_bytes().to_vec()).expect("put");
    }
    t.commit().expect("commit");
    let t = store.begin();
    t.delete(ks, b"b").expect("delete");
    t.put(ks, b"c", b"C".to_vec()).expect("put");
    t.commit().expect("commit");
    let t = store.begin();
    t.put(ks, b"c", b"CC".to_vec()).expect("put");
    t.commit().expect("commit");
    let r = store.begin();
    assert_eq!(all(&r, ks), vec![kv("a", "a"), kv("c", "CC"), kv("d", "d")]);
    assert_eq!(all_reverse(&r, ks), vec![kv("d", "d"), kv("c", "CC"), kv("a", "a")]);
}

#[test]
fn scans_merge_own_writes_between_committed_keys() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store);
    let t = store.begin();
    for k in ["a", "c", "e"] {
        t.put(ks, k.as_bytes(), k.as_bytes().to_vec()).expect("put");
    }
    t.commit().expect("commit");
    let t = store.begin();
    t.put(ks, b"b", b"b".to_vec()).expect("put");
    t.put(ks, b"e", b"E".to_vec()).expect("put");
    t.delete(ks, b"c").expect("delete");
    t.put(ks, b"f", b"f".to_vec()).expect("put");
    t.next_command();
    assert_eq!(all(&t, ks), vec![kv("a", "a"), kv("b", "b"), kv("e", "E"), kv("f", "f")]);
    assert_eq!(all_reverse(&t, ks), vec![kv("f", "f"), kv("e", "E"), kv("b", "b"), kv("a", "a")]);
}

#[test]
fn a_statement_does_not_see_its_own_writes_but_the_next_does() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store);
    let t = store.begin();
    t.put(ks, b"a", b"1".to_vec()).expect("put");
    assert_eq!(t.get(ks, b"a").expect("get"), None);
    assert_eq!(t.get_for_update(ks, b"a").expect("get"), Some(b"1".to_vec()));
    assert!(all(&t, ks).is_empty());
    t.next_command();
    t.put(ks, b"a", b"2".to_vec()).expect("put");
    // The current statement still reads what the previous one wrote.
    assert_eq!(t.get(ks, b"a").expect("get"), Some(b"1".to_vec()));
    assert_eq!(all(&t, ks), vec![kv("a", "1")]);
    t.next_command();
    assert_eq!(all(&t, ks), vec![kv("a", "2")]);
}

#[test]
fn keyspaces_are_transactional() {
    let store = MvccStore::memory();
    let t = store.begin();
    let ks = t.create_keyspace(None).expect("create").0;
    t.put(ks, b"a", b"1".to_vec()).expect("put");
    t.rollback().expect("rollback");
    assert!(store.keyspace_stats(ks).is_err(), "rolled-back keyspace still exists");

    let ks = new_keyspace(&store);
    let reader = store.begin();
    let t = store.begin();
    t.drop_keyspace(ks).expect("drop");
    t.commit().expect("commit");
    // A snapshot from before the drop still reads the keyspace.
    assert!(store.keyspace_stats(ks).is_ok());
    assert!(all(&reader, ks).is_empty());
    reader.rollback().expect("rollback");
    let t = store.begin();
    t.commit().expect("commit");
    assert!(store.keyspace_stats(ks).is_err(), "dropped keyspace was not removed");
}

#[test]
fn commits_survive_reopen_and_rollbacks_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ks;
    {
        let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("open");
        ks = new_keyspace(&store);
        let t = store.begin();
        t.put(ks, b"kept", b"1".to_vec()).expect("put");
        t.commit().expect("commit");
        let t = store.begin();
        t.put(ks, b"lost", b"1".to_vec()).expect("put");
        t.rollback().expect("rollback");
        let t = store.begin();
        t.put(ks, b"kept", b"2".to_vec()).expect("put");
        t.delete(ks, b"gone").expect("delete");
        t.commit().expect("commit");
    }
    let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("reopen");
    let t = store.begin();
    assert_eq!(all(&t, ks), vec![kv("kept", "2")]);
    // New commits get timestamps after the recovered ones.
    t.rollback().expect("rollback");
    let w = store.begin();
    w.put(ks, b"kept", b"3".to_vec()).expect("put");
    w.commit().expect("commit");
    assert_eq!(all(&store.begin(), ks), vec![kv("kept", "3")]);
}

#[test]
fn a_second_open_of_the_same_directory_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _store = MvccStore::open(dir.path(), StoreOptions::default()).expect("open");
    assert!(matches!(
        MvccStore::open(dir.path(), StoreOptions::default()),
        Err(TxnError::Storage(phantom_storage::StorageError::Locked(_)))
    ));
}

#[test]
fn concurrent_transfers_keep_the_total() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store);
    let t = store.begin();
    for i in 0..10u8 {
        t.put(ks, &[i], 100u64.to_le_bytes().to_vec()).expect("put");
    }
    t.commit().expect("commit");
    let read = move |t: &Transaction, k: u8| -> u64 {
        let v = t.get(ks, &[k]).expect("get").expect("present");
        u64::from_le_bytes(v.try_into().expect("8 bytes"))
    };
    let threads: Vec<_> = (0..8u64)
        .map(|seed| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut x = seed + 1;
                let mut committed = 0;
                for _ in 0..300 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (a, b) = ((x % 10) as u8, ((x >> 8) % 10) as u8);
                    if a == b {
                        continue;
                    }
                    let t = store.begin();
                    let (va, vb) = (read(&t, a), read(&t, b));
                    if va == 0 {
                        continue;
                    }
                    let moved = t
                        .put(ks, &[a], (va - 1).to_le_bytes().to_vec())
                        .and_then(|()| t.put(ks, &[b], (vb + 1).to_le_bytes().to_vec()));
                    match moved {
                        Ok(()) => {
                            t.commit().expect("commit");
                            committed += 1;
                        }
                        Err(TxnError::WriteConflict | TxnError::Deadlock(_)) => {
                            t.rollback().expect("rollback")
                        }
                        Err(e) => panic!("unexpected error {e}"),
                    }
                }
                committed
            })
        })
        .collect();
    let committed: u64 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    assert!(committed > 0);
    let t = store.begin();
    let total: u64 = (0..10u8).map(|k| read(&t, k)).sum();
    assert_eq!(total, 1000);
}

#[derive(Clone, Debug)]
enum Op {
    Put(u8, u8),
    Delete(u8),
    Commit,
    Rollback,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..12, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0u8..12).prop_map(Op::Delete),
        2 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// One writer at a time against a model map: after every commit, rollback and reopen,
    /// the store holds exactly the committed state, in both scan directions.
    #[test]
    fn store_matches_a_model_across_commits_and_reopens(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().expect("tempdir");
        // Reopening after a clean close reads what was written; fsyncs would only slow
        // the search down (crash durability has its own tests).
        let options = StoreOptions { sync: phantom_storage::SyncMode::Off, ..StoreOptions::default() };
        let mut store = Some(MvccStore::open(dir.path(), options.clone()).expect("open"));
        let ks = new_keyspace(store.as_ref().expect("store"));
        let mut committed: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut pending = committed.clone();
        let mut txn = Some(store.as_ref().expect("store").begin());
        for op in ops {
            let t = txn.as_ref().expect("transaction");
            match op {
                Op::Put(k, v) => {
                    t.put(ks, &[k], vec![v]).expect("put");
                    pending.insert(vec![k], vec![v]);
                }
                Op::Delete(k) => {
                    t.delete(ks, &[k]).expect("delete");
                    pending.remove(&vec![k]);
                }
                Op::Commit | Op::Rollback | Op::Reopen => {
                    if matches!(op, Op::Commit) {
                        t.commit().expect("commit");
                        committed = pending.clone();
                    } else {
                        t.rollback().expect("rollback");
                        pending = committed.clone();
                    }
                    // A live transaction handle keeps the database (and its lock) open.
                    drop(txn.take());
                    if matches!(op, Op::Reopen) {
                        drop(store.take());
                        store = Some(MvccStore::open(dir.path(), options.clone()).expect("reopen"));
                    }
                    let s = store.as_ref().expect("store");
                    let check = s.begin();
                    let expected: Vec<_> = committed.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    prop_assert_eq!(all(&check, ks), expected.clone());
                    let mut reversed = expected;
                    reversed.reverse();
                    prop_assert_eq!(all_reverse(&check, ks), reversed);
                    check.rollback().expect("rollback");
                    txn = Some(s.begin());
                }
            }
            let t = txn.as_ref().expect("transaction");
            t.next_command();
            let mine: Vec<_> = pending.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(all(t, ks), mine);
        }
    }
}

#[test]
fn rolling_back_to_a_savepoint_gives_back_the_write_set_bytes() {
    // SAVEPOINT / UPDATE / ROLLBACK TO in a loop over one row: the write set is the same
    // after every round, so it must never reach its limit.
    let store = MvccStore::memory();
    let ks = new_keyspace(&store);
    let options =
        TxnOptions { isolation: Isolation::ReadCommitted, write_set_limit: 1000, ..TxnOptions::default() };
    let txn = store.begin_with(options);
    txn.put(ks, b"k", vec![0; 100]).expect("put");
    for round in 0..20 {
        txn.next_command();
        let savepoint = txn.savepoint().expect("savepoint");
        if let Err(e) = txn.put(ks, b"k", vec![1; 100]) {
            panic!("round {round}: {e}");
        }
        txn.rollback_to(savepoint).expect("rollback to");
    }
    txn.next_command();
    assert_eq!(txn.get(ks, b"k").expect("get"), Some(vec![0; 100]));
    txn.commit().expect("commit");
}
