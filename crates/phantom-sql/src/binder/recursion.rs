//! The shape `WITH RECURSIVE` demands, checked on the syntax tree before binding.
//!
//! A recursive CTE `name AS (anchor UNION [ALL] step)` is run by feeding each round's new
//! rows back into `step` (see [`crate::exec::recursive`]). That evaluation is only the
//! meaning of the query when `step` reads `name` once, directly in its FROM clause, and
//! not where a row's absence could matter: not in a subquery, not under INTERSECT or
//! EXCEPT, not on the nullable side of an outer join, not under an aggregate, and with no
//! ORDER BY or LIMIT over the whole. Anything else PostgreSQL refuses (42P19
//! `invalid_recursion`, or 0A000 for the clauses it has not implemented), and so do we:
//! accepting it would return rows PostgreSQL never would.
//!
//! References are counted by name over the whole term (sqlparser's relation visitor);
//! a CTE inside the term that reuses the name is not told apart (PostgreSQL would let it
//! shadow the outer one), which can only make us refuse, never accept, too much.

use std::ops::ControlFlow;

use sqlparser::ast::{self, SetExpr};

use super::expr::contains_aggregate;
use crate::error::{Error, Result, SqlState};

fn invalid(message: String) -> Error {
    Error::new(SqlState::InvalidRecursion, message)
}

/// How many times the unqualified relation `name` is read anywhere in `node`.
fn references<V: ast::Visit>(node: &V, name: &str) -> usize {
    let mut count = 0;
    let _ = ast::visit_relations(node, |relation| {
        if let [part] = relation.0.as_slice()
            && part.as_ident().is_some_and(|i| super::ident_name(i) == name)
        {
            count += 1;
        }
        ControlFlow::<()>::Continue(())
    });
    count
}

/// True if `factor` is a plain read of `name`.
fn is_reference(factor: &ast::TableFactor, name: &str) -> bool {
    match factor {
        ast::TableFactor::Table { name: relation, .. } => {
            matches!(relation.0.as_slice(), [part] if part.as_ident().is_some_and(|i| super::ident_name(i) == name))
        }
        _ => false,
    }
}

/// Checks a CTE of a `WITH RECURSIVE` list before it is bound: true if it is recursive
/// (and well formed), false if it never reads itself and is an ordinary CTE.
pub(super) fn check(name: &str, query: &ast::Query) -> Result<bool> {
    match query.body.as_ref() {
        SetExpr::SetOperation { left, op: ast::SetOperator::Union, right, .. } => {
            check_union(name, query, left, right)
        }
        body if references(body, name) > 0 => Err(invalid(format!(
            "recursive query \"{name}\" does not have the form non-recursive-term UNION [ALL] recursive-term"
        ))),
        _ => Ok(false),
    }
}

/// `query` is `anchor UNION [ALL] step`.
fn check_union(name: &str, query: &ast::Query, anchor: &SetExpr, step: &SetExpr) -> Result<bool> {
    if references(anchor, name) > 0 {
        return Err(invalid(format!(
            "recursive reference to query \"{name}\" must not appear within its non-recursive term"
        )));
    }
    let total = references(step, name);
    if total == 0 {
        // Not recursive after all: an ordinary CTE.
        return Ok(false);
    }
    let not_implemented = |what: &str| {
        Error::new(SqlState::FeatureNotSupported, format!("{what} in a recursive query is not implemented"))
    };
    if query.order_by.is_some() {
        return Err(not_implemented("ORDER BY"));
    }
    match &query.limit_clause {
        Some(ast::LimitClause::LimitOffset { offset: Some(_), .. })
        | Some(ast::LimitClause::OffsetCommaLimit { .. }) => {
            return Err(not_implemented("OFFSET"));
        }
        Some(ast::LimitClause::LimitOffset { limit: Some(_), .. }) => return Err(not_implemented("LIMIT")),
        _ => {}
    }
    if !query.locks.is_empty() {
        return Err(not_implemented("FOR UPDATE/SHARE"));
    }
    if total > 1 {
        return Err(invalid(format!(
            "recursive reference to query \"{name}\" must not appear more than once"
        )));
    }
    // Parentheses around the step change nothing when they hold only a query body.
    let mut step = step;
    while let SetExpr::Query(q) = step
        && q.with.is_none()
        && q.order_by.is_none()
        && q.limit_clause.is_none()
    {
        step = q.body.as_ref();
    }
    let select = match step {
        SetExpr::Select(select) => select,
        SetExpr::SetOperation { op: ast::SetOperator::Intersect, .. } => {
            return Err(invalid(format!(
                "recursive reference to query \"{name}\" must not appear within INTERSECT"
            )));
        }
        SetExpr::SetOperation { op: ast::SetOperator::Except | ast::SetOperator::Minus, .. } => {
            return Err(invalid(format!(
                "recursive reference to query \"{name}\" must not appear within EXCEPT"
            )));
        }
        // A parenthesized query or a further UNION: PostgreSQL's analysis of the term
        // goes deeper; here it is one shape too many, so it is refused as a subquery.
        _ => return Err(in_subquery(name)),
    };
    direct_reference(select, name)?;
    let aggregate = select.projection.iter().any(|item| match item {
        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
            contains_aggregate(e)
        }
        _ => false,
    }) || select.having.as_ref().is_some_and(contains_aggregate);
    if aggregate {
        return Err(invalid(
            "aggregate functions are not allowed in a recursive query's recursive term".into(),
        ));
    }
    Ok(true)
}

fn in_subquery(name: &str) -> Error {
    invalid(format!("recursive reference to query \"{name}\" must not appear within a subquery"))
}

/// The one reference must be an item of the step's own FROM (or of a join there), and
/// not on the side of an outer join that can be NULL-extended.
fn direct_reference(select: &ast::Select, name: &str) -> Result<()> {
    let outer =
        || invalid(format!("recursive reference to query \"{name}\" must not appear within an outer join"));
    for from in &select.from {
        let later_joins = |i: usize| &from.joins[i..];
        // The first item is NULL-extended by a later RIGHT or FULL join.
        if is_reference(&from.relation, name) {
            if later_joins(0).iter().any(|j| nullable_left(&j.join_operator)) {
                return Err(outer());
            }
            return Ok(());
        }
        for (i, join) in from.joins.iter().enumerate() {
            if is_reference(&join.relation, name) {
                if nullable_right(&join.join_operator)
                    || later_joins(i + 1).iter().any(|j| nullable_left(&j.join_operator))
                {
                    return Err(outer());
                }
                return Ok(());
            }
        }
    }
    Err(in_subquery(name))
}

/// Joins that NULL-extend what is on their left.
fn nullable_left(op: &ast::JoinOperator) -> bool {
    use ast::JoinOperator as J;
    matches!(op, J::Right(_) | J::RightOuter(_) | J::FullOuter(_))
}

/// Joins that NULL-extend what is on their right.
fn nullable_right(op: &ast::JoinOperator) -> bool {
    use ast::JoinOperator as J;
    matches!(op, J::Left(_) | J::LeftOuter(_) | J::FullOuter(_) | J::OuterApply)
}
