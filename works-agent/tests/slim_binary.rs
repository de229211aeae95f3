//! The slim `works-agent` binary, as a machine would run it: enrolled with a one-time
//! token against a real server, it checks in and runs its node's job, and stops on
//! SIGTERM; a missing setting is refused in plain words.

use std::process::Stdio;
use std::time::Duration;

use works_core::{JobKind, JobState, NewJob, NewNode};
use works_testkit::TestServer;

const BIN: &str = env!("CARGO_BIN_EXE_works-agent");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slim_agent_enrolls_checks_in_runs_a_job_and_stops_on_sigterm() {
    let server = TestServer::start_sqlite().await;
    let org = server.create_org("Slim agent org").await;
    let node = server.works.node_create(&server.admin, NewNode { name: "slim-node".into(), org_id: Some(org.id) }).await.unwrap();
    let token = server.works.enrollment_token_create(&server.admin, &node.id).await.unwrap().token;
    let state = tempfile::tempdir().unwrap();
    // The machine's Docker engine when the test has one; otherwise one that does not
    // answer (the agent reports it unreachable and keeps going).
    let docker = std::env::var("WORKS_TEST_DOCKER_HOST").unwrap_or_else(|_| "tcp://127.0.0.1:9".into());

    let enrolled = tokio::process::Command::new(BIN)
        .args(["enroll", "--server", &server.url, "--state-dir"])
        .arg(state.path())
        .env("WORKS_ENROLLMENT_TOKEN", &token)
        .output()
        .await
        .unwrap();
    assert!(enrolled.status.success(), "enroll: {}", String::from_utf8_lossy(&enrolled.stderr));
    assert!(String::from_utf8_lossy(&enrolled.stdout).contains(&node.id));

    let mut agent = tokio::process::Command::new(BIN)
        .args(["run", "--state-dir"])
        .arg(state.path())
        .env("WORKS_DOCKER_HOST", &docker)
        .env("WORKS_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // It checks in, and picks up and reports a job requested for its node.
    let job = server.works.job_request(&server.admin, NewJob { node_id: node.id.clone(), kind: JobKind::HealthCheck, params: serde_json::Value::Null }).await.unwrap();
    let mut ended = None;
    for _ in 0..300 {
        let j = server.works.job_get(&server.admin, &job.id).await.unwrap();
        if j.state.is_final() {
            ended = Some(j);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ended = ended.expect("the agent did not end its job within 30 seconds");
    assert!(matches!(ended.state, JobState::Succeeded | JobState::Failed), "{ended:?}");
    assert!(server.works.node_get(&server.admin, &node.id).await.unwrap().last_checkin_at.is_some(), "the agent checked in");

    // SIGTERM stops it cleanly.
    let pid = agent.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = tokio::time::timeout(Duration::from_secs(30), agent.wait()).await.expect("the agent did not stop on SIGTERM").unwrap();
    assert!(out.success(), "{out:?}");
    let mut said = String::new();
    tokio::io::AsyncReadExt::read_to_string(agent.stdout.as_mut().unwrap(), &mut said).await.unwrap();
    assert_eq!(said, "The agent stopped.\n");
}

#[test]
fn a_missing_setting_is_refused_in_plain_words() {
    let out = std::process::Command::new(BIN).arg("run").env_remove("WORKS_AGENT_STATE_DIR").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("state_dir") && said.contains("--state-dir or WORKS_AGENT_STATE_DIR"), "{said}");

    let out = std::process::Command::new(BIN).args(["run", "--state-dri", "/x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--state-dri is not a flag of works-agent") && said.contains("Usage:"), "{said}");
}
