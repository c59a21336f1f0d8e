//! Abuse limits: the per-IP bucket on /auth, the per-account login throttle, the hash cap.

use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app_with, PASSWORD};

fn wrong_login(name: &str) -> Value {
    json!({"username": name, "password": "not the password at all"})
}

#[tokio::test]
async fn auth_routes_share_a_per_ip_bucket() {
    let app = spawn_app_with(|s| {
        s.limits.auth_burst = 3;
        s.limits.auth_rate_per_minute = 1;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(app.login(&wrong_login("alice")).await.status(), 401);
    }
    let limited = app.post_json("/api/v1/auth/signup", &json!({})).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    assert_problem(limited, 429, "rate_limited").await;
    assert_eq!(
        app.get("/api/v1/posts").await.status(),
        200,
        "other routes are not limited"
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let send = |app: &crate::helpers::TestApp, client: &str| {
        app.request(Method::POST, "/api/v1/auth/login")
            .header("x-forwarded-for", client)
            .json(&wrong_login("x"))
            .send()
    };
    let trusting = spawn_app_with(|s| {
        s.limits.auth_burst = 2;
        s.limits.auth_rate_per_minute = 1;
        s.limits.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    for _ in 0..2 {
        assert_eq!(send(&trusting, "198.51.100.1").await.unwrap().status(), 401);
    }
    assert_eq!(send(&trusting, "198.51.100.1").await.unwrap().status(), 429);
    assert_eq!(
        send(&trusting, "198.51.100.2").await.unwrap().status(),
        401,
        "another client behind the proxy"
    );

    let untrusting = spawn_app_with(|s| {
        s.limits.auth_burst = 2;
        s.limits.auth_rate_per_minute = 1;
    })
    .await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        assert_eq!(send(&untrusting, client).await.unwrap().status(), 401);
    }
    assert_eq!(
        send(&untrusting, "198.51.100.3").await.unwrap().status(),
        429,
        "a spoofed header changes nothing"
    );
}

#[tokio::test]
async fn ten_failed_logins_throttle_the_account_name_whether_or_not_it_exists() {
    let app = spawn_app_with(|s| s.limits.login_failure_limit = 10).await;
    app.signup("alice").await;
    for name in ["alice", "nobody"] {
        for attempt in 1..=10 {
            let response = app.login(&wrong_login(name)).await;
            assert_eq!(response.status(), 401, "{name}: attempt {attempt}");
        }
        let throttled = app
            .login(&json!({"username": name, "password": PASSWORD}))
            .await;
        assert!(throttled.headers().contains_key("retry-after"));
        let body = assert_problem(throttled, 429, "rate_limited").await;
        assert_eq!(
            body["detail"], "too many failed logins for this account; retry in 60 s",
            "{name}"
        );
    }
    assert_eq!(
        app.login(&json!({"email": "alice@example.com", "password": PASSWORD}))
            .await
            .status(),
        200,
        "keyed by the name sent"
    );
}

#[tokio::test]
async fn a_successful_login_resets_the_count() {
    let app = spawn_app_with(|s| s.limits.login_failure_limit = 3).await;
    app.signup("alice").await;
    for _ in 0..2 {
        for _ in 0..2 {
            assert_eq!(app.login(&wrong_login("alice")).await.status(), 401);
        }
        assert_eq!(
            app.login(&json!({"username": "alice", "password": PASSWORD}))
                .await
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn reads_are_answered_while_logins_saturate_the_hash_pool() {
    let app = spawn_app_with(|s| {
        s.limits.hash_concurrency = 1;
        s.limits.hash_queue = 1_000;
        s.limits.login_failure_limit = 1_000;
    })
    .await;
    app.signup("alice").await;
    let logins_done = AtomicUsize::new(0);
    let logins = (0..24).map(|i| {
        let body = json!({"username": format!("user{i}"), "password": PASSWORD});
        let request = app.send_json(Method::POST, "/api/v1/auth/login", None, &body);
        let done = &logins_done;
        async move {
            let status = request.await.status();
            done.fetch_add(1, Ordering::SeqCst);
            status
        }
    });
    let reads = async {
        let mut answered_during_logins = 0;
        for _ in 0..20 {
            assert_eq!(app.get("/api/v1/posts").await.status(), 200);
            if logins_done.load(Ordering::SeqCst) < 24 {
                answered_during_logins += 1;
            }
        }
        answered_during_logins
    };
    let (statuses, served) = tokio::join!(futures_util::future::join_all(logins), reads);
    assert!(
        statuses.iter().all(|s| s.as_u16() == 401),
        "every login was answered: {statuses:?}"
    );
    assert_eq!(
        served, 20,
        "all 20 reads were answered while logins were still waiting for the hash pool"
    );
}
