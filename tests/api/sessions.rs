//! Sessions: refresh rotation with reuse detection, logout, session management.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp, PASSWORD};

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
        .await
}

async fn login(app: &TestApp, user_agent: &str) -> Value {
    let response = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("user-agent", user_agent)
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn token(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn refresh_rotates_the_pair_within_the_same_session() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let response = refresh(&app, &alice.refresh_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let pair: Value = response.json().await.unwrap();
    assert_ne!(token(&pair, "refresh_token"), alice.refresh_token);
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(
        app.get_as("/api/v1/users/me", &token(&pair, "access_token"))
            .await
            .status(),
        200
    );
    let sessions: Value = app
        .get_as("/api/v1/users/me/sessions", &token(&pair, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sessions.as_array().unwrap().len(),
        1,
        "still one session: {sessions}"
    );
    assert_eq!(
        app.get_as("/api/v1/users/me", &alice.token).await.status(),
        200,
        "the older access token lives until exp"
    );
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let other_session = login(&app, "other device").await;
    let newest: Value = refresh(&app, &alice.refresh_token)
        .await
        .json()
        .await
        .unwrap();

    let replay = refresh(&app, &alice.refresh_token).await;
    let challenge = replay.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(challenge, "Bearer realm=\"blog-api\"");
    assert_problem(replay, 401, "invalid_grant").await;

    assert_problem(
        app.get_as("/api/v1/users/me", &token(&newest, "access_token"))
            .await,
        401,
        "invalid_token",
    )
    .await;
    assert_problem(
        app.get_as("/api/v1/users/me", &alice.token).await,
        401,
        "invalid_token",
    )
    .await;
    assert_problem(
        refresh(&app, &token(&newest, "refresh_token")).await,
        401,
        "invalid_grant",
    )
    .await;
    let other = token(&other_session, "access_token");
    assert_eq!(
        app.get_as("/api/v1/users/me", &other).await.status(),
        200,
        "other sessions are untouched"
    );
}

#[tokio::test]
async fn of_parallel_refreshes_of_one_token_exactly_one_succeeds() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let attempts = (0..8).map(|_| {
        app.send_json(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": alice.refresh_token}),
        )
    });
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        7,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn unknown_and_malformed_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    assert_problem(
        refresh(&app, "not-a-token-we-issued").await,
        401,
        "invalid_grant",
    )
    .await;
    assert_problem(refresh(&app, &alice.token).await, 401, "invalid_grant").await;
    let missing = app.post_json("/api/v1/auth/refresh", &json!({})).await;
    assert_problem(missing, 422, "validation_failed").await;
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let other = login(&app, "laptop").await;
    let response = app
        .send_as(Method::POST, "/api/v1/auth/logout", &alice.token)
        .await;
    assert_eq!(response.status(), 204);
    assert_problem(
        app.get_as("/api/v1/users/me", &alice.token).await,
        401,
        "invalid_token",
    )
    .await;
    assert_problem(
        refresh(&app, &alice.refresh_token).await,
        401,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        app.get_as("/api/v1/users/me", &token(&other, "access_token"))
            .await
            .status(),
        200
    );
    let again = app
        .send_as(Method::POST, "/api/v1/auth/logout", &alice.token)
        .await;
    assert_problem(again, 401, "invalid_token").await;
}

#[tokio::test]
async fn sessions_are_listed_and_can_be_ended_one_by_one() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let phone = login(&app, "phone/1.0").await;
    let bob = app.signup("bob").await;

    let listed: Value = app
        .get_as("/api/v1/users/me/sessions", &alice.token)
        .await
        .json()
        .await
        .unwrap();
    let sessions = listed.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{listed}");
    let current: Vec<bool> = sessions
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1);
    let phone_session = sessions
        .iter()
        .find(|s| s["user_agent"] == "phone/1.0")
        .expect("the phone's session");
    assert_eq!(phone_session["current"], false);
    assert!(phone_session["created_at"].is_string() && phone_session["last_used_at"].is_string());

    let path = format!(
        "/api/v1/users/me/sessions/{}",
        phone_session["id"].as_str().unwrap()
    );
    let as_bob = app.send_as(Method::DELETE, &path, &bob.token).await;
    assert_problem(as_bob, 404, "not_found").await;
    assert_eq!(
        app.get_as("/api/v1/users/me", &token(&phone, "access_token"))
            .await
            .status(),
        200
    );

    let ended = app.send_as(Method::DELETE, &path, &alice.token).await;
    assert_eq!(ended.status(), 204);
    assert_problem(
        app.get_as("/api/v1/users/me", &token(&phone, "access_token"))
            .await,
        401,
        "invalid_token",
    )
    .await;
    let listed: Value = app
        .get_as("/api/v1/users/me/sessions", &alice.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

/// The token of an earlier generation with its generation field rewritten: the MAC no longer
/// matches, as for anyone who knows a session id but holds none of its tokens.
fn with_generation(token: &str, generation: u64) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
    bytes[16..24].copy_from_slice(&generation.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_refresh_token_many_rotations_old_still_revokes_the_session() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let mut current = alice.refresh_token.clone();
    let mut access = alice.token.clone();
    for _ in 0..50 {
        let pair: Value = refresh(&app, &current).await.json().await.unwrap();
        current = token(&pair, "refresh_token");
        access = token(&pair, "access_token");
    }
    assert_eq!(app.get_as("/api/v1/users/me", &access).await.status(), 200);
    assert_problem(
        refresh(&app, &alice.refresh_token).await,
        401,
        "invalid_grant",
    )
    .await;
    assert_problem(
        app.get_as("/api/v1/users/me", &access).await,
        401,
        "invalid_token",
    )
    .await;
    assert_problem(refresh(&app, &current).await, 401, "invalid_grant").await;
}

#[tokio::test]
async fn a_forged_earlier_generation_does_not_revoke_anything() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let pair: Value = refresh(&app, &alice.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    let current = token(&pair, "refresh_token");
    // Generation 0 of this session, but with the random part and MAC of generation 1.
    let forged = with_generation(&current, 0);
    assert_problem(refresh(&app, &forged).await, 401, "invalid_grant").await;
    assert_eq!(
        app.get_as("/api/v1/users/me", &token(&pair, "access_token"))
            .await
            .status(),
        200,
        "the session lives on"
    );
    assert_eq!(refresh(&app, &current).await.status(), 200);
}
