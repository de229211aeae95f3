//! `works-agent`: the agent alone, for machines that need nothing else of Anthropy
//! Works. Same commands, flags and environment as `works agent` (`enroll`, `run`), on a
//! single-threaded runtime, so it stays small on the machine it watches.
//!
//! ```sh
//! works-agent enroll --server https://works.example --token wke_… --state-dir /var/lib/works-agent
//! works-agent run --state-dir /var/lib/works-agent
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
Usage:
  works-agent enroll --server URL --token TOKEN --state-dir DIR [--force]
  works-agent run --state-dir DIR [--fallback-server URL]...

Environment: WORKS_SERVER, WORKS_ENROLLMENT_TOKEN, WORKS_AGENT_STATE_DIR,
WORKS_AGENT_FALLBACK_SERVERS (comma-separated), WORKS_DOCKER_HOST, WORKS_LOG.";

/// The command line, read by hand: a flag parser would add more to the binary than the
/// two commands need.
#[derive(Debug, Default)]
struct Args {
    command: String,
    server: Option<String>,
    token: Option<String>,
    state_dir: Option<PathBuf>,
    fallback_servers: Vec<String>,
    force: bool,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut command = it.next().ok_or("no command given")?;
    // `works-agent agent run …` too, so that it can stand in for `works` wherever a
    // script runs `works agent …` (the agent installation over SSH does).
    if command == "agent" {
        command = it.next().ok_or("no command given")?;
    }
    let mut a = Args { command, ..Default::default() };
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next()).ok_or(format!("{name} needs a value"));
        match name.as_str() {
            "--server" => a.server = Some(value()?),
            "--token" => a.token = Some(value()?),
            "--state-dir" => a.state_dir = Some(PathBuf::from(value()?)),
            "--fallback-server" => a.fallback_servers.push(value()?),
            "--force" => a.force = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("{other} is not a flag of works-agent")),
        }
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    a.server = a.server.or_else(|| env("WORKS_SERVER"));
    a.token = a.token.or_else(|| env("WORKS_ENROLLMENT_TOKEN"));
    a.state_dir = a.state_dir.or_else(|| env("WORKS_AGENT_STATE_DIR").map(PathBuf::from));
    if a.fallback_servers.is_empty() {
        a.fallback_servers = env("WORKS_AGENT_FALLBACK_SERVERS").map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("works-agent: {why}.");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WORKS_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("works-agent: could not start ({e}).");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command(args)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("works-agent: {e}\n{}", e.next_action());
            ExitCode::FAILURE
        }
    }
}

async fn command(a: Args) -> works_core::Result<String> {
    let need = |what: &str, how: &str| works_core::Error::invalid(what, format!("is needed: give it with {how}"));
    let state_dir = a.state_dir.clone().ok_or_else(|| need("state_dir", "--state-dir or WORKS_AGENT_STATE_DIR"))?;
    match a.command.as_str() {
        "enroll" => {
            let server = a.server.as_deref().ok_or_else(|| need("server", "--server or WORKS_SERVER"))?;
            let token = a.token.as_deref().ok_or_else(|| need("token", "--token or WORKS_ENROLLMENT_TOKEN"))?;
            let done = works_agent::enroll(server, token, &state_dir, a.force).await?;
            Ok(format!(
                "Enrolled this machine as the agent of node {} at {}.\nThe credential is in {} (readable by its owner only).\nStart the agent with: works-agent run --state-dir {}\n",
                done.node_id,
                done.server,
                done.path.display(),
                state_dir.display()
            ))
        }
        "run" => {
            let options = works_agent::RunOptions { docker_host: works_agent::docker_host_from_env(), fallback_servers: a.fallback_servers };
            works_agent::run_until_stopped(&state_dir, options).await.map(|()| "The agent stopped.\n".to_owned())
        }
        other => Err(works_core::Error::invalid("command", format!("{other} is not a command of works-agent: use enroll or run"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn flags_are_read_as_works_agent_reads_them() {
        let a = args("run --state-dir /tmp/x --fallback-server http://b --fallback-server=http://c").unwrap();
        assert_eq!((a.command.as_str(), a.state_dir, a.fallback_servers), ("run", Some(PathBuf::from("/tmp/x")), vec!["http://b".to_owned(), "http://c".to_owned()]));
        let e = args("enroll --server http://a --token wke_1 --state-dir /s --force").unwrap();
        assert_eq!((e.server.as_deref(), e.token.as_deref(), e.force), (Some("http://a"), Some("wke_1"), true));
        assert_eq!(args("run --bogus").unwrap_err(), "--bogus is not a flag of works-agent");
        let as_works = args("agent enroll --server http://a --token wke_1 --state-dir /s --force").unwrap();
        assert_eq!((as_works.command.as_str(), as_works.force), ("enroll", true));
        assert!(args("agent").is_err());
        assert_eq!(args("run --state-dir").unwrap_err(), "--state-dir needs a value");
    }
}
