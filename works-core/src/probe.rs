//! What the core asks of an SSH adapter: connect along a route (directly, or through a
//! jumpbox), verify host keys, and run the built-in read-only discovery checks — and
//! nothing else. The checks and their command lines are fixed here, in code; no
//! operator-supplied command string ever reaches a host. `works-ssh` implements
//! [`AccessProbe`] with the system OpenSSH.
//!
//! The adapter reports as it goes through [`ProbeEvent`]s and ends with a
//! [`ProbeFailure`] naming the hop, the step and the kind of failure, with the raw
//! output apart. The core turns that into plain English ([`explain`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Which machine of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    Jumpbox,
    Target,
}

impl Hop {
    pub fn as_str(self) -> &'static str {
        match self {
            Hop::Jumpbox => "jumpbox",
            Hop::Target => "target",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jumpbox" => Some(Hop::Jumpbox),
            "target" => Some(Hop::Target),
            _ => None,
        }
    }
}

/// A step of an attempt on one hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Reaching the machine and its SSH server.
    Connect,
    /// Checking the host key against the pinned one.
    HostKey,
    /// Signing in with the credential.
    Authenticate,
    /// Running the built-in read-only checks.
    Discover,
    /// Checking that Docker is installed and usable.
    Docker,
    /// Copying the agent and writing its start script (agent installation).
    Install,
    /// The agent exchanging its one-time token for its own credential, and starting.
    Enroll,
    /// Nothing left to do.
    Done,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::HostKey => "host_key",
            Step::Authenticate => "authenticate",
            Step::Discover => "discover",
            Step::Docker => "docker",
            Step::Install => "install",
            Step::Enroll => "enroll",
            Step::Done => "done",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Step::Connect, Step::HostKey, Step::Authenticate, Step::Discover, Step::Docker, Step::Install, Step::Enroll, Step::Done].into_iter().find(|v| v.as_str() == s)
    }
}

/// Why an attempt stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The name of the machine does not resolve.
    NameNotFound,
    /// Nothing listens for SSH at the address and port.
    ConnectionRefused,
    /// No answer in time.
    TimedOut,
    /// The network has no route to the machine.
    NoRoute,
    /// The jumpbox could not be reached (any of the above, on the jumpbox).
    JumpboxUnreachable,
    /// The machine refused the credential.
    AuthenticationFailed,
    /// The machine presented a different host key than the pinned one.
    HostKeyChanged,
    /// Docker is not installed on the target.
    DockerMissing,
    /// Docker is installed but the user may not use it.
    DockerNotPermitted,
    /// Docker is installed but its engine does not answer.
    DockerNotRunning,
    /// The attempt was cut off (the server stopped, or it ran past its time).
    Interrupted,
    /// Copying the agent, writing its files or starting it failed on the host.
    InstallFailed,
    /// The agent was copied but could not enroll with the server from the host.
    EnrollFailed,
    /// Anything else; the technical details tell more.
    Other,
}

impl FailureKind {
    pub const ALL: [FailureKind; 14] = [
        FailureKind::NameNotFound,
        FailureKind::ConnectionRefused,
        FailureKind::TimedOut,
        FailureKind::NoRoute,
        FailureKind::JumpboxUnreachable,
        FailureKind::AuthenticationFailed,
        FailureKind::HostKeyChanged,
        FailureKind::DockerMissing,
        FailureKind::DockerNotPermitted,
        FailureKind::DockerNotRunning,
        FailureKind::Interrupted,
        FailureKind::InstallFailed,
        FailureKind::EnrollFailed,
        FailureKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NameNotFound => "name_not_found",
            FailureKind::ConnectionRefused => "connection_refused",
            FailureKind::TimedOut => "timed_out",
            FailureKind::NoRoute => "no_route",
            FailureKind::JumpboxUnreachable => "jumpbox_unreachable",
            FailureKind::AuthenticationFailed => "authentication_failed",
            FailureKind::HostKeyChanged => "host_key_changed",
            FailureKind::DockerMissing => "docker_missing",
            FailureKind::DockerNotPermitted => "docker_not_permitted",
            FailureKind::DockerNotRunning => "docker_not_running",
            FailureKind::Interrupted => "interrupted",
            FailureKind::InstallFailed => "install_failed",
            FailureKind::EnrollFailed => "enroll_failed",
            FailureKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A failure to reach a machine at all.
    pub fn is_network(self) -> bool {
        matches!(self, FailureKind::NameNotFound | FailureKind::ConnectionRefused | FailureKind::TimedOut | FailureKind::NoRoute)
    }
}

/// A built-in, read-only discovery check. The command lines are fixed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    OsRelease,
    Kernel,
    Arch,
    Cpus,
    Memory,
    Disk,
    DockerCli,
    DockerEngine,
    Containers,
}

impl Check {
    /// Every check, in the order they run.
    pub const ALL: [Check; 9] =
        [Check::OsRelease, Check::Kernel, Check::Arch, Check::Cpus, Check::Memory, Check::Disk, Check::DockerCli, Check::DockerEngine, Check::Containers];

    /// The program and its arguments. Each is read-only; none takes input from anyone.
    pub fn argv(self) -> &'static [&'static str] {
        match self {
            Check::OsRelease => &["cat", "/etc/os-release"],
            Check::Kernel => &["uname", "-r"],
            Check::Arch => &["uname", "-m"],
            Check::Cpus => &["nproc"],
            Check::Memory => &["cat", "/proc/meminfo"],
            Check::Disk => &["df", "-P", "-k", "/"],
            Check::DockerCli => &["docker", "--version"],
            Check::DockerEngine => &["docker", "version", "--format", "{{.Server.Version}}"],
            Check::Containers => &["docker", "ps", "--no-trunc", "--format", "{{.Names}}\t{{.Image}}\t{{.Status}}"],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Check::OsRelease => "os_release",
            Check::Kernel => "kernel",
            Check::Arch => "arch",
            Check::Cpus => "cpus",
            Check::Memory => "memory",
            Check::Disk => "disk",
            Check::DockerCli => "docker_cli",
            Check::DockerEngine => "docker_engine",
            Check::Containers => "containers",
        }
    }

    /// What the check finds out, for the transcript.
    pub fn label(self) -> &'static str {
        match self {
            Check::OsRelease => "operating system",
            Check::Kernel => "kernel version",
            Check::Arch => "processor architecture",
            Check::Cpus => "number of processors",
            Check::Memory => "memory",
            Check::Disk => "disk space of /",
            Check::DockerCli => "whether Docker is installed",
            Check::DockerEngine => "whether the Docker engine answers this user",
            Check::Containers => "running containers",
        }
    }
}

/// A secret text that never shows in debug output.
#[derive(Clone)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(s: String) -> Self {
        SecretText(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// One machine of a route, with what is needed to reach it. Every text field passed the
/// checks of [`crate::validate`] (`ssh_address`, `ssh_user`).
#[derive(Debug, Clone)]
pub struct ProbeEndpoint {
    pub address: String,
    pub port: u16,
    pub user: String,
    /// The private key in OpenSSH format.
    pub private_key: SecretText,
    /// The pinned host key (`<type> <base64>`); none on first contact.
    pub pinned_host_key: Option<String>,
}

/// Where to go and how long to wait.
#[derive(Debug, Clone)]
pub struct ProbeRoute {
    pub jumpbox: Option<ProbeEndpoint>,
    pub target: ProbeEndpoint,
    /// For each TCP connection and SSH handshake.
    pub connect_timeout_secs: u32,
    /// For each check.
    pub command_timeout_secs: u32,
}

/// What the adapter reports while it works.
#[derive(Debug, Clone)]
pub enum ProbeEvent {
    /// Started a step on a hop.
    Step { hop: Hop, step: Step },
    /// Signed in; the host key the machine presented (`<type> <base64>`), now verified.
    Connected { hop: Hop, host_key: String },
    /// A check ran. `exit` is none when it could not be run at all.
    CheckDone { check: Check, exit: Option<i32>, stdout: String, stderr: String },
}

/// Where and why the adapter stopped, with the raw OpenSSH output.
#[derive(Debug, Clone)]
pub struct ProbeFailure {
    pub hop: Hop,
    pub step: Step,
    pub kind: FailureKind,
    pub technical: String,
}

/// The steps of an agent installation, in order. Each runs one command fixed in the
/// adapter's code; what varies (the binary, the token, the server address) travels on
/// standard input, never on a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallStep {
    /// Make the agent's folder (`~/.works-agent`, mode 0700).
    Prepare,
    /// Copy the agent binary.
    CopyBinary,
    /// Write the server address and the one-time enrollment token (mode 0600).
    WriteSettings,
    /// Write the start script.
    WriteStartScript,
    /// Exchange the token for the agent's own credential; the token file is removed.
    Enroll,
    /// Start the agent: a systemd service where systemd runs, otherwise the start script
    /// in the background (setsid, nohup).
    Start,
}

impl InstallStep {
    pub const ALL: [InstallStep; 6] =
        [InstallStep::Prepare, InstallStep::CopyBinary, InstallStep::WriteSettings, InstallStep::WriteStartScript, InstallStep::Enroll, InstallStep::Start];

    /// What the step does, for the transcript.
    pub fn label(self) -> &'static str {
        match self {
            InstallStep::Prepare => "making the agent's folder ~/.works-agent",
            InstallStep::CopyBinary => "copying the agent",
            InstallStep::WriteSettings => "writing the server address and the one-time enrollment token",
            InstallStep::WriteStartScript => "writing the start script",
            InstallStep::Enroll => "enrolling the agent with this server",
            InstallStep::Start => "starting the agent",
        }
    }

    pub fn step(self) -> Step {
        match self {
            InstallStep::Enroll | InstallStep::Start => Step::Enroll,
            _ => Step::Install,
        }
    }
}

/// What an agent installation needs. `server_url` was checked by the core (an http or
/// https address of plain characters).
#[derive(Debug, Clone)]
pub struct InstallRequest {
    pub route: ProbeRoute,
    /// The agent binary on this server (the `works` executable, which hosts the agent).
    pub binary: std::path::PathBuf,
    /// The address the agent reaches this server at.
    pub server_url: String,
    /// The one-time enrollment token.
    pub token: SecretText,
}

/// What the adapter reports while it installs.
#[derive(Debug, Clone)]
pub enum InstallEvent {
    /// Signed in to a hop; its host key (verified against the pinned one).
    Connected { hop: Hop, host_key: String },
    /// A step started.
    Started(InstallStep),
    /// A step finished; `output` is what its command printed (no secrets: none are on
    /// command lines, and the core redacts it again).
    Finished { step: InstallStep, output: String },
}

/// How the agent was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// `systemd` or `start script`.
    pub started_as: String,
}

/// Connects along a route and runs the built-in checks ([`Check::ALL`]), reporting
/// through `events`. Must never run anything else.
#[async_trait]
pub trait AccessProbe: Send + Sync + 'static {
    async fn probe(&self, route: ProbeRoute, events: tokio::sync::mpsc::UnboundedSender<ProbeEvent>) -> Result<(), ProbeFailure>;

    /// Installs the agent along a route with the fixed steps of [`InstallStep`]. Adapters
    /// that cannot, say so.
    async fn install_agent(&self, request: InstallRequest, events: tokio::sync::mpsc::UnboundedSender<InstallEvent>) -> Result<Installed, ProbeFailure> {
        let _ = (request, events);
        Err(ProbeFailure { hop: Hop::Target, step: Step::Install, kind: FailureKind::InstallFailed, technical: "This SSH adapter cannot install agents.".into() })
    }
}

/// The names that make an explanation concrete.
pub struct Subject<'a> {
    pub host_name: &'a str,
    pub host_address: &'a str,
    pub jumpbox_name: Option<&'a str>,
    pub jumpbox_address: Option<&'a str>,
    pub host_id: &'a str,
}

/// The reason (plain English) and the next action for a failure on a hop.
pub fn explain(kind: FailureKind, hop: Hop, s: &Subject<'_>) -> (String, String) {
    let (name, address, what) = match hop {
        Hop::Jumpbox => (s.jumpbox_name.unwrap_or("the jumpbox"), s.jumpbox_address.unwrap_or(""), "jumpbox"),
        Hop::Target => (s.host_name, s.host_address, "host"),
    };
    let via = match (hop, s.jumpbox_name) {
        (Hop::Target, Some(j)) => format!(" (reached through jumpbox {j})"),
        _ => String::new(),
    };
    let retest = format!("then run Test Access again (works host test-access {}).", s.host_id);
    match kind {
        FailureKind::NameNotFound => (
            format!("The {what} {name}{via} could not be found: the name {address} does not resolve to an address."),
            format!("Check the {what}'s address for typos, or use its IP address; {retest}"),
        ),
        FailureKind::ConnectionRefused => (
            format!("The {what} {name}{via} refused the connection: nothing accepts SSH connections at {address} on that port."),
            format!("Check that the SSH server is running on {name} and that the port is right; {retest}"),
        ),
        FailureKind::TimedOut => (
            format!("The {what} {name}{via} did not answer in time at {address}."),
            format!("Check that {name} is switched on and that a firewall lets SSH through; {retest}"),
        ),
        FailureKind::NoRoute => (
            format!("There is no network route to the {what} {name}{via} at {address}."),
            match (hop, s.jumpbox_name) {
                (Hop::Target, None) => format!("This host may be reachable only through a jumpbox: give it a jumpbox route, or check the network; {retest}"),
                _ => format!("Check the address and the network between here and {name}; {retest}"),
            },
        ),
        FailureKind::JumpboxUnreachable => (
            format!("The jumpbox {name} could not be reached at {address}, so the host {} was not tried.", s.host_name),
            format!("Check that the jumpbox is running and its SSH server accepts connections; {retest}"),
        ),
        FailureKind::AuthenticationFailed => (
            format!("The {what} {name}{via} refused the SSH key: signing in failed."),
            format!("Add the credential's public key to the user's authorized_keys on {name}, or choose the right user and credential; {retest}"),
        ),
        FailureKind::HostKeyChanged => (
            format!("The {what} {name}{via} presented a different host key than the one pinned at first contact. The attempt was stopped before signing in: the machine may have been rebuilt, or someone may be intercepting the connection."),
            format!("Confirm with the machine's owner that {name} was rebuilt or its SSH keys were replaced. Only then clear the pinned key (works {what} forget-host-key) and test again."),
        ),
        FailureKind::DockerMissing => (
            format!("SSH access to {name} works, but Docker is not installed there, so OpenClaw cannot run on it."),
            format!("Install Docker Engine on {name}; {retest}"),
        ),
        FailureKind::DockerNotPermitted => (
            format!("SSH access to {name} works and Docker is installed, but the SSH user may not use it (permission denied on the Docker socket)."),
            format!("Add the SSH user to the docker group on {name} (then sign out and in), or use a user that may run Docker; {retest}"),
        ),
        FailureKind::DockerNotRunning => (
            format!("SSH access to {name} works and Docker is installed, but the Docker engine is not running."),
            format!("Start the Docker engine on {name} (systemctl start docker); {retest}"),
        ),
        FailureKind::Interrupted => (
            "The attempt was cut off before it finished: it ran past its time or the server stopped.".to_owned(),
            format!("Run Test Access again (works host test-access {})", s.host_id),
        ),
        FailureKind::InstallFailed => (
            format!("The agent could not be installed on the {what} {name}{via}: copying it, writing its start script or starting it failed."),
            format!("Check that the SSH user may write to its home folder on {name} and that the disk is not full (the technical details show the failing step); then request the installation again (works host install-agent {}).", s.host_id),
        ),
        FailureKind::EnrollFailed => (
            format!("The agent was copied to the {what} {name}{via} but could not enroll with this server: the server's address is not reachable from {name}, or the one-time token was refused."),
            format!("Check that {name} can reach this server's agent address (WORKS_AGENT_SERVER_URL) through its firewall; then request the installation again (works host install-agent {}).", s.host_id),
        ),
        FailureKind::Other => (
            format!("The attempt on the {what} {name}{via} failed for a reason OpenSSH did not make clear."),
            format!("Read the technical details below; {retest}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for k in FailureKind::ALL {
            assert_eq!(FailureKind::parse(k.as_str()), Some(k));
        }
        for s in [Step::Connect, Step::HostKey, Step::Authenticate, Step::Discover, Step::Docker, Step::Install, Step::Enroll, Step::Done] {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn every_check_is_a_fixed_read_only_command() {
        for c in Check::ALL {
            let argv = c.argv();
            assert!(!argv.is_empty());
            assert!(["cat", "uname", "nproc", "df", "docker"].contains(&argv[0]), "{c:?}");
            if argv[0] == "docker" {
                assert!(["--version", "version", "ps"].contains(&argv[1]), "{c:?}");
            }
        }
    }

    #[test]
    fn every_failure_has_a_reason_and_a_next_action() {
        let s = Subject { host_name: "acme-web", host_address: "198.18.1.2", jumpbox_name: Some("bastion"), jumpbox_address: Some("198.18.0.2"), host_id: "h1" };
        for k in FailureKind::ALL {
            for hop in [Hop::Jumpbox, Hop::Target] {
                let (reason, next) = explain(k, hop, &s);
                assert!(!reason.is_empty() && !next.is_empty());
            }
        }
    }
}
