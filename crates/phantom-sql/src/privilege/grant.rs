//! GRANT and REVOKE of privileges on tables, views, sequences, schemas and the database.
//!
//! Each object's definition is read locked, at its newest version, changed and stored in
//! the statement's transaction: two sessions granting on one table wait for each other
//! instead of one losing the other's grant, and a ROLLBACK takes a grant back.
//!
//! Who grants is PostgreSQL's `select_best_grantor`: the owner, or a superuser acting as
//! the owner, grants as the owner, with every grant option; anyone else grants as itself
//! what it holds with the grant option. Without any grant option a role that holds some
//! privilege on the object gets no error and grants nothing (PostgreSQL warns "no
//! privileges were granted"; there is no warning channel here), one with no privilege at
//! all gets 42501. REVOKE follows the same rules and takes back only what that grantor
//! granted.

use phantom_txn::Transaction;

use super::{Principal, Securable};
use crate::binder::{GrantObject, GrantStatement, Grantee};
use crate::catalog::acl::{Acl, ObjectKind, PUBLIC_GRANTEE, Privileges};
use crate::catalog::{Catalog, QualifiedName, no_role};
use crate::error::{Error, Result, SqlState};
use crate::result::Output;

/// Runs a bound GRANT or REVOKE as `principal`.
pub fn execute(
    catalog: &Catalog,
    txn: &Transaction,
    principal: &Principal,
    statement: &GrantStatement,
) -> Result<Output> {
    let mut grantees = Vec::with_capacity(statement.grantees.len());
    for grantee in &statement.grantees {
        grantees.push(match grantee {
            Grantee::Public => PUBLIC_GRANTEE,
            Grantee::Role(name) => catalog.role(txn, name)?.ok_or_else(|| no_role(name))?.oid,
        });
    }
    for object in &statement.objects {
        let mut stored = Stored::read(catalog, txn, object)?;
        let securable = stored.securable();
        let privileges = wanted(statement, &securable)?;
        let mut acl = securable.effective_acl();
        let owner = securable.owner;
        let (grantor, grantable) = if principal.superuser || principal.oid == owner {
            (owner, privileges)
        } else {
            let options = acl.grant_options(principal.oid, owner).intersection(privileges);
            if options.is_empty() && acl.mask(principal.oid, securable.kind.all_privileges()).is_empty() {
                return Err(securable.permission_denied());
            }
            (principal.oid, options)
        };
        for &grantee in &grantees {
            if statement.grant {
                acl.grant(grantor, grantee, grantable, statement.grant_option, owner)?;
            } else {
                acl.revoke(grantor, grantee, grantable, statement.grant_option, statement.cascade, owner)?;
            }
        }
        stored.set_acl(acl);
        stored.write(catalog, txn)?;
    }
    Ok(Output::Command(if statement.grant { "GRANT" } else { "REVOKE" }.into()))
}

/// The privileges a statement asks for on `object`: ALL is every privilege of its kind;
/// one its kind lacks is 0LP01, except a sequence named by `ON TABLE`, which takes those
/// it has (as PostgreSQL does, with a warning).
fn wanted(statement: &GrantStatement, object: &Securable) -> Result<Privileges> {
    let all = object.kind.all_privileges();
    let Some(privileges) = statement.privileges else { return Ok(all) };
    let foreign = privileges.without(all);
    if foreign.is_empty() {
        return Ok(privileges);
    }
    if object.kind == ObjectKind::Sequence && statement.on_table && privileges.intersects(all) {
        return Ok(privileges.intersection(all));
    }
    let name = foreign.names().first().copied().unwrap_or_default();
    Err(Error::new(
        SqlState::InvalidGrantOperation,
        format!("invalid privilege type {name} for {}", object.kind.noun()),
    ))
}

/// A definition whose ACL changes, as read for update.
pub(super) enum Stored {
    Table(crate::catalog::TableDef),
    View(crate::catalog::ViewDef),
    Sequence(crate::catalog::SequenceDef),
    Schema(crate::catalog::SchemaDef),
    Database(Option<Acl>),
}

impl Stored {
    /// The definition of `object`, locked, at its newest version (42P01 / 3F000 if it went
    /// away since the statement was bound).
    pub(super) fn read(catalog: &Catalog, txn: &Transaction, object: &GrantObject) -> Result<Stored> {
        let gone = |name: &QualifiedName| {
            Error::new(SqlState::UndefinedTable, format!("relation \"{}\" does not exist", name.name))
        };
        Ok(match object {
            GrantObject::Relation { kind: ObjectKind::Table, name } => {
                Stored::Table((*catalog.table_for_update(txn, name)?.ok_or_else(|| gone(name))?).clone())
            }
            GrantObject::Relation { kind: ObjectKind::View, name } => {
                Stored::View(catalog.view_for_update(txn, name)?.ok_or_else(|| gone(name))?)
            }
            GrantObject::Relation { name, .. } => {
                Stored::Sequence(catalog.sequence_for_update(txn, name)?.ok_or_else(|| gone(name))?)
            }
            GrantObject::Schema(name) => Stored::Schema(
                catalog.schema_for_update(txn, name)?.ok_or_else(|| crate::catalog::no_schema(name))?,
            ),
            GrantObject::Database => Stored::Database(catalog.database_acl_for_update(txn)?),
        })
    }

    pub(super) fn securable(&self) -> Securable {
        match self {
            Stored::Table(t) => Securable::table(t),
            Stored::View(v) => Securable::view(v),
            Stored::Sequence(s) => Securable::sequence(s),
            Stored::Schema(s) => Securable::schema(s),
            Stored::Database(acl) => Securable {
                kind: ObjectKind::Database,
                name: crate::catalog::pg_catalog::DATABASE_NAME.to_string(),
                schema: None,
                owner: crate::catalog::acl::bootstrap_owner(),
                acl: acl.clone(),
            },
        }
    }

    pub(super) fn set_acl(&mut self, acl: Acl) {
        match self {
            Stored::Table(t) => t.acl = Some(acl),
            Stored::View(v) => v.acl = Some(acl),
            Stored::Sequence(s) => s.acl = Some(acl),
            Stored::Schema(s) => s.acl = Some(acl),
            Stored::Database(stored) => *stored = Some(acl),
        }
    }

    pub(super) fn write(&self, catalog: &Catalog, txn: &Transaction) -> Result<()> {
        match self {
            Stored::Table(t) => catalog.put_table(txn, t),
            Stored::View(v) => catalog.put_view(txn, v),
            Stored::Sequence(s) => catalog.put_sequence(txn, s),
            Stored::Schema(s) => catalog.put_schema(txn, s),
            Stored::Database(acl) => match acl {
                Some(acl) => catalog.put_database_acl(txn, acl),
                None => Ok(()),
            },
        }
    }
}
