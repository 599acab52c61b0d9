//! NUMERIC through the embedded API: reading values as Rust types, parameters, exact
//! aggregates over random data checked against integer arithmetic, and NUMERIC keys and
//! indexes that keep their values (and display scales) across a restart.

use phantom::{Database, Decimal, SqlState, Value};
use proptest::prelude::*;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn values_read_as_strings_floats_integers_and_decimals() {
    let db = Database::memory();
    let mut session = db.session();
    let rows = session
        .query("SELECT 1.50 AS a, 10 / 4::numeric AS b, sum(v) AS s FROM (VALUES (9223372036854775807), (1)) t(v)")
        .expect("query");
    let row = &rows.rows[0];
    assert_eq!(rows.columns[0].data_type.to_string(), "numeric");
    assert_eq!(row.get::<String>(0).expect("string"), "1.50");
    assert_eq!(row.get::<f64>(0).expect("f64"), 1.5);
    assert_eq!(row.get::<Decimal>(0).expect("decimal").scale(), 2);
    assert_eq!(row.get::<String>(1).expect("string"), "2.5000000000000000");
    // sum(bigint) is NUMERIC, as in PostgreSQL: past i64, so not readable as one.
    assert_eq!(row.get::<String>(2).expect("string"), "9223372036854775808");
    assert_eq!(row.get::<i64>(2).expect_err("past i64").state, SqlState::DatatypeMismatch);
    assert_eq!(row.get::<i64>(0).expect_err("fraction").state, SqlState::DatatypeMismatch);

    let rows = session.query("SELECT sum(v) FROM (VALUES (1::bigint), (2)) t(v)").expect("query");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("whole"), 3);
    assert_eq!(rows.rows[0].get::<i32>(0).expect("whole"), 3);
}

#[test]
fn types_are_named_as_postgres_names_them() {
    let db = Database::memory();
    let mut session = db.session();
    session
        .execute("CREATE TABLE d (a NUMERIC, b NUMERIC(10,2), c DECIMAL(5), e DEC(38, 38))")
        .expect("create");
    let described = session.describe("d").expect("describe");
    let types: Vec<String> = described.columns.iter().map(|c| c.data_type.to_string()).collect();
    assert_eq!(types, ["numeric", "numeric(10,2)", "numeric(5,0)", "numeric(38,38)"]);
    let rows = session.query("SELECT b * 2, b::numeric(4,1) FROM d").expect("query");
    let types: Vec<String> = rows.columns.iter().map(|c| c.data_type.to_string()).collect();
    assert_eq!(types, ["numeric", "numeric(4,1)"]);
    let err = session.execute("CREATE TABLE bad (x NUMERIC(0))").expect_err("precision");
    assert_eq!(err.state, SqlState::InvalidParameterValue);
}

#[test]
fn parameters_take_numeric_values_and_the_columns_typmod() {
    let db = Database::memory();
    let mut session = db.session();
    session.execute("CREATE TABLE t (id INT PRIMARY KEY, amount NUMERIC(8,2))").expect("create");
    let insert = session.prepare("INSERT INTO t VALUES ($1, $2)").expect("prepare");
    for (id, amount) in [
        (1, Value::Numeric(dec("1.005"))),
        (2, Value::Int(7)),
        (3, Value::Float(0.1)),
        (4, Value::Text("2.50".into())),
        (5, Value::Null),
    ] {
        session.execute_prepared(&insert, &[Value::Int(id), amount]).expect("insert");
    }
    let err = session
        .execute_prepared(&insert, &[Value::Int(6), Value::Numeric(dec("1234567"))])
        .expect_err("overflow");
    assert_eq!(err.state, SqlState::NumericValueOutOfRange);
    let err =
        session.execute_prepared(&insert, &[Value::Int(6), Value::Text("x".into())]).expect_err("syntax");
    assert_eq!(err.state, SqlState::InvalidTextRepresentation);

    let rows = session.query("SELECT amount FROM t ORDER BY id").expect("select");
    let shown: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(shown, ["1.01", "7.00", "0.10", "2.50", "NULL"]);

    let find = session.prepare("SELECT id FROM t WHERE amount = $1").expect("prepare");
    let rows = session.query_prepared(&find, &[Value::Numeric(dec("2.5"))]).expect("find");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("id"), 4);
    let rows = session.query_prepared(&find, &[Value::Int(7)]).expect("find");
    assert_eq!(rows.rows[0].get::<i64>(0).expect("id"), 2);
}

#[test]
fn numeric_keys_and_indexes_survive_a_restart_with_their_scales() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open(dir.path()).expect("open");
        let mut session = db.session();
        session.execute("CREATE TABLE k (n NUMERIC PRIMARY KEY, m NUMERIC(6,3), note TEXT)").expect("create");
        session.execute("CREATE INDEX k_m ON k (m)").expect("index");
        session
            .execute("INSERT INTO k VALUES (1.50, 2, 'a'), (-0.001, 2.0005, 'b'), (100, -1.5, 'c'), (0.0, NULL, 'd')")
            .expect("insert");
        let err = session.execute("INSERT INTO k VALUES (1.5000, 0, 'dup')").expect_err("duplicate");
        assert_eq!(err.state, SqlState::UniqueViolation);
    }
    let db = Database::open(dir.path()).expect("reopen");
    let mut session = db.session();
    let rows = session.query("SELECT n, m, note FROM k ORDER BY n").expect("select");
    let shown: Vec<String> = rows.iter().map(|r| format!("{} {} {}", r[0], r[1], r[2])).collect();
    assert_eq!(shown, ["-0.001 2.001 b", "0.0 NULL d", "1.50 2.000 a", "100 -1.500 c"]);
    let rows = session.query("SELECT note FROM k WHERE n = 1.5").expect("lookup");
    assert_eq!(rows.rows[0].get::<String>(0).expect("note"), "a");
    let rows = session.query("SELECT note FROM k WHERE m = 2 ORDER BY note").expect("index");
    assert_eq!(rows.len(), 1);
    let rows = session.query("SELECT note FROM k WHERE m > 0 ORDER BY m").expect("index range");
    let notes: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(notes, ["a", "b"]);
}

/// Cents as the decimal text PostgreSQL would print at scale 2.
fn cents_text(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.unsigned_abs() / 100, c.unsigned_abs() % 100)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Sums, ordering, grouping and index lookups over random amounts agree with exact
    /// integer arithmetic on cents.
    #[test]
    fn aggregates_and_lookups_are_exact(
        amounts in proptest::collection::vec(-1_000_000_000i64..1_000_000_000, 1..40),
        probe in -1_000_000_000i64..1_000_000_000,
    ) {
        let db = Database::memory();
        let mut session = db.session();
        session.execute("CREATE TABLE m (id INT PRIMARY KEY, amount NUMERIC(12,2), grp INT)").expect("create");
        let values: Vec<String> = amounts
            .iter()
            .enumerate()
            .map(|(i, c)| format!("({i}, {}, {})", cents_text(*c), c.rem_euclid(3)))
            .collect();
        session.execute(&format!("INSERT INTO m VALUES {}", values.join(", "))).expect("insert");

        let sum: i64 = amounts.iter().sum();
        let rows = session.query("SELECT sum(amount), min(amount), max(amount), count(DISTINCT amount) FROM m").expect("sum");
        prop_assert_eq!(rows.rows[0][0].to_string(), cents_text(sum));
        prop_assert_eq!(rows.rows[0][1].to_string(), cents_text(*amounts.iter().min().expect("rows")));
        prop_assert_eq!(rows.rows[0][2].to_string(), cents_text(*amounts.iter().max().expect("rows")));
        let mut distinct = amounts.clone();
        distinct.sort_unstable();
        distinct.dedup();
        prop_assert_eq!(rows.rows[0].get::<i64>(3).expect("count"), distinct.len() as i64);

        // avg: the exact mean, rounded to the division's scale.
        let rows = session.query("SELECT avg(amount) FROM m").expect("avg");
        let avg = rows.rows[0].get::<Decimal>(0).expect("avg");
        let expected = dec(&cents_text(sum)).checked_div(Decimal::from(amounts.len() as i64)).expect("divide");
        prop_assert_eq!(avg, expected);

        let rows = session.query("SELECT amount FROM m ORDER BY amount, id").expect("order");
        let ordered: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
        let mut sorted = amounts.clone();
        sorted.sort_unstable();
        prop_assert_eq!(ordered, sorted.iter().map(|c| cents_text(*c)).collect::<Vec<_>>());

        let rows = session.query("SELECT grp, sum(amount) FROM m GROUP BY grp ORDER BY grp").expect("group");
        for row in &rows.rows {
            let g = row.get::<i64>(0).expect("grp");
            let s: i64 = amounts.iter().filter(|c| c.rem_euclid(3) == g).sum();
            prop_assert_eq!(row[1].to_string(), cents_text(s));
        }

        // The same answers with and without an index on the amount.
        let probe = cents_text(probe);
        let query = format!("SELECT id FROM m WHERE amount >= {probe} ORDER BY id");
        let before = session.query(&query).expect("scan");
        session.execute("CREATE INDEX m_amount ON m (amount)").expect("index");
        let after = session.query(&query).expect("index scan");
        prop_assert_eq!(before.rows, after.rows);
    }
}
