//! Schedules as real processes: `works schedule …` against a running server whose own
//! tick fires an every-minute schedule. The scheduled run reaches a step needing
//! confirmation and waits for a person: the schedule never approves it.

mod common;

use std::time::{Duration, Instant};

use common::{Env, Server, ADMIN_PASSWORD};
use works_core::{Listing, Org, RunState, Schedule, Workflow, WorkflowRun};

/// Polls `check` until it answers, for at most three minutes (a fire comes within a
/// minute and a tick).
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_server_fires_a_schedule_and_the_run_waits_for_a_person() {
    let env = Env::new();
    let data = env.path("data");
    let server = Server::start(&env, &data, &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    env.run_with(&["--server", &server.url, "login", "--username", "admin"], &[("WORKS_PASSWORD", ADMIN_PASSWORD)], None).ok();
    let remote = |args: &[&str]| env.run(&[&["--server", server.url.as_str()][..], args].concat());

    let org: Org = remote(&["--json", "org", "create", "Acme Dental"]).ok().typed();
    remote(&["permission", "create", "--org", &org.id, "--capability", "summarize", "--confirm"]).ok();
    let steps = env.path("steps.json");
    std::fs::write(&steps, serde_json::json!([{"capability_id": "summarize", "action": "summarize_text"}]).to_string()).expect("write steps");
    let wf: Workflow = remote(&["--json", "workflow", "create", "Needs a person", "--steps", &steps.to_string_lossy(), "--org", &org.id]).ok().typed();

    // Bad input is refused naming the field.
    let bad = remote(&["schedule", "create", "Bad", "--cron", "0 9 * *", "--time-zone", "UTC", "--workflow", &wf.id, "--org", &org.id]).fails_with(2);
    assert!(bad.stderr.contains("cron") && bad.stderr.contains("five"), "{}", bad.stderr);
    let bad = remote(&["schedule", "create", "Bad", "--cron", "0 9 * * *", "--time-zone", "Europe/Atlantis", "--workflow", &wf.id, "--org", &org.id]).fails_with(2);
    assert!(bad.stderr.contains("time_zone"), "{}", bad.stderr);

    let s: Schedule = remote(&["--json", "schedule", "create", "Every minute", "--cron", "* * * * *", "--time-zone", "Europe/Berlin", "--workflow", &wf.id, "--org", &org.id]).ok().typed();
    assert!(s.enabled && s.next_fire_at.is_some());
    let listed = remote(&["schedule", "list"]).ok();
    assert!(listed.stdout.contains("Every minute") && listed.stdout.contains("Europe/Berlin"), "{}", listed.stdout);

    // The server's tick fires it as its creator; the run waits for approval.
    let run: WorkflowRun = eventually("the scheduled run", || {
        let runs: Listing<WorkflowRun> = remote(&["--json", "workflow", "runs", &wf.id]).ok().typed();
        runs.items.into_iter().last()
    });
    assert_eq!(run.state, RunState::AwaitingApproval, "{}", run.reason);
    assert!(run.started_by.contains("schedule Every minute"), "{}", run.started_by);
    assert!(run.steps[0].approvals.is_empty());
    let shown = remote(&["schedule", "show", &s.id]).ok();
    assert!(shown.stdout.contains(&run.id) || shown.stdout.contains("Firing"), "{}", shown.stdout);

    let off = remote(&["schedule", "update", &s.id, "--disable"]).ok();
    assert!(off.stdout.contains("disabled"), "{}", off.stdout);
    remote(&["schedule", "delete", &s.id]).ok();
    remote(&["schedule", "show", &s.id]).fails_with(3);
    assert!(server.log_text().contains("schedule fired"), "the tick is logged:\n{}", server.log_text());
    let (status, _) = server.stop();
    assert!(status.success(), "the server and its tick stop cleanly on SIGTERM");
}
