//! Rows as stored and their conversion to the core's records. Both backends decode into
//! the same row types (TEXT, BIGINT, BOOLEAN).

use chrono::{DateTime, TimeZone, Utc};
use works_core::audit::{AuditRecord, Outcome};
use works_core::model::{ApiToken, ApiTokenRecord, Org, Role, SessionKind, SessionRecord, User, UserRecord};
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

/// Converts every row, stopping at the first that cannot be read.
pub fn convert<R, T>(rows: Vec<R>, f: impl Fn(R) -> Result<T>) -> Result<Vec<T>> {
    rows.into_iter().map(f).collect()
}
