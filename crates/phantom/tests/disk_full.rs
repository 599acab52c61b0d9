//! A full disk, for real: the database on a tmpfs of a few MiB, filled by the database
//! itself and a filler file.
//!
//! Every statement either succeeds, and is then there after a reopen, or fails with 53100
//! (`disk_full`), and is then absent after a reopen; nothing else is allowed (in
//! particular not 58030, and not a refused write coming back). Reads keep working on the
//! full disk, a clean close and a reopen work while it is still full (with the default
//! settings), and once the filler file is deleted, writes resume without a restart. The
//! log gets a line when a place starts failing and when it recovers, not one per refused
//! statement.
//!
//! Mounting needs root; elsewhere the test prints a notice and passes without running.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use phantom::{Database, Options, Session};
use small_disk::SmallDisk;

mod small_disk;

/// Warnings and errors logged by the process, one line each.
fn log_lines() -> Arc<Mutex<Vec<u8>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::WARN)
                .with_ansi(false)
                .with_writer(move || LogSink(sink.clone()))
                .finish();
            let _ = tracing::subscriber::set_global_default(subscriber);
            lines
        })
        .clone()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn count_log_lines() -> usize {
    log_lines().lock().expect("log").iter().filter(|&&b| b == b'\n').count()
}

/// `len` hex digits that LZ4 cannot shrink, so the log fills at the rate rows arrive.
fn payload(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut text = String::with_capacity(len);
    while text.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        text.push_str(&format!("{x:016x}"));
    }
    text.truncate(len);
    text
}

const ROW_BYTES: usize = 3000;
const TABLES: [&str; 2] = ["t_btree", "t_lsm"];

/// What must be in the database: per table, id -> payload seed.
#[derive(Default)]
struct Model {
    rows: [BTreeMap<i64, u64>; 2],
    /// Tables created by CREATE TABLE statements that succeeded (on a full disk).
    extra_tables: Vec<String>,
    refused: usize,
    next_id: i64,
}

/// Whether `result` was a success; panics on any error but 53100.
fn succeeded(result: phantom::Result<phantom::Output>, what: &str, model: &mut Model) -> bool {
    match result {
        Ok(_) => true,
        Err(e) if e.sqlstate() == "53100" => {
            assert!(e.message.contains("No space left on device"), "{what}: {e}");
            model.refused += 1;
            false
        }
        Err(e) => panic!("{what}: a full disk must give 53100 or success, got {e}"),
    }
}

/// One autocommit INSERT of a row into each table.
fn insert_pair(session: &mut Session, model: &mut Model) -> bool {
    let id = model.next_id;
    model.next_id += 1;
    let seed = id as u64 * 7919;
    let sql = format!(
        "INSERT INTO t_btree VALUES ({id}, {id} % 97, '{a}'); INSERT INTO t_lsm VALUES ({id}, '{b}')",
        a = payload(seed, ROW_BYTES),
        b = payload(seed + 1, ROW_BYTES),
    );
    // Two statements, two commits: each is judged on its own.
    let mut all = true;
    for (table, statement) in sql.split("; ").enumerate() {
        if succeeded(session.execute(statement), "INSERT", model) {
            model.rows[table].insert(id, seed + table as u64);
        } else {
            all = false;
        }
    }
    all
}

/// Other kinds of writes, tried while the disk is full; each is recorded as it ended.
fn other_writes(session: &mut Session, model: &mut Model, round: usize) {
    // A block of several inserts: the COMMIT decides for all of them.
    let first = model.next_id;
    model.next_id += 3;
    session.execute("BEGIN").expect("begin");
    let mut buffered = true;
    for id in first..first + 3 {
        let seed = id as u64 * 7919;
        let sql = format!("INSERT INTO t_btree VALUES ({id}, 1, '{}')", payload(seed, ROW_BYTES));
        if !succeeded(session.execute(&sql), "INSERT in a block", model) {
            buffered = false;
        }
    }
    if buffered {
        if succeeded(session.execute("COMMIT"), "COMMIT", model) {
            for id in first..first + 3 {
                model.rows[0].insert(id, id as u64 * 7919);
            }
        }
    } else {
        session.execute("ROLLBACK").expect("rollback");
    }
    // An update and a delete of acknowledged rows.
    if let Some((&id, _)) = model.rows[0].iter().nth(round) {
        let seed = 1_000_000 + id as u64;
        let sql = format!("UPDATE t_btree SET v = '{}' WHERE id = {id}", payload(seed, ROW_BYTES));
        if succeeded(session.execute(&sql), "UPDATE", model) {
            model.rows[0].insert(id, seed);
        }
    }
    if let Some((&id, _)) = model.rows[1].iter().nth(round + 1)
        && succeeded(session.execute(&format!("DELETE FROM t_lsm WHERE id = {id}")), "DELETE", model)
    {
        model.rows[1].remove(&id);
    }
    let name = format!("extra_{round}");
    if succeeded(session.execute(&format!("CREATE TABLE {name} (i int)")), "CREATE TABLE", model) {
        model.extra_tables.push(name);
    }
}

/// The database holds exactly the model.
fn check(db: &Database, model: &Model, when: &str) {
    let mut session = db.session();
    for (table, rows) in TABLES.iter().zip(&model.rows) {
        let column = if *table == "t_btree" { "v" } else { "w" };
        let found = session.query(&format!("SELECT id, {column} FROM {table} ORDER BY id")).expect("select");
        let found: BTreeMap<i64, String> = found
            .rows
            .iter()
            .map(|r| (r.get::<i64>(0).expect("id"), r.get::<String>(1).expect("payload")))
            .collect();
        let ids: Vec<i64> = found.keys().copied().collect();
        let want: Vec<i64> = rows.keys().copied().collect();
        assert_eq!(ids, want, "{when}: {table} holds other rows than were acknowledged");
        for (id, seed) in rows {
            assert!(found[id] == payload(*seed, ROW_BYTES), "{when}: {table} row {id} has another value");
        }
    }
    for name in &model.extra_tables {
        session
            .query(&format!("SELECT count(*) FROM {name}"))
            .unwrap_or_else(|e| panic!("{when}: {name}: {e}"));
    }
}

/// Writes until the disk refuses them steadily; returns how many statements ran.
fn fill(session: &mut Session, model: &mut Model) -> usize {
    let mut statements = 0;
    let mut refused_in_a_row = 0;
    while refused_in_a_row < 30 {
        statements += 1;
        assert!(statements < 5000, "the disk never filled");
        if insert_pair(session, model) {
            refused_in_a_row = 0;
        } else {
            refused_in_a_row += 1;
        }
    }
    statements
}

/// Inserts until one succeeds (the backoff after a full disk passes), within a bound.
fn until_writes_resume(session: &mut Session, model: &mut Model) {
    for _ in 0..500 {
        if insert_pair(session, model) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("writes did not resume after space was freed");
}

fn fill_file(path: &PathBuf, bytes: usize) {
    let mut file = std::fs::File::create(path).expect("filler");
    let chunk = vec![0xa5u8; 64 << 10];
    let mut written = 0;
    while written < bytes {
        match file.write(&chunk) {
            Ok(n) => written += n,
            Err(_) => break, // the disk is full: as much as fits
        }
    }
}

#[test]
fn a_full_disk_fails_statements_cleanly_and_writing_resumes_when_space_returns() {
    let Some(disk) = SmallDisk::mount(8) else { return };
    let logged_before = count_log_lines();
    let dir = disk.path().join("db");
    let filler = disk.path().join("filler");
    fill_file(&filler, 3 << 20);
    let mut model = Model { next_id: 1, ..Model::default() };

    // Small settings first, so that every place that writes meets the full disk: B+tree
    // write-back in commits, checkpoints, log segment switches, LSM flushes.
    let small = Options {
        buffer_pool_size: 1 << 20,
        checkpoint_wal_bytes: 512 << 10,
        wal_segment_size: 1 << 20,
        ..Options::default()
    };
    let db = Database::open_with(&dir, small).expect("open");
    let mut session = db.session();
    session.execute("CREATE TABLE t_btree (id int PRIMARY KEY, k int, v text)").expect("create");
    session.execute("CREATE INDEX t_btree_k ON t_btree (k)").expect("index");
    session.execute("CREATE TABLE t_lsm (id int PRIMARY KEY, w text) WITH (engine = 'lsm')").expect("create");
    let statements = fill(&mut session, &mut model);
    assert!(model.refused >= 30);
    for round in 0..5 {
        other_writes(&mut session, &mut model, round);
        match db.checkpoint() {
            Ok(()) => {}
            Err(e) => assert_eq!(e.sqlstate(), "53100", "checkpoint on a full disk: {e}"),
        }
    }
    // Reads work on the full disk and see exactly what was acknowledged.
    check(&db, &model, "while the disk is full");
    drop(session);
    drop(db); // a clean close on the full disk: its checkpoint may fail, nothing is lost

    // Reopening on the still full disk works, with the default settings.
    let db = Database::open(&dir).expect("reopen on a full disk");
    check(&db, &model, "reopened on the full disk");
    let mut session = db.session();
    for _ in 0..20 {
        insert_pair(&mut session, &mut model);
    }

    // Space comes back: writes resume without a restart.
    std::fs::remove_file(&filler).expect("remove filler");
    until_writes_resume(&mut session, &mut model);
    for _ in 0..20 {
        assert!(insert_pair(&mut session, &mut model), "a write failed after space returned");
    }
    db.checkpoint().expect("checkpoint after space returned");
    check(&db, &model, "after space returned");
    drop(session);
    drop(db);

    let db = Database::open(&dir).expect("reopen");
    check(&db, &model, "reopened after space returned");
    drop(db);

    // Hundreds of refused statements, a handful of log lines: one per place and change.
    let logged = count_log_lines() - logged_before;
    let log = String::from_utf8_lossy(&log_lines().lock().expect("log")).into_owned();
    eprintln!(
        "{statements} statements to fill the disk; {} refused in all; {} + {} rows kept; {logged} log lines:\n{log}",
        model.refused,
        model.rows[0].len(),
        model.rows[1].len()
    );
    assert!(
        logged <= 16,
        "{logged} log lines for {} refused statements (of {statements} while filling):\n{log}",
        model.refused
    );
}
