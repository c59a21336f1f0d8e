//! `Application::build`: everything between validated settings and a listening server. `main`
//! and the tests both use it, so tests run what users run.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::{header, Method};
use actix_web::middleware::{from_fn, Compress, Condition};
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::auth::{
    auth_rate_limit, password, LoginThrottle, PasswordHasher, SessionPolicy, TokenKeys,
    TrustedProxies,
};
use crate::config::{AdminAccount, Settings, Storage};
use crate::domain::{Email, Password, Role, Username};
use crate::error::ApiError;
use crate::http::extract::{close_after_unread_body, BodyDeadline};
use crate::http::middleware::{cors_refusal_as_problem, security_headers};
use crate::store::{JournalError, NewUser, Store};
use crate::telemetry::RequestSpan;

/// Why the server could not start. `Display` is the one line `main` prints.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("BLOG_LISTEN: cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("signing keys: {0}")]
    Keys(String),
    #[error("BLOG_DATA_DIR: {0}")]
    Store(#[from] JournalError),
    #[error("BLOG_DATA_DIR {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("BLOG_ADMIN_{field}: {reason}")]
    Admin { field: &'static str, reason: String },
    #[error("BLOG_DATABASE_URL: {0}")]
    Database(String),
}

/// A bound, ready-to-run server.
pub struct Application {
    address: SocketAddr,
    server: Server,
    store: web::Data<Store>,
}

impl Application {
    /// Loads keys, creates the admin account if configured, binds the listener (port 0 picks a
    /// free one) and builds the app.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        if settings.storage == Storage::Disk {
            // Made private before anything in it is read: the JWT secret, the keys, the journal.
            crate::data_dir::create_private_dir(&settings.data_dir).map_err(|source| {
                StartupError::DataDir {
                    path: settings.data_dir.display().to_string(),
                    source,
                }
            })?;
        }
        let keys = web::Data::new(TokenKeys::from_settings(&settings).map_err(StartupError::Keys)?);
        if keys.external().is_some() {
            // The external issuer's keys are fetched in the background: an issuer that is down
            // must not stop us from starting (its tokens fetch again when they come).
            let keys = keys.clone();
            actix_web::rt::spawn(async move {
                if let Some(external) = keys.external() {
                    tracing::info!(
                        issuer = external.issuer(),
                        "accepting the external issuer's tokens"
                    );
                    external.prime().await;
                }
            });
        }
        let store = match settings.storage {
            Storage::Memory => Store::ephemeral(),
            Storage::Disk => Store::open(&settings.data_dir, settings.journal_compact_bytes)?,
            Storage::Postgres => connect_postgres(&settings).await?,
        };
        let store = web::Data::new(store.with_session_cap(settings.sessions_per_account));
        if let Some(admin) = &settings.admin {
            ensure_admin(&store, admin).await?;
        }
        let limits = &settings.limits;
        let hasher = web::Data::new(PasswordHasher::new(
            limits.hash_concurrency,
            limits.hash_queue,
        ));
        let throttle = LoginThrottle::new(
            limits.login_failure_limit,
            limits.login_lockout,
            limits.login_account_failures_per_hour,
        );
        // Several servers on one database count failed logins together.
        let throttle = web::Data::new(match store.postgres() {
            Some(postgres) => throttle.in_database(postgres.pool().clone()),
            None => throttle,
        });
        let rate_limit = auth_rate_limit(limits);
        let html = web::Data::new(crate::routes::posts::RenderedHtml::default());
        spawn_sweeper(store.clone(), throttle.clone(), settings.sweep_interval);
        let address = settings.listen.clone();
        let listen_error = |source| StartupError::Listen {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.listen).map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        let site = web::Data::new(crate::routes::feed::SiteUrl(
            settings
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{address}")),
        ));
        // The dummy hash that equalises login timing is made now, not during a first login.
        password::warm_up();

        let workers = settings
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
        let cors_origins = settings.cors_origins.clone();
        let body_deadline = BodyDeadline(settings.limits.body_timeout);
        // Handlers get the one policy they need, never the settings (secrets included).
        let session_policy = web::Data::new(SessionPolicy::new(settings.refresh_token_ttl));
        let trusted_proxies = web::Data::new(TrustedProxies::new(&settings.limits.trusted_proxies));
        let password_policy = web::Data::new(settings.password_policy);
        let realworld = web::Data::new(crate::routes::realworld::TokenLifetime(
            settings.realworld_token_ttl,
        ));
        let metrics = settings.metrics;
        let own_store = store.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(Compress::default())
                .wrap(cors(&cors_origins))
                .wrap(from_fn(cors_refusal_as_problem))
                .wrap(TracingLogger::<RequestSpan>::new())
                .wrap(from_fn(security_headers))
                // Counts and times every answer; with `BLOG_METRICS` off it only passes through.
                .wrap(Condition::new(
                    metrics,
                    from_fn(crate::metrics::record_request),
                ))
                // Outermost, so that no answer (not even a refused preflight) leaves an unread
                // body draining for as long as its client trickles it.
                .wrap(from_fn(close_after_unread_body))
                .app_data(body_deadline)
                .app_data(store.clone())
                .app_data(keys.clone())
                .app_data(session_policy.clone())
                .app_data(trusted_proxies.clone())
                .app_data(password_policy.clone())
                .app_data(realworld.clone())
                .app_data(hasher.clone())
                .app_data(throttle.clone())
                .app_data(html.clone())
                .app_data(site.clone())
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, _| ApiError::NotFound("resource").into()),
                )
                .app_data(web::QueryConfig::default().error_handler(|error, _| {
                    ApiError::InvalidInput(format!("bad query string: {error}")).into()
                }))
                // The API first: actix tries resources in order, and Swagger UI's `/docs/{_:.*}`
                // is a regex that every API request would otherwise be matched against first
                // (it showed in a profile of GET /api/v1/posts/{id}).
                .configure(crate::openapi::configure_document)
                .configure(|cfg| crate::routes::configure(cfg, &rate_limit))
                .configure(|cfg| {
                    if metrics {
                        crate::metrics::configure(cfg);
                    }
                })
                .configure(crate::openapi::configure)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::NotFound("route"))
                }))
        })
        .workers(workers)
        // SIGTERM: stop accepting, let in-flight requests finish (every acknowledged write is
        // already on disk), then exit. SIGINT and SIGQUIT: actix-web's forced stop, at once.
        .shutdown_timeout(10)
        .listen(listener)
        .map_err(listen_error)?
        .run();
        Ok(Self {
            address,
            server,
            store: own_store,
        })
    }

    /// The address actually bound (with the real port when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM lets in-flight requests finish first; SIGINT and SIGQUIT
    /// do not), then tells the store it no longer serves (see [`Store::stopped_serving`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.store.stopped_serving().await;
        served
    }
}

/// Creates the configured admin account unless its username or email exists already. Admins are
/// made only here, never by signing up.
/// Removes what expired from memory every `interval`, off the request path: sessions past
/// their refresh token's expiry, and failed-login entries whose window has passed.
fn spawn_sweeper(store: web::Data<Store>, throttle: web::Data<LoginThrottle>, interval: Duration) {
    actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(interval);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            // A database that does not answer now is asked again at the next tick.
            let sessions = store.sweep_sessions().await.unwrap_or(0);
            let throttled = throttle.sweep().await;
            if sessions + throttled > 0 {
                tracing::info!(sessions, throttled, "swept expired entries");
            }
        }
    });
}

/// The PostgreSQL engine of `BLOG_DATABASE_URL`: connected, its schema applied, or one clear
/// error within the connect timeout (never a hang).
async fn connect_postgres(settings: &Settings) -> Result<Store, StartupError> {
    use secrecy::ExposeSecret as _;
    let url = settings
        .database_url
        .as_ref()
        .ok_or_else(|| StartupError::Database("not set".into()))?;
    let options = crate::store::postgres::PgOptions {
        pool_size: settings.database_pool_size,
        cache_entries: settings.database_cache_entries,
        ..Default::default()
    };
    let timeout = options.acquire_timeout + Duration::from_secs(3);
    match actix_web::rt::time::timeout(
        timeout,
        crate::store::postgres::Postgres::connect(url.expose_secret(), &options),
    )
    .await
    {
        Ok(Ok(store)) => Ok(store.into()),
        Ok(Err(error)) => Err(StartupError::Database(error.to_string())),
        Err(_) => Err(StartupError::Database(format!(
            "no answer within {} s",
            timeout.as_secs()
        ))),
    }
}

async fn ensure_admin(store: &Store, admin: &AdminAccount) -> Result<(), StartupError> {
    let invalid = |field, reason| StartupError::Admin { field, reason };
    let username = Username::parse(&admin.username).map_err(|e| invalid("USERNAME", e))?;
    let email = Email::parse(&admin.email).map_err(|e| invalid("EMAIL", e))?;
    let password = Password::parse(admin.password.clone(), &[username.as_str(), email.as_str()])
        .map_err(|e| invalid("PASSWORD", e))?;
    let password_hash = PasswordHasher::hash_now(&password).map_err(|e| invalid("PASSWORD", e))?;
    let user = NewUser {
        username,
        email,
        name: None,
        role: Role::Admin,
        password_hash,
    };
    let created = store
        .ensure_user(user)
        .await
        .map_err(|error| StartupError::Database(error.to_string()))?;
    if created {
        tracing::info!(username = %admin.username, "created the admin account");
    } else {
        tracing::info!(username = %admin.username, "the admin account's username or email exists; left as it is");
    }
    Ok(())
}

/// CORS for the configured origins, so a frontend elsewhere can send `Authorization` and JSON.
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}
