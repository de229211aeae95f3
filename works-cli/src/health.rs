//! `works health`: the one answer and its issues, with exit code 0 healthy, 1 degraded,
//! 2 critical (for cron); `works health acknowledge ID --note …`.

use std::sync::Arc;

use clap::{Args, Subcommand};
use works_core::{Api, CoreConfig, Error, HealthIssue, HealthReport, NodeThresholds, Result, Session};

use crate::cli::Cli;
use crate::connect;
use crate::output;

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(subcommand)]
    pub command: Option<HealthCommand>,

    /// With a database opened directly: seconds without a check-in after which a node is stale (as the server is set)
    #[arg(long, env = "WORKS_NODE_STALE_AFTER_SECS", value_name = "SECS", default_value_t = 90)]
    pub node_stale_after_secs: u64,

    /// With a database opened directly: seconds without a check-in after which a node is offline (as the server is set)
    #[arg(long, env = "WORKS_NODE_OFFLINE_AFTER_SECS", value_name = "SECS", default_value_t = 300)]
    pub node_offline_after_secs: u64,
}

#[derive(Debug, Subcommand)]
pub enum HealthCommand {
    /// Mark an issue reviewed: it leaves the answer until its condition changes
    Acknowledge {
        /// The issue id, as `works health` shows it (e.g. node-offline:<node id>)
        id: String,
        /// Why it is fine, or what is being done about it
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// Runs the command; returns what to print and the exit code.
pub async fn run(cli: &Cli, args: &HealthArgs) -> Result<(String, u8)> {
    let api = match api(cli, args).await {
        Ok(api) => api,
        Err(Error::Unavailable { message }) if args.command.is_none() => {
            return answer(cli, &HealthReport::unreachable(&message, chrono::Utc::now()));
        }
        Err(e) => return Err(e),
    };
    match &args.command {
        None => {
            let report = match api.health().await {
                Ok(report) => report,
                Err(Error::Unavailable { message }) => HealthReport::unreachable(&message, chrono::Utc::now()),
                Err(e) => return Err(e),
            };
            let text = if cli.json { output::json(&report)? } else { report_text(&report) };
            Ok((text, report.state.code()))
        }
        Some(HealthCommand::Acknowledge { id, note }) => {
            let issue = api.health_acknowledge(id, note).await?;
            let text = if cli.json {
                output::json(&issue)?
            } else {
                format!("Acknowledged: {}. It stays reviewed until its condition changes.\n", issue.title)
            };
            Ok((text, 0))
        }
    }
}

fn answer(cli: &Cli, report: &HealthReport) -> Result<(String, u8)> {
    let text = if cli.json { output::json(report)? } else { report_text(report) };
    Ok((text, report.state.code()))
}

/// Remote as usual; embedded with the node thresholds given, so the answer matches the server's.
async fn api(cli: &Cli, args: &HealthArgs) -> Result<Arc<dyn Api>> {
    if cli.server.is_some() {
        return connect::api(cli).await;
    }
    if args.node_stale_after_secs == 0 || args.node_offline_after_secs < args.node_stale_after_secs {
        return Err(Error::invalid("node_offline_after_secs", "must be at least the stale threshold, which must be above 0"));
    }
    let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
    let config = CoreConfig {
        nodes: NodeThresholds { stale_after: secs(args.node_stale_after_secs), offline_after: secs(args.node_offline_after_secs) },
        ..CoreConfig::default()
    };
    let url = connect::database_url(cli)?;
    let (works, outcome) = connect::open_works(&url).await?;
    if let Some(message) = connect::bootstrap_message(&outcome) {
        eprintln!("{message}");
    }
    let works = works.with_config(config);
    let actor = works.local_actor(cli.as_user.as_deref().unwrap_or(works_core::auth::FIRST_ADMIN)).await?;
    Ok(Arc::new(Session::new(works, actor)))
}

fn issue_text(out: &mut String, issue: &HealthIssue) {
    out.push_str(&format!("  [{}] {}\n", issue.severity.as_str(), issue.title));
    out.push_str(&format!("      Why:   {}\n", issue.why));
    out.push_str(&format!("      Next:  {}\n", issue.next_action));
    out.push_str(&format!("      See:   {}\n", issue.link));
    out.push_str(&format!("      Issue: {}\n", issue.id));
}

pub fn report_text(report: &HealthReport) -> String {
    let mut out = format!("{}: {}\n", report.state.label(), report.summary);
    if !report.issues.is_empty() {
        out.push('\n');
        for issue in &report.issues {
            issue_text(&mut out, issue);
        }
    }
    if !report.acknowledged.is_empty() {
        out.push_str(&format!("\nReviewed ({}):\n", report.acknowledged.len()));
        for issue in &report.acknowledged {
            let by = issue
                .acknowledgement
                .as_ref()
                .map(|a| {
                    let note = if a.note.is_empty() { String::new() } else { format!(": {}", a.note) };
                    format!(" (acknowledged by {}{note})", a.acknowledged_by)
                })
                .unwrap_or_default();
            out.push_str(&format!("  {}{by}\n", issue.title));
        }
    }
    if !report.validation.is_empty() {
        out.push_str(&format!("\nTest and validation records ({}), not counted:\n", report.validation.len()));
        for issue in &report.validation {
            out.push_str(&format!("  {}\n", issue.title));
        }
    }
    out.push_str(&format!("\nChecked {}.\n", output::time(&report.checked_at)));
    out
}
