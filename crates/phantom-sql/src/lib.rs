//! # phantom-sql: from SQL text to results
//!
//! The life of a statement, step by step:
//!
//! 1. [`parser`] splits the text into statements and parses each with `sqlparser`
//!    (PostgreSQL dialect). Syntax errors carry SQLSTATE 42601 and a line and column.
//! 2. [`session::Session`] decides the transaction: the open `BEGIN` block ([`block`]), or
//!    a fresh autocommit transaction from `phantom_txn`, at the session's isolation level.
//! 3. [`binder`] resolves names against the [`catalog`] (read through that transaction, so
//!    DDL is transactional), types every expression and builds a logical [`planner::Plan`].
//! 4. Parameters (`$1`) are replaced by their values, and the [`planner::optimizer`]
//!    folds constants, pushes predicates down, picks primary-key lookups and hash joins.
//! 5. [`exec`] builds a tree of row iterators and pulls the result; table rows are decoded
//!    with [`encoding`] from the keyspace of the table.
//! 6. Writes go into the transaction's write set; at commit, `phantom_txn` makes them
//!    durable in the WAL and visible.
//!
//! Every error is an [`error::Error`] with a SQLSTATE.

pub mod alter;
pub mod binder;
pub mod block;
pub mod budget;
pub mod catalog;
pub mod copy;
pub mod ddl;
pub mod depend;
pub mod depth;
pub mod encoding;
pub mod error;
pub mod exec;
pub mod index;
pub mod instance;
pub mod interrupt;
pub mod notice;
pub mod parse_cache;
pub mod parse_cost;
pub mod parser;
pub mod planner;
pub mod privilege;
pub mod result;
pub mod role;
pub mod scram;
pub mod sequence;
pub mod session;
pub mod truncate;
pub mod types;

pub use error::{Error, Result, SqlState};
pub use instance::Instance;
pub use session::Session;
