//! Extractors for request bodies and preconditions, answering every failure as problem+json.
//!
//! actix's own `Json` and `Form` answer errors in plain text and cannot tell a syntax error
//! (400) from a well-formed body with bad fields (422), so bodies are read here, each within a
//! deadline ([`BodyDeadline`]); [`close_after_unread_body`] closes the connection of a body
//! that was not read to its end.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldErrors};
use crate::store::Expected;

/// The largest body a scope accepts; set with `.app_data(BodyLimit(..))`.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    /// Account and login bodies: small, so a flood of them costs little.
    pub const AUTH: Self = Self(64 * 1024);
    /// Posts: room for 100,000 characters of content.
    pub const POSTS: Self = Self(1024 * 1024);
}

/// How long a body has to arrive whole once it is read; set with `.app_data(BodyDeadline(..))`.
///
/// Request headers get actix's own 5 s; without this, a client that sent its headers and then
/// stalled, or sent one byte every few seconds, held its connection (and its buffers) for ever.
/// The deadline is for the whole body, so it is also a minimum rate: 64 KiB for accounts or
/// 1 MiB for posts within 10 s by default.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);

impl Default for BodyDeadline {
    fn default() -> Self {
        Self(Duration::from_secs(10))
    }
}

/// The media types a body can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
}

/// Which kind the `Content-Type` names, if any we understand (`application/json`,
/// `application/*+json`, `application/x-www-form-urlencoded`; parameters such as charset ignored).
pub fn body_kind(req: &HttpRequest) -> Option<BodyKind> {
    let value = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Some(BodyKind::Json)
    } else if essence == "application/x-www-form-urlencoded" {
        Some(BodyKind::Form)
    } else {
        None
    }
}

/// Reads the whole body, refusing it (413) as soon as it passes the scope's [`BodyLimit`], and
/// (408) when it has not arrived whole within the [`BodyDeadline`].
pub async fn read_body(req: &HttpRequest, payload: Payload) -> Result<Vec<u8>, ApiError> {
    let limit = req
        .app_data::<BodyLimit>()
        .copied()
        .unwrap_or(BodyLimit::AUTH)
        .0;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let deadline = req
        .app_data::<BodyDeadline>()
        .copied()
        .unwrap_or_default()
        .0;
    actix_web::rt::time::timeout(deadline, read_to_limit(payload, limit, declared))
        .await
        .map_err(|_| ApiError::RequestTimeout(deadline))?
}

async fn read_to_limit(
    mut payload: Payload,
    limit: usize,
    declared: Option<usize>,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest {
            code: "unreadable_body",
            detail: format!("the request body could not be read: {e}"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Middleware: keeps the receiving end of a request body alive until its response has been sent.
///
/// A body nobody read to its end (a 401 or 404 answered before it, a 408 from [`read_body`]) is
/// drained by actix when it is chunked, for as long as the client keeps sending, so a client
/// trickling one byte at a time held the connection for ever. While the receiving end is alive,
/// actix closes the connection after the response instead, as it does for an unread body with a
/// `Content-Length`. Requests without a body pass through untouched.
pub async fn close_after_unread_body<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, HeldBody>>, actix_web::Error> {
    if matches!(req.parts().1, Payload::None) {
        return next
            .call(req)
            .await
            .map(|response| response.map_into_left_body());
    }
    let payload = Rc::new(RefCell::new(req.parts_mut().1.take()));
    let shared: BodyStream = Box::pin(SharedPayload(Rc::clone(&payload)));
    req.set_payload(Payload::from(shared));
    // No clone of the request may be kept across the call: routing needs it unshared.
    match next.call(req).await {
        Ok(response) => Ok(response.map_body(|_, body| {
            EitherBody::right(HeldBody {
                body: BoxBody::new(body),
                _payload: payload,
            })
        })),
        Err(mut error) => {
            // Answered further out: that answer holds the body too.
            error.add_response_mapper(move |response| {
                let payload = Rc::clone(&payload);
                response
                    .map_body(|_, body| HeldBody {
                        body,
                        _payload: payload,
                    })
                    .map_into_boxed_body()
            });
            Err(error)
        }
    }
}

/// A request body as a stream, the form [`Payload`] takes one in.
type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// The request body, read through by the handler while [`HeldBody`] keeps it alive.
struct SharedPayload(Rc<RefCell<Payload>>);

impl Stream for SharedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_next(cx)
    }
}

/// A response body that holds its request's body until it has been sent.
pub struct HeldBody {
    body: BoxBody,
    _payload: Rc<RefCell<Payload>>,
}

impl MessageBody for HeldBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// Deserialises JSON: syntax errors are 400, well-formed JSON with wrong, missing, unknown or
/// read-only fields is 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let (path, error) = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => match deserializer.end() {
            // serde lets a struct be read from an array too; every body here is an object.
            Ok(()) if body.trim_ascii_start().first() != Some(&b'{') => {
                let mut errors = FieldErrors::new();
                errors.add("body", "must be a JSON object");
                return Err(ApiError::Validation(errors));
            }
            Ok(()) => return Ok(value),
            Err(error) => (String::new(), error),
        },
        Err(error) => (error.path().to_string(), error.into_inner()),
    };
    Err(match error.classify() {
        serde_json::error::Category::Data => field_error(&path, &error.to_string()),
        _ if body.iter().all(u8::is_ascii_whitespace) => ApiError::BadRequest {
            code: "malformed_json",
            detail: "the request body is empty; send a JSON object".into(),
        },
        _ => ApiError::BadRequest {
            code: "malformed_json",
            detail: format!("malformed JSON: {error}"),
        },
    })
}

/// Deserialises `application/x-www-form-urlencoded`.
pub fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(body).map_err(|error| field_error(".", &error.to_string()))
}

/// A 422 for one serde data error, under the field it concerns.
fn field_error(path: &str, message: &str) -> ApiError {
    let between_backticks = |m: &str| m.split('`').nth(1).map(str::to_owned);
    let (field, reason) = if let Some(rest) = message.strip_prefix("unknown field ") {
        (
            between_backticks(rest),
            "is not an accepted field (unknown or read-only)".to_owned(),
        )
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        (between_backticks(rest), "is required".to_owned())
    } else {
        (None, strip_position(message))
    };
    let field = field.unwrap_or_else(|| match path {
        "." | "" => "body".to_owned(),
        path => path.to_owned(),
    });
    let mut errors = FieldErrors::new();
    errors.add(field, reason);
    ApiError::Validation(errors)
}

/// serde_json ends messages with " at line 1 column 9", which means nothing next to a field name.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A body that must be of `kind`, read and parsed: 415 for another content type.
pub async fn read_as<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: Payload,
    kind: BodyKind,
) -> Result<T, ApiError> {
    if body_kind(req) != Some(kind) {
        return Err(ApiError::UnsupportedMediaType {
            expected: match kind {
                BodyKind::Json => "application/json",
                BodyKind::Form => "application/x-www-form-urlencoded",
            },
        });
    }
    let body = read_body(req, payload).await?;
    match kind {
        BodyKind::Json => parse_json(&body),
        BodyKind::Form => parse_form(&body),
    }
}

/// A JSON request body of type `T`. Requires `Content-Type: application/json` (415 otherwise).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// The future of an extractor that reads the body.
pub type BodyFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Hands the request and its body to `read`, which may outlive `from_request`'s borrows.
pub fn with_body<T, Fut>(
    req: &HttpRequest,
    payload: &mut Payload,
    read: impl FnOnce(HttpRequest, Payload) -> Fut,
) -> BodyFuture<T>
where
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    Box::pin(read(req.clone(), payload.take()))
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |req, payload| async move {
            read_as(&req, payload, BodyKind::Json).await.map(JsonBody)
        })
    }
}

/// A strong ETag `"<version>-<digest>"`: the version of the resource, which `If-Match` checks,
/// then a digest (base64url) of what its answer shows besides and that changes without a new
/// version (counts, the viewer's own flags, another resource's fields). `If-None-Match`
/// compares whole tags, so such a change is never answered 304.
pub fn versioned_etag(version: u64, digest: &[u8]) -> String {
    format!("\"{version}-{}\"", URL_SAFE_NO_PAD.encode(digest))
}

/// Whether the request's `If-None-Match` (every header line: comma-separated entity tags, or
/// `*`) names `etag`, so that the answer is 304.
pub fn none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .any(|given| not_modified(given, etag))
}

/// Whether an `If-None-Match` header value (a comma-separated list of entity tags, or `*`)
/// names `etag`. Comparison is weak (RFC 9110 section 13.1.2): `W/` prefixes are ignored.
fn not_modified(if_none_match: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let current = opaque(etag);
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == current)
}

/// The `If-Match` precondition (RFC 9110 section 13.1.1) as versions the resource must be at.
/// Weak or unparseable tags never match, as strong comparison requires.
#[derive(Debug)]
pub struct IfMatch(pub Expected);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self(expected_versions(req, IF_MATCH))))
    }
}

/// Versions listed in a conditional header; `Expected::Any` when it is absent or `*`.
fn expected_versions(req: &HttpRequest, header: actix_web::http::header::HeaderName) -> Expected {
    let values: Vec<&str> = req
        .headers()
        .get_all(header)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() || values.contains(&"*") {
        return Expected::Any;
    }
    Expected::OneOf(
        values
            .iter()
            .filter_map(|tag| {
                let opaque = tag.strip_prefix('"')?.strip_suffix('"')?;
                // `"<version>-<digest>"`, or `"<version>"` as tags were before the digest.
                let version = opaque
                    .split_once('-')
                    .map_or(opaque, |(version, _)| version);
                // Digits only: `u64::from_str` would take "+3" too.
                if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                version.parse().ok()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        count: u32,
    }

    fn status_and_fields(result: Result<Body, ApiError>) -> (u16, String) {
        use actix_web::ResponseError;
        let error = result.unwrap_err();
        let fields = match &error {
            ApiError::Validation(errors) => serde_json::to_string(errors).unwrap(),
            _ => String::new(),
        };
        (error.status_code().as_u16(), fields)
    }

    #[test]
    fn json_errors_are_classified() {
        let cases: &[(&str, u16, &str, &str)] = &[
            ("{\"title\": ", 400, "", "truncated"),
            ("{title: 1}", 400, "", "not JSON"),
            ("", 400, "", "empty"),
            (
                "{\"title\":\"a\",\"count\":1} x",
                400,
                "",
                "trailing garbage",
            ),
            ("{\"title\":\"a\"}", 422, "count", "missing field"),
            (
                "{\"title\":\"a\",\"count\":1,\"id\":2}",
                422,
                "\"id\"",
                "unknown field",
            ),
            ("{\"title\":\"a\",\"count\":-1}", 422, "count", "wrong type"),
            ("42", 422, "body", "not an object"),
            ("[1]", 422, "[0]", "an array"),
            (
                "[\"a\", 1]",
                422,
                "body",
                "an array that fits the struct's fields",
            ),
        ];
        for (body, status, field, reason) in cases {
            let (got, fields) = status_and_fields(parse_json::<Body>(body.as_bytes()));
            assert_eq!(got, *status, "{reason}");
            assert!(fields.contains(field), "{reason}: {fields}");
        }
    }

    #[actix_web::test]
    async fn a_body_that_stalls_is_408_at_the_deadline() {
        let req = TestRequest::default()
            .app_data(BodyDeadline(Duration::from_millis(50)))
            .to_http_request();
        let stalled: BodyStream = Box::pin(
            futures_util::stream::once(async { Ok::<_, PayloadError>(Bytes::from_static(b"{")) })
                .chain(futures_util::stream::pending()),
        );
        let error = read_body(&req, Payload::from(stalled)).await.unwrap_err();
        assert!(matches!(error, ApiError::RequestTimeout(_)), "{error:?}");

        let whole = Payload::from(Bytes::from_static(b"{}"));
        assert_eq!(read_body(&req, whole).await.unwrap(), b"{}");
    }

    #[test]
    fn if_none_match_compares_whole_tags_weakly() {
        let tag = versioned_etag(3, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(tag, "\"3-AQIDBAUGBwg\"");
        assert!(not_modified(&tag, &tag));
        assert!(not_modified(&format!("W/{tag}"), &tag), "weak comparison");
        assert!(not_modified(&format!("\"other\", {tag}"), &tag));
        assert!(not_modified("*", &tag));
        assert!(!not_modified("\"other\"", &tag));
        assert!(
            !not_modified("\"3\"", &tag),
            "the version alone is not the tag"
        );
        assert!(!not_modified("", &tag));
        let req = TestRequest::default()
            .append_header((IF_NONE_MATCH, "\"1-x\""))
            .append_header((IF_NONE_MATCH, tag.as_str()))
            .to_http_request();
        assert!(none_match(&req, &tag), "every header line counts");
        assert!(!none_match(&TestRequest::default().to_http_request(), &tag));
    }

    #[test]
    fn if_match_lists_versions() {
        let req = |v: &str| {
            TestRequest::default()
                .insert_header((IF_MATCH, v))
                .to_http_request()
        };
        assert_eq!(
            expected_versions(&req("\"3\""), IF_MATCH),
            Expected::OneOf(vec![3])
        );
        assert_eq!(
            expected_versions(&req("\"1\", \"2\""), IF_MATCH),
            Expected::OneOf(vec![1, 2])
        );
        assert_eq!(expected_versions(&req("*"), IF_MATCH), Expected::Any);
        assert_eq!(
            expected_versions(&req("W/\"3\""), IF_MATCH),
            Expected::OneOf(vec![])
        );
        // The version part of a tag with its digest; the digest does not count.
        assert_eq!(
            expected_versions(&req("\"4-AAECAwQFBgc\", \"x-1\", \"+5\", \"-6\""), IF_MATCH),
            Expected::OneOf(vec![4])
        );
        let none = TestRequest::default().to_http_request();
        assert_eq!(expected_versions(&none, IF_MATCH), Expected::Any);
    }

    #[test]
    fn content_types() {
        let req = |v: &str| {
            TestRequest::default()
                .insert_header((CONTENT_TYPE, v))
                .to_http_request()
        };
        assert_eq!(
            body_kind(&req("application/json; charset=utf-8")),
            Some(BodyKind::Json)
        );
        assert_eq!(body_kind(&req("Application/JSON")), Some(BodyKind::Json));
        assert_eq!(
            body_kind(&req("application/merge-patch+json")),
            Some(BodyKind::Json)
        );
        assert_eq!(
            body_kind(&req("application/x-www-form-urlencoded")),
            Some(BodyKind::Form)
        );
        assert_eq!(body_kind(&req("text/plain")), None);
        assert_eq!(body_kind(&TestRequest::default().to_http_request()), None);
    }
}
