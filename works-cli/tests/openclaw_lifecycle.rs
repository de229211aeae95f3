//! The OpenClaw lifecycle for real: `works serve`, a real agent (`works agent run`)
//! against the real Docker engine, and `works validate openclaw --node ID` driving the
//! real OpenClaw gateway from the local image through deploy → /healthz → logs with the
//! ready line → restart → healthy again → removed, its volumes still present. Then the
//! gateway token (opened from the database with the master key, as only the server can)
//! is searched for in every job, audit record, API answer and log: it is in none.
//!
//! Needs `scripts/docker-engine start` and `scripts/openclaw-image`; skipped with a
//! message without them, except under `CI=true`, where it fails.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, Server, ADMIN_PASSWORD};
use serde_json::Value;
use works_core::{InstanceState, NewNode, NewOrg, NewToken, NodeStatus, Works};

const IMAGE: &str = concat!("anthropy/openclaw:", "2026.9.6");

fn in_ci() -> bool {
    std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false)
}

fn docker_host() -> Option<String> {
    match std::env::var("WORKS_TEST_DOCKER_HOST") {
        Ok(h) if !h.trim().is_empty() => Some(h.trim().to_owned()),
        _ => {
            assert!(!in_ci(), "WORKS_TEST_DOCKER_HOST is not set and CI is: run `eval \"$(scripts/docker-engine start)\"` first");
            eprintln!("openclaw lifecycle: skipped: WORKS_TEST_DOCKER_HOST is not set");
            None
        }
    }
}

fn docker(host: &str, args: &[&str]) -> std::process::Output {
    Command::new("docker").arg("-H").arg(host).args(args).stdin(Stdio::null()).output().expect("the docker command runs")
}

/// Removes everything of the instance (containers, network, volumes) however the test ends.
struct Cleanup {
    host: String,
    prefix: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(prefix) = &self.prefix else { return };
        for c in ["gateway", "cli"] {
            let _ = docker(&self.host, &["rm", "-f", &format!("{prefix}-{c}")]);
        }
        let _ = docker(&self.host, &["network", "rm", &format!("{prefix}-net")]);
        for v in ["data", "workspace"] {
            let _ = docker(&self.host, &["volume", "rm", &format!("{prefix}-{v}")]);
        }
    }
}

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_openclaw_runs_the_whole_lifecycle_and_the_token_shows_nowhere() {
    let Some(host) = docker_host() else { return };
    if !docker(&host, &["image", "inspect", IMAGE]).status.success() {
        assert!(!in_ci(), "{IMAGE} is missing and CI is set: run scripts/openclaw-image first");
        eprintln!("openclaw lifecycle: skipped: {IMAGE} is missing; run scripts/openclaw-image");
        return;
    }
    let env = Env::new();
    let data = env.path("data");
    let server = Server::start(
        &env,
        &data,
        &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD), ("WORKS_CHECKIN_INTERVAL_SECS", "2"), ("WORKS_RECOVERY_INTERVAL_SECS", "2")],
    );

    // The server's own database, opened by the test with the same master key file.
    let url = works_store::sqlite_url_for_dir(&data);
    let store = works_store::open(&url).await.expect("open the server's database");
    let key = works_store::master_key(&url, None).expect("the key file").expect("a key beside the SQLite database");
    let works = Works::new(store).with_master_key(&key);
    let admin = works.local_actor("admin").await.expect("the admin");
    let org = works.org_create(&admin, NewOrg { name: "Lifecycle Dental".into() }).await.expect("org");
    let node = works.node_create(&admin, NewNode { name: "lifecycle-01".into(), org_id: Some(org.id.clone()) }).await.expect("node");
    let api_token = works.token_create(&admin, NewToken { name: "validation".into(), expires_in_days: Some(1) }).await.expect("token").token;
    let enrollment = works.enrollment_token_create(&admin, &node.id).await.expect("enrollment token");

    let state = env.path("agent-state");
    env.run(&["agent", "enroll", "--server", &server.url, "--token", &enrollment.token, "--state-dir", &state.to_string_lossy()]).ok();
    let agent_log = env.path("agent.log");
    let _agent = Agent(
        env.command()
            .args(["agent", "run", "--state-dir", &state.to_string_lossy()])
            .env("WORKS_DOCKER_HOST", &host)
            .env("WORKS_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&agent_log).expect("agent log")))
            .spawn()
            .expect("works agent run"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while works.node_get(&admin, &node.id).await.expect("node").status != NodeStatus::Online {
        assert!(Instant::now() < deadline, "the agent did not check in; its log:\n{}", std::fs::read_to_string(&agent_log).unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The names the deploy will use, so the test cleans up whatever happens.
    let mut cleanup = Cleanup { host: host.clone(), prefix: None };
    let run = env.run(&["validate", "openclaw", "--node", &node.id, "--server", &server.url, "--token", &api_token]);
    let instance = works
        .instance_list(&admin, works_core::InstanceQuery { node_id: Some(node.id.clone()), ..Default::default() })
        .await
        .expect("instances")
        .items
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("the validation created no instance:\n{}\n{}", run.stdout, run.stderr));
    cleanup.prefix = instance.container_name.strip_suffix("-gateway").map(str::to_owned);
    assert_eq!(
        run.code,
        0,
        "works validate openclaw failed:\n{}\n{}\nagent log:\n{}",
        run.stdout,
        run.stderr,
        std::fs::read_to_string(&agent_log).unwrap_or_default()
    );
    for step in ["deploy requested", "deploy: approved \"deploy openclaw 2026.9.6 on lifecycle-01\"", "/healthz", "[gateway] ready", "restart: approved", "health after restart", "volumes kept"] {
        assert!(run.stdout.contains(step), "step {step:?} is missing from:\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);

    // The instance is removed; its volumes are still on the node.
    let removed = works.instance_get(&admin, &instance.id).await.expect("instance");
    assert_eq!(removed.state, InstanceState::Removed, "{removed:?}");
    let prefix = cleanup.prefix.clone().expect("the instance's name prefix");
    assert!(docker(&host, &["volume", "inspect", &format!("{prefix}-data")]).status.success(), "the data volume was deleted");
    assert!(docker(&host, &["volume", "inspect", &format!("{prefix}-workspace")]).status.success(), "the workspace volume was deleted");
    assert!(!docker(&host, &["container", "inspect", &format!("{prefix}-gateway")]).status.success(), "the gateway container is still there");

    // The gateway token, as only the server can open it.
    let token = gateway_token(&url, &key, &instance.id).await;
    assert!(token.len() > 20);
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{}{path}", server.url);
        let bearer = api_token.clone();
        async move { http.get(url).bearer_auth(bearer).send().await.expect("GET").text().await.expect("body") }
    };
    let mut places = vec![
        ("jobs", get("/api/v1/jobs?limit=500".into()).await),
        ("audit", get("/api/v1/audit?limit=500".into()).await),
        ("instances", get("/api/v1/instances".into()).await),
        ("instance", get(format!("/api/v1/instances/{}", instance.id)).await),
        ("validate output", format!("{}{}", run.stdout, run.stderr)),
        ("agent log", std::fs::read_to_string(&agent_log).unwrap_or_default()),
    ];
    let jobs: Value = serde_json::from_str(&places[0].1).expect("jobs JSON");
    let listed = jobs["items"].as_array().expect("job items");
    assert!(listed.len() >= 6, "deploy, health, logs, restart, health, remove: {listed:?}");
    for j in listed {
        let id = j["id"].as_str().expect("job id");
        places.push(("job", get(format!("/api/v1/jobs/{id}")).await));
    }
    let (_, server_log) = server.stop();
    places.push(("server log", server_log));
    for (place, text) in &places {
        assert!(!text.contains(&token), "the gateway token appears in the {place}");
    }
    // The handover to the agent is recorded, without the token.
    let audit = &places[1].1;
    assert!(audit.contains("instance.gateway_token"), "the token handover is not in the audit log");
}

/// Opens the sealed gateway token from the database, as the server does.
async fn gateway_token(url: &str, key: &works_core::MasterKey, instance_id: &str) -> String {
    let store = works_store::open(url).await.expect("open");
    let sealed = store.get_instance_token(instance_id).await.expect("read").expect("a sealed token on the instance");
    assert!(sealed.starts_with("v1."), "the token is sealed at rest: {}", &sealed[..8.min(sealed.len())]);
    works_core::Sealer::new(key).open_text(&format!("gateway-token:{instance_id}"), &sealed).expect("opens with the master key")
}
