//! `CROSS JOIN LATERAL (SELECT expr, ...) AS alias (names)`: the one form of LATERAL
//! supported, a derived table without FROM whose select list reads the columns to its
//! left. It adds columns to each left row, so it binds as a projection over the left
//! side; no join is needed. (pgbench's partition probe uses it.) Other LATERAL forms
//! are refused.

use sqlparser::ast;

use super::expr::Cx;
use super::scope::Scope;
use super::{Binder, ident_name};
use crate::error::Result;
use crate::planner::{Expr, OutputColumn, Plan};
use crate::types::DataType;

impl Binder<'_> {
    /// `left CROSS JOIN LATERAL (SELECT ...)`, when the join has that form.
    pub(super) fn lateral_projection(&mut self, left: &Plan, join: &ast::Join) -> Result<Option<Plan>> {
        let ast::TableFactor::Derived { lateral: true, subquery, alias, sample: None } = &join.relation
        else {
            return Ok(None);
        };
        let cross = match &join.join_operator {
            ast::JoinOperator::CrossJoin(ast::JoinConstraint::None) => true,
            ast::JoinOperator::Join(ast::JoinConstraint::On(on))
            | ast::JoinOperator::Inner(ast::JoinConstraint::On(on)) => {
                matches!(on, ast::Expr::Value(v) if v.value == ast::Value::Boolean(true))
            }
            _ => false,
        };
        let ast::SetExpr::Select(select) = subquery.body.as_ref() else { return Ok(None) };
        let plain = cross
            && subquery.with.is_none()
            && subquery.order_by.is_none()
            && subquery.limit_clause.is_none()
            && select.from.is_empty()
            && select.selection.is_none()
            && select.having.is_none()
            && select.distinct.is_none()
            && matches!(&select.group_by, ast::GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
        if !plain {
            return Ok(None);
        }
        let columns = left.columns();
        let scope = Scope::new(columns.clone());
        let range = alias.as_ref().map(|a| ident_name(&a.name));
        let names: Vec<String> =
            alias.iter().flat_map(|a| a.columns.iter().map(|c| ident_name(&c.name))).collect();
        let mut exprs: Vec<Expr> = (0..columns.len()).map(Expr::Column).collect();
        let mut out = columns;
        for (i, item) in select.projection.iter().enumerate() {
            let (e, item_alias) = match item {
                ast::SelectItem::UnnamedExpr(e) => (e, None),
                ast::SelectItem::ExprWithAlias { expr, alias } => (expr, Some(ident_name(alias))),
                _ => return Ok(None),
            };
            let x = self.expr(e, &mut Cx::new(&scope, "LATERAL"))?;
            let (expr, ty) = if x.literal {
                (self.coerce(x, DataType::Text, "LATERAL")?, DataType::Text)
            } else {
                (x.expr, if x.ty == DataType::Null { DataType::Text } else { x.ty })
            };
            let name = names.get(i).cloned().or(item_alias).unwrap_or_else(|| "?column?".to_string());
            exprs.push(expr);
            out.push(OutputColumn { table: range.clone(), name, data_type: ty, hidden: false });
        }
        Ok(Some(Plan::Project { input: left.clone().boxed(), exprs, columns: out }))
    }
}
