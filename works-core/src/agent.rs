//! The per-machine agent: enrollment, its own credential, check-in, and the work it
//! claims and reports. An agent is not a user: it is an [`AgentIdentity`], accepted only
//! by the operations in this file, and it can reach only its own node's jobs.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::{Actor, Via};
use crate::audit::{AuditDraft, Outcome};
use crate::error::{Error, Result};
use crate::jobs::{clean_output, Job, JobState};
use crate::model::Role;
use crate::nodes::{Container, NodeHealth};
use crate::secret::{hash_secret, new_id, new_secret};
use crate::validate;
use crate::works::Works;

pub const ENROLLMENT_PREFIX: &str = "wke_";
pub const AGENT_PREFIX: &str = "wka_";
/// How long an enrollment token can be used.
pub const ENROLLMENT_TTL_MINUTES: i64 = 30;
/// Longest long-poll an agent may ask for.
pub const MAX_CLAIM_WAIT_SECS: u64 = 30;
/// Most containers accepted in one inventory.
pub const MAX_CONTAINERS: usize = 2000;

/// A one-time enrollment token as stored (by hash).
#[derive(Debug, Clone)]
pub struct EnrollmentRecord {
    pub id: String,
    pub node_id: String,
    pub org_id: Option<String>,
    pub secret_hash: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A freshly made enrollment token: shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollmentToken {
    /// Give to `works agent enroll --token`. Single use; shown only now.
    pub token: String,
    pub node_id: String,
    pub expires_at: DateTime<Utc>,
}

/// An agent credential as stored (by hash).
#[derive(Debug, Clone)]
pub struct AgentCredentialRecord {
    pub id: String,
    pub node_id: String,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub token: String,
    /// The machine's own name for itself, for the record.
    pub hostname: Option<String>,
    pub agent_version: Option<String>,
}

/// What enrollment gives the agent: its own credential, shown once, stored on the
/// machine with mode 0600 and only as a hash on the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentCredential {
    pub node_id: String,
    pub credential: String,
}

/// The authenticated agent of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    pub node_id: String,
    pub node_name: String,
    pub org_id: Option<String>,
    pub credential_id: String,
}

impl AgentIdentity {
    pub(crate) fn as_actor(&self) -> Actor {
        Actor {
            id: format!("agent:{}", self.node_id),
            name: format!("agent of {}", self.node_name),
            role: Role::OrgUser,
            org_id: self.org_id.clone(),
            via: Via::System,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    pub health: NodeHealth,
    /// The full container inventory; omitted when unchanged since the last check-in.
    pub containers: Option<Vec<Container>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckInReply {
    /// Seconds until the next check-in (before jitter).
    pub next_checkin_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JobReport {
    pub succeeded: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub result: Option<serde_json::Value>,
    pub output: Option<String>,
    /// On failure: why, in plain English.
    pub reason: Option<String>,
}

fn invalid_agent_credential() -> Error {
    Error::unauthenticated("This agent credential is not valid or was revoked. Enroll the agent again.")
}

impl Works {
    /// Makes a one-time enrollment token for a node (short-lived, single use, bound to
    /// that node and its organization).
    pub async fn enrollment_token_create(&self, actor: &Actor, node_id: &str) -> Result<EnrollmentToken> {
        self.change(actor, "node.enrollment_token", "node", Some(node_id), async {
            let node = self.visible_node(actor, node_id).await?;
            access::require_node_manager(actor, node.org_id.as_deref())?;
            if node.retired_at.is_some() {
                return Err(Error::conflict(None, "This node is retired; it cannot enroll an agent."));
            }
            let now = self.now();
            let secret = new_secret(ENROLLMENT_PREFIX);
            let record = EnrollmentRecord {
                id: new_id(),
                node_id: node.id.clone(),
                org_id: node.org_id.clone(),
                secret_hash: hash_secret(&secret),
                created_by: actor.name.clone(),
                created_at: now,
                expires_at: now + Duration::minutes(ENROLLMENT_TTL_MINUTES),
                used_at: None,
            };
            let audit = self.draft(
                actor,
                node.org_id.clone(),
                "node.enrollment_token",
                "node",
                Some(&node.id),
                Outcome::Succeeded,
                format!("Made a one-time enrollment token for node {}, valid {ENROLLMENT_TTL_MINUTES} minutes", node.name),
            );
            self.store.insert_enrollment(&record, audit).await?;
            Ok(EnrollmentToken { token: secret, node_id: node.id, expires_at: crate::audit::truncate_to_millis(record.expires_at) })
        })
        .await
    }

    /// Exchanges an enrollment token for the agent's own credential. A used, expired or
    /// unknown token is refused and recorded.
    pub async fn agent_enroll(&self, input: EnrollRequest) -> Result<AgentCredential> {
        let now = self.now();
        let refused = || Error::unauthenticated("This enrollment token is not valid: it is unknown, expired or already used. Ask an admin for a new one.");
        let token = input.token.trim();
        if !token.starts_with(ENROLLMENT_PREFIX) {
            return Err(refused());
        }
        // Check the request before the token is spent, so a bad field does not burn it.
        let host = input.hostname.as_deref().map(|h| validate::name("hostname", h)).transpose()?;
        let system = Actor::system();
        let record = match self.store.consume_enrollment(&hash_secret(token), now).await? {
            Some(r) => r,
            None => {
                self.store.append_audit(self.draft(&system, None, "agent.enroll", "node", None, Outcome::Denied, "An unknown enrollment token was presented")).await?;
                return Err(refused());
            }
        };
        let deny = |why: &str| self.draft(&system, record.org_id.clone(), "agent.enroll", "node", Some(&record.node_id), Outcome::Denied, why.to_owned());
        if record.used_at.is_some() {
            self.store.append_audit(deny("A used enrollment token was presented again (replay refused)")).await?;
            return Err(refused());
        }
        if record.expires_at <= now {
            self.store.append_audit(deny("An expired enrollment token was presented")).await?;
            return Err(refused());
        }
        let node = match self.store.get_node(&record.node_id).await? {
            Some(n) if n.retired_at.is_none() => n,
            _ => {
                self.store.append_audit(deny("The node of this enrollment token is retired")).await?;
                return Err(refused());
            }
        };
        let secret = new_secret(AGENT_PREFIX);
        let cred = AgentCredentialRecord { id: new_id(), node_id: node.id.clone(), secret_hash: hash_secret(&secret), created_at: now, revoked_at: None };
        let audit = AuditDraft {
            at: now,
            actor_id: format!("agent:{}", node.id),
            actor_name: format!("agent of {}", node.name),
            org_id: node.org_id.clone(),
            action: "agent.enroll".into(),
            target_kind: "node".into(),
            target_id: Some(node.id.clone()),
            outcome: Outcome::Succeeded,
            reason: format!(
                "The agent enrolled{}; earlier credentials of this node were revoked",
                host.map(|h| format!(" from host {h}")).unwrap_or_default()
            ),
        };
        self.store.insert_agent_credential(&cred, audit).await?;
        Ok(AgentCredential { node_id: node.id, credential: secret })
    }

    /// Resolves an agent credential. Revoked credentials and retired nodes are refused.
    pub async fn authenticate_agent(&self, secret: &str) -> Result<AgentIdentity> {
        let invalid = invalid_agent_credential;
        if !secret.starts_with(AGENT_PREFIX) {
            return Err(invalid());
        }
        let cred = self.store.get_agent_credential_by_hash(&hash_secret(secret.trim())).await?.ok_or_else(invalid)?;
        if cred.revoked_at.is_some() {
            return Err(invalid());
        }
        let node = self.store.get_node(&cred.node_id).await?.ok_or_else(invalid)?;
        if node.retired_at.is_some() {
            return Err(invalid());
        }
        Ok(AgentIdentity { node_id: node.id, node_name: node.name, org_id: node.org_id, credential_id: cred.id })
    }

    /// Cuts a node's agent off: its credential stops working at its next call.
    pub async fn agent_revoke(&self, actor: &Actor, node_id: &str) -> Result<()> {
        self.change(actor, "agent.revoke", "node", Some(node_id), async {
            let node = self.visible_node(actor, node_id).await?;
            access::require_node_manager(actor, node.org_id.as_deref())?;
            let audit = self.draft(actor, node.org_id.clone(), "agent.revoke", "node", Some(&node.id), Outcome::Succeeded, format!("Revoked the agent credential of node {}", node.name));
            self.store.revoke_agent_credentials(&node.id, self.now(), audit).await
        })
        .await
    }

    /// Records a check-in: health, and the inventory when it changed.
    pub async fn agent_checkin(&self, agent: &AgentIdentity, input: CheckIn) -> Result<CheckInReply> {
        self.record_checkin_of(agent, input, None).await
    }

    /// Records a check-in presented with the agent's credential (the HTTP route). A
    /// credential this server has resolved before is not looked up again: the write of
    /// the check-in is itself the check that it is still the node's and unrevoked and the
    /// node not retired, so a revoked credential is refused at its next check-in,
    /// whichever server revoked it.
    pub async fn agent_checkin_with_credential(&self, secret: &str, input: CheckIn) -> Result<CheckInReply> {
        let secret = secret.trim();
        if !secret.starts_with(AGENT_PREFIX) {
            return Err(invalid_agent_credential());
        }
        let hash = hash_secret(secret);
        let agent = match self.checkins.known_agent(&hash) {
            Some(agent) => agent,
            None => {
                let agent = self.authenticate_agent(secret).await?;
                self.checkins.remember_agent(&hash, &agent);
                agent
            }
        };
        let answer = self.record_checkin_of(&agent, input, Some(hash.clone())).await;
        if matches!(answer, Err(Error::Unauthenticated { .. })) {
            self.checkins.forget_agent(&hash);
        }
        answer
    }

    async fn record_checkin_of(&self, agent: &AgentIdentity, input: CheckIn, credential_hash: Option<String>) -> Result<CheckInReply> {
        if let Some(c) = &input.containers {
            if c.len() > MAX_CONTAINERS {
                return Err(Error::invalid("containers", format!("must list at most {MAX_CONTAINERS} containers")));
            }
        }
        if input.health.agent_version.len() > 100 {
            return Err(Error::invalid("health.agent_version", "must be at most 100 characters"));
        }
        let checked = credential_hash.is_some();
        let write = crate::nodes::CheckinWrite {
            node_id: agent.node_id.clone(),
            credential_hash,
            at: self.now(),
            health: input.health,
            containers: input.containers.clone(),
        };
        if !self.checkins.record(&self.store, write).await? {
            return Err(if checked { invalid_agent_credential() } else { Error::not_found("node", &agent.node_id) });
        }
        if let Some(containers) = &input.containers {
            self.discover_instances(agent, containers).await?;
        }
        Ok(CheckInReply { next_checkin_secs: self.config.checkin_interval_secs })
    }

    /// Claims the oldest queued job of the agent's own node, waiting up to `wait` for one
    /// to arrive (long poll). Atomic: no two agents or servers get the same job.
    pub async fn agent_claim(&self, agent: &AgentIdentity, wait: std::time::Duration) -> Result<Option<Job>> {
        let wait = wait.min(std::time::Duration::from_secs(MAX_CLAIM_WAIT_SECS));
        let until = tokio::time::Instant::now() + wait;
        loop {
            let now = self.now();
            let audit = self.draft(&agent.as_actor(), agent.org_id.clone(), "job.claim", "job", None, Outcome::Succeeded, format!("The agent of {} picked up the job", agent.node_name));
            if let Some(job) = self.store.claim_job(&agent.node_id, now, audit).await? {
                return Ok(Some(job));
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // Woken at once by work requested on this server; polled often enough that
            // work requested on another server is picked up within a second.
            let nap = left.min(std::time::Duration::from_millis(500));
            let _ = tokio::time::timeout(nap, self.job_signal.notified()).await;
        }
    }

    /// The agent starts a claimed job.
    pub async fn agent_job_start(&self, agent: &AgentIdentity, job_id: &str) -> Result<Job> {
        self.agent_transition(agent, job_id, "job.start", &[JobState::Claimed], |job, now| {
            job.state = JobState::Running;
            job.heartbeat_at = Some(now);
            "The agent started the job".to_owned()
        })
        .await
    }

    /// The agent says it is still working on a job. A job that was cancelled or timed
    /// out answers with a conflict, telling the agent to stop.
    pub async fn agent_job_heartbeat(&self, agent: &AgentIdentity, job_id: &str) -> Result<Job> {
        let job = self.agent_job(agent, job_id, "job.heartbeat").await?;
        if !matches!(job.state, JobState::Claimed | JobState::Running) {
            return Err(Error::conflict(None, format!("This job is {}; stop working on it.", job.state.label().to_lowercase())));
        }
        self.store.job_heartbeat(&job.id, self.now()).await?;
        Ok(job)
    }

    /// The agent reports the end of a job. Output is redacted before it is stored.
    pub async fn agent_job_complete(&self, agent: &AgentIdentity, job_id: &str, report: JobReport) -> Result<Job> {
        let output = report.output.as_deref().map(clean_output);
        let reason = report.reason.as_deref().map(|r| crate::redact(r).chars().take(2000).collect::<String>());
        let job = self.agent_transition(agent, job_id, "job.complete", &[JobState::Claimed, JobState::Running], move |job, now| {
            job.state = if report.succeeded { JobState::Succeeded } else { JobState::Failed };
            job.result = report.result.clone();
            job.output = output.clone();
            job.finished_at = Some(now);
            job.reason = if report.succeeded { None } else { Some(reason.clone().unwrap_or_else(|| "The agent reported a failure without a reason.".into())) };
            format!("The agent reported the job {}", if report.succeeded { "complete" } else { "failed" })
        })
        .await?;
        self.follow_job(&agent.as_actor(), &job).await;
        Ok(job)
    }

    pub(crate) async fn agent_job(&self, agent: &AgentIdentity, job_id: &str, action: &str) -> Result<Job> {
        let not_found = || Error::not_found("job", job_id);
        let found = match validate::id("id", job_id) {
            Ok(id) => self.store.get_job(&id).await?,
            Err(_) => None,
        };
        match found {
            Some(j) if j.node_id == agent.node_id => Ok(j),
            _ => {
                let draft = self.draft(&agent.as_actor(), agent.org_id.clone(), action, "job", Some(job_id), Outcome::Denied, "An agent asked for a job that is not its node's (or does not exist)");
                self.store.append_audit(draft).await?;
                Err(not_found())
            }
        }
    }

    async fn agent_transition(
        &self,
        agent: &AgentIdentity,
        job_id: &str,
        action: &str,
        from: &[JobState],
        apply: impl FnOnce(&mut Job, DateTime<Utc>) -> String,
    ) -> Result<Job> {
        let mut job = self.agent_job(agent, job_id, action).await?;
        if !from.contains(&job.state) {
            let why = format!("This job is {}; the report was not accepted.", job.state.label().to_lowercase());
            let draft = self.draft(&agent.as_actor(), agent.org_id.clone(), action, "job", Some(&job.id), Outcome::Rejected, why.clone());
            self.store.append_audit(draft).await?;
            return Err(Error::conflict(None, why));
        }
        let before = job.state;
        let now = self.now();
        let reason = apply(&mut job, now);
        job.updated_at = now;
        let audit = self.draft(&agent.as_actor(), agent.org_id.clone(), action, "job", Some(&job.id), Outcome::Succeeded, reason);
        self.store.update_job(&job, before, audit).await?;
        Ok(job)
    }
}
