//! The PostgreSQL JDBC driver against the server (opt-in): runs
//! `tests/clients/JdbcCheck.java` when a JDK and the driver's jar are present (Debian:
//! `default-jdk-headless` and `libpostgresql-jdbc-java`, or set `PHANTOM_JDBC_JAR`), and
//! is skipped with a message otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The driver's jar, if there is one.
fn jar() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("PHANTOM_JDBC_JAR").map(PathBuf::from),
        Some("/usr/share/java/postgresql.jar".into()),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

fn java_present() -> bool {
    Command::new("java").arg("-version").output().is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jdbc_prepared_statements_types_and_fetch_size() {
    let (Some(jar), true) = (jar(), java_present()) else {
        eprintln!("skipping the JDBC test: needs `java` and the PostgreSQL JDBC jar (PHANTOM_JDBC_JAR)");
        return;
    };
    let server = common::start().await;
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/JdbcCheck.java");
    let port = server.local_addr().port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("java")
            .arg("-cp")
            .arg(&jar)
            .arg(&source)
            .args(["127.0.0.1", &port])
            .output()
            .expect("java runs")
    })
    .await
    .expect("client thread");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("all checks passed"), "JDBC checks failed:\n{text}");
    server.shutdown().await.expect("shutdown");
}
