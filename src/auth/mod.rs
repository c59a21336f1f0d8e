//! Authentication: password hashing, access tokens, refresh tokens and the extractors that say
//! who is calling.
//!
//! The words, once (each means one thing; no other word is used for it):
//! - **Subject**: what a *verified token* says it speaks for (a person's session, an API client
//!   with its scopes, or an external provider's user), before the store is asked
//!   ([`Subject`], in `jwt.rs`).
//! - **Principal**: a *person* as the store knows them now: account, live session (none for an
//!   external provider's user) and current role (`store::Principal`).
//! - **Actor**: whoever *performs a change to a post*: the account it is authored as, and whether
//!   admin powers apply (`store::Actor`). A person's actor is their own account; an API client's
//!   is the admin who registered it, without admin powers.
//! - **Caller**: inside the extractors only, the authenticated party of a request: a principal,
//!   or an API client's actor with its scopes.
//! - The **extractors** name what a handler needs, and a handler that takes one is protected:
//!   `AuthUser` (a person), `SessionUser` (a person with a session of ours, for logout and
//!   password change), `AdminUser` (a person who is an admin), `PostsWriter` (a person or a
//!   client with `posts:write`, as an actor), `PostsReader` (the same, or nobody: who may see
//!   hidden posts), `MaybeAuthUser` (a person or nobody; a bad token is still 401).

mod client_ip;
mod jwt;
mod oidc;
pub mod password;
mod rate_limit;
mod refresh;
mod throttle;
mod tokens;
mod verified;

pub use client_ip::{client_ip, TrustedProxies};
pub use jwt::{AccessClaims, ClientClaims, Subject, TokenError, ACCESS_TOKEN_TYPE};
pub use oidc::ExternalIssuer;
pub use password::PasswordHasher;
pub use rate_limit::{auth_rate_limit, AuthRateLimit};
pub use refresh::{family_key, opaque_secret, secret_hash, RefreshToken, SessionPolicy};
pub use throttle::{LoginTarget, LoginThrottle, Refused, Throttled};
pub use tokens::{IssuedToken, RetiredKey, TokenKeys};
