//! What one statement may hold in memory: `phantom.statement_mem` (issue 14, item 7).
//!
//! Every shape that materializes (sort, hash aggregate with many groups or long
//! `string_agg` strings, hash and nested-loop join build sides, DISTINCT, set operations,
//! recursive CTEs, subqueries, the collected result, SCROLL and WITH HOLD cursors) ends in
//! 53200 under a small budget, and the session goes on; huge IN lists and VALUES are
//! refused before parsing with 54000. With the default budget the same shapes at a
//! moderate size work. `PHANTOM_MEASURE_MEMORY=1` prints what parsing costs per token
//! (how `phantom_sql::parse_cost::TOKEN_BYTES` was chosen).

mod common;

use common::{scalar, sqlstate};
use phantom::{Column, Database, Output, Row, RowSink, Session};

/// A small budget: each refused statement stops after a few megabytes.
const SMALL: &str = "SET phantom.statement_mem = '4MB'";

fn session() -> (Database, Session) {
    let db = Database::memory();
    let session = db.session();
    (db, session)
}

/// `x IN (1, 2, ..., n)` over one row.
fn in_list(n: usize) -> String {
    let items: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    format!("SELECT count(*) FROM (VALUES (1)) AS t(x) WHERE x IN ({})", items.join(","))
}

/// `VALUES (i, 'name i', i.5), ...` of `n` rows.
fn values_rows(n: usize) -> String {
    (1..=n).map(|i| format!("({i}, 'name {i}', {i}.5)")).collect::<Vec<_>>().join(", ")
}

/// The statements that materialize, each far past 4 MB at its size and each refused
/// after a few megabytes, with what the error's DETAIL names.
const MATERIALIZING: &[(&str, &str)] = &[
    ("SELECT g, 'row ' || g FROM generate_series(1, 1000000) g ORDER BY g DESC LIMIT 1", "in sort"),
    (
        "SELECT length(string_agg(repeat('x', 100) || g, ',')) FROM generate_series(1, 1000000) g",
        "in hash aggregate",
    ),
    (
        "SELECT count(*) FROM (SELECT g, count(*) FROM generate_series(1, 1000000) g GROUP BY g) s",
        "in hash aggregate",
    ),
    ("SELECT count(DISTINCT g) FROM generate_series(1, 1000000) g", "in hash aggregate"),
    (
        "SELECT count(*) FROM generate_series(1, 10) a(x) JOIN generate_series(1, 1000000) b(y) ON a.x = b.y",
        "in hash join",
    ),
    (
        "SELECT count(*) FROM generate_series(1, 3) a(x) JOIN generate_series(1, 1000000) b(y) ON a.x > b.y",
        "in nested loop join",
    ),
    ("SELECT count(*) FROM (SELECT DISTINCT g FROM generate_series(1, 1000000) g) s", "in DISTINCT"),
    (
        "SELECT count(*) FROM (SELECT g FROM generate_series(1, 1000000) g \
         UNION SELECT g FROM generate_series(1, 1000000) g) s",
        "in UNION",
    ),
    (
        "SELECT count(*) FROM (SELECT g FROM generate_series(1, 10) g \
         INTERSECT SELECT g FROM generate_series(1, 1000000) g) s",
        "in INTERSECT",
    ),
    (
        "SELECT count(*) FROM (SELECT g FROM generate_series(1, 10) g \
         EXCEPT SELECT g FROM generate_series(1, 1000000) g) s",
        "in EXCEPT",
    ),
    (
        "WITH RECURSIVE r(n, pad) AS (SELECT 1, repeat('x', 1000) UNION ALL \
         SELECT n + 1, pad FROM r WHERE n < 100000) SELECT count(*) FROM r",
        "in recursive query",
    ),
    (
        "WITH c AS MATERIALIZED (SELECT g FROM generate_series(1, 1000000) g ORDER BY g DESC) \
         SELECT count(*) FROM c",
        "in sort",
    ),
    (
        "SELECT count(*) FROM (VALUES (1)) AS t(x) WHERE x IN (SELECT g FROM generate_series(1, 1000000) g)",
        "in subquery",
    ),
];

/// The same statements at a size the default budget holds.
fn moderate(sql: &str) -> String {
    sql.replace("1000000", "50000").replace("100000", "1000")
}

#[test]
fn every_materializing_shape_ends_in_53200_and_the_session_goes_on() {
    let (_db, mut s) = session();
    s.execute(SMALL).expect("set");
    for (sql, operator) in MATERIALIZING {
        let e = s.execute(sql).expect_err(sql);
        assert_eq!(e.sqlstate(), "53200", "{sql}: {e}");
        assert_eq!(e.message, "out of memory", "{sql}");
        let detail = e.detail.clone().unwrap_or_default();
        assert!(
            detail.contains(operator) && detail.contains("phantom.statement_mem is 4MB"),
            "{sql}: {detail}"
        );
        assert_eq!(scalar(&mut s, "SELECT 41 + 1"), 42, "the session works after {sql}");
    }
}

#[test]
fn with_the_default_budget_the_same_shapes_work_at_a_moderate_size() {
    let (_db, mut s) = session();
    assert_eq!(s.setting("phantom.statement_mem").as_deref(), Some("256MB"));
    for (sql, _) in MATERIALIZING {
        let sql = moderate(sql);
        s.execute(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    assert_eq!(
        scalar(
            &mut s,
            "SELECT count(*) FROM generate_series(1, 3) a(x) JOIN generate_series(1, 50000) b(y) ON a.x = b.y"
        ),
        3
    );
    assert_eq!(scalar(&mut s, &in_list(50_000).replace("(1)) AS t", "(49999)) AS t")), 1);
}

#[test]
fn huge_in_lists_and_values_are_refused_before_parsing() {
    let (_db, mut s) = session();
    // At their full sizes, with the default budget.
    for sql in [in_list(1_000_000), format!("SELECT count(*) FROM (VALUES {}) v", values_rows(100_000))] {
        let e = s.execute(&sql).expect_err("too large");
        assert_eq!(e.sqlstate(), "54000", "{e}");
        assert_eq!(e.message, "statement is too large");
        assert!(e.detail.clone().unwrap_or_default().contains("phantom.statement_mem is 256MB"), "{e:?}");
        assert_eq!(scalar(&mut s, "SELECT 1"), 1);
    }
    // In a block the refusal fails the block, as a syntax error does.
    s.execute("BEGIN").expect("begin");
    assert_eq!(sqlstate(&mut s, &in_list(1_000_000)), "54000");
    assert_eq!(sqlstate(&mut s, "SELECT 1"), "25P02");
    s.execute("ROLLBACK").expect("rollback");
    // Prepared statements are parsed under the same estimate.
    assert_eq!(
        s.prepare(&in_list(1_000_000)).err().map(|e| e.sqlstate().to_string()).as_deref(),
        Some("54000")
    );
    // A small budget refuses much smaller lists.
    s.execute(SMALL).expect("set");
    assert_eq!(sqlstate(&mut s, &in_list(20_000)), "54000");
    s.execute("RESET phantom.statement_mem").expect("reset");
    assert_eq!(scalar(&mut s, &in_list(20_000)), 1);
}

#[test]
fn a_10000_row_insert_works_with_the_default_budget() {
    let (_db, mut s) = session();
    s.execute("CREATE TABLE t (id INT PRIMARY KEY, name TEXT, price NUMERIC)").expect("create");
    let insert = format!("INSERT INTO t VALUES {}", values_rows(10_000));
    assert!(insert.len() > 200_000, "the text is large enough to be counted in pieces");
    s.execute(&insert).expect("insert");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM t"), 10_000);
    // A long literal counts by its bytes, not as tokens: 4 MB of text in one value.
    s.execute(&format!("INSERT INTO t VALUES (0, '{}', 0)", "x".repeat(4 << 20))).expect("long literal");
    assert_eq!(scalar(&mut s, "SELECT length(name) FROM t WHERE id = 0"), 4 << 20);
}

#[test]
fn the_budget_is_per_statement() {
    let (_db, mut s) = session();
    s.execute(SMALL).expect("set");
    // Each sort holds about 2-3 MB: one at a time fits, again and again in one block...
    let sort = "SELECT g FROM generate_series(1, 10000) g ORDER BY g DESC LIMIT 1";
    s.execute("BEGIN").expect("begin");
    for _ in 0..5 {
        assert_eq!(scalar(&mut s, sort), 10000);
    }
    s.execute("COMMIT").expect("commit");
    // ...but two held at once in one statement do not.
    let both = "SELECT count(*) FROM ((SELECT g FROM generate_series(1, 10000) g ORDER BY g DESC) \
                UNION ALL (SELECT g FROM generate_series(1, 10000) g ORDER BY g DESC)) s";
    assert_eq!(sqlstate(&mut s, both), "53200", "{both}");
    assert_eq!(scalar(&mut s, sort), 10000, "released after the failed statement");
    // A SET earlier in the same text counts for the statements after it.
    s.execute("RESET phantom.statement_mem").expect("reset");
    let big = "SELECT g FROM generate_series(1, 100000) g ORDER BY g DESC LIMIT 1";
    assert!(s.execute(big).is_ok());
    let e = s.execute(&format!("SET phantom.statement_mem = '4MB'; {big}")).expect_err("small now");
    assert_eq!(e.sqlstate(), "53200");
    // No limit at all.
    s.execute("SET phantom.statement_mem = -1").expect("unlimited");
    assert_eq!(s.setting("phantom.statement_mem").as_deref(), Some("-1"));
    assert_eq!(scalar(&mut s, &in_list(20_000)), 1);
}

#[test]
fn the_setting_takes_postgres_units() {
    let (_db, mut s) = session();
    for (set, shown) in
        [("'64MB'", "64MB"), ("'1GB'", "1GB"), ("65536", "64MB"), ("'512kB'", "512kB"), ("-1", "-1")]
    {
        s.execute(&format!("SET phantom.statement_mem = {set}")).expect(set);
        assert_eq!(s.setting("phantom.statement_mem").as_deref(), Some(shown), "{set}");
        let rows = s.query("SHOW phantom.statement_mem").expect("show");
        assert_eq!(rows.rows[0].get::<String>(0).ok().as_deref(), Some(shown));
    }
    assert_eq!(sqlstate(&mut s, "SET phantom.statement_mem = '10kB'"), "22023");
    assert_eq!(sqlstate(&mut s, "SET phantom.statement_mem = 'plenty'"), "22023");
    s.execute("RESET phantom.statement_mem").expect("reset");
    assert_eq!(s.setting("phantom.statement_mem").as_deref(), Some("256MB"));
    // SET LOCAL lasts for the block.
    s.execute("BEGIN; SET LOCAL phantom.statement_mem = '4MB'").expect("local");
    assert_eq!(sqlstate(&mut s, MATERIALIZING[0].0), "53200");
    s.execute("ROLLBACK").expect("rollback");
    assert!(s.execute(&moderate(MATERIALIZING[0].0)).is_ok());
}

/// Counts rows without keeping them.
#[derive(Default)]
struct Count(u64);

impl RowSink for Count {
    fn columns(&mut self, _: &[Column]) -> phantom::Result<()> {
        Ok(())
    }
    fn row(&mut self, _: Row) -> phantom::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

#[test]
fn collected_results_are_charged_and_streamed_ones_are_not() {
    let (_db, mut s) = session();
    s.execute(SMALL).expect("set");
    let wide = "SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g";
    assert_eq!(sqlstate(&mut s, wide), "53200", "Session::execute holds every row");
    assert_eq!(s.query(wide).err().map(|e| e.sqlstate().to_string()).as_deref(), Some("53200"));
    let mut count = Count::default();
    s.execute_into(wide, &mut count).expect("streamed rows are not held");
    assert_eq!(count.0, 100_000);
    let statement = s.prepare(wide).expect("prepare");
    assert_eq!(
        s.execute_prepared(&statement, &[]).err().map(|e| e.sqlstate().to_string()).as_deref(),
        Some("53200")
    );
    let mut count = Count::default();
    s.execute_prepared_into(&statement, &[], &mut count).expect("streamed");
    assert_eq!(count.0, 100_000);
}

#[test]
fn cursors_that_keep_rows_are_charged() {
    let (_db, mut s) = session();
    s.execute(SMALL).expect("set");
    let query = "SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g";
    // NO SCROLL keeps nothing: every row can be fetched (into a sink that drops them).
    s.execute(&format!("BEGIN; DECLARE c CURSOR FOR {query}")).expect("declare");
    let mut count = Count::default();
    s.execute_into("FETCH ALL FROM c", &mut count).expect("fetch");
    assert_eq!(count.0, 100_000);
    s.execute("COMMIT").expect("commit");
    // SCROLL keeps what it read.
    s.execute(&format!("BEGIN; DECLARE c SCROLL CURSOR FOR {query}")).expect("declare");
    let e = s.execute_into("FETCH ALL FROM c", &mut Count::default()).expect_err("kept");
    assert_eq!(e.sqlstate(), "53200");
    assert!(e.detail.clone().unwrap_or_default().contains("in cursor"), "{e:?}");
    s.execute("ROLLBACK").expect("rollback");
    // WITH HOLD keeps the rest at COMMIT, which then fails and rolls back.
    s.execute(&format!("BEGIN; DECLARE h CURSOR WITH HOLD FOR {query}")).expect("declare");
    assert_eq!(sqlstate(&mut s, "COMMIT"), "53200");
    assert!(!s.in_transaction());
    assert_eq!(sqlstate(&mut s, "FETCH h"), "34000");
    // Small ones work.
    s.execute("BEGIN; DECLARE k SCROLL CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 1000) g")
        .expect("declare");
    s.execute("COMMIT").expect("commit");
    let Output::Fetched(rows) = s.execute("FETCH LAST FROM k").expect("fetch") else { panic!("rows") };
    assert_eq!(rows.rows[0].get::<i64>(0).ok(), Some(1000));
}

/// Peak resident memory since the last reset (Linux: `VmHWM`, reset through
/// `/proc/self/clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: 0 kB");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<usize>().ok()).unwrap_or(0) * 1024
}

fn current_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<usize>().ok()).unwrap_or(0) * 1024
}

/// `PHANTOM_MEASURE_MEMORY=1 cargo test -p phantom --test memory measure -- --nocapture`:
/// how much memory parsing, planning and running each shape takes per token, beside the
/// estimate the session reserves for it. Each shape runs in a process of its own (this
/// test binary again, with the shape's number in the variable), so memory freed by one
/// cannot hide what the next takes.
#[test]
fn measure_parse_memory_per_token() {
    let Some(which) = std::env::var_os("PHANTOM_MEASURE_MEMORY") else { return };
    let list = |n: usize, sep: &str| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(sep);
    let shapes = [
        (
            "IN list, no spaces",
            format!("SELECT count(*) FROM (VALUES (1)) AS t(x) WHERE x IN ({})", list(300_000, ",")),
        ),
        (
            "IN list, spaces",
            format!("SELECT count(*) FROM (VALUES (1)) AS t(x) WHERE x IN ({})", list(300_000, ", ")),
        ),
        (
            "IN list of strings",
            format!("SELECT count(*) FROM (VALUES ('1')) AS t(x) WHERE x IN ('{}')", list(200_000, "','")),
        ),
        ("VALUES rows", format!("SELECT count(*) FROM (VALUES {}) v", values_rows(50_000))),
        ("VALUES one column", format!("SELECT count(*) FROM (VALUES ({})) v", list(200_000, "),("))),
        ("INSERT rows", format!("INSERT INTO t VALUES {}", values_rows(50_000))),
        ("INSERT one column", format!("INSERT INTO u VALUES ({})", list(200_000, "),("))),
        ("long literal", format!("SELECT length('{}')", "x".repeat((16 << 20) - 100))),
    ];
    let Ok(index) = which.to_string_lossy().parse::<usize>() else {
        for i in 0..shapes.len() {
            let out = std::process::Command::new(std::env::current_exe().expect("exe"))
                .args(["--exact", "measure_parse_memory_per_token", "--nocapture", "--test-threads=1"])
                .env("PHANTOM_MEASURE_MEMORY", i.to_string())
                .output()
                .expect("child");
            let text = String::from_utf8_lossy(&out.stdout);
            for line in text.lines().filter_map(|l| l.find("shape ").map(|at| &l[at..])) {
                println!("{line}");
            }
        }
        return;
    };
    let (name, sql) = &shapes[index];
    let (_db, mut s) = session();
    s.execute("SET phantom.statement_mem = -1").expect("unlimited");
    s.execute("CREATE TABLE t (id INT PRIMARY KEY, name TEXT, price NUMERIC); CREATE TABLE u (i INT)")
        .expect("create");
    let tokens = phantom_sql::parse_cost::count_tokens(sql, phantom_sql::parse_cost::CHUNK);
    let estimate = phantom_sql::parse_cost::memory_estimate(sql);
    let before = current_bytes();
    reset_peak();
    s.execute(sql).unwrap_or_else(|e| panic!("{name}: {e}"));
    let used = peak_bytes().saturating_sub(before);
    println!(
        "shape {name}: {} bytes, {tokens} tokens, peak +{} MB = {} B/token; estimate {} MB ({:.2}x)",
        sql.len(),
        used >> 20,
        used / tokens.max(1),
        estimate >> 20,
        estimate as f64 / used.max(1) as f64
    );
}
