//! Plan nodes.

use std::ops::Bound;
use std::sync::Arc;

use phantom_txn::LockMode;

use crate::catalog::TableDef;
use crate::error::Result;
use crate::planner::expr::Expr;
use crate::types::{DataType, Value};

/// A column of a plan node's output.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputColumn {
    /// The table (or alias) the column comes from, for qualified references like `t.a`.
    pub table: Option<String>,
    /// The column's name.
    pub name: String,
    /// Its type.
    pub data_type: DataType,
    /// Hidden columns (a table's row id, sort keys added for ORDER BY) are not expanded
    /// by `*` and not returned to the client.
    pub hidden: bool,
}

/// How a join treats rows without a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    /// Only matching pairs.
    Inner,
    /// Every left row, padded with NULLs when nothing matches.
    Left,
    /// Every right row, padded with NULLs when nothing matches.
    Right,
    /// Both.
    Full,
}

/// Aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateFunction {
    /// `count(*)`
    CountStar,
    /// `count(x)`: non-NULL values
    Count,
    /// `sum(x)`
    Sum,
    /// `avg(x)`
    Avg,
    /// `min(x)`
    Min,
    /// `max(x)`
    Max,
    /// `string_agg(x, separator)`
    StringAgg,
}

impl AggregateFunction {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            AggregateFunction::CountStar | AggregateFunction::Count => "count",
            AggregateFunction::Sum => "sum",
            AggregateFunction::Avg => "avg",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
            AggregateFunction::StringAgg => "string_agg",
        }
    }
}

/// One aggregate computed by an Aggregate node.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// The function.
    pub function: AggregateFunction,
    /// Its argument (none for `count(*)`).
    pub arg: Option<Expr>,
    /// `DISTINCT` inside the call.
    pub distinct: bool,
    /// `FILTER (WHERE ...)`: only rows for which it is TRUE are aggregated.
    pub filter: Option<Expr>,
    /// The result type.
    pub data_type: DataType,
    /// `string_agg`'s separator, evaluated per row like the argument.
    pub separator: Option<Expr>,
}

/// An ORDER BY key.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    /// What to sort by.
    pub expr: Expr,
    /// DESC.
    pub descending: bool,
    /// NULLS FIRST (PostgreSQL's default is NULLS LAST for ASC and FIRST for DESC).
    pub nulls_first: bool,
}

/// A range over the first primary-key column.
pub type KeyBounds = (Bound<Value>, Bound<Value>);

/// A relational plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Rows of a table, in primary-key order, optionally within a range of the first key
    /// column, filtered.
    Scan {
        /// The table.
        table: Arc<TableDef>,
        /// The name the query refers to it by.
        alias: String,
        /// Bounds on the first primary-key column.
        range: Option<KeyBounds>,
        /// A predicate applied to each row.
        filter: Option<Expr>,
    },
    /// The rows of a table with exactly these primary keys (each a list of constants, one
    /// per key column), filtered.
    KeyLookup {
        /// The table.
        table: Arc<TableDef>,
        /// The name the query refers to it by.
        alias: String,
        /// The keys to fetch.
        keys: Vec<Vec<Value>>,
        /// A predicate applied to each row found.
        filter: Option<Expr>,
    },
    /// Rows of a table found through a secondary index: equality on the index's first
    /// `prefix.len()` columns and optional bounds on the next one, filtered.
    IndexScan {
        /// The table.
        table: Arc<TableDef>,
        /// The name the query refers to it by.
        alias: String,
        /// Position of the index in `table.indexes`.
        index: usize,
        /// Values for the leading index columns.
        prefix: Vec<Value>,
        /// Bounds on the index column after the prefix.
        range: Option<KeyBounds>,
        /// A predicate applied to each row found.
        filter: Option<Expr>,
    },
    /// Literal rows.
    Values {
        /// The rows' expressions (evaluated against an empty row).
        rows: Vec<Vec<Expr>>,
        /// The output columns.
        columns: Vec<OutputColumn>,
    },
    /// The rows of a set-returning function in FROM (`generate_series(1, 10)`).
    TableFunction {
        /// The function.
        function: crate::exec::table_function::TableFunction,
        /// Its arguments, evaluated once when the rows are produced.
        args: Vec<Expr>,
        /// WITH ORDINALITY: a row-number column follows the value.
        ordinality: bool,
        /// The output columns.
        columns: Vec<OutputColumn>,
    },
    /// No rows at all (a predicate that is never true).
    Nothing {
        /// The output columns.
        columns: Vec<OutputColumn>,
    },
    /// Rows of `input` for which `predicate` is TRUE.
    Filter {
        /// The input.
        input: Box<Plan>,
        /// The predicate.
        predicate: Expr,
    },
    /// Computes new columns from each input row.
    Project {
        /// The input.
        input: Box<Plan>,
        /// One expression per output column.
        exprs: Vec<Expr>,
        /// The output columns.
        columns: Vec<OutputColumn>,
    },
    /// Joins by testing every pair (any condition).
    NestedLoopJoin {
        /// The outer input.
        left: Box<Plan>,
        /// The inner input (materialized).
        right: Box<Plan>,
        /// The join kind.
        kind: JoinKind,
        /// The join condition over the concatenated row (None = cross join).
        on: Option<Expr>,
    },
    /// Joins on equal keys with a hash table built over the right input.
    HashJoin {
        /// The probe side.
        left: Box<Plan>,
        /// The build side.
        right: Box<Plan>,
        /// The join kind.
        kind: JoinKind,
        /// Key expressions over left rows.
        left_keys: Vec<Expr>,
        /// Key expressions over right rows (positions relative to the right input).
        right_keys: Vec<Expr>,
        /// Any further condition over the concatenated row.
        residual: Option<Expr>,
    },
    /// Groups rows and computes aggregates. Output: the group keys, then the aggregates.
    Aggregate {
        /// The input.
        input: Box<Plan>,
        /// GROUP BY expressions.
        group_by: Vec<Expr>,
        /// The aggregates.
        aggregates: Vec<Aggregate>,
        /// The output columns.
        columns: Vec<OutputColumn>,
    },
    /// Sorts rows.
    Sort {
        /// The input.
        input: Box<Plan>,
        /// The keys, most significant first.
        keys: Vec<SortKey>,
    },
    /// Skips `offset` rows, then passes at most `limit`.
    Limit {
        /// The input.
        input: Box<Plan>,
        /// At most this many rows (None = all); a constant after parameters are bound.
        limit: Option<Expr>,
        /// Rows to skip first; a constant after parameters are bound.
        offset: Option<Expr>,
    },
    /// Removes duplicate rows.
    Distinct {
        /// The input.
        input: Box<Plan>,
    },
    /// `WITH RECURSIVE`: the anchor's rows, then the step's rows run again and again over
    /// the rows the previous round added (the step reads them as `WorkTable { id }`),
    /// until a round adds nothing. Without ALL, rows already produced are not added again.
    RecursiveCte { id: usize, anchor: Box<Plan>, step: Box<Plan>, all: bool, columns: Vec<OutputColumn> },
    /// Inside a recursive CTE's step: the rows the previous round added.
    WorkTable { id: usize, columns: Vec<OutputColumn> },
    /// UNION, INTERSECT or EXCEPT of two inputs with the same column types.
    SetOp {
        op: SetOpKind,
        /// ALL: keep duplicates (by their counts).
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
        /// The output columns (named after the left input's).
        columns: Vec<OutputColumn>,
    },
    /// INSERT: writes each source row. Outputs nothing; the executor counts rows.
    Insert {
        /// The target table.
        table: Arc<TableDef>,
        /// Where the rows come from.
        source: Box<Plan>,
        /// For each source column, the table column it fills.
        targets: Vec<usize>,
        /// Values for the columns the source does not fill (defaults, or NULL).
        defaults: Vec<(usize, Expr)>,
    },
    /// UPDATE: rewrites each source row (a scan of the table) with new column values.
    Update {
        /// The target table.
        table: Arc<TableDef>,
        /// The rows to update, as the table's scan produces them.
        source: Box<Plan>,
        /// Column index and new value, evaluated against the old row.
        assignments: Vec<(usize, Expr)>,
        /// The WHERE clause, re-checked against a row's newest version when READ
        /// COMMITTED finds it changed after the statement's snapshot.
        recheck: Option<Expr>,
    },
    /// DELETE: removes each source row (a scan of the table).
    Delete {
        /// The target table.
        table: Arc<TableDef>,
        /// The rows to delete.
        source: Box<Plan>,
        /// As for UPDATE.
        recheck: Option<Expr>,
    },
    /// `SELECT ... FOR UPDATE / FOR SHARE`: locks each row of one table as it passes.
    LockRows {
        input: Box<Plan>,
        table: Arc<TableDef>,
        mode: LockMode,
        /// As for UPDATE.
        recheck: Option<Expr>,
    },
}

/// The set operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

impl SetOpKind {
    /// The SQL keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            SetOpKind::Union => "UNION",
            SetOpKind::Intersect => "INTERSECT",
            SetOpKind::Except => "EXCEPT",
        }
    }
}

impl Plan {
    /// The columns this node outputs.
    pub fn columns(&self) -> Vec<OutputColumn> {
        crate::depth::grow(|| self.node_columns())
    }

    fn node_columns(&self) -> Vec<OutputColumn> {
        match self {
            Plan::Scan { table, alias, .. }
            | Plan::KeyLookup { table, alias, .. }
            | Plan::IndexScan { table, alias, .. } => scan_columns(table, alias),
            Plan::Values { columns, .. }
            | Plan::TableFunction { columns, .. }
            | Plan::Nothing { columns }
            | Plan::Project { columns, .. }
            | Plan::SetOp { columns, .. }
            | Plan::RecursiveCte { columns, .. }
            | Plan::WorkTable { columns, .. }
            | Plan::Aggregate { columns, .. } => columns.clone(),
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::LockRows { input, .. }
            | Plan::Distinct { input } => input.columns(),
            Plan::NestedLoopJoin { left, right, .. } | Plan::HashJoin { left, right, .. } => {
                let mut columns = left.columns();
                columns.extend(right.columns());
                columns
            }
            Plan::Insert { .. } | Plan::Update { .. } | Plan::Delete { .. } => Vec::new(),
        }
    }

    /// The number of output columns.
    pub fn width(&self) -> usize {
        crate::depth::grow(|| self.node_width())
    }

    fn node_width(&self) -> usize {
        match self {
            Plan::Scan { table, .. } | Plan::KeyLookup { table, .. } | Plan::IndexScan { table, .. } => {
                table.scan_width()
            }
            Plan::Values { columns, .. }
            | Plan::TableFunction { columns, .. }
            | Plan::Nothing { columns }
            | Plan::Project { columns, .. }
            | Plan::SetOp { columns, .. }
            | Plan::RecursiveCte { columns, .. }
            | Plan::WorkTable { columns, .. }
            | Plan::Aggregate { columns, .. } => columns.len(),
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::LockRows { input, .. }
            | Plan::Distinct { input } => input.width(),
            Plan::NestedLoopJoin { left, right, .. } | Plan::HashJoin { left, right, .. } => {
                left.width() + right.width()
            }
            Plan::Insert { .. } | Plan::Update { .. } | Plan::Delete { .. } => 0,
        }
    }

    /// Boxes `self`.
    pub fn boxed(self) -> Box<Plan> {
        Box::new(self)
    }
}

/// The columns a scan of `table` outputs: its columns, then the hidden row id if any.
pub fn scan_columns(table: &TableDef, alias: &str) -> Vec<OutputColumn> {
    let mut columns: Vec<OutputColumn> = table
        .columns
        .iter()
        .map(|c| OutputColumn {
            table: Some(alias.to_string()),
            name: c.name.clone(),
            data_type: c.data_type,
            hidden: false,
        })
        .collect();
    if table.has_row_id() {
        columns.push(OutputColumn {
            table: Some(alias.to_string()),
            name: "ctid".to_string(),
            data_type: DataType::BigInt,
            hidden: true,
        });
    }
    columns
}

impl Plan {
    /// Rewrites each direct child with `f`.
    pub fn map_children(self, f: &mut impl FnMut(Plan) -> Result<Plan>) -> Result<Plan> {
        // Every walk over a plan's nodes goes through here: each level checks the stack
        // (see crate::depth).
        let mut child = |p: Box<Plan>| -> Result<Box<Plan>> { Ok(Box::new(crate::depth::grow(|| f(*p))?)) };
        Ok(match self {
            p @ (Plan::Scan { .. }
            | Plan::KeyLookup { .. }
            | Plan::IndexScan { .. }
            | Plan::Values { .. }
            | Plan::TableFunction { .. }
            | Plan::WorkTable { .. }
            | Plan::Nothing { .. }) => p,
            Plan::RecursiveCte { id, anchor, step, all, columns } => {
                Plan::RecursiveCte { id, anchor: child(anchor)?, step: child(step)?, all, columns }
            }
            Plan::Filter { input, predicate } => Plan::Filter { input: child(input)?, predicate },
            Plan::Project { input, exprs, columns } => Plan::Project { input: child(input)?, exprs, columns },
            Plan::NestedLoopJoin { left, right, kind, on } => {
                Plan::NestedLoopJoin { left: child(left)?, right: child(right)?, kind, on }
            }
            Plan::HashJoin { left, right, kind, left_keys, right_keys, residual } => Plan::HashJoin {
                left: child(left)?,
                right: child(right)?,
                kind,
                left_keys,
                right_keys,
                residual,
            },
            Plan::Aggregate { input, group_by, aggregates, columns } => {
                Plan::Aggregate { input: child(input)?, group_by, aggregates, columns }
            }
            Plan::Sort { input, keys } => Plan::Sort { input: child(input)?, keys },
            Plan::Limit { input, limit, offset } => Plan::Limit { input: child(input)?, limit, offset },
            Plan::Distinct { input } => Plan::Distinct { input: child(input)? },
            Plan::SetOp { op, all, left, right, columns } => {
                Plan::SetOp { op, all, left: child(left)?, right: child(right)?, columns }
            }
            Plan::Insert { table, source, targets, defaults } => {
                Plan::Insert { table, source: child(source)?, targets, defaults }
            }
            Plan::Update { table, source, assignments, recheck } => {
                Plan::Update { table, source: child(source)?, assignments, recheck }
            }
            Plan::Delete { table, source, recheck } => {
                Plan::Delete { table, source: child(source)?, recheck }
            }
            Plan::LockRows { input, table, mode, recheck } => {
                Plan::LockRows { input: child(input)?, table, mode, recheck }
            }
        })
    }

    /// Rewrites every expression of this node and all nodes below it with `f`.
    pub fn map_exprs(self, f: &mut impl FnMut(Expr) -> Result<Expr>) -> Result<Plan> {
        let plan = self.map_children(&mut |p| p.map_exprs(f))?;
        let opt = |e: Option<Expr>, f: &mut dyn FnMut(Expr) -> Result<Expr>| e.map(f).transpose();
        Ok(match plan {
            Plan::Scan { table, alias, range, filter } => {
                Plan::Scan { table, alias, range, filter: opt(filter, f)? }
            }
            Plan::KeyLookup { table, alias, keys, filter } => {
                Plan::KeyLookup { table, alias, keys, filter: opt(filter, f)? }
            }
            Plan::IndexScan { table, alias, index, prefix, range, filter } => {
                Plan::IndexScan { table, alias, index, prefix, range, filter: opt(filter, f)? }
            }
            Plan::Values { rows, columns } => Plan::Values {
                rows: rows
                    .into_iter()
                    .map(|row| row.into_iter().map(&mut *f).collect::<Result<Vec<_>>>())
                    .collect::<Result<_>>()?,
                columns,
            },
            Plan::TableFunction { function, args, ordinality, columns } => Plan::TableFunction {
                function,
                args: args.into_iter().map(&mut *f).collect::<Result<_>>()?,
                ordinality,
                columns,
            },
            Plan::Filter { input, predicate } => Plan::Filter { input, predicate: f(predicate)? },
            Plan::Project { input, exprs, columns } => Plan::Project {
                input,
                exprs: exprs.into_iter().map(&mut *f).collect::<Result<_>>()?,
                columns,
            },
            Plan::NestedLoopJoin { left, right, kind, on } => {
                Plan::NestedLoopJoin { left, right, kind, on: opt(on, f)? }
            }
            Plan::HashJoin { left, right, kind, left_keys, right_keys, residual } => Plan::HashJoin {
                left,
                right,
                kind,
                left_keys: left_keys.into_iter().map(&mut *f).collect::<Result<_>>()?,
                right_keys: right_keys.into_iter().map(&mut *f).collect::<Result<_>>()?,
                residual: opt(residual, f)?,
            },
            Plan::Aggregate { input, group_by, aggregates, columns } => Plan::Aggregate {
                input,
                group_by: group_by.into_iter().map(&mut *f).collect::<Result<_>>()?,
                aggregates: aggregates
                    .into_iter()
                    .map(|a| {
                        Ok(Aggregate {
                            arg: opt(a.arg, f)?,
                            filter: opt(a.filter, f)?,
                            separator: opt(a.separator, f)?,
                            ..a
                        })
                    })
                    .collect::<Result<_>>()?,
                columns,
            },
            Plan::Sort { input, keys } => Plan::Sort {
                input,
                keys: keys
                    .into_iter()
                    .map(|k| Ok(SortKey { expr: f(k.expr)?, ..k }))
                    .collect::<Result<_>>()?,
            },
            Plan::Limit { input, limit, offset } => {
                Plan::Limit { input, limit: opt(limit, f)?, offset: opt(offset, f)? }
            }
            Plan::Insert { table, source, targets, defaults } => Plan::Insert {
                table,
                source,
                targets,
                defaults: defaults.into_iter().map(|(i, e)| Ok((i, f(e)?))).collect::<Result<_>>()?,
            },
            Plan::Update { table, source, assignments, recheck } => Plan::Update {
                table,
                source,
                assignments: assignments.into_iter().map(|(i, e)| Ok((i, f(e)?))).collect::<Result<_>>()?,
                recheck: opt(recheck, f)?,
            },
            Plan::Delete { table, source, recheck } => {
                Plan::Delete { table, source, recheck: opt(recheck, f)? }
            }
            Plan::LockRows { input, table, mode, recheck } => {
                Plan::LockRows { input, table, mode, recheck: opt(recheck, f)? }
            }
            p @ (Plan::Nothing { .. }
            | Plan::Distinct { .. }
            | Plan::SetOp { .. }
            | Plan::RecursiveCte { .. }
            | Plan::WorkTable { .. }) => p,
        })
    }
}
