//! LSM tests: a model-based property test against `BTreeMap` with flushes, compactions of
//! both kinds and reopens interleaved; back-pressure; damaged tables.

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;

use super::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn small(compaction: Compaction) -> LsmOptions {
    LsmOptions {
        compaction,
        memtable_bytes: 4 << 10,
        merge_trigger: 3,
        level1_bytes: 16 << 10,
        table_bytes: 8 << 10,
        slowdown_runs: 64,
        stop_runs: 128,
        compaction_bytes_per_sec: 0,
    }
}

fn open(dir: &std::path::Path, compaction: Compaction) -> Lsm {
    Lsm::open(dir, small(compaction), BlockCache::new(256 << 10)).expect("open")
}

fn key(k: u16) -> Vec<u8> {
    format!("key{k:05}").into_bytes()
}

fn value(k: u16, seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8) ^ (k as u8) ^ seed).collect()
}

#[derive(Clone, Debug)]
enum Op {
    Batch(Vec<(u16, Option<(u8, usize)>)>),
    Get(u16),
    Scan(u16, u16, bool),
    Checkpoint,
    Compact,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let write = (0u16..400, prop::option::weighted(0.75, (any::<u8>(), 0usize..300)));
    prop_oneof![
        8 => prop::collection::vec(write, 1..40).prop_map(Op::Batch),
        2 => (0u16..400).prop_map(Op::Get),
        2 => (0u16..400, 0u16..400, any::<bool>()).prop_map(|(a, b, rev)| Op::Scan(a, b, rev)),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn collect(tree: &Lsm, range: (Bound<Vec<u8>>, Bound<Vec<u8>>), reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let scan = tree.scan(range);
    if reverse {
        scan.rev().map(|e| e.expect("scan")).collect()
    } else {
        scan.map(|e| e.expect("scan")).collect()
    }
}

fn check(strategy: Compaction, ops: Vec<Op>) -> std::result::Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tree = open(dir.path(), strategy);
    let mut model = Model::new();
    // Batches after the last checkpoint: what the write-ahead log would replay.
    let mut log: Vec<(Lsn, WriteBatch)> = Vec::new();
    let mut lsn = 0;
    for op in ops {
        match op {
            Op::Batch(writes) => {
                lsn += 1;
                let mut batch = WriteBatch::new();
                for (k, v) in writes {
                    match v {
                        Some((seed, len)) => {
                            batch.put(key(k), value(k, seed, len));
                            model.insert(key(k), value(k, seed, len));
                        }
                        None => {
                            batch.delete(key(k));
                            model.remove(&key(k));
                        }
                    }
                }
                log.push((lsn, batch.clone()));
                tree.apply(batch, lsn).expect("apply");
            }
            Op::Get(k) => prop_assert_eq!(tree.get(&key(k)).expect("get"), model.get(&key(k)).cloned()),
            Op::Scan(a, b, reverse) => {
                let range = (Bound::Included(key(a.min(b))), Bound::Excluded(key(a.max(b))));
                let mut expected: Vec<_> =
                    model.range(range.clone()).map(|(k, v)| (k.clone(), v.clone())).collect();
                if reverse {
                    expected.reverse();
                }
                prop_assert_eq!(collect(&tree, range, reverse), expected);
            }
            Op::Checkpoint => {
                tree.checkpoint(lsn).expect("checkpoint");
                prop_assert_eq!(tree.persisted_lsn(), lsn);
                log.clear();
            }
            Op::Compact => tree.compact_fully().expect("compact"),
            Op::Reopen => {
                // Memtables are lost; tables flushed in the background may or may not hold
                // some of the later batches. Recovery replays the log after the persisted
                // position, and replaying a batch twice must be harmless.
                drop(tree);
                tree = open(dir.path(), strategy);
                let persisted = tree.persisted_lsn();
                for (batch_lsn, batch) in &log {
                    if *batch_lsn > persisted {
                        tree.apply(batch.clone(), *batch_lsn).expect("replay");
                    }
                }
            }
        }
    }
    let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    prop_assert_eq!(collect(&tree, (Bound::Unbounded, Bound::Unbounded), false), all.clone());
    tree.compact_fully().expect("compact");
    prop_assert_eq!(collect(&tree, (Bound::Unbounded, Bound::Unbounded), false), all);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20))]

    #[test]
    fn leveled_tree_matches_a_model(ops in prop::collection::vec(op(), 1..60)) {
        check(Compaction::Leveled, ops)?;
    }

    #[test]
    fn tiered_tree_matches_a_model(ops in prop::collection::vec(op(), 1..60)) {
        check(Compaction::Tiered, ops)?;
    }
}

fn load(tree: &Lsm, n: u32) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            batch.put(format!("k{i:08}").into_bytes(), vec![i as u8; 100]);
        }
        tree.apply(batch, 1).expect("apply");
    }
}

#[test]
fn leveled_compaction_builds_levels_and_drops_shadowed_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = open(dir.path(), Compaction::Leveled);
    // Which versions end up merged depends on when each memtable was flushed and each
    // compaction ran; with the background thread racing the loads, an older version
    // could be left one level below its newer one (this test once saw 4008 keys). Held
    // off, the tree's shape is the same in every run.
    tree.pause_background_work(true);
    for _ in 0..3 {
        load(&tree, 3000); // the same keys again and again: older versions are garbage
    }
    tree.compact_fully().expect("compact");
    let levels = tree.tables_per_level();
    assert!(levels.len() >= 3, "data went down several levels: {levels:?}");
    assert_eq!(levels[0], 0, "level 0 was compacted away: {levels:?}");
    let stats = tree.stats();
    assert_eq!(stats.keys, 3000, "older versions were merged away: {stats:?}");
    assert_eq!(tree.get(b"k00001234").expect("get"), Some(vec![1234u32 as u8; 100]));
}

#[test]
fn sorted_data_moves_down_without_being_rewritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = open(dir.path(), Compaction::Leveled);
    // The file listing before the compaction must not race a background compaction.
    tree.pause_background_work(true);
    load(&tree, 6000); // keys arrive in order: flushed tables do not overlap
    tree.checkpoint(1).expect("flush");
    let before: std::collections::BTreeSet<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".sst"))
        .collect();
    tree.compact_fully().expect("compact");
    let after: std::collections::BTreeSet<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".sst"))
        .collect();
    assert_eq!(tree.tables_per_level()[0], 0, "level 0 was emptied");
    assert_eq!(before, after, "the same files, moved down, none rewritten");
    assert_eq!(collect(&tree, (Bound::Unbounded, Bound::Unbounded), false).len(), 6000);
    drop(tree);
    let tree = open(dir.path(), Compaction::Leveled);
    assert_eq!(tree.tables_per_level()[0], 0, "the move is in the manifest");
    assert_eq!(tree.get(b"k00004321").expect("get"), Some(vec![4321u32 as u8; 100]));
}

#[test]
fn tiered_compaction_merges_runs_of_similar_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = open(dir.path(), Compaction::Tiered);
    load(&tree, 5000);
    tree.compact_fully().expect("compact");
    let runs: usize = tree.tables_per_level().iter().sum();
    assert!(runs < 12, "runs were merged: {runs}");
    assert_eq!(collect(&tree, (Bound::Unbounded, Bound::Unbounded), false).len(), 5000);
    drop(tree);
    let tree = Lsm::open(dir.path(), small(Compaction::Leveled), BlockCache::new(1 << 20)).expect("reopen");
    assert_eq!(tree.compaction(), Compaction::Tiered, "a tree keeps the strategy it was created with");
}

#[test]
fn the_compaction_filter_drops_what_it_rejects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = open(dir.path(), Compaction::Leveled);
    tree.set_compaction_filter(Some(Arc::new(|_bottom: bool| {
        Box::new(|key: &[u8], _: &Slot| !key.ends_with(b"7")) as Box<dyn FnMut(&[u8], &Slot) -> bool + Send>
    })));
    load(&tree, 2000);
    tree.compact_fully().expect("compact");
    assert_eq!(tree.get(b"k00000017").expect("get"), None);
    assert!(tree.get(b"k00000018").expect("get").is_some());
}

#[test]
fn a_damaged_table_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = open(dir.path(), Compaction::Leveled);
    load(&tree, 2000);
    tree.checkpoint(1).expect("checkpoint");
    drop(tree);
    for entry in std::fs::read_dir(dir.path()).expect("dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "sst") {
            let mut bytes = std::fs::read(entry.path()).expect("read");
            for i in (10..bytes.len().saturating_sub(100)).step_by(500) {
                bytes[i] ^= 0x5a;
            }
            std::fs::write(entry.path(), bytes).expect("write");
        }
    }
    let result = Lsm::open(dir.path(), small(Compaction::Leveled), BlockCache::new(1 << 20))
        .and_then(|tree| tree.scan((Bound::Unbounded, Bound::Unbounded)).collect::<Result<Vec<_>>>());
    let error = result.expect_err("damage is reported");
    assert!(error.to_string().contains(".sst"), "{error}");
}

/// True if the tree holds exactly the model (compared quietly: a failure names the
/// round, not a megabyte of keys).
fn same(tree: &Lsm, model: &Model) -> bool {
    let all = collect(tree, (Bound::Unbounded, Bound::Unbounded), false);
    all.len() == model.len() && all.iter().zip(model).all(|((k, v), (mk, mv))| k == mk && v == mv)
}

/// Table files in the tree's directory.
fn table_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".sst")))
        .count()
}

fn put_range(tree: &Lsm, model: &mut Model, keys: std::ops::Range<u16>, seed: u8, lsn: Lsn) {
    let mut batch = WriteBatch::new();
    for k in keys {
        batch.put(key(k), value(k, seed, 100));
        model.insert(key(k), value(k, seed, 100));
    }
    tree.apply(batch, lsn).expect("apply");
}

#[test]
fn a_full_disk_stalls_flushes_without_loss_and_they_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Faults::none();
    faults.no_space.store(true, Ordering::Relaxed);
    let tree = Lsm::open_with_faults(
        dir.path(),
        small(Compaction::Leveled),
        BlockCache::new(256 << 10),
        faults.clone(),
    )
    .expect("open");
    let mut model = Model::new();
    put_range(&tree, &mut model, 0..100, 1, 1);
    tree.checkpoint(1).expect("checkpoint");
    let files_before = table_files(dir.path());
    faults.fail_writes_after.store(0, Ordering::Relaxed);
    // Writes go on into memtables; once a full one cannot be written out, the tree asks
    // for no more commits (and nothing a logged commit needs is waited for).
    let mut lsn = 1;
    while tree.check_writable().is_ok() {
        lsn += 1;
        assert!(lsn < 1000, "the tree never refused");
        put_range(&tree, &mut model, (lsn as u16 % 20) * 50..(lsn as u16 % 20) * 50 + 50, lsn as u8, lsn);
    }
    assert!(tree.check_writable().expect_err("refused").is_disk_full());
    assert!(same(&tree, &model), "writes applied while flushes fail are all readable");
    assert!(tree.checkpoint(lsn).expect_err("cannot flush").is_disk_full());
    assert_eq!(table_files(dir.path()), files_before, "failed flushes leave no table files");

    faults.fail_writes_after.store(u64::MAX, Ordering::Relaxed);
    let mut resumed = false;
    for _ in 0..300 {
        if tree.check_writable().is_ok() {
            resumed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(resumed, "the background flush never retried");
    tree.checkpoint(lsn).expect("checkpoint after space returned");
    drop(tree);
    let tree = open(dir.path(), Compaction::Leveled);
    assert_eq!(tree.persisted_lsn(), lsn);
    assert!(same(&tree, &model), "the reopened tree differs");
}

#[test]
fn a_checkpoint_failing_at_any_write_leaves_a_tree_that_opens_as_before() {
    for fail_at in 0..12u64 {
        let dir = tempfile::tempdir().expect("tempdir");
        let faults = Faults::none();
        faults.no_space.store(true, Ordering::Relaxed);
        let options = LsmOptions { memtable_bytes: 1 << 20, ..small(Compaction::Leveled) };
        let tree = Lsm::open_with_faults(dir.path(), options, BlockCache::new(256 << 10), faults.clone())
            .expect("open");
        let mut model = Model::new();
        put_range(&tree, &mut model, 0..200, 1, 1);
        tree.checkpoint(1).expect("checkpoint");
        let durable = model.clone();
        put_range(&tree, &mut model, 100..300, 2, 2);
        faults.fail_writes_after.store(fail_at, Ordering::Relaxed);
        let result = tree.checkpoint(2);
        faults.fail_writes_after.store(u64::MAX, Ordering::Relaxed);
        let expected_lsn = match &result {
            Ok(()) => 2,
            Err(e) => {
                assert!(e.is_disk_full(), "failing at write {fail_at}: {e}");
                1
            }
        };
        // What the next open would find, were the process to stop now.
        let files: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").flatten().map(|e| e.path()).collect();
        let copy = tempfile::tempdir().expect("tempdir");
        for file in files {
            std::fs::copy(&file, copy.path().join(file.file_name().expect("name"))).expect("copy");
        }
        let reopened = open(copy.path(), Compaction::Leveled);
        assert_eq!(reopened.persisted_lsn(), expected_lsn, "failing at write {fail_at}");
        if expected_lsn == 1 {
            // The log would replay the second batch (onto whatever part of it was flushed).
            let mut replayed = durable.clone();
            put_range(&reopened, &mut replayed, 100..300, 2, 2);
        }
        assert!(same(&reopened, &model), "failing at write {fail_at}: the reopened tree differs");
        drop(reopened);
        // And the tree itself is not broken: the checkpoint goes through when retried.
        tree.checkpoint(2).expect("retried checkpoint");
        drop(tree);
        let tree = open(dir.path(), Compaction::Leveled);
        assert!(same(&tree, &model), "failing at write {fail_at}: the retried tree differs");
    }
}

#[test]
fn unreferenced_table_files_go_only_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let tree = open(dir.path(), Compaction::Leveled);
        load(&tree, 500);
        tree.checkpoint(1).expect("checkpoint");
    }
    // A table file of a flush that never reached the manifest.
    let orphan = dir.path().join("9999999999.sst");
    std::fs::write(&orphan, b"left over").expect("write");
    let tree = open(dir.path(), Compaction::Leveled);
    assert!(orphan.exists(), "opening deletes nothing");
    assert_eq!(tree.remove_unreferenced_files().expect("remove"), 1);
    assert!(!orphan.exists());
    assert_eq!(collect(&tree, (Bound::Unbounded, Bound::Unbounded), false).len(), 500);
}
