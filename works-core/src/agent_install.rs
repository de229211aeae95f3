//! Approved agent installation over SSH: a verified host becomes an online node with one
//! typed approval.
//!
//! [`Works::host_install_agent`] (MSP roles) registers the host as a node when it is not
//! yet one and requests an `agent_install` job that waits for a person to type
//! `install agent on <host name>`. When that job is approved, the server itself — not
//! an agent; the host has none yet — runs the installation along the host's route
//! (through its jumpbox) with the SSH adapter: the fixed steps of
//! [`crate::probe::InstallStep`]. It makes a one-time enrollment token for the node
//! and hands it to the adapter, which passes it on standard input only; the token never
//! reaches a transcript, an audit record or a log. The installation is recorded as an
//! access attempt with its transcript, plain-English reason and next action; it ends
//! when the agent's first check-in took the node online (or after a short wait for it),
//! and the job ends succeeded or failed with it. Only MSP roles may approve it: the
//! server signs in with the MSP's credentials.
//!
//! The core decides (who may, which host, which node, which server address, which
//! token); `works-ssh` executes.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::error::{Error, Result};
use crate::hosts::{AccessAttempt, AttemptStatus, Discovery, Host, HostKeyPins, Jumpbox, Stage, TranscriptEntry};
use crate::jobs::{Job, JobKind, JobState};
use crate::probe::{self, FailureKind, Hop, InstallEvent, InstallRequest, ProbeFailure, SecretText, Step};
use crate::secret::new_id;
use crate::works::Works;

/// How long a whole installation may take (copying the binary included).
pub const INSTALL_TIMEOUT_SECS: u64 = 600;
/// How long a successful installation waits for the agent's first check-in.
pub const CHECKIN_WAIT_SECS: u64 = 90;

/// Where the server finds the agent to copy, and the address agents reach it at.
#[derive(Debug, Clone)]
pub struct AgentInstallConfig {
    /// The agent binary: the `works` executable, which hosts the agent (`works agent`).
    pub binary: PathBuf,
    /// An `http://` or `https://` address the hosts can reach this server at.
    pub server_url: String,
}

/// Checks the address agents reach the server at: http or https, plain characters only
/// (it is written into a file on the host).
pub fn check_server_url(url: &str) -> Result<String> {
    const FIELD: &str = "agent_server_url";
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::invalid(FIELD, "must start with http:// or https://, e.g. http://10.0.0.1:8080"));
    }
    if url.len() > 200 {
        return Err(Error::invalid(FIELD, "must be at most 200 characters"));
    }
    if let Some(c) = url.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '-' | '_' | '[' | ']'))) {
        return Err(Error::invalid(FIELD, format!("may hold only letters, digits and . : / - _ [ ] (found {c:?})")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The phrase an approver types to install the agent on a host.
pub fn install_phrase(host_name: &str) -> String {
    format!("install agent on {host_name}")
}

impl Works {
    /// Lets the server install agents over SSH: which binary to copy and the address the
    /// hosts reach this server at.
    pub fn with_agent_install(mut self, config: AgentInstallConfig) -> Result<Self> {
        let server_url = check_server_url(&config.server_url)?;
        self.agent_install = Some(Arc::new(AgentInstallConfig { binary: config.binary, server_url }));
        Ok(self)
    }

    /// Requests the installation of the agent on a verified host (MSP roles). The host is
    /// registered as a node first when it is not one yet. The answer is the job, waiting
    /// for a person to type `install agent on <host name>` (POST /api/v1/jobs/{id}/approve).
    pub async fn host_install_agent(&self, actor: &Actor, id: &str) -> Result<Job> {
        self.change(actor, "host.install_agent", "host", Some(id), async {
            let h = self.host_for_install(actor, id).await?;
            access::require_msp(actor, "install agents on hosts")?;
            if self.access_probe.is_none() {
                return Err(Error::conflict(None, "This server was started without the SSH access layer, so it cannot install agents. Start it with `works serve`, which includes it."));
            }
            let Some(config) = self.agent_install.clone() else {
                // A matter of how the server was set up, not a passing outage: retrying
                // changes nothing until someone sets the address.
                return Err(Error::conflict(
                    None,
                    "This server does not know the address hosts reach it at, so it cannot install agents. Start it with WORKS_AGENT_SERVER_URL=http://ADDRESS:PORT (an address the hosts can reach).",
                ));
            };
            if !config.binary.is_file() {
                return Err(Error::conflict(
                    None,
                    format!("The agent binary {} is missing on this server. Set WORKS_AGENT_BINARY to the works executable to copy.", config.binary.display()),
                ));
            }
            if h.verified_at.is_none() {
                return Err(Error::conflict(
                    None,
                    format!("Host {} has not passed Test Access yet; run works host test-access {} and request the installation when it succeeds.", h.name, h.id),
                ));
            }
            let node_id = match &h.node_id {
                Some(n) => n.clone(),
                None => self.host_register(actor, &h.id).await?.id,
            };
            let node = self.visible_node(actor, &node_id).await?;
            if node.retired_at.is_some() {
                return Err(Error::conflict(None, format!("Node {} of host {} is retired; it cannot take an agent.", node.name, h.name)));
            }
            let job = self.new_job(actor, &node, JobKind::AgentInstall, json!({ "host_id": h.id }), Some(install_phrase(&h.name)));
            let audit = self.draft(
                actor,
                job.org_id.clone(),
                "host.install_agent",
                "job",
                Some(&job.id),
                Outcome::Succeeded,
                format!("Requested installing the agent on host {} (node {}); waits for a person to type \"{}\"", h.name, node.name, install_phrase(&h.name)),
            );
            self.store.insert_job(&job, audit).await?;
            Ok(job)
        })
        .await
    }

    async fn host_for_install(&self, actor: &Actor, id: &str) -> Result<Host> {
        let not_found = || Error::not_found("host", id);
        let id = crate::validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_host(&id).await? {
            Some(h) if access::can_see_node(actor, Some(&h.org_id)) => Ok(h),
            _ => Err(not_found()),
        }
    }

    /// After a job was approved: an agent installation requested for a host is run by
    /// the server, in the background. Other jobs are left to their agents.
    pub(crate) async fn start_approved_agent_install(&self, actor: &Actor, job: &Job) {
        if job.kind != JobKind::AgentInstall || job.state != JobState::Queued {
            return;
        }
        let Some(host_id) = job.params.get("host_id").and_then(|v| v.as_str()).map(str::to_owned) else { return };
        let mut job = job.clone();
        let now = self.now();
        if !actor.is_msp() {
            // The server reaches hosts over SSH with the MSP's credentials: only MSP roles
            // may set that off, whoever requested the job.
            job.state = JobState::Failed;
            job.reason = Some("Only an MSP admin or operator may approve installing the agent over SSH; ask one to request it again (works host install-agent).".to_owned());
            job.updated_at = now;
            job.finished_at = Some(now);
            let audit = self.draft(actor, job.org_id.clone(), "job.finish", "job", Some(&job.id), Outcome::Denied, "Agent installation over SSH approved by someone outside the MSP roles; not run".to_owned());
            if let Err(e) = self.store.update_job(&job, JobState::Queued, audit).await {
                tracing::warn!(job_id = %job.id, error = %e, "could not record a refused agent installation");
            }
            return;
        }
        job.state = JobState::Running;
        job.attempts += 1;
        job.claimed_at = Some(now);
        job.heartbeat_at = Some(now);
        job.deadline_at = Some(now + chrono::Duration::seconds(i64::from(job.timeout_secs)));
        job.reason = Some("The server is installing the agent over SSH.".to_owned());
        job.updated_at = now;
        let audit = self.draft(actor, job.org_id.clone(), "job.start", "job", Some(&job.id), Outcome::Succeeded, "The server started installing the agent over SSH".to_owned());
        if let Err(e) = self.store.update_job(&job, JobState::Queued, audit).await {
            tracing::warn!(job_id = %job.id, error = %e, "the agent installation could not be started");
            return;
        }
        let works = self.clone();
        let actor = actor.clone();
        tokio::spawn(async move {
            let (state, reason, result) = match works.install_on_host(&actor, &job, &host_id).await {
                Ok((attempt, started_as)) => (
                    JobState::Succeeded,
                    format!("The agent was installed and enrolled, and runs as a {started_as}; the attempt's transcript says whether it has checked in."),
                    json!({ "attempt_id": attempt.id, "started_as": started_as }),
                ),
                Err((attempt, why)) => (JobState::Failed, why, json!({ "attempt_id": attempt })),
            };
            let now = works.now();
            job.state = state;
            job.reason = Some(reason.clone());
            job.result = Some(result);
            job.updated_at = now;
            job.finished_at = Some(now);
            let outcome = Outcome::Succeeded;
            let audit = works.draft(&actor, job.org_id.clone(), "job.finish", "job", Some(&job.id), outcome, format!("Agent installation: {reason}"));
            if let Err(e) = works.store.update_job(&job, JobState::Running, audit).await {
                tracing::error!(job_id = %job.id, error = %e, "could not record the end of an agent installation");
            }
        });
    }

    /// Runs the installation; on failure, the attempt's id (when one was recorded) and why.
    async fn install_on_host(&self, actor: &Actor, job: &Job, host_id: &str) -> std::result::Result<(AccessAttempt, String), (Option<String>, String)> {
        let plain = |e: Error| (None, e.to_string());
        let h = self.store.get_host(host_id).await.map_err(plain)?.ok_or((None, "The host of this installation no longer exists.".to_owned()))?;
        if h.node_id.as_deref() != Some(job.node_id.as_str()) {
            return Err((None, format!("Host {} is not registered as this job's node; request the installation from the host (works host install-agent {}).", h.name, h.id)));
        }
        let (Some(prober), Some(config)) = (self.access_probe.clone(), self.agent_install.clone()) else {
            return Err((None, "This server cannot install agents over SSH (no SSH adapter, or WORKS_AGENT_SERVER_URL is not set).".to_owned()));
        };
        let (route, jumpbox, route_text) = self.route_for(&h).await.map_err(plain)?;
        let token = self.enrollment_token_create(&Actor::system(), &job.node_id).await.map_err(plain)?;
        let secret = token.token.clone();
        let now = self.now();
        let first = if jumpbox.is_some() { Hop::Jumpbox } else { Hop::Target };
        let mut a = AccessAttempt {
            id: new_id(),
            host_id: h.id.clone(),
            org_id: h.org_id.clone(),
            host_name: h.name.clone(),
            jumpbox_id: jumpbox.as_ref().map(|j| j.id.clone()),
            route: route_text.clone(),
            status: AttemptStatus::Running,
            stage: Stage { hop: first, step: Step::Connect },
            failure: None,
            reason: None,
            next_action: None,
            transcript: vec![TranscriptEntry {
                at: now,
                hop: first,
                step: Step::Connect,
                message: format!("Started installing the agent along {route_text} (approved job {}); the server's address for the agent is {}.", job.id, config.server_url),
            }],
            discovery: Discovery::default(),
            technical: String::new(),
            requested_by: job.approved_by.clone().unwrap_or_else(|| actor.name.clone()),
            started_at: now,
            updated_at: now,
            finished_at: None,
        };
        let audit = self.draft(
            actor,
            Some(h.org_id.clone()),
            "host.install_agent",
            "access_attempt",
            Some(&a.id),
            Outcome::Succeeded,
            format!("Started installing the agent on host {} along {route_text}", h.name),
        );
        self.store.insert_access_attempt(&a, audit).await.map_err(plain)?;

        let request = InstallRequest { route, binary: config.binary.clone(), server_url: config.server_url.clone(), token: SecretText::new(secret.clone()) };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let fut = tokio::time::timeout(std::time::Duration::from_secs(INSTALL_TIMEOUT_SECS), prober.install_agent(request, tx));
        tokio::pin!(fut);
        let outcome = loop {
            tokio::select! {
                Some(ev) = rx.recv() => self.apply_install_event(&mut a, &h, jumpbox.as_ref(), &secret, ev).await,
                r = &mut fut => break r,
            }
        };
        while let Ok(ev) = rx.try_recv() {
            self.apply_install_event(&mut a, &h, jumpbox.as_ref(), &secret, ev).await;
        }
        let result = match outcome {
            Ok(Ok(installed)) => Ok(installed.started_as),
            Ok(Err(f)) => Err(f),
            Err(_) => Err(ProbeFailure {
                hop: a.stage.hop,
                step: a.stage.step,
                kind: FailureKind::Interrupted,
                technical: format!("The installation ran past {INSTALL_TIMEOUT_SECS} seconds and was stopped."),
            }),
        };
        let subject = probe::Subject {
            host_name: &h.name,
            host_address: &h.address,
            jumpbox_name: jumpbox.as_ref().map(|j| j.name.as_str()),
            jumpbox_address: jumpbox.as_ref().map(|j| j.address.as_str()),
            host_id: &h.id,
        };
        let checked_in = match &result {
            Ok(_) => self.first_checkin_since(&job.node_id, a.started_at).await,
            Err(_) => None,
        };
        let now = self.now();
        let (outcome, summary, ended) = match result {
            Ok(started_as) => {
                a.status = AttemptStatus::Succeeded;
                a.stage = Stage { hop: Hop::Target, step: Step::Done };
                a.transcript.push(TranscriptEntry { at: now, hop: Hop::Target, step: Step::Done, message: format!("The agent is installed, enrolled and running as a {started_as}.") });
                match checked_in {
                    Some(at) => {
                        a.transcript.push(TranscriptEntry { at: now, hop: Hop::Target, step: Step::Done, message: format!("The agent checked in at {}: the node is online.", at.format("%H:%M:%S UTC")) });
                        a.next_action = Some(format!("Nothing to do: the node is online (works node get {}).", job.node_id));
                    }
                    None => {
                        a.transcript.push(TranscriptEntry { at: now, hop: Hop::Target, step: Step::Done, message: format!("The agent has not checked in within {CHECKIN_WAIT_SECS} seconds.") });
                        a.next_action = Some(format!(
                            "Wait for the agent's first check-in (works node get {}); if the node stays offline, read ~/.works-agent/agent.log on {} (or journalctl -u works-agent).",
                            job.node_id, h.name
                        ));
                    }
                }
                (Outcome::Succeeded, format!("Installed the agent on host {} along {}", h.name, a.route), Ok(started_as))
            }
            Err(f) => {
                let kind = if f.hop == Hop::Jumpbox && f.kind.is_network() { FailureKind::JumpboxUnreachable } else { f.kind };
                let (reason, next) = probe::explain(kind, f.hop, &subject);
                a.status = AttemptStatus::Failed;
                a.stage = Stage { hop: f.hop, step: f.step };
                a.failure = Some(kind);
                a.reason = Some(reason.clone());
                a.next_action = Some(next);
                if !f.technical.is_empty() {
                    Self::add_install_technical(&mut a, &secret, &f.technical);
                }
                a.transcript.push(TranscriptEntry { at: now, hop: f.hop, step: f.step, message: format!("Stopped: {reason}") });
                (Outcome::Failed, format!("Installing the agent on host {} failed at {} {}: {reason}", h.name, f.hop.as_str(), f.step.as_str()), Err(reason))
            }
        };
        a.finished_at = Some(now);
        a.updated_at = now;
        let audit = self.draft(actor, Some(h.org_id.clone()), "host.install_agent", "access_attempt", Some(&a.id), outcome, summary);
        if let Err(e) = self.store.finish_access_attempt(&a, &HostKeyPins::default(), audit).await {
            tracing::error!(error = %e, attempt = %a.id, "could not record the end of an agent installation");
        }
        match ended {
            Ok(started_as) => Ok((a, started_as)),
            Err(reason) => Err((Some(a.id), reason)),
        }
    }

    /// When the node's agent first checked in since `since`, waiting up to
    /// [`CHECKIN_WAIT_SECS`].
    async fn first_checkin_since(&self, node_id: &str, since: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(CHECKIN_WAIT_SECS);
        loop {
            if let Ok(Some(node)) = self.store.get_node(node_id).await {
                if let Some(at) = node.last_checkin_at.filter(|at| *at >= since) {
                    return Some(at);
                }
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// Technical output, with the token taken out before anything else sees it.
    fn add_install_technical(a: &mut AccessAttempt, secret: &str, text: &str) {
        const MAX: usize = 64 * 1024;
        let text = crate::redact::redact(&text.replace(secret, "[redacted]"));
        let text = text.trim_end();
        if a.technical.len() + text.len() < MAX {
            a.technical.push_str(text);
            a.technical.push('\n');
        }
    }

    async fn apply_install_event(&self, a: &mut AccessAttempt, h: &Host, j: Option<&Jumpbox>, secret: &str, ev: InstallEvent) {
        let now = self.now();
        match ev {
            InstallEvent::Connected { hop, host_key } => {
                let whom = match hop {
                    Hop::Jumpbox => format!("jumpbox {}", j.map(|j| j.name.as_str()).unwrap_or("")),
                    Hop::Target => format!("host {}", h.name),
                };
                let fp = crate::hosts::host_key_fingerprint(&host_key).unwrap_or_else(|| "unknown fingerprint".into());
                a.stage = Stage { hop, step: Step::Authenticate };
                a.transcript.push(TranscriptEntry { at: now, hop, step: Step::Authenticate, message: format!("Signed in to the {whom}; its host key matches the pinned one ({fp}).") });
            }
            InstallEvent::Started(step) => {
                a.stage = Stage { hop: Hop::Target, step: step.step() };
                let label = step.label();
                a.transcript.push(TranscriptEntry { at: now, hop: Hop::Target, step: step.step(), message: format!("Started {label}.") });
            }
            InstallEvent::Finished { step, output } => {
                let label = step.label();
                a.transcript.push(TranscriptEntry { at: now, hop: Hop::Target, step: step.step(), message: format!("Done: {label}.") });
                let out: String = output.chars().take(4000).collect();
                Self::add_install_technical(a, secret, &format!("[{}]\n{}", label, out.trim_end()));
            }
        }
        a.updated_at = now;
        if let Err(e) = self.store.update_access_attempt(a).await {
            tracing::warn!(error = %e, attempt = %a.id, "could not record agent installation progress");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_server_addresses_are_accepted() {
        assert_eq!(check_server_url("http://198.19.4.1:8080/").unwrap_or_default(), "http://198.19.4.1:8080");
        assert!(check_server_url("https://works.example.net").is_ok());
        for bad in ["198.19.4.1:8080", "ftp://x", "http://x;id", "http://x $(id)", "http://x\nY", "http://x`id`", "http://x'"] {
            let e = check_server_url(bad).err().unwrap_or_else(|| panic!("{bad:?} was accepted"));
            assert_eq!(e.field(), Some("agent_server_url"), "{bad:?}");
        }
    }
}
