//! The store: the one seam between handlers and data.
//!
//! Handlers call methods here and never see the maps. Each method that reads, decides and writes
//! does so under one acquisition of one `parking_lot` mutex, so checks (uniqueness, ownership,
//! `If-Match` versions) cannot race with the write they guard. The lock is never held across an
//! `.await` (the guard is `!Send`, so the compiler enforces it) nor while hashing a password.
//!
//! Methods are `async` although the in-memory backend never waits: a durable or PostgreSQL
//! backend will, and callers should not have to change when it does.

mod cursor;
mod journal;
mod records;
mod state;

use std::path::Path;
use std::sync::{mpsc, Arc};

use parking_lot::Mutex;

use sha2::Digest as _;

use crate::domain::{
    now, ClientId, DisplayName, Email, ExternalIdentity, PostContent, PostDescription, PostId,
    PostTitle, Role, Scopes, SessionId, Slug, Tag, Tags, Timestamp, UserId, Username,
};

pub use cursor::Cursor;
pub use journal::JournalError;
use journal::{Batch, Journal};
pub use records::{
    Actor, Author, Client, ClientRecord, ExternalAccount, Post, PostRecord, Principal, SessionInfo,
    SessionRecord, User, UserRecord,
};
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

impl NewUser {
    /// The stored account: a new id, and the password this service checks.
    fn into_record(self, created_at: Timestamp) -> UserRecord {
        UserRecord {
            id: UserId::new(),
            username: self.username,
            email: Some(self.email),
            name: self.name,
            role: self.role,
            password_hash: Some(self.password_hash),
            external: None,
            created_at,
        }
    }
}

/// A new session: the hash of its first refresh token and where it came from.
#[derive(Debug)]
pub struct NewSession {
    pub refresh_hash: [u8; 32],
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
}

/// The fields of a new post.
#[derive(Debug)]
pub struct NewPost {
    pub title: PostTitle,
    pub content: PostContent,
    pub description: Option<PostDescription>,
    pub tags: Tags,
}

/// Changes to a post; `None` leaves a field as it is. A full replace (PUT) sets every field.
#[derive(Debug, Default)]
pub struct PostEdit {
    pub title: Option<PostTitle>,
    pub content: Option<PostContent>,
    pub description: Option<Option<PostDescription>>,
    pub tags: Option<Tags>,
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
}

/// One page of posts, newest first.
#[derive(Debug)]
pub struct Page {
    pub posts: Vec<Post>,
    /// Where the next page starts, if there is one.
    pub next: Option<Cursor>,
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

/// The in-memory store, shared by all workers.
pub struct Store {
    state: Arc<Mutex<State>>,
    /// Where writes go when the store is durable; `None` for an ephemeral store.
    committer: Option<mpsc::Sender<Job>>,
    journal_thread: Option<std::thread::JoinHandle<()>>,
    /// Journal flushes so far: with group commit, fewer than the writes.
    flushes: Arc<std::sync::atomic::AtomicU64>,
}

impl Drop for Store {
    /// Closes the journal: the thread finishes the writes it has, then releases the directory
    /// lock, so a new store can open the directory as soon as this one is gone.
    fn drop(&mut self) {
        drop(self.committer.take());
        if let Some(thread) = self.journal_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Store {
    /// Whether writes are journaled to disk (`BLOG_STORAGE=disk`).
    pub fn is_durable(&self) -> bool {
        self.committer.is_some()
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("durable", &self.is_durable())
            .finish_non_exhaustive()
    }
}

/// A write in progress: reads and changes the state, each change also going to the journal.
pub(crate) struct Tx<'a> {
    state: &'a mut State,
    journal: Option<&'a mut Batch>,
}

impl Tx<'_> {
    /// The only way a change reaches the state.
    fn commit(&mut self, change: Change) {
        if let Some(batch) = self.journal.as_deref_mut() {
            batch.push(&change);
        }
        self.state.apply(change);
    }
}

/// A write waiting for the committer; what it returns answers the caller once durable.
type Job = Box<dyn for<'a> FnOnce(&mut Tx<'a>) -> Reply + Send>;
type Reply = Box<dyn FnOnce() + Send>;

/// Jobs taken into one group commit at most.
const MAX_BATCH: usize = 1024;

impl Store {
    /// An empty store that keeps nothing on disk.
    pub fn ephemeral() -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            committer: None,
            journal_thread: None,
            flushes: Arc::default(),
        }
    }

    /// A durable store in `dir`: replays what is there, then journals every change.
    pub fn open(dir: &Path, compact_at: u64) -> Result<Self, JournalError> {
        let started = std::time::Instant::now();
        let (journal, state) = Journal::open(dir, compact_at)?;
        tracing::info!(
            users = state.users.len(),
            posts = state.posts.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "store loaded"
        );
        let state = Arc::new(Mutex::new(state));
        let (jobs, queue) = mpsc::channel();
        let shared = Arc::clone(&state);
        let flushes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = Arc::clone(&flushes);
        let thread = std::thread::Builder::new()
            .name("blog-api-journal".into())
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| {
                    commit_loop(&shared, journal, &queue, &counter)
                });
                if std::panic::catch_unwind(run).is_err() {
                    // The state may hold a half-applied change: never serve it.
                    tracing::error!("the journal thread panicked; stopping the process");
                    std::process::abort();
                }
            })
            .map_err(|source| JournalError::Io {
                path: dir.to_owned(),
                source,
            })?;
        Ok(Self {
            state,
            committer: Some(jobs),
            journal_thread: Some(thread),
            flushes,
        })
    }

    /// Runs a read-modify-write under one acquisition of the lock.
    ///
    /// Ephemeral: right here. Durable: on the journal thread, which takes every write waiting
    /// (group commit), applies them in order, appends their records, flushes once, and only
    /// then releases the lock and answers. Readers therefore never see a change that is not on
    /// disk, and one `fdatasync` serves every request that arrived together.
    async fn write<R: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(&mut Tx<'a>) -> R + Send + 'static,
    ) -> R {
        let Some(jobs) = &self.committer else {
            let mut state = self.state.lock();
            return f(&mut Tx {
                state: &mut state,
                journal: None,
            });
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |tx| {
            let result = f(tx);
            Box::new(move || {
                let _ = answer.send(result);
            })
        });
        // The journal thread lives as long as the store and aborts the process if it fails, so
        // neither of these can fail while a request is being served.
        jobs.send(job).expect("the journal thread is running");
        answered
            .await
            .expect("the journal thread answers every write")
    }

    /// Writes the current state as a snapshot into `dir`, which must not hold a journal: a
    /// server started on `dir` then loads it. For seeding benchmarks and offline copies.
    pub fn export_snapshot(&self, dir: &Path) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: dir.to_owned(),
            source,
        };
        crate::config::create_private_dir(dir).map_err(io)?;
        if dir.join("journal").exists() {
            return Err(io(std::io::Error::other(
                "the directory already has a journal",
            )));
        }
        journal::write_snapshot(dir, 0, &self.state.lock()).map_err(io)
    }

    /// How many times the journal has been flushed (0 for an ephemeral store).
    pub fn journal_flushes(&self) -> u64 {
        self.flushes.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn stats(&self) -> Stats {
        let state = self.state.lock();
        Stats {
            users: state.users.len(),
            posts: state.posts.len(),
            sessions: state.sessions.len(),
        }
    }

    // ---- accounts -------------------------------------------------------------------------

    /// Fails fast when the username or email is taken, so signup can skip the password hash.
    /// [`Store::create_user`] checks again under the lock.
    pub async fn check_available(
        &self,
        username: &Username,
        email: &Email,
    ) -> Result<(), StoreError> {
        let state = self.state.lock();
        check_available(&state, username, email)
    }

    /// Creates an account and its first session in one step.
    pub async fn create_user(
        &self,
        user: NewUser,
        session: NewSession,
    ) -> Result<(User, SessionId), StoreError> {
        self.write(move |tx| {
            check_available(tx.state, &user.username, &user.email)?;
            let created_at = now();
            let record = user.into_record(created_at);
            let view = User::from(&record);
            let session = session_record(record.id, session, created_at);
            let session_id = session.id;
            tx.commit(Change::CreateUser(record));
            tx.commit(Change::CreateSession(session));
            Ok((view, session_id))
        })
        .await
    }

    /// The id and password hash of the account `name` refers to, for login.
    pub async fn credentials(&self, name: LoginName<'_>) -> Option<(UserId, String)> {
        let state = self.state.lock();
        let id = match name {
            LoginName::Email(email) => state.users_by_email.get(&email.trim().to_lowercase()),
            LoginName::Username(username) => {
                state.users_by_username.get(&username.trim().to_lowercase())
            }
        }?;
        // An external account has no password: at login it is no different from no account.
        let user = state.users.get(id)?;
        Some((user.id, user.password_hash.clone()?))
    }

    /// The password hash of an account, to check its current password.
    pub async fn password_hash(&self, id: UserId) -> Option<String> {
        self.state
            .lock()
            .users
            .get(&id)
            .and_then(|user| user.password_hash.clone())
    }

    /// The local account of an external identity, created on first use. It is an ordinary
    /// journaled account (with no email and no password), so the mapping survives restarts.
    /// Its username is the identity's hint when free and valid, else derived from the identity.
    pub async fn external_principal(
        &self,
        identity: &ExternalIdentity,
    ) -> Result<Principal, StoreError> {
        let account = ExternalAccount {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
        };
        fn principal(state: &State, account: &ExternalAccount) -> Option<Principal> {
            let id = state.users_by_external.get(account)?;
            let user = state.users.get(id)?;
            Some(Principal {
                user_id: user.id,
                session_id: None,
                role: user.role,
            })
        }
        if let Some(found) = principal(&self.state.lock(), &account) {
            return Ok(found);
        }
        let identity = identity.clone();
        self.write(move |tx| {
            // Two first requests at once: the second finds the first's account.
            if let Some(found) = principal(tx.state, &account) {
                return Ok(found);
            }
            let record = UserRecord {
                id: UserId::new(),
                username: external_username(tx.state, &identity),
                email: None,
                name: identity
                    .name_hint
                    .as_deref()
                    .and_then(|name| DisplayName::parse(name).ok()),
                role: Role::User,
                password_hash: None,
                external: Some(account),
                created_at: now(),
            };
            let found = Principal {
                user_id: record.id,
                session_id: None,
                role: record.role,
            };
            tracing::info!(user_id = %record.id, username = %record.username, "created the account of an external user");
            tx.commit(Change::CreateUser(record));
            Ok(found)
        })
        .await
    }

    /// Starts a session for an existing account (after its password was checked).
    pub async fn start_session(
        &self,
        user_id: UserId,
        session: NewSession,
    ) -> Result<(User, SessionId), StoreError> {
        self.write(move |tx| {
            let user = tx
                .state
                .users
                .get(&user_id)
                .map(User::from)
                .ok_or(StoreError::NotFound("user"))?;
            let session = session_record(user_id, session, now());
            let session_id = session.id;
            tx.commit(Change::CreateSession(session));
            Ok((user, session_id))
        })
        .await
    }

    /// Who holds this access token, if its account and session are still live: one O(1) lookup
    /// per request, so logout and account deletion take effect at once.
    pub async fn principal(&self, user_id: UserId, session_id: SessionId) -> Option<Principal> {
        let mut state = self.state.lock();
        let role = state.users.get(&user_id)?.role;
        let session = state.sessions.get_mut(&session_id)?;
        let now = now();
        if session.user_id != user_id || session.expires_at <= now {
            return None;
        }
        // Activity metadata only: kept in memory, not worth a journal record per request.
        session.last_used_at = now;
        Some(Principal {
            user_id,
            session_id: Some(session_id),
            role,
        })
    }

    /// Exchanges a refresh token for its successor, atomically: of several requests presenting
    /// the same token exactly one succeeds. A token that was already used revokes its session.
    pub async fn rotate_refresh(
        &self,
        presented: [u8; 32],
        next: [u8; 32],
        expires_at: Timestamp,
    ) -> Result<(User, SessionId), RefreshError> {
        self.write(move |tx| {
            let Some(&id) = tx.state.sessions_by_refresh.get(&presented) else {
                if let Some(&id) = tx.state.retired_refresh.get(&presented) {
                    tx.commit(Change::EndSession { id });
                    return Err(RefreshError::Reused);
                }
                return Err(RefreshError::Unknown);
            };
            let session = tx.state.sessions.get(&id).ok_or(RefreshError::Unknown)?;
            let now = now();
            if session.expires_at <= now {
                tx.commit(Change::EndSession { id });
                return Err(RefreshError::Expired);
            }
            let user = tx
                .state
                .users
                .get(&session.user_id)
                .map(User::from)
                .ok_or(RefreshError::Unknown)?;
            tx.commit(Change::RotateRefresh {
                id,
                refresh_hash: next,
                expires_at,
                at: now,
            });
            Ok((user, id))
        })
        .await
    }

    /// The live sessions of an account, newest first.
    pub async fn sessions(&self, user_id: UserId) -> Vec<SessionInfo> {
        let state = self.state.lock();
        let now = now();
        let mut sessions: Vec<SessionInfo> = state
            .sessions_by_user
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| state.sessions.get(id))
            .filter(|session| session.expires_at > now)
            .map(|session| SessionInfo {
                id: session.id,
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                user_agent: session.user_agent.clone(),
            })
            .collect();
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        sessions
    }

    /// Ends a session of `user_id`; another account's session id is "not found".
    pub async fn end_user_session(&self, user_id: UserId, id: SessionId) -> Result<(), StoreError> {
        self.write(move |tx| match tx.state.sessions.get(&id) {
            Some(session) if session.user_id == user_id => {
                tx.commit(Change::EndSession { id });
                Ok(())
            }
            _ => Err(StoreError::NotFound("session")),
        })
        .await
    }

    /// Creates `user` unless its username or email is taken; `true` if it was created.
    pub async fn ensure_user(&self, user: NewUser) -> bool {
        self.write(move |tx| {
            if check_available(tx.state, &user.username, &user.email).is_err() {
                return false;
            }
            tx.commit(Change::CreateUser(user.into_record(now())));
            true
        })
        .await
    }

    /// A page of accounts, newest first (for admins).
    pub async fn list_users(
        &self,
        after: Option<Cursor>,
        limit: usize,
    ) -> (Vec<User>, Option<Cursor>) {
        let state = self.state.lock();
        let keys: Box<dyn DoubleEndedIterator<Item = &(Timestamp, UserId)>> = match after {
            Some(cursor) => Box::new(state.users_timeline.range(..cursor.key::<UserId>())),
            None => Box::new(state.users_timeline.iter()),
        };
        let mut users: Vec<User> = keys
            .rev()
            .take(limit + 1)
            .filter_map(|(_, id)| state.users.get(id))
            .map(User::from)
            .collect();
        let next = if users.len() > limit {
            users.truncate(limit);
            users
                .last()
                .map(|user| Cursor::new(user.created_at, user.id))
        } else {
            None
        };
        (users, next)
    }

    pub async fn user(&self, id: UserId) -> Option<User> {
        self.state.lock().users.get(&id).map(User::from)
    }

    /// Sets or clears the display name.
    pub async fn set_user_name(
        &self,
        id: UserId,
        name: Option<DisplayName>,
    ) -> Result<User, StoreError> {
        self.write(move |tx| {
            if !tx.state.users.contains_key(&id) {
                return Err(StoreError::NotFound("user"));
            }
            tx.commit(Change::SetUserName { id, name });
            tx.state
                .users
                .get(&id)
                .map(User::from)
                .ok_or(StoreError::NotFound("user"))
        })
        .await
    }

    /// Replaces the password hash and ends every session of the account but `keep`.
    pub async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<SessionId>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            if !tx.state.users.contains_key(&id) {
                return Err(StoreError::NotFound("user"));
            }
            tx.commit(Change::SetPasswordHash {
                id,
                password_hash,
                keep,
            });
            Ok(())
        })
        .await
    }

    /// Deletes an account with its posts and sessions.
    pub async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        self.write(move |tx| {
            if !tx.state.users.contains_key(&id) {
                return Err(StoreError::NotFound("user"));
            }
            tx.commit(Change::DeleteUser { id });
            Ok(())
        })
        .await
    }

    pub async fn end_session(&self, id: SessionId) {
        self.write(move |tx| tx.commit(Change::EndSession { id }))
            .await
    }

    // ---- API clients ----------------------------------------------------------------------

    /// Registers a client for `owner` (an admin).
    pub async fn create_client(
        &self,
        owner: UserId,
        name: DisplayName,
        scopes: Scopes,
        secret_hash: [u8; 32],
    ) -> Result<Client, StoreError> {
        self.write(move |tx| {
            if !tx.state.users.contains_key(&owner) {
                return Err(StoreError::NotFound("user"));
            }
            let record = ClientRecord {
                id: ClientId::new(),
                name,
                scopes,
                secret_hash,
                owner,
                created_at: now(),
            };
            let client = Client::from(&record);
            tx.commit(Change::CreateClient(record));
            Ok(client)
        })
        .await
    }

    /// Every client, oldest first.
    pub async fn clients(&self) -> Vec<Client> {
        let state = self.state.lock();
        let mut clients: Vec<Client> = state.clients.values().map(Client::from).collect();
        clients.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.client_id.cmp(&b.client_id))
        });
        clients
    }

    /// A client's secret hash and scopes, to check its credentials.
    pub async fn client_credentials(&self, id: ClientId) -> Option<([u8; 32], Scopes)> {
        let state = self.state.lock();
        state
            .clients
            .get(&id)
            .map(|client| (client.secret_hash, client.scopes.clone()))
    }

    /// The account a live client writes as: one O(1) lookup per request, so revoking a client
    /// stops its tokens at once.
    pub async fn client_actor(&self, id: ClientId) -> Option<Actor> {
        let state = self.state.lock();
        let client = state.clients.get(&id)?;
        state.users.contains_key(&client.owner).then_some(Actor {
            user_id: client.owner,
            admin: false,
        })
    }

    /// Revokes a client.
    pub async fn delete_client(&self, id: ClientId) -> Result<(), StoreError> {
        self.write(move |tx| {
            if !tx.state.clients.contains_key(&id) {
                return Err(StoreError::NotFound("client"));
            }
            tx.commit(Change::DeleteClient { id });
            Ok(())
        })
        .await
    }

    // ---- posts ----------------------------------------------------------------------------

    pub async fn create_post(&self, author: UserId, post: NewPost) -> Result<Post, StoreError> {
        self.write(move |tx| {
            if !tx.state.users.contains_key(&author) {
                return Err(StoreError::NotFound("user"));
            }
            let id = PostId::new();
            let created_at = now();
            let record = PostRecord {
                id,
                author,
                slug: tx.state.unique_slug(&Slug::from_title(&post.title), id),
                title: post.title,
                description: post.description,
                content: post.content,
                tags: post.tags,
                created_at,
                updated_at: created_at,
                version: 1,
            };
            tx.commit(Change::PutPost(record));
            view(tx.state, id).ok_or(StoreError::NotFound("post"))
        })
        .await
    }

    pub async fn post(&self, id: PostId) -> Option<Post> {
        view(&self.state.lock(), id)
    }

    pub async fn post_by_slug(&self, slug: &str) -> Option<Post> {
        let state = self.state.lock();
        let id = *state.posts_by_slug.get(&Slug::from_stored(slug))?;
        view(&state, id)
    }

    /// Applies `edit` if `actor` wrote the post and it is at an `expected` version. A change
    /// that alters nothing keeps the version, so retries are idempotent.
    pub async fn update_post(
        &self,
        id: PostId,
        actor: &Actor,
        expected: &Expected,
        edit: PostEdit,
    ) -> Result<Post, StoreError> {
        let actor = *actor;
        let expected = expected.clone();
        self.write(move |tx| {
            let current = tx
                .state
                .posts
                .get(&id)
                .ok_or(StoreError::NotFound("post"))?;
            if current.author != actor.user_id {
                return Err(StoreError::NotAuthor);
            }
            expected.check(current.version)?;
            let mut next = current.clone();
            if let Some(title) = edit.title {
                next.title = title;
            }
            if let Some(content) = edit.content {
                next.content = content;
            }
            if let Some(description) = edit.description {
                next.description = description;
            }
            if let Some(tags) = edit.tags {
                next.tags = tags;
            }
            let unchanged = next.title == current.title
                && next.content == current.content
                && next.description == current.description
                && next.tags == current.tags;
            if !unchanged {
                next.slug = tx.state.unique_slug(&Slug::from_title(&next.title), id);
                next.version += 1;
                next.updated_at = now().max(next.created_at);
                tx.commit(Change::PutPost(next));
            }
            view(tx.state, id).ok_or(StoreError::NotFound("post"))
        })
        .await
    }

    /// Deletes a post if `actor` wrote it or is an admin, and it is at an `expected` version.
    pub async fn delete_post(
        &self,
        id: PostId,
        actor: &Actor,
        expected: &Expected,
    ) -> Result<(), StoreError> {
        let actor = *actor;
        let expected = expected.clone();
        self.write(move |tx| {
            let current = tx
                .state
                .posts
                .get(&id)
                .ok_or(StoreError::NotFound("post"))?;
            if current.author != actor.user_id && !actor.admin {
                return Err(StoreError::NotAuthor);
            }
            expected.check(current.version)?;
            tx.commit(Change::DeletePost { id });
            Ok(())
        })
        .await
    }

    /// A page of posts, newest first. Walks one ordered index from the cursor, so a page costs
    /// O(log n + limit) however many posts there are. With both `author` and `tag`, the author's
    /// index is walked and filtered by tag: O(posts by that author) at worst.
    pub async fn list_posts(&self, query: &PostQuery) -> Page {
        let state = self.state.lock();
        let empty = Default::default();
        let author = match &query.author {
            Some(name) => match state.users_by_username.get(name.as_str()) {
                Some(id) => Some(*id),
                None => {
                    return Page {
                        posts: Vec::new(),
                        next: None,
                    }
                }
            },
            None => None,
        };
        let index = match (author, &query.tag) {
            (Some(author), _) => state.posts_by_author.get(&author).unwrap_or(&empty),
            (None, Some(tag)) => state.posts_by_tag.get(tag).unwrap_or(&empty),
            (None, None) => &state.timeline,
        };
        let keys: Box<dyn DoubleEndedIterator<Item = &state::PostKey>> = match &query.after {
            Some(cursor) => Box::new(index.range(..cursor.key())),
            None => Box::new(index.iter()),
        };
        let wanted = |id: &PostId| match (&query.tag, author) {
            (Some(tag), Some(_)) => state.posts.get(id).is_some_and(|p| p.tags.contains(tag)),
            _ => true,
        };
        let mut posts: Vec<Post> = keys
            .rev()
            .filter(|(_, id)| wanted(id))
            .take(query.limit + 1)
            .filter_map(|(_, id)| view(&state, *id))
            .collect();
        let next = if posts.len() > query.limit {
            posts.truncate(query.limit);
            posts
                .last()
                .map(|post| Cursor::new(post.created_at, post.id))
        } else {
            None
        };
        Page { posts, next }
    }
}

/// A free username for an external identity: its hint if valid and free, else `ext-` and a
/// digest of the identity (longer if that is taken, which takes a collision or a squatter).
/// A provider's username as one of ours: `Kc.Bob` -> `kc-bob` (characters we do not allow
/// become `-`). An email address is not used: its local part would be shown to everyone.
fn username_from_hint(hint: &str) -> Option<Username> {
    if hint.contains('@') {
        return None;
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let name: String = hint
        .trim()
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .collect();
    Username::parse(name.trim_matches('-')).ok()
}

fn external_username(state: &State, identity: &ExternalIdentity) -> Username {
    let free = |name: &Username| !state.users_by_username.contains_key(name.as_str());
    if let Some(hint) = identity
        .username_hint
        .as_deref()
        .and_then(username_from_hint)
        .filter(free)
    {
        return hint;
    }
    let digest: String =
        sha2::Sha256::digest(format!("{}\n{}", identity.issuer, identity.subject).as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
    (12..=28)
        .step_by(4)
        .filter_map(|len| Username::parse(&format!("ext-{}", &digest[..len])).ok())
        .find(free)
        .unwrap_or_else(|| {
            let random = UserId::new().to_string().replace('-', "");
            Username::parse(&format!("ext-{}", &random[..28])).expect("a valid username")
        })
}

fn check_available(state: &State, username: &Username, email: &Email) -> Result<(), StoreError> {
    if state.users_by_email.contains_key(&email.key()) {
        return Err(StoreError::EmailTaken);
    }
    if state.users_by_username.contains_key(username.as_str()) {
        return Err(StoreError::UsernameTaken);
    }
    Ok(())
}

fn session_record(user_id: UserId, session: NewSession, created_at: Timestamp) -> SessionRecord {
    SessionRecord {
        id: SessionId::new(),
        user_id,
        refresh_hash: session.refresh_hash,
        retired_hashes: Vec::new(),
        created_at,
        last_used_at: created_at,
        expires_at: session.expires_at,
        user_agent: session.user_agent,
    }
}

/// The client view of a stored post, with its author resolved.
fn view(state: &State, id: PostId) -> Option<Post> {
    let post = state.posts.get(&id)?;
    let author = state.users.get(&post.author)?;
    Some(Post {
        id: post.id,
        slug: post.slug.clone(),
        title: post.title.clone(),
        description: post.description.clone(),
        content: post.content.clone(),
        tags: post.tags.clone(),
        author: Author {
            id: author.id,
            username: author.username.clone(),
            name: author.name.clone(),
        },
        created_at: post.created_at,
        updated_at: post.updated_at,
        version: post.version,
    })
}

#[cfg(test)]
mod tests;

/// The journal thread: group commit, one `fdatasync` per batch.
fn commit_loop(
    state: &Mutex<State>,
    mut journal: Journal,
    queue: &mpsc::Receiver<Job>,
    flushes: &std::sync::atomic::AtomicU64,
) {
    while let Ok(first) = queue.recv() {
        let jobs: Vec<Job> = std::iter::once(first)
            .chain(queue.try_iter().take(MAX_BATCH - 1))
            .collect();
        let mut batch = journal.batch();
        let mut guard = state.lock();
        let replies: Vec<Reply> = jobs
            .into_iter()
            .map(|job| {
                job(&mut Tx {
                    state: &mut guard,
                    journal: Some(&mut batch),
                })
            })
            .collect();
        if !batch.is_empty() {
            flushes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let Err(error) = journal.commit(batch) {
            // The state now holds changes that are not on disk. Answering would acknowledge
            // them; serving on would show them. Stop; the journal replays what was flushed.
            tracing::error!(%error, "writing the journal failed; stopping the process");
            std::process::abort();
        }
        if let Err(error) = journal.compact_if_needed(&guard) {
            tracing::error!(%error, "compacting the journal failed; it keeps growing until the next attempt");
        }
        drop(guard);
        for reply in replies {
            reply();
        }
    }
}
