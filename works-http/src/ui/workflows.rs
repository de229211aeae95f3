//! Pages of capabilities, permissions, connections and workflows: the catalog, who may
//! use what, the run view with its step-by-step log, and the typed approval of a paused
//! step. Every form is the same core call as its JSON route.

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use works_core::{access, ApproveRun, ConnectionQuery, Error, OrgQuery, PermissionQuery, RunMode, RunQuery, RunState, StartRun, WorkflowQuery, WorkflowRun};

use super::{render, see_other, when, FormErrors, Nav, PageId, PageQuery, UiError, UiForm, UiSession, PAGE_SIZE};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/capabilities", get(capabilities_page))
        .route("/ui/permissions", get(permissions_page))
        .route("/ui/permissions/{id}/disable", post(permission_disable))
        .route("/ui/permissions/{id}/enable", post(permission_enable))
        .route("/ui/connections", get(connections_page))
        .route("/ui/workflows", get(workflows_page))
        .route("/ui/workflows/{id}", get(workflow_page))
        .route("/ui/workflows/{id}/runs", post(run_start))
        .route("/ui/workflows/{id}/runs/{run_id}", get(run_page))
        .route("/ui/workflows/{id}/runs/{run_id}/approve", post(run_approve))
}

/// `{id}` and `{run_id}` of a run page.
struct RunIds(String, String);

impl<S: Send + Sync> FromRequestParts<S> for RunIds {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|p| RunIds(p.0 .0, p.0 .1))
            .map_err(|_| UiError::from_core(Error::not_found("workflow run", "?"), None))
    }
}

fn nav(session: &UiSession) -> Option<Nav> {
    Some(session.nav("workflows"))
}

struct CapRow {
    name: String,
    description: String,
    kind: String,
    provider: String,
    actions: String,
}

struct PackRow {
    id: String,
    name: String,
    description: String,
    capabilities: String,
}

#[derive(Template)]
#[template(path = "capabilities.html")]
struct CapabilitiesPage {
    nav: Option<Nav>,
    caps: Vec<CapRow>,
    packs: Vec<PackRow>,
}

async fn capabilities_page(State(s): State<AppState>, session: UiSession) -> Result<Response, UiError> {
    let caps = s.works.capability_list(&session.actor).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let packs = s.works.pack_list(&session.actor).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let page = CapabilitiesPage {
        nav: nav(&session),
        caps: caps
            .iter()
            .map(|c| CapRow {
                name: c.name.clone(),
                description: c.description.clone(),
                kind: format!("{:?}", c.kind).to_lowercase(),
                provider: c.provider.map(|p| p.label().to_owned()).unwrap_or_else(|| "no".into()),
                actions: c.actions.iter().map(|a| format!("{} ({})", a.label, a.risk)).collect::<Vec<_>>().join(", "),
            })
            .collect(),
        packs: packs.iter().map(|p| PackRow { id: p.id.clone(), name: p.name.clone(), description: p.description.clone(), capabilities: p.capabilities.join(", ") }).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

struct PermRow {
    id: String,
    org: String,
    capability: String,
    actions: String,
    max_risk: String,
    confirmation: String,
    state: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "permissions.html")]
struct PermissionsPage {
    nav: Option<Nav>,
    rows: Vec<PermRow>,
    manage: bool,
    notice: Option<String>,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
struct NoticeParams {
    notice: Option<String>,
}

async fn permissions_view(s: &AppState, session: &UiSession, notice: Option<String>, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    let list = s.works.permission_list(&session.actor, PermissionQuery { limit: Some(500), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let orgs = s.works.org_list(&session.actor, OrgQuery { limit: Some(500), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let org_name = |id: &str| orgs.items.iter().find(|o| o.id == id).map(|o| o.name.clone()).unwrap_or_else(|| id.to_owned());
    let rows = list
        .items
        .iter()
        .map(|p| PermRow {
            id: p.id.clone(),
            org: org_name(&p.org_id),
            capability: works_core::capabilities::find(&p.capability_id).map(|c| c.name.clone()).unwrap_or_else(|| p.capability_id.clone()),
            actions: if p.allowed_actions.is_empty() { "none".into() } else { p.allowed_actions.join(", ") },
            max_risk: p.max_risk.to_string(),
            confirmation: match (p.require_confirmation, p.approvers_required) {
                (false, _) => "none".into(),
                (true, 2) => "two people".into(),
                (true, _) => "one person".into(),
            },
            state: if p.enabled { "enabled".into() } else { "disabled".into() },
            enabled: p.enabled,
        })
        .collect();
    let manage = session.actor.is_msp() || session.actor.org_id.as_deref().is_some_and(|o| access::require_policy_manager(&session.actor, o).is_ok());
    Ok(render(status, &PermissionsPage { nav: nav(session), rows, manage, notice, errors }))
}

async fn permissions_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("disabled") => Some("Disabled: every step of that capability is blocked until it is enabled again.".to_owned()),
        Some("enabled") => Some("Enabled.".to_owned()),
        _ => None,
    };
    permissions_view(&s, &session, notice, FormErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct EmptyForm {}

async fn permission_disable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    let UiForm { session, .. } = form;
    match s.works.permission_disable(&session.actor, &id).await {
        Ok(_) => Ok(see_other("/ui/permissions?notice=disabled")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("workflows"))?;
            permissions_view(&s, &session, None, errors, status).await
        }
    }
}

async fn permission_enable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    let UiForm { session, .. } = form;
    match s.works.permission_enable(&session.actor, &id).await {
        Ok(_) => Ok(see_other("/ui/permissions?notice=enabled")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("workflows"))?;
            permissions_view(&s, &session, None, errors, status).await
        }
    }
}

struct ConnRow {
    name: String,
    provider: String,
    status: String,
    capabilities: String,
    credential: String,
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    nav: Option<Nav>,
    rows: Vec<ConnRow>,
}

async fn connections_page(State(s): State<AppState>, session: UiSession) -> Result<Response, UiError> {
    let list = s.works.connection_list(&session.actor, ConnectionQuery { limit: Some(500), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let rows = list
        .items
        .iter()
        .map(|c| ConnRow {
            name: c.name.clone(),
            provider: c.provider.label().to_owned(),
            status: c.status.as_str().to_owned(),
            capabilities: if c.capabilities.is_empty() { "none".into() } else { c.capabilities.join(", ") },
            credential: if c.has_credential { "stored, sealed".into() } else { "none".into() },
        })
        .collect();
    Ok(render(StatusCode::OK, &ConnectionsPage { nav: nav(&session), rows }))
}

struct WorkflowRow {
    id: String,
    name: String,
    steps: usize,
    owner: String,
}

#[derive(Template)]
#[template(path = "workflows.html")]
struct WorkflowsPage {
    nav: Option<Nav>,
    rows: Vec<WorkflowRow>,
}

async fn workflows_page(State(s): State<AppState>, session: UiSession) -> Result<Response, UiError> {
    let list = s.works.workflow_list(&session.actor, WorkflowQuery { limit: Some(PAGE_SIZE), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let rows = list.items.iter().map(|w| WorkflowRow { id: w.id.clone(), name: w.name.clone(), steps: w.steps.len(), owner: w.owner_name.clone() }).collect();
    Ok(render(StatusCode::OK, &WorkflowsPage { nav: nav(&session), rows }))
}

struct RunRow {
    id: String,
    started: String,
    mode: String,
    state: String,
    by: String,
}

#[derive(Template)]
#[template(path = "workflow.html")]
struct WorkflowPage {
    nav: Option<Nav>,
    id: String,
    name: String,
    description: String,
    steps: Vec<String>,
    runs: Vec<RunRow>,
    errors: FormErrors,
}

async fn workflow_view(s: &AppState, session: &UiSession, id: &str, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    let w = s.works.workflow_get(&session.actor, id).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let runs = s.works.run_list(&session.actor, id, RunQuery { limit: Some(PAGE_SIZE), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let steps = w
        .steps
        .iter()
        .map(|st| {
            let cap = works_core::capabilities::find(&st.capability_id);
            let label = cap.and_then(|c| c.action(&st.action)).map(|a| format!("{} ({} risk)", a.label, a.risk)).unwrap_or_else(|| st.action.clone());
            format!("{} with {}", label, cap.map(|c| c.name.clone()).unwrap_or_else(|| st.capability_id.clone()))
        })
        .collect();
    let runs = runs.items.iter().map(|r| RunRow { id: r.id.clone(), started: when(&r.created_at), mode: r.mode.as_str().to_owned(), state: r.state.label().to_owned(), by: r.started_by.clone() }).collect();
    Ok(render(status, &WorkflowPage { nav: nav(session), id: w.id, name: w.name, description: w.description, steps, runs, errors }))
}

async fn workflow_page(State(s): State<AppState>, session: UiSession, PageId(id): PageId) -> Result<Response, UiError> {
    workflow_view(&s, &session, &id, FormErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct RunForm {
    #[serde(default)]
    mode: String,
}

async fn run_start(State(s): State<AppState>, PageId(id): PageId, form: UiForm<RunForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let mode = if fields.mode == "live" { RunMode::Live } else { RunMode::Simulation };
    let works = s.works.clone();
    let (actor, wf) = (session.actor.clone(), id.clone());
    // In a task of its own, so a closed browser tab does not stop a run half-way.
    let started = tokio::spawn(async move { works.run_start(&actor, &wf, StartRun { mode }).await })
        .await
        .unwrap_or_else(|_| Err(Error::internal("The run stopped unexpectedly; see the server log.")));
    match started {
        Ok(run) => Ok(see_other(&format!("/ui/workflows/{}/runs/{}", run.workflow_id, run.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("workflows"))?;
            workflow_view(&s, &session, &id, errors, status).await
        }
    }
}

struct StepView {
    title: String,
    outcome: String,
    label: String,
    rule: String,
    reason: String,
    approvals: String,
    files: Vec<String>,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    nav: Option<Nav>,
    id: String,
    workflow_id: String,
    workflow_name: String,
    state: String,
    mode: String,
    reason: String,
    started: String,
    started_by: String,
    steps: Vec<StepView>,
    phrase: String,
    approval_step: u32,
    approval_note: String,
    phrase_value: String,
    notice: Option<String>,
    errors: FormErrors,
}

fn run_view_of(r: &WorkflowRun, session: &UiSession, notice: Option<String>, phrase_value: String, errors: FormErrors) -> RunPage {
    let waiting = (r.state == RunState::AwaitingApproval).then(|| r.current()).flatten();
    RunPage {
        nav: nav(session),
        id: r.id.clone(),
        workflow_id: r.workflow_id.clone(),
        workflow_name: r.workflow_name.clone(),
        state: r.state.label().to_owned(),
        mode: r.mode.as_str().to_owned(),
        reason: r.reason.clone(),
        started: when(&r.created_at),
        started_by: r.started_by.clone(),
        steps: r
            .steps
            .iter()
            .map(|s| StepView {
                title: format!("Step {}: {} {}", s.number, s.capability_id, s.action),
                outcome: s.outcome.as_str().replace('_', " "),
                label: s.label.map(|l| l.as_str().to_owned()).unwrap_or_default(),
                rule: s.rule.map(|r| r.as_str().to_owned()).unwrap_or_default(),
                reason: s.reason.clone(),
                approvals: s.approvals.iter().map(|a| format!("{} ({})", a.by_name, when(&a.at))).collect::<Vec<_>>().join(", "),
                files: s
                    .output
                    .as_ref()
                    .and_then(|o| o.get("files"))
                    .and_then(|f| f.as_array())
                    .map(|fs| fs.iter().take(100).filter_map(|f| f.get("name").and_then(|n| n.as_str()).map(str::to_owned)).collect())
                    .unwrap_or_default(),
            })
            .collect(),
        phrase: waiting.and_then(|s| s.approval_phrase.clone()).unwrap_or_default(),
        approval_step: waiting.map(|s| s.number).unwrap_or_default(),
        approval_note: waiting
            .map(|s| {
                if s.approvers_required >= 2 {
                    format!("This step needs two different approvers, neither of them the person who started the run ({} of 2 so far). Type this phrase exactly:", s.approvals.len())
                } else {
                    "This step waits for a person to confirm it. Type this phrase exactly:".to_owned()
                }
            })
            .unwrap_or_default(),
        phrase_value,
        notice,
        errors,
    }
}

async fn run_page(State(s): State<AppState>, session: UiSession, RunIds(id, run_id): RunIds, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let r = s.works.run_get(&session.actor, &id, &run_id).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let notice = match p.notice.as_deref() {
        Some("approved") => Some("Approved.".to_owned()),
        _ => None,
    };
    Ok(render(StatusCode::OK, &run_view_of(&r, &session, notice, String::new(), FormErrors::default())))
}

#[derive(Deserialize)]
struct ApproveForm {
    #[serde(default)]
    phrase: String,
}

async fn run_approve(State(s): State<AppState>, RunIds(id, run_id): RunIds, form: UiForm<ApproveForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let works = s.works.clone();
    let (actor, wf, run, phrase) = (session.actor.clone(), id.clone(), run_id.clone(), fields.phrase.clone());
    let approved = tokio::spawn(async move { works.run_approve(&actor, &wf, &run, ApproveRun { phrase }).await })
        .await
        .unwrap_or_else(|_| Err(Error::internal("The run stopped unexpectedly; see the server log.")));
    match approved {
        Ok(r) => Ok(see_other(&format!("/ui/workflows/{}/runs/{}?notice=approved", r.workflow_id, r.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["phrase"], || session.nav("workflows"))?;
            let r = s.works.run_get(&session.actor, &id, &run_id).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
            Ok(render(status, &run_view_of(&r, &session, None, fields.phrase, errors)))
        }
    }
}
