//! Secondary indexes: the layout of their entries, keeping them in step with the rows,
//! and finding rows through them.
//!
//! An index is a keyspace of its own (B+tree or LSM tree, like a table). Its entries:
//!
//! ```text
//!   unique index, no NULL among the values:  key = enc(values)            value = row key
//!   any other entry:                          key = enc(values) ++ row key  value = (empty)
//! ```
//!
//! `enc` is the order-preserving key encoding, which is self-delimiting, so the entries
//! for given leading values are exactly the keys starting with their encoding: equality
//! on leading columns is a prefix scan, a range on the next column a range scan. A unique
//! entry's key is the values alone, so a second row with the same values finds it with a
//! point read (23505); NULLs never collide (SQL's rule), which the second form gives for
//! free. Entries are written in the same transaction as the row, so an index never
//! disagrees with its table at any snapshot.

use std::ops::Bound;

use phantom_storage::keycode;
use phantom_txn::{EngineKind, Transaction};

use crate::catalog::{IndexDef, TableDef};
use crate::encoding;
use crate::error::{Error, Result, SqlState};
use crate::planner::plan::KeyBounds;
use crate::types::{DataType, Value};

fn values_of<'a>(index: &IndexDef, row: &'a [Value]) -> Vec<&'a Value> {
    index.columns.iter().map(|&c| &row[c]).collect()
}

/// The key and value of `row`'s entry (the row is stored under `row_key`).
fn entry(index: &IndexDef, row: &[Value], row_key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let values = values_of(index, row);
    let mut key = encoding::encode_key(&values);
    if index.unique && values.iter().all(|v| !v.is_null()) {
        (key, row_key.to_vec())
    } else {
        key.extend_from_slice(row_key);
        (key, Vec::new())
    }
}

/// Adds `row`'s entries to every index of `table`, checking unique ones.
pub fn insert(txn: &Transaction, table: &TableDef, row: &[Value], row_key: &[u8]) -> Result<()> {
    insert_into(txn, table, &table.indexes, row, row_key)
}

/// Adds `row`'s entries to `indexes` (of `table`), checking unique ones.
fn insert_into<'a>(
    txn: &Transaction,
    table: &TableDef,
    indexes: impl IntoIterator<Item = &'a IndexDef>,
    row: &[Value],
    row_key: &[u8],
) -> Result<()> {
    for index in indexes {
        let (key, value) = entry(index, row, row_key);
        if !value.is_empty() && txn.get_for_update(index.keyspace, &key)?.is_some() {
            let names: Vec<&str> = index.columns.iter().map(|&c| table.columns[c].name.as_str()).collect();
            let shown: Vec<String> = index.columns.iter().map(|&c| row[c].to_string()).collect();
            return Err(Error::new(
                SqlState::UniqueViolation,
                format!("duplicate key value violates unique constraint \"{}\"", index.name),
            )
            .with_detail(format!(
                "Key ({})=({}) already exists.",
                names.join(", "),
                shown.join(", ")
            )));
        }
        txn.put(index.keyspace, &key, value)?;
    }
    Ok(())
}

/// Removes `row`'s entries from every index of `table`.
pub fn delete(txn: &Transaction, table: &TableDef, row: &[Value], row_key: &[u8]) -> Result<()> {
    delete_from(txn, &table.indexes, row, row_key)
}

fn delete_from<'a>(
    txn: &Transaction,
    indexes: impl IntoIterator<Item = &'a IndexDef>,
    row: &[Value],
    row_key: &[u8],
) -> Result<()> {
    for index in indexes {
        txn.delete(index.keyspace, &entry(index, row, row_key).0)?;
    }
    Ok(())
}

/// True if changing `old` (under `old_key`) to `new` (under `new_key`) changes `index`.
fn changes(index: &IndexDef, old: &[Value], old_key: &[u8], new: &[Value], new_key: &[u8]) -> bool {
    old_key != new_key || index.columns.iter().any(|&c| old[c] != new[c])
}

/// Moves `row`'s entries from its old values to its new ones, where they differ.
pub fn update(
    txn: &Transaction,
    table: &TableDef,
    (old, old_key): (&[Value], &[u8]),
    (new, new_key): (&[Value], &[u8]),
) -> Result<()> {
    let changed: Vec<&IndexDef> =
        table.indexes.iter().filter(|i| changes(i, old, old_key, new, new_key)).collect();
    // Only the changed indexes: delete all old entries first, so a row that swaps values
    // with itself does not trip over its own old entry.
    delete_from(txn, changed.iter().copied(), old, old_key)?;
    insert_into(txn, table, changed, new, new_key)
}

/// The types of an index's columns.
pub fn column_types(table: &TableDef, index: &IndexDef) -> Vec<DataType> {
    index.columns.iter().map(|&c| table.columns[c].data_type).collect()
}

/// The row key an index entry points at.
pub fn row_key(table: &TableDef, index: &IndexDef, key: &[u8], value: Vec<u8>) -> Result<Vec<u8>> {
    if !value.is_empty() {
        return Ok(value);
    }
    let (_, rest) = encoding::split_key(key, &column_types(table, index))?;
    Ok(rest.to_vec())
}

/// The index key range for equality on the first `prefix.len()` columns and, optionally,
/// bounds on the next one.
pub fn key_range(prefix: &[Value], range: Option<KeyBounds>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let base = encoding::encode_key(&prefix.iter().collect::<Vec<_>>());
    let with = |v: &Value| {
        let mut k = base.clone();
        encoding::encode_key_value(&mut k, v, keycode::Order::ASC);
        k
    };
    let after = |k: Vec<u8>| keycode::prefix_end(&k).map_or(Bound::Unbounded, Bound::Excluded);
    let (lo, hi) = range.unwrap_or((Bound::Unbounded, Bound::Unbounded));
    let start = match lo {
        Bound::Included(v) => Bound::Included(with(&v)),
        Bound::Excluded(v) => keycode::prefix_end(&with(&v)).map_or(Bound::Unbounded, Bound::Included),
        Bound::Unbounded => Bound::Included(base.clone()),
    };
    let end = match hi {
        Bound::Included(v) => after(with(&v)),
        Bound::Excluded(v) => Bound::Excluded(with(&v)),
        Bound::Unbounded => after(base.clone()),
    };
    (start, end)
}

/// `table` with a new index on `columns`: a fresh keyspace filled from the table's rows
/// (23505 if a unique one finds two rows with the same values). The caller stores the
/// returned definition.
pub fn create(
    txn: &Transaction,
    table: &TableDef,
    name: String,
    columns: Vec<usize>,
    unique: bool,
    engine: Option<EngineKind>,
) -> Result<TableDef> {
    let (keyspace, engine) = txn.create_keyspace(engine)?;
    let oid = crate::catalog::pg_catalog::oid_for_keyspace(keyspace);
    let index = IndexDef { name, keyspace, engine: engine.description(), columns, unique, oid };
    build(txn, table, &index)?;
    let mut table = table.clone();
    table.indexes.push(index);
    Ok(table)
}

/// Adds entries for every existing row of `table` to `index` (CREATE INDEX on a table
/// with data).
pub fn build(txn: &Transaction, table: &TableDef, index: &IndexDef) -> Result<()> {
    let rows = txn.scan(table.keyspace, (Bound::Unbounded, Bound::Unbounded), false)?;
    for entry in rows {
        let (key, value) = entry?;
        let row = crate::exec::decode_row(table, &key, &value)?;
        insert_into(txn, table, [index], &row, &key)?;
    }
    Ok(())
}
