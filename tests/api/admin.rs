//! Admins: made from configuration only; list and delete users, delete any post.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{app_with_admin, assert_problem, post_body, spawn_app, ADMIN_PASSWORD};

#[tokio::test]
async fn admins_list_users_a_page_at_a_time() {
    let (app, admin) = app_with_admin().await;
    for name in ["alice", "bob", "carol"] {
        app.signup(name).await;
    }
    let first: Value = app
        .get_as("/api/v1/users?limit=2", &admin)
        .await
        .json()
        .await
        .unwrap();
    let names = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&first), ["carol", "bob"]);
    assert_eq!(
        first["data"][0]["email"], "carol@example.com",
        "admins see emails"
    );
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get_as(&format!("/api/v1/users?limit=2&cursor={cursor}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&second), ["alice", "root"]);
    assert_eq!(second["next_cursor"], Value::Null);
    assert_problem(
        app.get_as("/api/v1/users?limit=0", &admin).await,
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn others_get_403_insufficient_scope() {
    let (app, _admin) = app_with_admin().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let response = app.get_as("/api/v1/users", &alice.token).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_problem(response, 403, "insufficient_scope").await;
    let delete = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/users/{}", bob.id),
            &alice.token,
        )
        .await;
    assert_problem(delete, 403, "insufficient_scope").await;
    assert_eq!(
        app.get(&format!("/api/v1/users/{}", bob.id)).await.status(),
        200,
        "bob is still there"
    );
    assert_problem(app.get("/api/v1/users").await, 401, "missing_token").await;
}

#[tokio::test]
async fn admins_delete_any_user_or_post() {
    let (app, admin) = app_with_admin().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let post = app.create_post(&bob.token, &post_body("Spam")).await;

    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let deleted = app.send_as(Method::DELETE, &path, &admin).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.get(&path).await.status(), 404);
    let edit = app
        .send_json(Method::PATCH, &path, Some(&admin), &json!({"title": "x"}))
        .await;
    assert_problem(edit, 404, "not_found").await;

    let removed = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/users/{}", alice.id),
            &admin,
        )
        .await;
    assert_eq!(removed.status(), 204);
    assert_problem(
        app.get_as("/api/v1/users/me", &alice.token).await,
        401,
        "invalid_token",
    )
    .await;
    let again = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/users/{}", alice.id),
            &admin,
        )
        .await;
    assert_problem(again, 404, "not_found").await;
}

/// Admins come only from configuration at startup: one deleting their own account would leave
/// the service without an admin until a restart.
#[tokio::test]
async fn an_admin_cannot_delete_their_own_account() {
    let (app, admin) = app_with_admin().await;
    let me: Value = app
        .get_as("/api/v1/users/me", &admin)
        .await
        .json()
        .await
        .unwrap();
    let own = format!("/api/v1/users/{}", me["id"].as_str().unwrap());
    for path in ["/api/v1/users/me", own.as_str()] {
        let response = app.send_as(Method::DELETE, path, &admin).await;
        assert_problem(response, 409, "admin_account").await;
    }
    assert_eq!(
        app.get_as("/api/v1/users", &admin).await.status(),
        200,
        "the admin is still there"
    );
    let alice = app.signup("alice").await;
    let deleted = app
        .send_as(Method::DELETE, "/api/v1/users/me", &alice.token)
        .await;
    assert_eq!(deleted.status(), 204, "anyone else still can");
}

#[tokio::test]
async fn admin_is_never_granted_by_signing_up() {
    let (app, _admin) = app_with_admin().await;
    let clash = app
        .signup_raw(
            &json!({"username": "root2", "email": "ROOT@example.com", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_problem(clash, 409, "email_taken").await;
    let plain = spawn_app().await;
    let reserved = plain
        .signup_raw(
            &json!({"username": "admin", "email": "admin@example.com", "password": ADMIN_PASSWORD}),
        )
        .await;
    let problem = assert_problem(reserved, 422, "validation_failed").await;
    assert_eq!(
        problem["errors"]["username"][0],
        "is reserved; choose another"
    );
    let response = plain
        .signup_raw(
            &json!({"username": "chief", "email": "chief@example.com", "password": ADMIN_PASSWORD}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["role"], "user");
    assert_problem(
        plain
            .get_as("/api/v1/users", body["access_token"].as_str().unwrap())
            .await,
        403,
        "insufficient_scope",
    )
    .await;
}
