//! Table and column definitions.

use phantom_txn::{EngineKind, KeyspaceId};
use serde::{Deserialize, Serialize};

use crate::types::DataType;

/// A column of a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnDef {
    /// The column's name (folded to lower case unless it was quoted).
    pub name: String,
    /// Its declared type.
    pub data_type: DataType,
    /// False for NOT NULL (and primary key) columns.
    pub nullable: bool,
    /// The DEFAULT expression as SQL text, re-bound when an INSERT needs it.
    #[serde(default)]
    pub default: Option<String>,
}

/// A table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    /// The table's name.
    pub name: String,
    /// The keyspace holding its rows.
    pub keyspace: KeyspaceId,
    /// The engine of that keyspace, by name.
    #[serde(default = "default_engine")]
    pub engine: String,
    /// The columns in order.
    pub columns: Vec<ColumnDef>,
    /// Indexes into `columns` of the primary key, in key order. Empty when the table has
    /// no primary key: rows are then keyed by a hidden, increasing row id.
    pub primary_key: Vec<usize>,
    /// Secondary indexes, maintained with every change to the table's rows.
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
}

/// A secondary index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexDef {
    /// The index's name (unique in the database).
    pub name: String,
    /// The keyspace holding its entries.
    pub keyspace: KeyspaceId,
    /// The engine of that keyspace, as `\d` shows it.
    pub engine: String,
    /// Indexes into the table's columns, in index order.
    pub columns: Vec<usize>,
    /// UNIQUE: no two rows with the same non-NULL values.
    pub unique: bool,
}

fn default_engine() -> String {
    EngineKind::Memory.name().to_string()
}

impl TableDef {
    /// The position of the column called `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// True when rows are keyed by a hidden row id.
    pub fn has_row_id(&self) -> bool {
        self.primary_key.is_empty()
    }

    /// Number of values a scan of the table produces per row: the columns, plus the hidden
    /// row id at the end when the table has one.
    pub fn scan_width(&self) -> usize {
        self.columns.len() + usize::from(self.has_row_id())
    }

    /// Every keyspace the table owns: its rows' and its indexes'.
    pub fn keyspaces(&self) -> impl Iterator<Item = KeyspaceId> + '_ {
        std::iter::once(self.keyspace).chain(self.indexes.iter().map(|i| i.keyspace))
    }
}
