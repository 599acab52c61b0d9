//! `WITH RECURSIVE`: iterating a step until it adds no rows.
//!
//! The anchor's rows are the first round. Each next round runs the step with its work
//! table bound to the rows the previous round added; the rows it returns (without ALL:
//! those not produced before) are added and become the next work table. The loop ends when
//! a round adds nothing. A query that never converges is stopped with 54001 after
//! [`MAX_ROWS`] rows instead of running forever; before that, what it keeps (the result,
//! the rows seen, the work table) is charged to the statement's budget (see
//! [`crate::budget`]), so a wide one ends with 53200 first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Context, Row, Rows, execute, prepare_subqueries};
use crate::budget::{HASH_ENTRY_OVERHEAD, row_bytes};
use crate::error::{Error, Result, SqlState};
use crate::planner::Plan;

/// The most rows a recursive query may produce.
pub const MAX_ROWS: usize = 1_000_000;

/// The current work table of each running recursive CTE, by id.
pub type WorkTables = Arc<Mutex<HashMap<usize, Arc<Vec<Row>>>>>;

/// Runs a recursive CTE to its fixpoint.
pub fn run(id: usize, anchor: Plan, step: Plan, all: bool, cx: &Context) -> Result<Rows> {
    let mut kept = cx.budget.reservation("recursive query");
    let mut seen: HashSet<Row> = HashSet::new();
    let mut fresh = |rows: Vec<Row>, kept: &mut crate::budget::Reservation| -> Result<Vec<Row>> {
        if all {
            return Ok(rows);
        }
        let mut new = Vec::new();
        for row in rows {
            if !seen.contains(&row) {
                kept.charge(row_bytes(&row) + HASH_ENTRY_OVERHEAD)?;
                seen.insert(row.clone());
                new.push(row);
            }
        }
        Ok(new)
    };
    let mut result: Vec<Row> = Vec::new();
    // The current work table, held beside the result.
    let mut working_table = cx.budget.reservation("recursive query");
    let mut working = fresh(collect(anchor, cx)?, &mut kept)?;
    while !working.is_empty() {
        working_table.clear();
        for row in &working {
            kept.charge(row_bytes(row))?;
            working_table.charge(row_bytes(row))?;
        }
        result.extend(working.iter().cloned());
        if result.len() > MAX_ROWS {
            return Err(Error::new(
                SqlState::StatementTooComplex,
                format!("recursive query produced more than {MAX_ROWS} rows; does it ever stop?"),
            ));
        }
        cx.work_tables.lock().insert(id, Arc::new(working));
        working = fresh(collect(step.clone(), cx)?, &mut kept)?;
    }
    cx.work_tables.lock().remove(&id);
    drop(working_table);
    Ok(Box::new(result.into_iter().map(move |row| {
        let _held = &kept;
        Ok(row)
    })))
}

/// The rows of the current round's work table.
pub fn work_table(id: usize, cx: &Context) -> Result<Rows> {
    let rows = cx.work_tables.lock().get(&id).cloned().ok_or_else(|| {
        Error::new(SqlState::InternalError, format!("work table {id} read outside its recursive query"))
    })?;
    Ok(Box::new((0..rows.len()).map(move |i| Ok(rows[i].clone()))))
}

fn collect(plan: Plan, cx: &Context) -> Result<Vec<Row>> {
    execute(prepare_subqueries(plan, cx)?, cx)?.collect()
}
