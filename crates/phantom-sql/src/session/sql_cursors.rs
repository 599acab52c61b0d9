//! SQL cursors: `DECLARE`, `FETCH`, `MOVE` and `CLOSE`, with PostgreSQL's semantics.
//!
//! A declared cursor is a [`Cursor`] (the live row stream the extended protocol's portals
//! use, see `cursor.rs`) plus what SQL adds on top: a name, a position and options.
//!
//! - **Position.** As in PostgreSQL a cursor is before the first row, on a row, or after
//!   the last one; here that is one number `pos`: 0 before the first row, `n` on row `n`,
//!   `total + 1` after the last (the total is known once the query ran out). Every
//!   direction of FETCH and MOVE is worked out exactly as PostgreSQL's
//!   `DoPortalRunFetch` does, as steps forward and backward, so counts, end positions
//!   and which directions a NO SCROLL cursor refuses match it.
//! - **NO SCROLL** (the default here; PostgreSQL makes a cursor scrollable by default
//!   when its plan happens to run backwards cheaply, which is not promised): rows are
//!   pulled from the stream and handed on, nothing is kept, so FETCH FORWARD over a
//!   huge query costs one page at a time. Going back fails with 55000.
//! - **SCROLL**: every row read so far is kept in memory, so going back and re-reading
//!   is a look-up; rows are still only computed when a fetch first reaches them. The
//!   cost is memory for the rows read (an ABSOLUTE -1 reads them all), charged (with
//!   the query's own operators) to the budget of the DECLARE (`phantom.statement_mem`,
//!   see [`crate::budget`]): past it a FETCH fails with 53200.
//! - **WITH HOLD**: at COMMIT the rows not read yet are computed and kept (what
//!   PostgreSQL does too), and the cursor lives on without a transaction until CLOSE or
//!   the end of the session. A ROLLBACK of the declaring transaction drops it; an error
//!   while computing the rows fails the COMMIT, which then rolls back. A large held
//!   result costs its size in memory (PostgreSQL spills it to a file), charged like a
//!   SCROLL cursor's rows: past the budget the COMMIT fails with 53200 and rolls back.
//! - **Lifetime.** Other cursors close when their transaction ends, and cursors declared
//!   after a savepoint close at `ROLLBACK TO` it, as PostgreSQL's portals of an aborted
//!   subtransaction do. A cursor whose fetch failed cannot be used again (55000), even
//!   after the block is revived by `ROLLBACK TO`.
//!
//! Not supported: `BINARY` cursors (0A000; clients that want binary rows ask for them
//! per FETCH through the extended protocol), `FOR UPDATE` with SCROLL or WITH HOLD
//! (0A000, as in PostgreSQL), `WHERE CURRENT OF`, and the `pg_cursors` view.

use std::collections::VecDeque;

use phantom_txn::TxnId;
use sqlparser::ast::{self, FetchDirection, Statement as Ast};

use super::{Cursor, Session};
use crate::block::Block;
use crate::budget::Reservation;
use crate::error::{Error, Result, SqlState};
use crate::result::{Column, Output, Row, RowSink, Rows};
use crate::types::Value;

/// A cursor made by DECLARE.
pub(super) struct Declared {
    columns: Vec<Column>,
    scroll: bool,
    hold: bool,
    /// The transaction that declared it.
    txn: TxnId,
    /// Savepoints open when it was declared: `ROLLBACK TO` one of them closes it.
    depth: usize,
    /// Its COMMIT computed the remaining rows: it no longer needs a transaction.
    held: bool,
    /// A fetch failed: it cannot be used any more.
    failed: bool,
    /// The rows not read from the query yet; `None` once all were.
    live: Option<Cursor>,
    /// Rows read and kept: all of them for SCROLL (`first_kept` is then 1), the ones not
    /// fetched yet of a held NO SCROLL cursor.
    kept: VecDeque<Row>,
    /// What the kept rows are charged (given back when the cursor closes).
    kept_charge: Reservation,
    /// The number of the row `kept[0]` is.
    first_kept: u64,
    /// How many rows were read from the query.
    read: u64,
    /// The number of rows, once the query ran out.
    total: Option<u64>,
    /// 0: before the first row; `n`: on row `n`; `total + 1`: after the last.
    pos: u64,
}

/// Where FETCH and MOVE go, as PostgreSQL reduces them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Direction {
    /// `count` rows forward, all that are left if `None`.
    Forward(Option<u64>),
    /// `count` rows backward, back to the first if `None`.
    Backward(Option<u64>),
    Absolute(i64),
    Relative(i64),
}

/// How the rows a step reads are pulled from a live cursor: the session's
/// [`Session::fetch`], which checks and fails the transaction block.
type Pull<'a> = dyn FnMut(&mut Cursor, Option<usize>, &mut dyn RowSink) -> Result<u64> + 'a;

impl Declared {
    fn at_end(&self) -> bool {
        self.total.is_some_and(|total| self.pos > total)
    }

    fn on_row(&self) -> bool {
        self.pos > 0 && !self.at_end()
    }

    fn require_scroll(&self) -> Result<()> {
        if self.scroll {
            return Ok(());
        }
        Err(Error::new(SqlState::ObjectNotInPrerequisiteState, "cursor can only scan forward")
            .with_hint("Declare it with SCROLL option to enable backward scan."))
    }

    /// Back to before the first row; only a scrollable cursor that moved can.
    fn rewind(&mut self) -> Result<()> {
        if self.pos > 0 {
            self.require_scroll()?;
            self.pos = 0;
        }
        Ok(())
    }

    /// Moves in `direction`, handing the rows it lands on to `out` (FETCH) or nowhere
    /// (MOVE); returns the count PostgreSQL reports. Mirrors `DoPortalRunFetch`.
    fn go(&mut self, direction: Direction, out: Option<&mut dyn RowSink>, pull: &mut Pull) -> Result<u64> {
        let is_move = out.is_none();
        match direction {
            Direction::Forward(Some(0)) | Direction::Backward(Some(0)) | Direction::Relative(0) => {
                // Zero re-reads the current row, if the cursor is on one.
                let on_row = self.on_row();
                if is_move {
                    return Ok(u64::from(on_row));
                }
                if on_row {
                    self.backward(Some(1), None)?;
                    return self.forward(Some(1), out, pull);
                }
                if matches!(direction, Direction::Backward(_)) {
                    self.require_scroll()?;
                }
                Ok(0)
            }
            Direction::Forward(count) => self.forward(count, out, pull),
            Direction::Backward(None) if is_move => {
                let before = self.pos - u64::from(self.at_end());
                let passed = if before > 0 && !self.at_end() { before - 1 } else { before };
                self.rewind()?;
                Ok(passed)
            }
            Direction::Backward(count) => self.backward(count, out),
            Direction::Absolute(n) if n > 0 => {
                let n = n.unsigned_abs();
                // PostgreSQL's choice between rewinding and stepping from here decides
                // what a NO SCROLL cursor refuses, so it is the same choice.
                let position = self.pos - u64::from(self.at_end());
                if n - 1 <= position / 2 {
                    self.rewind()?;
                    if n > 1 {
                        self.forward(Some(n - 1), None, pull)?;
                    }
                } else if n <= self.pos {
                    self.backward(Some(self.pos - n + 1), None)?;
                } else if n > self.pos + 1 {
                    self.forward(Some(n - self.pos - 1), None, pull)?;
                }
                self.forward(Some(1), out, pull)
            }
            Direction::Absolute(0) => {
                self.rewind()?;
                Ok(0)
            }
            Direction::Absolute(n) => {
                // Checked first: it would fail after reading every row otherwise.
                self.require_scroll()?;
                self.forward(None, None, pull)?;
                if n < -1 {
                    self.backward(Some(n.unsigned_abs() - 1), None)?;
                }
                self.backward(Some(1), out)
            }
            Direction::Relative(n) if n > 0 => {
                if n > 1 {
                    self.forward(Some(n.unsigned_abs() - 1), None, pull)?;
                }
                self.forward(Some(1), out, pull)
            }
            Direction::Relative(n) => {
                if n < -1 {
                    self.backward(Some(n.unsigned_abs() - 1), None)?;
                }
                self.backward(Some(1), out)
            }
        }
    }

    /// Up to `count` rows forward (all if `None`): first the kept rows past the position,
    /// then rows pulled from the query. Running out leaves the cursor after the last row.
    fn forward(
        &mut self,
        count: Option<u64>,
        mut out: Option<&mut dyn RowSink>,
        pull: &mut Pull,
    ) -> Result<u64> {
        let wanted = |moved: u64| count.is_none_or(|c| moved < c);
        let mut moved = 0;
        while wanted(moved) && self.pos < self.read {
            let next = self.pos + 1;
            let row = if self.scroll {
                self.kept.get((next - self.first_kept) as usize).cloned()
            } else {
                self.first_kept += 1;
                self.kept.pop_front()
            };
            let row = row.ok_or_else(|| Error::new(SqlState::InternalError, "a cursor lost a row"))?;
            if let Some(out) = out.as_deref_mut() {
                out.row(row)?;
            }
            self.pos = next;
            moved += 1;
        }
        if !wanted(moved) {
            return Ok(moved);
        }
        if self.total.is_some() {
            self.pos = self.read + 1;
            return Ok(moved);
        }
        let Some(live) = self.live.as_mut() else {
            return Err(Error::new(SqlState::InternalError, "a cursor lost its query"));
        };
        let max = count.map(|c| c - moved);
        let limit = max.map(|m| usize::try_from(m).unwrap_or(usize::MAX));
        let mut reader = Reader { keep: self.scroll.then_some((&mut self.kept, &mut self.kept_charge)), out };
        let got = pull(live, limit, &mut reader)?;
        self.read += got;
        self.pos += got;
        moved += got;
        if self.scroll {
            self.first_kept = 1;
        } else {
            self.first_kept = self.read + 1;
        }
        if max.is_none_or(|m| got < m) {
            self.total = Some(self.read);
            self.pos = self.read + 1;
            self.live = None;
        }
        Ok(moved)
    }

    /// Up to `count` rows backward (back to the first if `None`), from the kept rows;
    /// passing the first leaves the cursor before it.
    fn backward(&mut self, count: Option<u64>, mut out: Option<&mut dyn RowSink>) -> Result<u64> {
        self.require_scroll()?;
        let mut moved = 0;
        while count.is_none_or(|c| moved < c) {
            if self.pos <= 1 {
                self.pos = 0;
                break;
            }
            let prev = self.pos - 1;
            if let Some(out) = out.as_deref_mut() {
                let row = self.kept.get((prev - self.first_kept) as usize).cloned();
                out.row(row.ok_or_else(|| Error::new(SqlState::InternalError, "a cursor lost a row"))?)?;
            }
            self.pos = prev;
            moved += 1;
        }
        Ok(moved)
    }
}

/// Passes rows pulled from a live cursor on: kept (SCROLL) and/or handed to the FETCH's
/// sink.
struct Reader<'a, 'b> {
    keep: Option<(&'a mut VecDeque<Row>, &'a mut Reservation)>,
    out: Option<&'a mut (dyn RowSink + 'b)>,
}

impl RowSink for Reader<'_, '_> {
    fn columns(&mut self, _: &[Column]) -> Result<()> {
        // The FETCH's sink heard the columns once, before any step.
        Ok(())
    }

    fn row(&mut self, row: Row) -> Result<()> {
        match (self.keep.as_mut(), self.out.as_deref_mut()) {
            (Some((keep, charge)), Some(out)) => {
                charge.charge_row(&row.0)?;
                keep.push_back(row.clone());
                out.row(row)
            }
            (Some((keep, charge)), None) => {
                charge.charge_row(&row.0)?;
                keep.push_back(row);
                Ok(())
            }
            (None, Some(out)) => out.row(row),
            (None, None) => Ok(()),
        }
    }
}

/// A cursor's name: folded to lower case unless quoted, like any identifier.
fn cursor_name(name: &ast::Ident) -> String {
    if name.quote_style.is_some() { name.value.clone() } else { name.value.to_ascii_lowercase() }
}

fn no_cursor(name: &str) -> Error {
    Error::new(SqlState::InvalidCursorName, format!("cursor \"{name}\" does not exist"))
}

fn unsupported(what: &str) -> Error {
    Error::new(SqlState::FeatureNotSupported, format!("{what} is not supported"))
}

/// The direction of a parsed FETCH or MOVE.
fn direction(direction: &FetchDirection) -> Result<Direction> {
    let number = |value: &ast::ValueWithSpan| -> Result<i64> {
        match &value.value {
            ast::Value::Number(text, _) => text.parse().map_err(|_| {
                Error::new(SqlState::NumericValueOutOfRange, format!("FETCH count {text} is out of range"))
            }),
            other => Err(Error::new(SqlState::SyntaxError, format!("syntax error at or near \"{other}\""))),
        }
    };
    // A negative count goes the other way.
    let forward = |n: i64| {
        if n < 0 {
            Direction::Backward(Some(n.unsigned_abs()))
        } else {
            Direction::Forward(Some(n.unsigned_abs()))
        }
    };
    let one = |limit: &Option<ast::ValueWithSpan>| limit.as_ref().map_or(Ok(1), number);
    Ok(match direction {
        FetchDirection::Count { limit } => forward(number(limit)?),
        FetchDirection::Next => Direction::Forward(Some(1)),
        FetchDirection::Prior => Direction::Backward(Some(1)),
        FetchDirection::First => Direction::Absolute(1),
        FetchDirection::Last => Direction::Absolute(-1),
        FetchDirection::Absolute { limit } => Direction::Absolute(number(limit)?),
        FetchDirection::Relative { limit } => Direction::Relative(number(limit)?),
        FetchDirection::All | FetchDirection::ForwardAll => Direction::Forward(None),
        FetchDirection::Forward { limit } => forward(one(limit)?),
        FetchDirection::Backward { limit } => match forward(one(limit)?) {
            Direction::Forward(n) => Direction::Backward(n),
            _ => Direction::Forward(Some(one(limit)?.unsigned_abs())),
        },
        FetchDirection::BackwardAll => Direction::Backward(None),
    })
}

impl Session {
    /// The columns of the declared cursor `name` (as stored: exact case), if there is
    /// one: what a FETCH from it returns, and what the wire protocol's Describe of a
    /// portal of that name reports.
    pub fn cursor_columns(&self, name: &str) -> Option<&[Column]> {
        self.cursors.get(name).map(|c| c.columns.as_slice())
    }

    /// The columns a FETCH statement will return, for preparing it (`None` for MOVE or
    /// an unknown cursor, which fails when run).
    pub(super) fn fetch_columns(
        &self,
        name: &ast::Ident,
        into: Option<&ast::ObjectName>,
    ) -> Option<Vec<Column>> {
        if into.is_some() {
            return None;
        }
        self.cursor_columns(&cursor_name(name)).map(<[Column]>::to_vec)
    }

    /// `DECLARE name [BINARY] [INSENSITIVE] [[NO] SCROLL] CURSOR [WITH[OUT] HOLD] FOR
    /// query`, with `params` for the query's `$n` placeholders.
    pub(super) fn declare(&mut self, declarations: &[ast::Declare], params: &[Value]) -> Result<Output> {
        if let Some(block) = &self.block {
            block.refuse_if_failed()?;
        }
        let [declaration] = declarations else { return Err(unsupported("DECLARE of several names")) };
        let (Some(ast::DeclareType::Cursor), [name], Some(query)) =
            (&declaration.declare_type, declaration.names.as_slice(), &declaration.for_query)
        else {
            return Err(unsupported("DECLARE of anything but a cursor"));
        };
        if declaration.binary == Some(true) {
            return Err(unsupported("DECLARE BINARY CURSOR").with_hint("Ask for binary rows in each FETCH."));
        }
        let (scroll, hold) = (declaration.scroll == Some(true), declaration.hold == Some(true));
        if !query.locks.is_empty() && (scroll || hold) {
            let what = if scroll {
                "DECLARE SCROLL CURSOR ... FOR UPDATE"
            } else {
                "DECLARE CURSOR WITH HOLD ... FOR UPDATE"
            };
            return Err(unsupported(what));
        }
        let name = cursor_name(name);
        if name.is_empty() {
            return Err(Error::new(SqlState::InvalidCursorName, "invalid cursor name: must not be empty"));
        }
        if self.cursors.contains_key(&name) {
            return Err(Error::new(SqlState::DuplicateCursor, format!("cursor \"{name}\" already exists")));
        }
        let query = Ast::Query(query.clone());
        if self.block.is_none() {
            if !hold {
                return Err(Error::new(
                    SqlState::NoActiveSqlTransaction,
                    "DECLARE CURSOR can only be used in transaction blocks",
                ));
            }
            // A held cursor outlives its transaction: declared in one of its own, which
            // commits at once (computing its rows), as PostgreSQL does.
            let txn = self.settings.begin(&self.instance.store, None, &self.interrupt);
            self.block = Some(Block::new(txn, false));
            if let Err(e) = self.open_declared(name, &query, params, scroll, hold) {
                self.rollback_block()?;
                return Err(e);
            }
            self.commit_block()?;
        } else {
            self.open_declared(name, &query, params, scroll, hold)?;
        }
        Ok(Output::Command("DECLARE CURSOR".into()))
    }

    fn open_declared(
        &mut self,
        name: String,
        query: &Ast,
        params: &[Value],
        scroll: bool,
        hold: bool,
    ) -> Result<()> {
        let live = self.start_query(query, params)?;
        let Some(block) = self.block.as_ref() else {
            return Err(Error::new(SqlState::InternalError, "a cursor was opened outside its block"));
        };
        let declared = Declared {
            columns: live.columns().to_vec(),
            scroll,
            hold,
            txn: block.txn.id(),
            depth: block.savepoint_depth(),
            held: false,
            failed: false,
            live: Some(live),
            kept: VecDeque::new(),
            kept_charge: self.budget.reservation("cursor"),
            first_kept: 1,
            read: 0,
            total: None,
            pos: 0,
        };
        self.cursors.insert(name, declared);
        Ok(())
    }

    /// `FETCH [direction] [FROM | IN] name` (rows to `sink`) and `MOVE ...` (a count).
    pub(super) fn fetch_or_move(
        &mut self,
        name: &ast::Ident,
        fetch_direction: &FetchDirection,
        into: Option<&ast::ObjectName>,
        sink: &mut dyn RowSink,
    ) -> Result<Output> {
        if let Some(block) = &self.block {
            block.refuse_if_failed()?;
        }
        let is_move = match into {
            None => false,
            Some(target) if crate::parser::is_move(target) => true,
            Some(_) => return Err(Error::new(SqlState::SyntaxError, "syntax error at or near \"INTO\"")),
        };
        let direction = direction(fetch_direction)?;
        let name = cursor_name(name);
        let mut cursor = self.cursors.remove(&name).ok_or_else(|| no_cursor(&name))?;
        if cursor.failed {
            self.cursors.insert(name.clone(), cursor);
            return Err(Error::new(
                SqlState::ObjectNotInPrerequisiteState,
                format!("portal \"{name}\" cannot be run"),
            ));
        }
        let result = {
            let mut pull =
                |live: &mut Cursor, max: Option<usize>, rows: &mut dyn RowSink| self.fetch(live, max, rows);
            if is_move {
                cursor.go(direction, None, &mut pull)
            } else {
                sink.columns(&cursor.columns).and_then(|()| cursor.go(direction, Some(&mut *sink), &mut pull))
            }
        };
        cursor.failed = result.is_err();
        let columns = cursor.columns.clone();
        self.cursors.insert(name, cursor);
        let count = result?;
        Ok(if is_move {
            Output::Command(format!("MOVE {count}"))
        } else {
            Output::Fetched(Rows { columns, rows: Vec::new() })
        })
    }

    /// `CLOSE name` and `CLOSE ALL`.
    pub(super) fn close(&mut self, which: &ast::CloseCursor) -> Result<Output> {
        if let Some(block) = &self.block {
            block.refuse_if_failed()?;
        }
        match which {
            ast::CloseCursor::All => self.cursors.clear(),
            ast::CloseCursor::Specific { name } => {
                let name = cursor_name(name);
                self.cursors.remove(&name).ok_or_else(|| no_cursor(&name))?;
            }
        }
        Ok(Output::Command("CLOSE CURSOR".into()))
    }

    /// Before COMMIT: computes the rows the holdable cursors of the block have not read
    /// yet, so they can outlive it. An error fails the commit.
    pub(super) fn hold_cursors(&mut self) -> Result<()> {
        let Some(txn) = self.block.as_ref().map(|b| b.txn.id()) else { return Ok(()) };
        let names: Vec<String> = self
            .cursors
            .iter()
            .filter(|(_, c)| c.hold && !c.held && c.txn == txn)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let Some(mut cursor) = self.cursors.remove(&name) else { continue };
            let result = match cursor.live.take() {
                Some(mut live) => {
                    let mut reader =
                        Reader { keep: Some((&mut cursor.kept, &mut cursor.kept_charge)), out: None };
                    let pulled = self.fetch(&mut live, None, &mut reader);
                    pulled.map(|n| {
                        cursor.read += n;
                        cursor.total = Some(cursor.read);
                    })
                }
                None => Ok(()),
            };
            cursor.held = true;
            self.cursors.insert(name, cursor);
            result?;
        }
        Ok(())
    }

    /// After the block of transaction `txn` ended: its cursors close, except the held
    /// ones if it `committed`.
    pub(super) fn end_cursors(&mut self, txn: TxnId, committed: bool) {
        self.cursors.retain(|_, c| c.txn != txn || (committed && c.held));
    }

    /// After `ROLLBACK TO` a savepoint (`depth` savepoints are left) or `RELEASE` (the
    /// `depth` left): cursors declared inside a rolled-back savepoint close; those of
    /// a released one now belong to the savepoint around it.
    pub(super) fn cursors_after_savepoint(&mut self, depth: usize, rolled_back: bool) {
        let Some(txn) = self.block.as_ref().map(|b| b.txn.id()) else { return };
        if rolled_back {
            self.cursors.retain(|_, c| c.txn != txn || c.held || c.depth < depth);
        } else {
            for cursor in self.cursors.values_mut().filter(|c| c.txn == txn) {
                cursor.depth = cursor.depth.min(depth);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::instance::Instance;
    use crate::result::Output;
    use crate::session::Session;

    fn session() -> Session {
        Session::new(Instance::memory())
    }

    /// The tag of a statement, or its SQLSTATE.
    fn tag(session: &mut Session, sql: &str) -> String {
        match session.execute(sql) {
            Ok(output) => output.tag(),
            Err(e) => e.sqlstate().to_string(),
        }
    }

    /// The values a FETCH returned, as one string.
    fn fetch(session: &mut Session, sql: &str) -> String {
        match session.execute(sql) {
            Ok(Output::Fetched(rows)) => {
                rows.rows.iter().map(|r| r.values()[0].to_string()).collect::<Vec<_>>().join(",")
            }
            Ok(other) => format!("not rows: {other:?}"),
            Err(e) => e.sqlstate().to_string(),
        }
    }

    #[test]
    fn move_counts_and_positions_follow_postgres() {
        let mut s = session();
        s.execute("BEGIN; DECLARE c SCROLL CURSOR FOR SELECT i FROM generate_series(1, 10) AS g(i)").unwrap();
        assert_eq!(tag(&mut s, "MOVE 3 FROM c"), "MOVE 3");
        assert_eq!(fetch(&mut s, "FETCH c"), "4");
        assert_eq!(tag(&mut s, "MOVE 0 FROM c"), "MOVE 1", "on a row");
        assert_eq!(fetch(&mut s, "FETCH 0 FROM c"), "4");
        assert_eq!(tag(&mut s, "MOVE FORWARD ALL FROM c"), "MOVE 6");
        assert_eq!(tag(&mut s, "MOVE 0 FROM c"), "MOVE 0", "after the last row");
        assert_eq!(tag(&mut s, "FETCH NEXT FROM c"), "FETCH 0");
        assert_eq!(fetch(&mut s, "FETCH PRIOR FROM c"), "10");
        assert_eq!(fetch(&mut s, "FETCH -2 FROM c"), "9,8");
        assert_eq!(tag(&mut s, "MOVE BACKWARD ALL FROM c"), "MOVE 7");
        assert_eq!(fetch(&mut s, "FETCH NEXT FROM c"), "1");
        assert_eq!(fetch(&mut s, "FETCH LAST FROM c"), "10");
        assert_eq!(fetch(&mut s, "FETCH ABSOLUTE -3 FROM c"), "8");
        assert_eq!(fetch(&mut s, "FETCH RELATIVE -2 FROM c"), "6");
        assert_eq!(fetch(&mut s, "FETCH RELATIVE 0 FROM c"), "6");
        assert_eq!(fetch(&mut s, "FETCH ABSOLUTE 11 FROM c"), "");
        assert_eq!(fetch(&mut s, "FETCH PRIOR FROM c"), "10");
        assert_eq!(tag(&mut s, "MOVE ABSOLUTE 0 IN c"), "MOVE 0");
        assert_eq!(fetch(&mut s, "FETCH BACKWARD 1 FROM c"), "");
        assert_eq!(fetch(&mut s, "FETCH FIRST FROM c"), "1");
        assert_eq!(fetch(&mut s, "FETCH BACKWARD FROM c"), "");
        assert_eq!(fetch(&mut s, "FETCH FORWARD FROM c"), "1");
    }

    #[test]
    fn no_scroll_cursors_only_go_forward_and_a_failure_sticks() {
        let mut s = session();
        s.execute("BEGIN; DECLARE c CURSOR FOR SELECT i FROM generate_series(1, 5) AS g(i)").unwrap();
        assert_eq!(fetch(&mut s, "FETCH 2 FROM c"), "1,2");
        assert_eq!(fetch(&mut s, "FETCH ABSOLUTE 4 FROM c"), "4", "forward to an absolute row is fine");
        assert_eq!(tag(&mut s, "MOVE 0 FROM c"), "MOVE 1");
        assert_eq!(tag(&mut s, "SAVEPOINT s"), "SAVEPOINT");
        assert_eq!(tag(&mut s, "FETCH PRIOR FROM c"), "55000");
        assert_eq!(tag(&mut s, "FETCH NEXT FROM c"), "25P02", "the block failed");
        assert_eq!(tag(&mut s, "ROLLBACK TO SAVEPOINT s"), "ROLLBACK");
        assert_eq!(tag(&mut s, "FETCH NEXT FROM c"), "55000", "a cursor whose fetch failed stays unusable");
        assert_eq!(tag(&mut s, "ROLLBACK"), "ROLLBACK");
        assert_eq!(tag(&mut s, "FETCH NEXT FROM c"), "34000");
    }

    #[test]
    fn cursors_end_with_their_transaction_unless_held() {
        let mut s = session();
        assert_eq!(tag(&mut s, "DECLARE c CURSOR FOR SELECT 1"), "25P01");
        s.execute("BEGIN").unwrap();
        s.execute("DECLARE plain CURSOR FOR SELECT i FROM generate_series(1, 3) AS g(i)").unwrap();
        s.execute("DECLARE kept CURSOR WITH HOLD FOR SELECT i FROM generate_series(1, 3) AS g(i)").unwrap();
        assert_eq!(tag(&mut s, "DECLARE kept CURSOR FOR SELECT 1"), "42P03");
        s.execute("ROLLBACK").unwrap();
        assert_eq!(tag(&mut s, "FETCH kept"), "34000", "a rollback drops held cursors of its transaction");
        s.execute("BEGIN").unwrap();
        s.execute("DECLARE plain CURSOR FOR SELECT i FROM generate_series(1, 3) AS g(i)").unwrap();
        s.execute("DECLARE kept CURSOR WITH HOLD FOR SELECT i FROM generate_series(1, 3) AS g(i)").unwrap();
        assert_eq!(fetch(&mut s, "FETCH kept"), "1");
        s.execute("COMMIT").unwrap();
        assert_eq!(tag(&mut s, "FETCH plain"), "34000");
        assert_eq!(fetch(&mut s, "FETCH ALL FROM kept"), "2,3");
        s.execute("BEGIN").unwrap();
        s.execute("ROLLBACK").unwrap();
        assert_eq!(tag(&mut s, "MOVE ABSOLUTE 0 FROM kept"), "55000", "NO SCROLL");
        assert_eq!(tag(&mut s, "CLOSE kept"), "CLOSE CURSOR");
        assert_eq!(tag(&mut s, "CLOSE kept"), "34000");
        // Outside a block a held cursor is declared and committed at once.
        s.execute("DECLARE h SCROLL CURSOR WITH HOLD FOR VALUES (1), (2)").unwrap();
        assert_eq!(fetch(&mut s, "FETCH LAST FROM h"), "2");
        assert_eq!(fetch(&mut s, "FETCH FIRST FROM h"), "1");
        s.execute("CLOSE ALL").unwrap();
        assert_eq!(tag(&mut s, "FETCH h"), "34000");
    }

    #[test]
    fn a_held_cursor_whose_rows_fail_fails_the_commit() {
        let mut s = session();
        s.execute("CREATE TABLE t (a INT); INSERT INTO t VALUES (1), (0)").unwrap();
        s.execute("BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT 1 / a FROM t").unwrap();
        assert_eq!(tag(&mut s, "COMMIT"), "22012");
        assert!(!s.in_transaction());
        assert_eq!(tag(&mut s, "FETCH c"), "34000");
    }

    #[test]
    fn rolling_back_to_a_savepoint_closes_the_cursors_declared_after_it() {
        let mut s = session();
        s.execute("BEGIN; DECLARE a CURSOR FOR SELECT 1; SAVEPOINT s1").unwrap();
        s.execute("DECLARE b CURSOR FOR SELECT 2; SAVEPOINT s2; DECLARE c CURSOR FOR SELECT 3").unwrap();
        s.execute("RELEASE SAVEPOINT s2; SAVEPOINT s3").unwrap();
        s.execute("ROLLBACK TO SAVEPOINT s3").unwrap();
        assert_eq!(fetch(&mut s, "FETCH c"), "3", "c now belongs to s1");
        s.execute("ROLLBACK TO SAVEPOINT s1").unwrap();
        assert_eq!(fetch(&mut s, "FETCH a"), "1");
        assert_eq!(tag(&mut s, "FETCH b"), "34000");
    }

    #[test]
    fn cursor_statements_parse_as_postgres_writes_them() {
        let mut s = session();
        s.execute("BEGIN; DECLARE \"Odd\" CURSOR FOR SELECT i FROM generate_series(1, 9) AS g(i)").unwrap();
        assert_eq!(fetch(&mut s, "FETCH \"Odd\""), "1");
        assert_eq!(fetch(&mut s, "FETCH IN \"Odd\""), "2");
        assert_eq!(fetch(&mut s, "FETCH +2 \"Odd\""), "3,4");
        assert_eq!(tag(&mut s, "MOVE \"Odd\""), "MOVE 1");
        assert_eq!(fetch(&mut s, "fetch forward 2 in \"Odd\""), "6,7");
        assert_eq!(tag(&mut s, "FETCH odd"), "34000", "names fold to lower case unless quoted");
        s.execute("ROLLBACK").unwrap();
        s.execute("BEGIN").unwrap();
        assert_eq!(tag(&mut s, "DECLARE b BINARY CURSOR FOR SELECT 1"), "0A000");
        s.execute("ROLLBACK").unwrap();
        s.execute("BEGIN; DECLARE c CURSOR FOR SELECT 1").unwrap();
        assert_eq!(tag(&mut s, "FETCH NEXT FROM c INTO x"), "42601");
    }
}
