//! The kinds of work this agent can do, and an honest refusal for the rest.
//!
//! - `health_check`: the machine's health and the engine's answer to a ping.
//! - `inventory_refresh`: reads the container inventory again and sends it in full.
//! - `logs`: `{"container": NAME, "lines": N}` (N from 1 to 2000, default 100): the last
//!   N lines of that container's output.
//! - `deploy`, `restart`, `remove`, and `health_check` of an instance: see
//!   [`crate::openclaw`].
//! - `cli_command`: `{"instance_id", "command_id", "container"}`: an allowlisted read
//!   command of the OpenClaw CLI in the gateway container (see `openclaw_cli`).

use serde::Deserialize;
use serde_json::json;
use works_core::{Job, JobKind, JobReport};

use crate::docker::EngineError;
use crate::runner::Agent;

/// Most log lines one `logs` job may ask for.
pub const MAX_LOG_LINES: u32 = 2000;
/// Log lines read when a `logs` job does not say how many.
pub const DEFAULT_LOG_LINES: u32 = 100;

/// Can this agent version run jobs of `kind`?
pub fn supported(kind: JobKind) -> bool {
    matches!(
        kind,
        JobKind::HealthCheck | JobKind::InventoryRefresh | JobKind::Logs | JobKind::Deploy | JobKind::Restart | JobKind::Remove | JobKind::CliCommand
    )
}

/// The report for a kind this agent cannot run: failed, saying so.
pub fn unsupported(kind: JobKind) -> JobReport {
    failed(format!("This agent version cannot run {} jobs yet.", kind.as_str()))
}

fn failed(reason: impl Into<String>) -> JobReport {
    JobReport { succeeded: false, result: None, output: None, reason: Some(reason.into()) }
}

/// Parameters of a `logs` job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsParams {
    pub container: String,
    pub lines: Option<u32>,
    /// The instance whose gateway this is, when asked from an instance.
    #[serde(default)]
    pub instance_id: Option<String>,
}

/// Reads and checks the parameters of a `logs` job.
pub fn logs_params(params: &serde_json::Value) -> Result<(String, u32), String> {
    let p: LogsParams = serde_json::from_value(params.clone()).map_err(|e| {
        format!("The logs job needs parameters {{\"container\": NAME, \"lines\": N}} with N from 1 to {MAX_LOG_LINES}: {e}.")
    })?;
    let container = p.container.trim().to_owned();
    if container.is_empty() {
        return Err("The logs job needs the name of a container in \"container\".".into());
    }
    let lines = p.lines.unwrap_or(DEFAULT_LOG_LINES);
    if !(1..=MAX_LOG_LINES).contains(&lines) {
        return Err(format!("\"lines\" must be from 1 to {MAX_LOG_LINES}, not {lines}."));
    }
    Ok((container, lines))
}

/// Does the work of a supported job and says how it went.
pub async fn perform(agent: &Agent, job: &Job) -> JobReport {
    match job.kind {
        JobKind::HealthCheck if job.params.get("instance_id").is_some() => crate::openclaw::health(agent, job).await,
        JobKind::HealthCheck if job.params.get("readiness").is_some() => crate::openclaw::readiness(agent, job).await,
        JobKind::HealthCheck => health_check(agent).await,
        JobKind::Deploy => crate::openclaw::deploy(agent, job).await,
        JobKind::Restart => crate::openclaw::restart(agent, job).await,
        JobKind::Remove => crate::openclaw::remove(agent, job).await,
        JobKind::InventoryRefresh => inventory_refresh(agent).await,
        JobKind::Logs => logs(agent, &job.params).await,
        JobKind::CliCommand => crate::openclaw_cli::perform(&agent.engine, &job.params).await,
        other => unsupported(other),
    }
}

async fn health_check(agent: &Agent) -> JobReport {
    let health = crate::health::collect(&agent.engine).await;
    let ping = agent.engine.ping().await;
    let docker = match &ping {
        Ok(answer) => json!({"reachable": true, "version": health.docker_version, "ping": answer}),
        Err(e) => json!({"reachable": false, "version": null, "ping": null, "error": e.to_string()}),
    };
    let gib = |b: u64| b as f64 / (1024.0 * 1024.0 * 1024.0);
    let mut output = format!(
        "Up {} hours, load {:.2}. Memory: {:.1} GiB available of {:.1} GiB. Disk /: {:.1} GiB free of {:.1} GiB. Agent {}.\n",
        health.uptime_secs / 3600,
        health.load1,
        gib(health.memory_available_bytes),
        gib(health.memory_total_bytes),
        gib(health.disk_available_bytes),
        gib(health.disk_total_bytes),
        health.agent_version,
    );
    match &ping {
        Ok(answer) => output.push_str(&format!(
            "Docker {} answers at {} ({answer}).\n",
            health.docker_version.as_deref().unwrap_or("(version unknown)"),
            agent.engine.host()
        )),
        Err(e) => output.push_str(&format!("{e}\n")),
    }
    JobReport {
        succeeded: true,
        result: Some(json!({"health": health, "docker": docker})),
        output: Some(output),
        reason: None,
    }
}

async fn inventory_refresh(agent: &Agent) -> JobReport {
    if let Err(e) = agent.engine.inventory().await {
        return failed(e.to_string());
    }
    match agent.checkin(true).await {
        Ok((_, Some(count))) => JobReport {
            succeeded: true,
            result: Some(json!({"containers": count})),
            output: Some(format!("Sent the inventory: {count} containers.\n")),
            reason: None,
        },
        Ok((_, None)) => failed("The container inventory could not be read from the Docker engine."),
        Err(e) => failed(format!("The inventory could not be sent to the server: {e}")),
    }
}

async fn logs(agent: &Agent, params: &serde_json::Value) -> JobReport {
    let (container, lines) = match logs_params(params) {
        Ok(p) => p,
        Err(reason) => return failed(reason),
    };
    match agent.engine.logs(&container, lines).await {
        Ok(text) => {
            let count = text.lines().count();
            JobReport {
                succeeded: true,
                result: Some(json!({"container": container, "lines_requested": lines, "lines_returned": count})),
                output: Some(text),
                reason: None,
            }
        }
        Err(EngineError::NoSuchContainer(name)) => failed(format!("No container named {name} exists on this node.")),
        Err(e) => failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_parameters_are_checked() {
        assert_eq!(logs_params(&json!({"container": "web", "lines": 5})), Ok(("web".into(), 5)));
        assert_eq!(logs_params(&json!({"container": "web"})), Ok(("web".into(), DEFAULT_LOG_LINES)));
        assert!(logs_params(&json!({"container": "web", "lines": 2001})).unwrap_err().contains("2000"));
        assert!(logs_params(&json!({"container": "web", "lines": 0})).is_err());
        assert!(logs_params(&json!({"lines": 5})).is_err());
        assert!(logs_params(&json!({"container": " "})).is_err());
        assert!(logs_params(&json!({"container": "web", "follow": true})).is_err());
    }

    #[test]
    fn kinds_this_agent_cannot_run_are_refused_plainly() {
        for kind in [JobKind::Takeover, JobKind::AgentInstall] {
            assert!(!supported(kind));
            let r = unsupported(kind);
            assert!(!r.succeeded);
            assert_eq!(r.reason.unwrap(), format!("This agent version cannot run {} jobs yet.", kind.as_str()));
        }
        for kind in [JobKind::HealthCheck, JobKind::InventoryRefresh, JobKind::Logs, JobKind::Deploy, JobKind::Restart, JobKind::Remove, JobKind::CliCommand] {
            assert!(supported(kind));
        }
    }
}
