//! The in-memory state and its indexes. Every mutation is a [`Change`] applied by
//! [`State::apply`], the single place indexes are maintained; a durability journal records the
//! same `Change`s and replays them through the same function.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::domain::{ClientId, DisplayName, PostId, SessionId, Slug, Tag, Timestamp, UserId};

use super::records::{ClientRecord, ExternalAccount, PostRecord, SessionRecord, UserRecord};

/// Order of posts in lists: newest first is reverse order of this key.
pub type PostKey = (Timestamp, PostId);

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
    /// Consumes the session's refresh token and installs its successor.
    RotateRefresh {
        id: SessionId,
        refresh_hash: [u8; 32],
        expires_at: Timestamp,
        at: Timestamp,
    },
    EndSession {
        id: SessionId,
    },
    CreateClient(ClientRecord),
    /// Revokes a client: it is removed, and its tokens stop working at once.
    DeleteClient {
        id: ClientId,
    },
    /// Inserts a post or replaces the one with the same id.
    PutPost(PostRecord),
    DeletePost {
        id: PostId,
    },
}

/// All data, with the indexes that make every hot path O(1) or O(log n).
#[derive(Debug, Default)]
pub struct State {
    pub(super) users: HashMap<UserId, UserRecord>,
    /// Lower-cased email -> user.
    pub(super) users_by_email: HashMap<String, UserId>,
    /// Username (already lower-case) -> user.
    pub(super) users_by_username: HashMap<String, UserId>,
    /// External identity -> the local account standing for it.
    pub(super) users_by_external: HashMap<ExternalAccount, UserId>,
    /// Every account, by creation time (the admin listing).
    pub(super) users_timeline: BTreeSet<(Timestamp, UserId)>,
    pub(super) sessions: HashMap<SessionId, SessionRecord>,
    pub(super) sessions_by_user: HashMap<UserId, HashSet<SessionId>>,
    pub(super) sessions_by_refresh: HashMap<[u8; 32], SessionId>,
    /// Refresh-token hashes already used, for reuse detection.
    pub(super) retired_refresh: HashMap<[u8; 32], SessionId>,
    pub(super) clients: HashMap<ClientId, ClientRecord>,
    pub(super) posts: HashMap<PostId, PostRecord>,
    pub(super) posts_by_slug: HashMap<Slug, PostId>,
    /// Every post, by creation time.
    pub(super) timeline: BTreeSet<PostKey>,
    pub(super) posts_by_author: HashMap<UserId, BTreeSet<PostKey>>,
    pub(super) posts_by_tag: HashMap<Tag, BTreeSet<PostKey>>,
}

fn key_of(post: &PostRecord) -> PostKey {
    (post.created_at, post.id)
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
                self.users.insert(user.id, user);
            }
            Change::SetUserName { id, name } => {
                if let Some(user) = self.users.get_mut(&id) {
                    user.name = name;
                }
            }
            Change::SetPasswordHash {
                id,
                password_hash,
                keep,
            } => {
                if let Some(user) = self.users.get_mut(&id) {
                    user.password_hash = Some(password_hash);
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
                let posts: Vec<PostId> = self
                    .posts_by_author
                    .get(&id)
                    .map(|keys| keys.iter().map(|(_, post)| *post).collect())
                    .unwrap_or_default();
                for post in posts {
                    self.remove_post(post);
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
                for retired in &session.retired_hashes {
                    self.retired_refresh.insert(*retired, session.id);
                }
                self.sessions_by_user
                    .entry(session.user_id)
                    .or_default()
                    .insert(session.id);
                self.sessions_by_refresh
                    .insert(session.refresh_hash, session.id);
                self.sessions.insert(session.id, session);
            }
            Change::RotateRefresh {
                id,
                refresh_hash,
                expires_at,
                at,
            } => {
                if let Some(session) = self.sessions.get_mut(&id) {
                    let old = std::mem::replace(&mut session.refresh_hash, refresh_hash);
                    session.retired_hashes.push(old);
                    session.expires_at = expires_at;
                    session.last_used_at = at;
                    self.sessions_by_refresh.remove(&old);
                    self.retired_refresh.insert(old, id);
                    self.sessions_by_refresh.insert(refresh_hash, id);
                }
            }
            Change::EndSession { id } => self.end_session(id),
            Change::PutPost(post) => {
                self.remove_post(post.id);
                let key = key_of(&post);
                self.posts_by_slug.insert(post.slug.clone(), post.id);
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
                self.posts.insert(post.id, post);
            }
            Change::CreateClient(client) => {
                self.clients.insert(client.id, client);
            }
            Change::DeleteClient { id } => {
                self.clients.remove(&id);
            }
            Change::DeletePost { id } => self.remove_post(id),
        }
    }

    fn end_session(&mut self, id: SessionId) {
        if let Some(session) = self.sessions.remove(&id) {
            self.sessions_by_refresh.remove(&session.refresh_hash);
            for retired in &session.retired_hashes {
                self.retired_refresh.remove(retired);
            }
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
        let key = key_of(&post);
        self.posts_by_slug.remove(&post.slug);
        self.timeline.remove(&key);
        remove_from_index(&mut self.posts_by_author, &post.author, &key);
        for tag in post.tags.iter() {
            remove_from_index(&mut self.posts_by_tag, tag, &key);
        }
    }

    /// The changes that rebuild this state from nothing: the content of a snapshot.
    pub fn as_changes(&self) -> impl Iterator<Item = Change> + '_ {
        let users = self.users.values().cloned().map(Change::CreateUser);
        let sessions = self.sessions.values().cloned().map(Change::CreateSession);
        let clients = self.clients.values().cloned().map(Change::CreateClient);
        let posts = self.posts.values().cloned().map(Change::PutPost);
        users.chain(sessions).chain(clients).chain(posts)
    }

    /// A slug for `wanted` not used by any post other than `owner`.
    pub fn unique_slug(&self, wanted: &Slug, owner: PostId) -> Slug {
        let free = |slug: &Slug| self.posts_by_slug.get(slug).is_none_or(|id| *id == owner);
        if free(wanted) {
            return wanted.clone();
        }
        (2..)
            .map(|n| wanted.with_suffix(n))
            .find(free)
            .expect("an unbounded range always finds a free suffix")
    }
}

/// Removes `key` from the set under `index[name]`, dropping the set when it empties so that
/// deleted authors and abandoned tags do not leak memory.
fn remove_from_index<K: std::hash::Hash + Eq>(
    index: &mut HashMap<K, BTreeSet<PostKey>>,
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
