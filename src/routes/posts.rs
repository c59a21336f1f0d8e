//! `/api/v1/posts`: the blog's posts.

use actix_web::http::header::{self, IF_NONE_MATCH};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::PostsWriter;
use crate::domain::{PostContent, PostDescription, PostId, PostTitle, Tag, Tags, Username};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::extract::{etag, expected_versions, BodyLimit, IfMatch, JsonBody};
use crate::routes::users::present;
use crate::store::{Expected, NewPost, Post, PostEdit, PostQuery, Store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/posts")
            .app_data(BodyLimit::POSTS)
            .service(super::resource("", "GET, POST").get(list).post(create))
            .service(
                super::resource("/{id}", "GET, PUT, PATCH, DELETE")
                    .get(get)
                    .put(replace)
                    .patch(update)
                    .delete(delete),
            ),
    );
}

/// Query of `GET /api/v1/posts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1-100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
    /// Only posts by this username.
    #[param(pattern = "^[A-Za-z0-9_-]{3,32}$")]
    pub author: Option<String>,
    /// Only posts with this tag.
    #[param(pattern = "^[A-Za-z0-9-]{1,32}$")]
    pub tag: Option<String>,
}

/// A page of posts, newest first.
#[derive(Serialize, ToSchema)]
pub struct PostPage {
    pub data: Vec<Post>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl ListParams {
    fn into_query(self) -> ApiResult<PostQuery> {
        let mut errors = FieldErrors::new();
        let (limit, after) =
            super::page_params(self.limit.as_deref(), self.cursor.as_deref(), &mut errors);
        let author = self.author.as_deref().and_then(|author| {
            Username::parse(author)
                .map_err(|e| errors.add("author", e))
                .ok()
        });
        let tag = self
            .tag
            .as_deref()
            .and_then(|tag| Tag::parse(tag).map_err(|e| errors.add("tag", e)).ok());
        errors.into_result()?;
        Ok(PostQuery {
            limit,
            after,
            author,
            tag,
        })
    }
}

/// Lists posts, newest first, a page at a time.
///
/// Filters combine: `author` (username) and `tag`. 422 for a bad `limit`, `cursor`, `author`
/// or `tag`.
#[utoipa::path(
    get, path = "/api/v1/posts", tag = "posts",
    params(ListParams),
    responses(
        (status = 200, description = "A page of posts, newest first", body = PostPage),
        (status = 422, description = "Bad query parameter", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    store: web::Data<Store>,
    params: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let page = store.list_posts(&params.into_inner().into_query()?).await;
    Ok(HttpResponse::Ok().json(PostPage {
        data: page.posts,
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

/// A new post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Hello, world", "content": "# Hello\n\nMy first post.",
    "description": "A first post", "tags": ["intro", "rust"]
}))]
pub struct PostInput {
    /// 1-200 characters, one line.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*\\S[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub title: String,
    /// 1-100,000 characters.
    #[schema(min_length = 1, max_length = 100000, pattern = "\\S")]
    pub content: String,
    /// Up to 500 characters; omitted or blank means none.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Up to 10 tags of 1-32 letters, digits or `-`; stored lower-case, sorted, unique.
    #[serde(default)]
    #[schema(max_items = 10, value_type = Vec<crate::openapi::TagName>)]
    pub tags: Vec<String>,
}

impl PostInput {
    fn parse(self) -> ApiResult<NewPost> {
        let title = PostTitle::parse(&self.title);
        let content = PostContent::parse(&self.content);
        let description = self
            .description
            .as_deref()
            .map(PostDescription::parse)
            .transpose()
            .map(Option::flatten);
        let tags = Tags::parse(&self.tags);
        match (title, content, description, tags) {
            (Ok(title), Ok(content), Ok(description), Ok(tags)) => Ok(NewPost {
                title,
                content,
                description,
                tags,
            }),
            (title, content, description, tags) => Err(ApiError::Validation(
                FieldErrors::new()
                    .with("title", title.err())
                    .with("content", content.err())
                    .with("description", description.err())
                    .with("tags", tags.err()),
            )),
        }
    }
}

/// Changes to a post; absent fields are unchanged, `description: null` clears it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Hello again", "tags": ["rust"]}))]
pub struct PostPatch {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*\\S[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub title: Option<String>,
    #[schema(min_length = 1, max_length = 100000, pattern = "\\S")]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    #[schema(max_items = 10, value_type = Option<Vec<crate::openapi::TagName>>)]
    pub tags: Option<Vec<String>>,
}

impl PostPatch {
    fn parse(self) -> ApiResult<PostEdit> {
        let title = self.title.as_deref().map(PostTitle::parse).transpose();
        let content = self.content.as_deref().map(PostContent::parse).transpose();
        let description = self
            .description
            .map(|d| {
                d.as_deref()
                    .map(PostDescription::parse)
                    .transpose()
                    .map(Option::flatten)
            })
            .transpose();
        let tags = self.tags.as_deref().map(Tags::parse).transpose();
        match (title, content, description, tags) {
            (Ok(title), Ok(content), Ok(description), Ok(tags)) => Ok(PostEdit {
                title,
                content,
                description,
                tags,
            }),
            (title, content, description, tags) => Err(ApiError::Validation(
                FieldErrors::new()
                    .with("title", title.err())
                    .with("content", content.err())
                    .with("description", description.err())
                    .with("tags", tags.err()),
            )),
        }
    }
}

/// A post response with its `ETag`.
fn with_etag(mut builder: actix_web::HttpResponseBuilder, post: &Post) -> HttpResponse {
    builder
        .insert_header((header::ETAG, etag(post.version)))
        .json(post)
}

/// Creates a post by the caller. 201 with `Location` and `ETag`.
#[utoipa::path(
    post, path = "/api/v1/posts", tag = "posts",
    request_body = PostInput,
    security(("oauth2_password" = []), ("bearer" = []), ("oauth2_client" = ["posts:write"])),
    responses(
        (status = 201, description = "Created", body = Post,
            headers(("Location" = String, description = "URL of the new post"), ("ETag" = String))),
        crate::openapi::BodyProblems, crate::openapi::AuthProblems,
    )
)]
pub async fn create(
    writer: PostsWriter,
    store: web::Data<Store>,
    body: JsonBody<PostInput>,
) -> ApiResult<HttpResponse> {
    let post = store.create_post(writer.0.user_id, body.0.parse()?).await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/posts/{}", post.id)));
    Ok(with_etag(response, &post))
}

/// One post by id or slug, with its `ETag`; 304 when `If-None-Match` names the current one.
#[utoipa::path(
    get, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, description = "Post id (UUID) or slug")),
    responses(
        (status = 200, description = "The post, with its current version as ETag", body = Post, headers(("ETag" = String, description = "The post's version, for If-Match and If-None-Match"))),
        (status = 304, description = "Not modified"),
        crate::openapi::NotFoundProblem,
    )
)]
pub async fn get(
    req: HttpRequest,
    id: web::Path<String>,
    store: web::Data<Store>,
) -> ApiResult<HttpResponse> {
    let post = match id.parse::<PostId>() {
        Ok(id) => store.post(id).await,
        Err(_) => store.post_by_slug(&id).await,
    }
    .ok_or(ApiError::NotFound("post"))?;
    if let Expected::OneOf(versions) = expected_versions(&req, IF_NONE_MATCH) {
        if versions.contains(&post.version) {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, etag(post.version)))
                .finish());
        }
    }
    Ok(with_etag(HttpResponse::Ok(), &post))
}

/// Replaces a post (author only). Omitted `description` and `tags` are cleared.
/// 412 if `If-Match` names an older version.
#[utoipa::path(
    put, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = "ETag the post must still have")),
    request_body = PostInput,
    security(("oauth2_password" = []), ("bearer" = []), ("oauth2_client" = ["posts:write"])),
    responses(
        (status = 200, description = "The replaced post, with its new ETag", body = Post, headers(("ETag" = String, description = "The post's version, for If-Match and If-None-Match"))),
        crate::openapi::BodyProblems, crate::openapi::AuthProblems, crate::openapi::PostWriteProblems,
    )
)]
pub async fn replace(
    writer: PostsWriter,
    id: web::Path<PostId>,
    if_match: IfMatch,
    store: web::Data<Store>,
    body: JsonBody<PostInput>,
) -> ApiResult<HttpResponse> {
    let post = body.0.parse()?;
    let edit = PostEdit {
        title: Some(post.title),
        content: Some(post.content),
        description: Some(post.description),
        tags: Some(post.tags),
    };
    let post = store.update_post(*id, &writer.0, &if_match.0, edit).await?;
    Ok(with_etag(HttpResponse::Ok(), &post))
}

/// Changes some fields of a post (author only). 412 if `If-Match` names an older version.
#[utoipa::path(
    patch, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = "ETag the post must still have")),
    request_body = PostPatch,
    security(("oauth2_password" = []), ("bearer" = []), ("oauth2_client" = ["posts:write"])),
    responses(
        (status = 200, description = "The changed post, with its new ETag", body = Post, headers(("ETag" = String, description = "The post's version, for If-Match and If-None-Match"))),
        crate::openapi::BodyProblems, crate::openapi::AuthProblems, crate::openapi::PostWriteProblems,
    )
)]
pub async fn update(
    writer: PostsWriter,
    id: web::Path<PostId>,
    if_match: IfMatch,
    store: web::Data<Store>,
    body: JsonBody<PostPatch>,
) -> ApiResult<HttpResponse> {
    let edit = body.0.parse()?;
    let post = store.update_post(*id, &writer.0, &if_match.0, edit).await?;
    Ok(with_etag(HttpResponse::Ok(), &post))
}

/// Deletes a post (its author or an admin). 204.
#[utoipa::path(
    delete, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = "ETag the post must still have")),
    security(("oauth2_password" = []), ("bearer" = []), ("oauth2_client" = ["posts:write"])),
    responses(
        (status = 204, description = "Deleted"),
        crate::openapi::AuthProblems, crate::openapi::PostWriteProblems,
    )
)]
pub async fn delete(
    writer: PostsWriter,
    id: web::Path<PostId>,
    if_match: IfMatch,
    store: web::Data<Store>,
) -> ApiResult<HttpResponse> {
    store.delete_post(*id, &writer.0, &if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
