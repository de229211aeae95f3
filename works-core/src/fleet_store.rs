//! The storage contract for nodes, agents and jobs. Same rules as [`crate::store`]:
//! each change and its audit record in one transaction; scopes applied in the query.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::agent::{AgentCredentialRecord, AgentIdentity, EnrollmentRecord};
use crate::audit::AuditDraft;
use crate::error::Result;
use crate::jobs::{Job, JobFilter, JobState};
use crate::model::{Page, Scope};
use crate::nodes::{CheckinWrite, Container, NodeHealth, NodeRecord};

/// An audited job write made by an agent's call, written with others that arrive
/// together in one transaction ([`FleetStore::write_jobs`]).
#[derive(Debug, Clone)]
pub enum JobWrite {
    /// Claims up to `max` of the node's oldest queued jobs, as [`FleetStore::claim_jobs`].
    Claim { node_id: String, now: DateTime<Utc>, max: u32, audit: AuditDraft },
    /// Ends a claimed or running job, as [`FleetStore::end_job`].
    End { end: Job, audit: AuditDraft },
}

/// What a [`JobWrite`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum JobWritten {
    /// The jobs claimed, oldest first; empty when nothing was queued.
    Claimed(Vec<Job>),
    /// The job as ended; None when no such job was claimed or running on that node.
    Ended(Option<Job>),
}

#[async_trait]
pub trait FleetStore: crate::instances::InstanceStore + Send + Sync + 'static {
    // --- nodes ---
    async fn insert_node(&self, node: &NodeRecord, audit: AuditDraft) -> Result<()>;
    /// Writes name and timestamps (not check-in fields).
    async fn update_node(&self, node: &NodeRecord, audit: AuditDraft) -> Result<()>;
    /// Writes `retired_at` and revokes the node's agent credentials, in one transaction.
    async fn retire_node(&self, node: &NodeRecord, at: DateTime<Utc>, audit: AuditDraft) -> Result<()>;
    async fn get_node(&self, id: &str) -> Result<Option<NodeRecord>>;
    /// `Scope::Org` → that organization's nodes; `Scope::User` → none. Ordered by name.
    async fn list_nodes(&self, scope: &Scope, org_id: Option<&str>, include_retired: bool, page: Page) -> Result<Vec<NodeRecord>>;
    /// Sets `last_checkin_at` and `health`, and replaces the inventory when given. No audit
    /// record. One check-in through [`FleetStore::record_checkins`], the one write path.
    async fn record_checkin(&self, node_id: &str, at: DateTime<Utc>, health: &NodeHealth, containers: Option<&[Container]>) -> Result<()> {
        let write = CheckinWrite { node_id: node_id.to_owned(), credential_hash: None, at, health: health.clone(), containers: containers.map(<[Container]>::to_vec) };
        match self.record_checkins(std::slice::from_ref(&write)).await?.first() {
            Some(true) => Ok(()),
            _ => Err(crate::error::Error::not_found("node", node_id)),
        }
    }
    /// Records many check-ins in one transaction (group commit), each as
    /// [`FleetStore::record_checkin`] does. Answers, in order, whether each one's node
    /// exists (and, for a write with a credential hash, whether that credential is still
    /// the node's); a missing node leaves the others recorded.
    async fn record_checkins(&self, batch: &[CheckinWrite]) -> Result<Vec<bool>>;
    async fn get_inventory(&self, node_id: &str) -> Result<Option<Vec<Container>>>;

    // --- enrollment and agent credentials ---
    async fn insert_enrollment(&self, token: &EnrollmentRecord, audit: AuditDraft) -> Result<()>;
    /// Atomically marks the token with this hash used at `at` if it was unused, and
    /// returns it as it was before (so `used_at` is set when it had been used already).
    /// None when no token has this hash.
    async fn consume_enrollment(&self, secret_hash: &str, at: DateTime<Utc>) -> Result<Option<EnrollmentRecord>>;
    /// Stores a new credential, revokes the node's earlier ones and sets the node's
    /// `enrolled_at`, in one transaction.
    async fn insert_agent_credential(&self, cred: &AgentCredentialRecord, audit: AuditDraft) -> Result<()>;
    async fn get_agent_credential_by_hash(&self, secret_hash: &str) -> Result<Option<AgentCredentialRecord>>;
    /// The agent holding the credential with this hash, in one read: found only while
    /// the credential is unrevoked and its node not retired.
    async fn get_agent(&self, secret_hash: &str) -> Result<Option<AgentIdentity>>;
    async fn revoke_agent_credentials(&self, node_id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()>;

    // --- jobs ---
    async fn insert_job(&self, job: &Job, audit: AuditDraft) -> Result<()>;
    async fn get_job(&self, id: &str) -> Result<Option<Job>>;
    /// Newest first.
    async fn list_jobs(&self, scope: &Scope, filter: &JobFilter, page: Page) -> Result<Vec<Job>>;
    /// Writes every field of the job if its stored state is still `expected`; otherwise
    /// writes nothing and answers `Error::Conflict`. With the audit record, one transaction.
    async fn update_job(&self, job: &Job, expected: JobState, audit: AuditDraft) -> Result<()>;
    /// Atomically claims the oldest `queued` job of the node (PostgreSQL: `FOR UPDATE
    /// SKIP LOCKED`; SQLite: one writer transaction): state `claimed`, attempts + 1,
    /// `claimed_at` = `heartbeat_at` = now, `deadline_at` = now + its timeout, reason
    /// cleared. The draft's `target_id` is set to the job's id and the record written in
    /// the same transaction. None when nothing is queued.
    async fn claim_job(&self, node_id: &str, now: DateTime<Utc>, audit: AuditDraft) -> Result<Option<Job>> {
        Ok(self.claim_jobs(node_id, now, 1, audit).await?.into_iter().next())
    }
    /// Ends a job in one statement when it is claimed or running on `end.node_id`:
    /// writes `end`'s state, result, output, reason and finished time (also as
    /// `updated_at`), with the audit record, in one transaction, and answers the job as
    /// stored. None, writing nothing, when no such job is claimed or running there.
    async fn end_job(&self, end: &Job, audit: AuditDraft) -> Result<Option<Job>> {
        match self.write_jobs(vec![JobWrite::End { end: end.clone(), audit }]).await?.pop() {
            Some(JobWritten::Ended(job)) => Ok(job),
            _ => Err(crate::error::Error::internal("The job's end was not written; nothing was changed.")),
        }
    }
    /// Whether the node has a queued job, read without taking any write lock (for long
    /// polls that look before they claim).
    async fn has_queued_job(&self, node_id: &str) -> Result<bool>;
    /// Up to `limit` nodes that have a queued job, read without taking any write lock
    /// (to wake the long polls of those nodes' agents; see `Works::sweep_queued_work`).
    async fn nodes_with_queued_jobs(&self, limit: u32) -> Result<Vec<String>>;
    /// Claims up to `max` of the node's oldest queued jobs as [`FleetStore::claim_job`]
    /// does one, in one transaction, with one audit record per job (the draft copied,
    /// its `target_id` set to each job's id). Oldest first; empty when nothing is queued.
    async fn claim_jobs(&self, node_id: &str, now: DateTime<Utc>, max: u32, audit: AuditDraft) -> Result<Vec<Job>> {
        match self.write_jobs(vec![JobWrite::Claim { node_id: node_id.to_owned(), now, max, audit }]).await?.pop() {
            Some(JobWritten::Claimed(jobs)) => Ok(jobs),
            _ => Err(crate::error::Error::internal("The claim was not written; nothing was changed.")),
        }
    }
    /// Writes several claims and ends in one transaction, each as its own method would
    /// (one audit record per job claimed or ended); the one write path of both. Answers,
    /// in order, what each did. On an error nothing is written.
    async fn write_jobs(&self, writes: Vec<JobWrite>) -> Result<Vec<JobWritten>>;
    async fn job_heartbeat(&self, job_id: &str, at: DateTime<Utc>) -> Result<()>;
    /// Jobs that may need recovery: claimed or running with `deadline_at <= now`, and
    /// requested, awaiting approval or queued with `expires_at <= now`. Oldest first.
    async fn overdue_jobs(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Job>>;

    // --- leases ---
    /// Takes or renews the named lease for `holder` until `now + ttl` if it is free,
    /// expired, or already held by `holder`. True when `holder` holds it afterwards.
    async fn try_lease(&self, name: &str, holder: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool>;
}
