//! The embedded cursor API: rows fetched a page at a time inside a transaction block.

use phantom::{Database, Rows, SqlState, Value};

#[test]
fn a_cursor_fetches_pages_and_lives_only_in_its_block() {
    let db = Database::memory();
    let mut s = db.session();
    let query = s.prepare("SELECT g, g * 10 FROM generate_series(1, $1) g").expect("prepare");
    // Outside a block there is no transaction to keep the rows in.
    let e = s.open_cursor(&query, &[Value::Int(5)]).err().expect("no block");
    assert_eq!(e.state, SqlState::NoActiveSqlTransaction);

    s.execute("BEGIN").expect("begin");
    let mut cursor = s.open_cursor(&query, &[Value::Int(5)]).expect("open").expect("a query");
    let mut page = Rows::default();
    assert_eq!(s.fetch(&mut cursor, Some(2), &mut page).expect("fetch"), 2);
    assert!(!cursor.is_done());
    assert_eq!(page.columns.len(), 2);
    let mut rest = Rows::default();
    assert_eq!(s.fetch(&mut cursor, None, &mut rest).expect("fetch"), 3);
    assert!(cursor.is_done());
    let firsts: Vec<i32> = page.rows.iter().chain(&rest.rows).map(|r| r.get(0).expect("int")).collect();
    assert_eq!((firsts, cursor.fetched()), (vec![1, 2, 3, 4, 5], 5));

    // Not a query: run it whole instead.
    let insert = s.prepare("SET search_path TO public").expect("prepare");
    assert!(s.open_cursor(&insert, &[]).expect("not a query").is_none());

    let mut cursor = s.open_cursor(&query, &[Value::Int(5)]).expect("open").expect("a query");
    s.execute("COMMIT").expect("commit");
    s.execute("BEGIN").expect("begin");
    let e = s.fetch(&mut cursor, Some(1), &mut Rows::default()).expect_err("transaction over");
    assert_eq!(e.state, SqlState::InvalidCursorName);
}

#[test]
fn an_error_while_fetching_fails_the_block() {
    let db = Database::memory();
    let mut s = db.session();
    let query = s.prepare("SELECT 1 / (3 - g) FROM generate_series(1, 5) g").expect("prepare");
    s.execute("BEGIN").expect("begin");
    let mut cursor = s.open_cursor(&query, &[]).expect("open").expect("a query");
    assert_eq!(s.fetch(&mut cursor, Some(2), &mut Rows::default()).expect("two rows"), 2);
    let e = s.fetch(&mut cursor, Some(2), &mut Rows::default()).expect_err("division by zero");
    assert_eq!(e.state, SqlState::DivisionByZero);
    assert!(s.transaction_failed());
    let e = s.fetch(&mut cursor, Some(2), &mut Rows::default()).expect_err("failed block");
    assert_eq!(e.state, SqlState::InFailedSqlTransaction);
}

/// The (int, int) rows a FETCH returned.
fn fetched(s: &mut phantom::Session, sql: &str) -> Vec<(i64, i64)> {
    let rows = match s.execute(sql).expect(sql) {
        phantom::Output::Fetched(rows) | phantom::Output::Rows(rows) => rows,
        other => panic!("{sql}: {other:?}"),
    };
    rows.rows.iter().map(|r| (r.get(0).expect("a"), r.get(1).expect("b"))).collect()
}

#[test]
fn a_cursor_keeps_its_view_for_reads_it_starts_late() {
    // The correlated subquery reads `i` again for every row of `o`, each time a FETCH
    // reaches that row. It must see `i` as it was when the cursor was declared: not the
    // block's later INSERT, not another session's later commit (READ COMMITTED), and not
    // lose a row another session deleted and vacuumed away meanwhile.
    let db = Database::memory();
    let mut s = db.session();
    let mut other = db.session();
    s.execute("CREATE TABLE o (v INT)").expect("create");
    s.execute("CREATE TABLE i (v INT)").expect("create");
    s.execute("INSERT INTO o VALUES (1), (2), (3), (4)").expect("insert");
    s.execute("INSERT INTO i VALUES (1), (2), (3), (4)").expect("insert");
    s.execute("BEGIN ISOLATION LEVEL READ COMMITTED").expect("begin");
    s.execute("DECLARE c CURSOR FOR SELECT o.v, (SELECT count(*) FROM i WHERE i.v <= o.v) FROM o")
        .expect("declare");
    assert_eq!(fetched(&mut s, "FETCH 1 FROM c"), vec![(1, 1)]);
    s.execute("INSERT INTO i VALUES (0)").expect("the block writes");
    other.execute("INSERT INTO i VALUES (-1)").expect("another session commits");
    other.execute("DELETE FROM i WHERE v = 4").expect("another session deletes");
    other.execute("VACUUM").expect("and vacuums");
    // The block's own statements see all of it ...
    assert_eq!(fetched(&mut s, "SELECT count(*), 0 FROM i"), vec![(5, 0)]);
    // ... the cursor none of it.
    assert_eq!(fetched(&mut s, "FETCH ALL FROM c"), vec![(2, 2), (3, 3), (4, 4)]);
    s.execute("COMMIT").expect("commit");
}
