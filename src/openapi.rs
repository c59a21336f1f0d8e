//! The OpenAPI 3.1 document, generated from the handlers and types themselves, and Swagger UI.

use actix_web::{web, HttpResponse};
use std::collections::BTreeMap;
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};

use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{auth, clients, health, posts, users};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "blog-api",
        description = "A blog backend: posts CRUD, accounts and JWT bearer authentication.\n\n\
            Click **Authorize**, enter your username (or email) and password under \
            `oauth2_password`, then try the protected operations.",
    ),
    paths(
        health::index, health::health, health::jwks,
        auth::signup, auth::login, auth::refresh, auth::logout, auth::token,
        clients::create, clients::list, clients::revoke,
        users::me, users::update_me, users::delete_me, users::change_password, users::profile,
        users::sessions, users::end_session, users::list, users::delete_user,
        posts::list, posts::create, posts::get, posts::replace, posts::update, posts::delete,
    ),
    components(schemas(crate::error::Problem, TagName)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Signup and login"),
        (name = "users", description = "Accounts and profiles"),
        (name = "posts", description = "Blog posts"),
        (name = "clients", description = "API clients (machine clients, client credentials)"),
        (name = "service", description = "Index and health"),
    )
)]
pub struct ApiDoc;

/// A tag as clients send it; stored lower-case.
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[A-Za-z0-9-]{1,32}$", example = "rust")]
pub struct TagName(pub String);

/// OAuth2 password flow (what Swagger UI's Authorize uses) and plain HTTP bearer.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oauth2_password",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/api/v1/auth/login",
                Scopes::new(),
            ))])),
        );
        components.add_security_scheme(
            "oauth2_client",
            SecurityScheme::OAuth2(OAuth2::new([Flow::ClientCredentials(
                ClientCredentials::new(
                    "/api/v1/auth/token",
                    Scopes::from_iter([
                        ("posts:read", "read posts"),
                        (
                            "posts:write",
                            "create, change and delete posts as the registering admin",
                        ),
                    ]),
                ),
            )])),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token: ours (login, signup, refresh, client credentials) or, \
                         when BLOG_OIDC_ISSUER is set, one from that identity provider.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, rendered once.
static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// `GET /api/v1/openapi.json` (registered in the `/api/v1` scope by `routes::configure`).
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

/// Swagger UI at `/docs/` (vendored: nothing is fetched at build or run time), reading the
/// document from [`OPENAPI_PATH`]. Its online validator badge is off: it would send the
/// document's address to validator.swagger.io, which the page's policy does not allow anyway
/// (see `middleware::DOCS_POLICY`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        SwaggerUi::new("/docs/{_:.*}")
            .config(utoipa_swagger_ui::Config::new([OPENAPI_PATH]).validator_url("none")),
    )
    // SwaggerUi answers `/docs/` only; send `/docs` there.
    .service(crate::routes::resource("/docs", "GET").get(|| async {
        HttpResponse::PermanentRedirect()
            .insert_header(("Location", "/docs/"))
            .finish()
    }));
}

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
