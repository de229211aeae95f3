//! Where a command's calls go: a database opened directly (embedded) or a running
//! server (remote). Both are a `dyn works_core::Api`.

use std::path::Path;
use std::sync::Arc;

use works_client::{parse_base_url, RemoteClient};
use works_core::{Api, Bootstrap, Error, Result, Session, Works};

use crate::cli::Cli;
use crate::credentials;
use crate::secrets;

use works_core::auth::FIRST_ADMIN;

/// Where the database is, from the flags: `--database`, else SQLite in `--data-dir`.
pub fn database_url(cli: &Cli) -> Result<String> {
    match cli.database.as_deref().map(str::trim) {
        Some("") => Err(Error::invalid("database", "must not be empty")),
        Some(url) => Ok(url.to_owned()),
        None => {
            ensure_data_dir(&cli.data_dir)?;
            Ok(works_store::sqlite_url_for_dir(&cli.data_dir))
        }
    }
}

/// Creates the data folder (readable by its owner only) when it is missing.
pub fn ensure_data_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Err(Error::invalid("data_dir", "must not be empty"));
    }
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Error::invalid("data_dir", format!("{} could not be created: {e}", dir.display())))
}

/// Opens the store and the core, and runs first-start setup: on an empty database the
/// MSP admin is created with `WORKS_ADMIN_PASSWORD`, or with a generated password that
/// is returned to be shown once.
pub async fn open_works(url: &str) -> Result<(Works, Bootstrap)> {
    let store = works_store::open(url).await?;
    // Test Access reaches hosts through the system OpenSSH.
    let mut works = Works::new(store).with_access_probe(Arc::new(works_ssh::OpenSshProbe::new()));
    if let Some(key) = works_store::master_key(url, std::env::var("WORKS_MASTER_KEY").ok().as_deref())? {
        works = works.with_master_key(&key);
    }
    works = works.with_config(works_core::CoreConfig { openclaw_repository: openclaw_repository()?, ..Default::default() });
    works = works.with_drive(Arc::new(works_drive::GoogleDrive::from_env()?));
    if let Some(install) = agent_install_from_env()? { works = works.with_agent_install(install)?; }
    let outcome = works.bootstrap(secrets::from_env("WORKS_ADMIN_PASSWORD")).await?;
    Ok((works, outcome))
}

/// The OpenClaw image repository deploys use (`WORKS_OPENCLAW_IMAGE`), checked.
pub fn openclaw_repository() -> Result<Option<String>> {
    let given = std::env::var(works_core::openclaw::IMAGE_ENV).ok().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if let Some(repo) = &given {
        works_core::openclaw::image_reference(works_core::openclaw::DEFAULT_VERSION, Some(repo))?;
    }
    Ok(given)
}

/// The one-time message of a first start, if there is one.
pub fn bootstrap_message(outcome: &Bootstrap) -> Option<String> {
    match outcome {
        Bootstrap::AlreadyDone => None,
        Bootstrap::CreatedWithGivenPassword => Some(format!(
            "First start: created the MSP admin '{FIRST_ADMIN}' with the password from WORKS_ADMIN_PASSWORD."
        )),
        Bootstrap::CreatedWithGeneratedPassword(password) => Some(format!(
            "First start: created the MSP admin '{FIRST_ADMIN}' with password {password}; it will not be shown again."
        )),
    }
}

/// The `Api` a resource command talks to.
pub async fn api(cli: &Cli) -> Result<Arc<dyn Api>> {
    if cli.database.is_some() && cli.server.is_some() {
        return Err(Error::invalid(
            "server",
            "cannot be used together with --database: give one (check WORKS_SERVER and WORKS_DATABASE_URL)",
        ));
    }
    match &cli.server {
        Some(server) => remote(cli, server).map(|c| Arc::new(c) as Arc<dyn Api>),
        None => embedded(cli).await,
    }
}

async fn embedded(cli: &Cli) -> Result<Arc<dyn Api>> {
    let url = database_url(cli)?;
    let (works, outcome) = open_works(&url).await?;
    if let Some(message) = bootstrap_message(&outcome) {
        // On standard error, so `--json` output stays clean.
        eprintln!("{message}");
    }
    let username = cli.as_user.as_deref().unwrap_or(FIRST_ADMIN);
    let actor = works.local_actor(username).await?;
    Ok(Arc::new(Session::new(works, actor)))
}

fn remote(cli: &Cli, server: &str) -> Result<RemoteClient> {
    if cli.as_user.is_some() {
        return Err(Error::invalid(
            "as",
            "applies only to a database opened directly; with --server you act as the signed-in user",
        ));
    }
    let base = parse_base_url(server)?;
    if let Some(token) = cli.token.clone().filter(|t| !t.trim().is_empty()).or_else(|| secrets::from_env("WORKS_TOKEN")) {
        return RemoteClient::new(server, token.trim().to_owned());
    }
    match credentials::load()? {
        Some(saved) if parse_base_url(&saved.server).map(|u| u == base).unwrap_or(false) => {
            RemoteClient::new(server, saved.token)
        }
        _ => Err(Error::unauthenticated(format!(
            "You are not signed in to {}. Run `works login --server {}`, or set WORKS_TOKEN to an API token.",
            shown(&base),
            shown(&base)
        ))),
    }
}

/// An address as people write it: no trailing slash.
pub fn shown(url: &works_client::Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// Agent installation over SSH, from the server's environment: `WORKS_AGENT_SERVER_URL`
/// (the address hosts reach this server at; without it, installation is off) and
/// `WORKS_AGENT_BINARY` (the executable to copy; by default the running one, which hosts
/// the agent). The core checks the address.
fn agent_install_from_env() -> works_core::Result<Option<works_core::agent_install::AgentInstallConfig>> {
    let Some(server_url) = std::env::var("WORKS_AGENT_SERVER_URL").ok().filter(|v| !v.trim().is_empty()) else { return Ok(None) };
    let binary = match std::env::var_os("WORKS_AGENT_BINARY").filter(|v| !v.is_empty()) {
        Some(p) => std::path::PathBuf::from(p),
        None => std::env::current_exe()
            .map_err(|e| works_core::Error::unavailable(format!("The running executable could not be found ({e}); set WORKS_AGENT_BINARY.")))?,
    };
    Ok(Some(works_core::agent_install::AgentInstallConfig { binary, server_url }))
}
