//! `works agent enroll`: exchange a one-time enrollment token for the agent's own
//! credential and keep it in the state folder.

use std::path::{Path, PathBuf};

use works_core::{EnrollRequest, Error, Result};

use crate::client::AgentClient;
use crate::state::{self, AgentState};

/// What enrollment did.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub server: String,
    pub node_id: String,
    /// Where the enrollment was written.
    pub path: PathBuf,
}

/// This machine's name, fit for the record (at most 100 characters, no control
/// characters), when it has one.
pub fn hostname() -> Option<String> {
    let uname = rustix::system::uname();
    let name: String = uname.nodename().to_string_lossy().chars().filter(|c| !c.is_control()).take(100).collect();
    let name = name.trim().to_owned();
    (!name.is_empty()).then_some(name)
}

/// Enrolls this machine with the server at `server` using `token`, and writes
/// `state_dir/agent.json`. An existing enrollment is replaced only with `force`; that
/// check, and preparing the folder, happen before the token is spent.
pub async fn enroll(server: &str, token: &str, state_dir: &Path, force: bool) -> Result<Enrolled> {
    let base = works_client::parse_base_url(server)?;
    let server = base.as_str().trim_end_matches('/').to_owned();
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::invalid("token", "is needed: give the enrollment token an admin made for this node"));
    }
    if state::exists(state_dir) && !force {
        let existing = state::load(state_dir)
            .map(|s| format!(" for node {} at {}", s.node_id, s.server))
            .unwrap_or_default();
        return Err(Error::conflict(
            Some("state_dir"),
            format!(
                "{} already holds an enrollment{existing}. Give --force to replace it, or another --state-dir.",
                state_dir.display()
            ),
        ));
    }
    state::ensure_dir(state_dir)?;
    let request = EnrollRequest {
        token: token.to_owned(),
        hostname: hostname(),
        agent_version: Some(crate::health::AGENT_VERSION.to_owned()),
    };
    let credential = AgentClient::enroll(&server, &request).await?;
    let saved = AgentState { server: server.clone(), node_id: credential.node_id.clone(), credential: credential.credential };
    let path = state::save(state_dir, &saved)?;
    tracing::info!(node_id = %saved.node_id, path = %path.display(), "enrolled");
    Ok(Enrolled { server, node_id: saved.node_id, path })
}
