//! Authentication: password hashing, access tokens, refresh tokens and the `AuthUser` extractor.

mod client_ip;
mod extractor;
mod jwt;
mod oidc;
pub mod password;
mod rate_limit;
mod refresh;
mod throttle;
mod tokens;
mod verified;

pub use client_ip::{client_ip, TrustedProxies};
pub use extractor::{AdminUser, AuthUser, MaybeAuthUser, PostsWriter, SessionUser};
pub use jwt::{AccessClaims, ClientClaims, Subject, TokenError, ACCESS_TOKEN_TYPE};
pub use oidc::ExternalIssuer;
pub use password::PasswordHasher;
pub use rate_limit::{auth_rate_limit, AuthRateLimit};
pub use refresh::{family_key, opaque_secret, secret_hash, RefreshToken, SessionPolicy};
pub use throttle::{LoginTarget, LoginThrottle, Throttled};
pub use tokens::{IssuedToken, RetiredKey, TokenKeys};
