//! The fleet map of the Command Center: organizations → nodes → OpenClaw instances, with
//! workflows, connections and active jobs attached, and the problems (hotspots) of what
//! the actor may see.
//!
//! # Scope
//!
//! The map is built only from reads already scoped by [`crate::access`]: MSP roles see
//! every organization and the shared MSP infrastructure; an organization admin sees their
//! organization's nodes, instances, active jobs, workflows and connections; an
//! organization user sees their organization, the instances assigned to them and their
//! own workflows and connections (no nodes, no jobs). Nothing is filtered in the browser.
//!
//! # Hotspots
//!
//! The hotspots are the current (not acknowledged, not validation) issues of
//! [`Works::health`] for the same actor — stale and offline nodes, failed jobs,
//! unhealthy or missing instances, failed runs — plus workflow runs that are blocked.
//! Each hotspot names the map object it marks (a failed job marks its node, a failed or
//! blocked run its workflow) with the reason and next action in plain English.
//!
//! Graph ids are `<kind>:<record id>`, e.g. `node:7f…` (`org:<id>` for organizations,
//! which are also the ids of their groups), so records of different kinds never collide.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::error::Result;
use crate::health::HealthState;
use crate::jobs::{Job, JobFilter, JobState};
use crate::model::{Page, Scope};
use crate::nodes::NodeStatus;
use crate::runs::{RunFilter, RunState, WorkflowRun};
use crate::works::Works;

/// Id of the group of shared MSP infrastructure (nodes of no organization).
pub const SHARED_GROUP: &str = "org:msp";
/// Most active jobs put on the map.
pub const MAX_ACTIVE_JOBS: u32 = 1000;

/// What an object of the map is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MapKind {
    Organization,
    Node,
    Instance,
    Workflow,
    Connection,
    Job,
}

impl MapKind {
    pub const ALL: [MapKind; 6] = [MapKind::Organization, MapKind::Node, MapKind::Instance, MapKind::Workflow, MapKind::Connection, MapKind::Job];

    pub fn as_str(self) -> &'static str {
        match self {
            MapKind::Organization => "organization",
            MapKind::Node => "node",
            MapKind::Instance => "instance",
            MapKind::Workflow => "workflow",
            MapKind::Connection => "connection",
            MapKind::Job => "job",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MapKind::Organization => "Organization",
            MapKind::Node => "Node",
            MapKind::Instance => "OpenClaw instance",
            MapKind::Workflow => "Workflow",
            MapKind::Connection => "Connection",
            MapKind::Job => "Active job",
        }
    }
}

/// One object of the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MapNode {
    /// `<kind>:<record id>`.
    pub id: String,
    pub kind: MapKind,
    /// The record's id.
    pub record_id: String,
    /// The name people know it by (shown as text, never as markup).
    pub label: String,
    /// Machine-readable status, e.g. `online`, `stale`, `managed`, `running`.
    pub status: String,
    /// The status in plain words.
    pub status_label: String,
    /// Why the status is what it is, in plain English.
    pub why: String,
    /// What to do next, when something is to be done.
    pub next_action: Option<String>,
    /// The group (organization) it is drawn in.
    pub group: String,
    /// The object it hangs from on the map (an instance's node, a job's node).
    pub parent: Option<String>,
    /// Whether a hotspot marks it.
    pub hotspot: bool,
    /// Its page in the web UI.
    pub link: String,
}

/// A relationship between two objects, drawn softly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MapEdge {
    pub from: String,
    pub to: String,
    /// `runs_on` (instance → node), `works_on` (job → node or instance), `uses` (workflow → connection), `used_by` (connection → instance).
    pub relation: String,
}

/// An organization (or the shared MSP infrastructure) and how many objects it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MapGroup {
    /// `org:<org id>`, or `org:msp` for shared infrastructure.
    pub id: String,
    pub org_id: Option<String>,
    pub label: String,
    /// `active`, `archived` or `attention` (a hotspot inside).
    pub status: String,
    pub objects: u32,
    pub hotspots: u32,
}

/// A problem to look at, on the object it marks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MapHotspot {
    /// The health issue id, e.g. `node-stale:<node id>`, or `run-blocked:<run id>`.
    pub id: String,
    /// The map object it marks; empty for installation-wide problems (the recovery monitor).
    pub target: Option<String>,
    pub severity: HealthState,
    pub title: String,
    pub why: String,
    pub next_action: String,
    pub link: String,
    pub since: Option<DateTime<Utc>>,
}

/// The map of what the actor may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FleetMap {
    pub nodes: Vec<MapNode>,
    pub edges: Vec<MapEdge>,
    pub groups: Vec<MapGroup>,
    pub hotspots: Vec<MapHotspot>,
    /// The health answer over the same scope.
    pub state: HealthState,
    pub summary: String,
    pub generated_at: DateTime<Utc>,
}

impl FleetMap {
    pub fn node(&self, id: &str) -> Option<&MapNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Record ids of the objects of one kind, sorted.
    pub fn record_ids(&self, kind: MapKind) -> Vec<String> {
        let mut v: Vec<String> = self.nodes.iter().filter(|n| n.kind == kind).map(|n| n.record_id.clone()).collect();
        v.sort();
        v
    }
}

fn gid(kind: MapKind, id: &str) -> String {
    match kind {
        MapKind::Organization => format!("org:{id}"),
        k => format!("{}:{id}", k.as_str()),
    }
}

fn group_of(org_id: Option<&str>) -> String {
    match org_id {
        Some(o) => gid(MapKind::Organization, o),
        None => SHARED_GROUP.to_owned(),
    }
}

fn fmt_time(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "never".to_owned())
}

fn active_job(state: JobState) -> bool {
    matches!(state, JobState::Requested | JobState::AwaitingApproval | JobState::Queued | JobState::Claimed | JobState::Running)
}

fn run_label(state: RunState) -> &'static str {
    match state {
        RunState::Running => "Running",
        RunState::AwaitingApproval => "Waiting for approval",
        RunState::Blocked => "Blocked",
        RunState::Succeeded => "Complete",
        RunState::Failed => "Failed",
    }
}

impl Works {
    /// The map of everything the actor may see, with its hotspots.
    pub async fn map(&self, actor: &Actor) -> Result<FleetMap> {
        let now = self.now();
        let node_scope = access::node_scope(actor);
        let owned = access::owned_scope(actor);
        let machines = !matches!(node_scope, Scope::User(_));

        let mut nodes: Vec<MapNode> = Vec::new();
        let mut edges: Vec<MapEdge> = Vec::new();
        let mut groups: BTreeMap<String, MapGroup> = BTreeMap::new();

        // Organizations.
        let mut offset = 0;
        loop {
            let batch = self.store.list_orgs(&access::org_scope(actor), true, Page { offset, limit: Page::MAX_LIMIT }).await?;
            let n = batch.len();
            for org in batch {
                let id = gid(MapKind::Organization, &org.id);
                let archived = org.archived_at.is_some();
                groups.insert(
                    id.clone(),
                    MapGroup {
                        id: id.clone(),
                        org_id: Some(org.id.clone()),
                        label: org.name.clone(),
                        status: if archived { "archived" } else { "active" }.to_owned(),
                        objects: 0,
                        hotspots: 0,
                    },
                );
                nodes.push(MapNode {
                    id: id.clone(),
                    kind: MapKind::Organization,
                    record_id: org.id.clone(),
                    label: org.name.clone(),
                    status: if archived { "archived" } else { "active" }.to_owned(),
                    status_label: if archived { "Archived" } else { "Active" }.to_owned(),
                    why: if archived {
                        format!("Archived on {}: its records are kept, its people cannot sign in.", fmt_time(org.archived_at))
                    } else {
                        "A customer organization.".to_owned()
                    },
                    next_action: None,
                    group: id,
                    parent: None,
                    hotspot: false,
                    link: format!("/ui/orgs/{}", org.id),
                });
            }
            if n < Page::MAX_LIMIT as usize {
                break;
            }
            offset += Page::MAX_LIMIT;
        }

        // Nodes (not retired).
        let mut node_names: HashMap<String, String> = HashMap::new();
        if machines {
            let mut all = Vec::new();
            let mut offset = 0;
            loop {
                let batch = self.store.list_nodes(&node_scope, None, false, Page { offset, limit: Page::MAX_LIMIT }).await?;
                let n = batch.len();
                all.extend(batch);
                if n < Page::MAX_LIMIT as usize {
                    break;
                }
                offset += Page::MAX_LIMIT;
            }
            for node in all {
                let group = group_of(node.org_id.as_deref());
                if node.org_id.is_none() && !groups.contains_key(&group) {
                    groups.insert(
                        group.clone(),
                        MapGroup { id: group.clone(), org_id: None, label: "Shared MSP infrastructure".into(), status: "active".into(), objects: 0, hotspots: 0 },
                    );
                }
                let waiting = node.enrolled_at.is_none() && node.last_checkin_at.is_none();
                let (status, status_label, why, next) = if waiting {
                    (
                        "waiting".to_owned(),
                        "Waiting".to_owned(),
                        "No agent has enrolled on this node yet.".to_owned(),
                        Some("Create an enrollment token on the node's page and install the agent on the machine.".to_owned()),
                    )
                } else {
                    let s = self.config.nodes.status(node.last_checkin_at, now);
                    let last = fmt_time(node.last_checkin_at);
                    match s {
                        NodeStatus::Online => ("online".into(), "Online".into(), format!("Its agent last checked in {last}."), None),
                        NodeStatus::Stale => (
                            "stale".into(),
                            "Gone quiet".into(),
                            format!("Its agent last checked in {last}; it may be slow, restarting or losing its network."),
                            Some("Watch it for a few minutes; if it does not come back, check the machine and its agent.".into()),
                        ),
                        NodeStatus::Offline => (
                            "offline".into(),
                            "Offline".into(),
                            format!("Its agent last checked in {last}."),
                            Some("Check that the machine is running and the agent service is up (`systemctl status works-agent`).".into()),
                        ),
                    }
                };
                node_names.insert(node.id.clone(), node.name.clone());
                nodes.push(MapNode {
                    id: gid(MapKind::Node, &node.id),
                    kind: MapKind::Node,
                    record_id: node.id.clone(),
                    label: node.name.clone(),
                    status,
                    status_label,
                    why,
                    next_action: next,
                    group,
                    parent: None,
                    hotspot: false,
                    link: format!("/ui/nodes/{}", node.id),
                });
            }
        }

        // OpenClaw instances (assigned ones only, for an organization user).
        let mut instance_ids: HashSet<String> = HashSet::new();
        for i in self.instances_in_scope(&node_scope).await? {
            if i.state == crate::instances::InstanceState::Removed {
                continue;
            }
            let node_id = gid(MapKind::Node, &i.node_id);
            let parent = node_names.contains_key(&i.node_id).then(|| node_id.clone());
            if machines && parent.is_none() {
                // Its node is retired: the instance is no longer on the map.
                continue;
            }
            let name = i.container_name.trim_start_matches('/').to_owned();
            let condition = crate::history::instance_condition(i.health.as_deref());
            let (status, status_label, why, next) = match (i.state, condition) {
                (crate::instances::InstanceState::Deploying, _) => {
                    ("deploying".to_owned(), "Deploying".to_owned(), "It is being deployed; the deploy job reports when it is done.".to_owned(), None)
                }
                (crate::instances::InstanceState::Failed, _) => (
                    "failed".into(),
                    "Deploy failed".into(),
                    i.reason.clone().unwrap_or_else(|| "Its deploy failed without giving a reason.".into()),
                    Some("Open the instance and its deploy job, fix the cause and deploy again.".into()),
                ),
                (_, "unhealthy") => (
                    "unhealthy".into(),
                    "Not healthy".into(),
                    format!("Its container last reported “{}”.", i.health.clone().unwrap_or_default()),
                    Some("Open the instance and read its gateway logs; restart it if it does not recover.".into()),
                ),
                (_, "missing") => (
                    "missing".into(),
                    "Gone".into(),
                    format!("Its container has not been in the node's inventory since {}.", fmt_time(Some(i.updated_at))),
                    Some("Check on the node whether the container was removed on purpose; otherwise deploy it again.".into()),
                ),
                (s, c) => {
                    let managed = if s == crate::instances::InstanceState::Managed { "Managed" } else { "Discovered, not yet taken over" };
                    let health = if c == "healthy" { "healthy" } else { "of unknown health" };
                    (
                        if c == "healthy" { "healthy".to_owned() } else { "unknown".to_owned() },
                        if c == "healthy" { "Healthy".to_owned() } else { "Unknown".to_owned() },
                        format!("{managed}; its container is {health}."),
                        (s == crate::instances::InstanceState::Discovered).then(|| "Take over existing OpenClaw to manage it from here.".to_owned()),
                    )
                }
            };
            let id = gid(MapKind::Instance, &i.id);
            if let Some(p) = &parent {
                edges.push(MapEdge { from: id.clone(), to: p.clone(), relation: "runs_on".into() });
            }
            instance_ids.insert(i.id.clone());
            nodes.push(MapNode {
                id,
                kind: MapKind::Instance,
                record_id: i.id.clone(),
                label: if name.is_empty() { i.id.clone() } else { name },
                status,
                status_label,
                why,
                next_action: next,
                group: group_of(i.org_id.as_deref()),
                parent,
                hotspot: false,
                link: format!("/ui/instances/{}", i.id),
            });
        }

        // Active jobs.
        if machines {
            let mut jobs: Vec<Job> = Vec::new();
            for state in [JobState::Requested, JobState::AwaitingApproval, JobState::Queued, JobState::Claimed, JobState::Running] {
                let filter = JobFilter { node_id: None, state: Some(state) };
                let left = MAX_ACTIVE_JOBS.saturating_sub(jobs.len() as u32);
                if left == 0 {
                    break;
                }
                jobs.extend(self.store.list_jobs(&node_scope, &filter, Page { offset: 0, limit: left.min(Page::MAX_LIMIT) }).await?);
            }
            for job in jobs.into_iter().filter(|j| active_job(j.state)) {
                if !node_names.contains_key(&job.node_id) {
                    continue;
                }
                let id = gid(MapKind::Job, &job.id);
                let node = gid(MapKind::Node, &job.node_id);
                edges.push(MapEdge { from: id.clone(), to: node.clone(), relation: "works_on".into() });
                if let Some(inst) = job.params.get("instance_id").and_then(|v| v.as_str()).filter(|i| instance_ids.contains(*i)) {
                    edges.push(MapEdge { from: id.clone(), to: gid(MapKind::Instance, inst), relation: "works_on".into() });
                }
                let node_name = node_names.get(&job.node_id).cloned().unwrap_or_default();
                let (why, next) = match job.state {
                    JobState::AwaitingApproval => (
                        format!("A {} job on {node_name} waits for a person to approve it.", job.kind.verb()),
                        Some("Open the job, check what it will do and approve or cancel it.".to_owned()),
                    ),
                    JobState::Requested | JobState::Queued => (format!("A {} job on {node_name} waits for the node's agent to pick it up.", job.kind.verb()), None),
                    _ => (format!("A {} job is running on {node_name}.", job.kind.verb()), None),
                };
                nodes.push(MapNode {
                    id,
                    kind: MapKind::Job,
                    record_id: job.id.clone(),
                    label: format!("{} job", job.kind.verb()),
                    status: job.state.as_str().to_owned(),
                    status_label: job.state.label().to_owned(),
                    why,
                    next_action: next,
                    group: group_of(job.org_id.as_deref()),
                    parent: Some(node),
                    hotspot: false,
                    link: format!("/ui/jobs/{}", job.id),
                });
            }
        }

        // Connections.
        let mut connection_ids: HashSet<String> = HashSet::new();
        let mut connection_instances: Vec<(String, Vec<String>)> = Vec::new();
        let mut offset = 0;
        loop {
            let batch = self.store.list_connections(&owned, None, Page { offset, limit: Page::MAX_LIMIT }).await?;
            let n = batch.len();
            for rec in batch {
                let c = rec.connection;
                let (label, why, next) = match c.status {
                    crate::connections::ConnectionStatus::Connected => ("Connected", "Ready to use.".to_owned(), None),
                    crate::connections::ConnectionStatus::Placeholder => {
                        ("Placeholder", "A record prepared for later; nothing can use it yet.".to_owned(), Some("Add its credential to use it.".to_owned()))
                    }
                    crate::connections::ConnectionStatus::Error => (
                        "Error",
                        c.status_reason.clone().unwrap_or_else(|| "Its last use failed.".to_owned()),
                        Some("Open the connection, check its credential and the provider, then try again.".to_owned()),
                    ),
                };
                connection_ids.insert(c.id.clone());
                connection_instances.push((c.id.clone(), c.instances.clone()));
                nodes.push(MapNode {
                    id: gid(MapKind::Connection, &c.id),
                    kind: MapKind::Connection,
                    record_id: c.id.clone(),
                    label: c.name.clone(),
                    status: c.status.as_str().to_owned(),
                    status_label: label.to_owned(),
                    why,
                    next_action: next,
                    group: group_of(Some(&c.org_id)),
                    parent: None,
                    hotspot: false,
                    link: format!("/ui/connections/{}", c.id),
                });
            }
            if n < Page::MAX_LIMIT as usize {
                break;
            }
            offset += Page::MAX_LIMIT;
        }

        // Connections → the instances that use them, where the person sees both.
        let shown: HashSet<String> = nodes.iter().map(|n| n.id.clone()).collect();
        for (conn, instances) in &connection_instances {
            for inst in instances {
                let to = gid(MapKind::Instance, inst);
                if shown.contains(&to) {
                    edges.push(MapEdge { from: gid(MapKind::Connection, conn), to, relation: "used_by".into() });
                }
            }
        }

        // Workflows, with the state of their latest run.
        let runs = self.store.list_runs(&owned, &RunFilter::default(), Page { offset: 0, limit: Page::MAX_LIMIT }).await?;
        let mut latest: HashMap<String, &WorkflowRun> = HashMap::new();
        for r in &runs {
            let e = latest.entry(r.workflow_id.clone()).or_insert(r);
            if r.created_at > e.created_at {
                *e = r;
            }
        }
        let mut offset = 0;
        loop {
            let batch = self.store.list_workflows(&owned, None, Page { offset, limit: Page::MAX_LIMIT }).await?;
            let n = batch.len();
            for w in batch {
                let id = gid(MapKind::Workflow, &w.id);
                let mut used: Vec<&str> = w.steps.iter().filter_map(|s| s.connection_id.as_deref()).collect();
                used.sort_unstable();
                used.dedup();
                for c in used.into_iter().filter(|c| connection_ids.contains(*c)) {
                    edges.push(MapEdge { from: id.clone(), to: gid(MapKind::Connection, c), relation: "uses".into() });
                }
                let (status, status_label, why, next) = match latest.get(&w.id) {
                    None => ("idle".to_owned(), "Not run yet".to_owned(), format!("Owned by {}; it has not been run yet.", w.owner_name), None),
                    Some(r) => {
                        let next = match r.state {
                            RunState::Failed | RunState::Blocked => Some("Open the run, read its step log, fix the cause (a connection, a permission) and start it again.".to_owned()),
                            RunState::AwaitingApproval => Some("Open the run and approve or refuse its paused step.".to_owned()),
                            _ => None,
                        };
                        let reason = if r.reason.trim().is_empty() { String::new() } else { format!(" {}", r.reason.trim()) };
                        (
                            r.state.as_str().to_owned(),
                            run_label(r.state).to_owned(),
                            format!("Its latest run ({}) is {}.{reason}", fmt_time(Some(r.created_at)), run_label(r.state).to_lowercase()),
                            next,
                        )
                    }
                };
                nodes.push(MapNode {
                    id,
                    kind: MapKind::Workflow,
                    record_id: w.id.clone(),
                    label: w.name.clone(),
                    status,
                    status_label,
                    why,
                    next_action: next,
                    group: group_of(Some(&w.org_id)),
                    parent: None,
                    hotspot: false,
                    link: format!("/ui/workflows/{}", w.id),
                });
            }
            if n < Page::MAX_LIMIT as usize {
                break;
            }
            offset += Page::MAX_LIMIT;
        }

        // Hotspots: the current health issues of the same scope, plus blocked runs.
        let report = self.health(actor).await?;
        let index: HashMap<String, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id.clone(), i)).collect();
        let mut hotspots = Vec::new();
        for issue in &report.issues {
            let detail = |k: &str| issue.detail.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let target = match issue.kind.as_str() {
                "node" => issue.subject_id.as_deref().map(|s| gid(MapKind::Node, s)),
                "instance" => issue.subject_id.as_deref().map(|s| gid(MapKind::Instance, s)),
                "job" => detail("node_id").map(|s| gid(MapKind::Node, &s)),
                "workflow_run" => detail("workflow_id").map(|s| gid(MapKind::Workflow, &s)),
                _ => None,
            }
            .filter(|t| index.contains_key(t));
            hotspots.push(MapHotspot {
                id: issue.id.clone(),
                target,
                severity: issue.severity,
                title: issue.title.clone(),
                why: issue.why.clone(),
                next_action: issue.next_action.clone(),
                link: issue.link.clone(),
                since: issue.since,
            });
        }
        let blocked = self.store.list_runs(&owned, &RunFilter { workflow_id: None, state: Some(RunState::Blocked) }, Page { offset: 0, limit: Page::MAX_LIMIT }).await?;
        for run in blocked {
            let target = Some(gid(MapKind::Workflow, &run.workflow_id)).filter(|t| index.contains_key(t));
            hotspots.push(MapHotspot {
                id: format!("run-blocked:{}", run.id),
                target,
                severity: HealthState::Degraded,
                title: format!("A run of the workflow {} is blocked", run.workflow_name),
                why: if run.reason.trim().is_empty() { "The run stopped at a step it may not take.".to_owned() } else { run.reason.clone() },
                next_action: "Open the run, read why its step was blocked (a permission or a connection), fix it and start the run again.".into(),
                link: format!("/ui/workflows/{}/runs/{}", run.workflow_id, run.id),
                since: Some(run.updated_at),
            });
        }
        for h in &hotspots {
            if let Some(n) = h.target.as_ref().and_then(|t| index.get(t)).and_then(|i| nodes.get_mut(*i)) {
                n.hotspot = true;
            }
        }
        for n in &nodes {
            if let Some(g) = groups.get_mut(&n.group) {
                if n.kind != MapKind::Organization {
                    g.objects += 1;
                }
                if n.hotspot {
                    g.hotspots += 1;
                    g.status = "attention".to_owned();
                }
            }
        }
        Ok(FleetMap {
            nodes,
            edges,
            groups: groups.into_values().collect(),
            hotspots,
            state: report.state,
            summary: report.summary,
            generated_at: now,
        })
    }
}
