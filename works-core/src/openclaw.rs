//! The OpenClaw bundle as data, and how a container is recognised as OpenClaw.
//!
//! The bundle is the standard deployment: the gateway container (required) and the CLI
//! container (optional, on the gateway's network), an image pinned by version, the
//! gateway port, a data volume and a workspace volume, a generated gateway token and the
//! hardening every container gets. Nothing here talks to Docker: the agent turns this
//! data into Engine API calls.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::nodes::Container;

/// The OpenClaw version the product deploys unless told otherwise. `scripts/openclaw-image`
/// builds the same version by default.
pub const DEFAULT_VERSION: &str = "2026.9.6";
/// The repository of the locally built image.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "anthropy/openclaw";
/// The environment variable naming another image repository (e.g. the official one).
pub const IMAGE_ENV: &str = "WORKS_OPENCLAW_IMAGE";
/// The port the gateway listens on inside its container.
pub const GATEWAY_PORT: u16 = 18789;
/// Where OpenClaw keeps its state inside the container.
pub const DATA_DIR: &str = "/home/node/.openclaw";
/// The agents' workspace, inside the data folder.
pub const WORKSPACE_DIR: &str = "/home/node/.openclaw/workspace";
/// The user OpenClaw runs as.
pub const RUN_AS: &str = "1000:1000";
/// The environment variable the gateway reads its token from.
pub const TOKEN_ENV: &str = "OPENCLAW_GATEWAY_TOKEN";
/// Labels put on everything the agent creates.
pub const LABEL_MANAGED: &str = "works.managed";
pub const LABEL_INSTANCE: &str = "works.instance";
pub const LABEL_COMPONENT: &str = "works.component";
/// The image label that carries the OpenClaw version.
pub const LABEL_IMAGE_VERSION: &str = "org.opencontainers.image.version";

/// Checks that a version is CalVer `YYYY.M.PATCH`, as OpenClaw publishes them.
pub fn validate_version(version: &str) -> Result<String> {
    let v = version.trim();
    let parts: Vec<&str> = v.split('.').collect();
    let numeric = parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.len() <= 6 && p.chars().all(|c| c.is_ascii_digit()));
    if !numeric || parts.first().is_some_and(|y| y.len() != 4) {
        return Err(Error::invalid("version", "must be an OpenClaw version like 2026.9.6 (year.month.patch)"));
    }
    Ok(v.to_owned())
}

/// A host port the gateway may be published on: not privileged, not zero.
pub fn validate_host_port(port: u16) -> Result<u16> {
    if port < 1024 {
        return Err(Error::invalid("gateway_port", "must be from 1024 to 65535 (no privileged ports)"));
    }
    Ok(port)
}

/// The image reference for a version: `<repository>:<version>`, the repository being the
/// given one (from [`IMAGE_ENV`]) or [`DEFAULT_IMAGE_REPOSITORY`]. A repository that
/// already carries a tag or digest is refused: the version is what pins the image.
pub fn image_reference(version: &str, repository: Option<&str>) -> Result<String> {
    let version = validate_version(version)?;
    let repo = repository.map(str::trim).filter(|r| !r.is_empty()).unwrap_or(DEFAULT_IMAGE_REPOSITORY);
    let last = repo.rsplit('/').next().unwrap_or(repo);
    if last.contains(':') || repo.contains('@') {
        return Err(Error::invalid(IMAGE_ENV, "must name an image repository without a tag; the version is added to it"));
    }
    if !repo.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':')) {
        return Err(Error::invalid(IMAGE_ENV, "may contain only letters, digits, dots, hyphens, underscores, slashes and a registry port"));
    }
    Ok(format!("{repo}:{version}"))
}

/// The gateway token: generated for each instance, given to the gateway through its
/// environment, never shown, logged or serialized. Its `Debug` prints a placeholder and
/// it has no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayToken(String);

impl GatewayToken {
    pub fn generate() -> Self {
        GatewayToken(crate::secret::new_secret("oct_"))
    }

    /// A token handed over by the server (to the agent that creates the container).
    pub fn from_secret(secret: String) -> Self {
        GatewayToken(secret)
    }

    /// The token itself, for the one place that hands it to the container.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GatewayToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GatewayToken(hidden)")
    }
}

/// Whether a component must run for the instance to be healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
}

/// Which network a component joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// The instance's own bridge network.
    Bridge(String),
    /// The network namespace of another component's container (`container:<name>`).
    ShareWith(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub container_port: u16,
    /// Published on loopback only unless an operator says otherwise.
    pub host_ip: String,
    /// None: the engine picks a free port.
    pub host_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    pub volume: String,
    pub target: String,
}

/// What every container of the bundle runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardening {
    pub no_new_privileges: bool,
    /// Capabilities dropped (`ALL`).
    pub cap_drop: Vec<String>,
    pub memory_bytes: i64,
    pub pids_limit: i64,
    pub user: String,
    pub init: bool,
}

impl Default for Hardening {
    fn default() -> Self {
        Hardening {
            no_new_privileges: true,
            cap_drop: vec!["ALL".to_owned()],
            // The gateway uses about 900 MB once ready.
            memory_bytes: 2 * 1024 * 1024 * 1024,
            pids_limit: 512,
            user: RUN_AS.to_owned(),
            init: true,
        }
    }
}

/// One container of the bundle. The gateway token is not part of it: it is added to the
/// environment only when the container is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `gateway` or `cli`.
    pub role: &'static str,
    pub need: Need,
    /// The container name, as a compose user would recognise it.
    pub container_name: String,
    pub image: String,
    /// Replaces the image's entrypoint (`openclaw`) when set.
    pub entrypoint: Option<Vec<String>>,
    pub command: Vec<String>,
    pub network: NetworkMode,
    pub ports: Vec<PortBinding>,
    pub mounts: Vec<VolumeMount>,
    /// Whether the gateway token goes into this component's environment.
    pub needs_token: bool,
    pub labels: BTreeMap<String, String>,
    pub hardening: Hardening,
}

/// The standard OpenClaw deployment of one instance, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub instance_id: String,
    pub version: String,
    pub image: String,
    pub network: String,
    pub data_volume: String,
    pub workspace_volume: String,
    pub gateway: Component,
    pub cli: Option<Component>,
}

impl Bundle {
    /// The bundle of instance `instance_id` at `version`, from the image repository
    /// `repository` (None: the local one), with or without the CLI component.
    pub fn new(instance_id: &str, version: &str, repository: Option<&str>, with_cli: bool) -> Result<Self> {
        let version = validate_version(version)?;
        let image = image_reference(&version, repository)?;
        let short: String = instance_id.chars().filter(|c| c.is_ascii_alphanumeric()).take(12).collect();
        if short.is_empty() {
            return Err(Error::invalid("instance_id", "must contain letters or digits"));
        }
        let prefix = format!("openclaw-{short}");
        let network = format!("{prefix}-net");
        let data_volume = format!("{prefix}-data");
        let workspace_volume = format!("{prefix}-workspace");
        let mounts = vec![
            VolumeMount { volume: data_volume.clone(), target: DATA_DIR.to_owned() },
            VolumeMount { volume: workspace_volume.clone(), target: WORKSPACE_DIR.to_owned() },
        ];
        let labels = |role: &str| {
            BTreeMap::from([
                (LABEL_MANAGED.to_owned(), "true".to_owned()),
                (LABEL_INSTANCE.to_owned(), instance_id.to_owned()),
                (LABEL_COMPONENT.to_owned(), role.to_owned()),
                (LABEL_IMAGE_VERSION.to_owned(), version.clone()),
            ])
        };
        let gateway_name = format!("{prefix}-gateway");
        let gateway = Component {
            role: "gateway",
            need: Need::Required,
            container_name: gateway_name.clone(),
            image: image.clone(),
            entrypoint: None,
            command: ["gateway", "run", "--allow-unconfigured", "--bind", "lan", "--port", "18789", "--auth", "token"]
                .map(str::to_owned)
                .to_vec(),
            network: NetworkMode::Bridge(network.clone()),
            ports: vec![PortBinding { container_port: GATEWAY_PORT, host_ip: "127.0.0.1".to_owned(), host_port: None }],
            mounts: mounts.clone(),
            needs_token: true,
            labels: labels("gateway"),
            hardening: Hardening::default(),
        };
        let cli = with_cli.then(|| Component {
            role: "cli",
            need: Need::Optional,
            container_name: format!("{prefix}-cli"),
            image: image.clone(),
            // A post-start tool: it idles until a read command is run in it.
            entrypoint: Some(vec!["sleep".to_owned()]),
            command: vec!["2147483647".to_owned()],
            network: NetworkMode::ShareWith(gateway_name),
            ports: Vec::new(),
            mounts,
            needs_token: true,
            labels: labels("cli"),
            hardening: Hardening { memory_bytes: 1024 * 1024 * 1024, pids_limit: 256, ..Hardening::default() },
        });
        Ok(Bundle { instance_id: instance_id.to_owned(), version, image, network, data_volume, workspace_volume, gateway, cli })
    }

    /// Publishes the gateway on a fixed loopback port of the node instead of a free one.
    pub fn with_gateway_port(mut self, port: u16) -> Result<Self> {
        validate_host_port(port)?;
        for p in &mut self.gateway.ports {
            p.host_port = Some(port);
        }
        Ok(self)
    }

    /// The components, required first.
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        std::iter::once(&self.gateway).chain(self.cli.as_ref())
    }
}

/// What discovery concluded about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// At least one sign says this is OpenClaw.
    pub likely_openclaw: bool,
    /// The instance it belongs to, when it carries our own labels.
    pub managed_instance: Option<String>,
    /// The signs found, in plain English.
    pub reasons: Vec<String>,
    /// The OpenClaw version, from the image label or tag; None when neither tells.
    pub version: Option<String>,
}

/// Classifies a container as likely OpenClaw (and says why), and as managed by us or not.
pub fn classify(c: &Container) -> Classification {
    let mut reasons = Vec::new();
    let image = c.image.to_ascii_lowercase();
    if image.contains("openclaw") {
        reasons.push(format!("its image {} is named openclaw", c.image));
    }
    let name = c.name.trim_start_matches('/');
    if name == "openclaw-gateway" || name.ends_with("-openclaw-gateway") || name.starts_with("openclaw-gateway-") {
        reasons.push(format!("it is named {name}, like the standard gateway service"));
    } else if name.starts_with("openclaw-cell-") {
        reasons.push(format!("it is named {name}, like an openclaw fleet cell"));
    }
    if let Some(label) = c.labels.keys().find(|k| k.starts_with("openclaw.fleet.")) {
        reasons.push(format!("it carries the openclaw fleet label {label}"));
    }
    if c.ports.iter().any(|p| p.container_port == GATEWAY_PORT) {
        reasons.push(format!("it publishes port {GATEWAY_PORT}, the gateway port"));
    }
    if c.mounts.iter().any(|m| m.destination.trim_end_matches('/') == DATA_DIR) {
        reasons.push(format!("it mounts {DATA_DIR}, where OpenClaw keeps its state"));
    }
    let managed_instance = match (c.labels.get(LABEL_MANAGED).map(String::as_str), c.labels.get(LABEL_INSTANCE)) {
        (Some("true"), Some(id)) if !id.trim().is_empty() => Some(id.trim().to_owned()),
        _ => None,
    };
    Classification { likely_openclaw: !reasons.is_empty(), managed_instance, reasons, version: version_of(c) }
}

/// The OpenClaw version of a container: its image label, else a CalVer image tag.
pub fn version_of(c: &Container) -> Option<String> {
    if let Some(v) = c.labels.get(LABEL_IMAGE_VERSION).and_then(|v| validate_version(v).ok()) {
        return Some(v);
    }
    let last = c.image.rsplit('/').next()?;
    let (_, tag) = last.split_once(':')?;
    // Official dated tags look like 2026.8.1-r20260820: the version is before the dash.
    let tag = tag.split('-').next().unwrap_or(tag);
    validate_version(tag).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::{ContainerMount, PublishedPort};

    fn container(name: &str, image: &str) -> Container {
        Container {
            id: "c1".into(),
            name: name.into(),
            image: image.into(),
            state: "running".into(),
            health: None,
            labels: BTreeMap::new(),
            ports: Vec::new(),
            mounts: Vec::new(),
        }
    }

    #[test]
    fn the_bundle_is_the_standard_deployment() {
        let b = Bundle::new("01JABCDEF0123456789", "2026.9.6", None, true).unwrap();
        assert_eq!(b.image, "anthropy/openclaw:2026.9.6");
        assert_eq!(b.gateway.need, Need::Required);
        assert_eq!(b.gateway.ports, vec![PortBinding { container_port: 18789, host_ip: "127.0.0.1".into(), host_port: None }]);
        assert!(b.gateway.command.join(" ").starts_with("gateway run --allow-unconfigured --bind lan --port 18789 --auth token"));
        assert_eq!(b.gateway.mounts.iter().map(|m| m.target.as_str()).collect::<Vec<_>>(), vec![DATA_DIR, WORKSPACE_DIR]);
        assert_ne!(b.data_volume, b.workspace_volume);
        let cli = b.cli.as_ref().unwrap();
        assert_eq!(cli.need, Need::Optional);
        assert_eq!(cli.network, NetworkMode::ShareWith(b.gateway.container_name.clone()));
        assert!(cli.ports.is_empty());
        for c in b.components() {
            assert!(c.hardening.no_new_privileges);
            assert_eq!(c.hardening.cap_drop, vec!["ALL".to_owned()]);
            assert!(c.hardening.memory_bytes > 0 && c.hardening.pids_limit > 0);
            assert_eq!(c.hardening.user, "1000:1000");
            assert_eq!(c.labels.get(LABEL_MANAGED).map(String::as_str), Some("true"));
            assert_eq!(c.labels.get(LABEL_INSTANCE).map(String::as_str), Some("01JABCDEF0123456789"));
        }
        // What the agent creates is recognised as managed by discovery.
        let mut seen = container(&b.gateway.container_name, &b.image);
        seen.labels = b.gateway.labels.clone();
        let class = classify(&seen);
        assert!(class.likely_openclaw);
        assert_eq!(class.managed_instance.as_deref(), Some("01JABCDEF0123456789"));
        assert_eq!(class.version.as_deref(), Some("2026.9.6"));
        assert!(Bundle::new("01J", "2026.9.6", None, false).unwrap().cli.is_none());
    }

    #[test]
    fn the_image_is_pinned_by_version_and_configurable() {
        assert_eq!(image_reference("2026.9.6", Some("registry.example/openclaw/openclaw")).unwrap(), "registry.example/openclaw/openclaw:2026.9.6");
        assert_eq!(image_reference("2026.9.6", Some("registry.local:5000/oc")).unwrap(), "registry.local:5000/oc:2026.9.6");
        assert_eq!(image_reference("2026.9.6", Some("  ")).unwrap(), "anthropy/openclaw:2026.9.6");
        assert!(image_reference("2026.9.6", Some("registry.example/openclaw/openclaw:latest")).is_err());
        assert!(image_reference("2026.9.6", Some("x@sha256:abc")).is_err());
        assert!(image_reference("2026.9.6", Some("a b")).is_err());
        for bad in ["latest", "2026.9", "26.9.6", "2026.9.6; rm", "", "2026.x.1"] {
            assert!(validate_version(bad).is_err(), "{bad}");
        }
        assert_eq!(DEFAULT_VERSION, validate_version(DEFAULT_VERSION).unwrap());
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let t = GatewayToken::generate();
        assert!(t.expose().len() > 20);
        assert_ne!(t, GatewayToken::generate());
        let shown = format!("{t:?}");
        assert!(!shown.contains(t.expose()));
        assert_eq!(shown, "GatewayToken(hidden)");
    }

    #[test]
    fn each_sign_of_openclaw_is_a_reason() {
        let plain = container("web", "nginx:1.27");
        let c = classify(&plain);
        assert!(!c.likely_openclaw && c.reasons.is_empty() && c.managed_instance.is_none() && c.version.is_none());

        let by_image = classify(&container("x", "registry.example/openclaw/openclaw:2026.8.1-r20260820"));
        assert!(by_image.likely_openclaw);
        assert_eq!(by_image.reasons.len(), 1);
        assert!(by_image.reasons[0].contains("image"));
        assert_eq!(by_image.version.as_deref(), Some("2026.8.1"));

        assert!(classify(&container("openclaw-gateway", "custom:1")).reasons[0].contains("standard gateway"));
        assert!(classify(&container("/openclaw-cell-acme", "custom:1")).reasons[0].contains("fleet cell"));

        let mut labelled = container("x", "custom:1");
        labelled.labels.insert("openclaw.fleet.tenant".into(), "acme".into());
        assert!(classify(&labelled).reasons[0].contains("openclaw.fleet.tenant"));

        let mut port = container("x", "custom:1");
        port.ports.push(PublishedPort { container_port: 18789, host_port: Some(40000), host_ip: Some("127.0.0.1".into()), protocol: "tcp".into() });
        assert!(classify(&port).reasons[0].contains("18789"));

        let mut mount = container("x", "custom:1");
        mount.mounts.push(ContainerMount { kind: "volume".into(), source: "v".into(), destination: "/home/node/.openclaw/".into() });
        assert!(classify(&mount).reasons[0].contains("/home/node/.openclaw"));

        let mut all = container("openclaw-gateway", "anthropy/openclaw:2026.9.6");
        all.ports = port.ports.clone();
        all.mounts = mount.mounts.clone();
        all.labels = labelled.labels.clone();
        assert_eq!(classify(&all).reasons.len(), 5);

        let mut half_managed = container("openclaw-gateway", "anthropy/openclaw:2026.9.6");
        half_managed.labels.insert(LABEL_MANAGED.into(), "true".into());
        assert!(classify(&half_managed).managed_instance.is_none(), "the managed label alone names no instance");
        half_managed.labels.insert(LABEL_INSTANCE.into(), "i-1".into());
        assert_eq!(classify(&half_managed).managed_instance.as_deref(), Some("i-1"));
    }
}
