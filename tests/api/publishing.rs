//! Drafts, scheduled posts and the HTML of a post.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{app_with_admin, assert_problem, counts, spawn_app, TestApp};

fn id(post: &Value) -> String {
    post["id"].as_str().unwrap().to_owned()
}

async fn titles(app: &TestApp, query: &str, token: Option<&str>) -> Vec<String> {
    let response = match token {
        Some(token) => app.get_as(&format!("/api/v1/posts{query}"), token).await,
        None => app.get(&format!("/api/v1/posts{query}")).await,
    };
    assert_eq!(response.status(), 200, "{query}");
    let page: Value = response.json().await.unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["title"].as_str().unwrap().to_owned())
        .collect()
}

fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn a_draft_is_seen_only_by_its_author_and_admins_until_published() {
    let (app, admin) = app_with_admin().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let draft = app
        .create_post(
            &alice.token,
            &json!({"title": "Secret plans", "content": "soon", "tags": ["news"], "status": "draft"}),
        )
        .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["published_at"], Value::Null);
    let by_id = format!("/api/v1/posts/{}", id(&draft));
    let by_slug = "/api/v1/posts/secret-plans";

    for path in [by_id.as_str(), by_slug] {
        assert_problem(app.get(path).await, 404, "not_found").await;
        assert_problem(app.get_as(path, &bob.token).await, 404, "not_found").await;
        assert_eq!(app.get_as(path, &alice.token).await.status(), 200, "{path}");
        assert_eq!(app.get_as(path, &admin).await.status(), 200, "{path}");
    }
    // Not revealed by writes either: 404, not 403.
    let patch = app
        .send_json(
            Method::PATCH,
            &by_id,
            Some(&bob.token),
            &json!({"title": "mine"}),
        )
        .await;
    assert_problem(patch, 404, "not_found").await;
    for query in ["", "?tag=news", "?author=alice"] {
        assert!(titles(&app, query, None).await.is_empty(), "{query}");
        assert!(
            titles(&app, query, Some(&alice.token)).await.is_empty(),
            "{query}"
        );
    }
    assert_eq!(
        titles(&app, "?status=draft", Some(&alice.token)).await,
        ["Secret plans"]
    );
    assert!(titles(&app, "?status=draft", Some(&bob.token))
        .await
        .is_empty());
    assert_problem(
        app.get("/api/v1/posts?status=draft").await,
        401,
        "missing_token",
    )
    .await;

    let published = app
        .send_json(
            Method::PATCH,
            &by_id,
            Some(&alice.token),
            &json!({"status": "published"}),
        )
        .await;
    assert_eq!(published.status(), 200);
    let published: Value = published.json().await.unwrap();
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string());
    assert_eq!(app.get(&by_id).await.status(), 200);
    assert_eq!(titles(&app, "?tag=news", None).await, ["Secret plans"]);
    assert!(titles(&app, "?status=draft", Some(&alice.token))
        .await
        .is_empty());
}

#[tokio::test]
async fn a_scheduled_post_becomes_public_when_its_time_comes() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    app.create_post(
        &alice.token,
        &json!({"title": "Now", "content": "x", "tags": ["now"]}),
    )
    .await;
    let scheduled = app
        .create_post(
            &alice.token,
            &json!({"title": "Later", "content": "x", "tags": ["later"], "published_at": in_seconds(4)}),
        )
        .await;
    assert_eq!(scheduled["status"], "published");
    // Its author finds it among their scheduled posts; nobody else does.
    assert_eq!(
        titles(&app, "?status=scheduled", Some(&alice.token)).await,
        ["Later"]
    );
    let bob = app.signup("bob").await;
    assert!(titles(&app, "?status=scheduled", Some(&bob.token))
        .await
        .is_empty());
    assert_problem(
        app.get("/api/v1/posts?status=scheduled").await,
        401,
        "missing_token",
    )
    .await;
    let path = format!("/api/v1/posts/{}", id(&scheduled));
    assert_problem(app.get(&path).await, 404, "not_found").await;
    assert_eq!(app.get_as(&path, &alice.token).await.status(), 200);
    assert_eq!(titles(&app, "", None).await, ["Now"]);
    // The counts over public posts (on PostgreSQL these are cached: read now, they must not
    // outlive the scheduled post's time).
    assert_eq!(
        counts(&app, "later").await,
        (json!(["now"]), json!(1), json!(0))
    );

    let due = chrono::DateTime::parse_from_rfc3339(scheduled["published_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(300)).await;
    assert_eq!(app.get(&path).await.status(), 200, "no job, no restart");
    assert_eq!(titles(&app, "", None).await, ["Later", "Now"]);
    assert_eq!(
        counts(&app, "later").await,
        (json!(["later", "now"]), json!(2), json!(1))
    );
    assert!(titles(&app, "?status=scheduled", Some(&alice.token))
        .await
        .is_empty());
}

#[tokio::test]
async fn lists_are_newest_published_at_first() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    app.create_post(
        &alice.token,
        &json!({"title": "Backdated", "content": "x", "published_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    app.create_post(&alice.token, &json!({"title": "Today", "content": "x"}))
        .await;
    app.create_post(
        &alice.token,
        &json!({"title": "Last year", "content": "x", "published_at": "2025-06-01T12:00:00+02:00"}),
    )
    .await;
    assert_eq!(
        titles(&app, "", None).await,
        ["Today", "Last year", "Backdated"]
    );
    // Cursors follow the same order.
    let first: Value = app.get("/api/v1/posts?limit=1").await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    assert_eq!(
        titles(&app, &format!("?limit=5&cursor={cursor}"), None).await,
        ["Last year", "Backdated"]
    );
}

#[tokio::test]
async fn bad_status_and_published_at_are_422_naming_the_field() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let cases = [
        (
            json!({"title": "t", "content": "c", "status": "hidden"}),
            "status",
        ),
        (
            json!({"title": "t", "content": "c", "published_at": "tomorrow"}),
            "published_at",
        ),
        (
            json!({"title": "t", "content": "c", "status": "draft", "published_at": in_seconds(60)}),
            "published_at",
        ),
    ];
    for (body, field) in cases {
        let response = app
            .send_json(Method::POST, "/api/v1/posts", Some(&alice.token), &body)
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{body}: {problem}");
    }
    assert_problem(
        app.get("/api/v1/posts?status=hidden").await,
        422,
        "validation_failed",
    )
    .await;
    // A draft that is given a publication time without being published.
    let draft = app
        .create_post(
            &alice.token,
            &json!({"title": "d", "content": "c", "status": "draft"}),
        )
        .await;
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/posts/{}", id(&draft)),
            Some(&alice.token),
            &json!({"published_at": in_seconds(60)}),
        )
        .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert!(problem["errors"]["published_at"].is_array(), "{problem}");
}

#[tokio::test]
async fn every_post_carries_its_content_as_safe_html() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let content = "# Title\n\nSome *emphasis* and [a link](https://example.com).\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) <img src=x onerror=alert(1)>";
    let post = app
        .create_post(&alice.token, &json!({"title": "Html", "content": content}))
        .await;
    let html = post["content_html"].as_str().unwrap();
    assert!(html.contains("<h1>Title</h1>"), "{html}");
    assert!(html.contains("<em>emphasis</em>"), "{html}");
    assert!(
        html.contains(r#"href="https://example.com""#) && html.contains("nofollow"),
        "{html}"
    );
    let lower = html.to_lowercase();
    for banned in ["<script", "javascript:", "onerror"] {
        assert!(!lower.contains(banned), "{banned} in {html}");
    }
    let fetched: Value = app
        .get(&format!("/api/v1/posts/{}", id(&post)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["content_html"], post["content_html"]);
    let page: Value = app.get("/api/v1/posts").await.json().await.unwrap();
    assert_eq!(page["data"][0]["content_html"], post["content_html"]);
}

#[tokio::test]
async fn search_finds_every_word_as_whole_words_ranked_then_paged() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    for (who, title, content, tags) in [
        (
            &alice,
            "Rust on the server",
            "Actix and tokio.",
            json!(["web"]),
        ),
        (
            &alice,
            "Gardening",
            "Trust the rusty tools: rust never sleeps.",
            json!([]),
        ),
        (&bob, "Ça va, Rust?", "Unicode words: ÉTÉ.", json!(["rust"])),
        (&bob, "Trusty", "Nothing to see.", json!([])),
    ] {
        app.create_post(
            &who.token,
            &json!({"title": title, "content": content, "tags": tags}),
        )
        .await;
    }
    app.create_post(
        &alice.token,
        &json!({"title": "Rust draft", "content": "rust", "status": "draft"}),
    )
    .await;
    app.create_post(
        &alice.token,
        &json!({"title": "Rust later", "content": "rust", "published_at": in_seconds(3600)}),
    )
    .await;

    // Whole words, any case; title matches rank first; drafts and scheduled posts never.
    assert_eq!(
        titles(&app, "?q=RUST", None).await,
        ["Ça va, Rust?", "Rust on the server", "Gardening"]
    );
    assert_eq!(
        titles(&app, "?q=rust%20tokio", None).await,
        ["Rust on the server"]
    );
    assert_eq!(titles(&app, "?q=%C3%A7a", None).await, ["Ça va, Rust?"]);
    assert_eq!(
        titles(&app, "?q=%C3%A9t%C3%A9", None).await,
        ["Ça va, Rust?"]
    );
    assert!(titles(&app, "?q=rus", None).await.is_empty());
    assert_eq!(
        titles(&app, "?q=rust&author=alice", None).await,
        ["Rust on the server", "Gardening"]
    );
    assert_eq!(
        titles(&app, "?q=rust&tag=web", None).await,
        ["Rust on the server"]
    );
    assert!(titles(&app, "?q=rust%20draft", Some(&alice.token))
        .await
        .is_empty());

    // Pages follow the ranking without gaps or repeats.
    let mut seen = Vec::new();
    let mut query = "?q=rust&limit=1".to_owned();
    loop {
        let page: Value = app
            .get(&format!("/api/v1/posts{query}"))
            .await
            .json()
            .await
            .unwrap();
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["title"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?q=rust&limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["Ça va, Rust?", "Rust on the server", "Gardening"]);
}

#[tokio::test]
async fn bad_searches_are_422_naming_q() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let long = "a".repeat(201);
    let many_words = "a+b+c+d+e+f+g+h+i";
    for q in [long.as_str(), "%21%21%21", "%20", "", many_words] {
        let problem = assert_problem(
            app.get(&format!("/api/v1/posts?q={q}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert!(problem["errors"]["q"].is_array(), "{q}: {problem}");
    }
    let problem = assert_problem(
        app.get_as("/api/v1/posts?q=rust&status=draft", &alice.token)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert!(problem["errors"]["q"].is_array(), "{problem}");
    let problem = assert_problem(
        app.get("/api/v1/posts?q=rust&cursor=bm9wZQ").await,
        422,
        "validation_failed",
    )
    .await;
    assert!(problem["errors"]["cursor"].is_array(), "{problem}");
}

async fn atom(app: &TestApp, query: &str) -> (reqwest::header::HeaderMap, feed_rs::model::Feed) {
    let response = app.get(&format!("/feed.atom{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&body[..]).expect("a feed a real parser reads");
    (headers, feed)
}

#[tokio::test]
async fn the_atom_feed_has_the_newest_published_posts_with_their_html() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let first = app
        .create_post(
            &alice.token,
            &json!({"title": "First <post>", "content": "Hello *world* <script>x()</script>",
                    "description": "The first one", "tags": ["news"]}),
        )
        .await;
    app.create_post(
        &bob.token,
        &json!({"title": "Bob's", "content": "Plain.", "tags": ["misc"]}),
    )
    .await;
    app.create_post(
        &alice.token,
        &json!({"title": "Draft", "content": "x", "status": "draft"}),
    )
    .await;
    app.create_post(
        &alice.token,
        &json!({"title": "Scheduled", "content": "x", "published_at": in_seconds(3600)}),
    )
    .await;

    let (headers, feed) = atom(&app, "").await;
    assert_eq!(
        headers["content-type"].to_str().unwrap(),
        "application/atom+xml; charset=utf-8"
    );
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    let titles: Vec<&str> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.as_str())
        .collect();
    assert_eq!(
        titles,
        ["Bob's", "First <post>"],
        "newest first, public only"
    );
    let entry = &feed.entries[1];
    assert_eq!(entry.id, format!("urn:uuid:{}", id(&first)));
    assert_eq!(entry.authors[0].name.as_deref(), Some("alice"));
    assert!(entry.published.is_some() && entry.updated.is_some());
    assert_eq!(entry.summary.as_ref().unwrap().content, "The first one");
    assert!(
        entry.links[0].href.ends_with("/posts/first-post"),
        "{:?}",
        entry.links
    );
    let content = entry.content.as_ref().unwrap().body.as_deref().unwrap();
    assert!(content.contains("<em>world</em>"), "{content}");
    assert!(!content.contains("<script"), "{content}");

    let (_, by_alice) = atom(&app, "?author=alice").await;
    assert_eq!(by_alice.entries.len(), 1);
    let (_, misc) = atom(&app, "?tag=misc").await;
    assert_eq!(misc.entries[0].title.as_ref().unwrap().content, "Bob's");

    // Feed readers poll with the ETag: 304 until something changes.
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let again = app
        .request(Method::GET, "/feed.atom")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    app.create_post(&bob.token, &json!({"title": "Newer", "content": "x"}))
        .await;
    let changed = app
        .request(Method::GET, "/feed.atom")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);

    assert_problem(
        app.get("/feed.atom?tag=no%20spaces").await,
        422,
        "validation_failed",
    )
    .await;
}
