//! The SQLite project's sqllogictest files (`../shared/slt/`, unchanged) against
//! Phantom-DB, through the `sqllogictest` crate.
//!
//! The files follow SQLite's conventions, which the crate does not quite share, so a
//! pre-pass rewrites the text before parsing (see `../shared/slt/README.md`):
//!
//! - condition lines lose trailing comments (`onlyif mysql # MySQL is different`);
//! - `onlyif <engine>` + `halt` ends the file only for that engine: for us (we run as
//!   `postgresql`) it ends the file, for any other engine both lines go;
//! - results list one value per line: `control resultmode valuewise`;
//! - results of more than eight values are compared by hash, as the files were generated;
//! - a value is rendered by its column's letter in the `query` line (I: integer, R: three
//!   decimals, T: text), which `DB::run` does not see, so the pre-pass puts the letters in
//!   a leading SQL comment that `run` reads.
//!
//! Every record of every file must pass. The files live beside the project
//! (`../shared/slt`, or `PHANTOM_SQLITE_SLT_DIR`); a checkout without them skips the test
//! with a notice, unless `PHANTOM_SQLITE_SLT=1` demands them. Per file, the number of
//! records passing is printed (`--nocapture`), and `PHANTOM_SQLITE_SLT_VERBOSE=1` shows the
//! first failures.

use std::path::{Path, PathBuf};

use phantom::{Database, Output, Value};
use sqllogictest::{DBOutput, DefaultColumnType, Record, Runner};

const TYPES_MARK: &str = "-- phantom-slt-types:";

struct Phantom {
    session: phantom::Session,
}

impl sqllogictest::DB for Phantom {
    type Error = phantom::Error;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let letters: Vec<char> = sql
            .lines()
            .next()
            .and_then(|l| l.strip_prefix(TYPES_MARK))
            .map(|t| t.trim().chars().collect())
            .unwrap_or_default();
        match self.session.execute(sql)? {
            Output::Rows(rows) | Output::Fetched(rows) => {
                let types = rows.columns.iter().map(|_| DefaultColumnType::Any).collect();
                let rows = rows
                    .rows
                    .iter()
                    .map(|r| {
                        r.values()
                            .iter()
                            .enumerate()
                            .map(|(i, v)| render(v, letters.get(i).copied()))
                            .collect()
                    })
                    .collect();
                Ok(DBOutput::Rows { types, rows })
            }
            Output::Modified { rows, .. } => Ok(DBOutput::StatementComplete(rows)),
            Output::Command(_) => Ok(DBOutput::StatementComplete(0)),
        }
    }

    fn engine_name(&self) -> &str {
        "postgresql"
    }
}

/// A value as SQLite's sqllogictest driver prints it for a column of type `letter`.
fn render(v: &Value, letter: Option<char>) -> String {
    let text = match (v, letter) {
        (Value::Null, _) => return "NULL".to_string(),
        (Value::Boolean(b), Some('I' | 'R')) => (if *b { "1" } else { "0" }).to_string(),
        (Value::Int(i), Some('R')) => format!("{:.3}", *i as f64),
        (Value::Float(f), Some('R')) => format!("{f:.3}"),
        (Value::Float(f), Some('I')) => format!("{}", *f as i64),
        // A NUMERIC (PostgreSQL's avg of integers, say) as the reference driver renders a
        // real value: three decimals for R, truncated toward zero for I.
        (Value::Numeric(d), Some('R')) => format!("{:.3}", d.to_f64()),
        (Value::Numeric(d), Some('I')) => format!("{}", d.to_f64() as i64),
        (Value::Text(s), Some('I')) => leading_integer(s).to_string(),
        (Value::Text(s), Some('R')) => format!("{:.3}", s.trim().parse::<f64>().unwrap_or(0.0)),
        (Value::Float(f), _) => format!("{f:.3}"),
        (other, _) => other.to_string(),
    };
    if text.is_empty() {
        return "(empty)".to_string();
    }
    // The reference driver prints control and non-ASCII characters as '@'.
    text.chars().map(|c| if (' '..='~').contains(&c) { c } else { '@' }).collect()
}

fn leading_integer(s: &str) -> i64 {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse().unwrap_or(0)
}

/// Rewrites a file of SQLite's dialect of the format for the crate (see the module docs).
fn prepare(text: &str) -> String {
    let mut out = String::from("control resultmode valuewise\n\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let condition = line.starts_with("onlyif ") || line.starts_with("skipif ");
        let line = if condition { line.split('#').next().unwrap_or(line).trim_end() } else { line };
        if line.trim() == "halt" {
            break;
        }
        if let Some(engine) = line.strip_prefix("onlyif ")
            && lines.get(i + 1).is_some_and(|next| next.trim() == "halt")
        {
            if engine.trim() == "postgresql" {
                break;
            }
            i += 2;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if let Some(rest) = line.strip_prefix("query ") {
            let letters = rest.split_whitespace().next().unwrap_or("");
            out.push_str(TYPES_MARK);
            out.push_str(letters);
            out.push('\n');
        }
        i += 1;
    }
    out
}

fn test_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            test_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "test") {
            out.push(path);
        }
    }
}

/// Runs one file record by record: (records run, records failed, the first failures).
fn run_file(path: &Path) -> (usize, usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let records: Vec<Record<DefaultColumnType>> = match sqllogictest::parse(&prepare(&text)) {
        Ok(records) => records,
        Err(e) => return (0, 1, vec![format!("parse error: {e}")]),
    };
    let db = Database::memory();
    let mut runner = Runner::new(|| {
        let session = db.session();
        async move { Ok(Phantom { session }) }
    });
    runner.add_label("postgresql");
    runner.with_column_validator(|_, _| true);
    // The files were generated with results of more than 8 values hashed (some say so with a
    // `hash-threshold 8` record, select1.test does not).
    runner.with_hash_threshold(8);
    let (mut run, mut failed, mut first) = (0, 0, Vec::new());
    for record in records {
        let counted = matches!(record, Record::Statement { .. } | Record::Query { .. });
        let result = runner.run(record);
        if counted {
            run += 1;
        }
        if let Err(e) = result {
            failed += 1;
            if first.len() < 20 {
                first.push(e.display(false).to_string());
            }
        }
    }
    (run, failed, first)
}

#[test]
fn sqlite_sqllogictest_files() {
    // `../shared/slt` beside the project, or wherever PHANTOM_SQLITE_SLT_DIR says.
    let root = std::env::var_os("PHANTOM_SQLITE_SLT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/slt"));
    if !root.is_dir() {
        assert!(
            std::env::var_os("PHANTOM_SQLITE_SLT").is_none(),
            "PHANTOM_SQLITE_SLT is set but {} does not exist",
            root.display()
        );
        eprintln!("skipped: {} does not exist (SQLite's sqllogictest files)", root.display());
        return;
    }
    let mut files = Vec::new();
    test_files(&root, &mut files);
    assert!(!files.is_empty(), "no .test files under {}", root.display());
    let mut total_failed = 0;
    for file in &files {
        let (run, failed, first) = run_file(file);
        total_failed += failed;
        let name = file.strip_prefix(&root).unwrap_or(file).display();
        eprintln!("{name}: {} of {run} records pass", run.saturating_sub(failed));
        if std::env::var_os("PHANTOM_SQLITE_SLT_VERBOSE").is_some() {
            for f in first {
                eprintln!("    {}", f.lines().take(6).collect::<Vec<_>>().join("\n    "));
            }
        }
    }
    assert_eq!(total_failed, 0, "{total_failed} records of SQLite's sqllogictest files failed");
}
