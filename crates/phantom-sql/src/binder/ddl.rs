//! Binding DDL: CREATE TABLE, CREATE INDEX.

use phantom_txn::{Compaction, EngineKind};
use sqlparser::ast;

use super::expr::Cx;
use super::scope::Scope;
use super::{Binder, ident_name, table_name};
use crate::catalog::ColumnDef;
use crate::error::{Error, Result, SqlState};

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

fn not_yet(what: &str) -> Error {
    Error::new(SqlState::FeatureNotSupported, format!("{what} are not supported yet"))
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
        if create.or_replace
            || create.external
            || create.query.is_some()
            || create.like.is_some()
            || create.clone.is_some()
        {
            return Err(not_yet("CREATE TABLE AS, LIKE, CLONE and OR REPLACE"));
        }
        let name = table_name(&create.name)?;
        let mut columns: Vec<ColumnDef> = Vec::with_capacity(create.columns.len());
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
                match &option.option {
                    ast::ColumnOption::Null => def.nullable = true,
                    ast::ColumnOption::NotNull => def.nullable = false,
                    ast::ColumnOption::Default(e) => {
                        let x = self.expr(e, &mut Cx::new(&Scope::default(), "DEFAULT expressions"))?;
                        self.assignable(x, def.data_type, &def.name)?;
                        def.default = Some(e.to_string());
                    }
                    ast::ColumnOption::PrimaryKey(_) => set_primary_key(vec![position], &name)?,
                    ast::ColumnOption::Unique(_) => return Err(not_yet("UNIQUE constraints")),
                    ast::ColumnOption::Check(_) => return Err(not_yet("CHECK constraints")),
                    ast::ColumnOption::ForeignKey(_) => return Err(not_yet("FOREIGN KEY constraints")),
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
                ast::TableConstraint::Unique(_) => return Err(not_yet("UNIQUE constraints")),
                ast::TableConstraint::Check(_) => return Err(not_yet("CHECK constraints")),
                ast::TableConstraint::ForeignKey(_) => return Err(not_yet("FOREIGN KEY constraints")),
                other => {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        format!("constraint not supported: {other}"),
                    ));
                }
            }
        }
        let primary_key = primary_key.unwrap_or_default();
        for &p in &primary_key {
            columns[p].nullable = false;
        }
        let engine = self.engine_option(&create.table_options)?;
        Ok(NewTable { name, columns, primary_key, engine, if_not_exists: create.if_not_exists })
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
