//! How deeply a statement may nest, and the stack its recursive walks run on.
//!
//! Every stage after the tokenizer walks trees by recursion: the parser and the binder
//! over the syntax tree, the optimizer, the executor's construction and every running
//! iterator over the plan, and `Clone`, `Drop` and `PartialEq` over both. A recursion
//! as deep as the user's SQL (a UNION of thousands of terms, a chain of views) would
//! overflow the thread's stack, and a stack overflow aborts the whole process: every
//! session of a server, not one statement. So nesting is bounded, and the stack is sized
//! for the bound:
//!
//! 1. **The syntax tree.** `sqlparser` bounds its own recursion (parentheses,
//!    subqueries, prefix operators: [`crate::parser::MAX_NESTING`]) and, through its
//!    `recursive` feature, grows its stack as it goes. The chains it builds in loops
//!    (`a + b + c ...`, `x UNION y UNION z ...`) are measured after parsing, and a tree
//!    deeper than [`MAX_DEPTH`] is refused and taken apart without recursion
//!    ([`crate::parser`]), so nothing downstream (a clone in the parse cache, the
//!    binder, a drop) ever sees one.
//! 2. **Binding.** The binder counts levels ([`Depth`]) as it recurses: each query, set
//!    operation, FROM item, join, expression and expanded view is one, and a CTE's plan
//!    copied into a query counts as deep as it was when bound; a FROM list of n items
//!    and joins, which is bound in a loop but becomes a chain of n joins, counts n
//!    before its items are bound. Past [`MAX_DEPTH`] binding fails with 54001
//!    (`statement_too_complex`, PostgreSQL's "stack depth limit exceeded"). Every plan
//!    is therefore a small multiple of [`MAX_DEPTH`] deep at most, which bounds every
//!    later walk. Binding is also where one statement can multiply work (a view or a
//!    CTE read twice by the next one, in a chain): plans copied in that way are counted
//!    against [`MAX_EXPANDED_NODES`].
//! 3. **The stack.** Binder levels use a lot of stack in debug builds (about 40 KB per
//!    expression level: `match` arms' locals are not shared without optimization), so
//!    each level runs through [`grow`], which continues on a fresh segment on the heap
//!    when less than [`RED_ZONE`] is left; its depth is then bounded only by the count.
//!    The walks that are not instrumented (derived `Clone`/`Drop`, the optimizer,
//!    building and running iterators) get a guaranteed stack: a statement runs inside
//!    [`statement`], which switches to a segment of [`STATEMENT_STACK`] bytes unless
//!    that much is left already. The server's session threads and the CLI start their
//!    threads with [`THREAD_STACK`], so there no segment is ever allocated; an embedded
//!    caller on a smaller stack (Rust's 2 MiB spawned threads) pays one mapping per
//!    statement, a few microseconds, and is just as safe.
//!
//! Measured (`tests::stack_per_level`, see `docs/ARCHITECTURE.md` for the numbers): what
//! one more level of each shape costs in the walks outside the binder, in debug and
//! release builds; [`STATEMENT_STACK`] is that times the deepest plan [`MAX_DEPTH`]
//! allows, with room to spare.

use std::ops::ControlFlow;

use sqlparser::ast::{self, Visit, VisitMut, Visitor, VisitorMut};

use crate::error::{Error, Result, SqlState};

/// How many levels of nesting a statement may have (see the module docs for what counts
/// as one). PostgreSQL's limit depends on the stack (`max_stack_depth`, 2 MB: a few
/// thousand UNION terms); this one is the same on every build and thread.
pub const MAX_DEPTH: usize = 1000;

/// How many binding steps (about one per plan node or expression) a statement may spend
/// expanding views and copying CTE plans, in all: a chain of views or CTEs each reading
/// the previous one twice doubles at each link.
pub const MAX_EXPANDED_NODES: usize = 1_000_000;

/// The stack a binder level may use before the next level checks again (a view's
/// expansion, with its parse, is the largest: about 150 KB in a debug build).
pub const RED_ZONE: usize = 512 * 1024;

/// The size of each stack segment [`grow`] adds.
const SEGMENT: usize = 8 * 1024 * 1024;

/// The stack a statement is guaranteed, for the walks that do not grow their own.
pub const STATEMENT_STACK: usize = 32 * 1024 * 1024;

/// The stack of threads started to run statements (server sessions, the CLI): enough
/// that [`statement`] never needs a segment of its own.
pub const THREAD_STACK: usize = STATEMENT_STACK + 2 * 1024 * 1024;

/// Runs `f` with at least [`RED_ZONE`] bytes of stack, on a new segment if fewer are
/// left. Each recursive level of binding goes through here.
#[inline]
pub fn grow<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// Runs a statement's work (`f`) with at least [`STATEMENT_STACK`] bytes of stack.
pub fn statement<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(STATEMENT_STACK, STATEMENT_STACK, f)
}

/// The error of a statement nested more than `limit` levels deep.
pub fn too_deep(limit: usize) -> Error {
    Error::new(
        SqlState::StatementTooComplex,
        format!(
            "stack depth limit exceeded: the statement nests more than {limit} levels \
             (set operations, joins, subqueries, expressions, views and WITH queries all count)"
        ),
    )
    .with_hint("Split the statement, or nest fewer unions, joins, views or expressions.")
}

/// The error of a statement whose views and CTEs expand too much.
pub fn too_large() -> Error {
    Error::new(
        SqlState::StatementTooComplex,
        format!(
            "statement is too complex: expanding its views and WITH queries takes more than \
             {MAX_EXPANDED_NODES} binding steps"
        ),
    )
}

thread_local! {
    /// The limit of the statement running on this thread (see [`with_limit`]).
    static LIMIT: std::cell::Cell<usize> = const { std::cell::Cell::new(MAX_DEPTH) };
}

/// Runs `f` (a statement) with `limit` levels at most, the session's `phantom.max_depth`
/// (never more than [`MAX_DEPTH`]). Every binder made while it runs takes the limit from
/// its thread, so the binders that bind views for `pg_class` or for dependencies on the
/// way need no plumbing.
pub fn with_limit<R>(limit: usize, f: impl FnOnce() -> R) -> R {
    /// Puts the earlier limit back, even if `f` panics.
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            LIMIT.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(LIMIT.with(|l| l.replace(limit.min(MAX_DEPTH))));
    f()
}

/// The binder's count of levels: where it is now, the deepest it has been since a mark
/// (which tells how deep a CTE's plan is when it is copied elsewhere), and how much work
/// it did (binding steps), in all and expanding views or copying CTEs.
#[derive(Debug)]
pub struct Depth {
    /// At most this many levels (the statement's limit when the binder was made).
    limit: usize,
    current: usize,
    deepest: usize,
    /// Levels entered so far, plus the steps of every CTE plan copied.
    steps: usize,
    /// The part of `steps` spent expanding views or copying CTE plans.
    expanded: usize,
    /// How many views are being expanded now.
    in_views: usize,
}

impl Default for Depth {
    fn default() -> Self {
        Depth { limit: LIMIT.with(|l| l.get()), current: 0, deepest: 0, steps: 0, expanded: 0, in_views: 0 }
    }
}

impl Depth {
    /// Goes `levels` deeper (one binding step); 54001 past [`MAX_DEPTH`].
    pub fn enter(&mut self, levels: usize) -> Result<()> {
        self.reach(levels)?;
        self.current += levels;
        self.steps += 1;
        if self.in_views > 0 {
            self.count_expanded(1)?;
        }
        Ok(())
    }

    /// Comes back from [`Depth::enter`].
    pub fn leave(&mut self, levels: usize) {
        self.current = self.current.saturating_sub(levels);
    }

    /// Checks that something `levels` deep fits below the current level (a copied plan),
    /// and counts it as reached.
    pub fn reach(&mut self, levels: usize) -> Result<()> {
        let level = self.current.saturating_add(levels);
        if level > self.limit {
            return Err(too_deep(self.limit));
        }
        self.deepest = self.deepest.max(level);
        Ok(())
    }

    /// Starts measuring what is bound next, for [`Depth::measured`].
    pub fn mark(&mut self) -> Mark {
        Mark { deepest: std::mem::replace(&mut self.deepest, self.current), steps: self.steps }
    }

    /// What binding did since `mark`: how many levels below the current one it went, and
    /// how many steps it took.
    pub fn measured(&mut self, mark: Mark) -> Measured {
        let levels = self.deepest.saturating_sub(self.current);
        self.deepest = self.deepest.max(mark.deepest);
        Measured { levels, steps: self.steps - mark.steps }
    }

    /// Copies in a plan measured earlier (a CTE read by name): it must fit below the
    /// current level, and its steps count as done again.
    pub fn copy(&mut self, plan: Measured) -> Result<()> {
        self.reach(plan.levels)?;
        self.steps = self.steps.saturating_add(plan.steps);
        self.count_expanded(plan.steps)
    }

    /// Starts expanding a view: the steps until [`Depth::leave_view`] count against
    /// [`MAX_EXPANDED_NODES`].
    pub fn enter_view(&mut self) {
        self.in_views += 1;
    }

    /// Ends [`Depth::enter_view`].
    pub fn leave_view(&mut self) {
        self.in_views = self.in_views.saturating_sub(1);
    }

    fn count_expanded(&mut self, steps: usize) -> Result<()> {
        self.expanded = self.expanded.saturating_add(steps);
        if self.expanded > MAX_EXPANDED_NODES {
            return Err(too_large());
        }
        Ok(())
    }
}

/// Where [`Depth::mark`] started measuring.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    deepest: usize,
    steps: usize,
}

/// How deep a bound plan goes and how many steps binding it took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    pub levels: usize,
    pub steps: usize,
}

/// Passes a parsed statement on, or fails with 54001 when it nests deeper than
/// [`MAX_DEPTH`]: expressions within expressions (through subqueries too), or set
/// operations within one query. The refused tree is taken apart without recursion, so
/// even dropping it cannot overflow the stack.
pub fn check_syntax_tree(statement: ast::Statement) -> Result<ast::Statement> {
    if statement.visit(&mut SyntaxDepth::default()).is_continue() {
        return Ok(statement);
    }
    dismantle(statement);
    Err(too_deep(MAX_DEPTH))
}

/// Measures a syntax tree, stopping as soon as it is too deep. (`sqlparser`'s visitor
/// grows its stack as it recurses, and this one goes no deeper than the limit.)
#[derive(Default)]
struct SyntaxDepth {
    expressions: usize,
}

impl Visitor for SyntaxDepth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &ast::Expr) -> ControlFlow<()> {
        self.expressions += 1;
        if self.expressions > MAX_DEPTH { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    }

    fn post_visit_expr(&mut self, _: &ast::Expr) -> ControlFlow<()> {
        self.expressions -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &ast::Query) -> ControlFlow<()> {
        // A chain of set operations is one query whose body nests; no hook sees that.
        let mut deepest = 0;
        let mut todo = vec![(query.body.as_ref(), 1)];
        while let Some((body, depth)) = todo.pop() {
            deepest = deepest.max(depth);
            if deepest > MAX_DEPTH {
                return ControlFlow::Break(());
            }
            if let ast::SetExpr::SetOperation { left, right, .. } = body {
                todo.push((left, depth + 1));
                todo.push((right, depth + 1));
            }
        }
        ControlFlow::Continue(())
    }
}

/// Drops a syntax tree of any depth without recursion: every expression and every query
/// body is cut out of its parent and put on a pile, and each piece is cut up in turn
/// before it is dropped, so no drop ever goes more than a level or two down.
fn dismantle(mut statement: ast::Statement) {
    let mut cutter = Cutter::default();
    let _ = VisitMut::visit(&mut statement, &mut cutter);
    drop(statement);
    while let Some(piece) = cutter.pieces.pop() {
        match piece {
            Piece::Expr(mut e) => {
                cutter.keep_next_expr = true;
                let _ = VisitMut::visit(&mut e, &mut cutter);
            }
            Piece::Body(body) => match *body {
                ast::SetExpr::SetOperation { left, right, .. } => {
                    cutter.pieces.push(Piece::Body(left));
                    cutter.pieces.push(Piece::Body(right));
                }
                mut body => {
                    let _ = VisitMut::visit(&mut body, &mut cutter);
                }
            },
        }
    }
}

/// A part of a syntax tree cut out by [`Cutter`]. (Most pieces are expressions: a box
/// for each would cost an allocation per node.)
#[allow(clippy::large_enum_variant)]
enum Piece {
    Expr(ast::Expr),
    Body(Box<ast::SetExpr>),
}

/// Cuts every expression and query body it meets out of the tree (see [`dismantle`]).
#[derive(Default)]
struct Cutter {
    pieces: Vec<Piece>,
    /// The next expression met is the piece being cut up itself: keep it.
    keep_next_expr: bool,
}

impl VisitorMut for Cutter {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut ast::Expr) -> ControlFlow<()> {
        if std::mem::take(&mut self.keep_next_expr) {
            return ControlFlow::Continue(());
        }
        let placeholder = ast::Expr::Value(ast::Value::Null.with_empty_span());
        self.pieces.push(Piece::Expr(std::mem::replace(expr, placeholder)));
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &mut ast::Query) -> ControlFlow<()> {
        let placeholder =
            ast::SetExpr::Values(ast::Values { explicit_row: false, value_keyword: false, rows: Vec::new() });
        self.pieces.push(Piece::Body(std::mem::replace(&mut query.body, Box::new(placeholder))));
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_levels_and_measures_marks() {
        let mut depth = Depth::default();
        depth.enter(3).expect("fits");
        let mark = depth.mark();
        depth.enter(5).expect("fits");
        depth.enter(2).expect("fits");
        depth.leave(2);
        depth.leave(5);
        let cte = depth.measured(mark);
        assert_eq!(cte, Measured { levels: 7, steps: 2 });
        depth.leave(3);
        assert!(depth.enter(MAX_DEPTH).is_ok());
        assert_eq!(depth.enter(1).map_err(|e| e.state), Err(SqlState::StatementTooComplex));
        depth.leave(MAX_DEPTH);
        assert_eq!(depth.reach(MAX_DEPTH + 1).map_err(|e| e.state), Err(SqlState::StatementTooComplex));
        depth.copy(cte).expect("a copy fits");
        let big = Measured { levels: 1, steps: MAX_EXPANDED_NODES };
        assert_eq!(depth.copy(big).map_err(|e| e.state), Err(SqlState::StatementTooComplex));
    }

    #[test]
    fn a_statement_limit_applies_to_binders_made_while_it_runs() {
        let mut limited = with_limit(5, Depth::default);
        assert!(limited.enter(5).is_ok());
        assert!(limited.enter(1).is_err());
        assert!(Depth::default().enter(MAX_DEPTH).is_ok(), "the limit ends with the statement");
        let mut capped = with_limit(MAX_DEPTH * 10, Depth::default);
        assert!(capped.enter(MAX_DEPTH + 1).is_err(), "never above MAX_DEPTH");
    }
}
