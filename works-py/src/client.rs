//! The client: one `Arc<dyn works_core::Api>`, either the embedded core (`Session`) or
//! the remote client of `works-client`. Each method is one `Api` call.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use works_client::RemoteClient;
use works_core::auth::FIRST_ADMIN;
use works_core::{
    Api, ApproveJob, AuditQuery, Bootstrap, CoreConfig, DeployInput, Error, InstanceQuery, JobKind, JobQuery, JobState,
    LogsInput, NewJob, NewNode, NewOrg, NewToken, NewUser, NodeQuery, NodeThresholds, OrgQuery, Outcome, RenameNode,
    RenameOrg, ResetPassword, Result, Role, Session, TakeoverInput, TokenQuery, UserQuery, UserUpdate, Works,
};

use crate::fleet_records::{Container, EnrollmentToken, Job, Node};
use crate::instance_records::{Deployment, HealthIssue, HealthReport, Instance};
use crate::records::{ApiToken, AuditRecord, AuditVerification, CreatedToken, Org, PasswordReset, User};
use crate::runtime::{runtime, wait};

/// How the client reached its `Api`, kept so a child process after `os.fork()` can
/// reach it again with its own connections.
#[derive(Clone)]
enum Target {
    Embedded { database_url: String, identity: Identity },
    Remote { url: String, token: String },
}

#[derive(Clone)]
enum Identity {
    User(String),
    Token(String),
}

struct Live {
    pid: u32,
    /// The runtime generation its connections were made on.
    generation: u64,
    api: Arc<dyn Api>,
}

/// A client of Anthropy Works, from `works.open` (embedded) or `works.connect` (remote).
#[pyclass(frozen, module = "works._works")]
pub struct NativeClient {
    target: Target,
    live: Mutex<Option<Live>>,
    #[pyo3(get)]
    first_start_message: Option<String>,
    #[pyo3(get)]
    generated_admin_password: Option<String>,
}

impl Drop for NativeClient {
    fn drop(&mut self) {
        let live = self.live.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(live) = live {
            if live.pid != std::process::id() {
                // Inherited across fork: its connections belong to the parent.
                std::mem::forget(live.api);
            } else if let Ok(rt) = runtime() {
                // Connection pools close their connections on the runtime.
                let _guard = rt.enter();
                drop(live.api);
            }
        }
    }
}

async fn open_embedded(database_url: &str, identity: &Identity) -> Result<Arc<dyn Api>> {
    let works = embedded_core(database_url).await?;
    session(works, identity).await
}

/// How often, and how far apart, opening again after a fork is tried while SQLite says
/// the database is locked: the connections of the parent's stopped runtime may still be
/// closing (the last one checkpoints the write-ahead log).
const REOPEN_TRIES: u32 = 50;
const REOPEN_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

async fn reopen_embedded(database_url: &str, identity: &Identity) -> Result<Arc<dyn Api>> {
    let mut tries = 1;
    loop {
        match open_embedded(database_url, identity).await {
            Err(Error::Unavailable { message }) if message.contains("database is locked") && tries < REOPEN_TRIES => {
                tries += 1;
                tokio::time::sleep(REOPEN_PAUSE).await;
            }
            other => return other,
        }
    }
}

/// The core over the store at `database_url`, with the master key and the settings the
/// CLI would use.
async fn embedded_core(database_url: &str) -> Result<Works> {
    let config = core_config()?;
    let store = works_store::open(database_url).await?;
    // Test Access reaches hosts through the system OpenSSH, and live workflow steps
    // reach Google Drive, as they do from `works serve`.
    let mut works = Works::new(store)
        .with_config(config)
        .with_access_probe(Arc::new(works_ssh::OpenSshProbe::new()))
        .with_drive(Arc::new(works_drive::GoogleDrive::from_env()?));
    if let Some(key) = works_store::master_key(database_url, env("WORKS_MASTER_KEY").as_deref())? {
        works = works.with_master_key(&key);
    }
    Ok(works)
}

const STALE_AFTER_ENV: &str = "WORKS_NODE_STALE_AFTER_SECS";
const OFFLINE_AFTER_ENV: &str = "WORKS_NODE_OFFLINE_AFTER_SECS";

/// Seconds from the environment variable `name`, or `default` when it is not set.
fn seconds_from_env(name: &str, default: u64) -> Result<u64> {
    match env(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<u64>().map_err(|_| Error::invalid(name, "must be a whole number of seconds, such as 90")),
    }
}

/// The core's settings from the environment, as `works health` and `works serve` read
/// them: when nodes become stale and offline (`WORKS_NODE_STALE_AFTER_SECS`,
/// `WORKS_NODE_OFFLINE_AFTER_SECS`), and the OpenClaw image repository deploys use
/// (`WORKS_OPENCLAW_IMAGE`). So a database opened here answers as its server does.
fn core_config() -> Result<CoreConfig> {
    let defaults = NodeThresholds::default();
    let stale = seconds_from_env(STALE_AFTER_ENV, defaults.stale_after.num_seconds().unsigned_abs())?;
    let offline = seconds_from_env(OFFLINE_AFTER_ENV, defaults.offline_after.num_seconds().unsigned_abs())?;
    if stale == 0 {
        return Err(Error::invalid(STALE_AFTER_ENV, "must be at least 1"));
    }
    if offline < stale {
        return Err(Error::invalid(OFFLINE_AFTER_ENV, format!("must be at least the stale threshold ({stale} seconds)")));
    }
    let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
    let repository = env(works_core::openclaw::IMAGE_ENV).map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if let Some(repo) = &repository {
        works_core::openclaw::image_reference(works_core::openclaw::DEFAULT_VERSION, Some(repo))?;
    }
    Ok(CoreConfig {
        nodes: NodeThresholds { stale_after: secs(stale), offline_after: secs(offline) },
        openclaw_repository: repository,
        ..CoreConfig::default()
    })
}

async fn session(works: Works, identity: &Identity) -> Result<Arc<dyn Api>> {
    let actor = match identity {
        Identity::User(username) => works.local_actor(username).await?,
        Identity::Token(token) => works.authenticate(token).await?,
    };
    Ok(Arc::new(Session::new(works, actor)))
}

/// Where the first admin's password came from, for the first-start message.
#[derive(Clone, Copy)]
enum PasswordSource {
    Argument,
    Environment,
}

/// The one-time message of a first start, worded as `works serve` words it, and the
/// generated password when there is one.
fn first_start(outcome: &Bootstrap, source: PasswordSource) -> (Option<String>, Option<String>) {
    match outcome {
        Bootstrap::AlreadyDone => (None, None),
        Bootstrap::CreatedWithGivenPassword => {
            let from = match source {
                PasswordSource::Argument => "the given admin_password",
                PasswordSource::Environment => "the password from WORKS_ADMIN_PASSWORD",
            };
            (Some(format!("First start: created the MSP admin '{FIRST_ADMIN}' with {from}.")), None)
        }
        Bootstrap::CreatedWithGeneratedPassword(password) => (
            Some(format!(
                "First start: created the MSP admin '{FIRST_ADMIN}' with password {password}; it will not be shown again."
            )),
            Some(password.clone()),
        ),
    }
}

impl NativeClient {
    fn new(target: Target, api: Arc<dyn Api>, first_start: (Option<String>, Option<String>)) -> Self {
        let (first_start_message, generated_admin_password) = first_start;
        NativeClient {
            target,
            live: Mutex::new(Some(Live { pid: std::process::id(), generation: crate::runtime::generation(), api })),
            first_start_message,
            generated_admin_password,
        }
    }

    /// Whether the connections survive the runtime being stopped for a fork: SQLite's
    /// are threads of their own, not sockets of the runtime, so the parent keeps them
    /// (closing and opening them again around forks would race with the child's).
    fn outlives_runtime(&self) -> bool {
        matches!(&self.target, Target::Embedded { database_url, .. } if database_url.trim_start().starts_with("sqlite:"))
    }

    /// The `Api` of this process: the one opened here, or, after `os.fork()` (in the
    /// child, and in the parent, whose runtime was stopped for the fork), a new one
    /// reached the same way.
    fn api(&self, py: Python<'_>) -> PyResult<Arc<dyn Api>> {
        let pid = std::process::id();
        let generation = crate::runtime::generation();
        {
            let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            let current = |l: &&Live| l.pid == pid && (l.generation == generation || self.outlives_runtime());
            if let Some(live) = live.as_ref().filter(current) {
                return Ok(live.api.clone());
            }
        }
        let target = self.target.clone();
        let api = wait(py, async move {
            match &target {
                Target::Embedded { database_url, identity } => reopen_embedded(database_url, identity).await,
                Target::Remote { url, token } => Ok(Arc::new(RemoteClient::new(url, token.clone())?) as Arc<dyn Api>),
            }
        })?;
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = live.take() {
            if old.pid != pid {
                // Inherited across fork: its connections belong to the parent.
                std::mem::forget(old.api);
            } else if let Ok(rt) = runtime() {
                // Made on a runtime stopped for a fork: closed here.
                let _guard = rt.enter();
                drop(old.api);
            }
        }
        *live = Some(Live { pid, generation, api: api.clone() });
        Ok(api)
    }
}

fn role(name: &str) -> Result<Role> {
    name.parse()
}

fn outcome(name: &str) -> Result<Outcome> {
    Outcome::parse(name).ok_or_else(|| Error::invalid("outcome", "must be one of succeeded, denied, rejected, failed"))
}

fn job_kind(name: &str) -> Result<JobKind> {
    JobKind::parse(name.trim()).ok_or_else(|| {
        let all: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
        Error::invalid("kind", format!("must be one of {}, not {name}", all.join(", ")))
    })
}

fn job_state(name: &str) -> Result<JobState> {
    JobState::parse(name.trim()).ok_or_else(|| {
        let all: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        Error::invalid("state", format!("must be one of {}, not {name}", all.join(", ")))
    })
}

#[pymethods]
impl NativeClient {
    /// `embedded` or `remote`.
    #[getter]
    fn mode(&self) -> &'static str {
        match self.target {
            Target::Embedded { .. } => "embedded",
            Target::Remote { .. } => "remote",
        }
    }

    /// Who the client acts as (embedded, by username) or the server it talks to (remote).
    #[getter]
    fn target(&self) -> Option<String> {
        match &self.target {
            Target::Embedded { identity: Identity::User(u), .. } => Some(u.clone()),
            Target::Embedded { identity: Identity::Token(_), .. } => None,
            Target::Remote { url, .. } => Some(url.trim_end_matches('/').to_owned()),
        }
    }

    /// The user this client acts as.
    fn whoami(&self, py: Python<'_>) -> PyResult<User> {
        let api = self.api(py)?;
        wait(py, async move { api.whoami().await }).map(User::from)
    }

    /// Ends the signed-in session.
    fn logout(&self, py: Python<'_>) -> PyResult<()> {
        let api = self.api(py)?;
        wait(py, async move { api.logout().await })
    }

    /// Creates an organization.
    fn org_create(&self, py: Python<'_>, name: String) -> PyResult<Org> {
        let api = self.api(py)?;
        wait(py, async move { api.org_create(NewOrg { name }).await }).map(Org::from)
    }

    /// One page of organizations and the offset of the next, if any.
    #[pyo3(signature = (include_archived, offset, limit))]
    fn org_list(
        &self,
        py: Python<'_>,
        include_archived: bool,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> PyResult<(Vec<Org>, Option<u32>)> {
        let api = self.api(py)?;
        let page = wait(py, async move { api.org_list(OrgQuery { include_archived, offset, limit }).await })?;
        Ok((page.items.into_iter().map(Org::from).collect(), page.next_offset))
    }

    /// One organization.
    fn org_get(&self, py: Python<'_>, id: String) -> PyResult<Org> {
        let api = self.api(py)?;
        wait(py, async move { api.org_get(&id).await }).map(Org::from)
    }

    /// Renames an organization.
    fn org_rename(&self, py: Python<'_>, id: String, name: String) -> PyResult<Org> {
        let api = self.api(py)?;
        wait(py, async move { api.org_rename(&id, RenameOrg { name }).await }).map(Org::from)
    }

    /// Archives an organization.
    fn org_archive(&self, py: Python<'_>, id: String) -> PyResult<Org> {
        let api = self.api(py)?;
        wait(py, async move { api.org_archive(&id).await }).map(Org::from)
    }

    /// Creates a user.
    #[pyo3(signature = (username, role_name, password, org_id, display_name))]
    fn user_create(
        &self,
        py: Python<'_>,
        username: String,
        role_name: String,
        password: String,
        org_id: Option<String>,
        display_name: Option<String>,
    ) -> PyResult<User> {
        let api = self.api(py)?;
        wait(py, async move {
            let input = NewUser { username, display_name, role: role(&role_name)?, org_id, password };
            api.user_create(input).await
        })
        .map(User::from)
    }

    /// One page of users and the offset of the next, if any.
    #[pyo3(signature = (org_id, include_disabled, offset, limit))]
    fn user_list(
        &self,
        py: Python<'_>,
        org_id: Option<String>,
        include_disabled: bool,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> PyResult<(Vec<User>, Option<u32>)> {
        let api = self.api(py)?;
        let page = wait(py, async move { api.user_list(UserQuery { org_id, include_disabled, offset, limit }).await })?;
        Ok((page.items.into_iter().map(User::from).collect(), page.next_offset))
    }

    /// One user.
    fn user_get(&self, py: Python<'_>, id: String) -> PyResult<User> {
        let api = self.api(py)?;
        wait(py, async move { api.user_get(&id).await }).map(User::from)
    }

    /// Changes a user's display name or role.
    #[pyo3(signature = (id, display_name, role_name, org_id))]
    fn user_update(
        &self,
        py: Python<'_>,
        id: String,
        display_name: Option<String>,
        role_name: Option<String>,
        org_id: Option<String>,
    ) -> PyResult<User> {
        let api = self.api(py)?;
        wait(py, async move {
            let role = role_name.as_deref().map(role).transpose()?;
            api.user_update(&id, UserUpdate { display_name, role, org_id }).await
        })
        .map(User::from)
    }

    /// Disables a user and ends their sessions and tokens.
    fn user_disable(&self, py: Python<'_>, id: String) -> PyResult<User> {
        let api = self.api(py)?;
        wait(py, async move { api.user_disable(&id).await }).map(User::from)
    }

    /// Enables a disabled user.
    fn user_enable(&self, py: Python<'_>, id: String) -> PyResult<User> {
        let api = self.api(py)?;
        wait(py, async move { api.user_enable(&id).await }).map(User::from)
    }

    /// Sets a user's password, given or generated.
    #[pyo3(signature = (id, new_password))]
    fn user_reset_password(&self, py: Python<'_>, id: String, new_password: Option<String>) -> PyResult<PasswordReset> {
        let api = self.api(py)?;
        wait(py, async move { api.user_reset_password(&id, ResetPassword { new_password }).await }).map(PasswordReset::from)
    }

    /// Creates an API token; its secret is returned this once.
    #[pyo3(signature = (name, expires_in_days))]
    fn token_create(&self, py: Python<'_>, name: String, expires_in_days: Option<u32>) -> PyResult<CreatedToken> {
        let api = self.api(py)?;
        wait(py, async move { api.token_create(NewToken { name, expires_in_days }).await }).map(CreatedToken::from)
    }

    /// One page of API tokens and the offset of the next, if any.
    #[pyo3(signature = (user_id, offset, limit))]
    fn token_list(
        &self,
        py: Python<'_>,
        user_id: Option<String>,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> PyResult<(Vec<ApiToken>, Option<u32>)> {
        let api = self.api(py)?;
        let page = wait(py, async move { api.token_list(TokenQuery { user_id, offset, limit }).await })?;
        Ok((page.items.into_iter().map(ApiToken::from).collect(), page.next_offset))
    }

    /// Revokes an API token.
    fn token_revoke(&self, py: Python<'_>, id: String) -> PyResult<ApiToken> {
        let api = self.api(py)?;
        wait(py, async move { api.token_revoke(&id).await }).map(ApiToken::from)
    }

    /// One page of audit records, newest first, and the `before_seq` of the next, if any.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (actor_id, org_id, action, outcome_name, target_id, since, until, before_seq, limit))]
    fn audit_query(
        &self,
        py: Python<'_>,
        actor_id: Option<String>,
        org_id: Option<String>,
        action: Option<String>,
        outcome_name: Option<String>,
        target_id: Option<String>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        before_seq: Option<i64>,
        limit: Option<u32>,
    ) -> PyResult<(Vec<AuditRecord>, Option<i64>)> {
        let api = self.api(py)?;
        let page = wait(py, async move {
            let outcome = outcome_name.as_deref().map(outcome).transpose()?;
            let query = AuditQuery { actor_id, org_id, action, outcome, target_id, since, until, before_seq, limit };
            api.audit_query(query).await
        })?;
        Ok((page.records.into_iter().map(AuditRecord::from).collect(), page.next_before))
    }

    /// Checks the audit log's hash chain.
    fn audit_verify(&self, py: Python<'_>) -> PyResult<AuditVerification> {
        let api = self.api(py)?;
        wait(py, async move { api.audit_verify().await }).map(AuditVerification::from)
    }

    /// Adds a node for an organization, or as shared MSP infrastructure without one.
    #[pyo3(signature = (name, org_id))]
    fn node_create(&self, py: Python<'_>, name: String, org_id: Option<String>) -> PyResult<Node> {
        let api = self.api(py)?;
        wait(py, async move { api.node_create(NewNode { name, org_id }).await }).map(Node::from)
    }

    /// One page of nodes and the offset of the next, if any.
    #[pyo3(signature = (org_id, include_retired, offset, limit))]
    fn node_list(
        &self,
        py: Python<'_>,
        org_id: Option<String>,
        include_retired: bool,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> PyResult<(Vec<Node>, Option<u32>)> {
        let api = self.api(py)?;
        let page = wait(py, async move { api.node_list(NodeQuery { org_id, include_retired, offset, limit }).await })?;
        Ok((page.items.into_iter().map(Node::from).collect(), page.next_offset))
    }

    /// One node.
    fn node_get(&self, py: Python<'_>, id: String) -> PyResult<Node> {
        let api = self.api(py)?;
        wait(py, async move { api.node_get(&id).await }).map(Node::from)
    }

    /// Renames a node.
    fn node_rename(&self, py: Python<'_>, id: String, name: String) -> PyResult<Node> {
        let api = self.api(py)?;
        wait(py, async move { api.node_rename(&id, RenameNode { name }).await }).map(Node::from)
    }

    /// Retires a node and cuts its agent off.
    fn node_retire(&self, py: Python<'_>, id: String) -> PyResult<Node> {
        let api = self.api(py)?;
        wait(py, async move { api.node_retire(&id).await }).map(Node::from)
    }

    /// A node's containers as its agent last reported them.
    fn node_containers(&self, py: Python<'_>, id: String) -> PyResult<Vec<Container>> {
        let api = self.api(py)?;
        let list = wait(py, async move { api.node_containers(&id).await })?;
        Ok(list.into_iter().map(Container::from).collect())
    }

    /// Makes a one-time enrollment token for a node's agent; its secret is returned this once.
    fn enrollment_token_create(&self, py: Python<'_>, node_id: String) -> PyResult<EnrollmentToken> {
        let api = self.api(py)?;
        wait(py, async move { api.enrollment_token_create(&node_id).await }).map(EnrollmentToken::from)
    }

    /// Revokes the agent credential of a node.
    fn agent_revoke(&self, py: Python<'_>, node_id: String) -> PyResult<()> {
        let api = self.api(py)?;
        wait(py, async move { api.agent_revoke(&node_id).await })
    }

    /// Requests work on a node.
    #[pyo3(signature = (node_id, kind_name, params))]
    fn job_request(
        &self,
        py: Python<'_>,
        node_id: String,
        kind_name: String,
        params: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Job> {
        let to_py_err = |e| crate::errors::to_py_err(py, e);
        let params = match &params {
            Some(p) => crate::json::from_py("params", p).map_err(to_py_err)?,
            None => serde_json::Value::Null,
        };
        let api = self.api(py)?;
        wait(py, async move {
            let kind = job_kind(&kind_name)?;
            api.job_request(NewJob { node_id, kind, params }).await
        })
        .map(Job::from)
    }

    /// One page of jobs, newest first, and the offset of the next, if any.
    #[pyo3(signature = (node_id, state_name, offset, limit))]
    fn job_list(
        &self,
        py: Python<'_>,
        node_id: Option<String>,
        state_name: Option<String>,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> PyResult<(Vec<Job>, Option<u32>)> {
        let api = self.api(py)?;
        let page = wait(py, async move {
            let state = state_name.as_deref().map(job_state).transpose()?;
            api.job_list(JobQuery { node_id, state, offset, limit }).await
        })?;
        Ok((page.items.into_iter().map(Job::from).collect(), page.next_offset))
    }

    /// One job.
    fn job_get(&self, py: Python<'_>, id: String) -> PyResult<Job> {
        let api = self.api(py)?;
        wait(py, async move { api.job_get(&id).await }).map(Job::from)
    }

    /// Approves risky work by its phrase.
    fn job_approve(&self, py: Python<'_>, id: String, phrase: String) -> PyResult<Job> {
        let api = self.api(py)?;
        wait(py, async move { api.job_approve(&id, ApproveJob { phrase }).await }).map(Job::from)
    }

    /// Cancels work no agent has picked up yet.
    fn job_cancel(&self, py: Python<'_>, id: String) -> PyResult<Job> {
        let api = self.api(py)?;
        wait(py, async move { api.job_cancel(&id).await }).map(Job::from)
    }

    /// Requests a failed or timed-out job again, as a new job.
    fn job_retry(&self, py: Python<'_>, id: String) -> PyResult<Job> {
        let api = self.api(py)?;
        wait(py, async move { api.job_retry(&id).await }).map(Job::from)
    }

    /// The health of everything this client may see.
    fn health(&self, py: Python<'_>) -> PyResult<HealthReport> {
        let api = self.api(py)?;
        wait(py, async move { api.health().await }).map(HealthReport::from)
    }

    /// Acknowledges a current health issue with a note.
    fn health_acknowledge(&self, py: Python<'_>, issue_id: String, note: String) -> PyResult<HealthIssue> {
        let api = self.api(py)?;
        wait(py, async move { api.health_acknowledge(&issue_id, &note).await }).map(HealthIssue::from)
    }

    /// One page of OpenClaw instances and the offset of the next, if any.
    #[pyo3(signature = (node_id, offset, limit))]
    fn instance_list(
        &self,
        py: Python<'_>,
        node_id: Option<String>,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> PyResult<(Vec<Instance>, Option<u32>)> {
        let api = self.api(py)?;
        let page = wait(py, async move { api.instance_list(InstanceQuery { node_id, offset, limit }).await })?;
        Ok((page.items.into_iter().map(Instance::from).collect(), page.next_offset))
    }

    /// One OpenClaw instance.
    fn instance_get(&self, py: Python<'_>, id: String) -> PyResult<Instance> {
        let api = self.api(py)?;
        wait(py, async move { api.instance_get(&id).await }).map(Instance::from)
    }

    /// Takes over a discovered instance by its phrase.
    fn instance_takeover(&self, py: Python<'_>, id: String, phrase: String) -> PyResult<Instance> {
        let api = self.api(py)?;
        wait(py, async move { api.instance_takeover(&id, TakeoverInput { phrase }).await }).map(Instance::from)
    }

    /// Requests OpenClaw on a node: a new instance and its deploy job.
    #[pyo3(signature = (node_id, version, with_cli, gateway_port=None))]
    fn instance_deploy(
        &self,
        py: Python<'_>,
        node_id: String,
        version: Option<String>,
        with_cli: bool,
        gateway_port: Option<u16>,
    ) -> PyResult<Deployment> {
        let api = self.api(py)?;
        wait(py, async move { api.instance_deploy(DeployInput { node_id, version, with_cli, gateway_port }).await }).map(Deployment::from)
    }

    /// Asks the node's agent for an instance's health.
    fn instance_health_check(&self, py: Python<'_>, id: String) -> PyResult<Job> {
        let api = self.api(py)?;
        wait(py, async move { api.instance_health_check(&id).await }).map(Job::from)
    }

    /// Asks the node's agent for the last lines of an instance's gateway output.
    #[pyo3(signature = (id, lines))]
    fn instance_logs(&self, py: Python<'_>, id: String, lines: Option<u32>) -> PyResult<Job> {
        let api = self.api(py)?;
        wait(py, async move { api.instance_logs(&id, LogsInput { lines }).await }).map(Job::from)
    }

    /// Requests a restart of an instance's gateway; it waits for approval.
    fn instance_restart(&self, py: Python<'_>, id: String) -> PyResult<Job> {
        let api = self.api(py)?;
        wait(py, async move { api.instance_restart(&id).await }).map(Job::from)
    }

    /// Requests removal of an instance's containers (volumes kept); it waits for approval.
    fn instance_remove(&self, py: Python<'_>, id: String) -> PyResult<Job> {
        let api = self.api(py)?;
        wait(py, async move { api.instance_remove(&id).await }).map(Job::from)
    }

    /// One operation of the later areas by name (see `dispatch.rs`): `args` is a dict of
    /// JSON values; the answer is JSON values, or native jobs and nodes.
    fn call(&self, py: Python<'_>, op: String, args: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let args = crate::json::from_py("args", args)
            .and_then(crate::dispatch::Args::new)
            .map_err(|e| crate::errors::to_py_err(py, e))?;
        let api = self.api(py)?;
        wait(py, async move { crate::dispatch::call(api.as_ref(), &op, args).await })?.into_py(py)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Opens a database directly: the store, first-start setup as `works serve` does it,
/// and a session acting as `as_user` (or as the owner of `token`).
#[pyfunction]
#[pyo3(signature = (database_url, as_user, token, admin_password))]
pub fn open(
    py: Python<'_>,
    database_url: String,
    as_user: Option<String>,
    token: Option<String>,
    admin_password: Option<String>,
) -> PyResult<NativeClient> {
    let identity = match (as_user, token) {
        (Some(_), Some(_)) => {
            return Err(crate::errors::to_py_err(
                py,
                Error::invalid("token", "cannot be used together with as_user: act as a user, or as a token's owner"),
            ))
        }
        (None, Some(token)) => Identity::Token(token),
        (user, None) => Identity::User(user.unwrap_or_else(|| FIRST_ADMIN.to_owned())),
    };
    let source = if admin_password.is_some() { PasswordSource::Argument } else { PasswordSource::Environment };
    let admin_password = admin_password.or_else(|| env("WORKS_ADMIN_PASSWORD"));
    let url = database_url.clone();
    let who = identity.clone();
    let (api, bootstrap) = wait(py, async move {
        let works = embedded_core(&url).await?;
        let bootstrap = works.bootstrap(admin_password).await?;
        Ok((session(works, &who).await?, bootstrap))
    })?;
    Ok(NativeClient::new(Target::Embedded { database_url, identity }, api, first_start(&bootstrap, source)))
}

/// `works.backup.<op>(database_url, ...)`: the backup service on a database this
/// machine reaches, as `works backup <op>` runs it. The answer is a JSON document.
#[pyfunction]
pub fn backup(py: Python<'_>, database_url: String, op: String, args: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let args = crate::json::from_py("args", args)
        .and_then(crate::dispatch::Args::new)
        .map_err(|e| crate::errors::to_py_err(py, e))?;
    let value = wait(py, async move { crate::dispatch::backup(&database_url, &op, args).await })?;
    Ok(crate::json::to_py(py, &value)?.unbind())
}

/// What `connect` signs in with.
enum Credential {
    Token(String),
    Password { username: String, password: String },
}

fn credential(url: &str, token: Option<String>, username: Option<String>, password: Option<String>) -> Result<Credential> {
    match (token, username, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err(Error::invalid("token", "cannot be used together with username and password: give one"))
        }
        (Some(token), None, None) => Ok(Credential::Token(token)),
        (None, Some(username), Some(password)) => Ok(Credential::Password { username, password }),
        (None, Some(_), None) => Err(Error::invalid("password", "must be given together with username")),
        (None, None, Some(_)) => Err(Error::invalid("username", "must be given together with password")),
        (None, None, None) => env("WORKS_TOKEN").map(Credential::Token).ok_or_else(|| {
            Error::unauthenticated(format!(
                "No credential for {}: pass token=..., or username=... and password=..., or set WORKS_TOKEN.",
                url.trim().trim_end_matches('/')
            ))
        }),
    }
}

/// Connects to a running server with a token, or signs in with a username and password.
#[pyfunction]
#[pyo3(signature = (url, token, username, password))]
pub fn connect(
    py: Python<'_>,
    url: String,
    token: Option<String>,
    username: Option<String>,
    password: Option<String>,
) -> PyResult<NativeClient> {
    let credential = credential(&url, token, username, password).map_err(|e| crate::errors::to_py_err(py, e))?;
    let base = url.clone();
    let (client, token) = wait(py, async move {
        match credential {
            Credential::Token(token) => Ok((RemoteClient::new(&base, token.clone())?, token)),
            Credential::Password { username, password } => {
                let (client, outcome) = RemoteClient::login(&base, &username, &password).await?;
                Ok((client, outcome.token))
            }
        }
    })?;
    let api: Arc<dyn Api> = Arc::new(client);
    Ok(NativeClient::new(Target::Remote { url, token }, api, (None, None)))
}
