//! The TPC-B transaction on SQLite: one connection per client thread, WAL mode,
//! `BEGIN IMMEDIATE` (one writer at a time) and a busy timeout, so writers queue instead
//! of failing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, params};

use super::driver::{ACCOUNTS, Attempt, Client, Inputs, Sums, TELLERS};
use super::{Durability, SCHEMA, sql};
use crate::BenchResult;
use crate::workloads::progress;

/// How long a connection waits for the write lock before SQLite reports busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite numbers parameters `?n`; the shared statements use PostgreSQL's `$n`.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

/// A connection to the database file `path` at durability `sync`.
fn connect(path: &Path, sync: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", sync.sqlite())?;
    Ok(conn)
}

/// Creates a fresh database file in `dir`, loads `scale` units and returns its path.
pub fn create_and_load(dir: &Path, sync: Durability, scale: u64) -> BenchResult<PathBuf> {
    let path = dir.join("tpcb.sqlite");
    let mut conn = connect(&path, sync)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    for ddl in SCHEMA {
        conn.execute(ddl, [])?;
    }
    let accounts = ACCOUNTS * scale;
    let bar = progress(accounts, &format!("SQLite ({}): load", sync.sqlite()));
    let tx = conn.transaction()?;
    {
        let mut branch = tx.prepare(&sqlite_sql(sql::INSERT_BRANCH))?;
        for bid in 1..=scale as i64 {
            branch.execute(params![bid])?;
        }
        let mut teller = tx.prepare(&sqlite_sql(sql::INSERT_TELLER))?;
        for tid in 1..=(TELLERS * scale) as i64 {
            teller.execute(params![tid, (tid - 1) / TELLERS as i64 + 1])?;
        }
        let mut account = tx.prepare(&sqlite_sql(sql::INSERT_ACCOUNT))?;
        let filler = " ".repeat(84);
        for aid in 1..=accounts as i64 {
            account.execute(params![aid, (aid - 1) / ACCOUNTS as i64 + 1, filler])?;
            if aid % 1024 == 0 {
                bar.set_position(aid as u64);
            }
        }
    }
    tx.commit()?;
    bar.finish_and_clear();
    Ok(path)
}

/// The totals the consistency check compares.
pub fn sums(path: &Path) -> BenchResult<Sums> {
    let conn = Connection::open(path)?;
    let sum = |sql: &str| -> rusqlite::Result<i64> {
        Ok(conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))?.unwrap_or_default())
    };
    let (history, history_rows) = conn.query_row(sql::SUM_HISTORY, [], |r| {
        Ok((r.get::<_, Option<i64>>(0)?.unwrap_or_default(), r.get::<_, i64>(1)?))
    })?;
    Ok(Sums {
        accounts: sum(sql::SUM_ACCOUNTS)?,
        tellers: sum(sql::SUM_TELLERS)?,
        branches: sum(sql::SUM_BRANCHES)?,
        history,
        history_rows,
    })
}

/// One client thread's connection and statement texts.
pub struct SqliteClient {
    conn: Connection,
    update_account: String,
    select_account: String,
    update_teller: String,
    update_branch: String,
    insert_history: String,
}

impl SqliteClient {
    /// A new connection to `path`.
    pub fn new(path: &Path, sync: Durability) -> BenchResult<SqliteClient> {
        Ok(SqliteClient {
            conn: connect(path, sync)?,
            update_account: sqlite_sql(sql::UPDATE_ACCOUNT),
            select_account: sqlite_sql(sql::SELECT_ACCOUNT),
            update_teller: sqlite_sql(sql::UPDATE_TELLER),
            update_branch: sqlite_sql(sql::UPDATE_BRANCH),
            insert_history: sqlite_sql(sql::INSERT_HISTORY),
        })
    }

    fn try_transaction(&mut self, i: &Inputs) -> rusqlite::Result<()> {
        let c = &self.conn;
        c.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        c.prepare_cached(&self.update_account)?.execute(params![i.delta, i.aid])?;
        let _balance: i64 =
            c.prepare_cached(&self.select_account)?.query_row(params![i.aid], |r| r.get(0))?;
        c.prepare_cached(&self.update_teller)?.execute(params![i.delta, i.tid])?;
        c.prepare_cached(&self.update_branch)?.execute(params![i.delta, i.bid])?;
        c.prepare_cached(&self.insert_history)?.execute(params![i.tid, i.bid, i.aid, i.delta, i.mtime])?;
        c.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

impl Client for SqliteClient {
    fn transaction(&mut self, inputs: &Inputs) -> Result<Attempt, String> {
        match self.try_transaction(inputs) {
            Ok(()) => Ok(Attempt::Committed),
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) =>
            {
                if !self.conn.is_autocommit() {
                    self.conn.execute_batch("ROLLBACK").map_err(|e| format!("SQLite: ROLLBACK: {e}"))?;
                }
                Ok(Attempt::Aborted)
            }
            Err(e) => {
                Err(format!("SQLite: transaction (aid {}, tid {}) failed: {e}", inputs.aid, inputs.tid))
            }
        }
    }
}
