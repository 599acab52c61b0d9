//! On-disk storage through SQL: tables in B+tree files, checkpoints, a bounded log,
//! dropped tables' files removed, and `phantom_storage_stats`.

mod common;

use common::scalar;
use phantom::{Database, Options};

fn small_log() -> Options {
    Options { wal_segment_size: 64 * 1024, checkpoint_wal_bytes: u64::MAX, ..Options::default() }
}

/// 80 characters that do not compress: the log's size should reflect the rows.
fn noise(seed: i64) -> String {
    let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..80)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (b'a' + (x % 26) as u8) as char
        })
        .collect()
}

/// Inserts rows `from..to`, 500 per transaction.
fn load(session: &mut phantom::Session, from: i64, to: i64) {
    for chunk in (from..to).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk.iter().map(|&i| format!("({i}, '{}')", noise(i))).collect();
        session.execute(&format!("INSERT INTO t VALUES {}", values.join(", "))).expect("insert");
    }
}

#[test]
fn tables_live_in_btree_files_and_checkpoints_bound_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open_with(dir.path(), small_log()).expect("open");
        let mut s = db.session();
        s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)").expect("create");
        load(&mut s, 0, 20_000);
        let wal_before = scalar(&mut s, "SELECT wal_bytes FROM phantom_storage_stats WHERE table_name = 't'");
        assert!(wal_before > 1_000_000, "the load is in the log: {wal_before}");
        db.checkpoint().expect("checkpoint");
        let wal_after = scalar(&mut s, "SELECT wal_bytes FROM phantom_storage_stats WHERE table_name = 't'");
        assert!(wal_after < 256 * 1024, "covered segments are removed: {wal_after} bytes left");
        let disk = scalar(&mut s, "SELECT disk_bytes FROM phantom_storage_stats WHERE table_name = 't'");
        assert!(disk > 2_000_000, "the rows are in the table's file: {disk}");
        let engine =
            s.query("SELECT engine FROM phantom_storage_stats WHERE table_name = 't'").expect("engine");
        assert_eq!(engine.rows[0].get::<String>(0).expect("text"), "btree");
        // More commits after the checkpoint: these come back from the log.
        load(&mut s, 20_000, 21_000);
        s.execute("UPDATE t SET v = 'changed' WHERE id = 7").expect("update");
    }
    let db = Database::open_with(dir.path(), small_log()).expect("reopen");
    let mut s = db.session();
    assert_eq!(scalar(&mut s, "SELECT COUNT(*) FROM t"), 21_000);
    assert_eq!(scalar(&mut s, "SELECT SUM(id) FROM t"), (0..21_000i64).sum::<i64>());
    let v = s.query("SELECT v FROM t WHERE id = 7").expect("read");
    assert_eq!(v.rows[0].get::<String>(0).expect("text"), "changed");
}

#[test]
fn a_dropped_table_loses_its_file_and_a_rolled_back_create_leaves_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = || std::fs::read_dir(dir.path().join("data")).expect("data dir").count();
    let db = Database::open(dir.path()).expect("open");
    let mut s = db.session();
    let before = files();
    s.execute("CREATE TABLE t (id INT PRIMARY KEY)").expect("create");
    s.execute("INSERT INTO t VALUES (1)").expect("insert");
    assert_eq!(files(), before + 1);
    s.execute("DROP TABLE t").expect("drop");
    assert_eq!(files(), before, "the file goes with the table");
    s.execute("BEGIN").expect("begin");
    s.execute("CREATE TABLE u (id INT)").expect("create");
    s.execute("ROLLBACK").expect("rollback");
    assert_eq!(files(), before, "a rolled-back CREATE leaves no file");
}

#[test]
fn the_memory_engine_is_refused_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("open");
    let err = db.session().execute("CREATE TABLE t (a INT) WITH (engine = 'memory')").expect_err("refused");
    assert_eq!(err.sqlstate(), "0A000", "{err}");
    let err = db.session().execute("CREATE TABLE t (a INT) WITH (engine = 'nonesuch')").expect_err("unknown");
    assert_eq!(err.sqlstate(), "22023", "{err}");
}

#[test]
fn lsm_tables_of_both_kinds_flush_compact_and_recover() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open_with(dir.path(), small_log()).expect("open");
        let mut s = db.session();
        for (name, compaction) in [("leveled_t", "leveled"), ("tiered_t", "tiered")] {
            s.execute(&format!(
                "CREATE TABLE {name} (id BIGINT PRIMARY KEY, v TEXT) WITH (engine = 'lsm', compaction = '{compaction}')"
            ))
            .expect("create");
        }
        for name in ["leveled_t", "tiered_t"] {
            for chunk in (0..6000i64).collect::<Vec<_>>().chunks(500) {
                let values: Vec<String> = chunk.iter().map(|&i| format!("({i}, '{}')", noise(i))).collect();
                s.execute(&format!("INSERT INTO {name} VALUES {}", values.join(", "))).expect("insert");
            }
            s.execute(&format!("DELETE FROM {name} WHERE id % 3 = 0")).expect("delete");
            s.execute(&format!("UPDATE {name} SET v = 'changed' WHERE id = 1")).expect("update");
        }
        db.checkpoint().expect("checkpoint");
        let engine =
            s.query("SELECT engine FROM phantom_storage_stats WHERE table_name = 'tiered_t'").expect("stats");
        assert_eq!(engine.rows[0].get::<String>(0).expect("text"), "lsm");
        // After the checkpoint: only in the log.
        s.execute("INSERT INTO leveled_t VALUES (100000, 'late')").expect("insert");
    }
    let db = Database::open_with(dir.path(), small_log()).expect("reopen");
    let mut s = db.session();
    for name in ["leveled_t", "tiered_t"] {
        assert_eq!(scalar(&mut s, &format!("SELECT COUNT(*) FROM {name} WHERE id < 6000")), 4000);
        let v = s.query(&format!("SELECT v FROM {name} WHERE id = 1")).expect("read");
        assert_eq!(v.rows[0].get::<String>(0).expect("text"), "changed");
        let top = s
            .query(&format!("SELECT id FROM {name} WHERE id < 6000 ORDER BY id DESC LIMIT 2"))
            .expect("scan");
        assert_eq!(
            top.rows.iter().map(|r| r.get::<i64>(0).expect("int")).collect::<Vec<_>>(),
            vec![5999, 5998]
        );
    }
    assert_eq!(scalar(&mut s, "SELECT COUNT(*) FROM leveled_t WHERE id = 100000"), 1);
    let described = db.session().describe("tiered_t").expect("describe");
    assert_eq!(described.engine, "lsm (tiered)");
}
