//! The JWT vocabulary shared by our own tokens ([`super::TokenKeys`]) and an external
//! provider's ([`super::ExternalIssuer`]): the claims we issue, who a verified token speaks for,
//! why a token is refused, and the one pinned validation both verifiers build on. It depends on
//! neither verifier, so neither depends on the other.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{ClientId, ExternalIdentity, Role, Scopes, SessionId, UserId};

/// The JWT `typ` header of our access tokens (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub(crate) const LEEWAY_SECONDS: u64 = 5;
/// The claims of a person's access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: UserId,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The session (refresh-token family) this token belongs to.
    pub sid: SessionId,
    pub role: Role,
    /// Issued by the RealWorld API (`/api`): long-lived, so accepted only there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub realworld: bool,
}

/// The claims of an API client's access token (RFC 9068): no session, no role; `scope` instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientClaims {
    pub iss: String,
    pub aud: String,
    /// The client itself.
    pub sub: ClientId,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    pub client_id: ClientId,
    /// Space-separated scopes.
    pub scope: String,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A person's session.
    User {
        id: UserId,
        session: SessionId,
        role: Role,
        /// A token of the RealWorld API (`/api`), which only it accepts.
        realworld: bool,
    },
    /// An API client with its granted scopes.
    Client { id: ClientId, scopes: Scopes },
    /// A person signed in at the external identity provider.
    External(ExternalIdentity),
}

/// Why a token was refused. The message is safe to show the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("{0}")]
    Invalid(&'static str),
}

/// A validation pinned to one `algorithm`, one issuer and one audience, requiring `claims`;
/// `exp` always checked, `nbf` when present, with [`LEEWAY_SECONDS`]. Ours and an external
/// provider's differ only in the claims they require.
pub(crate) fn pinned_validation(
    algorithm: Algorithm,
    issuer: &str,
    audience: &str,
    claims: &[&str],
) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(claims);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation
}

/// `iat` must be present and not later than now plus the leeway: a token "issued" in the future
/// was not issued by us with a sane clock, and would outlive any rotation meant to end it.
pub(crate) fn check_issued_at(iat: Option<i64>, now: i64) -> Result<(), TokenError> {
    match iat {
        None => Err(TokenError::Invalid(
            "the access token lacks a required claim",
        )),
        Some(iat) if iat > now.saturating_add(LEEWAY_SECONDS as i64) => Err(TokenError::Invalid(
            "the access token was issued in the future",
        )),
        Some(_) => Ok(()),
    }
}

/// Why jsonwebtoken refused a token, in words safe to show the client.
pub(crate) fn refused(error: jsonwebtoken::errors::Error) -> TokenError {
    match error.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::Invalid("the access token is not valid yet"),
        ErrorKind::InvalidAudience => {
            TokenError::Invalid("the access token is for another audience")
        }
        ErrorKind::InvalidIssuer => TokenError::Invalid("the access token is from another issuer"),
        ErrorKind::InvalidAlgorithm => {
            TokenError::Invalid("the access token uses a refused algorithm")
        }
        ErrorKind::InvalidSignature => TokenError::Invalid("the access token signature is invalid"),
        ErrorKind::MissingRequiredClaim(_) => {
            TokenError::Invalid("the access token lacks a required claim")
        }
        _ => TokenError::Invalid("the access token is malformed"),
    }
}
