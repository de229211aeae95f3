//! `works instance …` for operating an instance: the OpenClaw CLI inventory and read
//! commands, versions and upgrade plans, and assignments. Each command is one operation
//! of `works_core::Api`.

use clap::Subcommand;
use works_core::{
    Api, ApprovePlan, AssignInput, Assignment, CliCommand, NewUpgradePlan, OpsQuery, Result, UpgradePlan, UpgradePlanState, VersionQuery,
    VersionReport,
};

use crate::commands::all_pages;
use crate::fleet::{job_fields, jobs, plain};
use crate::output::{fields, json, table, time};

#[derive(Debug, Subcommand)]
pub enum InstanceOpsCommand {
    /// List the pinned OpenClaw version's CLI commands: class, what each does, and
    /// whether it is run (only allowlisted read commands are)
    CliCommands {
        /// Only the commands that can be run
        #[arg(long)]
        runnable: bool,
    },
    /// Run an allowlisted read command in an instance's gateway container, by its id
    /// from `works instance cli-commands` (e.g. `health`, `status`, `version`)
    CliRun { id: String, command_id: String },
    /// The read commands run in an instance, newest first
    CliRuns {
        id: String,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One read command run in an instance, with its output
    CliRunGet { id: String, job_id: String },
    /// An instance's current, pinned and desired OpenClaw versions, and whether it may move
    Versions {
        id: String,
        /// Check this version instead of the desired one
        #[arg(long = "to", value_name = "VERSION")]
        to_version: Option<String>,
        /// stable (default), extended-stable, beta or dev
        #[arg(long)]
        channel: Option<String>,
    },
    /// Propose an upgrade plan. It changes nothing until a person approves it
    UpgradePlan {
        id: String,
        /// The target version, e.g. 2026.10.1
        #[arg(long = "to", value_name = "VERSION")]
        to_version: String,
        /// stable (default), extended-stable, beta or dev
        #[arg(long)]
        channel: Option<String>,
    },
    /// An instance's upgrade plans, newest first
    UpgradePlans {
        id: String,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One upgrade plan, with its steps and approval phrase
    UpgradePlanGet { id: String, plan_id: String },
    /// Approve an upgrade plan by typing its phrase exactly. This records the approval
    /// only; nothing is run
    UpgradePlanApprove {
        id: String,
        plan_id: String,
        #[arg(long)]
        phrase: String,
    },
    /// Cancel an upgrade plan
    UpgradePlanCancel { id: String, plan_id: String },
    /// Assign an instance to a user of its organization
    Assign {
        id: String,
        #[arg(long, value_name = "USER_ID")]
        user: String,
    },
    /// End an assignment
    Unassign {
        id: String,
        #[arg(long, value_name = "USER_ID")]
        user: String,
    },
    /// Who an instance is assigned to
    Assignments { id: String },
}

pub async fn run(api: &dyn Api, cmd: InstanceOpsCommand, as_json: bool) -> Result<String> {
    match cmd {
        InstanceOpsCommand::CliCommands { runnable } => {
            let list: Vec<CliCommand> = api.openclaw_cli_commands().await?.into_iter().filter(|c| !runnable || c.runnable).collect();
            if as_json {
                return json(&list);
            }
            Ok(cli_commands(&list))
        }
        InstanceOpsCommand::CliRun { id, command_id } => {
            let job = api.instance_cli_run(&id, &command_id).await?;
            if as_json {
                return json(&job);
            }
            Ok(format!(
                "Queued for the node's agent. See the output with:\n  works instance cli-run-get {id} {}\n\n{}",
                job.id,
                job_fields(&job)
            ))
        }
        InstanceOpsCommand::CliRuns { id, limit } => {
            let listing = all_pages(limit, |offset, limit| api.instance_cli_runs(&id, OpsQuery { offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            Ok(jobs(&listing.items))
        }
        InstanceOpsCommand::CliRunGet { id, job_id } => {
            let job = api.instance_cli_run_get(&id, &job_id).await?;
            if as_json {
                return json(&job);
            }
            Ok(job_fields(&job))
        }
        InstanceOpsCommand::Versions { id, to_version, channel } => {
            let report = api.instance_versions(&id, VersionQuery { to_version, channel }).await?;
            if as_json {
                return json(&report);
            }
            Ok(versions(&report))
        }
        InstanceOpsCommand::UpgradePlan { id, to_version, channel } => {
            let plan = api.upgrade_plan_create(&id, NewUpgradePlan { to_version, channel }).await?;
            if as_json {
                return json(&plan);
            }
            Ok(format!(
                "Recorded. Nothing was changed. To approve it:\n  works instance upgrade-plan-approve {id} {} --phrase \"{}\"\n\n{}",
                plan.id,
                plan.approval_phrase,
                plan_fields(&plan)
            ))
        }
        InstanceOpsCommand::UpgradePlans { id, limit } => {
            let listing = all_pages(limit, |offset, limit| api.upgrade_plan_list(&id, OpsQuery { offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            Ok(plans(&listing.items))
        }
        InstanceOpsCommand::UpgradePlanGet { id, plan_id } => {
            let plan = api.upgrade_plan_get(&id, &plan_id).await?;
            if as_json {
                return json(&plan);
            }
            Ok(plan_fields(&plan))
        }
        InstanceOpsCommand::UpgradePlanApprove { id, plan_id, phrase } => {
            let plan = api.upgrade_plan_approve(&id, &plan_id, ApprovePlan { phrase }).await?;
            if as_json {
                return json(&plan);
            }
            Ok(format!("Approval recorded. Nothing was run: running an approved plan comes in a later release.\n\n{}", plan_fields(&plan)))
        }
        InstanceOpsCommand::UpgradePlanCancel { id, plan_id } => {
            let plan = api.upgrade_plan_cancel(&id, &plan_id).await?;
            if as_json {
                return json(&plan);
            }
            Ok(format!("Cancelled.\n\n{}", plan_fields(&plan)))
        }
        InstanceOpsCommand::Assign { id, user } => {
            let a = api.instance_assign(&id, AssignInput { user_id: user }).await?;
            if as_json {
                return json(&a);
            }
            Ok(format!("Assigned to {}: they now see this instance and may run its read commands.\n", a.username))
        }
        InstanceOpsCommand::Unassign { id, user } => {
            api.instance_unassign(&id, &user).await?;
            if as_json {
                return json(&serde_json::json!({"unassigned": user}));
            }
            Ok("Unassigned: the user no longer sees this instance.\n".to_owned())
        }
        InstanceOpsCommand::Assignments { id } => {
            let list = api.instance_assignments(&id).await?;
            if as_json {
                return json(&list);
            }
            Ok(assignments(&list))
        }
    }
}

pub fn cli_commands(list: &[CliCommand]) -> String {
    if list.is_empty() {
        return "No commands.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| vec![c.id.clone(), c.class.as_str().to_owned(), if c.runnable { "yes" } else { "no" }.to_owned(), c.command.clone(), c.description.clone()])
        .collect();
    table(&["ID", "CLASS", "RUNS", "COMMAND", "WHAT IT DOES"], &rows)
}

pub fn versions(r: &VersionReport) -> String {
    let e = &r.eligibility;
    let mut pairs = vec![
        ("Instance", r.instance_id.clone()),
        ("Current", r.current.clone().unwrap_or_else(|| "unknown".into())),
        ("Pinned", r.pinned.clone()),
        ("Desired", format!("{} (from {})", r.desired, r.desired_source)),
        ("Checked", format!("{} on the {} channel", e.target, e.channel.as_str())),
        ("Answer", e.summary.clone()),
        ("Can be planned", if e.eligible { "yes" } else { "no" }.to_owned()),
    ];
    for w in &e.warnings {
        pairs.push(("Warning", w.clone()));
    }
    fields(&pairs)
}

pub fn plan_fields(p: &UpgradePlan) -> String {
    let mut pairs = vec![
        ("ID", p.id.clone()),
        ("Instance", p.instance_id.clone()),
        ("State", p.state.label().to_owned()),
        ("From", p.from_version.clone().unwrap_or_else(|| "unknown".into())),
        ("To", p.to_version.clone()),
        ("Channel", p.channel.as_str().to_owned()),
        ("Proposed", format!("{} by {}", time(&p.created_at), p.created_by)),
    ];
    if p.state == UpgradePlanState::Proposed {
        pairs.push(("Approval phrase", p.approval_phrase.clone()));
    }
    if let (Some(by), Some(at)) = (&p.approved_by, &p.approved_at) {
        pairs.push(("Approved", format!("{} by {by}", time(at))));
    }
    if let (Some(by), Some(at)) = (&p.cancelled_by, &p.cancelled_at) {
        pairs.push(("Cancelled", format!("{} by {by}", time(at))));
    }
    for w in &p.warnings {
        pairs.push(("Warning", w.clone()));
    }
    let mut out = fields(&pairs);
    out.push_str("\nSteps, when it is run:\n");
    for (n, s) in p.steps.iter().enumerate() {
        out.push_str(&format!("  {}. {}\n", n + 1, plain(s)));
    }
    out.push_str(&format!("\n{}\n", p.note));
    out
}

pub fn plans(list: &[UpgradePlan]) -> String {
    if list.is_empty() {
        return "No upgrade plans.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.state.as_str().to_owned(),
                p.from_version.clone().unwrap_or_else(|| "unknown".into()),
                p.to_version.clone(),
                p.channel.as_str().to_owned(),
                p.created_by.clone(),
            ]
        })
        .collect();
    table(&["ID", "STATE", "FROM", "TO", "CHANNEL", "PROPOSED BY"], &rows)
}

pub fn assignments(list: &[Assignment]) -> String {
    if list.is_empty() {
        return "Not assigned to anyone.\n".into();
    }
    let rows: Vec<Vec<String>> =
        list.iter().map(|a| vec![a.user_id.clone(), a.username.clone(), a.assigned_by.clone(), time(&a.assigned_at)]).collect();
    table(&["USER", "USERNAME", "ASSIGNED BY", "SINCE"], &rows)
}
