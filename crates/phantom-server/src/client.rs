//! The session thread's end of the socket, after startup: blocking reads of client
//! messages and blocking writes of the replies.
//!
//! Why not tokio tasks: a pgbench-style statement is one small message in and a few small
//! messages out. Handing each across threads (reader task -> session thread -> writer task)
//! cost two wake-ups and context switches per message, which measured as most of the
//! server's CPU time (over half in the scheduler) and halved throughput on 2 cores. The
//! session thread owns the socket instead, the way a PostgreSQL backend process does, and
//! tokio is left with accepting, startup and cancel requests.
//!
//! Shutdown reaches a thread blocked in `read` through [`ShutdownHandle`]: it marks the
//! connection and shuts the socket's read side, so the read returns end-of-file and the
//! session ends with FATAL 57P01 instead of treating it as a disconnect.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::frontend::FrontendCodec;
use crate::worker::Inbound;

/// How much is read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// Reads and decodes the client's messages.
pub struct ClientReader {
    stream: TcpStream,
    buf: BytesMut,
    /// Where `read` puts bytes before they join `buf` (reused: no zeroing or allocation
    /// per message).
    chunk: Box<[u8]>,
    codec: FrontendCodec,
    shutting_down: Arc<AtomicBool>,
    /// A read timeout is set on the socket (for a deadline).
    timeout_set: bool,
}

impl ClientReader {
    /// A reader over `stream` that starts with the bytes startup had already read.
    pub fn new(
        stream: TcpStream,
        buffered: &[u8],
        codec: FrontendCodec,
        shutting_down: Arc<AtomicBool>,
    ) -> Self {
        let mut buf = BytesMut::with_capacity(READ_CHUNK.max(buffered.len()));
        buf.extend_from_slice(buffered);
        ClientReader {
            stream,
            buf,
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
            codec,
            shutting_down,
            timeout_set: false,
        }
    }

    /// True if a whole message is already buffered (so replies need not be flushed
    /// before reading it: pipelined messages are answered together).
    pub fn has_message(&self) -> bool {
        self.buf.len() >= 5 && {
            let length = i32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
            usize::try_from(length).is_ok_and(|n| self.buf.len() > n)
        }
    }

    /// True if the next message is already here and is a Sync.
    pub fn next_is_sync(&self) -> bool {
        self.has_message() && self.buf[0] == b'S'
    }

    /// The next message; `None` once the client is gone; [`Inbound::IdleTimeout`] if
    /// `deadline` passes first (`idle_in_transaction_session_timeout`).
    pub fn next_message(&mut self, deadline: Option<Instant>) -> Option<Inbound> {
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(message)) => return Some(Inbound::Message(message)),
                Ok(None) => {}
                Err(e) => return Some(Inbound::ProtocolError(e)),
            }
            let read = loop {
                // A zero timeout means none to the socket: wait a moment at least.
                let timeout = deadline
                    .map(|d| d.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
                if (timeout.is_some() || self.timeout_set) && self.stream.set_read_timeout(timeout).is_ok() {
                    self.timeout_set = timeout.is_some();
                }
                match self.stream.read(&mut self.chunk) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                        if deadline.is_some_and(|d| Instant::now() >= d) {
                            return Some(Inbound::IdleTimeout);
                        }
                        continue;
                    }
                    other => break other,
                }
            };
            match read {
                Ok(n) if n > 0 => self.buf.extend_from_slice(&self.chunk[..n]),
                // End of file or a broken connection.
                _ => return self.shutting_down.load(Ordering::Acquire).then_some(Inbound::Shutdown),
            }
        }
    }
}

/// Writes the replies.
pub struct ClientWriter {
    stream: TcpStream,
}

impl ClientWriter {
    pub fn new(stream: TcpStream) -> Self {
        ClientWriter { stream }
    }

    /// Writes all of `bytes`; blocks while the client is not reading.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }
}

/// Lets the server end a session blocked on its socket.
#[derive(Clone)]
pub struct ShutdownHandle {
    stream: Arc<TcpStream>,
    shutting_down: Arc<AtomicBool>,
}

impl ShutdownHandle {
    pub fn new(stream: TcpStream, shutting_down: Arc<AtomicBool>) -> Self {
        ShutdownHandle { stream: Arc::new(stream), shutting_down }
    }

    /// Marks the session as ended by the server and wakes a blocked read.
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
        let _ = self.stream.shutdown(Shutdown::Read);
    }

    /// Closes the socket both ways, waking a write blocked on a client that stopped
    /// reading (the session then ends without its goodbye message).
    pub fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
