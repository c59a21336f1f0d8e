use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, post_body, spawn_app, PASSWORD};

#[tokio::test]
async fn me_shows_the_own_account_with_email() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let response = app.get_as("/api/v1/users/me", &alice.token).await;
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["id"], alice.id.as_str());
    assert_eq!(me["email"], "alice@example.com");
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(me.get("password_hash").is_none() && !me.to_string().contains("argon2"));
}

#[tokio::test]
async fn profiles_show_email_only_to_their_owner() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let path = format!("/api/v1/users/{}", alice.id);

    let anonymous: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(anonymous["username"], "alice");
    assert!(anonymous.get("email").is_none(), "{anonymous}");
    let as_bob: Value = app.get_as(&path, &bob.token).await.json().await.unwrap();
    assert!(as_bob.get("email").is_none(), "{as_bob}");
    let as_alice: Value = app.get_as(&path, &alice.token).await.json().await.unwrap();
    assert_eq!(as_alice["email"], "alice@example.com");

    let bad_token = app.get_as(&path, "not.a.token").await;
    assert_problem(bad_token, 401, "invalid_token").await;
    let unknown = app
        .get(&format!("/api/v1/users/{}", uuid::Uuid::now_v7()))
        .await;
    assert_problem(unknown, 404, "not_found").await;
}

#[tokio::test]
async fn patch_me_sets_and_clears_the_name() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let patch =
        |body: Value| app.send_json(Method::PATCH, "/api/v1/users/me", Some(&alice.token), &body);

    let named: Value = patch(json!({"name": "Alice Liddell"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(named["name"], "Alice Liddell");
    let unchanged: Value = patch(json!({})).await.json().await.unwrap();
    assert_eq!(
        unchanged["name"], "Alice Liddell",
        "an absent field is left alone"
    );
    let cleared: Value = patch(json!({"name": null})).await.json().await.unwrap();
    assert_eq!(cleared["name"], Value::Null);

    for (body, field, reason) in [
        (json!({"name": "  "}), "name", "blank name"),
        (json!({"name": "n".repeat(101)}), "name", "too long"),
        (json!({"email": "not an email"}), "email", "bad email"),
        (json!({"role": "admin"}), "role", "role is read-only"),
        (json!([]), "body", "an array, not an object"),
    ] {
        let problem = assert_problem(patch(body).await, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{reason}: {problem}");
    }
    let me: Value = app
        .get_as("/api/v1/users/me", &alice.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "user");
}

#[tokio::test]
async fn password_change_needs_the_current_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let other_login: Value = app
        .login(&json!({"username": "alice", "password": PASSWORD}))
        .await
        .json()
        .await
        .unwrap();
    let other_token = other_login["access_token"].as_str().unwrap();
    let new_password = "a brand new passphrase 42";
    let change = |current: &str, new: &str| {
        app.send_json(
            Method::PUT,
            "/api/v1/users/me/password",
            Some(&alice.token),
            &json!({"current_password": current, "new_password": new}),
        )
    };

    let wrong = assert_problem(
        change("not my password", new_password).await,
        422,
        "validation_failed",
    )
    .await;
    assert!(wrong["errors"]["current_password"].is_array());
    let weak = assert_problem(
        change(PASSWORD, "password1").await,
        422,
        "validation_failed",
    )
    .await;
    assert!(weak["errors"]["new_password"].is_array());
    assert_eq!(
        app.get_as("/api/v1/users/me", other_token).await.status(),
        200,
        "failed changes end nothing"
    );

    assert_eq!(change(PASSWORD, new_password).await.status(), 204);
    assert_eq!(
        app.get_as("/api/v1/users/me", &alice.token).await.status(),
        200,
        "this session lives on"
    );
    assert_problem(
        app.get_as("/api/v1/users/me", other_token).await,
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(
        app.login(&json!({"username": "alice", "password": PASSWORD}))
            .await
            .status(),
        401
    );
    assert_eq!(
        app.login(&json!({"username": "alice", "password": new_password}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn deleting_the_account_removes_its_posts_and_ends_its_tokens() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let post = app.create_post(&alice.token, &post_body("Alice's")).await;
    app.create_post(&bob.token, &post_body("Bob's")).await;

    let response = app
        .send_as(Method::DELETE, "/api/v1/users/me", &alice.token)
        .await;
    assert_eq!(response.status(), 204);

    assert_problem(
        app.get_as("/api/v1/users/me", &alice.token).await,
        401,
        "invalid_token",
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/posts/{}", post["id"].as_str().unwrap()))
            .await,
        404,
        "not_found",
    )
    .await;
    let page: Value = app.get("/api/v1/posts").await.json().await.unwrap();
    let titles: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Bob's"]);
    assert_eq!(
        app.login(&json!({"username": "alice", "password": PASSWORD}))
            .await
            .status(),
        401
    );
    assert_eq!(
        app.get(&format!("/api/v1/users/{}", alice.id))
            .await
            .status(),
        404
    );
    // The name is free again.
    app.signup("alice").await;
}
