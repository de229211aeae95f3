//! Nodes and jobs in a real, headless Chromium: agent-reported markup stays text, and a
//! person approves risky work by typing its phrase. Skipped without chromedriver, except
//! in CI. Set `WORKS_SCREENSHOT_DIR` to keep the screenshots.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;
use works_core::{JobKind, JobReport, JobState, NewJob, NewNode};
use works_testkit::{TestServer, ADMIN_PASSWORD};

use super::{check_in, container, enroll_agent};
use crate::browser::{chromedriver_or_skip, connect, text_of, wait_for_path, Driver, Shots};

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

async fn click_button(c: &Client, label: &str) {
    c.find(Locator::XPath(&format!("//button[normalize-space()='{label}']"))).await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_and_jobs_in_chromium() {
    let Some(binary) = chromedriver_or_skip() else { return };
    let s = TestServer::start_sqlite().await;
    let acme = s.create_org("Acme Dental").await;
    let node = s.works.node_create(&s.admin, NewNode { name: "acme-web-01".into(), org_id: Some(acme.id.clone()) }).await.unwrap();
    s.works.node_create(&s.admin, NewNode { name: "msp-jump-01".into(), org_id: None }).await.unwrap();
    let agent = enroll_agent(&s, &node.id).await;
    check_in(
        &s,
        &agent,
        vec![
            container("openclaw-gateway", "openclaw/openclaw:2026.1", &[("works.managed", "true"), ("works.bundle", "openclaw")]),
            container(
                "<script>window.pwned=1</script>",
                "evil:1\"><img src=x onerror=\"window.pwned=2\">",
                &[("<img src=x onerror=\"window.pwned=3\">", "$(rm -rf /)")],
            ),
        ],
    )
    .await;
    let request = |kind: JobKind| NewJob { node_id: node.id.clone(), kind, params: json!({}) };
    let check = s.works.job_request(&s.admin, request(JobKind::HealthCheck)).await.unwrap();
    s.works.agent_claim(&agent, Duration::ZERO).await.unwrap().unwrap();
    let report = JobReport {
        succeeded: false,
        result: None,
        output: Some("checking disk…\n<b>/dev/sda1</b> 100% full".into()),
        reason: Some("The disk is full.".into()),
    };
    s.works.agent_job_complete(&agent, &check.id, report).await.unwrap();
    let deploy = s.works.job_request(&s.admin, request(JobKind::Deploy)).await.unwrap();

    let driver = Driver::start(&binary).await;
    let profile = tempfile::tempdir().unwrap();
    let c = connect(&driver, profile.path()).await;
    let shots = Shots::new();

    c.goto(&s.url("/login")).await.unwrap();
    c.find(Locator::Css("#username")).await.unwrap().send_keys("admin").await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(ADMIN_PASSWORD).await.unwrap();
    c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    // Signing in lands on the dashboard.
    wait_for_path(&c, "/ui").await;
    assert_eq!(text_of(&c, "nav.sections a[aria-current=page]").await, "Health");

    // The roster.
    c.find(Locator::LinkText("Nodes")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui/nodes").await;
    assert_eq!(text_of(&c, "h1").await, "Nodes");
    assert_eq!(text_of(&c, "nav.sections a[aria-current=page]").await, "Nodes");
    let roster = c.source().await.unwrap();
    assert!(roster.contains("Shared MSP infrastructure") && roster.contains("Acme Dental"), "{roster}");
    shots.take(&c, "nodes").await;

    // One node: markup an agent reported is shown as text and never becomes elements.
    c.find(Locator::LinkText("acme-web-01")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, &format!("/ui/nodes/{}", node.id)).await;
    assert_eq!(text_of(&c, "h1").await, "acme-web-01");
    assert_eq!(text_of(&c, ".page-head .badge").await, "Online");
    assert_eq!(count(&c, "img").await, 0, "an image element was made from agent text");
    assert_eq!(count(&c, "script:not([src='/assets/shell.js'])").await, 0, "a script element was made from agent text");
    let pwned = c.execute("return window.pwned === undefined ? null : window.pwned;", vec![]).await.unwrap();
    assert!(pwned.is_null(), "agent text ran as script: {pwned}");
    let names: Vec<String> = {
        let mut out = Vec::new();
        for cell in c.find_all(Locator::Css("table.containers tbody tr td:first-child code")).await.unwrap() {
            out.push(cell.text().await.unwrap());
        }
        out
    };
    assert!(names.contains(&"<script>window.pwned=1</script>".to_owned()), "{names:?}");
    for summary in c.find_all(Locator::Css("table.containers details summary")).await.unwrap() {
        summary.click().await.unwrap();
    }
    let mut labels = String::new();
    for list in c.find_all(Locator::Css("table.containers ul.labels")).await.unwrap() {
        labels.push_str(&list.text().await.unwrap());
        labels.push('\n');
    }
    assert!(labels.contains("<img src=x onerror=\"window.pwned=3\">=$(rm -rf /)"), "{labels}");
    shots.take(&c, "node").await;

    // An enrollment token with the command to run, shown once.
    click_button(&c, "Create enrollment token").await;
    let command = text_of(&c, "pre.command code").await;
    assert!(command.starts_with(&format!("works agent enroll --server {} --token wke_", s.url)), "{command}");
    shots.take(&c, "node-enroll").await;

    // Jobs: the list, then approval by typing the phrase.
    c.goto(&s.url("/ui/jobs")).await.unwrap();
    assert_eq!(text_of(&c, "h1").await, "Jobs");
    let list = c.source().await.unwrap();
    assert!(list.contains("Waiting for approval") && list.contains("The disk is full.") && list.contains("1 of 3"), "{list}");
    shots.take(&c, "jobs").await;
    c.find(Locator::LinkText("Deploy OpenClaw")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, &format!("/ui/jobs/{}", deploy.id)).await;
    assert_eq!(text_of(&c, ".phrase code").await, "deploy openclaw on acme-web-01");
    c.find(Locator::Css("#approve-phrase")).await.unwrap().send_keys("deploy openclaw on acme-web-1").await.unwrap();
    click_button(&c, "Approve").await;
    let refusal = text_of(&c, "#approve-phrase-error").await;
    assert_eq!(refusal, "Does not match; type exactly: deploy openclaw on acme-web-01");
    assert_eq!(s.works.job_get(&s.admin, &deploy.id).await.unwrap().state, JobState::AwaitingApproval);
    shots.take(&c, "job-approval-refused").await;
    let field = c.find(Locator::Css("#approve-phrase")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("deploy openclaw on acme-web-01").await.unwrap();
    click_button(&c, "Approve").await;
    wait_for_path(&c, &format!("/ui/jobs/{}?notice=approved", deploy.id)).await;
    assert_eq!(text_of(&c, ".page-head .badge").await, "Waiting for the agent");
    assert_eq!(s.works.job_get(&s.admin, &deploy.id).await.unwrap().state, JobState::Queued);

    // A failed job: its output behind "View output", and Retry.
    c.goto(&s.url(&format!("/ui/jobs/{}", check.id))).await.unwrap();
    c.find(Locator::XPath("//summary[normalize-space()='View output']")).await.unwrap().click().await.unwrap();
    let output = text_of(&c, "details.output pre").await;
    assert_eq!(output, "checking disk…\n<b>/dev/sda1</b> 100% full");
    assert_eq!(count(&c, "details.output pre b").await, 0);
    shots.take(&c, "job-output").await;
    click_button(&c, "Retry").await;
    wait_for_path(&c, "/ui/jobs/").await;
    assert_eq!(text_of(&c, ".alert.success p").await, "This is a new attempt of the earlier job.");

    c.close().await.unwrap();
    drop(driver);
}
