//! Hash aggregation: GROUP BY with COUNT, SUM, AVG, MIN and MAX (optionally DISTINCT).
//!
//! Groups are kept in a hash map from the group-key values to one accumulator per
//! aggregate. Without GROUP BY there is exactly one group, even over no rows, which is why
//! `SELECT count(*) FROM empty` returns 0 and `SELECT sum(x) FROM empty` returns NULL.
//!
//! Sums and averages are exact wherever the type allows, with PostgreSQL's result types
//! (chosen by the binder): `sum` of SMALLINT or INTEGER is a BIGINT (summed in 128 bits,
//! 22003 if the total leaves BIGINT); `sum` of BIGINT or NUMERIC is a NUMERIC; `avg` of any
//! integer or NUMERIC is the exact sum divided by the count with NUMERIC division (so
//! `avg` of 1 and 2 is 1.5000000000000000, as PostgreSQL prints it); float sums and
//! averages are doubles.
//!
//! What the groups keep is charged to the statement's budget (see [`crate::budget`]):
//! each new group's key and accumulators, what a `string_agg` appends, each value a
//! DISTINCT aggregate remembers, and a MIN or MAX that grows.

use std::collections::{HashMap, HashSet};

use super::{Row, Rows};
use crate::budget::{HASH_ENTRY_OVERHEAD, MemoryBudget, Reservation, row_bytes, value_bytes};
use crate::error::{Error, Result, SqlState};
use crate::exec::eval::{as_decimal, as_f64};
use crate::planner::{Aggregate, AggregateFunction, Expr};
use crate::types::cast::check_float;
use crate::types::{DataType, Decimal, Value};

/// The running state of one aggregate in one group.
#[derive(Clone, Debug)]
enum Accumulator {
    Count(i64),
    SumInt(Option<i128>),
    SumDecimal(Option<Decimal>),
    SumFloat(Option<f64>),
    AvgDecimal {
        sum: Decimal,
        count: i64,
    },
    AvgFloat {
        sum: f64,
        count: i64,
    },
    Min(Option<Value>),
    Max(Option<Value>),
    /// The values so far, each after its row's separator.
    StringAgg(Option<String>),
}

impl Accumulator {
    fn new(a: &Aggregate) -> Accumulator {
        match a.function {
            AggregateFunction::CountStar | AggregateFunction::Count => Accumulator::Count(0),
            AggregateFunction::Sum if a.data_type.is_integer() => Accumulator::SumInt(None),
            AggregateFunction::Sum if a.data_type.is_decimal() => Accumulator::SumDecimal(None),
            AggregateFunction::Sum => Accumulator::SumFloat(None),
            AggregateFunction::Avg if a.data_type.is_decimal() => {
                Accumulator::AvgDecimal { sum: Decimal::default(), count: 0 }
            }
            AggregateFunction::Avg => Accumulator::AvgFloat { sum: 0.0, count: 0 },
            AggregateFunction::Min => Accumulator::Min(None),
            AggregateFunction::Max => Accumulator::Max(None),
            AggregateFunction::StringAgg => Accumulator::StringAgg(None),
        }
    }

    /// Adds `v`; returns how many bytes the accumulator grew by (for a string, what it
    /// allocated: its capacity doubles as it grows).
    fn add(&mut self, v: Value, separator: Option<Value>) -> Result<usize> {
        if v.is_null() {
            return Ok(0);
        }
        match self {
            Accumulator::StringAgg(s) => {
                let v = crate::types::cast::to_text(&v);
                let before = s.as_ref().map_or(0, String::capacity);
                match s {
                    None => *s = Some(v),
                    Some(s) => {
                        // A NULL separator adds nothing between values, as in PostgreSQL.
                        if let Some(sep) = separator.filter(|sep| !sep.is_null()) {
                            s.push_str(&crate::types::cast::to_text(&sep));
                        }
                        s.push_str(&v);
                    }
                }
                return Ok(s.as_ref().map_or(0, String::capacity).saturating_sub(before));
            }
            Accumulator::Count(n) => *n += 1,
            Accumulator::SumInt(s) => {
                let i = match v {
                    Value::Int(i) => i,
                    other => return Err(not_a_number(&other)),
                };
                *s = Some(s.unwrap_or(0) + i128::from(i));
            }
            Accumulator::SumDecimal(s) => *s = Some(s.unwrap_or_default().checked_add(as_decimal(&v)?)?),
            Accumulator::SumFloat(s) => *s = Some(s.unwrap_or(0.0) + as_f64(&v)?),
            Accumulator::AvgDecimal { sum, count } => {
                *sum = sum.checked_add(as_decimal(&v)?)?;
                *count += 1;
            }
            Accumulator::AvgFloat { sum, count } => {
                *sum += as_f64(&v)?;
                *count += 1;
            }
            Accumulator::Min(m) => return Ok(keep_if_better(m, v, |v, cur| v < cur)),
            Accumulator::Max(m) => return Ok(keep_if_better(m, v, |v, cur| v > cur)),
        }
        Ok(0)
    }

    fn finish(self, ty: DataType) -> Result<Value> {
        Ok(match self {
            Accumulator::Count(n) => Value::Int(n),
            Accumulator::SumInt(None) | Accumulator::SumDecimal(None) | Accumulator::SumFloat(None) => {
                Value::Null
            }
            Accumulator::SumInt(Some(s)) => Value::Int(
                i64::try_from(s)
                    .map_err(|_| Error::new(SqlState::NumericValueOutOfRange, "bigint out of range"))?,
            ),
            Accumulator::SumDecimal(Some(s)) => Value::Numeric(s),
            Accumulator::SumFloat(Some(s)) => {
                check_float(s, if ty.is_float() { ty } else { DataType::Double })?
            }
            Accumulator::AvgDecimal { count: 0, .. } | Accumulator::AvgFloat { count: 0, .. } => Value::Null,
            Accumulator::AvgDecimal { sum, count } => Value::Numeric(sum.checked_div(Decimal::from(count))?),
            Accumulator::AvgFloat { sum, count } => Value::Float(sum / count as f64),
            Accumulator::Min(m) | Accumulator::Max(m) => m.unwrap_or(Value::Null),
            Accumulator::StringAgg(s) => s.map_or(Value::Null, Value::Text),
        })
    }
}

/// MIN / MAX: keeps `v` if it beats the current value; returns how many bytes that grew.
fn keep_if_better(m: &mut Option<Value>, v: Value, better: impl Fn(&Value, &Value) -> bool) -> usize {
    if m.as_ref().is_some_and(|cur| !better(&v, cur)) {
        return 0;
    }
    let grown = value_bytes(&v).saturating_sub(m.as_ref().map_or(0, value_bytes));
    *m = Some(v);
    grown
}

fn not_a_number(v: &Value) -> Error {
    Error::new(SqlState::DatatypeMismatch, format!("cannot aggregate {v} as a number"))
}

/// One group's accumulators, and for DISTINCT aggregates the values already counted.
struct Group {
    accumulators: Vec<Accumulator>,
    seen: Vec<Option<HashSet<Value>>>,
}

impl Group {
    fn new(aggregates: &[Aggregate]) -> Group {
        Group {
            accumulators: aggregates.iter().map(Accumulator::new).collect(),
            seen: aggregates.iter().map(|a| a.distinct.then(HashSet::new)).collect(),
        }
    }

    fn add(&mut self, aggregates: &[Aggregate], row: &Row, reservation: &mut Reservation) -> Result<()> {
        for (i, a) in aggregates.iter().enumerate() {
            if let Some(filter) = &a.filter
                && !filter.eval_predicate(row)?
            {
                continue;
            }
            let v = match &a.arg {
                None => Value::Boolean(true), // count(*) counts rows, NULL or not
                Some(e) => e.eval(row)?,
            };
            if let Some(seen) = &mut self.seen[i] {
                if v.is_null() || seen.contains(&v) {
                    continue;
                }
                reservation.charge(value_bytes(&v) + HASH_ENTRY_OVERHEAD)?;
                seen.insert(v.clone());
            }
            let separator = a.separator.as_ref().map(|e| e.eval(row)).transpose()?;
            let grown = self.accumulators[i].add(v, separator)?;
            reservation.charge(grown)?;
        }
        Ok(())
    }
}

/// Groups `input` by `group_by` and computes `aggregates` per group. Output rows are the
/// group-key values followed by the aggregate results.
pub fn aggregate(
    input: Rows,
    group_by: Vec<Expr>,
    aggregates: Vec<Aggregate>,
    budget: &MemoryBudget,
) -> Result<Rows> {
    let mut reservation = budget.reservation("hash aggregate");
    // A group: its key twice (the map's and `order`'s), the map entry, the accumulators.
    let group_bytes = |key: &[Value]| {
        2 * row_bytes(key)
            + HASH_ENTRY_OVERHEAD
            + aggregates.len()
                * (std::mem::size_of::<Accumulator>() + std::mem::size_of::<Option<HashSet<Value>>>())
    };
    let mut groups: HashMap<Vec<Value>, Group> = HashMap::new();
    // Groups come out in the order they were first seen, which keeps output deterministic.
    let mut order: Vec<Vec<Value>> = Vec::new();
    for row in input {
        let row = row?;
        let key = group_by.iter().map(|e| e.eval(&row)).collect::<Result<Vec<_>>>()?;
        let group = match groups.get_mut(&key) {
            Some(g) => g,
            None => {
                reservation.charge(group_bytes(&key))?;
                order.push(key.clone());
                groups.entry(key).or_insert_with(|| Group::new(&aggregates))
            }
        };
        group.add(&aggregates, &row, &mut reservation)?;
    }
    if group_by.is_empty() && groups.is_empty() {
        order.push(Vec::new());
        groups.insert(Vec::new(), Group::new(&aggregates));
    }
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        let Some(group) = groups.remove(&key) else { continue };
        let mut row = key;
        for (acc, a) in group.accumulators.into_iter().zip(&aggregates) {
            row.push(acc.finish(a.data_type)?);
        }
        out.push(Ok(row));
    }
    // The finished rows take about what the groups took: the charge stays with them.
    Ok(Box::new(out.into_iter().inspect(move |_| {
        let _held = &reservation;
    })))
}
