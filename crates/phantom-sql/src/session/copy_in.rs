//! `COPY ... FROM`: a bulk insert fed one record at a time.
//!
//! [`Session::copy_in`] binds the target like `INSERT INTO t (cols) SELECT ...` would
//! (so unknown columns, duplicate columns and column defaults behave the same), then each
//! [`CopyIn::write`] stores one row through the executor's insert path: values are cast to
//! the column types with assignment rules (text fields parse as each type's input), NOT
//! NULL, keys, indexes, CHECK and FOREIGN KEY constraints are checked per row.
//!
//! The copy is atomic, as in PostgreSQL: outside a transaction block it runs in a
//! transaction of its own that [`CopyIn::finish`] commits; inside a block it is one
//! statement of the block. A failed row, or a `CopyIn` dropped without `finish` (the
//! client sent CopyFail or went away), rolls that transaction back or fails the block.

use std::sync::Arc;

use phantom_txn::Transaction;

use super::Session;
use crate::binder::{Binder, BoundStatement};
use crate::catalog::TableDef;
use crate::catalog::acl::Privileges;
use crate::error::{Error, Result, SqlState};
use crate::exec::{self, Context};
use crate::parser;
use crate::planner::{Expr, Plan};
use crate::privilege::{Principal, Required};
use crate::result::Column;
use crate::types::Value;

/// A COPY FROM in progress. See the module documentation.
pub struct CopyIn<'s> {
    session: &'s mut Session,
    cx: Context,
    /// The copy's own transaction, when no block was open.
    own: Option<Transaction>,
    table: Arc<TableDef>,
    targets: Vec<usize>,
    defaults: Vec<(usize, Expr)>,
    rows: u64,
    /// Set once a row failed or the copy finished: nothing more may be written.
    closed: bool,
}

impl Session {
    /// Starts copying rows into `table` (SQL text, quoted if needed), filling `columns`
    /// (SQL identifiers; empty for all columns in order). Write the rows with
    /// [`CopyIn::write`], then call [`CopyIn::finish`].
    pub fn copy_in(&mut self, table: &str, columns: &[String]) -> Result<CopyIn<'_>> {
        self.as_statement(|s| s.start_copy_in(table, columns))
    }

    fn start_copy_in(&mut self, table: &str, columns: &[String]) -> Result<CopyIn<'_>> {
        let txn = match self.block.as_mut() {
            Some(block) => {
                block.refuse_if_failed()?;
                if block.read_only {
                    block.fail();
                    return Err(Error::new(
                        SqlState::ReadOnlySqlTransaction,
                        "cannot execute COPY FROM in a read-only transaction",
                    ));
                }
                block.statements += 1;
                block.txn.next_command();
                block.txn.clone()
            }
            None => self.settings.begin(&self.instance.store, None, &self.interrupt),
        };
        let own = self.block.is_none().then(|| txn.clone());
        let bound = bind_target(self, &txn, table, columns);
        let (table, targets, defaults) = match bound {
            Ok(bound) => bound,
            Err(e) => {
                abandon(self, own)?;
                return Err(e);
            }
        };
        let cx = Context {
            txn,
            sequences: self.instance.sequences.clone(),
            sequence_session: self.sequence_session.clone(),
            catalog: self.instance.catalog.clone(),
            work_tables: Default::default(),
            interrupt: self.interrupt.clone(),
            budget: self.budget.clone(),
        };
        let defaults = defaults.into_iter().map(|(i, e)| (i, exec::prepare_expr(e, &cx))).collect();
        Ok(CopyIn { session: self, cx, own, table, targets, defaults, rows: 0, closed: false })
    }
}

/// Where copied rows go: the table, the columns each row fills, the other columns' defaults.
type Target = (Arc<TableDef>, Vec<usize>, Vec<(usize, Expr)>);

/// Binds `INSERT INTO table (columns) OVERRIDING SYSTEM VALUE SELECT columns FROM table
/// WHERE false` for its target table, target columns and defaults (the SELECT is never
/// run). COPY writes identity columns' values as given, as in PostgreSQL.
fn bind_target(session: &Session, txn: &Transaction, table: &str, columns: &[String]) -> Result<Target> {
    let sql = if columns.is_empty() {
        format!("INSERT INTO {table} OVERRIDING SYSTEM VALUE SELECT * FROM {table} WHERE false")
    } else {
        let list = columns.join(", ");
        format!("INSERT INTO {table} ({list}) OVERRIDING SYSTEM VALUE SELECT {list} FROM {table} WHERE false")
    };
    let statement = parser::parse_one(&sql)?;
    let mut binder = Binder::new(&session.instance.catalog, txn)
        .with_settings(&session.settings)
        .with_search_path(&session.settings.lookup_path());
    let bound = binder.statement(&statement)?;
    // COPY FROM needs INSERT (and what the defaults need), not the SELECT the statement
    // binds its columns with.
    let mut needs = binder.take_needs();
    needs.retain(|n| n.required != Required::AnyOf(Privileges::SELECT));
    let principal = Principal::current(&session.instance.catalog, txn, &session.settings)?;
    crate::privilege::authorize(&session.instance.catalog, txn, &principal, &needs)?;
    match bound {
        BoundStatement::Modify(Plan::Insert { table, targets, defaults, .. }) => {
            Ok((table, targets, defaults))
        }
        _ => Err(Error::new(SqlState::InternalError, "COPY target did not bind as an INSERT")),
    }
}

/// Undoes a copy that will not finish: its own transaction rolls back, or the block fails.
fn abandon(session: &mut Session, own: Option<Transaction>) -> Result<()> {
    match own {
        Some(txn) => txn.rollback().map_err(Into::into),
        None => {
            if let Some(block) = session.block.as_mut() {
                block.fail();
            }
            Ok(())
        }
    }
}

impl CopyIn<'_> {
    /// The target columns, in the order each record lists them.
    pub fn columns(&self) -> Vec<Column> {
        self.targets
            .iter()
            .map(|&i| Column {
                name: self.table.columns[i].name.clone(),
                data_type: self.table.columns[i].data_type,
            })
            .collect()
    }

    /// Inserts one row: one value per target column (text is cast to the column's type).
    /// After an error the copy is over: its transaction was rolled back or its block failed.
    pub fn write(&mut self, values: Vec<Value>) -> Result<()> {
        if self.closed {
            return Err(Error::new(SqlState::InFailedSqlTransaction, "this COPY has already ended"));
        }
        let result = {
            let _datetime = self.session.enter_datetime();
            self.insert(values)
        };
        if result.is_err() {
            self.close()?;
        }
        result
    }

    fn insert(&mut self, values: Vec<Value>) -> Result<()> {
        if values.len() != self.targets.len() {
            return Err(Error::new(
                SqlState::BadCopyFileFormat,
                format!("expected {} values per row, got {}", self.targets.len(), values.len()),
            ));
        }
        self.cx.interrupt.check()?;
        exec::insert_rows(&self.cx, &self.table, std::iter::once(Ok(values)), &self.targets, &self.defaults)?;
        self.rows += 1;
        Ok(())
    }

    /// Ends the copy: commits its own transaction (inside a block, the block goes on) and
    /// returns the number of rows copied.
    pub fn finish(mut self) -> Result<u64> {
        if self.closed {
            return Err(Error::new(SqlState::InFailedSqlTransaction, "this COPY has already ended"));
        }
        self.closed = true;
        if let Some(txn) = self.own.take() {
            txn.commit()?;
        }
        Ok(self.rows)
    }

    fn close(&mut self) -> Result<()> {
        self.closed = true;
        abandon(self.session, self.own.take())
    }
}

impl Drop for CopyIn<'_> {
    fn drop(&mut self) {
        if !self.closed {
            // Nothing to report to: a rollback that fails leaves the transaction to be
            // cleaned up when it is dropped, which aborts it.
            let _ = self.close();
        }
    }
}
