//! Literal rows (VALUES, and the single empty row of a SELECT without FROM).

use super::Rows;
use crate::planner::Expr;

/// Evaluates each row's expressions as it is pulled.
pub fn values(rows: Vec<Vec<Expr>>) -> Rows {
    Box::new(rows.into_iter().map(|row| row.iter().map(|e| e.eval(&[])).collect()))
}
