//! Keeps the rows for which a predicate is TRUE.

use super::Rows;
use crate::planner::Expr;

/// Filters `input` by `predicate`.
pub fn filter(input: Rows, predicate: Expr) -> Rows {
    Box::new(input.filter_map(move |row| match row {
        Ok(row) => match predicate.eval_predicate(&row) {
            Ok(true) => Some(Ok(row)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        },
        Err(e) => Some(Err(e)),
    }))
}
