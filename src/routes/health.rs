//! `GET /`, `GET /health` and `GET /.well-known/jwks.json`.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::TokenKeys;
use crate::store::Store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/", "GET").get(index))
        .service(super::resource("/health", "GET").get(health))
        .service(super::resource("/.well-known/jwks.json", "GET").get(jwks));
}

/// The public keys our access tokens are signed with (RFC 7517), for services that verify them
/// without calling us. Empty with HS256, whose secret is never published; with EdDSA or RS256,
/// the current key and, after a rotation, the previous one until its tokens have expired.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "service",
    responses((status = 200, description = "A JWK Set", content_type = "application/jwk-set+json",
        example = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
            "kid": "nBNtMy9DpJ1EzqPyRi1HaQe0kuwWjsSOTJpGAbpPHyo",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})))
)]
pub async fn jwks(keys: web::Data<TokenKeys>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        // Short enough that a rotation is seen well within a token's lifetime.
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(keys.jwks())
}

/// The service's name, version and where to start.
#[utoipa::path(get, path = "/", tag = "service", responses((status = 200, description = "Service index")))]
pub async fn index() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "description": env!("CARGO_PKG_DESCRIPTION"),
        "links": {
            "docs": "/docs/",
            "openapi": "/api/v1/openapi.json",
            "health": "/health",
            "jwks": "/.well-known/jwks.json",
            "posts": "/api/v1/posts",
            "signup": "/api/v1/auth/signup",
            "login": "/api/v1/auth/login",
        }
    }))
}

/// Liveness and the store's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    /// Which store backs the service, and that it answers.
    pub store: StoreHealth,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoreHealth {
    /// `disk` (journaled) or `memory` (`BLOG_STORAGE`).
    #[schema(example = "disk")]
    pub backend: &'static str,
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = 42)]
    pub posts: usize,
}

/// 200 while the service can answer; it takes the store lock, so a wedged store shows here.
#[utoipa::path(get, path = "/health", tag = "service", responses((status = 200, description = "The service answers; the store it runs on and its size", body = Health)))]
pub async fn health(store: web::Data<Store>) -> HttpResponse {
    let stats = store.stats().await;
    HttpResponse::Ok().json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        store: StoreHealth {
            backend: if store.is_durable() { "disk" } else { "memory" },
            status: "ok",
            posts: stats.posts,
        },
    })
}
