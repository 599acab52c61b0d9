//! Table and column definitions.

use phantom_txn::{EngineKind, KeyspaceId};
use serde::{Deserialize, Serialize};

use super::{PUBLIC, QualifiedName};
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
    /// The schema the table lives in (`public` for tables created before schemas existed).
    #[serde(default = "public")]
    pub schema: String,
    /// The table's name, unique in its schema among tables, views and indexes.
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
    /// The primary-key constraint's name when one was given (`<table>_pkey` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key_name: Option<String>,
    /// Secondary indexes, maintained with every change to the table's rows.
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
    /// CHECK constraints, checked for every row written.
    #[serde(default)]
    pub checks: Vec<CheckDef>,
    /// FOREIGN KEY constraints of this table (the referencing side). The referenced
    /// table does not list them: see [`crate::exec::constraints`].
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// The OID the `pg_catalog` views show, fixed at creation so that it outlives the
    /// keyspace changes of TRUNCATE and rewrites; 0 for definitions stored before OIDs
    /// existed (see [`super::pg_catalog`]).
    #[serde(default)]
    pub oid: i64,
}

/// A CHECK constraint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckDef {
    /// The constraint's name (unique among the table's constraints).
    pub name: String,
    /// The boolean expression as SQL text, bound against the table's columns once per
    /// statement that writes rows.
    pub expr: String,
}

/// What happens to referencing rows when the referenced row is deleted or its key changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReferentialAction {
    /// Fail at the end of the statement if the key is still referenced (and no row with
    /// the same key exists again).
    #[default]
    NoAction,
    /// Fail at the end of the statement if the key is still referenced.
    Restrict,
    /// Delete the referencing rows (ON DELETE), or change their key along (ON UPDATE).
    Cascade,
    /// Set the referencing columns to NULL.
    SetNull,
    /// Set the referencing columns to their defaults.
    SetDefault,
}

impl ReferentialAction {
    /// The SQL spelling.
    pub fn sql(self) -> &'static str {
        match self {
            ReferentialAction::NoAction => "NO ACTION",
            ReferentialAction::Restrict => "RESTRICT",
            ReferentialAction::Cascade => "CASCADE",
            ReferentialAction::SetNull => "SET NULL",
            ReferentialAction::SetDefault => "SET DEFAULT",
        }
    }
}

/// A FOREIGN KEY constraint, stored with the referencing (child) table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    /// The constraint's name.
    pub name: String,
    /// Indexes into this table's columns, in constraint order.
    pub columns: Vec<usize>,
    /// The referenced (parent) table's schema.
    #[serde(default = "public")]
    pub parent_schema: String,
    /// The referenced (parent) table's name; may be this table itself.
    pub parent: String,
    /// Indexes into the parent's columns, matching `columns` one for one. As a set they are
    /// the parent's primary key or the columns of one of its unique indexes.
    pub parent_columns: Vec<usize>,
    /// ON DELETE.
    pub on_delete: ReferentialAction,
    /// ON UPDATE.
    pub on_update: ReferentialAction,
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
    /// The OID the `pg_catalog` views show, as for tables.
    #[serde(default)]
    pub oid: i64,
}

fn default_engine() -> String {
    EngineKind::Memory.name().to_string()
}

fn public() -> String {
    PUBLIC.to_string()
}

impl ForeignKeyDef {
    /// The referenced table's qualified name.
    pub fn parent_name(&self) -> QualifiedName {
        QualifiedName::new(&self.parent_schema, &self.parent)
    }

    /// True if this constraint references the table called `name`.
    pub fn references(&self, name: &QualifiedName) -> bool {
        self.parent == name.name && self.parent_schema == name.schema
    }
}

impl TableDef {
    /// The table's qualified name.
    pub fn qualified(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.name)
    }

    /// The name of the primary-key constraint (and of the unique index it stands for).
    pub fn primary_key_constraint(&self) -> String {
        self.primary_key_name.clone().unwrap_or_else(|| format!("{}_pkey", self.name))
    }

    /// The position of the column called `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The primary-key columns stored only in the key (the row marks their place): those
    /// whose value the key gives back exactly. See `encoding`.
    pub fn key_only_columns(&self) -> Vec<usize> {
        self.primary_key.iter().copied().filter(|&c| self.columns[c].data_type.key_restores_value()).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A definition stored before constraints existed still loads, with none.
    #[test]
    fn old_definitions_load_without_constraints() {
        let json = r#"{"name":"t","keyspace":7,"engine":"btree","columns":[{"name":"a","data_type":"Integer","nullable":false}],"primary_key":[0]}"#;
        let table: TableDef = serde_json::from_str(json).expect("decode");
        assert!(table.checks.is_empty() && table.foreign_keys.is_empty() && table.indexes.is_empty());
        assert_eq!(table.schema, "public", "tables from before schemas live in public");
        let again: TableDef =
            serde_json::from_slice(&serde_json::to_vec(&table).expect("encode")).expect("decode");
        assert_eq!(again, table);
    }

    /// A foreign key stored before schemas existed references a table in public.
    #[test]
    fn old_foreign_keys_reference_public_tables() {
        let json = r#"{"name":"c_p_fkey","columns":[0],"parent":"p","parent_columns":[0],"on_delete":"Cascade","on_update":"NoAction"}"#;
        let fk: ForeignKeyDef = serde_json::from_str(json).expect("decode");
        assert!(fk.references(&QualifiedName::new("public", "p")));
        assert!(!fk.references(&QualifiedName::new("other", "p")));
    }
}
