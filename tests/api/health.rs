use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn index_names_the_service_and_links_to_docs() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "blog-api");
    assert_eq!(body["links"]["docs"], "/docs/");
    assert_eq!(body["links"]["openapi"], "/api/v1/openapi.json");
}

#[tokio::test]
async fn health_reports_the_store() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"]["status"], "ok");
    // Test servers keep their data on disk, as a user's server does, or in the test's
    // PostgreSQL database.
    let expected = match crate::helpers::test_database_url() {
        Some(_) => "postgres",
        None => "disk",
    };
    assert_eq!(body["store"]["backend"], expected);
    let memory = crate::helpers::spawn_app_with(|s| {
        s.storage = blog_api::config::Storage::Memory;
    })
    .await;
    let body: Value = memory.get("/health").await.json().await.unwrap();
    assert_eq!(body["store"]["backend"], "memory");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    assert_problem(app.get("/nope").await, 404, "not_found").await;
    assert_problem(app.get("/api/v1/postz").await, 404, "not_found").await;

    let response = app
        .request(reqwest::Method::DELETE, "/api/v1/posts")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, POST");
    assert_problem(response, 405, "method_not_allowed").await;
    let response = app
        .request(reqwest::Method::GET, "/api/v1/auth/login")
        .send()
        .await
        .unwrap();
    assert_problem(response, 405, "method_not_allowed").await;
}
