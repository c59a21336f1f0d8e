//! Extractors for request bodies and preconditions, answering every failure as problem+json.
//!
//! actix's own `Json` and `Form` answer errors in plain text and cannot tell a syntax error
//! (400) from a well-formed body with bad fields (422), so bodies are read here.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
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

/// Reads the whole body, refusing it (413) as soon as it passes the scope's [`BodyLimit`].
pub async fn read_body(req: &HttpRequest, mut payload: Payload) -> Result<Vec<u8>, ApiError> {
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

/// A JSON request body of type `T`. Requires `Content-Type: application/json` (415 otherwise).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            if body_kind(&req) != Some(BodyKind::Json) {
                return Err(ApiError::UnsupportedMediaType {
                    expected: "application/json",
                });
            }
            let body = read_body(&req, payload).await?;
            parse_json(&body).map(JsonBody)
        })
    }
}

/// The strong ETag of a resource at `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
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
pub fn expected_versions(
    req: &HttpRequest,
    header: actix_web::http::header::HeaderName,
) -> Expected {
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
            .filter_map(|tag| tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok())
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
