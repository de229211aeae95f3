//! Jobs: the control plane records and approves work; the agent on the assigned node
//! performs it and reports back.
//!
//! States: requested → awaiting_approval → queued → claimed → running →
//! succeeded | failed | timed_out | cancelled. Safe read-only kinds may retry by
//! themselves up to their limit; risky kinds never re-run by themselves — a person
//! retries them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::error::{Error, Result};
use crate::model::{Listing, Page};
use crate::nodes::NodeRecord;
use crate::redact::redact;
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    HealthCheck,
    Logs,
    InventoryRefresh,
    Deploy,
    Restart,
    Remove,
    Takeover,
    AgentInstall,
    /// An allowlisted read command of the OpenClaw CLI, by inventory id.
    CliCommand,
}

/// Whether a kind of work may change a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Read-only: may retry by itself.
    Safe,
    /// Changes the machine: needs approval, never re-runs by itself.
    Risky,
}

impl JobKind {
    pub const ALL: [JobKind; 9] = [
        JobKind::HealthCheck,
        JobKind::Logs,
        JobKind::InventoryRefresh,
        JobKind::Deploy,
        JobKind::Restart,
        JobKind::Remove,
        JobKind::Takeover,
        JobKind::AgentInstall,
        JobKind::CliCommand,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::HealthCheck => "health_check",
            JobKind::Logs => "logs",
            JobKind::InventoryRefresh => "inventory_refresh",
            JobKind::Deploy => "deploy",
            JobKind::Restart => "restart",
            JobKind::Remove => "remove",
            JobKind::Takeover => "takeover",
            JobKind::AgentInstall => "agent_install",
            JobKind::CliCommand => "cli_command",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn risk(self) -> Risk {
        match self {
            JobKind::HealthCheck | JobKind::Logs | JobKind::InventoryRefresh | JobKind::CliCommand => Risk::Safe,
            _ => Risk::Risky,
        }
    }

    /// How long the agent has, from claiming the job, to report its end.
    pub fn timeout(self) -> Duration {
        match self {
            JobKind::HealthCheck | JobKind::Logs => Duration::seconds(60),
            JobKind::InventoryRefresh | JobKind::Takeover | JobKind::CliCommand => Duration::seconds(120),
            JobKind::Restart | JobKind::Remove => Duration::seconds(300),
            JobKind::Deploy | JobKind::AgentInstall => Duration::seconds(900),
        }
    }

    /// How many times the job may be claimed in all.
    pub fn max_attempts(self) -> u32 {
        match self.risk() {
            Risk::Safe => 3,
            Risk::Risky => 1,
        }
    }

    /// Plain-English verb for approval phrases and lists.
    pub fn verb(self) -> &'static str {
        match self {
            JobKind::HealthCheck => "check health",
            JobKind::Logs => "read logs",
            JobKind::InventoryRefresh => "refresh inventory",
            JobKind::Deploy => "deploy openclaw",
            JobKind::Restart => "restart openclaw",
            JobKind::Remove => "remove openclaw",
            JobKind::Takeover => "take over openclaw",
            JobKind::AgentInstall => "install agent",
            JobKind::CliCommand => "run an openclaw read command",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Requested,
    AwaitingApproval,
    Queued,
    Claimed,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 9] = [
        JobState::Requested,
        JobState::AwaitingApproval,
        JobState::Queued,
        JobState::Claimed,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::TimedOut,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Requested => "requested",
            JobState::AwaitingApproval => "awaiting_approval",
            JobState::Queued => "queued",
            JobState::Claimed => "claimed",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::TimedOut => "timed_out",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        JobState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::TimedOut | JobState::Cancelled)
    }

    /// Work that has not been picked up can still be cancelled.
    pub fn can_be_cancelled(self) -> bool {
        matches!(self, JobState::Requested | JobState::AwaitingApproval | JobState::Queued)
    }

    /// A person may retry work that failed or timed out.
    pub fn can_be_retried(self) -> bool {
        matches!(self, JobState::Failed | JobState::TimedOut)
    }

    /// Plain label for people.
    pub fn label(self) -> &'static str {
        match self {
            JobState::Requested => "Requested",
            JobState::AwaitingApproval => "Waiting for approval",
            JobState::Queued => "Waiting for the agent",
            JobState::Claimed => "Picked up",
            JobState::Running => "Running",
            JobState::Succeeded => "Complete",
            JobState::Failed => "Failed",
            JobState::TimedOut => "Timed out",
            JobState::Cancelled => "Cancelled",
        }
    }
}

/// A unit of work for one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: String,
    pub node_id: String,
    /// The organization of the node (empty for shared MSP infrastructure).
    pub org_id: Option<String>,
    pub kind: JobKind,
    pub risk: Risk,
    pub state: JobState,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: serde_json::Value,
    /// How many times an agent has claimed it.
    pub attempts: u32,
    pub max_attempts: u32,
    /// The window, in seconds, the agent has from claiming to reporting.
    pub timeout_secs: u32,
    /// Why the job is in its state, in plain English (recovery, refusal, failure).
    pub reason: Option<String>,
    /// The phrase an approver types, for risky work.
    pub approval_phrase: Option<String>,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    /// The job this one retries, when a person retried a failed one.
    pub retry_of: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub result: Option<serde_json::Value>,
    /// The agent's output, redacted.
    pub output: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// When a claimed or running job times out.
    pub deadline_at: Option<DateTime<Utc>>,
    /// When a job waiting for an offline node gives up.
    pub expires_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewJob {
    pub node_id: String,
    pub kind: JobKind,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApproveJob {
    /// Exactly the job's `approval_phrase`.
    pub phrase: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    pub node_id: Option<String>,
    pub state: Option<JobState>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// Filters handed to the store (validated).
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub node_id: Option<String>,
    pub state: Option<JobState>,
}

/// How long a job may wait, queued, for an offline node.
pub const QUEUE_WINDOW_HOURS: i64 = 24;
/// Largest parameter document accepted.
pub const MAX_PARAMS_BYTES: usize = 16 * 1024;
/// Largest output kept from an agent.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;

impl Works {
    /// Requests work on a node. Safe work is queued at once; risky work waits for a
    /// person to type the approval phrase.
    pub async fn job_request(&self, actor: &Actor, input: NewJob) -> Result<Job> {
        self.change(actor, "job.request", "node", Some(&input.node_id), async {
            let node = self.visible_node(actor, &input.node_id).await?;
            access::require_node_manager(actor, node.org_id.as_deref())?;
            if input.kind == JobKind::CliCommand {
                return Err(Error::invalid("kind", "cli_command work is requested on an instance, by command id: POST /api/v1/instances/{id}/cli-runs (works instance cli-run)"));
            }
            if node.retired_at.is_some() {
                return Err(Error::conflict(Some("node_id"), "This node is retired and takes no new work."));
            }
            let params = match input.params {
                serde_json::Value::Null => serde_json::Value::Object(Default::default()),
                v @ serde_json::Value::Object(_) => v,
                _ => return Err(Error::invalid("params", "must be a JSON object")),
            };
            if params.to_string().len() > MAX_PARAMS_BYTES {
                return Err(Error::invalid("params", format!("must be at most {MAX_PARAMS_BYTES} bytes")));
            }
            let kind = input.kind;
            let phrase = (kind.risk() == Risk::Risky).then(|| format!("{} on {}", kind.verb(), node.name));
            let job = self.new_job(actor, &node, kind, params, phrase);
            let audit = self.draft(
                actor,
                job.org_id.clone(),
                "job.request",
                "job",
                Some(&job.id),
                Outcome::Succeeded,
                format!("Requested {} on node {} ({})", kind.verb(), node.name, job.state.label()),
            );
            self.store.insert_job(&job, audit).await?;
            self.job_signal.notify_node(&job.node_id);
            Ok(job)
        })
        .await
    }

    /// A new job for `node`: queued when safe, waiting for `phrase` when risky.
    pub(crate) fn new_job(&self, actor: &Actor, node: &NodeRecord, kind: JobKind, params: serde_json::Value, phrase: Option<String>) -> Job {
        let now = self.now();
        let risky = kind.risk() == Risk::Risky;
        Job {
            id: new_id(),
            node_id: node.id.clone(),
            org_id: node.org_id.clone(),
            kind,
            risk: kind.risk(),
            state: if risky { JobState::AwaitingApproval } else { JobState::Queued },
            params,
            attempts: 0,
            max_attempts: kind.max_attempts(),
            timeout_secs: kind.timeout().num_seconds() as u32,
            reason: risky.then(|| "Risky work waits for a person to approve it.".to_owned()),
            approval_phrase: if risky { phrase } else { None },
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
        }
    }

    pub async fn job_list(&self, actor: &Actor, query: JobQuery) -> Result<Listing<Job>> {
        let page = Page::new(query.offset, query.limit)?;
        let filter = JobFilter {
            node_id: query.node_id.as_deref().map(|n| validate::id("node_id", n)).transpose()?,
            state: query.state,
        };
        let items = self.store.list_jobs(&access::node_scope(actor), &filter, probe(page)).await?;
        Ok(paged(items, page))
    }

    pub async fn job_get(&self, actor: &Actor, id: &str) -> Result<Job> {
        self.read(actor, "job.get", "job", Some(id), self.visible_job(actor, id)).await
    }

    /// Approves risky work by typing its phrase exactly. Wrong phrase, expired request or
    /// an approver without the right role: refused and recorded.
    pub async fn job_approve(&self, actor: &Actor, id: &str, input: ApproveJob) -> Result<Job> {
        self.change(actor, "job.approve", "job", Some(id), async {
            let mut job = self.visible_job(actor, id).await?;
            access::require_approver(actor, job.org_id.as_deref())?;
            if job.state != JobState::AwaitingApproval {
                return Err(Error::conflict(None, format!("This job is {}, not waiting for approval.", job.state.label().to_lowercase())));
            }
            let now = self.now();
            if job.expires_at <= now {
                return Err(Error::conflict(None, "This request has expired; request the work again."));
            }
            let expected = job.approval_phrase.clone().unwrap_or_default();
            if input.phrase != expected {
                return Err(Error::invalid("phrase", format!("does not match; type exactly: {expected}")));
            }
            let before = job.state;
            job.state = JobState::Queued;
            job.approved_by = Some(actor.name.clone());
            job.approved_at = Some(now);
            job.reason = Some(format!("Approved by {}.", actor.name));
            job.updated_at = now;
            let audit = self.draft(actor, job.org_id.clone(), "job.approve", "job", Some(&job.id), Outcome::Succeeded, format!("Approved \"{expected}\""));
            self.store.update_job(&job, before, audit).await?;
            self.follow_job(actor, &job).await;
            self.start_approved_agent_install(actor, &job).await;
            self.job_signal.notify_node(&job.node_id);
            Ok(job)
        })
        .await
    }

    /// Cancels work that has not been picked up yet.
    pub async fn job_cancel(&self, actor: &Actor, id: &str) -> Result<Job> {
        self.change(actor, "job.cancel", "job", Some(id), async {
            let mut job = self.visible_job(actor, id).await?;
            access::require_node_manager(actor, job.org_id.as_deref())?;
            if !job.state.can_be_cancelled() {
                return Err(Error::conflict(None, format!("This job is {} and can no longer be cancelled.", job.state.label().to_lowercase())));
            }
            let before = job.state;
            let now = self.now();
            job.state = JobState::Cancelled;
            job.reason = Some(format!("Cancelled by {}.", actor.name));
            job.updated_at = now;
            job.finished_at = Some(now);
            let audit = self.draft(actor, job.org_id.clone(), "job.cancel", "job", Some(&job.id), Outcome::Succeeded, format!("Cancelled {}", job.kind.verb()));
            self.store.update_job(&job, before, audit).await?;
            self.follow_job(actor, &job).await;
            Ok(job)
        })
        .await
    }

    /// A person retries a failed or timed-out job: a new job of the same kind and
    /// parameters. Risky work needs approval again.
    pub async fn job_retry(&self, actor: &Actor, id: &str) -> Result<Job> {
        let original = self.read(actor, "job.retry", "job", Some(id), self.visible_job(actor, id)).await?;
        self.change(actor, "job.retry", "job", Some(id), async {
            if !original.state.can_be_retried() {
                return Err(Error::conflict(None, "Only a failed or timed-out job can be retried."));
            }
            Ok(())
        })
        .await?;
        let mut job = self.job_request(actor, NewJob { node_id: original.node_id.clone(), kind: original.kind, params: original.params.clone() }).await?;
        job.retry_of = Some(original.id.clone());
        // A retried deploy, restart or removal asks for the same phrase as the original.
        if job.approval_phrase.is_some() && original.approval_phrase.is_some() {
            job.approval_phrase = original.approval_phrase.clone();
        }
        let audit = self.draft(actor, job.org_id.clone(), "job.retry", "job", Some(&job.id), Outcome::Succeeded, format!("Retried job {} by hand", original.id));
        self.store.update_job(&job, job.state, audit).await?;
        self.follow_job(actor, &job).await;
        Ok(job)
    }

    pub(crate) async fn visible_job(&self, actor: &Actor, id: &str) -> Result<Job> {
        let not_found = || Error::not_found("job", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_job(&id).await? {
            Some(j) if access::can_see_node(actor, j.org_id.as_deref()) => Ok(j),
            _ => Err(not_found()),
        }
    }
}

impl Job {
    /// A job known only by its id and node, to carry how an agent ended it to
    /// [`crate::fleet_store::FleetStore::end_job`] (which writes only the end's fields).
    pub(crate) fn ended_template(id: &str, node_id: &str) -> Job {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        Job {
            id: id.to_owned(),
            node_id: node_id.to_owned(),
            org_id: None,
            kind: JobKind::HealthCheck,
            risk: Risk::Safe,
            state: JobState::Claimed,
            params: serde_json::Value::Null,
            attempts: 0,
            max_attempts: 0,
            timeout_secs: 0,
            reason: None,
            approval_phrase: None,
            requested_by: String::new(),
            approved_by: None,
            approved_at: None,
            retry_of: None,
            result: None,
            output: None,
            created_at: epoch,
            updated_at: epoch,
            claimed_at: None,
            heartbeat_at: None,
            deadline_at: None,
            expires_at: epoch,
            finished_at: None,
        }
    }
}

/// Output is redacted and bounded before it is stored.
pub fn clean_output(output: &str) -> String {
    let mut s = redact(output);
    if s.len() > MAX_OUTPUT_BYTES {
        let mut cut = MAX_OUTPUT_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("\n[output truncated]");
    }
    s
}
