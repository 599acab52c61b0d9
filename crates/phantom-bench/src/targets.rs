//! The databases under test, behind one small interface.
//!
//! Both sides use prepared statements with parameters, so neither pays for parsing per
//! row, and both commit with an fsync.

use std::path::Path;

use phantom::{Database, Session, Statement, Value};
use rusqlite::Connection;

use crate::BenchResult;

/// What a workload needs from a database.
pub trait Target {
    /// Short name for tables.
    fn name(&self) -> &'static str;
    /// Runs a statement without parameters.
    fn execute(&mut self, sql: &str) -> BenchResult<()>;
    /// Inserts one row of the benchmark table.
    fn insert(&mut self, id: i64, value: &str) -> BenchResult<()>;
    /// Reads the value of one row by key.
    fn select(&mut self, id: i64) -> BenchResult<Option<String>>;
}

/// The schema every workload uses: an 8-byte key and a text value.
pub const CREATE_TABLE: &str = "CREATE TABLE bench (id BIGINT PRIMARY KEY, val TEXT NOT NULL)";

/// Phantom-DB, embedded.
pub struct Phantom {
    // Declared before the database so the session ends first.
    session: Session,
    insert: Option<Statement>,
    select: Option<Statement>,
    _db: Database,
}

impl Phantom {
    /// Opens a fresh database in `dir` with the benchmark table.
    pub fn open(dir: &Path) -> BenchResult<Phantom> {
        let db = Database::open(dir)?;
        let mut session = db.session();
        session.execute(CREATE_TABLE)?;
        let insert = Some(session.prepare("INSERT INTO bench VALUES ($1, $2)")?);
        let select = Some(session.prepare("SELECT val FROM bench WHERE id = $1")?);
        Ok(Phantom { session, insert, select, _db: db })
    }
}

impl Target for Phantom {
    fn name(&self) -> &'static str {
        "Phantom-DB"
    }

    fn execute(&mut self, sql: &str) -> BenchResult<()> {
        self.session.execute(sql)?;
        Ok(())
    }

    fn insert(&mut self, id: i64, value: &str) -> BenchResult<()> {
        let statement = self.insert.as_ref().ok_or("insert statement not prepared")?;
        self.session.execute_prepared(statement, &[Value::Int(id), Value::Text(value.to_string())])?;
        Ok(())
    }

    fn select(&mut self, id: i64) -> BenchResult<Option<String>> {
        let statement = self.select.as_ref().ok_or("select statement not prepared")?;
        let rows = self.session.query_prepared(statement, &[Value::Int(id)])?;
        Ok(match rows.rows.first() {
            Some(row) => Some(row.get::<String>(0)?),
            None => None,
        })
    }
}

/// SQLite through rusqlite (bundled), WAL mode, synchronous=FULL.
pub struct Sqlite {
    conn: Connection,
}

impl Sqlite {
    /// Opens a fresh database file in `dir` with the benchmark table.
    pub fn open(dir: &Path) -> BenchResult<Sqlite> {
        let conn = Connection::open(dir.join("bench.sqlite"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute(CREATE_TABLE, [])?;
        Ok(Sqlite { conn })
    }
}

impl Target for Sqlite {
    fn name(&self) -> &'static str {
        "SQLite"
    }

    fn execute(&mut self, sql: &str) -> BenchResult<()> {
        self.conn.execute_batch(sql)?;
        Ok(())
    }

    fn insert(&mut self, id: i64, value: &str) -> BenchResult<()> {
        self.conn
            .prepare_cached("INSERT INTO bench VALUES (?1, ?2)")?
            .execute(rusqlite::params![id, value])?;
        Ok(())
    }

    fn select(&mut self, id: i64) -> BenchResult<Option<String>> {
        let mut statement = self.conn.prepare_cached("SELECT val FROM bench WHERE id = ?1")?;
        let mut rows = statement.query(rusqlite::params![id])?;
        Ok(match rows.next()? {
            Some(row) => Some(row.get(0)?),
            None => None,
        })
    }
}

/// A value of `len` bytes derived from `id`: the id, then pseudo-random letters, so each
/// row differs and the data does not compress much (as real data rarely compresses 10x;
/// a repetitive filler would flatter the compressed write-ahead log).
pub fn value_for(id: i64, len: usize) -> String {
    let mut s = format!("{id:020}-");
    let mut x = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push((b'a' + (x % 26) as u8) as char);
    }
    s.truncate(len);
    s
}

/// A small, fast, seedable pseudo-random generator (xorshift64*), so runs are repeatable
/// without pulling in a dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound.max(1)
    }
}
