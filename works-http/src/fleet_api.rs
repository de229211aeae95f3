//! The JSON API of nodes and jobs under `/api/v1`. Each handler is one call into the
//! core: tenancy, validation, state rules and audit are decided there.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use works_core::{
    ApproveJob, Container, EnrollmentToken, Job, JobQuery, Listing, NewJob, NewNode, Node, NodeQuery, RenameNode,
};

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/nodes", get(node_list).post(node_create))
        .route("/api/v1/nodes/{id}", get(node_get).patch(node_rename))
        .route("/api/v1/nodes/{id}/retire", post(node_retire))
        .route("/api/v1/nodes/{id}/enrollment-token", post(enrollment_token_create))
        .route("/api/v1/nodes/{id}/revoke-agent", post(agent_revoke))
        .route("/api/v1/nodes/{id}/containers", get(node_containers))
        .route("/api/v1/jobs", get(job_list).post(job_request))
        .route("/api/v1/jobs/{id}", get(job_get))
        .route("/api/v1/jobs/{id}/approve", post(job_approve))
        .route("/api/v1/jobs/{id}/cancel", post(job_cancel))
        .route("/api/v1/jobs/{id}/retry", post(job_retry))
}

/// The part of the OpenAPI document about nodes and jobs, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(
        node_list,
        node_create,
        node_get,
        node_rename,
        node_retire,
        enrollment_token_create,
        agent_revoke,
        node_containers,
        job_list,
        job_request,
        job_get,
        job_approve,
        job_cancel,
        job_retry,
    ),
    components(schemas(
        works_core::NodeStatus,
        works_core::NodeHealth,
        works_core::PublishedPort,
        works_core::ContainerMount,
        works_core::JobKind,
        works_core::JobState,
        works_core::Risk,
    )),
    tags(
        (name = "nodes", description = "Machines the MSP manages, their agents and their containers"),
        (name = "jobs", description = "Work requested on a node: approved by people, performed by its agent"),
    )
)]
pub(crate) struct FleetDoc;

// --- nodes ------------------------------------------------------------------------

/// Nodes the caller can see, by name. MSP roles see every node, an organization admin
/// their organization's, an organization user none.
#[utoipa::path(
    get, path = "/api/v1/nodes", tag = "nodes",
    params(
        ("org_id" = Option<String>, Query, description = "Only nodes of this organization"),
        ("include_retired" = Option<bool>, Query, description = "Include retired nodes"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = Listing<Node>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn node_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<NodeQuery>) -> ApiResult<Listing<Node>> {
    Ok(Json(s.works.node_list(&actor, q).await?))
}

/// Adds a node, for an organization or (without `org_id`) as shared MSP infrastructure.
#[utoipa::path(
    post, path = "/api/v1/nodes", tag = "nodes",
    request_body = NewNode,
    responses((status = 201, description = "Created", body = Node), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn node_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewNode>) -> Created<Node> {
    Ok((StatusCode::CREATED, Json(s.works.node_create(&actor, input).await?)))
}

/// One node, with its status and why.
#[utoipa::path(
    get, path = "/api/v1/nodes/{id}", tag = "nodes",
    params(("id" = String, Path, description = "Node id")),
    responses((status = 200, description = "Success", body = Node), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn node_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Node> {
    Ok(Json(s.works.node_get(&actor, &id).await?))
}

/// Renames a node.
#[utoipa::path(
    patch, path = "/api/v1/nodes/{id}", tag = "nodes",
    params(("id" = String, Path, description = "Node id")),
    request_body = RenameNode,
    responses((status = 200, description = "Success", body = Node), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn node_rename(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Id(id): Id,
    Json(input): Json<RenameNode>,
) -> ApiResult<Node> {
    Ok(Json(s.works.node_rename(&actor, &id, input).await?))
}

/// Retires a node: it stays on record, its agent is cut off, it takes no new work.
#[utoipa::path(
    post, path = "/api/v1/nodes/{id}/retire", tag = "nodes",
    params(("id" = String, Path, description = "Node id")),
    responses((status = 200, description = "Success", body = Node), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn node_retire(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Node> {
    Ok(Json(s.works.node_retire(&actor, &id).await?))
}

/// Makes a one-time enrollment token for the node's agent: short-lived, single use.
/// The `token` is in this answer and nowhere else.
#[utoipa::path(
    post, path = "/api/v1/nodes/{id}/enrollment-token", tag = "nodes",
    params(("id" = String, Path, description = "Node id")),
    responses((status = 200, description = "Success", body = EnrollmentToken), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn enrollment_token_create(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<EnrollmentToken> {
    Ok(Json(s.works.enrollment_token_create(&actor, &id).await?))
}

/// Revokes the node's agent credential: the agent is cut off at its next call.
#[utoipa::path(
    post, path = "/api/v1/nodes/{id}/revoke-agent", tag = "nodes",
    params(("id" = String, Path, description = "Node id")),
    responses((status = 204, description = "Revoked"), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn agent_revoke(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> Result<StatusCode, ApiError> {
    s.works.agent_revoke(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The node's containers as its agent last reported them. Names, images and labels are
/// exactly as the agent sent them.
#[utoipa::path(
    get, path = "/api/v1/nodes/{id}/containers", tag = "nodes",
    params(("id" = String, Path, description = "Node id")),
    responses((status = 200, description = "Success", body = Vec<Container>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn node_containers(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Vec<Container>> {
    Ok(Json(s.works.node_containers(&actor, &id).await?))
}

// --- jobs -------------------------------------------------------------------------

/// Jobs the caller can see, newest first.
#[utoipa::path(
    get, path = "/api/v1/jobs", tag = "jobs",
    params(
        ("node_id" = Option<String>, Query, description = "Only jobs of this node"),
        ("state" = Option<works_core::JobState>, Query, description = "Only jobs in this state"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = Listing<Job>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn job_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<JobQuery>) -> ApiResult<Listing<Job>> {
    Ok(Json(s.works.job_list(&actor, q).await?))
}

/// Requests work on a node. Safe kinds are queued at once; risky kinds wait, in
/// `awaiting_approval`, for a person to type the `approval_phrase`.
#[utoipa::path(
    post, path = "/api/v1/jobs", tag = "jobs",
    request_body = NewJob,
    responses((status = 201, description = "Created", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn job_request(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewJob>) -> Created<Job> {
    Ok((StatusCode::CREATED, Json(s.works.job_request(&actor, input).await?)))
}

/// One job: its state, attempts, timeout window and the reason for its state.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Success", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn job_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Job> {
    Ok(Json(s.works.job_get(&actor, &id).await?))
}

/// Approves risky work by typing its `approval_phrase` exactly. A wrong phrase, an
/// expired request or an approver without the right role is refused and recorded.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/approve", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    request_body = ApproveJob,
    responses((status = 200, description = "Success", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn job_approve(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Id(id): Id,
    Json(input): Json<ApproveJob>,
) -> ApiResult<Job> {
    Ok(Json(s.works.job_approve(&actor, &id, input).await?))
}

/// Cancels work that no agent has picked up yet.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Success", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn job_cancel(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Job> {
    Ok(Json(s.works.job_cancel(&actor, &id).await?))
}

/// Retries a failed or timed-out job: a new job of the same kind and parameters (risky
/// work needs approval again). Answers the new job.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/retry", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 201, description = "The new job", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn job_retry(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> Created<Job> {
    Ok((StatusCode::CREATED, Json(s.works.job_retry(&actor, &id).await?)))
}
