//! The PostgreSQL engine's read cache: the two lookups every authenticated read makes (the
//! token's session, the post asked for) answered from memory, so that a read costs no round
//! trip to the database.
//!
//! # Invalidation
//! Triggers in the schema (see `SCHEMA` in `mod.rs`) notify the channel [`CHANNEL`] from every
//! statement that can change what the cache holds: `sessions` when sessions are deleted
//! (logout, password change, revocation, the sweep, the cap) or cut short, `users` when an
//! account changes or goes (its role, the profile shown beside its posts), `posts` when a post,
//! a favorite or a follow changes. PostgreSQL delivers a notification to every listening server
//! when the transaction commits, in commit order. Being in the database, the triggers fire for
//! every writer: any server, `copy-store`, an operator's `psql`.
//!
//! A notification bumps an epoch (`sessions`, `posts`, or both for `users`); an entry is served
//! only while the epoch it was filled under is current. Coarse on purpose: one counter per kind
//! costs O(1) per notification and cannot miss a dependent entry (a renamed author shows in
//! every cached post of theirs at once). Writes are rare next to reads on a blog; a write costs
//! each server's cache one refill per entry read again.
//!
//! # "On the next request to any other server"
//! A notification alone arrives *soon* after the commit, not before the writer answers: a
//! client told "logged out" by server A could still be let in by server B's cache for a
//! moment. So every write through this engine ends with a handshake: the writer notifies
//! `sync:<its id>:<n>` (after its commit, so every server receives it after the write's own
//! notifications) and waits until every other live server has answered `ack:<writer>:<n>:<id>`,
//! which a server sends after bumping its epochs. Only then does the write answer. With no
//! other server alive it costs nothing; with others, one more notification each way.
//!
//! Who is alive: every server notifies `hb:<its id>` every [`HEARTBEAT`]. A server serves from
//! its cache only while it has heard its *own* heartbeat within [`LEASE`] (proof that its
//! listening connection is up and caught up), and a writer waits for the servers it has heard
//! within the lease. A server cut off from the database stops serving from its cache within the
//! lease, and a writer waits at most a lease and a [`MARGIN`] for one that went silent. A server that shuts
//! down says so once it has stopped serving requests (`bye:<its id>`): the others forget it at
//! once, and their writes no longer wait for it (a restart of one server would otherwise hold
//! every write of the others for up to a lease). Its heartbeats still in flight are ignored.
//!
//! # Why an entry is never stale
//! - An entry carries the epoch read *before* its query: if a change commits while the query
//!   runs, its notification bumps the epoch and the entry is never served.
//! - This server's own writes bump its epochs before they answer.
//! - Nothing is served or cached while the listener is not listening, nor outside the lease;
//!   when listening resumes, both epochs are bumped first (notifications may have been missed).
//! - Entries live at most [`TTL`]; what is cached is checked again on every hit against the
//!   clock: a session past its expiry is not served, a scheduled post is hidden until its time.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use quick_cache::sync::Cache;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::domain::{PostId, Role, SessionId, Tag, Timestamp, UserId};
use crate::store::records::Post;

/// The channel the schema's triggers and the servers notify.
pub(super) const CHANNEL: &str = "blog_cache";

/// The longest an entry is served without being read again from the database.
const TTL: Duration = Duration::from_secs(5);

/// How often a server announces itself.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// A server serves from its cache only while its latest own heartbeat it has heard was *sent*
/// less than this long ago (so a listener that lags, or hears nothing, stops serving).
const LEASE: Duration = Duration::from_secs(3);

/// Added to a lease wherever one server waits for another's to end (the time between a
/// notification's commit and the writer's clock reading).
const MARGIN: Duration = Duration::from_millis(200);

/// How long a server that said it stopped is remembered: far longer than any heartbeat of its
/// can be in flight (server ids are never reused; a restarted server has a new one).
const DEPARTED_FOR: Duration = Duration::from_secs(60);

/// How long the listener waits before connecting again after losing its connection.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Bytes of post views a cache of `entries` holds: 4 KiB each on average (a post view is
/// weighed by its text, so a few long posts cannot take gigabytes).
const POST_BYTES_PER_ENTRY: u64 = 4096;

/// Most counts kept of each kind (each a few hundred bytes: a tag list or a number).
const COUNTS: usize = 1024;

/// Counts of a kind, by what they were asked with.
pub(super) type Counts<K, T> = Cache<K, Counted<T>>;

/// The right to count `key` and keep the count: while one is held, the requests that miss the
/// same key wait for what it keeps.
pub(super) type CountGuard<'a, K, T> = quick_cache::sync::PlaceholderGuard<
    'a,
    K,
    Counted<T>,
    quick_cache::UnitWeighter,
    quick_cache::DefaultHashBuilder,
    quick_cache::sync::DefaultLifecycle<K, Counted<T>>,
>;

/// A live session as the per-request check needs it.
#[derive(Clone)]
pub(super) struct CachedSession {
    pub user_id: UserId,
    pub role: Role,
    pub expires_at: Timestamp,
    /// When the session's last use was written (milliseconds), shared by the entry's clones so
    /// that the write happens once a minute, not once per request.
    pub touched_ms: Arc<AtomicI64>,
    epoch: u64,
    filled: Instant,
}

impl CachedSession {
    pub fn new(user_id: UserId, role: Role, expires_at: Timestamp, touched: Timestamp) -> Self {
        Self {
            user_id,
            role,
            expires_at,
            touched_ms: Arc::new(AtomicI64::new(touched.timestamp_millis())),
            epoch: 0,
            filled: Instant::now(),
        }
    }
}

/// How a post is asked for.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) enum PostLookup {
    Id(PostId),
    Slug(Box<str>),
}

#[derive(Clone)]
struct CachedPost {
    post: Arc<Post>,
    epoch: u64,
    filled: Instant,
}

/// The filters of a RealWorld article list whose `articlesCount` is kept: tag, the author's and
/// favoriting account's usernames (as looked up), the follower of a feed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct TotalKey {
    pub tag: Option<Box<str>>,
    pub author: Option<Box<str>>,
    pub favorited: Option<Box<str>>,
    pub feed_of: Option<Uuid>,
}

/// A count over many posts that a page asks for, kept so that it is counted once per change
/// rather than once per request (at 1M posts each is a scan of 150-300 ms).
#[derive(Clone)]
pub(super) struct Counted<T> {
    value: T,
    epoch: u64,
    filled: Instant,
    /// When the next scheduled post becomes public (it changes every count of public posts with
    /// no write to notify): the count is not served from then on.
    until: Option<Timestamp>,
}

/// Weighs a post view by its text.
#[derive(Clone)]
struct PostWeight;

impl quick_cache::Weighter<(Uuid, PostLookup), CachedPost> for PostWeight {
    fn weight(&self, _: &(Uuid, PostLookup), entry: &CachedPost) -> u64 {
        let post = &entry.post;
        (post.content.as_str().len()
            + post.title.as_str().len()
            + post.description.as_ref().map_or(0, |d| d.as_str().len())
            + 512) as u64
    }
}

/// The epoch an entry will be filled under and when, read before its query; `None` when
/// nothing may be cached now.
#[derive(Clone, Copy)]
pub(super) struct Ticket(Option<(u64, Instant)>);

/// A write waiting for the other servers' acknowledgements.
struct Waiter {
    pending: HashSet<Uuid>,
    done: Option<oneshot::Sender<()>>,
}

/// The caches, their epochs and what this server knows of the others.
pub(super) struct Caches {
    /// This server, in the handshake's messages.
    id: Uuid,
    /// Whether entries are served (`BLOG_DATABASE_CACHE_ENTRIES` > 0). The listener, the
    /// heartbeat and the handshake run either way, so that a server without a cache still
    /// makes the others drop theirs before its writes answer.
    enabled: bool,
    listening: AtomicBool,
    /// This server has stopped serving and said so ([`Caches::leave`]): nothing is served from
    /// the cache again, whatever the listener does.
    left: AtomicBool,
    /// The origin of the times below.
    born: Instant,
    /// When the latest own heartbeat heard was sent, in milliseconds after `born` plus one
    /// (0: none since listening began). Read on every hit: an atomic, not a lock.
    heard_self: AtomicU64,
    /// Own heartbeats heard since listening began: serving waits for the second, so that the
    /// other servers have had a heartbeat's time to hear of this one.
    self_beats: AtomicU32,
    /// The other servers, by when they were last heard.
    peers: Mutex<HashMap<Uuid, Instant>>,
    /// Servers that said they stopped, by when: a heartbeat of theirs still in flight must not
    /// bring them back. Kept for [`DEPARTED_FOR`].
    departed: Mutex<HashMap<Uuid, Instant>>,
    waiters: Mutex<HashMap<u64, Waiter>>,
    next_sync: AtomicU64,
    sessions_epoch: AtomicU64,
    posts_epoch: AtomicU64,
    sessions: Cache<SessionId, CachedSession>,
    /// By viewer (the nil UUID for anonymous) and lookup: `favorited` and `following` are the
    /// viewer's.
    posts: Cache<(Uuid, PostLookup), CachedPost, PostWeight>,
    /// `/tags` by its `limit`, and `articlesCount` by filters. Under the posts' epoch: every
    /// change that can change a count (a post, its tags, a favorite, a follow, an account)
    /// bumps it.
    pub tag_counts: Counts<usize, Arc<[(Tag, usize)]>>,
    pub totals: Counts<TotalKey, usize>,
}

impl Caches {
    /// Caches of `entries` sessions and about as many post views (0: no caching).
    pub fn new(entries: usize) -> Self {
        let room = entries.max(1);
        Self {
            id: Uuid::new_v4(),
            enabled: entries > 0,
            listening: AtomicBool::new(false),
            left: AtomicBool::new(false),
            born: Instant::now(),
            heard_self: AtomicU64::new(0),
            self_beats: AtomicU32::new(0),
            peers: Mutex::new(HashMap::new()),
            departed: Mutex::new(HashMap::new()),
            waiters: Mutex::new(HashMap::new()),
            next_sync: AtomicU64::new(0),
            sessions_epoch: AtomicU64::new(0),
            posts_epoch: AtomicU64::new(0),
            sessions: Cache::new(room),
            posts: Cache::with_weighter(room, room as u64 * POST_BYTES_PER_ENTRY, PostWeight),
            tag_counts: Cache::new(COUNTS.min(room)),
            totals: Cache::new(COUNTS.min(room)),
        }
    }

    /// Whether entries may be served and filled now.
    fn live(&self) -> bool {
        self.enabled
            && !self.left.load(Ordering::Acquire)
            && self.listening.load(Ordering::Acquire)
            && self.self_beats.load(Ordering::Acquire) >= 2
            && match self.heard_self.load(Ordering::Acquire) {
                0 => false,
                sent => self.millis() < sent - 1 + LEASE.as_millis() as u64,
            }
    }

    /// Milliseconds since `born`.
    fn millis(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    fn ticket(&self, epoch: &AtomicU64) -> Ticket {
        // The epoch is read first: anything that stops the cache after this read also bumps
        // the epoch, so the entry is never served.
        let epoch = epoch.load(Ordering::Acquire);
        Ticket(self.live().then(|| (epoch, Instant::now())))
    }

    fn fresh(&self, epoch: u64, filled: Instant, current: &AtomicU64) -> bool {
        epoch == current.load(Ordering::Acquire) && filled.elapsed() < TTL && self.live()
    }

    pub fn session_ticket(&self) -> Ticket {
        self.ticket(&self.sessions_epoch)
    }

    pub fn session(&self, id: SessionId) -> Option<CachedSession> {
        if !self.enabled {
            return None;
        }
        let entry = self.sessions.get(&id)?;
        self.fresh(entry.epoch, entry.filled, &self.sessions_epoch)
            .then_some(entry)
    }

    pub fn put_session(&self, id: SessionId, ticket: Ticket, mut entry: CachedSession) {
        if let Ticket(Some((epoch, asked))) = ticket {
            entry.epoch = epoch;
            entry.filled = asked;
            self.sessions.insert(id, entry);
        }
    }

    pub fn post_ticket(&self) -> Ticket {
        self.ticket(&self.posts_epoch)
    }

    pub fn post(&self, viewer: Uuid, lookup: PostLookup) -> Option<Post> {
        if !self.enabled {
            return None;
        }
        let entry = self.posts.get(&(viewer, lookup))?;
        self.fresh(entry.epoch, entry.filled, &self.posts_epoch)
            .then(|| Post::clone(&entry.post))
    }

    pub fn put_post(&self, viewer: Uuid, lookup: PostLookup, ticket: Ticket, post: &Post) {
        if let Ticket(Some((epoch, asked))) = ticket {
            let entry = CachedPost {
                post: Arc::new(post.clone()),
                epoch,
                filled: asked,
            };
            self.posts.insert((viewer, lookup), entry);
        }
    }

    /// Whether `entry` may be served at `now`: counted under the current posts epoch, within
    /// the TTL, and before the next scheduled post became public.
    fn serves<T>(&self, entry: &Counted<T>, now: Timestamp) -> bool {
        self.fresh(entry.epoch, entry.filled, &self.posts_epoch)
            && entry.until.is_none_or(|until| now < until)
    }

    /// The count of `key` in `counts` at `now`, or else the guard to count it with (`None`
    /// while the cache does not serve: count without keeping). One count of a key at a time: a
    /// request that misses while another counts waits for what that one keeps.
    pub async fn counted<'a, K: Clone + Eq + std::hash::Hash, T: Clone>(
        &self,
        counts: &'a Counts<K, T>,
        key: &K,
        now: Timestamp,
    ) -> Result<T, Option<CountGuard<'a, K, T>>> {
        loop {
            if !self.live() {
                return Err(None);
            }
            match counts.get_value_or_guard_async(key).await {
                Ok(entry) if self.serves(&entry, now) => return Ok(entry.value),
                // Outdated: dropped (unless replaced meanwhile), then asked again.
                Ok(_) => {
                    counts.remove_if(key, |entry| !self.serves(entry, now));
                }
                Err(guard) => return Err(Some(guard)),
            }
        }
    }

    /// Keeps `value` through `guard`, counted after `ticket` was taken (a
    /// [`Caches::post_ticket`]), until the next scheduled post, due at `until`, becomes public.
    /// Without a ticket (the cache stopped serving meanwhile) nothing is kept, and the requests
    /// waiting on the guard count for themselves.
    pub fn keep<K: Clone + Eq + std::hash::Hash, T: Clone>(
        &self,
        guard: CountGuard<'_, K, T>,
        ticket: Ticket,
        value: T,
        until: Option<Timestamp>,
    ) {
        if let Ticket(Some((epoch, filled))) = ticket {
            let _ = guard.insert(Counted {
                value,
                epoch,
                filled,
                until,
            });
        }
    }

    /// Nothing cached before now is served again.
    fn bump(&self) {
        self.sessions_epoch.fetch_add(1, Ordering::AcqRel);
        self.posts_epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The other servers heard within a lease (the others are forgotten).
    fn live_peers(&self) -> HashSet<Uuid> {
        let mut peers = self.peers.lock();
        peers.retain(|_, heard| heard.elapsed() < LEASE + MARGIN);
        peers.keys().copied().collect()
    }

    /// `peer` said it stopped serving: forgotten at once, and no write waits for it any more.
    fn forget(&self, peer: Uuid) {
        {
            let mut departed = self.departed.lock();
            departed.retain(|_, when| when.elapsed() < DEPARTED_FOR);
            departed.insert(peer, Instant::now());
        }
        self.peers.lock().remove(&peer);
        for waiter in self.waiters.lock().values_mut() {
            if waiter.pending.remove(&peer) && waiter.pending.is_empty() {
                if let Some(done) = waiter.done.take() {
                    let _ = done.send(());
                }
            }
        }
    }

    /// This server has stopped serving requests (it is shutting down): nothing is served from
    /// the cache any more, and the others are told to stop waiting for its acknowledgements.
    /// Sent over `pool`, the cache's own.
    pub async fn leave(&self, pool: &PgPool) {
        self.left.store(true, Ordering::Release);
        self.suspend();
        if notify(pool, &format!("bye:{}", self.id)).await {
            tracing::info!("told the other servers that this one stopped");
        }
    }

    /// How many other servers this one hears (for `/health`).
    pub fn peer_count(&self) -> usize {
        self.live_peers().len()
    }

    /// This server wrote (or may have: its outcome unknown): nothing cached before is served
    /// here, and the write answers once every other live server has dropped what it cached
    /// before it (see the module documentation). Sent over `pool`, the cache's own.
    pub async fn wrote(&self, pool: &PgPool) {
        self.bump();
        let n = self.next_sync.fetch_add(1, Ordering::Relaxed);
        let (done, acked) = oneshot::channel();
        {
            // The peers are read under the waiters' lock: a `bye` handled meanwhile has either
            // taken its server out of the peers already, or finds this waiter when it looks.
            let mut waiters = self.waiters.lock();
            let peers = self.live_peers();
            if peers.is_empty() {
                return;
            }
            waiters.insert(
                n,
                Waiter {
                    pending: peers,
                    done: Some(done),
                },
            );
        }
        // Removes the waiter however this ends, the request dropped included.
        struct Forget<'a>(&'a Caches, u64);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                self.0.waiters.lock().remove(&self.1);
            }
        }
        let _forget = Forget(self, n);
        notify(pool, &format!("sync:{}:{n}", self.id)).await;
        // A server that does not answer by then has stopped serving from its cache: its lease
        // rests on a heartbeat sent before this sync's commit, or it has seen the sync.
        let deadline = tokio::time::Instant::now() + LEASE + MARGIN;
        if tokio::time::timeout_at(deadline, acked).await.is_err() {
            tracing::warn!(
                "a server did not acknowledge a write within its lease; it has stopped serving \
                 from its cache"
            );
        }
    }

    /// A notification on [`CHANNEL`]; `Some(message)` when it calls for an answer.
    fn notified(&self, payload: &str) -> Option<String> {
        let mut parts = payload.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("sessions"), None, ..) => {
                self.sessions_epoch.fetch_add(1, Ordering::AcqRel);
            }
            (Some("posts"), None, ..) => {
                self.posts_epoch.fetch_add(1, Ordering::AcqRel);
            }
            (Some("hb"), Some(id), Some(sent), None) => {
                let id = Uuid::parse_str(id).ok()?;
                if id == self.id {
                    let sent = sent.parse::<u64>().ok()?;
                    self.heard_self.fetch_max(sent + 1, Ordering::AcqRel);
                    self.self_beats.fetch_add(1, Ordering::AcqRel);
                } else if !self.departed.lock().contains_key(&id) {
                    self.peers.lock().insert(id, Instant::now());
                }
            }
            (Some("bye"), Some(id), None, _) => {
                let id = Uuid::parse_str(id).ok()?;
                if id != self.id {
                    self.forget(id);
                }
            }
            (Some("sync"), Some(from), Some(n), None) => {
                if Uuid::parse_str(from).ok()? != self.id {
                    // Everything the writer committed before was delivered before this.
                    self.bump();
                    return Some(format!("ack:{from}:{n}:{}", self.id));
                }
            }
            (Some("ack"), Some(to), Some(n), Some(from)) => {
                if Uuid::parse_str(to).ok()? == self.id {
                    let (n, from) = (n.parse::<u64>().ok()?, Uuid::parse_str(from).ok()?);
                    let mut waiters = self.waiters.lock();
                    if let Some(waiter) = waiters.get_mut(&n) {
                        waiter.pending.remove(&from);
                        if waiter.pending.is_empty() {
                            if let Some(done) = waiter.done.take() {
                                let _ = done.send(());
                            }
                        }
                    }
                }
            }
            // `users`, `all`, or anything this version does not know: drop everything.
            _ => self.bump(),
        }
        None
    }

    /// Listening (again): what was cached before may have missed notifications.
    fn resume(&self) {
        self.bump();
        self.heard_self.store(0, Ordering::Release);
        self.self_beats.store(0, Ordering::Release);
        self.listening.store(true, Ordering::Release);
    }

    /// Not listening: nothing is served or cached until [`Caches::resume`] and two own
    /// heartbeats. Returns whether it was listening.
    fn suspend(&self) -> bool {
        let was = self.listening.swap(false, Ordering::AcqRel);
        self.heard_self.store(0, Ordering::Release);
        self.bump();
        self.sessions.clear();
        self.posts.clear();
        self.tag_counts.clear();
        self.totals.clear();
        was
    }

    /// `listening` (serving), `paused` (not listening, or its lease ran out: nothing served)
    /// or `off`.
    pub fn state(&self) -> &'static str {
        match (self.enabled, self.live()) {
            (false, _) => "off",
            (true, true) => "listening",
            (true, false) => "paused",
        }
    }
}

/// `pg_notify` on [`CHANNEL`], given a lease to get through; whether it was sent.
async fn notify(pool: &PgPool, payload: &str) -> bool {
    let sent = tokio::time::timeout(
        LEASE,
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(pool),
    )
    .await;
    match sent {
        Ok(Ok(_)) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "the read cache could not notify the other servers");
            false
        }
        Err(_) => {
            tracing::warn!("the read cache could not notify the other servers in time");
            false
        }
    }
}

/// The listener and heartbeat tasks: aborted when the engine is dropped.
pub(super) struct Listener(Vec<tokio::task::AbortHandle>);

impl Listener {
    /// No more heartbeats (this server is leaving); the listener goes on.
    pub fn stop_heartbeat(&self) {
        if let Some(heartbeat) = self.0.first() {
            heartbeat.abort();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Starts listening on [`CHANNEL`] and announcing this server, over `pool` (a pool of its own,
/// three connections: the listener's, and two to notify on), feeding `caches` for as long as
/// they exist.
pub(super) fn listen(pool: PgPool, caches: Weak<Caches>) -> Listener {
    let Some((id, born)) = caches.upgrade().map(|caches| (caches.id, caches.born)) else {
        return Listener(Vec::new());
    };
    let beat = move || format!("hb:{id}:{}", born.elapsed().as_millis());
    let heartbeat = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                notify(&pool, &beat()).await;
            }
        })
    };
    let listener = tokio::spawn(async move {
        loop {
            if let Ok(mut listener) = PgListener::connect_with(&pool).await {
                // Reconnection is this loop's: it must know when listening stopped.
                listener.eager_reconnect(false);
                if listener.listen(CHANNEL).await.is_ok() {
                    match caches.upgrade() {
                        Some(caches) => caches.resume(),
                        None => return,
                    }
                    // Own heartbeats arrive every second: a lease without any notification
                    // means a connection that died without a word. `Ok(None)`: the
                    // connection was lost; `Err`: the pool closed.
                    while let Ok(Ok(Some(notification))) =
                        tokio::time::timeout(LEASE, listener.try_recv()).await
                    {
                        let Some(caches) = caches.upgrade() else {
                            return;
                        };
                        if let Some(answer) = caches.notified(notification.payload()) {
                            let pool = pool.clone();
                            tokio::spawn(async move { notify(&pool, &answer).await });
                        }
                    }
                }
            }
            match caches.upgrade() {
                Some(caches) => {
                    if caches.suspend() {
                        tracing::warn!(
                            "the read cache lost its connection to the database: reads go to \
                             the database until it is back"
                        );
                    }
                }
                None => return,
            }
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    });
    // The heartbeat first: [`Listener::stop_heartbeat`].
    Listener(vec![heartbeat.abort_handle(), listener.abort_handle()])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write waiting for `pending`, and the receiver that hears when it may answer.
    fn waiter(caches: &Caches, n: u64, pending: &[Uuid]) -> oneshot::Receiver<()> {
        let (done, acked) = oneshot::channel();
        caches.waiters.lock().insert(
            n,
            Waiter {
                pending: pending.iter().copied().collect(),
                done: Some(done),
            },
        );
        acked
    }

    #[test]
    fn a_server_that_says_bye_is_forgotten_and_no_write_waits_for_it() {
        let caches = Caches::new(10);
        let (leaving, staying) = (Uuid::new_v4(), Uuid::new_v4());
        for peer in [leaving, staying] {
            assert_eq!(caches.notified(&format!("hb:{peer}:5")), None);
        }
        assert_eq!(caches.peer_count(), 2);
        let mut on_leaving = waiter(&caches, 0, &[leaving]);
        let mut on_both = waiter(&caches, 1, &[leaving, staying]);

        assert_eq!(caches.notified(&format!("bye:{leaving}")), None);
        assert_eq!(caches.peer_count(), 1, "forgotten at once");
        assert!(
            on_leaving.try_recv().is_ok(),
            "a write waiting for it alone answers"
        );
        assert!(
            on_both.try_recv().is_err(),
            "a write waiting for another too still waits"
        );
        assert_eq!(
            caches.notified(&format!("ack:{}:1:{staying}", caches.id)),
            None
        );
        assert!(on_both.try_recv().is_ok());

        // A heartbeat of the departed server still in flight does not bring it back.
        caches.notified(&format!("hb:{leaving}:6"));
        assert_eq!(caches.peer_count(), 1);
        // A server never forgets itself, and a malformed goodbye changes nothing.
        caches.notified(&format!("bye:{}", caches.id));
        caches.notified("bye:not-a-uuid");
        assert_eq!(caches.peer_count(), 1);
    }

    #[actix_web::test]
    async fn a_server_that_left_never_serves_from_its_cache_again() {
        let caches = Caches::new(10);
        caches.resume();
        for sent in 0..2 {
            let sent = caches.millis() + sent;
            caches.notified(&format!("hb:{}:{sent}", caches.id));
        }
        assert!(
            caches.live(),
            "listening, two own heartbeats heard within the lease"
        );
        // Nowhere to send the goodbye: `leave` goes on without it.
        let nowhere = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(100))
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        caches.leave(&nowhere).await;
        assert!(!caches.live());
        // The listener reconnecting afterwards (it runs until the engine goes) changes nothing.
        caches.resume();
        for sent in 0..2 {
            let sent = caches.millis() + sent;
            caches.notified(&format!("hb:{}:{sent}", caches.id));
        }
        assert!(!caches.live());
    }
}
