//! CREATE, ALTER and DROP SEQUENCE: the options' rules and the catalog changes.
//!
//! The options follow PostgreSQL: the bounds default from the type and the direction of
//! INCREMENT, START defaults to the bound values start from, and every inconsistency is
//! 22023 with PostgreSQL's wording. The definition is changed in the statement's
//! transaction; a RESTART changes the state at once, like `setval`.

use std::sync::Arc;

use phantom_txn::Transaction;
use sqlparser::ast;

use crate::binder::{Binder, Cx, Scope};
use crate::catalog::{OwnerColumn, QualifiedName, SequenceDef, TableDef};
use crate::error::{Error, Result, SqlState};
use crate::instance::Instance;
use crate::parser;
use crate::planner::Expr;
use crate::result::Output;
use crate::types::DataType;

/// The options of one CREATE or ALTER SEQUENCE, as written.
#[derive(Debug, Default)]
pub struct SequenceOptions {
    pub data_type: Option<DataType>,
    pub increment: Option<i64>,
    /// `Some(None)` is `NO MINVALUE`.
    pub min_value: Option<Option<i64>>,
    pub max_value: Option<Option<i64>>,
    pub start: Option<i64>,
    /// ALTER's `RESTART`: `Some(None)` restarts at START.
    pub restart: Option<Option<i64>>,
    pub cache: Option<i64>,
    pub cycle: Option<bool>,
    /// `Some(None)` is `OWNED BY NONE`.
    pub owned_by: Option<Option<OwnerColumn>>,
}

fn invalid(message: String) -> Error {
    Error::new(SqlState::InvalidParameterValue, message)
}

/// The bounds of a sequence type.
fn type_bounds(data_type: DataType) -> (i64, i64) {
    match data_type {
        DataType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
        DataType::Integer => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    }
}

/// The type `AS type` names, if a sequence may have it.
pub fn sequence_type(data_type: DataType) -> Result<DataType> {
    match data_type {
        DataType::SmallInt | DataType::Integer | DataType::BigInt => Ok(data_type),
        _ => Err(invalid("sequence type must be smallint, integer, or bigint".into())),
    }
}

/// A number in a sequence option (`-5` included).
pub fn option_number(e: &ast::Expr) -> Result<i64> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.parse().map_err(|_| {
                Error::new(
                    SqlState::NumericValueOutOfRange,
                    format!("value \"{n}\" is out of range for type bigint"),
                )
            }),
            other => Err(Error::new(SqlState::SyntaxError, format!("a number was expected, found {other}"))),
        },
        // Negated as text, so the smallest BIGINT (whose magnitude does not fit) is one.
        ast::Expr::UnaryOp { op: ast::UnaryOperator::Minus, expr } => match expr.as_ref() {
            ast::Expr::Value(ast::ValueWithSpan { value: ast::Value::Number(n, _), .. }) => {
                format!("-{n}").parse().map_err(|_| {
                    Error::new(
                        SqlState::NumericValueOutOfRange,
                        format!("value \"-{n}\" is out of range for type bigint"),
                    )
                })
            }
            inner => option_number(inner)?
                .checked_neg()
                .ok_or_else(|| Error::new(SqlState::NumericValueOutOfRange, "bigint out of range")),
        },
        ast::Expr::UnaryOp { op: ast::UnaryOperator::Plus, expr } => option_number(expr),
        ast::Expr::Nested(inner) => option_number(inner),
        other => Err(Error::new(SqlState::SyntaxError, format!("a number was expected, found {other}"))),
    }
}

/// The definition `options` make of `old` (CREATE starts from `None`), checked; and
/// the value a RESTART asks for.
pub fn apply_options(
    schema: &str,
    name: &str,
    old: Option<&SequenceDef>,
    options: SequenceOptions,
) -> Result<(SequenceDef, Option<i64>)> {
    let data_type = options.data_type.or(old.map(|o| o.data_type)).unwrap_or(DataType::BigInt);
    let increment = options.increment.or(old.map(|o| o.increment)).unwrap_or(1);
    if increment == 0 {
        return Err(invalid("INCREMENT must not be zero".into()));
    }
    let (type_min, type_max) = type_bounds(data_type);
    let type_name = data_type.to_string().to_lowercase();
    let (default_min, default_max) = if increment > 0 { (1, type_max) } else { (type_min, -1) };
    // A bound kept from before follows a change of type when it was the old type's own.
    let max_value = match (options.max_value, old) {
        (Some(Some(v)), _) => v,
        (None, Some(o)) if o.max_value != type_bounds(o.data_type).1 => o.max_value,
        _ => default_max,
    };
    let min_value = match (options.min_value, old) {
        (Some(Some(v)), _) => v,
        (None, Some(o)) if o.min_value != type_bounds(o.data_type).0 => o.min_value,
        _ => default_min,
    };
    if max_value > type_max || max_value < type_min {
        return Err(invalid(format!(
            "MAXVALUE ({max_value}) is out of range for sequence data type {type_name}"
        )));
    }
    if min_value > type_max || min_value < type_min {
        return Err(invalid(format!(
            "MINVALUE ({min_value}) is out of range for sequence data type {type_name}"
        )));
    }
    if min_value >= max_value {
        return Err(invalid(format!("MINVALUE ({min_value}) must be less than MAXVALUE ({max_value})")));
    }
    let start =
        options.start.or(old.map(|o| o.start)).unwrap_or(if increment > 0 { min_value } else { max_value });
    check_in_bounds("START", start, min_value, max_value)?;
    let restart = match options.restart {
        Some(value) => {
            let value = value.unwrap_or(start);
            check_in_bounds("RESTART", value, min_value, max_value)?;
            Some(value)
        }
        None => None,
    };
    let cache = options.cache.or(old.map(|o| o.cache)).unwrap_or(1);
    if cache < 1 {
        return Err(invalid(format!("CACHE ({cache}) must be greater than zero")));
    }
    let def = SequenceDef {
        schema: schema.to_string(),
        name: name.to_string(),
        keyspace: old.map_or(0, |o| o.keyspace),
        data_type,
        increment,
        min_value,
        max_value,
        start,
        cache,
        cycle: options.cycle.or(old.map(|o| o.cycle)).unwrap_or(false),
        owned_by: match options.owned_by {
            Some(owner) => owner,
            None => old.and_then(|o| o.owned_by.clone()),
        },
        // A new sequence's owner is filled in when the statement runs.
        owner: old.map_or_else(crate::catalog::acl::bootstrap_owner, |o| o.owner),
        acl: old.and_then(|o| o.acl.clone()),
    };
    Ok((def, restart))
}

fn check_in_bounds(what: &str, value: i64, min_value: i64, max_value: i64) -> Result<()> {
    if value < min_value {
        return Err(invalid(format!("{what} value ({value}) cannot be less than MINVALUE ({min_value})")));
    }
    if value > max_value {
        return Err(invalid(format!("{what} value ({value}) cannot be greater than MAXVALUE ({max_value})")));
    }
    Ok(())
}

/// Creates the sequence `def` (its keyspace is made here); `false` if a relation of its
/// name exists and `if_not_exists` says that is fine.
pub fn create_sequence(
    instance: &Instance,
    txn: &Transaction,
    mut def: SequenceDef,
    if_not_exists: bool,
) -> Result<bool> {
    if instance.catalog.relation_exists(txn, &def.schema, &def.name)? {
        if if_not_exists {
            crate::notice::raise(crate::binder::already_exists(&def.name));
            return Ok(false);
        }
        return Err(Error::new(
            SqlState::DuplicateTable,
            format!("relation \"{}\" already exists", def.name),
        ));
    }
    check_same_owner(instance, txn, &def)?;
    def.keyspace = txn.create_keyspace(None)?.0;
    instance.catalog.put_sequence(txn, &def)?;
    Ok(true)
}

/// A sequence OWNED BY a column belongs to that column's table's owner (55000 otherwise,
/// as in PostgreSQL): whoever may drop the table may drop it along.
fn check_same_owner(instance: &Instance, txn: &Transaction, def: &SequenceDef) -> Result<()> {
    let Some(column) = &def.owned_by else { return Ok(()) };
    let table = instance.catalog.table(txn, &column.schema, &column.table)?;
    if table.is_some_and(|t| t.owner != def.owner) {
        return Err(Error::new(
            SqlState::ObjectNotInPrerequisiteState,
            "sequence must have same owner as table it is linked to",
        ));
    }
    Ok(())
}

/// Stores the changed definition `def`, then restarts it if asked.
pub fn alter_sequence(
    instance: &Instance,
    txn: &Transaction,
    def: SequenceDef,
    restart: Option<i64>,
) -> Result<Output> {
    check_same_owner(instance, txn, &def)?;
    instance.catalog.put_sequence(txn, &def)?;
    instance.sequence_states.changed(&def);
    if let Some(value) = restart {
        instance.sequence_states.set(&def, txn, value, false)?;
    }
    txn.next_command();
    Ok(Output::Command("ALTER SEQUENCE".into()))
}

/// Drops the sequences called `names` (which exist). A column DEFAULT that uses one
/// makes that 2BP01, unless `cascade`, which drops the default.
pub fn drop_sequences(
    instance: &Instance,
    txn: &Transaction,
    names: &[QualifiedName],
    cascade: bool,
) -> Result<()> {
    drop_sequences_except(instance, txn, names, cascade, |_, _| false)
}

/// [`drop_sequences`], not minding the defaults for which `going(table, column)` says
/// they go away anyway.
fn drop_sequences_except(
    instance: &Instance,
    txn: &Transaction,
    names: &[QualifiedName],
    cascade: bool,
    going: impl Fn(&TableDef, usize) -> bool,
) -> Result<()> {
    for name in names {
        let Some(def) = instance.catalog.sequence(txn, &name.schema, &name.name)? else { continue };
        let users: Vec<_> =
            defaults_using(instance, txn, &def)?.into_iter().filter(|(t, c)| !going(t, *c)).collect();
        if let Some((table, column)) = users.first()
            && !cascade
        {
            return Err(Error::new(
                SqlState::DependentObjectsStillExist,
                format!("cannot drop sequence {} because other objects depend on it", def.name),
            )
            .with_detail(format!(
                "default value for column {} of table {} depends on sequence {}",
                table.columns[*column].name, table.name, def.name
            ))
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        for (table, column) in users {
            // The table again: an earlier column may have changed it.
            let mut table = (*instance.catalog.require_table(txn, &table.qualified())?).clone();
            table.columns[column].default = None;
            instance.catalog.put_table(txn, &table)?;
            txn.next_command();
        }
        instance.catalog.delete_sequence(txn, name)?;
        txn.drop_keyspace(def.keyspace)?;
        instance.sequence_states.forget(def.keyspace);
    }
    txn.next_command();
    Ok(())
}

/// The columns (table, position) whose DEFAULT calls a sequence function on `def`. The
/// defaults are bound again (as views are, see [`crate::depend`]), so nothing stored can
/// go stale; one that no longer binds uses nothing.
fn defaults_using(
    instance: &Instance,
    txn: &Transaction,
    def: &SequenceDef,
) -> Result<Vec<(Arc<TableDef>, usize)>> {
    let mut binder = Binder::new(&instance.catalog, txn);
    let mut users = Vec::new();
    for table in instance.catalog.tables(txn)? {
        for (i, column) in table.columns.iter().enumerate() {
            let Some(text) = &column.default else { continue };
            let Ok(e) = parser::parse_expr(text) else { continue };
            let Ok(bound) = binder.expr(&e, &mut Cx::new(&Scope::default(), "DEFAULT")) else { continue };
            let uses = bound.expr.any(&mut |x| {
                matches!(x, Expr::Sequence(call) if call.sequence.as_ref().is_some_and(|s| s.keyspace == def.keyspace))
            });
            if uses {
                users.push((table.clone(), i));
            }
        }
    }
    Ok(users)
}

/// Drops the sequences owned by `table` (by `column` of it, if given): what goes with a
/// SERIAL column. Other columns' defaults that use them are dropped too, as PostgreSQL's
/// automatic dependency does.
pub fn drop_owned_sequences(
    instance: &Instance,
    txn: &Transaction,
    table: &QualifiedName,
    column: Option<&str>,
) -> Result<()> {
    let owned: Vec<QualifiedName> = instance
        .catalog
        .sequences(txn)?
        .iter()
        .filter(|s| s.is_owned_by(table, column))
        .map(SequenceDef::qualified)
        .collect();
    if owned.is_empty() {
        return Ok(());
    }
    // The owning column's own default goes with it.
    let going = |t: &TableDef, c: usize| {
        t.qualified() == *table && column.is_none_or(|name| t.columns[c].name == name)
    };
    drop_sequences_except(instance, txn, &owned, true, going)
}

/// Keeps the sequences owned by `table` owned after it is renamed to `new_name` or,
/// with `column`, after that column is renamed (old name, new name).
pub fn follow_owner(
    instance: &Instance,
    txn: &Transaction,
    table: &QualifiedName,
    new_name: &str,
    column: Option<(&str, &str)>,
) -> Result<()> {
    for mut sequence in instance.catalog.sequences(txn)? {
        let Some(owner) = sequence.owned_by.as_mut() else { continue };
        if owner.schema != table.schema || owner.table != table.name {
            continue;
        }
        match column {
            Some((old, new)) if owner.column == old => owner.column = new.to_string(),
            Some(_) => continue,
            None => owner.table = new_name.to_string(),
        }
        instance.catalog.put_sequence(txn, &sequence)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(options: SequenceOptions) -> Result<SequenceDef> {
        apply_options("public", "s", None, options).map(|(def, _)| def)
    }

    #[test]
    fn bounds_default_from_type_and_direction() {
        let up = create(SequenceOptions::default()).expect("default");
        assert_eq!((up.min_value, up.max_value, up.start, up.increment), (1, i64::MAX, 1, 1));
        let down = create(SequenceOptions { increment: Some(-2), ..Default::default() }).expect("down");
        assert_eq!((down.min_value, down.max_value, down.start), (i64::MIN, -1, -1));
        let small = create(SequenceOptions { data_type: Some(DataType::SmallInt), ..Default::default() })
            .expect("smallint");
        assert_eq!(small.max_value, 32767);
    }

    #[test]
    fn inconsistent_options_are_22023() {
        let code = |o: SequenceOptions| create(o).map_err(|e| e.sqlstate()).err();
        assert_eq!(code(SequenceOptions { increment: Some(0), ..Default::default() }), Some("22023"));
        assert_eq!(
            code(SequenceOptions {
                min_value: Some(Some(5)),
                max_value: Some(Some(5)),
                ..Default::default()
            }),
            Some("22023")
        );
        assert_eq!(code(SequenceOptions { start: Some(0), ..Default::default() }), Some("22023"));
        assert_eq!(code(SequenceOptions { cache: Some(0), ..Default::default() }), Some("22023"));
        assert_eq!(
            code(SequenceOptions {
                data_type: Some(DataType::SmallInt),
                max_value: Some(Some(40000)),
                ..Default::default()
            }),
            Some("22023")
        );
    }

    #[test]
    fn option_numbers_reach_both_ends_of_bigint() {
        let number = |sql: &str| option_number(&crate::parser::parse_expr(sql).expect("parse"));
        assert_eq!(number("-9223372036854775808").ok(), Some(i64::MIN));
        assert_eq!(number("9223372036854775807").ok(), Some(i64::MAX));
        assert_eq!(number("-(5)").ok(), Some(-5));
        assert_eq!(number("9223372036854775808").map_err(|e| e.sqlstate()).err(), Some("22003"));
        assert_eq!(number("'x'").map_err(|e| e.sqlstate()).err(), Some("42601"));
    }

    #[test]
    fn alter_keeps_what_it_does_not_change() {
        let old = create(SequenceOptions { max_value: Some(Some(10)), ..Default::default() }).expect("old");
        let (new, restart) = apply_options(
            "public",
            "s",
            Some(&old),
            SequenceOptions { increment: Some(3), restart: Some(None), ..Default::default() },
        )
        .expect("alter");
        assert_eq!((new.max_value, new.increment, restart), (10, 3, Some(1)));
    }
}
