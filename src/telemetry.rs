//! Logging: `tracing` with a request id per request, and nothing secret in any line.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber with `filter` (e.g. `info`), writing to `sink`.
/// Harmless if one is already installed (tests call it more than once).
pub fn init<W>(filter: &str, sink: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        // One line per finished request, with its status and duration.
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false)
        // Colour only for a terminal, not for files and log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .try_init();
}

/// The root span of a request. Unlike tracing-actix-web's default it records the path without the
/// query string: we never read tokens from the query, but a client might still put one there, and
/// it must not end up in the logs.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().copied();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            request_id = request_id.map(tracing::field::display),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    /// Records the status and any error on the span, and logs a failed request: at ERROR for a
    /// server error, at DEBUG for a client's (an unknown route, a wrong password, a bad body is
    /// the client's mistake, not a server warning; tracing-actix-web's own event logged all of
    /// them at WARN and is turned off in Cargo.toml).
    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
        let (status, error) = match outcome {
            Ok(response) => match response.response().error() {
                Some(error) => (response.status(), error.as_response_error()),
                None => return,
            },
            Err(error) => {
                let error = error.as_response_error();
                (error.status_code(), error)
            }
        };
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %error, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %error, "request refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use actix_web::{test, web, App, HttpResponse};
    use tracing_actix_web::TracingLogger;

    use super::RequestSpan;
    use crate::error::ApiError;

    /// A log sink the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn a_client_error_is_not_a_warning_and_a_server_error_is_an_error() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap(TracingLogger::<RequestSpan>::new())
                .route(
                    "/broken",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(ApiError::internal("disk on fire"))
                    }),
                )
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::NotFound("route"))
                })),
        )
        .await;

        let request = test::TestRequest::get().uri("/nowhere").to_request();
        assert_eq!(test::call_service(&app, request).await.status(), 404);
        let log = captured.text();
        assert!(!log.contains("WARN") && !log.contains("ERROR"), "{log}");
        assert!(log.contains("DEBUG") && log.contains("status=404"), "{log}");

        let request = test::TestRequest::get().uri("/broken").to_request();
        assert_eq!(test::call_service(&app, request).await.status(), 500);
        let log = captured.text();
        assert!(log.contains("ERROR") && log.contains("status=500"), "{log}");
    }
}
