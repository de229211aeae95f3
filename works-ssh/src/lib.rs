//! # works-ssh
//!
//! The access layer's adapter: [`OpenSshProbe`] implements
//! [`works_core::probe::AccessProbe`] with the system OpenSSH through the `openssh`
//! crate. Each attempt gets its own folder (mode 0700) holding the key files (0600), a
//! known-hosts file with the pinned keys, and a generated ssh configuration passed with
//! `-F` (so nothing of the machine's own ssh configuration applies, and the options
//! reach the ProxyJump hop too). Each hop gets one multiplexed master for the attempt;
//! the target is reached through the jumpbox's master, and every check runs over the
//! target's master. Only the checks fixed in [`works_core::probe::Check`] are run.
//!
//! Everything written into the configuration is checked again here before any process
//! starts: a value that could become an ssh option is refused without spawning ssh.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::io::Write as _;
use std::num::NonZeroUsize;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};
use tokio::sync::mpsc::UnboundedSender;
use works_core::probe::{
    AccessProbe, Check, FailureKind, Hop, InstallEvent, InstallRequest, Installed, ProbeEndpoint, ProbeEvent, ProbeFailure, ProbeRoute, Step,
};

mod install;
use works_core::validate;

/// The host aliases of the generated configuration. Host keys are pinned under them
/// (`HostKeyAlias`), whatever the address and port.
const JUMPBOX: &str = "works-jumpbox";
const TARGET: &str = "works-target";

/// Test Access over the system OpenSSH (`ssh` on the PATH).
#[derive(Debug, Clone, Default)]
pub struct OpenSshProbe {
    /// Where attempt folders are made; the system's temporary folder when none.
    pub temp_root: Option<PathBuf>,
}

impl OpenSshProbe {
    pub fn new() -> Self {
        OpenSshProbe::default()
    }
}

/// Where and why a step failed, read from OpenSSH's messages.
pub fn classify(output: &str) -> (Step, FailureKind) {
    let o = output.to_ascii_lowercase();
    if o.contains("remote host identification has changed") || o.contains("host key verification failed") || o.contains("host key for") && o.contains("has changed") {
        return (Step::HostKey, FailureKind::HostKeyChanged);
    }
    if o.contains("permission denied (") || o.contains("too many authentication failures") || o.contains("no supported authentication methods") {
        return (Step::Authenticate, FailureKind::AuthenticationFailed);
    }
    if o.contains("could not resolve hostname") || o.contains("name or service not known") || o.contains("temporary failure in name resolution") || o.contains("no address associated") {
        return (Step::Connect, FailureKind::NameNotFound);
    }
    if o.contains("connection refused") {
        return (Step::Connect, FailureKind::ConnectionRefused);
    }
    if o.contains("no route to host") || o.contains("network is unreachable") {
        return (Step::Connect, FailureKind::NoRoute);
    }
    if o.contains("timed out") || o.contains("timeout") {
        return (Step::Connect, FailureKind::TimedOut);
    }
    (Step::Connect, FailureKind::Other)
}

/// Refuses, before anything runs, a value that could become an ssh option.
fn check_endpoint(e: &ProbeEndpoint, hop: Hop) -> Result<(), ProbeFailure> {
    let refuse = |what: String| ProbeFailure {
        hop,
        step: Step::Connect,
        kind: FailureKind::Other,
        technical: format!("Refused before running ssh: {what}"),
    };
    validate::ssh_address("address", &e.address).map_err(|err| refuse(err.to_string()))?;
    validate::ssh_user("user", &e.user).map_err(|err| refuse(err.to_string()))?;
    validate::ssh_port("port", Some(e.port)).map_err(|err| refuse(err.to_string()))?;
    if let Some(k) = &e.pinned_host_key {
        if k.chars().any(|c| c.is_control()) || k.split_whitespace().count() != 2 {
            return Err(refuse("the pinned host key is not one line of type and key".into()));
        }
    }
    Ok(())
}

/// A path safe to write into the configuration unquoted or quoted.
fn safe_path(p: &Path) -> Result<String, String> {
    let s = p.to_str().ok_or("the temporary folder's path is not text")?;
    if s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-')) {
        Ok(s.to_owned())
    } else {
        Err(format!("the temporary folder's path {s:?} has characters ssh would interpret; set TMPDIR to a plain path"))
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(contents.as_bytes())?;
    if !contents.ends_with('\n') {
        f.write_all(b"\n")?;
    }
    f.sync_all()
}

/// The generated configuration for a route.
pub fn config_text(dir: &str, route: &ProbeRoute, jump_control: Option<&str>) -> String {
    let mut c = String::new();
    let strict = |e: &ProbeEndpoint| if e.pinned_host_key.is_some() { "yes" } else { "accept-new" };
    if let Some(j) = &route.jumpbox {
        c.push_str(&format!(
            "Host {JUMPBOX}\n    HostName {}\n    Port {}\n    User {}\n    IdentityFile {dir}/jumpbox.key\n    HostKeyAlias {JUMPBOX}\n    StrictHostKeyChecking {}\n",
            j.address,
            j.port,
            j.user,
            strict(j)
        ));
        if let Some(ctl) = jump_control {
            c.push_str(&format!("    ControlPath {ctl}\n    ControlMaster no\n"));
        }
    }
    let t = &route.target;
    c.push_str(&format!(
        "Host {TARGET}\n    HostName {}\n    Port {}\n    User {}\n    IdentityFile {dir}/target.key\n    HostKeyAlias {TARGET}\n    StrictHostKeyChecking {}\n",
        t.address,
        t.port,
        t.user,
        strict(t)
    ));
    if route.jumpbox.is_some() {
        c.push_str(&format!("    ProxyJump {JUMPBOX}\n"));
    }
    c.push_str(&format!(
        "Host *\n    IdentitiesOnly yes\n    IdentityAgent none\n    UserKnownHostsFile {dir}/known_hosts\n    GlobalKnownHostsFile /dev/null\n    \
         ConnectTimeout {}\n    ConnectionAttempts 1\n    ForwardAgent no\n    ForwardX11 no\n    ClearAllForwardings yes\n    BatchMode yes\n    \
         PasswordAuthentication no\n    KbdInteractiveAuthentication no\n    PubkeyAuthentication yes\n    PreferredAuthentications publickey\n    \
         HashKnownHosts no\n    UpdateHostKeys no\n    CheckHostIP no\n    PermitLocalCommand no\n    ServerAliveInterval 5\n    ServerAliveCountMax 3\n",
        route.connect_timeout_secs.max(1)
    ));
    c
}

/// The known-hosts file with the pinned keys.
fn known_hosts_text(route: &ProbeRoute) -> String {
    let mut s = String::new();
    if let Some(k) = route.jumpbox.as_ref().and_then(|j| j.pinned_host_key.as_ref()) {
        s.push_str(&format!("{JUMPBOX} {k}\n"));
    }
    if let Some(k) = &route.target.pinned_host_key {
        s.push_str(&format!("{TARGET} {k}\n"));
    }
    s
}

/// The host key recorded for an alias in the attempt's known-hosts file.
fn recorded_key(dir: &Path, alias: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("known_hosts")).ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        let host = parts.next()?;
        if host.split(',').any(|h| h == alias) {
            Some(format!("{} {}", parts.next()?, parts.next()?))
        } else {
            None
        }
    })
}

/// The attempt's files; removed when dropped.
struct AttemptDir {
    dir: tempfile::TempDir,
    path: String,
}

impl AttemptDir {
    fn create(root: Option<&Path>, route: &ProbeRoute) -> Result<Self, String> {
        let mut b = tempfile::Builder::new();
        b.prefix("works-ssh-");
        let dir = match root {
            Some(r) => b.tempdir_in(r),
            None => b.tempdir(),
        }
        .map_err(|e| format!("could not make the attempt's temporary folder: {e}"))?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).map_err(|e| format!("could not restrict the attempt's folder: {e}"))?;
        let path = safe_path(dir.path())?;
        let p = dir.path();
        write_private(&p.join("target.key"), route.target.private_key.expose()).map_err(|e| format!("could not write the key file: {e}"))?;
        if let Some(j) = &route.jumpbox {
            write_private(&p.join("jumpbox.key"), j.private_key.expose()).map_err(|e| format!("could not write the key file: {e}"))?;
        }
        write_private(&p.join("known_hosts"), &known_hosts_text(route)).map_err(|e| format!("could not write the known-hosts file: {e}"))?;
        std::fs::create_dir(p.join("ctl")).map_err(|e| format!("could not make the control folder: {e}"))?;
        let me = AttemptDir { dir, path };
        me.write_config(route, None)?;
        Ok(me)
    }

    fn write_config(&self, route: &ProbeRoute, jump_control: Option<&str>) -> Result<(), String> {
        let path = self.dir.path().join("config");
        let tmp = self.dir.path().join("config.new");
        write_private(&tmp, &config_text(&self.path, route, jump_control)).map_err(|e| format!("could not write the ssh configuration: {e}"))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("could not write the ssh configuration: {e}"))
    }

    fn builder(&self, route: &ProbeRoute, endpoint: &ProbeEndpoint) -> SessionBuilder {
        let p = self.dir.path();
        let mut b = SessionBuilder::default();
        b.config_file(p.join("config"))
            .control_directory(p.join("ctl"))
            .user_known_hosts_file(p.join("known_hosts"))
            .known_hosts_check(if endpoint.pinned_host_key.is_some() { KnownHosts::Strict } else { KnownHosts::Add })
            .connect_timeout(Duration::from_secs(u64::from(route.connect_timeout_secs.max(1))))
            .server_alive_interval(Duration::from_secs(5));
        if let Some(idle) = NonZeroUsize::new(60) {
            b.control_persist(ControlPersist::IdleFor(idle));
        }
        b
    }
}

/// The text of a connection error: OpenSSH's own messages.
fn error_text(e: &openssh::Error) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// The jumpbox master's log (channel failures towards the target are written there).
fn master_log(session: &Session) -> String {
    session.control_socket().parent().map(|d| std::fs::read_to_string(d.join("log")).unwrap_or_default()).unwrap_or_default()
}

async fn close(session: Option<Session>) {
    if let Some(s) = session {
        if let Err(e) = s.close().await {
            tracing::debug!(error = %e, "closing an ssh master");
        }
    }
}

/// Open masters along a route: the jumpbox's (when there is one) and the target's.
struct Masters {
    jump: Option<Session>,
    target: Session,
}

impl Masters {
    async fn close(self) {
        close(Some(self.target)).await;
        close(self.jump).await;
    }
}

/// Connects along the route: the jumpbox with its own master, which the target's
/// ProxyJump then goes through, then the target. `on_step` hears each hop's connect
/// step, `on_connected` each verified host key.
async fn connect_route(
    dir: &AttemptDir,
    route: &ProbeRoute,
    on_step: &(dyn Fn(Hop) + Send + Sync),
    on_connected: &(dyn Fn(Hop, String) + Send + Sync),
) -> Result<Masters, ProbeFailure> {
    let mut jump_session = None;
    if let Some(j) = &route.jumpbox {
        on_step(Hop::Jumpbox);
        match dir.builder(route, j).connect(JUMPBOX).await {
            Ok(s) => {
                if let Some(key) = recorded_key(dir.dir.path(), JUMPBOX) {
                    on_connected(Hop::Jumpbox, key);
                }
                let ctl = safe_path(s.control_socket()).map_err(|technical| ProbeFailure { hop: Hop::Jumpbox, step: Step::Connect, kind: FailureKind::Other, technical });
                let ctl = match ctl {
                    Ok(c) => c,
                    Err(f) => {
                        close(Some(s)).await;
                        return Err(f);
                    }
                };
                if let Err(technical) = dir.write_config(route, Some(&ctl)) {
                    close(Some(s)).await;
                    return Err(ProbeFailure { hop: Hop::Jumpbox, step: Step::Connect, kind: FailureKind::Other, technical });
                }
                jump_session = Some(s);
            }
            Err(e) => {
                let technical = error_text(&e);
                let (step, kind) = classify(&technical);
                return Err(ProbeFailure { hop: Hop::Jumpbox, step, kind, technical });
            }
        }
    }

    on_step(Hop::Target);
    let target = match dir.builder(route, &route.target).connect(TARGET).await {
        Ok(s) => s,
        Err(e) => {
            let mut technical = error_text(&e);
            let (mut step, mut kind) = classify(&technical);
            if let Some(js) = &jump_session {
                // Through a jumpbox, why the jumpbox could not open the way to the
                // target is in the jumpbox master's log.
                let log = master_log(js);
                if !log.trim().is_empty() {
                    technical.push_str("\n--- jumpbox ---\n");
                    technical.push_str(log.trim());
                }
                if matches!(kind, FailureKind::Other | FailureKind::TimedOut) {
                    let (s2, k2) = classify(&log);
                    if k2 != FailureKind::Other {
                        step = s2;
                        kind = k2;
                    }
                }
            }
            close(jump_session).await;
            return Err(ProbeFailure { hop: Hop::Target, step, kind, technical });
        }
    };
    if let Some(key) = recorded_key(dir.dir.path(), TARGET) {
        on_connected(Hop::Target, key);
    }
    Ok(Masters { jump: jump_session, target })
}

fn check_route(route: &ProbeRoute) -> Result<(), ProbeFailure> {
    if let Some(j) = &route.jumpbox {
        check_endpoint(j, Hop::Jumpbox)?;
    }
    check_endpoint(&route.target, Hop::Target)
}

#[async_trait]
impl AccessProbe for OpenSshProbe {
    async fn probe(&self, route: ProbeRoute, events: UnboundedSender<ProbeEvent>) -> Result<(), ProbeFailure> {
        check_route(&route)?;
        let first = if route.jumpbox.is_some() { Hop::Jumpbox } else { Hop::Target };
        let dir = AttemptDir::create(self.temp_root.as_deref(), &route)
            .map_err(|technical| ProbeFailure { hop: first, step: Step::Connect, kind: FailureKind::Other, technical })?;
        let send = |ev: ProbeEvent| {
            let _ = events.send(ev);
        };
        let masters = connect_route(
            &dir,
            &route,
            &|hop| send(ProbeEvent::Step { hop, step: Step::Connect }),
            &|hop, host_key| send(ProbeEvent::Connected { hop, host_key }),
        )
        .await?;

        // The fixed checks, over the target's master.
        send(ProbeEvent::Step { hop: Hop::Target, step: Step::Discover });
        let limit = Duration::from_secs(u64::from(route.command_timeout_secs.max(1)));
        let mut docker_started = false;
        for check in Check::ALL {
            if !docker_started && matches!(check, Check::DockerCli) {
                docker_started = true;
                send(ProbeEvent::Step { hop: Hop::Target, step: Step::Docker });
            }
            let argv = check.argv();
            let Some((program, args)) = argv.split_first() else { continue };
            let mut cmd = masters.target.command(*program);
            cmd.args(args.iter().copied());
            let (exit, stdout, stderr) = match tokio::time::timeout(limit, cmd.output()).await {
                Ok(Ok(out)) => (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned()),
                Ok(Err(e)) => (None, String::new(), error_text(&e)),
                Err(_) => (None, String::new(), format!("did not finish within {} seconds", limit.as_secs())),
            };
            send(ProbeEvent::CheckDone { check, exit, stdout, stderr });
        }
        masters.close().await;
        drop(dir);
        Ok(())
    }

    async fn install_agent(&self, request: InstallRequest, events: UnboundedSender<InstallEvent>) -> Result<Installed, ProbeFailure> {
        let route = &request.route;
        check_route(route)?;
        install::check_request(&request)?;
        let binary = tokio::fs::read(&request.binary).await.map_err(|e| ProbeFailure {
            hop: Hop::Target,
            step: Step::Install,
            kind: FailureKind::InstallFailed,
            technical: format!("The agent binary {} could not be read on this server: {e}", request.binary.display()),
        })?;
        let first = if route.jumpbox.is_some() { Hop::Jumpbox } else { Hop::Target };
        let dir = AttemptDir::create(self.temp_root.as_deref(), route)
            .map_err(|technical| ProbeFailure { hop: first, step: Step::Connect, kind: FailureKind::Other, technical })?;
        let send = |ev: InstallEvent| {
            let _ = events.send(ev);
        };
        let masters = connect_route(&dir, route, &|_| {}, &|hop, host_key| send(InstallEvent::Connected { hop, host_key })).await?;
        let result = install::run(&masters.target, &request, &binary, &send).await;
        masters.close().await;
        drop(dir);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use works_core::probe::SecretText;

    #[test]
    fn openssh_messages_are_classified() {
        let cases = [
            ("ssh: Could not resolve hostname nowhere.invalid: Name or service not known", FailureKind::NameNotFound),
            ("ssh: connect to host 198.18.0.2 port 22: Connection refused", FailureKind::ConnectionRefused),
            ("ssh: connect to host 198.18.0.2 port 22: Connection timed out", FailureKind::TimedOut),
            ("Connection timed out during banner exchange", FailureKind::TimedOut),
            ("ssh: connect to host 198.19.0.2 port 22: No route to host", FailureKind::NoRoute),
            ("root@198.18.0.2: Permission denied (publickey).", FailureKind::AuthenticationFailed),
            ("@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.", FailureKind::HostKeyChanged),
            ("channel 0: open failed: connect failed: Connection refused\nstdio forwarding failed", FailureKind::ConnectionRefused),
            ("kex_exchange_identification: Connection closed by remote host", FailureKind::Other),
        ];
        for (text, kind) in cases {
            assert_eq!(classify(text).1, kind, "{text}");
        }
    }

    fn endpoint(address: &str, user: &str) -> ProbeEndpoint {
        ProbeEndpoint { address: address.into(), port: 22, user: user.into(), private_key: SecretText::new("k".into()), pinned_host_key: None }
    }

    #[test]
    fn the_configuration_covers_both_hops() {
        let route = ProbeRoute { jumpbox: Some(endpoint("198.18.0.2", "jump")), target: endpoint("198.19.0.2", "root"), connect_timeout_secs: 7, command_timeout_secs: 5 };
        let c = config_text("/tmp/x", &route, Some("/tmp/x/ctl/m"));
        for needle in [
            "ProxyJump works-jumpbox",
            "IdentityFile /tmp/x/jumpbox.key",
            "IdentityFile /tmp/x/target.key",
            "UserKnownHostsFile /tmp/x/known_hosts",
            "StrictHostKeyChecking accept-new",
            "ConnectTimeout 7",
            "ForwardAgent no",
            "BatchMode yes",
            "IdentitiesOnly yes",
            "ControlPath /tmp/x/ctl/m",
        ] {
            assert!(c.contains(needle), "{needle}\n{c}");
        }
    }

    #[tokio::test]
    async fn option_like_values_are_refused_before_ssh_runs() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let probe = OpenSshProbe { temp_root: Some(dir.path().to_owned()) };
        for (address, user) in [("-oProxyCommand=touch /tmp/x", "root"), ("198.18.0.2", "-oProxyCommand=x"), ("$(id)", "root"), ("198.18.0.2", "%h")] {
            let route = ProbeRoute { jumpbox: None, target: endpoint(address, user), connect_timeout_secs: 1, command_timeout_secs: 1 };
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let f = probe.probe(route, tx).await.err().unwrap_or_else(|| panic!("{address} {user} was accepted"));
            assert!(f.technical.starts_with("Refused before running ssh"), "{}", f.technical);
        }
        // Nothing was even written: no attempt folder was made.
        assert_eq!(std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(99), 0);
    }
}
