//! Query plans and the optimizer.
//!
//! The binder produces a [`Plan`]: a tree of relational operators whose expressions refer
//! to columns by position. The [`optimizer`] rewrites it with a fixed list of passes
//! (constant folding, predicate pushdown, primary-key lookups and ranges, hash joins), and
//! the executor turns the result into a tree of iterators. [`explain`] prints a plan.

pub mod explain;
pub mod expr;
pub mod optimizer;
pub mod plan;

pub use expr::Expr;
pub use plan::{Aggregate, AggregateFunction, JoinKind, OutputColumn, Plan, SortKey};
