//! API tokens for automation: create (the secret shown once), list, revoke.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::error::{Error, Result};
use crate::model::{ApiToken, ApiTokenRecord, CreatedToken, Listing, Page};
use crate::secret::{hash_secret, new_id, new_secret};
use crate::validate;
use crate::works::{paged, probe, Works};

pub const TOKEN_PREFIX: &str = "wkt_";
pub const MAX_TOKEN_DAYS: u32 = 3650;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for, e.g. `nightly report`.
    pub name: String,
    /// Days until it stops working (1 to 3650); empty for no expiry.
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// Whose tokens; defaults to the caller's own.
    pub user_id: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

impl Works {
    /// Creates an API token for the caller. The secret is in the answer and nowhere else.
    pub async fn token_create(&self, actor: &Actor, input: NewToken) -> Result<CreatedToken> {
        self.change(actor, "token.create", "token", None, async {
            let name = validate::name("name", &input.name)?;
            let now = self.now();
            let expires_at = match input.expires_in_days {
                None => None,
                Some(d) if (1..=MAX_TOKEN_DAYS).contains(&d) => Some(now + Duration::days(d as i64)),
                Some(_) => return Err(Error::invalid("expires_in_days", format!("must be between 1 and {MAX_TOKEN_DAYS}"))),
            };
            // The owner must be a real, enabled user (not the server itself).
            let owner = self.visible_user(actor, &actor.id).await.map_err(|_| {
                Error::forbidden("Only a signed-in user can own an API token.")
            })?;
            let secret = new_secret(TOKEN_PREFIX);
            let info = ApiToken {
                id: new_id(),
                user_id: owner.user.id.clone(),
                name,
                prefix: secret[..10].to_owned(),
                created_at: now,
                expires_at,
                last_used_at: None,
                revoked_at: None,
            };
            let record = ApiTokenRecord { token: info.clone(), secret_hash: hash_secret(&secret) };
            let audit = self.draft(
                actor,
                owner.user.org_id.clone(),
                "token.create",
                "token",
                Some(&info.id),
                Outcome::Succeeded,
                format!("Created API token {} ({}…) for {}", info.name, info.prefix, owner.user.username),
            );
            self.store.insert_token(&record, audit).await?;
            Ok(CreatedToken { token: secret, info })
        })
        .await
    }

    pub async fn token_list(&self, actor: &Actor, query: TokenQuery) -> Result<Listing<ApiToken>> {
        let page = Page::new(query.offset, query.limit)?;
        let user_id = query.user_id.as_deref().unwrap_or(&actor.id).to_owned();
        self.read(actor, "token.list", "user", Some(&user_id), async {
            let owner = self.visible_user(actor, &user_id).await?;
            if owner.user.id != actor.id {
                access::require_user_manager(actor, &owner.user)?;
            }
            let items = self.store.list_tokens(&owner.user.id, probe(page)).await?;
            Ok(paged(items.into_iter().map(|r| r.token).collect(), page))
        })
        .await
    }

    /// Revokes a token at once. Its owner, or an admin who manages the owner, may do it.
    pub async fn token_revoke(&self, actor: &Actor, id: &str) -> Result<ApiToken> {
        self.change(actor, "token.revoke", "token", Some(id), async {
            let not_found = || Error::not_found("API token", id);
            let token_id = validate::id("id", id).map_err(|_| not_found())?;
            let record = self.store.get_token(&token_id).await?.ok_or_else(not_found)?;
            let owner = self.visible_user(actor, &record.token.user_id).await.map_err(|_| not_found())?;
            if owner.user.id != actor.id {
                access::require_user_manager(actor, &owner.user).map_err(|_| not_found())?;
            }
            if record.token.revoked_at.is_some() {
                return Err(Error::conflict(None, "This API token is already revoked."));
            }
            let now = self.now();
            let audit = self.draft(
                actor,
                owner.user.org_id.clone(),
                "token.revoke",
                "token",
                Some(&record.token.id),
                Outcome::Succeeded,
                format!("Revoked API token {} of {}", record.token.name, owner.user.username),
            );
            self.store.revoke_token(&record.token.id, now, audit).await?;
            let mut token = record.token;
            token.revoked_at = Some(crate::audit::truncate_to_millis(now));
            Ok(token)
        })
        .await
    }
}
