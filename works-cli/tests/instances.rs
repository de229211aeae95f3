//! `works instance …` as real processes, against a running server (remote) and the same
//! database opened directly (embedded): the same answers, the phrase shown, a wrong
//! phrase refused with the field named, the right one taking the instance over.

mod common;

use common::{Env, Server, ADMIN_PASSWORD};
use works_core::{Actor, CheckIn, Container, EnrollRequest, Instance, InstanceState, Listing, NewNode, NodeHealth, Works};

fn gateway(id: &str, name: &str) -> Container {
    Container {
        id: id.into(),
        name: name.into(),
        image: "anthropy/openclaw:2026.9.6".into(),
        state: "running".into(),
        health: Some("healthy".into()),
        labels: Default::default(),
        ports: vec![],
        mounts: vec![],
    }
}

/// Adds a node whose agent reports two OpenClaw containers nobody manages.
fn seed(database: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let works = Works::new(works_store::open(database).await.unwrap());
        let admin = Actor::system();
        let node = works.node_create(&admin, NewNode { name: "acme-web-01".into(), org_id: None }).await.unwrap();
        let token = works.enrollment_token_create(&admin, &node.id).await.unwrap();
        let cred = works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
        let agent = works.authenticate_agent(&cred.credential).await.unwrap();
        let containers = vec![gateway("c-remote", "openclaw-gateway"), gateway("c-local", "openclaw-cell-acme")];
        let health = NodeHealth { agent_version: "test".into(), ..Default::default() };
        works.agent_checkin(&agent, CheckIn { health, containers: Some(containers) }).await.unwrap();
    });
}

fn take_over(env: &Env, mode: &[&str], container: &str) {
    let run = |args: &[&str]| env.run(&[mode, args].concat());
    let list: Listing<Instance> = run(&["--json", "instance", "list"]).ok().typed();
    let inst = list.items.iter().find(|i| i.container_name == container).unwrap_or_else(|| panic!("{container} listed: {list:?}"));
    assert_eq!(inst.state, InstanceState::Discovered);

    let shown = run(&["instance", "get", &inst.id]).ok();
    let phrase = format!("take over openclaw {container} on acme-web-01");
    assert!(shown.stdout.contains(&format!("works instance takeover {} --phrase \"{phrase}\"", inst.id)), "{}", shown.stdout);
    assert!(shown.stdout.contains("running, healthy") && shown.stdout.contains("2026.9.6"), "{}", shown.stdout);

    let wrong = run(&["instance", "takeover", &inst.id, "--phrase", "take over openclaw"]).fails_with(2);
    assert!(wrong.stderr.contains("field: phrase") && wrong.stderr.contains(&phrase), "{}", wrong.stderr);

    let done: Instance = run(&["--json", "instance", "takeover", &inst.id, "--phrase", &phrase]).ok().typed();
    assert_eq!((done.state, done.container_id.as_str()), (InstanceState::Managed, inst.container_id.as_str()));
    run(&["instance", "takeover", &inst.id, "--phrase", &phrase]).fails_with(5);
    let table = run(&["instance", "list"]).ok();
    assert!(table.stdout.lines().next().unwrap_or_default().starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.contains(container) && table.stdout.contains("managed"), "{}", table.stdout);
}

#[test]
fn instance_commands_answer_the_same_remote_and_embedded() {
    let env = Env::new();
    let data = env.path("data");
    let server = Server::start(&env, &data, &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let database = format!("sqlite://{}/works.db", data.display());
    seed(&database);
    env.run_with(&["--server", &server.url, "login", "--username", "admin"], &[("WORKS_PASSWORD", ADMIN_PASSWORD)], None).ok();

    take_over(&env, &["--server", &server.url], "openclaw-gateway");
    take_over(&env, &["--database", &database], "openclaw-cell-acme");
    env.run(&["--database", &database, "instance", "get", "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff"]).fails_with(3);
    let _ = server.stop();
}
