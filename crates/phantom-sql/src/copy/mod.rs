//! COPY: moving rows between a table (or a query) and a stream of text, as PostgreSQL's
//! `COPY ... FROM STDIN` and `COPY ... TO STDOUT` do.
//!
//! Three pieces, usable apart:
//!
//! - [`CopyStatement`] reads a COPY statement: table and columns or query, direction, and
//!   the options PostgreSQL accepts (text or CSV format, HEADER, DELIMITER, NULL, QUOTE,
//!   ESCAPE; FREEZE is accepted and means nothing here).
//! - [`format`] turns a stream of text or CSV into records and rows back into lines,
//!   incrementally: the stream may arrive in pieces that split lines anywhere.
//! - [`crate::session::CopyIn`] inserts records into a table, one at a time, inside the
//!   session's transaction.
//!
//! The server wires them to the protocol's CopyData messages; nothing here knows about
//! sockets. Nothing collects the data either: COPY FROM inserts each record as its line
//! arrives and COPY TO writes each row as the query produces it. (What COPY FROM wrote is
//! still held by the transaction's write set until it commits; see `phantom_txn`.)

pub mod format;

use sqlparser::ast::{self, CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopyTarget, Statement as Ast};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::error::{Error, Result, SqlState};
use crate::parser;

/// Which way the rows go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyDirection {
    /// `COPY ... FROM STDIN`: rows come in.
    From,
    /// `COPY ... TO STDOUT`: rows go out.
    To,
}

/// What is copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopySource {
    /// A table and optionally some of its columns, as SQL text (quoted where the statement
    /// quoted them).
    Table {
        /// The table's name.
        name: String,
        /// The listed columns; empty for all of them.
        columns: Vec<String>,
    },
    /// `COPY (query) TO STDOUT`: the query's SQL text.
    Query(String),
}

/// The data format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFormat {
    /// PostgreSQL's text format: tab-separated, `\N` for NULL, backslash escapes.
    Text,
    /// Comma-separated values with quoting.
    Csv,
}

/// How the text is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyOptions {
    /// Text or CSV.
    pub format: CopyFormat,
    /// Separates fields: a tab for text, a comma for CSV.
    pub delimiter: char,
    /// The field text that means NULL: `\N` for text, an unquoted empty field for CSV.
    pub null: String,
    /// The first line names the columns (skipped on input, written on output).
    pub header: bool,
    /// CSV: the quoting character.
    pub quote: char,
    /// CSV: the character that escapes a quote inside a quoted field (the quote itself
    /// by default, so `""` is one `"`).
    pub escape: char,
}

impl CopyOptions {
    /// The defaults of `format`.
    pub fn new(format: CopyFormat) -> CopyOptions {
        match format {
            CopyFormat::Text => CopyOptions {
                format,
                delimiter: '\t',
                null: "\\N".into(),
                header: false,
                quote: '"',
                escape: '"',
            },
            CopyFormat::Csv => CopyOptions {
                format,
                delimiter: ',',
                null: String::new(),
                header: false,
                quote: '"',
                escape: '"',
            },
        }
    }
}

/// A `COPY` statement, checked and ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyStatement {
    /// In or out.
    pub direction: CopyDirection,
    /// The table or query.
    pub source: CopySource,
    /// The data format.
    pub options: CopyOptions,
}

impl CopyStatement {
    /// Reads `sql` as a COPY statement; `None` if it is another kind of statement (only
    /// text that starts with the word COPY is parsed).
    pub fn parse(sql: &str) -> Result<Option<CopyStatement>> {
        if !starts_with_copy(sql) {
            return Ok(None);
        }
        let mut statements = parser::parse_rewritten(sql, boolean_words)?;
        if statements.len() != 1 {
            return Err(Error::new(SqlState::SyntaxError, "expected one COPY statement"));
        }
        match statements.remove(0) {
            Ast::Copy { source, to, target, options, legacy_options, .. } => {
                let direction = if to { CopyDirection::To } else { CopyDirection::From };
                match (direction, &target) {
                    (CopyDirection::From, CopyTarget::Stdin) | (CopyDirection::To, CopyTarget::Stdout) => {}
                    _ => {
                        return Err(Error::new(
                            SqlState::FeatureNotSupported,
                            format!(
                                "COPY with {target} is not supported: use COPY ... FROM STDIN or TO STDOUT"
                            ),
                        ));
                    }
                }
                let source = match source {
                    ast::CopySource::Table { table_name, columns } => CopySource::Table {
                        name: table_name.to_string(),
                        columns: columns.iter().map(ToString::to_string).collect(),
                    },
                    ast::CopySource::Query(_) if direction == CopyDirection::From => {
                        return Err(Error::new(SqlState::SyntaxError, "COPY FROM cannot read into a query"));
                    }
                    ast::CopySource::Query(query) => CopySource::Query(query.to_string()),
                };
                let options = read_options(&options, &legacy_options)?;
                Ok(Some(CopyStatement { direction, source, options }))
            }
            _ => Ok(None),
        }
    }

    /// The query whose rows `COPY ... TO` writes.
    pub fn query(&self) -> String {
        match &self.source {
            CopySource::Table { name, columns } if columns.is_empty() => format!("SELECT * FROM {name}"),
            CopySource::Table { name, columns } => format!("SELECT {} FROM {name}", columns.join(", ")),
            CopySource::Query(query) => query.clone(),
        }
    }
}

/// PostgreSQL takes `on`/`off` for a boolean option (pgbench sends `FREEZE ON`);
/// `sqlparser` only takes `true`/`false`, so the words are swapped before parsing.
fn boolean_words(mut tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut previous_option = false;
    for t in tokens.iter_mut() {
        if let Token::Word(w) = &t.token {
            let word = w.value.to_ascii_lowercase();
            if previous_option && (word == "on" || word == "off") {
                t.token = Token::make_keyword(if word == "on" { "TRUE" } else { "FALSE" });
            }
            previous_option = word == "freeze" || word == "header";
        } else if !matches!(t.token, Token::Whitespace(_)) {
            previous_option = false;
        }
    }
    tokens
}

/// True when the first word of `sql` (after whitespace and comments) is COPY.
fn starts_with_copy(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    word.eq_ignore_ascii_case("copy")
}

fn read_options(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<CopyOptions> {
    let mut format = CopyFormat::Text;
    for option in options {
        if let CopyOption::Format(name) = option {
            format = match name.value.to_ascii_lowercase().as_str() {
                "text" => CopyFormat::Text,
                "csv" => CopyFormat::Csv,
                "binary" => return Err(unsupported("COPY BINARY")),
                other => {
                    return Err(Error::new(
                        SqlState::InvalidParameterValue,
                        format!("COPY format \"{other}\" not recognized"),
                    ));
                }
            };
        }
    }
    if legacy.iter().any(|o| matches!(o, CopyLegacyOption::Csv(_))) {
        format = CopyFormat::Csv;
    }
    let mut out = CopyOptions::new(format);
    let mut quote = None;
    let mut escape = None;
    for option in options {
        match option {
            CopyOption::Format(_) | CopyOption::Freeze(_) => {}
            CopyOption::Delimiter(c) => out.delimiter = *c,
            CopyOption::Null(s) => out.null = s.clone(),
            CopyOption::Header(h) => out.header = *h,
            CopyOption::Quote(c) => quote = Some(*c),
            CopyOption::Escape(c) => escape = Some(*c),
            CopyOption::Encoding(e) if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => return Err(unsupported(&format!("COPY option {other}"))),
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Delimiter(c) => out.delimiter = *c,
            CopyLegacyOption::Null(s) => out.null = s.clone(),
            CopyLegacyOption::Header => out.header = true,
            CopyLegacyOption::Binary => return Err(unsupported("COPY BINARY")),
            CopyLegacyOption::Csv(csv) => {
                for o in csv {
                    match o {
                        CopyLegacyCsvOption::Header => out.header = true,
                        CopyLegacyCsvOption::Quote(c) => quote = Some(*c),
                        CopyLegacyCsvOption::Escape(c) => escape = Some(*c),
                        other => return Err(unsupported(&format!("COPY option {other}"))),
                    }
                }
            }
            other => return Err(unsupported(&format!("COPY option {other}"))),
        }
    }
    if format == CopyFormat::Text && (quote.is_some() || escape.is_some()) {
        return Err(unsupported("COPY QUOTE and ESCAPE outside CSV mode"));
    }
    out.quote = quote.unwrap_or('"');
    out.escape = escape.or(quote).unwrap_or('"');
    check(&out)?;
    Ok(out)
}

/// PostgreSQL's rules for options that would make the data ambiguous.
fn check(o: &CopyOptions) -> Result<()> {
    let invalid = |message: &str| Err(Error::new(SqlState::InvalidParameterValue, message.to_string()));
    if !o.delimiter.is_ascii() || matches!(o.delimiter, '\n' | '\r') {
        return invalid("COPY delimiter must be a single one-byte character other than newline");
    }
    if o.null.contains(['\n', '\r']) {
        return invalid("COPY null representation cannot use newline or carriage return");
    }
    if o.format == CopyFormat::Text && o.delimiter == '\\' {
        return invalid("COPY delimiter cannot be backslash");
    }
    if o.format == CopyFormat::Csv {
        if !o.quote.is_ascii() || !o.escape.is_ascii() {
            return invalid("COPY quote and escape must be single one-byte characters");
        }
        if o.quote == o.delimiter {
            return invalid("COPY delimiter and quote must be different");
        }
        if o.null.contains(o.delimiter) || o.null.contains(o.quote) {
            return invalid("COPY delimiter and quote must not appear in the NULL specification");
        }
    }
    Ok(())
}

fn unsupported(what: &str) -> Error {
    Error::new(SqlState::FeatureNotSupported, format!("{what} is not supported"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> CopyStatement {
        CopyStatement::parse(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).expect("a COPY statement")
    }

    #[test]
    fn reads_what_pgbench_and_psql_send() {
        let s = parse("copy pgbench_accounts from stdin with (freeze on)");
        assert_eq!(s.direction, CopyDirection::From);
        assert_eq!(s.source, CopySource::Table { name: "pgbench_accounts".into(), columns: vec![] });
        assert_eq!(s.options, CopyOptions::new(CopyFormat::Text));

        let s = parse("COPY t (a, \"B c\") TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'nil')");
        assert_eq!(s.direction, CopyDirection::To);
        assert_eq!(
            s.source,
            CopySource::Table { name: "t".into(), columns: vec!["a".into(), "\"B c\"".into()] }
        );
        assert_eq!(s.options.format, CopyFormat::Csv);
        assert!(s.options.header);
        assert_eq!((s.options.delimiter, s.options.null.as_str()), (';', "nil"));
        assert_eq!(s.query(), "SELECT a, \"B c\" FROM t");

        let s = parse("/* comment */ copy (select 1 as x) to stdout");
        assert_eq!(s.source, CopySource::Query("SELECT 1 AS x".into()));
        assert_eq!(s.query(), "SELECT 1 AS x");

        let s = parse("COPY t TO STDOUT WITH (FORMAT csv, HEADER off, FREEZE off)");
        assert!(!s.options.header);

        let s = parse("COPY t FROM STDIN CSV HEADER");
        assert_eq!((s.options.format, s.options.header), (CopyFormat::Csv, true));
    }

    #[test]
    fn other_statements_are_not_copy() {
        assert_eq!(CopyStatement::parse("SELECT 1").expect("ok"), None);
        assert_eq!(CopyStatement::parse("copyright").expect("ok"), None);
    }

    #[test]
    fn files_programs_and_binary_are_refused() {
        for sql in [
            "COPY t FROM '/etc/passwd'",
            "COPY t TO PROGRAM 'ls'",
            "COPY t FROM STDIN WITH (FORMAT binary)",
            "COPY t TO STDIN",
        ] {
            let err = CopyStatement::parse(sql).expect_err(sql);
            assert_eq!(err.state, SqlState::FeatureNotSupported, "{sql}: {err}");
        }
        let err =
            CopyStatement::parse("COPY t FROM STDIN WITH (FORMAT csv, DELIMITER '\"')").expect_err("quote");
        assert_eq!(err.state, SqlState::InvalidParameterValue);
        let err = CopyStatement::parse("COPY t FROM STDIN WITH (QUOTE '''')").expect_err("text quote");
        assert_eq!(err.state, SqlState::FeatureNotSupported);
        let err = CopyStatement::parse("COPY t FROM STDIN WITH (FORMAT xml)").expect_err("format");
        assert_eq!(err.state, SqlState::InvalidParameterValue);
    }
}
