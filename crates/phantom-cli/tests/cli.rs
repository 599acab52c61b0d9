//! The `phantom` binary as a user runs it: pipes, `-c`, formats, exit codes, locking.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn phantom(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phantom"))
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn phantom");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait for phantom")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn piped_sql_prints_csv_and_the_rows_persist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    let sql = "CREATE TABLE t(a INT PRIMARY KEY, b TEXT);\nINSERT INTO t VALUES (1,'x'),(2,'y');\nSELECT b FROM t WHERE a = 2;\n";
    let out = phantom(&db, &["--format", "csv"], Some(sql));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "b\ny\n");

    let out = phantom(&db, &["--format", "csv", "-c", "SELECT a, b FROM t ORDER BY a"], None);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "a,b\n1,x\n2,y\n");
}

#[test]
fn a_syntax_error_exits_1_with_sqlstate_and_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = phantom(&dir.path().join("db"), &["-c", "SELEC 1"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("42601"), "{err}");
    assert!(err.contains("line 1, column 1"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_script_stops_at_the_first_error_and_names_its_input_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    let sql = "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1);\n\n  SELECT nope FROM t;\nINSERT INTO t VALUES (2);\n";
    let out = phantom(&db, &["--format", "csv"], Some(sql));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("42703"), "{err}");
    assert!(err.contains("line 4, column 10"), "{err}");
    let out = phantom(&db, &["--format", "csv", "-c", "SELECT a FROM t"], None);
    assert_eq!(stdout(&out), "a\n1\n", "the statement after the error must not run");
}

#[test]
fn statements_span_lines_and_semicolons_in_strings_do_not_split() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sql = "CREATE TABLE t (a INT,\n  b TEXT);\nINSERT INTO t\nVALUES (1, 'x;y'), -- a comment; with a semicolon\n(2, 'it''s');\nSELECT b\nFROM t\nORDER BY a";
    let out = phantom(&dir.path().join("db"), &["--format", "csv"], Some(sql));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "b\nx;y\nit's\n");
}

#[test]
fn repeated_c_arguments_run_in_order_with_json_output() {
    let out = phantom(
        Path::new(":memory:"),
        &[
            "--format",
            "json",
            "-c",
            "CREATE TABLE t (a INT PRIMARY KEY, b BOOLEAN, c DOUBLE PRECISION, d TEXT)",
            "-c",
            "INSERT INTO t VALUES (1, true, 1.5, NULL)",
            "-c",
            "SELECT * FROM t",
        ],
        None,
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "[{\"a\":1,\"b\":true,\"c\":1.5,\"d\":null}]\n");
}

#[test]
fn table_format_prints_tags_and_backslash_commands_describe_tables() {
    let out = phantom(
        Path::new(":memory:"),
        &[
            "-c",
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL DEFAULT 'none')",
            "-c",
            "\\d items",
            "-c",
            "\\dt",
        ],
        None,
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "CREATE TABLE",
        "Table \"items\"",
        "character varying(20)",
        "not null",
        "'none'",
        "Primary key: (id)",
        "items",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn unknown_backslash_commands_and_tables_are_errors() {
    let out = phantom(Path::new(":memory:"), &["-c", "\\frobnicate"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("\\?"), "{}", stderr(&out));
    let out = phantom(Path::new(":memory:"), &["-c", "\\d missing"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("42P01"), "{}", stderr(&out));
}

#[test]
fn a_second_process_gets_a_clear_error_on_a_locked_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    // The first process holds the directory open while it waits for stdin.
    let mut holder = Command::new(env!("CARGO_BIN_EXE_phantom"))
        .arg(&db)
        .args(["--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn holder");
    let mut holder_stdin = holder.stdin.take().expect("stdin");
    // Wait until it has opened the database: its answer to a query proves it.
    holder_stdin.write_all(b"SELECT 1 AS ready;\n").expect("write");
    holder_stdin.flush().expect("flush");
    let mut holder_stdout = holder.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("ready\n1\n") {
        let n = std::io::Read::read(&mut holder_stdout, &mut byte).expect("read");
        assert_eq!(n, 1, "holder exited early");
        seen.push(byte[0]);
    }

    let out = phantom(&db, &["-c", "SELECT 1"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("in use by another process"), "{err}");
    assert!(err.contains("55006"), "{err}");

    drop(holder_stdin);
    assert!(holder.wait().expect("holder").success());
    let out = phantom(&db, &["-c", "SELECT 1"], None);
    assert!(out.status.success(), "after the holder exits the directory opens: {}", stderr(&out));
}

/// A database killed with SIGKILL after `inserts` single-row commits into `t`, so they are
/// only in its log; returns the newest log segment.
fn crashed_with_commits(db: &Path, inserts: usize) -> std::path::PathBuf {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phantom"))
        .arg(db)
        .args(["--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn phantom");
    let mut input = child.stdin.take().expect("stdin");
    let mut sql = String::from("CREATE TABLE t (a INT PRIMARY KEY);\n");
    for i in 0..inserts {
        sql.push_str(&format!("INSERT INTO t VALUES ({i});\n"));
    }
    sql.push_str("SELECT 1 AS ready;\n");
    input.write_all(sql.as_bytes()).expect("write");
    input.flush().expect("flush");
    let mut output = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("ready\n1\n") {
        let n = std::io::Read::read(&mut output, &mut byte).expect("read");
        assert_eq!(n, 1, "phantom exited early");
        seen.push(byte[0]);
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let mut segments: Vec<_> = std::fs::read_dir(db.join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    segments.sort();
    segments.pop().expect("a segment")
}

#[test]
fn a_damaged_log_stops_the_open_until_salvage_wal_is_asked_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    let segment = crashed_with_commits(&db, 20);
    // Damage the payload of the 11th record (the table's creation is the first).
    let mut bytes = std::fs::read(&segment).expect("read");
    let mut pos = 0;
    for _ in 0..10 {
        pos += 17 + u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
    }
    bytes[pos + 18] ^= 0x20;
    std::fs::write(&segment, &bytes).expect("write");

    let out = phantom(&db, &["--format", "csv", "-c", "SELECT count(*) FROM t"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("XX001"), "{err}");
    assert!(err.contains(&*segment.file_name().expect("name").to_string_lossy()), "{err}");
    assert!(err.contains(&format!("offset {pos}")), "{err}");
    assert!(err.contains("--salvage-wal"), "{err}");
    assert_eq!(std::fs::read(&segment).expect("read"), bytes, "the segment is kept");

    let out = phantom(&db, &["--salvage-wal", "--format", "csv", "-c", "SELECT count(*) FROM t"], None);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "count\n9\n", "the commits before the damaged one");
    let err = stderr(&out);
    assert!(err.contains("warning") && err.contains("salvage") && err.contains("lost"), "{err}");

    let out = phantom(&db, &["--format", "csv", "-c", "SELECT count(*) FROM t"], None);
    assert!(out.status.success(), "after the salvage the log is whole: {}", stderr(&out));
    assert_eq!(stdout(&out), "count\n9\n");
    let help = Command::new(env!("CARGO_BIN_EXE_phantom")).args(["serve", "--help"]).output().expect("help");
    assert!(String::from_utf8_lossy(&help.stdout).contains("--salvage-wal"), "phantom serve takes it too");
}
