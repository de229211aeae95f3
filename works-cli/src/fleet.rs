//! `works node …` and `works job …`: each command is one operation of
//! `works_core::Api` (lists repeat it page by page) and a rendering of its result.
//! Text an agent reported (container names, labels, output) is printed with control
//! characters escaped, so it cannot drive the terminal.

use clap::Subcommand;
use works_core::{
    Api, ApproveJob, Container, EnrollmentToken, Error, Job, JobKind, JobQuery, JobState, NewJob, NewNode, Node,
    NodeQuery, RenameNode, Result,
};

use crate::commands::all_pages;
use crate::output::{fields, json, table, time};

/// Where the agent keeps its credential, as suggested with an enrollment token.
const SUGGESTED_STATE_DIR: &str = "/var/lib/works-agent";

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Add a node: a machine of an organization, or shared MSP infrastructure without --org
    Create {
        /// A host-like name: letters, digits, dots, hyphens, e.g. acme-web-01
        name: String,
        /// The organization it belongs to
        #[arg(long, value_name = "ID")]
        org: Option<String>,
    },
    /// List nodes with their status
    List {
        /// Only the nodes of this organization
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        /// Include retired nodes
        #[arg(long)]
        include_retired: bool,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one node: status and why, and the machine's health
    Get { id: String },
    /// Rename a node
    Rename { id: String, name: String },
    /// Retire a node: it stays on record, its agent is cut off, it takes no new work
    Retire { id: String },
    /// The node's containers as its agent last reported them
    Containers { id: String },
    /// Make a one-time enrollment token for the node's agent; it is shown once
    EnrollmentToken { id: String },
    /// Revoke the node's agent credential: the agent is cut off at its next call
    RevokeAgent { id: String },
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Request work on a node. Risky kinds wait for approval
    Request {
        /// The node to do the work
        #[arg(long, value_name = "ID")]
        node: String,
        /// health_check, logs, inventory_refresh, deploy, restart, remove, takeover or agent_install
        #[arg(long)]
        kind: String,
        /// Parameters as a JSON object, e.g. '{"container": "web", "lines": 50}'
        #[arg(long, value_name = "JSON")]
        params: Option<String>,
    },
    /// List jobs, newest first
    List {
        /// Only the jobs of this node
        #[arg(long, value_name = "ID")]
        node: Option<String>,
        /// Only jobs in this state, e.g. awaiting_approval, failed, timed_out
        #[arg(long)]
        state: Option<String>,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one job: state and why, attempts, time allowed, output
    Get { id: String },
    /// Approve risky work by typing its approval phrase exactly
    Approve {
        id: String,
        /// Exactly the phrase `works job get` shows
        #[arg(long)]
        phrase: String,
    },
    /// Cancel work that no agent has picked up yet
    Cancel { id: String },
    /// Retry a failed or timed-out job as a new job
    Retry { id: String },
}

fn parse_kind(value: &str) -> Result<JobKind> {
    JobKind::parse(value.trim()).ok_or_else(|| {
        let all: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
        Error::invalid("kind", format!("must be one of {}, not {value}", all.join(", ")))
    })
}

fn parse_state(value: &str) -> Result<JobState> {
    JobState::parse(value.trim()).ok_or_else(|| {
        let all: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        Error::invalid("state", format!("must be one of {}, not {value}", all.join(", ")))
    })
}

fn parse_params(value: Option<&str>) -> Result<serde_json::Value> {
    match value {
        None => Ok(serde_json::Value::Null),
        Some(text) => serde_json::from_str(text).map_err(|e| Error::invalid("params", format!("is not valid JSON: {e}"))),
    }
}

fn more_hint(next_offset: Option<u32>) -> &'static str {
    if next_offset.is_some() {
        "More records follow; raise --limit to see them.\n"
    } else {
        ""
    }
}

fn with_headline(headline: &str, body: String) -> String {
    if headline.is_empty() {
        body
    } else {
        format!("{headline}\n\n{body}")
    }
}

/// `server` is the address the command talked to, when it was remote, for the
/// enrollment command it prints.
pub async fn node(api: &dyn Api, cmd: NodeCommand, as_json: bool, server: Option<&str>) -> Result<String> {
    let (headline, node) = match cmd {
        NodeCommand::List { org, include_retired, limit } => {
            let listing =
                all_pages(limit, |offset, limit| api.node_list(NodeQuery { org_id: org.clone(), include_retired, offset, limit }))
                    .await?;
            if as_json {
                return json(&listing);
            }
            return Ok(nodes(&listing.items) + more_hint(listing.next_offset));
        }
        NodeCommand::Containers { id } => {
            let list = api.node_containers(&id).await?;
            if as_json {
                return json(&list);
            }
            return Ok(containers(&list));
        }
        NodeCommand::EnrollmentToken { id } => {
            let token = api.enrollment_token_create(&id).await?;
            if as_json {
                return json(&token);
            }
            return Ok(enrollment(&token, server));
        }
        NodeCommand::RevokeAgent { id } => {
            api.agent_revoke(&id).await?;
            if as_json {
                return json(&serde_json::json!({ "node_id": id, "agent_revoked": true }));
            }
            return Ok(format!(
                "Revoked the agent credential of node {id}. The agent is cut off at its next call; enroll it again to reconnect.\n"
            ));
        }
        NodeCommand::Create { name, org } => {
            let node = api.node_create(NewNode { name, org_id: org }).await?;
            (format!("Added node {}. Next: works node enrollment-token {}", node.name, node.id), node)
        }
        NodeCommand::Get { id } => (String::new(), api.node_get(&id).await?),
        NodeCommand::Rename { id, name } => {
            let node = api.node_rename(&id, RenameNode { name }).await?;
            (format!("Renamed the node to {}.", node.name), node)
        }
        NodeCommand::Retire { id } => {
            let node = api.node_retire(&id).await?;
            (format!("Retired node {}; its agent was cut off and it takes no new work.", node.name), node)
        }
    };
    if as_json {
        return json(&node);
    }
    Ok(with_headline(&headline, node_fields(&node)))
}

pub async fn job(api: &dyn Api, cmd: JobCommand, as_json: bool) -> Result<String> {
    let (headline, job) = match cmd {
        JobCommand::List { node, state, limit } => {
            let state = state.as_deref().map(parse_state).transpose()?;
            let listing =
                all_pages(limit, |offset, limit| api.job_list(JobQuery { node_id: node.clone(), state, offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            return Ok(jobs(&listing.items) + more_hint(listing.next_offset));
        }
        JobCommand::Request { node, kind, params } => {
            let kind = parse_kind(&kind)?;
            let params = parse_params(params.as_deref())?;
            let job = api.job_request(NewJob { node_id: node, kind, params }).await?;
            let headline = match &job.approval_phrase {
                Some(phrase) if job.state == JobState::AwaitingApproval => format!(
                    "Requested {}. It waits for approval:\n  works job approve {} --phrase \"{phrase}\"",
                    job.kind.verb(),
                    job.id
                ),
                _ => format!("Requested {}. {}.", job.kind.verb(), job.state.label()),
            };
            (headline, job)
        }
        JobCommand::Get { id } => (String::new(), api.job_get(&id).await?),
        JobCommand::Approve { id, phrase } => {
            let job = api.job_approve(&id, ApproveJob { phrase }).await?;
            ("Approved. The job waits for the node's agent to pick it up.".to_owned(), job)
        }
        JobCommand::Cancel { id } => ("Cancelled the job.".to_owned(), api.job_cancel(&id).await?),
        JobCommand::Retry { id } => {
            let job = api.job_retry(&id).await?;
            (format!("Retried as a new job, {}.", job.id), job)
        }
    };
    if as_json {
        return json(&job);
    }
    Ok(with_headline(&headline, job_fields(&job)))
}

// ---------------------------------------------------------------------------------
// How nodes and jobs look.

/// Agent-reported text with control characters escaped (`\u{1b}`), so it prints as text.
pub fn plain(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

fn belongs_to(org_id: &Option<String>) -> String {
    org_id.clone().unwrap_or_else(|| "shared MSP infrastructure".into())
}

fn status(n: &Node) -> String {
    match &n.retired_at {
        Some(at) => format!("retired {}", time(at)),
        None => n.status.as_str().to_owned(),
    }
}

fn bytes(n: u64) -> String {
    format!("{:.1} GB", n as f64 / (1u64 << 30) as f64)
}

fn seconds(secs: u32) -> String {
    if secs < 120 {
        format!("{secs} seconds")
    } else {
        format!("{} minutes", secs / 60)
    }
}

pub fn node_fields(n: &Node) -> String {
    let mut pairs = vec![
        ("ID", n.id.clone()),
        ("Name", n.name.clone()),
        ("Belongs to", belongs_to(&n.org_id)),
        ("Status", status(n)),
        ("Why", n.status_reason.clone()),
        ("Last check-in", n.last_checkin_at.as_ref().map(time).unwrap_or_else(|| "never".into())),
        ("Agent enrolled", n.enrolled_at.as_ref().map(time).unwrap_or_else(|| "not yet".into())),
    ];
    if let Some(h) = &n.health {
        pairs.push(("Uptime", format!("{} hours", h.uptime_secs / 3600)));
        pairs.push(("Load", format!("{:.2}", h.load1)));
        pairs.push(("Memory free", format!("{} of {}", bytes(h.memory_available_bytes), bytes(h.memory_total_bytes))));
        pairs.push(("Disk free", format!("{} of {}", bytes(h.disk_available_bytes), bytes(h.disk_total_bytes))));
        pairs.push((
            "Docker",
            match (h.docker_reachable, &h.docker_version) {
                (true, Some(v)) => format!("reachable, version {}", plain(v)),
                (true, None) => "reachable".into(),
                (false, _) => "not reachable".into(),
            },
        ));
        pairs.push(("Agent version", plain(&h.agent_version)));
    }
    pairs.push(("Created", time(&n.created_at)));
    pairs.push(("Updated", time(&n.updated_at)));
    fields(&pairs)
}

pub fn nodes(list: &[Node]) -> String {
    if list.is_empty() {
        return "No nodes.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| {
            vec![
                n.id.clone(),
                n.name.clone(),
                n.org_id.clone().unwrap_or_else(|| "shared".into()),
                status(n),
                n.last_checkin_at.as_ref().map(time).unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    table(&["ID", "NAME", "ORGANIZATION", "STATUS", "LAST CHECK-IN"], &rows)
}

pub fn containers(list: &[Container]) -> String {
    if list.is_empty() {
        return "No containers reported.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let state = match &c.health {
                Some(h) => format!("{} ({})", c.state, h),
                None => c.state.clone(),
            };
            let labels = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
            vec![plain(&c.name), plain(&c.image), plain(&state), plain(&labels)]
        })
        .collect();
    table(&["NAME", "IMAGE", "STATE", "LABELS"], &rows)
}

fn enrollment(t: &EnrollmentToken, server: Option<&str>) -> String {
    let server = server.map(|s| s.trim_end_matches('/').to_owned()).unwrap_or_else(|| "<this server's address>".into());
    format!(
        "Enrollment token for node {node}, valid once until {until}:\n\n  {token}\n\nOn the machine, run:\n  works agent enroll --server {server} --token {token} --state-dir {dir}\n  works agent run --state-dir {dir}\n\nThe token is shown only this once.\n",
        node = t.node_id,
        until = time(&t.expires_at),
        token = t.token,
        dir = SUGGESTED_STATE_DIR,
    )
}

fn job_state(j: &Job) -> String {
    format!("{} ({})", j.state.label(), j.state.as_str())
}

pub fn job_fields(j: &Job) -> String {
    let mut pairs = vec![
        ("ID", j.id.clone()),
        ("Kind", j.kind.as_str().to_owned()),
        ("Node", j.node_id.clone()),
        ("State", job_state(j)),
    ];
    if let Some(reason) = &j.reason {
        pairs.push(("Why", plain(reason)));
    }
    if let (Some(phrase), JobState::AwaitingApproval) = (&j.approval_phrase, j.state) {
        pairs.push(("Approval phrase", phrase.clone()));
    }
    pairs.push(("Attempts", format!("{} of {}", j.attempts, j.max_attempts)));
    pairs.push(("Time allowed", seconds(j.timeout_secs)));
    pairs.push(("Requested", format!("{} by {}", time(&j.created_at), j.requested_by)));
    if let Some(by) = &j.approved_by {
        pairs.push(("Approved", format!("{} by {by}", j.approved_at.as_ref().map(time).unwrap_or_default())));
    }
    if let Some(at) = &j.claimed_at {
        pairs.push(("Picked up", time(at)));
    }
    if let Some(at) = j.deadline_at.as_ref().filter(|_| !j.state.is_final()) {
        pairs.push(("Must finish by", time(at)));
    }
    if !j.state.is_final() && j.deadline_at.is_none() {
        pairs.push(("Gives up waiting", time(&j.expires_at)));
    }
    if let Some(at) = &j.finished_at {
        pairs.push(("Finished", time(at)));
    }
    if let Some(earlier) = &j.retry_of {
        pairs.push(("Retry of", earlier.clone()));
    }
    pairs.push(("Parameters", j.params.to_string()));
    let mut out = fields(&pairs);
    if let Some(output) = &j.output {
        out.push_str("\nOutput:\n");
        for line in output.lines() {
            out.push_str("  ");
            out.push_str(&plain(line));
            out.push('\n');
        }
    }
    out
}

pub fn jobs(list: &[Job]) -> String {
    if list.is_empty() {
        return "No jobs.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.kind.as_str().to_owned(),
                j.node_id.clone(),
                j.state.as_str().to_owned(),
                format!("{} of {}", j.attempts, j.max_attempts),
                j.reason.as_deref().map(plain).unwrap_or_default(),
            ]
        })
        .collect();
    table(&["ID", "KIND", "NODE", "STATE", "ATTEMPTS", "REASON"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_text_cannot_drive_the_terminal() {
        assert_eq!(plain("web\u{1b}[2J\n"), "web\\u{1b}[2J\\n");
        assert_eq!(plain("$(rm -rf /) <b>"), "$(rm -rf /) <b>");
    }

    #[test]
    fn kinds_states_and_params_are_read_or_named() {
        assert_eq!(parse_kind(" deploy ").unwrap(), JobKind::Deploy);
        assert_eq!(parse_kind("format_disk").unwrap_err().field(), Some("kind"));
        assert_eq!(parse_state("timed_out").unwrap(), JobState::TimedOut);
        assert_eq!(parse_state("sleeping").unwrap_err().field(), Some("state"));
        assert_eq!(parse_params(Some(r#"{"container":"web"}"#)).unwrap()["container"], "web");
        assert_eq!(parse_params(None).unwrap(), serde_json::Value::Null);
        assert_eq!(parse_params(Some("{not json")).unwrap_err().field(), Some("params"));
    }
}
