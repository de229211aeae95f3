//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// Anthropy Works: the operations center of a managed service provider.
///
/// Every command works on a database opened directly (`--database`, or the SQLite
/// database in `--data-dir`) or on a running server (`--server`, after `works login`).
#[derive(Debug, Parser)]
#[command(name = "works", propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Open this database directly, e.g. sqlite://works-data/works.db or postgres://…
    #[arg(long, global = true, env = "WORKS_DATABASE_URL", value_name = "URL", hide_env_values = true, help_heading = "Global options")]
    pub database: Option<String>,

    /// Talk to the running server at this address, e.g. http://127.0.0.1:8080
    #[arg(long, global = true, env = "WORKS_SERVER", value_name = "URL", help_heading = "Global options")]
    pub server: Option<String>,

    /// With --server: the API token to act with (WORKS_TOKEN keeps it out of the process list)
    #[arg(long, global = true, env = "WORKS_TOKEN", value_name = "TOKEN", hide_env_values = true, help_heading = "Global options")]
    pub token: Option<String>,

    /// With a database opened directly: act as this user (default admin)
    #[arg(long = "as", global = true, value_name = "USER", help_heading = "Global options")]
    pub as_user: Option<String>,

    /// Print results as JSON
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// Where the SQLite database lives when neither --database nor --server is given
    #[arg(long, global = true, env = "WORKS_DATA_DIR", value_name = "DIR", default_value = "./works-data", help_heading = "Global options")]
    pub data_dir: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: the HTTP API and the web UI
    ///
    /// Opens the database (SQLite in --data-dir unless --database names another), creates
    /// the MSP admin `admin` on first start (password from WORKS_ADMIN_PASSWORD, or
    /// generated and shown once), and serves until Ctrl-C or SIGTERM. Logs go to standard
    /// error; WORKS_LOG (for example `debug`) sets how much.
    Serve(ServeArgs),
    /// Sign in to a server and save the sign-in for later commands
    Login(LoginArgs),
    /// Sign out of the saved server and forget the sign-in
    Logout,
    /// Show who you are acting as
    Whoami,
    /// The status of everything you may see, in a few lines: the health answer, counts
    /// of organizations, nodes, instances, failed jobs and runs waiting for approval,
    /// OpenClaw versions and the current incidents
    Status,
    /// Customer organizations
    #[command(subcommand)]
    Org(OrgCommand),
    /// People who sign in
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens for scripts and automation
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read the audit log, newest first; `works audit verify` checks its hash chain
    Audit(AuditArgs),
    /// Machines the MSP manages: add, list, enroll their agents, see their containers
    #[command(subcommand)]
    Node(crate::fleet::NodeCommand),
    /// Work on nodes: request, approve by phrase, cancel, retry
    #[command(subcommand)]
    Job(crate::fleet::JobCommand),
    /// OpenClaw instances, managed and discovered; take over a discovered one by phrase
    #[command(subcommand)]
    Instance(crate::instance::InstanceCommand),
    /// Validate a capability end to end on a real node: `works validate openclaw --node ID`
    #[command(subcommand)]
    Validate(crate::validate::ValidateCommand),
    /// Webhooks notified when the health answer changes, and their delivery log
    #[command(subcommand)]
    Alert(crate::alert::AlertCommand),
    /// Shared SSH credentials of the MSP: upload a private key (sealed, never shown again)
    #[command(subcommand)]
    SshCredential(crate::access::CredentialCommand),
    /// Jumpboxes that hosts are reached through over SSH
    #[command(subcommand)]
    Jumpbox(crate::access::JumpboxCommand),
    /// Hosts of organizations reached over SSH: Test Access, attempts, register as a node candidate
    #[command(subcommand)]
    Host(crate::access::HostCommand),
    /// The capability catalog: skills, tools and policies with their actions and risk levels
    #[command(subcommand)]
    Capability(crate::policy::CapabilityCommand),
    /// Capability packs; attach one to enable its capabilities for an organization
    #[command(subcommand)]
    Pack(crate::policy::PackCommand),
    /// Which capability actions an organization may use, up to which risk, with whose confirmation
    #[command(subcommand)]
    Permission(crate::policy::PermissionCommand),
    /// Connections to outside tools (Google Drive, ServiceTitan, QuickBooks, Composio, generic)
    #[command(subcommand)]
    Connection(crate::policy::ConnectionCommand),
    /// Workflows: add, run in simulation or live, read the step log, approve a paused step
    #[command(subcommand)]
    Workflow(crate::policy::WorkflowCommand),
    /// Schedules: a workflow run or read-only node work at the times a cron expression names, in a time zone
    #[command(subcommand)]
    Schedule(crate::schedule::ScheduleCommand),
    /// The agent on a managed machine: enroll it, run it
    #[command(subcommand)]
    Agent(crate::agent::AgentCommand),
    /// The health answer and its issues (exit 0 healthy, 1 degraded, 2 critical); `works health acknowledge ID`
    Health(crate::health::HealthArgs),
    /// Check readiness: configuration, database, migrations, master key (exit 0 ready, 1 warnings, 2 failures)
    Check(crate::ops::CheckArgs),
    /// Back up, verify, test-restore, restore and prune backups of the database
    #[command(subcommand)]
    Backup(crate::ops::BackupCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on; port 0 picks a free port
    #[arg(long, env = "WORKS_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Mark session cookies Secure (set this when users reach the server over HTTPS)
    #[arg(long, env = "WORKS_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Seconds without a check-in after which a node shows as stale
    #[arg(long, env = "WORKS_NODE_STALE_AFTER_SECS", value_name = "SECS", default_value_t = 90)]
    pub node_stale_after_secs: u64,

    /// Seconds without a check-in after which a node shows as offline
    #[arg(long, env = "WORKS_NODE_OFFLINE_AFTER_SECS", value_name = "SECS", default_value_t = 300)]
    pub node_offline_after_secs: u64,

    /// Seconds agents are asked to wait between check-ins (before jitter)
    #[arg(long, env = "WORKS_CHECKIN_INTERVAL_SECS", value_name = "SECS", default_value_t = 30)]
    pub checkin_interval_secs: u64,

    /// Check-ins taken at once before agents are told to come back after a few seconds
    #[arg(long, env = "WORKS_CHECKIN_MAX_IN_FLIGHT", value_name = "N", default_value_t = 512)]
    pub checkin_max_in_flight: usize,

    /// Seconds between recovery passes over overdue jobs
    #[arg(long, env = "WORKS_RECOVERY_INTERVAL_SECS", value_name = "SECS", default_value_t = 15)]
    pub recovery_interval_secs: u64,

    /// How log lines are written: text, or json (one object per line). Secrets are redacted either way
    #[arg(long, env = "WORKS_LOG_FORMAT", value_name = "FORMAT", value_enum, default_value_t = crate::logging::LogFormat::Text)]
    pub log_format: crate::logging::LogFormat,
    /// Seconds a workflow run may go without a heartbeat from the server executing it
    /// before recovery fails it
    #[arg(long, env = "WORKS_RUN_STALE_AFTER_SECS", value_name = "SECS", default_value_t = 120)]
    pub run_stale_after_secs: u64,

    #[command(flatten)]
    pub env: crate::ops::EnvArgs,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The username to sign in as (asked for when not given)
    #[arg(long, short = 'u', env = "WORKS_USERNAME")]
    pub username: Option<String>,

    /// Read the password from the first line of standard input (otherwise WORKS_PASSWORD, or a prompt)
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization
    Create {
        /// Its name, 1 to 100 characters
        name: String,
    },
    /// List organizations
    List {
        /// Include archived organizations
        #[arg(long)]
        include_archived: bool,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one organization
    Get { id: String },
    /// Rename an organization
    Rename { id: String, name: String },
    /// Archive an organization: its records stay, its users can no longer sign in
    Archive { id: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password comes from --password-stdin, WORKS_NEW_PASSWORD, or a prompt
    Create {
        #[arg(long)]
        username: String,
        /// msp_admin, msp_operator, org_admin or org_user
        #[arg(long)]
        role: String,
        /// The organization (required for org_admin and org_user)
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users
    List {
        /// Only the users of this organization
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        /// Include disabled users
        #[arg(long)]
        include_disabled: bool,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one user
    Get { id: String },
    /// Change a user's role, organization or display name
    Update {
        id: String,
        #[arg(long)]
        role: Option<String>,
        /// With --role: the organization for an organization role
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
    },
    /// Disable a user and end their sessions and API tokens
    Disable { id: String },
    /// Enable a disabled user
    Enable { id: String },
    /// Set a new password; without --password-stdin one is generated and shown once
    ResetPassword {
        id: String,
        /// Read the new password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for yourself; its secret is shown once
    Create {
        /// What it is for, e.g. "nightly report"
        name: String,
        /// Days until it stops working (1 to 3650); no expiry when not given
        #[arg(long, value_name = "N")]
        expires_in_days: Option<u32>,
    },
    /// List API tokens (your own, or another user's with --user)
    List {
        #[arg(long, value_name = "ID")]
        user: Option<String>,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Revoke an API token at once
    Revoke { id: String },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,

    /// An exact action (org.create) or a family ending in a dot (org.)
    #[arg(long)]
    pub action: Option<String>,
    /// succeeded, denied, rejected or failed
    #[arg(long)]
    pub outcome: Option<String>,
    /// Only records of this actor (a user id)
    #[arg(long, value_name = "ID")]
    pub actor: Option<String>,
    /// Only records of this organization
    #[arg(long, value_name = "ID")]
    pub org: Option<String>,
    /// Only records about this target id
    #[arg(long, value_name = "ID")]
    pub target: Option<String>,
    /// Records at or after this time, e.g. 2025-01-31T09:00:00Z
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Records before this time
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// How many records to show (default 50, at most 500)
    #[arg(long)]
    pub limit: Option<u32>,
    /// Records older than this sequence number (the next page)
    #[arg(long, value_name = "SEQ")]
    pub before: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain of the audit log
    Verify,
}

/// The version line, with the commit the binary reports.
pub fn version_line() -> String {
    format!("{} (commit {})", env!("CARGO_PKG_VERSION"), crate::build_commit())
}

/// Parses the command line. Usage errors, `--help` and `--version` end the process
/// here, as clap does (exit 2 for a usage error).
pub fn parse() -> Cli {
    // clap wants a 'static version string; it is computed once per process.
    let version: &'static str = Box::leak(version_line().into_boxed_str());
    let matches = Cli::command().version(version).get_matches();
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// Every command and flag is well formed (clap checks names, clashes with the global
    /// flags, and defaults), so no subcommand fails only when someone runs it.
    #[test]
    fn the_command_tree_is_consistent() {
        super::Cli::command().version("test").debug_assert();
    }
}
