//! Table access: full and range scans in key order, and primary-key lookups.

use std::ops::Bound;
use std::sync::Arc;

use phantom_storage::keycode;

use super::{Context, Row, Rows};
use crate::catalog::TableDef;
use crate::encoding;
use crate::error::Result;
use crate::planner::Expr;
use crate::planner::plan::KeyBounds;
use crate::types::Value;

/// Decodes a stored row, appending the hidden row id for tables that have one.
pub fn decode(table: &TableDef, key: &[u8], value: &[u8]) -> Result<Row> {
    let mut row = Vec::with_capacity(table.scan_width());
    let in_key = encoding::decode_row_into(value, table.columns.len(), &mut row)?;
    row.truncate(table.columns.len());
    if in_key {
        let types: Vec<_> = table.primary_key.iter().map(|&i| table.columns[i].data_type).collect();
        encoding::fill_from_key(&mut row, key, &table.primary_key, &types)?;
    }
    if table.has_row_id() {
        row.push(Value::Int(encoding::decode_row_id(key)? as i64));
    }
    Ok(row)
}

/// The storage key range for bounds on the first primary-key column.
fn key_range(range: Option<KeyBounds>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let Some((lo, hi)) = range else {
        return (Bound::Unbounded, Bound::Unbounded);
    };
    let encode = |v: &Value| encoding::encode_key(&[v]);
    // A prefix covers every composite key that starts with it.
    let after = |v: &Value| keycode::prefix_end(&encode(v));
    let start = match lo {
        Bound::Included(v) => Bound::Included(encode(&v)),
        Bound::Excluded(v) => after(&v).map_or(Bound::Unbounded, Bound::Included),
        Bound::Unbounded => Bound::Unbounded,
    };
    let end = match hi {
        Bound::Included(v) => after(&v).map_or(Bound::Unbounded, Bound::Excluded),
        Bound::Excluded(v) => Bound::Excluded(encode(&v)),
        Bound::Unbounded => Bound::Unbounded,
    };
    (start, end)
}

/// Scans a table in primary-key order.
pub fn table_scan(
    cx: &Context,
    table: Arc<TableDef>,
    range: Option<KeyBounds>,
    filter: Option<Expr>,
) -> Result<Rows> {
    let scan = cx.txn.scan(table.keyspace, key_range(range), false)?;
    // Checked per entry, not per row returned: a filter may skip millions of them.
    let interrupt = cx.interrupt.clone();
    Ok(Box::new(scan.filter_map(move |entry| {
        if let Err(e) = interrupt.check() {
            return Some(Err(e));
        }
        let row = entry.map_err(Into::into).and_then(|(k, v)| decode(&table, &k, &v));
        match (row, &filter) {
            (Ok(row), Some(f)) => match f.eval_predicate(&row) {
                Ok(true) => Some(Ok(row)),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            },
            (row, _) => Some(row),
        }
    })))
}

/// Fetches rows by primary key.
pub fn key_lookup(
    cx: &Context,
    table: Arc<TableDef>,
    keys: Vec<Vec<Value>>,
    filter: Option<Expr>,
) -> Result<Rows> {
    let mut rows = Vec::with_capacity(keys.len());
    for key in keys {
        let key = encoding::encode_key(&key.iter().collect::<Vec<_>>());
        if let Some(value) = cx.txn.get(table.keyspace, &key)? {
            let row = decode(&table, &key, &value)?;
            if filter.as_ref().map_or(Ok(true), |f| f.eval_predicate(&row))? {
                rows.push(Ok(row));
            }
        }
    }
    Ok(Box::new(rows.into_iter()))
}

/// Finds rows through a secondary index: scans the index's entries for `prefix` (and
/// `range` on the next column) and fetches each row they point at.
pub fn index_scan(
    cx: &Context,
    table: Arc<TableDef>,
    index: usize,
    prefix: &[Value],
    range: Option<KeyBounds>,
    filter: Option<Expr>,
) -> Result<Rows> {
    let ix = table.indexes.get(index).cloned().ok_or_else(|| {
        crate::error::Error::new(crate::error::SqlState::InternalError, "index vanished from its table")
    })?;
    let entries = cx.txn.scan(ix.keyspace, crate::index::key_range(prefix, range), false)?;
    let txn = cx.txn.clone();
    let interrupt = cx.interrupt.clone();
    Ok(Box::new(entries.filter_map(move |entry| {
        if let Err(e) = interrupt.check() {
            return Some(Err(e));
        }
        let fetched = entry.map_err(Into::into).and_then(|(key, value)| {
            let row_key = crate::index::row_key(&table, &ix, &key, value)?;
            match txn.get(table.keyspace, &row_key)? {
                Some(stored) => decode(&table, &row_key, &stored).map(Some),
                // An entry always has its row at the same snapshot; a missing one is damage.
                None => Err(crate::error::Error::new(
                    crate::error::SqlState::DataCorrupted,
                    format!("index \"{}\" points at a row that does not exist", ix.name),
                )),
            }
        });
        match fetched {
            Ok(Some(row)) => match filter.as_ref().map_or(Ok(true), |f| f.eval_predicate(&row)) {
                Ok(true) => Some(Ok(row)),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            },
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    })))
}
