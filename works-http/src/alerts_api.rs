//! Alerts over HTTP: the webhook targets notified when the health answer changes, and
//! the delivery log. Each handler is one call into the core.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Router;
use utoipa::OpenApi;
use works_core::{Delivery, DeliveryQuery, Listing, NewWebhook, Webhook};

use crate::api::CommonErrors;
use crate::error::ApiError;
use crate::extract::{Caller, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts/webhooks", get(webhook_list).post(webhook_create))
        .route("/api/v1/alerts/webhooks/{id}", delete(webhook_delete))
        .route("/api/v1/alerts/deliveries", get(delivery_list))
}

/// The part of the OpenAPI document about alerts, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(webhook_list, webhook_create, webhook_delete, delivery_list),
    components(schemas(works_core::DeliveryStatus)),
    tags((name = "alerts", description = "Webhooks notified when the health answer changes, and their delivery log"))
)]
pub(crate) struct AlertsDoc;

/// The webhook targets. MSP admins and operators.
#[utoipa::path(
    get, path = "/api/v1/alerts/webhooks", tag = "alerts",
    responses((status = 200, description = "Success", body = Vec<Webhook>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn webhook_list(State(s): State<AppState>, Caller(actor): Caller) -> ApiResult<Vec<Webhook>> {
    Ok(Json(s.works.webhook_list(&actor).await?))
}

/// Adds a webhook target, notified with a JSON POST each time the health answer changes
/// between healthy, degraded and critical. With a shared secret, each body is signed:
/// `X-Works-Signature: sha256=<hex HMAC-SHA256 of the body>`. MSP admins only.
#[utoipa::path(
    post, path = "/api/v1/alerts/webhooks", tag = "alerts",
    request_body = NewWebhook,
    responses((status = 201, description = "Created", body = Webhook), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn webhook_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewWebhook>) -> Created<Webhook> {
    Ok((StatusCode::CREATED, Json(s.works.webhook_create(&actor, input).await?)))
}

/// Removes a webhook target. Its deliveries stay in the log; pending ones stop. MSP
/// admins only.
#[utoipa::path(
    delete, path = "/api/v1/alerts/webhooks/{id}", tag = "alerts",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "The removed webhook", body = Webhook), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn webhook_delete(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Webhook> {
    Ok(Json(s.works.webhook_delete(&actor, &id).await?))
}

/// The delivery log, newest first: each notification's attempts, last status code or
/// error, next retry and outcome. MSP admins and operators.
#[utoipa::path(
    get, path = "/api/v1/alerts/deliveries", tag = "alerts",
    params(
        ("webhook_id" = Option<String>, Query, description = "Only deliveries to this webhook"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = Listing<Delivery>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn delivery_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<DeliveryQuery>) -> ApiResult<Listing<Delivery>> {
    Ok(Json(s.works.delivery_list(&actor, q).await?))
}
