//! `/api/v1/tags`: the tags in use, most used first.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::Tag;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::store::Store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/tags", "GET").get(list));
}

/// How many tags a list holds: 1-500, default 100.
const DEFAULT_TAGS: usize = 100;
const MAX_TAGS: usize = 500;

/// Query of `GET /api/v1/tags`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagListParams {
    /// How many tags, 1-500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

/// A tag and how many public posts carry it.
#[derive(Serialize, ToSchema)]
pub struct TagCount {
    #[schema(value_type = String, example = "rust")]
    pub tag: Tag,
    #[schema(example = 3)]
    pub count: usize,
}

/// The tags of public posts, most used first.
#[derive(Serialize, ToSchema)]
pub struct TagCounts {
    pub tags: Vec<TagCount>,
}

/// The tags of public posts with how many carry each, most used first (then by name). Drafts
/// and scheduled posts do not count. 422 for a bad `limit`.
#[utoipa::path(
    get, path = "/api/v1/tags", tag = "posts", operation_id = "list_tags",
    params(TagListParams),
    responses(
        (status = 200, description = "The tags in use, most used first", body = TagCounts),
        (status = 422, description = "Bad query parameter", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    store: web::Data<Store>,
    params: web::Query<TagListParams>,
) -> ApiResult<HttpResponse> {
    let limit = match params.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_TAGS,
        Some(Ok(limit)) if (1..=MAX_TAGS).contains(&limit) => limit,
        Some(_) => {
            return Err(ApiError::Validation(FieldErrors::new().with(
                "limit",
                Some(format!("must be an integer from 1 to {MAX_TAGS}")),
            )))
        }
    };
    let tags = store
        .tags(limit)
        .await?
        .into_iter()
        .map(|(tag, count)| TagCount { tag, count })
        .collect();
    Ok(HttpResponse::Ok().json(TagCounts { tags }))
}
