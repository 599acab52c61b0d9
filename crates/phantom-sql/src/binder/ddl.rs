//! Binding DDL: CREATE TABLE (with its constraints), CREATE INDEX.
//!
//! Constraints of a new table are validated and named here: CHECK expressions are bound
//! once against the new columns (and stored as text), UNIQUE constraints become unique
//! indexes named as PostgreSQL names them, and FOREIGN KEYs are resolved against the
//! referenced table (or the new table itself for a self-reference). Enforcement is in
//! [`crate::exec::constraints`].

use phantom_txn::{Compaction, EngineKind};
use sqlparser::ast;

use super::expr::{Cx, contains_aggregate};
use super::scope::Scope;
use super::{Binder, ident_name, table_name};
use crate::catalog::{CheckDef, ColumnDef, ForeignKeyDef, ReferentialAction};
use crate::error::{Error, Result, SqlState};
use crate::planner::{Expr, OutputColumn};
use crate::types::DataType;

/// A validated CREATE TABLE.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTable {
    /// The table's name.
    pub name: String,
    /// Its columns.
    pub columns: Vec<ColumnDef>,
    /// Positions of the primary-key columns (empty: hidden row id).
    pub primary_key: Vec<usize>,
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
}

/// A constraint of a CREATE TABLE, collected before all columns are known.
enum Pending<'a> {
    Check { name: Option<String>, expr: &'a ast::Expr },
    Unique { name: Option<String>, columns: Vec<usize> },
    ForeignKey { name: Option<String>, columns: Vec<usize>, fk: &'a ast::ForeignKeyConstraint },
}

/// A validated CREATE INDEX.
#[derive(Clone, Debug, PartialEq)]
pub struct NewIndex {
    /// The index's name.
    pub name: String,
    /// The table it indexes.
    pub table: String,
    /// Positions of the indexed columns in the table.
    pub columns: Vec<usize>,
    /// UNIQUE.
    pub unique: bool,
    /// `USING btree | lsm` (`None`: the database's default).
    pub engine: Option<EngineKind>,
    /// IF NOT EXISTS.
    pub if_not_exists: bool,
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
fn key_types_compatible(a: DataType, b: DataType) -> bool {
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

impl Binder<'_> {
    /// Binds CREATE INDEX.
    pub fn create_index(&mut self, create: &ast::CreateIndex) -> Result<NewIndex> {
        if create.predicate.is_some() || !create.include.is_empty() || create.concurrently {
            return Err(not_yet("partial, covering and concurrent indexes"));
        }
        let table = self.catalog.require_table(self.txn, &table_name(&create.table_name)?)?;
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
            Some(name) => table_name(name)?,
            None => {
                let parts: Vec<&str> = columns.iter().map(|&c| table.columns[c].name.as_str()).collect();
                format!("{}_{}_{}", table.name, parts.join("_"), if create.unique { "key" } else { "idx" })
            }
        };
        Ok(NewIndex {
            name,
            table: table.name.clone(),
            columns,
            unique: create.unique,
            engine,
            if_not_exists: create.if_not_exists,
        })
    }

    /// Binds CREATE TABLE.
    pub fn create_table(&mut self, create: &ast::CreateTable) -> Result<NewTable> {
        if create.or_replace || create.external || create.like.is_some() || create.clone.is_some() {
            return Err(not_yet("CREATE TABLE AS, LIKE, CLONE and OR REPLACE"));
        }
        let name = table_name(&create.name)?;
        if let Some(query) = &create.query {
            return self.create_table_as(name, query, create);
        }
        let mut columns: Vec<ColumnDef> = Vec::with_capacity(create.columns.len());
        let mut pending: Vec<Pending> = Vec::new();
        let mut primary_key: Option<Vec<usize>> = None;
        let mut set_primary_key = |pk: Vec<usize>, table: &str| -> Result<()> {
            if primary_key.is_some() {
                return Err(Error::new(
                    SqlState::InvalidTableDefinition,
                    format!("multiple primary keys for table \"{table}\" are not allowed"),
                ));
            }
            primary_key = Some(pk);
            Ok(())
        };
        for (position, column) in create.columns.iter().enumerate() {
            let column_name = ident_name(&column.name);
            if columns.iter().any(|c| c.name == column_name) {
                return Err(Error::new(
                    SqlState::DuplicateColumn,
                    format!("column \"{column_name}\" specified more than once"),
                ));
            }
            let data_type = self.data_type(&column.data_type)?;
            let mut def = ColumnDef { name: column_name, data_type, nullable: true, default: None };
            for option in &column.options {
                let named =
                    |inner: &Option<ast::Ident>| option.name.as_ref().or(inner.as_ref()).map(ident_name);
                match &option.option {
                    ast::ColumnOption::Null => def.nullable = true,
                    ast::ColumnOption::NotNull => def.nullable = false,
                    ast::ColumnOption::Default(e) => self.set_default(&mut def, e)?,
                    ast::ColumnOption::PrimaryKey(_) => set_primary_key(vec![position], &name)?,
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
                    let mut positions = Vec::with_capacity(pk.columns.len());
                    for c in &pk.columns {
                        let column_name = match &c.column.expr {
                            ast::Expr::Identifier(i) => ident_name(i),
                            other => {
                                return Err(Error::new(
                                    SqlState::FeatureNotSupported,
                                    format!("primary key on expression {other} is not supported"),
                                ));
                            }
                        };
                        let p = columns.iter().position(|c| c.name == column_name).ok_or_else(|| {
                            Error::new(
                                SqlState::UndefinedColumn,
                                format!("column \"{column_name}\" named in key does not exist"),
                            )
                        })?;
                        if positions.contains(&p) {
                            return Err(Error::new(
                                SqlState::DuplicateColumn,
                                format!("column \"{column_name}\" appears twice in primary key constraint"),
                            ));
                        }
                        positions.push(p);
                    }
                    set_primary_key(positions, &name)?;
                }
                ast::TableConstraint::Unique(u) => {
                    immediate(&u.characteristics)?;
                    if !u.include.is_empty() || u.index_name.is_some() {
                        return Err(not_yet("UNIQUE constraints with INCLUDE or an index name"));
                    }
                    let mut positions = Vec::with_capacity(u.columns.len());
                    for c in &u.columns {
                        let ast::Expr::Identifier(ident) = &c.column.expr else {
                            return Err(not_yet("UNIQUE constraints on expressions"));
                        };
                        let p = key_column(&columns, &ident_name(ident), "named in key")?;
                        if positions.contains(&p) {
                            return Err(Error::new(
                                SqlState::DuplicateColumn,
                                format!("column \"{}\" appears twice in unique constraint", columns[p].name),
                            ));
                        }
                        positions.push(p);
                    }
                    pending
                        .push(Pending::Unique { name: u.name.as_ref().map(ident_name), columns: positions });
                }
                ast::TableConstraint::Check(c) => {
                    enforced(c.enforced)?;
                    pending.push(Pending::Check { name: c.name.as_ref().map(ident_name), expr: &c.expr });
                }
                ast::TableConstraint::ForeignKey(fk) => {
                    let mut positions = Vec::with_capacity(fk.columns.len());
                    for ident in &fk.columns {
                        let p =
                            key_column(&columns, &ident_name(ident), "referenced in foreign key constraint")?;
                        if positions.contains(&p) {
                            return Err(Error::new(
                                SqlState::DuplicateColumn,
                                format!(
                                    "column \"{}\" appears twice in foreign key constraint",
                                    columns[p].name
                                ),
                            ));
                        }
                        positions.push(p);
                    }
                    pending.push(Pending::ForeignKey {
                        name: fk.name.as_ref().map(ident_name),
                        columns: positions,
                        fk,
                    });
                }
                other => {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        format!("constraint not supported: {other}"),
                    ));
                }
            }
        }
        let primary_key = primary_key.unwrap_or_default();
        check_key_types(&columns, &primary_key)?;
        for &p in &primary_key {
            columns[p].nullable = false;
        }
        let engine = self.engine_option(&create.table_options)?;
        let mut new = NewTable {
            name,
            columns,
            primary_key,
            engine,
            if_not_exists: create.if_not_exists,
            checks: Vec::new(),
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            source: None,
        };
        self.table_constraints(&mut new, pending)?;
        Ok(new)
    }

    /// Validates and names the constraints of a new table, in PostgreSQL's order: unique
    /// indexes, then foreign keys (which may reference those indexes), then CHECKs.
    fn table_constraints(&mut self, new: &mut NewTable, pending: Vec<Pending>) -> Result<()> {
        if new.if_not_exists && self.catalog.table(self.txn, &new.name)?.is_some() {
            return Ok(()); // Nothing will be created.
        }
        let table = new.name.clone();
        let mut taken: Vec<String> = vec![format!("{table}_pkey")];
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
                while name.is_none() && (self.relation_exists(&free, &table)? || taken.contains(&free)) {
                    n += 1;
                    free = format!("{default}{n}");
                }
                let chosen = claim(name.clone(), free, &mut taken)?;
                if name.is_some() && self.relation_exists(&chosen, &table)? {
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
        name: String,
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
            columns.push(ColumnDef { name: c.name, data_type, nullable: true, default: None });
        }
        Ok(NewTable {
            name,
            columns,
            primary_key: Vec::new(),
            engine: self.engine_option(&create.table_options)?,
            if_not_exists: create.if_not_exists,
            checks: Vec::new(),
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            source: Some(plan),
        })
    }

    /// Checks a column's DEFAULT expression against its type and keeps its text.
    pub(super) fn set_default(&mut self, def: &mut ColumnDef, e: &ast::Expr) -> Result<()> {
        let x = self.expr(e, &mut Cx::new(&Scope::default(), "DEFAULT expressions"))?;
        self.assignable(x, def.data_type, &def.name)?;
        def.default = Some(e.to_string());
        Ok(())
    }

    /// True if a table or index called `name` exists (or is the table being created).
    fn relation_exists(&self, name: &str, creating: &str) -> Result<bool> {
        Ok(name == creating
            || self.catalog.table(self.txn, name)?.is_some()
            || self.catalog.index_owner(self.txn, name)?.is_some())
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
        let parent_name = table_name(&fk.foreign_table)?;
        // The parent's columns, primary key and unique column sets.
        let (parent_columns, parent_pk, parent_uniques): (Vec<ColumnDef>, Vec<usize>, Vec<Vec<usize>>) =
            if parent_name == new.name {
                let uniques = new.uniques.iter().map(|(_, c)| c.clone()).collect();
                (new.columns.clone(), new.primary_key.clone(), uniques)
            } else {
                let parent = self.catalog.require_table(self.txn, &parent_name)?;
                let uniques =
                    parent.indexes.iter().filter(|ix| ix.unique).map(|ix| ix.columns.clone()).collect();
                (parent.columns.clone(), parent.primary_key.clone(), uniques)
            };
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
            parent: parent_name,
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
            let key = table_name(key)?;
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
