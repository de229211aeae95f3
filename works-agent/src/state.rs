//! The agent's enrollment on disk: `DIR/agent.json` with the server's address, the
//! node id and the agent credential, readable by its owner only (file 0600, folder 0700).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use works_core::{Error, Result};

/// The file the enrollment is kept in, inside the state folder.
pub const STATE_FILE: &str = "agent.json";

/// What enrollment leaves on the machine.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentState {
    /// The server's address, such as `http://127.0.0.1:8080`.
    pub server: String,
    pub node_id: String,
    /// The agent's own credential (`wka_…`). Never logged or printed.
    pub credential: String,
}

impl std::fmt::Debug for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentState")
            .field("server", &self.server)
            .field("node_id", &self.node_id)
            .field("credential", &"<hidden>")
            .finish()
    }
}

/// The path of the state file in `dir`.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// Reads the enrollment kept in `dir`.
pub fn load(dir: &Path) -> Result<AgentState> {
    let path = state_path(dir);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::invalid(
                "state_dir",
                format!(
                    "{} holds no enrollment ({} is missing): run `works agent enroll --server URL --token T --state-dir {}` first",
                    dir.display(),
                    STATE_FILE,
                    dir.display()
                ),
            ))
        }
        Err(e) => return Err(Error::invalid("state_dir", format!("{} could not be read: {e}", path.display()))),
    };
    let state: AgentState = serde_json::from_str(&text).map_err(|e| {
        Error::invalid("state_dir", format!("{} is not a valid enrollment file ({e}); enroll again with --force", path.display()))
    })?;
    if !state.credential.starts_with(works_core::agent::AGENT_PREFIX) {
        return Err(Error::invalid(
            "state_dir",
            format!("{} holds no agent credential; enroll again with --force", path.display()),
        ));
    }
    warn_if_readable_by_others(&path);
    Ok(state)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the enrollment file can be read by other users; it should have mode 0600");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Is there an enrollment in `dir` already?
pub fn exists(dir: &Path) -> bool {
    state_path(dir).exists()
}

/// Creates `dir` (mode 0700) when missing; tightens an existing one to 0700.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Err(Error::invalid("state_dir", "must not be empty"));
    }
    let problem = |e: std::io::Error| Error::invalid("state_dir", format!("{} could not be prepared: {e}", dir.display()));
    if !dir.is_dir() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(problem)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(problem)?;
    }
    Ok(())
}

/// Writes the enrollment to `dir/agent.json` with mode 0600, atomically (a temporary
/// file in the same folder, renamed into place).
pub fn save(dir: &Path, state: &AgentState) -> Result<PathBuf> {
    ensure_dir(dir)?;
    let path = state_path(dir);
    let tmp = dir.join(format!(".{STATE_FILE}.{}.tmp", std::process::id()));
    let problem = |e: std::io::Error| Error::internal(format!("Could not write {}: {e}", path.display()));
    let text = serde_json::to_string_pretty(state).map_err(|e| Error::internal(format!("Could not encode the enrollment: {e}")))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = fs::remove_file(&tmp);
    let written = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&tmp, &path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(problem(e));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enrollment_is_private_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let state = AgentState { server: "http://127.0.0.1:1".into(), node_id: "n1".into(), credential: "wka_secret".into() };
        let path = save(&dir, &state).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        }
        assert_eq!(load(&dir).unwrap(), state);
        assert!(!format!("{state:?}").contains("wka_secret"));
    }

    #[test]
    fn a_missing_enrollment_says_what_to_run() {
        let tmp = tempfile::tempdir().unwrap();
        let e = load(tmp.path()).unwrap_err();
        assert!(e.to_string().contains("works agent enroll"), "{e}");
    }
}
