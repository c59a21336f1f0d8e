//! blog-api: a blog backend with posts CRUD, accounts and JWT bearer authentication.
//!
//! Data flows one way: request -> extractors (auth, validated body) -> handler -> store ->
//! response. Handlers never touch the store's maps; the store never sees HTTP types.

pub mod auth;
pub mod config;
pub mod data_dir;
pub mod domain;
pub mod error;
mod fetch_url;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod problems;
pub mod render;
pub mod routes;
pub mod startup;
pub mod store;
pub mod telemetry;
