//! Recovery: run at server start and by a background monitor (one leader at a time
//! when several servers share a database). Work past its window fails safely with a
//! reason; safe work may retry; risky work never re-runs by itself.

use std::time::Duration as StdDuration;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::Outcome;
use crate::error::{Error, Result};
use crate::jobs::{Job, JobState, Risk};
use crate::works::Works;

/// What one recovery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryReport {
    /// Safe jobs put back in the queue for another attempt.
    pub requeued: Vec<String>,
    /// Jobs that became `timed_out`.
    pub timed_out: Vec<String>,
    /// Workflow runs failed: their server stopped while executing them, or their
    /// approval request expired.
    #[serde(default)]
    pub runs_failed: Vec<String>,
}

/// The name of the lease the recovery leader holds.
pub const RECOVERY_LEASE: &str = "recovery-monitor";

fn minutes(secs: u32) -> String {
    if secs < 120 {
        format!("{secs} seconds")
    } else {
        format!("{} minutes", secs / 60)
    }
}

/// The next state of an overdue job and why, or None if it is not overdue.
pub fn recover_job(job: &Job, now: chrono::DateTime<chrono::Utc>) -> Option<(JobState, String)> {
    match job.state {
        JobState::Claimed | JobState::Running => {
            let deadline = job.deadline_at?;
            if deadline > now {
                return None;
            }
            let window = minutes(job.timeout_secs);
            if job.risk == Risk::Safe && job.attempts < job.max_attempts {
                Some((
                    JobState::Queued,
                    format!(
                        "The agent did not report back within {window}; this read-only job was queued again (attempt {} of {} next).",
                        job.attempts + 1,
                        job.max_attempts
                    ),
                ))
            } else if job.risk == Risk::Safe {
                Some((
                    JobState::TimedOut,
                    format!("The agent did not report back within {window}, {} times. Check the node, then retry by hand.", job.attempts),
                ))
            } else {
                Some((
                    JobState::TimedOut,
                    format!(
                        "The agent did not report back within {window}. This job changes the machine, so it was not re-run automatically: check the node's state, then retry by hand if it is still needed."
                    ),
                ))
            }
        }
        JobState::Requested | JobState::AwaitingApproval | JobState::Queued if job.expires_at <= now => {
            let why = if job.state == JobState::Queued {
                "The node did not pick this job up before it expired; it may be offline. Request it again when the node is back."
            } else {
                "Nobody approved this request before it expired. Request it again if it is still needed."
            };
            Some((JobState::TimedOut, why.to_owned()))
        }
        _ => None,
    }
}

impl Works {
    /// One recovery pass over overdue work. Safe to run on several servers at once:
    /// every change is a compare-and-set on the job's state.
    pub async fn recover(&self) -> Result<RecoveryReport> {
        let now = self.now();
        let system = Actor::system();
        let mut report = RecoveryReport::default();
        loop {
            let overdue = self.store.overdue_jobs(now, 200).await?;
            let count = overdue.len();
            let mut progressed = false;
            for mut job in overdue {
                let Some((next, reason)) = recover_job(&job, now) else { continue };
                let before = job.state;
                job.state = next;
                job.reason = Some(reason.clone());
                job.updated_at = now;
                if next == JobState::Queued {
                    job.claimed_at = None;
                    job.deadline_at = None;
                    job.heartbeat_at = None;
                } else {
                    job.finished_at = Some(now);
                }
                let audit = self.draft(&system, job.org_id.clone(), "job.recover", "job", Some(&job.id), Outcome::Succeeded, reason);
                match self.store.update_job(&job, before, audit).await {
                    Ok(()) => {
                        progressed = true;
                        self.follow_job(&system, &job).await;
                        if next == JobState::Queued {
                            report.requeued.push(job.id.clone());
                        } else {
                            report.timed_out.push(job.id.clone());
                        }
                    }
                    // Someone else moved it first (the agent reported, another server recovered it).
                    Err(Error::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            if count < 200 || !progressed {
                break;
            }
        }
        if !report.requeued.is_empty() {
            self.job_signal.notify_waiters();
        }
        // Test Access attempts left running by a server that stopped end as interrupted.
        match self.recover_access_attempts().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(attempts = n, "Test Access attempts ended as interrupted"),
            Err(e) => tracing::warn!(error = %e, "could not recover Test Access attempts"),
        }
        report.runs_failed = self.recover_runs().await?;
        Ok(report)
    }

    /// Runs recovery now and then every `every`, while this process holds the recovery
    /// lease. `holder` names this server. Returns only when `stop` resolves.
    pub async fn recovery_monitor(&self, holder: String, every: StdDuration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let ttl = Duration::from_std(every * 3).unwrap_or(Duration::seconds(30));
        let mut housekept: Option<tokio::time::Instant> = None;
        loop {
            match self.store.try_lease(crate::recovery::RECOVERY_LEASE, &holder, self.now(), ttl).await {
                Ok(true) => {
                    match self.recover().await {
                        Ok(r) if !r.requeued.is_empty() || !r.timed_out.is_empty() || !r.runs_failed.is_empty() => {
                            tracing::info!(requeued = r.requeued.len(), timed_out = r.timed_out.len(), runs_failed = r.runs_failed.len(), "recovery pass")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "recovery pass failed; will try again"),
                    }
                    self.monitor_extras().await;
                    if housekept.is_none_or(|at| at.elapsed() >= HOUSEKEEPING_EVERY) {
                        housekept = Some(tokio::time::Instant::now());
                        match self.housekeeping().await {
                            Ok(p) if p.total() > 0 => tracing::info!(
                                sessions = p.sessions,
                                login_failures = p.login_failures,
                                enrollment_tokens = p.enrollment_tokens,
                                "housekeeping removed expired sessions, old failed sign-ins and ended enrollment tokens"
                            ),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "housekeeping failed; will try again"),
                        }
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not check the recovery lease; will try again"),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// How often the monitor's leader does its housekeeping.
pub const HOUSEKEEPING_EVERY: StdDuration = StdDuration::from_secs(600);

/// How long an enrollment token's row is kept after it was used or expired: a token
/// presented within that time is refused as used or expired, later as unknown.
pub const ENROLLMENT_TOKENS_KEPT_DAYS: i64 = 30;

impl Works {
    /// Removes what no check reads any more: sessions past their expiry, failed sign-ins
    /// older than the throttling window, and enrollment tokens used or expired more than
    /// [`ENROLLMENT_TOKENS_KEPT_DAYS`] ago. Every change they stood for stays in the
    /// audit log. The monitor's leader runs it every [`HOUSEKEEPING_EVERY`].
    pub async fn housekeeping(&self) -> Result<crate::store::Pruned> {
        let now = self.now();
        let before = crate::store::PruneBefore {
            sessions_expired: now,
            login_failures: now - self.config.login_window,
            enrollment_tokens_ended: now - Duration::days(ENROLLMENT_TOKENS_KEPT_DAYS),
        };
        self.store.prune(&before).await
    }

    /// What the monitor's leader does besides recovery: samples the metrics history,
    /// and alerts on changes of the health answer (when a notifier is set). Each part
    /// logs its own failure and the next pass tries again.
    async fn monitor_extras(&self) {
        if let Err(e) = self.sample_metrics().await {
            tracing::warn!(error = %e, "sampling the metrics history failed; will try again");
        }
        if let Some(notifier) = self.notifier.clone() {
            match self.alert_pass(notifier.as_ref()).await {
                Ok(p) if p.delivered + p.retrying + p.failed > 0 => {
                    tracing::info!(delivered = p.delivered, retrying = p.retrying, failed = p.failed, "alert deliveries")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "alert pass failed; will try again"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobKind;
    use chrono::{TimeZone, Utc};

    fn job(kind: JobKind, state: JobState, attempts: u32) -> Job {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        Job {
            id: "j".into(),
            node_id: "n".into(),
            org_id: None,
            kind,
            risk: kind.risk(),
            state,
            params: serde_json::json!({}),
            attempts,
            max_attempts: kind.max_attempts(),
            timeout_secs: kind.timeout().num_seconds() as u32,
            reason: None,
            approval_phrase: None,
            requested_by: "admin".into(),
            approved_by: None,
            approved_at: None,
            retry_of: None,
            result: None,
            output: None,
            created_at: t0,
            updated_at: t0,
            claimed_at: Some(t0),
            heartbeat_at: Some(t0),
            deadline_at: Some(t0 + kind.timeout()),
            expires_at: t0 + Duration::hours(24),
            finished_at: None,
        }
    }

    fn at(mins: i64) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap() + Duration::minutes(mins)
    }

    #[test]
    fn work_within_its_window_is_left_alone() {
        assert_eq!(recover_job(&job(JobKind::Restart, JobState::Running, 1), at(4)), None);
        assert_eq!(recover_job(&job(JobKind::HealthCheck, JobState::Succeeded, 1), at(600)), None);
    }

    #[test]
    fn an_overdue_safe_job_retries_until_its_limit() {
        let (state, why) = recover_job(&job(JobKind::HealthCheck, JobState::Running, 1), at(2)).unwrap();
        assert_eq!(state, JobState::Queued);
        assert!(why.contains("attempt 2 of 3"), "{why}");
        let (state, why) = recover_job(&job(JobKind::HealthCheck, JobState::Claimed, 3), at(2)).unwrap();
        assert_eq!(state, JobState::TimedOut);
        assert!(why.contains("retry by hand"), "{why}");
    }

    #[test]
    fn an_overdue_risky_job_never_reruns_by_itself() {
        for kind in [JobKind::Deploy, JobKind::Restart, JobKind::Remove, JobKind::Takeover, JobKind::AgentInstall] {
            let (state, why) = recover_job(&job(kind, JobState::Running, 1), at(60)).unwrap();
            assert_eq!(state, JobState::TimedOut, "{kind:?}");
            assert!(why.contains("not re-run automatically"), "{why}");
        }
    }

    #[test]
    fn waiting_work_expires_with_a_reason() {
        let (state, why) = recover_job(&job(JobKind::Logs, JobState::Queued, 0), at(24 * 60)).unwrap();
        assert_eq!(state, JobState::TimedOut);
        assert!(why.contains("may be offline"));
        let (_, why) = recover_job(&job(JobKind::Deploy, JobState::AwaitingApproval, 0), at(24 * 60 + 1)).unwrap();
        assert!(why.contains("Nobody approved"));
    }
}
