//! The executive status summary: a read-only account of the fleet for the MSP's
//! customers and managers — the health answer, counts, recent incidents and the OpenClaw
//! versions in use.
//!
//! # Scope
//!
//! Built only from reads already scoped by [`crate::access`]: the same objects as the
//! actor's map ([`Works::map`]), failed jobs of the actor's node scope, runs of the
//! actor's own scope. An organization admin's summary covers their organization only;
//! an organization user's their assigned instances and their own workflows (no nodes,
//! no jobs). Nothing is recorded: it changes nothing.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::error::Result;
use crate::health::{is_validation_job, HealthState, FAILED_JOB_WINDOW_HOURS, MAX_FAILED_JOBS};
use crate::map::MapKind;
use crate::model::{Page, Scope};
use crate::runs::{RunFilter, RunState};
use crate::works::Works;

/// Most incidents listed in a summary (the newest first).
pub const MAX_INCIDENTS: usize = 20;

/// The counts of a status summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusCounts {
    pub organizations: u32,
    pub nodes_online: u32,
    /// Nodes whose agent has gone quiet for a short while.
    pub nodes_stale: u32,
    pub nodes_offline: u32,
    /// Nodes no agent has enrolled on yet.
    pub nodes_waiting: u32,
    pub instances_healthy: u32,
    /// Instances not healthy, gone, or whose deploy failed.
    pub instances_unhealthy: u32,
    /// Instances deploying or of unknown health.
    pub instances_other: u32,
    /// Jobs that failed or timed out in the last 24 hours (test records not counted).
    pub jobs_failed_24h: u32,
    /// Workflow runs paused until a person approves a step.
    pub runs_awaiting_approval: u32,
}

/// One recent incident, in plain English.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusIncident {
    pub severity: HealthState,
    pub title: String,
    pub why: String,
    pub next_action: String,
    pub since: Option<DateTime<Utc>>,
}

/// How many OpenClaw instances run one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionCount {
    /// The version, or `unknown` when the instance has not reported one.
    pub version: String,
    pub instances: u32,
}

/// The read-only status of what the actor may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusSummary {
    /// The health answer over the actor's scope.
    pub state: HealthState,
    /// One plain sentence.
    pub summary: String,
    pub counts: StatusCounts,
    /// The current problems, newest first, at most twenty.
    pub incidents: Vec<StatusIncident>,
    /// OpenClaw versions in use, most used first.
    pub versions: Vec<VersionCount>,
    pub generated_at: DateTime<Utc>,
}

impl Works {
    /// The executive status of everything the actor may see. Reads only.
    pub async fn status_summary(&self, actor: &Actor) -> Result<StatusSummary> {
        let now = self.now();
        let map = self.map(actor).await?;
        let mut counts = StatusCounts::default();
        let mut instances: HashSet<&str> = HashSet::new();
        for n in &map.nodes {
            match n.kind {
                MapKind::Organization => counts.organizations += 1,
                MapKind::Node => match n.status.as_str() {
                    "online" => counts.nodes_online += 1,
                    "stale" => counts.nodes_stale += 1,
                    "offline" => counts.nodes_offline += 1,
                    _ => counts.nodes_waiting += 1,
                },
                MapKind::Instance => {
                    instances.insert(n.record_id.as_str());
                    match n.status.as_str() {
                        "healthy" => counts.instances_healthy += 1,
                        "unhealthy" | "missing" | "failed" => counts.instances_unhealthy += 1,
                        _ => counts.instances_other += 1,
                    }
                }
                _ => {}
            }
        }

        let node_scope = access::node_scope(actor);
        if !matches!(node_scope, Scope::User(_)) {
            let since = now - Duration::hours(FAILED_JOB_WINDOW_HOURS);
            let failed = self.store.failed_jobs_since(&node_scope, since, MAX_FAILED_JOBS).await?;
            counts.jobs_failed_24h = failed.iter().filter(|j| !is_validation_job(j)).count() as u32;
        }
        let waiting = RunFilter { workflow_id: None, state: Some(RunState::AwaitingApproval) };
        counts.runs_awaiting_approval =
            self.store.list_runs(&access::owned_scope(actor), &waiting, Page { offset: 0, limit: Page::MAX_LIMIT }).await?.len() as u32;

        // Versions of the instances on the actor's map.
        let mut by_version: BTreeMap<String, u32> = BTreeMap::new();
        for i in self.instances_in_scope(&node_scope).await? {
            if !instances.contains(i.id.as_str()) {
                continue;
            }
            let v = i.version.as_deref().map(str::trim).filter(|v| !v.is_empty()).unwrap_or("unknown").to_owned();
            *by_version.entry(v).or_default() += 1;
        }
        let mut versions: Vec<VersionCount> = by_version.into_iter().map(|(version, instances)| VersionCount { version, instances }).collect();
        versions.sort_by(|a, b| b.instances.cmp(&a.instances).then_with(|| b.version.cmp(&a.version)));

        let mut incidents: Vec<StatusIncident> = map
            .hotspots
            .iter()
            .map(|h| StatusIncident { severity: h.severity, title: h.title.clone(), why: h.why.clone(), next_action: h.next_action.clone(), since: h.since })
            .collect();
        incidents.sort_by(|a, b| b.since.cmp(&a.since));
        incidents.truncate(MAX_INCIDENTS);

        Ok(StatusSummary { state: map.state, summary: map.summary, counts, incidents, versions, generated_at: now })
    }
}
