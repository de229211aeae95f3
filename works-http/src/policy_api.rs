//! Capabilities, permissions, connections, workflows and runs over HTTP. Collections:
//! `/api/v1/capabilities`, `/api/v1/capability-packs`, `/api/v1/permissions`,
//! `/api/v1/connections`, `/api/v1/workflows` and `/api/v1/workflows/{id}/runs`. Each
//! handler is one call into the core.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use works_core::{
    Actor, ApproveRun, AttachPack, Capability, CapabilityPack, Connection, ConnectionQuery, ConnectionUpdate, Error, Listing,
    NewConnection, NewPermission, NewWorkflow, Permission, PermissionQuery, PermissionUpdate, RunQuery, StartRun, Workflow,
    WorkflowQuery, WorkflowRun, WorkflowUpdate, Works,
};

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/capabilities", get(capability_list))
        .route("/api/v1/capabilities/{id}", get(capability_get))
        .route("/api/v1/capability-packs", get(pack_list))
        .route("/api/v1/capability-packs/{id}/attach", post(pack_attach))
        .route("/api/v1/permissions", get(permission_list).post(permission_create))
        .route("/api/v1/permissions/{id}", get(permission_get).patch(permission_update).delete(permission_delete))
        .route("/api/v1/permissions/{id}/disable", post(permission_disable))
        .route("/api/v1/permissions/{id}/enable", post(permission_enable))
        .route("/api/v1/connections", get(connection_list).post(connection_create))
        .route("/api/v1/connections/{id}", get(connection_get).patch(connection_update).delete(connection_delete))
        .route("/api/v1/workflows", get(workflow_list).post(workflow_create))
        .route("/api/v1/workflows/{id}", get(workflow_get).patch(workflow_update).delete(workflow_delete))
        .route("/api/v1/workflows/{id}/runs", get(run_list).post(run_start))
        .route("/api/v1/workflows/{id}/runs/{run_id}", get(run_get))
        .route("/api/v1/workflows/{id}/runs/{run_id}/approve", post(run_approve))
}

/// The part of the OpenAPI document about policy, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(
        capability_list, capability_get, pack_list, pack_attach,
        permission_list, permission_create, permission_get, permission_update, permission_delete, permission_disable, permission_enable,
        connection_list, connection_create, connection_get, connection_update, connection_delete,
        workflow_list, workflow_create, workflow_get, workflow_update, workflow_delete,
        run_list, run_start, run_get, run_approve,
    ),
    components(schemas(
        works_core::CapabilityKind, works_core::CapabilityAction, works_core::RiskLevel, works_core::Provider,
        works_core::ConnectionStatus, works_core::WorkflowStep, works_core::RunMode, works_core::RunState,
        works_core::StepOutcome, works_core::RunStep, works_core::Approval, works_core::Rule, works_core::DataLabel,
    )),
    tags(
        (name = "capabilities", description = "The capability catalog and capability packs"),
        (name = "permissions", description = "Which capability actions an organization may use"),
        (name = "connections", description = "Access to outside tools; credentials are write-only"),
        (name = "workflows", description = "Workflows, their runs, and step approvals"),
    )
)]
pub(crate) struct PolicyDoc;

/// `{id}` and `{run_id}` of a run route.
pub(crate) struct RunPath(String, String);

impl<S: Send + Sync> FromRequestParts<S> for RunPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|p| RunPath(p.0 .0, p.0 .1))
            .map_err(|_| Error::invalid("id", "is not a valid id").into())
    }
}

/// Runs a step-taking operation in a task of its own, so that a caller who hangs up does
/// not leave a run stopped half-way through a step.
async fn detached<F, Fut>(works: Works, actor: Actor, op: F) -> Result<WorkflowRun, ApiError>
where
    F: FnOnce(Works, Actor) -> Fut,
    Fut: std::future::Future<Output = works_core::Result<WorkflowRun>> + Send + 'static,
{
    tokio::spawn(op(works, actor))
        .await
        .map_err(|_| ApiError(Error::internal("The run stopped unexpectedly; see the server log and the run's record.")))?
        .map_err(ApiError)
}

/// The capability catalog: skills, tools and policies, with their actions and risk levels.
#[utoipa::path(get, path = "/api/v1/capabilities", tag = "capabilities", responses((status = 200, description = "Success", body = Vec<Capability>), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn capability_list(State(s): State<AppState>, Caller(actor): Caller) -> ApiResult<Vec<Capability>> {
    Ok(Json(s.works.capability_list(&actor).await?))
}

/// One capability of the catalog.
#[utoipa::path(get, path = "/api/v1/capabilities/{id}", tag = "capabilities", params(("id" = String, Path, description = "Capability id, such as google_drive")), responses((status = 200, description = "Success", body = Capability), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn capability_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Capability> {
    Ok(Json(s.works.capability_get(&actor, &id).await?))
}

/// Capability packs: named groups of capabilities.
#[utoipa::path(get, path = "/api/v1/capability-packs", tag = "capabilities", responses((status = 200, description = "Success", body = Vec<CapabilityPack>), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn pack_list(State(s): State<AppState>, Caller(actor): Caller) -> ApiResult<Vec<CapabilityPack>> {
    Ok(Json(s.works.pack_list(&actor).await?))
}

/// Enables every capability of a pack for an organization in one step. Answers the
/// organization's permissions for the pack's capabilities.
#[utoipa::path(post, path = "/api/v1/capability-packs/{id}/attach", tag = "capabilities", params(("id" = String, Path, description = "Pack id")), request_body = AttachPack, responses((status = 200, description = "Success", body = Vec<Permission>), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn pack_attach(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<AttachPack>) -> ApiResult<Vec<Permission>> {
    Ok(Json(s.works.pack_attach(&actor, &id, input).await?))
}

/// Permissions the caller can see: MSP roles all, organization people their organization's.
#[utoipa::path(get, path = "/api/v1/permissions", tag = "permissions", params(PermissionQuery), responses((status = 200, description = "Success", body = Listing<Permission>), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn permission_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<PermissionQuery>) -> ApiResult<Listing<Permission>> {
    Ok(Json(s.works.permission_list(&actor, q).await?))
}

/// Allows a capability for an organization. MSP roles and the organization's admin.
#[utoipa::path(post, path = "/api/v1/permissions", tag = "permissions", request_body = NewPermission, responses((status = 201, description = "Created", body = Permission), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn permission_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewPermission>) -> Created<Permission> {
    Ok((StatusCode::CREATED, Json(s.works.permission_create(&actor, input).await?)))
}

/// One permission.
#[utoipa::path(get, path = "/api/v1/permissions/{id}", tag = "permissions", params(("id" = String, Path, description = "Permission id")), responses((status = 200, description = "Success", body = Permission), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn permission_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Permission> {
    Ok(Json(s.works.permission_get(&actor, &id).await?))
}

/// Edits a permission; fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/permissions/{id}", tag = "permissions", params(("id" = String, Path, description = "Permission id")), request_body = PermissionUpdate, responses((status = 200, description = "Success", body = Permission), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn permission_update(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<PermissionUpdate>) -> ApiResult<Permission> {
    Ok(Json(s.works.permission_update(&actor, &id, input).await?))
}

/// Deletes a permission: the capability is no longer enabled for the organization.
#[utoipa::path(delete, path = "/api/v1/permissions/{id}", tag = "permissions", params(("id" = String, Path, description = "Permission id")), responses((status = 200, description = "Deleted", body = Permission), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn permission_delete(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Permission> {
    Ok(Json(s.works.permission_delete(&actor, &id).await?))
}

/// Disables a permission: every step of its capability is blocked.
#[utoipa::path(post, path = "/api/v1/permissions/{id}/disable", tag = "permissions", params(("id" = String, Path, description = "Permission id")), responses((status = 200, description = "Success", body = Permission), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn permission_disable(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Permission> {
    Ok(Json(s.works.permission_disable(&actor, &id).await?))
}

/// Enables a disabled permission again.
#[utoipa::path(post, path = "/api/v1/permissions/{id}/enable", tag = "permissions", params(("id" = String, Path, description = "Permission id")), responses((status = 200, description = "Success", body = Permission), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn permission_enable(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Permission> {
    Ok(Json(s.works.permission_enable(&actor, &id).await?))
}

/// Connections the caller can see: MSP roles all, organization admins their
/// organization's, organization users their own. Credentials are never returned.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", params(ConnectionQuery), responses((status = 200, description = "Success", body = Listing<Connection>), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn connection_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<ConnectionQuery>) -> ApiResult<Listing<Connection>> {
    Ok(Json(s.works.connection_list(&actor, q).await?))
}

/// Adds a connection. A credential given here is sealed and never shown again.
#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", request_body = NewConnection, responses((status = 201, description = "Created", body = Connection), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn connection_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewConnection>) -> Created<Connection> {
    Ok((StatusCode::CREATED, Json(s.works.connection_create(&actor, input).await?)))
}

/// One connection (without its credential).
#[utoipa::path(get, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path, description = "Connection id")), responses((status = 200, description = "Success", body = Connection), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn connection_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Connection> {
    Ok(Json(s.works.connection_get(&actor, &id).await?))
}

/// Renames, relinks, sets the status of, or replaces the credential of a connection.
#[utoipa::path(patch, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path, description = "Connection id")), request_body = ConnectionUpdate, responses((status = 200, description = "Success", body = Connection), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn connection_update(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<ConnectionUpdate>) -> ApiResult<Connection> {
    Ok(Json(s.works.connection_update(&actor, &id, input).await?))
}

/// Deletes a connection and its credential.
#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path, description = "Connection id")), responses((status = 200, description = "Deleted", body = Connection), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn connection_delete(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Connection> {
    Ok(Json(s.works.connection_delete(&actor, &id).await?))
}

/// Workflows the caller can see: MSP roles all, organization admins their
/// organization's, organization users their own.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", params(WorkflowQuery), responses((status = 200, description = "Success", body = Listing<Workflow>), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn workflow_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<WorkflowQuery>) -> ApiResult<Listing<Workflow>> {
    Ok(Json(s.works.workflow_list(&actor, q).await?))
}

/// Adds a workflow. Every step is checked; a problem names the step and field (`steps[1].action`).
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", request_body = NewWorkflow, responses((status = 201, description = "Created", body = Workflow), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn workflow_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewWorkflow>) -> Created<Workflow> {
    Ok((StatusCode::CREATED, Json(s.works.workflow_create(&actor, input).await?)))
}

/// One workflow.
#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path, description = "Workflow id")), responses((status = 200, description = "Success", body = Workflow), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn workflow_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Workflow> {
    Ok(Json(s.works.workflow_get(&actor, &id).await?))
}

/// Edits a workflow; fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path, description = "Workflow id")), request_body = WorkflowUpdate, responses((status = 200, description = "Success", body = Workflow), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn workflow_update(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<WorkflowUpdate>) -> ApiResult<Workflow> {
    Ok(Json(s.works.workflow_update(&actor, &id, input).await?))
}

/// Deletes a workflow; its runs stay on record.
#[utoipa::path(delete, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path, description = "Workflow id")), responses((status = 200, description = "Deleted", body = Workflow), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn workflow_delete(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Workflow> {
    Ok(Json(s.works.workflow_delete(&actor, &id).await?))
}

/// Runs of a workflow, newest first.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/runs", tag = "workflows", params(("id" = String, Path, description = "Workflow id"), RunQuery), responses((status = 200, description = "Success", body = Listing<WorkflowRun>), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn run_list(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Query(q): Query<RunQuery>) -> ApiResult<Listing<WorkflowRun>> {
    Ok(Json(s.works.run_list(&actor, &id, q).await?))
}

/// Starts a run (`simulation` or `live`) and answers when it has ended, been blocked
/// (`blocked`, with the rule and reason on the step), or paused for approval
/// (`awaiting_approval`, with the phrase on the step).
#[utoipa::path(post, path = "/api/v1/workflows/{id}/runs", tag = "workflows", params(("id" = String, Path, description = "Workflow id")), request_body = StartRun, responses((status = 201, description = "Started", body = WorkflowRun), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn run_start(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<StartRun>) -> Created<WorkflowRun> {
    let run = detached(s.works.clone(), actor, move |works, actor| async move { works.run_start(&actor, &id, input).await }).await?;
    Ok((StatusCode::CREATED, Json(run)))
}

/// One run with its steps, their outcomes and reasons.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/runs/{run_id}", tag = "workflows", params(("id" = String, Path, description = "Workflow id"), ("run_id" = String, Path, description = "Run id")), responses((status = 200, description = "Success", body = WorkflowRun), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn run_get(State(s): State<AppState>, Caller(actor): Caller, RunPath(id, run_id): RunPath) -> ApiResult<WorkflowRun> {
    Ok(Json(s.works.run_get(&actor, &id, &run_id).await?))
}

/// Approves the paused step by typing its phrase exactly; the run goes on when enough
/// different approvers have. Wrong phrase, expired request, self-approval under the
/// two-person rule, another organization's approver: refused and recorded.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/runs/{run_id}/approve", tag = "workflows", params(("id" = String, Path, description = "Workflow id"), ("run_id" = String, Path, description = "Run id")), request_body = ApproveRun, responses((status = 200, description = "Success", body = WorkflowRun), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn run_approve(State(s): State<AppState>, Caller(actor): Caller, RunPath(id, run_id): RunPath, Json(input): Json<ApproveRun>) -> ApiResult<WorkflowRun> {
    Ok(Json(detached(s.works.clone(), actor, move |works, actor| async move { works.run_approve(&actor, &id, &run_id, input).await }).await?))
}
