//! Names of tables, views and indexes in statements: `[schema.]name` as written, looked
//! up through the session's search path, and the schema a new object goes to.
//!
//! PostgreSQL treats a qualified name whose schema does not exist differently by
//! statement, and so do we: a query or data change reports the relation as missing
//! (42P01 `relation "s.t" does not exist`), DDL reports the schema (3F000), and `IF
//! EXISTS` skips either. The lookups themselves are the catalog's
//! ([`Catalog::find_relation`](crate::catalog::Catalog::find_relation)); the binder only
//! adds the session's path and the errors.

use std::fmt;
use std::sync::Arc;

use sqlparser::ast;

use super::Binder;
use crate::catalog::{QualifiedName, Relation, TableDef, ViewDef, no_schema, system};
use crate::error::{Error, Result, SqlState};

/// A possibly qualified name as the statement wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRef {
    /// The schema, when the name was qualified.
    pub schema: Option<String>,
    /// The object's own name.
    pub name: String,
}

impl fmt::Display for NameRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Splits `[database.][schema.]name`, folding each part as PostgreSQL does. A database
/// part must name this database.
pub fn name_ref(name: &ast::ObjectName) -> Result<NameRef> {
    let parts = super::name_parts(name)?;
    match parts.as_slice() {
        [n] => Ok(NameRef { schema: None, name: n.clone() }),
        [s, n] => Ok(NameRef { schema: Some(s.clone()), name: n.clone() }),
        [database, s, n] if database == system::DATABASE => {
            Ok(NameRef { schema: Some(s.clone()), name: n.clone() })
        }
        [_, _, _] => Err(Error::new(
            SqlState::FeatureNotSupported,
            format!("cross-database references are not implemented: {name}"),
        )),
        _ => Err(Error::new(
            SqlState::SyntaxError,
            format!("improper qualified name (too many dotted names): {name}"),
        )),
    }
}

/// 42P01 for a relation that is not there, named as written.
pub fn no_relation(name: &NameRef) -> Error {
    Error::new(SqlState::UndefinedTable, format!("relation \"{name}\" does not exist"))
}

/// 42809 for a relation of the wrong kind (`"v" is not a table`).
pub fn wrong_kind(name: &NameRef, kind: &str) -> Error {
    Error::new(SqlState::WrongObjectType, format!("\"{name}\" is not {kind}"))
}

impl Binder<'_> {
    /// The table or view `name` refers to, if any.
    pub(crate) fn find_relation(&self, name: &NameRef) -> Result<Option<Relation>> {
        let found =
            self.catalog.find_relation(self.txn, &self.search_path, name.schema.as_deref(), &name.name)?;
        if let Some(relation) = &found {
            self.require_schema_usage(&relation.qualified().schema);
        }
        Ok(found)
    }

    /// For DDL on an existing object: `name`'s schema, if it has one, must exist. With
    /// `missing_ok` (IF EXISTS) a missing schema is `false` (skip) instead of 3F000.
    pub(crate) fn schema_of_existing(&self, name: &NameRef, missing_ok: bool) -> Result<bool> {
        match &name.schema {
            Some(schema) if !self.catalog.schema_exists(self.txn, schema)? => {
                if missing_ok {
                    Ok(false)
                } else {
                    Err(no_schema(schema))
                }
            }
            _ => Ok(true),
        }
    }

    /// The notice of a statement whose IF EXISTS found no `what` (`table`, `view`, ...)
    /// called `name`: PostgreSQL's "... does not exist, skipping", naming the schema when
    /// that is what is missing.
    pub(crate) fn skipping(&self, what: &str, name: &ast::ObjectName) -> Result<()> {
        let name = name_ref(name)?;
        let message = match &name.schema {
            Some(schema) if !self.catalog.schema_exists(self.txn, schema)? => {
                format!("schema \"{schema}\" does not exist, skipping")
            }
            _ => format!("{what} \"{}\" does not exist, skipping", name.name),
        };
        crate::notice::raise(crate::notice::Notice::new("00000", message));
        Ok(())
    }

    /// The table a DDL statement names: 3F000 for a missing schema, 42P01 for a missing
    /// table, 42809 for a view. `missing_ok` (IF EXISTS) turns the missing cases into
    /// `None`.
    pub(crate) fn ddl_table(
        &self,
        name: &ast::ObjectName,
        missing_ok: bool,
    ) -> Result<Option<Arc<TableDef>>> {
        let name = name_ref(name)?;
        if !self.schema_of_existing(&name, missing_ok)? {
            return Ok(None);
        }
        match self.find_relation(&name)? {
            Some(Relation::Table(table)) => Ok(Some(table)),
            Some(Relation::View(_)) => Err(wrong_kind(&name, "a table")),
            None if self.find_sequence(&name)?.is_some() => Err(wrong_kind(&name, "a table")),
            None if missing_ok => Ok(None),
            None => Err(no_relation(&name)),
        }
    }

    /// The view a DDL statement names, like [`Binder::ddl_table`].
    pub(crate) fn ddl_view(&self, name: &ast::ObjectName, missing_ok: bool) -> Result<Option<ViewDef>> {
        let name = name_ref(name)?;
        if !self.schema_of_existing(&name, missing_ok)? {
            return Ok(None);
        }
        match self.find_relation(&name)? {
            Some(Relation::View(view)) => Ok(Some(view)),
            Some(Relation::Table(_)) => Err(wrong_kind(&name, "a view")),
            None if self.find_sequence(&name)?.is_some() => Err(wrong_kind(&name, "a view")),
            None if missing_ok => Ok(None),
            None => Err(Error::new(SqlState::UndefinedTable, format!("view \"{name}\" does not exist"))),
        }
    }

    /// The qualified name of a new table, view or index called `name`: in its schema, which
    /// must exist and take user objects, or else in the first schema of the search path
    /// that exists.
    pub(crate) fn new_relation_name(&self, name: &ast::ObjectName) -> Result<QualifiedName> {
        let name = name_ref(name)?;
        let schema = match name.schema {
            Some(schema) => {
                self.catalog.check_creatable_in(self.txn, &schema)?;
                schema
            }
            None => self.catalog.creation_schema(self.txn, &self.search_path)?,
        };
        self.require_schema_create(&schema);
        Ok(QualifiedName { schema, name: name.name })
    }

    /// Records that the statement reads `name` (for finding what depends on what).
    pub(crate) fn record_use(&mut self, name: QualifiedName) {
        if !self.used.contains(&name) {
            self.used.push(name);
        }
    }

    /// The tables and views the bound statements read, directly or through views.
    pub fn relations_used(&self) -> &[QualifiedName] {
        &self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_one;

    fn table_name_of(sql: &str) -> Result<NameRef> {
        match parse_one(sql)? {
            ast::Statement::Drop { names, .. } => name_ref(&names[0]),
            other => panic!("not a DROP: {other}"),
        }
    }

    #[test]
    fn names_split_and_fold() {
        let name = table_name_of("DROP TABLE App.\"Odd\"").expect("name");
        assert_eq!(name, NameRef { schema: Some("app".into()), name: "Odd".into() });
        assert_eq!(name.to_string(), "app.Odd");
        assert_eq!(table_name_of("DROP TABLE t").expect("name").schema, None);
        assert_eq!(table_name_of("DROP TABLE phantom.s.t").expect("name").schema.as_deref(), Some("s"));
        assert_eq!(table_name_of("DROP TABLE other.s.t").map_err(|e| e.sqlstate()), Err("0A000"));
        assert_eq!(table_name_of("DROP TABLE a.b.c.d").map_err(|e| e.sqlstate()), Err("42601"));
    }
}
