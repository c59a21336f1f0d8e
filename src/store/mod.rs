//! The store: the one seam between handlers and data.
//!
//! Handlers call methods on [`Store`] and never see its maps. The operations are grouped by
//! aggregate, one file each: `accounts.rs`, `sessions.rs`, `clients.rs`, `posts.rs`; together
//! they are the interface a second engine implements.
//!
//! The embedded engine keeps its data as an immutable, published version ([`State`] built of
//! persistent maps) behind a `parking_lot` mutex that is held only to clone or replace an `Arc`:
//! - a read clones the `Arc` of the newest version and lets go, so reads run in parallel on every
//!   worker and never wait for a disk flush, a snapshot or a write in progress;
//! - a write (read, decide, change) runs on the one working version, in order, on the writer
//!   thread, which applies a group of writes, flushes their records (a durable store), and only
//!   then publishes the new version and answers. So a write is acknowledged only once durable,
//!   and no reader sees a change that is not on disk. One publication per group, not per write:
//!   each publication makes the next change copy its path, so grouping keeps writes cheap under
//!   load, ephemeral ones included. Checks (uniqueness, ownership, `If-Match` versions) and the
//!   write they guard see the same working version, so they cannot race.
//!
//! No guard is held across an `.await` (clippy's `await_holding_lock`, denied in CI) nor while
//! hashing a password. Methods are `async` although the embedded engine rarely waits: a durable
//! write does, and a networked engine will.

mod accounts;
mod clients;
mod committer;
mod cursor;
mod engine;
mod journal;
mod packed;
pub mod postgres;
mod postmap;
mod posts;
mod records;
pub mod search;
mod sessions;
mod social;
mod state;
mod wire;

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::domain::{
    DisplayName, Email, PostContent, PostDescription, PostStatus, PostTitle, Role, SessionId, Tag,
    Tags, Timestamp, UserId, Username,
};

use committer::Committer;
pub use cursor::Cursor;
pub use engine::Store;
use journal::Batch;
pub use journal::JournalError;
pub use records::{
    Actor, Author, Client, ClientRecord, Comment, ExternalAccount, Post, PostRecord, Principal,
    SessionInfo, SessionRecord, User, UserRecord,
};
pub use social::{ArticlePage, ArticleQuery, CommentPage, ProfileEdit};
use state::{Change, State};

/// What the store refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("the username is taken")]
    UsernameTaken,
    #[error("only the author may change this post")]
    NotAuthor,
    #[error("the post has changed since the version given")]
    VersionMismatch,
    #[error("a draft has no published_at: publish it with status `published`")]
    DraftWithPublishTime,
    #[error("an account cannot follow itself")]
    FollowSelf,
    /// The database did not answer (no connection in time, or it broke): retry later.
    #[error("the store is unavailable")]
    Unavailable,
}

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("unknown refresh token")]
    Unknown,
    #[error("refresh token expired")]
    Expired,
    /// An already-used token came back: its session has been revoked.
    #[error("refresh token reused; session revoked")]
    Reused,
    /// The store could not be asked.
    #[error("the store is unavailable")]
    Unavailable,
}

/// A new account, validated.
#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub name: Option<DisplayName>,
    pub role: Role,
    pub password_hash: String,
}

/// A new session: its id and refresh-token family key (both already in its first refresh
/// token), the hash of that token, and where it came from.
#[derive(Debug)]
pub struct NewSession {
    pub id: SessionId,
    pub family_key: [u8; 32],
    pub refresh_hash: [u8; 32],
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
}

/// A refresh token as presented: the session and generation it names, and its hash. Its MAC
/// has been checked against the session's family key before the store sees it.
#[derive(Debug, Clone, Copy)]
pub struct PresentedRefresh {
    pub session: SessionId,
    pub generation: u64,
    pub hash: [u8; 32],
}

/// The fields of a new post.
#[derive(Debug)]
pub struct NewPost {
    pub title: PostTitle,
    pub content: PostContent,
    pub description: Option<PostDescription>,
    pub tags: Tags,
    pub status: PostStatus,
    /// For a published post: when it is public (now when `None`). A draft has none.
    pub published_at: Option<Timestamp>,
}

/// Changes to a post; `None` leaves a field as it is. A full replace (PUT) sets every field
/// but `status` and `published_at`, which keep their values when not given.
#[derive(Debug, Default)]
pub struct PostEdit {
    pub title: Option<PostTitle>,
    pub content: Option<PostContent>,
    pub description: Option<Option<PostDescription>>,
    pub tags: Option<Tags>,
    /// Publishing a draft sets `published_at` to now unless one is given; making a post a draft
    /// again clears it.
    pub status: Option<PostStatus>,
    pub published_at: Option<Timestamp>,
}

/// Versions the caller expects the post to be at (from `If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// No precondition.
    Any,
    /// The post must be at one of these versions (an empty list never matches).
    OneOf(Vec<u64>),
}

impl Expected {
    /// `Err(VersionMismatch)` unless `version` is one of those expected.
    fn check(&self, version: u64) -> Result<(), StoreError> {
        match self {
            Self::OneOf(versions) if !versions.contains(&version) => {
                Err(StoreError::VersionMismatch)
            }
            _ => Ok(()),
        }
    }
}

/// Which posts to list, and from where.
#[derive(Debug)]
pub struct PostQuery {
    pub author: Option<Username>,
    pub tag: Option<Tag>,
    /// Continue after this post (exclusive).
    pub after: Option<Cursor>,
    pub limit: usize,
    /// Public posts (published, their time come), or the drafts of `viewer`.
    pub listing: Listing,
    /// Who reads (for `favorited` and `following`); `None` for an anonymous reader.
    pub viewer: Option<UserId>,
}

/// Which posts a list walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Published posts whose time has come, newest `published_at` first.
    Public,
    /// The drafts of this account, newest first.
    DraftsOf(UserId),
    /// The scheduled posts of this account (published, their time still ahead), latest first.
    ScheduledOf(UserId),
}

/// A search: published posts holding every one of `words`, best first.
#[derive(Debug)]
pub struct PostSearch {
    /// From [`search::query_words`].
    pub words: Vec<String>,
    pub author: Option<Username>,
    pub tag: Option<Tag>,
    pub after: Option<search::SearchCursor>,
    pub limit: usize,
    /// Who reads (for `favorited` and `following`).
    pub viewer: Option<UserId>,
}

/// One page of search results, best first.
#[derive(Debug)]
pub struct SearchResults {
    pub posts: Vec<Post>,
    pub next: Option<search::SearchCursor>,
}

/// One page of posts, newest first.
#[derive(Debug)]
pub struct Page {
    pub posts: Vec<Post>,
    /// Where the next page starts, if there is one.
    pub next: Option<Cursor>,
}

impl Page {
    /// The page of `limit` from `posts`, fetched one past it to know whether more follow; the
    /// cursor is where the last post sits in `listing`'s order (a draft by its creation, any
    /// other post by its publication). Both engines page this way.
    pub(crate) fn cut(mut posts: Vec<Post>, limit: usize, listing: Listing) -> Self {
        let next = if posts.len() > limit {
            posts.truncate(limit);
            posts.last().map(|post| {
                let at = match listing {
                    Listing::Public | Listing::ScheduledOf(_) => {
                        post.published_at.unwrap_or(post.created_at)
                    }
                    Listing::DraftsOf(_) => post.created_at,
                };
                Cursor::new(at, post.id)
            })
        } else {
            None
        };
        Self { posts, next }
    }
}

/// How to find an account at login.
#[derive(Debug)]
pub enum LoginName<'a> {
    Email(&'a str),
    Username(&'a str),
}

/// Counts for `/health`.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub users: usize,
    pub posts: usize,
    pub sessions: usize,
}

/// Live sessions one account may hold unless configured otherwise; past it, logging in ends
/// the least recently used one.
pub const DEFAULT_SESSION_CAP: usize = 100;

/// The embedded engine, shared by all workers.
pub struct Embedded {
    /// The newest published version. Held only to clone or replace the `Arc`.
    published: Arc<Mutex<Arc<State>>>,
    /// The writer thread, with the journal when the store is durable.
    writer: Committer,
    /// Live sessions per account at most.
    session_cap: usize,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("durable", &self.is_durable())
            .finish_non_exhaustive()
    }
}

/// A write in progress: reads and changes the working version, each change also going to the
/// journal.
pub(crate) struct Tx<'a> {
    state: &'a mut State,
    journal: Option<&'a mut Batch>,
    changed: bool,
}

impl Tx<'_> {
    /// The only way a change reaches the state.
    fn commit(&mut self, change: Change) {
        if let Some(batch) = self.journal.as_deref_mut() {
            batch.push(&change);
        }
        self.state.apply(change);
        self.changed = true;
    }
}

/// Replaces the published version with a copy of `working` (a few reference counts).
fn publish(published: &Mutex<Arc<State>>, working: &State) {
    let next = Arc::new(working.clone());
    let previous = std::mem::replace(&mut *published.lock(), next);
    // The old version is freed here, outside the lock, if no reader still holds it.
    drop(previous);
}

impl Embedded {
    /// An empty store that keeps nothing on disk.
    pub fn ephemeral() -> Self {
        Self::with_writer(None, State::default())
            .expect("a thread can be started for an empty store")
    }

    /// A durable store in `dir`: replays what is there, then journals every change. Past
    /// `compact_at` bytes of journal, a snapshot is written on a thread of its own.
    pub fn open(dir: &Path, compact_at: u64) -> Result<Self, JournalError> {
        let started = std::time::Instant::now();
        let (journal, state) = journal::Journal::open(dir, compact_at)?;
        tracing::info!(
            users = state.users.len(),
            posts = state.posts.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "store loaded"
        );
        Self::with_writer(Some(journal), state)
    }

    fn with_writer(journal: Option<journal::Journal>, state: State) -> Result<Self, JournalError> {
        let published = Arc::new(Mutex::new(Arc::new(state.clone())));
        let writer = Committer::start(journal, state, Arc::clone(&published))?;
        Ok(Self {
            published,
            writer,
            session_cap: DEFAULT_SESSION_CAP,
        })
    }

    /// A durable store whose every journal flush calls `hook` first.
    #[cfg(test)]
    fn open_with_flush_hook(dir: &Path, hook: Box<dyn Fn() + Send>) -> Self {
        let (mut journal, state) = journal::Journal::open(dir, 1 << 30).unwrap();
        journal.set_flush_hook(hook);
        Self::with_writer(Some(journal), state).unwrap()
    }

    /// The same store with another cap on live sessions per account (at least 1).
    pub fn with_session_cap(mut self, cap: usize) -> Self {
        self.session_cap = cap.max(1);
        self
    }

    /// Whether writes are journaled to disk (`BLOG_STORAGE=disk`).
    pub fn is_durable(&self) -> bool {
        self.writer.is_durable()
    }

    /// The newest published version, to read from for as long as the caller likes.
    fn read(&self) -> Arc<State> {
        Arc::clone(&self.published.lock())
    }

    /// Runs a read-modify-write on the working version, after every earlier write.
    ///
    /// On the writer thread, which takes every write waiting (group commit), applies them in
    /// order, appends their records and flushes once (durable), publishes, and only then
    /// answers. One `fdatasync` serves every request that arrived together, and readers go on
    /// reading the previous version meanwhile.
    async fn write<R: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(&mut Tx<'a>) -> R + Send + 'static,
    ) -> R {
        self.writer.submit(f).await
    }

    /// Like [`Store::write`], without waiting for the answer: for bookkeeping a request should
    /// not wait on (a session's last use).
    fn write_detached(&self, f: impl for<'a> FnOnce(&mut Tx<'a>) + Send + 'static) {
        drop(self.writer.submit(f));
    }

    /// Writes the current state as a snapshot into `dir`, which must not hold a journal: a
    /// server started on `dir` then loads it. For seeding benchmarks and offline copies.
    pub fn export_snapshot(&self, dir: &Path) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: dir.to_owned(),
            source,
        };
        crate::data_dir::create_private_dir(dir).map_err(io)?;
        if journal::has_journal(dir) {
            return Err(io(std::io::Error::other(
                "the directory already has a journal",
            )));
        }
        journal::write_snapshot(dir, 0, &self.read()).map_err(io)
    }

    /// How many times the journal has been flushed (0 for an ephemeral store).
    pub fn journal_flushes(&self) -> u64 {
        self.writer.flushes()
    }

    /// How many snapshots have been written since the store opened.
    pub fn compactions(&self) -> u64 {
        self.writer.compactions()
    }

    pub async fn stats(&self) -> Stats {
        let state = self.read();
        Stats {
            users: state.users.len(),
            posts: state.posts.len(),
            sessions: state.sessions.len(),
        }
    }

    /// Whether `dir` holds a store's data (a journal, or a snapshot such as
    /// [`Embedded::export_snapshot`] writes). For tools that read a data directory
    /// (`copy-store`): [`Embedded::open`] would make a mistyped path a new, empty one, and
    /// make an existing directory private (0700) on the way.
    pub fn holds_data(dir: &Path) -> bool {
        // "snapshot" is the journal module's `SNAPSHOT`.
        journal::has_journal(dir) || dir.join("snapshot").is_file()
    }
}

#[cfg(test)]
mod tests;
