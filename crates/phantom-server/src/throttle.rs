//! Slowing down password guessing: a delay per client address after failed logins, in
//! the spirit of PostgreSQL's `auth_delay`.
//!
//! PostgreSQL's `auth_delay` sleeps before answering a failed login. That alone does not
//! throttle a guesser who does not wait for the answer (a right password is answered at
//! once, so after a moment without one the guess was wrong) nor one who opens many
//! connections at once. So the delay here is on *starting* an attempt: each address with
//! recent failures has a time before which its next attempt is not looked at, and every
//! attempt reserves its own turn after that, one delay apart. Attempts from one address
//! therefore go one at a time, whatever the number of connections, and the delay doubles
//! with each consecutive failure (`--auth-delay-ms`, twice that, four times ... up to
//! `--auth-delay-max-ms`). A successful login clears the address; so do ten quiet
//! minutes.
//!
//! Waiting happens on the connection's own task with tokio's timer, before the connection
//! takes a session slot, so a throttled address holds up nobody else's logins and cannot
//! use up `max_connections` by waiting (it still counts against the startup timeout).
//!
//! The table of addresses is bounded ([`AuthDelay::CAPACITY`] entries): when it is full,
//! a new address first clears the entries that are quiet, then takes the place of the one
//! whose last failure is oldest. An attacker with more addresses than that can make the
//! server forget some of its own failures; it cannot make the table grow.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How long an address's failures are remembered once it stops failing.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// An address that failed to log in.
#[derive(Clone, Copy, Debug)]
struct Failures {
    /// Consecutive failures.
    count: u32,
    /// Its next attempt is not looked at before this.
    next: Instant,
    /// When it last failed.
    last: Instant,
}

/// The delays, and the addresses they apply to.
#[derive(Debug)]
pub struct AuthDelay {
    base: Duration,
    max: Duration,
    capacity: usize,
    table: Mutex<HashMap<IpAddr, Failures>>,
}

impl AuthDelay {
    /// The most addresses remembered at once.
    pub const CAPACITY: usize = 10_000;

    /// Delays starting at `base` after a first failure, doubling up to `max`; a zero
    /// `base` turns them off.
    pub fn new(base: Duration, max: Duration) -> AuthDelay {
        AuthDelay::with_capacity(base, max, Self::CAPACITY)
    }

    fn with_capacity(base: Duration, max: Duration, capacity: usize) -> AuthDelay {
        AuthDelay { base, max: max.max(base), capacity, table: Mutex::new(HashMap::new()) }
    }

    /// The delay after `failures` consecutive failures.
    fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// An attempt from `address` begins at `now`: when it may go on. Reserves that turn,
    /// so the next attempt from the address comes one delay later.
    pub fn admit(&self, address: IpAddr, now: Instant) -> Instant {
        let mut table = self.table.lock();
        let Some(entry) = table.get_mut(&address) else { return now };
        if now.saturating_duration_since(entry.last) > FORGET_AFTER {
            table.remove(&address);
            return now;
        }
        let turn = entry.next.max(now);
        entry.next = turn + self.delay(entry.count);
        turn
    }

    /// An attempt from `address` failed at `now`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        if self.base.is_zero() {
            return;
        }
        let mut table = self.table.lock();
        if !table.contains_key(&address) && table.len() >= self.capacity {
            table.retain(|_, f| now.saturating_duration_since(f.last) <= FORGET_AFTER);
            if table.len() >= self.capacity
                && let Some(oldest) = table.iter().min_by_key(|(_, f)| f.last).map(|(a, _)| *a)
            {
                table.remove(&oldest);
            }
        }
        let entry = table.entry(address).or_insert(Failures { count: 0, next: now, last: now });
        if now.saturating_duration_since(entry.last) > FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        entry.next = entry.next.max(now + self.delay(entry.count));
    }

    /// An attempt from `address` succeeded: its failures are forgotten.
    pub fn succeeded(&self, address: IpAddr) {
        self.table.lock().remove(&address);
    }

    /// How many addresses are remembered.
    pub fn len(&self) -> usize {
        self.table.lock().len()
    }

    /// True when no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn delays_double_up_to_the_cap_and_a_success_clears_them() {
        let delay = AuthDelay::new(100 * MS, 350 * MS);
        let t0 = Instant::now();
        let a = ip(1);
        assert_eq!(delay.admit(a, t0), t0, "no failures, no wait");
        delay.failed(a, t0);
        assert_eq!(delay.admit(a, t0), t0 + 100 * MS);
        delay.failed(a, t0 + 100 * MS);
        // The reserved turn (t0 + 200) is passed by the new failure's delay (100 + 200).
        assert_eq!(delay.admit(a, t0 + 100 * MS), t0 + 300 * MS);
        delay.failed(a, t0 + 300 * MS);
        assert_eq!(delay.admit(a, t0 + 300 * MS), t0 + 650 * MS, "400 ms capped at 350");
        // Another address is not held up by this one.
        assert_eq!(delay.admit(ip(2), t0 + 300 * MS), t0 + 300 * MS);
        delay.succeeded(a);
        assert_eq!(delay.admit(a, t0 + 700 * MS), t0 + 700 * MS);
        assert!(delay.is_empty());
    }

    /// Attempts made at once from one address go one delay apart.
    #[test]
    fn parallel_attempts_from_one_address_take_turns() {
        let delay = AuthDelay::new(50 * MS, Duration::from_secs(1));
        let t0 = Instant::now();
        delay.failed(ip(1), t0);
        let turns: Vec<Duration> = (0..4).map(|_| delay.admit(ip(1), t0) - t0).collect();
        assert_eq!(turns, [50 * MS, 100 * MS, 150 * MS, 200 * MS]);
    }

    #[test]
    fn the_table_of_addresses_is_bounded() {
        let delay = AuthDelay::with_capacity(10 * MS, 100 * MS, 8);
        let t0 = Instant::now();
        for k in 0..100u8 {
            delay.failed(ip(k), t0 + u32::from(k) * MS);
            assert!(delay.len() <= 8);
        }
        // The newest are the ones kept.
        assert!(delay.admit(ip(99), t0 + 100 * MS) > t0 + 100 * MS);
        assert_eq!(delay.admit(ip(0), t0 + 100 * MS), t0 + 100 * MS);
        // Quiet addresses are forgotten.
        let later = t0 + FORGET_AFTER + Duration::from_secs(1);
        assert_eq!(delay.admit(ip(99), later + 100 * MS), later + 100 * MS);
    }

    #[test]
    fn a_zero_delay_is_off() {
        let delay = AuthDelay::new(Duration::ZERO, Duration::ZERO);
        let t0 = Instant::now();
        delay.failed(ip(1), t0);
        assert_eq!(delay.admit(ip(1), t0), t0);
        assert!(delay.is_empty());
    }
}
