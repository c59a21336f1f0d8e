//! `/api/v1/posts`: the blog's posts.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use std::sync::Arc;

use crate::domain::{
    parse_rfc3339, rfc3339_millis, rfc3339_millis_opt, Bio, DisplayName, ImageUrl, PostContent,
    PostDescription, PostId, PostStatus, PostTitle, Slug, Tag, Tags, Timestamp, UserId, Username,
};
use crate::error::{ApiError, ApiResult, AuthFailure, FieldErrors};
use crate::http::{
    none_match, versioned_etag, AuthUser, BodyLimit, IfMatch, JsonBody, PostsReader, PostsWriter,
};
use crate::routes::users::present;
use crate::store::search::{query_words, SearchCursor};
use crate::store::{Actor, Author, Listing, NewPost, Post, PostEdit, PostQuery, PostSearch, Store};

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
            )
            .service(
                super::resource("/{id}/favorite", "PUT, DELETE")
                    .put(favorite)
                    .delete(unfavorite),
            )
            // `/posts/{id}/comments...`: inside this scope, which does not fall through to
            // services registered after it.
            .configure(super::comments::configure),
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
    #[param(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub tag: Option<String>,
    /// `published` (default: public posts), `draft` (the caller's drafts) or `scheduled` (the
    /// caller's posts whose `published_at` is still ahead); the last two need a token.
    #[param(pattern = "^(draft|published|scheduled)$")]
    pub status: Option<String>,
    /// Search: published posts whose title, content or tags hold every word of `q` (whole
    /// words, any case), best match first. At most 200 characters, at least one word.
    // No `pattern`: "holds a letter or a digit" is Unicode-wide, and a JSON Schema regex's
    // `\w` is ASCII-only in ECMA-262, so no pattern states it without refusing real words.
    #[param(max_length = 200)]
    pub q: Option<String>,
}

/// The `author` and `tag` filters of a list or a feed; what is wrong with them goes into
/// `errors`.
pub(crate) fn author_and_tag(
    author: Option<&str>,
    tag: Option<&str>,
    errors: &mut FieldErrors,
) -> (Option<Username>, Option<Tag>) {
    let author = author.and_then(|author| {
        Username::parse(author)
            .map_err(|e| errors.add("author", e))
            .ok()
    });
    let tag = tag.and_then(|tag| Tag::parse(tag).map_err(|e| errors.add("tag", e)).ok());
    (author, tag)
}

/// The `status` a list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListingAsked {
    Public,
    Drafts,
    Scheduled,
}

/// What a list request asks for: a page of a listing, or of a search.
enum ListRequest {
    Page(PostQuery),
    Search(PostSearch),
}

/// A page of posts, newest first.
#[derive(Serialize, ToSchema)]
pub struct PostPage {
    pub data: Vec<PostView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl ListParams {
    fn into_request(self, viewer: Option<&Actor>) -> ApiResult<ListRequest> {
        let mut errors = FieldErrors::new();
        // A search pages with its own cursors (rank, not time).
        let time_cursor = if self.q.is_some() {
            None
        } else {
            self.cursor.as_deref()
        };
        let (limit, after) = super::page_params(self.limit.as_deref(), time_cursor, &mut errors);
        let (author, tag) =
            author_and_tag(self.author.as_deref(), self.tag.as_deref(), &mut errors);
        let listing = match self.status.as_deref() {
            None | Some("published") => Some(ListingAsked::Public),
            Some("draft") => Some(ListingAsked::Drafts),
            Some("scheduled") => Some(ListingAsked::Scheduled),
            Some(_) => {
                errors.add(
                    "status",
                    "status must be `published`, `draft` or `scheduled`",
                );
                None
            }
        };
        let words = self
            .q
            .as_deref()
            .and_then(|q| query_words(q).map_err(|e| errors.add("q", e)).ok());
        let search_after = match (&self.q, self.cursor.as_deref()) {
            (Some(_), Some(cursor)) => SearchCursor::decode(cursor).or_else(|| {
                errors.add("cursor", "is not a cursor this API returned");
                None
            }),
            _ => None,
        };
        if self.q.is_some() && listing.is_some_and(|asked| asked != ListingAsked::Public) {
            errors.add("q", "search finds published posts only");
        }
        errors.into_result()?;
        if let Some(words) = words {
            return Ok(ListRequest::Search(PostSearch {
                words,
                author,
                tag,
                after: search_after,
                limit,
                viewer: viewer.map(|v| v.user_id),
            }));
        }
        let listing = match (listing, viewer) {
            (Some(ListingAsked::Public) | None, _) => Listing::Public,
            (Some(ListingAsked::Drafts), Some(viewer)) => Listing::DraftsOf(viewer.user_id),
            (Some(ListingAsked::Scheduled), Some(viewer)) => Listing::ScheduledOf(viewer.user_id),
            (Some(_), None) => return Err(ApiError::Unauthorized(AuthFailure::MissingToken)),
        };
        Ok(ListRequest::Page(PostQuery {
            limit,
            after,
            author,
            tag,
            listing,
            viewer: viewer.map(|v| v.user_id),
        }))
    }
}

/// Lists published posts, newest `published_at` first, a page at a time; with
/// `status=draft`, the caller's own drafts, and with `status=scheduled` their scheduled posts
/// (401 without a token).
///
/// Filters combine: `author` (username) and `tag`, with each other and with a search (`q`:
/// every word, whole words, any case; ranked by where the words occur, title first, then by
/// recency). Drafts and scheduled posts are in no public list and no search. 422 for a bad
/// `limit`, `cursor`, `author`, `tag`, `status` or `q` (over 200 characters, or no word).
#[utoipa::path(
    get, path = "/api/v1/posts", tag = "posts",
    params(ListParams),
    responses(
        (status = 200, description = "A page of posts, newest first", body = PostPage),
        (status = 401, description = "`status=draft` or `scheduled` without a token, or a bad token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    viewer: PostsReader,
    store: web::Data<Store>,
    html: web::Data<RenderedHtml>,
    params: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let (posts, next_cursor) = match params.into_inner().into_request(viewer.0.as_ref())? {
        ListRequest::Page(query) => {
            let page = store.list_posts(&query).await?;
            (page.posts, page.next.map(|cursor| cursor.encode()))
        }
        ListRequest::Search(search) => {
            let found = store.search_posts(&search).await?;
            (found.posts, found.next.map(|cursor| cursor.encode()))
        }
    };
    Ok(HttpResponse::Ok().json(PostPage {
        data: posts.into_iter().map(|post| html.view(post)).collect(),
        next_cursor,
    }))
}

/// Who wrote a post or a comment, as embedded in it.
#[derive(Serialize, ToSchema)]
pub struct AuthorView {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    #[schema(value_type = String, example = "alice")]
    pub username: Username,
    #[schema(value_type = Option<String>, example = "Alice Liddell")]
    pub name: Option<DisplayName>,
    #[schema(value_type = Option<String>, example = "I write about Rust.")]
    pub bio: Option<Bio>,
    /// An `http` or `https` URL of the author's picture.
    #[schema(value_type = Option<String>, example = "https://example.com/alice.png")]
    pub image: Option<ImageUrl>,
}

impl From<Author> for AuthorView {
    fn from(author: Author) -> Self {
        Self {
            id: author.id,
            username: author.username,
            name: author.name,
            bio: author.bio,
            image: author.image,
        }
    }
}

/// A post as clients see it: its fields, and its content rendered as safe HTML.
#[derive(Serialize, ToSchema)]
#[schema(as = Post)]
pub struct PostView {
    #[schema(value_type = String, format = Uuid)]
    pub id: PostId,
    #[schema(value_type = String, example = "hello-world")]
    pub slug: Slug,
    #[schema(value_type = String, example = "Hello, world")]
    pub title: PostTitle,
    #[schema(value_type = Option<String>, example = "A first post")]
    pub description: Option<PostDescription>,
    #[schema(value_type = String, example = "# Hello\n\nMy first post.")]
    pub content: PostContent,
    #[schema(value_type = Vec<String>, example = json!(["intro", "rust"]))]
    pub tags: Tags,
    /// `draft` (seen only by its author and admins) or `published`.
    #[schema(value_type = String, example = "published")]
    pub status: PostStatus,
    /// When the post is or becomes public (a future time: scheduled); `null` for a draft.
    #[serde(serialize_with = "rfc3339_millis_opt")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-11-23T10:00:00.000Z")]
    pub published_at: Option<Timestamp>,
    pub author: AuthorView,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-23T10:00:00.000Z")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-23T10:00:00.000Z")]
    pub updated_at: Timestamp,
    /// Starts at 1 and increments on every change; the `ETag` starts with it.
    #[schema(example = 1)]
    pub version: u64,
    /// How many accounts favorited the post.
    #[schema(example = 3)]
    pub favorites_count: u64,
    /// Whether the caller favorited it (`false` without a token).
    pub favorited: bool,
    /// `content` rendered as CommonMark and sanitised (no scripts, no event handlers, no
    /// `javascript:` or `data:` URLs; links get `rel="nofollow noopener"`).
    #[schema(value_type = String, example = "<h1>Hello</h1>\n<p>My first post.</p>\n")]
    pub content_html: Arc<str>,
}

impl PostView {
    fn new(post: Post, content_html: Arc<str>) -> Self {
        Self {
            id: post.id,
            slug: post.slug,
            title: post.title,
            description: post.description,
            content: post.content,
            tags: post.tags,
            status: post.status,
            published_at: post.published_at,
            author: AuthorView::from(post.author),
            created_at: post.created_at,
            updated_at: post.updated_at,
            version: post.version,
            favorites_count: post.favorites,
            favorited: post.favorited,
            content_html,
        }
    }
}

/// Rendered HTML of post versions, so that a version is rendered once, not on every request.
/// Bounded by bytes (64 MiB); a version pushed out is rendered again when next asked for.
pub struct RenderedHtml(quick_cache::sync::Cache<(PostId, u64), Arc<str>, HtmlWeight>);

#[derive(Clone)]
pub struct HtmlWeight;

impl quick_cache::Weighter<(PostId, u64), Arc<str>> for HtmlWeight {
    fn weight(&self, _: &(PostId, u64), html: &Arc<str>) -> u64 {
        html.len() as u64 + 64
    }
}

impl Default for RenderedHtml {
    fn default() -> Self {
        const BYTES: u64 = 64 << 20;
        Self(quick_cache::sync::Cache::with_weighter(
            16_384, BYTES, HtmlWeight,
        ))
    }
}

impl RenderedHtml {
    /// The post with its HTML, rendered now only if this version was not rendered before.
    pub fn view(&self, post: Post) -> PostView {
        let content_html = self
            .0
            .get_or_insert_with(&(post.id, post.version), || {
                Ok::<_, std::convert::Infallible>(Arc::from(crate::render::content_html(
                    post.content.as_str(),
                )))
            })
            .unwrap_or_else(|never| match never {});
        PostView::new(post, content_html)
    }
}

/// A tag as clients send it; stored lower-case.
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[A-Za-z0-9_-]{1,32}$", example = "rust")]
pub struct TagName(pub String);

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
    /// Up to 10 tags of 1-32 letters, digits, `_` or `-`; stored lower-case, sorted, unique.
    #[serde(default)]
    #[schema(max_items = 10, value_type = Vec<TagName>)]
    pub tags: Vec<String>,
    /// `published` (default) or `draft` (seen only by you and admins).
    #[schema(pattern = "^(draft|published)$", example = "published")]
    pub status: Option<String>,
    /// When a published post becomes public (RFC 3339; a future time schedules it; default
    /// now). Not allowed on a draft.
    #[schema(format = DateTime, example = "2026-12-01T09:00:00Z")]
    pub published_at: Option<String>,
}

/// `status` and `published_at` of a body, parsed; errors go into `errors`.
fn publishing(
    status: Option<&str>,
    published_at: Option<&str>,
    errors: &mut FieldErrors,
) -> (Option<PostStatus>, Option<Timestamp>) {
    let status = status.and_then(|s| {
        PostStatus::parse(s)
            .map_err(|e| errors.add("status", e))
            .ok()
    });
    let published_at = published_at.and_then(|at| {
        parse_rfc3339(at)
            .map_err(|e| errors.add("published_at", e))
            .ok()
    });
    if status == Some(PostStatus::Draft) && published_at.is_some() {
        errors.add("published_at", "a draft has no published_at".to_owned());
    }
    (status, published_at)
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
        let mut errors = FieldErrors::new();
        let (status, published_at) = publishing(
            self.status.as_deref(),
            self.published_at.as_deref(),
            &mut errors,
        );
        match (title, content, description, tags) {
            (Ok(title), Ok(content), Ok(description), Ok(tags)) if errors.is_empty() => {
                Ok(NewPost {
                    title,
                    content,
                    description,
                    tags,
                    status: status.unwrap_or_default(),
                    published_at,
                })
            }
            (title, content, description, tags) => Err(ApiError::Validation(
                errors
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
    #[schema(max_items = 10, value_type = Option<Vec<TagName>>)]
    pub tags: Option<Vec<String>>,
    /// `draft` or `published`: `{"status": "published"}` publishes a draft (now, unless
    /// `published_at` is given); `draft` takes a post back and clears `published_at`.
    #[schema(pattern = "^(draft|published)$")]
    pub status: Option<String>,
    /// Reschedules (or backdates) a published post; RFC 3339.
    #[schema(format = DateTime)]
    pub published_at: Option<String>,
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
        let mut errors = FieldErrors::new();
        let (status, published_at) = publishing(
            self.status.as_deref(),
            self.published_at.as_deref(),
            &mut errors,
        );
        match (title, content, description, tags) {
            (Ok(title), Ok(content), Ok(description), Ok(tags)) if errors.is_empty() => {
                Ok(PostEdit {
                    title,
                    content,
                    description,
                    tags,
                    status,
                    published_at,
                })
            }
            (title, content, description, tags) => Err(ApiError::Validation(
                errors
                    .with("title", title.err())
                    .with("content", content.err())
                    .with("description", description.err())
                    .with("tags", tags.err()),
            )),
        }
    }
}

/// A post response with its `ETag`.
fn with_etag(
    mut builder: actix_web::HttpResponseBuilder,
    html: &RenderedHtml,
    post: Post,
) -> HttpResponse {
    builder
        .insert_header((header::ETAG, post_etag(&post)))
        .json(html.view(post))
}

/// The post's `ETag`: `"<version>-<digest>"`. `If-Match` checks the version; the digest is of
/// what the answer shows that the version does not count (the favorites, whether the viewer
/// favorited it, the author's profile), so that `If-None-Match` never gets 304 for an answer
/// that would now read differently, and a favorite never makes its author's edit fail. It also
/// takes the post's id (a slug freed by a deleted post and taken by a new one at version 1 is
/// another answer) and this release (its renderer makes `content_html`).
fn post_etag(post: &Post) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    digest.update(env!("CARGO_PKG_VERSION").as_bytes());
    digest.update(post.id.as_uuid().as_bytes());
    digest.update(post.favorites.to_le_bytes());
    digest.update([u8::from(post.favorited)]);
    let author = &post.author;
    digest.update(author.id.as_uuid().as_bytes());
    let texts = [
        Some(author.username.as_str()),
        author.name.as_ref().map(DisplayName::as_str),
        author.bio.as_ref().map(Bio::as_str),
        author.image.as_ref().map(ImageUrl::as_str),
    ];
    for text in texts {
        // Length-prefixed (u64::MAX for none), so that no two profiles hash the same bytes.
        match text {
            Some(text) => {
                digest.update((text.len() as u64).to_le_bytes());
                digest.update(text.as_bytes());
            }
            None => digest.update(u64::MAX.to_le_bytes()),
        }
    }
    versioned_etag(post.version, &digest.finalize()[..8])
}

/// Creates a post by the caller. 201 with `Location` and `ETag`.
#[utoipa::path(
    post, path = "/api/v1/posts", tag = "posts",
    request_body = PostInput,
    security(("oauth2_password" = []), ("bearer" = []), ("oauth2_client" = ["posts:write"])),
    responses(
        (status = 201, description = "Created", body = PostView,
            headers(("Location" = String, description = "URL of the new post"), ("ETag" = String))),
        crate::problems::BodyProblems, crate::problems::AuthProblems,
    )
)]
pub async fn create(
    writer: PostsWriter,
    store: web::Data<Store>,
    html: web::Data<RenderedHtml>,
    body: JsonBody<PostInput>,
) -> ApiResult<HttpResponse> {
    let post = store.create_post(writer.0.user_id, body.0.parse()?).await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/posts/{}", post.id)));
    Ok(with_etag(response, &html, post))
}

/// One post by id or slug, with its `ETag`; 304 when `If-None-Match` names the current one.
/// A draft or a scheduled post is 404 to anyone but its author and admins.
#[utoipa::path(
    get, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, description = "Post id (UUID) or slug")),
    responses(
        (status = 200, description = "The post, with its ETag", body = PostView, headers(("ETag" = String, description = "\"<version>-<digest>\": If-Match checks the version, If-None-Match the whole tag"))),
        (status = 304, description = "Not modified"),
        crate::problems::NotFoundProblem,
    )
)]
pub async fn get(
    req: HttpRequest,
    viewer: PostsReader,
    id: web::Path<String>,
    store: web::Data<Store>,
    html: web::Data<RenderedHtml>,
) -> ApiResult<HttpResponse> {
    let viewer = viewer.0;
    let post = match id.parse::<PostId>() {
        Ok(id) => store.post(id, viewer.as_ref()).await?,
        Err(_) => store.post_by_slug(&id, viewer.as_ref()).await?,
    }
    .ok_or(ApiError::NotFound("post"))?;
    let tag = post_etag(&post);
    if none_match(&req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish());
    }
    Ok(with_etag(HttpResponse::Ok(), &html, post))
}

/// Replaces a post (author only). Omitted `description` and `tags` are cleared; omitted `status`
/// and `published_at` are kept.
/// 412 if `If-Match` names an older version.
#[utoipa::path(
    put, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = "ETag the post must still have")),
    request_body = PostInput,
    security(("oauth2_password" = []), ("bearer" = []), ("oauth2_client" = ["posts:write"])),
    responses(
        (status = 200, description = "The replaced post, with its new ETag", body = PostView, headers(("ETag" = String, description = "\"<version>-<digest>\": If-Match checks the version, If-None-Match the whole tag"))),
        crate::problems::BodyProblems, crate::problems::AuthProblems, crate::problems::PostWriteProblems,
    )
)]
pub async fn replace(
    writer: PostsWriter,
    id: web::Path<PostId>,
    if_match: IfMatch,
    store: web::Data<Store>,
    html: web::Data<RenderedHtml>,
    body: JsonBody<PostInput>,
) -> ApiResult<HttpResponse> {
    let status_given = body.0.status.is_some();
    let post = body.0.parse()?;
    let edit = PostEdit {
        title: Some(post.title),
        content: Some(post.content),
        description: Some(post.description),
        tags: Some(post.tags),
        status: status_given.then_some(post.status),
        published_at: post.published_at,
    };
    let post = store.update_post(*id, &writer.0, &if_match.0, edit).await?;
    Ok(with_etag(HttpResponse::Ok(), &html, post))
}

/// Changes some fields of a post (author only). 412 if `If-Match` names an older version.
#[utoipa::path(
    patch, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = "ETag the post must still have")),
    request_body = PostPatch,
    security(("oauth2_password" = []), ("bearer" = []), ("oauth2_client" = ["posts:write"])),
    responses(
        (status = 200, description = "The changed post, with its new ETag", body = PostView, headers(("ETag" = String, description = "\"<version>-<digest>\": If-Match checks the version, If-None-Match the whole tag"))),
        crate::problems::BodyProblems, crate::problems::AuthProblems, crate::problems::PostWriteProblems,
    )
)]
pub async fn update(
    writer: PostsWriter,
    id: web::Path<PostId>,
    if_match: IfMatch,
    store: web::Data<Store>,
    html: web::Data<RenderedHtml>,
    body: JsonBody<PostPatch>,
) -> ApiResult<HttpResponse> {
    let edit = body.0.parse()?;
    let post = store.update_post(*id, &writer.0, &if_match.0, edit).await?;
    Ok(with_etag(HttpResponse::Ok(), &html, post))
}

/// Deletes a post (its author or an admin). 204.
#[utoipa::path(
    delete, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = "ETag the post must still have")),
    security(("oauth2_password" = []), ("bearer" = []), ("oauth2_client" = ["posts:write"])),
    responses(
        (status = 204, description = "Deleted"),
        crate::problems::AuthProblems, crate::problems::PostWriteProblems,
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

/// Favorites a post for the caller; favoriting it again changes nothing. 200 with the post as
/// the caller now sees it (`favorited: true`); 404 for a post they cannot see.
#[utoipa::path(
    put, path = "/api/v1/posts/{id}/favorite", tag = "posts", operation_id = "favorite_post",
    params(("id" = String, Path, format = Uuid)),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The post, favorited by the caller", body = PostView, headers(("ETag" = String, description = "\"<version>-<digest>\": If-Match checks the version, If-None-Match the whole tag"))),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn favorite(
    auth: AuthUser,
    id: web::Path<PostId>,
    store: web::Data<Store>,
    html: web::Data<RenderedHtml>,
) -> ApiResult<HttpResponse> {
    let post = store.favorite(&auth.0.actor(), *id).await?;
    Ok(with_etag(HttpResponse::Ok(), &html, post))
}

/// Takes the caller's favorite back; doing it again changes nothing. 200 with the post as the
/// caller now sees it (`favorited: false`); 404 for a post they cannot see.
#[utoipa::path(
    delete, path = "/api/v1/posts/{id}/favorite", tag = "posts", operation_id = "unfavorite_post",
    params(("id" = String, Path, format = Uuid)),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The post, not favorited by the caller", body = PostView, headers(("ETag" = String, description = "\"<version>-<digest>\": If-Match checks the version, If-None-Match the whole tag"))),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn unfavorite(
    auth: AuthUser,
    id: web::Path<PostId>,
    store: web::Data<Store>,
    html: web::Data<RenderedHtml>,
) -> ApiResult<HttpResponse> {
    let post = store.unfavorite(&auth.0.actor(), *id).await?;
    Ok(with_etag(HttpResponse::Ok(), &html, post))
}
