//! Rewriting a table into fresh keyspaces (for ALTER TABLE changes the stored rows must
//! follow: a new column with a default, a dropped column, a new primary key).
//!
//! Every row of the old table is mapped to a row of the new definition and written
//! through the same checks as an INSERT (types, NOT NULL, primary-key uniqueness, unique
//! indexes), into new keyspaces for the table and each of its indexes, all in the
//! transaction. The caller stores the new definition; the old keyspaces are dropped at
//! commit, so a snapshot older than the commit still reads the old table.

use std::sync::Arc;

use phantom_txn::EngineKind;

use super::write::{fit, store_new_row};
use super::{Context, Row, execute};
use crate::catalog::TableDef;
use crate::error::Result;
use crate::planner::Plan;

/// Copies `old`'s rows into new keyspaces laid out as `new`, mapping each row with `map`;
/// returns `new` with its keyspaces set.
pub fn rewrite(
    cx: &Context,
    old: &Arc<TableDef>,
    new: TableDef,
    map: impl Fn(Row) -> Result<Row>,
) -> Result<TableDef> {
    let new = Arc::new(in_fresh_keyspaces(cx, new)?);
    let scan = Plan::Scan { table: old.clone(), alias: old.name.clone(), range: None, filter: None };
    for row in execute(scan, cx)? {
        let mut row = row?;
        row.truncate(old.columns.len());
        let values = fit(&new, map(row)?)?;
        store_new_row(cx, &new, &values)?;
    }
    retire(cx, old)?;
    Ok(Arc::unwrap_or_clone(new))
}

/// `table` with new, empty keyspaces (of the same engines) for its rows and indexes.
pub fn in_fresh_keyspaces(cx: &Context, mut table: TableDef) -> Result<TableDef> {
    table.keyspace = cx.txn.create_keyspace(EngineKind::from_description(&table.engine))?.0;
    for index in &mut table.indexes {
        index.keyspace = cx.txn.create_keyspace(EngineKind::from_description(&index.engine))?.0;
    }
    Ok(table)
}

/// Drops a replaced table's keyspaces at commit and forgets its row-id sequence.
pub fn retire(cx: &Context, old: &TableDef) -> Result<()> {
    for keyspace in old.keyspaces() {
        cx.txn.drop_keyspace(keyspace)?;
    }
    cx.sequences.forget(old.keyspace);
    Ok(())
}
