//! Binding set-returning functions in FROM: `generate_series(...) [WITH ORDINALITY]
//! [AS alias [(names)]]`.
//!
//! As in PostgreSQL, a function returning one column is named after the function, and an
//! alias without column names names both the range and its column
//! (`generate_series(1, 3) AS x` has a column `x`). The arguments are bound without any
//! FROM columns in scope; inside a subquery they may still refer to the enclosing query.

use sqlparser::ast;

use super::expr::Cx;
use super::scope::Scope;
use super::select::rename;
use super::{Binder, ident_name, object_name};
use crate::error::{Error, Result, SqlState};
use crate::exec::table_function::TableFunction;
use crate::planner::{OutputColumn, Plan};
use crate::types::DataType;

impl Binder<'_> {
    /// A function call used as a table.
    pub(super) fn table_function(
        &mut self,
        name: &ast::ObjectName,
        args: &ast::TableFunctionArgs,
        alias: Option<&ast::TableAlias>,
        ordinality: bool,
    ) -> Result<Plan> {
        let function_name = object_name(name)?;
        let mut bound = Vec::with_capacity(args.args.len());
        let empty = Scope::default();
        for arg in &args.args {
            let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = arg else {
                return Err(Error::new(
                    SqlState::FeatureNotSupported,
                    format!("function argument not supported: {arg}"),
                ));
            };
            bound.push(self.expr(e, &mut Cx::new(&empty, "FROM"))?);
        }
        let (function, args, ty) = match function_name.as_str() {
            "generate_series" => self.generate_series(bound)?,
            "pg_partition_ancestors" if bound.len() == 1 => {
                let mut bound = bound;
                let arg = self.oid_argument(bound.remove(0), "pg_partition_ancestors")?;
                (TableFunction::PartitionAncestors, vec![arg], DataType::BigInt)
            }
            _ => {
                return Err(Error::undefined_function(format!(
                    "function {function_name}({} arguments) does not exist",
                    bound.len()
                )));
            }
        };
        let range = alias.map_or_else(|| function.name().to_string(), |a| ident_name(&a.name));
        // An alias without column names also names the single value column.
        let value_name = match alias {
            Some(a) if a.columns.is_empty() => range.clone(),
            _ => function.name().to_string(),
        };
        let column = |name: &str, data_type| OutputColumn {
            table: Some(range.clone()),
            name: name.to_string(),
            data_type,
            hidden: false,
        };
        let mut columns = vec![column(&value_name, ty)];
        if ordinality {
            columns.push(column("ordinality", DataType::BigInt));
        }
        let plan = Plan::TableFunction { function, args, ordinality, columns };
        match alias {
            Some(a) if !a.columns.is_empty() => rename(plan, Some(range), &a.columns),
            _ => Ok(plan),
        }
    }

    /// `generate_series(start, stop [, step])`: integers of the wider argument type, or
    /// timestamps stepped by an interval.
    fn generate_series(
        &mut self,
        args: Vec<super::Typed>,
    ) -> Result<(TableFunction, Vec<crate::planner::Expr>, DataType)> {
        if !(2..=3).contains(&args.len()) {
            return Err(Error::undefined_function(format!(
                "function generate_series() does not take {} arguments",
                args.len()
            )));
        }
        let typed: Vec<DataType> = args.iter().filter(|a| !a.literal).map(|a| a.ty).collect();
        let time = typed.iter().copied().find(|t| matches!(t, DataType::Timestamp | DataType::TimestampTz));
        if let Some(ty) = time {
            if args.len() != 3 {
                return Err(Error::undefined_function(format!(
                    "function generate_series({ty}, {ty}) does not exist"
                )));
            }
            let mut exprs = Vec::with_capacity(3);
            for (i, a) in args.into_iter().enumerate() {
                let target = if i == 2 { DataType::Interval } else { ty };
                let a = if matches!(a.ty, DataType::Timestamp | DataType::TimestampTz | DataType::Date)
                    && i < 2
                {
                    crate::planner::Expr::Cast(a.expr.boxed(), ty)
                } else {
                    self.coerce(a, target, "generate_series")?
                };
                exprs.push(a);
            }
            return Ok((TableFunction::GenerateSeries(ty), exprs, ty));
        }
        if let Some(bad) = typed.iter().find(|t| !t.is_integer() && **t != DataType::Null) {
            return Err(Error::undefined_function(format!("function generate_series({bad}) does not exist")));
        }
        let ty = if typed.iter().all(|t| matches!(t, DataType::SmallInt | DataType::Integer | DataType::Null))
        {
            DataType::Integer
        } else {
            DataType::BigInt
        };
        let mut exprs = Vec::with_capacity(args.len());
        for a in args {
            exprs.push(self.coerce(a, ty, "generate_series")?);
        }
        Ok((TableFunction::GenerateSeries(ty), exprs, ty))
    }
}
