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

use phantom_txn::Transaction;

use crate::binder::{RoleChange, RoleOptions};
use crate::catalog::{BOOTSTRAP_ROLE, RoleDef, no_role};
use crate::error::{Error, Result, SqlState};
use crate::instance::Instance;
use crate::result::Output;
use crate::scram::{self, Verifier};

/// `CREATE ROLE name [[WITH] option ...]`.
pub fn create_role(
    instance: &Instance,
    txn: &Transaction,
    name: String,
    options: RoleOptions,
) -> Result<Output> {
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

/// `ALTER ROLE name [WITH] option ...` and `ALTER ROLE name RENAME TO new`, run by a
/// session logged in as `session_user`.
pub fn alter_role(
    instance: &Instance,
    txn: &Transaction,
    session_user: &str,
    name: &str,
    change: RoleChange,
) -> Result<Output> {
    let catalog = &instance.catalog;
    let mut role = catalog.role_for_update(txn, name)?.ok_or_else(|| no_role(name))?;
    match change {
        RoleChange::Options(options) => {
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
            catalog.delete_role(txn, &role.name)?;
            role.name = new;
        }
    }
    catalog.put_role(txn, &role)?;
    Ok(Output::Command("ALTER ROLE".into()))
}

/// `DROP ROLE [IF EXISTS] name [, ...]`, run by a session logged in as `session_user`.
pub fn drop_roles(
    instance: &Instance,
    txn: &Transaction,
    session_user: &str,
    names: &[String],
    if_exists: bool,
) -> Result<Output> {
    for name in names {
        if instance.catalog.role_for_update(txn, name)?.is_none() {
            if if_exists {
                continue;
            }
            return Err(no_role(name));
        }
        if name == session_user {
            return Err(Error::new(SqlState::ObjectInUse, "current user cannot be dropped"));
        }
        if name == BOOTSTRAP_ROLE {
            return Err(Error::new(
                SqlState::DependentObjectsStillExist,
                format!("cannot drop role {name} because it is required by the database system"),
            ));
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
