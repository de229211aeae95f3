//! Users: create, list, get, update (role, organization, display name), disable,
//! enable, reset password.

use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::error::{Error, Result};
use crate::model::{Listing, Page, Role, User, UserRecord};
use crate::secret::{hash_password, new_id, new_password};
use crate::store::UserFilter;
use crate::validate;
use crate::works::{paged, probe, Works};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    /// Defaults to the username.
    pub display_name: Option<String>,
    pub role: Role,
    /// Required for organization roles, empty for MSP roles.
    pub org_id: Option<String>,
    /// At least 10 characters.
    pub password: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// With `role`: the organization for an organization role.
    pub org_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The new password; leave empty to have one generated and shown once.
    pub new_password: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    pub user: User,
    /// Present only when the password was generated; shown this once.
    pub generated_password: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    pub org_id: Option<String>,
    #[serde(default)]
    pub include_disabled: bool,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

impl Works {
    pub async fn user_create(&self, actor: &Actor, input: NewUser) -> Result<User> {
        self.change(actor, "user.create", "user", None, async {
            let username = validate::username(&input.username)?;
            let display_name = match &input.display_name {
                Some(d) if !d.trim().is_empty() => validate::name("display_name", d)?,
                _ => username.clone(),
            };
            validate::password("password", &input.password)?;
            let org_id = input.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?;
            access::require_role_grant(actor, input.role, org_id.as_deref())?;
            if let Some(org_id) = &org_id {
                let org = self.visible_org(actor, org_id).await.map_err(|_| {
                    Error::invalid("org_id", "names no organization you can see")
                })?;
                if org.archived_at.is_some() {
                    return Err(Error::invalid("org_id", "names an archived organization"));
                }
            }
            let now = self.now();
            let user = User {
                id: new_id(),
                username,
                display_name,
                role: input.role,
                org_id,
                disabled: false,
                created_at: now,
                updated_at: now,
            };
            let record = UserRecord { password_hash: hash_password(input.password.clone()).await?, user: user.clone() };
            let audit = self.draft(
                actor,
                user.org_id.clone(),
                "user.create",
                "user",
                Some(&user.id),
                Outcome::Succeeded,
                format!("Created user {} as {}", user.username, user.role.label()),
            );
            self.store.insert_user(&record, audit).await?;
            Ok(user)
        })
        .await
    }

    pub async fn user_list(&self, actor: &Actor, query: UserQuery) -> Result<Listing<User>> {
        let page = Page::new(query.offset, query.limit)?;
        let org_id = query.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?;
        let filter = UserFilter { org_id, include_disabled: query.include_disabled };
        let scope = access::user_scope(actor);
        let records = self.store.list_users(&scope, &filter, probe(page)).await?;
        Ok(paged(records.into_iter().map(|r| r.user).collect(), page))
    }

    pub async fn user_get(&self, actor: &Actor, id: &str) -> Result<User> {
        self.read(actor, "user.get", "user", Some(id), async { Ok(self.visible_user(actor, id).await?.user) }).await
    }

    /// The signed-in user's own record.
    pub async fn whoami(&self, actor: &Actor) -> Result<User> {
        Ok(self.visible_user(actor, &actor.id).await?.user)
    }

    pub async fn user_update(&self, actor: &Actor, id: &str, input: UserUpdate) -> Result<User> {
        self.change(actor, "user.update", "user", Some(id), async {
            let mut record = self.visible_user(actor, id).await?;
            access::require_user_manager(actor, &record.user)?;
            let before = record.user.clone();
            let mut changes = Vec::new();
            if let Some(d) = &input.display_name {
                record.user.display_name = validate::name("display_name", d)?;
                changes.push(format!("display name to {}", record.user.display_name));
            }
            if input.role.is_none() && input.org_id.is_some() {
                return Err(Error::invalid("org_id", "can only be changed together with role"));
            }
            if let Some(role) = input.role {
                let org_id = match (role.is_msp(), &input.org_id) {
                    (true, _) => input.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?,
                    (false, Some(o)) => Some(validate::id("org_id", o)?),
                    (false, None) => before.org_id.clone(),
                };
                access::require_role_grant(actor, role, org_id.as_deref())?;
                if record.user.id == actor.id && role != before.role {
                    return Err(Error::conflict(Some("role"), "You cannot change your own role; ask another admin."));
                }
                if let Some(org_id) = &org_id {
                    self.visible_org(actor, org_id)
                        .await
                        .map_err(|_| Error::invalid("org_id", "names no organization you can see"))?;
                }
                record.user.role = role;
                record.user.org_id = org_id;
                changes.push(format!("role to {}", role.label()));
            }
            if changes.is_empty() {
                return Err(Error::invalid("body", "names nothing to change: give display_name or role"));
            }
            record.user.updated_at = self.now();
            let audit = self.draft(
                actor,
                record.user.org_id.clone().or(before.org_id.clone()),
                "user.update",
                "user",
                Some(&record.user.id),
                Outcome::Succeeded,
                format!("Changed user {}: {}", record.user.username, changes.join(", ")),
            );
            // A change of role or organization ends the user's sessions and tokens, so
            // nothing keeps the old rights.
            if record.user.role != before.role || record.user.org_id != before.org_id {
                self.store.update_user_and_end_access(&record, self.now(), audit).await?;
            } else {
                self.store.update_user(&record, audit).await?;
            }
            Ok(record.user)
        })
        .await
    }

    /// Disables a user and, in the same step, ends all their sessions and revokes their tokens.
    pub async fn user_disable(&self, actor: &Actor, id: &str) -> Result<User> {
        self.change(actor, "user.disable", "user", Some(id), async {
            let mut record = self.visible_user(actor, id).await?;
            access::require_user_manager(actor, &record.user)?;
            if record.user.id == actor.id {
                return Err(Error::conflict(None, "You cannot disable your own account; ask another admin."));
            }
            if record.user.disabled {
                return Err(Error::conflict(None, "This user is already disabled."));
            }
            let now = self.now();
            record.user.disabled = true;
            record.user.updated_at = now;
            let audit = self.draft(
                actor,
                record.user.org_id.clone(),
                "user.disable",
                "user",
                Some(&record.user.id),
                Outcome::Succeeded,
                format!("Disabled user {}; their sessions and API tokens were ended", record.user.username),
            );
            self.store.update_user_and_end_access(&record, now, audit).await?;
            Ok(record.user)
        })
        .await
    }

    pub async fn user_enable(&self, actor: &Actor, id: &str) -> Result<User> {
        self.change(actor, "user.enable", "user", Some(id), async {
            let mut record = self.visible_user(actor, id).await?;
            access::require_user_manager(actor, &record.user)?;
            if !record.user.disabled {
                return Err(Error::conflict(None, "This user is not disabled."));
            }
            record.user.disabled = false;
            record.user.updated_at = self.now();
            let audit = self.draft(
                actor,
                record.user.org_id.clone(),
                "user.enable",
                "user",
                Some(&record.user.id),
                Outcome::Succeeded,
                format!("Enabled user {}", record.user.username),
            );
            self.store.update_user(&record, audit).await?;
            Ok(record.user)
        })
        .await
    }

    /// Sets a new password (given, or generated and shown once) and ends the user's sessions.
    pub async fn user_reset_password(&self, actor: &Actor, id: &str, input: ResetPassword) -> Result<PasswordReset> {
        self.change(actor, "user.reset_password", "user", Some(id), async {
            let mut record = self.visible_user(actor, id).await?;
            if record.user.id != actor.id {
                access::require_user_manager(actor, &record.user)?;
            }
            let (password, generated) = match input.new_password {
                Some(p) => {
                    validate::password("new_password", &p)?;
                    (p, None)
                }
                None => {
                    let p = new_password();
                    (p.clone(), Some(p))
                }
            };
            let now = self.now();
            record.password_hash = hash_password(password).await?;
            record.user.updated_at = now;
            let audit = self.draft(
                actor,
                record.user.org_id.clone(),
                "user.reset_password",
                "user",
                Some(&record.user.id),
                Outcome::Succeeded,
                format!("Reset the password of {}; their sessions and API tokens were ended", record.user.username),
            );
            self.store.update_user_and_end_access(&record, now, audit).await?;
            Ok(PasswordReset { user: record.user, generated_password: generated })
        })
        .await
    }

    pub(crate) async fn visible_user(&self, actor: &Actor, id: &str) -> Result<UserRecord> {
        let not_found = || Error::not_found("user", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_user(&id).await? {
            Some(r) if access::can_see_user(actor, &r.user) => Ok(r),
            _ => Err(not_found()),
        }
    }
}
