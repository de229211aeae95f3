//! `works instance …`: OpenClaw instances, managed and discovered. Each command is one
//! operation of `works_core::Api`. Text an agent reported is printed with control
//! characters escaped.

use clap::Subcommand;
use std::time::Duration;

use works_core::{Api, DeployInput, Error, Instance, InstanceQuery, InstanceState, Job, JobState, LogsInput, Result, TakeoverInput};

use crate::commands::all_pages;
use crate::fleet::{job_fields, plain};
use crate::output::{fields, json, table, time};

#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// List OpenClaw instances: managed ones first, then the ones discovered on nodes
    List {
        /// Only the instances on this node
        #[arg(long, value_name = "ID")]
        node: Option<String>,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one instance; a discovered one shows the phrase that takes it over
    Get { id: String },
    /// Take over a discovered instance as a managed record, by typing its phrase exactly.
    /// The container is not restarted or changed
    Takeover {
        id: String,
        /// Exactly the phrase `works instance get` shows
        #[arg(long)]
        phrase: String,
    },
    /// Deploy OpenClaw to a node: creates the instance and a deploy job that waits for
    /// a person to type its phrase (`works job approve`)
    Deploy {
        /// The node to deploy to
        #[arg(long, value_name = "ID")]
        node: String,
        /// The OpenClaw version (year.month.patch); the pinned default when absent
        #[arg(long, value_name = "VERSION")]
        openclaw_version: Option<String>,
        /// Also run the optional CLI container beside the gateway
        #[arg(long)]
        with_cli: bool,
        /// Publish the gateway on this loopback port (a free one is picked when absent)
        #[arg(long, value_name = "PORT")]
        gateway_port: Option<u16>,
    },
    /// Check whether a node is ready for OpenClaw (Docker, image, port, disk, memory) and
    /// wait for the answer
    Readiness {
        /// The node to check
        #[arg(long, value_name = "ID")]
        node: String,
        /// The OpenClaw version to deploy; the pinned default when absent
        #[arg(long, value_name = "VERSION")]
        openclaw_version: Option<String>,
        /// A fixed loopback port the gateway would use
        #[arg(long, value_name = "PORT")]
        gateway_port: Option<u16>,
        /// Seconds to wait for the agent's answer; 0 returns at once
        #[arg(long, default_value_t = 90)]
        wait: u64,
    },
    /// Check an instance's health (containers, /healthz, /readyz) and wait for the answer
    Health {
        id: String,
        /// Seconds to wait for the agent's answer; 0 returns at once
        #[arg(long, default_value_t = 90)]
        wait: u64,
    },
    /// Read the last lines of the gateway's output (redacted) and wait for them
    Logs {
        id: String,
        /// How many lines (1 to 2000)
        #[arg(long, default_value_t = 100)]
        lines: u32,
        /// Seconds to wait for the agent's answer; 0 returns at once
        #[arg(long, default_value_t = 90)]
        wait: u64,
    },
    /// Restart the gateway: a job that waits for a person to type its phrase
    Restart { id: String },
    /// Stop and delete the instance's containers, keeping its volumes: a job that waits
    /// for a person to type its phrase
    Remove { id: String },
    #[command(flatten)]
    Ops(crate::instance_ops::InstanceOpsCommand),
}

/// Waits (bounded) for a job to end; answers it as it stands when time runs out.
pub async fn wait_for(api: &dyn Api, job: Job, within: Duration) -> Result<Job> {
    let deadline = tokio::time::Instant::now() + within;
    let mut job = job;
    while !job.state.is_final() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        job = api.job_get(&job.id).await?;
    }
    Ok(job)
}

fn approval_hint(job: &Job) -> String {
    match (&job.approval_phrase, job.state) {
        (Some(phrase), JobState::AwaitingApproval) => {
            format!("It waits for approval:\n  works job approve {} --phrase \"{phrase}\"", job.id)
        }
        _ => format!("Job {}: {}.", job.id, job.state.label()),
    }
}

async fn job_command(api: &dyn Api, job: Job, wait: u64, as_json: bool) -> Result<String> {
    let job = wait_for(api, job, Duration::from_secs(wait)).await?;
    if as_json {
        return json(&job);
    }
    let headline = match job.state {
        JobState::Succeeded => "Done.".to_owned(),
        s if s.is_final() => format!("The job ended {}.", s.label().to_lowercase()),
        _ => format!("Still {}; follow it with `works job get {}`.", job.state.label().to_lowercase(), job.id),
    };
    Ok(format!("{headline}\n\n{}", job_fields(&job)))
}

pub async fn instance(api: &dyn Api, cmd: InstanceCommand, as_json: bool) -> Result<String> {
    let (headline, inst) = match cmd {
        InstanceCommand::Ops(cmd) => return crate::instance_ops::run(api, cmd, as_json).await,
        InstanceCommand::List { node, limit } => {
            let listing =
                all_pages(limit, |offset, limit| api.instance_list(InstanceQuery { node_id: node.clone(), offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            let more = if listing.next_offset.is_some() { "More records follow; raise --limit to see them.\n" } else { "" };
            return Ok(instances(&listing.items) + more);
        }
        InstanceCommand::Get { id } => {
            let inst = api.instance_get(&id).await?;
            let hint = match &inst.takeover_phrase {
                Some(phrase) => format!("Discovered, not managed. To take it over:\n  works instance takeover {} --phrase \"{phrase}\"", inst.id),
                None => String::new(),
            };
            (hint, inst)
        }
        InstanceCommand::Takeover { id, phrase } => {
            let inst = api.instance_takeover(&id, TakeoverInput { phrase }).await?;
            ("Taken over: the instance is managed. The container was not restarted or changed.".to_owned(), inst)
        }
        InstanceCommand::Deploy { node, openclaw_version, with_cli, gateway_port } => {
            let d = api.instance_deploy(DeployInput { node_id: node, version: openclaw_version, with_cli, gateway_port }).await?;
            if as_json {
                return json(&d);
            }
            return Ok(format!(
                "Requested OpenClaw {} on the node as instance {}. {}\n\n{}",
                d.instance.version.clone().unwrap_or_default(),
                d.instance.id,
                approval_hint(&d.job),
                instance_fields(&d.instance)
            ));
        }
        InstanceCommand::Readiness { node, openclaw_version, gateway_port, wait } => {
            let input = works_core::ReadinessInput { version: openclaw_version, gateway_port };
            let job = api.node_openclaw_readiness(&node, input).await?;
            return job_command(api, job, wait, as_json).await;
        }
        InstanceCommand::Health { id, wait } => {
            let job = api.instance_health_check(&id).await?;
            return job_command(api, job, wait, as_json).await;
        }
        InstanceCommand::Logs { id, lines, wait } => {
            if !(1..=2000).contains(&lines) {
                return Err(Error::invalid("lines", "must be from 1 to 2000"));
            }
            let job = api.instance_logs(&id, LogsInput { lines: Some(lines) }).await?;
            return job_command(api, job, wait, as_json).await;
        }
        InstanceCommand::Restart { id } => {
            let job = api.instance_restart(&id).await?;
            if as_json {
                return json(&job);
            }
            return Ok(format!("Requested a gateway restart. {}\n", approval_hint(&job)));
        }
        InstanceCommand::Remove { id } => {
            let job = api.instance_remove(&id).await?;
            if as_json {
                return json(&job);
            }
            return Ok(format!("Requested removal; the volumes will be kept. {}\n", approval_hint(&job)));
        }
    };
    if as_json {
        return json(&inst);
    }
    let body = instance_fields(&inst);
    Ok(if headline.is_empty() { body } else { format!("{headline}\n\n{body}") })
}

pub fn instances(list: &[Instance]) -> String {
    if list.is_empty() {
        return "No OpenClaw instances.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.state.as_str().to_owned(),
                plain(&i.container_name),
                i.node_id.clone(),
                i.version.clone().unwrap_or_else(|| "unknown".into()),
                i.health.as_deref().map(plain).unwrap_or_default(),
            ]
        })
        .collect();
    table(&["ID", "STATE", "CONTAINER", "NODE", "VERSION", "HEALTH"], &rows)
}

pub fn instance_fields(i: &Instance) -> String {
    let mut pairs = vec![
        ("ID", i.id.clone()),
        ("Node", i.node_id.clone()),
        ("Organization", i.org_id.clone().unwrap_or_else(|| "shared MSP infrastructure".into())),
        ("Container", format!("{} ({})", plain(&i.container_name), plain(&i.container_id))),
        ("Image", plain(&i.image)),
        ("Version", i.version.clone().unwrap_or_else(|| "unknown".into())),
        ("State", i.state.label().to_owned()),
        ("Health", i.health.as_deref().map(plain).unwrap_or_else(|| "not reported".into())),
        ("Recognised because", i.reasons.iter().map(|r| plain(r)).collect::<Vec<_>>().join("; ")),
        ("Discovered", time(&i.discovered_at)),
    ];
    if let (InstanceState::Managed, Some(by), Some(at)) = (i.state, &i.taken_over_by, &i.taken_over_at) {
        pairs.push(("Taken over", format!("{} by {by}", time(at))));
    }
    if let Some(reason) = &i.reason {
        pairs.push(("Why", plain(reason)));
    }
    if let Some(summary) = i.health_detail.as_ref().and_then(|d| d.get("summary")).and_then(|s| s.as_str()) {
        pairs.push(("Last health check", plain(summary)));
    }
    if let Some(job) = &i.job_id {
        pairs.push(("Last job", job.clone()));
    }
    if let Some(phrase) = &i.takeover_phrase {
        pairs.push(("Takeover phrase", phrase.clone()));
    }
    fields(&pairs)
}
