//! OFFSET and LIMIT.

use super::Rows;
use crate::error::{Error, Result, SqlState};
use crate::planner::Expr;
use crate::types::Value;

fn count(e: Option<Expr>, state: SqlState, what: &str) -> Result<Option<u64>> {
    match e.map(|e| e.eval(&[])).transpose()? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(n)) if n >= 0 => Ok(Some(n as u64)),
        Some(Value::Int(_)) => Err(Error::new(state, format!("{what} must not be negative"))),
        Some(other) => Err(Error::new(
            SqlState::DatatypeMismatch,
            format!("argument of {what} must be an integer, not {other}"),
        )),
    }
}

/// Skips `offset` rows of `input`, then passes at most `limit` rows.
pub fn limit(input: Rows, limit: Option<Expr>, offset: Option<Expr>) -> Result<Rows> {
    let limit = count(limit, SqlState::InvalidRowCountInLimitClause, "LIMIT")?;
    let offset = count(offset, SqlState::InvalidRowCountInResultOffsetClause, "OFFSET")?.unwrap_or(0);
    let skipped = input.skip(usize::try_from(offset).unwrap_or(usize::MAX));
    Ok(match limit {
        Some(n) => Box::new(skipped.take(usize::try_from(n).unwrap_or(usize::MAX))),
        None => Box::new(skipped),
    })
}
