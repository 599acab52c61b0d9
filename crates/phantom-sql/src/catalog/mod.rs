//! The system catalog: table definitions, stored in the database itself.
//!
//! The catalog lives in keyspace 0 and is read and written through the same transactions
//! as user data, so DDL is transactional (a `CREATE TABLE` inside a transaction that rolls
//! back never existed), survives restarts through the WAL like any other commit, and a
//! concurrent transaction keeps seeing the schema of its own snapshot.
//!
//! Keys are `[kind byte][keycode(name)]`, so each kind of object (tables, views; schemas
//! later) is a contiguous range. A table's secondary indexes are part of its
//! entry, so every statement that reads the table definition has them at hand. Values are JSON: readable in a dump,
//! easy to extend with defaulted fields, and decoded at most once per distinct definition
//! thanks to a small cache keyed by the stored bytes.

pub mod pg_catalog;
pub mod system;
mod table;
mod view;

pub use table::{CheckDef, ColumnDef, ForeignKeyDef, IndexDef, ReferentialAction, TableDef};
pub use view::ViewDef;

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::Mutex;
use phantom_storage::keycode::{self, Order};
use phantom_txn::Transaction;
use phantom_txn::keyspace::CATALOG_KEYSPACE;

use crate::error::{Error, Result, SqlState};

/// Kind byte of table entries.
const TABLE: u8 = 1;
/// Kind byte of view entries.
const VIEW: u8 = 2;

/// Reads and writes catalog entries.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Decoded definitions by their stored bytes.
    cache: Mutex<HashMap<Vec<u8>, Arc<TableDef>>>,
}

fn table_key(name: &str) -> Vec<u8> {
    entry_key(TABLE, name)
}

fn entry_key(kind: u8, name: &str) -> Vec<u8> {
    let mut key = vec![kind];
    keycode::encode_str(&mut key, name, Order::ASC);
    key
}

impl Catalog {
    /// A catalog with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The table called `name` as `txn` sees it.
    pub fn table(&self, txn: &Transaction, name: &str) -> Result<Option<Arc<TableDef>>> {
        match txn.get(CATALOG_KEYSPACE, &table_key(name))? {
            Some(bytes) => self.decode(bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The table called `name`, or the PostgreSQL error for a missing relation.
    pub fn require_table(&self, txn: &Transaction, name: &str) -> Result<Arc<TableDef>> {
        self.table(txn, name)?.ok_or_else(|| {
            Error::new(SqlState::UndefinedTable, format!("relation \"{name}\" does not exist"))
        })
    }

    /// Every table `txn` sees, by name.
    pub fn tables(&self, txn: &Transaction) -> Result<Vec<Arc<TableDef>>> {
        let range = (Bound::Included(vec![TABLE]), Bound::Excluded(vec![TABLE + 1]));
        let mut tables = Vec::new();
        for entry in txn.scan(CATALOG_KEYSPACE, range, false)? {
            let (_, bytes) = entry?;
            tables.push(self.decode(bytes)?);
        }
        Ok(tables)
    }

    /// The table that has the index called `name`, with the index's position in it.
    pub fn index_owner(&self, txn: &Transaction, name: &str) -> Result<Option<(Arc<TableDef>, usize)>> {
        for table in self.tables(txn)? {
            if let Some(i) = table.indexes.iter().position(|ix| ix.name == name) {
                return Ok(Some((table, i)));
            }
        }
        Ok(None)
    }

    /// Stores a new or changed table definition.
    pub fn put_table(&self, txn: &Transaction, table: &TableDef) -> Result<()> {
        let bytes = serde_json::to_vec(table).map_err(|e| {
            Error::new(SqlState::InternalError, format!("cannot encode table definition: {e}"))
        })?;
        txn.put(CATALOG_KEYSPACE, &table_key(&table.name), bytes)?;
        Ok(())
    }

    /// Removes a table definition.
    pub fn delete_table(&self, txn: &Transaction, name: &str) -> Result<()> {
        txn.delete(CATALOG_KEYSPACE, &table_key(name))?;
        Ok(())
    }

    /// The view called `name` as `txn` sees it.
    pub fn view(&self, txn: &Transaction, name: &str) -> Result<Option<ViewDef>> {
        match txn.get(CATALOG_KEYSPACE, &entry_key(VIEW, name))? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::new(SqlState::DataCorrupted, format!("corrupt view definition in the catalog: {e}"))
            }),
            None => Ok(None),
        }
    }

    /// Every view `txn` sees, by name.
    pub fn views(&self, txn: &Transaction) -> Result<Vec<ViewDef>> {
        let range = (Bound::Included(vec![VIEW]), Bound::Excluded(vec![VIEW + 1]));
        let mut views = Vec::new();
        for entry in txn.scan(CATALOG_KEYSPACE, range, false)? {
            let (_, bytes) = entry?;
            views.push(serde_json::from_slice(&bytes).map_err(|e| {
                Error::new(SqlState::DataCorrupted, format!("corrupt view definition in the catalog: {e}"))
            })?);
        }
        Ok(views)
    }

    /// Stores a new or replaced view definition.
    pub fn put_view(&self, txn: &Transaction, view: &ViewDef) -> Result<()> {
        let bytes = serde_json::to_vec(view).map_err(|e| {
            Error::new(SqlState::InternalError, format!("cannot encode view definition: {e}"))
        })?;
        txn.put(CATALOG_KEYSPACE, &entry_key(VIEW, &view.name), bytes)?;
        Ok(())
    }

    /// Removes a view definition.
    pub fn delete_view(&self, txn: &Transaction, name: &str) -> Result<()> {
        txn.delete(CATALOG_KEYSPACE, &entry_key(VIEW, name))?;
        Ok(())
    }

    fn decode(&self, bytes: Vec<u8>) -> Result<Arc<TableDef>> {
        let mut cache = self.cache.lock();
        if let Some(table) = cache.get(&bytes) {
            return Ok(table.clone());
        }
        let table: TableDef = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(SqlState::DataCorrupted, format!("corrupt table definition in the catalog: {e}"))
        })?;
        let table = Arc::new(table);
        // Definitions change rarely; a bound keeps a DDL-heavy workload from growing it.
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(bytes, table.clone());
        Ok(table)
    }
}
