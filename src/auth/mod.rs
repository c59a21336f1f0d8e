//! Authentication: password hashing, access tokens, refresh tokens and the `AuthUser` extractor.

mod client_ip;
mod extractor;
pub mod password;
mod rate_limit;
mod refresh;
mod throttle;
mod tokens;

pub use extractor::{AdminUser, AuthUser, MaybeAuthUser};
pub use password::PasswordHasher;
pub use rate_limit::{auth_rate_limit, AuthRateLimit};
pub use refresh::RefreshToken;
pub use throttle::LoginThrottle;
pub use tokens::{AccessClaims, IssuedToken, TokenError, TokenKeys, ACCESS_TOKEN_TYPE};
