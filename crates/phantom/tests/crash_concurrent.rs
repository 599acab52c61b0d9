//! Crash test with concurrent transactions: a child process (this test binary, re-run
//! with `PHANTOM_CRASH_CHILD` set) runs four sessions that move money between accounts and
//! log each transfer in the same transaction, printing a transfer's id only after its
//! COMMIT returned. The parent kills the child with SIGKILL at a random moment, reopens the
//! database and checks that
//!
//! - every transfer whose id was printed is in the log;
//! - the money adds up, and every account's balance is exactly what the logged transfers
//!   say: no transaction is there in part, none is there twice;
//!
//! then starts the child again on the same directory, for several rounds.
//! `PHANTOM_CRASH_ROUNDS` raises the number of rounds (default 5).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{run_child_until_killed, scalar, xorshift};
use phantom::{Database, Session, SqlState};

const ACCOUNTS: i64 = 8;
const START: i64 = 1_000;
const SESSIONS: i64 = 4;

/// The child: transfers forever (until killed).
fn child(dir: &Path) {
    let db = Database::open(dir).expect("open");
    {
        let mut s = db.session();
        if s.execute("CREATE TABLE acct (id INT PRIMARY KEY, balance BIGINT NOT NULL)").is_ok() {
            let values: Vec<String> = (0..ACCOUNTS).map(|i| format!("({i}, {START})")).collect();
            s.execute(&format!("INSERT INTO acct VALUES {}", values.join(", "))).expect("accounts");
            s.execute("CREATE TABLE transfer (id BIGINT PRIMARY KEY, src INT, dst INT, amount BIGINT)")
                .expect("log");
        }
    }
    let mut s = db.session();
    let base = scalar(&mut s, "SELECT coalesce(max(id), 0) FROM transfer") + 1;
    let threads: Vec<_> = (0..SESSIONS)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut s = db.session();
                let mut x = (base as u64 + t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut n = 0i64;
                loop {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (src, dst, amount) = ((x % 8) as i64, ((x >> 8) % 8) as i64, ((x >> 16) % 50) as i64);
                    let id = base + n * SESSIONS + t;
                    n += 1;
                    let work = |s: &mut Session| -> phantom::Result<()> {
                        s.execute("BEGIN ISOLATION LEVEL SNAPSHOT")?;
                        s.execute(&format!("UPDATE acct SET balance = balance - {amount} WHERE id = {src}"))?;
                        s.execute(&format!("UPDATE acct SET balance = balance + {amount} WHERE id = {dst}"))?;
                        s.execute(&format!("INSERT INTO transfer VALUES ({id}, {src}, {dst}, {amount})"))?;
                        s.execute("COMMIT")?;
                        Ok(())
                    };
                    match work(&mut s) {
                        Ok(()) => {
                            let mut out = std::io::stdout().lock();
                            let _ = writeln!(out, "{id}");
                            let _ = out.flush();
                        }
                        Err(e)
                            if matches!(
                                e.state,
                                SqlState::SerializationFailure | SqlState::DeadlockDetected
                            ) =>
                        {
                            let _ = s.execute("ROLLBACK");
                        }
                        Err(e) => panic!("child: {e}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn crash_child_entry() {
    if let Ok(dir) = std::env::var("PHANTOM_CRASH_CHILD") {
        child(Path::new(&dir));
    }
}

#[test]
fn sigkill_amid_concurrent_transactions_keeps_exactly_the_committed_ones() {
    let rounds: usize = std::env::var("PHANTOM_CRASH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1;
    eprintln!("seed {seed}");
    let mut acknowledged: BTreeSet<i64> = BTreeSet::new();
    for round in 0..rounds {
        let delay = Duration::from_millis(300 + xorshift(&mut seed) % 700);
        acknowledged.extend(run_child_until_killed(
            "crash_child_entry",
            "PHANTOM_CRASH_CHILD",
            dir.path(),
            delay,
        ));

        let db = Database::open(dir.path()).expect("reopen after SIGKILL");
        let mut s = db.session();
        let logged: BTreeSet<i64> = s
            .query("SELECT id FROM transfer")
            .expect("log")
            .rows
            .iter()
            .map(|r| r.get::<i64>(0).expect("id"))
            .collect();
        let lost: Vec<_> = acknowledged.difference(&logged).collect();
        assert!(lost.is_empty(), "round {round}: committed transfers lost: {lost:?}");
        assert_eq!(scalar(&mut s, "SELECT sum(balance) FROM acct"), ACCOUNTS * START, "round {round}");
        for account in 0..ACCOUNTS {
            let expected = START
                - scalar(
                    &mut s,
                    &format!("SELECT coalesce(sum(amount), 0) FROM transfer WHERE src = {account}"),
                )
                + scalar(
                    &mut s,
                    &format!("SELECT coalesce(sum(amount), 0) FROM transfer WHERE dst = {account}"),
                );
            let balance = scalar(&mut s, &format!("SELECT balance FROM acct WHERE id = {account}"));
            assert_eq!(balance, expected, "round {round}: account {account} disagrees with the log");
        }
        eprintln!("round {round}: {} transfers logged, {} acknowledged", logged.len(), acknowledged.len());
    }
    assert!(!acknowledged.is_empty(), "the child never committed anything");
}
