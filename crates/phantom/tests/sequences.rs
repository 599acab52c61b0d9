//! Sequences across sessions, threads, reopens and a crash: `currval` is per session,
//! concurrent `nextval` calls never hand out a value twice, and values handed out stay
//! used after the database is reopened, cleanly (then without a gap) or after SIGKILL (a
//! child process, this test binary re-run with `PHANTOM_SEQUENCE_CHILD` set, prints each
//! value it got).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::{run_child_until_killed, scalar, sqlstate};
use phantom::{Database, Value};

#[test]
fn currval_belongs_to_the_session() {
    let db = Database::memory();
    let mut a = db.session();
    let mut b = db.session();
    a.execute("CREATE SEQUENCE s").expect("create");
    assert_eq!(scalar(&mut a, "SELECT nextval('s')"), 1);
    assert_eq!(sqlstate(&mut b, "SELECT currval('s')"), "55000");
    assert_eq!(sqlstate(&mut b, "SELECT lastval()"), "55000");
    assert_eq!(scalar(&mut b, "SELECT nextval('s')"), 2);
    assert_eq!(scalar(&mut a, "SELECT currval('s')"), 1);
    assert_eq!(scalar(&mut b, "SELECT currval('s')"), 2);
    // A value taken in a transaction that rolls back is not handed out again.
    a.execute("BEGIN").expect("begin");
    assert_eq!(scalar(&mut a, "SELECT nextval('s')"), 3);
    a.execute("ROLLBACK").expect("rollback");
    assert_eq!(scalar(&mut b, "SELECT nextval('s')"), 4);
}

/// Prepared statements (the extended protocol's path) take a new value per execution,
/// also when the sequence's name is a parameter.
#[test]
fn prepared_statements_call_nextval_each_time() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE t (id SERIAL PRIMARY KEY, v INT)").expect("create");
    let insert = s.prepare("INSERT INTO t (v) VALUES ($1)").expect("prepare");
    for v in 1..=3 {
        s.execute_prepared(&insert, &[Value::Int(v)]).expect("insert");
    }
    assert_eq!(scalar(&mut s, "SELECT max(id) FROM t"), 3);
    let next = s.prepare("SELECT nextval('t_id_seq')").expect("prepare");
    let got: Vec<i64> = (0..2)
        .map(|_| s.query_prepared(&next, &[]).expect("query").rows[0].get::<i64>(0).expect("value"))
        .collect();
    assert_eq!(got, [4, 5]);
    let named = s.prepare("SELECT currval($1)").expect("prepare");
    let rows = s.query_prepared(&named, &[Value::Text("t_id_seq".into())]).expect("query");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("value"), 5);
}

/// COPY fills a SERIAL column it is not given from the sequence, and writes an identity
/// column it is given as is (as PostgreSQL's COPY does, even for GENERATED ALWAYS).
#[test]
fn copy_fills_serial_columns_and_writes_identity_columns() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE t (id SERIAL, g INT GENERATED ALWAYS AS IDENTITY, v TEXT)").expect("create");
    let mut copy = s.copy_in("t", &["g".into(), "v".into()]).expect("copy_in");
    copy.write(vec![Value::Text("7".into()), Value::Text("a".into())]).expect("row 1");
    copy.write(vec![Value::Text("8".into()), Value::Text("b".into())]).expect("row 2");
    assert_eq!(copy.finish().expect("finish"), 2);
    assert_eq!(scalar(&mut s, "SELECT sum(id) FROM t"), 3);
    assert_eq!(scalar(&mut s, "SELECT sum(g) FROM t"), 15);
    assert_eq!(scalar(&mut s, "SELECT currval('t_id_seq')"), 2);
}

#[test]
fn a_sequence_created_in_a_transaction_is_private_until_commit() {
    let db = Database::memory();
    let mut a = db.session();
    let mut b = db.session();
    a.execute("BEGIN").expect("begin");
    a.execute("CREATE SEQUENCE s START 5").expect("create");
    assert_eq!(scalar(&mut a, "SELECT nextval('s')"), 5);
    assert_eq!(sqlstate(&mut b, "SELECT nextval('s')"), "42P01");
    a.execute("COMMIT").expect("commit");
    assert_eq!(scalar(&mut b, "SELECT nextval('s')"), 6);
    assert_eq!(scalar(&mut a, "SELECT nextval('s')"), 7);
}

/// Four threads each take a thousand values of a sequence and insert 250 rows into a
/// SERIAL table: all values distinct, with no gap since nothing crashed.
fn concurrent_nextval(db: &Database) {
    let mut s = db.session();
    s.execute("CREATE TABLE t (id SERIAL PRIMARY KEY, thread INT)").expect("create");
    s.execute("CREATE SEQUENCE plain").expect("create");
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut s = db.session();
                let mut got = Vec::new();
                for i in 0..1000 {
                    if i % 4 == 0 {
                        s.execute(&format!("INSERT INTO t (thread) VALUES ({thread})")).expect("insert");
                    }
                    got.push(scalar(&mut s, "SELECT nextval('plain')"));
                }
                got
            })
        })
        .collect();
    let mut plain = BTreeSet::new();
    for t in threads {
        for v in t.join().expect("thread") {
            assert!(plain.insert(v), "value {v} handed out twice");
        }
    }
    assert_eq!(plain.len(), 4000);
    assert_eq!((plain.first().copied(), plain.last().copied()), (Some(1), Some(4000)));
    assert_eq!(scalar(&mut s, "SELECT count(DISTINCT id) FROM t"), 1000);
    assert_eq!(scalar(&mut s, "SELECT max(id) FROM t"), 1000);
}

#[test]
fn concurrent_nextval_hands_out_distinct_values_in_memory() {
    concurrent_nextval(&Database::memory());
}

#[test]
fn concurrent_nextval_hands_out_distinct_values_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    concurrent_nextval(&Database::open(dir.path()).expect("open"));
}

#[test]
fn values_stay_used_after_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let last = {
        let db = Database::open(dir.path()).expect("open");
        let mut s = db.session();
        s.execute("CREATE SEQUENCE s INCREMENT 3").expect("create");
        s.execute("CREATE TABLE t (id BIGSERIAL, v INT)").expect("create");
        s.execute("INSERT INTO t (v) SELECT g FROM generate_series(1, 40) g").expect("insert");
        s.execute("CREATE SEQUENCE exact").expect("create");
        s.execute("SELECT setval('exact', 77)").expect("setval");
        (0..40).map(|_| scalar(&mut s, "SELECT nextval('s')")).last().expect("values")
    };
    let db = Database::open(dir.path()).expect("reopen");
    let mut s = db.session();
    // A clean close stored the exact state: no values are skipped.
    assert_eq!(scalar(&mut s, "SELECT nextval('s')"), last + 3);
    s.execute("INSERT INTO t (v) VALUES (41)").expect("insert");
    assert_eq!(scalar(&mut s, "SELECT id FROM t WHERE v = 41"), 41);
    // setval is stored as given: the next value follows it exactly.
    assert_eq!(scalar(&mut s, "SELECT nextval('exact')"), 78);
    // The definition survives too.
    assert_eq!(sqlstate(&mut s, "CREATE SEQUENCE s"), "42P07");
    // A dropped sequence stays dropped.
    s.execute("DROP SEQUENCE s").expect("drop");
    drop(s);
    drop(db);
    let db = Database::open(dir.path()).expect("reopen");
    assert_eq!(sqlstate(&mut db.session(), "SELECT nextval('s')"), "42P01");
}

fn child(dir: &Path) {
    let db = Database::open(dir).expect("open");
    let mut s = db.session();
    let _ = s.execute("CREATE SEQUENCE s");
    loop {
        let value = scalar(&mut s, "SELECT nextval('s')");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }
}

#[test]
fn sequence_child_entry() {
    if let Ok(dir) = std::env::var("PHANTOM_SEQUENCE_CHILD") {
        child(Path::new(&dir));
    }
}

#[test]
fn values_handed_out_before_sigkill_are_never_handed_out_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen = BTreeSet::new();
    for round in 0..3 {
        let delay = Duration::from_millis(700 + 300 * round);
        let got = run_child_until_killed("sequence_child_entry", "PHANTOM_SEQUENCE_CHILD", dir.path(), delay);
        for v in got {
            assert!(seen.insert(v), "round {round}: value {v} handed out twice");
        }
    }
    assert!(!seen.is_empty(), "the child printed nothing");
    let db = Database::open(dir.path()).expect("reopen");
    let next = scalar(&mut db.session(), "SELECT nextval('s')");
    assert!(seen.last().is_some_and(|&last| next > last), "{next} after {seen:?}");
}
