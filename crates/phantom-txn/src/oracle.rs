//! The timestamp oracle: commit timestamps, snapshots and the visibility watermark.
//!
//! Commit timestamps are handed out in increasing order, but commits finish (become durable
//! and applied) in any order. A snapshot must never see a timestamp whose versions are only
//! partly applied, so snapshots are taken at the *visibility watermark*: the highest
//! timestamp at or below which every commit has finished.
//!
//! ```text
//!   assigned:   5  6  7  8
//!   finished:   5     7         -> watermark 5 (6 is still in flight)
//!   finished:   5  6  7         -> watermark 7
//! ```
//!
//! A committer waits for the watermark to reach its own timestamp before it returns, so a
//! session always sees its own commits in its next transaction. The oracle also counts live
//! snapshots: the oldest one bounds what garbage collection and keyspace drops may remove.

use std::collections::{BTreeMap, BTreeSet};

use parking_lot::{Condvar, Mutex};

use crate::Timestamp;

#[derive(Debug)]
struct State {
    next_ts: Timestamp,
    in_flight: BTreeSet<Timestamp>,
    watermark: Timestamp,
    snapshots: BTreeMap<Timestamp, usize>,
}

/// Hands out timestamps and tracks which are visible.
#[derive(Debug)]
pub struct Oracle {
    state: Mutex<State>,
    advanced: Condvar,
}

impl Oracle {
    /// An oracle whose last finished commit is `last_ts` (0 for an empty database).
    pub fn new(last_ts: Timestamp) -> Self {
        Oracle {
            state: Mutex::new(State {
                next_ts: last_ts + 1,
                in_flight: BTreeSet::new(),
                watermark: last_ts,
                snapshots: BTreeMap::new(),
            }),
            advanced: Condvar::new(),
        }
    }

    /// Takes a snapshot at the watermark and registers it as live.
    pub fn begin_snapshot(&self) -> Timestamp {
        let mut state = self.state.lock();
        let ts = state.watermark;
        *state.snapshots.entry(ts).or_insert(0) += 1;
        ts
    }

    /// Registers one more holder of `ts`, a snapshot already live (it must be released
    /// with [`Oracle::end_snapshot`] too).
    pub fn retain_snapshot(&self, ts: Timestamp) {
        *self.state.lock().snapshots.entry(ts).or_insert(0) += 1;
    }

    /// Releases a snapshot taken with [`Oracle::begin_snapshot`].
    pub fn end_snapshot(&self, ts: Timestamp) {
        let mut state = self.state.lock();
        if let Some(count) = state.snapshots.get_mut(&ts) {
            *count -= 1;
            if *count == 0 {
                state.snapshots.remove(&ts);
            }
        }
    }

    /// The oldest live snapshot, or the watermark when there is none. Versions that only
    /// snapshots older than this could see are garbage.
    pub fn oldest_snapshot(&self) -> Timestamp {
        let state = self.state.lock();
        state.snapshots.keys().next().copied().unwrap_or(state.watermark)
    }

    /// The visibility watermark.
    pub fn watermark(&self) -> Timestamp {
        self.state.lock().watermark
    }

    /// The highest commit timestamp handed out so far (committed or not).
    pub fn last_assigned(&self) -> Timestamp {
        self.state.lock().next_ts - 1
    }

    /// Assigns the next commit timestamp; the commit is in flight until
    /// [`Oracle::finish_commit`] or [`Oracle::abandon_commit`].
    pub fn begin_commit(&self) -> Timestamp {
        let mut state = self.state.lock();
        let ts = state.next_ts;
        state.next_ts += 1;
        state.in_flight.insert(ts);
        ts
    }

    /// Marks `ts` as fully applied and waits until the watermark covers it.
    pub fn finish_commit(&self, ts: Timestamp) {
        let mut state = self.state.lock();
        self.retire(&mut state, ts);
        while state.watermark < ts {
            self.advanced.wait(&mut state);
        }
    }

    /// Gives up `ts` (its record never reached the log), letting the watermark pass it.
    pub fn abandon_commit(&self, ts: Timestamp) {
        let mut state = self.state.lock();
        self.retire(&mut state, ts);
    }

    fn retire(&self, state: &mut State, ts: Timestamp) {
        state.in_flight.remove(&ts);
        let watermark = match state.in_flight.first() {
            Some(oldest) => oldest - 1,
            None => state.next_ts - 1,
        };
        if watermark > state.watermark {
            state.watermark = watermark;
            self.advanced.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn watermark_waits_for_the_oldest_in_flight_commit() {
        let oracle = Oracle::new(4);
        let t5 = oracle.begin_commit();
        let t6 = oracle.begin_commit();
        let t7 = oracle.begin_commit();
        assert_eq!((t5, t6, t7), (5, 6, 7));
        oracle.abandon_commit(t7);
        assert_eq!(oracle.watermark(), 4);
        oracle.abandon_commit(t5);
        assert_eq!(oracle.watermark(), 5);
        oracle.finish_commit(t6);
        assert_eq!(oracle.watermark(), 7);
    }

    #[test]
    fn finish_blocks_until_earlier_commits_finish() {
        let oracle = Arc::new(Oracle::new(0));
        let t1 = oracle.begin_commit();
        let t2 = oracle.begin_commit();
        let waiter = {
            let oracle = oracle.clone();
            std::thread::spawn(move || {
                oracle.finish_commit(t2);
                oracle.watermark()
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!waiter.is_finished());
        oracle.finish_commit(t1);
        assert_eq!(waiter.join().ok(), Some(2));
    }

    #[test]
    fn oldest_snapshot_tracks_live_snapshots() {
        let oracle = Oracle::new(0);
        let s0 = oracle.begin_snapshot();
        let t = oracle.begin_commit();
        oracle.finish_commit(t);
        let s1 = oracle.begin_snapshot();
        assert_eq!((s0, s1), (0, 1));
        assert_eq!(oracle.oldest_snapshot(), 0);
        oracle.end_snapshot(s0);
        assert_eq!(oracle.oldest_snapshot(), 1);
        oracle.end_snapshot(s1);
        assert_eq!(oracle.oldest_snapshot(), 1);
    }
}
