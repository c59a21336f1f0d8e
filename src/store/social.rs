//! What readers do with posts and with each other: profiles (bio, image, a new username or
//! email), follows and the feed of followed authors, favorites, comments, tags in use, and the
//! offset pages with a total count that the RealWorld API lists articles in.

use std::collections::BinaryHeap;
use std::ops::Bound;

use imbl::OrdSet;
use uuid::Uuid;

use crate::domain::{
    now, Bio, CommentBody, CommentId, DisplayName, Email, ImageUrl, PostId, SessionId, Tag, UserId,
    Username,
};

use super::cursor::Cursor;
use super::posts::{author, view, visible_view};
use super::records::{Actor, Author, Comment, CommentRecord, Post, User};
use super::state::{Change, KeySet, PostKey, State};
use super::{Embedded, Listing, Page, StoreError};

/// Changes to an account's profile and sign-in names; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileEdit {
    pub username: Option<Username>,
    pub email: Option<Email>,
    pub name: Option<Option<DisplayName>>,
    pub bio: Option<Option<Bio>>,
    pub image: Option<Option<ImageUrl>>,
    /// A new password hash: every session of the account but `keep` ends with it.
    pub password_hash: Option<String>,
    pub keep: Option<SessionId>,
}

/// Which published posts to list, newest first, and which slice of them.
#[derive(Debug, Default)]
pub struct ArticleQuery {
    /// Only posts carrying this tag.
    pub tag: Option<Tag>,
    /// Only posts by this username.
    pub author: Option<String>,
    /// Only posts this username favorited.
    pub favorited: Option<String>,
    /// Only posts by the accounts this one follows (the feed).
    pub feed_of: Option<UserId>,
    /// Skip this many (offset pages).
    pub offset: usize,
    /// Start after this post (cursor pages).
    pub after: Option<Cursor>,
    pub limit: usize,
    /// Who reads (for `favorited` and `following`).
    pub viewer: Option<UserId>,
}

/// A slice of a list and how many posts the whole list holds.
#[derive(Debug)]
pub struct ArticlePage {
    pub posts: Vec<Post>,
    pub total: usize,
}

/// One page of a post's comments, oldest first.
#[derive(Debug)]
pub struct CommentPage {
    pub comments: Vec<Comment>,
    pub next: Option<Cursor>,
}

type Keys<'a> = Box<dyn Iterator<Item = PostKey> + 'a>;

impl Embedded {
    /// The account with this username (any case).
    pub async fn user_by_username(&self, username: &str) -> Option<User> {
        let state = self.read();
        let id = state
            .users_by_username
            .get(&username.trim().to_lowercase())?;
        state.users.get(id).map(|user| User::from(&**user))
    }

    /// A public profile as `viewer` sees it (with whether they follow it).
    pub async fn profile(&self, id: UserId, viewer: Option<UserId>) -> Option<Author> {
        author(&self.read(), id, viewer)
    }

    /// Applies `edit`; a new username or email must be free (409 otherwise).
    pub async fn update_profile(&self, id: UserId, edit: ProfileEdit) -> Result<User, StoreError> {
        self.write(move |tx| {
            let current = tx
                .state
                .users
                .get(&id)
                .ok_or(StoreError::NotFound("user"))?;
            if let Some(email) = &edit.email {
                if tx
                    .state
                    .users_by_email
                    .get(&email.key())
                    .is_some_and(|owner| *owner != id)
                {
                    return Err(StoreError::EmailTaken);
                }
            }
            if let Some(username) = &edit.username {
                if tx
                    .state
                    .users_by_username
                    .get(username.as_str())
                    .is_some_and(|owner| *owner != id)
                {
                    return Err(StoreError::UsernameTaken);
                }
            }
            let profile = Change::SetProfile {
                id,
                username: edit.username.unwrap_or_else(|| current.username.clone()),
                email: edit.email.or_else(|| current.email.clone()),
                bio: edit.bio.unwrap_or_else(|| current.bio.clone()),
                image: edit.image.unwrap_or_else(|| current.image.clone()),
            };
            tx.commit(profile);
            if let Some(name) = edit.name {
                tx.commit(Change::SetUserName { id, name });
            }
            if let Some(password_hash) = edit.password_hash {
                tx.commit(Change::SetPasswordHash {
                    id,
                    password_hash,
                    keep: edit.keep,
                });
            }
            tx.state
                .users
                .get(&id)
                .map(|user| User::from(&**user))
                .ok_or(StoreError::NotFound("user"))
        })
        .await
    }

    /// `follower` follows `followee` (idempotent); the followee's profile as the follower now
    /// sees it. Following oneself is refused: one's own posts are not news.
    pub async fn follow(&self, follower: UserId, followee: UserId) -> Result<Author, StoreError> {
        self.set_following(follower, followee, true).await
    }

    /// Undoes [`Store::follow`] (idempotent).
    pub async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<Author, StoreError> {
        self.set_following(follower, followee, false).await
    }

    async fn set_following(
        &self,
        follower: UserId,
        followee: UserId,
        follow: bool,
    ) -> Result<Author, StoreError> {
        self.write(move |tx| {
            if !tx.state.users.contains_key(&followee) {
                return Err(StoreError::NotFound("profile"));
            }
            if !tx.state.users.contains_key(&follower) {
                return Err(StoreError::NotFound("user"));
            }
            if follower == followee {
                return Err(StoreError::FollowSelf);
            }
            let follows = tx
                .state
                .following
                .get(&follower)
                .is_some_and(|followees| followees.contains(&followee));
            match (follow, follows) {
                (true, false) => tx.commit(Change::Follow { follower, followee }),
                (false, true) => tx.commit(Change::Unfollow { follower, followee }),
                _ => {}
            }
            author(tx.state, followee, Some(follower)).ok_or(StoreError::NotFound("profile"))
        })
        .await
    }

    /// `actor` favorites a post they may see (idempotent); the post as they now see it.
    pub async fn favorite(&self, actor: &Actor, post: PostId) -> Result<Post, StoreError> {
        self.set_favorite(*actor, post, true).await
    }

    /// Undoes [`Store::favorite`] (idempotent).
    pub async fn unfavorite(&self, actor: &Actor, post: PostId) -> Result<Post, StoreError> {
        self.set_favorite(*actor, post, false).await
    }

    async fn set_favorite(
        &self,
        actor: Actor,
        post: PostId,
        favorite: bool,
    ) -> Result<Post, StoreError> {
        self.write(move |tx| {
            visible_view(tx.state, post, Some(&actor)).ok_or(StoreError::NotFound("post"))?;
            let user = actor.user_id;
            let favorited = tx
                .state
                .favorited_by
                .get(&post)
                .is_some_and(|users| users.contains(&user));
            match (favorite, favorited) {
                (true, false) => tx.commit(Change::Favorite { user, post }),
                (false, true) => tx.commit(Change::Unfavorite { user, post }),
                _ => {}
            }
            view(tx.state, post, Some(user)).ok_or(StoreError::NotFound("post"))
        })
        .await
    }

    /// Adds a comment to a post `actor` may see.
    pub async fn add_comment(
        &self,
        actor: &Actor,
        post: PostId,
        body: CommentBody,
    ) -> Result<Comment, StoreError> {
        let actor = *actor;
        self.write(move |tx| {
            visible_view(tx.state, post, Some(&actor)).ok_or(StoreError::NotFound("post"))?;
            let id = std::iter::repeat_with(CommentId::random)
                .find(|id| !tx.state.comments.contains_key(id))
                .expect("an endless supply of random ids finds a free one");
            let created_at = now();
            // One more than the last comment's, and never below the clock's milliseconds: a
            // place freed by deleting the newest comment is not handed out again (a cursor
            // that ended there would skip its new holder), unless within the same millisecond.
            let last = tx
                .state
                .comments_by_post
                .get(&post)
                .and_then(|keys| keys.get_max())
                .map_or(0, |(seq, _)| *seq);
            let seq = (last + 1).max(created_at.timestamp_millis().max(0) as u64);
            let record = CommentRecord {
                id,
                post,
                seq,
                author: actor.user_id,
                body,
                created_at,
                updated_at: created_at,
            };
            tx.commit(Change::PutComment(record));
            comment_view(tx.state, id, Some(actor.user_id)).ok_or(StoreError::NotFound("comment"))
        })
        .await
    }

    /// A page of the comments of a post `viewer` may see, oldest first; `None` if the post is
    /// not there for them.
    pub async fn comments(
        &self,
        post: PostId,
        viewer: Option<&Actor>,
        after: Option<Cursor>,
        limit: usize,
    ) -> Option<CommentPage> {
        let state = self.read();
        visible_view(&state, post, viewer)?;
        let empty = OrdSet::new();
        let index = state.comments_by_post.get(&post).unwrap_or(&empty);
        let keys: Box<dyn Iterator<Item = &(u64, CommentId)>> = match after {
            Some(cursor) => {
                let (_, key) = cursor.key::<Uuid>();
                let key = key.as_u128();
                let from = ((key >> 64) as u64, CommentId::from_u128(key));
                Box::new(index.range((Bound::Excluded(from), Bound::Unbounded)))
            }
            None => Box::new(index.iter()),
        };
        let viewer = viewer.map(|v| v.user_id);
        let mut keys: Vec<(u64, CommentId)> = keys.take(limit + 1).copied().collect();
        let more = keys.len() > limit;
        keys.truncate(limit);
        let comments: Vec<Comment> = keys
            .iter()
            .filter_map(|(_, id)| comment_view(&state, *id, viewer))
            .collect();
        // The cursor carries the last comment's place (high 64 bits) and id (low 64 bits).
        let next = more.then(|| keys.last()).flatten().map(|(seq, id)| {
            let at = comments
                .last()
                .map_or_else(now, |comment| comment.created_at);
            Cursor::new(
                at,
                Uuid::from_u128((u128::from(*seq) << 64) | u128::from(id.get())),
            )
        });
        Some(CommentPage { comments, next })
    }

    /// Deletes a comment of a post `actor` may see. Its author, the post's author and admins
    /// may.
    pub async fn delete_comment(
        &self,
        actor: &Actor,
        post: PostId,
        comment: CommentId,
    ) -> Result<(), StoreError> {
        let actor = *actor;
        self.write(move |tx| {
            let post =
                visible_view(tx.state, post, Some(&actor)).ok_or(StoreError::NotFound("post"))?;
            let record = tx
                .state
                .comments
                .get(&comment)
                .filter(|record| record.post == post.id)
                .ok_or(StoreError::NotFound("comment"))?;
            if !(actor.admin || record.author == actor.user_id || post.author.id == actor.user_id) {
                return Err(StoreError::NotAuthor);
            }
            tx.commit(Change::DeleteComment { id: comment });
            Ok(())
        })
        .await
    }

    /// The tags of public posts, with how many carry each, most used first (then by name).
    /// Sorts every tag: O(tags log tags).
    pub async fn tags(&self, limit: usize) -> Vec<(Tag, usize)> {
        let state = self.read();
        let until = (now(), PostId::max());
        let mut tags: Vec<(Tag, usize)> = state
            .posts_by_tag
            .iter()
            .map(|(tag, keys)| (tag.clone(), public_count(keys, until)))
            .filter(|(_, count)| *count > 0)
            .collect();
        tags.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        tags.truncate(limit);
        tags
    }

    /// Public posts, newest first, filtered by tag, author, favoriting account or followed
    /// authors; the slice `offset..offset + limit` and the total. Walks one index (merging
    /// the followed authors' for a feed): a page costs O(offset + limit) plus, for the total,
    /// the scheduled posts when nothing else filters, else the posts walked.
    pub async fn articles(&self, query: &ArticleQuery) -> ArticlePage {
        let state = self.read();
        let Some(selection) = Selection::new(&state, query) else {
            return ArticlePage {
                posts: Vec::new(),
                total: 0,
            };
        };
        let posts = selection
            .keys(None)
            .skip(query.offset)
            .take(query.limit)
            .filter_map(|(_, id)| view(&state, id, query.viewer))
            .collect();
        let total = selection.total();
        ArticlePage { posts, total }
    }

    /// Like [`Store::articles`], as a cursor page (for `/api/v1`).
    pub async fn article_page(&self, query: &ArticleQuery) -> Page {
        let state = self.read();
        let Some(selection) = Selection::new(&state, query) else {
            return Page {
                posts: Vec::new(),
                next: None,
            };
        };
        let posts: Vec<Post> = selection
            .keys(query.after.as_ref().map(Cursor::key))
            .take(query.limit + 1)
            .filter_map(|(_, id)| view(&state, id, query.viewer))
            .collect();
        Page::cut(posts, query.limit, Listing::Public)
    }
}

/// How many keys of a public index are public at `until` (scheduled ones sit above it).
fn public_count(keys: &KeySet, until: PostKey) -> usize {
    keys.len()
        - keys
            .range((Bound::Excluded(until), Bound::Unbounded))
            .count()
}

/// The indexes one list walks, resolved.
struct Selection<'a> {
    state: &'a State,
    source: Source<'a>,
    tag: Option<&'a Tag>,
    author: Option<UserId>,
    until: PostKey,
}

enum Source<'a> {
    /// One index, newest last.
    Index(&'a KeySet),
    /// Several (the followed authors'), merged.
    Merge(Vec<&'a KeySet>),
    /// Already collected and sorted, newest first (a user's favorites).
    Sorted(Vec<PostKey>),
}

impl<'a> Selection<'a> {
    /// `None` when the list is empty by definition (an unknown author, say).
    fn new(state: &'a State, query: &'a ArticleQuery) -> Option<Self> {
        let account = |name: &str| state.users_by_username.get(&name.trim().to_lowercase());
        let author = match &query.author {
            Some(name) => Some(*account(name)?),
            None => None,
        };
        let until = (now(), PostId::max());
        let source = if let Some(name) = &query.favorited {
            let user = account(name)?;
            let mut keys: Vec<PostKey> = state
                .favorites_of
                .get(user)?
                .iter()
                .filter_map(|id| state.posts.get(id))
                .filter(|post| post.is_public(until.0))
                .filter_map(|post| super::state::public_key(post))
                .collect();
            keys.sort_unstable_by(|a, b| b.cmp(a));
            Source::Sorted(keys)
        } else if let Some(reader) = query.feed_of {
            let followees = state.following.get(&reader)?;
            let indexes = followees
                .iter()
                .filter(|followee| author.is_none_or(|author| author == **followee))
                .filter_map(|followee| state.posts_by_author.get(followee))
                .collect();
            Source::Merge(indexes)
        } else if let Some(author) = author {
            Source::Index(state.posts_by_author.get(&author)?)
        } else if let Some(tag) = &query.tag {
            Source::Index(state.posts_by_tag.get(tag)?)
        } else {
            Source::Index(&state.timeline)
        };
        // What the walked index does not already guarantee is checked per post.
        let tag = query.tag.as_ref().filter(|_| {
            !(matches!(source, Source::Index(_)) && author.is_none() && query.favorited.is_none())
        });
        let author = author.filter(|_| !matches!(source, Source::Index(_)));
        Some(Self {
            state,
            source,
            tag,
            author,
            until,
        })
    }

    /// Public keys newest first, strictly before `before` when given.
    fn keys(&self, before: Option<PostKey>) -> Keys<'_> {
        let upper = match before {
            Some(before) if before <= self.until => Bound::Excluded(before),
            _ => Bound::Included(self.until),
        };
        let walk = |index: &'a KeySet| -> Keys<'a> {
            Box::new(index.range((Bound::Unbounded, upper)).rev().copied())
        };
        let keys: Keys<'_> = match &self.source {
            Source::Index(index) => walk(index),
            Source::Merge(indexes) => Box::new(merge(indexes.iter().map(|i| walk(i)).collect())),
            Source::Sorted(keys) => Box::new(keys.iter().copied().filter(move |key| match upper {
                Bound::Excluded(b) => *key < b,
                Bound::Included(b) => *key <= b,
                Bound::Unbounded => true,
            })),
        };
        let state = self.state;
        let (tag, author, now) = (self.tag, self.author, self.until.0);
        Box::new(keys.filter(move |(_, id)| {
            state.posts.get(id).is_some_and(|post| {
                post.is_public(now)
                    && tag.is_none_or(|tag| post.tags.contains(tag))
                    && author.is_none_or(|author| post.author == author)
            })
        }))
    }

    /// How many posts the whole list holds.
    fn total(&self) -> usize {
        match (&self.source, self.tag, self.author) {
            (Source::Index(index), None, None) => public_count(index, self.until),
            (Source::Merge(indexes), None, None) => indexes
                .iter()
                .map(|index| public_count(index, self.until))
                .sum(),
            _ => self.keys(None).count(),
        }
    }
}

/// Merges iterators that each yield keys newest first into one, newest first: a heap of the
/// sources' next keys, so a key costs O(log sources) however many authors a reader follows.
fn merge<'a>(sources: Vec<Keys<'a>>) -> impl Iterator<Item = PostKey> + 'a {
    let mut sources = sources;
    let mut heads: BinaryHeap<(PostKey, usize)> = sources
        .iter_mut()
        .enumerate()
        .filter_map(|(i, source)| source.next().map(|key| (key, i)))
        .collect();
    std::iter::from_fn(move || {
        let (key, i) = heads.pop()?;
        if let Some(next) = sources[i].next() {
            heads.push((next, i));
        }
        Some(key)
    })
}

/// A comment with its author as `viewer` sees them.
fn comment_view(state: &State, id: CommentId, viewer: Option<UserId>) -> Option<Comment> {
    let record = state.comments.get(&id)?;
    Some(Comment {
        id: record.id,
        post: record.post,
        body: record.body.clone(),
        author: author(state, record.author, viewer)?,
        created_at: record.created_at,
        updated_at: record.updated_at,
    })
}
