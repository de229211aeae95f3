//! The caller's own Command Center layout over HTTP: `GET /api/v1/me/layout` and
//! `PUT /api/v1/me/layout`. There is no id: only the signed-in person's own layout is
//! ever read or written. A browser sends its CSRF token in `X-CSRF-Token` to save.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use works_core::Layout;

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Json};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/me/layout", get(layout_get).put(layout_put))
}

/// The part of the OpenAPI document about the layout, merged into the whole.
#[derive(OpenApi)]
#[openapi(paths(layout_get, layout_put), components(schemas(works_core::Layout)), tags((name = "preferences", description = "The caller's own preferences")))]
pub(crate) struct LayoutDoc;

/// The caller's Command Center layout: which side the roster is on, where the activity
/// strip is, the panels' sizes and the organizations collapsed on the map. The default
/// layout when the caller never saved one.
#[utoipa::path(
    get, path = "/api/v1/me/layout", tag = "preferences",
    responses((status = 200, description = "Success", body = Layout), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn layout_get(State(s): State<AppState>, Caller(actor): Caller) -> Result<Json<Layout>, ApiError> {
    Ok(Json(s.works.layout_get(&actor).await?))
}

/// Saves the caller's Command Center layout. Fields left out take their default; a bad
/// field is refused with 400 naming it (`roster_side`: `left` or `right`; `activity`:
/// `bottom`, `top` or `hidden`; widths and height in pixels within their bounds; at most
/// 1000 collapsed groups).
#[utoipa::path(
    put, path = "/api/v1/me/layout", tag = "preferences",
    request_body = Layout,
    responses((status = 200, description = "Success", body = Layout), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn layout_put(State(s): State<AppState>, Caller(actor): Caller, Json(layout): Json<Layout>) -> Result<Json<Layout>, ApiError> {
    Ok(Json(s.works.layout_put(&actor, layout).await?))
}
