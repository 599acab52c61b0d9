//! SQL data types and values.
//!
//! A [`DataType`] is what a column or expression is declared as; a [`Value`] is one datum at
//! run time. Values are deliberately coarser than types: every integer type is carried as an
//! `i64` and both float types as an `f64`, and the declared type decides range checks and
//! rounding ([`cast`]). That keeps the executor's value handling small while still giving
//! SMALLINT and INTEGER their overflow errors (22003).

pub mod cast;
mod datatype;
pub mod datetime;
mod value;

pub use datatype::DataType;
pub use value::{Value, format_float, format_real};
