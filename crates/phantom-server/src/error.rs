//! Errors as the client sees them: an ErrorResponse's fields.
//!
//! Statement errors come from the database as [`phantom::Error`] (SQLSTATE, message,
//! detail, hint, and a line and column in the statement's text for syntax errors); protocol
//! errors (a malformed message, an unknown portal) are made here. PostgreSQL reports an
//! error position as a 1-based *character* offset into the whole query string the client
//! sent, so a statement's own line and column are converted with the statement's offset
//! in that string ([`WireError::at_statement`]).

use pgwire::error::ErrorInfo;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{ErrorResponse, NoticeResponse};

/// One ErrorResponse (or NoticeResponse). Boxed: errors travel in `Result`s on hot
/// paths, and a pointer keeps those small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(Box<Fields>);

/// The fields of a [`WireError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    /// ERROR, FATAL, WARNING ...
    pub severity: &'static str,
    /// The SQLSTATE.
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character offset into the query string.
    pub position: Option<usize>,
    /// Where it happened (PostgreSQL's CONTEXT), e.g. `COPY t, line 3`.
    pub context: Option<String>,
}

impl WireError {
    /// An ERROR with a SQLSTATE and message.
    pub fn new(code: &str, message: impl Into<String>) -> WireError {
        WireError(Box::new(Fields {
            severity: "ERROR",
            code: code.to_string(),
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            context: None,
        }))
    }

    /// 08P01 protocol_violation.
    pub fn protocol(message: impl Into<String>) -> WireError {
        WireError::new("08P01", message)
    }

    /// The same error, ending the connection.
    pub fn fatal(mut self) -> WireError {
        self.severity = "FATAL";
        self
    }

    /// The same fields, as a warning (NoticeResponse).
    pub fn warning(mut self) -> WireError {
        self.severity = "WARNING";
        self
    }

    /// A notice or warning a statement raised, for a NoticeResponse.
    pub fn notice(notice: phantom::Notice) -> WireError {
        let mut e = WireError::new(notice.code, notice.message);
        e.severity = notice.severity.name();
        e.detail = notice.detail;
        e.hint = notice.hint;
        e
    }

    /// Adds a CONTEXT line.
    pub fn with_context(mut self, context: impl Into<String>) -> WireError {
        self.context = Some(context.into());
        self
    }

    /// Converts a database error raised by a statement that starts at character
    /// `statement_start` (0-based) of the query string.
    pub fn at_statement(e: phantom::Error, statement: &str, statement_start: usize) -> WireError {
        let position = e.position.map(|p| statement_start + char_offset(statement, p.line, p.column) + 1);
        let mut error = WireError::from(e);
        error.position = position;
        error
    }

    /// The ErrorResponse message.
    pub fn to_error_response(&self) -> PgWireBackendMessage {
        PgWireBackendMessage::ErrorResponse(ErrorResponse::from(self.info()))
    }

    /// The NoticeResponse message.
    pub fn to_notice(&self) -> PgWireBackendMessage {
        PgWireBackendMessage::NoticeResponse(NoticeResponse::from(self.info()))
    }

    fn info(&self) -> ErrorInfo {
        let mut info = ErrorInfo::new(self.severity.to_string(), self.code.clone(), self.message.clone());
        info.severity_nonlocalized = Some(self.severity.to_string());
        info.detail = self.detail.clone();
        info.hint = self.hint.clone();
        info.position = self.position.map(|p| p.to_string());
        info.where_context = self.context.clone();
        info
    }
}

/// A read error on the socket, as the codec reports it (the connection is over anyway).
impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> WireError {
        WireError::new("08006", e.to_string()).fatal()
    }
}

impl From<phantom::Error> for WireError {
    fn from(e: phantom::Error) -> WireError {
        let mut error = WireError::new(e.state.code(), e.message);
        error.detail = e.detail;
        error.hint = e.hint;
        error
    }
}

impl std::ops::Deref for WireError {
    type Target = Fields;
    fn deref(&self) -> &Fields {
        &self.0
    }
}

impl std::ops::DerefMut for WireError {
    fn deref_mut(&mut self) -> &mut Fields {
        &mut self.0
    }
}

/// The 0-based character offset of (1-based) `line` and `column` in `text`.
fn char_offset(text: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (n, l) in text.split_inclusive('\n').enumerate() {
        if n as u64 + 1 == line {
            return offset + (column.saturating_sub(1) as usize).min(l.chars().count());
        }
        offset += l.chars().count();
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_across_statements_and_lines() {
        assert_eq!(char_offset("SELECT x", 1, 8), 7);
        assert_eq!(char_offset("SELECT\n  é, x", 2, 6), 12);
        let e = phantom::Error::new(phantom::SqlState::SyntaxError, "syntax error")
            .at(phantom::Position { line: 1, column: 8 });
        // The statement starts at character 10 of the query string.
        assert_eq!(WireError::at_statement(e, "SELECT ** FROM t", 10).position, Some(18));
    }

    #[test]
    fn fields_carry_over() {
        let e = phantom::Error::new(phantom::SqlState::UniqueViolation, "duplicate key")
            .with_detail("Key (a)=(1)")
            .with_hint("Try another key.");
        let w = WireError::from(e);
        assert_eq!((w.code.as_str(), w.detail.as_deref()), ("23505", Some("Key (a)=(1)")));
        assert_eq!(w.hint.as_deref(), Some("Try another key."));
        assert_eq!(w.severity, "ERROR");
    }
}
