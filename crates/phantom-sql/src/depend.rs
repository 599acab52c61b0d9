//! Which views depend on a table or view.
//!
//! A view is stored as SQL text, so what it reads is found by binding it again: the
//! binder records every table and view a query reads, through nested views too (a view
//! over a view over `t` depends on `t`). Nothing is stored, so nothing can go stale, and
//! views created before this existed are covered; the price is binding every view when a
//! table or view is dropped or altered, which DDL can afford.
//!
//! DROP uses [`dependent_views`] to refuse (2BP01) or, with CASCADE, drop the dependents.
//! ALTER TABLE uses [`view_columns`] before and after its changes: a dependent view that
//! no longer binds, or whose columns changed, would be broken by the change, so the change
//! is refused (or, with CASCADE, the view dropped). That is also how a RENAME of a table
//! or column a view reads is refused: a view's text keeps the names it was written with.
//!
//! A view that already fails to bind (it read something dropped before dependencies were
//! tracked) depends on nothing and keeps failing when used, as before.

use phantom_txn::Transaction;

use crate::binder::Binder;
use crate::catalog::{QualifiedName, ViewDef};
use crate::error::{Error, Result, SqlState};
use crate::instance::Instance;
use crate::types::DataType;

/// The views that read any of `targets`, directly or through other views, each with the
/// first target it reads; views among the targets themselves are left out.
pub fn dependent_views(
    instance: &Instance,
    txn: &Transaction,
    targets: &[QualifiedName],
) -> Result<Vec<(ViewDef, QualifiedName)>> {
    let mut found = Vec::new();
    for view in instance.catalog.views(txn)? {
        if targets.contains(&view.qualified()) {
            continue;
        }
        let mut binder = binder(instance, txn);
        if bound(binder.bind_view(&view))?.is_none() {
            continue;
        }
        let used = binder.relations_used();
        if let Some(target) = targets.iter().find(|t| used.contains(t)) {
            let target = target.clone();
            found.push((view, target));
        }
    }
    Ok(found)
}

/// The names and types of the columns `view` produces, or `None` if it does not bind.
pub fn view_columns(
    instance: &Instance,
    txn: &Transaction,
    view: &ViewDef,
) -> Result<Option<Vec<(String, DataType)>>> {
    let plan = bound(binder(instance, txn).bind_view(view))?;
    Ok(plan.map(|plan| {
        plan.columns().into_iter().filter(|c| !c.hidden).map(|c| (c.name, c.data_type)).collect()
    }))
}

/// 2BP01 for a change refused because `view` depends on `what` (e.g. `table t`).
pub fn view_depends(action: &str, what: &str, view: &ViewDef) -> Error {
    Error::new(
        SqlState::DependentObjectsStillExist,
        format!("cannot {action} {what} because other objects depend on it"),
    )
    .with_detail(format!("view {} depends on {what}", view.name))
}

fn binder<'a>(instance: &'a Instance, txn: &'a Transaction) -> Binder<'a> {
    Binder::new(&instance.catalog, txn).with_system_views(&instance.store)
}

/// A binding's result: `None` if the view does not bind (any error of the SQL itself);
/// errors of the system underneath (I/O, corruption, conflicts) are passed on.
fn bound<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.state.code().starts_with(['4', '5', 'X']) && !e.state.code().starts_with("42") => Err(e),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::{PUBLIC, ViewDef};
    use crate::{Instance, Session};

    fn state(session: &mut Session, sql: &str) -> &'static str {
        session.execute(sql).map(|_| "ok").unwrap_or_else(|e| e.sqlstate())
    }

    /// A view stored reading itself (SQL refuses to create one) fails to bind with 42P17
    /// instead of expanding forever, and depends on nothing.
    #[test]
    fn a_view_reading_itself_fails_instead_of_recursing() {
        let instance = Instance::memory();
        let mut session = Session::new(instance.clone());
        session.execute("CREATE TABLE t (a INT); CREATE VIEW ok AS SELECT a FROM t").expect("setup");
        let txn = instance.store.begin();
        let cyclic = ViewDef {
            schema: PUBLIC.into(),
            name: "loop".into(),
            columns: Vec::new(),
            sql: "SELECT a FROM loop".into(),
            search_path: vec![PUBLIC.into()],
            owner: crate::catalog::acl::bootstrap_owner(),
            acl: None,
        };
        instance.catalog.put_view(&txn, &cyclic).expect("put");
        txn.commit().expect("commit");
        assert_eq!(state(&mut session, "SELECT * FROM loop"), "42P17");
        assert_eq!(state(&mut session, "DROP TABLE t"), "2BP01", "ok still depends on t");
        assert_eq!(state(&mut session, "DROP VIEW ok"), "ok");
        assert_eq!(state(&mut session, "DROP TABLE t"), "ok", "loop depends on nothing");
    }
}
