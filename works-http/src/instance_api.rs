//! OpenClaw instances over HTTP: `/api/v1/instances` is the collection (managed and
//! discovered). Each handler is one call into the core.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use works_core::{Instance, InstanceQuery, Listing, TakeoverInput};

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/instances", get(instance_list))
        .route("/api/v1/instances/{id}", get(instance_get))
        .route("/api/v1/instances/{id}/takeover", post(instance_takeover))
}

/// The part of the OpenAPI document about OpenClaw instances, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(instance_list, instance_get, instance_takeover),
    components(schemas(works_core::InstanceState)),
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
