//! API clients: registered by admins, client credentials for tokens, scopes, revocation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use blog_api::config::{AdminAccount, Settings};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{
    app_with_admin as app, assert_problem, post_body, spawn_app_in, TestApp, ADMIN_PASSWORD,
    TEST_SECRET,
};

/// Registers a client with `scopes`; returns (client_id, client_secret).
async fn register(app: &TestApp, admin: &str, scopes: &[&str]) -> (String, String) {
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/clients",
            Some(admin),
            &json!({"name": "Importer", "scopes": scopes}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}

async fn token_basic(
    app: &TestApp,
    id: &str,
    secret: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    app.request(Method::POST, "/api/v1/auth/token")
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn token_post(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ];
    app.request(Method::POST, "/api/v1/auth/token")
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_gets_a_token_and_writes_posts_as_its_admin() {
    let (app, admin) = app().await;
    let (id, secret) = register(&app, &admin, &["posts:read", "posts:write"]).await;
    for response in [
        token_basic(&app, &id, &secret, None).await,
        token_post(&app, &id, &secret).await,
    ] {
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "posts:read posts:write");
        assert!(body.get("refresh_token").is_none());
        let token = body["access_token"].as_str().unwrap();
        let post = app.create_post(token, &post_body("From a machine")).await;
        assert_eq!(post["author"]["username"], "root");
        let edited = app
            .send_json(
                Method::PATCH,
                &format!("/api/v1/posts/{}", post["id"].as_str().unwrap()),
                Some(token),
                &json!({"title": "Edited by a machine"}),
            )
            .await;
        assert_eq!(edited.status(), 200);
    }
    let listed: Value = app
        .get_as("/api/v1/clients", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["client_id"], id.as_str());
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once only"
    );
}

#[tokio::test]
async fn wrong_or_unknown_credentials_are_401_invalid_client() {
    let (app, admin) = app().await;
    let (id, secret) = register(&app, &admin, &["posts:write"]).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for (client, secret, reason) in [
        (id.as_str(), "wrong-secret", "wrong secret"),
        (id.as_str(), &secret[..secret.len() - 1], "secret cut short"),
        (unknown.as_str(), secret.as_str(), "unknown client"),
        ("not-a-uuid", secret.as_str(), "malformed client id"),
    ] {
        let response = token_basic(&app, client, secret, None).await;
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"blog-api\"",
            "{reason}"
        );
        assert_problem(response, 401, "invalid_client").await;
        assert_problem(
            token_post(&app, client, secret).await,
            401,
            "invalid_client",
        )
        .await;
    }
}

#[tokio::test]
async fn malformed_grants_are_400() {
    let (app, admin) = app().await;
    let (id, secret) = register(&app, &admin, &["posts:read"]).await;
    let both = app
        .request(Method::POST, "/api/v1/auth/token")
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_problem(both, 400, "invalid_request").await;
    let none = app
        .request(Method::POST, "/api/v1/auth/token")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_problem(none, 400, "invalid_request").await;
    let password = app
        .request(Method::POST, "/api/v1/auth/token")
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_problem(password, 400, "unsupported_grant_type").await;
    assert_problem(
        token_basic(&app, &id, &secret, Some("posts:write")).await,
        400,
        "invalid_scope",
    )
    .await;
    let json = app
        .post_json(
            "/api/v1/auth/token",
            &json!({"grant_type": "client_credentials"}),
        )
        .await;
    assert_problem(json, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_missing_scope_is_403_insufficient_scope() {
    let (app, admin) = app().await;
    let (id, secret) = register(&app, &admin, &["posts:read", "posts:write"]).await;
    let narrowed: Value = token_basic(&app, &id, &secret, Some("posts:read"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(narrowed["scope"], "posts:read");
    let token = narrowed["access_token"].as_str().unwrap();
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/posts",
            Some(token),
            &post_body("Not allowed"),
        )
        .await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_problem(response, 403, "insufficient_scope").await;
    // A client is not a person: no account endpoints, no admin powers.
    assert_problem(
        app.get_as("/api/v1/users/me", token).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_problem(
        app.get_as("/api/v1/clients", token).await,
        403,
        "insufficient_scope",
    )
    .await;
    let page: Value = app.get("/api/v1/posts").await.json().await.unwrap();
    assert_eq!(page["data"], json!([]));
}

#[tokio::test]
async fn revoking_a_client_stops_its_tokens_at_once() {
    let (app, admin) = app().await;
    let (id, secret) = register(&app, &admin, &["posts:write"]).await;
    let body: Value = token_post(&app, &id, &secret).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    app.create_post(token, &post_body("Before")).await;

    let revoked = app
        .send_as(Method::DELETE, &format!("/api/v1/clients/{id}"), &admin)
        .await;
    assert_eq!(revoked.status(), 204);
    let after = app
        .send_json(
            Method::POST,
            "/api/v1/posts",
            Some(token),
            &post_body("After"),
        )
        .await;
    assert_problem(after, 401, "invalid_token").await;
    assert_problem(token_post(&app, &id, &secret).await, 401, "invalid_client").await;
    let again = app
        .send_as(Method::DELETE, &format!("/api/v1/clients/{id}"), &admin)
        .await;
    assert_problem(again, 404, "not_found").await;
}

#[tokio::test]
async fn only_admins_manage_clients() {
    let (app, admin) = app().await;
    let alice = app.signup("alice").await;
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/clients",
            Some(&alice.token),
            &json!({"name": "Mine", "scopes": ["posts:write"]}),
        )
        .await;
    assert_problem(response, 403, "insufficient_scope").await;
    assert_problem(
        app.get_as("/api/v1/clients", &alice.token).await,
        403,
        "insufficient_scope",
    )
    .await;
    for (body, field) in [
        (json!({"name": "", "scopes": ["posts:write"]}), "name"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "x", "scopes": ["root"]}), "scopes"),
        (
            json!({"name": "x", "scopes": ["posts:write"], "secret": "mine"}),
            "secret",
        ),
    ] {
        let response = app
            .send_json(Method::POST, "/api/v1/clients", Some(&admin), &body)
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{problem}");
    }
}

/// An admin cannot delete their own account, so the registering admin is deleted by a second
/// admin: the one configured after a restart with other `BLOG_ADMIN_*` values.
#[tokio::test]
async fn deleting_the_registering_admin_revokes_its_clients() {
    if crate::helpers::on_postgres("deleting_the_registering_admin_revokes_its_clients") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin_named = |name: &'static str| {
        move |s: &mut Settings| {
            s.admin = Some(AdminAccount {
                username: name.into(),
                email: format!("{name}@example.com"),
                password: SecretString::from(ADMIN_PASSWORD),
            })
        }
    };
    let first = spawn_app_in(&data, admin_named("root")).await;
    let root: Value = first
        .login(&json!({"username": "root", "password": ADMIN_PASSWORD}))
        .await
        .json()
        .await
        .unwrap();
    let root_token = root["access_token"].as_str().unwrap().to_owned();
    let (id, secret) = register(&first, &root_token, &["posts:write"]).await;
    first.stop().await;

    let app = spawn_app_in(&data, admin_named("chief")).await;
    let body: Value = token_post(&app, &id, &secret).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    app.create_post(&token, &post_body("Before")).await;
    let chief: Value = app
        .login(&json!({"username": "chief", "password": ADMIN_PASSWORD}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(chief["user"]["role"], "admin", "{chief}");
    let deleted = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/users/{}", root["user"]["id"].as_str().unwrap()),
            chief["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let after = app
        .send_json(
            Method::POST,
            "/api/v1/posts",
            Some(&token),
            &post_body("After"),
        )
        .await;
    assert_problem(after, 401, "invalid_token").await;
    assert_problem(token_post(&app, &id, &secret).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn a_client_token_without_iat_or_issued_in_the_future_is_refused() {
    let (app, admin) = app().await;
    let (id, secret) = register(&app, &admin, &["posts:write"]).await;
    let body: Value = token_post(&app, &id, &secret).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let sign = |claims: &Value| {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        encode(
            &header,
            claims,
            &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let create = |token: String| {
        app.send_json(
            Method::POST,
            "/api/v1/posts",
            Some(&token),
            &post_body("Forged"),
        )
    };
    assert_eq!(
        create(sign(&claims)).await.status(),
        201,
        "re-signed as it was, the token is accepted"
    );
    let mut ahead = claims.clone();
    ahead["iat"] = json!(chrono::Utc::now().timestamp() + 11 * 24 * 60 * 60);
    let mut without = claims.clone();
    without.as_object_mut().unwrap().remove("iat");
    for (forged, reason) in [(ahead, "iat 11 days ahead"), (without, "no iat")] {
        let response = create(sign(&forged)).await;
        assert_eq!(response.status(), 401, "{reason}");
        assert_problem(response, 401, "invalid_token").await;
    }
}

#[tokio::test]
async fn a_client_reads_the_drafts_it_writes_as_its_admin() {
    let (app, admin) = app().await;
    let (id, secret) = register(&app, &admin, &["posts:write"]).await;
    let body: Value = token_post(&app, &id, &secret).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let draft = app
        .create_post(
            token,
            &json!({"title": "Imported draft", "content": "x", "status": "draft"}),
        )
        .await;
    let path = format!("/api/v1/posts/{}", draft["id"].as_str().unwrap());
    assert_eq!(app.get_as(&path, token).await.status(), 200);
    assert_eq!(app.get_as(&path, &admin).await.status(), 200);
    assert_eq!(app.get(&path).await.status(), 404);
    let drafts: Value = app
        .get_as("/api/v1/posts?status=draft", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(drafts["data"][0]["title"], "Imported draft");
}
