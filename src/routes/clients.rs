//! `/api/v1/clients`: API clients (machine client applications), managed by admins.

use actix_web::{web, HttpResponse};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::opaque_secret;
use crate::domain::{rfc3339_millis, ClientId, DisplayName, Scopes, Timestamp, UserId};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::{AdminUser, BodyLimit, JsonBody};
use crate::store::{Client, Store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/clients")
            .app_data(BodyLimit::AUTH)
            .service(super::resource("", "GET, POST").get(list).post(create))
            .service(super::resource("/{id}", "DELETE").delete(revoke)),
    );
}

/// A client to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Nightly importer", "scopes": ["posts:write"]}))]
pub struct NewClient {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// `posts:read`, `posts:write`.
    #[schema(value_type = Vec<crate::domain::Scope>, min_items = 1)]
    pub scopes: Vec<String>,
}

/// A client as admins see it.
#[derive(Serialize, ToSchema)]
#[schema(as = Client)]
pub struct ClientView {
    #[schema(value_type = String, format = Uuid)]
    pub client_id: ClientId,
    #[schema(value_type = String, example = "Nightly importer")]
    pub name: DisplayName,
    #[schema(value_type = Vec<crate::domain::Scope>)]
    pub scopes: Scopes,
    /// The admin who registered it; the author of the posts it writes.
    #[schema(value_type = String, format = Uuid)]
    pub owner: UserId,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<Client> for ClientView {
    fn from(client: Client) -> Self {
        Self {
            client_id: client.client_id,
            name: client.name,
            scopes: client.scopes,
            owner: client.owner,
            created_at: client.created_at,
        }
    }
}

/// A registered client with its secret. The secret is shown this once and stored only hashed.
#[derive(Serialize, ToSchema)]
pub struct RegisteredClient {
    #[serde(flatten)]
    pub client: ClientView,
    pub client_secret: String,
}

/// Registers an API client (admins only). 201 with `client_id` and `client_secret`, once.
///
/// The client obtains access tokens from `POST /api/v1/auth/token` with
/// `grant_type=client_credentials`; posts it writes are authored by the admin who registered it.
#[utoipa::path(
    post, path = "/api/v1/clients", tag = "clients", operation_id = "create_client",
    request_body = NewClient,
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Registered; the secret is shown this once", body = RegisteredClient),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::BodyProblems, crate::problems::AuthProblems,
    )
)]
pub async fn create(
    admin: AdminUser,
    store: web::Data<Store>,
    body: JsonBody<NewClient>,
) -> ApiResult<HttpResponse> {
    let name = DisplayName::parse(&body.0.name);
    let scopes = Scopes::parse(&body.0.scopes);
    let (name, scopes) = match (name, scopes) {
        (Ok(name), Ok(scopes)) => (name, scopes),
        (name, scopes) => {
            return Err(ApiError::Validation(
                FieldErrors::new()
                    .with("name", name.err())
                    .with("scopes", scopes.err()),
            ))
        }
    };
    let (secret, secret_hash) = opaque_secret();
    let client = store
        .create_client(admin.0.user_id, name, scopes, secret_hash)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(RegisteredClient {
            client: client.into(),
            client_secret: secret.expose_secret().to_owned(),
        }))
}

/// Every registered client (admins only); secrets are never shown again.
#[utoipa::path(
    get, path = "/api/v1/clients", tag = "clients", operation_id = "list_clients",
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Every registered client", body = Vec<ClientView>),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::AuthProblems,
    )
)]
pub async fn list(_admin: AdminUser, store: web::Data<Store>) -> ApiResult<HttpResponse> {
    let clients: Vec<ClientView> = store.clients().await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(clients))
}

/// Revokes a client (admins only): its tokens stop working on their next request. 204.
#[utoipa::path(
    delete, path = "/api/v1/clients/{id}", tag = "clients", operation_id = "revoke_client",
    params(("id" = String, Path, format = Uuid, description = "client_id")),
    security(("oauth2_password" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        crate::problems::AuthProblems, crate::problems::NotFoundProblem,
    )
)]
pub async fn revoke(
    _admin: AdminUser,
    id: web::Path<ClientId>,
    store: web::Data<Store>,
) -> ApiResult<HttpResponse> {
    store.delete_client(*id).await?;
    Ok(HttpResponse::NoContent().finish())
}
