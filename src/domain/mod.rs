//! Validated domain types. A request body becomes these once, at the edge; past that point an
//! invalid username, email, title or tag cannot exist.

mod ids;
mod post;
mod scope;
mod time;
mod user;

pub use ids::{ClientId, CommentId, PostId, SessionId, UserId};
pub use post::{CommentBody, PostContent, PostDescription, PostStatus, PostTitle, Slug, Tag, Tags};
pub use scope::{Scope, Scopes};
pub use time::{now, parse_rfc3339, rfc3339_millis, rfc3339_millis_opt, Timestamp};
pub use user::{
    Bio, DisplayName, Email, ExternalIdentity, ImageUrl, Password, PasswordPolicy, Role, Username,
};
