//! Helpers for tests with several real processes on one database: servers on a fresh
//! PostgreSQL database, agents with fallback servers, and waiting for what they do.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use works_core::{Actor, Job, JobState, Works};

pub use crate::common::eventually;
use crate::common::{Env, Server};

/// The Docker engine for agents; None (skipped) outside CI when it is not set, a
/// failure under `CI=true`.
pub fn docker_host(test: &str) -> Option<String> {
    match std::env::var("WORKS_TEST_DOCKER_HOST") {
        Ok(h) if !h.trim().is_empty() => Some(h.trim().to_owned()),
        _ => {
            assert!(!in_ci(), "{test}: WORKS_TEST_DOCKER_HOST is not set and CI is: run `eval \"$(scripts/docker-engine start)\"` first");
            eprintln!("{test}: skipped: WORKS_TEST_DOCKER_HOST is not set");
            None
        }
    }
}

pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false)
}

/// A fresh PostgreSQL database on the test server (migrated) and its URL; None
/// (skipped) outside CI when no test server is configured.
pub async fn fresh_postgres(test: &str) -> Option<(std::sync::Arc<dyn works_core::Store>, String)> {
    let fresh = works_store::testing::fresh_postgres().await;
    if fresh.is_none() {
        eprintln!("{test}: skipped: WORKS_TEST_POSTGRES_URL is not set");
    }
    fresh
}

/// `works serve` on `database_url`.
pub fn serve_database(env: &Env, database_url: &str, envs: &[(&str, &str)]) -> Server {
    Server::start_args(env, &["serve", "--listen", "127.0.0.1:0", "--database", database_url], envs)
}

/// Kills the server with SIGKILL and reaps it.
pub fn kill9(server: &mut Server) {
    server.child.kill().expect("kill the server");
    server.child.wait().expect("reap the server");
}

/// A `works agent run` process, killed when dropped.
pub struct AgentProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl AgentProcess {
    pub fn start(env: &Env, state_dir: &Path, docker_host: &str, fallbacks: &[&str], log_name: &str) -> AgentProcess {
        let log = env.path(log_name);
        let mut cmd = env.command();
        cmd.args(["agent", "run", "--state-dir", &state_dir.to_string_lossy()]);
        for f in fallbacks {
            cmd.args(["--fallback-server", f]);
        }
        let child = cmd
            .env("WORKS_DOCKER_HOST", docker_host)
            .env("WORKS_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("agent log")))
            .spawn()
            .expect("works agent run could not be started");
        AgentProcess { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(sent.success(), "could not signal the agent");
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

/// Enrolls an agent for `node_id` with `server` (through the CLI) into `state_dir`.
pub async fn enroll(env: &Env, works: &Works, admin: &Actor, node_id: &str, server: &str, state_dir: &Path) {
    let token = works.enrollment_token_create(admin, node_id).await.expect("an enrollment token").token;
    env.run(&["agent", "enroll", "--server", server, "--token", &token, "--state-dir", &state_dir.to_string_lossy()]).ok();
}


pub async fn wait_final(works: &Works, admin: &Actor, id: &str, within: Duration) -> Job {
    eventually(&format!("job {id} to end"), within, || async {
        let job = works.job_get(admin, id).await.expect("read the job");
        job.state.is_final().then_some(job)
    })
    .await
}

/// Signs in as the admin through `server` and returns the session token.
pub async fn login(http: &reqwest::Client, server: &str, password: &str) -> String {
    let answer: Value = http
        .post(format!("{server}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("a sign-in answer");
    answer["token"].as_str().expect("a session token").to_owned()
}

/// Requests a job through the HTTP API of `server`.
pub async fn request_job(http: &reqwest::Client, server: &str, token: &str, node_id: &str, kind: &str) -> Job {
    let answer = http
        .post(format!("{server}/api/v1/jobs"))
        .bearer_auth(token)
        .json(&json!({"node_id": node_id, "kind": kind, "params": {}}))
        .send()
        .await
        .expect("request a job");
    assert_eq!(answer.status(), 201, "requesting a {kind} job through {server}");
    answer.json().await.expect("a job")
}

/// Approves a job through the HTTP API of `server` with its phrase.
pub async fn approve_job(http: &reqwest::Client, server: &str, token: &str, job: &Job) -> Job {
    let phrase = job.approval_phrase.clone().expect("a phrase");
    let answer = http
        .post(format!("{server}/api/v1/jobs/{}/approve", job.id))
        .bearer_auth(token)
        .json(&json!({"phrase": phrase}))
        .send()
        .await
        .expect("approve a job");
    assert_eq!(answer.status(), 200, "approving job {} through {server}", job.id);
    answer.json().await.expect("a job")
}

/// How many times the audit log records `action` on job `id` (succeeded).
pub async fn audited(works: &Works, admin: &Actor, action: &str, id: &str) -> usize {
    let page = works
        .audit_query(
            admin,
            works_core::AuditQuery { action: Some(action.into()), target_id: Some(id.into()), limit: Some(100), ..Default::default() },
        )
        .await
        .expect("audit");
    page.records.iter().filter(|r| r.outcome == works_core::Outcome::Succeeded).count()
}

/// Asserts the audit log's hash chain verifies.
pub async fn assert_audit_intact(works: &Works, admin: &Actor) {
    let v = works.audit_verify(admin).await.expect("audit verify");
    assert!(v.intact, "the audit log's chain is broken at {:?}: {:?}", v.broken_at_seq, v.problem);
    assert!(v.checked > 0);
}

/// Every job ended exactly once: final, claimed once, one completion (or recovery) on record.
pub async fn assert_done_once(works: &Works, admin: &Actor, job: &Job, state: JobState) {
    assert_eq!(job.state, state, "{job:?}");
    assert_eq!(job.attempts, 1, "job {} was handed out more than once: {job:?}", job.id);
    assert_eq!(audited(works, admin, "job.claim", &job.id).await, 1, "job {} claimed more than once", job.id);
    assert_eq!(audited(works, admin, "job.complete", &job.id).await, 1, "job {} completed more than once", job.id);
}

/// An agent speaking HTTP directly, to stop at exact points of a job's life.
pub struct RawAgent {
    pub http: reqwest::Client,
    pub credential: String,
}

impl RawAgent {
    /// Enrolls through `server` with a fresh token for `node_id`.
    pub async fn enroll(works: &Works, admin: &Actor, server: &str, node_id: &str) -> RawAgent {
        let token = works.enrollment_token_create(admin, node_id).await.expect("token").token;
        let http = reqwest::Client::new();
        let cred: Value = http
            .post(format!("{server}/api/v1/agent/enroll"))
            .json(&json!({"token": token}))
            .send()
            .await
            .expect("enroll")
            .json()
            .await
            .expect("a credential");
        RawAgent { http, credential: cred["credential"].as_str().expect("credential").to_owned() }
    }

    pub async fn post(&self, url: String, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.post(url).bearer_auth(&self.credential);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    pub async fn claim(&self, server: &str) -> Option<Job> {
        let r = self.post(format!("{server}/api/v1/agent/jobs/claim?wait_secs=1"), None).await;
        match r.status().as_u16() {
            204 => None,
            200 => Some(r.json().await.expect("a job")),
            other => panic!("claim answered {other}: {}", r.text().await.unwrap_or_default()),
        }
    }

    /// Posts a job step (`start`, `heartbeat`) and returns the status and body.
    pub async fn step(&self, server: &str, id: &str, step: &str) -> (u16, Value) {
        let r = self.post(format!("{server}/api/v1/agent/jobs/{id}/{step}"), None).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn complete(&self, server: &str, id: &str) -> (u16, Value) {
        let body = json!({"succeeded": true, "result": null, "output": "done", "reason": null});
        let r = self.post(format!("{server}/api/v1/agent/jobs/{id}/complete"), Some(body)).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Moves a job's deadline into the past, as if its agent had been silent too long.
pub async fn make_overdue(works: &Works, admin: &Actor, id: &str) {
    let mut job = works.job_get(admin, id).await.expect("the job");
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
        outcome: works_core::Outcome::Succeeded,
        reason: "The test moved the job's deadline into the past".into(),
    };
    works.store().update_job(&job, before, draft).await.expect("move the deadline");
}
