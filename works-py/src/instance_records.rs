//! The health answer and OpenClaw instances as frozen Python objects, in the style of
//! `records.rs` and `fleet_records.rs`: read-only attributes, equality, hashing, a
//! readable `repr`. Lists come out as tuples and JSON documents as new dicts on every
//! read, so a record cannot be changed through them. No instance record carries the
//! gateway token: the core keeps it sealed and hands it only to the agent deploying it.

use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde_json::Value;

use crate::fleet_records::Job;
use crate::json;
use crate::records::{flag, q, q_opt, when};

fn json_or_none<'py>(py: Python<'py>, value: &Option<Value>) -> PyResult<Bound<'py, PyAny>> {
    match value {
        Some(v) => json::to_py(py, v),
        None => Ok(py.None().into_bound(py)),
    }
}

/// A person's acknowledgement of one health issue: it holds while the issue's
/// condition (its fingerprint) is unchanged.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HealthAck {
    /// The issue acknowledged, e.g. `node-offline:<node id>`.
    #[pyo3(get)]
    pub issue_id: String,
    /// The condition it was given for.
    #[pyo3(get)]
    pub fingerprint: String,
    /// The organization of the issue, or None for the MSP's own.
    #[pyo3(get)]
    pub org_id: Option<String>,
    /// Why it is fine, or what is being done about it (secrets redacted).
    #[pyo3(get)]
    pub note: String,
    /// Who acknowledged it.
    #[pyo3(get)]
    pub acknowledged_by: String,
    /// When (UTC).
    #[pyo3(get)]
    pub acknowledged_at: DateTime<Utc>,
}

#[pymethods]
impl HealthAck {
    fn __repr__(&self) -> String {
        format!(
            "HealthAck(issue_id={}, note={}, acknowledged_by={}, acknowledged_at={})",
            q(&self.issue_id),
            q(&self.note),
            q(&self.acknowledged_by),
            when(&self.acknowledged_at)
        )
    }
}

impl From<works_core::HealthAck> for HealthAck {
    fn from(a: works_core::HealthAck) -> Self {
        HealthAck {
            issue_id: a.issue_id,
            fingerprint: a.fingerprint,
            org_id: a.org_id,
            note: a.note,
            acknowledged_by: a.acknowledged_by,
            acknowledged_at: a.acknowledged_at,
        }
    }
}

/// One thing that is wrong, in plain English: why, what to do next and where to look.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq)]
pub struct HealthIssue {
    /// Stable key of the condition, e.g. `node-offline:<node id>`; pass it to
    /// `client.health_acknowledge`.
    #[pyo3(get)]
    pub id: String,
    /// `degraded` or `critical`.
    #[pyo3(get)]
    pub severity: String,
    /// One line saying what is wrong.
    #[pyo3(get)]
    pub title: String,
    /// Why, in plain English.
    #[pyo3(get)]
    pub why: String,
    /// What to do about it.
    #[pyo3(get)]
    pub next_action: String,
    /// Where to look, in the web UI (a path such as `/ui/nodes/<id>`).
    #[pyo3(get)]
    pub link: String,
    /// `database`, `recovery_monitor`, `node` or `job`.
    #[pyo3(get)]
    pub kind: String,
    /// The record it is about (a node or job id), or None.
    #[pyo3(get)]
    pub subject_id: Option<String>,
    /// The organization of that record, or None for the MSP's own.
    #[pyo3(get)]
    pub org_id: Option<String>,
    /// Since when the condition holds (UTC), when known.
    #[pyo3(get)]
    pub since: Option<DateTime<Utc>>,
    /// True when a person reviewed this condition.
    #[pyo3(get)]
    pub acknowledged: bool,
    /// The acknowledgement, when there is one for this condition.
    #[pyo3(get)]
    pub acknowledgement: Option<HealthAck>,
    /// Identifies the condition: an acknowledgement holds while it is unchanged.
    #[pyo3(get)]
    pub fingerprint: String,
    pub detail: Value,
}

// Equal records hash alike: the detail document is left out of the hash.
impl Hash for HealthIssue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.fingerprint.hash(state);
        self.acknowledged.hash(state);
    }
}

#[pymethods]
impl HealthIssue {
    /// Technical detail (ids and raw values), as a new dict on every read.
    #[getter]
    fn detail<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::to_py(py, &self.detail)
    }

    fn __repr__(&self) -> String {
        format!(
            "HealthIssue(id={}, severity={}, title={}, kind={}, subject_id={}, org_id={}, acknowledged={})",
            q(&self.id),
            q(&self.severity),
            q(&self.title),
            q(&self.kind),
            q_opt(&self.subject_id),
            q_opt(&self.org_id),
            flag(self.acknowledged)
        )
    }
}

impl From<works_core::HealthIssue> for HealthIssue {
    fn from(i: works_core::HealthIssue) -> Self {
        HealthIssue {
            id: i.id,
            severity: i.severity.as_str().to_owned(),
            title: i.title,
            why: i.why,
            next_action: i.next_action,
            link: i.link,
            kind: i.kind,
            subject_id: i.subject_id,
            org_id: i.org_id,
            since: i.since,
            acknowledged: i.acknowledged,
            acknowledgement: i.acknowledgement.map(HealthAck::from),
            fingerprint: i.fingerprint,
            detail: i.detail,
        }
    }
}

/// The one answer about everything you may see: healthy, degraded or critical, with
/// the issues that make it, those a person reviewed, and those of test records.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// `healthy`, `degraded` or `critical`.
    #[pyo3(get)]
    pub state: String,
    /// The state in plain words: `Healthy`, `Degraded` or `Critical`.
    #[pyo3(get)]
    pub state_label: String,
    /// 0 healthy, 1 degraded, 2 critical: the exit code `works health` gives.
    #[pyo3(get)]
    pub code: u8,
    /// One plain sentence.
    #[pyo3(get)]
    pub summary: String,
    pub issues: Vec<HealthIssue>,
    pub acknowledged: Vec<HealthIssue>,
    pub validation: Vec<HealthIssue>,
    /// When the answer was computed (UTC).
    #[pyo3(get)]
    pub checked_at: DateTime<Utc>,
}

impl Hash for HealthReport {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.state.hash(state);
        self.summary.hash(state);
        self.checked_at.hash(state);
    }
}

#[pymethods]
impl HealthReport {
    /// The current issues, most severe first: these make the answer.
    #[getter]
    fn issues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.issues.iter().cloned())
    }

    /// Issues a person reviewed; they do not count until their condition changes.
    #[getter]
    fn acknowledged<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.acknowledged.iter().cloned())
    }

    /// Issues of test and validation records; they never count.
    #[getter]
    fn validation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.validation.iter().cloned())
    }

    /// True when the answer is `healthy`.
    #[getter]
    fn healthy(&self) -> bool {
        self.state == "healthy"
    }

    fn __repr__(&self) -> String {
        format!(
            "HealthReport(state={}, summary={}, issues={}, acknowledged={}, validation={}, checked_at={})",
            q(&self.state),
            q(&self.summary),
            self.issues.len(),
            self.acknowledged.len(),
            self.validation.len(),
            when(&self.checked_at)
        )
    }
}

impl From<works_core::HealthReport> for HealthReport {
    fn from(r: works_core::HealthReport) -> Self {
        HealthReport {
            state: r.state.as_str().to_owned(),
            state_label: r.state.label().to_owned(),
            code: r.state.code(),
            summary: r.summary,
            issues: r.issues.into_iter().map(HealthIssue::from).collect(),
            acknowledged: r.acknowledged.into_iter().map(HealthIssue::from).collect(),
            validation: r.validation.into_iter().map(HealthIssue::from).collect(),
            checked_at: r.checked_at,
        }
    }
}

/// An OpenClaw instance on a node: found running there (`discovered`), or managed by
/// Anthropy Works (`deploying`, `managed`, `failed`, `removed`).
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instance's id.
    #[pyo3(get)]
    pub id: String,
    /// The node it runs on.
    #[pyo3(get)]
    pub node_id: String,
    /// The node's organization, or None for shared MSP infrastructure.
    #[pyo3(get)]
    pub org_id: Option<String>,
    /// `discovered`, `deploying`, `managed`, `failed` or `removed`.
    #[pyo3(get)]
    pub state: String,
    /// The state in plain words, e.g. "Deploy failed".
    #[pyo3(get)]
    pub state_label: String,
    /// The gateway container's Docker id; empty until a deployed container exists.
    #[pyo3(get)]
    pub container_id: String,
    /// The gateway container's name.
    #[pyo3(get)]
    pub container_name: String,
    /// The image it runs.
    #[pyo3(get)]
    pub image: String,
    /// The OpenClaw version, or None when neither the image label nor its tag tells.
    #[pyo3(get)]
    pub version: Option<String>,
    /// Its health as last reported (e.g. `healthy`, `unhealthy`, `running, healthy`,
    /// or `missing: …` when its container is gone from the node's inventory), or None.
    #[pyo3(get)]
    pub health: Option<String>,
    pub health_detail: Option<Value>,
    pub reasons: Vec<String>,
    /// When it was first recorded (UTC).
    #[pyo3(get)]
    pub discovered_at: DateTime<Utc>,
    /// When it last changed (UTC).
    #[pyo3(get)]
    pub updated_at: DateTime<Utc>,
    /// Who took it over, for a discovered instance made managed.
    #[pyo3(get)]
    pub taken_over_by: Option<String>,
    /// When it was taken over (UTC), or None.
    #[pyo3(get)]
    pub taken_over_at: Option<DateTime<Utc>>,
    /// For a discovered instance: the phrase an approver types to take it over.
    #[pyo3(get)]
    pub takeover_phrase: Option<String>,
    /// Why it is in its state, in plain English, or None.
    #[pyo3(get)]
    pub reason: Option<String>,
    /// The last job that acted on it (deploy, health check, restart, removal), or None.
    #[pyo3(get)]
    pub job_id: Option<String>,
}

// Equal records hash alike: the JSON document is left out of the hash.
impl Hash for Instance {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.state.hash(state);
        self.health.hash(state);
        self.updated_at.hash(state);
    }
}

#[pymethods]
impl Instance {
    /// Why the container was recognised as OpenClaw, as a tuple of plain sentences.
    #[getter]
    fn reasons<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.reasons.iter())
    }

    /// Technical detail of the last health check (components, `/healthz`, `/readyz`)
    /// as a new dict on every read, or None.
    #[getter]
    fn health_detail<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_or_none(py, &self.health_detail)
    }

    /// True for an instance Anthropy Works manages and that is not healthy (its last
    /// health is anything but `healthy`, or unknown).
    #[getter]
    fn unhealthy(&self) -> bool {
        self.state == "managed" && self.health.as_deref() != Some("healthy")
    }

    fn __repr__(&self) -> String {
        format!(
            "Instance(id={}, node_id={}, state={}, container_name={}, version={}, health={}, takeover_phrase={}, reason={})",
            q(&self.id),
            q(&self.node_id),
            q(&self.state),
            q(&self.container_name),
            q_opt(&self.version),
            q_opt(&self.health),
            q_opt(&self.takeover_phrase),
            q_opt(&self.reason)
        )
    }
}

impl From<works_core::Instance> for Instance {
    fn from(i: works_core::Instance) -> Self {
        Instance {
            id: i.id,
            node_id: i.node_id,
            org_id: i.org_id,
            state: i.state.as_str().to_owned(),
            state_label: i.state.label().to_owned(),
            container_id: i.container_id,
            container_name: i.container_name,
            image: i.image,
            version: i.version,
            health: i.health,
            health_detail: i.health_detail,
            reasons: i.reasons,
            discovered_at: i.discovered_at,
            updated_at: i.updated_at,
            taken_over_by: i.taken_over_by,
            taken_over_at: i.taken_over_at,
            takeover_phrase: i.takeover_phrase,
            reason: i.reason,
            job_id: i.job_id,
        }
    }
}

/// A requested deploy: the instance being deployed and the job that waits for a person
/// to type its `approval_phrase`.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The new instance, `deploying`.
    #[pyo3(get)]
    pub instance: Instance,
    /// The deploy job, `awaiting_approval`.
    #[pyo3(get)]
    pub job: Job,
}

impl Hash for Deployment {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.instance.hash(state);
        self.job.hash(state);
    }
}

#[pymethods]
impl Deployment {
    fn __repr__(&self) -> String {
        format!("Deployment(instance={}, job={})", self.instance.__repr__(), self.job.__repr__())
    }
}

impl From<works_core::Deployment> for Deployment {
    fn from(d: works_core::Deployment) -> Self {
        Deployment { instance: d.instance.into(), job: d.job.into() }
    }
}
