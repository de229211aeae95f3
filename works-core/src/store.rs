//! The storage contract. `works-store` implements it for SQLite and PostgreSQL; both
//! pass the same conformance suite.
//!
//! Contract, for every implementation:
//! - Every method that changes records takes the [`AuditDraft`] describing the change and
//!   writes the change and the sealed audit record in **one transaction**: either both are
//!   stored or neither is.
//! - [`Store::append_audit`] and every audited change assign the next `seq` and link to the
//!   previous record's hash atomically (no two records share a `seq`, even with several
//!   servers on one database), sealing the draft with [`AuditDraft::seal`].
//! - List methods apply the [`Scope`] given by the core in the query itself; the core
//!   never filters a wider result.
//! - Uniqueness clashes come back as [`Error::Conflict`] naming the field; an unreachable
//!   database as [`Error::Unavailable`]. Nothing else is interpreted.
//! - Timestamps are kept to the millisecond.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::{AuditDraft, AuditPage, AuditQuery, AuditRecord};
use crate::error::Result;
use crate::model::{ApiTokenRecord, Org, Page, Scope, SessionRecord, UserRecord};

/// Filters for listing users.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only users of this organization (intersected with the scope).
    pub org_id: Option<String>,
    pub include_disabled: bool,
}

/// The whole storage contract: this trait (organizations, users, access, audit) and
/// [`crate::fleet_store::FleetStore`] (nodes, agents, jobs).
#[async_trait]
pub trait Store:
    crate::fleet_store::FleetStore
    + crate::health::HealthStore
    + crate::alerts::AlertStore
    + crate::history::HistoryStore
    + crate::openclaw_ops::InstanceOpsStore
    + crate::hosts::AccessStore
    + crate::policy_store::PolicyStore
    + crate::schedules::ScheduleStore
    + crate::cluster::ClusterStore
    + crate::preferences::PreferenceStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is (`sqlite`, `postgres`), for readiness and diagnostics.
    fn backend(&self) -> &'static str;

    /// Answers when the database can be reached and is migrated.
    async fn ping(&self) -> Result<()>;

    // --- organizations ---
    async fn insert_org(&self, org: &Org, audit: AuditDraft) -> Result<()>;
    async fn update_org(&self, org: &Org, audit: AuditDraft) -> Result<()>;
    async fn get_org(&self, id: &str) -> Result<Option<Org>>;
    /// `Scope::Org` returns that organization only; `Scope::User` is treated like `Org`
    /// of the user's organization by the core and is not passed here.
    async fn list_orgs(&self, scope: &Scope, include_archived: bool, page: Page) -> Result<Vec<Org>>;

    // --- users ---
    async fn count_users(&self) -> Result<u64>;
    async fn insert_user(&self, user: &UserRecord, audit: AuditDraft) -> Result<()>;
    /// Writes every field of the user, including the password hash.
    async fn update_user(&self, user: &UserRecord, audit: AuditDraft) -> Result<()>;
    /// Writes the user and, in the same transaction, deletes all their sessions and
    /// revokes all their API tokens (at `at`).
    async fn update_user_and_end_access(&self, user: &UserRecord, at: DateTime<Utc>, audit: AuditDraft) -> Result<()>;
    async fn get_user(&self, id: &str) -> Result<Option<UserRecord>>;
    async fn get_user_by_username(&self, username: &str) -> Result<Option<UserRecord>>;
    async fn list_users(&self, scope: &Scope, filter: &UserFilter, page: Page) -> Result<Vec<UserRecord>>;

    // --- API tokens ---
    async fn insert_token(&self, token: &ApiTokenRecord, audit: AuditDraft) -> Result<()>;
    async fn get_token(&self, id: &str) -> Result<Option<ApiTokenRecord>>;
    async fn get_token_by_hash(&self, secret_hash: &str) -> Result<Option<ApiTokenRecord>>;
    /// Tokens of one user, newest first.
    async fn list_tokens(&self, user_id: &str, page: Page) -> Result<Vec<ApiTokenRecord>>;
    async fn revoke_token(&self, id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()>;
    /// Records use without an audit record (it is not a change of state anyone decides).
    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<()>;

    // --- sessions ---
    async fn insert_session(&self, session: &SessionRecord, audit: AuditDraft) -> Result<()>;
    async fn get_session_by_hash(&self, secret_hash: &str) -> Result<Option<SessionRecord>>;
    async fn delete_session(&self, id: &str, audit: AuditDraft) -> Result<()>;
    /// Removes what is kept only for a while (see [`PruneBefore`]), in one
    /// transaction; returns how many of each went.
    async fn prune(&self, before: &PruneBefore) -> Result<Pruned>;

    // --- sign-in throttling ---
    async fn record_login_failure(&self, username: &str, at: DateTime<Utc>) -> Result<()>;
    async fn count_login_failures(&self, username: &str, since: DateTime<Utc>) -> Result<u64>;

    // --- audit ---
    async fn append_audit(&self, draft: AuditDraft) -> Result<AuditRecord>;
    /// Newest first, honouring every filter of the query and the scope.
    async fn query_audit(&self, scope: &Scope, query: &AuditQuery, limit: u32) -> Result<AuditPage>;
    /// Records with `seq > after_seq` in ascending order, at most `limit` (for verification).
    async fn audit_chain(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRecord>>;
}

/// What housekeeping removes: rows that no check reads any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneBefore {
    /// Sessions that expired before this.
    pub sessions_expired: DateTime<Utc>,
    /// Failed sign-ins recorded before this (older ones no longer count).
    pub login_failures: DateTime<Utc>,
    /// Enrollment tokens used, or expired unused, before this.
    pub enrollment_tokens_ended: DateTime<Utc>,
}

/// How many rows housekeeping removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub login_failures: u64,
    pub enrollment_tokens: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.sessions + self.login_failures + self.enrollment_tokens
    }
}
