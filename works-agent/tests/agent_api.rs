//! The agent against a real server in this process (`works-testkit`): the agent API's
//! credentials and refusals, the long poll, the check-in body limit, and the agent's
//! loop running jobs and stopping — on SQLite, and on PostgreSQL when one is configured.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use works_agent::{Agent, AgentClient, CancellationToken};
use works_core::{
    CheckIn, Container, EnrollRequest, Error, JobKind, JobState, NewJob, NewNode, NodeHealth, NodeStatus, Outcome,
};
use works_testkit::TestServer;

async fn servers() -> Vec<TestServer> {
    let mut all = vec![TestServer::start_sqlite().await];
    if let Some(pg) = TestServer::start_postgres().await {
        all.push(pg);
    }
    all
}

/// A node of a new organization and its agent's credential.
async fn enrolled(server: &TestServer, name: &str) -> (String, String) {
    let org = server.create_org(&format!("Org of {name}")).await;
    let node = server
        .works
        .node_create(&server.admin, NewNode { name: name.into(), org_id: Some(org.id) })
        .await
        .expect("node");
    let token = server.works.enrollment_token_create(&server.admin, &node.id).await.expect("token").token;
    let request = EnrollRequest { token, hostname: Some("test-host".into()), agent_version: Some("test".into()) };
    let cred = AgentClient::enroll(&server.url, &request).await.expect("enroll");
    assert_eq!(cred.node_id, node.id);
    (node.id, cred.credential)
}

fn health() -> NodeHealth {
    NodeHealth { agent_version: "test".into(), ..Default::default() }
}

async fn wait_final(server: &TestServer, id: &str) -> works_core::Job {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let job = server.works.job_get(&server.admin, id).await.expect("job");
        if job.state.is_final() {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} did not end: {job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn agent_routes_take_only_agent_credentials_and_people_routes_never_do() {
    for server in servers().await {
        let http = server.client();
        let (_, cred) = enrolled(&server, "cred-node").await;
        let claim = server.url("/api/v1/agent/jobs/claim");

        let r = http.post(&claim).bearer_auth(&cred).send().await.unwrap();
        assert_eq!(r.status(), 204, "{}", server.backend);
        for (what, request) in [
            ("no credential", http.post(&claim)),
            ("a person's session", http.post(&claim).bearer_auth(&server.admin_token)),
            ("a malformed header", http.post(&claim).header("authorization", format!("Basic {cred}"))),
            ("a cookie", http.post(&claim).header("cookie", format!("works_session={}", server.admin_token))),
            ("an unknown agent credential", http.post(&claim).bearer_auth("wka_0000000000000000000000000000000000000000")),
        ] {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 401, "{what}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["kind"], "unauthenticated", "{what}");
        }
        for path in ["/api/v1/me", "/api/v1/nodes", "/api/v1/jobs", "/api/v1/orgs"] {
            let r = http.get(server.url(path)).bearer_auth(&cred).send().await.unwrap();
            assert_eq!(r.status(), 401, "{path} accepted an agent credential");
        }
        // Enrollment needs no credential but a valid one-time token.
        let r = http.post(server.url("/api/v1/agent/enroll")).json(&json!({"token": "wke_nope"})).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = http.post(server.url("/api/v1/agent/enroll")).json(&json!({"token": "wke_nope", "extra": 1})).send().await.unwrap();
        assert_eq!(r.status(), 400);
    }
}

#[tokio::test]
async fn another_nodes_agent_can_neither_claim_nor_touch_a_job_and_is_audited() {
    for server in servers().await {
        let http = server.client();
        let (node_a, cred_a) = enrolled(&server, "node-a").await;
        let (node_b, cred_b) = enrolled(&server, "node-b").await;
        let job = server
            .works
            .job_request(&server.admin, NewJob { node_id: node_a.clone(), kind: JobKind::HealthCheck, params: json!({}) })
            .await
            .unwrap();
        let b = AgentClient::new(&server.url, cred_b).unwrap();
        assert_eq!(b.claim(Duration::from_secs(1)).await.unwrap(), None, "node b was handed node a's job");
        for result in [b.start(&job.id).await, b.heartbeat(&job.id).await] {
            assert!(matches!(result, Err(Error::NotFound { .. })), "{result:?}");
        }
        let forged = works_core::JobReport { succeeded: true, result: None, output: Some("forged".into()), reason: None };
        assert!(matches!(b.complete(&job.id, &forged).await, Err(Error::NotFound { .. })));
        let r = http.post(server.url(&format!("/api/v1/agent/jobs/{}/start", job.id))).bearer_auth(&cred_a).send().await.unwrap();
        assert_eq!(r.status(), 409, "a job that is not claimed cannot start");
        let audit = server
            .works
            .audit_query(
                &server.admin,
                works_core::AuditQuery { actor_id: Some(format!("agent:{node_b}")), outcome: Some(Outcome::Denied), ..Default::default() },
            )
            .await
            .unwrap();
        let actions: Vec<&str> = audit.records.iter().map(|r| r.action.as_str()).collect();
        for action in ["job.start", "job.heartbeat", "job.complete"] {
            assert!(actions.contains(&action), "{action} not audited: {actions:?}");
        }
        let a = AgentClient::new(&server.url, cred_a).unwrap();
        let claimed = a.claim(Duration::from_secs(1)).await.unwrap().expect("node a gets its job");
        assert_eq!(claimed.id, job.id);
        assert_eq!(claimed.state, JobState::Claimed);
        assert_eq!(a.start(&job.id).await.unwrap().state, JobState::Running);
        assert_eq!(a.heartbeat(&job.id).await.unwrap().id, job.id);
        let done = a.complete(&job.id, &forged).await.unwrap();
        assert_eq!(done.state, JobState::Succeeded);
        assert!(matches!(a.heartbeat(&job.id).await, Err(Error::Conflict { .. })), "a finished job tells the agent to stop");
    }
}

#[tokio::test]
async fn an_idle_agent_picks_work_up_within_a_second_of_its_request() {
    for server in servers().await {
        let (node, cred) = enrolled(&server, "idle-node").await;
        let agent = AgentClient::new(&server.url, cred).unwrap();
        let waiting = tokio::spawn(async move {
            let started = Instant::now();
            (agent.claim(Duration::from_secs(20)).await, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let requested = Instant::now();
        let job = server
            .works
            .job_request(&server.admin, NewJob { node_id: node, kind: JobKind::InventoryRefresh, params: json!({}) })
            .await
            .unwrap();
        let (claimed, waited) = waiting.await.unwrap();
        assert_eq!(claimed.unwrap().map(|j| j.id), Some(job.id));
        assert!(waited >= Duration::from_millis(1400), "the claim did not wait: {waited:?}");
        assert!(requested.elapsed() < Duration::from_secs(2), "picked up after {:?}", requested.elapsed());
    }
}

#[tokio::test]
async fn a_check_in_carries_a_large_inventory_up_to_four_mebibytes() {
    let server = TestServer::start_sqlite().await;
    let (node, cred) = enrolled(&server, "big-node").await;
    let agent = AgentClient::new(&server.url, cred).unwrap();
    let container = |i: usize, label_bytes: usize| Container {
        id: format!("{i:064x}"),
        name: format!("c{i}"),
        image: "works-test/busybox:1".into(),
        state: "running".into(),
        health: None,
        labels: BTreeMap::from([("big".to_owned(), "x".repeat(label_bytes))]),
        ports: vec![],
        mounts: vec![],
    };
    // About 3 MiB: more than the usual 2 MB body limit, within the check-in's 4 MiB.
    let big: Vec<Container> = (0..100).map(|i| container(i, 30 * 1024)).collect();
    agent.checkin(&CheckIn { health: health(), containers: Some(big) }).await.expect("a 3 MiB check-in");
    assert_eq!(server.works.node_containers(&server.admin, &node).await.unwrap().len(), 100);
    let too_big: Vec<Container> = (0..100).map(|i| container(i, 50 * 1024)).collect();
    let e = agent.checkin(&CheckIn { health: health(), containers: Some(too_big) }).await.unwrap_err();
    assert!(matches!(&e, Error::InvalidInput { field, .. } if field == "body"), "{e:?}");
    // Without an inventory, the last one stays.
    agent.checkin(&CheckIn { health: health(), containers: None }).await.unwrap();
    assert_eq!(server.works.node_containers(&server.admin, &node).await.unwrap().len(), 100);
}

#[tokio::test]
async fn the_agent_loop_runs_jobs_reports_honestly_and_stops_when_told_or_revoked() {
    let server = TestServer::start_sqlite().await;
    let (node, cred) = enrolled(&server, "loop-node").await;
    // No engine at this address: the agent keeps working and says Docker is unreachable.
    let tmp = tempfile::tempdir().unwrap();
    let no_engine = format!("unix://{}", tmp.path().join("docker.sock").display());
    let stop = CancellationToken::new();
    let agent = Arc::new(Agent::new(&server.url, cred.clone(), node.clone(), &no_engine, stop.clone()).unwrap());
    let running = tokio::spawn(agent.clone().run());

    let request = |kind: JobKind, params: Value| {
        let works = server.works.clone();
        let admin = server.admin.clone();
        let node = node.clone();
        async move { works.job_request(&admin, NewJob { node_id: node, kind, params }).await.unwrap() }
    };
    let check = request(JobKind::HealthCheck, json!({})).await;
    let logs = request(JobKind::Logs, json!({"container": "web", "lines": 10})).await;
    let bad = request(JobKind::Logs, json!({"container": "web", "lines": 5000})).await;

    let check = wait_final(&server, &check.id).await;
    assert_eq!(check.state, JobState::Succeeded, "{check:?}");
    assert_eq!(check.result.as_ref().unwrap()["docker"]["reachable"], false);
    assert!(check.output.as_deref().unwrap().contains("cannot be reached"), "{:?}", check.output);
    let logs = wait_final(&server, &logs.id).await;
    assert_eq!(logs.state, JobState::Failed);
    assert!(logs.reason.as_deref().unwrap().contains("cannot be reached"), "{logs:?}");
    let bad = wait_final(&server, &bad.id).await;
    assert_eq!(bad.state, JobState::Failed);
    assert!(bad.reason.as_deref().unwrap().contains("from 1 to 2000"), "{bad:?}");

    let n = server.works.node_get(&server.admin, &node).await.unwrap();
    assert_eq!(n.status, NodeStatus::Online);
    let h = n.health.unwrap();
    assert!(!h.docker_reachable && h.memory_total_bytes > 0, "{h:?}");

    // Told to stop: it stops, without error.
    stop.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(15), running).await.expect("stops in time").unwrap();
    assert_eq!(stopped, Ok(()));

    // Revoked while running: it stops and says why.
    let stop = CancellationToken::new();
    let agent = Arc::new(Agent::new(&server.url, cred, node.clone(), &no_engine, stop.clone()).unwrap());
    let running = tokio::spawn(agent.run());
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.works.agent_revoke(&server.admin, &node).await.unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(30), running).await.expect("cut off in time").unwrap();
    match refused {
        Err(Error::Unauthenticated { message }) => {
            assert!(message.contains("revoked") && message.contains("works agent enroll"), "{message}");
            assert!(!message.contains("wka_"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_not_fatal() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let agent = AgentClient::new(&format!("http://{addr}"), "wka_x").unwrap();
    let e = agent.claim(Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    assert!(!format!("{agent:?}").contains("wka_x"));
}
