//! Query results on their way to the client: a [`RowSink`] that writes each row as a
//! DataRow the moment the executor produces it.
//!
//! The simple protocol sends a RowDescription first; the extended protocol does not (the
//! client asked with Describe). A query under an Execute with a row limit is fetched from
//! a cursor a page at a time (see `extended.rs`); for the other statements that return
//! rows (SHOW, EXPLAIN: a handful) the writer sends up to the limit and keeps the rest
//! for the portal's next Execute.

use std::collections::VecDeque;

use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{FieldDescription, RowDescription};
use phantom::{Column, DataType, Row, RowSink, SqlState};

use crate::error::WireError;
use crate::outbox::{Gone, Outbox};
use crate::types::{self, Format};

/// The RowDescription of `columns`, each in its format.
pub fn row_description(columns: &[Column], formats: &[Format]) -> PgWireBackendMessage {
    let fields = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let format = formats.get(i).copied().unwrap_or(Format::Text);
            FieldDescription::new(
                c.name.clone(),
                0,
                0,
                types::oid(c.data_type),
                types::type_size(c.data_type),
                types::type_modifier(c.data_type),
                format.code(),
            )
        })
        .collect();
    PgWireBackendMessage::RowDescription(RowDescription::new(fields))
}

/// Streams a statement's rows to the client.
pub struct RowWriter<'a> {
    out: &'a mut Outbox,
    /// Send a RowDescription when the columns are known (simple protocol).
    describe: bool,
    /// Formats per column; text where not given.
    formats: Vec<Format>,
    types: Vec<DataType>,
    /// Send at most this many rows; keep the rest in `overflow`.
    limit: Option<usize>,
    /// Rows sent.
    pub sent: u64,
    /// Rows beyond the limit, for the portal's next Execute.
    pub overflow: VecDeque<Row>,
    /// Why the statement was stopped from here: the client left, or a value could not be
    /// encoded. Takes precedence over the error the session returns.
    pub failure: Option<Result<WireError, Gone>>,
}

impl<'a> RowWriter<'a> {
    /// A writer sending every row, in `formats`.
    pub fn new(
        out: &'a mut Outbox,
        describe: bool,
        formats: Vec<Format>,
        limit: Option<usize>,
    ) -> RowWriter<'a> {
        RowWriter {
            out,
            describe,
            formats,
            types: Vec::new(),
            limit,
            sent: 0,
            overflow: VecDeque::new(),
            failure: None,
        }
    }

    fn stop(&mut self, why: Result<WireError, Gone>) -> phantom::Error {
        self.failure = Some(why);
        phantom::Error::new(SqlState::InternalError, "result could not be sent")
    }
}

impl RowSink for RowWriter<'_> {
    fn columns(&mut self, columns: &[Column]) -> phantom::Result<()> {
        self.types = columns.iter().map(|c| c.data_type).collect();
        if self.describe && self.out.send(row_description(columns, &self.formats)).is_err() {
            return Err(self.stop(Err(Gone)));
        }
        Ok(())
    }

    fn row(&mut self, row: Row) -> phantom::Result<()> {
        if self.limit.is_some_and(|limit| self.sent as usize >= limit) {
            self.overflow.push_back(row);
            return Ok(());
        }
        match self.out.send_row(row.values(), &self.types, &self.formats) {
            Ok(Ok(())) => {
                self.sent += 1;
                Ok(())
            }
            Ok(Err(e)) => Err(self.stop(Ok(e))),
            Err(Gone) => Err(self.stop(Err(Gone))),
        }
    }
}
