//! criterion micro-benchmarks of the hot paths: `cargo bench --bench hot_paths`.

use std::hint::black_box;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{test::TestRequest, web, FromRequest};
use blog_api::auth::TokenKeys;
use blog_api::config::JwtAlgorithm;
use blog_api::domain::{Email, PostContent, PostStatus, PostTitle, Role, Tags, Username};
use blog_api::http::AuthUser;
use blog_api::store::{Embedded as Store, Listing, NewPost, NewSession, NewUser, PostQuery};
use criterion::{criterion_group, criterion_main, Criterion};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn keys() -> TokenKeys {
    TokenKeys::new(SECRET, "blog-api", "blog-api", Duration::from_secs(900)).unwrap()
}

/// A store with `posts` posts by one user, and that user's (id, session).
fn store_with(
    system: &actix_web::rt::SystemRunner,
    posts: usize,
) -> (Store, blog_api::domain::UserId, blog_api::domain::SessionId) {
    let store = Store::ephemeral();
    let user = NewUser {
        username: Username::parse("bench").unwrap(),
        email: Email::parse("bench@example.com").unwrap(),
        name: None,
        role: Role::User,
        password_hash: String::new(),
    };
    let session = NewSession {
        id: blog_api::domain::SessionId::new(),
        family_key: [7; 32],
        refresh_hash: [7; 32],
        expires_at: blog_api::domain::now() + chrono::Duration::days(1),
        user_agent: None,
    };
    let (user, session) = system.block_on(store.create_user(user, session)).unwrap();
    for i in 0..posts {
        system
            .block_on(store.create_post(user.id, post(i)))
            .unwrap();
    }
    (store, user.id, session)
}

fn post(i: usize) -> NewPost {
    NewPost {
        title: PostTitle::parse(&format!("Post number {i}")).unwrap(),
        content: PostContent::parse(&"Lorem ipsum dolor sit amet. ".repeat(36)).unwrap(),
        description: None,
        tags: Tags::parse(&["rust", "bench"]).unwrap(),
        status: PostStatus::Published,
        published_at: None,
    }
}

/// Our own asymmetric keys (`BLOG_JWT_ALGORITHM`), from the test-only key files.
fn asymmetric_keys(algorithm: JwtAlgorithm, pem: &[u8]) -> TokenKeys {
    let ttl = Duration::from_secs(900);
    TokenKeys::asymmetric(algorithm, pem, Vec::new(), "blog-api", "blog-api", ttl).unwrap()
}

fn eddsa_keys() -> TokenKeys {
    let pem = include_bytes!("../tests/fixtures/keys/ed25519-a.pem");
    asymmetric_keys(JwtAlgorithm::EdDsa, pem)
}

fn tokens(c: &mut Criterion) {
    // The same token signed with each algorithm: what verifying it costs us, another service
    // verifying it with our JWKS, or us verifying an external provider's token.
    let rs256 = asymmetric_keys(
        JwtAlgorithm::Rs256,
        include_bytes!("../tests/fixtures/keys/rsa-a.pem"),
    );
    let all = [
        ("token verify (HS256, all claims)", keys()),
        ("token verify (EdDSA, all claims)", eddsa_keys()),
        ("token verify (RS256 2048, all claims)", rs256),
    ];
    for (name, keys) in &all {
        let token = keys
            .issue(
                blog_api::domain::UserId::new(),
                blog_api::domain::SessionId::new(),
                Role::User,
            )
            .unwrap()
            .token;
        c.bench_function(name, |b| b.iter(|| keys.verify(black_box(&token)).unwrap()));
    }
    let keys = &all[0].1;
    c.bench_function("token issue", |b| {
        b.iter(|| {
            keys.issue(
                blog_api::domain::UserId::new(),
                blog_api::domain::SessionId::new(),
                Role::User,
            )
            .unwrap()
        })
    });
}

fn extractor(c: &mut Criterion) {
    let system = actix_web::rt::System::new();
    for (name, keys) in [
        ("AuthUser extractor (parse, verify, session lookup)", keys()),
        // The signature is checked on the first request only: later ones find the token among
        // the verified ones (src/auth/verified.rs), then look the session up as always.
        ("AuthUser extractor, EdDSA token seen before", eddsa_keys()),
    ] {
        let (store, user, session) = store_with(&system, 0);
        let token = keys.issue(user, session, Role::User).unwrap().token;
        let (keys, store) = (web::Data::new(keys), web::Data::new(store));
        let req = TestRequest::default()
            .insert_header(("authorization", format!("Bearer {token}")))
            .app_data(keys)
            .app_data(store)
            .to_http_request();
        c.bench_function(name, |b| {
            b.iter(|| {
                system
                    .block_on(AuthUser::from_request(black_box(&req), &mut Payload::None))
                    .unwrap()
            })
        });
    }
}

fn store(c: &mut Criterion) {
    let system = actix_web::rt::System::new();
    let (store, user, _) = store_with(&system, 10_000);
    let mut i = 10_000;
    c.bench_function("store insert post (10k posts)", |b| {
        b.iter(|| {
            i += 1;
            system.block_on(store.create_post(user, post(i))).unwrap()
        })
    });
    let id = system
        .block_on(store.list_posts(&PostQuery {
            author: None,
            tag: None,
            after: None,
            limit: 1,
            listing: Listing::Public,
            viewer: None,
        }))
        .posts[0]
        .id;
    c.bench_function("store lookup post by id", |b| {
        b.iter(|| system.block_on(store.post(black_box(id), None)).unwrap())
    });
    let query = PostQuery {
        author: None,
        tag: None,
        after: None,
        limit: 20,
        listing: Listing::Public,
        viewer: None,
    };
    c.bench_function("store page of 20 (newest first)", |b| {
        b.iter(|| system.block_on(store.list_posts(black_box(&query))))
    });
    let html = blog_api::routes::posts::RenderedHtml::default();
    let page: Vec<_> = system
        .block_on(store.list_posts(&query))
        .posts
        .into_iter()
        .map(|post| html.view(post))
        .collect();
    c.bench_function("JSON serialise a page of 20 posts", |b| {
        b.iter(|| serde_json::to_vec(black_box(&page)).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = tokens, extractor, store
}
criterion_main!(benches);
