//! The engine benchmark: our LSM tree (leveled and tiered) and B+tree against SQLite, at
//! the key-value level.
//!
//! Each engine runs in its own child process (so memory and I/O counters are its own):
//!
//! 1. **sequential inserts** of `keys` keys (16-byte keys, 100-byte values) in batches of
//!    1,000, then the data is made durable in the engine's files;
//! 2. **random inserts** of the same number of keys in random order into a fresh store;
//! 3. **random point reads** and **short range scans** (100 keys) on the random store.
//!
//! Amplification, from the process's I/O counters (`/proc/self/io`): write amplification
//! is bytes written by the random load over the user bytes; space amplification is the
//! files' size after the load and a full compaction over the user bytes; read
//! amplification is bytes read (from the OS, cached or not) per byte returned by the point
//! reads.
//!
//! Our engines are driven directly (no SQL, no write-ahead log: durability comes from the
//! shared log, which is the same for every engine and measured in `storage.md`). SQLite is
//! driven through a `WITHOUT ROWID` table with `synchronous = OFF` and journal in WAL
//! mode, the closest it has to a bare ordered key-value store. With the `rocksdb` cargo
//! feature, RocksDB runs too, as the anchor a user would otherwise pick.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use phantom_storage::btree::BufferPool;
use phantom_storage::lsm::{BlockCache, Compaction, LsmOptions};
use phantom_storage::{BTree, Engine, Lsm, WriteBatch};
use rusqlite::Connection;

use super::{dir_size, progress};
use crate::BenchResult;
use crate::report::{environment, publish_columns};
use crate::stats::{Latencies, rate};
use crate::targets::Rng;

const VALUE_LEN: usize = 100;
const BATCH: u64 = 1_000;
const SCAN_LEN: usize = 100;

/// The systems compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum System {
    LsmLeveled,
    LsmTiered,
    Btree,
    Sqlite,
    /// Only with the `rocksdb` cargo feature.
    #[cfg(feature = "rocksdb")]
    Rocksdb,
}

/// The systems of this build.
fn systems() -> Vec<System> {
    let base = vec![System::LsmLeveled, System::LsmTiered, System::Btree, System::Sqlite];
    #[cfg(feature = "rocksdb")]
    let base = {
        let mut all = base;
        all.push(System::Rocksdb);
        all
    };
    base
}

fn label(system: System) -> &'static str {
    match system {
        System::LsmLeveled => "LSM leveled",
        System::LsmTiered => "LSM tiered",
        System::Btree => "B+tree",
        System::Sqlite => "SQLite",
        #[cfg(feature = "rocksdb")]
        System::Rocksdb => "RocksDB",
    }
}

fn arg(system: System) -> &'static str {
    match system {
        System::LsmLeveled => "lsm-leveled",
        System::LsmTiered => "lsm-tiered",
        System::Btree => "btree",
        System::Sqlite => "sqlite",
        #[cfg(feature = "rocksdb")]
        System::Rocksdb => "rocksdb",
    }
}

/// The 16-byte key of `i`: 8 bytes of a fixed prefix (as a table id would be), then `i`.
fn key(i: u64) -> Vec<u8> {
    let mut k = b"tbl00042".to_vec();
    k.extend_from_slice(&i.to_be_bytes());
    k
}

fn value(i: u64) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..VALUE_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect()
}

/// A store under test.
trait Store {
    fn put_batch(&mut self, keys: &[u64]) -> BenchResult<()>;
    fn get(&mut self, i: u64) -> BenchResult<bool>;
    fn scan(&mut self, from: u64, len: usize) -> BenchResult<usize>;
    /// Makes everything durable in the files, compacted as the engine would settle.
    fn settle(&mut self) -> BenchResult<()>;
}

struct Ours {
    engine: Arc<dyn Engine>,
    lsm: Option<Lsm>,
    lsn: u64,
}

impl Store for Ours {
    fn put_batch(&mut self, keys: &[u64]) -> BenchResult<()> {
        let mut batch = WriteBatch::new();
        for &i in keys {
            batch.put(key(i), value(i));
        }
        self.lsn += 1;
        self.engine.apply(batch, self.lsn)?;
        Ok(())
    }
    fn get(&mut self, i: u64) -> BenchResult<bool> {
        Ok(self.engine.get(&key(i))?.is_some())
    }
    fn scan(&mut self, from: u64, len: usize) -> BenchResult<usize> {
        let range = (std::ops::Bound::Included(key(from)), std::ops::Bound::Unbounded);
        let mut n = 0;
        for entry in self.engine.scan(range).take(len) {
            entry?;
            n += 1;
        }
        Ok(n)
    }
    fn settle(&mut self) -> BenchResult<()> {
        match &self.lsm {
            Some(lsm) => lsm.compact_fully()?,
            None => self.engine.checkpoint(self.lsn)?,
        }
        self.engine.checkpoint(self.lsn)?;
        Ok(())
    }
}

struct Sqlite {
    conn: Connection,
}

impl Store for Sqlite {
    fn put_batch(&mut self, keys: &[u64]) -> BenchResult<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT OR REPLACE INTO kv VALUES (?1, ?2)")?;
            for &i in keys {
                insert.execute(rusqlite::params![key(i), value(i)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
    fn get(&mut self, i: u64) -> BenchResult<bool> {
        let mut select = self.conn.prepare_cached("SELECT v FROM kv WHERE k = ?1")?;
        let found = select.query(rusqlite::params![key(i)])?.next()?.is_some();
        Ok(found)
    }
    fn scan(&mut self, from: u64, len: usize) -> BenchResult<usize> {
        let mut select = self.conn.prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2")?;
        let mut rows = select.query(rusqlite::params![key(from), len as i64])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let _: Vec<u8> = row.get(1)?;
            n += 1;
        }
        Ok(n)
    }
    fn settle(&mut self) -> BenchResult<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// RocksDB with its defaults plus what a fair comparison needs: LZ4 blocks, a bloom
/// filter, a 64 MiB block cache (as our LSM tree), no write-ahead log (as ours here).
#[cfg(feature = "rocksdb")]
struct Rocks {
    db: rocksdb::DB,
}

#[cfg(feature = "rocksdb")]
impl Rocks {
    fn open(dir: &Path) -> BenchResult<Rocks> {
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        table.set_block_cache(&rocksdb::Cache::new_lru_cache(64 << 20));
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        options.set_block_based_table_factory(&table);
        options.increase_parallelism(2);
        Ok(Rocks { db: rocksdb::DB::open(&options, dir)? })
    }
}

#[cfg(feature = "rocksdb")]
impl Store for Rocks {
    fn put_batch(&mut self, keys: &[u64]) -> BenchResult<()> {
        let mut batch = rocksdb::WriteBatch::default();
        for &i in keys {
            batch.put(key(i), value(i));
        }
        let mut write = rocksdb::WriteOptions::default();
        write.disable_wal(true);
        self.db.write_opt(batch, &write)?;
        Ok(())
    }
    fn get(&mut self, i: u64) -> BenchResult<bool> {
        Ok(self.db.get(key(i))?.is_some())
    }
    fn scan(&mut self, from: u64, len: usize) -> BenchResult<usize> {
        let start = key(from);
        let mode = rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward);
        let mut n = 0;
        for entry in self.db.iterator(mode).take(len) {
            entry?;
            n += 1;
        }
        Ok(n)
    }
    fn settle(&mut self) -> BenchResult<()> {
        self.db.flush()?;
        self.db.compact_range::<&[u8], &[u8]>(None, None);
        Ok(())
    }
}

fn open(system: System, dir: &Path) -> BenchResult<Box<dyn Store>> {
    std::fs::create_dir_all(dir)?;
    let lsm = |compaction| -> BenchResult<Box<dyn Store>> {
        let tree = Lsm::open(
            &dir.join("tree"),
            LsmOptions { compaction, ..LsmOptions::default() },
            BlockCache::new(64 << 20),
        )?;
        Ok(Box::new(Ours { engine: Arc::new(tree.clone()), lsm: Some(tree), lsn: 0 }))
    };
    Ok(match system {
        System::LsmLeveled => lsm(Compaction::Leveled)?,
        System::LsmTiered => lsm(Compaction::Tiered)?,
        System::Btree => {
            let tree = BTree::open(&dir.join("tree.btree"), BufferPool::new(128 << 20))?;
            Box::new(Ours { engine: Arc::new(tree), lsm: None, lsn: 0 })
        }
        System::Sqlite => {
            let conn = Connection::open(dir.join("kv.sqlite"))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "OFF")?;
            conn.execute(
                "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
                [],
            )?;
            Box::new(Sqlite { conn })
        }
        #[cfg(feature = "rocksdb")]
        System::Rocksdb => Box::new(Rocks::open(&dir.join("rocks"))?),
    })
}

/// (bytes read, bytes written) by this process so far, at the system-call level.
fn io_counters() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    (field("rchar:"), field("wchar:"))
}

fn load(store: &mut dyn Store, order: &[u64], what: &str) -> BenchResult<f64> {
    let bar = progress(order.len() as u64, what);
    let start = Instant::now();
    for chunk in order.chunks(BATCH as usize) {
        store.put_batch(chunk)?;
        bar.inc(chunk.len() as u64);
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    Ok(rate(order.len() as u64, elapsed))
}

/// The child process: measures one system and prints `key value` lines.
pub fn run_worker(system: System, dir: &Path, keys: u64, reads: u64, scans: u64) -> BenchResult<()> {
    let name = label(system);
    let user_bytes = keys as f64 * (16 + VALUE_LEN) as f64;

    let sequential: Vec<u64> = (0..keys).collect();
    let mut store = open(system, &dir.join("seq"))?;
    println!("seq_inserts_per_s {}", load(store.as_mut(), &sequential, &format!("{name}: sequential"))?);
    drop(store);
    let _ = std::fs::remove_dir_all(dir.join("seq"));

    let mut order = sequential;
    let mut rng = Rng::new(11);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut store = open(system, &dir.join("random"))?;
    let (_, written_before) = io_counters();
    println!("random_inserts_per_s {}", load(store.as_mut(), &order, &format!("{name}: random"))?);
    store.settle()?;
    let (_, written_after) = io_counters();
    println!("write_amp {}", (written_after - written_before) as f64 / user_bytes);
    println!("space_amp {}", dir_size(&dir.join("random")) as f64 / user_bytes);

    let mut samples = Vec::with_capacity(reads as usize);
    let (read_before, _) = io_counters();
    let start = Instant::now();
    for _ in 0..reads {
        let i = rng.below(keys);
        let t = Instant::now();
        if !store.get(i)? {
            return Err(format!("{name}: key {i} missing").into());
        }
        samples.push(t.elapsed());
    }
    println!("reads_per_s {}", rate(reads, start.elapsed()));
    let (read_after, _) = io_counters();
    println!("read_amp {}", (read_after - read_before) as f64 / (reads as f64 * VALUE_LEN as f64));
    let latencies = Latencies::new(samples);
    println!("read_p99_us {}", latencies.percentile(99.0).as_secs_f64() * 1e6);

    let start = Instant::now();
    let mut scanned = 0;
    for _ in 0..scans {
        scanned += store.scan(rng.below(keys.saturating_sub(SCAN_LEN as u64).max(1)), SCAN_LEN)?;
    }
    println!("scan_keys_per_s {}", rate(scanned as u64, start.elapsed()));
    Ok(())
}

/// The parent: one child per system, then the table `engines.md`.
pub fn run(base: &Path, results: &Path, keys: u64, reads: u64, scans: u64) -> BenchResult<()> {
    let mut reports = Vec::new();
    for system in systems() {
        let dir = tempfile::tempdir_in(base)?;
        let output = Command::new(std::env::current_exe().unwrap_or_else(|_| PathBuf::from("phantom-bench")))
            .args(["engines-worker", "--system", arg(system), "--dir"])
            .arg(dir.path())
            .args(["--keys", &keys.to_string(), "--reads", &reads.to_string(), "--scans", &scans.to_string()])
            .stderr(Stdio::inherit())
            .output()?;
        if !output.status.success() {
            return Err(format!("{} worker failed ({})", label(system), output.status).into());
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        reports.push(
            text.lines()
                .filter_map(|l| {
                    l.split_once(' ').and_then(|(k, v)| Some((k.to_string(), v.trim().parse::<f64>().ok()?)))
                })
                .collect::<Vec<_>>(),
        );
    }
    let metric = |name: &str, key: &str| {
        let values =
            reports.iter().map(|r| r.iter().find(|(k, _)| k == key).map_or(0.0, |(_, v)| *v)).collect();
        (name.to_string(), values)
    };
    let rows = vec![
        metric("sequential inserts/s (1,000-key batches)", "seq_inserts_per_s"),
        metric("random inserts/s (1,000-key batches)", "random_inserts_per_s"),
        metric("random point reads/s", "reads_per_s"),
        metric("point read p99 (µs)", "read_p99_us"),
        metric("short range scans, keys/s (100 keys each)", "scan_keys_per_s"),
        metric("write amplification (bytes written / user bytes)", "write_amp"),
        metric("space amplification (file bytes / user bytes)", "space_amp"),
        metric("read amplification (bytes read / bytes returned)", "read_amp"),
    ];
    let setup = format!(
        "{keys} keys (16-byte keys, 100-byte values), inserted in batches of {BATCH}; {reads} random point reads; \
         {scans} scans of {SCAN_LEN} keys. Our engines are driven directly through the `Engine` trait (no SQL, no \
         write-ahead log); SQLite through a `WITHOUT ROWID` table, WAL mode, `synchronous = OFF`. LSM: 16 MiB \
         memtable, 64 MiB block cache; B+tree: 128 MiB buffer pool. Each system runs in its own process. {} {}",
        if cfg!(feature = "rocksdb") {
            "RocksDB (built with the `rocksdb` feature): defaults plus LZ4, a 10-bit bloom filter, a 64 MiB block \
             cache and its write-ahead log off, as ours."
        } else {
            "RocksDB is not in this run (build with `--features rocksdb`)."
        },
        environment()
    );
    let systems: Vec<&str> = systems().into_iter().map(label).collect();
    publish_columns("Engines: LSM tree, B+tree and SQLite", "engines", &setup, &systems, &rows, results)
}
