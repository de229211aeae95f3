//! `works agent …`: the per-machine agent (the `works-agent` library), hosted by this
//! binary.

use std::path::PathBuf;

use clap::Subcommand;
use works_core::{Error, Result};

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Enroll this machine as a node's agent with a one-time enrollment token
    ///
    /// Exchanges the token (from an admin: POST /api/v1/nodes/{id}/enrollment-token) for
    /// the agent's own credential and writes it to DIR/agent.json, readable by its owner
    /// only. Give the server with --server. An existing enrollment is replaced only with
    /// --force.
    Enroll {
        /// The one-time enrollment token
        #[arg(long, env = "WORKS_ENROLLMENT_TOKEN", hide_env_values = true, value_name = "TOKEN")]
        token: String,
        /// Where the agent keeps its enrollment (created with mode 0700)
        #[arg(long, env = "WORKS_AGENT_STATE_DIR", value_name = "DIR")]
        state_dir: PathBuf,
        /// Replace an existing enrollment in DIR
        #[arg(long)]
        force: bool,
    },
    /// Run the agent until Ctrl-C or SIGTERM
    ///
    /// Checks in with the server, reports health and the Docker containers, and runs the
    /// node's approved jobs. The Docker engine is found at WORKS_DOCKER_HOST, else
    /// DOCKER_HOST, else unix:///var/run/docker.sock. Logs go to standard error;
    /// WORKS_LOG (for example `debug`) sets how much.
    Run {
        /// Where the agent keeps its enrollment
        #[arg(long, env = "WORKS_AGENT_STATE_DIR", value_name = "DIR")]
        state_dir: PathBuf,
        /// Another server sharing the same database, used when the enrolled one cannot
        /// be reached (repeat for more; in the environment, separate with commas)
        #[arg(long = "fallback-server", env = "WORKS_AGENT_FALLBACK_SERVERS", value_delimiter = ',', value_name = "URL")]
        fallback_servers: Vec<String>,
    },
}

/// Runs an agent command and returns what to print on standard output.
pub async fn run(cli: &Cli, command: &AgentCommand) -> Result<String> {
    match command {
        AgentCommand::Enroll { token, state_dir, force } => {
            let server = cli.server.as_deref().ok_or_else(|| {
                Error::invalid("server", "is needed: give the server's address with --server or WORKS_SERVER")
            })?;
            let done = works_agent::enroll(server, token, state_dir, *force).await?;
            if cli.json {
                return output::json(&serde_json::json!({
                    "server": done.server,
                    "node_id": done.node_id,
                    "state_file": done.path,
                }));
            }
            Ok(format!(
                "Enrolled this machine as the agent of node {} at {}.\nThe credential is in {} (readable by its owner only).\nStart the agent with: works agent run --state-dir {}\n",
                done.node_id,
                done.server,
                done.path.display(),
                state_dir.display()
            ))
        }
        AgentCommand::Run { state_dir, fallback_servers } => {
            // The agent talks to the server it enrolled with; a different --server (or
            // WORKS_SERVER) is a mistake worth saying, the same one is fine.
            if let Some(asked) = &cli.server {
                let enrolled = works_agent::state::load(state_dir)?;
                let same = match (works_client::parse_base_url(asked), works_client::parse_base_url(&enrolled.server)) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => false,
                };
                if !same {
                    return Err(Error::invalid(
                        "server",
                        format!(
                            "this agent is enrolled with {}, not {}; to move it, enroll it again with --force",
                            enrolled.server,
                            asked.trim()
                        ),
                    ));
                }
            }
            let options = works_agent::RunOptions {
                docker_host: works_agent::docker_host_from_env(),
                fallback_servers: fallback_servers.clone(),
            };
            works_agent::run_until_stopped(state_dir, options).await.map(|()| "The agent stopped.\n".to_owned())
        }
    }
}
