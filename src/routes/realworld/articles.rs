//! `/api/articles`: posts as RealWorld articles, with the feed, favorites and `/api/tags`.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::{nullable, required, ProfileView, Time, TokenUser, Viewer, BLANK};
use crate::domain::{PostContent, PostDescription, PostId, PostStatus, PostTitle, Tag, Tags};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::JsonBody;
use crate::store::{Actor, ArticleQuery, Expected, NewPost, Post, PostEdit, Store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `feed` before `{slug}`: actix tries resources in order.
    cfg.service(
        crate::routes::resource("/articles", "GET, POST")
            .get(list)
            .post(create),
    )
    .service(crate::routes::resource("/articles/feed", "GET").get(feed))
    .service(
        crate::routes::resource("/articles/{slug}", "GET, PUT, DELETE")
            .get(get)
            .put(update)
            .delete(delete),
    )
    .service(
        crate::routes::resource("/articles/{slug}/favorite", "POST, DELETE")
            .post(favorite)
            .delete(unfavorite),
    )
    .service(crate::routes::resource("/tags", "GET").get(tags));
}

/// `{"article": ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArticleEnvelope<T> {
    article: T,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewArticle {
    title: Option<String>,
    description: Option<String>,
    body: Option<String>,
    /// Absent or `null`: no tags.
    #[serde(default)]
    tag_list: Option<Vec<String>>,
}

/// Each field absent (unchanged) or a value; `null` is refused (422).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UpdateArticle {
    #[serde(default, deserialize_with = "nullable")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    body: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    tag_list: Option<Option<Vec<String>>>,
}

/// An article as RealWorld shows it; lists leave `body` out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ArticleView {
    slug: String,
    title: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    tag_list: Vec<String>,
    created_at: Time,
    updated_at: Time,
    favorited: bool,
    favorites_count: u64,
    author: ProfileView,
}

impl ArticleView {
    fn new(post: &Post, with_body: bool) -> Self {
        Self {
            slug: post.slug.as_str().to_owned(),
            title: post.title.as_str().to_owned(),
            description: post
                .description
                .as_ref()
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
            body: with_body.then(|| post.content.as_str().to_owned()),
            tag_list: post
                .tags
                .iter()
                .map(|tag| tag.as_str().to_owned())
                .collect(),
            created_at: Time(post.created_at),
            updated_at: Time(post.updated_at),
            favorited: post.favorited,
            favorites_count: post.favorites,
            author: ProfileView::from(&post.author),
        }
    }
}

fn article_response(post: &Post) -> serde_json::Value {
    serde_json::json!({ "article": ArticleView::new(post, true) })
}

/// `limit` (1-100, default 20) and `offset` (default 0), and the filters.
#[derive(Deserialize)]
struct ListParams {
    tag: Option<String>,
    author: Option<String>,
    favorited: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// Page size: 1-100, default 20.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

fn slice(params: &ListParams) -> ApiResult<(usize, usize)> {
    let mut errors = FieldErrors::new();
    let limit = match params.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        // The spec sets no maximum: a larger page is served at the largest we serve.
        Some(Ok(limit)) if limit >= 1 => limit.min(MAX_LIMIT),
        Some(_) => {
            errors.add("limit", "must be a positive integer");
            DEFAULT_LIMIT
        }
    };
    let offset = match params.offset.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(offset)) => offset,
        Some(Err(_)) => {
            errors.add("offset", "must be a non-negative integer");
            0
        }
    };
    errors.into_result()?;
    Ok((limit, offset))
}

async fn articles(store: &Store, query: ArticleQuery) -> ApiResult<HttpResponse> {
    let page = store.articles(&query).await?;
    let articles: Vec<ArticleView> = page
        .posts
        .iter()
        .map(|post| ArticleView::new(post, false))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "articles": articles,
        "articlesCount": page.total,
    })))
}

/// Published articles, newest first, by `tag`, `author` and `favorited` (a username); a tag
/// that no post could carry matches nothing.
async fn list(
    viewer: Viewer,
    store: web::Data<Store>,
    params: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let (limit, offset) = slice(&params)?;
    let params = params.into_inner();
    let tag = match params.tag.as_deref().map(Tag::parse) {
        Some(Err(_)) => {
            return Ok(HttpResponse::Ok().json(serde_json::json!({
                "articles": [],
                "articlesCount": 0,
            })))
        }
        tag => tag.and_then(Result::ok),
    };
    let query = ArticleQuery {
        tag,
        author: params.author,
        favorited: params.favorited,
        limit,
        offset,
        viewer: viewer.user_id(),
        ..ArticleQuery::default()
    };
    articles(&store, query).await
}

/// Articles by the accounts the caller follows, newest first.
async fn feed(
    auth: TokenUser,
    store: web::Data<Store>,
    params: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let (limit, offset) = slice(&params)?;
    let me = auth.principal.user_id;
    let query = ArticleQuery {
        feed_of: Some(me),
        limit,
        offset,
        viewer: Some(me),
        ..ArticleQuery::default()
    };
    articles(&store, query).await
}

/// The post at `slug` if `viewer` may see it; 404 `article: not found` otherwise.
async fn by_slug(store: &Store, slug: &str, viewer: Option<&Actor>) -> ApiResult<Post> {
    store
        .post_by_slug(slug, viewer)
        .await?
        .ok_or(ApiError::NotFound("article"))
}

async fn get(
    viewer: Viewer,
    store: web::Data<Store>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let post = by_slug(&store, &slug, viewer.actor().as_ref()).await?;
    Ok(HttpResponse::Ok().json(article_response(&post)))
}

/// Publishes a new article. 201; 422 naming each blank or invalid field.
async fn create(
    auth: TokenUser,
    store: web::Data<Store>,
    body: JsonBody<ArticleEnvelope<NewArticle>>,
) -> ApiResult<HttpResponse> {
    let NewArticle {
        title,
        description,
        body,
        tag_list,
    } = body.0.article;
    let title = required(title.as_deref()).and_then(PostTitle::parse);
    let description = required(description.as_deref()).and_then(PostDescription::parse);
    let content = required(body.as_deref()).and_then(PostContent::parse);
    let tags = Tags::parse(&tag_list.unwrap_or_default());
    let (title, description, content, tags) = match (title, description, content, tags) {
        (Ok(title), Ok(description), Ok(content), Ok(tags)) => (title, description, content, tags),
        (title, description, content, tags) => {
            return Err(ApiError::Validation(
                FieldErrors::new()
                    .with("title", title.err())
                    .with("description", description.err())
                    .with("body", content.err())
                    .with("tagList", tags.err()),
            ))
        }
    };
    let new = NewPost {
        title,
        content,
        description,
        tags,
        status: PostStatus::Published,
        published_at: None,
    };
    let post = store.create_post(auth.principal.user_id, new).await?;
    Ok(HttpResponse::Created().json(article_response(&post)))
}

/// Changes an article of the caller's. 403 `article: forbidden` for someone else's.
async fn update(
    auth: TokenUser,
    store: web::Data<Store>,
    slug: web::Path<String>,
    body: JsonBody<ArticleEnvelope<UpdateArticle>>,
) -> ApiResult<HttpResponse> {
    let UpdateArticle {
        title,
        description,
        body,
        tag_list,
    } = body.0.article;
    let mut errors = FieldErrors::new();
    let mut field = |name: &str, value: Option<Option<String>>| match value {
        None => None,
        Some(None) => {
            errors.add(name, BLANK);
            None
        }
        Some(Some(value)) => Some(value),
    };
    let title = field("title", title);
    let description = field("description", description);
    let content = field("body", body);
    let title = title.map(|t| required(Some(&t)).and_then(PostTitle::parse));
    let description = description.map(|d| required(Some(&d)).and_then(PostDescription::parse));
    let content = content.map(|c| required(Some(&c)).and_then(PostContent::parse));
    let tags = match tag_list {
        None => None,
        Some(None) => Some(Err(
            "must be a list (send [] to remove every tag)".to_owned()
        )),
        Some(Some(list)) => Some(Tags::parse(&list)),
    };
    let mut check = |name: &str, message: Option<String>| {
        if let Some(message) = message {
            errors.add(name, message);
        }
    };
    check(
        "title",
        title.as_ref().and_then(|r| r.as_ref().err().cloned()),
    );
    check(
        "description",
        description.as_ref().and_then(|r| r.as_ref().err().cloned()),
    );
    check(
        "body",
        content.as_ref().and_then(|r| r.as_ref().err().cloned()),
    );
    check(
        "tagList",
        tags.as_ref().and_then(|r| r.as_ref().err().cloned()),
    );
    errors.into_result()?;
    let edit = PostEdit {
        title: title.and_then(Result::ok),
        content: content.and_then(Result::ok),
        description: description.and_then(Result::ok),
        tags: tags.and_then(Result::ok),
        status: None,
        published_at: None,
    };
    let actor = auth.principal.actor();
    let post = by_slug(&store, &slug, Some(&actor)).await?;
    let post = store
        .update_post(post.id, &actor, &Expected::Any, edit)
        .await?;
    Ok(HttpResponse::Ok().json(article_response(&post)))
}

/// Deletes an article of the caller's (or any, for an admin). 204.
async fn delete(
    auth: TokenUser,
    store: web::Data<Store>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let actor = auth.principal.actor();
    let post = by_slug(&store, &slug, Some(&actor)).await?;
    store.delete_post(post.id, &actor, &Expected::Any).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn favorite(
    auth: TokenUser,
    store: web::Data<Store>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_favorite(auth, &store, &slug, true).await
}

async fn unfavorite(
    auth: TokenUser,
    store: web::Data<Store>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_favorite(auth, &store, &slug, false).await
}

async fn set_favorite(
    auth: TokenUser,
    store: &Store,
    slug: &str,
    favorite: bool,
) -> ApiResult<HttpResponse> {
    let actor = auth.principal.actor();
    let id: PostId = by_slug(store, slug, Some(&actor)).await?.id;
    let post = if favorite {
        store.favorite(&actor, id).await
    } else {
        store.unfavorite(&actor, id).await
    }?;
    Ok(HttpResponse::Ok().json(article_response(&post)))
}

/// The tags in use, most used first: at most this many.
const MAX_TAGS: usize = 500;

async fn tags(store: web::Data<Store>) -> ApiResult<HttpResponse> {
    let tags: Vec<String> = store
        .tags(MAX_TAGS)
        .await?
        .into_iter()
        .map(|(tag, _)| tag.as_str().to_owned())
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tags": tags })))
}
