//! `works schedule create|list|show|update|delete`: workflow runs and read-only node
//! work started by a cron expression in a time zone. Each command is one operation of
//! `works_core::Api`.

use clap::{Subcommand, ValueEnum};
use works_core::{Api, Error, JobKind, NewSchedule, Result, RunMode, Schedule, ScheduleQuery, ScheduleTarget, ScheduleUpdate};

use crate::commands::all_pages;
use crate::fleet::plain;
use crate::output::{fields, json, table, time};
use crate::policy::Mode;

/// Read-only node work a schedule may request.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SafeJob {
    HealthCheck,
    Logs,
    InventoryRefresh,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Add a schedule: a workflow run (--workflow ID) or read-only work on nodes (--job KIND --node ID…)
    ///
    /// The cron expression has five fields (minute hour day-of-month month day-of-week) and is
    /// read in --time-zone, an IANA name such as Europe/Berlin. A scheduled run that reaches a
    /// step needing confirmation waits for a person: a schedule never approves anything.
    Create {
        name: String,
        /// Five fields, e.g. "0 9 * * 1-5" (09:00 on weekdays)
        #[arg(long)]
        cron: String,
        /// IANA time zone, e.g. Europe/Berlin, America/New_York, UTC
        #[arg(long = "time-zone", value_name = "ZONE")]
        time_zone: String,
        /// The workflow to run
        #[arg(long, value_name = "ID", conflicts_with_all = ["job", "node"])]
        workflow: Option<String>,
        #[arg(long, value_enum, default_value = "simulation")]
        mode: Mode,
        /// Read-only node work to request on each --node
        #[arg(long, value_enum, requires = "node")]
        job: Option<SafeJob>,
        /// A node to request the work on (repeat for several)
        #[arg(long, value_name = "ID")]
        node: Vec<String>,
        /// The organization (MSP roles; defaults to your own)
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        /// Add it disabled
        #[arg(long)]
        disabled: bool,
    },
    /// Schedules you may see, by name
    List {
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One schedule: its next fire time in its time zone and what its last fire did
    Show { id: String },
    /// Change the name, cron expression or time zone, or enable/disable
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        cron: Option<String>,
        #[arg(long = "time-zone", value_name = "ZONE")]
        time_zone: Option<String>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
    /// Delete a schedule; the runs and jobs it started stay on record
    Delete { id: String },
}

pub async fn schedule(api: &dyn Api, cmd: ScheduleCommand, as_json: bool) -> Result<String> {
    match cmd {
        ScheduleCommand::Create { name, cron, time_zone, workflow, mode, job, node, org, disabled } => {
            let target = match (workflow, job) {
                (Some(workflow_id), None) => ScheduleTarget::Workflow { workflow_id, mode: match mode { Mode::Simulation => RunMode::Simulation, Mode::Live => RunMode::Live } },
                (None, Some(kind)) => {
                    let job_kind = match kind {
                        SafeJob::HealthCheck => JobKind::HealthCheck,
                        SafeJob::Logs => JobKind::Logs,
                        SafeJob::InventoryRefresh => JobKind::InventoryRefresh,
                    };
                    ScheduleTarget::Job { job_kind, node_ids: node }
                }
                _ => return Err(Error::invalid("target", "give either --workflow ID, or --job KIND with one or more --node ID")),
            };
            let s = api.schedule_create(NewSchedule { org_id: org, name, target, cron, time_zone, enabled: Some(!disabled) }).await?;
            if as_json {
                return json(&s);
            }
            Ok(format!("Added.\n\n{}", schedule_fields(&s)))
        }
        ScheduleCommand::List { org, limit } => {
            let listing = all_pages(limit, |offset, limit| api.schedule_list(ScheduleQuery { org_id: org.clone(), offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            if listing.items.is_empty() {
                return Ok("No schedules.\n".into());
            }
            let rows: Vec<Vec<String>> = listing
                .items
                .iter()
                .map(|s| vec![s.id.clone(), plain(&s.name), s.cron.clone(), s.time_zone.clone(), next(s), plain(&s.target.describe())])
                .collect();
            Ok(table(&["ID", "NAME", "CRON", "TIME ZONE", "NEXT FIRE", "WHAT"], &rows))
        }
        ScheduleCommand::Show { id } => {
            let s = api.schedule_get(&id).await?;
            if as_json {
                return json(&s);
            }
            Ok(schedule_fields(&s))
        }
        ScheduleCommand::Update { id, name, cron, time_zone, enable, disable } => {
            let enabled = match (enable, disable) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            let s = api.schedule_update(&id, ScheduleUpdate { name, cron, time_zone, enabled }).await?;
            if as_json {
                return json(&s);
            }
            Ok(format!("Changed.\n\n{}", schedule_fields(&s)))
        }
        ScheduleCommand::Delete { id } => {
            let s = api.schedule_delete(&id).await?;
            if as_json {
                return json(&s);
            }
            Ok(format!("Removed schedule {}; the runs and jobs it started stay on record.\n", plain(&s.name)))
        }
    }
}

fn next(s: &Schedule) -> String {
    if s.enabled {
        s.next_fire_local().unwrap_or_else(|| "—".to_owned())
    } else {
        "disabled".to_owned()
    }
}

fn schedule_fields(s: &Schedule) -> String {
    fields(&[
        ("ID", s.id.clone()),
        ("Name", plain(&s.name)),
        ("Organization", s.org_id.clone()),
        ("What", plain(&s.target.describe())),
        ("Cron", s.cron.clone()),
        ("Time zone", s.time_zone.clone()),
        ("Next fire", next(s)),
        ("Last fire", s.last_fire_at.as_ref().map(time).unwrap_or_else(|| "not fired yet".to_owned())),
        ("Last outcome", s.last_outcome.as_deref().map(plain).unwrap_or_default()),
        ("Created by", plain(&s.owner_name)),
    ])
}
