//! The store's contract: the behaviours handlers rely on, through the public [`Store`] facade,
//! on both engines. Every test runs on the embedded engine (`Store::ephemeral()`) and, when
//! `BLOG_TEST_DATABASE_URL` is set, again on PostgreSQL with a database of its own (created
//! empty, dropped afterwards). Without it each test says so in one line and runs the embedded
//! half only.
//!
//! The embedded engine's own unit tests (`src/store/tests.rs`) look into its state; these compare
//! the engines only by what the facade answers: titles, counts, errors.
//!
//! [`Store`]: blog_api::store::Store

mod accounts;
mod helpers;
mod posts;
mod sessions;
mod social;

/// A run that requires PostgreSQL (`BLOG_REQUIRE_POSTGRES`, as CI sets) fails without it instead
/// of skipping the PostgreSQL halves.
#[test]
fn postgres_is_there_when_required() {
    if std::env::var_os("BLOG_REQUIRE_POSTGRES").is_some() {
        assert!(
            helpers::test_database_url().is_some(),
            "BLOG_REQUIRE_POSTGRES is set but BLOG_TEST_DATABASE_URL is not"
        );
    }
}
