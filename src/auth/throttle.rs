//! Per-account login throttling: after N consecutive failures for one login name, further
//! attempts get 429 for a window that doubles with each further failure (capped at an hour);
//! a success resets it.
//!
//! Keyed by the name as submitted (lower-cased), whether or not an account has it, so the
//! throttle behaves identically for existing and unknown accounts and reveals nothing. Checked
//! before any password hashing, so a throttled guess costs nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Names tracked at most; past it, entries whose window has passed are dropped first.
const MAX_TRACKED: usize = 100_000;
const MAX_WINDOW: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// No attempts before this instant.
    blocked_until: Option<Instant>,
    last: Instant,
}

/// The failed-login ledger.
#[derive(Debug)]
pub struct LoginThrottle {
    limit: u32,
    base: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    pub fn new(limit: u32, base: Duration) -> Self {
        Self {
            limit,
            base,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key(name: &str) -> String {
        name.trim().to_lowercase()
    }

    /// `Err(wait)` while `name` is throttled.
    pub fn check(&self, name: &str) -> Result<(), Duration> {
        self.check_at(name, Instant::now())
    }

    fn check_at(&self, name: &str, now: Instant) -> Result<(), Duration> {
        match self
            .failures
            .lock()
            .get(&Self::key(name))
            .and_then(|f| f.blocked_until)
        {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt; from the `limit`-th on, blocks the name for a growing window.
    pub fn failed(&self, name: &str) {
        self.failed_at(name, Instant::now());
    }

    fn failed_at(&self, name: &str, now: Instant) {
        let mut failures = self.failures.lock();
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| f.blocked_until.is_some_and(|until| until > now));
        }
        let entry = failures.entry(Self::key(name)).or_insert(Failures {
            count: 0,
            blocked_until: None,
            last: now,
        });
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        if entry.count >= self.limit {
            let doublings = (entry.count - self.limit).min(16);
            let window = self.base.saturating_mul(1 << doublings).min(MAX_WINDOW);
            entry.blocked_until = Some(now + window);
        }
    }

    /// Forgets names with no block in force and no failure in the last hour, so that names
    /// which never come back do not stay in memory; returns how many. Run from a timer.
    pub fn sweep(&self) -> usize {
        self.sweep_at(Instant::now())
    }

    fn sweep_at(&self, now: Instant) -> usize {
        let mut failures = self.failures.lock();
        let before = failures.len();
        failures.retain(|_, f| {
            f.blocked_until.is_some_and(|until| until > now)
                || now.saturating_duration_since(f.last) < MAX_WINDOW
        });
        before - failures.len()
    }

    /// A successful login clears the name's record.
    pub fn succeeded(&self, name: &str) {
        self.failures.lock().remove(&Self::key(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_for_a_doubling_window_and_resets_on_success() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        throttle.failed_at("Alice", t0);
        throttle.failed_at("alice", t0);
        assert!(
            throttle.check_at("alice", t0).is_ok(),
            "two failures: not yet"
        );
        throttle.failed_at("alice", t0);
        assert_eq!(throttle.check_at("ALICE", t0), Err(Duration::from_secs(10)));
        let later = t0 + Duration::from_secs(11);
        assert!(
            throttle.check_at("alice", later).is_ok(),
            "the window passes"
        );
        throttle.failed_at("alice", later);
        assert_eq!(
            throttle.check_at("alice", later),
            Err(Duration::from_secs(20)),
            "and doubles"
        );
        assert!(
            throttle.check_at("bob", later).is_ok(),
            "other names are unaffected"
        );
        throttle.succeeded("alice");
        assert!(throttle.check_at("alice", later).is_ok());
    }

    #[test]
    fn the_sweep_forgets_only_names_quiet_for_an_hour() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        throttle.failed_at("gone", t0);
        throttle.failed_at("recent", t0 + Duration::from_secs(3000));
        assert_eq!(throttle.sweep_at(t0 + MAX_WINDOW), 1);
        assert_eq!(throttle.failures.lock().len(), 1);
        assert!(throttle.failures.lock().contains_key("recent"));
    }

    #[test]
    fn the_window_is_capped_at_an_hour() {
        let throttle = LoginThrottle::new(1, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..40 {
            throttle.failed_at("x", now);
        }
        assert_eq!(throttle.check_at("x", now), Err(MAX_WINDOW));
    }
}
