//! OpenClaw on this node: deploy the bundle, check an instance's health, restart its
//! gateway, remove its containers (keeping the volumes). The bundle comes from the core
//! (`works_core::openclaw::Bundle`), so the server and the agent agree on every name.
//!
//! A deploy creates, in order, the instance's network, its volumes, the gateway
//! container and (optionally) the CLI container, each labelled as managed and grouped by
//! instance, then waits for the gateway's `/healthz`. Anything that fails undoes what
//! this attempt created, so a failed deploy leaves no half-created objects; what
//! existed before the attempt (a retry by a person) is reused, not replaced.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountTypeEnum, NetworkCreateRequest, PortBinding, VolumeCreateOptions};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, RemoveContainerOptions, RestartContainerOptions,
    StopContainerOptions,
};
use serde_json::json;
use works_core::lifecycle::{
    ComponentStatus, DeployParams, DeployResult, InstanceHealth, InstanceParams, Probe, Readiness, ReadinessCheck, ReadinessParams, RemoveResult,
    RestartResult, MIN_DISK_BYTES, MIN_MEMORY_BYTES,
};
use works_core::openclaw::{self, Bundle, Component, GatewayToken, NetworkMode, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED};
use works_core::{Job, JobReport};

use crate::docker::{Engine, EngineError};
use crate::runner::Agent;

/// How long the gateway has to answer `/healthz` after it starts (it takes about 35 s
/// on two cores).
pub const READY_WAIT: Duration = Duration::from_secs(300);
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

fn failed(reason: impl Into<String>) -> JobReport {
    JobReport { succeeded: false, result: None, output: None, reason: Some(reason.into()) }
}

fn ok(result: serde_json::Value, output: String) -> JobReport {
    JobReport { succeeded: true, result: Some(result), output: Some(output), reason: None }
}

fn params<T: serde::de::DeserializeOwned>(job: &Job, what: &str) -> Result<T, JobReport> {
    serde_json::from_value(job.params.clone()).map_err(|e| {
        failed(format!(
            "This {what} job does not name an OpenClaw instance the way the server creates them ({e}). Request it from the instance's page or with `works instance`."
        ))
    })
}

/// What one deploy attempt created, to undo it if the attempt fails.
#[derive(Default)]
struct Created {
    network: Option<String>,
    volumes: Vec<String>,
    containers: Vec<String>,
}

/// Deploys the bundle of a deploy job and waits for `/healthz`.
pub async fn deploy(agent: &Agent, job: &Job) -> JobReport {
    let p: DeployParams = match params(job, "deploy") {
        Ok(p) => p,
        Err(report) => return report,
    };
    let bundle = match p.bundle() {
        Ok(b) => b,
        Err(e) => return failed(format!("The deploy parameters are not valid: {e}")),
    };
    let engine = &agent.engine;
    let mut log = Vec::new();
    // Readiness first: nothing is created on a node that is not ready. A retry may find
    // its own gateway holding the fixed port: that is not a problem.
    let own_gateway = engine.container_id(&bundle.gateway.container_name).await.ok().flatten().is_some();
    let port = if own_gateway { None } else { bundle.gateway.ports.first().and_then(|p| p.host_port) };
    let ready = check_readiness(engine, &bundle.image, port).await;
    if !ready.ready {
        return JobReport {
            succeeded: false,
            result: Some(json!({ "readiness": ready })),
            output: Some(ready.text()),
            reason: Some(format!(
                "The node is not ready for OpenClaw: {}. Nothing was created.",
                ready.checks.iter().filter(|c| !c.ok).map(|c| c.message.trim_end_matches('.')).collect::<Vec<_>>().join("; ")
            )),
        };
    }
    log.push(ready.text().trim_end().to_owned());
    let token = match agent.client.gateway_token(&job.id).await {
        Ok(t) => t,
        Err(e) => return failed(format!("The server did not hand over the gateway token: {e} Nothing was created.")),
    };
    let mut created = Created::default();
    let outcome = create_bundle(engine, &bundle, &token, &mut created, &mut log).await;
    drop(token);
    let outcome = match outcome {
        Ok(container_id) => wait_ready(engine, &bundle.gateway.container_name, READY_WAIT).await.map(|health| (container_id, health)),
        Err(e) => Err(e),
    };
    match outcome {
        Ok((container_id, health)) => {
            log.push(health.summary.clone());
            let result = DeployResult { container_id, container_name: bundle.gateway.container_name.clone(), version: bundle.version.clone(), health };
            ok(serde_json::to_value(&result).unwrap_or_default(), log.join("\n") + "\n")
        }
        Err(why) => {
            let undone = undo(engine, &created).await;
            failed(format!("{why} {undone}"))
        }
    }
}

async fn create_bundle(
    engine: &Engine,
    bundle: &Bundle,
    token: &GatewayToken,
    created: &mut Created,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let labels = |component: Option<&str>| {
        let mut l = HashMap::from([
            (LABEL_MANAGED.to_owned(), "true".to_owned()),
            (LABEL_INSTANCE.to_owned(), bundle.instance_id.clone()),
        ]);
        if let Some(c) = component {
            l.insert(LABEL_COMPONENT.to_owned(), c.to_owned());
        }
        l
    };
    if engine.create_network(&bundle.network, labels(None)).await.map_err(|e| format!("The network {} could not be created: {e}", bundle.network))? {
        created.network = Some(bundle.network.clone());
        log.push(format!("Created network {}.", bundle.network));
    } else {
        log.push(format!("Network {} already exists; reused.", bundle.network));
    }
    for volume in [&bundle.data_volume, &bundle.workspace_volume] {
        if engine.create_volume(volume, labels(None)).await.map_err(|e| format!("The volume {volume} could not be created: {e}"))? {
            created.volumes.push(volume.clone());
            log.push(format!("Created volume {volume}."));
        } else {
            log.push(format!("Volume {volume} already exists; reused."));
        }
    }
    let mut gateway_id = String::new();
    for component in bundle.components() {
        let id = match engine.container_id(&component.container_name).await.map_err(|e| e.to_string())? {
            Some(id) => {
                log.push(format!("Container {} already exists; reused.", component.container_name));
                id
            }
            None => {
                let id = engine
                    .create_component(component, token)
                    .await
                    .map_err(|e| format!("The {} container {} could not be created: {e}", component.role, component.container_name))?;
                created.containers.push(component.container_name.clone());
                log.push(format!("Created container {}.", component.container_name));
                id
            }
        };
        engine
            .start(&component.container_name)
            .await
            .map_err(|e| format!("The {} container {} could not be started: {e}", component.role, component.container_name))?;
        if component.role == "gateway" {
            gateway_id = id;
        }
    }
    Ok(gateway_id)
}

/// Removes what a failed attempt created, newest first. Says what was undone.
async fn undo(engine: &Engine, created: &Created) -> String {
    let mut problems = Vec::new();
    for name in created.containers.iter().rev() {
        if let Err(e) = engine.remove_container(name).await {
            problems.push(format!("container {name}: {e}"));
        }
    }
    for volume in &created.volumes {
        if let Err(e) = engine.remove_volume(volume).await {
            problems.push(format!("volume {volume}: {e}"));
        }
    }
    if let Some(network) = &created.network {
        if let Err(e) = engine.remove_network(network).await {
            problems.push(format!("network {network}: {e}"));
        }
    }
    let made = created.containers.len() + created.volumes.len() + usize::from(created.network.is_some());
    if !problems.is_empty() {
        format!("Removing what this attempt created failed for {}; remove them by hand.", problems.join("; "))
    } else if made == 0 {
        "Nothing was created.".to_owned()
    } else {
        format!("The {made} objects this attempt created were removed; nothing was left on the node.")
    }
}

/// Waits for the gateway to answer `/healthz`, while its container keeps running.
async fn wait_ready(engine: &Engine, gateway: &str, within: Duration) -> Result<InstanceHealth, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let state = engine.container_state(gateway).await.map_err(|e| e.to_string())?;
        if state.as_deref() != Some("running") {
            let tail = engine.logs(gateway, 20).await.unwrap_or_default();
            return Err(format!(
                "The gateway container {gateway} stopped ({}) before it was ready. Its last lines:\n{tail}",
                state.unwrap_or_else(|| "missing".into())
            ));
        }
        let health = measure(engine, gateway, &[]).await;
        if health.healthy {
            return Ok(health);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "The gateway did not answer /healthz within {} seconds ({}).",
                within.as_secs(),
                health.healthz.detail
            ));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The health of an instance: its containers (by label, plus the gateway by id or
/// name), `/healthz` and `/readyz` on the gateway's published port.
async fn measure(engine: &Engine, gateway: &str, others: &[(String, String, bool)]) -> InstanceHealth {
    let mut components = Vec::new();
    let gateway_state = engine.container_state(gateway).await.ok().flatten();
    components.push(ComponentStatus {
        role: "gateway".into(),
        container_name: gateway.to_owned(),
        required: true,
        state: gateway_state.clone().unwrap_or_else(|| "missing".into()),
        health: None,
    });
    for (role, name, required) in others {
        let state = engine.container_state(name).await.ok().flatten();
        components.push(ComponentStatus {
            role: role.clone(),
            container_name: name.clone(),
            required: *required,
            state: state.unwrap_or_else(|| "missing".into()),
            health: None,
        });
    }
    let port = match gateway_state.as_deref() {
        Some("running") => engine.published_port(gateway, openclaw::GATEWAY_PORT).await.ok().flatten(),
        _ => None,
    };
    let (healthz, readyz) = match port {
        Some(port) => (probe(port, "/healthz").await, probe(port, "/readyz").await),
        None => {
            let why = if gateway_state.as_deref() == Some("running") {
                format!("the gateway port {} is not published on this node", openclaw::GATEWAY_PORT)
            } else {
                "the gateway is not running".to_owned()
            };
            (Probe { ok: false, status: None, detail: why.clone() }, Probe { ok: false, status: None, detail: why })
        }
    };
    InstanceHealth::judge(components, healthz, readyz, port)
}

async fn probe(port: u16, path: &str) -> Probe {
    let client = match reqwest::Client::builder().timeout(PROBE_TIMEOUT).no_proxy().build() {
        Ok(c) => c,
        Err(e) => return Probe { ok: false, status: None, detail: format!("no HTTP client: {e}") },
    };
    match client.get(format!("http://127.0.0.1:{port}{path}")).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: String = r.text().await.unwrap_or_default().chars().take(300).collect();
            Probe { ok: (200..300).contains(&status), status: Some(status), detail: body }
        }
        Err(e) => Probe { ok: false, status: None, detail: format!("no answer on 127.0.0.1:{port}{path}: {}", innermost(&e)) },
    }
}

fn innermost(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = c.to_string();
        cause = c.source();
    }
    text
}

/// The gateway of an instance job: by id when known, else by name.
fn gateway_ref(p: &InstanceParams) -> String {
    p.container_id.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| p.container_name.clone())
}

/// The other containers of an instance, by our labels: (role, name, required).
async fn companions(engine: &Engine, instance_id: &str, gateway: &str) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    if let Ok(list) = engine.labelled(instance_id).await {
        for (name, role) in list {
            if name != gateway && role != "gateway" {
                out.push((role, name, false));
            }
        }
    }
    out
}

/// Checks what a deploy needs: the engine answers, the image is here, the port (if a
/// fixed one is wanted) is free, and the engine's disk and the machine's memory suffice.
pub async fn check_readiness(engine: &Engine, image: &str, port: Option<u16>) -> Readiness {
    let check = |check: &str, ok: bool, message: String| ReadinessCheck { check: check.to_owned(), ok, message };
    let mut checks = Vec::new();
    let root = match engine.info().await {
        Ok((version, root)) => {
            checks.push(check("docker", true, format!("Docker {version} answers at {}.", engine.host())));
            Some(root)
        }
        Err(e) => {
            checks.push(check("docker", false, format!("{e}")));
            return Readiness::of(checks);
        }
    };
    checks.push(match engine.image_present(image).await {
        Ok(true) => check("image", true, format!("The image {image} is on this node.")),
        Ok(false) => check(
            "image",
            false,
            format!("The image {image} is not on this node, and the agent does not pull images. Build it with scripts/openclaw-image, or pull or load it, then try again."),
        ),
        Err(e) => check("image", false, e.to_string()),
    });
    checks.push(match port {
        None => check("port", true, "No fixed port: the gateway is published on a free loopback port picked at deploy.".to_owned()),
        Some(p) => match std::net::TcpListener::bind(("127.0.0.1", p)) {
            Ok(_) => check("port", true, format!("Port {p} on 127.0.0.1 is free.")),
            Err(e) => check("port", false, format!("Port {p} on 127.0.0.1 is in use ({e}). Choose another port, or stop what uses it.")),
        },
    });
    let gib = |b: u64| b as f64 / (1024.0 * 1024.0 * 1024.0);
    let root = root.filter(|r| std::path::Path::new(r).exists()).unwrap_or_else(|| "/".to_owned());
    checks.push(match crate::health::disk_space(std::path::Path::new(&root)) {
        Some((_, free)) if free >= MIN_DISK_BYTES => check("disk", true, format!("{:.1} GiB free where Docker keeps its data ({root}).", gib(free))),
        Some((_, free)) => check(
            "disk",
            false,
            format!("Only {:.1} GiB free where Docker keeps its data ({root}); a deploy needs {:.0} GiB. Free some space.", gib(free), gib(MIN_DISK_BYTES)),
        ),
        None => check("disk", false, format!("The free space of {root} could not be read.")),
    });
    let health = crate::health::machine_health();
    checks.push(if health.memory_available_bytes >= MIN_MEMORY_BYTES {
        check("memory", true, format!("{:.1} GiB of memory available.", gib(health.memory_available_bytes)))
    } else {
        check(
            "memory",
            false,
            format!("Only {:.1} GiB of memory available; the gateway needs about {:.0} GiB.", gib(health.memory_available_bytes), gib(MIN_MEMORY_BYTES)),
        )
    });
    Readiness::of(checks)
}

/// `health_check` with readiness parameters: is this node ready for OpenClaw?
pub async fn readiness(agent: &Agent, job: &Job) -> JobReport {
    let p: ReadinessParams = match job.params.get("readiness").cloned().map(serde_json::from_value) {
        Some(Ok(p)) => p,
        _ => return failed("This readiness check has parameters this agent does not understand."),
    };
    let ready = check_readiness(&agent.engine, &p.image, p.gateway_port).await;
    let text = ready.text();
    ok(json!({ "readiness": ready }), text)
}

/// `health_check` of an instance.
pub async fn health(agent: &Agent, job: &Job) -> JobReport {
    let p: InstanceParams = match params(job, "health check") {
        Ok(p) => p,
        Err(report) => return report,
    };
    let engine = &agent.engine;
    if let Err(e) = engine.ping().await {
        return failed(e.to_string());
    }
    let gateway = match engine.container_name(&gateway_ref(&p)).await {
        Ok(Some(name)) => name,
        Ok(None) => p.container_name.clone(),
        Err(e) => return failed(e.to_string()),
    };
    let others = companions(engine, &p.instance_id, &gateway).await;
    let health = measure(engine, &gateway, &others).await;
    let output = format!("{}\n", health.summary);
    ok(json!({"instance": health}), output)
}

/// Restarts the gateway and waits for `/healthz` again.
pub async fn restart(agent: &Agent, job: &Job) -> JobReport {
    let p: InstanceParams = match params(job, "restart") {
        Ok(p) => p,
        Err(report) => return report,
    };
    let engine = &agent.engine;
    let target = gateway_ref(&p);
    let gateway = match engine.container_name(&target).await {
        Ok(Some(name)) => name,
        Ok(None) => return failed(format!("The gateway container {} is not on this node; nothing was restarted. Check the instance's health.", p.container_name)),
        Err(e) => return failed(e.to_string()),
    };
    if let Err(e) = engine.restart(&gateway).await {
        return failed(format!("The gateway container {gateway} could not be restarted: {e}"));
    }
    match wait_ready(engine, &gateway, READY_WAIT).await {
        Ok(health) => {
            let container_id = engine.container_id(&gateway).await.ok().flatten().unwrap_or_default();
            let output = format!("Restarted {gateway}.\n{}\n", health.summary);
            ok(serde_json::to_value(RestartResult { container_id, health }).unwrap_or_default(), output)
        }
        Err(why) => failed(format!("The gateway was restarted but is not healthy: {why}")),
    }
}

/// Stops and deletes the instance's containers and its network; keeps its volumes.
pub async fn remove(agent: &Agent, job: &Job) -> JobReport {
    let p: InstanceParams = match params(job, "remove") {
        Ok(p) => p,
        Err(report) => return report,
    };
    let engine = &agent.engine;
    if let Err(e) = engine.ping().await {
        return failed(e.to_string());
    }
    let mut names: Vec<String> = match engine.labelled(&p.instance_id).await {
        Ok(list) => list.into_iter().map(|(name, _)| name).collect(),
        Err(e) => return failed(e.to_string()),
    };
    if let Ok(Some(name)) = engine.container_name(&gateway_ref(&p)).await {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    // The CLI shares the gateway's network namespace: remove it first.
    names.sort_by_key(|n| n.contains("gateway"));
    let mut volumes = Vec::new();
    for name in &names {
        match engine.volumes_of(name).await {
            Ok(v) => volumes.extend(v),
            Err(e) => return failed(format!("The container {name} could not be inspected: {e}; nothing was removed.")),
        }
    }
    volumes.sort();
    volumes.dedup();
    let mut removed = Vec::new();
    for name in &names {
        if let Err(e) = engine.stop(name).await {
            return failed(format!("The container {name} could not be stopped: {e}. Removed so far: {}.", list_or_none(&removed)));
        }
        if let Err(e) = engine.remove_container(name).await {
            return failed(format!("The container {name} could not be deleted: {e}. Removed so far: {}.", list_or_none(&removed)));
        }
        removed.push(name.clone());
    }
    let network = Bundle::new(&p.instance_id, openclaw::DEFAULT_VERSION, None, false).map(|b| b.network).ok();
    if let Some(network) = network {
        if let Err(e) = engine.remove_network(&network).await {
            tracing::warn!(network, error = %e, "the instance network could not be removed");
        }
    }
    let mut kept = Vec::new();
    for v in volumes {
        if engine.volume_exists(&v).await.unwrap_or(false) {
            kept.push(v);
        }
    }
    let output = format!("Removed {}.\nKept volumes: {}.\n", list_or_none(&removed), list_or_none(&kept));
    ok(serde_json::to_value(RemoveResult { removed, volumes_kept: kept }).unwrap_or_default(), output)
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

// ---------------------------------------------------------------------------------------
// The engine calls the bundle needs
// ---------------------------------------------------------------------------------------

impl Engine {
    /// The engine's version and where it keeps its data.
    pub async fn info(&self) -> Result<(String, String), EngineError> {
        let docker = self.client().await?;
        match docker.info().await {
            Ok(i) => Ok((i.server_version.unwrap_or_else(|| "(version unknown)".into()), i.docker_root_dir.unwrap_or_else(|| "/".into()))),
            Err(e) => Err(self.failed(e).await),
        }
    }

    pub async fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        let docker = self.client().await?;
        match docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// Creates a network unless it exists. True when this call created it.
    async fn create_network(&self, name: &str, labels: HashMap<String, String>) -> Result<bool, EngineError> {
        let docker = self.client().await?;
        match docker.inspect_network(name, None::<bollard::query_parameters::InspectNetworkOptions>).await {
            Ok(_) => return Ok(false),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => return Err(self.failed(e).await),
        }
        let request = NetworkCreateRequest { name: name.to_owned(), driver: Some("bridge".into()), labels: Some(labels), ..Default::default() };
        match docker.create_network(request).await {
            Ok(_) => Ok(true),
            Err(e) => Err(self.failed(e).await),
        }
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        let docker = self.client().await?;
        match docker.remove_network(name).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// Creates a volume unless it exists. True when this call created it.
    async fn create_volume(&self, name: &str, labels: HashMap<String, String>) -> Result<bool, EngineError> {
        if self.volume_exists(name).await? {
            return Ok(false);
        }
        let docker = self.client().await?;
        let options = VolumeCreateOptions { name: Some(name.to_owned()), labels: Some(labels), ..Default::default() };
        match docker.create_volume(options).await {
            Ok(_) => Ok(true),
            Err(e) => Err(self.failed(e).await),
        }
    }

    pub async fn volume_exists(&self, name: &str) -> Result<bool, EngineError> {
        let docker = self.client().await?;
        match docker.inspect_volume(name).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(e) => Err(self.failed(e).await),
        }
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        let docker = self.client().await?;
        match docker.remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    async fn inspect(&self, container: &str) -> Result<Option<bollard::models::ContainerInspectResponse>, EngineError> {
        if !crate::docker::is_container_ref(container) {
            return Ok(None);
        }
        let docker = self.client().await?;
        match docker.inspect_container(container, None::<InspectContainerOptions>).await {
            Ok(c) => Ok(Some(c)),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// The id of a container, by name or id.
    pub async fn container_id(&self, container: &str) -> Result<Option<String>, EngineError> {
        Ok(self.inspect(container).await?.and_then(|c| c.id))
    }

    /// The name of a container, by name or id.
    pub async fn container_name(&self, container: &str) -> Result<Option<String>, EngineError> {
        Ok(self.inspect(container).await?.and_then(|c| c.name).map(|n| n.trim_start_matches('/').to_owned()))
    }

    /// The engine's state of a container (`running`, `exited`, …); None when it is gone.
    pub async fn container_state(&self, container: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .inspect(container)
            .await?
            .map(|c| c.state.and_then(|s| s.status).map(|s| s.to_string()).unwrap_or_else(|| "unknown".into())))
    }

    /// The loopback host port a container port is published on.
    pub async fn published_port(&self, container: &str, port: u16) -> Result<Option<u16>, EngineError> {
        let Some(c) = self.inspect(container).await? else { return Ok(None) };
        let bindings = c.network_settings.and_then(|n| n.ports).and_then(|p| p.get(&format!("{port}/tcp")).cloned().flatten());
        Ok(bindings.unwrap_or_default().into_iter().find_map(|b| b.host_port.and_then(|p| p.parse().ok())))
    }

    /// The named volumes a container mounts.
    async fn volumes_of(&self, container: &str) -> Result<Vec<String>, EngineError> {
        let Some(c) = self.inspect(container).await? else { return Ok(Vec::new()) };
        Ok(c.mounts
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.typ == Some(bollard::models::MountPointTypeEnum::VOLUME))
            .filter_map(|m| m.name)
            .collect())
    }

    /// The containers labelled as an instance's, running or not: (name, component).
    pub async fn labelled(&self, instance_id: &str) -> Result<Vec<(String, String)>, EngineError> {
        let docker = self.client().await?;
        let filters = HashMap::from([("label".to_owned(), vec![format!("{LABEL_INSTANCE}={instance_id}")])]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        match docker.list_containers(Some(options)).await {
            Ok(list) => Ok(list
                .into_iter()
                .filter_map(|c| {
                    let name = c.names.and_then(|n| n.into_iter().next())?.trim_start_matches('/').to_owned();
                    let role = c.labels.and_then(|l| l.get(LABEL_COMPONENT).cloned()).unwrap_or_default();
                    Some((name, role))
                })
                .collect()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// Creates one container of the bundle, hardened, with the token in its environment.
    async fn create_component(&self, c: &Component, token: &GatewayToken) -> Result<String, EngineError> {
        let docker = self.client().await?;
        let (network_mode, exposed, bindings) = match &c.network {
            NetworkMode::Bridge(net) => {
                let mut exposed = HashMap::new();
                let mut bindings = HashMap::new();
                for p in &c.ports {
                    let key = format!("{}/tcp", p.container_port);
                    exposed.insert(key.clone(), HashMap::new());
                    bindings.insert(
                        key,
                        Some(vec![PortBinding { host_ip: Some(p.host_ip.clone()), host_port: p.host_port.map(|h| h.to_string()).or(Some(String::new())) }]),
                    );
                }
                (net.clone(), Some(exposed), Some(bindings))
            }
            NetworkMode::ShareWith(other) => (format!("container:{other}"), None, None),
        };
        let mounts = c
            .mounts
            .iter()
            .map(|m| Mount { target: Some(m.target.clone()), source: Some(m.volume.clone()), typ: Some(MountTypeEnum::VOLUME), ..Default::default() })
            .collect();
        let env = if c.needs_token { vec![format!("{}={}", openclaw::TOKEN_ENV, token.expose())] } else { Vec::new() };
        let body = ContainerCreateBody {
            image: Some(c.image.clone()),
            entrypoint: c.entrypoint.clone(),
            cmd: Some(c.command.clone()),
            env: Some(env),
            user: Some(c.hardening.user.clone()),
            labels: Some(c.labels.clone().into_iter().collect()),
            exposed_ports: exposed,
            host_config: Some(HostConfig {
                network_mode: Some(network_mode),
                port_bindings: bindings,
                mounts: Some(mounts),
                security_opt: c.hardening.no_new_privileges.then(|| vec!["no-new-privileges:true".to_owned()]),
                cap_drop: Some(c.hardening.cap_drop.clone()),
                memory: Some(c.hardening.memory_bytes),
                pids_limit: Some(c.hardening.pids_limit),
                init: Some(c.hardening.init),
                restart_policy: Some(bollard::models::RestartPolicy {
                    name: Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(c.container_name.clone()), ..Default::default() };
        match docker.create_container(Some(options), body).await {
            Ok(r) => Ok(r.id),
            Err(e) => Err(self.failed(e).await),
        }
    }

    async fn start(&self, container: &str) -> Result<(), EngineError> {
        let docker = self.client().await?;
        match docker.start_container(container, None::<bollard::query_parameters::StartContainerOptions>).await {
            // 304: already running.
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    async fn restart(&self, container: &str) -> Result<(), EngineError> {
        let docker = self.client().await?;
        match docker.restart_container(container, Some(RestartContainerOptions { t: Some(10), ..Default::default() })).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    async fn stop(&self, container: &str) -> Result<(), EngineError> {
        let docker = self.client().await?;
        match docker.stop_container(container, Some(StopContainerOptions { t: Some(10), ..Default::default() })).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304 | 404, .. }) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// Deletes a container; its volumes stay.
    async fn remove_container(&self, container: &str) -> Result<(), EngineError> {
        let docker = self.client().await?;
        let options = RemoveContainerOptions { force: true, v: false, ..Default::default() };
        match docker.remove_container(container, Some(options)).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }
}
