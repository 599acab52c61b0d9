//! Nested loop join: any join condition, any join kind.
//!
//! The right input is materialized once (and charged to the statement's budget, see
//! [`crate::budget`]); each left row is then tested against every right row, and joined
//! rows are handed out one at a time. Outer joins pad unmatched rows with NULLs: a left
//! join tracks whether the current left row matched, a right join remembers which right
//! rows ever matched and emits the rest after the last left row.

use super::{Row, Rows};
use crate::budget::{MemoryBudget, row_heap_bytes};
use crate::error::Result;
use crate::planner::{Expr, JoinKind};
use crate::types::Value;

/// Joins `left` and `right` on `on` (None: every pair).
pub fn join(
    left: Rows,
    right: Rows,
    left_width: usize,
    right_width: usize,
    kind: JoinKind,
    on: Option<Expr>,
    budget: &MemoryBudget,
) -> Result<Rows> {
    let mut reservation = budget.reservation("nested loop join");
    let mut right_rows: Vec<Row> = Vec::new();
    let mut slots = 0;
    for row in right {
        let row = row?;
        // Its values, and a flag for whether it matched.
        reservation.charge(row_heap_bytes(&row) + 1)?;
        right_rows.push(row);
        reservation.charge_capacity(&right_rows, &mut slots)?;
    }
    let right = right_rows;
    let mut matched_right = vec![false; right.len()];
    let mut left = left;
    // The left row being joined, the next right row to try with it, and whether any did.
    let mut current: Option<Row> = None;
    let mut next = 0;
    let mut matched = false;
    // After the last left row: the next right row to consider for padding.
    let mut unmatched_from: Option<usize> = None;
    Ok(Box::new(std::iter::from_fn(move || {
        let _held = &reservation;
        loop {
            if let Some(i) = &mut unmatched_from {
                while *i < right.len() {
                    let at = *i;
                    *i += 1;
                    if !matched_right[at] {
                        let mut row = vec![Value::Null; left_width];
                        row.extend(right[at].iter().cloned());
                        return Some(Ok(row));
                    }
                }
                return None;
            }
            if let Some(l) = &current {
                while next < right.len() {
                    let at = next;
                    next += 1;
                    let mut row = Vec::with_capacity(l.len() + right[at].len());
                    row.extend(l.iter().cloned());
                    row.extend(right[at].iter().cloned());
                    let keep = match &on {
                        None => true,
                        Some(on) => match on.eval_predicate(&row) {
                            Ok(k) => k,
                            Err(e) => return Some(Err(e)),
                        },
                    };
                    if keep {
                        matched_right[at] = true;
                        matched = true;
                        return Some(Ok(row));
                    }
                }
                let l = current.take()?;
                if !matched && matches!(kind, JoinKind::Left | JoinKind::Full) {
                    let mut row = l;
                    row.extend(std::iter::repeat_n(Value::Null, right_width));
                    return Some(Ok(row));
                }
            }
            match left.next() {
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(l)) => {
                    current = Some(l);
                    next = 0;
                    matched = false;
                }
                None => {
                    // Only right and full joins pad right rows; for the others this
                    // ends the output (and keeps it ended: `left` is not asked again).
                    let pad = matches!(kind, JoinKind::Right | JoinKind::Full);
                    unmatched_from = Some(if pad { 0 } else { right.len() });
                }
            }
        }
    })))
}
