//! The engines a test runs on, and the accounts, posts and lists the tests are made of.

use blog_api::domain::{
    now, Email, PostContent, PostStatus, PostTitle, Role, SessionId, Tag, Tags, Timestamp, Username,
};
use blog_api::store::postgres::{PgOptions, Postgres};
use blog_api::store::{Listing, NewPost, NewSession, NewUser, Post, PostQuery, Principal, Store};

#[path = "../common/database.rs"]
mod database;

pub use database::test_database_url;
use database::TestDatabase;

/// One engine a test runs on. Fields drop in order: the store (and its pool) before its
/// database.
pub struct Engine {
    pub name: &'static str,
    pub store: Store,
    _database: Option<TestDatabase>,
}

/// The embedded engine, and PostgreSQL on a fresh database when `BLOG_TEST_DATABASE_URL` is
/// set (else one line says that half is skipped).
pub async fn engines(test: &str) -> Vec<Engine> {
    engines_with(test, |store| store).await
}

/// [`engines`], each store passed through `configure` (a session cap, say).
pub async fn engines_with(test: &str, configure: impl Fn(Store) -> Store) -> Vec<Engine> {
    let mut engines = vec![Engine {
        name: "embedded",
        store: configure(Store::ephemeral()),
        _database: None,
    }];
    match test_database_url() {
        Some(server) => {
            let database = TestDatabase::create(&server).await;
            let postgres = Postgres::connect(&database.url, &PgOptions::default())
                .await
                .expect("the PostgreSQL engine starts on its test database");
            engines.push(Engine {
                name: "postgres",
                store: configure(Store::from(postgres)),
                _database: Some(database),
            });
        }
        None => println!("{test}: PostgreSQL half skipped, BLOG_TEST_DATABASE_URL is not set"),
    }
    engines
}

impl Engine {
    /// Says which engine the assertions that follow are about (shown when the test fails).
    pub fn start(&self, test: &str) -> &Store {
        println!("{test}: on {}", self.name);
        &self.store
    }
}

pub fn random_hash() -> [u8; 32] {
    let mut hash = [0u8; 32];
    getrandom::fill(&mut hash).expect("random bytes");
    hash
}

/// A session whose refresh token is good for a day.
pub fn session() -> NewSession {
    session_until(now() + chrono::Duration::days(1))
}

pub fn session_until(expires_at: Timestamp) -> NewSession {
    NewSession {
        id: SessionId::new(),
        family_key: random_hash(),
        refresh_hash: random_hash(),
        expires_at,
        user_agent: None,
    }
}

/// A session of `user` whose refresh token expired a second ago.
pub async fn expired_session(store: &Store, user: &Principal) -> SessionId {
    let session = session_until(now() - chrono::Duration::seconds(1));
    store.start_session(user.user_id, session).await.unwrap().1
}

/// `name`, with `name@example.com`.
pub fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        name: None,
        role,
        password_hash: "$argon2id$fake".into(),
    }
}

/// An account with one live session, as its access token presents it.
pub async fn user(store: &Store, name: &str) -> Principal {
    signed_up(store, new_user(name, Role::User)).await
}

/// An admin with one live session.
pub async fn admin(store: &Store, name: &str) -> Principal {
    signed_up(store, new_user(name, Role::Admin)).await
}

async fn signed_up(store: &Store, new: NewUser) -> Principal {
    let (user, session_id) = store.create_user(new, session()).await.unwrap();
    store
        .principal(user.id, session_id)
        .await
        .unwrap()
        .expect("a new account's session is live")
}

/// A post published now.
pub fn new_post(title: &str, tags: &[&str]) -> NewPost {
    NewPost {
        title: PostTitle::parse(title).unwrap(),
        content: PostContent::parse("body").unwrap(),
        description: None,
        tags: Tags::parse(tags).unwrap(),
        status: PostStatus::Published,
        published_at: None,
    }
}

/// A post published at `at` (past or future).
pub fn post_at(title: &str, tags: &[&str], at: Timestamp) -> NewPost {
    NewPost {
        published_at: Some(at),
        ..new_post(title, tags)
    }
}

pub fn draft(title: &str, tags: &[&str]) -> NewPost {
    NewPost {
        status: PostStatus::Draft,
        ..new_post(title, tags)
    }
}

/// Distinct, increasing publication times an hour ago: `at(0) < at(1) < ...`, so posts are
/// ordered by time whatever millisecond they were written in.
pub fn timeline() -> impl Fn(i64) -> Timestamp {
    let start = now() - chrono::Duration::hours(1);
    move |i| start + chrono::Duration::seconds(i)
}

/// A public list, anonymous.
pub fn query(author: Option<&str>, tag: Option<&str>, limit: usize) -> PostQuery {
    PostQuery {
        author: author.map(|a| Username::parse(a).unwrap()),
        tag: tag.map(|t| Tag::parse(t).unwrap()),
        after: None,
        limit,
        listing: Listing::Public,
        viewer: None,
    }
}

pub fn listing(listing: Listing, limit: usize) -> PostQuery {
    PostQuery {
        listing,
        ..query(None, None, limit)
    }
}

pub fn titles(posts: &[Post]) -> Vec<String> {
    posts.iter().map(|p| p.title.as_str().to_owned()).collect()
}

/// Follows `next` cursors to the end and returns every title seen, in order.
pub async fn all_pages(store: &Store, mut query: PostQuery) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let page = store.list_posts(&query).await.unwrap();
        assert!(page.posts.len() <= query.limit);
        seen.extend(titles(&page.posts));
        match page.next {
            Some(next) => query.after = Some(next),
            None => return seen,
        }
    }
}
