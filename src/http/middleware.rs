//! Middleware of our own: the security headers every response carries, and refused CORS requests
//! answered as problem+json like every other error.

use actix_cors::CorsError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    HeaderMap, HeaderValue, CONTENT_SECURITY_POLICY, VARY, X_CONTENT_TYPE_OPTIONS,
};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use crate::error::ApiError;

/// The API answers JSON, never a page: nothing may load from a response, nor frame it.
pub const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Swagger UI at `/docs/` gets exactly what it uses: its own scripts and styles (no inline
/// script), the `data:` SVG icons of its stylesheet, the document and "Try it out" requests to
/// this origin. The hash is of the one inline `<style>` Swagger UI renders (in its logo); a
/// Swagger UI upgrade that changes it shows as a violation in tests/e2e/swagger-ui.mjs.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

/// `X-Content-Type-Options: nosniff` on every response, so that no browser second-guesses a
/// declared type, and a Content-Security-Policy: [`DOCS_POLICY`] for Swagger UI, [`API_POLICY`]
/// for everything else. An error from further in gets them on the answer made from it.
pub async fn security_headers<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let path = req.path();
    let policy = if path == "/docs" || path.starts_with("/docs/") {
        DOCS_POLICY
    } else {
        API_POLICY
    };
    match next.call(req).await {
        Ok(mut response) => {
            add_security_headers(response.headers_mut(), policy);
            Ok(response)
        }
        Err(mut error) => {
            error.add_response_mapper(move |mut response| {
                add_security_headers(response.headers_mut(), policy);
                response
            });
            Err(error)
        }
    }
}

fn add_security_headers(headers: &mut HeaderMap, policy: &'static str) {
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
}

/// actix-cors answers a refused preflight (an origin, method or header not allowed) with a 400
/// in plain text; this makes it our 400 problem+json, `cors_refused`, keeping its `Vary`.
pub async fn cors_refusal_as_problem<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let response = next.call(req).await?;
    let refusal = response
        .response()
        .error()
        .and_then(|error| error.as_error::<CorsError>())
        .map(ToString::to_string);
    let Some(reason) = refusal else {
        return Ok(response.map_into_left_body());
    };
    let (request, refused) = response.into_parts();
    let mut problem = HttpResponse::from_error(ApiError::BadRequest {
        code: "cors_refused",
        detail: format!("the cross-origin request is not allowed: {reason}"),
    });
    if let Some(vary) = refused.headers().get(VARY) {
        problem.headers_mut().insert(VARY, vary.clone());
    }
    Ok(ServiceResponse::new(request, problem).map_into_right_body())
}
