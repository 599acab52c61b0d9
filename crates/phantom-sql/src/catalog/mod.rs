//! The system catalog: schemas, tables, views, sequences and roles, stored in the database itself.
//!
//! The catalog lives in keyspace 0 and is read and written through the same transactions
//! as user data, so DDL is transactional (a `CREATE TABLE` inside a transaction that rolls
//! back never existed), survives restarts through the WAL like any other commit, and a
//! concurrent transaction keeps seeing the schema of its own snapshot.
//!
//! Keys are `[kind byte][keycode(name)]`, so each kind of object (tables, views, schemas,
//! roles) is a contiguous range. A table or view outside `public` has `[keycode(schema)]`
//! after its name: the entries of databases created before schemas existed are exactly
//! the `public` ones, and keep their keys, so such a database opens without any
//! conversion (see [`namespace`] for schemas and how names are looked up, [`role`] for
//! roles). A table's secondary indexes are part of its entry, so every statement that
//! reads the table definition has them at hand. Values are JSON: readable in a dump, easy
//! to extend with defaulted fields (a missing `schema` means `public`), and decoded at
//! most once per distinct definition thanks to a small cache keyed by the stored bytes.

pub mod acl;
mod namespace;
pub mod pg_catalog;
mod role;
mod sequence;
pub mod system;
mod table;
mod view;

pub use namespace::{
    PUBLIC, QualifiedName, Relation, SYSTEM_SCHEMAS, SchemaDef, default_search_path, format_search_path,
    is_system_schema, lookup_schemas, no_schema, parse_search_path,
};
pub use role::{BOOTSTRAP_ROLE, RoleDef, no_role};
pub use sequence::{OwnerColumn, SequenceDef};
pub use table::{CheckDef, ColumnDef, ForeignKeyDef, Identity, IndexDef, ReferentialAction, TableDef};
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
/// Kind byte of schema entries.
const SCHEMA: u8 = 3;
/// Kind byte of facts about the catalog itself (today: that `public` was dropped).
const META: u8 = 4;
/// Kind byte of role entries.
const ROLE: u8 = 5;
/// Kind byte of sequence entries.
const SEQUENCE: u8 = 6;

/// Reads and writes catalog entries.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Decoded definitions by their stored bytes.
    cache: Mutex<HashMap<Vec<u8>, Arc<TableDef>>>,
}

/// The key of an object of `kind` called `name` in `schema`.
/// A catalog entry decoded from its stored JSON; anything that does not decode is damage
/// (XX001 naming `what`), never a missing entry.
fn from_catalog<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::new(SqlState::DataCorrupted, format!("corrupt {what} in the catalog: {e}")))
}

fn entry_key(kind: u8, schema: &str, name: &str) -> Vec<u8> {
    let mut key = vec![kind];
    keycode::encode_str(&mut key, name, Order::ASC);
    if schema != PUBLIC {
        keycode::encode_str(&mut key, schema, Order::ASC);
    }
    key
}

/// The marker whose presence says `DROP SCHEMA public` happened.
fn public_dropped_key() -> Vec<u8> {
    entry_key(META, PUBLIC, "public dropped")
}

/// The database's ACL, once a GRANT or REVOKE on it made one.
fn database_acl_key() -> Vec<u8> {
    entry_key(META, PUBLIC, "database acl")
}

fn require<T>(found: Option<T>, name: &str) -> Result<T> {
    found.ok_or_else(|| Error::new(SqlState::UndefinedTable, format!("relation \"{name}\" does not exist")))
}

impl Catalog {
    /// A catalog with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The table called `name` in `schema` as `txn` sees it.
    pub fn table(&self, txn: &Transaction, schema: &str, name: &str) -> Result<Option<Arc<TableDef>>> {
        match txn.get(CATALOG_KEYSPACE, &entry_key(TABLE, schema, name))? {
            Some(bytes) => self.decode(bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The table called `name`, or the PostgreSQL error for a missing relation.
    pub fn require_table(&self, txn: &Transaction, name: &QualifiedName) -> Result<Arc<TableDef>> {
        require(self.table(txn, &name.schema, &name.name)?, &name.name)
    }

    /// Every table `txn` sees, by name (then schema).
    pub fn tables(&self, txn: &Transaction) -> Result<Vec<Arc<TableDef>>> {
        let range = (Bound::Included(vec![TABLE]), Bound::Excluded(vec![TABLE + 1]));
        let mut tables = Vec::new();
        for entry in txn.scan(CATALOG_KEYSPACE, range, false)? {
            let (_, bytes) = entry?;
            tables.push(self.decode(bytes)?);
        }
        Ok(tables)
    }

    /// Every table of `schema`.
    pub fn tables_in(&self, txn: &Transaction, schema: &str) -> Result<Vec<Arc<TableDef>>> {
        Ok(self.tables(txn)?.into_iter().filter(|t| t.schema == schema).collect())
    }

    /// The table that has the index called `name` in `schema`, with the index's position
    /// in it.
    pub fn index_owner(
        &self,
        txn: &Transaction,
        schema: &str,
        name: &str,
    ) -> Result<Option<(Arc<TableDef>, usize)>> {
        for table in self.tables_in(txn, schema)? {
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
        txn.put(CATALOG_KEYSPACE, &entry_key(TABLE, &table.schema, &table.name), bytes)?;
        Ok(())
    }

    /// Removes a table definition.
    pub fn delete_table(&self, txn: &Transaction, name: &QualifiedName) -> Result<()> {
        txn.delete(CATALOG_KEYSPACE, &entry_key(TABLE, &name.schema, &name.name))?;
        Ok(())
    }

    /// The view called `name` in `schema` as `txn` sees it.
    pub fn view(&self, txn: &Transaction, schema: &str, name: &str) -> Result<Option<ViewDef>> {
        match txn.get(CATALOG_KEYSPACE, &entry_key(VIEW, schema, name))? {
            Some(bytes) => from_catalog(&bytes, "view definition").map(Some),
            None => Ok(None),
        }
    }

    /// Every view `txn` sees, by name (then schema).
    pub fn views(&self, txn: &Transaction) -> Result<Vec<ViewDef>> {
        let range = (Bound::Included(vec![VIEW]), Bound::Excluded(vec![VIEW + 1]));
        let mut views = Vec::new();
        for entry in txn.scan(CATALOG_KEYSPACE, range, false)? {
            let (_, bytes) = entry?;
            views.push(from_catalog(&bytes, "view definition")?);
        }
        Ok(views)
    }

    /// Stores a new or replaced view definition.
    pub fn put_view(&self, txn: &Transaction, view: &ViewDef) -> Result<()> {
        let bytes = serde_json::to_vec(view).map_err(|e| {
            Error::new(SqlState::InternalError, format!("cannot encode view definition: {e}"))
        })?;
        txn.put(CATALOG_KEYSPACE, &entry_key(VIEW, &view.schema, &view.name), bytes)?;
        Ok(())
    }

    /// Removes a view definition.
    pub fn delete_view(&self, txn: &Transaction, name: &QualifiedName) -> Result<()> {
        txn.delete(CATALOG_KEYSPACE, &entry_key(VIEW, &name.schema, &name.name))?;
        Ok(())
    }

    /// The privileges granted on the database (`None`: the default, see
    /// [`acl::ObjectKind::default_acl`]).
    pub fn database_acl(&self, txn: &Transaction) -> Result<Option<acl::Acl>> {
        match txn.get(CATALOG_KEYSPACE, &database_acl_key())? {
            Some(bytes) => from_catalog(&bytes, "database privileges").map(Some),
            None => Ok(None),
        }
    }

    /// The database's ACL, its entry locked and read at its newest version (for GRANT).
    pub fn database_acl_for_update(&self, txn: &Transaction) -> Result<Option<acl::Acl>> {
        match txn.get_for_update(CATALOG_KEYSPACE, &database_acl_key())? {
            Some(bytes) => from_catalog(&bytes, "database privileges").map(Some),
            None => Ok(None),
        }
    }

    /// Stores the database's ACL.
    pub fn put_database_acl(&self, txn: &Transaction, acl: &acl::Acl) -> Result<()> {
        let bytes = serde_json::to_vec(acl).map_err(|e| {
            Error::new(SqlState::InternalError, format!("cannot encode database privileges: {e}"))
        })?;
        txn.put(CATALOG_KEYSPACE, &database_acl_key(), bytes)?;
        Ok(())
    }

    /// The table called `name` in `schema`, its entry locked and read at its newest
    /// version: what a statement that changes the definition in place (GRANT, ALTER ...
    /// OWNER) must start from, so that two of them cannot both succeed on the same old one.
    pub fn table_for_update(&self, txn: &Transaction, name: &QualifiedName) -> Result<Option<Arc<TableDef>>> {
        match txn.get_for_update(CATALOG_KEYSPACE, &entry_key(TABLE, &name.schema, &name.name))? {
            Some(bytes) => self.decode(bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The view called `name`, locked and at its newest version (see
    /// [`Catalog::table_for_update`]).
    pub fn view_for_update(&self, txn: &Transaction, name: &QualifiedName) -> Result<Option<ViewDef>> {
        match txn.get_for_update(CATALOG_KEYSPACE, &entry_key(VIEW, &name.schema, &name.name))? {
            Some(bytes) => from_catalog(&bytes, "view definition").map(Some),
            None => Ok(None),
        }
    }

    fn decode(&self, bytes: Vec<u8>) -> Result<Arc<TableDef>> {
        let mut cache = self.cache.lock();
        if let Some(table) = cache.get(&bytes) {
            return Ok(table.clone());
        }
        let table: TableDef = from_catalog(&bytes, "table definition")?;
        let table = Arc::new(table);
        // Definitions change rarely; a bound keeps a DDL-heavy workload from growing it.
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(bytes, table.clone());
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use phantom_txn::MvccStore;

    use super::*;

    /// Entries written before schemas existed (no schema in the key or the value) are the
    /// tables and views of `public`, found by their old keys; a table of the same name in
    /// another schema is a different entry.
    #[test]
    fn entries_from_before_schemas_are_public_ones() {
        let store = MvccStore::memory();
        let txn = store.begin();
        let mut old_key = vec![TABLE];
        keycode::encode_str(&mut old_key, "t", Order::ASC);
        let old = br#"{"name":"t","keyspace":7,"engine":"btree","columns":[{"name":"a","data_type":"Integer","nullable":false}],"primary_key":[0]}"#;
        txn.put(CATALOG_KEYSPACE, &old_key, old.to_vec()).expect("put");
        let mut old_view = vec![VIEW];
        keycode::encode_str(&mut old_view, "v", Order::ASC);
        txn.put(CATALOG_KEYSPACE, &old_view, br#"{"name":"v","sql":"SELECT a FROM t"}"#.to_vec())
            .expect("put");
        txn.next_command();

        let catalog = Catalog::new();
        let t = catalog.table(&txn, PUBLIC, "t").expect("read").expect("found");
        assert_eq!((t.schema.as_str(), t.keyspace), (PUBLIC, 7));
        assert!(catalog.view(&txn, PUBLIC, "v").expect("read").is_some());
        assert!(catalog.table(&txn, "s", "t").expect("read").is_none());

        let mut other = (*t).clone();
        other.schema = "s".into();
        other.keyspace = 8;
        catalog.put_table(&txn, &other).expect("put");
        txn.next_command();
        assert_eq!(catalog.table(&txn, "s", "t").expect("read").expect("found").keyspace, 8);
        assert_eq!(catalog.table(&txn, PUBLIC, "t").expect("read").expect("found").keyspace, 7);
        assert_eq!(catalog.tables(&txn).expect("scan").len(), 2);
        assert_eq!(catalog.tables_in(&txn, "s").expect("scan").len(), 1);
        txn.rollback().expect("rollback");
    }

    /// A database whose catalog was written before owners existed (entries without
    /// `owner` or `acl`, as the code of that time stored them) opens unchanged: what it
    /// holds belongs to the bootstrap superuser, with the default privileges, so other
    /// roles get nothing until it grants them something.
    #[test]
    fn objects_stored_before_owners_existed_belong_to_the_bootstrap_superuser() {
        use crate::session::Session;
        let dir = tempfile::tempdir().expect("tempdir");
        let table_key = entry_key(TABLE, PUBLIC, "t");
        let old_table;
        {
            let instance = crate::Instance::open(dir.path(), Default::default()).expect("open");
            let txn = instance.store.begin();
            let (keyspace, _) = txn.create_keyspace(None).expect("keyspace");
            old_table = format!(
                r#"{{"name":"t","keyspace":{keyspace},"engine":"btree","columns":[{{"name":"a","data_type":"Integer","nullable":false}}],"primary_key":[0]}}"#
            );
            txn.put(CATALOG_KEYSPACE, &table_key, old_table.clone().into_bytes()).expect("put");
            let view = br#"{"name":"v","sql":"SELECT a FROM t"}"#.to_vec();
            txn.put(CATALOG_KEYSPACE, &entry_key(VIEW, PUBLIC, "v"), view).expect("put");
            let schema = br#"{"name":"app"}"#.to_vec();
            txn.put(CATALOG_KEYSPACE, &entry_key(SCHEMA, PUBLIC, "app"), schema).expect("put");
            txn.commit().expect("commit");
        }
        let instance = crate::Instance::open(dir.path(), Default::default()).expect("reopen");
        let mut admin = Session::new(instance.clone());
        admin.execute("INSERT INTO t VALUES (1); CREATE ROLE alice").expect("as the bootstrap superuser");
        let rows = admin
            .query(
                "SELECT c.relname, pg_get_userbyid(c.relowner), c.relacl IS NULL FROM pg_class c \
                 WHERE c.relname IN ('t', 'v') ORDER BY 1",
            )
            .expect("pg_class");
        let shown: Vec<String> = rows.rows.iter().map(|r| format!("{:?}", r.values())).collect();
        assert_eq!(
            shown,
            [
                r#"[Text("t"), Text("phantom"), Boolean(true)]"#,
                r#"[Text("v"), Text("phantom"), Boolean(true)]"#
            ]
        );
        let app = admin.query("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'app'");
        assert_eq!(format!("{:?}", app.expect("pg_namespace").rows[0].values()), r#"[Text("phantom")]"#);

        let mut alice = Session::new(instance.clone());
        alice.set_user("alice", false);
        for refused in ["SELECT * FROM t", "SELECT * FROM v", "DROP TABLE t", "CREATE TABLE app.x (n INT)"] {
            let e = alice.execute(refused).expect_err(refused);
            assert_eq!(e.state, SqlState::InsufficientPrivilege, "{refused}: {e}");
        }
        // Opening and using it rewrote nothing; a GRANT is the first change.
        let txn = instance.store.begin();
        assert_eq!(txn.get(CATALOG_KEYSPACE, &table_key).expect("get"), Some(old_table.into_bytes()));
        txn.rollback().expect("rollback");
        admin.execute("GRANT SELECT ON v TO alice").expect("grant");
        let rows = alice.query("SELECT a FROM v").expect("through phantom's view");
        assert_eq!(rows.rows.len(), 1);
    }

    /// `public` exists without an entry until dropped, and comes back when created.
    #[test]
    fn public_exists_until_dropped() {
        let store = MvccStore::memory();
        let txn = store.begin();
        let catalog = Catalog::new();
        let names = |txn: &Transaction| -> Vec<String> {
            catalog.schemas(txn).expect("schemas").into_iter().map(|s| s.name).collect()
        };
        assert_eq!(names(&txn), ["public"]);
        catalog.put_schema(&txn, &SchemaDef::new("app".into(), acl::bootstrap_owner())).expect("put");
        catalog.delete_schema(&txn, PUBLIC).expect("drop public");
        txn.next_command();
        assert_eq!(names(&txn), ["app"]);
        assert!(catalog.schema_exists(&txn, "pg_catalog").expect("system"));
        catalog.put_schema(&txn, &SchemaDef::public()).expect("create public");
        txn.next_command();
        assert_eq!(names(&txn), ["app", "public"]);
        txn.rollback().expect("rollback");
    }
}
