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
