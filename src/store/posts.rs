//! Posts: create, read by id or slug, edit under `If-Match`, delete, and cursor pages.

use std::ops::Bound;

use crate::domain::{
    now, PostContent, PostDescription, PostId, PostStatus, PostTitle, Slug, UserId,
};

use super::cursor::Cursor;
use super::records::{Actor, Author, Post, PostFields, PostRecord};
use super::state::{Change, PostKey, State};
use super::{
    Embedded, Expected, Listing, NewPost, Page, PostEdit, PostQuery, PostSearch, SearchResults,
    StoreError,
};

impl Embedded {
    pub async fn create_post(&self, author: UserId, post: NewPost) -> Result<Post, StoreError> {
        self.write(move |tx| {
            if !tx.state.users.contains_key(&author) {
                return Err(StoreError::NotFound("user"));
            }
            let id = PostId::new();
            let created_at = now();
            let published_at = publication(&post, created_at)?;
            let record = PostFields {
                id,
                author,
                slug: tx
                    .state
                    .unique_slug(&Slug::from_title(post.title.as_str()), id),
                title: post.title,
                description: post.description,
                content: post.content,
                tags: post.tags,
                status: post.status,
                published_at,
                created_at,
                updated_at: created_at,
                version: 1,
            };
            tx.commit(Change::PutPost(record.into()));
            view(tx.state, id, Some(author)).ok_or(StoreError::NotFound("post"))
        })
        .await
    }

    /// A post `viewer` may see: a draft or a post still scheduled is "not found" to anyone but
    /// its author and admins (its existence is not revealed).
    pub async fn post(&self, id: PostId, viewer: Option<&Actor>) -> Option<Post> {
        visible_view(&self.read(), id, viewer)
    }

    pub async fn post_by_slug(&self, slug: &str, viewer: Option<&Actor>) -> Option<Post> {
        let state = self.read();
        let id = state.post_by_slug(slug)?;
        visible_view(&state, id, viewer)
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
            let current = visible(tx.state, id, &actor)?;
            if current.author != actor.user_id {
                return Err(StoreError::NotAuthor);
            }
            expected.check(current.version)?;
            if let Some(mut next) = edited(current, edit)? {
                next.slug = tx
                    .state
                    .unique_slug(&Slug::from_title(next.title.as_str()), id);
                tx.commit(Change::PutPost(next.into()));
            }
            view(tx.state, id, Some(actor.user_id)).ok_or(StoreError::NotFound("post"))
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
            let current = visible(tx.state, id, &actor)?;
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
    /// index is walked and filtered by tag: O(posts by that author) at worst. Scheduled posts
    /// sit at the new end of the public indexes and are stepped over by starting at now.
    pub async fn list_posts(&self, query: &PostQuery) -> Page {
        let state = self.read();
        let empty = Default::default();
        let nothing = Page {
            posts: Vec::new(),
            next: None,
        };
        let author = match &query.author {
            Some(name) => match state.users_by_username.get(name.as_str()) {
                Some(id) => Some(*id),
                None => return nothing,
            },
            None => None,
        };
        let now = now();
        let after = query.after.as_ref().map(Cursor::key);
        let keys: Box<dyn DoubleEndedIterator<Item = &PostKey>> = match query.listing {
            Listing::DraftsOf(owner) | Listing::ScheduledOf(owner)
                if author.is_some_and(|author| author != owner) =>
            {
                return nothing
            }
            Listing::DraftsOf(owner) => {
                let index = state.drafts_by_author.get(&owner).unwrap_or(&empty);
                match after {
                    Some(cursor) => Box::new(index.range(..cursor)),
                    None => Box::new(index.iter()),
                }
            }
            Listing::ScheduledOf(owner) => {
                // Above now, below the cursor.
                let index = state.posts_by_author.get(&owner).unwrap_or(&empty);
                let above_now = Bound::Excluded((now, PostId::max()));
                match after {
                    Some(cursor) => Box::new(index.range((above_now, Bound::Excluded(cursor)))),
                    None => Box::new(index.range((above_now, Bound::Unbounded))),
                }
            }
            Listing::Public => {
                let index = match (author, &query.tag) {
                    (Some(author), _) => state.posts_by_author.get(&author).unwrap_or(&empty),
                    (None, Some(tag)) => state.posts_by_tag.get(tag).unwrap_or(&empty),
                    (None, None) => &state.timeline,
                };
                // Up to now (scheduled posts stay out), below the cursor.
                let until = (now, PostId::max());
                match after {
                    Some(cursor) if cursor <= until => Box::new(index.range(..cursor)),
                    _ => Box::new(index.range(..=until)),
                }
            }
        };
        let wanted = |id: &PostId| {
            let post = state.posts.get(id);
            // The tag index itself is walked only for a public list without an author.
            let tagged = match (&query.tag, author, query.listing) {
                (None, _, _) | (Some(_), None, Listing::Public) => true,
                (Some(tag), _, _) => post.is_some_and(|p| p.tags.contains(tag)),
            };
            tagged && post.is_some_and(|p| query.listing != Listing::Public || p.is_public(now))
        };
        let posts: Vec<Post> = keys
            .rev()
            .filter(|(_, id)| wanted(id))
            .take(query.limit + 1)
            .filter_map(|(_, id)| view(&state, *id, query.viewer))
            .collect();
        Page::cut(posts, query.limit, query.listing)
    }
}

impl Embedded {
    /// Published posts (their time come) holding every word of the search, ranked by where the
    /// words occur (title, then tags, then content) then by recency; narrowed by author and
    /// tag. The cost grows with the posts holding the rarest word, not with all posts.
    pub async fn search_posts(&self, search: &PostSearch) -> SearchResults {
        let state = self.read();
        let author = match &search.author {
            Some(name) => match state.users_by_username.get(name.as_str()) {
                Some(id) => Some(*id),
                None => {
                    return SearchResults {
                        posts: Vec::new(),
                        next: None,
                    }
                }
            },
            None => None,
        };
        let now = now();
        let page = state.search.search_where(
            &search.words,
            search.after.as_ref(),
            search.limit,
            |(_, id)| {
                state.posts.get(id).is_some_and(|post| {
                    post.is_public(now)
                        && author.is_none_or(|author| post.author == author)
                        && search
                            .tag
                            .as_ref()
                            .is_none_or(|tag| post.tags.contains(tag))
                })
            },
        );
        SearchResults {
            posts: page
                .keys
                .iter()
                .filter_map(|(_, id)| view(&state, *id, search.viewer))
                .collect(),
            next: page.next,
        }
    }
}

/// What `current` becomes under `edit`, its version bumped, or `None` when nothing would change
/// (so retries are idempotent). The slug is the caller's to recompute from the new title.
pub(super) fn edited(
    current: &PostRecord,
    edit: PostEdit,
) -> Result<Option<PostFields>, StoreError> {
    let mut next = current.fields();
    let status = edit.status.unwrap_or(current.status);
    next.status = status;
    next.published_at = match (status, edit.published_at) {
        (PostStatus::Draft, Some(_)) => return Err(StoreError::DraftWithPublishTime),
        (PostStatus::Draft, None) => None,
        (PostStatus::Published, Some(at)) => Some(at),
        (PostStatus::Published, None) => current.published_at.or(Some(now())),
    };
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
    let unchanged = next.title.as_str() == current.title()
        && next.content.as_str() == current.content()
        && next.description.as_ref().map(PostDescription::as_str) == current.description()
        && next.tags == current.tags
        && next.status == current.status
        && next.published_at == current.published_at;
    if unchanged {
        return Ok(None);
    }
    next.version += 1;
    next.updated_at = now().max(next.created_at);
    Ok(Some(next))
}

/// The `published_at` a new post gets: now or the time asked for when published; none for a
/// draft (which may not ask for one).
pub(super) fn publication(
    post: &NewPost,
    created_at: crate::domain::Timestamp,
) -> Result<Option<crate::domain::Timestamp>, StoreError> {
    match post.status {
        PostStatus::Published => Ok(Some(post.published_at.unwrap_or(created_at))),
        PostStatus::Draft if post.published_at.is_some() => Err(StoreError::DraftWithPublishTime),
        PostStatus::Draft => Ok(None),
    }
}

/// The post `id` if `actor` may see it; "not found" otherwise.
fn visible<'a>(state: &'a State, id: PostId, actor: &Actor) -> Result<&'a PostRecord, StoreError> {
    state
        .posts
        .get(&id)
        .filter(|post| post.visible_to(Some(actor), now()))
        .map(|post| &**post)
        .ok_or(StoreError::NotFound("post"))
}

pub(super) fn visible_view(state: &State, id: PostId, viewer: Option<&Actor>) -> Option<Post> {
    let post = state.posts.get(&id)?;
    post.visible_to(viewer, now())
        .then(|| view(state, id, viewer.map(|v| v.user_id)))?
}

/// A profile as `viewer` sees it: with whether they follow it.
pub(super) fn author(state: &State, id: UserId, viewer: Option<UserId>) -> Option<Author> {
    let user = state.users.get(&id)?;
    Some(Author {
        id: user.id,
        username: user.username.clone(),
        name: user.name.clone(),
        bio: user.bio.clone(),
        image: user.image.clone(),
        following: viewer.is_some_and(|viewer| {
            state
                .following
                .get(&viewer)
                .is_some_and(|followees| followees.contains(&id))
        }),
    })
}

/// The client view of a stored post for `viewer`, with its author resolved.
pub(super) fn view(state: &State, id: PostId, viewer: Option<UserId>) -> Option<Post> {
    let post = state.posts.get(&id)?;
    let author = author(state, post.author, viewer)?;
    let favorited_by = state.favorited_by.get(&id);
    Some(Post {
        id: post.id,
        slug: Slug::from_stored(post.slug()),
        title: PostTitle::from_stored(post.title()),
        description: post.description().map(PostDescription::from_stored),
        content: PostContent::from_stored(post.content()),
        tags: post.tags.clone(),
        status: post.status,
        published_at: post.published_at,
        author,
        created_at: post.created_at,
        updated_at: post.updated_at,
        version: post.version,
        favorites: favorited_by.map_or(0, |users| users.len() as u64),
        favorited: viewer
            .is_some_and(|viewer| favorited_by.is_some_and(|users| users.contains(&viewer))),
    })
}
