//! `/api`: the RealWorld adapter. The Hurl suite of the RealWorld project runs in CI against the
//! release binary; these tests cover what it does not: one blog through two doors, every
//! session rule holding on `/api`, the token lifetime, the password policy setting, the error
//! shape of bad input, CORS, and the shared rate limit.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{post_body, spawn_app, spawn_app_with, TestApp, PASSWORD};

/// Registers through `/api/users`; returns the token.
async fn register(app: &TestApp, username: &str) -> String {
    let response = app
        .post_json(
            "/api/users",
            &json!({"user": {
                "username": username,
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
            }}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], username);
    assert_eq!(body["user"]["bio"], Value::Null);
    body["user"]["token"].as_str().unwrap().to_owned()
}

/// A request with `Authorization: Token <token>`.
async fn send_token(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app
        .request(method, path)
        .header("Authorization", format!("Token {token}"));
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn errors(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "RealWorld errors are plain JSON"
    );
    let body: Value = response.json().await.unwrap();
    body["errors"].clone()
}

#[actix_web::test]
async fn a_post_made_on_v1_is_an_article_and_an_article_is_a_post() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let mut body = post_body("From the v1 door");
    body["description"] = json!("Short");
    body["tags"] = json!(["rust", "web_dev"]);
    let post = app.create_post(&alice.token, &body).await;

    let response = app
        .get(&format!("/api/articles/{}", post["slug"].as_str().unwrap()))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let article: Value = response.json().await.unwrap();
    assert_eq!(article["article"]["title"], "From the v1 door");
    assert_eq!(article["article"]["description"], "Short");
    assert_eq!(article["article"]["body"], post["content"]);
    assert_eq!(article["article"]["tagList"], json!(["rust", "web_dev"]));
    assert_eq!(article["article"]["author"]["username"], "alice");

    // The v1 token works on /api with either scheme, and an article made there is a post.
    let created = send_token(
        &app,
        Method::POST,
        "/api/articles",
        &alice.token,
        Some(
            &json!({"article": {"title": "From the other door", "description": "d", "body": "b"}}),
        ),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let listed: Value = app.get("/api/v1/posts").await.json().await.unwrap();
    let titles: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["From the other door", "From the v1 door"]);
    let bearer = app
        .request(Method::GET, "/api/user")
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
}

#[actix_web::test]
async fn an_account_made_on_one_door_logs_in_on_the_other() {
    let app = spawn_app().await;
    register(&app, "bob").await;
    let v1 = app
        .login(&json!({"email": "bob@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(v1.status(), StatusCode::OK);

    app.signup("carol").await;
    let response = app
        .post_json(
            "/api/users/login",
            &json!({"user": {"email": "carol@example.com", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], "carol");
    // Unknown email and wrong password: one answer.
    for email in ["carol@example.com", "nobody@example.com"] {
        let response = app
            .post_json(
                "/api/users/login",
                &json!({"user": {"email": email, "password": "wrong password here"}}),
            )
            .await;
        let errors = errors(response, StatusCode::UNAUTHORIZED).await;
        assert_eq!(errors, json!({"credentials": ["invalid"]}));
    }
}

#[actix_web::test]
async fn a_password_change_on_api_ends_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let first = register(&app, "dave").await;
    let other = app
        .login(&json!({"email": "dave@example.com", "password": PASSWORD}))
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = send_token(
        &app,
        Method::PUT,
        "/api/user",
        &first,
        Some(&json!({"user": {"password": "a brand new passphrase"}})),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["user"]["token"], first.as_str());
    assert_eq!(
        send_token(&app, Method::GET, "/api/user", &first, None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_as("/api/v1/users/me", &other).await.status(),
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    let relogin = app
        .post_json(
            "/api/users/login",
            &json!({"user": {"email": "dave@example.com", "password": "a brand new passphrase"}}),
        )
        .await;
    assert_eq!(relogin.status(), StatusCode::OK);
}

/// Logs `username` in on /api/v1; returns its access token.
async fn v1_login(app: &TestApp, username: &str) -> String {
    let response = app
        .login(&json!({"email": format!("{username}@example.com"), "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn ending_the_session_or_the_account_on_v1_ends_the_api_token_at_once() {
    let app = spawn_app().await;
    let token = register(&app, "erin").await;
    let v1 = v1_login(&app, "erin").await;
    let sid = claims(&token)["sid"].as_str().unwrap().to_owned();
    let ended = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/users/me/sessions/{sid}"),
            &v1,
        )
        .await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    let errors = errors(
        send_token(&app, Method::GET, "/api/user", &token, None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(errors, json!({"token": ["is invalid"]}));

    let token = register(&app, "frank").await;
    let v1 = v1_login(&app, "frank").await;
    assert_eq!(
        app.send_as(Method::DELETE, "/api/v1/users/me", &v1)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send_token(&app, Method::GET, "/api/user", &token, None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn api_tokens_stay_on_api_and_v1_tokens_cannot_change_a_password_there() {
    let app = spawn_app().await;
    let token = register(&app, "greta").await;
    let refused = app.get_as("/api/v1/users/me", &token).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let v1 = v1_login(&app, "greta").await;
    let change = app
        .request(Method::PUT, "/api/user")
        .bearer_auth(&v1)
        .json(&json!({"user": {"password": "a brand new passphrase"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        errors(change, StatusCode::FORBIDDEN).await,
        json!({"password": ["forbidden"]})
    );
    let old_still_works = app
        .post_json(
            "/api/users/login",
            &json!({"user": {"email": "greta@example.com", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(old_still_works.status(), StatusCode::OK);
}

/// The payload of a JWT, unverified (the test only reads its times).
fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[actix_web::test]
async fn api_tokens_live_the_configured_lifetime_and_name_their_session() {
    let app = spawn_app_with(|settings| {
        settings.realworld_token_ttl = std::time::Duration::from_secs(3 * 24 * 3600);
    })
    .await;
    let token = register(&app, "gina").await;
    let claims = claims(&token);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3 * 24 * 3600);
    assert!(claims["sid"].is_string(), "bound to a session: {claims}");
    // /api/v1 tokens keep their own, short lifetime.
    let v1 = app.signup("gina2").await;
    let v1 = crate::realworld::claims(&v1.token);
    assert_eq!(
        v1["exp"].as_i64().unwrap() - v1["iat"].as_i64().unwrap(),
        15 * 60
    );
}

#[actix_web::test]
async fn the_password_policy_is_a_setting() {
    let body = |name: &str| {
        json!({"user": {
            "username": name, "email": format!("{name}@example.com"), "password": "password123"
        }})
    };
    // Default: a common password is refused, on both doors.
    let app = spawn_app().await;
    let refused = app.post_json("/api/users", &body("hank")).await;
    let errors = errors(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(errors["password"][0].as_str().unwrap().contains("common"));
    let refused = app
        .signup_raw(
            &json!({"username": "hank", "email": "hank@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Score 0: length only.
    let app = spawn_app_with(|settings| settings.password_policy.min_score = 0).await;
    let accepted = app.post_json("/api/users", &body("hank")).await;
    assert_eq!(accepted.status(), StatusCode::CREATED);
    let short = app
        .post_json(
            "/api/users",
            &json!({"user": {"username": "ivy", "email": "ivy@example.com", "password": "short7c"}}),
        )
        .await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn bad_input_gets_realworld_errors_with_the_right_status() {
    let app = spawn_app().await;
    let token = register(&app, "jack").await;
    let raw = |method: Method, path: &str, content_type: &str, body: &'static str| {
        app.request(method, path)
            .header("Authorization", format!("Token {token}"))
            .header("Content-Type", content_type.to_owned())
            .body(body)
            .send()
    };
    let malformed = raw(
        Method::POST,
        "/api/articles",
        "application/json",
        "{\"article\":",
    )
    .await
    .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert!(malformed.json::<Value>().await.unwrap()["errors"].is_object());
    let unknown = raw(
        Method::POST,
        "/api/articles",
        "application/json",
        r#"{"article": {"title": "t", "description": "d", "body": "b", "sneaky": 1}}"#,
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let errors_of = unknown.json::<Value>().await.unwrap()["errors"].clone();
    assert!(errors_of.to_string().contains("sneaky"), "{errors_of}");
    let wrong_type = raw(Method::POST, "/api/articles", "text/plain", "hello")
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(wrong_type.json::<Value>().await.unwrap()["errors"].is_object());

    let blank = send_token(
        &app,
        Method::POST,
        "/api/articles",
        &token,
        Some(&json!({"article": {"title": " ", "description": "", "body": ""}})),
    )
    .await;
    let errors_of = errors(blank, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(
        errors_of,
        json!({"title": ["can't be blank"], "description": ["can't be blank"], "body": ["can't be blank"]})
    );
    let hostile = app
        .request(Method::GET, "/api/user")
        .header("Authorization", "Token not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        errors(hostile, StatusCode::UNAUTHORIZED).await,
        json!({"token": ["is invalid"]})
    );
    let bad_limit = app.get("/api/articles?limit=0").await;
    assert!(errors(bad_limit, StatusCode::UNPROCESSABLE_ENTITY).await["limit"].is_array());
    let bad_image = send_token(
        &app,
        Method::PUT,
        "/api/user",
        &token,
        Some(&json!({"user": {"image": "javascript:alert(1)"}})),
    )
    .await;
    assert!(errors(bad_image, StatusCode::UNPROCESSABLE_ENTITY).await["image"].is_array());
    let unknown_route = app.get("/api/nothing-here").await;
    assert_eq!(
        errors(unknown_route, StatusCode::NOT_FOUND).await,
        json!({"route": ["not found"]})
    );
    let bad_comment = send_token(
        &app,
        Method::DELETE,
        "/api/articles/nothing/comments/abc",
        &token,
        None,
    )
    .await;
    assert_eq!(bad_comment.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn drafts_stay_hidden_on_api_and_scheduled_posts_are_not_listed() {
    let app = spawn_app().await;
    let kim = app.signup("kim").await;
    let mut draft = post_body("Secret draft");
    draft["status"] = json!("draft");
    let draft = app.create_post(&kim.token, &draft).await;
    let slug = draft["slug"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/articles/{slug}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let own = send_token(
        &app,
        Method::GET,
        &format!("/api/articles/{slug}"),
        &kim.token,
        None,
    )
    .await;
    assert_eq!(own.status(), StatusCode::OK, "its author sees it");
    let mut scheduled = post_body("Later");
    scheduled["published_at"] = json!("2999-01-01T00:00:00Z");
    app.create_post(&kim.token, &scheduled).await;
    let listed: Value = app.get("/api/articles").await.json().await.unwrap();
    assert_eq!(listed["articlesCount"], 0);
    assert_eq!(listed["articles"], json!([]));
}

#[actix_web::test]
async fn lists_count_filter_and_page_by_offset() {
    let app = spawn_app().await;
    let liz = register(&app, "liz").await;
    let max = register(&app, "max").await;
    for (token, title, tags) in [
        (&liz, "One", json!(["a"])),
        (&max, "Two", json!(["a", "b"])),
        (&liz, "Three", json!(["b"])),
    ] {
        let response = send_token(
            &app,
            Method::POST,
            "/api/articles",
            token,
            Some(&json!({"article": {"title": title, "description": "d", "body": "b", "tagList": tags}})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let titles = |body: &Value| -> Vec<String> {
        body["articles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let page: Value = app
        .get("/api/articles?limit=2&offset=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["articlesCount"], 3);
    assert_eq!(titles(&page), ["Two", "One"]);
    let by_tag: Value = app.get("/api/articles?tag=a").await.json().await.unwrap();
    assert_eq!(
        (by_tag["articlesCount"].clone(), titles(&by_tag)),
        (json!(2), vec!["Two".to_owned(), "One".to_owned()])
    );
    let both: Value = app
        .get("/api/articles?tag=b&author=liz")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (both["articlesCount"].clone(), titles(&both)),
        (json!(1), vec!["Three".to_owned()])
    );
    let none: Value = app
        .get("/api/articles?tag=not%20a%20tag")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["articlesCount"], 0);

    // Favorites and the feed.
    let slug = page["articles"][1]["slug"].as_str().unwrap().to_owned();
    let favorited = send_token(
        &app,
        Method::POST,
        &format!("/api/articles/{slug}/favorite"),
        &max,
        None,
    )
    .await;
    let favorited: Value = favorited.json().await.unwrap();
    assert_eq!(favorited["article"]["favoritesCount"], 1);
    let by_max: Value = app
        .get("/api/articles?favorited=max")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&by_max), ["One"]);
    let follow = send_token(&app, Method::POST, "/api/profiles/liz/follow", &max, None).await;
    assert_eq!(
        follow.json::<Value>().await.unwrap()["profile"]["following"],
        true
    );
    let feed: Value = send_token(&app, Method::GET, "/api/articles/feed", &max, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(feed["articlesCount"], 2);
    assert_eq!(titles(&feed), ["Three", "One"]);
    assert_eq!(feed["articles"][0]["author"]["following"], true);
    let tags: Value = app.get("/api/tags").await.json().await.unwrap();
    assert_eq!(tags["tags"], json!(["a", "b"]));
}

#[actix_web::test]
async fn a_frontend_on_an_allowed_origin_may_send_its_token() {
    let app = spawn_app_with(|settings| {
        settings.cors_origins = vec!["http://localhost:4100".into()];
    })
    .await;
    let preflight = app
        .request(Method::OPTIONS, "/api/user")
        .header("Origin", "http://localhost:4100")
        .header("Access-Control-Request-Method", "PUT")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:4100"
    );
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
}

#[actix_web::test]
async fn signup_and_login_on_api_share_the_auth_rate_limit() {
    let app = spawn_app_with(|settings| {
        settings.limits.auth_burst = 2;
        settings.limits.auth_rate_per_minute = 1;
    })
    .await;
    let login = json!({"user": {"email": "x@example.com", "password": "whatever it is"}});
    for _ in 0..2 {
        let response = app.post_json("/api/users/login", &login).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = app.post_json("/api/users/login", &login).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    assert!(limited.json::<Value>().await.unwrap()["errors"].is_object());
    // The same bucket as /api/v1/auth.
    let v1 = app
        .login(&json!({"email": "x@example.com", "password": "whatever it is"}))
        .await;
    assert_eq!(v1.status(), StatusCode::TOO_MANY_REQUESTS);
}
