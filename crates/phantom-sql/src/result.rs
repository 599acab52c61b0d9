//! What a statement returns: rows with named, typed columns, or a command tag.

use std::fmt;

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Decimal, Value};

/// A result column: its name and type.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The column's name as the query labels it (an alias, a column name, or `?column?`).
    pub name: String,
    /// The column's type.
    pub data_type: DataType,
}

/// One result row.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// The values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.0
    }

    /// The value at `index`, converted to `T`. A NULL converts to `None` for `Option<T>`
    /// and is an error for any other `T`.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let value = self.0.get(index).ok_or_else(|| {
            Error::new(
                SqlState::InvalidParameterValue,
                format!("column index {index} is out of range for a row of {}", self.0.len()),
            )
        })?;
        T::from_value(value)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for a row without values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<usize> for Row {
    type Output = Value;
    fn index(&self, index: usize) -> &Value {
        &self.0[index]
    }
}

/// The rows a query returned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// The result columns.
    pub columns: Vec<Column>,
    /// The rows, each with one value per column.
    pub rows: Vec<Row>,
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no rows came back.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Iterates over the rows.
    pub fn iter(&self) -> std::slice::Iter<'_, Row> {
        self.rows.iter()
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a Row;
    type IntoIter = std::slice::Iter<'a, Row>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

/// Where a query's rows go as they are produced. [`Rows`] collects them; a server sends
/// each one to its client instead, so a large result is never held whole in memory.
pub trait RowSink {
    /// Called once per row-returning statement, before its rows, with its columns.
    fn columns(&mut self, columns: &[Column]) -> Result<()>;
    /// Called for each row in order. An error stops the statement (and fails it).
    fn row(&mut self, row: Row) -> Result<()>;
}

impl RowSink for Rows {
    fn columns(&mut self, columns: &[Column]) -> Result<()> {
        self.columns = columns.to_vec();
        self.rows.clear();
        Ok(())
    }

    fn row(&mut self, row: Row) -> Result<()> {
        self.rows.push(row);
        Ok(())
    }
}

/// The outcome of one statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A query's rows (SELECT, VALUES, ...).
    Rows(Rows),
    /// Rows a `FETCH` took from a cursor: like [`Output::Rows`], but tagged `FETCH n`.
    Fetched(Rows),
    /// Rows changed by INSERT, UPDATE or DELETE.
    Modified {
        /// "INSERT", "UPDATE" or "DELETE".
        command: &'static str,
        /// How many rows the statement changed.
        rows: u64,
    },
    /// Any other statement: its PostgreSQL command tag, e.g. "CREATE TABLE" or "COMMIT".
    Command(String),
}

impl Output {
    /// The PostgreSQL CommandComplete tag, e.g. "SELECT 3", "INSERT 0 2", "CREATE TABLE".
    pub fn tag(&self) -> String {
        match self {
            Output::Rows(rows) => format!("SELECT {}", rows.len()),
            Output::Fetched(rows) => format!("FETCH {}", rows.len()),
            Output::Modified { command: "INSERT", rows } => format!("INSERT 0 {rows}"),
            Output::Modified { command, rows } => format!("{command} {rows}"),
            Output::Command(tag) => tag.clone(),
        }
    }

    /// The rows, if this output has any.
    pub fn into_rows(self) -> Option<Rows> {
        match self {
            Output::Rows(rows) | Output::Fetched(rows) => Some(rows),
            _ => None,
        }
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag())
    }
}

/// Conversion from a SQL value to a Rust type, for [`Row::get`].
pub trait FromValue: Sized {
    /// Converts, or explains why the value does not fit.
    fn from_value(value: &Value) -> Result<Self>;
}

fn mismatch(value: &Value, wanted: &str) -> Error {
    Error::new(SqlState::DatatypeMismatch, format!("cannot read value {value} as {wanted}"))
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self> {
        Ok(value.clone())
    }
}

/// Integers read integers, and NUMERIC values that are whole numbers (`sum` of a BIGINT
/// column is a NUMERIC, as in PostgreSQL).
impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Int(i) => Ok(*i),
            Value::Numeric(d) => d.to_i64_exact().ok_or_else(|| mismatch(value, "i64")),
            _ => Err(mismatch(value, "i64")),
        }
    }
}

impl FromValue for i32 {
    fn from_value(value: &Value) -> Result<Self> {
        let wide = i64::from_value(value).map_err(|_| mismatch(value, "i32"))?;
        i32::try_from(wide).map_err(|_| mismatch(value, "i32"))
    }
}

/// Any number, a NUMERIC rounded to the nearest double.
impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Float(x) => Ok(*x),
            Value::Int(i) => Ok(*i as f64),
            Value::Numeric(d) => Ok(d.to_f64()),
            _ => Err(mismatch(value, "f64")),
        }
    }
}

/// A NUMERIC exactly, or an integer as one.
impl FromValue for Decimal {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Numeric(d) => Ok(*d),
            Value::Int(i) => Ok(Decimal::from(*i)),
            _ => Err(mismatch(value, "Decimal")),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Boolean(b) => Ok(*b),
            _ => Err(mismatch(value, "bool")),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            Value::Null => Err(mismatch(value, "String")),
            other => Ok(other.to_string()),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}
