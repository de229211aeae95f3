//! Signing in and out, resolving credentials to an actor, CSRF, and the first admin.

use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Via};
use crate::audit::{AuditQuery, AuditVerification, ChainVerifier, Outcome};
use crate::error::{Error, Result};
use crate::model::{LoginOutcome, Role, SessionKind, SessionRecord, User, UserRecord};
use crate::secret::{hash_password, hash_secret, new_id, new_password, new_secret, same_hash, verify_password, DUMMY_HASH};
use crate::tokens::TOKEN_PREFIX;
use crate::validate;
use crate::works::Works;

pub const SESSION_PREFIX: &str = "wks_";
/// The username of the first MSP admin.
pub const FIRST_ADMIN: &str = "admin";

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for LoginInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginInput").field("username", &self.username).field("password", &"<hidden>").finish()
    }
}

/// What the first start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users exist already; nothing was done.
    AlreadyDone,
    /// The first admin was created with the given password.
    CreatedWithGivenPassword,
    /// The first admin was created with this random password, to be shown once.
    CreatedWithGeneratedPassword(String),
}

impl Works {
    /// On an empty store, creates the MSP admin `admin` with `password` or a random
    /// password returned to be shown once. Does nothing once any user exists.
    pub async fn bootstrap(&self, password: Option<String>) -> Result<Bootstrap> {
        if self.store.count_users().await? > 0 {
            return Ok(Bootstrap::AlreadyDone);
        }
        let (password, generated) = match password {
            Some(p) => {
                validate::password("WORKS_ADMIN_PASSWORD", &p)?;
                (p, false)
            }
            None => (new_password(), true),
        };
        let now = self.now();
        let user = User {
            id: new_id(),
            username: FIRST_ADMIN.into(),
            display_name: "Administrator".into(),
            role: Role::MspAdmin,
            org_id: None,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let record = UserRecord { password_hash: hash_password(password.clone()).await?, user };
        let audit = self.draft(
            &Actor::system(),
            None,
            "user.bootstrap",
            "user",
            Some(&record.user.id),
            Outcome::Succeeded,
            "Created the first MSP admin on an empty database",
        );
        match self.store.insert_user(&record, audit).await {
            Ok(()) => Ok(if generated {
                Bootstrap::CreatedWithGeneratedPassword(password)
            } else {
                Bootstrap::CreatedWithGivenPassword
            }),
            // Another server bootstrapped first.
            Err(Error::Conflict { .. }) => Ok(Bootstrap::AlreadyDone),
            Err(e) => Err(e),
        }
    }

    /// Signs in with a username and password. Refused attempts are recorded and, past a
    /// limit within a window, further attempts for that username are refused for a while.
    pub async fn login(&self, input: LoginInput, kind: SessionKind) -> Result<LoginOutcome> {
        let now = self.now();
        let username = input.username.trim().to_owned();
        if username.is_empty() {
            return Err(Error::invalid("username", "must not be empty"));
        }
        if input.password.is_empty() {
            return Err(Error::invalid("password", "must not be empty"));
        }
        if username.len() > 200 || input.password.len() > 1024 {
            return Err(Error::invalid("username", "is too long"));
        }
        let found = self.store.get_user_by_username(&username).await?;
        let anonymous = Actor { id: "anonymous".into(), name: username.clone(), role: Role::OrgUser, org_id: None, via: Via::System };
        let org_of_target = found.as_ref().and_then(|r| r.user.org_id.clone());
        let target_id = found.as_ref().map(|r| r.user.id.clone());
        let refuse = |reason: &str| {
            self.draft(&anonymous, org_of_target.clone(), "auth.login", "user", target_id.as_deref(), Outcome::Denied, reason)
        };

        let failures = self.store.count_login_failures(&username, now - self.config.login_window).await?;
        if failures >= self.config.login_max_failures {
            self.store.append_audit(refuse("Too many failed sign-ins for this username; attempt refused")).await?;
            return Err(Error::RateLimited {
                message: "Too many failed sign-in attempts for this account. Sign-in is paused for a few minutes.".into(),
                retry_after_secs: self.config.login_window.num_seconds().max(1) as u64,
            });
        }

        let hash = found.as_ref().map(|r| r.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_owned());
        let ok = verify_password(input.password.clone(), hash).await;
        let record = match (ok, found) {
            (true, Some(r)) => r,
            _ => {
                self.store.record_login_failure(&username, now).await?;
                self.store.append_audit(refuse("Wrong username or password")).await?;
                return Err(Error::unauthenticated("The username or password is not correct."));
            }
        };
        if record.user.disabled {
            self.store.append_audit(refuse("The account is disabled")).await?;
            return Err(Error::unauthenticated("This account is disabled. Ask an administrator to enable it."));
        }
        if let Some(org_id) = &record.user.org_id {
            if self.store.get_org(org_id).await?.map(|o| o.archived_at.is_some()).unwrap_or(true) {
                self.store.append_audit(refuse("The user's organization is archived")).await?;
                return Err(Error::unauthenticated("This account's organization is archived. Ask your MSP."));
            }
        }

        let secret = new_secret(SESSION_PREFIX);
        let csrf = new_secret("");
        let session = SessionRecord {
            id: new_id(),
            user_id: record.user.id.clone(),
            kind,
            secret_hash: hash_secret(&secret),
            csrf_hash: hash_secret(&csrf),
            created_at: now,
            expires_at: now + self.config.session_ttl,
        };
        let actor = Actor::for_user(&record.user, Via::System);
        let audit = self.draft(
            &actor,
            record.user.org_id.clone(),
            "auth.login",
            "user",
            Some(&record.user.id),
            Outcome::Succeeded,
            format!("Signed in ({} session)", kind.as_str()),
        );
        self.store.insert_session(&session, audit).await?;
        Ok(LoginOutcome {
            token: secret,
            csrf_token: csrf,
            expires_at: crate::audit::truncate_to_millis(session.expires_at),
            user: record.user,
        })
    }

    /// Ends the caller's session.
    pub async fn logout(&self, actor: &Actor) -> Result<()> {
        match &actor.via {
            Via::Session { session_id, .. } => {
                let audit = self.draft(actor, actor.org_id.clone(), "auth.logout", "session", Some(session_id), Outcome::Succeeded, "Signed out");
                self.store.delete_session(session_id, audit).await
            }
            _ => Err(Error::conflict(None, "Only a signed-in session can sign out; revoke an API token instead.")),
        }
    }

    /// Resolves a session secret or API token to the actor it stands for.
    pub async fn authenticate(&self, secret: &str) -> Result<Actor> {
        let now = self.now();
        let invalid = || Error::unauthenticated("Your sign-in is not valid or has ended. Sign in again.");
        let hash = hash_secret(secret.trim());
        let (user_id, via) = if secret.starts_with(SESSION_PREFIX) {
            let s = self.store.get_session_by_hash(&hash).await?.ok_or_else(invalid)?;
            if s.expires_at <= now {
                return Err(invalid());
            }
            (s.user_id, Via::Session { session_id: s.id, csrf_hash: s.csrf_hash })
        } else if secret.starts_with(TOKEN_PREFIX) {
            let t = self.store.get_token_by_hash(&hash).await?.ok_or_else(invalid)?;
            if t.token.revoked_at.is_some() || t.token.expires_at.map(|e| e <= now).unwrap_or(false) {
                return Err(invalid());
            }
            let stale = t.token.last_used_at.map(|u| now - u > chrono::Duration::minutes(1)).unwrap_or(true);
            if stale {
                self.store.touch_token(&t.token.id, now).await?;
            }
            (t.token.user_id, Via::ApiToken { token_id: t.token.id })
        } else {
            return Err(invalid());
        };
        let record = self.store.get_user(&user_id).await?.ok_or_else(invalid)?;
        self.usable_user(&record.user).await.map_err(|_| invalid())?;
        Ok(Actor::for_user(&record.user, via))
    }

    /// An actor for direct (embedded) access to the store as a named user — the CLI and
    /// Python with a database URL. Having the database is having its keys; the user is
    /// still checked and every action is recorded under their name, marked local.
    pub async fn local_actor(&self, username: &str) -> Result<Actor> {
        let record = self
            .store
            .get_user_by_username(username)
            .await?
            .ok_or_else(|| Error::invalid("as", format!("no user named {username} exists in this database")))?;
        self.usable_user(&record.user).await?;
        Ok(Actor::for_user(&record.user, Via::Local))
    }

    async fn usable_user(&self, user: &User) -> Result<()> {
        if user.disabled {
            return Err(Error::unauthenticated("This account is disabled."));
        }
        if let Some(org_id) = &user.org_id {
            let archived = self.store.get_org(org_id).await?.map(|o| o.archived_at.is_some()).unwrap_or(true);
            if archived {
                return Err(Error::unauthenticated("This account's organization is archived."));
            }
        }
        Ok(())
    }

    /// Checks the CSRF token a browser sent with a state-changing request. Only browser
    /// sessions need one; bearer credentials are not sent by browsers on their own.
    pub fn verify_csrf(&self, actor: &Actor, csrf_token: Option<&str>) -> Result<()> {
        match &actor.via {
            Via::Session { csrf_hash, .. } => match csrf_token {
                Some(t) if same_hash(&hash_secret(t), csrf_hash) => Ok(()),
                _ => Err(Error::forbidden("This form has expired or did not come from this site. Reload the page and try again.")),
            },
            _ => Ok(()),
        }
    }

    // --- audit log operations ---

    /// Audit records the actor may see, newest first, filtered and paged.
    pub async fn audit_query(&self, actor: &Actor, query: AuditQuery) -> Result<crate::audit::AuditPage> {
        let limit = crate::model::Page::new(None, query.limit)?.limit;
        if let Some(a) = &query.action {
            if a.len() > 100 || a.chars().any(char::is_control) {
                return Err(Error::invalid("action", "is not a valid action name"));
            }
        }
        let scope = crate::access::audit_scope(actor);
        self.store.query_audit(&scope, &query, limit).await
    }

    /// Walks the whole hash chain and says whether it is intact. MSP roles only.
    pub async fn audit_verify(&self, actor: &Actor) -> Result<AuditVerification> {
        self.read(actor, "audit.verify", "audit", None, async {
            crate::access::require_msp(actor, "verify the audit log")?;
            let mut verifier = ChainVerifier::default();
            let mut after = 0;
            loop {
                let batch = self.store.audit_chain(after, 1000).await?;
                let Some(last) = batch.last() else { break };
                after = last.seq;
                for r in &batch {
                    if !verifier.push(r) {
                        return Ok(verifier.finish());
                    }
                }
            }
            Ok(verifier.finish())
        })
        .await
    }
}
