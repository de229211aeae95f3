//! The life of a managed OpenClaw instance: deploy, health, logs, gateway restart and
//! removal. Each is a job for the node's agent; risky ones (deploy, restart, remove)
//! wait for a person to type the approval phrase. The instance record follows its jobs:
//! when a job it started ends, the instance's state, health and reason are updated from
//! the job's result ([`Works::follow_job`]).
//!
//! The gateway token is generated here, sealed with the master key on the instance
//! record, and handed to the agent only while it runs that instance's deploy job
//! ([`Works::agent_gateway_token`]). It is never part of a job's parameters, result,
//! output or any answer to a person.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access;
use crate::actor::Actor;
use crate::agent::AgentIdentity;
use crate::audit::Outcome;
use crate::error::{Error, Result};
use crate::instances::{Instance, InstanceState};
use crate::jobs::{Job, JobKind, JobState};
use crate::openclaw::{self, Bundle, GatewayToken};
use crate::secret::new_id;
use crate::works::Works;

/// What a person asks for when deploying OpenClaw to a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeployInput {
    pub node_id: String,
    /// The OpenClaw version (CalVer, e.g. 2026.9.6); the pinned default when absent.
    #[serde(default)]
    pub version: Option<String>,
    /// Also run the optional CLI container beside the gateway.
    #[serde(default)]
    pub with_cli: bool,
    /// Publish the gateway on this loopback port of the node; a free one is picked when absent.
    #[serde(default)]
    pub gateway_port: Option<u16>,
}

/// What to check a node's readiness for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReadinessInput {
    /// The OpenClaw version to deploy; the pinned default when absent.
    #[serde(default)]
    pub version: Option<String>,
    /// The loopback port the gateway would be published on, if a fixed one is wanted.
    #[serde(default)]
    pub gateway_port: Option<u16>,
}

/// What the agent checks before a deploy (and on request): the image to look for and
/// the port that must be free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessParams {
    pub image: String,
    #[serde(default)]
    pub gateway_port: Option<u16>,
}

/// One readiness check, in plain English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadinessCheck {
    /// `docker`, `image`, `port`, `disk`, `memory`.
    pub check: String,
    pub ok: bool,
    pub message: String,
}

/// The readiness of a node for OpenClaw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<ReadinessCheck>,
}

impl Readiness {
    pub fn of(checks: Vec<ReadinessCheck>) -> Self {
        Readiness { ready: checks.iter().all(|c| c.ok), checks }
    }

    /// One line per check, problems first-class: what an operator reads.
    pub fn text(&self) -> String {
        let mut out = String::from(if self.ready { "Ready for OpenClaw.\n" } else { "Not ready for OpenClaw.\n" });
        for c in &self.checks {
            out.push_str(&format!("{} {}: {}\n", if c.ok { "ok     " } else { "PROBLEM" }, c.check, c.message));
        }
        out
    }
}

/// Free disk space a deploy needs on the engine's data root: the image and the state.
pub const MIN_DISK_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Memory the gateway needs once ready (it uses about 900 MB).
pub const MIN_MEMORY_BYTES: u64 = 1024 * 1024 * 1024;

/// A requested deploy: the instance being deployed and the job that waits for approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deployment {
    pub instance: Instance,
    pub job: Job,
}

/// How many log lines to read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogsInput {
    /// From 1 to 2000; 100 when absent.
    #[serde(default)]
    pub lines: Option<u32>,
}

/// The parameters of a deploy job, as the agent reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployParams {
    pub instance_id: String,
    pub version: String,
    /// The image repository (`WORKS_OPENCLAW_IMAGE`); the local one when absent.
    #[serde(default)]
    pub image_repository: Option<String>,
    #[serde(default)]
    pub with_cli: bool,
    #[serde(default)]
    pub gateway_port: Option<u16>,
}

impl DeployParams {
    /// The bundle this deploy creates: the same data on the server and on the agent.
    pub fn bundle(&self) -> Result<Bundle> {
        let mut bundle = Bundle::new(&self.instance_id, &self.version, self.image_repository.as_deref(), self.with_cli)?;
        if let Some(port) = self.gateway_port {
            bundle = bundle.with_gateway_port(port)?;
        }
        Ok(bundle)
    }
}

/// The parameters of a health check, restart or removal of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceParams {
    pub instance_id: String,
    /// The gateway container by id (a taken-over container carries none of our labels).
    #[serde(default)]
    pub container_id: Option<String>,
    pub container_name: String,
}

/// Most log lines one job may read.
pub const MAX_LOG_LINES: u32 = 2000;
/// Log lines read when not told.
pub const DEFAULT_LOG_LINES: u32 = 100;

/// One container of an instance, as the agent found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComponentStatus {
    /// `gateway` or `cli`.
    pub role: String,
    pub container_name: String,
    pub required: bool,
    /// The engine's state (`running`, `exited`, …), or `missing`.
    pub state: String,
    /// The container's own health check, when it has one.
    pub health: Option<String>,
}

/// What one HTTP probe of the gateway answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Probe {
    pub ok: bool,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// The body (short) or why no answer came.
    pub detail: String,
}

/// The health of an instance as the agent measured it: the plain-English summary first,
/// the technical detail behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceHealth {
    pub healthy: bool,
    pub summary: String,
    pub components: Vec<ComponentStatus>,
    /// `/healthz`: the gateway is alive.
    pub healthz: Probe,
    /// `/readyz`: reported apart; a broken channel makes it fail without the gateway being down.
    pub readyz: Probe,
    /// The host port the gateway is published on (loopback).
    pub host_port: Option<u16>,
}

impl InstanceHealth {
    /// Judges required components and `/healthz`; optional components and `/readyz` are
    /// reported apart and do not make the instance unhealthy.
    pub fn judge(components: Vec<ComponentStatus>, healthz: Probe, readyz: Probe, host_port: Option<u16>) -> Self {
        let down: Vec<String> = components
            .iter()
            .filter(|c| c.required && c.state != "running")
            .map(|c| format!("the {} container {} is {}", c.role, c.container_name, c.state))
            .collect();
        let optional_down: Vec<String> = components
            .iter()
            .filter(|c| !c.required && c.state != "running")
            .map(|c| format!("the optional {} container {} is {}", c.role, c.container_name, c.state))
            .collect();
        let healthy = down.is_empty() && healthz.ok;
        let mut summary = if !down.is_empty() {
            format!("Unhealthy: {}. Restart the gateway or look at its logs.", down.join("; "))
        } else if !healthz.ok {
            format!("Unhealthy: the gateway is running but /healthz did not answer ok ({}). Look at its logs.", healthz.detail)
        } else {
            "Healthy: the gateway is running and /healthz answers ok.".to_owned()
        };
        if healthy {
            summary.push_str(if readyz.ok { " /readyz: ready." } else { " /readyz: not ready (a channel may need attention)." });
        }
        if !optional_down.is_empty() {
            summary.push_str(&format!(" Also: {}.", optional_down.join("; ")));
        }
        InstanceHealth { healthy, summary, components, healthz, readyz, host_port }
    }

    /// The short health shown in lists.
    pub fn label(&self) -> String {
        match (self.healthy, self.readyz.ok) {
            (true, true) => "healthy".to_owned(),
            (true, false) => "healthy, not ready".to_owned(),
            (false, _) => "unhealthy".to_owned(),
        }
    }
}

/// What a deploy job reports when it succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployResult {
    pub container_id: String,
    pub container_name: String,
    pub version: String,
    pub health: InstanceHealth,
}

/// What a restart job reports when it succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartResult {
    pub container_id: String,
    pub health: InstanceHealth,
}

/// What a removal reports when it succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveResult {
    pub removed: Vec<String>,
    /// Volumes that were kept, checked present after the removal.
    pub volumes_kept: Vec<String>,
}

fn purpose(instance_id: &str) -> String {
    format!("gateway-token:{instance_id}")
}

impl Works {
    /// Requests OpenClaw on a node: a new instance (deploying) with a generated gateway
    /// token sealed at rest, and a deploy job that waits for a person to type its phrase.
    pub async fn instance_deploy(&self, actor: &Actor, input: DeployInput) -> Result<Deployment> {
        self.change(actor, "instance.deploy", "node", Some(&input.node_id), async {
            let node = self.visible_node(actor, &input.node_id).await?;
            access::require_node_manager(actor, node.org_id.as_deref())?;
            if node.retired_at.is_some() {
                return Err(Error::conflict(Some("node_id"), "This node is retired and takes no new work."));
            }
            let version = openclaw::validate_version(input.version.as_deref().unwrap_or(openclaw::DEFAULT_VERSION))?;
            let sealer = self.sealer()?;
            let instance_id = new_id();
            let params = DeployParams {
                instance_id: instance_id.clone(),
                version: version.clone(),
                image_repository: self.config.openclaw_repository.clone(),
                with_cli: input.with_cli,
                gateway_port: input.gateway_port,
            };
            let bundle = params.bundle()?;
            let token = GatewayToken::generate();
            let sealed = sealer.seal(&purpose(&instance_id), token.expose().as_bytes())?;
            drop(token);
            let phrase = format!("deploy openclaw {version} on {}", node.name);
            let params = serde_json::to_value(&params).map_err(|e| Error::internal(format!("deploy parameters: {e}")))?;
            let job = self.new_job(actor, &node, JobKind::Deploy, params, Some(phrase));
            let now = self.now();
            let instance = Instance {
                id: instance_id.clone(),
                node_id: node.id.clone(),
                org_id: node.org_id.clone(),
                state: InstanceState::Deploying,
                container_id: String::new(),
                container_name: bundle.gateway.container_name.clone(),
                image: bundle.image.clone(),
                version: Some(version.clone()),
                health: None,
                reasons: vec!["deployed by Anthropy Works".to_owned()],
                discovered_at: now,
                updated_at: now,
                taken_over_by: None,
                taken_over_at: None,
                takeover_phrase: None,
                reason: Some("Waiting for a person to approve the deploy.".to_owned()),
                job_id: Some(job.id.clone()),
                health_detail: None,
            };
            let audit = self.draft(
                actor,
                node.org_id.clone(),
                "instance.deploy",
                "instance",
                Some(&instance_id),
                Outcome::Succeeded,
                format!(
                    "Requested OpenClaw {version} ({}) on node {}{}; waiting for approval (job {})",
                    bundle.image,
                    node.name,
                    if input.with_cli { " with the CLI container" } else { "" },
                    job.id
                ),
            );
            self.store.insert_deploy(&instance, &sealed, &job, audit).await?;
            self.job_signal.notify_waiters();
            Ok(Deployment { instance, job })
        })
        .await
    }

    /// Asks a node's agent whether OpenClaw can be deployed there: Docker answers, the
    /// image is present, the port is free, disk and memory suffice. A safe job; its
    /// result is a [`Readiness`].
    pub async fn node_openclaw_readiness(&self, actor: &Actor, node_id: &str, input: ReadinessInput) -> Result<Job> {
        self.change(actor, "node.openclaw_readiness", "node", Some(node_id), async {
            let node = self.visible_node(actor, node_id).await?;
            access::require_node_manager(actor, node.org_id.as_deref())?;
            if node.retired_at.is_some() {
                return Err(Error::conflict(Some("node_id"), "This node is retired and takes no new work."));
            }
            let version = openclaw::validate_version(input.version.as_deref().unwrap_or(openclaw::DEFAULT_VERSION))?;
            let image = openclaw::image_reference(&version, self.config.openclaw_repository.as_deref())?;
            if let Some(port) = input.gateway_port {
                openclaw::validate_host_port(port)?;
            }
            let params = serde_json::to_value(ReadinessParams { image: image.clone(), gateway_port: input.gateway_port })
                .map_err(|e| Error::internal(format!("readiness parameters: {e}")))?;
            let job = self.new_job(actor, &node, JobKind::HealthCheck, json!({ "readiness": params }), None);
            let audit = self.draft(
                actor,
                node.org_id.clone(),
                "node.openclaw_readiness",
                "job",
                Some(&job.id),
                Outcome::Succeeded,
                format!("Asked node {} whether it is ready for OpenClaw ({image})", node.name),
            );
            self.store.insert_job(&job, audit).await?;
            self.job_signal.notify_waiters();
            Ok(job)
        })
        .await
    }

    /// Asks the agent for the instance's health: its containers, `/healthz` and `/readyz`.
    pub async fn instance_health_check(&self, actor: &Actor, id: &str) -> Result<Job> {
        self.instance_job(actor, id, "instance.health_check", JobKind::HealthCheck, None).await
    }

    /// Asks the agent for the last lines of the gateway's output (redacted).
    pub async fn instance_logs(&self, actor: &Actor, id: &str, input: LogsInput) -> Result<Job> {
        let lines = input.lines.unwrap_or(DEFAULT_LOG_LINES);
        if !(1..=MAX_LOG_LINES).contains(&lines) {
            let err = Error::invalid("lines", format!("must be from 1 to {MAX_LOG_LINES}"));
            return self.change(actor, "instance.logs", "instance", Some(id), async { Err::<Job, _>(err) }).await;
        }
        self.instance_job(actor, id, "instance.logs", JobKind::Logs, Some(lines)).await
    }

    /// Requests a gateway restart; it waits for a person to type the phrase.
    pub async fn instance_restart(&self, actor: &Actor, id: &str) -> Result<Job> {
        self.instance_job(actor, id, "instance.restart", JobKind::Restart, None).await
    }

    /// Requests removal of the instance's containers (its volumes are kept); it waits for
    /// a person to type the phrase.
    pub async fn instance_remove(&self, actor: &Actor, id: &str) -> Result<Job> {
        self.instance_job(actor, id, "instance.remove", JobKind::Remove, None).await
    }

    async fn instance_job(&self, actor: &Actor, id: &str, action: &str, kind: JobKind, lines: Option<u32>) -> Result<Job> {
        self.change(actor, action, "instance", Some(id), async {
            let (instance, node_name) = self.visible_instance(actor, id).await?;
            if kind.risk() == crate::jobs::Risk::Risky {
                access::require_node_manager(actor, instance.org_id.as_deref())?;
            }
            let acts_on_containers = matches!(instance.state, InstanceState::Managed)
                || (kind == JobKind::Remove && instance.state == InstanceState::Failed);
            if !acts_on_containers {
                return Err(Error::conflict(
                    None,
                    format!(
                        "This instance is {}; only a managed instance can be {}.",
                        instance.state.label().to_lowercase(),
                        match kind {
                            JobKind::HealthCheck => "checked",
                            JobKind::Logs => "asked for logs",
                            JobKind::Restart => "restarted",
                            _ => "removed",
                        }
                    ),
                ));
            }
            let node = self.visible_node(actor, &instance.node_id).await?;
            if node.retired_at.is_some() {
                return Err(Error::conflict(Some("node_id"), "The instance's node is retired and takes no new work."));
            }
            let params = if kind == JobKind::Logs {
                json!({"container": instance.container_name, "lines": lines.unwrap_or(DEFAULT_LOG_LINES), "instance_id": instance.id})
            } else {
                let p = InstanceParams {
                    instance_id: instance.id.clone(),
                    container_id: Some(instance.container_id.clone()).filter(|c| !c.is_empty()),
                    container_name: instance.container_name.clone(),
                };
                serde_json::to_value(p).map_err(|e| Error::internal(format!("instance job parameters: {e}")))?
            };
            let phrase = (kind.risk() == crate::jobs::Risk::Risky).then(|| format!("{} {} on {node_name}", kind.verb(), instance.container_name));
            let job = self.new_job(actor, &node, kind, params, phrase);
            let audit = self.draft(
                actor,
                job.org_id.clone(),
                action,
                "job",
                Some(&job.id),
                Outcome::Succeeded,
                format!("Requested {} for OpenClaw instance {} on node {node_name} ({})", kind.verb(), instance.container_name, job.state.label()),
            );
            self.store.insert_job(&job, audit).await?;
            self.job_signal.notify_waiters();
            Ok(job)
        })
        .await
    }

    /// The gateway token of the instance a deploy job creates, for the agent running that
    /// job, while it runs it. Anything else is refused and recorded.
    pub async fn agent_gateway_token(&self, agent: &AgentIdentity, job_id: &str) -> Result<GatewayToken> {
        let job = self.agent_job(agent, job_id, "instance.gateway_token").await?;
        let refuse = |why: &str| Error::conflict(None, why.to_owned());
        let result = async {
            if job.kind != JobKind::Deploy {
                return Err(refuse("Only a deploy job receives a gateway token."));
            }
            if !matches!(job.state, JobState::Claimed | JobState::Running) {
                return Err(refuse("This job is not in progress; a gateway token is handed out only while the deploy runs."));
            }
            let params: DeployParams = serde_json::from_value(job.params.clone())
                .map_err(|_| refuse("This deploy job was not requested through an instance deploy, so it has no gateway token. Request the deploy with `works instance deploy`."))?;
            let sealed = self
                .store
                .get_instance_token(&params.instance_id)
                .await?
                .ok_or_else(|| refuse("The instance of this deploy has no gateway token on record. Request the deploy again."))?;
            let token = self.sealer()?.open_text(&purpose(&params.instance_id), &sealed)?;
            Ok((params.instance_id, GatewayToken::from_secret(token)))
        }
        .await;
        let (outcome, reason) = match &result {
            Ok((instance_id, _)) => (Outcome::Succeeded, format!("Handed the gateway token of instance {instance_id} to the agent of {} for job {}", agent.node_name, job.id)),
            Err(e) => (Outcome::Denied, format!("Refused the agent of {} a gateway token for job {}: {e}", agent.node_name, job.id)),
        };
        let draft = self.draft(&agent.as_actor(), agent.org_id.clone(), "instance.gateway_token", "job", Some(&job.id), outcome, reason);
        self.store.append_audit(draft).await?;
        result.map(|(_, token)| token)
    }

    /// Brings the instance a job acted on up to date with the job's outcome. Called after
    /// every change of a job's state; a job that acts on no instance is left alone. A
    /// failure here is logged: the job's own change is already recorded.
    pub(crate) async fn follow_job(&self, actor: &Actor, job: &Job) {
        let Some(instance_id) = job.params.get("instance_id").and_then(|v| v.as_str()) else { return };
        if let Err(e) = self.follow_job_inner(actor, job, instance_id).await {
            tracing::warn!(job_id = %job.id, instance_id, error = %e, "the instance could not be brought up to date with its job");
        }
    }

    async fn follow_job_inner(&self, actor: &Actor, job: &Job, instance_id: &str) -> Result<()> {
        let Some(mut i) = self.store.get_instance(instance_id).await? else { return Ok(()) };
        if i.node_id != job.node_id {
            return Ok(());
        }
        let ended_badly = matches!(job.state, JobState::Failed | JobState::TimedOut | JobState::Cancelled);
        let why = job.reason.clone().unwrap_or_else(|| "no reason was given".to_owned());
        let change: Option<String> = match (job.kind, job.state) {
            (JobKind::Deploy, JobState::AwaitingApproval | JobState::Queued) if i.state != InstanceState::Managed => {
                i.state = InstanceState::Deploying;
                i.reason = Some(if job.state == JobState::Queued {
                    "Approved; waiting for the node's agent to create it.".to_owned()
                } else {
                    "Waiting for a person to approve the deploy.".to_owned()
                });
                Some(format!("Deploy of {} is {}", i.container_name, job.state.label().to_lowercase()))
            }
            (JobKind::Deploy, JobState::Succeeded) => {
                let r: DeployResult = serde_json::from_value(job.result.clone().unwrap_or_default())
                    .map_err(|e| Error::internal(format!("the deploy result could not be read: {e}")))?;
                i.state = InstanceState::Managed;
                i.container_id = r.container_id;
                i.container_name = r.container_name;
                i.version = Some(r.version);
                i.health = Some(r.health.label());
                i.health_detail = serde_json::to_value(&r.health).ok();
                i.reason = None;
                Some(format!("Deployed OpenClaw {} as {}: {}", i.version.clone().unwrap_or_default(), i.container_name, r.health.summary))
            }
            (JobKind::Deploy, _) if ended_badly && i.state == InstanceState::Deploying => {
                i.state = InstanceState::Failed;
                i.reason = Some(format!("The deploy did not finish ({}): {why}", job.state.label().to_lowercase()));
                Some(format!("Deploy of {} ended {}: {why}", i.container_name, job.state.label().to_lowercase()))
            }
            (JobKind::HealthCheck | JobKind::Restart, JobState::Succeeded) => {
                let health: InstanceHealth = match job.kind {
                    JobKind::Restart => {
                        let r: RestartResult = serde_json::from_value(job.result.clone().unwrap_or_default())
                            .map_err(|e| Error::internal(format!("the restart result could not be read: {e}")))?;
                        i.container_id = r.container_id;
                        i.reason = Some(format!("The gateway was restarted at {}.", job.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default()));
                        r.health
                    }
                    _ => serde_json::from_value(job.result.clone().unwrap_or_default().get("instance").cloned().unwrap_or_default())
                        .map_err(|e| Error::internal(format!("the health result could not be read: {e}")))?,
                };
                i.health = Some(health.label());
                i.health_detail = serde_json::to_value(&health).ok();
                Some(health.summary)
            }
            (JobKind::HealthCheck, _) if ended_badly => {
                i.health = Some("unknown".to_owned());
                Some(format!("The health check of {} did not finish: {why}", i.container_name))
            }
            (JobKind::Restart, _) if ended_badly => {
                i.reason = Some(format!("The gateway restart did not finish ({}): {why}", job.state.label().to_lowercase()));
                Some(format!("Restart of {} ended {}: {why}", i.container_name, job.state.label().to_lowercase()))
            }
            (JobKind::Remove, JobState::Succeeded) => {
                let r: RemoveResult = serde_json::from_value(job.result.clone().unwrap_or_default())
                    .map_err(|e| Error::internal(format!("the removal result could not be read: {e}")))?;
                i.state = InstanceState::Removed;
                i.container_id = String::new();
                i.health = None;
                i.health_detail = None;
                i.reason = Some(if r.volumes_kept.is_empty() {
                    format!("Removed {}.", r.removed.join(", "))
                } else {
                    format!("Removed {}; kept the volumes {}.", r.removed.join(", "), r.volumes_kept.join(", "))
                });
                i.reason.clone()
            }
            (JobKind::Remove, _) if ended_badly => {
                i.reason = Some(format!("The removal did not finish ({}): {why}", job.state.label().to_lowercase()));
                i.reason.clone()
            }
            _ => None,
        };
        let Some(summary) = change else { return Ok(()) };
        i.job_id = Some(job.id.clone());
        i.updated_at = self.now();
        let audit = self.draft(actor, i.org_id.clone(), "instance.update", "instance", Some(&i.id), Outcome::Succeeded, crate::redact(&summary));
        self.store.update_instance(&i, audit).await
    }
}
