//! Workflow runs: a simulation (records what each step would do, touches nothing) or a
//! live run (performs the steps that have a live action). Before each step the policy
//! engine checks it; a failed check blocks the step and the run with the rule that
//! stopped it. A step that needs confirmation pauses the run until the allowed
//! approvers type its phrase. A run that was executing when its server died is failed
//! by recovery, never re-run; a run waiting for approval stays paused.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::capabilities::{self, RiskLevel};
use crate::connections::credential_purpose;
use crate::error::{Error, Result};
use crate::live::{demo_listing, DataLabel};
use crate::model::{Listing, Page};
use crate::policy::{self, Rule, StepFacts};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Records what each step would do; nothing outside is touched.
    Simulation,
    /// Performs the steps that have a live action; the others record a stub.
    Live,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Simulation => "simulation",
            RunMode::Live => "live",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    AwaitingApproval,
    Blocked,
    Succeeded,
    Failed,
}

impl RunState {
    pub const ALL: [RunState; 5] = [RunState::Running, RunState::AwaitingApproval, RunState::Blocked, RunState::Succeeded, RunState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::AwaitingApproval => "awaiting_approval",
            RunState::Blocked => "blocked",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        RunState::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            RunState::Running => "Running",
            RunState::AwaitingApproval => "Waiting for approval",
            RunState::Blocked => "Blocked",
            RunState::Succeeded => "Complete",
            RunState::Failed => "Failed",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, RunState::Blocked | RunState::Succeeded | RunState::Failed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Not reached yet.
    Pending,
    /// Being performed now.
    Running,
    AwaitingApproval,
    /// Recorded what it would do; nothing was done.
    Simulated,
    /// Performed.
    Succeeded,
    /// Stopped by a policy rule before it ran.
    Blocked,
    Failed,
    /// Not run because an earlier step stopped the run.
    NotRun,
}

impl StepOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Pending => "pending",
            StepOutcome::Running => "running",
            StepOutcome::AwaitingApproval => "awaiting_approval",
            StepOutcome::Simulated => "simulated",
            StepOutcome::Succeeded => "succeeded",
            StepOutcome::Blocked => "blocked",
            StepOutcome::Failed => "failed",
            StepOutcome::NotRun => "not_run",
        }
    }
}

/// One approval of a paused step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    pub by_id: String,
    pub by_name: String,
    pub at: DateTime<Utc>,
}

/// A step of a run: what it was asked to do and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunStep {
    /// From 1.
    pub number: u32,
    pub capability_id: String,
    pub action: String,
    pub connection_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: serde_json::Value,
    pub outcome: StepOutcome,
    /// What happened, in plain English.
    pub reason: String,
    /// The policy rule that blocked the step, when one did.
    pub rule: Option<Rule>,
    pub risk: Option<RiskLevel>,
    /// "Live data" or "Stub", once the step produced a result.
    pub label: Option<DataLabel>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub output: Option<serde_json::Value>,
    /// While the step waits: what an approver types.
    pub approval_phrase: Option<String>,
    /// How many different approvers the step needs (0: none).
    pub approvers_required: u8,
    pub approvals: Vec<Approval>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkflowRun {
    pub id: String,
    pub workflow_id: String,
    pub workflow_name: String,
    pub org_id: String,
    /// The workflow's owner: organization users see the runs of their own workflows.
    pub owner_id: String,
    pub started_by_id: String,
    pub started_by: String,
    pub mode: RunMode,
    pub state: RunState,
    /// Why the run is in its state, in plain English.
    pub reason: String,
    /// The index (from 0) of the step the run is at.
    pub current_step: u32,
    pub steps: Vec<RunStep>,
    /// When a paused step's approval request expires.
    pub approval_expires_at: Option<DateTime<Utc>>,
    /// When the server executing the run last said it was alive.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// Bumped by every change; changes are compare-and-set on it.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl WorkflowRun {
    /// The step the run is at, if any.
    pub fn current(&self) -> Option<&RunStep> {
        self.steps.get(self.current_step as usize)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    pub mode: RunMode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApproveRun {
    /// Exactly the paused step's `approval_phrase`.
    pub phrase: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    pub state: Option<RunState>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// Filters of the run list, intersected with the scope.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub workflow_id: Option<String>,
    pub state: Option<RunState>,
}

/// How long a paused step waits for its approvers.
pub const APPROVAL_WINDOW_HOURS: i64 = 24;

/// The phrase an approver types for a paused step. It names the run, so an approval
/// typed for one run never fits another.
pub fn approval_phrase(action_label: &str, capability_name: &str, run_id: &str) -> String {
    let short: String = run_id.chars().rev().filter(char::is_ascii_hexdigit).take(8).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{action_label} with {capability_name} for run {short}")
}

/// What recovery does with a run: the new state and why, or None to leave it.
pub fn recover_run(run: &WorkflowRun, now: DateTime<Utc>, stale_after: Duration) -> Option<(RunState, String)> {
    let n = run.current_step + 1;
    let what = run.current().map(|s| format!("{} {}", s.capability_id, s.action)).unwrap_or_default();
    match run.state {
        RunState::Running => {
            let last = run.heartbeat_at.unwrap_or(run.updated_at);
            (last + stale_after <= now).then(|| {
                (
                    RunState::Failed,
                    format!(
                        "The server stopped while this run was executing step {n} ({what}). It was not re-run automatically because the step may already have had an effect: check the connected system, then start the run again if it is still needed."
                    ),
                )
            })
        }
        RunState::AwaitingApproval => match run.approval_expires_at {
            Some(at) if at <= now => Some((RunState::Failed, format!("Nobody approved step {n} ({what}) within {APPROVAL_WINDOW_HOURS} hours, so the request expired. Start the run again if it is still needed."))),
            _ => None,
        },
        _ => None,
    }
}

/// The result of performing one step.
struct Done {
    outcome: StepOutcome,
    label: DataLabel,
    output: Option<serde_json::Value>,
    reason: String,
}

impl Works {
    /// Starts a run of a workflow and takes it as far as it goes: to the end, to a
    /// blocked step, or to a step waiting for approval.
    pub async fn run_start(&self, actor: &Actor, workflow_id: &str, input: StartRun) -> Result<WorkflowRun> {
        self.change(actor, "run.start", "workflow", Some(workflow_id), async {
            let w = self.visible_workflow(actor, workflow_id).await?;
            if !w.enabled {
                return Err(Error::conflict(None, format!("Workflow {} is disabled, so it cannot be run. Enable it (on its page, or works workflow update {} --enable), then run it again.", w.name, w.id)));
            }
            let now = self.now();
            let steps = w
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| RunStep {
                    number: i as u32 + 1,
                    capability_id: s.capability_id.clone(),
                    action: s.action.clone(),
                    connection_id: s.connection_id.clone(),
                    parameters: s.parameters.clone(),
                    outcome: StepOutcome::Pending,
                    reason: "Not reached yet.".to_owned(),
                    rule: None,
                    risk: capabilities::find(&s.capability_id).and_then(|c| c.action(&s.action)).map(|a| a.risk),
                    label: None,
                    output: None,
                    approval_phrase: None,
                    approvers_required: 0,
                    approvals: Vec::new(),
                    started_at: None,
                    finished_at: None,
                })
                .collect();
            let run = WorkflowRun {
                id: new_id(),
                workflow_id: w.id.clone(),
                workflow_name: w.name.clone(),
                org_id: w.org_id.clone(),
                owner_id: w.owner_id.clone(),
                started_by_id: actor.id.clone(),
                started_by: actor.name.clone(),
                mode: input.mode,
                state: RunState::Running,
                reason: "Started.".to_owned(),
                current_step: 0,
                steps,
                approval_expires_at: None,
                heartbeat_at: Some(now),
                version: 1,
                created_at: now,
                updated_at: now,
                finished_at: None,
            };
            let audit = self.draft(actor, Some(run.org_id.clone()), "run.start", "workflow_run", Some(&run.id), Outcome::Succeeded, format!("Started a {} run of workflow {}", run.mode.as_str(), w.name));
            self.store.insert_run(&run, audit).await?;
            self.advance(actor, run).await
        })
        .await
    }

    /// Runs of one workflow, newest first.
    pub async fn run_list(&self, actor: &Actor, workflow_id: &str, query: RunQuery) -> Result<Listing<WorkflowRun>> {
        let page = Page::new(query.offset, query.limit)?;
        let w = self.read(actor, "run.list", "workflow", Some(workflow_id), self.visible_workflow(actor, workflow_id)).await?;
        let filter = RunFilter { workflow_id: Some(w.id), state: query.state };
        let items = self.store.list_runs(&access::owned_scope(actor), &filter, probe(page)).await?;
        Ok(paged(items, page))
    }

    pub async fn run_get(&self, actor: &Actor, workflow_id: &str, run_id: &str) -> Result<WorkflowRun> {
        self.read(actor, "run.get", "workflow_run", Some(run_id), self.visible_run(actor, workflow_id, run_id)).await
    }

    /// Approves the paused step of a run by typing its phrase exactly. With the
    /// two-person rule, the step goes on after the second different approver. Wrong
    /// phrase, expired request, self-approval under the two-person rule, an approver of
    /// another organization: refused and recorded.
    pub async fn run_approve(&self, actor: &Actor, workflow_id: &str, run_id: &str, input: ApproveRun) -> Result<WorkflowRun> {
        self.change(actor, "run.approve", "workflow_run", Some(run_id), async {
            let mut run = self.visible_run(actor, workflow_id, run_id).await?;
            if run.state != RunState::AwaitingApproval {
                return Err(Error::conflict(None, format!("This run is {}, not waiting for approval.", run.state.label().to_lowercase())));
            }
            let now = self.now();
            let idx = run.current_step as usize;
            let step = run.steps.get(idx).ok_or_else(|| Error::internal("A paused run has no current step."))?;
            let already: Vec<String> = step.approvals.iter().map(|a| a.by_id.clone()).collect();
            access::require_run_approver(actor, &run.org_id, &run.started_by_id, step.approvers_required, &already)?;
            if run.approval_expires_at.is_some_and(|at| at <= now) {
                return Err(Error::conflict(None, "This approval request has expired; start the run again if it is still needed."));
            }
            let expected = step.approval_phrase.clone().unwrap_or_default();
            if input.phrase != expected {
                return Err(Error::invalid("phrase", format!("does not match; type exactly: {expected}")));
            }
            let required = step.approvers_required;
            let number = step.number;
            let expected_version = run.version;
            let step = run.steps.get_mut(idx).ok_or_else(|| Error::internal("A paused run has no current step."))?;
            step.approvals.push(Approval { by_id: actor.id.clone(), by_name: actor.name.clone(), at: now });
            let count = step.approvals.len() as u8;
            let complete = count >= required;
            if complete {
                step.reason = format!("Approved by {}.", step.approvals.iter().map(|a| a.by_name.as_str()).collect::<Vec<_>>().join(" and "));
                run.state = RunState::Running;
                run.heartbeat_at = Some(now);
                run.approval_expires_at = None;
                run.reason = format!("Step {number} approved; going on.");
            } else {
                step.reason = format!("Approved by {} ({count} of {required}); waiting for a different second approver.", actor.name);
                run.reason = step.reason.clone();
            }
            run.updated_at = now;
            run.version += 1;
            let audit = self.draft(actor, Some(run.org_id.clone()), "run.approve", "workflow_run", Some(&run.id), Outcome::Succeeded, format!("Approved step {number} (\"{expected}\"), {count} of {required}"));
            self.store.update_run(&run, expected_version, audit).await?;
            if complete {
                self.advance(actor, run).await
            } else {
                Ok(run)
            }
        })
        .await
    }

    async fn visible_run(&self, actor: &Actor, workflow_id: &str, run_id: &str) -> Result<WorkflowRun> {
        let not_found = || Error::not_found("workflow run", run_id);
        let id = validate::id("id", run_id).map_err(|_| not_found())?;
        let wf = validate::id("workflow_id", workflow_id).map_err(|_| not_found())?;
        match self.store.get_run(&id).await? {
            Some(r) if r.workflow_id == wf && access::can_see_owned(actor, &r.org_id, &r.owner_id) => Ok(r),
            _ => Err(not_found()),
        }
    }

    /// Saves a change of a run (compare-and-set on its version) with its audit record.
    async fn save_run(&self, actor: &Actor, run: &mut WorkflowRun, action: &str, outcome: Outcome, reason: String) -> Result<()> {
        let expected = run.version;
        run.version += 1;
        run.updated_at = self.now();
        if run.state == RunState::Running {
            run.heartbeat_at = Some(run.updated_at);
        }
        let audit = self.draft(actor, Some(run.org_id.clone()), action, "workflow_run", Some(&run.id), outcome, reason);
        self.store.update_run(run, expected, audit).await
    }

    /// Takes a running run forward step by step until it ends, is blocked, or waits.
    async fn advance(&self, actor: &Actor, mut run: WorkflowRun) -> Result<WorkflowRun> {
        loop {
            let idx = run.current_step as usize;
            let Some(step) = run.steps.get(idx).cloned() else {
                run.state = RunState::Succeeded;
                run.finished_at = Some(self.now());
                run.reason = format!("All {} step(s) finished{}.", run.steps.len(), if run.mode == RunMode::Simulation { " in simulation; nothing outside was touched" } else { "" });
                let reason = format!("Run of {} finished", run.workflow_name);
                self.save_run(actor, &mut run, "run.finish", Outcome::Succeeded, reason).await?;
                return Ok(run);
            };
            let n = step.number;
            let permission = self.store.get_permission_for(&run.org_id, &step.capability_id).await?;
            let connection = match &step.connection_id {
                Some(c) => self.store.get_connection(c).await?,
                None => None,
            };
            let facts = StepFacts {
                org_id: &run.org_id,
                capability_id: &step.capability_id,
                action: &step.action,
                permission: permission.as_ref(),
                connection_named: step.connection_id.is_some(),
                connection: connection.as_ref().map(|c| &c.connection),
            };
            let now = self.now();
            let clearance = match policy::check_step(&facts) {
                Ok(c) => c,
                Err(block) => {
                    for (i, s) in run.steps.iter_mut().enumerate() {
                        if i == idx {
                            s.outcome = StepOutcome::Blocked;
                            s.rule = Some(block.rule);
                            s.reason = block.reason.clone();
                            s.finished_at = Some(now);
                            s.approval_phrase = None;
                        } else if i > idx {
                            s.outcome = StepOutcome::NotRun;
                            s.reason = format!("Not run: step {n} was blocked.");
                        }
                    }
                    run.state = RunState::Blocked;
                    run.finished_at = Some(now);
                    run.approval_expires_at = None;
                    run.reason = format!("Step {n} was blocked by the rule {}: {}", block.rule.as_str(), block.reason);
                    let reason = run.reason.clone();
                    self.save_run(actor, &mut run, "run.block", Outcome::Rejected, reason).await?;
                    return Ok(run);
                }
            };
            let cap = capabilities::find(&step.capability_id).ok_or_else(|| Error::internal("A checked step names an unknown capability."))?;
            let action_label = cap.action(&step.action).map(|a| a.label.clone()).unwrap_or_else(|| step.action.clone());
            if clearance.approvers as usize > step.approvals.len() {
                let phrase = approval_phrase(&action_label, &cap.name, &run.id);
                if let Some(s) = run.steps.get_mut(idx) {
                    s.outcome = StepOutcome::AwaitingApproval;
                    s.approvers_required = clearance.approvers;
                    s.approval_phrase = Some(phrase.clone());
                    s.reason = if clearance.approvers >= 2 {
                        format!("Waits for two different approvers (not the person who started the run) to type: {phrase}")
                    } else {
                        format!("Waits for a person to confirm by typing: {phrase}")
                    };
                }
                run.state = RunState::AwaitingApproval;
                run.approval_expires_at = Some(now + Duration::hours(APPROVAL_WINDOW_HOURS));
                run.reason = format!("Step {n} ({action_label} with {}) needs confirmation before it runs.", cap.name);
                let reason = format!("Step {n} waits for approval: {phrase}");
                self.save_run(actor, &mut run, "run.await_approval", Outcome::Succeeded, reason).await?;
                return Ok(run);
            }
            if let Some(s) = run.steps.get_mut(idx) {
                s.outcome = StepOutcome::Running;
                s.started_at = Some(now);
                s.reason = "Running.".to_owned();
            }
            if run.mode == RunMode::Live {
                // On record before anything outside is touched, so that recovery can
                // tell a step that was executing when the server died.
                let reason = format!("Step {n} started: {action_label} with {}", cap.name);
                self.save_run(actor, &mut run, "run.step", Outcome::Succeeded, reason).await?;
            }
            let done = self.perform_with_heartbeat(actor, &run, &step, &cap.name, &action_label).await;
            let now = self.now();
            let failed = done.is_err();
            if let Some(s) = run.steps.get_mut(idx) {
                s.finished_at = Some(now);
                s.approval_phrase = None;
                match done {
                    Ok(d) => {
                        s.outcome = d.outcome;
                        s.label = Some(d.label);
                        s.output = d.output;
                        s.reason = d.reason;
                    }
                    Err(e) => {
                        s.outcome = StepOutcome::Failed;
                        s.reason = e.to_string();
                    }
                }
            }
            let reason = run.steps.get(idx).map(|s| s.reason.clone()).unwrap_or_default();
            if failed {
                for s in run.steps.iter_mut().skip(idx + 1) {
                    s.outcome = StepOutcome::NotRun;
                    s.reason = format!("Not run: step {n} failed.");
                }
                run.state = RunState::Failed;
                run.finished_at = Some(now);
                run.reason = format!("Step {n} failed: {reason}");
                let audit_reason = run.reason.clone();
                self.save_run(actor, &mut run, "run.fail", Outcome::Succeeded, audit_reason).await?;
                return Ok(run);
            }
            run.current_step += 1;
            run.reason = format!("Step {n} done.");
            self.save_run(actor, &mut run, "run.step", Outcome::Succeeded, format!("Step {n}: {reason}")).await?;
        }
    }

    /// Performs a step while keeping the run's heartbeat fresh.
    async fn perform_with_heartbeat(&self, actor: &Actor, run: &WorkflowRun, step: &RunStep, cap_name: &str, label: &str) -> Result<Done> {
        let work = self.perform(actor, run, step, cap_name, label);
        tokio::pin!(work);
        let every = (self.config.run_stale_after / 4).to_std().unwrap_or(std::time::Duration::from_secs(30)).max(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = tokio::time::sleep(every) => {
                    if let Err(e) = self.store.touch_run(&run.id, self.now()).await {
                        tracing::warn!(error = %e, run_id = %run.id, "could not refresh a run's heartbeat");
                    }
                }
            }
        }
    }

    async fn perform(&self, actor: &Actor, run: &WorkflowRun, step: &RunStep, cap_name: &str, label: &str) -> Result<Done> {
        let via = match &step.connection_id {
            Some(_) => " through the step's connection",
            None => "",
        };
        if run.mode == RunMode::Simulation {
            return Ok(Done {
                outcome: StepOutcome::Simulated,
                label: DataLabel::Stub,
                output: Some(serde_json::json!({ "would": format!("{label} with {cap_name}"), "parameters": step.parameters })),
                reason: format!("Simulation: would {label} with {cap_name}{via}. Nothing was done."),
            });
        }
        if step.capability_id == "google_drive" && step.action == "list_files" {
            let params = crate::workflows::list_files_params("", &step.parameters)?;
            let conn = match &step.connection_id {
                Some(c) => self.store.get_connection(c).await?,
                None => None,
            }
            .ok_or_else(|| Error::conflict(None, "The step's connection no longer exists."))?;
            let token = match &conn.sealed_credential {
                Some(sealed) => Some(self.sealer()?.open_text(&credential_purpose(&conn.connection.id), sealed)?),
                None => None,
            };
            let (listing, why) = match (token, &self.drive) {
                // Drive's verdict on the credential shows on the connection: refused puts it
                // in error with Drive's reason; accepted clears an error.
                (Some(token), Some(drive)) => match drive.list_files(&token, &params).await {
                    Ok(listing) => {
                        self.record_connection_use(actor, &conn.connection.id, &conn.sealed_credential, &run.id, None).await?;
                        (listing, None)
                    }
                    Err(Error::Forbidden { message }) => {
                        self.record_connection_use(actor, &conn.connection.id, &conn.sealed_credential, &run.id, Some(&message)).await?;
                        return Err(Error::unavailable(format!("{message} Until then, connection {} is marked error.", conn.connection.name)));
                    }
                    Err(e) => return Err(e),
                },
                (None, _) => (demo_listing(), Some(format!("connection {} has no token", conn.connection.name))),
                (Some(_), None) => (demo_listing(), Some("no Google Drive client is configured on this server".to_owned())),
            };
            let count = listing.files.len();
            let reason = match why {
                None => format!(
                    "Listed {count} file(s) from Google Drive in {} page(s){} (Live data).",
                    listing.pages,
                    if listing.truncated { ", stopping at the step's page limit" } else { "" }
                ),
                Some(why) => format!("Showing {count} demo file(s) because {why} (Stub). Nothing was read from Google Drive."),
            };
            let output = serde_json::to_value(&listing).map_err(|e| Error::internal(format!("could not record a Drive listing: {e}")))?;
            return Ok(Done { outcome: StepOutcome::Succeeded, label: listing.label, output: Some(output), reason });
        }
        Ok(Done {
            outcome: StepOutcome::Simulated,
            label: DataLabel::Stub,
            output: Some(serde_json::json!({ "would": format!("{label} with {cap_name}"), "parameters": step.parameters })),
            reason: format!("No live action exists for {label} with {cap_name} yet: recorded what it would do{via}; nothing was done (Stub)."),
        })
    }

    /// Fails runs whose server stopped while executing them, and runs whose approval
    /// request expired. Returns the ids of the runs failed.
    pub(crate) async fn recover_runs(&self) -> Result<Vec<String>> {
        let now = self.now();
        let system = Actor::system();
        let stale_after = self.config.run_stale_after;
        let mut failed = Vec::new();
        let candidates = self.store.runs_to_recover(now - stale_after, now, 200).await?;
        for mut run in candidates {
            let Some((state, reason)) = recover_run(&run, now, stale_after) else { continue };
            let idx = run.current_step as usize;
            for (i, s) in run.steps.iter_mut().enumerate() {
                if i == idx {
                    s.outcome = StepOutcome::Failed;
                    s.reason = reason.clone();
                    s.finished_at = Some(now);
                    s.approval_phrase = None;
                } else if i > idx {
                    s.outcome = StepOutcome::NotRun;
                    s.reason = format!("Not run: step {} did not finish.", idx + 1);
                }
            }
            run.state = state;
            run.reason = reason.clone();
            run.finished_at = Some(now);
            run.approval_expires_at = None;
            match self.save_run(&system, &mut run, "run.recover", Outcome::Succeeded, reason).await {
                Ok(()) => failed.push(run.id.clone()),
                Err(Error::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phrase_names_the_run() {
        let a = approval_phrase("list files", "Google Drive", "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff");
        assert_eq!(a, "list files with Google Drive for run ccddeeff");
        assert_ne!(a, approval_phrase("list files", "Google Drive", "0192f0a3-7c1b-7d2e-9f00-aabbccddee00"));
    }
}
