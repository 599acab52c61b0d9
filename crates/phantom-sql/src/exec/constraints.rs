//! CHECK and FOREIGN KEY constraints, enforced inside the writing transaction.
//!
//! NOT NULL, primary keys and UNIQUE (unique indexes) are checked row by row in
//! [`super::write`] and [`crate::index`]. This module adds the two constraints that need
//! more than the row itself:
//!
//! **CHECK.** A table's CHECK expressions are stored as SQL text. The first time a
//! statement writes a row of the table they are bound once (against the table's columns)
//! and then evaluated for every row the statement writes, before the row is stored. FALSE
//! is a violation (23514); TRUE and NULL pass, as in PostgreSQL.
//!
//! **FOREIGN KEY.** A foreign key is stored with the *referencing* (child) table only:
//! its columns, the referenced (parent) table by schema and name, the referenced columns, and the
//! ON DELETE / ON UPDATE actions. Who references a table is found by scanning the
//! catalog's table list for foreign keys that name it. The catalog is small and its entries
//! are decoded once and cached, the scan happens at most once per statement and table, and
//! only when a statement deletes rows or changes key columns; in exchange there is no
//! reverse list to keep in step when tables come and go, and creating a child table does
//! not write (and so does not lock) the parent's catalog entry.
//!
//! Like PostgreSQL's referential-integrity triggers, which fire after the statement, the
//! foreign-key work waits until the statement has written all its rows:
//!
//! 1. While the statement writes, [`Constraints`] records *child checks* (a written row's
//!    non-NULL key values, which must exist in the parent) and *key changes* (a deleted
//!    row, or an updated row whose referenced columns changed, of a table that others
//!    reference).
//! 2. [`Constraints::finish`] then makes the statement's writes visible to its own reads
//!    ([`phantom_txn::Transaction::next_command`]) and works through the key changes:
//!    CASCADE deletes or updates the referencing rows, SET NULL / SET DEFAULT update them,
//!    each change maintaining the child's indexes, checking its CHECKs and NOT NULL, and
//!    queueing further key changes and child checks of its own (so cascades run through
//!    any number of levels). NO ACTION and RESTRICT only remember the old key.
//! 3. Finally every remembered old key must no longer be referenced (for NO ACTION, a row
//!    with the same key existing again also satisfies it, so `UPDATE p SET id = id + 1`
//!    works), and every child check must find its parent row; otherwise 23503.
//!
//! Checking at the end of the statement is what makes rows that reference each other in
//! one statement work (`INSERT INTO tree VALUES (2, 1), (1, NULL)`, deleting a whole
//! self-referencing table). A row with a NULL in any key column references nothing
//! (MATCH SIMPLE).
//!
//! All reads of a parent table for the existence check are in [`parent_row_exists`]; all
//! reads of referencing rows are in [`child_rows`], which uses the child's primary key or a
//! secondary index whose leading columns are the foreign-key columns when there is one, and
//! scans the child table otherwise. These two functions are where snapshot reads would
//! become locking reads of the latest versions: under snapshot isolation alone, a
//! concurrent insert of a child and delete of its parent can both commit.

use std::collections::{HashMap, VecDeque};
use std::ops::Bound;
use std::rc::Rc;
use std::sync::Arc;

use phantom_storage::keycode;
use phantom_txn::{KeyspaceId, LockMode, Transaction};

use super::eval::truth;
use super::write::{check_unique, fit, row_key};
use super::{Context, Row};
use crate::binder::Binder;
use crate::catalog::{Catalog, ForeignKeyDef, QualifiedName, ReferentialAction, TableDef};
use crate::encoding;
use crate::error::{Error, Result, SqlState};
use crate::index;
use crate::parser::parse_expr;
use crate::planner::{Expr, Plan};
use crate::types::Value;
use crate::types::cast::{self, CastKind};

/// What a statement needs to know about one table's constraints, prepared once.
struct Rules {
    table: Arc<TableDef>,
    /// CHECK constraints: name and bound expression over the table's columns.
    checks: Vec<(String, Expr)>,
    /// The table's foreign keys with their parent tables.
    outgoing: Vec<(ForeignKeyDef, Arc<TableDef>)>,
    /// Columns a foreign key may reference: the primary key's and unique indexes'.
    key_columns: Vec<usize>,
}

/// A foreign key referencing some table: the child table and the constraint.
type Incoming = Vec<(Arc<TableDef>, ForeignKeyDef)>;

/// A deleted row, or an updated row whose key columns changed, of a referenced table.
struct KeyChange {
    table: Arc<TableDef>,
    old: Row,
    /// `None` for a delete.
    new: Option<Row>,
}

/// Foreign-key values of a written row that must exist in the parent.
struct ChildCheck {
    child: Arc<TableDef>,
    parent: Arc<TableDef>,
    fk: ForeignKeyDef,
    values: Vec<Value>,
}

/// An old parent key that must not be referenced any more at the end of the statement.
struct RemovedKey {
    child: Arc<TableDef>,
    parent: Arc<TableDef>,
    fk: ForeignKeyDef,
    /// The key in constraint order.
    key: Vec<Value>,
    /// NO ACTION: a row with the same key existing again is fine.
    no_action: bool,
}

/// The constraint work of one data-changing statement.
pub struct Constraints<'a> {
    cx: &'a Context,
    /// By the table's keyspace, which names it within a statement without allocating.
    rules: HashMap<KeyspaceId, Rc<Rules>>,
    incoming: HashMap<KeyspaceId, Rc<Incoming>>,
    changes: VecDeque<KeyChange>,
    child_checks: Vec<ChildCheck>,
    removed: Vec<RemovedKey>,
}

impl<'a> Constraints<'a> {
    /// Nothing recorded yet.
    pub fn new(cx: &'a Context) -> Self {
        Constraints {
            cx,
            rules: HashMap::new(),
            incoming: HashMap::new(),
            changes: VecDeque::new(),
            child_checks: Vec::new(),
            removed: Vec::new(),
        }
    }

    /// A row (its columns, already cast and NOT NULL-checked) is about to be inserted.
    pub fn inserting(&mut self, table: &Arc<TableDef>, row: &[Value]) -> Result<()> {
        if table.checks.is_empty() && table.foreign_keys.is_empty() {
            return Ok(());
        }
        let rules = self.rules(table)?;
        check_row(&rules, row)?;
        for (fk, parent) in &rules.outgoing {
            self.child_check(table, fk, parent, row);
        }
        Ok(())
    }

    /// A row is about to change from `old` to `new` (columns only; `new` already cast and
    /// NOT NULL-checked).
    pub fn updating(&mut self, table: &Arc<TableDef>, old: &[Value], new: &[Value]) -> Result<()> {
        let rules = self.rules(table)?;
        check_row(&rules, new)?;
        for (fk, parent) in &rules.outgoing {
            if fk.columns.iter().any(|&c| old[c] != new[c]) {
                self.child_check(table, fk, parent, new);
            }
        }
        if rules.key_columns.iter().any(|&c| old[c] != new[c]) && !self.incoming(table)?.is_empty() {
            self.changes.push_back(KeyChange {
                table: table.clone(),
                old: old.to_vec(),
                new: Some(new.to_vec()),
            });
        }
        Ok(())
    }

    /// A row (its columns) was deleted.
    pub fn deleted(&mut self, table: &Arc<TableDef>, old: &[Value]) -> Result<()> {
        if !self.incoming(table)?.is_empty() {
            self.changes.push_back(KeyChange { table: table.clone(), old: old.to_vec(), new: None });
        }
        Ok(())
    }

    /// Runs the referential actions and the deferred foreign-key checks. Call once, after
    /// the statement's last row.
    pub fn finish(mut self) -> Result<()> {
        if self.changes.is_empty() && self.child_checks.is_empty() {
            return Ok(());
        }
        while let Some(change) = self.changes.pop_front() {
            let incoming = self.incoming(&change.table)?;
            for (child, fk) in incoming.iter() {
                self.key_changed(&change, child, fk)?;
            }
        }
        let txn = &self.cx.txn;
        txn.next_command();
        for r in &self.removed {
            if r.no_action && parent_row_exists(txn, &r.parent, &r.fk, &r.key)? {
                continue;
            }
            if !child_rows(txn, &r.child, &r.fk, &r.key, Some(1))?.is_empty() {
                let names: Vec<&str> =
                    r.fk.parent_columns.iter().map(|&c| r.parent.columns[c].name.as_str()).collect();
                return Err(Error::new(
                    SqlState::ForeignKeyViolation,
                    format!(
                        "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                        r.parent.name, r.fk.name, r.child.name
                    ),
                )
                .with_detail(format!(
                    "Key ({})=({}) is still referenced from table \"{}\".",
                    names.join(", "),
                    show(&r.key),
                    r.child.name
                )));
            }
        }
        for c in &self.child_checks {
            if !parent_row_exists(txn, &c.parent, &c.fk, &c.values)? {
                return Err(missing_parent(&c.child, &c.parent, &c.fk, &c.values));
            }
        }
        Ok(())
    }

    /// Applies `fk`'s action for one changed parent row.
    fn key_changed(&mut self, change: &KeyChange, child: &Arc<TableDef>, fk: &ForeignKeyDef) -> Result<()> {
        let old_key: Vec<Value> = fk.parent_columns.iter().map(|&c| change.old[c].clone()).collect();
        if old_key.iter().any(Value::is_null) {
            return Ok(());
        }
        let new_key: Option<Vec<Value>> =
            change.new.as_ref().map(|new| fk.parent_columns.iter().map(|&c| new[c].clone()).collect());
        if new_key.as_ref() == Some(&old_key) {
            return Ok(());
        }
        let action = if new_key.is_some() { fk.on_update } else { fk.on_delete };
        if let ReferentialAction::NoAction | ReferentialAction::Restrict = action {
            self.removed.push(RemovedKey {
                child: child.clone(),
                parent: change.table.clone(),
                fk: fk.clone(),
                key: old_key,
                no_action: action == ReferentialAction::NoAction,
            });
            return Ok(());
        }
        // The new values of the referencing columns (None: delete the row).
        let set: Option<Vec<Value>> = match (action, new_key) {
            (ReferentialAction::Cascade, None) => None,
            (ReferentialAction::Cascade, Some(new_key)) => Some(new_key),
            (ReferentialAction::SetNull, _) => Some(vec![Value::Null; fk.columns.len()]),
            _ => {
                // Rows whose key already was the default keep referencing the old key:
                // like PostgreSQL, check the old key as NO ACTION would.
                self.removed.push(RemovedKey {
                    child: child.clone(),
                    parent: change.table.clone(),
                    fk: fk.clone(),
                    key: old_key.clone(),
                    no_action: true,
                });
                let mut binder = Binder::new(&self.cx.catalog, &self.cx.txn);
                let defaults = fk
                    .columns
                    .iter()
                    .map(|&c| binder.column_default(child, c)?.eval(&[]))
                    .collect::<Result<Vec<_>>>()?;
                Some(defaults)
            }
        };
        // Reads must see what the statement (and earlier cascades) wrote so far.
        self.cx.txn.next_command();
        for (key, row) in child_rows(&self.cx.txn, child, fk, &old_key, None)? {
            let old = &row[..child.columns.len()];
            match &set {
                None => {
                    index::delete(&self.cx.txn, child, old, &key)?;
                    self.cx.txn.delete(child.keyspace, &key)?;
                    self.deleted(child, old)?;
                }
                Some(values) => {
                    let mut new = old.to_vec();
                    for (&c, v) in fk.columns.iter().zip(values) {
                        new[c] = v.clone();
                    }
                    self.rewrite(child, (old, &key), new)?;
                }
            }
        }
        Ok(())
    }

    /// Updates a referencing row as a referential action does: like an UPDATE of it.
    fn rewrite(&mut self, table: &Arc<TableDef>, (old, old_key): (&[Value], &[u8]), new: Row) -> Result<()> {
        let new = fit(table, new)?;
        self.updating(table, old, &new)?;
        let txn = &self.cx.txn;
        let new_key = row_key(table, &new)?.unwrap_or_else(|| old_key.to_vec());
        if new_key != old_key {
            check_unique(self.cx, table, &new_key, &new)?;
            txn.delete(table.keyspace, old_key)?;
        }
        index::update(txn, table, (old, old_key), (&new, &new_key))?;
        txn.put(table.keyspace, &new_key, encoding::encode_row(&new, &table.key_only_columns()))?;
        Ok(())
    }

    /// Queues the check that `row`'s values for `fk` exist in `parent`, unless one is NULL.
    fn child_check(
        &mut self,
        table: &Arc<TableDef>,
        fk: &ForeignKeyDef,
        parent: &Arc<TableDef>,
        row: &[Value],
    ) {
        let values: Vec<Value> = fk.columns.iter().map(|&c| row[c].clone()).collect();
        if values.iter().any(Value::is_null) {
            return;
        }
        self.child_checks.push(ChildCheck {
            child: table.clone(),
            parent: parent.clone(),
            fk: fk.clone(),
            values,
        });
    }

    /// The table's rules, prepared (CHECKs bound, parents looked up) on first use.
    fn rules(&mut self, table: &Arc<TableDef>) -> Result<Rc<Rules>> {
        if let Some(rules) = self.rules.get(&table.keyspace) {
            return Ok(rules.clone());
        }
        let checks = bind_checks(self.cx, table)?;
        let mut outgoing = Vec::with_capacity(table.foreign_keys.len());
        for fk in &table.foreign_keys {
            outgoing.push((fk.clone(), parent_of(self.cx, table, fk)?));
        }
        let mut key_columns = table.primary_key.clone();
        for ix in table.indexes.iter().filter(|ix| ix.unique) {
            key_columns.extend(ix.columns.iter().filter(|c| !table.primary_key.contains(c)));
        }
        key_columns.sort_unstable();
        key_columns.dedup();
        let rules = Rc::new(Rules { table: table.clone(), checks, outgoing, key_columns });
        self.rules.insert(table.keyspace, rules.clone());
        Ok(rules)
    }

    /// The foreign keys that reference `table`, found on first use.
    fn incoming(&mut self, table: &TableDef) -> Result<Rc<Incoming>> {
        if let Some(found) = self.incoming.get(&table.keyspace) {
            return Ok(found.clone());
        }
        let found = Rc::new(referencing(&self.cx.catalog, &self.cx.txn, &table.qualified())?);
        self.incoming.insert(table.keyspace, found.clone());
        Ok(found)
    }
}

/// `table`'s CHECK constraints bound against its columns, in the order PostgreSQL applies
/// them (by name, which decides which one a row fails).
fn bind_checks(cx: &Context, table: &TableDef) -> Result<Vec<(String, Expr)>> {
    let mut binder = Binder::new(&cx.catalog, &cx.txn);
    let mut checks = Vec::with_capacity(table.checks.len());
    for check in &table.checks {
        let ast = parse_expr(&check.expr)?;
        checks.push((check.name.clone(), binder.check_constraint(&table.name, &table.columns, &ast)?));
    }
    checks.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(checks)
}

/// The table `fk` (a foreign key of `table`) references.
fn parent_of(cx: &Context, table: &Arc<TableDef>, fk: &ForeignKeyDef) -> Result<Arc<TableDef>> {
    if fk.references(&table.qualified()) {
        Ok(table.clone())
    } else {
        cx.catalog.require_table(&cx.txn, &fk.parent_name())
    }
}

/// Every foreign key (with its table) that references the table called `name`.
pub(crate) fn referencing(catalog: &Catalog, txn: &Transaction, name: &QualifiedName) -> Result<Incoming> {
    let mut found = Vec::new();
    for table in catalog.tables(txn)? {
        for fk in table.foreign_keys.iter().filter(|fk| fk.references(name)) {
            found.push((table.clone(), fk.clone()));
        }
    }
    Ok(found)
}

/// 23503 for a referencing row whose key `values` is not in the parent.
fn missing_parent(child: &TableDef, parent: &TableDef, fk: &ForeignKeyDef, values: &[Value]) -> Error {
    let names: Vec<&str> = fk.columns.iter().map(|&i| child.columns[i].name.as_str()).collect();
    Error::new(
        SqlState::ForeignKeyViolation,
        format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
            child.name, fk.name
        ),
    )
    .with_detail(format!(
        "Key ({})=({}) is not present in table \"{}\".",
        names.join(", "),
        show(values),
        parent.name
    ))
}

/// Checks the rows `table` holds against its CHECK constraints (those named in `only`,
/// or all), as ALTER TABLE must when it adds a constraint or changes a column: 23514 if a
/// row makes one FALSE.
pub fn validate_checks(cx: &Context, table: &Arc<TableDef>, only: Option<&str>) -> Result<()> {
    let checks: Vec<(String, Expr)> =
        bind_checks(cx, table)?.into_iter().filter(|(name, _)| only.is_none_or(|o| o == name)).collect();
    if checks.is_empty() {
        return Ok(());
    }
    let scan = Plan::Scan { table: table.clone(), alias: table.name.clone(), range: None, filter: None };
    for row in super::execute(scan, cx)? {
        let row = row?;
        for (name, expr) in &checks {
            if truth(expr.eval(&row)?) == Some(false) {
                return Err(Error::new(
                    SqlState::CheckViolation,
                    format!(
                        "check constraint \"{name}\" of relation \"{}\" is violated by some row",
                        table.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Checks that every row of `table` with a complete key for `fk` (one of its foreign keys)
/// finds its parent row, as ALTER TABLE must when it adds the constraint: 23503 if not.
pub fn validate_foreign_key(cx: &Context, table: &Arc<TableDef>, fk: &ForeignKeyDef) -> Result<()> {
    let parent = parent_of(cx, table, fk)?;
    cx.txn.next_command();
    let scan = Plan::Scan { table: table.clone(), alias: table.name.clone(), range: None, filter: None };
    for row in super::execute(scan, cx)? {
        let row = row?;
        let values: Vec<Value> = fk.columns.iter().map(|&c| row[c].clone()).collect();
        if !values.iter().any(Value::is_null) && !parent_row_exists(&cx.txn, &parent, fk, &values)? {
            return Err(missing_parent(table, &parent, fk, &values));
        }
    }
    Ok(())
}

/// Fails with 23514 if a CHECK of the table is FALSE for `row`.
fn check_row(rules: &Rules, row: &[Value]) -> Result<()> {
    for (name, expr) in &rules.checks {
        if truth(expr.eval(row)?) == Some(false) {
            return Err(Error::new(
                SqlState::CheckViolation,
                format!("new row for relation \"{}\" violates check constraint \"{name}\"", rules.table.name),
            )
            .with_detail(format!("Failing row contains ({}).", show(row))));
        }
    }
    Ok(())
}

/// Values as PostgreSQL's error details list them: `1, null, abc`.
fn show(values: &[Value]) -> String {
    let shown: Vec<String> =
        values.iter().map(|v| if v.is_null() { "null".to_string() } else { v.to_string() }).collect();
    shown.join(", ")
}

/// True if `a` and `b` hold the same columns, in any order.
fn same_columns(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().all(|c| b.contains(c))
}

/// True if `table`'s primary key consists of exactly `columns`.
fn primary_key_is(table: &TableDef, columns: &[usize]) -> bool {
    !table.has_row_id() && same_columns(&table.primary_key, columns)
}

/// `values` (one per `columns`, in that order) cast to the types of those columns of
/// `table`, or `None` if one does not fit (then no row of `table` can hold them). A
/// NUMERIC(p, s) column rounds, and a value it would round holds no row either.
fn cast_to(table: &TableDef, columns: &[usize], values: &[Value]) -> Option<Vec<Value>> {
    columns
        .iter()
        .zip(values)
        .map(|(&c, v)| {
            let ty = table.columns[c].data_type;
            let cast = cast::cast(v.clone(), ty, CastKind::Assignment).ok()?;
            (!ty.is_decimal() || cast == *v).then_some(cast)
        })
        .collect()
}

/// `values` (one per `columns`) rearranged in the order of `order` (a permutation of
/// `columns`).
fn reorder(columns: &[usize], values: &[Value], order: &[usize]) -> Vec<Value> {
    order.iter().filter_map(|c| columns.iter().position(|x| x == c).map(|i| values[i].clone())).collect()
}

/// True if `parent` has a row whose referenced columns (`fk.parent_columns`) hold `values`
/// (given in constraint order). Every read of a parent table for a foreign-key check goes
/// through here: a point read by primary key, or through the unique index on the columns.
fn parent_row_exists(
    txn: &Transaction,
    parent: &TableDef,
    fk: &ForeignKeyDef,
    values: &[Value],
) -> Result<bool> {
    let Some(values) = cast_to(parent, &fk.parent_columns, values) else {
        return Ok(false);
    };
    let encode = |order: &[usize]| {
        let ordered = reorder(&fk.parent_columns, &values, order);
        encoding::encode_key(&ordered.iter().collect::<Vec<_>>())
    };
    // The parent row is locked in share mode, as PostgreSQL's FOR KEY SHARE: it cannot be
    // deleted or re-keyed until this transaction ends, and the newest version decides.
    if primary_key_is(parent, &fk.parent_columns) {
        return Ok(txn
            .get_locked(parent.keyspace, &encode(&parent.primary_key), LockMode::Shared)?
            .is_some());
    }
    let Some(ix) =
        parent.indexes.iter().find(|ix| ix.unique && same_columns(&ix.columns, &fk.parent_columns))
    else {
        return Err(Error::new(
            SqlState::InternalError,
            format!(
                "the unique index behind foreign key \"{}\" on table \"{}\" is missing",
                fk.name, parent.name
            ),
        ));
    };
    // Non-NULL values: the entry's key is the values alone and its value the row's key.
    match txn.get_locked(ix.keyspace, &encode(&ix.columns), LockMode::Shared)? {
        Some(row_key) => Ok(txn.get_locked(parent.keyspace, &row_key, LockMode::Shared)?.is_some()),
        None => Ok(false),
    }
}

/// The rows of `child` (key and row as a scan yields it) whose `fk` columns equal `key`
/// (the parent's values, in constraint order), at most `limit` of them. Every read of
/// referencing rows goes through here: a range of the child's primary key or of a
/// secondary index when its leading columns are the foreign-key columns, else a full scan.
fn child_rows(
    txn: &Transaction,
    child: &TableDef,
    fk: &ForeignKeyDef,
    key: &[Value],
    limit: Option<usize>,
) -> Result<Vec<(Vec<u8>, Row)>> {
    let Some(values) = cast_to(child, &fk.columns, key) else {
        return Ok(Vec::new());
    };
    let k = fk.columns.len();
    let leading = |columns: &[usize]| columns.len() >= k && same_columns(&columns[..k], &fk.columns);
    let matches = |row: &[Value]| fk.columns.iter().zip(&values).all(|(&c, v)| row[c] == *v);
    let mut out = Vec::new();
    let mut keep = |key: Vec<u8>, row: Row| {
        if matches(&row) {
            out.push((key, row));
        }
        limit.is_some_and(|l| out.len() >= l)
    };
    if !child.has_row_id() && leading(&child.primary_key) {
        let prefix = reorder(&fk.columns, &values, &child.primary_key[..k]);
        let start = encoding::encode_key(&prefix.iter().collect::<Vec<_>>());
        let end = keycode::prefix_end(&start).map_or(Bound::Unbounded, Bound::Excluded);
        for entry in txn.scan_latest(child.keyspace, (Bound::Included(start), end))? {
            let (key, value) = entry?;
            let row = super::decode_row(child, &key, &value)?;
            if keep(key, row) {
                break;
            }
        }
    } else if let Some(ix) = child.indexes.iter().find(|ix| leading(&ix.columns)) {
        let prefix = reorder(&fk.columns, &values, &ix.columns[..k]);
        for entry in txn.scan_latest(ix.keyspace, index::key_range(&prefix, None))? {
            let (entry_key, value) = entry?;
            let row_key = index::row_key(child, ix, &entry_key, value)?;
            let Some(stored) = txn.get_latest(child.keyspace, &row_key)? else {
                return Err(Error::new(
                    SqlState::DataCorrupted,
                    format!("index \"{}\" points at a row that does not exist", ix.name),
                ));
            };
            let row = super::decode_row(child, &row_key, &stored)?;
            if keep(row_key, row) {
                break;
            }
        }
    } else {
        for entry in txn.scan_latest(child.keyspace, (Bound::Unbounded, Bound::Unbounded))? {
            let (key, value) = entry?;
            let row = super::decode_row(child, &key, &value)?;
            if keep(key, row) {
                break;
            }
        }
    }
    Ok(out)
}

/// The foreign keys of tables outside `tables` that reference one of `tables` (which
/// DROP TABLE must refuse, or drop with CASCADE).
pub fn references_from_outside(
    catalog: &Catalog,
    txn: &Transaction,
    tables: &[QualifiedName],
) -> Result<Incoming> {
    let mut found = Vec::new();
    for table in catalog.tables(txn)? {
        if tables.contains(&table.qualified()) {
            continue;
        }
        for fk in table.foreign_keys.iter().filter(|fk| tables.iter().any(|t| fk.references(t))) {
            found.push((table.clone(), fk.clone()));
        }
    }
    Ok(found)
}

/// 2BP01 for dropping `what` (e.g. `table p`) while `child`'s foreign key `fk` needs it.
pub fn still_referenced(what: &str, child: &TableDef, fk: &ForeignKeyDef) -> Error {
    Error::new(
        SqlState::DependentObjectsStillExist,
        format!("cannot drop {what} because other objects depend on it"),
    )
    .with_detail(format!("constraint {} on table {} depends on {what}", fk.name, child.name))
}

/// The foreign keys that need `table.indexes[position]` to find their parent rows (it is
/// the unique index on their referenced columns and neither the primary key nor another
/// unique index is): DROP INDEX refuses while there are any (2BP01), or drops them with
/// CASCADE.
pub fn needing_index(
    catalog: &Catalog,
    txn: &Transaction,
    table: &TableDef,
    position: usize,
) -> Result<Incoming> {
    let Some(ix) = table.indexes.get(position) else {
        return Ok(Vec::new());
    };
    if !ix.unique {
        return Ok(Vec::new());
    }
    let needs = |fk: &ForeignKeyDef| {
        same_columns(&ix.columns, &fk.parent_columns)
            && !primary_key_is(table, &fk.parent_columns)
            && !table.indexes.iter().enumerate().any(|(i, other)| {
                i != position && other.unique && same_columns(&other.columns, &fk.parent_columns)
            })
    };
    Ok(referencing(catalog, txn, &table.qualified())?.into_iter().filter(|(_, fk)| needs(fk)).collect())
}

/// The foreign keys that reference `table`'s primary key (which DROP CONSTRAINT of the
/// primary key must refuse, or drop with CASCADE), unless a unique index serves them too.
pub fn needing_primary_key(catalog: &Catalog, txn: &Transaction, table: &TableDef) -> Result<Incoming> {
    let needs = |fk: &ForeignKeyDef| {
        primary_key_is(table, &fk.parent_columns)
            && !table.indexes.iter().any(|ix| ix.unique && same_columns(&ix.columns, &fk.parent_columns))
    };
    Ok(referencing(catalog, txn, &table.qualified())?.into_iter().filter(|(_, fk)| needs(fk)).collect())
}

/// A foreign key of `table` as `\d` shows it:
/// `c_p_id_fkey FOREIGN KEY (p_id) REFERENCES p (id) ON DELETE CASCADE`.
pub fn describe_foreign_key(
    catalog: &Catalog,
    txn: &Transaction,
    table: &TableDef,
    fk: &ForeignKeyDef,
) -> Result<String> {
    let parent = catalog.require_table(txn, &fk.parent_name())?;
    let names = |t: &TableDef, columns: &[usize]| {
        columns.iter().map(|&c| t.columns[c].name.as_str()).collect::<Vec<_>>().join(", ")
    };
    let mut text = format!(
        "{} FOREIGN KEY ({}) REFERENCES {} ({})",
        fk.name,
        names(table, &fk.columns),
        name_from(&parent, &table.schema),
        names(&parent, &fk.parent_columns)
    );
    for (event, action) in [("UPDATE", fk.on_update), ("DELETE", fk.on_delete)] {
        if action != ReferentialAction::NoAction {
            text.push_str(&format!(" ON {event} {}", action.sql()));
        }
    }
    Ok(text)
}

/// The foreign keys referencing `table`, as `\d` lists them under "Referenced by".
pub fn referenced_by(catalog: &Catalog, txn: &Transaction, table: &TableDef) -> Result<Vec<String>> {
    referencing(catalog, txn, &table.qualified())?
        .iter()
        .map(|(child, fk)| {
            let name = name_from(child, &table.schema);
            Ok(format!("TABLE {name} CONSTRAINT {}", describe_foreign_key(catalog, txn, child, fk)?))
        })
        .collect()
}

/// `table`'s name as seen from `schema`: qualified when it lives elsewhere.
fn name_from(table: &TableDef, schema: &str) -> String {
    if table.schema == schema { table.name.clone() } else { table.qualified().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Instance, Session};

    fn setup(sql: &str) -> (Arc<Instance>, Session) {
        let instance = Instance::memory();
        let mut session = Session::new(instance.clone());
        session.execute(sql).expect("setup");
        (instance, session)
    }

    #[test]
    fn helpers() {
        assert_eq!(show(&[Value::Int(1), Value::Null, Value::Text("a b".into())]), "1, null, a b");
        assert!(same_columns(&[2, 0], &[0, 2]));
        assert!(!same_columns(&[0], &[0, 2]));
        let values = [Value::Int(7), Value::Text("x".into())];
        assert_eq!(reorder(&[3, 1], &values, &[1, 3]), vec![Value::Text("x".into()), Value::Int(7)]);
    }

    /// The three ways to find referencing rows (primary-key prefix, secondary index,
    /// scan) find the same rows, and a value of the wrong width finds none.
    #[test]
    fn child_rows_agree_whatever_the_access_path() {
        let (instance, _session) = setup(
            "CREATE TABLE p (a INT, b TEXT, PRIMARY KEY (a, b));
             CREATE TABLE by_key (b TEXT, a INT, n INT, PRIMARY KEY (a, b, n),
                                  FOREIGN KEY (a, b) REFERENCES p);
             CREATE TABLE by_index (n INT PRIMARY KEY, a SMALLINT, b TEXT, FOREIGN KEY (a, b) REFERENCES p);
             CREATE INDEX by_index_ba ON by_index (b, a, n);
             CREATE TABLE by_scan (a INT, b TEXT, FOREIGN KEY (b, a) REFERENCES p (b, a));
             INSERT INTO p VALUES (1, 'x'), (1, 'y'), (2, 'x');
             INSERT INTO by_key VALUES ('x', 1, 1), ('x', 1, 2), ('y', 1, 3), ('x', 2, 4);
             INSERT INTO by_index VALUES (1, 1, 'x'), (2, 1, 'x'), (3, 1, 'y'), (4, 2, 'x'), (5, NULL, 'x');
             INSERT INTO by_scan VALUES (1, 'x'), (1, 'x'), (1, 'y'), (2, 'x'), (NULL, 'x');",
        );
        let txn = instance.store.begin();
        let count = |table: &str, key: &[Value]| {
            let child =
                instance.catalog.require_table(&txn, &QualifiedName::new("public", table)).expect("table");
            let fk = &child.foreign_keys[0];
            // The key comes in constraint order: by_scan's constraint is (b, a).
            let key = if table == "by_scan" { vec![key[1].clone(), key[0].clone()] } else { key.to_vec() };
            child_rows(&txn, &child, fk, &key, None).expect("rows").len()
        };
        for table in ["by_key", "by_index", "by_scan"] {
            assert_eq!(count(table, &[Value::Int(1), Value::Text("x".into())]), 2, "{table}");
            assert_eq!(count(table, &[Value::Int(1), Value::Text("y".into())]), 1, "{table}");
            assert_eq!(count(table, &[Value::Int(2), Value::Text("x".into())]), 1, "{table}");
            assert_eq!(count(table, &[Value::Int(3), Value::Text("x".into())]), 0, "{table}");
        }
        // 70000 does not fit by_index.a (SMALLINT): nothing can reference it.
        assert_eq!(count("by_index", &[Value::Int(70000), Value::Text("x".into())]), 0);
        txn.rollback().expect("rollback");
    }

    #[test]
    fn parent_rows_are_found_by_primary_key_or_unique_index() {
        let (instance, _session) = setup(
            "CREATE TABLE p (id INT PRIMARY KEY, a INT, b TEXT, UNIQUE (b, a));
             CREATE TABLE c (x TEXT, y INT, z INT REFERENCES p, FOREIGN KEY (x, y) REFERENCES p (b, a));
             INSERT INTO p VALUES (1, 10, 'ten'), (2, 20, NULL);",
        );
        let txn = instance.store.begin();
        let parent = instance.catalog.require_table(&txn, &QualifiedName::new("public", "p")).expect("p");
        let child = instance.catalog.require_table(&txn, &QualifiedName::new("public", "c")).expect("c");
        let by_pk = child.foreign_keys.iter().find(|fk| fk.columns == [2]).expect("pk fk");
        let by_unique = child.foreign_keys.iter().find(|fk| fk.columns == [0, 1]).expect("unique fk");
        let exists = |fk, values: &[Value]| parent_row_exists(&txn, &parent, fk, values).expect("read");
        assert!(exists(by_pk, &[Value::Int(2)]));
        assert!(!exists(by_pk, &[Value::Int(3)]));
        assert!(exists(by_unique, &[Value::Text("ten".into()), Value::Int(10)]));
        assert!(!exists(by_unique, &[Value::Text("ten".into()), Value::Int(20)]));
        txn.rollback().expect("rollback");
    }
}
