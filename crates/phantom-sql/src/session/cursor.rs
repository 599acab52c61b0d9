//! Cursors: a query's rows pulled a few at a time, across calls.
//!
//! [`Session::open_cursor`] binds and plans a query inside the open transaction block and
//! keeps the executor's iterator; each [`Session::fetch`] pulls at most the rows asked
//! for and hands them to a sink. Nothing is materialized beyond what the plan's own
//! operators hold (a sort or an aggregate still reads all its input at the first row), so
//! a portal over a huge scan or `generate_series` costs one page at a time. This is what
//! the server's Execute with a row limit runs on.
//!
//! The iterator is independent of the session: it owns a handle to the transaction,
//! *pinned* to the view of the statement that opened it (`Transaction::pinned`: that
//! snapshot, and the transaction's writes up to then). Every read the cursor makes,
//! including scans an operator starts between two fetches (the inner side of a nested-loop
//! join), sees exactly that, as PostgreSQL's cursors keep their snapshot; statements run
//! in the block between fetches, and at READ COMMITTED commits made meanwhile, are not
//! seen. Because a cursor reads through its transaction, it lives only as long as the
//! block: a fetch after COMMIT or ROLLBACK is refused (34000), and so is one in a failed
//! block (25P02). An error while fetching fails the block like any statement's error.

use phantom_txn::TxnId;
use sqlparser::ast::Statement as Ast;

use super::{Prepared, Session, query_rows};
use crate::binder::{Binder, BoundStatement};
use crate::error::{Error, Result, SqlState};
use crate::exec::{self, Context};
use crate::result::{Column, Row, RowSink};
use crate::types::Value;

/// An open query whose rows are fetched on demand (see the module documentation).
pub struct Cursor {
    columns: Vec<Column>,
    /// Which of the plan's columns are returned (hidden ones are left out).
    visible: Vec<usize>,
    rows: exec::Rows,
    /// The transaction the rows are read in.
    txn: TxnId,
    fetched: u64,
    done: bool,
}

impl Cursor {
    /// The columns each row has.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Rows fetched so far.
    pub fn fetched(&self) -> u64 {
        self.fetched
    }

    /// True once the last row was fetched (or fetching failed).
    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl Session {
    /// Opens a cursor over a prepared query, with `params` for its `$n` placeholders,
    /// inside the open transaction block (25P01 outside one). `None` if the statement is
    /// not a query (it then has to be run whole). Opening counts as one statement of the
    /// block: an error fails the block.
    pub fn open_cursor(&mut self, prepared: &Prepared, params: &[Value]) -> Result<Option<Cursor>> {
        if !prepared.is_query() {
            return Ok(None);
        }
        self.as_statement(|s| {
            prepared.check_arity(params)?;
            let _datetime = s.enter_datetime();
            s.start_query(&prepared.statement, params).map(Some)
        })
    }

    /// Opens a cursor over `query` (a query's syntax tree) with `params` inside the open
    /// block, as [`Session::open_cursor`] describes; DECLARE uses it too.
    pub(super) fn start_query(&mut self, query: &Ast, params: &[Value]) -> Result<Cursor> {
        let Some(block) = self.block.as_mut() else {
            return Err(Error::new(
                SqlState::NoActiveSqlTransaction,
                "a cursor can only be opened in a transaction block",
            ));
        };
        block.refuse_if_failed()?;
        block.statements += 1;
        block.txn.next_command();
        let txn = block.txn.clone();
        let opened = (|| {
            let mut binder = Binder::new(&self.instance.catalog, &txn)
                .with_system_views(&self.instance.store)
                .with_settings(&self.settings)
                .with_search_path(&self.settings.lookup_path())
                .with_parameter_values(params);
            let BoundStatement::Query(plan) = binder.statement(query)? else {
                return Err(Error::new(SqlState::InternalError, "a query bound to something else"));
            };
            crate::privilege::check_statement(&self.instance.catalog, &txn, &self.settings, &mut binder)?;
            let types = binder.parameter_types();
            let changes = binder.take_setting_changes();
            // The cursor's reads keep this statement's view however long it stays open
            // (see `Transaction::pinned`).
            let cx = Context {
                work_tables: Default::default(),
                txn: txn.pinned()?,
                sequences: self.instance.sequences.clone(),
                sequence_session: self.sequence_session.clone(),
                catalog: self.instance.catalog.clone(),
                interrupt: self.interrupt.clone(),
                budget: self.budget.clone(),
            };
            Ok((query_rows(plan, params, &types, &cx)?, changes))
        })();
        match opened {
            Ok(((columns, visible, rows), changes)) => {
                self.apply_setting_changes(changes)?;
                Ok(Cursor { columns, visible, rows, txn: txn.id(), fetched: 0, done: false })
            }
            Err(e) => {
                block.fail();
                Err(e)
            }
        }
    }

    /// Hands the next rows of `cursor`, at most `max` of them (all that are left if
    /// `None`), to `sink` (its `columns` first) and returns how many went. The cursor is
    /// done when fewer than asked for were left.
    pub fn fetch(&mut self, cursor: &mut Cursor, max: Option<usize>, sink: &mut dyn RowSink) -> Result<u64> {
        self.as_statement(|s| s.fetch_rows(cursor, max, sink))
    }

    fn fetch_rows(&mut self, cursor: &mut Cursor, max: Option<usize>, sink: &mut dyn RowSink) -> Result<u64> {
        let _datetime = self.enter_datetime();
        let block = match self.block.as_mut() {
            Some(block) if block.txn.id() == cursor.txn => block,
            _ => {
                return Err(Error::new(
                    SqlState::InvalidCursorName,
                    "the cursor's transaction has ended: cursors do not outlive their transaction",
                ));
            }
        };
        block.refuse_if_failed()?;
        let result = pull(cursor, max, sink);
        if result.is_err() {
            cursor.done = true;
            block.fail();
        }
        result
    }
}

fn pull(cursor: &mut Cursor, max: Option<usize>, sink: &mut dyn RowSink) -> Result<u64> {
    sink.columns(&cursor.columns)?;
    let mut sent = 0u64;
    while !cursor.done && max.is_none_or(|max| sent < max as u64) {
        let Some(row) = cursor.rows.next() else {
            cursor.done = true;
            break;
        };
        let mut row = row?;
        if cursor.visible.len() != row.len() {
            row = cursor.visible.iter().map(|&i| std::mem::take(&mut row[i])).collect();
        }
        sink.row(Row(row))?;
        sent += 1;
        cursor.fetched += 1;
    }
    Ok(sent)
}
