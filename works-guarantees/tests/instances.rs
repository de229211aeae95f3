//! OpenClaw instances: discovery at check-in never duplicates and never claims what we
//! manage; takeover is typed, role- and tenant-checked, audited, and keeps the container.
//! Runs on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use works_core::{
    AgentIdentity, AuditQuery, CheckIn, Container, ContainerMount, EnrollRequest, Error, Instance, InstanceQuery,
    InstanceState, NewNode, Node, NodeHealth, Outcome, PublishedPort, TakeoverInput, Works,
};
use works_guarantees::{backends, World};

async fn node(w: &World, name: &str, org: Option<&str>) -> Node {
    w.works.node_create(&w.msp_admin.actor, NewNode { name: name.into(), org_id: org.map(str::to_owned) }).await.unwrap()
}

async fn enrolled(works: &Works, admin: &works_core::Actor, node: &Node) -> AgentIdentity {
    let token = works.enrollment_token_create(admin, &node.id).await.unwrap();
    let cred = works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
    works.authenticate_agent(&cred.credential).await.unwrap()
}

fn health() -> NodeHealth {
    NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() }
}

fn gateway(id: &str) -> Container {
    Container {
        id: id.into(),
        name: "openclaw-gateway".into(),
        image: "anthropy/openclaw:2026.9.6".into(),
        state: "running".into(),
        health: None,
        labels: BTreeMap::new(),
        ports: vec![PublishedPort { container_port: 18789, host_port: Some(18789), host_ip: Some("127.0.0.1".into()), protocol: "tcp".into() }],
        mounts: vec![ContainerMount { kind: "volume".into(), source: "oc".into(), destination: "/home/node/.openclaw".into() }],
    }
}

fn plain(id: &str) -> Container {
    Container { name: "web".into(), image: "nginx:1.27".into(), ports: vec![], mounts: vec![], ..gateway(id) }
}

fn managed(id: &str) -> Container {
    let mut c = gateway(id);
    c.name = "openclaw-0192abc-gateway".into();
    c.labels.insert("works.managed".into(), "true".into());
    c.labels.insert("works.instance".into(), "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff".into());
    c
}

async fn check_in(works: &Works, agent: &AgentIdentity, containers: Vec<Container>) {
    works.agent_checkin(agent, CheckIn { health: health(), containers: Some(containers) }).await.unwrap();
}

async fn all(works: &Works, w: &World) -> Vec<Instance> {
    works.instance_list(&w.msp_admin.actor, InstanceQuery::default()).await.unwrap().items
}

#[tokio::test]
async fn check_in_discovers_openclaw_once_and_leaves_managed_containers_alone() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let n = node(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let agent = enrolled(&w.works, &w.msp_admin.actor, &n).await;

        check_in(&w.works, &agent, vec![gateway("c-gw"), plain("c-web"), managed("c-ours")]).await;
        let found = all(&w.works, &w).await;
        assert_eq!(found.len(), 1, "[{}] only the unmanaged OpenClaw container: {found:?}", backend.name);
        let i = &found[0];
        assert_eq!(i.state, InstanceState::Discovered);
        assert_eq!((i.node_id.as_str(), i.org_id.as_deref()), (n.id.as_str(), Some(w.org_a.id.as_str())));
        assert_eq!((i.container_id.as_str(), i.container_name.as_str()), ("c-gw", "openclaw-gateway"));
        assert_eq!(i.version.as_deref(), Some("2026.9.6"));
        assert_eq!(i.health.as_deref(), Some("running"));
        assert_eq!(i.reasons.len(), 4, "[{}] image, name, port, mount: {:?}", backend.name, i.reasons);
        assert_eq!(i.takeover_phrase.as_deref(), Some("take over openclaw openclaw-gateway on acme-web-01"));

        // A second check-in refreshes the same instance instead of adding one.
        let mut again = gateway("c-gw");
        again.health = Some("healthy".into());
        check_in(&w.works, &agent, vec![again, plain("c-web"), managed("c-ours")]).await;
        let found = all(&w.works, &w).await;
        assert_eq!(found.len(), 1, "[{}] no duplicate", backend.name);
        assert_eq!(found[0].id, i.id);
        assert_eq!(found[0].health.as_deref(), Some("running, healthy"));
        assert_eq!(found[0].discovered_at, i.discovered_at);

        // Discovery is recorded once, as leaving the container alone.
        let audit = w
            .works
            .audit_query(&w.msp_admin.actor, AuditQuery { action: Some("instance.discover".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(audit.records.len(), 1, "[{}]", backend.name);
        assert!(audit.records[0].reason.contains("left as it is"));

        // Check-ins without an inventory change nothing.
        w.works.agent_checkin(&agent, CheckIn { health: health(), containers: None }).await.unwrap();
        assert_eq!(all(&w.works, &w).await.len(), 1);

        // A container that is gone stays on record and says so; it comes back when seen again.
        check_in(&w.works, &agent, vec![plain("c-web")]).await;
        let gone = all(&w.works, &w).await;
        assert_eq!((gone.len(), gone[0].id.as_str()), (1, i.id.as_str()), "[{}]", backend.name);
        assert_eq!(gone[0].health.as_deref(), Some("missing: not in the node's last inventory"));
        assert_eq!(gone[0].state, InstanceState::Discovered);
        check_in(&w.works, &agent, vec![gateway("c-gw")]).await;
        assert_eq!(all(&w.works, &w).await[0].health.as_deref(), Some("running"));
        let audit = w
            .works
            .audit_query(&w.msp_admin.actor, AuditQuery { action: Some("instance.discover".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(audit.records.len(), 1, "[{}] still one discovery record", backend.name);
    }
}

#[tokio::test]
async fn instances_follow_node_tenancy() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let a = node(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let b = node(&w, "bolt-web-01", Some(&w.org_b.id)).await;
        check_in(&w.works, &enrolled(&w.works, &w.msp_admin.actor, &a).await, vec![gateway("c-a")]).await;
        check_in(&w.works, &enrolled(&w.works, &w.msp_admin.actor, &b).await, vec![gateway("c-b")]).await;
        let everything = all(&w.works, &w).await;
        assert_eq!(everything.len(), 2, "[{}]", backend.name);
        let b_inst = everything.iter().find(|i| i.node_id == b.id).unwrap();

        let a_view = w.works.instance_list(&w.a_admin.actor, InstanceQuery::default()).await.unwrap().items;
        assert_eq!(a_view.len(), 1);
        assert_eq!(a_view[0].org_id.as_deref(), Some(w.org_a.id.as_str()));
        for p in [&w.a_user, &w.b_user] {
            assert!(w.works.instance_list(&p.actor, InstanceQuery::default()).await.unwrap().items.is_empty(), "[{}] organization users see none yet", backend.name);
        }
        let missing = w.works.instance_get(&w.a_admin.actor, "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff").await.unwrap_err();
        let foreign = w.works.instance_get(&w.a_admin.actor, &b_inst.id).await.unwrap_err();
        assert!(matches!(foreign, Error::NotFound { .. }), "[{}] {foreign:?}", backend.name);
        assert_eq!(missing.to_string().replace("0192f0a3-7c1b-7d2e-9f00-aabbccddeeff", "X"), foreign.to_string().replace(&b_inst.id, "X"));
        assert_eq!(w.works.instance_get(&w.b_admin.actor, &b_inst.id).await.unwrap().id, b_inst.id);
    }
}

#[tokio::test]
async fn takeover_needs_the_exact_phrase_an_approver_and_the_tenant() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let a = node(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let agent = enrolled(&w.works, &w.msp_admin.actor, &a).await;
        check_in(&w.works, &agent, vec![gateway("c-gw")]).await;
        let inst = all(&w.works, &w).await.remove(0);
        let phrase = inst.takeover_phrase.clone().unwrap();

        // Wrong phrase, wrong role, other tenant: refused, each recorded, nothing changed.
        let wrong = w.works.instance_takeover(&w.msp_operator.actor, &inst.id, TakeoverInput { phrase: "take over openclaw".into() }).await.unwrap_err();
        assert!(matches!(wrong, Error::InvalidInput { .. }), "[{}] {wrong:?}", backend.name);
        assert!(wrong.to_string().contains(&phrase), "the refusal says what to type: {wrong}");
        let upper = w.works.instance_takeover(&w.msp_operator.actor, &inst.id, TakeoverInput { phrase: phrase.to_uppercase() }).await;
        assert!(upper.is_err(), "[{}] typed exactly", backend.name);
        let role = w.works.instance_takeover(&w.a_user.actor, &inst.id, TakeoverInput { phrase: phrase.clone() }).await.unwrap_err();
        assert!(matches!(role, Error::NotFound { .. } | Error::Forbidden { .. }), "[{}] {role:?}", backend.name);
        let tenant = w.works.instance_takeover(&w.b_admin.actor, &inst.id, TakeoverInput { phrase: phrase.clone() }).await.unwrap_err();
        assert!(matches!(tenant, Error::NotFound { .. }), "[{}] {tenant:?}", backend.name);
        assert_eq!(w.works.instance_get(&w.msp_admin.actor, &inst.id).await.unwrap().state, InstanceState::Discovered);
        for (who, outcome) in [(&w.msp_operator, Outcome::Rejected), (&w.a_user, Outcome::Denied), (&w.b_admin, Outcome::Denied)] {
            let refused = w
                .works
                .audit_query(&w.msp_admin.actor, AuditQuery { actor_id: Some(who.actor.id.clone()), action: Some("instance.takeover".into()), ..Default::default() })
                .await
                .unwrap();
            assert!(refused.records.iter().any(|r| r.outcome == outcome), "[{}] {} refusal recorded: {:?}", backend.name, who.actor.name, refused.records);
        }

        // The organization's own admin may take it over with the phrase.
        let done = w.works.instance_takeover(&w.a_admin.actor, &inst.id, TakeoverInput { phrase: phrase.clone() }).await.unwrap();
        assert_eq!(done.state, InstanceState::Managed);
        assert_eq!((done.id.as_str(), done.container_id.as_str(), done.node_id.as_str()), (inst.id.as_str(), "c-gw", a.id.as_str()));
        assert_eq!(done.taken_over_by.as_deref(), Some(w.a_admin.actor.name.as_str()));
        assert!(done.takeover_phrase.is_none());
        let stored = w.works.instance_get(&w.msp_admin.actor, &inst.id).await.unwrap();
        assert_eq!(stored, done, "[{}] what the call answers is what is stored", backend.name);
        let ok = w
            .works
            .audit_query(&w.msp_admin.actor, AuditQuery { action: Some("instance.takeover".into()), outcome: Some(Outcome::Succeeded), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(ok.records.len(), 1);
        assert!(ok.records[0].reason.contains("not restarted or changed"), "{}", ok.records[0].reason);
        assert!(ok.records[0].reason.contains("nothing was sent to the agent"));
        // No job was made for it.
        assert!(w.works.job_list(&w.msp_admin.actor, Default::default()).await.unwrap().items.is_empty());

        // Twice is a conflict; a later check-in keeps it managed and does not rediscover it.
        let twice = w.works.instance_takeover(&w.a_admin.actor, &inst.id, TakeoverInput { phrase }).await.unwrap_err();
        assert!(matches!(twice, Error::Conflict { .. }), "[{}] {twice:?}", backend.name);
        check_in(&w.works, &agent, vec![gateway("c-gw")]).await;
        let after = all(&w.works, &w).await;
        assert_eq!(after.len(), 1);
        assert_eq!((after[0].state, after[0].container_id.as_str()), (InstanceState::Managed, "c-gw"));
    }
}

/// What an agent's check-ins record names its node by the node's current name. Renamed
/// through this server: at the next check-in. Renamed through another server sharing
/// the database: once this server's memory of the agent is ten minutes old.
#[tokio::test]
async fn discoveries_name_the_node_by_its_name_after_a_rename() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let n = node(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let token = w.works.enrollment_token_create(admin, &n.id).await.unwrap();
        let cred = w.works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap().credential;
        let check = |containers: Vec<Container>| CheckIn { health: health(), containers: Some(containers) };
        let last_discovery = || async {
            let audit = w.works.audit_query(admin, AuditQuery { action: Some("instance.discover".into()), ..Default::default() }).await.unwrap();
            audit.records.iter().max_by_key(|r| r.seq).map(|r| r.reason.clone()).unwrap_or_default()
        };
        // Remembered by this server from its first check-in.
        w.works.agent_checkin_with_credential(&cred, check(vec![])).await.unwrap();

        w.works.node_rename(admin, &n.id, works_core::RenameNode { name: "acme-web-renamed".into() }).await.unwrap();
        w.works.agent_checkin_with_credential(&cred, check(vec![gateway("c-1")])).await.unwrap();
        let reason = last_discovery().await;
        assert!(reason.contains("on node acme-web-renamed "), "[{}] {reason}", backend.name);

        // Another server renames it.
        let other = Works::new(backend.store.clone()).with_clock(w.clock.clone());
        other.node_rename(admin, &n.id, works_core::RenameNode { name: "acme-web-third".into() }).await.unwrap();
        w.clock.advance(chrono::Duration::minutes(11));
        w.works.agent_checkin_with_credential(&cred, check(vec![gateway("c-1"), gateway("c-2")])).await.unwrap();
        let reason = last_discovery().await;
        assert!(reason.contains("on node acme-web-third "), "[{}] {reason}", backend.name);
    }
}
