//! Who may do what: the privilege checks every statement passes before it runs, and the
//! statements that change privileges and owners.
//!
//! **One place.** The binder, which resolves every name a statement uses, records what
//! each use needs as a [`Need`]: SELECT on a table it reads, INSERT on the table an INSERT
//! fills, USAGE on the schema a name was found in, ownership of the table an ALTER TABLE
//! changes, USAGE on a sequence `nextval` calls, and so on. Nothing is checked while
//! binding: binding also serves things that must not be refused (a view's columns in
//! `pg_class`, the dependency search of DROP). Once a statement is bound to *run*, the
//! session hands its needs to [`authorize`] together with the role it runs as; that is
//! the one check, made inside the statement's transaction, so a GRANT earlier in the same
//! block counts and a rolled-back one never did.
//!
//! **Whose rights.** A need is checked for the statement's role ([`Principal`]), except
//! inside a view: the tables a view reads are checked for the view's *owner*, so a view
//! can give access to some rows or columns of a table without access to the table, as in
//! PostgreSQL. A superuser passes every check made for it, including a view owner that is
//! one; the bootstrap superuser `phantom`, which embedded sessions run as and which owns
//! every object made before owners existed, therefore never sees a difference.
//!
//! **What holds a privilege.** An object's ACL ([`crate::catalog::acl`]): its owner's
//! items (all privileges unless revoked), PUBLIC's, the role's own. There is no role
//! membership, so no privileges come through other roles. Ownership is not a privilege:
//! DROP, ALTER, CREATE INDEX, GRANT of what one owns need the owner (a DROP also takes
//! the owner of the object's schema, as PostgreSQL's does).
//!
//! What PostgreSQL checks and this does not: column privileges (GRANT with a column list
//! is refused, 0A000), and the search path skipping schemas without USAGE (here a name
//! found in such a schema is refused with "permission denied for schema"; PostgreSQL
//! would look further or report the relation missing).

pub mod grant;
pub mod owner;

use std::borrow::Cow;
use std::collections::HashMap;

use phantom_txn::Transaction;

use crate::block::Settings;
use crate::catalog::acl::{self, Acl, ObjectKind, Privileges};
use crate::catalog::{BOOTSTRAP_ROLE, Catalog, SchemaDef, SequenceDef, TableDef, ViewDef};
use crate::error::{Error, Result, SqlState};

/// The OID of a principal the catalog has no role for (a login from the server's users
/// file): it matches no ACL item but PUBLIC's.
pub const NO_ROLE: i64 = -1;

/// The role a statement runs as, with the attributes checks look at, as the statement's
/// transaction sees them (so a role demoted by a committed ALTER ROLE loses its powers at
/// its next statement, even in a session that logged in before).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    /// Its OID ([`NO_ROLE`] when the catalog has no such role).
    pub oid: i64,
    pub superuser: bool,
    /// CREATEROLE: may create, alter and drop roles that are not superusers.
    pub create_role: bool,
}

impl Principal {
    /// The bootstrap superuser.
    pub fn bootstrap() -> Principal {
        Principal {
            name: BOOTSTRAP_ROLE.to_string(),
            oid: acl::bootstrap_owner(),
            superuser: true,
            create_role: true,
        }
    }

    /// The role called `name`, as `txn` sees it.
    pub fn lookup(catalog: &Catalog, txn: &Transaction, name: &str) -> Result<Principal> {
        if name == BOOTSTRAP_ROLE {
            // It can never lose SUPERUSER, so there is nothing to read.
            return Ok(Principal::bootstrap());
        }
        Ok(match catalog.role(txn, name)? {
            Some(role) => Principal {
                name: role.name,
                oid: role.oid,
                superuser: role.superuser,
                create_role: role.create_role,
            },
            None => Principal { name: name.to_string(), oid: NO_ROLE, superuser: false, create_role: false },
        })
    }

    /// The role the session's statements run as (`current_user`).
    pub fn current(catalog: &Catalog, txn: &Transaction, settings: &Settings) -> Result<Principal> {
        Principal::lookup(catalog, txn, &settings.user)
    }

    /// The OID new objects of this principal get as their owner; 42704 for a principal
    /// without a role, which can own nothing.
    pub fn owner_oid(&self) -> Result<i64> {
        if self.oid == NO_ROLE {
            return Err(crate::catalog::no_role(&self.name));
        }
        Ok(self.oid)
    }
}

/// An object privileges are checked on, with what the check reads of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Securable {
    pub kind: ObjectKind,
    /// Its name, as messages give it (PostgreSQL names the object alone, unqualified).
    pub name: String,
    /// Its schema (for a DROP by the schema's owner); `None` for schemas themselves.
    pub schema: Option<String>,
    pub owner: i64,
    pub acl: Option<Acl>,
}

impl Securable {
    pub fn table(table: &TableDef) -> Securable {
        Securable {
            kind: ObjectKind::Table,
            name: table.name.clone(),
            schema: Some(table.schema.clone()),
            owner: table.owner,
            acl: table.acl.clone(),
        }
    }

    pub fn view(view: &ViewDef) -> Securable {
        Securable {
            kind: ObjectKind::View,
            name: view.name.clone(),
            schema: Some(view.schema.clone()),
            owner: view.owner,
            acl: view.acl.clone(),
        }
    }

    pub fn sequence(sequence: &SequenceDef) -> Securable {
        Securable {
            kind: ObjectKind::Sequence,
            name: sequence.name.clone(),
            schema: Some(sequence.schema.clone()),
            owner: sequence.owner,
            acl: sequence.acl.clone(),
        }
    }

    pub fn schema(schema: &SchemaDef) -> Securable {
        Securable {
            kind: ObjectKind::Schema,
            name: schema.name.clone(),
            schema: None,
            owner: schema.owner,
            acl: schema.acl.clone(),
        }
    }

    /// An index called `name` of `table`: it has no privileges of its own and belongs to
    /// the table's owner.
    pub fn index(table: &TableDef, name: &str) -> Securable {
        Securable {
            kind: ObjectKind::Index,
            name: name.to_string(),
            schema: Some(table.schema.clone()),
            owner: table.owner,
            acl: None,
        }
    }

    /// A system catalog only superusers may read (`pg_authid`, which holds the password
    /// verifiers): a table of the bootstrap superuser's on which nothing is granted.
    pub fn system_table(name: &str) -> Securable {
        Securable {
            kind: ObjectKind::Table,
            name: name.to_string(),
            schema: Some("pg_catalog".to_string()),
            owner: acl::bootstrap_owner(),
            acl: None,
        }
    }

    /// Its ACL in force: the stored one or its kind's default.
    pub fn effective_acl(&self) -> Acl {
        Acl::effective(self.acl.as_ref(), self.kind, self.owner)
    }

    /// 42501 for a privilege it lacks.
    pub fn permission_denied(&self) -> Error {
        Error::new(
            SqlState::InsufficientPrivilege,
            format!("permission denied for {} {}", self.kind.noun(), self.name),
        )
    }

    /// 42501 for a change only its owner may make.
    pub fn must_be_owner(&self) -> Error {
        Error::new(
            SqlState::InsufficientPrivilege,
            format!("must be owner of {} {}", self.kind.noun(), self.name),
        )
    }
}

/// What a need is about: an object the binder had in hand, a schema (looked up only if
/// the check needs it), or the database.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Object(Securable),
    Schema(String),
    Database,
}

/// What a need asks of its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Required {
    /// At least one of these privileges (`nextval` takes USAGE or UPDATE).
    AnyOf(Privileges),
    /// To be its owner.
    Ownership,
    /// To be its owner or the owner of its schema (DROP).
    OwnerOrSchemaOwner,
}

/// One thing a statement does that needs a privilege or ownership.
#[derive(Clone, Debug, PartialEq)]
pub struct Need {
    pub target: Target,
    pub required: Required,
    /// Whose rights count: `None` for the role running the statement, else the owner of
    /// the view through which the target is read.
    pub checked_as: Option<i64>,
}

impl Need {
    /// `privileges` (any of them) on `target`, for the statement's role.
    pub fn any_of(target: Target, privileges: Privileges) -> Need {
        Need { target, required: Required::AnyOf(privileges), checked_as: None }
    }

    /// Ownership of `object`, for the statement's role.
    pub fn ownership(object: Securable) -> Need {
        Need { target: Target::Object(object), required: Required::Ownership, checked_as: None }
    }
}

/// The database as an object privileges are checked on (CREATE for CREATE SCHEMA).
pub fn database(catalog: &Catalog, txn: &Transaction) -> Result<Securable> {
    Ok(Securable {
        kind: ObjectKind::Database,
        name: crate::catalog::pg_catalog::DATABASE_NAME.to_string(),
        schema: None,
        owner: acl::bootstrap_owner(),
        acl: catalog.database_acl(txn)?,
    })
}

/// Whether roles are superusers, by OID, read once per check.
struct Superusers<'a> {
    catalog: &'a Catalog,
    txn: &'a Transaction,
    known: Option<HashMap<i64, bool>>,
}

impl Superusers<'_> {
    fn is_superuser(&mut self, oid: i64) -> Result<bool> {
        if oid == acl::bootstrap_owner() {
            return Ok(true);
        }
        if self.known.is_none() {
            let roles = self.catalog.roles(self.txn)?;
            self.known = Some(roles.into_iter().map(|r| (r.oid, r.superuser)).collect());
        }
        Ok(self.known.as_ref().and_then(|k| k.get(&oid)).copied().unwrap_or(false))
    }
}

/// The check: every need of a statement about to run as `principal` must hold, or the
/// statement fails with the first one that does not (42501).
pub fn authorize(catalog: &Catalog, txn: &Transaction, principal: &Principal, needs: &[Need]) -> Result<()> {
    let through_others = |n: &Need| n.checked_as.is_some_and(|owner| owner != acl::bootstrap_owner());
    if principal.superuser && !needs.iter().any(through_others) {
        return Ok(());
    }
    let mut superusers = Superusers { catalog, txn, known: None };
    for need in needs {
        let (role, superuser) = match need.checked_as {
            None => (principal.oid, principal.superuser),
            Some(owner) => (owner, superusers.is_superuser(owner)?),
        };
        if superuser {
            continue;
        }
        let object = match &need.target {
            Target::Object(object) => Cow::Borrowed(object),
            Target::Schema(name) => match catalog.schema(txn, name)? {
                Some(schema) => Cow::Owned(Securable::schema(&schema)),
                // A system schema (open to all), or one that is gone: then the
                // statement fails for that reason where it uses it.
                None => continue,
            },
            Target::Database => Cow::Owned(database(catalog, txn)?),
        };
        check(catalog, txn, &object, need.required, role)?;
    }
    Ok(())
}

/// The check as sessions make it, for a statement bound by `binder` to run now: as the
/// session's current role, on what the binder recorded. Returns that role, for what the
/// statement does with it (owners, GRANT, role changes).
pub fn check_statement(
    catalog: &Catalog,
    txn: &Transaction,
    settings: &Settings,
    binder: &mut crate::binder::Binder<'_>,
) -> Result<Principal> {
    let principal = Principal::current(catalog, txn, settings)?;
    authorize(catalog, txn, &principal, &binder.take_needs())?;
    Ok(principal)
}

/// One need of `role` (not a superuser) on `object`.
fn check(
    catalog: &Catalog,
    txn: &Transaction,
    object: &Securable,
    required: Required,
    role: i64,
) -> Result<()> {
    match required {
        Required::AnyOf(privileges) => {
            if object.effective_acl().mask(role, privileges).is_empty() {
                return Err(object.permission_denied());
            }
        }
        Required::Ownership => {
            if object.owner != role {
                return Err(object.must_be_owner());
            }
        }
        Required::OwnerOrSchemaOwner => {
            let schema_owner = match &object.schema {
                Some(schema) => catalog.schema(txn, schema)?.map(|s| s.owner),
                None => None,
            };
            if object.owner != role && schema_owner != Some(role) {
                return Err(object.must_be_owner());
            }
        }
    }
    Ok(())
}

/// True if `principal` holds any of `privileges` on `object` (a superuser holds all):
/// `has_table_privilege` and friends.
pub fn holds(principal: &Principal, object: &Securable, privileges: Privileges) -> bool {
    principal.superuser || !object.effective_acl().mask(principal.oid, privileges).is_empty()
}

/// Makes `principal` the owner of what `statement` creates (a table with its SERIAL
/// sequences, a view, a sequence). CREATE SCHEMA settles its owner when it runs, since
/// AUTHORIZATION may name another role; a replaced view keeps its old owner.
pub fn assign_owners(statement: &mut crate::binder::BoundStatement, principal: &Principal) -> Result<()> {
    use crate::binder::BoundStatement as B;
    match statement {
        B::CreateTable(new) => {
            new.owner = principal.owner_oid()?;
            for sequence in &mut new.sequences {
                sequence.owner = new.owner;
            }
        }
        B::CreateView { view, .. } => view.owner = principal.owner_oid()?,
        B::CreateSequence { def, .. } => def.owner = principal.owner_oid()?,
        _ => {}
    }
    Ok(())
}

/// The owner of a schema `CREATE SCHEMA ... [AUTHORIZATION role]` makes: the role named
/// (a superuser may name any, anyone else only itself: PostgreSQL 15's "must be member
/// of role"), else `principal`.
pub fn schema_owner(
    catalog: &Catalog,
    txn: &Transaction,
    principal: &Principal,
    authorization: Option<&str>,
) -> Result<i64> {
    let Some(name) = authorization else { return principal.owner_oid() };
    let role = catalog.role(txn, name)?.ok_or_else(|| crate::catalog::no_role(name))?;
    if !principal.superuser && role.oid != principal.oid {
        return Err(Error::new(
            SqlState::InsufficientPrivilege,
            format!("must be member of role \"{name}\""),
        ));
    }
    Ok(role.oid)
}
