//! Malformed requests of every kind get problem+json with the right status.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_problem, post_body, spawn_app};

#[tokio::test]
async fn malformed_bodies_are_400_415_413_or_422() {
    let app = spawn_app().await;
    let user = app.signup("alice").await;
    let big_title = "x".repeat(1024 * 1024 + 1);
    // (body, content type, status, code, reason)
    let cases: Vec<(String, &str, u16, &str, &str)> = vec![
        (
            "{\"title\": ".into(),
            "application/json",
            400,
            "malformed_json",
            "truncated JSON",
        ),
        (
            "{'title': 'x'}".into(),
            "application/json",
            400,
            "malformed_json",
            "single quotes",
        ),
        (
            "".into(),
            "application/json",
            400,
            "malformed_json",
            "empty body",
        ),
        (
            "title=x&content=y".into(),
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
            "a form",
        ),
        (
            "{\"title\":\"x\",\"content\":\"y\"}".into(),
            "text/plain",
            415,
            "unsupported_media_type",
            "text/plain",
        ),
        (
            format!("{{\"title\":\"{big_title}\",\"content\":\"y\"}}"),
            "application/json",
            413,
            "payload_too_large",
            "over 1 MiB",
        ),
        (
            "[]".into(),
            "application/json",
            422,
            "validation_failed",
            "an array",
        ),
        (
            "{\"title\":1,\"content\":\"y\"}".into(),
            "application/json",
            422,
            "validation_failed",
            "wrong type",
        ),
    ];
    for (body, content_type, status, code, reason) in cases {
        let response = app
            .request(Method::POST, "/api/v1/posts")
            .bearer_auth(&user.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{reason}");
        assert_problem(response, status, code).await;
    }
    let missing_type = app
        .request(Method::POST, "/api/v1/posts")
        .bearer_auth(&user.token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(missing_type, 415, "unsupported_media_type").await;
    let page = app
        .get("/api/v1/posts")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(page["data"], json!([]), "nothing was stored by any of them");
}

#[tokio::test]
async fn auth_bodies_are_limited_to_64_kib_and_posts_to_1_mib() {
    let app = spawn_app().await;
    let signup =
        json!({"username": "alice", "email": "a@example.com", "password": "x".repeat(65 * 1024)});
    assert_problem(app.signup_raw(&signup).await, 413, "payload_too_large").await;

    let user = app.signup("bob").await;
    let mut body = post_body("Long");
    body["content"] = json!("word ".repeat(20_000)); // 100 KB: over the auth limit, fine for posts
    let response = app
        .send_json(Method::POST, "/api/v1/posts", Some(&user.token), &body)
        .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn bad_path_ids_are_404() {
    let app = spawn_app().await;
    let user = app.signup("alice").await;
    assert_problem(app.get("/api/v1/users/not-a-uuid").await, 404, "not_found").await;
    assert_problem(
        app.get("/api/v1/posts/no-such-slug").await,
        404,
        "not_found",
    )
    .await;
    let response = app
        .send_json(
            Method::PATCH,
            "/api/v1/posts/123",
            Some(&user.token),
            &json!({"title": "x"}),
        )
        .await;
    assert_problem(response, 404, "not_found").await;
    let response = app
        .send_as(Method::DELETE, "/api/v1/posts/%00", &user.token)
        .await;
    assert_problem(response, 404, "not_found").await;
}

#[tokio::test]
async fn cors_lets_a_configured_frontend_send_authorization_and_json() {
    let app =
        crate::helpers::spawn_app_with(|s| s.cors_origins = vec!["https://blog.example".into()])
            .await;
    let preflight = |origin: &'static str| {
        app.request(Method::OPTIONS, "/api/v1/posts")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://blog.example").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://blog.example"
    );
    let headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );

    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    // actix-cors answered this 400 in plain text.
    assert_problem(refused, 400, "cors_refused").await;
    let no_origins_configured = spawn_app().await;
    let refused = no_origins_configured
        .request(Method::OPTIONS, "/api/v1/posts")
        .header("origin", "https://blog.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_problem(refused, 400, "cors_refused").await;
}

/// Browsers must not sniff a type other than the one declared, and no API response is a page
/// that may load anything or be framed.
#[tokio::test]
async fn every_response_says_nosniff_and_allows_nothing_to_load_or_frame_it() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let responses = [
        ("health", app.get("/health").await),
        ("a post list", app.get("/api/v1/posts").await),
        ("the document", app.get("/api/v1/openapi.json").await),
        (
            "a profile",
            app.get_as("/api/v1/users/me", &alice.token).await,
        ),
        ("no token", app.get("/api/v1/users/me").await),
        ("an unknown route", app.get("/nope").await),
        (
            "a wrong method",
            app.request(Method::DELETE, "/api/v1/posts")
                .send()
                .await
                .unwrap(),
        ),
        (
            "malformed JSON",
            app.request(Method::POST, "/api/v1/auth/login")
                .header("content-type", "application/json")
                .body("{")
                .send()
                .await
                .unwrap(),
        ),
    ];
    for (what, response) in responses {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(
            headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{what}"
        );
    }
}

/// A NUL character is refused in stored text and matches nothing in a lookup, on either engine
/// (PostgreSQL refuses NUL in text: it must never reach it as an error, a 503).
#[tokio::test]
async fn nul_characters_are_refused_in_text_and_match_nothing_in_lookups() {
    let app = crate::helpers::spawn_app().await;
    let alice = app.signup("alice").await;
    let mut body = crate::helpers::post_body("Fine title");
    body["content"] = serde_json::json!("before\u{0}after");
    let refused = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/posts",
            Some(&alice.token),
            &body,
        )
        .await;
    assert_problem(refused, 422, "validation_failed").await;
    assert_eq!(app.get("/api/articles/a%00b").await.status(), 404);
    assert_eq!(app.get("/api/profiles/a%00b").await.status(), 404);
    let listed = app.get("/api/articles?author=a%00b").await;
    assert_eq!(listed.status(), 200);
    let login = app
        .login(&serde_json::json!({"username": "ali\u{0}ce", "password": "whatever it is"}))
        .await;
    assert_eq!(login.status(), 401);
    let cursor = base64_cursor("-8000000000000000.00000000-0000-0000-0000-000000000000");
    let page = app.get(&format!("/api/v1/posts?cursor={cursor}")).await;
    assert_problem(page, 422, "validation_failed").await;
}

fn base64_cursor(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
