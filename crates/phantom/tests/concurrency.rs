//! Eight sessions in eight threads on one database, through the SQL layer.

use std::collections::BTreeSet;

use phantom::{Database, SqlState};

const ACCOUNTS: i64 = 20;
const START_BALANCE: i64 = 1000;
const THREADS: i64 = 8;
const TRANSFERS_PER_THREAD: usize = 150;

/// Runs `body` in a transaction, retrying on serialization failures (40001) the way an
/// application must. Returns how many attempts failed with 40001.
fn with_retry(
    session: &mut phantom::Session,
    mut body: impl FnMut(&mut phantom::Session) -> phantom::Result<()>,
) -> u64 {
    let mut conflicts = 0;
    loop {
        session.execute("BEGIN").expect("begin");
        let outcome = body(session).and_then(|()| session.execute("COMMIT").map(drop));
        match outcome {
            Ok(()) => return conflicts,
            Err(e) if e.state == SqlState::SerializationFailure => {
                conflicts += 1;
                if session.in_transaction() {
                    session.execute("ROLLBACK").expect("rollback");
                }
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
}

/// The single integer a query returns.
fn scalar(session: &mut phantom::Session, sql: &str) -> i64 {
    let rows = session.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.rows[0].get(0).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn run(db: &Database) {
    let mut setup = db.session();
    setup.execute("CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)").expect("create");
    setup.execute("CREATE TABLE log (thread INT NOT NULL, seq INT NOT NULL, amount BIGINT)").expect("create");
    let values: Vec<String> = (0..ACCOUNTS).map(|id| format!("({id}, {START_BALANCE})")).collect();
    setup.execute(&format!("INSERT INTO accounts VALUES {}", values.join(", "))).expect("insert");

    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut session = db.session();
                let mut x = (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut conflicts = 0;
                for seq in 0..TRANSFERS_PER_THREAD {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let from = (x % ACCOUNTS as u64) as i64;
                    let to = ((x >> 16) % ACCOUNTS as u64) as i64;
                    let amount = (x >> 32) as i64 % 50 + 1;
                    conflicts += with_retry(&mut session, |s| {
                        s.execute(&format!(
                            "UPDATE accounts SET balance = balance - {amount} WHERE id = {from}"
                        ))?;
                        s.execute(&format!(
                            "UPDATE accounts SET balance = balance + {amount} WHERE id = {to}"
                        ))?;
                        s.execute(&format!("INSERT INTO log VALUES ({thread}, {seq}, {amount})"))?;
                        Ok(())
                    });
                    // A reader's snapshot is consistent: the total is always the same.
                    if seq % 10 == 0 {
                        let total = scalar(&mut session, "SELECT SUM(balance) FROM accounts");
                        assert_eq!(total, ACCOUNTS * START_BALANCE, "a snapshot saw a half-done transfer");
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: u64 = threads.into_iter().map(|t| t.join().expect("thread panicked")).sum();
    eprintln!("{THREADS} sessions: {conflicts} serialization failures retried");

    let mut check = db.session();
    let total = scalar(&mut check, "SELECT SUM(balance) FROM accounts");
    assert_eq!(total, ACCOUNTS * START_BALANCE);
    // Every transfer committed exactly once: one log row per (thread, seq).
    let rows = check.query("SELECT thread, seq FROM log").expect("log");
    let entries: BTreeSet<(i64, i64)> =
        rows.iter().map(|r| (r.get(0).expect("thread"), r.get(1).expect("seq"))).collect();
    assert_eq!(rows.len(), entries.len(), "a transfer was logged twice");
    assert_eq!(entries.len(), THREADS as usize * TRANSFERS_PER_THREAD);
}

#[test]
fn eight_sessions_transfer_money_in_memory() {
    run(&Database::memory());
}

#[test]
fn eight_sessions_transfer_money_on_disk_and_the_result_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open(dir.path()).expect("open");
        run(&db);
    }
    let db = Database::open(dir.path()).expect("reopen");
    let mut session = db.session();
    assert_eq!(scalar(&mut session, "SELECT SUM(balance) FROM accounts"), ACCOUNTS * START_BALANCE);
    assert_eq!(scalar(&mut session, "SELECT COUNT(*) FROM log"), THREADS * TRANSFERS_PER_THREAD as i64);
}

#[test]
fn a_write_write_conflict_ends_the_later_transaction_with_40001() {
    let db = Database::memory();
    let mut first = db.session();
    let mut second = db.session();
    first.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)").expect("create");
    first.execute("INSERT INTO t VALUES (1, 0)").expect("insert");

    first.execute("BEGIN").expect("begin");
    second.execute("BEGIN").expect("begin");
    first.execute("UPDATE t SET v = 1 WHERE id = 1").expect("first writer");
    let err = second.execute("UPDATE t SET v = 2 WHERE id = 1").expect_err("second writer must fail");
    assert_eq!(err.sqlstate(), "40001", "{err}");
    // The failed transaction accepts nothing but ROLLBACK.
    let err = second.execute("SELECT v FROM t").expect_err("failed block");
    assert_eq!(err.sqlstate(), "25P02", "{err}");
    second.execute("ROLLBACK").expect("rollback");
    first.execute("COMMIT").expect("commit");

    // A writer that started before the commit but writes after it also conflicts: its
    // snapshot does not contain the committed update it would overwrite.
    second.execute("BEGIN").expect("begin");
    second.query("SELECT v FROM t").expect("pin the snapshot");
    first.execute("UPDATE t SET v = 3 WHERE id = 1").expect("autocommit update");
    let err = second.execute("UPDATE t SET v = 4 WHERE id = 1").expect_err("stale writer must fail");
    assert_eq!(err.sqlstate(), "40001", "{err}");
    second.execute("ROLLBACK").expect("rollback");

    assert_eq!(scalar(&mut second, "SELECT v FROM t WHERE id = 1"), 3);
}
