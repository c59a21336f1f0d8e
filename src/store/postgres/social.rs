//! What readers do with posts and with each other, in SQL: profiles, follows and the feed,
//! favorites, comments, tags in use, and the article lists (offset pages with a total, and
//! cursor pages). The same meaning as the embedded engine's `social.rs`.

use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::domain::{CommentBody, CommentId, PostId, Tag, Timestamp, UserId};
use crate::store::{
    Actor, ArticlePage, ArticleQuery, Author, Comment, CommentPage, Cursor, Listing, Page, Post,
    ProfileEdit, StoreError, User,
};

use super::accounts::{end_other_sessions, taken};
use super::cache::{Counts, TotalKey};
use super::{
    author_from, get, now, parsed, post_from, unavailable, user_from, viewer_uuid, Postgres,
    POST_VIEW, USER_COLUMNS,
};

/// A profile as viewer `$2` sees it (with whether they follow it): the account `$1`.
const PROFILE: &str = "SELECT u.username, u.name, u.bio, u.image, \
     EXISTS (SELECT 1 FROM follows f WHERE f.follower = $2 AND f.followee = u.id) AS following \
     FROM users u WHERE u.id = $1";

/// The author of post `$1` if it is there for an actor at `$2` (now): public (published, its
/// time come), or written by `$3` (the actor, the nil UUID when anonymous), or `$4` (the actor
/// is an admin). A locking clause may follow.
const VISIBLE_POST: &str = "SELECT p.author FROM posts p WHERE p.id = $1 \
     AND ((p.status = 'published' AND p.published_at <= $2) OR p.author = $3 OR $4)";

/// What a comment view selects for viewer `$1`: the comment and its author's profile, with
/// whether the viewer follows them. `WHERE` follows.
const COMMENT_VIEW: &str = "SELECT c.id, c.post, c.seq, c.author, c.body, c.created_at, \
     c.updated_at, a.username AS a_username, a.name AS a_name, a.bio AS a_bio, \
     a.image AS a_image, \
     EXISTS (SELECT 1 FROM follows f WHERE f.follower = $1 AND f.followee = c.author) AS a_following \
     FROM comments c JOIN users a ON a.id = c.author";

/// Adds comment `$1` to post `$2` by `$3` with body `$4` at `$5`, numbered one past the post's
/// last comment and never below `$5`'s milliseconds (as the embedded engine does: a number
/// freed by deleting the newest comment is not handed out again); nothing when the id is taken
/// (a fresh one is drawn).
const INSERT_COMMENT: &str =
    "INSERT INTO comments (id, post, seq, author, body, created_at, updated_at) \
     VALUES ($1, $2, GREATEST(COALESCE((SELECT max(c.seq) FROM comments c WHERE c.post = $2), 0) + 1, \
     (extract(epoch FROM $5::timestamptz) * 1000)::bigint), \
     $3, $4, $5, $5) \
     ON CONFLICT (id) DO NOTHING";

/// How many random comment ids are drawn before giving up (one collision in 2^53 is already
/// rare; eight in a row mean something else is wrong).
const COMMENT_ID_DRAWS: usize = 8;

impl Postgres {
    /// The account with this username (any case).
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1"
        ))
        .bind(username_key(username))
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.as_ref().map(user_from).transpose()
    }

    /// A public profile as `viewer` sees it (with whether they follow it).
    pub async fn profile(
        &self,
        id: UserId,
        viewer: Option<UserId>,
    ) -> Result<Option<Author>, StoreError> {
        let row = sqlx::query(PROFILE)
            .bind(id.as_uuid())
            .bind(viewer_uuid(viewer))
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|row| author_from(&row, "", id)).transpose()
    }

    /// Applies `edit` in one transaction; a new username or email must be free (409
    /// otherwise). A new password hash ends every session of the account but `edit.keep`.
    pub async fn update_profile(&self, id: UserId, edit: ProfileEdit) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let found = sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        if found.is_none() {
            return Err(StoreError::NotFound("user"));
        }

        // Every profile column is text: one list of (column, value), NULL clearing.
        let mut assignments: Vec<(&str, Option<String>)> = Vec::new();
        if let Some(username) = &edit.username {
            assignments.push(("username", Some(username.as_str().to_owned())));
        }
        if let Some(email) = &edit.email {
            assignments.push(("email", Some(email.as_str().to_owned())));
            assignments.push(("email_key", Some(email.key())));
        }
        if let Some(name) = &edit.name {
            assignments.push(("name", name.as_ref().map(|name| name.as_str().to_owned())));
        }
        if let Some(bio) = &edit.bio {
            assignments.push(("bio", bio.as_ref().map(|bio| bio.as_str().to_owned())));
        }
        if let Some(image) = &edit.image {
            assignments.push((
                "image",
                image.as_ref().map(|image| image.as_str().to_owned()),
            ));
        }
        if !assignments.is_empty() {
            let mut update: QueryBuilder<'_, sqlx::Postgres> =
                QueryBuilder::new("UPDATE users SET ");
            for (i, (column, value)) in assignments.into_iter().enumerate() {
                if i > 0 {
                    update.push(", ");
                }
                update.push(column).push(" = ").push_bind(value);
            }
            update.push(" WHERE id = ").push_bind(id.as_uuid());
            update
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|error| taken(&error).unwrap_or_else(|| unavailable(error)))?;
        }

        if let Some(password_hash) = edit.password_hash {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(password_hash)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            end_other_sessions(&mut tx, id, edit.keep)
                .await
                .map_err(unavailable)?;
        }

        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(unavailable)?;
        let user = user_from(&row)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(user)
    }

    /// `follower` follows `followee` (idempotent); the followee's profile as the follower now
    /// sees it. Following oneself is refused.
    pub async fn follow(&self, follower: UserId, followee: UserId) -> Result<Author, StoreError> {
        self.set_following_in_sql(follower, followee, true).await
    }

    /// Undoes [`Postgres::follow`] (idempotent).
    pub async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<Author, StoreError> {
        self.set_following_in_sql(follower, followee, false).await
    }

    async fn set_following_in_sql(
        &self,
        follower: UserId,
        followee: UserId,
        follow: bool,
    ) -> Result<Author, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Both accounts, kept from being deleted until the follow is written.
        let rows = sqlx::query("SELECT id FROM users WHERE id = $1 OR id = $2 FOR KEY SHARE")
            .bind(follower.as_uuid())
            .bind(followee.as_uuid())
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
        let present = rows
            .iter()
            .map(|row| get::<Uuid>(row, "id"))
            .collect::<Result<Vec<Uuid>, StoreError>>()?;
        if !present.contains(&followee.as_uuid()) {
            return Err(StoreError::NotFound("profile"));
        }
        if !present.contains(&follower.as_uuid()) {
            return Err(StoreError::NotFound("user"));
        }
        if follower == followee {
            return Err(StoreError::FollowSelf);
        }
        let change = if follow {
            "INSERT INTO follows (follower, followee) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM follows WHERE follower = $1 AND followee = $2"
        };
        sqlx::query(change)
            .bind(follower.as_uuid())
            .bind(followee.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let row = sqlx::query(PROFILE)
            .bind(followee.as_uuid())
            .bind(follower.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .ok_or(StoreError::NotFound("profile"))?;
        let profile = author_from(&row, "", followee)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(profile)
    }

    /// `actor` favorites a post they may see (idempotent); the post as they now see it.
    pub async fn favorite(&self, actor: &Actor, post: PostId) -> Result<Post, StoreError> {
        self.set_favorite_in_sql(actor, post, true).await
    }

    /// Undoes [`Postgres::favorite`] (idempotent).
    pub async fn unfavorite(&self, actor: &Actor, post: PostId) -> Result<Post, StoreError> {
        self.set_favorite_in_sql(actor, post, false).await
    }

    async fn set_favorite_in_sql(
        &self,
        actor: &Actor,
        post: PostId,
        favorite: bool,
    ) -> Result<Post, StoreError> {
        let actor_id = actor.user_id.as_uuid();
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // The post, kept from being deleted until the favorite is written.
        visible_author(&mut tx, post, Some(actor), "FOR KEY SHARE")
            .await?
            .ok_or(StoreError::NotFound("post"))?;
        let change = if favorite {
            "INSERT INTO favorites (user_id, post) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM favorites WHERE user_id = $1 AND post = $2"
        };
        sqlx::query(change)
            .bind(actor_id)
            .bind(post.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(|error| missing(error, "user"))?;
        let row = sqlx::query(&format!("{POST_VIEW} WHERE p.id = $2"))
            .bind(actor_id)
            .bind(post.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .ok_or(StoreError::NotFound("post"))?;
        let view = post_from(&row)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(view)
    }

    /// Adds a comment to a post `actor` may see, numbered one past the post's last comment.
    pub async fn add_comment(
        &self,
        actor: &Actor,
        post: PostId,
        body: CommentBody,
    ) -> Result<Comment, StoreError> {
        let actor_id = actor.user_id.as_uuid();
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Locks the post row: comments on one post are numbered one at a time, so concurrent
        // ones get distinct numbers. (`NO KEY`: favorites and other comments' foreign keys,
        // which only share-lock the key, do not wait on it.)
        visible_author(&mut tx, post, Some(actor), "FOR NO KEY UPDATE")
            .await?
            .ok_or(StoreError::NotFound("post"))?;
        let created_at = now();
        let mut written = None;
        for _ in 0..COMMENT_ID_DRAWS {
            let id = CommentId::random();
            // `ON CONFLICT (id) DO NOTHING` rather than catching `comments_pkey`: a failed
            // statement would abort the transaction, and the post's lock with it.
            let inserted = sqlx::query(INSERT_COMMENT)
                .bind(sql_id(id.get()))
                .bind(post.as_uuid())
                .bind(actor_id)
                .bind(body.as_str())
                .bind(created_at)
                .execute(&mut *tx)
                .await
                .map_err(|error| missing(error, "user"))?;
            if inserted.rows_affected() == 1 {
                written = Some(id);
                break;
            }
        }
        let Some(id) = written else {
            tracing::error!(
                draws = COMMENT_ID_DRAWS,
                "every random comment id drawn was taken"
            );
            return Err(StoreError::Unavailable);
        };
        let row = sqlx::query(&format!("{COMMENT_VIEW} WHERE c.id = $2"))
            .bind(actor_id)
            .bind(sql_id(id.get()))
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .ok_or(StoreError::NotFound("comment"))?;
        let (_, comment) = comment_from(&row)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(comment)
    }

    /// A page of the comments of a post `viewer` may see, oldest first; `None` if the post is
    /// not there for them.
    pub async fn comments(
        &self,
        post: PostId,
        viewer: Option<&Actor>,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Option<CommentPage>, StoreError> {
        let (viewer_id, _) = actor_binds(viewer);
        let mut connection = self.pool.acquire().await.map_err(unavailable)?;
        if visible_author(&mut connection, post, viewer, "")
            .await?
            .is_none()
        {
            return Ok(None);
        }
        // The cursor carries the last comment's place (high 64 bits) and id (low 64 bits).
        // Without one, (0, 0): every comment's place is at least 1.
        let (seq, id) = match after {
            Some(cursor) => {
                let (_, key) = cursor.key::<Uuid>();
                let key = key.as_u128();
                (
                    sql_id((key >> 64) as u64),
                    sql_id(CommentId::from_u128(key).get()),
                )
            }
            None => (0, 0),
        };
        let rows = sqlx::query(&format!(
            "{COMMENT_VIEW} WHERE c.post = $2 AND (c.seq, c.id) > ($3, $4) \
             ORDER BY c.seq, c.id LIMIT $5"
        ))
        .bind(viewer_id)
        .bind(post.as_uuid())
        .bind(seq)
        .bind(id)
        .bind(sql_count(limit.saturating_add(1)))
        .fetch_all(&mut *connection)
        .await
        .map_err(unavailable)?;
        let mut comments = rows
            .iter()
            .map(comment_from)
            .collect::<Result<Vec<(u64, Comment)>, StoreError>>()?;
        let more = comments.len() > limit;
        comments.truncate(limit);
        let next = if more {
            comments.last().map(|(seq, comment)| {
                Cursor::new(
                    comment.created_at,
                    Uuid::from_u128((u128::from(*seq) << 64) | u128::from(comment.id.get())),
                )
            })
        } else {
            None
        };
        let comments = comments.into_iter().map(|(_, comment)| comment).collect();
        Ok(Some(CommentPage { comments, next }))
    }

    /// Deletes a comment of a post `actor` may see. Its author, the post's author and admins
    /// may.
    pub async fn delete_comment(
        &self,
        actor: &Actor,
        post: PostId,
        comment: CommentId,
    ) -> Result<(), StoreError> {
        let actor_id = actor.user_id.as_uuid();
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let post_author = visible_author(&mut tx, post, Some(actor), "")
            .await?
            .ok_or(StoreError::NotFound("post"))?;
        let row = sqlx::query("SELECT author FROM comments WHERE id = $1 AND post = $2 FOR UPDATE")
            .bind(sql_id(comment.get()))
            .bind(post.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .ok_or(StoreError::NotFound("comment"))?;
        let comment_author: Uuid = get(&row, "author")?;
        if !(actor.admin || comment_author == actor_id || post_author == actor_id) {
            return Err(StoreError::NotAuthor);
        }
        sqlx::query("DELETE FROM comments WHERE id = $1")
            .bind(sql_id(comment.get()))
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    /// The tags of public posts, with how many carry each, most used first (then by name).
    /// From the read cache while nothing changed (a scan of every tag row otherwise).
    pub async fn tags(&self, limit: usize) -> Result<Vec<(Tag, usize)>, StoreError> {
        let at = now();
        let tags = self
            .counted(&self.cache.tag_counts, limit, at, || async {
                // `post_tags` holds published posts only; scheduled ones sit past now. Names
                // compare byte by byte (`C`), as the embedded engine sorts them.
                let rows = sqlx::query(
                    "SELECT tag, count(*) AS uses FROM post_tags WHERE published_at <= $1 \
                     GROUP BY tag ORDER BY uses DESC, tag COLLATE \"C\" LIMIT $2",
                )
                .bind(at)
                .bind(sql_count(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
                rows.iter()
                    .map(|row| -> Result<(Tag, usize), StoreError> {
                        let tag = parsed("tag", &get::<String>(row, "tag")?, Tag::parse)?;
                        let uses = get::<i64>(row, "uses")?;
                        Ok((tag, usize::try_from(uses).unwrap_or(0)))
                    })
                    .collect::<Result<Arc<[_]>, _>>()
            })
            .await?;
        Ok(tags.to_vec())
    }

    /// How many public posts `query`'s filters match (its page aside), from the read cache
    /// while nothing changed (a count of every matching post otherwise).
    async fn article_total(
        &self,
        query: &ArticleQuery,
        at: Timestamp,
    ) -> Result<usize, StoreError> {
        let key = TotalKey {
            tag: query.tag.as_ref().map(|tag| tag.as_str().into()),
            author: query
                .author
                .as_deref()
                .map(|name| username_key(name).into()),
            favorited: query
                .favorited
                .as_deref()
                .map(|name| username_key(name).into()),
            feed_of: query.feed_of.map(|reader| reader.as_uuid()),
        };
        self.counted(&self.cache.totals, key, at, || async {
            let mut count: QueryBuilder<'_, sqlx::Postgres> =
                QueryBuilder::new("SELECT count(*) AS total FROM posts p");
            push_selection(&mut count, query, at);
            let row = count
                .build()
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
            Ok(usize::try_from(get::<i64>(&row, "total")?).unwrap_or(0))
        })
        .await
    }

    /// The count of `key` over the posts public at `at`: from `counts` in the read cache, or
    /// counted by `count` and kept until something changes or the next scheduled post becomes
    /// public. One count of a key at a time: the requests that miss meanwhile wait for it and
    /// take its result, rather than each scanning the same rows (at 1M posts a scan takes
    /// 150-300 ms).
    async fn counted<K, T, F>(
        &self,
        counts: &Counts<K, T>,
        key: K,
        at: Timestamp,
        count: impl FnOnce() -> F,
    ) -> Result<T, StoreError>
    where
        K: Clone + Eq + std::hash::Hash,
        T: Clone,
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        let guard = match self.cache.counted(counts, &key, at).await {
            Ok(value) => return Ok(value),
            Err(guard) => guard,
        };
        let ticket = self.cache.post_ticket();
        let value = count().await?;
        if let Some(guard) = guard {
            // Without the next due time the count is answered, not kept.
            if let Ok(until) = self.next_public(at).await {
                self.cache.keep(guard, ticket, value.clone(), until);
            }
        }
        Ok(value)
    }

    /// When the next scheduled post (published, due after `at`) becomes public: what counts
    /// public posts at `at` holds until then, unless something is written.
    async fn next_public(&self, at: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        sqlx::query_scalar(
            "SELECT min(published_at) FROM posts WHERE status = 'published' AND published_at > $1",
        )
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)
    }

    /// Public posts, newest first, filtered by tag, author, favoriting account or followed
    /// authors; the slice `offset..offset + limit` and the total.
    pub async fn articles(&self, query: &ArticleQuery) -> Result<ArticlePage, StoreError> {
        let at = now();
        let mut select = post_view(query.viewer);
        push_selection(&mut select, query, at);
        select
            .push(" ORDER BY p.published_at DESC, p.id DESC LIMIT ")
            .push_bind(sql_count(query.limit))
            .push(" OFFSET ")
            .push_bind(sql_count(query.offset));
        let rows = select
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let posts = rows
            .iter()
            .map(post_from)
            .collect::<Result<Vec<Post>, StoreError>>()?;

        let total = self.article_total(query, at).await?;
        Ok(ArticlePage { posts, total })
    }

    /// Like [`Postgres::articles`], as a cursor page (for `/api/v1`): after `query.after`,
    /// ignoring `query.offset`.
    pub async fn article_page(&self, query: &ArticleQuery) -> Result<Page, StoreError> {
        let mut select = post_view(query.viewer);
        push_selection(&mut select, query, now());
        if let Some(cursor) = &query.after {
            let (published_at, id) = cursor.key::<PostId>();
            select
                .push(" AND (p.published_at, p.id) < (")
                .push_bind(published_at)
                .push(", ")
                .push_bind(id.as_uuid())
                .push(")");
        }
        select
            .push(" ORDER BY p.published_at DESC, p.id DESC LIMIT ")
            .push_bind(sql_count(query.limit.saturating_add(1)));
        let rows = select
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let posts = rows
            .iter()
            .map(post_from)
            .collect::<Result<Vec<Post>, StoreError>>()?;
        Ok(Page::cut(posts, query.limit, Listing::Public))
    }
}

/// [`POST_VIEW`] for `viewer`, ready for a `WHERE`. The viewer is bound first, in a `WITH` the
/// query does not otherwise use, so that it is `$1` as [`POST_VIEW`] expects, and the filters
/// pushed after it number on from `$2`.
fn post_view(viewer: Option<UserId>) -> QueryBuilder<'static, sqlx::Postgres> {
    let mut sql = QueryBuilder::new("WITH viewer AS (SELECT ");
    sql.push_bind(viewer_uuid(viewer))
        .push("::uuid AS id) ")
        .push(POST_VIEW);
    sql
}

/// The `WHERE` of an article list (posts as `p`): public at `at`, and every filter of `query`.
/// An unknown author or favoriting username matches nothing, so the list is empty.
fn push_selection(sql: &mut QueryBuilder<'_, sqlx::Postgres>, query: &ArticleQuery, at: Timestamp) {
    sql.push(" WHERE p.status = 'published' AND p.published_at <= ")
        .push_bind(at);
    if let Some(tag) = &query.tag {
        sql.push(" AND p.id IN (SELECT t.post FROM post_tags t WHERE t.tag = ")
            .push_bind(tag.as_str().to_owned())
            .push(")");
    }
    if let Some(author) = &query.author {
        sql.push(" AND p.author = (SELECT au.id FROM users au WHERE au.username = ")
            .push_bind(username_key(author))
            .push(")");
    }
    if let Some(name) = &query.favorited {
        sql.push(
            " AND p.id IN (SELECT fv.post FROM favorites fv JOIN users fu ON fu.id = fv.user_id \
             WHERE fu.username = ",
        )
        .push_bind(username_key(name))
        .push(")");
    }
    if let Some(reader) = query.feed_of {
        sql.push(" AND p.author IN (SELECT fo.followee FROM follows fo WHERE fo.follower = ")
            .push_bind(reader.as_uuid())
            .push(")");
    }
}

/// A comment and its place among the post's comments, from a row of [`COMMENT_VIEW`].
fn comment_from(row: &PgRow) -> Result<(u64, Comment), StoreError> {
    let raw: i64 = get(row, "id")?;
    let id = u64::try_from(raw)
        .ok()
        .filter(|id| (1..CommentId::LIMIT).contains(id))
        .map(|id| CommentId::from_u128(u128::from(id)))
        .ok_or_else(|| super::corrupt("comment id", raw))?;
    let seq: i64 = get(row, "seq")?;
    let seq = u64::try_from(seq).map_err(|_| super::corrupt("comment seq", seq))?;
    let author = UserId::from(get::<Uuid>(row, "author")?);
    let comment = Comment {
        id,
        post: PostId::from(get::<Uuid>(row, "post")?),
        body: parsed("body", &get::<String>(row, "body")?, CommentBody::parse)?,
        author: author_from(row, "a_", author)?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    };
    Ok((seq, comment))
}

/// What [`VISIBLE_POST`] binds for an actor: their id (nil when anonymous) and admin power.
fn actor_binds(actor: Option<&Actor>) -> (Uuid, bool) {
    actor.map_or((Uuid::nil(), false), |actor| {
        (actor.user_id.as_uuid(), actor.admin)
    })
}

/// The author of `post` if it is there for `actor` now ([`VISIBLE_POST`]), the row locked by
/// `lock` (a locking clause, or "" for none).
async fn visible_author(
    connection: &mut sqlx::PgConnection,
    post: PostId,
    actor: Option<&Actor>,
    lock: &str,
) -> Result<Option<Uuid>, StoreError> {
    let (actor_id, admin) = actor_binds(actor);
    let row = sqlx::query(&format!("{VISIBLE_POST} {lock}"))
        .bind(post.as_uuid())
        .bind(now())
        .bind(actor_id)
        .bind(admin)
        .fetch_optional(connection)
        .await
        .map_err(unavailable)?;
    row.map(|row| get::<Uuid>(&row, "author")).transpose()
}

/// A username as stored (trimmed, lower-case), to look an account up by any case.
fn username_key(name: &str) -> String {
    super::lookup_text(&name.trim().to_lowercase())
}

/// A count or limit as SQL takes it.
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A comment id or place as stored (`bigint`). Real ones are below 2^53; a larger one (from a
/// forged cursor) becomes the greatest, past every comment, as in the embedded engine.
fn sql_id(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A write's failure: a row it refers to is gone (a foreign key, say the account deleted
/// meanwhile: "`what` not found"), or the database's.
fn missing(error: sqlx::Error, what: &'static str) -> StoreError {
    let gone = matches!(
        &error,
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23503")
    );
    if gone {
        StoreError::NotFound(what)
    } else {
        unavailable(error)
    }
}
