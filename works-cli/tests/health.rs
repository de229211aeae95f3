//! `works health` as a real process: exit 0 healthy, 1 degraded, 2 critical, with
//! `--json`, and `works health acknowledge ID --note …`; embedded and remote.

mod common;

use common::{Env, Server, ADMIN_PASSWORD};
use serde_json::{json, Value};
use works_core::{EnrollmentToken, HealthReport, HealthState, Node};

const STALE_SOON: [(&str, &str); 2] = [("WORKS_NODE_STALE_AFTER_SECS", "1"), ("WORKS_NODE_OFFLINE_AFTER_SECS", "3600")];
const OFFLINE_SOON: [(&str, &str); 2] = [("WORKS_NODE_STALE_AFTER_SECS", "1"), ("WORKS_NODE_OFFLINE_AFTER_SECS", "1")];

/// Enrolls an agent with the token and checks in once, over the agent API.
fn enroll_and_check_in(server: &str, token: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let enrolled: Value = http
            .post(format!("{server}/api/v1/agent/enroll"))
            .json(&json!({ "token": token }))
            .send()
            .await
            .expect("enroll")
            .error_for_status()
            .expect("enroll status")
            .json()
            .await
            .expect("enroll body");
        let credential = enrolled["credential"].as_str().expect("credential").to_owned();
        let health = json!({
            "uptime_secs": 10, "load1": 0.1, "memory_total_bytes": 1, "memory_available_bytes": 1,
            "disk_total_bytes": 1, "disk_available_bytes": 1, "agent_version": "test",
            "docker_reachable": true, "docker_version": null
        });
        http.post(format!("{server}/api/v1/agent/checkin"))
            .bearer_auth(credential)
            .json(&json!({ "health": health, "containers": null }))
            .send()
            .await
            .expect("check-in")
            .error_for_status()
            .expect("check-in status");
    });
}

#[test]
fn works_health_exits_with_the_answer() {
    let env = Env::new();
    let data = env.path("data");
    let database = format!("sqlite://{}/works.db", data.display());
    let server = Server::start(&env, &data, &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let db = |args: &[&str]| -> Vec<String> { [&["--database", database.as_str()][..], args].concat().iter().map(|s| s.to_string()).collect() };
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let args = db(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.run_with(&args, envs, None)
    };

    let healthy = run(&["health"], &[]);
    assert_eq!(healthy.code, 0, "{}\n{}", healthy.stdout, healthy.stderr);
    assert!(healthy.stdout.starts_with("Healthy: Everything is working"), "{}", healthy.stdout);

    let node: Node = run(&["--json", "node", "create", "acme-web-01"], &[]).ok().typed();
    let token: EnrollmentToken = run(&["--json", "node", "enrollment-token", &node.id], &[]).ok().typed();
    enroll_and_check_in(&server.url, &token.token);
    assert_eq!(run(&["health"], &[]).code, 0, "a node that just checked in is fine");

    std::thread::sleep(std::time::Duration::from_millis(1500));
    let degraded = run(&["health"], &STALE_SOON);
    assert_eq!(degraded.code, 1, "{}\n{}", degraded.stdout, degraded.stderr);
    let issue_id = format!("node-stale:{}", node.id);
    assert!(degraded.stdout.starts_with("Degraded: One issue needs attention."), "{}", degraded.stdout);
    assert!(degraded.stdout.contains("Node acme-web-01 has gone quiet"), "{}", degraded.stdout);
    assert!(degraded.stdout.contains(&format!("Issue: {issue_id}")), "{}", degraded.stdout);
    assert!(degraded.stdout.contains(&format!("See:   /ui/nodes/{}", node.id)), "{}", degraded.stdout);

    // The only node offline: critical.
    let critical = run(&["--json", "health"], &OFFLINE_SOON);
    assert_eq!(critical.code, 2, "{}\n{}", critical.stdout, critical.stderr);
    let report: HealthReport = critical.typed();
    assert_eq!(report.state, HealthState::Critical);
    assert_eq!(report.issues[0].id, format!("node-offline:{}", node.id));

    // Acknowledged, the stale node no longer moves the answer.
    let acked = run(&["health", "acknowledge", &issue_id, "--note", "moving racks"], &STALE_SOON).ok();
    assert!(acked.stdout.starts_with("Acknowledged: Node acme-web-01 has gone quiet."), "{}", acked.stdout);
    let reviewed = run(&["health"], &STALE_SOON);
    assert_eq!(reviewed.code, 0, "{}", reviewed.stdout);
    assert!(reviewed.stdout.contains("Reviewed (1):") && reviewed.stdout.contains("moving racks"), "{}", reviewed.stdout);
    run(&["health", "acknowledge", "node-stale:nope", "--note", "x"], &[]).fails_with(3);

    // Remote: the same answer from the server, with its own thresholds.
    env.run_with(&["--server", &server.url, "login", "--username", "admin"], &[("WORKS_PASSWORD", ADMIN_PASSWORD)], None).ok();
    let remote = env.run(&["--server", &server.url, "--json", "health"]);
    assert_eq!(remote.code, 0, "{}\n{}", remote.stdout, remote.stderr);
    assert_eq!(remote.typed::<HealthReport>().state, HealthState::Healthy);
    let reviewed_remote: HealthReport = env.run(&["--server", &server.url, "--json", "health"]).typed();
    assert_eq!(reviewed_remote.acknowledged.len(), 0, "the server's thresholds see no stale node, so nothing is reviewed");
    env.run(&["--server", &server.url, "health", "acknowledge", "node-stale:nope", "--note", "x"]).fails_with(3);
    drop(server);

    // Nothing answers where the database should be: critical, for cron.
    let down = env.run(&["--database", "postgres://works@127.0.0.1:9/works", "health"]);
    assert_eq!(down.code, 2, "{}\n{}", down.stdout, down.stderr);
    assert!(down.stdout.starts_with("Critical: ") && down.stdout.contains("The database cannot be reached"), "{}", down.stdout);
}

/// `works status`: the executive summary, in lines and as JSON, embedded and remote;
/// an organization's user sees only that organization.
#[test]
fn works_status_sums_up_what_the_caller_may_see() {
    let env = Env::new();
    let data = env.path("data");
    let database = format!("sqlite://{}/works.db", data.display());
    let server = Server::start(&env, &data, &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let db = |args: &[&str]| {
        let all: Vec<String> = [&["--database", database.as_str()][..], args].concat().iter().map(|s| s.to_string()).collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        env.run(&all)
    };

    let acme: Value = db(&["--json", "org", "create", "Acme"]).ok().json();
    let acme_id = acme["id"].as_str().unwrap().to_owned();
    db(&["--json", "org", "create", "Globex"]).ok();
    db(&["node", "create", "acme-web-01", "--org", &acme_id]).ok();
    db(&["node", "create", "msp-tools"]).ok();

    let text = db(&["status"]).ok();
    assert!(text.stdout.starts_with("Healthy: "), "{}", text.stdout);
    assert!(text.stdout.contains("Organizations:       2\n"), "{}", text.stdout);
    assert!(text.stdout.contains("Nodes:               0 online, 0 stale, 0 offline, 2 waiting for an agent\n"), "{}", text.stdout);
    assert!(text.stdout.contains("No incidents."), "{}", text.stdout);

    let summary: works_core::StatusSummary = db(&["--json", "status"]).ok().typed();
    assert_eq!((summary.counts.organizations, summary.counts.nodes_waiting), (2, 2), "{summary:?}");

    // Remote, as an Acme user: Acme only.
    env.run_with(
        &["--database", &database, "user", "create", "--username", "acme-ops", "--role", "org_admin", "--org", &acme_id],
        &[("WORKS_NEW_PASSWORD", "acme-ops-password-1")],
        None,
    )
    .ok();
    env.run_with(&["--server", &server.url, "login", "--username", "acme-ops"], &[("WORKS_PASSWORD", "acme-ops-password-1")], None).ok();
    let remote: works_core::StatusSummary = env.run(&["--server", &server.url, "--json", "status"]).ok().typed();
    assert_eq!((remote.counts.organizations, remote.counts.nodes_waiting), (1, 1), "only Acme's: {remote:?}");
    drop(server);
}
