//! Runs every `tests/slt/**/*.slt` file of the repository against Phantom-DB.
//!
//! Each file gets a fresh database (in memory, and again on disk so that the same SQL
//! also goes through the write-ahead log). Values are rendered the way the sqllogictest
//! format expects: NULL as `NULL`, an empty string as `(empty)`, booleans as `t`/`f`,
//! floats with three decimals. Error expectations match against the error's
//! display, which starts with `ERROR <SQLSTATE>:`, so a file can pin the SQLSTATE. Dates
//! and times print in the session's DateStyle, IntervalStyle and TimeZone.

use std::path::{Path, PathBuf};

use phantom::{Database, Output, Value};
use sqllogictest::{DBOutput, DefaultColumnType, Runner};

struct Phantom {
    session: phantom::Session,
    // Keeps the on-disk database directory alive for the file's duration.
    _dir: Option<tempfile::TempDir>,
}

impl sqllogictest::DB for Phantom {
    type Error = phantom::Error;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        match self.session.execute(sql)? {
            Output::Rows(rows) | Output::Fetched(rows) => {
                let types = rows
                    .columns
                    .iter()
                    .map(|c| {
                        if c.data_type.is_integer() {
                            DefaultColumnType::Integer
                        } else if c.data_type.is_float() {
                            DefaultColumnType::FloatingPoint
                        } else {
                            DefaultColumnType::Text
                        }
                    })
                    .collect();
                let session = &self.session;
                let rows = rows
                    .rows
                    .iter()
                    .map(|r| {
                        r.values()
                            .iter()
                            .zip(&rows.columns)
                            .map(|(v, c)| render(session, v, c.data_type))
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
        "phantom"
    }

    fn error_sql_state(err: &Self::Error) -> Option<String> {
        Some(err.sqlstate().to_string())
    }
}

/// Renders a value as the sqllogictest format expects: floats with three decimals,
/// everything else as the session's text output (dates in its DateStyle and TimeZone).
fn render(session: &phantom::Session, v: &Value, ty: phantom::DataType) -> String {
    match v {
        Value::Text(s) if s.is_empty() => "(empty)".to_string(),
        Value::Float(f) => format!("{f:.3}"),
        other => session.format_value(other, ty),
    }
}

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            slt_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "slt") {
            out.push(path);
        }
    }
}

fn run_file(path: &Path, on_disk: bool) -> Result<(), String> {
    let mut runner = Runner::new(|| async move {
        let (db, dir) = if on_disk {
            let dir = tempfile::tempdir()
                .map_err(|e| phantom::Error::new(phantom::SqlState::IoError, e.to_string()))?;
            (Database::open(dir.path())?, Some(dir))
        } else {
            (Database::memory(), None)
        };
        Ok(Phantom { session: db.session(), _dir: dir })
    });
    runner.add_label("phantom");
    runner.add_label("postgresql");
    runner.run_file(path).map_err(|e| e.display(false).to_string())
}

#[test]
fn sqllogictest_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/slt");
    let mut files = Vec::new();
    slt_files(&root, &mut files);
    assert!(!files.is_empty(), "no .slt files found under {}", root.display());
    // `PHANTOM_SLT=char` runs only the files whose path contains "char" (while working on
    // one file); the suite runs them all.
    if let Ok(only) = std::env::var("PHANTOM_SLT") {
        files.retain(|f| f.to_string_lossy().contains(&only));
    }
    let mut failures = Vec::new();
    for file in &files {
        for on_disk in [false, true] {
            if let Err(e) = run_file(file, on_disk) {
                let mode = if on_disk { "on disk" } else { "in memory" };
                failures.push(format!("{} ({mode}):\n{e}", file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} sqllogictest runs failed:\n\n{}",
        failures.len(),
        files.len() * 2,
        failures.join("\n\n")
    );
}
