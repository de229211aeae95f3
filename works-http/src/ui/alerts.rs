//! The alerts page at `/ui/alerts`: the webhooks notified when the health answer
//! changes (add and remove for MSP admins) and the delivery log. Every form is the same
//! core call as its JSON route.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use works_core::{Delivery, DeliveryQuery, DeliveryStatus, NewWebhook, Webhook};

use super::{empty_to_none, render, see_other, when, FormErrors, Nav, PageId, PageQuery, UiError, UiForm, UiSession, PAGE_SIZE};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/alerts", get(alerts_page).post(webhook_create))
        .route("/ui/alerts/webhooks/{id}/remove", post(webhook_remove))
}

struct WebhookRow {
    id: String,
    name: String,
    url: String,
    signed: bool,
    added: String,
}

impl From<&Webhook> for WebhookRow {
    fn from(w: &Webhook) -> Self {
        WebhookRow { id: w.id.clone(), name: w.name.clone(), url: w.url.clone(), signed: w.signed, added: format!("{} by {}", when(&w.created_at), w.created_by) }
    }
}

struct DeliveryRow {
    created: String,
    webhook: String,
    change: String,
    attempts: String,
    badge: &'static str,
    status: &'static str,
    detail: String,
}

impl From<&Delivery> for DeliveryRow {
    fn from(d: &Delivery) -> Self {
        let (badge, status) = match d.status {
            DeliveryStatus::Delivered => ("ok", "Delivered"),
            DeliveryStatus::Pending => ("warn", "Retrying"),
            DeliveryStatus::Failed => ("bad", "Failed"),
        };
        let answer = match (d.last_status_code, d.last_error.as_deref()) {
            (_, Some(e)) => e.to_owned(),
            (Some(code), None) => format!("Answered HTTP {code}."),
            (None, None) => "Not tried yet.".to_owned(),
        };
        let detail = match (d.status, d.next_attempt_at.as_ref()) {
            (DeliveryStatus::Pending, Some(next)) => format!("{answer} Next try {}.", when(next)),
            (DeliveryStatus::Delivered, _) => format!("Answered HTTP {}{}.", d.last_status_code.unwrap_or_default(), d.delivered_at.as_ref().map(|t| format!(" at {}", when(t))).unwrap_or_default()),
            _ => answer,
        };
        DeliveryRow {
            created: when(&d.created_at),
            webhook: d.webhook_name.clone(),
            change: format!("{} → {}", d.from_state.label(), d.to_state.label()),
            attempts: format!("{} of {}", d.attempts, d.max_attempts),
            badge,
            status,
            detail,
        }
    }
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Option<Nav>,
    webhooks: Vec<WebhookRow>,
    deliveries: Vec<DeliveryRow>,
    can_manage: bool,
    notice: Option<String>,
    name_value: String,
    url_value: String,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
struct AlertsParams {
    notice: Option<String>,
}

async fn alerts_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<AlertsParams>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("added") => Some("Webhook added. It is notified the next time the health answer changes.".to_owned()),
        Some("removed") => Some("Webhook removed. Its deliveries stay in the log.".to_owned()),
        _ => None,
    };
    view(&s, &session, notice, String::new(), String::new(), FormErrors::default(), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)]
async fn view(
    s: &AppState,
    session: &UiSession,
    notice: Option<String>,
    name_value: String,
    url_value: String,
    errors: FormErrors,
    status: StatusCode,
) -> Result<Response, UiError> {
    let nav = || Some(session.nav("alerts"));
    let webhooks = s.works.webhook_list(&session.actor).await.map_err(|e| UiError::from_core(e, nav()))?;
    let deliveries = s
        .works
        .delivery_list(&session.actor, DeliveryQuery { webhook_id: None, offset: None, limit: Some(PAGE_SIZE) })
        .await
        .map_err(|e| UiError::from_core(e, nav()))?;
    let page = AlertsPage {
        nav: nav(),
        webhooks: webhooks.iter().map(WebhookRow::from).collect(),
        deliveries: deliveries.items.iter().map(DeliveryRow::from).collect(),
        can_manage: works_core::access::may_manage_alerts(&session.actor),
        notice,
        name_value,
        url_value,
        errors,
    };
    Ok(render(status, &page))
}

#[derive(Deserialize)]
struct WebhookForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: Option<String>,
}

async fn webhook_create(State(s): State<AppState>, form: UiForm<WebhookForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let input = NewWebhook { name: fields.name.clone(), url: fields.url.clone(), secret: empty_to_none(fields.secret) };
    match s.works.webhook_create(&session.actor, input).await {
        Ok(_) => Ok(see_other("/ui/alerts?notice=added")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["name", "url", "secret"], || session.nav("alerts"))?;
            view(&s, &session, None, fields.name, fields.url, errors, status).await
        }
    }
}

#[derive(Deserialize)]
struct NoFields {}

async fn webhook_remove(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let UiForm { session, .. } = form;
    s.works.webhook_delete(&session.actor, &id).await.map_err(|e| UiError::from_core(e, Some(session.nav("alerts"))))?;
    Ok(see_other("/ui/alerts?notice=removed"))
}
