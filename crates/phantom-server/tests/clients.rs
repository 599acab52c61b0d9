//! Real PostgreSQL clients against the server: psql, pgbench and psycopg 3, as users run
//! them.
//!
//! The tools come from Debian's PostgreSQL 15 packages and PyPI; `scripts/install-pg-tools.sh`
//! installs whatever is missing the first time. If they cannot be installed the tests
//! fail and say why, unless `PHANTOM_SKIP_PG_CLIENTS=1` asks to skip them (for machines
//! without package access).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use phantom_server::Server;

/// Whether the client tools are usable; installs them once per test binary.
fn tools() -> Option<&'static Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    let tools = TOOLS.get_or_init(|| {
        if Tools::find().is_err() {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-pg-tools.sh");
            let out = Command::new("bash")
                .arg(&script)
                .output()
                .map_err(|e| format!("{}: {e}", script.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "{} failed:\n{}{}",
                    script.display(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Tools::find()
    });
    match tools {
        Ok(tools) => Some(tools),
        Err(why) if std::env::var_os("PHANTOM_SKIP_PG_CLIENTS").is_some() => {
            eprintln!("skipping the real-client tests (PHANTOM_SKIP_PG_CLIENTS is set): {why}");
            None
        }
        Err(why) => {
            panic!("PostgreSQL client tools are needed (set PHANTOM_SKIP_PG_CLIENTS=1 to skip): {why}")
        }
    }
}

struct Tools {
    psql: PathBuf,
    pgbench: PathBuf,
}

impl Tools {
    fn find() -> Result<Tools, String> {
        let pgbench = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|dir| {
                let mut found: Vec<PathBuf> =
                    dir.flatten().map(|e| e.path().join("bin/pgbench")).filter(|p| p.exists()).collect();
                found.sort();
                found.pop()
            })
            .ok_or("pgbench not found under /usr/lib/postgresql")?;
        let psql = pgbench.with_file_name("psql");
        if !psql.exists() {
            return Err(format!("{} not found", psql.display()));
        }
        let psycopg = Command::new("python3").args(["-c", "import psycopg"]).status();
        if !psycopg.is_ok_and(|s| s.success()) {
            return Err("python3 cannot import psycopg".into());
        }
        Ok(Tools { psql, pgbench })
    }
}

/// Runs a client program in a blocking thread (the server shares this runtime).
async fn run(program: &Path, args: Vec<String>) -> Output {
    let program = program.to_path_buf();
    tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .args(&args)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
    })
    .await
    .expect("client thread")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn connection(server: &Server) -> Vec<String> {
    let port = server.local_addr().port().to_string();
    ["-h", "127.0.0.1", "-p", &port, "-U", "phantom"].iter().map(|s| s.to_string()).collect()
}

/// Runs psql with one `-c` per command, as one session; returns its output.
async fn psql_commands(tools: &Tools, server: &Server, commands: &[&str]) -> String {
    let mut args = connection(server);
    args.extend(["-X", "-d", "phantom", "-v", "ON_ERROR_STOP=1"].map(String::from));
    for command in commands {
        args.extend(["-c".to_string(), command.to_string()]);
    }
    let out = run(&tools.psql, args).await;
    assert!(out.status.success(), "psql {commands:?} failed:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn psql(tools: &Tools, server: &Server, command: &str) -> String {
    psql_commands(tools, server, &[command]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_lists_and_describes_tables() {
    let Some(tools) = tools() else { return };
    let server = common::start().await;
    psql(
        tools,
        &server,
        "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL DEFAULT 'x'); \
         CREATE TABLE child (id INT PRIMARY KEY, parent_id INT REFERENCES parent (id), amount NUMERIC(10,2)); \
         CREATE INDEX child_parent ON child (parent_id)",
    )
    .await;

    let listing = psql(tools, &server, "\\dt").await;
    for expected in [
        "List of relations",
        " public | child  | table | phantom",
        " public | parent | table | phantom",
        "(2 rows)",
    ] {
        assert!(listing.contains(expected), "\\dt lacks {expected:?}:\n{listing}");
    }

    let described = psql(tools, &server, "\\d child").await;
    for expected in [
        "Table \"public.child\"",
        " id        | integer       |           | not null | ",
        " parent_id | integer       |           |          | ",
        " amount    | numeric(10,2) |           |          | ",
        "\"child_pkey\" PRIMARY KEY, btree (id)",
        "\"child_parent\" btree (parent_id)",
        "\"child_parent_id_fkey\" FOREIGN KEY (parent_id) REFERENCES parent(id)",
    ] {
        assert!(described.contains(expected), "\\d child lacks {expected:?}:\n{described}");
    }
    let parent = psql(tools, &server, "\\d parent").await;
    assert!(
        parent.contains(" name   | character varying(20) |           | not null | 'x'"),
        "\\d parent:\n{parent}"
    );
    assert!(parent.contains("TABLE \"child\" CONSTRAINT \"child_parent_id_fkey\""), "\\d parent:\n{parent}");

    let databases = psql(tools, &server, "\\l").await;
    assert!(databases.contains(" phantom "), "\\l:\n{databases}");
    // \timing is the client's own; the query result still comes through.
    let timed = psql_commands(tools, &server, &["\\timing on", "SELECT count(*) FROM parent"]).await;
    assert!(timed.contains("Timing is on.") && timed.contains("Time: "), "{timed}");
    server.shutdown().await.expect("shutdown");
}

/// psql's `\\dp` and `\\dn+` show owners and privileges in PostgreSQL's form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_shows_privileges() {
    let Some(tools) = tools() else { return };
    let server = common::start().await;
    psql(
        tools,
        &server,
        "CREATE ROLE alice; CREATE ROLE \"Bob Q\"; CREATE TABLE t (id INT); CREATE TABLE plain (n INT); \
         CREATE VIEW v AS SELECT id FROM t; CREATE SEQUENCE s; CREATE SCHEMA app AUTHORIZATION alice; \
         GRANT SELECT, INSERT ON t TO alice WITH GRANT OPTION; GRANT SELECT ON v TO PUBLIC; \
         GRANT USAGE ON SEQUENCE s TO \"Bob Q\"; GRANT USAGE ON SCHEMA app TO \"Bob Q\"",
    )
    .await;
    let dp = psql(tools, &server, "\\dp").await;
    for expected in [
        " public | plain | table    |                         |                   | ",
        " public | s     | sequence | phantom=rwU/phantom    +|                   | ",
        "        |       |          | \"Bob Q\"=U/phantom       |                   | ",
        " public | t     | table    | phantom=arwdDxt/phantom+|                   | ",
        "        |       |          | alice=a*r*/phantom      |                   | ",
        " public | v     | view     | phantom=arwdDxt/phantom+|                   | ",
        "        |       |          | =r/phantom              |                   | ",
        "(4 rows)",
    ] {
        assert!(dp.contains(expected), "\\dp lacks {expected:?}:\n{dp}");
    }
    let dn = psql(tools, &server, "\\dn+").await;
    for expected in [
        " app    | alice   | alice=UC/alice    +| ",
        "        |         | \"Bob Q\"=U/alice    | ",
        " public | phantom | phantom=UC/phantom+| ",
        "        |         | =U/phantom         | ",
    ] {
        assert!(dn.contains(expected), "\\dn+ lacks {expected:?}:\n{dn}");
    }
    server.shutdown().await.expect("shutdown");
}

/// With `FETCH_COUNT` psql runs a query through a cursor (`DECLARE _psql_cursor NO
/// SCROLL CURSOR FOR ...`, `FETCH FORWARD n FROM _psql_cursor` until the rows run out,
/// `CLOSE`), printing each page as it comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_fetch_count_pages_through_a_cursor() {
    let Some(tools) = tools() else { return };
    let server = common::start().await;
    let query = "SELECT i, i * 3 AS thrice, 'r' || i AS label FROM generate_series(1, 345) AS g(i)";
    let out = psql_commands(tools, &server, &["\\set FETCH_COUNT 100", query]).await;
    let rows: Vec<(i64, i64, String)> = out
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            match cells.as_slice() {
                [i, thrice, label] => Some((i.parse().ok()?, thrice.parse().ok()?, label.to_string())),
                _ => None,
            }
        })
        .collect();
    let expected: Vec<(i64, i64, String)> = (1..=345).map(|i| (i, i * 3, format!("r{i}"))).collect();
    assert_eq!(rows, expected, "{out}");
    assert!(out.contains("(345 rows)"), "{out}");
    assert_eq!(out.lines().filter(|l| l.contains("thrice")).count(), 1, "one header:\n{out}");
    // The cursor closed and psql's transaction ended: the session is usable as before.
    let after = psql_commands(
        tools,
        &server,
        &["\\set FETCH_COUNT 10", "SELECT count(*) FROM generate_series(1, 25)"],
    )
    .await;
    assert!(after.contains(" 25\n"), "{after}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_initializes_and_runs_without_failures() {
    let Some(tools) = tools() else { return };
    let server = common::start().await;
    let mut init = connection(&server);
    init.extend(["-i", "-s", "1", "-q", "phantom"].map(String::from));
    let out = run(&tools.pgbench, init).await;
    assert!(out.status.success(), "pgbench -i failed:\n{}", text(&out));

    let mut bench = connection(&server);
    bench.extend(["-c", "4", "-j", "2", "-T", "10", "phantom"].map(String::from));
    let out = run(&tools.pgbench, bench).await;
    let report = text(&out);
    assert!(out.status.success(), "pgbench run failed:\n{report}");
    assert!(report.contains("number of failed transactions: 0 (0.000%)"), "{report}");
    let processed: u64 = report
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|n| n.split('/').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no transaction count in:\n{report}"));
    assert!(processed > 0, "{report}");

    // The money adds up, and the history holds one row per transaction.
    let sums = psql(
        tools,
        &server,
        "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers), \
         (SELECT sum(bbalance) FROM pgbench_branches), (SELECT sum(delta) FROM pgbench_history), \
         (SELECT count(*) FROM pgbench_history)",
    )
    .await;
    let row = sums.lines().nth(2).unwrap_or_default();
    let values: Vec<i64> = row.split('|').map(|v| v.trim().parse().expect("number")).collect();
    assert_eq!(values.len(), 5, "{sums}");
    assert!(values[..4].iter().all(|&v| v == values[0]), "balances differ: {sums}");
    assert_eq!(values[4] as u64, processed, "history rows vs transactions: {sums}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_parameters_transactions_and_copy() {
    let Some(_) = tools() else { return };
    let server = common::start().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/psycopg_check.py");
    let args = vec![
        script.to_string_lossy().into_owned(),
        "127.0.0.1".into(),
        server.local_addr().port().to_string(),
    ];
    let out = run(Path::new("python3"), args).await;
    assert!(out.status.success(), "psycopg checks failed:\n{}", text(&out));
    assert!(text(&out).contains("all checks passed"), "{}", text(&out));
    server.shutdown().await.expect("shutdown");
}
