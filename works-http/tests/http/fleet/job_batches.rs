//! Batched claims and reports over HTTP: the agent's own jobs only, one answer per
//! report, bad input named by field, and the routes in the OpenAPI document.

use serde_json::{json, Value};
use works_testkit::TestServer;

use super::{create_node, enroll_agent_with_credential, request_job};
use crate::common::{as_admin, as_token};

crate::on_both_backends!(an_agent_claims_and_reports_its_jobs_in_batches,);

async fn an_agent_claims_and_reports_its_jobs_in_batches(s: &TestServer) {
    let acme = s.create_org("Acme").await;
    let bolt = s.create_org("Bolt").await;
    let web = create_node(s, &s.admin_token, "acme-web-01", Some(&acme.id)).await;
    let web_id = web["id"].as_str().unwrap().to_owned();
    let theirs = create_node(s, &s.admin_token, "bolt-web-01", Some(&bolt.id)).await;
    let their_id = theirs["id"].as_str().unwrap().to_owned();
    let (_, cred) = enroll_agent_with_credential(s, &web_id).await;
    let (_, their_cred) = enroll_agent_with_credential(s, &their_id).await;
    let agent = as_token(s, &cred);
    let other = as_token(s, &their_cred);

    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.push(request_job(s, &s.admin_token, &web_id, "health_check", json!({})).await["id"].as_str().unwrap().to_owned());
    }
    let their_job = request_job(s, &s.admin_token, &their_id, "health_check", json!({})).await["id"].as_str().unwrap().to_owned();

    // Up to max, oldest first, only this node's.
    let first = agent.post("/api/v1/agent/jobs/claim-many?max=2", Value::Null).await;
    let got: Vec<&str> = first.expect_status(200)["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![mine[0].as_str(), mine[1].as_str()]);
    let rest = agent.post("/api/v1/agent/jobs/claim-many?max=100&wait_secs=0", Value::Null).await;
    assert_eq!(rest.expect_status(200)["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(agent.post("/api/v1/agent/jobs/claim-many", Value::Null).await.expect_status(200)["jobs"], json!([]));
    other.post("/api/v1/agent/jobs/claim-many?max=5", Value::Null).await.expect_status(200);

    // One answer per report; another node's job answers as unknown and is untouched.
    let answer = agent
        .post(
            "/api/v1/agent/jobs/complete-many",
            json!({"reports": [
                {"job_id": mine[0], "succeeded": true, "output": "token=abc123secret ok"},
                {"job_id": their_job, "succeeded": true},
                {"job_id": mine[1], "succeeded": false, "reason": "Docker did not answer."},
            ]}),
        )
        .await;
    let results = answer.expect_status(200)["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["job"]["state"], "succeeded", "{results:?}");
    assert!(!results[0]["job"]["output"].as_str().unwrap().contains("abc123secret"));
    assert!(results[1]["job"].is_null() && results[1]["error"].as_str().unwrap().contains("No job"), "{results:?}");
    assert_eq!(results[2]["job"]["state"], "failed");
    let theirs_now = as_admin(s).get(&format!("/api/v1/jobs/{their_job}")).await;
    assert_eq!(theirs_now.expect_status(200)["state"], "claimed");

    // Bad input names the field.
    agent.post("/api/v1/agent/jobs/claim-many?max=0", Value::Null).await.expect_invalid("max");
    agent.post("/api/v1/agent/jobs/claim-many?max=101", Value::Null).await.expect_invalid("max");
    agent.post("/api/v1/agent/jobs/complete-many", json!({"reports": []})).await.expect_invalid("reports");
    agent
        .post("/api/v1/agent/jobs/complete-many", json!({"reports": [{"job_id": mine[2], "succeeded": true}, {"job_id": mine[2], "succeeded": true}]}))
        .await
        .expect_invalid("reports[1].job_id");
    // A person's token is not an agent credential.
    as_admin(s).post("/api/v1/agent/jobs/claim-many", Value::Null).await.expect_status(401);

    let doc = as_admin(s).get("/api/v1/openapi.json").await;
    let doc = doc.expect_status(200);
    assert!(doc["paths"]["/api/v1/agent/jobs/claim-many"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/agent/jobs/complete-many"]["post"].is_object());
}
