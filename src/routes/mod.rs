//! HTTP routes, one module per resource. A URL's code is found from the URL alone:
//! `/api/v1/posts/...` is in `posts.rs`.

pub mod auth;
pub mod health;
pub mod posts;
pub mod users;

use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::store::StoreError;

/// Every route of the service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure).service(
        web::scope("/api/v1")
            .configure(auth::configure)
            .configure(users::configure)
            .configure(posts::configure),
    );
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
        }
    }
}
