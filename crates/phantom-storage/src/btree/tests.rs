//! B+tree tests: a model-based property test against `BTreeMap` with checkpoints and
//! reopens, space reuse, large values, and injected faults.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::Ordering;

use proptest::prelude::*;

use super::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(k: u16) -> Vec<u8> {
    // Varied lengths, so nodes hold different numbers of entries.
    let mut key = format!("{k:05}").into_bytes();
    key.extend(std::iter::repeat_n(b'k', (k % 7) as usize * 40));
    key
}

fn value(k: u16, len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(k as u8).wrapping_add(seed)).collect()
}

fn open(path: &Path, pool_bytes: usize) -> BTree {
    BTree::open(path, BufferPool::new(pool_bytes)).expect("open")
}

fn apply(tree: &BTree, model: &mut Model, ops: &[(u16, Option<(usize, u8)>)], lsn: Lsn) {
    let mut batch = WriteBatch::new();
    for &(k, v) in ops {
        match v {
            Some((len, seed)) => {
                batch.put(key(k), value(k, len, seed));
                model.insert(key(k), value(k, len, seed));
            }
            None => {
                batch.delete(key(k));
                model.remove(&key(k));
            }
        }
    }
    tree.apply(batch, lsn).expect("apply");
}

fn collect(tree: &BTree, range: (Bound<Vec<u8>>, Bound<Vec<u8>>), reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let scan = tree.scan(range);
    if reverse {
        scan.rev().map(|e| e.expect("scan")).collect()
    } else {
        scan.map(|e| e.expect("scan")).collect()
    }
}

fn check_all(tree: &BTree, model: &Model) {
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(collect(tree, (Bound::Unbounded, Bound::Unbounded), false), expected);
    let mut reversed = expected;
    reversed.reverse();
    assert_eq!(collect(tree, (Bound::Unbounded, Bound::Unbounded), true), reversed);
    assert_eq!(tree.stats().keys, model.len() as u64);
}

#[derive(Clone, Debug)]
enum Op {
    Batch(Vec<(u16, Option<(usize, u8)>)>),
    Get(u16),
    Scan(u16, u16, bool, bool),
    Checkpoint,
    Reopen,
}

fn value_len() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0usize..200, 1 => 900usize..1100, 1 => Just(20_000usize)]
}

fn op() -> impl Strategy<Value = Op> {
    let write = (0u16..600, prop::option::weighted(0.8, (value_len(), any::<u8>())));
    prop_oneof![
        6 => prop::collection::vec(write, 1..40).prop_map(Op::Batch),
        2 => (0u16..600).prop_map(Op::Get),
        2 => (0u16..600, 0u16..600, any::<bool>(), any::<bool>()).prop_map(|(a, b, inc, rev)| Op::Scan(a, b, inc, rev)),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The tree agrees with a `BTreeMap` after every operation. Reopening without a
    /// checkpoint loses the changes since the last one (the WAL would replay them), so
    /// the model rolls back to the checkpointed state too. A tiny pool forces evictions
    /// and write-backs of dirty pages between checkpoints.
    #[test]
    fn tree_matches_a_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.btree");
        let mut tree = open(&path, 96 * 1024);
        let mut model = Model::new();
        let mut checkpointed = Model::new();
        let mut lsn = 0;
        for op in ops {
            match op {
                Op::Batch(writes) => {
                    lsn += 1;
                    apply(&tree, &mut model, &writes, lsn);
                }
                Op::Get(k) => prop_assert_eq!(tree.get(&key(k)).expect("get"), model.get(&key(k)).cloned()),
                Op::Scan(a, b, inclusive, reverse) => {
                    let (lo, hi) = (key(a.min(b)), key(a.max(b)));
                    let end = if inclusive { Bound::Included(hi.clone()) } else { Bound::Excluded(hi.clone()) };
                    let mut expected: Vec<_> = model
                        .range((Bound::Included(lo.clone()), end.clone()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if reverse {
                        expected.reverse();
                    }
                    prop_assert_eq!(collect(&tree, (Bound::Included(lo), end), reverse), expected);
                }
                Op::Checkpoint => {
                    tree.checkpoint(lsn).expect("checkpoint");
                    prop_assert_eq!(tree.persisted_lsn(), lsn);
                    checkpointed = model.clone();
                }
                Op::Reopen => {
                    drop(tree);
                    tree = open(&path, 96 * 1024);
                    model = checkpointed.clone();
                }
            }
        }
        check_all(&tree, &model);
        tree.checkpoint(lsn).expect("final checkpoint");
        drop(tree);
        check_all(&open(&path, 1 << 20), &model);
    }
}

#[test]
fn a_sequential_load_is_dense_and_scans_both_ways() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.btree");
    let tree = open(&path, 1 << 20);
    let n = 50_000u32;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            batch.put(i.to_be_bytes().to_vec(), vec![i as u8; 100]);
        }
        tree.apply(batch, 1).expect("apply");
    }
    tree.checkpoint(1).expect("checkpoint");
    let raw = n as u64 * (4 + 100);
    let stats = tree.btree_stats();
    let data_pages = stats.file_pages - stats.free_pages;
    assert!(
        data_pages * PAGE_SIZE as u64 <= raw * 115 / 100,
        "{data_pages} pages for {raw} bytes of data: appending splits should keep leaves full"
    );
    drop(tree);
    let tree = open(&path, 256 * 1024);
    let forward: Vec<u32> = tree
        .scan((
            Bound::Included(100u32.to_be_bytes().to_vec()),
            Bound::Excluded(40_000u32.to_be_bytes().to_vec()),
        ))
        .map(|e| u32::from_be_bytes(e.expect("scan").0.try_into().expect("4 bytes")))
        .collect();
    assert_eq!(forward, (100..40_000).collect::<Vec<_>>());
    let backward: Vec<u32> = tree
        .scan((Bound::Unbounded, Bound::Unbounded))
        .rev()
        .take(5)
        .map(|e| u32::from_be_bytes(e.expect("scan").0.try_into().expect("4 bytes")))
        .collect();
    assert_eq!(backward, vec![n - 1, n - 2, n - 3, n - 4, n - 5]);
    assert_eq!(tree.get(&12_345u32.to_be_bytes()).expect("get"), Some(vec![12_345u32 as u8; 100]));
    let pool = tree.inner.pool.stats();
    assert!(pool.used_bytes <= 256 * 1024 + 64 * 1024, "{pool:?}");
    assert!(pool.misses > 0 && pool.hits > 0, "{pool:?}");
}

#[test]
fn rewriting_rows_again_and_again_does_not_grow_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = open(&dir.path().join("t.btree"), 1 << 20);
    let mut sizes = Vec::new();
    for round in 0..30u8 {
        let mut batch = WriteBatch::new();
        for i in 0..3000u32 {
            batch.put(i.to_be_bytes().to_vec(), vec![round; 100]);
        }
        // Half the rounds also delete and reinsert, exercising merges.
        if round % 2 == 1 {
            for i in (0..3000u32).step_by(3) {
                batch.delete(i.to_be_bytes().to_vec());
            }
        }
        tree.apply(batch, round as Lsn + 1).expect("apply");
        tree.checkpoint(round as Lsn + 1).expect("checkpoint");
        sizes.push(tree.btree_stats().file_pages);
    }
    let settled = sizes[5];
    assert!(sizes.iter().all(|&s| s <= settled * 2 + 8), "file keeps growing: {sizes:?}");
}

#[test]
fn deleting_everything_collapses_the_tree_and_frees_its_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = open(&dir.path().join("t.btree"), 1 << 20);
    let mut model = Model::new();
    let puts: Vec<_> = (0..600u16).map(|k| (k, Some((300, 1)))).collect();
    apply(&tree, &mut model, &puts, 1);
    tree.checkpoint(1).expect("checkpoint");
    let full = tree.btree_stats();
    let deletes: Vec<_> = (0..600u16).rev().map(|k| (k, None)).collect();
    apply(&tree, &mut model, &deletes, 2);
    tree.checkpoint(2).expect("checkpoint");
    check_all(&tree, &model);
    let empty = tree.btree_stats();
    // Copy-on-write needs a few fresh pages while the old checkpoint is still protected.
    assert!(empty.file_pages <= full.file_pages + 4, "{empty:?} vs {full:?}");
    assert!(empty.free_pages + 8 >= empty.file_pages, "almost every page is free again: {empty:?}");
    let state = tree.inner.state.read();
    assert!(matches!(&*tree.inner.node(&state, state.root).expect("root"), Node::Leaf(_)));
}

#[test]
fn a_sixteen_mebibyte_value_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.btree");
    let tree = open(&path, 1 << 20);
    let big: Vec<u8> = (0..16 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut batch = WriteBatch::new();
    batch.put(b"big".to_vec(), big.clone());
    batch.put(b"small".to_vec(), b"s".to_vec());
    tree.apply(batch, 1).expect("apply");
    tree.checkpoint(1).expect("checkpoint");
    drop(tree);
    let tree = open(&path, 1 << 20);
    assert_eq!(tree.get(b"big").expect("get").as_deref(), Some(big.as_slice()));
    let mut batch = WriteBatch::new();
    batch.delete(b"big".to_vec());
    tree.apply(batch, 2).expect("apply");
    tree.checkpoint(2).expect("checkpoint");
    let stats = tree.btree_stats();
    assert!(stats.free_pages > 2000, "the chain's pages are free again: {stats:?}");
}

#[test]
fn a_corrupt_page_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.btree");
    let tree = open(&path, 1 << 20);
    let mut model = Model::new();
    let puts: Vec<_> = (0..300u16).map(|k| (k, Some((100, 0)))).collect();
    apply(&tree, &mut model, &puts, 1);
    tree.checkpoint(1).expect("checkpoint");
    drop(tree);
    // Flip a byte in every data page.
    let mut bytes = std::fs::read(&path).expect("read");
    for page in 2..bytes.len() / PAGE_SIZE {
        bytes[page * PAGE_SIZE + 100] ^= 0x55;
    }
    std::fs::write(&path, bytes).expect("write");
    let error = BTree::open(&path, BufferPool::new(1 << 20))
        .and_then(|tree| tree.get(&key(7)))
        .expect_err("a corrupt page must not read as data");
    assert!(matches!(error, StorageError::Corrupt { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("t.btree"), "{message}");
    assert!(message.contains("checksum") || message.contains("page"), "{message}");
}

#[test]
fn a_failed_fsync_fails_the_checkpoint_and_the_old_one_stays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.btree");
    let faults = Faults::none();
    let tree = BTree::open_with_faults(&path, BufferPool::new(1 << 20), faults.clone()).expect("open");
    let mut model = Model::new();
    apply(&tree, &mut model, &(0..200u16).map(|k| (k, Some((50, 1)))).collect::<Vec<_>>(), 1);
    tree.checkpoint(1).expect("checkpoint");
    let first = model.clone();
    apply(&tree, &mut model, &(0..200u16).map(|k| (k, Some((50, 2)))).collect::<Vec<_>>(), 2);
    faults.fail_sync.store(true, Ordering::Relaxed);
    assert!(tree.checkpoint(2).is_err());
    // The tree no longer accepts changes: memory and file may disagree.
    let mut batch = WriteBatch::new();
    batch.put(b"x".to_vec(), b"y".to_vec());
    assert!(matches!(tree.apply(batch, 3), Err(StorageError::Failed { .. })));
    drop(tree);
    let tree = open(&path, 1 << 20);
    assert_eq!(tree.persisted_lsn(), 1);
    check_all(&tree, &first);
}

#[test]
fn a_torn_header_write_leaves_the_previous_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.btree");
    let faults = Faults::none();
    let tree = BTree::open_with_faults(&path, BufferPool::new(1 << 20), faults.clone()).expect("open");
    let mut model = Model::new();
    for round in 1..=3u8 {
        apply(
            &tree,
            &mut model,
            &(0..100u16).map(|k| (k, Some((20, round)))).collect::<Vec<_>>(),
            round as Lsn,
        );
        tree.checkpoint(round as Lsn).expect("checkpoint");
    }
    let third = model.clone();
    apply(&tree, &mut model, &(0..100u16).map(|k| (k, Some((20, 4)))).collect::<Vec<_>>(), 4);
    // The dirty nodes and the one page-table page are written whole; the header is torn
    // (the checkpoint believes it succeeded, as it would before a power cut).
    let header_write = tree.btree_stats().dirty_pages + 2;
    faults.tear_on_write.store(header_write, Ordering::Relaxed);
    tree.checkpoint(4).expect("a torn write is not noticed at the time");
    drop(tree);
    let tree = open(&path, 1 << 20);
    assert_eq!(tree.persisted_lsn(), 3);
    check_all(&tree, &third);
    // The tree says it stepped around a damaged slot: only the log can tell whether the
    // older checkpoint may stand in (it may here: that checkpoint never completed).
    let point = tree.recovery_point();
    assert_eq!(point.covered_lsn, 3);
    assert!(point.damage.as_deref().is_some_and(|d| d.contains("fails its checksum")), "{point:?}");
    assert!(point.source.contains("header slot"), "{point:?}");

    // Damage to the surviving slot too leaves no valid header: that is reported, never
    // read as an empty tree.
    drop(tree);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[PAGE_SIZE + 30] ^= 0xff;
    std::fs::write(&path, bytes).expect("write");
    let error = BTree::open(&path, BufferPool::new(1 << 20)).expect_err("no valid header");
    assert!(error.to_string().contains("neither header slot is valid"), "{error}");
}

/// Asks `check_writable` until the pool's write-back retry comes due and succeeds (a
/// bounded wait for the backoff, not a timing).
fn writable_once_retried(tree: &BTree) {
    for _ in 0..300 {
        match tree.check_writable() {
            Ok(()) => return,
            Err(e) => assert!(e.is_disk_full(), "{e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the tree never became writable again");
}

#[test]
fn a_full_disk_during_write_back_leaves_pages_dirty_and_fails_no_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.btree");
    let faults = Faults::none();
    faults.no_space.store(true, Ordering::Relaxed);
    let pool = BufferPool::new(256 << 10);
    let tree = BTree::open_with_faults(&path, pool.clone(), faults.clone()).expect("open");
    let mut model = Model::new();
    apply(&tree, &mut model, &(0..50u16).map(|k| (k, Some((100, 1)))).collect::<Vec<_>>(), 1);
    tree.checkpoint(1).expect("checkpoint");
    let first = model.clone();
    // Every later write fails as on a full disk. Batches keep being applied (their
    // commits are in the log already) while write-back fails behind them, until the
    // dirty pages pass the limit and the tree asks for no more.
    faults.fail_writes_after.store(0, Ordering::Relaxed);
    let mut lsn = 1;
    while tree.check_writable().is_ok() {
        lsn += 1;
        assert!(lsn < 500, "the dirty limit was never reached");
        let ops: Vec<_> = (0..40u16).map(|k| (k + (lsn as u16 % 60) * 40, Some((150, lsn as u8)))).collect();
        apply(&tree, &mut model, &ops, lsn);
    }
    let refusal = tree.check_writable().expect_err("refused");
    assert!(refusal.is_disk_full(), "{refusal}");
    assert!(pool.write_back.is_disk_full());
    check_all(&tree, &model);
    let error = tree.checkpoint(lsn).expect_err("a checkpoint cannot write either");
    assert!(error.is_disk_full(), "{error}");
    // Nothing was damaged: the file still holds the first checkpoint.
    let before = open(&path, 1 << 20);
    assert_eq!(before.persisted_lsn(), 1);
    check_all(&before, &first);
    drop(before);

    // Space comes back: write-back resumes by itself, and the tree takes commits again.
    faults.fail_writes_after.store(u64::MAX, Ordering::Relaxed);
    writable_once_retried(&tree);
    assert!(!pool.write_back.is_failing());
    apply(&tree, &mut model, &[(7, Some((10, 9)))], lsn + 1);
    tree.checkpoint(lsn + 1).expect("checkpoint after space returned");
    drop(tree);
    let tree = open(&path, 1 << 20);
    assert_eq!(tree.persisted_lsn(), lsn + 1);
    check_all(&tree, &model);
}

#[test]
fn a_checkpoint_failing_at_any_write_keeps_the_previous_one_and_can_be_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.btree");
    let faults = Faults::none();
    faults.no_space.store(true, Ordering::Relaxed);
    let tree = BTree::open_with_faults(&path, BufferPool::new(4 << 20), faults.clone()).expect("open");
    let mut model = Model::new();
    apply(&tree, &mut model, &(0..300u16).map(|k| (k, Some((60, 1)))).collect::<Vec<_>>(), 1);
    tree.checkpoint(1).expect("checkpoint");
    let mut durable = model.clone();
    let mut durable_lsn = 1;
    // Fail the first, second, ... write of a checkpoint (dirty nodes, page table, header).
    for (round, fail_at) in (0..40u64).enumerate() {
        let lsn = round as Lsn + 2;
        let ops: Vec<_> = (0..300u16).step_by(round % 5 + 1).map(|k| (k, Some((60, lsn as u8)))).collect();
        apply(&tree, &mut model, &ops, lsn);
        faults.fail_writes_after.store(fail_at, Ordering::Relaxed);
        let checkpointed = tree.checkpoint(lsn);
        faults.fail_writes_after.store(u64::MAX, Ordering::Relaxed);
        {
            let on_disk = open(&path, 1 << 20);
            if checkpointed.is_ok() {
                durable = model.clone();
                durable_lsn = lsn;
            } else {
                let error = checkpointed.expect_err("failed");
                assert!(error.is_disk_full(), "{error}");
            }
            assert_eq!(on_disk.persisted_lsn(), durable_lsn, "after failing at write {fail_at}");
            check_all(&on_disk, &durable);
        }
        check_all(&tree, &model);
        // The tree is not failed: the next checkpoint (no fault) succeeds.
        tree.apply(WriteBatch::new(), lsn).expect("still accepts batches");
    }
    tree.checkpoint(100).expect("checkpoint");
    drop(tree);
    let tree = open(&path, 1 << 20);
    check_all(&tree, &model);
}

#[test]
fn long_values_written_on_a_full_disk_wait_in_memory_and_reach_the_file_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.btree");
    let faults = Faults::none();
    faults.no_space.store(true, Ordering::Relaxed);
    let pool = BufferPool::new(512 << 10);
    let tree = BTree::open_with_faults(&path, pool.clone(), faults.clone()).expect("open");
    let mut model = Model::new();
    apply(&tree, &mut model, &[(1, Some((5000, 1)))], 1);
    tree.checkpoint(1).expect("checkpoint");
    faults.fail_writes_after.store(0, Ordering::Relaxed);
    // Overflow pages are written inside the batch: on the full disk they stay in memory,
    // the batch succeeds, and reads find them.
    let mut lsn = 1;
    while tree.check_writable().is_ok() {
        lsn += 1;
        assert!(lsn < 500, "the dirty limit was never reached");
        apply(&tree, &mut model, &[(lsn as u16, Some((5000, lsn as u8)))], lsn);
    }
    assert!(tree.check_writable().expect_err("refused").is_disk_full());
    check_all(&tree, &model);
    assert!(tree.btree_stats().dirty_pages > 0);
    // Deleting values frees their kept pages too.
    let dirty = pool.stats().dirty_bytes;
    let deletes: Vec<_> = (0..20u16).map(|k| (k, None)).collect();
    apply(&tree, &mut model, &deletes, lsn + 1);
    assert!(pool.stats().dirty_bytes < dirty, "freed overflow pages are no longer counted");
    check_all(&tree, &model);

    faults.fail_writes_after.store(u64::MAX, Ordering::Relaxed);
    writable_once_retried(&tree);
    tree.checkpoint(lsn + 1).expect("checkpoint after space returned");
    assert_eq!(tree.btree_stats().dirty_pages, 0);
    drop(tree);
    assert_eq!(pool.stats().dirty_bytes, 0, "nothing is counted for a closed tree");
    let tree = open(&path, 1 << 20);
    check_all(&tree, &model);
}

#[test]
fn a_damaged_first_header_opens_with_no_checkpoint_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.btree");
    let tree = open(&path, 1 << 20);
    let mut model = Model::new();
    apply(&tree, &mut model, &(0..50u16).map(|k| (k, Some((20, 1)))).collect::<Vec<_>>(), 7);
    tree.checkpoint(7).expect("checkpoint");
    assert_eq!(tree.recovery_point().covered_lsn, 0, "opened new");
    assert_eq!(tree.recovery_point().damage, None);
    drop(tree);
    // The first checkpoint wrote slot 1 only.
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(bytes[..PAGE_SIZE].iter().all(|&b| b == 0));
    bytes[PAGE_SIZE + 40] ^= 0x01;
    std::fs::write(&path, bytes).expect("write");
    let tree = open(&path, 1 << 20);
    let point = tree.recovery_point().clone();
    assert_eq!(point.covered_lsn, 0, "nothing is covered: the log must hold the whole tree");
    assert_eq!(point.offset, PAGE_SIZE as u64, "the damaged slot");
    assert!(point.damage.as_deref().is_some_and(|d| d.contains("header slot 1")), "{point:?}");
    assert_eq!(tree.get(&key(3)).expect("get"), None, "an empty tree, for recovery to judge");
}
