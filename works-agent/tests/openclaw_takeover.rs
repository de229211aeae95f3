//! The real OpenClaw gateway, started by hand from the local image in the real Docker
//! engine, is discovered through the agent's inventory and the core's check-in, and
//! taken over with the typed phrase — without its container changing. The gateway token
//! appears nowhere in what the product stores or answers.
//!
//! Needs `scripts/docker-engine start` and `scripts/openclaw-image`. Without the image
//! the test is skipped with a message, except under `CI=true`, where it fails.

#[allow(dead_code)]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use works_agent::Engine;
use works_core::{AuditQuery, CheckIn, EnrollRequest, NewNode, NodeHealth};
use works_testkit::TestServer;

const IMAGE: &str = concat!("anthropy/openclaw:", "2026.9.6");
const NAME: &str = "openclaw-gateway";

fn in_ci() -> bool {
    std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false)
}

fn docker(host: &str, args: &[&str]) -> std::process::Output {
    Command::new("docker").arg("-H").arg(host).args(args).output().expect("the docker command runs")
}

/// Removes the container when the test ends, however it ends.
struct Remove<'a>(&'a str);

impl Drop for Remove<'_> {
    fn drop(&mut self) {
        let _ = docker(self.0, &["rm", "-f", NAME]);
    }
}

fn inspect(host: &str) -> (String, String) {
    let out = docker(host, &["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", NAME]);
    assert!(out.status.success(), "docker inspect: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (id, started) = text.split_once(' ').expect("id and start time");
    (id.to_owned(), started.to_owned())
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("its address").port()
}

#[tokio::test]
async fn a_gateway_started_by_hand_is_discovered_and_taken_over_without_changing_it() {
    assert_eq!(IMAGE, format!("anthropy/openclaw:{}", works_core::openclaw::DEFAULT_VERSION), "the pinned version moved");
    let Some(host) = common::docker_host("openclaw_takeover") else { return };
    if !docker(&host, &["image", "inspect", IMAGE]).status.success() {
        if in_ci() {
            panic!("{IMAGE} is missing and CI is set: run scripts/openclaw-image first");
        }
        eprintln!("openclaw_takeover: skipped: {IMAGE} is missing; run scripts/openclaw-image to build it");
        return;
    }

    // Started by hand, as an MSP's customer might have: not labelled by us.
    let token = format!("oc-test-{:032x}", rand::random::<u128>());
    let port = free_port();
    let _ = docker(&host, &["rm", "-f", NAME]);
    let _cleanup = Remove(&host);
    let env = format!("OPENCLAW_GATEWAY_TOKEN={token}");
    let publish = format!("127.0.0.1:{port}:18789");
    let run = docker(&host, &["run", "-d", "--name", NAME, "-e", &env, "-p", &publish, IMAGE]);
    assert!(run.status.success(), "docker run: {}", String::from_utf8_lossy(&run.stderr));

    // Wait (bounded) for the gateway to answer /healthz.
    let http = reqwest::Client::new();
    let started = Instant::now();
    let healthz = loop {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/healthz")).timeout(Duration::from_secs(3)).send().await {
            if r.status().is_success() {
                break r.json::<Value>().await.expect("/healthz answers JSON");
            }
        }
        if started.elapsed() > Duration::from_secs(90) {
            let logs = docker(&host, &["logs", "--tail", "30", NAME]);
            panic!("the gateway did not answer /healthz within 90 s; its log:\n{}", String::from_utf8_lossy(&logs.stdout));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(healthz["ok"], json!(true), "{healthz}");
    eprintln!("openclaw_takeover: the gateway answered /healthz after {:?}", started.elapsed());
    let before = inspect(&host);

    // The agent's inventory, the core's check-in.
    let server = TestServer::start_sqlite().await;
    let org = server.create_org("Acme").await;
    let node = server.works.node_create(&server.admin, NewNode { name: "acme-web-01".into(), org_id: Some(org.id.clone()) }).await.unwrap();
    let enrollment = server.works.enrollment_token_create(&server.admin, &node.id).await.unwrap();
    let cred = server.works.agent_enroll(EnrollRequest { token: enrollment.token, hostname: None, agent_version: None }).await.unwrap();
    let agent = server.works.authenticate_agent(&cred.credential).await.unwrap();
    let inventory = Engine::new(&host).unwrap().inventory().await.expect("the agent reads the inventory");
    let inventory_text = serde_json::to_string(&inventory).unwrap();
    assert!(inventory.iter().any(|c| c.name == NAME), "the inventory lists the gateway");
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    server.works.agent_checkin(&agent, CheckIn { health, containers: Some(inventory) }).await.unwrap();

    // One discovered instance, over the HTTP API.
    let get = |path: String| {
        let r = server.client().get(server.url(&path)).bearer_auth(&server.admin_token).send();
        async move {
            let r = r.await.expect("the API answers");
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.text().await.unwrap()
        }
    };
    let list_text = get(format!("/api/v1/instances?node_id={}", node.id)).await;
    let list: Value = serde_json::from_str(&list_text).unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "exactly one discovered instance: {list}");
    let inst = &items[0];
    assert_eq!(inst["state"], "discovered");
    assert_eq!(inst["container_id"], json!(before.0));
    assert_eq!(inst["node_id"], json!(node.id));
    assert_eq!(inst["org_id"], json!(org.id));
    assert_eq!(inst["version"], "2026.9.6");
    let id = inst["id"].as_str().unwrap().to_owned();
    let phrase = inst["takeover_phrase"].as_str().unwrap().to_owned();
    assert_eq!(phrase, "take over openclaw openclaw-gateway on acme-web-01");
    let detail_text = get(format!("/api/v1/instances/{id}")).await;

    // A wrong phrase is refused; the right one takes it over.
    let takeover = |phrase: String| {
        server
            .client()
            .post(server.url(&format!("/api/v1/instances/{id}/takeover")))
            .bearer_auth(&server.admin_token)
            .json(&json!({ "phrase": phrase }))
            .send()
    };
    let wrong = takeover("take over openclaw".into()).await.unwrap();
    assert_eq!(wrong.status(), 400);
    let wrong_text = wrong.text().await.unwrap();
    let done = takeover(phrase).await.unwrap();
    assert_eq!(done.status(), 200);
    let done_text = done.text().await.unwrap();
    let done: Value = serde_json::from_str(&done_text).unwrap();
    assert_eq!(done["state"], "managed");
    assert_eq!(done["container_id"], json!(before.0));

    // The container is the same one, never restarted, and still answers.
    assert_eq!(inspect(&host), before, "container id and start time are unchanged");
    let still = http.get(format!("http://127.0.0.1:{port}/healthz")).send().await.unwrap();
    assert!(still.status().is_success());

    // The token is nowhere: inventory, API answers, audit, jobs.
    let audit = server.works.audit_query(&server.admin, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap();
    let audit_text = serde_json::to_string(&audit).unwrap();
    assert!(audit_text.contains("instance.takeover") && audit_text.contains("instance.discover"));
    let jobs_text = get("/api/v1/jobs".into()).await;
    assert_eq!(serde_json::from_str::<Value>(&jobs_text).unwrap()["items"], json!([]), "takeover made no job");
    let containers_text = get(format!("/api/v1/nodes/{}/containers", node.id)).await;
    for (what, text) in [
        ("inventory", &inventory_text),
        ("instance list", &list_text),
        ("instance", &detail_text),
        ("refusal", &wrong_text),
        ("takeover answer", &done_text),
        ("audit", &audit_text),
        ("jobs", &jobs_text),
        ("node containers", &containers_text),
    ] {
        assert!(!text.contains(&token), "the gateway token appeared in the {what}");
        assert!(!text.contains("OPENCLAW_GATEWAY_TOKEN"), "the token's variable appeared in the {what}");
    }
}
