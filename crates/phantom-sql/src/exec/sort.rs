//! ORDER BY: materializes the input and sorts it by the evaluated keys. The rows and
//! their keys are charged to the statement's budget (see [`crate::budget`]) until the
//! sorted output is dropped.

use std::cmp::Ordering;

use super::{Row, Rows};
use crate::budget::{MemoryBudget, row_heap_bytes};
use crate::error::Result;
use crate::planner::SortKey;
use crate::types::Value;

/// Compares two values for a sort key: descending reverses values, and NULLs go first or
/// last as the key says, independently of the direction.
pub fn compare_key(a: &Value, b: &Value, key: &SortKey) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if key.nulls_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if key.nulls_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (false, false) => {
            let o = a.total_cmp(b);
            if key.descending { o.reverse() } else { o }
        }
    }
}

/// Sorts `input` by `keys` (stable: ties keep their input order).
pub fn sort(input: Rows, keys: Vec<SortKey>, budget: &MemoryBudget) -> Result<Rows> {
    let mut reservation = budget.reservation("sort");
    let mut keyed: Vec<(Vec<Value>, Row)> = Vec::new();
    let mut slots = 0;
    for row in input {
        let row = row?;
        let values = keys.iter().map(|k| k.expr.eval(&row)).collect::<Result<Vec<_>>>()?;
        reservation.charge(row_heap_bytes(&values) + row_heap_bytes(&row))?;
        keyed.push((values, row));
        reservation.charge_capacity(&keyed, &mut slots)?;
    }
    // The stable sort's merge buffer: half the slots.
    reservation.charge(keyed.len() / 2 * std::mem::size_of::<(Vec<Value>, Row)>())?;
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, key) in keys.iter().enumerate() {
            let o = compare_key(&a[i], &b[i], key);
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    // The reservation goes with the rows: it is given back when the output is dropped.
    Ok(Box::new(keyed.into_iter().map(move |(_, row)| {
        let _held = &reservation;
        Ok(row)
    })))
}
