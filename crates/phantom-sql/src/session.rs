//! Sessions: statements in, results out, with PostgreSQL's transaction behaviour.
//!
//! Outside `BEGIN ... COMMIT` every statement runs in its own transaction (autocommit).
//! Inside a transaction block, each statement sees the effects of the earlier ones, and
//! an error puts the block into the failed state: further statements are refused with
//! 25P02 until `ROLLBACK` (a `COMMIT` of a failed block rolls back, as in PostgreSQL).
//!
//! Life of a statement: [`crate::parser::parse`] -> [`Binder::statement`] (names and types,
//! inside the transaction) -> parameters substituted -> [`optimizer::optimize`] ->
//! [`exec::execute`] -> rows collected into an [`Output`].
//!
//! Each call of the API gets a fresh [`MemoryBudget`] of `phantom.statement_mem` (see
//! [`crate::budget`]): the statement text's parse estimate is reserved from it before
//! parsing, the operators charge what they keep, and so do the rows [`Session::execute`]
//! collects for its caller (the server's streamed rows are not held, so not charged).

mod copy_in;
mod cursor;
mod sql_cursors;

use std::sync::Arc;

use phantom_txn::{Isolation, Transaction};
use sqlparser::ast::{self, Statement as Ast};

use crate::binder::{Binder, BoundStatement, NewIndex, NewTable};
use crate::block::{self, Block, SettingChange, Settings};
use crate::budget::{MemoryBudget, Reservation};
use crate::catalog::{IndexDef, TableDef, pg_catalog};
use crate::error::{Error, Result, SqlState};
use crate::exec::{self, Context};
use crate::instance::Instance;
use crate::interrupt::Interrupt;
use crate::notice::{Notice, raise};
use crate::parse_cache::ParseCache;
use crate::parser;
use crate::planner::{Expr, Plan, explain, optimizer};
use crate::privilege;
use crate::result::{Column, Output, Row, RowSink, Rows};
use crate::sequence::SessionSequences;
use crate::types::cast::{self, CastKind};
use crate::types::{DataType, Value, datetime};

pub use copy_in::CopyIn;
pub use cursor::Cursor;

/// A column of a table, as `\d` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDescription {
    /// The column's name.
    pub name: String,
    /// Its type.
    pub data_type: DataType,
    /// False for NOT NULL columns.
    pub nullable: bool,
    /// The DEFAULT expression, as SQL text.
    pub default: Option<String>,
}

/// A table, as `\d` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDescription {
    /// The table's name, qualified with its schema unless the search path finds it bare.
    pub name: String,
    /// Its columns.
    pub columns: Vec<ColumnDescription>,
    /// The primary key's column names, in key order (empty if none).
    pub primary_key: Vec<String>,
    /// The storage engine.
    pub engine: String,
    /// Secondary indexes, as `\d` lists them: e.g. `emp_email UNIQUE (email) lsm`.
    pub indexes: Vec<String>,
    /// CHECK constraints: e.g. `t_v_check CHECK (v > 0)`.
    pub checks: Vec<String>,
    /// The table's foreign keys: e.g. `c_p_id_fkey FOREIGN KEY (p_id) REFERENCES p (id)`.
    pub foreign_keys: Vec<String>,
    /// Foreign keys of tables that reference this one, as
    /// `TABLE c CONSTRAINT c_p_id_fkey FOREIGN KEY (p_id) REFERENCES p (id)`.
    pub referenced_by: Vec<String>,
}

/// A parsed statement with `$n` parameters, ready to execute many times.
#[derive(Clone, Debug)]
pub struct Prepared {
    statement: Ast,
    /// The types of the parameters, as far as the statement's context decides them.
    pub parameter_types: Vec<DataType>,
    /// The result columns of a statement that returns rows (a query, SHOW, EXPLAIN);
    /// `None` for one that returns only a command tag.
    pub columns: Option<Vec<Column>>,
}

impl Prepared {
    /// True for a query (SELECT, VALUES, WITH ...), whose rows a cursor can fetch.
    pub fn is_query(&self) -> bool {
        matches!(self.statement, Ast::Query(_))
    }

    /// Fails unless `params` has a value for each of the statement's parameters.
    fn check_arity(&self, params: &[Value]) -> Result<()> {
        if params.len() == self.parameter_types.len() {
            return Ok(());
        }
        Err(Error::new(
            SqlState::SyntaxError,
            format!(
                "wrong number of parameters for prepared statement: expected {}, got {}",
                self.parameter_types.len(),
                params.len()
            ),
        ))
    }
}

/// A connection's state: its settings, open transaction block and SQL-level prepared
/// statements.
pub struct Session {
    instance: Arc<Instance>,
    /// The explicit transaction block, if one is open.
    block: Option<Block>,
    settings: Settings,
    /// `PREPARE name AS ...` statements, by name.
    prepared: std::collections::HashMap<String, Prepared>,
    /// Raised by another thread to cancel the running statement.
    interrupt: Interrupt,
    /// Statements parsed before, by shape (see [`crate::parse_cache`]).
    parse_cache: ParseCache,
    /// Cursors made by DECLARE, by name (see [`sql_cursors`]).
    cursors: std::collections::HashMap<String, sql_cursors::Declared>,
    /// What `currval` and `lastval` answer (see [`crate::sequence`]).
    sequence_session: Arc<SessionSequences>,
    /// When the last call ended, for `idle_in_transaction_session_timeout` (shared so
    /// that a call whose result borrows the session can still set it).
    idle_since: Arc<std::sync::Mutex<std::time::Instant>>,
    /// The memory budget of the running call (see [`crate::budget`]); each call of the
    /// API starts a new one.
    budget: MemoryBudget,
    /// True while a call runs, so a call made inside another (FETCH pulls through
    /// [`Session::fetch`]) keeps the outer call's budget (shared, as `idle_since`).
    in_call: Arc<std::sync::atomic::AtomicBool>,
    /// When the open block began (`now()` inside it), microseconds since the epoch.
    block_started_at: i64,
}

impl Session {
    /// A new session on `instance`.
    pub fn new(instance: Arc<Instance>) -> Session {
        Session {
            block: None,
            settings: Settings::default(),
            prepared: Default::default(),
            interrupt: Interrupt::default(),
            parse_cache: ParseCache::default(),
            cursors: Default::default(),
            sequence_session: Arc::new(SessionSequences::new(instance.sequence_states.clone())),
            idle_since: Arc::new(std::sync::Mutex::new(std::time::Instant::now())),
            budget: MemoryBudget::default(),
            in_call: Default::default(),
            block_started_at: 0,
            instance,
        }
    }

    /// Installs the session's date/time settings and clock for what runs until the
    /// returned guard drops (see [`datetime::settings`]): a statement's casts, functions
    /// and the text form of the values it sends.
    pub(crate) fn enter_datetime(&self) -> datetime::settings::Scope {
        let now = datetime::settings::now_micros();
        let transaction_start = if self.block.is_some() { self.block_started_at } else { now };
        datetime::settings::enter(datetime::settings::Context {
            settings: self.settings.datetime.clone(),
            transaction_start,
            statement_start: now,
        })
    }

    /// Runs `f` with this session's `DateStyle`, `IntervalStyle` and `TimeZone` in force,
    /// so that values `f` prints (their `Display`) show as the session's client would see
    /// them.
    pub fn with_display_settings<R>(&self, f: impl FnOnce() -> R) -> R {
        let _scope = self.enter_datetime();
        f()
    }

    /// `value` as text in this session's `DateStyle`, `IntervalStyle` and `TimeZone`
    /// (what a client of the server receives), for callers that print rows after the
    /// statement has run.
    pub fn format_value(&self, value: &Value, ty: DataType) -> String {
        let _scope = self.enter_datetime();
        value.text_as(ty)
    }

    /// A handle another thread can use to cancel the statement this session is running
    /// (57014). Each call that runs statements starts by clearing it.
    pub fn interrupt_handle(&self) -> Interrupt {
        self.interrupt.clone()
    }

    /// True inside `BEGIN ... COMMIT`.
    pub fn in_transaction(&self) -> bool {
        self.block.is_some()
    }

    /// True inside a transaction block that hit an error.
    pub fn transaction_failed(&self) -> bool {
        self.block.as_ref().is_some_and(|b| b.failed)
    }

    /// The session's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The session's settings, to change.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Makes the session run as role `name` (`current_user`, `session_user`, `SHOW
    /// is_superuser`), as the role it logged in as. The server calls it once a client has
    /// logged in; the embedded default is the bootstrap superuser `phantom`. Nothing is
    /// checked here: deciding who may be whom is authentication's business. What the
    /// session may do is then decided statement by statement, from the role's entry in
    /// the catalog (see [`crate::privilege`]); `superuser` says whether the login may use
    /// SET SESSION AUTHORIZATION, as PostgreSQL's authenticated superuser may.
    pub fn set_user(&mut self, name: &str, superuser: bool) {
        self.settings.log_in(name, superuser);
    }

    /// Runs every statement in `sql` and returns the last one's output.
    pub fn execute(&mut self, sql: &str) -> Result<Output> {
        self.as_statement(|s| {
            let mut rows = Collect::new(s.budget.reservation("the collected result"));
            let output = s.execute_text(sql, &mut rows)?;
            Ok(collected(output, rows.rows))
        })
    }

    /// Runs every statement in `sql`, handing the rows of each row-returning statement to
    /// `sink` as they are produced. The returned output of such a statement is
    /// `Output::Rows` with its columns and no rows (the sink has them).
    pub fn execute_into(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<Output> {
        self.as_statement(|s| s.execute_text(sql, sink))
    }

    /// Runs one call of the session's API (a statement, a fetch, a COPY's start) as a
    /// statement: a cancel requested while nothing ran is forgotten, `statement_timeout`
    /// is armed (see [`crate::interrupt`]), and the work runs with the stack
    /// [`crate::depth`] guarantees.
    fn as_statement<'s, T>(&'s mut self, f: impl FnOnce(&'s mut Session) -> Result<T>) -> Result<T> {
        crate::notice::clear();
        self.end_idle_transaction()?;
        let interrupt = self.interrupt.clone();
        interrupt.clear();
        if let Some(timeout) = self.settings.statement_timeout {
            interrupt.arm(timeout);
        }
        let limit = self.settings.max_depth;
        let in_call = self.in_call.clone();
        let outermost = !in_call.swap(true, std::sync::atomic::Ordering::Relaxed);
        if outermost {
            self.budget = MemoryBudget::new(self.settings.statement_mem);
        }
        let idle_since = self.idle_since.clone();
        let result = crate::depth::statement(move || crate::depth::with_limit(limit, move || f(self)));
        interrupt.disarm();
        if outermost {
            in_call.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        *idle_since.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now();
        // A lock wait reports any raised flag as a cancel request.
        result.map_err(|e| if e.state == SqlState::QueryCanceled { interrupt.stopped() } else { e })
    }

    /// Ends the open block if it waited for this call longer than
    /// `idle_in_transaction_session_timeout`: it is rolled back and the call fails with
    /// 25P03. (PostgreSQL ends the connection; the server does that when it sees the
    /// timeout pass, see [`Session::idle_deadline`]. Embedded, the session goes on.)
    fn end_idle_transaction(&mut self) -> Result<()> {
        let Some(deadline) = self.idle_deadline() else { return Ok(()) };
        if std::time::Instant::now() < deadline {
            return Ok(());
        }
        self.rollback_block()?;
        Err(idle_timeout())
    }

    /// When the open transaction block will have idled past
    /// `idle_in_transaction_session_timeout` (`None`: no block, or no timeout). The server
    /// waits for the next message no longer than that.
    pub fn idle_deadline(&self) -> Option<std::time::Instant> {
        let timeout = self.settings.idle_in_transaction_timeout?;
        self.block.as_ref()?;
        let since = *self.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        since.checked_add(timeout)
    }

    /// [`Session::execute_into`], inside [`Session::as_statement`].
    fn execute_text(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<Output> {
        if let Some(output) = self.alter_sequences(sql, sink) {
            return output;
        }
        let _text = self.reserve_text(sql)?;
        let parsed = self.parse_cache.parse(sql);
        let statements = self.parse(parsed)?;
        let mut last = Output::Command("EMPTY".into());
        for statement in &statements {
            // A SET earlier in the text counts for the statements after it.
            self.budget.set_limit(self.settings.statement_mem);
            last = self.run(statement, &[], sink)?;
        }
        Ok(last)
    }

    /// Reserves what parsing and planning `sql` is estimated to take (see
    /// [`crate::budget`]) before it is parsed; a text that cannot fit fails with 54000,
    /// and like a syntax error fails the open block.
    fn reserve_text(&mut self, sql: &str) -> Result<Reservation> {
        self.budget.set_limit(self.settings.statement_mem);
        let reserved = self.budget.reserve_text(sql.len(), crate::parse_cost::memory_estimate(sql));
        self.parse(reserved)
    }

    /// ALTER SEQUENCE, which the parser does not take, in `sql`: `None` when there is
    /// none; else every statement of `sql`, one at a time.
    fn alter_sequences(&mut self, sql: &str, sink: &mut dyn RowSink) -> Option<Result<Output>> {
        // A quick look first: most texts cannot hold one.
        let mentions = |word: &[u8]| sql.as_bytes().windows(word.len()).any(|w| w.eq_ignore_ascii_case(word));
        if !(mentions(b"alter") && mentions(b"sequence")) {
            return None;
        }
        let (mut statements, rest) = parser::split_statements(sql);
        statements.push(rest);
        let alters: Vec<_> = statements.iter().map(|s| parser::parse_alter_sequence(s)).collect();
        if alters.iter().all(Option::is_none) {
            return None;
        }
        let mut last = Output::Command("EMPTY".into());
        for (statement, alter) in statements.iter().zip(alters) {
            let output = match alter {
                Some(alter) => self.parse(alter).and_then(|alter| self.alter_sequence(&alter)),
                None if statement.trim().is_empty() => continue,
                None => self.execute_text(statement, sink),
            };
            match output {
                Ok(output) => last = output,
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(last))
    }

    fn alter_sequence(&mut self, alter: &parser::AlterSequence) -> Result<Output> {
        if self.block.as_ref().is_some_and(|b| b.read_only && !b.failed) {
            return self.fail_on_error(Err(Error::new(
                SqlState::ReadOnlySqlTransaction,
                "cannot execute ALTER SEQUENCE in a read-only transaction",
            )));
        }
        let settings = self.settings.clone();
        self.in_transaction_block(|instance, txn| {
            let path = settings.lookup_path();
            let mut binder =
                Binder::new(&instance.catalog, txn).with_settings(&settings).with_search_path(&path);
            let bound = binder.alter_sequence(alter)?;
            let principal = privilege::check_statement(&instance.catalog, txn, &settings, &mut binder)?;
            match bound {
                BoundStatement::AlterSequence { def, restart } => {
                    crate::sequence::ddl::alter_sequence(instance, txn, def, restart)
                }
                BoundStatement::AlterOwner { object, owner } => {
                    privilege::owner::alter_owner(&instance.catalog, txn, &principal, &object, &owner)
                }
                _ => Ok(Output::Command("ALTER SEQUENCE".into())),
            }
        })
    }

    /// Runs one query and returns its rows.
    pub fn query(&mut self, sql: &str) -> Result<Rows> {
        self.as_statement(|s| s.query_text(sql))
    }

    fn query_text(&mut self, sql: &str) -> Result<Rows> {
        let _text = self.reserve_text(sql)?;
        let statement = self.parse(parser::parse_one(sql))?;
        let mut collect = Collect::new(self.budget.reservation("the collected result"));
        let output = self.run(&statement, &[], &mut collect)?;
        let rows = collect.rows;
        match output {
            Output::Rows(_) | Output::Fetched(_) => Ok(rows),
            // INSERT ... RETURNING
            Output::Modified { .. } if !rows.columns.is_empty() => Ok(rows),
            other => Err(Error::new(
                SqlState::InvalidParameterValue,
                format!("statement returned no rows ({})", other.tag()),
            )),
        }
    }

    /// Parses and checks a statement with `$1`, `$2`, ... parameters.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared> {
        self.as_statement(|s| {
            let _text = s.reserve_text(sql)?;
            let statement = s.parse(parser::parse_one(sql))?;
            s.prepare_statement(statement, &[])
        })
    }

    /// Prepares `statement`, its first parameters of the `declared` types (PREPARE's).
    fn prepare_statement(&mut self, statement: Ast, declared: &[DataType]) -> Result<Prepared> {
        let _datetime = self.enter_datetime();
        let text = |name: String| Some(vec![Column { name, data_type: DataType::Text }]);
        let (parameter_types, columns) = match &statement {
            Ast::Query(_) | Ast::Insert(_) | Ast::Update(_) | Ast::Delete(_) => {
                self.bind_to_prepare(&statement, declared)?
            }
            Ast::Declare { stmts, .. } => match stmts.as_slice() {
                // The cursor's query decides the parameters; DECLARE itself returns no rows.
                [ast::Declare { for_query: Some(query), .. }] => {
                    (self.bind_to_prepare(&Ast::Query(query.clone()), declared)?.0, None)
                }
                _ => (Vec::new(), None),
            },
            Ast::Fetch { name, into, .. } => (Vec::new(), self.fetch_columns(name, into.as_ref())),
            Ast::Explain { .. } => (Vec::new(), text("QUERY PLAN".into())),
            Ast::ShowVariable { variable } => (Vec::new(), text(shown_setting(&self.settings, variable).1)),
            Ast::Execute { name: Some(name), .. } => {
                let name = name.to_string().to_ascii_lowercase();
                (Vec::new(), self.prepared.get(&name).and_then(|p| p.columns.clone()))
            }
            _ => (Vec::new(), None),
        };
        Ok(Prepared { statement, parameter_types, columns })
    }

    /// Binds a statement that is prepared (in the open block, or a transaction of its
    /// own): the types of its parameters, and its result columns if it is a query.
    fn bind_to_prepare(
        &mut self,
        statement: &Ast,
        declared: &[DataType],
    ) -> Result<(Vec<DataType>, Option<Vec<Column>>)> {
        let settings = &self.settings;
        let (types, bound) =
            Self::read_in(&self.block, settings, &self.instance, &self.interrupt, |instance, txn| {
                let mut binder = Binder::new(&instance.catalog, txn)
                    .with_system_views(&instance.store)
                    .with_settings(settings)
                    .with_search_path(&settings.lookup_path())
                    .with_parameter_types(declared);
                let bound = binder.statement(statement);
                Ok((binder.parameter_types(), bound))
            })?;
        let columns = match bound? {
            BoundStatement::Query(plan) => Some(visible_columns(&plan)),
            BoundStatement::ModifyReturning(_, returning) => Some(returning.columns),
            _ => None,
        };
        Ok((types, columns))
    }

    /// Runs a prepared statement with `params` for its `$n` placeholders.
    pub fn execute_prepared(&mut self, prepared: &Prepared, params: &[Value]) -> Result<Output> {
        self.as_statement(|s| {
            let mut rows = Collect::new(s.budget.reservation("the collected result"));
            let output = s.run_prepared(prepared, params, &mut rows)?;
            Ok(collected(output, rows.rows))
        })
    }

    /// Runs a prepared statement, handing its rows (if it returns any) to `sink` as they
    /// are produced, as [`Session::execute_into`] does.
    pub fn execute_prepared_into(
        &mut self,
        prepared: &Prepared,
        params: &[Value],
        sink: &mut dyn RowSink,
    ) -> Result<Output> {
        self.as_statement(|s| s.run_prepared(prepared, params, sink))
    }

    fn run_prepared(
        &mut self,
        prepared: &Prepared,
        params: &[Value],
        sink: &mut dyn RowSink,
    ) -> Result<Output> {
        prepared.check_arity(params)?;
        self.run(&prepared.statement, params, sink)
    }

    /// The names of all tables, sorted: unqualified where the search path finds the table
    /// by its name alone, else as `schema.table`.
    pub fn tables(&mut self) -> Result<Vec<String>> {
        let path = self.settings.lookup_path();
        self.as_statement(|s| {
            s.read(|instance, txn| {
                let mut names = Vec::new();
                for t in instance.catalog.tables(txn)? {
                    names.push(display_name(instance, txn, &path, &t)?);
                }
                names.sort();
                Ok(names)
            })
        })
    }

    /// Describes table `name` (`table` or `schema.table`, as stored: no case folding),
    /// found through the search path like a name in a query.
    pub fn describe(&mut self, name: &str) -> Result<TableDescription> {
        let path = self.settings.lookup_path();
        self.as_statement(|s| {
            s.read(|instance, txn| {
                let (schema, table) = match name.split_once('.') {
                    Some((schema, table)) => (Some(schema), table),
                    None => (None, name),
                };
                let t = match instance.catalog.find_relation(txn, &path, schema, table)? {
                    Some(crate::catalog::Relation::Table(t)) => t,
                    _ => {
                        return Err(Error::new(
                            SqlState::UndefinedTable,
                            format!("relation \"{name}\" does not exist"),
                        ));
                    }
                };
                Ok(TableDescription {
                    name: display_name(instance, txn, &path, &t)?,
                    columns: t
                        .columns
                        .iter()
                        .map(|c| ColumnDescription {
                            name: c.name.clone(),
                            data_type: c.data_type,
                            nullable: c.nullable,
                            default: c.default.clone(),
                        })
                        .collect(),
                    primary_key: t.primary_key.iter().map(|&i| t.columns[i].name.clone()).collect(),
                    engine: t.engine.clone(),
                    indexes: t
                        .indexes
                        .iter()
                        .map(|ix| {
                            let columns: Vec<&str> =
                                ix.columns.iter().map(|&c| t.columns[c].name.as_str()).collect();
                            let unique = if ix.unique { " UNIQUE" } else { "" };
                            format!("{}{unique} ({}) {}", ix.name, columns.join(", "), ix.engine)
                        })
                        .collect(),
                    checks: t.checks.iter().map(|c| format!("{} CHECK ({})", c.name, c.expr)).collect(),
                    foreign_keys: t
                        .foreign_keys
                        .iter()
                        .map(|fk| exec::constraints::describe_foreign_key(&instance.catalog, txn, &t, fk))
                        .collect::<Result<_>>()?,
                    referenced_by: exec::constraints::referenced_by(&instance.catalog, txn, &t)?,
                })
            })
        })
    }

    /// Runs `f` in the open transaction, or in a fresh read-only one.
    fn read<T>(&mut self, f: impl FnOnce(&Instance, &Transaction) -> Result<T>) -> Result<T> {
        Self::read_in(&self.block, &self.settings, &self.instance, &self.interrupt, f)
    }

    /// Runs `f` in the open block (as a command of its own, so it sees everything the
    /// block's statements wrote: without the new command, the block's last statement, a
    /// CREATE TABLE say, would be invisible, as if `f` were still part of it), or else in
    /// a read-only transaction of its own. Parse, Describe and the shell's `\d` read here.
    fn read_in<T>(
        block: &Option<Block>,
        settings: &Settings,
        instance: &Instance,
        interrupt: &Interrupt,
        f: impl FnOnce(&Instance, &Transaction) -> Result<T>,
    ) -> Result<T> {
        match block.as_ref().map(|b| &b.txn).filter(|t| t.is_active()) {
            Some(txn) => {
                txn.next_command();
                f(instance, txn)
            }
            None => {
                let txn = settings.begin(&instance.store, None, interrupt);
                let result = f(instance, &txn);
                txn.rollback()?;
                result
            }
        }
    }

    /// Passes a parse result through; a syntax error inside a transaction block fails the
    /// block, as any other error there does (PostgreSQL behaves the same).
    fn parse<T>(&mut self, parsed: Result<T>) -> Result<T> {
        if parsed.is_err()
            && let Some(block) = self.block.as_mut()
        {
            block.fail();
        }
        parsed
    }

    fn run(&mut self, statement: &Ast, params: &[Value], sink: &mut dyn RowSink) -> Result<Output> {
        let _datetime = self.enter_datetime();
        match statement {
            Ast::StartTransaction { modes, .. } => {
                let (isolation, read_only) = block::modes(modes);
                match self.block.as_mut() {
                    None => self.begin_block(isolation, read_only.unwrap_or(self.settings.default_read_only)),
                    Some(block) if block.implicit => block.implicit = false,
                    // PostgreSQL warns and carries on when a block is already open.
                    Some(_) => raise(Notice::warning("25001", "there is already a transaction in progress")),
                }
                Ok(Output::Command("BEGIN".into()))
            }
            Ast::Commit { chain, .. } => {
                self.warn_if_no_block(*chain);
                let modes = self.chained_modes(*chain, "COMMIT")?;
                let output = self.commit_block();
                self.chain(modes);
                output
            }
            Ast::Rollback { savepoint: None, chain } => {
                self.warn_if_no_block(*chain);
                let modes = self.chained_modes(*chain, "ROLLBACK")?;
                let result = self.rollback_block();
                self.chain(modes);
                result?;
                Ok(Output::Command("ROLLBACK".into()))
            }
            Ast::Rollback { savepoint: Some(name), .. } => {
                let block = self.require_block("ROLLBACK TO SAVEPOINT")?;
                block.rollback_to(&ident(name))?;
                let depth = block.savepoint_depth();
                self.cursors_after_savepoint(depth, true);
                Ok(Output::Command("ROLLBACK".into()))
            }
            Ast::Savepoint { name } => {
                let block = self.require_block("SAVEPOINT")?;
                let result = block.savepoint(ident(name));
                self.fail_on_error(result)?;
                Ok(Output::Command("SAVEPOINT".into()))
            }
            Ast::ReleaseSavepoint { name } => {
                let block = self.require_block("RELEASE SAVEPOINT")?;
                let result = block.release(&ident(name)).map(|()| block.savepoint_depth());
                let depth = self.fail_on_error(result)?;
                self.cursors_after_savepoint(depth, false);
                Ok(Output::Command("RELEASE".into()))
            }
            Ast::Vacuum(vacuum) => self.vacuum(vacuum.table_name.as_ref()),
            Ast::Copy { .. } => {
                // The data of COPY travels beside the statement; a plain execute has none.
                let result = Err(Error::new(
                    SqlState::FeatureNotSupported,
                    "COPY needs a client that sends or receives its data: use it through the server, \
                     or Session::copy_in and execute_into",
                ));
                self.fail_on_error(result)
            }
            Ast::Prepare { name, statement, data_types } => {
                let result = self.sql_prepare(ident(name), (**statement).clone(), data_types);
                self.fail_on_error(result)?;
                Ok(Output::Command("PREPARE".into()))
            }
            Ast::Execute { name: Some(name), parameters, .. } => {
                let name = name.to_string().to_ascii_lowercase();
                let result = self.sql_execute(&name, parameters, sink);
                self.fail_on_error(result)
            }
            Ast::Deallocate { name, .. } => {
                let name = ident(name);
                if name == "all" {
                    self.prepared.clear();
                } else if self.prepared.remove(&name).is_none() {
                    return Err(no_prepared_statement(&name));
                }
                Ok(Output::Command("DEALLOCATE".into()))
            }
            Ast::Set(set) => {
                let result = self.set(set);
                self.fail_on_error(result)?;
                Ok(Output::Command("SET".into()))
            }
            Ast::Reset(statement) => {
                let result = self.reset(&statement.reset);
                self.fail_on_error(result)?;
                Ok(Output::Command("RESET".into()))
            }
            Ast::Discard { object_type } => {
                if *object_type == ast::DiscardObject::ALL {
                    if self.block.is_some() {
                        return self.fail_on_error(Err(Error::new(
                            SqlState::ActiveSqlTransaction,
                            "DISCARD ALL cannot run inside a transaction block",
                        )));
                    }
                    // PostgreSQL's DISCARD ALL includes SET SESSION AUTHORIZATION DEFAULT.
                    self.reset(&ast::Reset::SessionAuthorization)?;
                    self.reset(&ast::Reset::ALL)?;
                    self.prepared.clear();
                    self.parse_cache = ParseCache::default();
                    self.cursors.clear();
                }
                if matches!(object_type, ast::DiscardObject::ALL | ast::DiscardObject::SEQUENCES) {
                    self.sequence_session.discard();
                }
                Ok(Output::Command(format!("DISCARD {object_type}")))
            }
            Ast::Declare { stmts, .. } => {
                let result = self.declare(stmts, params);
                self.fail_on_error(result)
            }
            Ast::Fetch { name, direction, into, .. } => {
                let result = self.fetch_or_move(name, direction, into.as_ref(), sink);
                self.fail_on_error(result)
            }
            Ast::Close { cursor } => {
                let result = self.close(cursor);
                self.fail_on_error(result)
            }
            Ast::ShowVariable { variable } => {
                let (name, column) = shown_setting(&self.settings, variable);
                if let Some(block) = &self.block {
                    block.refuse_if_failed()?;
                }
                let current = self.block.as_ref().map(|b| b.txn.isolation());
                let result = match (&self.block, name.to_ascii_lowercase().as_str()) {
                    (Some(block), "transaction_read_only") => {
                        Ok(if block.read_only { "on" } else { "off" }.to_string())
                    }
                    _ => self.settings.show(&name, current),
                };
                let value = self.fail_on_error(result)?;
                let rows = Rows {
                    columns: vec![Column { name: column, data_type: DataType::Text }],
                    rows: vec![Row(vec![Value::Text(value)])],
                };
                deliver(rows, sink)
            }
            _ => {
                let writes = !matches!(statement, Ast::Query(_) | Ast::Explain { .. });
                let read_only = match &self.block {
                    Some(block) => block.read_only && !block.failed,
                    None => self.settings.default_read_only,
                };
                if writes && read_only {
                    let result = Err(Error::new(
                        SqlState::ReadOnlySqlTransaction,
                        "cannot execute this statement in a read-only transaction",
                    ));
                    return self.fail_on_error(result);
                }
                let settings = self.settings.clone();
                let interrupt = self.interrupt.clone();
                let sequence_session = self.sequence_session.clone();
                let budget = self.budget.clone();
                let mut changes = Vec::new();
                let output = self.in_transaction_block(|instance, txn| {
                    execute_statement(
                        instance,
                        txn,
                        &settings,
                        (&interrupt, &sequence_session, &budget),
                        statement,
                        params,
                        sink,
                        &mut changes,
                    )
                })?;
                self.apply_setting_changes(changes)?;
                Ok(output)
            }
        }
    }

    /// Applies what `set_config()` calls of a statement that ran asked for, in order.
    /// (Each was already checked while binding, where its value was computed.)
    fn apply_setting_changes(&mut self, changes: Vec<SettingChange>) -> Result<()> {
        for change in changes {
            self.set_setting(&change.name, &change.value, change.local)?;
        }
        Ok(())
    }

    /// `PREPARE name AS statement`.
    fn sql_prepare(&mut self, name: String, statement: Ast, data_types: &[ast::DataType]) -> Result<()> {
        if let Some(block) = &self.block {
            block.refuse_if_failed()?;
        }
        if self.prepared.contains_key(&name) {
            return Err(Error::new(
                SqlState::DuplicatePreparedStatement,
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        // `PREPARE q(int, text)`: the declared types must exist (42704) and are the
        // parameters' types, as in PostgreSQL.
        let declared = self.read(|instance, txn| {
            let binder = Binder::new(&instance.catalog, txn);
            data_types.iter().map(|t| binder.data_type(t)).collect::<Result<Vec<_>>>()
        })?;
        let prepared = self.prepare_statement(statement, &declared)?;
        self.prepared.insert(name, prepared);
        Ok(())
    }

    /// `EXECUTE name [(values)]`.
    fn sql_execute(
        &mut self,
        name: &str,
        parameters: &[ast::Expr],
        sink: &mut dyn RowSink,
    ) -> Result<Output> {
        let prepared = self.prepared.get(name).cloned().ok_or_else(|| no_prepared_statement(name))?;
        let values = self.read(|instance, txn| {
            let mut binder = Binder::new(&instance.catalog, txn);
            parameters.iter().map(|p| binder.constant(p)).collect::<Result<Vec<_>>>()
        })?;
        // Each value becomes its parameter's type, as an assignment would make it.
        let values = values
            .into_iter()
            .zip(prepared.parameter_types.iter().copied().chain(std::iter::repeat(DataType::Null)))
            .map(|(v, ty)| match ty {
                DataType::Null => Ok(v),
                ty => cast::cast(v, ty, CastKind::Assignment),
            })
            .collect::<Result<Vec<_>>>()?;
        self.run_prepared(&prepared, &values, sink)
    }

    /// `VACUUM [table]`: removes the versions no live snapshot can see, now.
    fn vacuum(&mut self, table: Option<&ast::ObjectName>) -> Result<Output> {
        if self.block.is_some() {
            let result = Err(Error::new(
                SqlState::ActiveSqlTransaction,
                "VACUUM cannot run inside a transaction block",
            ));
            return self.fail_on_error(result);
        }
        // `VACUUM ANALYZE` parses as a table called "analyze": statistics are not kept yet.
        let table = table.filter(|t| !t.to_string().eq_ignore_ascii_case("analyze"));
        let store = self.instance.store.clone();
        let path = self.settings.lookup_path();
        match table {
            None => {
                store.vacuum(None)?;
            }
            Some(name) => {
                let settings = self.settings.clone();
                let keyspaces: Vec<_> = self.read(|instance, txn| {
                    let binder = Binder::new(&instance.catalog, txn).with_search_path(&path);
                    let principal = privilege::Principal::current(&instance.catalog, txn, &settings)?;
                    match binder.ddl_table(name, false)? {
                        // As in PostgreSQL, only the owner's tables are vacuumed (it warns
                        // about the others; there is no warning channel here).
                        Some(table) if principal.superuser || principal.oid == table.owner => {
                            Ok(table.keyspaces().collect())
                        }
                        _ => Ok(Vec::new()),
                    }
                })?;
                for keyspace in keyspaces {
                    store.vacuum(Some(keyspace))?;
                }
            }
        }
        Ok(Output::Command("VACUUM".into()))
    }

    /// The open block, or 25P01 naming the statement that needs one.
    fn require_block(&mut self, what: &str) -> Result<&mut Block> {
        self.block.as_mut().ok_or_else(|| {
            Error::new(
                SqlState::NoActiveSqlTransaction,
                format!("{what} can only be used in transaction blocks"),
            )
        })
    }

    /// Passes a result through, failing the open block on error.
    fn fail_on_error<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err()
            && let Some(block) = self.block.as_mut()
            && !block.failed
        {
            block.fail();
        }
        result
    }

    /// `SET name = value`, `SET TRANSACTION ...` and `SET SESSION CHARACTERISTICS ...`.
    fn set(&mut self, set: &ast::Set) -> Result<()> {
        if let Some(block) = &self.block {
            block.refuse_if_failed()?;
        }
        match set {
            ast::Set::SetTransaction { modes, session: true, .. } => {
                let (isolation, read_only) = block::modes(modes);
                if let Some(level) = isolation {
                    self.settings.default_isolation = level;
                }
                if let Some(read_only) = read_only {
                    self.settings.default_read_only = read_only;
                }
                Ok(())
            }
            ast::Set::SetTransaction { modes, .. } => {
                let (isolation, read_only) = block::modes(modes);
                self.set_block_isolation(isolation)?;
                if let (Some(block), Some(read_only)) = (self.block.as_mut(), read_only) {
                    // A block may become read-only at any time, but not read-write once
                    // it has run a query (what it read may already have been relied on).
                    if block.read_only && !read_only && block.statements > 0 {
                        return Err(Error::new(
                            SqlState::ActiveSqlTransaction,
                            "transaction read-write mode must be set before any query",
                        ));
                    }
                    block.read_only = read_only;
                }
                Ok(())
            }
            ast::Set::SingleAssignment { variable, values, scope, .. } => {
                let local = matches!(scope, Some(ast::ContextModifier::Local));
                let name = variable.to_string().to_ascii_lowercase();
                let value = match name.as_str() {
                    "search_path" => values.iter().map(search_path_element).collect::<Vec<_>>().join(", "),
                    "role" | "session_authorization" => {
                        values.iter().map(role_value).collect::<Vec<_>>().join(", ")
                    }
                    _ => values.iter().map(setting_value).collect::<Vec<_>>().join(", "),
                };
                self.set_setting(&name, &value, local)
            }
            ast::Set::SetRole { context_modifier, role_name } => {
                let local = matches!(context_modifier, Some(ast::ContextModifier::Local));
                let role = role_name.as_ref().map_or_else(|| "none".to_string(), crate::binder::ident_name);
                self.set_setting("role", &role, local)
            }
            ast::Set::SetSessionAuthorization(param) => {
                let local = matches!(param.scope, ast::ContextModifier::Local);
                let user = match &param.kind {
                    ast::SetSessionAuthorizationParamKind::Default => self.settings.login.0.clone(),
                    ast::SetSessionAuthorizationParamKind::User(name) => crate::binder::ident_name(name),
                };
                self.set_setting("session_authorization", &user, local)
            }
            ast::Set::SetTimeZone { value, local } => {
                self.set_setting("timezone", &setting_value(value), *local)
            }
            ast::Set::SetNames { charset_name, .. } => {
                self.settings.set("client_encoding", &ident(charset_name))
            }
            other => Err(Error::new(SqlState::FeatureNotSupported, format!("{other} is not supported"))),
        }
    }

    /// `SET [LOCAL] name = value` once the value is text. A local change is remembered
    /// by the block, to be undone when it ends ([`Session::end_block`]); outside a block
    /// it does nothing, as in PostgreSQL.
    fn set_setting(&mut self, name: &str, value: &str, local: bool) -> Result<()> {
        if name == "transaction_isolation" {
            return self.set_block_isolation(Some(block::parse_isolation(value)?));
        }
        if name == "role" || name == "session_authorization" {
            self.check_identity(name, value)?;
        }
        match (self.block.as_mut(), local) {
            (None, true) => return Ok(()),
            (Some(block), true) => {
                if !block.local_settings.iter().any(|(n, _)| n == name) {
                    let before = self.settings.show(name, None)?;
                    block.local_settings.push((name.to_string(), before));
                }
            }
            (Some(block), false) => {
                // A session-wide value set after a local one is the one that stays at
                // COMMIT; the value from before the block is the one a ROLLBACK restores.
                if let Some(at) = block.local_settings.iter().position(|(n, _)| n == name) {
                    let before = block.local_settings.remove(at);
                    block.session_settings.push(before);
                } else if !block.session_settings.iter().any(|(n, _)| n == name) {
                    let before = self.settings.show(name, None)?;
                    block.session_settings.push((name.to_string(), before));
                }
            }
            (None, false) => {}
        }
        self.settings.set(name, value)
    }

    /// May the session become `value` as `role` (SET ROLE) or `session_authorization`
    /// (SET SESSION AUTHORIZATION)? PostgreSQL's rules, without role membership: SET ROLE
    /// to the session user or NONE, or to any role when the session user is a
    /// superuser; SET SESSION AUTHORIZATION back to the login role, or to any role when
    /// the login role was a superuser. Records whether the new role is a superuser, for
    /// `is_superuser`.
    fn check_identity(&mut self, name: &str, value: &str) -> Result<()> {
        let setting_role = name == "role";
        if setting_role && value.eq_ignore_ascii_case("none") {
            return Ok(());
        }
        let (login, login_superuser) = self.settings.login.clone();
        if !setting_role && value == login {
            return Ok(());
        }
        let session_user = self.settings.session_user.clone();
        let (target, session_superuser) = self.read(|instance, txn| {
            let target = instance.catalog.role(txn, value)?;
            let session = crate::privilege::Principal::lookup(&instance.catalog, txn, &session_user)?;
            Ok((target, session.superuser))
        })?;
        let Some(target) = target else {
            return Err(Error::new(
                SqlState::InvalidParameterValue,
                format!("role \"{value}\" does not exist"),
            ));
        };
        let allowed = if setting_role { session_superuser || value == session_user } else { login_superuser };
        if !allowed {
            let message = if setting_role {
                format!("permission denied to set role \"{value}\"")
            } else {
                "permission denied to set session authorization".to_string()
            };
            return Err(Error::new(SqlState::InsufficientPrivilege, message));
        }
        self.settings.note_superuser(value, target.superuser);
        Ok(())
    }

    /// `COMMIT`: ends the open block, committing it, or rolling it back if it failed (the
    /// tag then says ROLLBACK, as in PostgreSQL). Held cursors get their rows first.
    /// Opens the implicit transaction block the server runs the statements up to a Sync
    /// in (see [`Block::implicit`]); nothing if a block is open.
    pub fn begin_implicit(&mut self) {
        if self.block.is_none() {
            self.begin_block(None, self.settings.default_read_only);
            if let Some(block) = self.block.as_mut() {
                block.implicit = true;
            }
        }
    }

    /// Ends the implicit block [`Session::begin_implicit`] opened (at the Sync), if it is
    /// still open and implicit: commits it, or rolls it back if it failed or `commit` is
    /// false (the caller saw a statement fail). No warning.
    pub fn end_implicit(&mut self, commit: bool) -> Result<()> {
        if !self.block.as_ref().is_some_and(|b| b.implicit) {
            return Ok(());
        }
        if !commit || self.transaction_failed() {
            self.rollback_block()
        } else {
            self.commit_block().map(drop)
        }
    }

    /// PostgreSQL's warning for COMMIT or ROLLBACK with no block of the user's open (an
    /// implicit one is ended all the same). `AND CHAIN` outside a block is an error
    /// instead (see [`Session::chained_modes`]).
    fn warn_if_no_block(&self, chain: bool) {
        if !chain && self.block.as_ref().is_none_or(|b| b.implicit) {
            raise(Notice::warning("25P01", "there is no transaction in progress"));
        }
    }

    /// What the last call raised (notices and warnings, oldest first) that the session's
    /// `client_min_messages` lets through; taking them forgets them. A call of the
    /// session's API forgets what an earlier one raised.
    pub fn take_notices(&self) -> Vec<Notice> {
        let threshold = self
            .settings
            .show("client_min_messages", None)
            .ok()
            .and_then(|level| crate::notice::Severity::threshold(&level));
        crate::notice::take().into_iter().filter(|n| threshold.is_some_and(|t| n.severity >= t)).collect()
    }

    /// Opens a transaction block.
    fn begin_block(&mut self, isolation: Option<Isolation>, read_only: bool) {
        self.block_started_at = datetime::settings::now_micros();
        let txn = self.settings.begin(&self.instance.store, isolation, &self.interrupt);
        self.block = Some(Block::new(txn, read_only));
    }

    /// For `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN`: the open block's isolation level
    /// and access mode, which the next block takes on. Outside a block that is 25P01
    /// (an error, where a plain COMMIT only warns), as in PostgreSQL.
    fn chained_modes(&self, chain: bool, what: &str) -> Result<Option<(Isolation, bool)>> {
        if !chain {
            return Ok(None);
        }
        match &self.block {
            Some(block) => Ok(Some((block.txn.isolation(), block.read_only))),
            None => Err(Error::new(
                SqlState::NoActiveSqlTransaction,
                format!("{what} AND CHAIN can only be used in transaction blocks"),
            )),
        }
    }

    /// Starts the chained block, if one was asked for (even when the commit failed, as
    /// PostgreSQL does).
    fn chain(&mut self, modes: Option<(Isolation, bool)>) {
        if let Some((isolation, read_only)) = modes {
            self.begin_block(Some(isolation), read_only);
        }
    }

    fn commit_block(&mut self) -> Result<Output> {
        let ok = self.block.as_ref().is_some_and(|b| !b.failed);
        if ok && let Err(e) = self.hold_cursors() {
            // Their rows could not be computed: the commit fails and the block rolls
            // back, as in PostgreSQL.
            self.rollback_block()?;
            return Err(e);
        }
        let Some(block) = self.end_block(ok) else { return Ok(Output::Command("COMMIT".into())) };
        let txn = block.txn.id();
        if block.failed {
            self.end_cursors(txn, false);
            if block.txn.is_active() {
                block.txn.rollback()?;
            }
            return Ok(Output::Command("ROLLBACK".into()));
        }
        let committed = block.txn.commit();
        self.end_cursors(txn, committed.is_ok());
        committed?;
        Ok(Output::Command("COMMIT".into()))
    }

    /// `ROLLBACK`: ends the open block, if any, undoing its work.
    fn rollback_block(&mut self) -> Result<()> {
        if let Some(block) = self.end_block(false) {
            self.end_cursors(block.txn.id(), false);
            if block.txn.is_active() {
                block.txn.rollback()?;
            }
        }
        Ok(())
    }

    /// Closes the open block, putting back the settings `SET LOCAL` changed in it, and
    /// unless it `committed`, those a plain `SET` changed too.
    fn end_block(&mut self, committed: bool) -> Option<Block> {
        let block = self.block.take()?;
        let restore = block.local_settings.iter().chain(block.session_settings.iter().filter(|_| !committed));
        for (name, value) in restore {
            if let Err(e) = self.settings.set(name, value) {
                tracing::warn!(error = %e, "restoring setting {name} at the end of a block");
            }
        }
        Some(block)
    }

    /// `RESET name`, `RESET ALL`.
    fn reset(&mut self, reset: &ast::Reset) -> Result<()> {
        if let Some(block) = &self.block {
            block.refuse_if_failed()?;
        }
        let defaults = Settings::default();
        match reset {
            ast::Reset::ALL => {
                for (name, value) in defaults.all() {
                    // As in PostgreSQL, RESET ALL leaves who the session is alone.
                    if name == "role" || name == "session_authorization" {
                        continue;
                    }
                    // Read-only settings are in the list too; they cannot change anyway.
                    if self.settings.show(&name, None).is_ok_and(|current| current != value) {
                        self.set_setting(&name, &value, false)?;
                    }
                }
                Ok(())
            }
            ast::Reset::SessionAuthorization => {
                let login = self.settings.login.0.clone();
                self.set_setting("session_authorization", &login, false)
            }
            ast::Reset::ConfigurationParameter(name) => {
                let name = name.to_string().to_ascii_lowercase();
                let value = defaults.show(&name, None)?;
                self.set_setting(&name, &value, false)
            }
        }
    }

    /// Changes the open block's isolation level, which only its first statement may do.
    fn set_block_isolation(&mut self, isolation: Option<Isolation>) -> Result<()> {
        let Some(level) = isolation else { return Ok(()) };
        let Some(block) = self.block.as_mut() else {
            // PostgreSQL only warns: outside a block, SET TRANSACTION changes nothing.
            return Ok(());
        };
        if block.statements > 0 {
            return Err(Error::new(
                SqlState::ActiveSqlTransaction,
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
            ));
        }
        if block.txn.isolation() != level {
            block.txn.rollback()?;
            block.txn = self.settings.begin(&self.instance.store, Some(level), &self.interrupt);
        }
        Ok(())
    }

    /// Runs `f` inside the open block (failing it on error), or in an autocommitted
    /// transaction of its own.
    fn in_transaction_block(
        &mut self,
        f: impl FnOnce(&Instance, &Transaction) -> Result<Output>,
    ) -> Result<Output> {
        match self.block.as_mut() {
            Some(block) => {
                block.refuse_if_failed()?;
                block.statements += 1;
                block.txn.next_command();
                let result = f(&self.instance, &block.txn);
                if result.is_err() {
                    block.fail();
                }
                result
            }
            None => {
                let txn = self.settings.begin(&self.instance.store, None, &self.interrupt);
                match f(&self.instance, &txn) {
                    Ok(output) => {
                        txn.commit()?;
                        Ok(output)
                    }
                    Err(e) => {
                        txn.rollback()?;
                        Err(e)
                    }
                }
            }
        }
    }
}

/// A table's name as the search path `path` lets a user write it: bare when the path
/// finds this table by it, else `schema.table`.
fn display_name(instance: &Instance, txn: &Transaction, path: &[String], table: &TableDef) -> Result<String> {
    let found = instance.catalog.find_relation(txn, path, None, &table.name)?;
    let visible = found.is_some_and(|r| r.qualified() == table.qualified());
    Ok(if visible { table.name.clone() } else { table.qualified().to_string() })
}

/// The columns a query plan shows (hidden row ids left out).
fn visible_columns(plan: &Plan) -> Vec<Column> {
    plan.columns()
        .into_iter()
        .filter(|c| !c.hidden)
        .map(|c| Column { name: c.name, data_type: c.data_type })
        .collect()
}

/// Hands already-computed rows (SHOW, EXPLAIN) to a sink, as a query's rows would go.
fn deliver(rows: Rows, sink: &mut dyn RowSink) -> Result<Output> {
    sink.columns(&rows.columns)?;
    for row in rows.rows {
        sink.row(row)?;
    }
    Ok(Output::Rows(Rows { columns: rows.columns, rows: Vec::new() }))
}

/// The output of a run whose rows went to the collecting sink `rows`.
/// The command a data-changing plan runs, for its tag.
fn modify_command(plan: &Plan) -> &'static str {
    match plan {
        Plan::Insert { .. } => "INSERT",
        Plan::Update { .. } => "UPDATE",
        _ => "DELETE",
    }
}

/// The sink [`Session::execute`] collects rows into for an embedded caller: they are
/// held until the call returns, so they count against the call's budget.
struct Collect {
    rows: Rows,
    reservation: Reservation,
}

impl Collect {
    fn new(reservation: Reservation) -> Collect {
        Collect { rows: Rows::default(), reservation }
    }
}

impl RowSink for Collect {
    fn columns(&mut self, columns: &[Column]) -> Result<()> {
        // A new statement's rows replace the last one's.
        self.reservation.clear();
        self.rows.columns(columns)
    }

    fn row(&mut self, row: Row) -> Result<()> {
        self.reservation.charge_row(&row.0)?;
        self.rows.row(row)
    }
}

fn collected(output: Output, rows: Rows) -> Output {
    match output {
        Output::Rows(_) => Output::Rows(rows),
        // INSERT ... RETURNING: the rows are what the caller wants (the server, which
        // streams them, still sends the INSERT tag).
        Output::Modified { .. } if !rows.columns.is_empty() => Output::Rows(rows),
        Output::Fetched(_) => Output::Fetched(rows),
        other => other,
    }
}

/// The error of a block ended by `idle_in_transaction_session_timeout`.
pub fn idle_timeout() -> Error {
    Error::new(
        SqlState::IdleInTransactionSessionTimeout,
        "terminating connection due to idle-in-transaction timeout",
    )
    .with_detail("The transaction block was rolled back.")
}

fn no_prepared_statement(name: &str) -> Error {
    Error::new(SqlState::InvalidSqlStatementName, format!("prepared statement \"{name}\" does not exist"))
}

/// The setting `SHOW a b c` names and its column: `transaction isolation level` is three
/// words, `phantom.statement_mem` (which the parser also splits) a dotted name, shown
/// under its whole name as PostgreSQL does.
fn shown_setting(settings: &Settings, variable: &[ast::Ident]) -> (String, String) {
    let words: Vec<String> = variable.iter().map(ident).collect();
    let dotted = words.join(".");
    if words.len() > 1 && settings.show(&dotted, None).is_ok() {
        return (dotted.clone(), dotted);
    }
    (words.join(" "), words.last().cloned().unwrap_or_default())
}

fn ident(name: &ast::Ident) -> String {
    name.value.to_ascii_lowercase()
}

/// A SET value as text: `'serializable'`, `serializable`, `100`, `DEFAULT` ...
fn setting_value(value: &ast::Expr) -> String {
    match value {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        ast::Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

/// A role name as `SET role = ...` gives it: an unquoted name folded to lower case.
fn role_value(value: &ast::Expr) -> String {
    match value {
        ast::Expr::Identifier(i) => crate::binder::ident_name(i),
        other => setting_value(other),
    }
}

/// One element of `SET search_path TO ...` in the list syntax the setting parses: an
/// unquoted name as written (folded later), a quoted name or a string as one exact name.
fn search_path_element(value: &ast::Expr) -> String {
    let exact = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    match value {
        ast::Expr::Identifier(i) if i.quote_style.is_none() => i.value.clone(),
        ast::Expr::Identifier(i) => exact(&i.value),
        ast::Expr::Value(v) => match &v.value {
            // `SET search_path = ''` (pg_dump's first statement): an empty path.
            ast::Value::SingleQuotedString(s) if s.is_empty() => String::new(),
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => exact(s),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

#[allow(clippy::too_many_arguments)] // the statement and everything it runs against
fn execute_statement(
    instance: &Instance,
    txn: &Transaction,
    settings: &Settings,
    (interrupt, sequence_session, budget): (&Interrupt, &Arc<SessionSequences>, &MemoryBudget),
    statement: &Ast,
    params: &[Value],
    sink: &mut dyn RowSink,
    setting_changes: &mut Vec<SettingChange>,
) -> Result<Output> {
    let mut binder = Binder::new(&instance.catalog, txn)
        .with_system_views(&instance.store)
        .with_settings(settings)
        .with_search_path(&settings.lookup_path())
        .with_parameter_values(params);
    let mut bound = binder.statement(statement)?;
    setting_changes.extend(binder.take_setting_changes());
    let types = binder.parameter_types();
    let principal = privilege::check_statement(&instance.catalog, txn, settings, &mut binder)?;
    privilege::assign_owners(&mut bound, &principal)?;
    let cx = Context {
        work_tables: Default::default(),
        txn: txn.clone(),
        sequences: instance.sequences.clone(),
        sequence_session: sequence_session.clone(),
        catalog: instance.catalog.clone(),
        interrupt: interrupt.clone(),
        budget: budget.clone(),
    };
    match bound {
        BoundStatement::Query(plan) => {
            let (columns, visible, rows) = query_rows(plan, params, &types, &cx)?;
            sink.columns(&columns)?;
            for row in rows {
                let mut row = row?;
                if visible.len() != row.len() {
                    row = visible.iter().map(|&i| std::mem::take(&mut row[i])).collect();
                }
                sink.row(Row(row))?;
            }
            Ok(Output::Rows(Rows { columns, rows: Vec::new() }))
        }
        BoundStatement::Modify(plan) => {
            let command = modify_command(&plan);
            let plan = optimizer::optimize(bind_parameters(plan, params, &types)?)?;
            let plan = exec::prepare_subqueries(plan, &cx)?;
            let rows = exec::modify(plan, &cx)?;
            Ok(Output::Modified { command, rows })
        }
        BoundStatement::ModifyReturning(plan, returning) => {
            let command = modify_command(&plan);
            let plan = optimizer::optimize(bind_parameters(plan, params, &types)?)?;
            let plan = exec::prepare_subqueries(plan, &cx)?;
            // The RETURNING expressions take their parameters and subqueries the way a
            // plan does: held in a one-row VALUES for the trip.
            let holder = Plan::Values { rows: vec![returning.exprs], columns: Vec::new() };
            let exprs = match exec::prepare_subqueries(bind_parameters(holder, params, &types)?, &cx)? {
                Plan::Values { mut rows, .. } => rows.pop().unwrap_or_default(),
                _ => return Err(Error::new(SqlState::InternalError, "RETURNING lost its expressions")),
            };
            sink.columns(&returning.columns)?;
            let rows = exec::modify_returning(plan, &cx, &mut |stored| {
                let values = exprs.iter().map(|e| e.eval(stored)).collect::<Result<Vec<_>>>()?;
                sink.row(Row(values))
            })?;
            Ok(Output::Modified { command, rows })
        }
        BoundStatement::CreateTable(mut new) => {
            let source = new.source.take();
            match (create_table(instance, txn, *new)?, source) {
                (Some(table), Some(source)) => fill_table(&cx, table, source),
                _ => Ok(Output::Command("CREATE TABLE".into())),
            }
        }
        BoundStatement::DropTable { tables, cascade } => {
            crate::ddl::drop_tables(instance, &cx, &tables, cascade)
        }
        BoundStatement::DropView { views, cascade } => crate::ddl::drop_views(instance, &cx, &views, cascade),
        BoundStatement::DropIndex { indexes, cascade } => {
            crate::ddl::drop_indexes(instance, &cx, &indexes, cascade)
        }
        BoundStatement::CreateSchema { name, if_not_exists, authorization } => {
            let owner =
                privilege::schema_owner(&instance.catalog, txn, &principal, authorization.as_deref())?;
            crate::ddl::create_schema(instance, &cx, name, if_not_exists, owner)
        }
        BoundStatement::Grant(grant) => privilege::grant::execute(&instance.catalog, txn, &principal, &grant),
        BoundStatement::AlterOwner { object, owner } => {
            privilege::owner::alter_owner(&instance.catalog, txn, &principal, &object, &owner)
        }
        BoundStatement::DropSchema { schemas, cascade } => {
            crate::ddl::drop_schemas(instance, &cx, &schemas, cascade)
        }
        BoundStatement::CreateRole { name, options } => {
            crate::role::create_role(instance, txn, &principal, name, options)
        }
        BoundStatement::AlterRole { name, change } => {
            crate::role::alter_role(instance, txn, &principal, &settings.session_user, &name, change)
        }
        BoundStatement::DropRole { names, if_exists } => {
            crate::role::drop_roles(instance, txn, &principal, &settings.session_user, &names, if_exists)
        }
        BoundStatement::CreateIndex(new) => create_index(instance, txn, new),
        BoundStatement::Truncate { tables } => crate::truncate::truncate(instance, &cx, &tables),
        BoundStatement::AlterTable(alter) => crate::alter::alter_table(instance, &cx, alter),
        BoundStatement::CreateView { view, or_replace, if_not_exists } => {
            crate::ddl::create_view(instance, &cx, view, or_replace, if_not_exists)
        }
        BoundStatement::CreateSequence { def, if_not_exists } => {
            crate::sequence::ddl::create_sequence(instance, txn, def, if_not_exists)?;
            Ok(Output::Command("CREATE SEQUENCE".into()))
        }
        BoundStatement::AlterSequence { def, restart } => {
            crate::sequence::ddl::alter_sequence(instance, txn, def, restart)
        }
        BoundStatement::DropSequence { sequences, cascade } => {
            crate::sequence::ddl::drop_sequences(instance, txn, &sequences, cascade)?;
            Ok(Output::Command("DROP SEQUENCE".into()))
        }
        BoundStatement::Skip(tag) => Ok(Output::Command(tag.into())),
        BoundStatement::Explain(inner) => {
            let plan = match *inner {
                BoundStatement::Query(plan) | BoundStatement::Modify(plan) => plan,
                _ => return Err(Error::new(SqlState::FeatureNotSupported, "EXPLAIN of this statement")),
            };
            let plan = optimizer::optimize(bind_parameters(plan, params, &types)?)?;
            let store = &instance.store;
            let table_rows = |t: &TableDef| store.keyspace_stats(t.keyspace).map_or(0, |s| s.keys);
            let rows = explain::explain_with_estimates(&plan, &table_rows)
                .into_iter()
                .map(|l| Row(vec![Value::Text(l)]))
                .collect();
            let rows =
                Rows { columns: vec![Column { name: "QUERY PLAN".into(), data_type: DataType::Text }], rows };
            deliver(rows, sink)
        }
    }
}

/// Plans a bound query with its parameters and starts executing it: the visible
/// columns, which of the plan's columns they are, and the rows to pull.
fn query_rows(
    plan: Plan,
    params: &[Value],
    types: &[DataType],
    cx: &Context,
) -> Result<(Vec<Column>, Vec<usize>, exec::Rows)> {
    let plan = optimizer::optimize(bind_parameters(plan, params, types)?)?;
    let plan = exec::prepare_subqueries(plan, cx)?;
    let all = plan.columns();
    let visible: Vec<usize> = (0..all.len()).filter(|&i| !all[i].hidden).collect();
    let columns = visible_columns(&plan);
    Ok((columns, visible, exec::execute(plan, cx)?))
}

/// Creates a table; `None` if it existed and IF NOT EXISTS said that is fine.
fn create_table(instance: &Instance, txn: &Transaction, new: NewTable) -> Result<Option<TableDef>> {
    if instance.catalog.relation_exists(txn, &new.schema, &new.name)? {
        if new.if_not_exists {
            return Ok(None);
        }
        return Err(Error::new(
            SqlState::DuplicateTable,
            format!("relation \"{}\" already exists", new.name),
        ));
    }
    let (keyspace, engine) = txn.create_keyspace(new.engine)?;
    // UNIQUE constraints are unique indexes, created empty with the table.
    let mut indexes = Vec::with_capacity(new.uniques.len());
    for (name, columns) in new.uniques {
        let (keyspace, engine) = txn.create_keyspace(None)?;
        let oid = pg_catalog::oid_for_keyspace(keyspace);
        indexes.push(IndexDef { name, keyspace, engine: engine.description(), columns, unique: true, oid });
    }
    let table = TableDef {
        schema: new.schema,
        name: new.name,
        keyspace,
        engine: engine.description(),
        columns: new.columns,
        primary_key: new.primary_key,
        primary_key_name: new.primary_key_name,
        indexes,
        checks: new.checks,
        foreign_keys: new.foreign_keys,
        oid: pg_catalog::oid_for_keyspace(keyspace),
        owner: new.owner,
        acl: None,
    };
    instance.catalog.put_table(txn, &table)?;
    for sequence in new.sequences {
        crate::sequence::ddl::create_sequence(instance, txn, sequence, false)?;
    }
    Ok(Some(table))
}

/// Fills the table `CREATE TABLE ... AS` just created with its query's rows. Its tag is
/// `SELECT n`, as PostgreSQL reports it.
fn fill_table(cx: &Context, table: TableDef, source: Plan) -> Result<Output> {
    let targets = (0..table.columns.len()).collect();
    let insert =
        Plan::Insert { table: Arc::new(table), source: source.boxed(), targets, defaults: Vec::new() };
    let plan = exec::prepare_subqueries(optimizer::optimize(insert)?, cx)?;
    let rows = exec::modify(plan, cx)?;
    Ok(Output::Command(format!("SELECT {rows}")))
}

/// Replaces `$n` placeholders with the given values, converted to the types the statement
/// expects.
fn bind_parameters(plan: Plan, params: &[Value], types: &[DataType]) -> Result<Plan> {
    if types.is_empty() {
        return Ok(plan);
    }
    if params.len() < types.len() {
        return Err(Error::new(
            SqlState::UndefinedParameter,
            format!("there is no parameter ${}", params.len() + 1),
        ));
    }
    let values: Vec<Value> = params
        .iter()
        .zip(types)
        .map(|(v, ty)| cast::cast(v.clone(), *ty, CastKind::Assignment))
        .collect::<Result<_>>()?;
    substitute_parameters(plan, &values)
}

/// Replaces `$n` with `values[n - 1]`, inside subqueries too.
fn substitute_parameters(plan: Plan, values: &[Value]) -> Result<Plan> {
    plan.map_exprs(&mut |e| {
        let mut failed = None;
        let e = e.transform(&mut |x| match x {
            Expr::Parameter(i) => Expr::Constant(values.get(i).cloned().unwrap_or(Value::Null)),
            Expr::Subquery(mut q) => {
                match substitute_parameters((*q.plan).clone(), values) {
                    Ok(plan) => q.plan = Arc::new(plan),
                    Err(e) => failed = Some(e),
                }
                Expr::Subquery(q)
            }
            x => x,
        });
        failed.map_or(Ok(e), Err)
    })
}

/// Creates an index and fills it from the table's rows.
fn create_index(instance: &Instance, txn: &Transaction, new: NewIndex) -> Result<Output> {
    if instance.catalog.relation_exists(txn, &new.table.schema, &new.name)? {
        return Err(Error::new(
            SqlState::DuplicateTable,
            format!("relation \"{}\" already exists", new.name),
        ));
    }
    let table = instance.catalog.require_table(txn, &new.table)?;
    let table = crate::index::create(txn, &table, new.name, new.columns, new.unique, new.engine)?;
    instance.catalog.put_table(txn, &table)?;
    Ok(Output::Command("CREATE INDEX".into()))
}
