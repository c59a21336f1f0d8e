//! The blog-api server: load config, start logging, serve.
//!
//! `blog-api copy-store --from <data dir> --to <postgres url>` instead copies a blog from the
//! embedded engine's data directory into an empty PostgreSQL database, and exits.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use blog_api::config::Settings;
use blog_api::startup::Application;
use blog_api::store::postgres::{PgOptions, Postgres};
use blog_api::store::Embedded;
use blog_api::telemetry;

const COPY_USAGE: &str = "usage: blog-api copy-store --from <data dir> [--to <postgres url>] \
     (without --to, BLOG_DATABASE_URL: keeps a password off the command line)";

#[actix_web::main]
async fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|command| command == "copy-store") {
        return copy_store(args.collect()).await;
    }
    serve().await
}

async fn serve() -> ExitCode {
    if let Err(error) = dotenvy::dotenv() {
        if !error.not_found() {
            eprintln!("error: .env: {error}");
            return ExitCode::FAILURE;
        }
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(&settings.log, std::io::stdout);
    let application = match Application::build(settings).await {
        Ok(application) => application,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(address = %application.address(), "blog-api listening");
    match application.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `blog-api copy-store`: one summary line and 0 once copied; one `error:` line and 1 when
/// nothing was copied; the usage and 2 for arguments it does not understand. It reads no
/// settings: the two arguments are all it needs.
async fn copy_store(args: Vec<OsString>) -> ExitCode {
    let (from, to) = match copy_args(args) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{COPY_USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("error: {why}");
            eprintln!("{COPY_USAGE}");
            return ExitCode::from(2);
        }
    };
    // Warnings only (say, a data directory made private on the way); the outcome is the one
    // line below.
    telemetry::init("warn", std::io::stderr);
    match copy(&from, &to).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `--from <data dir> --to <postgres url>`, in either order (`--to` defaults to
/// `BLOG_DATABASE_URL`); `None` for `--help`.
fn copy_args(args: Vec<OsString>) -> Result<Option<(PathBuf, String)>, String> {
    let (mut from, mut to) = (None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let slot = match arg.to_str() {
            Some("--from") => &mut from,
            Some("--to") => &mut to,
            Some("-h" | "--help") => return Ok(None),
            // Not echoed: a misplaced URL would put its password in the terminal and the logs.
            _ => return Err("unexpected argument".to_owned()),
        };
        let name = arg.to_string_lossy();
        let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
        if slot.replace(value).is_some() {
            return Err(format!("{name} is given twice"));
        }
    }
    let from = PathBuf::from(from.ok_or("--from is missing")?);
    let to = match to {
        Some(to) => to
            .into_string()
            .map_err(|_| "--to is not valid UTF-8".to_owned())?,
        None => std::env::var("BLOG_DATABASE_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
            .ok_or("--to is missing and BLOG_DATABASE_URL is not set")?,
    };
    Ok(Some((from, to)))
}

/// Opens the data directory (taking its lock, so not while a server uses it), connects to the
/// database (applying the schema) and copies: the summary, or why nothing was copied.
async fn copy(from: &Path, to: &str) -> Result<impl std::fmt::Display, String> {
    if !Embedded::holds_data(from) {
        return Err(format!(
            "{}: not a blog-api data directory (it has no journal or snapshot)",
            from.display()
        ));
    }
    let source = Embedded::open(from, u64::MAX).map_err(|error| error.to_string())?;
    // One short-lived writer: no read cache, so no listener.
    let options = PgOptions {
        cache_entries: 0,
        ..PgOptions::default()
    };
    // As at startup: an unreachable database is an error in seconds, not a hang.
    let timeout = options.acquire_timeout + Duration::from_secs(3);
    let target = actix_web::rt::time::timeout(timeout, Postgres::connect(to, &options))
        .await
        .map_err(|_| {
            format!(
                "cannot reach the database: no answer within {} s",
                timeout.as_secs()
            )
        })?
        .map_err(|error| error.to_string())?;
    target
        .import_from(&source)
        .await
        .map_err(|error| error.to_string())
}
