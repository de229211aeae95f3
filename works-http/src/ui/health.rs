//! The dashboard at `/ui`: the health answer first — Healthy, Degraded or Critical —
//! then the current issues with why, what to do and where to look, each with an
//! "Acknowledge" form; reviewed issues and test records collapsed; technical detail
//! behind "Show details".

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use works_core::{Error, HealthIssue, HealthState, HistoryQuery};

use super::{render, see_other, when, Nav, PageQuery, UiError, UiForm, UiSession};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/ui", get(dashboard)).route("/ui/health/acknowledge", post(acknowledge))
}

struct IssueView {
    id: String,
    severity: &'static str,
    badge: &'static str,
    title: String,
    why: String,
    next_action: String,
    link: String,
    since: String,
    acknowledged: String,
    detail: String,
}

fn view(i: &HealthIssue) -> IssueView {
    IssueView {
        id: i.id.clone(),
        severity: i.severity.label(),
        badge: if i.severity == HealthState::Critical { "bad" } else { "warn" },
        title: i.title.clone(),
        why: i.why.clone(),
        next_action: i.next_action.clone(),
        link: i.link.clone(),
        since: i.since.as_ref().map(when).unwrap_or_default(),
        acknowledged: i
            .acknowledgement
            .as_ref()
            .map(|a| {
                let note = if a.note.is_empty() { String::new() } else { format!(": “{}”", a.note) };
                format!("Acknowledged by {}, {}{note}", a.acknowledged_by, when(&a.acknowledged_at))
            })
            .unwrap_or_default(),
        detail: serde_json::to_string_pretty(&i.detail).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Option<Nav>,
    state: &'static str,
    label: &'static str,
    summary: String,
    checked: String,
    issues: Vec<IssueView>,
    acknowledged: Vec<IssueView>,
    validation: Vec<IssueView>,
    notice: Option<String>,
    error: Option<String>,
    /// The last day's history as inline SVG (MSP roles).
    chart: Option<String>,
}

#[derive(Deserialize, Default)]
struct DashboardParams {
    notice: Option<String>,
}

async fn dashboard(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<DashboardParams>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("acknowledged") => Some("Acknowledged. The issue is under Reviewed until its condition changes.".to_owned()),
        _ => None,
    };
    page(&s, &session, notice, None, StatusCode::OK).await
}

async fn page(s: &AppState, session: &UiSession, notice: Option<String>, error: Option<String>, status: StatusCode) -> Result<Response, UiError> {
    let report = s.works.health(&session.actor).await.map_err(|e| UiError::from_core(e, Some(session.nav("health"))))?;
    let chart = if session.actor.is_msp() {
        match s.works.metrics_history(&session.actor, HistoryQuery::default()).await {
            Ok(history) => super::chart::history_svg(&history),
            Err(e) => {
                tracing::warn!(error = %e, "the metrics history could not be read for the dashboard");
                None
            }
        }
    } else {
        None
    };
    let page = DashboardPage {
        nav: Some(session.nav("health")),
        state: report.state.as_str(),
        label: report.state.label(),
        summary: report.summary.clone(),
        checked: when(&report.checked_at),
        issues: report.issues.iter().map(view).collect(),
        acknowledged: report.acknowledged.iter().map(view).collect(),
        validation: report.validation.iter().map(view).collect(),
        notice,
        error,
        chart,
    };
    Ok(render(status, &page))
}

#[derive(Deserialize)]
struct AcknowledgeForm {
    #[serde(default)]
    issue_id: String,
    #[serde(default)]
    note: String,
}

async fn acknowledge(State(s): State<AppState>, form: UiForm<AcknowledgeForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.health_acknowledge(&session.actor, &fields.issue_id, &fields.note).await {
        Ok(_) => Ok(see_other("/ui?notice=acknowledged")),
        Err(e @ Error::InvalidInput { .. }) => page(&s, &session, None, Some(e.to_string()), StatusCode::BAD_REQUEST).await,
        Err(e) => Err(UiError::from_core(e, Some(session.nav("health")))),
    }
}
