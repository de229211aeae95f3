//! Permissions, connections, workflows and workflow runs. Written once for both
//! backends. Each record is stored whole as JSON beside the columns queries use.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::error::ErrorKind;
use works_core::audit::AuditDraft;
use works_core::connections::ConnectionRecord;
use works_core::model::{Page, Scope};
use works_core::permissions::{Permission, PermissionFilter};
use works_core::policy_store::PolicyStore;
use works_core::runs::{RunFilter, RunState, WorkflowRun};
use works_core::workflows::Workflow;
use works_core::{Error, Result};

use super::{finish, PgStore, SqliteStore};
use crate::error::db_error;
use crate::rows::{millis, opt_millis};

fn to_doc<T: Serialize>(what: &'static str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| {
        tracing::error!(what, error = %e, "record could not be written as JSON");
        Error::internal(format!("The {what} could not be stored."))
    })
}

fn from_doc<T: DeserializeOwned>(what: &'static str, doc: &str) -> Result<T> {
    serde_json::from_str(doc).map_err(|e| {
        tracing::error!(what, error = %e, "stored record could not be read");
        Error::internal(format!("A stored {what} could not be read."))
    })
}

fn unique(e: sqlx::Error, clash: impl FnOnce() -> Error) -> Error {
    if e.as_database_error().map(|d| d.kind()) == Some(ErrorKind::UniqueViolation) {
        return clash();
    }
    db_error(e)
}

/// A WHERE clause for a scope over columns `org_id` (and `owner_id` for `Scope::User`,
/// or nothing when the kind has no owner), with its text arguments.
fn scope_sql(scope: &Scope, owned: bool, args: &mut Vec<String>) -> String {
    match scope {
        Scope::All => String::new(),
        Scope::Org(org) => {
            args.push(org.clone());
            format!(" AND org_id = ${}", args.len())
        }
        Scope::User(id) if owned => {
            args.push(id.clone());
            format!(" AND owner_id = ${}", args.len())
        }
        Scope::User(_) => " AND 1 = 0".to_owned(),
    }
}

fn list_sql(table: &str, scope: &Scope, owned: bool, filters: &[(&str, Option<&str>)], order: &str) -> (String, Vec<String>) {
    let mut args = Vec::new();
    let cols = if table == "connections" { "doc, sealed_credential" } else { "doc" };
    let mut sql = format!("SELECT {cols} FROM {table} WHERE 1 = 1");
    sql.push_str(&scope_sql(scope, owned, &mut args));
    for (col, value) in filters {
        if let Some(v) = value {
            args.push((*v).to_owned());
            sql.push_str(&format!(" AND {col} = ${}", args.len()));
        }
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT ${} OFFSET ${}", args.len() + 1, args.len() + 2));
    (sql, args)
}

fn time_ms(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

fn run_from(doc: &str, heartbeat: Option<i64>) -> Result<WorkflowRun> {
    let mut run: WorkflowRun = from_doc("workflow run", doc)?;
    // The heartbeat column is refreshed alone while a step executes.
    if let Some(h) = heartbeat.and_then(time_ms) {
        run.heartbeat_at = Some(h);
    }
    Ok(run)
}

const INSERT_PERMISSION: &str = "INSERT INTO capability_permissions (id, org_id, capability_id, doc) VALUES ($1, $2, $3, $4)";
const UPSERT_PERMISSION: &str = "INSERT INTO capability_permissions (id, org_id, capability_id, doc) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (org_id, capability_id) DO UPDATE SET doc = excluded.doc";
const INSERT_RUN: &str = "INSERT INTO workflow_runs (id, workflow_id, org_id, owner_id, state, version, heartbeat_at, approval_expires_at, created_at, doc) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const UPDATE_RUN: &str = "UPDATE workflow_runs SET state = $2, version = $3, heartbeat_at = $4, approval_expires_at = $5, doc = $6 \
    WHERE id = $1 AND version = $7";
const RUNS_TO_RECOVER: &str = "SELECT doc, heartbeat_at FROM workflow_runs WHERE (state = 'running' AND heartbeat_at < $1) \
    OR (state = 'awaiting_approval' AND approval_expires_at <= $2) ORDER BY created_at LIMIT $3";

macro_rules! policy_impl {
    ($store:ty) => {
        impl $store {
            async fn write_one(&self, sql: &str, binds: Vec<Option<String>>, missing: Option<Error>, clash: Option<Error>, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let mut q = sqlx::query(sql);
                    for b in binds {
                        q = q.bind(b);
                    }
                    let done = q.execute(&mut *tx).await.map_err(|e| match clash.clone() {
                        Some(c) => unique(e, || c),
                        None => db_error(e),
                    })?;
                    if let Some(m) = missing {
                        if done.rows_affected() == 0 {
                            return Err(m);
                        }
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            async fn docs(&self, sql: &str, args: Vec<String>, page: Page) -> Result<Vec<(String, Option<String>)>> {
                let mut q = sqlx::query_as::<_, (String,)>(sql);
                for a in args {
                    q = q.bind(a);
                }
                let rows = q.bind(i64::from(page.limit)).bind(i64::from(page.offset)).fetch_all(self.reader()).await.map_err(db_error)?;
                Ok(rows.into_iter().map(|(d,)| (d, None)).collect())
            }
        }

        #[async_trait]
        impl PolicyStore for $store {
            #[tracing::instrument(skip_all)]
            async fn insert_permission(&self, p: &Permission, audit: AuditDraft) -> Result<()> {
                let doc = to_doc("permission", p)?;
                let clash = Error::conflict(Some("capability_id"), "The organization already has a permission for this capability; edit that one instead.");
                self.write_one(INSERT_PERMISSION, vec![Some(p.id.clone()), Some(p.org_id.clone()), Some(p.capability_id.clone()), Some(doc)], None, Some(clash), audit).await
            }

            #[tracing::instrument(skip_all)]
            async fn update_permission(&self, p: &Permission, audit: AuditDraft) -> Result<()> {
                let doc = to_doc("permission", p)?;
                self.write_one("UPDATE capability_permissions SET doc = $2 WHERE id = $1", vec![Some(p.id.clone()), Some(doc)], Some(Error::not_found("permission", &p.id)), None, audit).await
            }

            #[tracing::instrument(skip_all)]
            async fn save_permissions(&self, ps: &[Permission], audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    for p in ps {
                        let doc = to_doc("permission", p)?;
                        sqlx::query(UPSERT_PERMISSION).bind(&p.id).bind(&p.org_id).bind(&p.capability_id).bind(doc).execute(&mut *tx).await.map_err(db_error)?;
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn delete_permission(&self, id: &str, audit: AuditDraft) -> Result<()> {
                self.write_one("DELETE FROM capability_permissions WHERE id = $1", vec![Some(id.to_owned())], Some(Error::not_found("permission", id)), None, audit).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_permission(&self, id: &str) -> Result<Option<Permission>> {
                let row: Option<(String,)> = sqlx::query_as("SELECT doc FROM capability_permissions WHERE id = $1").bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(|(d,)| from_doc("permission", &d)).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn get_permission_for(&self, org_id: &str, capability_id: &str) -> Result<Option<Permission>> {
                let row: Option<(String,)> = sqlx::query_as("SELECT doc FROM capability_permissions WHERE org_id = $1 AND capability_id = $2")
                    .bind(org_id)
                    .bind(capability_id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(|(d,)| from_doc("permission", &d)).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_permissions(&self, scope: &Scope, filter: &PermissionFilter, page: Page) -> Result<Vec<Permission>> {
                let (sql, args) = list_sql(
                    "capability_permissions",
                    scope,
                    false,
                    &[("org_id", filter.org_id.as_deref()), ("capability_id", filter.capability_id.as_deref())],
                    "org_id, capability_id",
                );
                self.docs(&sql, args, page).await?.into_iter().map(|(d, _)| from_doc("permission", &d)).collect()
            }

            #[tracing::instrument(skip_all)]
            async fn insert_connection(&self, c: &ConnectionRecord, audit: AuditDraft) -> Result<()> {
                let x = &c.connection;
                let doc = to_doc("connection", x)?;
                self.write_one(
                    "INSERT INTO connections (id, org_id, owner_id, name, doc, sealed_credential) VALUES ($1, $2, $3, $4, $5, $6)",
                    vec![Some(x.id.clone()), Some(x.org_id.clone()), Some(x.owner_id.clone()), Some(x.name.clone()), Some(doc), c.sealed_credential.clone()],
                    None,
                    None,
                    audit,
                )
                .await
            }

            #[tracing::instrument(skip_all)]
            async fn update_connection(&self, c: &ConnectionRecord, audit: AuditDraft) -> Result<()> {
                let x = &c.connection;
                let doc = to_doc("connection", x)?;
                self.write_one(
                    "UPDATE connections SET name = $2, doc = $3, sealed_credential = $4 WHERE id = $1",
                    vec![Some(x.id.clone()), Some(x.name.clone()), Some(doc), c.sealed_credential.clone()],
                    Some(Error::not_found("connection", &x.id)),
                    None,
                    audit,
                )
                .await
            }

            #[tracing::instrument(skip_all)]
            async fn delete_connection(&self, id: &str, audit: AuditDraft) -> Result<()> {
                self.write_one("DELETE FROM connections WHERE id = $1", vec![Some(id.to_owned())], Some(Error::not_found("connection", id)), None, audit).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_connection(&self, id: &str) -> Result<Option<ConnectionRecord>> {
                let row: Option<(String, Option<String>)> = sqlx::query_as("SELECT doc, sealed_credential FROM connections WHERE id = $1").bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(|(d, s)| Ok(ConnectionRecord { connection: from_doc("connection", &d)?, sealed_credential: s })).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_connections(&self, scope: &Scope, org_id: Option<&str>, page: Page) -> Result<Vec<ConnectionRecord>> {
                let (sql, args) = list_sql("connections", scope, true, &[("org_id", org_id)], "name, id");
                let mut q = sqlx::query_as::<_, (String, Option<String>)>(&sql);
                for a in args {
                    q = q.bind(a);
                }
                let rows = q.bind(i64::from(page.limit)).bind(i64::from(page.offset)).fetch_all(self.reader()).await.map_err(db_error)?;
                rows.into_iter().map(|(d, s)| Ok(ConnectionRecord { connection: from_doc("connection", &d)?, sealed_credential: s })).collect()
            }

            #[tracing::instrument(skip_all)]
            async fn insert_workflow(&self, w: &Workflow, audit: AuditDraft) -> Result<()> {
                let doc = to_doc("workflow", w)?;
                self.write_one(
                    "INSERT INTO workflows (id, org_id, owner_id, name, doc) VALUES ($1, $2, $3, $4, $5)",
                    vec![Some(w.id.clone()), Some(w.org_id.clone()), Some(w.owner_id.clone()), Some(w.name.clone()), Some(doc)],
                    None,
                    None,
                    audit,
                )
                .await
            }

            #[tracing::instrument(skip_all)]
            async fn update_workflow(&self, w: &Workflow, audit: AuditDraft) -> Result<()> {
                let doc = to_doc("workflow", w)?;
                self.write_one("UPDATE workflows SET name = $2, doc = $3 WHERE id = $1", vec![Some(w.id.clone()), Some(w.name.clone()), Some(doc)], Some(Error::not_found("workflow", &w.id)), None, audit).await
            }

            #[tracing::instrument(skip_all)]
            async fn delete_workflow(&self, id: &str, audit: AuditDraft) -> Result<()> {
                self.write_one("DELETE FROM workflows WHERE id = $1", vec![Some(id.to_owned())], Some(Error::not_found("workflow", id)), None, audit).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>> {
                let row: Option<(String,)> = sqlx::query_as("SELECT doc FROM workflows WHERE id = $1").bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(|(d,)| from_doc("workflow", &d)).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_workflows(&self, scope: &Scope, org_id: Option<&str>, page: Page) -> Result<Vec<Workflow>> {
                let (sql, args) = list_sql("workflows", scope, true, &[("org_id", org_id)], "name, id");
                self.docs(&sql, args, page).await?.into_iter().map(|(d, _)| from_doc("workflow", &d)).collect()
            }

            #[tracing::instrument(skip_all)]
            async fn insert_run(&self, run: &WorkflowRun, audit: AuditDraft) -> Result<()> {
                let doc = to_doc("workflow run", run)?;
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(INSERT_RUN)
                        .bind(&run.id)
                        .bind(&run.workflow_id)
                        .bind(&run.org_id)
                        .bind(&run.owner_id)
                        .bind(run.state.as_str())
                        .bind(run.version)
                        .bind(opt_millis(run.heartbeat_at))
                        .bind(opt_millis(run.approval_expires_at))
                        .bind(millis(run.created_at))
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
            async fn update_run(&self, run: &WorkflowRun, expected_version: i64, audit: AuditDraft) -> Result<()> {
                let doc = to_doc("workflow run", run)?;
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(UPDATE_RUN)
                        .bind(&run.id)
                        .bind(run.state.as_str())
                        .bind(run.version)
                        .bind(opt_millis(run.heartbeat_at))
                        .bind(opt_millis(run.approval_expires_at))
                        .bind(doc)
                        .bind(expected_version)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        let now: Option<(String,)> = sqlx::query_as("SELECT state FROM workflow_runs WHERE id = $1").bind(&run.id).fetch_optional(&mut *tx).await.map_err(db_error)?;
                        return Err(match now.and_then(|(s,)| RunState::parse(&s)) {
                            Some(s) => Error::conflict(None, format!("This run was changed by someone else first: it is now {}. Refresh and try again.", s.label().to_lowercase())),
                            None => Error::not_found("workflow run", &run.id),
                        });
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn touch_run(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
                sqlx::query("UPDATE workflow_runs SET heartbeat_at = $2 WHERE id = $1 AND state = 'running'")
                    .bind(id)
                    .bind(millis(at))
                    .execute(self.writer())
                    .await
                    .map(|_| ())
                    .map_err(db_error)
            }

            #[tracing::instrument(skip_all)]
            async fn get_run(&self, id: &str) -> Result<Option<WorkflowRun>> {
                let row: Option<(String, Option<i64>)> = sqlx::query_as("SELECT doc, heartbeat_at FROM workflow_runs WHERE id = $1").bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(|(d, h)| run_from(&d, h)).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_runs(&self, scope: &Scope, filter: &RunFilter, page: Page) -> Result<Vec<WorkflowRun>> {
                let mut args = Vec::new();
                let mut sql = "SELECT doc, heartbeat_at FROM workflow_runs WHERE 1 = 1".to_owned();
                sql.push_str(&scope_sql(scope, true, &mut args));
                if let Some(w) = &filter.workflow_id {
                    args.push(w.clone());
                    sql.push_str(&format!(" AND workflow_id = ${}", args.len()));
                }
                if let Some(s) = filter.state {
                    args.push(s.as_str().to_owned());
                    sql.push_str(&format!(" AND state = ${}", args.len()));
                }
                sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}", args.len() + 1, args.len() + 2));
                let mut q = sqlx::query_as::<_, (String, Option<i64>)>(&sql);
                for a in args {
                    q = q.bind(a);
                }
                let rows = q.bind(i64::from(page.limit)).bind(i64::from(page.offset)).fetch_all(self.reader()).await.map_err(db_error)?;
                rows.into_iter().map(|(d, h)| run_from(&d, h)).collect()
            }

            #[tracing::instrument(skip_all)]
            async fn runs_to_recover(&self, heartbeat_before: DateTime<Utc>, now: DateTime<Utc>, limit: u32) -> Result<Vec<WorkflowRun>> {
                let rows: Vec<(String, Option<i64>)> = sqlx::query_as(RUNS_TO_RECOVER)
                    .bind(millis(heartbeat_before))
                    .bind(millis(now))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                rows.into_iter().map(|(d, h)| run_from(&d, h)).collect()
            }
        }
    };
}

policy_impl!(SqliteStore);
policy_impl!(PgStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_scoped_in_the_query() {
        let (sql, args) = list_sql("workflows", &Scope::User("u".into()), true, &[("org_id", Some("o"))], "name, id");
        assert!(sql.contains("AND owner_id = $1 AND org_id = $2"), "{sql}");
        assert!(sql.ends_with("LIMIT $3 OFFSET $4"), "{sql}");
        assert_eq!(args, vec!["u".to_owned(), "o".to_owned()]);
        let (sql, _) = list_sql("capability_permissions", &Scope::User("u".into()), false, &[], "org_id");
        assert!(sql.contains("AND 1 = 0"), "{sql}");
    }
}
