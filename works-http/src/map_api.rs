//! The fleet map of the Command Center over HTTP: `GET /api/v1/map` answers the graph of
//! what the caller may see — organizations, nodes, OpenClaw instances, active jobs,
//! workflows and connections, their relationships, the groups they are drawn in and
//! the hotspots. The server decides what is sent; nothing is hidden only in a browser.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use works_core::FleetMap;

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Json};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/map", get(map))
}

/// The part of the OpenAPI document about the fleet map, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(map),
    components(schemas(works_core::MapNode, works_core::MapEdge, works_core::MapGroup, works_core::MapHotspot, works_core::MapKind)),
    tags((name = "map", description = "The fleet map of the Command Center"))
)]
pub(crate) struct MapDoc;

/// The map of the caller's scope: MSP roles everything; an organization admin their
/// organization; an organization user the instances assigned to them and their own
/// workflows and connections. Graph ids are `<kind>:<record id>` (`org:<id>` for
/// organizations and their groups, `org:msp` for shared MSP infrastructure). Each
/// hotspot names the object it marks, why, and what to do next.
#[utoipa::path(
    get, path = "/api/v1/map", tag = "map",
    responses((status = 200, description = "Success", body = FleetMap), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn map(State(s): State<AppState>, Caller(actor): Caller) -> Result<Json<FleetMap>, ApiError> {
    Ok(Json(s.works.map(&actor).await?))
}
