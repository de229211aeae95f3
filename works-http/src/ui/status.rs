//! The executive status page at `/ui/status`: a read-only, printable summary of the
//! fleet for the MSP's customers and managers — the health answer, counts, recent
//! incidents and OpenClaw versions — of what the signed-in person may see (the core
//! decides: an organization admin sees their organization only). No forms, no script;
//! the stylesheet's print rules leave out the navigation and buttons.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use works_core::{HealthState, StatusSummary};

use super::{render, when, Nav, UiError, UiSession};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/ui/status", get(status_page))
}

struct Count {
    label: &'static str,
    value: u32,
    /// `bad`, `warn` or empty: whether the number is a problem.
    tone: &'static str,
}

struct Incident {
    badge: &'static str,
    severity: &'static str,
    title: String,
    why: String,
    next_action: String,
    since: String,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    nav: Option<Nav>,
    state: &'static str,
    label: &'static str,
    summary: String,
    generated: String,
    scope: String,
    fleet: Vec<Count>,
    work: Vec<Count>,
    incidents: Vec<Incident>,
    versions: Vec<(String, u32)>,
}

fn tone(value: u32, bad: bool) -> &'static str {
    match (value, bad) {
        (0, _) => "",
        (_, true) => "bad",
        (_, false) => "warn",
    }
}

fn page(s: &StatusSummary, session: &UiSession) -> StatusPage {
    let c = &s.counts;
    let scope = if session.actor.is_msp() {
        "Every customer organization and the shared MSP infrastructure.".to_owned()
    } else {
        "Your organization's part of the fleet.".to_owned()
    };
    StatusPage {
        nav: Some(session.nav("status")),
        state: s.state.as_str(),
        label: s.state.label(),
        summary: s.summary.clone(),
        generated: when(&s.generated_at),
        scope,
        fleet: vec![
            Count { label: "Organizations", value: c.organizations, tone: "" },
            Count { label: "Nodes online", value: c.nodes_online, tone: "" },
            Count { label: "Nodes gone quiet", value: c.nodes_stale, tone: tone(c.nodes_stale, false) },
            Count { label: "Nodes offline", value: c.nodes_offline, tone: tone(c.nodes_offline, true) },
            Count { label: "Nodes waiting for their agent", value: c.nodes_waiting, tone: "" },
            Count { label: "OpenClaw instances healthy", value: c.instances_healthy, tone: "" },
            Count { label: "OpenClaw instances not healthy", value: c.instances_unhealthy, tone: tone(c.instances_unhealthy, true) },
            Count { label: "OpenClaw instances deploying or unknown", value: c.instances_other, tone: "" },
        ],
        work: vec![
            Count { label: "Jobs failed in the last 24 hours", value: c.jobs_failed_24h, tone: tone(c.jobs_failed_24h, false) },
            Count { label: "Workflow runs waiting for approval", value: c.runs_awaiting_approval, tone: tone(c.runs_awaiting_approval, false) },
        ],
        incidents: s
            .incidents
            .iter()
            .map(|i| Incident {
                badge: if i.severity == HealthState::Critical { "bad" } else { "warn" },
                severity: i.severity.label(),
                title: i.title.clone(),
                why: i.why.clone(),
                next_action: i.next_action.clone(),
                since: i.since.as_ref().map(when).unwrap_or_default(),
            })
            .collect(),
        versions: s.versions.iter().map(|v| (if v.version == "unknown" { "Not reported".to_owned() } else { v.version.clone() }, v.instances)).collect(),
    }
}

async fn status_page(State(s): State<AppState>, session: UiSession) -> Result<Response, UiError> {
    let summary = s.works.status_summary(&session.actor).await.map_err(|e| UiError::from_core(e, Some(session.nav("status"))))?;
    Ok(render(StatusCode::OK, &page(&summary, &session)))
}
