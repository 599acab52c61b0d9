//! # Phantom-DB, embedded
//!
//! Open a data directory (or an in-memory database), start sessions, run SQL:
//!
//! ```no_run
//! let db = phantom::Database::open("./phantom-data")?;
//! let mut session = db.session();
//! session.execute("CREATE TABLE t (a INT PRIMARY KEY, b TEXT)")?;
//! session.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')")?;
//! let rows = session.query("SELECT b FROM t WHERE a = 2")?;
//! assert_eq!(rows.rows[0].get::<String>(0)?, "y");
//! # Ok::<(), phantom::Error>(())
//! ```
//!
//! A [`Database`] is cheap to clone and safe to share across threads; each thread opens its
//! own [`Session`]. A session runs one transaction at a time: statements outside
//! `BEGIN ... COMMIT` commit on their own (autocommit).
//!
//! Only one process may open a data directory at a time; a second one gets a clear error
//! from an OS file lock instead of a corrupted database.

mod database;
mod session;

pub use database::{Database, Options};
pub use phantom_sql::catalog::pg_catalog::{type_modifier as pg_type_modifier, type_oid as pg_type_oid};
pub use phantom_sql::catalog::{BOOTSTRAP_ROLE, RoleDef as Role};
pub use phantom_sql::copy;
/// The stack a thread that runs statements should have, so that no statement needs a
/// stack segment of its own (any stack is safe; see phantom-sql's `depth` module).
pub use phantom_sql::depth::THREAD_STACK as SESSION_THREAD_STACK;
pub use phantom_sql::error::{Error, Position, Result, SqlState};
pub use phantom_sql::interrupt::Interrupt;
pub use phantom_sql::notice::{Notice, Severity};
pub use phantom_sql::parser::{is_blank, split_statements};
pub use phantom_sql::result::{Column, FromValue, Output, Row, RowSink, Rows};
pub use phantom_sql::scram;
pub use phantom_sql::session::{ColumnDescription, CopyIn, Cursor, TableDescription};
pub use phantom_sql::types::datetime::{Interval, calendar};
pub use phantom_sql::types::{DataType, Decimal, Value, format_float, format_real};
pub use phantom_storage::SyncMode;
pub use phantom_txn::{RecoveryReport, default_buffer_pool_size};
pub use session::{Session, Statement};

/// Checks `SET name = value` without a session: the value `SHOW name` would then give,
/// or the error the SET would fail with (the server checks a client's startup
/// parameters so before it reports them).
pub fn check_setting(name: &str, value: &str) -> Result<String> {
    let mut settings = phantom_sql::block::Settings::default();
    let name = name.to_ascii_lowercase();
    settings.set(&name, value)?;
    settings.show(&name, None)
}
