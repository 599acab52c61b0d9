//! A per-session cache of parsed statements that differ only in their literals.
//!
//! Applications send the same statements again and again with other constants in them
//! (pgbench's `SELECT abalance FROM pgbench_accounts WHERE aid = 48213;`), and for such
//! short statements tokenizing and parsing cost as much as running them. This cache skips
//! both: a quick scan of the text replaces each literal with a placeholder to make a
//! *shape*, and when a statement of that shape was parsed before, its syntax tree is
//! copied and the new literals are put where the old ones were.
//!
//! The copy must be exactly the tree the parser would have built, so the cache stays on
//! the safe side of every doubt:
//!
//! - The scan knows only plain text: ASCII outside literals, no comments, no dollar
//!   quotes, no escape-string or bit-string prefixes, literals without backslashes or
//!   line breaks, numbers of digits with at most one inner point. Anything else is parsed
//!   as usual, uncached.
//! - A literal's length is part of the shape, so every token of a copy sits at exactly the
//!   position the parser would have given it, and error positions stay right.
//! - Literals are matched to the tree by position, not by order. When a shape is first
//!   parsed, every number and string literal in the tree must sit at a position where the
//!   scan found one, with the same text, and every literal the scan found must be in the
//!   tree; otherwise (a literal inside a type name, a typed string like `DATE '...'`) the
//!   shape is not cached.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Statement, Value, visit_expressions, visit_expressions_mut};

use crate::error::Result;
use crate::parser;

/// How many shapes a session remembers.
const CAPACITY: usize = 256;

/// Statements longer than this are parsed as usual: long texts are rarely repeated.
const MAX_TEXT: usize = 4096;

/// A literal found by the scan: where it starts (line and column, as the parser counts
/// them) and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Literal {
    line: u64,
    column: u64,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// A number's text.
    Number(String),
    /// A string's content, quotes removed and doubled quotes made single.
    String(String),
}

impl Kind {
    fn of(value: &Value) -> Option<Kind> {
        match value {
            Value::Number(text, false) => Some(Kind::Number(text.to_string())),
            Value::SingleQuotedString(text) => Some(Kind::String(text.clone())),
            _ => None,
        }
    }

    fn value(&self) -> Value {
        match self {
            Kind::Number(text) => Value::Number(text.clone(), false),
            Kind::String(text) => Value::SingleQuotedString(text.clone()),
        }
    }
}

/// A statement text with its literals taken out.
#[derive(Debug)]
struct Shape {
    key: String,
    literals: Vec<Literal>,
}

impl Shape {
    /// Scans `sql`; `None` if it holds anything the scan does not know for certain.
    fn of(sql: &str) -> Option<Shape> {
        if sql.len() > MAX_TEXT || !sql.is_ascii() {
            return None;
        }
        let bytes = sql.as_bytes();
        let mut key = String::with_capacity(sql.len());
        let mut literals = Vec::new();
        let (mut line, mut line_start) = (1u64, 0usize);
        let word_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let column = (i - line_start + 1) as u64;
            let after_word = i > 0 && word_byte(bytes[i - 1]);
            match b {
                b'\'' => {
                    if after_word {
                        // E'..', B'..', X'..', N'..', U&'..' and friends.
                        return None;
                    }
                    let mut content = String::new();
                    let mut j = i + 1;
                    loop {
                        match *bytes.get(j)? {
                            b'\'' if bytes.get(j + 1) == Some(&b'\'') => {
                                content.push('\'');
                                j += 2;
                            }
                            b'\'' => break,
                            b'\\' | b'\n' | b'\r' => return None,
                            other => {
                                content.push(char::from(other));
                                j += 1;
                            }
                        }
                    }
                    // PostgreSQL joins 'a' 'b' across a line break; keep away from it.
                    let next = bytes[j + 1..].iter().find(|b| !b.is_ascii_whitespace());
                    if next == Some(&b'\'') {
                        return None;
                    }
                    literals.push(Literal { line, column, kind: Kind::String(content) });
                    let _ = write!(key, "'{}'", j - i - 1);
                    i = j + 1;
                }
                b'0'..=b'9' if !after_word => {
                    let mut j = i;
                    while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                        j += 1;
                    }
                    if bytes.get(j) == Some(&b'.') {
                        j += 1;
                        if !bytes.get(j).is_some_and(u8::is_ascii_digit) {
                            return None;
                        }
                        while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                            j += 1;
                        }
                    }
                    if bytes.get(j).is_some_and(|&b| word_byte(b) || b == b'.') {
                        // 1e5, 0x1F, 1_000, 1.2.3: not plain numbers.
                        return None;
                    }
                    literals.push(Literal { line, column, kind: Kind::Number(sql[i..j].to_string()) });
                    let _ = write!(key, "#{}", j - i);
                    i = j;
                }
                b'"' => {
                    let close = bytes[i + 1..].iter().position(|&b| b == b'"')? + i + 1;
                    if bytes.get(close + 1) == Some(&b'"') || bytes[i..close].contains(&b'\n') {
                        return None;
                    }
                    key.push_str(&sql[i..=close]);
                    i = close + 1;
                }
                b'-' if bytes.get(i + 1) == Some(&b'-') => return None,
                b'/' if bytes.get(i + 1) == Some(&b'*') => return None,
                b'$' if !after_word && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => return None,
                b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) && !after_word => return None,
                b'#' | b'\\' | b'\r' => return None,
                _ => {
                    if b == b'\n' {
                        line += 1;
                        line_start = i + 1;
                    }
                    if word_byte(b) {
                        let end =
                            bytes[i..].iter().position(|&b| !word_byte(b)).map_or(bytes.len(), |n| i + n);
                        key.push_str(&sql[i..end]);
                        i = end;
                        continue;
                    }
                    key.push(char::from(b));
                    i += 1;
                }
            }
        }
        Some(Shape { key, literals })
    }
}

/// Parsed statements of one shape, and where their literals are.
#[derive(Debug)]
struct Parsed {
    statements: Vec<Statement>,
}

impl Parsed {
    /// Keeps `statements` parsed from a text of `shape`, if their literals are exactly
    /// the ones the scan found.
    fn new(statements: &[Statement], shape: &Shape) -> Option<Parsed> {
        let mut unmatched: HashMap<(u64, u64), &Kind> =
            shape.literals.iter().map(|l| ((l.line, l.column), &l.kind)).collect();
        if unmatched.len() != shape.literals.len() {
            return None;
        }
        let statements = statements.to_vec();
        let mut matched = true;
        let _ = visit_expressions(&statements, |expr: &Expr| {
            if let Expr::Value(value) = expr
                && let Some(kind) = Kind::of(&value.value)
            {
                let at = (value.span.start.line, value.span.start.column);
                if unmatched.remove(&at) != Some(&kind) {
                    matched = false;
                    return ControlFlow::Break(());
                }
            } else if let Expr::Value(value) = expr
                && !matches!(value.value, Value::Boolean(_) | Value::Null | Value::Placeholder(_))
            {
                matched = false;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        (matched && unmatched.is_empty()).then_some(Parsed { statements })
    }

    /// The statements with the literals of `shape`.
    fn instantiate(&self, shape: &Shape) -> Vec<Statement> {
        let mut statements = self.statements.clone();
        let at: HashMap<(u64, u64), &Kind> =
            shape.literals.iter().map(|l| ((l.line, l.column), &l.kind)).collect();
        let _ = visit_expressions_mut(&mut statements, |expr: &mut Expr| {
            if let Expr::Value(value) = expr
                && Kind::of(&value.value).is_some()
                && let Some(kind) = at.get(&(value.span.start.line, value.span.start.column))
            {
                value.value = kind.value();
            }
            ControlFlow::<()>::Continue(())
        });
        statements
    }
}

/// The cache: shapes to parsed statements, the oldest shape evicted first.
#[derive(Debug, Default)]
pub struct ParseCache {
    shapes: HashMap<String, Parsed>,
    order: VecDeque<String>,
}

impl ParseCache {
    /// Parses `sql` as [`parser::parse`] does, from the cache when it can.
    pub fn parse(&mut self, sql: &str) -> Result<Vec<Statement>> {
        let Some(shape) = Shape::of(sql) else { return parser::parse(sql) };
        if let Some(parsed) = self.shapes.get(&shape.key) {
            return Ok(parsed.instantiate(&shape));
        }
        let statements = parser::parse(sql)?;
        if let Some(parsed) = Parsed::new(&statements, &shape) {
            if self.order.len() >= CAPACITY
                && let Some(oldest) = self.order.pop_front()
            {
                self.shapes.remove(&oldest);
            }
            self.order.push_back(shape.key.clone());
            self.shapes.insert(shape.key, parsed);
        }
        Ok(statements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses through a cache that has seen `first`, and checks the result is exactly
    /// what the parser makes of `second`.
    fn same_as_parser(first: &str, second: &str) -> bool {
        let mut cache = ParseCache::default();
        cache.parse(first).expect("first");
        let hit = Shape::of(second).is_some_and(|s| cache.shapes.contains_key(&s.key));
        let cached = cache.parse(second).expect("second");
        assert_eq!(cached, parser::parse(second).expect("parse"), "{second}");
        hit
    }

    #[test]
    fn literals_are_replaced_where_they_stand() {
        assert!(same_as_parser(
            "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
            "SELECT abalance FROM pgbench_accounts WHERE aid = 10000;"
        ));
        assert!(same_as_parser(
            "UPDATE t SET a = a + -5, b = 'it''s' WHERE id = 3.25",
            "UPDATE t SET a = a + -7, b = 'x''yz' WHERE id = 9.75"
        ));
        assert!(same_as_parser(
            "INSERT INTO h (a, b) VALUES (1, 2), (3, 'x');\nSELECT 4",
            "INSERT INTO h (a, b) VALUES (5, 6), (7, 'y');\nSELECT 8"
        ));
        // OFFSET before LIMIT: matched by position, so equal values cannot swap places.
        assert!(same_as_parser("SELECT * FROM t OFFSET 5 LIMIT 5", "SELECT * FROM t OFFSET 1 LIMIT 9"));
        assert!(same_as_parser("SELECT x FROM t ORDER BY 1", "SELECT x FROM t ORDER BY 2"));
    }

    #[test]
    fn what_the_scan_does_not_know_is_parsed_as_usual() {
        for sql in [
            "SELECT E'a\\nb'",
            "SELECT 1e5",
            "SELECT 0x1F",
            "SELECT 'a' -- comment",
            "SELECT /* c */ 1",
            "SELECT $$x$$",
            "SELECT 'é'",
            "SELECT 'a'\n'b'",
            "SELECT .5",
        ] {
            assert!(Shape::of(sql).is_none(), "{sql}");
        }
    }

    #[test]
    fn literals_the_tree_holds_elsewhere_keep_a_shape_out() {
        // The 10 of VARCHAR(10) is no expression; DATE '...' is a typed string.
        for sql in ["SELECT CAST(a AS VARCHAR(10)) FROM t", "SELECT DATE '2020-01-01'"] {
            let mut cache = ParseCache::default();
            cache.parse(sql).expect("parse");
            assert!(cache.shapes.is_empty(), "{sql}");
        }
    }

    #[test]
    fn lengths_are_part_of_the_shape() {
        let a = Shape::of("SELECT 1").expect("shape");
        let b = Shape::of("SELECT 12").expect("shape");
        assert_ne!(a.key, b.key);
        assert!(!same_as_parser("SELECT 1", "SELECT 12"));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let mut cache = ParseCache::default();
        for i in 0..(CAPACITY + 10) {
            cache.parse(&format!("SELECT c{i} FROM t WHERE a = 1")).expect("parse");
        }
        assert_eq!(cache.shapes.len(), CAPACITY);
        assert_eq!(cache.order.len(), CAPACITY);
    }
}

/// Every statement of the repository's sqllogictest files, with each literal changed to
/// another of the same kind and length, must come out of the cache exactly as the parser
/// makes it: the cache may only ever save work, never change a statement.
#[cfg(test)]
mod corpus {
    use super::*;

    /// The statements of the `.slt` (and SQLite's `.test`) files under `dir` (the lines after `statement ...` or
    /// `query ...` up to a blank line or `----`).
    fn statements(dir: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                statements(&path, out);
            } else if path.extension().is_some_and(|e| e == "slt" || e == "test") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let mut current: Option<Vec<&str>> = None;
                for line in text.lines() {
                    match &mut current {
                        None if line.starts_with("statement ") || line.starts_with("query ") => {
                            current = Some(Vec::new())
                        }
                        None => {}
                        Some(lines) if line.trim().is_empty() || line == "----" => {
                            out.push(lines.join("\n"));
                            current = None;
                        }
                        Some(lines) => lines.push(line),
                    }
                }
                if let Some(lines) = current {
                    out.push(lines.join("\n"));
                }
            }
        }
    }

    /// `sql` with every literal the scan found replaced by another of the same length:
    /// digits stay digits, string characters become letters.
    fn variant(sql: &str, shape: &Shape, seed: &mut u64) -> String {
        let mut bytes = sql.as_bytes().to_vec();
        let lines: Vec<usize> =
            std::iter::once(0).chain(sql.match_indices('\n').map(|(i, _)| i + 1)).collect();
        for literal in &shape.literals {
            let start = lines[(literal.line - 1) as usize] + (literal.column - 1) as usize;
            let mut next = || {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                *seed
            };
            match &literal.kind {
                Kind::Number(text) => {
                    for (i, b) in text.bytes().enumerate() {
                        if b.is_ascii_digit() {
                            // A leading zero stays non-zero where it was, so "10" never becomes "05".
                            let lowest = if i == 0 && text.len() > 1 { 1 } else { 0 };
                            bytes[start + i] = b'0' + lowest + (next() % (10 - u64::from(lowest))) as u8;
                        }
                    }
                }
                Kind::String(_) => {
                    let mut i = start + 1;
                    while bytes[i] != b'\'' || bytes.get(i + 1) == Some(&b'\'') {
                        if bytes[i] == b'\'' {
                            i += 2;
                        } else {
                            bytes[i] = b'a' + (next() % 26) as u8;
                            i += 1;
                        }
                    }
                }
            }
        }
        String::from_utf8(bytes).expect("ascii")
    }

    #[test]
    fn cached_statements_are_exactly_what_the_parser_makes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/slt");
        let mut corpus = Vec::new();
        statements(&root, &mut corpus);
        // The SQLite suite too, where it is at hand (as for the sqlite_slt test).
        if let Ok(dir) = std::env::var("PHANTOM_SQLITE_SLT_DIR") {
            statements(std::path::Path::new(&dir), &mut corpus);
        }
        assert!(corpus.len() > 500, "found only {} statements under {}", corpus.len(), root.display());
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let (mut cached, mut checked) = (0, 0);
        for sql in &corpus {
            let Some(shape) = Shape::of(sql) else { continue };
            if parser::parse(sql).is_err() {
                continue;
            }
            let mut cache = ParseCache::default();
            cache.parse(sql).expect("parses");
            if !cache.shapes.contains_key(&shape.key) {
                continue;
            }
            cached += 1;
            for _ in 0..3 {
                let other = variant(sql, &shape, &mut seed);
                let fresh = parser::parse(&other);
                let from_cache = cache.parse(&other);
                match (fresh, from_cache) {
                    (Ok(fresh), Ok(from_cache)) => {
                        checked += 1;
                        assert_eq!(from_cache, fresh, "{other}");
                    }
                    (fresh, from_cache) => {
                        assert!(
                            fresh.is_err(),
                            "the parser took {other} but the cache did not: {from_cache:?}"
                        )
                    }
                }
            }
        }
        eprintln!("{} statements, cached {cached} shapes, checked {checked} variants", corpus.len());
        assert!(cached > 300 && checked > 900, "cached {cached} shapes, checked {checked} variants");
    }
}
