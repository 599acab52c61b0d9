//! Binding sequence statements and the sequence functions.
//!
//! `nextval('s')`, `currval('s'::regclass)` and `setval('s', n [, is_called])` name
//! their sequence by a text (or `regclass`) constant, resolved here through the search
//! path like any relation name; the call then carries the definition, so a statement
//! never looks the name up per row. `lastval()` names none. A sequence named by a
//! value only known per row is not supported.

use std::sync::Arc;

use sqlparser::ast;

use super::expr::{Cx, Typed, plain_args};
use super::names::{NameRef, name_ref, no_relation, wrong_kind};
use super::{Binder, BoundStatement};
use crate::catalog::acl::Privileges;
use crate::catalog::{OwnerColumn, QualifiedName, SequenceDef};
use crate::error::{Error, Result, SqlState};
use crate::parser::AlterSequence;
use crate::planner::expr::{Expr, SequenceCall, SequenceFunction};
use crate::privilege::Securable;
use crate::sequence::ddl::{SequenceOptions, apply_options, option_number, sequence_type};
use crate::types::{DataType, Value};

/// A relation name as `regclass` input reads it: `[schema.]name`, double quotes kept
/// case and dots, other letters folded to lower case.
fn regclass_name(text: &str) -> Result<NameRef> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                part.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut part)),
            c if quoted => part.push(c),
            c => part.extend(c.to_lowercase()),
        }
    }
    parts.push(part);
    let invalid =
        || Error::new(SqlState::InvalidTextRepresentation, format!("invalid name syntax: \"{text}\""));
    match parts.as_slice() {
        _ if quoted || parts.iter().any(String::is_empty) => Err(invalid()),
        [name] => Ok(NameRef { schema: None, name: name.clone() }),
        [schema, name] => Ok(NameRef { schema: Some(schema.clone()), name: name.clone() }),
        [database, schema, name] if database == crate::catalog::system::DATABASE => {
            Ok(NameRef { schema: Some(schema.clone()), name: name.clone() })
        }
        _ => Err(invalid()),
    }
}

impl Binder<'_> {
    /// The sequence called `name`, looked up through the search path.
    pub(crate) fn find_sequence(&self, name: &NameRef) -> Result<Option<SequenceDef>> {
        let found =
            self.catalog.find_sequence(self.txn, &self.search_path, name.schema.as_deref(), &name.name)?;
        if let Some(sequence) = &found {
            self.require_schema_usage(&sequence.schema);
        }
        Ok(found)
    }

    /// The sequence called `name`: 42P01 if nothing is, 42809 if a table or view is.
    fn require_sequence(&self, name: &NameRef) -> Result<SequenceDef> {
        if let Some(def) = self.find_sequence(name)? {
            return Ok(def);
        }
        match self.find_relation(name)? {
            Some(_) => Err(wrong_kind(name, "a sequence")),
            None => Err(no_relation(name)),
        }
    }

    /// `nextval`, `currval`, `setval` and `lastval`; `None` for other functions.
    pub(super) fn sequence_function(
        &mut self,
        name: &str,
        f: &ast::Function,
        cx: &mut Cx<'_>,
    ) -> Result<Option<Typed>> {
        let function = match name {
            "nextval" => SequenceFunction::Nextval,
            "currval" => SequenceFunction::Currval,
            "setval" => SequenceFunction::Setval,
            "lastval" => SequenceFunction::Lastval,
            _ => return Ok(None),
        };
        let args = plain_args(f)?;
        let arity = match function {
            SequenceFunction::Lastval => 0..=0,
            SequenceFunction::Setval => 2..=3,
            _ => 1..=1,
        };
        if !arity.contains(&args.len()) {
            return Err(Error::undefined_function(format!(
                "function {name} with {} arguments does not exist",
                args.len()
            )));
        }
        let mut rest = args.iter();
        let sequence = match function {
            SequenceFunction::Lastval => None,
            _ => match rest.next() {
                Some(arg) => self.sequence_argument(arg, name, cx)?.map(Arc::new),
                None => None,
            },
        };
        let mut bound = Vec::new();
        if let Some(value) = rest.next() {
            let value = self.expr(value, cx)?;
            bound.push(self.coerce(value, DataType::BigInt, name)?);
        }
        if let Some(is_called) = rest.next() {
            let is_called = self.expr(is_called, cx)?;
            bound.push(self.coerce(is_called, DataType::Boolean, name)?);
        }
        if let Some(def) = &sequence {
            // PostgreSQL's rules: nextval takes USAGE or UPDATE, currval USAGE or SELECT,
            // setval UPDATE.
            let privileges = match function {
                SequenceFunction::Nextval => Privileges::USAGE.union(Privileges::UPDATE),
                SequenceFunction::Currval => Privileges::USAGE.union(Privileges::SELECT),
                SequenceFunction::Setval => Privileges::UPDATE,
                SequenceFunction::Lastval => Privileges::NONE,
            };
            self.require_privilege(Securable::sequence(def), privileges);
        }
        let call = SequenceCall { function, sequence, args: bound, access: None };
        Ok(Some(Typed { expr: Expr::Sequence(Box::new(call)), ty: DataType::BigInt, literal: false }))
    }

    /// The sequence a function's first argument names: a text constant, possibly cast to
    /// `regclass`, or a `$n` parameter. A parameter's value is only known when the
    /// statement is bound to run (it is bound again then); while it is only prepared, the
    /// sequence is left open (`None`).
    fn sequence_argument(
        &mut self,
        arg: &ast::Expr,
        function: &str,
        cx: &mut Cx<'_>,
    ) -> Result<Option<SequenceDef>> {
        let inner = match arg {
            ast::Expr::Cast { expr, data_type, .. } if is_regclass(data_type) => expr.as_ref(),
            other => other,
        };
        let bound = self.expr(inner, cx)?;
        let text = match &bound.expr {
            Expr::Constant(Value::Text(s)) => Some(s.clone()),
            Expr::Parameter(i) => match self.param_values.map(|values| values.get(*i)) {
                Some(Some(Value::Text(s))) => Some(s.clone()),
                Some(_) => None,
                None => {
                    self.coerce(bound, DataType::Text, function)?;
                    return Ok(None);
                }
            },
            _ => None,
        };
        let Some(text) = text else {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                format!("{function}() needs the sequence name as a constant"),
            ));
        };
        self.require_sequence(&regclass_name(&text)?).map(Some)
    }

    /// CREATE SEQUENCE.
    pub(super) fn create_sequence(
        &mut self,
        if_not_exists: bool,
        temporary: bool,
        name: &ast::ObjectName,
        options: &[ast::SequenceOptions],
    ) -> Result<BoundStatement> {
        if temporary {
            return Err(Error::new(SqlState::FeatureNotSupported, "temporary sequences are not supported"));
        }
        let name = self.new_relation_name(name)?;
        let options = self.sequence_options(&name, options)?;
        let (def, _) = apply_options(&name.schema, &name.name, None, options)?;
        Ok(BoundStatement::CreateSequence { def, if_not_exists })
    }

    /// ALTER SEQUENCE (parsed by [`crate::parser::parse_alter_sequence`]).
    pub fn alter_sequence(&mut self, alter: &AlterSequence) -> Result<BoundStatement> {
        let name = name_ref(&alter.name)?;
        if !self.schema_of_existing(&name, alter.if_exists)? {
            return Ok(BoundStatement::Skip("ALTER SEQUENCE"));
        }
        let old = match self.find_sequence(&name)? {
            Some(old) => old,
            None if alter.if_exists && self.find_relation(&name)?.is_none() => {
                return Ok(BoundStatement::Skip("ALTER SEQUENCE"));
            }
            None => self.require_sequence(&name)?,
        };
        if let Some(owner) = &alter.owner_to {
            let object = super::GrantObject::Relation {
                kind: crate::catalog::acl::ObjectKind::Sequence,
                name: old.qualified(),
            };
            return Ok(BoundStatement::AlterOwner { object, owner: self.owner_name(owner) });
        }
        // Changing a sequence is its owner's business.
        self.require_ownership(Securable::sequence(&old));
        let mut options = self.sequence_options(&old.qualified(), &alter.options)?;
        options.restart = match &alter.restart {
            Some(Some(value)) => Some(Some(option_number(value)?)),
            Some(None) => Some(None),
            None => None,
        };
        let (def, restart) = apply_options(&old.schema, &old.name, Some(&old), options)?;
        Ok(BoundStatement::AlterSequence { def, restart })
    }

    /// The sequence options as written, `AS` and `OWNED BY` resolved.
    fn sequence_options(
        &mut self,
        sequence: &QualifiedName,
        options: &[ast::SequenceOptions],
    ) -> Result<SequenceOptions> {
        let mut out = SequenceOptions::default();
        for option in options {
            match option {
                ast::SequenceOptions::DataType(t) => out.data_type = Some(sequence_type(self.data_type(t)?)?),
                ast::SequenceOptions::IncrementBy(e, _) => out.increment = Some(option_number(e)?),
                ast::SequenceOptions::MinValue(e) => {
                    out.min_value = Some(e.as_ref().map(option_number).transpose()?)
                }
                ast::SequenceOptions::MaxValue(e) => {
                    out.max_value = Some(e.as_ref().map(option_number).transpose()?)
                }
                ast::SequenceOptions::StartWith(e, _) => out.start = Some(option_number(e)?),
                ast::SequenceOptions::Cache(e) => out.cache = Some(option_number(e)?),
                // The parser's flag says NO CYCLE.
                ast::SequenceOptions::Cycle(no) => out.cycle = Some(!no),
                ast::SequenceOptions::OwnedBy(owner) => {
                    out.owned_by = Some(match owner {
                        Some(owner) => Some(self.owner_column(sequence, owner)?),
                        None => None,
                    })
                }
            }
        }
        Ok(out)
    }

    /// `OWNED BY [schema.]table.column`: a column of a table in the sequence's schema.
    fn owner_column(&mut self, sequence: &QualifiedName, owner: &ast::ObjectName) -> Result<OwnerColumn> {
        let mut parts = owner.0.clone();
        let Some(column) = parts.pop() else {
            return Err(Error::new(SqlState::SyntaxError, "OWNED BY needs a column"));
        };
        if parts.is_empty() {
            return Err(Error::new(SqlState::InvalidParameterValue, "invalid OWNED BY option")
                .with_hint("Specify OWNED BY table.column or OWNED BY NONE."));
        }
        let column = super::ident_name(column.as_ident().ok_or_else(|| {
            Error::new(SqlState::SyntaxError, format!("invalid column name in OWNED BY {owner}"))
        })?);
        let table = self.ddl_table(&ast::ObjectName(parts), false)?.ok_or_else(|| {
            Error::new(SqlState::UndefinedTable, format!("relation in OWNED BY {owner} does not exist"))
        })?;
        if table.schema != sequence.schema {
            return Err(Error::new(
                SqlState::ObjectNotInPrerequisiteState,
                "sequence must be in same schema as table it is linked to",
            ));
        }
        if !table.columns.iter().any(|c| c.name == column) {
            return Err(Error::new(
                SqlState::UndefinedColumn,
                format!("column \"{column}\" of relation \"{}\" does not exist", table.name),
            ));
        }
        Ok(OwnerColumn { schema: table.schema.clone(), table: table.name.clone(), column })
    }

    /// The sequence of an identity column: a SERIAL's with the options given in
    /// `GENERATED ... AS IDENTITY (options)`, for an integer column only.
    pub(super) fn identity_sequence(
        &mut self,
        table: &QualifiedName,
        column: &str,
        data_type: DataType,
        options: &[ast::SequenceOptions],
        planned: &[SequenceDef],
    ) -> Result<SequenceDef> {
        if !matches!(data_type, DataType::SmallInt | DataType::Integer | DataType::BigInt) {
            return Err(Error::new(
                SqlState::InvalidParameterValue,
                "identity column type must be smallint, integer, or bigint",
            ));
        }
        self.serial_sequence(table, column, data_type, options, planned)
    }

    /// The sequence of a SERIAL column `column` of the new table `table`: named
    /// `table_column_seq` (with a number after it if that is taken, as PostgreSQL does),
    /// owned by the column, with `options` (an identity column's). `planned` are the
    /// sequences of the table's earlier columns.
    pub(super) fn serial_sequence(
        &mut self,
        table: &QualifiedName,
        column: &str,
        data_type: DataType,
        options: &[ast::SequenceOptions],
        planned: &[SequenceDef],
    ) -> Result<SequenceDef> {
        let base = format!("{}_{column}_seq", table.name);
        let mut name = base.clone();
        let mut n = 0;
        while name == table.name
            || planned.iter().any(|s| s.name == name)
            || self.catalog.relation_exists(self.txn, &table.schema, &name)?
        {
            n += 1;
            name = format!("{base}{n}");
        }
        let owner =
            OwnerColumn { schema: table.schema.clone(), table: table.name.clone(), column: column.into() };
        let mut options = self.sequence_options(&QualifiedName::new(&table.schema, &name), options)?;
        options.data_type = Some(data_type);
        options.owned_by = Some(Some(owner));
        Ok(apply_options(&table.schema, &name, None, options)?.0)
    }

    /// The sequence a DROP SEQUENCE names, like [`Binder::ddl_table`].
    pub(super) fn ddl_sequence(
        &self,
        name: &ast::ObjectName,
        missing_ok: bool,
    ) -> Result<Option<SequenceDef>> {
        let name = name_ref(name)?;
        if !self.schema_of_existing(&name, missing_ok)? {
            return Ok(None);
        }
        match self.find_sequence(&name)? {
            Some(def) => Ok(Some(def)),
            None if missing_ok && self.find_relation(&name)?.is_none() => Ok(None),
            None => self.require_sequence(&name).map(Some),
        }
    }
}

/// The integer type of a SERIAL column type (`serial`, `bigserial`, `serial2`, ...).
pub(super) fn serial_type(t: &ast::DataType) -> Option<DataType> {
    let ast::DataType::Custom(name, modifiers) = t else { return None };
    let [part] = name.0.as_slice() else { return None };
    let ident = part.as_ident().filter(|i| i.quote_style.is_none())?;
    if !modifiers.is_empty() {
        return None;
    }
    match ident.value.to_ascii_lowercase().as_str() {
        "serial" | "serial4" => Some(DataType::Integer),
        "bigserial" | "serial8" => Some(DataType::BigInt),
        "smallserial" | "serial2" => Some(DataType::SmallInt),
        _ => None,
    }
}

/// The DEFAULT of a column filled from `sequence`, as PostgreSQL shows it (the schema
/// only outside `public`).
pub(super) fn nextval_default(sequence: &SequenceDef) -> String {
    let quoted = |s: &str| {
        let plain = s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit());
        if plain { s.to_string() } else { format!("\"{}\"", s.replace('"', "\"\"")) }
    };
    let name = match sequence.schema.as_str() {
        crate::catalog::PUBLIC => quoted(&sequence.name),
        schema => format!("{}.{}", quoted(schema), quoted(&sequence.name)),
    };
    format!("nextval('{}'::regclass)", name.replace('\'', "''"))
}

/// Whether a cast's type is `regclass`.
fn is_regclass(t: &ast::DataType) -> bool {
    match t {
        ast::DataType::Regclass => true,
        ast::DataType::Custom(name, _) => {
            name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| i.value.eq_ignore_ascii_case("regclass"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regclass_names_fold_and_split() {
        let name = regclass_name("Public.\"My.Seq\"").expect("name");
        assert_eq!(name, NameRef { schema: Some("public".into()), name: "My.Seq".into() });
        assert_eq!(regclass_name("S").expect("name").name, "s");
        assert!(regclass_name("a..b").is_err());
        assert!(regclass_name("\"open").is_err());
    }
}
