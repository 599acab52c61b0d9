//! Indexes never change answers: the same random writes and queries run against a table
//! with secondary indexes and one without must agree, and the indexed one must actually
//! use its indexes.

use phantom::Database;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(i64, Option<i64>, i64),
    UpdateB(i64, Option<i64>),
    UpdateC(i64, i64),
    Delete(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let b = prop::option::weighted(0.8, 0i64..6);
    prop_oneof![
        4 => (0i64..40, b.clone(), 0i64..5).prop_map(|(a, b, c)| Op::Insert(a, b, c)),
        2 => (0i64..40, b).prop_map(|(a, b)| Op::UpdateB(a, b)),
        1 => (0i64..40, 0i64..5).prop_map(|(a, c)| Op::UpdateC(a, c)),
        1 => (0i64..40).prop_map(Op::Delete),
    ]
}

fn sql(op: &Op) -> String {
    let lit = |v: &Option<i64>| v.map_or("NULL".to_string(), |v| v.to_string());
    match op {
        Op::Insert(a, b, c) => format!("INSERT INTO t VALUES ({a}, {}, {c})", lit(b)),
        Op::UpdateB(a, b) => format!("UPDATE t SET b = {} WHERE a = {a}", lit(b)),
        Op::UpdateC(a, c) => format!("UPDATE t SET c = {c} WHERE a % 7 = {}", a % 7),
        Op::Delete(a) => format!("DELETE FROM t WHERE b = {}", a % 6),
    }
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..6).prop_map(|b| format!("SELECT a, b, c FROM t WHERE b = {b} ORDER BY a")),
        (0i64..6, 0i64..5).prop_map(|(b, c)| format!("SELECT a FROM t WHERE b = {b} AND c = {c} ORDER BY a")),
        (0i64..6, 0i64..5)
            .prop_map(|(b, c)| format!("SELECT a FROM t WHERE b = {b} AND c >= {c} ORDER BY a")),
        (0i64..5).prop_map(|c| format!("SELECT COUNT(*) FROM t WHERE c = {c}")),
        (0i64..6).prop_map(|b| format!("SELECT a FROM t WHERE b < {b} ORDER BY a")),
    ]
}

fn run(db: &Database, statements: &[String]) -> Vec<String> {
    let mut session = db.session();
    statements
        .iter()
        .map(|s| match session.execute(s) {
            Ok(out) => format!("{out:?}"),
            Err(e) => format!("error {}", e.sqlstate()),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn answers_agree_with_and_without_indexes(ops in prop::collection::vec(op(), 1..40), queries in prop::collection::vec(query(), 1..10)) {
        let plain = Database::memory();
        let indexed = Database::memory();
        run(&plain, &["CREATE TABLE t (a INT PRIMARY KEY, b INT, c INT)".to_string()]);
        run(&indexed, &[
            "CREATE TABLE t (a INT PRIMARY KEY, b INT, c INT)".to_string(),
            "CREATE INDEX t_b_c ON t (b, c)".to_string(),
            "CREATE INDEX t_c ON t (c)".to_string(),
        ]);
        let mut statements: Vec<String> = ops.iter().map(sql).collect();
        statements.extend(queries.iter().cloned());
        prop_assert_eq!(run(&plain, &statements), run(&indexed, &statements));
    }
}

#[test]
fn the_indexed_plan_uses_the_index() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE t (a INT PRIMARY KEY, b INT, c INT)").expect("create");
    s.execute("CREATE INDEX t_b_c ON t (b, c)").expect("index");
    let plan = s.query("EXPLAIN SELECT a FROM t WHERE b = 1 AND c = 2").expect("explain");
    let text: Vec<String> = plan.rows.iter().map(|r| r.get::<String>(0).expect("text")).collect();
    assert!(text.iter().any(|l| l.contains("Index Scan using t_b_c")), "{text:?}");
}

#[test]
fn indexes_survive_a_restart_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open(dir.path()).expect("open");
        let mut s = db.session();
        s.execute("CREATE TABLE t (a INT PRIMARY KEY, b TEXT)").expect("create");
        s.execute("CREATE UNIQUE INDEX t_b ON t (b)").expect("index");
        s.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')").expect("insert");
    }
    let db = Database::open(dir.path()).expect("reopen");
    let mut s = db.session();
    let rows = s.query("SELECT a FROM t WHERE b = 'y'").expect("query");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("int"), 2);
    let err = s.execute("INSERT INTO t VALUES (3, 'x')").expect_err("unique after restart");
    assert_eq!(err.sqlstate(), "23505");
    s.execute("DROP TABLE t").expect("drop");
    let files = std::fs::read_dir(dir.path().join("data")).expect("data").count();
    assert_eq!(files, 2, "the catalog file and the manifest remain; table and index files are gone");
}
