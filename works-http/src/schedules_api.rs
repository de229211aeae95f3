//! Schedules over HTTP: `/api/v1/schedules` and `/api/v1/schedules/{id}`. Each handler
//! is one call into the core.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use works_core::{Listing, NewSchedule, Schedule, ScheduleQuery, ScheduleUpdate};

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schedules", get(schedule_list).post(schedule_create))
        .route("/api/v1/schedules/{id}", get(schedule_get).patch(schedule_update).delete(schedule_delete))
}

/// The part of the OpenAPI document about schedules, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(schedule_list, schedule_create, schedule_get, schedule_update, schedule_delete),
    components(schemas(works_core::ScheduleTarget, works_core::JobKind, works_core::RunMode)),
    tags((name = "schedules", description = "Workflow runs and read-only node work started by a cron expression in a time zone; a schedule never approves anything")),
)]
pub(crate) struct SchedulesDoc;

/// Schedules the caller may see: organization users their own, organization admins
/// their organization's, MSP roles all. By name.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", params(ScheduleQuery), responses((status = 200, description = "Success", body = Listing<Schedule>), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn schedule_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<ScheduleQuery>) -> ApiResult<Listing<Schedule>> {
    Ok(Json(s.works.schedule_list(&actor, q).await?))
}

/// Adds a schedule: a workflow run (simulation or live) or read-only node work
/// (health_check, logs, inventory_refresh), with a five-field cron expression read in an
/// IANA time zone. Risky work cannot be scheduled.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = NewSchedule, responses((status = 201, description = "Created", body = Schedule), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn schedule_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewSchedule>) -> Created<Schedule> {
    Ok((StatusCode::CREATED, Json(s.works.schedule_create(&actor, input).await?)))
}

/// One schedule, with its next fire time and what its last fire did.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules", params(("id" = String, Path, description = "Schedule id")), responses((status = 200, description = "Success", body = Schedule), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn schedule_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Schedule> {
    Ok(Json(s.works.schedule_get(&actor, &id).await?))
}

/// Changes the name, cron expression or time zone, or enables/disables; fields left out
/// stay as they are. The next fire time is worked out again from now.
#[utoipa::path(patch, path = "/api/v1/schedules/{id}", tag = "schedules", params(("id" = String, Path, description = "Schedule id")), request_body = ScheduleUpdate, responses((status = 200, description = "Success", body = Schedule), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn schedule_update(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<ScheduleUpdate>) -> ApiResult<Schedule> {
    Ok(Json(s.works.schedule_update(&actor, &id, input).await?))
}

/// Deletes a schedule; the runs and jobs it started stay on record.
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "schedules", params(("id" = String, Path, description = "Schedule id")), responses((status = 200, description = "Deleted", body = Schedule), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn schedule_delete(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Schedule> {
    Ok(Json(s.works.schedule_delete(&actor, &id).await?))
}
