//! psql scripts cut into the steps a regression run sends: SQL statements, COPY with its
//! data, and the psql meta-commands that cannot be replayed (skipped, and counted so).
//!
//! Only what PostgreSQL's regression files use is understood: statements end at a `;`
//! outside quotes, dollar quotes and comments; `COPY ... FROM stdin` takes the lines up to
//! `\.`; `\set name value` and `\getenv name VAR` define variables, which `:name`,
//! `:'name'` and `:"name"` interpolate as psql does; `COPY ... FROM 'file'` (how the
//! files load their data) becomes a COPY from the client with that file's contents, so
//! both servers read it the same way. Any other line starting with a backslash is a step
//! of its own that is not run.

use std::collections::HashMap;
use std::path::Path;

/// One thing the script does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A statement, sent with the simple query protocol.
    Sql(String),
    /// `COPY ... FROM STDIN` and the data it reads.
    CopyIn { sql: String, data: String },
    /// A psql meta-command (or a statement needing one, like `\gset`): not run.
    Meta(String),
}

/// Cuts `text` into steps; `suite` is the directory `abs_srcdir` stands for (the one
/// holding `sql/`, `data/`, `expected/`).
pub fn parse(text: &str, suite: &Path) -> Vec<Step> {
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut steps = Vec::new();
    let mut buffer = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if buffer.trim().is_empty() && line.trim_start().starts_with('\\') {
            buffer.clear();
            steps.extend(meta(line.trim(), &mut vars, suite));
            continue;
        }
        buffer.push_str(line);
        buffer.push('\n');
        while let Some(end) = statement_end(&buffer) {
            let statement = buffer[..end].trim().to_string();
            let rest = buffer[end..].to_string();
            buffer = rest;
            let statement = interpolate(&statement, &vars);
            if statement.trim_end_matches(';').trim().is_empty() {
                continue;
            }
            steps.push(copy_step(statement, &mut lines, suite));
        }
        // A statement ended by a meta-command (`SELECT ... \gset`) is not replayable.
        if buffer.trim_end().ends_with("\\gset") || buffer.trim_end().ends_with("\\gexec") {
            steps.push(Step::Meta(std::mem::take(&mut buffer).trim().to_string()));
        }
    }
    if !buffer.trim().is_empty() && !only_comments(&buffer) {
        steps.push(Step::Sql(interpolate(buffer.trim(), &vars)));
    }
    steps
}

/// A meta-command line: variables are kept, everything becomes a Meta step except
/// `\set` and `\getenv`, which only define.
fn meta(line: &str, vars: &mut HashMap<String, String>, suite: &Path) -> Option<Step> {
    let mut words = line.split_whitespace();
    match words.next() {
        Some("\\set") => {
            let name = words.next()?.to_string();
            let value: String = words.map(|w| interpolate_word(w, vars)).collect();
            vars.insert(name, value);
            None
        }
        Some("\\getenv") => {
            let name = words.next()?.to_string();
            let value = match words.next() {
                Some("PG_ABS_SRCDIR") | Some("PG_ABS_BUILDDIR") => suite.display().to_string(),
                Some("PG_LIBDIR") => "/nonexistent-libdir".to_string(),
                Some("PG_DLSUFFIX") => ".so".to_string(),
                _ => String::new(),
            };
            vars.insert(name, value);
            None
        }
        _ => Some(Step::Meta(line.to_string())),
    }
}

/// One word of a `\set` value: `:name` is the variable, quotes are taken off.
fn interpolate_word(word: &str, vars: &HashMap<String, String>) -> String {
    if let Some(name) = word.strip_prefix(':') {
        return vars.get(name).cloned().unwrap_or_default();
    }
    word.trim_matches('\'').to_string()
}

/// A statement's COPY FROM stdin data (read from `lines`), or a COPY from a file of the
/// suite turned into one from the client.
fn copy_step<'a>(statement: String, lines: &mut impl Iterator<Item = &'a str>, suite: &Path) -> Step {
    let upper = statement.to_ascii_uppercase();
    let is_copy = upper.trim_start().starts_with("COPY");
    if is_copy && (upper.contains("FROM STDIN") || upper.contains("FROM PSTDIN")) {
        let mut data = String::new();
        for line in lines.by_ref() {
            if line == "\\." {
                break;
            }
            data.push_str(line);
            data.push('\n');
        }
        return Step::CopyIn { sql: statement, data };
    }
    if is_copy && let Some(from) = upper.find(" FROM '") {
        let start = from + " FROM '".len();
        if let Some(len) = statement[start..].find('\'') {
            let file = &statement[start..start + len];
            let path = if Path::new(file).is_absolute() { Path::new(file).to_path_buf() } else { suite.join(file) };
            if let Ok(data) = std::fs::read_to_string(&path) {
                let sql = format!("{} FROM STDIN{}", &statement[..from], &statement[start + len + 1..]);
                return Step::CopyIn { sql, data };
            }
        }
    }
    Step::Sql(statement)
}

/// psql's variable interpolation: `:'name'` as a quoted literal, `:"name"` as a quoted
/// identifier, `:name` as is, for defined variables only, never inside quotes or after
/// another colon (`::int` is a cast).
fn interpolate(sql: &str, vars: &HashMap<String, String>) -> String {
    if vars.is_empty() || !sql.contains(':') {
        return sql.to_string();
    }
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            out.push(c);
            i += 1;
            continue;
        }
        let after_colon = i > 0 && chars[i - 1] == ':';
        let next_is_colon = chars.get(i + 1) == Some(&':');
        if c == ':' && !after_colon && !next_is_colon {
            let (style, start) = match chars.get(i + 1) {
                Some('\'') => (Some('\''), i + 2),
                Some('"') => (Some('"'), i + 2),
                _ => (None, i + 1),
            };
            let mut end = start;
            while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            let name: String = chars[start..end].iter().collect();
            let closed = style.is_none_or(|q| chars.get(end) == Some(&q));
            if let (true, Some(value)) = (closed && !name.is_empty(), vars.get(&name)) {
                match style {
                    Some('\'') => out.push_str(&format!("'{}'", value.replace('\'', "''"))),
                    Some(_) => out.push_str(&format!("\"{}\"", value.replace('"', "\"\""))),
                    None => out.push_str(value),
                }
                i = if style.is_some() { end + 1 } else { end };
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Where the first complete statement of `text` ends (just past its `;`), if it does.
fn statement_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                let mut nested = 1;
                while i < bytes.len() && nested > 0 {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        nested += 1;
                        i += 1;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        nested -= 1;
                        i += 1;
                    }
                    i += 1;
                }
                continue;
            }
            b'$' => {
                // A dollar quote: $$ or $tag$ ... the same again.
                let rest = &text[i + 1..];
                if let Some(close) = rest.find('$') {
                    let tag = &rest[..close];
                    if tag.chars().all(|c| c.is_alphanumeric() || c == '_') && !tag.starts_with(|c: char| c.is_ascii_digit()) {
                        let delimiter = format!("${tag}$");
                        let body = i + 1 + close + 1;
                        match text[body..].find(&delimiter) {
                            Some(end) => i = body + end + delimiter.len() - 1,
                            None => return None,
                        }
                    }
                }
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b';' if depth == 0 => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn only_comments(text: &str) -> bool {
    text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_copy_data_meta_and_variables() {
        let script = "-- a comment\nSELECT 1; SELECT ';' AS x;\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$\n  LANGUAGE sql;\n\\d t\nCOPY t FROM stdin;\n1\t2\n\\.\n\\set filename :abs '/data/x.data'\nSELECT :'filename', 1::int, :\"filename\";\nSELECT 2 \\gset\n";
        let mut vars = HashMap::new();
        vars.insert("abs".to_string(), "/suite".to_string());
        let steps = parse(&script.replace(":abs", "/suite"), Path::new("/suite"));
        assert_eq!(steps[0], Step::Sql("-- a comment\nSELECT 1;".into()));
        assert_eq!(steps[1], Step::Sql("SELECT ';' AS x;".into()));
        assert!(matches!(&steps[2], Step::Sql(s) if s.contains("$$ SELECT 1; $$") && s.ends_with("LANGUAGE sql;")));
        assert_eq!(steps[3], Step::Meta("\\d t".into()));
        assert_eq!(steps[4], Step::CopyIn { sql: "COPY t FROM stdin;".into(), data: "1\t2\n".into() });
        assert_eq!(steps[5], Step::Sql("SELECT '/suite/data/x.data', 1::int, \"/suite/data/x.data\";".into()));
        assert_eq!(steps[6], Step::Meta("SELECT 2 \\gset".into()));
        assert_eq!(steps.len(), 7);
    }
}
