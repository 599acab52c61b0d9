//! Running ALTER TABLE.
//!
//! Changes apply one after another, each to the table as the one before left it, all in
//! the statement's transaction: a failure or a rollback leaves the table as it was.
//!
//! - Renames change only the catalog: a table's definition is stored under its name, so
//!   RENAME TO moves the entry, and foreign keys of other tables, which name their parent,
//!   follow it.
//! - Changes to the stored rows rewrite the table into fresh keyspaces (see
//!   [`crate::exec::rewrite`]): ADD COLUMN fills the new column with its DEFAULT, DROP
//!   COLUMN removes it, ADD PRIMARY KEY re-keys every row (checking uniqueness and NOT
//!   NULL as an INSERT would), dropping the primary key gives rows hidden row ids, and
//!   ALTER COLUMN ... TYPE converts every value (22P02 / 22003 on values that do not fit).
//! - Added constraints are validated against the existing rows first: CHECK (23514),
//!   UNIQUE (a unique index built from the rows, 23505), FOREIGN KEY (23503). They are
//!   named, and their definitions checked, exactly as in CREATE TABLE.
//! - DROP COLUMN takes the column's indexes, CHECKs, foreign keys and (if the column is in
//!   it) the primary key along, as PostgreSQL does; other tables' foreign keys that
//!   reference the column need CASCADE, which drops those constraints (2BP01 without).
//!
//! Views are stored as text that names tables and columns, so they cannot follow a
//! rename or a dropped column. Before the changes, the views that read the table are
//! bound and their columns noted; after them, each must still bind with the same columns.
//! One that would break refuses the whole statement with 2BP01, or with CASCADE (on DROP
//! COLUMN or DROP CONSTRAINT) is dropped. A column a CHECK uses still cannot be renamed
//! (0A000): CHECKs are stored as text too.

use std::sync::Arc;

use sqlparser::ast;

use crate::binder::{AlterOp, AlterTable, Binder, ColumnChange, Cx, Scope};
use crate::catalog::{CheckDef, ForeignKeyDef, TableDef};
use crate::ddl::drop_foreign_keys;
use crate::depend;
use crate::error::{Error, Result, SqlState};
use crate::exec::{self, Context, constraints, rewrite};
use crate::index;
use crate::instance::Instance;
use crate::parser;
use crate::planner::{Expr, OutputColumn, Plan};
use crate::result::Output;
use crate::sequence;
use crate::types::{DataType, Value};

/// Applies `alter`'s changes in order.
pub fn alter_table(instance: &Instance, cx: &Context, alter: AlterTable) -> Result<Output> {
    let txn = &cx.txn;
    let mut table = instance.catalog.require_table(txn, &alter.table)?;
    let name = table.name.clone();
    // The views reading the table, with the columns they have now.
    let mut views = Vec::new();
    for (view, _) in depend::dependent_views(instance, txn, &[table.qualified()])? {
        if let Some(columns) = depend::view_columns(instance, txn, &view)? {
            views.push((view, columns));
        }
    }
    let mut change = Change { instance, cx, search_path: &alter.search_path, cascade: false };
    for op in alter.ops {
        table = change.apply(table, op)?;
    }
    let mut broken = Vec::new();
    for (view, before) in views {
        if depend::view_columns(instance, txn, &view)?.as_ref() != Some(&before) {
            broken.push(view);
        }
    }
    if let Some(view) = broken.first()
        && !change.cascade
    {
        return Err(Error::new(
            SqlState::DependentObjectsStillExist,
            format!("cannot alter table {name} because view {} depends on it", view.name),
        )
        .with_detail(
            "The view would stop working or change its columns: views keep the table and column \
             names they were created with. Drop the view first, or use CASCADE where allowed.",
        ));
    }
    for view in broken {
        instance.catalog.delete_view(txn, &view.qualified())?;
    }
    Ok(Output::Command("ALTER TABLE".into()))
}

/// One ALTER TABLE statement's context.
struct Change<'a> {
    instance: &'a Instance,
    cx: &'a Context,
    search_path: &'a [String],
    /// Set by a change with CASCADE: views it breaks are dropped instead of refusing.
    cascade: bool,
}

impl Change<'_> {
    fn binder(&self) -> Binder<'_> {
        Binder::new(&self.instance.catalog, &self.cx.txn)
            .with_system_views(&self.instance.store)
            .with_search_path(self.search_path)
    }

    /// Applies one change and stores the result, visible to the changes after it.
    fn apply(&mut self, table: Arc<TableDef>, op: AlterOp) -> Result<Arc<TableDef>> {
        let table = match op {
            AlterOp::RenameTable { new } => self.rename_table(&table, new)?,
            AlterOp::RenameColumn { old, new } => self.rename_column(&table, &old, new)?,
            AlterOp::AddColumn { column, if_not_exists, constraints, sequence } => {
                if table.column_index(&column.name).is_some() {
                    if if_not_exists {
                        crate::notice::raise(crate::notice::Notice::new(
                            "42701",
                            format!(
                                "column \"{}\" of relation \"{}\" already exists, skipping",
                                column.name, table.name
                            ),
                        ));
                        return Ok(table);
                    }
                    return Err(duplicate_column(&column.name, &table.name));
                }
                if let Some(mut sequence) = sequence {
                    // A SERIAL column's sequence belongs to its table's owner.
                    sequence.owner = table.owner;
                    sequence::ddl::create_sequence(self.instance, &self.cx.txn, *sequence, false)?;
                    self.cx.txn.next_command();
                }
                // A constant default is computed once; another (`nextval`) once per row.
                let default = match &column.default {
                    Some(text) => {
                        let e = parser::parse_expr(text)?;
                        let x = self
                            .binder()
                            .expr(&e, &mut Cx::new(&Scope::default(), "DEFAULT expressions"))?
                            .expr;
                        match x.is_constant() {
                            true => Expr::Constant(x.eval(&[])?),
                            false => exec::prepare_expr(x, self.cx),
                        }
                    }
                    None => Expr::Constant(Value::Null),
                };
                let mut new = (*table).clone();
                new.columns.push(column);
                let mut table = Arc::new(rewrite::rewrite(self.cx, &table, new, |mut row| {
                    row.push(default.eval(&[])?);
                    Ok(row)
                })?);
                self.store(&table)?;
                for op in constraints {
                    table = self.apply(table, op)?;
                }
                table
            }
            AlterOp::DropColumn { name, if_exists, cascade } => {
                self.cascade |= cascade;
                match table.column_index(&name) {
                    None if if_exists => {
                        crate::notice::raise(crate::notice::Notice::new(
                            "00000",
                            format!(
                                "column \"{name}\" of relation \"{}\" does not exist, skipping",
                                table.name
                            ),
                        ));
                        table
                    }
                    None => return Err(no_column(&name, &table.name)),
                    Some(i) => self.drop_column(table, i, cascade)?,
                }
            }
            AlterOp::AddPrimaryKey { columns, name } => self.add_primary_key(&table, &columns, name)?,
            AlterOp::AddConstraint(constraint) => self.add_constraint(&table, &constraint)?,
            AlterOp::DropConstraint { name, if_exists, cascade } => {
                self.cascade |= cascade;
                self.drop_constraint(table, &name, if_exists, cascade)?
            }
            AlterOp::AlterColumn { column, change } => {
                let i = table.column_index(&column).ok_or_else(|| no_column(&column, &table.name))?;
                self.alter_column(&table, i, change)?
            }
        };
        self.store(&table)?;
        Ok(table)
    }

    /// Stores `table`'s definition; later changes read the catalog and the rows as this
    /// one left them.
    fn store(&self, table: &TableDef) -> Result<()> {
        self.instance.catalog.put_table(&self.cx.txn, table)?;
        self.cx.txn.next_command();
        Ok(())
    }

    fn rename_table(&self, table: &Arc<TableDef>, new: String) -> Result<Arc<TableDef>> {
        let txn = &self.cx.txn;
        if self.instance.catalog.relation_exists(txn, &table.schema, &new)? {
            return Err(Error::new(SqlState::DuplicateTable, format!("relation \"{new}\" already exists")));
        }
        let old = table.qualified();
        let mut renamed = (**table).clone();
        renamed.name = new.clone();
        for fk in renamed.foreign_keys.iter_mut().filter(|fk| fk.references(&old)) {
            fk.parent = new.clone();
        }
        self.instance.catalog.delete_table(txn, &old)?;
        for (child, _) in constraints::referencing(&self.instance.catalog, txn, &old)? {
            if child.qualified() == old {
                continue; // The table itself, done above.
            }
            let mut child = (*child).clone();
            for fk in child.foreign_keys.iter_mut().filter(|fk| fk.references(&old)) {
                fk.parent = new.clone();
            }
            self.instance.catalog.put_table(txn, &child)?;
        }
        sequence::ddl::follow_owner(self.instance, txn, &old, &renamed.name, None)?;
        Ok(Arc::new(renamed))
    }

    fn rename_column(&self, table: &Arc<TableDef>, old: &str, new: String) -> Result<Arc<TableDef>> {
        let i = table.column_index(old).ok_or_else(|| no_column(old, &table.name))?;
        if table.column_index(&new).is_some() {
            return Err(duplicate_column(&new, &table.name));
        }
        if let Some(check) = self.checks_using(table, i)?.first() {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                format!("cannot rename column \"{old}\": check constraint \"{}\" uses it", check.name),
            ));
        }
        sequence::ddl::follow_owner(
            self.instance,
            &self.cx.txn,
            &table.qualified(),
            &table.name,
            Some((old, &new)),
        )?;
        let mut renamed = (**table).clone();
        renamed.columns[i].name = new;
        Ok(Arc::new(renamed))
    }

    /// The table's CHECK constraints whose expression reads column `i`.
    fn checks_using(&self, table: &TableDef, i: usize) -> Result<Vec<CheckDef>> {
        let mut binder = self.binder();
        let mut using = Vec::new();
        for check in &table.checks {
            let bound =
                binder.check_constraint(&table.name, &table.columns, &parser::parse_expr(&check.expr)?)?;
            if bound.any(&mut |x| matches!(x, Expr::Column(c) if *c == i)) {
                using.push(check.clone());
            }
        }
        Ok(using)
    }

    /// DROP COLUMN: with its indexes, CHECKs, foreign keys and the primary key if it is in
    /// it; other tables' foreign keys referencing it need CASCADE.
    fn drop_column(&self, table: Arc<TableDef>, i: usize, cascade: bool) -> Result<Arc<TableDef>> {
        let txn = &self.cx.txn;
        let name = table.columns[i].name.clone();
        if table.columns.len() == 1 {
            return Err(Error::new(SqlState::FeatureNotSupported, "a table must keep at least one column"));
        }
        let this = table.qualified();
        let outside: Vec<_> = constraints::referencing(&self.instance.catalog, txn, &this)?
            .into_iter()
            .filter(|(child, fk)| child.qualified() != this && fk.parent_columns.contains(&i))
            .collect();
        if let Some((child, fk)) = outside.first()
            && !cascade
        {
            return Err(constraints::still_referenced(
                &format!("column {name} of table {}", table.name),
                child,
                fk,
            ));
        }
        drop_foreign_keys(self.instance, self.cx, &outside)?;
        sequence::ddl::drop_owned_sequences(self.instance, txn, &this, Some(&name))?;
        let checks = self.checks_using(&table, i)?;
        let shift = |p: usize| if p > i { p - 1 } else { p };
        let mut new = (*table).clone();
        new.columns.remove(i);
        new.checks.retain(|c| !checks.contains(c));
        // Its own foreign keys on the column, either side (a self-reference) of it.
        let uses = |fk: &ForeignKeyDef| {
            fk.columns.contains(&i) || (fk.references(&this) && fk.parent_columns.contains(&i))
        };
        new.foreign_keys.retain(|fk| !uses(fk));
        for fk in &mut new.foreign_keys {
            fk.columns = fk.columns.iter().map(|&p| shift(p)).collect();
            if fk.references(&this) {
                fk.parent_columns = fk.parent_columns.iter().map(|&p| shift(p)).collect();
            }
        }
        new.indexes.retain(|ix| !ix.columns.contains(&i));
        for ix in &mut new.indexes {
            ix.columns = ix.columns.iter().map(|&p| shift(p)).collect();
        }
        if new.primary_key.contains(&i) {
            new.primary_key.clear();
            new.primary_key_name = None;
        }
        new.primary_key = new.primary_key.iter().map(|&p| shift(p)).collect();
        for (child, _) in constraints::referencing(&self.instance.catalog, txn, &this)? {
            if child.qualified() == this {
                continue;
            }
            let mut child = (*child).clone();
            for fk in child.foreign_keys.iter_mut().filter(|fk| fk.references(&this)) {
                fk.parent_columns = fk.parent_columns.iter().map(|&p| shift(p)).collect();
            }
            self.instance.catalog.put_table(txn, &child)?;
        }
        // The rewrite writes fresh keyspaces for the indexes that stay; the old ones,
        // including those of the dropped indexes, go with the old table.
        Ok(Arc::new(rewrite::rewrite(self.cx, &table, new, |mut row| {
            row.remove(i);
            Ok(row)
        })?))
    }

    fn add_primary_key(
        &self,
        table: &Arc<TableDef>,
        columns: &[String],
        name: Option<String>,
    ) -> Result<Arc<TableDef>> {
        if !table.primary_key.is_empty() {
            return Err(Error::new(
                SqlState::InvalidTableDefinition,
                format!("multiple primary keys for table \"{}\" are not allowed", table.name),
            ));
        }
        let positions = columns
            .iter()
            .map(|c| table.column_index(c).ok_or_else(|| no_column(c, &table.name)))
            .collect::<Result<Vec<_>>>()?;
        crate::binder::check_key_types(&table.columns, &positions)?;
        let mut new = (**table).clone();
        new.primary_key_name = name;
        let constraint = new.primary_key_constraint();
        if self.constraint_exists(table, &constraint)
            || self.instance.catalog.relation_exists(&self.cx.txn, &table.schema, &constraint)?
        {
            return Err(Error::new(
                SqlState::DuplicateTable,
                format!("relation \"{constraint}\" already exists"),
            ));
        }
        for &p in &positions {
            new.columns[p].nullable = false;
        }
        new.primary_key = positions;
        Ok(Arc::new(rewrite::rewrite(self.cx, table, new, Ok)?))
    }

    /// True if the table has a CHECK, foreign key or unique index called `name`.
    fn constraint_exists(&self, table: &TableDef, name: &str) -> bool {
        table.checks.iter().any(|c| c.name == name)
            || table.foreign_keys.iter().any(|fk| fk.name == name)
            || table.indexes.iter().any(|ix| ix.name == name)
    }

    /// ADD CONSTRAINT CHECK / UNIQUE / FOREIGN KEY, validated against the rows.
    fn add_constraint(
        &self,
        table: &Arc<TableDef>,
        constraint: &ast::TableConstraint,
    ) -> Result<Arc<TableDef>> {
        let added = self.binder().add_constraint(table, constraint)?;
        let mut new = (**table).clone();
        if let Some(check) = added.checks.get(table.checks.len()) {
            new.checks.push(check.clone());
            let new = Arc::new(new);
            constraints::validate_checks(self.cx, &new, Some(&check.name))?;
            return Ok(new);
        }
        if let Some(fk) = added.foreign_keys.get(table.foreign_keys.len()) {
            new.foreign_keys.push(fk.clone());
            let new = Arc::new(new);
            constraints::validate_foreign_key(self.cx, &new, fk)?;
            return Ok(new);
        }
        match added.uniques.last() {
            Some((name, columns))
                if added.uniques.len() > table.indexes.iter().filter(|ix| ix.unique).count() =>
            {
                Ok(Arc::new(index::create(&self.cx.txn, table, name.clone(), columns.clone(), true, None)?))
            }
            _ => Err(Error::new(SqlState::InternalError, "ALTER TABLE ADD CONSTRAINT added nothing")),
        }
    }

    fn drop_constraint(
        &self,
        table: Arc<TableDef>,
        name: &str,
        if_exists: bool,
        cascade: bool,
    ) -> Result<Arc<TableDef>> {
        let txn = &self.cx.txn;
        let catalog = &self.instance.catalog;
        let mut new = (*table).clone();
        if let Some(i) = table.checks.iter().position(|c| c.name == name) {
            new.checks.remove(i);
            return Ok(Arc::new(new));
        }
        if let Some(i) = table.foreign_keys.iter().position(|fk| fk.name == name) {
            new.foreign_keys.remove(i);
            return Ok(Arc::new(new));
        }
        let what = format!("constraint {name} on table {}", table.name);
        if let Some(i) = table.indexes.iter().position(|ix| ix.unique && ix.name == name) {
            let needing = constraints::needing_index(catalog, txn, &table, i)?;
            if let Some((child, fk)) = needing.first()
                && !cascade
            {
                return Err(constraints::still_referenced(&what, child, fk));
            }
            drop_foreign_keys(self.instance, self.cx, &needing)?;
            let mut new = (*catalog.require_table(txn, &table.qualified())?).clone();
            let removed = new.indexes.remove(i);
            txn.drop_keyspace(removed.keyspace)?;
            return Ok(Arc::new(new));
        }
        if !table.primary_key.is_empty() && name == table.primary_key_constraint() {
            let needing = constraints::needing_primary_key(catalog, txn, &table)?;
            if let Some((child, fk)) = needing.first()
                && !cascade
            {
                return Err(constraints::still_referenced(&what, child, fk));
            }
            drop_foreign_keys(self.instance, self.cx, &needing)?;
            let table = catalog.require_table(txn, &table.qualified())?;
            let mut new = (*table).clone();
            new.primary_key.clear();
            new.primary_key_name = None;
            // Rows without a primary key are stored under hidden row ids.
            return Ok(Arc::new(rewrite::rewrite(self.cx, &table, new, Ok)?));
        }
        if if_exists {
            crate::notice::raise(crate::notice::Notice::new(
                "00000",
                format!("constraint \"{name}\" of relation \"{}\" does not exist, skipping", table.name),
            ));
            return Ok(table);
        }
        Err(Error::new(
            SqlState::UndefinedObject,
            format!("constraint \"{name}\" of relation \"{}\" does not exist", table.name),
        ))
    }

    fn alter_column(&self, table: &Arc<TableDef>, i: usize, change: ColumnChange) -> Result<Arc<TableDef>> {
        let mut new = (**table).clone();
        let column = &table.columns[i];
        match change {
            ColumnChange::SetDefault(e) => self.binder().set_default(&mut new.columns[i], &e)?,
            ColumnChange::DropDefault => new.columns[i].default = None,
            ColumnChange::DropNotNull => {
                if table.primary_key.contains(&i) {
                    return Err(Error::new(
                        SqlState::InvalidTableDefinition,
                        format!("column \"{}\" is in a primary key", column.name),
                    ));
                }
                new.columns[i].nullable = true;
            }
            ColumnChange::SetNotNull => {
                if column.nullable {
                    for row in self.rows(table)? {
                        if row?[i].is_null() {
                            return Err(Error::new(
                                SqlState::NotNullViolation,
                                format!(
                                    "column \"{}\" of relation \"{}\" contains null values",
                                    column.name, table.name
                                ),
                            ));
                        }
                    }
                }
                new.columns[i].nullable = false;
            }
            ColumnChange::SetType { data_type, using } => return self.set_type(table, i, data_type, using),
        }
        Ok(Arc::new(new))
    }

    /// The table's rows (columns only), read in the statement's transaction.
    fn rows(&self, table: &Arc<TableDef>) -> Result<crate::exec::Rows> {
        let scan = Plan::Scan { table: table.clone(), alias: table.name.clone(), range: None, filter: None };
        crate::exec::execute(scan, self.cx)
    }

    /// ALTER COLUMN ... TYPE: every row's value converted (by `using`, evaluated over the
    /// old row, or the column itself), with the assignment rules of an INSERT.
    fn set_type(
        &self,
        table: &Arc<TableDef>,
        i: usize,
        data_type: DataType,
        using: Option<ast::Expr>,
    ) -> Result<Arc<TableDef>> {
        let txn = &self.cx.txn;
        let column = &table.columns[i];
        let mut new = (**table).clone();
        new.columns[i].data_type = data_type;
        crate::binder::check_key_types(&new.columns, &new.primary_key)?;
        let scope = Scope::new(
            table
                .columns
                .iter()
                .map(|c| OutputColumn {
                    table: Some(table.name.clone()),
                    name: c.name.clone(),
                    data_type: c.data_type,
                    hidden: false,
                })
                .collect(),
        );
        let source =
            using.clone().unwrap_or_else(|| ast::Expr::Identifier(ast::Ident::with_quote('"', &column.name)));
        let mut binder = self.binder();
        let value = binder.expr(&source, &mut Cx::new(&scope, "transform expressions"))?;
        if value.expr.any(&mut |x| matches!(x, Expr::Subquery(_) | Expr::Parameter(_))) {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "cannot use subqueries or parameters in a transform expression",
            ));
        }
        let value = binder.assignable(value, data_type, &column.name).map_err(|_| {
            let message = match using {
                Some(_) => format!(
                    "result of USING clause for column \"{}\" cannot be cast automatically to type {data_type}",
                    column.name
                ),
                None => format!(
                    "column \"{}\" cannot be cast automatically to type {data_type}",
                    column.name
                ),
            };
            Error::new(SqlState::DatatypeMismatch, message)
                .with_detail(format!("You might need to specify \"USING {}::{data_type}\".", column.name))
        })?;
        if let Some(default) = &column.default {
            let e = parser::parse_expr(default)?;
            let x = binder.expr(&e, &mut Cx::new(&Scope::default(), "DEFAULT expressions"))?;
            binder.assignable(x, data_type, &column.name).map_err(|_| {
                Error::new(
                    SqlState::DatatypeMismatch,
                    format!(
                        "default for column \"{}\" cannot be cast automatically to type {data_type}",
                        column.name
                    ),
                )
            })?;
        }
        // Foreign keys on the column, in either direction, must still compare as keys, and
        // hold for the converted values: (child, constraint, parent) of each.
        let this = table.qualified();
        let mut involved: Vec<(Arc<TableDef>, ForeignKeyDef, Arc<TableDef>)> = Vec::new();
        for fk in &table.foreign_keys {
            let parent = if fk.references(&this) {
                table.clone()
            } else {
                self.instance.catalog.require_table(txn, &fk.parent_name())?
            };
            involved.push((table.clone(), fk.clone(), parent));
        }
        for (child, fk) in constraints::referencing(&self.instance.catalog, txn, &this)? {
            if child.qualified() != this {
                involved.push((child, fk, table.clone()));
            }
        }
        involved.retain(|(child, fk, parent)| {
            (child.qualified() == this && fk.columns.contains(&i))
                || (parent.qualified() == this && fk.parent_columns.contains(&i))
        });
        let typed = |t: &TableDef, c: usize| {
            if t.qualified() == this && c == i { data_type } else { t.columns[c].data_type }
        };
        for (child, fk, parent) in &involved {
            for (&c, &p) in fk.columns.iter().zip(&fk.parent_columns) {
                let (child_name, parent_name) = (&child.columns[c].name, &parent.columns[p].name);
                check_key_compatible(fk, child_name, typed(child, c), parent_name, typed(parent, p))?;
            }
        }
        let new = Arc::new(rewrite::rewrite(self.cx, table, new, |mut row| {
            row[i] = value.eval(&row)?;
            Ok(row)
        })?);
        // The converted values must still satisfy the constraints.
        self.store(&new)?;
        constraints::validate_checks(self.cx, &new, None)?;
        for (child, fk, _) in &involved {
            let child = if child.qualified() == this { &new } else { child };
            constraints::validate_foreign_key(self.cx, child, fk)?;
        }
        Ok(new)
    }
}

/// 42804 unless a foreign key's two sides can still be compared as keys.
fn check_key_compatible(
    fk: &crate::catalog::ForeignKeyDef,
    child_column: &str,
    child_type: DataType,
    parent_column: &str,
    parent_type: DataType,
) -> Result<()> {
    if crate::binder::key_types_compatible(child_type, parent_type) {
        return Ok(());
    }
    Err(Error::new(SqlState::DatatypeMismatch, format!("foreign key constraint \"{}\" cannot be implemented", fk.name))
        .with_detail(format!(
            "Key columns \"{child_column}\" and \"{parent_column}\" are of incompatible types: {child_type} and {parent_type}."
        )))
}

fn no_column(name: &str, table: &str) -> Error {
    Error::new(SqlState::UndefinedColumn, format!("column \"{name}\" of relation \"{table}\" does not exist"))
}

fn duplicate_column(name: &str, table: &str) -> Error {
    Error::new(SqlState::DuplicateColumn, format!("column \"{name}\" of relation \"{table}\" already exists"))
}
