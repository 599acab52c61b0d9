//! CREATE and DROP SCHEMA, CREATE VIEW, and DROP of tables, views and indexes together
//! with what depends on them.
//!
//! Dependencies are PostgreSQL's, minus the ones Phantom-DB does not have: a view depends
//! on the tables and views it reads ([`crate::depend`]), a foreign key on the table it
//! references (and on the unique index or primary key that finds its parent rows), and
//! every table and view on its schema. A DROP fails with 2BP01 while something outside it
//! depends on what it drops (RESTRICT, the default), or with CASCADE drops that too:
//! dependent views, and the foreign-key *constraints* of other tables (never their rows
//! or the tables themselves). Indexes go with their tables. Everything happens in the
//! statement's transaction, so a rollback restores it all.

use std::collections::BTreeMap;

use crate::catalog::{QualifiedName, SchemaDef, TableDef, ViewDef, is_system_schema};
use crate::depend;
use crate::error::{Error, Result, SqlState};
use crate::exec::{Context, constraints};
use crate::instance::Instance;
use crate::result::Output;

/// `CREATE SCHEMA [IF NOT EXISTS] name`, owned by `owner`.
pub fn create_schema(
    instance: &Instance,
    cx: &Context,
    name: String,
    if_not_exists: bool,
    owner: i64,
) -> Result<Output> {
    if instance.catalog.schema_exists(&cx.txn, &name)? {
        if if_not_exists {
            crate::notice::raise(crate::notice::Notice::new(
                "42P06",
                format!("schema \"{name}\" already exists, skipping"),
            ));
            return Ok(Output::Command("CREATE SCHEMA".into()));
        }
        return Err(Error::new(SqlState::DuplicateSchema, format!("schema \"{name}\" already exists")));
    }
    if name.starts_with("pg_") {
        return Err(Error::new(SqlState::ReservedName, format!("unacceptable schema name \"{name}\""))
            .with_detail("The prefix \"pg_\" is reserved for system schemas."));
    }
    instance.catalog.put_schema(&cx.txn, &SchemaDef::new(name, owner))?;
    Ok(Output::Command("CREATE SCHEMA".into()))
}

/// `DROP SCHEMA name [, ...] [CASCADE]` of existing user schemas.
pub fn drop_schemas(instance: &Instance, cx: &Context, schemas: &[String], cascade: bool) -> Result<Output> {
    let txn = &cx.txn;
    let mut tables = Vec::new();
    let mut views = Vec::new();
    let mut sequences = Vec::new();
    for schema in schemas {
        debug_assert!(!is_system_schema(schema));
        let held_tables: Vec<QualifiedName> =
            instance.catalog.tables_in(txn, schema)?.iter().map(|t| t.qualified()).collect();
        let held_views: Vec<QualifiedName> = instance
            .catalog
            .views(txn)?
            .iter()
            .filter(|v| v.schema == *schema)
            .map(ViewDef::qualified)
            .collect();
        let held_sequences: Vec<QualifiedName> = instance
            .catalog
            .sequences(txn)?
            .iter()
            .filter(|s| s.schema == *schema)
            .map(crate::catalog::SequenceDef::qualified)
            .collect();
        if !cascade {
            let held = held_tables
                .iter()
                .map(|t| ("table", t))
                .chain(held_views.iter().map(|v| ("view", v)))
                .chain(held_sequences.iter().map(|s| ("sequence", s)));
            let lines: Vec<String> =
                held.map(|(kind, name)| format!("{kind} {name} depends on schema {schema}")).collect();
            if !lines.is_empty() {
                return Err(Error::new(
                    SqlState::DependentObjectsStillExist,
                    format!("cannot drop schema {schema} because other objects depend on it"),
                )
                .with_detail(lines.join("\n")));
            }
        }
        tables.extend(held_tables);
        views.extend(held_views);
        sequences.extend(held_sequences);
    }
    drop_relations(instance, cx, &tables, &views, true)?;
    // Some went with their tables (SERIAL columns); the rest go now.
    crate::sequence::ddl::drop_sequences(instance, txn, &sequences, true)?;
    for schema in schemas {
        instance.catalog.delete_schema(txn, schema)?;
    }
    Ok(Output::Command("DROP SCHEMA".into()))
}

/// `DROP TABLE name [, ...] [CASCADE]` of existing tables.
pub fn drop_tables(
    instance: &Instance,
    cx: &Context,
    tables: &[QualifiedName],
    cascade: bool,
) -> Result<Output> {
    drop_relations(instance, cx, tables, &[], cascade)?;
    Ok(Output::Command("DROP TABLE".into()))
}

/// `DROP VIEW name [, ...] [CASCADE]` of existing views.
pub fn drop_views(
    instance: &Instance,
    cx: &Context,
    views: &[QualifiedName],
    cascade: bool,
) -> Result<Output> {
    drop_relations(instance, cx, &[], views, cascade)?;
    Ok(Output::Command("DROP VIEW".into()))
}

/// `CREATE [OR REPLACE] VIEW`. As in PostgreSQL, a replacement must keep the old view's
/// columns (same names and types, in order; it may add more at the end), so views that
/// read it keep working.
pub fn create_view(
    instance: &Instance,
    cx: &Context,
    view: ViewDef,
    or_replace: bool,
    if_not_exists: bool,
) -> Result<Output> {
    let txn = &cx.txn;
    let old = instance.catalog.view(txn, &view.schema, &view.name)?;
    let taken = (old.is_some() && !or_replace)
        || instance.catalog.table(txn, &view.schema, &view.name)?.is_some()
        || instance.catalog.index_owner(txn, &view.schema, &view.name)?.is_some();
    if taken {
        if if_not_exists {
            crate::notice::raise(crate::binder::already_exists(&view.name));
            return Ok(Output::Command("CREATE VIEW".into()));
        }
        return Err(Error::new(
            SqlState::DuplicateTable,
            format!("relation \"{}\" already exists", view.name),
        ));
    }
    if let Some(old) = old
        && let Some(before) = depend::view_columns(instance, txn, &old)?
    {
        let after = depend::view_columns(instance, txn, &view)?.unwrap_or_default();
        if after.len() < before.len() {
            return Err(Error::new(SqlState::InvalidTableDefinition, "cannot drop columns from view"));
        }
        for ((old_name, old_type), (new_name, new_type)) in before.iter().zip(&after) {
            if old_name != new_name {
                return Err(Error::new(
                    SqlState::InvalidTableDefinition,
                    format!("cannot change name of view column \"{old_name}\" to \"{new_name}\""),
                ));
            }
            if old_type != new_type {
                return Err(Error::new(
                    SqlState::InvalidTableDefinition,
                    format!(
                        "cannot change data type of view column \"{old_name}\" from {old_type} to {new_type}"
                    ),
                ));
            }
        }
    }
    let mut view = view;
    if let Some(old) = instance.catalog.view(txn, &view.schema, &view.name)? {
        // A replaced view keeps its owner and privileges, as in PostgreSQL.
        view.owner = old.owner;
        view.acl = old.acl;
    }
    instance.catalog.put_view(txn, &view)?;
    Ok(Output::Command("CREATE VIEW".into()))
}

/// `DROP INDEX name [, ...] [CASCADE]` of existing indexes (qualified by their table's
/// schema). A unique index a foreign key needs to find its parent rows is refused
/// (2BP01), or with CASCADE dropped with that foreign key.
pub fn drop_indexes(
    instance: &Instance,
    cx: &Context,
    indexes: &[QualifiedName],
    cascade: bool,
) -> Result<Output> {
    let txn = &cx.txn;
    for index in indexes {
        let Some((table, position)) = instance.catalog.index_owner(txn, &index.schema, &index.name)? else {
            continue; // Dropped with an earlier one's table? Not possible; nothing to do.
        };
        let needing = constraints::needing_index(&instance.catalog, txn, &table, position)?;
        if let Some((child, fk)) = needing.first()
            && !cascade
        {
            return Err(Error::new(
                SqlState::DependentObjectsStillExist,
                format!(
                    "cannot drop index {} because constraint {} on table {} requires it",
                    index.name, fk.name, child.name
                ),
            ));
        }
        drop_foreign_keys(instance, cx, &needing)?;
        // The table again: dropping a foreign key may have changed it (a self-reference).
        let mut table = (*instance.catalog.require_table(txn, &table.qualified())?).clone();
        let removed = table.indexes.remove(position);
        instance.catalog.put_table(txn, &table)?;
        txn.drop_keyspace(removed.keyspace)?;
        txn.next_command();
    }
    Ok(Output::Command("DROP INDEX".into()))
}

/// Drops `tables` and `views` and, with `cascade`, the views and foreign keys that depend
/// on them (else 2BP01 if there are any).
fn drop_relations(
    instance: &Instance,
    cx: &Context,
    tables: &[QualifiedName],
    views: &[QualifiedName],
    cascade: bool,
) -> Result<()> {
    let txn = &cx.txn;
    let targets: Vec<QualifiedName> = tables.iter().chain(views).cloned().collect();
    let kind = |name: &QualifiedName| if tables.contains(name) { "table" } else { "view" };
    let dependents = depend::dependent_views(instance, txn, &targets)?;
    if let Some((view, on)) = dependents.first()
        && !cascade
    {
        return Err(depend::view_depends("drop", &format!("{} {}", kind(on), on.name), view));
    }
    let references = constraints::references_from_outside(&instance.catalog, txn, tables)?;
    if let Some((child, fk)) = references.first()
        && !cascade
    {
        return Err(constraints::still_referenced(&format!("table {}", fk.parent), child, fk));
    }
    let mut cascaded: Vec<String> = dependents.iter().map(|(v, _)| format!("view {}", v.name)).collect();
    cascaded.extend(
        references.iter().map(|(child, fk)| format!("constraint {} on table {}", fk.name, child.name)),
    );
    cascade_notice(&cascaded);
    drop_foreign_keys(instance, cx, &references)?;
    let dependents: Vec<QualifiedName> = dependents.iter().map(|(v, _)| v.qualified()).collect();
    for view in views.iter().chain(&dependents) {
        instance.catalog.delete_view(txn, view)?;
    }
    for name in tables {
        let table = instance.catalog.require_table(txn, name)?;
        instance.catalog.delete_table(txn, name)?;
        for keyspace in table.keyspaces() {
            txn.drop_keyspace(keyspace)?;
        }
        instance.sequences.forget(table.keyspace);
        crate::sequence::ddl::drop_owned_sequences(instance, txn, name, None)?;
    }
    txn.next_command();
    Ok(())
}

/// PostgreSQL's notice of what a DROP ... CASCADE took with it (`objects` as "view v",
/// "constraint fk on table t"): the one object, or a count with each in the DETAIL.
pub(crate) fn cascade_notice(objects: &[String]) {
    use crate::notice::{Notice, raise};
    match objects {
        [] => {}
        [one] => raise(Notice::new("00000", format!("drop cascades to {one}"))),
        many => {
            let detail: Vec<String> = many.iter().map(|o| format!("drop cascades to {o}")).collect();
            raise(
                Notice::new("00000", format!("drop cascades to {} other objects", many.len()))
                    .with_detail(detail.join("\n")),
            );
        }
    }
}

/// Removes foreign-key constraints (given with their tables as found) from their tables.
pub(crate) fn drop_foreign_keys(
    instance: &Instance,
    cx: &Context,
    foreign_keys: &[(std::sync::Arc<TableDef>, crate::catalog::ForeignKeyDef)],
) -> Result<()> {
    let mut by_table: BTreeMap<QualifiedName, Vec<&str>> = BTreeMap::new();
    for (table, fk) in foreign_keys {
        by_table.entry(table.qualified()).or_default().push(&fk.name);
    }
    for (name, dropped) in by_table {
        let mut table = (*instance.catalog.require_table(&cx.txn, &name)?).clone();
        table.foreign_keys.retain(|fk| !dropped.contains(&fk.name.as_str()));
        instance.catalog.put_table(&cx.txn, &table)?;
    }
    cx.txn.next_command();
    Ok(())
}
