//! No input makes the database panic: random token soup and mutated valid statements go
//! through parse, bind, plan and execute, and each must end in a result or an error.

use phantom::Database;
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "HAVING",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "DISTINCT",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "CREATE",
    "TABLE",
    "DROP",
    "PRIMARY",
    "KEY",
    "NOT",
    "NULL",
    "DEFAULT",
    "AND",
    "OR",
    "IS",
    "IN",
    "BETWEEN",
    "LIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "JOIN",
    "ON",
    "CROSS",
    "INNER",
    "AS",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "CAST",
    "INT",
    "BIGINT",
    "SMALLINT",
    "TEXT",
    "VARCHAR",
    "CHAR",
    "REAL",
    "DOUBLE",
    "PRECISION",
    "BOOLEAN",
    "TRUE",
    "FALSE",
    "t",
    "u",
    "a",
    "b",
    "c",
    "*",
    "(",
    ")",
    ",",
    ";",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<>",
    "<",
    ">=",
    "||",
    "0",
    "1",
    "-1",
    "2147483648",
    "9223372036854775807",
    "1e308",
    "0.5",
    "99999999999999999999999999999999999999.9",
    ".000000000000000000000000000000000000001",
    "NUMERIC",
    "NUMERIC(5,2)",
    "ROUND",
    "/",
    "%",
    "'x'",
    "''",
    "'%'",
    "$1",
    "(SELECT",
    "EXPLAIN",
    "::",
    "NULLIF",
    "COALESCE",
    "ABS",
    "ESCAPE",
    "EXISTS",
    "ANY",
    "ALL",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "WITH",
    "RECURSIVE",
    "VIEW",
    "ALTER",
    "ADD",
    "COLUMN",
    "RENAME",
    "TO",
    "TRUNCATE",
    "SAVEPOINT",
    "RELEASE",
    "ISOLATION",
    "LEVEL",
    "SERIALIZABLE",
    "FOR",
    "SHARE",
    "VACUUM",
    "PREPARE",
    "EXECUTE",
    "FILTER",
    "x'00'",
];

fn soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS), 1..25).prop_map(|t| t.join(" "))
}

const VALID: &[&str] = &[
    "SELECT a, b FROM t WHERE a > 1 ORDER BY b DESC LIMIT 2",
    "SELECT COUNT(*), SUM(a), AVG(a), MIN(b), MAX(b) FROM t GROUP BY c HAVING COUNT(*) > 0",
    "INSERT INTO t (a, b, c) VALUES (10, 'z', 1.5), (11, NULL, -2)",
    "UPDATE t SET b = b || 'x', c = c * 2 WHERE a BETWEEN 1 AND 3",
    "DELETE FROM t WHERE b LIKE 'x%' OR c IS NULL",
    "SELECT DISTINCT t.a, u.d FROM t JOIN u ON t.a = u.a WHERE u.d <> 'q'",
    "SELECT CASE WHEN a % 2 = 0 THEN 'even' ELSE 'odd' END AS p FROM t CROSS JOIN u",
    "SELECT a / (a - 1), CAST(c AS INT), -a FROM t",
    "SELECT a, (SELECT COUNT(*) FROM u WHERE u.a < t.a) FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a)",
    "SELECT a FROM t WHERE a NOT IN (SELECT a FROM u) OR a > ALL (SELECT a FROM u WHERE a IS NOT NULL)",
    "SELECT a FROM t UNION SELECT a FROM u INTERSECT SELECT 1 EXCEPT SELECT 2 ORDER BY 1",
    "WITH RECURSIVE r (x) AS (SELECT 1 UNION SELECT (x + 1) % 5 FROM r WHERE x < 9) SELECT SUM(x) FROM r",
    "CREATE VIEW v AS SELECT a, COUNT(*) FILTER (WHERE c > 1) AS n FROM t GROUP BY a",
    "ALTER TABLE u ADD COLUMN e INT DEFAULT 7, RENAME COLUMN d TO dd",
    "BEGIN ISOLATION LEVEL SERIALIZABLE; SAVEPOINT s; UPDATE t SET c = 0; ROLLBACK TO s; COMMIT",
    "SELECT a FROM t WHERE a = 1 FOR UPDATE",
    "SELECT ROUND(c::NUMERIC(10,2) / 3.0, 4), SUM(a * 1.25) % 0.7, AVG(c::NUMERIC) FROM t GROUP BY a",
];

/// A valid statement with a random byte range cut out or duplicated.
fn mutated() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(VALID),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(sql, i, j, duplicate)| {
            let bytes = sql.as_bytes();
            let (mut x, mut y) = (i.index(bytes.len()), j.index(bytes.len()));
            if x > y {
                std::mem::swap(&mut x, &mut y);
            }
            let mut out = bytes[..x].to_vec();
            if duplicate {
                out.extend_from_slice(&bytes[x..y]);
                out.extend_from_slice(&bytes[x..]);
            } else {
                out.extend_from_slice(&bytes[y..]);
            }
            String::from_utf8_lossy(&out).into_owned()
        })
}

fn database() -> (Database, phantom::Session) {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE t (a INT PRIMARY KEY, b TEXT, c DOUBLE PRECISION)").expect("create t");
    s.execute("CREATE TABLE u (a INT, d VARCHAR(5))").expect("create u");
    s.execute("INSERT INTO t VALUES (1, 'x', 1.0), (2, 'xy', NULL), (3, NULL, 3.5)").expect("insert t");
    s.execute("INSERT INTO u VALUES (1, 'p'), (2, 'q'), (NULL, NULL)").expect("insert u");
    (db, s)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn token_soup_never_panics(sql in soup()) {
        let (_db, mut s) = database();
        let _ = s.execute(&sql);
        // The session is still usable afterwards.
        let _ = s.execute("ROLLBACK");
        prop_assert!(s.execute("SELECT COUNT(*) FROM t").is_ok());
    }

    #[test]
    fn mutated_statements_never_panic(sql in mutated()) {
        let (_db, mut s) = database();
        let _ = s.execute(&sql);
        let _ = s.execute("ROLLBACK");
        prop_assert!(s.execute("SELECT COUNT(*) FROM t").is_ok());
    }
}
