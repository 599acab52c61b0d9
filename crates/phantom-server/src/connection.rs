//! One client connection, from its first byte to its last.
//!
//! 1. Startup (pgwire): an SSLRequest is refused (no TLS here), a CancelRequest cancels
//!    its target and closes, a StartupMessage and the password exchange go to the
//!    [`crate::auth::Authenticator`] unless the connection limit is reached (FATAL
//!    53300). All of it must finish within the startup timeout. The session then runs
//!    as the role authentication settled on.
//! 2. Then three parts run side by side: the *reader* task decodes client messages
//!    ([`FrontendCodec`]) and queues them to the *worker* thread, which owns the session
//!    (see [`crate::worker`]); the *writer* task puts the worker's output on the socket.
//!    The reader also passes on server shutdown.
//! 3. The connection is over when the worker is: after Terminate, a fatal error, the
//!    client's disconnect (the reader stops, the worker drains what was queued and ends,
//!    rolling back an open transaction), or shutdown.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use pgwire::api::auth::StartupHandler;
use pgwire::api::{
    ClientInfo, METADATA_APPLICATION_NAME, METADATA_DATABASE, METADATA_USER, PgWireConnectionState,
};
use pgwire::messages::PgWireFrontendMessage;
use pgwire::tokio::server::{MaybeTls, PgWireMessageServerCodec, negotiate_tls};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::{Framed, FramedRead};

use crate::Shared;
use crate::auth::Login;
use crate::error::WireError;
use crate::frontend::{Frontend, FrontendCodec};
use crate::outbox::Outbox;
use crate::worker::{self, Inbound};

type StartupSocket = Framed<MaybeTls, PgWireMessageServerCodec<()>>;

/// Serves one accepted connection until it ends.
pub async fn serve(socket: TcpStream, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let peer = socket.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "unknown".into());
    let started = tokio::select! {
        started = tokio::time::timeout(shared.config.startup_timeout, startup(socket, &shared)) => started,
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
/// refused or failed startup).
async fn startup(socket: TcpStream, shared: &Arc<Shared>) -> io::Result<Option<(StartupSocket, Slot)>> {
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
                run_auth(&shared.auth, &mut socket, startup).await?;
            }
            other => run_auth(&shared.auth, &mut socket, other).await?,
        }
        if matches!(socket.state(), PgWireConnectionState::ReadyForQuery) {
            return Ok(slot.map(|slot| (socket, slot)));
        }
    }
}

/// Hands a startup-phase message to the authentication handler; its errors end the
/// connection with a FATAL ErrorResponse.
async fn run_auth(
    auth: &impl StartupHandler,
    socket: &mut StartupSocket,
    message: PgWireFrontendMessage,
) -> io::Result<()> {
    if let Err(e) = auth.on_startup(socket, message).await {
        let info = pgwire::error::ErrorInfo::from(e);
        let error = WireError::new(&info.code, info.message).fatal();
        socket.send(error.to_error_response()).await?;
        return Err(io::Error::other("authentication failed"));
    }
    Ok(())
}

/// The session phase: reader, worker thread, writer.
async fn session(
    socket: StartupSocket,
    shared: &Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let (pid, secret) = socket.pid_and_secret_key();
    let Some(login) = socket.session_extensions().get::<Login>() else {
        return Err(io::Error::other("startup ended without a login"));
    };
    let parts = socket.into_parts();
    let (read_half, mut write_half) = tokio::io::split(parts.io);
    write_half.write_all(&parts.write_buf).await?;
    let mut reader = FramedRead::new(read_half, FrontendCodec::new(shared.config.max_message_bytes));
    reader.read_buffer_mut().extend_from_slice(&parts.read_buf);

    let mut session = shared.db.session();
    session.set_user(&login.role, login.superuser);
    let interrupt = session.interrupt_handle();
    let _registration = shared.cancels.register(pid, &secret, interrupt.clone());
    let (inbound, inbound_rx) = mpsc::channel::<Inbound>(64);
    let (outbound, mut outbound_rx) = mpsc::channel::<Bytes>(8);
    std::thread::Builder::new()
        .name(format!("phantom-session-{pid}"))
        .stack_size(shared.config.session_stack_bytes)
        .spawn(move || worker::run(session, inbound_rx, Outbox::new(outbound)))?;

    let writer = async move {
        while let Some(chunk) = outbound_rx.recv().await {
            if write_half.write_all(&chunk).await.is_err() {
                // Dropping the receiver tells the worker the client is gone.
                return;
            }
        }
        let _ = write_half.shutdown().await;
    };
    let reader = async move {
        loop {
            tokio::select! {
                message = reader.next() => match message {
                    Some(Ok(message)) => {
                        let last = message == Frontend::Terminate;
                        if inbound.send(Inbound::Message(message)).await.is_err() || last {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        let _ = inbound.send(Inbound::ProtocolError(e)).await;
                        return;
                    }
                    None => return,
                },
                _ = shutdown.changed() => {
                    // Fast shutdown: stop the running statement, then end the session.
                    interrupt.interrupt();
                    let _ = inbound.send(Inbound::Shutdown).await;
                    return;
                }
            }
        }
    };
    tokio::pin!(writer);
    tokio::select! {
        () = &mut writer => {}
        () = reader => writer.await,
    }
    Ok(())
}
