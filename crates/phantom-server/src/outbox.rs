//! Backend messages on their way out: encoded into a buffer on the session's thread and
//! written to the socket in chunks.
//!
//! A chunk goes out when the buffer passes [`FLUSH_BYTES`] (a large result streams with
//! bounded memory), and whenever the worker is about to wait for the client's next message
//! (see `worker::next_inbound`), so every reply is on the wire before the server waits —
//! which is all that Sync, Flush and ReadyForQuery require, with no flush per message. A
//! client that stops reading blocks its own session's write once the socket's buffers are
//! full, instead of the server buffering its results.

use crate::client::ClientWriter;
use crate::error::WireError;
use crate::types::{self, Format};
use bytes::BytesMut;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::DataRow;
use phantom::{DataType, Value};

/// Hand the buffer to the writer once it holds this much.
pub const FLUSH_BYTES: usize = 64 * 1024;

/// The client is gone (writing to it failed): the session should end.
#[derive(Debug)]
pub struct Gone;

/// Encodes backend messages for one connection.
pub struct Outbox {
    buf: BytesMut,
    /// Scratch space for the fields of one DataRow.
    fields: BytesMut,
    client: ClientWriter,
}

impl Outbox {
    /// An outbox writing to `client`.
    pub fn new(client: ClientWriter) -> Outbox {
        Outbox { buf: BytesMut::with_capacity(FLUSH_BYTES), fields: BytesMut::new(), client }
    }

    /// Queues one message.
    pub fn send(&mut self, message: PgWireBackendMessage) -> Result<(), Gone> {
        if let Err(e) = message.encode(&mut self.buf) {
            // Only a message over the protocol's size limits fails to encode; the client
            // could not read it, so the connection ends.
            tracing::warn!("cannot encode a message for the client: {e}");
            return Err(Gone);
        }
        if self.buf.len() >= FLUSH_BYTES { self.flush() } else { Ok(()) }
    }

    /// Queues a DataRow of `values` of `types`, each in its format.
    pub fn send_row(
        &mut self,
        values: &[Value],
        types: &[DataType],
        formats: &[Format],
    ) -> Result<Result<(), WireError>, Gone> {
        self.fields.clear();
        for (i, value) in values.iter().enumerate() {
            let ty = types.get(i).copied().unwrap_or(DataType::Text);
            let format = formats.get(i).copied().unwrap_or(Format::Text);
            if let Err(e) = types::encode_field(value, ty, format, &mut self.fields) {
                return Ok(Err(e));
            }
        }
        let count = i16::try_from(values.len()).unwrap_or(i16::MAX);
        let row = DataRow::new(self.fields.split(), count);
        self.send(PgWireBackendMessage::DataRow(row))?;
        Ok(Ok(()))
    }

    /// Writes everything queued, waiting while the client is not reading.
    pub fn flush(&mut self) -> Result<(), Gone> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let written = self.client.write_all(&self.buf);
        self.buf.clear();
        written.map_err(|_| Gone)
    }
}
