//! Assignments, CLI runs and upgrade plans of OpenClaw instances. Written once for both
//! backends.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use works_core::audit::AuditDraft;
use works_core::jobs::Job;
use works_core::model::Page;
use works_core::openclaw_ops::{Assignment, InstanceOpsStore, UpgradePlan, UpgradePlanState};
use works_core::openclaw_versions::{Channel, Direction};
use works_core::{Error, Result};

use super::{finish, PgStore, SqliteStore};
use crate::error::{db_error, write_error, Subject};
use crate::rows::{convert, json_error, millis, opt_millis, JobRow};
use crate::sql;

const INSERT_ASSIGNMENT: &str = "INSERT INTO instance_assignments (instance_id, user_id, org_id, assigned_by, assigned_at) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instance_id, user_id) DO NOTHING";
const DELETE_ASSIGNMENT: &str = "DELETE FROM instance_assignments WHERE instance_id = $1 AND user_id = $2";
const ASSIGNMENT_COLUMNS: &str = "a.instance_id, a.user_id, u.username, a.org_id, a.assigned_by, a.assigned_at";
const IS_ASSIGNED: &str = "SELECT COUNT(*) FROM instance_assignments WHERE instance_id = $1 AND user_id = $2";

const INSERT_CLI_RUN: &str = "INSERT INTO instance_cli_runs (job_id, instance_id, command_id) VALUES ($1, $2, $3)";

const PLAN_COLUMNS: &str = "id, instance_id, node_id, org_id, from_version, to_version, channel, direction, warnings, steps, \
    state, approval_phrase, created_by, created_at, updated_at, approved_by, approved_at, cancelled_by, cancelled_at";
const INSERT_PLAN: &str = "INSERT INTO upgrade_plans (id, instance_id, node_id, org_id, from_version, to_version, channel, \
    direction, warnings, steps, state, approval_phrase, created_by, created_at, updated_at, approved_by, approved_at, \
    cancelled_by, cancelled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";
const UPDATE_PLAN: &str = "UPDATE upgrade_plans SET state = $2, updated_at = $3, approved_by = $4, approved_at = $5, \
    cancelled_by = $6, cancelled_at = $7 WHERE id = $1 AND state = $8";

fn list_assignments_sql(only_user: bool) -> String {
    let mut s = format!(
        "SELECT {ASSIGNMENT_COLUMNS} FROM instance_assignments a JOIN users u ON u.id = a.user_id WHERE a.instance_id = $1"
    );
    if only_user {
        s.push_str(" AND a.user_id = $2");
    }
    s.push_str(" ORDER BY u.username, a.user_id");
    s
}

fn list_cli_runs_sql() -> String {
    format!(
        "SELECT {} FROM jobs WHERE id IN (SELECT job_id FROM instance_cli_runs WHERE instance_id = $1) \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
        sql::JOB_COLUMNS
    )
}

fn get_cli_run_sql() -> String {
    format!(
        "SELECT {} FROM jobs WHERE id = $2 AND id IN (SELECT job_id FROM instance_cli_runs WHERE instance_id = $1)",
        sql::JOB_COLUMNS
    )
}

fn time(column: &str, ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| {
        tracing::error!(column, value = ms, "stored timestamp out of range");
        Error::internal(format!("A stored {column} timestamp is out of range."))
    })
}

fn direction_str(d: Direction) -> &'static str {
    match d {
        Direction::Upgrade => "upgrade",
        Direction::AlreadyOnIt => "already_on_it",
        Direction::Downgrade => "downgrade",
        Direction::Unknown => "unknown",
    }
}

fn parse_direction(s: &str) -> Option<Direction> {
    [Direction::Upgrade, Direction::AlreadyOnIt, Direction::Downgrade, Direction::Unknown].into_iter().find(|d| direction_str(*d) == s)
}

#[derive(sqlx::FromRow)]
struct AssignmentRow {
    instance_id: String,
    user_id: String,
    username: String,
    org_id: String,
    assigned_by: String,
    assigned_at: i64,
}

impl AssignmentRow {
    fn into_assignment(self) -> Result<Assignment> {
        Ok(Assignment {
            assigned_at: time("assigned_at", self.assigned_at)?,
            instance_id: self.instance_id,
            user_id: self.user_id,
            username: self.username,
            org_id: self.org_id,
            assigned_by: self.assigned_by,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: String,
    instance_id: String,
    node_id: String,
    org_id: Option<String>,
    from_version: Option<String>,
    to_version: String,
    channel: String,
    direction: String,
    warnings: String,
    steps: String,
    state: String,
    approval_phrase: String,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    approved_by: Option<String>,
    approved_at: Option<i64>,
    cancelled_by: Option<String>,
    cancelled_at: Option<i64>,
}

impl PlanRow {
    fn into_plan(self) -> Result<UpgradePlan> {
        let unknown = |what: &str, value: &str| {
            tracing::error!(plan_id = %self.id, what, value, "stored upgrade plan value unknown");
            Error::internal(format!("A stored upgrade plan has an unknown {what}."))
        };
        let channel = Channel::parse(&self.channel).map_err(|_| unknown("channel", &self.channel))?;
        let direction = parse_direction(&self.direction).ok_or_else(|| unknown("direction", &self.direction))?;
        let state = UpgradePlanState::parse(&self.state).ok_or_else(|| unknown("state", &self.state))?;
        let warnings: Vec<String> = serde_json::from_str(&self.warnings).map_err(json_error("upgrade plan warnings"))?;
        let steps: Vec<String> = serde_json::from_str(&self.steps).map_err(json_error("upgrade plan steps"))?;
        Ok(UpgradePlan {
            created_at: time("created_at", self.created_at)?,
            updated_at: time("updated_at", self.updated_at)?,
            approved_at: self.approved_at.map(|v| time("approved_at", v)).transpose()?,
            cancelled_at: self.cancelled_at.map(|v| time("cancelled_at", v)).transpose()?,
            id: self.id,
            instance_id: self.instance_id,
            node_id: self.node_id,
            org_id: self.org_id,
            from_version: self.from_version,
            to_version: self.to_version,
            channel,
            direction,
            warnings,
            steps,
            state,
            approval_phrase: self.approval_phrase,
            created_by: self.created_by,
            approved_by: self.approved_by,
            cancelled_by: self.cancelled_by,
            note: String::new(),
        })
    }
}

macro_rules! instance_ops_impl {
    ($store:ty) => {
        #[async_trait]
        impl InstanceOpsStore for $store {
            #[tracing::instrument(skip_all)]
            async fn insert_assignment(&self, a: &Assignment, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let added = sqlx::query(INSERT_ASSIGNMENT)
                        .bind(&a.instance_id)
                        .bind(&a.user_id)
                        .bind(&a.org_id)
                        .bind(&a.assigned_by)
                        .bind(millis(a.assigned_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Other))?
                        .rows_affected()
                        == 1;
                    if !added {
                        return Err(Error::conflict(Some("user_id"), format!("The instance is already assigned to {}.", a.username)));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn delete_assignment(&self, instance_id: &str, user_id: &str, audit: AuditDraft) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let gone = sqlx::query(DELETE_ASSIGNMENT).bind(instance_id).bind(user_id).execute(&mut *tx).await.map_err(db_error)?.rows_affected();
                    if gone == 0 {
                        return Ok(false);
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| true)
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn list_assignments(&self, instance_id: &str, user_id: Option<&str>) -> Result<Vec<Assignment>> {
                let text = list_assignments_sql(user_id.is_some());
                let mut q = sqlx::query_as::<_, AssignmentRow>(&text).bind(instance_id);
                if let Some(u) = user_id {
                    q = q.bind(u);
                }
                let rows = q.fetch_all(self.reader()).await.map_err(db_error)?;
                convert(rows, AssignmentRow::into_assignment)
            }

            #[tracing::instrument(skip_all)]
            async fn is_assigned(&self, instance_id: &str, user_id: &str) -> Result<bool> {
                let (n,): (i64,) = sqlx::query_as(IS_ASSIGNED).bind(instance_id).bind(user_id).fetch_one(self.reader()).await.map_err(db_error)?;
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn insert_cli_run(&self, job: &Job, instance_id: &str, command_id: &str, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    bind_job!(sqlx::query(sql::INSERT_JOB), job)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Job { id: &job.id, node_id: &job.node_id }))?;
                    sqlx::query(INSERT_CLI_RUN)
                        .bind(&job.id)
                        .bind(instance_id)
                        .bind(command_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Other))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn list_cli_runs(&self, instance_id: &str, page: Page) -> Result<Vec<Job>> {
                let rows: Vec<JobRow> = sqlx::query_as(&list_cli_runs_sql())
                    .bind(instance_id)
                    .bind(i64::from(page.limit))
                    .bind(i64::from(page.offset))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, JobRow::into_job)
            }

            #[tracing::instrument(skip_all)]
            async fn get_cli_run(&self, instance_id: &str, job_id: &str) -> Result<Option<Job>> {
                let row: Option<JobRow> =
                    sqlx::query_as(&get_cli_run_sql()).bind(instance_id).bind(job_id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(JobRow::into_job).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn insert_upgrade_plan(&self, p: &UpgradePlan, audit: AuditDraft) -> Result<()> {
                let warnings = serde_json::to_string(&p.warnings).map_err(json_error("upgrade plan warnings"))?;
                let steps = serde_json::to_string(&p.steps).map_err(json_error("upgrade plan steps"))?;
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(INSERT_PLAN)
                        .bind(&p.id)
                        .bind(&p.instance_id)
                        .bind(&p.node_id)
                        .bind(&p.org_id)
                        .bind(&p.from_version)
                        .bind(&p.to_version)
                        .bind(p.channel.as_str())
                        .bind(direction_str(p.direction))
                        .bind(&warnings)
                        .bind(&steps)
                        .bind(p.state.as_str())
                        .bind(&p.approval_phrase)
                        .bind(&p.created_by)
                        .bind(millis(p.created_at))
                        .bind(millis(p.updated_at))
                        .bind(&p.approved_by)
                        .bind(opt_millis(p.approved_at))
                        .bind(&p.cancelled_by)
                        .bind(opt_millis(p.cancelled_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Other))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_upgrade_plan(&self, id: &str) -> Result<Option<UpgradePlan>> {
                let row: Option<PlanRow> = sqlx::query_as(&format!("SELECT {PLAN_COLUMNS} FROM upgrade_plans WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(PlanRow::into_plan).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_upgrade_plans(&self, instance_id: &str, page: Page) -> Result<Vec<UpgradePlan>> {
                let rows: Vec<PlanRow> = sqlx::query_as(&format!(
                    "SELECT {PLAN_COLUMNS} FROM upgrade_plans WHERE instance_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(instance_id)
                .bind(i64::from(page.limit))
                .bind(i64::from(page.offset))
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
                convert(rows, PlanRow::into_plan)
            }

            #[tracing::instrument(skip_all)]
            async fn update_upgrade_plan(&self, p: &UpgradePlan, expected: UpgradePlanState, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(UPDATE_PLAN)
                        .bind(&p.id)
                        .bind(p.state.as_str())
                        .bind(millis(p.updated_at))
                        .bind(&p.approved_by)
                        .bind(opt_millis(p.approved_at))
                        .bind(&p.cancelled_by)
                        .bind(opt_millis(p.cancelled_at))
                        .bind(expected.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::conflict(None, "This plan was changed first by someone else. Refresh and try again."));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }
        }
    };
}

instance_ops_impl!(SqliteStore);
instance_ops_impl!(PgStore);
