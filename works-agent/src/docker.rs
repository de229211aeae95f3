//! The Docker engine, through its API (`bollard`): reachability and version, the
//! container inventory, and a container's recent logs.
//!
//! The inventory comes from the container list only, which carries no environment: the
//! agent never asks the engine for a container's environment, so its values cannot be
//! sent anywhere.

use std::collections::BTreeMap;

use bollard::errors::Error as BollardError;
use bollard::models::{ContainerSummary, MountPointTypeEnum};
use bollard::query_parameters::{ListContainersOptions, LogsOptions};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use works_core::{Container, ContainerMount, PublishedPort};

/// Where the engine is when nothing says otherwise.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Seconds one request to the engine may take.
const ENGINE_TIMEOUT_SECS: u64 = 30;

/// Most log bytes read from a container for one job (the server keeps less).
pub const MAX_LOG_BYTES: usize = 1024 * 1024;

/// The engine's address: `WORKS_DOCKER_HOST`, else `DOCKER_HOST`, else the local socket.
pub fn docker_host_from_env() -> String {
    docker_host_from(std::env::var("WORKS_DOCKER_HOST").ok(), std::env::var("DOCKER_HOST").ok())
}

/// The first of the two that is set and not blank, else [`DEFAULT_DOCKER_HOST`].
pub fn docker_host_from(works: Option<String>, docker: Option<String>) -> String {
    [works, docker]
        .into_iter()
        .flatten()
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_owned())
}

/// What went wrong talking to the engine, in plain English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("The Docker engine at {host} cannot be reached: {detail}")]
    Unreachable { host: String, detail: String },
    #[error("No container named {0} exists on this machine.")]
    NoSuchContainer(String),
    #[error("The Docker engine at {host} refused the request: {detail}")]
    Refused { host: String, detail: String },
}

enum Address {
    Unix(String),
    Http(String),
}

fn parse_host(host: &str) -> Result<Address, String> {
    if let Some(path) = host.strip_prefix("unix://") {
        return Ok(Address::Unix(path.to_owned()));
    }
    if host.starts_with('/') {
        return Ok(Address::Unix(host.to_owned()));
    }
    if host.starts_with("tcp://") || host.starts_with("http://") {
        return Ok(Address::Http(host.to_owned()));
    }
    Err(format!(
        "{host} is not a Docker address this agent can use: give unix:///path/to/docker.sock or tcp://HOST:PORT"
    ))
}

/// The Docker engine at one address. It connects on first use and again after a
/// failure, so an engine that starts after the agent is picked up.
pub struct Engine {
    host: String,
    docker: Mutex<Option<Docker>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("host", &self.host).finish()
    }
}

impl Engine {
    /// The engine at `host` (`unix:///…`, a socket path, or `tcp://HOST:PORT`). Nothing
    /// is contacted yet; an address of another kind is refused.
    pub fn new(host: &str) -> Result<Engine, works_core::Error> {
        let host = host.trim();
        parse_host(host).map_err(|problem| works_core::Error::invalid("docker_host", problem))?;
        Ok(Engine { host: host.to_owned(), docker: Mutex::new(None) })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    fn unreachable(&self, detail: impl std::fmt::Display) -> EngineError {
        EngineError::Unreachable { host: self.host.clone(), detail: detail.to_string() }
    }

    pub(crate) async fn client(&self) -> Result<Docker, EngineError> {
        let mut cached = self.docker.lock().await;
        if let Some(d) = cached.as_ref() {
            return Ok(d.clone());
        }
        let address = parse_host(&self.host).map_err(|p| self.unreachable(p))?;
        let docker = match address {
            Address::Unix(path) => Docker::connect_with_unix(&path, ENGINE_TIMEOUT_SECS, API_DEFAULT_VERSION),
            Address::Http(addr) => Docker::connect_with_http(&addr, ENGINE_TIMEOUT_SECS, API_DEFAULT_VERSION),
        }
        .map_err(|e| self.unreachable(describe(&e)))?;
        // An older engine speaks an older API version: agree on one it knows.
        let docker = docker.negotiate_version().await.map_err(|e| self.unreachable(describe(&e)))?;
        *cached = Some(docker.clone());
        Ok(docker)
    }

    /// Turns a failed call into an [`EngineError`]; a connection failure forgets the
    /// connection so the next call connects again.
    pub(crate) async fn failed(&self, e: BollardError) -> EngineError {
        match e {
            BollardError::DockerResponseServerError { status_code, message } => {
                EngineError::Refused { host: self.host.clone(), detail: format!("HTTP {status_code}: {message}") }
            }
            other => {
                *self.docker.lock().await = None;
                self.unreachable(describe(&other))
            }
        }
    }

    /// The engine's version, when it reports one. An error means it cannot be reached.
    pub async fn version(&self) -> Result<Option<String>, EngineError> {
        let docker = self.client().await?;
        match docker.version().await {
            Ok(v) => Ok(v.version),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// `GET /_ping`: the engine's own answer (`OK`).
    pub async fn ping(&self) -> Result<String, EngineError> {
        let docker = self.client().await?;
        match docker.ping().await {
            Ok(answer) => Ok(answer),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// Every container on the machine, running or not, ordered by name.
    pub async fn inventory(&self) -> Result<Vec<Container>, EngineError> {
        let docker = self.client().await?;
        let options = ListContainersOptions { all: true, ..Default::default() };
        let summaries = match docker.list_containers(Some(options)).await {
            Ok(s) => s,
            Err(e) => return Err(self.failed(e).await),
        };
        let mut containers: Vec<Container> = summaries.into_iter().filter_map(container_of).collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(containers)
    }

    /// The last `lines` lines of a container's output (standard output and error).
    pub async fn logs(&self, container: &str, lines: u32) -> Result<String, EngineError> {
        if !is_container_ref(container) {
            return Err(EngineError::NoSuchContainer(container.to_owned()));
        }
        let docker = self.client().await?;
        let options = LogsOptions { stdout: true, stderr: true, tail: lines.to_string(), ..Default::default() };
        let mut stream = docker.logs(container, Some(options));
        let mut out: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(part) => {
                    let bytes = part.into_bytes();
                    let room = MAX_LOG_BYTES.saturating_sub(out.len());
                    out.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
                    if out.len() >= MAX_LOG_BYTES {
                        break;
                    }
                }
                Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => {
                    return Err(EngineError::NoSuchContainer(container.to_owned()))
                }
                Err(e) => return Err(self.failed(e).await),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// The innermost cause of a bollard error: what actually happened.
fn describe(e: &BollardError) -> String {
    let mut text = e.to_string();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cause {
        text = c.to_string();
        cause = c.source();
    }
    text
}

/// A container name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`) or id: anything else cannot name a
/// container, and is never put into a request path.
pub fn is_container_ref(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && s.len() <= 255
}

/// The health a container's status line carries: `Up 5 minutes (healthy)`.
pub fn health_of(status: &str) -> Option<String> {
    if status.contains("(healthy)") {
        Some("healthy".into())
    } else if status.contains("(unhealthy)") {
        Some("unhealthy".into())
    } else if status.contains("(health: starting)") {
        Some("starting".into())
    } else {
        None
    }
}

/// One entry of the engine's container list as the inventory shows it.
pub fn container_of(s: ContainerSummary) -> Option<Container> {
    let id = s.id?;
    let name = s
        .names
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(|n| n.strip_prefix('/').map(str::to_owned).unwrap_or(n))
        .unwrap_or_else(|| id.chars().take(12).collect());
    let mut ports: Vec<PublishedPort> = s
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| PublishedPort {
            container_port: p.private_port,
            host_port: p.public_port,
            host_ip: p.ip.filter(|ip| !ip.is_empty()),
            protocol: p.typ.map(|t| t.to_string()).filter(|t| !t.is_empty()).unwrap_or_else(|| "tcp".into()),
        })
        .collect();
    ports.sort_by(|a, b| {
        (a.container_port, &a.protocol, a.host_port, &a.host_ip).cmp(&(b.container_port, &b.protocol, b.host_port, &b.host_ip))
    });
    ports.dedup();
    let mut mounts: Vec<ContainerMount> = s
        .mounts
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let kind = m.typ.map(|t| t.to_string()).unwrap_or_default();
            let source = match (m.typ, m.name) {
                (Some(MountPointTypeEnum::VOLUME), Some(name)) if !name.is_empty() => name,
                _ => m.source.unwrap_or_default(),
            };
            ContainerMount { kind, source, destination: m.destination.unwrap_or_default() }
        })
        .collect();
    mounts.sort_by(|a, b| (&a.destination, &a.source).cmp(&(&b.destination, &b.source)));
    Some(Container {
        id,
        name,
        image: s.image.unwrap_or_default(),
        state: s.state.map(|st| st.to_string()).unwrap_or_default(),
        health: s.status.as_deref().and_then(health_of),
        labels: s.labels.unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>(),
        ports,
        mounts,
    })
}

/// A digest of an inventory: when it changes, the full inventory is sent again.
pub fn inventory_hash(containers: &[Container]) -> [u8; 32] {
    let bytes = serde_json::to_vec(containers).unwrap_or_default();
    Sha256::digest(&bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{MountPoint, Port, PortTypeEnum};
    use std::collections::HashMap;

    #[test]
    fn the_docker_host_comes_from_the_environment_in_order() {
        assert_eq!(docker_host_from(Some("unix:///a".into()), Some("unix:///b".into())), "unix:///a");
        assert_eq!(docker_host_from(Some(" ".into()), Some("unix:///b".into())), "unix:///b");
        assert_eq!(docker_host_from(None, None), DEFAULT_DOCKER_HOST);
        assert!(Engine::new("ssh://x").is_err());
        assert!(Engine::new("tcp://127.0.0.1:2375").is_ok());
        assert!(Engine::new("/var/run/docker.sock").is_ok());
    }

    #[test]
    fn container_refs_cannot_carry_paths_or_queries() {
        assert!(is_container_ref("web-1_a.b"));
        assert!(is_container_ref("3f2a9c"));
        for bad in ["", "../images/json", "a/b", "a?b", "-x", "a b", "<b>"] {
            assert!(!is_container_ref(bad), "{bad}");
        }
    }

    #[test]
    fn a_summary_becomes_an_inventory_entry() {
        let s = ContainerSummary {
            id: Some("abc123".into()),
            names: Some(vec!["/web".into()]),
            image: Some("works-test/busybox:1".into()),
            state: Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
            status: Some("Up 3 minutes (healthy)".into()),
            labels: Some(HashMap::from([("note".to_owned(), "<b>$(rm -rf /)</b>".to_owned())])),
            ports: Some(vec![
                Port { ip: Some("127.0.0.1".into()), private_port: 80, public_port: Some(8080), typ: Some(PortTypeEnum::TCP) },
                Port { ip: Some("127.0.0.1".into()), private_port: 80, public_port: Some(8080), typ: Some(PortTypeEnum::TCP) },
                Port { ip: None, private_port: 53, public_port: None, typ: Some(PortTypeEnum::UDP) },
            ]),
            mounts: Some(vec![MountPoint {
                typ: Some(MountPointTypeEnum::VOLUME),
                name: Some("data".into()),
                source: Some("/var/lib/docker/volumes/data/_data".into()),
                destination: Some("/data".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let c = container_of(s).unwrap();
        assert_eq!(c.name, "web");
        assert_eq!(c.state, "running");
        assert_eq!(c.health.as_deref(), Some("healthy"));
        assert_eq!(c.labels["note"], "<b>$(rm -rf /)</b>");
        assert_eq!(c.ports.len(), 2);
        assert_eq!(c.ports[0].protocol, "udp");
        assert_eq!(c.ports[1].host_port, Some(8080));
        assert_eq!(c.mounts, vec![ContainerMount { kind: "volume".into(), source: "data".into(), destination: "/data".into() }]);
    }

    #[test]
    fn health_comes_from_the_status_line() {
        assert_eq!(health_of("Up 2 seconds (health: starting)").as_deref(), Some("starting"));
        assert_eq!(health_of("Up 2 hours (unhealthy)").as_deref(), Some("unhealthy"));
        assert_eq!(health_of("Exited (0) 5 minutes ago"), None);
    }
}
