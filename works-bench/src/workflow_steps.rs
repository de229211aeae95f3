//! `works-bench workflow-steps`: what a workflow step costs beyond its action — the
//! policy check and the state changes written (with their audit records) around it —
//! against one real `works serve` process over HTTP.
//!
//! A workflow of K steps of the cheapest real action (`summarize_text` of the built-in
//! `summarize` capability: no connection, nothing outside touched) is run R times
//! through `POST /api/v1/workflows/{id}/runs`, in simulation and live mode. Each run
//! record carries its own timestamps: the run's start (`created_at`) and end
//! (`finished_at`), and each step's `started_at` and `finished_at` around its action.
//! Per-step overhead = (run duration − time inside actions) / K. The timestamps are
//! whole milliseconds, so a run's figure is good to about 1/K ms.
//!
//! In live mode a step's `started_at` is set before the run is saved with the step
//! marked running (so recovery can tell a step that was executing), so that save falls
//! inside the step's own span and the difference above understates the overhead. The
//! stub action itself only formats a sentence (microseconds, no I/O), so the whole run
//! divided by K is also printed, as an upper bound; the headline uses that bound.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use works_core::{NewOrg, NewPermission, NewToken, NewWorkflow, RiskLevel, Works, WorkflowRun, WorkflowStep};

use crate::{fresh_postgres, start_server};

/// The target for one step's overhead, in milliseconds.
const TARGET_MS: f64 = 10.0;

pub(crate) async fn run(steps: usize, runs: usize, database: Option<String>, works_bin: Option<PathBuf>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, backend) = match &database {
        Some(admin) => (fresh_postgres(admin).await?, "postgres"),
        None => (works_store::sqlite_url_for_dir(dir.path()), "sqlite"),
    };
    println!("workflow-steps backend={backend} steps={steps} runs={runs} action=summarize/summarize_text");

    let store = works_store::open(&url).await.map_err(|e| anyhow!("{e}"))?;
    let works = Works::new(store);
    works.bootstrap(Some("benchmark-admin-password".into())).await.map_err(|e| anyhow!("{e}"))?;
    let admin = works.local_actor("admin").await.map_err(|e| anyhow!("{e}"))?;
    let org = works.org_create(&admin, NewOrg { name: "Bench Org".into() }).await.map_err(|e| anyhow!("{e}"))?;
    works
        .permission_create(
            &admin,
            NewPermission {
                org_id: org.id.clone(),
                capability_id: "summarize".into(),
                allowed_actions: Some(vec!["summarize_text".into()]),
                max_risk: Some(RiskLevel::Low),
                require_confirmation: Some(false),
                approvers_required: None,
            },
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let step = WorkflowStep { capability_id: "summarize".into(), action: "summarize_text".into(), connection_id: None, parameters: serde_json::json!({}) };
    let workflow = works
        .workflow_create(&admin, NewWorkflow { org_id: Some(org.id.clone()), name: "Step overhead".into(), description: None, steps: vec![step; steps] })
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let token = works.token_create(&admin, NewToken { name: "workflow benchmark".into(), expires_in_days: Some(1) }).await.map_err(|e| anyhow!("{e}"))?.token;

    let (mut server, base) = start_server(works_bin, dir.path(), &url).await?;
    let http = reqwest::Client::new();
    let mut worst_live = 0.0f64;
    let mut summary = Vec::new();
    for mode in ["simulation", "live"] {
        let mut per_step = Vec::with_capacity(runs);
        let mut per_step_http = Vec::with_capacity(runs);
        let mut per_step_whole = Vec::with_capacity(runs);
        for _ in 0..runs {
            let sent = Instant::now();
            let r = http.post(format!("{base}/api/v1/workflows/{}/runs", workflow.id)).bearer_auth(&token).json(&serde_json::json!({ "mode": mode })).send().await?;
            let status = r.status();
            if !status.is_success() {
                bail!("starting a {mode} run answered {status}: {}", r.text().await.unwrap_or_default());
            }
            let run: WorkflowRun = r.json().await?;
            let round_trip = sent.elapsed().as_secs_f64() * 1000.0;
            let (end, outcome) = (run.finished_at, run.state);
            let Some(end) = end else { bail!("the {mode} run did not finish: {outcome:?}, {}", run.reason) };
            if run.state != works_core::RunState::Succeeded {
                bail!("the {mode} run ended {:?}: {}", run.state, run.reason);
            }
            let total = (end - run.created_at).num_microseconds().unwrap_or_default() as f64 / 1000.0;
            let mut in_actions = 0.0;
            for s in &run.steps {
                match (s.started_at, s.finished_at) {
                    (Some(a), Some(b)) => in_actions += (b - a).num_microseconds().unwrap_or_default() as f64 / 1000.0,
                    _ => bail!("step {} of the {mode} run has no start or end time", s.number),
                }
            }
            per_step.push((total - in_actions) / steps as f64);
            per_step_whole.push(total / steps as f64);
            per_step_http.push((round_trip - in_actions) / steps as f64);
        }
        per_step.sort_by(f64::total_cmp);
        per_step_http.sort_by(f64::total_cmp);
        per_step_whole.sort_by(f64::total_cmp);
        let median_whole = per_step_whole[per_step_whole.len() / 2];
        let median = per_step[per_step.len() / 2];
        let median_http = per_step_http[per_step_http.len() / 2];
        println!(
            "{mode}: step overhead (policy check + state change, excluding the action) median {median:.2} ms, worst {:.2} ms over {runs} runs of {steps} steps; \
             whole run / steps (upper bound, action included) {median_whole:.2} ms; target {TARGET_MS} ms ({:.2}x); \
             counting the HTTP request too: {median_http:.2} ms per step",
            per_step.last().copied().unwrap_or_default(),
            median_whole / TARGET_MS
        );
        if mode == "live" {
            worst_live = median_whole;
        }
        summary.push(format!("{mode} {median:.2} ms excluding actions, {median_whole:.2} ms bound"));
    }
    let _ = server.kill().await;
    if let Some(admin_url) = &database {
        crate::drop_postgres(admin_url).await;
    }
    println!("headline: workflow step overhead = {:.2}x of the 10 ms target ({backend}{}, live mode, upper bound; {})", worst_live / TARGET_MS, crate::database_note(), summary.join("; "));
    Ok(())
}
