//! Owners: `ALTER ... OWNER TO`, and what keeps a role from being dropped.
//!
//! PostgreSQL's rules for a new owner: a superuser may give anything to anyone; anyone
//! else must own the object, be able to become the new owner (here, without role
//! membership, only by being it) and the new owner must be allowed to create such an
//! object where it is: CREATE on the schema (CREATE on the database, for a schema). The
//! ACL follows ([`Acl::new_owner`]), and a table's SERIAL sequences change hands with it;
//! such a sequence cannot be given away on its own (0A000), as in PostgreSQL.
//!
//! A role that owns objects or appears in an ACL cannot be dropped (2BP01, the objects
//! listed in the DETAIL, PostgreSQL's message): OIDs are derived from role names, so a
//! new role of the same name would otherwise inherit them.

use phantom_txn::Transaction;

use super::grant::Stored;
use super::{Principal, Securable};
use crate::binder::GrantObject;
use crate::catalog::acl::{Acl, ObjectKind, Privileges};
use crate::catalog::{Catalog, no_role};
use crate::error::{Error, Result, SqlState};
use crate::result::Output;

/// `ALTER TABLE | VIEW | SEQUENCE | SCHEMA name OWNER TO role`, run as `principal`.
pub fn alter_owner(
    catalog: &Catalog,
    txn: &Transaction,
    principal: &Principal,
    object: &GrantObject,
    new_owner: &str,
) -> Result<Output> {
    let tag = match object {
        GrantObject::Relation { kind: ObjectKind::View, .. } => "ALTER VIEW",
        GrantObject::Relation { kind: ObjectKind::Sequence, .. } => "ALTER SEQUENCE",
        GrantObject::Schema(_) => "ALTER SCHEMA",
        _ => "ALTER TABLE",
    };
    let new = catalog.role(txn, new_owner)?.ok_or_else(|| no_role(new_owner))?.oid;
    let mut stored = Stored::read(catalog, txn, object)?;
    let securable = stored.securable();
    let old = securable.owner;
    if old == new {
        return Ok(Output::Command(tag.into()));
    }
    if let Stored::Sequence(sequence) = &stored
        && let Some(column) = &sequence.owned_by
    {
        return Err(Error::new(
            SqlState::FeatureNotSupported,
            format!("cannot change owner of sequence \"{}\"", sequence.name),
        )
        .with_detail(format!("Sequence \"{}\" is linked to table \"{}\".", sequence.name, column.table)));
    }
    if !principal.superuser {
        if principal.oid != old {
            return Err(securable.must_be_owner());
        }
        if principal.oid != new {
            return Err(Error::new(
                SqlState::InsufficientPrivilege,
                format!("must be member of role \"{new_owner}\""),
            ));
        }
    }
    // (A non-superuser got here only as the new owner itself, holding what it holds.)
    let place = match &securable.schema {
        Some(schema) => catalog.schema(txn, schema)?.map(|s| Securable::schema(&s)),
        None => Some(super::database(catalog, txn)?),
    };
    if !principal.superuser
        && let Some(place) = place
        && place.effective_acl().mask(new, Privileges::CREATE).is_empty()
    {
        return Err(place.permission_denied());
    }
    match &mut stored {
        Stored::Table(t) => hand_over(&mut t.owner, &mut t.acl, old, new),
        Stored::View(v) => hand_over(&mut v.owner, &mut v.acl, old, new),
        Stored::Sequence(s) => hand_over(&mut s.owner, &mut s.acl, old, new),
        Stored::Schema(s) => hand_over(&mut s.owner, &mut s.acl, old, new),
        // The database always belongs to the bootstrap superuser (and is refused by
        // the binder).
        Stored::Database(_) => {}
    }
    stored.write(catalog, txn)?;
    if let Stored::Table(table) = &stored {
        // The sequences of its SERIAL columns go with it.
        for mut sequence in catalog.sequences(txn)? {
            if sequence.is_owned_by(&table.qualified(), None) && sequence.owner == old {
                hand_over(&mut sequence.owner, &mut sequence.acl, old, new);
                catalog.put_sequence(txn, &sequence)?;
            }
        }
    }
    Ok(Output::Command(tag.into()))
}

/// An owner and ACL pass from `old` to `new`.
fn hand_over(owner: &mut i64, acl: &mut Option<Acl>, old: i64, new: i64) {
    *owner = new;
    if let Some(acl) = acl {
        acl.new_owner(old, new);
    }
}

/// What depends on the role with OID `role`, as PostgreSQL's DETAIL lists it ("owner of
/// table t", "privileges for schema s"); empty when it may be dropped.
pub fn dependents(catalog: &Catalog, txn: &Transaction, role: i64) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut note = |object: Securable| {
        let noun = object.kind.noun();
        let name = match &object.schema {
            Some(schema) if schema != crate::catalog::PUBLIC => format!("{schema}.{}", object.name),
            _ => object.name.clone(),
        };
        if object.owner == role {
            found.push(format!("owner of {noun} {name}"));
        }
        if object.acl.as_ref().is_some_and(|acl| acl.mentions(role)) {
            found.push(format!("privileges for {noun} {name}"));
        }
    };
    for schema in catalog.schemas(txn)? {
        note(Securable::schema(&schema));
    }
    for table in catalog.tables(txn)? {
        note(Securable::table(&table));
    }
    for view in catalog.views(txn)? {
        note(Securable::view(&view));
    }
    for sequence in catalog.sequences(txn)? {
        note(Securable::sequence(&sequence));
    }
    if catalog.database_acl(txn)?.is_some_and(|acl| acl.mentions(role)) {
        found.push(format!("privileges for database {}", crate::catalog::pg_catalog::DATABASE_NAME));
    }
    Ok(found)
}
