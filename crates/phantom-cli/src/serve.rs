//! `phantom serve`: the PostgreSQL wire-protocol server on a data directory.

use std::process::ExitCode;

use crate::StorageArgs;

/// Arguments of `phantom serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Data directory to serve (created if missing), or `:memory:`.
    #[arg(default_value = "./phantom-data", value_name = "DB_DIR")]
    database: String,

    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5432")]
    listen: String,

    /// Log detail: error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: tracing::Level,

    /// Most client sessions at once; one more is refused with SQLSTATE 53300.
    #[arg(long, value_name = "N", default_value_t = 100)]
    max_connections: usize,

    /// How clients authenticate: trust (no password) or scram (SCRAM-SHA-256 passwords).
    /// Default: trust on a loopback address without --users, scram otherwise.
    #[arg(long, value_name = "METHOD")]
    auth: Option<phantom_server::auth::AuthMethod>,

    /// A users file: one `name:password` (or `name:SCRAM-SHA-256$...` verifier) a line,
    /// `#` comments. Its users may log in beside the database's roles.
    #[arg(long, value_name = "FILE")]
    users: Option<std::path::PathBuf>,

    /// After a failed login, the next attempt from the same client address waits this
    /// many milliseconds, doubling with each further failure (0: no delay).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    auth_delay_ms: u64,

    /// The longest that wait grows to, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    auth_delay_max_ms: u64,

    #[command(flatten)]
    storage: StorageArgs,
}

/// Runs the server until SIGTERM or SIGINT.
pub fn run(args: &ServeArgs) -> ExitCode {
    tracing_subscriber::fmt().with_max_level(args.log_level).with_writer(std::io::stderr).init();
    let db = match args.storage.open(&args.database) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("phantom: cannot open {}: {e}", args.database);
            return ExitCode::FAILURE;
        }
    };
    let config = phantom_server::ServerConfig {
        listen: args.listen.clone(),
        max_connections: args.max_connections,
        auth: args.auth,
        users_file: args.users.clone(),
        auth_delay: std::time::Duration::from_millis(args.auth_delay_ms),
        auth_delay_max: std::time::Duration::from_millis(args.auth_delay_max_ms),
        ..phantom_server::ServerConfig::default()
    };
    match phantom_server::serve(db, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phantom serve: {e}");
            ExitCode::FAILURE
        }
    }
}
