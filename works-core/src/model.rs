//! The records Anthropy Works keeps. Plain data: the rules about them live in the
//! operation modules (`orgs`, `users`, `tokens`, `sessions`, `audit`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Who a user is in the MSP's world. MSP roles see every organization; organization
/// roles see their own organization only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    MspAdmin,
    MspOperator,
    OrgAdmin,
    OrgUser,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::MspAdmin, Role::MspOperator, Role::OrgAdmin, Role::OrgUser];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::MspAdmin => "msp_admin",
            Role::MspOperator => "msp_operator",
            Role::OrgAdmin => "org_admin",
            Role::OrgUser => "org_user",
        }
    }

    /// MSP roles belong to no organization and see all of them.
    pub fn is_msp(self) -> bool {
        matches!(self, Role::MspAdmin | Role::MspOperator)
    }

    /// Plain-English label for people.
    pub fn label(self) -> &'static str {
        match self {
            Role::MspAdmin => "MSP admin",
            Role::MspOperator => "MSP operator",
            Role::OrgAdmin => "Organization admin",
            Role::OrgUser => "Organization user",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            Error::invalid("role", "must be one of msp_admin, msp_operator, org_admin, org_user")
        })
    }
}

/// A customer organization of the MSP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Org {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when the organization was archived; archived organizations keep their
    /// records but their users can no longer sign in.
    pub archived_at: Option<DateTime<Utc>>,
}

/// A person who signs in. MSP users have no organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: Option<String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user record together with its password hash. Never leaves the core.
#[derive(Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord").field("user", &self.user).field("password_hash", &"<hidden>").finish()
    }
}

/// An API token's public face. The secret is shown once, at creation, and stored only
/// as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The first characters of the secret, to recognise it by.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A stored API token with its hash. Never leaves the core and the store.
#[derive(Debug, Clone)]
pub struct ApiTokenRecord {
    pub token: ApiToken,
    pub secret_hash: String,
}

/// A freshly created API token: the only time its secret is ever returned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    /// The secret, to use as `Authorization: Bearer …`. It is not stored and cannot be shown again.
    pub token: String,
    pub info: ApiToken,
}

/// How a session was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A browser, holding the secret in an HttpOnly cookie and a CSRF token in its pages.
    Browser,
    /// A script or the CLI, holding the secret as a bearer token.
    Api,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Browser => "browser",
            SessionKind::Api => "api",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "browser" => Some(SessionKind::Browser),
            "api" => Some(SessionKind::Api),
            _ => None,
        }
    }
}

/// A signed-in session, stored by the hash of its secret.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub kind: SessionKind,
    pub secret_hash: String,
    pub csrf_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a successful sign-in returns. The secrets are shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginOutcome {
    /// Use as `Authorization: Bearer …` (API sessions) or the session cookie (browsers).
    pub token: String,
    /// Send back with every state-changing browser request.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// One page of a list. `next_offset` is set while more records follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_offset: Option<u32>,
}

/// Paging of a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub offset: u32,
    pub limit: u32,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 500;

    /// Validates a requested page; `None` means the default.
    pub fn new(offset: Option<u32>, limit: Option<u32>) -> Result<Self> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(Error::invalid("limit", format!("must be between 1 and {}", Self::MAX_LIMIT)));
        }
        Ok(Page { offset: offset.unwrap_or(0), limit })
    }
}

impl Default for Page {
    fn default() -> Self {
        Page { offset: 0, limit: Self::DEFAULT_LIMIT }
    }
}

/// Which records of a kind a query may return. Decided by the core from the actor,
/// applied by the store in its `WHERE` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every organization (MSP roles).
    All,
    /// One organization's records.
    Org(String),
    /// Only the records of one user (an organization user's own).
    User(String),
}
