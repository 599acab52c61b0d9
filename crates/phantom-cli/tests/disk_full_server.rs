//! A full disk through `phantom serve`: the real binary on a tmpfs of a few MiB, driven by
//! tokio-postgres. Every INSERT either succeeds (and is there after a restart) or fails
//! with SQLSTATE 53100 (and is not); SIGTERM on the full disk stops the server with exit
//! code 0; a restart on the still full disk works with the default settings, and once the
//! filler file is deleted, writes resume without another restart.
//!
//! Mounting needs root; elsewhere the test prints a notice and passes without running.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use small_disk::SmallDisk;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

#[path = "../../phantom/tests/small_disk/mod.rs"]
mod small_disk;

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A running `phantom serve`, killed if the test fails before stopping it (it would hold
/// the small disk, and the test's output pipe, forever).
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `phantom serve` on `dir` with `settings`.
fn serve(dir: &Path, port: u16, settings: &[&str]) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_phantom"))
        .arg("serve")
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--log-level", "warn"])
        .args(settings)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start phantom serve");
    Server(Some(child))
}

/// Connects, waiting (a bounded while) for the server to listen.
async fn connect(port: u16) -> Client {
    let url = format!("host=127.0.0.1 port={port} user=phantom dbname=x");
    for _ in 0..300 {
        if let Ok((client, connection)) = tokio_postgres::connect(&url, NoTls).await {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            return client;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server never accepted a connection");
}

/// Stops the server with SIGTERM; it must exit with 0.
fn stop(mut server: Server, when: &str) {
    let Some(mut child) = server.0.take() else { return };
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success(), "kill -TERM failed");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{when}: phantom serve exited with {status}");
}

/// 3000 hex digits LZ4 cannot shrink, so the log fills as fast as rows arrive.
fn payload(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut text = String::with_capacity(3008);
    while text.len() < 3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        text.push_str(&format!("{x:016x}"));
    }
    text
}

/// Inserts row `id`; true if it was acknowledged. Any error but 53100 fails the test.
async fn insert(client: &Client, id: i64, acknowledged: &mut BTreeSet<i64>) -> bool {
    let text = payload(id as u64);
    match client.execute("INSERT INTO t VALUES ($1, $2)", &[&id, &text]).await {
        Ok(_) => {
            acknowledged.insert(id);
            true
        }
        Err(e) => {
            let db = e.as_db_error().unwrap_or_else(|| panic!("INSERT {id}: {e}"));
            assert_eq!(db.code(), &SqlState::DISK_FULL, "INSERT {id}: {}", db.message());
            assert!(db.message().contains("No space left on device"), "{}", db.message());
            assert_eq!(db.hint(), Some("Check free disk space."));
            false
        }
    }
}

async fn ids(client: &Client) -> BTreeSet<i64> {
    let rows = client.query("SELECT id FROM t", &[]).await.expect("select");
    rows.iter().map(|r| r.get::<_, i64>(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phantom_serve_on_a_full_disk_refuses_cleanly_stops_cleanly_and_resumes() {
    let Some(disk) = SmallDisk::mount(8) else { return };
    let dir = disk.path().join("db");
    let filler = disk.path().join("filler");
    {
        let mut file = std::fs::File::create(&filler).expect("filler");
        file.write_all(&vec![0xa5u8; 3 << 20]).expect("fill");
    }
    let small =
        ["--buffer-pool-mib", "1", "--checkpoint-wal-bytes", "524288", "--wal-segment-bytes", "1048576"];
    let port = free_port();
    let server = serve(&dir, port, &small);
    let client = connect(port).await;
    client.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, v text)").await.expect("create");
    let mut acknowledged = BTreeSet::new();
    let mut next = 1i64;
    let mut refused_in_a_row = 0;
    while refused_in_a_row < 20 {
        assert!(next < 5000, "the disk never filled");
        if insert(&client, next, &mut acknowledged).await {
            refused_in_a_row = 0;
        } else {
            refused_in_a_row += 1;
        }
        next += 1;
    }
    assert_eq!(ids(&client).await, acknowledged, "reads on the full disk see exactly what was acknowledged");
    drop(client);
    stop(server, "SIGTERM on the full disk");

    // A restart on the still full disk, with the default settings.
    let port = free_port();
    let server = serve(&dir, port, &[]);
    let client = connect(port).await;
    assert_eq!(ids(&client).await, acknowledged, "after a restart on the full disk");
    std::fs::remove_file(&filler).expect("remove filler");
    let mut resumed = false;
    for _ in 0..300 {
        if insert(&client, next, &mut acknowledged).await {
            resumed = true;
            break;
        }
        next += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(resumed, "writes did not resume after space was freed");
    for _ in 0..10 {
        next += 1;
        assert!(insert(&client, next, &mut acknowledged).await, "a write failed after space returned");
    }
    drop(client);
    stop(server, "SIGTERM after space returned");

    let port = free_port();
    let server = serve(&dir, port, &[]);
    let client = connect(port).await;
    assert_eq!(ids(&client).await, acknowledged, "after the last restart");
    drop(client);
    stop(server, "SIGTERM at the end");
}
