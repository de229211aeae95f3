//! Who may see and change what. Every tenancy rule of the product is in this file.

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::model::{Role, Scope, User};

/// Which organizations the actor may see.
pub fn org_scope(actor: &Actor) -> Scope {
    match (&actor.org_id, actor.is_msp()) {
        (_, true) => Scope::All,
        (Some(org), false) => Scope::Org(org.clone()),
        // An organization role without an organization sees nothing; `User` of a
        // non-existent id matches no organization.
        (None, false) => Scope::User(actor.id.clone()),
    }
}

pub fn can_see_org(actor: &Actor, org_id: &str) -> bool {
    actor.is_msp() || actor.org_id.as_deref() == Some(org_id)
}

/// Creating, renaming and archiving organizations is an MSP admin's work.
pub fn require_org_admin_rights(actor: &Actor) -> Result<()> {
    if may_manage_orgs(actor) {
        Ok(())
    } else {
        Err(Error::forbidden("Only an MSP admin can create, rename or archive organizations."))
    }
}

/// Which users the actor may see.
pub fn user_scope(actor: &Actor) -> Scope {
    match actor.role {
        Role::MspAdmin | Role::MspOperator => Scope::All,
        Role::OrgAdmin => match &actor.org_id {
            Some(org) => Scope::Org(org.clone()),
            None => Scope::User(actor.id.clone()),
        },
        Role::OrgUser => Scope::User(actor.id.clone()),
    }
}

pub fn can_see_user(actor: &Actor, user: &User) -> bool {
    match user_scope(actor) {
        Scope::All => true,
        Scope::Org(org) => user.org_id.as_deref() == Some(org.as_str()),
        Scope::User(id) => user.id == id,
    }
}

/// May the actor change this (visible) user: role, disable, reset password?
pub fn require_user_manager(actor: &Actor, target: &User) -> Result<()> {
    match actor.role {
        Role::MspAdmin => Ok(()),
        Role::OrgAdmin if target.org_id.is_some() && target.org_id == actor.org_id && !target.role.is_msp() => Ok(()),
        Role::OrgAdmin => Err(Error::forbidden("An organization admin can manage only the users of their own organization.")),
        Role::MspOperator => Err(Error::forbidden("MSP operators can view users but not change them; ask an MSP admin.")),
        Role::OrgUser => Err(Error::forbidden("Only an admin can manage users.")),
    }
}

/// May the actor give `role` in `org_id` (checked for create and role changes)?
pub fn require_role_grant(actor: &Actor, role: Role, org_id: Option<&str>) -> Result<()> {
    match (role.is_msp(), org_id) {
        (true, Some(_)) => return Err(Error::invalid("org_id", "must be empty for MSP roles: MSP users belong to no organization")),
        (false, None) => return Err(Error::invalid("org_id", "is required for organization roles")),
        _ => {}
    }
    match actor.role {
        Role::MspAdmin => Ok(()),
        Role::OrgAdmin if !role.is_msp() && org_id.is_some() && org_id == actor.org_id.as_deref() => Ok(()),
        Role::OrgAdmin if role.is_msp() => Err(Error::forbidden("An organization admin cannot give MSP roles.")),
        Role::OrgAdmin => Err(Error::forbidden("An organization admin can add users only to their own organization.")),
        Role::MspOperator => Err(Error::forbidden("MSP operators cannot create or change users; ask an MSP admin.")),
        Role::OrgUser => Err(Error::forbidden("Only an admin can create or change users.")),
    }
}

/// Whose audit records the actor may read.
pub fn audit_scope(actor: &Actor) -> Scope {
    user_scope(actor)
}

pub fn require_msp(actor: &Actor, what: &str) -> Result<()> {
    if actor.is_msp() {
        Ok(())
    } else {
        Err(Error::forbidden(format!("Only MSP admins and operators can {what}.")))
    }
}

/// Which nodes (and their jobs) the actor may see: MSP roles all, organization admins
/// their organization's. Organization users see none: instances are assigned to them
/// one by one, machines are not.
pub fn node_scope(actor: &Actor) -> Scope {
    match (actor.role, &actor.org_id) {
        (Role::MspAdmin | Role::MspOperator, _) => Scope::All,
        (Role::OrgAdmin, Some(org)) => Scope::Org(org.clone()),
        _ => Scope::User(actor.id.clone()),
    }
}

pub fn can_see_node(actor: &Actor, node_org: Option<&str>) -> bool {
    match node_scope(actor) {
        Scope::All => true,
        Scope::Org(org) => node_org == Some(org.as_str()),
        Scope::User(_) => false,
    }
}

/// May the actor add, rename, retire or enroll a node of `org_id` (None: shared MSP
/// infrastructure), and request work on it?
pub fn require_node_manager(actor: &Actor, org_id: Option<&str>) -> Result<()> {
    match actor.role {
        Role::MspAdmin | Role::MspOperator => Ok(()),
        Role::OrgAdmin if org_id.is_some() && org_id == actor.org_id.as_deref() => Ok(()),
        Role::OrgAdmin if org_id.is_none() => Err(Error::forbidden("Shared MSP infrastructure is managed by the MSP.")),
        Role::OrgAdmin => Err(Error::forbidden("An organization admin can manage only their own organization's nodes.")),
        Role::OrgUser => Err(Error::forbidden("Only an admin or an MSP operator can manage nodes.")),
    }
}

/// May the actor approve risky work on a node of `org_id`? MSP admins and operators,
/// and the organization's own admin. Approving one's own request is allowed unless a
/// policy asks for a second person.
pub fn require_approver(actor: &Actor, org_id: Option<&str>) -> Result<()> {
    match actor.role {
        Role::MspAdmin | Role::MspOperator => Ok(()),
        Role::OrgAdmin if org_id.is_some() && org_id == actor.org_id.as_deref() => Ok(()),
        _ => Err(Error::forbidden("You do not have a role that may approve this. Ask an MSP operator or your organization's admin.")),
    }
}

/// Adding and removing alert webhooks is an MSP admin's work: they receive the whole
/// installation's health.
pub fn require_alert_admin(actor: &Actor) -> Result<()> {
    if may_manage_alerts(actor) {
        Ok(())
    } else {
        Err(Error::forbidden("Only an MSP admin can add or remove alert webhooks."))
    }
}

/// May the actor see an instance of `org_id`? MSP roles and the organization's admin
/// always; an organization user only when the instance is assigned to them (`assigned`)
/// and belongs to their own organization.
pub fn can_see_instance(actor: &Actor, org_id: Option<&str>, assigned: bool) -> bool {
    can_see_node(actor, org_id) || (actor.role == Role::OrgUser && assigned && org_id.is_some() && actor.org_id.as_deref() == org_id)
}

/// May the actor assign an instance of `org_id` to users and end assignments? MSP admins
/// and operators, and the organization's own admin.
pub fn require_assignment_manager(actor: &Actor, org_id: Option<&str>) -> Result<()> {
    match actor.role {
        Role::MspAdmin | Role::MspOperator => Ok(()),
        Role::OrgAdmin if org_id.is_some() && org_id == actor.org_id.as_deref() => Ok(()),
        _ => Err(Error::forbidden("Only an MSP admin or operator, or the organization's admin, can assign instances to users.")),
    }
}

// --- Capabilities, permissions, connections, workflows and their runs.

/// May the actor manage the capability permissions of `org_id` (and attach packs to it)?
/// MSP admins and operators, and that organization's admin.
pub fn require_policy_manager(actor: &Actor, org_id: &str) -> Result<()> {
    match actor.role {
        Role::MspAdmin | Role::MspOperator => Ok(()),
        Role::OrgAdmin if actor.org_id.as_deref() == Some(org_id) => Ok(()),
        Role::OrgAdmin => Err(Error::forbidden("An organization admin can manage only their own organization's capabilities.")),
        Role::OrgUser => Err(Error::forbidden("Only an admin or an MSP operator can change which capabilities an organization may use.")),
    }
}

/// May the actor add a connection or workflow in `org_id`? MSP roles anywhere;
/// organization people in their own organization (an organization user owns what they add).
pub fn require_connection_creator(actor: &Actor, org_id: &str) -> Result<()> {
    if actor.is_msp() || actor.org_id.as_deref() == Some(org_id) {
        Ok(())
    } else {
        Err(Error::forbidden("You can add connections and workflows only in your own organization."))
    }
}

/// Which owned records (connections, workflows, runs) the actor may see: MSP roles all,
/// organization admins their organization's, organization users their own.
pub fn owned_scope(actor: &Actor) -> Scope {
    match (actor.role, &actor.org_id) {
        (Role::MspAdmin | Role::MspOperator, _) => Scope::All,
        (Role::OrgAdmin, Some(org)) => Scope::Org(org.clone()),
        _ => Scope::User(actor.id.clone()),
    }
}

/// May the actor see (and so use and change) an owned record of `org_id` owned by `owner_id`?
pub fn can_see_owned(actor: &Actor, org_id: &str, owner_id: &str) -> bool {
    match owned_scope(actor) {
        Scope::All => true,
        Scope::Org(org) => org == org_id,
        Scope::User(id) => id == owner_id && actor.org_id.as_deref() == Some(org_id),
    }
}

/// May the actor approve a paused step of a run of `org_id` started by `started_by`?
/// MSP admins and operators and the organization's admin; the person who started the
/// run may confirm their own step only when one approver is enough. Under the
/// two-person rule nobody approves their own run, and nobody approves twice.
pub fn require_run_approver(actor: &Actor, org_id: &str, started_by: &str, approvers_required: u8, already: &[String]) -> Result<()> {
    let admin = match actor.role {
        Role::MspAdmin | Role::MspOperator => true,
        Role::OrgAdmin => actor.org_id.as_deref() == Some(org_id),
        Role::OrgUser => false,
    };
    let own = actor.id == started_by;
    let confirms_own_step = own && approvers_required < 2 && actor.org_id.as_deref() == Some(org_id);
    if !(admin || confirms_own_step) {
        return Err(Error::forbidden("You do not have a role that may approve this step. Ask an MSP operator or your organization's admin."));
    }
    if own && approvers_required >= 2 {
        return Err(Error::forbidden("This step needs two people other than the one who started the run: you cannot approve your own run. Ask another approver."));
    }
    if already.iter().any(|a| a == &actor.id) {
        return Err(Error::forbidden("You have already approved this step; the two-person rule needs a different second approver."));
    }
    Ok(())
}

// --- What the actor's role allows at all, for frontends deciding which actions to
// offer. The operations above still decide each request; these never widen them.

/// May the actor create, rename and archive organizations?
pub fn may_manage_orgs(actor: &Actor) -> bool {
    actor.role == Role::MspAdmin
}

/// May the actor manage (some) users?
pub fn may_manage_users(actor: &Actor) -> bool {
    matches!(actor.role, Role::MspAdmin | Role::OrgAdmin)
}

/// May the actor give `role` to someone (in an organization they may manage)?
pub fn may_grant_role(actor: &Actor, role: Role) -> bool {
    match actor.role {
        Role::MspAdmin => true,
        Role::OrgAdmin => !role.is_msp(),
        Role::MspOperator | Role::OrgUser => false,
    }
}

/// May the actor add and manage (some) nodes?
pub fn may_manage_nodes(actor: &Actor) -> bool {
    actor.role != Role::OrgUser
}

/// May the actor add nodes of the MSP's shared infrastructure?
pub fn may_manage_shared_nodes(actor: &Actor) -> bool {
    actor.is_msp()
}

/// May the actor add and remove alert webhooks?
pub fn may_manage_alerts(actor: &Actor) -> bool {
    actor.role == Role::MspAdmin
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::Via;

    fn actor(role: Role) -> Actor {
        let org_id = (!role.is_msp()).then(|| "org-a".to_owned());
        Actor { id: "u".into(), name: "u".into(), role, org_id, via: Via::Local }
    }

    /// The role-level answers agree with the checks the operations make.
    #[test]
    fn offered_actions_agree_with_the_checks() {
        for me in Role::ALL {
            let a = actor(me);
            assert_eq!(may_manage_orgs(&a), require_org_admin_rights(&a).is_ok(), "{me}");
            assert_eq!(may_manage_nodes(&a), require_node_manager(&a, Some("org-a")).is_ok() || require_node_manager(&a, None).is_ok(), "{me}");
            assert_eq!(may_manage_shared_nodes(&a), require_node_manager(&a, None).is_ok(), "{me}");
            assert_eq!(may_manage_alerts(&a), require_alert_admin(&a).is_ok(), "{me}");
            // Only organization users depend on assignments to see an instance.
            assert_eq!(can_see_instance(&a, Some("org-a"), false), me != Role::OrgUser, "{me}");
            assert!(can_see_instance(&a, Some("org-a"), true), "{me}");
            assert_eq!(can_see_instance(&a, Some("org-b"), true), me.is_msp(), "{me}: never another organization's");
            assert_eq!(require_assignment_manager(&a, Some("org-a")).is_ok(), me != Role::OrgUser, "{me}");
            assert_eq!(require_assignment_manager(&a, Some("org-b")).is_ok(), me.is_msp(), "{me}");
            for role in Role::ALL {
                let org = (!role.is_msp()).then_some("org-a");
                assert_eq!(may_grant_role(&a, role), require_role_grant(&a, role, org).is_ok(), "{me} giving {role}");
            }
        }
    }
}
