//! What the statement being bound needs of the objects it uses: the [`Need`]s the
//! session checks before the statement runs ([`crate::privilege::authorize`]).
//!
//! Binding only records; it never refuses, so that binding for other purposes (a view's
//! columns, the views that depend on a table) works whoever asks. Inside a view's query
//! the needs are the view owner's ([`Binder::view_plan`] says whose), and the schemas its
//! names are found in are not checked at all, as PostgreSQL checks schema USAGE only where
//! a statement names something.

use super::Binder;
use crate::catalog::acl::Privileges;
use crate::catalog::{Relation, TableDef, is_system_schema};
use crate::privilege::{Need, Required, Securable, Target};

impl Binder<'_> {
    /// Records that the statement needs `required` of `target`.
    pub(crate) fn require(&self, target: Target, required: Required) {
        let need = Need { target, required, checked_as: self.reading_as.last().copied() };
        let mut needs = self.needs.borrow_mut();
        if !needs.contains(&need) {
            needs.push(need);
        }
    }

    /// Records that the statement needs one of `privileges` on `object`.
    pub(crate) fn require_privilege(&self, object: Securable, privileges: Privileges) {
        self.require(Target::Object(object), Required::AnyOf(privileges));
    }

    /// Records that the statement needs `privileges` on `table`.
    pub(crate) fn require_on_table(&self, table: &TableDef, privileges: Privileges) {
        self.require_privilege(Securable::table(table), privileges);
    }

    /// Records that the statement reads the relation `relation` (SELECT on it).
    pub(crate) fn require_select(&self, relation: &Relation) {
        let object = match relation {
            Relation::Table(table) => Securable::table(table),
            Relation::View(view) => Securable::view(view),
        };
        self.require_privilege(object, Privileges::SELECT);
    }

    /// Records that the statement must be the owner of `object`.
    pub(crate) fn require_ownership(&self, object: Securable) {
        self.require(Target::Object(object), Required::Ownership);
    }

    /// Records that the statement names something in `schema` (USAGE on it), unless it
    /// is a system schema or the name is a view's.
    pub(crate) fn require_schema_usage(&self, schema: &str) {
        if self.reading_as.is_empty() && !is_system_schema(schema) {
            self.require(Target::Schema(schema.to_string()), Required::AnyOf(Privileges::USAGE));
        }
    }

    /// Records that the statement creates something in `schema` (CREATE on it).
    pub(crate) fn require_schema_create(&self, schema: &str) {
        self.require(Target::Schema(schema.to_string()), Required::AnyOf(Privileges::CREATE));
    }

    /// For UPDATE and DELETE: reading the target's columns (in WHERE or SET) needs
    /// SELECT on it too, as in PostgreSQL.
    pub(crate) fn require_select_if_read<'e>(
        &self,
        table: &TableDef,
        exprs: impl IntoIterator<Item = &'e crate::planner::Expr>,
    ) {
        if exprs.into_iter().any(|e| e.max_column().is_some()) {
            self.require_on_table(table, Privileges::SELECT);
        }
    }

    /// The needs recorded so far, taken out of the binder.
    pub fn take_needs(&mut self) -> Vec<Need> {
        std::mem::take(self.needs.get_mut())
    }
}
