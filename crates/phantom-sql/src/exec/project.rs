//! Computes output columns from input rows.

use super::Rows;
use crate::planner::Expr;

/// Evaluates `exprs` against each row of `input`.
pub fn project(input: Rows, exprs: Vec<Expr>) -> Rows {
    // A projection that only reorders or drops columns, each at most once, moves values
    // instead of cloning them. (USING joins reference one column twice: those clone.)
    let positions: Option<Vec<usize>> =
        exprs.iter().map(|e| if let Expr::Column(i) = e { Some(*i) } else { None }).collect();
    let positions = positions.filter(|p| {
        let mut seen = std::collections::HashSet::new();
        p.iter().all(|i| seen.insert(*i))
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Value;

    #[test]
    fn repeated_column_is_copied_not_moved() {
        let input: Rows = Box::new(std::iter::once(Ok(vec![Value::Int(7), Value::Int(8)])));
        let rows: Vec<_> = project(input, vec![Expr::Column(0), Expr::Column(0), Expr::Column(1)])
            .collect::<crate::error::Result<_>>()
            .unwrap();
        assert_eq!(
            format!("{:?}", rows[0]),
            format!("{:?}", vec![Value::Int(7), Value::Int(7), Value::Int(8)])
        );
    }
}
