//! One client connection, from its first byte to its last.
//!
//! 1. Startup (pgwire): an SSLRequest is refused (no TLS here), a CancelRequest cancels
//!    its target and closes, a StartupMessage and the password exchange go to the
//!    [`crate::auth::Authenticator`] unless the connection limit is reached (FATAL
//!    53300). All of it must finish within the startup timeout. An address whose logins
//!    failed waits its turn first ([`crate::throttle`]). The session then runs as the
//!    role authentication settled on.
//! 2. Then the socket goes to the session's own *worker* thread, which reads messages,
//!    runs them and writes the replies with blocking I/O (see [`crate::client`] for why),
//!    while this task waits for the thread to end or for server shutdown, which it passes
//!    on by interrupting the running statement and waking the thread's read.
//! 3. The connection is over when the worker is: after Terminate, a fatal error, the
//!    client's disconnect (rolling back an open transaction), or shutdown.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::sync::atomic::AtomicBool;

use futures::{SinkExt, StreamExt};
use pgwire::api::auth::StartupHandler;
use pgwire::api::{
    ClientInfo, METADATA_APPLICATION_NAME, METADATA_DATABASE, METADATA_USER, PgWireConnectionState,
};
use pgwire::messages::PgWireFrontendMessage;
use pgwire::tokio::server::{MaybeTls, PgWireMessageServerCodec, negotiate_tls};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio_util::codec::Framed;

use crate::Shared;
use crate::auth::Login;
use crate::client::{ClientReader, ClientWriter, ShutdownHandle};
use crate::error::WireError;
use crate::frontend::FrontendCodec;
use crate::outbox::Outbox;
use crate::worker;

type StartupSocket = Framed<MaybeTls, PgWireMessageServerCodec<()>>;

/// How long a session may take to say goodbye at shutdown before its socket is closed
/// under it (a client that stopped reading would otherwise hold it forever).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves one accepted connection until it ends.
pub async fn serve(socket: TcpStream, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let address = socket.peer_addr().ok();
    let peer = address.map_or_else(|| "unknown".to_string(), |a| a.to_string());
    let ip = address.map(|a| a.ip());
    let started = tokio::select! {
        started = tokio::time::timeout(shared.config.startup_timeout, startup(socket, &shared, ip)) => started,
        _ = shutdown.changed() => return,
    };
    let (socket, slot) = match started {
        Ok(Ok(Some(ready))) => ready,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::debug!("connection from {peer} failed during startup: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("connection from {peer} did not finish startup in time");
            return;
        }
    };
    let metadata = |key: &str| socket.metadata().get(key).cloned().unwrap_or_default();
    tracing::info!(
        "connection from {peer}: user={} database={} application_name={}",
        metadata(METADATA_USER),
        metadata(METADATA_DATABASE),
        metadata(METADATA_APPLICATION_NAME)
    );
    if let Err(e) = session(socket, &shared, shutdown).await {
        tracing::debug!("connection from {peer} ended with an error: {e}");
    }
    drop(slot);
    tracing::info!("connection from {peer} closed");
}

/// Holds one of the `max_connections` places while a session lives.
pub struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs the startup phase; `None` when the connection ends there (a cancel request, a
/// refused or failed startup). A client at `ip` whose logins failed waits its turn before
/// its StartupMessage is looked at (see [`crate::throttle`]).
async fn startup(
    socket: TcpStream,
    shared: &Arc<Shared>,
    ip: Option<std::net::IpAddr>,
) -> io::Result<Option<(StartupSocket, Slot)>> {
    let Some(mut socket) = negotiate_tls::<()>(socket, None).await? else { return Ok(None) };
    let mut slot = None;
    loop {
        let message = match socket.next().await {
            None => return Ok(None),
            Some(Err(e)) => {
                let error = WireError::protocol(e.to_string()).fatal();
                socket.send(error.to_error_response()).await?;
                return Ok(None);
            }
            Some(Ok(message)) => message,
        };
        match message {
            PgWireFrontendMessage::CancelRequest(cancel) => {
                let found = shared.cancels.cancel(cancel.pid, &cancel.secret_key);
                tracing::info!(
                    "cancel request for process {}: {}",
                    cancel.pid,
                    if found { "sent" } else { "no such session" }
                );
                return Ok(None);
            }
            startup @ PgWireFrontendMessage::Startup(_) => {
                if let Some(ip) = ip {
                    let turn = shared.auth_delay.admit(ip, std::time::Instant::now());
                    tokio::time::sleep_until(turn.into()).await;
                }
                let taken = shared.sessions.fetch_add(1, Ordering::AcqRel);
                slot = Some(Slot(shared.clone()));
                if taken >= shared.config.max_connections {
                    tracing::warn!(
                        "refusing a connection: {} sessions is the limit",
                        shared.config.max_connections
                    );
                    let error = WireError::new("53300", "sorry, too many clients already").fatal();
                    socket.send(error.to_error_response()).await?;
                    return Ok(None);
                }
                run_auth(shared, ip, &mut socket, startup).await?;
            }
            other => run_auth(shared, ip, &mut socket, other).await?,
        }
        if matches!(socket.state(), PgWireConnectionState::ReadyForQuery) {
            if let Some(ip) = ip {
                shared.auth_delay.succeeded(ip);
            }
            return Ok(slot.map(|slot| (socket, slot)));
        }
    }
}

/// Hands a startup-phase message to the authentication handler; its errors end the
/// connection with a FATAL ErrorResponse. A refused login (28P01, 28000) counts against
/// the client's address.
async fn run_auth(
    shared: &Shared,
    ip: Option<std::net::IpAddr>,
    socket: &mut StartupSocket,
    message: PgWireFrontendMessage,
) -> io::Result<()> {
    if let Err(e) = shared.auth.on_startup(socket, message).await {
        let info = pgwire::error::ErrorInfo::from(e);
        if info.code.starts_with("28")
            && let Some(ip) = ip
        {
            shared.auth_delay.failed(ip, std::time::Instant::now());
        }
        let error = WireError::new(&info.code, info.message).fatal();
        socket.send(error.to_error_response()).await?;
        return Err(io::Error::other("authentication failed"));
    }
    Ok(())
}

/// The session phase: the worker thread owns the socket; this task passes on shutdown.
async fn session(
    socket: StartupSocket,
    shared: &Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let (pid, secret) = socket.pid_and_secret_key();
    let Some(login) = socket.session_extensions().get::<Login>() else {
        return Err(io::Error::other("startup ended without a login"));
    };
    let startup_settings = socket.session_extensions().get::<crate::auth::StartupSettings>();
    let parts = socket.into_parts();
    let MaybeTls::Plain(tcp) = parts.io else {
        return Err(io::Error::other("only plain TCP connections are served"));
    };
    let stream = tcp.into_std()?;
    stream.set_nonblocking(false)?;
    let mut writer = ClientWriter::new(stream.try_clone()?);
    writer.write_all(&parts.write_buf)?;
    let shutting_down = Arc::new(AtomicBool::new(false));
    let stop = ShutdownHandle::new(stream.try_clone()?, shutting_down.clone());
    let codec = FrontendCodec::new(shared.config.max_message_bytes);
    let reader = ClientReader::new(stream, &parts.read_buf, codec, shutting_down);

    let mut session = shared.db.session();
    session.set_user(&login.role, login.superuser);
    // Checked at startup (a bad value was FATAL there), so these cannot fail now.
    if let Some(settings) = &startup_settings {
        for (name, value) in &settings.0 {
            if let Err(e) = session.set_setting(name, value) {
                tracing::warn!("startup setting {name}={value}: {e}");
            }
        }
    }
    let interrupt = session.interrupt_handle();
    let _registration = shared.cancels.register(pid, &secret, interrupt.clone());
    let (ended, mut ended_rx) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(format!("phantom-session-{pid}"))
        .stack_size(shared.config.session_stack_bytes)
        .spawn(move || {
            worker::run(session, reader, Outbox::new(writer));
            let _ = ended.send(());
        })?;
    tokio::select! {
        _ = &mut ended_rx => {}
        _ = shutdown.changed() => {
            // Fast shutdown: stop the running statement, then end the session.
            interrupt.interrupt();
            stop.shut_down();
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut ended_rx).await.is_err() {
                stop.close();
                let _ = ended_rx.await;
            }
        }
    }
    Ok(())
}
