//! Damage on disk is an error, never a different answer: fault injection through the
//! embedded API, so the whole stack takes part (the catalog in keyspace 0, the table's own
//! files, the checkpoint manifest and the log).
//!
//! Each test builds a database, keeps a pristine copy of its directory, and then, trial
//! after trial, copies it, flips one bit at one byte position of one file, and opens the
//! copy. A trial must end in exactly one of two ways:
//!
//! - the database opens and answers with exactly the committed state (and keeps a new
//!   write across a reopen), or
//! - opening fails with SQLSTATE XX001 naming the damaged file,
//!
//! and no file of the table may have been deleted either way. The suite tries a sample of
//! positions chosen to hit every field of the structures (a few seconds per test in a
//! debug build); `PHANTOM_FAULT_FULL=1` tries every position (of the log segment: every
//! byte of its records and of the first 8 KiB of zeros after them, then a sample).

mod common;

use std::path::{Path, PathBuf};

use common::scalar;
use phantom::{Database, Options};

fn options() -> Options {
    // Small segments and no checkpoints of their own: the tests decide when they happen.
    Options { wal_segment_size: 64 * 1024, checkpoint_wal_bytes: u64::MAX, ..Options::default() }
}

fn full_run() -> bool {
    std::env::var("PHANTOM_FAULT_FULL").is_ok_and(|v| v == "1")
}

/// What a table holds, in a form that tells any two different states apart here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    rows: i64,
    id_sum: i64,
    text_weight: i64,
}

fn fingerprint(s: &mut phantom::Session) -> Fingerprint {
    table_fingerprint(s, "t")
}

fn table_fingerprint(s: &mut phantom::Session, table: &str) -> Fingerprint {
    let rows = s
        .query(&format!(
            "SELECT count(*), coalesce(sum(id), 0), coalesce(sum((id % 997) * length(v)), 0) FROM {table}"
        ))
        .unwrap_or_else(|e| panic!("fingerprint of {table}: {e}"));
    let row = &rows.rows[0];
    Fingerprint {
        rows: row.get(0).expect("count"),
        id_sum: row.get(1).expect("sum"),
        text_weight: row.get(2).expect("weight"),
    }
}

/// Inserts rows `from..to` into `t`, `per_commit` a transaction.
fn load(s: &mut phantom::Session, from: i64, to: i64, per_commit: usize) {
    load_into(s, "t", from, to, per_commit);
}

fn load_into(s: &mut phantom::Session, table: &str, from: i64, to: i64, per_commit: usize) {
    for chunk in (from..to).collect::<Vec<_>>().chunks(per_commit) {
        let values: Vec<String> =
            chunk.iter().map(|&i| format!("({i}, 'row {i} {}')", "x".repeat((i % 13) as usize))).collect();
        s.execute(&format!("INSERT INTO {table} VALUES {}", values.join(", "))).expect("insert");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_dir() {
                walk(root, &entry.path(), out);
            } else {
                out.push(entry.path().strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The data files (tables, their LSM tables and manifests) of a database directory.
fn data_files(dir: &Path) -> Vec<PathBuf> {
    files(dir).into_iter().filter(|f| f.starts_with("data") && !f.ends_with("MANIFEST.tmp")).collect()
}

/// How a trial ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Opened with exactly the committed state.
    Exact,
    /// Refused with XX001.
    Refused,
}

/// A pristine database directory and what it must answer.
struct Image {
    _root: tempfile::TempDir,
    dir: PathBuf,
    expected: Fingerprint,
    /// Other tables and what they hold.
    others: Vec<(&'static str, Fingerprint)>,
}

impl Image {
    /// Copies the image, flips bit `pos % 8` of byte `pos` of `file`, opens the copy and
    /// judges the outcome (panicking on anything but the two allowed ones).
    fn trial(&self, file: &Path, pos: usize) -> Outcome {
        let scratch = tempfile::tempdir().expect("tempdir");
        let dir = scratch.path().join("db");
        copy_dir(&self.dir, &dir);
        let before = data_files(&dir);
        let path = dir.join(file);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[pos] ^= 1 << (pos % 8);
        std::fs::write(&path, &bytes).expect("write");
        let what = format!("{} byte {pos}", file.display());
        let outcome = match Database::open_with(&dir, options()) {
            Err(e) => {
                assert_eq!(e.sqlstate(), "XX001", "{what}: {e}");
                let name = file.file_name().expect("name").to_string_lossy().into_owned();
                let parent =
                    file.parent().and_then(Path::file_name).map(|p| p.to_string_lossy().into_owned());
                let message = e.to_string();
                assert!(
                    message.contains(&name) || parent.is_some_and(|p| message.contains(&p)),
                    "{what}: the error does not name the damaged file: {message}"
                );
                Outcome::Refused
            }
            Ok(db) => {
                let mut s = db.session();
                assert_eq!(fingerprint(&mut s), self.expected, "{what}: a different answer");
                for (table, expected) in &self.others {
                    assert_eq!(
                        table_fingerprint(&mut s, table),
                        *expected,
                        "{what}: a different answer from {table}"
                    );
                }
                // A write after recovery must not turn a wrong state permanent or lose the
                // right one (a sample of trials: each costs a few fsyncs).
                if full_run() || pos.is_multiple_of(3) {
                    s.execute("INSERT INTO t VALUES (-1, 'after')").expect("write after recovery");
                    drop(s);
                    drop(db);
                    let db = Database::open_with(&dir, options())
                        .unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
                    let mut s = db.session();
                    assert_eq!(
                        fingerprint(&mut s).rows,
                        self.expected.rows + 1,
                        "{what}: the write after recovery"
                    );
                }
                Outcome::Exact
            }
        };
        let after = data_files(&dir);
        for file in &before {
            // A table's files may be rewritten, never removed; LSM tables may be merged
            // only by a database that opened.
            let lsm_table = file.extension().is_some_and(|e| e == "sst");
            if !(lsm_table && outcome == Outcome::Exact) {
                assert!(after.contains(file), "{what}: {} was deleted", file.display());
            }
        }
        outcome
    }
}

/// Positions to try in a region `start..start + len`: every one in a full run, else the
/// given offsets into it (`picks`), every `stride`-th one after the last pick, and the
/// last byte.
fn positions(start: usize, len: usize, picks: &[usize], stride: usize) -> Vec<usize> {
    if full_run() {
        return (start..start + len).collect();
    }
    let after = picks.iter().max().map_or(0, |&p| p + 1);
    let mut out: Vec<usize> = picks.iter().filter(|&&p| p < len).map(|&p| start + p).collect();
    out.extend((start + after..start + len).step_by(stride.max(1)));
    out.push(start + len - 1);
    out.sort_unstable();
    out.dedup();
    out
}

/// Offsets into a header slot: the checksum, magic, format version, page size, padding,
/// and a byte of every field (sequence, covered LSN, root, pages, page table, entries,
/// live bytes).
const HEADER_PICKS: &[usize] = &[0, 7, 12, 17, 21, 24, 33, 40, 50, 56, 67, 72];

const PAGE: usize = 8192;

/// Table `t` checkpointed at 1,000 rows, then at 2,000, and table `u` created between the
/// two checkpoints: the log that led from the first checkpoint to the second is gone, so
/// neither the catalog's nor `t`'s older header slot may stand in for the newer one (`t`
/// would revert to 1,000 rows, the catalog would forget `u`), and `u`, whose file has only
/// the one checkpoint, must not read as empty.
fn btree_image() -> (Image, Vec<PathBuf>) {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("db");
    let (expected, u) = {
        let db = Database::open_with(&dir, options()).expect("open");
        let mut s = db.session();
        s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)").expect("create");
        load(&mut s, 0, 1000, 250);
        db.checkpoint().expect("checkpoint");
        load(&mut s, 1000, 2000, 250);
        s.execute("CREATE TABLE u (id BIGINT PRIMARY KEY, v TEXT)").expect("create");
        load_into(&mut s, "u", 0, 300, 100);
        db.checkpoint().expect("checkpoint");
        (fingerprint(&mut s), table_fingerprint(&mut s, "u"))
    };
    let mut tables: Vec<PathBuf> = data_files(&dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "btree") && !f.ends_with("ks-00000000.btree"))
        .collect();
    assert_eq!(tables.len(), 2, "{tables:?}");
    tables.insert(0, PathBuf::from("data/ks-00000000.btree"));
    (Image { _root: root, dir, expected, others: vec![("u", u)] }, tables)
}

/// The header slot (0 or 1) with the higher checkpoint sequence.
fn newest_slot(file: &Path) -> usize {
    let bytes = std::fs::read(file).expect("read");
    let sequence = |slot: usize| {
        let at = slot * PAGE + 24;
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    if sequence(0) > sequence(1) { 0 } else { 1 }
}

#[test]
fn damage_to_btree_header_slots_is_refused_or_harmless() {
    let (image, files) = btree_image();
    for file in files {
        let newest = newest_slot(&image.dir.join(&file));
        for slot in 0..2 {
            let (mut refused, mut tried) = (0, 0);
            for pos in positions(slot * PAGE, PAGE, HEADER_PICKS, 4001) {
                tried += 1;
                if image.trial(&file, pos) == Outcome::Refused {
                    refused += 1;
                }
            }
            if slot == newest {
                // The older slot is stale and the log that would bring it forward is gone.
                assert_eq!(
                    refused,
                    tried,
                    "{}: damage to the newest header slot must be refused",
                    file.display()
                );
            } else {
                assert_eq!(refused, 0, "{}: the older slot is not needed to open", file.display());
            }
        }
    }
}

#[test]
fn damage_to_an_lsm_manifest_is_refused_or_harmless() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("db");
    let expected = {
        let db = Database::open_with(&dir, options()).expect("open");
        let mut s = db.session();
        s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT) WITH (engine = 'lsm')").expect("create");
        load(&mut s, 0, 1000, 250);
        db.checkpoint().expect("checkpoint");
        load(&mut s, 1000, 2000, 250);
        db.checkpoint().expect("checkpoint");
        fingerprint(&mut s)
    };
    let manifest = data_files(&dir)
        .into_iter()
        .find(|f| {
            f.ends_with("MANIFEST") && f.parent().is_some_and(|p| p.extension().is_some_and(|e| e == "lsm"))
        })
        .expect("the tree's manifest");
    let image = Image { _root: root, dir, expected, others: Vec::new() };
    let len = std::fs::metadata(image.dir.join(&manifest)).expect("meta").len() as usize;
    let mut refused = 0;
    // Small enough to try every position in the suite.
    for pos in 0..len {
        if image.trial(&manifest, pos) == Outcome::Refused {
            refused += 1;
        }
    }
    assert!(refused > 0, "no damage was noticed");
    eprintln!(
        "{len} positions of the MANIFEST: {refused} refused, {} opened with the committed state",
        len - refused
    );
}

/// A crash image: a table checkpointed, then single-row commits that only the log holds
/// (the directory is copied while the database is open, as kill -9 would leave it).
fn wal_image(commits: i64) -> (Image, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let live = root.path().join("live");
    let dir = root.path().join("db");
    let db = Database::open_with(&live, options()).expect("open");
    let mut s = db.session();
    s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)").expect("create");
    load(&mut s, 0, 100, 100);
    db.checkpoint().expect("checkpoint");
    load(&mut s, 100, 100 + commits, 1);
    let expected = fingerprint(&mut s);
    copy_dir(&live, &dir);
    drop(s);
    drop(db);
    let segment = files(&dir)
        .into_iter()
        .filter(|f| f.starts_with("wal") && f.extension().is_some_and(|e| e == "wal"))
        .max()
        .expect("a log segment");
    (Image { _root: root, dir, expected, others: Vec::new() }, segment)
}

/// Where each record of a segment starts (parsing the frame header: length at 0, 17 bytes
/// of header), up to the first all-zero header.
fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut pos = 0;
    while pos + 17 <= bytes.len() && bytes[pos..pos + 17].iter().any(|&b| b != 0) {
        starts.push(pos);
        pos += 17 + u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
    }
    starts.push(pos);
    starts
}

#[test]
fn damage_to_the_log_is_refused_or_harmless() {
    let (image, segment) = wal_image(12);
    let bytes = std::fs::read(image.dir.join(&segment)).expect("read");
    let starts = frame_starts(&bytes);
    let end = *starts.last().expect("end");
    let last = starts[starts.len() - 2];
    assert!(starts.len() > 12, "the commits are in the log: {starts:?}");
    // Every record but the last, sampled; the last record whole; the zeros after it.
    let mut records = positions(0, last, &[], 5);
    records.extend(last..end);
    for pos in records {
        assert_eq!(
            image.trial(&segment, pos),
            Outcome::Refused,
            "damage at byte {pos} of a record went unnoticed"
        );
    }
    // The zeros kept ahead of the log: a full run tries the first 8 KiB of them byte by
    // byte and then a sample (a mebibyte of trials would take hours).
    let mut zeros: Vec<usize> = if full_run() {
        (end..(end + 8192).min(bytes.len())).chain((end + 8192..bytes.len()).step_by(4093)).collect()
    } else {
        vec![end, end + 1, end + 4, end + 8, end + 16, end + 17, end + 100, end + 5000]
    };
    zeros.push(bytes.len() - 1);
    for pos in zeros {
        image.trial(&segment, pos);
    }
}

#[test]
fn a_damaged_log_record_is_refused_and_salvage_keeps_what_came_before() {
    let (image, segment) = wal_image(20);
    let path = image.dir.join(&segment);
    let bytes = std::fs::read(&path).expect("read");
    let starts = frame_starts(&bytes);
    // The tenth of the twenty single-row commits.
    let damaged = starts[starts.len() - 12];
    let mut broken = bytes.clone();
    broken[damaged + 20] ^= 0x10;
    std::fs::write(&path, &broken).expect("write");

    let error = Database::open_with(&image.dir, options()).err().expect("refused");
    assert_eq!(error.sqlstate(), "XX001", "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&segment.file_name().expect("name").to_string_lossy().into_owned()),
        "{message}"
    );
    assert!(message.contains(&format!("offset {damaged}")), "{message}");
    assert_eq!(std::fs::read(&path).expect("kept"), broken, "a refused open leaves the segment as it was");

    let salvage = Options { salvage_wal: true, ..options() };
    {
        let db = Database::open_with(&image.dir, salvage.clone()).expect("salvage");
        let report = db.recovery();
        assert!(!report.wal.salvaged.is_empty(), "the salvage is reported");
        assert!(report.notes().iter().any(|n| n.contains("salvage")), "{:?}", report.notes());
        let mut s = db.session();
        // The first nine single-row commits survive; the damaged one and everything
        // after it are cut off.
        assert_eq!(scalar(&mut s, "SELECT count(*) FROM t"), 109);
        assert_eq!(scalar(&mut s, "SELECT max(id) FROM t"), 108);
        s.execute("INSERT INTO t VALUES (5000, 'after salvage')").expect("write");
    }
    let copies: Vec<PathBuf> =
        files(&image.dir).into_iter().filter(|f| f.to_string_lossy().contains("discarded")).collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(
        std::fs::read(image.dir.join(&copies[0])).expect("copy"),
        broken[damaged..],
        "the copy holds the discarded tail"
    );
    // The log is whole again: an ordinary open works and keeps the new commit.
    let db = Database::open_with(&image.dir, options()).expect("reopen");
    let mut s = db.session();
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM t"), 110);
}

#[test]
fn a_garbled_checkpoint_manifest_is_xx001_naming_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("db");
    {
        let db = Database::open_with(&dir, options()).expect("open");
        let mut s = db.session();
        s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)").expect("create");
        load(&mut s, 0, 10, 10);
    }
    let manifest = dir.join("data/MANIFEST");
    for garbage in [&[0xff, 0xfe, 0x80, 0x00][..], b"checkpoint_lsn x\n", b""] {
        std::fs::write(&manifest, garbage).expect("write");
        let error = Database::open_with(&dir, options()).err().expect("refused");
        assert_eq!(error.sqlstate(), "XX001", "{error}");
        assert!(error.to_string().contains("MANIFEST"), "{error}");
    }
}
