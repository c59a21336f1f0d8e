//! `/api/users`, `/api/users/login` and `/api/user`: signup, login, the caller's account.

use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{nullable, required, TokenLifetime, TokenUser, BLANK};
use crate::auth::{AuthRateLimit, PasswordHasher, TokenKeys};
use crate::domain::{Bio, Email, ImageUrl, Password, PasswordPolicy, SessionId, Username};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::credentials::LoginNameOwned;
use crate::http::{BodyLimit, Credentials, JsonBody};
use crate::routes::auth::{app_data, log_in, register, SignupRequest};
use crate::store::{ProfileEdit, Store, User};

pub fn configure(cfg: &mut web::ServiceConfig, rate_limit: &AuthRateLimit) {
    // Signup and login share `/api/v1/auth`'s per-address bucket (one configuration, one set
    // of buckets): two doors do not give twice the guesses.
    cfg.service(
        crate::routes::resource("/users", "POST")
            .wrap(actix_governor::Governor::new(rate_limit))
            .app_data(BodyLimit::AUTH)
            .post(signup),
    )
    .service(
        crate::routes::resource("/users/login", "POST")
            .wrap(actix_governor::Governor::new(rate_limit))
            .app_data(BodyLimit::AUTH)
            .post(login),
    )
    .service(
        crate::routes::resource("/user", "GET, PUT")
            .app_data(BodyLimit::AUTH)
            .get(current)
            .put(update),
    );
}

/// `{"user": ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserEnvelope<T> {
    user: T,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: Option<String>,
    email: Option<String>,
    password: Option<SecretString>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginUser {
    email: Option<String>,
    password: Option<SecretString>,
}

/// `PUT /api/user`: each field absent (unchanged), `null` or a value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUser {
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    password: Option<Option<SecretString>>,
    #[serde(default, deserialize_with = "nullable")]
    bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    image: Option<Option<String>>,
    /// Some frontends send back the whole user they were given, token included: ignored.
    #[serde(default, rename = "token")]
    _token: Option<serde::de::IgnoredAny>,
}

/// The caller's account, with a token.
#[derive(Serialize)]
struct UserView {
    email: Option<String>,
    token: String,
    username: String,
    bio: Option<String>,
    image: Option<String>,
}

/// A response carrying a token (and the account's email): never cached (RFC 6749 5.1).
fn token_answer(
    mut builder: actix_web::HttpResponseBuilder,
    user: &User,
    token: String,
) -> HttpResponse {
    builder
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"))
        .json(user_response(user, token))
}

fn user_response(user: &User, token: String) -> serde_json::Value {
    serde_json::json!({
        "user": UserView {
            email: user.email.as_ref().map(|email| email.as_str().to_owned()),
            token,
            username: user.username.as_str().to_owned(),
            bio: user.bio.as_ref().map(|bio| bio.as_str().to_owned()),
            image: user.image.as_ref().map(|image| image.as_str().to_owned()),
        }
    })
}

/// A token for a session opened through `/api`: it lives [`TokenLifetime`], and dies with its
/// session before that.
fn token_for(req: &HttpRequest, user: &User, session: SessionId) -> ApiResult<String> {
    let keys = app_data::<TokenKeys>(req)?;
    let lifetime = app_data::<TokenLifetime>(req)?;
    keys.issue_realworld(user.id, session, user.role, lifetime.0)
        .map(|issued| issued.token)
        .map_err(ApiError::internal)
}

/// Registration. 201 with the account and a token; 422 naming each blank or invalid field; 409
/// for a taken username or email.
async fn signup(
    req: HttpRequest,
    body: JsonBody<UserEnvelope<NewUser>>,
) -> ApiResult<HttpResponse> {
    let NewUser {
        username,
        email,
        password,
    } = body.0.user;
    let password = password.filter(|p| !p.expose_secret().is_empty());
    let (username, email) = (required(username.as_deref()), required(email.as_deref()));
    let blank = FieldErrors::new()
        .with("username", username.as_ref().err().cloned())
        .with("email", email.as_ref().err().cloned())
        .with("password", password.is_none().then(|| BLANK.to_owned()));
    let (Ok(username), Ok(email), Some(password)) = (username, email, password) else {
        return Err(ApiError::Validation(blank));
    };
    let request = SignupRequest {
        username: username.to_owned(),
        email: email.to_owned(),
        password,
        name: None,
    };
    let (user, session, _refresh) = register(&req, request).await?;
    let token = token_for(&req, &user, session)?;
    Ok(token_answer(HttpResponse::Created(), &user, token))
}

/// Login by email. 200 with the account and a token; 401 `credentials: invalid` for an unknown
/// email and a wrong password alike; 429 while throttled.
async fn login(
    req: HttpRequest,
    body: JsonBody<UserEnvelope<LoginUser>>,
) -> ApiResult<HttpResponse> {
    let LoginUser { email, password } = body.0.user;
    let password = password.filter(|p| !p.expose_secret().is_empty());
    let email = required(email.as_deref());
    let blank = FieldErrors::new()
        .with("email", email.as_ref().err().cloned())
        .with("password", password.is_none().then(|| BLANK.to_owned()));
    let (Ok(email), Some(password)) = (email, password) else {
        return Err(ApiError::Validation(blank));
    };
    let credentials = Credentials {
        name: LoginNameOwned::Email(email.to_owned()),
        password,
    };
    let (user, session, _refresh) = log_in(&req, credentials).await?;
    let token = token_for(&req, &user, session)?;
    Ok(token_answer(HttpResponse::Ok(), &user, token))
}

/// The caller's account, with the token it called with.
async fn current(auth: TokenUser, store: web::Data<Store>) -> ApiResult<HttpResponse> {
    let user = store
        .user(auth.principal.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(token_answer(HttpResponse::Ok(), &user, auth.token))
}

/// Changes the caller's email, username, password, bio or image. `""` or `null` clears bio
/// and image; email, username and password cannot be cleared (422). A new password ends every
/// other session of the account, as on `/api/v1`; the caller's token keeps working.
async fn update(
    auth: TokenUser,
    store: web::Data<Store>,
    hasher: web::Data<PasswordHasher>,
    policy: web::Data<PasswordPolicy>,
    body: JsonBody<UserEnvelope<UpdateUser>>,
) -> ApiResult<HttpResponse> {
    let UpdateUser {
        email,
        username,
        password,
        bio,
        image,
        _token,
    } = body.0.user;
    let mut errors = FieldErrors::new();
    let current = store
        .user(auth.principal.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let email = present(&mut errors, "email", email, Email::parse);
    // A frontend sends its whole settings form back: the name the account has is kept as it
    // is (an admin's may be a reserved one); a new one follows signup's rules.
    let username = present(
        &mut errors,
        "username",
        username,
        |name| match Username::parse(name) {
            Ok(same) if same == current.username => Ok(same),
            _ => Username::parse_new(name),
        },
    );
    let bio = clearable(&mut errors, "bio", bio, Bio::parse);
    let image = clearable(&mut errors, "image", image, ImageUrl::parse);
    // An external identity provider's account has no password here, and its email is the
    // provider's to vouch for (as on /api/v1).
    if auth.principal.session_id.is_none() {
        for (field, given) in [("password", password.is_some()), ("email", email.is_some())] {
            if given {
                errors.add(field, "is managed by your identity provider");
            }
        }
    }
    // RealWorld changes a password without the current one. A 15-minute /api/v1 token must
    // not get around /api/v1's rule that asks for it: only /api's own tokens may.
    if password.is_some() && !auth.own_token {
        return Err(ApiError::forbidden(
            "password",
            "change the password with PUT /api/v1/users/me/password, or with a token from /api",
        ));
    }
    let password = match password {
        None => None,
        Some(None) => {
            errors.add("password", BLANK);
            None
        }
        Some(Some(password)) if password.expose_secret().is_empty() => {
            errors.add("password", BLANK);
            None
        }
        Some(Some(password)) => {
            // Checked against the names the account will have after this change.
            let username = username.as_ref().unwrap_or(&current.username);
            let email = email.as_ref().or(current.email.as_ref());
            let context: Vec<&str> = [Some(username.as_str()), email.map(Email::as_str)]
                .into_iter()
                .flatten()
                .collect();
            Password::parse_with(password, &context, *policy.get_ref())
                .map_err(|e| errors.add("password", e))
                .ok()
        }
    };
    errors.into_result()?;
    let password_hash = match password {
        Some(password) => Some(hasher.hash(password).await?),
        None => None,
    };
    let edit = ProfileEdit {
        username,
        email,
        name: None,
        bio,
        image,
        password_hash,
        keep: auth.principal.session_id,
    };
    let user = store.update_profile(auth.principal.user_id, edit).await?;
    Ok(token_answer(HttpResponse::Ok(), &user, auth.token))
}

/// A field that, when present, must hold a value: parsed with the rules signup uses.
fn present<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    match required(value?.as_deref()).and_then(parse) {
        Ok(parsed) => Some(parsed),
        Err(message) => {
            errors.add(field, message);
            None
        }
    }
}

/// A field that `null` and `""` alike clear (a bio, an image).
fn clearable<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<Option<T>, String>,
) -> Option<Option<T>> {
    match parse(value?.as_deref().unwrap_or_default()) {
        Ok(parsed) => Some(parsed),
        Err(message) => {
            errors.add(field, message);
            None
        }
    }
}
