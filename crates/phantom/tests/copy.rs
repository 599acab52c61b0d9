//! The embedded side of COPY: `Session::copy_in` (bulk insert), the COPY text/CSV
//! decoder feeding it, and `execute_into` streaming rows to a sink.

mod common;

use common::scalar;
use phantom::copy::format::{Decoder, Encoder};
use phantom::copy::{CopyDirection, CopyStatement};
use phantom::{Column, Database, Row, RowSink, SqlState, Value};

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn copy_in_casts_text_fills_defaults_and_commits_on_finish() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(5), at DATE, n INT DEFAULT 42)")
        .expect("create");
    let mut copy = s.copy_in("t", &["id".into(), "name".into(), "at".into()]).expect("copy_in");
    let names: Vec<String> = copy.columns().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["id", "name", "at"]);
    copy.write(vec![text("1"), text("ab"), text("2024-02-29")]).expect("row 1");
    copy.write(vec![Value::Int(2), Value::Null, Value::Null]).expect("row 2");
    assert_eq!(copy.finish().expect("finish"), 2);
    let rows = s.query("SELECT id, name, at, n FROM t ORDER BY id").expect("select");
    assert_eq!(rows.rows[0].values(), [Value::Int(1), text("ab"), rows.rows[0][2].clone(), Value::Int(42)]);
    assert_eq!(rows.rows[0][2].to_string(), "2024-02-29");
    assert_eq!(rows.rows[1][1], Value::Null);
}

#[test]
fn a_bad_row_rolls_back_the_whole_copy() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)").expect("create");
    let mut copy = s.copy_in("t", &[]).expect("copy_in");
    copy.write(vec![text("1"), text("10")]).expect("row 1");
    let err = copy.write(vec![text("2"), text("ten")]).expect_err("not an integer");
    assert_eq!(err.state, SqlState::InvalidTextRepresentation);
    let err = copy.write(vec![text("3"), text("30")]).expect_err("copy is over");
    assert_eq!(err.state, SqlState::InFailedSqlTransaction);
    drop(copy);
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM t"), 0);

    // Dropping an unfinished copy (the client gave up) also rolls back.
    let mut copy = s.copy_in("t", &[]).expect("copy_in");
    copy.write(vec![text("1"), text("10")]).expect("row");
    drop(copy);
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM t"), 0);

    let mut copy = s.copy_in("t", &[]).expect("copy_in");
    copy.write(vec![text("1"), text("10")]).expect("row");
    let err = copy.write(vec![text("1"), text("11")]).expect_err("duplicate key");
    assert_eq!(err.state, SqlState::UniqueViolation);
    drop(copy);
    let err =
        s.copy_in("t", &[]).and_then(|mut c| c.write(vec![text("1"), Value::Null])).expect_err("not null");
    assert_eq!(err.state, SqlState::NotNullViolation);
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM t"), 0);
}

#[test]
fn inside_a_block_the_copy_is_one_of_its_statements() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE t (a INT)").expect("create");
    s.execute("BEGIN").expect("begin");
    s.execute("INSERT INTO t VALUES (0)").expect("insert");
    let mut copy = s.copy_in("t", &[]).expect("copy_in");
    copy.write(vec![text("1")]).expect("row");
    assert_eq!(copy.finish().expect("finish"), 1);
    assert!(s.in_transaction());
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM t"), 2);
    s.execute("ROLLBACK").expect("rollback");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM t"), 0);

    s.execute("BEGIN").expect("begin");
    let mut copy = s.copy_in("t", &[]).expect("copy_in");
    copy.write(vec![text("x")]).expect_err("bad row");
    drop(copy);
    assert!(s.transaction_failed(), "a failed copy fails the block");
    s.execute("ROLLBACK").expect("rollback");
}

#[test]
fn copy_in_reports_unknown_tables_and_columns_like_insert() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE t (a INT)").expect("create");
    let err = s.copy_in("nope", &[]).err().expect("no table");
    assert_eq!(err.state, SqlState::UndefinedTable);
    let err = s.copy_in("t", &["b".into()]).err().expect("no column");
    assert_eq!(err.state, SqlState::UndefinedColumn);
    let err = s.copy_in("t", &["a".into(), "a".into()]).err().expect("twice");
    assert_eq!(err.state, SqlState::DuplicateColumn);
    s.execute("BEGIN READ ONLY").expect("begin");
    let err = s.copy_in("t", &[]).err().expect("read only");
    assert_eq!(err.state, SqlState::ReadOnlySqlTransaction);
}

#[test]
fn a_copy_statement_round_trips_through_the_text_format() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE src (id INT PRIMARY KEY, t TEXT, r REAL)").expect("create");
    s.execute("INSERT INTO src VALUES (1, E'tab\there', 0.1), (2, NULL, -2.5), (3, 'back\\slash', NULL)")
        .expect("insert");
    s.execute("CREATE TABLE dst (id INT PRIMARY KEY, t TEXT, r REAL)").expect("create");

    let out = CopyStatement::parse("COPY src TO STDOUT").expect("parse").expect("copy");
    assert_eq!(out.direction, CopyDirection::To);
    // COPY TO: stream the query's rows through the encoder.
    struct Lines {
        encoder: Option<Encoder>,
        options: phantom::copy::CopyOptions,
        out: Vec<u8>,
    }
    impl RowSink for Lines {
        fn columns(&mut self, columns: &[Column]) -> phantom::Result<()> {
            self.encoder = Some(Encoder::new(&self.options, columns.iter().map(|c| c.data_type).collect()));
            Ok(())
        }
        fn row(&mut self, row: Row) -> phantom::Result<()> {
            if let Some(e) = &self.encoder {
                e.row(row.values(), &mut self.out);
            }
            Ok(())
        }
    }
    let mut lines = Lines { encoder: None, options: out.options.clone(), out: Vec::new() };
    s.execute_into(&out.query(), &mut lines).expect("copy out");
    assert_eq!(
        String::from_utf8_lossy(&lines.out),
        "1\ttab\\there\t0.1\n2\t\\N\t-2.5\n3\tback\\\\slash\t\\N\n"
    );

    // COPY FROM: decode the same text, a few bytes at a time, into the other table.
    let into = CopyStatement::parse("COPY dst FROM STDIN").expect("parse").expect("copy");
    let mut copy = s.copy_in("dst", &[]).expect("copy_in");
    let names = copy.columns().into_iter().map(|c| c.name).collect();
    let mut decoder = Decoder::new(&into.options, names);
    for piece in lines.out.chunks(3) {
        decoder.feed(piece);
        while let Some(record) = decoder.next_record().expect("decode") {
            copy.write(record).expect("write");
        }
    }
    assert!(decoder.finish().expect("finish").is_none());
    assert_eq!(copy.finish().expect("commit"), 3);
    let a = s.query("SELECT * FROM src ORDER BY id").expect("src");
    let b = s.query("SELECT * FROM dst ORDER BY id").expect("dst");
    assert_eq!(a.rows, b.rows);
}

#[test]
fn execute_into_streams_rows_and_prepared_statements_describe_their_columns() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute("CREATE TABLE t (a INT, b TEXT)").expect("create");
    s.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')").expect("insert");
    let mut got = phantom::Rows::default();
    let output = s.execute_into("SELECT b, a FROM t ORDER BY a", &mut got).expect("stream");
    assert_eq!(output.into_rows().map(|r| r.rows.len()), Some(0), "the rows went to the sink");
    assert_eq!(got.rows.len(), 2);
    assert_eq!(got.columns[0].name, "b");

    let st = s.prepare("SELECT a + 1 AS next FROM t WHERE b = $1").expect("prepare");
    assert_eq!(st.parameter_types(), [phantom::DataType::Text]);
    let columns = st.columns().expect("a query has columns");
    assert_eq!((columns[0].name.as_str(), columns[0].data_type), ("next", phantom::DataType::Integer));
    let st = s.prepare("UPDATE t SET a = $1 WHERE b = $2").expect("prepare");
    assert_eq!(st.parameter_types(), [phantom::DataType::Integer, phantom::DataType::Text]);
    assert!(st.columns().is_none());
    let st = s.prepare("SHOW transaction_isolation").expect("prepare");
    assert_eq!(st.columns().map(|c| c[0].name.clone()), Some("transaction_isolation".into()));
    let mut got = phantom::Rows::default();
    s.execute_prepared_into(&st, &[], &mut got).expect("show");
    assert_eq!(got.rows.len(), 1);
}
