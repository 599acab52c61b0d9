//! Running the server: cancel requests, disconnects, many clients, hostile input, the
//! connection limit and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, connect, connect_with, start, start_with, status};
use phantom_server::ServerConfig;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

/// A table of 1024 rows, made by doubling.
const BIG_TABLE: &str =
    "CREATE TABLE big (a INT); INSERT INTO big VALUES (1), (2), (3), (4), (5), (6), (7), (8);
    INSERT INTO big SELECT a FROM big; INSERT INTO big SELECT a FROM big; INSERT INTO big SELECT a FROM big;
    INSERT INTO big SELECT a FROM big; INSERT INTO big SELECT a FROM big; INSERT INTO big SELECT a FROM big;
    INSERT INTO big SELECT a FROM big";

/// A billion row combinations: minutes of work even in a release build.
const LONG_QUERY: &str = "SELECT count(*) FROM big x, big y, big z WHERE x.a + y.a + z.a < 0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_stops_a_long_query_with_57014() {
    let server = start().await;
    let client = connect(&server).await;
    client.batch_execute(BIG_TABLE).await.expect("big table");
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.expect("cancel request sent");
    });
    let started = Instant::now();
    let err = client.simple_query(LONG_QUERY).await.expect_err("canceled");
    canceller.await.expect("canceller");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err}");
    assert_eq!(err.as_db_error().map(|e| e.message()), Some("canceling statement due to user request"));
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    // The connection is fine afterwards, and a cancel with no query running does nothing.
    client.cancel_token().cancel_query(NoTls).await.expect("idle cancel");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let row = client.query_one("SELECT 1 + 1", &[]).await.expect("still works");
    assert_eq!(row.get::<_, i32>(0), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_ends_a_wait_for_a_row_lock() {
    let server = start().await;
    let holder = connect(&server).await;
    holder
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0)")
        .await
        .expect("setup");
    holder.batch_execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1").await.expect("lock the row");
    let waiter = connect(&server).await;
    // Without a working cancel the wait ends here with 55P03 instead of hanging the test.
    waiter.batch_execute("SET lock_timeout = '10s'; BEGIN").await.expect("begin");
    let token = waiter.cancel_token();
    let update = tokio::spawn(async move {
        let result = waiter.execute("UPDATE t SET v = 2 WHERE id = 1", &[]).await;
        (result, Instant::now(), waiter)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!update.is_finished(), "the second writer waits for the lock");
    let canceled = Instant::now();
    token.cancel_query(NoTls).await.expect("cancel request sent");
    let (result, failed, waiter) = update.await.expect("task");
    let err = result.expect_err("canceled");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err}");
    let latency = failed.saturating_duration_since(canceled);
    assert!(latency < Duration::from_secs(1), "the cancel took {latency:?}");
    // The block is failed, as in PostgreSQL.
    let err = waiter.simple_query("SELECT 1").await.expect_err("failed block");
    assert_eq!(err.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION), "{err}");
    waiter.batch_execute("ROLLBACK").await.expect("rollback");
    holder.batch_execute("COMMIT").await.expect("commit");
    let v: i32 = waiter.query_one("SELECT v FROM t WHERE id = 1", &[]).await.expect("read").get(0);
    assert_eq!(v, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_with_a_wrong_key_does_nothing() {
    let server = start().await;
    let mut victim = Raw::connect_only(&server).await;
    victim.send_startup(&[("user", "phantom")]).await;
    let startup = victim.until_ready().await;
    let key = startup.iter().find(|m| m.kind == b'K').expect("BackendKeyData");
    let pid = i32::from_be_bytes([key.body[0], key.body[1], key.body[2], key.body[3]]);
    let secret = i32::from_be_bytes([key.body[4], key.body[5], key.body[6], key.body[7]]);
    victim.query(BIG_TABLE).await;
    victim.send(b'Q', format!("{LONG_QUERY}\0").as_bytes()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut wrong = Raw::connect_only(&server).await;
    let mut packet = Vec::new();
    packet.extend_from_slice(&16i32.to_be_bytes());
    packet.extend_from_slice(&80877102i32.to_be_bytes());
    packet.extend_from_slice(&pid.to_be_bytes());
    packet.extend_from_slice(&secret.wrapping_add(1).to_be_bytes());
    wrong.send_bytes(&packet).await;
    assert!(wrong.read().await.is_none(), "a cancel request gets no answer, just a closed connection");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Now the right key.
    let mut right = Raw::connect_only(&server).await;
    packet[12..16].copy_from_slice(&secret.to_be_bytes());
    right.send_bytes(&packet).await;
    let out = victim.until_ready().await;
    let error = out.iter().find(|m| m.kind == b'E').expect("canceled");
    assert_eq!(error.field(b'C').as_deref(), Some("57014"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_transaction_releases_its_locks() {
    let server = start().await;
    let setup = connect(&server).await;
    setup
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0)")
        .await
        .expect("setup");
    let (holder, connection) = connect_with(&server).await;
    holder.batch_execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1").await.expect("lock the row");
    let waiter = connect(&server).await;
    waiter.batch_execute("SET lock_timeout = '10s'").await.expect("timeout");
    let update = tokio::spawn(async move {
        let started = Instant::now();
        let result = waiter.execute("UPDATE t SET v = 2 WHERE id = 1", &[]).await;
        (result, started.elapsed(), waiter)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!update.is_finished(), "the second writer waits for the lock");
    // The holder vanishes without COMMIT or ROLLBACK.
    connection.abort();
    drop(holder);
    let (result, waited, waiter) = update.await.expect("task");
    assert_eq!(result.expect("the update goes through once the lock is released"), 1);
    assert!(waited < Duration::from_secs(9), "waited {waited:?}");
    let v: i32 = waiter.query_one("SELECT v FROM t WHERE id = 1", &[]).await.expect("read").get(0);
    assert_eq!(v, 2, "the vanished transaction's update was rolled back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_clients() {
    let config = ServerConfig { max_connections: 250, ..ServerConfig::default() };
    let server = start_with(phantom::Database::memory(), config).await;
    let setup = connect(&server).await;
    setup.batch_execute("CREATE TABLE hits (client INT, n INT, PRIMARY KEY (client, n)); CREATE TABLE counter (id INT PRIMARY KEY, total INT); INSERT INTO counter VALUES (1, 0)").await.expect("setup");
    let mut tasks = Vec::new();
    for client_id in 0..200i32 {
        let (client, _connection) = connect_with(&server).await;
        tasks.push(tokio::spawn(async move {
            let insert = client.prepare("INSERT INTO hits VALUES ($1, $2)").await.expect("prepare");
            for n in 0..5i32 {
                client.execute(&insert, &[&client_id, &n]).await.expect("insert");
            }
            client.execute("UPDATE counter SET total = total + 1 WHERE id = 1", &[]).await.expect("update");
            let mine: i64 = client
                .query_one("SELECT count(*) FROM hits WHERE client = $1", &[&client_id])
                .await
                .expect("count")
                .get(0);
            assert_eq!(mine, 5);
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let total: i64 = setup.query_one("SELECT count(*) FROM hits", &[]).await.expect("count").get(0);
    assert_eq!(total, 1000);
    let counter: i32 = setup.query_one("SELECT total FROM counter", &[]).await.expect("counter").get(0);
    assert_eq!(counter, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_holds_up_only_itself() {
    let server = start().await;
    let other = connect(&server).await;
    other.batch_execute("CREATE TABLE t (a INT PRIMARY KEY)").await.expect("setup");
    // Ask for a result of many megabytes and never read it: its session blocks in its
    // own write once the socket buffers are full.
    let mut slow = Raw::connect(&server).await;
    let mut body = b"SELECT repeat('x', 1000) FROM generate_series(1, 200000)".to_vec();
    body.push(0);
    slow.send(b'Q', &body).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..50 {
        other.execute("INSERT INTO t VALUES ($1)", &[&i]).await.expect("others go on");
    }
    let n: i64 = other.query_one("SELECT count(*) FROM t", &[]).await.expect("count").get(0);
    assert_eq!(n, 50);
    // Shutdown does not wait for the stalled client forever either.
    let started = std::time::Instant::now();
    server.shutdown().await.expect("shutdown");
    assert!(started.elapsed() < Duration::from_secs(20), "shutdown took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_truncated_messages_end_only_their_connection() {
    let server = start_with(
        phantom::Database::memory(),
        ServerConfig { max_message_bytes: 1 << 20, ..ServerConfig::default() },
    )
    .await;
    let bystander = connect(&server).await;
    bystander
        .batch_execute("CREATE TABLE t (a INT); BEGIN; INSERT INTO t VALUES (1)")
        .await
        .expect("bystander");

    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("unknown message type", b"Z\0\0\0\x04".to_vec()),
        ("negative length", b"Q\xff\xff\xff\xf0".to_vec()),
        ("length below 4", b"Q\0\0\0\x02".to_vec()),
        ("oversized message", b"Q\x10\0\0\0".to_vec()),
        ("Bind claiming a parameter it does not carry", b"B\0\0\0\x0e\0\0\0\0\0\x01\0\0\x10\0".to_vec()),
        ("Query without its terminator", b"Q\0\0\0\x08abcd".to_vec()),
        ("Parse with a negative count", b"P\0\0\0\x0ax\0y\0\xff\xff".to_vec()),
        ("Describe of an unknown kind", b"D\0\0\0\x06Xa\0".to_vec()),
    ];
    for (what, bytes) in hostile {
        let mut raw = Raw::connect(&server).await;
        raw.send_bytes(&bytes).await;
        let reply = raw.read().await.unwrap_or_else(|| panic!("{what}: an error before the close"));
        assert_eq!(reply.kind, b'E', "{what}");
        assert_eq!(reply.field(b'S').as_deref(), Some("FATAL"), "{what}");
        assert!(matches!(reply.field(b'C').as_deref(), Some("08P01" | "54000")), "{what}: {reply:?}");
        assert!(raw.read().await.is_none(), "{what}: the connection is closed");
    }
    // Garbage instead of a startup packet, and a startup packet cut short.
    for bytes in [&b"GET / HTTP/1.1\r\n\r\n"[..], &b"\0\0\0\x50\0\x03\0\0user\0"[..], &b"\0\0"[..]] {
        let mut raw = Raw::connect_only(&server).await;
        raw.send_bytes(bytes).await;
        let _ = tokio::time::timeout(Duration::from_millis(300), raw.read()).await;
    }
    // A truncated message followed by a disconnect.
    let mut raw = Raw::connect(&server).await;
    raw.send_bytes(b"Q\0\0\0\x20SELECT").await;
    drop(raw);

    // The bystander's session and transaction are untouched; new clients work.
    let seen: i64 = bystander.query_one("SELECT count(*) FROM t", &[]).await.expect("bystander alive").get(0);
    assert_eq!(seen, 1);
    bystander.batch_execute("COMMIT").await.expect("commit");
    let mut raw = Raw::connect(&server).await;
    assert_eq!(status(&raw.query("SELECT 1").await), 'I');
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_answers_53300() {
    let server = start_with(
        phantom::Database::memory(),
        ServerConfig { max_connections: 2, ..ServerConfig::default() },
    )
    .await;
    let first = connect(&server).await;
    let (second, second_connection) = connect_with(&server).await;
    let url = format!("host=127.0.0.1 port={} user=phantom", server.local_addr().port());
    let err = tokio_postgres::connect(&url, NoTls).await.err().expect("third is refused");
    assert_eq!(err.code(), Some(&SqlState::TOO_MANY_CONNECTIONS), "{err}");
    // Cancel requests do not count, and a place frees up when a client leaves.
    first.cancel_token().cancel_query(NoTls).await.expect("cancel");
    second_connection.abort();
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio_postgres::connect(&url, NoTls).await {
            Ok((third, connection)) => {
                tokio::spawn(connection);
                third.simple_query("SELECT 1").await.expect("third works");
                break;
            }
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("the freed place was not reused: {e}"),
        }
    }
    first.simple_query("SELECT 1").await.expect("first still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_sessions_rolls_back_and_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = phantom::Database::open(dir.path()).expect("open");
    let server = start_with(db, ServerConfig::default()).await;
    let client = connect(&server).await;
    client.batch_execute("CREATE TABLE t (a INT); INSERT INTO t VALUES (1)").await.expect("committed");
    client.batch_execute("BEGIN; INSERT INTO t VALUES (2)").await.expect("open transaction");
    let mut raw = Raw::connect(&server).await;
    raw.query(BIG_TABLE).await;
    raw.send(b'Q', format!("{LONG_QUERY}\0").as_bytes()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.shutdown().await.expect("shutdown");
    assert!(started.elapsed() < Duration::from_secs(20), "shutdown took {:?}", started.elapsed());
    // The running query was canceled and the session told why.
    let out = raw.until_ready().await;
    let fatal = loop {
        match out.iter().find(|m| m.field(b'C').as_deref() == Some("57P01")) {
            Some(m) => break m.clone(),
            None => match raw.read().await {
                Some(m) if m.field(b'C').as_deref() == Some("57P01") => break m,
                Some(_) => continue,
                None => panic!("no 57P01 in {out:?}"),
            },
        }
    };
    assert_eq!(fatal.field(b'S').as_deref(), Some("FATAL"));
    assert!(client.simple_query("SELECT 1").await.is_err(), "sessions are closed");
    drop(client);
    // Reopen the directory: the committed row is there, the open transaction's is not.
    let db = phantom::Database::open(dir.path()).expect("reopen");
    let rows = db.session().query("SELECT a FROM t ORDER BY a").expect("select");
    assert_eq!(rows.rows.len(), 1);
}
