//! Rows as stored and their conversion to the core's records. Both backends decode into
//! the same row types (TEXT, BIGINT, BOOLEAN).

use chrono::{DateTime, TimeZone, Utc};
use works_core::agent::{AgentCredentialRecord, EnrollmentRecord};
use works_core::audit::{AuditRecord, Outcome};
use works_core::jobs::{Job, JobKind, JobState, Risk};
use works_core::model::{ApiToken, ApiTokenRecord, Org, Role, SessionKind, SessionRecord, User, UserRecord};
use works_core::nodes::{Container, NodeHealth, NodeRecord};
use works_core::{Error, Result};

/// Unix milliseconds as stored.
pub fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub fn opt_millis(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(millis)
}

fn time(column: &str, ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| {
        tracing::error!(column, value = ms, "stored timestamp out of range");
        Error::internal(format!("A stored {column} timestamp is out of range."))
    })
}

fn opt_time(column: &str, ms: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    ms.map(|v| time(column, v)).transpose()
}

#[derive(Debug, sqlx::FromRow)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

impl OrgRow {
    pub fn into_org(self) -> Result<Org> {
        Ok(Org {
            created_at: time("created_at", self.created_at)?,
            updated_at: time("updated_at", self.updated_at)?,
            archived_at: opt_time("archived_at", self.archived_at)?,
            id: self.id,
            name: self.name,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub org_id: Option<String>,
    pub disabled: bool,
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRow {
    pub fn into_record(self) -> Result<UserRecord> {
        let role = self.role.parse::<Role>().map_err(|_| {
            tracing::error!(user_id = %self.id, role = %self.role, "stored role is not known");
            Error::internal(format!("The stored role of user {} is not a known role.", self.username))
        })?;
        Ok(UserRecord {
            user: User {
                created_at: time("created_at", self.created_at)?,
                updated_at: time("updated_at", self.updated_at)?,
                id: self.id,
                username: self.username,
                display_name: self.display_name,
                role,
                org_id: self.org_id,
                disabled: self.disabled,
            },
            password_hash: self.password_hash,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TokenRow {
    pub fn into_record(self) -> Result<ApiTokenRecord> {
        Ok(ApiTokenRecord {
            token: ApiToken {
                created_at: time("created_at", self.created_at)?,
                expires_at: opt_time("expires_at", self.expires_at)?,
                last_used_at: opt_time("last_used_at", self.last_used_at)?,
                revoked_at: opt_time("revoked_at", self.revoked_at)?,
                id: self.id,
                user_id: self.user_id,
                name: self.name,
                prefix: self.prefix,
            },
            secret_hash: self.secret_hash,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub secret_hash: String,
    pub csrf_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl SessionRow {
    pub fn into_record(self) -> Result<SessionRecord> {
        let kind = SessionKind::parse(&self.kind).ok_or_else(|| {
            tracing::error!(session_id = %self.id, kind = %self.kind, "stored session kind is not known");
            Error::internal("A stored session has an unknown kind.")
        })?;
        Ok(SessionRecord {
            created_at: time("created_at", self.created_at)?,
            expires_at: time("expires_at", self.expires_at)?,
            id: self.id,
            user_id: self.user_id,
            kind,
            secret_hash: self.secret_hash,
            csrf_hash: self.csrf_hash,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor_id: String,
    pub actor_name: String,
    pub org_id: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub outcome: String,
    pub reason: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    pub fn into_record(self) -> Result<AuditRecord> {
        let outcome = Outcome::parse(&self.outcome).ok_or_else(|| {
            tracing::error!(seq = self.seq, outcome = %self.outcome, "stored audit outcome is not known");
            Error::internal(format!("Audit record {} has an unknown outcome.", self.seq))
        })?;
        Ok(AuditRecord {
            at: time("at", self.at)?,
            seq: self.seq,
            actor_id: self.actor_id,
            actor_name: self.actor_name,
            org_id: self.org_id,
            action: self.action,
            target_kind: self.target_kind,
            target_id: self.target_id,
            outcome,
            reason: self.reason,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct NodeRow {
    pub id: String,
    pub name: String,
    pub org_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub retired_at: Option<i64>,
    pub last_checkin_at: Option<i64>,
    pub health: Option<String>,
    pub enrolled_at: Option<i64>,
}

impl NodeRow {
    pub fn into_record(self) -> Result<NodeRecord> {
        // The health report is replaced at every check-in; one that cannot be read (an
        // older format) is shown as no report rather than hiding the node.
        let health = self.health.as_deref().and_then(|text| match serde_json::from_str::<NodeHealth>(text) {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(node_id = %self.id, error = %e, "stored node health could not be read");
                None
            }
        });
        Ok(NodeRecord {
            created_at: time("created_at", self.created_at)?,
            updated_at: time("updated_at", self.updated_at)?,
            retired_at: opt_time("retired_at", self.retired_at)?,
            last_checkin_at: opt_time("last_checkin_at", self.last_checkin_at)?,
            enrolled_at: opt_time("enrolled_at", self.enrolled_at)?,
            health,
            id: self.id,
            name: self.name,
            org_id: self.org_id,
        })
    }
}

/// A stored container inventory.
pub fn inventory(node_id: &str, text: &str) -> Result<Vec<Container>> {
    serde_json::from_str(text).map_err(|e| {
        tracing::error!(node_id, error = %e, "stored inventory could not be read");
        Error::internal("The stored container inventory of this node could not be read; it is replaced at the agent's next full check-in.")
    })
}

/// For a value that could not be written as JSON text.
pub fn json_error(what: &'static str) -> impl FnOnce(serde_json::Error) -> Error {
    move |e| {
        tracing::error!(what, error = %e, "value could not be written as JSON");
        Error::internal(format!("The {what} could not be stored."))
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct EnrollmentRow {
    pub id: String,
    pub node_id: String,
    pub org_id: Option<String>,
    pub secret_hash: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl EnrollmentRow {
    pub fn into_record(self) -> Result<EnrollmentRecord> {
        Ok(EnrollmentRecord {
            created_at: time("created_at", self.created_at)?,
            expires_at: time("expires_at", self.expires_at)?,
            used_at: opt_time("used_at", self.used_at)?,
            id: self.id,
            node_id: self.node_id,
            org_id: self.org_id,
            secret_hash: self.secret_hash,
            created_by: self.created_by,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct CredentialRow {
    pub id: String,
    pub node_id: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl CredentialRow {
    pub fn into_record(self) -> Result<AgentCredentialRecord> {
        Ok(AgentCredentialRecord {
            created_at: time("created_at", self.created_at)?,
            revoked_at: opt_time("revoked_at", self.revoked_at)?,
            id: self.id,
            node_id: self.node_id,
            secret_hash: self.secret_hash,
        })
    }
}

pub fn risk_str(risk: Risk) -> &'static str {
    match risk {
        Risk::Safe => "safe",
        Risk::Risky => "risky",
    }
}

fn parse_risk(s: &str) -> Option<Risk> {
    [Risk::Safe, Risk::Risky].into_iter().find(|r| risk_str(*r) == s)
}

#[derive(Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub node_id: String,
    pub org_id: Option<String>,
    pub kind: String,
    pub risk: String,
    pub state: String,
    pub params: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub timeout_secs: i64,
    pub reason: Option<String>,
    pub approval_phrase: Option<String>,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub retry_of: Option<String>,
    pub result: Option<String>,
    pub output: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub claimed_at: Option<i64>,
    pub heartbeat_at: Option<i64>,
    pub deadline_at: Option<i64>,
    pub expires_at: i64,
    pub finished_at: Option<i64>,
}

impl JobRow {
    pub fn into_job(self) -> Result<Job> {
        let id = self.id.clone();
        let unreadable = move |what: &str| {
            tracing::error!(job_id = %id, what, "stored job field could not be read");
            Error::internal(format!("The stored {what} of job {id} could not be read."))
        };
        let kind = JobKind::parse(&self.kind).ok_or_else(|| unreadable("kind"))?;
        let risk = parse_risk(&self.risk).ok_or_else(|| unreadable("risk"))?;
        let state = JobState::parse(&self.state).ok_or_else(|| unreadable("state"))?;
        let params = serde_json::from_str(&self.params).map_err(|_| unreadable("parameters"))?;
        let result = self.result.as_deref().map(serde_json::from_str).transpose().map_err(|_| unreadable("result"))?;
        let count = |what: &str, v: i64| u32::try_from(v).map_err(|_| unreadable(what));
        Ok(Job {
            attempts: count("attempt count", self.attempts)?,
            max_attempts: count("attempt limit", self.max_attempts)?,
            timeout_secs: count("timeout", self.timeout_secs)?,
            approved_at: opt_time("approved_at", self.approved_at)?,
            created_at: time("created_at", self.created_at)?,
            updated_at: time("updated_at", self.updated_at)?,
            claimed_at: opt_time("claimed_at", self.claimed_at)?,
            heartbeat_at: opt_time("heartbeat_at", self.heartbeat_at)?,
            deadline_at: opt_time("deadline_at", self.deadline_at)?,
            expires_at: time("expires_at", self.expires_at)?,
            finished_at: opt_time("finished_at", self.finished_at)?,
            kind,
            risk,
            state,
            params,
            result,
            id: self.id,
            node_id: self.node_id,
            org_id: self.org_id,
            reason: self.reason,
            approval_phrase: self.approval_phrase,
            requested_by: self.requested_by,
            approved_by: self.approved_by,
            retry_of: self.retry_of,
            output: self.output,
        })
    }
}

/// Converts every row, stopping at the first that cannot be read.
pub fn convert<R, T>(rows: Vec<R>, f: impl Fn(R) -> Result<T>) -> Result<Vec<T>> {
    rows.into_iter().map(f).collect()
}
