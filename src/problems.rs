//! The problem+json responses operations can answer, as OpenAPI response sets for
//! `#[utoipa::path(responses(...))]`: beside [`crate::error::ApiError`], which produces them, so
//! that handlers document their failures without depending on the OpenAPI document.

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

/// problem+json responses with these statuses and descriptions.
fn problems(list: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content(crate::error::PROBLEM_JSON, content);
            (status.to_string(), RefOr::T(response.build()))
        })
        .collect()
}

/// What any operation with a JSON body can answer besides success.
pub struct BodyProblems;

impl IntoResponses for BodyProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            (400, "Malformed JSON"),
            (
                408,
                "The body did not arrive whole in time (10 s by default); the connection is closed",
            ),
            (
                413,
                "Body over the limit (64 KiB for accounts, 1 MiB for posts)",
            ),
            (415, "Body not sent as application/json"),
            (422, "Invalid, missing, unknown or read-only fields"),
        ])
    }
}

/// What a protected operation answers without a valid token.
pub struct AuthProblems;

impl IntoResponses for AuthProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(401, "Missing, invalid or expired access token")])
    }
}

/// What changing an existing post can answer besides success.
pub struct PostWriteProblems;

impl IntoResponses for PostWriteProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            (403, "Not the author"),
            (404, "No such post"),
            (412, "The post changed since the ETag given in If-Match"),
        ])
    }
}

/// A 404 for a path id that names nothing.
pub struct NotFoundProblem;

impl IntoResponses for NotFoundProblem {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(404, "Not found")])
    }
}

/// What an operation on a password or a session answers for an external issuer's user.
pub struct ExternalAccountProblem;

impl IntoResponses for ExternalAccountProblem {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(
            409,
            "`external_account`: the account signs in at the external identity provider",
        )])
    }
}

/// What deleting an account answers when an admin tries to delete their own.
pub struct AdminAccountProblem;

impl IntoResponses for AdminAccountProblem {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(
            409,
            "`admin_account`: an admin cannot delete their own account",
        )])
    }
}

/// What every `/api/v1/auth/*` operation can answer when a client sends too many requests.
pub struct RateLimitProblem;

impl IntoResponses for RateLimitProblem {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(
            429,
            "Too many requests from this address; for a login, also too many failed logins for \
             the account (see Retry-After)",
        )])
    }
}

/// What an operation that hashes a password answers when every hashing slot and the queue
/// are full.
pub struct OverloadProblem;

impl IntoResponses for OverloadProblem {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(
            503,
            "Too many password hashes in progress; retry shortly (see Retry-After)",
        )])
    }
}
