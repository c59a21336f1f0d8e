//! The OpenAPI 3.1 document, generated from the handlers and types themselves, and Swagger UI.

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};

use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{auth, clients, comments, feed, health, posts, tags, users, well_known};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "blog-api",
        description = "A blog backend: posts, comments, favorites, follows, accounts and JWT \
            bearer authentication.\n\n\
            Click **Authorize**, enter your username (or email) and password under \
            `oauth2_password`, then try the protected operations.",
    ),
    paths(
        health::index, health::health, well_known::jwks, feed::feed,
        auth::signup, auth::login, auth::refresh, auth::logout, auth::token,
        clients::create, clients::list, clients::revoke,
        users::me, users::update_me, users::delete_me, users::change_password, users::profile,
        users::sessions, users::end_session, users::list, users::delete_user,
        users::follow, users::unfollow, users::feed,
        posts::list, posts::create, posts::get, posts::replace, posts::update, posts::delete,
        posts::favorite, posts::unfavorite,
        comments::list, comments::create, comments::delete,
        tags::list,
    ),
    components(schemas(crate::error::Problem, posts::TagName)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Signup and login"),
        (name = "users", description = "Accounts, profiles, follows and the feed"),
        (name = "posts", description = "Blog posts, their comments and favorites, and tags"),
        (name = "clients", description = "API clients (machine clients, client credentials)"),
        (name = "service", description = "Index and health"),
    )
)]
pub struct ApiDoc;

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

/// `GET /api/v1/openapi.json`. Registered before the `/api/v1` scope (a scope does not fall
/// through to later services), so the API's routes need not know the document.
pub fn configure_document(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::resource(OPENAPI_PATH, "GET").get(|| async {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(DOCUMENT.as_str())
    }));
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
