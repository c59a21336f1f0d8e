//! Posts: create, read by id or slug, edit under `If-Match`, delete, and cursor pages.

use crate::domain::{now, PostId, Slug, UserId};

use super::cursor::Cursor;
use super::records::{Actor, Author, Post, PostRecord};
use super::state::{Change, PostKey, State};
use super::{Expected, NewPost, Page, PostEdit, PostQuery, Store, StoreError};

impl Store {
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
        view(&self.read(), id)
    }

    pub async fn post_by_slug(&self, slug: &str) -> Option<Post> {
        let state = self.read();
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
            let mut next = PostRecord::clone(current);
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
        let state = self.read();
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
        let keys: Box<dyn DoubleEndedIterator<Item = &PostKey>> = match &query.after {
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
