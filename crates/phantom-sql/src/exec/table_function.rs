//! Set-returning functions in FROM: `generate_series` and `pg_partition_ancestors`.
//!
//! A table function is a leaf of the plan whose arguments are expressions evaluated once,
//! when the iterator is built (inside a correlated subquery they may refer to the
//! enclosing row: the subquery runner substitutes those values first, like everywhere
//! else). Rows are produced one at a time as they are pulled, so
//! `INSERT INTO t SELECT ... FROM generate_series(1, 1000000)` never holds the series in
//! memory; the writer consumes it row by row.
//!
//! `WITH ORDINALITY` adds a BIGINT column numbering the rows from 1.

use super::Rows;
use crate::error::{Error, Result, SqlState};
use crate::planner::Expr;
use crate::types::datetime::{self, Interval};
use crate::types::{DataType, Value};

/// The set-returning functions that may appear in FROM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFunction {
    /// `generate_series(start, stop [, step])` over integers, or over timestamps with an
    /// interval step. The output type is recorded for the range check of the last step.
    GenerateSeries(DataType),
    /// `pg_partition_ancestors(regclass)`: the relation and its ancestors. Phantom-DB has
    /// no partitioning, so that is the relation itself.
    PartitionAncestors,
}

impl TableFunction {
    /// The SQL name, which is also the output column's default name.
    pub fn name(self) -> &'static str {
        match self {
            TableFunction::GenerateSeries(_) => "generate_series",
            TableFunction::PartitionAncestors => "pg_partition_ancestors",
        }
    }
}

/// Builds the iterator over the rows of `function` called with `args`.
pub fn rows(function: TableFunction, args: &[Expr], ordinality: bool) -> Result<Rows> {
    let values = args.iter().map(|a| a.eval(&[])).collect::<Result<Vec<_>>>()?;
    let series: Box<dyn Iterator<Item = Result<Value>> + Send> = match function {
        TableFunction::GenerateSeries(ty) => generate_series(ty, &values)?,
        TableFunction::PartitionAncestors => match values.first() {
            Some(Value::Null) | None => Box::new(std::iter::empty()),
            Some(v) => Box::new(std::iter::once(Ok(v.clone()))),
        },
    };
    if ordinality {
        return Ok(Box::new(series.zip(1i64..).map(|(v, n)| v.map(|v| vec![v, Value::Int(n)]))));
    }
    Ok(Box::new(series.map(|v| v.map(|v| vec![v]))))
}

fn zero_step() -> Error {
    Error::new(SqlState::InvalidParameterValue, "step size cannot equal zero")
}

fn generate_series(ty: DataType, args: &[Value]) -> Result<Box<dyn Iterator<Item = Result<Value>> + Send>> {
    // Any NULL argument makes an empty series, as in PostgreSQL (the function is strict).
    if args.iter().any(Value::is_null) {
        return Ok(Box::new(std::iter::empty()));
    }
    match args {
        [Value::Int(start), Value::Int(stop)] => Ok(integers(*start, *stop, 1)),
        [Value::Int(start), Value::Int(stop), Value::Int(step)] => {
            if *step == 0 {
                return Err(zero_step());
            }
            Ok(integers(*start, *stop, *step))
        }
        [start, stop, Value::Interval(step)] => {
            let micros = |v: &Value| match v {
                Value::Timestamp(t) | Value::TimestampTz(t) => Some(*t),
                _ => None,
            };
            let (Some(start), Some(stop)) = (micros(start), micros(stop)) else {
                return Err(bad_arguments(ty));
            };
            if step.approximate_micros() == 0 {
                return Err(zero_step());
            }
            Ok(timestamps(start, stop, *step, ty))
        }
        _ => Err(bad_arguments(ty)),
    }
}

fn bad_arguments(ty: DataType) -> Error {
    Error::new(
        SqlState::UndefinedFunction,
        format!("function generate_series over {ty} needs these arguments"),
    )
}

/// `start, start + step, ...` while not past `stop`; ends early rather than overflow.
fn integers(start: i64, stop: i64, step: i64) -> Box<dyn Iterator<Item = Result<Value>> + Send> {
    let mut next = Some(start);
    Box::new(std::iter::from_fn(move || {
        let current = next?;
        if (step > 0 && current > stop) || (step < 0 && current < stop) {
            return None;
        }
        next = current.checked_add(step);
        Some(Ok(Value::Int(current)))
    }))
}

fn timestamps(
    start: i64,
    stop: i64,
    step: Interval,
    ty: DataType,
) -> Box<dyn Iterator<Item = Result<Value>> + Send> {
    let forward = step.approximate_micros() > 0;
    let mut next = Some(start);
    Box::new(std::iter::from_fn(move || {
        let current = next?;
        if (forward && current > stop) || (!forward && current < stop) {
            return None;
        }
        // An error (past the end of the timestamp range) ends the series.
        next = if ty == DataType::TimestampTz {
            datetime::arith::timestamptz_plus(current, &step).ok()
        } else {
            datetime::arith::timestamp_plus(current, &step).ok()
        };
        Some(Ok(if ty == DataType::TimestampTz {
            Value::TimestampTz(current)
        } else {
            Value::Timestamp(current)
        }))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(function: TableFunction, args: Vec<Value>, ordinality: bool) -> Result<Vec<Vec<Value>>> {
        let args: Vec<Expr> = args.into_iter().map(Expr::Constant).collect();
        rows(function, &args, ordinality)?.collect()
    }

    fn ints(rows: Vec<Vec<Value>>) -> Vec<i64> {
        rows.iter().map(|r| if let Value::Int(i) = r[0] { i } else { -999 }).collect()
    }

    #[test]
    fn integer_series_follow_the_step_and_stop_at_overflow() {
        let series = TableFunction::GenerateSeries(DataType::Integer);
        let up = collect(series, vec![Value::Int(1), Value::Int(5), Value::Int(2)], false).expect("up");
        assert_eq!(ints(up), vec![1, 3, 5]);
        let down = collect(series, vec![Value::Int(3), Value::Int(1), Value::Int(-1)], false).expect("down");
        assert_eq!(ints(down), vec![3, 2, 1]);
        let empty = collect(series, vec![Value::Int(5), Value::Int(1)], false).expect("empty");
        assert!(empty.is_empty());
        let edge =
            collect(series, vec![Value::Int(i64::MAX - 1), Value::Int(i64::MAX)], false).expect("edge");
        assert_eq!(ints(edge), vec![i64::MAX - 1, i64::MAX]);
        let e = collect(series, vec![Value::Int(1), Value::Int(5), Value::Int(0)], false).err();
        assert_eq!(e.map(|e| e.state), Some(SqlState::InvalidParameterValue));
        let null = collect(series, vec![Value::Int(1), Value::Null], false).expect("null");
        assert!(null.is_empty());
    }

    #[test]
    fn ordinality_numbers_rows_from_one() {
        let series = TableFunction::GenerateSeries(DataType::Integer);
        let rows = collect(series, vec![Value::Int(10), Value::Int(12)], true).expect("rows");
        assert_eq!(rows[2], vec![Value::Int(12), Value::Int(3)]);
    }

    #[test]
    /// Each step is added to the previous value, so the day clamped in February stays.
    fn timestamp_series_add_calendar_intervals() {
        let series = TableFunction::GenerateSeries(DataType::Timestamp);
        let jan31 = datetime::parse_timestamp("2024-01-31", false).expect("date");
        let may1 = datetime::parse_timestamp("2024-05-01", false).expect("date");
        let month = Value::Interval(Interval { months: 1, days: 0, micros: 0 });
        let rows = collect(series, vec![Value::Timestamp(jan31), Value::Timestamp(may1), month], false)
            .expect("rows");
        let shown: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
        assert_eq!(
            shown,
            vec!["2024-01-31 00:00:00", "2024-02-29 00:00:00", "2024-03-29 00:00:00", "2024-04-29 00:00:00"]
        );
    }
}
