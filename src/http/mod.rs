//! The HTTP edge, in one place: everything that reads a request before a handler runs, and
//! the middleware around them.
//!
//! - `extract`: the one body reader (limit, deadline, content type), JSON and form bodies, and
//!   `If-Match`;
//! - `auth`: who is calling, from the bearer token ([`AuthUser`], [`SessionUser`],
//!   [`AdminUser`], [`PostsWriter`], [`PostsReader`], [`MaybeAuthUser`]);
//! - `credentials`: who is logging in ([`Credentials`]) and which API client asks for a token
//!   ([`AuthenticatedClient`]);
//! - `middleware`: security headers, and a refused CORS preflight as problem+json.

pub mod auth;
pub mod credentials;
pub mod extract;
pub mod middleware;

pub use auth::{AdminUser, AuthUser, MaybeAuthUser, PostsReader, PostsWriter, SessionUser};
pub use credentials::{AuthenticatedClient, Credentials};
pub use extract::{none_match, versioned_etag, BodyLimit, IfMatch, JsonBody};
