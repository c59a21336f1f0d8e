//! What a request says about who is logging in, read from its body (and `Authorization:
//! Basic` for API clients), with the one body reader ([`super::read_body`]).
//!
//! - [`Credentials`]: a person's login, as JSON `{email | username, password}` or the OAuth2
//!   password grant as a form (what Swagger UI's Authorize sends).
//! - [`AuthenticatedClient`]: an API client whose credentials (HTTP Basic or the form, one way
//!   only) were checked against the store: the client credentials grant.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{
    body_kind, parse_form, parse_json, read_as, read_body, with_body, BodyFuture, BodyKind,
};
use crate::auth::secret_hash;
use crate::domain::{ClientId, Scopes};
use crate::error::{ApiError, ApiResult, AuthFailure, FieldErrors};
use crate::store::{LoginName, Store};

/// Login as JSON: `email` or `username` (exactly one), and `password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "alice@example.com", "password": "correct horse battery staple"}))]
pub struct LoginRequest {
    #[schema(format = Email, example = "alice@example.com")]
    pub email: Option<String>,
    #[schema(example = "alice")]
    pub username: Option<String>,
    #[schema(value_type = String, format = Password, example = "correct horse battery staple")]
    pub password: SecretString,
}

/// Login as the OAuth2 password grant (RFC 6749 section 4.3), as Swagger UI's Authorize sends it.
/// `username` may be a username or an email address.
#[derive(Deserialize, ToSchema)]
pub struct PasswordGrant {
    #[schema(example = "password")]
    pub grant_type: String,
    #[schema(example = "alice")]
    pub username: String,
    #[schema(value_type = String, format = Password, example = "correct horse battery staple")]
    pub password: SecretString,
    /// Accepted and ignored: scopes follow from the account.
    pub scope: Option<String>,
}

/// Who is logging in, from either form of login.
pub struct Credentials {
    pub name: LoginNameOwned,
    pub password: SecretString,
}

pub enum LoginNameOwned {
    Email(String),
    Username(String),
}

impl LoginNameOwned {
    fn from_either(name: String) -> Self {
        if name.contains('@') {
            Self::Email(name)
        } else {
            Self::Username(name)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(name) | Self::Username(name) => name,
        }
    }

    pub fn as_login(&self) -> LoginName<'_> {
        match self {
            Self::Email(email) => LoginName::Email(email),
            Self::Username(username) => LoginName::Username(username),
        }
    }
}

impl FromRequest for Credentials {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |req, payload| async move {
            let kind = body_kind(&req).ok_or(ApiError::UnsupportedMediaType {
                expected: "application/json or application/x-www-form-urlencoded",
            })?;
            let body = read_body(&req, payload).await?;
            match kind {
                BodyKind::Json => {
                    let login: LoginRequest = parse_json(&body)?;
                    let name = match (login.email, login.username) {
                        (Some(email), None) => LoginNameOwned::Email(email),
                        (None, Some(username)) => LoginNameOwned::Username(username),
                        _ => {
                            let mut errors = FieldErrors::new();
                            errors.add("email", "give exactly one of email and username");
                            return Err(ApiError::Validation(errors));
                        }
                    };
                    Ok(Credentials {
                        name,
                        password: login.password,
                    })
                }
                BodyKind::Form => {
                    let grant: PasswordGrant = parse_form(&body)?;
                    if grant.grant_type != "password" {
                        return Err(ApiError::BadRequest {
                            code: "unsupported_grant_type",
                            detail: "this endpoint accepts grant_type=password".into(),
                        });
                    }
                    Ok(Credentials {
                        name: LoginNameOwned::from_either(grant.username),
                        password: grant.password,
                    })
                }
            }
        })
    }
}

/// The OAuth2 client credentials grant (RFC 6749 section 4.4), as a form. The client
/// authenticates with HTTP Basic (`client_secret_basic`) or with `client_id` and `client_secret`
/// in the form (`client_secret_post`), not both.
#[derive(Deserialize, ToSchema)]
pub struct ClientCredentialsGrant {
    #[schema(example = "client_credentials")]
    pub grant_type: String,
    #[schema(format = Uuid)]
    pub client_id: Option<String>,
    #[schema(value_type = Option<String>, format = Password)]
    pub client_secret: Option<SecretString>,
    /// Space-separated; a subset of the client's scopes (default: all of them).
    #[schema(example = "posts:write")]
    pub scope: Option<String>,
}

/// An API client that proved who it is: its id, the scopes it was granted, and the scope it
/// asks for now (a subset, checked by the token handler).
pub struct AuthenticatedClient {
    pub id: ClientId,
    pub scopes: Scopes,
    pub requested_scope: Option<String>,
}

impl FromRequest for AuthenticatedClient {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |req, payload| async move {
            let grant: ClientCredentialsGrant = read_as(&req, payload, BodyKind::Form).await?;
            let bad_request = |code, detail: &str| ApiError::BadRequest {
                code,
                detail: detail.into(),
            };
            if grant.grant_type != "client_credentials" {
                return Err(bad_request(
                    "unsupported_grant_type",
                    "this endpoint accepts grant_type=client_credentials",
                ));
            }
            let (client_id, secret) = match (
                basic_credentials(&req)?,
                grant.client_id,
                grant.client_secret,
            ) {
                (Some((id, secret)), None, None) => (id, secret),
                (None, Some(id), Some(secret)) => (id, secret),
                (None, _, _) => {
                    return Err(bad_request(
                        "invalid_request",
                        "send client_id and client_secret, by HTTP Basic or in the form",
                    ))
                }
                (Some(_), _, _) => {
                    return Err(bad_request(
                        "invalid_request",
                        "authenticate the client one way only: HTTP Basic or the form",
                    ))
                }
            };
            let store = req
                .app_data::<web::Data<Store>>()
                .expect("the store is registered")
                .clone();
            let known = match client_id.parse::<ClientId>() {
                Ok(id) => store
                    .client_credentials(id)
                    .await?
                    .map(|(hash, scopes)| (id, hash, scopes)),
                Err(_) => None,
            };
            // Hash and compare even for an unknown id, in constant time, so neither the answer
            // nor its timing says which ids exist.
            let presented = secret_hash(secret.expose_secret());
            let stored = known.as_ref().map_or([0u8; 32], |(_, hash, _)| *hash);
            let matches: bool = subtle::ConstantTimeEq::ct_eq(&presented[..], &stored[..]).into();
            let Some((id, _, scopes)) = known.filter(|_| matches) else {
                return Err(ApiError::Unauthorized(AuthFailure::InvalidClient));
            };
            Ok(Self {
                id,
                scopes,
                requested_scope: grant.scope,
            })
        })
    }
}

/// `Authorization: Basic base64(client_id:client_secret)`, if present.
fn basic_credentials(req: &HttpRequest) -> ApiResult<Option<(String, SecretString)>> {
    use actix_web::http::header::Header as _;
    use actix_web_httpauth::headers::authorization::{Authorization, Basic};
    if !req.headers().contains_key(header::AUTHORIZATION) {
        return Ok(None);
    }
    let basic = Authorization::<Basic>::parse(req)
        .map_err(|_| ApiError::Unauthorized(AuthFailure::InvalidClient))?;
    let basic = basic.into_scheme();
    let secret = basic
        .password()
        .ok_or(ApiError::Unauthorized(AuthFailure::InvalidClient))?;
    Ok(Some((
        basic.user_id().to_string(),
        SecretString::from(secret.to_string()),
    )))
}
