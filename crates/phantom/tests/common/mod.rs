//! Helpers the integration tests share: run a statement and take its answer, or its
//! error's SQLSTATE, panicking with the statement when it is not what the test expects.

#![allow(dead_code)]

use phantom::Session;

/// The first column of the first row, as an integer.
pub fn scalar(session: &mut Session, sql: &str) -> i64 {
    let rows = session.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.rows[0].get(0).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The first column of every row, as text.
pub fn texts(session: &mut Session, sql: &str) -> Vec<String> {
    let rows = session.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.rows.iter().map(|r| r.get::<String>(0).unwrap_or_else(|e| panic!("{sql}: {e}"))).collect()
}

/// The SQLSTATE of the error `sql` must fail with.
pub fn sqlstate(session: &mut Session, sql: &str) -> String {
    match session.execute(sql) {
        Ok(_) => panic!("{sql}: expected an error"),
        Err(e) => e.sqlstate().to_string(),
    }
}

/// Runs this test binary again as a child that executes only the test `entry` with
/// `env_var` set to `dir` (the child's cue to do its work instead of returning), kills it
/// with SIGKILL after `delay`, and returns the numbers it printed one per line on stdout
/// before dying: what it had confirmed as committed.
pub fn run_child_until_killed(
    entry: &str,
    env_var: &str,
    dir: &std::path::Path,
    delay: std::time::Duration,
) -> Vec<i64> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", entry, "--nocapture", "--test-threads", "1"])
        .env(env_var, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.trim().parse::<i64>().ok())
            .collect::<Vec<_>>()
    });
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    reader.join().expect("reader")
}

/// The next number of a xorshift sequence (test timing jitter, not cryptography).
pub fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}
