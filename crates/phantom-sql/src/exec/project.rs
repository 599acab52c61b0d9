//! Computes output columns from input rows.

use super::Rows;
use crate::planner::Expr;

/// Evaluates `exprs` against each row of `input`.
pub fn project(input: Rows, exprs: Vec<Expr>) -> Rows {
    // A projection that only reorders or drops columns moves values instead of cloning.
    let positions: Option<Vec<usize>> =
        exprs.iter().map(|e| if let Expr::Column(i) = e { Some(*i) } else { None }).collect();
    match positions {
        Some(positions) => Box::new(input.map(move |row| {
            let mut row = row?;
            Ok(positions.iter().map(|&i| std::mem::take(&mut row[i])).collect::<Vec<_>>())
        })),
        None => Box::new(input.map(move |row| {
            let row = row?;
            exprs.iter().map(|e| e.eval(&row)).collect()
        })),
    }
}
