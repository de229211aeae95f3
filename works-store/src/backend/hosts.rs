//! The access layer part of the store: SSH credentials, jumpboxes, hosts and Test Access
//! attempts. Written once for both backends.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use works_core::audit::AuditDraft;
use works_core::hosts::{
    AccessAttempt, AccessStore, AttemptStatus, Discovery, Host, HostKeyPins, Jumpbox, SshCredential, SshCredentialRecord, Stage,
    TranscriptEntry,
};
use works_core::model::{Page, Scope};
use works_core::probe::{FailureKind, Hop, Step};
use works_core::{Error, Result};

use super::{finish, PgStore, SqliteStore};
use crate::error::db_error;
use crate::rows::{convert, json_error, millis, opt_millis};

const CREDENTIAL_COLUMNS: &str = "id, name, key_type, fingerprint, public_key, sealed_key, created_by, created_at";
const JUMPBOX_COLUMNS: &str =
    "id, name, address, port, ssh_user, credential_id, host_key, host_key_fingerprint, created_at, updated_at";
const HOST_COLUMNS: &str = "id, org_id, name, address, port, ssh_user, credential_id, jumpbox_id, host_key, \
    host_key_fingerprint, verified_at, node_id, created_at, updated_at";
const ATTEMPT_COLUMNS: &str = "id, host_id, org_id, host_name, jumpbox_id, route, status, stage_hop, stage_step, failure, \
    reason, next_action, transcript, discovery, technical, requested_by, started_at, updated_at, finished_at";

const INSERT_ATTEMPT: &str = "INSERT INTO access_attempts (id, host_id, org_id, host_name, jumpbox_id, route, status, \
    stage_hop, stage_step, failure, reason, next_action, transcript, discovery, technical, requested_by, started_at, \
    updated_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";
/// Progress and the end of an attempt; a finished attempt is never written again.
const UPDATE_ATTEMPT: &str = "UPDATE access_attempts SET status = $2, stage_hop = $3, stage_step = $4, failure = $5, \
    reason = $6, next_action = $7, transcript = $8, discovery = $9, technical = $10, updated_at = $11, finished_at = $12 \
    WHERE id = $1 AND status = 'running'";

fn time(column: &str, ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| {
        tracing::error!(column, value = ms, "stored timestamp out of range");
        Error::internal(format!("A stored {column} timestamp is out of range."))
    })
}

fn port(p: i32) -> Result<u16> {
    u16::try_from(p).map_err(|_| Error::internal("A stored port is out of range."))
}

/// A uniqueness clash or a missing reference, in plain words; anything else as usual.
fn write_err<'a>(what: &'static str, name: &'a str) -> impl Fn(sqlx::Error) -> Error + 'a {
    move |e| {
        if let Some(db) = e.as_database_error() {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    return Error::conflict(Some("name"), format!("A {what} named {name} already exists."));
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return Error::conflict(None, format!("The {what} {name} refers to a record that no longer exists, or is still in use."));
                }
                _ => {}
            }
        }
        db_error(e)
    }
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: String,
    name: String,
    key_type: String,
    fingerprint: String,
    public_key: String,
    sealed_key: String,
    created_by: String,
    created_at: i64,
}

impl CredentialRow {
    fn into_record(self) -> Result<SshCredentialRecord> {
        Ok(SshCredentialRecord {
            credential: SshCredential {
                created_at: time("credential created_at", self.created_at)?,
                id: self.id,
                name: self.name,
                key_type: self.key_type,
                fingerprint: self.fingerprint,
                public_key: self.public_key,
                created_by: self.created_by,
            },
            sealed_key: self.sealed_key,
        })
    }
}

#[derive(sqlx::FromRow)]
struct JumpboxRow {
    id: String,
    name: String,
    address: String,
    port: i32,
    ssh_user: String,
    credential_id: String,
    host_key: Option<String>,
    host_key_fingerprint: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl JumpboxRow {
    fn into_jumpbox(self) -> Result<Jumpbox> {
        Ok(Jumpbox {
            port: port(self.port)?,
            created_at: time("jumpbox created_at", self.created_at)?,
            updated_at: time("jumpbox updated_at", self.updated_at)?,
            id: self.id,
            name: self.name,
            address: self.address,
            user: self.ssh_user,
            credential_id: self.credential_id,
            host_key: self.host_key,
            host_key_fingerprint: self.host_key_fingerprint,
        })
    }
}

#[derive(sqlx::FromRow)]
struct HostRow {
    id: String,
    org_id: String,
    name: String,
    address: String,
    port: i32,
    ssh_user: String,
    credential_id: String,
    jumpbox_id: Option<String>,
    host_key: Option<String>,
    host_key_fingerprint: Option<String>,
    verified_at: Option<i64>,
    node_id: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl HostRow {
    fn into_host(self) -> Result<Host> {
        Ok(Host {
            port: port(self.port)?,
            verified_at: self.verified_at.map(|v| time("host verified_at", v)).transpose()?,
            created_at: time("host created_at", self.created_at)?,
            updated_at: time("host updated_at", self.updated_at)?,
            id: self.id,
            org_id: self.org_id,
            name: self.name,
            address: self.address,
            user: self.ssh_user,
            credential_id: self.credential_id,
            jumpbox_id: self.jumpbox_id,
            host_key: self.host_key,
            host_key_fingerprint: self.host_key_fingerprint,
            node_id: self.node_id,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: String,
    host_id: String,
    org_id: String,
    host_name: String,
    jumpbox_id: Option<String>,
    route: String,
    status: String,
    stage_hop: String,
    stage_step: String,
    failure: Option<String>,
    reason: Option<String>,
    next_action: Option<String>,
    transcript: String,
    discovery: String,
    technical: String,
    requested_by: String,
    started_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
}

impl AttemptRow {
    fn into_attempt(self) -> Result<AccessAttempt> {
        let unknown = |what: &str| {
            tracing::error!(attempt_id = %self.id, what, "stored access attempt unreadable");
            Error::internal(format!("A stored access attempt has an unknown {what}."))
        };
        let status = AttemptStatus::parse(&self.status).ok_or_else(|| unknown("status"))?;
        let hop = Hop::parse(&self.stage_hop).ok_or_else(|| unknown("stage"))?;
        let step = Step::parse(&self.stage_step).ok_or_else(|| unknown("step"))?;
        let failure = match &self.failure {
            Some(f) => Some(FailureKind::parse(f).ok_or_else(|| unknown("failure"))?),
            None => None,
        };
        let transcript: Vec<TranscriptEntry> = serde_json::from_str(&self.transcript).unwrap_or_else(|e| {
            tracing::warn!(attempt_id = %self.id, error = %e, "stored transcript could not be read");
            Vec::new()
        });
        let discovery: Discovery = serde_json::from_str(&self.discovery).unwrap_or_else(|e| {
            tracing::warn!(attempt_id = %self.id, error = %e, "stored discovery could not be read");
            Discovery::default()
        });
        Ok(AccessAttempt {
            started_at: time("attempt started_at", self.started_at)?,
            updated_at: time("attempt updated_at", self.updated_at)?,
            finished_at: self.finished_at.map(|v| time("attempt finished_at", v)).transpose()?,
            id: self.id,
            host_id: self.host_id,
            org_id: self.org_id,
            host_name: self.host_name,
            jumpbox_id: self.jumpbox_id,
            route: self.route,
            status,
            stage: Stage { hop, step },
            failure,
            reason: self.reason,
            next_action: self.next_action,
            transcript,
            discovery,
            technical: self.technical,
            requested_by: self.requested_by,
        })
    }
}

/// The scoped list of hosts or attempts, with its text arguments (limit and offset follow).
fn scoped_sql(table_columns: &str, table: &str, scope: &Scope, filter: Option<(&str, &str)>, order: &str) -> (String, Vec<String>) {
    let mut sql = format!("SELECT {table_columns} FROM {table} WHERE 1 = 1");
    let mut args = Vec::new();
    match scope {
        Scope::All => {}
        Scope::Org(org) => {
            args.push(org.clone());
            sql.push_str(&format!(" AND org_id = ${}", args.len()));
        }
        Scope::User(_) => sql.push_str(" AND 1 = 0"),
    }
    if let Some((column, value)) = filter {
        args.push(value.to_owned());
        sql.push_str(&format!(" AND {column} = ${}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT ${} OFFSET ${}", args.len() + 1, args.len() + 2));
    (sql, args)
}

macro_rules! bind_attempt_update {
    ($query:expr, $a:expr, $transcript:expr, $discovery:expr) => {{
        let a: &AccessAttempt = $a;
        $query
            .bind(&a.id)
            .bind(a.status.as_str())
            .bind(a.stage.hop.as_str())
            .bind(a.stage.step.as_str())
            .bind(a.failure.map(|f| f.as_str()))
            .bind(&a.reason)
            .bind(&a.next_action)
            .bind($transcript)
            .bind($discovery)
            .bind(&a.technical)
            .bind(millis(a.updated_at))
            .bind(opt_millis(a.finished_at))
    }};
}

fn attempt_json(a: &AccessAttempt) -> Result<(String, String)> {
    Ok((
        serde_json::to_string(&a.transcript).map_err(json_error("attempt transcript"))?,
        serde_json::to_string(&a.discovery).map_err(json_error("attempt discovery"))?,
    ))
}

macro_rules! hosts_impl {
    ($store:ty) => {
        #[async_trait]
        impl AccessStore for $store {
            #[tracing::instrument(skip_all)]
            async fn insert_ssh_credential(&self, r: &SshCredentialRecord, audit: AuditDraft) -> Result<()> {
                let c = &r.credential;
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(&format!("INSERT INTO ssh_credentials ({CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                        .bind(&c.id)
                        .bind(&c.name)
                        .bind(&c.key_type)
                        .bind(&c.fingerprint)
                        .bind(&c.public_key)
                        .bind(&r.sealed_key)
                        .bind(&c.created_by)
                        .bind(millis(c.created_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(write_err("SSH credential", &c.name))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_ssh_credential(&self, id: &str) -> Result<Option<SshCredentialRecord>> {
                let row: Option<CredentialRow> = sqlx::query_as(&format!("SELECT {CREDENTIAL_COLUMNS} FROM ssh_credentials WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(CredentialRow::into_record).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_ssh_credentials(&self, page: Page) -> Result<Vec<SshCredential>> {
                let rows: Vec<CredentialRow> =
                    sqlx::query_as(&format!("SELECT {CREDENTIAL_COLUMNS} FROM ssh_credentials ORDER BY name, id LIMIT $1 OFFSET $2"))
                        .bind(i64::from(page.limit))
                        .bind(i64::from(page.offset))
                        .fetch_all(self.reader())
                        .await
                        .map_err(db_error)?;
                convert(rows, |r| r.into_record().map(|r| r.credential))
            }

            #[tracing::instrument(skip_all)]
            async fn delete_ssh_credential(&self, id: &str, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let users: i64 = sqlx::query_scalar(
                        "SELECT (SELECT COUNT(*) FROM jumpboxes WHERE credential_id = $1) + (SELECT COUNT(*) FROM hosts WHERE credential_id = $1)",
                    )
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    if users > 0 {
                        return Err(Error::conflict(None, format!("This credential is used by {users} jumpbox(es) or host(s); give them another credential first.")));
                    }
                    let done = sqlx::query("DELETE FROM ssh_credentials WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("SSH credential", id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn insert_jumpbox(&self, j: &Jumpbox, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(&format!("INSERT INTO jumpboxes ({JUMPBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
                        .bind(&j.id)
                        .bind(&j.name)
                        .bind(&j.address)
                        .bind(i32::from(j.port))
                        .bind(&j.user)
                        .bind(&j.credential_id)
                        .bind(&j.host_key)
                        .bind(&j.host_key_fingerprint)
                        .bind(millis(j.created_at))
                        .bind(millis(j.updated_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(write_err("jumpbox", &j.name))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_jumpbox(&self, id: &str) -> Result<Option<Jumpbox>> {
                let row: Option<JumpboxRow> = sqlx::query_as(&format!("SELECT {JUMPBOX_COLUMNS} FROM jumpboxes WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(JumpboxRow::into_jumpbox).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn get_jumpbox_by_name(&self, name: &str) -> Result<Option<Jumpbox>> {
                let row: Option<JumpboxRow> = sqlx::query_as(&format!("SELECT {JUMPBOX_COLUMNS} FROM jumpboxes WHERE name = $1"))
                    .bind(name)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(JumpboxRow::into_jumpbox).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_jumpboxes(&self, page: Page) -> Result<Vec<Jumpbox>> {
                let rows: Vec<JumpboxRow> =
                    sqlx::query_as(&format!("SELECT {JUMPBOX_COLUMNS} FROM jumpboxes ORDER BY name, id LIMIT $1 OFFSET $2"))
                        .bind(i64::from(page.limit))
                        .bind(i64::from(page.offset))
                        .fetch_all(self.reader())
                        .await
                        .map_err(db_error)?;
                convert(rows, JumpboxRow::into_jumpbox)
            }

            #[tracing::instrument(skip_all)]
            async fn clear_jumpbox_host_key(&self, id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query("UPDATE jumpboxes SET host_key = NULL, host_key_fingerprint = NULL, updated_at = $2 WHERE id = $1")
                        .bind(id)
                        .bind(millis(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("jumpbox", id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn update_jumpbox(&self, j: &Jumpbox, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(
                        "UPDATE jumpboxes SET name = $2, address = $3, port = $4, ssh_user = $5, credential_id = $6, host_key = $7, \
                         host_key_fingerprint = $8, updated_at = $9 WHERE id = $1",
                    )
                    .bind(&j.id)
                    .bind(&j.name)
                    .bind(&j.address)
                    .bind(i32::from(j.port))
                    .bind(&j.user)
                    .bind(&j.credential_id)
                    .bind(&j.host_key)
                    .bind(&j.host_key_fingerprint)
                    .bind(millis(j.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(write_err("jumpbox", &j.name))?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("jumpbox", &j.id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn delete_jumpbox(&self, id: &str, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let users: Vec<String> = sqlx::query_scalar("SELECT name FROM hosts WHERE jumpbox_id = $1 ORDER BY name, id")
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if !users.is_empty() {
                        let shown: Vec<&str> = users.iter().take(5).map(String::as_str).collect();
                        let more = if users.len() > 5 { format!(" and {} more", users.len() - 5) } else { String::new() };
                        return Err(Error::conflict(
                            None,
                            format!(
                                "This jumpbox is still the route of {} host(s): {}{more}. Give them another route (works host update ID --jumpbox OTHER, or --jumpbox '' for direct) or delete them first.",
                                users.len(),
                                shown.join(", ")
                            ),
                        ));
                    }
                    let done = sqlx::query("DELETE FROM jumpboxes WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("jumpbox", id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn update_host(&self, h: &Host, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(
                        "UPDATE hosts SET name = $2, address = $3, port = $4, ssh_user = $5, credential_id = $6, jumpbox_id = $7, \
                         host_key = $8, host_key_fingerprint = $9, verified_at = $10, updated_at = $11 WHERE id = $1",
                    )
                    .bind(&h.id)
                    .bind(&h.name)
                    .bind(&h.address)
                    .bind(i32::from(h.port))
                    .bind(&h.user)
                    .bind(&h.credential_id)
                    .bind(&h.jumpbox_id)
                    .bind(&h.host_key)
                    .bind(&h.host_key_fingerprint)
                    .bind(opt_millis(h.verified_at))
                    .bind(millis(h.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(write_err("host in this organization", &h.name))?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("host", &h.id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn delete_host(&self, id: &str, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let running: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM access_attempts WHERE host_id = $1 AND status = 'running'")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if running > 0 {
                        return Err(Error::conflict(None, "An attempt on this host is still running; wait for it to end (at most a few minutes), then delete the host."));
                    }
                    sqlx::query("DELETE FROM access_attempts WHERE host_id = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
                    let done = sqlx::query("DELETE FROM hosts WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("host", id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn insert_host(&self, h: &Host, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(&format!(
                        "INSERT INTO hosts ({HOST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                    ))
                    .bind(&h.id)
                    .bind(&h.org_id)
                    .bind(&h.name)
                    .bind(&h.address)
                    .bind(i32::from(h.port))
                    .bind(&h.user)
                    .bind(&h.credential_id)
                    .bind(&h.jumpbox_id)
                    .bind(&h.host_key)
                    .bind(&h.host_key_fingerprint)
                    .bind(opt_millis(h.verified_at))
                    .bind(&h.node_id)
                    .bind(millis(h.created_at))
                    .bind(millis(h.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(write_err("host in this organization", &h.name))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_host(&self, id: &str) -> Result<Option<Host>> {
                let row: Option<HostRow> = sqlx::query_as(&format!("SELECT {HOST_COLUMNS} FROM hosts WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(HostRow::into_host).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_hosts(&self, scope: &Scope, org_id: Option<&str>, page: Page) -> Result<Vec<Host>> {
                let (text, args) = scoped_sql(HOST_COLUMNS, "hosts", scope, org_id.map(|o| ("org_id", o)), "name, id");
                let mut q = sqlx::query_as::<_, HostRow>(&text);
                for a in args {
                    q = q.bind(a);
                }
                let rows = q.bind(i64::from(page.limit)).bind(i64::from(page.offset)).fetch_all(self.reader()).await.map_err(db_error)?;
                convert(rows, HostRow::into_host)
            }

            #[tracing::instrument(skip_all)]
            async fn clear_host_key(&self, id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query("UPDATE hosts SET host_key = NULL, host_key_fingerprint = NULL, updated_at = $2 WHERE id = $1")
                        .bind(id)
                        .bind(millis(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("host", id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn link_host_node(&self, host_id: &str, node_id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query("UPDATE hosts SET node_id = $2, updated_at = $3 WHERE id = $1 AND node_id IS NULL")
                        .bind(host_id)
                        .bind(node_id)
                        .bind(millis(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::conflict(None, "This host was registered as a node first; refresh to see it."));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn insert_access_attempt(&self, a: &AccessAttempt, audit: AuditDraft) -> Result<()> {
                let (transcript, discovery) = attempt_json(a)?;
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(INSERT_ATTEMPT)
                        .bind(&a.id)
                        .bind(&a.host_id)
                        .bind(&a.org_id)
                        .bind(&a.host_name)
                        .bind(&a.jumpbox_id)
                        .bind(&a.route)
                        .bind(a.status.as_str())
                        .bind(a.stage.hop.as_str())
                        .bind(a.stage.step.as_str())
                        .bind(a.failure.map(|f| f.as_str()))
                        .bind(&a.reason)
                        .bind(&a.next_action)
                        .bind(&transcript)
                        .bind(&discovery)
                        .bind(&a.technical)
                        .bind(&a.requested_by)
                        .bind(millis(a.started_at))
                        .bind(millis(a.updated_at))
                        .bind(opt_millis(a.finished_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn update_access_attempt(&self, a: &AccessAttempt) -> Result<()> {
                let (transcript, discovery) = attempt_json(a)?;
                bind_attempt_update!(sqlx::query(UPDATE_ATTEMPT), a, &transcript, &discovery)
                    .execute(self.writer())
                    .await
                    .map_err(db_error)?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn finish_access_attempt(&self, a: &AccessAttempt, pins: &HostKeyPins, audit: AuditDraft) -> Result<()> {
                let (transcript, discovery) = attempt_json(a)?;
                let at = millis(a.updated_at);
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = bind_attempt_update!(sqlx::query(UPDATE_ATTEMPT), a, &transcript, &discovery)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::conflict(None, "This access attempt had already ended."));
                    }
                    if let Some((id, key, fp)) = &pins.jumpbox {
                        sqlx::query("UPDATE jumpboxes SET host_key = $2, host_key_fingerprint = $3, updated_at = $4 WHERE id = $1 AND host_key IS NULL")
                            .bind(id)
                            .bind(key)
                            .bind(fp)
                            .bind(at)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                    }
                    if let Some((key, fp)) = &pins.host {
                        sqlx::query("UPDATE hosts SET host_key = $2, host_key_fingerprint = $3, updated_at = $4 WHERE id = $1 AND host_key IS NULL")
                            .bind(&a.host_id)
                            .bind(key)
                            .bind(fp)
                            .bind(at)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                    }
                    if a.status == AttemptStatus::Succeeded {
                        sqlx::query("UPDATE hosts SET verified_at = $2, updated_at = $2 WHERE id = $1")
                            .bind(&a.host_id)
                            .bind(at)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_access_attempt(&self, id: &str) -> Result<Option<AccessAttempt>> {
                let row: Option<AttemptRow> = sqlx::query_as(&format!("SELECT {ATTEMPT_COLUMNS} FROM access_attempts WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(AttemptRow::into_attempt).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_access_attempts(&self, scope: &Scope, host_id: Option<&str>, page: Page) -> Result<Vec<AccessAttempt>> {
                let (text, args) =
                    scoped_sql(ATTEMPT_COLUMNS, "access_attempts", scope, host_id.map(|h| ("host_id", h)), "started_at DESC, id DESC");
                let mut q = sqlx::query_as::<_, AttemptRow>(&text);
                for a in args {
                    q = q.bind(a);
                }
                let rows = q.bind(i64::from(page.limit)).bind(i64::from(page.offset)).fetch_all(self.reader()).await.map_err(db_error)?;
                convert(rows, AttemptRow::into_attempt)
            }

            #[tracing::instrument(skip_all)]
            async fn running_access_attempts(&self, before: DateTime<Utc>) -> Result<Vec<AccessAttempt>> {
                let rows: Vec<AttemptRow> = sqlx::query_as(&format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM access_attempts WHERE status = 'running' AND started_at < $1 ORDER BY started_at LIMIT 500"
                ))
                .bind(millis(before))
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
                convert(rows, AttemptRow::into_attempt)
            }
        }
    };
}

hosts_impl!(SqliteStore);
hosts_impl!(PgStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_scoped_in_the_query() {
        let (sql, args) = scoped_sql(HOST_COLUMNS, "hosts", &Scope::Org("o".into()), Some(("org_id", "x")), "name, id");
        assert!(sql.contains("AND org_id = $1 AND org_id = $2"), "{sql}");
        assert!(sql.ends_with("LIMIT $3 OFFSET $4"), "{sql}");
        assert_eq!(args, vec!["o".to_owned(), "x".to_owned()]);
        let (sql, _) = scoped_sql(ATTEMPT_COLUMNS, "access_attempts", &Scope::User("u".into()), None, "started_at DESC");
        assert!(sql.contains("AND 1 = 0"), "{sql}");
    }
}
