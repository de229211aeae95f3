//! Operating OpenClaw instances: only allowlisted read commands of the CLI become jobs,
//! by inventory id, and every refusal is recorded; upgrade plans change nothing until a
//! person approves them with the typed phrase, and approving records approval only;
//! assignments decide which instances an organization user sees and acts on, and every
//! other instance is answered exactly like a missing one. Runs on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use works_core::{
    AgentIdentity, ApprovePlan, AssignInput, AuditQuery, CheckIn, Container, ContainerMount, Direction, EnrollRequest, Error, Instance,
    InstanceQuery, InstanceState, JobKind, JobReport, JobState, NewJob, NewNode, NewUpgradePlan, Node, NodeHealth, Outcome, PublishedPort,
    Risk, TakeoverInput, UpgradePlanState, VersionQuery, Works,
};
use works_guarantees::{backends, Person, World};

const MISSING: &str = "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff";

async fn node(w: &World, name: &str, org: Option<&str>) -> Node {
    w.works.node_create(&w.msp_admin.actor, NewNode { name: name.into(), org_id: org.map(str::to_owned) }).await.unwrap()
}

async fn enrolled(works: &Works, admin: &works_core::Actor, node: &Node) -> AgentIdentity {
    let token = works.enrollment_token_create(admin, &node.id).await.unwrap();
    let cred = works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
    works.authenticate_agent(&cred.credential).await.unwrap()
}

fn gateway(id: &str, name: &str) -> Container {
    Container {
        id: id.into(),
        name: name.into(),
        image: "anthropy/openclaw:2026.9.6".into(),
        state: "running".into(),
        health: None,
        labels: BTreeMap::new(),
        ports: vec![PublishedPort { container_port: 18789, host_port: Some(18789), host_ip: Some("127.0.0.1".into()), protocol: "tcp".into() }],
        mounts: vec![ContainerMount { kind: "volume".into(), source: "oc".into(), destination: "/home/node/.openclaw".into() }],
    }
}

/// A node of `org` with the given OpenClaw containers, each discovered and then taken
/// over by the MSP admin (unless `keep_discovered`). Returns the agent and the instances
/// by container name.
async fn instances(w: &World, node_name: &str, org: &str, names: &[&str], keep_discovered: bool) -> (AgentIdentity, Vec<Instance>) {
    let n = node(w, node_name, Some(org)).await;
    let agent = enrolled(&w.works, &w.msp_admin.actor, &n).await;
    let containers = names.iter().map(|name| gateway(&format!("c-{name}"), name)).collect();
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    w.works.agent_checkin(&agent, CheckIn { health, containers: Some(containers) }).await.unwrap();
    let mut out = Vec::new();
    for name in names {
        let found = w.works.instance_list(&w.msp_admin.actor, InstanceQuery { node_id: Some(n.id.clone()), ..Default::default() }).await.unwrap();
        let i = found.items.into_iter().find(|i| i.container_name == *name).unwrap();
        let i = if keep_discovered {
            i
        } else {
            let phrase = i.takeover_phrase.clone().unwrap();
            w.works.instance_takeover(&w.msp_admin.actor, &i.id, TakeoverInput { phrase }).await.unwrap()
        };
        out.push(i);
    }
    (agent, out)
}

async fn refusals(w: &World, who: &Person, action: &str) -> Vec<works_core::AuditRecord> {
    w.works
        .audit_query(&w.msp_admin.actor, AuditQuery { actor_id: Some(who.actor.id.clone()), action: Some(action.into()), ..Default::default() })
        .await
        .unwrap()
        .records
        .into_iter()
        .filter(|r| r.outcome != Outcome::Succeeded)
        .collect()
}

fn same_as_missing(e: &Error, id: &str) -> bool {
    matches!(e, Error::NotFound { .. }) && e.to_string().replace(id, "X") == Error::not_found("instance", MISSING).to_string().replace(MISSING, "X")
}

#[tokio::test]
async fn only_allowlisted_read_commands_run_and_refusals_are_recorded() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let (agent, list) = instances(&w, "acme-web-01", &w.org_a.id, &["openclaw-gateway"], false).await;
        let inst = &list[0];
        let (_, discovered) = instances(&w, "acme-web-02", &w.org_a.id, &["openclaw-old"], true).await;
        let b = backend.name;

        // The inventory lists everything, classified; only allowlisted read commands run.
        let inventory = w.works.openclaw_cli_commands(&w.a_user.actor).await.unwrap();
        assert!(inventory.iter().any(|c| c.id == "health" && c.runnable));
        assert!(inventory.iter().any(|c| c.id == "gateway-call" && !c.runnable && c.why_not.is_some()));

        // A non-allowlisted command is refused with the reason, recorded, and makes no job.
        let refused = w.works.instance_cli_run(&w.msp_operator.actor, &inst.id, "gateway-call").await.unwrap_err();
        assert!(matches!(refused, Error::Forbidden { .. }), "[{b}] {refused:?}");
        assert!(refused.to_string().contains("openclaw gateway call"), "[{b}] {refused}");
        let destructive = w.works.instance_cli_run(&w.msp_admin.actor, &inst.id, "reset").await.unwrap_err();
        assert!(destructive.to_string().contains("deletes data"), "[{b}] {destructive}");
        let pairing = w.works.instance_cli_run(&w.a_admin.actor, &inst.id, "devices-list").await.unwrap_err();
        assert!(pairing.to_string().contains("writes state"), "[{b}] {pairing}");
        let free_form = w.works.instance_cli_run(&w.msp_operator.actor, &inst.id, "health --json; reset").await.unwrap_err();
        assert_eq!(free_form.field(), Some("command_id"), "[{b}] {free_form:?}");
        let recorded = refusals(&w, &w.msp_operator, "instance.cli_run").await;
        assert_eq!(recorded.len(), 2, "[{b}] {recorded:?}");
        assert!(recorded.iter().any(|r| r.outcome == Outcome::Denied && r.reason.contains("gateway call") && r.target_id.as_deref() == Some(inst.id.as_str())));
        assert!(recorded.iter().any(|r| r.outcome == Outcome::Rejected && r.reason.contains("command_id")));
        assert_eq!(refusals(&w, &w.msp_admin, "instance.cli_run").await.len(), 1);
        assert!(w.works.job_list(&w.msp_admin.actor, Default::default()).await.unwrap().items.is_empty(), "[{b}] no job was made");

        // Cross-tenant and unassigned: answered as missing, and recorded.
        for who in [&w.b_admin, &w.b_user, &w.a_user] {
            let e = w.works.instance_cli_run(&who.actor, &inst.id, "health").await.unwrap_err();
            assert!(same_as_missing(&e, &inst.id), "[{b}] {}: {e:?}", who.actor.name);
            assert_eq!(refusals(&w, who, "instance.cli_run").await.len(), 1, "[{b}] {}", who.actor.name);
        }
        // A discovered instance is not the product's to run commands in.
        let not_ours = w.works.instance_cli_run(&w.msp_admin.actor, &discovered[0].id, "health").await.unwrap_err();
        assert!(matches!(not_ours, Error::Conflict { .. }), "[{b}] {not_ours:?}");
        // The generic job route does not take CLI work with its own parameters.
        let sneaky = NewJob { node_id: inst.node_id.clone(), kind: JobKind::CliCommand, params: serde_json::json!({"command_id": "health", "container": "other"}) };
        assert_eq!(w.works.job_request(&w.msp_admin.actor, sneaky).await.unwrap_err().field(), Some("kind"));

        // An allowlisted command becomes a safe job, queued at once, for the instance's node.
        let job = w.works.instance_cli_run(&w.a_admin.actor, &inst.id, "health").await.unwrap();
        assert_eq!((job.kind, job.risk, job.state), (JobKind::CliCommand, Risk::Safe, JobState::Queued), "[{b}]");
        assert_eq!(job.node_id, inst.node_id);
        assert_eq!(job.params, serde_json::json!({"instance_id": inst.id, "command_id": "health", "container": "openclaw-gateway"}));
        assert!(job.approval_phrase.is_none());
        let ok = w
            .works
            .audit_query(&w.msp_admin.actor, AuditQuery { action: Some("instance.cli_run".into()), outcome: Some(Outcome::Succeeded), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(ok.records.len(), 1, "[{b}]");
        assert!(ok.records[0].reason.contains("openclaw health --json"), "{}", ok.records[0].reason);

        // The agent gets exactly that; its redacted output is read back on the instance.
        let claimed = w.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
        assert_eq!(claimed.id, job.id);
        w.works.agent_job_start(&agent, &job.id).await.unwrap();
        let report = JobReport { succeeded: true, result: None, output: Some("{\"ok\": true, \"token\": \"oct_secretsecretsecret\"}".into()), reason: None };
        w.works.agent_job_complete(&agent, &job.id, report).await.unwrap();
        let runs = w.works.instance_cli_runs(&w.a_admin.actor, &inst.id, Default::default()).await.unwrap().items;
        assert_eq!(runs.len(), 1, "[{b}]");
        assert_eq!(runs[0].state, JobState::Succeeded);
        let output = runs[0].output.clone().unwrap();
        assert!(output.contains("\"ok\": true") && !output.contains("oct_secretsecretsecret"), "[{b}] {output}");
        assert_eq!(w.works.instance_cli_run_get(&w.msp_operator.actor, &inst.id, &job.id).await.unwrap().id, job.id);
        for who in [&w.b_admin, &w.a_user] {
            assert!(matches!(w.works.instance_cli_runs(&who.actor, &inst.id, Default::default()).await, Err(Error::NotFound { .. })), "[{b}]");
            assert!(matches!(w.works.instance_cli_run_get(&who.actor, &inst.id, &job.id).await, Err(Error::NotFound { .. })), "[{b}]");
        }
        // A run is found only under its own instance.
        let e = w.works.instance_cli_run_get(&w.msp_admin.actor, &discovered[0].id, &job.id).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "[{b}] {e:?}");
    }
}

#[tokio::test]
async fn upgrade_plans_change_nothing_until_a_person_types_the_phrase() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let (_, list) = instances(&w, "acme-web-01", &w.org_a.id, &["openclaw-gateway"], false).await;
        let inst = &list[0];
        let b = backend.name;

        // Versions: current from the container, pinned, desired; already on it.
        let v = w.works.instance_versions(&w.a_admin.actor, &inst.id, VersionQuery::default()).await.unwrap();
        assert_eq!((v.current.as_deref(), v.pinned.as_str(), v.desired.as_str()), (Some("2026.9.6"), "2026.9.6", "2026.9.6"), "[{b}]");
        assert_eq!(v.eligibility.direction, Direction::AlreadyOnIt);
        assert!(!v.eligibility.eligible);
        let down = w.works.instance_versions(&w.a_admin.actor, &inst.id, VersionQuery { to_version: Some("2026.8.1".into()), channel: None }).await.unwrap();
        assert_eq!(down.eligibility.direction, Direction::Downgrade);
        assert!(down.eligibility.warnings.iter().any(|x| x.contains("downgrade")));
        let bad = w.works.instance_versions(&w.a_admin.actor, &inst.id, VersionQuery { to_version: None, channel: Some("nightly".into()) }).await.unwrap_err();
        assert_eq!(bad.field(), Some("channel"));

        // Already on it, a pre-release on stable and a bad version are refused naming the field.
        for (to, channel) in [("2026.9.6", None), ("2026.10.0-beta.1", None), ("latest", None)] {
            let e = w.works.upgrade_plan_create(&w.a_admin.actor, &inst.id, NewUpgradePlan { to_version: to.into(), channel }).await.unwrap_err();
            assert_eq!(e.field(), Some("to_version"), "[{b}] {to}: {e:?}");
        }
        assert!(w.works.upgrade_plan_create(&w.a_admin.actor, &inst.id, NewUpgradePlan { to_version: "2026.9.6".into(), channel: None }).await.unwrap_err().to_string().contains("Already on"));
        // Who may propose: not an organization user, not another tenant.
        let e = w.works.upgrade_plan_create(&w.b_admin.actor, &inst.id, NewUpgradePlan { to_version: "2026.10.1".into(), channel: None }).await.unwrap_err();
        assert!(same_as_missing(&e, &inst.id), "[{b}] {e:?}");

        // A plan is a record: proposed, with steps and a phrase; nothing else changed.
        let plan = w.works.upgrade_plan_create(&w.msp_operator.actor, &inst.id, NewUpgradePlan { to_version: "2026.10.1".into(), channel: Some("extended-stable".into()) }).await.unwrap();
        assert_eq!(plan.state, UpgradePlanState::Proposed);
        assert_eq!((plan.from_version.as_deref(), plan.to_version.as_str()), (Some("2026.9.6"), "2026.10.1"));
        assert_eq!(plan.channel, works_core::Channel::ExtendedStable);
        assert_eq!(plan.direction, Direction::Upgrade);
        assert_eq!(plan.approval_phrase, "upgrade openclaw openclaw-gateway on acme-web-01 to 2026.10.1");
        assert!(plan.steps.len() >= 5 && plan.steps.iter().any(|s| s.contains("Back up")), "[{b}] {:?}", plan.steps);
        assert!(plan.note.contains("records the approval only"));
        assert_eq!(w.works.instance_get(&w.msp_admin.actor, &inst.id).await.unwrap().version.as_deref(), Some("2026.9.6"));
        assert!(w.works.job_list(&w.msp_admin.actor, Default::default()).await.unwrap().items.is_empty(), "[{b}] no job");
        let stored = w.works.upgrade_plan_get(&w.a_admin.actor, &inst.id, &plan.id).await.unwrap();
        assert_eq!(stored, plan, "[{b}] what the call answers is what is stored");

        // Wrong phrase, wrong role, other tenant: refused, recorded, still proposed.
        let wrong = w.works.upgrade_plan_approve(&w.a_admin.actor, &inst.id, &plan.id, ApprovePlan { phrase: "upgrade openclaw".into() }).await.unwrap_err();
        assert_eq!(wrong.field(), Some("phrase"), "[{b}] {wrong:?}");
        assert!(wrong.to_string().contains(&plan.approval_phrase));
        let upper = w.works.upgrade_plan_approve(&w.a_admin.actor, &inst.id, &plan.id, ApprovePlan { phrase: plan.approval_phrase.to_uppercase() }).await;
        assert!(upper.is_err(), "[{b}] typed exactly");
        let tenant = w.works.upgrade_plan_approve(&w.b_admin.actor, &inst.id, &plan.id, ApprovePlan { phrase: plan.approval_phrase.clone() }).await.unwrap_err();
        assert!(matches!(tenant, Error::NotFound { .. }), "[{b}] {tenant:?}");
        assert!(matches!(w.works.upgrade_plan_get(&w.b_admin.actor, &inst.id, &plan.id).await, Err(Error::NotFound { .. })));
        assert!(matches!(w.works.upgrade_plan_list(&w.b_admin.actor, &inst.id, Default::default()).await, Err(Error::NotFound { .. })));
        // An organization user assigned to the instance sees the plan but may not approve it.
        w.works.instance_assign(&w.a_admin.actor, &inst.id, AssignInput { user_id: w.a_user.user.id.clone() }).await.unwrap();
        assert_eq!(w.works.upgrade_plan_list(&w.a_user.actor, &inst.id, Default::default()).await.unwrap().items.len(), 1);
        let role = w.works.upgrade_plan_approve(&w.a_user.actor, &inst.id, &plan.id, ApprovePlan { phrase: plan.approval_phrase.clone() }).await.unwrap_err();
        assert!(matches!(role, Error::Forbidden { .. }), "[{b}] {role:?}");
        assert_eq!(w.works.upgrade_plan_get(&w.msp_admin.actor, &inst.id, &plan.id).await.unwrap().state, UpgradePlanState::Proposed);
        for (who, outcome) in [(&w.a_admin, Outcome::Rejected), (&w.b_admin, Outcome::Denied), (&w.a_user, Outcome::Denied)] {
            assert!(refusals(&w, who, "upgrade_plan.approve").await.iter().any(|r| r.outcome == outcome), "[{b}] {} refusal recorded", who.actor.name);
        }

        // The right phrase records the approval, and only that.
        let approved = w.works.upgrade_plan_approve(&w.a_admin.actor, &inst.id, &plan.id, ApprovePlan { phrase: plan.approval_phrase.clone() }).await.unwrap();
        assert_eq!(approved.state, UpgradePlanState::Approved);
        assert_eq!(approved.approved_by.as_deref(), Some(w.a_admin.actor.name.as_str()));
        assert_eq!(w.works.upgrade_plan_get(&w.msp_admin.actor, &inst.id, &plan.id).await.unwrap(), approved);
        assert_eq!(w.works.instance_get(&w.msp_admin.actor, &inst.id).await.unwrap().version.as_deref(), Some("2026.9.6"), "[{b}] nothing ran");
        assert!(w.works.job_list(&w.msp_admin.actor, Default::default()).await.unwrap().items.is_empty(), "[{b}] no job");
        let audit = w
            .works
            .audit_query(&w.msp_admin.actor, AuditQuery { action: Some("upgrade_plan.approve".into()), outcome: Some(Outcome::Succeeded), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(audit.records.len(), 1);
        assert!(audit.records[0].reason.contains("nothing was run"), "{}", audit.records[0].reason);
        let twice = w.works.upgrade_plan_approve(&w.a_admin.actor, &inst.id, &plan.id, ApprovePlan { phrase: plan.approval_phrase.clone() }).await.unwrap_err();
        assert!(matches!(twice, Error::Conflict { .. }), "[{b}] {twice:?}");
        let v = w.works.instance_versions(&w.a_user.actor, &inst.id, VersionQuery::default()).await.unwrap();
        assert_eq!(v.desired, "2026.10.1", "[{b}] the approved plan sets the desired version");
        assert_eq!(v.eligibility.direction, Direction::Upgrade);

        // A downgrade is planned with a warning, and can be cancelled.
        let back = w.works.upgrade_plan_create(&w.msp_admin.actor, &inst.id, NewUpgradePlan { to_version: "2026.8.1".into(), channel: None }).await.unwrap();
        assert_eq!(back.direction, Direction::Downgrade);
        assert!(back.warnings.iter().any(|x| x.contains("downgrade")));
        assert!(matches!(w.works.upgrade_plan_cancel(&w.a_user.actor, &inst.id, &back.id).await, Err(Error::Forbidden { .. })));
        let cancelled = w.works.upgrade_plan_cancel(&w.a_admin.actor, &inst.id, &back.id).await.unwrap();
        assert_eq!(cancelled.state, UpgradePlanState::Cancelled);
        let e = w.works.upgrade_plan_approve(&w.a_admin.actor, &inst.id, &back.id, ApprovePlan { phrase: back.approval_phrase.clone() }).await.unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "[{b}] {e:?}");
        let all = w.works.upgrade_plan_list(&w.a_admin.actor, &inst.id, Default::default()).await.unwrap().items;
        assert_eq!(all.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec![back.id.as_str(), plan.id.as_str()], "[{b}] newest first");
    }
}

#[tokio::test]
async fn organization_users_see_and_act_on_only_their_assigned_instances() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let (_, a_list) = instances(&w, "acme-web-01", &w.org_a.id, &["openclaw-one", "openclaw-two"], false).await;
        let (_, b_list) = instances(&w, "bolt-web-01", &w.org_b.id, &["openclaw-bolt"], false).await;
        let (one, two, bolt) = (&a_list[0], &a_list[1], &b_list[0]);
        let b = backend.name;
        let list = |p: &Person| {
            let works = w.works.clone();
            let actor = p.actor.clone();
            async move { works.instance_list(&actor, InstanceQuery::default()).await.unwrap().items.into_iter().map(|i| i.id).collect::<Vec<_>>() }
        };
        assert!(list(&w.a_user).await.is_empty(), "[{b}] nothing assigned yet");

        // Who may assign: not the user themselves, not another tenant's admin.
        let own = w.works.instance_assign(&w.a_user.actor, &one.id, AssignInput { user_id: w.a_user.user.id.clone() }).await.unwrap_err();
        assert!(same_as_missing(&own, &one.id), "[{b}] an unassigned user cannot see it: {own:?}");
        let foreign = w.works.instance_assign(&w.b_admin.actor, &one.id, AssignInput { user_id: w.b_user.user.id.clone() }).await.unwrap_err();
        assert!(same_as_missing(&foreign, &one.id), "[{b}] {foreign:?}");
        // Only users of the instance's organization can be assigned; others look the same.
        for user in [&w.b_user, &w.b_admin, &w.msp_operator] {
            let e = w.works.instance_assign(&w.msp_admin.actor, &one.id, AssignInput { user_id: user.user.id.clone() }).await.unwrap_err();
            assert_eq!(e.field(), Some("user_id"), "[{b}] {}: {e:?}", user.actor.name);
        }
        let e = w.works.instance_assign(&w.a_admin.actor, &one.id, AssignInput { user_id: MISSING.into() }).await.unwrap_err();
        assert_eq!(e.field(), Some("user_id"));
        assert!(list(&w.b_user).await.is_empty());

        // The organization's admin assigns one instance; the user sees exactly it.
        let a = w.works.instance_assign(&w.a_admin.actor, &one.id, AssignInput { user_id: w.a_user.user.id.clone() }).await.unwrap();
        assert_eq!((a.user_id.as_str(), a.username.as_str(), a.org_id.as_str()), (w.a_user.user.id.as_str(), w.a_user.user.username.as_str(), w.org_a.id.as_str()));
        let again = w.works.instance_assign(&w.msp_operator.actor, &one.id, AssignInput { user_id: w.a_user.user.id.clone() }).await.unwrap_err();
        assert!(matches!(again, Error::Conflict { .. }), "[{b}] {again:?}");
        assert_eq!(list(&w.a_user).await, vec![one.id.clone()], "[{b}]");
        assert_eq!(w.works.instance_get(&w.a_user.actor, &one.id).await.unwrap().id, one.id);
        let hidden = w.works.instance_get(&w.a_user.actor, &two.id).await.unwrap_err();
        assert!(same_as_missing(&hidden, &two.id), "[{b}] {hidden:?}");
        let other_tenant = w.works.instance_get(&w.a_user.actor, &bolt.id).await.unwrap_err();
        assert!(same_as_missing(&other_tenant, &bolt.id), "[{b}] {other_tenant:?}");
        assert!(list(&w.b_user).await.is_empty(), "[{b}] another organization's user sees nothing");
        assert_eq!(w.works.instance_list(&w.a_user.actor, InstanceQuery { node_id: Some(one.node_id.clone()), ..Default::default() }).await.unwrap().items.len(), 1);

        // The assigned user may run read commands in it, and only in it; not change assignments.
        let job = w.works.instance_cli_run(&w.a_user.actor, &one.id, "status").await.unwrap();
        assert_eq!(job.requested_by, w.a_user.actor.name);
        assert!(same_as_missing(&w.works.instance_cli_run(&w.a_user.actor, &two.id, "status").await.unwrap_err(), &two.id));
        let e = w.works.instance_assign(&w.a_user.actor, &one.id, AssignInput { user_id: w.a_user.user.id.clone() }).await.unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }), "[{b}] {e:?}");
        let e = w.works.instance_unassign(&w.a_user.actor, &one.id, &w.a_user.user.id).await.unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }), "[{b}] {e:?}");
        // Who it is assigned to: the admin sees everyone, the user only themselves.
        assert_eq!(w.works.instance_assignments(&w.a_admin.actor, &one.id).await.unwrap().len(), 1);
        assert_eq!(w.works.instance_assignments(&w.a_user.actor, &one.id).await.unwrap().len(), 1);
        assert!(matches!(w.works.instance_assignments(&w.b_admin.actor, &one.id).await, Err(Error::NotFound { .. })));
        assert!(matches!(w.works.instance_assignments(&w.a_user.actor, &two.id).await, Err(Error::NotFound { .. })));

        // Every assignment, and every refusal, is recorded.
        let done = w
            .works
            .audit_query(&w.msp_admin.actor, AuditQuery { action: Some("instance.assign".into()), outcome: Some(Outcome::Succeeded), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(done.records.len(), 1, "[{b}]");
        assert!(done.records[0].reason.contains(&w.a_user.user.username));
        assert!(!refusals(&w, &w.b_admin, "instance.assign").await.is_empty());
        assert!(!refusals(&w, &w.a_user, "instance.assign").await.is_empty());
        assert_eq!(refusals(&w, &w.msp_admin, "instance.assign").await.len(), 3);

        // Unassigned: the instance is gone from the user's view, answered as missing.
        let e = w.works.instance_unassign(&w.b_admin.actor, &one.id, &w.a_user.user.id).await.unwrap_err();
        assert!(same_as_missing(&e, &one.id), "[{b}] {e:?}");
        w.works.instance_unassign(&w.msp_operator.actor, &one.id, &w.a_user.user.id).await.unwrap();
        assert!(list(&w.a_user).await.is_empty(), "[{b}]");
        assert!(same_as_missing(&w.works.instance_get(&w.a_user.actor, &one.id).await.unwrap_err(), &one.id));
        assert!(same_as_missing(&w.works.instance_cli_run(&w.a_user.actor, &one.id, "status").await.unwrap_err(), &one.id));
        let twice = w.works.instance_unassign(&w.msp_operator.actor, &one.id, &w.a_user.user.id).await.unwrap_err();
        assert!(matches!(twice, Error::NotFound { .. }), "[{b}] {twice:?}");
        let undone = w
            .works
            .audit_query(&w.msp_admin.actor, AuditQuery { action: Some("instance.unassign".into()), outcome: Some(Outcome::Succeeded), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(undone.records.len(), 1, "[{b}]");
        assert_eq!(w.works.instance_get(&w.msp_admin.actor, &one.id).await.unwrap().state, InstanceState::Managed);
    }
}
