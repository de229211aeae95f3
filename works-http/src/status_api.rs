//! The executive status summary over HTTP: `GET /api/v1/status-summary` answers the
//! health answer, counts, recent incidents and OpenClaw versions of what the caller may
//! see. Read-only; the same summary the printable page `/ui/status` shows.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use works_core::StatusSummary;

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Json};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/status-summary", get(status_summary))
}

/// The part of the OpenAPI document about the status summary, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(status_summary),
    components(schemas(works_core::StatusSummary, works_core::StatusCounts, works_core::StatusIncident, works_core::VersionCount)),
    tags((name = "status", description = "The executive status summary of the fleet"))
)]
pub(crate) struct StatusDoc;

/// The status of the caller's scope: MSP roles the whole fleet; an organization admin
/// their organization; an organization user the instances assigned to them and their
/// own workflows. Counts of organizations, nodes (online, gone quiet, offline, waiting),
/// OpenClaw instances (healthy, not healthy, other), jobs failed in the last 24 hours
/// and runs waiting for approval; the current incidents in plain English, newest first;
/// the OpenClaw versions in use. Changes nothing.
#[utoipa::path(
    get, path = "/api/v1/status-summary", tag = "status",
    responses((status = 200, description = "Success", body = StatusSummary), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn status_summary(State(s): State<AppState>, Caller(actor): Caller) -> Result<Json<StatusSummary>, ApiError> {
    Ok(Json(s.works.status_summary(&actor).await?))
}
