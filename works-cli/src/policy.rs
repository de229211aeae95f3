//! `works capability|pack|permission|connection|workflow …`: the capability catalog,
//! what organizations may use, connections to outside tools, and workflows with their
//! runs and approvals. Each command is one operation of `works_core::Api`.

use clap::{Subcommand, ValueEnum};
use works_core::{
    Api, ApproveRun, AttachPack, Connection, ConnectionQuery, ConnectionStatus, ConnectionUpdate, Error, NewConnection,
    NewPermission, NewWorkflow, Permission, PermissionQuery, PermissionUpdate, Provider, Result, RiskLevel, RunMode, RunQuery,
    RunState, StartRun, Workflow, WorkflowQuery, WorkflowRun, WorkflowStep, WorkflowUpdate,
};

use crate::commands::all_pages;
use crate::fleet::plain;
use crate::output::{fields, json, table, time};

#[derive(Debug, Subcommand)]
pub enum CapabilityCommand {
    /// The catalog: skills, tools and policies with their actions and risk levels
    List,
    /// One capability and its actions
    Get { id: String },
}

#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Capability packs and what they hold
    List,
    /// Enable every capability of a pack for an organization, in one step
    Attach {
        id: String,
        #[arg(long, value_name = "ID")]
        org: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl From<Risk> for RiskLevel {
    fn from(r: Risk) -> Self {
        match r {
            Risk::Low => RiskLevel::Low,
            Risk::Medium => RiskLevel::Medium,
            Risk::High => RiskLevel::High,
            Risk::Critical => RiskLevel::Critical,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PermissionCommand {
    /// Permissions you can see
    List {
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    Get { id: String },
    /// Allow a capability for an organization
    Create {
        #[arg(long, value_name = "ID")]
        org: String,
        #[arg(long, value_name = "ID")]
        capability: String,
        /// An allowed action; repeat for several (default: every action within --max-risk)
        #[arg(long = "action", value_name = "NAME")]
        actions: Vec<String>,
        #[arg(long, value_enum)]
        max_risk: Option<Risk>,
        /// A person must confirm each step that uses the capability
        #[arg(long)]
        confirm: bool,
        /// How many different approvers (2: the two-person rule)
        #[arg(long, value_name = "N")]
        approvers: Option<u8>,
    },
    /// Change a permission; options left out stay as they are
    Update {
        id: String,
        /// The allowed actions, replacing the old list; repeat for several
        #[arg(long = "action", value_name = "NAME")]
        actions: Vec<String>,
        #[arg(long, value_enum)]
        max_risk: Option<Risk>,
        #[arg(long, value_name = "true|false")]
        confirm: Option<bool>,
        #[arg(long, value_name = "N")]
        approvers: Option<u8>,
    },
    /// Block every step of the capability until enabled again
    Disable { id: String },
    Enable { id: String },
    /// Remove the permission: the capability is no longer enabled
    Delete { id: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Status {
    Placeholder,
    Connected,
    Error,
}

impl From<Status> for ConnectionStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Placeholder => ConnectionStatus::Placeholder,
            Status::Connected => ConnectionStatus::Connected,
            Status::Error => ConnectionStatus::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    GoogleDrive,
    Servicetitan,
    Quickbooks,
    Composio,
    Generic,
}

impl From<Kind> for Provider {
    fn from(k: Kind) -> Self {
        match k {
            Kind::GoogleDrive => Provider::GoogleDrive,
            Kind::Servicetitan => Provider::Servicetitan,
            Kind::Quickbooks => Provider::Quickbooks,
            Kind::Composio => Provider::Composio,
            Kind::Generic => Provider::Generic,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    List {
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    Get { id: String },
    /// Add a connection. The credential is read from WORKS_CONNECTION_CREDENTIAL, sealed, and never shown again
    Create {
        name: String,
        #[arg(long, value_enum)]
        provider: Kind,
        /// Defaults to your organization
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        /// A capability that may use it; repeat for several
        #[arg(long = "capability", value_name = "ID")]
        capabilities: Vec<String>,
        /// An OpenClaw instance of the organization that uses it; repeat for several
        #[arg(long = "instance", value_name = "ID")]
        instances: Vec<String>,
        #[arg(long, value_enum)]
        status: Option<Status>,
    },
    /// Change a connection. A new credential is read from WORKS_CONNECTION_CREDENTIAL
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// The linked capabilities, replacing the old list; repeat for several
        #[arg(long = "capability", value_name = "ID")]
        capabilities: Vec<String>,
        /// The OpenClaw instances that use it, replacing the old list; repeat for several
        #[arg(long = "instance", value_name = "ID", conflicts_with = "no_instances")]
        instances: Vec<String>,
        /// Unlink every OpenClaw instance
        #[arg(long)]
        no_instances: bool,
        #[arg(long, value_enum)]
        status: Option<Status>,
    },
    Delete { id: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    Simulation,
    Live,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    List {
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    Get { id: String },
    /// Add a workflow. Steps are a JSON list of {capability_id, action, connection_id, parameters}
    Create {
        name: String,
        /// A file holding the steps as JSON
        #[arg(long, value_name = "FILE")]
        steps: std::path::PathBuf,
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Change a workflow: rename it, change its description, or replace its steps
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// A file holding the new steps as JSON (replaces every step)
        #[arg(long, value_name = "FILE")]
        steps: Option<std::path::PathBuf>,
        /// Allow the workflow to run again
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Stop the workflow from being run (by anyone, or a schedule) until enabled
        #[arg(long)]
        disable: bool,
    },
    Delete { id: String },
    /// Start a run and show its step-by-step log
    Run {
        id: String,
        #[arg(long, value_enum, default_value = "simulation")]
        mode: Mode,
    },
    /// Runs of a workflow, newest first
    Runs {
        id: String,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One run's step-by-step log
    Show { id: String, run: String },
    /// Approve the paused step of a run by typing its phrase exactly
    Approve {
        id: String,
        run: String,
        #[arg(long)]
        phrase: String,
    },
}

fn credential_from_env() -> Option<String> {
    std::env::var("WORKS_CONNECTION_CREDENTIAL").ok().filter(|v| !v.trim().is_empty())
}

pub async fn capability(api: &dyn Api, cmd: CapabilityCommand, as_json: bool) -> Result<String> {
    match cmd {
        CapabilityCommand::List => {
            let caps = api.capability_list().await?;
            if as_json {
                return json(&caps);
            }
            let rows: Vec<Vec<String>> = caps
                .iter()
                .map(|c| {
                    let actions = c.actions.iter().map(|a| format!("{} ({})", a.name, a.risk)).collect::<Vec<_>>().join(", ");
                    vec![c.id.clone(), format!("{:?}", c.kind).to_lowercase(), c.name.clone(), actions]
                })
                .collect();
            Ok(table(&["ID", "KIND", "NAME", "ACTIONS"], &rows))
        }
        CapabilityCommand::Get { id } => {
            let c = api.capability_get(&id).await?;
            if as_json {
                return json(&c);
            }
            let rows: Vec<Vec<String>> = c.actions.iter().map(|a| vec![a.name.clone(), a.label.clone(), a.risk.to_string(), if a.live { "live".into() } else { "stub".into() }]).collect();
            Ok(format!("{}\n{}", fields(&[("ID", c.id.clone()), ("Name", c.name.clone()), ("About", c.description.clone())]), table(&["ACTION", "WHAT", "RISK", "LIVE RUNS"], &rows)))
        }
    }
}

pub async fn pack(api: &dyn Api, cmd: PackCommand, as_json: bool) -> Result<String> {
    match cmd {
        PackCommand::List => {
            let packs = api.pack_list().await?;
            if as_json {
                return json(&packs);
            }
            let rows: Vec<Vec<String>> = packs.iter().map(|p| vec![p.id.clone(), p.name.clone(), p.capabilities.join(", ")]).collect();
            Ok(table(&["ID", "NAME", "CAPABILITIES"], &rows))
        }
        PackCommand::Attach { id, org } => {
            let perms = api.pack_attach(&id, AttachPack { org_id: org }).await?;
            if as_json {
                return json(&perms);
            }
            Ok(format!("Attached: these capabilities are enabled for the organization.\n\n{}", permissions(&perms)))
        }
    }
}

pub async fn permission(api: &dyn Api, cmd: PermissionCommand, as_json: bool) -> Result<String> {
    let (headline, p) = match cmd {
        PermissionCommand::List { org, limit } => {
            let listing = all_pages(limit, |offset, limit| api.permission_list(PermissionQuery { org_id: org.clone(), capability_id: None, offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            return Ok(permissions(&listing.items));
        }
        PermissionCommand::Get { id } => ("", api.permission_get(&id).await?),
        PermissionCommand::Create { org, capability, actions, max_risk, confirm, approvers } => {
            let input = NewPermission {
                org_id: org,
                capability_id: capability,
                allowed_actions: (!actions.is_empty()).then_some(actions),
                max_risk: max_risk.map(Into::into),
                require_confirmation: Some(confirm || approvers.is_some_and(|n| n > 1)),
                approvers_required: approvers,
            };
            ("Allowed.", api.permission_create(input).await?)
        }
        PermissionCommand::Update { id, actions, max_risk, confirm, approvers } => {
            let input = PermissionUpdate { allowed_actions: (!actions.is_empty()).then_some(actions), max_risk: max_risk.map(Into::into), require_confirmation: confirm, approvers_required: approvers, enabled: None };
            ("Changed.", api.permission_update(&id, input).await?)
        }
        PermissionCommand::Disable { id } => ("Disabled: every step of this capability is blocked until it is enabled.", api.permission_disable(&id).await?),
        PermissionCommand::Enable { id } => ("Enabled.", api.permission_enable(&id).await?),
        PermissionCommand::Delete { id } => ("Removed: the capability is no longer enabled for the organization.", api.permission_delete(&id).await?),
    };
    if as_json {
        return json(&p);
    }
    let body = permission_fields(&p);
    Ok(if headline.is_empty() { body } else { format!("{headline}\n\n{body}") })
}

fn permissions(list: &[Permission]) -> String {
    if list.is_empty() {
        return "No permissions.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.org_id.clone(),
                p.capability_id.clone(),
                p.allowed_actions.join(", "),
                p.max_risk.to_string(),
                confirmation(p),
                if p.enabled { "enabled".into() } else { "disabled".into() },
            ]
        })
        .collect();
    table(&["ID", "ORGANIZATION", "CAPABILITY", "ACTIONS", "MAX RISK", "CONFIRMATION", "STATE"], &rows)
}

fn confirmation(p: &Permission) -> String {
    match (p.require_confirmation, p.approvers_required) {
        (false, _) => "none".into(),
        (true, 2) => "two people".into(),
        (true, _) => "one person".into(),
    }
}

fn permission_fields(p: &Permission) -> String {
    fields(&[
        ("ID", p.id.clone()),
        ("Organization", p.org_id.clone()),
        ("Capability", p.capability_id.clone()),
        ("Allowed actions", if p.allowed_actions.is_empty() { "none".into() } else { p.allowed_actions.join(", ") }),
        ("Highest risk", p.max_risk.to_string()),
        ("Confirmation", confirmation(p)),
        ("State", if p.enabled { "enabled".into() } else { "disabled".into() }),
        ("Changed", format!("{} by {}", time(&p.updated_at), p.updated_by)),
    ])
}

pub async fn connection(api: &dyn Api, cmd: ConnectionCommand, as_json: bool) -> Result<String> {
    let (headline, c) = match cmd {
        ConnectionCommand::List { org, limit } => {
            let listing = all_pages(limit, |offset, limit| api.connection_list(ConnectionQuery { org_id: org.clone(), offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            return Ok(connections(&listing.items));
        }
        ConnectionCommand::Get { id } => ("", api.connection_get(&id).await?),
        ConnectionCommand::Create { name, provider, org, capabilities, instances, status } => {
            let input = NewConnection { org_id: org, name, provider: provider.into(), capabilities, instances, credential: credential_from_env(), status: status.map(Into::into) };
            ("Added. A credential, if given, is sealed and will not be shown again.", api.connection_create(input).await?)
        }
        ConnectionCommand::Update { id, name, capabilities, instances, no_instances, status } => {
            let instances = if no_instances { Some(Vec::new()) } else { (!instances.is_empty()).then_some(instances) };
            let input = ConnectionUpdate { name, capabilities: (!capabilities.is_empty()).then_some(capabilities), instances, status: status.map(Into::into), credential: credential_from_env() };
            ("Changed.", api.connection_update(&id, input).await?)
        }
        ConnectionCommand::Delete { id } => ("Removed, with its credential.", api.connection_delete(&id).await?),
    };
    if as_json {
        return json(&c);
    }
    let body = fields(&[
        ("ID", c.id.clone()),
        ("Name", plain(&c.name)),
        ("Provider", c.provider.label().to_owned()),
        ("Organization", c.org_id.clone()),
        ("Status", match &c.status_reason {
            Some(why) => format!("{}: {}", c.status.as_str(), plain(why)),
            None => c.status.as_str().to_owned(),
        }),
        ("Linked capabilities", if c.capabilities.is_empty() { "none".into() } else { c.capabilities.join(", ") }),
        ("Used by instances", if c.instances.is_empty() { "none".into() } else { c.instances.join(", ") }),
        ("Credential", if c.has_credential { "stored (sealed, never shown)".into() } else { "none".into() }),
    ]);
    Ok(if headline.is_empty() { body } else { format!("{headline}\n\n{body}") })
}

fn connections(list: &[Connection]) -> String {
    if list.is_empty() {
        return "No connections.\n".into();
    }
    let rows: Vec<Vec<String>> = list.iter().map(|c| vec![c.id.clone(), plain(&c.name), c.provider.as_str().to_owned(), c.status.as_str().to_owned(), c.capabilities.join(", ")]).collect();
    table(&["ID", "NAME", "PROVIDER", "STATUS", "CAPABILITIES"], &rows)
}

pub async fn workflow(api: &dyn Api, cmd: WorkflowCommand, as_json: bool) -> Result<String> {
    match cmd {
        WorkflowCommand::List { org, limit } => {
            let listing = all_pages(limit, |offset, limit| api.workflow_list(WorkflowQuery { org_id: org.clone(), offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            if listing.items.is_empty() {
                return Ok("No workflows.\n".into());
            }
            let rows: Vec<Vec<String>> = listing.items.iter().map(|w| vec![w.id.clone(), plain(&w.name), w.steps.len().to_string(), plain(&w.owner_name)]).collect();
            Ok(table(&["ID", "NAME", "STEPS", "OWNER"], &rows))
        }
        WorkflowCommand::Get { id } => {
            let w = api.workflow_get(&id).await?;
            if as_json {
                return json(&w);
            }
            Ok(workflow_fields(&w))
        }
        WorkflowCommand::Create { name, steps, org, description } => {
            let steps = read_steps(&steps)?;
            let w = api.workflow_create(NewWorkflow { org_id: org, name, description, steps }).await?;
            if as_json {
                return json(&w);
            }
            Ok(format!("Added.\n\n{}", workflow_fields(&w)))
        }
        WorkflowCommand::Update { id, name, description, steps, enable, disable } => {
            let enabled = (enable || disable).then_some(enable);
            if name.is_none() && description.is_none() && steps.is_none() && enabled.is_none() {
                return Err(Error::invalid("update", "names nothing to change: give --name, --description, --steps, --enable or --disable"));
            }
            let steps = steps.as_deref().map(read_steps).transpose()?;
            let w = api.workflow_update(&id, WorkflowUpdate { name, description, steps, enabled }).await?;
            if as_json {
                return json(&w);
            }
            Ok(format!("Changed.\n\n{}", workflow_fields(&w)))
        }
        WorkflowCommand::Delete { id } => {
            let w = api.workflow_delete(&id).await?;
            if as_json {
                return json(&w);
            }
            Ok(format!("Removed workflow {}; its runs stay on record.\n", plain(&w.name)))
        }
        WorkflowCommand::Run { id, mode } => {
            let mode = match mode {
                Mode::Simulation => RunMode::Simulation,
                Mode::Live => RunMode::Live,
            };
            let run = api.run_start(&id, StartRun { mode }).await?;
            if as_json {
                return json(&run);
            }
            Ok(run_log(&run))
        }
        WorkflowCommand::Runs { id, limit } => {
            let listing = all_pages(limit, |offset, limit| api.run_list(&id, RunQuery { state: None, offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            if listing.items.is_empty() {
                return Ok("No runs.\n".into());
            }
            let rows: Vec<Vec<String>> = listing.items.iter().map(|r| vec![r.id.clone(), r.mode.as_str().to_owned(), r.state.as_str().to_owned(), time(&r.created_at), plain(&r.started_by)]).collect();
            Ok(table(&["ID", "MODE", "STATE", "STARTED", "BY"], &rows))
        }
        WorkflowCommand::Show { id, run } => {
            let run = api.run_get(&id, &run).await?;
            if as_json {
                return json(&run);
            }
            Ok(run_log(&run))
        }
        WorkflowCommand::Approve { id, run, phrase } => {
            let run = api.run_approve(&id, &run, ApproveRun { phrase }).await?;
            if as_json {
                return json(&run);
            }
            Ok(run_log(&run))
        }
    }
}

/// The steps of a workflow from a JSON file; problems name the `steps` field.
fn read_steps(path: &std::path::Path) -> Result<Vec<WorkflowStep>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::invalid("steps", format!("{} could not be read: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::invalid("steps", format!("is not a JSON list of steps: {e}")))
}

fn workflow_fields(w: &Workflow) -> String {
    let rows: Vec<Vec<String>> = w
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| vec![(i + 1).to_string(), s.capability_id.clone(), s.action.clone(), s.connection_id.clone().unwrap_or_default(), s.parameters.to_string()])
        .collect();
    format!(
        "{}\n{}",
        fields(&[("ID", w.id.clone()), ("Name", plain(&w.name)), ("Organization", w.org_id.clone()), ("Owner", plain(&w.owner_name)), ("State", if w.enabled { "enabled".into() } else { "disabled: cannot be run until enabled".into() })]),
        table(&["STEP", "CAPABILITY", "ACTION", "CONNECTION", "PARAMETERS"], &rows)
    )
}

/// A run and its step-by-step log, and the command that approves a paused step.
pub fn run_log(r: &WorkflowRun) -> String {
    let mut out = fields(&[
        ("Run", r.id.clone()),
        ("Workflow", format!("{} ({})", plain(&r.workflow_name), r.workflow_id)),
        ("Mode", r.mode.as_str().to_owned()),
        ("State", r.state.as_str().to_owned()),
        ("Why", plain(&r.reason)),
        ("Started", format!("{} by {}", time(&r.created_at), plain(&r.started_by))),
    ]);
    out.push('\n');
    for s in &r.steps {
        let label = s.label.map(|l| format!(" [{}]", l.as_str())).unwrap_or_default();
        let rule = s.rule.map(|r| format!(" (rule: {})", r.as_str())).unwrap_or_default();
        out.push_str(&format!("Step {}: {} {} — {}{label}{rule}\n    {}\n", s.number, s.capability_id, s.action, s.outcome.as_str(), plain(&s.reason)));
        if let Some(files) = s.output.as_ref().and_then(|o| o.get("files")).and_then(|f| f.as_array()) {
            for f in files.iter().take(20) {
                out.push_str(&format!("      {}\n", plain(f.get("name").and_then(|n| n.as_str()).unwrap_or("?"))));
            }
        }
    }
    if r.state == RunState::AwaitingApproval {
        if let Some(phrase) = r.current().and_then(|s| s.approval_phrase.clone()) {
            out.push_str(&format!("\nTo approve:\n  works workflow approve {} {} --phrase \"{phrase}\"\n", r.workflow_id, r.id));
        }
    }
    out
}
