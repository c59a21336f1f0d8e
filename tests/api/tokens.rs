//! The bearer guard against hostile tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, post_body, spawn_app, TestApp, TEST_SECRET};

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, alg: Algorithm, secret: &[u8], typ: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.typ = typ.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn create_with(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut request = app
        .request(Method::POST, "/api/v1/posts")
        .json(&post_body("Guarded"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn forged_expired_and_misdirected_tokens_are_401_invalid_token() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let claims = claims_of(&alice.token);
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut claims = claims.clone();
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    };
    let secret = TEST_SECRET.as_bytes();
    let good = sign(&claims, Algorithm::HS256, secret, Some("at+jwt"));
    let parts: Vec<&str> = good.split('.').collect();
    let mut tampered_claims = claims.clone();
    tampered_claims["role"] = json!("admin");

    let cases: Vec<(String, &str, &str)> = vec![
        (
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "at+jwt"})),
                b64(&claims)
            ),
            "invalid_token",
            "alg none",
        ),
        (
            format!("{}.{}", b64(&json!({"alg": "none"})), b64(&claims)),
            "invalid_token",
            "alg none, two parts",
        ),
        (
            sign(
                &claims,
                Algorithm::HS256,
                b"another-secret-that-is-32-bytes-long!!",
                Some("at+jwt"),
            ),
            "invalid_token",
            "wrong secret",
        ),
        (
            sign(&claims, Algorithm::HS384, secret, Some("at+jwt")),
            "invalid_token",
            "HS384 when HS256 is pinned",
        ),
        (
            sign(&claims, Algorithm::HS512, secret, Some("at+jwt")),
            "invalid_token",
            "HS512 when HS256 is pinned",
        ),
        (
            sign(
                &with(json!({"exp": now - 60, "iat": now - 1000, "nbf": now - 1000})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "token_expired",
            "expired",
        ),
        (
            sign(
                &with(json!({"nbf": now + 600})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "nbf in the future",
        ),
        (
            sign(
                &with(json!({"aud": "another-api"})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "wrong aud",
        ),
        (
            sign(
                &with(json!({"iss": "https://evil.example"})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "wrong iss",
        ),
        (
            sign(
                &with(json!({"exp": null})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "missing exp",
        ),
        (
            sign(
                &with(json!({"nbf": null})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "missing nbf",
        ),
        (
            sign(
                &with(json!({"iat": null})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "missing iat",
        ),
        (
            sign(
                &with(json!({"iat": now + 11 * 24 * 60 * 60})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "iat 11 days ahead",
        ),
        (
            sign(
                &with(json!({"aud": null})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "missing aud",
        ),
        (
            sign(
                &with(json!({"iss": null})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "missing iss",
        ),
        (
            sign(
                &with(json!({"sid": null})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "missing sid",
        ),
        (
            sign(
                &with(json!({"sid": uuid::Uuid::now_v7()})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "unknown session",
        ),
        (
            sign(
                &with(json!({"sub": uuid::Uuid::now_v7()})),
                Algorithm::HS256,
                secret,
                Some("at+jwt"),
            ),
            "invalid_token",
            "unknown user",
        ),
        (
            sign(&claims, Algorithm::HS256, secret, None),
            "invalid_token",
            "no typ: not an access token",
        ),
        (
            format!("{}.{}.{}", parts[0], b64(&tampered_claims), parts[2]),
            "invalid_token",
            "payload tampered",
        ),
        (
            alice.refresh_token.clone(),
            "invalid_token",
            "refresh token as access token",
        ),
        ("not-a-jwt".into(), "invalid_token", "garbage"),
        (
            format!("{good}x"),
            "invalid_token",
            "signature with an extra character",
        ),
    ];
    for (token, code, reason) in cases {
        let response = create_with(&app, Some(&format!("Bearer {token}"))).await;
        assert_eq!(response.status(), 401, "{reason}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer realm=\"blog-api\""),
            "{reason}: {challenge}"
        );
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{reason}: {challenge}"
        );
        assert_problem(response, 401, code).await;
    }
    // The unmodified re-signed token is accepted: the cases above fail for their reason only.
    assert_eq!(
        create_with(&app, Some(&format!("Bearer {good}")))
            .await
            .status(),
        201
    );
    let page: Value = app.get("/api/v1/posts").await.json().await.unwrap();
    assert_eq!(
        page["data"].as_array().unwrap().len(),
        1,
        "no forged request wrote anything"
    );
}

#[tokio::test]
async fn a_missing_token_is_401_with_a_bare_challenge() {
    let app = spawn_app().await;
    for authorization in [None, Some("Basic YWxpY2U6cGFzc3dvcmQ=")] {
        let response = create_with(&app, authorization).await;
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"blog-api\""
        );
        assert_problem(response, 401, "missing_token").await;
    }
    let malformed = create_with(&app, Some("Bearer ")).await;
    assert_problem(malformed, 401, "invalid_token").await;
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = create_with(&app, Some(&format!("{scheme} {}", alice.token))).await;
        assert_eq!(response.status(), 201, "{scheme}");
    }
}

#[tokio::test]
async fn tokens_in_the_query_string_are_never_read() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    for query in ["access_token", "token", "authorization"] {
        let response = app
            .request(
                Method::POST,
                &format!("/api/v1/posts?{query}={}", alice.token),
            )
            .json(&post_body("Sneaky"))
            .send()
            .await
            .unwrap();
        assert_problem(response, 401, "missing_token").await;
    }
}

#[tokio::test]
async fn every_write_requires_a_token() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let post = app.create_post(&alice.token, &post_body("Mine")).await;
    let id = post["id"].as_str().unwrap();
    let writes = [
        (Method::POST, "/api/v1/posts".to_owned()),
        (Method::PUT, format!("/api/v1/posts/{id}")),
        (Method::PATCH, format!("/api/v1/posts/{id}")),
        (Method::DELETE, format!("/api/v1/posts/{id}")),
        (Method::GET, "/api/v1/users/me".to_owned()),
        (Method::PATCH, "/api/v1/users/me".to_owned()),
        (Method::DELETE, "/api/v1/users/me".to_owned()),
        (Method::PUT, "/api/v1/users/me/password".to_owned()),
    ];
    for (method, path) in writes {
        let response = app
            .request(method.clone(), &path)
            .json(&post_body("x"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
    }
    assert_eq!(
        app.get(&format!("/api/v1/posts/{id}")).await.status(),
        200,
        "the post is untouched"
    );
}
