//! Binding CREATE, ALTER and DROP ROLE (and their USER and GROUP spellings): the role
//! names and the attributes a statement sets, checked for what Phantom-DB does not
//! support. Whether the roles exist is for [`crate::role`] to find out, with the
//! catalog entries locked.

use sqlparser::ast;

use super::names::name_ref;
use super::{Binder, BoundStatement, ident_name};
use crate::error::{Error, Result, SqlState};

/// The attributes CREATE ROLE or ALTER ROLE sets; `None` leaves one as it is (or at its
/// default, for a new role).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleOptions {
    pub login: Option<bool>,
    pub superuser: Option<bool>,
    pub create_db: Option<bool>,
    pub create_role: Option<bool>,
    pub inherit: Option<bool>,
    pub replication: Option<bool>,
    pub bypass_rls: Option<bool>,
    /// `PASSWORD 'text'` (`Some(Some(text))`, a password or a verifier as written) or
    /// `PASSWORD NULL` (`Some(None)`).
    pub password: Option<Option<String>>,
}

/// What ALTER ROLE does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleChange {
    /// `ALTER ROLE name [WITH] option ...`.
    Options(RoleOptions),
    /// `ALTER ROLE name RENAME TO new`.
    Rename(String),
}

fn unsupported(what: &str) -> Error {
    Error::new(SqlState::FeatureNotSupported, format!("{what} is not supported"))
}

/// A role name: one identifier, folded to lower case unless quoted.
fn role_name(name: &ast::ObjectName) -> Result<String> {
    let name = name_ref(name)?;
    if name.schema.is_some() {
        return Err(Error::new(SqlState::SyntaxError, format!("improper role name: {name}")));
    }
    Ok(name.name)
}

/// The text of `PASSWORD 'text'`, or `None` for `PASSWORD NULL`.
fn password(password: &ast::Password) -> Result<Option<String>> {
    match password {
        ast::Password::NullPassword => Ok(None),
        ast::Password::Password(ast::Expr::Value(v)) if !matches!(v.value, ast::Value::Placeholder(_)) => {
            v.clone().into_string().map(Some).ok_or_else(not_a_string)
        }
        ast::Password::Password(_) => Err(not_a_string()),
    }
}

fn not_a_string() -> Error {
    Error::new(SqlState::SyntaxError, "syntax error: PASSWORD takes a string constant or NULL")
}

impl Binder<'_> {
    /// Binds `CREATE ROLE name [[WITH] option ...]` (CREATE USER arrives here with LOGIN
    /// added by the parser; CREATE GROUP is CREATE ROLE).
    pub(super) fn create_role(&self, create: &ast::CreateRole) -> Result<BoundStatement> {
        let [name] = create.names.as_slice() else {
            return Err(Error::new(SqlState::SyntaxError, "syntax error: CREATE ROLE takes one role name"));
        };
        let clauses = [
            (create.connection_limit.is_some(), "CONNECTION LIMIT"),
            (create.valid_until.is_some(), "VALID UNTIL"),
            (!create.in_role.is_empty() || !create.in_group.is_empty(), "IN ROLE"),
            (!create.role.is_empty() || !create.user.is_empty(), "ROLE"),
            (!create.admin.is_empty(), "ADMIN"),
            (create.authorization_owner.is_some(), "AUTHORIZATION"),
        ];
        if let Some((_, clause)) = clauses.iter().find(|(given, _)| *given) {
            return Err(unsupported(&format!("CREATE ROLE ... {clause}")));
        }
        let options = RoleOptions {
            login: create.login,
            superuser: create.superuser,
            create_db: create.create_db,
            create_role: create.create_role,
            inherit: create.inherit,
            replication: create.replication,
            bypass_rls: create.bypassrls,
            password: create.password.as_ref().map(password).transpose()?,
        };
        Ok(BoundStatement::CreateRole { name: role_name(name)?, options })
    }

    /// Binds `ALTER ROLE name [WITH] option ...` and `ALTER ROLE name RENAME TO new` (and
    /// ALTER USER, the same statement). CURRENT_USER, CURRENT_ROLE and SESSION_USER name
    /// the session's roles.
    pub(super) fn alter_role(
        &self,
        name: &ast::Ident,
        operation: &ast::AlterRoleOperation,
    ) -> Result<BoundStatement> {
        let name = self.role_ref(name);
        let change = match operation {
            ast::AlterRoleOperation::RenameRole { role_name } => RoleChange::Rename(ident_name(role_name)),
            ast::AlterRoleOperation::WithOptions { options } => {
                let mut set = RoleOptions::default();
                for option in options {
                    match option {
                        ast::RoleOption::Login(on) => set.login = Some(*on),
                        ast::RoleOption::SuperUser(on) => set.superuser = Some(*on),
                        ast::RoleOption::CreateDB(on) => set.create_db = Some(*on),
                        ast::RoleOption::CreateRole(on) => set.create_role = Some(*on),
                        ast::RoleOption::Inherit(on) => set.inherit = Some(*on),
                        ast::RoleOption::Replication(on) => set.replication = Some(*on),
                        ast::RoleOption::BypassRLS(on) => set.bypass_rls = Some(*on),
                        ast::RoleOption::Password(p) => set.password = Some(password(p)?),
                        ast::RoleOption::ConnectionLimit(_) => {
                            return Err(unsupported("ALTER ROLE ... CONNECTION LIMIT"));
                        }
                        ast::RoleOption::ValidUntil(_) => {
                            return Err(unsupported("ALTER ROLE ... VALID UNTIL"));
                        }
                    }
                }
                RoleChange::Options(set)
            }
            ast::AlterRoleOperation::Set { .. } | ast::AlterRoleOperation::Reset { .. } => {
                return Err(unsupported("ALTER ROLE ... SET (per-role settings)"));
            }
            ast::AlterRoleOperation::AddMember { .. } | ast::AlterRoleOperation::DropMember { .. } => {
                return Err(unsupported("role membership"));
            }
        };
        Ok(BoundStatement::AlterRole { name, change })
    }

    /// Binds `DROP ROLE [IF EXISTS] name [, ...]` (and DROP USER, DROP GROUP).
    pub(super) fn drop_roles(
        &self,
        names: &[ast::ObjectName],
        if_exists: bool,
        cascade: bool,
    ) -> Result<BoundStatement> {
        if cascade {
            return Err(Error::new(SqlState::SyntaxError, "syntax error: DROP ROLE takes no CASCADE"));
        }
        let mut roles: Vec<String> = Vec::new();
        for name in names {
            let name = role_name(name)?;
            if !roles.contains(&name) {
                roles.push(name);
            }
        }
        Ok(BoundStatement::DropRole { names: roles, if_exists })
    }
}
