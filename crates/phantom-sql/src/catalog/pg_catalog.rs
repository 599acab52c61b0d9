//! PostgreSQL's system catalogs (`pg_class`, `pg_attribute`, `pg_type`, ...) as views over
//! our own catalog, so that psql's `\d` family, pgbench and drivers find what they look
//! for.
//!
//! Like the other system views, each is computed when a statement names it, from the
//! catalog as the statement's transaction sees it, and handed to the planner as literal
//! rows. Only the columns clients are known to read are present, with PostgreSQL's names
//! and meanings; catalogs Phantom-DB has nothing to put in (triggers, policies,
//! inheritance, publications, ...) exist and are empty, so queries that join them work.
//!
//! **OIDs.** PostgreSQL identifies everything by a 32-bit OID; clients pass them back in
//! later queries (psql's `\d t` first looks up `t`'s OID, then asks about it), so they must
//! be stable for an object's life:
//!
//! - built-in types have PostgreSQL's real OIDs (`int4` is 23, `text` 25, ...), which
//!   drivers compare against their own tables;
//! - a table's OID is fixed when it is created ([`TableDef::oid`], from its first
//!   keyspace: even numbers from 16384), so it survives TRUNCATE and ALTER TABLE
//!   rewrites, which move the rows to new keyspaces; a secondary index's likewise;
//! - a table's primary key has no index of its own here (rows are stored by it), so its
//!   `_pkey` "index" is given the table's OID plus one;
//! - views, which own no keyspace, get a hash of their name (views cannot be renamed);
//! - the bootstrap role `phantom` is 10, as `postgres` is; another role gets a hash of
//!   its name when it is created ([`RoleDef::oid`]), kept through renames;
//! - constraint OIDs only need to be unique within `pg_constraint`: a primary key or
//!   unique constraint shares its index's OID, checks and foreign keys are numbered
//!   after their table's OID.
//!
//! OIDs are carried as BIGINT values (the wire layer reports them as `int8`); the `oid`
//! and `reg*` types are accepted in casts but are not distinct column types.

use std::collections::BTreeMap;

use phantom_txn::{MvccStore, Transaction};

use super::acl::Acl;
use super::system::SystemView;
use super::{Catalog, IndexDef, ReferentialAction, RoleDef, SequenceDef, TableDef, ViewDef};
use crate::error::Result;
use crate::types::DataType::{self, BigInt, Boolean, Integer, Real, SmallInt, Text};
use crate::types::Value;

/// `pg_catalog`'s namespace OID.
pub const PG_CATALOG_NAMESPACE: i64 = 11;
/// `public`'s namespace OID.
pub const PUBLIC_NAMESPACE: i64 = 2200;
/// `information_schema`'s namespace OID.
pub const INFORMATION_SCHEMA_NAMESPACE: i64 = 13_000;
/// The bootstrap superuser's OID; it owns everything.
pub const OWNER: i64 = 10;
/// Its name.
pub const OWNER_NAME: &str = "phantom";
/// Role OIDs other than [`OWNER`] start here, above every table's and view's.
const FIRST_ROLE_OID: i64 = 1 << 33;
/// The database (one data directory is one database).
pub const DATABASE_OID: i64 = 16_384;
/// Its name.
pub const DATABASE_NAME: &str = "phantom";
/// The PostgreSQL version whose catalogs and behaviour we present.
pub const SERVER_VERSION: &str = "15.0";
/// The same as a number.
pub const SERVER_VERSION_NUM: &str = "150000";
/// Access methods.
const HEAP_AM: i64 = 2;
const BTREE_AM: i64 = 403;
const LSM_AM: i64 = 16_000;
/// The default collation.
const DEFAULT_COLLATION: i64 = 100;
/// `pg_class`'s own OID, as `pg_depend` refers to relations.
const PG_CLASS_OID: i64 = 1259;
/// The first OID handed to user objects, as in PostgreSQL.
const FIRST_USER_OID: i64 = 16_384;

/// The OID of a table created in keyspace `keyspace` (even, so that `+ 1` is free for its
/// primary key).
pub fn oid_for_keyspace(keyspace: phantom_txn::KeyspaceId) -> i64 {
    FIRST_USER_OID + 2 * i64::from(keyspace)
}

/// A table's OID.
pub fn table_oid(table: &TableDef) -> i64 {
    if table.oid != 0 { table.oid } else { oid_for_keyspace(table.keyspace) }
}

/// The OID of a table's primary-key index.
pub fn pkey_oid(table: &TableDef) -> i64 {
    table_oid(table) + 1
}

/// A secondary index's OID.
pub fn index_oid(index: &IndexDef) -> i64 {
    if index.oid != 0 { index.oid } else { oid_for_keyspace(index.keyspace) }
}

/// A view's OID: a hash of its name, above every keyspace-derived OID.
pub fn view_oid(view: &ViewDef) -> i64 {
    (1 << 32) + i64::from(fnv1a(&view.name))
}

/// The OID a new role called `name` is given unless another role has it already.
pub fn role_oid_for(name: &str) -> i64 {
    FIRST_ROLE_OID + i64::from(fnv1a(name))
}

/// The OID of a table's `k`-th CHECK constraint, or (with `foreign`) foreign key.
fn constraint_oid(table: &TableDef, foreign: bool, k: usize) -> i64 {
    (1 << 40) + (table_oid(table) << 10) + if foreign { 512 } else { 0 } + k as i64
}

/// The name of a table's primary-key index and constraint.
pub fn pkey_name(table: &TableDef) -> String {
    format!("{}_pkey", table.name)
}

/// A built-in type as `pg_type` lists it.
struct PgType {
    oid: i64,
    name: &'static str,
    len: i64,
    category: &'static str,
    array: i64,
    collatable: bool,
}

const fn ty(oid: i64, name: &'static str, len: i64, category: &'static str, array: i64) -> PgType {
    PgType { oid, name, len, category, array, collatable: false }
}

const fn string(oid: i64, name: &'static str, len: i64, array: i64) -> PgType {
    PgType { oid, name, len, category: "S", array, collatable: true }
}

/// Built-in types with PostgreSQL's OIDs: the ones Phantom-DB has, and the ones clients
/// look up or find in catalog columns.
const TYPES: &[PgType] = &[
    ty(16, "bool", 1, "B", 1000),
    ty(17, "bytea", -1, "U", 1001),
    ty(18, "char", 1, "Z", 1002),
    string(19, "name", 64, 1003),
    ty(20, "int8", 8, "N", 1016),
    ty(21, "int2", 2, "N", 1005),
    ty(22, "int2vector", -1, "A", 1006),
    ty(23, "int4", 4, "N", 1007),
    ty(24, "regproc", 4, "N", 1008),
    string(25, "text", -1, 1009),
    ty(26, "oid", 4, "N", 1028),
    ty(28, "xid", 4, "U", 1011),
    ty(30, "oidvector", -1, "A", 1013),
    ty(114, "json", -1, "U", 199),
    ty(700, "float4", 4, "N", 1021),
    ty(701, "float8", 8, "N", 1022),
    ty(705, "unknown", -2, "X", 0),
    string(1042, "bpchar", -1, 1014),
    string(1043, "varchar", -1, 1015),
    ty(1082, "date", 4, "D", 1182),
    ty(1083, "time", 8, "D", 1183),
    ty(1114, "timestamp", 8, "D", 1115),
    ty(1184, "timestamptz", 8, "D", 1185),
    ty(1186, "interval", 16, "T", 1187),
    ty(1700, "numeric", -1, "N", 1231),
    ty(2205, "regclass", 4, "N", 2210),
    ty(2206, "regtype", 4, "N", 2211),
    ty(2249, "record", -1, "P", 2287),
    ty(2278, "void", 4, "P", 0),
    ty(2950, "uuid", 16, "U", 2951),
    ty(3802, "jsonb", -1, "U", 3807),
    ty(4089, "regnamespace", 4, "N", 4090),
    ty(4096, "regrole", 4, "N", 4097),
];

/// The OID of a column type.
pub fn type_oid(t: DataType) -> i64 {
    match t {
        DataType::Boolean => 16,
        DataType::Bytea => 17,
        DataType::BigInt => 20,
        DataType::SmallInt => 21,
        DataType::Integer => 23,
        DataType::Text => 25,
        DataType::Real => 700,
        DataType::Double => 701,
        DataType::Char(_) => 1042,
        DataType::Varchar(_) => 1043,
        DataType::Date => 1082,
        DataType::Time => 1083,
        DataType::Timestamp => 1114,
        DataType::TimestampTz => 1184,
        DataType::Interval => 1186,
        DataType::Numeric(_) => 1700,
        DataType::Null => 705,
    }
}

/// The type modifier PostgreSQL records for a column type (`-1`: none).
pub fn type_modifier(t: DataType) -> i64 {
    match t {
        DataType::Varchar(Some(n)) | DataType::Char(n) => i64::from(n) + 4,
        // PostgreSQL packs NUMERIC(p, s) as ((p << 16) | s) + 4.
        DataType::Numeric(Some((p, s))) => ((i64::from(p) << 16) | i64::from(s)) + 4,
        _ => -1,
    }
}

/// `format_type(oid, typmod)`: the SQL name of a type as `\d` shows it; `None` for an
/// unknown OID (PostgreSQL prints `???`).
pub fn format_type(oid: i64, typmod: Option<i64>) -> Option<String> {
    let length = typmod.filter(|&m| m >= 4).map(|m| m - 4);
    let with_length = |name: &str| match length {
        Some(n) => format!("{name}({n})"),
        None => name.to_string(),
    };
    Some(match oid {
        16 => "boolean".into(),
        18 => "\"char\"".into(),
        20 => "bigint".into(),
        21 => "smallint".into(),
        23 => "integer".into(),
        700 => "real".into(),
        701 => "double precision".into(),
        1042 if typmod == Some(-1) => "bpchar".into(),
        1042 => with_length("character"),
        1043 => with_length("character varying"),
        1083 => "time without time zone".into(),
        1114 => "timestamp without time zone".into(),
        1184 => "timestamp with time zone".into(),
        1700 => match typmod.filter(|&m| m >= 4).map(|m| m - 4) {
            Some(m) => format!("numeric({},{})", m >> 16, m & 0xffff),
            None => "numeric".into(),
        },
        _ => {
            if let Some(t) = TYPES.iter().find(|t| t.oid == oid) {
                return Some(t.name.to_string());
            }
            let element = TYPES.iter().find(|t| t.array == oid)?;
            return format_type(element.oid, typmod).map(|e| format!("{e}[]"));
        }
    })
}

/// The OID of the type called `name` (`regtype` input): PostgreSQL's internal names and
/// the SQL spellings `format_type` produces.
pub fn type_by_name(name: &str) -> Option<i64> {
    let name = name.trim().trim_start_matches("pg_catalog.");
    let name = name.trim_matches('"');
    let base = match name {
        "boolean" => "bool",
        "smallint" => "int2",
        "integer" | "int" => "int4",
        "bigint" => "int8",
        "real" => "float4",
        "double precision" | "float" => "float8",
        "character varying" => "varchar",
        "character" => "bpchar",
        "time without time zone" => "time",
        "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "decimal" => "numeric",
        other => other,
    };
    if let Some(element) = base.strip_suffix("[]") {
        let oid = type_by_name(element)?;
        return TYPES.iter().find(|t| t.oid == oid).map(|t| t.array).filter(|&a| a != 0);
    }
    if let Some(t) = TYPES.iter().find(|t| t.name == base) {
        return Some(t.oid);
    }
    let element = base.strip_prefix('_')?;
    TYPES.iter().find(|t| t.name == element).map(|t| t.array).filter(|&a| a != 0)
}

/// The internal name of the type with `oid` (`regtype` output uses [`format_type`]).
pub fn type_name(oid: i64) -> Option<String> {
    if let Some(t) = TYPES.iter().find(|t| t.oid == oid) {
        return Some(t.name.to_string());
    }
    TYPES.iter().find(|t| t.array == oid).map(|t| format!("_{}", t.name))
}

/// A namespace's name.
pub fn namespace_name(oid: i64) -> Option<&'static str> {
    match oid {
        PG_CATALOG_NAMESPACE => Some("pg_catalog"),
        PUBLIC_NAMESPACE => Some("public"),
        INFORMATION_SCHEMA_NAMESPACE => Some("information_schema"),
        _ => None,
    }
}

/// The OID of schema `name`: PostgreSQL's for the built-in ones, else a hash of the name
/// (stable, and above every keyspace-derived and view OID).
pub fn schema_oid(name: &str) -> i64 {
    namespace_oid(name).unwrap_or_else(|| (1 << 33) + i64::from(fnv1a(name)))
}

/// FNV-1a of `name`: stable across runs and builds, unlike std's hasher.
fn fnv1a(name: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    hash
}

/// A built-in namespace's OID.
pub fn namespace_oid(name: &str) -> Option<i64> {
    [PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE, INFORMATION_SCHEMA_NAMESPACE]
        .into_iter()
        .find(|&oid| namespace_name(oid) == Some(name))
}

/// What a relation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelKind {
    Table,
    View,
    Index,
    Sequence,
}

impl RelKind {
    fn code(self) -> &'static str {
        match self {
            RelKind::Table => "r",
            RelKind::View => "v",
            RelKind::Index => "i",
            RelKind::Sequence => "S",
        }
    }
}

/// A relation as `pg_class` lists it.
pub struct Relation {
    pub oid: i64,
    pub name: String,
    /// Its schema's OID.
    pub namespace: i64,
    pub kind: RelKind,
    /// Its columns: name, type, NOT NULL, default.
    pub columns: Vec<(String, DataType, bool, Option<String>)>,
    /// For an index: the table's OID, whether it is unique / the primary key, its
    /// definition.
    pub index: Option<IndexInfo>,
    /// For a table: its definition.
    pub table: Option<std::sync::Arc<TableDef>>,
    /// Keyspaces holding its data, for sizes.
    pub keyspaces: Vec<phantom_txn::KeyspaceId>,
    /// For a view: its query.
    pub view_sql: Option<String>,
    /// The owning role's OID (an index's is its table's).
    pub owner: i64,
    /// Its ACL, if a GRANT or REVOKE made one (`None` is the owner's default).
    pub acl: Option<Acl>,
}

/// What `pg_index` says about an index.
pub struct IndexInfo {
    pub table: i64,
    pub unique: bool,
    pub primary: bool,
    /// 1-based table column numbers.
    pub columns: Vec<i64>,
    pub access_method: i64,
    /// `pg_get_indexdef`.
    pub definition: String,
}

/// Every relation `txn` sees: tables, their indexes (the primary key's included), views.
pub fn relations(catalog: &Catalog, txn: &Transaction) -> Result<Vec<Relation>> {
    let mut out = Vec::new();
    for table in catalog.tables(txn)? {
        let oid = table_oid(&table);
        let namespace = schema_oid(&table.schema);
        let columns = table
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.data_type, !c.nullable, c.default.clone()))
            .collect();
        let index_columns = |cols: &[usize]| -> Vec<(String, DataType, bool, Option<String>)> {
            cols.iter()
                .filter_map(|&i| table.columns.get(i))
                .map(|c| (c.name.clone(), c.data_type, !c.nullable, None))
                .collect()
        };
        if !table.primary_key.is_empty() {
            out.push(Relation {
                namespace,
                oid: pkey_oid(&table),
                name: pkey_name(&table),
                kind: RelKind::Index,
                columns: index_columns(&table.primary_key),
                index: Some(IndexInfo {
                    table: oid,
                    unique: true,
                    primary: true,
                    columns: table.primary_key.iter().map(|&i| i as i64 + 1).collect(),
                    access_method: BTREE_AM,
                    definition: index_definition(
                        &table,
                        &pkey_name(&table),
                        true,
                        &table.primary_key,
                        "btree",
                    ),
                }),
                table: None,
                keyspaces: Vec::new(),
                view_sql: None,
                owner: table.owner,
                acl: None,
            });
        }
        for ix in &table.indexes {
            let method = if ix.engine.contains("lsm") { "lsm" } else { "btree" };
            out.push(Relation {
                namespace,
                oid: index_oid(ix),
                name: ix.name.clone(),
                kind: RelKind::Index,
                columns: index_columns(&ix.columns),
                index: Some(IndexInfo {
                    table: oid,
                    unique: ix.unique,
                    primary: false,
                    columns: ix.columns.iter().map(|&i| i as i64 + 1).collect(),
                    access_method: if method == "lsm" { LSM_AM } else { BTREE_AM },
                    definition: index_definition(&table, &ix.name, ix.unique, &ix.columns, method),
                }),
                table: None,
                keyspaces: vec![ix.keyspace],
                view_sql: None,
                owner: table.owner,
                acl: None,
            });
        }
        out.push(Relation {
            namespace,
            oid,
            name: table.name.clone(),
            kind: RelKind::Table,
            columns,
            index: None,
            keyspaces: vec![table.keyspace],
            owner: table.owner,
            acl: table.acl.clone(),
            table: Some(table),
            view_sql: None,
        });
    }
    for view in catalog.views(txn)? {
        let namespace = schema_oid(&view.schema);
        // The view's columns come from binding its query; one that no longer binds (a
        // table it reads was dropped) is listed without columns.
        let mut binder = crate::binder::Binder::new(catalog, txn);
        let columns = match crate::parser::parse_one(&view.sql) {
            Ok(sqlparser::ast::Statement::Query(q)) => {
                binder.query(&q).map(|p| p.columns()).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let mut names = view.columns.iter();
        let columns = columns
            .into_iter()
            .filter(|c| !c.hidden)
            .map(|c| (names.next().cloned().unwrap_or(c.name), c.data_type, false, None))
            .collect();
        out.push(Relation {
            namespace,
            oid: view_oid(&view),
            name: view.name.clone(),
            kind: RelKind::View,
            columns,
            index: None,
            table: None,
            keyspaces: Vec::new(),
            view_sql: Some(view.sql.clone()),
            owner: view.owner,
            acl: view.acl.clone(),
        });
    }
    for sequence in catalog.sequences(txn)? {
        // The columns a sequence shows as a relation in PostgreSQL.
        let columns = vec![
            ("last_value".into(), BigInt, true, None),
            ("log_cnt".into(), BigInt, true, None),
            ("is_called".into(), Boolean, true, None),
        ];
        out.push(Relation {
            namespace: schema_oid(&sequence.schema),
            oid: sequence_oid(&sequence),
            name: sequence.name.clone(),
            kind: RelKind::Sequence,
            columns,
            index: None,
            table: None,
            keyspaces: vec![sequence.keyspace],
            view_sql: None,
            owner: sequence.owner,
            acl: sequence.acl.clone(),
        });
    }
    Ok(out)
}

/// The OID of a system catalog as `'pg_catalog.pg_class'::regclass` gives it (psql uses
/// them to filter `pg_depend`), PostgreSQL's own numbers.
pub fn system_relation_oid(name: &str) -> Option<i64> {
    Some(match name {
        "pg_class" => PG_CLASS_OID,
        "pg_type" => 1247,
        "pg_attribute" => 1249,
        "pg_proc" => 1255,
        "pg_constraint" => 2606,
        "pg_namespace" => 2615,
        _ => return None,
    })
}

/// A sequence's OID.
pub fn sequence_oid(sequence: &SequenceDef) -> i64 {
    oid_for_keyspace(sequence.keyspace)
}

/// `pg_sequence`: each sequence's options.
fn pg_sequence(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![
        ("seqrelid", BigInt),
        ("seqtypid", BigInt),
        ("seqstart", BigInt),
        ("seqincrement", BigInt),
        ("seqmax", BigInt),
        ("seqmin", BigInt),
        ("seqcache", BigInt),
        ("seqcycle", Boolean),
    ];
    let rows = catalog
        .sequences(txn)?
        .iter()
        .map(|s| {
            vec![
                int(sequence_oid(s)),
                int(type_oid(s.data_type)),
                int(s.start),
                int(s.increment),
                int(s.max_value),
                int(s.min_value),
                int(s.cache),
                bool(s.cycle),
            ]
        })
        .collect();
    Ok(SystemView { columns, rows })
}

/// `pg_depend`, as far as it concerns clients: a sequence owned by a column depends on
/// it automatically (`deptype` 'a'), which is how psql shows "Owned by".
fn pg_depend(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![
        ("classid", BigInt),
        ("objid", BigInt),
        ("objsubid", Integer),
        ("refclassid", BigInt),
        ("refobjid", BigInt),
        ("refobjsubid", Integer),
        ("deptype", Text),
    ];
    let mut rows = Vec::new();
    for sequence in catalog.sequences(txn)? {
        let Some(owner) = &sequence.owned_by else { continue };
        let Some(table) = catalog.table(txn, &owner.schema, &owner.table)? else { continue };
        let Some(column) = table.columns.iter().position(|c| c.name == owner.column) else { continue };
        rows.push(vec![
            int(PG_CLASS_OID),
            int(sequence_oid(&sequence)),
            int(0),
            int(PG_CLASS_OID),
            int(table_oid(&table)),
            int(column as i64 + 1),
            text("a"),
        ]);
    }
    Ok(SystemView { columns, rows })
}

/// `pg_get_indexdef` of an index.
fn index_definition(table: &TableDef, name: &str, unique: bool, columns: &[usize], method: &str) -> String {
    let names: Vec<&str> =
        columns.iter().filter_map(|&i| table.columns.get(i)).map(|c| c.name.as_str()).collect();
    format!(
        "CREATE {}INDEX {} ON public.{} USING {method} ({})",
        if unique { "UNIQUE " } else { "" },
        quote_ident(name),
        quote_ident(&table.name),
        names.iter().map(|n| quote_ident(n)).collect::<Vec<_>>().join(", ")
    )
}

/// An identifier quoted when PostgreSQL would quote it.
pub fn quote_ident(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !is_reserved(name);
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// Reserved words that must be quoted as identifiers (the common ones).
fn is_reserved(word: &str) -> bool {
    matches!(
        word,
        "all"
            | "and"
            | "any"
            | "as"
            | "asc"
            | "both"
            | "case"
            | "cast"
            | "check"
            | "column"
            | "constraint"
            | "create"
            | "default"
            | "desc"
            | "distinct"
            | "do"
            | "else"
            | "end"
            | "false"
            | "for"
            | "foreign"
            | "from"
            | "grant"
            | "group"
            | "having"
            | "in"
            | "into"
            | "is"
            | "join"
            | "leading"
            | "limit"
            | "not"
            | "null"
            | "offset"
            | "on"
            | "or"
            | "order"
            | "primary"
            | "references"
            | "select"
            | "table"
            | "then"
            | "to"
            | "trailing"
            | "true"
            | "union"
            | "unique"
            | "user"
            | "using"
            | "when"
            | "where"
            | "with"
    )
}

/// A constraint as `pg_constraint` lists it.
pub struct Constraint {
    pub oid: i64,
    pub name: String,
    /// Its table's schema's OID.
    pub namespace: i64,
    /// `p`, `u`, `f` or `c`.
    pub kind: &'static str,
    pub table: i64,
    pub index: i64,
    pub parent: i64,
    pub columns: Vec<i64>,
    pub parent_columns: Vec<i64>,
    pub on_update: &'static str,
    pub on_delete: &'static str,
    /// `pg_get_constraintdef`.
    pub definition: String,
    /// A CHECK's expression.
    pub check: Option<String>,
}

fn action_code(a: ReferentialAction) -> &'static str {
    match a {
        ReferentialAction::NoAction => "a",
        ReferentialAction::Restrict => "r",
        ReferentialAction::Cascade => "c",
        ReferentialAction::SetNull => "n",
        ReferentialAction::SetDefault => "d",
    }
}

/// Every constraint of every table.
pub fn constraints(catalog: &Catalog, txn: &Transaction) -> Result<Vec<Constraint>> {
    let tables = catalog.tables(txn)?;
    let by_name: BTreeMap<(&str, &str), &TableDef> =
        tables.iter().map(|t| ((t.schema.as_str(), t.name.as_str()), t.as_ref())).collect();
    let mut out = Vec::new();
    for table in &tables {
        let oid = table_oid(table);
        let names = |cols: &[usize], t: &TableDef| -> String {
            cols.iter()
                .filter_map(|&i| t.columns.get(i))
                .map(|c| quote_ident(&c.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let numbers = |cols: &[usize]| cols.iter().map(|&i| i as i64 + 1).collect::<Vec<_>>();
        let base = |name: String, kind, definition| Constraint {
            oid: 0,
            name,
            namespace: schema_oid(&table.schema),
            kind,
            table: oid,
            index: 0,
            parent: 0,
            columns: Vec::new(),
            parent_columns: Vec::new(),
            on_update: " ",
            on_delete: " ",
            definition,
            check: None,
        };
        if !table.primary_key.is_empty() {
            let definition = format!("PRIMARY KEY ({})", names(&table.primary_key, table));
            out.push(Constraint {
                oid: pkey_oid(table),
                index: pkey_oid(table),
                columns: numbers(&table.primary_key),
                ..base(pkey_name(table), "p", definition)
            });
        }
        for ix in table.indexes.iter().filter(|ix| ix.unique) {
            let definition = format!("UNIQUE ({})", names(&ix.columns, table));
            out.push(Constraint {
                oid: index_oid(ix),
                index: index_oid(ix),
                columns: numbers(&ix.columns),
                ..base(ix.name.clone(), "u", definition)
            });
        }
        for (k, check) in table.checks.iter().enumerate() {
            out.push(Constraint {
                oid: constraint_oid(table, false, k),
                check: Some(check.expr.clone()),
                ..base(check.name.clone(), "c", format!("CHECK ({})", check.expr))
            });
        }
        for (k, fk) in table.foreign_keys.iter().enumerate() {
            let Some(parent) = by_name.get(&(fk.parent_schema.as_str(), fk.parent.as_str())) else {
                continue;
            };
            let mut definition = format!(
                "FOREIGN KEY ({}) REFERENCES {}({})",
                names(&fk.columns, table),
                quote_ident(&parent.name),
                names(&fk.parent_columns, parent)
            );
            for (what, action) in [("UPDATE", fk.on_update), ("DELETE", fk.on_delete)] {
                if action != ReferentialAction::NoAction {
                    definition.push_str(&format!(" ON {what} {}", action.sql()));
                }
            }
            // The unique index the reference goes through: the parent's primary key or
            // the unique index on exactly those columns.
            let mut wanted = fk.parent_columns.clone();
            wanted.sort_unstable();
            let same = |cols: &[usize]| {
                let mut c = cols.to_vec();
                c.sort_unstable();
                c == wanted
            };
            let index = if same(&parent.primary_key) {
                pkey_oid(parent)
            } else {
                parent.indexes.iter().find(|ix| ix.unique && same(&ix.columns)).map_or(0, index_oid)
            };
            out.push(Constraint {
                oid: constraint_oid(table, true, k),
                index,
                parent: table_oid(parent),
                columns: numbers(&fk.columns),
                parent_columns: numbers(&fk.parent_columns),
                on_update: action_code(fk.on_update),
                on_delete: action_code(fk.on_delete),
                ..base(fk.name.clone(), "f", definition)
            });
        }
    }
    Ok(out)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn int(v: i64) -> Value {
    Value::Int(v)
}

fn bool(b: bool) -> Value {
    Value::Boolean(b)
}

/// A PostgreSQL array literal (`{1,2}`): arrays are carried as their text form.
pub fn array_text(items: impl IntoIterator<Item = String>) -> Value {
    Value::Text(format!("{{{}}}", items.into_iter().collect::<Vec<_>>().join(",")))
}

/// An empty view with these columns.
fn empty(columns: Vec<(&'static str, DataType)>) -> SystemView {
    SystemView { columns, rows: Vec::new() }
}

/// The catalog view called `name` (without its `pg_catalog.` prefix), if there is one.
pub fn view(
    name: &str,
    catalog: &Catalog,
    store: &MvccStore,
    txn: &Transaction,
    settings: &[(String, String)],
) -> Result<Option<SystemView>> {
    Ok(Some(match name {
        "pg_namespace" => pg_namespace(catalog, txn)?,
        "pg_class" => pg_class(catalog, store, txn)?,
        "pg_attribute" => pg_attribute(catalog, txn)?,
        "pg_attrdef" => pg_attrdef(catalog, txn)?,
        "pg_sequence" => pg_sequence(catalog, txn)?,
        "pg_depend" => pg_depend(catalog, txn)?,
        "pg_index" => pg_index(catalog, txn)?,
        "pg_constraint" => pg_constraint(catalog, txn)?,
        "pg_type" => pg_type(),
        "pg_database" => pg_database(catalog, txn)?,
        "pg_roles" => pg_roles(&catalog.roles(txn)?),
        "pg_user" => pg_user(&catalog.roles(txn)?),
        "pg_authid" => pg_authid(&catalog.roles(txn)?)?,
        "pg_auth_members" => empty(vec![
            ("oid", BigInt),
            ("roleid", BigInt),
            ("member", BigInt),
            ("grantor", BigInt),
            ("admin_option", Boolean),
        ]),
        "pg_settings" => pg_settings(settings),
        "pg_am" => pg_am(),
        "pg_collation" => pg_collation(),
        "pg_tablespace" => pg_tablespace(),
        "pg_proc" => pg_proc(),
        "pg_description" => empty(vec![
            ("objoid", BigInt),
            ("classoid", BigInt),
            ("objsubid", Integer),
            ("description", Text),
        ]),
        "pg_inherits" => empty(vec![
            ("inhrelid", BigInt),
            ("inhparent", BigInt),
            ("inhseqno", Integer),
            ("inhdetachpending", Boolean),
        ]),
        "pg_partitioned_table" => empty(vec![
            ("partrelid", BigInt),
            ("partstrat", Text),
            ("partnatts", SmallInt),
            ("partdefid", BigInt),
            ("partattrs", Text),
            ("partexprs", Text),
        ]),
        "pg_trigger" => empty(vec![
            ("oid", BigInt),
            ("tgrelid", BigInt),
            ("tgparentid", BigInt),
            ("tgname", Text),
            ("tgfoid", BigInt),
            ("tgtype", SmallInt),
            ("tgenabled", Text),
            ("tgisinternal", Boolean),
            ("tgconstrrelid", BigInt),
            ("tgconstrindid", BigInt),
            ("tgconstraint", BigInt),
            ("tgdeferrable", Boolean),
            ("tginitdeferred", Boolean),
            ("tgnargs", SmallInt),
            ("tgattr", Text),
            ("tgargs", Text),
            ("tgqual", Text),
        ]),
        "pg_policy" => empty(vec![
            ("oid", BigInt),
            ("polname", Text),
            ("polrelid", BigInt),
            ("polcmd", Text),
            ("polpermissive", Boolean),
            ("polroles", Text),
            ("polqual", Text),
            ("polwithcheck", Text),
        ]),
        "pg_statistic_ext" => empty(vec![
            ("oid", BigInt),
            ("stxrelid", BigInt),
            ("stxname", Text),
            ("stxnamespace", BigInt),
            ("stxowner", BigInt),
            ("stxstattarget", Integer),
            ("stxkeys", Text),
            ("stxkind", Text),
            ("stxexprs", Text),
        ]),
        "pg_publication" => empty(vec![
            ("oid", BigInt),
            ("pubname", Text),
            ("pubowner", BigInt),
            ("puballtables", Boolean),
            ("pubinsert", Boolean),
            ("pubupdate", Boolean),
            ("pubdelete", Boolean),
            ("pubtruncate", Boolean),
            ("pubviaroot", Boolean),
        ]),
        "pg_publication_namespace" => empty(vec![("oid", BigInt), ("pnpubid", BigInt), ("pnnspid", BigInt)]),
        "pg_publication_rel" => empty(vec![
            ("oid", BigInt),
            ("prpubid", BigInt),
            ("prrelid", BigInt),
            ("prqual", Text),
            ("prattrs", Text),
        ]),
        "pg_extension" => empty(vec![
            ("oid", BigInt),
            ("extname", Text),
            ("extowner", BigInt),
            ("extnamespace", BigInt),
            ("extrelocatable", Boolean),
            ("extversion", Text),
        ]),
        "pg_range" => empty(vec![
            ("rngtypid", BigInt),
            ("rngsubtype", BigInt),
            ("rngmultitypid", BigInt),
            ("rngcollation", BigInt),
            ("rngsubopc", BigInt),
            ("rngcanonical", BigInt),
            ("rngsubdiff", BigInt),
        ]),
        "pg_enum" => {
            empty(vec![("oid", BigInt), ("enumtypid", BigInt), ("enumsortorder", Real), ("enumlabel", Text)])
        }
        _ => return Ok(None),
    }))
}

/// Role names by OID, for ACL items (a role that is gone shows as its OID, as in
/// PostgreSQL).
fn role_names(catalog: &Catalog, txn: &Transaction) -> Result<impl Fn(i64) -> String> {
    let names: std::collections::HashMap<i64, String> =
        catalog.roles(txn)?.into_iter().map(|r| (r.oid, r.name)).collect();
    Ok(move |oid: i64| names.get(&oid).cloned().unwrap_or_else(|| oid.to_string()))
}

/// An `aclitem[]` column: NULL for the owner's default, else the list's text form.
fn acl_value(acl: Option<&Acl>, name_of: &impl Fn(i64) -> String) -> Value {
    acl.map_or(Value::Null, |acl| Value::Text(acl.to_text(name_of)))
}

fn pg_namespace(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![("oid", BigInt), ("nspname", Text), ("nspowner", BigInt), ("nspacl", Text)];
    let name_of = role_names(catalog, txn)?;
    // The system schemas are PostgreSQL's: their owner's, USAGE for everyone.
    let mut schemas: Vec<crate::catalog::SchemaDef> = crate::catalog::SYSTEM_SCHEMAS
        .iter()
        .map(|s| crate::catalog::SchemaDef { name: s.to_string(), ..crate::catalog::SchemaDef::public() })
        .collect();
    schemas.extend(catalog.schemas(txn)?);
    let rows = schemas
        .iter()
        .map(|s| {
            vec![int(schema_oid(&s.name)), text(&s.name), int(s.owner), acl_value(s.acl.as_ref(), &name_of)]
        })
        .collect();
    Ok(SystemView { columns, rows })
}

/// Bytes on disk of `keyspaces`, from the storage statistics.
pub fn disk_bytes(store: &MvccStore, keyspaces: &[phantom_txn::KeyspaceId]) -> i64 {
    let stats = store.storage_stats();
    stats
        .keyspaces
        .iter()
        .filter(|(ks, _, _)| keyspaces.contains(ks))
        .map(|(_, engine, _)| {
            // In memory nothing is on disk; the live bytes are the honest size then.
            let bytes = if engine.disk_bytes > 0 { engine.disk_bytes } else { engine.live_bytes };
            i64::try_from(bytes).unwrap_or(i64::MAX)
        })
        .sum()
}

fn pg_class(catalog: &Catalog, store: &MvccStore, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![
        ("oid", BigInt),
        ("relname", Text),
        ("relnamespace", BigInt),
        ("reltype", BigInt),
        ("reloftype", BigInt),
        ("relowner", BigInt),
        ("relam", BigInt),
        ("relfilenode", BigInt),
        ("reltablespace", BigInt),
        ("relpages", Integer),
        ("reltuples", Real),
        ("relallvisible", Integer),
        ("reltoastrelid", BigInt),
        ("relhasindex", Boolean),
        ("relisshared", Boolean),
        ("relpersistence", Text),
        ("relkind", Text),
        ("relnatts", SmallInt),
        ("relchecks", SmallInt),
        ("relhasrules", Boolean),
        ("relhastriggers", Boolean),
        ("relhassubclass", Boolean),
        ("relrowsecurity", Boolean),
        ("relforcerowsecurity", Boolean),
        ("relispopulated", Boolean),
        ("relreplident", Text),
        ("relispartition", Boolean),
        ("relrewrite", BigInt),
        ("relacl", Text),
        ("reloptions", Text),
        ("relpartbound", Text),
    ];
    let stats = store.storage_stats();
    let relations = relations(catalog, txn)?;
    let name_of = role_names(catalog, txn)?;
    let referenced: std::collections::HashSet<(&str, &str)> = relations
        .iter()
        .filter_map(|r| r.table.as_ref())
        .flat_map(|t| t.foreign_keys.iter().map(|fk| (fk.parent_schema.as_str(), fk.parent.as_str())))
        .collect();
    let mut rows = Vec::new();
    for r in &relations {
        let keys: u64 = stats
            .keyspaces
            .iter()
            .filter(|(ks, _, _)| r.keyspaces.contains(ks))
            .map(|(_, engine, _)| engine.keys)
            .sum();
        let pages: u64 = stats
            .keyspaces
            .iter()
            .filter(|(ks, _, _)| r.keyspaces.contains(ks))
            .map(|(_, _, btree)| btree.as_ref().map_or(0, |b| b.file_pages))
            .sum();
        let has_index = r.table.as_ref().is_some_and(|t| !t.primary_key.is_empty() || !t.indexes.is_empty());
        // PostgreSQL enforces foreign keys with triggers on both tables, and psql shows a
        // table's foreign keys and "Referenced by" only when it has triggers.
        let has_triggers = r.table.as_ref().is_some_and(|t| {
            !t.foreign_keys.is_empty() || referenced.contains(&(t.schema.as_str(), t.name.as_str()))
        });
        let checks = r.table.as_ref().map_or(0, |t| t.checks.len() as i64);
        let am = match (&r.index, r.kind) {
            (Some(ix), _) => ix.access_method,
            (None, RelKind::Table) => HEAP_AM,
            _ => 0,
        };
        rows.push(vec![
            int(r.oid),
            text(&r.name),
            int(r.namespace),
            int(0),
            int(0),
            int(r.owner),
            int(am),
            int(r.keyspaces.first().map_or(0, |&k| i64::from(k))),
            int(0),
            int(i64::try_from(pages).unwrap_or(i64::MAX)),
            // Stored versions approximate the rows (until garbage collection catches up).
            if r.kind == RelKind::View { Value::Float(-1.0) } else { Value::Float(keys as f64) },
            int(0),
            int(0),
            bool(has_index),
            bool(false),
            text("p"),
            text(r.kind.code()),
            int(r.columns.len() as i64),
            int(checks),
            bool(r.kind == RelKind::View),
            bool(has_triggers),
            bool(false),
            bool(false),
            bool(false),
            bool(true),
            text("d"),
            bool(false),
            int(0),
            acl_value(r.acl.as_ref(), &name_of),
            Value::Null,
            Value::Null,
        ]);
    }
    Ok(SystemView { columns, rows })
}

fn pg_attribute(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![
        ("attrelid", BigInt),
        ("attname", Text),
        ("atttypid", BigInt),
        ("attstattarget", Integer),
        ("attlen", SmallInt),
        ("attnum", SmallInt),
        ("attndims", Integer),
        ("atttypmod", Integer),
        ("attbyval", Boolean),
        ("attnotnull", Boolean),
        ("atthasdef", Boolean),
        ("atthasmissing", Boolean),
        ("attidentity", Text),
        ("attgenerated", Text),
        ("attisdropped", Boolean),
        ("attislocal", Boolean),
        ("attinhcount", Integer),
        ("attcollation", BigInt),
        ("attacl", Text),
        ("attoptions", Text),
    ];
    let mut rows = Vec::new();
    for r in relations(catalog, txn)? {
        for (i, (name, data_type, not_null, default)) in r.columns.iter().enumerate() {
            let identity = r
                .table
                .as_ref()
                .and_then(|t| t.columns.get(i))
                .and_then(|c| c.identity)
                .map_or("", |x| x.code());
            let oid = type_oid(*data_type);
            let pg = TYPES.iter().find(|t| t.oid == oid);
            let len = pg.map_or(-1, |t| t.len);
            rows.push(vec![
                int(r.oid),
                text(name),
                int(oid),
                int(-1),
                int(len),
                int(i as i64 + 1),
                int(0),
                int(type_modifier(*data_type)),
                bool(matches!(len, 1 | 2 | 4 | 8)),
                bool(*not_null),
                bool(default.is_some()),
                bool(false),
                text(identity),
                text(""),
                bool(false),
                bool(true),
                int(0),
                int(if pg.is_some_and(|t| t.collatable) { DEFAULT_COLLATION } else { 0 }),
                Value::Null,
                Value::Null,
            ]);
        }
    }
    Ok(SystemView { columns, rows })
}

fn pg_attrdef(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![("oid", BigInt), ("adrelid", BigInt), ("adnum", SmallInt), ("adbin", Text)];
    let mut rows = Vec::new();
    for table in catalog.tables(txn)? {
        let oid = table_oid(&table);
        for (i, c) in table.columns.iter().enumerate() {
            if let Some(default) = &c.default {
                // Defaults are numbered after the table like constraints, in their own range.
                rows.push(vec![
                    int((1 << 41) + (oid << 10) + i as i64),
                    int(oid),
                    int(i as i64 + 1),
                    text(default),
                ]);
            }
        }
    }
    Ok(SystemView { columns, rows })
}

fn pg_index(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![
        ("indexrelid", BigInt),
        ("indrelid", BigInt),
        ("indnatts", SmallInt),
        ("indnkeyatts", SmallInt),
        ("indisunique", Boolean),
        ("indnullsnotdistinct", Boolean),
        ("indisprimary", Boolean),
        ("indisexclusion", Boolean),
        ("indimmediate", Boolean),
        ("indisclustered", Boolean),
        ("indisvalid", Boolean),
        ("indcheckxmin", Boolean),
        ("indisready", Boolean),
        ("indislive", Boolean),
        ("indisreplident", Boolean),
        ("indkey", Text),
        ("indcollation", Text),
        ("indclass", Text),
        ("indoption", Text),
        ("indexprs", Text),
        ("indpred", Text),
    ];
    let mut rows = Vec::new();
    for r in relations(catalog, txn)? {
        let Some(ix) = &r.index else { continue };
        let n = ix.columns.len() as i64;
        let vector = |v: Vec<String>| Value::Text(v.join(" "));
        rows.push(vec![
            int(r.oid),
            int(ix.table),
            int(n),
            int(n),
            bool(ix.unique),
            bool(false),
            bool(ix.primary),
            bool(false),
            bool(true),
            bool(false),
            bool(true),
            bool(false),
            bool(true),
            bool(true),
            bool(false),
            vector(ix.columns.iter().map(i64::to_string).collect()),
            vector(
                r.columns
                    .iter()
                    .map(|(_, t, _, _)| if t.is_string() { "100" } else { "0" }.to_string())
                    .collect(),
            ),
            vector(ix.columns.iter().map(|_| "0".to_string()).collect()),
            vector(ix.columns.iter().map(|_| "0".to_string()).collect()),
            Value::Null,
            Value::Null,
        ]);
    }
    Ok(SystemView { columns, rows })
}

fn pg_constraint(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![
        ("oid", BigInt),
        ("conname", Text),
        ("connamespace", BigInt),
        ("contype", Text),
        ("condeferrable", Boolean),
        ("condeferred", Boolean),
        ("convalidated", Boolean),
        ("conrelid", BigInt),
        ("contypid", BigInt),
        ("conindid", BigInt),
        ("conparentid", BigInt),
        ("confrelid", BigInt),
        ("confupdtype", Text),
        ("confdeltype", Text),
        ("confmatchtype", Text),
        ("conislocal", Boolean),
        ("coninhcount", Integer),
        ("connoinherit", Boolean),
        ("conkey", Text),
        ("confkey", Text),
        ("conbin", Text),
    ];
    let numbers =
        |v: &[i64]| if v.is_empty() { Value::Null } else { array_text(v.iter().map(i64::to_string)) };
    let rows = constraints(catalog, txn)?
        .into_iter()
        .map(|c| {
            vec![
                int(c.oid),
                text(&c.name),
                int(c.namespace),
                text(c.kind),
                bool(false),
                bool(false),
                bool(true),
                int(c.table),
                int(0),
                int(c.index),
                int(0),
                int(c.parent),
                text(c.on_update),
                text(c.on_delete),
                text(if c.kind == "f" { "s" } else { " " }),
                bool(true),
                int(0),
                bool(false),
                numbers(&c.columns),
                numbers(&c.parent_columns),
                c.check.map_or(Value::Null, Value::Text),
            ]
        })
        .collect();
    Ok(SystemView { columns, rows })
}

fn pg_type() -> SystemView {
    let columns = vec![
        ("oid", BigInt),
        ("typname", Text),
        ("typnamespace", BigInt),
        ("typowner", BigInt),
        ("typlen", SmallInt),
        ("typbyval", Boolean),
        ("typtype", Text),
        ("typcategory", Text),
        ("typispreferred", Boolean),
        ("typisdefined", Boolean),
        ("typdelim", Text),
        ("typrelid", BigInt),
        ("typelem", BigInt),
        ("typarray", BigInt),
        ("typbasetype", BigInt),
        ("typtypmod", Integer),
        ("typndims", Integer),
        ("typcollation", BigInt),
        ("typnotnull", Boolean),
        ("typdefault", Text),
    ];
    let mut rows = Vec::new();
    for t in TYPES {
        let kind = if t.category == "P" { "p" } else { "b" };
        let row = |oid: i64, name: String, len: i64, category: &str, elem: i64, array: i64| {
            vec![
                int(oid),
                Value::Text(name),
                int(PG_CATALOG_NAMESPACE),
                int(OWNER),
                int(len),
                bool(matches!(len, 1 | 2 | 4 | 8)),
                text(kind),
                text(category),
                bool(matches!(t.name, "bool" | "text" | "float8" | "oid" | "timestamptz" | "interval")),
                bool(true),
                text(","),
                int(0),
                int(elem),
                int(array),
                int(0),
                int(-1),
                int(0),
                int(if t.collatable { DEFAULT_COLLATION } else { 0 }),
                bool(false),
                Value::Null,
            ]
        };
        rows.push(row(t.oid, t.name.to_string(), t.len, t.category, 0, t.array));
        if t.array != 0 {
            rows.push(row(t.array, format!("_{}", t.name), -1, "A", t.oid, 0));
        }
    }
    SystemView { columns, rows }
}

fn pg_database(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let datacl = acl_value(catalog.database_acl(txn)?.as_ref(), &role_names(catalog, txn)?);
    let columns = vec![
        ("oid", BigInt),
        ("datname", Text),
        ("datdba", BigInt),
        ("encoding", Integer),
        ("datlocprovider", Text),
        ("datistemplate", Boolean),
        ("datallowconn", Boolean),
        ("datconnlimit", Integer),
        ("dattablespace", BigInt),
        ("datcollate", Text),
        ("datctype", Text),
        ("daticulocale", Text),
        ("datcollversion", Text),
        ("datacl", Text),
    ];
    let rows = vec![vec![
        int(DATABASE_OID),
        text(DATABASE_NAME),
        int(OWNER),
        int(6),
        text("c"),
        bool(false),
        bool(true),
        int(-1),
        int(1663),
        text("C"),
        text("C"),
        Value::Null,
        Value::Null,
        datacl,
    ]];
    Ok(SystemView { columns, rows })
}

/// What `pg_roles` and `pg_authid` show of a role, `password` aside.
fn role_row(role: &RoleDef, password: Value) -> Vec<Value> {
    vec![
        int(role.oid),
        text(&role.name),
        bool(role.superuser),
        bool(role.inherit),
        bool(role.create_role),
        bool(role.create_db),
        bool(role.login),
        bool(role.replication),
        int(-1),
        password,
        Value::Null,
        bool(role.bypass_rls),
    ]
}

const ROLE_COLUMNS: [(&str, DataType); 12] = [
    ("oid", BigInt),
    ("rolname", Text),
    ("rolsuper", Boolean),
    ("rolinherit", Boolean),
    ("rolcreaterole", Boolean),
    ("rolcreatedb", Boolean),
    ("rolcanlogin", Boolean),
    ("rolreplication", Boolean),
    ("rolconnlimit", Integer),
    ("rolpassword", Text),
    ("rolvaliduntil", Text),
    ("rolbypassrls", Boolean),
];

/// Every role, its password hidden as PostgreSQL hides it.
fn pg_roles(roles: &[RoleDef]) -> SystemView {
    let mut columns = ROLE_COLUMNS.to_vec();
    columns.push(("rolconfig", Text));
    let rows = roles
        .iter()
        .map(|r| {
            let mut row = role_row(r, text("********"));
            row.push(Value::Null);
            row
        })
        .collect();
    SystemView { columns, rows }
}

/// The roles that can log in.
fn pg_user(roles: &[RoleDef]) -> SystemView {
    let columns = vec![
        ("usename", Text),
        ("usesysid", BigInt),
        ("usecreatedb", Boolean),
        ("usesuper", Boolean),
        ("userepl", Boolean),
        ("usebypassrls", Boolean),
        ("passwd", Text),
        ("valuntil", Text),
        ("useconfig", Text),
    ];
    let rows = roles
        .iter()
        .filter(|r| r.login)
        .map(|r| {
            vec![
                text(&r.name),
                int(r.oid),
                bool(r.create_db),
                bool(r.superuser),
                bool(r.replication),
                bool(r.bypass_rls),
                text("********"),
                Value::Null,
                Value::Null,
            ]
        })
        .collect();
    SystemView { columns, rows }
}

/// Every role with its password verifier: for superusers only, as in PostgreSQL (see
/// [`super::system::superuser_only`]: the statement's privilege check refuses others).
fn pg_authid(roles: &[RoleDef]) -> Result<SystemView> {
    let rows = roles.iter().map(|r| role_row(r, r.password.as_deref().map_or(Value::Null, text))).collect();
    Ok(SystemView { columns: ROLE_COLUMNS.to_vec(), rows })
}

fn pg_settings(settings: &[(String, String)]) -> SystemView {
    let columns = vec![
        ("name", Text),
        ("setting", Text),
        ("unit", Text),
        ("category", Text),
        ("short_desc", Text),
        ("context", Text),
        ("vartype", Text),
        ("source", Text),
        ("boot_val", Text),
        ("reset_val", Text),
    ];
    let rows = settings
        .iter()
        .map(|(name, value)| {
            let fixed = read_only_setting(name).is_some();
            vec![
                text(name),
                text(value),
                Value::Null,
                text(if fixed { "Preset Options" } else { "Client Connection Defaults" }),
                Value::Null,
                text(if fixed { "internal" } else { "user" }),
                text("string"),
                text(if fixed { "default" } else { "session" }),
                Value::Null,
                Value::Null,
            ]
        })
        .collect();
    SystemView { columns, rows }
}

/// Settings that describe the server and cannot be changed (`SHOW server_version`).
pub fn read_only_setting(name: &str) -> Option<String> {
    Some(match name {
        "server_version" => format!("{SERVER_VERSION} (Phantom-DB {})", env!("CARGO_PKG_VERSION")),
        "server_version_num" => SERVER_VERSION_NUM.to_string(),
        "is_superuser" => "on".to_string(),
        "session_authorization" => OWNER_NAME.to_string(),
        // The only kind of password verifier there is; clients read it before they
        // compute one (psql's `\password`).
        "password_encryption" => "scram-sha-256".to_string(),
        "integer_datetimes" => "on".to_string(),
        "max_identifier_length" => "63".to_string(),
        "block_size" => "8192".to_string(),
        "lc_collate" | "lc_ctype" => "C".to_string(),
        _ => return None,
    })
}

/// The names [`read_only_setting`] knows, for `pg_settings`.
pub const READ_ONLY_SETTINGS: &[&str] = &[
    "server_version",
    "server_version_num",
    "is_superuser",
    "session_authorization",
    "password_encryption",
    "integer_datetimes",
    "max_identifier_length",
    "block_size",
    "lc_collate",
    "lc_ctype",
];

fn pg_am() -> SystemView {
    let columns = vec![("oid", BigInt), ("amname", Text), ("amhandler", BigInt), ("amtype", Text)];
    let rows = [(HEAP_AM, "heap", "t"), (BTREE_AM, "btree", "i"), (LSM_AM, "lsm", "i")]
        .into_iter()
        .map(|(oid, name, kind)| vec![int(oid), text(name), int(0), text(kind)])
        .collect();
    SystemView { columns, rows }
}

fn pg_collation() -> SystemView {
    let columns = vec![
        ("oid", BigInt),
        ("collname", Text),
        ("collnamespace", BigInt),
        ("collowner", BigInt),
        ("collprovider", Text),
        ("collisdeterministic", Boolean),
        ("collencoding", Integer),
        ("collcollate", Text),
        ("collctype", Text),
    ];
    let rows = [
        (DEFAULT_COLLATION, "default", "d", Value::Null),
        (950, "C", "c", text("C")),
        (951, "POSIX", "c", text("POSIX")),
    ]
    .into_iter()
    .map(|(oid, name, provider, locale)| {
        vec![
            int(oid),
            text(name),
            int(PG_CATALOG_NAMESPACE),
            int(OWNER),
            text(provider),
            bool(true),
            int(-1),
            locale.clone(),
            locale,
        ]
    })
    .collect();
    SystemView { columns, rows }
}

fn pg_tablespace() -> SystemView {
    let columns = vec![
        ("oid", BigInt),
        ("spcname", Text),
        ("spcowner", BigInt),
        ("spcacl", Text),
        ("spcoptions", Text),
    ];
    let rows = [(1663, "pg_default"), (1664, "pg_global")]
        .into_iter()
        .map(|(oid, name)| vec![int(oid), text(name), int(OWNER), Value::Null, Value::Null])
        .collect();
    SystemView { columns, rows }
}

/// A function as `pg_proc` lists it.
pub struct PgProc {
    pub oid: i64,
    pub name: &'static str,
    /// `f` (function) or `a` (aggregate).
    pub kind: &'static str,
    /// Returns a set.
    pub set: bool,
}

/// The built-in functions clients look for: the compatibility functions, the
/// set-returning ones and `string_agg`, numbered from 20000.
pub fn functions() -> Vec<PgProc> {
    let scalar = crate::binder::FUNCTIONS.iter().map(|&name| (name, "f", false));
    let others =
        [("generate_series", "f", true), ("pg_partition_ancestors", "f", true), ("string_agg", "a", false)];
    scalar
        .chain(others)
        .enumerate()
        .map(|(i, (name, kind, set))| PgProc { oid: 20_000 + i as i64, name, kind, set })
        .collect()
}

/// `pg_proc`: those functions by name only (argument and result types are not described),
/// enough for tools that check a function exists.
fn pg_proc() -> SystemView {
    let columns = vec![
        ("oid", BigInt),
        ("proname", Text),
        ("pronamespace", BigInt),
        ("proowner", BigInt),
        ("prokind", Text),
        ("proretset", Boolean),
        ("pronargs", SmallInt),
        ("prorettype", BigInt),
    ];
    let rows = functions()
        .into_iter()
        .map(|f| {
            vec![
                int(f.oid),
                text(f.name),
                int(PG_CATALOG_NAMESPACE),
                int(OWNER),
                text(f.kind),
                bool(f.set),
                int(0),
                int(0),
            ]
        })
        .collect();
    SystemView { columns, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_and_oids_agree_with_postgres() {
        assert_eq!(type_oid(DataType::Integer), 23);
        assert_eq!(type_oid(DataType::Varchar(Some(3))), 1043);
        assert_eq!(format_type(1043, Some(44)).as_deref(), Some("character varying(40)"));
        assert_eq!(format_type(1042, Some(7)).as_deref(), Some("character(3)"));
        assert_eq!(format_type(1042, Some(-1)).as_deref(), Some("bpchar"));
        assert_eq!(format_type(1042, None).as_deref(), Some("character"));
        assert_eq!(format_type(1114, Some(-1)).as_deref(), Some("timestamp without time zone"));
        assert_eq!(format_type(1007, None).as_deref(), Some("integer[]"));
        assert_eq!(format_type(18, None).as_deref(), Some("\"char\""));
        assert_eq!(format_type(99_999, None), None);
        let numeric = DataType::Numeric(Some((10, 2)));
        assert_eq!(type_oid(numeric), 1700);
        assert_eq!(type_modifier(numeric), 655_366);
        assert_eq!(format_type(1700, Some(type_modifier(numeric))).as_deref(), Some("numeric(10,2)"));
        assert_eq!(type_modifier(DataType::Numeric(None)), -1);
        assert_eq!(format_type(1700, Some(-1)).as_deref(), Some("numeric"));
        assert_eq!(type_by_name("int4"), Some(23));
        assert_eq!(type_by_name("integer"), Some(23));
        assert_eq!(type_by_name("character varying"), Some(1043));
        assert_eq!(type_by_name("_int4"), Some(1007));
        assert_eq!(type_by_name("int4[]"), Some(1007));
        assert_eq!(type_by_name("nosuch"), None);
        for t in TYPES {
            assert_eq!(type_by_name(t.name), Some(t.oid), "{}", t.name);
        }
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(quote_ident("accounts"), "accounts");
        assert_eq!(quote_ident("Accounts"), "\"Accounts\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("1a"), "\"1a\"");
    }
}
