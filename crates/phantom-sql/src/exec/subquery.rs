//! Running subqueries inside expressions.
//!
//! A subquery's plan is bound and optimized with the statement, but it can only run with
//! the statement's transaction, so just before execution [`prepare_subqueries`] gives each
//! subquery expression a runner holding the execution context. The runner executes the
//! plan once per distinct use: an uncorrelated subquery runs once per statement (its rows
//! are cached); a correlated one runs for each enclosing row, with its outer references
//! replaced by that row's values and the plan optimized again for them (so a correlated
//! equality becomes a key lookup). Decorrelation into joins would be faster for large
//! inputs and is left for later.
//!
//! The rows are charged to the statement's budget (see [`crate::budget`]): an
//! uncorrelated subquery's for as long as the statement holds them, a correlated run's
//! while they are collected (they are dropped after the enclosing row used them).

use std::sync::{Arc, OnceLock};

use crate::budget::Reservation;

use super::{Context, Row, execute};
use crate::error::Result;
use crate::planner::expr::{Subquery, SubqueryRunner};
use crate::planner::{Expr, Plan, optimizer};
use crate::types::Value;

struct Runner {
    cx: Context,
    /// The rows of an uncorrelated subquery, computed on first use, with their charge.
    cached: OnceLock<(Arc<Vec<Row>>, Reservation)>,
}

impl SubqueryRunner for Runner {
    fn rows(&self, plan: &Plan, args: &[Value]) -> Result<Arc<Vec<Row>>> {
        if args.is_empty() {
            if let Some((rows, _)) = self.cached.get() {
                return Ok(rows.clone());
            }
            let mut reservation = self.cx.budget.reservation("subquery");
            let rows = Arc::new(run(plan.clone(), &self.cx, &mut reservation)?);
            return Ok(self.cached.get_or_init(|| (rows, reservation)).0.clone());
        }
        let bound = plan.clone().map_exprs(&mut |e| {
            Ok(e.transform(&mut |x| match x {
                Expr::Outer(k) => Expr::Constant(args.get(k).cloned().unwrap_or(Value::Null)),
                x => x,
            }))
        })?;
        let mut reservation = self.cx.budget.reservation("subquery");
        Ok(Arc::new(run(optimizer::optimize(bound)?, &self.cx, &mut reservation)?))
    }
}

/// Runs a subquery's plan and collects its rows, charging them to `reservation`.
fn run(plan: Plan, cx: &Context, reservation: &mut Reservation) -> Result<Vec<Row>> {
    let width = plan.columns().iter().filter(|c| !c.hidden).count();
    let plan = prepare_subqueries(plan, cx)?;
    let mut rows = Vec::new();
    let mut slots = 0;
    for row in execute(plan, cx)? {
        let mut row = row?;
        row.truncate(width.max(1));
        reservation.charge(crate::budget::row_heap_bytes(&row))?;
        rows.push(row);
        reservation.charge_capacity(&rows, &mut slots)?;
    }
    Ok(rows)
}

/// Gives every subquery expression in `plan` (not inside other subqueries: those are
/// prepared when their enclosing subquery runs) a runner over `cx`, and every sequence
/// function call the session's sequences (see [`prepare_expr`]).
pub fn prepare_subqueries(plan: Plan, cx: &Context) -> Result<Plan> {
    plan.map_exprs(&mut |e| Ok(prepare_expr(e, cx)))
}

/// Prepares one expression as [`prepare_subqueries`] prepares a plan's (COPY's column
/// defaults are not part of a plan).
pub fn prepare_expr(e: Expr, cx: &Context) -> Expr {
    e.transform(&mut |x| match x {
        Expr::Subquery(q) if q.runner.is_none() => {
            let runner: Arc<dyn SubqueryRunner> =
                Arc::new(Runner { cx: cx.clone(), cached: OnceLock::new() });
            Expr::Subquery(Box::new(Subquery { runner: Some(runner), ..*q }))
        }
        Expr::Sequence(mut call) if call.access.is_none() => {
            call.access = Some(cx.sequence_session.access(&cx.txn));
            Expr::Sequence(call)
        }
        x => x,
    })
}
