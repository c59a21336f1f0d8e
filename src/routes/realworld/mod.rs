//! `/api`: the RealWorld (Conduit) API, so that any RealWorld frontend runs on this blog.
//!
//! An adapter, not a second service: every operation goes through the same store, accounts,
//! sessions, password rules, throttles and tokens as `/api/v1`. A post is an article (`body` is
//! its content, `tagList` its tags), a RealWorld login is a session like any other, and its
//! token dies with the session (logout, password change, account deletion) on the next request.
//!
//! What differs is the envelope: `{"user": ...}`, `{"article": ...}`,
//! `{"articles": [...], "articlesCount": n}`, errors as `{"errors": {"field": ["message"]}}`,
//! `Authorization: Token <jwt>` (or `Bearer`), and offset pages. Handlers return the same
//! [`ApiError`]s as the rest of the service; [`realworld_errors`] rewrites any of them, from a
//! handler or an extractor (a malformed body, a bad token), into RealWorld's error shape, with
//! its status and headers (`Retry-After`, `Allow`, `WWW-Authenticate`) kept.

mod articles;
mod comments;
mod profiles;
mod users;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};

use crate::auth::AuthRateLimit;
use crate::domain::rfc3339_millis;
use crate::error::{ApiError, AuthFailure};
use crate::http::auth::token_or_bearer_user;
use crate::store::{Author, Principal};

/// How long the tokens `/api` issues live (`BLOG_REALWORLD_TOKEN_TTL`).
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetime(pub Duration);

/// Every route under `/api` but `/api/v1`, which is registered before this scope.
pub fn configure(cfg: &mut web::ServiceConfig, rate_limit: &AuthRateLimit) {
    cfg.service(
        web::scope("/api")
            .wrap(from_fn(realworld_errors))
            .app_data(crate::http::BodyLimit::POSTS)
            .configure(|cfg| users::configure(cfg, rate_limit))
            .configure(profiles::configure)
            .configure(articles::configure)
            .configure(comments::configure)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::NotFound("route"))
            })),
    );
}

/// RealWorld's error body: `{"errors": {"field": ["message", ...]}}`.
#[derive(Serialize)]
struct Errors {
    errors: BTreeMap<String, Vec<String>>,
}

/// The RealWorld form of an error of ours: which field it is about, in RealWorld's words.
fn errors_of(error: &ApiError) -> BTreeMap<String, Vec<String>> {
    let one = |field: &str, message: String| BTreeMap::from([(field.to_owned(), vec![message])]);
    match error {
        ApiError::Unauthorized(failure) => match failure {
            AuthFailure::MissingToken => one("token", "is missing".into()),
            AuthFailure::TokenExpired => one("token", "has expired".into()),
            AuthFailure::InvalidCredentials => one("credentials", "invalid".into()),
            _ => one("token", "is invalid".into()),
        },
        // The resource a 404 or a 403 is about, by RealWorld's names.
        ApiError::NotFound(what) => one(realworld_name(what), "not found".into()),
        ApiError::Forbidden { code, .. } => one(realworld_name(code), "forbidden".into()),
        ApiError::InsufficientScope(_) => one("token", "forbidden".into()),
        ApiError::Conflict { code, .. } => {
            let field = match *code {
                "email_taken" => "email",
                "username_taken" => "username",
                other => other,
            };
            one(field, "has already been taken".into())
        }
        ApiError::Validation(fields) => fields.fields().clone(),
        ApiError::TooManyRequests { detail, .. } => one("request", detail.clone()),
        ApiError::Internal(_) => one("server", "an internal error occurred".into()),
        other => one("request", other.to_string()),
    }
}

/// Our name for a resource, as RealWorld calls it.
fn realworld_name(what: &str) -> &str {
    match what {
        "post" | "not_author" => "article",
        "user" => "profile",
        other => other,
    }
}

/// Rewrites every error answer under `/api` into RealWorld's shape, keeping status and headers.
/// A 429 from the rate limiter (which answers before any handler, with no [`ApiError`]) too.
async fn realworld_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = next.call(req).await?;
    let errors = match response.response().error() {
        Some(error) => error.as_error::<ApiError>().map(errors_of),
        None if response.status() == StatusCode::TOO_MANY_REQUESTS => Some(BTreeMap::from([(
            "request".to_owned(),
            vec!["too many requests from this address; retry after Retry-After seconds".to_owned()],
        )])),
        None => None,
    };
    let Some(errors) = errors else {
        return Ok(response.map_into_boxed_body());
    };
    let body = serde_json::to_vec(&Errors { errors })
        .map_err(|error| actix_web::Error::from(ApiError::internal(error)))?;
    let (req, mut response) = response.into_parts();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let response = response.set_body(BoxBody::new(body));
    Ok(ServiceResponse::new(req, response))
}

/// The account calling, with the token it called with (RealWorld echoes it in `user.token`).
pub struct TokenUser {
    pub principal: Principal,
    pub token: String,
    /// Whether `/api` issued the token (rather than `/api/v1`).
    pub own_token: bool,
}

impl FromRequest for TokenUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (principal, own_token) = token_or_bearer_user(&req)
                .await?
                .ok_or(ApiError::Unauthorized(AuthFailure::MissingToken))?;
            // Checked and ASCII by now: the token is the header's last word.
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split_whitespace().last())
                .unwrap_or_default()
                .to_owned();
            Ok(Self {
                principal,
                token,
                own_token,
            })
        })
    }
}

/// The account calling, if a token is sent (a bad one is still refused).
pub struct Viewer(pub Option<Principal>);

impl FromRequest for Viewer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = token_or_bearer_user(&req).await?;
            Ok(Self(caller.map(|(principal, _)| principal)))
        })
    }
}

impl Viewer {
    fn actor(&self) -> Option<crate::store::Actor> {
        self.0.as_ref().map(Principal::actor)
    }

    fn user_id(&self) -> Option<crate::domain::UserId> {
        self.0.as_ref().map(|principal| principal.user_id)
    }
}

/// A profile as RealWorld shows it.
#[derive(Serialize)]
struct ProfileView {
    username: String,
    bio: Option<String>,
    image: Option<String>,
    following: bool,
}

impl From<&Author> for ProfileView {
    fn from(author: &Author) -> Self {
        Self {
            username: author.username.as_str().to_owned(),
            bio: author.bio.as_ref().map(|bio| bio.as_str().to_owned()),
            image: author.image.as_ref().map(|image| image.as_str().to_owned()),
            following: author.following,
        }
    }
}

/// A time as RealWorld shows it: RFC 3339 with milliseconds, UTC.
#[derive(Serialize)]
#[serde(transparent)]
struct Time(#[serde(serialize_with = "rfc3339_millis")] crate::domain::Timestamp);

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value: what `PUT` bodies
/// need to tell "leave it" from "clear it".
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// RealWorld's message for an empty required field.
const BLANK: &str = "can't be blank";

/// `Err(BLANK)` for a missing or blank text.
fn required(value: Option<&str>) -> Result<&str, String> {
    value
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| BLANK.to_owned())
}
