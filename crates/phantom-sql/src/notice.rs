//! Notices and warnings: messages a statement sends its client without failing.
//!
//! PostgreSQL's `ereport(NOTICE, ...)` can be called from anywhere in the backend, and
//! the same is true here: [`raise`] may be called from the binder or the executor
//! without a handle being threaded through every signature. The messages collect in a
//! thread-local buffer, which is sound because a session runs its statements on one
//! thread (its own, or the embedder's); the session empties the buffer when a statement
//! starts ([`clear`]) and hands what collected to its caller when it ends ([`take`]):
//! the server sends each as a NoticeResponse before the statement's CommandComplete, the
//! shell prints them as psql does. `client_min_messages` filters them there.
//!
//! A notice raised on another thread (none is, today) would be lost, not misdelivered.

use std::cell::RefCell;

/// How serious a message is, lowest first (the levels `client_min_messages` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Debug,
    Log,
    Notice,
    Warning,
}

impl Severity {
    /// The severity as PostgreSQL spells it in messages.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Debug => "DEBUG",
            Severity::Log => "LOG",
            Severity::Notice => "NOTICE",
            Severity::Warning => "WARNING",
        }
    }

    /// The lowest severity a `client_min_messages` value lets through (`error` lets no
    /// notice or warning through).
    pub fn threshold(setting: &str) -> Option<Severity> {
        match setting.trim().to_ascii_lowercase().as_str() {
            "debug" | "debug1" | "debug2" | "debug3" | "debug4" | "debug5" => Some(Severity::Debug),
            "log" => Some(Severity::Log),
            "notice" | "info" => Some(Severity::Notice),
            "warning" => Some(Severity::Warning),
            _ => None,
        }
    }
}

/// One message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub severity: Severity,
    /// The SQLSTATE (`00000` for a plain notice).
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl Notice {
    /// A NOTICE (the usual severity) with SQLSTATE `code`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Notice {
        Notice { severity: Severity::Notice, code, message: message.into(), detail: None, hint: None }
    }

    /// A WARNING with SQLSTATE `code`.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Notice {
        Notice { severity: Severity::Warning, ..Notice::new(code, message) }
    }

    /// The same notice with a DETAIL line.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Notice {
        self.detail = Some(detail.into());
        self
    }
}

thread_local! {
    static PENDING: RefCell<Vec<Notice>> = const { RefCell::new(Vec::new()) };
}

/// Sends `notice` to the client of the statement running on this thread.
pub fn raise(notice: Notice) {
    PENDING.with(|pending| pending.borrow_mut().push(notice));
}

/// Forgets what earlier work on this thread raised (a statement is starting).
pub fn clear() {
    PENDING.with(|pending| pending.borrow_mut().clear());
}

/// What was raised since the last [`clear`] or [`take`], oldest first.
pub fn take() -> Vec<Notice> {
    PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_collect_in_order_until_taken() {
        clear();
        raise(Notice::new("00000", "first"));
        raise(Notice::warning("25P01", "second").with_detail("why"));
        let taken = take();
        assert_eq!(taken.len(), 2);
        assert_eq!((taken[0].message.as_str(), taken[1].severity), ("first", Severity::Warning));
        assert_eq!(taken[1].detail.as_deref(), Some("why"));
        assert!(take().is_empty());
        raise(Notice::new("00000", "stale"));
        clear();
        assert!(take().is_empty());
    }

    #[test]
    fn client_min_messages_thresholds() {
        assert_eq!(Severity::threshold("NOTICE"), Some(Severity::Notice));
        assert_eq!(Severity::threshold("warning"), Some(Severity::Warning));
        assert_eq!(Severity::threshold("error"), None);
        assert!(Severity::Warning >= Severity::threshold("notice").expect("level"));
    }
}
