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
//! A user table of the same name takes precedence.

use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use phantom_txn::keyspace::CATALOG_KEYSPACE;
use phantom_txn::{MvccStore, Transaction};

use super::Catalog;
use crate::error::Result;
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
) -> Result<Option<SystemView>> {
    match name {
        "phantom_storage_stats" => storage_stats(catalog, store, txn).map(Some),
        _ => Ok(None),
    }
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
    let names: HashMap<_, _> = catalog.tables(txn)?.iter().map(|t| (t.keyspace, t.name.clone())).collect();
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
