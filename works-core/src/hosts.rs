//! The access layer: shared SSH credentials, jumpboxes, host profiles and Test Access
//! attempts. Credentials are sealed at rest and never returned; host keys are pinned on
//! first verified contact; each attempt keeps where it stopped, why in plain English,
//! what to do next, and the raw OpenSSH output apart as technical details. A verified
//! host can be registered as a node (a candidate: no agent yet).
//!
//! Who may do what: MSP admins and operators manage credentials, jumpboxes and hosts and
//! run Test Access; an organization admin sees their organization's hosts and attempts
//! (read only); organization users see none.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::{AuditDraft, Outcome};
use crate::error::{Error, Result};
use crate::model::{Listing, Page, Scope};
use crate::nodes::{NewNode, Node};
use crate::probe::{self, Check, FailureKind, Hop, ProbeEndpoint, ProbeEvent, ProbeFailure, ProbeRoute, SecretText, Step};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe as probe_page, Works};

/// How long one connection and handshake may take.
pub const CONNECT_TIMEOUT_SECS: u32 = 10;
/// How long one discovery check may take.
pub const COMMAND_TIMEOUT_SECS: u32 = 20;
/// How long a whole attempt may take.
pub const ATTEMPT_TIMEOUT_SECS: i64 = 120;
/// The largest private key accepted.
pub const KEY_MAX_BYTES: usize = 16 * 1024;

// --- records ---

/// A shared MSP credential: an SSH private key, sealed at rest. Only its public facts are
/// ever shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshCredential {
    pub id: String,
    pub name: String,
    /// The key's algorithm, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// `SHA256:…`, as `ssh-keygen -l` shows it.
    pub fingerprint: String,
    /// The public key (`<type> <base64>`), to put in authorized_keys.
    pub public_key: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A credential with its sealed key. Never leaves the core and the store.
#[derive(Clone)]
pub struct SshCredentialRecord {
    pub credential: SshCredential,
    /// Sealed with the master key for `ssh-key:<id>`.
    pub sealed_key: String,
}

impl std::fmt::Debug for SshCredentialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshCredentialRecord").field("credential", &self.credential).field("sealed_key", &"<sealed>").finish()
    }
}

/// Upload of a private key. The key is sealed and never shown again.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSshCredential {
    pub name: String,
    /// The private key in OpenSSH format (`-----BEGIN OPENSSH PRIVATE KEY-----`), without a passphrase.
    pub private_key: String,
}

impl std::fmt::Debug for NewSshCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSshCredential").field("name", &self.name).field("private_key", &"<hidden>").finish()
    }
}

/// A jumpbox: shared MSP infrastructure that hosts are reached through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jumpbox {
    pub id: String,
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub credential_id: String,
    /// The host key pinned at first verified contact (`<type> <base64>`).
    pub host_key: Option<String>,
    pub host_key_fingerprint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewJumpbox {
    pub name: String,
    /// An IP address or DNS name.
    pub address: String,
    /// Default 22.
    #[serde(default)]
    pub port: Option<u16>,
    pub user: String,
    /// The SSH credential to sign in with.
    pub credential_id: String,
}

/// A machine of a customer organization that the MSP reaches over SSH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Host {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub credential_id: String,
    /// None: connect directly. Otherwise through this jumpbox.
    pub jumpbox_id: Option<String>,
    pub host_key: Option<String>,
    pub host_key_fingerprint: Option<String>,
    /// When a Test Access attempt last succeeded.
    pub verified_at: Option<DateTime<Utc>>,
    /// The node this host was registered as.
    pub node_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewHost {
    pub org_id: String,
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub port: Option<u16>,
    pub user: String,
    pub credential_id: String,
    /// A jumpbox's id or name; empty for a direct route.
    #[serde(default)]
    pub jumpbox: Option<String>,
}

/// Changes to a jumpbox; fields left out stay as they are. A new address or port clears
/// the pinned host key (it belongs to the old machine).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JumpboxUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub credential_id: Option<String>,
}

/// Changes to a host profile; fields left out stay as they are. A new address or port
/// clears the pinned host key; any change to how the host is reached (address, port,
/// user, credential, route) clears `verified_at` until Test Access passes again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HostUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub credential_id: Option<String>,
    /// A jumpbox's id or name; an empty text for a direct route.
    #[serde(default)]
    pub jumpbox: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct HostQuery {
    pub org_id: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct AttemptQuery {
    pub host_id: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// Paging only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    Running,
    Succeeded,
    Failed,
}

impl AttemptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Running => "running",
            AttemptStatus::Succeeded => "succeeded",
            AttemptStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(AttemptStatus::Running),
            "succeeded" => Some(AttemptStatus::Succeeded),
            "failed" => Some(AttemptStatus::Failed),
            _ => None,
        }
    }
}

/// Where an attempt is, or where it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stage {
    pub hop: Hop,
    pub step: Step,
}

/// One line of an attempt's transcript, in plain English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TranscriptEntry {
    pub at: DateTime<Utc>,
    pub hop: Hop,
    pub step: Step,
    pub message: String,
}

/// A container found running on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FoundContainer {
    pub name: String,
    pub image: String,
    pub status: String,
    /// Its name or image says OpenClaw.
    pub likely_openclaw: bool,
}

/// What the built-in checks found. Filled in as the results come in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Discovery {
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub arch: Option<String>,
    pub cpus: Option<u32>,
    pub memory_mib: Option<u64>,
    pub disk_total_mib: Option<u64>,
    pub disk_free_mib: Option<u64>,
    /// `docker --version` answered.
    pub docker_installed: Option<bool>,
    /// The Docker engine's version, when it answered the SSH user.
    pub docker_version: Option<String>,
    /// The SSH user may use Docker.
    pub docker_permitted: Option<bool>,
    #[serde(default)]
    pub containers: Vec<FoundContainer>,
    /// Some running container is likely OpenClaw.
    pub openclaw_likely: Option<bool>,
}

/// One Test Access attempt, its transcript and its findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessAttempt {
    pub id: String,
    pub host_id: String,
    pub org_id: String,
    pub host_name: String,
    pub jumpbox_id: Option<String>,
    /// The route in words, e.g. `root@198.18.0.2:22 (jumpbox bastion) → root@10.0.0.5:22 (host web-01)`.
    pub route: String,
    pub status: AttemptStatus,
    pub stage: Stage,
    pub failure: Option<FailureKind>,
    /// Why it stopped, in plain English.
    pub reason: Option<String>,
    /// What to do next, in plain English.
    pub next_action: Option<String>,
    pub transcript: Vec<TranscriptEntry>,
    pub discovery: Discovery,
    /// Raw OpenSSH and command output, for the curious: "technical details".
    pub technical: String,
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Host keys to pin when an attempt ends: only where none is pinned yet.
#[derive(Debug, Clone, Default)]
pub struct HostKeyPins {
    pub jumpbox: Option<(String, String, String)>,
    pub host: Option<(String, String)>,
}

/// The storage contract of the access layer. Same rules as [`crate::store`].
#[async_trait]
pub trait AccessStore: Send + Sync + 'static {
    async fn insert_ssh_credential(&self, record: &SshCredentialRecord, audit: AuditDraft) -> Result<()>;
    async fn get_ssh_credential(&self, id: &str) -> Result<Option<SshCredentialRecord>>;
    /// By name.
    async fn list_ssh_credentials(&self, page: Page) -> Result<Vec<SshCredential>>;
    /// Deletes it; `Error::Conflict` when a jumpbox or host still uses it.
    async fn delete_ssh_credential(&self, id: &str, audit: AuditDraft) -> Result<()>;

    async fn insert_jumpbox(&self, jumpbox: &Jumpbox, audit: AuditDraft) -> Result<()>;
    async fn get_jumpbox(&self, id: &str) -> Result<Option<Jumpbox>>;
    async fn get_jumpbox_by_name(&self, name: &str) -> Result<Option<Jumpbox>>;
    async fn list_jumpboxes(&self, page: Page) -> Result<Vec<Jumpbox>>;
    /// Clears the pinned host key.
    async fn clear_jumpbox_host_key(&self, id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()>;
    /// Writes every field of the jumpbox (name, address, port, user, credential, pinned key).
    async fn update_jumpbox(&self, jumpbox: &Jumpbox, audit: AuditDraft) -> Result<()>;
    /// Deletes it; `Error::Conflict` naming the hosts that still go through it.
    async fn delete_jumpbox(&self, id: &str, audit: AuditDraft) -> Result<()>;

    async fn insert_host(&self, host: &Host, audit: AuditDraft) -> Result<()>;
    /// Writes every field of the host profile (not its node).
    async fn update_host(&self, host: &Host, audit: AuditDraft) -> Result<()>;
    /// Deletes the host profile and its attempts; `Error::Conflict` while an attempt runs.
    async fn delete_host(&self, id: &str, audit: AuditDraft) -> Result<()>;
    async fn get_host(&self, id: &str) -> Result<Option<Host>>;
    /// `Scope::Org` → that organization's; `Scope::User` → none. By name.
    async fn list_hosts(&self, scope: &Scope, org_id: Option<&str>, page: Page) -> Result<Vec<Host>>;
    async fn clear_host_key(&self, id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()>;
    /// Sets the host's node if it has none; otherwise `Error::Conflict`.
    async fn link_host_node(&self, host_id: &str, node_id: &str, at: DateTime<Utc>, audit: AuditDraft) -> Result<()>;

    async fn insert_access_attempt(&self, attempt: &AccessAttempt, audit: AuditDraft) -> Result<()>;
    /// Progress while running; no audit record.
    async fn update_access_attempt(&self, attempt: &AccessAttempt) -> Result<()>;
    /// The final state, the host keys to pin (only where none is pinned), the host's
    /// `verified_at` when it succeeded, and the audit record, in one transaction.
    async fn finish_access_attempt(&self, attempt: &AccessAttempt, pins: &HostKeyPins, audit: AuditDraft) -> Result<()>;
    async fn get_access_attempt(&self, id: &str) -> Result<Option<AccessAttempt>>;
    /// Newest first. Scoped like hosts.
    async fn list_access_attempts(&self, scope: &Scope, host_id: Option<&str>, page: Page) -> Result<Vec<AccessAttempt>>;
    /// Attempts still `running` that started before `before` (to recover after a restart).
    async fn running_access_attempts(&self, before: DateTime<Utc>) -> Result<Vec<AccessAttempt>>;
}

// --- keys ---

/// The public facts of a private key, and the key re-encoded cleanly. Refuses public
/// keys, old PEM files, passphrase-protected and damaged keys with a plain reason.
pub fn inspect_private_key(text: &str) -> Result<(String, String, String, String)> {
    const FIELD: &str = "private_key";
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::invalid(FIELD, "is empty: paste the whole private key file, from -----BEGIN OPENSSH PRIVATE KEY----- to the END line"));
    }
    if t.len() > KEY_MAX_BYTES {
        return Err(Error::invalid(FIELD, format!("is larger than {KEY_MAX_BYTES} bytes; it is not an SSH private key")));
    }
    if t.starts_with("ssh-") || t.starts_with("ecdsa-") || t.starts_with("sk-") {
        return Err(Error::invalid(FIELD, "is a public key; upload the private key (the file without .pub)"));
    }
    if t.contains("Proc-Type: 4,ENCRYPTED") || t.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        return Err(Error::invalid(FIELD, "is protected by a passphrase, which the access layer cannot type. Make an unprotected copy (ssh-keygen -p -f COPY -N '') and upload the copy"));
    }
    if t.starts_with("-----BEGIN RSA PRIVATE KEY-----") || t.starts_with("-----BEGIN EC PRIVATE KEY-----") || t.starts_with("-----BEGIN PRIVATE KEY-----") || t.starts_with("-----BEGIN DSA PRIVATE KEY-----") {
        return Err(Error::invalid(FIELD, "is in the old PEM format; convert a copy to the OpenSSH format (ssh-keygen -p -f COPY) and upload that"));
    }
    if !t.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return Err(Error::invalid(FIELD, "is not an SSH private key: it must start with -----BEGIN OPENSSH PRIVATE KEY-----"));
    }
    let key = ssh_key::PrivateKey::from_openssh(t).map_err(|_| {
        Error::invalid(FIELD, "is damaged or incomplete: it could not be read as an OpenSSH private key. Paste the whole file again")
    })?;
    if key.is_encrypted() {
        return Err(Error::invalid(FIELD, "is protected by a passphrase, which the access layer cannot type. Make an unprotected copy (ssh-keygen -p -f COPY -N '') and upload the copy"));
    }
    let public = key.public_key();
    let fingerprint = public.fingerprint(ssh_key::HashAlg::Sha256).to_string();
    let key_type = key.algorithm().as_str().to_owned();
    let public_text = public.to_openssh().map_err(|_| Error::invalid(FIELD, "has a public part that cannot be written out"))?;
    // Without the comment: the comment is not needed and could hold anything.
    let public_text = public_text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let clean = key
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(|_| Error::invalid(FIELD, "could not be re-encoded as an OpenSSH private key"))?;
    Ok((key_type, fingerprint, public_text, clean.to_string()))
}

/// The SHA-256 fingerprint of a host key line (`<type> <base64>`).
pub fn host_key_fingerprint(line: &str) -> Option<String> {
    ssh_key::PublicKey::from_openssh(line.trim()).ok().map(|k| k.fingerprint(ssh_key::HashAlg::Sha256).to_string())
}

fn seal_purpose(credential_id: &str) -> String {
    format!("ssh-key:{credential_id}")
}

// --- discovery ---

/// Reads one check's result into the findings. Returns the transcript line.
pub fn interpret_check(d: &mut Discovery, check: Check, exit: Option<i32>, stdout: &str, stderr: &str) -> String {
    let ok = exit == Some(0);
    let first = stdout.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_owned();
    match check {
        Check::OsRelease if ok => {
            let pretty = stdout.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim_matches('"').to_owned());
            d.os = pretty.filter(|v| !v.is_empty()).map(|v| crate::redact::redact(&v));
        }
        Check::Kernel if ok && !first.is_empty() => d.kernel = Some(first.clone()),
        Check::Arch if ok && !first.is_empty() => d.arch = Some(first.clone()),
        Check::Cpus if ok => d.cpus = first.parse().ok(),
        Check::Memory if ok => {
            d.memory_mib = stdout
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
                .map(|kib| kib / 1024);
        }
        Check::Disk if ok => {
            if let Some(line) = stdout.lines().nth(1) {
                let cols: Vec<&str> = line.split_whitespace().collect();
                d.disk_total_mib = cols.get(1).and_then(|v| v.parse::<u64>().ok()).map(|k| k / 1024);
                d.disk_free_mib = cols.get(3).and_then(|v| v.parse::<u64>().ok()).map(|k| k / 1024);
            }
        }
        Check::DockerCli => d.docker_installed = Some(ok),
        Check::DockerEngine => {
            if ok && !first.is_empty() {
                d.docker_version = Some(first.clone());
                d.docker_permitted = Some(true);
            } else if d.docker_installed == Some(true) {
                d.docker_permitted = Some(!stderr.to_ascii_lowercase().contains("permission denied"));
            }
        }
        Check::Containers if ok => {
            d.containers = stdout
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(200)
                .map(|l| {
                    let mut parts = l.split('\t');
                    let name = parts.next().unwrap_or("").trim().to_owned();
                    let image = parts.next().unwrap_or("").trim().to_owned();
                    let status = parts.next().unwrap_or("").trim().to_owned();
                    let likely_openclaw = name.to_ascii_lowercase().contains("openclaw") || image.to_ascii_lowercase().contains("openclaw");
                    FoundContainer { name, image, status, likely_openclaw }
                })
                .collect();
            d.openclaw_likely = Some(d.containers.iter().any(|c| c.likely_openclaw));
        }
        _ => {}
    }
    let label = check.label();
    match check {
        Check::DockerCli if !ok => "Docker is not installed (docker --version did not run).".to_owned(),
        Check::DockerCli => format!("Docker is installed: {first}"),
        Check::DockerEngine if ok => format!("The Docker engine answers; version {first}."),
        Check::DockerEngine if d.docker_installed != Some(true) => "Skipped the Docker engine: Docker is not installed.".to_owned(),
        Check::DockerEngine if d.docker_permitted == Some(false) => "The SSH user may not use Docker (permission denied).".to_owned(),
        Check::DockerEngine => "The Docker engine does not answer.".to_owned(),
        Check::Containers if ok => {
            let n = d.containers.len();
            let oc = d.containers.iter().filter(|c| c.likely_openclaw).count();
            format!("{n} running container(s), {oc} likely OpenClaw.")
        }
        _ if ok => format!("Read the {label}."),
        _ => format!("Could not read the {label} (exit {}).", exit.map(|e| e.to_string()).unwrap_or_else(|| "none".into())),
    }
}

/// The Docker failure of the findings, when there is one.
pub fn docker_failure(d: &Discovery) -> Option<FailureKind> {
    match (d.docker_installed, d.docker_permitted, &d.docker_version) {
        (Some(false), _, _) => Some(FailureKind::DockerMissing),
        (Some(true), Some(false), _) => Some(FailureKind::DockerNotPermitted),
        (Some(true), _, None) => Some(FailureKind::DockerNotRunning),
        (None, _, _) => Some(FailureKind::DockerMissing),
        _ => None,
    }
}

/// "field: old → new" for each field that changed.
fn changes(fields: &[(&str, &String, &String)]) -> Vec<String> {
    fields.iter().filter(|(_, a, b)| a != b).map(|(f, a, b)| format!("{f} {a} → {b}")).collect()
}

// --- operations ---

impl Works {
    /// The SSH adapter Test Access runs through.
    pub fn with_access_probe(mut self, probe: Arc<dyn probe::AccessProbe>) -> Self {
        self.access_probe = Some(probe);
        self
    }

    // credentials

    /// Uploads an SSH private key as a shared MSP credential (MSP roles). It is parsed
    /// to show its type and fingerprint, sealed with the master key, and never shown again.
    pub async fn ssh_credential_create(&self, actor: &Actor, input: NewSshCredential) -> Result<SshCredential> {
        self.change(actor, "ssh_credential.create", "ssh_credential", None, async {
            access::require_msp(actor, "manage SSH credentials")?;
            let name = validate::ssh_name("name", &input.name)?;
            let (key_type, fingerprint, public_key, clean) = inspect_private_key(&input.private_key)?;
            let sealer = self.sealer()?;
            let id = new_id();
            let sealed_key = sealer.seal(&seal_purpose(&id), clean.as_bytes())?;
            let credential = SshCredential { id, name, key_type, fingerprint, public_key, created_by: actor.name.clone(), created_at: self.now() };
            let audit = self.draft(
                actor,
                None,
                "ssh_credential.create",
                "ssh_credential",
                Some(&credential.id),
                Outcome::Succeeded,
                format!("Stored SSH credential {} ({} {}), sealed with the master key", credential.name, credential.key_type, credential.fingerprint),
            );
            self.store.insert_ssh_credential(&SshCredentialRecord { credential: credential.clone(), sealed_key }, audit).await?;
            Ok(credential)
        })
        .await
    }

    pub async fn ssh_credential_list(&self, actor: &Actor, query: PageQuery) -> Result<Listing<SshCredential>> {
        self.read(actor, "ssh_credential.list", "ssh_credential", None, async {
            access::require_msp(actor, "see SSH credentials")?;
            let page = Page::new(query.offset, query.limit)?;
            Ok(paged(self.store.list_ssh_credentials(probe_page(page)).await?, page))
        })
        .await
    }

    pub async fn ssh_credential_get(&self, actor: &Actor, id: &str) -> Result<SshCredential> {
        self.read(actor, "ssh_credential.get", "ssh_credential", Some(id), async {
            access::require_msp(actor, "see SSH credentials")?;
            Ok(self.credential(id, "id").await?.credential)
        })
        .await
    }

    /// Deletes a credential no jumpbox or host uses.
    pub async fn ssh_credential_delete(&self, actor: &Actor, id: &str) -> Result<SshCredential> {
        self.change(actor, "ssh_credential.delete", "ssh_credential", Some(id), async {
            access::require_msp(actor, "manage SSH credentials")?;
            let c = self.credential(id, "id").await?.credential;
            let audit = self.draft(actor, None, "ssh_credential.delete", "ssh_credential", Some(&c.id), Outcome::Succeeded, format!("Deleted SSH credential {}", c.name));
            self.store.delete_ssh_credential(&c.id, audit).await?;
            Ok(c)
        })
        .await
    }

    async fn credential(&self, id: &str, field: &str) -> Result<SshCredentialRecord> {
        let not_found = || Error::not_found("SSH credential", id);
        let id = validate::id(field, id).map_err(|_| not_found())?;
        self.store.get_ssh_credential(&id).await?.ok_or_else(not_found)
    }

    /// A credential named by a request field: "names no credential" rather than not found.
    async fn credential_for(&self, field: &str, id: &str) -> Result<SshCredentialRecord> {
        let id = validate::id(field, id)?;
        self.store.get_ssh_credential(&id).await?.ok_or_else(|| Error::invalid(field, "names no SSH credential"))
    }

    // jumpboxes

    pub async fn jumpbox_create(&self, actor: &Actor, input: NewJumpbox) -> Result<Jumpbox> {
        self.change(actor, "jumpbox.create", "jumpbox", None, async {
            access::require_msp(actor, "manage jumpboxes")?;
            let name = validate::ssh_name("name", &input.name)?;
            let address = validate::ssh_address("address", &input.address)?;
            let port = validate::ssh_port("port", input.port)?;
            let user = validate::ssh_user("user", &input.user)?;
            let credential = self.credential_for("credential_id", &input.credential_id).await?.credential;
            let now = self.now();
            let j = Jumpbox { id: new_id(), name, address, port, user, credential_id: credential.id, host_key: None, host_key_fingerprint: None, created_at: now, updated_at: now };
            let audit = self.draft(
                actor,
                None,
                "jumpbox.create",
                "jumpbox",
                Some(&j.id),
                Outcome::Succeeded,
                format!("Added jumpbox {} at {}@{}:{} with credential {}", j.name, j.user, j.address, j.port, credential.name),
            );
            self.store.insert_jumpbox(&j, audit).await?;
            Ok(j)
        })
        .await
    }

    pub async fn jumpbox_list(&self, actor: &Actor, query: PageQuery) -> Result<Listing<Jumpbox>> {
        self.read(actor, "jumpbox.list", "jumpbox", None, async {
            access::require_msp(actor, "see jumpboxes")?;
            let page = Page::new(query.offset, query.limit)?;
            Ok(paged(self.store.list_jumpboxes(probe_page(page)).await?, page))
        })
        .await
    }

    pub async fn jumpbox_get(&self, actor: &Actor, id: &str) -> Result<Jumpbox> {
        self.read(actor, "jumpbox.get", "jumpbox", Some(id), async {
            access::require_msp(actor, "see jumpboxes")?;
            self.jumpbox(id).await
        })
        .await
    }

    /// Clears a jumpbox's pinned host key, after its owner confirmed the new one.
    pub async fn jumpbox_forget_host_key(&self, actor: &Actor, id: &str) -> Result<Jumpbox> {
        self.change(actor, "jumpbox.forget_host_key", "jumpbox", Some(id), async {
            access::require_msp(actor, "manage jumpboxes")?;
            let mut j = self.jumpbox(id).await?;
            let now = self.now();
            let audit = self.draft(
                actor,
                None,
                "jumpbox.forget_host_key",
                "jumpbox",
                Some(&j.id),
                Outcome::Succeeded,
                format!("Cleared the pinned host key of jumpbox {} ({}); the next attempt pins the key it sees", j.name, j.host_key_fingerprint.as_deref().unwrap_or("none was pinned")),
            );
            self.store.clear_jumpbox_host_key(&j.id, now, audit).await?;
            j.host_key = None;
            j.host_key_fingerprint = None;
            j.updated_at = now;
            Ok(j)
        })
        .await
    }

    /// Changes a jumpbox (MSP roles). Every field passes the same checks as when added.
    pub async fn jumpbox_update(&self, actor: &Actor, id: &str, input: JumpboxUpdate) -> Result<Jumpbox> {
        self.change(actor, "jumpbox.update", "jumpbox", Some(id), async {
            access::require_msp(actor, "manage jumpboxes")?;
            let before = self.jumpbox(id).await?;
            let mut j = before.clone();
            if let Some(name) = &input.name {
                j.name = validate::ssh_name("name", name)?;
            }
            if let Some(address) = &input.address {
                j.address = validate::ssh_address("address", address)?;
            }
            if input.port.is_some() {
                j.port = validate::ssh_port("port", input.port)?;
            }
            if let Some(user) = &input.user {
                j.user = validate::ssh_user("user", user)?;
            }
            if let Some(c) = &input.credential_id {
                j.credential_id = self.credential_for("credential_id", c).await?.credential.id;
            }
            let changes = changes(&[
                ("name", &before.name, &j.name),
                ("address", &before.address, &j.address),
                ("port", &before.port.to_string(), &j.port.to_string()),
                ("user", &before.user, &j.user),
                ("credential", &before.credential_id, &j.credential_id),
            ]);
            if changes.is_empty() {
                return Ok(before);
            }
            let moved = before.address != j.address || before.port != j.port;
            if moved {
                j.host_key = None;
                j.host_key_fingerprint = None;
            }
            j.updated_at = self.now();
            let cleared = if moved && before.host_key.is_some() { "; the pinned host key was cleared (new address)" } else { "" };
            let audit = self.draft(
                actor,
                None,
                "jumpbox.update",
                "jumpbox",
                Some(&j.id),
                Outcome::Succeeded,
                format!("Changed jumpbox {}: {}{cleared}", before.name, changes.join(", ")),
            );
            self.store.update_jumpbox(&j, audit).await?;
            Ok(j)
        })
        .await
    }

    /// Deletes a jumpbox no host goes through (MSP roles).
    pub async fn jumpbox_delete(&self, actor: &Actor, id: &str) -> Result<Jumpbox> {
        self.change(actor, "jumpbox.delete", "jumpbox", Some(id), async {
            access::require_msp(actor, "manage jumpboxes")?;
            let j = self.jumpbox(id).await?;
            let audit = self.draft(actor, None, "jumpbox.delete", "jumpbox", Some(&j.id), Outcome::Succeeded, format!("Deleted jumpbox {} ({}@{}:{})", j.name, j.user, j.address, j.port));
            self.store.delete_jumpbox(&j.id, audit).await?;
            Ok(j)
        })
        .await
    }

    async fn jumpbox(&self, id: &str) -> Result<Jumpbox> {
        let not_found = || Error::not_found("jumpbox", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        self.store.get_jumpbox(&id).await?.ok_or_else(not_found)
    }

    // hosts

    /// Adds a host profile to an organization (MSP roles).
    pub async fn host_create(&self, actor: &Actor, input: NewHost) -> Result<Host> {
        self.change(actor, "host.create", "host", None, async {
            access::require_msp(actor, "add hosts")?;
            let org_id = validate::id("org_id", &input.org_id)?;
            let name = validate::ssh_name("name", &input.name)?;
            let address = validate::ssh_address("address", &input.address)?;
            let port = validate::ssh_port("port", input.port)?;
            let user = validate::ssh_user("user", &input.user)?;
            let jumpbox = match input.jumpbox.as_deref().map(str::trim).filter(|j| !j.is_empty()) {
                None => None,
                Some(j) => Some(self.jumpbox_named("jumpbox", j).await?),
            };
            let credential = self.credential_for("credential_id", &input.credential_id).await?.credential;
            let org = self.store.get_org(&org_id).await?.ok_or_else(|| Error::invalid("org_id", "names no organization"))?;
            if org.archived_at.is_some() {
                return Err(Error::invalid("org_id", "names an archived organization"));
            }
            let now = self.now();
            let h = Host {
                id: new_id(),
                org_id: org.id.clone(),
                name,
                address,
                port,
                user,
                credential_id: credential.id,
                jumpbox_id: jumpbox.as_ref().map(|j| j.id.clone()),
                host_key: None,
                host_key_fingerprint: None,
                verified_at: None,
                node_id: None,
                created_at: now,
                updated_at: now,
            };
            let route = match &jumpbox {
                Some(j) => format!("through jumpbox {}", j.name),
                None => "directly".to_owned(),
            };
            let audit = self.draft(
                actor,
                Some(org.id.clone()),
                "host.create",
                "host",
                Some(&h.id),
                Outcome::Succeeded,
                format!("Added host {} ({}@{}:{}) to {}, reached {route} with credential {}", h.name, h.user, h.address, h.port, org.name, credential.name),
            );
            self.store.insert_host(&h, audit).await?;
            Ok(h)
        })
        .await
    }

    async fn jumpbox_named(&self, field: &str, value: &str) -> Result<Jumpbox> {
        if let Ok(id) = validate::id(field, value) {
            if let Some(j) = self.store.get_jumpbox(&id).await? {
                return Ok(j);
            }
        }
        let name = validate::ssh_name(field, value)?;
        self.store.get_jumpbox_by_name(&name).await?.ok_or_else(|| Error::invalid(field, "names no jumpbox"))
    }

    /// Hosts the actor may see: MSP roles all, an organization admin their organization's.
    pub async fn host_list(&self, actor: &Actor, query: HostQuery) -> Result<Listing<Host>> {
        let page = Page::new(query.offset, query.limit)?;
        let org_id = query.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?;
        let scope = access::node_scope(actor);
        Ok(paged(self.store.list_hosts(&scope, org_id.as_deref(), probe_page(page)).await?, page))
    }

    pub async fn host_get(&self, actor: &Actor, id: &str) -> Result<Host> {
        self.read(actor, "host.get", "host", Some(id), async { self.visible_host(actor, id).await }).await
    }

    /// Clears a host's pinned host key, after its owner confirmed the new one.
    pub async fn host_forget_host_key(&self, actor: &Actor, id: &str) -> Result<Host> {
        self.change(actor, "host.forget_host_key", "host", Some(id), async {
            let mut h = self.visible_host(actor, id).await?;
            access::require_msp(actor, "manage hosts")?;
            let now = self.now();
            let audit = self.draft(
                actor,
                Some(h.org_id.clone()),
                "host.forget_host_key",
                "host",
                Some(&h.id),
                Outcome::Succeeded,
                format!("Cleared the pinned host key of host {} ({}); the next attempt pins the key it sees", h.name, h.host_key_fingerprint.as_deref().unwrap_or("none was pinned")),
            );
            self.store.clear_host_key(&h.id, now, audit).await?;
            h.host_key = None;
            h.host_key_fingerprint = None;
            h.updated_at = now;
            Ok(h)
        })
        .await
    }

    /// Changes a host profile (MSP roles). Every field passes the same checks as when added.
    pub async fn host_update(&self, actor: &Actor, id: &str, input: HostUpdate) -> Result<Host> {
        self.change(actor, "host.update", "host", Some(id), async {
            let before = self.visible_host(actor, id).await?;
            access::require_msp(actor, "manage hosts")?;
            let mut h = before.clone();
            if let Some(name) = &input.name {
                h.name = validate::ssh_name("name", name)?;
            }
            if let Some(address) = &input.address {
                h.address = validate::ssh_address("address", address)?;
            }
            if input.port.is_some() {
                h.port = validate::ssh_port("port", input.port)?;
            }
            if let Some(user) = &input.user {
                h.user = validate::ssh_user("user", user)?;
            }
            if let Some(c) = &input.credential_id {
                h.credential_id = self.credential_for("credential_id", c).await?.credential.id;
            }
            let mut route_names = (String::new(), String::new());
            if let Some(j) = &input.jumpbox {
                let old = match &before.jumpbox_id {
                    Some(id) => self.store.get_jumpbox(id).await?.map(|j| j.name).unwrap_or_else(|| id.clone()),
                    None => "direct".to_owned(),
                };
                h.jumpbox_id = match j.trim() {
                    "" => None,
                    j => Some(self.jumpbox_named("jumpbox", j).await?.id),
                };
                let new = match &h.jumpbox_id {
                    Some(id) => self.store.get_jumpbox(id).await?.map(|j| j.name).unwrap_or_else(|| id.clone()),
                    None => "direct".to_owned(),
                };
                route_names = (old, new);
            }
            let changes = changes(&[
                ("name", &before.name, &h.name),
                ("address", &before.address, &h.address),
                ("port", &before.port.to_string(), &h.port.to_string()),
                ("user", &before.user, &h.user),
                ("credential", &before.credential_id, &h.credential_id),
                ("route", &route_names.0, &route_names.1),
            ]);
            if changes.is_empty() {
                return Ok(before);
            }
            let moved = before.address != h.address || before.port != h.port;
            if moved {
                h.host_key = None;
                h.host_key_fingerprint = None;
            }
            let reach_changed = moved || before.user != h.user || before.credential_id != h.credential_id || before.jumpbox_id != h.jumpbox_id;
            if reach_changed {
                h.verified_at = None;
            }
            h.updated_at = self.now();
            let mut note = String::new();
            if moved && before.host_key.is_some() {
                note.push_str("; the pinned host key was cleared (new address)");
            }
            if reach_changed && before.verified_at.is_some() {
                note.push_str("; it needs Test Access again");
            }
            let audit = self.draft(
                actor,
                Some(h.org_id.clone()),
                "host.update",
                "host",
                Some(&h.id),
                Outcome::Succeeded,
                format!("Changed host {}: {}{note}", before.name, changes.join(", ")),
            );
            self.store.update_host(&h, audit).await?;
            Ok(h)
        })
        .await
    }

    /// Deletes a host profile and its attempts (MSP roles). A node it was registered as
    /// stays; retire it separately.
    pub async fn host_delete(&self, actor: &Actor, id: &str) -> Result<Host> {
        self.change(actor, "host.delete", "host", Some(id), async {
            let h = self.visible_host(actor, id).await?;
            access::require_msp(actor, "manage hosts")?;
            let node = match &h.node_id {
                Some(n) => format!("; node {n} it was registered as stays (retire it separately)"),
                None => String::new(),
            };
            let audit = self.draft(
                actor,
                Some(h.org_id.clone()),
                "host.delete",
                "host",
                Some(&h.id),
                Outcome::Succeeded,
                format!("Deleted host {} ({}@{}:{}) and its access attempts{node}", h.name, h.user, h.address, h.port),
            );
            self.store.delete_host(&h.id, audit).await?;
            Ok(h)
        })
        .await
    }

    async fn visible_host(&self, actor: &Actor, id: &str) -> Result<Host> {
        let not_found = || Error::not_found("host", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_host(&id).await? {
            Some(h) if access::can_see_node(actor, Some(&h.org_id)) => Ok(h),
            _ => Err(not_found()),
        }
    }

    /// Registers a host whose last attempt succeeded as a node of its organization: a
    /// candidate without an agent. Installing the agent is a separate, approved job.
    pub async fn host_register(&self, actor: &Actor, id: &str) -> Result<Node> {
        self.change(actor, "host.register", "host", Some(id), async {
            let h = self.visible_host(actor, id).await?;
            access::require_msp(actor, "register hosts as nodes")?;
            if let Some(node) = &h.node_id {
                return Err(Error::conflict(None, format!("Host {} is already registered as node {node}.", h.name)));
            }
            if h.verified_at.is_none() {
                return Err(Error::conflict(None, format!("Host {} has not passed Test Access yet; run works host test-access {} and register it when it succeeds.", h.name, h.id)));
            }
            let node = self.node_create(actor, NewNode { name: h.name.clone(), org_id: Some(h.org_id.clone()) }).await?;
            let audit = self.draft(
                actor,
                Some(h.org_id.clone()),
                "host.register",
                "host",
                Some(&h.id),
                Outcome::Succeeded,
                format!("Registered host {} as node {} ({}), a candidate without an agent", h.name, node.name, node.id),
            );
            self.store.link_host_node(&h.id, &node.id, self.now(), audit).await?;
            Ok(node)
        })
        .await
    }

    // attempts

    /// Starts a Test Access attempt on a host (MSP roles) and answers at once with the
    /// running attempt; it goes on in the background and is read with
    /// [`Works::access_attempt_get`].
    pub async fn host_test_access(&self, actor: &Actor, id: &str) -> Result<AccessAttempt> {
        self.change(actor, "host.test_access", "host", Some(id), async {
            let h = self.visible_host(actor, id).await?;
            access::require_msp(actor, "test access to hosts")?;
            let Some(prober) = self.access_probe.clone() else {
                return Err(Error::unavailable("This server was started without the SSH access layer, so it cannot test access. Start it with `works serve`, which includes it."));
            };
            let (route, jumpbox, route_text) = self.route_for(&h).await?;
            let now = self.now();
            let first = if jumpbox.is_some() { Hop::Jumpbox } else { Hop::Target };
            let attempt = AccessAttempt {
                id: new_id(),
                host_id: h.id.clone(),
                org_id: h.org_id.clone(),
                host_name: h.name.clone(),
                jumpbox_id: jumpbox.as_ref().map(|j| j.id.clone()),
                route: route_text.clone(),
                status: AttemptStatus::Running,
                stage: Stage { hop: first, step: Step::Connect },
                failure: None,
                reason: None,
                next_action: None,
                transcript: vec![TranscriptEntry { at: now, hop: first, step: Step::Connect, message: format!("Started Test Access along {route_text}.") }],
                discovery: Discovery::default(),
                technical: String::new(),
                requested_by: actor.name.clone(),
                started_at: now,
                updated_at: now,
                finished_at: None,
            };
            let audit = self.draft(
                actor,
                Some(h.org_id.clone()),
                "host.test_access",
                "access_attempt",
                Some(&attempt.id),
                Outcome::Succeeded,
                format!("Started Test Access to host {} along {route_text}", h.name),
            );
            self.store.insert_access_attempt(&attempt, audit).await?;
            let works = self.clone();
            let run = attempt.clone();
            let actor = actor.clone();
            tokio::spawn(async move {
                works.run_attempt(&actor, run, h, jumpbox, prober, route).await;
            });
            Ok(attempt)
        })
        .await
    }

    /// The route to a host with its keys unsealed, its jumpbox, and the route in words.
    pub(crate) async fn route_for(&self, h: &Host) -> Result<(ProbeRoute, Option<Jumpbox>, String)> {
        let sealer = self.sealer()?;
        let jumpbox = match &h.jumpbox_id {
            Some(j) => Some(self.store.get_jumpbox(j).await?.ok_or_else(|| Error::conflict(None, "The host's jumpbox no longer exists; give the host another route."))?),
            None => None,
        };
        let endpoint = |address: &str, port: u16, user: &str, cred: &str, pinned: Option<String>| {
            let address = validate::ssh_address("address", address)?;
            let user = validate::ssh_user("user", user)?;
            let port = validate::ssh_port("port", Some(port))?;
            Ok::<_, Error>((address, port, user, cred.to_owned(), pinned))
        };
        let target_parts = endpoint(&h.address, h.port, &h.user, &h.credential_id, h.host_key.clone())?;
        let jump_parts = jumpbox.as_ref().map(|j| endpoint(&j.address, j.port, &j.user, &j.credential_id, j.host_key.clone())).transpose()?;
        let open = |(address, port, user, cred, pinned): (String, u16, String, String, Option<String>)| {
            let sealer = sealer.clone();
            let store = self.store.clone();
            async move {
                let rec = store.get_ssh_credential(&cred).await?.ok_or_else(|| Error::conflict(None, "The credential of this route no longer exists; choose another one."))?;
                let key = sealer.open_text(&seal_purpose(&rec.credential.id), &rec.sealed_key)?;
                Ok::<_, Error>(ProbeEndpoint { address, port, user, private_key: SecretText::new(key), pinned_host_key: pinned })
            }
        };
        let target = open(target_parts).await?;
        let jump = match jump_parts {
            Some(p) => Some(open(p).await?),
            None => None,
        };
        let route_text = match &jumpbox {
            Some(j) => format!("{}@{}:{} (jumpbox {}) → {}@{}:{} (host {})", j.user, j.address, j.port, j.name, h.user, h.address, h.port, h.name),
            None => format!("{}@{}:{} (host {}, direct)", h.user, h.address, h.port, h.name),
        };
        let route = ProbeRoute { jumpbox: jump, target, connect_timeout_secs: CONNECT_TIMEOUT_SECS, command_timeout_secs: COMMAND_TIMEOUT_SECS };
        Ok((route, jumpbox, route_text))
    }

    async fn run_attempt(&self, actor: &Actor, mut a: AccessAttempt, h: Host, j: Option<Jumpbox>, prober: Arc<dyn probe::AccessProbe>, route: ProbeRoute) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut pins = HostKeyPins::default();
        let fut = tokio::time::timeout(std::time::Duration::from_secs(ATTEMPT_TIMEOUT_SECS as u64), prober.probe(route, tx));
        tokio::pin!(fut);
        let outcome = loop {
            tokio::select! {
                Some(ev) = rx.recv() => self.apply_event(&mut a, &h, j.as_ref(), &mut pins, ev).await,
                r = &mut fut => break r,
            }
        };
        while let Ok(ev) = rx.try_recv() {
            self.apply_event(&mut a, &h, j.as_ref(), &mut pins, ev).await;
        }
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(f)) => Some(f),
            Err(_) => Some(ProbeFailure { hop: a.stage.hop, step: a.stage.step, kind: FailureKind::Interrupted, technical: format!("The attempt ran past {ATTEMPT_TIMEOUT_SECS} seconds and was stopped.") }),
        };
        let failure = failure.or_else(|| {
            docker_failure(&a.discovery).map(|kind| ProbeFailure { hop: Hop::Target, step: Step::Docker, kind, technical: String::new() })
        });
        let now = self.now();
        let subject = probe::Subject {
            host_name: &h.name,
            host_address: &h.address,
            jumpbox_name: j.as_ref().map(|j| j.name.as_str()),
            jumpbox_address: j.as_ref().map(|j| j.address.as_str()),
            host_id: &h.id,
        };
        let summary = match failure {
            Some(f) => {
                let kind = if f.hop == Hop::Jumpbox && f.kind.is_network() { FailureKind::JumpboxUnreachable } else { f.kind };
                let (reason, next) = if kind == FailureKind::JumpboxUnreachable {
                    let (detail, _) = probe::explain(f.kind, Hop::Jumpbox, &subject);
                    let (reason, next) = probe::explain(kind, Hop::Jumpbox, &subject);
                    (format!("{reason} {detail}"), next)
                } else {
                    probe::explain(kind, f.hop, &subject)
                };
                a.status = AttemptStatus::Failed;
                a.stage = Stage { hop: f.hop, step: f.step };
                a.failure = Some(kind);
                a.reason = Some(reason.clone());
                a.next_action = Some(next);
                if !f.technical.is_empty() {
                    Self::add_technical(&mut a, &f.technical);
                }
                a.transcript.push(TranscriptEntry { at: now, hop: f.hop, step: f.step, message: format!("Stopped: {reason}") });
                (Outcome::Failed, format!("Test Access to host {} failed at {} {}: {reason}", h.name, f.hop.as_str(), f.step.as_str()))
            }
            None => {
                a.status = AttemptStatus::Succeeded;
                a.stage = Stage { hop: Hop::Target, step: Step::Done };
                let next = if h.node_id.is_some() {
                    "Nothing to do: the host is already registered as a node.".to_owned()
                } else {
                    format!("Register the host as a node candidate (works host register {}), then install the agent with an approved job.", h.id)
                };
                a.next_action = Some(next);
                a.transcript.push(TranscriptEntry { at: now, hop: Hop::Target, step: Step::Done, message: "Access verified: signed in, host keys pinned, discovery stored.".to_owned() });
                (Outcome::Succeeded, format!("Test Access to host {} succeeded along {}", h.name, a.route))
            }
        };
        a.finished_at = Some(now);
        a.updated_at = now;
        let audit = self.draft(actor, Some(h.org_id.clone()), "host.test_access", "access_attempt", Some(&a.id), summary.0, summary.1);
        if let Err(e) = self.store.finish_access_attempt(&a, &pins, audit).await {
            tracing::error!(error = %e, attempt = %a.id, "could not record the end of a Test Access attempt");
        }
    }

    fn add_technical(a: &mut AccessAttempt, text: &str) {
        const MAX: usize = 64 * 1024;
        let text = crate::redact::redact(text.trim_end());
        if a.technical.len() + text.len() < MAX {
            a.technical.push_str(&text);
            a.technical.push('\n');
        }
    }

    async fn apply_event(&self, a: &mut AccessAttempt, h: &Host, j: Option<&Jumpbox>, pins: &mut HostKeyPins, ev: ProbeEvent) {
        let now = self.now();
        match ev {
            ProbeEvent::Step { hop, step } => {
                a.stage = Stage { hop, step };
                let whom = match hop {
                    Hop::Jumpbox => format!("jumpbox {}", j.map(|j| j.name.as_str()).unwrap_or("")),
                    Hop::Target => format!("host {}", h.name),
                };
                let message = match step {
                    Step::Connect => format!("Connecting to the {whom}."),
                    Step::HostKey => format!("Checking the host key of the {whom}."),
                    Step::Authenticate => format!("Signing in to the {whom}."),
                    Step::Discover => format!("Running the built-in read-only checks on the {whom}."),
                    Step::Docker => format!("Checking Docker on the {whom}."),
                    Step::Install => format!("Installing the agent on the {whom}."),
                    Step::Enroll => format!("Enrolling the agent on the {whom}."),
                    Step::Done => "Done.".to_owned(),
                };
                a.transcript.push(TranscriptEntry { at: now, hop, step, message });
            }
            ProbeEvent::Connected { hop, host_key } => {
                let key = host_key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
                let fp = host_key_fingerprint(&key);
                let (pinned, whom) = match hop {
                    Hop::Jumpbox => (j.and_then(|j| j.host_key.clone()), format!("jumpbox {}", j.map(|j| j.name.as_str()).unwrap_or(""))),
                    Hop::Target => (h.host_key.clone(), format!("host {}", h.name)),
                };
                let fp_text = fp.clone().unwrap_or_else(|| "unknown fingerprint".into());
                let message = match (&pinned, &fp) {
                    (Some(_), _) => format!("Signed in to the {whom}; its host key matches the pinned one ({fp_text})."),
                    (None, Some(fp)) => {
                        match (hop, j) {
                            (Hop::Jumpbox, Some(j)) => pins.jumpbox = Some((j.id.clone(), key.clone(), fp.clone())),
                            _ => pins.host = Some((key.clone(), fp.clone())),
                        }
                        format!("Signed in to the {whom}; first contact, its host key {fp} is now pinned.")
                    }
                    (None, None) => format!("Signed in to the {whom}, but its host key could not be read, so none was pinned."),
                };
                a.transcript.push(TranscriptEntry { at: now, hop, step: Step::Authenticate, message });
            }
            ProbeEvent::CheckDone { check, exit, stdout, stderr } => {
                let message = interpret_check(&mut a.discovery, check, exit, &stdout, &stderr);
                let step = if matches!(check, Check::DockerCli | Check::DockerEngine | Check::Containers) { Step::Docker } else { Step::Discover };
                a.stage = Stage { hop: Hop::Target, step };
                a.transcript.push(TranscriptEntry { at: now, hop: Hop::Target, step, message });
                let argv = check.argv().join(" ");
                let mut tech = format!("$ {argv}\nexit: {}\n", exit.map(|e| e.to_string()).unwrap_or_else(|| "none".into()));
                let cut = |s: &str| s.chars().take(4000).collect::<String>();
                if !stdout.trim().is_empty() {
                    tech.push_str(&cut(&stdout));
                }
                if !stderr.trim().is_empty() {
                    tech.push_str(&format!("\nstderr: {}", cut(&stderr)));
                }
                Self::add_technical(a, &tech);
            }
        }
        a.updated_at = now;
        if let Err(e) = self.store.update_access_attempt(a).await {
            tracing::warn!(error = %e, attempt = %a.id, "could not record Test Access progress");
        }
    }

    pub async fn access_attempt_get(&self, actor: &Actor, id: &str) -> Result<AccessAttempt> {
        self.read(actor, "access_attempt.get", "access_attempt", Some(id), async {
            let not_found = || Error::not_found("access attempt", id);
            let id = validate::id("id", id).map_err(|_| not_found())?;
            match self.store.get_access_attempt(&id).await? {
                Some(a) if access::can_see_node(actor, Some(&a.org_id)) => Ok(a),
                _ => Err(not_found()),
            }
        })
        .await
    }

    /// Attempts the actor may see, newest first.
    pub async fn access_attempt_list(&self, actor: &Actor, query: AttemptQuery) -> Result<Listing<AccessAttempt>> {
        let page = Page::new(query.offset, query.limit)?;
        let host_id = query.host_id.as_deref().map(|o| validate::id("host_id", o)).transpose()?;
        let scope = access::node_scope(actor);
        Ok(paged(self.store.list_access_attempts(&scope, host_id.as_deref(), probe_page(page)).await?, page))
    }

    /// Attempts left running by a server that stopped become failed with a reason.
    pub async fn recover_access_attempts(&self) -> Result<u32> {
        let before = self.now() - chrono::Duration::seconds(ATTEMPT_TIMEOUT_SECS + 30);
        let mut n = 0;
        for mut a in self.store.running_access_attempts(before).await? {
            let now = self.now();
            a.status = AttemptStatus::Failed;
            a.failure = Some(FailureKind::Interrupted);
            let subject = probe::Subject { host_name: &a.host_name.clone(), host_address: "", jumpbox_name: None, jumpbox_address: None, host_id: &a.host_id.clone() };
            let (reason, next) = probe::explain(FailureKind::Interrupted, a.stage.hop, &subject);
            a.reason = Some(reason.clone());
            a.next_action = Some(next);
            a.finished_at = Some(now);
            a.updated_at = now;
            let audit = self.draft(&Actor::system(), Some(a.org_id.clone()), "host.test_access", "access_attempt", Some(&a.id), Outcome::Failed, reason);
            match self.store.finish_access_attempt(&a, &HostKeyPins::default(), audit).await {
                Ok(()) => n += 1,
                // It ended by itself meanwhile.
                Err(Error::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_read_from_the_checks() {
        let mut d = Discovery::default();
        interpret_check(&mut d, Check::OsRelease, Some(0), "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "");
        interpret_check(&mut d, Check::Memory, Some(0), "MemTotal:       16307200 kB\nMemFree: 1 kB\n", "");
        interpret_check(&mut d, Check::Disk, Some(0), "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 41152736 10000000 29000000 26% /\n", "");
        interpret_check(&mut d, Check::Cpus, Some(0), "4\n", "");
        assert_eq!(d.os.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
        assert_eq!(d.memory_mib, Some(15925));
        assert_eq!(d.disk_total_mib, Some(40188));
        assert_eq!(d.cpus, Some(4));
        assert_eq!(docker_failure(&d), Some(FailureKind::DockerMissing));
        interpret_check(&mut d, Check::DockerCli, Some(0), "Docker version 24.0.7\n", "");
        interpret_check(&mut d, Check::DockerEngine, Some(1), "", "permission denied while trying to connect to the Docker daemon socket");
        assert_eq!(docker_failure(&d), Some(FailureKind::DockerNotPermitted));
        let mut d2 = d.clone();
        interpret_check(&mut d2, Check::DockerEngine, Some(1), "", "Cannot connect to the Docker daemon. Is the docker daemon running?");
        assert_eq!(docker_failure(&d2), Some(FailureKind::DockerNotRunning));
        interpret_check(&mut d, Check::DockerEngine, Some(0), "24.0.7\n", "");
        interpret_check(&mut d, Check::Containers, Some(0), "openclaw-gateway\tghcr.io/openclaw/openclaw:1.2\tUp 3 hours\nredis\tredis:7\tUp\n", "");
        assert_eq!(docker_failure(&d), None);
        assert_eq!(d.openclaw_likely, Some(true));
        assert_eq!(d.containers.len(), 2);
    }

    #[test]
    fn keys_that_cannot_be_used_are_refused_plainly() {
        for (text, says) in [
            ("", "empty"),
            ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE example", "public key"),
            ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n", "passphrase"),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "PEM"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 at all\n-----END OPENSSH PRIVATE KEY-----", "damaged"),
            ("hello", "not an SSH private key"),
        ] {
            let e = inspect_private_key(text).unwrap_err();
            assert_eq!(e.field(), Some("private_key"));
            assert!(e.to_string().contains(says), "{text:?}: {e}");
        }
    }
}
