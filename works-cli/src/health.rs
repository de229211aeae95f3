//! `works health`: the one answer and its issues, with exit code 0 healthy, 1 degraded,
//! 2 critical (for cron); `works health acknowledge ID --note …`.

use std::sync::Arc;

use clap::{Args, Subcommand};
use works_core::{Api, CoreConfig, Error, HealthIssue, HealthReport, HistoryQuery, MetricHistory, NodeThresholds, Result, Session};

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
    /// The sampled history of the answer and fleet counts (taken every minute by the server, kept 7 days)
    History {
        /// How many hours back, 1 to 168
        #[arg(long, default_value_t = 24)]
        hours: u32,
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
        Some(HealthCommand::History { hours }) => {
            let history = api.metrics_history(HistoryQuery { hours: Some(*hours) }).await?;
            let text = if cli.json { output::json(&history)? } else { history_text(&history) };
            Ok((text, 0))
        }
    }
}

/// At most this many rows of history are printed; `--json` gives every sample.
const HISTORY_ROWS: usize = 48;

pub fn history_text(h: &MetricHistory) -> String {
    if h.samples.is_empty() {
        return format!(
            "No samples between {} and {}. The server samples every {} seconds while `works serve` runs.\n",
            output::time(&h.from),
            output::time(&h.to),
            h.sample_every_secs
        );
    }
    let step = h.samples.len().div_ceil(HISTORY_ROWS).max(1);
    let count = |m: &std::collections::BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0).to_string();
    let mut picked: Vec<&works_core::MetricSample> = h.samples.iter().step_by(step).collect();
    if let Some(last) = h.samples.last() {
        if picked.last().map(|p| p.at) != Some(last.at) {
            picked.push(last);
        }
    }
    let rows: Vec<Vec<String>> = picked
        .iter()
        .map(|s| {
            vec![
                output::time(&s.at),
                s.state.as_str().to_owned(),
                s.counts.issues.to_string(),
                format!("{}/{}/{}", count(&s.counts.nodes, "online"), count(&s.counts.nodes, "stale"), count(&s.counts.nodes, "offline")),
                format!("{}/{}", count(&s.counts.instances, "unhealthy"), count(&s.counts.instances, "missing")),
                format!("{}/{}", count(&s.counts.jobs, "running"), count(&s.counts.jobs, "failed")),
                s.counts.orgs.to_string(),
            ]
        })
        .collect();
    let mut out = output::table(
        &["TIME", "ANSWER", "ISSUES", "NODES ON/STALE/OFF", "OPENCLAW BAD/GONE", "JOBS RUN/FAILED", "ORGS"],
        &rows,
    );
    if step > 1 {
        out.push_str(&format!("Every {step}th of {} samples shown; --json gives them all.\n", h.samples.len()));
    }
    out
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
