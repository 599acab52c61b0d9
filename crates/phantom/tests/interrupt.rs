//! Cancelling a running statement from another thread (what the server does for a
//! PostgreSQL CancelRequest).

use std::time::{Duration, Instant};

use phantom::{Database, SqlState};

const COUNT_TO_TEN_MILLION: &str = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 10000000) SELECT count(*) FROM c";

/// Runs `sql` on `session` while another thread interrupts it after `delay`.
fn run_interrupted(
    session: &mut phantom::Session,
    sql: &str,
    delay: Duration,
) -> phantom::Result<phantom::Output> {
    let handle = session.interrupt_handle();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(delay);
        handle.interrupt();
    });
    let result = session.execute(sql);
    canceller.join().expect("canceller thread");
    result
}

#[test]
fn a_long_recursive_query_stops_with_57014_and_the_session_goes_on() {
    let db = Database::memory();
    let mut session = db.session();
    let started = Instant::now();
    let err = run_interrupted(&mut session, COUNT_TO_TEN_MILLION, Duration::from_millis(200))
        .expect_err("the query must be canceled");
    assert_eq!(err.state, SqlState::QueryCanceled, "{err}");
    assert_eq!(err.message, "canceling statement due to user request");
    assert!(started.elapsed() < Duration::from_secs(20), "cancel took {:?}", started.elapsed());
    let rows = session.query("SELECT 1 + 1").expect("session still works");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("int"), 2);
}

#[test]
fn a_canceled_statement_fails_its_block_and_its_writes_are_undone() {
    let db = Database::memory();
    let mut session = db.session();
    session.execute("CREATE TABLE t (a INT)").expect("create");
    session
        .execute("INSERT INTO t SELECT * FROM (VALUES (1), (2), (3), (4), (5), (6), (7), (8)) v")
        .expect("fill");
    for _ in 0..6 {
        session.execute("INSERT INTO t SELECT a FROM t").expect("double");
    }
    session.execute("BEGIN").expect("begin");
    session.execute("INSERT INTO t VALUES (-1)").expect("insert in block");
    // 512 x 512 x 512 rows: far too many to finish before the cancel.
    let err = run_interrupted(
        &mut session,
        "SELECT count(*) FROM t x, t y, t z WHERE x.a + y.a + z.a < 0",
        Duration::from_millis(200),
    )
    .expect_err("canceled");
    assert_eq!(err.state, SqlState::QueryCanceled);
    assert!(session.transaction_failed());
    let err = session.execute("SELECT 1").expect_err("block is failed");
    assert_eq!(err.state, SqlState::InFailedSqlTransaction);
    session.execute("ROLLBACK").expect("rollback");
    let rows = session.query("SELECT count(*) FROM t WHERE a = -1").expect("count");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("int"), 0);
}

#[test]
fn an_interrupt_while_idle_does_not_cancel_the_next_statement() {
    let db = Database::memory();
    let mut session = db.session();
    session.interrupt_handle().interrupt();
    let rows = session.query("SELECT count(*) FROM (VALUES (1), (2)) v").expect("not canceled");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("int"), 2);
}

/// Runs `sql` on `waiter` in a thread while `waiter` is expected to block on a lock; after
/// a while a third thread interrupts it. Returns the session, the result and how long the
/// statement took to fail once interrupted.
fn interrupt_lock_wait(
    mut waiter: phantom::Session,
    sql: &'static str,
) -> (phantom::Session, phantom::Result<phantom::Output>, Duration) {
    // Without a working cancel the wait ends here with 55P03 instead of hanging the test.
    waiter.execute("SET lock_timeout = '10s'").expect("set");
    let handle = waiter.interrupt_handle();
    let blocked = std::thread::spawn(move || {
        let result = waiter.execute(sql);
        (waiter, result, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!blocked.is_finished(), "the statement must wait for the lock");
    let canceller = std::thread::spawn(move || {
        let raised = Instant::now();
        handle.interrupt();
        raised
    });
    let raised = canceller.join().expect("canceller thread");
    let (waiter, result, failed) = blocked.join().expect("waiting thread");
    (waiter, result, failed.saturating_duration_since(raised))
}

#[test]
fn a_cancel_ends_a_row_lock_wait_and_fails_the_block() {
    let db = Database::memory();
    let mut holder = db.session();
    holder.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)").expect("create");
    holder.execute("INSERT INTO t VALUES (1, 1), (2, 2)").expect("fill");
    holder.execute("BEGIN").expect("begin");
    holder.execute("UPDATE t SET v = 10 WHERE id = 1").expect("update");

    let mut waiter = db.session();
    waiter.execute("BEGIN").expect("begin");
    waiter.execute("UPDATE t SET v = 20 WHERE id = 2").expect("an unlocked row");
    let (mut waiter, result, latency) = interrupt_lock_wait(waiter, "UPDATE t SET v = 30 WHERE id = 1");
    let err = result.expect_err("the wait must be canceled");
    assert_eq!(err.state, SqlState::QueryCanceled, "{err}");
    assert_eq!(err.message, "canceling statement due to user request");
    assert!(latency < Duration::from_secs(1), "the cancel took {latency:?}");
    // As in PostgreSQL: the block is failed until ROLLBACK, and its work is gone.
    assert!(waiter.transaction_failed());
    let err = waiter.execute("SELECT 1").expect_err("block is failed");
    assert_eq!(err.state, SqlState::InFailedSqlTransaction);
    waiter.execute("ROLLBACK").expect("rollback");

    holder.execute("COMMIT").expect("commit");
    let rows = waiter.query("SELECT v FROM t ORDER BY id").expect("read");
    let values: Vec<i64> = rows.rows.iter().map(|r| r.get::<i64>(0).expect("int")).collect();
    assert_eq!(values, vec![10, 2]);
}

#[test]
fn a_cancel_ends_a_wait_behind_an_escalated_table_lock() {
    let db = Database::memory();
    let mut holder = db.session();
    holder.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)").expect("create");
    holder.execute("INSERT INTO t VALUES (0, 0)").expect("fill");
    // More rows than the escalation threshold: the holder ends up locking the table.
    holder.execute("BEGIN").expect("begin");
    holder.execute("INSERT INTO t SELECT n, n FROM generate_series(1, 6000) AS g(n)").expect("bulk insert");

    // Outside a block: the canceled UPDATE rolls back on its own.
    let (mut waiter, result, latency) = interrupt_lock_wait(db.session(), "UPDATE t SET v = 5 WHERE id = 0");
    let err = result.expect_err("the wait must be canceled");
    assert_eq!(err.state, SqlState::QueryCanceled, "{err}");
    assert!(latency < Duration::from_secs(1), "the cancel took {latency:?}");
    assert!(!waiter.in_transaction());

    holder.execute("COMMIT").expect("commit");
    waiter.execute("UPDATE t SET v = 5 WHERE id = 0").expect("no longer blocked");
    let rows = waiter.query("SELECT count(*), sum(v) FROM t").expect("read");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("count"), 6001);
    assert_eq!(rows.rows[0].get::<i64>(1).expect("sum"), 6000 * 6001 / 2 + 5);
}

/// `statement_timeout` is enforced (issue 14, item 8): a query that would run for minutes
/// fails with 57014 "canceling statement due to statement timeout", as in PostgreSQL, and
/// the session goes on; without a timeout, or with one reset, nothing is stopped.
#[test]
fn statement_timeout_stops_a_long_query_with_57014() {
    let db = Database::memory();
    let mut session = db.session();
    session.execute("SET statement_timeout = '100ms'").expect("set");
    assert_eq!(session.setting("statement_timeout").as_deref(), Some("100ms"));
    let long = "SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b";
    let err = session.execute(long).expect_err("past the timeout");
    assert_eq!(err.state, SqlState::QueryCanceled, "{err}");
    assert_eq!(err.message, "canceling statement due to statement timeout");
    // Short statements are not affected, and a block goes on after a savepoint rollback.
    assert_eq!(session.query("SELECT 1 + 1").expect("short").rows[0].get::<i64>(0).expect("int"), 2);
    session.execute("BEGIN; SAVEPOINT s").expect("begin");
    let err = session.execute(COUNT_TO_TEN_MILLION).expect_err("past the timeout");
    assert_eq!(err.message, "canceling statement due to statement timeout");
    session.execute("ROLLBACK TO s; COMMIT").expect("block goes on");
    session.execute("RESET statement_timeout").expect("reset");
    assert_eq!(session.setting("statement_timeout").as_deref(), Some("0"));
    let rows = session.query("SELECT count(*) FROM generate_series(1, 300) a, generate_series(1, 300) b");
    assert_eq!(rows.expect("no timeout").rows[0].get::<i64>(0).expect("int"), 90_000);
}

/// A statement waiting for a row lock ends at its `statement_timeout` too, with 57014,
/// and releases nothing it should keep: the holder commits afterwards.
#[test]
fn statement_timeout_ends_a_lock_wait() {
    let db = Database::memory();
    let mut holder = db.session();
    holder.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0)").expect("setup");
    holder.execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1").expect("lock the row");
    let mut waiter = db.session();
    waiter.execute("SET statement_timeout = 200").expect("set");
    let err = waiter.execute("UPDATE t SET v = 2 WHERE id = 1").expect_err("the lock is held");
    assert_eq!(err.state, SqlState::QueryCanceled, "{err}");
    assert_eq!(err.message, "canceling statement due to statement timeout");
    holder.execute("COMMIT").expect("commit");
    let rows = waiter.query("SELECT v FROM t").expect("read");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("int"), 1);
}

/// `idle_in_transaction_session_timeout`, embedded (issue 14, item 8): a block that waited
/// longer for its next statement is rolled back and that statement fails with 25P03
/// (the server ends the connection instead); the session goes on outside a block, and a
/// block that keeps busy, or idling outside a block, is not affected.
#[test]
fn idle_in_transaction_timeout_rolls_the_block_back_with_25p03() {
    let db = Database::memory();
    let mut session = db.session();
    session.execute("CREATE TABLE t (a INT)").expect("create");
    session.execute("SET idle_in_transaction_session_timeout = '100ms'").expect("set");
    assert_eq!(session.setting("idle_in_transaction_session_timeout").as_deref(), Some("100ms"));
    std::thread::sleep(Duration::from_millis(300));
    session.execute("BEGIN; INSERT INTO t VALUES (1)").expect("idle outside a block is fine");
    assert!(session.idle_deadline().is_some());
    std::thread::sleep(Duration::from_millis(300));
    let err = session.execute("INSERT INTO t VALUES (2)").expect_err("idled too long");
    assert_eq!(err.state.code(), "25P03", "{err}");
    assert!(!session.in_transaction(), "the block is gone");
    let rows = session.query("SELECT count(*) FROM t").expect("the session goes on");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("int"), 0, "the block was rolled back");
    session.execute("SET idle_in_transaction_session_timeout = 0").expect("off");
    session.execute("BEGIN; INSERT INTO t VALUES (3)").expect("begin");
    std::thread::sleep(Duration::from_millis(300));
    session.execute("COMMIT").expect("no timeout now");
    assert_eq!(
        session.query("SELECT count(*) FROM t").expect("count").rows[0].get::<i64>(0).expect("int"),
        1
    );
}
