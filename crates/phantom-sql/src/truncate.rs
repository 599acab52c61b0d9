//! `TRUNCATE`: emptying tables at once instead of row by row.
//!
//! Each truncated table (and each of its indexes) gets a fresh, empty keyspace in the
//! same transaction, and its old keyspaces are dropped when the transaction commits. So
//! TRUNCATE is transactional like any DDL (a rollback keeps the rows), costs nothing per
//! row, and a snapshot older than the commit still reads the old rows until it ends (the
//! store removes dropped keyspaces only once no snapshot can see them).

use crate::catalog::QualifiedName;
use crate::error::{Error, Result, SqlState};
use crate::exec::{Context, rewrite};
use crate::instance::Instance;
use crate::result::Output;

/// Empties the tables called `names`.
pub fn truncate(instance: &Instance, cx: &Context, names: &[QualifiedName]) -> Result<Output> {
    let txn = &cx.txn;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        tables.push(instance.catalog.require_table(txn, name)?);
    }
    for table in &tables {
        let references = crate::exec::constraints::referencing(&instance.catalog, txn, &table.qualified())?;
        if let Some((child, fk)) = references.iter().find(|(child, _)| !names.contains(&child.qualified())) {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "cannot truncate a table referenced in a foreign key constraint",
            )
            .with_detail(format!(
                "Table \"{}\" references \"{}\" (constraint \"{}\"). Truncate both in one statement.",
                child.name, table.name, fk.name
            )));
        }
    }
    for table in tables {
        let fresh = rewrite::in_fresh_keyspaces(cx, (*table).clone())?;
        instance.catalog.put_table(txn, &fresh)?;
        rewrite::retire(cx, &table)?;
    }
    Ok(Output::Command("TRUNCATE TABLE".into()))
}
