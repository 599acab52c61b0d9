//! Lock escalation through transactions: a bulk writer ends up with one keyspace lock
//! instead of a lock per row, which keeps other writers (and locking readers) of the
//! keyspace out until it ends, lets snapshot readers through, and changes nothing about
//! conflict checks. Also: a raised cancel flag ends a lock wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use phantom_txn::{Isolation, KeyspaceId, LockMode, MvccStore, Transaction, TxnError, TxnOptions};

fn new_keyspace(store: &MvccStore, rows: &[&[u8]]) -> KeyspaceId {
    let txn = store.begin();
    let ks = txn.create_keyspace(None).expect("create").0;
    txn.commit().expect("commit");
    let txn = store.begin();
    for key in rows {
        txn.put(ks, key, b"old".to_vec()).expect("put");
    }
    txn.commit().expect("commit");
    ks
}

fn options(isolation: Isolation, threshold: usize) -> TxnOptions {
    TxnOptions { isolation, escalation_threshold: threshold, ..TxnOptions::default() }
}

fn short(isolation: Isolation) -> TxnOptions {
    TxnOptions { isolation, lock_timeout: Some(Duration::from_millis(50)), ..TxnOptions::default() }
}

fn write_rows(txn: &Transaction, ks: KeyspaceId, range: std::ops::Range<u32>) {
    for i in range {
        txn.put(ks, format!("row{i:06}").as_bytes(), b"new".to_vec()).expect("put");
    }
}

#[test]
fn a_bulk_writer_holds_one_lock_and_blocks_other_writers_until_it_ends() {
    let store = Arc::new(MvccStore::memory());
    let ks = new_keyspace(&store, &[b"other"]);
    let bulk = store.begin_with(TxnOptions::default());
    write_rows(&bulk, ks, 0..20_000);
    // The keyspace lock alone: every row lock went at escalation, no new one was taken.
    assert_eq!(store.lock_entries(), 1);

    // Snapshot readers neither wait nor see the uncommitted rows.
    let reader = store.begin_with(short(Isolation::Snapshot));
    assert_eq!(reader.get(ks, b"other").expect("read"), Some(b"old".to_vec()));
    assert_eq!(reader.get(ks, b"row000001").expect("read"), None);
    // Locking readers and writers of rows the bulk writer never touched do wait.
    let locking_reader = store.begin_with(short(Isolation::RepeatableRead));
    assert!(matches!(locking_reader.get(ks, b"other"), Err(TxnError::LockTimeout)));
    locking_reader.rollback().expect("rollback");

    let (done, finished) = mpsc::channel();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            let txn = store.begin_with(TxnOptions::default());
            let result = txn.put(ks, b"other", b"mine".to_vec());
            let _ = done.send(());
            result.and_then(|()| txn.commit())
        })
    };
    assert!(finished.recv_timeout(Duration::from_millis(200)).is_err(), "the writer must wait");
    bulk.commit().expect("commit");
    assert!(finished.recv_timeout(Duration::from_secs(5)).is_ok());
    assert!(writer.join().expect("writer").is_ok());
    assert_eq!(store.lock_entries(), 0);
    let after = store.begin();
    assert_eq!(after.get(ks, b"other").expect("read"), Some(b"mine".to_vec()));
    assert_eq!(after.get(ks, b"row019999").expect("read"), Some(b"new".to_vec()));
}

#[test]
fn rows_below_the_threshold_keep_their_own_locks() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store, &[]);
    let txn = store.begin_with(options(Isolation::ReadCommitted, 10));
    write_rows(&txn, ks, 0..10);
    // Ten rows and the keyspace's intention lock.
    assert_eq!(store.lock_entries(), 11);
    // Another writer of a different row goes ahead.
    let other = store.begin_with(short(Isolation::ReadCommitted));
    other.put(ks, b"else", b"x".to_vec()).expect("no wait below the threshold");
    other.commit().expect("commit");
    // The eleventh row escalates, which waits for nobody now.
    write_rows(&txn, ks, 10..11);
    assert_eq!(store.lock_entries(), 1);
    txn.rollback().expect("rollback");
    assert_eq!(store.lock_entries(), 0);
}

#[test]
fn a_covered_write_still_fails_over_a_newer_commit() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store, &[b"k"]);
    let txn = store.begin_with(options(Isolation::Snapshot, 3));
    // Committed after txn's snapshot, before it escalates.
    let other = store.begin();
    other.put(ks, b"k", b"theirs".to_vec()).expect("put");
    other.commit().expect("commit");
    write_rows(&txn, ks, 0..4);
    assert_eq!(store.lock_entries(), 1, "escalated");
    assert!(matches!(txn.lock_row(ks, b"k", LockMode::Exclusive), Err(TxnError::WriteConflict)));
    assert!(matches!(txn.put(ks, b"k", b"mine".to_vec()), Err(TxnError::WriteConflict)));
    // Rows nobody else changed are fine, and so is a second write of an own row.
    txn.put(ks, b"fresh", b"x".to_vec()).expect("put");
    write_rows(&txn, ks, 0..2);
    txn.commit().expect("commit");
}

#[test]
fn serializable_bookkeeping_sees_covered_writes() {
    // Write skew across two keyspaces, each writer escalated in the one it writes: no
    // lock conflict, so only SSI can stop it.
    let store = MvccStore::memory();
    let (x, y) = (new_keyspace(&store, &[b"v"]), new_keyspace(&store, &[b"v"]));
    let t1 = store.begin_with(options(Isolation::Serializable, 0));
    let t2 = store.begin_with(options(Isolation::Serializable, 0));
    for t in [&t1, &t2] {
        t.get(x, b"v").expect("read");
        t.get(y, b"v").expect("read");
    }
    t1.put(x, b"v", b"1".to_vec()).expect("put");
    assert_eq!(store.lock_entries(), 1, "t1 escalated at its first row");
    let second = t2.put(y, b"v", b"2".to_vec());
    let outcome = second.and_then(|()| t1.commit()).and_then(|_| t2.commit());
    assert!(matches!(outcome, Err(TxnError::Serialization(_))), "{outcome:?}");
}

#[test]
fn a_savepoint_rollback_keeps_the_escalated_lock() {
    let store = MvccStore::memory();
    let ks = new_keyspace(&store, &[b"other"]);
    let txn = store.begin_with(options(Isolation::ReadCommitted, 2));
    write_rows(&txn, ks, 0..3);
    let savepoint = txn.savepoint().expect("savepoint");
    write_rows(&txn, ks, 3..6);
    txn.rollback_to(savepoint).expect("rollback to");
    let other = store.begin_with(short(Isolation::ReadCommitted));
    assert!(matches!(other.put(ks, b"other", b"x".to_vec()), Err(TxnError::LockTimeout)));
    txn.commit().expect("commit");
    let after = store.begin();
    assert_eq!(after.get(ks, b"row000002").expect("read"), Some(b"new".to_vec()));
    assert_eq!(after.get(ks, b"row000003").expect("read"), None);
}

#[test]
fn escalating_writers_deadlock_and_the_younger_one_aborts() {
    let store = Arc::new(MvccStore::memory());
    let ks = new_keyspace(&store, &[]);
    let older = store.begin_with(options(Isolation::ReadCommitted, 2));
    let younger = store.begin_with(options(Isolation::ReadCommitted, 2));
    older.put(ks, b"a1", b"x".to_vec()).expect("put");
    older.put(ks, b"a2", b"x".to_vec()).expect("put");
    younger.put(ks, b"b1", b"x".to_vec()).expect("put");
    younger.put(ks, b"b2", b"x".to_vec()).expect("put");
    // The older one escalates and waits for the younger one's intention lock...
    let escalation = {
        let older = older.clone();
        std::thread::spawn(move || older.put(ks, b"a3", b"x".to_vec()).and_then(|()| older.commit()))
    };
    std::thread::sleep(Duration::from_millis(50));
    // ... which does the same: a cycle, and the younger one is the victim.
    let started = Instant::now();
    match younger.put(ks, b"b3", b"x".to_vec()) {
        Err(TxnError::Deadlock(message)) => assert!(message.contains("keyspace"), "{message}"),
        other => panic!("expected a deadlock, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    younger.rollback().expect("rollback");
    assert!(escalation.join().expect("older").is_ok());
    assert_eq!(store.lock_entries(), 0);
}

#[test]
fn a_raised_cancel_flag_ends_a_row_lock_wait() {
    let store = Arc::new(MvccStore::memory());
    let ks = new_keyspace(&store, &[b"k"]);
    let holder = store.begin();
    holder.put(ks, b"k", b"held".to_vec()).expect("put");
    let flag = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (store, flag) = (store.clone(), flag.clone());
        std::thread::spawn(move || {
            let txn = store.begin_with(TxnOptions { cancel: Some(flag), ..TxnOptions::default() });
            txn.put(ks, b"k", b"waiting".to_vec())
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let raised = Instant::now();
    flag.store(true, Ordering::Relaxed);
    assert!(matches!(waiter.join().expect("waiter"), Err(TxnError::Canceled)));
    assert!(raised.elapsed() < Duration::from_secs(1));
    holder.commit().expect("commit");
    assert_eq!(store.lock_entries(), 0);
}

#[test]
fn a_reader_does_not_escalate_so_writers_of_rows_it_did_not_read_go_on() {
    let keys: Vec<Vec<u8>> = (0..40).map(|i| format!("row{i:06}").into_bytes()).collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let store = MvccStore::memory();
    let ks = new_keyspace(&store, &refs);
    // A REPEATABLE READ report reads 30 rows, six times the threshold of 5.
    let report = store.begin_with(options(Isolation::RepeatableRead, 5));
    for key in &keys[..30] {
        report.get(ks, key).expect("read");
    }
    // A writer of a row it did not read is not held up ...
    let writer = store.begin_with(short(Isolation::ReadCommitted));
    writer.put(ks, &keys[35], b"new".to_vec()).expect("write an unread row");
    writer.commit().expect("commit");
    // ... while a writer of a row it read still waits for it, as before.
    let blocked = store.begin_with(short(Isolation::ReadCommitted));
    assert!(matches!(blocked.put(ks, &keys[3], b"new".to_vec()), Err(TxnError::LockTimeout)));
    report.commit().expect("commit");
}
