//! Nodes and jobs over HTTP: the routes, tenancy, bad input, approval, and the pages.

mod browser;
mod input_and_approval;
mod job_batches;
mod routes;
mod tenancy;
mod ui;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use works_core::{AgentIdentity, CheckIn, Container, EnrollRequest, NodeHealth};
use works_testkit::TestServer;

use crate::common::as_token;

/// Creates a node through the API as the holder of `token`; answers its JSON.
pub async fn create_node(s: &TestServer, token: &str, name: &str, org_id: Option<&str>) -> Value {
    let body = match org_id {
        Some(org) => json!({"name": name, "org_id": org}),
        None => json!({"name": name}),
    };
    as_token(s, token).post("/api/v1/nodes", body).await.expect_status(201).clone()
}

/// Requests work on a node through the API; answers the job's JSON.
pub async fn request_job(s: &TestServer, token: &str, node_id: &str, kind: &str, params: Value) -> Value {
    as_token(s, token)
        .post("/api/v1/jobs", json!({"node_id": node_id, "kind": kind, "params": params}))
        .await
        .expect_status(201)
        .clone()
}

/// Enrolls an agent for a node through the embedded core, as a real agent would: its
/// identity and its credential.
pub async fn enroll_agent_with_credential(s: &TestServer, node_id: &str) -> (AgentIdentity, String) {
    let token = s.works.enrollment_token_create(&s.admin, node_id).await.unwrap();
    let cred = s
        .works
        .agent_enroll(EnrollRequest { token: token.token, hostname: Some("test-host".into()), agent_version: Some("test".into()) })
        .await
        .unwrap();
    (s.works.authenticate_agent(&cred.credential).await.unwrap(), cred.credential)
}

pub async fn enroll_agent(s: &TestServer, node_id: &str) -> AgentIdentity {
    enroll_agent_with_credential(s, node_id).await.0
}

pub fn health() -> NodeHealth {
    NodeHealth {
        uptime_secs: 3 * 86_400 + 7200,
        load1: 0.42,
        memory_total_bytes: 4 << 30,
        memory_available_bytes: 1 << 30,
        disk_total_bytes: 100 << 30,
        disk_available_bytes: 60 << 30,
        agent_version: "0.1.0-test".into(),
        docker_reachable: true,
        docker_version: Some("26.1.5".into()),
    }
}

pub fn container(name: &str, image: &str, labels: &[(&str, &str)]) -> Container {
    Container {
        id: format!("{:0>64}", name.len()),
        name: name.to_owned(),
        image: image.to_owned(),
        state: "running".into(),
        health: None,
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
        ports: vec![],
        mounts: vec![],
    }
}

/// An agent checks in with `containers` as its inventory.
pub async fn check_in(s: &TestServer, agent: &AgentIdentity, containers: Vec<Container>) {
    s.works.agent_checkin(agent, CheckIn { health: health(), containers: Some(containers) }).await.unwrap();
}

/// Audit records of `actor_id` with `outcome`, as the MSP admin reads them.
pub async fn audit_of(s: &TestServer, actor_id: &str, outcome: &str) -> Vec<Value> {
    let page = crate::common::as_admin(s).get(&format!("/api/v1/audit?outcome={outcome}&actor_id={actor_id}&limit=500")).await;
    page.expect_status(200)["records"].as_array().unwrap().clone()
}

/// Is there a record of `action` about `target`?
pub fn recorded(records: &[Value], action: &str, target: &str) -> bool {
    records.iter().any(|r| r["action"] == action && r["target_id"] == target)
}
