//! Binding ALTER TABLE: which changes, in order, with their columns bound.

use sqlparser::ast;

use super::{Binder, ident_name, table_name};
use crate::catalog::ColumnDef;
use crate::error::{Error, Result, SqlState};

/// One change of an ALTER TABLE.
#[derive(Clone, Debug, PartialEq)]
pub enum AlterOp {
    /// `ADD [COLUMN] [IF NOT EXISTS] name type [NOT NULL] [DEFAULT e]`
    AddColumn { column: ColumnDef, if_not_exists: bool },
    /// `DROP [COLUMN] [IF EXISTS] name`
    DropColumn { name: String, if_exists: bool },
    /// `RENAME [COLUMN] old TO new`
    RenameColumn { old: String, new: String },
    /// `RENAME TO new`
    RenameTable { new: String },
    /// `ADD [CONSTRAINT name] PRIMARY KEY (cols)`
    AddPrimaryKey { columns: Vec<String> },
}

/// A bound ALTER TABLE.
#[derive(Clone, Debug, PartialEq)]
pub struct AlterTable {
    pub table: String,
    pub if_exists: bool,
    pub ops: Vec<AlterOp>,
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::new(SqlState::FeatureNotSupported, format!("ALTER TABLE {what} is not supported yet"))
}

impl Binder<'_> {
    /// Binds ALTER TABLE.
    pub fn alter_table(&mut self, alter: &ast::AlterTable) -> Result<AlterTable> {
        let mut ops = Vec::with_capacity(alter.operations.len());
        for op in &alter.operations {
            use ast::AlterTableOperation as A;
            ops.push(match op {
                A::AddColumn { if_not_exists, column_def, column_position: None, .. } => {
                    AlterOp::AddColumn { column: self.new_column(column_def)?, if_not_exists: *if_not_exists }
                }
                A::DropColumn { column_names, if_exists, .. } if column_names.len() == 1 => {
                    AlterOp::DropColumn { name: ident_name(&column_names[0]), if_exists: *if_exists }
                }
                A::RenameColumn { old_column_name, new_column_name } => AlterOp::RenameColumn {
                    old: ident_name(old_column_name),
                    new: ident_name(new_column_name),
                },
                A::RenameTable {
                    table_name: ast::RenameTableNameKind::To(name) | ast::RenameTableNameKind::As(name),
                } => AlterOp::RenameTable { new: table_name(name)? },
                A::AddConstraint { constraint: ast::TableConstraint::PrimaryKey(pk), .. } => {
                    let columns = pk
                        .columns
                        .iter()
                        .map(|c| match &c.column.expr {
                            ast::Expr::Identifier(i) => Ok(ident_name(i)),
                            other => Err(unsupported(format!("PRIMARY KEY on the expression {other}"))),
                        })
                        .collect::<Result<Vec<_>>>()?;
                    AlterOp::AddPrimaryKey { columns }
                }
                other => return Err(unsupported(other)),
            });
        }
        Ok(AlterTable { table: table_name(&alter.name)?, if_exists: alter.if_exists, ops })
    }

    /// A column added by ALTER TABLE: its type, NULL / NOT NULL and DEFAULT.
    fn new_column(&mut self, column: &ast::ColumnDef) -> Result<ColumnDef> {
        let data_type = self.data_type(&column.data_type)?;
        let mut def = ColumnDef { name: ident_name(&column.name), data_type, nullable: true, default: None };
        for option in &column.options {
            match &option.option {
                ast::ColumnOption::Null => def.nullable = true,
                ast::ColumnOption::NotNull => def.nullable = false,
                ast::ColumnOption::Default(e) => self.set_default(&mut def, e)?,
                other => return Err(unsupported(format!("ADD COLUMN with {other}"))),
            }
        }
        Ok(def)
    }
}
