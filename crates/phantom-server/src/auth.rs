//! Startup and authentication: from the client's StartupMessage to its first
//! ReadyForQuery.
//!
//! The connection loop hands every startup-phase message to a pgwire [`StartupHandler`]
//! until the connection is ready for queries. Today that handler is [`TrustAuth`]: any user
//! and any database name are accepted (one data directory is one database; the default
//! role is `phantom`), then AuthenticationOk, the ParameterStatus values PostgreSQL clients
//! read ([`ServerParameters`]), BackendKeyData for cancel requests, and ReadyForQuery.
//! Password authentication (SCRAM-SHA-256) slots in as another `StartupHandler` that asks
//! for the password first and ends with the same [`finish_authentication`].

use std::collections::HashMap;
use std::fmt::Debug;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, METADATA_APPLICATION_NAME, METADATA_USER, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

/// The version reported to clients. Clients pick features by it: pgbench adds
/// `WITH (FREEZE ON)` to its COPY from 14 on, psql picks its catalog queries by it.
pub const SERVER_VERSION: &str = concat!("15.0 (Phantom-DB ", env!("CARGO_PKG_VERSION"), ")");

/// The role a client gets when it names none.
pub const DEFAULT_USER: &str = "phantom";

/// Accepts every client without a password.
#[derive(Default)]
pub struct TrustAuth {
    keys: RandomPidSecretKeyGenerator,
    parameters: ServerParameters,
}

#[async_trait]
impl StartupHandler for TrustAuth {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(startup) = &message {
            protocol_negotiation(client, startup).await?;
            save_startup_parameters_to_metadata(client, startup);
            client
                .metadata_mut()
                .entry(METADATA_USER.to_string())
                .or_insert_with(|| DEFAULT_USER.to_string());
            let (pid, secret) = self.keys.generate(client);
            client.set_pid_and_secret_key(pid, secret);
            finish_authentication(client, &self.parameters).await?;
        }
        Ok(())
    }
}

/// The ParameterStatus values sent after authentication.
#[derive(Default)]
pub struct ServerParameters;

impl ServerParameterProvider for ServerParameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let user = client.metadata().get(METADATA_USER).cloned().unwrap_or_else(|| DEFAULT_USER.into());
        let application = client.metadata().get(METADATA_APPLICATION_NAME).cloned().unwrap_or_default();
        let parameters = [
            ("server_version", SERVER_VERSION.to_string()),
            ("server_encoding", "UTF8".into()),
            // Text is always UTF-8 here, whatever the client asked for.
            ("client_encoding", "UTF8".into()),
            ("DateStyle", "ISO, MDY".into()),
            ("IntervalStyle", "postgres".into()),
            ("TimeZone", "UTC".into()),
            ("integer_datetimes", "on".into()),
            ("standard_conforming_strings", "on".into()),
            ("is_superuser", "on".into()),
            ("session_authorization", user),
            ("application_name", application),
            ("default_transaction_read_only", "off".into()),
            ("in_hot_standby", "off".into()),
        ];
        Some(parameters.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
}
