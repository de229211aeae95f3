//! The operations sections of an instance's page: its OpenClaw versions and upgrade
//! plans, the read commands that can be run in it and their output, and who it is
//! assigned to. Every form is the same core call as its JSON route; which forms are
//! shown is asked of `access`, never decided here; output is always escaped.

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use works_core::access;
use works_core::{
    ApprovePlan, AssignInput, Instance, InstanceState, Job, OpsQuery, UpgradePlan, UpgradePlanState, UserQuery, VersionQuery,
};

use super::instances::rerender;
use super::{see_other, when, FormErrors, PageId, UiError, UiForm, UiSession};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/instances/{id}/cli-runs", post(cli_run))
        .route("/ui/instances/{id}/upgrade-plans", post(plan_create))
        .route("/ui/instances/{id}/upgrade-plans/{plan}/approve", post(plan_approve))
        .route("/ui/instances/{id}/upgrade-plans/{plan}/cancel", post(plan_cancel))
        .route("/ui/instances/{id}/assignments", post(assign))
        .route("/ui/instances/{id}/assignments/{user}/remove", post(unassign))
}

pub(crate) struct CommandOption {
    pub id: String,
    pub command: String,
}

pub(crate) struct InventoryRow {
    pub command: String,
    pub class: String,
    pub runnable: bool,
    pub description: String,
    pub why_not: String,
}

pub(crate) struct RunRow {
    pub id: String,
    pub command: String,
    pub state: String,
    pub state_label: String,
    pub requested: String,
    pub reason: String,
    pub output: String,
}

pub(crate) struct PlanRow {
    pub id: String,
    pub from: String,
    pub to: String,
    pub channel: String,
    pub state_label: String,
    pub proposed: bool,
    pub active: bool,
    pub created: String,
    pub decided: String,
    pub warnings: Vec<String>,
    pub steps: Vec<String>,
    pub phrase: String,
}

pub(crate) struct AssignedRow {
    pub user_id: String,
    pub username: String,
    pub since: String,
}

pub(crate) struct UserOption {
    pub id: String,
    pub label: String,
}

/// What the operations sections show.
pub(crate) struct OpsView {
    pub managed: bool,
    pub current: String,
    pub pinned: String,
    pub desired: String,
    pub desired_source: String,
    pub eligibility: String,
    pub eligible: bool,
    pub warnings: Vec<String>,
    pub commands: Vec<CommandOption>,
    pub inventory: Vec<InventoryRow>,
    pub runs: Vec<RunRow>,
    pub plans: Vec<PlanRow>,
    pub plan_note: String,
    pub can_plan: bool,
    pub can_approve: bool,
    pub assignments: Vec<AssignedRow>,
    pub can_assign: bool,
    pub candidates: Vec<UserOption>,
    pub assignable: bool,
}

fn run_row(j: &Job) -> RunRow {
    let command_id = j.params.get("command_id").and_then(|v| v.as_str()).unwrap_or_default();
    let command = works_core::openclaw_cli::find(command_id).map(|c| c.command_line()).unwrap_or_else(|| command_id.to_owned());
    RunRow {
        id: j.id.clone(),
        command,
        state: j.state.as_str().to_owned(),
        state_label: j.state.label().to_owned(),
        requested: format!("{} by {}", when(&j.created_at), j.requested_by),
        reason: j.reason.clone().unwrap_or_default(),
        output: j.output.clone().unwrap_or_default(),
    }
}

fn plan_row(p: &UpgradePlan) -> PlanRow {
    let decided = match (p.state, &p.approved_by, &p.approved_at, &p.cancelled_by, &p.cancelled_at) {
        (UpgradePlanState::Cancelled, _, _, Some(by), Some(at)) => format!("Cancelled by {by}, {}", when(at)),
        (_, Some(by), Some(at), _, _) => format!("Approved by {by}, {}", when(at)),
        _ => String::new(),
    };
    PlanRow {
        id: p.id.clone(),
        from: p.from_version.clone().unwrap_or_else(|| "unknown".into()),
        to: p.to_version.clone(),
        channel: p.channel.as_str().to_owned(),
        state_label: p.state.label().to_owned(),
        proposed: p.state == UpgradePlanState::Proposed,
        active: p.state != UpgradePlanState::Cancelled,
        created: format!("{} by {}", when(&p.created_at), p.created_by),
        decided,
        warnings: p.warnings.clone(),
        steps: p.steps.clone(),
        phrase: p.approval_phrase.clone(),
    }
}

/// The sections for an instance the actor can see.
pub(crate) async fn view(s: &AppState, session: &UiSession, i: &Instance) -> Result<OpsView, UiError> {
    let actor = &session.actor;
    let nav = || Some(session.nav("instances"));
    let fail = |e| UiError::from_core(e, nav());
    let versions = s.works.instance_versions(actor, &i.id, VersionQuery::default()).await.map_err(fail)?;
    let inventory = s.works.openclaw_cli_commands(actor).await.map_err(fail)?;
    let runs = s.works.instance_cli_runs(actor, &i.id, OpsQuery { offset: None, limit: Some(10) }).await.map_err(fail)?;
    let plans = s.works.upgrade_plan_list(actor, &i.id, OpsQuery { offset: None, limit: Some(20) }).await.map_err(fail)?;
    let assignments = s.works.instance_assignments(actor, &i.id).await.map_err(fail)?;
    let org = i.org_id.as_deref();
    let can_assign = org.is_some() && access::require_assignment_manager(actor, org).is_ok();
    let candidates = match (can_assign, org) {
        (true, Some(org_id)) => {
            let users = s
                .works
                .user_list(actor, UserQuery { org_id: Some(org_id.to_owned()), include_disabled: false, offset: None, limit: Some(500) })
                .await
                .map_err(fail)?;
            users
                .items
                .into_iter()
                .filter(|u| !assignments.iter().any(|a| a.user_id == u.id))
                .map(|u| UserOption { label: format!("{} ({})", u.display_name, u.username), id: u.id })
                .collect()
        }
        _ => Vec::new(),
    };
    let e = &versions.eligibility;
    Ok(OpsView {
        managed: i.state == InstanceState::Managed,
        current: versions.current.clone().unwrap_or_else(|| "unknown".into()),
        pinned: versions.pinned.clone(),
        desired: versions.desired.clone(),
        desired_source: versions.desired_source.clone(),
        eligibility: e.summary.clone(),
        eligible: e.eligible,
        warnings: e.warnings.clone(),
        commands: inventory.iter().filter(|c| c.runnable).map(|c| CommandOption { id: c.id.clone(), command: c.command.clone() }).collect(),
        inventory: inventory
            .iter()
            .map(|c| InventoryRow {
                command: c.command.clone(),
                class: c.class.label().to_owned(),
                runnable: c.runnable,
                description: c.description.clone(),
                why_not: c.why_not.clone().unwrap_or_default(),
            })
            .collect(),
        runs: runs.items.iter().map(run_row).collect(),
        plans: plans.items.iter().map(plan_row).collect(),
        plan_note: works_core::openclaw_ops::PLAN_NOTE.to_owned(),
        can_plan: access::require_node_manager(actor, org).is_ok(),
        can_approve: access::require_approver(actor, org).is_ok(),
        assignments: assignments
            .iter()
            .map(|a| AssignedRow { user_id: a.user_id.clone(), username: a.username.clone(), since: format!("{} by {}", when(&a.assigned_at), a.assigned_by) })
            .collect(),
        can_assign,
        candidates,
        assignable: org.is_some(),
    })
}

/// The instance id and a second id from the path.
pub(crate) struct PageIds(String, String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageIds {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|p| PageIds(p.0 .0, p.0 .1))
            .map_err(|_| UiError::from_core(works_core::Error::invalid("id", "is not a valid id"), None))
    }
}

async fn refused(s: &AppState, session: UiSession, id: &str, e: works_core::Error, fields: &[&str], phrase: String) -> Result<Response, UiError> {
    let (errors, status) = FormErrors::from_submission(e, fields, || session.nav("instances"))?;
    rerender(s, &session, id, phrase, errors, status).await
}

#[derive(Deserialize)]
struct CliForm {
    #[serde(default)]
    command_id: String,
}

async fn cli_run(State(s): State<AppState>, PageId(id): PageId, form: UiForm<CliForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.instance_cli_run(&session.actor, &id, &fields.command_id).await {
        Ok(_) => Ok(see_other(&format!("/ui/instances/{id}?notice=cli-queued#cli"))),
        Err(e) => refused(&s, session, &id, e, &["command_id"], String::new()).await,
    }
}

#[derive(Deserialize)]
struct PlanForm {
    #[serde(default)]
    to_version: String,
    #[serde(default)]
    channel: String,
}

async fn plan_create(State(s): State<AppState>, PageId(id): PageId, form: UiForm<PlanForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let channel = Some(fields.channel.trim().to_owned()).filter(|c| !c.is_empty());
    match s.works.upgrade_plan_create(&session.actor, &id, works_core::NewUpgradePlan { to_version: fields.to_version, channel }).await {
        Ok(_) => Ok(see_other(&format!("/ui/instances/{id}?notice=plan-proposed#versions"))),
        Err(e) => refused(&s, session, &id, e, &["to_version", "channel"], String::new()).await,
    }
}

#[derive(Deserialize)]
struct PhraseForm {
    #[serde(default)]
    phrase: String,
}

async fn plan_approve(State(s): State<AppState>, PageIds(id, plan): PageIds, form: UiForm<PhraseForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.upgrade_plan_approve(&session.actor, &id, &plan, ApprovePlan { phrase: fields.phrase.clone() }).await {
        Ok(_) => Ok(see_other(&format!("/ui/instances/{id}?notice=plan-approved#versions"))),
        Err(e) => refused(&s, session, &id, e, &["phrase"], fields.phrase).await,
    }
}

#[derive(Deserialize)]
struct EmptyForm {}

async fn plan_cancel(State(s): State<AppState>, PageIds(id, plan): PageIds, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    let UiForm { session, .. } = form;
    match s.works.upgrade_plan_cancel(&session.actor, &id, &plan).await {
        Ok(_) => Ok(see_other(&format!("/ui/instances/{id}?notice=plan-cancelled#versions"))),
        Err(e) => refused(&s, session, &id, e, &[], String::new()).await,
    }
}

#[derive(Deserialize)]
struct AssignForm {
    #[serde(default)]
    user_id: String,
}

async fn assign(State(s): State<AppState>, PageId(id): PageId, form: UiForm<AssignForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.instance_assign(&session.actor, &id, AssignInput { user_id: fields.user_id }).await {
        Ok(_) => Ok(see_other(&format!("/ui/instances/{id}?notice=assigned#assignments"))),
        Err(e) => refused(&s, session, &id, e, &["user_id"], String::new()).await,
    }
}

async fn unassign(State(s): State<AppState>, PageIds(id, user): PageIds, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    let UiForm { session, .. } = form;
    match s.works.instance_unassign(&session.actor, &id, &user).await {
        Ok(_) => Ok(see_other(&format!("/ui/instances/{id}?notice=unassigned#assignments"))),
        Err(e) => refused(&s, session, &id, e, &[], String::new()).await,
    }
}

/// The notices of the operations forms.
pub(crate) fn notice(key: &str) -> Option<String> {
    Some(
        match key {
            "cli-queued" => "Queued for the node's agent. Its output appears below once it has run; reload the page to see it.",
            "plan-proposed" => "Upgrade plan recorded. Nothing was changed: it waits for a person to approve it.",
            "plan-approved" => "Approval recorded. Nothing was run: running an approved plan comes in a later release.",
            "plan-cancelled" => "Upgrade plan cancelled.",
            "assigned" => "Assigned: the user now sees this instance and may run its read commands.",
            "unassigned" => "Unassigned: the user no longer sees this instance.",
            _ => return None,
        }
        .to_owned(),
    )
}
