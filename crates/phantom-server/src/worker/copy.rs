//! COPY over the protocol: `COPY ... FROM STDIN` and `COPY ... TO STDOUT`, text and CSV.
//!
//! COPY FROM answers CopyInResponse, then reads the client's CopyData messages as they
//! arrive: each piece goes through the incremental decoder, and every record it completes
//! is inserted at once through [`phantom::CopyIn`] — the data is never collected, so a
//! copy of millions of rows needs memory for one line, plus what the transaction's write
//! set holds until commit. CopyDone commits (or, inside a block, ends the statement);
//! CopyFail, a bad record, or a client that goes away rolls the copy back. Sync and Flush
//! are ignored during the copy, as PostgreSQL does (clients pipeline a Sync after the
//! Execute that starts it).
//!
//! COPY TO answers CopyOutResponse when the query's columns are known and sends one
//! CopyData per row as the query produces it, then CopyDone.

use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::response::CommandComplete;
use phantom::copy::format::{Decoder, Encoder};
use phantom::copy::{CopyDirection, CopySource, CopyStatement};
use phantom::{Column, Row, RowSink, SqlState};

use super::{Inbound, Reply, Worker, next_inbound};
use crate::error::WireError;
use crate::frontend::Frontend;
use crate::outbox::{Gone, Outbox};

impl Worker {
    /// Runs a COPY statement (from either protocol).
    pub(super) fn copy(&mut self, copy: &CopyStatement) -> Reply {
        match copy.direction {
            CopyDirection::From => self.copy_from(copy),
            CopyDirection::To => self.copy_to(copy),
        }
    }

    fn copy_from(&mut self, copy: &CopyStatement) -> Reply {
        let CopySource::Table { name, columns } = &copy.source else {
            return Ok(Err(WireError::new("42601", "COPY FROM needs a table")));
        };
        let mut writer = match self.session.copy_in(name, columns) {
            Ok(writer) => writer,
            Err(e) => return Ok(Err(e.into())),
        };
        let names: Vec<String> = writer.columns().into_iter().map(|c| c.name).collect();
        // Overall format 0: text (CSV is text too); binary COPY is refused earlier.
        let width = i16::try_from(names.len()).unwrap_or(i16::MAX);
        let response = CopyInResponse::new(0, width, vec![0; names.len()]);
        self.out.send(PgWireBackendMessage::CopyInResponse(response))?;
        let mut decoder = Decoder::new(&copy.options, names);
        let context = |line: u64| format!("COPY {name}, line {line}");
        loop {
            let message = match next_inbound(&mut self.inbound, &mut self.out, None) {
                None => return Err(Gone),
                Some(Inbound::Shutdown) => {
                    drop(writer);
                    self.terminate_for_shutdown();
                    return Err(Gone);
                }
                Some(Inbound::ProtocolError(e)) => return Ok(Err(e)),
                // No deadline is given while a COPY's data comes.
                Some(Inbound::IdleTimeout) => return Err(Gone),
                Some(Inbound::Message(message)) => message,
            };
            match message {
                Frontend::CopyData(data) => {
                    decoder.feed(&data);
                    loop {
                        let line = decoder.line();
                        match decoder.next_record().and_then(|r| r.map(|r| writer.write(r)).transpose()) {
                            Ok(Some(())) => {}
                            Ok(None) => break,
                            Err(e) => return Ok(Err(WireError::from(e).with_context(context(line)))),
                        }
                    }
                }
                Frontend::CopyDone => {
                    let line = decoder.line();
                    if let Err(e) = decoder.finish().and_then(|r| r.map(|r| writer.write(r)).transpose()) {
                        return Ok(Err(WireError::from(e).with_context(context(line))));
                    }
                    return match writer.finish() {
                        Ok(rows) => {
                            self.out.send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                                format!("COPY {rows}"),
                            )))?;
                            Ok(Ok(()))
                        }
                        Err(e) => Ok(Err(e.into())),
                    };
                }
                Frontend::CopyFail(reason) => {
                    return Ok(Err(WireError::new(
                        SqlState::QueryCanceled.code(),
                        format!("COPY from stdin failed: {reason}"),
                    )));
                }
                Frontend::Sync | Frontend::Flush => {}
                Frontend::Terminate => return Err(Gone),
                other => {
                    return Ok(Err(WireError::protocol(format!(
                        "unexpected message during COPY from stdin: {}",
                        message_name(&other)
                    ))));
                }
            }
        }
    }

    fn copy_to(&mut self, copy: &CopyStatement) -> Reply {
        let mut lines =
            CopyLines { out: &mut self.out, copy, encoder: None, line: Vec::new(), rows: 0, gone: false };
        let result = self.session.execute_into(&copy.query(), &mut lines);
        let (rows, gone, started) = (lines.rows, lines.gone, lines.encoder.is_some());
        if gone {
            return Err(Gone);
        }
        match result {
            Err(e) => Ok(Err(e.into())),
            Ok(_) if !started => {
                Ok(Err(WireError::new("0A000", "COPY TO needs a statement that returns rows")))
            }
            Ok(_) => {
                self.out.send(PgWireBackendMessage::CopyDone(CopyDone::new()))?;
                self.out.send(PgWireBackendMessage::CommandComplete(CommandComplete::new(format!(
                    "COPY {rows}"
                ))))?;
                Ok(Ok(()))
            }
        }
    }
}

fn message_name(message: &Frontend) -> &'static str {
    match message {
        Frontend::Query(_) => "Query",
        Frontend::Parse { .. } => "Parse",
        Frontend::Bind { .. } => "Bind",
        Frontend::Describe { .. } => "Describe",
        Frontend::Execute { .. } => "Execute",
        Frontend::Close { .. } => "Close",
        _ => "other",
    }
}

/// COPY TO's row sink: one CopyData message per row.
struct CopyLines<'a> {
    out: &'a mut Outbox,
    copy: &'a CopyStatement,
    encoder: Option<Encoder>,
    line: Vec<u8>,
    rows: u64,
    gone: bool,
}

impl CopyLines<'_> {
    fn send(&mut self) -> phantom::Result<()> {
        let data = CopyData::new(std::mem::take(&mut self.line).into());
        if self.out.send(PgWireBackendMessage::CopyData(data)).is_err() {
            self.gone = true;
            return Err(phantom::Error::new(SqlState::InternalError, "the client is gone"));
        }
        Ok(())
    }
}

impl RowSink for CopyLines<'_> {
    fn columns(&mut self, columns: &[Column]) -> phantom::Result<()> {
        let options = &self.copy.options;
        let encoder = Encoder::new(options, columns.iter().map(|c| c.data_type).collect());
        let width = i16::try_from(columns.len()).unwrap_or(i16::MAX);
        let response = CopyOutResponse::new(0, width, vec![0; columns.len()]);
        if self.out.send(PgWireBackendMessage::CopyOutResponse(response)).is_err() {
            self.gone = true;
            return Err(phantom::Error::new(SqlState::InternalError, "the client is gone"));
        }
        if options.header {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            encoder.header(&names, &mut self.line);
            self.send()?;
        }
        self.encoder = Some(encoder);
        Ok(())
    }

    fn row(&mut self, row: Row) -> phantom::Result<()> {
        if let Some(encoder) = &self.encoder {
            encoder.row(row.values(), &mut self.line);
        }
        self.rows += 1;
        self.send()
    }
}
