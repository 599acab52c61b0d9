//! How much memory one statement may hold: `phantom.statement_mem`.
//!
//! Nothing here spills to disk yet: a sort, a hash table or a collected result lives in
//! memory whole, so one statement could take gigabytes (a five-million-row sort, a
//! `string_agg` of ten million values, a million-item IN list) and a few sessions could
//! exhaust the machine. Until operators can spill, every statement gets a
//! [`MemoryBudget`] of `phantom.statement_mem` bytes, and whatever materializes rows
//! takes a [`Reservation`] from it and charges what it keeps. Going past the budget fails
//! the statement with 53200 (`out of memory`, DETAIL naming the operator, as PostgreSQL's
//! "Failed on request of size N in ..."); the session and its connection carry on.
//!
//! - **One budget per call.** Each call of the session's API (a statement text, a
//!   prepared statement's execution, a fetch) gets a fresh budget; its limit is read
//!   again before each statement of a text, so `SET phantom.statement_mem = ...; SELECT
//!   ...` in one string takes effect for the SELECT. Reservations release what they
//!   charged when they are dropped, that is when the operator holding the memory is
//!   dropped, so a statement that ends gives everything back and the next starts at zero.
//!   A cursor keeps the budget of the call that opened it: its operators and the rows a
//!   SCROLL or WITH HOLD cursor keeps count against that budget for as long as it lives.
//! - **Approximate sizes.** A value counts its inline size plus what it holds on the
//!   heap ([`value_bytes`]), a row its values plus the vector's header ([`row_bytes`]);
//!   hash tables add an entry's overhead ([`HASH_ENTRY_OVERHEAD`]), and vectors that grow
//!   row by row are charged by their capacity, moves included
//!   ([`Reservation::charge_capacity`]). Allocator rounding is not counted, so the real
//!   use can be somewhat higher (measured in `docs/ARCHITECTURE.md`).
//! - **Cheap on the hot path.** A reservation adds each charge to a local count and only
//!   takes from the shared budget once it has gathered [`BATCH`] bytes, so a budget check
//!   costs an addition and a comparison per row; a statement can overshoot by less than a
//!   batch per operator.
//! - **The statement's text.** Tokens and syntax trees are built before any operator
//!   runs, and a million-item IN list took hundreds of megabytes there. So before parsing
//!   the session charges an estimate of what parsing and planning the text will take
//!   ([`crate::parse_cost::memory_estimate`], from a quick count of its tokens), held until
//!   the statement ends; a text whose estimate does not fit is refused unparsed with
//!   54000 "statement is too large" ([`MemoryBudget::reserve_text`]).
//!
//! The setting takes PostgreSQL's memory units (`64kB`, `256MB`, `1GB`; a bare number is
//! kilobytes, as for `work_mem`), at least 64 kB; `-1` means no limit (as for
//! `temp_file_limit`). The default is [`DEFAULT_STATEMENT_MEM`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result, SqlState};
use crate::types::Value;

/// The default `phantom.statement_mem`: 256 MiB. It holds the sort or hash table of about
/// a million rows of a few columns and the text of a 10,000-row INSERT many times over,
/// and it refuses the 0.8-1.6 GB statements that motivated it. Ten sessions at the limit
/// then fit in a few gigabytes beside the buffer pool (a quarter of memory). It is fixed,
/// not a share of the machine's memory, so that what a statement may do does not depend
/// on where it runs; a session that needs more raises it (or sets -1).
pub const DEFAULT_STATEMENT_MEM: usize = 256 << 20;

/// The smallest budget that can be set (PostgreSQL's minimum `work_mem`).
pub const MIN_STATEMENT_MEM: usize = 64 << 10;

/// How many bytes a reservation gathers before it takes them from the shared budget.
pub const BATCH: usize = 64 << 10;

/// What a hash table entry costs beyond its key and value: the control byte, the load
/// factor's empty slots, and the allocation of a row kept in it.
pub const HASH_ENTRY_OVERHEAD: usize = 32;

/// The budget a statement's operators charge. Cloning shares it.
#[derive(Clone, Debug)]
pub struct MemoryBudget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Bytes the statement may hold; `usize::MAX` for no limit.
    limit: AtomicUsize,
    /// Bytes its reservations hold now.
    used: AtomicUsize,
}

impl Default for MemoryBudget {
    /// No limit (embedded helpers that run plans outside a session).
    fn default() -> MemoryBudget {
        MemoryBudget::new(None)
    }
}

impl MemoryBudget {
    /// A budget of `limit` bytes (`None`: unlimited).
    pub fn new(limit: Option<usize>) -> MemoryBudget {
        let shared =
            Shared { limit: AtomicUsize::new(limit.unwrap_or(usize::MAX)), used: AtomicUsize::new(0) };
        MemoryBudget { shared: Arc::new(shared) }
    }

    /// Changes the limit (the next statement of a text reads the setting again).
    pub fn set_limit(&self, limit: Option<usize>) {
        self.shared.limit.store(limit.unwrap_or(usize::MAX), Ordering::Relaxed);
    }

    /// The limit, `None` if there is none.
    pub fn limit(&self) -> Option<usize> {
        let limit = self.shared.limit.load(Ordering::Relaxed);
        (limit != usize::MAX).then_some(limit)
    }

    /// Bytes held by reservations now.
    pub fn used(&self) -> usize {
        self.shared.used.load(Ordering::Relaxed)
    }

    /// A reservation for `what` (an operator's name, as the error's DETAIL shows it).
    pub fn reservation(&self, what: &'static str) -> Reservation {
        Reservation { budget: self.clone(), what, taken: 0, pending: 0 }
    }

    /// Takes `bytes` from the budget, or explains why not.
    fn take(&self, bytes: usize) -> std::result::Result<(), usize> {
        let limit = self.shared.limit.load(Ordering::Relaxed);
        let before = self.shared.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > limit {
            self.shared.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(before);
        }
        Ok(())
    }

    fn give_back(&self, bytes: usize) {
        self.shared.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Reserves what parsing and planning a statement text of `text_bytes` bytes is
    /// estimated to take (`estimate`, see [`crate::parse_cost::memory_estimate`]), for as
    /// long as the reservation lives; 54000 "statement is too large" if it does not fit.
    pub fn reserve_text(&self, text_bytes: usize, estimate: usize) -> Result<Reservation> {
        let mut reservation = self.reservation("parsing");
        if let Err(held) = self.take(estimate) {
            let limit = self.limit().unwrap_or(usize::MAX);
            return Err(Error::new(SqlState::ProgramLimitExceeded, "statement is too large")
                .with_detail(format!(
                    "Parsing and planning its {text_bytes} bytes would take about {} of memory, and \
                     phantom.statement_mem is {} ({} in use).",
                    show_bytes(estimate),
                    show_bytes(limit),
                    show_bytes(held),
                ))
                .with_hint(
                    "Send long lists of values as rows (COPY, or several INSERTs), or raise \
                     phantom.statement_mem.",
                ));
        }
        reservation.taken = estimate;
        Ok(reservation)
    }
}

/// Memory one operator holds, charged to its statement's [`MemoryBudget`] and given back
/// when the reservation is dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: MemoryBudget,
    what: &'static str,
    /// Taken from the budget.
    taken: usize,
    /// Charged but not taken yet (less than [`BATCH`]).
    pending: usize,
}

impl Reservation {
    /// Charges `bytes` more; 53200 once the statement's budget cannot take them.
    #[inline]
    pub fn charge(&mut self, bytes: usize) -> Result<()> {
        self.pending = self.pending.saturating_add(bytes);
        if self.pending < BATCH { Ok(()) } else { self.take_pending() }
    }

    /// Charges a row's [`row_bytes`].
    #[inline]
    pub fn charge_row(&mut self, row: &[Value]) -> Result<()> {
        self.charge(row_bytes(row))
    }

    /// Charges `vec`'s new buffer each time it grows (`charged`: the capacity last seen).
    /// A vector's capacity doubles as it grows, and while its elements move the old
    /// buffer is still there: at that moment it holds three times the old capacity in
    /// slots. The whole new buffer is charged at each growth (and never given back before
    /// the reservation is), which comes to about that peak.
    #[inline]
    pub fn charge_capacity<T>(&mut self, vec: &Vec<T>, charged: &mut usize) -> Result<()> {
        if vec.capacity() <= *charged {
            return Ok(());
        }
        *charged = vec.capacity();
        self.charge(vec.capacity().saturating_mul(std::mem::size_of::<T>()))
    }

    #[cold]
    fn take_pending(&mut self) -> Result<()> {
        let request = std::mem::take(&mut self.pending);
        match self.budget.take(request) {
            Ok(()) => {
                self.taken += request;
                Ok(())
            }
            Err(held) => Err(out_of_memory(request, self.what, held, self.budget.limit())),
        }
    }

    /// Gives back everything charged so far (the memory was freed).
    pub fn clear(&mut self) {
        self.budget.give_back(std::mem::take(&mut self.taken));
        self.pending = 0;
    }

    /// Bytes charged so far.
    pub fn charged(&self) -> usize {
        self.taken + self.pending
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.taken);
    }
}

/// PostgreSQL's error when an allocation fails: 53200, DETAIL naming the request and
/// where it was made.
fn out_of_memory(request: usize, what: &str, held: usize, limit: Option<usize>) -> Error {
    let limit = limit.map_or_else(|| "-1".to_string(), show_bytes);
    Error::new(SqlState::OutOfMemory, "out of memory")
        .with_detail(format!(
            "Failed on request of size {request} in {what}: the statement holds {} and \
             phantom.statement_mem is {limit}.",
            show_bytes(held)
        ))
        .with_hint("Make the statement keep fewer or smaller rows (a LIMIT, fewer columns), or raise phantom.statement_mem.")
}

/// What a value takes: its inline size plus the heap bytes it owns.
#[inline]
pub fn value_bytes(value: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match value {
            Value::Text(s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => 0,
        }
}

/// What a row kept in memory takes: its values and the vector holding them.
#[inline]
pub fn row_bytes(row: &[Value]) -> usize {
    std::mem::size_of::<Vec<Value>>() + row_heap_bytes(row)
}

/// What a row's values take on the heap, without the vector's own header (for rows
/// whose header sits in a vector charged by its capacity, see
/// [`Reservation::charge_capacity`]).
#[inline]
pub fn row_heap_bytes(row: &[Value]) -> usize {
    row.iter().map(value_bytes).sum::<usize>()
}

/// `phantom.statement_mem` as PostgreSQL takes memory settings: a number with an optional
/// unit (`B`, `kB`, `MB`, `GB`, `TB`; none means kB), fractions rounded to a byte;
/// `-1` for no limit (`None`). At least [`MIN_STATEMENT_MEM`].
pub fn parse_setting(name: &str, value: &str) -> Result<Option<usize>> {
    let bad = |hint: &str| {
        Error::new(
            SqlState::InvalidParameterValue,
            format!("invalid value for parameter \"{name}\": \"{value}\""),
        )
        .with_hint(hint.to_string())
    };
    let units = "Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".";
    let v = value.trim();
    if v == "-1" {
        return Ok(None);
    }
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad(units))?;
    let scale: f64 = match unit.trim() {
        "B" => 1.0,
        "" | "kB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad(units)),
    };
    let bytes = (number * scale).round();
    let min = MIN_STATEMENT_MEM;
    let range = format!("{} is outside the valid range (-1, or 64kB and more).", show_bytes(bytes as usize));
    if !bytes.is_finite() || bytes < min as f64 || bytes >= usize::MAX as f64 {
        return Err(bad(&range));
    }
    Ok(Some(bytes as usize))
}

/// A memory setting as SHOW gives it: in the largest unit that divides it (`256MB`,
/// `64kB`, `1000B`), `-1` for no limit.
pub fn show_setting(limit: Option<usize>) -> String {
    limit.map_or_else(|| "-1".to_string(), show_bytes)
}

/// Bytes in the largest unit that divides them exactly.
fn show_bytes(bytes: usize) -> String {
    for (unit, size) in [("TB", 1usize << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_take_postgres_units() {
        let parse = |v: &str| parse_setting("phantom.statement_mem", v).map_err(|e| e.sqlstate());
        assert_eq!(parse("64MB"), Ok(Some(64 << 20)));
        assert_eq!(parse("1GB"), Ok(Some(1 << 30)));
        assert_eq!(parse("1 GB"), Ok(Some(1 << 30)));
        assert_eq!(parse("65536"), Ok(Some(64 << 20)), "a bare number is kB");
        assert_eq!(parse("64kB"), Ok(Some(64 << 10)));
        assert_eq!(parse("0.5GB"), Ok(Some(512 << 20)));
        assert_eq!(parse("-1"), Ok(None));
        assert_eq!(parse("63kB"), Err("22023"), "below the minimum");
        assert_eq!(parse("0"), Err("22023"));
        assert_eq!(parse("1gb"), Err("22023"), "units are case-sensitive, as in PostgreSQL");
        assert_eq!(parse("lots"), Err("22023"));
        assert_eq!(parse("99999999999999TB"), Err("22023"));
        assert_eq!(show_setting(Some(256 << 20)), "256MB");
        assert_eq!(show_setting(Some(1 << 30)), "1GB");
        assert_eq!(show_setting(Some((64 << 10) + 1)), "65537B");
        assert_eq!(show_setting(Some(1536 << 10)), "1536kB");
        assert_eq!(show_setting(None), "-1");
    }

    #[test]
    fn reservations_charge_in_batches_and_give_back_on_drop() {
        let budget = MemoryBudget::new(Some(4 * BATCH));
        let mut a = budget.reservation("sort");
        a.charge(BATCH - 1).expect("pending");
        assert_eq!(budget.used(), 0, "less than a batch stays local");
        a.charge(1).expect("a batch");
        assert_eq!(budget.used(), BATCH);
        let mut b = budget.reservation("hash join");
        b.charge(2 * BATCH).expect("fits");
        let e = b.charge(2 * BATCH).expect_err("over the budget");
        assert_eq!(e.sqlstate(), "53200");
        let detail = e.detail.clone().unwrap_or_default();
        assert!(detail.contains("in hash join") && detail.contains("size 131072"), "{detail}");
        assert_eq!(budget.used(), 3 * BATCH, "a refused request takes nothing");
        drop(b);
        assert_eq!(budget.used(), BATCH);
        a.clear();
        assert_eq!(budget.used(), 0);
        drop(a);
        assert_eq!(budget.used(), 0);
        let unlimited = MemoryBudget::new(None);
        unlimited.reservation("sort").charge(usize::MAX / 2).expect("no limit");
    }

    #[test]
    fn the_text_reservation_is_all_or_nothing() {
        let budget = MemoryBudget::new(Some(1 << 20));
        let e = budget.reserve_text(100, 2 << 20).expect_err("too large");
        assert_eq!(e.sqlstate(), "54000");
        assert_eq!(budget.used(), 0);
        let held = budget.reserve_text(100, 1 << 19).expect("fits");
        assert_eq!(budget.used(), 1 << 19);
        drop(held);
        assert_eq!(budget.used(), 0);
    }
}
