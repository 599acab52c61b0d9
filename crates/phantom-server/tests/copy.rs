//! COPY FROM STDIN and COPY TO STDOUT over both protocols, text and CSV.

mod common;

use bytes::Bytes;
use common::{Raw, connect, kinds, start, status, tags};
use futures::{SinkExt, StreamExt, pin_mut};
use tokio_postgres::Client;

async fn copy_out(client: &Client, sql: &str) -> String {
    let stream = client.copy_out(sql).await.expect("copy out");
    pin_mut!(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    String::from_utf8(out).expect("utf8")
}

async fn copy_in(client: &Client, sql: &str, pieces: &[&str]) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    pin_mut!(sink);
    for piece in pieces {
        sink.send(Bytes::copy_from_slice(piece.as_bytes())).await?;
    }
    sink.finish().await
}

async fn count(client: &Client, table: &str) -> i64 {
    client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.expect("count").get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_text_in_pieces_that_split_lines_and_back_out() {
    let server = start().await;
    let client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, name TEXT, n INT DEFAULT 7)")
        .await
        .expect("create");
    let rows = copy_in(
        &client,
        "COPY t (id, name) FROM STDIN",
        &["1\tone\n2\t\\N\n3\ttab\\", "there\n4\tback\\\\sl", "ash\n"],
    )
    .await
    .expect("copy in");
    assert_eq!(rows, 4);
    let text = copy_out(&client, "COPY t TO STDOUT").await;
    assert_eq!(text, "1\tone\t7\n2\t\\N\t7\n3\ttab\\there\t7\n4\tback\\\\slash\t7\n");
    let text =
        copy_out(&client, "COPY (SELECT id * 10, name FROM t WHERE id < 3 ORDER BY id) TO STDOUT").await;
    assert_eq!(text, "10\tone\n20\t\\N\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_csv_with_header_quotes_and_null_strings() {
    let server = start().await;
    let client = connect(&server).await;
    client.batch_execute("CREATE TABLE c (id INT, note TEXT, d DATE)").await.expect("create");
    let data = ["id,note,d\n1,\"multi\nline, with \"\"quotes\"\"\",2024-01-01\n2,", ",NULL\n3,\"\",NULL\n"];
    let rows = copy_in(&client, "COPY c FROM STDIN WITH (FORMAT csv, HEADER true, NULL 'NULL')", &data)
        .await
        .expect("csv in");
    assert_eq!(rows, 3);
    let nulls: i64 = client.query_one("SELECT count(*) FROM c WHERE d IS NULL", &[]).await.expect("q").get(0);
    assert_eq!(nulls, 2);
    let empty: String = client.query_one("SELECT note FROM c WHERE id = 2", &[]).await.expect("q").get(0);
    assert_eq!(empty, "", "an empty unquoted field is not NULL when NULL is 'NULL'");
    let text = copy_out(&client, "COPY c TO STDOUT WITH (FORMAT csv, HEADER)").await;
    // With the default NULL (an empty field), empty strings are quoted to tell them apart.
    assert_eq!(text, "id,note,d\n1,\"multi\nline, with \"\"quotes\"\"\",2024-01-01\n2,\"\",\n3,\"\",\n");
    let text = copy_out(&client, "COPY c (id) TO STDOUT WITH (FORMAT csv, DELIMITER ';')").await;
    assert_eq!(text, "1\n2\n3\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_line_fails_the_whole_copy_with_its_line_number() {
    let server = start().await;
    let client = connect(&server).await;
    client.batch_execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)").await.expect("create");
    let err = copy_in(&client, "COPY t FROM STDIN", &["1\t10\n2\tten\n3\t30\n"]).await.expect_err("bad row");
    let db = err.as_db_error().expect("db error");
    assert_eq!(db.code().code(), "22P02");
    assert_eq!(db.where_(), Some("COPY t, line 2"));
    assert_eq!(count(&client, "t").await, 0, "nothing of a failed copy stays");
    let err = copy_in(&client, "COPY t FROM STDIN", &["1\t10\t99\n"]).await.expect_err("extra column");
    assert_eq!(err.code().map(|c| c.code()), Some("22P04"));
    // The session goes on.
    assert_eq!(copy_in(&client, "COPY t FROM STDIN", &["5\t50\n"]).await.expect("good copy"), 1);
    assert_eq!(count(&client, "t").await, 1);
    let err = copy_in(&client, "COPY nope FROM STDIN", &[]).await.expect_err("no table");
    assert_eq!(err.code().map(|c| c.code()), Some("42P01"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_inside_a_transaction_block_is_part_of_it() {
    let server = start().await;
    let mut client = connect(&server).await;
    client.batch_execute("CREATE TABLE t (id INT)").await.expect("create");
    let txn = client.transaction().await.expect("begin");
    let sink = txn.copy_in::<_, Bytes>("COPY t FROM STDIN").await.expect("copy");
    pin_mut!(sink);
    sink.send(Bytes::from_static(b"1\n2\n")).await.expect("send");
    assert_eq!(sink.finish().await.expect("finish"), 2);
    let seen: i64 = txn.query_one("SELECT count(*) FROM t", &[]).await.expect("count").get(0);
    assert_eq!(seen, 2);
    txn.rollback().await.expect("rollback");
    assert_eq!(count(&client, "t").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_protocol_copy_as_pgbench_and_psql_send_it() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.query("CREATE TABLE acc (aid INT NOT NULL, bid INT, abalance INT, filler CHAR(84))").await;
    raw.send(b'Q', b"copy acc from stdin with (freeze on)\0").await;
    let start = raw.read().await.expect("CopyInResponse");
    assert_eq!(start.kind, b'G');
    assert_eq!(&start.body[..3], &[0, 0, 4], "text format, four columns");
    for i in 1..=1000 {
        raw.send(b'd', format!("{i}\t1\t0\t\n").as_bytes()).await;
    }
    raw.send(b'd', b"\\.\n").await;
    raw.send(b'c', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(tags(&out), ["COPY 1000"]);
    assert_eq!(status(&out), 'I');
    // CopyFail ends the copy with 57014 and nothing copied; later CopyData is ignored.
    raw.send(b'Q', b"COPY acc FROM STDIN\0").await;
    assert_eq!(raw.read().await.map(|m| m.kind), Some(b'G'));
    raw.send(b'd', b"5000\t1\t0\t\n").await;
    raw.send(b'f', b"client changed its mind\0").await;
    let out = raw.until_ready().await;
    assert_eq!(kinds(&out), "EZ");
    assert_eq!(out[0].field(b'C').as_deref(), Some("57014"));
    raw.send(b'd', b"junk\n").await;
    let out = raw.query("SELECT count(*), sum(aid) FROM acc").await;
    let row = out.iter().find(|m| m.kind == b'D').expect("row");
    assert!(String::from_utf8_lossy(&row.body).contains("500500"), "{row:?}");
    // COPY TO in the simple protocol: CopyOutResponse, one CopyData per row, CopyDone.
    let out = raw.query("COPY (SELECT aid FROM acc WHERE aid <= 2 ORDER BY aid) TO STDOUT").await;
    assert_eq!(kinds(&out), "HddcCZ");
    assert_eq!(out[1].body, b"1\n");
    assert_eq!(tags(&out), ["COPY 2"]);
}
