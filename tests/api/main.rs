//! Black-box tests: each starts the real application on 127.0.0.1 port 0 with a fresh store and
//! talks HTTP to it.

mod admin;
mod auth;
mod clients;
mod copy_store;
mod crash;
mod errors;
mod external;
mod health;
mod helpers;
mod idp;
mod limits;
mod metrics;
mod openapi;
mod postgres;
mod posts;
mod publishing;
mod realworld;
mod sessions;
mod signing_keys;
mod social;
mod tokens;
mod users;
