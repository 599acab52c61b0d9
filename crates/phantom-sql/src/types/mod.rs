//! SQL data types and values.
//!
//! A [`DataType`] is what a column or expression is declared as; a [`Value`] is one datum at
//! run time. Values are deliberately coarser than types: every integer type is carried as an
//! `i64` and both float types as an `f64`, and the declared type decides range checks and
//! rounding ([`cast`]). That keeps the executor's value handling small while still giving
//! SMALLINT and INTEGER their overflow errors (22003). NUMERIC values are exact decimals
//! ([`decimal`]) whose display scale travels with the value; a column's NUMERIC(p, s)
//! rounds and range-checks them when they are stored.

pub mod cast;
mod datatype;
pub mod datetime;
pub mod decimal;
mod value;

pub use datatype::DataType;
pub use decimal::Decimal;
pub use value::{Value, format_float, format_real};
