//! Execution: a plan becomes a tree of row iterators (the Volcano model).
//!
//! Each operator lives in its own file and pulls rows from its children on demand, so a
//! `LIMIT 10` over a large scan reads little more than ten rows. Operators that must see
//! all their input before producing output (sort, aggregate, the build side of a hash join)
//! materialize it, and charge what they keep to the statement's [`MemoryBudget`] (see
//! [`crate::budget`]): sort, hash aggregate (groups, `string_agg` strings, DISTINCT
//! aggregates' seen values), hash join and nested-loop join (the inner side), DISTINCT and
//! UNION, INTERSECT and EXCEPT (the right side, the rows already passed), recursive CTEs
//! (the result, the work table, the rows seen) and subqueries (their rows). A charge lasts
//! as long as the operator's iterator. Joins produce their output a row at a time, so
//! they hold nothing but their inner side. Iterators own what they need (the transaction
//! handle is shared), so a result can be consumed after the function that built it
//! returns.
//!
//! Data changes ([`write`]) run to completion and report how many rows they touched.

mod aggregate;
pub mod constraints;
pub mod datetime_functions;
mod distinct;
pub mod eval;
mod filter;
pub mod functions;
mod hash_join;
mod limit;
mod nested_loop_join;
pub mod pg_functions;
mod project;
mod recursive;
pub mod rewrite;
mod scan;
mod sequences;
mod set_op;
mod sort;
mod subquery;
pub mod table_function;
mod values;
mod write;

pub use scan::decode as decode_row;
pub use sequences::Sequences;
pub use subquery::{prepare_expr, prepare_subqueries};
pub use write::insert as insert_rows;

use std::sync::Arc;

use phantom_txn::Transaction;

use crate::budget::MemoryBudget;
use crate::catalog::Catalog;
use crate::error::Result;
use crate::interrupt::Interrupt;
use crate::planner::Plan;
use crate::types::Value;

/// A row: one value per column.
pub type Row = Vec<Value>;

/// A stream of rows.
pub type Rows = Box<dyn Iterator<Item = Result<Row>> + Send>;

/// What operators need from outside the plan.
#[derive(Clone)]
pub struct Context {
    /// The statement's transaction.
    pub txn: Transaction,
    /// Row-id sequences for tables without a primary key.
    pub sequences: Arc<Sequences>,
    /// The session's view of SQL sequences (`nextval` and friends).
    pub sequence_session: Arc<crate::sequence::SessionSequences>,
    /// The catalog, for constraints that involve other tables.
    pub catalog: Arc<Catalog>,
    /// The rows each running recursive CTE's step reads (see [`recursive`]).
    pub work_tables: recursive::WorkTables,
    /// Raised by another thread to cancel the statement (see [`crate::interrupt`]).
    pub interrupt: Interrupt,
    /// What the statement's operators may hold in memory (see [`crate::budget`]).
    pub budget: MemoryBudget,
}

/// Builds the iterator tree for a query plan. Every operator's output checks the
/// statement's [`Interrupt`], so a cancel stops even a plan that only computes (a cross
/// join, a recursive CTE) within a row or so.
pub fn execute(plan: Plan, cx: &Context) -> Result<Rows> {
    // Building recurses into the inputs: each level checks the stack (crate::depth).
    let rows = crate::depth::grow(|| build(plan, cx))?;
    let interrupt = cx.interrupt.clone();
    Ok(Box::new(rows.map(move |row| {
        interrupt.check()?;
        row
    })))
}

fn build(plan: Plan, cx: &Context) -> Result<Rows> {
    Ok(match plan {
        Plan::Scan { table, range, filter, .. } => scan::table_scan(cx, table, range, filter)?,
        Plan::KeyLookup { table, keys, filter, .. } => scan::key_lookup(cx, table, keys, filter)?,
        Plan::IndexScan { table, index, prefix, range, filter, .. } => {
            scan::index_scan(cx, table, index, &prefix, range, filter)?
        }
        Plan::Values { rows, .. } => values::values(rows),
        Plan::TableFunction { function, args, ordinality, .. } => {
            table_function::rows(function, &args, ordinality)?
        }
        Plan::Nothing { .. } => Box::new(std::iter::empty()),
        Plan::Filter { input, predicate } => filter::filter(execute(*input, cx)?, predicate),
        Plan::LockRows { input, table, mode, recheck } => {
            let cx = cx.clone();
            Box::new(execute(*input, &cx)?.filter_map(move |row| {
                let locked = row.and_then(|row| {
                    let key = write::stored_key(&table, &row)?;
                    write::lock_newest(&cx, &table, row, &key, mode, recheck.as_ref())
                });
                locked.transpose()
            }))
        }
        Plan::Project { input, exprs, .. } => project::project(execute(*input, cx)?, exprs),
        Plan::NestedLoopJoin { left, right, kind, on } => {
            let right_width = right.width();
            let left_width = left.width();
            nested_loop_join::join(
                execute(*left, cx)?,
                execute(*right, cx)?,
                left_width,
                right_width,
                kind,
                on,
                &cx.budget,
            )?
        }
        Plan::HashJoin { left, right, kind, left_keys, right_keys, residual } => {
            let right_width = right.width();
            hash_join::join(
                execute(*left, cx)?,
                execute(*right, cx)?,
                right_width,
                kind,
                left_keys,
                right_keys,
                residual,
                &cx.budget,
            )?
        }
        Plan::Aggregate { input, group_by, aggregates, .. } => {
            aggregate::aggregate(execute(*input, cx)?, group_by, aggregates, &cx.budget)?
        }
        Plan::Sort { input, keys } => sort::sort(execute(*input, cx)?, keys, &cx.budget)?,
        Plan::Limit { input, limit, offset } => limit::limit(execute(*input, cx)?, limit, offset)?,
        Plan::Distinct { input } => {
            distinct::distinct(execute(*input, cx)?, cx.budget.reservation("DISTINCT"))
        }
        Plan::RecursiveCte { id, anchor, step, all, .. } => recursive::run(id, *anchor, *step, all, cx)?,
        Plan::WorkTable { id, .. } => recursive::work_table(id, cx)?,
        Plan::SetOp { op, all, left, right, .. } => {
            set_op::set_op(op, all, execute(*left, cx)?, execute(*right, cx)?, &cx.budget)?
        }
        plan @ (Plan::Insert { .. } | Plan::Update { .. } | Plan::Delete { .. }) => {
            let count = write::modify(plan, cx)?;
            Box::new(std::iter::once(Ok(vec![Value::Int(count as i64)])))
        }
    })
}

/// Runs an INSERT, UPDATE or DELETE plan and returns the number of rows it changed.
pub fn modify(plan: Plan, cx: &Context) -> Result<u64> {
    write::modify(plan, cx)
}

/// [`modify`] for `INSERT ... RETURNING`: `stored` gets each row stored.
pub fn modify_returning(
    plan: Plan,
    cx: &Context,
    stored: &mut dyn FnMut(&[Value]) -> Result<()>,
) -> Result<u64> {
    write::modify_returning(plan, cx, stored)
}
