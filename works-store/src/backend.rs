//! The two backends. Each knows how to connect, how to start a write transaction, how to
//! hold the audit chain and how to pick the next job to claim; everything else is written
//! once in `store_impl!`.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Postgres, Sqlite, Transaction};
use works_core::agent::{AgentCredentialRecord, AgentIdentity, EnrollmentRecord};
use works_core::audit::{AuditDraft, AuditPage, AuditQuery, AuditRecord, GENESIS_HASH};
use works_core::fleet_store::{FleetStore, JobWrite, JobWritten};
use works_core::jobs::{Job, JobFilter, JobState};
use works_core::model::{ApiTokenRecord, Org, Page, Scope, SessionRecord, UserRecord};
use works_core::nodes::{CheckinWrite, Container, NodeRecord};
use works_core::store::{PruneBefore, Pruned, Store, UserFilter};
use works_core::{Error, Result};

use crate::error::{db_error, write_error, Subject};
use crate::rows::{
    convert, inventory, json_error, millis, opt_millis, AuditRow, CredentialRow, EnrollmentRow, JobRow,
    NodeRow, OrgRow, SessionRow, TokenRow, UserRow,
};
use crate::sql::{self, Arg, Built};

pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a SQLite database file is read through a memory map.
const SQLITE_MMAP_BYTES: u64 = 256 * 1024 * 1024;
/// How long a request waits for a free connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The PostgreSQL advisory lock that serializes appends to the audit chain across every
/// server sharing the database ("WORKSAUD" in ASCII).
const AUDIT_CHAIN_LOCK: i64 = 0x574F_524B_5341_5544;

/// SQLite: one connection for writes (so writers queue in the process instead of
/// spinning on the file lock) and a few for reads, which WAL lets run alongside.
#[derive(Debug)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
}

/// Binds how an agent ended a job in the order of one row of `sql::END_JOB` and of an
/// end in `sql::write_jobs` (SQLite): id, node id, state, result, output, reason, finished time.
macro_rules! bind_end {
    ($query:expr, $end:expr) => {{
        let e: &Job = $end;
        $query
            .bind(&e.id)
            .bind(&e.node_id)
            .bind(e.state.as_str())
            .bind(e.result.as_ref().map(|v| v.to_string()))
            .bind(&e.output)
            .bind(&e.reason)
            .bind(opt_millis(e.finished_at))
    }};
}

impl SqliteStore {
    /// The immediate write transaction already excludes every other claimer.
    const CLAIM_NEXT_JOBS: &'static str = sql::CLAIM_NEXT_JOBS;

    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| {
            tracing::warn!(error = %e, "unusable SQLite URL");
            Error::invalid("database", format!("is not a usable SQLite URL: {e}"))
        })?;
        let has_mode = url.split_once('?').is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("mode=")));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = options
            .create_if_missing(!has_mode || url.contains("mode=rwc"))
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            // Reads through a memory map: each write invalidates the readers' page caches,
            // and reading the pages back through the map costs no system call or copy.
            .pragma("mmap_size", SQLITE_MMAP_BYTES.to_string());

        if in_memory {
            // One connection that never closes: an in-memory database lives as long as it.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.journal_mode(SqliteJournalMode::Memory))
                .await
                .map_err(open_error("SQLite"))?;
            migrate(&SQLITE_MIGRATOR, &pool).await?;
            return Ok(SqliteStore { read: pool.clone(), write: pool });
        }

        // No ping before each use: the connections are in this process, and a ping is a
        // round trip to the connection's thread on every query.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|conn, _| Box::pin(async move { Ok(settled(conn)) }))
            .connect_with(options.clone().journal_mode(SqliteJournalMode::Wal))
            .await
            .map_err(open_error("SQLite"))?;
        migrate(&SQLITE_MIGRATOR, &write).await?;
        // WAL mode is a property of the file, set by the writer above.
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|conn, _| Box::pin(async move { Ok(settled(conn)) }))
            .connect_with(options)
            .await
            .map_err(open_error("SQLite"))?;
        Ok(SqliteStore { read, write })
    }

    /// Closes every connection and waits until they are closed (backups and restores
    /// need the file to themselves afterwards).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        &self.write
    }

    fn migrator() -> &'static Migrator {
        &SQLITE_MIGRATOR
    }

    /// `BEGIN IMMEDIATE` takes the database's write lock up front (waiting up to the busy
    /// timeout), so a transaction never fails half-way because another process wrote.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        self.write.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
    }

    /// The audit chain's last record. The immediate transaction already excludes every
    /// other writer.
    async fn lock_chain_head(tx: &mut Transaction<'static, Sqlite>) -> Result<Option<(i64, String)>> {
        sqlx::query_as(sql::AUDIT_HEAD).fetch_optional(&mut **tx).await.map_err(db_error)
    }

    /// Audit records, many per statement (a statement per count of rows).
    async fn insert_audit_rows(tx: &mut Transaction<'static, Sqlite>, sealed: &[AuditRecord]) -> Result<()> {
        for chunk in sealed.chunks(sql::AUDIT_ROWS_PER_STATEMENT) {
            let statement = sql::insert_audit(chunk.len());
            let mut q = sqlx::query(&statement);
            for r in chunk {
                q = q
                    .bind(r.seq)
                    .bind(millis(r.at))
                    .bind(&r.actor_id)
                    .bind(&r.actor_name)
                    .bind(&r.org_id)
                    .bind(&r.action)
                    .bind(&r.target_kind)
                    .bind(&r.target_id)
                    .bind(r.outcome.as_str())
                    .bind(&r.reason)
                    .bind(&r.prev_hash)
                    .bind(&r.hash);
            }
            q.execute(&mut **tx).await.map_err(|e| write_error(e, Subject::Other))?;
        }
        Ok(())
    }

    /// Claims of one job on distinct nodes, and ends of distinct jobs: a statement for
    /// many claims, then one for many ends (SQLite cannot write in a `WITH` clause).
    /// Batched claims are written alone ([`shareable_job_writes`]).
    async fn write_shared_jobs(tx: &mut Transaction<'static, Sqlite>, claims: &[SharedClaim<'_>], ends: &[&Job]) -> Result<SharedJobWrites> {
        let mut written = SharedJobWrites::default();
        for chunk in claims.chunks(sql::JOB_WRITES_PER_STATEMENT) {
            let statement = sql::write_jobs(chunk.len(), 0);
            let mut q = sqlx::query_as::<_, JobRow>(&statement);
            for c in chunk {
                q = q.bind(c.node_id).bind(c.at);
            }
            for job in convert(q.fetch_all(&mut **tx).await.map_err(db_error)?, JobRow::into_job)? {
                written.claimed.entry(job.node_id.clone()).or_default().push(job);
            }
        }
        for chunk in ends.chunks(sql::JOB_WRITES_PER_STATEMENT) {
            let statement = sql::write_jobs(0, chunk.len());
            let mut q = sqlx::query_as::<_, JobRow>(&statement);
            for end in chunk {
                q = bind_end!(q, end);
            }
            for job in convert(q.fetch_all(&mut **tx).await.map_err(|e| write_error(e, Subject::Other))?, JobRow::into_job)? {
                written.ended.insert(job.id.clone(), job);
            }
        }
        Ok(written)
    }
}

/// Whether a pooled SQLite connection may be handed out again: not while it still counts
/// a transaction as open. That happens when a COMMIT or ROLLBACK fails, as on a full disk
/// (SQLite may already have rolled back by itself, so the ROLLBACK sqlx sends fails too).
/// Such a connection would refuse every later transaction ("non-zero transaction
/// depth") and, as the only writer, stop all writes for good; it is closed instead and a
/// fresh one opened.
fn settled(conn: &mut sqlx::SqliteConnection) -> bool {
    use sqlx::Connection;
    if conn.is_in_transaction() {
        tracing::warn!("closing a database connection left inside a failed transaction; a fresh one is opened");
        return false;
    }
    true
}

/// How long a PostgreSQL connection may sit idle before it is pinged at its next use.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(2);

/// PostgreSQL: one pool; appends to the audit chain are serialized by an advisory lock
/// held until the transaction ends.
#[derive(Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Locks the picked jobs; concurrent claimers pass over them to the next ones.
    const CLAIM_NEXT_JOBS: &'static str = sql::CLAIM_NEXT_JOBS_LOCKED;

    pub async fn open(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            tracing::warn!(error = %e, "unusable PostgreSQL URL");
            Error::invalid("database", "is not a usable PostgreSQL URL")
        })?;
        // One direct attempt first, so a wrong URL or a stopped server is reported at once
        // instead of after the pool's retries.
        let probe = options.connect().await.map_err(open_error("PostgreSQL"))?;
        if let Err(e) = probe.close().await {
            tracing::debug!(error = %e, "closing the probe connection failed");
        }
        // A connection in steady use is not pinged before each use (a round trip every
        // query, a third of the cost of a small one); one that sat idle for a while is,
        // so a database restarted while the server was quiet costs no request. Under
        // load, a connection the restart broke fails its next query, which is answered
        // as "the database cannot be reached" and the connection replaced.
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    use sqlx::Connection;
                    Ok(meta.idle_for < PING_WHEN_IDLE_FOR || conn.ping().await.is_ok())
                })
            })
            .connect_with(options)
            .await
            .map_err(open_error("PostgreSQL"))?;
        migrate(&POSTGRES_MIGRATOR, &pool).await?;
        Ok(PgStore { pool })
    }

    /// Closes every connection and waits until they are closed.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn migrator() -> &'static Migrator {
        &POSTGRES_MIGRATOR
    }

    /// READ COMMITTED explicitly (whatever the server's default), so the chain head read
    /// after the lock is taken sees the record of the previous holder.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await.map_err(db_error)
    }

    /// Waits for the chain lock, then reads the chain's last record, in one round trip
    /// (`audit_chain_head`, migration 0016): the read sees the record the previous holder
    /// appended.
    async fn lock_chain_head(tx: &mut Transaction<'static, Postgres>) -> Result<Option<(i64, String)>> {
        sqlx::query_as(sql::LOCK_AUDIT_HEAD).bind(AUDIT_CHAIN_LOCK).fetch_optional(&mut **tx).await.map_err(db_error)
    }

    /// Audit records in one statement whatever their number, a column per array, so
    /// that it is prepared once per connection.
    async fn insert_audit_rows(tx: &mut Transaction<'static, Postgres>, sealed: &[AuditRecord]) -> Result<()> {
        let column = |f: fn(&AuditRecord) -> Option<String>| sealed.iter().map(f).collect::<Vec<Option<String>>>();
        sqlx::query(sql::INSERT_AUDIT_ARRAYS)
            .bind(sealed.iter().map(|r| r.seq).collect::<Vec<i64>>())
            .bind(sealed.iter().map(|r| millis(r.at)).collect::<Vec<i64>>())
            .bind(column(|r| Some(r.actor_id.clone())))
            .bind(column(|r| Some(r.actor_name.clone())))
            .bind(column(|r| r.org_id.clone()))
            .bind(column(|r| Some(r.action.clone())))
            .bind(column(|r| Some(r.target_kind.clone())))
            .bind(column(|r| r.target_id.clone()))
            .bind(column(|r| Some(r.outcome.as_str().to_owned())))
            .bind(column(|r| Some(r.reason.clone())))
            .bind(column(|r| Some(r.prev_hash.clone())))
            .bind(column(|r| Some(r.hash.clone())))
            .execute(&mut **tx)
            .await
            .map_err(|e| write_error(e, Subject::Other))?;
        Ok(())
    }

    /// Claims of distinct nodes (each of up to its most) and ends of distinct jobs, all
    /// in one statement ([`sql::WRITE_JOBS_ARRAYS`]), prepared once per connection.
    async fn write_shared_jobs(tx: &mut Transaction<'static, Postgres>, claims: &[SharedClaim<'_>], ends: &[&Job]) -> Result<SharedJobWrites> {
        let rows = sqlx::query(sql::WRITE_JOBS_ARRAYS)
            .bind(claims.iter().map(|c| c.node_id).collect::<Vec<&str>>())
            .bind(claims.iter().map(|c| c.at).collect::<Vec<i64>>())
            .bind(claims.iter().map(|c| i64::from(c.max)).collect::<Vec<i64>>())
            .bind(ends.iter().map(|e| e.id.as_str()).collect::<Vec<&str>>())
            .bind(ends.iter().map(|e| e.node_id.as_str()).collect::<Vec<&str>>())
            .bind(ends.iter().map(|e| e.state.as_str()).collect::<Vec<&str>>())
            .bind(ends.iter().map(|e| e.result.as_ref().map(|v| v.to_string())).collect::<Vec<Option<String>>>())
            .bind(ends.iter().map(|e| e.output.clone()).collect::<Vec<Option<String>>>())
            .bind(ends.iter().map(|e| e.reason.clone()).collect::<Vec<Option<String>>>())
            .bind(ends.iter().map(|e| opt_millis(e.finished_at)).collect::<Vec<Option<i64>>>())
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| write_error(e, Subject::Other))?;
        let mut written = SharedJobWrites::default();
        for row in &rows {
            let kind: String = sqlx::Row::try_get(row, "written").map_err(db_error)?;
            let job = <JobRow as sqlx::FromRow<_>>::from_row(row).map_err(db_error).and_then(JobRow::into_job)?;
            match kind.as_str() {
                "claimed" => written.claimed.entry(job.node_id.clone()).or_default().push(job),
                _ => {
                    written.ended.insert(job.id.clone(), job);
                }
            }
        }
        Ok(written)
    }
}

fn open_error(backend: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| {
        tracing::error!(error = %e, backend, "could not open the database");
        let detail = match &e {
            sqlx::Error::Database(db) => db.message().to_owned(),
            sqlx::Error::Io(io) => io.to_string(),
            sqlx::Error::PoolTimedOut => "no connection could be made in time".to_owned(),
            other => other.to_string(),
        };
        Error::unavailable(format!("Could not open the {backend} database ({detail}). Check that it is running and that the database URL is right."))
    }
}

async fn migrate<'a, A>(migrator: &Migrator, conn: A) -> Result<()>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    migrator.run(conn).await.map_err(|e| {
        tracing::error!(error = %e, "database migration failed");
        match e {
            sqlx::migrate::MigrateError::Execute(inner) => db_error(inner),
            sqlx::migrate::MigrateError::VersionMissing(v) => Error::internal(format!(
                "The database was migrated by a newer version of Anthropy Works (migration {v} is unknown to this one); upgrade this server."
            )),
            other => Error::internal(format!("The database could not be migrated: {other}.")),
        }
    })
}

/// Commits on success, rolls back on failure.
async fn finish<DB: sqlx::Database, T>(tx: Transaction<'static, DB>, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => {
            tx.commit().await.map_err(db_error)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

fn limit_of(page: Page) -> (i64, i64) {
    (i64::from(page.limit), i64::from(page.offset))
}

/// Binds the arguments of a built statement in order.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
            };
        }
        q
    }};
}

/// Binds the columns of a job in the order of `sql::INSERT_JOB` and `sql::UPDATE_JOB`.
macro_rules! bind_job {
    ($query:expr, $job:expr) => {{
        let j: &Job = $job;
        $query
            .bind(&j.id)
            .bind(&j.node_id)
            .bind(&j.org_id)
            .bind(j.kind.as_str())
            .bind($crate::rows::risk_str(j.risk))
            .bind(j.state.as_str())
            .bind(j.params.to_string())
            .bind(i64::from(j.attempts))
            .bind(i64::from(j.max_attempts))
            .bind(i64::from(j.timeout_secs))
            .bind(&j.reason)
            .bind(&j.approval_phrase)
            .bind(&j.requested_by)
            .bind(&j.approved_by)
            .bind(opt_millis(j.approved_at))
            .bind(&j.retry_of)
            .bind(j.result.as_ref().map(|v| v.to_string()))
            .bind(&j.output)
            .bind(millis(j.created_at))
            .bind(millis(j.updated_at))
            .bind(opt_millis(j.claimed_at))
            .bind(opt_millis(j.heartbeat_at))
            .bind(opt_millis(j.deadline_at))
            .bind(millis(j.expires_at))
            .bind(opt_millis(j.finished_at))
    }};
}

/// Which of `writes` can share a statement with others: claims of distinct nodes (on
/// SQLite, claims of one job each), and ends of distinct jobs (only when there are two
/// or more to share one: on SQLite, of a kind); the rest are written one statement
/// each. Indexes into `writes`.
fn shareable_job_writes(writes: &[JobWrite], postgres: bool) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (mut nodes, mut jobs) = (HashSet::new(), HashSet::new());
    let (mut claims, mut ends, mut alone) = (Vec::new(), Vec::new(), Vec::new());
    for (i, w) in writes.iter().enumerate() {
        match w {
            JobWrite::Claim { node_id, max, .. } if (postgres || *max == 1) && nodes.insert(node_id.as_str()) => claims.push(i),
            JobWrite::End { end, .. } if jobs.insert(end.id.as_str()) => ends.push(i),
            _ => alone.push(i),
        }
    }
    if postgres {
        // One statement holds both kinds: sharing pays from two writes on.
        if claims.len() + ends.len() < 2 {
            alone.append(&mut claims);
            alone.append(&mut ends);
        }
    } else {
        if claims.len() < 2 {
            alone.append(&mut claims);
        }
        if ends.len() < 2 {
            alone.append(&mut ends);
        }
    }
    alone.sort_unstable();
    (claims, ends, alone)
}

/// A claim written in a shared statement: up to `max` of the node's oldest queued jobs,
/// claimed at `at` (unix ms).
struct SharedClaim<'a> {
    node_id: &'a str,
    at: i64,
    max: u32,
}

/// What a statement of shared claims and ends wrote: the jobs claimed by node, and
/// the jobs ended by id.
#[derive(Default)]
struct SharedJobWrites {
    claimed: HashMap<String, Vec<Job>>,
    ended: HashMap<String, Job>,
}

/// The audit records of a claim: the draft copied for each job claimed.
fn claim_drafts(audit: &AuditDraft, jobs: &[Job]) -> Vec<AuditDraft> {
    jobs.iter()
        .map(|j| {
            let mut d = audit.clone();
            d.target_id = Some(j.id.clone());
            d
        })
        .collect()
}

/// The audit record of an end, in the ended job's organization.
fn end_draft(audit: &AuditDraft, job: &Job) -> AuditDraft {
    let mut d = audit.clone();
    d.org_id = job.org_id.clone();
    d
}


/// The implementation of [`Store`] and [`FleetStore`], written once for both backends.
/// The backend type provides `reader`, `writer`, `migrator`, `begin_write`, `lock_chain_head`
/// and `CLAIM_NEXT_JOBS`.
// After the binding macros, which they use.
mod alerts;
mod health;
mod history;
mod hosts;
mod instances;
mod policy;
mod schedules;
mod cluster;
mod preferences;

macro_rules! store_impl {
    ($store:ty, $db:ty, $name:literal) => {
        impl $store {
            /// Appends a sealed record inside `tx`: next seq, linked to the last hash.
            async fn append_in(tx: &mut Transaction<'static, $db>, draft: AuditDraft) -> Result<AuditRecord> {
                let mut sealed = Self::append_many_in(tx, vec![draft]).await?;
                sealed.pop().ok_or_else(|| Error::internal("An audit record was not written; nothing was changed."))
            }

            /// Appends several sealed records inside `tx`, in order, taking the chain
            /// lock and reading the head once.
            async fn append_many_in(tx: &mut Transaction<'static, $db>, drafts: Vec<AuditDraft>) -> Result<Vec<AuditRecord>> {
                if drafts.is_empty() {
                    return Ok(Vec::new());
                }
                let head = Self::lock_chain_head(tx).await?;
                let (mut seq, mut prev_hash) = match head {
                    Some((seq, hash)) => (seq + 1, hash),
                    None => (1, GENESIS_HASH.to_owned()),
                };
                let mut sealed = Vec::with_capacity(drafts.len());
                for draft in drafts {
                    let r = draft.seal(seq, &prev_hash);
                    seq = r.seq + 1;
                    prev_hash = r.hash.clone();
                    sealed.push(r);
                }
                // Many records per statement: the chain lock is held until the commit,
                // so every round trip saved here is one less for the next appender to
                // wait on.
                Self::insert_audit_rows(tx, &sealed).await?;
                Ok(sealed)
            }

            async fn write_user(
                tx: &mut Transaction<'static, $db>,
                record: &UserRecord,
            ) -> Result<()> {
                let u = &record.user;
                let done = sqlx::query(sql::UPDATE_USER)
                    .bind(&u.id)
                    .bind(&u.username)
                    .bind(&u.display_name)
                    .bind(u.role.as_str())
                    .bind(&u.org_id)
                    .bind(u.disabled)
                    .bind(&record.password_hash)
                    .bind(millis(u.created_at))
                    .bind(millis(u.updated_at))
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| write_error(e, user_subject(record)))?;
                if done.rows_affected() == 0 {
                    return Err(Error::not_found("user", &u.id));
                }
                Ok(())
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            #[tracing::instrument(skip_all)]
            async fn ping(&self) -> Result<()> {
                let latest: Option<i64> =
                    sqlx::query_scalar(sql::LATEST_MIGRATION).fetch_one(self.reader()).await.map_err(db_error)?;
                let expected = Self::migrator().iter().map(|m| m.version).max();
                if latest < expected {
                    return Err(Error::unavailable(
                        "The database is reachable but not yet migrated to this version; restart the server to migrate it.",
                    ));
                }
                Ok(())
            }

            // --- organizations ---

            #[tracing::instrument(skip_all)]
            async fn insert_org(&self, org: &Org, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(sql::INSERT_ORG)
                        .bind(&org.id)
                        .bind(&org.name)
                        .bind(millis(org.created_at))
                        .bind(millis(org.updated_at))
                        .bind(opt_millis(org.archived_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Org { id: &org.id, name: &org.name }))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn update_org(&self, org: &Org, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(sql::UPDATE_ORG)
                        .bind(&org.id)
                        .bind(&org.name)
                        .bind(millis(org.updated_at))
                        .bind(opt_millis(org.archived_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Org { id: &org.id, name: &org.name }))?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("organization", &org.id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_org(&self, id: &str) -> Result<Option<Org>> {
                let row: Option<OrgRow> =
                    sqlx::query_as(sql::GET_ORG).bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(OrgRow::into_org).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_orgs(&self, scope: &Scope, include_archived: bool, page: Page) -> Result<Vec<Org>> {
                let Built { sql, args } = sql::list_orgs(scope, include_archived, page);
                let rows: Vec<OrgRow> = bind_all!(sqlx::query_as(&sql), args)
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, OrgRow::into_org)
            }

            // --- users ---

            #[tracing::instrument(skip_all)]
            async fn count_users(&self) -> Result<u64> {
                let n: i64 = sqlx::query_scalar(sql::COUNT_USERS).fetch_one(self.reader()).await.map_err(db_error)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            #[tracing::instrument(skip_all)]
            async fn insert_user(&self, record: &UserRecord, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let u = &record.user;
                    sqlx::query(sql::INSERT_USER)
                        .bind(&u.id)
                        .bind(&u.username)
                        .bind(&u.display_name)
                        .bind(u.role.as_str())
                        .bind(&u.org_id)
                        .bind(u.disabled)
                        .bind(&record.password_hash)
                        .bind(millis(u.created_at))
                        .bind(millis(u.updated_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, user_subject(record)))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn update_user(&self, record: &UserRecord, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    Self::write_user(&mut tx, record).await?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn update_user_and_end_access(
                &self,
                record: &UserRecord,
                at: DateTime<Utc>,
                audit: AuditDraft,
            ) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    Self::write_user(&mut tx, record).await?;
                    sqlx::query(sql::DELETE_USER_SESSIONS)
                        .bind(&record.user.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    sqlx::query(sql::REVOKE_USER_TOKENS)
                        .bind(&record.user.id)
                        .bind(millis(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_user(&self, id: &str) -> Result<Option<UserRecord>> {
                let row: Option<UserRow> =
                    sqlx::query_as(sql::GET_USER).bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(UserRow::into_record).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn get_user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
                let row: Option<UserRow> = sqlx::query_as(sql::GET_USER_BY_USERNAME)
                    .bind(username)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(UserRow::into_record).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_users(&self, scope: &Scope, filter: &UserFilter, page: Page) -> Result<Vec<UserRecord>> {
                let Built { sql, args } = sql::list_users(scope, filter, page);
                let rows: Vec<UserRow> = bind_all!(sqlx::query_as(&sql), args)
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, UserRow::into_record)
            }

            // --- API tokens ---

            #[tracing::instrument(skip_all)]
            async fn insert_token(&self, record: &ApiTokenRecord, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let t = &record.token;
                    sqlx::query(sql::INSERT_TOKEN)
                        .bind(&t.id)
                        .bind(&t.user_id)
                        .bind(&t.name)
                        .bind(&t.prefix)
                        .bind(&record.secret_hash)
                        .bind(millis(t.created_at))
                        .bind(opt_millis(t.expires_at))
                        .bind(opt_millis(t.last_used_at))
                        .bind(opt_millis(t.revoked_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Token { id: &t.id, user_id: &t.user_id }))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_token(&self, id: &str) -> Result<Option<ApiTokenRecord>> {
                let row: Option<TokenRow> =
                    sqlx::query_as(sql::GET_TOKEN).bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(TokenRow::into_record).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn get_token_by_hash(&self, secret_hash: &str) -> Result<Option<ApiTokenRecord>> {
                let row: Option<TokenRow> = sqlx::query_as(sql::GET_TOKEN_BY_HASH)
                    .bind(secret_hash)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(TokenRow::into_record).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_tokens(&self, user_id: &str, page: Page) -> Result<Vec<ApiTokenRecord>> {
                let (limit, offset) = limit_of(page);
                let rows: Vec<TokenRow> = sqlx::query_as(sql::LIST_TOKENS)
                    .bind(user_id)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, TokenRow::into_record)
            }

            #[tracing::instrument(skip_all)]
            async fn revoke_token(&self, id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(sql::REVOKE_TOKEN)
                        .bind(id)
                        .bind(millis(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("API token", id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
                sqlx::query(sql::TOUCH_TOKEN)
                    .bind(id)
                    .bind(millis(at))
                    .execute(self.writer())
                    .await
                    .map(|_| ())
                    .map_err(db_error)
            }

            // --- sessions ---

            #[tracing::instrument(skip_all)]
            async fn insert_session(&self, s: &SessionRecord, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(sql::INSERT_SESSION)
                        .bind(&s.id)
                        .bind(&s.user_id)
                        .bind(s.kind.as_str())
                        .bind(&s.secret_hash)
                        .bind(&s.csrf_hash)
                        .bind(millis(s.created_at))
                        .bind(millis(s.expires_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Session { id: &s.id, user_id: &s.user_id }))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_session_by_hash(&self, secret_hash: &str) -> Result<Option<SessionRecord>> {
                let row: Option<SessionRow> = sqlx::query_as(sql::GET_SESSION_BY_HASH)
                    .bind(secret_hash)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(SessionRow::into_record).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn delete_session(&self, id: &str, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(sql::DELETE_SESSION).bind(id).execute(&mut *tx).await.map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("session", id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn prune(&self, before: &PruneBefore) -> Result<Pruned> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let mut gone = [0u64; 3];
                    for (n, (statement, at)) in [
                        (sql::DELETE_EXPIRED_SESSIONS, before.sessions_expired),
                        (sql::DELETE_OLD_LOGIN_FAILURES, before.login_failures),
                        (sql::DELETE_ENDED_ENROLLMENT_TOKENS, before.enrollment_tokens_ended),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        gone[n] = sqlx::query(statement).bind(millis(at)).execute(&mut *tx).await.map_err(db_error)?.rows_affected();
                    }
                    Ok(Pruned { sessions: gone[0], login_failures: gone[1], enrollment_tokens: gone[2] })
                }
                .await;
                finish(tx, result).await
            }

            // --- sign-in throttling ---

            #[tracing::instrument(skip_all)]
            async fn record_login_failure(&self, username: &str, at: DateTime<Utc>) -> Result<()> {
                sqlx::query(sql::RECORD_LOGIN_FAILURE)
                    .bind(username)
                    .bind(millis(at))
                    .execute(self.writer())
                    .await
                    .map(|_| ())
                    .map_err(db_error)
            }

            #[tracing::instrument(skip_all)]
            async fn count_login_failures(&self, username: &str, since: DateTime<Utc>) -> Result<u64> {
                let n: i64 = sqlx::query_scalar(sql::COUNT_LOGIN_FAILURES)
                    .bind(username)
                    .bind(millis(since))
                    .fetch_one(self.reader())
                    .await
                    .map_err(db_error)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            // --- audit ---

            #[tracing::instrument(skip_all)]
            async fn append_audit(&self, draft: AuditDraft) -> Result<AuditRecord> {
                let mut tx = self.begin_write().await?;
                let result = Self::append_in(&mut tx, draft).await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn query_audit(&self, scope: &Scope, query: &AuditQuery, limit: u32) -> Result<AuditPage> {
                let limit = limit.max(1);
                let Built { sql, args } = sql::query_audit(scope, query, i64::from(limit) + 1);
                let rows: Vec<AuditRow> = bind_all!(sqlx::query_as(&sql), args)
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                let mut records = convert(rows, AuditRow::into_record)?;
                let more = records.len() > limit as usize;
                records.truncate(limit as usize);
                let next_before = if more { records.last().map(|r| r.seq) } else { None };
                Ok(AuditPage { records, next_before })
            }

            #[tracing::instrument(skip_all)]
            async fn audit_chain(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRecord>> {
                let rows: Vec<AuditRow> = sqlx::query_as(sql::AUDIT_CHAIN)
                    .bind(after_seq)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, AuditRow::into_record)
            }
        }

        #[async_trait]
        impl FleetStore for $store {
            // --- nodes ---

            #[tracing::instrument(skip_all)]
            async fn insert_node(&self, node: &NodeRecord, audit: AuditDraft) -> Result<()> {
                let health = node
                    .health
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(json_error("health report"))?;
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(sql::INSERT_NODE)
                        .bind(&node.id)
                        .bind(&node.name)
                        .bind(&node.org_id)
                        .bind(millis(node.created_at))
                        .bind(millis(node.updated_at))
                        .bind(opt_millis(node.retired_at))
                        .bind(opt_millis(node.last_checkin_at))
                        .bind(health)
                        .bind(opt_millis(node.enrolled_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, node_subject(node)))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn update_node(&self, node: &NodeRecord, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(sql::UPDATE_NODE)
                        .bind(&node.id)
                        .bind(&node.name)
                        .bind(millis(node.updated_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, node_subject(node)))?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("node", &node.id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn retire_node(&self, node: &NodeRecord, at: DateTime<Utc>, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query(sql::RETIRE_NODE)
                        .bind(&node.id)
                        .bind(millis(node.retired_at.unwrap_or(at)))
                        .bind(millis(node.updated_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("node", &node.id));
                    }
                    sqlx::query(sql::REVOKE_NODE_CREDENTIALS)
                        .bind(&node.id)
                        .bind(millis(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_node(&self, id: &str) -> Result<Option<NodeRecord>> {
                let row: Option<NodeRow> =
                    sqlx::query_as(sql::GET_NODE).bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(NodeRow::into_record).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_nodes(
                &self,
                scope: &Scope,
                org_id: Option<&str>,
                include_retired: bool,
                page: Page,
            ) -> Result<Vec<NodeRecord>> {
                let Built { sql, args } = sql::list_nodes(scope, org_id, include_retired, page);
                let rows: Vec<NodeRow> = bind_all!(sqlx::query_as(&sql), args)
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, NodeRow::into_record)
            }

            #[tracing::instrument(skip_all, fields(batch = batch.len()))]
            async fn record_checkins(&self, batch: &[CheckinWrite]) -> Result<Vec<bool>> {
                // Serialized before the transaction, so the write lock is held only for writing.
                let mut rows = Vec::with_capacity(batch.len());
                for c in batch {
                    let health = serde_json::to_string(&c.health).map_err(json_error("health report"))?;
                    let containers = c
                        .containers
                        .as_deref()
                        .map(serde_json::to_string)
                        .transpose()
                        .map_err(json_error("container inventory"))?;
                    rows.push((c, health, containers));
                }
                // Distinct nodes are written a statement for up to 500 of them; a node's
                // second check-in in the same batch is written after, on its own, so that
                // each check-in's credential is judged by itself.
                let mut seen = std::collections::HashSet::new();
                let (bulk, alone): (Vec<usize>, Vec<usize>) = (0..rows.len()).partition(|&i| seen.insert(rows[i].0.node_id.as_str()));
                let mut tx = self.begin_write().await?;
                let result = async {
                    let mut found = vec![false; rows.len()];
                    for chunk in bulk.chunks(sql::CHECKINS_PER_STATEMENT) {
                        let statement = sql::record_checkins(chunk.len(), $name == "postgres");
                        let mut query = sqlx::query_scalar::<_, String>(&statement);
                        for &i in chunk {
                            let (c, health, _) = &rows[i];
                            query = query.bind(c.node_id.as_str()).bind(millis(c.at)).bind(health.as_str()).bind(c.credential_hash.as_deref());
                        }
                        let written: std::collections::HashSet<String> = query.fetch_all(&mut *tx).await.map_err(db_error)?.into_iter().collect();
                        for &i in chunk {
                            found[i] = written.contains(&rows[i].0.node_id);
                        }
                    }
                    for &i in &alone {
                        let (c, health, _) = &rows[i];
                        let statement = match &c.credential_hash {
                            Some(hash) => sqlx::query(sql::RECORD_CHECKIN_WITH_CREDENTIAL)
                                .bind(&c.node_id)
                                .bind(millis(c.at))
                                .bind(health.as_str())
                                .bind(hash),
                            None => sqlx::query(sql::RECORD_CHECKIN).bind(&c.node_id).bind(millis(c.at)).bind(health.as_str()),
                        };
                        found[i] = statement.execute(&mut *tx).await.map_err(db_error)?.rows_affected() > 0;
                    }
                    for (i, (c, _, containers)) in rows.iter().enumerate() {
                        if let (true, Some(containers)) = (found[i], containers) {
                            sqlx::query(sql::UPSERT_INVENTORY)
                                .bind(&c.node_id)
                                .bind(containers.as_str())
                                .bind(millis(c.at))
                                .execute(&mut *tx)
                                .await
                                .map_err(db_error)?;
                        }
                    }
                    Ok(found)
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_inventory(&self, node_id: &str) -> Result<Option<Vec<Container>>> {
                let text: Option<String> = sqlx::query_scalar(sql::GET_INVENTORY)
                    .bind(node_id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                text.map(|t| inventory(node_id, &t)).transpose()
            }

            // --- enrollment and agent credentials ---

            #[tracing::instrument(skip_all)]
            async fn insert_enrollment(&self, token: &EnrollmentRecord, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(sql::INSERT_ENROLLMENT)
                        .bind(&token.id)
                        .bind(&token.node_id)
                        .bind(&token.org_id)
                        .bind(&token.secret_hash)
                        .bind(&token.created_by)
                        .bind(millis(token.created_at))
                        .bind(millis(token.expires_at))
                        .bind(opt_millis(token.used_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Enrollment { id: &token.id, node_id: &token.node_id }))?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn consume_enrollment(&self, secret_hash: &str, at: DateTime<Utc>) -> Result<Option<EnrollmentRecord>> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let taken: Option<EnrollmentRow> = sqlx::query_as(sql::CONSUME_ENROLLMENT)
                        .bind(secret_hash)
                        .bind(millis(at))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if let Some(row) = taken {
                        // This call used it: answer the token as it was, unused.
                        let mut record = row.into_record()?;
                        record.used_at = None;
                        return Ok(Some(record));
                    }
                    // Unknown, or used before (a used token never becomes unused again).
                    let row: Option<EnrollmentRow> = sqlx::query_as(sql::GET_ENROLLMENT_BY_HASH)
                        .bind(secret_hash)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    row.map(EnrollmentRow::into_record).transpose()
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn insert_agent_credential(&self, cred: &AgentCredentialRecord, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let subject = Subject::AgentCredential { id: &cred.id, node_id: &cred.node_id };
                    sqlx::query(sql::REVOKE_NODE_CREDENTIALS)
                        .bind(&cred.node_id)
                        .bind(millis(cred.created_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    sqlx::query(sql::INSERT_CREDENTIAL)
                        .bind(&cred.id)
                        .bind(&cred.node_id)
                        .bind(&cred.secret_hash)
                        .bind(millis(cred.created_at))
                        .bind(opt_millis(cred.revoked_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, subject))?;
                    let done = sqlx::query(sql::SET_NODE_ENROLLED)
                        .bind(&cred.node_id)
                        .bind(millis(cred.created_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("node", &cred.node_id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_agent_credential_by_hash(&self, secret_hash: &str) -> Result<Option<AgentCredentialRecord>> {
                let row: Option<CredentialRow> = sqlx::query_as(sql::GET_CREDENTIAL_BY_HASH)
                    .bind(secret_hash)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(CredentialRow::into_record).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn get_agent(&self, secret_hash: &str) -> Result<Option<AgentIdentity>> {
                let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(sql::GET_AGENT_BY_HASH)
                    .bind(secret_hash)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                Ok(row.map(|(credential_id, node_id, node_name, org_id)| AgentIdentity { node_id, node_name, org_id, credential_id }))
            }

            #[tracing::instrument(skip_all)]
            async fn revoke_agent_credentials(&self, node_id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let nodes: i64 =
                        sqlx::query_scalar(sql::NODE_EXISTS).bind(node_id).fetch_one(&mut *tx).await.map_err(db_error)?;
                    if nodes == 0 {
                        return Err(Error::not_found("node", node_id));
                    }
                    sqlx::query(sql::REVOKE_NODE_CREDENTIALS)
                        .bind(node_id)
                        .bind(millis(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            // --- jobs ---

            #[tracing::instrument(skip_all)]
            async fn insert_job(&self, job: &Job, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
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
            async fn get_job(&self, id: &str) -> Result<Option<Job>> {
                let row: Option<JobRow> =
                    sqlx::query_as(sql::GET_JOB).bind(id).fetch_optional(self.reader()).await.map_err(db_error)?;
                row.map(JobRow::into_job).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_jobs(&self, scope: &Scope, filter: &JobFilter, page: Page) -> Result<Vec<Job>> {
                let Built { sql, args } = sql::list_jobs(scope, filter, page);
                let rows: Vec<JobRow> = bind_all!(sqlx::query_as(&sql), args)
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, JobRow::into_job)
            }

            #[tracing::instrument(skip_all)]
            async fn update_job(&self, job: &Job, expected: JobState, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = bind_job!(sqlx::query(sql::UPDATE_JOB), job)
                        .bind(expected.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| write_error(e, Subject::Job { id: &job.id, node_id: &job.node_id }))?;
                    if done.rows_affected() == 0 {
                        let current: Option<String> = sqlx::query_scalar(sql::GET_JOB_STATE)
                            .bind(&job.id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_error)?;
                        return Err(job_changed(current.as_deref(), expected));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all, fields(writes = writes.len()))]
            async fn write_jobs(&self, writes: Vec<JobWrite>) -> Result<Vec<JobWritten>> {
                let postgres = $name == "postgres";
                let mut tx = self.begin_write().await?;
                let result = async {
                    let mut done: Vec<Option<JobWritten>> = vec![None; writes.len()];
                    let mut drafts: Vec<Vec<AuditDraft>> = vec![Vec::new(); writes.len()];
                    // Claims of distinct nodes (SQLite: of one job each), and ends of
                    // distinct jobs, are written a statement for many (PostgreSQL: claims
                    // and ends together); the rest one statement each.
                    let (shared_claims, shared_ends, alone) = shareable_job_writes(&writes, postgres);
                    let claims: Vec<SharedClaim> = shared_claims
                        .iter()
                        .filter_map(|&i| match writes.get(i) {
                            Some(JobWrite::Claim { node_id, now, max, .. }) => Some(SharedClaim { node_id, at: millis(*now), max: (*max).max(1) }),
                            _ => None,
                        })
                        .collect();
                    let ends: Vec<&Job> = shared_ends
                        .iter()
                        .filter_map(|&i| match writes.get(i) {
                            Some(JobWrite::End { end, .. }) => Some(end),
                            _ => None,
                        })
                        .collect();
                    if !claims.is_empty() || !ends.is_empty() {
                        let mut written = Self::write_shared_jobs(&mut tx, &claims, &ends).await?;
                        for &i in shared_claims.iter().chain(&shared_ends) {
                            match writes.get(i) {
                                Some(JobWrite::Claim { node_id, audit, .. }) => {
                                    let mut jobs = written.claimed.remove(node_id).unwrap_or_default();
                                    jobs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                                    drafts[i] = claim_drafts(audit, &jobs);
                                    done[i] = Some(JobWritten::Claimed(jobs));
                                }
                                Some(JobWrite::End { end, audit }) => {
                                    let job = written.ended.remove(&end.id);
                                    drafts[i] = job.iter().map(|j| end_draft(audit, j)).collect();
                                    done[i] = Some(JobWritten::Ended(job));
                                }
                                None => {}
                            }
                        }
                    }
                    for i in alone {
                        match writes.get(i) {
                            Some(JobWrite::Claim { node_id, now, max, audit }) => {
                                // One statement picks and claims (PostgreSQL: passing over
                                // rows other claimers hold); its state check means a claim
                                // can never take a job that is no longer queued.
                                let rows: Vec<JobRow> = sqlx::query_as(Self::CLAIM_NEXT_JOBS)
                                    .bind(node_id)
                                    .bind(millis(*now))
                                    .bind(i64::from((*max).max(1)))
                                    .fetch_all(&mut *tx)
                                    .await
                                    .map_err(db_error)?;
                                let mut jobs = convert(rows, JobRow::into_job)?;
                                jobs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                                drafts[i] = claim_drafts(audit, &jobs);
                                done[i] = Some(JobWritten::Claimed(jobs));
                            }
                            Some(JobWrite::End { end, audit }) => {
                                let row: Option<JobRow> = bind_end!(sqlx::query_as(sql::END_JOB), end)
                                    .fetch_optional(&mut *tx)
                                    .await
                                    .map_err(|e| write_error(e, Subject::Job { id: &end.id, node_id: &end.node_id }))?;
                                let job = row.map(JobRow::into_job).transpose()?;
                                drafts[i] = job.iter().map(|j| end_draft(audit, j)).collect();
                                done[i] = Some(JobWritten::Ended(job));
                            }
                            None => {}
                        }
                    }
                    Self::append_many_in(&mut tx, drafts.into_iter().flatten().collect()).await?;
                    done.into_iter()
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| Error::internal("A job write was left unanswered; nothing was changed."))
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn has_queued_job(&self, node_id: &str) -> Result<bool> {
                let queued: Option<String> = sqlx::query_scalar(sql::NEXT_QUEUED_JOB)
                    .bind(node_id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                Ok(queued.is_some())
            }

            #[tracing::instrument(skip_all)]
            async fn nodes_with_queued_jobs(&self, limit: u32) -> Result<Vec<String>> {
                sqlx::query_scalar(sql::NODES_WITH_QUEUED_JOBS)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)
            }

            #[tracing::instrument(skip_all)]
            async fn job_heartbeat(&self, job_id: &str, at: DateTime<Utc>) -> Result<()> {
                let done = sqlx::query(sql::JOB_HEARTBEAT)
                    .bind(job_id)
                    .bind(millis(at))
                    .execute(self.writer())
                    .await
                    .map_err(db_error)?;
                if done.rows_affected() == 0 {
                    return Err(Error::not_found("job", job_id));
                }
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn overdue_jobs(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Job>> {
                let rows: Vec<JobRow> = sqlx::query_as(sql::OVERDUE_JOBS)
                    .bind(millis(now))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, JobRow::into_job)
            }

            // --- leases ---

            #[tracing::instrument(skip_all)]
            async fn try_lease(&self, name: &str, holder: &str, now: DateTime<Utc>, ttl: TimeDelta) -> Result<bool> {
                let now = millis(now);
                let done = sqlx::query(sql::TRY_LEASE)
                    .bind(name)
                    .bind(holder)
                    .bind(now.saturating_add(ttl.num_milliseconds()))
                    .bind(now)
                    .execute(self.writer())
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

fn node_subject(node: &NodeRecord) -> Subject<'_> {
    Subject::Node { id: &node.id, org_id: node.org_id.as_deref() }
}

/// The answer to an update of a job whose stored state was not the expected one.
fn job_changed(current: Option<&str>, expected: JobState) -> Error {
    let expected = expected.label().to_lowercase();
    match current.and_then(JobState::parse) {
        Some(now) => Error::conflict(
            None,
            format!(
                "This job was changed by someone else first: it is now {}, no longer {expected}. Refresh and try again.",
                now.label().to_lowercase()
            ),
        ),
        None => Error::conflict(None, format!("This job no longer exists, so it is not {expected}.")),
    }
}

fn user_subject(record: &UserRecord) -> Subject<'_> {
    Subject::User { id: &record.user.id, username: &record.user.username, org_id: record.user.org_id.as_deref() }
}

store_impl!(SqliteStore, Sqlite, "sqlite");
store_impl!(PgStore, Postgres, "postgres");

// After the macros: it binds jobs with `bind_job!`.
mod instance_ops;
