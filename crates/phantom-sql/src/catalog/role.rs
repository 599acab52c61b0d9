//! Roles: who may connect, and with which password.
//!
//! A role is a catalog entry of its own kind, keyed by its name, so CREATE, ALTER and DROP
//! ROLE are transactional and durable like every other DDL. (PostgreSQL keeps roles per
//! cluster; here one data directory is one database, so the two coincide.)
//!
//! `phantom` is the bootstrap superuser, PostgreSQL's `postgres`: it exists in every
//! database without an entry (OID 10, the owner of everything), so databases created
//! before roles existed open unchanged. `ALTER ROLE phantom ...` stores an entry that
//! takes the built-in one's place; it can never be dropped, renamed or lose SUPERUSER.
//!
//! A role controls logging in to the server (LOGIN, and the password, kept only as a
//! SCRAM-SHA-256 verifier, see [`crate::scram`]) and what its sessions may do: SUPERUSER
//! passes every privilege check, CREATEROLE allows managing other roles (see
//! [`crate::role`] and [`crate::privilege`]); beyond that a role has the privileges
//! granted to it or to PUBLIC. CREATEDB, INHERIT, REPLICATION and BYPASSRLS are recorded
//! with nothing to act on here (one database, no role membership, no replication, no
//! row security), and only a superuser may give the last two.

use std::ops::Bound;

use phantom_txn::Transaction;
use phantom_txn::keyspace::CATALOG_KEYSPACE;
use serde::{Deserialize, Serialize};

use super::{Catalog, PUBLIC, ROLE, entry_key, pg_catalog};
use crate::error::{Error, Result, SqlState};

/// The bootstrap superuser's name.
pub const BOOTSTRAP_ROLE: &str = pg_catalog::OWNER_NAME;

/// A role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDef {
    /// The role's name.
    pub name: String,
    /// Its OID, fixed at creation and kept through renames (see [`pg_catalog`]).
    pub oid: i64,
    /// SUPERUSER: passes every privilege check.
    pub superuser: bool,
    /// LOGIN: the role may connect.
    pub login: bool,
    /// CREATEDB (recorded: there is one database).
    #[serde(default)]
    pub create_db: bool,
    /// CREATEROLE: may manage roles that are not superusers.
    #[serde(default)]
    pub create_role: bool,
    /// INHERIT (recorded; there is no role membership to inherit from).
    #[serde(default = "yes")]
    pub inherit: bool,
    /// REPLICATION (recorded: there is no replication; only superusers touch it).
    #[serde(default)]
    pub replication: bool,
    /// BYPASSRLS (recorded; there is no row-level security).
    #[serde(default)]
    pub bypass_rls: bool,
    /// The SCRAM-SHA-256 verifier in PostgreSQL's text form; `None` when the role has no
    /// password, and so cannot log in where passwords are required.
    #[serde(default)]
    pub password: Option<String>,
}

fn yes() -> bool {
    true
}

impl RoleDef {
    /// A role with PostgreSQL's defaults for CREATE ROLE (NOLOGIN, NOSUPERUSER, INHERIT,
    /// no password).
    pub fn new(name: String, oid: i64) -> RoleDef {
        RoleDef {
            name,
            oid,
            superuser: false,
            login: false,
            create_db: false,
            create_role: false,
            inherit: true,
            replication: false,
            bypass_rls: false,
            password: None,
        }
    }

    /// The bootstrap superuser as it is without an entry of its own.
    pub fn bootstrap() -> RoleDef {
        RoleDef {
            superuser: true,
            login: true,
            create_db: true,
            create_role: true,
            replication: true,
            bypass_rls: true,
            ..RoleDef::new(BOOTSTRAP_ROLE.to_string(), pg_catalog::OWNER)
        }
    }
}

fn role_key(name: &str) -> Vec<u8> {
    entry_key(ROLE, PUBLIC, name)
}

fn decode(bytes: &[u8]) -> Result<RoleDef> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(SqlState::DataCorrupted, format!("corrupt role definition in the catalog: {e}"))
    })
}

/// 42704 for a role that does not exist.
pub fn no_role(name: &str) -> Error {
    Error::new(SqlState::UndefinedObject, format!("role \"{name}\" does not exist"))
}

impl Catalog {
    /// The role called `name` as `txn` sees it.
    pub fn role(&self, txn: &Transaction, name: &str) -> Result<Option<RoleDef>> {
        let stored = txn.get(CATALOG_KEYSPACE, &role_key(name))?;
        Self::role_from(name, stored)
    }

    /// The role called `name`, its entry locked and read at its newest version: what a
    /// statement that changes roles must see, so that two sessions creating the same
    /// role cannot both succeed.
    pub fn role_for_update(&self, txn: &Transaction, name: &str) -> Result<Option<RoleDef>> {
        let stored = txn.get_for_update(CATALOG_KEYSPACE, &role_key(name))?;
        Self::role_from(name, stored)
    }

    fn role_from(name: &str, stored: Option<Vec<u8>>) -> Result<Option<RoleDef>> {
        match stored {
            Some(bytes) => decode(&bytes).map(Some),
            None if name == BOOTSTRAP_ROLE => Ok(Some(RoleDef::bootstrap())),
            None => Ok(None),
        }
    }

    /// Every role `txn` sees, by name.
    pub fn roles(&self, txn: &Transaction) -> Result<Vec<RoleDef>> {
        let range = (Bound::Included(vec![ROLE]), Bound::Excluded(vec![ROLE + 1]));
        let mut roles = Vec::new();
        for entry in txn.scan(CATALOG_KEYSPACE, range, false)? {
            let (_, bytes) = entry?;
            roles.push(decode(&bytes)?);
        }
        if !roles.iter().any(|r| r.name == BOOTSTRAP_ROLE) {
            roles.push(RoleDef::bootstrap());
        }
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(roles)
    }

    /// Stores a new or changed role.
    pub fn put_role(&self, txn: &Transaction, role: &RoleDef) -> Result<()> {
        let bytes = serde_json::to_vec(role).map_err(|e| {
            Error::new(SqlState::InternalError, format!("cannot encode role definition: {e}"))
        })?;
        txn.put(CATALOG_KEYSPACE, &role_key(&role.name), bytes)?;
        Ok(())
    }

    /// Removes a role's entry.
    pub fn delete_role(&self, txn: &Transaction, name: &str) -> Result<()> {
        txn.delete(CATALOG_KEYSPACE, &role_key(name))?;
        Ok(())
    }

    /// An OID for a new role called `name`: its hash-derived one, or the next free one
    /// after it.
    pub fn new_role_oid(&self, txn: &Transaction, name: &str) -> Result<i64> {
        let taken: Vec<i64> = self.roles(txn)?.iter().map(|r| r.oid).collect();
        let mut oid = pg_catalog::role_oid_for(name);
        while taken.contains(&oid) {
            oid += 1;
        }
        Ok(oid)
    }
}

#[cfg(test)]
mod tests {
    use phantom_txn::MvccStore;

    use super::*;

    /// `phantom` is there without an entry; an entry replaces it; other roles are
    /// entries, listed by name, gone when deleted.
    #[test]
    fn roles_are_entries_beside_the_built_in_superuser() {
        let store = MvccStore::memory();
        let txn = store.begin();
        let catalog = Catalog::new();
        assert_eq!(catalog.role(&txn, BOOTSTRAP_ROLE).expect("read"), Some(RoleDef::bootstrap()));
        assert_eq!(catalog.roles(&txn).expect("roles"), [RoleDef::bootstrap()]);

        let oid = catalog.new_role_oid(&txn, "alice").expect("oid");
        let alice = RoleDef { login: true, ..RoleDef::new("alice".into(), oid) };
        catalog.put_role(&txn, &alice).expect("put");
        let changed = RoleDef { password: Some("v".into()), ..RoleDef::bootstrap() };
        catalog.put_role(&txn, &changed).expect("put");
        txn.next_command();
        assert_eq!(catalog.role(&txn, "alice").expect("read"), Some(alice.clone()));
        assert_eq!(catalog.roles(&txn).expect("roles"), [alice, changed]);
        assert_ne!(oid, pg_catalog::OWNER);

        catalog.delete_role(&txn, "alice").expect("delete");
        txn.next_command();
        assert_eq!(catalog.role(&txn, "alice").expect("read"), None);
        txn.rollback().expect("rollback");
    }

    /// Two names whose hashes collide still get different OIDs.
    #[test]
    fn role_oids_are_unique() {
        let store = MvccStore::memory();
        let txn = store.begin();
        let catalog = Catalog::new();
        let first = catalog.new_role_oid(&txn, "bob").expect("oid");
        catalog.put_role(&txn, &RoleDef::new("bob".into(), first)).expect("put");
        txn.next_command();
        // Another role whose hash lands on bob's OID, simulated by asking for bob's again.
        let second = catalog.new_role_oid(&txn, "bob").expect("oid");
        assert_eq!(second, first + 1);
        txn.rollback().expect("rollback");
    }
}
