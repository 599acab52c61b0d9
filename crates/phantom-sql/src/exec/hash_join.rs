//! Hash join: equality conditions, inner and left joins.
//!
//! Builds a hash table of the right input keyed by its join-key values, then streams the
//! left input and probes. A NULL key never matches (NULL = NULL is not true), so rows with
//! a NULL key are left out of the table and, for a left join, padded.

use std::collections::HashMap;

use super::{Row, Rows};
use crate::error::Result;
use crate::planner::{Expr, JoinKind};
use crate::types::Value;

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
pub fn join(
    left: Rows,
    right: Rows,
    right_width: usize,
    kind: JoinKind,
    left_keys: Vec<Expr>,
    right_keys: Vec<Expr>,
    residual: Option<Expr>,
) -> Result<Rows> {
    let mut table: HashMap<Vec<Value>, Vec<Row>> = HashMap::new();
    for row in right {
        let row = row?;
        if let Some(key) = key_of(&row, &right_keys)? {
            table.entry(key).or_default().push(row);
        }
    }
    let mut pending: std::vec::IntoIter<Row> = Vec::new().into_iter();
    let mut left = left;
    Ok(Box::new(std::iter::from_fn(move || {
        loop {
            if let Some(row) = pending.next() {
                return Some(Ok(row));
            }
            let l = match left.next()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            let matches = match key_of(&l, &left_keys) {
                Ok(Some(key)) => table.get(&key),
                Ok(None) => None,
                Err(e) => return Some(Err(e)),
            };
            let mut out = Vec::new();
            for r in matches.into_iter().flatten() {
                let mut row = l.clone();
                row.extend(r.iter().cloned());
                match residual.as_ref().map_or(Ok(true), |p| p.eval_predicate(&row)) {
                    Ok(true) => out.push(row),
                    Ok(false) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            if out.is_empty() && kind == JoinKind::Left {
                let mut row = l;
                row.extend(std::iter::repeat_n(Value::Null, right_width));
                out.push(row);
            }
            pending = out.into_iter();
        }
    })))
}
