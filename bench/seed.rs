//! Benchmark helpers, run by bench/run.py:
//!   seed DIR POSTS   write a data directory holding POSTS posts by 100 users (password
//!                    "correct horse battery staple"), print the average text bytes per post
//!   argon2 ROUNDS    time argon2id hashes (the parameters blog-api uses), print ms per hash

use std::time::Instant;

use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, Version};
use blog_api::domain::{Email, PostContent, PostStatus, PostTitle, Role, Tags, Username};
use blog_api::store::{Embedded as Store, NewPost, NewSession, NewUser};

const WORDS: &[&str] = &[
    "rust", "actix", "server", "latency", "journal", "snapshot", "blog", "token", "argon2",
    "index", "cursor", "page", "memory", "store", "thread", "async", "tracing", "request",
    "response", "tests",
];

fn text(seed: usize, words: usize) -> String {
    (0..words)
        .map(|i| WORDS[(seed * 7 + i * 13) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

#[actix_web::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("seed") => seed(&args[2], args[3].parse().expect("a post count")).await,
        Some("argon2") => argon2(args[2].parse().expect("a number of rounds")),
        _ => eprintln!("usage: seed DIR POSTS | argon2 ROUNDS"),
    }
}

async fn seed(dir: &str, posts: usize) {
    let started = Instant::now();
    let store = Store::ephemeral();
    let hash = hasher()
        .hash_password(b"correct horse battery staple")
        .unwrap()
        .to_string();
    let mut authors = Vec::new();
    for i in 0..100 {
        let user = NewUser {
            username: Username::parse(&format!("author{i}")).unwrap(),
            email: Email::parse(&format!("author{i}@example.com")).unwrap(),
            name: None,
            role: Role::User,
            password_hash: hash.clone(),
        };
        let session = NewSession {
            id: blog_api::domain::SessionId::new(),
            family_key: [7; 32],
            refresh_hash: [i as u8; 32],
            expires_at: blog_api::domain::now() + chrono::Duration::days(1),
            user_agent: None,
        };
        authors.push(store.create_user(user, session).await.unwrap().0.id);
    }
    let mut text_bytes = 0usize;
    for i in 0..posts {
        let title = format!("{} {i}", text(i, 5));
        let content = text(i, 150);
        text_bytes += title.len() + content.len();
        let post = NewPost {
            title: PostTitle::parse(&title).unwrap(),
            content: PostContent::parse(&content).unwrap(),
            description: None,
            tags: Tags::parse(&[WORDS[i % WORDS.len()], WORDS[(i / 3) % WORDS.len()]]).unwrap(),
            status: PostStatus::Published,
            published_at: None,
        };
        store
            .create_post(authors[i % authors.len()], post)
            .await
            .unwrap();
    }
    store.export_snapshot(std::path::Path::new(dir)).unwrap();
    println!(
        "{{\"posts\": {posts}, \"text_bytes_per_post\": {}, \"seconds\": {:.1}}}",
        text_bytes / posts.max(1),
        started.elapsed().as_secs_f64()
    );
}

fn hasher() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    )
}

fn argon2(rounds: u32) {
    let argon = hasher();
    let started = Instant::now();
    for i in 0..rounds {
        argon
            .hash_password(format!("password {i}").as_bytes())
            .unwrap();
    }
    println!(
        "{{\"ms_per_hash\": {:.2}}}",
        started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds)
    );
}
