//! OpenClaw instances: the ones found running on a node (discovered) and the ones the
//! product manages. Discovery happens at each inventory check-in and never touches a
//! container; takeover promotes a discovered instance to a managed record after a typed
//! confirmation, again without touching the container.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::audit::AuditDraft;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::error::{Error, Result};
use crate::model::{Listing, Page, Scope};
use crate::agent::AgentIdentity;
use crate::nodes::Container;
use crate::openclaw;
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

/// Where an instance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Found running on a node; the product does not manage it.
    Discovered,
    /// Requested: waiting for approval or for the agent to create it.
    Deploying,
    /// A record the product manages.
    Managed,
    /// The deploy did not finish; nothing of it was left on the node.
    Failed,
    /// Its containers were deleted; its volumes were kept.
    Removed,
}

impl InstanceState {
    pub const ALL: [InstanceState; 5] =
        [InstanceState::Discovered, InstanceState::Deploying, InstanceState::Managed, InstanceState::Failed, InstanceState::Removed];

    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Discovered => "discovered",
            InstanceState::Deploying => "deploying",
            InstanceState::Managed => "managed",
            InstanceState::Failed => "failed",
            InstanceState::Removed => "removed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        InstanceState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Plain label for people.
    pub fn label(self) -> &'static str {
        match self {
            InstanceState::Discovered => "Discovered",
            InstanceState::Deploying => "Deploying",
            InstanceState::Managed => "Managed",
            InstanceState::Failed => "Deploy failed",
            InstanceState::Removed => "Removed (volumes kept)",
        }
    }
}

/// An OpenClaw instance. Stored as is; `takeover_phrase` is filled in when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Instance {
    pub id: String,
    pub node_id: String,
    /// The node's organization; empty for shared MSP infrastructure.
    pub org_id: Option<String>,
    pub state: InstanceState,
    /// The gateway container, by Docker id; empty until a deployed container exists.
    pub container_id: String,
    pub container_name: String,
    pub image: String,
    /// The OpenClaw version from the image label or tag; empty when neither tells.
    pub version: Option<String>,
    /// The container's health as last reported (its health check, else its state).
    pub health: Option<String>,
    /// Why the container was recognised as OpenClaw, in plain English.
    pub reasons: Vec<String>,
    pub discovered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub taken_over_by: Option<String>,
    pub taken_over_at: Option<DateTime<Utc>>,
    /// For a discovered instance: what an approver types to take it over.
    #[serde(default)]
    pub takeover_phrase: Option<String>,
    /// Why the instance is in its state, in plain English (a failed deploy's reason, the
    /// outcome of the last restart or removal).
    #[serde(default)]
    pub reason: Option<String>,
    /// The last job that acted on the instance (deploy, health check, restart, remove).
    #[serde(default)]
    pub job_id: Option<String>,
    /// Technical detail of the last health check: components, `/healthz`, `/readyz`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub health_detail: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct InstanceQuery {
    pub node_id: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// Filters of the instance list, intersected with the scope.
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    pub node_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TakeoverInput {
    /// Exactly the instance's `takeover_phrase`.
    pub phrase: String,
}

/// The storage contract for instances. Same rules as [`crate::store`]: each change and
/// its audit record in one transaction; scopes applied in the query.
#[async_trait]
pub trait InstanceStore: Send + Sync + 'static {
    /// Records a discovered instance. When the node already has an instance for the same
    /// container, only its name, image, version, health, reasons and `updated_at` are
    /// refreshed (its id, state and takeover stay) and no audit record is written;
    /// otherwise the instance and the audit record are written in one transaction.
    /// True when the instance is new.
    async fn record_discovered_instance(&self, instance: &Instance, audit: AuditDraft) -> Result<bool>;
    async fn get_instance(&self, id: &str) -> Result<Option<Instance>>;
    /// `Scope::Org` → that organization's instances; `Scope::User` → the ones assigned to
    /// that user, in the user's own organization. Managed first,
    /// then by container name.
    async fn list_instances(&self, scope: &Scope, filter: &InstanceFilter, page: Page) -> Result<Vec<Instance>>;
    /// Writes state, takeover fields and `updated_at` if the stored instance is still
    /// discovered; otherwise writes nothing and answers `Error::Conflict`. With the audit
    /// record, one transaction.
    async fn take_over_instance(&self, instance: &Instance, audit: AuditDraft) -> Result<()>;
    /// Inserts an instance being deployed with its sealed gateway token, and its deploy
    /// job, with the audit record: one transaction.
    async fn insert_deploy(&self, instance: &Instance, sealed_token: &str, job: &crate::jobs::Job, audit: AuditDraft) -> Result<()>;
    /// The sealed gateway token of an instance deployed by the product.
    async fn get_instance_token(&self, id: &str) -> Result<Option<String>>;
    /// Writes the instance's state, container, version, health, reason, job and
    /// `updated_at`, with the audit record: one transaction. A missing instance is
    /// `Error::NotFound`.
    async fn update_instance(&self, instance: &Instance, audit: AuditDraft) -> Result<()>;
}

/// The health of an instance whose container the agent no longer reports.
pub const MISSING: &str = "missing: not in the node's last inventory";

/// The phrase an approver types to take over a container.
pub fn takeover_phrase(container_name: &str, node_name: &str) -> String {
    format!("take over openclaw {} on {node_name}", container_name.trim_start_matches('/'))
}

/// The health shown for a container: its health check when it has one, else its state.
fn container_health(c: &Container) -> String {
    match c.health.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => format!("{}, {h}", c.state),
        None => c.state.clone(),
    }
}

impl Works {
    /// Records the likely OpenClaw containers of a node's inventory that the product does
    /// not manage as discovered instances (one per node and container; later check-ins
    /// refresh it). Containers are never touched.
    pub(crate) async fn discover_instances(&self, agent: &AgentIdentity, containers: &[Container]) -> Result<()> {
        let actor = agent.as_actor();
        for c in containers {
            let class = openclaw::classify(c);
            if !class.likely_openclaw || class.managed_instance.is_some() {
                continue;
            }
            let now = self.now();
            let name = c.name.trim_start_matches('/').to_owned();
            let record = Instance {
                id: new_id(),
                node_id: agent.node_id.clone(),
                org_id: agent.org_id.clone(),
                state: InstanceState::Discovered,
                container_id: c.id.clone(),
                container_name: name.clone(),
                image: c.image.clone(),
                version: class.version,
                health: Some(container_health(c)),
                reasons: class.reasons,
                discovered_at: now,
                updated_at: now,
                taken_over_by: None,
                taken_over_at: None,
                takeover_phrase: None,
                reason: None,
                job_id: None,
                health_detail: None,
            };
            let audit = self.draft(
                &actor,
                agent.org_id.clone(),
                "instance.discover",
                "instance",
                Some(&record.id),
                Outcome::Succeeded,
                format!("Found OpenClaw container {name} on node {} ({}); it was left as it is", agent.node_name, record.reasons.join("; ")),
            );
            self.store.record_discovered_instance(&record, audit).await?;
        }
        // Instances whose container is no longer in the inventory stay on record, and
        // say so instead of showing their last health.
        let known = self
            .store
            .list_instances(&Scope::All, &InstanceFilter { node_id: Some(agent.node_id.clone()) }, Page { offset: 0, limit: Page::MAX_LIMIT })
            .await?;
        for mut i in known {
            let has_container = matches!(i.state, InstanceState::Discovered | InstanceState::Managed) && !i.container_id.is_empty();
            if !has_container || containers.iter().any(|c| c.id == i.container_id) || i.health.as_deref() == Some(MISSING) {
                continue;
            }
            i.health = Some(MISSING.to_owned());
            i.updated_at = self.now();
            let unused = self.draft(&actor, agent.org_id.clone(), "instance.discover", "instance", Some(&i.id), Outcome::Succeeded, "");
            self.store.record_discovered_instance(&i, unused).await?;
        }
        Ok(())
    }

    /// Instances the actor may see: MSP roles all, organization admins their
    /// organization's, organization users the ones assigned to them.
    pub async fn instance_list(&self, actor: &Actor, query: InstanceQuery) -> Result<Listing<Instance>> {
        let page = Page::new(query.offset, query.limit)?;
        let node_id = query.node_id.as_deref().map(|n| validate::id("node_id", n)).transpose()?;
        let scope = access::node_scope(actor);
        let items = self.store.list_instances(&scope, &InstanceFilter { node_id }, probe(page)).await?;
        let mut names: HashMap<String, Option<String>> = HashMap::new();
        let mut out = Vec::with_capacity(items.len());
        for mut i in items {
            if !names.contains_key(&i.node_id) {
                let name = self.store.get_node(&i.node_id).await?.map(|n| n.name);
                names.insert(i.node_id.clone(), name);
            }
            let node_name = names.get(&i.node_id).cloned().flatten();
            i.takeover_phrase = Self::phrase_for(&i, node_name.as_deref());
            out.push(i);
        }
        Ok(paged(out, page))
    }

    pub async fn instance_get(&self, actor: &Actor, id: &str) -> Result<Instance> {
        self.read(actor, "instance.get", "instance", Some(id), async {
            let (i, _) = self.visible_instance(actor, id).await?;
            Ok(i)
        })
        .await
    }

    /// Promotes a discovered instance to a managed record. The approver types the phrase
    /// shown on the instance. The container is not restarted or changed and nothing is
    /// sent to the agent: only the record changes.
    pub async fn instance_takeover(&self, actor: &Actor, id: &str, input: TakeoverInput) -> Result<Instance> {
        self.change(actor, "instance.takeover", "instance", Some(id), async {
            let (mut i, node_name) = self.visible_instance(actor, id).await?;
            access::require_approver(actor, i.org_id.as_deref())?;
            if i.state != InstanceState::Discovered {
                return Err(Error::conflict(None, format!("This instance is already {}; only a discovered instance can be taken over.", i.state.as_str())));
            }
            let expected = takeover_phrase(&i.container_name, &node_name);
            if input.phrase != expected {
                return Err(Error::invalid("phrase", format!("does not match; type exactly: {expected}")));
            }
            let now = self.now();
            i.state = InstanceState::Managed;
            i.taken_over_by = Some(actor.name.clone());
            i.taken_over_at = Some(now);
            i.updated_at = now;
            i.takeover_phrase = None;
            let audit = self.draft(
                actor,
                i.org_id.clone(),
                "instance.takeover",
                "instance",
                Some(&i.id),
                Outcome::Succeeded,
                format!(
                    "Took over OpenClaw container {} on node {node_name} as a managed instance; the container was not restarted or changed and nothing was sent to the agent",
                    i.container_name
                ),
            );
            self.store.take_over_instance(&i, audit).await?;
            Ok(i)
        })
        .await
    }

    fn phrase_for(i: &Instance, node_name: Option<&str>) -> Option<String> {
        match (i.state, node_name) {
            (InstanceState::Discovered, Some(node)) => Some(takeover_phrase(&i.container_name, node)),
            _ => None,
        }
    }

    /// The instance and its node's name, when the actor may see it (an organization user:
    /// when it is assigned to them); otherwise "not found".
    pub(crate) async fn visible_instance(&self, actor: &Actor, id: &str) -> Result<(Instance, String)> {
        let (mut i, node_name) = self.visible_instance_for(actor, id).await?;
        i.takeover_phrase = Self::phrase_for(&i, Some(&node_name));
        Ok((i, node_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phrase_names_container_and_node() {
        assert_eq!(takeover_phrase("/openclaw-gateway", "acme-web-01"), "take over openclaw openclaw-gateway on acme-web-01");
    }

    #[test]
    fn health_is_the_check_else_the_state() {
        let mut c = Container {
            id: "c".into(),
            name: "n".into(),
            image: "i".into(),
            state: "running".into(),
            health: None,
            labels: Default::default(),
            ports: vec![],
            mounts: vec![],
        };
        assert_eq!(container_health(&c), "running");
        c.health = Some("healthy".into());
        assert_eq!(container_health(&c), "running, healthy");
    }

    #[test]
    fn states_read_back() {
        for s in [InstanceState::Discovered, InstanceState::Managed] {
            assert_eq!(InstanceState::parse(s.as_str()), Some(s));
        }
        assert_eq!(InstanceState::parse("other"), None);
    }
}
