//! The acting principal. Every operation takes one, and decides from it what may be
//! seen and done.

use serde::Serialize;

use crate::model::{Role, User};

/// How the actor proved who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Via {
    /// A signed-in session (browser cookie or API login token).
    Session {
        session_id: String,
        #[serde(skip)]
        csrf_hash: String,
    },
    /// A long-lived API token.
    ApiToken { token_id: String },
    /// Direct access to the database (the CLI or Python opening a store embedded).
    Local,
    /// The server itself: bootstrap and background work.
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The user's id, or `system`.
    pub id: String,
    /// What the audit log shows.
    pub name: String,
    pub role: Role,
    pub org_id: Option<String>,
    pub via: Via,
}

impl Actor {
    /// The server itself, with MSP admin rights. Never handed to a request.
    pub fn system() -> Self {
        Actor { id: "system".into(), name: "system".into(), role: Role::MspAdmin, org_id: None, via: Via::System }
    }

    pub(crate) fn for_user(user: &User, via: Via) -> Self {
        let name = match via {
            Via::Local => format!("{} (local)", user.username),
            _ => user.username.clone(),
        };
        Actor { id: user.id.clone(), name, role: user.role, org_id: user.org_id.clone(), via }
    }

    pub fn is_msp(&self) -> bool {
        self.role.is_msp()
    }

    /// The organization the actor's refused attempts are filed under.
    pub fn home_org(&self) -> Option<String> {
        self.org_id.clone()
    }
}
