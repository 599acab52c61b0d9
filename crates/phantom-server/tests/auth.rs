//! Authentication through real clients: trust on loopback by default, SCRAM-SHA-256 with
//! a users file or the database's roles, and failed logins that all look alike.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{Message, Raw};
use phantom::Database;
use phantom_server::auth::AuthMethod;
use phantom_server::{Server, ServerConfig};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use postgres_protocol::message::frontend;
use tokio_postgres::{Client, NoTls};

/// Logs in as `user` (with `password`, if given) and runs the connection in a task.
async fn login(server: &Server, user: &str, password: Option<&str>) -> Result<Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config.host("127.0.0.1").port(server.local_addr().port()).user(user).dbname("anything");
    if let Some(password) = password {
        config.password(password);
    }
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The SQLSTATE, severity and message of a refused login.
async fn refusal(server: &Server, user: &str, password: Option<&str>) -> (String, String, String) {
    match login(server, user, password).await {
        Ok(_) => panic!("{user} logged in"),
        Err(e) => {
            let db = e.as_db_error().unwrap_or_else(|| panic!("{user}: not a server error: {e}"));
            (db.code().code().to_string(), db.severity().to_string(), db.message().to_string())
        }
    }
}

fn password_failed(user: &str) -> (String, String, String) {
    ("28P01".into(), "FATAL".into(), format!("password authentication failed for user \"{user}\""))
}

async fn text(client: &Client, sql: &str) -> String {
    let row = client.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.get(0)
}

/// A server whose delays after failed logins are short, so that the tests that fail
/// on purpose stay quick.
async fn start(db: Database, auth: Option<AuthMethod>, users_file: Option<std::path::PathBuf>) -> Server {
    let quick = ServerConfig {
        auth,
        users_file,
        auth_delay: Duration::from_millis(1),
        auth_delay_max: Duration::from_millis(5),
        ..ServerConfig::default()
    };
    common::start_with(db, quick).await
}

/// Logs in as `user` with `password` from the local address `source` (any of 127/8).
async fn login_from(
    server: &Server,
    source: std::net::IpAddr,
    user: &str,
    password: &str,
) -> Result<Client, tokio_postgres::Error> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(std::net::SocketAddr::new(source, 0)).expect("bind the source address");
    let stream = socket.connect(server.local_addr()).await.expect("connect");
    let mut config = tokio_postgres::Config::new();
    config.user(user).password(password).dbname("anything");
    let (client, connection) = config.connect_raw(stream, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Failed logins slow down the next ones from the same address (a lower bound on the
/// time they take: the delays), without holding up other addresses, and a successful
/// login clears the address's record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_delay_the_next_ones_from_their_address() {
    let db = Database::memory();
    db.session().execute("CREATE ROLE alice LOGIN PASSWORD 'right'").expect("role");
    // Long enough that the delays dwarf the logins' own time (SCRAM's 4096 rounds).
    let base = Duration::from_millis(300);
    let config = ServerConfig {
        auth: Some(AuthMethod::Scram),
        auth_delay: base,
        auth_delay_max: 4 * base,
        ..ServerConfig::default()
    };
    let server = common::start_with(db, config).await;
    let started = Instant::now();
    for _ in 0..4 {
        assert_eq!(refusal(&server, "alice", Some("wrong")).await, password_failed("alice"));
    }
    // The second to fourth attempts waited 300, 600 and 1200 ms (the cap).
    let waited = started.elapsed();
    assert!(waited >= 7 * base, "4 failed logins took only {waited:?}");
    login(&server, "alice", Some("right")).await.expect("the right password, after its turn");

    // A long delay for 127.0.0.1 ...
    let server = {
        server.shutdown().await.expect("shutdown");
        let db = Database::memory();
        db.session().execute("CREATE ROLE alice LOGIN PASSWORD 'right'").expect("role");
        let long = Duration::from_secs(2);
        let config = ServerConfig {
            auth: Some(AuthMethod::Scram),
            auth_delay: long,
            auth_delay_max: long,
            ..ServerConfig::default()
        };
        common::start_with(db, config).await
    };
    let here: std::net::IpAddr = [127, 0, 0, 1].into();
    let elsewhere: std::net::IpAddr = [127, 0, 0, 2].into();
    assert!(login_from(&server, here, "alice", "wrong").await.is_err());
    let throttled = {
        let port = server.local_addr().port();
        tokio::spawn(async move {
            let mut config = tokio_postgres::Config::new();
            config.host("127.0.0.1").port(port).user("alice").password("right").dbname("x");
            config.connect(NoTls).await.map(|(client, connection)| {
                tokio::spawn(connection);
                client
            })
        })
    };
    // ... holds up nobody at another address: that login is through while 127.0.0.1's
    // attempt still waits its turn.
    let other = login_from(&server, elsewhere, "alice", "right").await.expect("another address");
    assert_eq!(text(&other, "SELECT current_user").await, "alice");
    assert!(!throttled.is_finished(), "the throttled attempt did not wait");
    throttled.await.expect("task").expect("the right password, after its turn");
    // That success cleared 127.0.0.1: its next login does not wait the 2 s again.
    let again = tokio::time::timeout(Duration::from_secs(2), login_from(&server, here, "alice", "right"));
    again.await.expect("no delay after a success").expect("login");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn user_in_the_search_path_is_the_role_the_client_logged_in_as() {
    let db = Database::memory();
    db.session()
        .execute(
            "CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE SCHEMA alice AUTHORIZATION alice; \
             CREATE TABLE alice.notes (n TEXT); INSERT INTO alice.notes VALUES ('alice''s'); \
             ALTER TABLE alice.notes OWNER TO alice; \
             CREATE TABLE notes (n TEXT); INSERT INTO notes VALUES ('public'); \
             GRANT SELECT ON notes TO PUBLIC",
        )
        .expect("setup");
    let server = start(db, None, None).await;
    let alice = login(&server, "alice", None).await.expect("alice");
    assert_eq!(text(&alice, "SHOW search_path").await, "\"$user\", public");
    assert_eq!(text(&alice, "SELECT n FROM notes").await, "alice's");
    assert_eq!(text(&alice, "SELECT current_schema()").await, "alice");
    // bob has no schema of his own: "$user" is skipped.
    let bob = login(&server, "bob", None).await.expect("bob");
    assert_eq!(text(&bob, "SELECT n FROM notes").await, "public");
    assert_eq!(text(&bob, "SELECT current_schema()").await, "public");
}

#[tokio::test]
async fn trust_is_the_default_on_loopback() {
    let db = Database::memory();
    db.session().execute("CREATE ROLE alice LOGIN; CREATE ROLE locked").expect("roles");
    let server = start(db, None, None).await;

    let admin = login(&server, "phantom", None).await.expect("phantom without a password");
    assert_eq!(text(&admin, "SELECT current_user").await, "phantom");
    assert_eq!(text(&admin, "SHOW is_superuser").await, "on");

    let alice = login(&server, "alice", None).await.expect("alice without a password");
    assert_eq!(text(&alice, "SELECT current_user").await, "alice");
    assert_eq!(text(&alice, "SELECT session_user").await, "alice");
    assert_eq!(text(&alice, "SHOW session_authorization").await, "alice");
    assert_eq!(text(&alice, "SHOW is_superuser").await, "off");

    // psql and pgbench default to the operating-system user: a name that is no role
    // runs as phantom.
    let stranger = login(&server, "os_user", None).await.expect("unknown name");
    assert_eq!(text(&stranger, "SELECT current_user").await, "phantom");

    let refused = refusal(&server, "locked", None).await;
    assert_eq!(
        refused,
        ("28000".into(), "FATAL".into(), "role \"locked\" is not permitted to log in".into())
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_users_file_turns_on_scram() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("users");
    let verifier = phantom::scram::Verifier::new("v-secret").expect("verifier");
    let mut file = std::fs::File::create(&path).expect("create");
    writeln!(file, "# who may log in\nfiled:file-secret\n\nverified:{verifier}").expect("write");
    drop(file);
    let server = start(Database::memory(), None, Some(path)).await;

    let filed = login(&server, "filed", Some("file-secret")).await.expect("right password");
    assert_eq!(text(&filed, "SELECT current_user").await, "filed");
    assert_eq!(text(&filed, "SHOW is_superuser").await, "off");
    let verified = login(&server, "verified", Some("v-secret")).await.expect("verifier in the file");
    assert_eq!(text(&verified, "SELECT current_user").await, "verified");

    assert_eq!(refusal(&server, "filed", Some("wrong")).await, password_failed("filed"));
    assert_eq!(refusal(&server, "verified", Some("file-secret")).await, password_failed("verified"));
    // Nothing is trusted any more, not even the bootstrap superuser without a password.
    assert_eq!(refusal(&server, "phantom", Some("")).await, password_failed("phantom"));

    // The server and the sessions already in are unaffected.
    assert_eq!(text(&filed, "SELECT 'still here'").await, "still here");
    login(&server, "filed", Some("file-secret")).await.expect("again");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn roles_log_in_with_their_passwords() {
    let db = Database::memory();
    db.session()
        .execute(
            "ALTER ROLE phantom PASSWORD 'root-secret';
             CREATE ROLE alice LOGIN PASSWORD 'a1';
             CREATE ROLE nopass LOGIN;
             CREATE ROLE locked PASSWORD 'l1';",
        )
        .expect("roles");
    let server = start(db, Some(AuthMethod::Scram), None).await;
    let admin = login(&server, "phantom", Some("root-secret")).await.expect("phantom");
    assert_eq!(text(&admin, "SHOW is_superuser").await, "on");

    let alice = login(&server, "alice", Some("a1")).await.expect("alice");
    assert_eq!(text(&alice, "SELECT current_user").await, "alice");

    // A role created over the wire logs in at once.
    admin.batch_execute("CREATE USER bob PASSWORD 'b1'").await.expect("create bob");
    let bob = login(&server, "bob", Some("b1")).await.expect("bob");
    assert_eq!(text(&bob, "SELECT current_user").await, "bob");

    // A new password replaces the old one.
    admin.batch_execute("ALTER ROLE alice PASSWORD 'a2'").await.expect("alter");
    assert_eq!(refusal(&server, "alice", Some("a1")).await, password_failed("alice"));
    login(&server, "alice", Some("a2")).await.expect("new password");

    // psql's \password computes the verifier on the client (libpq's way, here
    // postgres-protocol's) and sends that: it is stored as it is and works.
    assert_eq!(text(&bob, "SHOW password_encryption").await, "scram-sha-256");
    let verifier = postgres_protocol::password::scram_sha_256(b"b2");
    bob.batch_execute(&format!("ALTER USER bob PASSWORD '{verifier}'")).await.expect("client-side verifier");
    assert_eq!(text(&admin, "SELECT rolpassword FROM pg_authid WHERE rolname = 'bob'").await, verifier);
    assert_eq!(refusal(&server, "bob", Some("b1")).await, password_failed("bob"));
    login(&server, "bob", Some("b2")).await.expect("password behind the client's verifier");

    // Every way to be refused gives the same answer.
    assert_eq!(refusal(&server, "locked", Some("l1")).await, password_failed("locked"));
    assert_eq!(refusal(&server, "nopass", Some("")).await, password_failed("nopass"));
    assert_eq!(refusal(&server, "nobody", Some("a2")).await, password_failed("nobody"));
    admin.batch_execute("ALTER ROLE alice NOLOGIN").await.expect("nologin");
    assert_eq!(refusal(&server, "alice", Some("a2")).await, password_failed("alice"));
    admin.batch_execute("ALTER ROLE alice LOGIN; DROP ROLE alice").await.expect("drop");
    assert_eq!(refusal(&server, "alice", Some("a2")).await, password_failed("alice"));

    let roles: Vec<String> = admin
        .query("SELECT rolname FROM pg_roles ORDER BY rolname", &[])
        .await
        .expect("pg_roles")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(roles, ["bob", "locked", "nopass", "phantom"]);
    // alice's session outlived her role, as in PostgreSQL.
    assert_eq!(text(&alice, "SELECT current_user").await, "alice");
    server.shutdown().await.expect("shutdown");
}

/// The SQLSTATE `sql` fails with.
async fn sqlstate(client: &Client, sql: &str) -> String {
    match client.batch_execute(sql).await {
        Ok(()) => panic!("{sql}: expected an error"),
        Err(e) => e.code().unwrap_or_else(|| panic!("{sql}: not a server error: {e}")).code().to_string(),
    }
}

/// Issue 14's escalations, over the wire, as a role logged in with its password: every
/// one is refused with 42501, and the bootstrap superuser still logs in with its own
/// password and nobody else's.
#[tokio::test]
async fn a_role_that_logged_in_cannot_escalate() {
    let db = Database::memory();
    db.session()
        .execute(
            "ALTER ROLE phantom PASSWORD 'root-secret';
             CREATE ROLE alice LOGIN PASSWORD 'a1';
             CREATE TABLE secrets (s TEXT); INSERT INTO secrets VALUES ('classified');",
        )
        .expect("roles");
    let server = start(db, Some(AuthMethod::Scram), None).await;
    let alice = login(&server, "alice", Some("a1")).await.expect("alice");
    assert_eq!(text(&alice, "SHOW is_superuser").await, "off");
    for escalation in [
        "ALTER ROLE alice SUPERUSER",
        "ALTER ROLE alice CREATEROLE",
        "CREATE ROLE mallory SUPERUSER",
        "CREATE ROLE mallory LOGIN PASSWORD 'm'",
        "ALTER ROLE phantom PASSWORD 'owned'",
        "SELECT rolname, rolpassword FROM pg_authid",
        "SET ROLE phantom",
        "SET SESSION AUTHORIZATION phantom",
        "SELECT * FROM secrets",
        "DROP TABLE secrets",
        "GRANT SELECT ON secrets TO alice",
        "ALTER TABLE secrets OWNER TO alice",
        "CREATE TABLE mine (n INT)",
    ] {
        assert_eq!(sqlstate(&alice, escalation).await, "42501", "{escalation}");
    }
    // Her own password she may change, and log in with.
    alice.batch_execute("ALTER ROLE alice PASSWORD 'a2'").await.expect("own password");
    login(&server, "alice", Some("a2")).await.expect("alice's new password");
    assert_eq!(refusal(&server, "mallory", Some("m")).await, password_failed("mallory"));
    assert_eq!(refusal(&server, "phantom", Some("owned")).await, password_failed("phantom"));
    let admin = login(&server, "phantom", Some("root-secret")).await.expect("phantom");
    assert_eq!(text(&admin, "SELECT s FROM secrets").await, "classified");
    assert_eq!(text(&admin, "SELECT rolsuper::text FROM pg_roles WHERE rolname = 'alice'").await, "false");
    server.shutdown().await.expect("shutdown");
}

/// SET SESSION AUTHORIZATION and SET ROLE change who the session is; the client hears of
/// it by ParameterStatus (`session_authorization`, `is_superuser`), as from PostgreSQL.
#[tokio::test]
async fn a_superuser_session_changes_identity_and_the_client_hears_of_it() {
    let db = Database::memory();
    db.session().execute("CREATE ROLE alice LOGIN").expect("role");
    let server = start(db, None, None).await;
    let mut raw = Raw::connect(&server).await;
    let parameters = |messages: &[Message]| -> Vec<String> {
        messages
            .iter()
            .filter(|m| m.kind == b'S')
            .map(|m| String::from_utf8_lossy(&m.body).replace('\0', " ").trim().to_string())
            .collect()
    };
    let changed = raw.query("SET SESSION AUTHORIZATION alice").await;
    assert_eq!(parameters(&changed), ["is_superuser off", "session_authorization alice"]);
    let refused = raw.query("SELECT 1 FROM pg_authid").await;
    assert_eq!(refused.iter().find(|m| m.kind == b'E').and_then(|m| m.field(b'C')).as_deref(), Some("42501"));
    let back = raw.query("RESET SESSION AUTHORIZATION").await;
    assert_eq!(parameters(&back), ["is_superuser on", "session_authorization phantom"]);
    let role = raw.query("SET ROLE alice").await;
    assert_eq!(parameters(&role), ["is_superuser off"]);
    server.shutdown().await.expect("shutdown");
}

/// What a hand-driven SCRAM exchange saw: the server's salt and iteration count, and
/// every message after the client's proof, to the end of the connection or its first
/// ReadyForQuery.
struct Exchange {
    salt_and_iterations: String,
    after_proof: Vec<Message>,
    scram: ScramSha256,
}

async fn scram_by_hand(server: &Server, user: &str, password: &str) -> Exchange {
    let mut raw = Raw::connect_only(server).await;
    raw.send_startup(&[("user", user), ("database", "x")]).await;
    let request = raw.read().await.expect("authentication request");
    assert_eq!((request.kind, &request.body[..4]), (b'R', &10i32.to_be_bytes()[..]), "{request:?}");
    assert_eq!(&request.body[4..], b"SCRAM-SHA-256\0\0");

    let mut scram = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
    let mut buf = BytesMut::new();
    frontend::sasl_initial_response("SCRAM-SHA-256", scram.message(), &mut buf).expect("encode");
    raw.send_bytes(&buf).await;
    let first = raw.read().await.expect("server-first");
    assert_eq!((first.kind, &first.body[..4]), (b'R', &11i32.to_be_bytes()[..]), "{first:?}");
    let server_first = String::from_utf8(first.body[4..].to_vec()).expect("utf-8");
    scram.update(server_first.as_bytes()).expect("server-first message");
    let salt_and_iterations = server_first.split(',').skip(1).collect::<Vec<_>>().join(",");

    buf.clear();
    frontend::sasl_response(scram.message(), &mut buf).expect("encode");
    raw.send_bytes(&buf).await;
    let mut after_proof = Vec::new();
    while let Some(m) = raw.read().await {
        let ready = m.kind == b'Z';
        after_proof.push(m);
        if ready {
            break;
        }
    }
    Exchange { salt_and_iterations, after_proof, scram }
}

/// The one message a refused login gets: exactly one ErrorResponse, then the end.
fn assert_refused(exchange: &Exchange, user: &str) {
    let [error] = exchange.after_proof.as_slice() else {
        panic!("{user}: expected one message, got {:?}", exchange.after_proof);
    };
    assert_eq!(error.kind, b'E');
    let fields = (error.field(b'S'), error.field(b'C'), error.field(b'M'));
    let (code, severity, message) = password_failed(user);
    assert_eq!(fields, (Some(severity), Some(code), Some(message)), "{user}");
}

#[tokio::test]
async fn a_refused_login_looks_the_same_whatever_the_reason() {
    let db = Database::memory();
    db.session()
        .execute("CREATE ROLE alice LOGIN PASSWORD 'right'; CREATE ROLE nopass LOGIN; CREATE ROLE locked PASSWORD 'right'")
        .expect("roles");
    let server = start(db, Some(AuthMethod::Scram), None).await;

    let ok = scram_by_hand(&server, "alice", "right").await;
    assert!(ok.salt_and_iterations.starts_with("s=") && ok.salt_and_iterations.ends_with(",i=4096"));
    let kinds: String = ok.after_proof.iter().map(|m| m.kind as char).collect();
    assert!(kinds.starts_with("RR") && kinds.ends_with('Z'), "{kinds}");
    // The server proved it holds alice's verifier (SASLFinal), then AuthenticationOk.
    let mut client = ok.scram;
    client.finish(&ok.after_proof[0].body[4..]).expect("server signature");
    assert_eq!(&ok.after_proof[1].body[..], &0i32.to_be_bytes()[..]);

    let wrong = scram_by_hand(&server, "alice", "wrong").await;
    assert_eq!(wrong.salt_and_iterations, ok.salt_and_iterations);
    assert_refused(&wrong, "alice");
    for user in ["nobody", "nopass", "locked"] {
        let first = scram_by_hand(&server, user, "right").await;
        assert_refused(&first, user);
        // Asked again, the exchange offers the same salt, as a real role's would.
        let second = scram_by_hand(&server, user, "other").await;
        assert_refused(&second, user);
        assert_eq!(first.salt_and_iterations, second.salt_and_iterations, "{user}");
        assert!(first.salt_and_iterations.ends_with(",i=4096"), "{user}");
        assert_ne!(first.salt_and_iterations, ok.salt_and_iterations, "{user}");
    }
    // Refusals leave the server serving.
    assert!(
        scram_by_hand(&server, "alice", "right").await.after_proof.last().is_some_and(|m| m.kind == b'Z')
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn passwords_are_the_default_off_loopback() {
    let config = ServerConfig { listen: "0.0.0.0:0".into(), ..ServerConfig::default() };
    let server = Server::start(Database::memory(), config).await.expect("start");
    assert_eq!(refusal(&server, "phantom", Some("")).await, password_failed("phantom"));
    server.shutdown().await.expect("shutdown");

    assert_eq!(AuthMethod::default_for("127.0.0.1:5432".parse().expect("addr"), false), AuthMethod::Trust);
    assert_eq!(AuthMethod::default_for("[::1]:5432".parse().expect("addr"), false), AuthMethod::Trust);
    assert_eq!(AuthMethod::default_for("127.0.0.1:5432".parse().expect("addr"), true), AuthMethod::Scram);
    assert_eq!(AuthMethod::default_for("10.1.2.3:5432".parse().expect("addr"), false), AuthMethod::Scram);

    // Explicit trust wins even with a users file.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("users");
    std::fs::write(&path, "filed:secret\n").expect("write");
    let server = start(Database::memory(), Some(AuthMethod::Trust), Some(path)).await;
    let client = login(&server, "filed", None).await.expect("trusted");
    assert_eq!(text(&client, "SELECT current_user").await, "filed");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_malformed_users_file_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("users");
    std::fs::write(&path, "good:secret\nno colon here\n").expect("write");
    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        users_file: Some(path.clone()),
        ..ServerConfig::default()
    };
    let e = Server::start(Database::memory(), config).await.err().expect("refused to start");
    assert_eq!(e.to_string(), format!("users file {}, line 2: expected name:password", path.display()));
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
}
