//! The OpenClaw CLI as a control surface: every command of the pinned version,
//! classified, with the few that may be run.
//!
//! The inventory was taken from `openclaw --help` and each command's own `--help` in the
//! pinned image, and each command that looked read-only was run once in a fresh container
//! to see whether it wrote anything under `$HOME/.openclaw`. A command is one of:
//!
//! - **read**: shows something and changes nothing;
//! - **creates state**: reads, but writes state as it goes (a device identity, a state
//!   database, a session);
//! - **mutates**: changes configuration, credentials, plugins or running services;
//! - **destructive**: deletes data or undoes an installation.
//!
//! Only allowlisted read commands run, and only as the fixed argument list written here:
//! a caller names a command by its id, never by a string of its own. `gateway call` (an
//! arbitrary RPC that can run `update.run`) and anything that pairs a device are never
//! allowed. The agent maps the id back to its arguments with [`runnable`], which checks
//! the allowlist again.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What running a command does to the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CliClass {
    /// Shows something and changes nothing.
    Read,
    /// Reads, but writes state as it goes (device identity, state database, sessions).
    CreatesState,
    /// Changes configuration, credentials, plugins or running services.
    Mutates,
    /// Deletes data or undoes an installation.
    Destructive,
}

impl CliClass {
    pub fn as_str(self) -> &'static str {
        match self {
            CliClass::Read => "read",
            CliClass::CreatesState => "creates_state",
            CliClass::Mutates => "mutates",
            CliClass::Destructive => "destructive",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CliClass::Read => "Read-only",
            CliClass::CreatesState => "Creates state",
            CliClass::Mutates => "Changes the instance",
            CliClass::Destructive => "Destructive",
        }
    }
}

/// One command of the inventory, as written in this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CliSpec {
    /// Stable id: what callers name.
    pub id: &'static str,
    /// The arguments after `openclaw`, exactly as run.
    pub argv: &'static [&'static str],
    pub class: CliClass,
    /// What it does, in plain English.
    pub description: &'static str,
    /// On the allowlist: may be run. Only read commands ever are.
    pub allowed: bool,
}

/// One command of the inventory as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CliCommand {
    pub id: String,
    /// The command line, e.g. `openclaw health --json`.
    pub command: String,
    pub class: CliClass,
    pub description: String,
    /// Whether the product runs it.
    pub runnable: bool,
    /// When it is not runnable: why, in plain English.
    pub why_not: Option<String>,
}

/// The OpenClaw version this inventory was taken from.
pub const INVENTORY_VERSION: &str = crate::openclaw::DEFAULT_VERSION;

macro_rules! spec {
    ($id:literal, [$($arg:literal),*], $class:ident, $allowed:literal, $desc:literal) => {
        CliSpec { id: $id, argv: &[$($arg),*], class: CliClass::$class, description: $desc, allowed: $allowed }
    };
}

/// Every command of the pinned version's CLI, by area. Allowlisted ones first.
pub const INVENTORY: &[CliSpec] = &[
    // --- allowlisted: read-only, create no state ---
    spec!("version", ["--version"], Read, true, "Prints the OpenClaw version and build."),
    spec!("health", ["health", "--json"], Read, true, "Fetches health from the running gateway: plugins, channels and agents, as JSON."),
    spec!("gateway-health", ["gateway", "health", "--json"], Read, true, "Fetches the gateway's own health report, as JSON."),
    spec!("status", ["status", "--json"], Read, true, "Shows channel health and recent session recipients, as JSON."),
    spec!("channels-list", ["channels", "list", "--json"], Read, true, "Lists the configured chat channels, as JSON."),
    spec!("plugins-list", ["plugins", "list", "--json"], Read, true, "Lists the discovered plugins and whether each is enabled, as JSON."),
    spec!("agents-list", ["agents", "list", "--json"], Read, true, "Lists the configured agents and their workspaces, as JSON."),
    spec!("config-file", ["config", "file"], Read, true, "Prints the path of the active configuration file."),
    spec!("doctor-lint", ["doctor", "--lint", "--json"], Read, true, "Runs the read-only health checks and reports findings, as JSON (never repairs)."),
    // --- read, but not allowlisted ---
    spec!("status-all", ["status", "--all"], Read, false, "Full diagnosis as pasteable text; it includes configuration details."),
    spec!("status-deep", ["status", "--deep", "--json"], Read, false, "Probes every channel's remote service; it contacts chat providers."),
    spec!("gateway-status", ["gateway", "status"], Read, false, "Shows the gateway service status and probes connectivity."),
    spec!("gateway-probe", ["gateway", "probe"], Read, false, "Shows gateway reachability and auth capability, local and remote."),
    spec!("gateway-stability", ["gateway", "stability"], Read, false, "Fetches payload-free stability diagnostics from the gateway."),
    spec!("gateway-usage-cost", ["gateway", "usage-cost"], Read, false, "Sums usage cost from session logs."),
    spec!("gateway-discover", ["gateway", "discover"], Read, false, "Looks for gateways on the network with Bonjour; it sends network traffic."),
    spec!("channels-status", ["channels", "status"], Read, false, "Shows channel status and login state."),
    spec!("channels-capabilities", ["channels", "capabilities"], Read, false, "Shows each provider's capabilities."),
    spec!("channels-logs", ["channels", "logs"], Read, false, "Shows recent channel logs; they can carry message content."),
    spec!("logs", ["logs", "--limit", "200", "--json"], Read, false, "Tails the gateway's file logs over RPC; they can carry message content."),
    spec!("update-status", ["update", "status", "--json"], Read, false, "Shows the update channel and version status; it contacts the package registry."),
    spec!("security-audit", ["security", "audit", "--json"], Read, false, "Audits configuration and local state for common security mistakes (without --fix); it opens the state database."),
    spec!("config-get", ["config", "get"], Read, false, "Reads one configuration value by path; values can be secrets."),
    spec!("config-schema", ["config", "schema"], Read, false, "Prints the JSON schema of the configuration file."),
    spec!("config-validate", ["config", "validate"], Read, false, "Validates the configuration against the schema without starting the gateway."),
    spec!("backup-verify", ["backup", "verify"], Read, false, "Validates a backup archive and its manifest; it needs a path."),
    spec!("models-status", ["models", "status", "--json"], Read, false, "Shows the configured model state and provider auth."),
    spec!("models-list", ["models", "list"], Read, false, "Lists the configured models."),
    spec!("sessions-list", ["sessions", "list", "--json"], Read, false, "Lists stored conversation sessions; it shows who talked to the instance."),
    spec!("cron-list", ["cron", "list"], Read, false, "Lists scheduled automations."),
    spec!("tasks-list", ["tasks", "list"], Read, false, "Lists durable background tasks."),
    spec!("database-status", ["database", "status"], Read, false, "Inspects database schema compatibility."),
    spec!("docs", ["docs"], Read, false, "Searches the live OpenClaw documentation; it contacts the internet."),
    spec!("help", ["--help"], Read, false, "Prints the command list."),
    // --- read, but creates state ---
    spec!("skills-list", ["skills", "list", "--json"], CreatesState, false, "Lists skills; on first use it creates a device identity and the state database."),
    spec!("devices-list", ["devices", "list"], CreatesState, false, "Lists paired devices; it connects as a device and may start pairing."),
    spec!("nodes-status", ["nodes", "status"], CreatesState, false, "Lists gateway-owned nodes; it connects as a device and may start pairing."),
    spec!("pairing-list", ["pairing", "list"], CreatesState, false, "Lists pending DM pairing requests; it connects as a device."),
    spec!("qr", ["qr"], CreatesState, false, "Generates a mobile pairing code: it creates a pairing credential."),
    spec!("dashboard", ["dashboard"], CreatesState, false, "Opens the Control UI with the current token."),
    spec!("tui", ["tui"], CreatesState, false, "Opens a terminal UI connected to the gateway: it creates a session."),
    spec!("chat", ["chat"], CreatesState, false, "Opens a local terminal chat: it creates a session."),
    spec!("resume", ["resume"], CreatesState, false, "Resumes a recent gateway session in the terminal UI."),
    spec!("agent", ["agent"], CreatesState, false, "Runs an agent turn through the gateway: it creates a session and may act."),
    spec!("connect", ["connect"], CreatesState, false, "Connects this machine to a gateway as a node: it pairs a device."),
    spec!("gateway-diagnostics", ["gateway", "diagnostics"], CreatesState, false, "Exports local support diagnostics to a file."),
    spec!("triage", ["triage"], CreatesState, false, "Collects diagnostics and opens a local coding agent."),
    // --- mutates ---
    spec!("gateway-call", ["gateway", "call"], Mutates, false, "Calls any gateway RPC method, including update.run: an arbitrary remote call, never allowed."),
    spec!("gateway-run", ["gateway", "run"], Mutates, false, "Runs a gateway in the foreground."),
    spec!("gateway-start", ["gateway", "start"], Mutates, false, "Starts the gateway service."),
    spec!("gateway-stop", ["gateway", "stop"], Mutates, false, "Stops the gateway service."),
    spec!("gateway-restart", ["gateway", "restart"], Mutates, false, "Restarts the gateway service."),
    spec!("gateway-install", ["gateway", "install"], Mutates, false, "Installs and starts the gateway service."),
    spec!("gateway-suspend", ["gateway", "suspend"], Mutates, false, "Prepares the gateway for host suspension."),
    spec!("gateway-resume", ["gateway", "resume"], Mutates, false, "Releases a gateway suspension."),
    spec!("gateway-auth-token", ["gateway", "auth-token"], Mutates, false, "Reveals the shared gateway token: a secret, never shown."),
    spec!("channels-add", ["channels", "add"], Mutates, false, "Adds or updates a channel account."),
    spec!("channels-login", ["channels", "login"], Mutates, false, "Links a channel account."),
    spec!("channels-logout", ["channels", "logout"], Mutates, false, "Logs out of a channel session."),
    spec!("channels-resolve", ["channels", "resolve"], Mutates, false, "Resolves channel and user names to ids with the providers."),
    spec!("channels-dead-letters", ["channels", "dead-letters"], Mutates, false, "Inspects and resubmits failed inbound channel events."),
    spec!("config-set", ["config", "set"], Mutates, false, "Sets configuration values."),
    spec!("config-patch", ["config", "patch"], Mutates, false, "Patches the configuration in one write."),
    spec!("config-unset", ["config", "unset"], Mutates, false, "Removes a configuration value."),
    spec!("configure", ["configure"], Mutates, false, "Interactive configuration of credentials, channels, gateway and agents."),
    spec!("onboard", ["onboard"], Mutates, false, "Guided setup of auth, models, gateway, workspace and channels."),
    spec!("setup", ["setup"], Mutates, false, "Creates the baseline configuration and workspace."),
    spec!("doctor-fix", ["doctor", "--fix"], Mutates, false, "Applies recommended repairs."),
    spec!("security-audit-fix", ["security", "audit", "--fix"], Mutates, false, "Applies security fixes to configuration."),
    spec!("update", ["update"], Mutates, false, "Updates OpenClaw in place (in containers, an upgrade replaces the image instead)."),
    spec!("update-repair", ["update", "repair"], Mutates, false, "Reconciles abandoned updates."),
    spec!("plugins-install", ["plugins", "install"], Mutates, false, "Installs a plugin or hook pack."),
    spec!("plugins-update", ["plugins", "update"], Mutates, false, "Updates installed plugins."),
    spec!("plugins-enable", ["plugins", "enable"], Mutates, false, "Enables plugins in the configuration."),
    spec!("plugins-disable", ["plugins", "disable"], Mutates, false, "Disables plugins in the configuration."),
    spec!("plugins-reload", ["plugins", "reload"], Mutates, false, "Reloads plugins in the running gateway."),
    spec!("skills-install", ["skills", "install"], Mutates, false, "Installs a skill."),
    spec!("skills-update", ["skills", "update"], Mutates, false, "Updates installed skills."),
    spec!("models-set", ["models", "set"], Mutates, false, "Sets the default model."),
    spec!("models-auth", ["models", "auth"], Mutates, false, "Manages model credentials on this machine."),
    spec!("secrets-reload", ["secrets", "reload"], Mutates, false, "Re-resolves secret references in the running gateway."),
    spec!("secrets-apply", ["secrets", "apply"], Mutates, false, "Applies a generated secrets plan."),
    spec!("devices-approve", ["devices", "approve"], Mutates, false, "Approves a device pairing request."),
    spec!("devices-rotate", ["devices", "rotate"], Mutates, false, "Rotates a device token."),
    spec!("pairing-approve", ["pairing", "approve"], Mutates, false, "Approves a DM pairing code and allows that sender."),
    spec!("nodes-approve", ["nodes", "approve"], Mutates, false, "Approves a node pairing request."),
    spec!("nodes-invoke", ["nodes", "invoke"], Mutates, false, "Invokes a command on a paired node."),
    spec!("agents-add", ["agents", "add"], Mutates, false, "Adds an isolated agent."),
    spec!("agents-bind", ["agents", "bind"], Mutates, false, "Adds routing bindings for an agent."),
    spec!("message-send", ["message", "send"], Mutates, false, "Sends a message through a channel."),
    spec!("cron-add", ["cron", "add"], Mutates, false, "Adds a scheduled automation."),
    spec!("hooks", ["hooks"], Mutates, false, "Manages internal agent hooks."),
    spec!("approvals", ["approvals"], Mutates, false, "Manages the exec approval policy and pending requests."),
    spec!("memory-reindex", ["memory", "reindex"], Mutates, false, "Reindexes memory files."),
    spec!("telemetry", ["telemetry"], Mutates, false, "Inspects and changes anonymous usage telemetry."),
    spec!("backup-create", ["backup", "create"], Mutates, false, "Writes a backup archive of configuration, credentials, sessions and workspaces."),
    spec!("sandbox", ["sandbox"], Mutates, false, "Manages sandbox containers."),
    spec!("daemon", ["daemon"], Mutates, false, "Manages the gateway service (launchd, systemd)."),
    spec!("fleet", ["fleet"], Mutates, false, "Provisions and manages isolated tenant cells (experimental)."),
    spec!("migrate", ["migrate"], Mutates, false, "Imports state from another agent system."),
    spec!("node", ["node"], Mutates, false, "Runs the headless node host service."),
    spec!("acp", ["acp"], Mutates, false, "Runs an ACP bridge backed by the gateway."),
    spec!("worker", ["worker"], Mutates, false, "Runs the restricted cloud worker runtime."),
    // --- destructive ---
    spec!("reset", ["reset"], Destructive, false, "Resets local configuration and state."),
    spec!("uninstall", ["uninstall"], Destructive, false, "Uninstalls the gateway service and local data."),
    spec!("gateway-uninstall", ["gateway", "uninstall"], Destructive, false, "Uninstalls the gateway service."),
    spec!("channels-remove", ["channels", "remove"], Destructive, false, "Disables or deletes a channel account."),
    spec!("plugins-uninstall", ["plugins", "uninstall"], Destructive, false, "Uninstalls plugin packages."),
    spec!("devices-remove", ["devices", "remove"], Destructive, false, "Removes a paired device."),
    spec!("devices-clear", ["devices", "clear"], Destructive, false, "Clears every paired device."),
    spec!("devices-revoke", ["devices", "revoke"], Destructive, false, "Revokes a device token."),
    spec!("nodes-remove", ["nodes", "remove"], Destructive, false, "Removes a paired node."),
    spec!("agents-delete", ["agents", "delete"], Destructive, false, "Deletes an agent and prunes its workspace and state."),
    spec!("sessions-delete", ["sessions", "delete"], Destructive, false, "Deletes stored sessions."),
    spec!("backup-restore", ["backup", "restore"], Destructive, false, "Restores a backup archive over the current state."),
    spec!("update-cleanup", ["update", "cleanup"], Destructive, false, "Retires update recovery originals: rollback is no longer possible."),
];

impl CliSpec {
    /// `openclaw <argv…>`.
    pub fn command_line(&self) -> String {
        std::iter::once("openclaw").chain(self.argv.iter().copied()).collect::<Vec<_>>().join(" ")
    }

    /// Why the product does not run it, or None when it does.
    pub fn why_not(&self) -> Option<String> {
        if self.allowed && self.class == CliClass::Read {
            return None;
        }
        Some(match self.class {
            CliClass::Read => {
                "It is read-only, but not on the allowlist: it contacts outside services, reads secrets or message content, or needs arguments."
                    .to_owned()
            }
            CliClass::CreatesState => "It writes state on the instance as it reads (a device identity, a pairing or a session).".to_owned(),
            CliClass::Mutates => "It changes the instance; changes go through approved jobs, not the CLI.".to_owned(),
            CliClass::Destructive => "It deletes data or undoes an installation.".to_owned(),
        })
    }

    pub fn to_command(&self) -> CliCommand {
        let why_not = self.why_not();
        CliCommand {
            id: self.id.to_owned(),
            command: self.command_line(),
            class: self.class,
            description: self.description.to_owned(),
            runnable: why_not.is_none(),
            why_not,
        }
    }
}

/// The inventory as the API shows it.
pub fn inventory() -> Vec<CliCommand> {
    INVENTORY.iter().map(CliSpec::to_command).collect()
}

/// The command with this id, runnable or not.
pub fn find(id: &str) -> Option<&'static CliSpec> {
    INVENTORY.iter().find(|c| c.id == id)
}

/// The command with this id if it may be run: an allowlisted read command. Otherwise a
/// refusal naming `command_id` and saying why.
pub fn runnable(id: &str) -> Result<&'static CliSpec> {
    let id = id.trim();
    let spec = find(id).ok_or_else(|| {
        Error::invalid("command_id", format!("names no command of the OpenClaw {INVENTORY_VERSION} inventory; list them with `works instance cli-commands`"))
    })?;
    match spec.why_not() {
        None => Ok(spec),
        Some(why) => Err(Error::forbidden(format!("`{}` ({}) is not run by Anthropy Works. {why}", spec.command_line(), spec.class.label()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_commands_are_fixed() {
        let mut seen = HashSet::new();
        for c in INVENTORY {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            assert!(!c.argv.is_empty(), "{}", c.id);
            assert!(c.id.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'), "{}", c.id);
            assert!(!c.description.is_empty(), "{}", c.id);
        }
    }

    #[test]
    fn only_read_commands_are_allowlisted() {
        for c in INVENTORY.iter().filter(|c| c.allowed) {
            assert_eq!(c.class, CliClass::Read, "{} is allowlisted but {}", c.id, c.class.as_str());
            assert!(!c.argv.iter().any(|a| *a == "--fix" || *a == "--repair" || *a == "--follow"), "{}", c.id);
        }
        // An allowed flag on a command of another class never makes it runnable.
        let bad = CliSpec { id: "x", argv: &["reset"], class: CliClass::Destructive, description: "d", allowed: true };
        assert!(bad.why_not().is_some());
    }

    #[test]
    fn the_documented_read_commands_are_runnable() {
        for (id, line) in [
            ("version", "openclaw --version"),
            ("health", "openclaw health --json"),
            ("status", "openclaw status --json"),
            ("channels-list", "openclaw channels list --json"),
        ] {
            let spec = runnable(id).unwrap();
            assert_eq!(spec.command_line(), line);
            assert!(spec.to_command().runnable);
        }
    }

    #[test]
    fn dangerous_commands_are_classified_and_refused() {
        let expect = [
            ("gateway-call", CliClass::Mutates),
            ("gateway-auth-token", CliClass::Mutates),
            ("devices-list", CliClass::CreatesState),
            ("qr", CliClass::CreatesState),
            ("skills-list", CliClass::CreatesState),
            ("update", CliClass::Mutates),
            ("config-set", CliClass::Mutates),
            ("doctor-fix", CliClass::Mutates),
            ("reset", CliClass::Destructive),
            ("uninstall", CliClass::Destructive),
            ("channels-remove", CliClass::Destructive),
            ("backup-restore", CliClass::Destructive),
            ("update-status", CliClass::Read),
            ("config-get", CliClass::Read),
        ];
        for (id, class) in expect {
            let spec = find(id).unwrap_or_else(|| panic!("{id} is in the inventory"));
            assert_eq!(spec.class, class, "{id}");
            let err = runnable(id).unwrap_err();
            assert_eq!(err.kind(), "forbidden", "{id}");
            assert!(err.to_string().contains(&spec.command_line()), "{err}");
            assert!(!spec.to_command().runnable);
            assert!(spec.to_command().why_not.is_some());
        }
    }

    #[test]
    fn unknown_and_free_form_commands_are_refused_naming_the_field() {
        for id in ["", "nope", "openclaw --version", "health --json", "version; rm -rf /", "gateway call update.run"] {
            let err = runnable(id).unwrap_err();
            assert_eq!(err.kind(), "invalid_input", "{id}");
            assert!(err.to_string().contains("command_id"), "{err}");
        }
    }

    #[test]
    fn every_top_level_command_of_the_pinned_version_is_inventoried() {
        // From `openclaw --help` of 2026.9.6: areas whose commands are all inventoried
        // under their own id or as `<area>-<sub>`.
        let top = [
            "acp", "agent", "agents", "approvals", "backup", "channels", "chat", "config", "configure", "connect", "cron",
            "daemon", "dashboard", "database", "devices", "docs", "doctor", "fleet", "gateway", "health", "hooks", "logs",
            "memory", "message", "migrate", "models", "node", "nodes", "onboard", "pairing", "plugins", "qr", "reset",
            "resume", "sandbox", "secrets", "security", "sessions", "setup", "skills", "status", "tasks", "telemetry",
            "triage", "tui", "uninstall", "update", "worker",
        ];
        for area in top {
            assert!(INVENTORY.iter().any(|c| c.argv.first() == Some(&area)), "{area} is missing from the inventory");
        }
    }
}
