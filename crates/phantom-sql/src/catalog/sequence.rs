//! Sequence definitions.
//!
//! A sequence's definition (type, bounds, increment, owner column) is a catalog entry like
//! a table's, so CREATE, ALTER and DROP SEQUENCE are transactional. Its *state* (the last
//! value handed out) is not: it lives in the sequence's own keyspace and changes outside
//! the caller's transaction (see [`crate::sequence`]), which is what makes `nextval`
//! immune to ROLLBACK, as in PostgreSQL.

use std::ops::Bound;

use phantom_txn::keyspace::CATALOG_KEYSPACE;
use phantom_txn::{KeyspaceId, Transaction};
use serde::{Deserialize, Serialize};

use super::{Catalog, QualifiedName, SEQUENCE, entry_key, lookup_schemas};
use crate::error::{Error, Result, SqlState};
use crate::types::DataType;

/// A sequence: the rules its values follow and where its state is kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceDef {
    /// The schema the sequence lives in.
    pub schema: String,
    /// The sequence's name.
    pub name: String,
    /// The keyspace holding the sequence's state (one entry). Keyspace ids are never
    /// reused, so a dropped and recreated sequence never sees the old state.
    pub keyspace: KeyspaceId,
    /// SMALLINT, INTEGER or BIGINT: the default bounds follow it.
    pub data_type: DataType,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub start: i64,
    pub cache: i64,
    pub cycle: bool,
    /// The column whose drop drops the sequence: `OWNED BY`, and every SERIAL column's
    /// sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<OwnerColumn>,
    /// The owning role's OID (a SERIAL column's sequence belongs to its table's owner).
    #[serde(default = "super::acl::bootstrap_owner", skip_serializing_if = "super::acl::is_bootstrap_owner")]
    pub owner: i64,
    /// The privileges granted on it (`None`: the owner's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<super::acl::Acl>,
}

/// A table column that owns a sequence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerColumn {
    pub schema: String,
    pub table: String,
    pub column: String,
}

impl SequenceDef {
    /// The sequence's qualified name.
    pub fn qualified(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.name)
    }

    /// Whether the sequence belongs to the column `column` of `table`, or (with `None`)
    /// to any column of it.
    pub fn is_owned_by(&self, table: &QualifiedName, column: Option<&str>) -> bool {
        self.owned_by.as_ref().is_some_and(|o| {
            o.schema == table.schema && o.table == table.name && column.is_none_or(|c| c == o.column)
        })
    }
}

fn corrupt(e: serde_json::Error) -> Error {
    Error::new(SqlState::DataCorrupted, format!("corrupt sequence definition in the catalog: {e}"))
}

impl Catalog {
    /// The sequence called `name` in `schema` as `txn` sees it.
    pub fn sequence(&self, txn: &Transaction, schema: &str, name: &str) -> Result<Option<SequenceDef>> {
        match txn.get(CATALOG_KEYSPACE, &entry_key(SEQUENCE, schema, name))? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(corrupt),
            None => Ok(None),
        }
    }

    /// The sequence called `name`, locked and at its newest version (see
    /// [`Catalog::table_for_update`]).
    pub fn sequence_for_update(
        &self,
        txn: &Transaction,
        name: &QualifiedName,
    ) -> Result<Option<SequenceDef>> {
        match txn.get_for_update(CATALOG_KEYSPACE, &entry_key(SEQUENCE, &name.schema, &name.name))? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(corrupt),
            None => Ok(None),
        }
    }

    /// The sequence a name refers to: in `schema` if given, else in the first schema of
    /// `path` that has one.
    pub fn find_sequence(
        &self,
        txn: &Transaction,
        path: &[String],
        schema: Option<&str>,
        name: &str,
    ) -> Result<Option<SequenceDef>> {
        if let Some(schema) = schema {
            return self.sequence(txn, schema, name);
        }
        for schema in lookup_schemas(path) {
            if let Some(found) = self.sequence(txn, schema, name)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Every sequence `txn` sees, by name (then schema).
    pub fn sequences(&self, txn: &Transaction) -> Result<Vec<SequenceDef>> {
        let range = (Bound::Included(vec![SEQUENCE]), Bound::Excluded(vec![SEQUENCE + 1]));
        let mut sequences = Vec::new();
        for entry in txn.scan(CATALOG_KEYSPACE, range, false)? {
            let (_, bytes) = entry?;
            sequences.push(serde_json::from_slice(&bytes).map_err(corrupt)?);
        }
        Ok(sequences)
    }

    /// Stores a new or changed sequence definition.
    pub fn put_sequence(&self, txn: &Transaction, sequence: &SequenceDef) -> Result<()> {
        let bytes = serde_json::to_vec(sequence).map_err(|e| {
            Error::new(SqlState::InternalError, format!("cannot encode sequence definition: {e}"))
        })?;
        txn.put(CATALOG_KEYSPACE, &entry_key(SEQUENCE, &sequence.schema, &sequence.name), bytes)?;
        Ok(())
    }

    /// Removes a sequence definition.
    pub fn delete_sequence(&self, txn: &Transaction, name: &QualifiedName) -> Result<()> {
        txn.delete(CATALOG_KEYSPACE, &entry_key(SEQUENCE, &name.schema, &name.name))?;
        Ok(())
    }
}
