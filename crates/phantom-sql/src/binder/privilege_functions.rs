//! `has_table_privilege` and its family (`has_sequence_privilege`,
//! `has_any_column_privilege`, `has_column_privilege`, `has_schema_privilege`,
//! `has_database_privilege`, `pg_has_role`): whether a role holds a privilege, answered
//! from the same ACLs the privilege checks read ([`crate::privilege::holds`]).
//!
//! The role (the session's, or one named by a constant) and the privilege list (a
//! constant: `'SELECT, INSERT'`, `'USAGE WITH GRANT OPTION'`) are known while binding;
//! the object may be a constant, answered at once, or a column (`has_table_privilege(
//! c.oid, 'SELECT')` over `pg_class`), answered per row from a small table of every
//! object's answer, as the other catalog functions do. Column privileges do not exist,
//! so the column functions answer for the table. Without role membership `pg_has_role`
//! is true for the role itself, and for everything to a superuser.

use super::Binder;
use super::expr::Typed;
use crate::catalog::acl::{ObjectKind, Privileges};
use crate::catalog::pg_catalog::{self, RelKind};
use crate::error::{Error, Result, SqlState};
use crate::planner::Expr;
use crate::privilege::{self, Principal, Securable};
use crate::types::{DataType, Value};

/// A privilege list as the functions take it, and whether it asks for the grant option.
fn privilege_list(text: &str, kind: &str) -> Result<(Privileges, bool)> {
    let mut privileges = Privileges::NONE;
    let mut grant_option = false;
    for item in text.split(',') {
        let item = item.trim().to_ascii_uppercase();
        let item = match item.strip_suffix("WITH GRANT OPTION") {
            Some(rest) => {
                grant_option = true;
                rest.trim().to_string()
            }
            None => item,
        };
        let privilege = match item.as_str() {
            "TEMP" => Some(Privileges::TEMPORARY),
            // Role "privileges": membership is the role itself here.
            "MEMBER" | "SET" if kind == "role" => Some(Privileges::USAGE),
            "USAGE" if kind == "role" => Some(Privileges::USAGE),
            name => Privileges::by_name(name),
        };
        match privilege {
            Some(p) => privileges = privileges.union(p),
            None => {
                return Err(Error::new(
                    SqlState::InvalidParameterValue,
                    format!("unrecognized privilege type: \"{}\"", item.to_lowercase()),
                ));
            }
        }
    }
    Ok((privileges, grant_option))
}

/// Whether `principal` holds any of `privileges` on `object` (with the grant option, if
/// `grant_option`).
fn answer(principal: &Principal, object: &Securable, privileges: Privileges, grant_option: bool) -> bool {
    if grant_option {
        let acl = object.effective_acl();
        return principal.superuser || acl.grant_options(principal.oid, object.owner).intersects(privileges);
    }
    privilege::holds(principal, object, privileges)
}

fn constant(value: bool) -> Typed {
    Typed { expr: Expr::Constant(Value::Boolean(value)), ty: DataType::Boolean, literal: false }
}

fn unsupported(function: &str) -> Error {
    Error::new(
        SqlState::FeatureNotSupported,
        format!("{function}: the role and the privilege must be constants"),
    )
}

impl Binder<'_> {
    /// A constant text argument, or 0A000.
    fn constant_text(&mut self, x: Typed, function: &str) -> Result<String> {
        match self.coerce(x, DataType::Text, function)? {
            Expr::Constant(Value::Text(s)) => Ok(s),
            _ => Err(unsupported(function)),
        }
    }

    /// The role a privilege function asks about: a constant name or OID.
    fn privilege_role(&mut self, x: Typed, function: &str) -> Result<Principal> {
        let name = match x.expr {
            Expr::Constant(Value::Int(oid)) => {
                self.catalog.roles(self.txn)?.into_iter().find(|r| r.oid == oid).map(|r| r.name).ok_or_else(
                    || Error::new(SqlState::UndefinedObject, format!("role with OID {oid} does not exist")),
                )?
            }
            _ => {
                let name = self.constant_text(x, function)?;
                if self.catalog.role(self.txn, &name)?.is_none() {
                    return Err(crate::catalog::no_role(&name));
                }
                name
            }
        };
        Principal::lookup(self.catalog, self.txn, &name)
    }

    /// `has_table_privilege` and the rest of the family (see the module doc).
    pub(super) fn privilege_function(&mut self, function: &str, mut args: Vec<Typed>) -> Result<Typed> {
        let column = matches!(function, "has_column_privilege");
        let (min, max) = if column { (3, 4) } else { (2, 3) };
        if args.len() < min || args.len() > max {
            return Err(Error::undefined_function(format!(
                "function {function}() does not take {} arguments",
                args.len()
            )));
        }
        let principal = if args.len() == max {
            let role = args.remove(0);
            self.privilege_role(role, function)?
        } else {
            match self.settings {
                Some(settings) => Principal::current(self.catalog, self.txn, settings)?,
                None => Principal::bootstrap(),
            }
        };
        let list = args.pop().map(|p| self.constant_text(p, function)).transpose()?.unwrap_or_default();
        if column {
            // The column: there are no column privileges, so the table's answer stands.
            args.pop();
        }
        let object = args.remove(0);
        let kind = match function {
            "has_schema_privilege" => "schema",
            "has_database_privilege" => "database",
            "pg_has_role" => "role",
            _ => "relation",
        };
        let (privileges, grant_option) = privilege_list(&list, kind)?;
        // Every object of the kind with its answer, keyed by OID and by name.
        let mut answers: Vec<(i64, String, bool)> = Vec::new();
        match kind {
            "schema" => {
                let mut schemas: Vec<crate::catalog::SchemaDef> = crate::catalog::SYSTEM_SCHEMAS
                    .iter()
                    .map(|s| crate::catalog::SchemaDef {
                        name: s.to_string(),
                        ..crate::catalog::SchemaDef::public()
                    })
                    .collect();
                schemas.extend(self.catalog.schemas(self.txn)?);
                for schema in schemas {
                    let yes = answer(&principal, &Securable::schema(&schema), privileges, grant_option);
                    answers.push((pg_catalog::schema_oid(&schema.name), schema.name, yes));
                }
            }
            "database" => {
                let database = privilege::database(self.catalog, self.txn)?;
                let yes = answer(&principal, &database, privileges, grant_option);
                answers.push((pg_catalog::DATABASE_OID, database.name, yes));
            }
            "role" => {
                for role in self.catalog.roles(self.txn)? {
                    let yes = principal.superuser || role.oid == principal.oid;
                    answers.push((role.oid, role.name, yes));
                }
            }
            _ => {
                let sequences_only = function == "has_sequence_privilege";
                for r in pg_catalog::relations(self.catalog, self.txn)? {
                    let kind = match r.kind {
                        RelKind::Table => ObjectKind::Table,
                        RelKind::View => ObjectKind::View,
                        RelKind::Sequence => ObjectKind::Sequence,
                        _ => continue,
                    };
                    if sequences_only && kind != ObjectKind::Sequence {
                        continue;
                    }
                    let object =
                        Securable { kind, name: r.name.clone(), schema: None, owner: r.owner, acl: r.acl };
                    answers.push((r.oid, r.name, answer(&principal, &object, privileges, grant_option)));
                }
            }
        }
        let by_oid = object.ty.is_integer();
        if let Expr::Constant(value) = &object.expr {
            let found = match value {
                Value::Null => {
                    return Ok(Typed {
                        expr: Expr::Constant(Value::Null),
                        ty: DataType::Boolean,
                        literal: false,
                    });
                }
                Value::Int(oid) => answers.iter().find(|(o, _, _)| o == oid),
                Value::Text(name) => {
                    // A relation's name reads as `regclass` input does; others as given.
                    let name = if kind == "relation" { super::pg::relation_name(name) } else { name.clone() };
                    answers.iter().find(|(_, n, _)| *n == name)
                }
                _ => None,
            };
            return match found {
                Some((_, _, yes)) => Ok(constant(*yes)),
                // PostgreSQL: an OID that names nothing is NULL, a name that does not is an error.
                None if by_oid => {
                    Ok(Typed { expr: Expr::Constant(Value::Null), ty: DataType::Boolean, literal: false })
                }
                None => {
                    Err(Error::new(SqlState::UndefinedObject, format!("{kind} \"{value}\" does not exist")))
                }
            };
        }
        let table = answers
            .into_iter()
            .map(|(oid, name, yes)| {
                let key = if by_oid { Value::Int(oid) } else { Value::Text(name) };
                (vec![key], Value::Boolean(yes))
            })
            .collect();
        let key = if by_oid { object.expr } else { self.coerce(object, DataType::Text, function)? };
        Ok(self.lookup(vec![key], table, DataType::Boolean))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_lists_parse_like_postgres_ones() {
        assert_eq!(privilege_list("select", "relation").expect("one"), (Privileges::SELECT, false));
        let (p, option) = privilege_list("SELECT, insert WITH GRANT OPTION", "relation").expect("two");
        assert_eq!((p, option), (Privileges::SELECT.union(Privileges::INSERT), true));
        assert_eq!(privilege_list("temp", "database").expect("temp").0, Privileges::TEMPORARY);
        assert!(privilege_list("MEMBER", "role").is_ok());
        let e = privilege_list("frobnicate", "relation").expect_err("unknown");
        assert_eq!(e.state, SqlState::InvalidParameterValue);
    }
}
