//! Shared test helpers: an in-process server on a free loopback port, a tokio-postgres
//! client for it, and a raw protocol client for what drivers hide (ReadyForQuery status,
//! notices, malformed messages).

#![allow(dead_code)]

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use phantom_server::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::{Client, NoTls};

/// Starts a server on 127.0.0.1 with a free port over `db`.
pub async fn start_with(db: phantom::Database, config: ServerConfig) -> Server {
    let config = ServerConfig { listen: "127.0.0.1:0".into(), ..config };
    Server::start(db, config).await.expect("server starts")
}

/// Starts a server over a fresh in-memory database.
pub async fn start() -> Server {
    start_with(phantom::Database::memory(), ServerConfig::default()).await
}

/// Connects tokio-postgres to `server`; the connection runs in a task.
pub async fn connect(server: &Server) -> Client {
    connect_with(server).await.0
}

/// Connects and also returns the connection task, to drop the connection abruptly.
pub async fn connect_with(server: &Server) -> (Client, tokio::task::JoinHandle<()>) {
    let url = format!(
        "host=127.0.0.1 port={} user=phantom dbname=anything application_name=tests",
        server.local_addr().port()
    );
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, task)
}

/// A backend message as read by [`Raw`].
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: u8,
    pub body: Vec<u8>,
}

impl Message {
    /// The fields of an ErrorResponse or NoticeResponse, by their code byte.
    pub fn field(&self, code: u8) -> Option<String> {
        let mut rest = &self.body[..];
        while let Some((&c, tail)) = rest.split_first() {
            if c == 0 {
                break;
            }
            let end = tail.iter().position(|&b| b == 0)?;
            if c == code {
                return Some(String::from_utf8_lossy(&tail[..end]).into_owned());
            }
            rest = &tail[end + 1..];
        }
        None
    }
}

/// A hand-driven protocol connection.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    /// Connects and completes startup; returns after the first ReadyForQuery.
    pub async fn connect(server: &Server) -> Raw {
        let mut raw = Raw::connect_only(server).await;
        raw.send_startup(&[("user", "phantom"), ("database", "x")]).await;
        let messages = raw.until_ready().await;
        assert_eq!(messages.last().map(|m| m.kind), Some(b'Z'), "{messages:?}");
        raw
    }

    /// Connects without any startup.
    pub async fn connect_only(server: &Server) -> Raw {
        Raw { stream: TcpStream::connect(server.local_addr()).await.expect("tcp connect") }
    }

    pub async fn send_startup(&mut self, params: &[(&str, &str)]) {
        let mut body = BytesMut::new();
        body.put_i32(196608);
        for (k, v) in params {
            body.put_slice(k.as_bytes());
            body.put_u8(0);
            body.put_slice(v.as_bytes());
            body.put_u8(0);
        }
        body.put_u8(0);
        let mut msg = BytesMut::new();
        msg.put_i32(body.len() as i32 + 4);
        msg.put_slice(&body);
        self.stream.write_all(&msg).await.expect("write startup");
    }

    /// Sends one typed message.
    pub async fn send(&mut self, kind: u8, body: &[u8]) {
        let mut msg = BytesMut::new();
        msg.put_u8(kind);
        msg.put_i32(body.len() as i32 + 4);
        msg.put_slice(body);
        self.stream.write_all(&msg).await.expect("write");
    }

    /// Sends raw bytes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends a simple Query.
    pub async fn query(&mut self, sql: &str) -> Vec<Message> {
        let mut body = sql.as_bytes().to_vec();
        body.push(0);
        self.send(b'Q', &body).await;
        self.until_ready().await
    }

    /// Reads one message; `None` at end of stream.
    pub async fn read(&mut self) -> Option<Message> {
        let mut head = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(30), self.stream.read_exact(&mut head)).await.ok()?.ok()?;
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0; len - 4];
        self.stream.read_exact(&mut body).await.ok()?;
        Some(Message { kind: head[0], body })
    }

    /// Reads messages up to and including ReadyForQuery (or the end of the stream).
    pub async fn until_ready(&mut self) -> Vec<Message> {
        let mut messages = Vec::new();
        while let Some(m) = self.read().await {
            let done = m.kind == b'Z';
            messages.push(m);
            if done {
                break;
            }
        }
        messages
    }
}

/// The transaction status of the last ReadyForQuery among `messages`.
pub fn status(messages: &[Message]) -> char {
    messages.iter().rev().find(|m| m.kind == b'Z').map(|m| m.body[0] as char).unwrap_or('?')
}

/// The message kinds, as a string ("TDC" for RowDescription, DataRow, CommandComplete).
pub fn kinds(messages: &[Message]) -> String {
    messages.iter().map(|m| m.kind as char).collect()
}

/// The CommandComplete tags.
pub fn tags(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m.kind == b'C')
        .map(|m| String::from_utf8_lossy(&m.body[..m.body.len() - 1]).into_owned())
        .collect()
}

/// Extended-protocol message bodies.
pub fn parse_body(name: &str, sql: &str, types: &[u32]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_slice(name.as_bytes());
    b.put_u8(0);
    b.put_slice(sql.as_bytes());
    b.put_u8(0);
    b.put_i16(types.len() as i16);
    for t in types {
        b.put_u32(*t);
    }
    b.to_vec()
}

pub fn bind_body(
    portal: &str,
    statement: &str,
    params: &[Option<&[u8]>],
    result_format: Option<i16>,
) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_slice(portal.as_bytes());
    b.put_u8(0);
    b.put_slice(statement.as_bytes());
    b.put_u8(0);
    b.put_i16(0);
    b.put_i16(params.len() as i16);
    for p in params {
        match p {
            Some(v) => {
                b.put_i32(v.len() as i32);
                b.put_slice(v);
            }
            None => b.put_i32(-1),
        }
    }
    match result_format {
        Some(f) => {
            b.put_i16(1);
            b.put_i16(f);
        }
        None => b.put_i16(0),
    }
    b.to_vec()
}

pub fn execute_body(portal: &str, max_rows: i32) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_slice(portal.as_bytes());
    b.put_u8(0);
    b.put_i32(max_rows);
    b.to_vec()
}

pub fn describe_body(target: u8, name: &str) -> Vec<u8> {
    let mut b = vec![target];
    b.extend_from_slice(name.as_bytes());
    b.push(0);
    b
}
