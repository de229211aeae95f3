//! # works-http
//!
//! The HTTP adapter of Anthropy Works: the JSON API under `/api/v1` (with its OpenAPI
//! document at `/api/v1/openapi.json`), liveness and readiness, and the server-rendered
//! web UI. Every handler is one call into [`works_core::Works`]; tenancy, validation and
//! audit are decided there.
//!
//! ```no_run
//! # async fn run(works: works_core::Works) -> std::io::Result<()> {
//! let router = works_http::router(works, works_http::HttpConfig::from_env());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! works_http::serve(listener, router).await
//! # }
//! ```
//!
//! Credentials: `Authorization: Bearer <token>` (a session token from
//! `/api/v1/auth/login` or an API token), or the browser session cookie `works_session`
//! set by the sign-in form. A cookie-authenticated request that changes state must carry
//! its CSRF token (`X-CSRF-Token` header, or the `csrf_token` form field).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod agent_api;
mod alerts_api;
mod api;
pub mod error;
pub mod extract;
mod fleet_api;
mod health_api;
mod instance_api;
mod instance_ops_api;
mod map_api;
mod status_api;
mod layout_api;
mod ssh_api;
mod policy_api;
mod schedules_api;
pub mod openapi;
mod ui;

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use works_core::{Error, Works};

pub use error::ApiError;

/// The commit this crate was built from (`git rev-parse --short HEAD` at build time), or `unknown`.
pub const BUILD_COMMIT: &str = env!("WORKS_BUILD_COMMIT");

/// Settings of the HTTP adapter.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Shown by `GET /api/v1/version`.
    pub version: String,
    /// Shown by `GET /api/v1/version`.
    pub commit: String,
    /// Mark the session cookies `Secure` (serve over HTTPS, or behind a proxy that does).
    pub secure_cookies: bool,
    /// Serve `GET /metrics` without a token (`WORKS_METRICS_PUBLIC=1`). Off by default:
    /// the metrics tell fleet counts.
    pub metrics_public: bool,
}

impl HttpConfig {
    /// The version of this build; the commit from `ANTHROPY_VERSION` when it is set and
    /// not empty (release builds made outside git set it), otherwise the commit recorded
    /// at build time. Cookies are not marked `Secure`: set `secure_cookies` when serving
    /// over HTTPS.
    pub fn from_env() -> Self {
        HttpConfig {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            commit: commit_from(std::env::var("ANTHROPY_VERSION").ok()),
            secure_cookies: false,
            metrics_public: metrics_public_from(std::env::var("WORKS_METRICS_PUBLIC").ok()),
        }
    }
}

/// Whether `WORKS_METRICS_PUBLIC` opens `/metrics`: `1`, `true` or `yes`.
pub fn metrics_public_from(value: Option<String>) -> bool {
    matches!(value.as_deref().map(str::trim), Some("1" | "true" | "yes"))
}

/// The commit to report: an override when given and not blank, else [`BUILD_COMMIT`].
pub fn commit_from(override_value: Option<String>) -> String {
    override_value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).unwrap_or_else(|| BUILD_COMMIT.to_owned())
}

/// What every handler is given.
#[derive(Clone)]
pub struct AppState {
    pub works: Works,
    pub config: Arc<HttpConfig>,
}

/// The whole application: JSON API, OpenAPI document, health routes and web UI, with
/// request logging, panic recovery and security headers.
pub fn router(works: Works, config: HttpConfig) -> Router {
    let state = AppState { works, config: Arc::new(config) };
    let routes = api::routes().merge(fleet_api::routes()).merge(health_api::routes()).merge(instance_api::routes()).merge(instance_ops_api::routes()).merge(ssh_api::routes()).merge(policy_api::routes()).merge(schedules_api::routes()).merge(agent_api::routes()).merge(alerts_api::routes()).merge(map_api::routes()).merge(status_api::routes()).merge(layout_api::routes()).merge(ui::routes()).fallback(fallback).method_not_allowed_fallback(method_not_allowed);
    with_middleware(routes.with_state(state))
}

/// Serves `router` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service()).await
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests
/// in flight (agents waiting for work are answered "no work" at once).
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shutdown = async move {
        shutdown.await;
        agent_api::end_long_polls();
    };
    // As a make-service, each connection shares the one router; served as a plain
    // `Router`, axum rebuilds every route per connection (about half a megabyte each,
    // which a fleet of agents keeping connections open turns into gigabytes).
    axum::serve(listener, router.into_make_service()).with_graceful_shutdown(shutdown).await
}

fn with_middleware(router: Router) -> Router {
    let trace = TraceLayer::new_for_http()
        // The path only: no query string, no headers, no body — nothing that could hold a secret.
        .make_span_with(|req: &Request<Body>| {
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    router
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(trace)
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

async fn fallback(method: Method, uri: Uri) -> Response {
    if is_api(uri.path()) {
        ApiError(Error::not_found("API route", format!("{method} {}", uri.path()))).into_response()
    } else {
        ui::not_found_page(uri.path())
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let error = Error::invalid("method", format!("{method} is not allowed on {}", uri.path()));
    let mut response = if is_api(uri.path()) { ApiError(error).into_response() } else { ui::error_page(&error, None) };
    *response.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    response
}

fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    // The panic message may hold request data; it is not echoed to the client.
    tracing::error!("a request handler panicked; the server keeps running");
    ApiError(Error::internal("The server hit an unexpected problem while answering this request.")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_json_and_the_service_lives_on() {
        let app = with_middleware(
            Router::new().route("/boom", get(|| async {
                if true {
                    panic!("boom");
                }
                "unreachable"
            })).route("/fine", get(|| async { "fine" })),
        );
        let r = app.clone().oneshot(Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(r.status(), 500);
        let body: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap()).unwrap();
        assert_eq!(body["error"]["kind"], "internal");
        let r = app.oneshot(Request::get("/fine").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(r.status(), 200);
    }

    #[test]
    fn the_commit_override_wins_when_set() {
        assert_eq!(commit_from(Some("abc123".into())), "abc123");
        assert_eq!(commit_from(Some("  ".into())), BUILD_COMMIT);
        assert_eq!(commit_from(None), BUILD_COMMIT);
        assert!(!BUILD_COMMIT.is_empty());
    }
}
