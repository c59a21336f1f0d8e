//! The embedded engine's data and its indexes. Every mutation is a [`Change`] applied by
//! [`State::apply`], the single place indexes are maintained; the journal records the same
//! `Change`s and replays them through the same function.
//!
//! Every map is a persistent one (`imbl`): cloning a `State` costs a few reference counts, and
//! a change to a clone copies only the nodes on its path (O(log n)). That is what lets the
//! writer publish an immutable version after each group commit while readers keep using the
//! version they hold (see `committer.rs`). Records sit behind `Arc`, so a copied node copies
//! pointers, not posts.

use std::sync::Arc;

use imbl::{HashMap, HashSet, OrdSet};

use super::packed::Packed;
use super::postmap::{PostMap, SlugIndex};

use crate::domain::{
    Bio, ClientId, CommentId, DisplayName, Email, ImageUrl, PostId, PostStatus, SessionId, Slug,
    Tag, Timestamp, UserId, Username,
};

use super::records::{
    ClientRecord, CommentRecord, ExternalAccount, PostRecord, SessionRecord, UserRecord,
};
use super::search::SearchIndex;

pub use super::cursor::PostKey;

/// One mutation of the store: the unit of the journal.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Change {
    CreateUser(UserRecord),
    SetUserName {
        id: UserId,
        name: Option<DisplayName>,
    },
    /// New password hash; ends every session of the account except `keep`.
    SetPasswordHash {
        id: UserId,
        password_hash: String,
        keep: Option<SessionId>,
    },
    /// Deletes the account, its sessions and its posts.
    DeleteUser {
        id: UserId,
    },
    CreateSession(SessionRecord),
    /// Consumes the session's refresh token and installs its successor (the next generation).
    RotateRefresh {
        id: SessionId,
        refresh_hash: [u8; 32],
        /// Absent in journals written before generations: the session's next one.
        #[serde(default)]
        generation: Option<u64>,
        expires_at: Timestamp,
        at: Timestamp,
    },
    /// Records that a session was used (coalesced: at most about once a minute per session).
    TouchSession {
        id: SessionId,
        at: Timestamp,
    },
    EndSession {
        id: SessionId,
    },
    /// Ends every session whose refresh token expired at or before `at` (the sweep).
    ExpireSessions {
        at: Timestamp,
    },
    CreateClient(ClientRecord),
    /// Revokes a client: it is removed, and its tokens stop working at once.
    DeleteClient {
        id: ClientId,
    },
    /// Inserts a post or replaces the one with the same id.
    PutPost(PostRecord),
    /// Deletes a post with its comments and favorites.
    DeletePost {
        id: PostId,
    },
    /// Sets an account's public profile and sign-in names: each field as it now is.
    SetProfile {
        id: UserId,
        username: Username,
        email: Option<Email>,
        bio: Option<Bio>,
        image: Option<ImageUrl>,
    },
    Follow {
        follower: UserId,
        followee: UserId,
    },
    Unfollow {
        follower: UserId,
        followee: UserId,
    },
    Favorite {
        user: UserId,
        post: PostId,
    },
    Unfavorite {
        user: UserId,
        post: PostId,
    },
    /// Inserts a comment or replaces the one with the same id.
    PutComment(CommentRecord),
    DeleteComment {
        id: CommentId,
    },
}

/// All data, with the indexes that make every hot path O(1) or O(log n).
#[derive(Debug, Clone, Default)]
pub struct State {
    pub(super) users: HashMap<UserId, Arc<UserRecord>>,
    /// Lower-cased email -> user.
    pub(super) users_by_email: HashMap<String, UserId>,
    /// Username (already lower-case) -> user.
    pub(super) users_by_username: HashMap<String, UserId>,
    /// External identity -> the local account standing for it.
    pub(super) users_by_external: HashMap<ExternalAccount, UserId>,
    /// Every account, by creation time (the admin listing).
    pub(super) users_timeline: OrdSet<(Timestamp, UserId)>,
    pub(super) sessions: HashMap<SessionId, Arc<SessionRecord>>,
    pub(super) sessions_by_user: HashMap<UserId, HashSet<SessionId>>,
    /// Live sessions by when their refresh token expires: the sweep walks it from the oldest.
    pub(super) sessions_by_expiry: OrdSet<(Timestamp, SessionId)>,
    pub(super) clients: HashMap<ClientId, Arc<ClientRecord>>,
    /// Post id -> record, packed (see `postmap.rs`: a persistent hash map costs 137 bytes a
    /// post, this about 25).
    pub(super) posts: PostMap,
    /// Slug -> post, by a 64-bit hash of the slug ([`slug_hash`]): the slug itself is the
    /// record's, not copied here (about 60 bytes a post). A post whose slug's hash is already
    /// another slug's goes to `slug_collisions`, looked up first.
    pub(super) posts_by_slug: SlugIndex,
    /// The rare posts whose slug hashes like another post's slug, by their whole slug.
    pub(super) slug_collisions: HashMap<Slug, PostId>,
    /// Base slug -> the next numeric suffix to try for it. Only grows, so finding a free slug
    /// for the 10,000th post of one title is one probe, not 10,000.
    pub(super) slug_suffixes: HashMap<Slug, u32>,
    /// Every published post (scheduled ones too), by `published_at`.
    pub(super) timeline: KeySet,
    pub(super) posts_by_author: HashMap<UserId, KeySet>,
    pub(super) posts_by_tag: HashMap<Tag, KeySet>,
    /// Each author's drafts, by creation time.
    pub(super) drafts_by_author: HashMap<UserId, KeySet>,
    /// The words of every published post (scheduled ones too), for `?q=`.
    pub(super) search: SearchIndex,
    /// Follower -> the accounts they follow.
    pub(super) following: HashMap<UserId, HashSet<UserId>>,
    /// Account -> its followers (so that deleting an account cleans both sides).
    pub(super) followers: HashMap<UserId, HashSet<UserId>>,
    /// Post -> the accounts that favorited it (its count is the set's length).
    pub(super) favorited_by: HashMap<PostId, HashSet<UserId>>,
    /// Account -> the posts it favorited.
    pub(super) favorites_of: HashMap<UserId, HashSet<PostId>>,
    pub(super) comments: HashMap<CommentId, Arc<CommentRecord>>,
    /// Each post's comments, oldest first (by their `seq`).
    pub(super) comments_by_post: HashMap<PostId, OrdSet<(u64, CommentId)>>,
    /// Each account's comments (so that deleting an account deletes them).
    pub(super) comments_by_author: HashMap<UserId, HashSet<CommentId>>,
}

/// Post keys in order, packed in full blocks (see `packed.rs`): about 34 bytes a key where a
/// persistent B-tree costs 45 to 64, and built from sorted keys in one pass.
pub(super) type KeySet = Packed<PostKey, PostKey>;

/// Where a post sits in the public indexes: by when it is published. `None` for a draft,
/// which is only in its author's drafts.
pub(super) fn public_key(post: &PostRecord) -> Option<PostKey> {
    match post.status {
        PostStatus::Published => Some((post.published_at.unwrap_or(post.created_at), post.id)),
        PostStatus::Draft => None,
    }
}

impl State {
    /// Applies one change. Callers have validated it against the current state (uniqueness,
    /// ownership, existence); `apply` only keeps data and indexes in step.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::CreateUser(user) => {
                if let Some(email) = &user.email {
                    self.users_by_email.insert(email.key(), user.id);
                }
                if let Some(external) = &user.external {
                    self.users_by_external.insert(external.clone(), user.id);
                }
                self.users_by_username
                    .insert(user.username.as_str().to_owned(), user.id);
                self.users_timeline.insert((user.created_at, user.id));
                self.users.insert(user.id, Arc::new(user));
            }
            Change::SetUserName { id, name } => {
                if let Some(user) = self.users.get_mut(&id) {
                    Arc::make_mut(user).name = name;
                }
            }
            Change::SetPasswordHash {
                id,
                password_hash,
                keep,
            } => {
                if let Some(user) = self.users.get_mut(&id) {
                    Arc::make_mut(user).password_hash = Some(password_hash);
                }
                let ended: Vec<SessionId> = self
                    .sessions_by_user
                    .get(&id)
                    .map(|ids| {
                        ids.iter()
                            .copied()
                            .filter(|sid| Some(*sid) != keep)
                            .collect()
                    })
                    .unwrap_or_default();
                for sid in ended {
                    self.end_session(sid);
                }
            }
            Change::DeleteUser { id } => {
                // The account's clients go with it: they wrote as this account.
                self.clients.retain(|_, client| client.owner != id);
                let posts: Vec<PostId> = [&self.posts_by_author, &self.drafts_by_author]
                    .into_iter()
                    .filter_map(|index| index.get(&id))
                    .flat_map(|keys| keys.iter().map(|(_, post)| *post))
                    .collect();
                for post in posts {
                    self.delete_post(post);
                }
                let comments: Vec<CommentId> = self
                    .comments_by_author
                    .get(&id)
                    .map(|ids| ids.iter().copied().collect())
                    .unwrap_or_default();
                for comment in comments {
                    self.delete_comment(comment);
                }
                if let Some(favorites) = self.favorites_of.remove(&id) {
                    for post in favorites {
                        remove_from_set(&mut self.favorited_by, &post, &id);
                    }
                }
                if let Some(followees) = self.following.remove(&id) {
                    for followee in followees {
                        remove_from_set(&mut self.followers, &followee, &id);
                    }
                }
                if let Some(followers) = self.followers.remove(&id) {
                    for follower in followers {
                        remove_from_set(&mut self.following, &follower, &id);
                    }
                }
                let sessions: Vec<SessionId> = self
                    .sessions_by_user
                    .get(&id)
                    .map(|ids| ids.iter().copied().collect())
                    .unwrap_or_default();
                for sid in sessions {
                    self.end_session(sid);
                }
                if let Some(user) = self.users.remove(&id) {
                    self.users_timeline.remove(&(user.created_at, user.id));
                    if let Some(email) = &user.email {
                        self.users_by_email.remove(&email.key());
                    }
                    if let Some(external) = &user.external {
                        self.users_by_external.remove(external);
                    }
                    self.users_by_username.remove(user.username.as_str());
                }
            }
            Change::CreateSession(session) => {
                self.sessions_by_user
                    .entry(session.user_id)
                    .or_default()
                    .insert(session.id);
                self.sessions_by_expiry
                    .insert((session.expires_at, session.id));
                self.sessions.insert(session.id, Arc::new(session));
            }
            Change::RotateRefresh {
                id,
                refresh_hash,
                generation,
                expires_at,
                at,
            } => {
                if let Some(session) = self.sessions.get_mut(&id) {
                    let session = Arc::make_mut(session);
                    self.sessions_by_expiry
                        .remove(&(session.expires_at, session.id));
                    session.refresh_hash = refresh_hash;
                    session.generation = generation.unwrap_or(session.generation + 1);
                    session.expires_at = expires_at;
                    session.last_used_at = at;
                    self.sessions_by_expiry.insert((expires_at, id));
                }
            }
            Change::TouchSession { id, at } => {
                if let Some(session) = self.sessions.get_mut(&id) {
                    let session = Arc::make_mut(session);
                    session.last_used_at = session.last_used_at.max(at);
                }
            }
            Change::EndSession { id } => self.end_session(id),
            Change::ExpireSessions { at } => {
                for id in self.expired_sessions(at) {
                    self.end_session(id);
                }
            }
            Change::PutPost(mut post) => {
                self.remove_post(post.id);
                let known = &self.posts_by_tag;
                post.tags
                    .share_with(|tag| known.get_key_value(tag).map(|(known, _)| known.clone()));
                if post.status == PostStatus::Published && post.published_at.is_none() {
                    // Written before drafts existed: public since its creation.
                    post.published_at = Some(post.created_at);
                }
                self.note_slug(&post);
                self.index_slug(&post);
                match public_key(&post) {
                    Some(key) => {
                        self.search
                            .add(key, post.title(), post.content(), &post.tags);
                        self.timeline.insert(key);
                        self.posts_by_author
                            .entry(post.author)
                            .or_default()
                            .insert(key);
                        for tag in post.tags.iter() {
                            self.posts_by_tag
                                .entry(tag.clone())
                                .or_default()
                                .insert(key);
                        }
                    }
                    None => {
                        self.drafts_by_author
                            .entry(post.author)
                            .or_default()
                            .insert((post.created_at, post.id));
                    }
                }
                self.posts.insert(Arc::new(post));
            }
            Change::CreateClient(client) => {
                self.clients.insert(client.id, Arc::new(client));
            }
            Change::DeleteClient { id } => {
                self.clients.remove(&id);
            }
            Change::DeletePost { id } => self.delete_post(id),
            Change::SetProfile {
                id,
                username,
                email,
                bio,
                image,
            } => {
                let Some(user) = self.users.get_mut(&id) else {
                    return;
                };
                let user = Arc::make_mut(user);
                if let Some(old) = &user.email {
                    self.users_by_email.remove(&old.key());
                }
                if let Some(new) = &email {
                    self.users_by_email.insert(new.key(), id);
                }
                self.users_by_username.remove(user.username.as_str());
                self.users_by_username
                    .insert(username.as_str().to_owned(), id);
                user.username = username;
                user.email = email;
                user.bio = bio;
                user.image = image;
            }
            Change::Follow { follower, followee } => {
                self.following.entry(follower).or_default().insert(followee);
                self.followers.entry(followee).or_default().insert(follower);
            }
            Change::Unfollow { follower, followee } => {
                remove_from_set(&mut self.following, &follower, &followee);
                remove_from_set(&mut self.followers, &followee, &follower);
            }
            Change::Favorite { user, post } => {
                self.favorited_by.entry(post).or_default().insert(user);
                self.favorites_of.entry(user).or_default().insert(post);
            }
            Change::Unfavorite { user, post } => {
                remove_from_set(&mut self.favorited_by, &post, &user);
                remove_from_set(&mut self.favorites_of, &user, &post);
            }
            Change::PutComment(comment) => {
                if let Some(old) = self.comments.get(&comment.id) {
                    let key = (old.seq, old.id);
                    if let Some(keys) = self.comments_by_post.get_mut(&old.post) {
                        keys.remove(&key);
                    }
                }
                self.comments_by_post
                    .entry(comment.post)
                    .or_default()
                    .insert((comment.seq, comment.id));
                self.comments_by_author
                    .entry(comment.author)
                    .or_default()
                    .insert(comment.id);
                self.comments.insert(comment.id, Arc::new(comment));
            }
            Change::DeleteComment { id } => self.delete_comment(id),
        }
    }

    /// Removes a post for good: its indexes, its comments and its favorites.
    fn delete_post(&mut self, id: PostId) {
        self.remove_post(id);
        if let Some(comments) = self.comments_by_post.remove(&id) {
            for (_, comment) in comments {
                if let Some(record) = self.comments.remove(&comment) {
                    remove_from_set(&mut self.comments_by_author, &record.author, &comment);
                }
            }
        }
        if let Some(users) = self.favorited_by.remove(&id) {
            for user in users {
                remove_from_set(&mut self.favorites_of, &user, &id);
            }
        }
    }

    fn delete_comment(&mut self, id: CommentId) {
        let Some(comment) = self.comments.remove(&id) else {
            return;
        };
        remove_from_set(&mut self.comments_by_author, &comment.author, &id);
        if let Some(keys) = self.comments_by_post.get_mut(&comment.post) {
            keys.remove(&(comment.seq, id));
            if keys.is_empty() {
                self.comments_by_post.remove(&comment.post);
            }
        }
    }

    /// Sessions whose refresh token expired at or before `at`, oldest first.
    pub(super) fn expired_sessions(&self, at: Timestamp) -> Vec<SessionId> {
        self.sessions_by_expiry
            .iter()
            .take_while(|(expires_at, _)| *expires_at <= at)
            .map(|(_, id)| *id)
            .collect()
    }

    fn end_session(&mut self, id: SessionId) {
        if let Some(session) = self.sessions.remove(&id) {
            self.sessions_by_expiry
                .remove(&(session.expires_at, session.id));
            if let Some(ids) = self.sessions_by_user.get_mut(&session.user_id) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.sessions_by_user.remove(&session.user_id);
                }
            }
        }
    }

    fn remove_post(&mut self, id: PostId) {
        let Some(post) = self.posts.remove(&id) else {
            return;
        };
        self.unindex_slug(&post);
        let Some(key) = public_key(&post) else {
            let key = (post.created_at, post.id);
            remove_from_index(&mut self.drafts_by_author, &post.author, &key);
            return;
        };
        self.search
            .remove(key, post.title(), post.content(), &post.tags);
        self.timeline.remove(&key);
        remove_from_index(&mut self.posts_by_author, &post.author, &key);
        for tag in post.tags.iter() {
            remove_from_index(&mut self.posts_by_tag, tag, &key);
        }
    }

    /// The post with this slug.
    pub(super) fn post_by_slug(&self, slug: &str) -> Option<PostId> {
        if !self.slug_collisions.is_empty() {
            if let Some(id) = self.slug_collisions.get(&Slug::from_stored(slug)) {
                return Some(*id);
            }
        }
        let id = self.posts_by_slug.get(slug_hash(slug))?;
        self.posts
            .get(&id)
            .filter(|post| post.slug() == slug)
            .map(|_| id)
    }

    /// Indexes `post` (not yet in `posts`) by its slug, which no other post has.
    fn index_slug(&mut self, post: &PostRecord) {
        let hash = slug_hash(post.slug());
        let taken = self
            .posts_by_slug
            .get(hash)
            .is_some_and(|other| other != post.id && self.posts.contains_key(&other));
        if taken {
            self.slug_collisions
                .insert(Slug::from_stored(post.slug()), post.id);
        } else {
            self.posts_by_slug.insert(hash, post.id);
        }
    }

    /// Removes `post` (just taken out of `posts`) from the slug index.
    fn unindex_slug(&mut self, post: &PostRecord) {
        let slug = Slug::from_stored(post.slug());
        if self.slug_collisions.get(&slug) == Some(&post.id) {
            self.slug_collisions.remove(&slug);
            return;
        }
        let hash = slug_hash(post.slug());
        if self.posts_by_slug.get(hash) == Some(post.id) {
            self.posts_by_slug.remove(hash);
            // A colliding slug moves in, so that `slug_collisions` stays for collisions only.
            let moved = self
                .slug_collisions
                .iter()
                .find(|(slug, _)| slug_hash(slug.as_str()) == hash)
                .map(|(slug, id)| (slug.clone(), *id));
            if let Some((slug, id)) = moved {
                self.slug_collisions.remove(&slug);
                self.posts_by_slug.insert(hash, id);
            }
        }
    }

    /// Keeps the suffix counter of the post's base slug ahead of the suffix it uses.
    fn note_slug(&mut self, post: &PostRecord) {
        note_slug(&mut self.slug_suffixes, post);
    }

    /// The changes that rebuild this state from nothing: the content of a snapshot.
    pub fn as_changes(&self) -> impl Iterator<Item = Change> + '_ {
        let users = self
            .users
            .values()
            .map(|user| Change::CreateUser(UserRecord::clone(user)));
        let sessions = self
            .sessions
            .values()
            .map(|session| Change::CreateSession(SessionRecord::clone(session)));
        let clients = self
            .clients
            .values()
            .map(|client| Change::CreateClient(ClientRecord::clone(client)));
        let posts = self
            .posts
            .values()
            .map(|post| Change::PutPost(PostRecord::clone(post)));
        let follows = self.following.iter().flat_map(|(follower, followees)| {
            followees.iter().map(|followee| Change::Follow {
                follower: *follower,
                followee: *followee,
            })
        });
        let favorites = self.favorites_of.iter().flat_map(|(user, posts)| {
            posts.iter().map(|post| Change::Favorite {
                user: *user,
                post: *post,
            })
        });
        let comments = self
            .comments
            .values()
            .map(|comment| Change::PutComment(CommentRecord::clone(comment)));
        users
            .chain(sessions)
            .chain(clients)
            .chain(posts)
            .chain(follows)
            .chain(favorites)
            .chain(comments)
    }

    /// A slug for `wanted` not used by any post other than `owner`. When `wanted` is taken the
    /// search starts at the base's counter, so it costs one or two probes however many posts
    /// share a title.
    pub fn unique_slug(&self, wanted: &Slug, owner: PostId) -> Slug {
        // A post keeps its slug while its title asks for the same base: edits never move it.
        if let Some(current) = self.posts.get(&owner) {
            if Slug::from_title(current.title()) == *wanted {
                return Slug::from_stored(current.slug());
            }
        }
        let free = |slug: &Slug| {
            self.post_by_slug(slug.as_str())
                .is_none_or(|id| id == owner)
        };
        if free(wanted) {
            return wanted.clone();
        }
        let first = self.slug_suffixes.get(wanted).copied().unwrap_or(2);
        (first..)
            .map(|n| wanted.with_suffix(n))
            .find(free)
            .expect("an unbounded range always finds a free suffix")
    }
}

/// Keeps the suffix counter of the post's base slug in `suffixes` ahead of the suffix it uses.
fn note_slug(suffixes: &mut HashMap<Slug, u32>, post: &PostRecord) {
    let base = Slug::from_title(post.title());
    if post.slug() == base.as_str() {
        return;
    }
    let suffix = post
        .slug()
        .strip_prefix(base.as_str())
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|n| n.parse::<u32>().ok());
    if let Some(n) = suffix {
        let next = suffixes.entry(base).or_insert(2);
        *next = (*next).max(n.saturating_add(1));
    }
}

/// Builds the post side of a state from a snapshot's posts in one go. Each post is noted as it
/// comes (its record, its slug's hash, its keys in each set); at the end the post map, the
/// slug index and the key sets (timeline, by author, by tag, drafts) are cut from sorted lists
/// into full blocks, instead of an insert per post into each persistent structure.
pub(super) struct PostLoader {
    records: Vec<Arc<PostRecord>>,
    slugs: Vec<(u64, PostId)>,
    timeline: Vec<PostKey>,
    by_author: Lists<UserId>,
    by_tag: Lists<Tag>,
    drafts: Lists<UserId>,
    /// Whether each post's slug suffix is noted as it comes: for snapshots that do not hold
    /// the counters themselves (before format 3).
    note_slugs: bool,
}

type Lists<K> = std::collections::HashMap<K, Vec<PostKey>>;

/// A snapshot lists a post twice: it cannot be loaded.
#[derive(Debug)]
pub(super) struct DuplicatePost(pub PostId);

impl PostLoader {
    pub fn new(note_slugs: bool) -> Self {
        Self {
            records: Vec::new(),
            slugs: Vec::new(),
            timeline: Vec::new(),
            by_author: Lists::default(),
            by_tag: Lists::default(),
            drafts: Lists::default(),
            note_slugs,
        }
    }

    /// A post of the snapshot (each post once). Its tags should already be shared with the
    /// other posts' (the decoder does that, so that the copies are freed where they were made).
    pub fn add(&mut self, state: &mut State, mut post: Arc<PostRecord>) {
        if post.status == PostStatus::Published && post.published_at.is_none() {
            // Written before drafts existed: public since its creation.
            let post = Arc::make_mut(&mut post);
            post.published_at = Some(post.created_at);
        }
        if self.note_slugs {
            note_slug(&mut state.slug_suffixes, &post);
        }
        self.slugs.push((slug_hash(post.slug()), post.id));
        match public_key(&post) {
            Some(key) => {
                self.timeline.push(key);
                self.by_author.entry(post.author).or_default().push(key);
                for tag in post.tags.iter() {
                    match self.by_tag.get_mut(tag) {
                        Some(keys) => keys.push(key),
                        None => {
                            self.by_tag.insert(tag.clone(), vec![key]);
                        }
                    }
                }
            }
            None => self
                .drafts
                .entry(post.author)
                .or_default()
                .push((post.created_at, post.id)),
        }
        self.records.push(post);
    }

    /// Installs the posts and their indexes (all but the search index) in `state`, which holds
    /// no post yet.
    pub fn finish(self, state: &mut State) -> Result<(), DuplicatePost> {
        state.posts = PostMap::from_records(self.records).map_err(DuplicatePost)?;
        let (slugs, colliding) = SlugIndex::build(self.slugs);
        state.posts_by_slug = slugs;
        for id in colliding {
            if let Some(post) = state.posts.get(&id) {
                state
                    .slug_collisions
                    .insert(Slug::from_stored(post.slug()), id);
            }
        }
        fn set(mut keys: Vec<PostKey>) -> KeySet {
            keys.sort_unstable();
            KeySet::from_sorted(keys)
        }
        fn sets<K: std::hash::Hash + Eq + Clone>(lists: Lists<K>) -> HashMap<K, KeySet> {
            lists
                .into_iter()
                .map(|(name, keys)| (name, set(keys)))
                .collect()
        }
        state.timeline = set(self.timeline);
        state.posts_by_author = sets(self.by_author);
        state.posts_by_tag = sets(self.by_tag);
        state.drafts_by_author = sets(self.drafts);
        Ok(())
    }
}

/// The hash a slug is indexed under: SipHash with fixed keys, so the same in every process
/// (nothing depends on that across restarts: the index is rebuilt on load). Slugs that collide,
/// by chance or by design, are kept whole in `slug_collisions`, so a collision costs a lookup,
/// never a wrong answer. In unit tests, a hash that collides on purpose (the slug's length),
/// so that every test walks the collision paths.
fn slug_hash(slug: &str) -> u64 {
    if cfg!(test) {
        return slug.len() as u64;
    }
    use std::hash::{Hash, Hasher};
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    slug.hash(&mut hasher);
    hasher.finish()
}

/// Removes `key` from the set under `index[name]`, dropping the set when it empties so that
/// deleted authors and abandoned tags do not leak memory.
fn remove_from_index<K: std::hash::Hash + Eq + Clone>(
    index: &mut HashMap<K, KeySet>,
    name: &K,
    key: &PostKey,
) {
    if let Some(keys) = index.get_mut(name) {
        keys.remove(key);
        if keys.is_empty() {
            index.remove(name);
        }
    }
}

/// Removes `value` from the set under `index[key]`, dropping the set when it empties.
fn remove_from_set<K, V>(index: &mut HashMap<K, HashSet<V>>, key: &K, value: &V)
where
    K: std::hash::Hash + Eq + Clone,
    V: std::hash::Hash + Eq + Clone,
{
    if let Some(values) = index.get_mut(key) {
        values.remove(value);
        if values.is_empty() {
            index.remove(key);
        }
    }
}
