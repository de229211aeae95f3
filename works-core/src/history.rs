//! Metrics history: the health answer and fleet counts (organizations, nodes by status,
//! jobs by state, OpenClaw instances by health), sampled by the background monitor
//! every [`SAMPLE_EVERY_SECS`] seconds and kept for [`RETENTION_DAYS`] days.
//!
//! One sample per moment: several servers sampling at once store one of them (the
//! sample time is the key) and the monitor only samples when the newest stored sample
//! is older than the interval. Reading the history is for MSP roles: it is the whole
//! installation's.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::health::HealthState;
use crate::instances::{Instance, InstanceFilter};
use crate::jobs::JobState;
use crate::model::{Page, Scope};
use crate::works::Works;

/// How often the monitor samples.
pub const SAMPLE_EVERY_SECS: i64 = 60;
/// How long samples are kept.
pub const RETENTION_DAYS: i64 = 7;
/// The longest window one read may ask for, in hours.
pub const MAX_HOURS: u32 = 24 * 7;
/// The window read when none is asked for, in hours.
pub const DEFAULT_HOURS: u32 = 24;

/// Counts of the fleet at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FleetCounts {
    pub orgs: u64,
    /// Current (unacknowledged) issues of the health answer.
    pub issues: u64,
    /// Nodes in service by status: `online`, `stale`, `offline`.
    pub nodes: BTreeMap<String, u64>,
    /// Jobs by state.
    pub jobs: BTreeMap<String, u64>,
    /// OpenClaw instances by health: `healthy`, `unhealthy`, `missing`, `unknown`.
    pub instances: BTreeMap<String, u64>,
}

/// One sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricSample {
    pub at: DateTime<Utc>,
    pub state: HealthState,
    pub counts: FleetCounts,
}

/// A window of the history, oldest sample first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricHistory {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// How often samples are taken, in seconds.
    pub sample_every_secs: i64,
    /// How long samples are kept, in days.
    pub retention_days: i64,
    pub samples: Vec<MetricSample>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// How many hours back, 1 to 168 (default 24).
    pub hours: Option<u32>,
}

/// The storage contract of the history. Samples are bookkeeping of the system, not
/// changes anyone decides: no audit record.
#[async_trait]
pub trait HistoryStore: Send + Sync + 'static {
    /// Stores the sample unless one with the same time exists. True when stored.
    async fn insert_sample(&self, sample: &MetricSample) -> Result<bool>;
    /// Samples with `from <= at <= to`, oldest first, at most `limit`.
    async fn list_samples(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: u32) -> Result<Vec<MetricSample>>;
    /// The time of the newest sample.
    async fn last_sample_at(&self) -> Result<Option<DateTime<Utc>>>;
    /// Removes samples taken before `before`; how many.
    async fn prune_samples(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// How an instance's last reported health counts: `healthy`, `unhealthy`, `missing`
/// (its container is gone from the node's inventory) or `unknown` (never reported).
pub fn instance_condition(health: Option<&str>) -> &'static str {
    let Some(h) = health.map(str::trim).filter(|h| !h.is_empty()) else { return "unknown" };
    let h = h.to_ascii_lowercase();
    if h.starts_with("missing") {
        "missing"
    } else if h.starts_with("healthy") {
        // A deployed instance's last health check: "healthy" or "healthy, not ready".
        "healthy"
    } else if h == "unknown" {
        "unknown"
    } else if h.contains("unhealthy") || !h.starts_with("running") {
        "unhealthy"
    } else {
        "healthy"
    }
}

impl Works {
    /// Every instance of the scope.
    pub(crate) async fn instances_in_scope(&self, scope: &Scope) -> Result<Vec<Instance>> {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let page = Page { offset, limit: Page::MAX_LIMIT };
            let batch = self.store.list_instances(scope, &InstanceFilter::default(), page).await?;
            let n = batch.len();
            all.extend(batch);
            if n < Page::MAX_LIMIT as usize {
                return Ok(all);
            }
            offset += Page::MAX_LIMIT;
        }
    }

    /// The sample of this moment (not stored).
    pub async fn current_sample(&self) -> Result<MetricSample> {
        let system = Actor::system();
        let report = self.health(&system).await?;
        let metrics = self.metrics(&system).await?;
        let mut instances: BTreeMap<String, u64> =
            ["healthy", "unhealthy", "missing", "unknown"].iter().map(|k| ((*k).to_owned(), 0)).collect();
        for i in self.instances_in_scope(&Scope::All).await? {
            *instances.entry(instance_condition(i.health.as_deref()).to_owned()).or_default() += 1;
        }
        let jobs = JobState::ALL
            .iter()
            .map(|s| {
                let n = metrics.counts.jobs_by_state.iter().find(|(name, _)| name == s.as_str()).map(|(_, n)| *n).unwrap_or(0);
                (s.as_str().to_owned(), n)
            })
            .collect();
        Ok(MetricSample {
            at: self.now(),
            state: report.state,
            counts: FleetCounts {
                orgs: metrics.counts.orgs,
                issues: report.issues.len() as u64,
                nodes: metrics.nodes_by_status.into_iter().collect(),
                jobs,
                instances,
            },
        })
    }

    /// Takes and stores a sample when the newest one is at least the interval old, and
    /// removes samples past the retention. The sample stored, if any. Run by the
    /// background monitor.
    pub async fn sample_metrics(&self) -> Result<Option<MetricSample>> {
        let now = self.now();
        if let Some(last) = self.store.last_sample_at().await? {
            if now - last < Duration::seconds(SAMPLE_EVERY_SECS) {
                return Ok(None);
            }
        }
        let sample = self.current_sample().await?;
        let stored = self.store.insert_sample(&sample).await?;
        let pruned = self.store.prune_samples(now - Duration::days(RETENTION_DAYS)).await?;
        if pruned > 0 {
            tracing::debug!(pruned, "removed metric samples past their retention");
        }
        Ok(stored.then_some(sample))
    }

    /// The history of the last `hours` (default 24, at most 168). MSP roles only.
    pub async fn metrics_history(&self, actor: &Actor, query: HistoryQuery) -> Result<MetricHistory> {
        self.read(actor, "metrics.history", "metrics", None, async {
            access::require_msp(actor, "read the installation's metrics history")?;
            let hours = query.hours.unwrap_or(DEFAULT_HOURS);
            if hours == 0 || hours > MAX_HOURS {
                return Err(Error::invalid("hours", format!("must be from 1 to {MAX_HOURS}")));
            }
            let to = self.now();
            let from = to - Duration::hours(i64::from(hours));
            // One sample a minute for a week is about 10,000.
            let samples = self.store.list_samples(from, to, 20_000).await?;
            Ok(MetricHistory { from, to, sample_every_secs: SAMPLE_EVERY_SECS, retention_days: RETENTION_DAYS, samples })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_health_is_classified() {
        assert_eq!(instance_condition(None), "unknown");
        assert_eq!(instance_condition(Some("running")), "healthy");
        // A deployed instance's last health check.
        assert_eq!(instance_condition(Some("healthy")), "healthy");
        assert_eq!(instance_condition(Some("healthy, not ready")), "healthy");
        assert_eq!(instance_condition(Some("unhealthy")), "unhealthy");
        assert_eq!(instance_condition(Some("unknown")), "unknown");
        assert_eq!(instance_condition(Some("running, healthy")), "healthy");
        assert_eq!(instance_condition(Some("running, starting")), "healthy");
        assert_eq!(instance_condition(Some("running, unhealthy")), "unhealthy");
        assert_eq!(instance_condition(Some("exited")), "unhealthy");
        assert_eq!(instance_condition(Some(crate::instances::MISSING)), "missing");
    }
}
