//! Schemas (namespaces) and how a name finds its table, view or index.
//!
//! Every table, view and index lives in a schema, and its name is unique there among all
//! three (they are all *relations*, as PostgreSQL calls them). A qualified name
//! (`s.t`) looks in its schema only; an unqualified one walks the session's
//! `search_path` and takes the first schema that has a relation of that name. New objects
//! named without a schema go to the first schema of the path that exists.
//!
//! `public` needs no catalog entry: it exists in every database, new or created before
//! schemas did, until `DROP SCHEMA public` stores a marker saying it is gone (and
//! `CREATE SCHEMA public` removes the marker). Opening a database therefore writes
//! nothing. It gets an entry like any other schema only once its owner or privileges
//! change (see [`SchemaDef::public`] for what it has without one). Other schemas are
//! entries of their own kind.
//!
//! `pg_catalog` and `information_schema` hold the system views; they always exist, are
//! never stored, and take no user objects. `$user` in the path stands for a schema named
//! after the session's role: the session substitutes it before a lookup
//! (`Settings::lookup_path`); where it is left in a path, it is skipped.

use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use phantom_txn::Transaction;
use phantom_txn::keyspace::CATALOG_KEYSPACE;
use serde::{Deserialize, Serialize};

use super::acl::{self, AclItem, ObjectKind, Privileges};
use super::{Catalog, SCHEMA, TableDef, ViewDef, entry_key, public_dropped_key};
use crate::error::{Error, Result, SqlState};

/// The schema every database starts with.
pub const PUBLIC: &str = "public";

/// Schemas of the system views: always there, never stored, closed to user objects.
pub const SYSTEM_SCHEMAS: [&str; 2] = ["pg_catalog", "information_schema"];

/// The search path a session starts with.
pub fn default_search_path() -> Vec<String> {
    vec!["$user".to_string(), PUBLIC.to_string()]
}

/// A schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDef {
    /// The schema's name.
    pub name: String,
    /// The owning role's OID.
    #[serde(default = "super::acl::bootstrap_owner", skip_serializing_if = "super::acl::is_bootstrap_owner")]
    pub owner: i64,
    /// The privileges granted on it (`None`: the owner's default, USAGE and CREATE for
    /// the owner alone; `public` has its own, see [`SchemaDef::public`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<super::acl::Acl>,
}

/// A schema-qualified name of a table, view or index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: &str, name: &str) -> Self {
        QualifiedName { schema: schema.to_string(), name: name.to_string() }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// A table or a view, as a name in FROM finds it.
#[derive(Clone, Debug)]
pub enum Relation {
    Table(Arc<TableDef>),
    View(ViewDef),
}

impl Relation {
    /// The relation's qualified name.
    pub fn qualified(&self) -> QualifiedName {
        match self {
            Relation::Table(t) => t.qualified(),
            Relation::View(v) => v.qualified(),
        }
    }
}

/// True for `pg_catalog` and `information_schema`.
pub fn is_system_schema(name: &str) -> bool {
    SYSTEM_SCHEMAS.contains(&name)
}

/// The schemas of `path` an unqualified name is looked up in, in order.
pub fn lookup_schemas(path: &[String]) -> impl Iterator<Item = &str> {
    path.iter().map(String::as_str).filter(|s| *s != "$user")
}

/// Parses a search path as `SET` and connection options give it: names separated by
/// commas, folded to lower case unless double-quoted (`"$user", public`).
pub fn parse_search_path(text: &str) -> Result<Vec<String>> {
    let invalid =
        || Error::new(SqlState::InvalidParameterValue, "invalid list syntax for parameter \"search_path\"");
    let mut path = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (name, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut name = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                        name.push('"');
                        chars.next();
                    }
                    Some((i, '"')) => break i + 1,
                    Some((_, c)) => name.push(c),
                    None => return Err(invalid()),
                }
            };
            (name, &quoted[end..])
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            (rest[..end].trim_end().to_lowercase(), &rest[end..])
        };
        if name.is_empty() {
            return Err(invalid());
        }
        path.push(name);
        let after = after.trim_start();
        rest = match after.strip_prefix(',') {
            Some(next) if !next.trim().is_empty() => next.trim_start(),
            None if after.is_empty() => after,
            _ => return Err(invalid()),
        };
    }
    Ok(path)
}

/// A search path as `SHOW` prints it: names that need quotes get them.
pub fn format_search_path(path: &[String]) -> String {
    let quote = |name: &String| {
        let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
        if plain { name.clone() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
    };
    path.iter().map(quote).collect::<Vec<_>>().join(", ")
}

fn schema_key(name: &str) -> Vec<u8> {
    entry_key(SCHEMA, PUBLIC, name)
}

fn decode_schema(bytes: &[u8]) -> Result<SchemaDef> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(SqlState::DataCorrupted, format!("corrupt schema definition in the catalog: {e}"))
    })
}

impl SchemaDef {
    /// A new schema owned by `owner`, with the default privileges (the owner's alone).
    pub fn new(name: String, owner: i64) -> SchemaDef {
        SchemaDef { name, owner, acl: None }
    }

    /// `public` as every database has it until someone changes it: owned by the
    /// bootstrap superuser, USAGE for everyone, CREATE for its owner only. That is
    /// PostgreSQL 15's `public` (where CREATE was taken from PUBLIC), with the bootstrap
    /// superuser standing in for `pg_database_owner`.
    pub fn public() -> SchemaDef {
        let owner = acl::bootstrap_owner();
        let mut list = ObjectKind::Schema.default_acl(owner);
        list.0.push(AclItem {
            grantee: acl::PUBLIC_GRANTEE,
            grantor: owner,
            privileges: Privileges::USAGE,
            grant_options: Privileges::NONE,
        });
        SchemaDef { name: PUBLIC.to_string(), owner, acl: Some(list) }
    }
}

impl Catalog {
    /// The user schema called `name` (not a system schema) as `txn` sees it.
    pub fn schema(&self, txn: &Transaction, name: &str) -> Result<Option<SchemaDef>> {
        let stored = txn.get(CATALOG_KEYSPACE, &schema_key(name))?;
        if name == PUBLIC {
            // `public` has an entry only once its owner or privileges changed.
            let dropped = txn.get(CATALOG_KEYSPACE, &public_dropped_key())?.is_some();
            if dropped {
                return Ok(None);
            }
            return match stored {
                Some(bytes) => decode_schema(&bytes).map(Some),
                None => Ok(Some(SchemaDef::public())),
            };
        }
        stored.map(|bytes| decode_schema(&bytes)).transpose()
    }

    /// The user schema called `name`, its entry locked and at its newest version (see
    /// [`Catalog::table_for_update`]).
    pub fn schema_for_update(&self, txn: &Transaction, name: &str) -> Result<Option<SchemaDef>> {
        // The entry's key is locked even where there is none yet (`public` without
        // changes), so two changes of the same schema wait for each other.
        let stored = txn.get_for_update(CATALOG_KEYSPACE, &schema_key(name))?;
        match stored {
            Some(bytes) => {
                let dropped = name == PUBLIC && txn.get(CATALOG_KEYSPACE, &public_dropped_key())?.is_some();
                if dropped { Ok(None) } else { decode_schema(&bytes).map(Some) }
            }
            None => self.schema(txn, name),
        }
    }

    /// True if the schema exists: a user schema or a system one.
    pub fn schema_exists(&self, txn: &Transaction, name: &str) -> Result<bool> {
        Ok(is_system_schema(name) || self.schema(txn, name)?.is_some())
    }

    /// Every user schema `txn` sees, by name (the system schemas are [`SYSTEM_SCHEMAS`]).
    pub fn schemas(&self, txn: &Transaction) -> Result<Vec<SchemaDef>> {
        let range = (Bound::Included(vec![SCHEMA]), Bound::Excluded(vec![SCHEMA + 1]));
        let mut schemas: Vec<SchemaDef> = self.schema(txn, PUBLIC)?.into_iter().collect();
        for entry in txn.scan(CATALOG_KEYSPACE, range, false)? {
            let (_, bytes) = entry?;
            let schema = decode_schema(&bytes)?;
            // `public`'s entry, if it has one, was read above (or it was dropped).
            if schema.name != PUBLIC {
                schemas.push(schema);
            }
        }
        schemas.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(schemas)
    }

    /// Stores a new or changed schema.
    pub fn put_schema(&self, txn: &Transaction, schema: &SchemaDef) -> Result<()> {
        if schema.name == PUBLIC {
            txn.delete(CATALOG_KEYSPACE, &public_dropped_key())?;
            if *schema == SchemaDef::public() {
                txn.delete(CATALOG_KEYSPACE, &schema_key(PUBLIC))?;
                return Ok(());
            }
        }
        let bytes = serde_json::to_vec(schema).map_err(|e| {
            Error::new(SqlState::InternalError, format!("cannot encode schema definition: {e}"))
        })?;
        txn.put(CATALOG_KEYSPACE, &schema_key(&schema.name), bytes)?;
        Ok(())
    }

    /// Removes a schema (its objects must be gone already).
    pub fn delete_schema(&self, txn: &Transaction, name: &str) -> Result<()> {
        if name == PUBLIC {
            txn.put(CATALOG_KEYSPACE, &public_dropped_key(), Vec::new())?;
        }
        txn.delete(CATALOG_KEYSPACE, &schema_key(name))?;
        Ok(())
    }

    /// The table or view called `name` in `schema`.
    pub fn relation(&self, txn: &Transaction, schema: &str, name: &str) -> Result<Option<Relation>> {
        if let Some(table) = self.table(txn, schema, name)? {
            return Ok(Some(Relation::Table(table)));
        }
        Ok(self.view(txn, schema, name)?.map(Relation::View))
    }

    /// True if a table, view, index or sequence called `name` exists in `schema` (they
    /// share one name space, as PostgreSQL's relations do).
    pub fn relation_exists(&self, txn: &Transaction, schema: &str, name: &str) -> Result<bool> {
        Ok(self.relation(txn, schema, name)?.is_some()
            || self.index_owner(txn, schema, name)?.is_some()
            || self.sequence(txn, schema, name)?.is_some())
    }

    /// The table or view a name refers to: in `schema` if given, else in the first schema
    /// of `path` that has one.
    pub fn find_relation(
        &self,
        txn: &Transaction,
        path: &[String],
        schema: Option<&str>,
        name: &str,
    ) -> Result<Option<Relation>> {
        if let Some(schema) = schema {
            return self.relation(txn, schema, name);
        }
        for schema in lookup_schemas(path) {
            if let Some(found) = self.relation(txn, schema, name)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The index a name refers to (with its table and position), found like
    /// [`Catalog::find_relation`] finds tables.
    pub fn find_index(
        &self,
        txn: &Transaction,
        path: &[String],
        schema: Option<&str>,
        name: &str,
    ) -> Result<Option<(Arc<TableDef>, usize)>> {
        if let Some(schema) = schema {
            return self.index_owner(txn, schema, name);
        }
        for schema in lookup_schemas(path) {
            if let Some(found) = self.index_owner(txn, schema, name)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Where an object created without a schema goes: the first user schema of `path`
    /// that exists (3F000 if none does).
    pub fn creation_schema(&self, txn: &Transaction, path: &[String]) -> Result<String> {
        for schema in lookup_schemas(path) {
            if !is_system_schema(schema) && self.schema(txn, schema)?.is_some() {
                return Ok(schema.to_string());
            }
        }
        Err(Error::new(SqlState::InvalidSchemaName, "no schema has been selected to create in"))
    }

    /// Checks that objects may be created in `schema`: it exists (3F000) and is not a
    /// system schema (42501).
    pub fn check_creatable_in(&self, txn: &Transaction, schema: &str) -> Result<()> {
        if is_system_schema(schema) {
            return Err(Error::new(
                SqlState::InsufficientPrivilege,
                format!("permission denied to create objects in schema \"{schema}\": it holds system views"),
            ));
        }
        if self.schema(txn, schema)?.is_none() {
            return Err(no_schema(schema));
        }
        Ok(())
    }
}

/// 3F000 for a schema that does not exist.
pub fn no_schema(name: &str) -> Error {
    Error::new(SqlState::InvalidSchemaName, format!("schema \"{name}\" does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_paths_parse_and_print_like_postgres() {
        let path = parse_search_path("\"$user\", public").expect("parse");
        assert_eq!(path, ["$user", "public"]);
        assert_eq!(format_search_path(&path), "\"$user\", public");
        let path = parse_search_path(" A ,\"My \"\"Odd\"\" One\",b2").expect("parse");
        assert_eq!(path, ["a", "My \"Odd\" One", "b2"]);
        assert_eq!(format_search_path(&path), "a, \"My \"\"Odd\"\" One\", b2");
        assert_eq!(parse_search_path("").expect("empty"), Vec::<String>::new());
        for bad in ["\"open", "a,,b", "a, ", "\"x\" y"] {
            assert!(parse_search_path(bad).is_err(), "{bad}");
        }
        assert_eq!(lookup_schemas(&default_search_path()).collect::<Vec<_>>(), ["public"]);
    }
}
