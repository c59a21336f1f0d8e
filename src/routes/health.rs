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
    /// `disk` (journaled) or `memory` (`BLOG_STORAGE`).
    #[schema(example = "disk")]
    pub backend: &'static str,
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = 42)]
    pub posts: usize,
}

/// 200 while the service can answer, with the store it runs on and its size.
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
