//! EXPLAIN: a plan as an indented tree, in the spirit of PostgreSQL's output.
//!
//! ```text
//! Project: t.b
//!   -> Key Lookup on t (1 key)
//!        Filter: t.a = 2
//! ```
//!
//! Expressions are printed with column names resolved against the node's input, so the
//! reader sees `t.a > 1` rather than a column position.

use std::ops::Bound;

use crate::catalog::TableDef;
use crate::planner::expr::Expr;
use crate::planner::plan::{OutputColumn, Plan};
use crate::types::Value;

/// Renders a plan, one line per output row of EXPLAIN.
pub fn explain(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    render(plan, 0, &mut lines, None);
    lines
}

/// How many rows a table holds, as far as the storage knows without reading it.
pub type TableRows<'a> = &'a dyn Fn(&TableDef) -> u64;

/// [`explain`] with each node's estimated output rows, `(rows=N)`.
///
/// There are no statistics yet (no ANALYZE), so the estimates are rough, fixed rules: a
/// table has as many rows as its storage holds entries (versions not yet collected
/// count too); each filter condition keeps a third of the rows, an index equality a
/// tenth (one row when a unique index matches fully); a join with a condition keeps a
/// tenth of the pairs, a hash join about the larger side; a grouping yields a tenth of
/// its input, and an aggregate without GROUP BY one row.
pub fn explain_with_estimates(plan: &Plan, table_rows: TableRows<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    render(plan, 0, &mut lines, Some(table_rows));
    lines
}

fn selectivity(filter: Option<&Expr>) -> f64 {
    filter.map_or(1.0, |f| (1.0f64 / 3.0).powi(f.clone().into_conjuncts().len() as i32))
}

/// The estimated number of rows `plan` produces (see [`explain_with_estimates`]).
pub fn estimate(plan: &Plan, table_rows: TableRows<'_>) -> f64 {
    crate::depth::grow(|| estimate_node(plan, table_rows))
}

fn estimate_node(plan: &Plan, table_rows: TableRows<'_>) -> f64 {
    let e = |p: &Plan| estimate(p, table_rows);
    let at_least_one = |n: f64, input: f64| if input > 0.0 { n.max(1.0) } else { 0.0 };
    match plan {
        Plan::Scan { table, range, filter, .. } => {
            let n = table_rows(table) as f64;
            let ranged = if range.is_some() { n / 3.0 } else { n };
            at_least_one(ranged * selectivity(filter.as_ref()), n)
        }
        // The filter of a key lookup is mostly the key condition itself.
        Plan::KeyLookup { keys, .. } => keys.len() as f64,
        Plan::IndexScan { table, index, prefix, range, filter, .. } => {
            let n = table_rows(table) as f64;
            let ix = &table.indexes[*index];
            let matched = if ix.unique && prefix.len() == ix.columns.len() {
                1.0
            } else {
                n * 0.1f64.powi(prefix.len() as i32) * if range.is_some() { 1.0 / 3.0 } else { 1.0 }
            };
            at_least_one(matched * selectivity(filter.as_ref()), n)
        }
        Plan::Values { rows, .. } => rows.len() as f64,
        // PostgreSQL's guess for a set-returning function.
        Plan::TableFunction { .. } => 1000.0,
        Plan::Nothing { .. } => 0.0,
        Plan::Filter { input, predicate } => {
            let n = e(input);
            at_least_one(n * selectivity(Some(predicate)), n)
        }
        Plan::Project { input, .. } | Plan::Sort { input, .. } | Plan::LockRows { input, .. } => e(input),
        Plan::Distinct { input } => e(input) / 2.0,
        Plan::Limit { input, limit, .. } => match limit {
            Some(Expr::Constant(Value::Int(n))) => e(input).min(*n as f64),
            _ => e(input),
        },
        Plan::Aggregate { input, group_by, .. } => {
            if group_by.is_empty() {
                1.0
            } else {
                let n = e(input);
                at_least_one(n / 10.0, n)
            }
        }
        Plan::NestedLoopJoin { left, right, on, .. } => {
            let pairs = e(left) * e(right);
            if on.is_some() { at_least_one(pairs / 10.0, pairs) } else { pairs }
        }
        Plan::HashJoin { left, right, .. } => e(left).max(e(right)),
        Plan::SetOp { op, left, right, .. } => match op {
            crate::planner::plan::SetOpKind::Union => e(left) + e(right),
            crate::planner::plan::SetOpKind::Intersect => e(left).min(e(right)),
            crate::planner::plan::SetOpKind::Except => e(left),
        },
        Plan::RecursiveCte { anchor, .. } => e(anchor) * 10.0,
        Plan::WorkTable { .. } => 10.0,
        Plan::Insert { source, .. } | Plan::Update { source, .. } | Plan::Delete { source, .. } => e(source),
    }
}

fn indent(depth: usize) -> String {
    if depth == 0 { String::new() } else { format!("{}-> ", "     ".repeat(depth - 1) + "  ") }
}

fn detail(depth: usize) -> String {
    "     ".repeat(depth) + "  "
}

fn show(e: &Expr, columns: &[OutputColumn]) -> String {
    e.named(columns).to_string()
}

fn names(e: &[Expr], columns: &[OutputColumn]) -> String {
    e.iter().map(|x| show(x, columns)).collect::<Vec<_>>().join(", ")
}

fn bound(b: &Bound<Value>) -> String {
    match b {
        Bound::Included(v) => format!("{v} (inclusive)"),
        Bound::Excluded(v) => format!("{v} (exclusive)"),
        Bound::Unbounded => "unbounded".into(),
    }
}

fn render(plan: &Plan, depth: usize, out: &mut Vec<String>, table_rows: Option<TableRows<'_>>) {
    crate::depth::grow(|| render_with_estimate(plan, depth, out, table_rows))
}

fn render_with_estimate(plan: &Plan, depth: usize, out: &mut Vec<String>, table_rows: Option<TableRows<'_>>) {
    let header = out.len();
    render_node(plan, depth, out, table_rows);
    // The node's own line is the first it rendered.
    if let (Some(rows), Some(line)) = (table_rows, out.get_mut(header)) {
        line.push_str(&format!("  (rows={})", estimate(plan, rows).round() as u64));
    }
}

fn render_node(plan: &Plan, depth: usize, out: &mut Vec<String>, table_rows: Option<TableRows<'_>>) {
    let pad = indent(depth);
    let more = detail(depth);
    let render = |p: &Plan, d: usize, out: &mut Vec<String>| render(p, d, out, table_rows);
    match plan {
        Plan::Scan { table, alias, range, filter } => {
            let columns = plan.columns();
            let name =
                if *alias == table.name { table.name.clone() } else { format!("{} {alias}", table.name) };
            match range {
                None => out.push(format!("{pad}Seq Scan on {name}")),
                Some((lo, hi)) => {
                    out.push(format!("{pad}Range Scan on {name} (primary key)"));
                    out.push(format!("{more}Key Range: from {} to {}", bound(lo), bound(hi)));
                }
            }
            if let Some(f) = filter {
                out.push(format!("{more}Filter: {}", show(f, &columns)));
            }
        }
        Plan::KeyLookup { table, alias, keys, filter } => {
            let columns = plan.columns();
            let name =
                if *alias == table.name { table.name.clone() } else { format!("{} {alias}", table.name) };
            let n = keys.len();
            out.push(format!(
                "{pad}Key Lookup on {name} (primary key, {n} key{})",
                if n == 1 { "" } else { "s" }
            ));
            if let Some(f) = filter {
                out.push(format!("{more}Filter: {}", show(f, &columns)));
            }
        }
        Plan::IndexScan { table, alias, index, prefix, range, filter } => {
            let columns = plan.columns();
            let name =
                if *alias == table.name { table.name.clone() } else { format!("{} {alias}", table.name) };
            let ix = &table.indexes[*index];
            out.push(format!("{pad}Index Scan using {} on {name}", ix.name));
            let mut conditions: Vec<String> = prefix
                .iter()
                .zip(&ix.columns)
                .map(|(v, &c)| {
                    format!("{} = {}", table.columns[c].name, crate::planner::Expr::Constant(v.clone()))
                })
                .collect();
            if let (Some((lo, hi)), Some(&c)) = (range, ix.columns.get(prefix.len())) {
                conditions.push(format!("{} from {} to {}", table.columns[c].name, bound(lo), bound(hi)));
            }
            out.push(format!("{more}Index Cond: {}", conditions.join(" AND ")));
            if let Some(f) = filter {
                out.push(format!("{more}Filter: {}", show(f, &columns)));
            }
        }
        Plan::Values { rows, .. } => {
            out.push(format!("{pad}Values ({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" }))
        }
        Plan::TableFunction { function, .. } => {
            out.push(format!("{pad}Function Scan on {}", function.name()))
        }
        Plan::Nothing { .. } => out.push(format!("{pad}Nothing (no rows can match)")),
        Plan::Filter { input, predicate } => {
            out.push(format!("{pad}Filter: {}", show(predicate, &input.columns())));
            render(input, depth + 1, out);
        }
        Plan::Project { input, exprs, columns } => {
            let shown: Vec<String> = exprs
                .iter()
                .zip(columns)
                .filter(|(_, c)| !c.hidden)
                .map(|(e, _)| show(e, &input.columns()))
                .collect();
            out.push(format!("{pad}Project: {}", shown.join(", ")));
            render(input, depth + 1, out);
        }
        Plan::NestedLoopJoin { left, right, kind, on } => {
            out.push(format!("{pad}Nested Loop {kind:?} Join"));
            if let Some(on) = on {
                out.push(format!("{more}Join Filter: {}", show(on, &plan.columns())));
            }
            render(left, depth + 1, out);
            render(right, depth + 1, out);
        }
        Plan::HashJoin { left, right, kind, left_keys, right_keys, residual } => {
            out.push(format!("{pad}Hash {kind:?} Join"));
            let conditions: Vec<String> = left_keys
                .iter()
                .zip(right_keys)
                .map(|(l, r)| format!("{} = {}", show(l, &left.columns()), show(r, &right.columns())))
                .collect();
            out.push(format!("{more}Hash Cond: {}", conditions.join(" AND ")));
            if let Some(r) = residual {
                out.push(format!("{more}Join Filter: {}", show(r, &plan.columns())));
            }
            render(left, depth + 1, out);
            render(right, depth + 1, out);
        }
        Plan::Aggregate { input, group_by, aggregates, .. } => {
            let columns = input.columns();
            if group_by.is_empty() {
                out.push(format!("{pad}Aggregate"));
            } else {
                out.push(format!("{pad}Hash Aggregate"));
                out.push(format!("{more}Group Key: {}", names(group_by, &columns)));
            }
            let aggs: Vec<String> = aggregates
                .iter()
                .map(|a| match &a.arg {
                    None => "count(*)".to_string(),
                    Some(arg) => format!(
                        "{}({}{})",
                        a.function.name(),
                        if a.distinct { "DISTINCT " } else { "" },
                        show(arg, &columns)
                    ),
                })
                .collect();
            if !aggs.is_empty() {
                out.push(format!("{more}Aggregates: {}", aggs.join(", ")));
            }
            render(input, depth + 1, out);
        }
        Plan::Sort { input, keys } => {
            let columns = input.columns();
            let keys: Vec<String> = keys
                .iter()
                .map(|k| format!("{}{}", show(&k.expr, &columns), if k.descending { " DESC" } else { "" }))
                .collect();
            out.push(format!("{pad}Sort: {}", keys.join(", ")));
            render(input, depth + 1, out);
        }
        Plan::Limit { input, limit, offset } => {
            let mut line = format!("{pad}Limit");
            if let Some(l) = limit {
                line += &format!(": {l}");
            }
            if let Some(o) = offset {
                line += &format!(" offset {o}");
            }
            out.push(line);
            render(input, depth + 1, out);
        }
        Plan::RecursiveCte { id, anchor, step, all, .. } => {
            out.push(format!("{pad}Recursive Union{} (work table {id})", if *all { " All" } else { "" }));
            render(anchor, depth + 1, out);
            render(step, depth + 1, out);
        }
        Plan::WorkTable { id, .. } => out.push(format!("{pad}WorkTable Scan (work table {id})")),
        Plan::SetOp { op, all, left, right, .. } => {
            out.push(format!("{pad}{}{}", op.keyword(), if *all { " ALL" } else { "" }));
            render(left, depth + 1, out);
            render(right, depth + 1, out);
        }
        Plan::Distinct { input } => {
            out.push(format!("{pad}Distinct"));
            render(input, depth + 1, out);
        }
        Plan::Insert { table, source, .. } => {
            out.push(format!("{pad}Insert on {}", table.name));
            render(source, depth + 1, out);
        }
        Plan::Update { table, source, .. } => {
            out.push(format!("{pad}Update on {}", table.name));
            render(source, depth + 1, out);
        }
        Plan::Delete { table, source, .. } => {
            out.push(format!("{pad}Delete on {}", table.name));
            render(source, depth + 1, out);
        }
        Plan::LockRows { input, table, mode, .. } => {
            let mode = match mode {
                phantom_txn::LockMode::Shared => "FOR SHARE",
                phantom_txn::LockMode::Exclusive => "FOR UPDATE",
            };
            out.push(format!("{pad}LockRows {mode} on {}", table.name));
            render(input, depth + 1, out);
        }
    }
}
