//! The facade: one method per operation a user can do. Frontends are one call each.

use std::sync::Arc;

use chrono::Duration;

use crate::actor::Actor;
use crate::audit::{AuditDraft, Outcome};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::store::Store;

/// Tunables of the core. Defaults suit production.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
    /// Failed sign-ins of one username within `login_window` before further attempts are refused.
    pub login_max_failures: u64,
    pub login_window: Duration,
    /// When nodes become stale and offline.
    pub nodes: crate::nodes::NodeThresholds,
    /// How often agents are asked to check in.
    pub checkin_interval_secs: u64,
    /// The OpenClaw image repository deploys use (`WORKS_OPENCLAW_IMAGE`); the local
    /// one when `None`. The version is added as the tag.
    pub openclaw_repository: Option<String>,
    /// How long a running workflow run may go without a heartbeat from the server
    /// executing it before recovery fails it.
    pub run_stale_after: Duration,
    /// How many check-ins a server works on at once before it tells agents to come back
    /// later (`WORKS_CHECKIN_MAX_IN_FLIGHT`).
    pub checkin_max_in_flight: usize,
    /// The longest wait advised to an agent turned away; each is told a random number of
    /// seconds from 1 to this, so a reconnecting fleet spreads out.
    pub checkin_retry_max_secs: u64,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            session_ttl: Duration::hours(12),
            login_max_failures: 5,
            login_window: Duration::minutes(15),
            nodes: crate::nodes::NodeThresholds::default(),
            checkin_interval_secs: 30,
            openclaw_repository: None,
            run_stale_after: Duration::seconds(120),
            checkin_max_in_flight: 512,
            checkin_retry_max_secs: 15,
        }
    }
}

/// Anthropy Works, embedded. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Works {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: CoreConfig,
    /// Wakes agents long-polling for work on this server when work is queued.
    pub(crate) job_signal: Arc<crate::cluster::JobSignal>,
    /// Check-ins waiting to be written together, and how many are being taken.
    pub(crate) checkins: Arc<crate::checkins::CheckinQueue>,
    /// Agents' audited claims and reports waiting to be written together.
    pub(crate) job_writes: Arc<crate::group_commit::GroupCommit<crate::fleet_store::JobWrite, crate::fleet_store::JobWritten>>,
    /// Seals secrets kept at rest; `None` when no master key is configured.
    pub(crate) sealer: Option<crate::seal::Sealer>,
    /// Sends alert webhooks from the background monitor; `None`: alerts are recorded
    /// but not sent.
    pub(crate) notifier: Option<Arc<dyn crate::alerts::Notifier>>,
    /// Reaches hosts over SSH for Test Access; `None` when the server has no SSH adapter.
    pub(crate) access_probe: Option<Arc<dyn crate::probe::AccessProbe>>,
    /// How the server installs agents over SSH; `None` when it does not.
    pub(crate) agent_install: Option<Arc<crate::agent_install::AgentInstallConfig>>,
    /// Google Drive for live workflow steps; `None` shows demo data.
    pub(crate) drive: Option<Arc<dyn crate::live::DriveApi>>,
}

impl Works {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Works { store, clock: Arc::new(SystemClock), config: CoreConfig::default(), job_signal: Arc::default(), checkins: Arc::default(), job_writes: Arc::default(), sealer: None, notifier: None, access_probe: None, agent_install: None, drive: None }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_config(mut self, config: CoreConfig) -> Self {
        self.config = config;
        self
    }

    /// The master key secrets are sealed with (`WORKS_MASTER_KEY`).
    pub fn with_master_key(mut self, key: &crate::ops::MasterKey) -> Self {
        self.sealer = Some(crate::seal::Sealer::new(key));
        self
    }

    /// The Google Drive client live workflow steps use.
    pub fn with_drive(mut self, drive: Arc<dyn crate::live::DriveApi>) -> Self {
        self.drive = Some(drive);
        self
    }

    /// The sealer, or a plain refusal when no master key is configured.
    pub fn sealer(&self) -> Result<&crate::seal::Sealer> {
        self.sealer.as_ref().ok_or_else(|| {
            Error::unavailable(
                "No master key is configured, so secrets cannot be stored. Set WORKS_MASTER_KEY (generate one with `openssl rand -base64 32`) and restart the server.",
            )
        })
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// The current time, to the millisecond: what the stores keep, so that a record
    /// returned by an operation equals the same record read back.
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        crate::audit::truncate_to_millis(self.clock.now())
    }

    /// The store, for readiness checks and the conformance suite.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn draft(
        &self,
        actor: &Actor,
        org_id: Option<String>,
        action: &str,
        target_kind: &str,
        target_id: Option<&str>,
        outcome: Outcome,
        reason: impl Into<String>,
    ) -> AuditDraft {
        AuditDraft {
            at: self.now(),
            actor_id: actor.id.clone(),
            actor_name: actor.name.clone(),
            org_id,
            action: action.to_owned(),
            target_kind: target_kind.to_owned(),
            target_id: target_id.map(str::to_owned),
            outcome,
            reason: reason.into(),
        }
    }

    /// Runs a change. When it is refused (denied, bad input, conflict) the refusal is
    /// recorded in the audit log under the actor's own organization, with the same
    /// reason whether the target is missing or belongs to someone else.
    pub(crate) async fn change<T>(
        &self,
        actor: &Actor,
        action: &str,
        target_kind: &str,
        target_id: Option<&str>,
        op: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let result = op.await;
        if let Err(e) = &result {
            self.record_refusal(actor, action, target_kind, target_id, e, true).await;
        }
        result
    }

    /// Runs a read. A denial (not found, forbidden) is recorded; bad input is not.
    pub(crate) async fn read<T>(
        &self,
        actor: &Actor,
        action: &str,
        target_kind: &str,
        target_id: Option<&str>,
        op: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let result = op.await;
        if let Err(e) = &result {
            self.record_refusal(actor, action, target_kind, target_id, e, false).await;
        }
        result
    }

    async fn record_refusal(&self, actor: &Actor, action: &str, target_kind: &str, target_id: Option<&str>, e: &Error, rejections: bool) {
        let outcome = match e {
            Error::NotFound { .. } | Error::Forbidden { .. } => Outcome::Denied,
            Error::InvalidInput { .. } | Error::Conflict { .. } if rejections => Outcome::Rejected,
            _ => return,
        };
        let draft = self.draft(actor, actor.home_org(), action, target_kind, target_id, outcome, e.to_string());
        if let Err(audit_err) = self.store.append_audit(draft).await {
            tracing::error!(error = %audit_err, action, "could not record a refused attempt");
        }
    }
}

/// Turns "fetch limit + 1" into a page and the offset of the next one.
pub(crate) fn paged<T>(mut items: Vec<T>, page: crate::model::Page) -> crate::model::Listing<T> {
    let more = items.len() > page.limit as usize;
    items.truncate(page.limit as usize);
    crate::model::Listing { items, next_offset: more.then(|| page.offset + page.limit) }
}

/// The page the store is asked for: one more than requested, to learn whether more follow.
pub(crate) fn probe(page: crate::model::Page) -> crate::model::Page {
    crate::model::Page { offset: page.offset, limit: page.limit + 1 }
}
