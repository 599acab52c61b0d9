//! No query may kill the server (issue 14): statements nested past the limit end in 54001
//! over the wire, the connection goes on, and the server still takes new connections.

mod common;
#[path = "../../phantom/tests/common/shapes.rs"]
mod shapes;

use common::{connect, start};
use shapes::{PG_CLASS, SETUP, SHAPES, view_chain};
use tokio_postgres::error::SqlState;

/// Every nesting shape, well past the limit (a UNION of 1,226 terms used to abort the
/// process and drop every session), fails with 54001 through the simple and the extended
/// protocol; the same connection and a new one still work; a moderate size runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_deep_statements_end_in_54001_and_the_server_stays_up() {
    let server = start().await;
    let client = connect(&server).await;
    client.batch_execute(SETUP).await.expect("setup");
    for shape in SHAPES {
        client.simple_query(&(shape.sql)(50)).await.unwrap_or_else(|e| panic!("{} of 50: {e}", shape.name));
        let sql = (shape.sql)(3000);
        let simple = client.simple_query(&sql).await.expect_err("too deep");
        assert_eq!(simple.code(), Some(&SqlState::STATEMENT_TOO_COMPLEX), "{}: {simple}", shape.name);
        let extended = client.prepare(&sql).await.expect_err("too deep");
        assert_eq!(extended.code(), Some(&SqlState::STATEMENT_TOO_COMPLEX), "{}: {extended}", shape.name);
        let row = client.query_one("SELECT 1 + 1", &[]).await.expect("the connection goes on");
        assert_eq!(row.get::<_, i32>(0), 2);
    }
    // A chain of views (kept short by a lowered limit), then pg_class, which binds them.
    client.batch_execute("SET phantom.max_depth = 60").await.expect("set");
    let mut created = 0;
    loop {
        match client.batch_execute(&view_chain(created, created + 1)[0]).await {
            Ok(()) => created += 1,
            Err(e) => {
                assert_eq!(e.code(), Some(&SqlState::STATEMENT_TOO_COMPLEX), "view {created}: {e}");
                break;
            }
        }
        assert!(created < 60, "still creating views at {created}");
    }
    let second = connect(&server).await;
    second.batch_execute("SET phantom.max_depth = 20").await.expect("set");
    let row = second.query_one(PG_CLASS, &[]).await.expect("pg_class answers");
    assert_eq!(row.get::<_, i64>(0), created as i64 + 1);
    let deep = format!("SELECT a FROM v{}", created - 1);
    let err = second.query_one(&deep, &[]).await.expect_err("deeper than this session's limit");
    assert_eq!(err.code(), Some(&SqlState::STATEMENT_TOO_COMPLEX), "{err}");
    let row = client.query_one(&deep, &[]).await.expect("within the first session's limit");
    assert_eq!(row.get::<_, i32>(0), 1);
}

/// `statement_timeout` over the wire: a long query fails with 57014 and the connection
/// goes on. `idle_in_transaction_session_timeout`: a block left idle ends the connection
/// with FATAL 25P03, as in PostgreSQL, its work is rolled back, and the server stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_over_the_wire() {
    let server = start().await;
    let client = connect(&server).await;
    client.batch_execute("CREATE TABLE t (a INT); SET statement_timeout = '100ms'").await.expect("setup");
    let long = "SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b";
    let err = client.simple_query(long).await.expect_err("past the timeout");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err}");
    assert_eq!(err.as_db_error().map(|e| e.message()), Some("canceling statement due to statement timeout"));
    let row = client.query_one("SELECT 1 + 1", &[]).await.expect("the connection goes on");
    assert_eq!(row.get::<_, i32>(0), 2);

    // A raw client, to see the FATAL the server sends on its own before it closes.
    let mut raw = common::Raw::connect(&server).await;
    raw.query("SET idle_in_transaction_session_timeout = '200ms'; BEGIN; INSERT INTO t VALUES (1)").await;
    let fatal = raw.read().await.expect("an ErrorResponse, unasked");
    assert_eq!(fatal.kind, b'E');
    assert_eq!(fatal.field(b'C').as_deref(), Some("25P03"));
    assert_eq!(fatal.field(b'S').as_deref(), Some("FATAL"));
    assert_eq!(
        fatal.field(b'M').as_deref(),
        Some("terminating connection due to idle-in-transaction timeout")
    );
    assert!(raw.read().await.is_none(), "the connection is closed");
    let other = connect(&server).await;
    let row = other.query_one("SELECT count(*) FROM t", &[]).await.expect("the server is up");
    assert_eq!(row.get::<_, i64>(0), 0, "the idle block was rolled back");
}

/// `phantom.statement_mem` over the wire (issue 14, item 7): a statement that would hold
/// more fails with 53200 through both protocols, a huge IN list with 54000 before it is
/// parsed, and the connection goes on; rows streamed to the client are not held, so a
/// large result still arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limits_over_the_wire() {
    let server = start().await;
    let client = connect(&server).await;
    client.batch_execute("SET phantom.statement_mem = '4MB'").await.expect("set");
    let sort = "SELECT g FROM generate_series(1, 1000000) g ORDER BY g DESC LIMIT 1";
    let simple = client.simple_query(sort).await.expect_err("too much");
    assert_eq!(simple.code(), Some(&SqlState::OUT_OF_MEMORY), "{simple}");
    let db = simple.as_db_error().expect("a server error");
    assert!(db.detail().unwrap_or_default().contains("in sort"), "{db:?}");
    let extended = client.query(sort, &[]).await.expect_err("too much");
    assert_eq!(extended.code(), Some(&SqlState::OUT_OF_MEMORY), "{extended}");
    let list: Vec<String> = (1..=1_000_000).map(|i| i.to_string()).collect();
    let in_list = format!("SELECT 1 WHERE 1 IN ({})", list.join(","));
    let large = client.simple_query(&in_list).await.expect_err("too large");
    assert_eq!(large.code(), Some(&SqlState::PROGRAM_LIMIT_EXCEEDED), "{large}");
    let row = client.query_one("SELECT 1 + 1", &[]).await.expect("the connection goes on");
    assert_eq!(row.get::<_, i32>(0), 2);
    let rows = client
        .query("SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g", &[])
        .await
        .expect("streamed rows are not held");
    assert_eq!(rows.len(), 100_000);
    // Inside a block the error fails the block, and ROLLBACK brings it back.
    client.batch_execute("BEGIN").await.expect("begin");
    assert!(client.simple_query(sort).await.is_err());
    let failed = client.simple_query("SELECT 1").await.expect_err("failed block");
    assert_eq!(failed.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    client.batch_execute("ROLLBACK").await.expect("rollback");
    client.batch_execute("RESET phantom.statement_mem").await.expect("reset");
    let row = client.query_one(&sort.replace("1000000", "100000"), &[]).await.expect("fits the default");
    assert_eq!(row.get::<_, i32>(0), 100_000);
}
