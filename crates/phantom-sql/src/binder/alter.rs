//! Binding ALTER TABLE: which table, and which changes in order.
//!
//! Only the table is resolved here. Each change is checked against the table as the
//! changes before it in the same statement left it, so expressions (CHECK, DEFAULT,
//! USING) and constraints are kept as syntax and bound when applied ([`crate::alter`]),
//! with the session's search path carried along for the names they mention.

use sqlparser::ast;

use super::names::name_ref;
use super::sequence::{nextval_default, serial_type};
use super::{Binder, ident_name};
use crate::catalog::acl::Privileges;
use crate::catalog::{ColumnDef, QualifiedName, Relation};
use crate::error::{Error, Result, SqlState};
use crate::privilege::Securable;
use crate::types::DataType;

/// One change of an ALTER TABLE.
#[derive(Clone, Debug, PartialEq)]
pub enum AlterOp {
    /// `ADD [COLUMN] [IF NOT EXISTS] name type [NOT NULL] [DEFAULT e] [constraints]`: the
    /// column's constraints are changes applied after it is added (and skipped with it).
    /// A SERIAL column comes with the sequence to create for it.
    AddColumn {
        column: ColumnDef,
        if_not_exists: bool,
        constraints: Vec<AlterOp>,
        sequence: Option<Box<crate::catalog::SequenceDef>>,
    },
    /// `DROP [COLUMN] [IF EXISTS] name [CASCADE]`
    DropColumn { name: String, if_exists: bool, cascade: bool },
    /// `RENAME [COLUMN] old TO new`
    RenameColumn { old: String, new: String },
    /// `RENAME TO new`
    RenameTable { new: String },
    /// `ADD [CONSTRAINT name] PRIMARY KEY (cols)`
    AddPrimaryKey { columns: Vec<String>, name: Option<String> },
    /// `ADD [CONSTRAINT name] CHECK (...) | UNIQUE (...) | FOREIGN KEY ...`
    AddConstraint(ast::TableConstraint),
    /// `DROP CONSTRAINT [IF EXISTS] name [CASCADE]`
    DropConstraint { name: String, if_exists: bool, cascade: bool },
    /// `ALTER [COLUMN] name ...`
    AlterColumn { column: String, change: ColumnChange },
}

/// What `ALTER [COLUMN] c` changes.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnChange {
    /// `SET DEFAULT e`
    SetDefault(ast::Expr),
    /// `DROP DEFAULT`
    DropDefault,
    /// `SET NOT NULL`
    SetNotNull,
    /// `DROP NOT NULL`
    DropNotNull,
    /// `[SET DATA] TYPE t [USING e]`
    SetType { data_type: DataType, using: Option<ast::Expr> },
}

/// A bound ALTER TABLE.
#[derive(Clone, Debug, PartialEq)]
pub struct AlterTable {
    /// The table, which exists.
    pub table: QualifiedName,
    /// The changes, in order.
    pub ops: Vec<AlterOp>,
    /// The session's search path, for names in the changes (a foreign key's parent).
    pub search_path: Vec<String>,
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::new(SqlState::FeatureNotSupported, format!("ALTER TABLE {what} is not supported yet"))
}

fn cascade(behavior: &Option<ast::DropBehavior>) -> bool {
    matches!(behavior, Some(ast::DropBehavior::Cascade))
}

/// True for `ALTER TABLE name OWNER TO role` (see [`Binder::alter_table_owner`]).
pub(super) fn is_owner_change(alter: &ast::AlterTable) -> bool {
    !alter.operations.is_empty()
        && alter.operations.iter().all(|op| matches!(op, ast::AlterTableOperation::OwnerTo { .. }))
}

impl Binder<'_> {
    /// Binds ALTER TABLE; `None` when IF EXISTS finds no table.
    pub fn alter_table(&mut self, alter: &ast::AlterTable) -> Result<Option<AlterTable>> {
        if is_owner_change(alter) {
            return Err(Error::new(SqlState::InternalError, "ALTER TABLE ... OWNER TO is bound apart"));
        }
        let Some(table) = self.ddl_table(&alter.name, alter.if_exists)? else {
            self.skipping("relation", &alter.name)?;
            return Ok(None);
        };
        // Changing a table is its owner's business; a foreign key it gains needs
        // REFERENCES on the table it points at (the constraint itself is bound when it
        // runs, see `crate::alter`).
        self.require_ownership(Securable::table(&table));
        for op in &alter.operations {
            if let ast::AlterTableOperation::AddConstraint {
                constraint: ast::TableConstraint::ForeignKey(fk),
                ..
            } = op
                && let Some(Relation::Table(parent)) = self.find_relation(&name_ref(&fk.foreign_table)?)?
                && parent.qualified() != table.qualified()
            {
                self.require_on_table(&parent, Privileges::REFERENCES);
            }
        }
        let mut ops = Vec::with_capacity(alter.operations.len());
        for op in &alter.operations {
            use ast::AlterTableOperation as A;
            match op {
                A::AddColumn { if_not_exists, column_def, column_position: None, .. } => {
                    self.add_column(&table.qualified(), column_def, *if_not_exists, &mut ops)?;
                }
                A::DropColumn { column_names, if_exists, drop_behavior, .. } => {
                    for name in column_names {
                        ops.push(AlterOp::DropColumn {
                            name: ident_name(name),
                            if_exists: *if_exists,
                            cascade: cascade(drop_behavior),
                        });
                    }
                }
                A::RenameColumn { old_column_name, new_column_name } => {
                    let new = ident_name(new_column_name);
                    super::ddl::refuse_system_column_name(&new)?;
                    ops.push(AlterOp::RenameColumn { old: ident_name(old_column_name), new })
                }
                A::RenameTable {
                    table_name: ast::RenameTableNameKind::To(name) | ast::RenameTableNameKind::As(name),
                } => {
                    let new = name_ref(name)?;
                    if new.schema.as_ref().is_some_and(|s| *s != table.schema) {
                        return Err(unsupported("moving a table to another schema (SET SCHEMA)"));
                    }
                    ops.push(AlterOp::RenameTable { new: new.name });
                }
                A::AddConstraint { constraint: ast::TableConstraint::PrimaryKey(pk), not_valid: false } => {
                    ops.push(AlterOp::AddPrimaryKey {
                        columns: pk_columns(&pk.columns)?,
                        name: pk.name.as_ref().map(ident_name),
                    });
                }
                A::AddConstraint { constraint, not_valid: false } => {
                    ops.push(AlterOp::AddConstraint(constraint.clone()));
                }
                A::DropConstraint { if_exists, name, drop_behavior } => ops.push(AlterOp::DropConstraint {
                    name: ident_name(name),
                    if_exists: *if_exists,
                    cascade: cascade(drop_behavior),
                }),
                A::AlterColumn { column_name, op } => {
                    let change = match op {
                        ast::AlterColumnOperation::SetDefault { value } => {
                            ColumnChange::SetDefault(value.clone())
                        }
                        ast::AlterColumnOperation::DropDefault => ColumnChange::DropDefault,
                        ast::AlterColumnOperation::SetNotNull => ColumnChange::SetNotNull,
                        ast::AlterColumnOperation::DropNotNull => ColumnChange::DropNotNull,
                        ast::AlterColumnOperation::SetDataType { data_type, using, .. } => {
                            ColumnChange::SetType {
                                data_type: self.column_type(data_type)?,
                                using: using.clone(),
                            }
                        }
                        other => return Err(unsupported(format!("ALTER COLUMN ... {other}"))),
                    };
                    ops.push(AlterOp::AlterColumn { column: ident_name(column_name), change });
                }
                other => return Err(unsupported(other)),
            }
        }
        Ok(Some(AlterTable { table: table.qualified(), ops, search_path: self.search_path.clone() }))
    }

    /// `ADD COLUMN`: the column with its type, NULL / NOT NULL and DEFAULT, then its
    /// constraints (PRIMARY KEY, UNIQUE, CHECK, REFERENCES) as changes of their own.
    fn add_column(
        &mut self,
        table: &QualifiedName,
        column: &ast::ColumnDef,
        if_not_exists: bool,
        ops: &mut Vec<AlterOp>,
    ) -> Result<()> {
        let serial = serial_type(&column.data_type);
        let data_type = match serial {
            Some(t) => t,
            None => self.column_type(&column.data_type)?,
        };
        let name = ident_name(&column.name);
        super::ddl::refuse_system_column_name(&name)?;
        let mut def =
            ColumnDef { name: name.clone(), data_type, nullable: true, default: None, identity: None };
        let mut sequence = None;
        if serial.is_some() {
            if column.options.iter().any(|o| matches!(o.option, ast::ColumnOption::Default(_))) {
                return Err(Error::new(
                    SqlState::SyntaxError,
                    format!(
                        "multiple default values specified for column \"{name}\" of table \"{}\"",
                        table.name
                    ),
                ));
            }
            let created = self.serial_sequence(table, &name, data_type, &[], &[])?;
            def.nullable = false;
            def.default = Some(nextval_default(&created));
            sequence = Some(Box::new(created));
        }
        let mut constraints = Vec::new();
        let key = || vec![index_column(&column.name)];
        for option in &column.options {
            let named = |inner: &Option<ast::Ident>| option.name.clone().or_else(|| inner.clone());
            match &option.option {
                ast::ColumnOption::Null => def.nullable = true,
                ast::ColumnOption::NotNull => def.nullable = false,
                ast::ColumnOption::Default(e) => self.set_default(&mut def, e)?,
                ast::ColumnOption::PrimaryKey(pk) => constraints.push(AlterOp::AddPrimaryKey {
                    columns: vec![name.clone()],
                    name: named(&pk.name).as_ref().map(ident_name),
                }),
                ast::ColumnOption::Unique(u) => {
                    let unique = ast::UniqueConstraint { name: named(&u.name), columns: key(), ..u.clone() };
                    constraints.push(AlterOp::AddConstraint(ast::TableConstraint::Unique(unique)));
                }
                ast::ColumnOption::Check(c) => {
                    let check = ast::CheckConstraint { name: named(&c.name), ..c.clone() };
                    constraints.push(AlterOp::AddConstraint(ast::TableConstraint::Check(check)));
                }
                ast::ColumnOption::ForeignKey(fk) => {
                    let fk = ast::ForeignKeyConstraint {
                        name: named(&fk.name),
                        columns: vec![column.name.clone()],
                        ..fk.clone()
                    };
                    constraints.push(AlterOp::AddConstraint(ast::TableConstraint::ForeignKey(fk)));
                }
                other => return Err(unsupported(format!("ADD COLUMN with {other}"))),
            }
        }
        ops.push(AlterOp::AddColumn { column: def, if_not_exists, constraints, sequence });
        Ok(())
    }
}

/// The column names of a PRIMARY KEY constraint.
fn pk_columns(columns: &[ast::IndexColumn]) -> Result<Vec<String>> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(i) => Ok(ident_name(i)),
            other => Err(unsupported(format!("PRIMARY KEY on the expression {other}"))),
        })
        .collect()
}

/// A plain column as a key column of a constraint.
fn index_column(name: &ast::Ident) -> ast::IndexColumn {
    ast::IndexColumn {
        column: ast::OrderByExpr {
            expr: ast::Expr::Identifier(name.clone()),
            options: ast::OrderByOptions { sort: None, nulls_first: None },
            with_fill: None,
        },
        operator_class: None,
    }
}
