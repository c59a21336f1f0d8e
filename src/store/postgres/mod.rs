//! The PostgreSQL engine: several blog-api servers on one database (`BLOG_DATABASE_URL`).
//!
//! Every operation of the embedded engine, with the same meaning, in SQL; concurrency is the
//! database's: uniqueness by constraints, `If-Match` and refresh rotation by conditional
//! `UPDATE`s, pages by keyset indexes. Nothing is cached in the process, so a logout, a password
//! change or a revoked client on one server holds on the next request to any other.
//!
//! The schema lives here (no migrations folder) and is applied at startup, idempotently, in one
//! transaction holding an advisory lock, so servers starting together do not collide. A row
//! records the schema version; a database of a newer version is refused.
//!
//! Queries are built at run time (`sqlx::query`), so building never needs a database. A
//! database error is logged with its cause and answered as [`StoreError::Unavailable`] (503,
//! `Retry-After`), except the constraint violations that mean "taken" (409).

mod accounts;
mod cache;
mod clients;
mod import;
mod posts;
mod sessions;
mod social;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::domain::{
    Bio, DisplayName, Email, ImageUrl, PostContent, PostDescription, PostId, PostStatus, PostTitle,
    Role, Slug, Tags, Timestamp, UserId, Username,
};

use self::cache::{Caches, Listener};
use super::records::{Author, Post, PostFields, User};
use super::{Stats, StoreError, DEFAULT_SESSION_CAP};

/// The schema this build knows. A database holding a newer one is refused at startup.
/// 2: the read cache's triggers. An older server cannot join a database of version 2: its
/// writes would not run the handshake that keeps the others' caches right.
pub const SCHEMA_VERSION: i32 = 2;

/// Key of the advisory lock the schema is applied under (any constant shared by all servers).
const SCHEMA_LOCK: i64 = 0x626c_6f67_2d61_7069; // "blog-api"

/// The whole schema, idempotent: every statement is `IF NOT EXISTS`.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS blog_schema (
    id integer PRIMARY KEY CHECK (id = 1),
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id uuid PRIMARY KEY,
    username text NOT NULL CONSTRAINT users_username_key UNIQUE,
    email text,
    email_key text CONSTRAINT users_email_key UNIQUE,
    name text,
    role text NOT NULL,
    password_hash text,
    external_issuer text,
    external_subject text,
    bio text,
    image text,
    created_at timestamptz NOT NULL,
    CONSTRAINT users_external_key UNIQUE (external_issuer, external_subject)
);
CREATE INDEX IF NOT EXISTS users_by_creation ON users (created_at, id);
CREATE TABLE IF NOT EXISTS sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash bytea NOT NULL,
    generation bigint NOT NULL,
    family_key bytea NOT NULL,
    created_at timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    user_agent text
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS clients (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    scopes text NOT NULL,
    secret_hash bytea NOT NULL,
    owner uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
    id uuid PRIMARY KEY,
    author uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slug text NOT NULL CONSTRAINT posts_slug_key UNIQUE,
    title text NOT NULL,
    description text,
    content text NOT NULL,
    tags text[] NOT NULL,
    status text NOT NULL,
    published_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_public ON posts (published_at, id) WHERE status = 'published';
CREATE INDEX IF NOT EXISTS posts_by_author ON posts (author, published_at, id)
    WHERE status = 'published';
CREATE INDEX IF NOT EXISTS drafts_by_author ON posts (author, created_at, id)
    WHERE status = 'draft';
CREATE TABLE IF NOT EXISTS post_tags (
    tag text NOT NULL,
    published_at timestamptz NOT NULL,
    post uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, published_at, post)
);
CREATE INDEX IF NOT EXISTS post_tags_by_post ON post_tags (post);
CREATE TABLE IF NOT EXISTS post_words (
    word text NOT NULL,
    post uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    fields smallint NOT NULL,
    PRIMARY KEY (word, post)
);
CREATE INDEX IF NOT EXISTS post_words_by_post ON post_words (post);
CREATE TABLE IF NOT EXISTS slug_suffixes (
    base text PRIMARY KEY,
    next integer NOT NULL
);
CREATE TABLE IF NOT EXISTS follows (
    follower uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (follower, followee)
);
CREATE INDEX IF NOT EXISTS follows_by_followee ON follows (followee);
CREATE TABLE IF NOT EXISTS favorites (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    post uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, post)
);
CREATE INDEX IF NOT EXISTS favorites_by_post ON favorites (post);
CREATE TABLE IF NOT EXISTS comments (
    id bigint PRIMARY KEY,
    post uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    author uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_by_post ON comments (post, seq, id);
CREATE INDEX IF NOT EXISTS comments_by_author ON comments (author);
CREATE TABLE IF NOT EXISTS login_failures (
    target text NOT NULL,
    network text NOT NULL,
    count integer NOT NULL,
    blocked_until timestamptz,
    last timestamptz NOT NULL,
    PRIMARY KEY (target, network)
);
CREATE TABLE IF NOT EXISTS login_failure_times (
    target text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failure_times_by_target ON login_failure_times (target, at);
CREATE INDEX IF NOT EXISTS login_failure_times_by_time ON login_failure_times (at);
CREATE INDEX IF NOT EXISTS login_failures_by_last ON login_failures (last);
CREATE INDEX IF NOT EXISTS posts_by_author_any ON posts (author);
CREATE INDEX IF NOT EXISTS clients_by_owner ON clients (owner);

-- The read cache's invalidation (cache.rs): every statement that can change a cached session,
-- post view or count notifies every listening server when it commits.
CREATE OR REPLACE FUNCTION blog_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('blog_cache', TG_ARGV[0]);
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER sessions_notify AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION blog_cache_notify('sessions');
-- Rotation only moves expiry later and a session's last use is not cached: neither notifies.
CREATE OR REPLACE TRIGGER sessions_shortened AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (NEW.expires_at < OLD.expires_at OR NEW.user_id <> OLD.user_id)
    EXECUTE FUNCTION blog_cache_notify('sessions');
CREATE OR REPLACE TRIGGER users_notify AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION blog_cache_notify('users');
CREATE OR REPLACE TRIGGER posts_notify AFTER INSERT OR UPDATE OR DELETE ON posts
    FOR EACH ROW EXECUTE FUNCTION blog_cache_notify('posts');
CREATE OR REPLACE TRIGGER favorites_notify AFTER INSERT OR DELETE ON favorites
    FOR EACH ROW EXECUTE FUNCTION blog_cache_notify('posts');
CREATE OR REPLACE TRIGGER follows_notify AFTER INSERT OR DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION blog_cache_notify('posts');
-- The tags in use are counted from post_tags (cached too); the server writes it only beside
-- posts, an operator's psql may not.
CREATE OR REPLACE TRIGGER post_tags_notify AFTER INSERT OR UPDATE OR DELETE ON post_tags
    FOR EACH ROW EXECUTE FUNCTION blog_cache_notify('posts');
-- Row triggers: a statement that changes nothing (the sweep, the cap, ON CONFLICT DO NOTHING)
-- notifies nothing; PostgreSQL sends one notification per payload and transaction.
CREATE OR REPLACE TRIGGER sessions_truncated AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION blog_cache_notify('all');
CREATE OR REPLACE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION blog_cache_notify('all');
CREATE OR REPLACE TRIGGER posts_truncated AFTER TRUNCATE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION blog_cache_notify('all');
CREATE OR REPLACE TRIGGER favorites_truncated AFTER TRUNCATE ON favorites
    FOR EACH STATEMENT EXECUTE FUNCTION blog_cache_notify('all');
CREATE OR REPLACE TRIGGER follows_truncated AFTER TRUNCATE ON follows
    FOR EACH STATEMENT EXECUTE FUNCTION blog_cache_notify('all');
CREATE OR REPLACE TRIGGER post_tags_truncated AFTER TRUNCATE ON post_tags
    FOR EACH STATEMENT EXECUTE FUNCTION blog_cache_notify('all');
"#;

/// How the engine connects.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections at most.
    pub pool_size: u32,
    /// How long a request waits for a connection before it gets 503.
    pub acquire_timeout: Duration,
    /// Sessions and post views the read cache holds, each (0: no cache; see `cache.rs`).
    pub cache_entries: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            pool_size: 16,
            acquire_timeout: Duration::from_secs(2),
            cache_entries: 10_000,
        }
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum PgStartError {
    #[error("cannot reach the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply the schema: {0}")]
    Schema(#[source] sqlx::Error),
    #[error(
        "the database holds schema version {found}, newer than this server knows ({SCHEMA_VERSION}): upgrade the server"
    )]
    NewerSchema { found: i32 },
}

/// The PostgreSQL engine.
pub struct Postgres {
    pool: PgPool,
    session_cap: usize,
    cache: Arc<Caches>,
    /// The cache's own connections: its listener, heartbeats and handshake.
    cache_pool: PgPool,
    /// Feeds `cache` the other servers' changes; stops with the engine.
    listener: Listener,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

impl Postgres {
    /// Connects to `url` (within the acquire timeout), applies the schema and checks its
    /// version.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<Self, PgStartError> {
        // A statement that runs longer than this is cancelled (503), so that one slow query
        // cannot hold a connection, nor a request, for ever.
        let connect_options = url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .map_err(PgStartError::Connect)?
            .options([("statement_timeout", "5s")]);
        let pool_options = connect_options.clone();
        let pool = PgPoolOptions::new()
            .max_connections(options.pool_size.max(1))
            // No ping before every checkout: it costs a round trip per query (+23% queries/s
            // without it, bench/pg-drivers). A connection the database dropped fails its next
            // query once (503) and is discarded; the pool opens fresh ones.
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(pool_options)
            .await
            .map_err(PgStartError::Connect)?;
        apply_schema(&pool).await?;
        let cache = Arc::new(Caches::new(options.cache_entries));
        // The cache's connections are its own (listening, heartbeats, the handshake), so that
        // a busy pool cannot hold up a revocation.
        let cache_pool = PgPoolOptions::new()
            .max_connections(3)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect_options);
        let listener = cache::listen(cache_pool.clone(), Arc::downgrade(&cache));
        Ok(Self {
            pool,
            session_cap: DEFAULT_SESSION_CAP,
            cache,
            cache_pool,
            listener,
        })
    }

    /// The same engine with another cap on live sessions per account (at least 1).
    pub fn with_session_cap(mut self, cap: usize) -> Self {
        self.session_cap = cap.max(1);
        self
    }

    /// This server changed something: its read cache serves nothing from before (other
    /// servers hear of it from the schema's triggers).
    pub(super) async fn wrote(&self) {
        self.cache.wrote(&self.cache_pool).await;
    }

    /// The read cache's state: `listening`, `paused` or `off` (for `/health`).
    pub fn cache_state(&self) -> &'static str {
        self.cache.state()
    }

    /// This server has stopped serving requests: the other servers on the database are told,
    /// so that their writes stop waiting for its read cache at once.
    pub async fn leave(&self) {
        self.listener.stop_heartbeat();
        self.cache.leave(&self.cache_pool).await;
    }

    /// How many other servers this one hears on the database (for `/health`).
    pub fn cache_peers(&self) -> usize {
        self.cache.peer_count()
    }

    /// The connection pool (for `/health` and `/metrics`).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Exact counts (each a scan of its table).
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM posts) AS posts,
                    (SELECT count(*) FROM sessions) AS sessions",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let count = |name: &str| -> Result<usize, StoreError> {
            Ok(row.try_get::<i64, _>(name).map_err(unavailable)? as usize)
        };
        Ok(Stats {
            users: count("users")?,
            posts: count("posts")?,
            sessions: count("sessions")?,
        })
    }

    /// Sizes for `/health`, as PostgreSQL estimates them (`pg_class.reltuples`, kept by
    /// autovacuum): exact counts would scan a million posts at every load balancer's probe.
    /// The query also checks that the database answers.
    pub async fn estimated_stats(&self) -> Result<Stats, StoreError> {
        let estimate = |table: &str| {
            format!(
                "(SELECT GREATEST(reltuples, 0)::bigint FROM pg_class \
                  WHERE oid = to_regclass('{table}')) AS {table}"
            )
        };
        let row = sqlx::query(&format!(
            "SELECT {}, {}, {}",
            estimate("users"),
            estimate("posts"),
            estimate("sessions")
        ))
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let count = |name: &str| -> Result<usize, StoreError> {
            let estimate: Option<i64> = row.try_get(name).map_err(unavailable)?;
            Ok(estimate.unwrap_or(0).max(0) as usize)
        };
        Ok(Stats {
            users: count("users")?,
            posts: count("posts")?,
            sessions: count("sessions")?,
        })
    }
}

/// Creates what is missing, under an advisory lock, in one transaction; refuses a newer schema.
async fn apply_schema(pool: &PgPool) -> Result<(), PgStartError> {
    let mut tx = pool.begin().await.map_err(PgStartError::Schema)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SCHEMA_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(PgStartError::Schema)?;
    // The version table first, under the lock, then the version: a newer server that started
    // at the same moment has either committed its version already or waits for this lock.
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS blog_schema (
             id integer PRIMARY KEY CHECK (id = 1),
             version integer NOT NULL
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(PgStartError::Schema)?;
    let found: Option<i32> = sqlx::query_scalar("SELECT version FROM blog_schema WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await
        .map_err(PgStartError::Schema)?;
    if let Some(found) = found.filter(|found| *found > SCHEMA_VERSION) {
        return Err(PgStartError::NewerSchema { found });
    }
    sqlx::raw_sql(SCHEMA)
        .execute(&mut *tx)
        .await
        .map_err(PgStartError::Schema)?;
    sqlx::query(
        "INSERT INTO blog_schema (id, version) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET version = GREATEST(blog_schema.version, EXCLUDED.version)",
    )
    .bind(SCHEMA_VERSION)
    .execute(&mut *tx)
    .await
    .map_err(PgStartError::Schema)?;
    tx.commit().await.map_err(PgStartError::Schema)
}

/// Text from a request, to look something up by: PostgreSQL refuses a NUL in text (an error, not
/// a miss), and nothing stored holds one, so it becomes U+FFFD, which no name or slug holds.
pub(super) fn lookup_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// A database error as the store reports it: logged with its cause, answered as unavailable.
pub(super) fn unavailable(error: sqlx::Error) -> StoreError {
    tracing::error!(%error, "the database failed a query");
    StoreError::Unavailable
}

/// The constraint a failed statement violated, if that is why it failed.
pub(super) fn violated(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => db.constraint(),
        _ => None,
    }
}

/// A stored value that no longer parses: the database was changed by hand.
pub(super) fn corrupt(what: &str, why: impl std::fmt::Display) -> StoreError {
    tracing::error!(what, %why, "a row in the database does not parse");
    StoreError::Unavailable
}

/// A column of `row`.
pub(super) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(unavailable)
}

/// A 32-byte column (hashes and keys).
pub(super) fn bytes32(row: &PgRow, column: &str) -> Result<[u8; 32], StoreError> {
    let bytes: Vec<u8> = get(row, column)?;
    bytes
        .try_into()
        .map_err(|_| corrupt(column, "not 32 bytes"))
}

/// Parses a stored text with the domain's own rules.
pub(super) fn parsed<T>(
    column: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, StoreError> {
    parse(value).map_err(|why| corrupt(column, why))
}

pub(super) fn role_text(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Admin => "admin",
    }
}

fn role(text: &str) -> Result<Role, String> {
    match text {
        "user" => Ok(Role::User),
        "admin" => Ok(Role::Admin),
        other => Err(format!("unknown role {other}")),
    }
}

pub(super) fn status_text(status: PostStatus) -> &'static str {
    match status {
        PostStatus::Draft => "draft",
        PostStatus::Published => "published",
    }
}

/// The columns [`user_from`] reads, from `users` as `u`.
pub(super) const USER_COLUMNS: &str =
    "u.id, u.username, u.email, u.name, u.role, u.bio, u.image, u.created_at";

/// An account from a row holding [`USER_COLUMNS`].
pub(super) fn user_from(row: &PgRow) -> Result<User, StoreError> {
    let optional = |column: &str| -> Result<Option<String>, StoreError> { get(row, column) };
    Ok(User {
        id: UserId::from(get::<Uuid>(row, "id")?),
        username: parsed(
            "username",
            &get::<String>(row, "username")?,
            Username::parse,
        )?,
        email: optional("email")?
            .map(|email| parsed("email", &email, Email::parse))
            .transpose()?,
        name: optional("name")?
            .map(|name| parsed("name", &name, DisplayName::parse))
            .transpose()?,
        role: parsed("role", &get::<String>(row, "role")?, role)?,
        created_at: get(row, "created_at")?,
        bio: optional("bio")?
            .map(|bio| parsed("bio", &bio, Bio::parse))
            .transpose()?
            .flatten(),
        image: optional("image")?
            .map(|image| parsed("image", &image, ImageUrl::parse))
            .transpose()?
            .flatten(),
    })
}

/// The columns [`record_from`] reads, from `posts` as `p`.
pub(super) const POST_COLUMNS: &str = "p.id, p.author, p.slug, p.title, p.description, p.content, \
     p.tags, p.status, p.published_at, p.created_at, p.updated_at, p.version";

/// A stored post, each text on its own, from a row holding [`POST_COLUMNS`].
pub(super) fn record_from(row: &PgRow) -> Result<PostFields, StoreError> {
    let tags: Vec<String> = get(row, "tags")?;
    let description: Option<String> = get(row, "description")?;
    Ok(PostFields {
        id: PostId::from(get::<Uuid>(row, "id")?),
        author: UserId::from(get::<Uuid>(row, "author")?),
        slug: Slug::from_stored(&get::<String>(row, "slug")?),
        title: parsed("title", &get::<String>(row, "title")?, PostTitle::parse)?,
        description: description
            .map(|d| parsed("description", &d, PostDescription::parse))
            .transpose()?
            .flatten(),
        content: parsed(
            "content",
            &get::<String>(row, "content")?,
            PostContent::parse,
        )?,
        tags: parsed("tags", "", |_| Tags::parse(&tags))?,
        status: parsed("status", &get::<String>(row, "status")?, PostStatus::parse)?,
        published_at: get(row, "published_at")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        version: get::<i64>(row, "version")? as u64,
    })
}

/// What a post view selects for viewer `$1`: the post, its author's profile, whether the viewer
/// follows them, the favorites count and whether the viewer favorited it. `FROM posts p JOIN
/// users a ON a.id = p.author` follows.
pub(super) const POST_VIEW: &str = "SELECT p.id, p.author, p.slug, p.title, p.description, \
     p.content, p.tags, p.status, p.published_at, p.created_at, p.updated_at, p.version, \
     a.username AS a_username, a.name AS a_name, a.bio AS a_bio, a.image AS a_image, \
     EXISTS (SELECT 1 FROM follows f WHERE f.follower = $1 AND f.followee = p.author) AS a_following, \
     (SELECT count(*) FROM favorites v WHERE v.post = p.id) AS favorites, \
     EXISTS (SELECT 1 FROM favorites v WHERE v.post = p.id AND v.user_id = $1) AS favorited \
     FROM posts p JOIN users a ON a.id = p.author";

/// A post as a viewer sees it, from a row of [`POST_VIEW`].
pub(super) fn post_from(row: &PgRow) -> Result<Post, StoreError> {
    let record = record_from(row)?;
    Ok(Post {
        id: record.id,
        slug: record.slug,
        title: record.title,
        description: record.description,
        content: record.content,
        tags: record.tags,
        status: record.status,
        published_at: record.published_at,
        author: author_from(row, "a_", record.author)?,
        created_at: record.created_at,
        updated_at: record.updated_at,
        version: record.version,
        favorites: get::<i64>(row, "favorites")? as u64,
        favorited: get(row, "favorited")?,
    })
}

/// A profile from the columns `{prefix}username`, `name`, `bio`, `image` and `following`.
pub(super) fn author_from(row: &PgRow, prefix: &str, id: UserId) -> Result<Author, StoreError> {
    let column = |name: &str| format!("{prefix}{name}");
    let optional = |name: &str| -> Result<Option<String>, StoreError> { get(row, &column(name)) };
    Ok(Author {
        id,
        username: parsed(
            "username",
            &get::<String>(row, &column("username"))?,
            Username::parse,
        )?,
        name: optional("name")?
            .map(|name| parsed("name", &name, DisplayName::parse))
            .transpose()?,
        bio: optional("bio")?
            .map(|bio| parsed("bio", &bio, Bio::parse))
            .transpose()?
            .flatten(),
        image: optional("image")?
            .map(|image| parsed("image", &image, ImageUrl::parse))
            .transpose()?
            .flatten(),
        following: get(row, &column("following"))?,
    })
}

/// The viewer's id to bind as `$1` of [`POST_VIEW`] (the nil UUID, nobody, when anonymous).
pub(super) fn viewer_uuid(viewer: Option<UserId>) -> Uuid {
    viewer.map_or(Uuid::nil(), |viewer| viewer.as_uuid())
}

/// Now, to the millisecond, as every timestamp the store writes.
pub(super) fn now() -> Timestamp {
    crate::domain::now()
}
