//! HTTP routes, one module per resource. A URL's code is found from the URL alone:
//! `/api/v1/posts/...` is in `posts.rs`.

pub mod auth;
pub mod clients;
pub mod comments;
pub mod feed;
pub mod health;
pub mod posts;
pub mod realworld;
pub mod tags;
pub mod users;
pub mod well_known;

use actix_web::{web, HttpResponse};

use crate::auth::AuthRateLimit;
use crate::error::{ApiError, FieldErrors};
use crate::store::{Cursor, StoreError};

/// Every route of the service.
pub fn configure(cfg: &mut web::ServiceConfig, rate_limit: &AuthRateLimit) {
    cfg.configure(health::configure)
        .configure(well_known::configure)
        .configure(feed::configure)
        .service(
            web::scope("/api/v1")
                .configure(|cfg| auth::configure(cfg, rate_limit))
                .configure(users::configure)
                .configure(clients::configure)
                .configure(posts::configure)
                .configure(tags::configure),
        )
        .configure(|cfg| realworld::configure(cfg, rate_limit));
}

/// A resource whose unsupported methods answer 405 with `Allow`, in problem+json, rather than
/// actix's empty 405 or a misleading 404.
pub(crate) fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow })
    }))
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::EmailTaken => ApiError::Conflict {
                code: "email_taken",
                detail: error.to_string(),
            },
            StoreError::UsernameTaken => ApiError::Conflict {
                code: "username_taken",
                detail: error.to_string(),
            },
            StoreError::NotAuthor => ApiError::forbidden("not_author", error.to_string()),
            StoreError::VersionMismatch => ApiError::PreconditionFailed,
            StoreError::DraftWithPublishTime => ApiError::Validation(
                FieldErrors::new().with("published_at", Some(error.to_string())),
            ),
            StoreError::Unavailable => ApiError::StoreUnavailable,
            StoreError::FollowSelf => {
                ApiError::Validation(FieldErrors::new().with("id", Some(error.to_string())))
            }
        }
    }
}

/// Page size: 1-100, default 20.
pub(crate) const DEFAULT_PAGE: usize = 20;
pub(crate) const MAX_PAGE: usize = 100;

/// `limit` and `cursor` of a list query; what is wrong with them goes into `errors`.
pub(crate) fn page_params(
    limit: Option<&str>,
    cursor: Option<&str>,
    errors: &mut FieldErrors,
) -> (usize, Option<Cursor>) {
    let limit = match limit.map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(limit)) if (1..=MAX_PAGE).contains(&limit) => limit,
        Some(_) => {
            errors.add("limit", format!("must be an integer from 1 to {MAX_PAGE}"));
            DEFAULT_PAGE
        }
    };
    let cursor = match cursor.map(Cursor::decode) {
        Some(None) => {
            errors.add("cursor", "is not a cursor this API returned");
            None
        }
        other => other.flatten(),
    };
    (limit, cursor)
}
