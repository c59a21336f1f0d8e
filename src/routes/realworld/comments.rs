//! `/api/articles/{slug}/comments`.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::{required, ProfileView, Time, TokenUser, Viewer};
use crate::domain::{CommentBody, CommentId};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::JsonBody;
use crate::store::{Comment, Store, StoreError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/articles/{slug}/comments", "GET, POST")
            .get(list)
            .post(create),
    )
    .service(crate::routes::resource("/articles/{slug}/comments/{id}", "DELETE").delete(delete));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentEnvelope {
    comment: NewComment,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewComment {
    body: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CommentView {
    id: u64,
    created_at: Time,
    updated_at: Time,
    body: String,
    author: ProfileView,
}

impl From<&Comment> for CommentView {
    fn from(comment: &Comment) -> Self {
        Self {
            id: comment.id.get(),
            created_at: Time(comment.created_at),
            updated_at: Time(comment.updated_at),
            body: comment.body.as_str().to_owned(),
            author: ProfileView::from(&comment.author),
        }
    }
}

/// The comments of one article, oldest first: at most this many (RealWorld has no pages here).
const MAX_COMMENTS: usize = 1000;

fn article_not_found() -> ApiError {
    ApiError::NotFound("article")
}

async fn list(
    viewer: Viewer,
    store: web::Data<Store>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let actor = viewer.actor();
    let post = store
        .post_by_slug(&slug, actor.as_ref())
        .await?
        .ok_or_else(article_not_found)?;
    let page = store
        .comments(post.id, actor.as_ref(), None, MAX_COMMENTS)
        .await?
        .ok_or_else(article_not_found)?;
    let comments: Vec<CommentView> = page.comments.iter().map(CommentView::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "comments": comments })))
}

async fn create(
    auth: TokenUser,
    store: web::Data<Store>,
    slug: web::Path<String>,
    body: JsonBody<CommentEnvelope>,
) -> ApiResult<HttpResponse> {
    let body = required(body.0.comment.body.as_deref())
        .and_then(CommentBody::parse)
        .map_err(|message| ApiError::Validation(FieldErrors::new().with("body", Some(message))))?;
    let actor = auth.principal.actor();
    let post = store
        .post_by_slug(&slug, Some(&actor))
        .await?
        .ok_or_else(article_not_found)?;
    let comment = store
        .add_comment(&actor, post.id, body)
        .await
        .map_err(|error| match error {
            StoreError::NotFound(_) => article_not_found(),
            other => other.into(),
        })?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "comment": CommentView::from(&comment) })))
}

/// Deletes a comment: its author's, the article author's or an admin's to delete; 403
/// `comment: forbidden` otherwise.
async fn delete(
    auth: TokenUser,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let actor = auth.principal.actor();
    let post = store
        .post_by_slug(&slug, Some(&actor))
        .await?
        .ok_or_else(article_not_found)?;
    let id: CommentId = id.parse().map_err(|()| ApiError::NotFound("comment"))?;
    store
        .delete_comment(&actor, post.id, id)
        .await
        .map_err(|error| match error {
            StoreError::NotAuthor => ApiError::forbidden("comment", error.to_string()),
            other => other.into(),
        })?;
    Ok(HttpResponse::NoContent().finish())
}
