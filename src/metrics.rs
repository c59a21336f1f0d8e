//! `GET /metrics` in the Prometheus text format, served only with `BLOG_METRICS=true`: requests
//! by route, method and status, request latency by route, the PostgreSQL pool's connections, and
//! failed logins. See docs/operations.md.
//!
//! The metrics live in one registry for the whole process, as a scraper expects of one process.
//! A process that runs several servers (the test suite does) adds their requests together.

use std::sync::LazyLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::error::{ApiError, ApiResult};
use crate::store::Store;

/// The `route` label of a request that matched no route (a 404 from the default service), or
/// whose route was lost with a middleware's error. Labels are route *patterns*
/// (`/api/v1/posts/{id}`), never raw paths, so that a scanner cannot make one series per path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// What Prometheus asks for and reads: text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds, in seconds, of the latency buckets: reads from memory take well under a
/// millisecond, a login spends ~20 ms hashing, and anything past 10 s is simply "too slow".
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The methods that get a label of their own; any other (an extension method) is `OTHER`, so
/// that a client cannot make a series per made-up method.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// Every metric, and the registry that gathers them.
struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGaugeVec,
    failed_logins: IntCounter,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    /// The names, help texts and labels are constants: building and registering them cannot fail
    /// unless this function is wrong, which the first test to touch a metric would show.
    fn new() -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "blog_http_requests_total",
                "HTTP requests answered, by route pattern, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("a valid counter");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "blog_http_request_duration_seconds",
                "Time from a request's arrival to its response head, by route pattern.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("a valid histogram");
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "blog_db_pool_connections",
                "PostgreSQL pool connections, in_use or idle, when last scraped.",
            ),
            &["state"],
        )
        .expect("a valid gauge");
        let failed_logins = IntCounter::new(
            "blog_failed_logins_total",
            "Logins refused for an unknown account or a wrong password.",
        )
        .expect("a valid counter");
        let registry = Registry::new();
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(latency.clone()))
            .expect("registered once");
        registry
            .register(Box::new(pool_connections.clone()))
            .expect("registered once");
        registry
            .register(Box::new(failed_logins.clone()))
            .expect("registered once");
        Self {
            registry,
            requests,
            latency,
            pool_connections,
            failed_logins,
        }
    }
}

/// Counts one login refused for an unknown account or a wrong password (not one refused by the
/// throttle before any password was checked). Counted whether or not `/metrics` is served.
pub fn failed_login() {
    METRICS.failed_logins.inc();
}

/// `GET /metrics`, added only when `BLOG_METRICS=true`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::resource("/metrics", "GET").get(scrape));
}

/// Middleware: counts each request by its matched route pattern, method and status, and times it
/// to its response head. Installed only when `BLOG_METRICS=true`.
pub async fn record_request<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let started = Instant::now();
    let method = method_label(req.method().as_str());
    let result = next.call(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let (route, status) = match &result {
        // The pattern is known once the router has matched the request, so it is read from
        // the response's request, not before `next`.
        Ok(response) => (response.request().match_pattern(), response.status()),
        // A middleware's error: the request went with it, and the answer is made from the
        // error further out.
        Err(error) => (None, error.as_response_error().status_code()),
    };
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    METRICS
        .requests
        .with_label_values(&[route, method, status.as_str()])
        .inc();
    METRICS.latency.with_label_values(&[route]).observe(elapsed);
    result
}

fn method_label(method: &str) -> &'static str {
    METHODS
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("OTHER")
}

/// Every metric in the Prometheus text format; 200 `text/plain; version=0.0.4`. With the
/// PostgreSQL engine, the pool's connections are read at this moment.
pub async fn scrape(store: web::Data<Store>) -> ApiResult<HttpResponse> {
    if let Some(postgres) = store.postgres() {
        let pool = postgres.pool();
        let open = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
        let gauge = &METRICS.pool_connections;
        gauge.with_label_values(&["idle"]).set(idle);
        // Read one after the other, the two can disagree for a moment; never below zero.
        gauge
            .with_label_values(&["in_use"])
            .set((open - idle).max(0));
    }
    let body = TextEncoder::new()
        .encode_to_string(&METRICS.registry.gather())
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("BREW"), "OTHER");
        assert_eq!(method_label("get"), "OTHER");
    }

    #[test]
    fn failed_logins_are_exported() {
        failed_login();
        let text = TextEncoder::new()
            .encode_to_string(&METRICS.registry.gather())
            .unwrap();
        assert!(
            text.contains("# TYPE blog_failed_logins_total counter"),
            "{text}"
        );
        assert!(
            text.lines()
                .filter_map(|line| line.strip_prefix("blog_failed_logins_total "))
                .any(|count| count.parse::<f64>().is_ok_and(|count| count >= 1.0)),
            "{text}"
        );
    }
}
