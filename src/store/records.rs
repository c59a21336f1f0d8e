//! What the store keeps, and the read models it hands out.

use serde::{Deserialize, Serialize};

use crate::domain::{
    Bio, ClientId, CommentBody, CommentId, DisplayName, Email, ImageUrl, PostContent,
    PostDescription, PostId, PostStatus, PostTitle, Role, Scopes, SessionId, Slug, Tags, Timestamp,
    UserId, Username,
};

/// A stored account, password hash included. Never leaves the store: see [`User`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: UserId,
    pub username: Username,
    /// `None` for an account of an external identity provider's user.
    pub email: Option<Email>,
    pub name: Option<DisplayName>,
    pub role: Role,
    /// Argon2id PHC string; `None` for an external account (it has no password here).
    pub password_hash: Option<String>,
    /// The external identity this account stands for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalAccount>,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<Bio>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageUrl>,
}

/// An account's external identity: the issuer and the user's `sub` there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExternalAccount {
    pub issuer: String,
    pub subject: String,
}

/// A login session: the refresh-token family its access tokens belong to (`sid`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    /// SHA-256 of the current refresh token; the token itself is never stored.
    pub refresh_hash: [u8; 32],
    /// How many times the refresh token was rotated. Every token carries its generation, so an
    /// earlier one coming back (one rotation old or a thousand) is recognised as reuse, and the
    /// whole session is revoked, without keeping the hashes of used tokens.
    #[serde(default)]
    pub generation: u64,
    /// Key of the MAC every refresh token of this session carries: proves that a token of an
    /// earlier generation was issued here, so nobody can revoke a session by forging one. It
    /// cannot make a current token (that takes the random part, of which only a hash is kept).
    /// All zero for sessions from before generations, whose refresh tokens are no longer
    /// accepted (their owners log in again).
    #[serde(default)]
    pub family_key: [u8; 32],
    pub created_at: Timestamp,
    /// Last login, refresh or authenticated request (requests recorded at most once a minute).
    pub last_used_at: Timestamp,
    /// When the current refresh token stops working (sliding: each refresh moves it).
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
}

/// A live session as its owner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub user_agent: Option<String>,
}

/// A stored post. The author is kept by id, so a renamed author shows everywhere at once. Its
/// four texts are one allocation ([`PostText`]); [`PostFields`] is the same post with each text
/// on its own, to build or edit one, and it is the post's JSON form (journal records).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "PostFields")]
pub struct PostRecord {
    pub id: PostId,
    pub author: UserId,
    pub text: PostText,
    pub tags: Tags,
    pub status: PostStatus,
    /// When a published post is (or was, or will be) public; `None` for a draft.
    pub published_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

/// A post's slug, title, description and content in one allocation. A million posts are held
/// in memory by the embedded engine; four separate shared strings cost about 110 bytes a post
/// more (four reference-counted allocations, their headers and rounding, and four pointers),
/// measured in docs/benchmarks.md. Reading a text is a slice; a read model copies it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostText {
    /// Slug, title, description (if any) and content, one after the other.
    text: Box<str>,
    slug_end: u32,
    title_end: u32,
    /// Where the description ends; `None` for a post without one.
    description_end: Option<u32>,
}

impl PostText {
    pub fn new(slug: &str, title: &str, description: Option<&str>, content: &str) -> Self {
        let parts = [slug, title, description.unwrap_or_default(), content];
        let text: Box<str> = parts.concat().into_boxed_str();
        let end = |len: usize| u32::try_from(len).expect("a post's texts fit in 4 GiB");
        let slug_end = end(slug.len());
        let title_end = end(slug.len() + title.len());
        Self {
            description_end: description.map(|d| title_end + end(d.len())),
            text,
            slug_end,
            title_end,
        }
    }

    pub fn slug(&self) -> &str {
        &self.text[..self.slug_end as usize]
    }

    pub fn title(&self) -> &str {
        &self.text[self.slug_end as usize..self.title_end as usize]
    }

    pub fn description(&self) -> Option<&str> {
        let end = self.description_end? as usize;
        Some(&self.text[self.title_end as usize..end])
    }

    pub fn content(&self) -> &str {
        let start = self.description_end.unwrap_or(self.title_end) as usize;
        &self.text[start..]
    }
}

impl std::fmt::Debug for PostText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostText")
            .field("slug", &self.slug())
            .field("title", &self.title())
            .field("description", &self.description())
            .field("content", &self.content())
            .finish()
    }
}

/// A post with each text on its own: what a new or edited post is built as, and the JSON form
/// of a [`PostRecord`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostFields {
    pub id: PostId,
    pub author: UserId,
    pub slug: Slug,
    pub title: PostTitle,
    pub description: Option<PostDescription>,
    pub content: PostContent,
    pub tags: Tags,
    /// Absent in journals written before drafts: published.
    #[serde(default)]
    pub status: PostStatus,
    /// When a published post is (or was, or will be) public; `None` for a draft. Absent in
    /// journals written before drafts: the creation time (filled in by `State::apply`).
    #[serde(default)]
    pub published_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl From<PostFields> for PostRecord {
    fn from(post: PostFields) -> Self {
        Self {
            id: post.id,
            author: post.author,
            text: PostText::new(
                post.slug.as_str(),
                post.title.as_str(),
                post.description.as_ref().map(PostDescription::as_str),
                post.content.as_str(),
            ),
            tags: post.tags,
            status: post.status,
            published_at: post.published_at,
            created_at: post.created_at,
            updated_at: post.updated_at,
            version: post.version,
        }
    }
}

impl Serialize for PostRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.fields().serialize(serializer)
    }
}

impl PostRecord {
    /// The post with each text on its own (copies of them), to edit or to hand out.
    pub fn fields(&self) -> PostFields {
        PostFields {
            id: self.id,
            author: self.author,
            slug: Slug::from_stored(self.slug()),
            title: PostTitle::from_stored(self.title()),
            description: self.description().map(PostDescription::from_stored),
            content: PostContent::from_stored(self.content()),
            tags: self.tags.clone(),
            status: self.status,
            published_at: self.published_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }

    pub fn slug(&self) -> &str {
        self.text.slug()
    }

    pub fn title(&self) -> &str {
        self.text.title()
    }

    pub fn description(&self) -> Option<&str> {
        self.text.description()
    }

    pub fn content(&self) -> &str {
        self.text.content()
    }

    /// Whether the post is public at `now`: published, and its time has come.
    pub fn is_public(&self, now: Timestamp) -> bool {
        self.status == PostStatus::Published && self.published_at.is_some_and(|at| at <= now)
    }

    /// Whether `viewer` may see it at `now`: anyone once public; before, its author and admins.
    pub fn visible_to(&self, viewer: Option<&Actor>, now: Timestamp) -> bool {
        self.is_public(now) || viewer.is_some_and(|v| v.admin || v.user_id == self.author)
    }
}

/// An account as the rest of the service sees it: no password hash, by construction.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Option<Email>,
    pub name: Option<DisplayName>,
    pub role: Role,
    pub created_at: Timestamp,
    pub bio: Option<Bio>,
    pub image: Option<ImageUrl>,
}

impl From<&UserRecord> for User {
    fn from(record: &UserRecord) -> Self {
        Self {
            id: record.id,
            username: record.username.clone(),
            email: record.email.clone(),
            name: record.name.clone(),
            role: record.role,
            created_at: record.created_at,
            bio: record.bio.clone(),
            image: record.image.clone(),
        }
    }
}

/// Who wrote a post or a comment (a public profile), as the store resolves it for a viewer.
#[derive(Debug, Clone, PartialEq)]
pub struct Author {
    pub id: UserId,
    pub username: Username,
    pub name: Option<DisplayName>,
    pub bio: Option<Bio>,
    pub image: Option<ImageUrl>,
    /// Whether the viewer follows this account (false for an anonymous viewer).
    pub following: bool,
}

/// A stored comment. Its author and post are kept by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommentRecord {
    pub id: CommentId,
    pub post: PostId,
    /// Its place among the post's comments: one more than the last one's when written, so
    /// comments of the same millisecond keep their order.
    pub seq: u64,
    pub author: UserId,
    pub body: CommentBody,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A comment with its author resolved for the viewer.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: CommentId,
    pub post: PostId,
    pub body: CommentBody,
    pub author: Author,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A post with its author resolved: what the store hands out (the HTTP layer makes the JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: PostId,
    pub slug: Slug,
    pub title: PostTitle,
    pub description: Option<PostDescription>,
    pub content: PostContent,
    pub tags: Tags,
    pub status: PostStatus,
    pub published_at: Option<Timestamp>,
    pub author: Author,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Starts at 1 and increments on every change.
    pub version: u64,
    /// How many accounts favorited it.
    pub favorites: u64,
    /// Whether the viewer favorited it (false for an anonymous viewer).
    pub favorited: bool,
}

/// Who is acting, as the store knows them now (the role is read live, not from the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    /// The session of the token; `None` for an external issuer's token (its sessions are the
    /// issuer's).
    pub session_id: Option<SessionId>,
    pub role: Role,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A registered API client. Its secret is kept only as a SHA-256 hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRecord {
    pub id: ClientId,
    pub name: DisplayName,
    pub scopes: Scopes,
    pub secret_hash: [u8; 32],
    /// The admin who registered it; posts the client writes are authored by this account.
    pub owner: UserId,
    pub created_at: Timestamp,
}

/// A registered client, without its secret hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub client_id: ClientId,
    pub name: DisplayName,
    pub scopes: Scopes,
    /// The admin who registered it; the author of the posts it writes.
    pub owner: UserId,
    pub created_at: Timestamp,
}

impl From<&ClientRecord> for Client {
    fn from(record: &ClientRecord) -> Self {
        Self {
            client_id: record.id,
            name: record.name.clone(),
            scopes: record.scopes.clone(),
            owner: record.owner,
            created_at: record.created_at,
        }
    }
}

/// Who performs a change to a post: its would-be author, and whether admin powers apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub admin: bool,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user_id,
            admin: self.is_admin(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::now;

    fn fields(description: Option<&str>) -> PostFields {
        PostFields {
            id: PostId::new(),
            author: UserId::new(),
            slug: Slug::from_stored("café-au-lait-2"),
            title: PostTitle::parse("Café au lait").unwrap(),
            description: description.map(PostDescription::from_stored),
            content: PostContent::parse("Ünïcode *body*\n").unwrap(),
            tags: Tags::parse(&["coffee"]).unwrap(),
            status: PostStatus::Published,
            published_at: Some(now()),
            created_at: now(),
            updated_at: now(),
            version: 3,
        }
    }

    /// The four texts come back as given from their one allocation, a missing description
    /// apart from an empty one, and the record's JSON (journal records) is the fields' JSON.
    #[test]
    fn a_record_keeps_its_texts_apart_and_its_json_form() {
        for description in [None, Some(""), Some("A short summary")] {
            let given = fields(description);
            let record = PostRecord::from(given.clone());
            assert_eq!(record.slug(), "café-au-lait-2");
            assert_eq!(record.title(), "Café au lait");
            assert_eq!(record.description(), description);
            assert_eq!(record.content(), "Ünïcode *body*\n");
            let json = serde_json::to_value(&record).unwrap();
            assert_eq!(json, serde_json::to_value(&given).unwrap());
            assert_eq!(json["title"], "Café au lait");
            let back: PostRecord = serde_json::from_value(json).unwrap();
            assert_eq!(back, record);
            assert_eq!(record.fields().content, given.content);
        }
    }
}
