//! Agent installation over an open master to the target: the fixed steps of
//! [`InstallStep`], each one `sh -c` with a script written here. What varies — the
//! binary, the server address, the one-time token, the start script — goes on standard
//! input; no command line ever holds anything that came from outside this file.
//!
//! Everything lives in `~/.works-agent` of the SSH user (mode 0700): `works` (the
//! agent), `server` and, until enrollment spends it, `enroll.token` (mode 0600),
//! `start.sh`, `state/` (the agent's credential) and, without systemd, `agent.log` and
//! `agent.pid`. Where systemd runs and the user is root, the agent becomes the
//! `works-agent` service; otherwise `start.sh` runs in the background (setsid, nohup).

use std::time::Duration;

use openssh::{Session, Stdio};
use tokio::io::AsyncWriteExt;
use works_core::probe::{FailureKind, Hop, InstallEvent, InstallRequest, InstallStep, Installed, ProbeFailure, Step};

/// The start script: fixed text; it holds nothing secret and nothing from outside.
pub const START_SCRIPT: &str = r#"#!/bin/sh
# The Anthropy Works agent, installed over SSH. Runs in the foreground; started by the
# works-agent systemd service or in the background by the installer.
cd "${0%/*}" || exit 1
exec ./works agent run --state-dir ./state
"#;

/// The fixed script of each step.
pub fn script(step: InstallStep) -> &'static str {
    match step {
        InstallStep::Prepare => {
            r#"cd "$HOME" && umask 077 && mkdir -p .works-agent/state && chmod 700 .works-agent .works-agent/state && echo "ready: $HOME/.works-agent""#
        }
        InstallStep::CopyBinary => {
            r#"cd "$HOME" && umask 077 && cat > .works-agent/works.new && chmod 700 .works-agent/works.new && mv -f .works-agent/works.new .works-agent/works && echo "copied to $HOME/.works-agent/works""#
        }
        InstallStep::WriteSettings => {
            r#"cd "$HOME" && umask 077 && IFS= read -r server && IFS= read -r token && printf '%s\n' "$server" > .works-agent/server && printf '%s\n' "$token" > .works-agent/enroll.token && echo "wrote the server address and the enrollment token""#
        }
        InstallStep::WriteStartScript => {
            r#"cd "$HOME" && umask 077 && cat > .works-agent/start.sh.new && chmod 700 .works-agent/start.sh.new && mv -f .works-agent/start.sh.new .works-agent/start.sh && echo "wrote $HOME/.works-agent/start.sh""#
        }
        InstallStep::Enroll => {
            r#"cd "$HOME/.works-agent" || exit 1
WORKS_SERVER="$(cat server)" WORKS_ENROLLMENT_TOKEN="$(cat enroll.token)" ./works agent enroll --state-dir ./state --force
s=$?
rm -f enroll.token
exit $s"#
        }
        InstallStep::Start => {
            r#"cd "$HOME/.works-agent" || exit 1
if [ "$(id -u)" = 0 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  umask 022
  printf '[Unit]\nDescription=Anthropy Works agent\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nExecStart=%s/start.sh\nRestart=always\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n' "$PWD" > /etc/systemd/system/works-agent.service || exit 1
  systemctl daemon-reload && systemctl enable works-agent >/dev/null 2>&1 && systemctl restart works-agent || exit 1
  echo "started as: systemd service"
  exit 0
fi
if [ -f agent.pid ] && kill -0 "$(cat agent.pid)" 2>/dev/null; then kill "$(cat agent.pid)"; sleep 1; fi
setsid nohup "$PWD/start.sh" > agent.log 2>&1 < /dev/null &
echo $! > agent.pid
sleep 2
if kill -0 "$(cat agent.pid)" 2>/dev/null; then
  echo "started as: start script (pid $(cat agent.pid))"
else
  echo "the agent stopped at once; its log:"
  cat agent.log
  exit 1
fi"#
        }
    }
}

/// Refuses what cannot be written safely before anything runs.
pub fn check_request(r: &InstallRequest) -> Result<(), ProbeFailure> {
    let refuse = |what: &str| ProbeFailure { hop: Hop::Target, step: Step::Install, kind: FailureKind::InstallFailed, technical: format!("Refused before running ssh: {what}") };
    let url = &r.server_url;
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || !url.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '-' | '_' | '[' | ']'))
    {
        return Err(refuse("the server address is not a plain http or https address"));
    }
    let t = r.token.expose();
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(refuse("the enrollment token is not plain text"));
    }
    Ok(())
}

/// Runs the steps in order over the target's master.
pub async fn run(target: &Session, r: &InstallRequest, binary: &[u8], send: &(dyn Fn(InstallEvent) + Send + Sync)) -> Result<Installed, ProbeFailure> {
    let settings = format!("{}\n{}\n", r.server_url, r.token.expose());
    let mut started_as = String::new();
    for step in InstallStep::ALL {
        send(InstallEvent::Started(step));
        let input: Option<&[u8]> = match step {
            InstallStep::CopyBinary => Some(binary),
            InstallStep::WriteSettings => Some(settings.as_bytes()),
            InstallStep::WriteStartScript => Some(START_SCRIPT.as_bytes()),
            _ => None,
        };
        let limit = match step {
            InstallStep::CopyBinary => Duration::from_secs(300),
            _ => Duration::from_secs(60),
        };
        let output = match tokio::time::timeout(limit, run_one(target, step, input)).await {
            Ok(r) => r?,
            Err(_) => return Err(failure(step, format!("The step did not finish within {} seconds.", limit.as_secs()))),
        };
        if step == InstallStep::Start {
            started_as = output.lines().find_map(|l| l.strip_prefix("started as: ")).map(|s| s.split(" (").next().unwrap_or(s).to_owned()).unwrap_or_else(|| "start script".into());
        }
        send(InstallEvent::Finished { step, output });
    }
    Ok(Installed { started_as })
}

fn failure(step: InstallStep, technical: String) -> ProbeFailure {
    let kind = if step == InstallStep::Enroll { FailureKind::EnrollFailed } else { FailureKind::InstallFailed };
    ProbeFailure { hop: Hop::Target, step: step.step(), kind, technical: format!("[{}]\n{technical}", step.label()) }
}

async fn run_one(target: &Session, step: InstallStep, input: Option<&[u8]>) -> Result<String, ProbeFailure> {
    let mut cmd = target.command("sh");
    cmd.arg("-c").arg(script(step));
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped());
    cmd.stderr(Stdio::piped());
    let mut child = cmd.spawn().await.map_err(|e| failure(step, super::error_text(&e)))?;
    if let Some(bytes) = input {
        if let Some(mut stdin) = child.stdin().take() {
            let written = async {
                stdin.write_all(bytes).await?;
                stdin.flush().await?;
                stdin.shutdown().await
            }
            .await;
            drop(stdin);
            if let Err(e) = written {
                let out = child.wait_with_output().await.ok();
                let more = out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_default();
                return Err(failure(step, format!("writing to the host failed: {e}\n{more}")));
            }
        }
    }
    let out = child.wait_with_output().await.map_err(|e| failure(step, super::error_text(&e)))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(failure(step, format!("exit {}\n{text}", out.status.code().map(|c| c.to_string()).unwrap_or_else(|| "none".into()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_hold_no_placeholders_and_the_token_only_travels_on_stdin() {
        for step in InstallStep::ALL {
            let s = script(step);
            assert!(!s.contains("{}") && !s.contains("wke_"), "{step:?}");
        }
        // The token is read from a file into the environment of the enroll command only.
        assert!(script(InstallStep::Enroll).contains("WORKS_ENROLLMENT_TOKEN=\"$(cat enroll.token)\""));
        assert!(script(InstallStep::Enroll).contains("rm -f enroll.token"));
        assert!(!START_SCRIPT.contains("token"));
    }
}
