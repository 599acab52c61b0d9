//! PostgreSQL's own regression files, run against PostgreSQL 15 and Phantom-DB in the
//! same run, scored statement by statement.
//!
//! The suite (PostgreSQL's `src/test/regress`: `sql/*.sql` and `data/`) is public but not
//! part of this project: point `--suite` at a copy. Each file runs on a fresh database of
//! each server (a new `phantom serve` directory; `CREATE DATABASE` on a throwaway
//! PostgreSQL cluster), after `test_setup.sql` when the suite has it, as `pg_regress`
//! does. The statements go through the same client (the `postgres` crate, simple query
//! protocol), so both answers are compared in the same form: the columns, the rows as
//! text, the row count, the SQLSTATE and message of an error, and the notices.
//!
//! Each statement is one of:
//! - **same**: the same answer, notices included;
//! - **order**: the same rows in another order (a query without ORDER BY: not wrong);
//! - **wrong**: both answered, differently: a wrong answer, the worst kind;
//! - **accepted**: Phantom-DB answered what PostgreSQL refused;
//! - **refused**: Phantom-DB refused what PostgreSQL answered (mostly missing features; the
//!   commonest messages are listed, which is the to-do list);
//! - **error text**: both refused, with another SQLSTATE or message;
//! - **notices**: the same answer, other notices;
//! - **skipped**: psql meta-commands, which only psql can run.
//!
//! The table goes to `bench/results/pg_regress.md`; every difference, with both answers,
//! to `pg_regress_details.txt` in the data directory.

mod script;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use postgres::{Client, NoTls, SimpleQueryMessage};

use super::servers::{Server, System, postgres_version};
use crate::BenchResult;
use crate::report::{environment, text_table, write_markdown};
use script::Step;

/// The core files issue 15 scores (PostgreSQL 15's names).
pub const CORE_FILES: &[&str] = &[
    "boolean", "char", "varchar", "text", "int2", "int4", "int8", "oid", "float4", "float8", "numeric",
    "strings", "date", "time", "timestamp", "timestamptz", "interval", "select", "join", "aggregates",
    "subselect", "union", "case", "create_table", "insert", "update", "delete", "constraints", "foreign_key",
    "create_view", "with", "window", "arrays", "sequence", "alter_table", "copy", "copy2", "transactions",
];

/// How one statement fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Same,
    Order,
    Wrong,
    Accepted,
    Refused,
    ErrorText,
    Notices,
    Skipped,
}

const VERDICTS: [Verdict; 8] = [
    Verdict::Same,
    Verdict::Order,
    Verdict::Wrong,
    Verdict::Accepted,
    Verdict::Refused,
    Verdict::ErrorText,
    Verdict::Notices,
    Verdict::Skipped,
];

impl Verdict {
    fn name(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Order => "order",
            Verdict::Wrong => "wrong",
            Verdict::Accepted => "accepted",
            Verdict::Refused => "refused",
            Verdict::ErrorText => "error text",
            Verdict::Notices => "notices",
            Verdict::Skipped => "skipped",
        }
    }
}

/// What a server answered to one statement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// Rows (possibly none) and the statement's row count.
    Ok { columns: Vec<String>, rows: Vec<Vec<Option<String>>>, count: Option<u64> },
    Error { code: String, message: String },
}

impl Answer {
    fn describe(&self) -> String {
        match self {
            Answer::Error { code, message } => format!("ERROR {code}: {message}"),
            Answer::Ok { columns, rows, count } => {
                let mut out = String::new();
                if !columns.is_empty() {
                    let _ = writeln!(out, "  {}", columns.join(" | "));
                }
                for row in rows.iter().take(12) {
                    let cells: Vec<&str> = row.iter().map(|c| c.as_deref().unwrap_or("NULL")).collect();
                    let _ = writeln!(out, "  {}", cells.join(" | "));
                }
                if rows.len() > 12 {
                    let _ = writeln!(out, "  ... ({} rows)", rows.len());
                }
                let _ = write!(out, "  (count {count:?})");
                out
            }
        }
    }
}

/// A connection that keeps the notices it receives.
struct Connection {
    client: Client,
    notices: Arc<Mutex<Vec<String>>>,
}

impl Connection {
    fn open(port: u16, user: &str, dbname: &str) -> BenchResult<Connection> {
        let notices = Arc::new(Mutex::new(Vec::new()));
        let sink = notices.clone();
        let mut config = postgres::Config::new();
        config.host("127.0.0.1").port(port).user(user).dbname(dbname);
        config.notice_callback(move |notice| {
            if let Ok(mut all) = sink.lock() {
                all.push(format!("{}: {}", notice.severity(), notice.message()));
            }
        });
        let client = config.connect(NoTls)?;
        Ok(Connection { client, notices })
    }

    fn take_notices(&self) -> Vec<String> {
        self.notices.lock().map(|mut n| std::mem::take(&mut *n)).unwrap_or_default()
    }

    /// Runs one step; `None` for a step that is not run.
    fn run(&mut self, step: &Step) -> Option<(Answer, Vec<String>)> {
        let answer = match step {
            Step::Meta(_) => return None,
            Step::Sql(sql) => match self.client.simple_query(sql) {
                Ok(messages) => answer_of(messages),
                Err(e) => error_of(&e),
            },
            Step::CopyIn { sql, data } => {
                use std::io::Write;
                let copied = self.client.copy_in(sql.trim_end_matches(';')).and_then(|mut writer| {
                    writer.write_all(data.as_bytes()).map_err(|_| ())?;
                    writer.finish()
                });
                match copied {
                    Ok(n) => Answer::Ok { columns: Vec::new(), rows: Vec::new(), count: Some(n) },
                    Err(e) => error_of(&e),
                }
            }
        };
        Some((answer, self.take_notices()))
    }
}

fn answer_of(messages: Vec<SimpleQueryMessage>) -> Answer {
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    let mut count = None;
    for message in messages {
        match message {
            SimpleQueryMessage::RowDescription(description) => {
                columns = description.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect());
            }
            SimpleQueryMessage::CommandComplete(n) => count = Some(n),
            _ => {}
        }
    }
    Answer::Ok { columns, rows, count }
}

fn error_of(e: &postgres::Error) -> Answer {
    match e.as_db_error() {
        Some(db) => Answer::Error { code: db.code().code().to_string(), message: db.message().to_string() },
        None => Answer::Error { code: "-----".into(), message: e.to_string() },
    }
}

/// Compares Phantom-DB's answer with PostgreSQL's.
fn judge(postgres: &(Answer, Vec<String>), phantom: &(Answer, Vec<String>)) -> Verdict {
    match (&postgres.0, &phantom.0) {
        (a, b) if a == b => {
            if postgres.1 == phantom.1 { Verdict::Same } else { Verdict::Notices }
        }
        (Answer::Ok { columns: ca, rows: ra, count: na }, Answer::Ok { columns: cb, rows: rb, count: nb }) => {
            let mut sa = ra.clone();
            let mut sb = rb.clone();
            sa.sort();
            sb.sort();
            if ca == cb && na == nb && sa == sb { Verdict::Order } else { Verdict::Wrong }
        }
        (Answer::Error { .. }, Answer::Ok { .. }) => Verdict::Accepted,
        (Answer::Ok { .. }, Answer::Error { .. }) => Verdict::Refused,
        (Answer::Error { .. }, Answer::Error { .. }) => Verdict::ErrorText,
    }
}

/// One file's tally.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<Verdict, u64>,
}

impl Tally {
    fn add(&mut self, verdict: Verdict) {
        *self.counts.entry(verdict).or_default() += 1;
    }

    fn get(&self, verdict: Verdict) -> u64 {
        self.counts.get(&verdict).copied().unwrap_or(0)
    }

    /// Statements run (skipped ones not counted).
    fn run(&self) -> u64 {
        self.counts.iter().filter(|(v, _)| **v != Verdict::Skipped).map(|(_, n)| n).sum()
    }

    fn merge(&mut self, other: &Tally) {
        for (v, n) in &other.counts {
            *self.counts.entry(*v).or_default() += n;
        }
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 { "-".into() } else { format!("{:.1}%", 100.0 * part as f64 / whole as f64) }
}

/// Runs `files` (names without `.sql`; empty: [`CORE_FILES`]) of the suite in `suite`.
pub fn run(base: &Path, results: &Path, suite: &Path, files: &[String]) -> BenchResult<()> {
    let names: Vec<String> =
        if files.is_empty() { CORE_FILES.iter().map(|s| s.to_string()).collect() } else { files.to_vec() };
    let setup = std::fs::read_to_string(suite.join("sql/test_setup.sql")).ok();
    let setup_steps = setup.map(|s| script::parse(&s, suite)).unwrap_or_default();
    let pg_dir = tempfile::tempdir_in(base)?;
    let postgres = Server::start(System::Postgres, pg_dir.path())?;
    let mut details = String::new();
    let mut refused_messages: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut total = Tally::default();
    for (n, name) in names.iter().enumerate() {
        let path = suite.join("sql").join(format!("{name}.sql"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("{}: not found, skipped", path.display());
            continue;
        };
        let steps = script::parse(&text, suite);
        let db = format!("regress_{n}");
        let mut admin = Connection::open(postgres.port, postgres.user(), "postgres")?;
        admin.client.simple_query(&format!("DROP DATABASE IF EXISTS {db}"))?;
        admin.client.simple_query(&format!("CREATE DATABASE {db}"))?;
        let phantom_dir = tempfile::tempdir_in(base)?;
        let phantom = Server::start(System::Phantom, phantom_dir.path())?;
        let mut pg = Connection::open(postgres.port, postgres.user(), &db)?;
        let mut ph = Connection::open(phantom.port, phantom.user(), "phantom")?;
        for connection in [&mut pg, &mut ph] {
            let _ = connection.client.simple_query("SET statement_timeout = '30s'");
            for step in &setup_steps {
                connection.run(step);
            }
            connection.take_notices();
        }
        let mut tally = Tally::default();
        let _ = writeln!(details, "==== {name}");
        println!("[{}/{}] {name}: {} steps", n + 1, names.len(), steps.len());
        for step in &steps {
            let (Some(expected), Some(got)) = (pg.run(step), ph.run(step)) else {
                tally.add(Verdict::Skipped);
                continue;
            };
            let verdict = judge(&expected, &got);
            tally.add(verdict);
            if verdict == Verdict::Refused
                && let Answer::Error { code, message } = &got.0
            {
                *refused_messages.entry(format!("{code}: {}", shorten(message))).or_default() += 1;
            }
            if !matches!(verdict, Verdict::Same | Verdict::Skipped) {
                let sql = match step {
                    Step::Sql(s) | Step::CopyIn { sql: s, .. } | Step::Meta(s) => s,
                };
                let _ = writeln!(
                    details,
                    "-- [{}] {}\n   PostgreSQL: {}{}\n   Phantom-DB: {}{}\n",
                    verdict.name(),
                    sql.trim(),
                    expected.0.describe(),
                    notices_text(&expected.1),
                    got.0.describe(),
                    notices_text(&got.1),
                );
            }
        }
        let run = tally.run();
        let mut row = vec![name.clone(), run.to_string(), percent(tally.get(Verdict::Same), run)];
        row.extend(VERDICTS[1..].iter().map(|&v| tally.get(v).to_string()));
        rows.push(row);
        total.merge(&tally);
        drop(ph);
        drop(phantom);
    }
    let run = total.run();
    let mut row = vec!["**all**".to_string(), run.to_string(), percent(total.get(Verdict::Same), run)];
    row.extend(VERDICTS[1..].iter().map(|&v| total.get(v).to_string()));
    rows.push(row);
    let mut headers = vec!["file", "statements", "same"];
    headers.extend(VERDICTS[1..].iter().map(|v| v.name()));
    println!("{}", text_table(&headers, &rows));
    let mut commonest: Vec<(String, u64)> = refused_messages.into_iter().collect();
    commonest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut notes = format!(
        "PostgreSQL's regression files ({} of them) against PostgreSQL {} and Phantom-DB, statement by \
         statement. {} ({}) of {run} statements gave PostgreSQL's answer; {} more the same rows in another \
         order. **{} wrong answers, {} accepted what PostgreSQL refuses.**\n\nThe commonest refusals:\n\n",
        names.len(),
        postgres_version().unwrap_or_else(|| "15".into()),
        total.get(Verdict::Same),
        percent(total.get(Verdict::Same), run),
        total.get(Verdict::Order),
        total.get(Verdict::Wrong),
        total.get(Verdict::Accepted),
    );
    for (message, count) in commonest.iter().take(30) {
        let _ = writeln!(notes, "- {count} × `{message}`");
    }
    let details_path: PathBuf = base.join("pg_regress_details.txt");
    std::fs::write(&details_path, details)?;
    println!("every difference: {}", details_path.display());
    write_markdown(results, "pg_regress", "PostgreSQL regression files", &environment(), &headers, &rows, &notes)?;
    Ok(())
}

fn shorten(message: &str) -> String {
    // Names vary; the shape of the message is what repeats.
    let mut out = String::new();
    let mut in_quote = false;
    for c in message.chars() {
        if c == '"' {
            in_quote = !in_quote;
            out.push_str(if in_quote { "\"…" } else { "\"" });
        } else if !in_quote {
            out.push(c);
        }
    }
    out.chars().take(100).collect()
}

fn notices_text(notices: &[String]) -> String {
    if notices.is_empty() { String::new() } else { format!("\n     notices: {}", notices.join(" / ")) }
}
