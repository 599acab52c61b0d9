//! Crash test for bulk transactions whose write sets spill to disk and commit in several
//! log records: a child process (this test binary, re-run with `PHANTOM_BULK_CHILD` set)
//! inserts batches of rows, each batch one transaction far beyond its spill threshold,
//! printing a batch's number only after its COMMIT returned. The parent kills it with
//! SIGKILL at a random moment, often while a commit is being logged, reopens the database
//! and checks that every acknowledged batch is there, and that every batch present is
//! complete: a commit interrupted between its parts leaves nothing behind.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{run_child_until_killed, scalar, xorshift};
use phantom::Database;

/// Rows per batch: with 500-byte rows a batch is about 4 MiB of writes, two log parts.
const ROWS: i64 = 8_000;

fn child(dir: &Path) {
    let db = Database::open(dir).expect("open");
    let mut s = db.session();
    let _ = s.execute("CREATE TABLE bulk (batch INT, n INT, pad TEXT, PRIMARY KEY (batch, n))");
    let _ = s.execute("CREATE TABLE done (batch INT PRIMARY KEY, rows INT)");
    s.execute("SET phantom.spill_threshold = 65536").expect("set");
    let mut batch = scalar(&mut s, "SELECT coalesce(max(batch), 0) FROM done") + 1;
    loop {
        s.execute("BEGIN").expect("begin");
        s.execute(&format!(
            "INSERT INTO bulk SELECT {batch}, g, repeat('x', 500) FROM generate_series(1, {ROWS}) AS g"
        ))
        .expect("insert");
        s.execute(&format!("INSERT INTO done VALUES ({batch}, {ROWS})")).expect("done");
        s.execute("COMMIT").expect("commit");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{batch}");
        let _ = out.flush();
        batch += 1;
    }
}

#[test]
fn bulk_child_entry() {
    if let Ok(dir) = std::env::var("PHANTOM_BULK_CHILD") {
        child(Path::new(&dir));
    }
}

#[test]
fn sigkill_amid_spilled_commits_keeps_whole_batches_only() {
    let rounds: usize = std::env::var("PHANTOM_CRASH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1;
    eprintln!("seed {seed}");
    let mut acknowledged: BTreeSet<i64> = BTreeSet::new();
    for round in 0..rounds {
        let delay = Duration::from_millis(800 + xorshift(&mut seed) % 1500);
        acknowledged.extend(run_child_until_killed(
            "bulk_child_entry",
            "PHANTOM_BULK_CHILD",
            dir.path(),
            delay,
        ));

        let db = Database::open(dir.path()).expect("reopen after SIGKILL");
        let mut s = db.session();
        let batches: BTreeSet<i64> = s
            .query("SELECT batch FROM done")
            .expect("done")
            .rows
            .iter()
            .map(|r| r.get::<i64>(0).expect("batch"))
            .collect();
        let lost: Vec<_> = acknowledged.difference(&batches).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged batches lost: {lost:?}");
        let partial = scalar(
            &mut s,
            &format!(
                "SELECT count(*) FROM (SELECT batch FROM bulk GROUP BY batch HAVING count(*) <> {ROWS}) AS p"
            ),
        );
        assert_eq!(partial, 0, "round {round}: a batch is there in part");
        let stray = scalar(&mut s, "SELECT count(*) FROM bulk WHERE batch NOT IN (SELECT batch FROM done)");
        assert_eq!(stray, 0, "round {round}: rows of a batch that never committed");
        assert_eq!(scalar(&mut s, "SELECT count(*) FROM bulk"), batches.len() as i64 * ROWS, "round {round}");
        let scratch = std::fs::read_dir(dir.path().join("tmp")).map_or(0, |d| d.count());
        assert_eq!(scratch, 0, "round {round}: scratch files survive a reopen");
        eprintln!("round {round}: {} batches, {} acknowledged", batches.len(), acknowledged.len());
    }
    assert!(!acknowledged.is_empty(), "the child never committed a batch");
}
