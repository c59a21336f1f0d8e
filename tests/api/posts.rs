use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, post_body, spawn_app, Account, TestApp};

fn id(post: &Value) -> String {
    post["id"].as_str().unwrap().to_owned()
}

async fn edit(
    app: &TestApp,
    method: Method,
    who: &Account,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .request(method, &format!("/api/v1/posts/{id}"))
        .bearer_auth(&who.token)
        .json(body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn create_returns_201_with_location_etag_and_the_post() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let body = json!({"title": "Hello, World!", "content": "# Hi\n", "description": "First", "tags": ["Rust", "web", "rust"]});
    let response = app
        .send_json(Method::POST, "/api/v1/posts", Some(&alice.token), &body)
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let post: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/posts/{}", id(&post)));
    // The version, then 8 bytes of digest (11 characters of base64url).
    let (version, digest) = etag
        .strip_prefix('"')
        .and_then(|tag| tag.strip_suffix('"'))
        .and_then(|tag| tag.split_once('-'))
        .expect("\"<version>-<digest>\"");
    assert_eq!((version, digest.len()), ("1", 11), "{etag}");
    assert_eq!(post["slug"], "hello-world");
    assert_eq!(post["title"], "Hello, World!");
    assert_eq!(post["content"], "# Hi\n");
    assert_eq!(post["description"], "First");
    assert_eq!(post["tags"], json!(["rust", "web"]));
    assert_eq!(post["version"], 1);
    assert_eq!(
        post["author"],
        json!({"id": alice.id, "username": "alice", "name": null, "bio": null, "image": null})
    );
    assert_eq!(post["created_at"], post["updated_at"]);
    let created = post["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.len() == "2026-11-23T10:00:00.000Z".len(),
        "{created}"
    );

    let fetched = app.get(&location).await;
    assert_eq!(fetched.headers()["etag"], etag.as_str());
    assert_eq!(fetched.json::<Value>().await.unwrap(), post);
    let by_slug: Value = app
        .get("/api/v1/posts/hello-world")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_slug["id"], post["id"]);
}

#[tokio::test]
async fn slugs_are_unique() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let first = app
        .create_post(&alice.token, &post_body("Same title"))
        .await;
    let second = app
        .create_post(&alice.token, &post_body("Same title"))
        .await;
    assert_eq!(
        (first["slug"].as_str(), second["slug"].as_str()),
        (Some("same-title"), Some("same-title-2"))
    );
}

#[tokio::test]
async fn clients_cannot_set_read_only_or_unknown_fields() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let post = app.create_post(&alice.token, &post_body("Mine")).await;
    for field in [
        "id",
        "author",
        "created_at",
        "updated_at",
        "version",
        "slug",
        "colour",
    ] {
        let mut body = post_body("Sneaky");
        body[field] = json!("x");
        let response = app
            .send_json(Method::POST, "/api/v1/posts", Some(&alice.token), &body)
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{field}: {problem}");

        let mut patch = json!({"title": "Changed"});
        patch[field] = json!(1);
        let response = edit(&app, Method::PATCH, &alice, &id(&post), &patch, None).await;
        assert_problem(response, 422, "validation_failed").await;
    }
    let unchanged: Value = app
        .get(&format!("/api/v1/posts/{}", id(&post)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged, post, "nothing was half-applied");
}

#[tokio::test]
async fn invalid_posts_are_422_naming_each_field() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let cases = [
        (json!({"title": "", "content": "x"}), "title", "empty title"),
        (
            json!({"title": "t".repeat(201), "content": "x"}),
            "title",
            "title over 200 characters",
        ),
        (
            json!({"title": "two\nlines", "content": "x"}),
            "title",
            "title with a newline",
        ),
        (
            json!({"title": "t", "content": "  "}),
            "content",
            "blank content",
        ),
        (
            json!({"title": "t", "content": "c".repeat(100_001)}),
            "content",
            "content over 100,000 characters",
        ),
        (
            json!({"title": "t", "content": "x", "description": "d".repeat(501)}),
            "description",
            "long description",
        ),
        (
            json!({"title": "t", "content": "x", "tags": ["ok", "not ok"]}),
            "tags",
            "tag with a space",
        ),
        (
            json!({"title": "t", "content": "x", "tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "tags",
            "11 tags",
        ),
        (
            json!({"title": "t", "content": "x", "tags": "rust"}),
            "tags",
            "tags not a list",
        ),
        (json!({"content": "x"}), "title", "missing title"),
        (
            json!({"title": "t", "content": "x", "tags": vec!["rust"; 11]}),
            "tags",
            "11 tags sent, all the same",
        ),
    ];
    for (body, field, reason) in cases {
        let response = app
            .send_json(Method::POST, "/api/v1/posts", Some(&alice.token), &body)
            .await;
        assert_eq!(response.status(), 422, "{reason}");
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{reason}: {problem}");
    }
}

#[tokio::test]
async fn put_replaces_patch_changes_and_versions_count_changes() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let post = app
        .create_post(
            &alice.token,
            &json!({"title": "One", "content": "c", "description": "d", "tags": ["a"]}),
        )
        .await;
    let post_id = id(&post);

    let replaced = edit(
        &app,
        Method::PUT,
        &alice,
        &post_id,
        &json!({"title": "Two", "content": "c2"}),
        None,
    )
    .await;
    assert_eq!(replaced.status(), 200);
    let tag = replaced.headers()["etag"].to_str().unwrap();
    assert!(tag.starts_with("\"2-"), "{tag}");
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(
        (replaced["title"].as_str(), replaced["slug"].as_str()),
        (Some("Two"), Some("two"))
    );
    assert_eq!(
        replaced["description"],
        Value::Null,
        "PUT replaces: omitted fields are cleared"
    );
    assert_eq!(replaced["tags"], json!([]));
    assert_eq!(replaced["version"], 2);
    assert_eq!(replaced["created_at"], post["created_at"]);

    let patched: Value = edit(
        &app,
        Method::PATCH,
        &alice,
        &post_id,
        &json!({"tags": ["B"], "description": "new"}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(patched["title"], "Two", "PATCH leaves absent fields alone");
    assert_eq!(
        (patched["tags"].clone(), patched["description"].clone()),
        (json!(["b"]), json!("new"))
    );
    assert_eq!(patched["version"], 3);

    let same: Value = edit(
        &app,
        Method::PATCH,
        &alice,
        &post_id,
        &json!({"tags": ["b"]}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(same["version"], 3, "no change, no new version");
    let cleared: Value = edit(
        &app,
        Method::PATCH,
        &alice,
        &post_id,
        &json!({"description": null}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (cleared["description"].clone(), cleared["version"].clone()),
        (Value::Null, json!(4))
    );
}

#[tokio::test]
async fn if_match_guards_against_lost_updates() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let post_id = id(&app.create_post(&alice.token, &post_body("Draft")).await);

    let first = edit(
        &app,
        Method::PATCH,
        &alice,
        &post_id,
        &json!({"title": "First"}),
        Some("\"1\""),
    )
    .await;
    assert_eq!(first.status(), 200);
    let stale = edit(
        &app,
        Method::PATCH,
        &alice,
        &post_id,
        &json!({"title": "Stale"}),
        Some("\"1\""),
    )
    .await;
    assert_problem(stale, 412, "precondition_failed").await;
    let stale_put = edit(
        &app,
        Method::PUT,
        &alice,
        &post_id,
        &post_body("Stale"),
        Some("\"1\""),
    )
    .await;
    assert_problem(stale_put, 412, "precondition_failed").await;
    let weak = edit(
        &app,
        Method::PATCH,
        &alice,
        &post_id,
        &json!({"title": "Weak"}),
        Some("W/\"2\""),
    )
    .await;
    assert_problem(weak, 412, "precondition_failed").await;
    let stale_delete = app
        .request(Method::DELETE, &format!("/api/v1/posts/{post_id}"))
        .bearer_auth(&alice.token)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_problem(stale_delete, 412, "precondition_failed").await;

    let current: Value = app
        .get(&format!("/api/v1/posts/{post_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (current["title"].as_str(), current["version"].as_u64()),
        (Some("First"), Some(2))
    );
    let any = edit(
        &app,
        Method::PATCH,
        &alice,
        &post_id,
        &json!({"title": "Any"}),
        Some("*"),
    )
    .await;
    assert_eq!(any.status(), 200);
}

#[tokio::test]
async fn if_none_match_answers_304() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let post_id = id(&app.create_post(&alice.token, &post_body("Cached")).await);
    let path = format!("/api/v1/posts/{post_id}");
    let get = |tag: String| {
        app.request(Method::GET, &path)
            .header("if-none-match", tag)
            .send()
    };
    let tag = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(tag.starts_with("\"1-"), "{tag}");
    let unchanged = get(tag.clone()).await.unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), tag);
    assert_eq!(get(format!("W/{tag}")).await.unwrap().status(), 304);
    assert_eq!(get("\"1\"".into()).await.unwrap().status(), 200);
    assert_eq!(get("\"7\"".into()).await.unwrap().status(), 200);
}

/// A slug freed by a deleted post and taken by a new one (at version 1, same author, no
/// favorites) names another answer: the old tag gets 200, not 304.
#[tokio::test]
async fn a_reused_slug_is_not_answered_304() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let first = app.create_post(&alice.token, &post_body("Reused")).await;
    let slug = first["slug"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/posts/{slug}");
    let old = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let deleted = app
        .request(Method::DELETE, &format!("/api/v1/posts/{}", id(&first)))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let second = app.create_post(&alice.token, &post_body("Reused")).await;
    assert_eq!(
        (second["slug"].as_str(), second["version"].as_u64()),
        (Some(slug.as_str()), Some(1))
    );
    let again = app
        .request(Method::GET, &path)
        .header("if-none-match", &old)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_ne!(again.headers()["etag"].to_str().unwrap(), old);
}

/// What a post's answer shows besides its own fields (favorites, the viewer's `favorited`, the
/// author's profile) changes without a new version: the ETag changes with it, so a client
/// revalidating gets the new answer, not 304; `If-Match` still checks the version alone.
#[tokio::test]
async fn etag_follows_favorites_and_the_authors_profile() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let post_id = id(&app.create_post(&alice.token, &post_body("Cached")).await);
    let path = format!("/api/v1/posts/{post_id}");
    let etag =
        |response: &reqwest::Response| response.headers()["etag"].to_str().unwrap().to_owned();
    let revalidate = |tag: String, token: Option<String>| {
        let mut request = app.request(Method::GET, &path).header("if-none-match", tag);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let first = etag(&app.get(&path).await);

    // Bob favorites it: the anonymous answer now counts one favorite.
    let favorited = app
        .request(Method::PUT, &format!("{path}/favorite"))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(favorited.status(), 200);
    let as_bob = etag(&favorited);
    let after = revalidate(first.clone(), None).await.unwrap();
    assert_eq!(after.status(), 200, "a favorite changes the answer");
    let counted = etag(&after);
    assert_ne!(counted, first);
    let body: Value = after.json().await.unwrap();
    assert_eq!(
        (&body["favorites_count"], &body["version"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(
        revalidate(counted.clone(), None).await.unwrap().status(),
        304
    );

    // Bob's answer says `favorited: true`, the anonymous one does not: different tags.
    assert_ne!(as_bob, counted);
    assert_eq!(
        revalidate(counted.clone(), Some(bob.token.clone()))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        revalidate(as_bob.clone(), Some(bob.token.clone()))
            .await
            .unwrap()
            .status(),
        304
    );

    // Alice changes her bio: every answer showing her as author changes.
    let me = app
        .send_json(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&alice.token),
            &json!({"bio": "New bio."}),
        )
        .await;
    assert_eq!(me.status(), 200);
    let after = revalidate(counted.clone(), None).await.unwrap();
    assert_eq!(
        after.status(),
        200,
        "the author's profile changes the answer"
    );
    assert_ne!(etag(&after), counted);

    // The favorite and the bio did not make a new version: an edit under the first tag succeeds.
    let (app, alice, post_id, first) = (&app, &alice, &post_id, &first);
    let retitle = |title: &'static str| async move {
        let body = json!({"title": title});
        edit(app, Method::PATCH, alice, post_id, &body, Some(first)).await
    };
    let edited = retitle("Edited").await;
    assert_eq!(edited.status(), 200);
    assert!(etag(&edited).starts_with("\"2-"), "{}", etag(&edited));
    assert_problem(retitle("Stale").await, 412, "precondition_failed").await;
}

#[tokio::test]
async fn only_the_author_may_change_or_delete() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let mallory = app.signup("mallory").await;
    let post = app.create_post(&alice.token, &post_body("Alice's")).await;
    let post_id = id(&post);

    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        let response = edit(
            &app,
            method.clone(),
            &mallory,
            &post_id,
            &post_body("Mallory's"),
            None,
        )
        .await;
        assert_problem(response, 403, "not_author").await;
    }
    let unchanged: Value = app
        .get(&format!("/api/v1/posts/{post_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged, post);

    let deleted = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/posts/{post_id}"),
            &alice.token,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_problem(
        app.get(&format!("/api/v1/posts/{post_id}")).await,
        404,
        "not_found",
    )
    .await;
    let again = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/posts/{post_id}"),
            &alice.token,
        )
        .await;
    assert_problem(again, 404, "not_found").await;
}

#[tokio::test]
async fn lists_page_newest_first_and_filter_by_author_and_tag() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    for i in 0..7 {
        let (who, tag) = if i % 2 == 0 {
            (&alice, "even")
        } else {
            (&bob, "odd")
        };
        app.create_post(
            &who.token,
            &json!({"title": format!("p{i}"), "content": "c", "tags": [tag]}),
        )
        .await;
    }
    let titles = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let walk = |query: &'static str| {
        let app = &app;
        async move {
            let mut seen = Vec::new();
            let mut path = format!("/api/v1/posts?{query}");
            loop {
                let page: Value = app.get(&path).await.json().await.unwrap();
                seen.extend(titles(&page));
                match page["next_cursor"].as_str() {
                    Some(cursor) => path = format!("/api/v1/posts?{query}&cursor={cursor}"),
                    None => return seen,
                }
            }
        }
    };
    assert_eq!(
        walk("limit=3").await,
        ["p6", "p5", "p4", "p3", "p2", "p1", "p0"]
    );
    assert_eq!(walk("limit=2&author=alice").await, ["p6", "p4", "p2", "p0"]);
    assert_eq!(walk("limit=2&tag=ODD").await, ["p5", "p3", "p1"]);
    assert_eq!(walk("author=bob&tag=even").await, Vec::<String>::new());
    assert_eq!(walk("author=nobody").await, Vec::<String>::new());

    let default: Value = app.get("/api/v1/posts").await.json().await.unwrap();
    assert_eq!(titles(&default).len(), 7);
    assert_eq!(default["next_cursor"], Value::Null);
}

#[tokio::test]
async fn bad_list_queries_are_422() {
    let app = spawn_app().await;
    for (query, field, reason) in [
        ("limit=0", "limit", "zero"),
        ("limit=101", "limit", "over 100"),
        ("limit=-1", "limit", "negative"),
        ("limit=ten", "limit", "not a number"),
        ("limit=", "limit", "empty"),
        ("cursor=garbage", "cursor", "not our cursor"),
        ("author=a", "author", "not a username"),
        ("tag=no%20spaces", "tag", "not a tag"),
    ] {
        let problem = assert_problem(
            app.get(&format!("/api/v1/posts?{query}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert!(problem["errors"][field].is_array(), "{reason}: {problem}");
    }
    assert_eq!(app.get("/api/v1/posts?limit=100").await.status(), 200);
    assert_eq!(app.get("/api/v1/posts?limit=1").await.status(), 200);
}

#[tokio::test]
async fn fifty_concurrent_creates_all_land_with_unique_ids() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let creates = (0..50).map(|i| {
        let body = json!({"title": format!("Concurrent {i}"), "content": "c", "tags": ["load"]});
        app.send_json(Method::POST, "/api/v1/posts", Some(&alice.token), &body)
    });
    let responses = futures_util::future::join_all(creates).await;
    let mut ids = HashSet::new();
    let mut slugs = HashSet::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        let post: Value = response.json().await.unwrap();
        ids.insert(id(&post));
        slugs.insert(post["slug"].as_str().unwrap().to_owned());
    }
    assert_eq!((ids.len(), slugs.len()), (50, 50));
    let page: Value = app
        .get("/api/v1/posts?limit=100&tag=load")
        .await
        .json()
        .await
        .unwrap();
    let listed: HashSet<String> = page["data"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(listed, ids);
}
