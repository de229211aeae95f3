//! The storage contract of capabilities, permissions, connections, workflows and their
//! runs. Same rules as [`crate::store`]: each change and its audit record in one
//! transaction; scopes applied in the query.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditDraft;
use crate::connections::ConnectionRecord;
use crate::error::Result;
use crate::model::{Page, Scope};
use crate::permissions::{Permission, PermissionFilter};
use crate::runs::{RunFilter, WorkflowRun};
use crate::workflows::Workflow;

#[async_trait]
pub trait PolicyStore: Send + Sync + 'static {
    // --- permissions: one per organization and capability ---
    /// A second permission for the same organization and capability is `Error::Conflict`.
    async fn insert_permission(&self, p: &Permission, audit: AuditDraft) -> Result<()>;
    async fn update_permission(&self, p: &Permission, audit: AuditDraft) -> Result<()>;
    /// Writes every permission given (inserting, or replacing the one of the same
    /// organization and capability) and the audit record, in one transaction.
    async fn save_permissions(&self, ps: &[Permission], audit: AuditDraft) -> Result<()>;
    async fn delete_permission(&self, id: &str, audit: AuditDraft) -> Result<()>;
    async fn get_permission(&self, id: &str) -> Result<Option<Permission>>;
    async fn get_permission_for(&self, org_id: &str, capability_id: &str) -> Result<Option<Permission>>;
    /// `Scope::Org` → that organization's; `Scope::User` → none. By capability id.
    async fn list_permissions(&self, scope: &Scope, filter: &PermissionFilter, page: Page) -> Result<Vec<Permission>>;

    // --- connections ---
    async fn insert_connection(&self, c: &ConnectionRecord, audit: AuditDraft) -> Result<()>;
    async fn update_connection(&self, c: &ConnectionRecord, audit: AuditDraft) -> Result<()>;
    async fn delete_connection(&self, id: &str, audit: AuditDraft) -> Result<()>;
    async fn get_connection(&self, id: &str) -> Result<Option<ConnectionRecord>>;
    /// `Scope::Org` → that organization's; `Scope::User` → the ones that user owns. By name.
    async fn list_connections(&self, scope: &Scope, org_id: Option<&str>, page: Page) -> Result<Vec<ConnectionRecord>>;

    // --- workflows ---
    async fn insert_workflow(&self, w: &Workflow, audit: AuditDraft) -> Result<()>;
    async fn update_workflow(&self, w: &Workflow, audit: AuditDraft) -> Result<()>;
    async fn delete_workflow(&self, id: &str, audit: AuditDraft) -> Result<()>;
    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>>;
    /// Scoped like connections. By name.
    async fn list_workflows(&self, scope: &Scope, org_id: Option<&str>, page: Page) -> Result<Vec<Workflow>>;

    // --- runs ---
    async fn insert_run(&self, run: &WorkflowRun, audit: AuditDraft) -> Result<()>;
    /// Writes the run if the stored one still has `expected_version` (the run given
    /// carries the next version); otherwise writes nothing and answers `Error::Conflict`.
    async fn update_run(&self, run: &WorkflowRun, expected_version: i64, audit: AuditDraft) -> Result<()>;
    /// Refreshes the heartbeat of a running run; no audit record, version unchanged.
    async fn touch_run(&self, id: &str, at: DateTime<Utc>) -> Result<()>;
    async fn get_run(&self, id: &str) -> Result<Option<WorkflowRun>>;
    /// Scoped by the run's organization and owner. Newest first.
    async fn list_runs(&self, scope: &Scope, filter: &RunFilter, page: Page) -> Result<Vec<WorkflowRun>>;
    /// Running runs whose heartbeat is older than `heartbeat_before`, and runs waiting
    /// for approval whose request expired by `now`; at most `limit`.
    async fn runs_to_recover(&self, heartbeat_before: DateTime<Utc>, now: DateTime<Utc>, limit: u32) -> Result<Vec<WorkflowRun>>;
}
