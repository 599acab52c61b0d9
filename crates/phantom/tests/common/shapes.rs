//! Statements that nest as deeply as one asks: the shapes that used to overflow the
//! stack (issue 14, item 6). Each takes a size `n` (terms, tables, levels) and needs the
//! one-row table `t (a INT)` that [`SETUP`] makes. The server tests include this file too.

#![allow(dead_code)]

/// The table every shape reads.
pub const SETUP: &str = "CREATE TABLE t (a INT); INSERT INTO t VALUES (1)";

/// A named statement generator.
pub struct Shape {
    pub name: &'static str,
    pub sql: fn(usize) -> String,
}

fn chain(n: usize, op: &str) -> String {
    vec!["SELECT a FROM t"; n].join(&format!(" {op} "))
}

fn join_chain(n: usize) -> String {
    let mut sql = "SELECT count(*) FROM t t0".to_string();
    for i in 1..n {
        sql.push_str(&format!(" JOIN t t{i} ON t{}.a = t{i}.a", i - 1));
    }
    sql
}

fn comma_join(n: usize) -> String {
    let tables: Vec<String> = (0..n).map(|i| format!("t t{i}")).collect();
    format!("SELECT count(*) FROM {}", tables.join(", "))
}

fn cte_chain(n: usize) -> String {
    let mut ctes = vec!["c0 AS (SELECT a FROM t)".to_string()];
    ctes.extend((1..n).map(|i| format!("c{i} AS (SELECT a + 1 AS a FROM c{})", i - 1)));
    format!("WITH {} SELECT a FROM c{}", ctes.join(", "), n - 1)
}

fn nested_from(n: usize) -> String {
    let mut sql = "SELECT a FROM t".to_string();
    for i in 0..n {
        sql = format!("SELECT a FROM ({sql}) s{i}");
    }
    sql
}

fn nested_scalar(n: usize) -> String {
    let mut sql = "SELECT a FROM t".to_string();
    for _ in 0..n {
        sql = format!("SELECT ({sql})");
    }
    sql
}

fn parentheses(n: usize) -> String {
    format!("SELECT {}a{} FROM t", "(".repeat(n), ")".repeat(n))
}

fn sum(n: usize) -> String {
    format!("SELECT {} FROM t", vec!["a"; n].join(" + "))
}

fn conjunction(n: usize) -> String {
    let terms: Vec<String> = (0..n).map(|i| format!("a <> {i}")).collect();
    format!("SELECT count(*) FROM t WHERE {}", terms.join(" AND "))
}

fn negations(n: usize) -> String {
    format!("SELECT {}true", "NOT ".repeat(n))
}

fn casts(n: usize) -> String {
    format!("SELECT a{} FROM t", "::int".repeat(n))
}

/// Every shape but the chain of views, which is built by several statements (see
/// [`view_chain`]).
pub const SHAPES: &[Shape] = &[
    Shape { name: "UNION ALL chain", sql: |n| chain(n, "UNION ALL") },
    Shape { name: "UNION chain", sql: |n| chain(n, "UNION") },
    Shape { name: "INTERSECT chain", sql: |n| chain(n, "INTERSECT") },
    Shape { name: "EXCEPT chain", sql: |n| chain(n, "EXCEPT") },
    Shape { name: "JOIN chain", sql: join_chain },
    Shape { name: "comma join", sql: comma_join },
    Shape { name: "CTE chain", sql: cte_chain },
    Shape { name: "nested FROM subqueries", sql: nested_from },
    Shape { name: "nested scalar subqueries", sql: nested_scalar },
    Shape { name: "nested parentheses", sql: parentheses },
    Shape { name: "a + a + ...", sql: sum },
    Shape { name: "AND chain", sql: conjunction },
    Shape { name: "NOT NOT ...", sql: negations },
    Shape { name: "a::int::int ...", sql: casts },
];

/// The statements that add views `v{from}` .. `v{to - 1}` to a chain, each reading the
/// one before (`v0` reads `t`).
pub fn view_chain(from: usize, to: usize) -> Vec<String> {
    (from..to)
        .map(|i| match i {
            0 => "CREATE VIEW v0 AS SELECT a FROM t".to_string(),
            i => format!("CREATE VIEW v{i} AS SELECT a FROM v{}", i - 1),
        })
        .collect()
}

/// What psql's `\dt` asks, and any `pg_class` query: it binds every view.
pub const PG_CLASS: &str = "SELECT count(*) FROM pg_class";
