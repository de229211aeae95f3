//! The sign-in `works login` saves: `{server, token}` in `credentials.json`, readable
//! by its owner only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use works_core::{Error, Result};

#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub server: String,
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("server", &self.server).field("token", &"<hidden>").finish()
    }
}

fn non_empty_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// `$WORKS_CONFIG_DIR/credentials.json`, else `$XDG_CONFIG_HOME/works/credentials.json`,
/// else `$HOME/.config/works/credentials.json`.
pub fn path() -> Result<PathBuf> {
    let dir = if let Some(dir) = non_empty_env("WORKS_CONFIG_DIR") {
        dir
    } else if let Some(xdg) = non_empty_env("XDG_CONFIG_HOME") {
        xdg.join("works")
    } else if let Some(home) = non_empty_env("HOME") {
        home.join(".config").join("works")
    } else {
        return Err(Error::invalid(
            "WORKS_CONFIG_DIR",
            "is not set, and neither are XDG_CONFIG_HOME nor HOME: set it to the folder for saved sign-ins",
        ));
    };
    Ok(dir.join("credentials.json"))
}

pub fn load() -> Result<Option<Credentials>> {
    let path = path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::internal(format!("Could not read the saved sign-in {}: {e}", path.display()))),
    };
    serde_json::from_str(&text).map(Some).map_err(|_| {
        Error::internal(format!(
            "The saved sign-in {} is damaged; delete it and run works login again.",
            path.display()
        ))
    })
}

/// Writes the file with mode 0600 (in a 0700 folder), replacing any earlier one whole.
pub fn save(credentials: &Credentials) -> Result<PathBuf> {
    let path = path()?;
    let fail = |e: std::io::Error| Error::internal(format!("Could not save the sign-in to {}: {e}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(fail)?;
    let text = serde_json::to_string_pretty(credentials)
        .map_err(|e| Error::internal(format!("Could not write the sign-in: {e}")))?;
    let tmp = dir.join(format!(".credentials.json.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, text.as_bytes()).map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })?;
    Ok(path)
}

/// Removes the saved sign-in; true when there was one.
pub fn remove() -> Result<bool> {
    let path = path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::internal(format!("Could not remove the saved sign-in {}: {e}", path.display()))),
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
