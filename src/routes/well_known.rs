//! `/.well-known/...`: what other services discover about us.

use actix_web::{web, HttpResponse};

use crate::auth::TokenKeys;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/.well-known/jwks.json", "GET").get(jwks));
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
