//! The agent API under `/api/v1/agent`: what a node's agent calls. Enrollment takes a
//! one-time token; every other route takes only the agent's own credential
//! (`Authorization: Bearer wka_…`) — never a person's session or API token, as the
//! person-facing routes never take an agent credential. Each handler is one call into
//! the core, which decides which jobs an agent may reach.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use works_core::{AgentCredential, AgentIdentity, CheckIn, CheckInReply, EnrollRequest, Error, Job, JobReport, JobReportAnswer, JobReportOf};

use crate::api::CommonErrors;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{credential, Credential, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The largest check-in accepted: a full inventory of many containers fits.
pub const CHECKIN_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Set when the process stops serving: claims still waiting for work answer "no work"
/// at once instead of holding the shutdown up.
static STOPPING: AtomicBool = AtomicBool::new(false);
static STOPPED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Ends the long polls of agents waiting for work (the server is stopping).
pub(crate) fn end_long_polls() {
    STOPPING.store(true, Ordering::SeqCst);
    STOPPED.notify_waiters();
}

/// Resolves when the server stops serving (at once if it already has).
async fn stopping() {
    let stopped = STOPPED.notified();
    tokio::pin!(stopped);
    stopped.as_mut().enable();
    if !STOPPING.load(Ordering::SeqCst) {
        stopped.await;
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agent/enroll", post(agent_enroll))
        .route("/api/v1/agent/checkin", post(agent_checkin).layer(DefaultBodyLimit::max(CHECKIN_BODY_LIMIT)))
        .route("/api/v1/agent/jobs/claim", post(agent_claim))
        .route("/api/v1/agent/jobs/claim-many", post(agent_claim_many))
        .route("/api/v1/agent/jobs/complete-many", post(agent_complete_many))
        .route("/api/v1/agent/jobs/{id}/start", post(agent_job_start))
        .route("/api/v1/agent/jobs/{id}/heartbeat", post(agent_job_heartbeat))
        .route("/api/v1/agent/jobs/{id}/complete", post(agent_job_complete))
        .route("/api/v1/agent/jobs/{id}/gateway-token", post(agent_gateway_token))
}

struct AgentAuth;

impl Modify for AgentAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "agent",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A node's agent credential (`wka_…`) from /api/v1/agent/enroll. Accepted only by the agent routes.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The part of the OpenAPI document about the agent API, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(agent_enroll, agent_checkin, agent_claim, agent_claim_many, agent_complete_many, agent_job_start, agent_job_heartbeat, agent_job_complete, agent_gateway_token),
    components(schemas(EnrollRequest, AgentCredential, CheckIn, CheckInReply, JobReport, GatewayTokenAnswer, ClaimedJobs, JobReports, JobReportOf, JobReportAnswers, JobReportAnswer)),
    modifiers(&AgentAuth),
    tags((name = "agent", description = "What a node's agent calls: enrollment, check-in, and its node's jobs")),
)]
pub(crate) struct AgentDoc;

const AGENT_CREDENTIAL_ONLY: &str = "The agent routes take only an agent credential, sent as `Authorization: Bearer wka_…`.";

/// The agent of a node, authenticated by its own credential.
#[derive(Debug, Clone)]
pub struct AgentCaller(pub AgentIdentity);

impl FromRequestParts<AppState> for AgentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match credential(&parts.headers) {
            Credential::Bearer(secret) => Ok(AgentCaller(state.works.authenticate_agent(secret).await?)),
            Credential::Cookie(_) | Credential::Malformed | Credential::None => Err(Error::unauthenticated(AGENT_CREDENTIAL_ONLY).into()),
        }
    }
}

/// How long a claim may wait for work.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimQuery {
    /// Seconds to wait for work when none is queued (0 to 30, default 0).
    pub wait_secs: Option<u64>,
}

/// How many jobs a batched claim may take, and how long it may wait for work.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimManyQuery {
    /// Most jobs to claim (1 to 100, default 10).
    pub max: Option<u32>,
    /// Seconds to wait for work when none is queued (0 to 30, default 0).
    pub wait_secs: Option<u64>,
}

/// The jobs a batched claim took, oldest first.
#[derive(Debug, serde::Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct ClaimedJobs {
    pub jobs: Vec<Job>,
}

/// Several reports at once.
#[derive(Debug, serde::Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobReports {
    /// 1 to 100 reports, each about a different job of this node.
    pub reports: Vec<JobReportOf>,
}

/// Per report, in order: the job as recorded, or why that report was not accepted.
#[derive(Debug, serde::Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct JobReportAnswers {
    pub results: Vec<JobReportAnswer>,
}

/// Exchanges a one-time enrollment token for the agent's own credential, shown once.
/// A used, expired or unknown token is refused (401) and recorded.
#[utoipa::path(
    post, path = "/api/v1/agent/enroll", tag = "agent",
    request_body = EnrollRequest,
    responses(
        (status = 200, description = "Enrolled: keep `credential` with mode 0600", body = AgentCredential),
        (status = 400, description = "A field is missing or malformed", body = ErrorBody),
        (status = 401, description = "The token is unknown, expired or already used", body = ErrorBody),
    )
)]
pub(crate) async fn agent_enroll(State(s): State<AppState>, Json(input): Json<EnrollRequest>) -> ApiResult<AgentCredential> {
    Ok(Json(s.works.agent_enroll(input).await?))
}

/// Reports the node's health and, when it changed, its full container inventory.
/// Bodies up to 4 MiB are accepted.
#[utoipa::path(
    post, path = "/api/v1/agent/checkin", tag = "agent",
    request_body = CheckIn,
    responses((status = 200, description = "Recorded; check in again after `next_checkin_secs`", body = CheckInReply), CommonErrors),
    security(("agent" = []))
)]
pub(crate) async fn agent_checkin(
    State(s): State<AppState>,
    _place: CheckinPlace,
    AgentSecret(secret): AgentSecret,
    Json(input): Json<CheckIn>,
) -> ApiResult<CheckInReply> {
    Ok(Json(s.works.agent_checkin_with_credential(&secret, input).await?))
}

/// The agent credential as presented, for the check-in route, where the core resolves
/// it (from memory when it can) together with the write.
pub(crate) struct AgentSecret(String);

impl FromRequestParts<AppState> for AgentSecret {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        match credential(&parts.headers) {
            Credential::Bearer(secret) => Ok(AgentSecret(secret.to_owned())),
            _ => Err(Error::unauthenticated(AGENT_CREDENTIAL_ONLY).into()),
        }
    }
}

/// A check-in's place on this server, taken before the credential is looked up: a server
/// past its bound answers 429 with `Retry-After` before anything reaches the database.
pub(crate) struct CheckinPlace(#[allow(dead_code)] works_core::checkins::CheckinPermit);

impl FromRequestParts<AppState> for CheckinPlace {
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(CheckinPlace(state.works.checkin_admission()?))
    }
}

/// Claims the oldest queued job of the agent's own node, waiting up to `wait_secs` for
/// one to arrive. 204 when none came.
#[utoipa::path(
    post, path = "/api/v1/agent/jobs/claim", tag = "agent",
    params(ClaimQuery),
    responses(
        (status = 200, description = "A job, now claimed by this agent", body = Job),
        (status = 204, description = "No work for this node"),
        CommonErrors
    ),
    security(("agent" = []))
)]
pub(crate) async fn agent_claim(
    State(s): State<AppState>,
    AgentCaller(agent): AgentCaller,
    Query(q): Query<ClaimQuery>,
) -> Result<Response, ApiError> {
    // A stopping server ends the wait at once; a claim being written is finished first.
    let wait = Duration::from_secs(q.wait_secs.unwrap_or(0));
    match s.works.agent_claim_until(&agent, 1, wait, stopping()).await?.into_iter().next() {
        Some(job) => Ok(Json(job).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Claims up to `max` of the oldest queued jobs of the agent's own node in one go,
/// waiting up to `wait_secs` for work to arrive. An empty list when none came.
#[utoipa::path(
    post, path = "/api/v1/agent/jobs/claim-many", tag = "agent",
    params(ClaimManyQuery),
    responses((status = 200, description = "The jobs, now claimed by this agent (maybe none)", body = ClaimedJobs), CommonErrors),
    security(("agent" = []))
)]
pub(crate) async fn agent_claim_many(
    State(s): State<AppState>,
    AgentCaller(agent): AgentCaller,
    Query(q): Query<ClaimManyQuery>,
) -> ApiResult<ClaimedJobs> {
    let wait = Duration::from_secs(q.wait_secs.unwrap_or(0));
    Ok(Json(ClaimedJobs { jobs: s.works.agent_claim_until(&agent, q.max.unwrap_or(10), wait, stopping()).await? }))
}

/// Reports how several jobs ended, in one go. Each report stands alone: one about a
/// job that is not this node's, or no longer running, is refused in its own answer.
#[utoipa::path(
    post, path = "/api/v1/agent/jobs/complete-many", tag = "agent",
    request_body = JobReports,
    responses((status = 200, description = "One answer per report, in order", body = JobReportAnswers), CommonErrors),
    security(("agent" = []))
)]
pub(crate) async fn agent_complete_many(
    State(s): State<AppState>,
    AgentCaller(agent): AgentCaller,
    Json(input): Json<JobReports>,
) -> ApiResult<JobReportAnswers> {
    Ok(Json(JobReportAnswers { results: s.works.agent_complete_many(&agent, input.reports).await? }))
}

/// The agent starts a job it claimed.
#[utoipa::path(
    post, path = "/api/v1/agent/jobs/{id}/start", tag = "agent",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Running", body = Job), CommonErrors),
    security(("agent" = []))
)]
pub(crate) async fn agent_job_start(State(s): State<AppState>, AgentCaller(agent): AgentCaller, Id(id): Id) -> ApiResult<Job> {
    Ok(Json(s.works.agent_job_start(&agent, &id).await?))
}

/// The agent is still working on the job. 409 means the job was cancelled or timed
/// out: stop working on it.
#[utoipa::path(
    post, path = "/api/v1/agent/jobs/{id}/heartbeat", tag = "agent",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Keep going", body = Job), CommonErrors),
    security(("agent" = []))
)]
pub(crate) async fn agent_job_heartbeat(State(s): State<AppState>, AgentCaller(agent): AgentCaller, Id(id): Id) -> ApiResult<Job> {
    Ok(Json(s.works.agent_job_heartbeat(&agent, &id).await?))
}

/// The agent reports how the job ended. Output is redacted before it is stored.
#[utoipa::path(
    post, path = "/api/v1/agent/jobs/{id}/complete", tag = "agent",
    params(("id" = String, Path, description = "Job id")),
    request_body = JobReport,
    responses((status = 200, description = "Recorded", body = Job), CommonErrors),
    security(("agent" = []))
)]
pub(crate) async fn agent_job_complete(
    State(s): State<AppState>,
    AgentCaller(agent): AgentCaller,
    Id(id): Id,
    Json(report): Json<JobReport>,
) -> ApiResult<Job> {
    Ok(Json(s.works.agent_job_complete(&agent, &id, report).await?))
}

/// The gateway token a deploy job needs, handed only to the agent running that job.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct GatewayTokenAnswer {
    /// Put into the gateway container's environment; never logged or stored by the agent.
    pub token: String,
}

/// The agent running a deploy job asks for the new instance's gateway token. Refused
/// (409) for any other job or state; every answer is audited, the token never.
#[utoipa::path(
    post, path = "/api/v1/agent/jobs/{id}/gateway-token", tag = "agent",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The token", body = GatewayTokenAnswer), CommonErrors),
    security(("agent" = []))
)]
pub(crate) async fn agent_gateway_token(
    State(s): State<AppState>,
    AgentCaller(agent): AgentCaller,
    Id(id): Id,
) -> ApiResult<GatewayTokenAnswer> {
    let token = s.works.agent_gateway_token(&agent, &id).await?;
    Ok(Json(GatewayTokenAnswer { token: token.expose().to_owned() }))
}
