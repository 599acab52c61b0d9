//! # phantom-server: Phantom-DB over the PostgreSQL wire protocol
//!
//! `phantom serve` makes a data directory a server that PostgreSQL clients (psql, pgbench,
//! libpq, tokio-postgres, psycopg, JDBC ...) talk to unchanged:
//!
//! ```no_run
//! let db = phantom::Database::open("./data")?;
//! phantom_server::serve(db, phantom_server::ServerConfig::default())?; // until SIGTERM/SIGINT
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Design
//!
//! - **I/O on tokio, sessions on threads.** A phantom [`phantom::Session`] is synchronous
//!   and may block (row-lock waits, fsync at commit, long queries). Each connection's
//!   session therefore lives on a thread of its own ([`worker`]), fed by the connection's
//!   reader task and writing through its writer task ([`connection`]). Tokio's threads
//!   only move bytes, so one stuck session never delays another. It is PostgreSQL's
//!   process-per-connection model with threads; `max_connections` bounds it.
//! - **pgwire for the handshake and message types**: SSL refusal, the startup packet,
//!   authentication (a pgwire `StartupHandler`, see [`auth`]: trust, or SCRAM-SHA-256
//!   passwords of the database's roles and of a [`users`] file), cancel requests, and
//!   the encoding of every backend message. The
//!   messages that follow startup are decoded here ([`frontend`]) with bounds checks on
//!   every field, so hostile input is a protocol error and never a panic.
//! - **The protocol's state lives on the worker thread**: prepared statements, portals,
//!   skip-until-Sync after errors, COPY in progress. The worker handles messages strictly
//!   in order, like a PostgreSQL backend, and answers through an output buffer that is
//!   flushed before it waits for input ([`outbox`]).
//! - **Results stream**: rows go to the socket as the executor produces them (a sink
//!   handed to the session), COPY FROM inserts each line as it arrives, COPY TO writes each
//!   row as it is produced.
//! - **Types** ([`types`]): PostgreSQL's OIDs and text and binary formats for every type.
//! - **Cancel** ([`cancel`]): BackendKeyData identifies a session; a CancelRequest with
//!   the right key raises the session's interrupt and the statement fails with 57014.
//! - **Operation**: a connection limit (53300), a startup timeout, graceful shutdown on
//!   SIGTERM/SIGINT (stop accepting, end sessions with 57P01, checkpoint), `tracing` logs.

pub mod auth;
pub mod cancel;
pub mod client;
pub mod connection;
pub mod error;
pub mod frontend;
pub mod outbox;
pub mod throttle;
pub mod types;
pub mod users;
pub mod worker;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:5432` (port 0 picks a free port).
    pub listen: String,
    /// Most sessions at once; one more gets FATAL 53300.
    pub max_connections: usize,
    /// The longest message a client may send (a query, a Bind, a CopyData).
    pub max_message_bytes: usize,
    /// A client must finish startup within this time.
    pub startup_timeout: Duration,
    /// At shutdown, sessions get this long to end before the server stops waiting.
    pub shutdown_timeout: Duration,
    /// Stack size of each session's thread: by default what a statement is guaranteed
    /// (`phantom::SESSION_THREAD_STACK`), so no statement needs a segment of its own.
    pub session_stack_bytes: usize,
    /// How clients authenticate; `None`: trust on a loopback address without a users
    /// file, SCRAM-SHA-256 otherwise (see [`auth::AuthMethod::default_for`]).
    pub auth: Option<auth::AuthMethod>,
    /// A users file (`name:password` lines, see [`users`]) whose users may log in beside
    /// the database's roles.
    pub users_file: Option<PathBuf>,
    /// After a failed login, the next attempt from the same address waits this long,
    /// twice as long after two failures, and so on (see [`throttle`]); zero: no delay.
    pub auth_delay: Duration,
    /// The longest that wait grows to.
    pub auth_delay_max: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:5432".into(),
            max_connections: 100,
            max_message_bytes: 64 * 1024 * 1024,
            startup_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
            session_stack_bytes: phantom::SESSION_THREAD_STACK,
            auth: None,
            users_file: None,
            auth_delay: Duration::from_millis(200),
            auth_delay_max: Duration::from_secs(10),
        }
    }
}

/// What every connection shares.
pub struct Shared {
    db: phantom::Database,
    config: ServerConfig,
    auth: auth::Authenticator,
    cancels: Arc<cancel::CancelRegistry>,
    /// Delays for addresses whose logins failed.
    auth_delay: throttle::AuthDelay,
    /// Sessions past startup (and startups in progress), for the connection limit.
    sessions: AtomicUsize,
}

/// A running server. Tests start one in-process with [`Server::start`]; the `phantom
/// serve` command uses [`serve`].
pub struct Server {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
    db: phantom::Database,
}

impl Server {
    /// Loads the users file (if any), binds the listening socket and starts accepting
    /// connections on the current tokio runtime.
    pub async fn start(db: phantom::Database, config: ServerConfig) -> io::Result<Server> {
        let users = match &config.users_file {
            Some(path) => users::Users::load(path)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?,
            None => users::Users::default(),
        };
        let listener = TcpListener::bind(&config.listen).await?;
        let local_addr = listener.local_addr()?;
        let method = config
            .auth
            .unwrap_or_else(|| auth::AuthMethod::default_for(local_addr, config.users_file.is_some()));
        if method == auth::AuthMethod::Trust && !users.is_empty() {
            tracing::warn!("authentication is trust: the users file's passwords are not asked for");
        }
        tracing::info!("authentication: {method}");
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            db: db.clone(),
            auth_delay: throttle::AuthDelay::new(config.auth_delay, config.auth_delay_max),
            config,
            auth: auth::Authenticator::new(method, db.clone(), users)?,
            cancels: Arc::default(),
            sessions: AtomicUsize::new(0),
        });
        tracing::info!("listening on {local_addr}");
        let accept = tokio::spawn(accept_loop(listener, shared, shutdown_rx));
        Ok(Server { local_addr, shutdown, accept, db })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Graceful shutdown: stop accepting, end every session (a running statement is
    /// canceled, open transactions roll back, clients get FATAL 57P01), then checkpoint.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.shutdown.send(true);
        let _ = self.accept.await;
        let db = self.db;
        match tokio::task::spawn_blocking(move || db.checkpoint()).await.map_err(io::Error::other)? {
            Ok(()) => {}
            // On a full disk the final checkpoint cannot write; nothing is lost (the log
            // holds every commit, and the next open replays it), so the stop is clean.
            Err(e) if e.state == phantom::SqlState::DiskFull => {
                tracing::warn!(error = %e, "final checkpoint failed on a full disk; the next open replays the log");
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!("shut down");
        Ok(())
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    connections.spawn(connection::serve(socket, shared.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: ending {} connections", connections.len());
    let all_ended = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(shared.config.shutdown_timeout, all_ended).await.is_err() {
        tracing::warn!("{} connections did not end in time; leaving them", connections.len());
        connections.abort_all();
    }
}

/// Why the server stopped with an error.
#[derive(Debug)]
pub enum ServeError {
    /// Binding the address, a signal handler, or the runtime failed.
    Io(io::Error),
    /// The final checkpoint failed.
    Database(phantom::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Io(e) => write!(f, "{e}"),
            ServeError::Database(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {}

impl From<io::Error> for ServeError {
    fn from(e: io::Error) -> Self {
        ServeError::Io(e)
    }
}

impl From<phantom::Error> for ServeError {
    fn from(e: phantom::Error) -> Self {
        ServeError::Database(e)
    }
}

/// Runs the server until SIGTERM or SIGINT, then shuts it down gracefully. Blocks; builds
/// its own tokio runtime.
pub fn serve(db: phantom::Database, config: ServerConfig) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let server = Server::start(db, config).await?;
        wait_for_signal().await?;
        tracing::info!("shutdown requested");
        server.shutdown().await
    })
}

async fn wait_for_signal() -> io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}
