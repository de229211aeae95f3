//! Operating OpenClaw instances: who they are assigned to, the read-only CLI commands
//! that may be run in them, their versions and upgrade plans.
//!
//! - **Assignments.** MSP admins and operators, and the organization's admin, assign an
//!   instance to users of the instance's own organization. An organization user sees and
//!   acts on only the instances assigned to them; every other instance is answered
//!   exactly like a missing one.
//! - **CLI commands.** A caller names a command of [`crate::openclaw_cli`] by id. Only
//!   allowlisted read commands are accepted; each becomes a safe `cli_command` job that
//!   the node's agent runs with `docker exec` in the gateway container. Anything else is
//!   refused with the reason and recorded.
//! - **Versions and upgrade plans.** An upgrade plan is a record, not an action: it
//!   changes nothing until a person approves it with a typed phrase, and approving it
//!   records the approval only. Running an approved plan comes later.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::{AuditDraft, Outcome};
use crate::error::{Error, Result};
use crate::instances::{Instance, InstanceState};
use crate::jobs::{Job, JobKind, JobState, QUEUE_WINDOW_HOURS};
use crate::model::{Listing, Page, Role};
use crate::openclaw;
use crate::openclaw_cli::{self, CliCommand};
use crate::openclaw_versions::{self, Channel, Direction, Eligibility};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

// --- records ---

/// An instance assigned to a user of its organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    pub instance_id: String,
    pub user_id: String,
    /// The user's username, read with the assignment.
    pub username: String,
    pub org_id: String,
    pub assigned_by: String,
    pub assigned_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// A user of the instance's organization.
    pub user_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CliRunInput {
    /// The id of a command of the inventory (`GET /api/v1/openclaw/cli-commands`).
    pub command_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct OpsQuery {
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// Where an upgrade plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UpgradePlanState {
    /// Recorded; waiting for a person to approve it.
    Proposed,
    /// A person typed the phrase. Nothing has run.
    Approved,
    Cancelled,
}

impl UpgradePlanState {
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradePlanState::Proposed => "proposed",
            UpgradePlanState::Approved => "approved",
            UpgradePlanState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [UpgradePlanState::Proposed, UpgradePlanState::Approved, UpgradePlanState::Cancelled].into_iter().find(|p| p.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            UpgradePlanState::Proposed => "Proposed, waiting for approval",
            UpgradePlanState::Approved => "Approved, not run",
            UpgradePlanState::Cancelled => "Cancelled",
        }
    }
}

/// What every plan says about running it.
pub const PLAN_NOTE: &str =
    "An upgrade plan is a record, not an action: approving it records the approval only. Nothing on the node changes; running an approved plan comes in a later release.";

/// A proposed move of one instance from one OpenClaw version to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpgradePlan {
    pub id: String,
    pub instance_id: String,
    pub node_id: String,
    pub org_id: Option<String>,
    /// The version the instance ran when the plan was made; None when unknown.
    pub from_version: Option<String>,
    pub to_version: String,
    pub channel: Channel,
    pub direction: Direction,
    pub warnings: Vec<String>,
    /// What running the plan would do, in plain English, in order.
    pub steps: Vec<String>,
    pub state: UpgradePlanState,
    /// What an approver types.
    pub approval_phrase: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// [`PLAN_NOTE`]: approving records approval only.
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewUpgradePlan {
    /// The target version, `YYYY.M.PATCH` (a pre-release only on beta or dev).
    pub to_version: String,
    /// `stable` (default), `extended-stable`, `beta` or `dev`.
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApprovePlan {
    /// Exactly the plan's `approval_phrase`.
    pub phrase: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Check eligibility for this version instead of the desired one.
    pub to_version: Option<String>,
    /// The channel to check on (default stable).
    pub channel: Option<String>,
}

/// An instance's versions: what it runs, what it should run, and whether it may move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionReport {
    pub instance_id: String,
    /// From the running container's image label or tag, as last reported; None when unknown.
    pub current: Option<String>,
    /// The version this release of Anthropy Works deploys.
    pub pinned: String,
    /// The newest approved plan's target, else the pinned version.
    pub desired: String,
    /// Where `desired` comes from, in plain English.
    pub desired_source: String,
    /// Eligibility of the move to `desired` (or the version asked about).
    pub eligibility: Eligibility,
}

// --- storage ---

/// The storage contract for assignments, CLI runs and upgrade plans. Same rules as
/// [`crate::store`]: each change and its audit record in one transaction.
#[async_trait]
pub trait InstanceOpsStore: Send + Sync + 'static {
    /// Adds the assignment; `Error::Conflict` when the user already has it.
    async fn insert_assignment(&self, a: &Assignment, audit: AuditDraft) -> Result<()>;
    /// Removes the assignment; false (and nothing written) when there was none.
    async fn delete_assignment(&self, instance_id: &str, user_id: &str, audit: AuditDraft) -> Result<bool>;
    /// The instance's assignments (only `user_id`'s when given), by username.
    async fn list_assignments(&self, instance_id: &str, user_id: Option<&str>) -> Result<Vec<Assignment>>;
    async fn is_assigned(&self, instance_id: &str, user_id: &str) -> Result<bool>;

    /// Writes the job, its link to the instance and command, and the audit record.
    async fn insert_cli_run(&self, job: &Job, instance_id: &str, command_id: &str, audit: AuditDraft) -> Result<()>;
    /// The instance's CLI jobs, newest first.
    async fn list_cli_runs(&self, instance_id: &str, page: Page) -> Result<Vec<Job>>;
    /// The CLI job if it belongs to the instance.
    async fn get_cli_run(&self, instance_id: &str, job_id: &str) -> Result<Option<Job>>;

    async fn insert_upgrade_plan(&self, plan: &UpgradePlan, audit: AuditDraft) -> Result<()>;
    async fn get_upgrade_plan(&self, id: &str) -> Result<Option<UpgradePlan>>;
    /// The instance's plans, newest first.
    async fn list_upgrade_plans(&self, instance_id: &str, page: Page) -> Result<Vec<UpgradePlan>>;
    /// Writes state and decision fields if the stored state is still `expected`;
    /// otherwise `Error::Conflict`. With the audit record, one transaction.
    async fn update_upgrade_plan(&self, plan: &UpgradePlan, expected: UpgradePlanState, audit: AuditDraft) -> Result<()>;
}

/// The phrase that approves an upgrade plan.
pub fn upgrade_phrase(container: &str, node: &str, to: &str) -> String {
    format!("upgrade openclaw {} on {node} to {to}", container.trim_start_matches('/'))
}

impl Works {
    /// The instance, its node's name, when the actor may see it: MSP roles and the
    /// organization's admin always, an organization user when it is assigned to them.
    /// Otherwise "not found", exactly as for a missing instance.
    pub(crate) async fn visible_instance_for(&self, actor: &Actor, id: &str) -> Result<(Instance, String)> {
        let not_found = || Error::not_found("instance", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        let i = self.store.get_instance(&id).await?.ok_or_else(not_found)?;
        let assigned = actor.role == Role::OrgUser && self.store.is_assigned(&i.id, &actor.id).await?;
        if !access::can_see_instance(actor, i.org_id.as_deref(), assigned) {
            return Err(not_found());
        }
        let node_name = self.store.get_node(&i.node_id).await?.map(|n| n.name).ok_or_else(not_found)?;
        Ok((i, node_name))
    }

    // --- assignments ---

    /// Assigns an instance to a user of its organization.
    pub async fn instance_assign(&self, actor: &Actor, instance_id: &str, input: AssignInput) -> Result<Assignment> {
        self.change(actor, "instance.assign", "instance", Some(instance_id), async {
            let (i, node_name) = self.visible_instance_for(actor, instance_id).await?;
            access::require_assignment_manager(actor, i.org_id.as_deref())?;
            let org_id = i.org_id.clone().ok_or_else(|| Error::forbidden("Instances on shared MSP infrastructure are not assigned to organization users."))?;
            let wrong_user = || Error::invalid("user_id", "must be an active user of the instance's organization");
            let user_id = validate::id("user_id", &input.user_id).map_err(|_| wrong_user())?;
            let user = self.store.get_user(&user_id).await?.map(|r| r.user).ok_or_else(wrong_user)?;
            // Another organization's user, one the actor cannot see, or an MSP user is
            // answered the same way.
            if user.org_id.as_deref() != Some(org_id.as_str()) || user.disabled || !access::can_see_user(actor, &user) {
                return Err(wrong_user());
            }
            let a = Assignment {
                instance_id: i.id.clone(),
                user_id: user.id.clone(),
                username: user.username.clone(),
                org_id: org_id.clone(),
                assigned_by: actor.name.clone(),
                assigned_at: self.now(),
            };
            let audit = self.draft(
                actor,
                Some(org_id),
                "instance.assign",
                "instance",
                Some(&i.id),
                Outcome::Succeeded,
                format!("Assigned OpenClaw {} on node {node_name} to {}", i.container_name, user.username),
            );
            self.store.insert_assignment(&a, audit).await?;
            Ok(a)
        })
        .await
    }

    /// Ends an assignment: the user no longer sees the instance.
    pub async fn instance_unassign(&self, actor: &Actor, instance_id: &str, user_id: &str) -> Result<()> {
        self.change(actor, "instance.unassign", "instance", Some(instance_id), async {
            let (i, node_name) = self.visible_instance_for(actor, instance_id).await?;
            access::require_assignment_manager(actor, i.org_id.as_deref())?;
            let none = || Error::not_found("assignment", user_id);
            let user_id = validate::id("user_id", user_id).map_err(|_| none())?;
            let audit = self.draft(
                actor,
                i.org_id.clone(),
                "instance.unassign",
                "instance",
                Some(&i.id),
                Outcome::Succeeded,
                format!("Ended the assignment of OpenClaw {} on node {node_name} to user {user_id}", i.container_name),
            );
            if !self.store.delete_assignment(&i.id, &user_id, audit).await? {
                return Err(none());
            }
            Ok(())
        })
        .await
    }

    /// Who an instance is assigned to. An organization user sees only their own assignment.
    pub async fn instance_assignments(&self, actor: &Actor, instance_id: &str) -> Result<Vec<Assignment>> {
        self.read(actor, "instance.assignments", "instance", Some(instance_id), async {
            let (i, _) = self.visible_instance_for(actor, instance_id).await?;
            let only = (actor.role == Role::OrgUser).then_some(actor.id.as_str());
            self.store.list_assignments(&i.id, only).await
        })
        .await
    }

    // --- CLI commands ---

    /// The inventory of the pinned version's CLI commands, with classification and
    /// whether each is run. Anyone signed in may read it: it is the same for everyone.
    pub async fn openclaw_cli_commands(&self, _actor: &Actor) -> Result<Vec<CliCommand>> {
        Ok(openclaw_cli::inventory())
    }

    /// Requests an allowlisted read command in an instance's gateway container, by its
    /// inventory id: a safe job for the node's agent. Anything not allowlisted is refused
    /// with the reason and recorded.
    pub async fn instance_cli_run(&self, actor: &Actor, instance_id: &str, command_id: &str) -> Result<Job> {
        self.change(actor, "instance.cli_run", "instance", Some(instance_id), async {
            let (i, node_name) = self.visible_instance_for(actor, instance_id).await?;
            let spec = openclaw_cli::runnable(command_id)?;
            if i.state != InstanceState::Managed {
                return Err(Error::conflict(
                    None,
                    format!(
                        "This instance is {}, not managed: commands run only in running instances the product manages (take a discovered one over first).",
                        i.state.as_str()
                    ),
                ));
            }
            let node = self.store.get_node(&i.node_id).await?.ok_or_else(|| Error::not_found("instance", instance_id))?;
            if node.retired_at.is_some() {
                return Err(Error::conflict(None, format!("Node {node_name} is retired and takes no new work.")));
            }
            let now = self.now();
            let kind = JobKind::CliCommand;
            let job = Job {
                id: new_id(),
                node_id: i.node_id.clone(),
                org_id: i.org_id.clone(),
                kind,
                risk: kind.risk(),
                state: JobState::Queued,
                params: serde_json::json!({"instance_id": i.id, "command_id": spec.id, "container": i.container_name}),
                attempts: 0,
                max_attempts: kind.max_attempts(),
                timeout_secs: kind.timeout().num_seconds() as u32,
                reason: None,
                approval_phrase: None,
                requested_by: actor.name.clone(),
                approved_by: None,
                approved_at: None,
                retry_of: None,
                result: None,
                output: None,
                created_at: now,
                updated_at: now,
                claimed_at: None,
                heartbeat_at: None,
                deadline_at: None,
                expires_at: now + Duration::hours(QUEUE_WINDOW_HOURS),
                finished_at: None,
            };
            let audit = self.draft(
                actor,
                i.org_id.clone(),
                "instance.cli_run",
                "job",
                Some(&job.id),
                Outcome::Succeeded,
                format!("Requested `{}` in OpenClaw {} on node {node_name}", spec.command_line(), i.container_name),
            );
            self.store.insert_cli_run(&job, &i.id, spec.id, audit).await?;
            self.job_signal.notify_waiters();
            Ok(job)
        })
        .await
    }

    /// The CLI commands requested in an instance, newest first, with their output.
    pub async fn instance_cli_runs(&self, actor: &Actor, instance_id: &str, query: OpsQuery) -> Result<Listing<Job>> {
        let page = Page::new(query.offset, query.limit)?;
        self.read(actor, "instance.cli_runs", "instance", Some(instance_id), async {
            let (i, _) = self.visible_instance_for(actor, instance_id).await?;
            Ok(paged(self.store.list_cli_runs(&i.id, probe(page)).await?, page))
        })
        .await
    }

    /// One CLI command requested in an instance.
    pub async fn instance_cli_run_get(&self, actor: &Actor, instance_id: &str, job_id: &str) -> Result<Job> {
        self.read(actor, "instance.cli_run_get", "job", Some(job_id), async {
            let (i, _) = self.visible_instance_for(actor, instance_id).await?;
            let not_found = || Error::not_found("command run", job_id);
            let job_id = validate::id("job_id", job_id).map_err(|_| not_found())?;
            self.store.get_cli_run(&i.id, &job_id).await?.ok_or_else(not_found)
        })
        .await
    }

    // --- versions and upgrade plans ---

    /// What the instance runs, what it should run, and whether it may move there (or to
    /// the version asked about).
    pub async fn instance_versions(&self, actor: &Actor, instance_id: &str, query: VersionQuery) -> Result<VersionReport> {
        self.read(actor, "instance.versions", "instance", Some(instance_id), async {
            let (i, _) = self.visible_instance_for(actor, instance_id).await?;
            let channel = query.channel.as_deref().map(Channel::parse).transpose()?.unwrap_or_default();
            let plans = self.store.list_upgrade_plans(&i.id, Page { offset: 0, limit: Page::MAX_LIMIT }).await?;
            let (desired, desired_source) = match plans.iter().find(|p| p.state == UpgradePlanState::Approved) {
                Some(p) => (p.to_version.clone(), format!("the approved upgrade plan {} (approved by {})", p.id, p.approved_by.clone().unwrap_or_default())),
                None => (openclaw::DEFAULT_VERSION.to_owned(), "the version this release of Anthropy Works deploys".to_owned()),
            };
            let target = query.to_version.clone().unwrap_or_else(|| desired.clone());
            let eligibility = openclaw_versions::eligibility(i.version.as_deref(), &target, channel)?;
            Ok(VersionReport {
                instance_id: i.id.clone(),
                current: i.version.clone(),
                pinned: openclaw::DEFAULT_VERSION.to_owned(),
                desired,
                desired_source,
                eligibility,
            })
        })
        .await
    }

    /// Records an upgrade plan. Nothing changes on the node; the plan waits for a person
    /// to approve it with its phrase.
    pub async fn upgrade_plan_create(&self, actor: &Actor, instance_id: &str, input: NewUpgradePlan) -> Result<UpgradePlan> {
        self.change(actor, "upgrade_plan.create", "instance", Some(instance_id), async {
            let (i, node_name) = self.visible_instance_for(actor, instance_id).await?;
            access::require_node_manager(actor, i.org_id.as_deref())?;
            if i.state != InstanceState::Managed {
                return Err(Error::conflict(
                    None,
                    format!("This instance is {}, not managed: only a managed instance can be upgraded (take a discovered one over first).", i.state.as_str()),
                ));
            }
            let channel = input.channel.as_deref().map(Channel::parse).transpose()?.unwrap_or_default();
            let e = openclaw_versions::eligibility(i.version.as_deref(), &input.to_version, channel)?;
            if !e.eligible {
                let why = std::iter::once(e.summary.clone()).chain(e.warnings.iter().cloned()).collect::<Vec<_>>().join(" ");
                return Err(Error::invalid("to_version", why));
            }
            let image = openclaw::image_reference(&e.target, None).unwrap_or_else(|_| format!("{}:{}", openclaw::DEFAULT_IMAGE_REPOSITORY, e.target));
            let now = self.now();
            let plan = UpgradePlan {
                id: new_id(),
                instance_id: i.id.clone(),
                node_id: i.node_id.clone(),
                org_id: i.org_id.clone(),
                from_version: i.version.clone(),
                to_version: e.target.clone(),
                channel,
                direction: e.direction,
                warnings: e.warnings.clone(),
                steps: openclaw_versions::plan_steps(&i.container_name, &node_name, i.version.as_deref(), &e.target, &image),
                state: UpgradePlanState::Proposed,
                approval_phrase: upgrade_phrase(&i.container_name, &node_name, &e.target),
                created_by: actor.name.clone(),
                created_at: now,
                updated_at: now,
                approved_by: None,
                approved_at: None,
                cancelled_by: None,
                cancelled_at: None,
                note: PLAN_NOTE.to_owned(),
            };
            let audit = self.draft(
                actor,
                i.org_id.clone(),
                "upgrade_plan.create",
                "upgrade_plan",
                Some(&plan.id),
                Outcome::Succeeded,
                format!(
                    "Proposed moving OpenClaw {} on node {node_name} from {} to {} ({} channel); nothing was changed",
                    i.container_name,
                    i.version.as_deref().unwrap_or("an unknown version"),
                    plan.to_version,
                    channel.as_str()
                ),
            );
            self.store.insert_upgrade_plan(&plan, audit).await?;
            Ok(plan)
        })
        .await
    }

    pub async fn upgrade_plan_list(&self, actor: &Actor, instance_id: &str, query: OpsQuery) -> Result<Listing<UpgradePlan>> {
        let page = Page::new(query.offset, query.limit)?;
        self.read(actor, "upgrade_plan.list", "instance", Some(instance_id), async {
            let (i, _) = self.visible_instance_for(actor, instance_id).await?;
            let mut plans = self.store.list_upgrade_plans(&i.id, probe(page)).await?;
            plans.iter_mut().for_each(|p| p.note = PLAN_NOTE.to_owned());
            Ok(paged(plans, page))
        })
        .await
    }

    pub async fn upgrade_plan_get(&self, actor: &Actor, instance_id: &str, plan_id: &str) -> Result<UpgradePlan> {
        self.read(actor, "upgrade_plan.get", "upgrade_plan", Some(plan_id), async { Ok(self.visible_plan(actor, instance_id, plan_id).await?.0) }).await
    }

    /// Approves a proposed plan by typing its phrase exactly. Records the approval only:
    /// nothing runs and nothing on the node changes.
    pub async fn upgrade_plan_approve(&self, actor: &Actor, instance_id: &str, plan_id: &str, input: ApprovePlan) -> Result<UpgradePlan> {
        self.change(actor, "upgrade_plan.approve", "upgrade_plan", Some(plan_id), async {
            let (mut plan, _) = self.visible_plan(actor, instance_id, plan_id).await?;
            access::require_approver(actor, plan.org_id.as_deref())?;
            if plan.state != UpgradePlanState::Proposed {
                return Err(Error::conflict(None, format!("This plan is {}; only a proposed plan can be approved.", plan.state.as_str())));
            }
            if input.phrase != plan.approval_phrase {
                return Err(Error::invalid("phrase", format!("does not match; type exactly: {}", plan.approval_phrase)));
            }
            let now = self.now();
            plan.state = UpgradePlanState::Approved;
            plan.approved_by = Some(actor.name.clone());
            plan.approved_at = Some(now);
            plan.updated_at = now;
            let audit = self.draft(
                actor,
                plan.org_id.clone(),
                "upgrade_plan.approve",
                "upgrade_plan",
                Some(&plan.id),
                Outcome::Succeeded,
                format!("Approved \"{}\"; the approval is recorded and nothing was run", plan.approval_phrase),
            );
            self.store.update_upgrade_plan(&plan, UpgradePlanState::Proposed, audit).await?;
            Ok(plan)
        })
        .await
    }

    /// Cancels a proposed or approved plan.
    pub async fn upgrade_plan_cancel(&self, actor: &Actor, instance_id: &str, plan_id: &str) -> Result<UpgradePlan> {
        self.change(actor, "upgrade_plan.cancel", "upgrade_plan", Some(plan_id), async {
            let (mut plan, _) = self.visible_plan(actor, instance_id, plan_id).await?;
            access::require_node_manager(actor, plan.org_id.as_deref())?;
            let before = plan.state;
            if before == UpgradePlanState::Cancelled {
                return Err(Error::conflict(None, "This plan is already cancelled."));
            }
            let now = self.now();
            plan.state = UpgradePlanState::Cancelled;
            plan.cancelled_by = Some(actor.name.clone());
            plan.cancelled_at = Some(now);
            plan.updated_at = now;
            let audit = self.draft(
                actor,
                plan.org_id.clone(),
                "upgrade_plan.cancel",
                "upgrade_plan",
                Some(&plan.id),
                Outcome::Succeeded,
                format!("Cancelled the plan to move to {}", plan.to_version),
            );
            self.store.update_upgrade_plan(&plan, before, audit).await?;
            Ok(plan)
        })
        .await
    }

    async fn visible_plan(&self, actor: &Actor, instance_id: &str, plan_id: &str) -> Result<(UpgradePlan, Instance)> {
        let (i, _) = self.visible_instance_for(actor, instance_id).await?;
        let not_found = || Error::not_found("upgrade plan", plan_id);
        let plan_id = validate::id("plan_id", plan_id).map_err(|_| not_found())?;
        match self.store.get_upgrade_plan(&plan_id).await? {
            Some(mut p) if p.instance_id == i.id => {
                p.note = PLAN_NOTE.to_owned();
                Ok((p, i))
            }
            _ => Err(not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_states_read_back() {
        for s in [UpgradePlanState::Proposed, UpgradePlanState::Approved, UpgradePlanState::Cancelled] {
            assert_eq!(UpgradePlanState::parse(s.as_str()), Some(s));
        }
        assert_eq!(UpgradePlanState::parse("running"), None);
    }

    #[test]
    fn the_phrase_names_container_node_and_version() {
        assert_eq!(upgrade_phrase("/openclaw-gateway", "acme-web-01", "2026.10.1"), "upgrade openclaw openclaw-gateway on acme-web-01 to 2026.10.1");
    }
}
