//! The agent end to end, with real processes: `works serve`, `works agent enroll`,
//! `works agent run` against a real Docker engine (`scripts/docker-engine start`), and
//! the same SQLite database opened a second time by the test to set up and check state
//! through the core.

mod common;

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, Env, Server, ADMIN_PASSWORD};
use serde_json::{json, Value};
use works_core::{
    Actor, AuditQuery, CoreConfig, JobKind, JobQuery, JobState, NewJob, NewNode, NewOrg, NodeStatus, NodeThresholds,
    Outcome, Works,
};

const TEST_IMAGE: &str = "works-test/busybox:1";

/// The engine started by `scripts/docker-engine start`; None (skipped) outside CI when
/// it is not set, a failure under `CI=true`.
fn docker_host(test: &str) -> Option<String> {
    match std::env::var("WORKS_TEST_DOCKER_HOST") {
        Ok(h) if !h.trim().is_empty() => Some(h.trim().to_owned()),
        _ => {
            let ci = std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false);
            assert!(!ci, "{test}: WORKS_TEST_DOCKER_HOST is not set and CI is: run `eval \"$(scripts/docker-engine start)\"` first");
            eprintln!("{test}: skipped: WORKS_TEST_DOCKER_HOST is not set; run `eval \"$(scripts/docker-engine start)\"` to test against a real Docker engine");
            None
        }
    }
}

/// Test containers, removed when dropped.
struct Containers {
    host: String,
    names: Vec<String>,
}

impl Containers {
    fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.arg("-H").arg(&self.host).stdin(Stdio::null());
        c
    }

    fn run(&mut self, name: &str, labels: &[(&str, &str)], script: &str) {
        let mut cmd = self.docker();
        cmd.args(["run", "-d", "--name", name, "-e", "SECRET_VALUE=hunter2"]);
        for (k, v) in labels {
            cmd.arg("--label").arg(format!("{k}={v}"));
        }
        cmd.args([TEST_IMAGE, "/bin/busybox", "sh", "-c", script]);
        let out = cmd.output().expect("the docker command could not be started");
        assert!(out.status.success(), "docker run {name} failed: {}", String::from_utf8_lossy(&out.stderr));
        self.names.push(name.to_owned());
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = self.docker().args(["rm", "-f", "-v", name]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

/// A `works agent run` process, killed when dropped.
struct AgentProcess {
    child: Child,
    log: std::path::PathBuf,
}

impl AgentProcess {
    fn start(env: &Env, state_dir: &Path, docker_host: &str, log_name: &str) -> AgentProcess {
        let log = env.path(log_name);
        let child = env
            .command()
            .args(["agent", "run", "--state-dir", &state_dir.to_string_lossy()])
            .env("WORKS_DOCKER_HOST", docker_host)
            .env("WORKS_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("agent log")))
            .spawn()
            .expect("works agent run could not be started");
        AgentProcess { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) for the process to end by itself.
    async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the agent") {
                return status;
            }
            assert!(Instant::now() < deadline, "the agent did not stop within {within:?}; its log:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(sent.success(), "could not signal the agent");
    }

    fn stdout(&mut self) -> String {
        use std::io::Read;
        let mut text = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}


fn short_thresholds() -> CoreConfig {
    CoreConfig {
        nodes: NodeThresholds { stale_after: chrono::Duration::seconds(2), offline_after: chrono::Duration::seconds(4) },
        checkin_interval_secs: 1,
        ..Default::default()
    }
}

async fn wait_job(works: &Works, admin: &Actor, id: &str, within: Duration) -> works_core::Job {
    eventually(&format!("job {id} to end"), within, || async {
        let job = works.job_get(admin, id).await.expect("read the job");
        job.state.is_final().then_some(job)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_enrolls_checks_in_runs_jobs_goes_quiet_and_is_cut_off() {
    let Some(docker_host) = docker_host("agent end to end") else { return };
    let env = Env::new();
    let data = env.path("data");
    let server = Server::start(
        &env,
        &data,
        &[
            ("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WORKS_NODE_STALE_AFTER_SECS", "2"),
            ("WORKS_NODE_OFFLINE_AFTER_SECS", "4"),
            ("WORKS_CHECKIN_INTERVAL_SECS", "1"),
            ("WORKS_RECOVERY_INTERVAL_SECS", "1"),
        ],
    );
    let http = reqwest::Client::new();

    // The same database, opened by the test: the core sees what the server stored.
    let store = works_store::open(&works_store::sqlite_url_for_dir(&data)).await.expect("open the server's database");
    let works = Works::new(store).with_config(short_thresholds());
    let admin = works.local_actor("admin").await.expect("the admin");
    let org = works.org_create(&admin, NewOrg { name: "Acme <b>&</b> Sons".into() }).await.expect("org");
    let node = works.node_create(&admin, NewNode { name: "acme-web-01".into(), org_id: Some(org.id.clone()) }).await.expect("node");
    let other = works.node_create(&admin, NewNode { name: "acme-web-02".into(), org_id: Some(org.id.clone()) }).await.expect("node 2");
    assert_eq!(node.status, NodeStatus::Offline);

    // Containers the agent must report, named and labelled with markup and shell syntax.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let run_id = format!("{:x}", nanos ^ u128::from(std::process::id()));
    let mut containers = Containers { host: docker_host.clone(), names: Vec::new() };
    let web = format!("works-e2e-{run_id}-web");
    let worker = format!("works-e2e-{run_id}-worker.1");
    let note = "<b>$(rm -rf /)</b> & 'quoted' \"double\" `id`";
    containers.run(
        &web,
        &[("works.test.run", &run_id), ("note", note)],
        "echo hello from the web container; echo api token wkt_abcdefghijklmnopqrstuvwxyz0123456789; sleep 3600",
    );
    containers.run(&worker, &[("works.test.run", &run_id), ("role", "<script>alert(1)</script>")], "sleep 3600");

    // An enrollment token through the API, as an admin would get it.
    let login: Value = http
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_token = login["token"].as_str().expect("a session token").to_owned();
    let answer = http
        .post(format!("{}/api/v1/nodes/{}/enrollment-token", server.url, node.id))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "enrollment token: {}", answer.status());
    let token = answer.json::<Value>().await.unwrap()["token"].as_str().expect("a one-time token").to_owned();

    // Enroll: the credential is kept with mode 0600 in a 0700 folder.
    let state = env.path("agent-state");
    let state_arg = state.to_string_lossy().to_string();
    let enrolled = env.run(&["agent", "enroll", "--server", &server.url, "--token", &token, "--state-dir", &state_arg]).ok();
    assert!(enrolled.stdout.contains(&node.id), "{}", enrolled.stdout);
    assert!(!enrolled.stdout.contains("wka_"), "the credential was printed: {}", enrolled.stdout);
    {
        use std::os::unix::fs::PermissionsExt;
        let file = state.join("agent.json");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o700);
        let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(saved["node_id"], node.id.as_str());
        assert!(saved["credential"].as_str().unwrap().starts_with("wka_"));
    }
    // The same token again: refused, whoever presents it and wherever it is kept.
    let replay_dir = env.path("replay-state").to_string_lossy().to_string();
    let replay = env.run(&["agent", "enroll", "--server", &server.url, "--token", &token, "--state-dir", &replay_dir]).fails_with(4);
    assert!(replay.stderr.contains("not valid"), "{}", replay.stderr);
    assert!(!Path::new(&replay_dir).join("agent.json").exists());
    // An existing enrollment is not overwritten without --force (and no token is spent).
    let again = env.run(&["agent", "enroll", "--server", &server.url, "--token", "wke_unused", "--state-dir", &state_arg]).fails_with(5);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);

    // Run the agent: it checks in with health and the containers.
    let mut agent = AgentProcess::start(&env, &state, &docker_host, "agent-1.log");
    let seen = eventually("the node to be online with its containers", Duration::from_secs(30), || async {
        let n = works.node_get(&admin, &node.id).await.expect("node");
        let inventory = works.node_containers(&admin, &node.id).await.expect("containers");
        let mine: Vec<_> = inventory.iter().filter(|c| c.labels.get("works.test.run") == Some(&run_id)).cloned().collect();
        (n.last_checkin_at.is_some() && n.status == NodeStatus::Online && mine.len() == 2).then_some((n, inventory, mine))
    })
    .await;
    let (online, inventory, mine) = seen;
    let health = online.health.expect("health");
    assert!(health.docker_reachable, "{health:?}");
    assert!(health.docker_version.is_some());
    assert!(health.memory_total_bytes > 0 && health.disk_total_bytes > 0 && health.uptime_secs > 0);
    let names: Vec<&str> = mine.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec![web.as_str(), worker.as_str()]);
    assert_eq!(mine[0].labels["note"], note, "labels come back unchanged");
    assert_eq!(mine[1].labels["role"], "<script>alert(1)</script>");
    assert!(mine.iter().all(|c| c.state == "running" && c.image == TEST_IMAGE));
    assert!(!serde_json::to_string(&inventory).unwrap().contains("hunter2"), "an environment value reached the server");
    // And over HTTP, the containers of the node as the API shows them.
    let listed: Value = http
        .get(format!("{}/api/v1/nodes/{}/containers", server.url, node.id))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed.to_string().contains(&web), "{listed}");

    // Work: a health check, the logs of a container, a missing container, a refresh.
    let request = |kind: JobKind, params: Value| {
        let works = works.clone();
        let admin = admin.clone();
        let node_id = node.id.clone();
        async move { works.job_request(&admin, NewJob { node_id, kind, params }).await.expect("request a job") }
    };
    let check = request(JobKind::HealthCheck, json!({})).await;
    let logs = request(JobKind::Logs, json!({"container": web, "lines": 5})).await;
    let missing = request(JobKind::Logs, json!({"container": "works-e2e-no-such-container", "lines": 5})).await;
    let refresh = request(JobKind::InventoryRefresh, json!({})).await;

    let check = wait_job(&works, &admin, &check.id, Duration::from_secs(30)).await;
    assert_eq!(check.state, JobState::Succeeded, "{check:?}");
    let result = check.result.as_ref().expect("a result");
    assert_eq!(result["docker"]["reachable"], true, "{result}");
    assert_eq!(result["docker"]["ping"], "OK", "{result}");
    assert!(check.output.as_deref().unwrap_or("").contains("Docker"), "{:?}", check.output);

    let logs = wait_job(&works, &admin, &logs.id, Duration::from_secs(30)).await;
    assert_eq!(logs.state, JobState::Succeeded, "{logs:?}");
    let output = logs.output.as_deref().unwrap_or("");
    assert!(output.contains("hello from the web container"), "{output}");
    assert!(!output.contains("wkt_abcdefghijklmnopqrstuvwxyz0123456789"), "a token in the output was not redacted: {output}");

    let missing = wait_job(&works, &admin, &missing.id, Duration::from_secs(30)).await;
    assert_eq!(missing.state, JobState::Failed);
    assert!(missing.reason.as_deref().unwrap_or("").contains("No container named works-e2e-no-such-container"), "{missing:?}");

    let refresh = wait_job(&works, &admin, &refresh.id, Duration::from_secs(30)).await;
    assert_eq!(refresh.state, JobState::Succeeded, "{refresh:?}");

    // A deploy job requested by hand, not through an instance deploy, names no
    // instance: once approved, the agent refuses it plainly and creates nothing.
    let deploy = request(JobKind::Deploy, json!({})).await;
    let phrase = deploy.approval_phrase.clone().expect("a phrase");
    works.job_approve(&admin, &deploy.id, works_core::ApproveJob { phrase }).await.expect("approve");
    let deploy = wait_job(&works, &admin, &deploy.id, Duration::from_secs(30)).await;
    assert_eq!(deploy.state, JobState::Failed);
    let why = deploy.reason.as_deref().unwrap_or("");
    assert!(why.contains("does not name an OpenClaw instance") && why.contains("works instance"), "{why}");
    // Work this agent version cannot do is refused honestly.
    let install = request(JobKind::AgentInstall, json!({})).await;
    let phrase = install.approval_phrase.clone().expect("a phrase");
    works.job_approve(&admin, &install.id, works_core::ApproveJob { phrase }).await.expect("approve");
    let install = wait_job(&works, &admin, &install.id, Duration::from_secs(30)).await;
    assert_eq!(install.state, JobState::Failed);
    assert_eq!(install.reason.as_deref(), Some("This agent version cannot run agent_install jobs yet."));

    // SIGTERM: the agent stops by itself, and the node goes stale, then offline.
    agent.signal("-TERM");
    let status = agent.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "the agent did not stop cleanly: {status:?}\n{}", agent.log_text());
    assert!(agent.stdout().contains("The agent stopped."));
    assert!(!agent.log_text().contains("wka_"), "the credential reached the log");

    // Meanwhile, another node's agent cannot reach this node's work.
    let other_token = works.enrollment_token_create(&admin, &other.id).await.expect("token 2").token;
    let cred: Value = http
        .post(format!("{}/api/v1/agent/enroll", server.url))
        .json(&json!({"token": other_token, "hostname": "other-host"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other_cred = cred["credential"].as_str().expect("a credential").to_owned();
    let waiting = request(JobKind::HealthCheck, json!({})).await;
    let claim = http
        .post(format!("{}/api/v1/agent/jobs/claim?wait_secs=1", server.url))
        .bearer_auth(&other_cred)
        .send()
        .await
        .unwrap();
    assert_eq!(claim.status(), 204, "another node's agent was handed this node's job");
    for step in ["start", "heartbeat", "complete"] {
        let mut req = http.post(format!("{}/api/v1/agent/jobs/{}/{step}", server.url, waiting.id)).bearer_auth(&other_cred);
        if step == "complete" {
            req = req.json(&json!({"succeeded": true, "result": null, "output": "forged", "reason": null}));
        }
        let answer = req.send().await.unwrap();
        assert_eq!(answer.status(), 404, "{step} of another node's job");
    }
    let still = works.job_get(&admin, &waiting.id).await.unwrap();
    assert_eq!(still.state, JobState::Queued);
    let denied = works
        .audit_query(
            &admin,
            AuditQuery { actor_id: Some(format!("agent:{}", other.id)), outcome: Some(Outcome::Denied), limit: Some(50), ..Default::default() },
        )
        .await
        .expect("audit");
    for action in ["job.start", "job.heartbeat", "job.complete"] {
        assert!(
            denied.records.iter().any(|r| r.action == action && r.target_id.as_deref() == Some(waiting.id.as_str())),
            "no denied {action} in the audit log: {:?}",
            denied.records
        );
    }
    // Credentials do not cross over: an agent's is no sign-in, a person's is no agent's.
    let me = http.get(format!("{}/api/v1/me", server.url)).bearer_auth(&other_cred).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let nodes = http.get(format!("{}/api/v1/nodes", server.url)).bearer_auth(&other_cred).send().await.unwrap();
    assert_eq!(nodes.status(), 401);
    let as_person = http.post(format!("{}/api/v1/agent/jobs/claim", server.url)).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(as_person.status(), 401);

    eventually("the quiet node to be stale", Duration::from_secs(15), || async {
        let n = works.node_get(&admin, &node.id).await.unwrap();
        assert_ne!(n.status, NodeStatus::Offline, "the node went offline without being stale first");
        (n.status == NodeStatus::Stale).then_some(())
    })
    .await;
    eventually("the quiet node to be offline", Duration::from_secs(15), || async {
        let n = works.node_get(&admin, &node.id).await.unwrap();
        (n.status == NodeStatus::Offline).then_some(())
    })
    .await;
    let listed = works.node_list(&admin, works_core::NodeQuery::default()).await.unwrap();
    assert!(listed.items.iter().any(|n| n.id == node.id), "a quiet node disappeared");

    // The agent comes back: the work that waited for it is done.
    let mut agent = AgentProcess::start(&env, &state, &docker_host, "agent-2.log");
    let waited = wait_job(&works, &admin, &waiting.id, Duration::from_secs(30)).await;
    assert_eq!(waited.state, JobState::Succeeded, "{waited:?}");
    eventually("the node to be online again", Duration::from_secs(15), || async {
        (works.node_get(&admin, &node.id).await.unwrap().status == NodeStatus::Online).then_some(())
    })
    .await;

    // Revoked: the running agent is cut off at its next call and says so plainly.
    works.agent_revoke(&admin, &node.id).await.expect("revoke");
    let status = agent.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(4), "a revoked agent should exit with 4:\n{}", agent.log_text());
    let log = agent.log_text();
    assert!(log.contains("refused this agent's credential"), "{log}");
    assert!(log.contains("works agent enroll"), "{log}");
    assert!(!log.contains("wka_"), "the credential reached the log");
    let jobs = works.job_list(&admin, JobQuery { node_id: Some(node.id.clone()), ..Default::default() }).await.unwrap();
    assert!(jobs.items.iter().all(|j| j.state.is_final()), "{:?}", jobs.items);

    drop(containers);
    let (status, _) = server.stop();
    assert!(status.success());
}

/// An agent speaking HTTP directly, to hold jobs claimed across a server's death.
struct RawAgent {
    http: reqwest::Client,
    credential: String,
}

impl RawAgent {
    async fn post(&self, url: String, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.post(url).bearer_auth(&self.credential);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    async fn claim(&self, server: &str) -> Option<works_core::Job> {
        let r = self.post(format!("{server}/api/v1/agent/jobs/claim?wait_secs=1"), None).await;
        match r.status().as_u16() {
            204 => None,
            200 => Some(r.json().await.expect("a job")),
            other => panic!("claim answered {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_job_loses_nothing_and_reruns_no_risky_work() {
    let env = Env::new();
    let data = env.path("data");
    let envs = [("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD), ("WORKS_RECOVERY_INTERVAL_SECS", "1")];
    let mut first = Server::start(&env, &data, &envs);

    let store = works_store::open(&works_store::sqlite_url_for_dir(&data)).await.expect("open the server's database");
    let works = Works::new(store);
    let admin = works.local_actor("admin").await.expect("the admin");
    let node = works.node_create(&admin, NewNode { name: "kill-node-01".into(), org_id: None }).await.expect("node");
    let token = works.enrollment_token_create(&admin, &node.id).await.expect("token").token;
    let http = reqwest::Client::new();
    let cred: Value = http
        .post(format!("{}/api/v1/agent/enroll", first.url))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agent = RawAgent { http: http.clone(), credential: cred["credential"].as_str().expect("credential").to_owned() };

    let request = |kind: JobKind, params: Value| {
        let works = works.clone();
        let admin = admin.clone();
        let node_id = node.id.clone();
        async move { works.job_request(&admin, NewJob { node_id, kind, params }).await.expect("request") }
    };
    let restart = request(JobKind::Restart, json!({})).await;
    let phrase = restart.approval_phrase.clone().expect("phrase");
    works.job_approve(&admin, &restart.id, works_core::ApproveJob { phrase }).await.expect("approve");
    let logs = request(JobKind::Logs, json!({"container": "web"})).await;
    let check = request(JobKind::HealthCheck, json!({})).await;

    // The agent holds all three: two running, one only claimed.
    let mut held = Vec::new();
    while let Some(job) = agent.claim(&first.url).await {
        held.push(job.id.clone());
    }
    held.sort();
    let mut expected = vec![restart.id.clone(), logs.id.clone(), check.id.clone()];
    expected.sort();
    assert_eq!(held, expected);
    for id in [&restart.id, &logs.id] {
        let r = agent.post(format!("{}/api/v1/agent/jobs/{id}/start", first.url), None).await;
        assert_eq!(r.status(), 200);
    }

    // SIGKILL: no chance to tidy up.
    first.child.kill().expect("kill the server");
    first.child.wait().expect("reap the server");

    // While it is down: nothing was lost; two of the jobs are made overdue.
    for (id, state) in [(&restart.id, JobState::Running), (&logs.id, JobState::Running), (&check.id, JobState::Claimed)] {
        let job = works.job_get(&admin, id).await.expect("the job survived");
        assert_eq!((job.state, job.attempts), (state, 1), "{job:?}");
    }
    for id in [&restart.id, &check.id] {
        let mut job = works.job_get(&admin, id).await.unwrap();
        let before = job.state;
        job.deadline_at = Some(chrono::Utc::now() - chrono::Duration::seconds(5));
        let draft = works_core::AuditDraft {
            at: chrono::Utc::now(),
            actor_id: "test".into(),
            actor_name: "test".into(),
            org_id: None,
            action: "test.overdue".into(),
            target_kind: "job".into(),
            target_id: Some(job.id.clone()),
            outcome: Outcome::Succeeded,
            reason: "The test moved the job's deadline into the past".into(),
        };
        works.store().update_job(&job, before, draft).await.expect("move the deadline");
    }

    // The server comes back and recovers: the risky job times out, never to re-run by
    // itself; the safe one is queued again; the one within its window is untouched.
    let second = Server::start(&env, &data, &envs);
    let restart_after = eventually("the overdue risky job to time out", Duration::from_secs(20), || async {
        let j = works.job_get(&admin, &restart.id).await.unwrap();
        (j.state == JobState::TimedOut).then_some(j)
    })
    .await;
    assert!(restart_after.reason.as_deref().unwrap_or("").contains("not re-run automatically"), "{restart_after:?}");
    let check_after = works.job_get(&admin, &check.id).await.unwrap();
    assert_eq!(check_after.state, JobState::Queued, "{check_after:?}");
    assert!(check_after.reason.as_deref().unwrap_or("").contains("queued again"), "{check_after:?}");
    let logs_after = works.job_get(&admin, &logs.id).await.unwrap();
    assert_eq!((logs_after.state, logs_after.attempts), (JobState::Running, 1));

    // The agent finishes what it was doing; the safe job comes back once; nothing else.
    let done = agent
        .post(
            format!("{}/api/v1/agent/jobs/{}/complete", second.url, logs.id),
            Some(json!({"succeeded": true, "result": null, "output": "line", "reason": null})),
        )
        .await;
    assert_eq!(done.status(), 200);
    assert_eq!(works.job_get(&admin, &logs.id).await.unwrap().state, JobState::Succeeded);
    let late = agent
        .post(
            format!("{}/api/v1/agent/jobs/{}/complete", second.url, restart.id),
            Some(json!({"succeeded": true, "result": null, "output": null, "reason": null})),
        )
        .await;
    assert_eq!(late.status(), 409, "a timed-out job takes no late report");
    let again = agent.claim(&second.url).await.expect("the safe job, once more");
    assert_eq!((again.id.as_str(), again.attempts), (check.id.as_str(), 2));
    assert!(agent.claim(&second.url).await.is_none(), "the risky job was handed out again");
    let recovered = works
        .audit_query(&admin, AuditQuery { action: Some("job.recover".into()), limit: Some(50), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(recovered.records.len(), 2, "{:?}", recovered.records);
    let (status, _) = second.stop();
    assert!(status.success());
}
