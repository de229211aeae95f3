//! OpenClaw instances over HTTP: `/api/v1/instances` is the collection (managed and
//! discovered). Each handler is one call into the core.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use works_core::{DeployInput, Deployment, Instance, InstanceQuery, Job, Listing, LogsInput, ReadinessInput, TakeoverInput};

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/instances", get(instance_list).post(instance_deploy))
        .route("/api/v1/instances/{id}", get(instance_get))
        .route("/api/v1/instances/{id}/takeover", post(instance_takeover))
        .route("/api/v1/instances/{id}/health-checks", post(instance_health_check))
        .route("/api/v1/instances/{id}/logs", post(instance_logs))
        .route("/api/v1/instances/{id}/restart", post(instance_restart))
        .route("/api/v1/instances/{id}/remove", post(instance_remove))
        .route("/api/v1/nodes/{id}/openclaw-readiness", post(node_openclaw_readiness))
}

/// The part of the OpenAPI document about OpenClaw instances, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(instance_list, instance_get, instance_takeover, instance_deploy, instance_health_check, instance_logs, instance_restart, instance_remove, node_openclaw_readiness),
    components(schemas(works_core::InstanceState, DeployInput, Deployment, LogsInput, works_core::InstanceHealth, works_core::ComponentStatus, works_core::Probe, works_core::ReadinessInput, works_core::Readiness, works_core::ReadinessCheck)),
    tags((name = "instances", description = "OpenClaw instances: managed, and discovered on nodes"))
)]
pub(crate) struct InstanceDoc;

/// Instances the caller can see, managed first. MSP roles see all, an organization
/// admin their organization's, an organization user none (assignments come later).
#[utoipa::path(
    get, path = "/api/v1/instances", tag = "instances",
    params(
        ("node_id" = Option<String>, Query, description = "Only instances on this node"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = Listing<Instance>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn instance_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<InstanceQuery>) -> ApiResult<Listing<Instance>> {
    Ok(Json(s.works.instance_list(&actor, q).await?))
}

/// One instance. A discovered one carries the `takeover_phrase` an approver types.
#[utoipa::path(
    get, path = "/api/v1/instances/{id}", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    responses((status = 200, description = "Success", body = Instance), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn instance_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Instance> {
    Ok(Json(s.works.instance_get(&actor, &id).await?))
}

/// Takes over a discovered instance: an approver types its `takeover_phrase` exactly.
/// Only the record changes; the container is not restarted or changed and nothing is
/// sent to the agent. A wrong phrase or role is refused and recorded.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/takeover", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    request_body = TakeoverInput,
    responses((status = 200, description = "Success", body = Instance), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn instance_takeover(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<TakeoverInput>) -> ApiResult<Instance> {
    Ok(Json(s.works.instance_takeover(&actor, &id, input).await?))
}

/// Requests OpenClaw on a node: a new instance (`deploying`) and a deploy job waiting for
/// a person to type its `approval_phrase` (approve it at `/api/v1/jobs/{id}/approve`).
/// The gateway token is generated and sealed at rest; it is never shown.
#[utoipa::path(
    post, path = "/api/v1/instances", tag = "instances",
    request_body = DeployInput,
    responses((status = 201, description = "Requested", body = Deployment), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn instance_deploy(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<DeployInput>) -> Created<Deployment> {
    Ok((StatusCode::CREATED, Json(s.works.instance_deploy(&actor, input).await?)))
}

/// Asks the node's agent for the instance's health: its containers, `/healthz` and
/// `/readyz`. The answer lands on the job and on the instance.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/health-checks", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    responses((status = 201, description = "Requested", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn instance_health_check(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> Created<Job> {
    Ok((StatusCode::CREATED, Json(s.works.instance_health_check(&actor, &id).await?)))
}

/// Asks the node's agent for the last lines of the gateway's output, redacted.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/logs", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    request_body = LogsInput,
    responses((status = 201, description = "Requested", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn instance_logs(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<LogsInput>) -> Created<Job> {
    Ok((StatusCode::CREATED, Json(s.works.instance_logs(&actor, &id, input).await?)))
}

/// Requests a gateway restart: a job waiting for a person to type its phrase. Health is
/// checked again after the restart.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/restart", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    responses((status = 201, description = "Requested", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn instance_restart(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> Created<Job> {
    Ok((StatusCode::CREATED, Json(s.works.instance_restart(&actor, &id).await?)))
}

/// Requests removal: once a person types the phrase, the agent stops and deletes the
/// instance's containers and keeps its volumes.
#[utoipa::path(
    post, path = "/api/v1/instances/{id}/remove", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    responses((status = 201, description = "Requested", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn instance_remove(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> Created<Job> {
    Ok((StatusCode::CREATED, Json(s.works.instance_remove(&actor, &id).await?)))
}

/// Asks the node's agent whether OpenClaw can be deployed there: Docker answers, the
/// image is present, the port is free, disk and memory suffice. The answer (a
/// `Readiness`, under `result.readiness`) lands on the job.
#[utoipa::path(
    post, path = "/api/v1/nodes/{id}/openclaw-readiness", tag = "instances",
    params(("id" = String, Path, description = "Node id")),
    request_body = ReadinessInput,
    responses((status = 201, description = "Requested", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn node_openclaw_readiness(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<ReadinessInput>) -> Created<Job> {
    Ok((StatusCode::CREATED, Json(s.works.node_openclaw_readiness(&actor, &id, input).await?)))
}
