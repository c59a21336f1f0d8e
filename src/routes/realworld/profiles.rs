//! `/api/profiles/{username}` and its `follow`.

use actix_web::{web, HttpResponse};

use super::{ProfileView, TokenUser, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::store::{Author, Store, StoreError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::resource("/profiles/{username}", "GET").get(profile))
        .service(
            crate::routes::resource("/profiles/{username}/follow", "POST, DELETE")
                .post(follow)
                .delete(unfollow),
        );
}

fn profile_response(author: &Author) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "profile": ProfileView::from(author) }))
}

/// 404 `profile: not found` for a username nobody has.
fn not_found() -> ApiError {
    ApiError::NotFound("profile")
}

async fn profile(
    viewer: Viewer,
    store: web::Data<Store>,
    username: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = store
        .user_by_username(&username)
        .await?
        .ok_or_else(not_found)?;
    let author = store
        .profile(user.id, viewer.user_id())
        .await?
        .ok_or_else(not_found)?;
    Ok(profile_response(&author))
}

async fn follow(
    auth: TokenUser,
    store: web::Data<Store>,
    username: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_following(auth, store, username, true).await
}

async fn unfollow(
    auth: TokenUser,
    store: web::Data<Store>,
    username: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_following(auth, store, username, false).await
}

async fn set_following(
    auth: TokenUser,
    store: web::Data<Store>,
    username: web::Path<String>,
    follow: bool,
) -> ApiResult<HttpResponse> {
    let user = store
        .user_by_username(&username)
        .await?
        .ok_or_else(not_found)?;
    let me = auth.principal.user_id;
    let result = if follow {
        store.follow(me, user.id).await
    } else {
        store.unfollow(me, user.id).await
    };
    let author = result.map_err(|error| match error {
        StoreError::FollowSelf => ApiError::Validation(
            crate::error::FieldErrors::new().with("profile", Some(error.to_string())),
        ),
        other => other.into(),
    })?;
    Ok(profile_response(&author))
}
