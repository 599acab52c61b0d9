//! Startup and authentication: from the client's StartupMessage to its first
//! ReadyForQuery, and which role the session then runs as.
//!
//! The connection loop hands every startup-phase message to the [`Authenticator`], a
//! pgwire [`StartupHandler`]. It works in one of two ways ([`AuthMethod`]):
//!
//! - **trust**: no password. A client naming a role runs as that role (refused with
//!   28000 if the role is NOLOGIN); a name that is no role is accepted and runs as
//!   `phantom`, since psql and pgbench default to the operating-system user name.
//! - **scram**: SCRAM-SHA-256 (RFC 5802/7677, without channel binding: there is no TLS).
//!   The role must exist, have LOGIN and a password; the password comes from the users
//!   file ([`crate::users`]) if it lists the name, else from the role in the catalog.
//!   Passwords are never held: both sources give verifiers, and pgwire's SCRAM checks
//!   the client's proof against them.
//!
//! The default is trust when the server listens on a loopback address (only local users
//! can connect), scram otherwise or when a users file is given; `--auth` overrides it.
//!
//! **A failed login reveals nothing.** An unknown role, a role without a password, a
//! NOLOGIN role and a wrong password all end the same way, after the same exchange:
//! one ErrorResponse, FATAL 28P01 `password authentication failed for user "x"`, and the
//! connection closes. For a login that cannot succeed the exchange runs against a mock
//! verifier whose salt is derived from the user name with a key made at server start, so
//! asking twice shows the same salt, as a real role's would (PostgreSQL's trick too). The
//! real reason goes to the server log only.
//!
//! Looking a role up reads the catalog, which may touch the disk: it runs on tokio's
//! blocking pool, never on a worker thread. After authentication come AuthenticationOk,
//! the ParameterStatus values PostgreSQL clients read ([`ServerParameters`]),
//! BackendKeyData for cancel requests and ReadyForQuery; the authenticated [`Login`] is
//! left in the connection's session extensions for the session to run as.

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::driver::AuthOutcome;
use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::auth::sasl::scram::{ScramAuth, ScramSecret};
use pgwire::api::auth::{
    AuthDriver, AuthSource, LoginInfo, Password, ServerParameterProvider, StartupHandler,
    protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, METADATA_APPLICATION_NAME, METADATA_USER};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use phantom::scram::{ITERATIONS, SALT_BYTES, Verifier};
use ring::hmac;
use ring::rand::SecureRandom;

use crate::users::Users;

/// The version reported to clients. Clients pick features by it: pgbench adds
/// `WITH (FREEZE ON)` to its COPY from 14 on, psql picks its catalog queries by it.
pub const SERVER_VERSION: &str = concat!("15.0 (Phantom-DB ", env!("CARGO_PKG_VERSION"), ")");

/// The role a client gets when it names none.
pub const DEFAULT_USER: &str = phantom::BOOTSTRAP_ROLE;

/// How clients prove who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// No password.
    Trust,
    /// SCRAM-SHA-256 passwords.
    Scram,
}

impl AuthMethod {
    /// The method when none is configured: trust where only local users can reach the
    /// server, passwords where others can or where a users file says passwords are wanted.
    pub fn default_for(listen: std::net::SocketAddr, users_file: bool) -> AuthMethod {
        if listen.ip().is_loopback() && !users_file { AuthMethod::Trust } else { AuthMethod::Scram }
    }
}

impl FromStr for AuthMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "trust" => Ok(AuthMethod::Trust),
            "scram" | "scram-sha-256" => Ok(AuthMethod::Scram),
            _ => Err(format!("unknown authentication method \"{s}\": use trust or scram")),
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMethod::Trust => "trust",
            AuthMethod::Scram => "scram-sha-256",
        })
    }
}

/// Who a connection logged in as: the role its session runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// The role's name.
    pub role: String,
    /// Whether it is a superuser.
    pub superuser: bool,
}

/// The startup handler every connection goes through.
pub struct Authenticator {
    method: AuthMethod,
    accounts: Arc<Accounts>,
    driver: AuthDriver<ServerParameters, Login>,
    scram: ScramAuth<Login>,
}

impl Authenticator {
    /// Authenticates against the roles of `db` and the users of `users`.
    pub fn new(method: AuthMethod, db: phantom::Database, users: Users) -> std::io::Result<Authenticator> {
        let mut mock_key = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut mock_key)
            .map_err(|_| std::io::Error::other("cannot generate a random key"))?;
        let accounts =
            Arc::new(Accounts { db, users, mock_key: hmac::Key::new(hmac::HMAC_SHA256, &mock_key) });
        let scram = ScramAuth::new(accounts.clone() as Arc<dyn AuthSource<Login>>);
        Ok(Authenticator { method, accounts, driver: AuthDriver::new(ServerParameters), scram })
    }

    /// Ends startup as `login`: the final SCRAM message if any, then AuthenticationOk,
    /// parameters, BackendKeyData and ReadyForQuery.
    async fn complete<C>(
        &self,
        client: &mut C,
        login: Login,
        last: Option<Authentication>,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.metadata_mut().insert(METADATA_USER.to_string(), login.role.clone());
        client.session_extensions().insert(login);
        self.driver.complete_authentication(client, last).await
    }

    /// Trust: the role named, or `phantom` for a name that is no role.
    async fn trusted(&self, user: &str) -> PgWireResult<Login> {
        let found = match self.accounts.find(user).await? {
            Some(account) => account,
            None => {
                tracing::debug!("user \"{user}\" is no role: the session runs as {DEFAULT_USER}");
                self.accounts.find(DEFAULT_USER).await?.ok_or_else(|| lookup_failed("no bootstrap role"))?
            }
        };
        if !found.can_login {
            tracing::warn!("refusing user \"{user}\": the role may not log in");
            return Err(fatal("28000", format!("role \"{user}\" is not permitted to log in")));
        }
        Ok(found.login)
    }
}

#[async_trait]
impl StartupHandler for Authenticator {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(startup) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                let settings = StartupSettings::from_parameters(client.metadata())?;
                client.session_extensions().insert(settings);
                let user = client
                    .metadata_mut()
                    .entry(METADATA_USER.to_string())
                    .or_insert_with(|| DEFAULT_USER.to_string())
                    .clone();
                match self.method {
                    AuthMethod::Trust => {
                        let login = self.trusted(&user).await?;
                        self.complete(client, login, None).await
                    }
                    AuthMethod::Scram => {
                        self.driver.begin_authentication(client, self.scram.create()).await?;
                        Ok(())
                    }
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let user = client.metadata().get(METADATA_USER).cloned().unwrap_or_default();
                match self.driver.advance_authentication(client, message).await {
                    Ok(AuthOutcome::InProgress) => Ok(()),
                    Ok(AuthOutcome::Authenticated { identity: Some(login), final_message }) => {
                        tracing::debug!("user \"{user}\" authenticated as role \"{}\"", login.role);
                        self.complete(client, login, final_message).await
                    }
                    // Only a login that cannot succeed has no identity, and its proof
                    // cannot match the mock verifier; refuse it all the same.
                    Ok(AuthOutcome::Authenticated { identity: None, .. }) => Err(password_failed(&user)),
                    Err(PgWireError::InvalidPassword(_)) => {
                        tracing::warn!("password authentication failed for user \"{user}\"");
                        Err(password_failed(&user))
                    }
                    Err(e @ (PgWireError::UserError(_) | PgWireError::IoError(_))) => Err(e),
                    Err(e) => {
                        tracing::warn!("authentication of user \"{user}\" broke off: {e}");
                        Err(fatal("08P01", e.to_string()))
                    }
                }
            }
            _ => Ok(()),
        }
    }
}

/// A FATAL error for the client.
/// The settings a client asks for in its startup packet (`DateStyle`, `IntervalStyle`,
/// `TimeZone`, as parameters of their own or as `-c name=value` in `options`, the way
/// libpq's `PGOPTIONS` and `PGTZ` send them), checked and in the form `SHOW` gives. A
/// bad value ends the connection with FATAL 22023, as in PostgreSQL. They are reported
/// in ParameterStatus and applied to the session before its first statement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartupSettings(pub Vec<(String, String)>);

/// The startup parameters applied as settings.
const STARTUP_SETTINGS: [&str; 3] = ["DateStyle", "IntervalStyle", "TimeZone"];

impl StartupSettings {
    fn from_parameters(parameters: &HashMap<String, String>) -> PgWireResult<StartupSettings> {
        let mut requested: Vec<(String, String)> = Vec::new();
        for (name, value) in parameters {
            if let Some(known) = STARTUP_SETTINGS.iter().find(|k| k.eq_ignore_ascii_case(name)) {
                requested.push((known.to_string(), value.clone()));
            }
        }
        if let Some(options) = parameters.get("options") {
            requested.extend(command_line_settings(options));
        }
        let mut checked = Vec::new();
        for (name, value) in requested {
            match phantom::check_setting(&name, &value) {
                Ok(shown) => checked.push((name, shown)),
                Err(e) => return Err(fatal(e.sqlstate(), e.message)),
            }
        }
        Ok(StartupSettings(checked))
    }

    /// The value asked for `name`, if any.
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The date/time settings in a startup `options` string: `-c name=value` and
/// `--name=value`, words separated by blanks (a backslash escapes the next character).
fn command_line_settings(options: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let setting = if words[i] == "-c" {
            i += 1;
            words.get(i).cloned()
        } else {
            words[i].strip_prefix("--").or_else(|| words[i].strip_prefix("-c")).map(str::to_string)
        };
        if let Some((name, value)) = setting.as_deref().and_then(|s| s.split_once('='))
            && let Some(known) = STARTUP_SETTINGS.iter().find(|k| k.eq_ignore_ascii_case(name))
        {
            out.push((known.to_string(), value.to_string()));
        }
        i += 1;
    }
    out
}

fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("FATAL".into(), code.into(), message)))
}

/// The one answer to every failed password login.
fn password_failed(user: &str) -> PgWireError {
    fatal("28P01", format!("password authentication failed for user \"{user}\""))
}

fn lookup_failed(reason: impl fmt::Display) -> PgWireError {
    tracing::error!("cannot look up a role: {reason}");
    fatal("XX000", "cannot look up the role".into())
}

/// What a user name stands for at login.
struct Account {
    /// The role a session of this user runs as.
    login: Login,
    /// The password's verifier, if there is one.
    verifier: Option<Verifier>,
    /// False for a NOLOGIN role.
    can_login: bool,
}

/// The roles and users logins are checked against.
struct Accounts {
    db: phantom::Database,
    users: Users,
    /// Derives the mock verifiers of logins that cannot succeed.
    mock_key: hmac::Key,
}

impl Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts").field("users", &self.users.len()).finish_non_exhaustive()
    }
}

impl Accounts {
    /// The account of `user`: the users file's entry (the role's SUPERUSER flag still
    /// comes from the catalog, if it has the role), else the role in the catalog.
    async fn find(&self, user: &str) -> PgWireResult<Option<Account>> {
        let db = self.db.clone();
        let name = user.to_string();
        let role = tokio::task::spawn_blocking(move || db.role(&name))
            .await
            .map_err(lookup_failed)?
            .map_err(lookup_failed)?;
        if let Some(verifier) = self.users.verifier(user) {
            let superuser = role.is_some_and(|r| r.superuser);
            let login = Login { role: user.to_string(), superuser };
            return Ok(Some(Account { login, verifier: Some(verifier.clone()), can_login: true }));
        }
        Ok(role.map(|role| {
            let verifier = role.password.as_deref().and_then(|text| {
                let parsed = Verifier::parse(text);
                if parsed.is_none() {
                    tracing::warn!(
                        "role \"{}\" has a password that is not a SCRAM-SHA-256 verifier",
                        role.name
                    );
                }
                parsed
            });
            Account {
                login: Login { role: role.name, superuser: role.superuser },
                verifier,
                can_login: role.login,
            }
        }))
    }

    /// A verifier no password matches, the same for every request for `user`.
    fn mock(&self, user: &str) -> ScramSecret {
        let derive = |purpose: &str| {
            let tag = hmac::sign(&self.mock_key, format!("{purpose}\0{user}").as_bytes());
            tag.as_ref().to_vec()
        };
        ScramSecret::Verifier {
            salt: derive("salt")[..SALT_BYTES].to_vec(),
            iterations: ITERATIONS as usize,
            stored_key: derive("stored key"),
            server_key: derive("server key"),
        }
    }
}

#[async_trait]
impl AuthSource<Login> for Accounts {
    async fn get_password(&self, _login: &LoginInfo) -> PgWireResult<Password> {
        // Only SCRAM is offered, and it asks for verifiers (below), never passwords.
        Err(PgWireError::InvalidSASLState)
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<Login>)> {
        let user = login.user().unwrap_or(DEFAULT_USER);
        let cannot = |reason: &str| {
            tracing::info!("password authentication for user \"{user}\" cannot succeed: {reason}");
            Ok((self.mock(user), None))
        };
        match self.find(user).await? {
            None => cannot("no such role"),
            Some(account) if !account.can_login => cannot("the role may not log in (NOLOGIN)"),
            Some(Account { verifier: None, .. }) => cannot("the role has no password"),
            Some(Account { verifier: Some(v), login, .. }) => {
                let secret = ScramSecret::Verifier {
                    salt: v.salt,
                    iterations: v.iterations as usize,
                    stored_key: v.stored_key,
                    server_key: v.server_key,
                };
                Ok((secret, Some(login)))
            }
        }
    }
}

/// The ParameterStatus values sent after authentication.
pub struct ServerParameters;

impl ServerParameterProvider for ServerParameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let login = client.session_extensions().get::<Login>();
        let user = login.as_ref().map_or(DEFAULT_USER, |l| l.role.as_str()).to_string();
        let superuser = login.as_ref().is_none_or(|l| l.superuser);
        let application = client.metadata().get(METADATA_APPLICATION_NAME).cloned().unwrap_or_default();
        let asked = client.session_extensions().get::<StartupSettings>().unwrap_or_default();
        let setting = |name: &str, default: &str| asked.get(name).unwrap_or(default).to_string();
        let parameters = [
            ("server_version", SERVER_VERSION.to_string()),
            ("server_encoding", "UTF8".into()),
            // Text is always UTF-8 here, whatever the client asked for.
            ("client_encoding", "UTF8".into()),
            ("DateStyle", setting("DateStyle", "ISO, MDY")),
            ("IntervalStyle", setting("IntervalStyle", "postgres")),
            ("TimeZone", setting("TimeZone", "UTC")),
            ("integer_datetimes", "on".into()),
            ("standard_conforming_strings", "on".into()),
            ("is_superuser", if superuser { "on" } else { "off" }.into()),
            ("session_authorization", user),
            ("application_name", application),
            ("default_transaction_read_only", "off".into()),
            ("in_hot_standby", "off".into()),
        ];
        Some(parameters.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
}
