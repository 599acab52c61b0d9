//! Hash join: equality conditions, inner and left joins.
//!
//! Builds a hash table of the right input keyed by its join-key values, then streams the
//! left input and probes. A NULL key never matches (NULL = NULL is not true), so rows with
//! a NULL key are left out of the table and, for a left join, padded.
//!
//! The right rows sit in one vector in input order; the table maps each key to the first
//! and last of its rows, which are chained through `next`, so a probe walks its matches
//! and the join hands out one joined row at a time (a key matching a million rows does not
//! make a million joined rows wait in memory). The build side is charged to the statement's
//! budget (see [`crate::budget`]).

use std::collections::HashMap;

use super::{Row, Rows};
use crate::budget::{HASH_ENTRY_OVERHEAD, MemoryBudget, row_bytes, row_heap_bytes};
use crate::error::Result;
use crate::planner::{Expr, JoinKind};
use crate::types::Value;

/// The end of a chain of matching rows.
const END: usize = usize::MAX;

fn key_of(row: &Row, exprs: &[Expr]) -> Result<Option<Vec<Value>>> {
    let mut key = Vec::with_capacity(exprs.len());
    for e in exprs {
        let v = e.eval(row)?;
        if v.is_null() {
            return Ok(None);
        }
        key.push(v);
    }
    Ok(Some(key))
}

/// Joins `left` and `right` where `left_keys` equal `right_keys`, then `residual` holds.
#[allow(clippy::too_many_arguments)] // the two inputs and how they meet
pub fn join(
    left: Rows,
    right: Rows,
    right_width: usize,
    kind: JoinKind,
    left_keys: Vec<Expr>,
    right_keys: Vec<Expr>,
    residual: Option<Expr>,
    budget: &MemoryBudget,
) -> Result<Rows> {
    let mut reservation = budget.reservation("hash join");
    let mut rows: Vec<Row> = Vec::new();
    let mut next: Vec<usize> = Vec::new();
    // Each key's first and last row.
    let mut table: HashMap<Vec<Value>, (usize, usize)> = HashMap::new();
    let (mut row_slots, mut next_slots) = (0, 0);
    for row in right {
        let row = row?;
        let Some(key) = key_of(&row, &right_keys)? else { continue };
        let at = rows.len();
        reservation.charge(row_heap_bytes(&row))?;
        match table.get_mut(&key) {
            Some((_, last)) => {
                next[*last] = at;
                *last = at;
            }
            None => {
                reservation.charge(row_bytes(&key) + HASH_ENTRY_OVERHEAD)?;
                table.insert(key, (at, at));
            }
        }
        rows.push(row);
        next.push(END);
        reservation.charge_capacity(&rows, &mut row_slots)?;
        reservation.charge_capacity(&next, &mut next_slots)?;
    }
    let mut left = left;
    // The left row being joined, the next right row to try with it, and whether any did.
    let mut current: Option<Row> = None;
    let mut candidate = END;
    let mut matched = false;
    Ok(Box::new(std::iter::from_fn(move || {
        let _held = &reservation;
        loop {
            if let Some(l) = &current {
                while candidate != END {
                    let r = &rows[candidate];
                    candidate = next[candidate];
                    let mut row = Vec::with_capacity(l.len() + r.len());
                    row.extend(l.iter().cloned());
                    row.extend(r.iter().cloned());
                    match residual.as_ref().map_or(Ok(true), |p| p.eval_predicate(&row)) {
                        Ok(true) => {
                            matched = true;
                            return Some(Ok(row));
                        }
                        Ok(false) => {}
                        Err(e) => return Some(Err(e)),
                    }
                }
                let l = current.take()?;
                if !matched && kind == JoinKind::Left {
                    let mut row = l;
                    row.extend(std::iter::repeat_n(Value::Null, right_width));
                    return Some(Ok(row));
                }
            }
            let l = match left.next()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            candidate = match key_of(&l, &left_keys) {
                Ok(Some(key)) => table.get(&key).map_or(END, |&(first, _)| first),
                Ok(None) => END,
                Err(e) => return Some(Err(e)),
            };
            matched = false;
            current = Some(l);
        }
    })))
}
