use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, PASSWORD};

#[tokio::test]
async fn signup_returns_the_account_and_a_token_pair() {
    let app = spawn_app().await;
    let response = app
        .signup_raw(&json!({"username": "Alice", "email": "Alice@Example.com", "password": PASSWORD, "name": " Alice L. "}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/users/{}", body["user"]["id"].as_str().unwrap())
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(
        body["refresh_token"].as_str().unwrap().len() >= 43,
        "256 bits, base64url"
    );
    assert_eq!(
        body["user"]["username"], "alice",
        "usernames are stored lower-case"
    );
    assert_eq!(body["user"]["email"], "Alice@Example.com");
    assert_eq!(body["user"]["name"], "Alice L.");
    assert_eq!(body["user"]["role"], "user");
    assert!(
        !body.to_string().contains("argon2"),
        "no hash in a response"
    );
    assert!(!body.to_string().contains(PASSWORD));

    let me = app
        .get_as("/api/v1/users/me", body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status(), 200, "the access token works at once");
}

#[tokio::test]
async fn duplicate_email_or_username_is_409_ignoring_case() {
    let app = spawn_app().await;
    app.signup("alice").await;
    let cases = [
        (
            json!({"username": "bob", "email": "ALICE@example.com", "password": PASSWORD}),
            "email_taken",
            "same email, other case",
        ),
        (
            json!({"username": "ALICE", "email": "bob@example.com", "password": PASSWORD}),
            "username_taken",
            "same username, other case",
        ),
    ];
    for (body, code, reason) in cases {
        let response = app.signup_raw(&body).await;
        assert_eq!(response.status(), 409, "{reason}");
        assert_problem(response, 409, code).await;
    }
}

#[tokio::test]
async fn invalid_signups_are_422_naming_each_field() {
    let app = spawn_app().await;
    let ok = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases = [
        (
            with("username", json!("al")),
            "username",
            "username too short",
        ),
        (
            with("username", json!("a".repeat(33))),
            "username",
            "username too long",
        ),
        (
            with("username", json!("al ice")),
            "username",
            "space in username",
        ),
        (
            with("username", json!("admin")),
            "username",
            "a reserved name",
        ),
        (
            with("username", json!("Blog_API")),
            "username",
            "a reserved name in other case and spelling",
        ),
        (
            with("email", json!("not-an-email")),
            "email",
            "email without @",
        ),
        (
            with("password", json!("short")),
            "password",
            "password under 8 characters",
        ),
        (
            with("password", json!("x".repeat(129))),
            "password",
            "password over 128 characters",
        ),
        (
            with("password", json!("password123")),
            "password",
            "common password",
        ),
        (
            with("password", json!("alice12345")),
            "password",
            "password from the username",
        ),
        (with("name", json!("")), "name", "empty name"),
        (with("role", json!("admin")), "role", "read-only field"),
        (with("id", json!("x")), "id", "unknown field"),
        (without("email"), "email", "missing email"),
        (with("username", json!(42)), "username", "wrong type"),
    ];
    for (body, field, reason) in cases {
        let response = app.signup_raw(&body).await;
        assert_eq!(response.status(), 422, "{reason}");
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{reason}: {problem}");
    }
    let all = app
        .signup_raw(&json!({"username": "x", "email": "y", "password": "z"}))
        .await;
    let problem = assert_problem(all, 422, "validation_failed").await;
    for field in ["username", "email", "password"] {
        assert!(
            problem["errors"][field].is_array(),
            "every bad field is named at once: {problem}"
        );
    }
    assert_eq!(
        app.login(&json!({"username": "alice", "password": PASSWORD}))
            .await
            .status(),
        401,
        "nothing was created"
    );
}

#[tokio::test]
async fn unicode_passwords_are_kept_exactly() {
    let app = spawn_app().await;
    let password = "Żółć gęślą jaźń 🦀";
    let response = app
        .signup_raw(&json!({"username": "zofia", "email": "z@example.com", "password": password}))
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        app.login(&json!({"username": "zofia", "password": password}))
            .await
            .status(),
        200
    );
    let folded = password.to_lowercase();
    assert_eq!(
        app.login(&json!({"username": "zofia", "password": folded}))
            .await
            .status(),
        401,
        "not case-folded"
    );
    let truncated: String = password.chars().take(10).collect();
    assert_eq!(
        app.login(&json!({"username": "zofia", "password": truncated}))
            .await
            .status(),
        401,
        "not truncated"
    );
}

#[tokio::test]
async fn login_by_email_or_username_as_json() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    for body in [
        json!({"email": alice.email, "password": PASSWORD}),
        json!({"email": alice.email.to_uppercase(), "password": PASSWORD}),
        json!({"username": "alice", "password": PASSWORD}),
        json!({"username": "ALICE", "password": PASSWORD}),
    ] {
        let response = app.login(&body).await;
        assert_eq!(response.status(), 200, "{body}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["user"]["id"], alice.id.as_str());
        let me = app
            .get_as("/api/v1/users/me", tokens["access_token"].as_str().unwrap())
            .await;
        assert_eq!(me.status(), 200);
    }
}

#[tokio::test]
async fn login_as_oauth2_password_form_like_swagger_ui() {
    let app = spawn_app().await;
    app.signup("alice").await;
    let form = |grant: &str, username: &str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .form(&[
                ("grant_type", grant),
                ("username", username),
                ("password", PASSWORD),
                ("scope", ""),
            ])
            .send()
    };
    for username in ["alice", "alice@example.com"] {
        let response = form("password", username).await.unwrap();
        assert_eq!(response.status(), 200, "{username}");
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        assert!(tokens["access_token"].is_string());
    }
    assert_problem(
        form("client_credentials", "alice").await.unwrap(),
        400,
        "unsupported_grant_type",
    )
    .await;
    let no_password = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .form(&[("grant_type", "password"), ("username", "alice")])
        .send()
        .await
        .unwrap();
    assert_problem(no_password, 422, "validation_failed").await;
}

#[tokio::test]
async fn unknown_account_and_wrong_password_are_indistinguishable() {
    let app = spawn_app().await;
    app.signup("alice").await;
    let mut bodies = Vec::new();
    for body in [
        json!({"email": "alice@example.com", "password": "wrong password here"}),
        json!({"email": "nobody@example.com", "password": "wrong password here"}),
        json!({"username": "alice", "password": "wrong password here"}),
        json!({"username": "nobody", "password": PASSWORD}),
    ] {
        let response = app.login(&body).await;
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"blog-api\""
        );
        bodies.push(assert_problem(response, 401, "invalid_credentials").await);
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "identical bodies: {bodies:?}"
    );
}

#[tokio::test]
async fn login_needs_exactly_one_of_email_and_username() {
    let app = spawn_app().await;
    for body in [
        json!({"password": PASSWORD}),
        json!({"email": "a@example.com", "username": "a", "password": PASSWORD}),
    ] {
        assert_problem(app.login(&body).await, 422, "validation_failed").await;
    }
    let text = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_problem(text, 415, "unsupported_media_type").await;
}
