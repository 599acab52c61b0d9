//! The optimizer: a fixed sequence of rewrites over a bound plan.
//!
//! 1. **Constant folding** evaluates every sub-expression that reads no column, and
//!    simplifies AND/OR around constants. An expression whose evaluation fails (say `1/0`)
//!    is left alone, so the error happens only if a row actually needs the value.
//! 2. **Predicate pushdown** splits filters into conjuncts and moves each as close to the
//!    rows it reads as the join semantics allow: into scans, into either side of an inner
//!    join, into the join condition, below projections, sorts and DISTINCT.
//! 3. **Key access** turns a scan whose filter pins every primary-key column to constants
//!    into a key lookup, and bounds on the first key column into a range scan; failing
//!    that, equality on an index's leading columns (or bounds on its first free one) into
//!    an index scan, preferring the index with the most pinned columns.
//! 4. **Join selection** runs inner and left joins with equality conditions as hash joins.
//!
//! Filters that produced a key lookup or range stay on the scan as a re-check: cheap, and
//! it keeps correctness independent of how exactly a bound was derived.

use std::ops::Bound;

use crate::catalog::TableDef;
use crate::error::Result;
use crate::planner::expr::{CmpOp, Expr};
use crate::planner::plan::{JoinKind, KeyBounds, Plan};
use crate::types::{DataType, Decimal, Value};
use std::sync::Arc;

/// Key lookups are used for at most this many keys (an IN list, or a product of several).
const MAX_LOOKUP_KEYS: usize = 1024;

/// Runs every pass.
pub fn optimize(plan: Plan) -> Result<Plan> {
    let plan = plan.map_exprs(&mut |e| Ok(fold_constants(e)))?;
    let plan = push_down_filters(plan)?;
    let plan = remove_empty(plan)?;
    let plan = choose_key_access(plan)?;
    choose_joins(plan)
}

/// Evaluates constant sub-expressions.
pub fn fold_constants(expr: Expr) -> Expr {
    expr.transform(&mut |e| {
        match e {
            Expr::Constant(_) | Expr::Column(_) | Expr::Parameter(_) | Expr::Outer(_) => return e,
            Expr::And(a, b) => match (*a, *b) {
                (Expr::Constant(Value::Boolean(false)), _) | (_, Expr::Constant(Value::Boolean(false))) => {
                    return Expr::Constant(Value::Boolean(false));
                }
                (Expr::Constant(Value::Boolean(true)), x) | (x, Expr::Constant(Value::Boolean(true))) => {
                    return x;
                }
                (a, b) => return fold_node(Expr::And(a.boxed(), b.boxed())),
            },
            Expr::Or(a, b) => match (*a, *b) {
                (Expr::Constant(Value::Boolean(true)), _) | (_, Expr::Constant(Value::Boolean(true))) => {
                    return Expr::Constant(Value::Boolean(true));
                }
                (Expr::Constant(Value::Boolean(false)), x) | (x, Expr::Constant(Value::Boolean(false))) => {
                    return x;
                }
                (a, b) => return fold_node(Expr::Or(a.boxed(), b.boxed())),
            },
            _ => {}
        }
        fold_node(e)
    })
}

fn fold_node(e: Expr) -> Expr {
    if e.is_constant()
        && let Ok(v) = e.eval(&[])
    {
        return Expr::Constant(v);
    }
    e
}

fn is_false_or_null(e: &Expr) -> bool {
    matches!(e, Expr::Constant(Value::Boolean(false) | Value::Null))
}

fn push_down_filters(plan: Plan) -> Result<Plan> {
    let plan = plan.map_children(&mut push_down_filters)?;
    Ok(match plan {
        Plan::Filter { input, predicate } => push_into(*input, predicate.into_conjuncts()),
        Plan::NestedLoopJoin { left, right, kind, on } => {
            // Conditions of an inner join's ON clause behave like WHERE conditions.
            let conjuncts = on.map(Expr::into_conjuncts).unwrap_or_default();
            place_join_conjuncts(*left, *right, kind, None, conjuncts, true)
        }
        p => p,
    })
}

/// Places `conjuncts`, which filter the output of `plan`, as deep as they may go.
fn push_into(plan: Plan, conjuncts: Vec<Expr>) -> Plan {
    crate::depth::grow(move || push_into_node(plan, conjuncts))
}

fn push_into_node(plan: Plan, conjuncts: Vec<Expr>) -> Plan {
    if conjuncts.is_empty() {
        return plan;
    }
    match plan {
        Plan::Scan { table, alias, range, filter } => {
            let filter = Expr::conjunction(filter.into_iter().chain(conjuncts).collect());
            Plan::Scan { table, alias, range, filter }
        }
        Plan::KeyLookup { table, alias, keys, filter } => {
            let filter = Expr::conjunction(filter.into_iter().chain(conjuncts).collect());
            Plan::KeyLookup { table, alias, keys, filter }
        }
        Plan::Filter { input, predicate } => {
            let mut all = predicate.into_conjuncts();
            all.extend(conjuncts);
            push_into(*input, all)
        }
        Plan::NestedLoopJoin { left, right, kind, on } => {
            place_join_conjuncts(*left, *right, kind, on, conjuncts, false)
        }
        Plan::Project { input, exprs, columns } => {
            // Substitute the projected expressions and filter below the projection.
            let below: Vec<Expr> = conjuncts
                .into_iter()
                .map(|c| {
                    c.transform(&mut |e| match e {
                        Expr::Column(i) => exprs.get(i).cloned().unwrap_or(Expr::Column(i)),
                        e => e,
                    })
                })
                .collect();
            Plan::Project { input: push_into(*input, below).boxed(), exprs, columns }
        }
        Plan::Sort { input, keys } => Plan::Sort { input: push_into(*input, conjuncts).boxed(), keys },
        Plan::Distinct { input } => Plan::Distinct { input: push_into(*input, conjuncts).boxed() },
        other => Plan::Filter {
            input: other.boxed(),
            predicate: Expr::conjunction(conjuncts).unwrap_or(Expr::Constant(Value::Boolean(true))),
        },
    }
}

/// Distributes conditions around a join. `above` are conditions on the join's output
/// (a WHERE); `on` is the join's own condition. For an inner join both are the same thing.
fn place_join_conjuncts(
    left: Plan,
    right: Plan,
    kind: JoinKind,
    on: Option<Expr>,
    above: Vec<Expr>,
    above_is_on: bool,
) -> Plan {
    let left_width = left.width();
    let right_range = left_width..left_width + right.width();
    let mut to_left = Vec::new();
    let mut to_right = Vec::new();
    let mut join_on = Vec::new();
    let mut keep = Vec::new();
    let on_conjuncts = on.map(Expr::into_conjuncts).unwrap_or_default();
    // Conditions from WHERE (or an inner join's ON).
    for c in above {
        let on_left = c.columns_within(0..left_width);
        let on_right = c.columns_within(right_range.clone());
        match kind {
            _ if above_is_on && kind != JoinKind::Inner => {
                // An outer join's own ON: a condition on the padded side's input may filter
                // that input; everything else stays in the condition.
                match kind {
                    JoinKind::Left if on_right && !on_left => to_right.push(c),
                    JoinKind::Right if on_left && !on_right => to_left.push(c),
                    _ => join_on.push(c),
                }
            }
            JoinKind::Inner if on_left && !on_right => to_left.push(c),
            JoinKind::Inner if on_right && !on_left => to_right.push(c),
            JoinKind::Inner if !c.is_constant() => join_on.push(c),
            JoinKind::Left if on_left && !on_right => to_left.push(c),
            JoinKind::Right if on_right && !on_left => to_right.push(c),
            _ => keep.push(c),
        }
    }
    for c in on_conjuncts {
        let on_left = c.columns_within(0..left_width);
        let on_right = c.columns_within(right_range.clone());
        match kind {
            JoinKind::Inner if on_left && !on_right => to_left.push(c),
            JoinKind::Inner if on_right && !on_left => to_right.push(c),
            JoinKind::Left if on_right && !on_left => to_right.push(c),
            JoinKind::Right if on_left && !on_right => to_left.push(c),
            _ => join_on.push(c),
        }
    }
    let shift = -(left_width as isize);
    let to_right = to_right.into_iter().map(|c| c.shift_columns(shift)).collect();
    let join = Plan::NestedLoopJoin {
        left: push_into(left, to_left).boxed(),
        right: push_into(right, to_right).boxed(),
        kind,
        on: Expr::conjunction(join_on),
    };
    match Expr::conjunction(keep) {
        Some(predicate) => Plan::Filter { input: join.boxed(), predicate },
        None => join,
    }
}

/// Replaces subtrees that can produce no rows with `Nothing`.
fn remove_empty(plan: Plan) -> Result<Plan> {
    let plan = plan.map_children(&mut remove_empty)?;
    Ok(match plan {
        Plan::Filter { predicate, input } if is_false_or_null(&predicate) => {
            Plan::Nothing { columns: input.columns() }
        }
        Plan::Filter { predicate: Expr::Constant(Value::Boolean(true)), input } => *input,
        p @ (Plan::Scan { .. } | Plan::KeyLookup { .. } | Plan::IndexScan { .. })
            if scan_filter_is_empty(&p) =>
        {
            Plan::Nothing { columns: p.columns() }
        }
        p => p,
    })
}

/// True if a scan's pushed-down filter can never hold.
fn scan_filter_is_empty(plan: &Plan) -> bool {
    match plan {
        Plan::Scan { filter: Some(f), .. }
        | Plan::KeyLookup { filter: Some(f), .. }
        | Plan::IndexScan { filter: Some(f), .. } => f.clone().into_conjuncts().iter().any(is_false_or_null),
        _ => false,
    }
}

/// The value to look up in a key column of type `ty`, if `v` can be stored there exactly.
fn key_value(v: &Value, ty: DataType) -> Option<Value> {
    match (v, ty) {
        (Value::Int(i), t) if t.is_integer() => {
            let (lo, hi) = t.integer_range()?;
            (lo..=hi).contains(i).then_some(Value::Int(*i))
        }
        (Value::Int(i), t) if t.is_float() => Some(Value::Float(*i as f64)),
        (Value::Float(f), t) if t.is_float() && !f.is_nan() => Some(Value::Float(*f)),
        // NUMERIC keys are encoded from the decimal's value, whatever its scale.
        (Value::Int(i), t) if t.is_decimal() => Some(Value::Numeric(Decimal::from(*i))),
        (Value::Numeric(d), t) if t.is_decimal() => Some(Value::Numeric(*d)),
        (Value::Numeric(d), t) if t.is_integer() => key_value(&Value::Int(d.to_i64_exact()?), t),
        (Value::Text(s), t) if t.is_string() => Some(Value::Text(s.clone())),
        (Value::Boolean(b), DataType::Boolean) => Some(Value::Boolean(*b)),
        _ => None,
    }
}

/// `column op constant` in either order, normalized to (column, op, constant).
fn column_comparison(e: &Expr) -> Option<(usize, CmpOp, &Value)> {
    match e {
        Expr::Compare(op, a, b) => match (a.as_ref(), b.as_ref()) {
            (Expr::Column(c), Expr::Constant(v)) => Some((*c, *op, v)),
            (Expr::Constant(v), Expr::Column(c)) => Some((*c, op.flip(), v)),
            _ => None,
        },
        _ => None,
    }
}

fn choose_key_access(plan: Plan) -> Result<Plan> {
    let plan = plan.map_children(&mut choose_key_access)?;
    let Plan::Scan { table, alias, range: None, filter: Some(filter) } = plan else {
        return Ok(plan);
    };
    let conjuncts = filter.clone().into_conjuncts();
    if table.primary_key.is_empty() {
        return Ok(index_access(table, alias, filter, &conjuncts));
    }
    // Equality (or IN) constants for each key column.
    let mut equal: Vec<Option<Vec<Value>>> = vec![None; table.primary_key.len()];
    for c in &conjuncts {
        let (column, values) = match c {
            Expr::InList(e, list, false) => match e.as_ref() {
                Expr::Column(col) => {
                    let values: Option<Vec<Value>> = list
                        .iter()
                        .map(|x| match x {
                            Expr::Constant(v) if !v.is_null() => Some(v.clone()),
                            _ => None,
                        })
                        .collect();
                    match values {
                        Some(v) => (*col, v),
                        None => continue,
                    }
                }
                _ => continue,
            },
            e => match column_comparison(e) {
                Some((col, CmpOp::Eq, v)) if !v.is_null() => (col, vec![v.clone()]),
                _ => continue,
            },
        };
        if let Some(k) = table.primary_key.iter().position(|&p| p == column) {
            let ty = table.columns[column].data_type;
            let converted: Option<Vec<Value>> = values.iter().map(|v| key_value(v, ty)).collect();
            if let Some(values) = converted {
                equal[k] = Some(values);
            }
        }
    }
    if equal.iter().all(Option::is_some) {
        let mut keys: Vec<Vec<Value>> = vec![Vec::new()];
        for values in equal.into_iter().flatten() {
            let mut next = Vec::with_capacity(keys.len() * values.len());
            for key in &keys {
                for v in &values {
                    let mut k = key.clone();
                    k.push(v.clone());
                    next.push(k);
                }
            }
            keys = next;
            if keys.len() > MAX_LOOKUP_KEYS {
                break;
            }
        }
        if keys.len() <= MAX_LOOKUP_KEYS {
            keys.sort();
            keys.dedup();
            return Ok(Plan::KeyLookup { table, alias, keys, filter: Some(filter) });
        }
    }
    // Bounds on the first key column.
    let first = table.primary_key[0];
    if let Some(range) = column_bounds(first, table.columns[first].data_type, &conjuncts) {
        return Ok(Plan::Scan { table, alias, range: Some(range), filter: Some(filter) });
    }
    Ok(index_access(table, alias, filter, &conjuncts))
}

/// The tightest bounds the conjuncts put on column `column` (`None`: none at all).
fn column_bounds(column: usize, ty: DataType, conjuncts: &[Expr]) -> Option<KeyBounds> {
    let mut bounds: KeyBounds = (Bound::Unbounded, Bound::Unbounded);
    for c in conjuncts {
        let Some((col, op, v)) = column_comparison(c) else { continue };
        if col != column || v.is_null() {
            continue;
        }
        let Some(v) = key_value(v, ty) else { continue };
        match op {
            CmpOp::Eq => {
                tighten_lower(&mut bounds.0, Bound::Included(v.clone()));
                tighten_upper(&mut bounds.1, Bound::Included(v));
            }
            CmpOp::Gt => tighten_lower(&mut bounds.0, Bound::Excluded(v)),
            CmpOp::GtEq => tighten_lower(&mut bounds.0, Bound::Included(v)),
            CmpOp::Lt => tighten_upper(&mut bounds.1, Bound::Excluded(v)),
            CmpOp::LtEq => tighten_upper(&mut bounds.1, Bound::Included(v)),
            CmpOp::NotEq => {}
        }
    }
    match bounds {
        (Bound::Unbounded, Bound::Unbounded) => None,
        b => Some(b),
    }
}

/// A full scan, or an index scan when an index's leading columns are pinned by equality
/// (or the first unpinned one bounded). Among several, the index with the most pinned
/// columns wins.
fn index_access(table: Arc<TableDef>, alias: String, filter: Expr, conjuncts: &[Expr]) -> Plan {
    let mut best: Option<(usize, usize, Vec<Value>, Option<KeyBounds>)> = None;
    for (i, index) in table.indexes.iter().enumerate() {
        let mut prefix = Vec::new();
        for &column in &index.columns {
            let ty = table.columns[column].data_type;
            let equal = conjuncts.iter().find_map(|c| match column_comparison(c) {
                Some((col, CmpOp::Eq, v)) if col == column && !v.is_null() => key_value(v, ty),
                _ => None,
            });
            match equal {
                Some(v) => prefix.push(v),
                None => break,
            }
        }
        let range = index
            .columns
            .get(prefix.len())
            .and_then(|&column| column_bounds(column, table.columns[column].data_type, conjuncts));
        let score = prefix.len() * 2 + usize::from(range.is_some());
        if score > 0 && best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, i, prefix, range));
        }
    }
    match best {
        Some((_, index, prefix, range)) => {
            Plan::IndexScan { table, alias, index, prefix, range, filter: Some(filter) }
        }
        None => Plan::Scan { table, alias, range: None, filter: Some(filter) },
    }
}

fn tighten_lower(current: &mut Bound<Value>, new: Bound<Value>) {
    let replace = match (&*current, &new) {
        (Bound::Unbounded, _) => true,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b)) => b > a,
        (Bound::Included(a), Bound::Excluded(b)) => b >= a,
        (Bound::Excluded(a), Bound::Excluded(b)) => b > a,
        (_, Bound::Unbounded) => false,
    };
    if replace {
        *current = new;
    }
}

fn tighten_upper(current: &mut Bound<Value>, new: Bound<Value>) {
    let replace = match (&*current, &new) {
        (Bound::Unbounded, _) => true,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b)) => b < a,
        (Bound::Included(a), Bound::Excluded(b)) => b <= a,
        (Bound::Excluded(a), Bound::Excluded(b)) => b < a,
        (_, Bound::Unbounded) => false,
    };
    if replace {
        *current = new;
    }
}

fn choose_joins(plan: Plan) -> Result<Plan> {
    let plan = plan.map_children(&mut choose_joins)?;
    let Plan::NestedLoopJoin { left, right, kind: kind @ (JoinKind::Inner | JoinKind::Left), on: Some(on) } =
        plan
    else {
        return Ok(plan);
    };
    let left_width = left.width();
    let right_range = left_width..left_width + right.width();
    let mut left_keys = Vec::new();
    let mut right_keys = Vec::new();
    let mut residual = Vec::new();
    for c in on.into_conjuncts() {
        if let Expr::Compare(CmpOp::Eq, a, b) = &c {
            let sides = |x: &Expr| (x.columns_within(0..left_width), x.columns_within(right_range.clone()));
            let has_columns = |x: &Expr| x.max_column().is_some();
            if has_columns(a) && has_columns(b) {
                match (sides(a), sides(b)) {
                    ((true, false), (false, true)) => {
                        left_keys.push(a.as_ref().clone());
                        right_keys.push(b.as_ref().clone().shift_columns(-(left_width as isize)));
                        continue;
                    }
                    ((false, true), (true, false)) => {
                        left_keys.push(b.as_ref().clone());
                        right_keys.push(a.as_ref().clone().shift_columns(-(left_width as isize)));
                        continue;
                    }
                    _ => {}
                }
            }
        }
        residual.push(c);
    }
    if left_keys.is_empty() {
        return Ok(Plan::NestedLoopJoin { left, right, kind, on: Expr::conjunction(residual) });
    }
    Ok(Plan::HashJoin { left, right, kind, left_keys, right_keys, residual: Expr::conjunction(residual) })
}
