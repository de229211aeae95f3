//! Connections: records of access to an outside tool (Google Drive, ServiceTitan,
//! QuickBooks, Composio, or a generic endpoint), linked to the capabilities that may use
//! them. A credential is write-only: sealed with the master key for `connection:<id>`,
//! never returned, logged or audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::capabilities;
use crate::error::{Error, Result};
use crate::model::{Listing, Page};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    GoogleDrive,
    Servicetitan,
    Quickbooks,
    Composio,
    Generic,
}

impl Provider {
    pub const ALL: [Provider; 5] = [Provider::GoogleDrive, Provider::Servicetitan, Provider::Quickbooks, Provider::Composio, Provider::Generic];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GoogleDrive => "google_drive",
            Provider::Servicetitan => "servicetitan",
            Provider::Quickbooks => "quickbooks",
            Provider::Composio => "composio",
            Provider::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Provider::GoogleDrive => "Google Drive",
            Provider::Servicetitan => "ServiceTitan",
            Provider::Quickbooks => "QuickBooks",
            Provider::Composio => "Composio",
            Provider::Generic => "a generic endpoint",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// A record prepared for later; nothing can use it yet.
    Placeholder,
    /// Ready to use.
    Connected,
    /// The last use failed; see `status_reason`.
    Error,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Placeholder => "placeholder",
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [ConnectionStatus::Placeholder, ConnectionStatus::Connected, ConnectionStatus::Error].into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Connection {
    pub id: String,
    pub org_id: String,
    /// The person the connection belongs to (organization users see their own).
    pub owner_id: String,
    pub name: String,
    pub provider: Provider,
    pub status: ConnectionStatus,
    /// Why the status is what it is, in plain English.
    pub status_reason: Option<String>,
    /// Capability ids that may use this connection.
    pub capabilities: Vec<String>,
    /// OpenClaw instances (ids) of the organization that use this connection.
    #[serde(default)]
    pub instances: Vec<String>,
    /// Whether a credential is stored. The credential itself is never returned.
    pub has_credential: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A connection as stored: the record and its sealed credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    pub connection: Connection,
    /// Sealed for `connection:<id>`.
    pub sealed_credential: Option<String>,
}

impl std::fmt::Debug for ConnectionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRecord").field("connection", &self.connection).field("sealed_credential", &self.sealed_credential.as_ref().map(|_| "<sealed>")).finish()
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// Defaults to the caller's organization.
    #[serde(default)]
    pub org_id: Option<String>,
    pub name: String,
    pub provider: Provider,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// OpenClaw instances of the organization that use this connection.
    #[serde(default)]
    pub instances: Vec<String>,
    /// An access token or key. Write-only: sealed, never shown again.
    #[serde(default)]
    pub credential: Option<String>,
    /// Defaults to `connected` with a credential, else `placeholder`.
    #[serde(default)]
    pub status: Option<ConnectionStatus>,
}

impl std::fmt::Debug for NewConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnection")
            .field("org_id", &self.org_id)
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("capabilities", &self.capabilities)
            .field("instances", &self.instances)
            .field("credential", &self.credential.as_ref().map(|_| "<hidden>"))
            .field("status", &self.status)
            .finish()
    }
}

/// A change to a connection; fields left out stay as they are.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConnectionUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    /// Replaces the linked OpenClaw instances (an empty list unlinks them all).
    #[serde(default)]
    pub instances: Option<Vec<String>>,
    #[serde(default)]
    pub status: Option<ConnectionStatus>,
    /// Replaces the stored credential (write-only). An empty string removes it.
    #[serde(default)]
    pub credential: Option<String>,
}

impl std::fmt::Debug for ConnectionUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionUpdate")
            .field("name", &self.name)
            .field("capabilities", &self.capabilities)
            .field("instances", &self.instances)
            .field("status", &self.status)
            .field("credential", &self.credential.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ConnectionQuery {
    pub org_id: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

pub const CREDENTIAL_MAX: usize = 8 * 1024;

/// The purpose a connection's credential is sealed for.
pub fn credential_purpose(id: &str) -> String {
    format!("connection:{id}")
}

fn check_links(provider: Provider, caps: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for c in caps {
        let c = c.trim();
        let cap = capabilities::find(c).ok_or_else(|| Error::invalid("capabilities", format!("{c} is not in the capability catalog")))?;
        if cap.provider != Some(provider) {
            return Err(Error::invalid(
                "capabilities",
                match cap.provider {
                    Some(p) => format!("{} works with {} connections, not {}", cap.name, p.label(), provider.label()),
                    None => format!("{} reaches no outside system and needs no connection", cap.name),
                },
            ));
        }
        if !out.iter().any(|o| o == c) {
            out.push(c.to_owned());
        }
    }
    Ok(out)
}

fn check_credential(value: &str) -> Result<()> {
    if value.len() > CREDENTIAL_MAX {
        return Err(Error::invalid("credential", format!("must be at most {CREDENTIAL_MAX} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid("credential", "must not contain control characters such as newlines"));
    }
    Ok(())
}

impl Works {
    pub async fn connection_create(&self, actor: &Actor, input: NewConnection) -> Result<Connection> {
        self.change(actor, "connection.create", "connection", None, async {
            let org_id = input.org_id.clone().or_else(|| actor.org_id.clone()).ok_or_else(|| Error::invalid("org_id", "is required: name the organization the connection belongs to"))?;
            let org = self.visible_org_for_policy(actor, &org_id).await?;
            access::require_connection_creator(actor, &org.id)?;
            let name = validate::name("name", &input.name)?;
            let caps = check_links(input.provider, &input.capabilities)?;
            let instances = self.check_instance_links(actor, &org.id, &input.instances).await?;
            let id = new_id();
            let credential = input.credential.as_deref().map(str::trim).filter(|c| !c.is_empty());
            let sealed = match credential {
                Some(c) => {
                    check_credential(c)?;
                    Some(self.sealer()?.seal(&credential_purpose(&id), c.as_bytes())?)
                }
                None => None,
            };
            let status = input.status.unwrap_or(if sealed.is_some() { ConnectionStatus::Connected } else { ConnectionStatus::Placeholder });
            let now = self.now();
            let connection = Connection {
                id: id.clone(),
                org_id: org.id.clone(),
                owner_id: actor.id.clone(),
                name,
                provider: input.provider,
                status,
                status_reason: None,
                capabilities: caps,
                instances,
                has_credential: sealed.is_some(),
                created_at: now,
                updated_at: now,
            };
            let audit = self.draft(
                actor,
                Some(org.id.clone()),
                "connection.create",
                "connection",
                Some(&id),
                Outcome::Succeeded,
                format!("Added {} connection {} ({}{})", connection.provider.label(), connection.name, status.as_str(), if sealed.is_some() { ", with a credential" } else { "" }),
            );
            self.store.insert_connection(&ConnectionRecord { connection: connection.clone(), sealed_credential: sealed }, audit).await?;
            Ok(connection)
        })
        .await
    }

    /// Connections the actor may see: MSP roles all, organization admins their
    /// organization's, organization users their own.
    pub async fn connection_list(&self, actor: &Actor, query: ConnectionQuery) -> Result<Listing<Connection>> {
        let page = Page::new(query.offset, query.limit)?;
        let org_id = query.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?;
        let items = self.store.list_connections(&access::owned_scope(actor), org_id.as_deref(), probe(page)).await?;
        Ok(paged(items.into_iter().map(|r| r.connection).collect(), page))
    }

    pub async fn connection_get(&self, actor: &Actor, id: &str) -> Result<Connection> {
        self.read(actor, "connection.get", "connection", Some(id), async { Ok(self.visible_connection(actor, id).await?.connection) }).await
    }

    pub async fn connection_update(&self, actor: &Actor, id: &str, input: ConnectionUpdate) -> Result<Connection> {
        self.change(actor, "connection.update", "connection", Some(id), async {
            let mut rec = self.visible_connection(actor, id).await?;
            let c = &mut rec.connection;
            let mut what = Vec::new();
            if let Some(name) = &input.name {
                c.name = validate::name("name", name)?;
                what.push(format!("renamed to {}", c.name));
            }
            if let Some(caps) = &input.capabilities {
                c.capabilities = check_links(c.provider, caps)?;
                what.push(format!("linked to [{}]", c.capabilities.join(", ")));
            }
            if let Some(ids) = &input.instances {
                c.instances = self.check_instance_links(actor, &c.org_id, ids).await?;
                what.push(format!("used by {} OpenClaw instance(s)", c.instances.len()));
            }
            if let Some(cred) = &input.credential {
                let cred = cred.trim();
                if cred.is_empty() {
                    rec.sealed_credential = None;
                    what.push("credential removed".to_owned());
                } else {
                    check_credential(cred)?;
                    rec.sealed_credential = Some(self.sealer()?.seal(&credential_purpose(&c.id), cred.as_bytes())?);
                    what.push("credential replaced".to_owned());
                    // The error was about the old credential; the new one is checked at its next use.
                    if c.status == ConnectionStatus::Error && input.status.is_none() {
                        c.status = ConnectionStatus::Connected;
                        c.status_reason = None;
                        what.push("status connected again: the new credential is checked at its next use".to_owned());
                    }
                }
                c.has_credential = rec.sealed_credential.is_some();
            }
            if let Some(s) = input.status {
                c.status = s;
                c.status_reason = None;
                what.push(format!("status {}", s.as_str()));
            }
            c.updated_at = self.now();
            let audit = self.draft(actor, Some(c.org_id.clone()), "connection.update", "connection", Some(&c.id), Outcome::Succeeded, format!("Changed connection {}: {}", c.name, if what.is_empty() { "nothing".to_owned() } else { what.join("; ") }));
            self.store.update_connection(&rec, audit).await?;
            Ok(rec.connection)
        })
        .await
    }

    /// The instances a connection may be linked to: each an OpenClaw instance of the
    /// connection's organization that the actor may see and that was not removed. Another
    /// organization's instance is refused exactly like one that does not exist.
    async fn check_instance_links(&self, actor: &Actor, org_id: &str, ids: &[String]) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for (n, raw) in ids.iter().enumerate() {
            let field = format!("instances[{n}]");
            let refused = || Error::invalid(field.clone(), format!("{} is not an OpenClaw instance of this organization", raw.trim()));
            let id = validate::id(&field, raw)?;
            let (i, _) = match self.visible_instance_for(actor, &id).await {
                Ok(found) => found,
                Err(Error::NotFound { .. }) => return Err(refused()),
                Err(e) => return Err(e),
            };
            if i.org_id.as_deref() != Some(org_id) {
                return Err(refused());
            }
            if i.state == crate::instances::InstanceState::Removed {
                return Err(Error::invalid(field, "is a removed instance; link an instance that still runs"));
            }
            if !out.contains(&i.id) {
                out.push(i.id);
            }
        }
        Ok(out)
    }

    pub async fn connection_delete(&self, actor: &Actor, id: &str) -> Result<Connection> {
        self.change(actor, "connection.delete", "connection", Some(id), async {
            let rec = self.visible_connection(actor, id).await?;
            let c = rec.connection;
            let audit = self.draft(actor, Some(c.org_id.clone()), "connection.delete", "connection", Some(&c.id), Outcome::Succeeded, format!("Removed connection {} and its credential", c.name));
            self.store.delete_connection(&c.id, audit).await?;
            Ok(c)
        })
        .await
    }

    /// Records what the outside system said about a connection's credential during a
    /// live step of `run_id`: refused (`Some(reason)`: the connection goes to `error` with
    /// that reason) or accepted (`None`: a connection in `error` is `connected` again).
    /// Nothing changes when the credential was replaced while the call was under way, or
    /// when the status already says so. Audited as `connection.status`.
    pub(crate) async fn record_connection_use(&self, actor: &Actor, id: &str, used: &Option<String>, run_id: &str, refused: Option<&str>) -> Result<()> {
        let Some(mut rec) = self.store.get_connection(id).await? else { return Ok(()) };
        if &rec.sealed_credential != used {
            return Ok(());
        }
        let c = &mut rec.connection;
        let (status, reason, text) = match refused {
            Some(why) => {
                if c.status == ConnectionStatus::Error && c.status_reason.as_deref() == Some(why) {
                    return Ok(());
                }
                (ConnectionStatus::Error, Some(why.to_owned()), format!("Connection {} is now in error: a live step of run {run_id} was refused: {why}", c.name))
            }
            None => {
                if c.status == ConnectionStatus::Connected && c.status_reason.is_none() {
                    return Ok(());
                }
                (ConnectionStatus::Connected, None, format!("Connection {} is connected again: a live step of run {run_id} was accepted", c.name))
            }
        };
        c.status = status;
        c.status_reason = reason;
        c.updated_at = self.now();
        let audit = self.draft(actor, Some(c.org_id.clone()), "connection.status", "connection", Some(&c.id), Outcome::Succeeded, text);
        self.store.update_connection(&rec, audit).await
    }

    /// The connection when the actor may see it (and so manage it); otherwise "not found".
    pub(crate) async fn visible_connection(&self, actor: &Actor, id: &str) -> Result<ConnectionRecord> {
        let not_found = || Error::not_found("connection", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_connection(&id).await? {
            Some(r) if access::can_see_owned(actor, &r.connection.org_id, &r.connection.owner_id) => Ok(r),
            _ => Err(not_found()),
        }
    }
}
