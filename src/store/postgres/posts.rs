//! Posts in PostgreSQL: create, read by id or slug, edit under `If-Match`, delete, cursor
//! pages and search, with the meaning of the embedded engine's `store/posts.rs`.
//!
//! A published post (scheduled ones too) has its rows in `post_tags` (the tag listing's index)
//! and `post_words` (the search index), written in the transaction that writes the post; a
//! draft has none. Slugs are unique by the `posts_slug_key` constraint: a write that loses a
//! slug to another server between its check and its write is retried from the start.

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{PostId, PostStatus, Slug, Tags, Timestamp, UserId};

use super::super::posts::{edited, publication};
use super::super::records::{Actor, Post, PostFields, PostRecord};
use super::super::search::{post_words, SearchCursor};
use super::super::{
    Expected, Listing, NewPost, Page, PostEdit, PostQuery, PostSearch, SearchResults, StoreError,
};
use super::cache::PostLookup;
use super::{
    get, now, post_from, record_from, status_text, unavailable, viewer_uuid, violated, Postgres,
    POST_COLUMNS, POST_VIEW,
};

/// Attempts at a write whose slug other servers keep taking before it gives up (503).
const SLUG_ATTEMPTS: usize = 5;

/// Why one attempt at writing a post failed.
enum Failure {
    /// A refusal (or the database failing): the answer.
    Refused(StoreError),
    /// Another server took the slug this attempt chose between its check and its write.
    SlugTaken,
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Refused(error)
    }
}

/// A failed write of a post's row: a lost slug race, or the database failing.
fn slug_race(error: sqlx::Error) -> Failure {
    if violated(&error) == Some("posts_slug_key") {
        Failure::SlugTaken
    } else {
        Failure::Refused(unavailable(error))
    }
}

/// The answer once every attempt lost its slug.
fn slug_contention() -> StoreError {
    tracing::warn!(
        attempts = SLUG_ATTEMPTS,
        "gave up writing a post: other servers kept taking its slug"
    );
    StoreError::Unavailable
}

impl Postgres {
    pub async fn create_post(&self, author: UserId, post: NewPost) -> Result<Post, StoreError> {
        let id = PostId::new();
        let created_at = now();
        for attempt in 1..=SLUG_ATTEMPTS {
            match self.create_once(id, author, &post, created_at).await {
                Ok(post) => return Ok(post),
                Err(Failure::Refused(error)) => return Err(error),
                Err(Failure::SlugTaken) => {
                    tracing::debug!(attempt, "the slug was taken meanwhile; retrying");
                }
            }
        }
        Err(slug_contention())
    }

    /// One attempt at [`Postgres::create_post`], in one transaction.
    async fn create_once(
        &self,
        id: PostId,
        author: UserId,
        post: &NewPost,
        created_at: Timestamp,
    ) -> Result<Post, Failure> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Holds the account until the commit: it cannot be deleted under the new post.
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE")
            .bind(author.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        if exists.is_none() {
            return Err(StoreError::NotFound("user").into());
        }
        let published_at = publication(post, created_at)?;
        let slug = unique_slug(&mut tx, &Slug::from_title(post.title.as_str()), id, None).await?;
        let record: PostRecord = PostFields {
            id,
            author,
            slug,
            title: post.title.clone(),
            description: post.description.clone(),
            content: post.content.clone(),
            tags: post.tags.clone(),
            status: post.status,
            published_at,
            created_at,
            updated_at: created_at,
            version: 1,
        }
        .into();
        insert_post(&mut tx, &record).await?;
        index_post(&mut tx, &record, false).await?;
        let post = view_post(&mut tx, id, author).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(post)
    }

    /// A post `viewer` may see: a draft or a post still scheduled is "not found" to anyone but
    /// its author and admins (its existence is not revealed).
    pub async fn post(
        &self,
        id: PostId,
        viewer: Option<&Actor>,
    ) -> Result<Option<Post>, StoreError> {
        self.viewed_post(PostLookup::Id(id), viewer).await
    }

    pub async fn post_by_slug(
        &self,
        slug: &str,
        viewer: Option<&Actor>,
    ) -> Result<Option<Post>, StoreError> {
        self.viewed_post(PostLookup::Slug(slug.into()), viewer)
            .await
    }

    /// One post as `viewer` sees it: from the read cache, or one query that fills it.
    async fn viewed_post(
        &self,
        lookup: PostLookup,
        viewer: Option<&Actor>,
    ) -> Result<Option<Post>, StoreError> {
        let viewer_id = viewer_uuid(viewer.map(|viewer| viewer.user_id));
        if let Some(post) = self.cache.post(viewer_id, lookup.clone()) {
            return Ok(visible(post, viewer));
        }
        let ticket = self.cache.post_ticket();
        let row = match &lookup {
            PostLookup::Id(id) => {
                sqlx::query(&format!("{POST_VIEW} WHERE p.id = $2"))
                    .bind(viewer_id)
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
            }
            PostLookup::Slug(slug) => {
                sqlx::query(&format!("{POST_VIEW} WHERE p.slug = $2"))
                    .bind(viewer_id)
                    .bind(super::lookup_text(slug))
                    .fetch_optional(&self.pool)
                    .await
            }
        }
        .map_err(unavailable)?;
        let Some(post) = row.as_ref().map(post_from).transpose()? else {
            return Ok(None);
        };
        self.cache.put_post(viewer_id, lookup, ticket, &post);
        Ok(visible(post, viewer))
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
        for attempt in 1..=SLUG_ATTEMPTS {
            match self
                .update_once(id, actor, expected, copy_edit(&edit))
                .await
            {
                Ok(post) => return Ok(post),
                Err(Failure::Refused(error)) => return Err(error),
                Err(Failure::SlugTaken) => {
                    tracing::debug!(attempt, "the slug was taken meanwhile; retrying");
                }
            }
        }
        Err(slug_contention())
    }

    /// One attempt at [`Postgres::update_post`], in one transaction holding the post's row.
    async fn update_once(
        &self,
        id: PostId,
        actor: &Actor,
        expected: &Expected,
        edit: PostEdit,
    ) -> Result<Post, Failure> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let current = locked_post(&mut tx, id)
            .await?
            .filter(|post| post.visible_to(Some(actor), now()))
            .ok_or(StoreError::NotFound("post"))?;
        if current.author != actor.user_id {
            return Err(StoreError::NotAuthor.into());
        }
        expected.check(current.version)?;
        if let Some(mut next) = edited(&current, edit)? {
            next.slug = unique_slug(
                &mut tx,
                &Slug::from_title(next.title.as_str()),
                id,
                Some(&current),
            )
            .await?;
            let next = PostRecord::from(next);
            let done = sqlx::query(
                "UPDATE posts SET slug = $3, title = $4, description = $5, content = $6, \
                 tags = $7, status = $8, published_at = $9, updated_at = $10, version = $11 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(id.as_uuid())
            .bind(version(current.version))
            .bind(next.slug())
            .bind(next.title())
            .bind(next.description())
            .bind(next.content())
            .bind(tag_texts(&next.tags))
            .bind(status_text(next.status))
            .bind(next.published_at)
            .bind(next.updated_at)
            .bind(version(next.version))
            .execute(&mut *tx)
            .await
            .map_err(slug_race)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::VersionMismatch.into());
            }
            if indexed_differently(&current, &next) {
                index_post(&mut tx, &next, true).await?;
            }
        }
        let post = view_post(&mut tx, id, actor.user_id).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(post)
    }

    /// Deletes a post if `actor` wrote it or is an admin, and it is at an `expected` version.
    /// Its comments, favorites, tags and words go with it (`ON DELETE CASCADE`).
    pub async fn delete_post(
        &self,
        id: PostId,
        actor: &Actor,
        expected: &Expected,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let current = locked_post(&mut tx, id)
            .await?
            .filter(|post| post.visible_to(Some(actor), now()))
            .ok_or(StoreError::NotFound("post"))?;
        if current.author != actor.user_id && !actor.admin {
            return Err(StoreError::NotAuthor);
        }
        expected.check(current.version)?;
        let done = sqlx::query("DELETE FROM posts WHERE id = $1 AND version = $2")
            .bind(id.as_uuid())
            .bind(version(current.version))
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::VersionMismatch);
        }
        tx.commit().await.map_err(unavailable)
    }

    /// A page of posts, newest first, from the cursor (exclusive): the embedded engine's pages.
    /// Each listing walks one keyset index: public posts `posts_public` (`posts_by_author` with
    /// an author, `post_tags` with only a tag), drafts `drafts_by_author` by creation time,
    /// scheduled posts `posts_by_author` above now. An unknown author, or one who is not the
    /// owner of the drafts or scheduled posts listed, makes an empty page.
    pub async fn list_posts(&self, query: &PostQuery) -> Result<Page, StoreError> {
        if query.limit == 0 {
            return Ok(Page {
                posts: Vec::new(),
                next: None,
            });
        }
        let now = now();
        let after = query.after.as_ref().map(|cursor| cursor.key::<PostId>());
        let by_tag =
            query.listing == Listing::Public && query.author.is_none() && query.tag.is_some();
        let mut sql = Sql::new(POST_VIEW, vec![Arg::Uuid(viewer_uuid(query.viewer))]);
        // The columns of the key the list is ordered by (and the cursor compares with).
        let key: (&str, &str) = match query.listing {
            Listing::Public if by_tag => {
                let tag = query.tag.as_ref().map_or("", |tag| tag.as_str());
                sql.push(" JOIN post_tags t ON t.post = p.id WHERE t.tag = ")
                    .bind(Arg::Text(tag.to_owned()))
                    .push(" AND t.published_at <= ")
                    .bind(Arg::Time(now))
                    .push(" AND p.status = 'published'");
                ("t.published_at", "t.post")
            }
            Listing::Public => {
                sql.push(" WHERE p.status = 'published' AND p.published_at <= ")
                    .bind(Arg::Time(now));
                ("p.published_at", "p.id")
            }
            Listing::DraftsOf(owner) => {
                sql.push(" WHERE p.status = 'draft' AND p.author = ")
                    .bind(Arg::Uuid(owner.as_uuid()));
                ("p.created_at", "p.id")
            }
            Listing::ScheduledOf(owner) => {
                sql.push(" WHERE p.status = 'published' AND p.author = ")
                    .bind(Arg::Uuid(owner.as_uuid()))
                    .push(" AND p.published_at > ")
                    .bind(Arg::Time(now));
                ("p.published_at", "p.id")
            }
        };
        if let Some(author) = &query.author {
            // NULL for an unknown username: no post matches.
            sql.push(" AND p.author = (SELECT u.id FROM users u WHERE u.username = ")
                .bind(Arg::Text(author.as_str().to_owned()))
                .push(")");
        }
        if let Some(tag) = query.tag.as_ref().filter(|_| !by_tag) {
            sql.push(" AND ")
                .bind(Arg::Text(tag.as_str().to_owned()))
                .push(" = ANY (p.tags)");
        }
        if let Some((at, id)) = after {
            sql.push(" AND (")
                .push(key.0)
                .push(", ")
                .push(key.1)
                .push(") < (")
                .bind(Arg::Time(at))
                .push(", ")
                .bind(Arg::Uuid(id.as_uuid()))
                .push(")");
        }
        sql.push(" ORDER BY ")
            .push(key.0)
            .push(" DESC, ")
            .push(key.1)
            .push(" DESC LIMIT ")
            .bind(Arg::Int(one_more(query.limit)));
        let rows = sql.fetch_all(&self.pool).await?;
        let posts = rows.iter().map(post_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::cut(posts, query.limit, query.listing))
    }

    /// Published posts (their time come) holding every word of the search, ranked by where the
    /// words occur (title 4, tags 2, content 1, summed over the words) then by recency; narrowed
    /// by author (an unknown one finds nothing) and tag.
    pub async fn search_posts(&self, search: &PostSearch) -> Result<SearchResults, StoreError> {
        let mut words = search.words.clone();
        words.sort_unstable();
        words.dedup();
        if words.is_empty() || search.limit == 0 {
            return Ok(SearchResults {
                posts: Vec::new(),
                next: None,
            });
        }
        let count = words.len() as i64;
        // `ranked` walks the hits and keeps a page of them; only those are then viewed.
        let mut sql = Sql::new(
            "WITH hits AS (SELECT w.post, sum(w.fields)::bigint AS score FROM post_words w \
             WHERE w.word = ANY ($2::text[]) GROUP BY w.post HAVING count(*) = $3), \
             ranked AS (SELECT h.post, h.score, p.published_at FROM hits h \
             JOIN posts p ON p.id = h.post \
             WHERE p.status = 'published' AND p.published_at <= ",
            vec![
                Arg::Uuid(viewer_uuid(search.viewer)),
                Arg::Texts(words),
                Arg::Int(count),
            ],
        );
        sql.bind(Arg::Time(now()));
        if let Some(author) = &search.author {
            // NULL for an unknown username: no post matches.
            sql.push(" AND p.author = (SELECT u.id FROM users u WHERE u.username = ")
                .bind(Arg::Text(author.as_str().to_owned()))
                .push(")");
        }
        if let Some(tag) = &search.tag {
            sql.push(" AND ")
                .bind(Arg::Text(tag.as_str().to_owned()))
                .push(" = ANY (p.tags)");
        }
        if let Some(cursor) = &search.after {
            sql.push(" AND (h.score, p.published_at, p.id) < (")
                .bind(Arg::Int(i64::from(cursor.score)))
                .push(", ")
                .bind(Arg::Time(cursor.key.0))
                .push(", ")
                .bind(Arg::Uuid(cursor.key.1.as_uuid()))
                .push(")");
        }
        sql.push(" ORDER BY h.score DESC, p.published_at DESC, p.id DESC LIMIT ")
            .bind(Arg::Int(one_more(search.limit)))
            .push(") SELECT r.score, pv.* FROM ranked r JOIN LATERAL (")
            .push(POST_VIEW)
            .push(
                " WHERE p.id = r.post) pv ON true \
                 ORDER BY r.score DESC, r.published_at DESC, r.post DESC",
            );
        let rows = sql.fetch_all(&self.pool).await?;
        let mut hits = rows
            .iter()
            .map(|row| -> Result<(i64, Post), StoreError> {
                Ok((get::<i64>(row, "score")?, post_from(row)?))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = if hits.len() > search.limit {
            hits.truncate(search.limit);
            hits.last().map(|(score, post)| SearchCursor {
                score: u32::try_from(*score).unwrap_or(u32::MAX),
                key: (post.published_at.unwrap_or(post.created_at), post.id),
            })
        } else {
            None
        };
        Ok(SearchResults {
            posts: hits.into_iter().map(|(_, post)| post).collect(),
            next,
        })
    }
}

/// The slug a post gets, as `State::unique_slug` chooses it: a post keeps its slug while its
/// title asks for the same base (edits never move it); else `wanted` when no other post has it;
/// else `wanted-n` for the next `n` of `slug_suffixes` (2 the first time) that no other post
/// has. Two servers choosing at once may both find `wanted` free: the loser's write fails on
/// `posts_slug_key` and is retried. Suffix numbers are handed out under the row lock of
/// `slug_suffixes`, so they do not collide.
async fn unique_slug(
    conn: &mut PgConnection,
    wanted: &Slug,
    owner: PostId,
    current: Option<&PostRecord>,
) -> Result<Slug, StoreError> {
    if let Some(current) = current {
        if Slug::from_title(current.title()) == *wanted {
            return Ok(Slug::from_stored(current.slug()));
        }
    }
    if !slug_taken(conn, wanted, owner).await? {
        return Ok(wanted.clone());
    }
    loop {
        let row = sqlx::query(
            "INSERT INTO slug_suffixes (base, next) VALUES ($1, 3) \
             ON CONFLICT (base) DO UPDATE SET next = slug_suffixes.next + 1 \
             RETURNING next - 1 AS n",
        )
        .bind(wanted.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(unavailable)?;
        let n = get::<i32>(&row, "n")?;
        let candidate = wanted.with_suffix(u32::try_from(n).unwrap_or(2));
        if !slug_taken(conn, &candidate, owner).await? {
            return Ok(candidate);
        }
    }
}

/// Whether a post other than `owner` has `slug`.
async fn slug_taken(
    conn: &mut PgConnection,
    slug: &Slug,
    owner: PostId,
) -> Result<bool, StoreError> {
    let row =
        sqlx::query("SELECT EXISTS (SELECT 1 FROM posts WHERE slug = $1 AND id <> $2) AS taken")
            .bind(slug.as_str())
            .bind(owner.as_uuid())
            .fetch_one(&mut *conn)
            .await
            .map_err(unavailable)?;
    get(&row, "taken")
}

/// Writes a new post's row; losing its slug to another server is [`Failure::SlugTaken`].
async fn insert_post(conn: &mut PgConnection, record: &PostRecord) -> Result<(), Failure> {
    sqlx::query(
        "INSERT INTO posts (id, author, slug, title, description, content, tags, status, \
         published_at, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(record.id.as_uuid())
    .bind(record.author.as_uuid())
    .bind(record.slug())
    .bind(record.title())
    .bind(record.description())
    .bind(record.content())
    .bind(tag_texts(&record.tags))
    .bind(status_text(record.status))
    .bind(record.published_at)
    .bind(record.created_at)
    .bind(record.updated_at)
    .bind(version(record.version))
    .execute(&mut *conn)
    .await
    .map_err(slug_race)?;
    Ok(())
}

/// (Re)writes the `post_tags` and `post_words` rows of a post: none for a draft; for a
/// published post (scheduled ones too) its tags at its `published_at` and its words with the
/// fields they occur in. `replace` first removes what the post had.
pub(super) async fn index_post(
    conn: &mut PgConnection,
    record: &PostRecord,
    replace: bool,
) -> Result<(), StoreError> {
    let id = record.id.as_uuid();
    if replace {
        sqlx::query("DELETE FROM post_tags WHERE post = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(unavailable)?;
        sqlx::query("DELETE FROM post_words WHERE post = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(unavailable)?;
    }
    if record.status != PostStatus::Published {
        return Ok(());
    }
    // The key of the public indexes (`public_key`).
    let at = record.published_at.unwrap_or(record.created_at);
    let tags = tag_texts(&record.tags);
    if !tags.is_empty() {
        sqlx::query(
            "INSERT INTO post_tags (tag, published_at, post) \
             SELECT t.tag, $2::timestamptz, $3::uuid FROM UNNEST($1::text[]) AS t(tag)",
        )
        .bind(tags)
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(unavailable)?;
    }
    let (words, fields): (Vec<String>, Vec<i16>) =
        post_words(record.title(), record.content(), &record.tags)
            .into_iter()
            .map(|(word, fields)| (word.into_owned(), i16::from(fields)))
            .unzip();
    if !words.is_empty() {
        sqlx::query(
            "INSERT INTO post_words (word, post, fields) \
             SELECT w.word, $2::uuid, w.fields \
             FROM UNNEST($1::text[], $3::smallint[]) AS w(word, fields)",
        )
        .bind(words)
        .bind(id)
        .bind(fields)
        .execute(&mut *conn)
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

/// Whether `next` needs other `post_tags` or `post_words` rows than `current` has.
fn indexed_differently(current: &PostRecord, next: &PostRecord) -> bool {
    next.status != current.status
        || next.published_at != current.published_at
        || next.title() != current.title()
        || next.content() != current.content()
        || next.tags != current.tags
}

/// The post `id`, its row locked until the transaction ends.
async fn locked_post(
    conn: &mut PgConnection,
    id: PostId,
) -> Result<Option<PostRecord>, StoreError> {
    let sql = format!("SELECT {POST_COLUMNS} FROM posts p WHERE p.id = $1 FOR UPDATE");
    let row = sqlx::query(&sql)
        .bind(id.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .map_err(unavailable)?;
    row.as_ref()
        .map(|row| record_from(row).map(PostRecord::from))
        .transpose()
}

/// The post `id` as `viewer` sees it, within a transaction.
async fn view_post(
    conn: &mut PgConnection,
    id: PostId,
    viewer: UserId,
) -> Result<Post, StoreError> {
    let sql = format!("{POST_VIEW} WHERE p.id = $2");
    let row = sqlx::query(&sql)
        .bind(viewer.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .map_err(unavailable)?;
    row.as_ref()
        .map(post_from)
        .transpose()?
        .ok_or(StoreError::NotFound("post"))
}

/// The post of a [`POST_VIEW`] row if `viewer` may see it: `PostRecord::visible_to`'s rule.
/// `post` if `viewer` may see it: public, or theirs, or the viewer is an admin.
fn visible(post: Post, viewer: Option<&Actor>) -> Option<Post> {
    let public =
        post.status == PostStatus::Published && post.published_at.is_some_and(|at| at <= now());
    let visible =
        public || viewer.is_some_and(|viewer| viewer.admin || viewer.user_id == post.author.id);
    visible.then_some(post)
}

/// Another `PostEdit` of the same changes, for another attempt (it is consumed by `edited`).
fn copy_edit(edit: &PostEdit) -> PostEdit {
    PostEdit {
        title: edit.title.clone(),
        content: edit.content.clone(),
        description: edit.description.clone(),
        tags: edit.tags.clone(),
        status: edit.status,
        published_at: edit.published_at,
    }
}

/// Tags as a `text[]`.
fn tag_texts(tags: &Tags) -> Vec<String> {
    tags.iter().map(|tag| tag.as_str().to_owned()).collect()
}

/// A version as its `bigint` column holds it.
fn version(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// `limit + 1` as a `LIMIT`: one more row says whether there is a next page.
fn one_more(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1)
}

/// A value bound to a statement built at run time.
enum Arg {
    Uuid(Uuid),
    Time(Timestamp),
    Text(String),
    Texts(Vec<String>),
    Int(i64),
}

/// A statement built at run time: its text, with `$n` placeholders numbered as values are
/// bound, so text and values cannot fall out of step.
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// `text` may already refer to `$1`..`$n` for the `n` values of `args`.
    fn new(text: &str, args: Vec<Arg>) -> Self {
        Self {
            text: text.to_owned(),
            args,
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Binds `arg` as the next placeholder, written where the text is.
    fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    async fn fetch_all(self, pool: &PgPool) -> Result<Vec<PgRow>, StoreError> {
        let Self { text, args } = self;
        let mut query = sqlx::query::<sqlx::Postgres>(&text);
        for arg in args {
            query = match arg {
                Arg::Uuid(value) => query.bind(value),
                Arg::Time(value) => query.bind(value),
                Arg::Text(value) => query.bind(value),
                Arg::Texts(value) => query.bind(value),
                Arg::Int(value) => query.bind(value),
            };
        }
        query.fetch_all(pool).await.map_err(unavailable)
    }
}
