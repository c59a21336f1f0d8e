//! Authentication: password hashing, access tokens, refresh tokens and the `AuthUser` extractor.

mod extractor;
pub mod password;
mod refresh;
mod tokens;

pub use extractor::{AuthUser, MaybeAuthUser};
pub use refresh::RefreshToken;
pub use tokens::{AccessClaims, IssuedToken, TokenError, TokenKeys, ACCESS_TOKEN_TYPE};
