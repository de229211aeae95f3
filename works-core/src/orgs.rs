//! Organizations: create, list, get, rename, archive.

use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::error::{Error, Result};
use crate::model::{Listing, Org, Page};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    /// 1 to 100 characters, unique among organizations.
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenameOrg {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    #[serde(default)]
    pub include_archived: bool,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

impl Works {
    pub async fn org_create(&self, actor: &Actor, input: NewOrg) -> Result<Org> {
        self.change(actor, "org.create", "org", None, async {
            access::require_org_admin_rights(actor)?;
            let name = validate::name("name", &input.name)?;
            let now = self.now();
            let org = Org { id: new_id(), name, created_at: now, updated_at: now, archived_at: None };
            let audit = self.draft(
                actor,
                Some(org.id.clone()),
                "org.create",
                "org",
                Some(&org.id),
                Outcome::Succeeded,
                format!("Created organization {}", org.name),
            );
            self.store.insert_org(&org, audit).await?;
            Ok(org)
        })
        .await
    }

    pub async fn org_list(&self, actor: &Actor, query: OrgQuery) -> Result<Listing<Org>> {
        let page = Page::new(query.offset, query.limit)?;
        let scope = access::org_scope(actor);
        let items = self.store.list_orgs(&scope, query.include_archived, probe(page)).await?;
        Ok(paged(items, page))
    }

    pub async fn org_get(&self, actor: &Actor, id: &str) -> Result<Org> {
        self.read(actor, "org.get", "org", Some(id), self.visible_org(actor, id)).await
    }

    pub async fn org_rename(&self, actor: &Actor, id: &str, input: RenameOrg) -> Result<Org> {
        self.change(actor, "org.rename", "org", Some(id), async {
            let mut org = self.visible_org(actor, id).await?;
            access::require_org_admin_rights(actor)?;
            let name = validate::name("name", &input.name)?;
            if org.archived_at.is_some() {
                return Err(Error::conflict(None, "This organization is archived; archived organizations cannot be renamed."));
            }
            let old = std::mem::replace(&mut org.name, name);
            org.updated_at = self.now();
            let audit = self.draft(
                actor,
                Some(org.id.clone()),
                "org.rename",
                "org",
                Some(&org.id),
                Outcome::Succeeded,
                format!("Renamed organization {old} to {}", org.name),
            );
            self.store.update_org(&org, audit).await?;
            Ok(org)
        })
        .await
    }

    /// Archives an organization: its records stay, its users can no longer sign in.
    pub async fn org_archive(&self, actor: &Actor, id: &str) -> Result<Org> {
        self.change(actor, "org.archive", "org", Some(id), async {
            let mut org = self.visible_org(actor, id).await?;
            access::require_org_admin_rights(actor)?;
            if org.archived_at.is_some() {
                return Err(Error::conflict(None, "This organization is already archived."));
            }
            let now = self.now();
            org.archived_at = Some(now);
            org.updated_at = now;
            let audit = self.draft(
                actor,
                Some(org.id.clone()),
                "org.archive",
                "org",
                Some(&org.id),
                Outcome::Succeeded,
                format!("Archived organization {}", org.name),
            );
            self.store.update_org(&org, audit).await?;
            Ok(org)
        })
        .await
    }

    /// The organization if it exists and the actor may see it; otherwise not found.
    pub(crate) async fn visible_org(&self, actor: &Actor, id: &str) -> Result<Org> {
        let not_found = || Error::not_found("organization", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_org(&id).await? {
            Some(org) if access::can_see_org(actor, &org.id) => Ok(org),
            _ => Err(not_found()),
        }
    }
}
