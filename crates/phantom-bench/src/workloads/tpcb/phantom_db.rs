//! The TPC-B transaction on Phantom-DB, embedded: one session per client thread, prepared
//! statements with `$n` parameters.

use std::path::Path;

use phantom::{Database, Error, Options, Session, SqlState, Statement, SyncMode, Value};

use super::driver::{ACCOUNTS, Attempt, Client, Inputs, Sums, TELLERS};
use super::{Level, SCHEMA, sql};
use crate::BenchResult;
use crate::workloads::progress;

/// Rows per load transaction (keeps the write set of large scales bounded).
const LOAD_BATCH: u64 = 10_000;

/// Opens a fresh database in `dir`, creates the tables and loads `scale` units.
pub fn open_and_load(dir: &Path, sync: SyncMode, scale: u64) -> BenchResult<Database> {
    let db = Database::open_with(dir, Options { synchronous: sync, ..Options::default() })?;
    let mut session = db.session();
    for ddl in SCHEMA {
        session.execute(ddl)?;
    }
    let branch = session.prepare(sql::INSERT_BRANCH)?;
    let teller = session.prepare(sql::INSERT_TELLER)?;
    let account = session.prepare(sql::INSERT_ACCOUNT)?;
    session.execute("BEGIN")?;
    for bid in 1..=scale as i64 {
        session.execute_prepared(&branch, &[Value::Int(bid)])?;
    }
    for tid in 1..=(TELLERS * scale) as i64 {
        session.execute_prepared(&teller, &[Value::Int(tid), Value::Int((tid - 1) / TELLERS as i64 + 1)])?;
    }
    let accounts = ACCOUNTS * scale;
    let bar = progress(accounts, &format!("Phantom-DB ({sync:?}): load"));
    let filler = Value::Text(" ".repeat(84));
    for aid in 1..=accounts as i64 {
        let bid = (aid - 1) / ACCOUNTS as i64 + 1;
        session.execute_prepared(&account, &[Value::Int(aid), Value::Int(bid), filler.clone()])?;
        if (aid as u64).is_multiple_of(LOAD_BATCH) {
            session.execute("COMMIT; BEGIN")?;
        }
        if aid % 1024 == 0 {
            bar.set_position(aid as u64);
        }
    }
    session.execute("COMMIT")?;
    bar.finish_and_clear();
    Ok(db)
}

/// Fails with Phantom-DB's own message if it does not accept `level`'s BEGIN yet.
pub fn check_level(db: &Database, level: Level) -> BenchResult<()> {
    let mut session = db.session();
    match session.execute(level.begin()) {
        Ok(_) => {
            session.execute("ROLLBACK")?;
            Ok(())
        }
        Err(e) => Err(format!("Phantom-DB does not run `{}` yet: {e}", level.begin()).into()),
    }
}

/// The totals the consistency check compares.
pub fn sums(db: &Database) -> BenchResult<Sums> {
    let mut session = db.session();
    let mut sum = |sql: &str| -> BenchResult<Vec<i64>> {
        let rows = session.query(sql)?;
        let row = rows.rows.first().ok_or_else(|| format!("no row from {sql}"))?;
        (0..row.0.len())
            .map(|i| match row.get::<Value>(i)? {
                Value::Null => Ok(0),
                Value::Int(n) => Ok(n),
                other => Err(format!("{sql}: unexpected value {other:?}").into()),
            })
            .collect()
    };
    let history = sum(sql::SUM_HISTORY)?;
    Ok(Sums {
        accounts: sum(sql::SUM_ACCOUNTS)?[0],
        tellers: sum(sql::SUM_TELLERS)?[0],
        branches: sum(sql::SUM_BRANCHES)?[0],
        history: history[0],
        history_rows: history[1],
    })
}

/// One client thread's session and statements.
pub struct PhantomClient {
    session: Session,
    begin: Statement,
    update_account: Statement,
    select_account: Statement,
    update_teller: Statement,
    update_branch: Statement,
    insert_history: Statement,
    end: Statement,
}

impl PhantomClient {
    /// A new session on `db` with the transaction's statements prepared.
    pub fn new(db: &Database, level: Level) -> BenchResult<PhantomClient> {
        let mut session = db.session();
        Ok(PhantomClient {
            begin: session.prepare(level.begin())?,
            update_account: session.prepare(sql::UPDATE_ACCOUNT)?,
            select_account: session.prepare(sql::SELECT_ACCOUNT)?,
            update_teller: session.prepare(sql::UPDATE_TELLER)?,
            update_branch: session.prepare(sql::UPDATE_BRANCH)?,
            insert_history: session.prepare(sql::INSERT_HISTORY)?,
            end: session.prepare("END")?,
            session,
        })
    }

    fn try_transaction(&mut self, i: &Inputs) -> phantom::Result<()> {
        let s = &mut self.session;
        let (aid, tid, bid, delta) =
            (Value::Int(i.aid), Value::Int(i.tid), Value::Int(i.bid), Value::Int(i.delta));
        s.execute_prepared(&self.begin, &[])?;
        s.execute_prepared(&self.update_account, &[delta.clone(), aid.clone()])?;
        if s.query_prepared(&self.select_account, std::slice::from_ref(&aid))?.rows.is_empty() {
            return Err(Error::new(SqlState::DataException, format!("account {} not found", i.aid)));
        }
        s.execute_prepared(&self.update_teller, &[delta.clone(), tid.clone()])?;
        s.execute_prepared(&self.update_branch, &[delta.clone(), bid.clone()])?;
        s.execute_prepared(&self.insert_history, &[tid, bid, aid, delta, Value::Timestamp(i.mtime)])?;
        s.execute_prepared(&self.end, &[])?;
        Ok(())
    }
}

impl Client for PhantomClient {
    fn transaction(&mut self, inputs: &Inputs) -> Result<Attempt, String> {
        match self.try_transaction(inputs) {
            Ok(()) => Ok(Attempt::Committed),
            // 40P01 has no SqlState variant yet; compare codes so deadlocks count once it does.
            Err(e) if matches!(e.state.code(), "40001" | "40P01") => {
                if self.session.in_transaction() {
                    self.session.execute("ROLLBACK").map_err(|e| format!("Phantom-DB: ROLLBACK: {e}"))?;
                }
                Ok(Attempt::Aborted)
            }
            Err(e) => {
                Err(format!("Phantom-DB: transaction (aid {}, tid {}) failed: {e}", inputs.aid, inputs.tid))
            }
        }
    }
}
