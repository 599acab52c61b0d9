//! Scratch: runs each argument as SQL against an in-memory database and prints the result.
fn main() {
    let db = phantom::Database::memory();
    let mut s = db.session();
    for sql in std::env::args().skip(1) {
        let (stmts, _rest) = phantom::split_statements(&sql);
        for stmt in stmts {
            match s.execute(&stmt) {
                Ok(rows) => println!("{rows:?}"),
                Err(e) => println!("ERROR: {e}"),
            }
        }
    }
}
