//! `GET /metrics`. Every server of this test binary shares the process's one registry, so these
//! tests look for series and for increases, never for exact totals.

use serde_json::json;

use crate::helpers::{assert_problem, spawn_app, spawn_app_with, test_database_url, TestApp};

/// The scraped text, after checking the status and content type Prometheus expects.
async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// The value of the first sample of `name` whose labels include every one of `labels`
/// (`key="value"`); 0 when there is none yet.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(series, _)| {
            let (series_name, series_labels) = series.split_once('{').unwrap_or((series, ""));
            series_name == name && labels.iter().all(|label| series_labels.contains(label))
        })
        .map_or(0.0, |(_, value)| value.parse().expect("a number"))
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_failed_logins() {
    // Arrange
    let app = spawn_app_with(|s| s.metrics = true).await;
    let before = scrape(&app).await;
    let failed_before = sample(&before, "blog_failed_logins_total", &[]);

    // Act
    assert_eq!(app.get("/api/v1/posts").await.status(), 200);
    let post_id = "0190a5c4-0000-7000-8000-00000000abcd";
    assert_eq!(
        app.get(&format!("/api/v1/posts/{post_id}")).await.status(),
        404
    );
    assert_eq!(app.get("/no/such/route").await.status(), 404);
    let wrong = json!({"username": "nobody", "password": "wrong password here"});
    assert_problem(app.login(&wrong).await, 401, "invalid_credentials").await;
    let text = scrape(&app).await;

    // Assert
    let list = [
        r#"route="/api/v1/posts""#,
        r#"method="GET""#,
        r#"status="200""#,
    ];
    assert!(
        sample(&text, "blog_http_requests_total", &list) >= 1.0,
        "{text}"
    );
    // Labelled by the route's pattern, never by the path asked for.
    let one = [r#"route="/api/v1/posts/{id}""#, r#"status="404""#];
    assert!(
        sample(&text, "blog_http_requests_total", &one) >= 1.0,
        "{text}"
    );
    assert!(!text.contains(post_id), "{text}");
    let unmatched = [r#"route="unmatched""#, r#"status="404""#];
    assert!(
        sample(&text, "blog_http_requests_total", &unmatched) >= 1.0,
        "{text}"
    );
    assert!(!text.contains("/no/such/route"), "{text}");
    let login = [r#"route="/api/v1/auth/login""#, r#"status="401""#];
    assert!(
        sample(&text, "blog_http_requests_total", &login) >= 1.0,
        "{text}"
    );

    assert!(
        text.contains("# TYPE blog_http_request_duration_seconds histogram"),
        "{text}"
    );
    let bucket = "blog_http_request_duration_seconds_bucket";
    let every = [r#"route="/api/v1/posts""#, r#"le="+Inf""#];
    assert!(sample(&text, bucket, &every) >= 1.0, "{text}");
    assert!(
        text.lines().filter(|line| line.starts_with(bucket)).count() > 1,
        "several buckets: {text}"
    );

    let failed_after = sample(&text, "blog_failed_logins_total", &[]);
    assert!(
        failed_after >= failed_before + 1.0,
        "{failed_before} -> {failed_after}"
    );

    if test_database_url().is_some() {
        for state in [r#"state="idle""#, r#"state="in_use""#] {
            assert!(
                text.lines()
                    .any(|line| line.starts_with("blog_db_pool_connections{")
                        && line.contains(state)),
                "{state}: {text}"
            );
        }
    }
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let app = spawn_app().await;
    assert_problem(app.get("/metrics").await, 404, "not_found").await;
}
