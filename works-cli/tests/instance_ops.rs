//! `works instance …` for operating an instance, as real processes against a running
//! server (remote) and the same database opened directly (embedded): the CLI inventory,
//! a refused command and an allowlisted one, versions, an upgrade plan approved by its
//! phrase, and an assignment.

mod common;

use common::{Env, Server, ADMIN_PASSWORD};
use works_core::{
    Actor, Assignment, CheckIn, CliCommand, Container, EnrollRequest, Job, NewNode, NewOrg, NewUser, NodeHealth, Role, TakeoverInput,
    UpgradePlan, VersionReport, Works,
};

/// A managed instance of a new organization, and a user of that organization.
fn seed(database: &str) -> (String, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let works = Works::new(works_store::open(database).await.unwrap());
        let admin = Actor::system();
        let org = works.org_create(&admin, NewOrg { name: "Acme".into() }).await.unwrap();
        let user = works
            .user_create(
                &admin,
                NewUser { username: "acme-user".into(), display_name: None, role: Role::OrgUser, org_id: Some(org.id.clone()), password: "a long enough password 1".into() },
            )
            .await
            .unwrap();
        let node = works.node_create(&admin, NewNode { name: "acme-web-01".into(), org_id: Some(org.id.clone()) }).await.unwrap();
        let token = works.enrollment_token_create(&admin, &node.id).await.unwrap();
        let cred = works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
        let agent = works.authenticate_agent(&cred.credential).await.unwrap();
        let gateway = Container {
            id: "c-gw".into(),
            name: "openclaw-gateway".into(),
            image: "anthropy/openclaw:2026.9.6".into(),
            state: "running".into(),
            health: None,
            labels: Default::default(),
            ports: vec![],
            mounts: vec![],
        };
        let health = NodeHealth { agent_version: "test".into(), ..Default::default() };
        works.agent_checkin(&agent, CheckIn { health, containers: Some(vec![gateway]) }).await.unwrap();
        let inst = works.instance_list(&admin, Default::default()).await.unwrap().items.remove(0);
        let phrase = inst.takeover_phrase.clone().unwrap();
        works.instance_takeover(&admin, &inst.id, TakeoverInput { phrase }).await.unwrap();
        (inst.id, user.id)
    })
}

#[test]
fn instance_operations_answer_the_same_remote_and_embedded() {
    let env = Env::new();
    let data = env.path("data");
    let server = Server::start(&env, &data, &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let database = format!("sqlite://{}/works.db", data.display());
    let (id, user) = seed(&database);
    env.run_with(&["--server", &server.url, "login", "--username", "admin"], &[("WORKS_PASSWORD", ADMIN_PASSWORD)], None).ok();
    let remote = ["--server", server.url.as_str()];
    let embedded = ["--database", database.as_str()];

    for mode in [&remote[..], &embedded[..]] {
        let run = |args: &[&str]| env.run(&[mode, args].concat());
        let all: Vec<CliCommand> = run(&["--json", "instance", "cli-commands"]).ok().typed();
        assert!(all.iter().any(|c| c.id == "gateway-call" && !c.runnable));
        let table = run(&["instance", "cli-commands", "--runnable"]).ok();
        assert!(table.stdout.contains("openclaw health --json") && !table.stdout.contains("gateway call"), "{}", table.stdout);

        let refused = run(&["instance", "cli-run", &id, "gateway-call"]).fails_with(4);
        assert!(refused.stderr.contains("openclaw gateway call"), "{}", refused.stderr);
        run(&["instance", "cli-run", &id, "health --json"]).fails_with(2);
        let job: Job = run(&["--json", "instance", "cli-run", &id, "health"]).ok().typed();
        assert_eq!(job.kind.as_str(), "cli_command");
        let shown = run(&["instance", "cli-run-get", &id, &job.id]).ok();
        assert!(shown.stdout.contains("cli_command"), "{}", shown.stdout);

        let versions: VersionReport = run(&["--json", "instance", "versions", &id, "--to", "2026.10.1"]).ok().typed();
        assert!(versions.eligibility.eligible);
        assert!(run(&["instance", "versions", &id]).ok().stdout.contains("Already on 2026.9.6"));
        run(&["instance", "upgrade-plan", &id, "--to", "2026.9.6"]).fails_with(2);
        let proposed = run(&["instance", "upgrade-plan", &id, "--to", "2026.10.1", "--channel", "beta"]).ok();
        assert!(proposed.stdout.contains("Nothing was changed") && proposed.stdout.contains("Back up"), "{}", proposed.stdout);
        let plans: works_core::Listing<UpgradePlan> = run(&["--json", "instance", "upgrade-plans", &id]).ok().typed();
        let plan = &plans.items[0];
        run(&["instance", "upgrade-plan-approve", &id, &plan.id, "--phrase", "upgrade"]).fails_with(2);
        let approved = run(&["instance", "upgrade-plan-approve", &id, &plan.id, "--phrase", &plan.approval_phrase]).ok();
        assert!(approved.stdout.contains("Nothing was run"), "{}", approved.stdout);
        run(&["instance", "upgrade-plan-cancel", &id, &plan.id]).ok();

        let a: Assignment = run(&["--json", "instance", "assign", &id, "--user", &user]).ok().typed();
        assert_eq!(a.username, "acme-user");
        assert!(run(&["instance", "assignments", &id]).ok().stdout.contains("acme-user"));
        run(&["instance", "assign", &id, "--user", &user]).fails_with(5);
        run(&["instance", "unassign", &id, "--user", &user]).ok();
        run(&["instance", "unassign", &id, "--user", &user]).fails_with(3);
    }
    let _ = server.stop();
}
