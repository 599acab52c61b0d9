//! System views: tables computed on the fly from the engine's own state.
//!
//! `phantom_storage_stats` has one row per table (and one for the catalog) with its
//! engine, size and checkpoint position, plus the database-wide buffer pool and log
//! figures repeated on every row, so one query shows everything:
//!
//! ```sql
//! SELECT table_name, engine, pages, disk_bytes, pool_hits, pool_misses, wal_bytes
//! FROM phantom_storage_stats;
//! ```
//!
//! `information_schema.tables` and `information_schema.columns` describe the user's tables
//! and views as the SQL standard (and PostgreSQL) lay them out, for tools that ask;
//! `information_schema.schemata` lists the schemas, `information_schema.sequences` the
//! sequences.
//!
//! The PostgreSQL catalogs (`pg_class`, ...) are in [`super::pg_catalog`].
//!
//! A user table of the same name takes precedence.

use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use phantom_txn::keyspace::CATALOG_KEYSPACE;
use phantom_txn::{MvccStore, Transaction};

use super::Catalog;
use crate::error::Result;
use crate::types::DataType::{Integer, Text};
use crate::types::{DataType, Value};

/// The rows of a system view, with column names and types.
pub struct SystemView {
    pub columns: Vec<(&'static str, DataType)>,
    pub rows: Vec<Vec<Value>>,
}

/// The view called `name`, if there is one.
pub fn view(
    name: &str,
    catalog: &Catalog,
    store: &MvccStore,
    txn: &Transaction,
    settings: Option<&crate::block::Settings>,
) -> Result<Option<SystemView>> {
    match name {
        "phantom_storage_stats" => storage_stats(catalog, store, txn).map(Some),
        "information_schema.tables" => information_tables(catalog, txn).map(Some),
        "information_schema.columns" => information_columns(catalog, txn).map(Some),
        "information_schema.schemata" => information_schemata(catalog, txn).map(Some),
        "information_schema.sequences" => information_sequences(catalog, txn).map(Some),
        _ => {
            let settings = settings.map(crate::block::Settings::all).unwrap_or_default();
            super::pg_catalog::view(name, catalog, store, txn, &settings)
        }
    }
}

/// True for the system views only superusers may read (as a table no privilege is
/// granted on): `pg_authid`, which holds the password verifiers (a verifier allows
/// guessing its password offline). The check is the statement's, like every other.
pub fn superuser_only(name: &str) -> bool {
    name == "pg_authid"
}

/// The catalog (database) name the information schema reports.
pub const DATABASE: &str = "phantom";

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn information_tables(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns =
        vec![("table_catalog", Text), ("table_schema", Text), ("table_name", Text), ("table_type", Text)];
    let mut rows: Vec<Vec<Value>> = catalog
        .tables(txn)?
        .iter()
        .map(|t| vec![text(DATABASE), text(&t.schema), text(&t.name), text("BASE TABLE")])
        .collect();
    rows.extend(
        catalog
            .views(txn)?
            .iter()
            .map(|v| vec![text(DATABASE), text(&v.schema), text(&v.name), text("VIEW")]),
    );
    rows.sort_by(|a, b| a[2].cmp(&b[2]));
    Ok(SystemView { columns, rows })
}

fn information_columns(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![
        ("table_catalog", Text),
        ("table_schema", Text),
        ("table_name", Text),
        ("column_name", Text),
        ("ordinal_position", Integer),
        ("column_default", Text),
        ("is_nullable", Text),
        ("data_type", Text),
        ("character_maximum_length", Integer),
        ("numeric_precision", Integer),
        ("numeric_precision_radix", Integer),
        ("numeric_scale", Integer),
    ];
    let mut rows = Vec::new();
    for table in catalog.tables(txn)? {
        for (i, c) in table.columns.iter().enumerate() {
            let (data_type, length) = match c.data_type {
                DataType::Varchar(n) => ("character varying".to_string(), n.map(|n| Value::Int(n.into()))),
                DataType::Char(n) => ("character".to_string(), Some(Value::Int(n.into()))),
                other => (other.without_modifier().to_string(), None),
            };
            // As PostgreSQL reports them: bits for binary types, digits for NUMERIC.
            let (precision, radix, scale) = match c.data_type {
                DataType::SmallInt => (Some(16), Some(2), Some(0)),
                DataType::Integer => (Some(32), Some(2), Some(0)),
                DataType::BigInt => (Some(64), Some(2), Some(0)),
                DataType::Real => (Some(24), Some(2), None),
                DataType::Double => (Some(53), Some(2), None),
                DataType::Numeric(None) => (None, Some(10), None),
                DataType::Numeric(Some((p, s))) => (Some(p.into()), Some(10), Some(s.into())),
                _ => (None, None, None),
            };
            let int_or_null = |v: Option<i64>| v.map_or(Value::Null, Value::Int);
            rows.push(vec![
                text(DATABASE),
                text(&table.schema),
                text(&table.name),
                text(&c.name),
                Value::Int(i as i64 + 1),
                c.default.as_deref().map_or(Value::Null, text),
                text(if c.nullable { "YES" } else { "NO" }),
                Value::Text(data_type),
                length.unwrap_or(Value::Null),
                int_or_null(precision),
                int_or_null(radix),
                int_or_null(scale),
            ]);
        }
    }
    Ok(SystemView { columns, rows })
}

fn information_schemata(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![("catalog_name", Text), ("schema_name", Text), ("schema_owner", Text)];
    let mut names: Vec<String> = catalog.schemas(txn)?.into_iter().map(|s| s.name).collect();
    names.extend(super::SYSTEM_SCHEMAS.iter().map(|s| s.to_string()));
    names.sort();
    let rows = names.iter().map(|name| vec![text(DATABASE), text(name), text(DATABASE)]).collect();
    Ok(SystemView { columns, rows })
}

fn information_sequences(catalog: &Catalog, txn: &Transaction) -> Result<SystemView> {
    let columns = vec![
        ("sequence_catalog", Text),
        ("sequence_schema", Text),
        ("sequence_name", Text),
        ("data_type", Text),
        ("numeric_precision", Integer),
        ("numeric_precision_radix", Integer),
        ("numeric_scale", Integer),
        ("start_value", Text),
        ("minimum_value", Text),
        ("maximum_value", Text),
        ("increment", Text),
        ("cycle_option", Text),
    ];
    let rows = catalog
        .sequences(txn)?
        .iter()
        .map(|s| {
            let bits = match s.data_type {
                DataType::SmallInt => 16,
                DataType::Integer => 32,
                _ => 64,
            };
            vec![
                text(DATABASE),
                text(&s.schema),
                text(&s.name),
                text(&s.data_type.to_string().to_lowercase()),
                Value::Int(bits),
                Value::Int(2),
                Value::Int(0),
                text(&s.start.to_string()),
                text(&s.min_value.to_string()),
                text(&s.max_value.to_string()),
                text(&s.increment.to_string()),
                text(if s.cycle { "YES" } else { "NO" }),
            ]
        })
        .collect();
    Ok(SystemView { columns, rows })
}

fn int(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn storage_stats(catalog: &Catalog, store: &MvccStore, txn: &Transaction) -> Result<SystemView> {
    use DataType::{BigInt, Text};
    let columns = vec![
        ("table_name", Text),
        ("engine", Text),
        ("keys", BigInt),
        ("pages", BigInt),
        ("free_pages", BigInt),
        ("dirty_pages", BigInt),
        ("disk_bytes", BigInt),
        ("live_bytes", BigInt),
        ("checkpoint_lsn", BigInt),
        ("pool_capacity_bytes", BigInt),
        ("pool_used_bytes", BigInt),
        ("pool_hits", BigInt),
        ("pool_misses", BigInt),
        ("wal_bytes", BigInt),
        ("wal_segments", BigInt),
        ("last_checkpoint_lsn", BigInt),
        ("last_checkpoint_at", Text),
    ];
    let name = |t: &super::TableDef| {
        if t.schema == super::PUBLIC { t.name.clone() } else { t.qualified().to_string() }
    };
    let names: HashMap<_, _> = catalog.tables(txn)?.iter().map(|t| (t.keyspace, name(t))).collect();
    let stats = store.storage_stats();
    let pool = stats.pool.unwrap_or_default();
    let last_at = stats
        .checkpoints
        .last_at
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(Value::Null, |d| Value::Text(utc_timestamp(d.as_secs())));
    let mut rows = Vec::new();
    for (keyspace, engine, btree) in stats.keyspaces {
        let name = match names.get(&keyspace) {
            Some(name) => name.clone(),
            None if keyspace == CATALOG_KEYSPACE => "(catalog)".to_string(),
            // Created by a transaction still in progress, or dropped but not yet removed.
            None => continue,
        };
        let btree = btree.unwrap_or_default();
        rows.push(vec![
            Value::Text(name),
            Value::Text(engine.kind.to_string()),
            int(engine.keys),
            int(btree.file_pages),
            int(btree.free_pages),
            int(btree.dirty_pages),
            int(engine.disk_bytes),
            int(engine.live_bytes),
            int(btree.checkpoint_lsn),
            int(pool.capacity_bytes),
            int(pool.used_bytes),
            int(pool.hits),
            int(pool.misses),
            int(stats.wal_bytes),
            int(stats.wal_segments),
            int(stats.checkpoints.last_lsn),
            last_at.clone(),
        ]);
    }
    Ok(SystemView { columns, rows })
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for seconds since the Unix epoch.
fn utc_timestamp(secs: u64) -> String {
    // Days to a civil date: Howard Hinnant's algorithm, valid for any date after 1970.
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days / 146_097;
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let rem = secs % 86_400;
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(super::utc_timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc_timestamp(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(super::utc_timestamp(1_795_627_006), "2026-11-25 17:16:46");
    }
}
