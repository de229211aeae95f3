//! Tenancy of nodes and jobs: another organization's node, its containers, its
//! enrollment and its jobs are answered exactly like records that do not exist, the
//! refusals are recorded, and lists hold exactly what the caller may see.

use serde_json::json;
use works_core::{JobReport, Role};
use works_testkit::TestServer;

use super::{audit_of, check_in, container, create_node, enroll_agent_with_credential, recorded, request_job};
use crate::common::{as_admin, as_token, ids, random_id, Answer};

crate::on_both_backends!(another_tenants_nodes_and_jobs_are_answered_like_nothing, lists_hold_exactly_the_permitted_nodes_and_jobs);

fn without_id(a: &Answer, id: &str) -> String {
    a.text.replace(id, "<id>")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn another_tenants_nodes_and_jobs_are_answered_like_nothing(s: &TestServer) {
    let org_a = s.create_org("Alpha").await;
    let org_b = s.create_org("Beta").await;
    let admin_a = s.create_user("alpha-admin", Role::OrgAdmin, Some(&org_a.id)).await;
    let admin_b = s.create_user("beta-admin", Role::OrgAdmin, Some(&org_b.id)).await;

    let b_node = create_node(s, &admin_b.token, "beta-web-01", Some(&org_b.id)).await;
    let b_node_id = b_node["id"].as_str().unwrap().to_owned();
    let shared = create_node(s, &s.admin_token, "msp-jump-01", None).await;
    let shared_id = shared["id"].as_str().unwrap().to_owned();
    let (b_agent, b_credential) = enroll_agent_with_credential(s, &b_node_id).await;
    check_in(s, &b_agent, vec![container("beta-secret-app", "beta/internal:1", &[("owner", "beta")])]).await;
    let b_deploy = request_job(s, &admin_b.token, &b_node_id, "deploy", json!({})).await;
    let b_deploy_id = b_deploy["id"].as_str().unwrap().to_owned();
    let b_health = request_job(s, &admin_b.token, &b_node_id, "health_check", json!({})).await;
    let b_health_id = b_health["id"].as_str().unwrap().to_owned();
    let claimed = s.works.agent_claim(&b_agent, std::time::Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(claimed.id, b_health_id);
    let report = JobReport { succeeded: false, result: None, output: None, reason: Some("It broke.".into()) };
    s.works.agent_job_complete(&b_agent, &b_health_id, report).await.unwrap();

    let a = as_token(s, &admin_a.token);
    let missing = random_id();
    // Reads: identical to a record that does not exist.
    for (path, missing_path) in [
        (format!("/api/v1/nodes/{b_node_id}"), format!("/api/v1/nodes/{missing}")),
        (format!("/api/v1/nodes/{b_node_id}/containers"), format!("/api/v1/nodes/{missing}/containers")),
        (format!("/api/v1/jobs/{b_deploy_id}"), format!("/api/v1/jobs/{missing}")),
    ] {
        let foreign = a.get(&path).await;
        let nothing = a.get(&missing_path).await;
        foreign.expect_error(404, "not_found");
        nothing.expect_error(404, "not_found");
        let foreign_id = if path.contains("/jobs/") { &b_deploy_id } else { &b_node_id };
        assert_eq!(without_id(&foreign, foreign_id), without_id(&nothing, &missing), "{path}");
        assert!(!foreign.text.contains("beta-"), "{}", foreign.text);
    }
    a.get(&format!("/api/v1/nodes/{shared_id}")).await.expect_error(404, "not_found");
    assert_eq!(ids(a.get(&format!("/api/v1/nodes?org_id={}", org_b.id)).await.expect_status(200)), Vec::<String>::new());
    assert_eq!(ids(a.get(&format!("/api/v1/jobs?node_id={b_node_id}")).await.expect_status(200)), Vec::<String>::new());

    // Changes: answered like a record that does not exist, and nothing changes.
    let enrollment = a.post_empty(&format!("/api/v1/nodes/{b_node_id}/enrollment-token")).await;
    enrollment.expect_error(404, "not_found");
    assert!(enrollment.body.get("token").is_none());
    for answer in [
        a.patch(&format!("/api/v1/nodes/{b_node_id}"), json!({"name": "taken-over"})).await,
        a.post_empty(&format!("/api/v1/nodes/{b_node_id}/retire")).await,
        a.post_empty(&format!("/api/v1/nodes/{b_node_id}/revoke-agent")).await,
        a.post("/api/v1/jobs", json!({"node_id": b_node_id, "kind": "health_check"})).await,
        a.post(&format!("/api/v1/jobs/{b_deploy_id}/approve"), json!({"phrase": "deploy openclaw on beta-web-01"})).await,
        a.post_empty(&format!("/api/v1/jobs/{b_deploy_id}/cancel")).await,
        a.post_empty(&format!("/api/v1/jobs/{b_health_id}/retry")).await,
    ] {
        answer.expect_error(404, "not_found");
    }
    // Neither shared infrastructure nor another organization can be given nodes.
    a.post("/api/v1/nodes", json!({"name": "alpha-sneaky"})).await.expect_error(403, "forbidden");
    let into_b = a.post("/api/v1/nodes", json!({"name": "alpha-sneaky", "org_id": org_b.id})).await;
    assert!(matches!(into_b.status.as_u16(), 400 | 403 | 404), "{}", into_b.text);

    let admin = as_admin(s);
    let node_now = admin.get(&format!("/api/v1/nodes/{b_node_id}")).await;
    assert_eq!(node_now.expect_status(200)["name"], "beta-web-01");
    assert!(node_now.body["retired_at"].is_null());
    s.works.authenticate_agent(&b_credential).await.expect("B's agent still works");
    assert_eq!(admin.get(&format!("/api/v1/jobs/{b_deploy_id}")).await.body["state"], "awaiting_approval");
    let b_jobs = admin.get(&format!("/api/v1/jobs?node_id={b_node_id}")).await;
    assert_eq!(sorted(ids(b_jobs.expect_status(200))), sorted(vec![b_deploy_id.clone(), b_health_id.clone()]), "no job was added");
    let nodes = admin.get("/api/v1/nodes").await;
    assert!(!nodes.text.contains("alpha-sneaky"), "{}", nodes.text);

    // Every refusal is in the audit log, under the actor who tried.
    let denied = audit_of(s, &admin_a.user.id, "denied").await;
    for (action, target) in [
        ("node.get", &b_node_id),
        ("node.containers", &b_node_id),
        ("node.enrollment_token", &b_node_id),
        ("node.rename", &b_node_id),
        ("node.retire", &b_node_id),
        ("agent.revoke", &b_node_id),
        ("job.request", &b_node_id),
        ("job.get", &b_deploy_id),
        ("job.approve", &b_deploy_id),
        ("job.cancel", &b_deploy_id),
        ("job.retry", &b_health_id),
    ] {
        assert!(recorded(&denied, action, target), "no denied {action} of {target}: {denied:?}");
    }
    // …and not visible to the other tenant.
    let b_view = as_token(s, &admin_b.token).get("/api/v1/audit?limit=500").await;
    assert!(!b_view.expect_status(200).to_string().contains(&admin_a.user.id), "{}", b_view.text);
}

async fn lists_hold_exactly_the_permitted_nodes_and_jobs(s: &TestServer) {
    let org_a = s.create_org("Alpha").await;
    let org_b = s.create_org("Beta").await;
    let admin_a = s.create_user("alpha-admin", Role::OrgAdmin, Some(&org_a.id)).await;
    let user_a = s.create_user("alpha-user", Role::OrgUser, Some(&org_a.id)).await;
    let admin_b = s.create_user("beta-admin", Role::OrgAdmin, Some(&org_b.id)).await;
    let operator = s.create_user("operator", Role::MspOperator, None).await;

    // An organization admin manages their own organization's nodes and work.
    let a_node = create_node(s, &admin_a.token, "alpha-web-01", Some(&org_a.id)).await;
    let a_node_id = a_node["id"].as_str().unwrap().to_owned();
    let b_node = create_node(s, &operator.token, "beta-web-01", Some(&org_b.id)).await;
    let b_node_id = b_node["id"].as_str().unwrap().to_owned();
    let shared = create_node(s, &s.admin_token, "msp-jump-01", None).await;
    let shared_id = shared["id"].as_str().unwrap().to_owned();
    let a_job = request_job(s, &admin_a.token, &a_node_id, "inventory_refresh", json!({})).await;
    let a_job_id = a_job["id"].as_str().unwrap().to_owned();
    let b_job = request_job(s, &admin_b.token, &b_node_id, "health_check", json!({})).await;
    let b_job_id = b_job["id"].as_str().unwrap().to_owned();
    let shared_job = request_job(s, &operator.token, &shared_id, "restart", json!({})).await;
    let shared_job_id = shared_job["id"].as_str().unwrap().to_owned();

    let nodes_of = |token: String| async move {
        sorted(ids(as_token(s, &token).get("/api/v1/nodes?include_retired=true").await.expect_status(200)))
    };
    let jobs_of = |token: String| async move { sorted(ids(as_token(s, &token).get("/api/v1/jobs").await.expect_status(200))) };

    let everything = sorted(vec![a_node_id.clone(), b_node_id.clone(), shared_id.clone()]);
    assert_eq!(nodes_of(s.admin_token.clone()).await, everything);
    assert_eq!(nodes_of(operator.token.clone()).await, everything);
    assert_eq!(nodes_of(admin_a.token.clone()).await, vec![a_node_id.clone()]);
    assert_eq!(nodes_of(admin_b.token.clone()).await, vec![b_node_id.clone()]);
    assert_eq!(nodes_of(user_a.token.clone()).await, Vec::<String>::new(), "an organization user sees no nodes");

    let all_jobs = sorted(vec![a_job_id.clone(), b_job_id.clone(), shared_job_id.clone()]);
    assert_eq!(jobs_of(s.admin_token.clone()).await, all_jobs);
    assert_eq!(jobs_of(operator.token.clone()).await, all_jobs);
    assert_eq!(jobs_of(admin_a.token.clone()).await, vec![a_job_id.clone()]);
    assert_eq!(jobs_of(admin_b.token.clone()).await, vec![b_job_id.clone()]);
    assert_eq!(jobs_of(user_a.token.clone()).await, Vec::<String>::new());

    // An organization user cannot read, add or ask anything of nodes, even their own organization's.
    let u = as_token(s, &user_a.token);
    u.get(&format!("/api/v1/nodes/{a_node_id}")).await.expect_error(404, "not_found");
    u.get(&format!("/api/v1/nodes/{a_node_id}/containers")).await.expect_error(404, "not_found");
    u.get(&format!("/api/v1/jobs/{a_job_id}")).await.expect_error(404, "not_found");
    u.post("/api/v1/nodes", json!({"name": "alpha-web-02", "org_id": org_a.id})).await.expect_error(403, "forbidden");
    u.post("/api/v1/jobs", json!({"node_id": a_node_id, "kind": "health_check"})).await.expect_error(404, "not_found");
    u.post_empty(&format!("/api/v1/nodes/{a_node_id}/enrollment-token")).await.expect_error(404, "not_found");
    assert_eq!(jobs_of(s.admin_token.clone()).await, all_jobs, "nothing was added");
}
