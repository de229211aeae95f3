//! Read commands of the OpenClaw CLI, run by the agent with `docker exec` in a gateway
//! container started from the real OpenClaw image: the core turns a command id into a
//! safe job, the agent maps the id back to the fixed arguments and runs them, and the
//! redacted output is read back on the instance. A command off the allowlist is refused
//! by the agent too, even in a job the core never made.
//!
//! Needs `scripts/docker-engine start` and `scripts/openclaw-image`. Without the image
//! the test is skipped with a message, except under `CI=true`, where it fails.

#[allow(dead_code)]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use works_agent::openclaw_cli;
use works_agent::Engine;
use works_core::{CheckIn, EnrollRequest, InstanceQuery, JobKind, JobState, NewNode, NodeHealth, TakeoverInput};
use works_testkit::TestServer;

const IMAGE: &str = concat!("anthropy/openclaw:", "2026.9.6");

fn in_ci() -> bool {
    std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false)
}

fn docker(host: &str, args: &[&str]) -> std::process::Output {
    Command::new("docker").arg("-H").arg(host).args(args).output().expect("the docker command runs")
}

/// Removes the container when the test ends, however it ends.
struct Remove(String, String);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = docker(&self.0, &["rm", "-f", &self.1]);
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("its address").port()
}

#[tokio::test]
async fn the_agent_runs_allowlisted_read_commands_in_the_real_gateway() {
    assert_eq!(IMAGE, format!("anthropy/openclaw:{}", works_core::openclaw::DEFAULT_VERSION), "the pinned version moved");
    let Some(host) = common::docker_host("openclaw_cli") else { return };
    if !docker(&host, &["image", "inspect", IMAGE]).status.success() {
        if in_ci() {
            panic!("{IMAGE} is missing and CI is set: run scripts/openclaw-image first");
        }
        eprintln!("openclaw_cli: skipped: {IMAGE} is missing; run scripts/openclaw-image to build it");
        return;
    }

    // A gateway with a unique name, its token only in its environment.
    let name = format!("openclaw-cli-test-{:016x}-gateway", rand::random::<u64>());
    let token = format!("oc-test-{:032x}", rand::random::<u128>());
    let port = free_port();
    let _cleanup = Remove(host.clone(), name.clone());
    let env = format!("OPENCLAW_GATEWAY_TOKEN={token}");
    let publish = format!("127.0.0.1:{port}:18789");
    let run = docker(&host, &["run", "-d", "--name", &name, "-e", &env, "-p", &publish, IMAGE]);
    assert!(run.status.success(), "docker run: {}", String::from_utf8_lossy(&run.stderr));

    // The core: the node's inventory, the instance taken over, then a command by id.
    let server = TestServer::start_sqlite().await;
    let org = server.create_org("Acme").await;
    let node = server.works.node_create(&server.admin, NewNode { name: "acme-web-01".into(), org_id: Some(org.id.clone()) }).await.unwrap();
    let enrollment = server.works.enrollment_token_create(&server.admin, &node.id).await.unwrap();
    let cred = server.works.agent_enroll(EnrollRequest { token: enrollment.token, hostname: None, agent_version: None }).await.unwrap();
    let agent = server.works.authenticate_agent(&cred.credential).await.unwrap();
    let engine = Engine::new(&host).unwrap();
    let inventory: Vec<_> = engine.inventory().await.expect("the agent reads the inventory").into_iter().filter(|c| c.name == name).collect();
    assert_eq!(inventory.len(), 1, "the inventory lists the gateway");
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    server.works.agent_checkin(&agent, CheckIn { health, containers: Some(inventory) }).await.unwrap();
    let inst = server.works.instance_list(&server.admin, InstanceQuery::default()).await.unwrap().items.remove(0);
    let phrase = inst.takeover_phrase.clone().unwrap();
    let inst = server.works.instance_takeover(&server.admin, &inst.id, TakeoverInput { phrase }).await.unwrap();

    // Claims the queued job as the agent, runs it as the agent does, reports it.
    let run_command = |command_id: &'static str| {
        let (works, admin, agent, engine, inst_id) = (server.works.clone(), server.admin.clone(), agent.clone(), &engine, inst.id.clone());
        async move {
            let job = works.instance_cli_run(&admin, &inst_id, command_id).await.unwrap();
            let claimed = works.agent_claim(&agent, Duration::ZERO).await.unwrap().expect("the job is queued for this node");
            assert_eq!((claimed.id.as_str(), claimed.kind), (job.id.as_str(), JobKind::CliCommand));
            works.agent_job_start(&agent, &job.id).await.unwrap();
            let report = openclaw_cli::perform(engine, &claimed.params).await;
            works.agent_job_complete(&agent, &job.id, report).await.unwrap();
            works.instance_cli_run_get(&admin, &inst_id, &job.id).await.unwrap()
        }
    };

    // `openclaw --version` answers at once, before the gateway is ready.
    let version = run_command("version").await;
    assert_eq!(version.state, JobState::Succeeded, "{:?}", version.reason);
    let out = version.output.clone().unwrap();
    assert!(out.contains("OpenClaw 2026.9.6"), "{out}");
    assert_eq!(version.result.as_ref().unwrap()["exit_code"], json!(0));

    // The agent checks the allowlist again: a job naming another command, or carrying a
    // command line, is refused without running anything.
    for params in [
        json!({"instance_id": inst.id, "command_id": "gateway-call", "container": name}),
        json!({"instance_id": inst.id, "command_id": "reset", "container": name}),
        json!({"instance_id": inst.id, "command_id": "--version; reset", "container": name}),
        json!({"instance_id": inst.id, "command_id": "version", "container": name, "argv": ["reset"]}),
    ] {
        let report = openclaw_cli::perform(&engine, &params).await;
        assert!(!report.succeeded, "{params}");
        assert!(report.output.is_none(), "nothing ran: {params}");
    }
    let gone = openclaw_cli::perform(&engine, &json!({"instance_id": inst.id, "command_id": "version", "container": "no-such-container-here"})).await;
    assert!(!gone.succeeded && gone.reason.unwrap().contains("does not exist"));

    // Once the gateway answers /healthz, `openclaw health --json` reports through it.
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/healthz")).timeout(Duration::from_secs(3)).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(150) {
            let logs = docker(&host, &["logs", "--tail", "30", &name]);
            panic!("the gateway did not answer /healthz within 150 s; its log:\n{}", String::from_utf8_lossy(&logs.stdout));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let health = run_command("health").await;
    let out = health.output.clone().unwrap_or_default();
    assert_eq!(health.state, JobState::Succeeded, "{:?}\n{out}", health.reason);
    let start = out.find('{').expect("health --json prints a JSON document");
    let doc: Value = serde_json::from_str(out[start..].trim()).unwrap_or_else(|e| panic!("health output is JSON ({e}): {out}"));
    assert_eq!(doc["ok"], json!(true), "{doc}");

    // The token appears in nothing the product stored or answers.
    let runs = server.works.instance_cli_runs(&server.admin, &inst.id, Default::default()).await.unwrap();
    assert_eq!(runs.items.len(), 2);
    let text = serde_json::to_string(&runs).unwrap();
    assert!(!text.contains(&token), "the gateway token appeared in the command runs");
}
