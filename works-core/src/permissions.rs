//! Permissions: which actions of a capability an organization may use, the highest risk
//! allowed, whether a person must confirm, and how many approvers (two: the two-person
//! rule). One permission per organization and capability. MSP roles and the
//! organization's admin manage them; every change is audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::capabilities::{self, Capability, RiskLevel};
use crate::error::{Error, Result};
use crate::model::{Listing, Page};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Permission {
    pub id: String,
    pub org_id: String,
    pub capability_id: String,
    /// Action names of the capability the organization may use.
    pub allowed_actions: Vec<String>,
    /// The highest risk level allowed.
    pub max_risk: RiskLevel,
    /// Whether a person must confirm each step that uses this capability.
    pub require_confirmation: bool,
    /// How many different people must approve (2: the two-person rule).
    pub approvers_required: u8,
    /// A disabled permission blocks every step of the capability.
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPermission {
    pub org_id: String,
    pub capability_id: String,
    /// Defaults to every action within `max_risk`.
    #[serde(default)]
    pub allowed_actions: Option<Vec<String>>,
    /// Defaults to `medium`.
    #[serde(default)]
    pub max_risk: Option<RiskLevel>,
    #[serde(default)]
    pub require_confirmation: Option<bool>,
    /// 1 (default) or 2.
    #[serde(default)]
    pub approvers_required: Option<u8>,
}

/// A change to a permission; fields left out stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PermissionUpdate {
    #[serde(default)]
    pub allowed_actions: Option<Vec<String>>,
    #[serde(default)]
    pub max_risk: Option<RiskLevel>,
    #[serde(default)]
    pub require_confirmation: Option<bool>,
    #[serde(default)]
    pub approvers_required: Option<u8>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PermissionQuery {
    pub org_id: Option<String>,
    pub capability_id: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// Filters of the permission list, intersected with the scope.
#[derive(Debug, Clone, Default)]
pub struct PermissionFilter {
    pub org_id: Option<String>,
    pub capability_id: Option<String>,
}

/// Checks the fields of a permission against its capability.
pub fn check(cap: &Capability, p: &Permission) -> Result<()> {
    for a in &p.allowed_actions {
        let Some(action) = cap.action(a) else {
            let known: Vec<&str> = cap.actions.iter().map(|a| a.name.as_str()).collect();
            return Err(Error::invalid("allowed_actions", format!("{a} is not an action of {} (its actions: {})", cap.name, known.join(", "))));
        };
        if action.risk > p.max_risk {
            return Err(Error::invalid(
                "allowed_actions",
                format!("{a} is {} risk, above the highest risk allowed ({}); raise max_risk or leave the action out", action.risk, p.max_risk),
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = p.allowed_actions.iter().find(|a| !seen.insert(a.as_str())) {
        return Err(Error::invalid("allowed_actions", format!("{dup} is listed twice")));
    }
    if !matches!(p.approvers_required, 1 | 2) {
        return Err(Error::invalid("approvers_required", "must be 1, or 2 for the two-person rule"));
    }
    if p.approvers_required == 2 && !p.require_confirmation {
        return Err(Error::invalid("approvers_required", "2 approvers needs require_confirmation to be true"));
    }
    Ok(())
}

fn describe(p: &Permission) -> String {
    format!(
        "actions [{}], risk up to {}, {}, {}",
        p.allowed_actions.join(", "),
        p.max_risk,
        if p.require_confirmation { format!("confirmation by {} approver(s)", p.approvers_required) } else { "no confirmation".to_owned() },
        if p.enabled { "enabled" } else { "disabled" }
    )
}

impl Works {
    pub async fn permission_create(&self, actor: &Actor, input: NewPermission) -> Result<Permission> {
        self.change(actor, "permission.create", "permission", None, async {
            let org = self.visible_org_for_policy(actor, &input.org_id).await?;
            access::require_policy_manager(actor, &org.id)?;
            let cap = capabilities::find(input.capability_id.trim())
                .ok_or_else(|| Error::invalid("capability_id", format!("{} is not in the capability catalog; see the capability list", input.capability_id.trim())))?;
            let max_risk = input.max_risk.unwrap_or(RiskLevel::Medium);
            let now = self.now();
            let p = Permission {
                id: new_id(),
                org_id: org.id.clone(),
                capability_id: cap.id.clone(),
                allowed_actions: input
                    .allowed_actions
                    .unwrap_or_else(|| cap.actions.iter().filter(|a| a.risk <= max_risk).map(|a| a.name.clone()).collect()),
                max_risk,
                require_confirmation: input.require_confirmation.unwrap_or(false),
                approvers_required: input.approvers_required.unwrap_or(1),
                enabled: true,
                created_at: now,
                updated_at: now,
                updated_by: actor.name.clone(),
            };
            check(cap, &p)?;
            if self.store.get_permission_for(&org.id, &cap.id).await?.is_some() {
                return Err(Error::conflict(Some("capability_id"), format!("{} already has a permission for {}; edit that one instead.", org.name, cap.name)));
            }
            let audit = self.draft(actor, Some(org.id.clone()), "permission.create", "permission", Some(&p.id), Outcome::Succeeded, format!("Allowed {} for {}: {}", cap.name, org.name, describe(&p)));
            self.store.insert_permission(&p, audit).await?;
            Ok(p)
        })
        .await
    }

    /// Permissions the actor may see: MSP roles all, organization people their own organization's.
    pub async fn permission_list(&self, actor: &Actor, query: PermissionQuery) -> Result<Listing<Permission>> {
        let page = Page::new(query.offset, query.limit)?;
        let filter = PermissionFilter {
            org_id: query.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?,
            capability_id: query.capability_id.map(|c| c.trim().to_owned()),
        };
        let items = self.store.list_permissions(&access::org_scope(actor), &filter, probe(page)).await?;
        Ok(paged(items, page))
    }

    pub async fn permission_get(&self, actor: &Actor, id: &str) -> Result<Permission> {
        self.read(actor, "permission.get", "permission", Some(id), self.visible_permission(actor, id)).await
    }

    pub async fn permission_update(&self, actor: &Actor, id: &str, input: PermissionUpdate) -> Result<Permission> {
        self.change(actor, "permission.update", "permission", Some(id), async {
            let mut p = self.visible_permission(actor, id).await?;
            access::require_policy_manager(actor, &p.org_id)?;
            let cap = capabilities::find(&p.capability_id).ok_or_else(|| Error::internal("A stored permission names a capability this version does not know."))?;
            let before = describe(&p);
            if let Some(a) = input.allowed_actions {
                p.allowed_actions = a;
            }
            if let Some(r) = input.max_risk {
                p.max_risk = r;
            }
            if let Some(c) = input.require_confirmation {
                p.require_confirmation = c;
            }
            if let Some(n) = input.approvers_required {
                p.approvers_required = n;
            }
            if let Some(e) = input.enabled {
                p.enabled = e;
            }
            check(cap, &p)?;
            p.updated_at = self.now();
            p.updated_by = actor.name.clone();
            let audit = self.draft(actor, Some(p.org_id.clone()), "permission.update", "permission", Some(&p.id), Outcome::Succeeded, format!("Changed {}: was {before}; now {}", cap.name, describe(&p)));
            self.store.update_permission(&p, audit).await?;
            Ok(p)
        })
        .await
    }

    /// Disables a permission: every step of its capability is blocked until it is enabled.
    pub async fn permission_disable(&self, actor: &Actor, id: &str) -> Result<Permission> {
        self.permission_update(actor, id, PermissionUpdate { enabled: Some(false), ..Default::default() }).await
    }

    pub async fn permission_enable(&self, actor: &Actor, id: &str) -> Result<Permission> {
        self.permission_update(actor, id, PermissionUpdate { enabled: Some(true), ..Default::default() }).await
    }

    /// Deletes a permission: the capability is no longer enabled for the organization.
    pub async fn permission_delete(&self, actor: &Actor, id: &str) -> Result<Permission> {
        self.change(actor, "permission.delete", "permission", Some(id), async {
            let p = self.visible_permission(actor, id).await?;
            access::require_policy_manager(actor, &p.org_id)?;
            let audit = self.draft(actor, Some(p.org_id.clone()), "permission.delete", "permission", Some(&p.id), Outcome::Succeeded, format!("Removed the permission for {}: it is no longer enabled for the organization", p.capability_id));
            self.store.delete_permission(&p.id, audit).await?;
            Ok(p)
        })
        .await
    }

    async fn visible_permission(&self, actor: &Actor, id: &str) -> Result<Permission> {
        let not_found = || Error::not_found("permission", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_permission(&id).await? {
            Some(p) if access::can_see_org(actor, &p.org_id) => Ok(p),
            _ => Err(not_found()),
        }
    }
}
