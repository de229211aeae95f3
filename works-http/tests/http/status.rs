//! The executive status summary: `GET /api/v1/status-summary` and the printable page
//! `/ui/status` answer each person about their own scope only (another organization's
//! failures and machines never show), agent-supplied text is shown as text, and the
//! page carries no script, no form but sign-out, and print rules that leave out the
//! navigation and buttons.

use serde_json::json;
use works_core::{CheckIn, EnrollRequest, JobKind, JobReport, NewJob, NewNode, NodeHealth, Role};
use works_testkit::TestServer;

use crate::common::{anonymous, as_admin, as_token};

const EVIL_REASON: &str = "<script>window.__pwned=1</script><img src=x onerror=alert(1)> Docker did not answer.";

/// A node of `org_id` whose agent checked in, with one failed health check.
async fn failed_job(s: &TestServer, org_id: &str, name: &str) {
    let w = &s.works;
    let node = w.node_create(&s.admin, NewNode { name: name.into(), org_id: Some(org_id.into()) }).await.unwrap();
    let token = w.enrollment_token_create(&s.admin, &node.id).await.unwrap();
    let cred = w.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
    let agent = w.authenticate_agent(&cred.credential).await.unwrap();
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    w.agent_checkin(&agent, CheckIn { health, containers: None }).await.unwrap();
    let job = w.job_request(&s.admin, NewJob { node_id: node.id.clone(), kind: JobKind::HealthCheck, params: json!({}) }).await.unwrap();
    w.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
    w.agent_job_start(&agent, &job.id).await.unwrap();
    let report = JobReport { succeeded: false, result: None, output: None, reason: Some(EVIL_REASON.into()) };
    w.agent_job_complete(&agent, &job.id, report).await.unwrap();
}

async fn page(s: &TestServer, cookie: &str) -> (reqwest::StatusCode, String) {
    let r = s.client().get(s.url("/ui/status")).header("cookie", cookie).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

pub async fn the_status_summary_is_scoped_and_printable(s: &TestServer) {
    anonymous(s).get("/api/v1/status-summary").await.expect_error(401, "unauthenticated");
    let r = s.client().get(s.url("/ui/status")).send().await.unwrap();
    assert_eq!(r.status(), 303, "signed out: to the sign-in form");

    let acme = s.create_org("Acme Dental").await;
    let bolt = s.create_org("Bolt Logistics").await;
    let a_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&acme.id)).await;
    let b_admin = s.create_user("bolt-admin", Role::OrgAdmin, Some(&bolt.id)).await;
    failed_job(s, &acme.id, "acme-web-01").await;

    // The API: the MSP sees both organizations and Acme's failure.
    let all = as_admin(s).get("/api/v1/status-summary").await.expect_status(200).clone();
    assert_eq!(all["state"], "degraded", "{all}");
    assert_eq!(all["counts"]["organizations"], 2, "{all}");
    assert_eq!(all["counts"]["jobs_failed_24h"], 1, "{all}");
    assert_eq!(all["counts"]["nodes_online"], 1, "{all}");
    assert!(all["incidents"][0]["title"].as_str().unwrap().contains("acme-web-01"), "{all}");
    let a = as_token(s, &a_admin.token).get("/api/v1/status-summary").await.expect_status(200).clone();
    assert_eq!((a["counts"]["organizations"].clone(), a["counts"]["jobs_failed_24h"].clone()), (json!(1), json!(1)), "{a}");
    // Bolt's admin learns nothing of Acme.
    let b = as_token(s, &b_admin.token).get("/api/v1/status-summary").await.expect_status(200).clone();
    assert_eq!(b["state"], "healthy", "{b}");
    assert_eq!(b["counts"]["organizations"], 1, "{b}");
    assert_eq!((b["counts"]["jobs_failed_24h"].clone(), b["counts"]["nodes_online"].clone()), (json!(0), json!(0)), "{b}");
    assert_eq!(b["incidents"], json!([]), "{b}");
    assert!(!b.to_string().contains("acme"), "{b}");

    // The page, for the MSP admin: the answer, the counts, the incident as text.
    let admin = crate::browser_session::sign_in(s, "admin", works_testkit::ADMIN_PASSWORD).await;
    let (status, html) = page(s, &admin.cookie).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"<h1 class="answer-word">Degraded</h1>"#), "{html}");
    assert!(html.contains(r#"<a href="/ui/status" aria-current="page">Status</a>"#), "{html}");
    assert!(html.contains("<dt>Organizations</dt><dd>2</dd>"), "{html}");
    assert!(html.contains("<dt>Jobs failed in the last 24 hours</dt><dd>1</dd>"), "{html}");
    assert!(html.contains("acme-web-01"), "{html}");
    assert!(html.contains("&#60;script&#62;window.__pwned=1&#60;/script&#62;"), "agent text is shown as text: {html}");
    assert!(!html.contains("<script") && !html.contains("<img src=x"), "no markup from the data, no script at all: {html}");
    assert_eq!(html.matches("<form").count(), 1, "read-only: the only form is sign-out: {html}");
    assert!(html.contains("No OpenClaw instances."), "{html}");

    // The print rules: the navigation and buttons are left out.
    let css = s.client().get(s.url("/assets/style.css")).send().await.unwrap().text().await.unwrap();
    let print = css.split("@media print").nth(1).expect("a print stylesheet");
    assert!(print.contains(".topbar") && print.contains("button") && print.contains("display: none"), "{print}");

    // The page, for Bolt's admin: their organization only.
    let bolt_browser = crate::browser_session::sign_in(s, "bolt-admin", &b_admin.password).await;
    let (status, html) = page(s, &bolt_browser.cookie).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"<h1 class="answer-word">Healthy</h1>"#), "{html}");
    assert!(html.contains("<dt>Organizations</dt><dd>1</dd>"), "{html}");
    assert!(html.contains("Nothing needs attention."), "{html}");
    assert!(!html.contains("acme-web-01") && !html.contains("Docker did not answer"), "nothing of Acme: {html}");
}

crate::on_both_backends!(the_status_summary_is_scoped_and_printable);
