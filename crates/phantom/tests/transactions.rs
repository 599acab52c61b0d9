//! Transactions under concurrency: deadlocks, lock timeouts, money transfers at every
//! snapshot level, write skew under SERIALIZABLE, big rollbacks, garbage collection and
//! the write-set limit.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::scalar;
use phantom::{Database, Session, SqlState};

fn retryable(e: &phantom::Error) -> bool {
    matches!(e.state, SqlState::SerializationFailure | SqlState::DeadlockDetected)
}

/// Runs `body` in a transaction at `level`, retrying serialization failures and deadlocks
/// the way an application must; returns the number of failed attempts.
fn with_retry(
    session: &mut Session,
    level: &str,
    mut body: impl FnMut(&mut Session) -> phantom::Result<()>,
) -> u64 {
    let mut failures = 0;
    loop {
        session.execute(&format!("BEGIN ISOLATION LEVEL {level}")).expect("begin");
        match body(session).and_then(|()| session.execute("COMMIT").map(drop)) {
            Ok(()) => return failures,
            Err(e) if retryable(&e) => {
                failures += 1;
                if session.in_transaction() {
                    session.execute("ROLLBACK").expect("rollback");
                }
            }
            Err(e) => panic!("unexpected error at {level}: {e}"),
        }
    }
}

fn table(db: &Database, ddl: &str, rows: &str) {
    let mut s = db.session();
    s.execute(ddl).expect("create");
    s.execute(rows).expect("insert");
}

/// `n` sessions each lock their own row, then each wants the next one's: a cycle of `n`.
/// Exactly one is chosen as victim (40P01) quickly; the others finish.
fn deadlock_cycle(n: i64) {
    let db = Database::memory();
    let values: Vec<String> = (0..n).map(|i| format!("({i}, 0)")).collect();
    table(
        &db,
        "CREATE TABLE r (id INT PRIMARY KEY, v INT)",
        &format!("INSERT INTO r VALUES {}", values.join(", ")),
    );
    let barrier = Arc::new(Barrier::new(n as usize));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (db, barrier) = (db.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut s = db.session();
                s.execute("BEGIN").expect("begin");
                s.execute(&format!("UPDATE r SET v = 1 WHERE id = {i}")).expect("own row");
                barrier.wait();
                // Stagger so the cycle closes with the last one.
                std::thread::sleep(Duration::from_millis(20 * i as u64));
                let started = Instant::now();
                let result = s.execute(&format!("UPDATE r SET v = 2 WHERE id = {}", (i + 1) % n));
                let ended = Instant::now();
                let outcome = match result {
                    Ok(_) => {
                        s.execute("COMMIT").expect("commit");
                        None
                    }
                    Err(e) => {
                        s.execute("ROLLBACK").expect("rollback");
                        Some((e, ended))
                    }
                };
                (i, started, outcome)
            })
        })
        .collect();
    let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().expect("thread")).collect();
    let victims: Vec<_> = outcomes.iter().filter_map(|(i, _, o)| o.as_ref().map(|o| (*i, o))).collect();
    assert_eq!(victims.len(), 1, "exactly one victim: {victims:?}");
    let (_, (error, failed_at)) = &victims[0];
    assert_eq!(error.sqlstate(), "40P01", "{error}");
    assert!(error.message.contains("deadlock detected"), "{error}");
    // The cycle closes when the last waiter starts waiting; it is found right then, not by
    // a timer. The bound is generous for a loaded machine; the time is printed.
    let closed = outcomes.iter().map(|(_, started, _)| *started).max().expect("threads");
    let latency = failed_at.saturating_duration_since(closed);
    eprintln!("{n}-way deadlock: victim aborted {latency:?} after the cycle closed");
    assert!(latency < Duration::from_secs(1), "deadlock found after {latency:?}");
    let mut s = db.session();
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM r WHERE v = 2"), n - 1);
}

#[test]
fn a_two_way_deadlock_has_exactly_one_victim() {
    deadlock_cycle(2);
}

#[test]
fn a_three_way_deadlock_has_exactly_one_victim() {
    deadlock_cycle(3);
}

#[test]
fn lock_timeout_ends_a_wait_with_55p03() {
    let db = Database::memory();
    table(&db, "CREATE TABLE r (id INT PRIMARY KEY, v INT)", "INSERT INTO r VALUES (1, 0)");
    let mut holder = db.session();
    holder.execute("BEGIN").expect("begin");
    holder.execute("UPDATE r SET v = 1 WHERE id = 1").expect("lock");
    let mut waiter = db.session();
    waiter.execute("SET lock_timeout = '50ms'").expect("set");
    let err = waiter.execute("UPDATE r SET v = 2 WHERE id = 1").expect_err("times out");
    assert_eq!(err.sqlstate(), "55P03", "{err}");
    holder.execute("COMMIT").expect("commit");
    waiter.execute("UPDATE r SET v = 2 WHERE id = 1").expect("free now");
}

/// A table of 6,000 rows: more than a transaction locks row by row.
fn big_table(db: &Database) {
    table(
        db,
        "CREATE TABLE big (id INT PRIMARY KEY, v INT)",
        "INSERT INTO big SELECT n, 0 FROM generate_series(1, 6000) AS g(n)",
    );
}

#[test]
fn a_bulk_update_locks_its_table_for_writers_and_locking_readers_only() {
    let db = Database::memory();
    big_table(&db);
    let mut bulk = db.session();
    bulk.execute("BEGIN").expect("begin");
    bulk.execute("UPDATE big SET v = 1 WHERE id > 1").expect("bulk update");
    let mut other = db.session();
    other.execute("SET lock_timeout = '100ms'").expect("set");
    // Row 1 was not updated, yet its writers and locking readers wait: the table is locked.
    let err = other.execute("UPDATE big SET v = 2 WHERE id = 1").expect_err("waits");
    assert_eq!(err.sqlstate(), "55P03", "{err}");
    let err = other.execute("SELECT v FROM big WHERE id = 1 FOR SHARE").expect_err("waits");
    assert_eq!(err.sqlstate(), "55P03", "{err}");
    other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ").expect("begin");
    let err = other.execute("SELECT v FROM big WHERE id = 1").expect_err("waits");
    assert_eq!(err.sqlstate(), "55P03", "{err}");
    other.execute("ROLLBACK").expect("rollback");
    // Plain reads do not wait, and see the committed state.
    for level in ["READ COMMITTED", "SNAPSHOT", "SERIALIZABLE"] {
        other.execute(&format!("BEGIN ISOLATION LEVEL {level}")).expect("begin");
        assert_eq!(scalar(&mut other, "SELECT sum(v) FROM big"), 0, "{level}");
        other.execute("COMMIT").expect("commit");
    }
    bulk.execute("COMMIT").expect("commit");
    other.execute("UPDATE big SET v = 2 WHERE id = 1").expect("free now");
    assert_eq!(scalar(&mut other, "SELECT sum(v) FROM big"), 5999 + 2);
}

#[test]
fn two_bulk_updates_of_one_table_deadlock_with_one_victim() {
    let db = Database::memory();
    big_table(&db);
    let mut first = db.session();
    let mut second = db.session();
    first.execute("BEGIN").expect("begin");
    second.execute("BEGIN").expect("begin");
    // Each locks a few rows, then the other's rows are in the way of its bulk update.
    first.execute("UPDATE big SET v = 1 WHERE id = 1").expect("row lock");
    second.execute("UPDATE big SET v = 2 WHERE id = 2").expect("row lock");
    let older = std::thread::spawn(move || {
        let result = first.execute("UPDATE big SET v = v + 10 WHERE id > 2");
        (first, result)
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let young = second.execute("UPDATE big SET v = v + 20 WHERE id > 2");
    let (mut first, old) = older.join().expect("older");
    assert!(started.elapsed() < Duration::from_secs(5));
    let failures: Vec<_> = [&old, &young].into_iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(failures.len(), 1, "exactly one victim: {old:?} / {young:?}");
    assert_eq!(failures[0].sqlstate(), "40P01", "{}", failures[0]);
    first.execute("COMMIT").expect("commit");
    second.execute("COMMIT").expect("commit");
    let sum = scalar(&mut first, "SELECT sum(v) FROM big");
    assert!(sum == 1 + 5998 * 10 || sum == 2 + 5998 * 20, "one bulk update, whole: {sum}");
}

/// Many threads move money between accounts; the total never changes, and every reader
/// sees it whole.
fn transfers(level: &'static str) {
    const ACCOUNTS: i64 = 10;
    const THREADS: u64 = 6;
    const TRANSFERS: usize = 60;
    let db = Database::memory();
    let values: Vec<String> = (0..ACCOUNTS).map(|i| format!("({i}, 1000)")).collect();
    table(
        &db,
        "CREATE TABLE acct (id INT PRIMARY KEY, balance BIGINT NOT NULL)",
        &format!("INSERT INTO acct VALUES {}", values.join(", ")),
    );
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut s = db.session();
                let mut x = (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut failures = 0;
                for _ in 0..TRANSFERS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (from, to, amount) = (x % 10, (x >> 8) % 10, (x >> 16) % 20 + 1);
                    failures += with_retry(&mut s, level, |s| {
                        // Read, then write what was read: the pattern that loses updates
                        // when isolation is too weak.
                        let balance = s.query(&format!("SELECT balance FROM acct WHERE id = {from}"))?.rows
                            [0]
                        .get::<i64>(0)?;
                        s.execute(&format!(
                            "UPDATE acct SET balance = {} WHERE id = {from}",
                            balance - amount as i64
                        ))?;
                        let balance = s.query(&format!("SELECT balance FROM acct WHERE id = {to}"))?.rows[0]
                            .get::<i64>(0)?;
                        s.execute(&format!(
                            "UPDATE acct SET balance = {} WHERE id = {to}",
                            balance + amount as i64
                        ))?;
                        Ok(())
                    });
                    let total = scalar(&mut s, "SELECT sum(balance) FROM acct");
                    assert_eq!(total, ACCOUNTS * 1000, "{level}: a reader saw a partial transfer");
                }
                failures
            })
        })
        .collect();
    let failures: u64 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    eprintln!("{level}: {failures} retried attempts");
    let mut s = db.session();
    assert_eq!(
        scalar(&mut s, "SELECT sum(balance) FROM acct"),
        ACCOUNTS * 1000,
        "{level}: money appeared or vanished"
    );
}

#[test]
fn transfers_keep_the_total_under_snapshot() {
    transfers("SNAPSHOT");
}

#[test]
fn transfers_keep_the_total_under_repeatable_read() {
    transfers("REPEATABLE READ");
}

#[test]
fn transfers_keep_the_total_under_serializable() {
    transfers("SERIALIZABLE");
}

/// Doctors on call: each goes off call if at least one other doctor is still on. Under
/// SERIALIZABLE the shift always keeps someone on call; SNAPSHOT lets write skew empty it.
fn on_call_after_rounds(level: &'static str, rounds: usize) -> Vec<i64> {
    let mut remaining = Vec::new();
    for _ in 0..rounds {
        let db = Database::memory();
        table(
            &db,
            "CREATE TABLE doctors (name TEXT PRIMARY KEY, on_call BOOLEAN NOT NULL)",
            "INSERT INTO doctors VALUES ('alice', true), ('bob', true)",
        );
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = ["alice", "bob"]
            .into_iter()
            .map(|name| {
                let (db, barrier) = (db.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut s = db.session();
                    s.execute(&format!("BEGIN ISOLATION LEVEL {level}")).expect("begin");
                    let on = scalar(&mut s, "SELECT count(*) FROM doctors WHERE on_call");
                    barrier.wait();
                    let result = if on >= 2 {
                        s.execute(&format!("UPDATE doctors SET on_call = false WHERE name = '{name}'"))
                            .and_then(|_| s.execute("COMMIT"))
                    } else {
                        s.execute("COMMIT")
                    };
                    match result {
                        Ok(_) => {}
                        Err(e) if retryable(&e) => {
                            if s.in_transaction() {
                                s.execute("ROLLBACK").expect("rollback");
                            }
                        }
                        Err(e) => panic!("{level}: {e}"),
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let mut s = db.session();
        remaining.push(scalar(&mut s, "SELECT count(*) FROM doctors WHERE on_call"));
    }
    remaining
}

#[test]
fn serializable_never_leaves_the_shift_without_a_doctor() {
    let remaining = on_call_after_rounds("SERIALIZABLE", 30);
    assert!(remaining.iter().all(|&n| n >= 1), "write skew got through: {remaining:?}");
}

#[test]
fn snapshot_isolation_allows_the_write_skew() {
    // The barrier makes both read before either writes: every round is a write skew.
    let remaining = on_call_after_rounds("SNAPSHOT", 5);
    assert!(remaining.contains(&0), "snapshot isolation should show write skew: {remaining:?}");
}

#[test]
fn rolling_back_ten_thousand_rows_leaves_nothing_and_frees_the_locks() {
    let db = Database::memory();
    table(&db, "CREATE TABLE big (id INT PRIMARY KEY, v INT)", "INSERT INTO big VALUES (0, 0)");
    let mut s = db.session();
    s.execute("BEGIN").expect("begin");
    let values: Vec<String> = (1..=10_000).map(|i| format!("({i}, {i})")).collect();
    s.execute(&format!("INSERT INTO big VALUES {}", values.join(", "))).expect("insert");
    s.execute("UPDATE big SET v = -1 WHERE id = 0").expect("update");
    s.execute("ROLLBACK").expect("rollback");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM big"), 1);
    // Every lock went with the rollback: another session writes the same rows at once.
    let mut other = db.session();
    other.execute("SET lock_timeout = '100ms'").expect("set");
    other.execute("UPDATE big SET v = 7 WHERE id = 0").expect("row 0 is free");
    other.execute("INSERT INTO big VALUES (5000, 1)").expect("key 5000 is free");
}

#[test]
fn garbage_collection_bounds_a_hot_row_and_keeps_what_old_snapshots_need() {
    let db = Database::memory();
    table(&db, "CREATE TABLE hot (id INT PRIMARY KEY, v INT)", "INSERT INTO hot VALUES (1, 0), (2, 0)");
    let mut old = db.session();
    old.execute("BEGIN ISOLATION LEVEL SNAPSHOT").expect("begin");
    assert_eq!(scalar(&mut old, "SELECT v FROM hot WHERE id = 1"), 0);
    let mut s = db.session();
    for i in 1..=2_000 {
        s.execute(&format!("UPDATE hot SET v = {i} WHERE id = 1")).expect("update");
    }
    s.execute("VACUUM hot").expect("vacuum");
    // The old snapshot still reads its version: versions it can see are kept.
    assert_eq!(scalar(&mut old, "SELECT v FROM hot WHERE id = 1"), 0);
    old.execute("COMMIT").expect("commit");
    s.execute("VACUUM hot").expect("vacuum");
    let versions = scalar(&mut s, "SELECT sum(keys) FROM phantom_storage_stats WHERE table_name = 'hot'");
    assert!(versions <= 4, "2,000 updates left {versions} versions after VACUUM");
    assert_eq!(scalar(&mut s, "SELECT v FROM hot WHERE id = 1"), 2_000);
    // Deleted rows go entirely once nobody can see them.
    s.execute("DELETE FROM hot WHERE id = 2").expect("delete");
    s.execute("VACUUM").expect("vacuum");
    let versions = scalar(&mut s, "SELECT sum(keys) FROM phantom_storage_stats WHERE table_name = 'hot'");
    assert_eq!(versions, 1, "one live version of row 1 remains");
}

#[test]
fn a_write_set_over_its_limit_fails_with_54000() {
    let db = Database::memory();
    table(&db, "CREATE TABLE w (id INT PRIMARY KEY, pad TEXT)", "INSERT INTO w VALUES (0, '')");
    let mut s = db.session();
    s.execute("SET phantom.write_set_limit = 100000").expect("set");
    s.execute("BEGIN").expect("begin");
    let pad = "x".repeat(1000);
    let mut failed = None;
    for i in 1..=1000 {
        if let Err(e) = s.execute(&format!("INSERT INTO w VALUES ({i}, '{pad}')")) {
            failed = Some((i, e));
            break;
        }
    }
    let (at, err) = failed.expect("the limit must stop the transaction");
    assert_eq!(err.sqlstate(), "54000", "{err}");
    assert!(at > 50 && at < 150, "failed at row {at}");
    s.execute("ROLLBACK").expect("rollback");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM w"), 1);
}

#[test]
fn serializable_prevents_the_read_only_anomaly() {
    // Fekete, O'Neil and O'Neil's batch example, by hand: the batch reader (t3) sees the
    // receipt (t1, committed) but not the deposit (t2) made at the snapshot t1 came after.
    let db = Database::memory();
    table(&db, "CREATE TABLE acct (id INT PRIMARY KEY, v INT)", "INSERT INTO acct VALUES (1, 0), (2, 0)");
    let (mut t1, mut t2, mut t3) = (db.session(), db.session(), db.session());
    let begin = "BEGIN ISOLATION LEVEL SERIALIZABLE";
    t2.execute(begin).expect("begin t2");
    assert_eq!(scalar(&mut t2, "SELECT v FROM acct WHERE id = 1"), 0);
    t1.execute(begin).expect("begin t1");
    t1.execute("UPDATE acct SET v = 1 WHERE id = 1").expect("t1 update");
    t1.execute("COMMIT").expect("t1 commit"); // t2 -rw-> t1
    t3.execute(begin).expect("begin t3");
    assert_eq!(scalar(&mut t3, "SELECT v FROM acct WHERE id = 1"), 1, "t3 sees t1");
    t2.execute("UPDATE acct SET v = 10 WHERE id = 2").expect("t2 update");
    t2.execute("COMMIT").expect("t2 commit");
    // t3 -rw-> t2 -rw-> t1 -wr-> t3: a cycle, whatever t3 does next.
    let read = t3.query("SELECT v FROM acct WHERE id = 2").and_then(|_| t3.execute("COMMIT"));
    match read {
        Err(e) => assert_eq!(e.sqlstate(), "40001", "{e}"),
        Ok(_) => panic!("t3 committed a view no serial order explains"),
    }
}

#[test]
fn a_child_insert_and_its_parents_delete_never_both_commit() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE parent (id INT PRIMARY KEY)").expect("parent");
    s.execute("CREATE TABLE child (id INT PRIMARY KEY, p INT REFERENCES parent)").expect("child");
    s.execute("INSERT INTO parent VALUES (1)").expect("insert");
    let mut inserter = db.session();
    inserter.execute("BEGIN").expect("begin");
    inserter.execute("INSERT INTO child VALUES (1, 1)").expect("child row: parent 1 exists");
    let deleter = {
        let db = db.clone();
        std::thread::spawn(move || db.session().execute("DELETE FROM parent WHERE id = 1").map(drop))
    };
    std::thread::sleep(Duration::from_millis(100));
    assert!(!deleter.is_finished(), "the delete must wait for the inserter's lock on the parent row");
    inserter.execute("COMMIT").expect("commit");
    let deleted = deleter.join().expect("deleter");
    let err = deleted.expect_err("the parent is referenced now");
    assert_eq!(err.sqlstate(), "23503", "{err}");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM parent"), 1);
}

#[test]
fn a_snapshot_keeps_its_catalog_while_ddl_commits_and_new_snapshots_see_the_ddl() {
    // Catalog reads are cached across transactions; the cache must never show a snapshot
    // a table definition from after it, nor a new snapshot one from before.
    let db = Database::memory();
    let mut old = db.session();
    let mut ddl = db.session();
    let mut fresh = db.session();
    old.execute("CREATE TABLE c (a INT)").expect("create");
    old.execute("INSERT INTO c VALUES (1)").expect("insert");
    for _ in 0..2 {
        // Warm the cache at the current version.
        assert_eq!(fresh.query("SELECT * FROM c").expect("select").columns.len(), 1);
    }
    old.execute("BEGIN ISOLATION LEVEL SNAPSHOT").expect("begin");
    assert_eq!(old.query("SELECT * FROM c").expect("select").columns.len(), 1);
    ddl.execute("ALTER TABLE c ADD COLUMN b INT").expect("alter");
    assert_eq!(fresh.query("SELECT * FROM c").expect("select").columns.len(), 2, "new snapshot");
    assert_eq!(old.query("SELECT * FROM c").expect("select").columns.len(), 1, "old snapshot");
    ddl.execute("DROP TABLE c").expect("drop");
    assert_eq!(old.query("SELECT a FROM c").expect("still there for the old snapshot").rows.len(), 1);
    let gone = fresh.query("SELECT * FROM c").expect_err("dropped");
    assert_eq!(gone.sqlstate(), "42P01", "{gone}");
    old.execute("COMMIT").expect("commit");
    assert_eq!(old.query("SELECT * FROM c").expect_err("dropped").sqlstate(), "42P01");
}

/// What a block's last statement created is visible to whatever reads the catalog next
/// without running a statement first: `prepare` (the server's Parse), `describe` and
/// `tables` (the shell's `\d` and `\dt`).
#[test]
fn prepare_and_describe_see_the_blocks_own_ddl() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("BEGIN").expect("begin");
    s.execute("CREATE TABLE fresh (i int)").expect("create");
    let insert = s.prepare("INSERT INTO fresh VALUES ($1)").expect("prepare sees the new table");
    assert_eq!(s.describe("fresh").expect("describe").columns.len(), 1);
    s.execute("ALTER TABLE fresh ADD COLUMN j text").expect("alter");
    assert_eq!(s.describe("fresh").expect("describe").columns.len(), 2);
    s.execute("CREATE TABLE other (k int)").expect("create");
    assert_eq!(s.tables().expect("tables"), ["fresh", "other"]);
    s.execute_prepared(&insert, &[phantom::Value::Int(5)]).expect("insert");
    s.execute("COMMIT").expect("commit");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM fresh WHERE i = 5"), 1);
}
