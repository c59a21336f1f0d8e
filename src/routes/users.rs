//! `/api/v1/users`: profiles, the caller's own account and its password.

use actix_web::{web, HttpResponse};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::auth::PasswordHasher;
use crate::domain::{rfc3339_millis, DisplayName, Password, Role, SessionId, Timestamp, UserId};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::{AdminUser, AuthUser, BodyLimit, JsonBody, MaybeAuthUser, SessionUser};
use crate::store::{Cursor, SessionInfo, Store, User};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/users")
            .app_data(BodyLimit::AUTH)
            .service(super::resource("", "GET").get(list))
            .service(
                super::resource("/me", "GET, PATCH, DELETE")
                    .get(me)
                    .patch(update_me)
                    .delete(delete_me),
            )
            .service(super::resource("/me/password", "PUT").put(change_password))
            .service(super::resource("/me/sessions", "GET").get(sessions))
            .service(super::resource("/me/sessions/{id}", "DELETE").delete(end_session))
            .service(
                super::resource("/{id}", "GET, DELETE")
                    .get(profile)
                    .delete(delete_user),
            ),
    );
}

/// An account as clients see it. `email` only for the account itself (or an admin).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "Alice Liddell")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "alice@example.com")]
    pub email: Option<String>,
    pub role: Role,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-23T10:00:00.000Z")]
    pub created_at: Timestamp,
}

impl UserView {
    /// With email: for the account itself.
    pub fn private(user: &User) -> Self {
        Self {
            email: user.email.as_ref().map(|email| email.as_str().to_owned()),
            ..Self::public(user)
        }
    }

    /// Without email: for everyone else.
    pub fn public(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.as_str().to_owned(),
            name: user.name.as_ref().map(|n| n.as_str().to_owned()),
            email: None,
            role: user.role,
            created_at: user.created_at,
        }
    }
}

/// The caller's own account, with email.
#[utoipa::path(
    get, path = "/api/v1/users/me", tag = "users",
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account, with email", body = UserView),
        crate::problems::AuthProblems,
    )
)]
pub async fn me(auth: AuthUser, store: web::Data<Store>) -> ApiResult<HttpResponse> {
    let user = store
        .user(auth.0.user_id)
        .await
        .ok_or(ApiError::NotFound("user"))?;
    Ok(HttpResponse::Ok().json(UserView::private(&user)))
}

/// Changes to the caller's profile. `name: null` clears the name; an absent field is unchanged.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Alice L."}))]
pub struct UpdateMe {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<Option<String>>,
}

/// Tells "field absent" (outer `None`, via `#[serde(default)]`) from "field is null".
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Updates the caller's profile; 200 with the account.
#[utoipa::path(
    patch, path = "/api/v1/users/me", tag = "users",
    request_body = UpdateMe,
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The updated account", body = UserView),
        crate::problems::BodyProblems, crate::problems::AuthProblems,
    )
)]
pub async fn update_me(
    auth: AuthUser,
    store: web::Data<Store>,
    body: JsonBody<UpdateMe>,
) -> ApiResult<HttpResponse> {
    let user = match body.0.name {
        None => store
            .user(auth.0.user_id)
            .await
            .ok_or(ApiError::NotFound("user"))?,
        Some(name) => {
            let name = name.as_deref().map(DisplayName::parse).transpose();
            let name =
                name.map_err(|e| ApiError::Validation(FieldErrors::new().with("name", Some(e))))?;
            store.set_user_name(auth.0.user_id, name).await?
        }
    };
    Ok(HttpResponse::Ok().json(UserView::private(&user)))
}

/// Deletes the caller's account, its posts and every session. 204; 409 `admin_account` for an
/// admin (the service would be left without one).
#[utoipa::path(
    delete, path = "/api/v1/users/me", tag = "users",
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        crate::problems::AuthProblems, crate::problems::AdminAccountProblem,
    )
)]
pub async fn delete_me(auth: AuthUser, store: web::Data<Store>) -> ApiResult<HttpResponse> {
    if auth.0.is_admin() {
        return Err(ApiError::admin_account());
    }
    store.delete_user(auth.0.user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(value_type = String, format = Password, min_length = 1, max_length = 128)]
    pub current_password: SecretString,
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 128)]
    pub new_password: SecretString,
}

/// Changes the caller's password and ends every other session. 204.
///
/// A wrong `current_password` is a 422 on that field rather than a 401: the caller *is*
/// authenticated, and frontends commonly treat any 401 as "log out".
#[utoipa::path(
    put, path = "/api/v1/users/me/password", tag = "users",
    request_body = ChangePassword,
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Changed; other sessions ended"),
        crate::problems::BodyProblems, crate::problems::AuthProblems, crate::problems::OverloadProblem,
        crate::problems::ExternalAccountProblem,
    )
)]
pub async fn change_password(
    auth: SessionUser,
    store: web::Data<Store>,
    hasher: web::Data<PasswordHasher>,
    body: JsonBody<ChangePassword>,
) -> ApiResult<HttpResponse> {
    let user = store
        .user(auth.principal.user_id)
        .await
        .ok_or(ApiError::NotFound("user"))?;
    let new_password = Password::parse(
        body.0.new_password,
        &[
            user.username.as_str(),
            user.email.as_ref().map_or("", |email| email.as_str()),
        ],
    );
    let stored = store.password_hash(user.id).await;
    if !hasher.verify(body.0.current_password, stored).await? {
        return Err(ApiError::Validation(
            FieldErrors::new()
                .with(
                    "current_password",
                    Some("is not the current password".into()),
                )
                .with("new_password", new_password.err()),
        ));
    }
    let new_password = new_password
        .map_err(|e| ApiError::Validation(FieldErrors::new().with("new_password", Some(e))))?;
    let hash = hasher.hash(new_password).await?;
    store
        .set_password_hash(user.id, hash, Some(auth.session))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A public profile: no email unless it is the caller's own (or the caller is an admin).
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, format = Uuid, description = "User id")),
    responses(
        (status = 200, description = "The profile; email only for its owner or an admin", body = UserView),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn profile(
    id: web::Path<UserId>,
    viewer: MaybeAuthUser,
    store: web::Data<Store>,
) -> ApiResult<HttpResponse> {
    let user = store.user(*id).await.ok_or(ApiError::NotFound("user"))?;
    let sees_email = viewer
        .0
        .is_some_and(|viewer| viewer.user_id == user.id || viewer.is_admin());
    let view = if sees_email {
        UserView::private(&user)
    } else {
        UserView::public(&user)
    };
    Ok(HttpResponse::Ok().json(view))
}

/// A live session of the caller's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    #[schema(value_type = String, format = Uuid)]
    pub id: SessionId,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last login, refresh or authenticated request.
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub last_used_at: Timestamp,
    pub user_agent: Option<String>,
    /// Whether this is the session of the token making the request.
    pub current: bool,
}

/// The caller's live sessions (one per login), newest first.
#[utoipa::path(
    get, path = "/api/v1/users/me/sessions", tag = "users",
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The live sessions, newest first", body = Vec<SessionView>),
        crate::problems::AuthProblems,
    )
)]
pub async fn sessions(auth: AuthUser, store: web::Data<Store>) -> HttpResponse {
    let view = |session: SessionInfo| SessionView {
        current: Some(session.id) == auth.0.session_id,
        id: session.id,
        created_at: session.created_at,
        last_used_at: session.last_used_at,
        user_agent: session.user_agent,
    };
    let sessions: Vec<SessionView> = store
        .sessions(auth.0.user_id)
        .await
        .into_iter()
        .map(view)
        .collect();
    HttpResponse::Ok().json(sessions)
}

/// Ends one of the caller's sessions (e.g. a lost phone). 204; 404 if it is not the caller's.
#[utoipa::path(
    delete, path = "/api/v1/users/me/sessions/{id}", tag = "users",
    params(("id" = String, Path, format = Uuid, description = "Session id")),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Session ended"),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn end_session(
    auth: AuthUser,
    id: web::Path<SessionId>,
    store: web::Data<Store>,
) -> ApiResult<HttpResponse> {
    store.end_user_session(auth.0.user_id, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Query of the admin user listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Page size, 1-100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// A page of accounts, newest first.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub data: Vec<UserView>,
    pub next_cursor: Option<String>,
}

/// Every account, with emails, a page at a time. Admins only (403 `insufficient_scope`).
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    params(UserListParams),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of accounts, newest first", body = UserPage),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::AuthProblems,
    )
)]
pub async fn list(
    _admin: AdminUser,
    store: web::Data<Store>,
    params: web::Query<UserListParams>,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let (limit, after) = super::page_params(
        params.limit.as_deref(),
        params.cursor.as_deref(),
        &mut errors,
    );
    errors.into_result()?;
    let (users, next) = store.list_users(after, limit).await;
    Ok(HttpResponse::Ok().json(UserPage {
        data: users.iter().map(UserView::private).collect(),
        next_cursor: next.map(|cursor: Cursor| cursor.encode()),
    }))
}

/// Deletes any account with its posts and sessions. Admins only. 204; 409 `admin_account` for
/// the admin's own account.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, format = Uuid, description = "User id")),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
        crate::problems::AdminAccountProblem,
    )
)]
pub async fn delete_user(
    admin: AdminUser,
    id: web::Path<UserId>,
    store: web::Data<Store>,
) -> ApiResult<HttpResponse> {
    if *id == admin.0.user_id {
        return Err(ApiError::admin_account());
    }
    store.delete_user(*id).await?;
    Ok(HttpResponse::NoContent().finish())
}
