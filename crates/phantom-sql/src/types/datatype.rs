//! Declared SQL types.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A SQL data type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    /// BOOLEAN
    Boolean,
    /// SMALLINT (16-bit)
    SmallInt,
    /// INTEGER (32-bit)
    Integer,
    /// BIGINT (64-bit)
    BigInt,
    /// REAL (32-bit float)
    Real,
    /// DOUBLE PRECISION (64-bit float)
    Double,
    /// NUMERIC / DECIMAL: exact decimal, at most 38 digits. `Some((precision, scale))`
    /// for NUMERIC(p, s) (NUMERIC(p) is scale 0), `None` when unconstrained.
    Numeric(Option<(u8, u8)>),
    /// TEXT (unbounded)
    Text,
    /// VARCHAR(n); `None` when no length was given
    Varchar(Option<u32>),
    /// CHAR(n), blank-padded to n characters
    Char(u32),
    /// BYTEA (BLOB): a byte string
    Bytea,
    /// DATE
    Date,
    /// TIME (without time zone)
    Time,
    /// TIMESTAMP (without time zone)
    Timestamp,
    /// TIMESTAMP WITH TIME ZONE
    TimestampTz,
    /// INTERVAL
    Interval,
    /// The type of a bare NULL literal before context gives it one. Never a column type.
    Null,
}

impl DataType {
    /// True for SMALLINT, INTEGER and BIGINT.
    pub fn is_integer(self) -> bool {
        matches!(self, DataType::SmallInt | DataType::Integer | DataType::BigInt)
    }

    /// True for REAL and DOUBLE PRECISION.
    pub fn is_float(self) -> bool {
        matches!(self, DataType::Real | DataType::Double)
    }

    /// True for NUMERIC, with or without precision and scale.
    pub fn is_decimal(self) -> bool {
        matches!(self, DataType::Numeric(_))
    }

    /// True for any number type.
    pub fn is_numeric(self) -> bool {
        self.is_integer() || self.is_float() || self.is_decimal()
    }

    /// The type without its length, precision or scale: what a value of this type is
    /// compared and computed as (PostgreSQL drops typmods in expressions).
    pub fn without_modifier(self) -> DataType {
        match self {
            DataType::Numeric(_) => DataType::Numeric(None),
            t => t,
        }
    }

    /// True for TEXT, VARCHAR and CHAR.
    pub fn is_string(self) -> bool {
        matches!(self, DataType::Text | DataType::Varchar(_) | DataType::Char(_))
    }

    /// True when a key column of this type can be read back from the key alone. A NUMERIC
    /// key holds the value but not its display scale (1.50 and 1.5 are one key), so the
    /// row keeps NUMERIC key columns too.
    pub fn key_restores_value(self) -> bool {
        !self.is_decimal()
    }

    /// The range of values an integer type holds.
    pub fn integer_range(self) -> Option<(i64, i64)> {
        match self {
            DataType::SmallInt => Some((i16::MIN as i64, i16::MAX as i64)),
            DataType::Integer => Some((i32::MIN as i64, i32::MAX as i64)),
            DataType::BigInt => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }

    /// The PostgreSQL name of the type, as `format_type` prints it.
    pub fn sql_name(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Boolean => f.write_str("boolean"),
            DataType::SmallInt => f.write_str("smallint"),
            DataType::Integer => f.write_str("integer"),
            DataType::BigInt => f.write_str("bigint"),
            DataType::Real => f.write_str("real"),
            DataType::Double => f.write_str("double precision"),
            DataType::Numeric(None) => f.write_str("numeric"),
            DataType::Numeric(Some((p, s))) => write!(f, "numeric({p},{s})"),
            DataType::Text => f.write_str("text"),
            DataType::Varchar(None) => f.write_str("character varying"),
            DataType::Varchar(Some(n)) => write!(f, "character varying({n})"),
            DataType::Char(n) => write!(f, "character({n})"),
            DataType::Bytea => f.write_str("bytea"),
            DataType::Date => f.write_str("date"),
            DataType::Time => f.write_str("time without time zone"),
            DataType::Timestamp => f.write_str("timestamp without time zone"),
            DataType::TimestampTz => f.write_str("timestamp with time zone"),
            DataType::Interval => f.write_str("interval"),
            DataType::Null => f.write_str("unknown"),
        }
    }
}
