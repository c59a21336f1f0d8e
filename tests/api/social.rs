//! What readers do with posts and with each other: comments, favorites, follows and the feed,
//! profiles (bio, image, a new username or email), tags in use.

use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{
    app_with_admin, assert_problem, post_body, spawn_app, spawn_app_with, TestApp, PASSWORD,
};

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// The JSON body of a response that must have `status` (`null` for an empty body).
async fn expect(response: Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

fn comments_path(post: &str) -> String {
    format!("/api/v1/posts/{post}/comments")
}

/// Comments `body` on `post` as the holder of `token`: the response.
async fn send_comment(app: &TestApp, token: &str, post: &str, body: &str) -> Response {
    app.send_json(
        Method::POST,
        &comments_path(post),
        Some(token),
        &json!({ "body": body }),
    )
    .await
}

/// Comments `body` on `post`, which must succeed: the comment.
async fn comment(app: &TestApp, token: &str, post: &str, body: &str) -> Value {
    expect(send_comment(app, token, post, body).await, 201).await
}

/// Deletes comment `comment` (its id as the path has it) of `post`: the response.
async fn delete_comment(app: &TestApp, token: &str, post: &str, comment: &str) -> Response {
    app.send_as(
        Method::DELETE,
        &format!("{}/{comment}", comments_path(post)),
        token,
    )
    .await
}

fn comment_id(comment: &Value) -> String {
    comment["id"].as_u64().unwrap().to_string()
}

/// A `GET`, with a bearer token when one is given.
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> Response {
    match token {
        Some(token) => app.get_as(path, token).await,
        None => app.get(path).await,
    }
}

/// Every item of a cursor-paged list (under `field`), following `next_cursor`, with the size
/// of each page.
async fn walk(
    app: &TestApp,
    path: &str,
    field: &str,
    token: Option<&str>,
) -> (Vec<Value>, Vec<usize>) {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut sizes = Vec::new();
    let mut next = path.to_owned();
    loop {
        let page = expect(get(app, &next, token).await, 200).await;
        let data = page[field].as_array().unwrap();
        sizes.push(data.len());
        items.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => next = format!("{path}{separator}cursor={cursor}"),
            None => return (items, sizes),
        }
    }
}

fn follow_path(user: &str) -> String {
    format!("/api/v1/users/{user}/follow")
}

fn titles(posts: &[Value]) -> Vec<String> {
    posts
        .iter()
        .map(|post| post["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn comments_are_created_and_listed_oldest_first_a_page_at_a_time() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let post = id(&app.create_post(&alice.token, &post_body("Hello")).await);

    let response = send_comment(&app, &bob.token, &post, "  First!  ").await;
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned());
    let first = expect(response, 201).await;
    let first_id = first["id"].as_u64().expect("an integer id");
    assert!(first_id > 0 && first_id < 1 << 53, "{first}");
    assert_eq!(
        location.as_deref(),
        Some(format!("/api/v1/posts/{post}/comments/{first_id}").as_str())
    );
    assert_eq!(first["post_id"], post.as_str());
    assert_eq!(first["body"], "First!", "trimmed");
    assert_eq!(
        first["author"],
        json!({"id": bob.id, "username": "bob", "name": null, "bio": null, "image": null})
    );
    let created = first["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.len() == "2026-11-23T10:00:00.000Z".len(),
        "{created}"
    );
    assert_eq!(first["updated_at"], first["created_at"]);

    let mut ids = vec![first_id];
    for (i, who) in [&alice, &bob, &alice, &bob].into_iter().enumerate() {
        // Apart by more than a millisecond, so that their order is their creation order.
        tokio::time::sleep(Duration::from_millis(3)).await;
        let made = comment(&app, &who.token, &post, &format!("comment {i}")).await;
        ids.push(made["id"].as_u64().unwrap());
    }

    let (comments, sizes) = walk(
        &app,
        &format!("{}?limit=2", comments_path(&post)),
        "comments",
        None,
    )
    .await;
    assert_eq!(sizes, [2, 2, 1]);
    let listed: Vec<u64> = comments.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    assert_eq!(listed, ids, "oldest first, each once");
    assert_eq!(comments[0], first, "listed as created");

    let all = expect(app.get(&comments_path(&post)).await, 200).await;
    assert_eq!(all["comments"].as_array().unwrap().len(), 5);
    assert_eq!(all["next_cursor"], Value::Null);
    let as_bob = expect(app.get_as(&comments_path(&post), &bob.token).await, 200).await;
    assert_eq!(as_bob, all, "a reader with a token sees the same");
    assert_problem(
        app.get_as(&comments_path(&post), "not.a.token").await,
        401,
        "invalid_token",
    )
    .await;

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=nope", "cursor"),
    ] {
        let response = app.get(&format!("{}?{query}", comments_path(&post))).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{query}: {problem}");
    }
}

#[tokio::test]
async fn bad_comments_and_unknown_posts_are_refused() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let post = id(&app.create_post(&alice.token, &post_body("Hello")).await);

    for (body, field, reason) in [
        (json!({"body": "   "}), "body", "blank"),
        (
            json!({"body": "x".repeat(10_001)}),
            "body",
            "over 10,000 characters",
        ),
        (json!({}), "body", "missing"),
        (
            json!({"body": "hi", "post_id": post}),
            "post_id",
            "read-only field",
        ),
        (
            json!({"body": "hi", "author": "bob"}),
            "author",
            "read-only field",
        ),
    ] {
        let response = app
            .send_json(
                Method::POST,
                &comments_path(&post),
                Some(&alice.token),
                &body,
            )
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{reason}: {problem}");
    }
    let anonymous = app
        .send_json(
            Method::POST,
            &comments_path(&post),
            None,
            &json!({"body": "hi"}),
        )
        .await;
    assert_problem(anonymous, 401, "missing_token").await;

    let unknown = uuid::Uuid::now_v7().to_string();
    assert_problem(app.get(&comments_path(&unknown)).await, 404, "not_found").await;
    assert_problem(
        app.get(&comments_path("not-a-uuid")).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        send_comment(&app, &alice.token, &unknown, "hi").await,
        404,
        "not_found",
    )
    .await;
    let none = expect(app.get(&comments_path(&post)).await, 200).await;
    assert_eq!(none, json!({"comments": [], "next_cursor": null}));
}

#[tokio::test]
async fn comments_are_deleted_by_their_author_the_posts_author_or_an_admin() {
    let (app, admin) = app_with_admin().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let post = id(&app.create_post(&alice.token, &post_body("Hello")).await);
    let other_post = id(&app.create_post(&alice.token, &post_body("Other")).await);
    let mut bobs = Vec::new();
    for i in 0..4 {
        bobs.push(comment_id(
            &comment(&app, &bob.token, &post, &format!("bob {i}")).await,
        ));
    }
    let carols = comment_id(&comment(&app, &carol.token, &post, "carol").await);

    let refused = delete_comment(&app, &carol.token, &post, &bobs[0]).await;
    assert_problem(refused, 403, "not_author").await;
    let anonymous = app
        .request(
            Method::DELETE,
            &format!("{}/{}", comments_path(&post), bobs[0]),
        )
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "missing_token").await;

    for (token, deleted, who) in [
        (&bob.token, &bobs[0], "the comment's author"),
        (&alice.token, &bobs[1], "the post's author"),
        (&admin, &bobs[2], "an admin"),
        (&carol.token, &carols, "the comment's author"),
    ] {
        let response = delete_comment(&app, token, &post, deleted).await;
        assert_eq!(response.status(), 204, "{who}");
    }

    let unknown_post = uuid::Uuid::now_v7().to_string();
    for (post, missing, reason) in [
        (post.as_str(), bobs[0].as_str(), "already deleted"),
        (
            other_post.as_str(),
            bobs[3].as_str(),
            "a comment of another post",
        ),
        (unknown_post.as_str(), bobs[3].as_str(), "an unknown post"),
        (post.as_str(), "abc", "not a number"),
        (post.as_str(), "0", "zero"),
        (post.as_str(), "9007199254740992", "2^53"),
        (post.as_str(), "-1", "negative"),
        ("not-a-uuid", bobs[3].as_str(), "not a post id"),
    ] {
        let response = delete_comment(&app, &bob.token, post, missing).await;
        assert_eq!(response.status(), 404, "{reason}");
        assert_problem(response, 404, "not_found").await;
    }

    let left = expect(app.get(&comments_path(&post)).await, 200).await;
    let left: Vec<String> = left["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(comment_id)
        .collect();
    assert_eq!(left, [bobs[3].clone()]);
}

#[tokio::test]
async fn a_drafts_comments_and_favorites_are_only_for_its_author() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let draft = app
        .create_post(
            &alice.token,
            &json!({"title": "Plans", "content": "soon", "status": "draft"}),
        )
        .await;
    let draft = id(&draft);

    let own = comment(&app, &alice.token, &draft, "a note to self").await;
    let listed = expect(app.get_as(&comments_path(&draft), &alice.token).await, 200).await;
    assert_eq!(listed["comments"], json!([own]));

    assert_problem(app.get(&comments_path(&draft)).await, 404, "not_found").await;
    assert_problem(
        app.get_as(&comments_path(&draft), &bob.token).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        send_comment(&app, &bob.token, &draft, "hi").await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        delete_comment(&app, &bob.token, &draft, &comment_id(&own)).await,
        404,
        "not_found",
    )
    .await;
    let favorite = app
        .send_as(
            Method::PUT,
            &format!("/api/v1/posts/{draft}/favorite"),
            &bob.token,
        )
        .await;
    assert_problem(favorite, 404, "not_found").await;
}

#[tokio::test]
async fn favorites_are_counted_shown_per_reader_and_idempotent() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let post = app.create_post(&alice.token, &post_body("Hello")).await;
    assert_eq!(
        (&post["favorites_count"], &post["favorited"]),
        (&json!(0), &json!(false))
    );
    let post = id(&post);
    let favorite = format!("/api/v1/posts/{post}/favorite");
    let by_id = format!("/api/v1/posts/{post}");

    let response = app.send_as(Method::PUT, &favorite, &bob.token).await;
    let tag = response.headers()["etag"].to_str().unwrap();
    assert!(tag.starts_with("\"1-"), "a favorite is no edit: {tag}");
    let favorited = expect(response, 200).await;
    assert_eq!(favorited["id"], post.as_str());
    assert_eq!(
        (&favorited["favorites_count"], &favorited["favorited"]),
        (&json!(1), &json!(true))
    );
    let again = expect(app.send_as(Method::PUT, &favorite, &bob.token).await, 200).await;
    assert_eq!(
        (&again["favorites_count"], &again["favorited"]),
        (&json!(1), &json!(true)),
        "idempotent"
    );
    let carols = expect(app.send_as(Method::PUT, &favorite, &carol.token).await, 200).await;
    assert_eq!(carols["favorites_count"], 2);

    for (token, favorited, who) in [
        (Some(&bob.token), true, "bob"),
        (Some(&alice.token), false, "the author"),
        (None, false, "anonymous"),
    ] {
        let token = token.map(String::as_str);
        let one = expect(get(&app, &by_id, token).await, 200).await;
        assert_eq!(
            (&one["favorites_count"], &one["favorited"]),
            (&json!(2), &json!(favorited)),
            "{who}"
        );
        let list = expect(get(&app, "/api/v1/posts", token).await, 200).await;
        assert_eq!(
            (
                &list["data"][0]["favorites_count"],
                &list["data"][0]["favorited"]
            ),
            (&json!(2), &json!(favorited)),
            "{who}: list"
        );
    }

    let undone = expect(
        app.send_as(Method::DELETE, &favorite, &bob.token).await,
        200,
    )
    .await;
    assert_eq!(
        (&undone["favorites_count"], &undone["favorited"]),
        (&json!(1), &json!(false))
    );
    let again = expect(
        app.send_as(Method::DELETE, &favorite, &bob.token).await,
        200,
    )
    .await;
    assert_eq!(
        (&again["favorites_count"], &again["favorited"]),
        (&json!(1), &json!(false)),
        "idempotent"
    );
    let as_carol = expect(app.get_as(&by_id, &carol.token).await, 200).await;
    assert_eq!(as_carol["favorited"], true, "carol's favorite stays");

    let unknown = format!("/api/v1/posts/{}/favorite", uuid::Uuid::now_v7());
    assert_problem(
        app.send_as(Method::PUT, &unknown, &bob.token).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.send_as(Method::DELETE, &unknown, &bob.token).await,
        404,
        "not_found",
    )
    .await;
    let anonymous = app.request(Method::PUT, &favorite).send().await.unwrap();
    assert_problem(anonymous, 401, "missing_token").await;
}

#[tokio::test]
async fn the_feed_holds_the_followed_authors_posts_newest_first() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let dave = app.signup("dave").await;
    for (who, title) in [(&bob, "b1"), (&dave, "d1"), (&carol, "c1"), (&bob, "b2")] {
        app.create_post(&who.token, &post_body(title)).await;
    }
    app.create_post(
        &carol.token,
        &json!({"title": "c-draft", "content": "c", "status": "draft"}),
    )
    .await;

    let followed = expect(
        app.send_as(Method::PUT, &follow_path(&bob.id), &alice.token)
            .await,
        200,
    )
    .await;
    assert_eq!(followed["id"], bob.id.as_str());
    assert_eq!(followed["username"], "bob");
    assert_eq!(followed["following"], true);
    assert!(followed.get("email").is_none(), "{followed}");
    let again = expect(
        app.send_as(Method::PUT, &follow_path(&bob.id), &alice.token)
            .await,
        200,
    )
    .await;
    assert_eq!(again["following"], true, "idempotent");
    expect(
        app.send_as(Method::PUT, &follow_path(&carol.id), &alice.token)
            .await,
        200,
    )
    .await;

    let profile = format!("/api/v1/users/{}", bob.id);
    let as_alice = expect(app.get_as(&profile, &alice.token).await, 200).await;
    assert_eq!(as_alice["following"], true);
    let as_carol = expect(app.get_as(&profile, &carol.token).await, 200).await;
    assert_eq!(as_carol["following"], false);
    let anonymous = expect(app.get(&profile).await, 200).await;
    assert_eq!(anonymous["following"], false);
    let me = expect(app.get_as("/api/v1/users/me", &alice.token).await, 200).await;
    assert!(me.get("following").is_none(), "{me}");

    let (posts, sizes) = walk(
        &app,
        "/api/v1/users/me/feed?limit=2",
        "data",
        Some(&alice.token),
    )
    .await;
    assert_eq!(
        titles(&posts),
        ["b2", "c1", "b1"],
        "no draft, nothing by dave"
    );
    assert_eq!(sizes, [2, 1]);
    assert_eq!(posts[0]["author"]["username"], "bob");
    let (posts, _) = walk(&app, "/api/v1/users/me/feed", "data", Some(&dave.token)).await;
    assert!(posts.is_empty(), "dave follows nobody");

    let unfollowed = expect(
        app.send_as(Method::DELETE, &follow_path(&bob.id), &alice.token)
            .await,
        200,
    )
    .await;
    assert_eq!(unfollowed["following"], false);
    let again = expect(
        app.send_as(Method::DELETE, &follow_path(&bob.id), &alice.token)
            .await,
        200,
    )
    .await;
    assert_eq!(again["following"], false, "idempotent");
    let (posts, _) = walk(&app, "/api/v1/users/me/feed", "data", Some(&alice.token)).await;
    assert_eq!(titles(&posts), ["c1"]);

    let own = app
        .send_as(Method::PUT, &follow_path(&alice.id), &alice.token)
        .await;
    let problem = assert_problem(own, 422, "validation_failed").await;
    assert!(problem["errors"]["id"].is_array(), "{problem}");
    let unknown = follow_path(&uuid::Uuid::now_v7().to_string());
    assert_problem(
        app.send_as(Method::PUT, &unknown, &alice.token).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.send_as(Method::DELETE, &unknown, &alice.token).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.send_as(Method::PUT, &follow_path("not-a-uuid"), &alice.token)
            .await,
        404,
        "not_found",
    )
    .await;
    let anonymous = app
        .request(Method::PUT, &follow_path(&bob.id))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "missing_token").await;
    assert_problem(app.get("/api/v1/users/me/feed").await, 401, "missing_token").await;
    let bad = app
        .get_as("/api/v1/users/me/feed?limit=0", &alice.token)
        .await;
    let problem = assert_problem(bad, 422, "validation_failed").await;
    assert!(problem["errors"]["limit"].is_array(), "{problem}");
}

#[tokio::test]
async fn patch_me_sets_and_clears_bio_and_image() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let patch =
        |body: Value| app.send_json(Method::PATCH, "/api/v1/users/me", Some(&alice.token), &body);

    let me = expect(
        patch(json!({"bio": "  I write about Rust.  ", "image": "https://example.com/alice.png"}))
            .await,
        200,
    )
    .await;
    assert_eq!(me["bio"], "I write about Rust.");
    assert_eq!(me["image"], "https://example.com/alice.png");
    assert_eq!(me["email"], "alice@example.com");
    let profile = expect(app.get(&format!("/api/v1/users/{}", alice.id)).await, 200).await;
    assert_eq!(
        (&profile["bio"], &profile["image"]),
        (&me["bio"], &me["image"])
    );
    let post = app.create_post(&alice.token, &post_body("Hello")).await;
    assert_eq!(post["author"]["bio"], "I write about Rust.");
    assert_eq!(post["author"]["image"], "https://example.com/alice.png");
    let said = comment(&app, &alice.token, &id(&post), "hi").await;
    assert_eq!(said["author"]["image"], "https://example.com/alice.png");

    let unchanged = expect(patch(json!({"name": "Alice"})).await, 200).await;
    assert_eq!(
        (&unchanged["name"], &unchanged["bio"]),
        (&json!("Alice"), &me["bio"]),
        "absent fields stay"
    );
    let cleared = expect(patch(json!({"bio": ""})).await, 200).await;
    assert_eq!(
        (&cleared["bio"], &cleared["image"]),
        (&Value::Null, &me["image"])
    );
    let cleared = expect(patch(json!({"image": null})).await, 200).await;
    assert_eq!(cleared["image"], Value::Null);
    let cleared = expect(
        patch(json!({"image": "https://example.com/a.png"})).await,
        200,
    )
    .await;
    assert_eq!(cleared["image"], "https://example.com/a.png");
    let cleared = expect(patch(json!({"image": ""})).await, 200).await;
    assert_eq!(cleared["image"], Value::Null, "\"\" clears too");
    assert_eq!(cleared["name"], "Alice");

    for (body, field, reason) in [
        (json!({"image": "not a url"}), "image", "not a URL"),
        (json!({"image": "/alice.png"}), "image", "relative"),
        (
            json!({"image": "javascript:alert(1)"}),
            "image",
            "javascript:",
        ),
        (json!({"image": "ftp://example.com/a.png"}), "image", "ftp"),
        (
            json!({"image": format!("https://example.com/{}", "a".repeat(2048))}),
            "image",
            "over 2,048 characters",
        ),
        (
            json!({"bio": "b".repeat(1001)}),
            "bio",
            "over 1,000 characters",
        ),
        (json!({"bio": 5}), "bio", "not a string"),
        (
            json!({"bio": "fine", "image": "nope"}),
            "image",
            "one bad field of two",
        ),
    ] {
        let problem = assert_problem(patch(body).await, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{reason}: {problem}");
    }
    let after = expect(app.get_as("/api/v1/users/me", &alice.token).await, 200).await;
    assert_eq!(
        (&after["bio"], &after["image"]),
        (&Value::Null, &Value::Null),
        "nothing half-applied"
    );
}

#[tokio::test]
async fn patch_me_changes_username_and_email_unless_taken() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    app.signup("bob").await;
    let patch =
        |body: Value| app.send_json(Method::PATCH, "/api/v1/users/me", Some(&alice.token), &body);

    let me = expect(
        patch(json!({"username": "Alice2", "email": "Alice2@Example.com"})).await,
        200,
    )
    .await;
    assert_eq!(me["username"], "alice2", "stored lower-case");
    assert_eq!(me["email"], "Alice2@Example.com");
    assert_eq!(me["id"], alice.id.as_str());
    let login = app
        .login(&json!({"username": "alice2", "password": PASSWORD}))
        .await;
    assert_eq!(login.status(), 200, "the new username logs in");
    let login = app
        .login(&json!({"email": "alice2@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(login.status(), 200, "the new email logs in");
    let old = app
        .login(&json!({"username": "alice", "password": PASSWORD}))
        .await;
    assert_problem(old, 401, "invalid_credentials").await;
    let still = app.get_as("/api/v1/users/me", &alice.token).await;
    assert_eq!(still.status(), 200, "the session goes on");
    let same = expect(
        patch(json!({"username": "alice2", "email": "alice2@example.com"})).await,
        200,
    )
    .await;
    assert_eq!(same["username"], "alice2", "one's own names are not taken");

    assert_problem(
        patch(json!({"username": "BOB"})).await,
        409,
        "username_taken",
    )
    .await;
    assert_problem(
        patch(json!({"email": "Bob@Example.com"})).await,
        409,
        "email_taken",
    )
    .await;
    for (body, field, reason) in [
        (json!({"username": "ab"}), "username", "too short"),
        (json!({"username": "al ice"}), "username", "space"),
        (json!({"username": "admin"}), "username", "reserved"),
        (json!({"email": "nope"}), "email", "not an email"),
    ] {
        let problem = assert_problem(patch(body).await, 422, "validation_failed").await;
        assert!(problem["errors"][field].is_array(), "{reason}: {problem}");
    }
    let after = expect(app.get_as("/api/v1/users/me", &alice.token).await, 200).await;
    assert_eq!(
        (&after["username"], &after["email"]),
        (&json!("alice2"), &json!("alice2@example.com"))
    );
}

#[tokio::test]
async fn tags_are_counted_over_public_posts_most_used_first() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let mut cli = String::new();
    for (title, tags) in [
        ("one", json!(["rust", "web"])),
        ("two", json!(["Rust"])),
        ("three", json!(["rust", "cli"])),
        ("four", json!(["web"])),
    ] {
        let post = app
            .create_post(
                &alice.token,
                &json!({"title": title, "content": "c", "tags": tags}),
            )
            .await;
        if title == "three" {
            cli = id(&post);
        }
    }
    app.create_post(
        &alice.token,
        &json!({"title": "draft", "content": "c", "tags": ["rust", "secret"], "status": "draft"}),
    )
    .await;

    let tags = expect(app.get("/api/v1/tags").await, 200).await;
    assert_eq!(
        tags,
        json!({"tags": [
            {"tag": "rust", "count": 3}, {"tag": "web", "count": 2}, {"tag": "cli", "count": 1}
        ]}),
        "no draft's tags"
    );
    let two = expect(app.get("/api/v1/tags?limit=2").await, 200).await;
    assert_eq!(two["tags"].as_array().unwrap().len(), 2);
    for query in ["limit=0", "limit=501", "limit=x"] {
        let problem = assert_problem(
            app.get(&format!("/api/v1/tags?{query}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert!(problem["errors"]["limit"].is_array(), "{query}: {problem}");
    }

    let deleted = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/posts/{cli}"),
            &alice.token,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let tags = expect(app.get("/api/v1/tags").await, 200).await;
    assert_eq!(
        tags,
        json!({"tags": [{"tag": "rust", "count": 2}, {"tag": "web", "count": 2}]})
    );
}

#[tokio::test]
async fn deleting_a_post_deletes_its_comments() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let post = id(&app.create_post(&alice.token, &post_body("Hello")).await);
    let kept = id(&app.create_post(&alice.token, &post_body("Kept")).await);
    let gone = comment_id(&comment(&app, &bob.token, &post, "on the deleted post").await);
    let other = comment(&app, &bob.token, &kept, "on the kept post").await;

    let deleted = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/posts/{post}"),
            &alice.token,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_problem(app.get(&comments_path(&post)).await, 404, "not_found").await;
    assert_problem(
        delete_comment(&app, &bob.token, &post, &gone).await,
        404,
        "not_found",
    )
    .await;
    let left = expect(app.get(&comments_path(&kept)).await, 200).await;
    assert_eq!(left["comments"], json!([other]));
}

#[tokio::test]
async fn deleting_an_account_deletes_its_comments_favorites_and_follows() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let post = id(&app.create_post(&alice.token, &post_body("Hello")).await);
    comment(&app, &bob.token, &post, "bob was here").await;
    let carols = comment(&app, &carol.token, &post, "carol was here").await;
    for who in [&bob, &carol] {
        let favorite = format!("/api/v1/posts/{post}/favorite");
        expect(app.send_as(Method::PUT, &favorite, &who.token).await, 200).await;
    }
    app.create_post(&bob.token, &post_body("By bob")).await;
    expect(
        app.send_as(Method::PUT, &follow_path(&alice.id), &bob.token)
            .await,
        200,
    )
    .await;
    expect(
        app.send_as(Method::PUT, &follow_path(&bob.id), &alice.token)
            .await,
        200,
    )
    .await;
    let (feed, _) = walk(&app, "/api/v1/users/me/feed", "data", Some(&alice.token)).await;
    assert_eq!(titles(&feed), ["By bob"]);

    let deleted = app
        .send_as(Method::DELETE, "/api/v1/users/me", &bob.token)
        .await;
    assert_eq!(deleted.status(), 204);

    let one = expect(
        app.get_as(&format!("/api/v1/posts/{post}"), &carol.token)
            .await,
        200,
    )
    .await;
    assert_eq!(
        (&one["favorites_count"], &one["favorited"]),
        (&json!(1), &json!(true))
    );
    let comments = expect(app.get(&comments_path(&post)).await, 200).await;
    assert_eq!(comments["comments"], json!([carols]));
    let follow = app
        .send_as(Method::PUT, &follow_path(&bob.id), &alice.token)
        .await;
    assert_problem(follow, 404, "not_found").await;
    let (feed, _) = walk(&app, "/api/v1/users/me/feed", "data", Some(&alice.token)).await;
    assert!(feed.is_empty(), "{feed:?}");
}

#[tokio::test]
async fn password_changes_follow_the_configured_policy() {
    let app =
        spawn_app_with(|s| s.password_policy = blog_api::domain::PasswordPolicy { min_score: 0 })
            .await;
    let alice = app.signup("alice").await;
    let change = app
        .send_json(
            Method::PUT,
            "/api/v1/users/me/password",
            Some(&alice.token),
            &json!({"current_password": PASSWORD, "new_password": "password1"}),
        )
        .await;
    assert_eq!(change.status(), 204, "length is all a score of 0 asks for");
    let login = app
        .login(&json!({"username": "alice", "password": "password1"}))
        .await;
    assert_eq!(login.status(), 200);
    let short = app
        .send_json(
            Method::PUT,
            "/api/v1/users/me/password",
            Some(&alice.token),
            &json!({"current_password": "password1", "new_password": "short"}),
        )
        .await;
    let problem = assert_problem(short, 422, "validation_failed").await;
    assert!(problem["errors"]["new_password"].is_array(), "{problem}");
}
