//! One error type for the whole API, rendered as RFC 9457 problem details.
//!
//! Every failure a client can see goes through [`ApiError`], including actix's own (malformed
//! JSON, wrong content type, bad path ids, unknown routes), so clients parse one shape.

use std::collections::BTreeMap;
use std::fmt;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use actix_web_httpauth::headers::www_authenticate::bearer::{
    Bearer as Challenge, Error as ChallengeError,
};
use serde::Serialize;

/// The realm every bearer challenge names.
pub const REALM: &str = "blog-api";

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// `Result` for handlers and extractors.
pub type ApiResult<T> = Result<T, ApiError>;

/// Field name -> what is wrong with it, for 422 responses.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `message` against `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// Builder form of [`FieldErrors::add`] that ignores `None`, handy with `Result::err()`.
    pub fn with(mut self, field: &str, message: Option<String>) -> Self {
        if let Some(message) = message {
            self.add(field, message);
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every field with its messages.
    pub fn fields(&self) -> &BTreeMap<String, Vec<String>> {
        &self.0
    }

    /// `Ok(())` when empty, otherwise the 422 error carrying these fields.
    pub fn into_result(self) -> ApiResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self))
        }
    }
}

/// Why a request was not authenticated. Each maps to a 401 with a bearer challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header at all (RFC 6750 section 3.1: no `error=` then).
    MissingToken,
    /// The token is malformed, forged, for another audience, revoked or for an unknown user.
    InvalidToken(&'static str),
    /// The token was valid once and has expired.
    TokenExpired,
    /// Login failed. Deliberately one variant for "no such account" and "wrong password".
    InvalidCredentials,
    /// A refresh token that is unknown, expired, or already used (which revokes its session).
    InvalidGrant,
    /// An API client's id or secret is wrong, or the client was revoked (RFC 6749 5.2).
    InvalidClient,
}

/// Every error the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not parseable (malformed JSON, bad form encoding).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// 401.
    #[error("{}", auth_detail(*.0))]
    Unauthorized(AuthFailure),
    /// 403: authenticated, but not allowed to do this.
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    /// 403 with an `error="insufficient_scope"` bearer challenge (RFC 6750 section 3.1): a
    /// valid token without the privilege (not an admin, a client without the scope, a client
    /// where a person's session is needed).
    #[error("{0}")]
    InsufficientScope(&'static str),
    /// 404: the named thing does not exist (or the path id is not an id).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 408: the request body did not arrive whole in time (a stalled or trickling client).
    #[error("the request body did not arrive within {} s", .0.as_secs_f64())]
    RequestTimeout(std::time::Duration),
    /// 405, with the methods that are allowed.
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: &'static str },
    /// 409: a unique value is taken.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// 412: `If-Match` named a version that is no longer current.
    #[error("the resource has changed since the ETag given in If-Match")]
    PreconditionFailed,
    /// 413.
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415.
    #[error("the request body must be sent as {expected}")]
    UnsupportedMediaType { expected: &'static str },
    /// 429: too many requests from this client or for this account; retry after the delay.
    #[error("{detail}")]
    TooManyRequests {
        retry_after_secs: u64,
        detail: String,
    },
    /// 503: every password-hashing slot is busy and the queue is full.
    #[error("the server is busy; retry shortly")]
    Overloaded,
    /// 503: the database did not answer in time (no connection within the pool's timeout, or
    /// the connection broke). Nothing was changed, or the change is unknown: retry.
    #[error("the database is unavailable; retry shortly")]
    StoreUnavailable,
    /// 422: the body parsed but its values are invalid.
    #[error("the request has invalid fields")]
    Validation(FieldErrors),
    /// 422 for a query string or body that could not be read into its fields at all.
    #[error("{0}")]
    InvalidInput(String),
    /// 500. The cause is logged, never sent.
    #[error("an internal error occurred")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn auth_detail(failure: AuthFailure) -> &'static str {
    match failure {
        AuthFailure::MissingToken => {
            "an access token is required: send Authorization: Bearer <token>"
        }
        AuthFailure::InvalidToken(why) => why,
        AuthFailure::TokenExpired => "the access token has expired",
        AuthFailure::InvalidCredentials => "invalid username, email or password",
        AuthFailure::InvalidGrant => "the refresh token is invalid, expired or already used",
        AuthFailure::InvalidClient => "unknown client or wrong client secret",
    }
}

impl ApiError {
    /// Wraps any error as a 500 whose cause is logged but not shown.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }

    /// 409 `external_account`: the account of an external identity provider's user has no
    /// password or session here to change or end.
    pub fn external_account() -> Self {
        Self::Conflict {
            code: "external_account",
            detail: "this account signs in at the external identity provider; its password and \
                     sessions are managed there"
                .into(),
        }
    }

    /// 409 `admin_account`: an admin may not delete their own account. Admins are made only from
    /// `BLOG_ADMIN_*` at startup, so the service would be left without one until a restart.
    pub fn admin_account() -> Self {
        Self::Conflict {
            code: "admin_account",
            detail: "an admin cannot delete their own account: the service would have no admin \
                     until a restart (admins come from BLOG_ADMIN_* at startup)"
                .into(),
        }
    }

    /// A 403 with a stable code.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            detail: detail.into(),
        }
    }

    /// The stable, machine-readable `code` of the problem body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. } => code,
            Self::Unauthorized(AuthFailure::MissingToken) => "missing_token",
            Self::Unauthorized(AuthFailure::InvalidToken(_)) => "invalid_token",
            Self::Unauthorized(AuthFailure::TokenExpired) => "token_expired",
            Self::Unauthorized(AuthFailure::InvalidCredentials) => "invalid_credentials",
            Self::Unauthorized(AuthFailure::InvalidGrant) => "invalid_grant",
            Self::Unauthorized(AuthFailure::InvalidClient) => "invalid_client",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::StoreUnavailable => "store_unavailable",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::RequestTimeout(_) => "request_timeout",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Validation(_) | Self::InvalidInput(_) => "validation_failed",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The `WWW-Authenticate` challenge for a 401, per RFC 6750 section 3: no `error=` when the
    /// request carried no token, `invalid_token` when it carried a bad one.
    fn challenge(&self) -> Option<String> {
        let challenge = Challenge::build().realm(REALM);
        let failure = match self {
            // Client authentication is HTTP Basic (RFC 6749 section 2.3.1).
            Self::Unauthorized(AuthFailure::InvalidClient) => {
                return Some(format!("Basic realm=\"{REALM}\""));
            }
            Self::Unauthorized(failure) => failure,
            Self::InsufficientScope(detail) => {
                let challenge = challenge
                    .error(ChallengeError::InsufficientScope)
                    .error_description(*detail);
                return Some(challenge.finish().to_string());
            }
            _ => return None,
        };
        let challenge = match failure {
            AuthFailure::MissingToken
            | AuthFailure::InvalidCredentials
            | AuthFailure::InvalidGrant
            | AuthFailure::InvalidClient => challenge,
            AuthFailure::InvalidToken(_) | AuthFailure::TokenExpired => challenge
                .error(ChallengeError::InvalidToken)
                .error_description(auth_detail(*failure)),
        };
        Some(challenge.finish().to_string())
    }
}

/// RFC 9457 problem details, plus our stable `code` and, for 422, `errors`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "about:blank", "title": "Unauthorized", "status": 401,
    "detail": "the access token has expired", "code": "token_expired"
}))]
pub struct Problem {
    /// Always `about:blank`: the status and `code` say what happened.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The HTTP reason phrase of `status`.
    pub title: &'static str,
    pub status: u16,
    /// A human-readable explanation of this occurrence.
    pub detail: String,
    /// A stable machine-readable code, e.g. `validation_failed`, `token_expired`.
    pub code: &'static str,
    /// For 422: field name -> messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::HashMap<String, Vec<String>>>)]
    pub errors: Option<FieldErrors>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } | Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded | Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            tracing::error!(cause = %ErrorChain(cause.as_ref()), "internal error");
        }
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(challenge) = self.challenge() {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        match self {
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, *allow));
            }
            Self::TooManyRequests {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Overloaded => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::StoreUnavailable => {
                response.insert_header((header::RETRY_AFTER, "2"));
            }
            // The rest of the body may still be on its way: this connection is done.
            Self::RequestTimeout(_) => {
                response.force_close();
            }
            _ => {}
        }
        let errors = match self {
            Self::Validation(errors) => Some(errors.clone()),
            _ => None,
        };
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code(),
            errors,
        };
        response.body(serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// Formats an error with its whole `source()` chain on one line, for logs.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(error: ApiError) -> serde_json::Value {
        let response = error.error_response();
        serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap()
    }

    #[actix_web::test]
    async fn internal_errors_hide_their_cause() {
        let body = body_of(ApiError::internal("disk on fire at /secret/path")).await;
        assert_eq!(body["status"], 500);
        assert_eq!(body["detail"], "an internal error occurred");
        assert!(!body.to_string().contains("secret"));
    }

    #[actix_web::test]
    async fn validation_errors_list_fields() {
        let errors = FieldErrors::new()
            .with("email", Some("is not valid".into()))
            .with("x", None);
        let body = body_of(ApiError::Validation(errors)).await;
        assert_eq!(
            body["errors"],
            serde_json::json!({"email": ["is not valid"]})
        );
        assert_eq!(body["code"], "validation_failed");
    }

    #[test]
    fn expired_tokens_carry_an_invalid_token_challenge() {
        let response = ApiError::Unauthorized(AuthFailure::TokenExpired).error_response();
        let challenge = response.headers().get(header::WWW_AUTHENTICATE).unwrap();
        assert!(challenge
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""));
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            PROBLEM_JSON
        );
    }
}
