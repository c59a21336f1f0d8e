//! Failed-login throttling, counted per account (OWASP ASVS 2.2.1):
//!
//! - per account and client address: after `limit` consecutive failures from one address, that
//!   address is refused (429) for the account for a window that doubles with each further
//!   failure, up to an hour; a success from that address resets it. A stranger guessing from
//!   elsewhere therefore cannot lock the owner out.
//! - per account, from every address: at most `ceiling` failures in any hour (ASVS: at most 100);
//!   past that, every address is refused until the oldest of them is an hour old. That caps what
//!   a guesser with many addresses gets, at the price that such a guesser can lock the account.
//!
//! An account counts as one whether it is named by its username or its email. A name no account
//! has counts by the name itself (trimmed, lower-cased) under the same rules, so the throttle
//! answers alike for names that exist and names that do not. Checked before any password
//! hashing, so a throttled guess costs nothing.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::domain::UserId;

/// Entries tracked at most per map; past it, entries that no longer matter are dropped first.
const MAX_TRACKED: usize = 100_000;
/// The longest window an address is refused for.
const MAX_WINDOW: Duration = Duration::from_secs(60 * 60);
/// The span over which the account-wide ceiling counts failures.
const CEILING_SPAN: Duration = Duration::from_secs(60 * 60);

/// What a login attempt named.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoginTarget {
    /// An existing account, by whichever of its names.
    Account(UserId),
    /// A name no account has, trimmed and lower-cased.
    Unknown(String),
}

impl LoginTarget {
    /// A name no account has, as the store would look it up.
    pub fn unknown(name: &str) -> Self {
        Self::Unknown(name.trim().to_lowercase())
    }
}

/// Why an attempt is refused, with how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// Too many consecutive failures for this account from this address.
    FromAddress(Duration),
    /// The account's ceiling of failures in an hour, from every address, is reached.
    Account(Duration),
}

impl Throttled {
    pub fn wait(self) -> Duration {
        match self {
            Self::FromAddress(wait) | Self::Account(wait) => wait,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// No attempts from this address before this instant.
    blocked_until: Option<Instant>,
    /// The latest failure.
    last: Instant,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Consecutive failures per (account, client network).
    pairs: HashMap<(LoginTarget, IpAddr), Failures>,
    /// Per account, when its failures of the last hour happened, oldest first; at most
    /// `ceiling` of them.
    recent: HashMap<LoginTarget, VecDeque<Instant>>,
}

/// The failed-login ledger: in this process (the embedded engine: one process is the whole
/// service), or in PostgreSQL (several servers count together).
#[derive(Debug)]
pub struct LoginThrottle {
    limit: u32,
    base: Duration,
    ceiling: usize,
    ledger: Mutex<Ledger>,
    shared: Option<sqlx::PgPool>,
}

/// Why an attempt is not let through: throttled, or the shared ledger cannot be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Throttled(Throttled),
    Unavailable,
}

impl LoginTarget {
    /// The target as the shared ledger keys it.
    fn key(&self) -> String {
        match self {
            Self::Account(id) => format!("a:{id}"),
            // PostgreSQL refuses NUL in text; no stored name holds one, nor U+FFFD.
            Self::Unknown(name) => format!("n:{}", name.replace('\0', "\u{FFFD}")),
        }
    }
}

impl LoginThrottle {
    /// `limit` consecutive failures from one address block it for `base`, doubling; at most
    /// `ceiling` failures an hour for one account from all addresses together.
    pub fn new(limit: u32, base: Duration, ceiling: u32) -> Self {
        Self {
            limit,
            base,
            ceiling: (ceiling as usize).max(1),
            ledger: Mutex::new(Ledger::default()),
            shared: None,
        }
    }

    /// The same rules, counted in the PostgreSQL database of `pool` (shared by every server).
    pub fn in_database(mut self, pool: sqlx::PgPool) -> Self {
        self.shared = Some(pool);
        self
    }

    fn rules(&self) -> crate::store::postgres::throttle::Rules {
        crate::store::postgres::throttle::Rules {
            limit: self.limit,
            base: self.base,
            ceiling: self.ceiling,
            max_window: MAX_WINDOW,
            span: CEILING_SPAN,
        }
    }

    /// `Err` while `target` may not be tried from `client`.
    pub async fn check(&self, target: &LoginTarget, client: IpAddr) -> Result<(), Refused> {
        use crate::store::postgres::throttle::{self, Refusal};
        let Some(pool) = &self.shared else {
            return self
                .check_at(target, client, Instant::now())
                .map_err(Refused::Throttled);
        };
        let network = network(client).to_string();
        match throttle::check(pool, &self.rules(), &target.key(), &network).await {
            Ok(None) => Ok(()),
            Ok(Some(Refusal::FromAddress(wait))) => {
                Err(Refused::Throttled(Throttled::FromAddress(wait)))
            }
            Ok(Some(Refusal::Account(wait))) => Err(Refused::Throttled(Throttled::Account(wait))),
            Err(_) => Err(Refused::Unavailable),
        }
    }

    fn check_at(
        &self,
        target: &LoginTarget,
        client: IpAddr,
        now: Instant,
    ) -> Result<(), Throttled> {
        let ledger = self.ledger.lock();
        let blocked = ledger
            .pairs
            .get(&(target.clone(), network(client)))
            .and_then(|failures| failures.blocked_until);
        if let Some(until) = blocked.filter(|until| *until > now) {
            return Err(Throttled::FromAddress(until - now));
        }
        if let Some(times) = ledger.recent.get(target) {
            let fresh: Vec<&Instant> = times
                .iter()
                .skip_while(|at| now.saturating_duration_since(**at) >= CEILING_SPAN)
                .collect();
            if fresh.len() >= self.ceiling {
                // Attempts are allowed again once enough of these are an hour old.
                let freed_by = fresh[fresh.len() - self.ceiling];
                return Err(Throttled::Account(
                    (*freed_by + CEILING_SPAN).saturating_duration_since(now),
                ));
            }
        }
        Ok(())
    }

    /// Records a failed attempt on `target` from `client`.
    /// Records a failed attempt.
    pub async fn failed(
        &self,
        target: &LoginTarget,
        client: IpAddr,
    ) -> Result<(), crate::store::StoreError> {
        match &self.shared {
            None => {
                self.failed_at(target, client, Instant::now());
                Ok(())
            }
            Some(pool) => {
                let network = network(client).to_string();
                crate::store::postgres::throttle::failed(
                    pool,
                    &self.rules(),
                    &target.key(),
                    &network,
                )
                .await
            }
        }
    }

    fn failed_at(&self, target: &LoginTarget, client: IpAddr, now: Instant) {
        let mut guard = self.ledger.lock();
        let ledger = &mut *guard;
        if ledger.pairs.len() >= MAX_TRACKED {
            ledger
                .pairs
                .retain(|_, f| f.blocked_until.is_some_and(|until| until > now));
        }
        if ledger.recent.len() >= MAX_TRACKED {
            ledger.recent.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|at| now.saturating_duration_since(*at) < CEILING_SPAN)
            });
        }
        let pair = ledger
            .pairs
            .entry((target.clone(), network(client)))
            .or_insert(Failures {
                count: 0,
                blocked_until: None,
                last: now,
            });
        pair.count = pair.count.saturating_add(1);
        pair.last = now;
        if pair.count >= self.limit {
            let doublings = (pair.count - self.limit).min(16);
            let window = self.base.saturating_mul(1 << doublings).min(MAX_WINDOW);
            pair.blocked_until = Some(now + window);
        }
        let times = ledger.recent.entry(target.clone()).or_default();
        while times
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= CEILING_SPAN)
        {
            times.pop_front();
        }
        times.push_back(now);
        while times.len() > self.ceiling {
            times.pop_front();
        }
    }

    /// Forgets what no longer matters: pairs with no block in force and no failure in the last
    /// hour, and accounts with no failure in the last hour. So names and addresses that never
    /// come back do not stay in memory. Returns how many entries went. Run from a timer.
    /// Forgets entries that no longer count; how many went.
    pub async fn sweep(&self) -> usize {
        match &self.shared {
            None => self.sweep_at(Instant::now()),
            Some(pool) => crate::store::postgres::throttle::sweep(pool, &self.rules())
                .await
                .unwrap_or(0),
        }
    }

    fn sweep_at(&self, now: Instant) -> usize {
        let mut ledger = self.ledger.lock();
        let before = ledger.pairs.len() + ledger.recent.len();
        ledger.pairs.retain(|_, f| {
            f.blocked_until.is_some_and(|until| until > now)
                || now.saturating_duration_since(f.last) < MAX_WINDOW
        });
        ledger.recent.retain(|_, times| {
            times
                .back()
                .is_some_and(|at| now.saturating_duration_since(*at) < CEILING_SPAN)
        });
        before - (ledger.pairs.len() + ledger.recent.len())
    }

    /// A successful login clears the record of `client`'s failures for `target`. Failures from
    /// other addresses still count towards the account's ceiling.
    /// A success from `client` resets its count for `target`.
    pub async fn succeeded(
        &self,
        target: &LoginTarget,
        client: IpAddr,
    ) -> Result<(), crate::store::StoreError> {
        match &self.shared {
            None => {
                self.forget(target, client);
                Ok(())
            }
            Some(pool) => {
                let network = network(client).to_string();
                crate::store::postgres::throttle::succeeded(pool, &target.key(), &network).await
            }
        }
    }
}

/// The network a client is counted by: an IPv4 address (also one mapped into IPv6) by itself,
/// an IPv6 address by its /64, since one subscriber usually holds a whole /64 and could
/// otherwise try from 2^64 addresses.
impl LoginThrottle {
    /// The in-process ledger's part of a success.
    fn forget(&self, target: &LoginTarget, client: IpAddr) {
        self.ledger
            .lock()
            .pairs
            .remove(&(target.clone(), network(client)));
    }
}

fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_is_blocked_after_the_limit_for_a_doubling_window_and_reset_on_success() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(10), 100);
        let alice = LoginTarget::Account(UserId::new());
        let (here, there) = (ip("198.51.100.1"), ip("203.0.113.1"));
        let t0 = Instant::now();
        throttle.failed_at(&alice, here, t0);
        throttle.failed_at(&alice, here, t0);
        assert!(
            throttle.check_at(&alice, here, t0).is_ok(),
            "two failures: not yet"
        );
        throttle.failed_at(&alice, here, t0);
        assert_eq!(
            throttle.check_at(&alice, here, t0),
            Err(Throttled::FromAddress(Duration::from_secs(10)))
        );
        assert!(
            throttle.check_at(&alice, there, t0).is_ok(),
            "another address is not blocked"
        );
        let later = t0 + Duration::from_secs(11);
        assert!(
            throttle.check_at(&alice, here, later).is_ok(),
            "the window passes"
        );
        throttle.failed_at(&alice, here, later);
        assert_eq!(
            throttle.check_at(&alice, here, later),
            Err(Throttled::FromAddress(Duration::from_secs(20))),
            "and doubles"
        );
        let bob = LoginTarget::Account(UserId::new());
        assert!(
            throttle.check_at(&bob, here, later).is_ok(),
            "other accounts are unaffected"
        );
        throttle.forget(&alice, here);
        assert!(throttle.check_at(&alice, here, later).is_ok());
    }

    #[test]
    fn the_sweep_forgets_only_entries_quiet_for_an_hour() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(10), 100);
        let (gone, recent) = (LoginTarget::unknown("gone"), LoginTarget::unknown("recent"));
        let here = ip("198.51.100.1");
        let t0 = Instant::now();
        throttle.failed_at(&gone, here, t0);
        throttle.failed_at(&recent, here, t0 + Duration::from_secs(3000));
        assert_eq!(
            throttle.sweep_at(t0 + MAX_WINDOW),
            2,
            "gone's pair and its hourly count"
        );
        let ledger = throttle.ledger.lock();
        assert_eq!((ledger.pairs.len(), ledger.recent.len()), (1, 1));
        assert!(ledger.recent.contains_key(&recent));
    }

    #[test]
    fn the_window_is_capped_at_an_hour() {
        let throttle = LoginThrottle::new(1, Duration::from_secs(60), 1_000);
        let x = LoginTarget::unknown("x");
        let now = Instant::now();
        for _ in 0..40 {
            throttle.failed_at(&x, ip("198.51.100.1"), now);
        }
        assert_eq!(
            throttle.check_at(&x, ip("198.51.100.1"), now),
            Err(Throttled::FromAddress(MAX_WINDOW))
        );
    }

    #[test]
    fn an_account_takes_at_most_the_ceiling_of_failures_an_hour_from_all_addresses() {
        let throttle = LoginThrottle::new(10, Duration::from_secs(60), 5);
        let alice = LoginTarget::Account(UserId::new());
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        for i in 0..5u32 {
            throttle.failed_at(&alice, ip(&format!("198.51.100.{i}")), t0 + minute * i);
        }
        let now = t0 + minute * 5;
        assert_eq!(
            throttle.check_at(&alice, ip("203.0.113.9"), now),
            Err(Throttled::Account(CEILING_SPAN - minute * 5)),
            "every address, until the oldest failure is an hour old"
        );
        assert!(
            throttle
                .check_at(&alice, ip("203.0.113.9"), t0 + CEILING_SPAN)
                .is_ok(),
            "then one more attempt may be made"
        );
        let bob = LoginTarget::Account(UserId::new());
        assert!(throttle.check_at(&bob, ip("203.0.113.9"), now).is_ok());
    }

    #[test]
    fn unknown_names_count_alike_ignoring_case_and_spaces() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60), 100);
        let here = ip("198.51.100.1");
        throttle.failed_at(&LoginTarget::unknown("Nobody"), here, Instant::now());
        throttle.failed_at(&LoginTarget::unknown(" nobody "), here, Instant::now());
        assert!(throttle
            .check_at(&LoginTarget::unknown("NOBODY"), here, Instant::now())
            .is_err());
    }

    #[test]
    fn ipv6_clients_count_by_their_slash_64_and_mapped_ipv4_by_its_address() {
        assert_eq!(
            network(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(network(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(network(ip("198.51.100.7")), ip("198.51.100.7"));
        let throttle = LoginThrottle::new(1, Duration::from_secs(60), 100);
        let alice = LoginTarget::Account(UserId::new());
        let now = Instant::now();
        throttle.failed_at(&alice, ip("2001:db8:1:2::1"), now);
        assert!(throttle
            .check_at(&alice, ip("2001:db8:1:2::ffff"), now)
            .is_err());
        assert!(throttle
            .check_at(&alice, ip("2001:db8:1:3::1"), now)
            .is_ok());
    }
}
