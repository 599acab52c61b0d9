//! UNION, INTERSECT and EXCEPT, with and without ALL.
//!
//! Rows are compared as DISTINCT compares them (NULLs equal). UNION ALL streams both
//! inputs; the others read the right input into a map of row counts first, then stream
//! the left one against it: INTERSECT ALL keeps a row as often as it is in both, EXCEPT
//! ALL as often as the left has it more than the right, and the forms without ALL keep each
//! qualifying row once. UNION without ALL is UNION ALL followed by DISTINCT.

use std::collections::{HashMap, HashSet};

use super::{Row, Rows, distinct::distinct};
use crate::error::Result;
use crate::planner::plan::SetOpKind;

/// Combines `left` and `right`.
pub fn set_op(op: SetOpKind, all: bool, left: Rows, right: Rows) -> Result<Rows> {
    if op == SetOpKind::Union {
        let both: Rows = Box::new(left.chain(right));
        return Ok(if all { both } else { distinct(both) });
    }
    let mut counts: HashMap<Row, usize> = HashMap::new();
    for row in right {
        *counts.entry(row?).or_insert(0) += 1;
    }
    let mut emitted: HashSet<Row> = HashSet::new();
    Ok(Box::new(left.filter_map(move |row| {
        let row = match row {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
        };
        let in_right = counts.get_mut(&row);
        let keep = match (op, all, in_right) {
            (SetOpKind::Intersect, true, Some(n)) if *n > 0 => {
                *n -= 1;
                true
            }
            (SetOpKind::Intersect, false, Some(_)) => emitted.insert(row.clone()),
            (SetOpKind::Intersect, _, _) => false,
            (SetOpKind::Except, true, Some(n)) if *n > 0 => {
                *n -= 1;
                false
            }
            (SetOpKind::Except, true, _) => true,
            (SetOpKind::Except, false, Some(_)) => false,
            (SetOpKind::Except, false, None) => emitted.insert(row.clone()),
            (SetOpKind::Union, ..) => true,
        };
        keep.then_some(Ok(row))
    })))
}
