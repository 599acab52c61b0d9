//! Sessions.

use phantom_sql::session::Prepared;

use crate::{Column, CopyIn, Cursor, DataType, Output, Result, RowSink, Rows, TableDescription, Value};

/// A statement prepared with [`Session::prepare`]: parsed and checked once, run many
/// times with different parameters.
#[derive(Clone, Debug)]
pub struct Statement {
    prepared: Prepared,
}

impl Statement {
    /// How many `$n` parameters the statement takes.
    pub fn parameter_count(&self) -> usize {
        self.prepared.parameter_types.len()
    }

    /// The type of each `$n` parameter, as the statement's context decides it (TEXT where
    /// nothing does). Values given for them are converted to these types.
    pub fn parameter_types(&self) -> &[DataType] {
        &self.prepared.parameter_types
    }

    /// True for a query (SELECT, VALUES, WITH ...): one [`Session::open_cursor`] can
    /// fetch from.
    pub fn is_query(&self) -> bool {
        self.prepared.is_query()
    }

    /// The result columns of a statement that returns rows; `None` for one that returns
    /// only a command tag.
    pub fn columns(&self) -> Option<&[Column]> {
        self.prepared.columns.as_deref()
    }
}

/// A conversation with the database: runs statements one at a time, with at most one
/// open transaction. Not shared between threads; open one session per thread.
pub struct Session {
    inner: phantom_sql::Session,
}

impl Session {
    pub(crate) fn new(inner: phantom_sql::Session) -> Session {
        Session { inner }
    }

    /// Makes the session run as role `name`, as the role it logged in as: what
    /// `current_user` and `session_user` report, whose privileges each statement needs
    /// (read from the role's catalog entry at every statement), and who owns what it
    /// creates. `superuser` says whether the login may use SET SESSION AUTHORIZATION (and
    /// what `SHOW is_superuser` reports until then). The server calls it after
    /// authenticating a client; embedded sessions run as `phantom`, the bootstrap
    /// superuser. The role is not looked up or checked here.
    pub fn set_user(&mut self, name: &str, superuser: bool) {
        self.inner.set_user(name, superuser);
    }

    /// Sets a parameter as `SET name = value` would (names are case-insensitive). The
    /// server applies a client's startup parameters (`DateStyle`, `TimeZone`, ...) so.
    pub fn set_setting(&mut self, name: &str, value: &str) -> Result<()> {
        self.inner.settings_mut().set(&name.to_ascii_lowercase(), value)
    }

    /// The value `SHOW name` would give (names are case-insensitive), or `None` for a
    /// name the session does not know.
    pub fn setting(&self, name: &str) -> Option<String> {
        self.inner.settings().show(&name.to_ascii_lowercase(), None).ok()
    }

    /// `value` as PostgreSQL's text output shows it in this session: dates, times and
    /// intervals in its `DateStyle`, `IntervalStyle` and `TimeZone` (a `Value`'s own
    /// `Display` uses the defaults: ISO, postgres, UTC).
    pub fn format_value(&self, value: &Value, ty: DataType) -> String {
        self.inner.format_value(value, ty)
    }

    /// Runs `f` with this session's `DateStyle`, `IntervalStyle` and `TimeZone` in force
    /// on this thread, so that the `Display` of the values it prints follows them (the
    /// shell prints its results so).
    pub fn with_display_settings<R>(&self, f: impl FnOnce() -> R) -> R {
        self.inner.with_display_settings(f)
    }

    /// A number that changes whenever a setting does (`SET`, `SET LOCAL` and its undoing
    /// at the end of the block, `set_config()`): compare it to see whether to look at
    /// the settings again.
    pub fn settings_version(&self) -> u64 {
        self.inner.settings().version()
    }

    /// Runs one or more statements separated by `;` and returns the last one's output.
    pub fn execute(&mut self, sql: &str) -> Result<Output> {
        self.inner.execute(sql)
    }

    /// Runs statements like [`Session::execute`], but hands the rows of each row-returning
    /// statement to `sink` as they are produced instead of collecting them. The output of
    /// such a statement is `Output::Rows` with its columns and no rows.
    pub fn execute_into(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<Output> {
        self.inner.execute_into(sql, sink)
    }

    /// Runs a prepared statement, handing its rows to `sink` (see [`Session::execute_into`]).
    pub fn execute_prepared_into(
        &mut self,
        statement: &Statement,
        params: &[Value],
        sink: &mut dyn RowSink,
    ) -> Result<Output> {
        self.inner.execute_prepared_into(&statement.prepared, params, sink)
    }

    /// Opens a cursor over a prepared query inside the open transaction block (25P01
    /// outside one), to fetch its rows a few at a time with [`Session::fetch`]; `None` if
    /// the statement is not a query. The cursor is only good in this block.
    pub fn open_cursor(&mut self, statement: &Statement, params: &[Value]) -> Result<Option<Cursor>> {
        self.inner.open_cursor(&statement.prepared, params)
    }

    /// Hands at most `max` more rows of `cursor` (all that are left if `None`) to `sink`
    /// and returns how many went; [`Cursor::is_done`] says whether any are left. An error
    /// fails the block, as a statement's would.
    pub fn fetch(&mut self, cursor: &mut Cursor, max: Option<usize>, sink: &mut dyn RowSink) -> Result<u64> {
        self.inner.fetch(cursor, max, sink)
    }

    /// The columns of the cursor `name` made by DECLARE (the exact name, as stored), if
    /// it is open: what FETCH from it returns.
    pub fn cursor_columns(&self, name: &str) -> Option<&[Column]> {
        self.inner.cursor_columns(name)
    }

    /// Starts a bulk insert into `table` (`COPY ... FROM`): `columns` are the columns each
    /// row fills, in order (empty: all of them), as SQL identifiers. Write rows with
    /// [`CopyIn::write`] (text values are parsed as the column types) and end with
    /// [`CopyIn::finish`]. Outside a transaction block the copy commits on its own, all or
    /// nothing; inside one it is part of the block.
    pub fn copy_in(&mut self, table: &str, columns: &[String]) -> Result<CopyIn<'_>> {
        self.inner.copy_in(table, columns)
    }

    /// Runs a query and returns its rows (an error if the statement returns none).
    pub fn query(&mut self, sql: &str) -> Result<Rows> {
        self.inner.query(sql)
    }

    /// Prepares a statement with `$1`, `$2`, ... placeholders.
    pub fn prepare(&mut self, sql: &str) -> Result<Statement> {
        Ok(Statement { prepared: self.inner.prepare(sql)? })
    }

    /// Runs a prepared statement with one value per placeholder.
    pub fn execute_prepared(&mut self, statement: &Statement, params: &[Value]) -> Result<Output> {
        self.inner.execute_prepared(&statement.prepared, params)
    }

    /// Runs a prepared query and returns its rows.
    pub fn query_prepared(&mut self, statement: &Statement, params: &[Value]) -> Result<Rows> {
        match self.execute_prepared(statement, params)? {
            Output::Rows(rows) => Ok(rows),
            other => Err(crate::Error::new(
                crate::SqlState::InvalidParameterValue,
                format!("statement returned no rows ({})", other.tag()),
            )),
        }
    }

    /// A handle that cancels, from another thread, the statement this session is running:
    /// it fails with 57014 (`query_canceled`) and its transaction is rolled back, or its
    /// block failed, as after any other error. A request made while nothing runs is
    /// forgotten when the next statement starts.
    pub fn interrupt_handle(&self) -> crate::Interrupt {
        self.inner.interrupt_handle()
    }

    /// When the open transaction block will have waited longer than
    /// `idle_in_transaction_session_timeout` for its next statement (`None`: no block or no
    /// timeout). The next call after that rolls the block back and fails with 25P03; the
    /// server ends the connection at that moment instead, as PostgreSQL does.
    pub fn idle_deadline(&self) -> Option<std::time::Instant> {
        self.inner.idle_deadline()
    }

    /// The notices and warnings the last call raised (`drop cascades to view v`, `table
    /// "t" does not exist, skipping`, ...) that `client_min_messages` lets through,
    /// oldest first; taking them forgets them, and the next call forgets any not taken.
    pub fn take_notices(&self) -> Vec<crate::Notice> {
        self.inner.take_notices()
    }

    /// Opens an *implicit* transaction block, as the server does for the statements of
    /// one extended-protocol exchange: a BEGIN in it makes it an ordinary block, a COMMIT
    /// ends it with PostgreSQL's warning that no transaction was in progress. Nothing
    /// happens if a block is open.
    pub fn begin_implicit(&mut self) {
        self.inner.begin_implicit();
    }

    /// Ends the block [`Session::begin_implicit`] opened, if it is still implicit:
    /// commits it, or rolls it back if a statement in it failed or `commit` is false.
    pub fn end_implicit(&mut self, commit: bool) -> Result<()> {
        self.inner.end_implicit(commit)
    }

    /// True inside `BEGIN ... COMMIT`.
    pub fn in_transaction(&self) -> bool {
        self.inner.in_transaction()
    }

    /// True inside a transaction block that failed (only ROLLBACK is accepted).
    pub fn transaction_failed(&self) -> bool {
        self.inner.transaction_failed()
    }

    /// The names of all tables, sorted.
    pub fn tables(&mut self) -> Result<Vec<String>> {
        self.inner.tables()
    }

    /// The columns and keys of table `name`.
    pub fn describe(&mut self, name: &str) -> Result<TableDescription> {
        self.inner.describe(name)
    }
}
