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
