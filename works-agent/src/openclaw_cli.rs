//! `cli_command` jobs: an allowlisted read command of the OpenClaw CLI, run with
//! `docker exec` in an instance's gateway container.
//!
//! The job names the command by its inventory id; the agent maps the id back to the
//! fixed arguments of `works_core::openclaw_cli` and checks the allowlist again, so a job
//! can never carry a command line of its own. The output is redacted before it leaves
//! the machine.

use std::time::Duration;

use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use works_core::openclaw_cli;
use works_core::JobReport;

use crate::docker::{is_container_ref, Engine, EngineError};

/// Most output bytes read from one command.
pub const MAX_CLI_OUTPUT_BYTES: usize = 256 * 1024;
/// How long one command may take before it is abandoned.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(90);

/// Parameters of a `cli_command` job, as the core writes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CliParams {
    pub instance_id: String,
    pub command_id: String,
    /// The gateway container.
    pub container: String,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: Option<i64>,
    pub output: String,
}

/// Reads and checks the parameters: a known container reference and an allowlisted
/// command. Returns the container and the fixed arguments after `openclaw`.
pub fn cli_params(params: &serde_json::Value) -> Result<(CliParams, &'static openclaw_cli::CliSpec), String> {
    let p: CliParams = serde_json::from_value(params.clone()).map_err(|e| {
        format!("The cli_command job needs parameters {{\"instance_id\", \"command_id\", \"container\"}}: {e}.")
    })?;
    if !is_container_ref(&p.container) {
        return Err(format!("{:?} cannot name a container.", p.container));
    }
    let spec = openclaw_cli::runnable(&p.command_id).map_err(|e| format!("This agent refuses the command: {e}"))?;
    Ok((p, spec))
}

fn failed(reason: impl Into<String>, output: Option<String>) -> JobReport {
    JobReport { succeeded: false, result: None, output, reason: Some(reason.into()) }
}

/// Does the work of a `cli_command` job.
pub async fn perform(engine: &Engine, params: &serde_json::Value) -> JobReport {
    let (p, spec) = match cli_params(params) {
        Ok(v) => v,
        Err(reason) => return failed(reason, None),
    };
    let line = spec.command_line();
    let argv: Vec<String> = std::iter::once("openclaw").chain(spec.argv.iter().copied()).map(str::to_owned).collect();
    let ran = tokio::time::timeout(CLI_TIMEOUT, exec(engine, &p.container, argv)).await;
    let out = match ran {
        Err(_) => return failed(format!("`{line}` did not finish within {} seconds in container {}; it was abandoned.", CLI_TIMEOUT.as_secs(), p.container), None),
        Ok(Err(EngineError::NoSuchContainer(name))) => {
            return failed(format!("The gateway container {name} does not exist on this node; check the instance's health."), None)
        }
        Ok(Err(e)) => return failed(e.to_string(), None),
        Ok(Ok(out)) => out,
    };
    let output = works_core::redact(&out.output);
    let result = json!({"instance_id": p.instance_id, "command_id": spec.id, "command": line, "container": p.container, "exit_code": out.exit_code});
    match out.exit_code {
        Some(0) => JobReport { succeeded: true, result: Some(result), output: Some(output), reason: None },
        code => {
            let first = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("no output").chars().take(300).collect::<String>();
            let code = code.map(|c| c.to_string()).unwrap_or_else(|| "unknown".into());
            JobReport {
                succeeded: false,
                result: Some(result),
                output: Some(output),
                reason: Some(format!("`{line}` exited with code {code} in container {}: {first}", p.container)),
            }
        }
    }
}

/// Runs `argv` in a running container through the Engine API and collects its output
/// (standard output and error, at most [`MAX_CLI_OUTPUT_BYTES`]) and exit code.
pub async fn exec(engine: &Engine, container: &str, argv: Vec<String>) -> Result<ExecOutput, EngineError> {
    if !is_container_ref(container) {
        return Err(EngineError::NoSuchContainer(container.to_owned()));
    }
    let docker = engine.client().await?;
    let config = ExecConfig { cmd: Some(argv), attach_stdout: Some(true), attach_stderr: Some(true), ..Default::default() };
    let created = match docker.create_exec(container, config).await {
        Ok(c) => c,
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
            return Err(EngineError::NoSuchContainer(container.to_owned()))
        }
        Err(e) => return Err(engine.failed(e).await),
    };
    let mut out: Vec<u8> = Vec::new();
    match docker.start_exec(&created.id, None).await {
        Ok(StartExecResults::Attached { mut output, .. }) => {
            while let Some(chunk) = output.next().await {
                match chunk {
                    Ok(part) => {
                        let bytes = part.into_bytes();
                        let room = MAX_CLI_OUTPUT_BYTES.saturating_sub(out.len());
                        out.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
                    }
                    Err(e) => return Err(engine.failed(e).await),
                }
            }
        }
        Ok(StartExecResults::Detached) => {}
        Err(e) => return Err(engine.failed(e).await),
    }
    let exit_code = match docker.inspect_exec(&created.id).await {
        Ok(i) => i.exit_code,
        Err(e) => return Err(engine.failed(e).await),
    };
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if out.len() >= MAX_CLI_OUTPUT_BYTES {
        text.push_str("\n[output truncated]");
    }
    Ok(ExecOutput { exit_code, output: text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_and_the_allowlist_is_checked_again() {
        let ok = json!({"instance_id": "i", "command_id": "version", "container": "openclaw-x-gateway"});
        let (p, spec) = cli_params(&ok).unwrap();
        assert_eq!(p.container, "openclaw-x-gateway");
        assert_eq!(spec.argv, &["--version"]);

        let refused = json!({"instance_id": "i", "command_id": "gateway-call", "container": "c"});
        assert!(cli_params(&refused).unwrap_err().contains("refuses"));
        let unknown = json!({"instance_id": "i", "command_id": "rm -rf /", "container": "c"});
        assert!(cli_params(&unknown).unwrap_err().contains("command_id"));
        let path = json!({"instance_id": "i", "command_id": "version", "container": "../images/json"});
        assert!(cli_params(&path).unwrap_err().contains("cannot name a container"));
        let argv = json!({"instance_id": "i", "command_id": "version", "container": "c", "argv": ["reset"]});
        assert!(cli_params(&argv).is_err(), "no free-form arguments");
    }
}
