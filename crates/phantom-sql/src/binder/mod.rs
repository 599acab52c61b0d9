//! The binder: from `sqlparser`'s syntax tree to plans with resolved names and types.
//!
//! Binding happens inside the statement's transaction, because names are looked up in the
//! catalog as that transaction sees it. The output is a [`BoundStatement`]: a logical
//! [`Plan`] for queries and data changes, or a description of a DDL change. Everything a
//! user can get wrong in a statement (unknown names, type mismatches, misuse of aggregates)
//! is reported here, before any row is touched.

mod alter;
mod ddl;
mod dml;
mod expr;
mod lateral;
mod pg;
mod scope;
mod select;
mod table_function;

pub use alter::{AlterOp, AlterTable};
pub(crate) use ddl::check_key_types;
pub use ddl::{NewIndex, NewTable};
pub use expr::{AggState, Cx, Typed};
pub use pg::FUNCTIONS;
pub use scope::Scope;

use phantom_txn::Transaction;
use sqlparser::ast::{self, Statement};

use crate::catalog::Catalog;
use crate::error::{Error, Result, SqlState};
use crate::planner::Plan;
use crate::types::DataType;

/// A statement ready to plan or run.
#[derive(Clone, Debug)]
pub enum BoundStatement {
    /// A query returning rows.
    Query(Plan),
    /// INSERT, UPDATE or DELETE.
    Modify(Plan),
    /// CREATE TABLE.
    CreateTable(NewTable),
    /// CREATE INDEX.
    CreateIndex(NewIndex),
    /// DROP INDEX.
    DropIndex {
        /// The indexes to drop.
        names: Vec<String>,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// DROP TABLE.
    DropTable {
        /// The tables to drop.
        names: Vec<String>,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// ALTER TABLE.
    AlterTable(alter::AlterTable),
    /// TRUNCATE.
    Truncate {
        /// The tables to empty.
        names: Vec<String>,
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
    /// DROP VIEW.
    DropView {
        /// The views to drop.
        names: Vec<String>,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// EXPLAIN of a query or data change.
    Explain(Box<BoundStatement>),
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
    depth: usize,
    /// `FOR UPDATE / FOR SHARE` of the query being bound, for its SELECT to apply.
    row_lock: Option<phantom_txn::LockMode>,
    /// While binding a subquery: the enclosing query's columns, innermost last.
    outer: Vec<scope::Scope>,
    /// While binding a subquery: the enclosing columns it refers to (its `args`).
    captures: Vec<Vec<crate::planner::Expr>>,
    /// Common table expressions in scope, innermost last: name and plan.
    ctes: Vec<(String, Plan)>,
    /// Ids for recursive CTEs' work tables.
    next_work_table: usize,
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
            depth: 0,
            row_lock: None,
            outer: Vec::new(),
            captures: Vec::new(),
            ctes: Vec::new(),
            next_work_table: 0,
        }
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
            Statement::Insert(insert) => Ok(BoundStatement::Modify(self.insert(insert)?)),
            Statement::Update(update) => Ok(BoundStatement::Modify(self.update(update)?)),
            Statement::Delete(delete) => Ok(BoundStatement::Modify(self.delete(delete)?)),
            Statement::CreateTable(create) => Ok(BoundStatement::CreateTable(self.create_table(create)?)),
            Statement::Drop { object_type: ast::ObjectType::Table, if_exists, names, .. } => {
                let names = names.iter().map(table_name).collect::<Result<Vec<_>>>()?;
                Ok(BoundStatement::DropTable { names, if_exists: *if_exists })
            }
            Statement::CreateIndex(create) => Ok(BoundStatement::CreateIndex(self.create_index(create)?)),
            Statement::Drop { object_type: ast::ObjectType::Index, if_exists, names, .. } => {
                let names = names.iter().map(table_name).collect::<Result<Vec<_>>>()?;
                Ok(BoundStatement::DropIndex { names, if_exists: *if_exists })
            }
            Statement::AlterTable(alter) => Ok(BoundStatement::AlterTable(self.alter_table(alter)?)),
            Statement::Truncate(truncate) => {
                let names =
                    truncate.table_names.iter().map(|t| table_name(&t.name)).collect::<Result<Vec<_>>>()?;
                Ok(BoundStatement::Truncate { names })
            }
            Statement::CreateView(create) => {
                if create.materialized {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        "materialized views are not supported",
                    ));
                }
                let name = table_name(&create.name)?;
                // Bound now so that a view that cannot work is refused when it is created.
                let plan = self.query(&create.query)?;
                let columns: Vec<String> = create.columns.iter().map(|c| ident_name(&c.name)).collect();
                let visible = plan.columns().iter().filter(|c| !c.hidden).count();
                if columns.len() > visible {
                    return Err(Error::new(
                        SqlState::InvalidColumnReference,
                        format!(
                            "CREATE VIEW specifies more column names ({}) than the query has ({visible})",
                            columns.len()
                        ),
                    ));
                }
                let view = crate::catalog::ViewDef { name, columns, sql: create.query.to_string() };
                Ok(BoundStatement::CreateView {
                    view,
                    or_replace: create.or_replace,
                    if_not_exists: create.if_not_exists,
                })
            }
            Statement::Drop { object_type: ast::ObjectType::View, if_exists, names, .. } => {
                let names = names.iter().map(table_name).collect::<Result<Vec<_>>>()?;
                Ok(BoundStatement::DropView { names, if_exists: *if_exists })
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

/// A possibly qualified object name, as a single name (the schema, which must be `public`
/// or `pg_catalog`, is dropped).
pub fn object_name(name: &ast::ObjectName) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(ident_name)
                .ok_or_else(|| Error::new(SqlState::SyntaxError, format!("invalid name: {name}")))
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [n] => Ok(n.clone()),
        [schema, n] if schema == "public" || schema == "pg_catalog" => Ok(n.clone()),
        // System views of the standard's schema keep it in their name.
        [schema, n] if schema == "information_schema" => Ok(format!("{schema}.{n}")),
        [schema, _] => {
            Err(Error::new(SqlState::FeatureNotSupported, format!("schema \"{schema}\" does not exist")))
        }
        _ => Err(Error::new(SqlState::SyntaxError, format!("improper qualified name: {name}"))),
    }
}

/// A table name.
pub fn table_name(name: &ast::ObjectName) -> Result<String> {
    object_name(name)
}
