//! The extended query protocol: Parse, Bind, Describe, Execute, Close, Sync.
//!
//! Parse prepares a statement in the session (so its parameter types are inferred from the
//! statement: `aid = $1` makes `$1` the type of `aid`, which is what pgbench's unspecified
//! parameter types need) unless the client declared them. Bind decodes the parameters
//! (text or binary, per parameter) into a portal with per-column result formats. Execute
//! streams the portal's rows; with a row limit, a query becomes a cursor
//! ([`phantom::Cursor`]) kept in the portal: each Execute pulls that many rows from the
//! live executor and sends PortalSuspended, so fetching a page of a huge result computes
//! one page. (Other statements with rows, SHOW and EXPLAIN, are small: they run whole and
//! the rest waits in the portal.) A cursor needs a transaction: outside a block the
//! first such Execute opens the implicit one that Sync ends, as in PostgreSQL. An error
//! skips every message up to the next Sync, and Sync answers ReadyForQuery. Portals live
//! until the transaction ends (checked at every ReadyForQuery), the unnamed ones until
//! they are replaced. A cursor made by SQL DECLARE is a portal too for Describe, which
//! reports its columns (psycopg's server-side cursors ask).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{BindComplete, CloseComplete, ParseComplete, PortalSuspended};
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use phantom::copy::CopyStatement;
use phantom::{Column, Cursor, DataType, Row, Statement, Value, is_blank};

use super::rows::{RowWriter, row_description};
use super::simple::{command_complete, first_word, runs_outside_blocks};
use super::{Reply, Worker};
use crate::error::WireError;
use crate::frontend::{Frontend, Target};
use crate::outbox::Gone;
use crate::types::{self, Format};

/// A statement made by Parse.
pub struct PreparedStatement {
    sql: String,
    kind: Kind,
    /// The type each parameter is read as: declared in Parse, else inferred.
    param_types: Vec<DataType>,
    /// The OIDs ParameterDescription reports (the declared ones where given).
    param_oids: Vec<u32>,
}

enum Kind {
    /// An empty query string.
    Empty,
    Copy(CopyStatement),
    /// Boxed: a parsed statement is large.
    Sql(Box<Statement>),
}

impl PreparedStatement {
    fn columns(&self) -> Option<&[Column]> {
        match &self.kind {
            Kind::Sql(statement) => statement.columns(),
            Kind::Empty | Kind::Copy(_) => None,
        }
    }
}

/// A statement bound to parameter values.
pub struct Portal {
    statement: Arc<PreparedStatement>,
    params: Vec<Value>,
    formats: Vec<Format>,
    state: PortalState,
}

enum PortalState {
    Ready,
    /// A query an Execute with a row limit started: the rest of its rows are fetched by
    /// the next Executes, from the live executor.
    Open(Box<Cursor>),
    /// Rows of a statement that is not a query (SHOW, EXPLAIN, FETCH) that an Execute with
    /// a row limit did not send yet, and the tag's command word.
    Suspended(VecDeque<Row>, &'static str),
    /// Run to the end: a new Execute sends this tag again, and no rows.
    Done(String),
}

fn display(name: &str, what: &str) -> String {
    if name.is_empty() { format!("unnamed {what}") } else { format!("{what} \"{name}\"") }
}

impl Worker {
    /// Handles Parse, Bind, Describe, Execute or Close.
    pub(super) fn extended(&mut self, message: Frontend) -> Reply {
        match message {
            Frontend::Parse { name, sql, types } => self.parse(name, sql, &types),
            Frontend::Bind { portal, statement, param_formats, params, result_formats } => {
                self.bind(portal, &statement, &param_formats, params, &result_formats)
            }
            Frontend::Describe { target, name } => self.describe(target, &name),
            Frontend::Execute { portal, max_rows } => self.execute(&portal, max_rows),
            Frontend::Close { target, name } => {
                match target {
                    Target::Statement => self.statements.remove(&name).map(drop),
                    Target::Portal => self.portals.remove(&name).map(drop),
                };
                self.out.send(PgWireBackendMessage::CloseComplete(CloseComplete::new()))?;
                Ok(Ok(()))
            }
            other => Ok(Err(WireError::protocol(format!("unexpected message {other:?}")))),
        }
    }

    /// Sync: the end of an extended-protocol exchange.
    pub(super) fn sync(&mut self) -> Result<(), Gone> {
        self.skipping = false;
        if std::mem::take(&mut self.implicit)
            && let Err(e) = self.session.end_implicit(true)
        {
            self.out.send(WireError::from(e).to_error_response())?;
        }
        self.ready()
    }

    fn parse(&mut self, name: String, sql: String, declared: &[u32]) -> Reply {
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Ok(Err(WireError::new("42P05", format!("prepared statement \"{name}\" already exists"))));
        }
        let kind = if is_blank(&sql) {
            Kind::Empty
        } else {
            match CopyStatement::parse(&sql) {
                Ok(Some(copy)) => Kind::Copy(copy),
                Ok(None) => match self.session.prepare(&sql) {
                    Ok(statement) => Kind::Sql(Box::new(statement)),
                    Err(e) => return Ok(Err(WireError::at_statement(e, &sql, 0))),
                },
                Err(e) => return Ok(Err(WireError::at_statement(e, &sql, 0))),
            }
        };
        let inferred: &[DataType] = match &kind {
            Kind::Sql(statement) => statement.parameter_types(),
            _ => &[],
        };
        let count = inferred.len().max(declared.len());
        let (mut param_types, mut param_oids) = (Vec::with_capacity(count), Vec::with_capacity(count));
        for i in 0..count {
            let own = inferred.get(i).copied().unwrap_or(DataType::Text);
            match declared.get(i).copied().filter(|&oid| oid != 0) {
                Some(oid) => {
                    param_types.push(types::from_oid(oid).unwrap_or(own));
                    param_oids.push(oid);
                }
                None => {
                    param_types.push(own);
                    param_oids.push(types::oid(own));
                }
            }
        }
        let statement = PreparedStatement { sql, kind, param_types, param_oids };
        self.statements.insert(name, Arc::new(statement));
        self.out.send(PgWireBackendMessage::ParseComplete(ParseComplete::new()))?;
        Ok(Ok(()))
    }

    fn bind(
        &mut self,
        portal: String,
        statement_name: &str,
        param_formats: &[i16],
        params: Vec<Option<Bytes>>,
        result_formats: &[i16],
    ) -> Reply {
        let Some(statement) = self.statements.get(statement_name).cloned() else {
            let what = display(statement_name, "prepared statement");
            return Ok(Err(WireError::new("26000", format!("{what} does not exist"))));
        };
        if params.len() != statement.param_types.len() {
            return Ok(Err(WireError::protocol(format!(
                "bind message supplies {} parameters, but {} requires {}",
                params.len(),
                display(statement_name, "prepared statement"),
                statement.param_types.len()
            ))));
        }
        if !portal.is_empty() && self.portals.contains_key(&portal) {
            return Ok(Err(WireError::new("42P03", format!("cursor \"{portal}\" already exists"))));
        }
        let bound = Format::per_item(param_formats, params.len(), "parameter").and_then(|formats| {
            let mut values = Vec::with_capacity(params.len());
            for ((param, ty), format) in params.iter().zip(&statement.param_types).zip(formats) {
                values.push(match param {
                    None => Value::Null,
                    Some(bytes) => types::decode_param(bytes, *ty, format)?,
                });
            }
            let columns = statement.columns().map_or(0, <[Column]>::len);
            let formats = if columns == 0 {
                Vec::new()
            } else {
                Format::per_item(result_formats, columns, "result column")?
            };
            Ok((values, formats))
        });
        let (params, formats) = match bound {
            Ok(bound) => bound,
            Err(e) => return Ok(Err(e)),
        };
        self.portals.insert(portal, Portal { statement, params, formats, state: PortalState::Ready });
        self.out.send(PgWireBackendMessage::BindComplete(BindComplete::new()))?;
        Ok(Ok(()))
    }

    fn describe(&mut self, target: Target, name: &str) -> Reply {
        let (message, parameters) = match target {
            Target::Statement => {
                let Some(statement) = self.statements.get(name) else {
                    let what = display(name, "prepared statement");
                    return Ok(Err(WireError::new("26000", format!("{what} does not exist"))));
                };
                let rows = statement.columns().map(|c| row_description(c, &[]));
                (rows, Some(ParameterDescription::new(statement.param_oids.clone())))
            }
            Target::Portal => match self.portals.get(name) {
                Some(portal) => {
                    (portal.statement.columns().map(|c| row_description(c, &portal.formats)), None)
                }
                // A cursor made by DECLARE is a portal too, as in PostgreSQL: psycopg's
                // server-side cursors describe it by name to learn its columns.
                None => match self.session.cursor_columns(name) {
                    Some(columns) => (Some(row_description(columns, &[])), None),
                    None => {
                        return Ok(Err(WireError::new(
                            "34000",
                            format!("{} does not exist", display(name, "portal")),
                        )));
                    }
                },
            },
        };
        if let Some(parameters) = parameters {
            self.out.send(PgWireBackendMessage::ParameterDescription(parameters))?;
        }
        self.out.send(message.unwrap_or(PgWireBackendMessage::NoData(NoData::new())))?;
        Ok(Ok(()))
    }

    fn execute(&mut self, name: &str, max_rows: i32) -> Reply {
        let Some(portal) = self.portals.get_mut(name) else {
            return Ok(Err(WireError::new("34000", format!("{} does not exist", display(name, "portal")))));
        };
        let limit = usize::try_from(max_rows).ok().filter(|&n| n > 0);
        match std::mem::replace(&mut portal.state, PortalState::Ready) {
            PortalState::Suspended(mut rows, command) => {
                let take = limit.unwrap_or(rows.len()).min(rows.len());
                let (types, formats) = match portal.statement.columns() {
                    Some(columns) => {
                        (columns.iter().map(|c| c.data_type).collect::<Vec<_>>(), portal.formats.clone())
                    }
                    None => (Vec::new(), Vec::new()),
                };
                for row in rows.drain(..take) {
                    if let Err(e) = self.out.send_row(row.values(), &types, &formats)? {
                        return Ok(Err(e));
                    }
                }
                let portal = self.portals.get_mut(name).ok_or(Gone)?;
                if rows.is_empty() {
                    portal.state = PortalState::Done(format!("{command} 0"));
                    self.out.send(tag(format!("{command} {take}")))?;
                } else {
                    portal.state = PortalState::Suspended(rows, command);
                    self.out.send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))?;
                }
                Ok(Ok(()))
            }
            PortalState::Open(cursor) => self.fetch(name, cursor, limit),
            PortalState::Done(again) => {
                portal.state = PortalState::Done(again.clone());
                self.out.send(tag(again))?;
                Ok(Ok(()))
            }
            PortalState::Ready => {
                let statement = portal.statement.clone();
                let params = std::mem::take(&mut portal.params);
                let formats = portal.formats.clone();
                self.run_portal(name, &statement, &params, formats, limit)
            }
        }
    }

    /// Runs a portal's statement for the first time.
    fn run_portal(
        &mut self,
        name: &str,
        statement: &PreparedStatement,
        params: &[Value],
        formats: Vec<Format>,
        limit: Option<usize>,
    ) -> Reply {
        let prepared = match &statement.kind {
            Kind::Empty => {
                self.out.send(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()))?;
                return Ok(Ok(()));
            }
            Kind::Copy(copy) => return self.copy(copy),
            Kind::Sql(prepared) => prepared,
        };
        if limit.is_some() && prepared.is_query() {
            return self.open(name, statement, prepared, params, limit);
        }
        self.enter_implicit_transaction(&statement.sql);
        // Declared parameters the statement does not use are not passed on.
        let params = &params[..prepared.parameter_count().min(params.len())];
        let mut rows = RowWriter::new(&mut self.out, false, formats, limit);
        let result = self.session.execute_prepared_into(prepared, params, &mut rows);
        let (sent, overflow, failure) = (rows.sent, std::mem::take(&mut rows.overflow), rows.failure.take());
        self.send_notices()?;
        let output = match (failure, result) {
            (Some(Err(Gone)), _) => return Err(Gone),
            (Some(Ok(e)), _) => return Ok(Err(e)),
            (None, Err(e)) => return Ok(Err(WireError::at_statement(e, &statement.sql, 0))),
            (None, Ok(output)) => output,
        };
        let command = if matches!(output, phantom::Output::Fetched(_)) { "FETCH" } else { "SELECT" };
        let done = match output {
            phantom::Output::Rows(_) | phantom::Output::Fetched(_) => format!("{command} 0"),
            _ => output.tag(),
        };
        let suspended = !overflow.is_empty();
        if let Some(portal) = self.portals.get_mut(name) {
            portal.state =
                if suspended { PortalState::Suspended(overflow, command) } else { PortalState::Done(done) };
        }
        if suspended {
            self.out.send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))?;
        } else {
            self.out.send(command_complete(&output, sent))?;
        }
        Ok(Ok(()))
    }
}

impl Worker {
    /// The first Execute with a row limit of a query: opens a cursor in the transaction
    /// (an implicit one, ended at Sync, if no block is open: a portal lives as long as its
    /// transaction, so the rows left at Sync are never computed) and fetches the first
    /// page.
    fn open(
        &mut self,
        name: &str,
        statement: &PreparedStatement,
        prepared: &Statement,
        params: &[Value],
        limit: Option<usize>,
    ) -> Reply {
        if !self.session.in_transaction() {
            self.session.begin_implicit();
            self.implicit = true;
        }
        let params = &params[..prepared.parameter_count().min(params.len())];
        match self.session.open_cursor(prepared, params) {
            Ok(Some(cursor)) => self.fetch(name, Box::new(cursor), limit),
            Ok(None) => Ok(Err(WireError::new("XX000", "a query opened no cursor"))),
            Err(e) => Ok(Err(WireError::at_statement(e, &statement.sql, 0))),
        }
    }

    /// An Execute of an open portal: the next `limit` rows (all if `None`), then
    /// PortalSuspended, or CommandComplete with this Execute's count (as PostgreSQL counts)
    /// once the rows ran out. Like PostgreSQL, a page that ends exactly at the last row is
    /// still suspended: the next Execute completes with `SELECT 0`.
    fn fetch(&mut self, name: &str, mut cursor: Box<Cursor>, limit: Option<usize>) -> Reply {
        let formats = self.portals.get(name).map(|p| p.formats.clone()).unwrap_or_default();
        let mut rows = RowWriter::new(&mut self.out, false, formats, None);
        let result = self.session.fetch(&mut cursor, limit, &mut rows);
        let failure = rows.failure.take();
        let done = cursor.is_done();
        if let Some(portal) = self.portals.get_mut(name) {
            // A failed cursor stays, done: the next Execute meets the failed block (25P02).
            portal.state = if done && result.is_ok() {
                PortalState::Done("SELECT 0".into())
            } else {
                PortalState::Open(cursor)
            };
        }
        let sent = match (failure, result) {
            (Some(Err(Gone)), _) => return Err(Gone),
            (Some(Ok(e)), _) => return Ok(Err(e)),
            (None, Err(e)) => return Ok(Err(WireError::from(e))),
            (None, Ok(sent)) => sent,
        };
        if done {
            self.out.send(tag(format!("SELECT {sent}")))?;
        } else {
            self.out.send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))?;
        }
        Ok(Ok(()))
    }

    /// Before a statement of the extended protocol: PostgreSQL runs everything up to the
    /// next Sync as one transaction. When the Sync is already buffered right behind this
    /// Execute (what drivers send for one statement) the statement's own autocommit is
    /// the same thing and costs nothing extra; otherwise an implicit block is opened,
    /// ended by [`Worker::sync`]. A BEGIN inside it makes it the client's own block.
    fn enter_implicit_transaction(&mut self, sql: &str) {
        if self.implicit {
            if matches!(first_word(sql).as_str(), "BEGIN" | "START") {
                self.implicit = false;
            }
            return;
        }
        if self.session.in_transaction() || runs_outside_blocks(sql) || self.inbound.next_is_sync() {
            return;
        }
        self.session.begin_implicit();
        self.implicit = true;
    }
}

fn tag(tag: String) -> PgWireBackendMessage {
    PgWireBackendMessage::CommandComplete(CommandComplete::new(tag))
}
