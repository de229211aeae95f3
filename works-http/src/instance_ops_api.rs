//! Operating OpenClaw instances over HTTP: the CLI command inventory and runs,
//! versions and upgrade plans, and assignments to organization users. Each handler is
//! one call into the core.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use works_core::{
    ApprovePlan, AssignInput, Assignment, CliCommand, CliRunInput, Error, Job, Listing, NewUpgradePlan, OpsQuery, UpgradePlan, VersionQuery,
    VersionReport,
};

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openclaw/cli-commands", get(cli_commands))
        .route("/api/v1/instances/{id}/cli-commands", get(instance_cli_commands))
        .route("/api/v1/instances/{id}/cli-runs", get(cli_run_list).post(cli_run))
        .route("/api/v1/instances/{id}/cli-runs/{sub}", get(cli_run_get))
        .route("/api/v1/instances/{id}/versions", get(versions))
        .route("/api/v1/instances/{id}/upgrade-plans", get(plan_list).post(plan_create))
        .route("/api/v1/instances/{id}/upgrade-plans/{sub}", get(plan_get))
        .route("/api/v1/instances/{id}/upgrade-plans/{sub}/approve", post(plan_approve))
        .route("/api/v1/instances/{id}/upgrade-plans/{sub}/cancel", post(plan_cancel))
        .route("/api/v1/instances/{id}/assignments", get(assignment_list).post(assign))
        .route("/api/v1/instances/{id}/assignments/{sub}", axum::routing::delete(unassign))
}

/// The part of the OpenAPI document about operating instances, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(
        cli_commands,
        instance_cli_commands,
        cli_run,
        cli_run_list,
        cli_run_get,
        versions,
        plan_create,
        plan_list,
        plan_get,
        plan_approve,
        plan_cancel,
        assign,
        assignment_list,
        unassign
    ),
    components(schemas(
        works_core::CliClass,
        works_core::Channel,
        works_core::Direction,
        works_core::Eligibility,
        works_core::UpgradePlanState
    )),
    tags((name = "instance operations", description = "OpenClaw CLI commands, versions, upgrade plans and assignments of an instance"))
)]
pub(crate) struct InstanceOpsDoc;

/// The instance id and a second id from the path (`{id}` and `{sub}`).
pub(crate) struct Ids(String, String);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|p| Ids(p.0 .0, p.0 .1))
            .map_err(|_| Error::invalid("id", "is not a valid id").into())
    }
}

/// Every command of the pinned OpenClaw version's CLI: its class (read, creates_state,
/// mutates, destructive), what it does, and whether Anthropy Works runs it.
#[utoipa::path(
    get, path = "/api/v1/openclaw/cli-commands", tag = "instance operations",
    responses((status = 200, description = "Success", body = Vec<CliCommand>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn cli_commands(State(s): State<AppState>, Caller(actor): Caller) -> ApiResult<Vec<CliCommand>> {
    Ok(Json(s.works.openclaw_cli_commands(&actor).await?))
}

/// The same inventory, for one instance the caller can see.
#[utoipa::path(
    get, path = "/api/v1/instances/{id}/cli-commands", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id")),
    responses((status = 200, description = "Success", body = Vec<CliCommand>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn instance_cli_commands(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Vec<CliCommand>> {
    s.works.instance_get(&actor, &id).await?;
    Ok(Json(s.works.openclaw_cli_commands(&actor).await?))
}

/// Runs an allowlisted read command in the instance's gateway container, by inventory
/// id: a safe job for the node's agent (202). A command that is not allowlisted is
/// refused (403) with the reason, and recorded.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/cli-runs", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id")),
    request_body = CliRunInput,
    responses((status = 202, description = "Queued for the node's agent", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn cli_run(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Id(id): Id,
    Json(input): Json<CliRunInput>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    let job = s.works.instance_cli_run(&actor, &id, &input.command_id).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// The commands run in the instance, newest first, with their redacted output.
#[utoipa::path(
    get, path = "/api/v1/instances/{id}/cli-runs", tag = "instance operations",
    params(
        ("id" = String, Path, description = "Instance id"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = Listing<Job>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn cli_run_list(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Query(q): Query<OpsQuery>) -> ApiResult<Listing<Job>> {
    Ok(Json(s.works.instance_cli_runs(&actor, &id, q).await?))
}

/// One command run in the instance.
#[utoipa::path(
    get, path = "/api/v1/instances/{id}/cli-runs/{job_id}", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id"), ("job_id" = String, Path, description = "The run's job id")),
    responses((status = 200, description = "Success", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn cli_run_get(State(s): State<AppState>, Caller(actor): Caller, Ids(id, job_id): Ids) -> ApiResult<Job> {
    Ok(Json(s.works.instance_cli_run_get(&actor, &id, &job_id).await?))
}

/// The instance's current version (from its running container), the pinned and desired
/// versions, and whether it may move to the desired one (or `to_version` on `channel`).
#[utoipa::path(
    get, path = "/api/v1/instances/{id}/versions", tag = "instance operations",
    params(
        ("id" = String, Path, description = "Instance id"),
        ("to_version" = Option<String>, Query, description = "Check this version instead of the desired one"),
        ("channel" = Option<String>, Query, description = "stable (default), extended-stable, beta or dev"),
    ),
    responses((status = 200, description = "Success", body = VersionReport), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn versions(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Query(q): Query<VersionQuery>) -> ApiResult<VersionReport> {
    Ok(Json(s.works.instance_versions(&actor, &id, q).await?))
}

/// Records an upgrade plan (201). It changes nothing: it waits for a person to approve
/// it with its phrase, and approving records the approval only.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/upgrade-plans", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id")),
    request_body = NewUpgradePlan,
    responses((status = 201, description = "Recorded", body = UpgradePlan), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn plan_create(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Id(id): Id,
    Json(input): Json<NewUpgradePlan>,
) -> Result<(StatusCode, Json<UpgradePlan>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.works.upgrade_plan_create(&actor, &id, input).await?)))
}

/// The instance's upgrade plans, newest first.
#[utoipa::path(
    get, path = "/api/v1/instances/{id}/upgrade-plans", tag = "instance operations",
    params(
        ("id" = String, Path, description = "Instance id"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = Listing<UpgradePlan>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn plan_list(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Query(q): Query<OpsQuery>) -> ApiResult<Listing<UpgradePlan>> {
    Ok(Json(s.works.upgrade_plan_list(&actor, &id, q).await?))
}

/// One upgrade plan, with its steps and the phrase that approves it.
#[utoipa::path(
    get, path = "/api/v1/instances/{id}/upgrade-plans/{plan_id}", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id"), ("plan_id" = String, Path, description = "Plan id")),
    responses((status = 200, description = "Success", body = UpgradePlan), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn plan_get(State(s): State<AppState>, Caller(actor): Caller, Ids(id, plan_id): Ids) -> ApiResult<UpgradePlan> {
    Ok(Json(s.works.upgrade_plan_get(&actor, &id, &plan_id).await?))
}

/// Approves a proposed plan: the approver types its `approval_phrase` exactly. This
/// records the approval only; nothing runs and nothing on the node changes. Running an
/// approved plan comes in a later release.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/upgrade-plans/{plan_id}/approve", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id"), ("plan_id" = String, Path, description = "Plan id")),
    request_body = ApprovePlan,
    responses((status = 200, description = "Approval recorded; nothing was run", body = UpgradePlan), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn plan_approve(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Ids(id, plan_id): Ids,
    Json(input): Json<ApprovePlan>,
) -> ApiResult<UpgradePlan> {
    Ok(Json(s.works.upgrade_plan_approve(&actor, &id, &plan_id, input).await?))
}

/// Cancels a proposed or approved plan.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/upgrade-plans/{plan_id}/cancel", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id"), ("plan_id" = String, Path, description = "Plan id")),
    responses((status = 200, description = "Cancelled", body = UpgradePlan), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn plan_cancel(State(s): State<AppState>, Caller(actor): Caller, Ids(id, plan_id): Ids) -> ApiResult<UpgradePlan> {
    Ok(Json(s.works.upgrade_plan_cancel(&actor, &id, &plan_id).await?))
}

/// Assigns the instance to a user of its organization (201): that user then sees it and
/// may run its read commands.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/assignments", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id")),
    request_body = AssignInput,
    responses((status = 201, description = "Assigned", body = Assignment), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn assign(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Id(id): Id,
    Json(input): Json<AssignInput>,
) -> Result<(StatusCode, Json<Assignment>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.works.instance_assign(&actor, &id, input).await?)))
}

/// Who the instance is assigned to. An organization user sees only their own assignment.
#[utoipa::path(
    get, path = "/api/v1/instances/{id}/assignments", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id")),
    responses((status = 200, description = "Success", body = Vec<Assignment>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn assignment_list(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Vec<Assignment>> {
    Ok(Json(s.works.instance_assignments(&actor, &id).await?))
}

/// Ends an assignment (204): the user no longer sees the instance.
#[utoipa::path(
    delete, path = "/api/v1/instances/{id}/assignments/{user_id}", tag = "instance operations",
    params(("id" = String, Path, description = "Instance id"), ("user_id" = String, Path, description = "User id")),
    responses((status = 204, description = "Unassigned"), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn unassign(State(s): State<AppState>, Caller(actor): Caller, Ids(id, user_id): Ids) -> Result<StatusCode, ApiError> {
    s.works.instance_unassign(&actor, &id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
