//! Pages of nodes and jobs: the roster of machines with their status and why, one
//! node's health and containers, enrollment, and the jobs with their state, attempts,
//! timeout window and reason. Every form is the same core call as its JSON route; what
//! agents report (container names, images, labels, output) is always escaped.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use works_core::{
    ApproveJob, Container, Error, Job, JobKind, JobQuery, JobState, NewJob, NewNode, Node, NodeHealth, NodeQuery,
    NodeStatus, OrgQuery, RenameNode, Risk,
};

use super::{
    empty_to_none, render, see_other, when, Choice, FormErrors, Nav, NoFields, PageId, PageQuery, UiError, UiForm,
    UiSession, PAGE_SIZE,
};
use crate::AppState;

/// Where the agent keeps its credential, as suggested in the enrollment command.
const SUGGESTED_STATE_DIR: &str = "/var/lib/works-agent";
/// Shown for a node of no organization.
const SHARED: &str = "Shared MSP infrastructure";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/nodes", get(nodes_page).post(node_create))
        .route("/ui/nodes/{id}", get(node_page))
        .route("/ui/nodes/{id}/rename", post(node_rename))
        .route("/ui/nodes/{id}/enrollment-token", post(enrollment_token))
        .route("/ui/nodes/{id}/jobs", post(node_job_request))
        .route("/ui/nodes/{id}/retire", get(node_retire_confirm).post(node_retire))
        .route("/ui/nodes/{id}/revoke-agent", post(agent_revoke))
        .route("/ui/jobs", get(jobs_page))
        .route("/ui/jobs/{id}", get(job_page))
        .route("/ui/jobs/{id}/approve", post(job_approve))
        .route("/ui/jobs/{id}/cancel", post(job_cancel))
        .route("/ui/jobs/{id}/retry", post(job_retry))
}

// ---------------------------------------------------------------------------------
// Plain words for what the core answers.

fn status_label(s: NodeStatus) -> &'static str {
    match s {
        NodeStatus::Online => "Online",
        NodeStatus::Stale => "Stale",
        NodeStatus::Offline => "Offline",
    }
}

fn status_class(s: NodeStatus) -> &'static str {
    match s {
        NodeStatus::Online => "ok",
        NodeStatus::Stale => "warn",
        NodeStatus::Offline => "bad",
    }
}

fn kind_label(k: JobKind) -> &'static str {
    match k {
        JobKind::HealthCheck => "Health check",
        JobKind::Logs => "Logs",
        JobKind::InventoryRefresh => "Inventory refresh",
        JobKind::Deploy => "Deploy OpenClaw",
        JobKind::Restart => "Restart OpenClaw",
        JobKind::Remove => "Remove OpenClaw",
        JobKind::Takeover => "Take over existing OpenClaw",
        JobKind::AgentInstall => "Install the agent",
        JobKind::CliCommand => "OpenClaw read command",
    }
}

fn state_class(s: JobState) -> &'static str {
    match s {
        JobState::Succeeded => "ok",
        JobState::Failed | JobState::TimedOut => "bad",
        JobState::AwaitingApproval => "warn",
        JobState::Cancelled => "muted",
        JobState::Requested | JobState::Queued | JobState::Claimed | JobState::Running => "info",
    }
}

/// `90 seconds`, `15 minutes`.
fn seconds(secs: u32) -> String {
    if secs < 120 {
        format!("{secs} seconds")
    } else {
        format!("{} minutes", secs / 60)
    }
}

fn uptime(secs: u64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let unit = |n: u64, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
    match (days, hours) {
        (0, 0) => unit(minutes, "minute"),
        (0, h) => format!("{}, {}", unit(h, "hour"), unit(minutes, "minute")),
        (d, h) => format!("{}, {}", unit(d, "day"), unit(h, "hour")),
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("bytes");
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {name}")
    }
}

fn org_name(orgs: &[Choice], org_id: &Option<String>) -> String {
    match org_id {
        None => SHARED.to_owned(),
        Some(id) => orgs
            .iter()
            .find(|o| &o.value == id)
            .map(|o| o.label.clone())
            .unwrap_or_else(|| "(an organization you cannot see)".to_owned()),
    }
}

/// The organizations the actor can see, archived ones included, for naming them.
async fn org_choices(s: &AppState, session: &UiSession, nav: &str) -> Result<Vec<(Choice, bool)>, UiError> {
    let orgs = s
        .works
        .org_list(&session.actor, OrgQuery { include_archived: true, offset: None, limit: Some(500) })
        .await
        .map_err(|e| UiError::from_core(e, Some(session.nav(section(nav)))))?;
    Ok(orgs
        .items
        .into_iter()
        .map(|o| (Choice { value: o.id, label: o.name }, o.archived_at.is_some()))
        .collect())
}

fn section(nav: &str) -> &'static str {
    if nav == "jobs" {
        "jobs"
    } else {
        "nodes"
    }
}

// ---------------------------------------------------------------------------------
// Nodes.

struct NodeRow {
    id: String,
    name: String,
    org: String,
    status: &'static str,
    status_label: &'static str,
    status_reason: String,
    last_checkin: String,
    retired: Option<String>,
}

fn node_row(n: &Node, orgs: &[Choice]) -> NodeRow {
    NodeRow {
        id: n.id.clone(),
        name: n.name.clone(),
        org: org_name(orgs, &n.org_id),
        status: status_class(n.status),
        status_label: status_label(n.status),
        status_reason: n.status_reason.clone(),
        last_checkin: n.last_checkin_at.as_ref().map(when).unwrap_or_else(|| "Never".to_owned()),
        retired: n.retired_at.as_ref().map(when),
    }
}

#[derive(Default)]
struct NodeFormValues {
    name: String,
    org_id: String,
}

#[derive(Template)]
#[template(path = "nodes.html")]
struct NodesPage {
    nav: Option<Nav>,
    nodes: Vec<NodeRow>,
    include_retired: bool,
    next_page: Option<String>,
    can_add: bool,
    /// Whether "Shared MSP infrastructure" is offered in the form.
    can_add_shared: bool,
    orgs: Vec<Choice>,
    form: NodeFormValues,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
struct NodesParams {
    retired: Option<bool>,
    offset: Option<u32>,
}

async fn nodes_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<NodesParams>) -> Result<Response, UiError> {
    // An organization admin's form starts on their own organization.
    let form = NodeFormValues { name: String::new(), org_id: session.actor.org_id.clone().unwrap_or_default() };
    nodes_view(&s, &session, p, form, FormErrors::default(), StatusCode::OK).await
}

async fn nodes_view(
    s: &AppState,
    session: &UiSession,
    p: NodesParams,
    form: NodeFormValues,
    errors: FormErrors,
    status: StatusCode,
) -> Result<Response, UiError> {
    let nav = || Some(session.nav("nodes"));
    let include_retired = p.retired.unwrap_or(false);
    let query = NodeQuery { org_id: None, include_retired, offset: p.offset, limit: Some(PAGE_SIZE) };
    let listing = s.works.node_list(&session.actor, query).await.map_err(|e| UiError::from_core(e, nav()))?;
    let orgs = org_choices(s, session, "nodes").await?;
    let all: Vec<Choice> = orgs.iter().map(|(c, _)| Choice { value: c.value.clone(), label: c.label.clone() }).collect();
    let next_page = listing.next_offset.map(|o| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("offset", &o.to_string());
        if include_retired {
            q.append_pair("retired", "true");
        }
        format!("/ui/nodes?{}", q.finish())
    });
    let page = NodesPage {
        nav: nav(),
        nodes: listing.items.iter().map(|n| node_row(n, &all)).collect(),
        include_retired,
        next_page,
        can_add: works_core::access::may_manage_nodes(&session.actor),
        can_add_shared: works_core::access::may_manage_shared_nodes(&session.actor),
        orgs: orgs.into_iter().filter(|(_, archived)| !archived).map(|(c, _)| c).collect(),
        form,
        errors,
    };
    Ok(render(status, &page))
}

#[derive(Deserialize)]
struct NodeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    org_id: String,
}

async fn node_create(State(s): State<AppState>, form: UiForm<NodeForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let values = NodeFormValues { name: fields.name.clone(), org_id: fields.org_id.clone() };
    let input = NewNode { name: fields.name, org_id: empty_to_none(Some(fields.org_id)) };
    match s.works.node_create(&session.actor, input).await {
        Ok(node) => Ok(see_other(&format!("/ui/nodes/{}?notice=created", node.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["name", "org_id"], || session.nav("nodes"))?;
            nodes_view(&s, &session, NodesParams::default(), values, errors, status).await
        }
    }
}

struct HealthView {
    uptime: String,
    load: String,
    memory: String,
    disk: String,
    agent_version: String,
    docker: String,
    docker_ok: bool,
}

impl From<&NodeHealth> for HealthView {
    fn from(h: &NodeHealth) -> Self {
        HealthView {
            uptime: uptime(h.uptime_secs),
            load: format!("{:.2}", h.load1),
            memory: format!("{} free of {}", bytes(h.memory_available_bytes), bytes(h.memory_total_bytes)),
            disk: format!("{} free of {}", bytes(h.disk_available_bytes), bytes(h.disk_total_bytes)),
            agent_version: h.agent_version.clone(),
            docker: match (h.docker_reachable, &h.docker_version) {
                (true, Some(v)) => format!("Reachable, version {v}"),
                (true, None) => "Reachable".to_owned(),
                (false, _) => "Not reachable: the agent cannot talk to the Docker engine".to_owned(),
            },
            docker_ok: h.docker_reachable,
        }
    }
}

struct Label {
    key: String,
    value: String,
}

struct ContainerRow {
    name: String,
    image: String,
    state: String,
    health: Option<String>,
    running: bool,
    ports: String,
    labels: Vec<Label>,
    id: String,
}

impl From<&Container> for ContainerRow {
    fn from(c: &Container) -> Self {
        let ports = c
            .ports
            .iter()
            .map(|p| match p.host_port {
                Some(host) => format!("{host} → {}/{}", p.container_port, p.protocol),
                None => format!("{}/{}", p.container_port, p.protocol),
            })
            .collect::<Vec<_>>()
            .join(", ");
        ContainerRow {
            name: c.name.clone(),
            image: c.image.clone(),
            state: c.state.clone(),
            health: c.health.clone(),
            running: c.state == "running",
            ports,
            labels: c.labels.iter().map(|(k, v)| Label { key: k.clone(), value: v.clone() }).collect(),
            id: c.id.clone(),
        }
    }
}

struct JobRow {
    id: String,
    state: &'static str,
    state_label: &'static str,
    kind: &'static str,
    node: String,
    node_id: String,
    attempts: String,
    timeout: String,
    reason: String,
    created: String,
}

fn job_row(j: &Job, node_name: &str) -> JobRow {
    JobRow {
        id: j.id.clone(),
        state: state_class(j.state),
        state_label: j.state.label(),
        kind: kind_label(j.kind),
        node: node_name.to_owned(),
        node_id: j.node_id.clone(),
        attempts: format!("{} of {}", j.attempts, j.max_attempts),
        timeout: seconds(j.timeout_secs),
        reason: j.reason.clone().unwrap_or_default(),
        created: when(&j.created_at),
    }
}

#[derive(Template)]
#[template(path = "node.html")]
struct NodeDetailPage {
    nav: Option<Nav>,
    node: NodeRow,
    org_id: String,
    enrolled: Option<String>,
    created: String,
    health: Option<HealthView>,
    containers: Vec<ContainerRow>,
    jobs: Vec<JobRow>,
    notice: Option<String>,
    name_value: String,
    errors: FormErrors,
    logs_errors: FormErrors,
    container_value: String,
}

#[derive(Deserialize, Default)]
struct NodeParams {
    notice: Option<String>,
}

async fn node_page(
    State(s): State<AppState>,
    session: UiSession,
    PageId(id): PageId,
    PageQuery(p): PageQuery<NodeParams>,
) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("created") => Some("The node was added. Create an enrollment token to connect its agent.".to_owned()),
        Some("renamed") => Some("The node was renamed.".to_owned()),
        Some("retired") => Some("The node was retired. Its agent was cut off and it takes no new work.".to_owned()),
        Some("revoked") => Some("The agent's credential was revoked. The agent is cut off at its next call; enroll it again to reconnect.".to_owned()),
        _ => None,
    };
    node_view(&s, &session, &id, NodeViewState { notice, ..Default::default() }).await
}

/// What a node page shows besides the node: a notice, and a form sent back with its errors.
#[derive(Default)]
struct NodeViewState {
    notice: Option<String>,
    name_value: Option<String>,
    errors: FormErrors,
    logs_errors: FormErrors,
    container_value: String,
    status: Option<StatusCode>,
}

async fn node_view(s: &AppState, session: &UiSession, id: &str, v: NodeViewState) -> Result<Response, UiError> {
    let nav = || Some(session.nav("nodes"));
    let node = s.works.node_get(&session.actor, id).await.map_err(|e| UiError::from_core(e, nav()))?;
    let containers = s.works.node_containers(&session.actor, &node.id).await.map_err(|e| UiError::from_core(e, nav()))?;
    let jobs = s
        .works
        .job_list(&session.actor, JobQuery { node_id: Some(node.id.clone()), state: None, offset: None, limit: Some(10) })
        .await
        .map_err(|e| UiError::from_core(e, nav()))?;
    let orgs = org_choices(s, session, "nodes").await?;
    let orgs: Vec<Choice> = orgs.into_iter().map(|(c, _)| c).collect();
    let page = NodeDetailPage {
        nav: nav(),
        org_id: node.org_id.clone().unwrap_or_default(),
        enrolled: node.enrolled_at.as_ref().map(when),
        created: when(&node.created_at),
        health: node.health.as_ref().map(HealthView::from),
        containers: containers.iter().map(ContainerRow::from).collect(),
        jobs: jobs.items.iter().map(|j| job_row(j, &node.name)).collect(),
        notice: v.notice,
        name_value: v.name_value.unwrap_or_else(|| node.name.clone()),
        errors: v.errors,
        logs_errors: v.logs_errors,
        container_value: v.container_value,
        node: node_row(&node, &orgs),
    };
    Ok(render(v.status.unwrap_or(StatusCode::OK), &page))
}

async fn node_rename(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NodeForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.node_rename(&session.actor, &id, RenameNode { name: fields.name.clone() }).await {
        Ok(node) => Ok(see_other(&format!("/ui/nodes/{}?notice=renamed", node.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["name"], || session.nav("nodes"))?;
            let state = NodeViewState { name_value: Some(fields.name), errors, status: Some(status), ..Default::default() };
            node_view(&s, &session, &id, state).await
        }
    }
}

#[derive(Template)]
#[template(path = "node_enroll.html")]
struct EnrollPage {
    nav: Option<Nav>,
    node_id: String,
    node_name: String,
    token: String,
    expires: String,
    server: String,
    state_dir: &'static str,
}

/// The address the browser reached this server at, for the enrollment command.
fn server_address(headers: &HeaderMap, secure: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')));
    match host {
        Some(h) => format!("{}://{h}", if secure { "https" } else { "http" }),
        None => "https://SERVER-ADDRESS".to_owned(),
    }
}

async fn enrollment_token(
    State(s): State<AppState>,
    PageId(id): PageId,
    headers: HeaderMap,
    form: UiForm<NoFields>,
) -> Result<Response, UiError> {
    let session = form.session;
    let nav = || Some(session.nav("nodes"));
    let token = s.works.enrollment_token_create(&session.actor, &id).await.map_err(|e| UiError::from_core(e, nav()))?;
    let node = s.works.node_get(&session.actor, &token.node_id).await.map_err(|e| UiError::from_core(e, nav()))?;
    let page = EnrollPage {
        nav: nav(),
        node_id: node.id,
        node_name: node.name,
        token: token.token,
        expires: when(&token.expires_at),
        server: server_address(&headers, s.config.secure_cookies),
        state_dir: SUGGESTED_STATE_DIR,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct JobRequestForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    container: String,
}

async fn node_job_request(State(s): State<AppState>, PageId(id): PageId, form: UiForm<JobRequestForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let kind = match JobKind::parse(fields.kind.trim()) {
        Some(k) => k,
        None => return Err(UiError::from_core(Error::invalid("kind", "is not a kind of work this page can request"), Some(session.nav("nodes")))),
    };
    let params = if kind == JobKind::Logs {
        serde_json::json!({ "container": fields.container.trim() })
    } else {
        serde_json::json!({})
    };
    match s.works.job_request(&session.actor, NewJob { node_id: id.clone(), kind, params }).await {
        Ok(job) => Ok(see_other(&format!("/ui/jobs/{}?notice=requested", job.id))),
        Err(e) => {
            let (logs_errors, status) = FormErrors::from_submission(e, &["params"], || session.nav("nodes"))?;
            let state = NodeViewState { logs_errors, container_value: fields.container, status: Some(status), ..Default::default() };
            node_view(&s, &session, &id, state).await
        }
    }
}

#[derive(Template)]
#[template(path = "node_retire.html")]
struct RetireConfirmPage {
    nav: Option<Nav>,
    node_id: String,
    node_name: String,
}

async fn node_retire_confirm(State(s): State<AppState>, session: UiSession, PageId(id): PageId) -> Result<Response, UiError> {
    let node = s.works.node_get(&session.actor, &id).await.map_err(|e| UiError::from_core(e, Some(session.nav("nodes"))))?;
    Ok(render(StatusCode::OK, &RetireConfirmPage { nav: Some(session.nav("nodes")), node_id: node.id, node_name: node.name }))
}

async fn node_retire(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let session = form.session;
    let node = s.works.node_retire(&session.actor, &id).await.map_err(|e| UiError::from_core(e, Some(session.nav("nodes"))))?;
    Ok(see_other(&format!("/ui/nodes/{}?notice=retired", node.id)))
}

async fn agent_revoke(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let session = form.session;
    s.works.agent_revoke(&session.actor, &id).await.map_err(|e| UiError::from_core(e, Some(session.nav("nodes"))))?;
    let node = s.works.node_get(&session.actor, &id).await.map_err(|e| UiError::from_core(e, Some(session.nav("nodes"))))?;
    Ok(see_other(&format!("/ui/nodes/{}?notice=revoked", node.id)))
}

// ---------------------------------------------------------------------------------
// Jobs.

/// Names of the nodes the actor can see, for the job lists.
async fn node_names(s: &AppState, session: &UiSession) -> Result<Vec<(String, String)>, UiError> {
    let nodes = s
        .works
        .node_list(&session.actor, NodeQuery { org_id: None, include_retired: true, offset: None, limit: Some(500) })
        .await
        .map_err(|e| UiError::from_core(e, Some(session.nav("jobs"))))?;
    Ok(nodes.items.into_iter().map(|n| (n.id, n.name)).collect())
}

fn name_of<'a>(names: &'a [(String, String)], id: &'a str) -> &'a str {
    names.iter().find(|(i, _)| i == id).map(|(_, n)| n.as_str()).unwrap_or(id)
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    nav: Option<Nav>,
    jobs: Vec<JobRow>,
    state: String,
    node_id: String,
    states: Vec<Choice>,
    nodes: Vec<Choice>,
    next_page: Option<String>,
}

#[derive(Deserialize, Default)]
struct JobsParams {
    state: Option<String>,
    node_id: Option<String>,
    offset: Option<u32>,
}

async fn jobs_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<JobsParams>) -> Result<Response, UiError> {
    let nav = || Some(session.nav("jobs"));
    let state = match empty_to_none(p.state) {
        None => None,
        Some(v) => Some(JobState::parse(&v).ok_or_else(|| {
            let all: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
            UiError::from_core(Error::invalid("state", format!("must be one of {}", all.join(", "))), nav())
        })?),
    };
    let node_id = empty_to_none(p.node_id);
    let query = JobQuery { node_id: node_id.clone(), state, offset: p.offset, limit: Some(PAGE_SIZE) };
    let listing = s.works.job_list(&session.actor, query).await.map_err(|e| UiError::from_core(e, nav()))?;
    let names = node_names(&s, &session).await?;
    let next_page = listing.next_offset.map(|o| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("offset", &o.to_string());
        if let Some(st) = state {
            q.append_pair("state", st.as_str());
        }
        if let Some(n) = &node_id {
            q.append_pair("node_id", n);
        }
        format!("/ui/jobs?{}", q.finish())
    });
    let page = JobsPage {
        nav: nav(),
        jobs: listing.items.iter().map(|j| job_row(j, name_of(&names, &j.node_id))).collect(),
        state: state.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        node_id: node_id.unwrap_or_default(),
        states: JobState::ALL.iter().map(|s| Choice { value: s.as_str().to_owned(), label: s.label().to_owned() }).collect(),
        nodes: names.into_iter().map(|(value, label)| Choice { value, label }).collect(),
        next_page,
    };
    Ok(render(StatusCode::OK, &page))
}

struct JobView {
    row: JobRow,
    org: String,
    risky: bool,
    requested_by: String,
    approved: Option<String>,
    claimed: Option<String>,
    deadline: Option<String>,
    expires: Option<String>,
    finished: Option<String>,
    waiting_for_approval: bool,
    phrase: String,
    can_cancel: bool,
    can_retry: bool,
    retry_of: Option<String>,
    output: Option<String>,
    org_id: String,
    params: String,
    result: Option<String>,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobDetailPage {
    nav: Option<Nav>,
    job: JobView,
    notice: Option<String>,
    phrase_value: String,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
struct JobParams {
    notice: Option<String>,
}

async fn job_page(
    State(s): State<AppState>,
    session: UiSession,
    PageId(id): PageId,
    PageQuery(p): PageQuery<JobParams>,
) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("requested") => Some("The work was requested.".to_owned()),
        Some("approved") => Some("Approved. The job waits for the node's agent to pick it up.".to_owned()),
        Some("cancelled") => Some("The job was cancelled.".to_owned()),
        Some("retried") => Some("This is a new attempt of the earlier job.".to_owned()),
        _ => None,
    };
    job_view(&s, &session, &id, notice, String::new(), FormErrors::default(), StatusCode::OK).await
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

async fn job_view(
    s: &AppState,
    session: &UiSession,
    id: &str,
    notice: Option<String>,
    phrase_value: String,
    errors: FormErrors,
    status: StatusCode,
) -> Result<Response, UiError> {
    let nav = || Some(session.nav("jobs"));
    let job = s.works.job_get(&session.actor, id).await.map_err(|e| UiError::from_core(e, nav()))?;
    let node_name = match s.works.node_get(&session.actor, &job.node_id).await {
        Ok(n) => n.name,
        Err(_) => job.node_id.clone(),
    };
    let orgs = org_choices(s, session, "jobs").await?;
    let orgs: Vec<Choice> = orgs.into_iter().map(|(c, _)| c).collect();
    let view = JobView {
        row: job_row(&job, &node_name),
        org: org_name(&orgs, &job.org_id),
        risky: job.risk == Risk::Risky,
        requested_by: job.requested_by.clone(),
        approved: match (&job.approved_by, &job.approved_at) {
            (Some(by), Some(at)) => Some(format!("{by}, {}", when(at))),
            (Some(by), None) => Some(by.clone()),
            _ => None,
        },
        claimed: job.claimed_at.as_ref().map(when),
        deadline: job.deadline_at.as_ref().filter(|_| !job.state.is_final()).map(when),
        expires: (!job.state.is_final() && job.deadline_at.is_none()).then(|| when(&job.expires_at)),
        finished: job.finished_at.as_ref().map(when),
        waiting_for_approval: job.state == JobState::AwaitingApproval,
        phrase: job.approval_phrase.clone().unwrap_or_default(),
        can_cancel: job.state.can_be_cancelled(),
        can_retry: job.state.can_be_retried(),
        retry_of: job.retry_of.clone(),
        output: job.output.clone(),
        org_id: job.org_id.clone().unwrap_or_default(),
        params: pretty(&job.params),
        result: job.result.as_ref().map(pretty),
    };
    let page = JobDetailPage { nav: nav(), job: view, notice, phrase_value, errors };
    Ok(render(status, &page))
}

#[derive(Deserialize)]
struct ApproveForm {
    #[serde(default)]
    phrase: String,
}

async fn job_approve(State(s): State<AppState>, PageId(id): PageId, form: UiForm<ApproveForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.job_approve(&session.actor, &id, ApproveJob { phrase: fields.phrase.clone() }).await {
        Ok(job) => Ok(see_other(&format!("/ui/jobs/{}?notice=approved", job.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["phrase"], || session.nav("jobs"))?;
            job_view(&s, &session, &id, None, fields.phrase, errors, status).await
        }
    }
}

async fn job_cancel(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let session = form.session;
    match s.works.job_cancel(&session.actor, &id).await {
        Ok(job) => Ok(see_other(&format!("/ui/jobs/{}?notice=cancelled", job.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("jobs"))?;
            job_view(&s, &session, &id, None, String::new(), errors, status).await
        }
    }
}

async fn job_retry(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let session = form.session;
    match s.works.job_retry(&session.actor, &id).await {
        Ok(job) => Ok(see_other(&format!("/ui/jobs/{}?notice=retried", job.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("jobs"))?;
            job_view(&s, &session, &id, None, String::new(), errors, status).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn nav() -> Option<Nav> {
        Some(Nav { username: "admin".into(), role: "MSP admin", csrf: "tok".into(), section: "nodes", msp: true })
    }

    #[test]
    fn plain_words_for_numbers() {
        assert_eq!(seconds(60), "60 seconds");
        assert_eq!(seconds(900), "15 minutes");
        assert_eq!(uptime(59), "0 minutes");
        assert_eq!(uptime(3 * 3600 + 61), "3 hours, 1 minute");
        assert_eq!(uptime(2 * 86_400 + 3600), "2 days, 1 hour");
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GB");
    }

    #[test]
    fn container_names_images_and_labels_are_escaped() {
        let c = Container {
            id: "abc".into(),
            name: "$(rm -rf /)<b>".into(),
            image: "evil\"><img src=x onerror=alert(1)>".into(),
            state: "running".into(),
            health: None,
            labels: BTreeMap::from([("<script>alert(1)</script>".to_owned(), "<script>alert(2)</script>".to_owned())]),
            ports: vec![],
            mounts: vec![],
        };
        let page = NodeDetailPage {
            nav: nav(),
            node: NodeRow {
                id: "n1".into(),
                name: "web-01".into(),
                org: SHARED.into(),
                status: "ok",
                status_label: "Online",
                status_reason: "The agent checked in 5 seconds ago.".into(),
                last_checkin: "now".into(),
                retired: None,
            },
            org_id: String::new(),
            enrolled: None,
            created: "now".into(),
            health: None,
            containers: vec![ContainerRow::from(&c)],
            jobs: vec![],
            notice: None,
            name_value: "web-01".into(),
            errors: FormErrors::default(),
            logs_errors: FormErrors::default(),
            container_value: String::new(),
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("$(rm -rf /)"), "{html}");
        assert!(html.contains(r#"name="csrf_token" value="tok""#), "{html}");
    }

    #[test]
    fn the_enrollment_command_names_this_server() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "works.example.net:8443".parse().unwrap());
        assert_eq!(server_address(&h, true), "https://works.example.net:8443");
        h.insert(header::HOST, "bad host\"".parse().unwrap());
        assert_eq!(server_address(&h, false), "https://SERVER-ADDRESS");
    }
}
