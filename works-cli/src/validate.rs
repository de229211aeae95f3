//! `works validate openclaw --node ID`: the whole life of an instance on a real node,
//! step by step — deploy (approved by phrase), health, logs, gateway restart (approved),
//! health again, removal (approved) keeping the volumes. Every step is an ordinary
//! operation of `works_core::Api`, so it is recorded like any other; the command prints
//! each step and fails at the first one that does not pass.

use std::time::Duration;

use clap::Subcommand;
use works_core::lifecycle::{InstanceHealth, RemoveResult};
use works_core::{Api, ApproveJob, DeployInput, Error, Instance, InstanceState, Job, JobState, LogsInput, Result};

use crate::instance::wait_for;

#[derive(Debug, Subcommand)]
pub enum ValidateCommand {
    /// Deploy OpenClaw to a node, check its health, read its logs, restart the gateway,
    /// check again and remove it keeping its volumes (exit 0 only if every step passed)
    Openclaw {
        /// The node to validate on (its agent must be running)
        #[arg(long, value_name = "ID")]
        node: String,
        /// The OpenClaw version; the pinned default when absent
        #[arg(long, value_name = "VERSION")]
        openclaw_version: Option<String>,
        /// Seconds each step may take
        #[arg(long, default_value_t = 420)]
        step_timeout: u64,
    },
}

/// What the gateway prints once it serves.
pub const READY_LINE: &str = "[gateway] ready";

pub async fn validate(api: &dyn Api, cmd: ValidateCommand) -> Result<String> {
    let ValidateCommand::Openclaw { node, openclaw_version: version, step_timeout } = cmd;
    let mut run = Run { api, within: Duration::from_secs(step_timeout), steps: Vec::new() };
    match run.lifecycle(&node, version).await {
        Ok(()) => Ok(format!("OpenClaw lifecycle validation passed: {} steps.\n", run.steps.len())),
        Err(e) => Err(e),
    }
}

struct Run<'a> {
    api: &'a dyn Api,
    within: Duration,
    steps: Vec<String>,
}

impl Run<'_> {
    /// Records a step and prints it at once, so a person watching sees progress.
    fn step(&mut self, line: String) {
        use std::io::Write as _;
        println!("{line}");
        let _ = std::io::stdout().flush();
        self.steps.push(line);
    }

    fn passed(&mut self, what: String) {
        self.step(format!("{}. ok   {what}", self.steps.len() + 1));
    }

    fn failed(&mut self, what: &str, why: String) -> Error {
        let n = self.steps.len() + 1;
        self.step(format!("{n}. FAIL {what}: {why}"));
        Error::conflict(None, format!("The OpenClaw validation failed at step {n} ({what}): {why}"))
    }

    /// Approves a risky job with its own phrase and waits for it to end.
    async fn approve_and_wait(&mut self, what: &str, job: Job) -> Result<Job> {
        let phrase = job.approval_phrase.clone().unwrap_or_default();
        let job = match self.api.job_approve(&job.id, ApproveJob { phrase: phrase.clone() }).await {
            Ok(j) => j,
            Err(e) => return Err(self.failed(what, format!("approving \"{phrase}\" was refused: {e}"))),
        };
        self.passed(format!("{what}: approved \"{phrase}\""));
        self.finish(what, job).await
    }

    async fn finish(&mut self, what: &str, job: Job) -> Result<Job> {
        let job = wait_for(self.api, job, self.within).await?;
        match job.state {
            JobState::Succeeded => Ok(job),
            s if s.is_final() => {
                let why = job.reason.clone().unwrap_or_default();
                Err(self.failed(what, format!("job {} ended {}: {why}", job.id, s.label().to_lowercase())))
            }
            s => Err(self.failed(what, format!("job {} is still {} after {} s; is the node's agent running?", job.id, s.label().to_lowercase(), self.within.as_secs()))),
        }
    }

    async fn instance(&mut self, what: &str, id: &str) -> Result<Instance> {
        match self.api.instance_get(id).await {
            Ok(i) => Ok(i),
            Err(e) => Err(self.failed(what, e.to_string())),
        }
    }

    async fn healthy(&mut self, what: &str, instance_id: &str) -> Result<()> {
        let job = match self.api.instance_health_check(instance_id).await {
            Ok(j) => j,
            Err(e) => return Err(self.failed(what, e.to_string())),
        };
        let job = self.finish(what, job).await?;
        let health: Option<InstanceHealth> =
            job.result.as_ref().and_then(|r| r.get("instance")).and_then(|h| serde_json::from_value(h.clone()).ok());
        match health {
            Some(h) if h.healthy => {
                self.passed(format!("{what}: {} (/healthz {})", h.summary, h.healthz.detail.trim()));
                Ok(())
            }
            Some(h) => Err(self.failed(what, h.summary)),
            None => Err(self.failed(what, "the health check reported no instance health".to_owned())),
        }
    }

    async fn lifecycle(&mut self, node: &str, version: Option<String>) -> Result<()> {
        // 1. Deploy, approved by its phrase.
        let d = match self.api.instance_deploy(DeployInput { node_id: node.to_owned(), version, with_cli: false, gateway_port: None }).await {
            Ok(d) => d,
            Err(e) => return Err(self.failed("deploy request", e.to_string())),
        };
        let id = d.instance.id.clone();
        self.passed(format!("deploy requested: instance {id}, {} ({})", d.instance.container_name, d.instance.image));
        self.approve_and_wait("deploy", d.job).await?;
        let i = self.instance("deploy", &id).await?;
        if i.state != InstanceState::Managed {
            return Err(self.failed("deploy", format!("the instance is {} after the deploy", i.state.as_str())));
        }
        self.passed(format!("deployed: {} is managed, health {}", i.container_name, i.health.clone().unwrap_or_default()));

        // 2. Health.
        self.healthy("health", &id).await?;

        // 3. Logs show the gateway's ready line (it follows /healthz by a few seconds).
        let deadline = tokio::time::Instant::now() + self.within;
        let mut reads = 0;
        loop {
            let job = match self.api.instance_logs(&id, LogsInput { lines: Some(500) }).await {
                Ok(j) => j,
                Err(e) => return Err(self.failed("logs", e.to_string())),
            };
            let job = self.finish("logs", job).await?;
            reads += 1;
            let output = job.output.unwrap_or_default();
            if let Some(line) = output.lines().find(|l| l.contains(READY_LINE)) {
                self.passed(format!("logs: {} lines read ({reads} reads), found \"{}\"", output.lines().count(), line.trim()));
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                let last: Vec<&str> = output.lines().rev().take(5).collect();
                return Err(self.failed(
                    "logs",
                    format!("after {reads} reads the gateway's logs ({} lines) do not contain \"{READY_LINE}\"; the last lines: {}", output.lines().count(), last.join(" | ")),
                ));
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
        }

        // 4. Restart, approved; healthy again.
        let job = match self.api.instance_restart(&id).await {
            Ok(j) => j,
            Err(e) => return Err(self.failed("restart", e.to_string())),
        };
        self.approve_and_wait("restart", job).await?;
        self.passed("restart: the gateway came back".to_owned());
        self.healthy("health after restart", &id).await?;

        // 5. Remove, approved; the volumes stay.
        let job = match self.api.instance_remove(&id).await {
            Ok(j) => j,
            Err(e) => return Err(self.failed("remove", e.to_string())),
        };
        let job = self.approve_and_wait("remove", job).await?;
        let removed: Option<RemoveResult> = job.result.and_then(|r| serde_json::from_value(r).ok());
        let i = self.instance("remove", &id).await?;
        match removed {
            Some(r) if i.state == InstanceState::Removed && !r.volumes_kept.is_empty() => {
                self.passed(format!("removed {}; volumes kept: {}", r.removed.join(", "), r.volumes_kept.join(", ")));
                Ok(())
            }
            Some(r) => Err(self.failed("remove", format!("instance {}, volumes kept: {:?}", i.state.as_str(), r.volumes_kept))),
            None => Err(self.failed("remove", "the removal reported no result".to_owned())),
        }
    }
}
