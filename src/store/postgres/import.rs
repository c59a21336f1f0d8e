//! Moving a blog from the embedded engine to PostgreSQL (`blog-api copy-store`): everything a
//! data directory holds, copied into an empty database in one transaction, ids, versions,
//! timestamps and password hashes kept. Old tokens keep working: sessions keep their refresh
//! hashes, generations and family keys.
//!
//! The source is `State::as_changes`, the records a snapshot is made of, so whatever the
//! embedded engine would rebuild itself from is what gets copied. Posts are indexed by
//! `posts::index_post`, the function every write of a post uses, so a copied post is found by
//! tag and search exactly as one written through the API.

use std::fmt;

use sqlx::PgConnection;

use crate::domain::PostId;
use crate::store::records::{ClientRecord, CommentRecord, PostRecord, SessionRecord};
use crate::store::state::Change;
use crate::store::{Embedded, StoreError};

use super::accounts::insert_user;
use super::posts::index_post;
use super::{status_text, Postgres};

/// How many of each were copied: the summary line of `copy-store`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub users: u64,
    pub sessions: u64,
    pub clients: u64,
    pub posts: u64,
    pub follows: u64,
    pub favorites: u64,
    pub comments: u64,
}

impl fmt::Display for ImportCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "copied {} users, {} sessions, {} clients, {} posts, {} follows, {} favorites, {} comments",
            self.users,
            self.sessions,
            self.clients,
            self.posts,
            self.follows,
            self.favorites,
            self.comments
        )
    }
}

/// Why nothing was copied. The transaction is rolled back on every one of them: the database
/// is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The database already holds a blog; merging two is not what a copy does.
    #[error(
        "the database is not empty ({users} users, {posts} posts): copy into a new, empty database"
    )]
    NotEmpty { users: i64, posts: i64 },
    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
    /// Writing a post's tags or words failed (the cause is logged by `unavailable`).
    #[error("cannot index post {post}: {source}")]
    Index {
        post: PostId,
        #[source]
        source: StoreError,
    },
}

/// A failed statement, saying what it was doing.
fn failed(context: impl fmt::Display) -> impl FnOnce(sqlx::Error) -> ImportError {
    move |source| ImportError::Database {
        context: context.to_string(),
        source,
    }
}

/// A count, version, generation or comment id as its `bigint` column holds it.
fn bigint(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Postgres {
    /// Copies everything `source` holds into this database, which must be empty (no account,
    /// no post; every other table of the blog's data hangs off those two). One transaction:
    /// afterwards either all of it is here or none of it. `users` and `posts` are locked
    /// against writes until the commit, so a server already running on the database cannot
    /// write between the emptiness check and the copy.
    pub async fn import_from(&self, source: &Embedded) -> Result<ImportCounts, ImportError> {
        let state = source.read();
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(failed("cannot start a transaction"))?;
        sqlx::query("LOCK TABLE users, posts IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(failed("cannot lock the tables users and posts"))?;
        let (users, posts): (i64, i64) =
            sqlx::query_as("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM posts)")
                .fetch_one(&mut *tx)
                .await
                .map_err(failed("cannot count the rows already there"))?;
        if users > 0 || posts > 0 {
            return Err(ImportError::NotEmpty { users, posts });
        }

        let mut counts = ImportCounts::default();
        // In the order `as_changes` yields them: accounts before what refers to them, posts
        // before their favorites and comments, as the foreign keys want.
        for change in state.as_changes() {
            match change {
                Change::CreateUser(user) => {
                    insert_user(&mut tx, &user)
                        .await
                        .map_err(failed(format!("cannot copy account {}", user.id)))?;
                    counts.users += 1;
                }
                Change::CreateSession(session) => {
                    insert_session(&mut tx, &session).await?;
                    counts.sessions += 1;
                }
                Change::CreateClient(client) => {
                    insert_client(&mut tx, &client).await?;
                    counts.clients += 1;
                }
                Change::PutPost(post) => {
                    insert_post(&mut tx, &post).await?;
                    index_post(&mut tx, &post, false).await.map_err(|source| {
                        ImportError::Index {
                            post: post.id,
                            source,
                        }
                    })?;
                    counts.posts += 1;
                }
                Change::Follow { follower, followee } => {
                    sqlx::query("INSERT INTO follows (follower, followee) VALUES ($1, $2)")
                        .bind(follower.as_uuid())
                        .bind(followee.as_uuid())
                        .execute(&mut *tx)
                        .await
                        .map_err(failed(format!(
                            "cannot copy the follow of {followee} by {follower}"
                        )))?;
                    counts.follows += 1;
                }
                Change::Favorite { user, post } => {
                    sqlx::query("INSERT INTO favorites (user_id, post) VALUES ($1, $2)")
                        .bind(user.as_uuid())
                        .bind(post.as_uuid())
                        .execute(&mut *tx)
                        .await
                        .map_err(failed(format!(
                            "cannot copy the favorite of post {post} by {user}"
                        )))?;
                    counts.favorites += 1;
                }
                Change::PutComment(comment) => {
                    insert_comment(&mut tx, &comment).await?;
                    counts.comments += 1;
                }
                // Named one by one rather than `_`: a new kind of change fails the build
                // here, so whoever adds one decides whether a copy must carry it.
                Change::SetUserName { .. }
                | Change::SetPasswordHash { .. }
                | Change::DeleteUser { .. }
                | Change::RotateRefresh { .. }
                | Change::TouchSession { .. }
                | Change::EndSession { .. }
                | Change::ExpireSessions { .. }
                | Change::DeleteClient { .. }
                | Change::DeletePost { .. }
                | Change::SetProfile { .. }
                | Change::Unfollow { .. }
                | Change::Unfavorite { .. }
                | Change::DeleteComment { .. } => {
                    unreachable!("State::as_changes yields records, not edits")
                }
            }
        }

        // The suffix counters, so that the next post titled like copied ones gets a fresh
        // `-n` at once. Both engines keep the next suffix to try per base slug.
        let (bases, next): (Vec<String>, Vec<i32>) = state
            .slug_suffixes
            .iter()
            .map(|(base, next)| {
                (
                    base.as_str().to_owned(),
                    i32::try_from(*next).unwrap_or(i32::MAX),
                )
            })
            .unzip();
        sqlx::query(
            "INSERT INTO slug_suffixes (base, next) \
             SELECT s.base, s.next FROM UNNEST($1::text[], $2::integer[]) AS s(base, next) \
             ON CONFLICT (base) DO UPDATE SET next = GREATEST(slug_suffixes.next, EXCLUDED.next)",
        )
        .bind(bases)
        .bind(next)
        .execute(&mut *tx)
        .await
        .map_err(failed("cannot copy the slug counters"))?;

        tx.commit()
            .await
            .map_err(failed("cannot commit the copy"))?;
        Ok(counts)
    }
}

/// A session as it is: its refresh token's hash, generation and family key, so refresh tokens
/// and access tokens issued before the copy keep working.
async fn insert_session(
    connection: &mut PgConnection,
    session: &SessionRecord,
) -> Result<(), ImportError> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, refresh_hash, generation, family_key, created_at, \
         last_used_at, expires_at, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(session.id.as_uuid())
    .bind(session.user_id.as_uuid())
    .bind(session.refresh_hash.to_vec())
    .bind(bigint(session.generation))
    .bind(session.family_key.to_vec())
    .bind(session.created_at)
    .bind(session.last_used_at)
    .bind(session.expires_at)
    .bind(session.user_agent.as_deref())
    .execute(connection)
    .await
    .map_err(failed(format!("cannot copy session {}", session.id)))?;
    Ok(())
}

async fn insert_client(
    connection: &mut PgConnection,
    client: &ClientRecord,
) -> Result<(), ImportError> {
    sqlx::query(
        "INSERT INTO clients (id, name, scopes, secret_hash, owner, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(client.id.as_uuid())
    .bind(client.name.as_str())
    .bind(client.scopes.to_string())
    .bind(client.secret_hash.to_vec())
    .bind(client.owner.as_uuid())
    .bind(client.created_at)
    .execute(connection)
    .await
    .map_err(failed(format!("cannot copy client {}", client.id)))?;
    Ok(())
}

/// A post's row as it is (its index rows are `index_post`'s).
async fn insert_post(connection: &mut PgConnection, post: &PostRecord) -> Result<(), ImportError> {
    let tags: Vec<String> = post
        .tags
        .iter()
        .map(|tag| tag.as_str().to_owned())
        .collect();
    sqlx::query(
        "INSERT INTO posts (id, author, slug, title, description, content, tags, status, \
         published_at, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(post.id.as_uuid())
    .bind(post.author.as_uuid())
    .bind(post.slug())
    .bind(post.title())
    .bind(post.description())
    .bind(post.content())
    .bind(tags)
    .bind(status_text(post.status))
    .bind(post.published_at)
    .bind(post.created_at)
    .bind(post.updated_at)
    .bind(bigint(post.version))
    .execute(connection)
    .await
    .map_err(failed(format!("cannot copy post {}", post.id)))?;
    Ok(())
}

/// A comment with its id and its place (`seq`) among the post's comments.
async fn insert_comment(
    connection: &mut PgConnection,
    comment: &CommentRecord,
) -> Result<(), ImportError> {
    sqlx::query(
        "INSERT INTO comments (id, post, seq, author, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(bigint(comment.id.get()))
    .bind(comment.post.as_uuid())
    .bind(bigint(comment.seq))
    .bind(comment.author.as_uuid())
    .bind(comment.body.as_str())
    .bind(comment.created_at)
    .bind(comment.updated_at)
    .execute(connection)
    .await
    .map_err(failed(format!("cannot copy comment {}", comment.id)))?;
    Ok(())
}
