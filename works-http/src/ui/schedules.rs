//! The schedules page at `/ui/schedules`: the schedules the person may see with their
//! next fire time in their own time zone and what the last fire did, a form to add one,
//! and enable/disable/delete. Every form is the same core call as its JSON route.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use works_core::{Error, JobKind, NewSchedule, NodeQuery, RunMode, Schedule, ScheduleQuery, ScheduleTarget, ScheduleUpdate, WorkflowQuery};

use super::{render, see_other, when, FormErrors, Nav, PageId, PageQuery, UiError, UiForm, UiSession, PAGE_SIZE};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/schedules", get(schedules_page).post(schedule_create))
        .route("/ui/schedules/{id}/enable", post(schedule_enable))
        .route("/ui/schedules/{id}/disable", post(schedule_disable))
        .route("/ui/schedules/{id}/delete", post(schedule_delete))
}

/// The fields of the form, named as the core names them in its errors.
const FIELDS: &[&str] = &["name", "cron", "time_zone", "target.workflow_id", "target.job_kind", "target.node_ids", "org_id"];

struct ScheduleRow {
    id: String,
    name: String,
    what: String,
    cron: String,
    time_zone: String,
    enabled: bool,
    next: String,
    last: String,
    owner: String,
}

impl ScheduleRow {
    fn new(s: &Schedule, workflows: &[(String, String)]) -> Self {
        let what = match &s.target {
            ScheduleTarget::Workflow { workflow_id, mode } => {
                let name = workflows.iter().find(|(id, _)| id == workflow_id).map(|(_, n)| n.clone()).unwrap_or_else(|| workflow_id.clone());
                format!("Workflow {name} ({})", mode.as_str())
            }
            ScheduleTarget::Job { job_kind, node_ids } => format!("{} on {} node(s)", capitalised(job_kind.verb()), node_ids.len()),
        };
        let last = match (&s.last_fire_at, &s.last_outcome) {
            (Some(at), Some(o)) => format!("{}: {o}", when(at)),
            (Some(at), None) => when(at),
            _ => "Not fired yet.".to_owned(),
        };
        ScheduleRow {
            id: s.id.clone(),
            name: s.name.clone(),
            what,
            cron: s.cron.clone(),
            time_zone: s.time_zone.clone(),
            enabled: s.enabled,
            next: s.next_fire_local().unwrap_or_else(|| "—".to_owned()),
            last,
            owner: s.owner_name.clone(),
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct SchedulesPage {
    nav: Option<Nav>,
    schedules: Vec<ScheduleRow>,
    /// (id, name) of the workflows the person may schedule.
    workflows: Vec<(String, String)>,
    /// (id, name) of the nodes the person may see.
    nodes: Vec<(String, String)>,
    notice: Option<String>,
    form: ScheduleForm,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
struct Params {
    notice: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
struct ScheduleForm {
    #[serde(default)]
    name: String,
    /// `workflow`, or a safe job kind.
    #[serde(default)]
    target: String,
    #[serde(default)]
    workflow_id: String,
    #[serde(default)]
    mode: String,
    /// Node ids separated by commas or spaces.
    #[serde(default)]
    node_ids: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    time_zone: String,
}

async fn schedules_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<Params>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("added") => Some("Schedule added. It fires at the next time its cron expression names, in its time zone.".to_owned()),
        Some("enabled") => Some("Schedule enabled. It fires next at the time shown; times it was off are not made up.".to_owned()),
        Some("disabled") => Some("Schedule disabled. It does not fire until it is enabled again.".to_owned()),
        Some("deleted") => Some("Schedule deleted. The runs and jobs it started stay on record.".to_owned()),
        _ => None,
    };
    let form = ScheduleForm { target: "workflow".into(), mode: "simulation".into(), time_zone: "UTC".into(), ..Default::default() };
    view(&s, &session, notice, form, FormErrors::default(), StatusCode::OK).await
}

async fn view(s: &AppState, session: &UiSession, notice: Option<String>, form: ScheduleForm, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    let nav = || Some(session.nav("schedules"));
    let schedules = s.works.schedule_list(&session.actor, ScheduleQuery { limit: Some(PAGE_SIZE), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav()))?;
    let workflows = s.works.workflow_list(&session.actor, WorkflowQuery { limit: Some(500), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav()))?;
    let workflows: Vec<(String, String)> = workflows.items.iter().map(|w| (w.id.clone(), w.name.clone())).collect();
    let nodes = match s.works.node_list(&session.actor, NodeQuery { limit: Some(500), ..Default::default() }).await {
        Ok(l) => l.items.iter().map(|n| (n.id.clone(), n.name.clone())).collect(),
        Err(_) => Vec::new(),
    };
    let page = SchedulesPage { nav: nav(), schedules: schedules.items.iter().map(|x| ScheduleRow::new(x, &workflows)).collect(), workflows, nodes, notice, form, errors };
    Ok(render(status, &page))
}

/// The core's input from the form; the organization is the one of the chosen workflow
/// or of the first node.
async fn input_of(s: &AppState, session: &UiSession, f: &ScheduleForm) -> Result<NewSchedule, Error> {
    let (target, org_id) = if f.target == "workflow" {
        if f.workflow_id.trim().is_empty() {
            return Err(Error::invalid("target.workflow_id", "choose the workflow to run"));
        }
        let w = s.works.workflow_get(&session.actor, f.workflow_id.trim()).await.map_err(|_| Error::invalid("target.workflow_id", "is not a workflow you can see"))?;
        let mode = if f.mode == "live" { RunMode::Live } else { RunMode::Simulation };
        (ScheduleTarget::Workflow { workflow_id: w.id, mode }, Some(w.org_id))
    } else {
        let kind = JobKind::parse(f.target.trim()).ok_or_else(|| Error::invalid("target.job_kind", "choose a workflow or one of health_check, logs, inventory_refresh"))?;
        let node_ids: Vec<String> = f.node_ids.split(|c: char| c == ',' || c.is_whitespace()).filter(|x| !x.is_empty()).map(str::to_owned).collect();
        let org_id = match node_ids.first() {
            Some(n) => s.works.node_get(&session.actor, n).await.map_err(|_| Error::invalid("target.node_ids", format!("{n} is not a node you can see")))?.org_id,
            None => None,
        };
        (ScheduleTarget::Job { job_kind: kind, node_ids }, org_id)
    };
    Ok(NewSchedule { org_id, name: f.name.clone(), target, cron: f.cron.clone(), time_zone: f.time_zone.clone(), enabled: None })
}

async fn schedule_create(State(s): State<AppState>, form: UiForm<ScheduleForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let result = match input_of(&s, &session, &fields).await {
        Ok(input) => s.works.schedule_create(&session.actor, input).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(see_other("/ui/schedules?notice=added")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, FIELDS, || session.nav("schedules"))?;
            view(&s, &session, None, fields, errors, status).await
        }
    }
}

#[derive(Deserialize)]
struct NoFields {}

async fn set_enabled(s: &AppState, session: UiSession, id: &str, enabled: bool) -> Result<Response, UiError> {
    s.works
        .schedule_update(&session.actor, id, ScheduleUpdate { enabled: Some(enabled), ..Default::default() })
        .await
        .map_err(|e| UiError::from_core(e, Some(session.nav("schedules"))))?;
    Ok(see_other(if enabled { "/ui/schedules?notice=enabled" } else { "/ui/schedules?notice=disabled" }))
}

async fn schedule_enable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    set_enabled(&s, form.session, &id, true).await
}

async fn schedule_disable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    set_enabled(&s, form.session, &id, false).await
}

async fn schedule_delete(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let UiForm { session, .. } = form;
    s.works.schedule_delete(&session.actor, &id).await.map_err(|e| UiError::from_core(e, Some(session.nav("schedules"))))?;
    Ok(see_other("/ui/schedules?notice=deleted"))
}
