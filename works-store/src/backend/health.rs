//! The health part of the store: the recovery lease read back, failed jobs, issue
//! acknowledgements and installation counts. Written once for both backends.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use works_core::audit::AuditDraft;
use works_core::health::{HealthAck, HealthStore, Lease, StoreCounts};
use works_core::jobs::Job;
use works_core::model::Scope;
use works_core::{Error, Result};

use super::{finish, PgStore, SqliteStore};
use crate::error::{db_error, write_error, Subject};
use crate::rows::{convert, millis, JobRow};
use crate::sql;

const GET_LEASE: &str = "SELECT name, holder, expires_at FROM leases WHERE name = $1";

const ACK_COLUMNS: &str = "issue_id, fingerprint, org_id, note, acknowledged_by, acknowledged_at";

const PUT_ACK: &str = "INSERT INTO health_acks (issue_id, fingerprint, org_id, note, acknowledged_by, acknowledged_at) \
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (issue_id) DO UPDATE SET fingerprint = excluded.fingerprint, \
    org_id = excluded.org_id, note = excluded.note, acknowledged_by = excluded.acknowledged_by, \
    acknowledged_at = excluded.acknowledged_at";

/// Failed or timed-out jobs finished at or after `$1`, newest first; the scope adds its
/// condition before the limit.
fn failed_jobs_since(scope: &Scope) -> (String, Option<String>) {
    let (cond, arg) = match scope {
        Scope::All => ("", None),
        Scope::Org(org) => (" AND org_id = $3", Some(org.clone())),
        Scope::User(_) => (" AND 1 = 0", None),
    };
    (
        format!(
            "SELECT {} FROM jobs WHERE state IN ('failed', 'timed_out') AND finished_at >= $1{cond} \
             ORDER BY finished_at DESC, id DESC LIMIT $2",
            sql::JOB_COLUMNS
        ),
        arg,
    )
}

fn time(ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| Error::internal("A stored timestamp of the health records is out of range."))
}

#[derive(sqlx::FromRow)]
struct AckRow {
    issue_id: String,
    fingerprint: String,
    org_id: Option<String>,
    note: String,
    acknowledged_by: String,
    acknowledged_at: i64,
}

impl AckRow {
    fn into_ack(self) -> Result<HealthAck> {
        Ok(HealthAck {
            acknowledged_at: time(self.acknowledged_at)?,
            issue_id: self.issue_id,
            fingerprint: self.fingerprint,
            org_id: self.org_id,
            note: self.note,
            acknowledged_by: self.acknowledged_by,
        })
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

macro_rules! health_impl {
    ($store:ty) => {
        #[async_trait]
        impl HealthStore for $store {
            #[tracing::instrument(skip_all)]
            async fn get_lease(&self, name: &str) -> Result<Option<Lease>> {
                let row: Option<(String, String, i64)> =
                    sqlx::query_as(GET_LEASE).bind(name).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(|(name, holder, expires_at)| Ok(Lease { name, holder, expires_at: time(expires_at)? })).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn failed_jobs_since(&self, scope: &Scope, since: DateTime<Utc>, limit: u32) -> Result<Vec<Job>> {
                let (text, org) = failed_jobs_since(scope);
                let mut q = sqlx::query_as::<_, JobRow>(&text).bind(millis(since)).bind(i64::from(limit));
                if let Some(org) = org {
                    q = q.bind(org);
                }
                let rows = q.fetch_all(self.reader()).await.map_err(db_error)?;
                convert(rows, JobRow::into_job)
            }

            #[tracing::instrument(skip_all)]
            async fn list_health_acks(&self, scope: &Scope) -> Result<Vec<HealthAck>> {
                let rows: Vec<AckRow> = match scope {
                    Scope::All => sqlx::query_as(&format!("SELECT {ACK_COLUMNS} FROM health_acks ORDER BY issue_id"))
                        .fetch_all(self.reader())
                        .await
                        .map_err(db_error)?,
                    Scope::Org(org) => {
                        sqlx::query_as(&format!("SELECT {ACK_COLUMNS} FROM health_acks WHERE org_id = $1 ORDER BY issue_id"))
                            .bind(org)
                            .fetch_all(self.reader())
                            .await
                            .map_err(db_error)?
                    }
                    Scope::User(_) => Vec::new(),
                };
                convert(rows, AckRow::into_ack)
            }

            #[tracing::instrument(skip_all)]
            async fn put_health_ack(&self, ack: &HealthAck, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(PUT_ACK)
                        .bind(&ack.issue_id)
                        .bind(&ack.fingerprint)
                        .bind(&ack.org_id)
                        .bind(&ack.note)
                        .bind(&ack.acknowledged_by)
                        .bind(millis(ack.acknowledged_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Other))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn store_counts(&self) -> Result<StoreCounts> {
                let one = |text: &'static str| async move {
                    let n: i64 = sqlx::query_scalar(text).fetch_one(self.reader()).await.map_err(db_error)?;
                    Ok::<u64, Error>(count(n))
                };
                let orgs = one("SELECT COUNT(*) FROM orgs").await?;
                let users = one("SELECT COUNT(*) FROM users").await?;
                let audit_records = one("SELECT COUNT(*) FROM audit_log").await?;
                let rows: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                Ok(StoreCounts {
                    orgs,
                    users,
                    audit_records,
                    jobs_by_state: rows.into_iter().map(|(s, n)| (s, count(n))).collect(),
                })
            }
        }
    };
}

health_impl!(SqliteStore);
health_impl!(PgStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_jobs_are_scoped_in_the_query() {
        let (text, arg) = failed_jobs_since(&Scope::Org("o".into()));
        assert!(text.contains("org_id = $3"), "{text}");
        assert_eq!(arg.as_deref(), Some("o"));
        let (text, arg) = failed_jobs_since(&Scope::User("u".into()));
        assert!(text.contains("1 = 0") && arg.is_none(), "{text}");
    }
}
