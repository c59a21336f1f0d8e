//! `GET /` and `GET /health`.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::store::Store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/", "GET").get(index))
        .service(super::resource("/health", "GET").get(health));
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
    /// `disk` (journaled) or `memory` (`BLOG_STORAGE`), or `postgres` (`BLOG_DATABASE_URL`).
    #[schema(example = "disk")]
    pub backend: &'static str,
    /// `ok`, or `unavailable` when the database does not answer.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Absent when the store does not answer.
    #[schema(example = 42)]
    pub posts: Option<usize>,
    /// PostgreSQL only: the read cache, `listening` (serving, told of every server's changes),
    /// `paused` (its notification connection is down: every read goes to the database) or
    /// `off` (`BLOG_DATABASE_CACHE_ENTRIES=0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "listening")]
    pub cache: Option<&'static str>,
    /// PostgreSQL only: how many other servers this one hears on the database (their writes
    /// and this one's wait for each other's caches).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1)]
    pub peers: Option<usize>,
}

/// 200 while the service and its store answer, with the store's engine and size; 503 (same
/// body, `status: unavailable`) while the database does not, so a load balancer takes the
/// server out of rotation.
#[utoipa::path(get, path = "/health", tag = "service", responses(
    (status = 200, description = "The service answers; the store it runs on and its size", body = Health),
    (status = 503, description = "The store (database) does not answer", body = Health),
))]
pub async fn health(store: web::Data<Store>) -> HttpResponse {
    let stats = store.health_stats().await.ok();
    let status = if stats.is_some() { "ok" } else { "unavailable" };
    let body = Health {
        status,
        version: env!("CARGO_PKG_VERSION"),
        store: StoreHealth {
            backend: store.engine_name(),
            status,
            posts: stats.map(|stats| stats.posts),
            cache: store.postgres().map(|engine| engine.cache_state()),
            peers: store.postgres().map(|engine| engine.cache_peers()),
        },
    };
    match stats {
        Some(_) => HttpResponse::Ok().json(body),
        None => HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, "2"))
            .json(body),
    }
}
