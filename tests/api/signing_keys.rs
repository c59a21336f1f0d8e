//! Our own asymmetric keys: `BLOG_JWT_ALGORITHM=EdDSA|RS256`, the JWKS at
//! `/.well-known/jwks.json`, and rotation by replacing the key file.

use std::path::{Path, PathBuf};

use blog_api::config::{JwtAlgorithm, Settings};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, spawn_app_in, spawn_app_with, TestApp, PASSWORD};
use crate::idp::fixture;

fn key_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name)
}

fn with_key(algorithm: JwtAlgorithm, file: &str) -> impl FnOnce(&mut Settings) {
    let path = key_file(file);
    move |s: &mut Settings| {
        s.jwt_secret = None;
        s.jwt_algorithm = algorithm;
        s.jwt_key_file = Some(path);
    }
}

async fn jwks(app: &TestApp) -> JwkSet {
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    response.json().await.unwrap()
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys
        .iter()
        .map(|key| key.common.key_id.clone().expect("every key has a kid"))
        .collect()
}

/// Verifies `token` the way another service would: with nothing but our published JWKS.
fn verify_with_jwks(set: &JwkSet, token: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.expect("our tokens name their key");
    let jwk = set.find(&kid).expect("the token's key is published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["blog-api"]);
    validation.set_issuer(&["blog-api"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("verifies with the published key")
        .claims
}

#[tokio::test]
async fn hs256_publishes_no_keys() {
    let app = spawn_app().await;
    assert!(jwks(&app).await.keys.is_empty());
}

#[tokio::test]
async fn eddsa_and_rs256_tokens_verify_with_the_published_keys() {
    for (algorithm, file, alg) in [
        (JwtAlgorithm::EdDsa, "ed25519-a.pem", Algorithm::EdDSA),
        (JwtAlgorithm::Rs256, "rsa-a.pem", Algorithm::RS256),
    ] {
        let app = spawn_app_with(with_key(algorithm, file)).await;
        let account = app.signup("alice").await;
        let header = jsonwebtoken::decode_header(&account.token).unwrap();
        assert_eq!(header.alg, alg);
        let set = jwks(&app).await;
        assert_eq!(kids(&set), [header.kid.clone().unwrap()], "{alg:?}");
        let key = &set.keys[0];
        assert_eq!(
            key.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Signature)
        );
        let claims = verify_with_jwks(&set, &account.token);
        assert_eq!(claims["sub"], account.id.as_str());
        // Only the public half is published.
        let published = serde_json::to_value(&set).unwrap().to_string();
        assert!(!published.contains("\"d\""), "{published}");
        // And the token works here, for reads and writes.
        let me = app.get_as("/api/v1/users/me", &account.token).await;
        assert_eq!(me.status(), StatusCode::OK, "{alg:?}");
        // A verified token is remembered (the signature is not checked twice), but its session
        // still is: logging out stops it at once.
        let logout = app
            .send_as(reqwest::Method::POST, "/api/v1/auth/logout", &account.token)
            .await;
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
        let me = app.get_as("/api/v1/users/me", &account.token).await;
        assert_problem(me, 401, "invalid_token").await;
    }
}

#[tokio::test]
async fn our_public_key_as_an_hmac_secret_is_refused() {
    let app = spawn_app_with(with_key(JwtAlgorithm::Rs256, "rsa-a.pem")).await;
    let account = app.signup("alice").await;
    let set = jwks(&app).await;
    let real = jsonwebtoken::decode_header(&account.token).unwrap();
    let claims: Value = {
        let payload = account.token.split('.').nth(1).unwrap();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = real.kid;
    header.typ = Some("at+jwt".into());
    let secrets = [
        fixture("rsa-a.pub.pem"),
        serde_json::to_vec(&set.keys[0]).unwrap(),
    ];
    for secret in secrets {
        let forged =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
        let response = app.get_as("/api/v1/users/me", &forged).await;
        assert_problem(response, 401, "invalid_token").await;
    }
}

#[tokio::test]
async fn a_rotated_key_keeps_verifying_the_tokens_it_signed() {
    if crate::helpers::on_postgres("a_rotated_key_keeps_verifying_the_tokens_it_signed") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let app = spawn_app_in(&data, with_key(JwtAlgorithm::EdDsa, "ed25519-a.pem")).await;
    let account = app.signup("alice").await;
    let old_kid = kids(&jwks(&app).await).remove(0);
    app.stop().await;

    // The operator replaces the key file and restarts.
    let app = spawn_app_in(&data, with_key(JwtAlgorithm::EdDsa, "ed25519-b.pem")).await;
    let set = jwks(&app).await;
    let published = kids(&set);
    assert_eq!(published.len(), 2, "{published:?}");
    assert_eq!(published[1], old_kid, "the previous key is still published");
    let me = app.get_as("/api/v1/users/me", &account.token).await;
    assert_eq!(me.status(), StatusCode::OK, "a token of the previous key");
    verify_with_jwks(&set, &account.token);

    // New tokens are signed with the new key.
    let login: Value = app
        .login(&json!({"username": "alice", "password": PASSWORD}))
        .await
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    assert_eq!(kid, published[0]);
    assert_ne!(kid, old_kid);
    // The file remembers public keys only.
    let remembered = std::fs::read_to_string(data.join("jwt-keys.json")).unwrap();
    assert!(!remembered.contains("PRIVATE"), "{remembered}");
}

#[tokio::test]
async fn a_key_file_that_is_not_a_key_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("key.pem");
    std::fs::write(&bad, "not a key").unwrap();
    for (algorithm, path) in [
        (JwtAlgorithm::EdDsa, bad.clone()),
        (JwtAlgorithm::EdDsa, dir.path().join("missing.pem")),
        // An RSA key where an Ed25519 key was announced.
        (JwtAlgorithm::EdDsa, key_file("rsa-a.pem")),
    ] {
        let mut settings = Settings::defaults();
        settings.listen = "127.0.0.1:0".into();
        settings.data_dir = dir.path().join("data");
        settings.jwt_algorithm = algorithm;
        settings.jwt_key_file = Some(path.clone());
        let error = blog_api::startup::Application::build(settings)
            .await
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", path.display()));
        assert!(error.to_string().contains("BLOG_JWT_KEY_FILE"), "{error}");
    }
}
