//! Reading the client's messages after startup.
//!
//! Every message is a type byte, a length that counts itself, and a body. The decoder
//! frames a message by its length first (refusing lengths below 4 or above the server's
//! limit before buffering anything), then reads the body through a bounds-checked
//! [`Reader`], so a malformed or truncated message is an error for this connection, never
//! a panic, and never read past its own end. (Startup and authentication messages are
//! pgwire's; see [`crate::auth`].)

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::error::WireError;

/// What Describe and Close refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Statement,
    Portal,
}

/// A message from the client.
#[derive(Debug, PartialEq)]
pub enum Frontend {
    Query(String),
    Parse {
        name: String,
        sql: String,
        types: Vec<u32>,
    },
    Bind {
        portal: String,
        statement: String,
        param_formats: Vec<i16>,
        params: Vec<Option<Bytes>>,
        result_formats: Vec<i16>,
    },
    Describe {
        target: Target,
        name: String,
    },
    Execute {
        portal: String,
        max_rows: i32,
    },
    Close {
        target: Target,
        name: String,
    },
    Sync,
    Flush,
    Terminate,
    CopyData(Bytes),
    CopyDone,
    CopyFail(String),
}

/// Frames and decodes client messages.
pub struct FrontendCodec {
    max_message_bytes: usize,
}

impl FrontendCodec {
    /// A decoder that refuses messages longer than `max_message_bytes`.
    pub fn new(max_message_bytes: usize) -> FrontendCodec {
        FrontendCodec { max_message_bytes }
    }
}

impl Decoder for FrontendCodec {
    type Item = Frontend;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frontend>, WireError> {
        if src.len() < 5 {
            return Ok(None);
        }
        let kind = src[0];
        let length = i32::from_be_bytes([src[1], src[2], src[3], src[4]]);
        let length = usize::try_from(length)
            .ok()
            .filter(|&l| l >= 4)
            .ok_or_else(|| WireError::protocol(format!("invalid message length {length}")))?;
        if length > self.max_message_bytes {
            return Err(WireError::new(
                "54000",
                format!("message of {length} bytes exceeds the limit of {} bytes", self.max_message_bytes),
            ));
        }
        if src.len() < 1 + length {
            src.reserve(1 + length - src.len());
            return Ok(None);
        }
        let mut message = src.split_to(1 + length).freeze();
        message.advance(5);
        decode_body(kind, Reader(message)).map(Some)
    }
}

fn decode_body(kind: u8, mut r: Reader) -> Result<Frontend, WireError> {
    let message = match kind {
        b'Q' => Frontend::Query(r.cstring()?),
        b'P' => {
            let name = r.cstring()?;
            let sql = r.cstring()?;
            let count = r.count()?;
            let types = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
            Frontend::Parse { name, sql, types }
        }
        b'B' => {
            let portal = r.cstring()?;
            let statement = r.cstring()?;
            let count = r.count()?;
            let param_formats = (0..count).map(|_| r.i16()).collect::<Result<_, _>>()?;
            let count = r.count()?;
            let mut params = Vec::with_capacity(count.min(r.0.len() / 4));
            for _ in 0..count {
                let len = r.i32()?;
                params.push(if len < 0 { None } else { Some(r.bytes(len as usize)?) });
            }
            let count = r.count()?;
            let result_formats = (0..count).map(|_| r.i16()).collect::<Result<_, _>>()?;
            Frontend::Bind { portal, statement, param_formats, params, result_formats }
        }
        b'D' => Frontend::Describe { target: r.target()?, name: r.cstring()? },
        b'E' => Frontend::Execute { portal: r.cstring()?, max_rows: r.i32()? },
        b'C' => Frontend::Close { target: r.target()?, name: r.cstring()? },
        b'S' => Frontend::Sync,
        b'H' => Frontend::Flush,
        b'X' => Frontend::Terminate,
        b'd' => return Ok(Frontend::CopyData(r.0)),
        b'c' => Frontend::CopyDone,
        b'f' => Frontend::CopyFail(r.cstring()?),
        other => {
            return Err(WireError::protocol(format!("invalid frontend message type {}", other as char)));
        }
    };
    if !r.0.is_empty() {
        return Err(WireError::protocol(format!("invalid message format: {} extra bytes", r.0.len())));
    }
    Ok(message)
}

/// Reads a message body, failing instead of reading past its end.
struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize) -> Result<(), WireError> {
        if self.0.len() < n {
            return Err(WireError::protocol("invalid message format: message is truncated"));
        }
        Ok(())
    }

    fn i16(&mut self) -> Result<i16, WireError> {
        self.need(2)?;
        Ok(self.0.get_i16())
    }

    fn i32(&mut self) -> Result<i32, WireError> {
        self.need(4)?;
        Ok(self.0.get_i32())
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        self.need(4)?;
        Ok(self.0.get_u32())
    }

    /// A count of parameters, formats or columns: 16 bits, read unsigned as PostgreSQL
    /// reads it (`pq_getmsgint(msg, 2)`), so 65,535 parameters are allowed. (The
    /// protocol documents it as Int16, but a statement may have 65,535 parameters.)
    fn count(&mut self) -> Result<usize, WireError> {
        self.need(2)?;
        Ok(usize::from(self.0.get_u16()))
    }

    fn bytes(&mut self, n: usize) -> Result<Bytes, WireError> {
        self.need(n)?;
        Ok(self.0.split_to(n))
    }

    fn cstring(&mut self) -> Result<String, WireError> {
        let end = self
            .0
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| WireError::protocol("invalid message format: unterminated string"))?;
        let text = self.0.split_to(end);
        self.0.advance(1);
        String::from_utf8(text.to_vec())
            .map_err(|_| WireError::new("22021", "invalid byte sequence for encoding \"UTF8\""))
    }

    fn target(&mut self) -> Result<Target, WireError> {
        self.need(1)?;
        match self.0.get_u8() {
            b'S' => Ok(Target::Statement),
            b'P' => Ok(Target::Portal),
            other => {
                Err(WireError::protocol(format!("invalid DESCRIBE/CLOSE message subtype {}", other as char)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, body: &[u8]) -> BytesMut {
        let mut b = BytesMut::new();
        b.extend_from_slice(&[kind]);
        b.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    fn decode(bytes: &mut BytesMut) -> Result<Option<Frontend>, WireError> {
        FrontendCodec::new(1 << 20).decode(bytes)
    }

    #[test]
    fn messages_decode_and_partial_ones_wait() {
        let mut b = frame(b'Q', b"SELECT 1\0");
        b.extend_from_slice(&frame(b'E', b"p\0\0\0\0\x05"));
        let mut partial = BytesMut::from(&b[..7]);
        assert_eq!(decode(&mut partial).expect("partial"), None);
        assert_eq!(decode(&mut b).expect("query"), Some(Frontend::Query("SELECT 1".into())));
        assert_eq!(
            decode(&mut b).expect("execute"),
            Some(Frontend::Execute { portal: "p".into(), max_rows: 5 })
        );
        assert!(b.is_empty());
    }

    #[test]
    fn bind_with_nulls_and_formats() {
        let body = b"\0s\0\0\x01\0\x01\0\x02\0\0\0\x02hi\xff\xff\xff\xff\0\0";
        let m = decode(&mut frame(b'B', body)).expect("bind").expect("complete");
        assert_eq!(
            m,
            Frontend::Bind {
                portal: String::new(),
                statement: "s".into(),
                param_formats: vec![1],
                params: vec![Some(Bytes::from_static(b"hi")), None],
                result_formats: vec![],
            }
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        // A Bind that claims a 100-byte parameter it does not carry.
        let bad = decode(&mut frame(b'B', b"\0\0\0\0\0\x01\0\0\0\x64ab")).expect_err("truncated");
        assert_eq!(bad.code, "08P01");
        assert!(decode(&mut frame(b'Q', b"no terminator")).is_err());
        assert!(decode(&mut frame(b'Z', b"")).is_err(), "unknown type");
        assert!(decode(&mut frame(b'S', b"junk")).is_err(), "extra bytes");
        let mut negative = BytesMut::from(&b"Q\xff\xff\xff\xff"[..]);
        assert!(decode(&mut negative).is_err());
        let mut huge = BytesMut::from(&b"Q\x7f\xff\xff\xff"[..]);
        assert_eq!(decode(&mut huge).expect_err("too large").code, "54000");
        assert!(huge.capacity() < 1 << 20, "nothing is buffered for a refused message");
        // 65,535 parameter types announced, none sent: truncated, not "negative".
        let mut count = frame(b'P', b"\0x\0\xff\xff");
        let truncated = decode(&mut count).expect_err("types missing");
        assert!(truncated.message.contains("truncated"), "{}", truncated.message);
    }
}
