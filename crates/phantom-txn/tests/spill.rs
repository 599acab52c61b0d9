//! Write sets that spill to disk: a transaction bigger than its spill threshold reads its
//! own writes, commits in parts, rolls back, and survives a reopen, exactly like a small one.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use phantom_txn::{Isolation, KeyspaceId, MvccStore, StoreOptions, Transaction, TxnOptions};

fn scan(txn: &Transaction, ks: KeyspaceId, reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    txn.scan(ks, (Bound::Unbounded, Bound::Unbounded), reverse)
        .expect("scan")
        .map(|kv| kv.expect("entry"))
        .collect()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn value(i: u32, round: u32) -> Vec<u8> {
    // About 1 KiB, so that 5,000 rows make a commit of more than one part (4 MiB each).
    format!("value {i} round {round} {}", "x".repeat(1000)).into_bytes()
}

/// A transaction whose write set spills after about 4 KiB.
fn spilling(store: &MvccStore) -> Transaction {
    store.begin_with(TxnOptions {
        isolation: Isolation::Snapshot,
        spill_threshold: 4096,
        ..TxnOptions::default()
    })
}

fn scratch_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("tmp")).map_or(0, |d| d.count())
}

fn new_keyspace(store: &MvccStore) -> KeyspaceId {
    let txn = store.begin();
    let ks = txn.create_keyspace(None).expect("create").0;
    txn.commit().expect("commit");
    ks
}

#[test]
fn a_spilled_write_set_reads_its_own_writes_commits_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let ks;
    {
        let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("open");
        ks = new_keyspace(&store);
        // Committed before: key 0..100, which the big transaction partly overwrites.
        let before = store.begin();
        for i in 0..100 {
            before.put(ks, &key(i), value(i, 0)).expect("put");
            model.insert(key(i), value(i, 0));
        }
        before.commit().expect("commit");

        let txn = spilling(&store);
        let reader = store.begin();
        for i in 50..5_000 {
            txn.put(ks, &key(i), value(i, 1)).expect("put");
            model.insert(key(i), value(i, 1));
        }
        assert!(scratch_files(dir.path()) > 0, "the write set spilled");
        txn.next_command();
        // The second statement overwrites every tenth row and deletes every seventh; while it
        // runs it still sees the first statement's values.
        for i in (0..5_000).step_by(10) {
            txn.put(ks, &key(i), value(i, 2)).expect("overwrite");
            assert_eq!(
                txn.get(ks, &key(i)).expect("get"),
                model.get(&key(i)).cloned(),
                "row {i} mid-statement"
            );
            model.insert(key(i), value(i, 2));
        }
        for i in (0..5_000).step_by(7) {
            txn.delete(ks, &key(i)).expect("delete");
            model.remove(&key(i));
        }
        txn.next_command();
        let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(scan(&txn, ks, false), want, "forward scan of own writes");
        let mut backward = want.clone();
        backward.reverse();
        assert_eq!(scan(&txn, ks, true), backward, "reverse scan of own writes");
        for i in [0, 7, 10, 49, 50, 70, 4_999] {
            assert_eq!(txn.get(ks, &key(i)).expect("get"), model.get(&key(i)).cloned(), "row {i}");
        }
        // Nobody else sees any of it before the commit.
        assert_eq!(scan(&reader, ks, false).len(), 100);
        txn.commit().expect("commit");
        assert_eq!(scratch_files(dir.path()), 0, "the scratch file goes with the commit");
        assert_eq!(scan(&store.begin(), ks, false), want);
        // The reader's snapshot still predates the whole commit.
        assert_eq!(scan(&reader, ks, false).len(), 100);
    }
    let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("reopen");
    let want: Vec<_> = model.into_iter().collect();
    assert_eq!(scan(&store.begin(), ks, false), want, "after reopen");
}

#[test]
fn a_spilled_write_set_rolls_back_entirely() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("open");
    let ks = new_keyspace(&store);
    let txn = spilling(&store);
    for i in 0..3_000 {
        txn.put(ks, &key(i), value(i, 1)).expect("put");
    }
    assert!(scratch_files(dir.path()) > 0);
    txn.rollback().expect("rollback");
    assert_eq!(scratch_files(dir.path()), 0, "rollback removes the scratch file");
    assert!(scan(&store.begin(), ks, false).is_empty());
    // A transaction dropped without commit or rollback (a vanished session) also cleans up.
    let txn = spilling(&store);
    for i in 0..3_000 {
        txn.put(ks, &key(i), value(i, 1)).expect("put");
    }
    drop(txn);
    assert_eq!(scratch_files(dir.path()), 0);
    assert!(scan(&store.begin(), ks, false).is_empty());
}

#[test]
fn rolling_back_to_a_savepoint_undoes_spilled_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MvccStore::open(dir.path(), StoreOptions::default()).expect("open");
    let ks = new_keyspace(&store);
    let txn = spilling(&store);
    for i in 0..1_000 {
        txn.put(ks, &key(i), value(i, 1)).expect("put");
    }
    let savepoint = txn.savepoint().expect("savepoint");
    txn.next_command();
    for i in 500..3_000 {
        txn.put(ks, &key(i), value(i, 2)).expect("put");
    }
    txn.rollback_to(savepoint).expect("rollback to savepoint");
    txn.next_command();
    let want: Vec<_> = (0..1_000).map(|i| (key(i), value(i, 1))).collect();
    assert_eq!(scan(&txn, ks, false), want, "only the writes before the savepoint remain");
    txn.commit().expect("commit");
    assert_eq!(scan(&store.begin(), ks, false), want);
}

#[test]
fn an_in_memory_store_does_not_spill_but_stops_at_the_limit() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store);
    let txn = store.begin_with(TxnOptions {
        spill_threshold: 4096,
        write_set_limit: 100_000,
        ..TxnOptions::default()
    });
    let failed = (0..5_000).find_map(|i| txn.put(ks, &key(i), value(i, 1)).err());
    assert!(matches!(failed, Some(phantom_txn::TxnError::WriteSetTooLarge { .. })), "{failed:?}");
}
