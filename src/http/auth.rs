//! `AuthUser`: the one way a handler asks for an authenticated caller.
//!
//! A handler that takes `AuthUser` is protected; one that does not is public. There is no list of
//! public routes to keep in sync.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderValue, AUTHORIZATION};
use actix_web::{web, FromRequest, HttpRequest};

use crate::auth::{Subject, TokenError, TokenKeys};
use crate::domain::{Scope, Scopes, SessionId};
use crate::error::{ApiError, AuthFailure};
use crate::store::{Actor, Principal, Store};

/// The authenticated caller: a valid access token for a live session of an existing account.
///
/// Rejections (all 401 with a `WWW-Authenticate: Bearer realm="blog-api"` challenge):
/// no token -> `missing_token`; malformed, forged, wrong `alg`/`iss`/`aud`/`typ`, not yet valid,
/// ended session or deleted account -> `invalid_token`; expired -> `token_expired`.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Principal);

/// An optional caller, for public endpoints that show more to the owner (a profile's email).
///
/// No `Authorization` header means anonymous; a header with a *bad* token is still a 401, never
/// silently anonymous, or a client with an expired token would see a public view and not know
/// to refresh (launchbadge realworld-axum-sqlx explains the same choice).
#[derive(Debug, Clone, Copy)]
pub struct MaybeAuthUser(pub Option<Principal>);

/// Who may write posts: a person, or an API client holding `posts:write` (writing as the admin
/// who registered it). A client without the scope gets 403 `insufficient_scope`.
#[derive(Debug, Clone, Copy)]
pub struct PostsWriter(pub Actor);

/// What a verified token speaks for, as the store knows it now.
enum Caller {
    User(Principal),
    Client { actor: Actor, scopes: Scopes },
}

fn required(caller: Option<Caller>) -> Result<Caller, ApiError> {
    caller.ok_or(ApiError::Unauthorized(AuthFailure::MissingToken))
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// The future of an extractor: authenticate the request, then let `decide` say what the caller
/// may be here.
fn extract<T: 'static>(
    req: &HttpRequest,
    decide: impl FnOnce(Option<Caller>) -> Result<T, ApiError> + 'static,
) -> Extracted<T> {
    let req = req.clone();
    Box::pin(async move { decide(authenticate(&req).await?) })
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |caller| match required(caller)? {
            Caller::User(principal) => Ok(AuthUser(principal)),
            Caller::Client { .. } => Err(ApiError::InsufficientScope(
                "this operation needs a person's session, not an API client's token",
            )),
        })
    }
}

impl FromRequest for PostsWriter {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |caller| match required(caller)? {
            Caller::User(principal) => Ok(PostsWriter(principal.actor())),
            Caller::Client { actor, scopes } if scopes.contains(Scope::PostsWrite) => {
                Ok(PostsWriter(actor))
            }
            Caller::Client { .. } => Err(ApiError::InsufficientScope(
                "the client lacks the posts:write scope",
            )),
        })
    }
}

/// A person signed in *here*, with the session their token belongs to: for logging out and
/// changing the password. A user of the external identity provider has neither here (their
/// sessions and password are the provider's): 409 `external_account`.
#[derive(Debug, Clone, Copy)]
pub struct SessionUser {
    pub principal: Principal,
    pub session: SessionId,
}

impl FromRequest for SessionUser {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let AuthUser(principal) = user.await?;
            let session = principal
                .session_id
                .ok_or_else(ApiError::external_account)?;
            Ok(SessionUser { principal, session })
        })
    }
}

/// An authenticated admin. Anyone else authenticated gets 403 `insufficient_scope`.
#[derive(Debug, Clone, Copy)]
pub struct AdminUser(pub Principal);

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |caller| match required(caller)? {
            Caller::User(principal) if principal.is_admin() => Ok(AdminUser(principal)),
            _ => Err(ApiError::InsufficientScope("this operation is for admins")),
        })
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |caller| {
            Ok(MaybeAuthUser(match caller {
                Some(Caller::User(principal)) => Some(principal),
                // A client is nobody's profile owner: it sees the public view.
                Some(Caller::Client { .. }) | None => None,
            }))
        })
    }
}

/// Who reads posts, for the drafts and scheduled posts only their author may see: a person,
/// an API client with `posts:write` (it reads as the admin who registered it, whose posts it
/// writes), or nobody. A bad token is still 401, never silently anonymous.
#[derive(Debug, Clone, Copy)]
pub struct PostsReader(pub Option<Actor>);

impl FromRequest for PostsReader {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |caller| {
            Ok(PostsReader(match caller {
                Some(Caller::User(principal)) => Some(principal.actor()),
                Some(Caller::Client { actor, scopes }) if scopes.contains(Scope::PostsWrite) => {
                    Some(actor)
                }
                Some(Caller::Client { .. }) | None => None,
            }))
        })
    }
}

/// `Ok(None)` when there is no `Authorization` header; the caller otherwise.
async fn authenticate(req: &HttpRequest) -> Result<Option<Caller>, ApiError> {
    match authenticate_with(req, &[b"bearer"]).await? {
        Some((_, true)) => Err(ApiError::Unauthorized(AuthFailure::InvalidToken(
            "a token of the RealWorld API (/api) is accepted only there: log in on /api/v1",
        ))),
        other => Ok(other.map(|(caller, _)| caller)),
    }
}

/// The account calling with `Authorization: Token <jwt>` or `Bearer <jwt>` (the RealWorld API's
/// scheme, and the one some of its frontends send instead); `Ok(None)` without the header.
/// Only people: an API client's token has no account to act as here. With the principal,
/// whether the token is one `/api` issued.
pub async fn token_or_bearer_user(
    req: &HttpRequest,
) -> Result<Option<(Principal, bool)>, ApiError> {
    match authenticate_with(req, &[b"token", b"bearer"]).await? {
        Some((Caller::User(principal), realworld)) => Ok(Some((principal, realworld))),
        Some((Caller::Client { .. }, _)) => Err(ApiError::Unauthorized(AuthFailure::InvalidToken(
            "an API client's token does not act as an account here",
        ))),
        None => Ok(None),
    }
}

/// [`authenticate`] accepting the `schemes` given (lower-case); with the caller, whether the
/// token is a RealWorld (`/api`) one.
async fn authenticate_with(
    req: &HttpRequest,
    schemes: &[&[u8]],
) -> Result<Option<(Caller, bool)>, ApiError> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let token = credential_token(header, schemes).map_err(ApiError::Unauthorized)?;
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or_else(|| ApiError::internal("TokenKeys missing from app data"))?;
    let store = req
        .app_data::<web::Data<Store>>()
        .ok_or_else(|| ApiError::internal("Store missing from app data"))?;
    let subject = keys.authenticate(token).await.map_err(|error| {
        ApiError::Unauthorized(match error {
            TokenError::Expired => AuthFailure::TokenExpired,
            TokenError::Invalid(why) => AuthFailure::InvalidToken(why),
        })
    })?;
    let realworld = matches!(
        subject,
        Subject::User {
            realworld: true,
            ..
        }
    );
    let caller = match subject {
        Subject::User { id, session, .. } => store
            .principal(id, session)
            .await?
            .map(Caller::User)
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken(
                "the session has ended or the account no longer exists",
            )))?,
        Subject::Client { id, scopes } => store
            .client_actor(id)
            .await?
            .map(|actor| Caller::Client { actor, scopes })
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken(
                "the client has been revoked",
            )))?,
        Subject::External(identity) => Caller::User(store.external_principal(&identity).await?),
    };
    Ok(Some((caller, realworld)))
}

/// RFC 6750 section 2.1 `b64token` characters (a JWT is three base64url parts joined by `.`).
const B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let c = byte as u8;
        table[byte] = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=');
        byte += 1;
    }
    table
};

/// The token of an `Authorization: Bearer <token>` header.
///
/// actix-web-httpauth 0.8's `Bearer::parse` matches the scheme name case-sensitively, but RFC 9110
/// section 11.1 makes it case-insensitive (`bearer`, `BEARER`), so the scheme is matched here. Its
/// challenge builder is still what renders our `WWW-Authenticate` headers (see `error.rs`).
#[cfg(test)]
fn bearer_token(header: &HeaderValue) -> Result<&str, AuthFailure> {
    credential_token(header, &[b"bearer"])
}

/// The token of an `Authorization: <scheme> <token>` header whose scheme is one of `schemes`
/// (lower-case), matched case-insensitively.
fn credential_token<'h>(
    header: &'h HeaderValue,
    schemes: &[&[u8]],
) -> Result<&'h str, AuthFailure> {
    // Bytes, not `HeaderValue::to_str`: that is a second pass over every byte of every token,
    // and the table below already refuses anything that is not a visible ASCII token character.
    let value = header.as_bytes().trim_ascii();
    let (scheme, token) = match value.iter().position(|&byte| byte == b' ') {
        Some(at) => (&value[..at], &value[at + 1..]),
        None => (value, &[][..]),
    };
    if !schemes
        .iter()
        .any(|known| scheme.eq_ignore_ascii_case(known))
    {
        // Another scheme (Basic...) carries no bearer token: RFC 6750 3.1 says answer as if absent.
        return Err(AuthFailure::MissingToken);
    }
    let token = token.trim_ascii();
    let malformed = AuthFailure::InvalidToken("the bearer token is malformed");
    // A table lookup per byte: this runs for every byte of every token, and both a substring
    // search per character (2% of a profile of GET /users/me) and then a `matches!` on decoded
    // `char`s after `to_str` (4.4% of a profile of POST /posts, the largest symbol of ours)
    // showed up.
    if token.is_empty() || !token.iter().all(|&byte| B64TOKEN[usize::from(byte)]) {
        return Err(malformed);
    }
    // All ASCII by now, so this cannot fail (and checks ASCII a word at a time).
    std::str::from_utf8(token).map_err(|_| malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_is_case_insensitive_and_token_checked() {
        let parse = |v: &'static str| bearer_token(&HeaderValue::from_static(v)).map(str::to_owned);
        assert_eq!(parse("Bearer abc.def.ghi"), Ok("abc.def.ghi".into()));
        assert_eq!(parse("bearer abc"), Ok("abc".into()));
        assert_eq!(parse("BEARER   abc  "), Ok("abc".into()));
        assert_eq!(parse("Basic dXNlcjpwYXNz"), Err(AuthFailure::MissingToken));
        assert!(matches!(parse("Bearer"), Err(AuthFailure::InvalidToken(_))));
        assert!(matches!(
            parse("Bearer a b"),
            Err(AuthFailure::InvalidToken(_))
        ));
        assert!(matches!(
            parse("Bearer <script>"),
            Err(AuthFailure::InvalidToken(_))
        ));
        assert_eq!(parse("Bearer aZ09-._~+/="), Ok("aZ09-._~+/=".into()));
        let bytes = |v: &'static [u8]| bearer_token(&HeaderValue::from_bytes(v).unwrap()).is_err();
        assert!(bytes(b"Bearer abc\xff"), "not ASCII");
        assert!(
            bytes(b"Bearer \xc3\xa9t\xc3\xa9"),
            "UTF-8, still not a token"
        );
        for bad in ["Bearer a,b", "Bearer a\"b", "Bearer a;b", "Bearer a%2Eb"] {
            assert!(
                matches!(parse(bad), Err(AuthFailure::InvalidToken(_))),
                "{bad}"
            );
        }
    }
}
