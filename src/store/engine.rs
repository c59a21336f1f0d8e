//! [`Store`]: the one interface handlers and extractors use, over either engine.
//!
//! - [`Embedded`]: the in-process store (memory, or journaled to a data directory), the default;
//! - [`Postgres`]: PostgreSQL, for several servers on one database (`BLOG_DATABASE_URL`).
//!
//! Both implement every operation with the same name, arguments and meaning; this file only
//! dispatches. Every operation answers `Result<_, StoreError>`: the embedded engine never fails
//! to answer, PostgreSQL may ([`StoreError::Unavailable`], a 503), and no handler knows which
//! engine it talks to.

use std::path::Path;

use crate::domain::{
    ClientId, CommentBody, CommentId, DisplayName, Email, ExternalIdentity, PostId, Scopes,
    SessionId, Tag, Timestamp, UserId, Username,
};

use super::postgres::Postgres;
use super::records::{Actor, Author, Client, Comment, Post, Principal, SessionInfo, User};
use super::social::{ArticlePage, ArticleQuery, CommentPage, ProfileEdit};
use super::{
    Cursor, Embedded, Expected, JournalError, LoginName, NewPost, NewSession, NewUser, Page,
    PostEdit, PostQuery, PostSearch, PresentedRefresh, RefreshError, SearchResults, Stats,
    StoreError,
};

/// The store, shared by all workers: one engine behind one interface.
#[derive(Debug)]
pub struct Store {
    engine: Engine,
}

#[derive(Debug)]
enum Engine {
    Embedded(Embedded),
    Postgres(Postgres),
}

impl Store {
    /// An empty embedded store that keeps nothing on disk.
    pub fn ephemeral() -> Self {
        Embedded::ephemeral().into()
    }

    /// The embedded store of the data directory `dir` (see [`Embedded::open`]).
    pub fn open(dir: &Path, compact_at: u64) -> Result<Self, JournalError> {
        Embedded::open(dir, compact_at).map(Self::from)
    }

    /// The same store with another cap on live sessions per account (at least 1).
    pub fn with_session_cap(self, cap: usize) -> Self {
        let engine = match self.engine {
            Engine::Embedded(store) => Engine::Embedded(store.with_session_cap(cap)),
            Engine::Postgres(store) => Engine::Postgres(store.with_session_cap(cap)),
        };
        Self { engine }
    }

    /// Which engine answers: `memory`, `disk` or `postgres` (for `/health`).
    pub fn engine_name(&self) -> &'static str {
        match &self.engine {
            Engine::Embedded(store) if store.is_durable() => "disk",
            Engine::Embedded(_) => "memory",
            Engine::Postgres(_) => "postgres",
        }
    }

    /// The embedded engine, for what only it has (snapshots, journal counters).
    pub fn embedded(&self) -> Option<&Embedded> {
        match &self.engine {
            Engine::Embedded(store) => Some(store),
            Engine::Postgres(_) => None,
        }
    }

    /// The PostgreSQL engine, for what only it has (its pool).
    pub fn postgres(&self) -> Option<&Postgres> {
        match &self.engine {
            Engine::Postgres(store) => Some(store),
            Engine::Embedded(_) => None,
        }
    }

    /// The server has stopped serving requests (it is shutting down). On PostgreSQL the other
    /// servers are told, so that their writes no longer wait for this one; the embedded engine
    /// has nothing to do (every acknowledged write is on disk already).
    pub async fn stopped_serving(&self) {
        if let Engine::Postgres(store) = &self.engine {
            store.leave().await;
        }
    }

    /// Exchanges a refresh token (see [`Embedded::rotate_refresh`]).
    pub async fn rotate_refresh(
        &self,
        presented: PresentedRefresh,
        next_hash: [u8; 32],
        expires_at: Timestamp,
    ) -> Result<(User, SessionId), RefreshError> {
        match &self.engine {
            Engine::Embedded(store) => store.rotate_refresh(presented, next_hash, expires_at).await,
            Engine::Postgres(store) => store.rotate_refresh(presented, next_hash, expires_at).await,
        }
    }
}

impl Store {
    /// Sizes for `/health`: exact on the embedded engine (they cost nothing), PostgreSQL's
    /// estimates there (exact ones would scan every table at every probe). Also proves the
    /// store answers.
    pub async fn health_stats(&self) -> Result<Stats, StoreError> {
        match &self.engine {
            Engine::Embedded(store) => Ok(store.stats().await),
            Engine::Postgres(store) => store.estimated_stats().await,
        }
    }
}

impl From<Embedded> for Store {
    fn from(store: Embedded) -> Self {
        Self {
            engine: Engine::Embedded(store),
        }
    }
}

impl From<Postgres> for Store {
    fn from(store: Postgres) -> Self {
        Self {
            engine: Engine::Postgres(store),
        }
    }
}

/// Writes the dispatching methods. `answers` lists the operations the embedded engine always
/// answers (it returns `T`), `may_refuse` those it may refuse (it returns
/// `Result<T, StoreError>`), and `may_refuse_unseen` those it may refuse that change nothing a
/// PostgreSQL read cache holds (a check; an account created). PostgreSQL returns
/// `Result<T, StoreError>` for all of them; after a `may_refuse` operation that wrote, or may
/// have (its outcome unknown), every server's read cache drops what it held before it answers.
macro_rules! dispatch {
    (
        answers { $( $(#[$a_meta:meta])* fn $a_name:ident(&self $(, $a_arg:ident: $a_ty:ty)*) -> $a_ret:ty; )* }
        may_refuse { $( $(#[$r_meta:meta])* fn $r_name:ident(&self $(, $r_arg:ident: $r_ty:ty)*) -> $r_ret:ty; )* }
        may_refuse_unseen { $( $(#[$u_meta:meta])* fn $u_name:ident(&self $(, $u_arg:ident: $u_ty:ty)*) -> $u_ret:ty; )* }
    ) => {
        impl Store {
            $(
                $(#[$a_meta])*
                pub async fn $a_name(&self $(, $a_arg: $a_ty)*) -> Result<$a_ret, StoreError> {
                    match &self.engine {
                        Engine::Embedded(store) => Ok(store.$a_name($($a_arg),*).await),
                        Engine::Postgres(store) => store.$a_name($($a_arg),*).await,
                    }
                }
            )*
            $(
                $(#[$r_meta])*
                pub async fn $r_name(&self $(, $r_arg: $r_ty)*) -> Result<$r_ret, StoreError> {
                    match &self.engine {
                        Engine::Embedded(store) => store.$r_name($($r_arg),*).await,
                        Engine::Postgres(store) => {
                            let answer = store.$r_name($($r_arg),*).await;
                            // A refusal wrote nothing.
                            if matches!(answer, Ok(_) | Err(StoreError::Unavailable)) {
                                store.wrote().await;
                            }
                            answer
                        }
                    }
                }
            )*
            $(
                $(#[$u_meta])*
                pub async fn $u_name(&self $(, $u_arg: $u_ty)*) -> Result<$u_ret, StoreError> {
                    match &self.engine {
                        Engine::Embedded(store) => store.$u_name($($u_arg),*).await,
                        Engine::Postgres(store) => store.$u_name($($u_arg),*).await,
                    }
                }
            )*
        }
    };
}

dispatch! {
    answers {
        /// The id and password hash of the account `name` refers to, for login.
        fn credentials(&self, name: LoginName<'_>) -> Option<(UserId, String)>;
        /// The password hash of an account, to check its current password.
        fn password_hash(&self, id: UserId) -> Option<String>;
        /// Creates `user` unless its username or email is taken; `true` if it was created.
        fn ensure_user(&self, user: NewUser) -> bool;
        /// A page of accounts, newest first (for admins).
        fn list_users(&self, after: Option<Cursor>, limit: usize) -> (Vec<User>, Option<Cursor>);
        fn user(&self, id: UserId) -> Option<User>;
        /// Every client, oldest first.
        fn clients(&self) -> Vec<Client>;
        /// A client's secret hash and scopes, to check its credentials.
        fn client_credentials(&self, id: ClientId) -> Option<([u8; 32], Scopes)>;
        /// The account a live client writes as.
        fn client_actor(&self, id: ClientId) -> Option<Actor>;
        /// A post `viewer` may see (a hidden one is "not found" to anyone but its author).
        fn post(&self, id: PostId, viewer: Option<&Actor>) -> Option<Post>;
        fn post_by_slug(&self, slug: &str, viewer: Option<&Actor>) -> Option<Post>;
        /// A cursor page of posts.
        fn list_posts(&self, query: &PostQuery) -> Page;
        /// Published posts holding every word of the search, best first.
        fn search_posts(&self, search: &PostSearch) -> SearchResults;
        /// Who holds this access token, if its account and session are still live.
        fn principal(&self, user_id: UserId, session_id: SessionId) -> Option<Principal>;
        /// The key a session's refresh tokens carry their MAC under.
        fn refresh_family_key(&self, session: SessionId) -> Option<[u8; 32]>;
        /// The live sessions of an account, newest first.
        fn sessions(&self, user_id: UserId) -> Vec<SessionInfo>;
        fn end_session(&self, id: SessionId) -> ();
        /// Removes every session whose refresh token has expired; returns how many.
        fn sweep_sessions(&self) -> usize;
        /// The account with this username (any case).
        fn user_by_username(&self, username: &str) -> Option<User>;
        /// A public profile as `viewer` sees it.
        fn profile(&self, id: UserId, viewer: Option<UserId>) -> Option<Author>;
        /// A page of the comments of a post `viewer` may see, oldest first.
        fn comments(
            &self,
            post: PostId,
            viewer: Option<&Actor>,
            after: Option<Cursor>,
            limit: usize
        ) -> Option<CommentPage>;
        /// The tags of public posts with their counts, most used first.
        fn tags(&self, limit: usize) -> Vec<(Tag, usize)>;
        /// Public posts by filters, an offset slice and the total.
        fn articles(&self, query: &ArticleQuery) -> ArticlePage;
        /// The same as a cursor page.
        fn article_page(&self, query: &ArticleQuery) -> Page;
        /// Counts for `/health`.
        fn stats(&self) -> Stats;
    }
    may_refuse {
        /// Creates an account and its first session in one step.
        fn create_user(&self, user: NewUser, session: NewSession) -> (User, SessionId);
        /// Sets or clears the display name.
        fn set_user_name(&self, id: UserId, name: Option<DisplayName>) -> User;
        /// Replaces the password hash and ends every session of the account but `keep`.
        fn set_password_hash(
            &self,
            id: UserId,
            password_hash: String,
            keep: Option<SessionId>
        ) -> ();
        /// Deletes an account with everything it wrote and its sessions.
        fn delete_user(&self, id: UserId) -> ();
        /// Registers a client for `owner` (an admin).
        fn create_client(
            &self,
            owner: UserId,
            name: DisplayName,
            scopes: Scopes,
            secret_hash: [u8; 32]
        ) -> Client;
        /// Revokes a client.
        fn delete_client(&self, id: ClientId) -> ();
        fn create_post(&self, author: UserId, post: NewPost) -> Post;
        /// Applies `edit` if `actor` wrote the post and it is at an `expected` version.
        fn update_post(
            &self,
            id: PostId,
            actor: &Actor,
            expected: &Expected,
            edit: PostEdit
        ) -> Post;
        /// Deletes a post if `actor` wrote it or is an admin, at an `expected` version.
        fn delete_post(&self, id: PostId, actor: &Actor, expected: &Expected) -> ();
        /// Starts a session for an existing account (the cap may end its least recently
        /// used one).
        fn start_session(&self, user_id: UserId, session: NewSession) -> (User, SessionId);
        /// Ends a session of `user_id`; another account's session id is "not found".
        fn end_user_session(&self, user_id: UserId, id: SessionId) -> ();
        /// Applies a profile edit; a new username or email must be free.
        fn update_profile(&self, id: UserId, edit: ProfileEdit) -> User;
        fn follow(&self, follower: UserId, followee: UserId) -> Author;
        fn unfollow(&self, follower: UserId, followee: UserId) -> Author;
        fn favorite(&self, actor: &Actor, post: PostId) -> Post;
        fn unfavorite(&self, actor: &Actor, post: PostId) -> Post;
        fn add_comment(&self, actor: &Actor, post: PostId, body: CommentBody) -> Comment;
        /// Deletes a comment: its author's, the post author's or an admin's to delete.
        fn delete_comment(&self, actor: &Actor, post: PostId, comment: CommentId) -> ();
    }
    may_refuse_unseen {
        /// Fails fast when the username or email is taken.
        fn check_available(&self, username: &Username, email: &Email) -> ();
        /// The local account of an external identity, created on first use.
        fn external_principal(&self, identity: &ExternalIdentity) -> Principal;
    }
}
