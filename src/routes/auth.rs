//! `/api/v1/auth`: signup, login, refresh and logout.

use std::net::{IpAddr, Ipv6Addr};

use actix_web::http::header::{self, USER_AGENT};
use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{
    family_key, AuthRateLimit, LoginTarget, LoginThrottle, PasswordHasher, RefreshToken, Refused,
    SessionPolicy, Throttled, TokenKeys, TrustedProxies,
};
use crate::domain::{DisplayName, Email, Password, PasswordPolicy, Role, Scopes, Username};
use crate::error::{ApiError, ApiResult, AuthFailure, FieldErrors};
use crate::http::credentials::{ClientCredentialsGrant, LoginRequest, PasswordGrant};
use crate::http::{AuthenticatedClient, BodyLimit, Credentials, JsonBody, SessionUser};
use crate::routes::users::UserView;
use crate::store::{NewSession, NewUser, PresentedRefresh, RefreshError, Store, StoreError, User};

/// Every route under `/auth` shares one per-client-IP token bucket, applied before any body is
/// read or password hashed.
pub fn configure(cfg: &mut web::ServiceConfig, rate_limit: &AuthRateLimit) {
    cfg.service(
        web::scope("/auth")
            .wrap(actix_governor::Governor::new(rate_limit))
            .app_data(BodyLimit::AUTH)
            .service(super::resource("/signup", "POST").post(signup))
            .service(super::resource("/login", "POST").post(login))
            .service(super::resource("/refresh", "POST").post(refresh))
            .service(super::resource("/logout", "POST").post(logout))
            .service(super::resource("/token", "POST").post(token)),
    );
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "username": "alice", "email": "alice@example.com",
    "password": "correct horse battery staple", "name": "Alice Liddell"
}))]
pub struct SignupRequest {
    /// 3-32 characters of `a-z 0-9 _ -`; stored lower-case. A few names are reserved
    /// (`admin`, `root`, `support`, `system`, `api`, `www`, `blog-api`...).
    #[schema(
        pattern = "^[A-Za-z0-9_-]{3,32}$",
        min_length = 3,
        max_length = 32,
        example = "alice"
    )]
    pub username: String,
    #[schema(format = Email, max_length = 254, example = "alice@example.com")]
    pub email: String,
    /// 8-128 characters of any Unicode; common and easily guessed passwords are refused.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 128, example = "correct horse battery staple")]
    pub password: SecretString,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "\\S",
        example = "Alice Liddell"
    )]
    pub name: Option<String>,
}

/// RFC 6749 section 5.1 token response; signup and login add the account.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Opaque; exchange it for a new pair when the access token expires.
    pub refresh_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
}

/// Creates an account and logs it in.
///
/// 201 with the account and a token pair; 409 if the email or username is taken; 422 naming
/// each invalid field.
#[utoipa::path(
    post, path = "/api/v1/auth/signup", tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created and logged in", body = TokenResponse),
        (status = 409, description = "Email or username taken", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::BodyProblems, crate::problems::RateLimitProblem, crate::problems::OverloadProblem,
    )
)]
pub async fn signup(req: HttpRequest, body: JsonBody<SignupRequest>) -> ApiResult<HttpResponse> {
    let (user, session, refresh) = register(&req, body.0).await?;
    let keys = app_data::<TokenKeys>(&req)?;
    let body = token_response(keys, &user, session, refresh)?;
    Ok(no_store(HttpResponse::Created())
        .insert_header((header::LOCATION, format!("/api/v1/users/{}", user.id)))
        .json(body))
}

/// The app data of type `T` (registered at startup).
pub(crate) fn app_data<T: 'static>(req: &HttpRequest) -> ApiResult<&web::Data<T>> {
    req.app_data::<web::Data<T>>().ok_or_else(|| {
        ApiError::internal(format!(
            "{} missing from app data",
            std::any::type_name::<T>()
        ))
    })
}

/// Signup's work, for `/api/v1/auth/signup` and `/api/users` alike: validates every field (422
/// naming each bad one), refuses a taken name before spending a hash on it (409), hashes off
/// the executor, then creates the account and its first session.
pub(crate) async fn register(
    req: &HttpRequest,
    request: SignupRequest,
) -> ApiResult<(User, crate::domain::SessionId, RefreshToken)> {
    let SignupRequest {
        username,
        email,
        password,
        name,
    } = request;
    let store = app_data::<Store>(req)?;
    let hasher = app_data::<PasswordHasher>(req)?;
    let policy = *app_data::<PasswordPolicy>(req)?.get_ref();
    let session_policy = app_data::<SessionPolicy>(req)?;
    let username = Username::parse_new(&username);
    let email = Email::parse(&email);
    // A password made of the account's own username or email is easy to guess.
    let context: Vec<&str> = [
        username.as_ref().ok().map(Username::as_str),
        email.as_ref().ok().map(Email::as_str),
    ]
    .into_iter()
    .flatten()
    .collect();
    let password = Password::parse_with(password, &context, policy);
    let name = name.as_deref().map(DisplayName::parse).transpose();
    let (username, email, password, name) = match (username, email, password, name) {
        (Ok(username), Ok(email), Ok(password), Ok(name)) => (username, email, password, name),
        (username, email, password, name) => {
            return Err(ApiError::Validation(
                FieldErrors::new()
                    .with("username", username.err())
                    .with("email", email.err())
                    .with("password", password.err())
                    .with("name", name.err()),
            ))
        }
    };
    // Refuse a taken name before spending a hash on it; create_user checks again atomically.
    store.check_available(&username, &email).await?;
    let password_hash = hasher.hash(password).await?;
    let (new_session, refresh) = new_session(req, session_policy);
    let new_user = NewUser {
        username,
        email,
        name,
        role: Role::User,
        password_hash,
    };
    let (user, session) = store.create_user(new_user, new_session).await?;
    Ok((user, session, refresh))
}

/// Logs in with a password and starts a session.
///
/// Accepts JSON `{email | username, password}` or the OAuth2 password grant as a form. 200 with
/// a token pair; 401 `invalid_credentials` for an unknown account and a wrong password alike
/// (same body, same time: an unknown account is checked against a dummy hash); 429 while the
/// account is throttled for this address, or everywhere past its hourly ceiling of failures.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body(content(
        (LoginRequest = "application/json"),
        (PasswordGrant = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Unknown account or wrong password", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::BodyProblems, crate::problems::RateLimitProblem, crate::problems::OverloadProblem,
    )
)]
pub async fn login(req: HttpRequest, credentials: Credentials) -> ApiResult<HttpResponse> {
    let (user, session, refresh) = log_in(&req, credentials).await?;
    let keys = app_data::<TokenKeys>(&req)?;
    Ok(no_store(HttpResponse::Ok()).json(token_response(keys, &user, session, refresh)?))
}

/// Login's work, for `/api/v1/auth/login` and `/api/users/login` alike: the throttle first (a
/// throttled attempt costs no hash), one answer for an unknown account and a wrong password
/// (an unknown account is checked against a dummy hash), then a new session.
pub(crate) async fn log_in(
    req: &HttpRequest,
    credentials: Credentials,
) -> ApiResult<(User, crate::domain::SessionId, RefreshToken)> {
    let Credentials { name, password } = credentials;
    let store = app_data::<Store>(req)?;
    let hasher = app_data::<PasswordHasher>(req)?;
    let throttle = app_data::<LoginThrottle>(req)?;
    let trusted_proxies = app_data::<TrustedProxies>(req)?;
    let session_policy = app_data::<SessionPolicy>(req)?;
    let account = store.credentials(name.as_login()).await?;
    // Failures count per account, by username or email alike; for a name no account has, per
    // name, under the same rules (see throttle.rs).
    let target = match &account {
        Some((id, _)) => LoginTarget::Account(*id),
        None => LoginTarget::unknown(name.as_str()),
    };
    let client = trusted_proxies
        .client_ip(req.peer_addr().map(|addr| addr.ip()), req.headers())
        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    // Before any hashing: a throttled attempt costs nothing to refuse.
    throttle
        .check(&target, client)
        .await
        .map_err(|refused| match refused {
            Refused::Throttled(throttled) => too_many_failures(throttled),
            Refused::Unavailable => ApiError::StoreUnavailable,
        })?;
    let (user_id, stored_hash) = match account {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let verified = hasher.verify(password, stored_hash).await?;
    let invalid = || ApiError::Unauthorized(AuthFailure::InvalidCredentials);
    let Some(user_id) = user_id.filter(|_| verified) else {
        throttle.failed(&target, client).await?;
        crate::metrics::failed_login();
        return Err(invalid());
    };
    throttle.succeeded(&target, client).await?;
    let (new_session, refresh) = new_session(req, session_policy);
    // The account may have been deleted while its password was being checked.
    let (user, session) = store
        .start_session(user_id, new_session)
        .await
        .map_err(|error| match error {
            StoreError::NotFound(_) => invalid(),
            other => other.into(),
        })?;
    Ok((user, session, refresh))
}

/// 429 for a throttled login, with `Retry-After` rounded up ("0" would invite a retry that fails).
fn too_many_failures(throttled: Throttled) -> ApiError {
    let wait = throttled.wait();
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let detail = match throttled {
        Throttled::FromAddress(_) => {
            format!(
                "too many failed logins for this account from this address; retry in {seconds} s"
            )
        }
        Throttled::Account(_) => {
            format!(
                "too many failed logins for this account in the last hour; retry in {seconds} s"
            )
        }
    };
    ApiError::TooManyRequests {
        retry_after_secs: seconds,
        detail,
    }
}

/// A refresh token to exchange.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(value_type = String, min_length = 1, max_length = 256)]
    pub refresh_token: SecretString,
}

/// Exchanges a refresh token for a new token pair (rotation).
///
/// The presented token is consumed: of concurrent requests with one token exactly one succeeds.
/// A token that was already used revokes its whole session (its newest access and refresh
/// tokens too): 401 `invalid_grant`, as for unknown and expired tokens.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair for the same session", body = TokenResponse),
        (status = 401, description = "Unknown, expired or reused refresh token", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::BodyProblems, crate::problems::RateLimitProblem,
    )
)]
pub async fn refresh(
    store: web::Data<Store>,
    keys: web::Data<TokenKeys>,
    session_policy: web::Data<SessionPolicy>,
    body: JsonBody<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let invalid = || ApiError::Unauthorized(AuthFailure::InvalidGrant);
    let presented = RefreshToken::from_client(body.0.refresh_token)
        .parse()
        .ok_or_else(invalid)?;
    // Only a token this session issued (any generation) may touch it: a forged one, even
    // naming a real session, is just unknown.
    let family_key = store
        .refresh_family_key(presented.session)
        .await?
        .filter(|key| *key != [0; 32] && presented.issued_with(key))
        .ok_or_else(invalid)?;
    let next = RefreshToken::issue(presented.session, presented.generation + 1, &family_key);
    let expires_at = session_policy.refresh_expires_at();
    let attempt = PresentedRefresh {
        session: presented.session,
        generation: presented.generation,
        hash: presented.hash,
    };
    let (user, session) = store
        .rotate_refresh(attempt, next.hash(), expires_at)
        .await
        .map_err(|error| match error {
            RefreshError::Unavailable => ApiError::StoreUnavailable,
            RefreshError::Reused => {
                tracing::warn!("a used refresh token was presented again; its session is revoked");
                invalid()
            }
            RefreshError::Unknown | RefreshError::Expired => invalid(),
        })?;
    Ok(no_store(HttpResponse::Ok()).json(token_response(&keys, &user, session, next)?))
}

/// Ends the caller's session: its access tokens get 401 on the very next request and its
/// refresh token is dead. 204.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        crate::problems::AuthProblems, crate::problems::RateLimitProblem,
        crate::problems::ExternalAccountProblem,
    )
)]
pub async fn logout(auth: SessionUser, store: web::Data<Store>) -> ApiResult<HttpResponse> {
    store.end_session(auth.session).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new session and its first refresh token (generation 0).
pub(crate) fn new_session(req: &HttpRequest, policy: &SessionPolicy) -> (NewSession, RefreshToken) {
    let id = crate::domain::SessionId::new();
    let family_key = family_key();
    let refresh = RefreshToken::issue(id, 0, &family_key);
    let session = NewSession {
        id,
        family_key,
        refresh_hash: refresh.hash(),
        expires_at: policy.refresh_expires_at(),
        user_agent: req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
    };
    (session, refresh)
}

fn token_response(
    keys: &TokenKeys,
    user: &User,
    session: crate::domain::SessionId,
    refresh: RefreshToken,
) -> ApiResult<TokenResponse> {
    let access = keys
        .issue(user.id, session, user.role)
        .map_err(ApiError::internal)?;
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_token: refresh.expose().to_owned(),
        user: Some(UserView::private(user)),
    })
}

/// Token responses must not be cached (RFC 6749 section 5.1).
fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    builder
}

/// An access token for an API client (no refresh token: a client asks again).
#[derive(Serialize, ToSchema)]
pub struct ClientTokenResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    #[schema(example = 900)]
    pub expires_in: u64,
    #[schema(example = "posts:write")]
    pub scope: String,
}

/// Exchanges an API client's credentials for a short-lived access token.
///
/// 401 `invalid_client` (with a `Basic` challenge) for an unknown client, a wrong secret or a
/// revoked client; 400 `unsupported_grant_type`, `invalid_request` (two ways of authenticating,
/// or none) or `invalid_scope` (more than the client has).
#[utoipa::path(
    post, path = "/api/v1/auth/token", tag = "auth",
    request_body(content = ClientCredentialsGrant, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token carrying the granted scopes", body = ClientTokenResponse),
        (status = 401, description = "Unknown client or wrong secret", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::BodyProblems, crate::problems::RateLimitProblem,
    )
)]
pub async fn token(
    client: AuthenticatedClient,
    keys: web::Data<TokenKeys>,
) -> ApiResult<HttpResponse> {
    let AuthenticatedClient {
        id,
        scopes: granted,
        requested_scope,
    } = client;
    let bad_request = |code, detail: &str| ApiError::BadRequest {
        code,
        detail: detail.into(),
    };
    let scopes = match requested_scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => granted,
        Some(requested) => match Scopes::parse_list(requested) {
            Ok(requested) if requested.is_subset(&granted) => requested,
            _ => {
                return Err(bad_request(
                    "invalid_scope",
                    "the scope asked for is unknown or beyond the client's",
                ))
            }
        },
    };
    let issued = keys.issue_client(id, &scopes).map_err(ApiError::internal)?;
    Ok(no_store(HttpResponse::Ok()).json(ClientTokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: scopes.to_string(),
    }))
}
