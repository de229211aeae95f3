//! Every statement of the store, shared by both backends. `$N` placeholders are accepted
//! by SQLite and PostgreSQL alike; only transaction start and chain locking differ, and
//! those live in `backend.rs`.

use works_core::audit::AuditQuery;
use works_core::jobs::JobFilter;
use works_core::model::{Page, Scope};
use works_core::store::UserFilter;

// Column lists, as macros so statements can be assembled with `concat!` at compile time.
macro_rules! org_columns {
    () => {
        "id, name, created_at, updated_at, archived_at"
    };
}
macro_rules! user_columns {
    () => {
        "id, username, display_name, role, org_id, disabled, password_hash, created_at, updated_at"
    };
}
macro_rules! token_columns {
    () => {
        "id, user_id, name, prefix, secret_hash, created_at, expires_at, last_used_at, revoked_at"
    };
}
macro_rules! session_columns {
    () => {
        "id, user_id, kind, secret_hash, csrf_hash, created_at, expires_at"
    };
}
macro_rules! audit_columns {
    () => {
        "seq, at, actor_id, actor_name, org_id, action, target_kind, target_id, outcome, reason, prev_hash, hash"
    };
}

macro_rules! node_columns {
    () => {
        "id, name, org_id, created_at, updated_at, retired_at, last_checkin_at, health, enrolled_at"
    };
}
macro_rules! enrollment_columns {
    () => {
        "id, node_id, org_id, secret_hash, created_by, created_at, expires_at, used_at"
    };
}
macro_rules! credential_columns {
    () => {
        "id, node_id, secret_hash, created_at, revoked_at"
    };
}
macro_rules! job_columns {
    () => {
        "id, node_id, org_id, kind, risk, state, params, attempts, max_attempts, timeout_secs, reason, \
         approval_phrase, requested_by, approved_by, approved_at, retry_of, result, output, created_at, \
         updated_at, claimed_at, heartbeat_at, deadline_at, expires_at, finished_at"
    };
}
/// The oldest queued job of node `$1` (a look before claiming, without any lock).
macro_rules! next_queued_job {
    () => {
        "SELECT id FROM jobs WHERE node_id = $1 AND state = 'queued' ORDER BY created_at, id LIMIT 1"
    };
}

// --- organizations ---

pub const INSERT_ORG: &str = concat!("INSERT INTO orgs (", org_columns!(), ") VALUES ($1, $2, $3, $4, $5)");

pub const UPDATE_ORG: &str = "UPDATE orgs SET name = $2, updated_at = $3, archived_at = $4 WHERE id = $1";

pub const GET_ORG: &str = concat!("SELECT ", org_columns!(), " FROM orgs WHERE id = $1");

// --- users ---

pub const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";

pub const INSERT_USER: &str =
    concat!("INSERT INTO users (", user_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");

/// Binds the same values in the same order as [`INSERT_USER`].
pub const UPDATE_USER: &str = "UPDATE users SET username = $2, display_name = $3, role = $4, org_id = $5, \
    disabled = $6, password_hash = $7, created_at = $8, updated_at = $9 WHERE id = $1";

pub const GET_USER: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");

pub const GET_USER_BY_USERNAME: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE username = $1");

pub const DELETE_USER_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = $1";

pub const REVOKE_USER_TOKENS: &str =
    "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";

// --- API tokens ---

pub const INSERT_TOKEN: &str =
    concat!("INSERT INTO api_tokens (", token_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");

pub const GET_TOKEN: &str = concat!("SELECT ", token_columns!(), " FROM api_tokens WHERE id = $1");

pub const GET_TOKEN_BY_HASH: &str = concat!("SELECT ", token_columns!(), " FROM api_tokens WHERE secret_hash = $1");

pub const LIST_TOKENS: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
);

/// Keeps the first revocation time when a token is revoked twice.
pub const REVOKE_TOKEN: &str = "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1";

pub const TOUCH_TOKEN: &str = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";

// --- sessions ---

pub const INSERT_SESSION: &str =
    concat!("INSERT INTO sessions (", session_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)");

pub const GET_SESSION_BY_HASH: &str = concat!("SELECT ", session_columns!(), " FROM sessions WHERE secret_hash = $1");

pub const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id = $1";

pub const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at < $1";

/// Enrollment tokens used before `$1`, or never used and expired before `$1`.
pub const DELETE_ENDED_ENROLLMENT_TOKENS: &str = "DELETE FROM enrollment_tokens WHERE COALESCE(used_at, expires_at) < $1";

// --- sign-in throttling ---

pub const RECORD_LOGIN_FAILURE: &str = "INSERT INTO login_failures (username, at) VALUES ($1, $2)";

pub const DELETE_OLD_LOGIN_FAILURES: &str = "DELETE FROM login_failures WHERE at < $1";

pub const COUNT_LOGIN_FAILURES: &str = "SELECT COUNT(*) FROM login_failures WHERE username = $1 AND at >= $2";

// --- audit ---

pub const AUDIT_HEAD: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";

/// PostgreSQL: waits for the chain lock `$1`, then reads the chain's last record.
pub const LOCK_AUDIT_HEAD: &str = "SELECT head_seq, head_hash FROM audit_chain_head($1)";

/// `rows` audit records in one statement, twelve parameters each in the order of the
/// columns.
pub fn insert_audit(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p: Vec<String> = (1..=AUDIT_PARAMS).map(|c| format!("${}", r * AUDIT_PARAMS + c)).collect();
            format!("({})", p.join(", "))
        })
        .collect();
    format!(concat!("INSERT INTO audit_log (", audit_columns!(), ") VALUES {}"), values.join(", "))
}

const AUDIT_PARAMS: usize = 12;

/// PostgreSQL: audit records given as one array per column, in the order of the
/// columns, in one statement whatever their number.
pub const INSERT_AUDIT_ARRAYS: &str = concat!(
    "INSERT INTO audit_log (",
    audit_columns!(),
    ") SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])"
);

/// The most audit records [`insert_audit`] writes in one statement.
pub const AUDIT_ROWS_PER_STATEMENT: usize = 100;

pub const AUDIT_CHAIN: &str =
    concat!("SELECT ", audit_columns!(), " FROM audit_log WHERE seq > $1 ORDER BY seq ASC LIMIT $2");

// --- nodes ---

pub const INSERT_NODE: &str =
    concat!("INSERT INTO nodes (", node_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");

/// Writes the name and `updated_at`: `created_at` never changes, `retired_at` changes
/// only through [`RETIRE_NODE`], and check-in fields only through [`RECORD_CHECKIN`].
pub const UPDATE_NODE: &str = "UPDATE nodes SET name = $2, updated_at = $3 WHERE id = $1";

/// Keeps the first retirement time when a node is retired twice.
pub const RETIRE_NODE: &str = "UPDATE nodes SET retired_at = COALESCE(retired_at, $2), updated_at = $3 WHERE id = $1";

pub const GET_NODE: &str = concat!("SELECT ", node_columns!(), " FROM nodes WHERE id = $1");

pub const NODE_EXISTS: &str = "SELECT COUNT(*) FROM nodes WHERE id = $1";

pub const RECORD_CHECKIN: &str = "UPDATE nodes SET last_checkin_at = $2, health = $3 WHERE id = $1";

/// A check-in that is also the agent's credential check: written only while the
/// credential with this hash is the node's, unrevoked, and the node is not retired.
pub const RECORD_CHECKIN_WITH_CREDENTIAL: &str = "UPDATE nodes SET last_checkin_at = $2, health = $3 \
    WHERE id = $1 AND retired_at IS NULL AND EXISTS (SELECT 1 FROM agent_credentials c \
    WHERE c.secret_hash = $4 AND c.node_id = $1 AND c.revoked_at IS NULL)";

/// Check-ins of distinct nodes in one statement (`rows` of them, four parameters each:
/// node id, time, health, credential hash or null), answering the ids of the nodes
/// written. A row with a credential hash is written only as
/// [`RECORD_CHECKIN_WITH_CREDENTIAL`] would.
pub fn record_checkins(rows: usize, postgres: bool) -> String {
    let (text, big) = if postgres { ("::text", "::bigint") } else { ("", "") };
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p = r * 4;
            format!("(${}{text}, ${}{big}, ${}{text}, ${}{text})", p + 1, p + 2, p + 3, p + 4)
        })
        .collect();
    format!(
        "WITH v (id, at, health, hash) AS (VALUES {}) \
         UPDATE nodes SET last_checkin_at = v.at, health = v.health FROM v \
         WHERE nodes.id = v.id AND (v.hash IS NULL OR (nodes.retired_at IS NULL AND EXISTS \
         (SELECT 1 FROM agent_credentials c WHERE c.secret_hash = v.hash AND c.node_id = nodes.id AND c.revoked_at IS NULL))) \
         RETURNING nodes.id",
        values.join(", ")
    )
}

/// The most check-ins [`record_checkins`] writes in one statement.
pub const CHECKINS_PER_STATEMENT: usize = 500;

pub const SET_NODE_ENROLLED: &str = "UPDATE nodes SET enrolled_at = $2 WHERE id = $1";

pub const UPSERT_INVENTORY: &str = "INSERT INTO node_inventory (node_id, containers, updated_at) VALUES ($1, $2, $3) \
    ON CONFLICT (node_id) DO UPDATE SET containers = excluded.containers, updated_at = excluded.updated_at";

pub const GET_INVENTORY: &str = "SELECT containers FROM node_inventory WHERE node_id = $1";

// --- enrollment tokens and agent credentials ---

pub const INSERT_ENROLLMENT: &str =
    concat!("INSERT INTO enrollment_tokens (", enrollment_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");

/// Marks an unused token used. One statement: of two concurrent consumers, the second
/// finds the row no longer matching and changes nothing.
pub const CONSUME_ENROLLMENT: &str = concat!(
    "UPDATE enrollment_tokens SET used_at = $2 WHERE secret_hash = $1 AND used_at IS NULL RETURNING ",
    enrollment_columns!()
);

pub const GET_ENROLLMENT_BY_HASH: &str =
    concat!("SELECT ", enrollment_columns!(), " FROM enrollment_tokens WHERE secret_hash = $1");

pub const INSERT_CREDENTIAL: &str =
    concat!("INSERT INTO agent_credentials (", credential_columns!(), ") VALUES ($1, $2, $3, $4, $5)");

pub const GET_CREDENTIAL_BY_HASH: &str =
    concat!("SELECT ", credential_columns!(), " FROM agent_credentials WHERE secret_hash = $1");

/// The agent holding a credential: the credential's id and its node's id, name and
/// organization, while the credential is unrevoked and the node not retired.
pub const GET_AGENT_BY_HASH: &str = "SELECT c.id, n.id, n.name, n.org_id FROM agent_credentials c JOIN nodes n ON n.id = c.node_id \
    WHERE c.secret_hash = $1 AND c.revoked_at IS NULL AND n.retired_at IS NULL";

/// Keeps the revocation time of credentials revoked before.
pub const REVOKE_NODE_CREDENTIALS: &str =
    "UPDATE agent_credentials SET revoked_at = $2 WHERE node_id = $1 AND revoked_at IS NULL";

// --- jobs ---

pub const INSERT_JOB: &str = concat!(
    "INSERT INTO jobs (",
    job_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
     $21, $22, $23, $24, $25)"
);

/// Binds the same values in the same order as [`INSERT_JOB`], then the state the stored
/// job must still be in as `$26`.
pub const UPDATE_JOB: &str = "UPDATE jobs SET node_id = $2, org_id = $3, kind = $4, risk = $5, state = $6, \
    params = $7, attempts = $8, max_attempts = $9, timeout_secs = $10, reason = $11, approval_phrase = $12, \
    requested_by = $13, approved_by = $14, approved_at = $15, retry_of = $16, result = $17, output = $18, \
    created_at = $19, updated_at = $20, claimed_at = $21, heartbeat_at = $22, deadline_at = $23, \
    expires_at = $24, finished_at = $25 WHERE id = $1 AND state = $26";

/// Every column of a job, in the order `JobRow` decodes.
pub const JOB_COLUMNS: &str = job_columns!();

pub const GET_JOB: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");

pub const GET_JOB_STATE: &str = "SELECT state FROM jobs WHERE id = $1";

/// Whether node `$1` has a queued job, read without a lock.
pub const NEXT_QUEUED_JOB: &str = next_queued_job!();

/// Up to `$1` nodes that have a queued job (few rows: queued jobs are claimed as soon as
/// an agent asks; found through an index that leads with `state`).
pub const NODES_WITH_QUEUED_JOBS: &str = "SELECT DISTINCT node_id FROM jobs WHERE state = 'queued' LIMIT $1";


/// Claims node `$1`'s picked queued jobs at `$2` (unix ms) in one statement; the pick is
/// [`next_queued_jobs`] (SQLite, inside its writer transaction) or that with a row lock
/// (PostgreSQL). The state check repeats the pick's, so a claim never takes a job that
/// is no longer queued.
macro_rules! claim_next_jobs {
    ($in:literal, $pick:expr, $close:literal) => {
        concat!(
            "UPDATE jobs SET state = 'claimed', attempts = attempts + 1, claimed_at = $2, heartbeat_at = $2, \
             deadline_at = $2 + timeout_secs * 1000, reason = NULL, updated_at = $2 \
             WHERE state = 'queued' AND id ",
            $in,
            $pick,
            $close,
            " RETURNING ",
            job_columns!()
        )
    };
}

/// The oldest `$3` queued jobs of node `$1`.
macro_rules! next_queued_jobs {
    () => {
        "SELECT id FROM jobs WHERE node_id = $1 AND state = 'queued' ORDER BY created_at, id LIMIT $3"
    };
}

/// SQLite: claims up to `$3` of node `$1`'s oldest queued jobs at `$2`, in its one
/// writer transaction.
pub const CLAIM_NEXT_JOBS: &str = claim_next_jobs!("IN (", next_queued_jobs!(), ")");
/// PostgreSQL: the same, passing over rows other claimers hold. The pick is made once
/// into an array: as an `IN` subquery the planner may run it again per row, and a
/// re-run with `SKIP LOCKED` would claim more than `$3` jobs.
pub const CLAIM_NEXT_JOBS_LOCKED: &str = claim_next_jobs!("= ANY(ARRAY(", concat!(next_queued_jobs!(), " FOR UPDATE SKIP LOCKED"), "))");

/// How a shared claim sets a job; `p.claim_at` is the claim time (unix ms).
macro_rules! claim_set {
    () => {
        "state = 'claimed', attempts = attempts + 1, claimed_at = p.claim_at, heartbeat_at = p.claim_at, \
         deadline_at = p.claim_at + timeout_secs * 1000, reason = NULL, updated_at = p.claim_at"
    };
}

/// How a shared end sets a job, and which job it may end: `e` holds the end.
macro_rules! end_set_where {
    () => {
        "state = e.end_state, result = e.end_result, output = e.end_output, reason = e.end_reason, \
         finished_at = e.end_at, updated_at = e.end_at FROM e \
         WHERE jobs.id = e.end_id AND jobs.node_id = e.end_node AND jobs.state IN ('claimed', 'running')"
    };
}

/// SQLite: claims the oldest queued job of each of `claims` distinct nodes (two
/// parameters each: node id, claim time in unix ms), as [`CLAIM_NEXT_JOBS`] claims one;
/// or ends `ends` distinct jobs (seven parameters each: id, node id, state, result,
/// output, reason, finished time), each as [`END_JOB`] ends one. One of the two counts is
/// zero: SQLite cannot write in a `WITH` clause. Answers the jobs written.
pub fn write_jobs(claims: usize, ends: usize) -> String {
    if claims > 0 {
        let values: Vec<String> = (0..claims).map(|r| format!("(${}, ${})", r * 2 + 1, r * 2 + 2)).collect();
        format!(
            concat!(
                "WITH p (claim_node, claim_at) AS (VALUES {}) UPDATE jobs SET ",
                claim_set!(),
                " FROM p WHERE jobs.state = 'queued' AND jobs.id = \
                 (SELECT q.id FROM jobs q WHERE q.node_id = p.claim_node AND q.state = 'queued' ORDER BY q.created_at, q.id LIMIT 1) \
                 RETURNING ",
                job_columns!()
            ),
            values.join(", ")
        )
    } else {
        let values: Vec<String> = (0..ends)
            .map(|r| {
                let p: Vec<String> = (1..=7).map(|c| format!("${}", r * 7 + c)).collect();
                format!("({})", p.join(", "))
            })
            .collect();
        format!(
            concat!(
                "WITH e (end_id, end_node, end_state, end_result, end_output, end_reason, end_at) AS (VALUES {}) UPDATE jobs SET ",
                end_set_where!(),
                " RETURNING ",
                job_columns!()
            ),
            values.join(", ")
        )
    }
}

/// PostgreSQL: claims the oldest queued jobs of each node of `$1` (claim times `$2`,
/// unix ms; at most `$3` jobs each), passing over rows other claimers hold, as
/// [`CLAIM_NEXT_JOBS_LOCKED`] claims them for one node; and ends the jobs of `$4` (nodes
/// `$5`, states `$6`, results `$7`, outputs `$8`, reasons `$9`, finished times `$10`),
/// each as [`END_JOB`] ends one. Arrays, so that one statement, prepared once per
/// connection, writes any number. A claim takes a queued job and an end a claimed or
/// running one, so the two never write the same row. Answers every job written, its
/// column `written` saying `claimed` or `ended`.
///
/// Both kinds first find and lock their rows one input at a time (`p`, `f`: an index
/// lookup per node or job, as `LATERAL` fixes the order), then update exactly those
/// rows by key. The updates repeat no condition on `state`: the lock already holds the
/// state as checked, and a condition on `state` would let the planner start from the
/// `state` indexes. With statistics taken before the jobs changed state it expects one
/// claimed job where there are thousands, and its generic plan expects ten inputs where
/// there are thousands: it then compared every claimed job with every report
/// (thousands of reports took seconds instead of milliseconds).
pub const WRITE_JOBS_ARRAYS: &str = concat!(
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v (claim_node, claim_at, claim_max)), \
     p AS MATERIALIZED (SELECT q.picked_id, v.claim_at FROM v CROSS JOIN LATERAL \
     (SELECT id AS picked_id FROM jobs WHERE jobs.node_id = v.claim_node AND jobs.state = 'queued' \
     ORDER BY created_at, id LIMIT v.claim_max FOR UPDATE SKIP LOCKED) q), \
     c AS (UPDATE jobs SET ",
    claim_set!(),
    " FROM p WHERE jobs.id = p.picked_id RETURNING ",
    job_columns!(),
    "), e AS (SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[]) \
     AS e (end_id, end_node, end_state, end_result, end_output, end_reason, end_at)), \
     f AS MATERIALIZED (SELECT r.ended_id, e.* FROM e CROSS JOIN LATERAL \
     (SELECT id AS ended_id FROM jobs WHERE jobs.id = e.end_id AND jobs.node_id = e.end_node \
     AND jobs.state IN ('claimed', 'running') FOR UPDATE) r), \
     d AS (UPDATE jobs SET state = f.end_state, result = f.end_result, output = f.end_output, \
     reason = f.end_reason, finished_at = f.end_at, updated_at = f.end_at FROM f WHERE jobs.id = f.ended_id \
     RETURNING ",
    job_columns!(),
    ") SELECT 'claimed' AS written, * FROM c UNION ALL SELECT 'ended' AS written, * FROM d"
);

/// The most claims, or ends, [`write_jobs`] writes in one statement.
pub const JOB_WRITES_PER_STATEMENT: usize = 200;

/// Ends job `$1` of node `$2` if it is claimed or running: state `$3`, result `$4`,
/// output `$5`, reason `$6`, finished (and updated) at `$7`.
pub const END_JOB: &str = concat!(
    "UPDATE jobs SET state = $3, result = $4, output = $5, reason = $6, finished_at = $7, updated_at = $7 \
     WHERE id = $1 AND node_id = $2 AND state IN ('claimed', 'running') RETURNING ",
    job_columns!()
);

pub const JOB_HEARTBEAT: &str = "UPDATE jobs SET heartbeat_at = $2 WHERE id = $1";

/// Claimed or running past the deadline, or still waiting past expiry; oldest first.
pub const OVERDUE_JOBS: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs WHERE (state IN ('claimed', 'running') AND deadline_at <= $1) \
     OR (state IN ('requested', 'awaiting_approval', 'queued') AND expires_at <= $1) \
     ORDER BY created_at, id LIMIT $2"
);

// --- leases ---

/// Takes lease `$1` for holder `$2` until `$3` when it is free, expired at `$4`, or
/// already held by `$2`. Changes one row exactly when `$2` holds the lease afterwards.
pub const TRY_LEASE: &str = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
    WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder";

// --- readiness ---

pub const LATEST_MIGRATION: &str = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";

/// A value bound to a built statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// A statement assembled from optional filters, with its arguments in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Built {
    fn select(columns: &str, table: &str) -> Self {
        Built { sql: format!("SELECT {columns} FROM {table} WHERE 1 = 1"), args: Vec::new() }
    }

    /// Appends `AND <before>$N<after>` binding `arg` as `$N`.
    fn and(&mut self, before: &str, arg: Arg, after: &str) {
        self.args.push(arg);
        let n = self.args.len();
        self.sql.push_str(&format!(" AND {before}${n}{after}"));
    }

    fn raw(&mut self, text: &str) {
        self.sql.push(' ');
        self.sql.push_str(text);
    }

    fn limit_offset(&mut self, limit: i64, offset: Option<i64>) {
        self.args.push(Arg::Int(limit));
        let n = self.args.len();
        self.sql.push_str(&format!(" LIMIT ${n}"));
        if let Some(offset) = offset {
            self.args.push(Arg::Int(offset));
            let n = self.args.len();
            self.sql.push_str(&format!(" OFFSET ${n}"));
        }
    }
}

pub fn list_orgs(scope: &Scope, include_archived: bool, page: Page) -> Built {
    let mut b = Built::select(org_columns!(), "orgs");
    match scope {
        Scope::All => {}
        Scope::Org(id) => b.and("id = ", Arg::Text(id.clone()), ""),
        // The organization of that user; a user without one (or no such user) matches nothing.
        Scope::User(user_id) => b.and("id = (SELECT org_id FROM users WHERE id = ", Arg::Text(user_id.clone()), ")"),
    }
    if !include_archived {
        b.raw("AND archived_at IS NULL");
    }
    b.raw("ORDER BY lower(name), name, id");
    b.limit_offset(i64::from(page.limit), Some(i64::from(page.offset)));
    b
}

pub fn list_users(scope: &Scope, filter: &UserFilter, page: Page) -> Built {
    let mut b = Built::select(user_columns!(), "users");
    match scope {
        Scope::All => {}
        Scope::Org(org_id) => b.and("org_id = ", Arg::Text(org_id.clone()), ""),
        Scope::User(user_id) => b.and("id = ", Arg::Text(user_id.clone()), ""),
    }
    if let Some(org_id) = &filter.org_id {
        b.and("org_id = ", Arg::Text(org_id.clone()), "");
    }
    if !filter.include_disabled {
        b.and("disabled = ", Arg::Bool(false), "");
    }
    b.raw("ORDER BY username, id");
    b.limit_offset(i64::from(page.limit), Some(i64::from(page.offset)));
    b
}

/// Ordered by name. An organization user's scope holds no nodes.
pub fn list_nodes(scope: &Scope, org_id: Option<&str>, include_retired: bool, page: Page) -> Built {
    let mut b = Built::select(node_columns!(), "nodes");
    fleet_scope(&mut b, scope);
    if let Some(org_id) = org_id {
        b.and("org_id = ", Arg::Text(org_id.to_owned()), "");
    }
    if !include_retired {
        b.raw("AND retired_at IS NULL");
    }
    b.raw("ORDER BY name, id");
    b.limit_offset(i64::from(page.limit), Some(i64::from(page.offset)));
    b
}

/// Newest first. An organization user's scope holds no jobs.
pub fn list_jobs(scope: &Scope, filter: &JobFilter, page: Page) -> Built {
    let mut b = Built::select(job_columns!(), "jobs");
    fleet_scope(&mut b, scope);
    if let Some(node_id) = &filter.node_id {
        b.and("node_id = ", Arg::Text(node_id.clone()), "");
    }
    if let Some(state) = filter.state {
        b.and("state = ", Arg::Text(state.as_str().to_owned()), "");
    }
    b.raw("ORDER BY created_at DESC, id DESC");
    b.limit_offset(i64::from(page.limit), Some(i64::from(page.offset)));
    b
}

/// Nodes and jobs belong to an organization (or to the MSP); no user owns one.
fn fleet_scope(b: &mut Built, scope: &Scope) {
    match scope {
        Scope::All => {}
        Scope::Org(org_id) => b.and("org_id = ", Arg::Text(org_id.clone()), ""),
        Scope::User(_) => b.raw("AND 1 = 0"),
    }
}

/// Newest first; asks for `fetch` records (the caller asks for one more than it shows).
pub fn query_audit(scope: &Scope, q: &AuditQuery, fetch: i64) -> Built {
    let mut b = Built::select(audit_columns!(), "audit_log");
    match scope {
        Scope::All => {}
        Scope::Org(org_id) => b.and("org_id = ", Arg::Text(org_id.clone()), ""),
        Scope::User(user_id) => b.and("actor_id = ", Arg::Text(user_id.clone()), ""),
    }
    if let Some(actor_id) = &q.actor_id {
        b.and("actor_id = ", Arg::Text(actor_id.clone()), "");
    }
    if let Some(org_id) = &q.org_id {
        b.and("org_id = ", Arg::Text(org_id.clone()), "");
    }
    if let Some(action) = &q.action {
        if action.ends_with('.') {
            // A family of actions. `substr` compares exactly (LIKE would treat `_` as a
            // wildcard and ignore case on SQLite).
            b.args.push(Arg::Text(action.clone()));
            let n = b.args.len();
            b.sql.push_str(&format!(" AND substr(action, 1, length(${n})) = ${n}"));
        } else {
            b.and("action = ", Arg::Text(action.clone()), "");
        }
    }
    if let Some(outcome) = q.outcome {
        b.and("outcome = ", Arg::Text(outcome.as_str().to_owned()), "");
    }
    if let Some(target_id) = &q.target_id {
        b.and("target_id = ", Arg::Text(target_id.clone()), "");
    }
    if let Some(since) = q.since {
        b.and("at >= ", Arg::Int(since.timestamp_millis()), "");
    }
    if let Some(until) = q.until {
        b.and("at <= ", Arg::Int(until.timestamp_millis()), "");
    }
    if let Some(before) = q.before_seq {
        b.and("seq < ", Arg::Int(before), "");
    }
    b.raw("ORDER BY seq DESC");
    b.limit_offset(fetch, None);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use works_core::jobs::JobState;

    #[test]
    fn placeholders_follow_the_argument_order() {
        let q = AuditQuery {
            actor_id: Some("a".into()),
            action: Some("org.".into()),
            before_seq: Some(10),
            ..AuditQuery::default()
        };
        let b = query_audit(&Scope::Org("o".into()), &q, 51);
        assert!(b.sql.contains("org_id = $1"), "{}", b.sql);
        assert!(b.sql.contains("actor_id = $2"), "{}", b.sql);
        assert!(b.sql.contains("substr(action, 1, length($3)) = $3"), "{}", b.sql);
        assert!(b.sql.contains("seq < $4"), "{}", b.sql);
        assert!(b.sql.ends_with("ORDER BY seq DESC LIMIT $5"), "{}", b.sql);
        assert_eq!(
            b.args,
            vec![
                Arg::Text("o".into()),
                Arg::Text("a".into()),
                Arg::Text("org.".into()),
                Arg::Int(10),
                Arg::Int(51)
            ]
        );
    }

    #[test]
    fn fleet_lists_apply_the_scope_first_and_hide_everything_from_a_user_scope() {
        let b = list_nodes(&Scope::Org("o".into()), Some("p"), false, Page { offset: 2, limit: 9 });
        assert!(b.sql.contains("org_id = $1 AND org_id = $2"), "{}", b.sql);
        assert!(b.sql.contains("retired_at IS NULL"), "{}", b.sql);
        assert!(b.sql.ends_with("ORDER BY name, id LIMIT $3 OFFSET $4"), "{}", b.sql);
        assert_eq!(b.args, vec![Arg::Text("o".into()), Arg::Text("p".into()), Arg::Int(9), Arg::Int(2)]);

        let b = list_jobs(&Scope::User("u".into()), &JobFilter { node_id: Some("n".into()), state: Some(JobState::Queued) }, Page { offset: 0, limit: 5 });
        assert!(b.sql.contains("AND 1 = 0"), "{}", b.sql);
        assert!(b.sql.contains("node_id = $1 AND state = $2"), "{}", b.sql);
        assert_eq!(b.args, vec![Arg::Text("n".into()), Arg::Text("queued".into()), Arg::Int(5), Arg::Int(0)]);
    }

    #[test]
    fn only_postgres_claims_lock_rows() {
        assert!(CLAIM_NEXT_JOBS_LOCKED.contains("= ANY(ARRAY(SELECT id FROM jobs WHERE node_id = $1 AND state = 'queued' ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED))"));
        assert!(!CLAIM_NEXT_JOBS.contains("FOR UPDATE"));
        assert!(!NEXT_QUEUED_JOB.contains("FOR UPDATE"));
    }

    #[test]
    fn audit_rows_are_numbered_in_column_order() {
        let one = insert_audit(1);
        assert!(one.ends_with("VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"), "{one}");
        let two = insert_audit(2);
        assert!(two.ends_with("($13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"), "{two}");
        assert_eq!(two.matches('(').count(), 3, "{two}");
    }

    #[test]
    fn user_scope_of_orgs_goes_through_the_user() {
        let b = list_orgs(&Scope::User("u".into()), false, Page { offset: 5, limit: 3 });
        assert!(b.sql.contains("id = (SELECT org_id FROM users WHERE id = $1)"), "{}", b.sql);
        assert!(b.sql.contains("archived_at IS NULL"), "{}", b.sql);
        assert_eq!(b.args, vec![Arg::Text("u".into()), Arg::Int(3), Arg::Int(5)]);
    }
}
