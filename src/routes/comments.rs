//! `/api/v1/posts/{id}/comments`: what readers say under a post.
//!
//! Registered inside the `/posts` scope by `posts::configure` (a scope does not fall through to
//! services registered after it), but kept here: comments are a resource of their own.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{rfc3339_millis, CommentBody, CommentId, PostId, Timestamp};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::{AuthUser, JsonBody, PostsReader};
use crate::routes::posts::AuthorView;
use crate::routes::users::PageParams;
use crate::store::{Comment, Store, StoreError};

/// The comment resources, relative to the `/posts` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/{id}/comments", "GET, POST")
            .get(list)
            .post(create),
    )
    .service(super::resource("/{id}/comments/{comment_id}", "DELETE").delete(delete));
}

/// A comment as clients see it.
#[derive(Serialize, ToSchema)]
#[schema(as = Comment)]
pub struct CommentView {
    /// An integer below 2^53, so exact in every JSON client.
    #[schema(value_type = u64, minimum = 1, maximum = 9007199254740991_u64, example = 4812093384541_u64)]
    pub id: CommentId,
    /// The post it is under.
    #[schema(value_type = String, format = Uuid)]
    pub post_id: PostId,
    #[schema(value_type = String, example = "Thanks, this helped.")]
    pub body: CommentBody,
    pub author: AuthorView,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-23T10:00:00.000Z")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-23T10:00:00.000Z")]
    pub updated_at: Timestamp,
}

impl From<Comment> for CommentView {
    fn from(comment: Comment) -> Self {
        Self {
            id: comment.id,
            post_id: comment.post,
            body: comment.body,
            author: AuthorView::from(comment.author),
            created_at: comment.created_at,
            updated_at: comment.updated_at,
        }
    }
}

/// A page of a post's comments, oldest first.
#[derive(Serialize, ToSchema)]
pub struct CommentList {
    pub comments: Vec<CommentView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A new comment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Thanks, this helped."}))]
pub struct CommentInput {
    /// 1-10,000 characters; trimmed.
    #[schema(min_length = 1, max_length = 10000, pattern = "\\S")]
    pub body: String,
}

/// The comments under a post, oldest first, a page at a time. Public; a draft's or a scheduled
/// post's comments are 404 to anyone but its author and admins, like the post. 422 for a bad
/// `limit` or `cursor`.
#[utoipa::path(
    get, path = "/api/v1/posts/{id}/comments", tag = "posts", operation_id = "list_comments",
    params(("id" = String, Path, format = Uuid, description = "Post id"), PageParams),
    responses(
        (status = 200, description = "A page of comments, oldest first", body = CommentList),
        (status = 422, description = "Bad query parameter", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn list(
    viewer: PostsReader,
    id: web::Path<PostId>,
    store: web::Data<Store>,
    params: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let (limit, after) = params.page()?;
    let page = store
        .comments(*id, viewer.0.as_ref(), after, limit)
        .await?
        .ok_or(ApiError::NotFound("post"))?;
    Ok(HttpResponse::Ok().json(CommentList {
        comments: page.comments.into_iter().map(CommentView::from).collect(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

/// Comments on a post as the caller. 201 with `Location` and the comment; 404 for a post the
/// caller cannot see.
#[utoipa::path(
    post, path = "/api/v1/posts/{id}/comments", tag = "posts", operation_id = "create_comment",
    params(("id" = String, Path, format = Uuid, description = "Post id")),
    request_body = CommentInput,
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = CommentView,
            headers(("Location" = String, description = "URL of the new comment"))),
        crate::problems::BodyProblems, crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn create(
    auth: AuthUser,
    id: web::Path<PostId>,
    store: web::Data<Store>,
    body: JsonBody<CommentInput>,
) -> ApiResult<HttpResponse> {
    let text = CommentBody::parse(&body.0.body)
        .map_err(|e| ApiError::Validation(FieldErrors::new().with("body", Some(e))))?;
    let comment = store.add_comment(&auth.0.actor(), *id, text).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/posts/{}/comments/{}", comment.post, comment.id),
        ))
        .json(CommentView::from(comment)))
}

/// Deletes a comment: its author, the post's author or an admin may (403 `not_author`
/// otherwise). 204; 404 for an unknown post or comment, or a comment id that is not one.
#[utoipa::path(
    delete, path = "/api/v1/posts/{id}/comments/{comment_id}", tag = "posts", operation_id = "delete_comment",
    params(
        ("id" = String, Path, format = Uuid, description = "Post id"),
        ("comment_id" = u64, Path, minimum = 1, maximum = 9007199254740991_u64, description = "Comment id"),
    ),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Neither the comment's author, the post's author nor an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn delete(
    auth: AuthUser,
    path: web::Path<(PostId, String)>,
    store: web::Data<Store>,
) -> ApiResult<HttpResponse> {
    let (post, comment) = path.into_inner();
    // Like a malformed post id: a path that names nothing.
    let comment = comment
        .parse::<CommentId>()
        .map_err(|()| ApiError::NotFound("comment"))?;
    store
        .delete_comment(&auth.0.actor(), post, comment)
        .await
        .map_err(|error| match error {
            StoreError::NotAuthor => ApiError::forbidden(
                "not_author",
                "only the comment's author, the post's author or an admin may delete it",
            ),
            other => other.into(),
        })?;
    Ok(HttpResponse::NoContent().finish())
}
