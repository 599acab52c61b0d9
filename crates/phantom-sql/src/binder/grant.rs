//! Binding GRANT, REVOKE and the `OWNER TO` forms of ALTER TABLE, VIEW, SEQUENCE and
//! SCHEMA: which objects they name (through the search path, like any statement), which
//! privileges, which roles. Whether the session may make the change is decided when it
//! runs ([`crate::privilege::grant`], [`crate::privilege::owner`]), with the objects read
//! locked.

use sqlparser::ast;

use super::names::{name_ref, no_relation, wrong_kind};
use super::{Binder, BoundStatement, ident_name};
use crate::catalog::acl::{ObjectKind, Privileges};
use crate::catalog::{BOOTSTRAP_ROLE, QualifiedName, Relation, is_system_schema, no_schema};
use crate::error::{Error, Result, SqlState};

/// An object GRANT, REVOKE or OWNER TO acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantObject {
    /// A table, view or sequence.
    Relation {
        kind: ObjectKind,
        name: QualifiedName,
    },
    Schema(String),
    Database,
}

/// A role a statement names, or PUBLIC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grantee {
    Public,
    Role(String),
}

/// A bound GRANT or REVOKE of privileges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantStatement {
    /// GRANT (else REVOKE).
    pub grant: bool,
    /// The privileges named; `None` for ALL [PRIVILEGES].
    pub privileges: Option<Privileges>,
    /// `ON TABLE` (or no keyword): a sequence named there takes only the privileges it
    /// has, where `ON SEQUENCE` refuses the others.
    pub objects: Vec<GrantObject>,
    /// `ON TABLE` named the objects (relevant to the sequences among them).
    pub on_table: bool,
    pub grantees: Vec<Grantee>,
    /// WITH GRANT OPTION (GRANT), GRANT OPTION FOR (REVOKE).
    pub grant_option: bool,
    /// REVOKE ... CASCADE.
    pub cascade: bool,
}

fn unsupported(what: &str) -> Error {
    Error::new(SqlState::FeatureNotSupported, format!("{what} is not supported"))
}

/// The privileges a GRANT or REVOKE lists; `None` for ALL.
fn privileges(privileges: &ast::Privileges) -> Result<Option<Privileges>> {
    let actions = match privileges {
        ast::Privileges::All { .. } => return Ok(None),
        ast::Privileges::Actions(actions) => actions,
    };
    let mut set = Privileges::NONE;
    for action in actions {
        use ast::Action as A;
        let (privilege, columns) = match action {
            A::Select { columns } => (Privileges::SELECT, columns.as_ref()),
            A::Insert { columns } => (Privileges::INSERT, columns.as_ref()),
            A::Update { columns } => (Privileges::UPDATE, columns.as_ref()),
            A::References { columns } => (Privileges::REFERENCES, columns.as_ref()),
            A::Delete => (Privileges::DELETE, None),
            A::Truncate => (Privileges::TRUNCATE, None),
            A::Trigger => (Privileges::TRIGGER, None),
            A::Usage => (Privileges::USAGE, None),
            A::Create { obj_type: None } => (Privileges::CREATE, None),
            A::Connect => (Privileges::CONNECT, None),
            A::Temporary => (Privileges::TEMPORARY, None),
            other => {
                return Err(Error::new(
                    SqlState::SyntaxError,
                    format!("unrecognized privilege type \"{other}\""),
                ));
            }
        };
        if columns.is_some() {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "column privileges are not supported: grant on the whole table (or a view of the columns)",
            ));
        }
        set = set.union(privilege);
    }
    Ok(Some(set))
}

impl Binder<'_> {
    /// The session's role, for CURRENT_USER and its synonyms.
    fn current_role_name(&self) -> String {
        self.settings.map_or(BOOTSTRAP_ROLE.to_string(), |s| s.user.clone())
    }

    /// The session's own role, for SESSION_USER.
    fn session_role_name(&self) -> String {
        self.settings.map_or(BOOTSTRAP_ROLE.to_string(), |s| s.session_user.clone())
    }

    /// A role name as GRANT and OWNER TO take it: CURRENT_USER, CURRENT_ROLE and
    /// SESSION_USER stand for the session's roles.
    pub(super) fn role_ref(&self, ident: &ast::Ident) -> String {
        let name = ident_name(ident);
        if ident.quote_style.is_some() {
            return name;
        }
        match name.as_str() {
            "current_user" | "current_role" => self.current_role_name(),
            "session_user" => self.session_role_name(),
            _ => name,
        }
    }

    fn grantees(&self, grantees: &[ast::Grantee]) -> Result<Vec<Grantee>> {
        let mut out = Vec::with_capacity(grantees.len());
        for grantee in grantees {
            let bound = match (&grantee.grantee_type, &grantee.name) {
                (ast::GranteesType::Public, _) => Grantee::Public,
                (_, Some(ast::GranteeName::ObjectName(name))) => match name.0.as_slice() {
                    [part] => match part.as_ident() {
                        Some(ident)
                            if ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("public") =>
                        {
                            Grantee::Public
                        }
                        Some(ident) => Grantee::Role(self.role_ref(ident)),
                        None => {
                            return Err(Error::new(
                                SqlState::SyntaxError,
                                format!("invalid role name {name}"),
                            ));
                        }
                    },
                    _ => return Err(Error::new(SqlState::SyntaxError, format!("invalid role name {name}"))),
                },
                _ => return Err(Error::new(SqlState::SyntaxError, format!("invalid grantee {grantee}"))),
            };
            if !out.contains(&bound) {
                out.push(bound);
            }
        }
        Ok(out)
    }

    /// The relation a GRANT or OWNER TO names: a table, view or sequence (42P01 if none).
    fn grant_relation(&self, name: &ast::ObjectName, missing_ok: bool) -> Result<Option<GrantObject>> {
        let name = name_ref(name)?;
        if !self.schema_of_existing(&name, missing_ok)? {
            return Ok(None);
        }
        let found = match self.find_relation(&name)? {
            Some(Relation::Table(table)) => Some((ObjectKind::Table, table.qualified())),
            Some(Relation::View(view)) => Some((ObjectKind::View, view.qualified())),
            None => self.find_sequence(&name)?.map(|s| (ObjectKind::Sequence, s.qualified())),
        };
        match found {
            Some((kind, name)) => Ok(Some(GrantObject::Relation { kind, name })),
            None if missing_ok => Ok(None),
            None => Err(no_relation(&name)),
        }
    }

    /// A schema a GRANT or OWNER TO names (3F000 if there is none; system schemas are
    /// not ours to change).
    fn grant_schema(&self, name: &ast::ObjectName) -> Result<String> {
        let name = name_ref(name)?;
        if name.schema.is_some() {
            return Err(Error::new(SqlState::SyntaxError, format!("improper schema name: {name}")));
        }
        if is_system_schema(&name.name) {
            return Err(Error::new(
                SqlState::InsufficientPrivilege,
                format!("permission denied for schema {}: it holds the system catalogs", name.name),
            ));
        }
        if self.catalog.schema(self.txn, &name.name)?.is_none() {
            return Err(no_schema(&name.name));
        }
        Ok(name.name)
    }

    /// The objects of `GRANT ... ON ...`; `on_table` tells whether sequences were named
    /// as tables.
    fn grant_objects(&self, objects: Option<&ast::GrantObjects>) -> Result<(Vec<GrantObject>, bool)> {
        use ast::GrantObjects as O;
        let Some(objects) = objects else {
            return Err(Error::new(SqlState::SyntaxError, "syntax error: GRANT needs ON and an object"));
        };
        let mut found = Vec::new();
        let mut on_table = false;
        match objects {
            O::Tables(names) => {
                on_table = true;
                for name in names {
                    found.extend(self.grant_relation(name, false)?);
                }
            }
            O::Views(names) => {
                on_table = true;
                for name in names {
                    match self.grant_relation(name, false)? {
                        Some(GrantObject::Relation { kind: ObjectKind::View, name }) => {
                            found.push(GrantObject::Relation { kind: ObjectKind::View, name })
                        }
                        _ => return Err(wrong_kind(&name_ref(name)?, "a view")),
                    }
                }
            }
            O::Sequences(names) => {
                for name in names {
                    match self.grant_relation(name, false)? {
                        Some(object @ GrantObject::Relation { kind: ObjectKind::Sequence, .. }) => {
                            found.push(object)
                        }
                        _ => return Err(wrong_kind(&name_ref(name)?, "a sequence")),
                    }
                }
            }
            O::Schemas(names) => {
                for name in names {
                    found.push(GrantObject::Schema(self.grant_schema(name)?));
                }
            }
            O::Databases(names) => {
                for name in names {
                    let name = ident_name(name.0.last().and_then(|p| p.as_ident()).ok_or_else(|| {
                        Error::new(SqlState::SyntaxError, format!("invalid database name {name}"))
                    })?);
                    if name != crate::catalog::pg_catalog::DATABASE_NAME {
                        return Err(Error::new(
                            SqlState::InvalidCatalogName,
                            format!("database \"{name}\" does not exist"),
                        ));
                    }
                    found.push(GrantObject::Database);
                }
            }
            O::AllTablesInSchema { schemas } | O::AllSequencesInSchema { schemas } => {
                let sequences = matches!(objects, O::AllSequencesInSchema { .. });
                for schema in schemas {
                    let schema = self.grant_schema(schema)?;
                    self.require_schema_usage(&schema);
                    if sequences {
                        for s in self.catalog.sequences(self.txn)?.into_iter().filter(|s| s.schema == schema)
                        {
                            found.push(GrantObject::Relation {
                                kind: ObjectKind::Sequence,
                                name: s.qualified(),
                            });
                        }
                    } else {
                        // PostgreSQL's ALL TABLES takes views too.
                        for t in self.catalog.tables_in(self.txn, &schema)? {
                            found
                                .push(GrantObject::Relation { kind: ObjectKind::Table, name: t.qualified() });
                        }
                        for v in self.catalog.views(self.txn)?.into_iter().filter(|v| v.schema == schema) {
                            found.push(GrantObject::Relation { kind: ObjectKind::View, name: v.qualified() });
                        }
                    }
                }
                on_table = !sequences;
            }
            other => return Err(unsupported(&format!("GRANT ON {other}"))),
        }
        found.dedup();
        Ok((found, on_table))
    }

    /// Binds `GRANT privileges ON objects TO roles [WITH GRANT OPTION] [GRANTED BY role]`.
    pub(super) fn grant(&self, grant: &ast::Grant) -> Result<BoundStatement> {
        if grant.as_grantor.is_some() || grant.current_grants.is_some() {
            return Err(unsupported("GRANT ... AS and COPY/REVOKE CURRENT GRANTS"));
        }
        self.check_granted_by(grant.granted_by.as_ref())?;
        let (objects, on_table) = self.grant_objects(grant.objects.as_ref())?;
        Ok(BoundStatement::Grant(GrantStatement {
            grant: true,
            privileges: privileges(&grant.privileges)?,
            objects,
            on_table,
            grantees: self.grantees(&grant.grantees)?,
            grant_option: grant.with_grant_option,
            cascade: false,
        }))
    }

    /// Binds `REVOKE [GRANT OPTION FOR] privileges ON objects FROM roles [CASCADE |
    /// RESTRICT]`.
    pub(super) fn revoke(&self, revoke: &ast::Revoke) -> Result<BoundStatement> {
        self.check_granted_by(revoke.granted_by.as_ref())?;
        let (objects, on_table) = self.grant_objects(revoke.objects.as_ref())?;
        Ok(BoundStatement::Grant(GrantStatement {
            grant: false,
            privileges: privileges(&revoke.privileges)?,
            objects,
            on_table,
            grantees: self.grantees(&revoke.grantees)?,
            grant_option: revoke.grant_option_for,
            cascade: matches!(revoke.cascade, Some(ast::CascadeOption::Cascade)),
        }))
    }

    /// `GRANTED BY` may only name the session's role, as in PostgreSQL 15.
    fn check_granted_by(&self, granted_by: Option<&ast::Ident>) -> Result<()> {
        match granted_by {
            Some(role) if self.role_ref(role) != self.current_role_name() => {
                Err(unsupported("GRANTED BY a role other than the current user"))
            }
            _ => Ok(()),
        }
    }

    /// Binds `ALTER TABLE name OWNER TO role` (pg_dump writes one for every table, view
    /// and sequence; PostgreSQL's ALTER TABLE takes all three); `None` when IF EXISTS
    /// finds nothing.
    pub(super) fn alter_table_owner(&self, alter: &ast::AlterTable) -> Result<BoundStatement> {
        let mut owner = None;
        for op in &alter.operations {
            if let ast::AlterTableOperation::OwnerTo { new_owner } = op {
                owner = Some(self.owner_name(new_owner));
            }
        }
        let Some(owner) = owner else {
            return Err(Error::new(SqlState::InternalError, "OWNER TO without an owner"));
        };
        match self.grant_relation(&alter.name, alter.if_exists)? {
            Some(object) => Ok(BoundStatement::AlterOwner { object, owner }),
            None => Ok(BoundStatement::Skip("ALTER TABLE")),
        }
    }

    /// Binds `ALTER VIEW name OWNER TO role`.
    pub(super) fn alter_view(&self, alter: &ast::AlterView) -> Result<BoundStatement> {
        let ast::AlterViewOperation::OwnerTo(owner) = &alter.operation else {
            return Err(unsupported(&format!("ALTER VIEW {}", alter.operation)));
        };
        match self.grant_relation(&alter.name, alter.if_exists)? {
            Some(object @ GrantObject::Relation { kind: ObjectKind::View, .. }) => {
                Ok(BoundStatement::AlterOwner { object, owner: self.owner_name(owner) })
            }
            Some(_) => Err(wrong_kind(&name_ref(&alter.name)?, "a view")),
            None => Ok(BoundStatement::Skip("ALTER VIEW")),
        }
    }

    /// Binds `ALTER SCHEMA name OWNER TO role`.
    pub(super) fn alter_schema(&self, alter: &ast::AlterSchema) -> Result<BoundStatement> {
        let [ast::AlterSchemaOperation::OwnerTo { owner }] = alter.operations.as_slice() else {
            return Err(unsupported("ALTER SCHEMA other than OWNER TO"));
        };
        if alter.if_exists && self.catalog.schema(self.txn, &name_ref(&alter.name)?.name)?.is_none() {
            return Ok(BoundStatement::Skip("ALTER SCHEMA"));
        }
        let schema = self.grant_schema(&alter.name)?;
        Ok(BoundStatement::AlterOwner { object: GrantObject::Schema(schema), owner: self.owner_name(owner) })
    }

    /// The role `OWNER TO` names.
    pub(crate) fn owner_name(&self, owner: &ast::Owner) -> String {
        match owner {
            ast::Owner::Ident(ident) => self.role_ref(ident),
            ast::Owner::CurrentRole | ast::Owner::CurrentUser => self.current_role_name(),
            ast::Owner::SessionUser => self.session_role_name(),
        }
    }
}
