//! One point query, `SELECT id, title, content FROM posts WHERE id = $1`, through each candidate
//! PostgreSQL driver: sqlx 0.8 (`PgPool`, run-time `query_as`) and tokio-postgres 0.7 with
//! deadpool-postgres 0.14 (`prepare_cached`). Each gets the same pool size, the same number of
//! concurrent tasks and the same time, after a warm-up that opens the connections and prepares
//! the statement. Prints one Markdown table: queries/s, p50 and p99 per driver.
//!
//! It creates a scratch database (`blog_bench_drivers`, 10k rows), and drops it at the end.
//!
//! ```text
//! cargo run --release -- [--url postgres://postgres@127.0.0.1:5432] [--seconds 5]
//!                        [--tasks 64] [--pool 16] [--rows 10000]
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

const DB: &str = "blog_bench_drivers";
const QUERY: &str = "SELECT id, title, content FROM posts WHERE id = $1";

type BoxFut = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Op = Arc<dyn Fn(Uuid) -> BoxFut + Send + Sync>;

struct Args {
    url: String,
    seconds: u64,
    tasks: usize,
    pool: usize,
    rows: i64,
}

fn args() -> Args {
    let mut a = Args {
        url: "postgres://postgres@127.0.0.1:5432".into(),
        seconds: 5,
        tasks: 64,
        pool: 16,
        rows: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value.trim_end_matches('/').to_string(),
            "--seconds" => a.seconds = value.parse().expect("--seconds"),
            "--tasks" => a.tasks = value.parse().expect("--tasks"),
            "--pool" => a.pool = value.parse().expect("--pool"),
            "--rows" => a.rows = value.parse().expect("--rows"),
            _ => panic!("unknown option {flag}"),
        }
    }
    a
}

/// Runs `statements` on database `db`, one by one (`DROP DATABASE` cannot share a simple query
/// with another statement), over a one-off tokio-postgres connection.
async fn admin(url: &str, db: &str, statements: &[&str]) -> Result<(), tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(&format!("{url}/{db}"), tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(conn);
    let mut result = Ok(());
    for statement in statements {
        result = client.batch_execute(statement).await;
        if result.is_err() {
            break;
        }
    }
    drop(client);
    let _ = driver.await;
    result
}

struct Measured {
    queries: u64,
    errors: u64,
    seconds: f64,
    latencies_us: Vec<u32>,
}

/// `tasks` tasks, each running `op` on a random id, back to back, for `duration`.
async fn run(op: &Op, ids: &Arc<Vec<Uuid>>, tasks: usize, duration: Duration) -> Measured {
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::with_capacity(tasks);
    for t in 0..tasks {
        let op = op.clone();
        let ids = ids.clone();
        let errors = errors.clone();
        handles.push(tokio::spawn(async move {
            // xorshift64*, seeded per task: the ids hit are spread and differ between tasks.
            let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 0xD1B5_4A32_D192_ED03);
            let mut latencies = Vec::with_capacity(1 << 14);
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
                let id = ids[(r % ids.len() as u64) as usize];
                match op(id).await {
                    Ok(()) => latencies.push(now.elapsed().as_micros().min(u32::MAX as u128) as u32),
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first error: {e}");
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("task panicked"));
    }
    let seconds = start.elapsed().as_secs_f64();
    all.sort_unstable();
    Measured {
        queries: all.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        seconds,
        latencies_us: all,
    }
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[i.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

fn check(expected: Uuid, id: Uuid, title: &str, content: &str) -> Result<(), String> {
    if id != expected || title.is_empty() || content.is_empty() {
        return Err(format!("wrong row for {expected}"));
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let a = args();
    let db_url = format!("{}/{DB}", a.url);

    // Scratch database and table.
    let drop_db = format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)");
    admin(&a.url, "postgres", &[&drop_db, &format!("CREATE DATABASE {DB}")])
        .await
        .expect("create the scratch database (is PostgreSQL on --url reachable?)");
    admin(
        &a.url,
        DB,
        &[&format!(
            "CREATE TABLE posts (id uuid PRIMARY KEY, title text NOT NULL, content text NOT NULL);
             INSERT INTO posts
                 SELECT md5('post-' || i)::uuid, 'Post number ' || i,
                        repeat('Lorem ipsum dolor sit amet, consectetur adipiscing elit. ', 20) || i
                 FROM generate_series(1, {}) AS i;
             ANALYZE posts;",
            a.rows
        )],
    )
    .await
    .expect("fill the scratch table");

    let ids: Arc<Vec<Uuid>> = {
        let (client, conn) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls).await.unwrap();
        let driver = tokio::spawn(conn);
        let rows = client.query("SELECT id FROM posts", &[]).await.unwrap();
        drop(client);
        let _ = driver.await;
        Arc::new(rows.iter().map(|r| r.get::<_, Uuid>(0)).collect())
    };

    let duration = Duration::from_secs(a.seconds);
    let warmup = Duration::from_secs(1);
    let mut results: Vec<(String, Measured)> = Vec::new();

    // sqlx, as blog-api configures it today (PgPoolOptions defaults: test_before_acquire = true,
    // a ping round trip on every acquire), and without that ping.
    for test_before_acquire in [true, false] {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(a.pool as u32)
            .test_before_acquire(test_before_acquire)
            .connect(&db_url)
            .await
            .expect("sqlx pool");
        let op: Op = {
            let pool = pool.clone();
            Arc::new(move |id: Uuid| {
                let pool = pool.clone();
                Box::pin(async move {
                    let (rid, title, content): (Uuid, String, String) = sqlx::query_as::<sqlx::Postgres, (Uuid, String, String)>(QUERY)
                        .bind(id)
                        .fetch_one(&pool)
                        .await
                        .map_err(|e| e.to_string())?;
                    check(id, rid, &title, &content)
                }) as BoxFut
            })
        };
        run(&op, &ids, a.tasks, warmup).await;
        let m = run(&op, &ids, a.tasks, duration).await;
        let name = if test_before_acquire {
            "sqlx 0.8 PgPool (defaults: test_before_acquire)"
        } else {
            "sqlx 0.8 PgPool (test_before_acquire(false))"
        };
        results.push((name.to_string(), m));
        pool.close().await;
    }

    // tokio-postgres + deadpool-postgres (RecyclingMethod::Fast, the default; cached statement).
    {
        let pg: tokio_postgres::Config = db_url.parse().expect("url");
        let manager = deadpool_postgres::Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(a.pool)
            .build()
            .expect("deadpool");
        let op: Op = {
            let pool = pool.clone();
            Arc::new(move |id: Uuid| {
                let pool = pool.clone();
                Box::pin(async move {
                    let client = pool.get().await.map_err(|e| e.to_string())?;
                    let stmt = client.prepare_cached(QUERY).await.map_err(|e| e.to_string())?;
                    let row = client.query_one(&stmt, &[&id]).await.map_err(|e| e.to_string())?;
                    let (rid, title, content): (Uuid, String, String) = (row.get(0), row.get(1), row.get(2));
                    check(id, rid, &title, &content)
                }) as BoxFut
            })
        };
        run(&op, &ids, a.tasks, warmup).await;
        let m = run(&op, &ids, a.tasks, duration).await;
        results.push(("tokio-postgres 0.7 + deadpool-postgres 0.14".to_string(), m));
        pool.close();
    }

    println!(
        "`{QUERY}`, {} rows; {} concurrent tasks, pool of {}, {} s each after a 1 s warm-up; {} CPUs shared with PostgreSQL.\n",
        ids.len(),
        a.tasks,
        a.pool,
        a.seconds,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    );
    println!("| driver | queries/s | p50 ms | p99 ms | errors |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, m) in &results {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} |",
            m.queries as f64 / m.seconds,
            percentile_ms(&m.latencies_us, 50.0),
            percentile_ms(&m.latencies_us, 99.0),
            m.errors,
        );
    }

    admin(&a.url, "postgres", &[&drop_db])
        .await
        .expect("drop the scratch database");
}
