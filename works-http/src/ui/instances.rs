//! Pages of OpenClaw instances: managed and discovered apart, one instance with why it
//! was recognised, and the typed takeover of a discovered one. Every form is the same
//! core call as its JSON route; what agents report is always escaped.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use works_core::{DeployInput, Error, Instance, InstanceQuery, InstanceState, LogsInput, NodeQuery, TakeoverInput};

use super::{render, see_other, when, FormErrors, Nav, PageId, PageQuery, UiError, UiForm, UiSession, PAGE_SIZE};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/instances", get(instances_page))
        .route("/ui/instances/{id}", get(instance_page))
        .route("/ui/instances/{id}/takeover", post(instance_takeover))
        .route("/ui/instances/{id}/actions", post(instance_action))
        .route("/ui/nodes/{id}/deploy", post(node_deploy))
        .route("/ui/nodes/{id}/openclaw-readiness", post(node_readiness))
}

struct InstanceRow {
    id: String,
    state: String,
    container: String,
    node: String,
    node_id: String,
    version: String,
    health: String,
    seen: String,
}

fn row(i: &Instance, nodes: &[(String, String)]) -> InstanceRow {
    InstanceRow {
        id: i.id.clone(),
        state: i.state.label().to_owned(),
        container: i.container_name.clone(),
        node: nodes.iter().find(|(id, _)| id == &i.node_id).map(|(_, n)| n.clone()).unwrap_or_else(|| i.node_id.clone()),
        node_id: i.node_id.clone(),
        version: i.version.clone().unwrap_or_else(|| "unknown".into()),
        health: i.health.clone().unwrap_or_else(|| "not reported".into()),
        seen: when(&i.updated_at),
    }
}

async fn node_names(s: &AppState, session: &UiSession) -> Result<Vec<(String, String)>, UiError> {
    let nodes = s
        .works
        .node_list(&session.actor, NodeQuery { org_id: None, include_retired: true, offset: None, limit: Some(500) })
        .await
        .map_err(|e| UiError::from_core(e, Some(session.nav("instances"))))?;
    Ok(nodes.items.into_iter().map(|n| (n.id, n.name)).collect())
}

#[derive(Template)]
#[template(path = "instances.html")]
struct InstancesPage {
    nav: Option<Nav>,
    managed: Vec<InstanceRow>,
    discovered: Vec<InstanceRow>,
    next_page: Option<String>,
}

#[derive(Deserialize, Default)]
struct InstancesParams {
    offset: Option<u32>,
}

async fn instances_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<InstancesParams>) -> Result<Response, UiError> {
    let nav = || Some(session.nav("instances"));
    let listing = s
        .works
        .instance_list(&session.actor, InstanceQuery { node_id: None, offset: p.offset, limit: Some(PAGE_SIZE) })
        .await
        .map_err(|e| UiError::from_core(e, nav()))?;
    let nodes = node_names(&s, &session).await?;
    let (discovered, managed): (Vec<&Instance>, Vec<&Instance>) = listing.items.iter().partition(|i| i.state == InstanceState::Discovered);
    let page = InstancesPage {
        nav: nav(),
        managed: managed.into_iter().map(|i| row(i, &nodes)).collect(),
        discovered: discovered.into_iter().map(|i| row(i, &nodes)).collect(),
        next_page: listing.next_offset.map(|o| format!("/ui/instances?offset={o}")),
    };
    Ok(render(StatusCode::OK, &page))
}

struct InstanceView {
    row: InstanceRow,
    managed: bool,
    org_id: String,
    container_id: String,
    image: String,
    reasons: Vec<String>,
    discovered: String,
    taken_over: Option<String>,
    phrase: String,
    /// Containers exist to act on (managed), or leftovers may (a failed deploy).
    can_act: bool,
    can_remove: bool,
    reason: Option<String>,
    health_summary: Option<String>,
    health_detail: Option<String>,
    job_id: Option<String>,
}

#[derive(Template)]
#[template(path = "instance.html")]
struct InstanceDetailPage {
    nav: Option<Nav>,
    inst: InstanceView,
    notice: Option<String>,
    phrase_value: String,
    errors: FormErrors,
    /// Versions, upgrade plans, read commands and assignments.
    ops: super::instance_ops::OpsView,
}

#[derive(Deserialize, Default)]
struct InstanceParams {
    notice: Option<String>,
}

async fn instance_page(
    State(s): State<AppState>,
    session: UiSession,
    PageId(id): PageId,
    PageQuery(p): PageQuery<InstanceParams>,
) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("taken-over") => Some("Taken over: this instance is managed now. The container was not restarted or changed.".to_owned()),
        Some(other) => super::instance_ops::notice(other),
        None => None,
    };
    instance_view(&s, &session, &id, notice, String::new(), FormErrors::default(), StatusCode::OK).await
}

async fn instance_view(
    s: &AppState,
    session: &UiSession,
    id: &str,
    notice: Option<String>,
    phrase_value: String,
    errors: FormErrors,
    status: StatusCode,
) -> Result<Response, UiError> {
    let nav = || Some(session.nav("instances"));
    let i = s.works.instance_get(&session.actor, id).await.map_err(|e| UiError::from_core(e, nav()))?;
    let nodes = node_names(s, session).await?;
    let inst = InstanceView {
        row: row(&i, &nodes),
        managed: i.state != InstanceState::Discovered,
        org_id: i.org_id.clone().unwrap_or_default(),
        container_id: i.container_id.clone(),
        image: i.image.clone(),
        reasons: i.reasons.clone(),
        discovered: when(&i.discovered_at),
        taken_over: match (&i.taken_over_by, &i.taken_over_at) {
            (Some(by), Some(at)) => Some(format!("{by}, {}", when(at))),
            _ => None,
        },
        phrase: i.takeover_phrase.clone().unwrap_or_default(),
        can_act: i.state == InstanceState::Managed,
        can_remove: matches!(i.state, InstanceState::Managed | InstanceState::Failed),
        reason: i.reason.clone(),
        health_summary: i.health_detail.as_ref().and_then(|d| d.get("summary")).and_then(|s| s.as_str()).map(str::to_owned),
        health_detail: i.health_detail.as_ref().and_then(|d| serde_json::to_string_pretty(d).ok()),
        job_id: i.job_id.clone(),
    };
    let ops = super::instance_ops::view(s, session, &i).await?;
    let page = InstanceDetailPage { nav: nav(), inst, notice, phrase_value, errors, ops };
    Ok(render(status, &page))
}

/// The instance's page again, with the problems of a refused form.
pub(super) async fn rerender(s: &AppState, session: &UiSession, id: &str, phrase_value: String, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    instance_view(s, session, id, None, phrase_value, errors, status).await
}

#[derive(Deserialize)]
struct TakeoverForm {
    #[serde(default)]
    phrase: String,
}

async fn instance_takeover(State(s): State<AppState>, PageId(id): PageId, form: UiForm<TakeoverForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.instance_takeover(&session.actor, &id, TakeoverInput { phrase: fields.phrase.clone() }).await {
        Ok(i) => Ok(see_other(&format!("/ui/instances/{}?notice=taken-over", i.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["phrase"], || session.nav("instances"))?;
            instance_view(&s, &session, &id, None, fields.phrase, errors, status).await
        }
    }
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    action: String,
}

/// Health check, logs, restart or removal: each requests a job and opens its page, where
/// risky work shows the phrase to type.
async fn instance_action(State(s): State<AppState>, PageId(id): PageId, form: UiForm<ActionForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let actor = &session.actor;
    let job = match fields.action.as_str() {
        "health" => s.works.instance_health_check(actor, &id).await,
        "logs" => s.works.instance_logs(actor, &id, LogsInput { lines: Some(200) }).await,
        "restart" => s.works.instance_restart(actor, &id).await,
        "remove" => s.works.instance_remove(actor, &id).await,
        _ => Err(Error::invalid("action", "must be health, logs, restart or remove")),
    }
    .map_err(|e| UiError::from_core(e, Some(session.nav("instances"))))?;
    Ok(see_other(&format!("/ui/jobs/{}?notice=requested", job.id)))
}

#[derive(Deserialize)]
struct DeployForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    with_cli: Option<String>,
}

/// Deploy OpenClaw to a node: the instance is created and its deploy job waits for the
/// phrase on the job's page.
async fn node_deploy(State(s): State<AppState>, PageId(id): PageId, form: UiForm<DeployForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let version = Some(fields.version.trim().to_owned()).filter(|v| !v.is_empty());
    let input = DeployInput { node_id: id, version, with_cli: fields.with_cli.is_some(), gateway_port: None };
    let d = s.works.instance_deploy(&session.actor, input).await.map_err(|e| UiError::from_core(e, Some(session.nav("nodes"))))?;
    Ok(see_other(&format!("/ui/jobs/{}?notice=requested", d.job.id)))
}

/// Is the node ready for OpenClaw? Opens the readiness job, whose output lists each check.
async fn node_readiness(State(s): State<AppState>, PageId(id): PageId, form: UiForm<DeployForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let version = Some(fields.version.trim().to_owned()).filter(|v| !v.is_empty());
    let job = s
        .works
        .node_openclaw_readiness(&session.actor, &id, works_core::ReadinessInput { version, gateway_port: None })
        .await
        .map_err(|e| UiError::from_core(e, Some(session.nav("nodes"))))?;
    Ok(see_other(&format!("/ui/jobs/{}?notice=requested", job.id)))
}
