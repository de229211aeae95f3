//! Workflows as real processes: `works workflow …` against a running server, then the
//! server killed with SIGKILL while one run waits for approval and another is in the
//! middle of a live Google Drive call that never answers. After a restart the waiting
//! run still waits and can be approved; the executing one is failed with a reason and
//! not re-run.

mod common;

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Env, Server, ADMIN_PASSWORD};
use serde_json::Value;
use works_core::{Listing, Org, RunState, Workflow, WorkflowRun};

/// A "Drive" that accepts connections and never answers.
fn silent_drive() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            match stream {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
    });
    format!("http://{addr}")
}

fn start(env: &Env, data: &std::path::Path, drive: &str) -> Server {
    Server::start(
        env,
        data,
        &[
            ("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WORKS_GOOGLE_DRIVE_BASE_URL", drive),
            ("WORKS_RUN_STALE_AFTER_SECS", "2"),
            ("WORKS_RECOVERY_INTERVAL_SECS", "1"),
        ],
    )
}

fn login(env: &Env, server: &Server) {
    env.run_with(&["--server", &server.url, "login", "--username", "admin"], &[("WORKS_PASSWORD", ADMIN_PASSWORD)], None).ok();
}

/// Polls `check` until it answers, for at most two minutes.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn steps_file(env: &Env, name: &str, steps: Value) -> String {
    let path = env.path(name);
    std::fs::write(&path, steps.to_string()).expect("write steps");
    path.to_string_lossy().into_owned()
}

#[test]
fn a_killed_server_fails_the_executing_run_and_keeps_the_waiting_one() {
    let env = Env::new();
    let data = env.path("data");
    let drive = silent_drive();
    let server = start(&env, &data, &drive);
    login(&env, &server);
    let remote = |args: &[&str]| env.run(&[&["--server", server.url.as_str()][..], args].concat());

    let org: Org = remote(&["--json", "org", "create", "Acme Dental"]).ok().typed();
    remote(&["permission", "create", "--org", &org.id, "--capability", "summarize", "--confirm"]).ok();
    remote(&["permission", "create", "--org", &org.id, "--capability", "google_drive", "--action", "list_files", "--max-risk", "low"]).ok();
    let conn: Value = env
        .run_with(
            &["--server", &server.url, "--json", "connection", "create", "Acme Drive", "--provider", "google-drive", "--org", &org.id, "--capability", "google_drive"],
            &[("WORKS_CONNECTION_CREDENTIAL", "ya29.a-token-for-the-silent-drive")],
            None,
        )
        .ok()
        .json();
    assert_eq!((conn["status"].as_str(), conn["has_credential"].as_bool()), (Some("connected"), Some(true)));
    assert!(conn.get("credential").is_none() && conn.get("sealed_credential").is_none(), "{conn}");
    let conn_id = conn["id"].as_str().expect("id").to_owned();

    // A step with a typo is refused naming the step and field.
    let bad = steps_file(&env, "bad.json", serde_json::json!([{"capability_id": "summarize", "action": "summarise_text"}]));
    let refused = remote(&["workflow", "create", "Bad", "--steps", &bad, "--org", &org.id]).fails_with(2);
    assert!(refused.stderr.contains("steps[0].action") && refused.stderr.contains("step 1"), "{}", refused.stderr);

    let waits = steps_file(&env, "waits.json", serde_json::json!([{"capability_id": "summarize", "action": "summarize_text"}]));
    let waits: Workflow = remote(&["--json", "workflow", "create", "Needs a person", "--steps", &waits, "--org", &org.id]).ok().typed();
    let lists = steps_file(&env, "lists.json", serde_json::json!([{"capability_id": "google_drive", "action": "list_files", "connection_id": conn_id, "parameters": {"page_size": 5}}]));
    let lists: Workflow = remote(&["--json", "workflow", "create", "List files", "--steps", &lists, "--org", &org.id]).ok().typed();

    // A simulation touches nothing, so it finishes even though Drive never answers.
    let sim = remote(&["workflow", "run", &lists.id]).ok();
    assert!(sim.stdout.contains("State  succeeded") || sim.stdout.contains("succeeded"), "{}", sim.stdout);
    assert!(sim.stdout.contains("Simulation: would list files with Google Drive") && sim.stdout.contains("[Stub]"), "{}", sim.stdout);

    // One run waits for approval and shows how to approve it.
    let shown = remote(&["workflow", "run", &waits.id, "--mode", "live"]).ok();
    assert!(shown.stdout.contains("awaiting_approval") && shown.stdout.contains("works workflow approve"), "{}", shown.stdout);
    let waiting: Listing<WorkflowRun> = remote(&["--json", "workflow", "runs", &waits.id]).ok().typed();
    let waiting = waiting.items[0].clone();
    assert_eq!(waiting.state, RunState::AwaitingApproval);

    // The other is executing its live Drive call when the server dies.
    let mut hanging: Child = env
        .command()
        .args(["--server", &server.url, "workflow", "run", &lists.id, "--mode", "live"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the live run");
    let executing = eventually("the live run to be executing", || {
        let runs: Listing<WorkflowRun> = remote(&["--json", "workflow", "runs", &lists.id]).ok().typed();
        // The run is marked running a moment before its first step is.
        runs.items.into_iter().find(|r| r.state == RunState::Running && r.steps[0].outcome == works_core::StepOutcome::Running)
    });
    assert_eq!(executing.steps.len(), 1);

    let mut server = server;
    server.child.kill().expect("SIGKILL the server");
    let _ = server.child.wait();
    let _ = hanging.kill();
    let _ = hanging.wait();
    drop(server);

    let server = start(&env, &data, &drive);
    login(&env, &server);
    let remote = |args: &[&str]| env.run(&[&["--server", server.url.as_str()][..], args].concat());

    let failed = eventually("recovery to fail the interrupted run", || {
        let run: WorkflowRun = remote(&["--json", "workflow", "show", &lists.id, &executing.id]).ok().typed();
        (run.state != RunState::Running).then_some(run)
    });
    assert_eq!(failed.state, RunState::Failed, "{}", failed.reason);
    assert!(failed.reason.contains("The server stopped while this run was executing step 1") && failed.reason.contains("not re-run"), "{}", failed.reason);
    assert_eq!(failed.steps[0].outcome, works_core::StepOutcome::Failed);
    let log = remote(&["workflow", "show", &lists.id, &executing.id]).ok();
    assert!(log.stdout.contains("failed") && log.stdout.contains("The server stopped"), "{}", log.stdout);

    let still: WorkflowRun = remote(&["--json", "workflow", "show", &waits.id, &waiting.id]).ok().typed();
    assert_eq!(still.state, RunState::AwaitingApproval, "{}", still.reason);
    let phrase = still.steps[0].approval_phrase.clone().expect("phrase");
    let wrong = remote(&["workflow", "approve", &waits.id, &waiting.id, "--phrase", "summarize text"]).fails_with(2);
    assert!(wrong.stderr.contains("field: phrase") && wrong.stderr.contains(&phrase), "{}", wrong.stderr);
    let done: WorkflowRun = remote(&["--json", "workflow", "approve", &waits.id, &waiting.id, "--phrase", &phrase]).ok().typed();
    assert_eq!(done.state, RunState::Succeeded, "{}", done.reason);
    assert_eq!(done.steps[0].approvals.len(), 1);
    let _ = server.stop();
}

#[test]
fn workflow_update_renames_and_replaces_steps_and_refuses_a_bad_step() {
    let env = Env::new();
    let data = env.path("data");
    let server = start(&env, &data, &silent_drive());
    login(&env, &server);
    let remote = |args: &[&str]| env.run(&[&["--server", server.url.as_str()][..], args].concat());

    let org: Org = remote(&["--json", "org", "create", "Acme Dental"]).ok().typed();
    remote(&["permission", "create", "--org", &org.id, "--capability", "summarize"]).ok();
    let one = steps_file(&env, "one.json", serde_json::json!([{"capability_id": "summarize", "action": "summarize_text"}]));
    let w: Workflow = remote(&["--json", "workflow", "create", "Digest", "--steps", &one, "--org", &org.id]).ok().typed();

    // Nothing to change is refused before anything is sent.
    let nothing = remote(&["workflow", "update", &w.id]).fails_with(2);
    assert!(nothing.stderr.contains("--name"), "{}", nothing.stderr);

    // Rename and replace the steps in one call.
    let two = steps_file(&env, "two.json", serde_json::json!([
        {"capability_id": "summarize", "action": "summarize_text"},
        {"capability_id": "summarize", "action": "summarize_text", "parameters": {}}
    ]));
    let shown = remote(&["workflow", "update", &w.id, "--name", "Weekly digest", "--steps", &two]).ok();
    assert!(shown.stdout.starts_with("Changed.") && shown.stdout.contains("Weekly digest"), "{}", shown.stdout);
    let got: Workflow = remote(&["--json", "workflow", "get", &w.id]).ok().typed();
    assert_eq!((got.name.as_str(), got.steps.len()), ("Weekly digest", 2));

    // A bad step names the step and field, and nothing is saved.
    let bad = steps_file(&env, "bad.json", serde_json::json!([{"capability_id": "summarize", "action": "summarise_text"}]));
    let refused = remote(&["workflow", "update", &w.id, "--name", "Renamed anyway", "--steps", &bad]).fails_with(2);
    assert!(refused.stderr.contains("steps[0].action") && refused.stderr.contains("step 1"), "{}", refused.stderr);
    let got: Workflow = remote(&["--json", "workflow", "get", &w.id]).ok().typed();
    assert_eq!((got.name.as_str(), got.steps.len()), ("Weekly digest", 2));

    // Disabled, it cannot be run; enabled again, it can.
    let off = remote(&["workflow", "update", &w.id, "--disable"]).ok();
    assert!(off.stdout.contains("disabled: cannot be run until enabled"), "{}", off.stdout);
    let refused = remote(&["workflow", "run", &w.id]).fails_with(5);
    assert!(refused.stderr.contains("is disabled, so it cannot be run") && refused.stderr.contains("--enable"), "{}", refused.stderr);
    let both = remote(&["workflow", "update", &w.id, "--enable", "--disable"]).fails_with(2);
    assert!(both.stderr.contains("cannot be used with"), "{}", both.stderr);
    let on: Workflow = remote(&["--json", "workflow", "update", &w.id, "--enable"]).ok().typed();
    assert!(on.enabled);
    remote(&["workflow", "run", &w.id]).ok();

    // A workflow that does not exist is "not found", exit code 3.
    let missing = remote(&["workflow", "update", "00000000-0000-4000-8000-000000000000", "--name", "X"]).fails_with(3);
    assert!(missing.stderr.contains("workflow"), "{}", missing.stderr);
    let _ = server.stop();
}
