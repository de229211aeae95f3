//! The capability catalog: what the platform can do. Skills, tools and policies, each
//! with actions of a risk level, and capability packs that group them. The catalog is
//! data in the core, the same on every server; organizations get capabilities through
//! permissions (see [`crate::permissions`]), and attaching a pack enables every
//! capability of the pack for an organization in one step.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::connections::Provider;
use crate::error::{Error, Result};
use crate::permissions::Permission;
use crate::secret::new_id;
use crate::validate;
use crate::works::Works;

/// What kind of thing a capability is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CapabilityKind {
    /// Something an OpenClaw agent knows how to do (summarize, draft).
    Skill,
    /// Access to an outside system through a connection.
    Tool,
    /// A rule applied to work (retention, review).
    Policy,
}

/// How much harm an action could do if it went wrong. Ordered: low < medium < high < critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskLevel {
    pub const ALL: [RiskLevel; 4] = [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High, RiskLevel::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        RiskLevel::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a capability can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapabilityAction {
    /// The action's name in workflow steps and permissions, such as `list_files`.
    pub name: String,
    /// What it does, in plain English ("list files").
    pub label: String,
    pub risk: RiskLevel,
    /// True when a live run performs it for real; otherwise live runs record a stub.
    pub live: bool,
}

/// A skill, tool or policy of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Capability {
    /// Stable id, such as `google_drive`.
    pub id: String,
    pub kind: CapabilityKind,
    pub name: String,
    pub description: String,
    /// The kind of connection its steps need; none for capabilities that reach no outside system.
    pub provider: Option<Provider>,
    pub actions: Vec<CapabilityAction>,
}

impl Capability {
    pub fn action(&self, name: &str) -> Option<&CapabilityAction> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// A named group of capabilities, attached to an organization in one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapabilityPack {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Capability ids.
    pub capabilities: Vec<String>,
}

/// Which organization a pack is attached to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttachPack {
    pub org_id: String,
}

fn action(name: &str, label: &str, risk: RiskLevel, live: bool) -> CapabilityAction {
    CapabilityAction { name: name.into(), label: label.into(), risk, live }
}

fn capability(id: &str, kind: CapabilityKind, name: &str, description: &str, provider: Option<Provider>, actions: Vec<CapabilityAction>) -> Capability {
    Capability { id: id.into(), kind, name: name.into(), description: description.into(), provider, actions }
}

/// Every capability the platform knows, in catalog order.
pub fn catalog() -> &'static [Capability] {
    use CapabilityKind::*;
    use RiskLevel::*;
    static CATALOG: OnceLock<Vec<Capability>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        vec![
            capability(
                "google_drive",
                Tool,
                "Google Drive",
                "Files in a Google Drive the organization connected.",
                Some(Provider::GoogleDrive),
                vec![
                    action("list_files", "list files", Low, true),
                    action("read_file", "read a file", Medium, false),
                    action("share_file", "share a file", High, false),
                    action("delete_file", "delete a file", Critical, false),
                ],
            ),
            capability(
                "servicetitan",
                Tool,
                "ServiceTitan",
                "Jobs and customers in ServiceTitan.",
                Some(Provider::Servicetitan),
                vec![
                    action("list_jobs", "list jobs", Low, false),
                    action("create_job", "create a job", Medium, false),
                    action("cancel_job", "cancel a job", High, false),
                ],
            ),
            capability(
                "quickbooks",
                Tool,
                "QuickBooks",
                "Invoices and customers in QuickBooks.",
                Some(Provider::Quickbooks),
                vec![
                    action("list_invoices", "list invoices", Low, false),
                    action("create_invoice", "create an invoice", High, false),
                    action("void_invoice", "void an invoice", Critical, false),
                ],
            ),
            capability(
                "composio",
                Tool,
                "Composio",
                "Actions in the tools an organization connected through Composio.",
                Some(Provider::Composio),
                vec![action("list_tools", "list connected tools", Low, false), action("run_action", "run a tool action", High, false)],
            ),
            capability(
                "webhook",
                Tool,
                "Generic webhook",
                "A call to an HTTP endpoint the organization registered.",
                Some(Provider::Generic),
                vec![action("send_event", "send an event", Medium, false)],
            ),
            capability(
                "summarize",
                Skill,
                "Summarize",
                "Summarizes text handed to it by an earlier step.",
                None,
                vec![action("summarize_text", "summarize text", Low, false)],
            ),
            capability(
                "email_draft",
                Skill,
                "Email drafting",
                "Drafts emails for a person to review; sending is a separate, riskier action.",
                None,
                vec![action("draft_email", "draft an email", Low, false), action("send_email", "send an email", High, false)],
            ),
            capability(
                "data_retention",
                Policy,
                "Data retention",
                "Keeps or removes records by the organization's retention rules.",
                None,
                vec![action("review_retention", "review retention", Low, false), action("purge_expired", "purge expired records", Critical, false)],
            ),
            capability(
                "human_review",
                Policy,
                "Human review",
                "Asks a person to look at the results so far before the workflow goes on.",
                None,
                vec![action("request_review", "request a review", Low, false)],
            ),
        ]
    })
}

/// Every capability pack, in catalog order.
pub fn packs() -> &'static [CapabilityPack] {
    static PACKS: OnceLock<Vec<CapabilityPack>> = OnceLock::new();
    PACKS.get_or_init(|| {
        let pack = |id: &str, name: &str, description: &str, caps: &[&str]| CapabilityPack {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            capabilities: caps.iter().map(|c| (*c).to_owned()).collect(),
        };
        vec![
            pack("office_essentials", "Office essentials", "Drive files, summaries and email drafts.", &["google_drive", "summarize", "email_draft"]),
            pack("field_service", "Field service", "ServiceTitan jobs and QuickBooks invoices.", &["servicetitan", "quickbooks", "human_review"]),
            pack("automation", "Automation", "Composio tools and webhooks, with human review.", &["composio", "webhook", "human_review"]),
            pack("governance", "Governance", "Retention and review policies.", &["data_retention", "human_review"]),
        ]
    })
}

/// A capability of the catalog by id.
pub fn find(id: &str) -> Option<&'static Capability> {
    catalog().iter().find(|c| c.id == id)
}

pub fn find_pack(id: &str) -> Option<&'static CapabilityPack> {
    packs().iter().find(|p| p.id == id)
}

/// The permission a pack gives a capability it enables for the first time: every action
/// up to medium risk, no confirmation needed.
pub fn default_permission(cap: &Capability, org_id: &str, now: chrono::DateTime<chrono::Utc>, by: &str) -> Permission {
    Permission {
        id: new_id(),
        org_id: org_id.to_owned(),
        capability_id: cap.id.clone(),
        allowed_actions: cap.actions.iter().filter(|a| a.risk <= RiskLevel::Medium).map(|a| a.name.clone()).collect(),
        max_risk: RiskLevel::Medium,
        require_confirmation: false,
        approvers_required: 1,
        enabled: true,
        created_at: now,
        updated_at: now,
        updated_by: by.to_owned(),
    }
}

impl Works {
    /// The catalog. Everyone signed in may read it.
    pub async fn capability_list(&self, _actor: &Actor) -> Result<Vec<Capability>> {
        Ok(catalog().to_vec())
    }

    pub async fn capability_get(&self, actor: &Actor, id: &str) -> Result<Capability> {
        self.read(actor, "capability.get", "capability", Some(id), async {
            find(id.trim()).cloned().ok_or_else(|| Error::not_found("capability", id))
        })
        .await
    }

    pub async fn pack_list(&self, _actor: &Actor) -> Result<Vec<CapabilityPack>> {
        Ok(packs().to_vec())
    }

    /// Enables every capability of a pack for an organization, in one transaction: a
    /// capability without a permission gets the default one, a disabled one is enabled,
    /// an enabled one is left as it is. Answers the organization's permissions for the
    /// pack's capabilities.
    pub async fn pack_attach(&self, actor: &Actor, pack_id: &str, input: AttachPack) -> Result<Vec<Permission>> {
        self.change(actor, "pack.attach", "capability_pack", Some(pack_id), async {
            let pack = find_pack(pack_id.trim()).ok_or_else(|| Error::not_found("capability pack", pack_id))?;
            let org = self.visible_org_for_policy(actor, &input.org_id).await?;
            access::require_policy_manager(actor, &org.id)?;
            let now = self.now();
            let mut out = Vec::new();
            let mut enabled = Vec::new();
            for cap_id in &pack.capabilities {
                let Some(cap) = find(cap_id) else { continue };
                let perm = match self.store.get_permission_for(&org.id, cap_id).await? {
                    Some(p) if p.enabled => p,
                    Some(mut p) => {
                        p.enabled = true;
                        p.updated_at = now;
                        p.updated_by = actor.name.clone();
                        enabled.push(cap.name.clone());
                        p
                    }
                    None => {
                        enabled.push(cap.name.clone());
                        default_permission(cap, &org.id, now, &actor.name)
                    }
                };
                out.push(perm);
            }
            let what = if enabled.is_empty() { "every capability was already enabled".to_owned() } else { format!("enabled {}", enabled.join(", ")) };
            let audit = self.draft(actor, Some(org.id.clone()), "pack.attach", "capability_pack", Some(&pack.id), Outcome::Succeeded, format!("Attached pack {} to {}: {what}", pack.name, org.name));
            self.store.save_permissions(&out, audit).await?;
            Ok(out)
        })
        .await
    }

    /// The organization, when the actor may see it; otherwise "not found".
    pub(crate) async fn visible_org_for_policy(&self, actor: &Actor, org_id: &str) -> Result<crate::model::Org> {
        let not_found = || Error::not_found("organization", org_id);
        let id = validate::id("org_id", org_id).map_err(|_| not_found())?;
        if !access::can_see_org(actor, &id) {
            return Err(not_found());
        }
        let org = self.store.get_org(&id).await?.ok_or_else(not_found)?;
        if org.archived_at.is_some() {
            return Err(Error::conflict(Some("org_id"), "This organization is archived; its capabilities cannot change."));
        }
        Ok(org)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_is_consistent() {
        let mut ids = std::collections::HashSet::new();
        for c in catalog() {
            assert!(ids.insert(&c.id), "duplicate {}", c.id);
            assert!(!c.actions.is_empty(), "{}", c.id);
        }
        for p in packs() {
            for c in &p.capabilities {
                assert!(find(c).is_some(), "pack {} names unknown {c}", p.id);
            }
        }
        assert!(RiskLevel::Low < RiskLevel::Medium && RiskLevel::High < RiskLevel::Critical);
        assert_eq!(find("google_drive").and_then(|c| c.action("list_files")).map(|a| (a.risk, a.live)), Some((RiskLevel::Low, true)));
    }
}
