//! `blog-api copy-store`: a blog moved from a data directory to PostgreSQL keeps its accounts,
//! sessions, posts, follows, favorites and comments, and a second copy into the same database
//! is refused. Runs the real binary. Needs `BLOG_TEST_DATABASE_URL`; without it the test
//! prints one line and passes.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::{Method, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{
    post_body, spawn_app_in, spawn_app_with, test_database_url, TestApp, TestDatabase, PASSWORD,
};

/// Runs `blog-api copy-store --from <data> --to <url>` to its end.
async fn copy_store(data: &Path, url: &str) -> Output {
    let (data, url) = (data.to_owned(), url.to_owned());
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_blog-api"))
            .arg("copy-store")
            .arg("--from")
            .arg(&data)
            .arg("--to")
            .arg(&url)
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

/// The JSON body of a response that must have `status`.
async fn expect(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// The titles of a page of `GET /api/v1/posts{query}`.
async fn titles(app: &TestApp, query: &str) -> Vec<String> {
    let page = expect(
        app.get(&format!("/api/v1/posts{query}")).await,
        StatusCode::OK,
    )
    .await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["title"].as_str().unwrap().to_owned())
        .collect()
}

/// What a copy must keep of a post, as its author reads it.
fn kept(post: &Value) -> Value {
    let fields = [
        "id",
        "slug",
        "title",
        "description",
        "content",
        "tags",
        "status",
        "published_at",
        "created_at",
        "updated_at",
        "version",
        "favorites_count",
    ];
    fields
        .iter()
        .map(|field| (field.to_string(), post[field].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[tokio::test]
async fn a_blog_copied_from_a_data_directory_to_postgres_is_all_there_and_tokens_still_work() {
    let Some(server) = test_database_url() else {
        println!(
            "a_blog_copied_from_a_data_directory...: skipped, BLOG_TEST_DATABASE_URL is not set"
        );
        return;
    };
    // Arrange: a blog on the embedded engine, on disk.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let embedded = spawn_app_in(&data, |s| {
        s.storage = blog_api::config::Storage::Disk;
        s.database_url = None;
    })
    .await;
    let alice = embedded.signup("alice").await;
    let bob = embedded.signup("bob").await;
    let hello = id(&embedded
        .create_post(
            &alice.token,
            &json!({"title": "Hello world", "content": "Moving to PostgreSQL soon.", "tags": ["news"]}),
        )
        .await);
    let again = embedded
        .create_post(&alice.token, &post_body("Hello world"))
        .await;
    assert_eq!(again["slug"], "hello-world-2");
    let draft = id(&embedded
        .create_post(
            &alice.token,
            &json!({"title": "Secret plans", "content": "soon", "status": "draft"}),
        )
        .await);
    let edited = expect(
        embedded
            .send_json(
                Method::PATCH,
                &format!("/api/v1/posts/{hello}"),
                Some(&alice.token),
                &json!({"description": "The first post"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["version"], 2);
    let comment = expect(
        embedded
            .send_json(
                Method::POST,
                &format!("/api/v1/posts/{hello}/comments"),
                Some(&bob.token),
                &json!({"body": "Welcome!"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    expect(
        embedded
            .send_as(
                Method::PUT,
                &format!("/api/v1/posts/{hello}/favorite"),
                &bob.token,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    expect(
        embedded
            .send_as(
                Method::PUT,
                &format!("/api/v1/users/{}/follow", alice.id),
                &bob.token,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    // A rotated session: the copy must keep its generation, not only its first token.
    let bob_pair = expect(
        embedded
            .post_json(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": bob.refresh_token}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let posts = [hello.clone(), id(&again), draft.clone()];
    let mut before = Vec::new();
    for post in &posts {
        let read = embedded
            .get_as(&format!("/api/v1/posts/{post}"), &alice.token)
            .await;
        before.push(kept(&expect(read, StatusCode::OK).await));
    }
    embedded.stop().await;

    // Act: copy it into a new database with the binary.
    let database = TestDatabase::create(&server).await;
    let copied = copy_store(&data, &database.url).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&copied.stdout),
        String::from_utf8_lossy(&copied.stderr),
    );
    assert!(copied.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim_end(),
        "copied 2 users, 2 sessions, 0 clients, 3 posts, 1 follows, 1 favorites, 1 comments"
    );

    // Assert: a server on that database has the blog.
    let url = database.url.clone();
    let app = spawn_app_with(move |s| {
        s.storage = blog_api::config::Storage::Postgres;
        s.database_url = Some(SecretString::from(url));
    })
    .await;
    expect(
        app.login(&json!({"email": alice.email, "password": PASSWORD}))
            .await,
        StatusCode::OK,
    )
    .await;
    let me = expect(
        app.get_as("/api/v1/users/me", &alice.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        me["id"],
        alice.id.as_str(),
        "an access token from before the copy"
    );
    let bob_token = bob_pair["access_token"].as_str().unwrap();
    expect(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": bob_pair["refresh_token"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    for (post, before) in posts.iter().zip(&before) {
        let read = app
            .get_as(&format!("/api/v1/posts/{post}"), &alice.token)
            .await;
        assert_eq!(&kept(&expect(read, StatusCode::OK).await), before);
    }
    let hidden = format!("/api/v1/posts/{draft}");
    assert_eq!(app.get(&hidden).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_as(&hidden, bob_token).await.status(),
        StatusCode::NOT_FOUND,
        "the draft is still alice's alone"
    );

    let comments = expect(
        app.get(&format!("/api/v1/posts/{hello}/comments")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        comments["comments"].as_array().unwrap().len(),
        1,
        "{comments}"
    );
    let copied_comment = &comments["comments"][0];
    assert_eq!(copied_comment["id"], comment["id"]);
    assert_eq!(copied_comment["body"], "Welcome!");
    assert_eq!(copied_comment["created_at"], comment["created_at"]);
    assert_eq!(copied_comment["author"]["username"], "bob");

    let as_bob = expect(
        app.get_as(&format!("/api/v1/posts/{hello}"), bob_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&as_bob["favorited"], &as_bob["favorites_count"]),
        (&json!(true), &json!(1))
    );
    let profile = expect(
        app.get_as(&format!("/api/v1/users/{}", alice.id), bob_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(profile["following"], true);

    // The copied posts are indexed as written ones, and new slugs go on from the old ones.
    assert_eq!(titles(&app, "?tag=news").await, ["Hello world"]);
    assert_eq!(titles(&app, "?q=postgresql").await, ["Hello world"]);
    let third = app
        .create_post(&alice.token, &post_body("Hello world"))
        .await;
    assert_eq!(third["slug"], "hello-world-3");

    // A second copy into the same, now not empty, database is refused, and changes nothing.
    let refused = copy_store(&data, &database.url).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(refused.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("not empty"),
        "{stderr}"
    );
    assert_eq!(titles(&app, "?author=alice").await.len(), 3);
    drop(app);
    drop(database);
}

/// A misplaced database URL is refused without echoing it (its password would land in the
/// terminal and the logs); without `--to` and `BLOG_DATABASE_URL` the usage says what is missing.
#[test]
fn copy_store_never_echoes_its_arguments() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_blog-api"))
        .args([
            "copy-store",
            "postgres://blog:s3cret-pw@db/blog",
            "--from",
            "/nowhere",
        ])
        .env_remove("BLOG_DATABASE_URL")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    assert!(stderr.contains("unexpected argument"), "{stderr}");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_blog-api"))
        .args(["copy-store", "--from", "/nowhere"])
        .env_remove("BLOG_DATABASE_URL")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("BLOG_DATABASE_URL"), "{stderr}");
}
