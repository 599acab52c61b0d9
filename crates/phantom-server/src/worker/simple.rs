//! The simple query protocol: one Query message, any number of statements.
//!
//! Each statement runs in turn and its results go out as they come (RowDescription,
//! DataRows, CommandComplete); the first error stops the rest. As in PostgreSQL, several
//! statements sent in one Query outside a transaction block form one implicit transaction:
//! all of them commit together, or an error rolls all of them back. (A string that
//! contains transaction control of its own, or VACUUM, runs statement by statement.)
//! An empty query string gets EmptyQueryResponse. ReadyForQuery ends every Query.

use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use phantom::copy::CopyStatement;
use phantom::{Output, is_blank, split_statements};

use super::rows::RowWriter;
use super::{Reply, Worker};
use crate::error::WireError;
use crate::outbox::Gone;

impl Worker {
    pub(super) fn simple_query(&mut self, sql: &str) -> Result<(), Gone> {
        // A Query message ends any unnamed statement and portal, as in PostgreSQL.
        self.statements.remove("");
        self.portals.remove("");
        let statements = split_with_offsets(sql);
        tracing::debug!(statements = statements.len(), "query: {sql}");
        if statements.is_empty() {
            self.out.send(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()))?;
            return self.ready();
        }
        let implicit = statements.len() > 1
            && !self.session.in_transaction()
            && !statements.iter().any(|(text, _)| runs_outside_blocks(text));
        if implicit {
            self.session.begin_implicit();
        }
        let mut failed = false;
        for (text, start) in &statements {
            if let Err(e) = self.run_statement(text, *start)? {
                self.out.send(e.to_error_response())?;
                failed = true;
                break;
            }
        }
        if implicit && let Err(e) = self.session.end_implicit(!failed) {
            self.out.send(WireError::from(e).to_error_response())?;
        }
        self.ready()
    }

    /// Runs one statement of a Query, which starts at character `start` of it.
    fn run_statement(&mut self, text: &str, start: usize) -> Reply {
        let at = |e: phantom::Error| WireError::at_statement(e, text, start);
        match CopyStatement::parse(text) {
            Ok(Some(copy)) => return self.copy(&copy),
            Ok(None) => {}
            Err(e) => return Ok(Err(at(e))),
        }
        let mut rows = RowWriter::new(&mut self.out, true, Vec::new(), None);
        let result = self.session.execute_into(text, &mut rows);
        let (sent, failure) = (rows.sent, rows.failure.take());
        self.send_notices()?;
        match (failure, result) {
            (Some(Err(Gone)), _) => Err(Gone),
            (Some(Ok(e)), _) => Ok(Err(e)),
            (None, Err(e)) => Ok(Err(at(e))),
            (None, Ok(output)) => {
                self.out.send(command_complete(&output, sent))?;
                Ok(Ok(()))
            }
        }
    }
}

/// CommandComplete for a statement's output, `sent` rows having been streamed.
pub(super) fn command_complete(output: &Output, sent: u64) -> PgWireBackendMessage {
    let tag = match output {
        Output::Rows(_) => format!("SELECT {sent}"),
        Output::Fetched(_) => format!("FETCH {sent}"),
        other => other.tag(),
    };
    PgWireBackendMessage::CommandComplete(CommandComplete::new(tag))
}

/// The statements of a query string with the character offset where each starts.
fn split_with_offsets(sql: &str) -> Vec<(String, usize)> {
    // Most Query messages hold one statement: with no `;` but a trailing one there is
    // nothing to split, and the statement is not tokenized twice.
    let body = sql.trim_end().trim_end_matches(';');
    if !body.contains(';') {
        let statement = body.trim_start();
        if is_blank(statement) {
            return Vec::new();
        }
        let offset = sql[..sql.len() - sql.trim_start().len()].chars().count();
        return vec![(statement.to_string(), offset)];
    }
    let (mut statements, rest) = split_statements(sql);
    if !is_blank(&rest) {
        statements.push(rest.trim().to_string());
    }
    let mut out = Vec::with_capacity(statements.len());
    let (mut byte, mut chars) = (0, 0);
    for statement in statements {
        // Statements are pieces of the string, in order, trimmed of whitespace.
        let found = sql[byte..].find(statement.as_str()).unwrap_or(0);
        chars += sql[byte..byte + found].chars().count();
        byte += found;
        out.push((statement, chars));
    }
    out
}

/// The statement's first word, upper-cased.
pub(super) fn first_word(text: &str) -> String {
    text.trim_start().chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_uppercase()
}

/// Statements that manage transactions themselves or refuse to run inside one.
pub(super) fn runs_outside_blocks(text: &str) -> bool {
    matches!(
        first_word(text).as_str(),
        "BEGIN"
            | "START"
            | "COMMIT"
            | "END"
            | "ROLLBACK"
            | "ABORT"
            | "SAVEPOINT"
            | "RELEASE"
            | "PREPARE"
            | "VACUUM"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_keep_their_offsets() {
        let sql = "SELECT 1; \n  SELECT 'é;'; SELECT 3";
        let parts = split_with_offsets(sql);
        assert_eq!(parts, vec![("SELECT 1".into(), 0), ("SELECT 'é;'".into(), 13), ("SELECT 3".into(), 26)]);
        assert!(split_with_offsets(" ; -- nothing\n").is_empty());
        assert!(split_with_offsets("  -- only a comment").is_empty());
        assert_eq!(split_with_offsets("  SELECT 'é' ;; \n"), vec![("SELECT 'é' ".into(), 2)]);
        assert_eq!(split_with_offsets("\tSELECT 1 -- note"), vec![("SELECT 1 -- note".into(), 1)]);
    }
}
