//! Durability against the real binary: SIGKILL at random moments, restart, check that every
//! acknowledged write is there and nothing is half-applied. Also: one server per directory, a
//! data directory open to other users made private, and a clean exit on SIGTERM.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::PASSWORD;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command(dir: &Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_blog-api"));
    command
        .env("BLOG_LISTEN", format!("127.0.0.1:{port}"))
        .env("BLOG_DATA_DIR", dir)
        .env("BLOG_LOG", "warn")
        .env("BLOG_WORKERS", "2")
        .env("BLOG_AUTH_BURST", "1000000")
        .env("BLOG_AUTH_RATE_PER_MINUTE", "1000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

async fn start(dir: &Path) -> Server {
    start_with(dir, &[]).await
}

async fn start_with(dir: &Path, env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let child = command(dir, port)
        .envs(env.iter().copied())
        .spawn()
        .expect("the binary starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("{}/health", server.base)).await {
            if response.status() == 200 {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become healthy");
}

/// What the writers know about one post.
#[derive(Debug, Default, Clone)]
struct Known {
    /// The last acknowledged (marker, version); `None` once a delete was acknowledged.
    acked: Option<(u64, u64)>,
    /// Markers of updates sent but not acknowledged (the server may or may not have them).
    in_flight: HashSet<u64>,
    delete_in_flight: bool,
}

#[derive(Default)]
struct Model {
    posts: HashMap<String, Known>,
    creates_in_flight: HashSet<u64>,
}

fn body(marker: u64) -> Value {
    json!({"title": format!("post {marker}"), "content": format!("content {marker}")})
}

/// One writer: creates, updates and deletes until the server dies.
async fn writer(
    client: Client,
    base: String,
    token: String,
    model: Arc<Mutex<Model>>,
    first_marker: u64,
) {
    let mut marker = first_marker;
    loop {
        marker += 1;
        model.lock().creates_in_flight.insert(marker);
        let Ok(response) = client
            .post(format!("{base}/api/v1/posts"))
            .bearer_auth(&token)
            .json(&body(marker))
            .send()
            .await
        else {
            return;
        };
        let Ok(post) = response.json::<Value>().await else {
            return;
        };
        let id = post["id"].as_str().unwrap().to_owned();
        {
            let mut model = model.lock();
            model.creates_in_flight.remove(&marker);
            model.posts.insert(
                id.clone(),
                Known {
                    acked: Some((marker, 1)),
                    ..Default::default()
                },
            );
        }
        marker += 1;
        model
            .lock()
            .posts
            .get_mut(&id)
            .unwrap()
            .in_flight
            .insert(marker);
        let Ok(response) = client
            .patch(format!("{base}/api/v1/posts/{id}"))
            .bearer_auth(&token)
            .json(&body(marker))
            .send()
            .await
        else {
            return;
        };
        let Ok(updated) = response.json::<Value>().await else {
            return;
        };
        model.lock().posts.get_mut(&id).unwrap().acked =
            Some((marker, updated["version"].as_u64().unwrap()));
        if marker.is_multiple_of(3) {
            model.lock().posts.get_mut(&id).unwrap().delete_in_flight = true;
            let Ok(response) = client
                .delete(format!("{base}/api/v1/posts/{id}"))
                .bearer_auth(&token)
                .send()
                .await
            else {
                return;
            };
            if response.status() == StatusCode::NO_CONTENT {
                model.lock().posts.get_mut(&id).unwrap().acked = None;
            }
        }
    }
}

fn marker_of(text: &str, prefix: &str) -> u64 {
    text.strip_prefix(prefix)
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{text:?}"))
}

/// A new account's access token.
async fn signup(client: &Client, base: &str, username: &str) -> String {
    let email = format!("{username}@example.com");
    let body: Value = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({"username": username, "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Four writers against `running` until it is killed, `kill_after_ms` from now; returns once
/// every writer has stopped.
async fn write_then_kill(
    client: &Client,
    running: Server,
    token: &str,
    model: &Arc<Mutex<Model>>,
    round: usize,
    kill_after_ms: u64,
) {
    let writers: Vec<_> = (0..4)
        .map(|w| {
            tokio::spawn(writer(
                client.clone(),
                running.base.clone(),
                token.to_owned(),
                Arc::clone(model),
                (round as u64 * 4 + w) * 1_000_000,
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
    drop(running); // SIGKILL, then wait for the process
    for writer in writers {
        writer.await.unwrap();
    }
}

/// Checks the restarted server at `base` against what the writers were told: every
/// acknowledged write is there, nothing is half-applied, nothing unknown appeared.
async fn verify(client: &Client, base: &str, model: &Mutex<Model>, round: usize) {
    // Every writer has stopped: take the model as it stands.
    let (posts, creates_in_flight) = {
        let model = model.lock();
        (model.posts.clone(), model.creates_in_flight.clone())
    };
    let mut acknowledged = 0;
    for (id, known) in &posts {
        let response = client
            .get(format!("{}/api/v1/posts/{id}", base))
            .send()
            .await
            .unwrap();
        match (known.acked, response.status()) {
            (None, status) => assert_eq!(
                status, 404,
                "round {round}: acknowledged delete of {id} came back"
            ),
            (Some(_), StatusCode::NOT_FOUND) => {
                assert!(
                    known.delete_in_flight,
                    "round {round}: acknowledged post {id} is gone"
                )
            }
            (Some((marker, version)), StatusCode::OK) => {
                acknowledged += 1;
                let post: Value = response.json().await.unwrap();
                let title = marker_of(post["title"].as_str().unwrap(), "post ");
                let content = marker_of(post["content"].as_str().unwrap(), "content ");
                assert_eq!(title, content, "round {round}: {id} is half-applied");
                let got_version = post["version"].as_u64().unwrap();
                if got_version == version {
                    assert_eq!(
                        title, marker,
                        "round {round}: {id} lost its acknowledged content"
                    );
                } else {
                    assert!(
                        got_version > version,
                        "round {round}: {id} went back in time"
                    );
                    assert!(
                        known.in_flight.contains(&title),
                        "round {round}: {id} shows content nobody sent"
                    );
                }
            }
            (_, status) => panic!("round {round}: {id} answered {status}"),
        }
    }
    // Whatever else is listed must be a create that was in flight, whole.
    let page: Value = client
        .get(format!("{base}/api/v1/posts?limit=100&author=writer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for post in page["data"].as_array().unwrap() {
        if !posts.contains_key(post["id"].as_str().unwrap()) {
            let title = marker_of(post["title"].as_str().unwrap(), "post ");
            assert!(
                creates_in_flight.contains(&title),
                "round {round}: unknown post {post}"
            );
            assert_eq!(
                title,
                marker_of(post["content"].as_str().unwrap(), "content ")
            );
        }
    }
    assert!(
        acknowledged > 0,
        "round {round}: the writers got something acknowledged"
    );
    if std::env::var("TEST_LOG").is_ok() {
        eprintln!(
            "round {round}: {acknowledged} acknowledged posts checked, {} known",
            posts.len()
        );
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill_at_any_moment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = Client::new();
    let server = start(&data).await;
    let token = signup(&client, &server.base, "writer").await;
    let model = Arc::new(Mutex::new(Model::default()));
    let mut server = Some(server);

    // Kill points spread over the run; fixed so a failure reproduces.
    for (round, kill_after_ms) in [150u64, 420, 90, 700].into_iter().enumerate() {
        let running = server.take().expect("a running server");
        write_then_kill(&client, running, &token, &model, round, kill_after_ms).await;

        let restarted = start(&data).await;
        verify(&client, &restarted.base, &model, round).await;
        // The session survived too: log in again only if it did not.
        let me = client
            .get(format!("{}/api/v1/users/me", restarted.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200, "round {round}: the session was lost");
        server = Some(restarted);
    }
}

/// Compaction at every 4 KiB of journal over a state of about 12 MB (120 posts of 96 KB): a
/// snapshot is being written most of the time, so kills land in the middle of one (seen by the
/// `journal.old` or `snapshot.tmp` it leaves behind).
#[tokio::test]
async fn a_kill_in_the_middle_of_a_compaction_loses_nothing() {
    const SMALL_JOURNAL: &[(&str, &str)] = &[("BLOG_JOURNAL_COMPACT_BYTES", "4096")];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = Client::new();
    let server = start_with(&data, SMALL_JOURNAL).await;
    let token = signup(&client, &server.base, "writer").await;
    let ballast_token = signup(&client, &server.base, "ballast").await;
    let ballast = "ballast ".repeat(12_000);
    for i in 0..120 {
        let response = client
            .post(format!("{}/api/v1/posts", server.base))
            .bearer_auth(&ballast_token)
            .json(&json!({"title": format!("ballast {i}"), "content": ballast}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let model = Arc::new(Mutex::new(Model::default()));
    let mut server = Some(server);
    let mut mid_compaction = 0;
    for round in 0..12 {
        let running = server.take().expect("a running server");
        let kill_after_ms = 200 + 37 * round as u64;
        write_then_kill(&client, running, &token, &model, round, kill_after_ms).await;
        if data.join("journal.old").exists() || data.join("snapshot.tmp").exists() {
            mid_compaction += 1;
        }
        let restarted = start_with(&data, SMALL_JOURNAL).await;
        verify(&client, &restarted.base, &model, round).await;
        server = Some(restarted);
        if std::env::var("TEST_LOG").is_ok() {
            eprintln!("round {round}: {mid_compaction} kills mid-compaction so far");
        }
        if mid_compaction >= 2 && round >= 3 {
            break;
        }
    }
    assert!(
        mid_compaction > 0,
        "no kill landed in the middle of a compaction: the test proved nothing"
    );
}

#[tokio::test]
async fn a_second_server_on_the_same_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let _first = start(dir.path()).await;
    let output = command(dir.path(), free_port())
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another blog-api server is using this data directory"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
}

/// Another local user could otherwise replace the generated JWT secret or the journal.
#[cfg(unix)]
#[tokio::test]
async fn a_data_directory_open_to_others_is_made_private_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = || std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
    // A first start writes the journal (and the JWT secret); the directory is then opened up.
    drop(start(dir.path()).await);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(mode(), 0o777);
    let _restarted = start(dir.path()).await;
    assert_eq!(mode(), 0o700, "tightened before anything in it is read");
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_finishes_cleanly_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new();
    let mut server = start(dir.path()).await;
    let response = client
        .post(format!("{}/api/v1/auth/signup", server.base))
        .json(&json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "exit 0 on SIGTERM");
    let restarted = start(dir.path()).await;
    let login = client
        .post(format!("{}/api/v1/auth/login", restarted.base))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
}
