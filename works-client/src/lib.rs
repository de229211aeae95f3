//! `works_core::Api` over HTTP.
//!
//! [`RemoteClient`] talks to a running Anthropy Works server through its JSON API under
//! `/api/v1` and gives back exactly what the embedded core gives: the same results and
//! the same [`works_core::Error`]s, decoded from the server's error bodies.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
pub use reqwest::Url;
pub use webhook::{WebhookNotifier, WEBHOOK_TIMEOUT};
use works_core::{
    Api, ApiToken, ApproveJob, AuditPage, AuditQuery, AuditVerification, Container, CreatedToken, EnrollmentToken,
    Error, Job, JobQuery, Listing, LoginInput, LoginOutcome, NewJob, NewNode, NewOrg, NewToken, NewUser, Node,
    NodeQuery, Org, OrgQuery, PasswordReset, RenameNode, RenameOrg, ResetPassword, Result, TokenQuery, User,
    UserQuery, UserUpdate,
};

/// What `GET /api/v1/version` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerVersion {
    pub version: String,
    pub commit: String,
}

/// The error body every non-success answer of the API carries.
#[derive(Deserialize)]
struct ErrorBody {
    error: Error,
}

/// A signed-in connection to an Anthropy Works server.
#[derive(Clone)]
pub struct RemoteClient {
    base: Url,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for RemoteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteClient").field("base", &self.base.as_str()).field("token", &"<hidden>").finish()
    }
}

/// Parses a server address such as `http://127.0.0.1:8080` or `https://works.example.net/`.
pub fn parse_base_url(base_url: &str) -> Result<Url> {
    let trimmed = base_url.trim();
    let invalid = |problem: &str| Error::invalid("server", problem);
    if trimmed.is_empty() {
        return Err(invalid("must not be empty: give the address of the server, such as http://127.0.0.1:8080"));
    }
    let mut url = Url::parse(trimmed)
        .map_err(|_| invalid("is not a valid address: give one such as http://127.0.0.1:8080"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must start with http:// or https://"));
    }
    if url.host_str().is_none() {
        return Err(invalid("must name a host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must be a plain address without credentials, query or fragment"));
    }
    // One trailing slash, so joining paths keeps any prefix the server is mounted under.
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{path}/"));
    Ok(url)
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("works-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::internal(format!("Could not set up the HTTP client: {e}")))
}

impl RemoteClient {
    /// A client that presents `token` (a sign-in token or an API token) as a bearer.
    pub fn new(base_url: &str, token: impl Into<String>) -> Result<Self> {
        Ok(RemoteClient { base: parse_base_url(base_url)?, token: token.into(), http: http_client()? })
    }

    /// Signs in with a username and password and returns a client holding the new
    /// session's token, with what the server answered.
    pub async fn login(base_url: &str, username: &str, password: &str) -> Result<(RemoteClient, LoginOutcome)> {
        let mut client = RemoteClient { base: parse_base_url(base_url)?, token: String::new(), http: http_client()? };
        let input = LoginInput { username: username.to_owned(), password: password.to_owned() };
        let outcome: LoginOutcome = client.json(client.request(Method::POST, &["auth", "login"])?.json(&input)).await?;
        client.token = outcome.token.clone();
        Ok((client, outcome))
    }

    /// The server's address, with a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// The version and commit the server runs. Needs no sign-in.
    pub async fn server_version(&self) -> Result<ServerVersion> {
        self.json(self.request(Method::GET, &["version"])?).await
    }

    /// The server's address as people should see it: no trailing slash.
    fn shown_base(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    fn request(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| Error::invalid("server", "cannot be used as a base address"))?;
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        let builder = self.http.request(method, url).header(reqwest::header::ACCEPT, "application/json");
        Ok(if self.token.is_empty() { builder } else { builder.bearer_auth(&self.token) })
    }

    /// A path segment naming one record. Ids that cannot be carried in a path (empty,
    /// `.` or `..`) cannot name any record, which the core answers as not found.
    fn id_segment<'a>(what: &str, id: &'a str) -> Result<&'a str> {
        match id.trim() {
            "" | "." | ".." => Err(Error::not_found(what, id)),
            _ => Ok(id),
        }
    }

    async fn send(&self, builder: RequestBuilder) -> Result<Response> {
        let response = builder.send().await.map_err(|e| self.transport_error(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error_from(response).await)
    }

    async fn json<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T> {
        let response = self.send(builder).await?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.transport_error(&e))?;
        serde_json::from_slice(&bytes).map_err(|_| {
            Error::internal(format!(
                "The server at {} answered HTTP {} with a body this client does not understand; \
                 check that the server and the client are the same version.",
                self.shown_base(),
                status.as_u16()
            ))
        })
    }

    async fn empty(&self, builder: RequestBuilder) -> Result<()> {
        self.send(builder).await.map(|_| ())
    }

    async fn error_from(&self, response: Response) -> Error {
        let status = response.status();
        match response.bytes().await {
            Ok(bytes) => match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => body.error,
                Err(_) => self.undescribed(status),
            },
            Err(_) => self.undescribed(status),
        }
    }

    fn undescribed(&self, status: StatusCode) -> Error {
        let reason = status.canonical_reason().unwrap_or("");
        Error::internal(format!(
            "The server at {} answered HTTP {} {} without an error description; \
             check that the address points at an Anthropy Works server.",
            self.shown_base(),
            status.as_u16(),
            reason
        ))
    }

    fn transport_error(&self, e: &reqwest::Error) -> Error {
        let base = self.shown_base();
        if e.is_timeout() {
            return Error::unavailable(format!("The Anthropy Works server at {base} did not answer in time."));
        }
        // The innermost cause says what happened (connection refused, name not found, …).
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        Error::unavailable(format!("Cannot reach the Anthropy Works server at {base}: {cause}"))
    }
}

#[async_trait]
impl Api for RemoteClient {
    async fn whoami(&self) -> Result<User> {
        self.json(self.request(Method::GET, &["me"])?).await
    }

    async fn logout(&self) -> Result<()> {
        self.empty(self.request(Method::POST, &["auth", "logout"])?).await
    }

    async fn org_create(&self, input: NewOrg) -> Result<Org> {
        self.json(self.request(Method::POST, &["orgs"])?.json(&input)).await
    }

    async fn org_list(&self, query: OrgQuery) -> Result<Listing<Org>> {
        self.json(self.request(Method::GET, &["orgs"])?.query(&query)).await
    }

    async fn org_get(&self, id: &str) -> Result<Org> {
        let id = Self::id_segment("organization", id)?;
        self.json(self.request(Method::GET, &["orgs", id])?).await
    }

    async fn org_rename(&self, id: &str, input: RenameOrg) -> Result<Org> {
        let id = Self::id_segment("organization", id)?;
        self.json(self.request(Method::PATCH, &["orgs", id])?.json(&input)).await
    }

    async fn org_archive(&self, id: &str) -> Result<Org> {
        let id = Self::id_segment("organization", id)?;
        self.json(self.request(Method::POST, &["orgs", id, "archive"])?).await
    }

    async fn user_create(&self, input: NewUser) -> Result<User> {
        self.json(self.request(Method::POST, &["users"])?.json(&input)).await
    }

    async fn user_list(&self, query: UserQuery) -> Result<Listing<User>> {
        self.json(self.request(Method::GET, &["users"])?.query(&query)).await
    }

    async fn user_get(&self, id: &str) -> Result<User> {
        let id = Self::id_segment("user", id)?;
        self.json(self.request(Method::GET, &["users", id])?).await
    }

    async fn user_update(&self, id: &str, input: UserUpdate) -> Result<User> {
        let id = Self::id_segment("user", id)?;
        self.json(self.request(Method::PATCH, &["users", id])?.json(&input)).await
    }

    async fn user_disable(&self, id: &str) -> Result<User> {
        let id = Self::id_segment("user", id)?;
        self.json(self.request(Method::POST, &["users", id, "disable"])?).await
    }

    async fn user_enable(&self, id: &str) -> Result<User> {
        let id = Self::id_segment("user", id)?;
        self.json(self.request(Method::POST, &["users", id, "enable"])?).await
    }

    async fn user_reset_password(&self, id: &str, input: ResetPassword) -> Result<PasswordReset> {
        let id = Self::id_segment("user", id)?;
        self.json(self.request(Method::POST, &["users", id, "reset-password"])?.json(&input)).await
    }

    async fn token_create(&self, input: NewToken) -> Result<CreatedToken> {
        self.json(self.request(Method::POST, &["tokens"])?.json(&input)).await
    }

    async fn token_list(&self, query: TokenQuery) -> Result<Listing<ApiToken>> {
        self.json(self.request(Method::GET, &["tokens"])?.query(&query)).await
    }

    async fn token_revoke(&self, id: &str) -> Result<ApiToken> {
        let id = Self::id_segment("API token", id)?;
        self.json(self.request(Method::DELETE, &["tokens", id])?).await
    }

    async fn audit_query(&self, query: AuditQuery) -> Result<AuditPage> {
        self.json(self.request(Method::GET, &["audit"])?.query(&query)).await
    }

    async fn audit_verify(&self) -> Result<AuditVerification> {
        self.json(self.request(Method::GET, &["audit", "verify"])?).await
    }

    async fn node_create(&self, input: NewNode) -> Result<Node> {
        self.json(self.request(Method::POST, &["nodes"])?.json(&input)).await
    }

    async fn node_list(&self, query: NodeQuery) -> Result<Listing<Node>> {
        self.json(self.request(Method::GET, &["nodes"])?.query(&query)).await
    }

    async fn node_get(&self, id: &str) -> Result<Node> {
        let id = Self::id_segment("node", id)?;
        self.json(self.request(Method::GET, &["nodes", id])?).await
    }

    async fn node_rename(&self, id: &str, input: RenameNode) -> Result<Node> {
        let id = Self::id_segment("node", id)?;
        self.json(self.request(Method::PATCH, &["nodes", id])?.json(&input)).await
    }

    async fn node_retire(&self, id: &str) -> Result<Node> {
        let id = Self::id_segment("node", id)?;
        self.json(self.request(Method::POST, &["nodes", id, "retire"])?).await
    }

    async fn node_containers(&self, id: &str) -> Result<Vec<Container>> {
        let id = Self::id_segment("node", id)?;
        self.json(self.request(Method::GET, &["nodes", id, "containers"])?).await
    }

    async fn enrollment_token_create(&self, node_id: &str) -> Result<EnrollmentToken> {
        let id = Self::id_segment("node", node_id)?;
        self.json(self.request(Method::POST, &["nodes", id, "enrollment-token"])?).await
    }

    async fn agent_revoke(&self, node_id: &str) -> Result<()> {
        let id = Self::id_segment("node", node_id)?;
        self.empty(self.request(Method::POST, &["nodes", id, "revoke-agent"])?).await
    }

    async fn job_request(&self, input: NewJob) -> Result<Job> {
        self.json(self.request(Method::POST, &["jobs"])?.json(&input)).await
    }

    async fn job_list(&self, query: JobQuery) -> Result<Listing<Job>> {
        self.json(self.request(Method::GET, &["jobs"])?.query(&query)).await
    }

    async fn job_get(&self, id: &str) -> Result<Job> {
        let id = Self::id_segment("job", id)?;
        self.json(self.request(Method::GET, &["jobs", id])?).await
    }

    async fn job_approve(&self, id: &str, input: ApproveJob) -> Result<Job> {
        let id = Self::id_segment("job", id)?;
        self.json(self.request(Method::POST, &["jobs", id, "approve"])?.json(&input)).await
    }

    async fn job_cancel(&self, id: &str) -> Result<Job> {
        let id = Self::id_segment("job", id)?;
        self.json(self.request(Method::POST, &["jobs", id, "cancel"])?).await
    }

    async fn job_retry(&self, id: &str) -> Result<Job> {
        let id = Self::id_segment("job", id)?;
        self.json(self.request(Method::POST, &["jobs", id, "retry"])?).await
    }

    async fn health(&self) -> Result<works_core::HealthReport> {
        self.json(self.request(Method::GET, &["health"])?).await
    }

    async fn map(&self) -> Result<works_core::FleetMap> {
        self.json(self.request(Method::GET, &["map"])?).await
    }
    async fn status_summary(&self) -> Result<works_core::StatusSummary> {
        self.json(self.request(Method::GET, &["status-summary"])?).await
    }
    async fn layout_get(&self) -> Result<works_core::Layout> {
        self.json(self.request(Method::GET, &["me", "layout"])?).await
    }
    async fn layout_put(&self, layout: works_core::Layout) -> Result<works_core::Layout> {
        self.json(self.request(Method::PUT, &["me", "layout"])?.json(&layout)).await
    }

    async fn health_acknowledge(&self, issue_id: &str, note: &str) -> Result<works_core::HealthIssue> {
        let id = Self::id_segment("health issue", issue_id)?;
        let body = works_core::AcknowledgeIssue { note: note.to_owned() };
        self.json(self.request(Method::POST, &["health", "issues", id, "acknowledge"])?.json(&body)).await
    }

    async fn metrics_history(&self, query: works_core::HistoryQuery) -> Result<works_core::MetricHistory> {
        self.json(self.request(Method::GET, &["metrics", "history"])?.query(&query)).await
    }

    async fn instance_list(&self, query: works_core::InstanceQuery) -> Result<Listing<works_core::Instance>> {
        self.json(self.request(Method::GET, &["instances"])?.query(&query)).await
    }

    async fn instance_get(&self, id: &str) -> Result<works_core::Instance> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::GET, &["instances", id])?).await
    }

    async fn instance_takeover(&self, id: &str, input: works_core::TakeoverInput) -> Result<works_core::Instance> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::POST, &["instances", id, "takeover"])?.json(&input)).await
    }

    async fn instance_deploy(&self, input: works_core::DeployInput) -> Result<works_core::Deployment> {
        self.json(self.request(Method::POST, &["instances"])?.json(&input)).await
    }

    async fn instance_health_check(&self, id: &str) -> Result<Job> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::POST, &["instances", id, "health-checks"])?).await
    }

    async fn instance_logs(&self, id: &str, input: works_core::LogsInput) -> Result<Job> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::POST, &["instances", id, "logs"])?.json(&input)).await
    }

    async fn instance_restart(&self, id: &str) -> Result<Job> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::POST, &["instances", id, "restart"])?).await
    }

    async fn instance_remove(&self, id: &str) -> Result<Job> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::POST, &["instances", id, "remove"])?).await
    }

    async fn node_openclaw_readiness(&self, node_id: &str, input: works_core::ReadinessInput) -> Result<Job> {
        let id = Self::id_segment("node", node_id)?;
        self.json(self.request(Method::POST, &["nodes", id, "openclaw-readiness"])?.json(&input)).await
    }

    async fn webhook_create(&self, input: works_core::NewWebhook) -> Result<works_core::Webhook> {
        self.json(self.request(Method::POST, &["alerts", "webhooks"])?.json(&input)).await
    }

    async fn webhook_list(&self) -> Result<Vec<works_core::Webhook>> {
        self.json(self.request(Method::GET, &["alerts", "webhooks"])?).await
    }

    async fn webhook_delete(&self, id: &str) -> Result<works_core::Webhook> {
        let id = Self::id_segment("webhook", id)?;
        self.json(self.request(Method::DELETE, &["alerts", "webhooks", id])?).await
    }

    async fn delivery_list(&self, query: works_core::DeliveryQuery) -> Result<Listing<works_core::Delivery>> {
        self.json(self.request(Method::GET, &["alerts", "deliveries"])?.query(&query)).await
    }

    async fn openclaw_cli_commands(&self) -> Result<Vec<works_core::CliCommand>> {
        self.json(self.request(Method::GET, &["openclaw", "cli-commands"])?).await
    }

    async fn instance_cli_run(&self, id: &str, command_id: &str) -> Result<Job> {
        let id = Self::id_segment("instance", id)?;
        let body = works_core::CliRunInput { command_id: command_id.to_owned() };
        self.json(self.request(Method::POST, &["instances", id, "cli-runs"])?.json(&body)).await
    }

    async fn instance_cli_runs(&self, id: &str, query: works_core::OpsQuery) -> Result<Listing<Job>> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::GET, &["instances", id, "cli-runs"])?.query(&query)).await
    }

    async fn instance_cli_run_get(&self, id: &str, job_id: &str) -> Result<Job> {
        let id = Self::id_segment("instance", id)?;
        let job_id = Self::id_segment("command run", job_id)?;
        self.json(self.request(Method::GET, &["instances", id, "cli-runs", job_id])?).await
    }

    async fn instance_versions(&self, id: &str, query: works_core::VersionQuery) -> Result<works_core::VersionReport> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::GET, &["instances", id, "versions"])?.query(&query)).await
    }

    async fn upgrade_plan_create(&self, id: &str, input: works_core::NewUpgradePlan) -> Result<works_core::UpgradePlan> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::POST, &["instances", id, "upgrade-plans"])?.json(&input)).await
    }

    async fn upgrade_plan_list(&self, id: &str, query: works_core::OpsQuery) -> Result<Listing<works_core::UpgradePlan>> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::GET, &["instances", id, "upgrade-plans"])?.query(&query)).await
    }

    async fn upgrade_plan_get(&self, id: &str, plan_id: &str) -> Result<works_core::UpgradePlan> {
        let id = Self::id_segment("instance", id)?;
        let plan_id = Self::id_segment("upgrade plan", plan_id)?;
        self.json(self.request(Method::GET, &["instances", id, "upgrade-plans", plan_id])?).await
    }

    async fn upgrade_plan_approve(&self, id: &str, plan_id: &str, input: works_core::ApprovePlan) -> Result<works_core::UpgradePlan> {
        let id = Self::id_segment("instance", id)?;
        let plan_id = Self::id_segment("upgrade plan", plan_id)?;
        self.json(self.request(Method::POST, &["instances", id, "upgrade-plans", plan_id, "approve"])?.json(&input)).await
    }

    async fn upgrade_plan_cancel(&self, id: &str, plan_id: &str) -> Result<works_core::UpgradePlan> {
        let id = Self::id_segment("instance", id)?;
        let plan_id = Self::id_segment("upgrade plan", plan_id)?;
        self.json(self.request(Method::POST, &["instances", id, "upgrade-plans", plan_id, "cancel"])?).await
    }

    async fn instance_assign(&self, id: &str, input: works_core::AssignInput) -> Result<works_core::Assignment> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::POST, &["instances", id, "assignments"])?.json(&input)).await
    }

    async fn instance_unassign(&self, id: &str, user_id: &str) -> Result<()> {
        let id = Self::id_segment("instance", id)?;
        let user_id = Self::id_segment("assignment", user_id)?;
        self.empty(self.request(Method::DELETE, &["instances", id, "assignments", user_id])?).await
    }

    async fn instance_assignments(&self, id: &str) -> Result<Vec<works_core::Assignment>> {
        let id = Self::id_segment("instance", id)?;
        self.json(self.request(Method::GET, &["instances", id, "assignments"])?).await
    }

    async fn ssh_credential_create(&self, input: works_core::NewSshCredential) -> Result<works_core::SshCredential> {
        self.json(self.request(Method::POST, &["ssh-credentials"])?.json(&input)).await
    }

    async fn ssh_credential_list(&self, query: works_core::PageQuery) -> Result<Listing<works_core::SshCredential>> {
        self.json(self.request(Method::GET, &["ssh-credentials"])?.query(&query)).await
    }

    async fn ssh_credential_get(&self, id: &str) -> Result<works_core::SshCredential> {
        let id = Self::id_segment("SSH credential", id)?;
        self.json(self.request(Method::GET, &["ssh-credentials", id])?).await
    }

    async fn ssh_credential_delete(&self, id: &str) -> Result<works_core::SshCredential> {
        let id = Self::id_segment("SSH credential", id)?;
        self.json(self.request(Method::DELETE, &["ssh-credentials", id])?).await
    }

    async fn jumpbox_create(&self, input: works_core::NewJumpbox) -> Result<works_core::Jumpbox> {
        self.json(self.request(Method::POST, &["jumpboxes"])?.json(&input)).await
    }

    async fn jumpbox_list(&self, query: works_core::PageQuery) -> Result<Listing<works_core::Jumpbox>> {
        self.json(self.request(Method::GET, &["jumpboxes"])?.query(&query)).await
    }

    async fn jumpbox_get(&self, id: &str) -> Result<works_core::Jumpbox> {
        let id = Self::id_segment("jumpbox", id)?;
        self.json(self.request(Method::GET, &["jumpboxes", id])?).await
    }

    async fn jumpbox_forget_host_key(&self, id: &str) -> Result<works_core::Jumpbox> {
        let id = Self::id_segment("jumpbox", id)?;
        self.json(self.request(Method::POST, &["jumpboxes", id, "forget-host-key"])?).await
    }

    async fn host_create(&self, input: works_core::NewHost) -> Result<works_core::Host> {
        self.json(self.request(Method::POST, &["hosts"])?.json(&input)).await
    }

    async fn host_list(&self, query: works_core::HostQuery) -> Result<Listing<works_core::Host>> {
        self.json(self.request(Method::GET, &["hosts"])?.query(&query)).await
    }

    async fn host_get(&self, id: &str) -> Result<works_core::Host> {
        let id = Self::id_segment("host", id)?;
        self.json(self.request(Method::GET, &["hosts", id])?).await
    }

    async fn host_test_access(&self, id: &str) -> Result<works_core::AccessAttempt> {
        let id = Self::id_segment("host", id)?;
        self.json(self.request(Method::POST, &["hosts", id, "test-access"])?).await
    }

    async fn host_register(&self, id: &str) -> Result<Node> {
        let id = Self::id_segment("host", id)?;
        self.json(self.request(Method::POST, &["hosts", id, "register"])?).await
    }

    async fn host_forget_host_key(&self, id: &str) -> Result<works_core::Host> {
        let id = Self::id_segment("host", id)?;
        self.json(self.request(Method::POST, &["hosts", id, "forget-host-key"])?).await
    }

    async fn jumpbox_update(&self, id: &str, input: works_core::JumpboxUpdate) -> Result<works_core::Jumpbox> {
        let id = Self::id_segment("jumpbox", id)?;
        self.json(self.request(Method::PATCH, &["jumpboxes", id])?.json(&input)).await
    }

    async fn jumpbox_delete(&self, id: &str) -> Result<works_core::Jumpbox> {
        let id = Self::id_segment("jumpbox", id)?;
        self.json(self.request(Method::DELETE, &["jumpboxes", id])?).await
    }

    async fn host_update(&self, id: &str, input: works_core::HostUpdate) -> Result<works_core::Host> {
        let id = Self::id_segment("host", id)?;
        self.json(self.request(Method::PATCH, &["hosts", id])?.json(&input)).await
    }

    async fn host_delete(&self, id: &str) -> Result<works_core::Host> {
        let id = Self::id_segment("host", id)?;
        self.json(self.request(Method::DELETE, &["hosts", id])?).await
    }

    async fn host_install_agent(&self, id: &str) -> Result<works_core::Job> {
        let id = Self::id_segment("host", id)?;
        self.json(self.request(Method::POST, &["hosts", id, "install-agent"])?).await
    }

    async fn access_attempt_list(&self, query: works_core::AttemptQuery) -> Result<Listing<works_core::AccessAttempt>> {
        self.json(self.request(Method::GET, &["access-attempts"])?.query(&query)).await
    }

    async fn access_attempt_get(&self, id: &str) -> Result<works_core::AccessAttempt> {
        let id = Self::id_segment("access attempt", id)?;
        self.json(self.request(Method::GET, &["access-attempts", id])?).await
    }

    async fn capability_list(&self) -> Result<Vec<works_core::Capability>> {
        self.json(self.request(Method::GET, &["capabilities"])?).await
    }

    async fn capability_get(&self, id: &str) -> Result<works_core::Capability> {
        let id = Self::id_segment("capability", id)?;
        self.json(self.request(Method::GET, &["capabilities", id])?).await
    }

    async fn pack_list(&self) -> Result<Vec<works_core::CapabilityPack>> {
        self.json(self.request(Method::GET, &["capability-packs"])?).await
    }

    async fn pack_attach(&self, id: &str, input: works_core::AttachPack) -> Result<Vec<works_core::Permission>> {
        let id = Self::id_segment("capability pack", id)?;
        self.json(self.request(Method::POST, &["capability-packs", id, "attach"])?.json(&input)).await
    }

    async fn permission_create(&self, input: works_core::NewPermission) -> Result<works_core::Permission> {
        self.json(self.request(Method::POST, &["permissions"])?.json(&input)).await
    }

    async fn permission_list(&self, query: works_core::PermissionQuery) -> Result<Listing<works_core::Permission>> {
        self.json(self.request(Method::GET, &["permissions"])?.query(&query)).await
    }

    async fn permission_get(&self, id: &str) -> Result<works_core::Permission> {
        let id = Self::id_segment("permission", id)?;
        self.json(self.request(Method::GET, &["permissions", id])?).await
    }

    async fn permission_update(&self, id: &str, input: works_core::PermissionUpdate) -> Result<works_core::Permission> {
        let id = Self::id_segment("permission", id)?;
        self.json(self.request(Method::PATCH, &["permissions", id])?.json(&input)).await
    }

    async fn permission_disable(&self, id: &str) -> Result<works_core::Permission> {
        let id = Self::id_segment("permission", id)?;
        self.json(self.request(Method::POST, &["permissions", id, "disable"])?).await
    }

    async fn permission_enable(&self, id: &str) -> Result<works_core::Permission> {
        let id = Self::id_segment("permission", id)?;
        self.json(self.request(Method::POST, &["permissions", id, "enable"])?).await
    }

    async fn permission_delete(&self, id: &str) -> Result<works_core::Permission> {
        let id = Self::id_segment("permission", id)?;
        self.json(self.request(Method::DELETE, &["permissions", id])?).await
    }

    async fn connection_create(&self, input: works_core::NewConnection) -> Result<works_core::Connection> {
        self.json(self.request(Method::POST, &["connections"])?.json(&input)).await
    }

    async fn connection_list(&self, query: works_core::ConnectionQuery) -> Result<Listing<works_core::Connection>> {
        self.json(self.request(Method::GET, &["connections"])?.query(&query)).await
    }

    async fn connection_get(&self, id: &str) -> Result<works_core::Connection> {
        let id = Self::id_segment("connection", id)?;
        self.json(self.request(Method::GET, &["connections", id])?).await
    }

    async fn connection_update(&self, id: &str, input: works_core::ConnectionUpdate) -> Result<works_core::Connection> {
        let id = Self::id_segment("connection", id)?;
        self.json(self.request(Method::PATCH, &["connections", id])?.json(&input)).await
    }

    async fn connection_delete(&self, id: &str) -> Result<works_core::Connection> {
        let id = Self::id_segment("connection", id)?;
        self.json(self.request(Method::DELETE, &["connections", id])?).await
    }

    async fn workflow_create(&self, input: works_core::NewWorkflow) -> Result<works_core::Workflow> {
        self.json(self.request(Method::POST, &["workflows"])?.json(&input)).await
    }

    async fn workflow_list(&self, query: works_core::WorkflowQuery) -> Result<Listing<works_core::Workflow>> {
        self.json(self.request(Method::GET, &["workflows"])?.query(&query)).await
    }

    async fn workflow_get(&self, id: &str) -> Result<works_core::Workflow> {
        let id = Self::id_segment("workflow", id)?;
        self.json(self.request(Method::GET, &["workflows", id])?).await
    }

    async fn workflow_update(&self, id: &str, input: works_core::WorkflowUpdate) -> Result<works_core::Workflow> {
        let id = Self::id_segment("workflow", id)?;
        self.json(self.request(Method::PATCH, &["workflows", id])?.json(&input)).await
    }

    async fn workflow_delete(&self, id: &str) -> Result<works_core::Workflow> {
        let id = Self::id_segment("workflow", id)?;
        self.json(self.request(Method::DELETE, &["workflows", id])?).await
    }

    async fn run_start(&self, workflow_id: &str, input: works_core::StartRun) -> Result<works_core::WorkflowRun> {
        let id = Self::id_segment("workflow", workflow_id)?;
        self.json(self.request(Method::POST, &["workflows", id, "runs"])?.json(&input)).await
    }

    async fn run_list(&self, workflow_id: &str, query: works_core::RunQuery) -> Result<Listing<works_core::WorkflowRun>> {
        let id = Self::id_segment("workflow", workflow_id)?;
        self.json(self.request(Method::GET, &["workflows", id, "runs"])?.query(&query)).await
    }

    async fn run_get(&self, workflow_id: &str, run_id: &str) -> Result<works_core::WorkflowRun> {
        let id = Self::id_segment("workflow", workflow_id)?;
        let run = Self::id_segment("workflow run", run_id)?;
        self.json(self.request(Method::GET, &["workflows", id, "runs", run])?).await
    }

    async fn run_approve(&self, workflow_id: &str, run_id: &str, input: works_core::ApproveRun) -> Result<works_core::WorkflowRun> {
        let id = Self::id_segment("workflow", workflow_id)?;
        let run = Self::id_segment("workflow run", run_id)?;
        self.json(self.request(Method::POST, &["workflows", id, "runs", run, "approve"])?.json(&input)).await
    }

    async fn schedule_create(&self, input: works_core::NewSchedule) -> Result<works_core::Schedule> {
        self.json(self.request(Method::POST, &["schedules"])?.json(&input)).await
    }

    async fn schedule_list(&self, query: works_core::ScheduleQuery) -> Result<Listing<works_core::Schedule>> {
        self.json(self.request(Method::GET, &["schedules"])?.query(&query)).await
    }

    async fn schedule_get(&self, id: &str) -> Result<works_core::Schedule> {
        let id = Self::id_segment("schedule", id)?;
        self.json(self.request(Method::GET, &["schedules", id])?).await
    }

    async fn schedule_update(&self, id: &str, input: works_core::ScheduleUpdate) -> Result<works_core::Schedule> {
        let id = Self::id_segment("schedule", id)?;
        self.json(self.request(Method::PATCH, &["schedules", id])?.json(&input)).await
    }

    async fn schedule_delete(&self, id: &str) -> Result<works_core::Schedule> {
        let id = Self::id_segment("schedule", id)?;
        self.json(self.request(Method::DELETE, &["schedules", id])?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised_and_checked() {
        assert_eq!(parse_base_url("http://127.0.0.1:8080").unwrap().as_str(), "http://127.0.0.1:8080/");
        assert_eq!(parse_base_url(" https://h/works// ").unwrap().as_str(), "https://h/works/");
        for bad in ["", "127.0.0.1:8080", "ftp://h", "http://u:p@h", "http://h/?a=b", "not a url"] {
            let err = parse_base_url(bad).unwrap_err();
            assert_eq!(err.field(), Some("server"), "{bad}: {err:?}");
        }
    }

    #[test]
    fn paths_keep_a_prefix_and_encode_ids() {
        let c = RemoteClient::new("http://127.0.0.1:1/works", "t").unwrap();
        let req = c.request(Method::GET, &["orgs", "a/b?c"]).unwrap().build().unwrap();
        assert_eq!(req.url().as_str(), "http://127.0.0.1:1/works/api/v1/orgs/a%2Fb%3Fc");
        let c = RemoteClient::new("http://127.0.0.1:1", "t").unwrap();
        let req = c.request(Method::GET, &["me"]).unwrap().build().unwrap();
        assert_eq!(req.url().as_str(), "http://127.0.0.1:1/api/v1/me");
        assert_eq!(req.headers().get("authorization").unwrap(), "Bearer t");
    }

    #[test]
    fn queries_leave_out_what_is_not_set() {
        let c = RemoteClient::new("http://127.0.0.1:1", "t").unwrap();
        let q = AuditQuery {
            outcome: Some(works_core::Outcome::Denied),
            since: Some("2024-05-01T10:00:00Z".parse().unwrap()),
            limit: Some(5),
            ..Default::default()
        };
        let req = c.request(Method::GET, &["audit"]).unwrap().query(&q).build().unwrap();
        assert_eq!(req.url().query(), Some("outcome=denied&since=2024-05-01T10%3A00%3A00Z&limit=5"));
    }

    #[test]
    fn ids_that_cannot_be_a_path_segment_are_not_found() {
        for id in ["", " ", ".", ".."] {
            assert!(matches!(RemoteClient::id_segment("user", id), Err(Error::NotFound { .. })), "{id:?}");
        }
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let c = RemoteClient::new("http://127.0.0.1:1", "wks_secret_value").unwrap();
        assert!(!format!("{c:?}").contains("secret_value"));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        // Bind and drop a listener to get a loopback port that refuses connections.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let c = RemoteClient::new(&url, "t").unwrap();
        match c.whoami().await {
            Err(Error::Unavailable { message }) => {
                assert!(message.starts_with(&format!("Cannot reach the Anthropy Works server at {url}: ")), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
