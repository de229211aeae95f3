//! Schedules. Written once for both backends. The record is stored whole as JSON; the
//! next and last fire time and the last outcome are kept in their own columns, which
//! win over the document, so that a fire's claim and its outcome never overwrite a
//! person's change and the reverse.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use works_core::audit::AuditDraft;
use works_core::model::{Page, Scope};
use works_core::schedules::{Schedule, ScheduleStore};
use works_core::{Error, Result};

use super::{finish, PgStore, SqliteStore};
use crate::error::db_error;
use crate::rows::{millis, opt_millis};

type Row = (String, Option<i64>, Option<i64>, Option<String>);

const COLUMNS: &str = "doc, next_fire_at, last_fire_at, last_outcome";

fn to_doc(s: &Schedule) -> Result<String> {
    serde_json::to_string(s).map_err(|e| {
        tracing::error!(error = %e, "schedule could not be written as JSON");
        Error::internal("The schedule could not be stored.")
    })
}

fn from_row((doc, next, last, outcome): Row) -> Result<Schedule> {
    let mut s: Schedule = serde_json::from_str(&doc).map_err(|e| {
        tracing::error!(error = %e, "stored schedule could not be read");
        Error::internal("A stored schedule could not be read.")
    })?;
    let at = |ms: i64| Utc.timestamp_millis_opt(ms).single();
    s.next_fire_at = next.and_then(at);
    s.last_fire_at = last.and_then(at);
    s.last_outcome = outcome;
    Ok(s)
}

/// The list query: scoped by organization (and creator, for `Scope::User`) in SQL.
fn list_sql(scope: &Scope, org_id: Option<&str>) -> (String, Vec<String>) {
    let mut args = Vec::new();
    let mut sql = format!("SELECT {COLUMNS} FROM schedules WHERE 1 = 1");
    match scope {
        Scope::All => {}
        Scope::Org(org) => {
            args.push(org.clone());
            sql.push_str(&format!(" AND org_id = ${}", args.len()));
        }
        Scope::User(id) => {
            args.push(id.clone());
            sql.push_str(&format!(" AND owner_id = ${}", args.len()));
        }
    }
    if let Some(o) = org_id {
        args.push(o.to_owned());
        sql.push_str(&format!(" AND org_id = ${}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY name, id LIMIT ${} OFFSET ${}", args.len() + 1, args.len() + 2));
    (sql, args)
}

macro_rules! schedule_impl {
    ($store:ty) => {
        #[async_trait]
        impl ScheduleStore for $store {
            #[tracing::instrument(skip_all)]
            async fn insert_schedule(&self, s: &Schedule, audit: AuditDraft) -> Result<()> {
                let doc = to_doc(s)?;
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(
                        "INSERT INTO schedules (id, org_id, owner_id, name, enabled, next_fire_at, last_fire_at, last_outcome, doc) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&s.id)
                    .bind(&s.org_id)
                    .bind(&s.owner_id)
                    .bind(&s.name)
                    .bind(s.enabled)
                    .bind(opt_millis(s.next_fire_at))
                    .bind(opt_millis(s.last_fire_at))
                    .bind(&s.last_outcome)
                    .bind(doc)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn update_schedule(&self, s: &Schedule, audit: AuditDraft) -> Result<()> {
                let doc = to_doc(s)?;
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query("UPDATE schedules SET name = $2, enabled = $3, next_fire_at = $4, doc = $5 WHERE id = $1")
                        .bind(&s.id)
                        .bind(&s.name)
                        .bind(s.enabled)
                        .bind(opt_millis(s.next_fire_at))
                        .bind(doc)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("schedule", &s.id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn delete_schedule(&self, id: &str, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query("DELETE FROM schedules WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("schedule", id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_schedule(&self, id: &str) -> Result<Option<Schedule>> {
                let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM schedules WHERE id = $1")).bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(from_row).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_schedules(&self, scope: &Scope, org_id: Option<&str>, page: Page) -> Result<Vec<Schedule>> {
                let (sql, args) = list_sql(scope, org_id);
                let mut q = sqlx::query_as::<_, Row>(&sql);
                for a in args {
                    q = q.bind(a);
                }
                let rows = q.bind(i64::from(page.limit)).bind(i64::from(page.offset)).fetch_all(self.reader()).await.map_err(db_error)?;
                rows.into_iter().map(from_row).collect()
            }

            #[tracing::instrument(skip_all)]
            async fn due_schedules(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Schedule>> {
                let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM schedules WHERE enabled = $1 AND next_fire_at <= $2 ORDER BY next_fire_at, id LIMIT $3"))
                    .bind(true)
                    .bind(millis(now))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                rows.into_iter().map(from_row).collect()
            }

            #[tracing::instrument(skip_all)]
            async fn claim_schedule_fire(&self, id: &str, expected_next: DateTime<Utc>, next: Option<DateTime<Utc>>, fired_at: DateTime<Utc>, audit: AuditDraft) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(
                        "UPDATE schedules SET next_fire_at = $2, last_fire_at = $3, last_outcome = $4 \
                         WHERE id = $1 AND next_fire_at = $5 AND enabled = $6",
                    )
                    .bind(id)
                    .bind(opt_millis(next))
                    .bind(millis(fired_at))
                    .bind("Firing.")
                    .bind(millis(expected_next))
                    .bind(true)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| true)
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn record_schedule_outcome(&self, id: &str, outcome: &str) -> Result<()> {
                sqlx::query("UPDATE schedules SET last_outcome = $2 WHERE id = $1").bind(id).bind(outcome).execute(self.writer()).await.map(|_| ()).map_err(db_error)
            }
        }
    };
}

schedule_impl!(SqliteStore);
schedule_impl!(PgStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_scoped_in_the_query() {
        let (sql, args) = list_sql(&Scope::User("u".into()), Some("o"));
        assert!(sql.contains("AND owner_id = $1 AND org_id = $2"), "{sql}");
        assert!(sql.ends_with("LIMIT $3 OFFSET $4"), "{sql}");
        assert_eq!(args, vec!["u".to_owned(), "o".to_owned()]);
    }
}
