//! The later areas of the API (alerts and history, instance operations, SSH access,
//! policy and workflows, schedules, the fleet map) and backups, as one call per operation by name: arguments and
//! answers travel as JSON documents and the Python package (`works._records`) turns the
//! answers into typed, frozen records. Jobs and nodes come back as the native records
//! the rest of the client returns.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use works_core::{Api, Error, Listing, Result};

use crate::fleet_records::{Job, Node};
use crate::json;

/// What one operation answered.
pub enum Out {
    Json(Value),
    Job(works_core::Job),
    Jobs(Listing<works_core::Job>),
    Node(works_core::Node),
    Nothing,
}

impl Out {
    pub fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Out::Json(v) => json::to_py(py, &v)?.unbind(),
            Out::Job(j) => Py::new(py, Job::from(j))?.into_any(),
            Out::Node(n) => Py::new(py, Node::from(n))?.into_any(),
            Out::Jobs(page) => {
                let dict = PyDict::new(py);
                let items: Vec<Job> = page.items.into_iter().map(Job::from).collect();
                dict.set_item("items", items)?;
                dict.set_item("next_offset", page.next_offset)?;
                dict.into_any().unbind()
            }
            Out::Nothing => py.None(),
        })
    }
}

fn out<T: Serialize>(value: Result<T>) -> Result<Out> {
    let value = value?;
    serde_json::to_value(value)
        .map(Out::Json)
        .map_err(|e| Error::internal(format!("Could not read the answer of the server: {e}")))
}

/// The arguments of one call: a JSON object from Python.
pub struct Args(Map<String, Value>);

impl Args {
    pub fn new(value: Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Args(map)),
            Value::Null => Ok(Args(Map::new())),
            _ => Err(Error::invalid("args", "must be a dict of the operation's arguments")),
        }
    }

    /// A text argument, such as an id; required.
    fn text(&self, name: &str) -> Result<String> {
        match self.0.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Null) | None => Err(Error::invalid(name, "is required")),
            Some(other) => Err(Error::invalid(name, format!("must be text (a str), not {}", kind(other)))),
        }
    }

    /// The whole arguments as the operation's input (or query) type, with the field of
    /// any problem named as the core names it.
    fn input<T: DeserializeOwned>(&self, leave_out: &[&str]) -> Result<T> {
        let mut map = self.0.clone();
        for name in leave_out {
            map.remove(*name);
        }
        // Unset optional arguments are left out, as the HTTP API would receive them.
        map.retain(|_, v| !v.is_null());
        typed(Value::Object(map))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "None",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dict",
    }
}

/// A JSON document as `T`; a mismatch is invalid input naming the field.
pub fn typed<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let problem = e.into_inner().to_string();
        let (field, problem) = plain(&path, &problem);
        Error::invalid(field, problem)
    })
}

/// A serde message in plain English, and the field it is about.
fn plain(path: &str, problem: &str) -> (String, String) {
    let ticked = |s: &str| s.split('`').nth(1).map(str::to_owned);
    let parent = if path == "." { String::new() } else { format!("{path}.") };
    if let Some(rest) = problem.strip_prefix("missing field ") {
        let name = ticked(rest).unwrap_or_else(|| rest.to_owned());
        return (format!("{parent}{name}"), "is required".to_owned());
    }
    if let Some(rest) = problem.strip_prefix("unknown field ") {
        let name = ticked(rest).unwrap_or_else(|| rest.to_owned());
        let expected = rest.split_once(", expected ").map(|(_, e)| format!(" (expected {e})")).unwrap_or_default();
        return (format!("{parent}{name}"), format!("is not an argument of this operation{expected}"));
    }
    let field = if path == "." { "input".to_owned() } else { path.to_owned() };
    if let Some(rest) = problem.strip_prefix("invalid type: ") {
        if let Some((got, want)) = rest.split_once(", expected ") {
            return (field, format!("must be {want}, not {got}"));
        }
    }
    if let Some(rest) = problem.strip_prefix("unknown variant ") {
        if let Some((got, want)) = rest.split_once(", expected ") {
            return (field, format!("must be {}, not {got}", want.replace('`', "")));
        }
    }
    if let Some(rest) = problem.strip_prefix("invalid value: ") {
        if let Some((got, want)) = rest.split_once(", expected ") {
            return (field, format!("must be {want}, not {got}"));
        }
    }
    (field, problem.to_owned())
}

/// Runs operation `op` with `args` on `api`.
pub async fn call(api: &dyn Api, op: &str, a: Args) -> Result<Out> {
    let id = || a.text("id");
    match op {
        // alerts and history
        "webhook_create" => out(api.webhook_create(a.input(&[])?).await),
        "webhook_list" => out(api.webhook_list().await),
        "webhook_delete" => out(api.webhook_delete(&id()?).await),
        "delivery_list" => out(api.delivery_list(a.input(&[])?).await),
        "metrics_history" => out(api.metrics_history(a.input(&[])?).await),
        // instance operations
        "openclaw_cli_commands" => out(api.openclaw_cli_commands().await),
        "instance_cli_run" => Ok(Out::Job(api.instance_cli_run(&id()?, &a.text("command_id")?).await?)),
        "instance_cli_runs" => Ok(Out::Jobs(api.instance_cli_runs(&id()?, a.input(&["id"])?).await?)),
        "instance_cli_run_get" => Ok(Out::Job(api.instance_cli_run_get(&id()?, &a.text("job_id")?).await?)),
        "instance_versions" => out(api.instance_versions(&id()?, a.input(&["id"])?).await),
        "upgrade_plan_create" => out(api.upgrade_plan_create(&id()?, a.input(&["id"])?).await),
        "upgrade_plan_list" => out(api.upgrade_plan_list(&id()?, a.input(&["id"])?).await),
        "upgrade_plan_get" => out(api.upgrade_plan_get(&id()?, &a.text("plan_id")?).await),
        "upgrade_plan_approve" => {
            out(api.upgrade_plan_approve(&id()?, &a.text("plan_id")?, a.input(&["id", "plan_id"])?).await)
        }
        "upgrade_plan_cancel" => out(api.upgrade_plan_cancel(&id()?, &a.text("plan_id")?).await),
        "instance_assign" => out(api.instance_assign(&id()?, a.input(&["id"])?).await),
        "instance_unassign" => api.instance_unassign(&id()?, &a.text("user_id")?).await.map(|()| Out::Nothing),
        "instance_assignments" => out(api.instance_assignments(&id()?).await),
        // SSH access
        "ssh_credential_create" => out(api.ssh_credential_create(a.input(&[])?).await),
        "ssh_credential_list" => out(api.ssh_credential_list(a.input(&[])?).await),
        "ssh_credential_get" => out(api.ssh_credential_get(&id()?).await),
        "ssh_credential_delete" => out(api.ssh_credential_delete(&id()?).await),
        "jumpbox_create" => out(api.jumpbox_create(a.input(&[])?).await),
        "jumpbox_list" => out(api.jumpbox_list(a.input(&[])?).await),
        "jumpbox_get" => out(api.jumpbox_get(&id()?).await),
        "jumpbox_forget_host_key" => out(api.jumpbox_forget_host_key(&id()?).await),
        "host_create" => out(api.host_create(a.input(&[])?).await),
        "host_list" => out(api.host_list(a.input(&[])?).await),
        "host_get" => out(api.host_get(&id()?).await),
        "host_test_access" => out(api.host_test_access(&id()?).await),
        "host_register" => Ok(Out::Node(api.host_register(&id()?).await?)),
        "host_forget_host_key" => out(api.host_forget_host_key(&id()?).await),
        "access_attempt_list" => out(api.access_attempt_list(a.input(&[])?).await),
        "access_attempt_get" => out(api.access_attempt_get(&id()?).await),
        // policy
        "capability_list" => out(api.capability_list().await),
        "capability_get" => out(api.capability_get(&id()?).await),
        "pack_list" => out(api.pack_list().await),
        "pack_attach" => out(api.pack_attach(&id()?, a.input(&["id"])?).await),
        "permission_create" => out(api.permission_create(a.input(&[])?).await),
        "permission_list" => out(api.permission_list(a.input(&[])?).await),
        "permission_get" => out(api.permission_get(&id()?).await),
        "permission_update" => out(api.permission_update(&id()?, a.input(&["id"])?).await),
        "permission_disable" => out(api.permission_disable(&id()?).await),
        "permission_enable" => out(api.permission_enable(&id()?).await),
        "permission_delete" => out(api.permission_delete(&id()?).await),
        "connection_create" => out(api.connection_create(a.input(&[])?).await),
        "connection_list" => out(api.connection_list(a.input(&[])?).await),
        "connection_get" => out(api.connection_get(&id()?).await),
        "connection_update" => out(api.connection_update(&id()?, a.input(&["id"])?).await),
        "connection_delete" => out(api.connection_delete(&id()?).await),
        "workflow_create" => out(api.workflow_create(a.input(&[])?).await),
        "workflow_list" => out(api.workflow_list(a.input(&[])?).await),
        "workflow_get" => out(api.workflow_get(&id()?).await),
        "workflow_update" => out(api.workflow_update(&id()?, a.input(&["id"])?).await),
        "workflow_delete" => out(api.workflow_delete(&id()?).await),
        "run_start" => out(api.run_start(&a.text("workflow_id")?, a.input(&["workflow_id"])?).await),
        "run_list" => out(api.run_list(&a.text("workflow_id")?, a.input(&["workflow_id"])?).await),
        "run_get" => out(api.run_get(&a.text("workflow_id")?, &a.text("run_id")?).await),
        "run_approve" => {
            out(api.run_approve(&a.text("workflow_id")?, &a.text("run_id")?, a.input(&["workflow_id", "run_id"])?).await)
        }
        "schedule_create" => out(api.schedule_create(a.input(&[])?).await),
        "schedule_list" => out(api.schedule_list(a.input(&[])?).await),
        "schedule_get" => out(api.schedule_get(&id()?).await),
        "schedule_update" => out(api.schedule_update(&id()?, a.input(&["id"])?).await),
        "schedule_delete" => out(api.schedule_delete(&id()?).await),
        "map" => out(api.map().await),
        "status_summary" => out(api.status_summary().await),
        "layout_get" => out(api.layout_get().await),
        "layout_put" => out(api.layout_put(a.input(&[])?).await),
        _ => Err(Error::invalid("operation", format!("{op} is not an operation of this version of works"))),
    }
}

/// `works.backup.*`: one call of the core's backup service, on the database at `url`,
/// as `works backup …` makes it on the machine that reaches the database.
pub async fn backup(url: &str, op: &str, a: Args) -> Result<Value> {
    use works_core::ops::{self, BackupService, RetentionPolicy};
    let engine = works_store::backup_engine(url).await?;
    let clock = works_core::SystemClock;
    let service = BackupService::new(engine.as_ref(), &clock, ops::local_operator());
    let path = |name: &str| -> Result<PathBuf> {
        let p = a.text(name)?;
        if p.trim().is_empty() {
            return Err(Error::invalid(name, "must not be empty: give a path"));
        }
        Ok(PathBuf::from(p))
    };
    let number = |name: &str| -> Result<Option<u32>> {
        match a.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| Error::invalid(name, "must be a whole number, such as 7")),
        }
    };
    match op {
        "create" => {
            let policy = RetentionPolicy::new(number("keep")?, number("max_age_days")?)?;
            out(service.create(&path("directory")?, policy).await)
        }
        "list" => {
            let mut all = engine.list(&path("directory")?).await?;
            all.sort_by_key(|b| std::cmp::Reverse((b.manifest.created_at, b.file_name())));
            out(Ok(all))
        }
        "verify" => out(service.verify(&path("file")?).await),
        "restore_test" => out(service.restore_test(&path("file")?).await),
        "restore" => {
            let confirm = match a.0.get("confirm") {
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            };
            out(service.restore(&path("file")?, confirm.as_deref(), &path("safety_directory")?).await)
        }
        "prune" => {
            let policy = RetentionPolicy::new(number("keep")?, number("max_age_days")?)?
                .ok_or_else(|| Error::invalid("keep", "is needed: give keep=N, max_age_days=DAYS, or both"))?;
            out(service.prune(&path("directory")?, policy).await)
        }
        _ => Err(Error::invalid("operation", format!("{op} is not a backup operation"))),
    }
    .map(|o| match o {
        Out::Json(v) => v,
        _ => Value::Null,
    })
}
