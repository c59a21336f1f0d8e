//! Access tokens from an external identity provider, verified through its JWKS. The provider is
//! the stand-in of `idp.rs`.

use std::time::Duration;

use blog_api::config::{OidcSettings, Settings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, post_body, spawn_app_in, spawn_app_with, TestApp, PASSWORD};
use crate::idp::{fixture, Issuer, TestKey};

/// An app accepting `issuer`'s tokens, configured further by `configure`.
async fn app_for(issuer: &Issuer, configure: impl FnOnce(&mut OidcSettings)) -> TestApp {
    let mut oidc = issuer.settings();
    configure(&mut oidc);
    spawn_app_with(|s: &mut Settings| s.oidc = Some(oidc)).await
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.get_as("/api/v1/users/me", token).await
}

async fn me_ok(app: &TestApp, token: &str) -> Value {
    let response = me(app, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Waits (boundedly) until the app's startup fetch of the JWKS has happened.
async fn primed(issuer: &Issuer) {
    for _ in 0..200 {
        if issuer.jwks_hits() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the JWKS was never fetched");
}

#[tokio::test]
async fn tokens_signed_with_each_algorithm_are_accepted_as_one_local_user() {
    let rsa = TestKey::rsa();
    let ec = TestKey::new("ec-p256.pem", Algorithm::ES256, "ec-1");
    let ed = TestKey::new("ed25519-a.pem", Algorithm::EdDSA, "ed-a");
    let issuer = Issuer::start(&[&rsa, &ec, &ed]);
    let app = app_for(&issuer, |_| {}).await;

    let mut claims = issuer.claims("auth0|alice");
    claims["preferred_username"] = json!("Alice");
    claims["name"] = json!("Alice Liddell");
    let first = me_ok(&app, &rsa.sign(&claims)).await;
    assert_eq!(first["username"], "alice", "{first}");
    assert_eq!(first["name"], "Alice Liddell");
    assert_eq!(first["role"], "user");
    assert!(first.get("email").is_none(), "no email was given: {first}");
    for key in [&ec, &ed, &rsa] {
        let again = me_ok(&app, &key.sign(&claims)).await;
        assert_eq!(again["id"], first["id"], "{:?}", key.alg);
    }

    // Writes need a token too, and are authored by the local account.
    let token = ed.sign(&claims);
    let post = app.create_post(&token, &post_body("From the issuer")).await;
    assert_eq!(post["author"]["id"], first["id"]);

    // Another person at the issuer is another account; a hint that is taken is not reused.
    let mut bob = issuer.claims("auth0|bob");
    bob["preferred_username"] = json!("alice");
    let second = me_ok(&app, &rsa.sign(&bob)).await;
    assert_ne!(second["id"], first["id"]);
    let username = second["username"].as_str().unwrap();
    assert!(
        username.starts_with("ext-") && username.len() == 16,
        "{username}"
    );

    // Discovery once, the JWKS once (at startup): every key was known from then on.
    assert_eq!(issuer.discovery_hits(), 1);
    assert_eq!(issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn tokens_the_issuer_did_not_make_for_us_are_refused() {
    let rsa = TestKey::rsa();
    let ec = TestKey::new("ec-p256.pem", Algorithm::ES256, "ec-1");
    let issuer = Issuer::start(&[&rsa, &ec]);
    // Another server, serving the attacker's key: nothing may make us fetch from it.
    let attacker_key = TestKey::new("rsa-b.pem", Algorithm::RS256, "attacker");
    let attacker = Issuer::start(&[&attacker_key]);
    let app = app_for(&issuer, |_| {}).await;
    primed(&issuer).await;

    let valid = issuer.claims("auth0|alice");
    assert_eq!(me(&app, &rsa.sign(&valid)).await.status(), StatusCode::OK);
    let now = chrono::Utc::now().timestamp();
    let with = |claim: &str, value: Value| {
        let mut claims = valid.clone();
        claims[claim] = value;
        claims
    };
    let without = |claim: &str| {
        let mut claims = valid.clone();
        claims.as_object_mut().unwrap().remove(claim);
        claims
    };

    // The issuer's public key, used as an HMAC secret (key confusion).
    let public_pem = fixture("rsa-a.pub.pem");
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = Some("rsa-a".into());
    let confused =
        jsonwebtoken::encode(&hs256, &valid, &EncodingKey::from_secret(&public_pem)).unwrap();
    let mut jwk_as_secret = hs256.clone();
    jwk_as_secret.kid = Some("ec-1".into());
    let confused_jwk = jsonwebtoken::encode(
        &jwk_as_secret,
        &valid,
        &EncodingKey::from_secret(rsa.jwk().to_string().as_bytes()),
    )
    .unwrap();

    // A kid naming the EC key, on a token signed RS256 with the RSA key.
    let mut wrong_alg = rsa.header();
    wrong_alg.kid = Some("ec-1".into());
    // A kid naming the RSA key, on a token signed ES256 with the EC key.
    let mut wrong_alg_2 = ec.header();
    wrong_alg_2.kid = Some("rsa-a".into());

    // The attacker names its own key in the token: `jwk`, `jku`, `x5u` are never followed.
    let mut embedded = attacker_key.header();
    embedded.jwk = Some(serde_json::from_value(attacker_key.jwk()).unwrap());
    let mut jku = attacker_key.header();
    jku.jku = Some(attacker.jwks_url());
    let mut x5u = attacker_key.header();
    x5u.x5u = Some(attacker.jwks_url());
    let mut jku_known_kid = attacker_key.header();
    jku_known_kid.kid = Some("rsa-a".into());
    jku_known_kid.jku = Some(attacker.jwks_url());

    let mut no_kid = rsa.header();
    no_kid.kid = None;

    let cases: Vec<(&str, String)> = vec![
        (
            "wrong audience",
            rsa.sign(&with("aud", json!("https://other.example/api"))),
        ),
        (
            "wrong issuer",
            rsa.sign(&with("iss", json!("http://127.0.0.1:1/realms/evil"))),
        ),
        (
            "our own issuer name",
            rsa.sign(&with("iss", json!("blog-api"))),
        ),
        ("no exp", rsa.sign(&without("exp"))),
        ("no aud", rsa.sign(&without("aud"))),
        ("no iss", rsa.sign(&without("iss"))),
        ("no sub", rsa.sign(&without("sub"))),
        ("empty sub", rsa.sign(&with("sub", json!("")))),
        ("not yet valid", rsa.sign(&with("nbf", json!(now + 600)))),
        (
            "unknown kid",
            TestKey::new("rsa-b.pem", Algorithm::RS256, "nope").sign(&valid),
        ),
        (
            "known kid, other key",
            TestKey::new("rsa-b.pem", Algorithm::RS256, "rsa-a").sign(&valid),
        ),
        ("HS256 with the issuer's public key", confused),
        ("HS256 with the issuer's JWK", confused_jwk),
        (
            "RS256 under the EC key's kid",
            rsa.sign_with(&wrong_alg, &valid),
        ),
        (
            "ES256 under the RSA key's kid",
            ec.sign_with(&wrong_alg_2, &valid),
        ),
        ("embedded jwk", attacker_key.sign_with(&embedded, &valid)),
        ("jku", attacker_key.sign_with(&jku, &valid)),
        ("x5u", attacker_key.sign_with(&x5u, &valid)),
        (
            "jku with a known kid",
            attacker_key.sign_with(&jku_known_kid, &valid),
        ),
        ("no kid", rsa.sign_with(&no_kid, &valid)),
        ("tampered payload", {
            let token = rsa.sign(&valid);
            let parts: Vec<&str> = token.split('.').collect();
            let forged = base64_url(&with("sub", json!("auth0|root")).to_string());
            format!("{}.{forged}.{}", parts[0], parts[2])
        }),
        ("alg none", {
            let header = base64_url(r#"{"alg":"none","kid":"rsa-a","typ":"JWT"}"#);
            format!("{header}.{}.", base64_url(&valid.to_string()))
        }),
    ];
    for (case, token) in cases {
        let response = me(&app, &token).await;
        let body = assert_problem(response, 401, "invalid_token").await;
        assert!(body["detail"].is_string(), "{case}: {body}");
    }
    let expired = rsa.sign(&with("exp", json!(now - 60)));
    assert_problem(me(&app, &expired).await, 401, "token_expired").await;

    assert_eq!(
        attacker.jwks_hits(),
        0,
        "the attacker's server was never asked"
    );
    assert_eq!(attacker.discovery_hits(), 0);
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_interval() {
    let rsa = TestKey::rsa();
    let issuer = Issuer::start(&[&rsa]);
    let app = app_for(&issuer, |oidc| {
        oidc.jwks_min_refresh = Duration::from_secs(60)
    })
    .await;
    primed(&issuer).await;
    let forger = TestKey::new("rsa-b.pem", Algorithm::RS256, "x");
    let claims = issuer.claims("auth0|mallory");
    let requests = (0..40).map(|i| {
        let mut header = forger.header();
        header.kid = Some(format!("bogus-{i}"));
        let token = forger.sign_with(&header, &claims);
        let request = app
            .request(Method::GET, "/api/v1/users/me")
            .bearer_auth(token);
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(requests).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(issuer.jwks_hits(), 1, "only the startup fetch");
    // Known keys keep working meanwhile.
    assert_eq!(me(&app, &rsa.sign(&claims)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_key_rotation_at_the_issuer_is_picked_up() {
    let old = TestKey::rsa();
    let new = TestKey::new("ed25519-b.pem", Algorithm::EdDSA, "ed-2026-11");
    let issuer = Issuer::start(&[&old]);
    // The JWKS address given, so no discovery; refetching allowed at once.
    let app = app_for(&issuer, |oidc| {
        oidc.jwks_url = Some(issuer.jwks_url());
        oidc.jwks_min_refresh = Duration::ZERO;
    })
    .await;
    let claims = issuer.claims("kc-user-1");
    let before = me_ok(&app, &old.sign(&claims)).await;

    issuer.publish(&[&new]);
    let after = me_ok(&app, &new.sign(&claims)).await;
    assert_eq!(after["id"], before["id"]);
    // The retired key left the JWKS: once noticed, its tokens are refused.
    let hits = issuer.jwks_hits();
    assert_problem(me(&app, &old.sign(&claims)).await, 401, "invalid_token").await;
    assert_eq!(issuer.jwks_hits(), hits + 1, "the unknown kid made a fetch");
    assert_eq!(issuer.discovery_hits(), 0);
}

/// A slow provider never holds up an actix worker: with one worker, and the JWKS answer held back
/// while a request waits for it, other requests are still served.
#[tokio::test]
async fn waiting_for_the_jwks_blocks_no_worker() {
    let rsa = TestKey::rsa();
    let issuer = Issuer::start_gated(&[&rsa], 0);
    let mut oidc = issuer.settings();
    oidc.jwks_min_refresh = Duration::ZERO;
    let app = spawn_app_with(|s| {
        s.oidc = Some(oidc);
        s.workers = Some(1);
    })
    .await;
    primed(&issuer).await; // the startup fetch has reached the provider, and is held there

    let token = rsa.sign(&issuer.claims("auth0|alice"));
    let waiting = tokio::spawn(
        app.request(Method::GET, "/api/v1/users/me")
            .bearer_auth(token)
            .send(),
    );
    // Served by the one worker while the request above waits for the keys (a blocked worker
    // would hang here until the client's 10 s timeout).
    let health = app
        .request(Method::GET, "/health")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("served while a JWKS fetch is pending");
    assert_eq!(health.status(), StatusCode::OK);
    let account = app.signup("carol").await;
    assert_eq!(me(&app, &account.token).await.status(), StatusCode::OK);
    assert!(!waiting.is_finished(), "the keys have not arrived yet");

    issuer.gate.add_permits(10);
    let response = waiting.await.unwrap().unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "verified once the keys came"
    );
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_not_trusted() {
    let rsa = TestKey::rsa();
    let issuer = Issuer::start(&[&rsa]);
    issuer.claim_issuer("https://evil.example/");
    let app = app_for(&issuer, |oidc| oidc.jwks_min_refresh = Duration::ZERO).await;
    let token = rsa.sign(&issuer.claims("auth0|alice"));
    assert_problem(me(&app, &token).await, 401, "invalid_token").await;
    assert_eq!(issuer.jwks_hits(), 0);
    assert!(issuer.discovery_hits() >= 1);
}

#[tokio::test]
async fn an_issuer_that_is_down_does_not_stop_the_service() {
    let rsa = TestKey::rsa();
    let issuer = Issuer::start(&[&rsa]);
    let mut oidc = issuer.settings();
    oidc.issuer = "http://127.0.0.1:9/realms/gone".into();
    let app = spawn_app_with(|s| s.oidc = Some(oidc)).await;
    let mut claims = issuer.claims("auth0|alice");
    claims["iss"] = json!("http://127.0.0.1:9/realms/gone");
    assert_problem(me(&app, &rsa.sign(&claims)).await, 401, "invalid_token").await;
    // Our own tokens are unaffected.
    let account = app.signup("carol").await;
    assert_eq!(me(&app, &account.token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_local_account_of_an_external_user_survives_a_restart() {
    if crate::helpers::on_postgres("the_local_account_of_an_external_user_survives_a_restart") {
        return;
    }
    let rsa = TestKey::rsa();
    let issuer = Issuer::start(&[&rsa]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let start = || spawn_app_in(&data, |s| s.oidc = Some(issuer.settings()));
    let claims = issuer.claims("google-oauth2|1234");

    let app = start().await;
    let before = me_ok(&app, &rsa.sign(&claims)).await;
    app.stop().await;

    let app = start().await;
    let after = me_ok(&app, &rsa.sign(&claims)).await;
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["username"], before["username"]);
}

#[tokio::test]
async fn an_external_account_has_no_password_or_session_here() {
    let rsa = TestKey::rsa();
    let issuer = Issuer::start(&[&rsa]);
    let app = app_for(&issuer, |_| {}).await;
    let mut claims = issuer.claims("auth0|dave");
    claims["preferred_username"] = json!("dave");
    let token = rsa.sign(&claims);
    me_ok(&app, &token).await;

    let logout = app
        .send_as(Method::POST, "/api/v1/auth/logout", &token)
        .await;
    assert_problem(logout, 409, "external_account").await;
    let change = app
        .send_json(
            Method::PUT,
            "/api/v1/users/me/password",
            Some(&token),
            &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_problem(change, 409, "external_account").await;
    // No password to log in with: the same answer as any wrong password.
    let login = app
        .login(&json!({"username": "dave", "password": PASSWORD}))
        .await;
    assert_problem(login, 401, "invalid_credentials").await;
    let sessions: Value = app
        .get_as("/api/v1/users/me/sessions", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions, json!([]));

    // Deleting the account does not ban the person: their next token makes a new account.
    let before = me_ok(&app, &token).await;
    let delete = app
        .send_as(Method::DELETE, "/api/v1/users/me", &token)
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    let after = me_ok(&app, &token).await;
    assert_ne!(after["id"], before["id"]);
    assert_eq!(after["username"], "dave");
}
