use std::future::Future;
use std::sync::mpsc;
use std::sync::LazyLock;

use actix_web::dev::ServerHandle;
use blog_api::config::Settings;
use blog_api::startup::Application;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};

/// The HS256 secret every test server signs with, so tests can forge tokens with it.
pub const TEST_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
pub const PASSWORD: &str = "correct horse battery staple";
pub const ADMIN_PASSWORD: &str = "an admin passphrase for tests";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    // Quiet unless asked: TEST_LOG=1 cargo test
    if std::env::var("TEST_LOG").is_ok() {
        blog_api::telemetry::init("debug", std::io::stdout);
    }
});

/// A running server, stopped when dropped.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    data_dir: std::path::PathBuf,
    _data_dir: Option<tempfile::TempDir>,
    /// The test's own database, when the suite runs on PostgreSQL.
    pub database: Option<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // `stop` sends the command at once; the server's own thread carries it out.
        drop(self.handle.stop(false));
    }
}

#[path = "../common/database.rs"]
mod database;

pub use database::{test_database_url, TestDatabase};

/// Whether this run is on PostgreSQL. Tests of the embedded engine's data directory return
/// early then, saying so.
pub fn on_postgres(test: &str) -> bool {
    let on = test_database_url().is_some();
    if on {
        println!("{test}: about the embedded engine's data directory; skipped on PostgreSQL");
    }
    on
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application on its own thread and actix system, so it outlives nothing: the
/// test's runtime is only a client.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut app = spawn_app_in(&data_dir.path().join("data"), configure).await;
    app._data_dir = Some(data_dir);
    app
}

/// Starts the application on the data directory `dir`, which outlives it (restart tests).
pub async fn spawn_app_in(dir: &std::path::Path, configure: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let mut settings = Settings::defaults();
    settings.listen = "127.0.0.1:0".into();
    settings.data_dir = dir.to_owned();
    settings.jwt_secret = Some(SecretString::from(TEST_SECRET));
    settings.workers = Some(2);
    // Suites sign up and log in far faster than any person; the limits get tests of their own.
    settings.limits.auth_burst = 100_000;
    settings.limits.auth_rate_per_minute = 1_000_000;
    let database = match test_database_url() {
        Some(server) => {
            let database = TestDatabase::create(&server).await;
            settings.storage = blog_api::config::Storage::Postgres;
            settings.database_url = Some(SecretString::from(database.url.clone()));
            Some(database)
        }
        None => None,
    };
    configure(&mut settings);

    let data_dir = dir.to_owned();
    let (ready, started) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let application = Application::build(settings)
                .await
                .expect("the application builds");
            ready
                .send((application.address(), application.handle()))
                .expect("the test waits");
            application
                .run_until_stopped()
                .await
                .expect("the server runs");
        })
    });
    let (address, handle) = started.recv().expect("the server starts");
    TestApp {
        address: format!("http://{address}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        handle,
        thread: Some(thread),
        data_dir,
        _data_dir: None,
        database,
    }
}

/// An account created through the API.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub token: String,
    pub refresh_token: String,
}

impl TestApp {
    /// Stops the server and waits until it has let go of its data directory.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join().expect("the server thread"))
                .await
                .unwrap();
        }
        // The workers, on threads of their own, may still be dropping their share of the store
        // (which holds the directory's lock) a moment after the server has stopped.
        let lock = self.data_dir.join("lock");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while let Ok(file) = std::fs::OpenOptions::new().write(true).open(&lock) {
            if file.try_lock().is_ok() || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request sent")
    }

    /// A `GET` with `token` as its bearer token.
    pub async fn get_as(&self, path: &str, token: &str) -> Response {
        self.send_as(Method::GET, path, token).await
    }

    /// Sends a bodiless `method` request with `token` as its bearer token.
    pub async fn send_as(&self, method: Method, path: &str, token: &str) -> Response {
        self.request(method, path)
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    /// Sends JSON with `method`, authenticated when `token` is given.
    /// The returned future owns its request, so callers may build bodies in closures.
    pub fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> impl Future<Output = Response> + 'static {
        let mut request = self.request(method, path).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("request sent") }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::POST, path, None, body).await
    }

    pub async fn signup_raw(&self, body: &Value) -> Response {
        self.post_json("/api/v1/auth/signup", body).await
    }

    /// Signs up `username` with [`PASSWORD`] and `username@example.com`.
    pub async fn signup(&self, username: &str) -> Account {
        let email = format!("{username}@example.com");
        let response = self
            .signup_raw(&json!({"username": username, "email": email, "password": PASSWORD}))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "signup of {username}"
        );
        let body: Value = response.json().await.unwrap();
        Account {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            email,
            token: body["access_token"].as_str().unwrap().to_owned(),
            refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn login(&self, body: &Value) -> Response {
        self.post_json("/api/v1/auth/login", body).await
    }

    /// Creates a post and returns its JSON.
    pub async fn create_post(&self, token: &str, body: &Value) -> Value {
        let response = self
            .send_json(Method::POST, "/api/v1/posts", Some(token), body)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "create post");
        response.json().await.unwrap()
    }
}

/// A minimal valid post body.
pub fn post_body(title: &str) -> Value {
    json!({"title": title, "content": format!("Content of {title}.")})
}

/// Asserts a problem+json error with `status` and `code`, and returns its body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], "about:blank");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// An app with the admin `root` configured, and the admin's access token.
pub async fn app_with_admin() -> (TestApp, String) {
    let app = spawn_app_with(|s| {
        s.admin = Some(blog_api::config::AdminAccount {
            username: "root".into(),
            email: "root@example.com".into(),
            password: SecretString::from(ADMIN_PASSWORD),
        })
    })
    .await;
    let login: Value = app
        .login(&json!({"username": "root", "password": ADMIN_PASSWORD}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["user"]["role"], "admin", "{login}");
    let token = login["access_token"].as_str().unwrap().to_owned();
    (app, token)
}

/// What a front page counts, as `app` answers anonymously: the tags in use (`/api/tags`), the
/// `articlesCount` of all public posts and of those tagged `tag`.
pub async fn counts(app: &TestApp, tag: &str) -> (Value, Value, Value) {
    let tags: Value = app.get("/api/tags").await.json().await.unwrap();
    let all: Value = app.get("/api/articles").await.json().await.unwrap();
    let tagged: Value = app
        .get(&format!("/api/articles?tag={tag}"))
        .await
        .json()
        .await
        .unwrap();
    (
        tags["tags"].clone(),
        all["articlesCount"].clone(),
        tagged["articlesCount"].clone(),
    )
}
