//! Binding DROP, TRUNCATE and CREATE VIEW: which existing objects they name.
//!
//! Names are resolved here, through the session's search path, so the executor works on
//! qualified names only. `IF EXISTS` drops the names that find nothing (a statement
//! left with nothing to do becomes [`BoundStatement::Skip`]); a name that finds an object
//! of another kind (`DROP TABLE` of a view) is 42809, as in PostgreSQL.

use sqlparser::ast;

use super::names::{name_ref, wrong_kind};
use super::{Binder, BoundStatement, ident_name};
use crate::catalog::acl::Privileges;
use crate::catalog::{QualifiedName, SchemaDef, ViewDef, is_system_schema, no_schema};
use crate::error::{Error, Result, SqlState};
use crate::privilege::{Required, Securable, Target};

impl Binder<'_> {
    /// Binds `DROP TABLE | VIEW | INDEX | SEQUENCE | SCHEMA [IF EXISTS] name [, ...] [CASCADE]`.
    pub(super) fn drop(
        &mut self,
        kind: ast::ObjectType,
        if_exists: bool,
        names: &[ast::ObjectName],
        cascade: bool,
    ) -> Result<BoundStatement> {
        let mut found: Vec<QualifiedName> = Vec::new();
        let mut schemas: Vec<String> = Vec::new();
        for name in names {
            // What is dropped must be its owner's, or its schema owner's (PostgreSQL's
            // rule); what goes with it by CASCADE needs nothing more.
            let object = match kind {
                ast::ObjectType::Table => self.ddl_table(name, if_exists)?.map(|t| Securable::table(&t)),
                ast::ObjectType::View => self.ddl_view(name, if_exists)?.map(|v| Securable::view(&v)),
                ast::ObjectType::Index => self.existing_index(name, if_exists)?,
                ast::ObjectType::Sequence => {
                    self.ddl_sequence(name, if_exists)?.map(|s| Securable::sequence(&s))
                }
                ast::ObjectType::Schema => {
                    match self.existing_schema(name, if_exists)? {
                        Some(schema) => {
                            self.require_ownership(Securable::schema(&schema));
                            if !schemas.contains(&schema.name) {
                                schemas.push(schema.name);
                            }
                        }
                        None => self.skipping("schema", name)?,
                    }
                    continue;
                }
                other => {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        format!("DROP {other} is not supported"),
                    ));
                }
            };
            let Some(object) = object else {
                let what = match kind {
                    ast::ObjectType::View => "view",
                    ast::ObjectType::Index => "index",
                    ast::ObjectType::Sequence => "sequence",
                    _ => "table",
                };
                self.skipping(what, name)?;
                continue;
            };
            let target = QualifiedName::new(object.schema.as_deref().unwrap_or_default(), &object.name);
            self.require(Target::Object(object), Required::OwnerOrSchemaOwner);
            if !found.contains(&target) {
                found.push(target);
            }
        }
        Ok(match kind {
            ast::ObjectType::Schema if schemas.is_empty() => BoundStatement::Skip("DROP SCHEMA"),
            ast::ObjectType::Schema => BoundStatement::DropSchema { schemas, cascade },
            ast::ObjectType::Table if found.is_empty() => BoundStatement::Skip("DROP TABLE"),
            ast::ObjectType::Table => BoundStatement::DropTable { tables: found, cascade },
            ast::ObjectType::View if found.is_empty() => BoundStatement::Skip("DROP VIEW"),
            ast::ObjectType::View => BoundStatement::DropView { views: found, cascade },
            ast::ObjectType::Sequence if found.is_empty() => BoundStatement::Skip("DROP SEQUENCE"),
            ast::ObjectType::Sequence => BoundStatement::DropSequence { sequences: found, cascade },
            _ if found.is_empty() => BoundStatement::Skip("DROP INDEX"),
            _ => BoundStatement::DropIndex { indexes: found, cascade },
        })
    }

    /// The index `name` refers to (in its table's schema, its table's owner's).
    fn existing_index(&self, name: &ast::ObjectName, missing_ok: bool) -> Result<Option<Securable>> {
        let name = name_ref(name)?;
        if !self.schema_of_existing(&name, missing_ok)? {
            return Ok(None);
        }
        let found =
            self.catalog.find_index(self.txn, &self.search_path, name.schema.as_deref(), &name.name)?;
        match found {
            Some((table, _)) => {
                self.require_schema_usage(&table.schema);
                Ok(Some(Securable::index(&table, &name.name)))
            }
            None if self.find_relation(&name)?.is_some() => Err(wrong_kind(&name, "an index")),
            None if missing_ok => Ok(None),
            None => Err(Error::new(SqlState::UndefinedObject, format!("index \"{name}\" does not exist"))),
        }
    }

    /// The schema `name` refers to, for DROP SCHEMA.
    fn existing_schema(&self, name: &ast::ObjectName, missing_ok: bool) -> Result<Option<SchemaDef>> {
        let name = name_ref(name)?;
        if name.schema.is_some() {
            return Err(Error::new(SqlState::SyntaxError, format!("improper schema name: {name}")));
        }
        if is_system_schema(&name.name) {
            return Err(Error::new(
                SqlState::DependentObjectsStillExist,
                format!("cannot drop schema {} because it is required by the database system", name.name),
            ));
        }
        match self.catalog.schema(self.txn, &name.name)? {
            Some(schema) => Ok(Some(schema)),
            None if missing_ok => Ok(None),
            None => Err(no_schema(&name.name)),
        }
    }

    /// Binds `TRUNCATE [TABLE] t [, ...]`.
    pub(super) fn truncate(&mut self, truncate: &ast::Truncate) -> Result<BoundStatement> {
        let mut tables: Vec<QualifiedName> = Vec::new();
        for target in &truncate.table_names {
            if let Some(table) = self.ddl_table(&target.name, truncate.if_exists)? {
                self.require_on_table(&table, Privileges::TRUNCATE);
                let name = table.qualified();
                if !tables.contains(&name) {
                    tables.push(name);
                }
            }
        }
        if tables.is_empty() {
            return Ok(BoundStatement::Skip("TRUNCATE TABLE"));
        }
        Ok(BoundStatement::Truncate { tables })
    }

    /// Binds `CREATE [OR REPLACE] VIEW v [(cols)] AS query`: the query is bound now, so
    /// that a view that cannot work is refused when it is created.
    pub(super) fn create_view(&mut self, create: &ast::CreateView) -> Result<BoundStatement> {
        if create.materialized {
            return Err(Error::new(SqlState::FeatureNotSupported, "materialized views are not supported"));
        }
        if create.temporary {
            return Err(Error::new(SqlState::FeatureNotSupported, "temporary views are not supported yet"));
        }
        view_options(&create.options)?;
        let name = self.new_relation_name(&create.name)?;
        if create.or_replace
            && let Some(old) = self.catalog.view(self.txn, &name.schema, &name.name)?
        {
            // Replacing a view is changing it: its owner's business.
            self.require_ownership(Securable::view(&old));
        }
        let before = self.needs.borrow().len();
        // Bound two levels deeper, as reading the view will be (a FROM item of a query),
        // so that a view that is created can be read.
        let plan = self.nested(2, |b| b.query(&create.query))?;
        // The view's reads are checked when it is used, for its owner; making it takes
        // only finding its names (schema USAGE), as in PostgreSQL.
        let mut needs = self.needs.borrow_mut();
        let mut k = 0;
        needs.retain(|n| {
            k += 1;
            k <= before || matches!(n.target, Target::Schema(_))
        });
        drop(needs);
        if self.used.contains(&name) {
            return Err(Error::new(
                SqlState::InvalidObjectDefinition,
                format!("view \"{}\" cannot read itself", name.name),
            ));
        }
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
        let view = ViewDef {
            schema: name.schema,
            name: name.name,
            columns,
            sql: create.query.to_string(),
            search_path: self.search_path.clone(),
            // The session's role, filled in when it runs (or the old view's owner, for a
            // replacement), see `privilege::assign_owners`.
            owner: crate::catalog::acl::bootstrap_owner(),
            acl: None,
        };
        Ok(BoundStatement::CreateView {
            view,
            or_replace: create.or_replace,
            if_not_exists: create.if_not_exists,
        })
    }
}

/// `CREATE VIEW ... WITH (...)`: PostgreSQL's view options. `security_barrier` is
/// accepted (with no user-defined functions, nothing can see the rows a view's filter
/// removes); `check_option` and `security_invoker` would change what the view does and
/// are refused until built; any other name is PostgreSQL's 22023.
fn view_options(options: &ast::CreateTableOptions) -> Result<()> {
    let list = match options {
        ast::CreateTableOptions::None => return Ok(()),
        ast::CreateTableOptions::With(list) => list,
        other => {
            return Err(Error::new(SqlState::SyntaxError, format!("view options not supported: {other}")));
        }
    };
    for option in list {
        let key = match option {
            ast::SqlOption::KeyValue { key, .. } => key.to_string(),
            ast::SqlOption::Ident(name) => name.to_string(),
            other => {
                return Err(Error::new(SqlState::SyntaxError, format!("view option not supported: {other}")));
            }
        };
        match key.to_ascii_lowercase().as_str() {
            "security_barrier" => {}
            "check_option" | "security_invoker" => {
                return Err(Error::new(
                    SqlState::FeatureNotSupported,
                    format!("the view option \"{key}\" is not supported yet"),
                ));
            }
            _ => {
                return Err(Error::new(
                    SqlState::InvalidParameterValue,
                    format!("unrecognized parameter \"{key}\""),
                ));
            }
        }
    }
    Ok(())
}
