//! Nodes: the machines the MSP manages, for an organization or as shared MSP
//! infrastructure. Their status is computed from the age of the last check-in, so a
//! node never disappears because it went quiet.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::error::{Error, Result};
use crate::model::{Listing, Page};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

/// How recently the node's agent was heard from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Checked in within the stale threshold.
    Online,
    /// Quiet for longer than the stale threshold, not yet offline.
    Stale,
    /// Quiet for longer than the offline threshold, or never checked in.
    Offline,
}

impl NodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Online => "online",
            NodeStatus::Stale => "stale",
            NodeStatus::Offline => "offline",
        }
    }
}

/// Thresholds of the node status, configurable per deployment.
#[derive(Debug, Clone, Copy)]
pub struct NodeThresholds {
    pub stale_after: Duration,
    pub offline_after: Duration,
}

impl Default for NodeThresholds {
    fn default() -> Self {
        NodeThresholds { stale_after: Duration::seconds(90), offline_after: Duration::minutes(5) }
    }
}

impl NodeThresholds {
    pub fn status(&self, last_checkin: Option<DateTime<Utc>>, now: DateTime<Utc>) -> NodeStatus {
        match last_checkin {
            None => NodeStatus::Offline,
            Some(at) if now - at > self.offline_after => NodeStatus::Offline,
            Some(at) if now - at > self.stale_after => NodeStatus::Stale,
            Some(_) => NodeStatus::Online,
        }
    }
}

/// What the agent reports about its machine at every check-in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NodeHealth {
    pub uptime_secs: u64,
    pub load1: f64,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub disk_total_bytes: u64,
    pub disk_available_bytes: u64,
    pub agent_version: String,
    pub docker_reachable: bool,
    pub docker_version: Option<String>,
}

/// One check-in as it is written: the node, when, its health and, when it changed, its
/// inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckinWrite {
    pub node_id: String,
    /// When set, the write is also the credential check: it lands only while the
    /// credential with this hash is the node's and unrevoked, and the node not retired.
    pub credential_hash: Option<String>,
    pub at: DateTime<Utc>,
    pub health: NodeHealth,
    pub containers: Option<Vec<Container>>,
}

/// A port a container publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublishedPort {
    pub container_port: u16,
    pub host_port: Option<u16>,
    pub host_ip: Option<String>,
    pub protocol: String,
}

/// A mount of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContainerMount {
    pub kind: String,
    pub source: String,
    pub destination: String,
}

/// One container of a node's inventory. Environment values are never collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: String,
    pub health: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
    #[serde(default)]
    pub mounts: Vec<ContainerMount>,
}

/// A node record as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: String,
    pub name: String,
    pub org_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    pub last_checkin_at: Option<DateTime<Utc>>,
    pub health: Option<NodeHealth>,
    /// When an agent credential was last issued for this node.
    pub enrolled_at: Option<DateTime<Utc>>,
}

/// A node as people see it: the record with its computed status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Node {
    pub id: String,
    pub name: String,
    /// Empty for shared MSP infrastructure.
    pub org_id: Option<String>,
    pub status: NodeStatus,
    /// Why the status is what it is, in plain English.
    pub status_reason: String,
    pub last_checkin_at: Option<DateTime<Utc>>,
    pub health: Option<NodeHealth>,
    pub enrolled_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn ago(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        1 => "1 second ago".to_owned(),
        0..=119 => format!("{s} seconds ago"),
        120..=7199 => format!("{} minutes ago", s / 60),
        7200..=172_799 => format!("{} hours ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

impl NodeRecord {
    pub fn view(self, thresholds: &NodeThresholds, now: DateTime<Utc>) -> Node {
        let status = thresholds.status(self.last_checkin_at, now);
        let status_reason = match (status, self.last_checkin_at) {
            (_, None) if self.enrolled_at.is_none() => {
                "No agent has enrolled yet. Create an enrollment token and run `works agent enroll` on the machine.".to_owned()
            }
            (_, None) => "The agent enrolled but has not checked in yet.".to_owned(),
            (NodeStatus::Online, Some(at)) => format!("The agent checked in {}.", ago(now - at)),
            (NodeStatus::Stale, Some(at)) => {
                format!("The agent last checked in {}; it may be slow or restarting.", ago(now - at))
            }
            (NodeStatus::Offline, Some(at)) => format!(
                "The agent last checked in {}. Check that the machine is running and the agent service is up.",
                ago(now - at)
            ),
        };
        Node {
            id: self.id,
            name: self.name,
            org_id: self.org_id,
            status,
            status_reason,
            last_checkin_at: self.last_checkin_at,
            health: self.health,
            enrolled_at: self.enrolled_at,
            retired_at: self.retired_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    /// A host-like name: letters, digits, dots and hyphens, 1 to 100 characters.
    pub name: String,
    /// The customer organization; empty for shared MSP infrastructure.
    pub org_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenameNode {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct NodeQuery {
    pub org_id: Option<String>,
    #[serde(default)]
    pub include_retired: bool,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// Node names end up in approval phrases and host lists: keep them host-like.
pub fn validate_node_name(value: &str) -> Result<String> {
    let v = validate::name("name", value)?;
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
        return Err(Error::invalid("name", "may contain only letters, digits, dots, hyphens and underscores"));
    }
    if v.starts_with(['-', '.']) {
        return Err(Error::invalid("name", "must start with a letter or a digit"));
    }
    Ok(v)
}

impl Works {
    pub async fn node_create(&self, actor: &Actor, input: NewNode) -> Result<Node> {
        self.change(actor, "node.create", "node", None, async {
            let name = validate_node_name(&input.name)?;
            let org_id = input.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?;
            access::require_node_manager(actor, org_id.as_deref())?;
            if let Some(org_id) = &org_id {
                let org = self
                    .visible_org(actor, org_id)
                    .await
                    .map_err(|_| Error::invalid("org_id", "names no organization you can see"))?;
                if org.archived_at.is_some() {
                    return Err(Error::invalid("org_id", "names an archived organization"));
                }
            }
            let now = self.now();
            let record = NodeRecord {
                id: new_id(),
                name,
                org_id,
                created_at: now,
                updated_at: now,
                retired_at: None,
                last_checkin_at: None,
                health: None,
                enrolled_at: None,
            };
            let where_ = if record.org_id.is_some() { "for a customer organization" } else { "as shared MSP infrastructure" };
            let audit = self.draft(
                actor,
                record.org_id.clone(),
                "node.create",
                "node",
                Some(&record.id),
                Outcome::Succeeded,
                format!("Added node {} {where_}", record.name),
            );
            self.store.insert_node(&record, audit).await?;
            Ok(record.view(&self.config.nodes, now))
        })
        .await
    }

    pub async fn node_list(&self, actor: &Actor, query: NodeQuery) -> Result<Listing<Node>> {
        let page = Page::new(query.offset, query.limit)?;
        let org_filter = query.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?;
        let scope = access::node_scope(actor);
        let now = self.now();
        let items = self.store.list_nodes(&scope, org_filter.as_deref(), query.include_retired, probe(page)).await?;
        let items = items.into_iter().map(|r| r.view(&self.config.nodes, now)).collect();
        Ok(paged(items, page))
    }

    pub async fn node_get(&self, actor: &Actor, id: &str) -> Result<Node> {
        self.read(actor, "node.get", "node", Some(id), async {
            let r = self.visible_node(actor, id).await?;
            Ok(r.view(&self.config.nodes, self.now()))
        })
        .await
    }

    pub async fn node_rename(&self, actor: &Actor, id: &str, input: RenameNode) -> Result<Node> {
        self.change(actor, "node.rename", "node", Some(id), async {
            let mut r = self.visible_node(actor, id).await?;
            access::require_node_manager(actor, r.org_id.as_deref())?;
            let name = validate_node_name(&input.name)?;
            let old = std::mem::replace(&mut r.name, name);
            r.updated_at = self.now();
            let audit = self.draft(actor, r.org_id.clone(), "node.rename", "node", Some(&r.id), Outcome::Succeeded, format!("Renamed node {old} to {}", r.name));
            self.store.update_node(&r, audit).await?;
            // What the agent's check-ins record names the node by its new name.
            self.checkins.forget_node(&r.id);
            Ok(r.view(&self.config.nodes, self.now()))
        })
        .await
    }

    /// Retires a node: it stays on record, its agent is cut off, it takes no new work.
    pub async fn node_retire(&self, actor: &Actor, id: &str) -> Result<Node> {
        self.change(actor, "node.retire", "node", Some(id), async {
            let mut r = self.visible_node(actor, id).await?;
            access::require_node_manager(actor, r.org_id.as_deref())?;
            if r.retired_at.is_some() {
                return Err(Error::conflict(None, "This node is already retired."));
            }
            let now = self.now();
            r.retired_at = Some(now);
            r.updated_at = now;
            let audit = self.draft(actor, r.org_id.clone(), "node.retire", "node", Some(&r.id), Outcome::Succeeded, format!("Retired node {}; its agent credential was revoked", r.name));
            self.store.retire_node(&r, now, audit).await?;
            Ok(r.view(&self.config.nodes, now))
        })
        .await
    }

    /// The node's containers as last reported by its agent.
    pub async fn node_containers(&self, actor: &Actor, id: &str) -> Result<Vec<Container>> {
        self.read(actor, "node.containers", "node", Some(id), async {
            let r = self.visible_node(actor, id).await?;
            Ok(self.store.get_inventory(&r.id).await?.unwrap_or_default())
        })
        .await
    }

    pub(crate) async fn visible_node(&self, actor: &Actor, id: &str) -> Result<NodeRecord> {
        let not_found = || Error::not_found("node", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_node(&id).await? {
            Some(n) if access::can_see_node(actor, n.org_id.as_deref()) => Ok(n),
            _ => Err(not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn status_follows_the_age_of_the_last_check_in() {
        let t = NodeThresholds { stale_after: Duration::seconds(90), offline_after: Duration::minutes(5) };
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        assert_eq!(t.status(None, now), NodeStatus::Offline);
        assert_eq!(t.status(Some(now - Duration::seconds(30)), now), NodeStatus::Online);
        assert_eq!(t.status(Some(now - Duration::seconds(91)), now), NodeStatus::Stale);
        assert_eq!(t.status(Some(now - Duration::minutes(6)), now), NodeStatus::Offline);
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(Duration::seconds(1)), "1 second ago");
        assert_eq!(ago(Duration::seconds(5)), "5 seconds ago");
        assert_eq!(ago(Duration::minutes(10)), "10 minutes ago");
        assert_eq!(ago(Duration::hours(3)), "3 hours ago");
        assert_eq!(ago(Duration::days(4)), "4 days ago");
    }

    #[test]
    fn node_names_cannot_carry_shell_or_option_syntax() {
        for bad in ["-oProxyCommand=x", "a b", "web;rm", "$(id)", ".hidden", ""] {
            assert!(validate_node_name(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_node_name(" acme-web-01 ").unwrap(), "acme-web-01");
    }
}
