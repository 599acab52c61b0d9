//! INSERT, UPDATE and DELETE.
//!
//! Every row written is first made to fit its table: each value is cast to its column's
//! type with assignment rules (22003 for numbers out of range, 22001 for strings too
//! long), NOT NULL is checked (23502), and a new primary key must not exist yet (23505).
//! The checks see the statement's own earlier rows, so `INSERT ... VALUES (1), (1)` fails
//! like it does in PostgreSQL. Secondary index entries change with their rows (see
//! [`crate::index`]); CHECK and FOREIGN KEY constraints are [`super::constraints`]'s.

use std::sync::Arc;

use super::constraints::Constraints;
use super::{Context, Row, execute};
use crate::catalog::TableDef;
use crate::encoding;
use crate::error::{Error, Result, SqlState};
use crate::index;
use crate::planner::{Expr, Plan};
use crate::types::Value;
use crate::types::cast::{self, CastKind};
use phantom_txn::{LockMode, RowLock};

/// Runs a data-changing plan; returns the number of rows changed.
pub fn modify(plan: Plan, cx: &Context) -> Result<u64> {
    modify_returning(plan, cx, &mut |_| Ok(()))
}

/// [`modify`], handing each row an INSERT or UPDATE stores, or a DELETE removes (all its
/// columns), to `stored`, for RETURNING.
pub fn modify_returning(
    plan: Plan,
    cx: &Context,
    stored: &mut dyn FnMut(&[Value]) -> Result<()>,
) -> Result<u64> {
    match plan {
        Plan::Insert { table, source, targets, defaults } => {
            insert_each(cx, &table, execute(*source, cx)?, &targets, &defaults, stored)
        }
        Plan::Update { table, source, assignments, recheck } => {
            cx.txn.set_write_target(table.keyspace);
            let mut constraints = Constraints::new(cx);
            let mut count = 0;
            for row in execute(*source, cx)? {
                let row = row?;
                let old_key = stored_key(&table, &row)?;
                let Some(row) =
                    lock_newest(cx, &table, row, &old_key, LockMode::Exclusive, recheck.as_ref())?
                else {
                    continue;
                };
                let mut values: Row = row[..table.columns.len()].to_vec();
                for (i, e) in &assignments {
                    values[*i] = e.eval(&row)?;
                }
                let values = fit(&table, values)?;
                constraints.updating(&table, &row[..table.columns.len()], &values)?;
                let new_key = match row_key(&table, &values)? {
                    Some(key) => key,
                    None => old_key.clone(),
                };
                if new_key != old_key {
                    check_unique(cx, &table, &new_key, &values)?;
                    cx.txn.delete(table.keyspace, &old_key)?;
                }
                let old = &row[..table.columns.len()];
                index::update(&cx.txn, &table, (old, &old_key), (&values, &new_key))?;
                cx.txn.put(
                    table.keyspace,
                    &new_key,
                    encoding::encode_row(&values, &table.key_only_columns()),
                )?;
                stored(&values)?;
                count += 1;
            }
            constraints.finish()?;
            Ok(count)
        }
        Plan::Delete { table, source, recheck } => {
            cx.txn.set_write_target(table.keyspace);
            let mut constraints = Constraints::new(cx);
            let mut count = 0;
            for row in execute(*source, cx)? {
                let row = row?;
                let key = stored_key(&table, &row)?;
                let Some(row) = lock_newest(cx, &table, row, &key, LockMode::Exclusive, recheck.as_ref())?
                else {
                    continue;
                };
                index::delete(&cx.txn, &table, &row[..table.columns.len()], &key)?;
                cx.txn.delete(table.keyspace, &key)?;
                constraints.deleted(&table, &row[..table.columns.len()])?;
                stored(&row[..table.columns.len()])?;
                count += 1;
            }
            constraints.finish()?;
            Ok(count)
        }
        other => Err(Error::new(
            SqlState::InternalError,
            format!("not a data-changing plan: {}", crate::planner::explain::explain(&other).join(" ")),
        )),
    }
}

/// Inserts `rows` into `table`: each row's values fill the `targets` columns in order,
/// the other columns get their `defaults`. Returns the number of rows written. INSERT and
/// COPY FROM share it, so both check and store rows the same way.
pub fn insert(
    cx: &Context,
    table: &Arc<TableDef>,
    rows: impl Iterator<Item = Result<Row>>,
    targets: &[usize],
    defaults: &[(usize, Expr)],
) -> Result<u64> {
    insert_each(cx, table, rows, targets, defaults, &mut |_| Ok(()))
}

/// [`insert`], handing each stored row to `stored`.
fn insert_each(
    cx: &Context,
    table: &Arc<TableDef>,
    rows: impl Iterator<Item = Result<Row>>,
    targets: &[usize],
    defaults: &[(usize, Expr)],
    stored: &mut dyn FnMut(&[Value]) -> Result<()>,
) -> Result<u64> {
    let mut constraints = Constraints::new(cx);
    let mut count = 0;
    for row in rows {
        let row = row?;
        let mut values = vec![Value::Null; table.columns.len()];
        for (i, e) in defaults {
            values[*i] = e.eval(&[])?;
        }
        for (value, &target) in row.into_iter().zip(targets) {
            values[target] = value;
        }
        let values = fit(table, values)?;
        constraints.inserting(table, &values)?;
        store_new_row(cx, table, &values)?;
        stored(&values)?;
        count += 1;
    }
    constraints.finish()?;
    Ok(count)
}

/// Locks a row the statement is about to change (or `FOR UPDATE` returns) and decides
/// which version to go on with. Usually that is the version the statement's snapshot
/// showed. At READ COMMITTED a writer that had to wait may find a newer committed version:
/// like PostgreSQL, it re-evaluates the WHERE clause on that version and continues with
/// it if it still matches (`None`: the row was deleted or no longer matches; skip it).
/// The stronger levels fail with 40001 inside [`phantom_txn::Transaction::lock_row`].
pub(super) fn lock_newest(
    cx: &Context,
    table: &TableDef,
    row: Row,
    key: &[u8],
    mode: LockMode,
    recheck: Option<&Expr>,
) -> Result<Option<Row>> {
    match cx.txn.lock_row(table.keyspace, key, mode)? {
        RowLock::Unchanged => Ok(Some(row)),
        RowLock::Changed(None) => Ok(None),
        RowLock::Changed(Some(bytes)) => {
            let newest = super::scan::decode(table, key, &bytes)?;
            match recheck {
                Some(predicate) if !predicate.eval_predicate(&newest)? => Ok(None),
                _ => Ok(Some(newest)),
            }
        }
    }
}

/// Stores a new row that already fits its table: under its primary key (23505 if taken)
/// or a fresh row id, with its index entries.
pub(super) fn store_new_row(cx: &Context, table: &Arc<TableDef>, values: &[Value]) -> Result<()> {
    let key = match row_key(table, values)? {
        Some(key) => {
            check_unique(cx, table, &key, values)?;
            key
        }
        None => encoding::row_id_key(cx.sequences.next(table.keyspace)?),
    };
    index::insert(&cx.txn, table, values, &key)?;
    cx.txn.put(table.keyspace, &key, encoding::encode_row(values, &table.key_only_columns()))?;
    Ok(())
}

/// Casts each value to its column's type and checks NOT NULL.
pub(super) fn fit(table: &TableDef, values: Row) -> Result<Row> {
    let mut out = Vec::with_capacity(values.len());
    for (value, column) in values.into_iter().zip(&table.columns) {
        let value = cast::cast(value, column.data_type, CastKind::Assignment)?;
        if value.is_null() && !column.nullable {
            return Err(Error::new(
                SqlState::NotNullViolation,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    column.name, table.name
                ),
            ));
        }
        out.push(value);
    }
    Ok(out)
}

/// The primary key of a row, or `None` for a table keyed by a hidden row id.
pub(super) fn row_key(table: &TableDef, values: &[Value]) -> Result<Option<Vec<u8>>> {
    if table.has_row_id() {
        return Ok(None);
    }
    let key: Vec<&Value> = table.primary_key.iter().map(|&i| &values[i]).collect();
    Ok(Some(encoding::encode_key(&key)))
}

/// The key a scanned row is stored under (scans append the row id to rows of tables
/// without a primary key).
pub(super) fn stored_key(table: &TableDef, row: &[Value]) -> Result<Vec<u8>> {
    match row_key(table, row)? {
        Some(key) => Ok(key),
        None => match row.get(table.columns.len()) {
            Some(Value::Int(id)) => Ok(encoding::row_id_key(*id as u64)),
            _ => Err(Error::new(SqlState::InternalError, "scanned row has no row id")),
        },
    }
}

pub(super) fn check_unique(cx: &Context, table: &Arc<TableDef>, key: &[u8], values: &[Value]) -> Result<()> {
    if cx.txn.get_for_update(table.keyspace, key)?.is_none() {
        return Ok(());
    }
    let names: Vec<&str> = table.primary_key.iter().map(|&i| table.columns[i].name.as_str()).collect();
    let shown: Vec<String> = table.primary_key.iter().map(|&i| values[i].to_string()).collect();
    Err(Error::new(
        SqlState::UniqueViolation,
        format!("duplicate key value violates unique constraint \"{}\"", table.primary_key_constraint()),
    )
    .with_detail(format!("Key ({})=({}) already exists.", names.join(", "), shown.join(", "))))
}
