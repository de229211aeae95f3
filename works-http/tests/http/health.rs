//! `GET /api/v1/health`, acknowledging an issue, and `GET /metrics` (bearer of an MSP
//! role unless opened with `metrics_public`), in the Prometheus text format.

use serde_json::{json, Value};
use works_core::{CheckIn, EnrollRequest, JobKind, JobReport, NewJob, NewNode, NodeHealth, Role};
use works_testkit::TestServer;

use crate::common::{anonymous, as_admin, as_token};

/// A node of `org_id` whose agent checked in, with one failed health check; returns the job id.
async fn failed_job(s: &TestServer, org_id: &str) -> String {
    let w = &s.works;
    let node = w.node_create(&s.admin, NewNode { name: "acme-web-01".into(), org_id: Some(org_id.into()) }).await.unwrap();
    let token = w.enrollment_token_create(&s.admin, &node.id).await.unwrap();
    let cred = w.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
    let agent = w.authenticate_agent(&cred.credential).await.unwrap();
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    w.agent_checkin(&agent, CheckIn { health, containers: None }).await.unwrap();
    let job = w.job_request(&s.admin, NewJob { node_id: node.id.clone(), kind: JobKind::HealthCheck, params: json!({}) }).await.unwrap();
    w.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
    w.agent_job_start(&agent, &job.id).await.unwrap();
    let report = JobReport { succeeded: false, result: None, output: None, reason: Some("Docker did not answer.".into()) };
    w.agent_job_complete(&agent, &job.id, report).await.unwrap();
    job.id
}

/// Every sample line of a Prometheus text document: (name with labels, value).
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample line: {l}"));
            assert!(name.starts_with("works_"), "{l}");
            if let Some(labels) = name.split_once('{').map(|(_, rest)| rest) {
                assert!(labels.ends_with('}'), "unclosed labels: {l}");
                for pair in labels.trim_end_matches('}').split("\",") {
                    let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label in {l}"));
                    assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{l}");
                    assert!(!v.is_empty() || l.contains("=\"\""), "{l}");
                }
            }
            (name.to_owned(), value.parse::<f64>().unwrap_or_else(|e| panic!("bad value in {l}: {e}")))
        })
        .collect()
}

fn sample(all: &[(String, f64)], name: &str) -> Option<f64> {
    all.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

pub async fn the_health_answer_and_its_acknowledgement(s: &TestServer) {
    anonymous(s).get("/api/v1/health").await.expect_error(401, "unauthenticated");
    let r = as_admin(s).get("/api/v1/health").await;
    let body = r.expect_status(200);
    assert_eq!(body["state"], "healthy", "{body}");
    assert_eq!(body["issues"], json!([]));

    let org = s.create_org("Acme Dental").await;
    let other = s.create_org("Bolt Logistics").await;
    let a_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&org.id)).await;
    let b_admin = s.create_user("bolt-admin", Role::OrgAdmin, Some(&other.id)).await;
    let job_id = failed_job(s, &org.id).await;
    let issue_id = format!("job-failed:{job_id}");

    let r = as_token(s, &a_admin.token).get("/api/v1/health").await;
    let body = r.expect_status(200).clone();
    assert_eq!(body["state"], "degraded", "{body}");
    let issue = &body["issues"][0];
    assert_eq!(issue["id"], issue_id.as_str());
    assert_eq!(issue["link"], format!("/ui/jobs/{job_id}"));
    assert!(issue["why"].as_str().unwrap_or_default().contains("Docker did not answer"));
    assert_eq!(issue["acknowledged"], false);
    assert_eq!(issue["detail"]["job_id"], job_id.as_str());
    // The other organization's admin sees nothing of it, and cannot acknowledge it.
    let b = as_token(s, &b_admin.token).get("/api/v1/health").await;
    assert_eq!(b.expect_status(200)["state"], "healthy");
    let path = format!("/api/v1/health/issues/{issue_id}/acknowledge");
    as_token(s, &b_admin.token).post(&path, json!({ "note": "not mine" })).await.expect_error(404, "not_found");
    as_admin(s).post("/api/v1/health/issues/job-failed:nope/acknowledge", json!({ "note": "x" })).await.expect_error(404, "not_found");
    as_admin(s).post(&path, json!({ "note": 5 })).await.expect_status(400);

    let r = as_token(s, &a_admin.token).post(&path, json!({ "note": "Docker was being upgraded." })).await;
    let acked = r.expect_status(200);
    assert_eq!(acked["acknowledged"], true);
    assert_eq!(acked["acknowledgement"]["note"], "Docker was being upgraded.");
    let body: Value = as_admin(s).get("/api/v1/health").await.expect_status(200).clone();
    assert_eq!(body["state"], "healthy", "{body}");
    assert_eq!(body["acknowledged"][0]["id"], issue_id.as_str());

    let doc = anonymous(s).get("/api/v1/openapi.json").await;
    let paths = &doc.expect_status(200)["paths"];
    for p in ["/api/v1/health", "/api/v1/health/issues/{id}/acknowledge", "/metrics"] {
        assert!(paths.get(p).is_some(), "{p} is missing from the OpenAPI document");
    }
}

pub async fn metrics_need_an_msp_token_and_parse(s: &TestServer) {
    let org = s.create_org("Acme Dental").await;
    let org_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&org.id)).await;
    failed_job(s, &org.id).await;

    let r = anonymous(s).get("/metrics").await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.text);
    let r = as_token(s, &org_admin.token).get("/metrics").await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.text);

    let r = as_admin(s).get("/metrics").await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let content_type = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let all = samples(&r.text);
    assert_eq!(sample(&all, "works_health_state"), Some(1.0), "{}", r.text);
    assert_eq!(sample(&all, "works_nodes{status=\"online\"}"), Some(1.0), "{}", r.text);
    assert_eq!(sample(&all, "works_nodes{status=\"offline\"}"), Some(0.0));
    assert_eq!(sample(&all, "works_jobs{state=\"failed\"}"), Some(1.0));
    assert_eq!(sample(&all, "works_jobs{state=\"queued\"}"), Some(0.0));
    assert_eq!(sample(&all, "works_orgs"), Some(1.0));
    assert_eq!(sample(&all, "works_users"), Some(2.0));
    assert!(sample(&all, "works_audit_records").unwrap_or(0.0) > 0.0);
    assert!(all.iter().any(|(n, v)| n.starts_with("works_build_info{version=\"") && n.contains("commit=\"") && *v == 1.0), "{}", r.text);
    // Every metric has its HELP and TYPE.
    for name in ["works_health_state", "works_nodes", "works_jobs", "works_orgs", "works_users", "works_audit_records", "works_build_info"] {
        assert!(r.text.contains(&format!("# TYPE {name} gauge\n")), "{name}");
    }
}

/// A browser request with the session cookie; `form` posts URL-encoded fields.
async fn browse(s: &TestServer, path: &str, cookie: &str, form: Option<&[(&str, &str)]>) -> reqwest::Response {
    let r = match form {
        None => s.client().get(s.url(path)),
        Some(fields) => {
            let mut body = form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                body.append_pair(k, v);
            }
            s.client().post(s.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body.finish())
        }
    };
    r.header("cookie", cookie).send().await.unwrap()
}

pub async fn the_dashboard_opens_with_the_answer(s: &TestServer) {
    let browser = crate::browser_session::sign_in(s, "admin", works_testkit::ADMIN_PASSWORD).await;
    let page = browse(s, "/ui", &browser.cookie, None).await.text().await.unwrap();
    assert!(page.contains(r#"<h1 class="answer-word">Healthy</h1>"#), "{page}");
    assert!(page.contains("Nothing needs attention."));
    assert!(page.contains(r#"<a href="/ui" aria-current="page">Health</a>"#), "Health is first and current: {page}");
    assert!(page.find(">Health</a>") < page.find(">Organizations</a>"));

    let org = s.create_org("Acme Dental").await;
    let job_id = failed_job(s, &org.id).await;
    let issue_id = format!("job-failed:{job_id}");
    let page = browse(s, "/ui", &browser.cookie, None).await.text().await.unwrap();
    assert!(page.contains(r#"<h1 class="answer-word">Degraded</h1>"#), "{page}");
    assert!(page.contains("One issue needs attention."));
    assert!(page.contains("A health check job on acme-web-01 failed") || page.contains("job on acme-web-01 failed"), "{page}");
    assert!(page.contains("Docker did not answer."));
    assert!(page.contains(&format!(r#"<a href="/ui/jobs/{job_id}">Open</a>"#)), "{page}");
    assert!(page.contains(&format!(r#"name="issue_id" value="{issue_id}""#)), "{page}");
    assert!(page.contains("<summary>Show details</summary>"));
    // The order on the page: the answer, then the issues, then the collapsed lists.
    let (answer, issues, reviewed, tests) = (page.find("answer-word"), page.find("Current issues"), page.find("Reviewed (0)"), page.find("Test and validation records (0)"));
    assert!(answer < issues && issues < reviewed && reviewed < tests && tests.is_some(), "{page}");

    // Without the CSRF token: refused, nothing acknowledged.
    let r = browse(s, "/ui/health/acknowledge", &browser.cookie, Some(&[("issue_id", issue_id.as_str()), ("note", "x")])).await;
    assert_eq!(r.status().as_u16(), 403);
    let fields = [("csrf_token", browser.csrf.as_str()), ("issue_id", issue_id.as_str()), ("note", "Docker is being upgraded")];
    let r = browse(s, "/ui/health/acknowledge", &browser.cookie, Some(&fields)).await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/ui?notice=acknowledged");
    let page = browse(s, "/ui?notice=acknowledged", &browser.cookie, None).await.text().await.unwrap();
    assert!(page.contains(r#"<h1 class="answer-word">Healthy</h1>"#), "{page}");
    assert!(page.contains("Reviewed (1)") && page.contains("Docker is being upgraded"), "{page}");
    assert!(page.contains("Acknowledged. The issue is under Reviewed"));
}

crate::on_both_backends!(the_health_answer_and_its_acknowledgement, metrics_need_an_msp_token_and_parse, the_dashboard_opens_with_the_answer);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_opened_to_anyone_by_setting() {
    let (dir, store, url) = works_store::testing::fresh_sqlite().await;
    let config = works_http::HttpConfig { metrics_public: true, ..works_http::HttpConfig::from_env() };
    let s = TestServer::start(store, url, Some(dir), config).await;
    let r = anonymous(&s).get("/metrics").await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(sample(&samples(&r.text), "works_health_state"), Some(0.0));
    // The rest of the API still asks for a token.
    anonymous(&s).get("/api/v1/health").await.expect_error(401, "unauthenticated");
    assert!(works_http::metrics_public_from(Some("1".into())));
    assert!(!works_http::metrics_public_from(Some("0".into())) && !works_http::metrics_public_from(None));
}
