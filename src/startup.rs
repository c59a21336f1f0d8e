//! `Application::build`: everything between validated settings and a listening server. `main`
//! and the tests both use it, so tests run what users run.

use std::net::{SocketAddr, TcpListener};

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::{header, Method};
use actix_web::middleware::Compress;
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::auth::{password, TokenKeys};
use crate::config::Settings;
use crate::error::ApiError;
use crate::store::Store;
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
}

/// A bound, ready-to-run server.
pub struct Application {
    address: SocketAddr,
    server: Server,
}

impl Application {
    /// Loads keys, binds the listener (port 0 picks a free one) and builds the app.
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        let keys = web::Data::new(TokenKeys::from_settings(&settings).map_err(StartupError::Keys)?);
        let store = web::Data::new(Store::ephemeral());
        let address = settings.listen.clone();
        let listen_error = |source| StartupError::Listen {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.listen).map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        // The dummy hash that equalises login timing is made now, not during a first login.
        password::warm_up();

        let workers = settings
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
        let cors_origins = settings.cors_origins.clone();
        let settings = web::Data::new(settings);
        let server = HttpServer::new(move || {
            App::new()
                .wrap(Compress::default())
                .wrap(cors(&cors_origins))
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(store.clone())
                .app_data(keys.clone())
                .app_data(settings.clone())
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, _| ApiError::NotFound("resource").into()),
                )
                .app_data(web::QueryConfig::default().error_handler(|error, _| {
                    ApiError::InvalidInput(format!("bad query string: {error}")).into()
                }))
                .configure(crate::openapi::configure)
                .configure(crate::routes::configure)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::NotFound("route"))
                }))
        })
        .workers(workers)
        .listen(listener)
        .map_err(listen_error)?
        .run();
        Ok(Self { address, server })
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

    /// Serves until stopped (SIGINT/SIGTERM finish in-flight requests first).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
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
