//! `works node …` and `works job …` as real processes, against a running server
//! (remote) and the same database opened directly (embedded): the same JSON, plain
//! tables, refusals with the field named and the right exit code.

mod common;

use std::collections::BTreeMap;

use common::{shape, Env, Server, ADMIN_PASSWORD};
use serde_json::Value;
use works_core::{EnrollmentToken, Job, JobState, Listing, Node, NodeStatus};

const MISSING: &str = "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff";

/// Runs the node and job commands through `mode` and returns each step's JSON.
fn scenario(env: &Env, mode: &[&str], tag: &str) -> BTreeMap<&'static str, Value> {
    let mut out = BTreeMap::new();
    let run = |args: &[&str]| env.run(&[mode, args, &["--json"]].concat()).ok();
    let name = format!("{tag}-web-01");

    let created = run(&["node", "create", &name]);
    let node: Node = created.typed();
    assert_eq!((node.name.as_str(), node.org_id.as_deref(), node.status), (name.as_str(), None, NodeStatus::Offline));
    out.insert("node create", created.json());

    let refused = env.run(&[mode, &["node", "create", "web;$(reboot)"]].concat()).fails_with(2);
    assert!(refused.stderr.contains("field: name"), "{}", refused.stderr);

    let listed = run(&["node", "list"]);
    let nodes: Listing<Node> = listed.typed();
    assert!(nodes.items.iter().any(|n| n.id == node.id), "{nodes:?}");
    out.insert("node list", listed.json());
    let table = env.run(&[mode, &["node", "list"]].concat()).ok();
    let header = table.stdout.lines().next().unwrap_or_default();
    assert!(header.starts_with("ID ") && header.contains("STATUS") && header.contains("LAST CHECK-IN"), "{}", table.stdout);
    assert!(table.stdout.contains(&name) && table.stdout.contains("offline") && table.stdout.contains("never"), "{}", table.stdout);

    let token = run(&["node", "enrollment-token", &node.id]);
    let t: EnrollmentToken = token.typed();
    assert!(t.token.starts_with("wke_") && t.node_id == node.id, "{}", token.stdout);
    out.insert("node enrollment-token", token.json());

    let health = run(&["job", "request", "--node", &node.id, "--kind", "health_check"]);
    let health_job: Job = health.typed();
    assert_eq!((health_job.state, health_job.attempts, health_job.max_attempts), (JobState::Queued, 0, 3));
    out.insert("job request", health.json());

    let deploy: Job = run(&["job", "request", "--node", &node.id, "--kind", "deploy", "--params", r#"{"version": "2026.1"}"#]).typed();
    assert_eq!(deploy.state, JobState::AwaitingApproval);
    assert_eq!(deploy.params["version"], "2026.1");
    let phrase = deploy.approval_phrase.clone().unwrap_or_default();
    assert_eq!(phrase, format!("deploy openclaw on {name}"));

    let bad_kind = env.run(&[mode, &["job", "request", "--node", &node.id, "--kind", "format_disk"]].concat()).fails_with(2);
    assert!(bad_kind.stderr.contains("field: kind") && bad_kind.stderr.contains("health_check"), "{}", bad_kind.stderr);
    let bad_params = env.run(&[mode, &["job", "request", "--node", &node.id, "--kind", "logs", "--params", "[1]"]].concat()).fails_with(2);
    assert!(bad_params.stderr.contains("field: params"), "{}", bad_params.stderr);
    env.run(&[mode, &["job", "request", "--node", MISSING, "--kind", "logs"]].concat()).fails_with(3);

    let jobs = run(&["job", "list", "--node", &node.id]);
    let listing: Listing<Job> = jobs.typed();
    let ids: Vec<&str> = listing.items.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, vec![deploy.id.as_str(), health_job.id.as_str()], "newest first: {}", jobs.stdout);
    out.insert("job list", jobs.json());
    let waiting: Listing<Job> = run(&["job", "list", "--state", "awaiting_approval", "--node", &node.id]).typed();
    assert_eq!(waiting.items.len(), 1);
    env.run(&[mode, &["job", "list", "--state", "sleeping"]].concat()).fails_with(2);
    let table = env.run(&[mode, &["job", "list"]].concat()).ok();
    assert!(table.stdout.starts_with("ID ") && table.stdout.contains("ATTEMPTS") && table.stdout.contains("0 of 1"), "{}", table.stdout);

    // A wrong phrase is refused naming the field; the job still waits.
    let wrong = env.run(&[mode, &["job", "approve", &deploy.id, "--phrase", "deploy openclaw on elsewhere"]].concat()).fails_with(2);
    assert!(wrong.stderr.contains("field: phrase") && wrong.stderr.contains(&phrase), "{}", wrong.stderr);
    assert_eq!(run(&["job", "get", &deploy.id]).typed::<Job>().state, JobState::AwaitingApproval);
    let shown = env.run(&[mode, &["job", "get", &deploy.id]].concat()).ok();
    assert!(shown.stdout.contains("Waiting for approval (awaiting_approval)"), "{}", shown.stdout);
    assert!(shown.stdout.contains(&format!("Approval phrase   {phrase}")), "{}", shown.stdout);

    let approved = run(&["job", "approve", &deploy.id, "--phrase", &phrase]);
    let approved_job: Job = approved.typed();
    assert_eq!(approved_job.state, JobState::Queued);
    assert!(approved_job.approved_by.as_deref().is_some_and(|by| by.starts_with("admin")), "{approved_job:?}");
    out.insert("job approve", approved.json());
    env.run(&[mode, &["job", "approve", &deploy.id, "--phrase", &phrase]].concat()).fails_with(5);
    env.run(&[mode, &["job", "get", MISSING]].concat()).fails_with(3);

    out.insert("node id", Value::from(node.id));
    out
}

#[test]
fn node_and_job_commands_answer_the_same_remote_and_embedded() {
    let env = Env::new();
    let data = env.path("data");
    let server = Server::start(&env, &data, &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    env.run_with(&["--server", &server.url, "login", "--username", "admin"], &[("WORKS_PASSWORD", ADMIN_PASSWORD)], None).ok();

    let remote = scenario(&env, &["--server", &server.url], "remote");

    // The enrollment command printed for people works as printed (with a local folder).
    let node_id = remote["node id"].as_str().unwrap_or_default().to_owned();
    let shown = env.run(&["--server", &server.url, "node", "enrollment-token", &node_id]).ok();
    assert!(shown.stdout.contains("shown only this once"), "{}", shown.stdout);
    let line = shown
        .stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("works agent enroll "))
        .unwrap_or_else(|| panic!("no enroll command in:\n{}", shown.stdout))
        .to_owned();
    assert!(line.starts_with(&format!("works agent enroll --server {} --token wke_", server.url)), "{line}");
    let state_dir = env.path("agent-state");
    let mut args: Vec<String> = line.split_whitespace().skip(1).map(str::to_owned).collect();
    let dir_at = args.iter().position(|a| a == "--state-dir").expect("--state-dir") + 1;
    args[dir_at] = state_dir.to_string_lossy().into_owned();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.run(&args).ok();
    let enrolled: Node = env.run(&["--server", &server.url, "--json", "node", "get", &node_id]).ok().typed();
    assert!(enrolled.enrolled_at.is_some(), "{enrolled:?}");
    // …once.
    let replay = env.run(&[&args[..], &["--force"]].concat()).fails_with(4);
    assert!(replay.stderr.contains("not valid"), "{}", replay.stderr);

    let revoked = env.run(&["--server", &server.url, "--json", "node", "revoke-agent", &node_id]).ok();
    assert_eq!(revoked.json()["agent_revoked"], true);
    let retired: Node = env.run(&["--server", &server.url, "--json", "node", "retire", &node_id]).ok().typed();
    assert!(retired.retired_at.is_some());
    let (status, _) = server.stop();
    assert!(status.success(), "works serve did not stop cleanly: {status}");

    let database = format!("sqlite://{}/works.db", data.display());
    let embedded = scenario(&env, &["--database", &database], "local");
    let embedded_token = env.run(&["--database", &database, "node", "enrollment-token", embedded["node id"].as_str().unwrap_or_default()]).ok();
    assert!(embedded_token.stdout.contains("--server <this server's address> --token wke_"), "{}", embedded_token.stdout);

    assert_eq!(remote.keys().collect::<Vec<_>>(), embedded.keys().collect::<Vec<_>>());
    for (step, value) in &remote {
        assert_eq!(shape(value), shape(&embedded[step]), "the JSON of `{step}` differs between remote and embedded");
    }
    // One database: both runs' nodes are there, and the retired one only on request.
    let all: Listing<Node> = env.run(&["--database", &database, "--json", "node", "list", "--include-retired"]).ok().typed();
    assert_eq!(all.items.len(), 2, "{all:?}");
    let in_service: Listing<Node> = env.run(&["--database", &database, "--json", "node", "list"]).ok().typed();
    assert_eq!(in_service.items.len(), 1, "{in_service:?}");
}
