//! Binding queries: FROM and joins, WHERE, GROUP BY and aggregates, the select list,
//! DISTINCT, ORDER BY, LIMIT and OFFSET, and VALUES.
//!
//! The plan is built in the order SQL defines a query's meaning, bottom up:
//!
//! ```text
//!   Limit <- Sort <- Distinct <- Project <- Filter(HAVING) <- Aggregate <- Filter(WHERE) <- FROM
//! ```
//!
//! ORDER BY may name an output column (by alias or position) or any expression over the
//! input; the latter is computed as a hidden extra column of the projection and stripped
//! after sorting.

use std::sync::Arc;

use sqlparser::ast::{self, SelectItem, SetExpr};

use super::expr::{AggState, Cx, Typed, common_type, contains_aggregate};
use super::names::{NameRef, name_ref, no_relation};
use super::scope::Scope;
use super::{Binder, Returning, ident_name, object_name};
use crate::catalog::acl::Privileges;
use crate::catalog::{Relation, TableDef, system};
use crate::error::{Error, Position, Result, SqlState};
use crate::planner::expr::{CmpOp, Expr, Function};
use crate::planner::plan::SetOpKind;
use crate::planner::{JoinKind, OutputColumn, Plan, SortKey};
use crate::privilege::Securable;
use crate::result::Column;
use crate::types::DataType;

/// A select-list entry after binding.
struct Projected {
    expr: Expr,
    column: OutputColumn,
}

/// A SELECT's bound outputs (see [`Binder::select_outputs`]).
struct SelectOutputs {
    agg: AggState,
    projected: Vec<Projected>,
    having: Option<Expr>,
    keys: Vec<SortKey>,
    extra: Vec<Expr>,
}

impl Binder<'_> {
    /// Binds a query (SELECT, VALUES, ...) with its ORDER BY, LIMIT and OFFSET.
    pub fn query(&mut self, q: &ast::Query) -> Result<Plan> {
        self.nested(1, |b| {
            // CTEs are visible in this query (and its subqueries) only.
            let mark = b.ctes.len();
            let result = b.with(q.with.as_ref()).and_then(|()| b.query_body(q));
            b.ctes.truncate(mark);
            result
        })
    }

    /// Binds `WITH` definitions in order, each seeing the ones before it.
    fn with(&mut self, with: Option<&ast::With>) -> Result<()> {
        let Some(with) = with else { return Ok(()) };
        for cte in &with.cte_tables {
            let name = ident_name(&cte.alias.name);
            let mark = self.depth.mark();
            let recursive = with.recursive && super::recursion::check(&name, &cte.query)?;
            let plan = match cte.query.body.as_ref() {
                SetExpr::SetOperation { left, op: ast::SetOperator::Union, set_quantifier, right }
                    if recursive =>
                {
                    let all = matches!(set_quantifier, ast::SetQuantifier::All);
                    self.recursive_cte(&name, &cte.alias.columns, left, right, all)?
                }
                _ => rename(self.query(&cte.query)?, Some(name.clone()), &cte.alias.columns)?,
            };
            let measured = self.depth.measured(mark);
            self.ctes.push((name, plan, measured));
        }
        Ok(())
    }

    /// `name AS (anchor UNION [ALL] step)`, where the step may read `name`: the rows the
    /// previous round added.
    fn recursive_cte(
        &mut self,
        name: &str,
        aliases: &[ast::TableAliasColumnDef],
        anchor: &SetExpr,
        step: &SetExpr,
        all: bool,
    ) -> Result<Plan> {
        let anchor = rename(self.set_expr(anchor)?, Some(name.to_string()), aliases)?;
        let columns: Vec<OutputColumn> = anchor.columns().into_iter().filter(|c| !c.hidden).collect();
        let id = self.next_work_table;
        self.next_work_table += 1;
        let work_table = Plan::WorkTable { id, columns: columns.clone() };
        self.ctes.push((name.to_string(), work_table, Default::default()));
        let step = self.set_expr(step);
        self.ctes.pop();
        let step = step?;
        let step_columns: Vec<OutputColumn> = step.columns().into_iter().filter(|c| !c.hidden).collect();
        if step_columns.len() != columns.len() {
            return Err(Error::new(
                SqlState::SyntaxError,
                format!(
                    "each UNION query of recursive query \"{name}\" must have the same number of columns"
                ),
            ));
        }
        let mut exprs = Vec::with_capacity(columns.len());
        for (i, (c, s)) in columns.iter().zip(&step_columns).enumerate() {
            // The anchor decides the types; the step's values must fit them.
            let fits = c.data_type == s.data_type
                || s.data_type == DataType::Null
                || common_type(c.data_type, s.data_type) == Some(c.data_type);
            if fits {
                exprs.push(Expr::Cast(Expr::Column(i).boxed(), c.data_type));
            } else {
                return Err(Error::new(
                    SqlState::DatatypeMismatch,
                    format!(
                        "recursive query \"{name}\" column {} has type {} in its non-recursive term but type {} overall",
                        i + 1,
                        c.data_type,
                        s.data_type
                    ),
                ));
            }
        }
        let step = Plan::Project { input: step.boxed(), exprs, columns: columns.clone() };
        let anchor_exprs = (0..columns.len()).map(Expr::Column).collect();
        let anchor = Plan::Project { input: anchor.boxed(), exprs: anchor_exprs, columns: columns.clone() };
        Ok(Plan::RecursiveCte { id, anchor: anchor.boxed(), step: step.boxed(), all, columns })
    }

    fn query_body(&mut self, q: &ast::Query) -> Result<Plan> {
        if q.fetch.is_some() || q.for_clause.is_some() {
            return Err(unsupported("FETCH and FOR clauses"));
        }
        self.row_lock = row_lock(&q.locks)?;
        if self.row_lock.is_some() && !matches!(q.body.as_ref(), SetExpr::Select(_)) {
            return Err(unsupported("FOR UPDATE / FOR SHARE outside a plain SELECT"));
        }
        let order_by: &[ast::OrderByExpr] = match &q.order_by {
            None => &[],
            Some(ast::OrderBy { kind: ast::OrderByKind::Expressions(keys), .. }) => keys,
            Some(_) => return Err(unsupported("ORDER BY ALL")),
        };
        let plan = match q.body.as_ref() {
            SetExpr::Select(select) => self.select(select, order_by)?,
            body => {
                let plan = self.set_expr(body)?;
                self.order_by_output(plan, order_by)?
            }
        };
        self.limit(plan, q.limit_clause.as_ref())
    }

    fn set_expr(&mut self, body: &SetExpr) -> Result<Plan> {
        self.nested(1, |b| b.set_expr_inner(body))
    }

    fn set_expr_inner(&mut self, body: &SetExpr) -> Result<Plan> {
        self.row_lock = None;
        match body {
            SetExpr::Select(select) => self.select(select, &[]),
            SetExpr::Query(q) => self.query(q),
            SetExpr::Values(values) => self.values(values),
            SetExpr::SetOperation { left, op, set_quantifier, right } => {
                self.set_operation(left, *op, *set_quantifier, right)
            }
            other => {
                Err(Error::new(SqlState::FeatureNotSupported, format!("query form not supported: {other}")))
            }
        }
    }

    /// UNION / INTERSECT / EXCEPT: both sides must have as many columns, of types with a
    /// common type (each side is cast to it); the result is named after the left side.
    fn set_operation(
        &mut self,
        left: &SetExpr,
        op: ast::SetOperator,
        quantifier: ast::SetQuantifier,
        right: &SetExpr,
    ) -> Result<Plan> {
        let op = match op {
            ast::SetOperator::Union => SetOpKind::Union,
            ast::SetOperator::Intersect => SetOpKind::Intersect,
            ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
        };
        let all = match quantifier {
            ast::SetQuantifier::All => true,
            ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
            _ => return Err(unsupported("UNION BY NAME")),
        };
        let left = self.set_expr(left)?;
        let right = self.set_expr(right)?;
        let visible = |p: &Plan| p.columns().into_iter().filter(|c| !c.hidden).collect::<Vec<_>>();
        let (lcols, rcols) = (visible(&left), visible(&right));
        if lcols.len() != rcols.len() {
            return Err(Error::new(
                SqlState::SyntaxError,
                format!("each {} query must have the same number of columns", op.keyword()),
            ));
        }
        let mut types = Vec::with_capacity(lcols.len());
        for (l, r) in lcols.iter().zip(&rcols) {
            let ty = common_type(l.data_type, r.data_type).ok_or_else(|| {
                Error::new(
                    SqlState::DatatypeMismatch,
                    format!("{} types {} and {} cannot be matched", op.keyword(), l.data_type, r.data_type),
                )
            })?;
            types.push(if ty == DataType::Null { DataType::Text } else { ty });
        }
        let columns: Vec<OutputColumn> = lcols
            .iter()
            .zip(&types)
            .map(|(c, ty)| OutputColumn { table: None, name: c.name.clone(), data_type: *ty, hidden: false })
            .collect();
        let conform = |plan: Plan, cols: &[OutputColumn]| {
            let exprs = cols
                .iter()
                .enumerate()
                .zip(&types)
                .map(|((i, c), ty)| {
                    if c.data_type == *ty {
                        Expr::Column(i)
                    } else {
                        Expr::Cast(Expr::Column(i).boxed(), *ty)
                    }
                })
                .collect();
            Plan::Project { input: plan.boxed(), exprs, columns: columns.clone() }
        };
        let left = conform(left, &lcols);
        let right = conform(right, &rcols);
        Ok(Plan::SetOp { op, all, left: left.boxed(), right: right.boxed(), columns })
    }

    fn limit(&mut self, plan: Plan, clause: Option<&ast::LimitClause>) -> Result<Plan> {
        let (limit, offset) = match clause {
            None => return Ok(plan),
            Some(ast::LimitClause::LimitOffset { limit, offset, limit_by }) => {
                if !limit_by.is_empty() {
                    return Err(unsupported("LIMIT BY"));
                }
                (limit.as_ref(), offset.as_ref().map(|o| &o.value))
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => (Some(limit), Some(offset)),
        };
        let empty = Scope::default();
        let bind = |b: &mut Self, e: Option<&ast::Expr>, what: &'static str| -> Result<Option<Expr>> {
            match e {
                None => Ok(None),
                Some(e) => {
                    let x = b.expr(e, &mut Cx::new(&empty, what))?;
                    if x.ty == DataType::Null {
                        return Ok(None); // LIMIT NULL is LIMIT ALL
                    }
                    Ok(Some(b.coerce(x, DataType::BigInt, what)?))
                }
            }
        };
        let limit = bind(self, limit, "LIMIT")?;
        let offset = bind(self, offset, "OFFSET")?;
        Ok(Plan::Limit { input: plan.boxed(), limit, offset })
    }

    /// ORDER BY over a body that is not a plain SELECT: only output columns may be named.
    fn order_by_output(&mut self, plan: Plan, order_by: &[ast::OrderByExpr]) -> Result<Plan> {
        if order_by.is_empty() {
            return Ok(plan);
        }
        let columns = plan.columns();
        let mut keys = Vec::with_capacity(order_by.len());
        for key in order_by {
            let position = output_position(&key.expr, &columns)?.ok_or_else(|| {
                Error::new(
                    SqlState::FeatureNotSupported,
                    "ORDER BY here must name an output column by name or position",
                )
            })?;
            keys.push(sort_key(Expr::Column(position), &key.options)?);
        }
        Ok(Plan::Sort { input: plan.boxed(), keys })
    }

    fn select(&mut self, s: &ast::Select, order_by: &[ast::OrderByExpr]) -> Result<Plan> {
        if s.top.is_some()
            || s.into.is_some()
            || !s.lateral_views.is_empty()
            || s.prewhere.is_some()
            || !s.connect_by.is_empty()
            || !s.cluster_by.is_empty()
            || !s.distribute_by.is_empty()
            || !s.sort_by.is_empty()
            || s.qualify.is_some()
            || !s.named_window.is_empty()
        {
            return Err(Error::new(SqlState::FeatureNotSupported, "SELECT clause not supported"));
        }
        let distinct = match &s.distinct {
            None | Some(ast::Distinct::All) => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => return Err(unsupported("SELECT DISTINCT ON")),
        };
        let row_lock = self.row_lock.take();
        let mut plan = self.from(&s.from)?;
        let locked_table = match (&plan, row_lock) {
            (Plan::Scan { table, .. }, Some(_)) => {
                // Locking rows is as good as changing them: UPDATE, as in PostgreSQL.
                self.require_on_table(table, Privileges::UPDATE);
                Some(table.clone())
            }
            (_, Some(_)) => return Err(unsupported("FOR UPDATE / FOR SHARE of anything but one table")),
            _ => None,
        };
        let scope = Scope::new(plan.columns());
        let mut recheck = None;
        if let Some(w) = &s.selection {
            if contains_aggregate(w) {
                return Err(Error::new(
                    SqlState::GroupingError,
                    "aggregate functions are not allowed in WHERE",
                ));
            }
            let predicate = self.predicate(w, &mut Cx::new(&scope, "WHERE"))?;
            recheck = Some(predicate.clone());
            plan = Plan::Filter { input: plan.boxed(), predicate };
        }
        if let (Some(table), Some(mode)) = (locked_table, row_lock) {
            let grouped = s.having.is_some()
                || !matches!(&s.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty())
                || s.projection.iter().any(|item| match item {
                    ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                        contains_aggregate(e)
                    }
                    _ => false,
                });
            if grouped || distinct {
                return Err(Error::new(
                    SqlState::FeatureNotSupported,
                    "FOR UPDATE is not allowed with DISTINCT, GROUP BY, HAVING or aggregate functions",
                ));
            }
            plan = Plan::LockRows { input: plan.boxed(), table, mode, recheck };
        }
        let group_by: Vec<ast::Expr> = match &s.group_by {
            ast::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs.clone(),
            _ => return Err(unsupported("GROUP BY ALL and GROUP BY modifiers")),
        };
        let mut aggregating = !group_by.is_empty()
            || s.having.is_some()
            || s.projection.iter().any(|item| match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    contains_aggregate(e)
                }
                _ => false,
            })
            || order_by.iter().any(|k| contains_aggregate(&k.expr));

        // Aggregates can come from subqueries too (`SELECT (SELECT max(a)) FROM t`), and
        // an inner SELECT whose only aggregates belong to this one aggregates nothing
        // itself: either is known only once bound, so the outputs are bound again the
        // other way when that happens (once each way at most).
        let marks = self.hoist_marks();
        let mut tried = [false; 2];
        let SelectOutputs { agg, projected, having, keys, extra } = loop {
            tried[usize::from(aggregating)] = true;
            self.hoist_signal = false;
            let hoisted_before = marks.1;
            match self.select_outputs(s, order_by, &scope, &group_by, aggregating, distinct) {
                Err(_) if self.hoist_signal && !aggregating && !tried[1] => {
                    self.hoist_signal = false;
                    self.rewind_hoists(marks);
                    aggregating = true;
                }
                Err(e) => return Err(e),
                Ok(out) => {
                    let only_hoisted = aggregating
                        && out.agg.aggregates.is_empty()
                        && group_by.is_empty()
                        && s.having.is_none()
                        && self.hoisted.last().is_some_and(|h| h.len() > hoisted_before);
                    if only_hoisted && !tried[0] {
                        self.rewind_hoists(marks);
                        aggregating = false;
                        continue;
                    }
                    break out;
                }
            }
        };

        if aggregating {
            let mut columns: Vec<OutputColumn> = agg
                .group_types
                .iter()
                .enumerate()
                .map(|(i, ty)| hidden_column(format!("group{i}"), *ty))
                .collect();
            columns.extend(
                agg.aggregates.iter().map(|a| hidden_column(a.function.name().to_string(), a.data_type)),
            );
            plan = Plan::Aggregate {
                input: plan.boxed(),
                group_by: agg.group_by,
                aggregates: agg.aggregates,
                columns,
            };
            if let Some(predicate) = having {
                plan = Plan::Filter { input: plan.boxed(), predicate };
            }
        }

        let visible_width = projected.len();
        let mut exprs: Vec<Expr> = Vec::with_capacity(visible_width + extra.len());
        let mut columns = Vec::with_capacity(visible_width + extra.len());
        for p in projected {
            exprs.push(p.expr);
            columns.push(p.column);
        }
        for (i, e) in extra.into_iter().enumerate() {
            exprs.push(e);
            columns.push(hidden_column(format!("sort{i}"), DataType::Null));
        }
        let has_extra = columns.len() > visible_width;
        plan = Plan::Project { input: plan.boxed(), exprs, columns };
        if distinct {
            plan = Plan::Distinct { input: plan.boxed() };
        }
        if !keys.is_empty() {
            plan = Plan::Sort { input: plan.boxed(), keys };
        }
        if has_extra {
            let columns: Vec<OutputColumn> = plan.columns().into_iter().take(visible_width).collect();
            let exprs = (0..visible_width).map(Expr::Column).collect();
            plan = Plan::Project { input: plan.boxed(), exprs, columns };
        }
        Ok(plan)
    }

    /// A SELECT's outputs: GROUP BY, the select list, HAVING and ORDER BY, bound over
    /// `scope` (the FROM clause after WHERE), in aggregate mode when `aggregating`.
    fn select_outputs(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
        scope: &Scope,
        group_by: &[ast::Expr],
        aggregating: bool,
        distinct: bool,
    ) -> Result<SelectOutputs> {
        let empty = Scope::default();
        let mut agg = AggState { input: scope.clone(), ..AggState::default() };
        if aggregating {
            for g in group_by {
                let g = group_by_target(g, &s.projection, scope)?;
                if contains_aggregate(g) {
                    return Err(Error::new(
                        SqlState::GroupingError,
                        "aggregate functions are not allowed in GROUP BY",
                    ));
                }
                let x = self.expr(g, &mut Cx::new(scope, "GROUP BY"))?;
                let ty = if x.literal { DataType::Text } else { x.ty };
                agg.group_by.push(x.expr);
                agg.group_types.push(ty);
            }
        }

        // The select list, bound against the FROM scope or in aggregate mode.
        let mut projected = Vec::new();
        for item in &s.projection {
            let mut cx = if aggregating {
                Cx { scope: &empty, agg: Some(&mut agg), clause: "SELECT" }
            } else {
                Cx::new(scope, "SELECT")
            };
            self.select_item(item, &mut cx, scope, &mut projected)?;
        }
        let having = match &s.having {
            Some(h) => {
                let mut cx = Cx { scope: &empty, agg: Some(&mut agg), clause: "HAVING" };
                Some(self.predicate(h, &mut cx)?)
            }
            None => None,
        };

        // ORDER BY: output columns by position or name, else expressions over the input.
        let visible: Vec<OutputColumn> = projected.iter().map(|p| p.column.clone()).collect();
        let mut keys = Vec::with_capacity(order_by.len());
        let mut extra = Vec::new();
        for key in order_by {
            if let Some(position) = output_position(&key.expr, &visible)? {
                keys.push(sort_key(Expr::Column(position), &key.options)?);
                continue;
            }
            let mut cx = if aggregating {
                Cx { scope: &empty, agg: Some(&mut agg), clause: "ORDER BY" }
            } else {
                Cx::new(scope, "ORDER BY")
            };
            let x = self.expr(&key.expr, &mut cx)?;
            let position = match projected.iter().position(|p| p.expr == x.expr) {
                Some(p) => p,
                None if distinct => {
                    return Err(Error::new(
                        SqlState::InvalidColumnReference,
                        "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                    ));
                }
                None => {
                    extra.push(x.expr);
                    projected.len() + extra.len() - 1
                }
            };
            keys.push(sort_key(Expr::Column(position), &key.options)?);
        }

        Ok(SelectOutputs { agg, projected, having, keys, extra })
    }

    /// Where the enclosing level's captures and hoisted aggregates stand, to go back to.
    fn hoist_marks(&self) -> (usize, usize) {
        (self.captures.last().map_or(0, Vec::len), self.hoisted.last().map_or(0, Vec::len))
    }

    /// Forgets what a discarded binding attempt captured and hoisted.
    fn rewind_hoists(&mut self, (captures, hoisted): (usize, usize)) {
        if let Some(c) = self.captures.last_mut() {
            c.truncate(captures);
        }
        if let Some(h) = self.hoisted.last_mut() {
            h.truncate(hoisted);
        }
    }

    fn select_item(
        &mut self,
        item: &SelectItem,
        cx: &mut Cx<'_>,
        scope: &Scope,
        out: &mut Vec<Projected>,
    ) -> Result<()> {
        let (e, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(ident_name(alias))),
            SelectItem::Wildcard(options) | SelectItem::QualifiedWildcard(_, options) => {
                if options.opt_exclude.is_some()
                    || options.opt_except.is_some()
                    || options.opt_replace.is_some()
                    || options.opt_rename.is_some()
                    || options.opt_ilike.is_some()
                {
                    return Err(unsupported("wildcard options"));
                }
                let table = match item {
                    SelectItem::QualifiedWildcard(ast::SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                        Some(name_ref(n)?.name)
                    }
                    SelectItem::QualifiedWildcard(..) => return Err(unsupported("this wildcard")),
                    _ => None,
                };
                let positions = scope.wildcard(table.as_deref())?;
                if positions.is_empty() && table.is_none() && scope.is_empty() {
                    return Err(Error::new(
                        SqlState::SyntaxError,
                        "SELECT * with no tables specified is not valid",
                    ));
                }
                for i in positions {
                    let column = scope.columns[i].clone();
                    let expr = match cx.agg.as_deref() {
                        None => Expr::Column(i),
                        Some(agg) => match agg.group_by.iter().position(|g| *g == Expr::Column(i)) {
                            Some(g) => Expr::Column(g),
                            None => {
                                return Err(Error::new(
                                    SqlState::GroupingError,
                                    format!(
                                        "column \"{}.{}\" must appear in the GROUP BY clause or be used in an aggregate function",
                                        column.table.as_deref().unwrap_or(""),
                                        column.name
                                    ),
                                ));
                            }
                        },
                    };
                    out.push(Projected { expr, column: OutputColumn { hidden: false, ..column } });
                }
                return Ok(());
            }
            SelectItem::ExprWithAliases { .. } => return Err(unsupported("multiple aliases")),
        };
        let x = match self.pg_select_item(e, cx)? {
            Some(x) => x,
            None => self.expr(e, cx)?,
        };
        let (expr, ty) = if x.literal {
            (self.coerce(x, DataType::Text, "SELECT")?, DataType::Text)
        } else {
            (x.expr, if x.ty == DataType::Null { DataType::Text } else { x.ty })
        };
        let name = alias.unwrap_or_else(|| column_name(e));
        out.push(Projected {
            expr,
            column: OutputColumn { table: None, name, data_type: ty, hidden: false },
        });
        Ok(())
    }

    /// `RETURNING items` of an INSERT into `table` (named `alias` if the INSERT gives
    /// one): expressions over the row as stored (every column, defaults filled in), bound
    /// like a select list over the table.
    pub fn returning(
        &mut self,
        table: Arc<TableDef>,
        alias: Option<String>,
        items: &[SelectItem],
    ) -> Result<Returning> {
        let alias = alias.unwrap_or_else(|| table.name.clone());
        let scan = Plan::Scan { alias, table, range: None, filter: None };
        let scope = Scope::new(scan.columns());
        let mut cx = Cx::new(&scope, "RETURNING");
        let mut projected = Vec::with_capacity(items.len());
        for item in items {
            self.select_item(item, &mut cx, &scope, &mut projected)?;
        }
        let columns = projected
            .iter()
            .map(|p| Column { name: p.column.name.clone(), data_type: p.column.data_type })
            .collect();
        Ok(Returning { exprs: projected.into_iter().map(|p| p.expr).collect(), columns })
    }

    /// Binds a VALUES list: every row the same width, each column one type.
    pub fn values(&mut self, values: &ast::Values) -> Result<Plan> {
        let width = values.rows.first().map_or(0, |r| r.content.len());
        let empty = Scope::default();
        let mut typed_rows: Vec<Vec<Typed>> = Vec::with_capacity(values.rows.len());
        for row in &values.rows {
            if row.content.len() != width {
                return Err(Error::new(SqlState::SyntaxError, "VALUES lists must all be the same length"));
            }
            let mut typed = Vec::with_capacity(width);
            for e in &row.content {
                typed.push(self.expr(e, &mut Cx::new(&empty, "VALUES"))?);
            }
            typed_rows.push(typed);
        }
        let mut types = Vec::with_capacity(width);
        for c in 0..width {
            let column: Vec<&Typed> = typed_rows.iter().map(|r| &r[c]).collect();
            let ty = self.result_type(&column, "VALUES")?;
            types.push(if ty == DataType::Null { DataType::Text } else { ty });
        }
        let mut rows = Vec::with_capacity(typed_rows.len());
        for typed in typed_rows {
            let mut row = Vec::with_capacity(width);
            for (c, t) in typed.into_iter().enumerate() {
                row.push(self.coerce(t, types[c], "VALUES")?);
            }
            rows.push(row);
        }
        let columns = types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| OutputColumn {
                table: None,
                name: format!("column{}", i + 1),
                data_type: ty,
                hidden: false,
            })
            .collect();
        Ok(Plan::Values { rows, columns })
    }

    fn from(&mut self, from: &[ast::TableWithJoins]) -> Result<Plan> {
        // The items become a chain of joins as deep as the list is long, each item below
        // all of them (see crate::depth): the levels count before any item is bound.
        self.nested(from.len().saturating_sub(1), |b| {
            let mut plan: Option<Plan> = None;
            for item in from {
                let right = b.table_with_joins(item)?;
                plan = Some(match plan {
                    None => right,
                    Some(left) => b.cross(left, right)?,
                });
            }
            Ok(plan.unwrap_or(Plan::Values { rows: vec![Vec::new()], columns: Vec::new() }))
        })
    }

    fn cross(&mut self, left: Plan, right: Plan) -> Result<Plan> {
        check_duplicate_aliases(&left, &right)?;
        Ok(Plan::NestedLoopJoin { left: left.boxed(), right: right.boxed(), kind: JoinKind::Inner, on: None })
    }

    fn table_with_joins(&mut self, item: &ast::TableWithJoins) -> Result<Plan> {
        // A chain of joins, counted before its tables are bound, as in `from`.
        self.nested(item.joins.len(), |b| {
            let mut plan = b.table_factor(&item.relation)?;
            for join in &item.joins {
                if let Some(projected) = b.lateral_projection(&plan, join)? {
                    plan = projected;
                    continue;
                }
                let right = b.table_factor(&join.relation)?;
                plan = b.join(plan, right, &join.join_operator)?;
            }
            Ok(plan)
        })
    }

    fn table_factor(&mut self, factor: &ast::TableFactor) -> Result<Plan> {
        self.nested(1, |b| b.table_factor_inner(factor))
    }

    fn table_factor_inner(&mut self, factor: &ast::TableFactor) -> Result<Plan> {
        match factor {
            ast::TableFactor::Table {
                name,
                alias,
                args: None,
                with_hints,
                version: None,
                partitions,
                sample: None,
                ..
            } if with_hints.is_empty() && partitions.is_empty() => {
                let name_ref = name_ref(name)?;
                let alias_name =
                    alias.as_ref().map_or_else(|| name_ref.name.clone(), |a| ident_name(&a.name));
                let alias_columns = alias.as_ref().map_or(&[][..], |a| &a.columns[..]);
                if name_ref.schema.is_none()
                    && let Some((_, plan, measured)) =
                        self.ctes.iter().rev().find(|(n, ..)| *n == name_ref.name)
                {
                    let plan = plan.clone();
                    self.depth.copy(*measured)?;
                    return rename(plan, Some(alias_name), alias_columns);
                }
                let found = self.find_relation(&name_ref)?;
                if let Some(relation) = &found {
                    self.require_select(relation);
                }
                match found {
                    Some(Relation::Table(table)) => {
                        self.record_use(table.qualified());
                        let plan = Plan::Scan { table, alias: alias_name.clone(), range: None, filter: None };
                        if alias_columns.is_empty() {
                            return Ok(plan);
                        }
                        return rename(plan, Some(alias_name), alias_columns);
                    }
                    Some(Relation::View(view)) => {
                        self.record_use(view.qualified());
                        let plan = self.view_plan(&view)?;
                        if alias_columns.is_empty() {
                            return rename(plan, Some(alias_name), &quoted(&view.columns));
                        }
                        return rename(plan, Some(alias_name), alias_columns);
                    }
                    None => {}
                }
                if let Some(store) = self.store
                    && let Some(view) = system_view(&name_ref, self.catalog, store, self.txn, self.settings)?
                {
                    if system::superuser_only(&name_ref.name) {
                        self.require_privilege(Securable::system_table(&name_ref.name), Privileges::SELECT);
                    }
                    let plan = system_view_plan(view, &alias_name);
                    if alias_columns.is_empty() {
                        return Ok(plan);
                    }
                    return rename(plan, Some(alias_name), alias_columns);
                }
                let mut e = no_relation(&name_ref);
                if let Some(span) = name.0.first().and_then(|p| p.as_ident()).map(|i| i.span)
                    && span.start.line > 0
                {
                    e.position = Some(Position { line: span.start.line, column: span.start.column });
                }
                Err(e)
            }
            ast::TableFactor::Table { name, alias, args: Some(args), with_ordinality, .. } => {
                self.table_function(name, args, alias.as_ref(), *with_ordinality)
            }
            ast::TableFactor::Derived { lateral: false, subquery, alias, sample: None } => {
                let plan = self.query(subquery)?;
                match alias {
                    Some(a) => rename(plan, Some(ident_name(&a.name)), &a.columns),
                    None => rename(plan, None, &[]),
                }
            }
            ast::TableFactor::NestedJoin { table_with_joins, alias } => {
                let plan = self.table_with_joins(table_with_joins)?;
                match alias {
                    Some(a) => rename(plan, Some(ident_name(&a.name)), &a.columns),
                    None => Ok(plan),
                }
            }
            other => {
                Err(Error::new(SqlState::FeatureNotSupported, format!("FROM item not supported: {other}")))
            }
        }
    }

    fn join(&mut self, left: Plan, right: Plan, op: &ast::JoinOperator) -> Result<Plan> {
        use ast::JoinOperator as J;
        let (kind, constraint) = match op {
            J::Join(c) | J::Inner(c) => (JoinKind::Inner, c),
            J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, c),
            J::Right(c) | J::RightOuter(c) => (JoinKind::Right, c),
            J::FullOuter(c) => (JoinKind::Full, c),
            J::CrossJoin(ast::JoinConstraint::None) => return self.cross(left, right),
            other => {
                return Err(Error::new(
                    SqlState::FeatureNotSupported,
                    format!("join not supported: {other:?}"),
                ));
            }
        };
        check_duplicate_aliases(&left, &right)?;
        let left_columns = left.columns();
        let right_columns = right.columns();
        let mut all = left_columns.clone();
        all.extend(right_columns.iter().cloned());
        let scope = Scope::new(all);
        let using: Vec<String> = match constraint {
            ast::JoinConstraint::On(e) => {
                let on = self.predicate(e, &mut Cx::new(&scope, "JOIN/ON"))?;
                return Ok(Plan::NestedLoopJoin {
                    left: left.boxed(),
                    right: right.boxed(),
                    kind,
                    on: Some(on),
                });
            }
            ast::JoinConstraint::Using(names) => names.iter().map(object_name).collect::<Result<_>>()?,
            ast::JoinConstraint::Natural => left_columns
                .iter()
                .filter(|l| !l.hidden && right_columns.iter().any(|r| !r.hidden && r.name == l.name))
                .map(|l| l.name.clone())
                .collect(),
            _ => {
                return Err(Error::new(
                    SqlState::SyntaxError,
                    "JOIN requires an ON, USING or NATURAL condition",
                ));
            }
        };
        // USING and NATURAL: equality on the named columns, which then appear once.
        let left_width = left_columns.len();
        let (left_scope, right_scope) = (Scope::new(left_columns.clone()), Scope::new(right_columns.clone()));
        let mut conditions = Vec::new();
        let mut merged = Vec::new();
        let mut hidden = Vec::new();
        for name in &using {
            let l = left_scope.resolve(None, name).map_err(|_| {
                Error::new(
                    SqlState::UndefinedColumn,
                    format!("column \"{name}\" specified in USING clause does not exist in left table"),
                )
            })?;
            let r = right_scope.resolve(None, name).map_err(|_| {
                Error::new(
                    SqlState::UndefinedColumn,
                    format!("column \"{name}\" specified in USING clause does not exist in right table"),
                )
            })?;
            let (lt, rt) = (left_columns[l].data_type, right_columns[r].data_type);
            let ty = super::expr::common_type(lt, rt).ok_or_else(|| {
                Error::new(
                    SqlState::DatatypeMismatch,
                    format!("JOIN/USING types {lt} and {rt} cannot be matched"),
                )
            })?;
            conditions.push(Expr::Compare(
                CmpOp::Eq,
                Expr::Column(l).boxed(),
                Expr::Column(left_width + r).boxed(),
            ));
            let value = match kind {
                JoinKind::Inner | JoinKind::Left => Expr::Column(l),
                JoinKind::Right => Expr::Column(left_width + r),
                JoinKind::Full => {
                    Expr::Call(Function::Coalesce, vec![Expr::Column(l), Expr::Column(left_width + r)], ty)
                }
            };
            merged.push((
                value,
                OutputColumn { table: None, name: name.clone(), data_type: ty, hidden: false },
            ));
            hidden.push(l);
            hidden.push(left_width + r);
        }
        let on = Expr::conjunction(conditions);
        let join = Plan::NestedLoopJoin { left: left.boxed(), right: right.boxed(), kind, on };
        let mut exprs = Vec::new();
        let mut columns = Vec::new();
        for (e, c) in merged {
            exprs.push(e);
            columns.push(c);
        }
        for (i, mut c) in scope.columns.into_iter().enumerate() {
            c.hidden = c.hidden || hidden.contains(&i);
            exprs.push(Expr::Column(i));
            columns.push(c);
        }
        Ok(Plan::Project { input: join.boxed(), exprs, columns })
    }
}

fn unsupported(what: &str) -> Error {
    Error::new(SqlState::FeatureNotSupported, format!("{what} are not supported yet"))
}

fn hidden_column(name: String, data_type: DataType) -> OutputColumn {
    OutputColumn { table: None, name, data_type, hidden: true }
}

fn sort_key(expr: Expr, options: &ast::OrderByOptions) -> Result<SortKey> {
    let descending = match &options.sort {
        None | Some(ast::OrderBySort::Asc) => false,
        Some(ast::OrderBySort::Desc) => true,
        // `USING <` is ASC and `USING >` is DESC (NULLs placed accordingly), as in
        // PostgreSQL, where those are the ordering operators of every sortable type here.
        Some(ast::OrderBySort::Using(op)) => match op.0.last().map(ToString::to_string).as_deref() {
            Some("<") if op.0.len() == 1 || is_pg_catalog(op) => false,
            Some(">") if op.0.len() == 1 || is_pg_catalog(op) => true,
            _ => {
                return Err(Error::new(
                    SqlState::WrongObjectType,
                    format!("operator {op} is not a valid ordering operator"),
                )
                .with_hint("Ordering operators must be \"<\" or \">\" members of btree operator families."));
            }
        },
    };
    // PostgreSQL: NULLs sort as if larger than every value.
    let nulls_first = options.nulls_first.unwrap_or(descending);
    Ok(SortKey { expr, descending, nulls_first })
}

/// True for `OPERATOR(pg_catalog.op)`.
fn is_pg_catalog(op: &ast::ObjectName) -> bool {
    op.0.len() == 2 && op.0[0].to_string().eq_ignore_ascii_case("pg_catalog")
}

/// The output column an ORDER BY key names by position (`ORDER BY 2`) or by a bare name
/// matching an output column.
fn output_position(e: &ast::Expr, columns: &[OutputColumn]) -> Result<Option<usize>> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => {
                let position: usize = n.parse().unwrap_or(0);
                if position == 0 || position > columns.iter().filter(|c| !c.hidden).count() {
                    return Err(Error::new(
                        SqlState::InvalidColumnReference,
                        format!("ORDER BY position {n} is not in select list"),
                    ));
                }
                Ok(Some(position - 1))
            }
            _ => Ok(None),
        },
        ast::Expr::Identifier(ident) => {
            let name = ident_name(ident);
            Ok(columns.iter().position(|c| !c.hidden && c.name == name))
        }
        _ => Ok(None),
    }
}

/// A GROUP BY item may name a select-list entry by position or by alias.
fn group_by_target<'e>(
    g: &'e ast::Expr,
    projection: &'e [SelectItem],
    scope: &Scope,
) -> Result<&'e ast::Expr> {
    let item_expr = |item: &'e SelectItem| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    };
    match g {
        ast::Expr::Value(v) => {
            if let ast::Value::Number(n, _) = &v.value {
                let position: usize = n.parse().unwrap_or(0);
                return projection.get(position.wrapping_sub(1)).and_then(item_expr).ok_or_else(|| {
                    Error::new(
                        SqlState::InvalidColumnReference,
                        format!("GROUP BY position {n} is not in select list"),
                    )
                });
            }
            Ok(g)
        }
        ast::Expr::Identifier(ident) => {
            let name = ident_name(ident);
            // An input column wins over an output alias, as in PostgreSQL.
            if scope.resolve(None, &name).is_ok() {
                return Ok(g);
            }
            for item in projection {
                if let SelectItem::ExprWithAlias { expr, alias } = item
                    && ident_name(alias) == name
                {
                    return Ok(expr);
                }
            }
            Ok(g)
        }
        _ => Ok(g),
    }
}

/// The name PostgreSQL gives an unaliased select-list expression.
fn column_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(i) => ident_name(i),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        ast::Expr::Nested(inner) => column_name(inner),
        ast::Expr::Cast { expr, data_type, .. } => match column_name(expr).as_str() {
            "?column?" => cast_type_name(data_type),
            name => name.to_string(),
        },
        ast::Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(ident_name)
            .unwrap_or_else(|| "?column?".to_string()),
        ast::Expr::TypedString(ts) => cast_type_name(&ts.data_type),
        ast::Expr::Interval(_) => "interval".to_string(),
        ast::Expr::Extract { .. } => "extract".to_string(),
        ast::Expr::Exists { .. } => "exists".to_string(),
        ast::Expr::Array(_) => "array".to_string(),
        ast::Expr::Tuple(_) => "row".to_string(),
        // A scalar subquery is named after its one column, as in PostgreSQL.
        ast::Expr::Subquery(q) => match q.body.as_ref() {
            SetExpr::Select(select) => match select.projection.as_slice() {
                [SelectItem::ExprWithAlias { alias, .. }] => ident_name(alias),
                [SelectItem::UnnamedExpr(e)] => column_name(e),
                _ => "?column?".to_string(),
            },
            _ => "?column?".to_string(),
        },
        ast::Expr::Case { .. } => "case".to_string(),
        ast::Expr::Substring { .. } => "substring".to_string(),
        ast::Expr::Trim { .. } => "btrim".to_string(),
        ast::Expr::Position { .. } => "position".to_string(),
        ast::Expr::Ceil { .. } => "ceil".to_string(),
        ast::Expr::Floor { .. } => "floor".to_string(),
        ast::Expr::Value(v) if matches!(v.value, ast::Value::Boolean(_)) => "bool".to_string(),
        _ => "?column?".to_string(),
    }
}

fn cast_type_name(t: &ast::DataType) -> String {
    use ast::DataType as T;
    match t {
        T::Int(_) | T::Integer(_) | T::Int4(_) => "int4",
        T::SmallInt(_) | T::Int2(_) => "int2",
        T::BigInt(_) | T::Int8(_) => "int8",
        T::Real | T::Float4 => "float4",
        T::Double(_) | T::DoublePrecision | T::Float8 => "float8",
        T::Numeric(_) | T::Decimal(_) | T::Dec(_) => "numeric",
        T::Boolean | T::Bool => "bool",
        T::Text => "text",
        T::Varchar(_) | T::CharacterVarying(_) | T::CharVarying(_) => "varchar",
        T::Char(_) | T::Character(_) => "bpchar",
        T::Date => "date",
        T::Time(_, ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz) => "timetz",
        T::Time(..) => "time",
        T::Timestamp(_, ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz) => "timestamptz",
        T::Timestamp(..) => "timestamp",
        T::Interval { .. } => "interval",
        T::Bytea => "bytea",
        T::JSON => "json",
        T::JSONB => "jsonb",
        // An array type is named after its element type (`'{1}'::int[]` is int4).
        T::Array(ast::ArrayElemTypeDef::SquareBracket(inner, _)) => return cast_type_name(inner),
        // `"char"`, `name`, `oid`, `regclass`, ...: the type's own (last) name.
        T::Custom(name, _) => {
            return name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map_or_else(|| "?column?".to_string(), ident_name);
        }
        _ => "?column?",
    }
    .to_string()
}

/// Renames a plan's output: the table qualifier, and column names when given.
/// A system view's rows as a literal VALUES plan.
fn system_view_plan(view: system::SystemView, alias: &str) -> Plan {
    let columns = view
        .columns
        .iter()
        .map(|&(name, data_type)| OutputColumn {
            table: Some(alias.to_string()),
            name: name.to_string(),
            data_type,
            hidden: false,
        })
        .collect();
    let rows = view.rows.into_iter().map(|row| row.into_iter().map(Expr::Constant).collect()).collect();
    Plan::Values { rows, columns }
}

/// Column names as alias columns, kept exactly as stored.
fn quoted(names: &[String]) -> Vec<ast::TableAliasColumnDef> {
    names
        .iter()
        .map(|n| ast::TableAliasColumnDef { name: ast::Ident::with_quote('"', n), data_type: None })
        .collect()
}

/// The system view a name refers to, once no table or view of the user's took it:
/// `information_schema.x` and `pg_catalog.x` by their qualified names, an unqualified
/// name by itself or as a `pg_catalog` view. (PostgreSQL searches `pg_catalog` before
/// the path; here a user's table keeps its name.)
fn system_view(
    name: &NameRef,
    catalog: &crate::catalog::Catalog,
    store: &phantom_txn::MvccStore,
    txn: &phantom_txn::Transaction,
    settings: Option<&crate::block::Settings>,
) -> Result<Option<system::SystemView>> {
    let candidates = match name.schema.as_deref() {
        None => vec![name.name.clone(), format!("pg_catalog.{}", name.name)],
        Some("pg_catalog") => vec![format!("pg_catalog.{}", name.name), name.name.clone()],
        Some("information_schema") => vec![format!("information_schema.{}", name.name)],
        Some(_) => return Ok(None),
    };
    for candidate in candidates {
        if let Some(view) = system::view(&candidate, catalog, store, txn, settings)? {
            return Ok(Some(view));
        }
    }
    Ok(None)
}

impl Binder<'_> {
    /// A view's query, bound as a derived table: through the search path the view was
    /// created with, without the enclosing query's columns or CTEs.
    pub(crate) fn view_plan(&mut self, view: &crate::catalog::ViewDef) -> Result<Plan> {
        let ast::Statement::Query(query) = crate::parser::parse_one(&view.sql)? else {
            return Err(Error::new(
                SqlState::DataCorrupted,
                format!("view \"{}\" is not a query", view.name),
            ));
        };
        let name = view.qualified();
        if self.expanding.contains(&name) {
            return Err(Error::new(
                SqlState::InvalidObjectDefinition,
                format!("infinite recursion detected in view \"{}\": it reads itself", view.name),
            ));
        }
        self.expanding.push(name);
        // The view's query reads with its owner's privileges.
        self.reading_as.push(view.owner);
        let outer = std::mem::take(&mut self.outer);
        let captures = std::mem::take(&mut self.captures);
        let hoisted = std::mem::take(&mut self.hoisted);
        let ctes = std::mem::take(&mut self.ctes);
        let path = std::mem::replace(&mut self.search_path, view.search_path.clone());
        // Its steps count as expansion (a chain of views each reading the last twice
        // doubles at every link, see crate::depth).
        self.depth.enter_view();
        let plan = self.query(&query);
        self.depth.leave_view();
        self.outer = outer;
        self.captures = captures;
        self.hoisted = hoisted;
        self.ctes = ctes;
        self.search_path = path;
        self.reading_as.pop();
        self.expanding.pop();
        plan
    }

    /// A view as a name in FROM reads it: its query with the view's column names.
    pub fn bind_view(&mut self, view: &crate::catalog::ViewDef) -> Result<Plan> {
        self.record_use(view.qualified());
        let plan = self.view_plan(view)?;
        rename(plan, Some(view.name.clone()), &quoted(&view.columns))
    }
}

pub(super) fn rename(plan: Plan, table: Option<String>, names: &[ast::TableAliasColumnDef]) -> Result<Plan> {
    let columns = plan.columns();
    let visible = columns.iter().filter(|c| !c.hidden).count();
    if names.len() > visible {
        return Err(Error::new(
            SqlState::InvalidColumnReference,
            format!("table has {visible} columns available but {} columns specified", names.len()),
        ));
    }
    let mut renamed = Vec::with_capacity(columns.len());
    let mut next = names.iter();
    for c in columns {
        let name = if c.hidden { c.name } else { next.next().map_or(c.name, |n| ident_name(&n.name)) };
        renamed.push(OutputColumn { table: table.clone(), name, ..c });
    }
    let exprs = (0..renamed.len()).map(Expr::Column).collect();
    Ok(Plan::Project { input: plan.boxed(), exprs, columns: renamed })
}

fn check_duplicate_aliases(left: &Plan, right: &Plan) -> Result<()> {
    let tables = |p: &Plan| -> Vec<String> {
        let mut t: Vec<String> = p.columns().into_iter().filter_map(|c| c.table).collect();
        t.dedup();
        t
    };
    let left = tables(left);
    for t in tables(right) {
        if left.contains(&t) {
            return Err(Error::new(
                SqlState::DuplicateAlias,
                format!("table name \"{t}\" specified more than once"),
            ));
        }
    }
    Ok(())
}

/// The row lock a query's locking clauses ask for (the strongest of them).
fn row_lock(locks: &[ast::LockClause]) -> Result<Option<phantom_txn::LockMode>> {
    let mut mode = None;
    for lock in locks {
        if lock.of.is_some() || lock.nonblock.is_some() {
            return Err(unsupported("FOR UPDATE OF, NOWAIT and SKIP LOCKED"));
        }
        let this = match lock.lock_type {
            ast::LockType::Update => phantom_txn::LockMode::Exclusive,
            ast::LockType::Share => phantom_txn::LockMode::Shared,
        };
        mode = mode.max(Some(this));
    }
    Ok(mode)
}
