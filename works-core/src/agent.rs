//! The per-machine agent: enrollment, its own credential, check-in, and the work it
//! claims and reports. An agent is not a user: it is an [`AgentIdentity`], accepted only
//! by the operations in this file, and it can reach only its own node's jobs.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::{Actor, Via};
use crate::audit::{AuditDraft, Outcome};
use crate::cluster::CLAIM_POLL;
use crate::error::{Error, Result};
use crate::fleet_store::{JobWrite, JobWritten};
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
/// Most jobs claimed, or reports accepted, in one batch.
pub const MAX_CLAIM_BATCH: u32 = 100;
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

/// One report in a batch: the job it is about and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JobReportOf {
    pub job_id: String,
    pub succeeded: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub result: Option<serde_json::Value>,
    pub output: Option<String>,
    /// On failure: why, in plain English.
    pub reason: Option<String>,
}

/// The answer to one report of a batch: the job as recorded, or why the report was not
/// accepted (that job only; the others of the batch stand).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobReportAnswer {
    pub job_id: String,
    pub job: Option<Job>,
    /// Why the report was not accepted, in plain English.
    pub error: Option<String>,
}

impl JobReportAnswer {
    fn refused(job_id: &str, e: Error) -> Self {
        JobReportAnswer { job_id: job_id.to_owned(), job: None, error: Some(e.to_string()) }
    }
}

/// The job as ended by the agent's report, and the reason for the audit record.
/// Output and reason are redacted before they are stored.
fn completed(mut job: Job, report: JobReport, now: DateTime<Utc>) -> (Job, String) {
    job.state = if report.succeeded { JobState::Succeeded } else { JobState::Failed };
    job.result = report.result;
    job.output = report.output.as_deref().map(clean_output);
    job.finished_at = Some(now);
    job.updated_at = now;
    job.reason = if report.succeeded {
        None
    } else {
        Some(report.reason.as_deref().map(|r| crate::redact(r).chars().take(2000).collect::<String>()).unwrap_or_else(|| "The agent reported a failure without a reason.".into()))
    };
    (job, format!("The agent reported the job {}", if report.succeeded { "complete" } else { "failed" }))
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
        // One read: the credential must be unrevoked and its node not retired.
        self.store.get_agent(&hash_secret(secret.trim())).await?.ok_or_else(invalid)
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
        let agent = match self.checkins.known_agent(&hash, self.now()) {
            Some(agent) => agent,
            None => {
                let agent = self.authenticate_agent(secret).await?;
                self.checkins.remember_agent(&hash, &agent, self.now());
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
        Ok(self.agent_claim_many(agent, 1, wait).await?.into_iter().next())
    }

    /// Claims up to `max` (1 to [`MAX_CLAIM_BATCH`]) of the oldest queued jobs of the
    /// agent's own node in one transaction, each claim audited, waiting up to `wait` for
    /// work to arrive (long poll). Empty when none came.
    pub async fn agent_claim_many(&self, agent: &AgentIdentity, max: u32, wait: std::time::Duration) -> Result<Vec<Job>> {
        self.agent_claim_until(agent, max, wait, std::future::pending()).await
    }

    /// As [`Works::agent_claim_many`], with a wait that ends early, answering no work,
    /// when `stop` resolves (the server is stopping). Only the wait ends early: a claim
    /// being written is finished, never abandoned half-way.
    pub async fn agent_claim_until(
        &self,
        agent: &AgentIdentity,
        max: u32,
        wait: std::time::Duration,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Vec<Job>> {
        if max == 0 || max > MAX_CLAIM_BATCH {
            return Err(Error::invalid("max", format!("must be between 1 and {MAX_CLAIM_BATCH}")));
        }
        tokio::pin!(stop);
        let wait = wait.min(std::time::Duration::from_secs(MAX_CLAIM_WAIT_SECS));
        let until = tokio::time::Instant::now() + wait;
        // Registered before the first look, so work queued between a look that found
        // nothing and the wait wakes this claim at once instead of at the next poll.
        let waiter = self.job_signal.waiter(&agent.node_id);
        // A long poll looks first, without taking any write lock, as most polls find
        // nothing (on SQLite the write lock is the one writer every request queues
        // for); a claim that does not wait, or is woken by work queued for its node,
        // goes straight to the write, which is shared with the claims and reports of
        // other agents arriving at the same time.
        let mut look_first = !wait.is_zero();
        loop {
            let woken = waiter.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let worth_a_claim = !look_first || {
                self.job_signal.count_look();
                self.store.has_queued_job(&agent.node_id).await?
            };
            if worth_a_claim {
                let now = self.now();
                let who = if max == 1 { "the job" } else { "the job in a batch" };
                let audit = self.draft(&agent.as_actor(), agent.org_id.clone(), "job.claim", "job", None, Outcome::Succeeded, format!("The agent of {} picked up {who}", agent.node_name));
                let claim = JobWrite::Claim { node_id: agent.node_id.clone(), now, max, audit };
                let JobWritten::Claimed(jobs) = self.write_job(claim).await? else {
                    return Err(Error::internal("A claim was answered as a report; nothing was claimed."));
                };
                if !jobs.is_empty() {
                    return Ok(jobs);
                }
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            // Woken at once by work queued for this node on this server (or announced by
            // another). In case an announcement was lost, the server's sweep looks for
            // every waiting claim; without one, the claim looks by itself now and then.
            let swept = self.job_signal.swept();
            let nap = if swept { left } else { left.min(CLAIM_POLL) };
            tokio::select! {
                _ = &mut stop => return Ok(Vec::new()),
                r = tokio::time::timeout(nap, woken) => match r {
                    Ok(()) => look_first = false,
                    // The whole wait passed with nothing for this node.
                    Err(_) if swept => return Ok(Vec::new()),
                    Err(_) => look_first = true,
                },
            }
        }
    }

    /// The agent reports the end of several jobs at once, written in one transaction
    /// together with the claims and reports of other agents arriving at the same time
    /// (each report audited). Answers, per report and in order, the job as recorded or
    /// why the report was not accepted; a job of another node reads as unknown and the
    /// attempt is recorded. Should that shared transaction fail, each report is written
    /// on its own, and one whose own write fails answers why.
    pub async fn agent_complete_many(&self, agent: &AgentIdentity, reports: Vec<JobReportOf>) -> Result<Vec<JobReportAnswer>> {
        if reports.is_empty() || reports.len() > MAX_CLAIM_BATCH as usize {
            return Err(Error::invalid("reports", format!("must hold between 1 and {MAX_CLAIM_BATCH} reports")));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, r) in reports.iter().enumerate() {
            if validate::id("job_id", &r.job_id).is_err() {
                return Err(Error::invalid(format!("reports[{i}].job_id"), "is not a job id"));
            }
            if !seen.insert(r.job_id.as_str()) {
                return Err(Error::invalid(format!("reports[{i}].job_id"), "repeats a job already reported in this batch"));
            }
        }
        // Every report ends its job in one shared statement when the job is claimed or
        // running on this agent's node; only the others are read, to say why not.
        let now = self.now();
        let actor = agent.as_actor();
        let ends: Vec<JobWrite> = reports
            .iter()
            .map(|r| {
                let report = JobReport { succeeded: r.succeeded, result: r.result.clone(), output: r.output.clone(), reason: r.reason.clone() };
                let (end, reason) = completed(Job::ended_template(&r.job_id, &agent.node_id), report, now);
                let audit = self.draft(&actor, agent.org_id.clone(), "job.complete", "job", Some(&r.job_id), Outcome::Succeeded, reason);
                JobWrite::End { end, audit }
            })
            .collect();
        let written = self.write_jobs_together(ends).await;
        let mut answers = Vec::with_capacity(reports.len());
        for (r, done) in reports.iter().zip(written) {
            match done {
                Ok(JobWritten::Ended(Some(job))) => {
                    self.follow_job(&actor, &job).await;
                    answers.push(JobReportAnswer { job_id: job.id.clone(), job: Some(job), error: None });
                    continue;
                }
                // This report's own write failed (the others' did not): the agent may
                // send it again.
                Err(e) => {
                    answers.push(JobReportAnswer::refused(&r.job_id, e));
                    continue;
                }
                Ok(_) => {}
            }
            let refused = match self.store.get_job(&r.job_id).await? {
                Some(job) if job.node_id == agent.node_id => {
                    let why = format!("This job is {}; the report was not accepted.", job.state.label().to_lowercase());
                    self.store.append_audit(self.draft(&actor, agent.org_id.clone(), "job.complete", "job", Some(&job.id), Outcome::Rejected, why.clone())).await?;
                    Error::conflict(None, why)
                }
                _ => {
                    let why = "An agent reported on a job that is not its node's (or does not exist)";
                    self.store.append_audit(self.draft(&actor, agent.org_id.clone(), "job.complete", "job", Some(&r.job_id), Outcome::Denied, why)).await?;
                    Error::not_found("job", &r.job_id)
                }
            };
            answers.push(JobReportAnswer::refused(&r.job_id, refused));
        }
        Ok(answers)
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
        // The usual case in one statement: a claimed or running job of this node, ended.
        if let Ok(id) = validate::id("id", job_id) {
            let now = self.now();
            let template = Job::ended_template(&id, &agent.node_id);
            let (end, reason) = completed(template, report.clone(), now);
            let audit = self.draft(&agent.as_actor(), agent.org_id.clone(), "job.complete", "job", Some(&id), Outcome::Succeeded, reason);
            let JobWritten::Ended(ended) = self.write_job(JobWrite::End { end, audit }).await? else {
                return Err(Error::internal("A report was answered as a claim; the report was not recorded."));
            };
            if let Some(job) = ended {
                self.follow_job(&agent.as_actor(), &job).await;
                return Ok(job);
            }
        }
        // Otherwise the job is unknown, another node's, or not running: say which, and
        // record the attempt.
        let job = self
            .agent_transition(agent, job_id, "job.complete", &[JobState::Claimed, JobState::Running], move |job, now| {
                let (done, reason) = completed(job.clone(), report, now);
                *job = done;
                reason
            })
            .await?;
        self.follow_job(&agent.as_actor(), &job).await;
        Ok(job)
    }

    /// Since this server started: how many transactions wrote agents' one-at-a-time
    /// claims and reports, and how many of those they held.
    pub fn job_write_batches(&self) -> (u64, u64) {
        self.job_writes.counts()
    }

    /// Writes an agent's claim or report together with the others arriving at the same
    /// time, in one transaction (group commit). When a shared transaction fails, each of
    /// its writes is tried again on its own, so a failure reaches only the caller whose
    /// write caused it.
    async fn write_job(&self, write: JobWrite) -> Result<JobWritten> {
        self.write_jobs_together(vec![write]).await.pop().unwrap_or_else(|| Err(Error::internal("A job write was not answered; nothing was changed.")))
    }

    /// As [`Works::write_job`], for several writes of one call, which are written in the
    /// same transaction unless it fails. One answer per write, in order.
    async fn write_jobs_together(&self, writes: Vec<JobWrite>) -> Vec<Result<JobWritten>> {
        let store = self.store.clone();
        self.job_writes
            .submit_all(writes, move |writes| async move {
                if writes.len() > 1 {
                    match store.write_jobs(writes.clone()).await {
                        Ok(done) if done.len() == writes.len() => return done.into_iter().map(Ok).collect(),
                        Ok(_) => tracing::warn!("a shared job write answered the wrong number of results; writing each alone"),
                        Err(e) => tracing::info!(error = %e, writes = writes.len(), "a shared job write failed; writing each alone"),
                    }
                }
                let mut answers = Vec::with_capacity(writes.len());
                for write in writes {
                    let done = store
                        .write_jobs(vec![write])
                        .await
                        .and_then(|mut d| d.pop().ok_or_else(|| Error::internal("A job write was not answered; nothing was changed.")));
                    answers.push(done);
                }
                answers
            })
            .await
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
