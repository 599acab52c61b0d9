//! UNION, INTERSECT and EXCEPT, with and without ALL.
//!
//! Rows are compared as DISTINCT compares them (NULLs equal). UNION ALL streams both
//! inputs; the others read the right input into a map of row counts first, then stream
//! the left one against it: INTERSECT ALL keeps a row as often as it is in both, EXCEPT
//! ALL as often as the left has it more than the right, and the forms without ALL keep each
//! qualifying row once. UNION without ALL is UNION ALL followed by DISTINCT. The map and
//! the rows already passed are charged to the statement's budget (see [`crate::budget`]).

use std::collections::{HashMap, HashSet};

use super::{Row, Rows, distinct::distinct};
use crate::budget::{HASH_ENTRY_OVERHEAD, MemoryBudget, row_bytes};
use crate::error::Result;
use crate::planner::plan::SetOpKind;

/// Combines `left` and `right`.
pub fn set_op(op: SetOpKind, all: bool, left: Rows, right: Rows, budget: &MemoryBudget) -> Result<Rows> {
    let what = match op {
        SetOpKind::Union => "UNION",
        SetOpKind::Intersect => "INTERSECT",
        SetOpKind::Except => "EXCEPT",
    };
    let mut reservation = budget.reservation(what);
    if op == SetOpKind::Union {
        let both: Rows = Box::new(left.chain(right));
        return Ok(if all { both } else { distinct(both, reservation) });
    }
    let mut counts: HashMap<Row, usize> = HashMap::new();
    for row in right {
        let row = row?;
        if let Some(n) = counts.get_mut(&row) {
            *n += 1;
            continue;
        }
        reservation.charge(row_bytes(&row) + HASH_ENTRY_OVERHEAD)?;
        counts.insert(row, 1);
    }
    let mut emitted: HashSet<Row> = HashSet::new();
    // Emits `row` unless it was emitted before (the forms without ALL), keeping it.
    let mut first_time = move |row: &Row| -> Result<bool> {
        if emitted.contains(row) {
            return Ok(false);
        }
        reservation.charge(row_bytes(row) + HASH_ENTRY_OVERHEAD)?;
        Ok(emitted.insert(row.clone()))
    };
    Ok(Box::new(left.filter_map(move |row| {
        let row = match row {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
        };
        let in_right = counts.get_mut(&row);
        let keep = match (op, all, in_right) {
            (SetOpKind::Intersect, true, Some(n)) if *n > 0 => {
                *n -= 1;
                Ok(true)
            }
            (SetOpKind::Intersect, false, Some(_)) => first_time(&row),
            (SetOpKind::Intersect, _, _) => Ok(false),
            (SetOpKind::Except, true, Some(n)) if *n > 0 => {
                *n -= 1;
                Ok(false)
            }
            (SetOpKind::Except, true, _) => Ok(true),
            (SetOpKind::Except, false, Some(_)) => Ok(false),
            (SetOpKind::Except, false, None) => first_time(&row),
            (SetOpKind::Union, ..) => Ok(true),
        };
        match keep {
            Ok(keep) => keep.then_some(Ok(row)),
            Err(e) => Some(Err(e)),
        }
    })))
}
