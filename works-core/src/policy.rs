//! The policy engine: pure functions, no I/O. Before any step of a workflow runs, its
//! capability, action, risk and connection are checked against the organization's
//! permission and the connection as they are at that moment. A failed check names the
//! rule that stopped the step and says why in plain English.

use serde::{Deserialize, Serialize};

use crate::capabilities::{self, Capability, RiskLevel};
use crate::connections::{Connection, ConnectionStatus};
use crate::permissions::Permission;

/// The rules, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The capability is in the catalog and enabled for the organization.
    CapabilityEnabled,
    /// The action is one the organization's permission allows.
    ActionAllowed,
    /// The action's risk is within the permission's highest risk.
    RiskWithinLimit,
    /// The step's connection exists in the organization and is linked to the capability.
    ConnectionLinked,
    /// The step's connection is connected.
    ConnectionConnected,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::CapabilityEnabled => "capability_enabled",
            Rule::ActionAllowed => "action_allowed",
            Rule::RiskWithinLimit => "risk_within_limit",
            Rule::ConnectionLinked => "connection_linked",
            Rule::ConnectionConnected => "connection_connected",
        }
    }
}

/// Why a step may not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Block {
    pub rule: Rule,
    /// Plain English: what stopped the step, and what to change.
    pub reason: String,
}

/// What the engine is shown about one step.
#[derive(Debug, Clone, Copy)]
pub struct StepFacts<'a> {
    pub org_id: &'a str,
    pub capability_id: &'a str,
    pub action: &'a str,
    /// The organization's permission for the capability, if it has one.
    pub permission: Option<&'a Permission>,
    /// Whether the step names a connection.
    pub connection_named: bool,
    /// The named connection, if it still exists.
    pub connection: Option<&'a Connection>,
}

/// What a step needs once it passes: whether a person must confirm, and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clearance {
    pub risk: RiskLevel,
    /// 0 when no confirmation is needed; otherwise 1 or 2 approvers.
    pub approvers: u8,
}

fn block(rule: Rule, reason: String) -> Block {
    Block { rule, reason }
}

/// Checks one step. `Ok` tells the confirmation it still needs.
pub fn check_step(f: &StepFacts<'_>) -> Result<Clearance, Block> {
    let Some(cap) = capabilities::find(f.capability_id) else {
        return Err(block(Rule::CapabilityEnabled, format!("Capability '{}' is not in the catalog of this version, so the step cannot run. Edit the workflow to use a listed capability.", f.capability_id)));
    };
    let perm = capability_enabled(cap, f.permission)?;
    let risk = action_allowed(cap, f.action, perm)?;
    risk_within_limit(cap, f.action, risk, perm)?;
    connection_ready(cap, f)?;
    Ok(Clearance { risk, approvers: if perm.require_confirmation { perm.approvers_required.max(1) } else { 0 } })
}

/// Rule: the capability is enabled for the organization.
pub fn capability_enabled<'a>(cap: &Capability, permission: Option<&'a Permission>) -> Result<&'a Permission, Block> {
    match permission {
        None => Err(block(Rule::CapabilityEnabled, format!("{} is not enabled for this organization: it has no permission for it. An admin can add one, or attach a pack that includes it.", cap.name))),
        Some(p) if !p.enabled => Err(block(Rule::CapabilityEnabled, format!("{} is disabled for this organization. An admin can enable its permission again.", cap.name))),
        Some(p) => Ok(p),
    }
}

/// Rule: the action is allowed by the permission. Answers the action's risk.
pub fn action_allowed(cap: &Capability, action: &str, perm: &Permission) -> Result<RiskLevel, Block> {
    let Some(a) = cap.action(action) else {
        return Err(block(Rule::ActionAllowed, format!("{} has no action '{action}'. Edit the workflow step.", cap.name)));
    };
    if !perm.allowed_actions.iter().any(|x| x == action) {
        return Err(block(
            Rule::ActionAllowed,
            format!("The organization's permission for {} does not allow \"{}\" (allowed: {}). An admin can add it to the allowed actions.", cap.name, a.label, if perm.allowed_actions.is_empty() { "none".to_owned() } else { perm.allowed_actions.join(", ") }),
        ));
    }
    Ok(a.risk)
}

/// Rule: the action's risk is within the permission's limit.
pub fn risk_within_limit(cap: &Capability, action: &str, risk: RiskLevel, perm: &Permission) -> Result<(), Block> {
    if risk > perm.max_risk {
        return Err(block(
            Rule::RiskWithinLimit,
            format!("\"{}\" of {} is {risk} risk, above the highest risk this organization allows for it ({}). An admin can raise the limit.", cap.action(action).map(|a| a.label.as_str()).unwrap_or(action), cap.name, perm.max_risk),
        ));
    }
    Ok(())
}

/// Rules: the connection is linked to the capability, and connected.
pub fn connection_ready(cap: &Capability, f: &StepFacts<'_>) -> Result<(), Block> {
    let Some(provider) = cap.provider else { return Ok(()) };
    if !f.connection_named {
        return Err(block(Rule::ConnectionLinked, format!("{} needs a {} connection, and the step names none. Edit the workflow step to choose one.", cap.name, provider.label())));
    }
    let Some(c) = f.connection.filter(|c| c.org_id == f.org_id) else {
        return Err(block(Rule::ConnectionLinked, "The step's connection no longer exists in this organization. Edit the workflow step to choose another.".to_owned()));
    };
    if c.provider != provider || !c.capabilities.iter().any(|x| x == &cap.id) {
        return Err(block(Rule::ConnectionLinked, format!("Connection {} is not linked to {}. Link it on the connection, then run the workflow again.", c.name, cap.name)));
    }
    match c.status {
        ConnectionStatus::Connected => Ok(()),
        ConnectionStatus::Placeholder => Err(block(Rule::ConnectionConnected, format!("Connection {} is a placeholder, not connected. Add its credential or mark it connected, then run again.", c.name))),
        ConnectionStatus::Error => Err(block(
            Rule::ConnectionConnected,
            format!("Connection {} is in error{}. Fix it and mark it connected, then run again.", c.name, c.status_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connections::Provider;
    use chrono::{TimeZone, Utc};

    fn perm(actions: &[&str], max: RiskLevel) -> Permission {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        Permission {
            id: "p".into(),
            org_id: "o".into(),
            capability_id: "google_drive".into(),
            allowed_actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            max_risk: max,
            require_confirmation: false,
            approvers_required: 1,
            enabled: true,
            created_at: t,
            updated_at: t,
            updated_by: "a".into(),
        }
    }

    fn conn(status: ConnectionStatus, caps: &[&str]) -> Connection {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        Connection {
            id: "c".into(),
            org_id: "o".into(),
            owner_id: "u".into(),
            name: "Acme Drive".into(),
            provider: Provider::GoogleDrive,
            status,
            status_reason: None,
            capabilities: caps.iter().map(|a| (*a).to_owned()).collect(),
            instances: vec![],
            has_credential: false,
            created_at: t,
            updated_at: t,
        }
    }

    fn facts<'a>(action: &'a str, p: Option<&'a Permission>, c: Option<&'a Connection>) -> StepFacts<'a> {
        StepFacts { org_id: "o", capability_id: "google_drive", action, permission: p, connection_named: true, connection: c }
    }

    #[test]
    fn a_step_that_passes_every_rule_is_cleared() {
        let p = perm(&["list_files"], RiskLevel::Low);
        let c = conn(ConnectionStatus::Connected, &["google_drive"]);
        assert_eq!(check_step(&facts("list_files", Some(&p), Some(&c))), Ok(Clearance { risk: RiskLevel::Low, approvers: 0 }));
        let mut p2 = p.clone();
        p2.require_confirmation = true;
        p2.approvers_required = 2;
        assert_eq!(check_step(&facts("list_files", Some(&p2), Some(&c))).unwrap().approvers, 2);
    }

    #[test]
    fn capability_not_enabled_blocks() {
        let c = conn(ConnectionStatus::Connected, &["google_drive"]);
        let b = check_step(&facts("list_files", None, Some(&c))).unwrap_err();
        assert_eq!(b.rule, Rule::CapabilityEnabled);
        assert!(b.reason.contains("not enabled"), "{}", b.reason);
        let mut p = perm(&["list_files"], RiskLevel::Low);
        p.enabled = false;
        let b = check_step(&facts("list_files", Some(&p), Some(&c))).unwrap_err();
        assert_eq!(b.rule, Rule::CapabilityEnabled);
        assert!(b.reason.contains("disabled"), "{}", b.reason);
        let unknown = StepFacts { capability_id: "teleport", ..facts("x", Some(&p), Some(&c)) };
        assert_eq!(check_step(&unknown).unwrap_err().rule, Rule::CapabilityEnabled);
    }

    #[test]
    fn an_action_not_allowed_blocks() {
        let p = perm(&["list_files"], RiskLevel::Critical);
        let c = conn(ConnectionStatus::Connected, &["google_drive"]);
        let b = check_step(&facts("delete_file", Some(&p), Some(&c))).unwrap_err();
        assert_eq!(b.rule, Rule::ActionAllowed);
        assert!(b.reason.contains("does not allow \"delete a file\""), "{}", b.reason);
    }

    #[test]
    fn risk_above_the_limit_blocks() {
        // Allowed by name, but the limit was lowered afterwards.
        let p = perm(&["list_files", "share_file"], RiskLevel::Medium);
        let c = conn(ConnectionStatus::Connected, &["google_drive"]);
        let b = check_step(&facts("share_file", Some(&p), Some(&c))).unwrap_err();
        assert_eq!(b.rule, Rule::RiskWithinLimit);
        assert!(b.reason.contains("high risk") && b.reason.contains("(medium)"), "{}", b.reason);
    }

    #[test]
    fn a_connection_not_linked_blocks() {
        let p = perm(&["list_files"], RiskLevel::Low);
        let unlinked = conn(ConnectionStatus::Connected, &[]);
        assert_eq!(check_step(&facts("list_files", Some(&p), Some(&unlinked))).unwrap_err().rule, Rule::ConnectionLinked);
        assert_eq!(check_step(&facts("list_files", Some(&p), None)).unwrap_err().rule, Rule::ConnectionLinked);
        let none = StepFacts { connection_named: false, ..facts("list_files", Some(&p), None) };
        assert!(check_step(&none).unwrap_err().reason.contains("names none"));
        let mut foreign = conn(ConnectionStatus::Connected, &["google_drive"]);
        foreign.org_id = "other".into();
        assert_eq!(check_step(&facts("list_files", Some(&p), Some(&foreign))).unwrap_err().rule, Rule::ConnectionLinked);
    }

    #[test]
    fn a_connection_not_connected_blocks() {
        let p = perm(&["list_files"], RiskLevel::Low);
        for status in [ConnectionStatus::Placeholder, ConnectionStatus::Error] {
            let c = conn(status, &["google_drive"]);
            let b = check_step(&facts("list_files", Some(&p), Some(&c))).unwrap_err();
            assert_eq!(b.rule, Rule::ConnectionConnected, "{status:?}");
        }
    }
}
