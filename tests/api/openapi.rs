use serde_json::Value;

use crate::helpers::spawn_app;

async fn document() -> Value {
    let app = spawn_app().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_every_endpoint() {
    let doc = document().await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let expected = [
        ("/", "get"),
        ("/health", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/api/v1/auth/signup", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/token", "post"),
        ("/api/v1/clients", "get"),
        ("/api/v1/clients", "post"),
        ("/api/v1/clients/{id}", "delete"),
        ("/api/v1/users", "get"),
        ("/api/v1/users/{id}", "delete"),
        ("/api/v1/users/me/sessions", "get"),
        ("/api/v1/users/me/sessions/{id}", "delete"),
        ("/api/v1/users/me", "get"),
        ("/api/v1/users/me", "patch"),
        ("/api/v1/users/me", "delete"),
        ("/api/v1/users/me/password", "put"),
        ("/api/v1/users/{id}", "get"),
        ("/api/v1/users/{id}/follow", "put"),
        ("/api/v1/users/{id}/follow", "delete"),
        ("/api/v1/users/me/feed", "get"),
        ("/api/v1/posts", "get"),
        ("/api/v1/posts", "post"),
        ("/api/v1/posts/{id}", "get"),
        ("/api/v1/posts/{id}", "put"),
        ("/api/v1/posts/{id}", "patch"),
        ("/api/v1/posts/{id}", "delete"),
        ("/api/v1/posts/{id}/favorite", "put"),
        ("/api/v1/posts/{id}/favorite", "delete"),
        ("/api/v1/posts/{id}/comments", "get"),
        ("/api/v1/posts/{id}/comments", "post"),
        ("/api/v1/posts/{id}/comments/{comment_id}", "delete"),
        ("/api/v1/tags", "get"),
        ("/feed.atom", "get"),
    ];
    for (path, method) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        operations,
        expected.len(),
        "and nothing undocumented-by-test"
    );
}

/// Swagger UI finds an operation by its id: two operations with one id make "Try it out" run
/// the wrong one.
#[tokio::test]
async fn operation_ids_are_unique() {
    let doc = document().await;
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "duplicate operationIds among {ids:?}");
}

#[tokio::test]
async fn security_schemes_are_oauth2_password_and_bearer() {
    let doc = document().await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["oauth2_password"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/login"
    );
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        schemes["oauth2_client"]["flows"]["clientCredentials"]["tokenUrl"],
        "/api/v1/auth/token"
    );
    let create = doc["paths"]["/api/v1/posts"]["post"]["security"].to_string();
    assert!(create.contains("posts:write"), "{create}");
    for (path, method) in [
        ("/api/v1/posts", "post"),
        ("/api/v1/posts/{id}", "delete"),
        ("/api/v1/users/me", "get"),
    ] {
        let security = doc["paths"][path][method]["security"].to_string();
        assert!(
            security.contains("oauth2_password") && security.contains("bearer"),
            "{method} {path}: {security}"
        );
    }
    assert!(
        doc["paths"]["/api/v1/posts"]["get"]["security"].is_null(),
        "listing is public"
    );
}

/// OpenAPI 3.1 requires a `description` on every response object: without one, validators and
/// strict code generators refuse the whole document (CI also runs openapi-spec-validator on it).
#[tokio::test]
async fn every_response_has_a_description() {
    let doc = document().await;
    let mut responses = 0;
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                responses += 1;
                let described = response["description"]
                    .as_str()
                    .is_some_and(|text| !text.trim().is_empty());
                if !described {
                    missing.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(responses > 100, "only {responses} responses were found");
    assert!(
        missing.is_empty(),
        "responses without a description: {missing:?}"
    );
}

#[tokio::test]
async fn errors_are_documented_as_problem_json() {
    let doc = document().await;
    let responses = &doc["paths"]["/api/v1/posts"]["post"]["responses"];
    for status in ["400", "401", "413", "415", "422"] {
        let schema = &responses[status]["content"]["application/problem+json"]["schema"]["$ref"];
        assert_eq!(schema, "#/components/schemas/Problem", "{status}");
    }
    assert!(doc["components"]["schemas"]["Problem"]["example"].is_object());
    assert!(doc["components"]["schemas"]["PostInput"]["example"].is_object());
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/docs/");
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let config = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(config.contains("/api/v1/openapi.json"), "{config}");
}

/// Under this policy Swagger UI still works: tests/e2e/swagger-ui.mjs runs it in chromium and
/// fails on any violation.
#[tokio::test]
async fn swagger_ui_is_served_with_a_content_security_policy() {
    let app = spawn_app().await;
    for path in ["/docs/", "/docs/swagger-initializer.js", "/docs"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                policy.contains(directive),
                "{path}: {directive} in {policy}"
            );
        }
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
    }
    let config = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        config.contains("\"validatorUrl\": \"none\"")
            || config.contains("\"validatorUrl\":\"none\""),
        "no online validator badge (it would load from validator.swagger.io): {config}"
    );
}
