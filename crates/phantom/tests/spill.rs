//! Write sets that spill to disk, checked against ones that do not: the same random
//! transactions run on two databases, one whose sessions spill after a kilobyte and one
//! that never spills, and every answer along the way must be the same (own writes seen at
//! the right statement, savepoints, Halloween-safe INSERT ... SELECT, commit and rollback),
//! as must the tables after a reopen.

use phantom::{Database, Output, Session};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Bulk(i64, i64),
    Update(i64, i64, i64),
    Delete(i64, i64),
    Copy(i64),
    Savepoint,
    RollbackTo,
    Count,
    Range(i64, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..300i64, 1..120i64).prop_map(|(from, n)| Op::Bulk(from, n)),
        2 => (0..300i64, 0..80i64, -5..5i64).prop_map(|(a, n, d)| Op::Update(a, a + n, d)),
        1 => (0..300i64, 0..40i64).prop_map(|(a, n)| Op::Delete(a, a + n)),
        1 => (0..300i64).prop_map(Op::Copy),
        1 => Just(Op::Savepoint),
        1 => Just(Op::RollbackTo),
        2 => Just(Op::Count),
        2 => (0..400i64, 0..60i64).prop_map(|(a, n)| Op::Range(a, a + n)),
    ]
}

fn sql(op: &Op) -> String {
    match op {
        Op::Bulk(from, n) => {
            format!(
                "INSERT INTO t SELECT g, g * 7, repeat('p', 40) FROM generate_series({from}, {}) AS g",
                from + n
            )
        }
        Op::Update(a, b, d) => format!("UPDATE t SET v = v + {d}, k = k + 1000 WHERE k BETWEEN {a} AND {b}"),
        Op::Delete(a, b) => format!("DELETE FROM t WHERE k BETWEEN {a} AND {b}"),
        Op::Copy(below) => format!("INSERT INTO t SELECT k + 5000, v, pad FROM t WHERE k < {below}"),
        Op::Savepoint => "SAVEPOINT s".into(),
        Op::RollbackTo => "ROLLBACK TO SAVEPOINT s".into(),
        Op::Count => "SELECT count(*), coalesce(sum(v), 0), coalesce(sum(k), 0) FROM t".into(),
        Op::Range(a, b) => format!("SELECT k, v FROM t WHERE k BETWEEN {a} AND {b} ORDER BY k, v"),
    }
}

/// What a statement answered, comparable across the two databases.
fn answer(s: &mut Session, sql: &str) -> Result<String, String> {
    match s.execute(sql) {
        Ok(Output::Rows(rows)) => Ok(format!("{:?}", rows.rows)),
        Ok(other) => Ok(other.tag()),
        Err(e) => Err(e.sqlstate().to_string()),
    }
}

fn setup(db: &Database) {
    let mut s = db.session();
    s.execute("CREATE TABLE t (k INT, v INT, pad TEXT)").expect("create");
    s.execute("CREATE INDEX t_k ON t (k)").expect("index");
    s.execute("INSERT INTO t SELECT g, g, 'seed' FROM generate_series(1, 50) AS g").expect("seed");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn spilling_changes_no_answer(
        transactions in proptest::collection::vec((proptest::collection::vec(op(), 1..12), any::<bool>()), 1..4)
    ) {
        let dirs = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
        let (spilling, plain) = (Database::open(dirs.0.path()).expect("open"), Database::open(dirs.1.path()).expect("open"));
        setup(&spilling);
        setup(&plain);
        let (mut a, mut b) = (spilling.session(), plain.session());
        a.execute("SET phantom.spill_threshold = 1024").expect("set");
        for (ops, commit) in &transactions {
            for s in [&mut a, &mut b] {
                s.execute("BEGIN").expect("begin");
            }
            for op in ops {
                let sql = sql(op);
                let (x, y) = (answer(&mut a, &sql), answer(&mut b, &sql));
                prop_assert_eq!(x, y, "{}", sql);
            }
            let end = if *commit { "COMMIT" } else { "ROLLBACK" };
            prop_assert_eq!(answer(&mut a, end), answer(&mut b, end));
        }
        let all = "SELECT k, v, pad FROM t ORDER BY k, v, pad";
        let (x, y) = (answer(&mut a, all), answer(&mut b, all));
        prop_assert_eq!(&x, &y);
        drop((a, b, spilling));
        let reopened = Database::open(dirs.0.path()).expect("reopen");
        prop_assert_eq!(answer(&mut reopened.session(), all), x, "after reopen");
        let scratch = std::fs::read_dir(dirs.0.path().join("tmp")).map_or(0, |d| d.count());
        prop_assert_eq!(scratch, 0);
    }
}

#[test]
fn a_small_spill_threshold_really_spills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("open");
    setup(&db);
    let mut s = db.session();
    s.execute("SET phantom.spill_threshold = 1024").expect("set");
    s.execute("BEGIN").expect("begin");
    s.execute(&sql(&Op::Bulk(0, 100))).expect("insert");
    let scratch = std::fs::read_dir(dir.path().join("tmp")).map_or(0, |d| d.count());
    assert_eq!(scratch, 1, "the transaction's write set is on disk");
    s.execute("COMMIT").expect("commit");
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).map_or(0, |d| d.count()), 0);
}
