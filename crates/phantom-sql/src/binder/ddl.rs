//! Binding DDL: CREATE TABLE (with its constraints), CREATE INDEX, and the constraints
//! ALTER TABLE ... ADD CONSTRAINT adds.
//!
//! Constraints are validated and named here, the same way for a new table and for one
//! being altered (which is treated as a new table that already has its columns and
//! constraints): CHECK expressions are bound once against the columns (and stored as
//! text), UNIQUE constraints become unique indexes named as PostgreSQL names them, and
//! FOREIGN KEYs are resolved against the referenced table, found through the search path
//! (or the new table itself for a self-reference). Enforcement is in
//! [`crate::exec::constraints`]; checking an altered table's existing rows in
//! [`crate::alter`].

use phantom_txn::{Compaction, EngineKind};
use sqlparser::ast;

use super::expr::{Cx, contains_aggregate};
use super::names::{name_ref, no_relation, wrong_kind};
use super::scope::Scope;
use super::sequence::{nextval_default, serial_type};
use super::{Binder, ident_name, object_name};
use crate::catalog::acl::Privileges;
use crate::catalog::{
    CheckDef, ColumnDef, ForeignKeyDef, Identity, QualifiedName, ReferentialAction, Relation, TableDef,
};
use crate::error::{Error, Result, SqlState};
use crate::planner::expr::SequenceFunction;
use crate::planner::{Expr, OutputColumn};
use crate::privilege::Securable;
use crate::types::DataType;

/// A validated CREATE TABLE.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTable {
    /// The table's schema.
    pub schema: String,
    /// The table's name.
    pub name: String,
    /// Its columns.
    pub columns: Vec<ColumnDef>,
    /// Positions of the primary-key columns (empty: hidden row id).
    pub primary_key: Vec<usize>,
    /// The primary-key constraint's name, when one was given.
    pub primary_key_name: Option<String>,
    /// The storage engine for its rows (`None`: the database's default).
    pub engine: Option<EngineKind>,
    /// IF NOT EXISTS.
    pub if_not_exists: bool,
    /// CHECK constraints, named.
    pub checks: Vec<CheckDef>,
    /// UNIQUE constraints: the name of the unique index to create and its columns.
    pub uniques: Vec<(String, Vec<usize>)>,
    /// FOREIGN KEY constraints, resolved and named.
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// `CREATE TABLE ... AS query`: the rows to fill it with.
    pub source: Option<crate::planner::Plan>,
    /// The sequences of its SERIAL columns, to create with it.
    pub sequences: Vec<crate::catalog::SequenceDef>,
    /// The role it will belong to (the session's, filled in when the statement runs:
    /// see [`crate::privilege::assign_owners`]), and its sequences with it.
    pub owner: i64,
}

/// 42601 for a column with both a DEFAULT and GENERATED ... AS IDENTITY.
fn both_default_and_identity(column: &str, table: &str) -> Error {
    Error::new(
        SqlState::SyntaxError,
        format!("both default and identity specified for column \"{column}\" of table \"{table}\""),
    )
}

/// A constraint of a CREATE TABLE (collected before all columns are known) or of an
/// ALTER TABLE ... ADD CONSTRAINT.
pub(super) enum Pending<'a> {
    Check { name: Option<String>, expr: &'a ast::Expr },
    Unique { name: Option<String>, columns: Vec<usize> },
    ForeignKey { name: Option<String>, columns: Vec<usize>, fk: &'a ast::ForeignKeyConstraint },
}

/// A validated CREATE INDEX.
#[derive(Clone, Debug, PartialEq)]
pub struct NewIndex {
    /// The index's name (in the table's schema).
    pub name: String,
    /// The table it indexes.
    pub table: QualifiedName,
    /// Positions of the indexed columns in the table.
    pub columns: Vec<usize>,
    /// UNIQUE.
    pub unique: bool,
    /// `USING btree | lsm` (`None`: the database's default).
    pub engine: Option<EngineKind>,
}

/// Key columns are stored only in the key, which holds an INTERVAL as its length: the
/// months and days it was written with could not be read back.
pub(crate) fn check_key_types(columns: &[ColumnDef], key: &[usize]) -> Result<()> {
    match key.iter().find(|&&i| columns[i].data_type == DataType::Interval) {
        Some(&i) => Err(Error::new(
            SqlState::FeatureNotSupported,
            format!("column \"{}\" of type interval cannot be in a primary key", columns[i].name),
        )),
        None => Ok(()),
    }
}

/// PostgreSQL's system columns: every table has them, so no column may be named so.
const SYSTEM_COLUMNS: [&str; 6] = ["tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"];

/// 42701 for a column named like a system column, as PostgreSQL refuses it (so that a
/// schema made here can be restored there).
pub(super) fn refuse_system_column_name(name: &str) -> Result<()> {
    if SYSTEM_COLUMNS.contains(&name) {
        return Err(Error::new(
            SqlState::DuplicateColumn,
            format!("column name \"{name}\" conflicts with a system column name"),
        ));
    }
    Ok(())
}

/// PostgreSQL's notice for `CREATE ... IF NOT EXISTS` of a relation that exists.
pub(crate) fn already_exists(name: &str) -> crate::notice::Notice {
    crate::notice::Notice::new("42P07", format!("relation \"{name}\" already exists, skipping"))
}

fn not_yet(what: &str) -> Error {
    Error::new(SqlState::FeatureNotSupported, format!("{what} are not supported yet"))
}

/// Constraints are checked when each statement ends; deferring them is not supported.
fn immediate(characteristics: &Option<ast::ConstraintCharacteristics>) -> Result<()> {
    match characteristics {
        Some(c) if c.deferrable == Some(true) || c.initially == Some(ast::DeferrableInitial::Deferred) => {
            Err(not_yet("deferrable constraints"))
        }
        Some(c) => enforced(c.enforced),
        None => Ok(()),
    }
}

fn enforced(enforced: Option<bool>) -> Result<()> {
    if enforced == Some(false) { Err(not_yet("NOT ENFORCED constraints")) } else { Ok(()) }
}

/// The position of column `name` named in a key of some kind (42703 if there is none).
fn key_column(columns: &[ColumnDef], name: &str, what: &str) -> Result<usize> {
    columns.iter().position(|c| c.name == name).ok_or_else(|| {
        Error::new(SqlState::UndefinedColumn, format!("column \"{name}\" {what} does not exist"))
    })
}

/// True if values of the two types compare as keys (their stored values share a form).
pub(crate) fn key_types_compatible(a: DataType, b: DataType) -> bool {
    (a.is_integer() && b.is_integer())
        || (a.is_float() && b.is_float())
        || (a.is_decimal() && b.is_decimal())
        || (a.is_string() && b.is_string())
        || (a == DataType::Boolean && b == DataType::Boolean)
}

fn action(a: Option<ast::ReferentialAction>) -> ReferentialAction {
    match a {
        None | Some(ast::ReferentialAction::NoAction) => ReferentialAction::NoAction,
        Some(ast::ReferentialAction::Restrict) => ReferentialAction::Restrict,
        Some(ast::ReferentialAction::Cascade) => ReferentialAction::Cascade,
        Some(ast::ReferentialAction::SetNull) => ReferentialAction::SetNull,
        Some(ast::ReferentialAction::SetDefault) => ReferentialAction::SetDefault,
    }
}

/// Positions of the columns a key constraint names: 42703 for an unknown one, 42701 for
/// one named twice; expressions are not supported.
fn key_columns(columns: &[ColumnDef], names: &[ast::IndexColumn], what: &str) -> Result<Vec<usize>> {
    let mut positions = Vec::with_capacity(names.len());
    for c in names {
        let ast::Expr::Identifier(ident) = &c.column.expr else {
            return Err(not_yet(&format!("{what} constraints on expressions")));
        };
        let p = key_column(columns, &ident_name(ident), "named in key")?;
        if positions.contains(&p) {
            return Err(Error::new(
                SqlState::DuplicateColumn,
                format!("column \"{}\" appears twice in {what} constraint", columns[p].name),
            ));
        }
        positions.push(p);
    }
    Ok(positions)
}

/// A table constraint other than PRIMARY KEY, checked against the table's columns.
pub(super) fn pending_constraint<'a>(
    columns: &[ColumnDef],
    constraint: &'a ast::TableConstraint,
) -> Result<Pending<'a>> {
    match constraint {
        ast::TableConstraint::Unique(u) => {
            immediate(&u.characteristics)?;
            if !u.include.is_empty() || u.index_name.is_some() {
                return Err(not_yet("UNIQUE constraints with INCLUDE or an index name"));
            }
            let positions = key_columns(columns, &u.columns, "unique")?;
            Ok(Pending::Unique { name: u.name.as_ref().map(ident_name), columns: positions })
        }
        ast::TableConstraint::Check(c) => {
            enforced(c.enforced)?;
            Ok(Pending::Check { name: c.name.as_ref().map(ident_name), expr: &c.expr })
        }
        ast::TableConstraint::ForeignKey(fk) => {
            let mut positions = Vec::with_capacity(fk.columns.len());
            for ident in &fk.columns {
                let p = key_column(columns, &ident_name(ident), "referenced in foreign key constraint")?;
                if positions.contains(&p) {
                    return Err(Error::new(
                        SqlState::DuplicateColumn,
                        format!("column \"{}\" appears twice in foreign key constraint", columns[p].name),
                    ));
                }
                positions.push(p);
            }
            Ok(Pending::ForeignKey { name: fk.name.as_ref().map(ident_name), columns: positions, fk })
        }
        other => Err(Error::new(SqlState::FeatureNotSupported, format!("constraint not supported: {other}"))),
    }
}

impl Binder<'_> {
    /// Binds CREATE INDEX; `None` when IF NOT EXISTS finds the name taken.
    pub fn create_index(&mut self, create: &ast::CreateIndex) -> Result<Option<NewIndex>> {
        if create.predicate.is_some() || !create.include.is_empty() || create.concurrently {
            return Err(not_yet("partial, covering and concurrent indexes"));
        }
        let Some(table) = self.ddl_table(&create.table_name, false)? else {
            return Err(no_relation(&name_ref(&create.table_name)?));
        };
        // Indexing a table is its owner's business; the index goes in its schema.
        self.require_ownership(Securable::table(&table));
        self.require_schema_create(&table.schema);
        let mut columns = Vec::with_capacity(create.columns.len());
        for column in &create.columns {
            let ast::Expr::Identifier(ident) = &column.column.expr else {
                return Err(not_yet("indexes on expressions"));
            };
            let name = ident_name(ident);
            let position = table.column_index(&name).ok_or_else(|| {
                Error::new(SqlState::UndefinedColumn, format!("column \"{name}\" does not exist"))
            })?;
            if columns.contains(&position) {
                return Err(Error::new(
                    SqlState::DuplicateColumn,
                    format!("column \"{name}\" appears twice in index"),
                ));
            }
            columns.push(position);
        }
        let engine = match &create.using {
            None => None,
            Some(ast::IndexType::BTree) => Some(EngineKind::BTree),
            Some(ast::IndexType::Custom(ident)) if ident.value.eq_ignore_ascii_case("lsm") => {
                Some(EngineKind::Lsm(Compaction::Leveled))
            }
            Some(other) => return Err(not_yet(&format!("{other} indexes"))),
        };
        let name = match &create.name {
            Some(name) => {
                let name = name_ref(name)?;
                if name.schema.as_ref().is_some_and(|s| *s != table.schema) {
                    return Err(Error::new(
                        SqlState::SyntaxError,
                        format!("index \"{name}\" must be in the schema of its table (\"{}\")", table.schema),
                    ));
                }
                name.name
            }
            None => {
                let parts: Vec<&str> = columns.iter().map(|&c| table.columns[c].name.as_str()).collect();
                format!("{}_{}_{}", table.name, parts.join("_"), if create.unique { "key" } else { "idx" })
            }
        };
        if create.if_not_exists && self.catalog.relation_exists(self.txn, &table.schema, &name)? {
            crate::notice::raise(already_exists(&name));
            return Ok(None);
        }
        Ok(Some(NewIndex { name, table: table.qualified(), columns, unique: create.unique, engine }))
    }

    /// Binds CREATE TABLE; `None` when IF NOT EXISTS finds the name taken.
    pub fn create_table(&mut self, create: &ast::CreateTable) -> Result<Option<NewTable>> {
        if create.or_replace || create.external || create.like.is_some() || create.clone.is_some() {
            return Err(not_yet("CREATE TABLE AS, LIKE, CLONE and OR REPLACE"));
        }
        // What would change the table's meaning is refused rather than ignored: a
        // "temporary" table that outlived the session, or a child that did not inherit
        // its parent's columns, would be a different table than the one asked for.
        if create.temporary || create.global.is_some() {
            return Err(not_yet("temporary tables"));
        }
        if create.inherits.is_some() {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "table inheritance (INHERITS) is not supported yet",
            ));
        }
        if create.partition_by.is_some() || create.partition_of.is_some() || create.for_values.is_some() {
            return Err(not_yet("partitioned tables (PARTITION BY, PARTITION OF)"));
        }
        if create.on_commit.is_some() {
            return Err(Error::new(
                SqlState::InvalidTableDefinition,
                "ON COMMIT can only be used on temporary tables",
            ));
        }
        let name = self.new_relation_name(&create.name)?;
        if create.if_not_exists && self.catalog.relation_exists(self.txn, &name.schema, &name.name)? {
            crate::notice::raise(already_exists(&name.name));
            return Ok(None);
        }
        if let Some(query) = &create.query {
            return self.create_table_as(name, query, create).map(Some);
        }
        let mut columns: Vec<ColumnDef> = Vec::with_capacity(create.columns.len());
        let mut sequences = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut primary_key: Option<(Vec<usize>, Option<String>)> = None;
        let mut set_primary_key = |pk: Vec<usize>, constraint: Option<String>| -> Result<()> {
            if primary_key.is_some() {
                return Err(Error::new(
                    SqlState::InvalidTableDefinition,
                    format!("multiple primary keys for table \"{}\" are not allowed", name.name),
                ));
            }
            primary_key = Some((pk, constraint));
            Ok(())
        };
        for (position, column) in create.columns.iter().enumerate() {
            let column_name = ident_name(&column.name);
            refuse_system_column_name(&column_name)?;
            if columns.iter().any(|c| c.name == column_name) {
                return Err(Error::new(
                    SqlState::DuplicateColumn,
                    format!("column \"{column_name}\" specified more than once"),
                ));
            }
            let serial = serial_type(&column.data_type);
            let data_type = match serial {
                Some(t) => t,
                None => self.column_type(&column.data_type)?,
            };
            let mut def =
                ColumnDef { name: column_name, data_type, nullable: true, default: None, identity: None };
            if serial.is_some() {
                let sequence = self.serial_sequence(&name, &def.name, data_type, &[], &sequences)?;
                if column.options.iter().any(|o| matches!(o.option, ast::ColumnOption::Default(_))) {
                    return Err(Error::new(
                        SqlState::SyntaxError,
                        format!(
                            "multiple default values specified for column \"{}\" of table \"{}\"",
                            def.name, name.name
                        ),
                    ));
                }
                def.nullable = false;
                def.default = Some(nextval_default(&sequence));
                sequences.push(sequence);
            }
            for option in &column.options {
                let named =
                    |inner: &Option<ast::Ident>| option.name.as_ref().or(inner.as_ref()).map(ident_name);
                match &option.option {
                    ast::ColumnOption::Null => def.nullable = true,
                    ast::ColumnOption::NotNull => def.nullable = false,
                    ast::ColumnOption::Default(e) => {
                        if def.identity.is_some() {
                            return Err(both_default_and_identity(&def.name, &name.name));
                        }
                        self.set_default(&mut def, e)?
                    }
                    ast::ColumnOption::Generated {
                        generated_as: generated_as @ (ast::GeneratedAs::Always | ast::GeneratedAs::ByDefault),
                        sequence_options,
                        generation_expr: None,
                        ..
                    } => {
                        if def.default.is_some() {
                            return Err(both_default_and_identity(&def.name, &name.name));
                        }
                        let options = sequence_options.as_deref().unwrap_or_default();
                        let sequence =
                            self.identity_sequence(&name, &def.name, data_type, options, &sequences)?;
                        def.identity = Some(match generated_as {
                            ast::GeneratedAs::Always => Identity::Always,
                            _ => Identity::ByDefault,
                        });
                        def.nullable = false;
                        def.default = Some(nextval_default(&sequence));
                        sequences.push(sequence);
                    }
                    ast::ColumnOption::PrimaryKey(pk) => set_primary_key(vec![position], named(&pk.name))?,
                    ast::ColumnOption::Unique(u) => {
                        immediate(&u.characteristics)?;
                        pending.push(Pending::Unique { name: named(&u.name), columns: vec![position] });
                    }
                    ast::ColumnOption::Check(c) => {
                        enforced(c.enforced)?;
                        pending.push(Pending::Check { name: named(&c.name), expr: &c.expr });
                    }
                    ast::ColumnOption::ForeignKey(fk) => {
                        pending.push(Pending::ForeignKey {
                            name: named(&fk.name),
                            columns: vec![position],
                            fk,
                        });
                    }
                    other => {
                        return Err(Error::new(
                            SqlState::FeatureNotSupported,
                            format!("column option not supported: {other}"),
                        ));
                    }
                }
            }
            columns.push(def);
        }
        for constraint in &create.constraints {
            match constraint {
                ast::TableConstraint::PrimaryKey(pk) => {
                    let positions = key_columns(&columns, &pk.columns, "primary key")?;
                    set_primary_key(positions, pk.name.as_ref().map(ident_name))?;
                }
                other => pending.push(pending_constraint(&columns, other)?),
            }
        }
        let (primary_key, primary_key_name) = primary_key.unwrap_or_default();
        check_key_types(&columns, &primary_key)?;
        for &p in &primary_key {
            columns[p].nullable = false;
        }
        let engine = self.engine_option(&create.table_options)?;
        let mut new = NewTable {
            schema: name.schema,
            name: name.name,
            columns,
            primary_key,
            primary_key_name,
            engine,
            if_not_exists: create.if_not_exists,
            checks: Vec::new(),
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            source: None,
            sequences,
            owner: crate::catalog::acl::bootstrap_owner(),
        };
        self.table_constraints(&mut new, pending)?;
        Ok(Some(new))
    }

    /// `table` with `constraint` added, validated and named like those of CREATE TABLE
    /// (for ALTER TABLE ... ADD CONSTRAINT; not for PRIMARY KEY). The new constraint is the
    /// last of its kind in the result; its rows are not checked here.
    pub fn add_constraint(
        &mut self,
        table: &TableDef,
        constraint: &ast::TableConstraint,
    ) -> Result<NewTable> {
        let pending = pending_constraint(&table.columns, constraint)?;
        let mut new = NewTable {
            schema: table.schema.clone(),
            name: table.name.clone(),
            columns: table.columns.clone(),
            primary_key: table.primary_key.clone(),
            primary_key_name: table.primary_key_name.clone(),
            engine: None,
            if_not_exists: false,
            checks: table.checks.clone(),
            uniques: table
                .indexes
                .iter()
                .filter(|ix| ix.unique)
                .map(|ix| (ix.name.clone(), ix.columns.clone()))
                .collect(),
            foreign_keys: table.foreign_keys.clone(),
            source: None,
            sequences: Vec::new(),
            owner: table.owner,
        };
        self.table_constraints(&mut new, vec![pending])?;
        Ok(new)
    }

    /// Validates and names the constraints of a new table, in PostgreSQL's order: unique
    /// indexes, then foreign keys (which may reference those indexes), then CHECKs.
    fn table_constraints(&mut self, new: &mut NewTable, pending: Vec<Pending>) -> Result<()> {
        let table = new.name.clone();
        let schema = new.schema.clone();
        // Names in use: the primary key's and the constraints the table already has.
        let mut taken: Vec<String> =
            vec![new.primary_key_name.clone().unwrap_or_else(|| format!("{table}_pkey"))];
        taken.extend(new.uniques.iter().map(|(name, _)| name.clone()));
        taken.extend(new.checks.iter().map(|c| c.name.clone()));
        taken.extend(new.foreign_keys.iter().map(|fk| fk.name.clone()));
        // A given name must be free; a default one gets a number appended until it is.
        let claim = |name: Option<String>, default: String, taken: &mut Vec<String>| -> Result<String> {
            let name = match name {
                Some(name) if taken.contains(&name) => {
                    return Err(Error::new(
                        SqlState::DuplicateObject,
                        format!("constraint \"{name}\" for relation \"{table}\" already exists"),
                    ));
                }
                Some(name) => name,
                None => (0..)
                    .map(|n| if n == 0 { default.clone() } else { format!("{default}{n}") })
                    .find(|n| !taken.contains(n))
                    .unwrap_or(default),
            };
            taken.push(name.clone());
            Ok(name)
        };
        for p in &pending {
            if let Pending::Unique { name, columns } = p {
                let parts: Vec<&str> = columns.iter().map(|&c| new.columns[c].name.as_str()).collect();
                let default = format!("{table}_{}_key", parts.join("_"));
                // An index is a relation: its name must be free among tables and indexes.
                let mut free = default.clone();
                let mut n = 0;
                while name.is_none()
                    && (self.relation_exists(&schema, &free, &table)? || taken.contains(&free))
                {
                    n += 1;
                    free = format!("{default}{n}");
                }
                let chosen = claim(name.clone(), free, &mut taken)?;
                if name.is_some() && self.relation_exists(&schema, &chosen, &table)? {
                    return Err(Error::new(
                        SqlState::DuplicateTable,
                        format!("relation \"{chosen}\" already exists"),
                    ));
                }
                new.uniques.push((chosen, columns.clone()));
            }
        }
        for p in &pending {
            if let Pending::ForeignKey { name, columns, fk } = p {
                let mut def = self.foreign_key(new, columns.clone(), fk)?;
                let parts: Vec<&str> = columns.iter().map(|&c| new.columns[c].name.as_str()).collect();
                def.name = claim(name.clone(), format!("{table}_{}_fkey", parts.join("_")), &mut taken)?;
                new.foreign_keys.push(def);
            }
        }
        for p in &pending {
            if let Pending::Check { name, expr } = p {
                let bound = self.check_constraint(&new.name, &new.columns, expr)?;
                // PostgreSQL names a CHECK after its column when it mentions exactly one.
                let mut used = Vec::new();
                bound.walk(&mut |x| {
                    if let Expr::Column(i) = x
                        && !used.contains(i)
                    {
                        used.push(*i);
                    }
                });
                let default = match used.as_slice() {
                    [c] if *c < new.columns.len() => format!("{table}_{}_check", new.columns[*c].name),
                    _ => format!("{table}_check"),
                };
                let name = claim(name.clone(), default, &mut taken)?;
                new.checks.push(CheckDef { name, expr: expr.to_string() });
            }
        }
        Ok(())
    }

    /// `CREATE TABLE name AS query`: the query's columns (a bare NULL column becomes TEXT),
    /// filled with its rows.
    fn create_table_as(
        &mut self,
        name: QualifiedName,
        query: &ast::Query,
        create: &ast::CreateTable,
    ) -> Result<NewTable> {
        if !create.columns.is_empty() || !create.constraints.is_empty() {
            return Err(not_yet("column lists and constraints in CREATE TABLE AS"));
        }
        let plan = self.query(query)?;
        let mut columns: Vec<ColumnDef> = Vec::new();
        for c in plan.columns().into_iter().filter(|c| !c.hidden) {
            if columns.iter().any(|d| d.name == c.name) {
                return Err(Error::new(
                    SqlState::DuplicateColumn,
                    format!("column \"{}\" specified more than once", c.name),
                ));
            }
            let data_type = if c.data_type == DataType::Null { DataType::Text } else { c.data_type };
            columns.push(ColumnDef {
                name: c.name,
                data_type,
                nullable: true,
                default: None,
                identity: None,
            });
        }
        Ok(NewTable {
            schema: name.schema,
            name: name.name,
            columns,
            primary_key: Vec::new(),
            primary_key_name: None,
            engine: self.engine_option(&create.table_options)?,
            if_not_exists: create.if_not_exists,
            checks: Vec::new(),
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            source: Some(plan),
            sequences: Vec::new(),
            owner: crate::catalog::acl::bootstrap_owner(),
        })
    }

    /// Checks a column's DEFAULT expression against its type and keeps its text.
    pub(crate) fn set_default(&mut self, def: &mut ColumnDef, e: &ast::Expr) -> Result<()> {
        let x = self.expr(e, &mut Cx::new(&Scope::default(), "DEFAULT expressions"))?;
        if x.expr.any(&mut |x| matches!(x, Expr::Subquery(_))) {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "cannot use subquery in DEFAULT expression",
            ));
        }
        if x.expr.any(&mut |x| matches!(x, Expr::Parameter(_))) {
            return Err(Error::new(SqlState::UndefinedParameter, "there is no parameter $1"));
        }
        // `nextval('s')` is kept as PostgreSQL shows it, naming the sequence it found, so
        // the default keeps filling from it whatever the search path is later.
        let sequence = match &x.expr {
            Expr::Sequence(call) if call.function == SequenceFunction::Nextval => call.sequence.clone(),
            _ => None,
        };
        self.assignable(x, def.data_type, &def.name)?;
        def.default = Some(match sequence {
            Some(sequence) => nextval_default(&sequence),
            None => e.to_string(),
        });
        Ok(())
    }

    /// True if a table, view or index called `name` exists in `schema` (or is the table
    /// being created).
    fn relation_exists(&self, schema: &str, name: &str, creating: &str) -> Result<bool> {
        Ok(name == creating || self.catalog.relation_exists(self.txn, schema, name)?)
    }

    /// Binds a CHECK expression over a table's columns: a boolean, without aggregates,
    /// subqueries or parameters. Used by CREATE TABLE and, once per statement, by writes.
    pub fn check_constraint(&mut self, table: &str, columns: &[ColumnDef], e: &ast::Expr) -> Result<Expr> {
        if contains_aggregate(e) {
            return Err(Error::new(
                SqlState::GroupingError,
                "aggregate functions are not allowed in check constraints",
            ));
        }
        let scope = Scope::new(
            columns
                .iter()
                .map(|c| OutputColumn {
                    table: Some(table.to_string()),
                    name: c.name.clone(),
                    data_type: c.data_type,
                    hidden: false,
                })
                .collect(),
        );
        let bound = self.predicate(e, &mut Cx::new(&scope, "CHECK"))?;
        if bound.any(&mut |x| matches!(x, Expr::Subquery(_))) {
            return Err(Error::new(SqlState::FeatureNotSupported, "cannot use subquery in check constraint"));
        }
        if bound.any(&mut |x| matches!(x, Expr::Parameter(_))) {
            return Err(Error::new(SqlState::UndefinedParameter, "there is no parameter $1"));
        }
        Ok(bound)
    }

    /// Resolves a FOREIGN KEY of the new table `new` on its `columns` (name left empty).
    fn foreign_key(
        &mut self,
        new: &NewTable,
        columns: Vec<usize>,
        fk: &ast::ForeignKeyConstraint,
    ) -> Result<ForeignKeyDef> {
        if matches!(
            fk.match_kind,
            Some(ast::ConstraintReferenceMatchKind::Full | ast::ConstraintReferenceMatchKind::Partial)
        ) {
            return Err(not_yet("MATCH FULL and MATCH PARTIAL foreign keys"));
        }
        immediate(&fk.characteristics)?;
        let parent_ref = name_ref(&fk.foreign_table)?;
        // The name is looked up as in any statement; the table being created, not in the
        // catalog yet, is found by its own name when nothing else is.
        let this = QualifiedName::new(&new.schema, &new.name);
        let found = self.find_relation(&parent_ref)?;
        let itself = match &found {
            Some(relation) => relation.qualified() == this,
            None => {
                parent_ref.name == new.name && parent_ref.schema.as_ref().is_none_or(|s| *s == new.schema)
            }
        };
        // The parent's name, columns, primary key and unique column sets.
        let (parent, parent_columns, parent_pk, parent_uniques): (
            QualifiedName,
            Vec<ColumnDef>,
            Vec<usize>,
            Vec<Vec<usize>>,
        ) = if itself {
            let uniques = new.uniques.iter().map(|(_, c)| c.clone()).collect();
            (this, new.columns.clone(), new.primary_key.clone(), uniques)
        } else {
            let parent = match found {
                Some(Relation::Table(table)) => table,
                Some(Relation::View(_)) => return Err(wrong_kind(&parent_ref, "a table")),
                None => return Err(no_relation(&parent_ref)),
            };
            self.require_on_table(&parent, Privileges::REFERENCES);
            let uniques = parent.indexes.iter().filter(|ix| ix.unique).map(|ix| ix.columns.clone()).collect();
            (parent.qualified(), parent.columns.clone(), parent.primary_key.clone(), uniques)
        };
        let parent_name = &parent.name;
        let referenced: Vec<usize> = if fk.referred_columns.is_empty() {
            if parent_pk.is_empty() {
                return Err(Error::new(
                    SqlState::InvalidForeignKey,
                    format!("there is no primary key for referenced table \"{parent_name}\""),
                ));
            }
            parent_pk.clone()
        } else {
            fk.referred_columns
                .iter()
                .map(|ident| {
                    key_column(&parent_columns, &ident_name(ident), "referenced in foreign key constraint")
                })
                .collect::<Result<_>>()?
        };
        if referenced.len() != columns.len() {
            return Err(Error::new(
                SqlState::InvalidForeignKey,
                "number of referencing and referenced columns for foreign key disagree",
            ));
        }
        let same_set = |a: &[usize], b: &[usize]| {
            let (mut a, mut b) = (a.to_vec(), b.to_vec());
            a.sort_unstable();
            b.sort_unstable();
            a == b
        };
        let mut sorted = referenced.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let unique = sorted.len() == referenced.len()
            && ((!parent_pk.is_empty() && same_set(&parent_pk, &referenced))
                || parent_uniques.iter().any(|u| same_set(u, &referenced)));
        if !unique {
            return Err(Error::new(
                SqlState::InvalidForeignKey,
                format!(
                    "there is no unique constraint matching given keys for referenced table \"{parent_name}\""
                ),
            ));
        }
        for (&c, &p) in columns.iter().zip(&referenced) {
            let (a, b) = (new.columns[c].data_type, parent_columns[p].data_type);
            if !key_types_compatible(a, b) {
                let parts: Vec<&str> = columns.iter().map(|&c| new.columns[c].name.as_str()).collect();
                return Err(Error::new(
                    SqlState::DatatypeMismatch,
                    format!(
                        "foreign key constraint \"{}_{}_fkey\" cannot be implemented",
                        new.name,
                        parts.join("_")
                    ),
                )
                .with_detail(format!(
                    "Key columns \"{}\" and \"{}\" are of incompatible types: {a} and {b}.",
                    new.columns[c].name, parent_columns[p].name
                )));
            }
        }
        Ok(ForeignKeyDef {
            name: String::new(),
            columns,
            parent_schema: parent.schema.clone(),
            parent: parent.name.clone(),
            parent_columns: referenced,
            on_delete: action(fk.on_delete),
            on_update: action(fk.on_update),
        })
    }

    /// Reads `WITH (engine = '...')` and accepts the storage parameters PostgreSQL tools
    /// send (fillfactor), which have no meaning here.
    fn engine_option(&mut self, options: &ast::CreateTableOptions) -> Result<Option<EngineKind>> {
        let options = match options {
            ast::CreateTableOptions::None => return Ok(None),
            ast::CreateTableOptions::With(options) => options,
            _ => return Err(Error::new(SqlState::FeatureNotSupported, "table options are not supported")),
        };
        let mut engine = None;
        let mut compaction = None;
        for option in options {
            let ast::SqlOption::KeyValue { key, value } = option else {
                return Err(Error::new(SqlState::SyntaxError, format!("invalid table option {option}")));
            };
            let key = object_name(key)?;
            let text = match value {
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::SingleQuotedString(s) | ast::Value::Number(s, _) => s.clone(),
                    other => other.to_string(),
                },
                ast::Expr::Identifier(i) => i.value.clone(),
                other => other.to_string(),
            };
            match key.as_str() {
                "engine" => {
                    engine = Some(EngineKind::from_name(&text).ok_or_else(|| {
                        Error::new(
                            SqlState::InvalidParameterValue,
                            format!("unknown storage engine \"{text}\" (available: btree, lsm, memory)"),
                        )
                    })?);
                }
                "compaction" => {
                    let strategy = match text.to_ascii_lowercase().as_str() {
                        "leveled" => Compaction::Leveled,
                        "tiered" => Compaction::Tiered,
                        other => {
                            return Err(Error::new(
                                SqlState::InvalidParameterValue,
                                format!("unknown compaction \"{other}\" (available: leveled, tiered)"),
                            ));
                        }
                    };
                    compaction = Some(strategy);
                }
                "fillfactor" => {}
                other => {
                    return Err(Error::new(
                        SqlState::InvalidParameterValue,
                        format!("unrecognized parameter \"{other}\""),
                    ));
                }
            }
        }
        match (engine, compaction) {
            (Some(EngineKind::Lsm(_)), Some(strategy)) => Ok(Some(EngineKind::Lsm(strategy))),
            (_, Some(_)) => Err(Error::new(
                SqlState::InvalidParameterValue,
                "the compaction option applies only to engine = 'lsm'",
            )),
            (engine, None) => Ok(engine),
        }
    }
}
