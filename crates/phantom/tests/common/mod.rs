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
