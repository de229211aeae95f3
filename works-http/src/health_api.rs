//! The health answer over HTTP: `GET /api/v1/health`, acknowledging an issue, and the
//! Prometheus text at `GET /metrics`.
//!
//! `/metrics` tells fleet counts, so it asks for a bearer token of an MSP admin or
//! operator, like the rest of the API. Set `WORKS_METRICS_PUBLIC=1` on the server to
//! open it to anyone who can reach it (for a scraper on a private network).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use works_core::{AcknowledgeIssue, Actor, HealthIssue, HealthReport, HistoryQuery, MetricHistory};

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{credential, Caller, Credential, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The content type of the Prometheus text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/health/issues/{id}/acknowledge", post(health_acknowledge))
        .route("/api/v1/metrics/history", get(metrics_history))
        .route("/metrics", get(metrics))
}

/// The part of the OpenAPI document about system health, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(health, health_acknowledge, metrics_history, metrics),
    components(schemas(works_core::HealthState, works_core::HealthAck, works_core::MetricSample, works_core::FleetCounts)),
    tags((name = "health", description = "Liveness, readiness, version and the health answer"))
)]
pub(crate) struct HealthDoc;

/// The one answer — `healthy`, `degraded` or `critical` — with its current issues,
/// the reviewed ones and those of test and validation records, for what the caller
/// may see.
#[utoipa::path(
    get, path = "/api/v1/health", tag = "health",
    responses((status = 200, description = "Success", body = HealthReport), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn health(State(s): State<AppState>, Caller(actor): Caller) -> ApiResult<HealthReport> {
    Ok(Json(s.works.health(&actor).await?))
}

/// Acknowledges a current issue with a note: it moves to the reviewed list until its
/// condition changes. An issue the caller cannot see answers 404.
#[utoipa::path(
    post, path = "/api/v1/health/issues/{id}/acknowledge", tag = "health",
    params(("id" = String, Path, description = "Issue id, e.g. `node-offline:<node id>`")),
    request_body = AcknowledgeIssue,
    responses((status = 200, description = "Success", body = HealthIssue), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn health_acknowledge(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Id(id): Id,
    Json(input): Json<AcknowledgeIssue>,
) -> ApiResult<HealthIssue> {
    Ok(Json(s.works.health_acknowledge(&actor, &id, &input.note).await?))
}

/// The sampled history of the health answer and fleet counts (organizations, nodes by
/// status, jobs by state, OpenClaw instances by health), oldest first. Samples are taken
/// every minute by the server's background monitor and kept for seven days. MSP roles.
#[utoipa::path(
    get, path = "/api/v1/metrics/history", tag = "health",
    params(("hours" = Option<u32>, Query, description = "How many hours back, 1 to 168 (default 24)")),
    responses((status = 200, description = "Success", body = MetricHistory), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn metrics_history(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<HistoryQuery>) -> ApiResult<MetricHistory> {
    Ok(Json(s.works.metrics_history(&actor, q).await?))
}

/// Prometheus text: `works_health_state` (0 healthy, 1 degraded, 2 critical),
/// `works_nodes{status}`, `works_jobs{state}`, `works_orgs`, `works_users`,
/// `works_audit_records`, `works_build_info{version,commit}`. Needs a bearer token of
/// an MSP role unless the server runs with `WORKS_METRICS_PUBLIC=1`.
#[utoipa::path(
    get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain"), CommonErrors),
    security(("bearer" = []), ())
)]
pub(crate) async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let actor = if s.config.metrics_public {
        Actor::system()
    } else {
        match credential(&headers) {
            Credential::Bearer(secret) => s.works.authenticate(secret).await?,
            _ => {
                return Err(works_core::Error::unauthenticated(
                    "Send a token of an MSP admin or operator as `Authorization: Bearer <token>`, or start the server with WORKS_METRICS_PUBLIC=1.",
                )
                .into())
            }
        }
    };
    let m = s.works.metrics(&actor).await?;
    let body = m.to_prometheus(&s.config.version, &s.config.commit);
    Ok(([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], body).into_response())
}
