//! Abuse limits: the per-IP bucket on /auth, the per-account login throttle, the hash cap, the
//! deadline for request bodies.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app_with, TestApp, PASSWORD};

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
async fn ten_failed_logins_throttle_the_account_from_that_address_whether_or_not_it_exists() {
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
            body["detail"],
            "too many failed logins for this account from this address; retry in 60 s",
            "{name}"
        );
    }
    let by_email = app
        .login(&json!({"email": "alice@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(by_email.status(), 429, "the email names the same account");
}

/// Logs in as if from `client`, behind the trusted proxy 127.0.0.1.
async fn login_from(app: &TestApp, client: &str, body: &Value) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/auth/login")
        .header("x-forwarded-for", client)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn behind_a_proxy(s: &mut blog_api::config::Settings) {
    s.limits.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

/// Issue 17: ten wrong passwords for bob, from anywhere, made bob's right password get 429 from
/// every address.
#[tokio::test]
async fn a_stranger_s_failures_do_not_lock_the_owner_out_from_another_address() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.limits.login_failure_limit = 10;
    })
    .await;
    app.signup("bob").await;
    let right = json!({"username": "bob", "password": PASSWORD});
    let stranger = "198.51.100.66";
    for attempt in 1..=10 {
        let response = login_from(&app, stranger, &wrong_login("bob")).await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    assert_eq!(
        login_from(&app, stranger, &right).await.status(),
        429,
        "the stranger's address is throttled for bob"
    );
    assert_eq!(
        login_from(&app, "203.0.113.7", &right).await.status(),
        200,
        "bob from his own address is not"
    );
}

#[tokio::test]
async fn the_username_and_the_email_of_an_account_share_one_count() {
    let app = spawn_app_with(|s| s.limits.login_failure_limit = 4).await;
    app.signup("alice").await;
    let wrong = "not the password at all";
    for body in [
        json!({"username": "alice", "password": wrong}),
        json!({"email": "alice@example.com", "password": wrong}),
        json!({"username": "ALICE", "password": wrong}),
        json!({"email": "Alice@Example.com", "password": wrong}),
    ] {
        assert_eq!(app.login(&body).await.status(), 401, "{body}");
    }
    let throttled = app
        .login(&json!({"username": "alice", "password": PASSWORD}))
        .await;
    assert_problem(throttled, 429, "rate_limited").await;
}

/// OWASP ASVS 2.2.1: at most 100 failures an hour for one account, whatever the addresses.
#[tokio::test]
async fn an_account_takes_at_most_its_hourly_ceiling_of_failures_from_all_addresses() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.limits.login_failure_limit = 10;
        s.limits.login_account_failures_per_hour = 5;
    })
    .await;
    app.signup("carol").await;
    app.signup("dave").await;
    for name in ["carol", "nobody"] {
        for i in 1..=5 {
            let response = login_from(&app, &format!("198.51.100.{i}"), &wrong_login(name)).await;
            assert_eq!(response.status(), 401, "{name}: attempt {i}");
        }
        let locked = login_from(
            &app,
            "203.0.113.9",
            &json!({"username": name, "password": PASSWORD}),
        )
        .await;
        assert!(locked.headers().contains_key("retry-after"), "{name}");
        let body = assert_problem(locked, 429, "rate_limited").await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("too many failed logins for this account in the last hour"),
            "{name}: {body}"
        );
    }
    assert_eq!(
        login_from(
            &app,
            "198.51.100.1",
            &json!({"username": "dave", "password": PASSWORD})
        )
        .await
        .status(),
        200,
        "other accounts are unaffected"
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

/// How a slow client fared: what the server sent, and when it closed the connection (`None`:
/// still open when the client gave up).
struct SlowBody {
    answer: String,
    closed_after: Option<Duration>,
}

/// Sends `head`, then `first`, then `filler` whenever `gap` passes without an answer (none: the
/// body stalls), on a raw connection, for at most `give_up`.
fn send_slowly(
    address: &str,
    head: &str,
    first: &[u8],
    filler: Option<&[u8]>,
    gap: Duration,
    give_up: Duration,
) -> SlowBody {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(gap)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first).unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let closed_after = loop {
        if started.elapsed() > give_up {
            break None;
        }
        let mut buffer = [0u8; 4096];
        match stream.read(&mut buffer) {
            Ok(0) => break Some(started.elapsed()),
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if let Some(filler) = filler {
                    // The server may have closed its side already; the next read tells.
                    let _ = stream.write_all(filler);
                }
            }
            // Reset by the server: closed too.
            Err(_) => break Some(started.elapsed()),
        }
    };
    SlowBody {
        answer: String::from_utf8_lossy(&received).into_owned(),
        closed_after,
    }
}

/// `host:port`, for a raw connection.
fn raw_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

fn head(path: &str, framing: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    )
}

/// Issue 17: a body that stopped after `{`, or came one byte every few seconds, held its
/// connection for ever (still open after 240 s), before any login.
#[tokio::test]
async fn a_stalled_or_trickling_body_is_408_and_its_connection_closed() {
    let app = spawn_app_with(|s| s.limits.body_timeout = Duration::from_secs(1)).await;
    let address = raw_address(&app);
    let gap = Duration::from_millis(300);
    let give_up = Duration::from_secs(6);
    let login = "/api/v1/auth/login";
    let cases = [
        (
            head(login, "Content-Length: 100"),
            b"{".as_slice(),
            None,
            "stalled after {",
        ),
        (
            head(login, "Content-Length: 100"),
            b"{".as_slice(),
            Some(b" ".as_slice()),
            "one byte every 300 ms",
        ),
        (
            head(login, "Transfer-Encoding: chunked"),
            b"1\r\n{\r\n".as_slice(),
            Some(b"1\r\n \r\n".as_slice()),
            "chunked, one byte every 300 ms",
        ),
    ];
    for (head, first, filler, reason) in cases {
        let address = address.clone();
        let slow = tokio::task::spawn_blocking(move || {
            send_slowly(&address, &head, first, filler, gap, give_up)
        })
        .await
        .unwrap();
        assert!(
            slow.answer.starts_with("HTTP/1.1 408"),
            "{reason}: {}",
            slow.answer
        );
        assert!(
            slow.answer.contains("application/problem+json")
                && slow.answer.contains("\"request_timeout\""),
            "{reason}: {}",
            slow.answer
        );
        let closed = slow
            .closed_after
            .unwrap_or_else(|| panic!("{reason}: still open"));
        assert!(
            closed < Duration::from_secs(4),
            "{reason}: closed after {closed:?}"
        );
    }
    assert_eq!(
        app.login(&json!({"username": "x", "password": "a whole body in time"}))
            .await
            .status(),
        401,
        "a body that arrives in time is read as before"
    );
}

/// A body nobody reads (the request is refused before it) must not keep the connection either:
/// actix drained such a chunked body for as long as the client kept sending.
#[tokio::test]
async fn an_unread_trickling_body_does_not_hold_the_connection() {
    let app = spawn_app_with(|_| {}).await;
    for (path, status) in [("/api/v1/posts", "401"), ("/nowhere", "404")] {
        let address = raw_address(&app);
        let head = head(path, "Transfer-Encoding: chunked");
        let slow = tokio::task::spawn_blocking(move || {
            send_slowly(
                &address,
                &head,
                b"1\r\n{\r\n",
                Some(b"1\r\n \r\n".as_slice()),
                Duration::from_millis(300),
                Duration::from_secs(6),
            )
        })
        .await
        .unwrap();
        assert!(
            slow.answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{path}: {}",
            slow.answer
        );
        let closed = slow
            .closed_after
            .unwrap_or_else(|| panic!("{path}: still open"));
        assert!(
            closed < Duration::from_secs(4),
            "{path}: closed after {closed:?}"
        );
    }
}
