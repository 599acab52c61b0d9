//! Binding the PostgreSQL dialect that clients' catalog queries use: the `oid` and
//! `reg*` casts, `~` and `OPERATOR(pg_catalog.~)`, `COLLATE "default"`, `x = ANY(array)`,
//! array subscripts, `ARRAY(SELECT ...)` and the compatibility functions (`version()`,
//! `format_type()`, `pg_get_indexdef()`, ...).
//!
//! OIDs are BIGINT values. A `reg*` type is an OID that PostgreSQL shows by name; here a
//! `reg*` cast yields the OID, and the name appears where it is asked for: a `::text`
//! cast of it, or a select-list item that is such a cast (as in psql's
//! `conrelid::pg_catalog.regclass AS ontable`).
//!
//! Answers that depend on the catalog (a relation's OID from its name, an index's
//! definition, a table's size) are computed here, while binding, from the catalog as the
//! statement's transaction sees it: a constant argument is looked up at once, any other
//! becomes a scalar subquery over a small table of precomputed answers, so that it still
//! works per row (`pg_get_indexdef(i.indexrelid)`).
//!
//! Arrays are carried as their text form (see `exec/pg_functions.rs`).

use std::borrow::Cow;
use std::sync::Arc;

use sqlparser::ast::{self, BinaryOperator};

use super::expr::{Cx, Typed, plain_args};
use super::{Binder, object_name};
use crate::block::SettingChange;
use crate::catalog::pg_catalog;
use crate::error::{Error, Result, SqlState};
use crate::exec::pg_functions::{NO_TYPMOD, PgFunction, quote_element};
use crate::planner::expr::{CmpOp, Expr, Function, Subquery, SubqueryKind};
use crate::planner::{OutputColumn, Plan};
use crate::types::{DataType, Value};

/// The compatibility functions [`Binder::pg_function`] binds (`pg_proc` lists them).
pub const FUNCTIONS: &[&str] = &[
    "version",
    "current_database",
    "current_catalog",
    "current_schema",
    "current_schemas",
    "current_user",
    "session_user",
    "user",
    "current_role",
    "pg_table_is_visible",
    "pg_type_is_visible",
    "pg_function_is_visible",
    "has_table_privilege",
    "has_sequence_privilege",
    "has_schema_privilege",
    "has_database_privilege",
    "has_column_privilege",
    "has_any_column_privilege",
    "pg_has_role",
    "format_type",
    "pg_get_userbyid",
    "pg_get_expr",
    "pg_size_pretty",
    "obj_description",
    "col_description",
    "shobj_description",
    "pg_get_statisticsobjdef_columns",
    "pg_get_triggerdef",
    "pg_get_function_result",
    "pg_get_function_arguments",
    "pg_get_partkeydef",
    "pg_relation_is_publishable",
    "pg_encoding_to_char",
    "pg_backend_pid",
    "pg_postmaster_start_time",
    "txid_current",
    "pg_current_xact_id",
    "quote_ident",
    "array_to_string",
    "array_position",
    "array_upper",
    "array_length",
    "array_lower",
    "current_setting",
    "set_config",
    "to_regtype",
    "to_regclass",
    "pg_get_indexdef",
    "pg_get_constraintdef",
    "pg_get_viewdef",
    "pg_relation_size",
    "pg_table_size",
    "pg_total_relation_size",
    "pg_indexes_size",
    "pg_partition_ancestors",
];

/// The OID types PostgreSQL shows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reg {
    Oid,
    Class,
    Type,
    Proc,
    Namespace,
    Role,
}

/// The `oid` / `reg*` type a cast names, if it does.
fn reg_type(t: &ast::DataType) -> Option<Reg> {
    if let ast::DataType::Regclass = t {
        return Some(Reg::Class);
    }
    let ast::DataType::Custom(name, _) = t else { return None };
    Some(match object_name(name).ok()?.as_str() {
        "oid" | "xid" | "cid" => Reg::Oid,
        "regclass" => Reg::Class,
        "regtype" => Reg::Type,
        "regproc" | "regprocedure" => Reg::Proc,
        "regnamespace" => Reg::Namespace,
        "regrole" => Reg::Role,
        _ => return None,
    })
}

/// The cast inside `e` (under parentheses), when it is a cast to a `reg*` type.
fn reg_cast(e: &ast::Expr) -> Option<(&ast::Expr, Reg)> {
    match e {
        ast::Expr::Nested(inner) => reg_cast(inner),
        ast::Expr::Cast { expr, data_type, .. } => {
            reg_type(data_type).filter(|r| *r != Reg::Oid).map(|r| (expr.as_ref(), r))
        }
        _ => None,
    }
}

fn text(s: impl Into<String>) -> Typed {
    Typed { expr: Expr::Constant(Value::Text(s.into())), ty: DataType::Text, literal: false }
}

fn typed(expr: Expr, ty: DataType) -> Typed {
    Typed { expr, ty, literal: false }
}

fn pg(f: PgFunction, args: Vec<Expr>, ty: DataType) -> Typed {
    typed(Expr::Call(Function::Pg(f), args, ty), ty)
}

/// A relation name as `regclass` input reads it: an optional schema, quotes honoured,
/// unquoted names folded to lower case.
pub(super) fn relation_name(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("public.").or_else(|| s.strip_prefix("pg_catalog.")).unwrap_or(s);
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => s.to_lowercase(),
    }
}

/// The value of a SQL keyword that reads like a column (`current_schema`, `user`), in a
/// session running as role `user` (`current_user`) and logged in as `session_user`.
pub(super) fn keyword_value(name: &str, user: &str, session_user: &str) -> Option<Typed> {
    Some(match name {
        "current_user" | "user" | "current_role" => text(user),
        "session_user" => text(session_user),
        "current_catalog" => text(pg_catalog::DATABASE_NAME),
        _ => return None,
    })
}

impl Binder<'_> {
    /// The role the session runs as (the bootstrap superuser where no session settings
    /// were given).
    /// `current_schema`: the first schema of the search path that exists (NULL if none),
    /// where an object created without a schema would go.
    pub(super) fn current_schema(&self) -> Result<Typed> {
        for schema in crate::catalog::lookup_schemas(&self.search_path) {
            if self.catalog.schema_exists(self.txn, schema)? {
                return Ok(text(schema));
            }
        }
        Ok(typed(Expr::Constant(Value::Null), DataType::Text))
    }

    pub(super) fn current_user(&self) -> &str {
        self.settings.map_or(pg_catalog::OWNER_NAME, |s| s.user.as_str())
    }

    /// The role the session logged in as, or was given by SET SESSION AUTHORIZATION.
    pub(super) fn session_user(&self) -> &str {
        self.settings.map_or(pg_catalog::OWNER_NAME, |s| s.session_user.as_str())
    }

    /// The name of the role with OID `oid` (`pg_get_userbyid`, `::regrole` output):
    /// looked up in the catalog's roles, or `unknown (OID=n)`.
    fn role_name(&mut self, oid: Expr) -> Result<Typed> {
        let table = self
            .catalog
            .roles(self.txn)?
            .into_iter()
            .map(|r| (vec![Value::Int(r.oid)], Value::Text(r.name)))
            .collect();
        let name = self.lookup(vec![oid.clone()], table, DataType::Text);
        let unknown = Expr::Call(Function::Pg(PgFunction::UserName), vec![oid], DataType::Text);
        Ok(typed(Expr::Call(Function::Coalesce, vec![name.expr, unknown], DataType::Text), DataType::Text))
    }

    /// A compatibility function called `name`, or `None` if there is none by that name.
    pub(super) fn pg_function(
        &mut self,
        name: &str,
        f: &ast::Function,
        cx: &mut Cx<'_>,
    ) -> Result<Option<Typed>> {
        if name == "array"
            && let ast::FunctionArguments::Subquery(q) = &f.args
        {
            return self.array_subquery(q, cx).map(Some);
        }
        let known = FUNCTIONS.contains(&name);
        if !known {
            return Ok(None);
        }
        let mut args = Vec::new();
        for a in plain_args(f)? {
            args.push(self.expr(&a, cx)?);
        }
        let arity = |min: usize, max: usize| -> Result<()> {
            if args.len() < min || args.len() > max {
                return Err(Error::undefined_function(format!(
                    "function {name}() does not take {} arguments",
                    args.len()
                )));
            }
            Ok(())
        };
        let null_text = typed(Expr::Constant(Value::Null), DataType::Text);
        Ok(Some(match name {
            "version" => {
                arity(0, 0)?;
                text(format!(
                    "PostgreSQL {} (Phantom-DB {}) on {}-{}, 64-bit",
                    pg_catalog::SERVER_VERSION,
                    env!("CARGO_PKG_VERSION"),
                    std::env::consts::ARCH,
                    std::env::consts::OS
                ))
            }
            "current_database" | "current_catalog" => {
                arity(0, 0)?;
                text(pg_catalog::DATABASE_NAME)
            }
            "current_schema" => {
                arity(0, 0)?;
                self.current_schema()?
            }
            "current_user" | "user" | "current_role" => {
                arity(0, 0)?;
                text(self.current_user())
            }
            "session_user" => {
                arity(0, 0)?;
                text(self.session_user())
            }
            "current_schemas" => {
                arity(1, 1)?;
                let flag = self.coerce(args.remove(0), DataType::Boolean, name)?;
                // The schemas of the search path that exist, in order; with the implicit
                // ones, pg_catalog first (unless the path names it), as in PostgreSQL.
                let mut explicit = Vec::new();
                for schema in crate::catalog::lookup_schemas(&self.search_path) {
                    if self.catalog.schema_exists(self.txn, schema)? {
                        explicit.push(schema.to_string());
                    }
                }
                let mut implicit = explicit.clone();
                if !implicit.iter().any(|s| s == "pg_catalog") {
                    implicit.insert(0, "pg_catalog".to_string());
                }
                let array = |names: Vec<String>| Expr::Constant(pg_catalog::array_text(names));
                pg(PgFunction::CurrentSchemas, vec![flag, array(implicit), array(explicit)], DataType::Text)
            }
            "pg_table_is_visible" | "pg_type_is_visible" | "pg_function_is_visible" => {
                arity(1, 1)?;
                let oid = self.oid_argument(args.remove(0), name)?;
                pg(PgFunction::True, vec![oid], DataType::Boolean)
            }
            "has_table_privilege"
            | "has_sequence_privilege"
            | "has_schema_privilege"
            | "has_database_privilege"
            | "has_column_privilege"
            | "has_any_column_privilege"
            | "pg_has_role" => self.privilege_function(name, args)?,
            "format_type" => {
                arity(2, 2)?;
                let oid = self.oid_argument(args.remove(0), name)?;
                let typmod = self.coerce(args.remove(0), DataType::Integer, name)?;
                // A NULL type modifier is an answer of its own ("character", where -1
                // gives "bpchar"), not a NULL result: it travels as a marker.
                let typmod = Expr::Call(
                    Function::Coalesce,
                    vec![typmod, Expr::Constant(Value::Int(NO_TYPMOD))],
                    DataType::BigInt,
                );
                pg(PgFunction::FormatType, vec![oid, typmod], DataType::Text)
            }
            "pg_get_userbyid" => {
                arity(1, 1)?;
                let oid = self.oid_argument(args.remove(0), name)?;
                self.role_name(oid)?
            }
            "pg_get_expr" => {
                arity(2, 3)?;
                let expr = self.any_value(args.remove(0), name)?;
                pg(PgFunction::First, vec![expr], DataType::Text)
            }
            "pg_size_pretty" => {
                arity(1, 1)?;
                let bytes = self.coerce(args.remove(0), DataType::BigInt, name)?;
                pg(PgFunction::SizePretty, vec![bytes], DataType::Text)
            }
            "obj_description"
            | "col_description"
            | "shobj_description"
            | "pg_get_statisticsobjdef_columns"
            | "pg_get_triggerdef"
            | "pg_get_function_result"
            | "pg_get_function_arguments"
            | "pg_get_partkeydef" => {
                arity(1, 3)?;
                // Phantom-DB keeps no comments, statistics objects, triggers or
                // user-defined functions: there is nothing to describe.
                null_text
            }
            "pg_relation_is_publishable" => {
                arity(1, 1)?;
                typed(Expr::Constant(Value::Boolean(false)), DataType::Boolean)
            }
            "pg_encoding_to_char" => {
                arity(1, 1)?;
                let encoding = self.coerce(args.remove(0), DataType::Integer, name)?;
                pg(PgFunction::EncodingToChar, vec![encoding], DataType::Text)
            }
            "pg_backend_pid" => {
                arity(0, 0)?;
                typed(Expr::Constant(Value::Int(i64::from(std::process::id()))), DataType::Integer)
            }
            "pg_postmaster_start_time" => {
                arity(0, 0)?;
                typed(Expr::Constant(Value::TimestampTz(process_start_micros())), DataType::TimestampTz)
            }
            "txid_current" | "pg_current_xact_id" => {
                arity(0, 0)?;
                let id = i64::try_from(self.txn.id()).unwrap_or(i64::MAX);
                typed(Expr::Constant(Value::Int(id)), DataType::BigInt)
            }
            "quote_ident" => {
                arity(1, 1)?;
                let s = self.coerce(args.remove(0), DataType::Text, name)?;
                pg(PgFunction::QuoteIdent, vec![s], DataType::Text)
            }
            "array_to_string" => {
                arity(2, 3)?;
                let args = args.into_iter().map(|a| self.any_value(a, name)).collect::<Result<_>>()?;
                pg(PgFunction::ArrayToString, args, DataType::Text)
            }
            "array_position" => {
                arity(2, 2)?;
                let args = args.into_iter().map(|a| self.any_value(a, name)).collect::<Result<_>>()?;
                pg(PgFunction::ArrayPosition, args, DataType::Integer)
            }
            "array_upper" | "array_length" | "array_lower" => {
                arity(2, 2)?;
                let array = self.any_value(args.remove(0), name)?;
                let dim = self.coerce(args.remove(0), DataType::Integer, name)?;
                let f = if name == "array_lower" { PgFunction::ArrayLower } else { PgFunction::ArrayUpper };
                pg(f, vec![array, dim], DataType::Integer)
            }
            "current_setting" => {
                arity(1, 2)?;
                let missing_ok = match args.get(1).map(|a| &a.expr) {
                    Some(Expr::Constant(Value::Boolean(b))) => *b,
                    _ => false,
                };
                let Expr::Constant(Value::Text(setting)) = &args[0].expr else {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        "current_setting() needs a constant setting name",
                    ));
                };
                let setting = setting.to_lowercase();
                let settings = self.current_settings()?;
                match settings.as_deref().map(|s| s.show(&setting, Some(self.txn.isolation()))) {
                    Some(Ok(value)) => text(value),
                    Some(Err(_)) | None if missing_ok => null_text,
                    Some(Err(e)) => return Err(e),
                    None => pg_catalog::read_only_setting(&setting).map(text).ok_or_else(|| {
                        Error::new(
                            SqlState::UndefinedObject,
                            format!("unrecognized configuration parameter \"{setting}\""),
                        )
                    })?,
                }
            }
            "set_config" => {
                arity(3, 3)?;
                let known: Vec<Option<Value>> = args.iter().map(|a| self.known_value(&a.expr)).collect();
                if known.contains(&None)
                    && self.param_values.is_none()
                    && args.iter().any(|a| matches!(a.expr, Expr::Parameter(_)))
                {
                    // Being prepared: the parameters' values come when it runs.
                    return Ok(Some(null_text));
                }
                let (Some(Value::Text(setting)), Some(value), Some(local)) =
                    (&known[0], &known[1], &known[2])
                else {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        "set_config() needs constant arguments",
                    ));
                };
                let local = match local {
                    Value::Boolean(b) => *b,
                    Value::Null => false,
                    other => {
                        return Err(Error::undefined_function(format!(
                            "function set_config(text, text, {}) does not exist",
                            other.data_type()
                        )));
                    }
                };
                let value = match value {
                    Value::Text(v) => v.clone(),
                    Value::Null => "default".to_string(),
                    other => other.to_string(),
                };
                let change = SettingChange { name: setting.to_lowercase(), value, local };
                // Checked now, on a copy, so a bad value fails the statement as SET would,
                // and the new value is the function's result.
                let mut after = self.current_settings()?.map(Cow::into_owned).ok_or_else(|| {
                    Error::new(SqlState::FeatureNotSupported, "set_config() needs a session")
                })?;
                if change.name != "transaction_isolation" {
                    after.set(&change.name, &change.value)?;
                }
                let shown = after.show(&change.name, Some(self.txn.isolation()))?;
                self.setting_changes.push(change);
                text(shown)
            }
            "to_regtype" => {
                arity(1, 1)?;
                let s = self.coerce(args.remove(0), DataType::Text, name)?;
                pg(PgFunction::ToRegType, vec![s], DataType::BigInt)
            }
            "to_regclass" => {
                arity(1, 1)?;
                let s = self.coerce(args.remove(0), DataType::Text, name)?;
                self.relation_oid(s, false)?
            }
            "pg_get_indexdef" => {
                arity(1, 3)?;
                let oid = self.oid_argument(args.remove(0), name)?;
                let column = match args.is_empty() {
                    true => Expr::Constant(Value::Int(0)),
                    false => self.coerce(args.remove(0), DataType::Integer, name)?,
                };
                self.index_definition(oid, column)?
            }
            "pg_get_constraintdef" => {
                arity(1, 2)?;
                let oid = self.oid_argument(args.remove(0), name)?;
                let table = pg_catalog::constraints(self.catalog, self.txn)?
                    .into_iter()
                    .map(|c| (vec![Value::Int(c.oid)], Value::Text(c.definition)))
                    .collect();
                self.lookup(vec![oid], table, DataType::Text)
            }
            "pg_get_viewdef" => {
                arity(1, 2)?;
                let oid = self.oid_argument(args.remove(0), name)?;
                let table = pg_catalog::relations(self.catalog, self.txn)?
                    .into_iter()
                    .filter_map(|r| {
                        Some((vec![Value::Int(r.oid)], Value::Text(format!(" {};", r.view_sql?))))
                    })
                    .collect();
                self.lookup(vec![oid], table, DataType::Text)
            }
            "pg_relation_size" | "pg_table_size" | "pg_total_relation_size" | "pg_indexes_size" => {
                arity(1, 2)?;
                let oid = self.oid_argument(args.remove(0), name)?;
                self.relation_size(oid, name)?
            }
            "pg_partition_ancestors" => {
                // Without partitioning a relation's only "ancestor" is itself.
                arity(1, 1)?;
                let oid = self.oid_argument(args.remove(0), name)?;
                typed(oid, DataType::BigInt)
            }
            _ => return Ok(None),
        }))
    }

    /// An argument of any type (untyped literals become text).
    fn any_value(&mut self, x: Typed, what: &str) -> Result<Expr> {
        if x.literal { self.coerce(x, DataType::Text, what) } else { Ok(x.expr) }
    }

    /// An OID argument: an integer, or a literal that is an OID or a relation's name.
    pub(super) fn oid_argument(&mut self, x: Typed, what: &str) -> Result<Expr> {
        if let (true, Expr::Constant(Value::Text(s))) = (x.literal, &x.expr) {
            if let Ok(oid) = s.trim().parse::<i64>() {
                return Ok(Expr::Constant(Value::Int(oid)));
            }
            let s = s.clone();
            return Ok(self.relation_oid(text(s).expr, true)?.expr);
        }
        if x.ty.is_integer() || x.ty == DataType::Null || x.literal {
            return self.coerce(x, DataType::BigInt, what);
        }
        Err(Error::undefined_function(format!("function {what}({}) does not exist", x.ty)))
    }

    /// The value of a constant, or of a `$n` parameter when the values are known.
    fn known_value(&self, expr: &Expr) -> Option<Value> {
        match expr {
            Expr::Constant(v) => Some(v.clone()),
            Expr::Parameter(i) => self.param_values.and_then(|values| values.get(*i)).cloned(),
            _ => None,
        }
    }

    /// The OID of the relation named by the text expression `name`; with `strict`, a
    /// constant name that names nothing is an error (as `'x'::regclass` is), otherwise
    /// NULL (as `to_regclass('x')`).
    fn relation_oid(&mut self, name: Expr, strict: bool) -> Result<Typed> {
        let relations = pg_catalog::relations(self.catalog, self.txn)?;
        if let Expr::Constant(Value::Text(s)) = &name {
            let wanted = relation_name(s);
            return match relations.iter().find(|r| r.name == wanted) {
                Some(r) => Ok(typed(Expr::Constant(Value::Int(r.oid)), DataType::BigInt)),
                None if let Some(oid) = pg_catalog::system_relation_oid(&wanted) => {
                    Ok(typed(Expr::Constant(Value::Int(oid)), DataType::BigInt))
                }
                None if strict => {
                    Err(Error::new(SqlState::UndefinedTable, format!("relation \"{wanted}\" does not exist")))
                }
                None => Ok(typed(Expr::Constant(Value::Null), DataType::BigInt)),
            };
        }
        let table = relations.into_iter().map(|r| (vec![Value::Text(r.name)], Value::Int(r.oid))).collect();
        Ok(self.lookup(vec![name], table, DataType::BigInt))
    }

    /// `pg_get_indexdef(oid, column)`: the definition (column 0) or a column's name.
    fn index_definition(&mut self, oid: Expr, column: Expr) -> Result<Typed> {
        let mut table = Vec::new();
        for r in pg_catalog::relations(self.catalog, self.txn)? {
            let Some(ix) = r.index else { continue };
            table.push((vec![Value::Int(r.oid), Value::Int(0)], Value::Text(ix.definition)));
            for (i, (name, ..)) in r.columns.iter().enumerate() {
                table.push((vec![Value::Int(r.oid), Value::Int(i as i64 + 1)], Value::Text(name.clone())));
            }
        }
        Ok(self.lookup(vec![oid, column], table, DataType::Text))
    }

    /// `pg_relation_size` and friends, from the storage statistics (bytes on disk; in a
    /// memory database, the bytes the stored versions take).
    fn relation_size(&mut self, oid: Expr, function: &str) -> Result<Typed> {
        let relations = pg_catalog::relations(self.catalog, self.txn)?;
        let mut table = Vec::new();
        if let Some(store) = self.store {
            for r in &relations {
                let own = pg_catalog::disk_bytes(store, &r.keyspaces);
                let indexes: i64 = relations
                    .iter()
                    .filter(|i| i.index.as_ref().is_some_and(|ix| ix.table == r.oid))
                    .map(|i| pg_catalog::disk_bytes(store, &i.keyspaces))
                    .sum();
                let size = match function {
                    "pg_total_relation_size" => own + indexes,
                    "pg_indexes_size" => indexes,
                    _ => own,
                };
                table.push((vec![Value::Int(r.oid)], Value::Int(size)));
            }
        }
        Ok(self.lookup(vec![oid], table, DataType::BigInt))
    }

    /// The value for `keys` in `table` (NULL when absent), as a scalar subquery over the
    /// table's rows, so that non-constant keys are looked up per row.
    pub(super) fn lookup(&mut self, keys: Vec<Expr>, table: Vec<(Vec<Value>, Value)>, ty: DataType) -> Typed {
        let width = keys.len();
        let column = |name: String, data_type| OutputColumn { table: None, name, data_type, hidden: false };
        let mut columns: Vec<OutputColumn> =
            (0..width).map(|i| column(format!("key{i}"), DataType::Null)).collect();
        columns.push(column("value".into(), ty));
        let rows = table
            .into_iter()
            .map(|(k, v)| k.into_iter().chain(std::iter::once(v)).map(Expr::Constant).collect())
            .collect();
        let values = Plan::Values { rows, columns };
        let conditions = (0..width)
            .map(|i| Expr::Compare(CmpOp::Eq, Expr::Column(i).boxed(), Expr::Outer(i).boxed()))
            .collect();
        let filter = match Expr::conjunction(conditions) {
            Some(predicate) => Plan::Filter { input: values.boxed(), predicate },
            None => values,
        };
        let plan = Plan::Project {
            input: filter.boxed(),
            exprs: vec![Expr::Column(width)],
            columns: vec![column("value".into(), ty)],
        };
        let subquery = Subquery {
            kind: SubqueryKind::Scalar,
            plan: Arc::new(plan),
            args: keys,
            operand: None,
            runner: None,
        };
        typed(Expr::Subquery(Box::new(subquery)), ty)
    }

    /// `ARRAY(SELECT ...)`: the rows' values as an array (its text form).
    fn array_subquery(&mut self, q: &ast::Query, cx: &mut Cx<'_>) -> Result<Typed> {
        self.subquery(q, SubqueryKind::Array, None, cx)
    }

    /// A cast PostgreSQL has and the core binder does not: to `oid` / `reg*`, `name`,
    /// `"char"`, arrays, and `pg_catalog.`-qualified standard type names. `None` for any
    /// other cast.
    pub(super) fn pg_cast(
        &mut self,
        e: &ast::Expr,
        t: &ast::DataType,
        cx: &mut Cx<'_>,
    ) -> Result<Option<Typed>> {
        if let Some(reg) = reg_type(t) {
            let x = self.expr(e, cx)?;
            return self.reg_input(x, reg).map(Some);
        }
        match t {
            ast::DataType::Array(def) => {
                let element = match def {
                    ast::ArrayElemTypeDef::SquareBracket(t, _)
                    | ast::ArrayElemTypeDef::AngleBracket(t)
                    | ast::ArrayElemTypeDef::Parenthesis(t) => self.data_type(t)?,
                    _ => DataType::Text,
                };
                let x = self.expr(e, cx)?;
                let x = self.any_value(x, "array cast")?;
                let checked = pg(PgFunction::ArrayIn { element }, vec![x], DataType::Text);
                // A constant array is checked now, so a malformed literal is an error
                // even where the value is never read.
                return Ok(Some(match &checked.expr {
                    e if e.is_constant() => typed(Expr::Constant(e.eval(&[])?), DataType::Text),
                    _ => checked,
                }));
            }
            ast::DataType::Custom(name, modifiers) if modifiers.is_empty() => {
                let target = match object_name(name)?.as_str() {
                    "name" => DataType::Text,
                    "char" => {
                        // `"char"` is one byte: the first character, or an octal escape.
                        let x = self.expr(e, cx)?;
                        let x = self.any_value(x, "\"char\"")?;
                        let x = Expr::Cast(x.boxed(), DataType::Text);
                        return Ok(Some(pg(PgFunction::CharIn, vec![x], DataType::Text)));
                    }
                    "text" => DataType::Text,
                    "varchar" => DataType::Varchar(None),
                    "bool" | "boolean" => DataType::Boolean,
                    "int" | "integer" => DataType::Integer,
                    "smallint" => DataType::SmallInt,
                    "bigint" => DataType::BigInt,
                    "date" => DataType::Date,
                    "timestamp" => DataType::Timestamp,
                    "timestamptz" => DataType::TimestampTz,
                    "interval" => DataType::Interval,
                    "bytea" => DataType::Bytea,
                    _ => return Ok(None),
                };
                if let (Some((inner, reg)), true) = (reg_cast(e), target.is_string()) {
                    let x = self.expr(inner, cx)?;
                    let oid = self.reg_input(x, reg)?;
                    return self.reg_output(oid.expr, reg).map(Some);
                }
                let x = self.expr(e, cx)?;
                return self.cast(x, target).map(Some);
            }
            _ => {}
        }
        // `x::regclass::text` with a standard text type.
        if let Some((inner, reg)) = reg_cast(e) {
            let target = self.data_type(t)?;
            if target.is_string() {
                let x = self.expr(inner, cx)?;
                let oid = self.reg_input(x, reg)?;
                return self.reg_output(oid.expr, reg).map(Some);
            }
        }
        Ok(None)
    }

    /// A select-list item that is a `reg*` cast shows the name, as PostgreSQL's output
    /// function would; only in the statement's own result, since inside a subquery the
    /// value is compared with OIDs.
    pub(super) fn pg_select_item(&mut self, e: &ast::Expr, cx: &mut Cx<'_>) -> Result<Option<Typed>> {
        let Some((inner, reg)) = reg_cast(e) else { return Ok(None) };
        if !self.outer.is_empty() {
            return Ok(None);
        }
        let x = self.expr(inner, cx)?;
        let oid = self.reg_input(x, reg)?;
        self.reg_output(oid.expr, reg).map(Some)
    }

    /// `x::oid` and `x::reg*`: an OID (names are looked up).
    fn reg_input(&mut self, x: Typed, reg: Reg) -> Result<Typed> {
        // (An untyped parameter is a NULL-typed literal: it is text, a name.)
        if x.ty == DataType::Null && !x.literal {
            return Ok(typed(x.expr, DataType::BigInt));
        }
        if x.ty.is_integer() {
            let bigint = x.ty == DataType::BigInt;
            return Ok(match x.expr {
                Expr::Constant(Value::Int(v)) => typed(
                    Expr::Constant(Value::Int(crate::exec::pg_functions::int_to_oid(v, bigint)?)),
                    DataType::BigInt,
                ),
                e => pg(PgFunction::IntToOid { bigint }, vec![e], DataType::BigInt),
            });
        }
        if !(x.literal || x.ty.is_string()) {
            return Err(Error::new(
                SqlState::DatatypeMismatch,
                format!("cannot cast type {} to an OID type", x.ty),
            ));
        }
        let constant = match &x.expr {
            Expr::Constant(Value::Text(s)) if x.literal => Some(s.trim().to_string()),
            _ => None,
        };
        if let Some(s) = &constant
            && let Ok(oid) = s.parse::<i64>()
        {
            // oidin: what an int4 or an unsigned 32-bit number can say.
            let oid = crate::exec::pg_functions::int_to_oid(oid, false).map_err(|_| {
                Error::new(
                    SqlState::NumericValueOutOfRange,
                    format!("value \"{s}\" is out of range for type oid"),
                )
            })?;
            return Ok(typed(Expr::Constant(Value::Int(oid)), DataType::BigInt));
        }
        let name = self.any_value(x, "OID cast")?;
        match reg {
            Reg::Oid => Ok(typed(Expr::Cast(name.boxed(), DataType::BigInt), DataType::BigInt)),
            Reg::Class => self.relation_oid(name, true),
            Reg::Type => Ok(pg(PgFunction::RegTypeIn, vec![name], DataType::BigInt)),
            Reg::Namespace => Ok(pg(PgFunction::NamespaceIn, vec![name], DataType::BigInt)),
            Reg::Role => match constant.as_deref() {
                Some(role) => match self.catalog.role(self.txn, role)? {
                    Some(found) => Ok(typed(Expr::Constant(Value::Int(found.oid)), DataType::BigInt)),
                    None => Err(crate::catalog::no_role(role)),
                },
                None => Err(Error::new(SqlState::FeatureNotSupported, "regrole input must be a constant")),
            },
            Reg::Proc => {
                let Some(s) = constant else {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        "regproc input must be a constant",
                    ));
                };
                let wanted = s.trim_start_matches("pg_catalog.");
                let oid = pg_catalog::functions().into_iter().find(|f| f.name == wanted).map(|f| f.oid);
                let oid =
                    oid.ok_or_else(|| Error::undefined_function(format!("function \"{s}\" does not exist")))?;
                Ok(typed(Expr::Constant(Value::Int(oid)), DataType::BigInt))
            }
        }
    }

    /// The name a `reg*` OID shows as (the OID itself when nothing has it).
    fn reg_output(&mut self, oid: Expr, reg: Reg) -> Result<Typed> {
        let shown = |oid: Value, name: String| (vec![oid], Value::Text(name));
        let table: Vec<(Vec<Value>, Value)> = match reg {
            Reg::Oid => return Ok(typed(Expr::Cast(oid.boxed(), DataType::Text), DataType::Text)),
            Reg::Type => {
                let none = Expr::Constant(Value::Int(NO_TYPMOD));
                return Ok(pg(PgFunction::FormatType, vec![oid, none], DataType::Text));
            }
            Reg::Namespace => return Ok(pg(PgFunction::NamespaceName, vec![oid], DataType::Text)),
            Reg::Role => return self.role_name(oid),
            Reg::Class => pg_catalog::relations(self.catalog, self.txn)?
                .into_iter()
                .map(|r| shown(Value::Int(r.oid), pg_catalog::quote_ident(&r.name)))
                .collect(),
            Reg::Proc => pg_catalog::functions()
                .into_iter()
                .map(|f| shown(Value::Int(f.oid), f.name.to_string()))
                .collect(),
        };
        let name = self.lookup(vec![oid.clone()], table, DataType::Text);
        let fallback = Expr::Cast(oid.boxed(), DataType::Text);
        Ok(typed(Expr::Call(Function::Coalesce, vec![name.expr, fallback], DataType::Text), DataType::Text))
    }

    /// `a ~ b`, `a !~ b`, `a ~* b`, `a !~* b` and `a OPERATOR(pg_catalog.op) b`.
    pub(super) fn pg_binary(
        &mut self,
        l: &ast::Expr,
        op: &BinaryOperator,
        r: &ast::Expr,
        cx: &mut Cx<'_>,
    ) -> Result<Option<Typed>> {
        use BinaryOperator as B;
        let (negated, case_insensitive) = match op {
            B::PGRegexMatch => (false, false),
            B::PGRegexIMatch => (false, true),
            B::PGRegexNotMatch => (true, false),
            B::PGRegexNotIMatch => (true, true),
            B::PGCustomBinaryOperator(parts) => {
                let symbol = match parts.as_slice() {
                    [schema, symbol] if schema == "pg_catalog" => symbol.as_str(),
                    [symbol] => symbol.as_str(),
                    _ => return Ok(None),
                };
                let standard = match symbol {
                    "~" => B::PGRegexMatch,
                    "~*" => B::PGRegexIMatch,
                    "!~" => B::PGRegexNotMatch,
                    "!~*" => B::PGRegexNotIMatch,
                    "=" => B::Eq,
                    "<>" | "!=" => B::NotEq,
                    "<" => B::Lt,
                    "<=" => B::LtEq,
                    ">" => B::Gt,
                    ">=" => B::GtEq,
                    "+" => B::Plus,
                    "-" => B::Minus,
                    "||" => B::StringConcat,
                    _ => return Ok(None),
                };
                let left = Box::new(l.clone());
                let right = Box::new(r.clone());
                return self.expr(&ast::Expr::BinaryOp { left, op: standard, right }, cx).map(Some);
            }
            _ => return Ok(None),
        };
        let s = self.expr(l, cx)?;
        let s = self.pattern_operand(s)?;
        let p = self.expr(r, cx)?;
        let p = self.pattern_operand(p)?;
        let matched = pg(PgFunction::RegexMatch { case_insensitive }, vec![s, p], DataType::Boolean);
        Ok(Some(if negated { typed(Expr::Not(matched.expr.boxed()), DataType::Boolean) } else { matched }))
    }

    fn pattern_operand(&mut self, x: Typed) -> Result<Expr> {
        match x.ty {
            DataType::Char(_) => Ok(Expr::Call(Function::RTrim, vec![x.expr], DataType::Text)),
            t if t.is_string() || t == DataType::Null || x.literal => self.coerce(x, DataType::Text, "~"),
            t => Err(Error::undefined_operator(format!("operator does not exist: {t} ~ text"), false)),
        }
    }

    /// `x op ANY (array)` and `x op ALL (array)` for an array that is not a subquery.
    pub(super) fn pg_any(
        &mut self,
        left: &ast::Expr,
        op: CmpOp,
        right: &ast::Expr,
        all: bool,
        cx: &mut Cx<'_>,
    ) -> Result<Typed> {
        // `x = ANY (ARRAY[a, b])` is `x IN (a, b)`.
        if let (ast::Expr::Array(array), CmpOp::Eq, false) = (right, op, all) {
            let target = ast::InTarget::List(array.elem.clone());
            let e = ast::Expr::In { expr: Box::new(left.clone()), target, negated: false, global: false };
            return self.expr(&e, cx);
        }
        let x = self.expr(left, cx)?;
        let (x, element) =
            if x.literal { (self.coerce(x, DataType::Text, "ANY")?, DataType::Text) } else { (x.expr, x.ty) };
        let array = self.expr(right, cx)?;
        let array = self.any_value(array, "ANY")?;
        let element = if element == DataType::Null { DataType::Text } else { element };
        Ok(pg(PgFunction::ArrayAny { op, all, element }, vec![x, array], DataType::Boolean))
    }

    /// Expressions of the PostgreSQL dialect the core binder does not know: COLLATE,
    /// subscripts, ARRAY[...].
    pub(super) fn pg_expr(&mut self, e: &ast::Expr, cx: &mut Cx<'_>) -> Result<Typed> {
        match e {
            ast::Expr::Collate { expr, collation } => {
                let name = object_name(collation)?;
                if !matches!(name.as_str(), "default" | "C" | "c" | "POSIX" | "posix" | "ucs_basic") {
                    return Err(Error::new(
                        SqlState::UndefinedObject,
                        format!("collation \"{name}\" for encoding \"UTF8\" does not exist"),
                    ));
                }
                // Strings compare by code point, which is what these collations mean.
                self.expr(expr, cx)
            }
            ast::Expr::CompoundFieldAccess { root, access_chain } => {
                let [ast::AccessExpr::Subscript(ast::Subscript::Index { index })] = access_chain.as_slice()
                else {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        format!("expression not supported: {e}"),
                    ));
                };
                let array = self.expr(root, cx)?;
                let array = self.any_value(array, "subscript")?;
                let index = self.expr(index, cx)?;
                let index = self.coerce(index, DataType::Integer, "array subscript")?;
                // An element's type is not known: like an untyped literal, the context
                // decides it.
                let element =
                    Expr::Call(Function::Pg(PgFunction::Subscript), vec![array, index], DataType::Text);
                Ok(Typed { expr: element, ty: DataType::Text, literal: true })
            }
            ast::Expr::Array(array) => {
                let mut items = Vec::with_capacity(array.elem.len());
                for item in &array.elem {
                    let x = self.expr(item, cx)?;
                    match x.expr {
                        Expr::Constant(Value::Null) => items.push("NULL".to_string()),
                        Expr::Constant(v) => items.push(quote_element(&crate::types::cast::to_text(&v))),
                        _ => {
                            return Err(Error::new(
                                SqlState::FeatureNotSupported,
                                "ARRAY[...] is supported with constant elements only",
                            ));
                        }
                    }
                }
                Ok(typed(Expr::Constant(pg_catalog::array_text(items)), DataType::Text))
            }
            other => {
                Err(Error::new(SqlState::FeatureNotSupported, format!("expression not supported: {other}")))
            }
        }
    }
}

/// When this process started, for `pg_postmaster_start_time()`: the first time anyone
/// asked (close enough for the uptime clients show).
fn process_start_micros() -> i64 {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regclass_names_fold_like_identifiers() {
        assert_eq!(relation_name("Accounts"), "accounts");
        assert_eq!(relation_name("public.t"), "t");
        assert_eq!(relation_name("\"Mixed\"\"Case\""), "Mixed\"Case");
    }
}
