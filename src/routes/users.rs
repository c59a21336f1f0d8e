//! `/api/v1/users`: profiles, the caller's own account and its password.

use actix_web::{web, HttpResponse};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::auth::PasswordHasher;
use crate::domain::{
    rfc3339_millis, Bio, DisplayName, Email, ImageUrl, Password, PasswordPolicy, Role, SessionId,
    Timestamp, UserId, Username,
};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::{AdminUser, AuthUser, BodyLimit, JsonBody, MaybeAuthUser, SessionUser};
use crate::routes::posts::{PostPage, RenderedHtml};
use crate::store::{
    ArticleQuery, Author, Cursor, Principal, ProfileEdit, SessionInfo, Store, User,
};

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
            .service(super::resource("/me/feed", "GET").get(feed))
            .service(super::resource("/me/sessions", "GET").get(sessions))
            .service(super::resource("/me/sessions/{id}", "DELETE").delete(end_session))
            .service(
                super::resource("/{id}", "GET, DELETE")
                    .get(profile)
                    .delete(delete_user),
            )
            .service(
                super::resource("/{id}/follow", "PUT, DELETE")
                    .put(follow)
                    .delete(unfollow),
            ),
    );
}

/// An account as clients see it. `email` only for the account itself (or an admin);
/// `following` only on a profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "Alice Liddell")]
    pub name: Option<String>,
    #[schema(example = "I write about Rust.")]
    pub bio: Option<String>,
    /// An `http` or `https` URL of the account's picture.
    #[schema(example = "https://example.com/alice.png")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "alice@example.com")]
    pub email: Option<String>,
    pub role: Role,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-23T10:00:00.000Z")]
    pub created_at: Timestamp,
    /// On a profile (`GET /users/{id}`, follow, unfollow): whether the caller follows this
    /// account (`false` without a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<bool>,
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
            bio: user.bio.as_ref().map(|bio| bio.as_str().to_owned()),
            image: user.image.as_ref().map(|image| image.as_str().to_owned()),
            email: None,
            role: user.role,
            created_at: user.created_at,
            following: None,
        }
    }

    /// A profile as `viewer` sees it: with email for its owner or an admin, and whether the
    /// viewer follows it.
    fn profile(user: &User, viewer: Option<&Principal>, following: bool) -> Self {
        let sees_email =
            viewer.is_some_and(|viewer| viewer.user_id == user.id || viewer.is_admin());
        let view = if sees_email {
            Self::private(user)
        } else {
            Self::public(user)
        };
        Self {
            following: Some(following),
            ..view
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
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(HttpResponse::Ok().json(UserView::private(&user)))
}

/// Changes to the caller's profile; an absent field is unchanged. `null` clears `name`, `bio`
/// and `image` (`""` clears `bio` and `image` too); `username` and `email` cannot be cleared
/// (`null` leaves them as they are).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Alice L.", "bio": "I write about Rust.", "image": "https://example.com/alice.png"
}))]
pub struct UpdateMe {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<Option<String>>,
    /// Up to 1,000 characters; trimmed.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub bio: Option<Option<String>>,
    /// An absolute `http` or `https` URL of up to 2,048 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2048, example = "https://example.com/alice.png")]
    pub image: Option<Option<String>>,
    /// 3-32 characters of `a-z 0-9 _ -`, stored lower-case; 409 `username_taken` if another
    /// account has it. Reserved names are refused as at signup.
    #[schema(
        pattern = "^[A-Za-z0-9_-]{3,32}$",
        min_length = 3,
        max_length = 32,
        example = "alice"
    )]
    pub username: Option<String>,
    /// 409 `email_taken` if another account has it (ignoring case).
    #[schema(format = Email, max_length = 254, example = "alice@example.com")]
    pub email: Option<String>,
}

impl UpdateMe {
    /// The edit asked for (`None` when the body changes nothing), or 422 naming each bad
    /// field. `admin`: whether the caller may take a reserved username (admins are configured,
    /// and may well be called `root`).
    fn parse(self, admin: bool) -> ApiResult<Option<ProfileEdit>> {
        let mut errors = FieldErrors::new();
        let name = self.name.and_then(|name| {
            let name = name.as_deref().map(DisplayName::parse).transpose();
            checked(&mut errors, "name", name)
        });
        let bio = self.bio.and_then(|bio| {
            let bio = bio
                .as_deref()
                .map(Bio::parse)
                .transpose()
                .map(Option::flatten);
            checked(&mut errors, "bio", bio)
        });
        let image = self.image.and_then(|image| {
            let image = image
                .as_deref()
                .map(ImageUrl::parse)
                .transpose()
                .map(Option::flatten);
            checked(&mut errors, "image", image)
        });
        let parse_username: fn(&str) -> Result<Username, String> = if admin {
            Username::parse
        } else {
            Username::parse_new
        };
        let username = self
            .username
            .as_deref()
            .and_then(|username| checked(&mut errors, "username", parse_username(username)));
        let email = self
            .email
            .as_deref()
            .and_then(|email| checked(&mut errors, "email", Email::parse(email)));
        errors.into_result()?;
        if name.is_none()
            && bio.is_none()
            && image.is_none()
            && username.is_none()
            && email.is_none()
        {
            return Ok(None);
        }
        Ok(Some(ProfileEdit {
            username,
            email,
            name,
            bio,
            image,
            ..ProfileEdit::default()
        }))
    }
}

/// The value of `result`, or `None` with its error recorded against `field`.
fn checked<T>(errors: &mut FieldErrors, field: &str, result: Result<T, String>) -> Option<T> {
    result.map_err(|error| errors.add(field, error)).ok()
}

/// Tells "field absent" (outer `None`, via `#[serde(default)]`) from "field is null".
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Updates the caller's profile: name, bio, image, username, email. 200 with the account; 409
/// `username_taken` or `email_taken` when another account has the new one.
#[utoipa::path(
    patch, path = "/api/v1/users/me", tag = "users",
    request_body = UpdateMe,
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The updated account", body = UserView),
        (status = 409, description = "`username_taken` or `email_taken`", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::BodyProblems, crate::problems::AuthProblems,
    )
)]
pub async fn update_me(
    auth: AuthUser,
    store: web::Data<Store>,
    body: JsonBody<UpdateMe>,
) -> ApiResult<HttpResponse> {
    let user = match body.0.parse(auth.0.is_admin())? {
        None => store
            .user(auth.0.user_id)
            .await?
            .ok_or(ApiError::NotFound("user"))?,
        Some(edit) => store.update_profile(auth.0.user_id, edit).await?,
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
    policy: web::Data<PasswordPolicy>,
    body: JsonBody<ChangePassword>,
) -> ApiResult<HttpResponse> {
    let user = store
        .user(auth.principal.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let new_password = Password::parse_with(
        body.0.new_password,
        &[
            user.username.as_str(),
            user.email.as_ref().map_or("", |email| email.as_str()),
        ],
        *policy.get_ref(),
    );
    let stored = store.password_hash(user.id).await?;
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

/// A public profile, with whether the caller follows it: no email unless it is the caller's
/// own (or the caller is an admin).
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
    let user = store.user(*id).await?.ok_or(ApiError::NotFound("user"))?;
    let following = match viewer.0 {
        Some(viewer) => store
            .profile(user.id, Some(viewer.user_id))
            .await?
            .is_some_and(|profile| profile.following),
        None => false,
    };
    Ok(HttpResponse::Ok().json(UserView::profile(&user, viewer.0.as_ref(), following)))
}

/// Follows an account: its published posts join the caller's feed. Following it again changes
/// nothing. 200 with its profile (`following: true`); 404 for an unknown account; 422 for the
/// caller's own.
#[utoipa::path(
    put, path = "/api/v1/users/{id}/follow", tag = "users", operation_id = "follow_user",
    params(("id" = String, Path, format = Uuid, description = "User id")),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The profile, followed by the caller", body = UserView),
        (status = 422, description = "The caller's own account", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn follow(
    auth: AuthUser,
    id: web::Path<UserId>,
    store: web::Data<Store>,
) -> ApiResult<HttpResponse> {
    let followed = store.follow(auth.0.user_id, *id).await?;
    profile_of(&store, &auth.0, followed).await
}

/// Stops following an account; doing it again changes nothing. 200 with its profile
/// (`following: false`); 404 for an unknown account; 422 for the caller's own.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}/follow", tag = "users", operation_id = "unfollow_user",
    params(("id" = String, Path, format = Uuid, description = "User id")),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The profile, not followed by the caller", body = UserView),
        (status = 422, description = "The caller's own account", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn unfollow(
    auth: AuthUser,
    id: web::Path<UserId>,
    store: web::Data<Store>,
) -> ApiResult<HttpResponse> {
    let unfollowed = store.unfollow(auth.0.user_id, *id).await?;
    profile_of(&store, &auth.0, unfollowed).await
}

/// The answer to a follow or an unfollow: the profile as `GET /users/{id}` shows it to `viewer`.
async fn profile_of(store: &Store, viewer: &Principal, author: Author) -> ApiResult<HttpResponse> {
    let user = store
        .user(author.id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(HttpResponse::Ok().json(UserView::profile(&user, Some(viewer), author.following)))
}

/// The caller's feed: published posts by the accounts they follow, newest `published_at` first,
/// a page at a time, in the envelope of `GET /api/v1/posts`. 422 for a bad `limit` or `cursor`.
#[utoipa::path(
    get, path = "/api/v1/users/me/feed", tag = "users", operation_id = "user_feed",
    params(PageParams),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of posts by followed accounts, newest first", body = PostPage),
        (status = 422, description = "Bad query parameter", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::AuthProblems,
    )
)]
pub async fn feed(
    auth: AuthUser,
    store: web::Data<Store>,
    html: web::Data<RenderedHtml>,
    params: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let (limit, after) = params.page()?;
    let me = auth.0.user_id;
    let page = store
        .article_page(&ArticleQuery {
            feed_of: Some(me),
            after,
            limit,
            viewer: Some(me),
            ..ArticleQuery::default()
        })
        .await?;
    Ok(HttpResponse::Ok().json(PostPage {
        data: page.posts.into_iter().map(|post| html.view(post)).collect(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
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
pub async fn sessions(auth: AuthUser, store: web::Data<Store>) -> ApiResult<HttpResponse> {
    let view = |session: SessionInfo| SessionView {
        current: Some(session.id) == auth.0.session_id,
        id: session.id,
        created_at: session.created_at,
        last_used_at: session.last_used_at,
        user_agent: session.user_agent,
    };
    let sessions: Vec<SessionView> = store
        .sessions(auth.0.user_id)
        .await?
        .into_iter()
        .map(view)
        .collect();
    Ok(HttpResponse::Ok().json(sessions))
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

/// Query of a list paged by cursor alone: the admin user listing, the feed, a post's comments.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1-100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page size and where the page starts; 422 naming `limit` or `cursor` when bad.
    pub(crate) fn page(&self) -> ApiResult<(usize, Option<Cursor>)> {
        let mut errors = FieldErrors::new();
        let page = super::page_params(self.limit.as_deref(), self.cursor.as_deref(), &mut errors);
        errors.into_result()?;
        Ok(page)
    }
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
    params(PageParams),
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
    params: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let (limit, after) = params.page()?;
    let (users, next) = store.list_users(after, limit).await?;
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
