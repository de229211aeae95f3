//! The access layer over HTTP: `/api/v1/ssh-credentials`, `/api/v1/jumpboxes`,
//! `/api/v1/hosts` (with `test-access`, `register` and `forget-host-key`) and
//! `/api/v1/access-attempts`. Each handler is one call into the core.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use works_core::{
    AccessAttempt, AttemptQuery, Host, HostQuery, HostUpdate, Job, Jumpbox, JumpboxUpdate, Listing, NewHost, NewJumpbox, NewSshCredential, Node,
    PageQuery, SshCredential,
};

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;
type WithStatus<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/ssh-credentials", get(ssh_credential_list).post(ssh_credential_create))
        .route("/api/v1/ssh-credentials/{id}", get(ssh_credential_get).delete(ssh_credential_delete))
        .route("/api/v1/jumpboxes", get(jumpbox_list).post(jumpbox_create))
        .route("/api/v1/jumpboxes/{id}", get(jumpbox_get).patch(jumpbox_update).delete(jumpbox_delete))
        .route("/api/v1/jumpboxes/{id}/forget-host-key", post(jumpbox_forget_host_key))
        .route("/api/v1/hosts", get(host_list).post(host_create))
        .route("/api/v1/hosts/{id}", get(host_get).patch(host_update).delete(host_delete))
        .route("/api/v1/hosts/{id}/install-agent", post(host_install_agent))
        .route("/api/v1/hosts/{id}/test-access", post(host_test_access))
        .route("/api/v1/hosts/{id}/register", post(host_register))
        .route("/api/v1/hosts/{id}/forget-host-key", post(host_forget_host_key))
        .route("/api/v1/access-attempts", get(access_attempt_list))
        .route("/api/v1/access-attempts/{id}", get(access_attempt_get))
}

/// The part of the OpenAPI document about the access layer, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(ssh_credential_list, ssh_credential_create, ssh_credential_get, ssh_credential_delete, jumpbox_list, jumpbox_create, jumpbox_get, jumpbox_forget_host_key, host_list, host_create, host_get, host_test_access, host_register, host_forget_host_key, jumpbox_update, jumpbox_delete, host_update, host_delete, host_install_agent, access_attempt_list, access_attempt_get),
    components(schemas(
        works_core::AttemptStatus,
        works_core::Stage,
        works_core::Hop,
        works_core::Step,
        works_core::FailureKind,
        works_core::TranscriptEntry,
        works_core::Discovery,
        works_core::FoundContainer,
    )),
    tags((name = "access", description = "SSH credentials, jumpboxes, hosts and Test Access over system OpenSSH"))
)]
pub(crate) struct AccessDoc;

/// SSH credentials (MSP roles): type, fingerprint and public key; never the private key.
#[utoipa::path(
    get, path = "/api/v1/ssh-credentials", tag = "access",
    params(("offset" = Option<u32>, Query, description = "Skip this many"), ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)")),
    responses((status = 200, description = "Success", body = Listing<SshCredential>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn ssh_credential_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<PageQuery>) -> ApiResult<Listing<SshCredential>> {
    Ok(Json(s.works.ssh_credential_list(&actor, q).await?))
}

/// Uploads an SSH private key (OpenSSH format, no passphrase) as a shared MSP credential. It is sealed at rest and never shown again; the answer shows its type and fingerprint.
#[utoipa::path(
    post, path = "/api/v1/ssh-credentials", tag = "access",
    request_body = NewSshCredential,
    responses((status = 201, description = "Created", body = SshCredential), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn ssh_credential_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewSshCredential>) -> WithStatus<SshCredential> {
    Ok((StatusCode::CREATED, Json(s.works.ssh_credential_create(&actor, input).await?)))
}

/// One SSH credential's public facts.
#[utoipa::path(
    get, path = "/api/v1/ssh-credentials/{id}", tag = "access",
    params(("id" = String, Path, description = "Credential id")),
    responses((status = 200, description = "Success", body = SshCredential), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn ssh_credential_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<SshCredential> {
    Ok(Json(s.works.ssh_credential_get(&actor, &id).await?))
}

/// Deletes a credential that no jumpbox or host uses.
#[utoipa::path(
    delete, path = "/api/v1/ssh-credentials/{id}", tag = "access",
    params(("id" = String, Path, description = "Credential id")),
    responses((status = 200, description = "Success", body = SshCredential), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn ssh_credential_delete(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<SshCredential> {
    Ok(Json(s.works.ssh_credential_delete(&actor, &id).await?))
}

/// Jumpboxes (MSP roles), by name.
#[utoipa::path(
    get, path = "/api/v1/jumpboxes", tag = "access",
    params(("offset" = Option<u32>, Query, description = "Skip this many"), ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)")),
    responses((status = 200, description = "Success", body = Listing<Jumpbox>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn jumpbox_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<PageQuery>) -> ApiResult<Listing<Jumpbox>> {
    Ok(Json(s.works.jumpbox_list(&actor, q).await?))
}

/// Adds a jumpbox hosts can be reached through.
#[utoipa::path(
    post, path = "/api/v1/jumpboxes", tag = "access",
    request_body = NewJumpbox,
    responses((status = 201, description = "Created", body = Jumpbox), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn jumpbox_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewJumpbox>) -> WithStatus<Jumpbox> {
    Ok((StatusCode::CREATED, Json(s.works.jumpbox_create(&actor, input).await?)))
}

/// One jumpbox, with its pinned host key fingerprint.
#[utoipa::path(
    get, path = "/api/v1/jumpboxes/{id}", tag = "access",
    params(("id" = String, Path, description = "Jumpbox id")),
    responses((status = 200, description = "Success", body = Jumpbox), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn jumpbox_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Jumpbox> {
    Ok(Json(s.works.jumpbox_get(&actor, &id).await?))
}

/// Clears the jumpbox's pinned host key after its owner confirmed the new one; the next attempt pins the key it sees.
#[utoipa::path(
    post, path = "/api/v1/jumpboxes/{id}/forget-host-key", tag = "access",
    params(("id" = String, Path, description = "Jumpbox id")),
    responses((status = 200, description = "Success", body = Jumpbox), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn jumpbox_forget_host_key(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Jumpbox> {
    Ok(Json(s.works.jumpbox_forget_host_key(&actor, &id).await?))
}

/// Hosts the caller can see: MSP roles all, an organization admin their organization's.
#[utoipa::path(
    get, path = "/api/v1/hosts", tag = "access",
    params(("org_id" = Option<String>, Query, description = "Only hosts of this organization"), ("offset" = Option<u32>, Query, description = "Skip this many"), ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)")),
    responses((status = 200, description = "Success", body = Listing<Host>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn host_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<HostQuery>) -> ApiResult<Listing<Host>> {
    Ok(Json(s.works.host_list(&actor, q).await?))
}

/// Adds a host profile to an organization (MSP roles): address, port, user, credential, and a direct route or one through a named jumpbox.
#[utoipa::path(
    post, path = "/api/v1/hosts", tag = "access",
    request_body = NewHost,
    responses((status = 201, description = "Created", body = Host), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn host_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewHost>) -> WithStatus<Host> {
    Ok((StatusCode::CREATED, Json(s.works.host_create(&actor, input).await?)))
}

/// One host, with its pinned host key fingerprint and when it was last verified.
#[utoipa::path(
    get, path = "/api/v1/hosts/{id}", tag = "access",
    params(("id" = String, Path, description = "Host id")),
    responses((status = 200, description = "Success", body = Host), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn host_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Host> {
    Ok(Json(s.works.host_get(&actor, &id).await?))
}

/// Starts a Test Access attempt and answers 202 with it at once; read it at /api/v1/access-attempts/{id} until its status is no longer `running`.
#[utoipa::path(
    post, path = "/api/v1/hosts/{id}/test-access", tag = "access",
    params(("id" = String, Path, description = "Host id")),
    responses((status = 202, description = "Started", body = AccessAttempt), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn host_test_access(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> WithStatus<AccessAttempt> {
    Ok((StatusCode::ACCEPTED, Json(s.works.host_test_access(&actor, &id).await?)))
}

/// Registers a verified host as a node of its organization: a candidate without an agent.
#[utoipa::path(
    post, path = "/api/v1/hosts/{id}/register", tag = "access",
    params(("id" = String, Path, description = "Host id")),
    responses((status = 201, description = "Created", body = Node), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn host_register(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> WithStatus<Node> {
    Ok((StatusCode::CREATED, Json(s.works.host_register(&actor, &id).await?)))
}

/// Clears the host's pinned host key after its owner confirmed the new one.
#[utoipa::path(
    post, path = "/api/v1/hosts/{id}/forget-host-key", tag = "access",
    params(("id" = String, Path, description = "Host id")),
    responses((status = 200, description = "Success", body = Host), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn host_forget_host_key(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Host> {
    Ok(Json(s.works.host_forget_host_key(&actor, &id).await?))
}

/// Test Access attempts the caller can see, newest first.
#[utoipa::path(
    get, path = "/api/v1/access-attempts", tag = "access",
    params(("host_id" = Option<String>, Query, description = "Only attempts on this host"), ("offset" = Option<u32>, Query, description = "Skip this many"), ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)")),
    responses((status = 200, description = "Success", body = Listing<AccessAttempt>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn access_attempt_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<AttemptQuery>) -> ApiResult<Listing<AccessAttempt>> {
    Ok(Json(s.works.access_attempt_list(&actor, q).await?))
}

/// One attempt: status, stage, reason, next action, transcript, findings, and the raw output as technical details.
#[utoipa::path(
    get, path = "/api/v1/access-attempts/{id}", tag = "access",
    params(("id" = String, Path, description = "Attempt id")),
    responses((status = 200, description = "Success", body = AccessAttempt), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn access_attempt_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<AccessAttempt> {
    Ok(Json(s.works.access_attempt_get(&actor, &id).await?))
}

/// Changes a jumpbox: name, address, port, user, credential. Every field is checked as when the jumpbox was added; a new address or port clears the pinned host key.
#[utoipa::path(
    patch, path = "/api/v1/jumpboxes/{id}", tag = "access",
    params(("id" = String, Path, description = "Jumpbox id")),
    request_body = JumpboxUpdate,
    responses((status = 200, description = "Success", body = Jumpbox), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn jumpbox_update(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<JumpboxUpdate>) -> ApiResult<Jumpbox> {
    Ok(Json(s.works.jumpbox_update(&actor, &id, input).await?))
}

/// Deletes a jumpbox no host goes through; otherwise 409 naming the hosts.
#[utoipa::path(
    delete, path = "/api/v1/jumpboxes/{id}", tag = "access",
    params(("id" = String, Path, description = "Jumpbox id")),
    responses((status = 200, description = "Success", body = Jumpbox), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn jumpbox_delete(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Jumpbox> {
    Ok(Json(s.works.jumpbox_delete(&actor, &id).await?))
}

/// Changes a host profile: name, address, port, user, credential, route (`jumpbox`: a name or id, or "" for direct). A change to how the host is reached needs Test Access again.
#[utoipa::path(
    patch, path = "/api/v1/hosts/{id}", tag = "access",
    params(("id" = String, Path, description = "Host id")),
    request_body = HostUpdate,
    responses((status = 200, description = "Success", body = Host), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn host_update(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id, Json(input): Json<HostUpdate>) -> ApiResult<Host> {
    Ok(Json(s.works.host_update(&actor, &id, input).await?))
}

/// Deletes a host profile and its attempts. A node it was registered as stays.
#[utoipa::path(
    delete, path = "/api/v1/hosts/{id}", tag = "access",
    params(("id" = String, Path, description = "Host id")),
    responses((status = 200, description = "Success", body = Host), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn host_delete(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Host> {
    Ok(Json(s.works.host_delete(&actor, &id).await?))
}

/// Requests installing the agent on a verified host (registering it as a node first when needed). The answer is an `agent_install` job waiting for a person to type `install agent on <host name>` (POST /api/v1/jobs/{id}/approve); the server then installs over SSH and the node goes online at its first check-in.
#[utoipa::path(
    post, path = "/api/v1/hosts/{id}/install-agent", tag = "access",
    params(("id" = String, Path, description = "Host id")),
    responses((status = 201, description = "Created", body = Job), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn host_install_agent(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> WithStatus<Job> {
    Ok((StatusCode::CREATED, Json(s.works.host_install_agent(&actor, &id).await?)))
}
