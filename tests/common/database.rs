//! A PostgreSQL database of one test's own, shared by the test binaries (`tests/api`,
//! `tests/store`) through `#[path]`: created empty, dropped with the test.

use sqlx::Connection as _;

/// The PostgreSQL server tests run on (`BLOG_TEST_DATABASE_URL`, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`); without it, the embedded engine only.
pub fn test_database_url() -> Option<String> {
    std::env::var("BLOG_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// A database on the test server, dropped (`WITH (FORCE)`) on drop.
pub struct TestDatabase {
    server: String,
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// `blog_test_<uuid>`.
    pub async fn create(server: &str) -> Self {
        let name = format!("blog_test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = sqlx::postgres::PgConnection::connect(server)
            .await
            .expect("BLOG_TEST_DATABASE_URL accepts connections");
        sqlx::Executor::execute(&mut connection, format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("a test database can be created");
        let (base, _) = server
            .rsplit_once('/')
            .expect("BLOG_TEST_DATABASE_URL ends in /<database>");
        Self {
            server: server.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // On a thread of its own with a runtime of its own: drop may run inside a runtime.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async move {
                    let mut connection = sqlx::postgres::PgConnection::connect(&server).await?;
                    sqlx::Executor::execute(
                        &mut connection,
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                    )
                    .await
                    .map(|_| ())
                })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}
