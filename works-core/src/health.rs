//! System health: one answer — healthy, degraded or critical — computed from recorded
//! conditions, with each issue in plain English, what to do next and where to look.
//!
//! # Conditions
//!
//! | condition | issue id | severity |
//! | --- | --- | --- |
//! | the database cannot be reached | `database-unreachable` | critical |
//! | the recovery monitor's lease ran out (no server renewed it for more than three monitor intervals: the lease is taken for three intervals at every renewal) | `recovery-monitor` | degraded |
//! | a node is offline | `node-offline:<node id>` | degraded; critical when every node in view is offline |
//! | a node is stale | `node-stale:<node id>` | degraded |
//! | a job failed or timed out in the last 24 hours | `job-failed:<job id>` | degraded |
//! | an OpenClaw instance's container reports unhealthy or is not running | `instance-unhealthy:<instance id>` | degraded |
//! | an OpenClaw instance's container is gone from its node's inventory | `instance-missing:<instance id>` | degraded |
//!
//! A node that never enrolled an agent is waiting to be set up, not down: it raises no
//! issue. Retired nodes raise none. A database with no recovery lease at all has not been
//! served by `works serve` yet (an embedded store opened by the CLI): no monitor issue.
//!
//! Instances of retired nodes raise none. A workflow run that failed in the last day is
//! `run-failed:<run id>` (degraded). Further conditions
//! are added in `collect_issues` in this file, each as one more source of
//! [`HealthIssue`]s.
//!
//! # Scope
//!
//! MSP roles see every issue, including the database and the recovery monitor. An
//! organization admin sees the issues of their organization's nodes and jobs. An
//! organization user has no machines and sees no issues.
//!
//! # Acknowledgement
//!
//! An MSP admin or operator (any issue) or an organization admin (their organization's
//! issues) may acknowledge an issue with a note. It moves to the reviewed list and stops
//! counting toward the answer until its condition changes: every issue carries a
//! fingerprint of its condition (a node's status and last check-in, a job's state, the
//! lease's expiry) and an acknowledgement holds only for the fingerprint it was given
//! for. Acknowledgements are audited.
//!
//! # Test and validation records
//!
//! A node whose name starts with `validation-`, a job whose parameters carry
//! `"validation": true`, and every job of such a node are records of tests and validation
//! runs. Their issues are listed apart and never move the answer.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::{AuditDraft, Outcome};
use crate::error::{Error, Result};
use crate::jobs::{Job, JobState};
use crate::model::{Page, Scope};
use crate::nodes::{NodeRecord, NodeStatus};
use crate::works::Works;

/// Prefix of the names of nodes made by tests and validation runs.
pub const VALIDATION_NODE_PREFIX: &str = "validation-";
/// The parameter that marks a job as made by a test or validation run.
pub const VALIDATION_PARAM: &str = "validation";
/// How far back failed jobs count.
pub const FAILED_JOB_WINDOW_HOURS: i64 = 24;
/// Most failed jobs read for one report.
pub const MAX_FAILED_JOBS: u32 = 500;
/// Offline (and, apart, quiet) nodes listed one issue each; the rest are counted in one.
pub const MAX_NODE_ISSUES: usize = 200;
/// Longest acknowledgement note.
pub const NOTE_MAX: usize = 1000;

/// The one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Healthy,
    Degraded,
    Critical,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "healthy" => Some(HealthState::Healthy),
            "degraded" => Some(HealthState::Degraded),
            "critical" => Some(HealthState::Critical),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            HealthState::Healthy => "Healthy",
            HealthState::Degraded => "Degraded",
            HealthState::Critical => "Critical",
        }
    }

    /// 0, 1, 2: the exit code of `works health` and the value of `works_health_state`.
    pub fn code(self) -> u8 {
        match self {
            HealthState::Healthy => 0,
            HealthState::Degraded => 1,
            HealthState::Critical => 2,
        }
    }
}

/// One thing that is wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthIssue {
    /// Stable key of the condition, e.g. `node-offline:<node id>`.
    pub id: String,
    /// `degraded` or `critical`.
    pub severity: HealthState,
    pub title: String,
    pub why: String,
    pub next_action: String,
    /// Where to look, in the web UI.
    pub link: String,
    /// `database`, `recovery_monitor`, `node`, `job` or `instance`.
    pub kind: String,
    pub subject_id: Option<String>,
    /// The organization the subject belongs to (empty for the MSP's own).
    pub org_id: Option<String>,
    /// Since when the condition holds, when known.
    pub since: Option<DateTime<Utc>>,
    pub acknowledged: bool,
    /// The acknowledgement, when there is one for this condition.
    pub acknowledgement: Option<HealthAck>,
    /// Identifies the condition: an acknowledgement holds while it is unchanged.
    pub fingerprint: String,
    /// Technical detail: ids and raw values.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

/// The health of what the actor may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthReport {
    pub state: HealthState,
    /// One plain sentence.
    pub summary: String,
    /// Current issues: these make the answer.
    pub issues: Vec<HealthIssue>,
    /// Issues a person reviewed; they do not count until their condition changes.
    pub acknowledged: Vec<HealthIssue>,
    /// Issues of test and validation records; they never count.
    pub validation: Vec<HealthIssue>,
    pub checked_at: DateTime<Utc>,
}

impl HealthReport {
    /// The answer when the database (or the server holding it) cannot be reached at all:
    /// critical, with the problem as the one issue.
    pub fn unreachable(problem: &str, at: DateTime<Utc>) -> HealthReport {
        let issue = issue(
            "database-unreachable".into(),
            HealthState::Critical,
            "database",
            None,
            None,
            None,
            "unreachable".into(),
            "The database cannot be reached".into(),
            format!("The health of Anthropy Works could not be read: {}", crate::redact::redact(problem)),
            "Check that the database server (or the Anthropy Works server) is running and reachable from here, then run `works check`.".into(),
            "/ui".into(),
            serde_json::json!({ "error": crate::redact::redact(problem) }),
        );
        HealthReport {
            state: HealthState::Critical,
            summary: summary(HealthState::Critical, 1, 0),
            issues: vec![issue],
            acknowledged: Vec::new(),
            validation: Vec::new(),
            checked_at: at,
        }
    }
}

/// A person's acknowledgement of one condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthAck {
    pub issue_id: String,
    pub fingerprint: String,
    pub org_id: Option<String>,
    pub note: String,
    pub acknowledged_by: String,
    pub acknowledged_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeIssue {
    /// Why it is fine, or what is being done about it.
    #[serde(default)]
    pub note: String,
}

/// A named lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub expires_at: DateTime<Utc>,
}

/// Whole-installation counts for the metrics endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub orgs: u64,
    pub users: u64,
    pub audit_records: u64,
    /// Jobs by state name.
    pub jobs_by_state: Vec<(String, u64)>,
}

/// The storage contract of health: leases read back, failed jobs, acknowledgements,
/// counts. Same rules as [`crate::store`].
#[async_trait::async_trait]
pub trait HealthStore: Send + Sync + 'static {
    async fn get_lease(&self, name: &str) -> Result<Option<Lease>>;
    /// Jobs in `failed` or `timed_out` that finished at or after `since`, newest first,
    /// at most `limit`, within the scope (a user scope holds none).
    async fn failed_jobs_since(&self, scope: &Scope, since: DateTime<Utc>, limit: u32) -> Result<Vec<Job>>;
    /// Acknowledgements of issues of the scope: `Org` → that organization's; `User` → none.
    async fn list_health_acks(&self, scope: &Scope) -> Result<Vec<HealthAck>>;
    /// Stores the acknowledgement, replacing an earlier one of the same issue, with its
    /// audit record in one transaction.
    async fn put_health_ack(&self, ack: &HealthAck, audit: AuditDraft) -> Result<()>;
    async fn store_counts(&self) -> Result<StoreCounts>;
}

/// Node status counts and the rest, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub state: HealthState,
    pub nodes_by_status: Vec<(String, u64)>,
    pub counts: StoreCounts,
}

impl Metrics {
    /// The Prometheus text exposition format.
    pub fn to_prometheus(&self, version: &str, commit: &str) -> String {
        let esc = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let mut out = String::new();
        out.push_str("# HELP works_health_state The health answer: 0 healthy, 1 degraded, 2 critical.\n");
        out.push_str("# TYPE works_health_state gauge\n");
        out.push_str(&format!("works_health_state {}\n", self.state.code()));
        out.push_str("# HELP works_nodes Nodes in service (not retired) by status.\n# TYPE works_nodes gauge\n");
        for (status, n) in &self.nodes_by_status {
            out.push_str(&format!("works_nodes{{status=\"{}\"}} {n}\n", esc(status)));
        }
        out.push_str("# HELP works_jobs Jobs by state.\n# TYPE works_jobs gauge\n");
        for (state, n) in &self.counts.jobs_by_state {
            out.push_str(&format!("works_jobs{{state=\"{}\"}} {n}\n", esc(state)));
        }
        out.push_str("# HELP works_orgs Organizations.\n# TYPE works_orgs gauge\n");
        out.push_str(&format!("works_orgs {}\n", self.counts.orgs));
        out.push_str("# HELP works_users Users.\n# TYPE works_users gauge\n");
        out.push_str(&format!("works_users {}\n", self.counts.users));
        out.push_str("# HELP works_audit_records Records in the audit log.\n# TYPE works_audit_records gauge\n");
        out.push_str(&format!("works_audit_records {}\n", self.counts.audit_records));
        out.push_str("# HELP works_build_info The running build.\n# TYPE works_build_info gauge\n");
        out.push_str(&format!("works_build_info{{version=\"{}\",commit=\"{}\"}} 1\n", esc(version), esc(commit)));
        out
    }
}

/// Is this node a record of a test or validation run?
pub fn is_validation_node(name: &str) -> bool {
    name.starts_with(VALIDATION_NODE_PREFIX)
}

/// Is this job a record of a test or validation run (by its parameters)?
pub fn is_validation_job(job: &Job) -> bool {
    job.params.get(VALIDATION_PARAM).and_then(serde_json::Value::as_bool) == Some(true)
}

/// An issue before acknowledgements are applied, and whether it is a validation record.
struct Found {
    issue: HealthIssue,
    validation: bool,
}

#[allow(clippy::too_many_arguments)]
fn issue(
    id: String,
    severity: HealthState,
    kind: &str,
    subject_id: Option<String>,
    org_id: Option<String>,
    since: Option<DateTime<Utc>>,
    fingerprint: String,
    title: String,
    why: String,
    next_action: String,
    link: String,
    detail: serde_json::Value,
) -> HealthIssue {
    HealthIssue {
        id,
        severity,
        title,
        why,
        next_action,
        link,
        kind: kind.to_owned(),
        subject_id,
        org_id,
        since,
        acknowledged: false,
        acknowledgement: None,
        fingerprint,
        detail,
    }
}

fn summary(state: HealthState, current: usize, reviewed: usize) -> String {
    let reviewed = match reviewed {
        0 => String::new(),
        1 => " One reviewed issue is set aside.".to_owned(),
        n => format!(" {n} reviewed issues are set aside."),
    };
    match (state, current) {
        (HealthState::Healthy, _) => format!("Everything is working as expected.{reviewed}"),
        (HealthState::Critical, _) => format!("Something critical needs attention now: see the first issue below.{reviewed}"),
        (_, 1) => format!("One issue needs attention.{reviewed}"),
        (_, n) => format!("{n} issues need attention.{reviewed}"),
    }
}

fn fmt_time(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "never".to_owned())
}

impl Works {
    /// The health of everything the actor may see.
    pub async fn health(&self, actor: &Actor) -> Result<HealthReport> {
        let now = self.now();
        let scope = access::node_scope(actor);
        if let Err(e) = self.store.ping().await {
            // Nothing else can be read; the MSP is told why, everyone else gets the error.
            return if actor.is_msp() { Ok(HealthReport::unreachable(&e.to_string(), now)) } else { Err(e) };
        }
        let found = self.collect_issues(actor, &scope, now).await?;
        let acks = self.store.list_health_acks(&scope).await?;
        let mut issues = Vec::new();
        let mut acknowledged = Vec::new();
        let mut validation = Vec::new();
        for Found { mut issue, validation: is_validation } in found {
            if let Some(ack) = acks.iter().find(|a| a.issue_id == issue.id && a.fingerprint == issue.fingerprint) {
                issue.acknowledged = true;
                issue.acknowledgement = Some(ack.clone());
            }
            if is_validation {
                validation.push(issue);
            } else if issue.acknowledged {
                acknowledged.push(issue);
            } else {
                issues.push(issue);
            }
        }
        issues.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
        let state = issues.iter().map(|i| i.severity).max().unwrap_or(HealthState::Healthy);
        Ok(HealthReport { state, summary: summary(state, issues.len(), acknowledged.len()), issues, acknowledged, validation, checked_at: now })
    }

    /// Every condition that is wrong, in the actor's scope. Each kind of record adds
    /// its own issues here.
    async fn collect_issues(&self, actor: &Actor, scope: &Scope, now: DateTime<Utc>) -> Result<Vec<Found>> {
        let mut found = Vec::new();
        if actor.is_msp() {
            found.extend(self.monitor_issue(now).await?);
        }
        let nodes = self.nodes_in_scope(scope, true).await?;
        found.extend(self.node_issues(&nodes, now));
        found.extend(self.job_issues(scope, &nodes, now).await?);
        found.extend(self.instance_issues(scope, &nodes).await?);
        found.extend(self.workflow_issues(scope, now).await?);
        Ok(found)
    }

    /// Workflow runs that failed in the last day (an interrupted run, a failed live step).
    async fn workflow_issues(&self, scope: &Scope, now: DateTime<Utc>) -> Result<Vec<Found>> {
        let since = now - Duration::hours(FAILED_JOB_WINDOW_HOURS);
        let filter = crate::runs::RunFilter { workflow_id: None, state: Some(crate::runs::RunState::Failed) };
        let runs = self.store.list_runs(scope, &filter, Page { offset: 0, limit: MAX_FAILED_JOBS }).await?;
        let mut out = Vec::new();
        for run in runs.into_iter().filter(|r| r.finished_at.unwrap_or(r.updated_at) >= since) {
            out.push(Found {
                issue: issue(
                    format!("run-failed:{}", run.id),
                    HealthState::Degraded,
                    "workflow_run",
                    Some(run.id.clone()),
                    Some(run.org_id.clone()),
                    run.finished_at,
                    "failed".to_owned(),
                    format!("A run of the workflow {} failed", run.workflow_name),
                    if run.reason.trim().is_empty() { "The run failed without giving a reason.".to_owned() } else { run.reason.clone() },
                    "Open the run, read its step log, fix the cause (a connection, a permission) and start it again, or acknowledge it if it no longer matters.".into(),
                    format!("/ui/workflows/{}/runs/{}", run.workflow_id, run.id),
                    serde_json::json!({
                        "run_id": run.id, "workflow_id": run.workflow_id, "mode": run.mode, "state": run.state,
                        "current_step": run.current_step, "finished_at": run.finished_at,
                    }),
                ),
                validation: false,
            });
        }
        Ok(out)
    }

    /// OpenClaw instances whose container is unhealthy, stopped or gone.
    async fn instance_issues(&self, scope: &Scope, nodes: &[NodeRecord]) -> Result<Vec<Found>> {
        let mut out = Vec::new();
        for i in self.instances_in_scope(scope).await? {
            let node = nodes.iter().find(|n| n.id == i.node_id);
            if node.is_some_and(|n| n.retired_at.is_some()) {
                continue;
            }
            // Deploying, failed and removed instances have no container to judge; a failed
            // deploy shows as its failed job.
            if !matches!(i.state, crate::instances::InstanceState::Discovered | crate::instances::InstanceState::Managed) {
                continue;
            }
            let node_name = node.map(|n| n.name.clone()).unwrap_or_else(|| i.node_id.clone());
            let condition = crate::history::instance_condition(i.health.as_deref());
            let health = i.health.clone().unwrap_or_default();
            let name = i.container_name.trim_start_matches('/');
            let (id, title, why, next, since) = match condition {
                "unhealthy" => (
                    format!("instance-unhealthy:{}", i.id),
                    format!("OpenClaw {name} on {node_name} is not healthy"),
                    format!("Its container last reported “{health}” ({}).", fmt_time(Some(i.updated_at))),
                    "Open the instance and read its gateway logs (request a logs job on the node); restart it if it does not recover.",
                    None,
                ),
                "missing" => (
                    format!("instance-missing:{}", i.id),
                    format!("OpenClaw {name} on {node_name} is gone"),
                    format!("Its container has not been in the node's inventory since {}; it may have been removed or renamed.", fmt_time(Some(i.updated_at))),
                    "Check on the node whether the container was removed on purpose; if it was, acknowledge this issue, otherwise deploy it again.",
                    Some(i.updated_at),
                ),
                _ => continue,
            };
            out.push(Found {
                issue: issue(
                    id,
                    HealthState::Degraded,
                    "instance",
                    Some(i.id.clone()),
                    i.org_id.clone(),
                    since,
                    format!("{condition}:{health}"),
                    title,
                    why,
                    next.to_owned(),
                    format!("/ui/instances/{}", i.id),
                    serde_json::json!({
                        "instance_id": i.id, "node_id": i.node_id, "container_id": i.container_id, "container_name": i.container_name,
                        "image": i.image, "version": i.version, "health": i.health, "state": i.state.as_str(), "updated_at": i.updated_at,
                    }),
                ),
                validation: is_validation_node(&node_name),
            });
        }
        Ok(out)
    }

    /// Every node of the scope; retired ones too when asked (their jobs still name them).
    async fn nodes_in_scope(&self, scope: &Scope, include_retired: bool) -> Result<Vec<NodeRecord>> {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let page = Page { offset, limit: Page::MAX_LIMIT };
            let batch = self.store.list_nodes(scope, None, include_retired, page).await?;
            let n = batch.len();
            all.extend(batch);
            if n < Page::MAX_LIMIT as usize {
                return Ok(all);
            }
            offset += Page::MAX_LIMIT;
        }
    }

    async fn monitor_issue(&self, now: DateTime<Utc>) -> Result<Option<Found>> {
        let Some(lease) = self.store.get_lease(crate::recovery::RECOVERY_LEASE).await? else { return Ok(None) };
        if lease.expires_at > now {
            return Ok(None);
        }
        Ok(Some(Found {
            issue: issue(
                "recovery-monitor".into(),
                HealthState::Degraded,
                "recovery_monitor",
                None,
                None,
                Some(lease.expires_at),
                format!("expired:{}", lease.expires_at.timestamp_millis()),
                "The recovery monitor is not running".into(),
                format!(
                    "No server has renewed the recovery monitor's lease since {}; overdue jobs are not being timed out or retried.",
                    fmt_time(Some(lease.expires_at))
                ),
                "Check that `works serve` is running and its log shows no database errors; restart it if it is stopped.".into(),
                "/ui".into(),
                serde_json::json!({ "lease": lease.name, "last_holder": lease.holder, "expired_at": lease.expires_at }),
            ),
            validation: false,
        }))
    }

    fn node_issues(&self, nodes: &[NodeRecord], now: DateTime<Utc>) -> Vec<Found> {
        let thresholds = &self.config.nodes;
        let watched: Vec<(&NodeRecord, NodeStatus)> = nodes
            .iter()
            .filter(|n| n.retired_at.is_none() && (n.enrolled_at.is_some() || n.last_checkin_at.is_some()))
            .map(|n| (n, thresholds.status(n.last_checkin_at, now)))
            .collect();
        let counted: Vec<&(&NodeRecord, NodeStatus)> = watched.iter().filter(|(n, _)| !is_validation_node(&n.name)).collect();
        let all_offline = !counted.is_empty() && counted.iter().all(|(_, s)| *s == NodeStatus::Offline);
        let mut out = Vec::new();
        // A fleet-wide outage would otherwise make one issue per node: 100,000 of them
        // at fleet scale, in every health answer. Past the first few per status the rest
        // are counted in one issue that links to the node list.
        let (mut listed, mut more) = ([0usize; 2], [0usize; 2]);
        for (node, status) in watched {
            let slot = match status {
                NodeStatus::Online => continue,
                NodeStatus::Offline => 0,
                NodeStatus::Stale => 1,
            };
            if listed[slot] >= MAX_NODE_ISSUES {
                more[slot] += 1;
                continue;
            }
            listed[slot] += 1;
            let validation = is_validation_node(&node.name);
            let last = node.last_checkin_at;
            let fingerprint = format!("{}:{}", status.as_str(), last.map(|t| t.timestamp_millis()).unwrap_or(0));
            let detail = serde_json::json!({
                "node_id": node.id, "node_name": node.name, "org_id": node.org_id, "status": status.as_str(),
                "last_checkin_at": last, "enrolled_at": node.enrolled_at,
            });
            let made = match status {
                NodeStatus::Online => continue,
                NodeStatus::Offline => issue(
                    format!("node-offline:{}", node.id),
                    if all_offline && !validation { HealthState::Critical } else { HealthState::Degraded },
                    "node",
                    Some(node.id.clone()),
                    node.org_id.clone(),
                    last.map(|t| t + thresholds.offline_after),
                    fingerprint,
                    format!("Node {} is offline", node.name),
                    if all_offline && !validation {
                        format!("Its agent last checked in {}, and no other node is online either.", fmt_time(last))
                    } else {
                        format!("Its agent last checked in {}.", fmt_time(last))
                    },
                    "Check that the machine is running and the agent service is up (`systemctl status works-agent`).".into(),
                    format!("/ui/nodes/{}", node.id),
                    detail,
                ),
                NodeStatus::Stale => issue(
                    format!("node-stale:{}", node.id),
                    HealthState::Degraded,
                    "node",
                    Some(node.id.clone()),
                    node.org_id.clone(),
                    last.map(|t| t + thresholds.stale_after),
                    fingerprint,
                    format!("Node {} has gone quiet", node.name),
                    format!("Its agent last checked in {}; it may be slow, restarting or losing its network.", fmt_time(last)),
                    "Watch it for a few minutes; if it does not come back, check the machine and its agent.".into(),
                    format!("/ui/nodes/{}", node.id),
                    detail,
                ),
            };
            out.push(Found { issue: made, validation });
        }
        for (slot, count) in more.into_iter().enumerate() {
            if count == 0 {
                continue;
            }
            let (status, severity, title, why) = if slot == 0 {
                (
                    "offline",
                    if all_offline { HealthState::Critical } else { HealthState::Degraded },
                    format!("{count} more nodes are offline"),
                    format!("Besides the {MAX_NODE_ISSUES} offline nodes listed one by one, {count} more have not checked in for over {} seconds.", thresholds.offline_after.num_seconds()),
                )
            } else {
                (
                    "stale",
                    HealthState::Degraded,
                    format!("{count} more nodes have gone quiet"),
                    format!("Besides the {MAX_NODE_ISSUES} quiet nodes listed one by one, {count} more have not checked in for over {} seconds.", thresholds.stale_after.num_seconds()),
                )
            };
            out.push(Found {
                issue: issue(
                    format!("nodes-{status}:more"),
                    severity,
                    "node",
                    None,
                    None,
                    None,
                    format!("{status}:{count}"),
                    title,
                    why,
                    "So many nodes at once usually means a network or server-side cause rather than the machines: check the network path from the sites to this server first, then the node list.".into(),
                    "/ui/nodes".into(),
                    serde_json::json!({ "status": status, "count": count, "listed": MAX_NODE_ISSUES }),
                ),
                validation: false,
            });
        }
        out
    }

    async fn job_issues(&self, scope: &Scope, nodes: &[NodeRecord], now: DateTime<Utc>) -> Result<Vec<Found>> {
        let since = now - Duration::hours(FAILED_JOB_WINDOW_HOURS);
        let jobs = self.store.failed_jobs_since(scope, since, MAX_FAILED_JOBS).await?;
        let mut out = Vec::new();
        for job in jobs {
            let node = nodes.iter().find(|n| n.id == job.node_id);
            let node_name = node.map(|n| n.name.clone()).unwrap_or_else(|| job.node_id.clone());
            let validation = is_validation_job(&job) || is_validation_node(&node_name);
            let (what, title) = match job.state {
                JobState::TimedOut => ("timed out", format!("A {} job on {node_name} timed out", job.kind.verb())),
                _ => ("failed", format!("A {} job on {node_name} failed", job.kind.verb())),
            };
            let why = job.reason.clone().unwrap_or_else(|| format!("The job {what} without giving a reason."));
            out.push(Found {
                issue: issue(
                    format!("job-failed:{}", job.id),
                    HealthState::Degraded,
                    "job",
                    Some(job.id.clone()),
                    job.org_id.clone(),
                    job.finished_at,
                    job.state.as_str().to_owned(),
                    title,
                    why,
                    "Open the job, read its output, fix the cause on the node and retry it, or acknowledge it if it no longer matters.".into(),
                    format!("/ui/jobs/{}", job.id),
                    serde_json::json!({
                        "job_id": job.id, "node_id": job.node_id, "kind": job.kind.as_str(), "state": job.state.as_str(),
                        "attempts": job.attempts, "finished_at": job.finished_at, "params": job.params,
                    }),
                ),
                validation,
            });
        }
        Ok(out)
    }

    /// Acknowledges a current issue with a note: it moves to the reviewed list until its
    /// condition changes. MSP roles may acknowledge any issue; an organization admin
    /// their organization's. An issue the actor cannot see answers as not found.
    pub async fn health_acknowledge(&self, actor: &Actor, issue_id: &str, note: &str) -> Result<HealthIssue> {
        self.change(actor, "health.acknowledge", "health_issue", Some(issue_id), async {
            let note = note.trim();
            if note.chars().count() > NOTE_MAX {
                return Err(Error::invalid("note", format!("must be at most {NOTE_MAX} characters")));
            }
            let note = crate::redact::redact(note);
            let report = self.health(actor).await?;
            let mut issue = report
                .issues
                .into_iter()
                .chain(report.acknowledged)
                .chain(report.validation)
                .find(|i| i.id == issue_id)
                .ok_or_else(|| Error::not_found("health issue", issue_id))?;
            match actor.role {
                crate::model::Role::MspAdmin | crate::model::Role::MspOperator => {}
                crate::model::Role::OrgAdmin if issue.org_id.is_some() && issue.org_id == actor.org_id => {}
                _ => return Err(Error::not_found("health issue", issue_id)),
            }
            if issue.kind == "database" {
                return Err(Error::conflict(None, "The database being unreachable cannot be acknowledged: nothing could record it."));
            }
            let ack = HealthAck {
                issue_id: issue.id.clone(),
                fingerprint: issue.fingerprint.clone(),
                org_id: issue.org_id.clone(),
                note: note.clone(),
                acknowledged_by: actor.name.clone(),
                acknowledged_at: self.now(),
            };
            let reason = if note.is_empty() {
                format!("Acknowledged: {}", issue.title)
            } else {
                format!("Acknowledged: {} — {note}", issue.title)
            };
            let audit = self.draft(actor, issue.org_id.clone(), "health.acknowledge", "health_issue", Some(&issue.id), Outcome::Succeeded, reason);
            self.store.put_health_ack(&ack, audit).await?;
            issue.acknowledged = true;
            issue.acknowledgement = Some(ack);
            Ok(issue)
        })
        .await
    }

    /// Counts for `/metrics`: the whole installation, so MSP roles only.
    pub async fn metrics(&self, actor: &Actor) -> Result<Metrics> {
        access::require_msp(actor, "read the installation's metrics")?;
        let report = self.health(actor).await?;
        let now = self.now();
        let nodes = self.nodes_in_scope(&Scope::All, false).await?;
        let mut by_status = vec![("online".to_owned(), 0u64), ("stale".to_owned(), 0), ("offline".to_owned(), 0)];
        for node in &nodes {
            let status = self.config.nodes.status(node.last_checkin_at, now);
            if let Some(entry) = by_status.iter_mut().find(|(s, _)| s == status.as_str()) {
                entry.1 += 1;
            }
        }
        let mut counts = self.store.store_counts().await?;
        let mut jobs: Vec<(String, u64)> = JobState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), counts.jobs_by_state.iter().find(|(n, _)| n == s.as_str()).map(|(_, c)| *c).unwrap_or(0)))
            .collect();
        jobs.sort();
        counts.jobs_by_state = jobs;
        Ok(Metrics { state: report.state, nodes_by_status: by_status, counts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_codes_are_fixed() {
        assert_eq!(HealthState::Healthy.code(), 0);
        assert_eq!(HealthState::Degraded.code(), 1);
        assert_eq!(HealthState::Critical.code(), 2);
        assert!(HealthState::Critical > HealthState::Degraded && HealthState::Degraded > HealthState::Healthy);
        assert_eq!(serde_json::to_value(HealthState::Degraded).unwrap(), serde_json::json!("degraded"));
    }

    #[test]
    fn prometheus_text_escapes_label_values() {
        let m = Metrics { state: HealthState::Degraded, nodes_by_status: vec![("online".into(), 2)], counts: StoreCounts::default() };
        let text = m.to_prometheus("1.0", "ab\"c");
        assert!(text.contains("works_health_state 1\n"));
        assert!(text.contains("works_nodes{status=\"online\"} 2\n"));
        assert!(text.contains("commit=\"ab\\\"c\""));
    }
}
