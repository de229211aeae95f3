//! The run view, the approval screen and the workflow form in a real, headless Chromium
//! driven through ChromeDriver (started like `browser.rs` does; skipped with a message
//! when it is not installed, except in CI). Run them alone with
//! `cargo test -p works-http --test http workflow_browser:: -- --test-threads=1`; set
//! `WORKS_SCREENSHOT_DIR` to keep the screenshots (`approval.png` among them).

use fantoccini::{Client, Locator};
use works_core::{
    ConnectionStatus, NewConnection, NewPermission, NewWorkflow, Provider, RiskLevel, Role, RunMode, RunState, StartRun, WorkflowQuery, WorkflowStep,
};
use works_testkit::{TestServer, USER_PASSWORD};

use crate::browser::{chromedriver_or_skip, connect, text_of, wait_for_path, Driver, Shots};

/// Chromium through chromedriver, or `None` (the test is skipped) when not installed.
async fn chromium() -> Option<(Driver, Client, tempfile::TempDir)> {
    let binary = chromedriver_or_skip()?;
    let driver = Driver::start(&binary).await;
    let profile = tempfile::tempdir().unwrap();
    let c = connect(&driver, profile.path()).await;
    Some((driver, c, profile))
}

async fn sign_in(c: &Client, server: &TestServer, username: &str, password: &str) {
    c.goto(&server.url("/login")).await.unwrap();
    c.find(Locator::Css("#username")).await.unwrap().send_keys(username).await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(password).await.unwrap();
    c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_path(c, "/ui").await;
}

async fn click_button(c: &Client, label: &str) {
    c.find(Locator::XPath(&format!("//button[normalize-space()='{label}']"))).await.unwrap().click().await.unwrap();
}

async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.unwrap() {
        out.push(e.text().await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_types_the_phrase_on_the_approval_screen_in_chromium() {
    let Some((driver, c, _profile)) = chromium().await else { return };
    let server = TestServer::start_sqlite().await;
    let (works, admin) = (&server.works, &server.admin);
    let acme = server.create_org("Acme Dental").await;
    server.create_user("ada", Role::OrgAdmin, Some(&acme.id)).await;
    works
        .permission_create(admin, NewPermission { org_id: acme.id.clone(), capability_id: "google_drive".into(), allowed_actions: Some(vec!["list_files".into()]), max_risk: Some(RiskLevel::Low), require_confirmation: Some(true), approvers_required: None })
        .await
        .unwrap();
    works.permission_create(admin, NewPermission { org_id: acme.id.clone(), capability_id: "summarize".into(), allowed_actions: None, max_risk: None, require_confirmation: None, approvers_required: None }).await.unwrap();
    let conn = works
        .connection_create(admin, NewConnection { instances: vec![], org_id: Some(acme.id.clone()), name: "Acme Drive".into(), provider: Provider::GoogleDrive, capabilities: vec!["google_drive".into()], credential: None, status: Some(ConnectionStatus::Connected) })
        .await
        .unwrap();
    let steps = vec![
        WorkflowStep { capability_id: "google_drive".into(), action: "list_files".into(), connection_id: Some(conn.id.clone()), parameters: serde_json::json!({"page_size": 5}) },
        WorkflowStep { capability_id: "summarize".into(), action: "summarize_text".into(), connection_id: None, parameters: serde_json::json!({}) },
    ];
    let wf = works.workflow_create(admin, NewWorkflow { org_id: Some(acme.id.clone()), name: "Weekly files".into(), description: None, steps }).await.unwrap();
    let run = works.run_start(admin, &wf.id, StartRun { mode: RunMode::Live }).await.unwrap();
    assert_eq!(run.state, RunState::AwaitingApproval, "{}", run.reason);
    let phrase = run.steps[0].approval_phrase.clone().unwrap();
    let shots = Shots::new();

    // The approver opens the paused run: the state, the phrase, and the step log.
    sign_in(&c, &server, "ada", USER_PASSWORD).await;
    let run_path = format!("/ui/workflows/{}/runs/{}", wf.id, run.id);
    c.goto(&server.url(&run_path)).await.unwrap();
    assert_eq!(text_of(&c, "h1").await, "Run of Weekly files");
    assert!(texts(&c, ".page-head .badge").await.contains(&"Waiting for approval".to_owned()));
    assert_eq!(text_of(&c, ".approval h2").await, "Approve step 1");
    assert_eq!(text_of(&c, ".phrase code").await, phrase);
    let log = texts(&c, "ol.steps > li").await;
    assert!(log[0].contains("awaiting approval") && log[0].contains(&format!("Waits for a person to confirm by typing: {phrase}")), "{log:?}");
    assert!(log[1].contains("Step 2") && log[1].contains("pending"), "{log:?}");
    shots.take(&c, "approval").await;

    // A wrong phrase: refused next to the field in plain English; the run still waits.
    c.find(Locator::Css("#approve-phrase")).await.unwrap().send_keys("list files with Google Drive").await.unwrap();
    click_button(&c, "Approve").await;
    let refusal = text_of(&c, "#approve-phrase-error").await;
    assert!(refusal.starts_with("Does not match"), "{refusal}");
    let invalid = c.find(Locator::Css("#approve-phrase")).await.unwrap().attr("aria-invalid").await.unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    assert!(texts(&c, ".page-head .badge").await.contains(&"Waiting for approval".to_owned()));
    assert_eq!(works.run_get(admin, &wf.id, &run.id).await.unwrap().state, RunState::AwaitingApproval);
    shots.take(&c, "approval-wrong-phrase").await;

    // The right phrase: the run resumes and completes; the log shows each step's outcome and reason.
    let field = c.find(Locator::Css("#approve-phrase")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(&phrase).await.unwrap();
    click_button(&c, "Approve").await;
    wait_for_path(&c, &format!("{run_path}?notice=approved")).await;
    assert_eq!(text_of(&c, ".alert.success p").await, "Approved.");
    assert!(texts(&c, ".page-head .badge").await.contains(&"Complete".to_owned()));
    assert!(c.find_all(Locator::Css(".approval")).await.unwrap().is_empty(), "no approval form once approved");
    let log = texts(&c, "ol.steps > li").await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[0].starts_with("Step 1: list files with Google Drive") && log[1].starts_with("Step 2: summarize text with Summarize"), "{log:?}");
    assert!(log[0].contains("succeeded") && log[0].contains("Stub") && log[0].contains("demo file(s)") && log[0].contains("Approved by ada"), "{log:?}");
    assert!(log[1].contains("simulated") && log[1].contains("No live action exists for summarize text"), "{log:?}");
    let done = works.run_get(admin, &wf.id, &run.id).await.unwrap();
    assert_eq!(done.state, RunState::Succeeded, "{}", done.reason);
    assert_eq!(done.steps[0].approvals.iter().map(|a| a.by_name.as_str()).collect::<Vec<_>>(), vec!["ada"]);
    shots.take(&c, "approval-done").await;

    c.close().await.unwrap();
    drop(driver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_is_created_through_the_form_after_a_refused_step_in_chromium() {
    let Some((driver, c, _profile)) = chromium().await else { return };
    let server = TestServer::start_sqlite().await;
    let acme = server.create_org("Acme Dental").await;
    server.create_user("ada", Role::OrgAdmin, Some(&acme.id)).await;
    let conn = server
        .works
        .connection_create(&server.admin, NewConnection { instances: vec![], org_id: Some(acme.id.clone()), name: "Acme Drive".into(), provider: Provider::GoogleDrive, capabilities: vec!["google_drive".into()], credential: None, status: None })
        .await
        .unwrap();
    let shots = Shots::new();

    sign_in(&c, &server, "ada", USER_PASSWORD).await;
    c.goto(&server.url("/ui/workflows")).await.unwrap();
    c.find(Locator::LinkText("New workflow")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui/workflows/new").await;
    assert_eq!(text_of(&c, "h1").await, "New workflow");

    // A Drive step without its connection: refused next to the step's field; nothing saved.
    c.find(Locator::Css("#w-name")).await.unwrap().send_keys("Weekly files").await.unwrap();
    c.find(Locator::Css("#step-1-action")).await.unwrap().select_by_value("google_drive/list_files").await.unwrap();
    c.find(Locator::Css("#step-1-parameters")).await.unwrap().send_keys(r#"{"page_size": 5}"#).await.unwrap();
    click_button(&c, "Save workflow").await;
    assert_eq!(text_of(&c, "#step-1-connection-error").await, "Step 1: Google Drive needs a Google Drive connection");
    let invalid = c.find(Locator::Css("#step-1-connection")).await.unwrap().attr("aria-invalid").await.unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    assert_eq!(c.find(Locator::Css("#w-name")).await.unwrap().prop("value").await.unwrap().as_deref(), Some("Weekly files"), "what was typed is kept");
    assert!(server.works.workflow_list(&server.admin, WorkflowQuery::default()).await.unwrap().items.is_empty(), "nothing saved");
    shots.take(&c, "workflow-form-refused").await;

    // Fixed: the connection chosen, and a second step added in a spare row.
    c.find(Locator::Css("#step-1-connection")).await.unwrap().select_by_value(&conn.id).await.unwrap();
    c.find(Locator::Css("#step-2-action")).await.unwrap().select_by_value("summarize/summarize_text").await.unwrap();
    click_button(&c, "Save workflow").await;
    wait_for_path(&c, "/ui/workflows/").await;
    assert_eq!(text_of(&c, ".alert.success p").await, "Saved. Every step was checked; runs use the new steps from now on.");
    assert_eq!(text_of(&c, "h1").await, "Weekly files");
    let steps = texts(&c, "ol li").await;
    assert!(steps.iter().any(|s| s.contains("list files (low risk) with Google Drive")), "{steps:?}");
    let saved = server.works.workflow_list(&server.admin, WorkflowQuery::default()).await.unwrap().items;
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].steps.iter().map(|s| s.action.as_str()).collect::<Vec<_>>(), vec!["list_files", "summarize_text"]);
    assert_eq!(saved[0].steps[0].connection_id.as_deref(), Some(conn.id.as_str()));
    assert_eq!(saved[0].steps[0].parameters, serde_json::json!({"page_size": 5}));
    assert_eq!(saved[0].owner_name, "ada");
    shots.take(&c, "workflow-saved").await;

    c.close().await.unwrap();
    drop(driver);
}
