//! Several servers on one PostgreSQL database. Run with `BLOG_TEST_DATABASE_URL` set (as
//! `.ci/run` does); without it each test prints one line and passes.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{
    counts, post_body, spawn_app, spawn_app_with, test_database_url, TestApp, PASSWORD,
};

/// `Some(server A, server B)` on one database, or `None` (printed) without PostgreSQL.
async fn two_servers(test: &str) -> Option<(TestApp, TestApp)> {
    if test_database_url().is_none() {
        println!("{test}: skipped, BLOG_TEST_DATABASE_URL is not set");
        return None;
    }
    let a = spawn_app().await;
    let url = a.database.as_ref().expect("a test database").url.clone();
    let b = spawn_app_with(move |settings| {
        settings.storage = blog_api::config::Storage::Postgres;
        settings.database_url = Some(SecretString::from(url));
    })
    .await;
    // Both read caches serve, and each server hears the other (so that writes wait for the
    // other's cache): the tests see the caches, not only the database.
    cache_becomes(&a, "listening").await;
    cache_becomes(&b, "listening").await;
    hears_peers(&a, 1).await;
    hears_peers(&b, 1).await;
    Some((a, b))
}

/// Waits (up to 10 s) until `/health` shows `app` hearing `peers` other servers.
async fn hears_peers(app: &TestApp, peers: usize) {
    let mut seen = Value::Null;
    for _ in 0..100 {
        let health: Value = app.get("/health").await.json().await.unwrap();
        seen = health["store"]["peers"].clone();
        if seen == peers {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the server hears {seen} others, not {peers}");
}

/// Waits (up to 100 polls of `/health`, 100 ms apart) until it shows the read cache in `state`,
/// and fails if it does not.
async fn cache_becomes(app: &TestApp, state: &str) {
    let mut seen = Value::Null;
    for _ in 0..100 {
        let health: Value = app.get("/health").await.json().await.unwrap();
        seen = health["store"]["cache"].clone();
        if seen == state {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the read cache is {seen}, not {state}");
}

/// CI sets `BLOG_REQUIRE_POSTGRES`: there, a run that would skip these tests fails instead.
#[test]
fn postgres_is_there_when_required() {
    if std::env::var_os("BLOG_REQUIRE_POSTGRES").is_some() {
        assert!(
            test_database_url().is_some(),
            "BLOG_REQUIRE_POSTGRES is set but BLOG_TEST_DATABASE_URL is not"
        );
    }
}

#[actix_web::test]
async fn a_post_made_on_one_server_is_read_and_listed_on_the_other() {
    let Some((a, b)) = two_servers("a_post_made_on_one_server...").await else {
        return;
    };
    let alice = a.signup("alice").await;
    let post = a.create_post(&alice.token, &post_body("Made on A")).await;
    let id = post["id"].as_str().unwrap();
    let read: Value = b
        .get(&format!("/api/v1/posts/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["title"], "Made on A");
    let listed: Value = b.get("/api/v1/posts").await.json().await.unwrap();
    assert_eq!(listed["data"][0]["id"], id);
    // The token A issued works on B: one secret, one store.
    assert_eq!(
        b.get_as("/api/v1/users/me", &alice.token).await.status(),
        StatusCode::OK
    );
    let health: Value = b.get("/health").await.json().await.unwrap();
    assert_eq!(health["store"]["backend"], "postgres");
}

#[actix_web::test]
async fn logout_password_change_and_deletion_on_a_refuse_the_token_on_b_at_once() {
    let Some((a, b)) = two_servers("logout_password_change_and_deletion...").await else {
        return;
    };
    // Each token is used on B first, so that B holds its session in its read cache: the
    // revocation must reach that cache, not only the database.
    let bob = a.signup("bob").await;
    assert_eq!(
        b.get_as("/api/v1/users/me", &bob.token).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        a.send_as(Method::POST, "/api/v1/auth/logout", &bob.token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        b.get_as("/api/v1/users/me", &bob.token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let carol = a.signup("carol").await;
    let other = b
        .login(&json!({"email": carol.email, "password": PASSWORD}))
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        b.get_as("/api/v1/users/me", &other).await.status(),
        StatusCode::OK
    );
    let changed = a
        .send_json(
            Method::PUT,
            "/api/v1/users/me/password",
            Some(&carol.token),
            &json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        b.get_as("/api/v1/users/me", &other).await.status(),
        StatusCode::UNAUTHORIZED,
        "the other session ended everywhere"
    );

    let dave = a.signup("dave").await;
    assert_eq!(
        b.get_as("/api/v1/users/me", &dave.token).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        a.send_as(Method::DELETE, "/api/v1/users/me", &dave.token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        b.get_as("/api/v1/users/me", &dave.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn what_b_holds_in_its_read_cache_follows_the_changes_made_on_a() {
    let Some((a, b)) = two_servers("what_b_holds_in_its_read_cache...").await else {
        return;
    };
    let alice = a.signup("alice").await;
    let bob = a.signup("bob").await;
    let post = a.create_post(&alice.token, &post_body("First title")).await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let on_b = |token: Option<&str>| {
        let (b, path) = (&b, &path);
        let token = token.map(str::to_owned);
        async move {
            let response = match token {
                Some(token) => b.get_as(path, &token).await,
                None => b.get(path).await,
            };
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    // Read on B, as bob and anonymously: both views are now in B's cache.
    assert_eq!(on_b(Some(&bob.token)).await.1["title"], "First title");
    assert_eq!(on_b(None).await.1["title"], "First title");

    let edited = a
        .send_json(
            Method::PATCH,
            &path,
            Some(&alice.token),
            &json!({"title": "Second title"}),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    assert_eq!(on_b(Some(&bob.token)).await.1["title"], "Second title");
    assert_eq!(on_b(None).await.1["version"], 2);

    let favorited = a
        .send_as(Method::PUT, &format!("{path}/favorite"), &bob.token)
        .await;
    assert_eq!(favorited.status(), StatusCode::OK);
    let (_, bobs) = on_b(Some(&bob.token)).await;
    assert_eq!(
        (&bobs["favorites_count"], &bobs["favorited"]),
        (&json!(1), &json!(true))
    );
    assert_eq!(on_b(None).await.1["favorites_count"], 1);

    let renamed = a
        .send_json(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&alice.token),
            &json!({"name": "Alice Liddell"}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(on_b(None).await.1["author"]["name"], "Alice Liddell");

    let deleted = a.send_as(Method::DELETE, &path, &alice.token).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(on_b(Some(&bob.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(on_b(None).await.0, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn of_twelve_concurrent_refreshes_over_two_servers_exactly_one_wins() {
    let Some((a, b)) = two_servers("of_twelve_concurrent_refreshes...").await else {
        return;
    };
    let erin = a.signup("erin").await;
    let requests = (0..12).map(|i| {
        let server = if i % 2 == 0 { &a } else { &b };
        server.send_json(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": erin.refresh_token}),
        )
    });
    let statuses: Vec<StatusCode> = futures_statuses(requests).await;
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for status in statuses {
        *counts.entry(status.as_u16()).or_default() += 1;
    }
    assert_eq!(counts.get(&200), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&401), Some(&11), "{counts:?}");
}

/// A server that stops tells the others on the database (`bye`), so that their writes stop
/// waiting for its read cache at once instead of for its lease to run out; the other server
/// forgets it and goes on writing.
#[actix_web::test]
async fn a_stopping_server_says_goodbye_and_the_other_forgets_it() {
    let Some((a, b)) = two_servers("a_stopping_server_says_goodbye...").await else {
        return;
    };
    let url = a.database.as_ref().expect("a test database").url.clone();
    let mut listener = sqlx::postgres::PgListener::connect(&url).await.unwrap();
    listener.listen("blog_cache").await.unwrap();
    drop(b);
    let goodbye = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let notification = listener.recv().await.unwrap();
            if notification.payload().starts_with("bye:") {
                return notification.payload().to_owned();
            }
        }
    })
    .await
    .expect("the stopped server said goodbye");
    assert!(
        uuid::Uuid::parse_str(goodbye.trim_start_matches("bye:")).is_ok(),
        "{goodbye}"
    );
    hears_peers(&a, 0).await;
    let gina = a.signup("gina").await;
    a.create_post(&gina.token, &post_body("After the goodbye"))
        .await;
}

/// The counts B keeps in its read cache follow posts made and deleted on A at once.
#[actix_web::test]
async fn the_counts_b_caches_follow_the_posts_made_on_a() {
    let Some((a, b)) = two_servers("the_counts_b_caches...").await else {
        return;
    };
    let hana = a.signup("hana").await;
    a.create_post(
        &hana.token,
        &json!({"title": "First", "content": "x", "tags": ["one"]}),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            counts(&b, "two").await,
            (json!(["one"]), json!(1), json!(0))
        );
    }
    let second = a
        .create_post(
            &hana.token,
            &json!({"title": "Second", "content": "x", "tags": ["two"]}),
        )
        .await;
    assert_eq!(
        counts(&b, "two").await,
        (json!(["one", "two"]), json!(2), json!(1))
    );
    let deleted = a
        .request(
            Method::DELETE,
            &format!("/api/v1/posts/{}", second["id"].as_str().unwrap()),
        )
        .bearer_auth(&hana.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        counts(&b, "two").await,
        (json!(["one"]), json!(1), json!(0))
    );
}

/// A cached count holds only until the next scheduled post becomes public: that changes every
/// count with no write to notify.
#[actix_web::test]
async fn cached_counts_end_when_a_scheduled_post_becomes_public() {
    if test_database_url().is_none() {
        println!("cached_counts_end...: skipped, BLOG_TEST_DATABASE_URL is not set");
        return;
    }
    let app = spawn_app().await;
    cache_becomes(&app, "listening").await;
    let ines = app.signup("ines").await;
    app.create_post(
        &ines.token,
        &json!({"title": "Now", "content": "x", "tags": ["now"]}),
    )
    .await;
    let due = chrono::Utc::now() + chrono::Duration::seconds(4);
    app.create_post(
        &ines.token,
        &json!({"title": "Later", "content": "x", "tags": ["later"],
                "published_at": due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}),
    )
    .await;
    assert_eq!(
        counts(&app, "later").await,
        (json!(["now"]), json!(1), json!(0))
    );
    let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(300)).await;
    // Still the cache's answer to check, not the database's.
    cache_becomes(&app, "listening").await;
    assert_eq!(
        counts(&app, "later").await,
        (json!(["later", "now"]), json!(2), json!(1))
    );
}

async fn futures_statuses(
    requests: impl Iterator<Item = impl std::future::Future<Output = reqwest::Response> + 'static>,
) -> Vec<StatusCode> {
    let tasks: Vec<_> = requests.map(actix_web::rt::spawn).collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().status());
    }
    statuses
}

#[actix_web::test]
async fn if_match_edits_on_both_servers_one_wins_one_gets_412() {
    let Some((a, b)) = two_servers("if_match_edits_on_both_servers...").await else {
        return;
    };
    let frank = a.signup("frank").await;
    let post = a.create_post(&frank.token, &post_body("Contended")).await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let edit = |server: &TestApp, title: &str| {
        server
            .request(Method::PATCH, &path)
            .bearer_auth(&frank.token)
            .header("If-Match", "\"1\"")
            .json(&json!({"title": title}))
            .send()
    };
    let (first, second) = futures_join(edit(&a, "From A"), edit(&b, "From B")).await;
    let mut statuses = [
        first.unwrap().status().as_u16(),
        second.unwrap().status().as_u16(),
    ];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);
}

async fn futures_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    tokio::join!(a, b)
}

#[actix_web::test]
async fn b_serves_on_when_a_stops() {
    let Some((a, b)) = two_servers("b_serves_on_when_a_stops").await else {
        return;
    };
    let gina = a.signup("gina").await;
    a.create_post(&gina.token, &post_body("Survives A")).await;
    // The database outlives A: keep it while A stops.
    let mut a = a;
    let database = a.database.take();
    a.stop().await;
    let listed: Value = b.get("/api/v1/posts").await.json().await.unwrap();
    assert_eq!(listed["data"][0]["title"], "Survives A");
    assert_eq!(
        b.get_as("/api/v1/users/me", &gina.token).await.status(),
        StatusCode::OK
    );
    drop(database);
}

#[actix_web::test]
async fn usernames_and_slugs_taken_at_once_on_two_servers_end_in_409_or_a_suffix() {
    let Some((a, b)) = two_servers("usernames_and_slugs_taken_at_once...").await else {
        return;
    };
    let signup = |server: &TestApp| {
        server.send_json(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            &json!({"username": "henry", "email": "henry@example.com", "password": PASSWORD}),
        )
    };
    let (first, second) = futures_join(signup(&a), signup(&b)).await;
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);

    let ivy = a.signup("ivy").await;
    let create = |server: &TestApp| {
        server.send_json(
            Method::POST,
            "/api/v1/posts",
            Some(&ivy.token),
            &post_body("Same title"),
        )
    };
    let (first, second) = futures_join(create(&a), create(&b)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(second.status(), StatusCode::CREATED);
    let slugs = [
        first.json::<Value>().await.unwrap()["slug"].clone(),
        second.json::<Value>().await.unwrap()["slug"].clone(),
    ];
    assert_ne!(slugs[0], slugs[1]);
}

#[actix_web::test]
async fn an_unreachable_database_stops_startup_with_one_line_naming_the_variable() {
    let mut settings = blog_api::config::Settings::defaults();
    settings.listen = "127.0.0.1:0".into();
    settings.jwt_secret = Some(SecretString::from(crate::helpers::TEST_SECRET));
    settings.storage = blog_api::config::Storage::Postgres;
    // Nothing listens on port 1.
    settings.database_url = Some(SecretString::from(
        "postgres://postgres@127.0.0.1:1/blog".to_owned(),
    ));
    let started = std::time::Instant::now();
    let error = match blog_api::startup::Application::build(settings).await {
        Ok(_) => panic!("started without a database"),
        Err(error) => error.to_string(),
    };
    assert!(error.starts_with("BLOG_DATABASE_URL: "), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let bad = blog_api::config::Settings::from_vars([
        (
            "BLOG_DATABASE_URL".to_owned(),
            "mysql://root@localhost/blog".to_owned(),
        ),
        (
            "BLOG_JWT_SECRET".to_owned(),
            crate::helpers::TEST_SECRET.to_owned(),
        ),
    ])
    .unwrap_err();
    assert_eq!(bad.variable, "BLOG_DATABASE_URL");
    let no_secret = blog_api::config::Settings::from_vars([(
        "BLOG_DATABASE_URL".to_owned(),
        "postgres://blog@localhost/blog".to_owned(),
    )])
    .unwrap_err();
    assert_eq!(no_secret.variable, "BLOG_JWT_SECRET");
}

#[actix_web::test]
async fn servers_starting_together_share_one_schema_and_a_newer_one_is_refused() {
    let Some(server) = test_database_url() else {
        println!("servers_starting_together...: skipped, BLOG_TEST_DATABASE_URL is not set");
        return;
    };
    let database = crate::helpers::TestDatabase::create(&server).await;
    let options = blog_api::store::postgres::PgOptions::default();
    let connect = || blog_api::store::postgres::Postgres::connect(&database.url, &options);
    let (first, second, third) = tokio::join!(connect(), connect(), connect());
    for started in [first, second, third] {
        started.expect("every server applies or finds the schema");
    }
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&database.url)
        .await
        .unwrap();
    sqlx::Executor::execute(
        &mut connection,
        "UPDATE blog_schema SET version = version + 1",
    )
    .await
    .unwrap();
    let refused = connect().await.unwrap_err().to_string();
    assert!(refused.contains("newer"), "{refused}");
}

/// A TCP proxy to the test's PostgreSQL, to cut the database off and bring it back.
struct Proxy {
    port: u16,
    upstream: String,
    tasks: std::sync::Arc<parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: &str, port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the proxy binds");
        let port = listener.local_addr().unwrap().port();
        let tasks = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let (upstream, connections) = (upstream.to_owned(), std::sync::Arc::clone(&tasks));
        let target = upstream.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let connection = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections.lock().push(connection);
            }
        });
        tasks.lock().push(accept);
        Self {
            port,
            upstream,
            tasks,
        }
    }

    /// Closes the listener and every connection through it.
    fn cut(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_database_a_server_answers_503_then_serves_again_when_it_is_back() {
    let Some(server) = test_database_url() else {
        println!("without_its_database...: skipped, BLOG_TEST_DATABASE_URL is not set");
        return;
    };
    let database = crate::helpers::TestDatabase::create(&server).await;
    let upstream = {
        let rest = database.url.split_once('@').unwrap().1;
        rest.split('/').next().unwrap().to_owned()
    };
    let proxy = Proxy::start(&upstream, 0).await;
    let proxied = database
        .url
        .replacen(&upstream, &format!("127.0.0.1:{}", proxy.port), 1);
    let app = spawn_app_with(move |settings| {
        settings.storage = blog_api::config::Storage::Postgres;
        settings.database_url = Some(SecretString::from(proxied));
    })
    .await;
    let jane = app.signup("jane").await;
    assert_eq!(app.get("/api/v1/posts").await.status(), StatusCode::OK);
    let post = app.create_post(&jane.token, &post_body("Cached")).await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    cache_becomes(&app, "listening").await;
    // In the read cache now: the token's session and the post.
    assert_eq!(
        app.get_as(&path, &jane.token).await.status(),
        StatusCode::OK
    );

    proxy.cut();
    // The cache's listener lost its connection too: it may have missed other servers'
    // changes, so the cache stops serving, and a read that needs the database gets 503.
    cache_becomes(&app, "paused").await;
    assert_eq!(
        app.get_as(&path, &jane.token).await.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "nothing is served from a cache that cannot hear of changes"
    );
    let started = std::time::Instant::now();
    let response = app.get_as("/api/v1/users/me", &jane.token).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "store_unavailable");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "503 within the pool's timeout, not a hang: {:?}",
        started.elapsed()
    );
    assert_eq!(
        app.get("/health").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    let _back = Proxy::start(&proxy.upstream, proxy.port).await;
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = app.get_as("/api/v1/users/me", &jane.token).await.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status, StatusCode::OK, "serves again without a restart");
    cache_becomes(&app, "listening").await;
    assert_eq!(
        app.get_as(&path, &jane.token).await.status(),
        StatusCode::OK
    );
    drop(app);
}

#[actix_web::test]
async fn failed_logins_on_two_servers_count_together() {
    if test_database_url().is_none() {
        println!("failed_logins_on_two_servers_count_together: skipped, BLOG_TEST_DATABASE_URL is not set");
        return;
    }
    let limit = |settings: &mut blog_api::config::Settings| {
        settings.limits.login_failure_limit = 3;
    };
    let a = spawn_app_with(limit).await;
    let url = a.database.as_ref().expect("a test database").url.clone();
    let b = spawn_app_with(move |settings| {
        limit(settings);
        settings.storage = blog_api::config::Storage::Postgres;
        settings.database_url = Some(SecretString::from(url));
    })
    .await;
    let kim = a.signup("kim").await;
    let wrong = json!({"email": kim.email, "password": "not the password at all"});
    for server in [&a, &b, &a] {
        assert_eq!(
            server.login(&wrong).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Three failures in a row from this address, over both servers: both refuse now.
    for server in [&b, &a] {
        let refused = server.login(&wrong).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key("retry-after"));
    }
}
