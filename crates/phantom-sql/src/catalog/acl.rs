//! Privileges and access control lists: PostgreSQL's `aclitem[]`, kept with each table,
//! view, sequence and schema.
//!
//! An ACL is a list of items `grantee=privileges/grantor`, each privilege optionally
//! with its grant option (`alice=r*w/bob`: alice may SELECT and UPDATE, and grant SELECT
//! to others, because bob granted it). Grantees and grantors are role OIDs, so a role
//! rename changes nothing here; grantee 0 is PUBLIC. An object that never had a GRANT or
//! REVOKE has no list (`None`, a NULL `relacl`) and its *default* applies: its owner holds
//! every privilege its kind has, nobody else anything, exactly as PostgreSQL's
//! `acldefault`. The first GRANT or REVOKE makes that default explicit and changes it.
//!
//! The rules are PostgreSQL's own (`acl.c`), in the same shape:
//!
//! - a role holds what the items naming it or PUBLIC give ([`Acl::mask`]); the owner is
//!   an item like any other, so an owner can revoke a privilege from itself, but always
//!   has every grant option ([`Acl::grant_options`]);
//! - granting adds to the item of that (grantee, grantor) pair; a grant option may not be
//!   granted back around a chain to the role it came from (0LP01);
//! - revoking takes from the item of the pair; a role that thereby loses a grant option it
//!   has from nowhere else loses what it granted with it: refused (2BP01, "dependent
//!   privileges exist") unless CASCADE, which revokes those grants too;
//! - a new owner takes the old owner's place as grantee and grantor ([`Acl::new_owner`]).
//!
//! Role membership does not exist here, so "the role or a role it belongs to" is always
//! just the role (see [`crate::privilege`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, SqlState};

/// The grantee that stands for every role.
pub const PUBLIC_GRANTEE: i64 = 0;

/// The owner of an object whose definition records none (stored before owners existed,
/// or created by the bootstrap superuser): the bootstrap superuser.
pub fn bootstrap_owner() -> i64 {
    super::pg_catalog::OWNER
}

/// True for the owner a definition leaves out when it stores itself.
pub fn is_bootstrap_owner(owner: &i64) -> bool {
    *owner == bootstrap_owner()
}

/// A set of privileges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Privileges(u16);

impl Privileges {
    pub const NONE: Privileges = Privileges(0);
    pub const INSERT: Privileges = Privileges(1 << 0);
    pub const SELECT: Privileges = Privileges(1 << 1);
    pub const UPDATE: Privileges = Privileges(1 << 2);
    pub const DELETE: Privileges = Privileges(1 << 3);
    pub const TRUNCATE: Privileges = Privileges(1 << 4);
    pub const REFERENCES: Privileges = Privileges(1 << 5);
    pub const TRIGGER: Privileges = Privileges(1 << 6);
    pub const USAGE: Privileges = Privileges(1 << 8);
    pub const CREATE: Privileges = Privileges(1 << 9);
    pub const TEMPORARY: Privileges = Privileges(1 << 10);
    pub const CONNECT: Privileges = Privileges(1 << 11);

    /// Each privilege with its letter in an ACL item and its SQL name, in PostgreSQL's
    /// order (`ACL_ALL_RIGHTS_STR`, which the text form follows).
    const EACH: [(Privileges, char, &'static str); 11] = [
        (Privileges::INSERT, 'a', "INSERT"),
        (Privileges::SELECT, 'r', "SELECT"),
        (Privileges::UPDATE, 'w', "UPDATE"),
        (Privileges::DELETE, 'd', "DELETE"),
        (Privileges::TRUNCATE, 'D', "TRUNCATE"),
        (Privileges::REFERENCES, 'x', "REFERENCES"),
        (Privileges::TRIGGER, 't', "TRIGGER"),
        (Privileges::USAGE, 'U', "USAGE"),
        (Privileges::CREATE, 'C', "CREATE"),
        (Privileges::TEMPORARY, 'T', "TEMPORARY"),
        (Privileges::CONNECT, 'c', "CONNECT"),
    ];

    /// True if there is none.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True if every privilege of `other` is here.
    pub fn contains(self, other: Privileges) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if some privilege of `other` is here.
    pub fn intersects(self, other: Privileges) -> bool {
        self.0 & other.0 != 0
    }

    /// These and `other`'s.
    pub fn union(self, other: Privileges) -> Privileges {
        Privileges(self.0 | other.0)
    }

    /// Those of these that `other` has too.
    pub fn intersection(self, other: Privileges) -> Privileges {
        Privileges(self.0 & other.0)
    }

    /// These without `other`'s.
    pub fn without(self, other: Privileges) -> Privileges {
        Privileges(self.0 & !other.0)
    }

    /// The SQL names of the privileges here, in PostgreSQL's order.
    pub fn names(self) -> Vec<&'static str> {
        Self::EACH.iter().filter(|(p, _, _)| self.contains(*p)).map(|(_, _, name)| *name).collect()
    }

    /// The privilege called `name` (`SELECT`, `USAGE`, ...), as GRANT spells it.
    pub fn by_name(name: &str) -> Option<Privileges> {
        Self::EACH.iter().find(|(_, _, n)| n.eq_ignore_ascii_case(name)).map(|(p, _, _)| *p)
    }
}

/// What kind of object an ACL belongs to: which privileges it can have, and how errors
/// name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Table,
    View,
    Sequence,
    Schema,
    Database,
    /// An index: no privileges of its own, its table's owner (for "must be owner of
    /// index i").
    Index,
}

impl ObjectKind {
    /// Every privilege the kind has (what ALL grants and the owner starts with).
    pub fn all_privileges(self) -> Privileges {
        match self {
            // PostgreSQL 15's ACL_ALL_RIGHTS_RELATION: arwdDxt.
            ObjectKind::Table | ObjectKind::View => Privileges(0b111_1111),
            ObjectKind::Sequence => Privileges::USAGE.union(Privileges::SELECT).union(Privileges::UPDATE),
            ObjectKind::Schema => Privileges::USAGE.union(Privileges::CREATE),
            ObjectKind::Database => {
                Privileges::CREATE.union(Privileges::TEMPORARY).union(Privileges::CONNECT)
            }
            ObjectKind::Index => Privileges::NONE,
        }
    }

    /// The kind as messages name it ("permission denied for *table* t").
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Schema => "schema",
            ObjectKind::Database => "database",
            ObjectKind::Index => "index",
        }
    }

    /// The ACL an object of this kind owned by `owner` has until its first GRANT or
    /// REVOKE (PostgreSQL's `acldefault`): the owner holds everything, without grant
    /// options (an owner needs none to grant); a database also lets PUBLIC connect and
    /// make temporary tables.
    pub fn default_acl(self, owner: i64) -> Acl {
        let mut items = vec![AclItem {
            grantee: owner,
            grantor: owner,
            privileges: self.all_privileges(),
            grant_options: Privileges::NONE,
        }];
        if self == ObjectKind::Database {
            items.push(AclItem {
                grantee: PUBLIC_GRANTEE,
                grantor: owner,
                privileges: Privileges::TEMPORARY.union(Privileges::CONNECT),
                grant_options: Privileges::NONE,
            });
        }
        Acl(items)
    }
}

/// One entry of an ACL: what `grantor` granted `grantee`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclItem {
    /// The role holding the privileges; [`PUBLIC_GRANTEE`] for everyone.
    pub grantee: i64,
    /// The role that granted them.
    pub grantor: i64,
    pub privileges: Privileges,
    /// The privileges (a subset of `privileges`) the grantee may grant on.
    #[serde(default, skip_serializing_if = "no_privileges")]
    pub grant_options: Privileges,
}

fn no_privileges(privileges: &Privileges) -> bool {
    privileges.is_empty()
}

/// An access control list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Acl(pub Vec<AclItem>);

/// 0LP01, as PostgreSQL reports a grant that cannot be made.
fn invalid_grant(message: &str) -> Error {
    Error::new(SqlState::InvalidGrantOperation, message)
}

impl Acl {
    /// The list in force for an object: its stored one, or its kind's default.
    pub fn effective(stored: Option<&Acl>, kind: ObjectKind, owner: i64) -> Acl {
        stored.cloned().unwrap_or_else(|| kind.default_acl(owner))
    }

    /// Which of `wanted` `role` holds: through items naming it or PUBLIC. (Superusers
    /// hold everything; that is the caller's business.)
    pub fn mask(&self, role: i64, wanted: Privileges) -> Privileges {
        self.0
            .iter()
            .filter(|item| item.grantee == role || item.grantee == PUBLIC_GRANTEE)
            .fold(Privileges::NONE, |held, item| held.union(item.privileges))
            .intersection(wanted)
    }

    /// Which privileges `role` may grant: all of them for the owner, else those it holds
    /// with the grant option.
    pub fn grant_options(&self, role: i64, owner: i64) -> Privileges {
        if role == owner {
            return Privileges(u16::MAX);
        }
        self.0
            .iter()
            .filter(|item| item.grantee == role)
            .fold(Privileges::NONE, |held, item| held.union(item.grant_options))
    }

    /// True if some item names `role` as grantee or grantor.
    pub fn mentions(&self, role: i64) -> bool {
        self.0.iter().any(|item| item.grantee == role || item.grantor == role)
    }

    /// `grantor` grants `privileges` (with the grant option if `with_option`) to
    /// `grantee`. The caller has checked that `grantor` may.
    pub fn grant(
        &mut self,
        grantor: i64,
        grantee: i64,
        privileges: Privileges,
        with_option: bool,
        owner: i64,
    ) -> Result<()> {
        if privileges.is_empty() {
            return Ok(());
        }
        if with_option {
            if grantee == PUBLIC_GRANTEE {
                return Err(invalid_grant("grant options can only be granted to roles"));
            }
            self.check_circularity(grantor, grantee, privileges, owner)?;
        }
        let options = if with_option { privileges } else { Privileges::NONE };
        match self.0.iter_mut().find(|item| item.grantee == grantee && item.grantor == grantor) {
            Some(item) => {
                item.privileges = item.privileges.union(privileges);
                item.grant_options = item.grant_options.union(options);
            }
            None => self.0.push(AclItem { grantee, grantor, privileges, grant_options: options }),
        }
        Ok(())
    }

    /// PostgreSQL's `check_circularity`: a grant option may not be granted to a role the
    /// grantor has it from, directly or through others. Taking away everything the
    /// grantee granted with grant options, the grantor must still have them.
    fn check_circularity(&self, grantor: i64, grantee: i64, options: Privileges, owner: i64) -> Result<()> {
        if grantor == owner {
            return Ok(());
        }
        let mut without = self.clone();
        while let Some(item) =
            without.0.iter().find(|i| i.grantor == grantee && !i.grant_options.is_empty()).copied()
        {
            // Cascading, so this cannot fail; it only takes the grants away.
            without.take(grantee, item.grantee, Privileges::NONE, item.grant_options, true, owner)?;
        }
        if !without.grant_options(grantor, owner).contains(options) {
            return Err(invalid_grant("grant options cannot be granted back to your own grantor"));
        }
        Ok(())
    }

    /// `grantor` revokes `privileges` from `grantee` (with `options_only`, only the grant
    /// options: REVOKE GRANT OPTION FOR). Grants that `grantee` can no longer justify go
    /// too with `cascade`, and make it 2BP01 without.
    pub fn revoke(
        &mut self,
        grantor: i64,
        grantee: i64,
        privileges: Privileges,
        options_only: bool,
        cascade: bool,
        owner: i64,
    ) -> Result<()> {
        let taken = if options_only { Privileges::NONE } else { privileges };
        // Worked on a copy, so that a refusal half way leaves the list as it was.
        let mut next = self.clone();
        next.take(grantor, grantee, taken, privileges, cascade, owner)?;
        *self = next;
        Ok(())
    }

    /// PostgreSQL's `aclupdate` in delete mode: removes `privileges` and `options` from
    /// the (grantee, grantor) item, then what the grantee granted with the options it no
    /// longer has.
    fn take(
        &mut self,
        grantor: i64,
        grantee: i64,
        privileges: Privileges,
        options: Privileges,
        cascade: bool,
        owner: i64,
    ) -> Result<()> {
        let Some(at) = self.0.iter().position(|item| item.grantee == grantee && item.grantor == grantor)
        else {
            return Ok(());
        };
        let item = &mut self.0[at];
        let lost = item.grant_options.intersection(options.union(privileges));
        item.privileges = item.privileges.without(privileges);
        item.grant_options = item.grant_options.without(options).without(privileges);
        if item.privileges.is_empty() {
            self.0.remove(at);
        }
        if !lost.is_empty() && grantee != PUBLIC_GRANTEE {
            self.revoke_dependents(grantee, lost, cascade, owner)?;
        }
        Ok(())
    }

    /// PostgreSQL's `recursive_revoke`: `role` lost the grant options `lost`; what it
    /// granted with them goes, unless it still has them from another grantor (or owns
    /// the object).
    fn revoke_dependents(&mut self, role: i64, lost: Privileges, cascade: bool, owner: i64) -> Result<()> {
        if role == owner {
            return Ok(());
        }
        let lost = lost.without(self.grant_options(role, owner));
        if lost.is_empty() {
            return Ok(());
        }
        while let Some(item) =
            self.0.iter().find(|i| i.grantor == role && i.privileges.intersects(lost)).copied()
        {
            if !cascade {
                return Err(Error::new(SqlState::DependentObjectsStillExist, "dependent privileges exist")
                    .with_hint("Use CASCADE to revoke them too."));
            }
            self.take(role, item.grantee, lost, lost, cascade, owner)?;
        }
        Ok(())
    }

    /// The object changed hands: `new` takes `old`'s place wherever it appears
    /// (PostgreSQL's `aclnewowner`), items that then coincide merged.
    pub fn new_owner(&mut self, old: i64, new: i64) {
        let mut merged: Vec<AclItem> = Vec::with_capacity(self.0.len());
        for mut item in self.0.drain(..) {
            if item.grantee == old {
                item.grantee = new;
            }
            if item.grantor == old {
                item.grantor = new;
            }
            match merged.iter_mut().find(|m| m.grantee == item.grantee && m.grantor == item.grantor) {
                Some(m) => {
                    m.privileges = m.privileges.union(item.privileges);
                    m.grant_options = m.grant_options.union(item.grant_options);
                }
                None => merged.push(item),
            }
        }
        self.0 = merged;
    }

    /// The list as PostgreSQL prints an `aclitem[]`: `{alice=arwdDxt/alice,=r/alice}`,
    /// roles named by `name_of`.
    pub fn to_text(&self, name_of: &impl Fn(i64) -> String) -> String {
        let items: Vec<String> = self.0.iter().map(|item| array_element(&item_text(item, name_of))).collect();
        format!("{{{}}}", items.join(","))
    }
}

/// One item as PostgreSQL prints an `aclitem`: `grantee=privileges/grantor`, the grantee
/// empty for PUBLIC, `*` after each privilege held with its grant option.
pub fn item_text(item: &AclItem, name_of: &impl Fn(i64) -> String) -> String {
    let mut text = String::new();
    if item.grantee != PUBLIC_GRANTEE {
        text.push_str(&role_ident(&name_of(item.grantee)));
    }
    text.push('=');
    for (privilege, letter, _) in Privileges::EACH {
        if item.privileges.contains(privilege) {
            text.push(letter);
            if item.grant_options.contains(privilege) {
                text.push('*');
            }
        }
    }
    text.push('/');
    text.push_str(&role_ident(&name_of(item.grantor)));
    text
}

/// A role name as an ACL item writes it (PostgreSQL's `putid`): double-quoted unless it
/// is only letters, digits and underscores.
fn role_ident(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// An element of an array's text form, quoted when it has to be.
fn array_element(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.eq_ignore_ascii_case("null")
        && !text.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
    if plain {
        return text.to_string();
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: i64 = 100;
    const BOB: i64 = 101;
    const CAROL: i64 = 102;
    const DAVE: i64 = 103;

    fn name_of(oid: i64) -> String {
        match oid {
            ALICE => "alice".into(),
            BOB => "bob".into(),
            CAROL => "Carol Q".into(),
            DAVE => "dave".into(),
            other => other.to_string(),
        }
    }

    fn text(acl: &Acl) -> String {
        acl.to_text(&name_of)
    }

    fn all(kind: ObjectKind) -> Privileges {
        kind.all_privileges()
    }

    #[test]
    fn defaults_and_text_forms_are_postgres_ones() {
        assert_eq!(text(&ObjectKind::Table.default_acl(ALICE)), "{alice=arwdDxt/alice}");
        assert_eq!(text(&ObjectKind::Sequence.default_acl(ALICE)), "{alice=rwU/alice}");
        assert_eq!(text(&ObjectKind::Schema.default_acl(ALICE)), "{alice=UC/alice}");
        assert_eq!(text(&ObjectKind::Database.default_acl(ALICE)), "{alice=CTc/alice,=Tc/alice}");
        let mut acl = ObjectKind::Table.default_acl(ALICE);
        acl.grant(ALICE, CAROL, Privileges::SELECT.union(Privileges::UPDATE), true, ALICE).expect("grant");
        acl.grant(ALICE, PUBLIC_GRANTEE, Privileges::SELECT, false, ALICE).expect("grant");
        assert_eq!(text(&acl), r#"{alice=arwdDxt/alice,"\"Carol Q\"=r*w*/alice",=r/alice}"#);
        let parsed = crate::exec::pg_functions::parse_array(&text(&acl)).expect("an array");
        assert_eq!(parsed[1].as_deref(), Some("\"Carol Q\"=r*w*/alice"));
        assert_eq!(Privileges::by_name("select"), Some(Privileges::SELECT));
        assert_eq!(all(ObjectKind::Sequence).names(), ["SELECT", "UPDATE", "USAGE"]);
    }

    #[test]
    fn roles_hold_what_names_them_or_public() {
        let mut acl = ObjectKind::Table.default_acl(ALICE);
        assert_eq!(acl.mask(BOB, Privileges::SELECT), Privileges::NONE);
        acl.grant(ALICE, PUBLIC_GRANTEE, Privileges::SELECT, false, ALICE).expect("grant");
        assert_eq!(acl.mask(BOB, all(ObjectKind::Table)), Privileges::SELECT);
        // The owner is an item like any other: it can take a privilege from itself, and
        // still grant it (owners have every grant option).
        acl.revoke(ALICE, ALICE, Privileges::DELETE, false, false, ALICE).expect("revoke");
        assert!(!acl.mask(ALICE, Privileges::DELETE).contains(Privileges::DELETE));
        assert!(acl.grant_options(ALICE, ALICE).contains(Privileges::DELETE));
        assert_eq!(acl.grant_options(BOB, ALICE), Privileges::NONE);
        assert!(acl.grant(ALICE, PUBLIC_GRANTEE, Privileges::SELECT, true, ALICE).is_err());
    }

    /// alice -> bob (with grant option) -> carol: revoking bob's option needs CASCADE,
    /// which takes carol's grant too; a second source of bob's option keeps it.
    #[test]
    fn revoking_a_grant_option_takes_what_was_granted_with_it() {
        let mut acl = ObjectKind::Table.default_acl(ALICE);
        acl.grant(ALICE, BOB, Privileges::SELECT, true, ALICE).expect("grant");
        acl.grant(BOB, CAROL, Privileges::SELECT, false, ALICE).expect("grant");
        let before = acl.clone();
        let e = acl.revoke(ALICE, BOB, Privileges::SELECT, true, false, ALICE).expect_err("restrict");
        assert_eq!(e.state, SqlState::DependentObjectsStillExist);
        assert_eq!(acl, before, "a refused revoke changes nothing the caller keeps");
        acl.revoke(ALICE, BOB, Privileges::SELECT, true, true, ALICE).expect("cascade");
        assert_eq!(text(&acl), "{alice=arwdDxt/alice,bob=r/alice}");

        // bob's option from dave too: bob's grant to carol stands on that.
        let mut acl = before.clone();
        acl.grant(ALICE, DAVE, Privileges::SELECT, true, ALICE).expect("grant");
        acl.grant(DAVE, BOB, Privileges::SELECT, true, ALICE).expect("grant");
        acl.revoke(ALICE, BOB, Privileges::SELECT, false, false, ALICE).expect("nothing depends on it");
        assert_eq!(text(&acl), r#"{alice=arwdDxt/alice,"\"Carol Q\"=r/bob",dave=r*/alice,bob=r*/dave}"#);
        // Taking dave's option cascades through bob to carol.
        acl.revoke(ALICE, DAVE, Privileges::SELECT, false, true, ALICE).expect("cascade");
        assert_eq!(text(&acl), "{alice=arwdDxt/alice}");
    }

    #[test]
    fn grant_options_cannot_go_round_in_a_circle() {
        let mut acl = ObjectKind::Table.default_acl(ALICE);
        acl.grant(ALICE, BOB, Privileges::SELECT, true, ALICE).expect("grant");
        acl.grant(BOB, CAROL, Privileges::SELECT, true, ALICE).expect("grant");
        let e = acl.grant(CAROL, BOB, Privileges::SELECT, true, ALICE).expect_err("circle");
        assert_eq!(e.state, SqlState::InvalidGrantOperation);
        // bob having the option from the owner too makes carol's grant back fine.
        acl.grant(CAROL, BOB, Privileges::SELECT, false, ALICE).expect("without the option");
    }

    #[test]
    fn a_new_owner_takes_the_old_ones_place() {
        let mut acl = ObjectKind::Table.default_acl(ALICE);
        acl.grant(ALICE, BOB, Privileges::SELECT, false, ALICE).expect("grant");
        acl.new_owner(ALICE, BOB);
        assert_eq!(text(&acl), "{bob=arwdDxt/bob}");
        assert!(acl.mentions(BOB) && !acl.mentions(ALICE));
    }
}
