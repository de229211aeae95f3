//! The OpenClaw instances part of the store. Written once for both backends.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use works_core::audit::AuditDraft;
use works_core::instances::{Instance, InstanceFilter, InstanceState, InstanceStore};
use works_core::jobs::Job;
use works_core::model::{Page, Scope};
use works_core::{Error, Result};

use super::{finish, PgStore, SqliteStore};
use crate::error::{db_error, write_error, Subject};
use crate::sql;
use crate::rows::{convert, json_error, millis, opt_millis};

const COLUMNS: &str = "id, node_id, org_id, state, container_id, container_name, image, version, health, reasons, \
    discovered_at, updated_at, taken_over_by, taken_over_at, reason, job_id, health_detail";

/// Adds a discovered instance unless the node already has one for this container.
const INSERT_DISCOVERED: &str = "INSERT INTO instances (id, node_id, org_id, state, container_id, container_name, \
    image, version, health, reasons, discovered_at, updated_at, taken_over_by, taken_over_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
    ON CONFLICT (node_id, container_id) DO NOTHING";

/// Refreshes what the agent reports about a known container; id, state and takeover stay.
const REFRESH_DISCOVERED: &str = "UPDATE instances SET container_name = $3, image = $4, version = $5, health = $6, \
    reasons = $7, updated_at = $8 WHERE node_id = $1 AND container_id = $2";

/// Adds an instance being deployed, with its sealed gateway token.
const INSERT_DEPLOY: &str = "INSERT INTO instances (id, node_id, org_id, state, container_id, container_name, \
    image, version, health, reasons, discovered_at, updated_at, reason, job_id, gateway_token) \
    VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, NULL, $8, $9, $10, $11, $12, $13)";

const UPDATE: &str = "UPDATE instances SET state = $2, container_id = $3, container_name = $4, version = $5, \
    health = $6, reason = $7, job_id = $8, health_detail = $9, updated_at = $10 WHERE id = $1";

const GET_TOKEN: &str = "SELECT gateway_token FROM instances WHERE id = $1";

const TAKE_OVER: &str = "UPDATE instances SET state = $2, taken_over_by = $3, taken_over_at = $4, updated_at = $5 \
    WHERE id = $1 AND state = 'discovered'";

fn get_sql() -> String {
    format!("SELECT {COLUMNS} FROM instances WHERE id = $1")
}

/// The list statement and its text arguments (the limit and offset follow them).
fn list_sql(scope: &Scope, filter: &InstanceFilter) -> (String, Vec<String>) {
    let mut sql = format!("SELECT {COLUMNS} FROM instances WHERE 1 = 1");
    let mut args = Vec::new();
    match scope {
        Scope::All => {}
        Scope::Org(org) => {
            args.push(org.clone());
            sql.push_str(&format!(" AND org_id = ${}", args.len()));
        }
        // An organization user: the instances assigned to them, in their organization.
        Scope::User(user) => {
            args.push(user.clone());
            let n = args.len();
            sql.push_str(&format!(
                " AND id IN (SELECT instance_id FROM instance_assignments WHERE user_id = ${n}) \
                 AND org_id = (SELECT org_id FROM users WHERE id = ${n})"
            ));
        }
    }
    if let Some(node_id) = &filter.node_id {
        args.push(node_id.clone());
        sql.push_str(&format!(" AND node_id = ${}", args.len()));
    }
    sql.push_str(&format!(
        " ORDER BY CASE state WHEN 'managed' THEN 0 WHEN 'deploying' THEN 1 WHEN 'failed' THEN 2 WHEN 'discovered' THEN 3 ELSE 4 END, \
         container_name, id LIMIT ${} OFFSET ${}",
        args.len() + 1,
        args.len() + 2
    ));
    (sql, args)
}

/// No container yet is stored as NULL, so that any number of instances may wait for one.
fn container_id(i: &Instance) -> Option<&str> {
    Some(i.container_id.as_str()).filter(|c| !c.is_empty())
}

fn time(column: &str, ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| {
        tracing::error!(column, value = ms, "stored timestamp out of range");
        Error::internal(format!("A stored instance {column} timestamp is out of range."))
    })
}

#[derive(sqlx::FromRow)]
struct InstanceRow {
    id: String,
    node_id: String,
    org_id: Option<String>,
    state: String,
    container_id: Option<String>,
    container_name: String,
    image: String,
    version: Option<String>,
    health: Option<String>,
    reasons: String,
    discovered_at: i64,
    updated_at: i64,
    taken_over_by: Option<String>,
    taken_over_at: Option<i64>,
    reason: Option<String>,
    job_id: Option<String>,
    health_detail: Option<String>,
}

impl InstanceRow {
    fn into_instance(self) -> Result<Instance> {
        let state = InstanceState::parse(&self.state).ok_or_else(|| {
            tracing::error!(instance_id = %self.id, state = %self.state, "stored instance state unknown");
            Error::internal("A stored instance has an unknown state.")
        })?;
        // Reasons are informative: unreadable ones are shown as none rather than hiding the instance.
        let reasons = serde_json::from_str(&self.reasons).unwrap_or_else(|e| {
            tracing::warn!(instance_id = %self.id, error = %e, "stored instance reasons could not be read");
            Vec::new()
        });
        Ok(Instance {
            discovered_at: time("discovered_at", self.discovered_at)?,
            updated_at: time("updated_at", self.updated_at)?,
            taken_over_at: self.taken_over_at.map(|v| time("taken_over_at", v)).transpose()?,
            id: self.id,
            node_id: self.node_id,
            org_id: self.org_id,
            state,
            container_id: self.container_id.unwrap_or_default(),
            container_name: self.container_name,
            image: self.image,
            version: self.version,
            health: self.health,
            reasons,
            taken_over_by: self.taken_over_by,
            takeover_phrase: None,
            reason: self.reason,
            job_id: self.job_id,
            // Technical detail only: an unreadable one is shown as none.
            health_detail: self.health_detail.and_then(|d| serde_json::from_str(&d).ok()),
        })
    }
}

macro_rules! instance_impl {
    ($store:ty) => {
        #[async_trait]
        impl InstanceStore for $store {
            #[tracing::instrument(skip_all)]
            async fn record_discovered_instance(&self, i: &Instance, audit: AuditDraft) -> Result<bool> {
                let reasons = serde_json::to_string(&i.reasons).map_err(json_error("instance reasons"))?;
                let mut tx = self.begin_write().await?;
                let result = async {
                    let added = sqlx::query(INSERT_DISCOVERED)
                        .bind(&i.id)
                        .bind(&i.node_id)
                        .bind(&i.org_id)
                        .bind(i.state.as_str())
                        .bind(container_id(i))
                        .bind(&i.container_name)
                        .bind(&i.image)
                        .bind(&i.version)
                        .bind(&i.health)
                        .bind(&reasons)
                        .bind(millis(i.discovered_at))
                        .bind(millis(i.updated_at))
                        .bind(&i.taken_over_by)
                        .bind(opt_millis(i.taken_over_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Other))?
                        .rows_affected()
                        == 1;
                    if added {
                        Self::append_in(&mut tx, audit).await?;
                    } else {
                        sqlx::query(REFRESH_DISCOVERED)
                            .bind(&i.node_id)
                            .bind(container_id(i))
                            .bind(&i.container_name)
                            .bind(&i.image)
                            .bind(&i.version)
                            .bind(&i.health)
                            .bind(&reasons)
                            .bind(millis(i.updated_at))
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                    }
                    Ok(added)
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_instance(&self, id: &str) -> Result<Option<Instance>> {
                let row: Option<InstanceRow> =
                    sqlx::query_as(&get_sql()).bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(InstanceRow::into_instance).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_instances(&self, scope: &Scope, filter: &InstanceFilter, page: Page) -> Result<Vec<Instance>> {
                let (text, args) = list_sql(scope, filter);
                let mut q = sqlx::query_as::<_, InstanceRow>(&text);
                for a in args {
                    q = q.bind(a);
                }
                let rows = q
                    .bind(i64::from(page.limit))
                    .bind(i64::from(page.offset))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, InstanceRow::into_instance)
            }

            #[tracing::instrument(skip_all)]
            async fn take_over_instance(&self, i: &Instance, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(TAKE_OVER)
                        .bind(&i.id)
                        .bind(i.state.as_str())
                        .bind(&i.taken_over_by)
                        .bind(opt_millis(i.taken_over_at))
                        .bind(millis(i.updated_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::conflict(None, "This instance was changed first: it is no longer discovered. Refresh and try again."));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn insert_deploy(&self, i: &Instance, sealed_token: &str, job: &Job, audit: AuditDraft) -> Result<()> {
                let reasons = serde_json::to_string(&i.reasons).map_err(json_error("instance reasons"))?;
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(INSERT_DEPLOY)
                        .bind(&i.id)
                        .bind(&i.node_id)
                        .bind(&i.org_id)
                        .bind(i.state.as_str())
                        .bind(&i.container_name)
                        .bind(&i.image)
                        .bind(&i.version)
                        .bind(&reasons)
                        .bind(millis(i.discovered_at))
                        .bind(millis(i.updated_at))
                        .bind(&i.reason)
                        .bind(&i.job_id)
                        .bind(sealed_token)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Other))?;
                    bind_job!(sqlx::query(sql::INSERT_JOB), job)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Job { id: &job.id, node_id: &job.node_id }))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_instance_token(&self, id: &str) -> Result<Option<String>> {
                let token: Option<Option<String>> =
                    sqlx::query_scalar(GET_TOKEN).bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                Ok(token.flatten())
            }

            #[tracing::instrument(skip_all)]
            async fn update_instance(&self, i: &Instance, audit: AuditDraft) -> Result<()> {
                let detail = i.health_detail.as_ref().map(|d| d.to_string());
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(UPDATE)
                        .bind(&i.id)
                        .bind(i.state.as_str())
                        .bind(container_id(i))
                        .bind(&i.container_name)
                        .bind(&i.version)
                        .bind(&i.health)
                        .bind(&i.reason)
                        .bind(&i.job_id)
                        .bind(&detail)
                        .bind(millis(i.updated_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Other))?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("instance", &i.id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }
        }
    };
}

instance_impl!(SqliteStore);
instance_impl!(PgStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_scoped_in_the_query() {
        let (sql, args) = list_sql(&Scope::Org("o".into()), &InstanceFilter { node_id: Some("n".into()) });
        assert!(sql.contains("AND org_id = $1 AND node_id = $2"), "{sql}");
        assert!(sql.ends_with("LIMIT $3 OFFSET $4"), "{sql}");
        assert_eq!(args, vec!["o".to_owned(), "n".to_owned()]);
        let (sql, args) = list_sql(&Scope::User("u".into()), &InstanceFilter::default());
        assert!(sql.contains("FROM instance_assignments WHERE user_id = $1") && sql.ends_with("LIMIT $2 OFFSET $3"), "{sql}");
        assert_eq!(args, vec!["u".to_owned()]);
    }
}
