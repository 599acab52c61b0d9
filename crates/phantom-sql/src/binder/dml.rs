//! Binding INSERT, UPDATE and DELETE.
//!
//! Each becomes a plan whose source produces the rows to write: VALUES or a query for
//! INSERT, a filtered scan of the target table for UPDATE and DELETE. Values are coerced to
//! the column types here with assignment rules; NOT NULL, length limits and key
//! uniqueness are checked by the executor, row by row, as PostgreSQL does.

use std::sync::Arc;

use sqlparser::ast;

use super::expr::Cx;
use super::names::{name_ref, no_relation};
use super::scope::Scope;
use super::{Binder, ident_name, object_name};
use crate::catalog::acl::Privileges;
use crate::catalog::{Identity, Relation, TableDef};
use crate::error::{Error, Result, SqlState};
use crate::parser::parse_expr;
use crate::planner::expr::Expr;
use crate::planner::{OutputColumn, Plan};
use crate::types::Value;

fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

/// 428C9 when the INSERT gives a value (other than DEFAULT) to a `GENERATED ALWAYS`
/// identity column without `OVERRIDING SYSTEM VALUE`.
fn check_identity_targets(table: &TableDef, targets: &[usize], source: Option<&ast::Query>) -> Result<()> {
    for (position, &t) in targets.iter().enumerate() {
        let column = &table.columns[t];
        if column.identity != Some(Identity::Always) {
            continue;
        }
        // VALUES rows that say DEFAULT there give nothing.
        let all_default = match source.map(|q| q.body.as_ref()) {
            Some(ast::SetExpr::Values(values)) => {
                values.rows.iter().all(|row| row.content.get(position).is_some_and(is_default_keyword))
            }
            _ => false,
        };
        if !all_default {
            return Err(Error::new(
                SqlState::GeneratedAlways,
                format!("cannot insert a non-DEFAULT value into column \"{}\"", column.name),
            )
            .with_detail(format!(
                "Column \"{}\" is an identity column defined as GENERATED ALWAYS.",
                column.name
            ))
            .with_hint("Use OVERRIDING SYSTEM VALUE to override."));
        }
    }
    Ok(())
}

impl Binder<'_> {
    /// The value a column gets when a statement does not give one.
    pub fn column_default(&mut self, table: &TableDef, column: usize) -> Result<Expr> {
        let def = &table.columns[column];
        match &def.default {
            None => Ok(Expr::Constant(Value::Null)),
            Some(text) => {
                let ast = parse_expr(text)?;
                let empty = Scope::default();
                let x = self.expr(&ast, &mut Cx::new(&empty, "DEFAULT"))?;
                self.assignable(x, def.data_type, &def.name)
            }
        }
    }

    fn target_table(&mut self, name: &ast::ObjectName) -> Result<Arc<TableDef>> {
        let name = name_ref(name)?;
        match self.find_relation(&name)? {
            Some(Relation::Table(table)) => Ok(table),
            Some(Relation::View(_)) => Err(Error::new(
                SqlState::FeatureNotSupported,
                format!("cannot change rows of view \"{name}\": views are read-only"),
            )),
            None => Err(no_relation(&name)),
        }
    }

    /// Binds INSERT.
    pub fn insert(&mut self, insert: &ast::Insert) -> Result<Plan> {
        if insert.or.is_some()
            || insert.ignore
            || insert.overwrite
            || insert.partitioned.is_some()
            || !insert.after_columns.is_empty()
            || insert.on.is_some()
            || !insert.assignments.is_empty()
            || insert.replace_into
        {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "INSERT with ON CONFLICT or non-standard clauses is not supported yet",
            ));
        }
        let table = match &insert.table {
            ast::TableObject::TableName(name) => self.target_table(name)?,
            other => {
                return Err(Error::new(
                    SqlState::FeatureNotSupported,
                    format!("INSERT into {other} is not supported"),
                ));
            }
        };
        self.require_on_table(&table, Privileges::INSERT);
        let explicit_columns = !insert.columns.is_empty();
        let mut targets = Vec::with_capacity(insert.columns.len());
        for name in &insert.columns {
            let name = object_name(name)?;
            let i = table.column_index(&name).ok_or_else(|| {
                Error::new(
                    SqlState::UndefinedColumn,
                    format!("column \"{name}\" of relation \"{}\" does not exist", table.name),
                )
            })?;
            if targets.contains(&i) {
                return Err(Error::new(
                    SqlState::DuplicateColumn,
                    format!("column \"{name}\" specified more than once"),
                ));
            }
            targets.push(i);
        }
        let source = match &insert.source {
            None => Plan::Values { rows: vec![Vec::new()], columns: Vec::new() },
            Some(query) => match query.body.as_ref() {
                ast::SetExpr::Values(values)
                    if query.order_by.is_none() && query.limit_clause.is_none() && query.with.is_none() =>
                {
                    let width = values.rows.first().map_or(0, |r| r.content.len());
                    if !explicit_columns {
                        if width > table.columns.len() {
                            return Err(Error::new(
                                SqlState::SyntaxError,
                                "INSERT has more expressions than target columns",
                            ));
                        }
                        targets = (0..width).collect();
                    }
                    self.insert_values(&table, &targets, values)?
                }
                _ => {
                    let plan = self.query(query)?;
                    let columns: Vec<OutputColumn> =
                        plan.columns().into_iter().filter(|c| !c.hidden).collect();
                    if !explicit_columns {
                        if columns.len() > table.columns.len() {
                            return Err(Error::new(
                                SqlState::SyntaxError,
                                "INSERT has more expressions than target columns",
                            ));
                        }
                        targets = (0..columns.len()).collect();
                    }
                    check_width(columns.len(), targets.len())?;
                    for (c, &t) in columns.iter().zip(&targets) {
                        let target = &table.columns[t];
                        let ok = c.data_type == target.data_type
                            || c.data_type == crate::types::DataType::Null
                            || (c.data_type.is_numeric() && target.data_type.is_numeric())
                            || target.data_type.is_string();
                        if !ok {
                            return Err(Error::new(
                                SqlState::DatatypeMismatch,
                                format!(
                                    "column \"{}\" is of type {} but expression is of type {}",
                                    target.name, target.data_type, c.data_type
                                ),
                            ));
                        }
                    }
                    plan
                }
            },
        };
        if insert.overriding.is_none() {
            check_identity_targets(&table, &targets, insert.source.as_deref())?;
        } else if insert.overriding == Some(ast::InsertOverriding::User) {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "OVERRIDING USER VALUE is not supported yet",
            ));
        }
        let mut defaults = Vec::new();
        for i in 0..table.columns.len() {
            if !targets.contains(&i) {
                defaults.push((i, self.column_default(&table, i)?));
            }
        }
        Ok(Plan::Insert { table, source: source.boxed(), targets, defaults })
    }

    fn insert_values(
        &mut self,
        table: &Arc<TableDef>,
        targets: &[usize],
        values: &ast::Values,
    ) -> Result<Plan> {
        let empty = Scope::default();
        let mut rows = Vec::with_capacity(values.rows.len());
        for row in &values.rows {
            check_width(row.content.len(), targets.len())?;
            let mut bound = Vec::with_capacity(row.content.len());
            for (e, &t) in row.content.iter().zip(targets) {
                if is_default_keyword(e) {
                    bound.push(self.column_default(table, t)?);
                    continue;
                }
                let x = self.expr(e, &mut Cx::new(&empty, "VALUES"))?;
                let column = &table.columns[t];
                bound.push(self.assignable(x, column.data_type, &column.name)?);
            }
            rows.push(bound);
        }
        let columns = targets
            .iter()
            .map(|&t| OutputColumn {
                table: None,
                name: table.columns[t].name.clone(),
                data_type: table.columns[t].data_type,
                hidden: false,
            })
            .collect();
        Ok(Plan::Values { rows, columns })
    }

    /// Binds UPDATE.
    pub fn update(&mut self, update: &ast::Update) -> Result<Plan> {
        if update.from.is_some()
            || update.limit.is_some()
            || !update.order_by.is_empty()
            || update.or.is_some()
            || !update.table.joins.is_empty()
        {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "UPDATE with FROM, joins or non-standard clauses is not supported yet",
            ));
        }
        let (table, alias) = self.dml_target(&update.table.relation)?;
        let scan = Plan::Scan { table: table.clone(), alias, range: None, filter: None };
        let scope = Scope::new(scan.columns());
        let (source, recheck) = self.dml_source(scan, &scope, update.selection.as_ref())?;
        let mut assignments: Vec<(usize, Expr)> = Vec::with_capacity(update.assignments.len());
        for a in &update.assignments {
            let name = match &a.target {
                ast::AssignmentTarget::ColumnName(n) => {
                    n.0.last().and_then(|p| p.as_ident()).map(ident_name).ok_or_else(|| {
                        Error::new(SqlState::SyntaxError, format!("invalid column name {n}"))
                    })?
                }
                ast::AssignmentTarget::Tuple(_) => {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        "multi-column assignment is not supported yet",
                    ));
                }
            };
            let i = table.column_index(&name).ok_or_else(|| {
                Error::new(
                    SqlState::UndefinedColumn,
                    format!("column \"{name}\" of relation \"{}\" does not exist", table.name),
                )
            })?;
            // A column assigned twice takes the rightmost value, as SQLite and MySQL do
            // (PostgreSQL refuses; SQLite's test suite expects this of every engine).
            assignments.retain(|(c, _)| *c != i);
            let value = if is_default_keyword(&a.value) {
                self.column_default(&table, i)?
            } else if table.columns[i].identity == Some(Identity::Always) {
                return Err(Error::new(
                    SqlState::GeneratedAlways,
                    format!("column \"{name}\" can only be updated to DEFAULT"),
                )
                .with_detail(format!(
                    "Column \"{name}\" is an identity column defined as GENERATED ALWAYS."
                )));
            } else {
                let x = self.expr(&a.value, &mut Cx::new(&scope, "UPDATE"))?;
                let column = &table.columns[i];
                self.assignable(x, column.data_type, &column.name)?
            };
            assignments.push((i, value));
        }
        self.require_on_table(&table, Privileges::UPDATE);
        self.require_select_if_read(&table, recheck.iter().chain(assignments.iter().map(|(_, e)| e)));
        Ok(Plan::Update { table, source: source.boxed(), assignments, recheck })
    }

    /// Binds DELETE.
    pub fn delete(&mut self, delete: &ast::Delete) -> Result<Plan> {
        let from = match &delete.from {
            ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from) => from,
        };
        if !delete.tables.is_empty()
            || delete.using.is_some()
            || delete.limit.is_some()
            || !delete.order_by.is_empty()
            || from.len() != 1
            || !from[0].joins.is_empty()
        {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                "DELETE with USING, several tables or non-standard clauses is not supported yet",
            ));
        }
        let (table, alias) = self.dml_target(&from[0].relation)?;
        let scan = Plan::Scan { table: table.clone(), alias, range: None, filter: None };
        let scope = Scope::new(scan.columns());
        let (source, recheck) = self.dml_source(scan, &scope, delete.selection.as_ref())?;
        self.require_on_table(&table, Privileges::DELETE);
        self.require_select_if_read(&table, recheck.iter());
        Ok(Plan::Delete { table, source: source.boxed(), recheck })
    }

    fn dml_target(&mut self, relation: &ast::TableFactor) -> Result<(Arc<TableDef>, String)> {
        match relation {
            ast::TableFactor::Table { name, args: None, .. } => {
                let table = self.target_table(name)?;
                let alias = target_alias(relation).unwrap_or_else(|| table.name.clone());
                Ok((table, alias))
            }
            other => Err(Error::new(SqlState::FeatureNotSupported, format!("cannot modify {other}"))),
        }
    }

    /// The rows a DML statement changes, and its WHERE clause on its own.
    fn dml_source(
        &mut self,
        scan: Plan,
        scope: &Scope,
        selection: Option<&ast::Expr>,
    ) -> Result<(Plan, Option<Expr>)> {
        match selection {
            None => Ok((scan, None)),
            Some(w) => {
                if super::expr::contains_aggregate(w) {
                    return Err(Error::new(
                        SqlState::GroupingError,
                        "aggregate functions are not allowed in WHERE",
                    ));
                }
                let predicate = self.predicate(w, &mut Cx::new(scope, "WHERE"))?;
                Ok((Plan::Filter { input: scan.boxed(), predicate: predicate.clone() }, Some(predicate)))
            }
        }
    }
}

fn check_width(values: usize, targets: usize) -> Result<()> {
    if values > targets {
        return Err(Error::new(SqlState::SyntaxError, "INSERT has more expressions than target columns"));
    }
    if values < targets {
        return Err(Error::new(SqlState::SyntaxError, "INSERT has more target columns than expressions"));
    }
    Ok(())
}

/// The alias a DML statement gives its target table, if any.
pub(super) fn target_alias(relation: &ast::TableFactor) -> Option<String> {
    match relation {
        ast::TableFactor::Table { alias: Some(alias), .. } => Some(ident_name(&alias.name)),
        _ => None,
    }
}
