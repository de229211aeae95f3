//! Bad input about nodes and jobs is refused with 400 naming the field (and recorded);
//! approval needs the exact phrase from someone whose role may approve.

use reqwest::Method;
use serde_json::json;
use works_core::Role;
use works_testkit::TestServer;

use super::{audit_of, create_node, recorded, request_job};
use crate::common::{as_admin, as_token, ids};

crate::on_both_backends!(bad_node_and_job_input_names_the_field, approval_needs_the_exact_phrase_and_the_right_role);

async fn bad_node_and_job_input_names_the_field(s: &TestServer) {
    let admin = as_admin(s);
    for bad in ["web;$(rm -rf /)", "web-01 && reboot", "-oProxyCommand=x", "`id`", "a b", "", "   ", "web|nc"] {
        admin.post("/api/v1/nodes", json!({"name": bad})).await.expect_invalid("name");
    }
    admin.post("/api/v1/nodes", json!({"name": "x".repeat(101)})).await.expect_invalid("name");
    admin.post("/api/v1/nodes", json!({"name": "ok-01", "org_id": "'; drop table nodes; --"})).await.expect_invalid("org_id");
    admin.post("/api/v1/nodes", json!({"name": "ok-01", "org_id": crate::common::random_id()})).await.expect_invalid("org_id");
    admin.post("/api/v1/nodes", json!({"name": "ok-01", "role": "db"})).await.expect_invalid("role");
    admin.post("/api/v1/nodes", json!({"org_id": null})).await.expect_invalid("name");
    admin.send_raw(Method::POST, "/api/v1/nodes", "text/plain", "name=x").await.expect_invalid("body");
    assert_eq!(ids(admin.get("/api/v1/nodes?include_retired=true").await.expect_status(200)), Vec::<String>::new(), "nothing was created");

    let node = create_node(s, &s.admin_token, "acme-web-01", None).await;
    let node_id = node["id"].as_str().unwrap();
    admin.patch(&format!("/api/v1/nodes/{node_id}"), json!({"name": "$(reboot)"})).await.expect_invalid("name");
    assert_eq!(admin.get(&format!("/api/v1/nodes/{node_id}")).await.body["name"], "acme-web-01");

    let unknown = admin.post("/api/v1/jobs", json!({"node_id": node_id, "kind": "format_disk"})).await;
    unknown.expect_invalid("kind");
    let problem = unknown.body["error"]["problem"].as_str().unwrap();
    assert!(problem.contains("health_check") && problem.contains("format_disk"), "{problem}");
    for params in [json!([1, 2]), json!("rm -rf /"), json!(5), json!(true)] {
        admin.post("/api/v1/jobs", json!({"node_id": node_id, "kind": "logs", "params": params})).await.expect_invalid("params");
    }
    admin.post("/api/v1/jobs", json!({"kind": "logs"})).await.expect_invalid("node_id");
    admin.post("/api/v1/jobs", json!({"node_id": node_id})).await.expect_invalid("kind");
    admin.post("/api/v1/jobs", json!({"node_id": node_id, "kind": "logs", "command": "sh"})).await.expect_invalid("command");
    let huge = json!({"container": "x".repeat(20_000)});
    admin.post("/api/v1/jobs", json!({"node_id": node_id, "kind": "logs", "params": huge})).await.expect_invalid("params");
    assert_eq!(ids(admin.get("/api/v1/jobs").await.expect_status(200)), Vec::<String>::new(), "no job was created");

    admin.get("/api/v1/jobs?state=sleeping").await.expect_invalid("state");
    admin.get("/api/v1/jobs?node_id=not-hex!").await.expect_invalid("node_id");
    admin.get("/api/v1/jobs?limit=0").await.expect_invalid("limit");
    admin.get("/api/v1/nodes?include_retired=maybe").await.expect_invalid("include_retired");
    admin.get("/api/v1/nodes?org_id=%3Cscript%3E").await.expect_invalid("org_id");
    admin.get("/api/v1/nodes?colour=red").await.expect_invalid("colour");

    let job = request_job(s, &s.admin_token, node_id, "restart", json!({})).await;
    let job_id = job["id"].as_str().unwrap();
    admin.post(&format!("/api/v1/jobs/{job_id}/approve"), json!({})).await.expect_invalid("phrase");
    admin.post(&format!("/api/v1/jobs/{job_id}/approve"), json!({"phrase": 42})).await.expect_invalid("phrase");

    // Refused changes are recorded with the reason.
    let rejected = audit_of(s, &s.admin.id, "rejected").await;
    assert!(rejected.iter().any(|r| r["action"] == "node.create" && r["reason"].as_str().unwrap().starts_with("name:")), "{rejected:?}");
    assert!(rejected.iter().any(|r| r["action"] == "node.rename" && r["target_id"] == node_id), "{rejected:?}");
    assert!(
        rejected.iter().any(|r| r["action"] == "job.request" && r["reason"].as_str().unwrap().starts_with("params:")),
        "{rejected:?}"
    );
}

async fn approval_needs_the_exact_phrase_and_the_right_role(s: &TestServer) {
    let org_a = s.create_org("Alpha").await;
    let org_b = s.create_org("Beta").await;
    let admin_a = s.create_user("alpha-admin", Role::OrgAdmin, Some(&org_a.id)).await;
    let user_a = s.create_user("alpha-user", Role::OrgUser, Some(&org_a.id)).await;
    let admin_b = s.create_user("beta-admin", Role::OrgAdmin, Some(&org_b.id)).await;
    let node = create_node(s, &admin_a.token, "alpha-web-01", Some(&org_a.id)).await;
    let node_id = node["id"].as_str().unwrap();
    let job = request_job(s, &admin_a.token, node_id, "deploy", json!({"version": "2026.1"})).await;
    let job_id = job["id"].as_str().unwrap().to_owned();
    let phrase = job["approval_phrase"].as_str().unwrap().to_owned();
    assert_eq!(phrase, "deploy openclaw on alpha-web-01");
    let approve = |token: &str, phrase: &str| {
        let token = token.to_owned();
        let path = format!("/api/v1/jobs/{job_id}/approve");
        let body = json!({ "phrase": phrase });
        async move { as_token(s, &token).post(&path, body).await }
    };
    let state = || async { as_admin(s).get(&format!("/api/v1/jobs/{job_id}")).await.body["state"].as_str().unwrap().to_owned() };

    // A wrong phrase: 400 naming `phrase`, and the job still waits.
    for wrong in ["deploy openclaw on alpha-web-02", "Deploy OpenClaw on alpha-web-01", " deploy openclaw on alpha-web-01", "yes", ""] {
        let answer = approve(&admin_a.token, wrong).await;
        answer.expect_invalid("phrase");
        assert!(answer.body["error"]["problem"].as_str().unwrap().contains(&phrase), "{}", answer.text);
        assert_eq!(state().await, "awaiting_approval");
    }
    // The right phrase from someone without a role that may approve it: refused.
    approve(&user_a.token, &phrase).await.expect_error(404, "not_found");
    approve(&admin_b.token, &phrase).await.expect_error(404, "not_found");
    assert_eq!(state().await, "awaiting_approval");

    // The right phrase from the organization's admin: queued, with who and when.
    let approved = approve(&admin_a.token, &phrase).await;
    assert_eq!(approved.expect_status(200)["state"], "queued");
    assert_eq!(approved.body["approved_by"], "alpha-admin");
    assert!(approved.body["approved_at"].is_string());
    assert_eq!(state().await, "queued");

    let rejected = audit_of(s, &admin_a.user.id, "rejected").await;
    let wrong_phrase = rejected.iter().filter(|r| r["action"] == "job.approve" && r["target_id"] == job_id.as_str()).count();
    assert_eq!(wrong_phrase, 5, "every wrong phrase is recorded: {rejected:?}");
    assert!(recorded(&audit_of(s, &user_a.user.id, "denied").await, "job.approve", &job_id));
    assert!(recorded(&audit_of(s, &admin_b.user.id, "denied").await, "job.approve", &job_id));
    let succeeded = audit_of(s, &admin_a.user.id, "succeeded").await;
    let approval = succeeded.iter().find(|r| r["action"] == "job.approve").expect("the approval is recorded");
    assert!(approval["reason"].as_str().unwrap().contains(&phrase), "{approval}");
    assert_eq!(approval["org_id"], org_a.id.as_str());
}
