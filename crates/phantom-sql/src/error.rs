//! SQL-layer errors, each with the SQLSTATE a PostgreSQL client expects.
//!
//! Every error a user can see carries a [`SqlState`] (the five-character code PostgreSQL
//! clients branch on), a message, for syntax errors the position in the statement text,
//! and where PostgreSQL gives them, DETAIL and HINT lines. Lower layers have their own
//! error types; [`From`] impls below map them to the right SQLSTATE, so the mapping lives
//! in exactly one place.

use std::fmt;

use phantom_storage::StorageError;
use phantom_txn::TxnError;

/// A SQL-layer result.
pub type Result<T> = std::result::Result<T, Error>;

/// SQLSTATE codes used by Phantom-DB. The names follow PostgreSQL's `errcodes.txt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SqlState {
    /// 0A000
    FeatureNotSupported,
    /// 21000
    CardinalityViolation,
    /// 22001
    StringDataRightTruncation,
    /// 22003
    NumericValueOutOfRange,
    /// 22012
    DivisionByZero,
    /// 2201F: `power` or `sqrt` of a number outside their domain.
    InvalidArgumentForPowerFunction,
    /// 22023
    InvalidParameterValue,
    /// 22P02
    InvalidTextRepresentation,
    /// 22021: bytes that are not valid UTF-8, or a NUL byte, in text.
    CharacterNotInRepertoire,
    /// 2201W
    InvalidRowCountInLimitClause,
    /// 2201X
    InvalidRowCountInResultOffsetClause,
    /// 2201B
    InvalidRegularExpression,
    /// 2200H
    SequenceGeneratorLimitExceeded,
    /// 3F000
    InvalidSchemaName,
    /// 22000
    DataException,
    /// 22P04: COPY data that does not fit the table's columns.
    BadCopyFileFormat,
    /// 23502
    NotNullViolation,
    /// 23505
    UniqueViolation,
    /// 23503
    ForeignKeyViolation,
    /// 23514
    CheckViolation,
    /// 2BP01
    DependentObjectsStillExist,
    /// 42710
    DuplicateObject,
    /// 42830
    InvalidForeignKey,
    /// 25001
    ActiveSqlTransaction,
    /// 25P01
    NoActiveSqlTransaction,
    /// 25P02
    InFailedSqlTransaction,
    /// 40001
    SerializationFailure,
    /// 40P01
    DeadlockDetected,
    /// 22008
    DatetimeFieldOverflow,
    /// 26000
    InvalidSqlStatementName,
    /// 42P05
    DuplicatePreparedStatement,
    /// 34000
    InvalidCursorName,
    /// 42P03
    DuplicateCursor,
    /// 55P03
    LockNotAvailable,
    /// 3B001
    InvalidSavepointSpecification,
    /// 42601
    SyntaxError,
    /// 42501
    InsufficientPrivilege,
    /// 42703
    UndefinedColumn,
    /// 42702
    AmbiguousColumn,
    /// 42712
    DuplicateAlias,
    /// 42701
    DuplicateColumn,
    /// 42P01
    UndefinedTable,
    /// 42704
    UndefinedObject,
    /// 42P07
    DuplicateTable,
    /// 42804
    DatatypeMismatch,
    /// 42883
    UndefinedFunction,
    /// 42803
    GroupingError,
    /// 42P10
    InvalidColumnReference,
    /// 42P18
    IndeterminateDatatype,
    /// 42P02
    UndefinedParameter,
    /// 42611
    InvalidColumnDefinition,
    /// 42P16
    InvalidTableDefinition,
    /// 54001
    StatementTooComplex,
    /// 54000
    ProgramLimitExceeded,
    /// 53200
    OutOfMemory,
    /// 53100: no space left on the device (ENOSPC).
    DiskFull,
    /// 58030
    IoError,
    /// XX001
    DataCorrupted,
    /// XX000
    InternalError,
    /// 57014
    QueryCanceled,
    /// 25P03: a transaction block idled past `idle_in_transaction_session_timeout`.
    IdleInTransactionSessionTimeout,
    /// 25006
    ReadOnlySqlTransaction,
    /// 55006: the data directory is held by another process.
    ObjectInUse,
    /// 55000: e.g. fetching backward from a NO SCROLL cursor.
    ObjectNotInPrerequisiteState,
    /// 55P02: a setting only the server sets (`SET server_version`).
    CantChangeRuntimeParam,
    /// 42P06
    DuplicateSchema,
    /// 42809
    WrongObjectType,
    /// 428C9
    GeneratedAlways,
    /// 42939
    ReservedName,
    /// 42P17
    InvalidObjectDefinition,
    /// 42P19: a WITH RECURSIVE query of a shape recursion cannot evaluate.
    InvalidRecursion,
    /// 0LP01: a GRANT that cannot be made (a grant option to PUBLIC, or back round a
    /// chain of grants).
    InvalidGrantOperation,
    /// 3D000: a database that is not this one.
    InvalidCatalogName,
    /// 22007
    InvalidDatetimeFormat,
    /// 22015
    IntervalFieldOverflow,
    /// 22009
    InvalidTimeZoneDisplacementValue,
}

impl SqlState {
    /// The five-character SQLSTATE code.
    pub fn code(self) -> &'static str {
        use SqlState::*;
        match self {
            FeatureNotSupported => "0A000",
            CardinalityViolation => "21000",
            StringDataRightTruncation => "22001",
            NumericValueOutOfRange => "22003",
            DivisionByZero => "22012",
            InvalidArgumentForPowerFunction => "2201F",
            InvalidParameterValue => "22023",
            InvalidTextRepresentation => "22P02",
            CharacterNotInRepertoire => "22021",
            InvalidRowCountInLimitClause => "2201W",
            InvalidRowCountInResultOffsetClause => "2201X",
            InvalidRegularExpression => "2201B",
            SequenceGeneratorLimitExceeded => "2200H",
            InvalidSchemaName => "3F000",
            DataException => "22000",
            BadCopyFileFormat => "22P04",
            NotNullViolation => "23502",
            UniqueViolation => "23505",
            ForeignKeyViolation => "23503",
            CheckViolation => "23514",
            DependentObjectsStillExist => "2BP01",
            DuplicateObject => "42710",
            InvalidForeignKey => "42830",
            ActiveSqlTransaction => "25001",
            NoActiveSqlTransaction => "25P01",
            InFailedSqlTransaction => "25P02",
            SerializationFailure => "40001",
            DeadlockDetected => "40P01",
            DatetimeFieldOverflow => "22008",
            InvalidDatetimeFormat => "22007",
            IntervalFieldOverflow => "22015",
            InvalidTimeZoneDisplacementValue => "22009",
            InvalidSqlStatementName => "26000",
            DuplicatePreparedStatement => "42P05",
            InvalidCursorName => "34000",
            DuplicateCursor => "42P03",
            LockNotAvailable => "55P03",
            InvalidSavepointSpecification => "3B001",
            SyntaxError => "42601",
            InsufficientPrivilege => "42501",
            UndefinedColumn => "42703",
            AmbiguousColumn => "42702",
            DuplicateAlias => "42712",
            DuplicateColumn => "42701",
            UndefinedTable => "42P01",
            UndefinedObject => "42704",
            DuplicateTable => "42P07",
            DatatypeMismatch => "42804",
            UndefinedFunction => "42883",
            GroupingError => "42803",
            InvalidColumnReference => "42P10",
            IndeterminateDatatype => "42P18",
            UndefinedParameter => "42P02",
            InvalidColumnDefinition => "42611",
            InvalidTableDefinition => "42P16",
            StatementTooComplex => "54001",
            ProgramLimitExceeded => "54000",
            OutOfMemory => "53200",
            DiskFull => "53100",
            IoError => "58030",
            DataCorrupted => "XX001",
            InternalError => "XX000",
            QueryCanceled => "57014",
            IdleInTransactionSessionTimeout => "25P03",
            ReadOnlySqlTransaction => "25006",
            ObjectInUse => "55006",
            ObjectNotInPrerequisiteState => "55000",
            CantChangeRuntimeParam => "55P02",
            DuplicateSchema => "42P06",
            WrongObjectType => "42809",
            GeneratedAlways => "428C9",
            ReservedName => "42939",
            InvalidObjectDefinition => "42P17",
            InvalidRecursion => "42P19",
            InvalidGrantOperation => "0LP01",
            InvalidCatalogName => "3D000",
        }
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A position in the statement text, 1-based, as PostgreSQL reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: u64,
    /// Column number, starting at 1.
    pub column: u64,
}

/// An error a user sees: what went wrong, its SQLSTATE, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// The SQLSTATE code.
    pub state: SqlState,
    /// A message in PostgreSQL's style: lower case, no trailing period.
    pub message: String,
    /// Where in the statement text the problem is, when known.
    pub position: Option<Position>,
    /// Optional extra detail (PostgreSQL's DETAIL field).
    pub detail: Option<String>,
    /// Optional advice on what to do about it (PostgreSQL's HINT field).
    pub hint: Option<String>,
}

impl Error {
    /// An error with a state and message.
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        Error { state, message: message.into(), position: None, detail: None, hint: None }
    }

    /// 42883 for a call no function matches, with PostgreSQL's hint.
    pub fn undefined_function(message: impl Into<String>) -> Self {
        Error::new(SqlState::UndefinedFunction, message).with_hint(
            "No function matches the given name and argument types. You might need to add explicit type casts.",
        )
    }

    /// 42883 for an operator no operator matches (`unary`: it has one operand), with
    /// PostgreSQL's hint.
    pub fn undefined_operator(message: impl Into<String>, unary: bool) -> Self {
        let hint = if unary {
            "No operator matches the given name and argument type. You might need to add an explicit type cast."
        } else {
            "No operator matches the given name and argument types. You might need to add explicit type casts."
        };
        Error::new(SqlState::UndefinedFunction, message).with_hint(hint)
    }

    /// Adds a position.
    pub fn at(mut self, position: Position) -> Self {
        self.position = Some(position);
        self
    }

    /// Adds a detail line.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a hint line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The SQLSTATE code as a string, e.g. "42601".
    pub fn sqlstate(&self) -> &'static str {
        self.state.code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR {}: {}", self.state.code(), self.message)?;
        if let Some(p) = self.position {
            write!(f, " (at line {}, column {})", p.line, p.column)?;
        }
        if let Some(d) = &self.detail {
            write!(f, "\nDETAIL: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\nHINT: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Builds an [`Error`] with `format!` arguments: `err!(UndefinedTable, "relation \"{}\" does not exist", name)`.
#[macro_export]
macro_rules! err {
    ($state:ident, $($arg:tt)*) => {
        $crate::error::Error::new($crate::error::SqlState::$state, format!($($arg)*))
    };
}

/// Returns early with an [`Error`] built by [`err!`].
#[macro_export]
macro_rules! bail {
    ($state:ident, $($arg:tt)*) => {
        return Err($crate::err!($state, $($arg)*))
    };
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        let state = match &e {
            StorageError::Corrupt { .. } => SqlState::DataCorrupted,
            StorageError::Io { .. } => SqlState::IoError,
            StorageError::DiskFull { .. } => {
                // As PostgreSQL words it; the statement changed nothing (see the txn store).
                return Error::new(SqlState::DiskFull, e.to_string()).with_hint("Check free disk space.");
            }
            StorageError::WalFailed(_) | StorageError::Failed { .. } => SqlState::IoError,
            StorageError::Locked(_) => SqlState::ObjectInUse,
            StorageError::TooLarge { .. } => SqlState::ProgramLimitExceeded,
        };
        Error::new(state, e.to_string())
    }
}

impl From<TxnError> for Error {
    fn from(e: TxnError) -> Self {
        match e {
            TxnError::Storage(s) => s.into(),
            TxnError::WriteConflict => Error::new(
                SqlState::SerializationFailure,
                "could not serialize access due to concurrent update",
            ),
            TxnError::Serialization(message) => Error::new(SqlState::SerializationFailure, message)
                .with_detail(
                    "Canceled on identification as a pivot. The transaction might succeed if retried.",
                ),
            TxnError::Deadlock(message) => Error::new(SqlState::DeadlockDetected, message),
            TxnError::Canceled => crate::interrupt::canceled(),
            TxnError::LockTimeout => {
                Error::new(SqlState::LockNotAvailable, "canceling statement due to lock timeout")
            }
            TxnError::WriteSetTooLarge { limit } => Error::new(
                SqlState::ProgramLimitExceeded,
                format!("transaction write set exceeds its limit of {limit} bytes"),
            )
            .with_detail("Split the work into smaller transactions, or raise the write set limit."),
            TxnError::Unsupported(message) => Error::new(SqlState::FeatureNotSupported, message),
            other => Error::new(SqlState::InternalError, other.to_string()),
        }
    }
}
