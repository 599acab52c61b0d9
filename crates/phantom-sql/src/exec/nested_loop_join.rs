//! Nested loop join: any join condition, any join kind.
//!
//! The right input is materialized once; each left row is then tested against every right
//! row. Outer joins pad unmatched rows with NULLs: a left join tracks whether the current
//! left row matched, a right join remembers which right rows ever matched and emits the
//! rest after the last left row.

use super::{Row, Rows};
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
) -> Result<Rows> {
    let right: Vec<Row> = right.collect::<Result<_>>()?;
    let mut matched_right = vec![false; right.len()];
    let mut left = left;
    let mut pending: std::vec::IntoIter<Row> = Vec::new().into_iter();
    let mut left_done = false;
    Ok(Box::new(std::iter::from_fn(move || {
        loop {
            if let Some(row) = pending.next() {
                return Some(Ok(row));
            }
            if left_done {
                return None;
            }
            match left.next() {
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(l)) => {
                    let mut out = Vec::new();
                    for (i, r) in right.iter().enumerate() {
                        let mut row = l.clone();
                        row.extend(r.iter().cloned());
                        let keep = match &on {
                            None => true,
                            Some(on) => match on.eval_predicate(&row) {
                                Ok(k) => k,
                                Err(e) => return Some(Err(e)),
                            },
                        };
                        if keep {
                            matched_right[i] = true;
                            out.push(row);
                        }
                    }
                    if out.is_empty() && matches!(kind, JoinKind::Left | JoinKind::Full) {
                        let mut row = l;
                        row.extend(std::iter::repeat_n(Value::Null, right_width));
                        out.push(row);
                    }
                    pending = out.into_iter();
                }
                None => {
                    left_done = true;
                    if matches!(kind, JoinKind::Right | JoinKind::Full) {
                        let unmatched: Vec<Row> = right
                            .iter()
                            .zip(&matched_right)
                            .filter(|(_, m)| !**m)
                            .map(|(r, _)| {
                                let mut row = vec![Value::Null; left_width];
                                row.extend(r.iter().cloned());
                                row
                            })
                            .collect();
                        pending = unmatched.into_iter();
                    }
                }
            }
        }
    })))
}
