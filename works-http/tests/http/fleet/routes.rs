//! Every node and job route, exercised by the MSP admin through HTTP.

use serde_json::{json, Value};
use works_core::{EnrollRequest, JobReport};
use works_testkit::TestServer;

use super::{check_in, container, create_node, enroll_agent, enroll_agent_with_credential, request_job};
use crate::common::{anonymous, as_admin, ids};

crate::on_both_backends!(
    nodes_from_create_to_retire,
    enrollment_tokens_work_once_and_revocation_cuts_the_agent_off,
    jobs_from_request_to_retry,
    the_openapi_document_describes_nodes_and_jobs,
    a_busy_server_tells_agents_when_to_check_in_again,
);

async fn nodes_from_create_to_retire(s: &TestServer) {
    let admin = as_admin(s);
    let acme = s.create_org("Acme").await;

    let shared = create_node(s, &s.admin_token, "msp-jump-01", None).await;
    assert_eq!(shared["name"], "msp-jump-01");
    assert!(shared["org_id"].is_null(), "{shared}");
    assert_eq!(shared["status"], "offline", "a node that never checked in is offline");
    assert!(shared["status_reason"].as_str().unwrap().contains("enrollment token"), "{shared}");
    let web = create_node(s, &s.admin_token, " acme-web-01 ", Some(&acme.id)).await;
    assert_eq!(web["name"], "acme-web-01", "names are trimmed");
    assert_eq!(web["org_id"], acme.id.as_str());
    let web_id = web["id"].as_str().unwrap().to_owned();
    let shared_id = shared["id"].as_str().unwrap().to_owned();

    // What was created is what is read back.
    assert_eq!(admin.get(&format!("/api/v1/nodes/{web_id}")).await.expect_status(200), &web);

    let all = admin.get("/api/v1/nodes").await;
    assert_eq!(ids(all.expect_status(200)), vec![web_id.clone(), shared_id.clone()], "ordered by name");
    assert!(all.body["next_offset"].is_null());
    let acme_only = admin.get(&format!("/api/v1/nodes?org_id={}", acme.id)).await;
    assert_eq!(ids(acme_only.expect_status(200)), vec![web_id.clone()]);
    let paged = admin.get("/api/v1/nodes?limit=1").await;
    assert_eq!(ids(paged.expect_status(200)), vec![web_id.clone()]);
    assert_eq!(paged.body["next_offset"], 1);

    let renamed = admin.patch(&format!("/api/v1/nodes/{web_id}"), json!({"name": "acme-web-02"})).await;
    assert_eq!(renamed.expect_status(200)["name"], "acme-web-02");
    assert_eq!(admin.get(&format!("/api/v1/nodes/{web_id}")).await.body["name"], "acme-web-02");

    // An agent checks in with two containers: the node is online with them.
    let (agent, credential) = enroll_agent_with_credential(s, &web_id).await;
    let inventory = vec![
        container("openclaw-gateway", "openclaw/openclaw:2026.1", &[("works.managed", "true")]),
        container("postgres", "postgres:16", &[]),
    ];
    check_in(s, &agent, inventory.clone()).await;
    let online = admin.get(&format!("/api/v1/nodes/{web_id}")).await;
    assert_eq!(online.expect_status(200)["status"], "online");
    assert!(online.body["status_reason"].as_str().unwrap().contains("checked in"), "{}", online.text);
    assert_eq!(online.body["health"]["docker_version"], "26.1.5");
    assert!(online.body["enrolled_at"].is_string());
    let listed = admin.get(&format!("/api/v1/nodes/{web_id}/containers")).await;
    let listed: Vec<works_core::Container> = serde_json::from_value(listed.expect_status(200).clone()).unwrap();
    assert_eq!(listed, inventory);
    let none = admin.get(&format!("/api/v1/nodes/{shared_id}/containers")).await;
    assert_eq!(none.expect_status(200), &json!([]), "a node that never reported has no containers");

    // Retiring keeps the node on record, out of the default list.
    let retired = admin.post_empty(&format!("/api/v1/nodes/{web_id}/retire")).await;
    assert!(retired.expect_status(200)["retired_at"].is_string());
    assert_eq!(ids(admin.get("/api/v1/nodes").await.expect_status(200)), vec![shared_id.clone()]);
    let with_retired = admin.get("/api/v1/nodes?include_retired=true").await;
    assert_eq!(ids(with_retired.expect_status(200)), vec![web_id.clone(), shared_id.clone()]);
    admin.post_empty(&format!("/api/v1/nodes/{web_id}/retire")).await.expect_error(409, "conflict");
    admin.post_empty(&format!("/api/v1/nodes/{web_id}/enrollment-token")).await.expect_error(409, "conflict");
    assert!(s.works.authenticate_agent(&credential).await.is_err(), "retiring cuts the agent off");
    admin.get(&format!("/api/v1/nodes/{web_id}/containers")).await.expect_status(200);

    // Without a credential, nothing.
    anonymous(s).get("/api/v1/nodes").await.expect_error(401, "unauthenticated");
    anonymous(s).post("/api/v1/jobs", json!({})).await.expect_error(401, "unauthenticated");
}

async fn enrollment_tokens_work_once_and_revocation_cuts_the_agent_off(s: &TestServer) {
    let admin = as_admin(s);
    let node = create_node(s, &s.admin_token, "edge-01", None).await;
    let node_id = node["id"].as_str().unwrap();

    let answer = admin.post_empty(&format!("/api/v1/nodes/{node_id}/enrollment-token")).await;
    let token = answer.expect_status(200)["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("wke_"), "{}", answer.text);
    assert_eq!(answer.body["node_id"], node_id);
    assert!(answer.body["expires_at"].is_string());
    // The token is not stored anywhere anyone can read it back.
    assert!(!admin.get(&format!("/api/v1/nodes/{node_id}")).await.text.contains(&token));
    assert!(!admin.get("/api/v1/audit?limit=500").await.text.contains(&token));

    let enroll = |t: String| EnrollRequest { token: t, hostname: None, agent_version: None };
    let cred = s.works.agent_enroll(enroll(token.clone())).await.unwrap();
    let replay = s.works.agent_enroll(enroll(token)).await;
    assert!(matches!(replay, Err(works_core::Error::Unauthenticated { .. })), "{replay:?}");
    s.works.authenticate_agent(&cred.credential).await.unwrap();

    let revoked = admin.post_empty(&format!("/api/v1/nodes/{node_id}/revoke-agent")).await;
    revoked.expect_status(204);
    assert!(revoked.text.is_empty());
    assert!(s.works.authenticate_agent(&cred.credential).await.is_err(), "a revoked agent is cut off");
    // The node stays in service and can enroll again.
    let again = admin.post_empty(&format!("/api/v1/nodes/{node_id}/enrollment-token")).await;
    let fresh = again.expect_status(200)["token"].as_str().unwrap().to_owned();
    let cred = s.works.agent_enroll(enroll(fresh)).await.unwrap();
    s.works.authenticate_agent(&cred.credential).await.unwrap();

    let audit = admin.get(&format!("/api/v1/audit?target_id={node_id}&limit=50")).await;
    let actions: Vec<&str> =
        audit.expect_status(200)["records"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for action in ["node.create", "node.enrollment_token", "agent.enroll", "agent.revoke"] {
        assert!(actions.contains(&action), "{action} is not in the audit log: {actions:?}");
    }
}

async fn jobs_from_request_to_retry(s: &TestServer) {
    let admin = as_admin(s);
    let node = create_node(s, &s.admin_token, "acme-web-01", None).await;
    let node_id = node["id"].as_str().unwrap().to_owned();
    let agent = enroll_agent(s, &node_id).await;

    let health = request_job(s, &s.admin_token, &node_id, "health_check", json!({})).await;
    assert_eq!(health["state"], "queued", "safe work is queued at once");
    assert_eq!(health["kind"], "health_check");
    assert_eq!(health["node_id"], node_id.as_str());
    assert_eq!((health["attempts"].as_u64(), health["max_attempts"].as_u64()), (Some(0), Some(3)));
    assert_eq!(health["timeout_secs"], 60);
    assert!(health["reason"].is_null());
    let health_id = health["id"].as_str().unwrap().to_owned();

    let deploy = request_job(s, &s.admin_token, &node_id, "deploy", json!({"version": "2026.1"})).await;
    assert_eq!(deploy["state"], "awaiting_approval", "risky work waits for a person");
    assert_eq!(deploy["approval_phrase"], "deploy openclaw on acme-web-01");
    assert_eq!(deploy["params"], json!({"version": "2026.1"}));
    assert!(deploy["reason"].as_str().is_some_and(|r| !r.is_empty()));
    let deploy_id = deploy["id"].as_str().unwrap().to_owned();

    let logs = request_job(s, &s.admin_token, &node_id, "logs", json!({"container": "openclaw-gateway", "lines": 50})).await;
    assert_eq!(logs["params"]["container"], "openclaw-gateway");
    let logs_id = logs["id"].as_str().unwrap().to_owned();

    // Created equals read back; lists are newest first and filter.
    assert_eq!(admin.get(&format!("/api/v1/jobs/{deploy_id}")).await.expect_status(200), &deploy);
    let all = admin.get("/api/v1/jobs").await;
    assert_eq!(ids(all.expect_status(200)), vec![logs_id.clone(), deploy_id.clone(), health_id.clone()]);
    let waiting = admin.get("/api/v1/jobs?state=awaiting_approval").await;
    assert_eq!(ids(waiting.expect_status(200)), vec![deploy_id.clone()]);
    let of_node = admin.get(&format!("/api/v1/jobs?node_id={node_id}&limit=2")).await;
    assert_eq!(ids(of_node.expect_status(200)), vec![logs_id.clone(), deploy_id.clone()]);
    assert_eq!(of_node.body["next_offset"], 2);
    let other = admin.get(&format!("/api/v1/jobs?node_id={}", crate::common::random_id())).await;
    assert_eq!(ids(other.expect_status(200)), Vec::<String>::new());

    // Approval by phrase queues the work.
    let approved = admin.post(&format!("/api/v1/jobs/{deploy_id}/approve"), json!({"phrase": "deploy openclaw on acme-web-01"})).await;
    assert_eq!(approved.expect_status(200)["state"], "queued");
    assert_eq!(approved.body["approved_by"], "admin");
    assert!(approved.body["approved_at"].is_string());
    admin
        .post(&format!("/api/v1/jobs/{deploy_id}/approve"), json!({"phrase": "deploy openclaw on acme-web-01"}))
        .await
        .expect_error(409, "conflict");

    // Cancel what no agent picked up; a second cancel is a conflict.
    let cancelled = admin.post_empty(&format!("/api/v1/jobs/{deploy_id}/cancel")).await;
    assert_eq!(cancelled.expect_status(200)["state"], "cancelled");
    assert!(cancelled.body["reason"].as_str().unwrap().contains("Cancelled by admin"), "{}", cancelled.text);
    admin.post_empty(&format!("/api/v1/jobs/{deploy_id}/cancel")).await.expect_error(409, "conflict");
    admin.post_empty(&format!("/api/v1/jobs/{deploy_id}/retry")).await.expect_error(409, "conflict");

    // The agent picks up the oldest queued job and reports it failed; a person retries it.
    let claimed = s.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(claimed.id, health_id);
    let running = admin.get(&format!("/api/v1/jobs/{health_id}")).await;
    assert_eq!((running.body["state"].as_str(), running.body["attempts"].as_u64()), (Some("claimed"), Some(1)));
    admin.post_empty(&format!("/api/v1/jobs/{health_id}/cancel")).await.expect_error(409, "conflict");
    let report = JobReport { succeeded: false, result: None, output: Some("disk check failed".into()), reason: Some("The disk is full.".into()) };
    s.works.agent_job_complete(&agent, &health_id, report).await.unwrap();
    let failed = admin.get(&format!("/api/v1/jobs/{health_id}")).await;
    assert_eq!(failed.expect_status(200)["state"], "failed");
    assert_eq!(failed.body["reason"], "The disk is full.");
    assert_eq!(failed.body["output"], "disk check failed");

    let retry = admin.post_empty(&format!("/api/v1/jobs/{health_id}/retry")).await;
    let retry = retry.expect_status(201).clone();
    assert_ne!(retry["id"], health_id.as_str());
    assert_eq!(retry["retry_of"], health_id.as_str());
    assert_eq!((retry["state"].as_str(), retry["kind"].as_str(), retry["attempts"].as_u64()), (Some("queued"), Some("health_check"), Some(0)));
    let retry_id = retry["id"].as_str().unwrap();
    assert_eq!(admin.get(&format!("/api/v1/jobs/{retry_id}")).await.expect_status(200), &retry);

    let audit = admin.get("/api/v1/audit?action=job.&limit=100").await;
    let actions: Vec<&str> =
        audit.expect_status(200)["records"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for action in ["job.request", "job.approve", "job.cancel", "job.claim", "job.complete", "job.retry"] {
        assert!(actions.contains(&action), "{action} is not in the audit log: {actions:?}");
    }
}

async fn the_openapi_document_describes_nodes_and_jobs(s: &TestServer) {
    let doc = anonymous(s).get("/api/v1/openapi.json").await;
    let doc = doc.expect_status(200);
    let expected: &[(&str, &[&str])] = &[
        ("/api/v1/nodes", &["get", "post"]),
        ("/api/v1/nodes/{id}", &["get", "patch"]),
        ("/api/v1/nodes/{id}/retire", &["post"]),
        ("/api/v1/nodes/{id}/enrollment-token", &["post"]),
        ("/api/v1/nodes/{id}/revoke-agent", &["post"]),
        ("/api/v1/nodes/{id}/containers", &["get"]),
        ("/api/v1/jobs", &["get", "post"]),
        ("/api/v1/jobs/{id}", &["get"]),
        ("/api/v1/jobs/{id}/approve", &["post"]),
        ("/api/v1/jobs/{id}/cancel", &["post"]),
        ("/api/v1/jobs/{id}/retry", &["post"]),
    ];
    for (path, methods) in expected {
        for method in *methods {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "the document lacks {method} {path}");
            assert!(op["responses"]["404"].is_object() || *path == "/api/v1/nodes" || *path == "/api/v1/jobs", "{method} {path}");
            assert!(op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some())), "{method} {path}");
        }
    }
    let create = &doc["paths"]["/api/v1/nodes"]["post"];
    assert_eq!(create["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/NewNode");
    assert!(create["responses"]["201"].is_object());
    assert!(doc["paths"]["/api/v1/nodes/{id}/revoke-agent"]["post"]["responses"]["204"].is_object());
    let schemas = &doc["components"]["schemas"];
    for name in ["Node", "NodeStatus", "Container", "EnrollmentToken", "Job", "JobState", "JobKind", "NewJob", "ApproveJob"] {
        assert!(schemas[name].is_object(), "schema {name} is missing");
    }
    let states: Vec<&str> = schemas["JobState"]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(states.contains(&"awaiting_approval") && states.contains(&"timed_out"), "{states:?}");
    let tags: Vec<&str> = doc["tags"].as_array().unwrap().iter().map(|t: &Value| t["name"].as_str().unwrap()).collect();
    assert!(tags.contains(&"nodes") && tags.contains(&"jobs"), "{tags:?}");
}

/// Past its bound of check-ins at once, the server answers 429 with `Retry-After`
/// before it looks anything up, and takes the check-in again once a place is free.
async fn a_busy_server_tells_agents_when_to_check_in_again(s: &TestServer) {
    let node = create_node(s, &s.admin_token, "edge-busy", None).await;
    let (_, credential) = enroll_agent_with_credential(s, node["id"].as_str().unwrap()).await;
    let body = json!({"health": super::health(), "containers": null});
    let agent = crate::common::as_token(s, &credential);
    let check_in = || agent.post("/api/v1/agent/checkin", body.clone());

    let bound = s.works.config().checkin_max_in_flight;
    let held: Vec<_> = (0..bound).map(|_| s.works.checkin_admission().unwrap()).collect();
    let busy = check_in().await;
    let error = busy.expect_error(429, "rate_limited");
    let advised = error["retry_after_secs"].as_u64().unwrap();
    assert!((1..=s.works.config().checkin_retry_max_secs).contains(&advised), "{}", busy.text);
    assert_eq!(busy.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some(advised.to_string().as_str()));
    assert!(busy.body["message"].as_str().unwrap().contains("check in again"), "{}", busy.text);
    // Turned away before the credential was looked at: a wrong one gets the same advice.
    crate::common::as_token(s, "wka_not-a-real-credential").post("/api/v1/agent/checkin", body.clone()).await.expect_error(429, "rate_limited");

    drop(held);
    assert_eq!(check_in().await.expect_status(200)["next_checkin_secs"], 30);
    assert_eq!(s.works.checkins_in_flight(), 0, "every place is given back");
}
