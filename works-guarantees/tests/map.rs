//! The fleet map of the Command Center: each role gets exactly the objects it may see —
//! MSP roles everything, an organization admin their organization, an organization user
//! their assigned instances and their own workflows and connections — with no edge to
//! anything outside that set; a node going quiet becomes a hotspot on that node, with a
//! reason and a next action, for those who may see it only. Runs on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use chrono::Duration;
use works_core::{
    AgentIdentity, AssignInput, CheckIn, Container, EnrollRequest, FleetMap, Instance, InstanceQuery, JobKind, MapKind, NewConnection, NewJob,
    NewNode, NewWorkflow, Node, NodeHealth, Provider, TakeoverInput, WorkflowStep,
};
use works_guarantees::{backends, Person, World};

async fn node(w: &World, name: &str, org: Option<&str>) -> Node {
    w.works.node_create(&w.msp_admin.actor, NewNode { name: name.into(), org_id: org.map(str::to_owned) }).await.unwrap()
}

async fn enrolled(w: &World, node: &Node) -> AgentIdentity {
    let token = w.works.enrollment_token_create(&w.msp_admin.actor, &node.id).await.unwrap();
    let cred = w.works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
    w.works.authenticate_agent(&cred.credential).await.unwrap()
}

fn gateway(name: &str) -> Container {
    Container {
        id: format!("c-{name}"),
        name: name.into(),
        image: "anthropy/openclaw:2026.9.6".into(),
        state: "running".into(),
        health: Some("healthy".into()),
        labels: BTreeMap::new(),
        ports: vec![],
        mounts: vec![],
    }
}

async fn check_in(w: &World, agent: &AgentIdentity, containers: &[&str]) {
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    let containers = Some(containers.iter().map(|c| gateway(c)).collect());
    w.works.agent_checkin(agent, CheckIn { health, containers }).await.unwrap();
}

/// A node of `org` running the named OpenClaw containers, each taken over.
async fn fleet_node(w: &World, name: &str, org: Option<&str>, containers: &[&str]) -> (Node, AgentIdentity, Vec<Instance>) {
    let n = node(w, name, org).await;
    let agent = enrolled(w, &n).await;
    check_in(w, &agent, containers).await;
    let mut out = Vec::new();
    let found = w.works.instance_list(&w.msp_admin.actor, InstanceQuery { node_id: Some(n.id.clone()), ..Default::default() }).await.unwrap().items;
    for c in containers {
        let i = found.iter().find(|i| i.container_name == *c).unwrap().clone();
        let phrase = i.takeover_phrase.clone().unwrap();
        out.push(w.works.instance_takeover(&w.msp_admin.actor, &i.id, TakeoverInput { phrase }).await.unwrap());
    }
    (n, agent, out)
}

async fn connection(w: &World, who: &Person, name: &str) -> works_core::Connection {
    w.works
        .connection_create(&who.actor, NewConnection { instances: vec![], org_id: None, name: name.into(), provider: Provider::Generic, capabilities: vec![], credential: None, status: None })
        .await
        .unwrap()
}

async fn workflow(w: &World, who: &Person, name: &str) -> works_core::Workflow {
    let step = WorkflowStep { capability_id: "summarize".into(), action: "summarize_text".into(), connection_id: None, parameters: serde_json::json!({}) };
    w.works.workflow_create(&who.actor, NewWorkflow { org_id: None, name: name.into(), description: None, steps: vec![step] }).await.unwrap()
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// What one person should see, by record id.
#[derive(Default)]
struct Expect<'a> {
    orgs: Vec<&'a str>,
    nodes: Vec<&'a str>,
    instances: Vec<&'a str>,
    jobs: Vec<&'a str>,
    workflows: Vec<&'a str>,
    connections: Vec<&'a str>,
}

fn check(backend: &str, who: &str, m: &FleetMap, e: &Expect) {
    for (kind, want) in [
        (MapKind::Organization, &e.orgs),
        (MapKind::Node, &e.nodes),
        (MapKind::Instance, &e.instances),
        (MapKind::Job, &e.jobs),
        (MapKind::Workflow, &e.workflows),
        (MapKind::Connection, &e.connections),
    ] {
        assert_eq!(m.record_ids(kind), sorted(want), "[{backend}] {who} sees exactly the permitted {}s", kind.as_str());
    }
    let total = e.orgs.len() + e.nodes.len() + e.instances.len() + e.jobs.len() + e.workflows.len() + e.connections.len();
    assert_eq!(m.nodes.len(), total, "[{backend}] {who}: nothing else on the map");
    for edge in &m.edges {
        assert!(m.node(&edge.from).is_some() && m.node(&edge.to).is_some(), "[{backend}] {who}: edge {edge:?} leads outside the map");
    }
    for n in &m.nodes {
        assert!(m.groups.iter().any(|g| g.id == n.group), "[{backend}] {who}: {} is in a group that was sent", n.id);
        assert!(!n.label.is_empty() && !n.status.is_empty() && !n.why.is_empty(), "[{backend}] {who}: {n:?}");
    }
    for h in &m.hotspots {
        if let Some(t) = &h.target {
            assert!(m.node(t).is_some(), "[{backend}] {who}: hotspot {} marks something outside the map", h.id);
        }
    }
}

#[tokio::test]
async fn each_role_sees_exactly_its_part_of_the_map() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let name = backend.name;
        let (a1, agent_a1, a_inst) = fleet_node(&w, "acme-web-01", Some(&w.org_a.id), &["openclaw-a1", "openclaw-a2"]).await;
        let (b1, agent_b1, b_inst) = fleet_node(&w, "bolt-app-01", Some(&w.org_b.id), &["openclaw-b1"]).await;
        let (m1, agent_m1, _) = fleet_node(&w, "msp-jump-01", None, &[]).await;
        let (ia1, ia2, ib1) = (a_inst[0].id.as_str(), a_inst[1].id.as_str(), b_inst[0].id.as_str());
        w.works.instance_assign(&w.a_admin.actor, ia1, AssignInput { user_id: w.a_user.user.id.clone() }).await.unwrap();
        let job = w.works.job_request(&w.msp_admin.actor, NewJob { node_id: a1.id.clone(), kind: JobKind::HealthCheck, params: serde_json::json!({}) }).await.unwrap();
        let c_user = connection(&w, &w.a_user, "My notes").await;
        let c_admin = connection(&w, &w.a_admin, "Acme books").await;
        let c_b = connection(&w, &w.b_admin, "Bolt books").await;
        let wf_user = workflow(&w, &w.a_user, "My weekly summary").await;
        let wf_admin = workflow(&w, &w.a_admin, "Acme monthly summary").await;
        let wf_b = workflow(&w, &w.b_admin, "Bolt summary").await;

        let (a, b) = (w.org_a.id.as_str(), w.org_b.id.as_str());
        let everything = Expect {
            orgs: vec![a, b],
            nodes: vec![&a1.id, &b1.id, &m1.id],
            instances: vec![ia1, ia2, ib1],
            jobs: vec![&job.id],
            workflows: vec![&wf_user.id, &wf_admin.id, &wf_b.id],
            connections: vec![&c_user.id, &c_admin.id, &c_b.id],
        };
        let a_admin = Expect {
            orgs: vec![a],
            nodes: vec![&a1.id],
            instances: vec![ia1, ia2],
            jobs: vec![&job.id],
            workflows: vec![&wf_user.id, &wf_admin.id],
            connections: vec![&c_user.id, &c_admin.id],
        };
        let a_user = Expect { orgs: vec![a], instances: vec![ia1], workflows: vec![&wf_user.id], connections: vec![&c_user.id], ..Default::default() };
        let a_user2 = Expect { orgs: vec![a], ..Default::default() };
        let b_admin = Expect { orgs: vec![b], nodes: vec![&b1.id], instances: vec![ib1], workflows: vec![&wf_b.id], connections: vec![&c_b.id], ..Default::default() };
        let b_user = Expect { orgs: vec![b], ..Default::default() };
        let expected: Vec<(&Person, &str, &Expect)> = vec![
            (&w.msp_admin, "msp_admin", &everything),
            (&w.msp_operator, "msp_operator", &everything),
            (&w.a_admin, "a_admin", &a_admin),
            (&w.a_user, "a_user", &a_user),
            (&w.a_user2, "a_user2", &a_user2),
            (&w.b_admin, "b_admin", &b_admin),
            (&w.b_user, "b_user", &b_user),
        ];
        for (person, who, e) in &expected {
            let m = w.works.map(&person.actor).await.unwrap();
            check(name, who, &m, e);
            assert!(m.hotspots.is_empty(), "[{name}] {who}: nothing is wrong yet: {:?}", m.hotspots);
        }

        // The shape: an instance hangs from its node, the job works on its node, the
        // shared node is in the MSP's own group.
        let m = w.works.map(&w.msp_admin.actor).await.unwrap();
        let inst = m.node(&format!("instance:{ia1}")).unwrap();
        assert_eq!(inst.parent.as_deref(), Some(format!("node:{}", a1.id).as_str()));
        assert_eq!((inst.label.as_str(), inst.status.as_str(), inst.group.as_str()), ("openclaw-a1", "healthy", format!("org:{a}").as_str()));
        assert!(m.edges.iter().any(|e| e.from == format!("job:{}", job.id) && e.to == format!("node:{}", a1.id)));
        assert_eq!(m.node(&format!("node:{}", m1.id)).unwrap().group, "org:msp");
        let mut labels: Vec<&str> = m.groups.iter().map(|g| g.label.as_str()).collect();
        labels.sort_unstable();
        assert_eq!(labels, vec!["Acme Dental", "Bolt Logistics", "Shared MSP infrastructure"], "[{name}]");

        // acme-web-01 goes quiet: a hotspot on it, for those who see it.
        w.clock.advance(Duration::seconds(120));
        check_in(&w, &agent_b1, &["openclaw-b1"]).await;
        check_in(&w, &agent_m1, &[]).await;
        drop(agent_a1);
        let stale = format!("node:{}", a1.id);
        for (person, who, e) in &expected {
            let m = w.works.map(&person.actor).await.unwrap();
            check(name, who, &m, e);
            let sees_node = e.nodes.contains(&a1.id.as_str());
            let spot = m.hotspots.iter().find(|h| h.target.as_deref() == Some(stale.as_str()));
            assert_eq!(spot.is_some(), sees_node, "[{name}] {who}: the stale node is a hotspot exactly for those who see it: {:?}", m.hotspots);
            if let Some(h) = spot {
                assert_eq!(h.id, format!("node-stale:{}", a1.id));
                assert!(h.title.contains("acme-web-01") && !h.why.is_empty() && !h.next_action.is_empty(), "[{name}] {h:?}");
                let n = m.node(&stale).unwrap();
                assert!(n.hotspot && n.status == "stale" && n.next_action.is_some(), "[{name}] {n:?}");
                let g = m.groups.iter().find(|g| g.id == format!("org:{a}")).unwrap();
                assert_eq!((g.status.as_str(), g.hotspots), ("attention", 1), "[{name}] {who}");
            }
            assert!(!m.hotspots.iter().any(|h| h.target.is_none() && h.id.starts_with("node")), "[{name}] {who}");
            if *who == "b_admin" {
                assert!(m.hotspots.is_empty() && m.groups.iter().all(|g| g.status != "attention"), "[{name}] b_admin: {:?}", m.hotspots);
            }
        }
    }
}
