//! The records of nodes, their agents and their jobs, as frozen Python objects, in
//! the style of `records.rs`: read-only attributes, equality, hashing, a readable `repr`
//! that leaves secrets out. Collections come out as new Python objects on every read
//! (labels and JSON documents as dicts, ports and mounts as tuples), so a record
//! cannot be changed through them.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde_json::Value;

use crate::json;
use crate::records::{flag, q, q_opt, when, when_opt};

/// What a node's agent reported about its machine at its last check-in.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq)]
pub struct NodeHealth {
    /// Seconds since the machine started.
    #[pyo3(get)]
    pub uptime_secs: u64,
    /// The one-minute load average.
    #[pyo3(get)]
    pub load1: f64,
    /// Memory in all, in bytes.
    #[pyo3(get)]
    pub memory_total_bytes: u64,
    /// Memory available, in bytes.
    #[pyo3(get)]
    pub memory_available_bytes: u64,
    /// Disk space in all, in bytes.
    #[pyo3(get)]
    pub disk_total_bytes: u64,
    /// Disk space available, in bytes.
    #[pyo3(get)]
    pub disk_available_bytes: u64,
    /// The version of the agent.
    #[pyo3(get)]
    pub agent_version: String,
    /// True when the agent could reach Docker.
    #[pyo3(get)]
    pub docker_reachable: bool,
    /// Docker's version, when it was reached.
    #[pyo3(get)]
    pub docker_version: Option<String>,
}

// Equal records hash alike: the load average is left out of the hash (a float).
impl Eq for NodeHealth {}

impl Hash for NodeHealth {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uptime_secs.hash(state);
        self.memory_total_bytes.hash(state);
        self.memory_available_bytes.hash(state);
        self.disk_total_bytes.hash(state);
        self.disk_available_bytes.hash(state);
        self.agent_version.hash(state);
        self.docker_reachable.hash(state);
        self.docker_version.hash(state);
    }
}

#[pymethods]
impl NodeHealth {
    fn __repr__(&self) -> String {
        format!(
            "NodeHealth(uptime_secs={}, load1={}, memory_available_bytes={}, disk_available_bytes={}, agent_version={}, docker_reachable={}, docker_version={})",
            self.uptime_secs,
            self.load1,
            self.memory_available_bytes,
            self.disk_available_bytes,
            q(&self.agent_version),
            flag(self.docker_reachable),
            q_opt(&self.docker_version)
        )
    }
}

impl From<works_core::NodeHealth> for NodeHealth {
    fn from(h: works_core::NodeHealth) -> Self {
        NodeHealth {
            uptime_secs: h.uptime_secs,
            load1: h.load1,
            memory_total_bytes: h.memory_total_bytes,
            memory_available_bytes: h.memory_available_bytes,
            disk_total_bytes: h.disk_total_bytes,
            disk_available_bytes: h.disk_available_bytes,
            agent_version: h.agent_version,
            docker_reachable: h.docker_reachable,
            docker_version: h.docker_version,
        }
    }
}

/// A machine the MSP manages, for a customer organization or as shared MSP
/// infrastructure. Its status comes from how long ago its agent last checked in.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Node {
    /// The node's id.
    #[pyo3(get)]
    pub id: String,
    /// A host-like name: letters, digits, dots, hyphens and underscores.
    #[pyo3(get)]
    pub name: String,
    /// The customer organization, or None for shared MSP infrastructure.
    #[pyo3(get)]
    pub org_id: Option<String>,
    /// `online`, `stale` or `offline`.
    #[pyo3(get)]
    pub status: String,
    /// Why the status is what it is, in plain English.
    #[pyo3(get)]
    pub status_reason: String,
    /// When the agent last checked in (UTC), or None if it never did.
    #[pyo3(get)]
    pub last_checkin_at: Option<DateTime<Utc>>,
    /// What the agent reported at its last check-in, or None.
    #[pyo3(get)]
    pub health: Option<NodeHealth>,
    /// When an agent was last enrolled for this node, or None.
    #[pyo3(get)]
    pub enrolled_at: Option<DateTime<Utc>>,
    /// When the node was retired, or None.
    #[pyo3(get)]
    pub retired_at: Option<DateTime<Utc>>,
    /// When it was added (UTC).
    #[pyo3(get)]
    pub created_at: DateTime<Utc>,
    /// When it last changed (UTC).
    #[pyo3(get)]
    pub updated_at: DateTime<Utc>,
}

#[pymethods]
impl Node {
    /// True once the node is retired.
    #[getter]
    fn retired(&self) -> bool {
        self.retired_at.is_some()
    }

    fn __repr__(&self) -> String {
        format!(
            "Node(id={}, name={}, org_id={}, status={}, status_reason={}, last_checkin_at={}, retired_at={})",
            q(&self.id),
            q(&self.name),
            q_opt(&self.org_id),
            q(&self.status),
            q(&self.status_reason),
            when_opt(&self.last_checkin_at),
            when_opt(&self.retired_at)
        )
    }
}

impl From<works_core::Node> for Node {
    fn from(n: works_core::Node) -> Self {
        Node {
            id: n.id,
            name: n.name,
            org_id: n.org_id,
            status: n.status.as_str().to_owned(),
            status_reason: n.status_reason,
            last_checkin_at: n.last_checkin_at,
            health: n.health.map(NodeHealth::from),
            enrolled_at: n.enrolled_at,
            retired_at: n.retired_at,
            created_at: n.created_at,
            updated_at: n.updated_at,
        }
    }
}

/// A port a container publishes.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublishedPort {
    /// The port inside the container.
    #[pyo3(get)]
    pub container_port: u16,
    /// The port on the machine, or None when it is not published there.
    #[pyo3(get)]
    pub host_port: Option<u16>,
    /// The address it is published on, or None.
    #[pyo3(get)]
    pub host_ip: Option<String>,
    /// `tcp` or `udp`.
    #[pyo3(get)]
    pub protocol: String,
}

#[pymethods]
impl PublishedPort {
    fn __repr__(&self) -> String {
        format!(
            "PublishedPort(container_port={}, host_port={}, host_ip={}, protocol={})",
            self.container_port,
            self.host_port.map(|p| p.to_string()).unwrap_or_else(|| "None".to_owned()),
            q_opt(&self.host_ip),
            q(&self.protocol)
        )
    }
}

impl From<works_core::PublishedPort> for PublishedPort {
    fn from(p: works_core::PublishedPort) -> Self {
        PublishedPort { container_port: p.container_port, host_port: p.host_port, host_ip: p.host_ip, protocol: p.protocol }
    }
}

/// A mount of a container.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ContainerMount {
    /// `bind`, `volume` or `tmpfs`.
    #[pyo3(get)]
    pub kind: String,
    /// The path on the machine, or the volume's name.
    #[pyo3(get)]
    pub source: String,
    /// The path inside the container.
    #[pyo3(get)]
    pub destination: String,
}

#[pymethods]
impl ContainerMount {
    fn __repr__(&self) -> String {
        format!("ContainerMount(kind={}, source={}, destination={})", q(&self.kind), q(&self.source), q(&self.destination))
    }
}

impl From<works_core::ContainerMount> for ContainerMount {
    fn from(m: works_core::ContainerMount) -> Self {
        ContainerMount { kind: m.kind, source: m.source, destination: m.destination }
    }
}

/// One container of a node, as its agent last reported it. Environment values are
/// never collected.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Container {
    /// Docker's id of the container.
    #[pyo3(get)]
    pub id: String,
    /// The container's name.
    #[pyo3(get)]
    pub name: String,
    /// The image it runs.
    #[pyo3(get)]
    pub image: String,
    /// Docker's state, e.g. `running` or `exited`.
    #[pyo3(get)]
    pub state: String,
    /// Docker's health check result (`healthy`, `unhealthy`, `starting`), or None.
    #[pyo3(get)]
    pub health: Option<String>,
    /// The container's labels, as a new dict on every read.
    #[pyo3(get)]
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PublishedPort>,
    pub mounts: Vec<ContainerMount>,
}

#[pymethods]
impl Container {
    /// The ports it publishes, as a tuple of `PublishedPort`.
    #[getter]
    fn ports<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.ports.iter().cloned())
    }

    /// Its mounts, as a tuple of `ContainerMount`.
    #[getter]
    fn mounts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.mounts.iter().cloned())
    }

    fn __repr__(&self) -> String {
        let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{}: {}", q(k), q(v))).collect();
        format!(
            "Container(id={}, name={}, image={}, state={}, health={}, labels={{{}}}, ports={}, mounts={})",
            q(&self.id),
            q(&self.name),
            q(&self.image),
            q(&self.state),
            q_opt(&self.health),
            labels.join(", "),
            self.ports.len(),
            self.mounts.len()
        )
    }
}

impl From<works_core::Container> for Container {
    fn from(c: works_core::Container) -> Self {
        Container {
            id: c.id,
            name: c.name,
            image: c.image,
            state: c.state,
            health: c.health,
            labels: c.labels,
            ports: c.ports.into_iter().map(PublishedPort::from).collect(),
            mounts: c.mounts.into_iter().map(ContainerMount::from).collect(),
        }
    }
}

/// A one-time enrollment token for a node's agent. `token` is the secret: give it to
/// `works agent enroll --token` on the machine. It works once, for a short time, is
/// stored only as a hash and cannot be shown again. It is left out of `repr`.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EnrollmentToken {
    /// The secret (`wke_…`), shown this once.
    #[pyo3(get)]
    pub token: String,
    /// The node it enrolls.
    #[pyo3(get)]
    pub node_id: String,
    /// When it stops working, if unused (UTC).
    #[pyo3(get)]
    pub expires_at: DateTime<Utc>,
}

#[pymethods]
impl EnrollmentToken {
    fn __repr__(&self) -> String {
        format!(
            "EnrollmentToken(node_id={}, expires_at={}, token=<secret, shown once: read .token>)",
            q(&self.node_id),
            when(&self.expires_at)
        )
    }
}

impl From<works_core::EnrollmentToken> for EnrollmentToken {
    fn from(t: works_core::EnrollmentToken) -> Self {
        EnrollmentToken { token: t.token, node_id: t.node_id, expires_at: t.expires_at }
    }
}

/// A unit of work for one node: requested, approved when risky, claimed and performed
/// by the node's agent, which reports how it ended.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq)]
pub struct Job {
    /// The job's id.
    #[pyo3(get)]
    pub id: String,
    /// The node it runs on.
    #[pyo3(get)]
    pub node_id: String,
    /// The node's organization, or None for shared MSP infrastructure.
    #[pyo3(get)]
    pub org_id: Option<String>,
    /// What it does, e.g. `health_check` or `restart`.
    #[pyo3(get)]
    pub kind: String,
    /// `safe` (read-only; may retry by itself) or `risky` (changes the machine; needs approval).
    #[pyo3(get)]
    pub risk: String,
    /// One of `requested`, `awaiting_approval`, `queued`, `claimed`, `running`,
    /// `succeeded`, `failed`, `timed_out`, `cancelled`.
    #[pyo3(get)]
    pub state: String,
    /// The state in plain words, e.g. "Waiting for approval".
    #[pyo3(get)]
    pub state_label: String,
    pub params: Value,
    /// How many times an agent has claimed it.
    #[pyo3(get)]
    pub attempts: u32,
    /// How many times it may be claimed in all.
    #[pyo3(get)]
    pub max_attempts: u32,
    /// Seconds the agent has, from claiming it, to report how it ended.
    #[pyo3(get)]
    pub timeout_secs: u32,
    /// Why it is in its state, in plain English, or None.
    #[pyo3(get)]
    pub reason: Option<String>,
    /// For risky work, the phrase an approver types exactly; None for safe work.
    #[pyo3(get)]
    pub approval_phrase: Option<String>,
    /// Who requested it.
    #[pyo3(get)]
    pub requested_by: String,
    /// Who approved it, or None.
    #[pyo3(get)]
    pub approved_by: Option<String>,
    /// When it was approved (UTC), or None.
    #[pyo3(get)]
    pub approved_at: Option<DateTime<Utc>>,
    /// The job this one retries, when a person retried a failed one.
    #[pyo3(get)]
    pub retry_of: Option<String>,
    pub result: Option<Value>,
    /// What the agent printed, with secrets redacted, or None.
    #[pyo3(get)]
    pub output: Option<String>,
    /// When it was requested (UTC).
    #[pyo3(get)]
    pub created_at: DateTime<Utc>,
    /// When it last changed (UTC).
    #[pyo3(get)]
    pub updated_at: DateTime<Utc>,
    /// When an agent claimed it, or None.
    #[pyo3(get)]
    pub claimed_at: Option<DateTime<Utc>>,
    /// When the agent last said it was still working, or None.
    #[pyo3(get)]
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// When a claimed or running job times out, or None.
    #[pyo3(get)]
    pub deadline_at: Option<DateTime<Utc>>,
    /// When it gives up if no agent picks it up (UTC).
    #[pyo3(get)]
    pub expires_at: DateTime<Utc>,
    /// When it ended, or None.
    #[pyo3(get)]
    pub finished_at: Option<DateTime<Utc>>,
}

// Equal records hash alike: the JSON documents are left out of the hash.
impl Hash for Job {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.state.hash(state);
        self.attempts.hash(state);
        self.updated_at.hash(state);
    }
}

#[pymethods]
impl Job {
    /// The parameters it was requested with, as a new dict on every read.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::to_py(py, &self.params)
    }

    /// What the agent reported as its result (usually a dict), or None.
    #[getter]
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.result {
            Some(v) => json::to_py(py, v),
            None => Ok(py.None().into_bound(py)),
        }
    }

    pub(crate) fn __repr__(&self) -> String {
        format!(
            "Job(id={}, kind={}, node_id={}, state={}, attempts={}, max_attempts={}, approval_phrase={}, reason={})",
            q(&self.id),
            q(&self.kind),
            q(&self.node_id),
            q(&self.state),
            self.attempts,
            self.max_attempts,
            q_opt(&self.approval_phrase),
            q_opt(&self.reason)
        )
    }
}

impl From<works_core::Job> for Job {
    fn from(j: works_core::Job) -> Self {
        Job {
            id: j.id,
            node_id: j.node_id,
            org_id: j.org_id,
            kind: j.kind.as_str().to_owned(),
            risk: match j.risk {
                works_core::Risk::Safe => "safe",
                works_core::Risk::Risky => "risky",
            }
            .to_owned(),
            state: j.state.as_str().to_owned(),
            state_label: j.state.label().to_owned(),
            params: j.params,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            timeout_secs: j.timeout_secs,
            reason: j.reason,
            approval_phrase: j.approval_phrase,
            requested_by: j.requested_by,
            approved_by: j.approved_by,
            approved_at: j.approved_at,
            retry_of: j.retry_of,
            result: j.result,
            output: j.output,
            created_at: j.created_at,
            updated_at: j.updated_at,
            claimed_at: j.claimed_at,
            heartbeat_at: j.heartbeat_at,
            deadline_at: j.deadline_at,
            expires_at: j.expires_at,
            finished_at: j.finished_at,
        }
    }
}
