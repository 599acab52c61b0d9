//! The session's thread: one per connection, owning the connection's [`phantom::Session`]
//! and everything the protocol remembers between messages (prepared statements, portals,
//! whether an extended-protocol error is being skipped).
//!
//! A phantom session is synchronous and may block for long (a row-lock wait, an fsync, a
//! big query), so it never runs on tokio's threads. This thread owns the socket after
//! startup ([`crate::client`]): it reads messages ([`Inbound`]), handles them strictly in
//! order, exactly as a PostgreSQL backend process does, and writes its answers through the
//! [`Outbox`]. One thread per connection is
//! PostgreSQL's process-per-connection model at a fraction of the cost; it bounds the
//! number of connections to what threads allow (see `max_connections`).
//!
//! The thread ends when the client terminates or disconnects, on a fatal protocol error,
//! or at server shutdown; dropping the session then rolls back any open transaction and
//! releases its locks.

mod copy;
mod extended;
mod rows;
mod simple;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{ReadyForQuery, TransactionStatus};
use pgwire::messages::startup::ParameterStatus;
use phantom::Session;

use crate::client::ClientReader;
use crate::error::WireError;
use crate::frontend::Frontend;
use crate::outbox::{Gone, Outbox};

/// The settings whose changes clients hear about (PostgreSQL's GUC_REPORT ones).
const REPORTED: [&str; 9] = [
    "application_name",
    "DateStyle",
    "IntervalStyle",
    "TimeZone",
    "client_encoding",
    "standard_conforming_strings",
    "is_superuser",
    "session_authorization",
    "default_transaction_read_only",
];

/// What the worker reads from the client.
#[derive(Debug)]
pub enum Inbound {
    /// A client message.
    Message(Frontend),
    /// The client sent something unreadable: answer with a FATAL error and end.
    ProtocolError(WireError),
    /// The server is shutting down: end the session.
    Shutdown,
    /// The open transaction block idled past `idle_in_transaction_session_timeout`.
    IdleTimeout,
}

/// The outcome of handling one message: the client is gone, or the message failed with
/// an error to report (and the session goes on).
type Reply = Result<Result<(), WireError>, Gone>;

/// Runs a connection's session until the connection ends. Call on a dedicated thread.
pub fn run(session: Session, inbound: ClientReader, out: Outbox) {
    let reported = REPORTED.iter().map(|&name| (name, session.setting(name))).collect();
    let mut worker = Worker {
        settings_version: session.settings_version(),
        session,
        reported,
        inbound,
        out,
        statements: HashMap::new(),
        portals: HashMap::new(),
        skipping: false,
        implicit: false,
    };
    worker.serve();
    // Dropping the session rolls back an open transaction and releases its locks.
}

struct Worker {
    session: Session,
    /// The values of the [`REPORTED`] settings as the client last heard them.
    reported: Vec<(&'static str, Option<String>)>,
    inbound: ClientReader,
    out: Outbox,
    /// Prepared statements by name ("" is the unnamed one).
    statements: HashMap<String, Arc<extended::PreparedStatement>>,
    /// Portals by name ("" is the unnamed one).
    portals: HashMap<String, extended::Portal>,
    /// After an error in the extended protocol, messages are skipped until Sync.
    skipping: bool,
    /// An implicit transaction is open: the extended-protocol statements up to the next
    /// Sync run in one transaction, as in PostgreSQL.
    implicit: bool,
    /// The session's settings version when the client last heard about them: when it
    /// moved (SET, SET LOCAL, `set_config()`), reported settings may differ.
    settings_version: u64,
}

impl Worker {
    fn serve(&mut self) {
        while let Some(inbound) = next_inbound(&mut self.inbound, &mut self.out, self.session.idle_deadline())
        {
            let message = match inbound {
                Inbound::Message(message) => message,
                Inbound::ProtocolError(e) => {
                    tracing::warn!("protocol error: {}", e.message);
                    let _ = self.out.send(e.fatal().to_error_response()).and_then(|()| self.out.flush());
                    return;
                }
                Inbound::Shutdown => {
                    self.terminate_for_shutdown();
                    return;
                }
                Inbound::IdleTimeout => {
                    // PostgreSQL ends the session; dropping it rolls the block back.
                    let e = phantom::SqlState::IdleInTransactionSessionTimeout.code();
                    let e = WireError::new(e, "terminating connection due to idle-in-transaction timeout")
                        .fatal();
                    let _ = self.out.send(e.to_error_response()).and_then(|()| self.out.flush());
                    return;
                }
            };
            let handled = match message {
                Frontend::Terminate => return,
                Frontend::Sync => self.sync(),
                // After an extended-protocol error everything up to Sync is skipped, a
                // Query too (PostgreSQL does the same).
                _ if self.skipping => Ok(()),
                Frontend::Query(sql) => self.simple_query(&sql),
                Frontend::Flush => self.out.flush(),
                // Left over from a COPY that failed: PostgreSQL ignores these too.
                Frontend::CopyData(_) | Frontend::CopyDone | Frontend::CopyFail(_) => Ok(()),
                extended => self.extended(extended).and_then(|result| match result {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        self.skipping = true;
                        self.out.send(e.to_error_response())
                    }
                }),
            };
            if handled.is_err() {
                return;
            }
        }
    }

    /// FATAL 57P01, as PostgreSQL's fast shutdown sends to each session.
    fn terminate_for_shutdown(&mut self) {
        let e = WireError::new("57P01", "terminating connection due to administrator command").fatal();
        let _ = self.out.send(e.to_error_response()).and_then(|()| self.out.flush());
    }

    /// ParameterStatus for each reported setting a statement changed (`SET
    /// application_name`, `SET DateStyle`, ...), as PostgreSQL sends them.
    fn report_changed_settings(&mut self) -> Result<(), Gone> {
        let version = self.session.settings_version();
        if version == std::mem::replace(&mut self.settings_version, version) {
            return Ok(());
        }
        for (name, last) in &mut self.reported {
            let now = self.session.setting(name);
            if now != *last {
                if let Some(value) = &now {
                    let status = ParameterStatus::new(name.to_string(), value.clone());
                    self.out.send(PgWireBackendMessage::ParameterStatus(status))?;
                }
                *last = now;
            }
        }
        Ok(())
    }

    /// NoticeResponses for what the last statement raised (sent before its
    /// CommandComplete or ErrorResponse, as PostgreSQL sends them).
    fn send_notices(&mut self) -> Result<(), Gone> {
        for notice in self.session.take_notices() {
            self.out.send(crate::error::WireError::notice(notice).to_notice())?;
        }
        Ok(())
    }

    /// ReadyForQuery with the session's transaction status (after any settings the
    /// statements before it changed).
    fn ready(&mut self) -> Result<(), Gone> {
        self.report_changed_settings()?;
        // Portals do not outlive their transaction (PostgreSQL's are not holdable either).
        if !self.session.in_transaction() {
            self.portals.clear();
        }
        let status = if self.session.transaction_failed() {
            TransactionStatus::Error
        } else if self.session.in_transaction() {
            TransactionStatus::Transaction
        } else {
            TransactionStatus::Idle
        };
        self.out.send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status)))
    }
}

/// The next message for the worker; `None` once the client is gone. Before waiting for
/// one, everything queued is flushed to the client.
fn next_inbound(inbound: &mut ClientReader, out: &mut Outbox, deadline: Option<Instant>) -> Option<Inbound> {
    if !inbound.has_message() {
        out.flush().ok()?;
    }
    inbound.next_message(deadline)
}
