//! The per-client-IP token bucket on `/api/v1/auth/*` (actix-governor), answering problem+json.

use std::net::IpAddr;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::NotUntil;
use actix_governor::{GovernorConfig, GovernorConfigBuilder, KeyExtractor};
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};

use super::client_ip::TrustedProxies;
use crate::config::Limits;
use crate::error::{ApiError, PROBLEM_JSON};

/// Keys the bucket by client IP (see [`TrustedProxies`]).
#[derive(Debug, Clone)]
pub struct ClientIpKey {
    trusted_proxies: TrustedProxies,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;
    type KeyExtractionError = ApiError;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, ApiError> {
        self.trusted_proxies
            .client_ip(req.peer_addr().map(|addr| addr.ip()), req.headers())
            .ok_or_else(|| ApiError::internal("the connection has no peer address"))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        mut response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative.wait_time_from(DefaultClock::default().now());
        // Round up: "Retry-After: 0" would invite an immediate retry that fails again.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let error = ApiError::TooManyRequests {
            retry_after_secs: seconds,
            detail: format!(
                "too many requests to /api/v1/auth from this address; retry in {seconds} s"
            ),
        };
        let body = error.error_response().into_body();
        response
            .insert_header((RETRY_AFTER, seconds.to_string()))
            .insert_header((CONTENT_TYPE, PROBLEM_JSON))
            .body(body)
    }
}

/// The limiter's configuration: `limits.auth_burst` requests at once, refilled at
/// `limits.auth_rate_per_minute`. Build it once and make each worker's `Governor` from it, so all
/// workers share one set of buckets.
pub type AuthRateLimit = GovernorConfig<ClientIpKey, NoOpMiddleware<QuantaInstant>>;

pub fn auth_rate_limit(limits: &Limits) -> AuthRateLimit {
    let period_ms = (60_000 / u64::from(limits.auth_rate_per_minute.max(1))).max(1);
    GovernorConfigBuilder::default()
        .milliseconds_per_request(period_ms)
        .burst_size(limits.auth_burst.max(1))
        .key_extractor(ClientIpKey {
            trusted_proxies: TrustedProxies::new(&limits.trusted_proxies),
        })
        .finish()
        .expect("period and burst are at least 1")
}
