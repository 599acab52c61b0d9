//! CREATE, ALTER and DROP ROLE: changing the roles in the catalog.
//!
//! Each statement reads the role entries it changes locked and at their newest version
//! ([`crate::catalog::Catalog::role_for_update`]), so of two sessions creating the same
//! role one waits and then finds it (42710), and everything happens in the statement's
//! transaction: a rolled-back CREATE ROLE never existed.
//!
//! A password is turned into a SCRAM-SHA-256 verifier here, with a fresh salt, before
//! anything is stored; a string that already is a verifier is kept as it is, and an empty
//! one clears the password, as PostgreSQL does. The rules that protect the bootstrap
//! superuser and the session's own role are PostgreSQL's too.
//!
//! **Who may.** PostgreSQL 15's rules, checked against the role the statement runs as
//! (its attributes as the statement's transaction sees them):
//!
//! - only a superuser creates, alters, renames or drops a superuser, or gives or takes
//!   SUPERUSER, REPLICATION or BYPASSRLS (nor touches a REPLICATION role);
//! - a CREATEROLE role manages every other role: creates, alters (LOGIN, CREATEDB,
//!   CREATEROLE, INHERIT, passwords), renames and drops them;
//! - any other role may change its own password (`ALTER ROLE self PASSWORD ...`) and
//!   nothing else, not even another attribute of its own;
//! - nobody drops or renames the role the session is running as, or the bootstrap
//!   superuser, and a role that owns objects or holds privileges cannot be dropped until
//!   they are given away or revoked ([`crate::privilege::owner::dependents`]).
//!
//! Refusals are 42501 with PostgreSQL's messages.

use phantom_txn::Transaction;

use crate::binder::{RoleChange, RoleOptions};
use crate::catalog::{BOOTSTRAP_ROLE, RoleDef, no_role};
use crate::error::{Error, Result, SqlState};
use crate::instance::Instance;
use crate::privilege::Principal;
use crate::result::Output;
use crate::scram::{self, Verifier};

fn denied(message: &str) -> Error {
    Error::new(SqlState::InsufficientPrivilege, message)
}

/// `CREATE ROLE name [[WITH] option ...]`, run as `principal`.
pub fn create_role(
    instance: &Instance,
    txn: &Transaction,
    principal: &Principal,
    name: String,
    options: RoleOptions,
) -> Result<Output> {
    let superuser = principal.superuser;
    if options.superuser == Some(true) {
        if !superuser {
            return Err(denied("must be superuser to create superusers"));
        }
    } else if options.replication == Some(true) {
        if !superuser {
            return Err(denied("must be superuser to create replication users"));
        }
    } else if options.bypass_rls == Some(true) {
        if !superuser {
            return Err(denied("must be superuser to create bypassrls users"));
        }
    } else if !(superuser || principal.create_role) {
        return Err(denied("permission denied to create role"));
    }
    check_new_name(&name)?;
    if instance.catalog.role_for_update(txn, &name)?.is_some() {
        return Err(already_exists(&name));
    }
    let oid = instance.catalog.new_role_oid(txn, &name)?;
    let mut role = RoleDef::new(name, oid);
    apply(&mut role, options)?;
    instance.catalog.put_role(txn, &role)?;
    Ok(Output::Command("CREATE ROLE".into()))
}

/// May `principal` change `options` of `role`? PostgreSQL 15's `AlterRole` checks.
fn check_alter(principal: &Principal, role: &RoleDef, options: &RoleOptions) -> Result<()> {
    if principal.superuser {
        return Ok(());
    }
    if role.superuser || options.superuser.is_some() {
        return Err(denied("must be superuser to alter superuser roles or change superuser attribute"));
    }
    if role.replication || options.replication.is_some() {
        return Err(denied("must be superuser to alter replication roles or change replication attribute"));
    }
    if options.bypass_rls.is_some() {
        return Err(denied("must be superuser to change bypassrls attribute"));
    }
    if principal.create_role {
        return Ok(());
    }
    // Without CREATEROLE: one's own password, and nothing else.
    let RoleOptions { login, create_db, create_role, inherit, password, .. } = options;
    let only_password = login.is_none()
        && create_db.is_none()
        && create_role.is_none()
        && inherit.is_none()
        && password.is_some();
    if !only_password || role.oid != principal.oid {
        return Err(denied("permission denied"));
    }
    Ok(())
}

/// `ALTER ROLE name [WITH] option ...` and `ALTER ROLE name RENAME TO new`, run as
/// `principal` in a session logged in as `session_user`.
pub fn alter_role(
    instance: &Instance,
    txn: &Transaction,
    principal: &Principal,
    session_user: &str,
    name: &str,
    change: RoleChange,
) -> Result<Output> {
    let catalog = &instance.catalog;
    let mut role = catalog.role_for_update(txn, name)?.ok_or_else(|| no_role(name))?;
    match change {
        RoleChange::Options(options) => {
            check_alter(principal, &role, &options)?;
            if role.name == BOOTSTRAP_ROLE && options.superuser == Some(false) {
                return Err(Error::new(
                    SqlState::InsufficientPrivilege,
                    "permission denied: bootstrap user must be superuser",
                ));
            }
            apply(&mut role, options)?;
        }
        RoleChange::Rename(new) => {
            if role.name == session_user {
                return Err(Error::new(SqlState::FeatureNotSupported, "session user cannot be renamed"));
            }
            if role.name == principal.name {
                return Err(Error::new(SqlState::FeatureNotSupported, "current user cannot be renamed"));
            }
            if role.name == BOOTSTRAP_ROLE {
                return Err(Error::new(
                    SqlState::FeatureNotSupported,
                    format!("role \"{BOOTSTRAP_ROLE}\" cannot be renamed: it is the bootstrap superuser"),
                ));
            }
            check_new_name(&new)?;
            if catalog.role_for_update(txn, &new)?.is_some() {
                return Err(already_exists(&new));
            }
            if role.superuser && !principal.superuser {
                return Err(denied("must be superuser to rename superusers"));
            }
            if !(principal.superuser || principal.create_role) {
                return Err(denied("permission denied to rename role"));
            }
            catalog.delete_role(txn, &role.name)?;
            role.name = new;
        }
    }
    catalog.put_role(txn, &role)?;
    Ok(Output::Command("ALTER ROLE".into()))
}

/// `DROP ROLE [IF EXISTS] name [, ...]`, run as `principal` in a session logged in as
/// `session_user`.
pub fn drop_roles(
    instance: &Instance,
    txn: &Transaction,
    principal: &Principal,
    session_user: &str,
    names: &[String],
    if_exists: bool,
) -> Result<Output> {
    if !(principal.superuser || principal.create_role) {
        return Err(denied("permission denied to drop role"));
    }
    for name in names {
        let Some(role) = instance.catalog.role_for_update(txn, name)? else {
            if if_exists {
                crate::notice::raise(crate::notice::Notice::new(
                    "00000",
                    format!("role \"{name}\" does not exist, skipping"),
                ));
                continue;
            }
            return Err(no_role(name));
        };
        if *name == principal.name {
            return Err(Error::new(SqlState::ObjectInUse, "current user cannot be dropped"));
        }
        if name == session_user {
            return Err(Error::new(SqlState::ObjectInUse, "session user cannot be dropped"));
        }
        if name == BOOTSTRAP_ROLE {
            return Err(Error::new(
                SqlState::DependentObjectsStillExist,
                format!("cannot drop role {name} because it is required by the database system"),
            ));
        }
        if role.superuser && !principal.superuser {
            return Err(denied("must be superuser to drop superusers"));
        }
        let dependents = crate::privilege::owner::dependents(&instance.catalog, txn, role.oid)?;
        if !dependents.is_empty() {
            return Err(Error::new(
                SqlState::DependentObjectsStillExist,
                format!("role \"{name}\" cannot be dropped because some objects depend on it"),
            )
            .with_detail(dependents.join("\n")));
        }
        instance.catalog.delete_role(txn, name)?;
    }
    Ok(Output::Command("DROP ROLE".into()))
}

/// Sets the attributes the statement gave.
fn apply(role: &mut RoleDef, options: RoleOptions) -> Result<()> {
    let RoleOptions { login, superuser, create_db, create_role, inherit, replication, bypass_rls, password } =
        options;
    let flags = [
        (login, &mut role.login),
        (superuser, &mut role.superuser),
        (create_db, &mut role.create_db),
        (create_role, &mut role.create_role),
        (inherit, &mut role.inherit),
        (replication, &mut role.replication),
        (bypass_rls, &mut role.bypass_rls),
    ];
    for (given, flag) in flags {
        if let Some(value) = given {
            *flag = value;
        }
    }
    if let Some(password) = password {
        role.password = stored_password(password)?;
    }
    Ok(())
}

/// What is stored for `PASSWORD text` (`None`: no password): a verifier, never the text.
fn stored_password(text: Option<String>) -> Result<Option<String>> {
    let Some(text) = text else { return Ok(None) };
    if text.is_empty() {
        // PostgreSQL clears the password, with a notice, rather than store an empty one.
        return Ok(None);
    }
    if Verifier::parse(&text).is_some() {
        return Ok(Some(text));
    }
    if scram::is_md5_hash(&text) {
        return Err(Error::new(
            SqlState::FeatureNotSupported,
            "MD5 password hashes are not supported: give the password or a SCRAM-SHA-256 verifier",
        ));
    }
    Ok(Some(Verifier::new(&text)?.to_string()))
}

/// Refuses names PostgreSQL reserves (42939).
fn check_new_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::new(SqlState::SyntaxError, "zero-length delimited identifier"));
    }
    if name.starts_with("pg_") {
        return Err(Error::new(SqlState::ReservedName, format!("role name \"{name}\" is reserved"))
            .with_detail("Role names starting with \"pg_\" are reserved."));
    }
    if matches!(name, "public" | "none") {
        return Err(Error::new(SqlState::ReservedName, format!("role name \"{name}\" is reserved")));
    }
    Ok(())
}

fn already_exists(name: &str) -> Error {
    Error::new(SqlState::DuplicateObject, format!("role \"{name}\" already exists"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_stored_as_verifiers() {
        let stored = stored_password(Some("secret".into())).expect("store").expect("some");
        let verifier = Verifier::parse(&stored).expect("a verifier");
        assert!(!stored.contains("secret"));
        assert_eq!(Verifier::with_salt("secret", &verifier.salt, verifier.iterations), verifier);
        // A verifier is kept as given, byte for byte.
        assert_eq!(stored_password(Some(stored.clone())).expect("store"), Some(stored));
        assert_eq!(stored_password(Some(String::new())).expect("store"), None);
        assert_eq!(stored_password(None).expect("store"), None);
        let md5 = stored_password(Some("md5a3556571e93b0d20722ba62be61e8c2d".into()));
        assert_eq!(md5.err().map(|e| e.state), Some(SqlState::FeatureNotSupported));
        // Almost a verifier is a password, as in PostgreSQL.
        let odd = stored_password(Some("SCRAM-SHA-256$x".into())).expect("store").expect("some");
        assert_ne!(odd, "SCRAM-SHA-256$x");
    }
}
