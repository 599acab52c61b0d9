//! Portals fetched a page at a time (Execute with a row limit): pages in order, a huge
//! result not materialized, counts, errors mid-stream, and the portal's life ending with
//! its transaction.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, bind_body, connect, execute_body, kinds, parse_body, start, status, tags};
use tokio_postgres::error::SqlState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_come_in_order_and_cover_the_result() {
    let server = start().await;
    let mut client = connect(&server).await;
    let txn = client.transaction().await.expect("begin");
    let portal =
        txn.bind("SELECT g, g * 2 FROM generate_series(1, $1) g", &[&25_000i32]).await.expect("bind");
    let mut next = 1i32;
    let mut pages = 0;
    loop {
        let page = txn.query_portal(&portal, 1000).await.expect("fetch");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 1000);
        for row in &page {
            assert_eq!((row.get::<_, i32>(0), row.get::<_, i32>(1)), (next, next * 2));
            next += 1;
        }
        pages += 1;
    }
    assert_eq!((next - 1, pages), (25_000, 25));
    // Statements of the block still run between and after pages.
    let portal = txn.bind("SELECT g FROM generate_series(1, 10) g", &[]).await.expect("bind");
    let first = txn.query_portal(&portal, 3).await.expect("page");
    let count: i64 =
        txn.query_one("SELECT count(*) FROM generate_series(1, 7)", &[]).await.expect("q").get(0);
    let second = txn.query_portal(&portal, 3).await.expect("page");
    assert_eq!(count, 7);
    let values = |rows: &[tokio_postgres::Row]| rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>();
    assert_eq!((values(&first), values(&second)), (vec![1, 2, 3], vec![4, 5, 6]));
    txn.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_page_of_a_huge_result_comes_without_computing_the_rest() {
    let server = start().await;
    let mut client = connect(&server).await;
    let txn = client.transaction().await.expect("begin");
    let started = Instant::now();
    let portal = txn.bind("SELECT g FROM generate_series(1, 100000000) g", &[]).await.expect("bind");
    let page = txn.query_portal(&portal, 10).await.expect("fetch");
    let page2 = txn.query_portal(&portal, 10).await.expect("fetch");
    // 10^8 rows would take minutes (and gigabytes if buffered); two pages take
    // milliseconds.
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let values: Vec<i32> = page.iter().chain(&page2).map(|r| r.get(0)).collect();
    assert_eq!(values, (1..=20).collect::<Vec<_>>());
    // Closing the portal early drops the rest.
    drop(portal);
    txn.rollback().await.expect("rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_execute_reports_its_own_count_and_an_exact_last_page_completes_next() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.send(b'P', &parse_body("", "SELECT g FROM generate_series(1, 5) g", &[])).await;
    raw.send(b'B', &bind_body("", "", &[], None)).await;
    for _ in 0..4 {
        raw.send(b'E', &execute_body("", 2)).await;
    }
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    // As PostgreSQL 15 answers: two pages suspended, the last row with its own count,
    // then SELECT 0 for an Execute of the finished portal.
    assert_eq!(kinds(&out), "12DDsDDsDCCZ", "{out:?}");
    assert_eq!(tags(&out), ["SELECT 1", "SELECT 0"]);
    assert_eq!(status(&out), 'I');

    // Exactly two pages: the second is still suspended, the next Execute says SELECT 0.
    raw.send(b'P', &parse_body("", "SELECT g FROM generate_series(1, 4) g", &[])).await;
    raw.send(b'B', &bind_body("", "", &[], None)).await;
    for _ in 0..3 {
        raw.send(b'E', &execute_body("", 2)).await;
    }
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(kinds(&out), "12DDsDDsCZ", "{out:?}");
    assert_eq!(tags(&out), ["SELECT 0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unnamed_portal_of_an_implicit_transaction_dies_at_sync() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.send(b'P', &parse_body("", "SELECT g FROM generate_series(1, 1000000000) g", &[])).await;
    raw.send(b'B', &bind_body("", "", &[], None)).await;
    raw.send(b'E', &execute_body("", 3)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(kinds(&out), "12DDDsZ", "{out:?}");
    assert_eq!(status(&out), 'I', "the implicit transaction ended at Sync");
    raw.send(b'E', &execute_body("", 3)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    let error = out.iter().find(|m| m.kind == b'E').expect("error");
    assert_eq!(error.field(b'C').as_deref(), Some("34000"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_a_later_page_fails_the_block() {
    let server = start().await;
    let mut client = connect(&server).await;
    let txn = client.transaction().await.expect("begin");
    let portal = txn.bind("SELECT 10 / (5 - g) FROM generate_series(1, 10) g", &[]).await.expect("bind");
    let first = txn.query_portal(&portal, 3).await.expect("first page");
    assert_eq!(first.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>(), [2, 3, 5]);
    let err = txn.query_portal(&portal, 3).await.expect_err("row 5 divides by zero");
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO));
    let err = txn.query_portal(&portal, 3).await.expect_err("failed block");
    assert_eq!(err.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    let err = txn.query_one("SELECT 1", &[]).await.expect_err("failed block");
    assert_eq!(err.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    txn.rollback().await.expect("rollback");
    let row = client.query_one("SELECT 1", &[]).await.expect("after rollback");
    assert_eq!(row.get::<_, i32>(0), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_portal_ends_with_its_block() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.query("BEGIN").await;
    raw.send(b'P', &parse_body("", "SELECT g FROM generate_series(1, 10) g", &[])).await;
    raw.send(b'B', &bind_body("p", "", &[], None)).await;
    raw.send(b'E', &execute_body("p", 4)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!((kinds(&out).as_str(), status(&out)), ("12DDDDsZ", 'T'), "{out:?}");
    // It survives the Sync inside the block ...
    raw.send(b'E', &execute_body("p", 4)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(kinds(&out), "DDDDsZ", "{out:?}");
    // ... but not the COMMIT.
    raw.query("COMMIT").await;
    raw.send(b'E', &execute_body("p", 4)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    let error = out.iter().find(|m| m.kind == b'E').expect("error");
    assert_eq!(error.field(b'C').as_deref(), Some("34000"), "{out:?}");
}

/// SQL cursors through both protocols: a FETCH prepared with Parse describes the
/// cursor's columns, its tag is `FETCH n` (and `MOVE n`), a huge NO SCROLL cursor is
/// paged without computing the rest, and errors carry PostgreSQL's SQLSTATEs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_cursors_describe_their_columns_and_tag_their_fetches() {
    let server = start().await;
    let mut client = connect(&server).await;
    let txn = client.transaction().await.expect("begin");
    let started = Instant::now();
    txn.batch_execute(
        "DECLARE big CURSOR FOR SELECT g AS n, 'x' || g AS label FROM generate_series(1, 100000000) g",
    )
    .await
    .expect("declare");
    let fetch = txn.prepare("FETCH FORWARD 3 FROM big").await.expect("prepare");
    let names: Vec<&str> = fetch.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["n", "label"]);
    let rows = txn.query(&fetch, &[]).await.expect("fetch");
    let again = txn.query(&fetch, &[]).await.expect("fetch");
    let values: Vec<(i32, String)> = rows.iter().chain(&again).map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(values, (1..=6).map(|i| (i, format!("x{i}"))).collect::<Vec<_>>());
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let messages = txn.simple_query("MOVE 4 FROM big; FETCH 2 FROM big").await.expect("simple");
    let counts: Vec<u64> = messages
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(counts, [4, 2]);
    let error = txn.simple_query("FETCH PRIOR FROM big").await.expect_err("no scroll");
    assert_eq!(error.code(), Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE));
    txn.rollback().await.expect("rollback");
    let error = client.simple_query("FETCH NEXT FROM big").await.expect_err("closed");
    assert_eq!(error.code(), Some(&SqlState::INVALID_CURSOR_NAME));
    let error = client.simple_query("DECLARE c CURSOR FOR SELECT 1").await.expect_err("outside a block");
    assert_eq!(error.code(), Some(&SqlState::NO_ACTIVE_SQL_TRANSACTION));

    // The raw protocol shows the tags themselves.
    let mut raw = Raw::connect(&server).await;
    raw.query("BEGIN").await;
    raw.query("DECLARE c SCROLL CURSOR FOR VALUES (1), (2), (3)").await;
    let replies = raw.query("FETCH 2 FROM c; MOVE LAST IN c; FETCH BACKWARD ALL FROM c").await;
    assert_eq!(tags(&replies), ["FETCH 2", "MOVE 1", "FETCH 2"]);
}
