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

use crate::planner::expr::Expr;
use crate::planner::plan::{OutputColumn, Plan};
use crate::types::Value;

/// Renders a plan, one line per output row of EXPLAIN.
pub fn explain(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    render(plan, 0, &mut lines);
    lines
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

fn render(plan: &Plan, depth: usize, out: &mut Vec<String>) {
    let pad = indent(depth);
    let more = detail(depth);
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
