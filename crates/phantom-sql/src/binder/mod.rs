//! The binder: from `sqlparser`'s syntax tree to plans with resolved names and types.
//!
//! Binding happens inside the statement's transaction, because names are looked up in the
//! catalog as that transaction sees it. The output is a [`BoundStatement`]: a logical
//! [`Plan`] for queries and data changes, or a description of a DDL change. Everything a
//! user can get wrong in a statement (unknown names, type mismatches, misuse of aggregates)
//! is reported here, before any row is touched.

mod access;
mod alter;
mod datetime;
mod ddl;
mod dml;
mod drop;
mod expr;
mod grant;
mod lateral;
mod names;
mod pg;
mod privilege_functions;
mod recursion;
mod role;
mod scope;
mod select;
mod sequence;
mod table_function;

pub use alter::{AlterOp, AlterTable, ColumnChange};
pub use ddl::{NewIndex, NewTable};
pub(crate) use ddl::{already_exists, check_key_types, key_types_compatible};
pub use expr::{AggState, Cx, Typed};
pub use grant::{GrantObject, GrantStatement, Grantee};
pub use names::{NameRef, name_ref};
pub use pg::FUNCTIONS;
pub use role::{RoleChange, RoleOptions};
pub use scope::Scope;

use phantom_txn::Transaction;
use sqlparser::ast::{self, Statement};

use crate::catalog::{Catalog, PUBLIC, QualifiedName};
use crate::error::{Error, Result, SqlState};
use crate::planner::Plan;
use crate::types::DataType;

/// What an `INSERT ... RETURNING` gives back for each row it stores.
#[derive(Clone, Debug)]
pub struct Returning {
    /// Expressions over the stored row (all the table's columns, in order).
    pub exprs: Vec<crate::planner::expr::Expr>,
    /// The columns of the rows returned.
    pub columns: Vec<crate::result::Column>,
}

/// A statement ready to plan or run.
#[derive(Clone, Debug)]
pub enum BoundStatement {
    /// A query returning rows.
    Query(Plan),
    /// INSERT, UPDATE or DELETE.
    Modify(Plan),
    /// INSERT, UPDATE or DELETE ... RETURNING: the change, and what each row it stores
    /// (or, for DELETE, removes) gives back.
    ModifyReturning(Plan, Returning),
    /// CREATE TABLE.
    CreateTable(Box<NewTable>),
    /// CREATE INDEX.
    CreateIndex(NewIndex),
    /// DROP INDEX of existing indexes (IF EXISTS left out the missing ones).
    DropIndex {
        /// The indexes to drop.
        indexes: Vec<QualifiedName>,
        /// CASCADE: drop the foreign keys that need them too.
        cascade: bool,
    },
    /// DROP TABLE of existing tables.
    DropTable {
        /// The tables to drop.
        tables: Vec<QualifiedName>,
        /// CASCADE: drop the views and foreign keys that depend on them too.
        cascade: bool,
    },
    /// DROP VIEW of existing views.
    DropView {
        /// The views to drop.
        views: Vec<QualifiedName>,
        /// CASCADE: drop the views that depend on them too.
        cascade: bool,
    },
    /// CREATE SCHEMA.
    CreateSchema {
        /// The new schema's name.
        name: String,
        /// IF NOT EXISTS.
        if_not_exists: bool,
        /// `AUTHORIZATION role`: who owns it (else the session's role).
        authorization: Option<String>,
    },
    /// DROP SCHEMA of existing schemas.
    DropSchema {
        /// The schemas to drop.
        schemas: Vec<String>,
        /// CASCADE: drop their tables and views (and what depends on those) too.
        cascade: bool,
    },
    /// ALTER TABLE.
    AlterTable(alter::AlterTable),
    /// TRUNCATE.
    Truncate {
        /// The tables to empty.
        tables: Vec<QualifiedName>,
    },
    /// CREATE VIEW.
    CreateView {
        /// The definition to store.
        view: crate::catalog::ViewDef,
        /// OR REPLACE.
        or_replace: bool,
        /// IF NOT EXISTS.
        if_not_exists: bool,
    },
    /// CREATE ROLE (and CREATE USER).
    CreateRole {
        /// The new role's name.
        name: String,
        /// The attributes given.
        options: RoleOptions,
    },
    /// ALTER ROLE.
    AlterRole {
        /// The role to change.
        name: String,
        /// The change.
        change: RoleChange,
    },
    /// DROP ROLE.
    DropRole {
        /// The roles to drop.
        names: Vec<String>,
        /// IF EXISTS: names of no role are skipped.
        if_exists: bool,
    },
    /// EXPLAIN of a query or data change.
    Explain(Box<BoundStatement>),
    /// CREATE SEQUENCE (the keyspace is assigned when it runs).
    CreateSequence { def: crate::catalog::SequenceDef, if_not_exists: bool },
    /// ALTER SEQUENCE: the new definition, and the value a RESTART asks for.
    AlterSequence { def: crate::catalog::SequenceDef, restart: Option<i64> },
    /// DROP SEQUENCE.
    DropSequence {
        sequences: Vec<QualifiedName>,
        /// CASCADE: drop the column defaults that use them too.
        cascade: bool,
    },
    /// GRANT or REVOKE of privileges.
    Grant(GrantStatement),
    /// ALTER TABLE / VIEW / SEQUENCE / SCHEMA ... OWNER TO.
    AlterOwner {
        /// What changes hands.
        object: GrantObject,
        /// The new owner's name.
        owner: String,
    },
    /// A statement IF [NOT] EXISTS made a no-op; its command tag.
    Skip(&'static str),
}

/// Binds statements against the catalog as one transaction sees it.
pub struct Binder<'a> {
    catalog: &'a Catalog,
    txn: &'a Transaction,
    /// For system views; `None` where they are not available.
    store: Option<&'a phantom_txn::MvccStore>,
    /// The session's settings, for `current_setting()` and `pg_settings`.
    settings: Option<&'a crate::block::Settings>,
    /// Types of `$n` parameters, as far as the context has decided them.
    params: Vec<Option<DataType>>,
    /// How deep binding is nested (see [`crate::depth`]).
    depth: crate::depth::Depth,
    /// `FOR UPDATE / FOR SHARE` of the query being bound, for its SELECT to apply.
    row_lock: Option<phantom_txn::LockMode>,
    /// While binding a subquery: the enclosing query's columns, innermost last.
    outer: Vec<scope::Scope>,
    /// While binding a subquery: the enclosing columns it refers to (its `args`).
    captures: Vec<Vec<crate::planner::Expr>>,
    /// While binding a subquery: the aggregates it uses that belong to the enclosing
    /// query (see [`expr::Hoisted`]), beside `captures`.
    hoisted: Vec<Vec<expr::Hoisted>>,
    /// Set when a subquery found such aggregates but the enclosing query was not bound
    /// as an aggregate query: its SELECT binds again, aggregating.
    hoist_signal: bool,
    /// Common table expressions in scope, innermost last: name, plan, and how deep and
    /// costly binding it was (a copy counts as much, see [`crate::depth`]).
    ctes: Vec<(String, Plan, crate::depth::Measured)>,
    /// Ids for recursive CTEs' work tables.
    next_work_table: usize,
    /// Where unqualified table names are looked up (the session's `search_path`).
    search_path: Vec<String>,
    /// The tables and views read so far, views' own tables included.
    used: Vec<QualifiedName>,
    /// The views being expanded, outermost first (a view that reads itself is an error,
    /// not an endless expansion).
    expanding: Vec<QualifiedName>,
    /// What `set_config()` calls asked for, for the session to apply after the statement.
    setting_changes: Vec<crate::block::SettingChange>,
    /// The values of `$n` parameters when the statement is bound to run (not when it is
    /// prepared): `set_config($1, $2, false)` needs them while binding.
    param_values: Option<&'a [crate::types::Value]>,
    /// What the statement needs of what it uses (see [`access`]); recorded by name
    /// lookups that only borrow the binder, hence the cell.
    needs: std::cell::RefCell<Vec<crate::privilege::Need>>,
    /// The owners of the views being expanded, innermost last: whose privileges the
    /// names in a view's query need.
    reading_as: Vec<i64>,
}

impl<'a> Binder<'a> {
    /// A binder reading the catalog through `txn`.
    pub fn new(catalog: &'a Catalog, txn: &'a Transaction) -> Self {
        Binder {
            catalog,
            txn,
            store: None,
            settings: None,
            params: Vec::new(),
            depth: crate::depth::Depth::default(),
            row_lock: None,
            outer: Vec::new(),
            captures: Vec::new(),
            hoisted: Vec::new(),
            hoist_signal: false,
            ctes: Vec::new(),
            next_work_table: 0,
            search_path: vec![PUBLIC.to_string()],
            used: Vec::new(),
            expanding: Vec::new(),
            setting_changes: Vec::new(),
            param_values: None,
            needs: Default::default(),
            reading_as: Vec::new(),
        }
    }

    /// Gives the statement's first `$n` parameters the types PREPARE declared for them
    /// (the rest are decided by their context, as usual).
    pub fn with_parameter_types(mut self, types: &[DataType]) -> Self {
        self.params = types.iter().map(|&t| Some(t)).collect();
        self
    }

    /// Makes the values of the statement's `$n` parameters known while binding.
    pub fn with_parameter_values(mut self, values: &'a [crate::types::Value]) -> Self {
        self.param_values = Some(values);
        self
    }

    /// The setting changes `set_config()` calls of the bound statement ask for, in order.
    pub fn take_setting_changes(&mut self) -> Vec<crate::block::SettingChange> {
        std::mem::take(&mut self.setting_changes)
    }

    /// The session's settings as the statement sees them: with the changes its earlier
    /// `set_config()` calls made. `None` without a session.
    fn current_settings(&self) -> Result<Option<std::borrow::Cow<'a, crate::block::Settings>>> {
        let Some(settings) = self.settings else { return Ok(None) };
        if self.setting_changes.is_empty() {
            return Ok(Some(std::borrow::Cow::Borrowed(settings)));
        }
        let mut changed = settings.clone();
        for change in &self.setting_changes {
            changed.set(&change.name, &change.value)?;
        }
        Ok(Some(std::borrow::Cow::Owned(changed)))
    }

    /// Looks unqualified names up through `path` (a session's `search_path`).
    pub fn with_search_path(mut self, path: &[String]) -> Self {
        self.search_path = path.to_vec();
        self
    }

    /// Makes system views (e.g. `phantom_storage_stats`) of `store` visible.
    pub fn with_system_views(mut self, store: &'a phantom_txn::MvccStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Makes the session's settings visible to `current_setting()` and `pg_settings`.
    pub fn with_settings(mut self, settings: &'a crate::block::Settings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// The parameter types found while binding (`None`: nothing decided, treat as text).
    pub fn parameter_types(&self) -> Vec<DataType> {
        self.params.iter().map(|t| t.unwrap_or(DataType::Text)).collect()
    }

    /// Binds one statement.
    pub fn statement(&mut self, statement: &Statement) -> Result<BoundStatement> {
        match statement {
            Statement::Query(q) => Ok(BoundStatement::Query(self.query(q)?)),
            Statement::Insert(insert) => {
                let plan = self.insert(insert)?;
                let alias = insert.table_alias.as_ref().map(|a| ident_name(&a.alias));
                self.with_returning(plan, alias, insert.returning.as_deref())
            }
            Statement::Update(update) => {
                let plan = self.update(update)?;
                let alias = dml::target_alias(&update.table.relation);
                self.with_returning(plan, alias, update.returning.as_deref())
            }
            Statement::Delete(delete) => {
                let plan = self.delete(delete)?;
                let alias = match &delete.from {
                    ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from) => {
                        from.first().and_then(|f| dml::target_alias(&f.relation))
                    }
                };
                self.with_returning(plan, alias, delete.returning.as_deref())
            }
            Statement::CreateTable(create) => match self.create_table(create)? {
                Some(new) => Ok(BoundStatement::CreateTable(Box::new(new))),
                None => Ok(BoundStatement::Skip("CREATE TABLE")),
            },
            Statement::Drop {
                object_type: ast::ObjectType::Role | ast::ObjectType::User,
                if_exists,
                names,
                cascade,
                table: None,
                ..
            } => self.drop_roles(names, *if_exists, *cascade),
            Statement::Drop {
                object_type, if_exists, names, cascade, temporary: false, table: None, ..
            } => self.drop(*object_type, *if_exists, names, *cascade),
            Statement::CreateRole(create) => self.create_role(create),
            Statement::AlterRole { name, operation } => self.alter_role(name, operation),
            Statement::CreateIndex(create) => match self.create_index(create)? {
                Some(new) => Ok(BoundStatement::CreateIndex(new)),
                None => Ok(BoundStatement::Skip("CREATE INDEX")),
            },
            Statement::AlterTable(alter) if alter::is_owner_change(alter) => self.alter_table_owner(alter),
            Statement::AlterTable(alter) => match self.alter_table(alter)? {
                Some(alter) => Ok(BoundStatement::AlterTable(alter)),
                None => Ok(BoundStatement::Skip("ALTER TABLE")),
            },
            Statement::Truncate(truncate) => self.truncate(truncate),
            Statement::CreateSchema { schema_name, if_not_exists, or_replace: false, .. } => {
                let (name, authorization) = match schema_name {
                    ast::SchemaName::Simple(name) => (name_ref(name)?, None),
                    ast::SchemaName::NamedAuthorization(name, role) => {
                        (name_ref(name)?, Some(self.owner_name(&ast::Owner::Ident(role.clone()))))
                    }
                    // `CREATE SCHEMA AUTHORIZATION alice` names the schema after its owner.
                    ast::SchemaName::UnnamedAuthorization(role) => {
                        let owner = self.owner_name(&ast::Owner::Ident(role.clone()));
                        (names::NameRef { schema: None, name: owner.clone() }, Some(owner))
                    }
                };
                if name.schema.is_some() {
                    return Err(Error::new(SqlState::SyntaxError, format!("improper schema name: {name}")));
                }
                // Making a schema takes CREATE on the database.
                self.require(
                    crate::privilege::Target::Database,
                    crate::privilege::Required::AnyOf(crate::catalog::acl::Privileges::CREATE),
                );
                Ok(BoundStatement::CreateSchema {
                    name: name.name,
                    if_not_exists: *if_not_exists,
                    authorization,
                })
            }
            Statement::Grant(grant) => self.grant(grant),
            Statement::Revoke(revoke) => self.revoke(revoke),
            Statement::GrantRole(_) | Statement::RevokeRole(_) => Err(Error::new(
                SqlState::FeatureNotSupported,
                "role membership (GRANT role TO role) is not supported",
            )),
            Statement::AlterView(alter) => self.alter_view(alter),
            Statement::AlterSchema(alter) => self.alter_schema(alter),
            Statement::CreateView(create) => self.create_view(create),
            Statement::CreateSequence { temporary, if_not_exists, name, sequence_options } => {
                self.create_sequence(*if_not_exists, *temporary, name, sequence_options)
            }
            Statement::Explain { statement, analyze: false, .. } => {
                Ok(BoundStatement::Explain(Box::new(self.statement(statement)?)))
            }
            other => Err(Error::new(
                SqlState::FeatureNotSupported,
                format!("statement not supported: {}", first_words(&other.to_string())),
            )),
        }
    }
}

/// The first few words of a statement, for error messages.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// An identifier as PostgreSQL folds it: lower case unless quoted.
pub fn ident_name(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_lowercase() }
}

/// A possibly qualified name of something other than a table, view or index (a function,
/// a type), as a single name: the schema, which must be `public` or `pg_catalog`, is
/// dropped.
pub fn object_name(name: &ast::ObjectName) -> Result<String> {
    let parts = name_parts(name)?;
    match parts.as_slice() {
        [n] => Ok(n.clone()),
        [schema, n] if schema == "public" || schema == "pg_catalog" => Ok(n.clone()),
        [schema, _] => Err(crate::catalog::no_schema(schema)),
        _ => Err(Error::new(SqlState::SyntaxError, format!("improper qualified name: {name}"))),
    }
}

/// The dotted parts of a name, each folded as PostgreSQL does.
pub(crate) fn name_parts(name: &ast::ObjectName) -> Result<Vec<String>> {
    name.0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(ident_name)
                .ok_or_else(|| Error::new(SqlState::SyntaxError, format!("invalid name: {name}")))
        })
        .collect()
}

impl Binder<'_> {
    /// Runs `f` `levels` deeper (see [`crate::depth`]): 54001 past the limit, and on a
    /// fresh stack segment when this one is nearly used up.
    pub(crate) fn nested<T>(&mut self, levels: usize, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.depth.enter(levels)?;
        let result = crate::depth::grow(|| f(self));
        self.depth.leave(levels);
        result
    }

    /// An INSERT, UPDATE or DELETE plan with its RETURNING list, if it has one.
    fn with_returning(
        &mut self,
        plan: Plan,
        alias: Option<String>,
        items: Option<&[ast::SelectItem]>,
    ) -> Result<BoundStatement> {
        let Some(items) = items else { return Ok(BoundStatement::Modify(plan)) };
        let table = match &plan {
            Plan::Insert { table, .. } | Plan::Update { table, .. } | Plan::Delete { table, .. } => {
                table.clone()
            }
            _ => {
                return Err(Error::new(
                    SqlState::InternalError,
                    "RETURNING on something that changes no rows",
                ));
            }
        };
        // What RETURNING gives back is read from the table: SELECT, as in PostgreSQL.
        self.require_on_table(&table, crate::catalog::acl::Privileges::SELECT);
        let returning = self.returning(table, alias, items)?;
        Ok(BoundStatement::ModifyReturning(plan, returning))
    }
}
