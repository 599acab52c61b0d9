//! Sessions: statements in, results out, with PostgreSQL's transaction behaviour.
//!
//! Outside `BEGIN ... COMMIT` every statement runs in its own transaction (autocommit).
//! Inside a transaction block, each statement sees the effects of the earlier ones, and
//! an error puts the block into the failed state: further statements are refused with
//! 25P02 until `ROLLBACK` (a `COMMIT` of a failed block rolls back, as in PostgreSQL).
//!
//! Life of a statement: [`crate::parser::parse`] -> [`Binder::statement`] (names and types,
//! inside the transaction) -> parameters substituted -> [`optimizer::optimize`] ->
//! [`exec::execute`] -> rows collected into an [`Output`].

use std::sync::Arc;

use phantom_txn::Transaction;
use sqlparser::ast::Statement as Ast;

use crate::binder::{Binder, BoundStatement, NewIndex, NewTable};
use crate::catalog::{IndexDef, TableDef};
use crate::error::{Error, Result, SqlState};
use crate::exec::{self, Context};
use crate::instance::Instance;
use crate::parser;
use crate::planner::{Expr, Plan, explain, optimizer};
use crate::result::{Column, Output, Row, Rows};
use crate::types::cast::{self, CastKind};
use crate::types::{DataType, Value};

/// A column of a table, as `\d` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDescription {
    /// The column's name.
    pub name: String,
    /// Its type.
    pub data_type: DataType,
    /// False for NOT NULL columns.
    pub nullable: bool,
    /// The DEFAULT expression, as SQL text.
    pub default: Option<String>,
}

/// A table, as `\d` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDescription {
    /// The table's name.
    pub name: String,
    /// Its columns.
    pub columns: Vec<ColumnDescription>,
    /// The primary key's column names, in key order (empty if none).
    pub primary_key: Vec<String>,
    /// The storage engine.
    pub engine: String,
    /// Secondary indexes, as `\d` lists them: e.g. `emp_email UNIQUE (email) lsm`.
    pub indexes: Vec<String>,
    /// CHECK constraints: e.g. `t_v_check CHECK (v > 0)`.
    pub checks: Vec<String>,
    /// The table's foreign keys: e.g. `c_p_id_fkey FOREIGN KEY (p_id) REFERENCES p (id)`.
    pub foreign_keys: Vec<String>,
    /// Foreign keys of tables that reference this one, as
    /// `TABLE c CONSTRAINT c_p_id_fkey FOREIGN KEY (p_id) REFERENCES p (id)`.
    pub referenced_by: Vec<String>,
}

/// A parsed statement with `$n` parameters, ready to execute many times.
#[derive(Clone, Debug)]
pub struct Prepared {
    statement: Ast,
    /// The types of the parameters, as far as the statement's context decides them.
    pub parameter_types: Vec<DataType>,
}

/// A connection's state: its open transaction, if any.
pub struct Session {
    instance: Arc<Instance>,
    /// The explicit transaction block, if one is open.
    txn: Option<Transaction>,
    /// True once a statement failed inside the block.
    failed: bool,
}

impl Session {
    /// A new session on `instance`.
    pub fn new(instance: Arc<Instance>) -> Session {
        Session { instance, txn: None, failed: false }
    }

    /// True inside `BEGIN ... COMMIT`.
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// True inside a transaction block that hit an error.
    pub fn transaction_failed(&self) -> bool {
        self.failed
    }

    /// Runs every statement in `sql` and returns the last one's output.
    pub fn execute(&mut self, sql: &str) -> Result<Output> {
        let statements = self.parse(parser::parse(sql))?;
        let mut last = Output::Command("EMPTY".into());
        for statement in &statements {
            last = self.run(statement, &[])?;
        }
        Ok(last)
    }

    /// Runs one query and returns its rows.
    pub fn query(&mut self, sql: &str) -> Result<Rows> {
        let statement = self.parse(parser::parse_one(sql))?;
        match self.run(&statement, &[])? {
            Output::Rows(rows) => Ok(rows),
            other => Err(Error::new(
                SqlState::InvalidParameterValue,
                format!("statement returned no rows ({})", other.tag()),
            )),
        }
    }

    /// Parses and checks a statement with `$1`, `$2`, ... parameters.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared> {
        let statement = self.parse(parser::parse_one(sql))?;
        let parameter_types = match &statement {
            Ast::Query(_) | Ast::Insert(_) | Ast::Update(_) | Ast::Delete(_) => {
                let txn = self.txn.clone().unwrap_or_else(|| self.instance.store.begin());
                let mut binder =
                    Binder::new(&self.instance.catalog, &txn).with_system_views(&self.instance.store);
                let bound = binder.statement(&statement);
                let types = binder.parameter_types();
                if self.txn.is_none() {
                    txn.rollback()?;
                }
                bound?;
                types
            }
            _ => Vec::new(),
        };
        Ok(Prepared { statement, parameter_types })
    }

    /// Runs a prepared statement with `params` for its `$n` placeholders.
    pub fn execute_prepared(&mut self, prepared: &Prepared, params: &[Value]) -> Result<Output> {
        if params.len() != prepared.parameter_types.len() {
            return Err(Error::new(
                SqlState::SyntaxError,
                format!(
                    "wrong number of parameters for prepared statement: expected {}, got {}",
                    prepared.parameter_types.len(),
                    params.len()
                ),
            ));
        }
        self.run(&prepared.statement, params)
    }

    /// The names of all tables.
    pub fn tables(&mut self) -> Result<Vec<String>> {
        self.read(|instance, txn| Ok(instance.catalog.tables(txn)?.iter().map(|t| t.name.clone()).collect()))
    }

    /// Describes table `name`.
    pub fn describe(&mut self, name: &str) -> Result<TableDescription> {
        self.read(|instance, txn| {
            let t = instance.catalog.require_table(txn, name)?;
            Ok(TableDescription {
                name: t.name.clone(),
                columns: t
                    .columns
                    .iter()
                    .map(|c| ColumnDescription {
                        name: c.name.clone(),
                        data_type: c.data_type,
                        nullable: c.nullable,
                        default: c.default.clone(),
                    })
                    .collect(),
                primary_key: t.primary_key.iter().map(|&i| t.columns[i].name.clone()).collect(),
                engine: t.engine.clone(),
                indexes: t
                    .indexes
                    .iter()
                    .map(|ix| {
                        let columns: Vec<&str> =
                            ix.columns.iter().map(|&c| t.columns[c].name.as_str()).collect();
                        let unique = if ix.unique { " UNIQUE" } else { "" };
                        format!("{}{unique} ({}) {}", ix.name, columns.join(", "), ix.engine)
                    })
                    .collect(),
                checks: t.checks.iter().map(|c| format!("{} CHECK ({})", c.name, c.expr)).collect(),
                foreign_keys: t
                    .foreign_keys
                    .iter()
                    .map(|fk| exec::constraints::describe_foreign_key(&instance.catalog, txn, &t, fk))
                    .collect::<Result<_>>()?,
                referenced_by: exec::constraints::referenced_by(&instance.catalog, txn, &t)?,
            })
        })
    }

    /// Runs `f` in the open transaction, or in a fresh read-only one.
    fn read<T>(&mut self, f: impl FnOnce(&Instance, &Transaction) -> Result<T>) -> Result<T> {
        match &self.txn {
            Some(txn) => f(&self.instance, txn),
            None => {
                let txn = self.instance.store.begin();
                let result = f(&self.instance, &txn);
                txn.rollback()?;
                result
            }
        }
    }

    /// Passes a parse result through; a syntax error inside a transaction block fails the
    /// block, as any other error there does (PostgreSQL behaves the same).
    fn parse<T>(&mut self, parsed: Result<T>) -> Result<T> {
        if parsed.is_err() && self.txn.is_some() {
            self.failed = true;
        }
        parsed
    }

    fn run(&mut self, statement: &Ast, params: &[Value]) -> Result<Output> {
        match statement {
            Ast::StartTransaction { modes, .. } => {
                if !modes.is_empty() {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        "transaction modes (isolation levels, READ ONLY) are not supported yet",
                    ));
                }
                if self.txn.is_none() {
                    self.txn = Some(self.instance.store.begin());
                    self.failed = false;
                }
                // PostgreSQL warns and carries on when a block is already open.
                Ok(Output::Command("BEGIN".into()))
            }
            Ast::Commit { .. } => match self.txn.take() {
                Some(txn) if self.failed => {
                    self.failed = false;
                    txn.rollback()?;
                    Ok(Output::Command("ROLLBACK".into()))
                }
                Some(txn) => {
                    txn.commit()?;
                    Ok(Output::Command("COMMIT".into()))
                }
                None => Ok(Output::Command("COMMIT".into())),
            },
            Ast::Rollback { savepoint: None, .. } => {
                if let Some(txn) = self.txn.take() {
                    txn.rollback()?;
                }
                self.failed = false;
                Ok(Output::Command("ROLLBACK".into()))
            }
            Ast::Rollback { .. } | Ast::Savepoint { .. } | Ast::ReleaseSavepoint { .. } => {
                Err(Error::new(SqlState::FeatureNotSupported, "savepoints are not supported yet"))
            }
            _ => {
                self.in_transaction_block(|instance, txn| execute_statement(instance, txn, statement, params))
            }
        }
    }

    /// Runs `f` inside the open block (failing it on error), or in an autocommitted
    /// transaction of its own.
    fn in_transaction_block(
        &mut self,
        f: impl FnOnce(&Instance, &Transaction) -> Result<Output>,
    ) -> Result<Output> {
        match &self.txn {
            Some(_) if self.failed => Err(Error::new(
                SqlState::InFailedSqlTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            )),
            Some(txn) => {
                txn.next_command();
                let result = f(&self.instance, txn);
                if result.is_err() {
                    self.failed = true;
                }
                result
            }
            None => {
                let txn = self.instance.store.begin();
                match f(&self.instance, &txn) {
                    Ok(output) => {
                        txn.commit()?;
                        Ok(output)
                    }
                    Err(e) => {
                        txn.rollback()?;
                        Err(e)
                    }
                }
            }
        }
    }
}

fn execute_statement(
    instance: &Instance,
    txn: &Transaction,
    statement: &Ast,
    params: &[Value],
) -> Result<Output> {
    let mut binder = Binder::new(&instance.catalog, txn).with_system_views(&instance.store);
    let bound = binder.statement(statement)?;
    let types = binder.parameter_types();
    let cx = Context {
        txn: txn.clone(),
        sequences: instance.sequences.clone(),
        catalog: instance.catalog.clone(),
    };
    match bound {
        BoundStatement::Query(plan) => {
            let plan = optimizer::optimize(bind_parameters(plan, params, &types)?)?;
            let columns = plan.columns();
            let visible: Vec<usize> = (0..columns.len()).filter(|&i| !columns[i].hidden).collect();
            let mut rows = Vec::new();
            for row in exec::execute(plan, &cx)? {
                let mut row = row?;
                if visible.len() != row.len() {
                    row = visible.iter().map(|&i| std::mem::take(&mut row[i])).collect();
                }
                rows.push(Row(row));
            }
            let columns = visible
                .iter()
                .map(|&i| Column { name: columns[i].name.clone(), data_type: columns[i].data_type })
                .collect();
            Ok(Output::Rows(Rows { columns, rows }))
        }
        BoundStatement::Modify(plan) => {
            let command = match &plan {
                Plan::Insert { .. } => "INSERT",
                Plan::Update { .. } => "UPDATE",
                _ => "DELETE",
            };
            let plan = optimizer::optimize(bind_parameters(plan, params, &types)?)?;
            let rows = exec::modify(plan, &cx)?;
            Ok(Output::Modified { command, rows })
        }
        BoundStatement::CreateTable(new) => create_table(instance, txn, new),
        BoundStatement::DropTable { names, if_exists } => {
            exec::constraints::check_drop_tables(&instance.catalog, txn, &names)?;
            for name in names {
                match instance.catalog.table(txn, &name)? {
                    Some(table) => {
                        instance.catalog.delete_table(txn, &name)?;
                        for keyspace in table.keyspaces() {
                            txn.drop_keyspace(keyspace)?;
                        }
                        instance.sequences.forget(table.keyspace);
                    }
                    None if if_exists => {}
                    None => {
                        return Err(Error::new(
                            SqlState::UndefinedTable,
                            format!("table \"{name}\" does not exist"),
                        ));
                    }
                }
            }
            Ok(Output::Command("DROP TABLE".into()))
        }
        BoundStatement::CreateIndex(new) => create_index(instance, txn, new),
        BoundStatement::DropIndex { names, if_exists } => {
            for name in names {
                match instance.catalog.index_owner(txn, &name)? {
                    Some((table, position)) => {
                        exec::constraints::check_drop_index(&instance.catalog, txn, &table, position)?;
                        let mut table = (*table).clone();
                        let index = table.indexes.remove(position);
                        instance.catalog.put_table(txn, &table)?;
                        txn.drop_keyspace(index.keyspace)?;
                    }
                    None if if_exists => {}
                    None => {
                        return Err(Error::new(
                            SqlState::UndefinedObject,
                            format!("index \"{name}\" does not exist"),
                        ));
                    }
                }
            }
            Ok(Output::Command("DROP INDEX".into()))
        }
        BoundStatement::Explain(inner) => {
            let plan = match *inner {
                BoundStatement::Query(plan) | BoundStatement::Modify(plan) => plan,
                _ => return Err(Error::new(SqlState::FeatureNotSupported, "EXPLAIN of this statement")),
            };
            let plan = optimizer::optimize(bind_parameters(plan, params, &types)?)?;
            let rows = explain::explain(&plan).into_iter().map(|l| Row(vec![Value::Text(l)])).collect();
            Ok(Output::Rows(Rows {
                columns: vec![Column { name: "QUERY PLAN".into(), data_type: DataType::Text }],
                rows,
            }))
        }
    }
}

fn create_table(instance: &Instance, txn: &Transaction, new: NewTable) -> Result<Output> {
    if instance.catalog.table(txn, &new.name)?.is_some() {
        if new.if_not_exists {
            return Ok(Output::Command("CREATE TABLE".into()));
        }
        return Err(Error::new(
            SqlState::DuplicateTable,
            format!("relation \"{}\" already exists", new.name),
        ));
    }
    let (keyspace, engine) = txn.create_keyspace(new.engine)?;
    // UNIQUE constraints are unique indexes, created empty with the table.
    let mut indexes = Vec::with_capacity(new.uniques.len());
    for (name, columns) in new.uniques {
        let (keyspace, engine) = txn.create_keyspace(None)?;
        indexes.push(IndexDef { name, keyspace, engine: engine.description(), columns, unique: true });
    }
    let table = TableDef {
        name: new.name,
        keyspace,
        engine: engine.description(),
        columns: new.columns,
        primary_key: new.primary_key,
        indexes,
        checks: new.checks,
        foreign_keys: new.foreign_keys,
    };
    instance.catalog.put_table(txn, &table)?;
    Ok(Output::Command("CREATE TABLE".into()))
}

/// Replaces `$n` placeholders with the given values, converted to the types the statement
/// expects.
fn bind_parameters(plan: Plan, params: &[Value], types: &[DataType]) -> Result<Plan> {
    if types.is_empty() {
        return Ok(plan);
    }
    if params.len() < types.len() {
        return Err(Error::new(
            SqlState::UndefinedParameter,
            format!("there is no parameter ${}", params.len() + 1),
        ));
    }
    let values: Vec<Value> = params
        .iter()
        .zip(types)
        .map(|(v, ty)| cast::cast(v.clone(), *ty, CastKind::Assignment))
        .collect::<Result<_>>()?;
    plan.map_exprs(&mut |e| {
        Ok(e.transform(&mut |x| match x {
            Expr::Parameter(i) => Expr::Constant(values.get(i).cloned().unwrap_or(Value::Null)),
            x => x,
        }))
    })
}

/// Creates an index and fills it from the table's rows.
fn create_index(instance: &Instance, txn: &Transaction, new: NewIndex) -> Result<Output> {
    let taken = instance.catalog.table(txn, &new.name)?.is_some()
        || instance.catalog.index_owner(txn, &new.name)?.is_some();
    if taken {
        if new.if_not_exists {
            return Ok(Output::Command("CREATE INDEX".into()));
        }
        return Err(Error::new(
            SqlState::DuplicateTable,
            format!("relation \"{}\" already exists", new.name),
        ));
    }
    let table = instance.catalog.require_table(txn, &new.table)?;
    let (keyspace, engine) = txn.create_keyspace(new.engine)?;
    let index = IndexDef {
        name: new.name,
        keyspace,
        engine: engine.description(),
        columns: new.columns,
        unique: new.unique,
    };
    let mut table = (*table).clone();
    table.indexes.push(index.clone());
    crate::index::build(txn, &table, &index)?;
    instance.catalog.put_table(txn, &table)?;
    Ok(Output::Command("CREATE INDEX".into()))
}
