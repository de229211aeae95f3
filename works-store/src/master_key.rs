//! Where the master key comes from. `WORKS_MASTER_KEY` wins. Without it, a SQLite store
//! keeps a generated key in a file beside the database (`<database>.key`, readable by its
//! owner only), so a single-machine install can store secrets from its first start;
//! production refuses to start without `WORKS_MASTER_KEY` (see `works_core::ops`).
//! A PostgreSQL store without the variable has no key, and storing a secret is refused
//! with a plain explanation.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rand::RngCore;
use works_core::ops::{parse_master_key, MasterKey};
use works_core::{Error, Result};

/// The master key for the store at `url`, given the value of `WORKS_MASTER_KEY`.
pub fn master_key(url: &str, from_env: Option<&str>) -> Result<Option<MasterKey>> {
    if let Some(text) = from_env.map(str::trim).filter(|t| !t.is_empty()) {
        return parse_master_key(text).map(Some).map_err(|why| Error::invalid("WORKS_MASTER_KEY", why));
    }
    match key_file(url) {
        Some(path) => read_or_create(&path).map(Some),
        None => Ok(None),
    }
}

/// The key file of a SQLite database file; `None` for PostgreSQL or an in-memory store.
pub fn key_file(url: &str) -> Option<PathBuf> {
    let url = url.trim();
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let path = crate::backup::sqlite_file(url).ok()?;
    let mut name = path.file_name()?.to_os_string();
    name.push(".key");
    Some(path.with_file_name(name))
}

fn read_or_create(path: &Path) -> Result<MasterKey> {
    let problem = |what: &str, e: std::io::Error| {
        Error::unavailable(format!(
            "The master key file {} could not be {what}: {e}. Set WORKS_MASTER_KEY instead, or fix the file's permissions.",
            path.display()
        ))
    };
    match std::fs::read_to_string(path) {
        Ok(text) => parse_master_key(&text).map_err(|why| {
            Error::invalid("master_key_file", format!("{} {why}; restore it from your backups or set WORKS_MASTER_KEY", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(path) {
                Ok(mut file) => {
                    file.write_all(format!("{text}\n").as_bytes()).map_err(|e| problem("written", e))?;
                    file.sync_all().map_err(|e| problem("written", e))?;
                    tracing::info!(file = %path.display(), "generated a master key for this database; keep it with the backups");
                    parse_master_key(&text).map_err(|why| Error::internal(format!("a generated master key {why}")))
                }
                // Another process created it first: read theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_or_create(path),
                Err(e) => Err(problem("created", e)),
            }
        }
        Err(e) => Err(problem("read", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_then_file_beside_sqlite_then_none() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("works.db");
        let url = format!("sqlite://{}", db.display());
        assert_eq!(key_file(&url).unwrap(), dir.path().join("works.db.key"));
        let first = master_key(&url, None).unwrap().unwrap();
        let again = master_key(&url, None).unwrap().unwrap();
        assert_eq!(first, again, "the key file is read back, not replaced");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("works.db.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let env = base64::engine::general_purpose::STANDARD.encode((0..32u8).map(|i| i.wrapping_mul(73) ^ 0x3c).collect::<Vec<_>>());
        let from_env = master_key(&url, Some(&env)).unwrap().unwrap();
        assert_ne!(from_env, first);
        assert!(master_key("postgres://x@127.0.0.1/db", None).unwrap().is_none());
        assert!(master_key("sqlite::memory:", None).unwrap().is_none());
        let err = master_key(&url, Some("change-me")).unwrap_err();
        assert_eq!(err.field(), Some("WORKS_MASTER_KEY"));
    }
}
