//! The executive status summary: each role's counts, incidents and versions come from
//! exactly what it may see — an organization admin never learns anything of another
//! organization — and reading it changes nothing. Runs on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use works_core::{
    AgentIdentity, AssignInput, AuditQuery, CheckIn, Container, EnrollRequest, HealthState, InstanceQuery, JobKind, JobReport, NewJob, NewNode, Node,
    NodeHealth, StatusSummary, TakeoverInput,
};
use works_guarantees::{backends, World};

fn gateway(name: &str, version: &str) -> Container {
    Container {
        id: format!("c-{name}"),
        name: name.into(),
        image: format!("anthropy/openclaw:{version}"),
        state: "running".into(),
        health: Some("healthy".into()),
        labels: BTreeMap::new(),
        ports: vec![],
        mounts: vec![],
    }
}

/// A node of `org` whose agent checked in with the given (name, version) gateways, each taken over.
async fn fleet_node(w: &World, name: &str, org: Option<&str>, containers: &[(&str, &str)]) -> (Node, AgentIdentity, Vec<String>) {
    let n = w.works.node_create(&w.msp_admin.actor, NewNode { name: name.into(), org_id: org.map(str::to_owned) }).await.unwrap();
    let token = w.works.enrollment_token_create(&w.msp_admin.actor, &n.id).await.unwrap();
    let cred = w.works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
    let agent = w.works.authenticate_agent(&cred.credential).await.unwrap();
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    let list = containers.iter().map(|(c, v)| gateway(c, v)).collect();
    w.works.agent_checkin(&agent, CheckIn { health, containers: Some(list) }).await.unwrap();
    let found = w.works.instance_list(&w.msp_admin.actor, InstanceQuery { node_id: Some(n.id.clone()), ..Default::default() }).await.unwrap().items;
    let mut ids = Vec::new();
    for (c, _) in containers {
        let i = found.iter().find(|i| i.container_name == *c).unwrap().clone();
        let phrase = i.takeover_phrase.clone().unwrap();
        ids.push(w.works.instance_takeover(&w.msp_admin.actor, &i.id, TakeoverInput { phrase }).await.unwrap().id);
    }
    (n, agent, ids)
}

fn versions(s: &StatusSummary) -> Vec<(String, u32)> {
    s.versions.iter().map(|v| (v.version.clone(), v.instances)).collect()
}

#[tokio::test]
async fn each_role_gets_the_status_of_its_own_scope_only() {
    for backend in backends().await {
        let name = backend.name;
        let w = World::build(backend.store.clone()).await;
        let (a1, agent_a1, a_inst) = fleet_node(&w, "acme-web-01", Some(&w.org_a.id), &[("openclaw-a1", "2026.9.6"), ("openclaw-a2", "2026.8.1")]).await;
        let (_b1, _agent_b1, _) = fleet_node(&w, "bolt-app-01", Some(&w.org_b.id), &[("openclaw-b1", "2026.9.6")]).await;
        let _waiting = w.works.node_create(&w.msp_admin.actor, NewNode { name: "msp-spare-01".into(), org_id: None }).await.unwrap();
        w.works.instance_assign(&w.a_admin.actor, &a_inst[0], AssignInput { user_id: w.a_user.user.id.clone() }).await.unwrap();

        // Nothing is wrong yet.
        let s = w.works.status_summary(&w.msp_admin.actor).await.unwrap();
        assert_eq!(s.state, HealthState::Healthy, "[{name}] {s:?}");
        assert_eq!((s.counts.organizations, s.counts.nodes_online, s.counts.nodes_waiting), (2, 2, 1), "[{name}] {s:?}");
        assert_eq!((s.counts.instances_healthy, s.counts.instances_unhealthy, s.counts.jobs_failed_24h), (3, 0, 0), "[{name}]");
        assert_eq!(versions(&s), vec![("2026.9.6".to_owned(), 2), ("2026.8.1".to_owned(), 1)], "[{name}] most used first");
        assert!(s.incidents.is_empty(), "[{name}] {:?}", s.incidents);

        // A health check on Acme's node fails.
        let job = w.works.job_request(&w.msp_admin.actor, NewJob { node_id: a1.id.clone(), kind: JobKind::HealthCheck, params: serde_json::json!({}) }).await.unwrap();
        w.works.agent_claim(&agent_a1, std::time::Duration::ZERO).await.unwrap().unwrap();
        w.works.agent_job_start(&agent_a1, &job.id).await.unwrap();
        let report = JobReport { succeeded: false, result: None, output: None, reason: Some("Docker did not answer.".into()) };
        w.works.agent_job_complete(&agent_a1, &job.id, report).await.unwrap();
        let audit_before = w.works.audit_query(&w.msp_admin.actor, AuditQuery::default()).await.unwrap().records.first().map(|r| r.seq);

        for (person, who) in [(&w.msp_admin, "msp_admin"), (&w.msp_operator, "msp_operator")] {
            let s = w.works.status_summary(&person.actor).await.unwrap();
            assert_eq!(s.state, HealthState::Degraded, "[{name}] {who}");
            assert_eq!(s.counts.jobs_failed_24h, 1, "[{name}] {who}");
            assert_eq!(s.incidents.len(), 1, "[{name}] {who}: {:?}", s.incidents);
            assert!(s.incidents[0].title.contains("acme-web-01") && s.incidents[0].why.contains("Docker did not answer"), "[{name}] {:?}", s.incidents);
            assert!(!s.incidents[0].next_action.is_empty());
        }

        let a = w.works.status_summary(&w.a_admin.actor).await.unwrap();
        assert_eq!(a.state, HealthState::Degraded, "[{name}] a_admin");
        assert_eq!((a.counts.organizations, a.counts.nodes_online, a.counts.nodes_waiting), (1, 1, 0), "[{name}] a_admin: {a:?}");
        assert_eq!((a.counts.instances_healthy, a.counts.jobs_failed_24h, a.incidents.len()), (2, 1, 1), "[{name}] a_admin: {a:?}");
        assert_eq!(versions(&a), vec![("2026.9.6".to_owned(), 1), ("2026.8.1".to_owned(), 1)], "[{name}] a_admin");

        // Bolt's admin learns nothing of Acme: not its failure, its nodes, its versions.
        let b = w.works.status_summary(&w.b_admin.actor).await.unwrap();
        assert_eq!(b.state, HealthState::Healthy, "[{name}] b_admin: {b:?}");
        assert_eq!((b.counts.organizations, b.counts.nodes_online, b.counts.nodes_waiting), (1, 1, 0), "[{name}] b_admin: {b:?}");
        assert_eq!((b.counts.instances_healthy, b.counts.jobs_failed_24h), (1, 0), "[{name}] b_admin");
        assert!(b.incidents.is_empty(), "[{name}] b_admin: {:?}", b.incidents);
        assert_eq!(versions(&b), vec![("2026.9.6".to_owned(), 1)], "[{name}] b_admin");
        let text = serde_json::to_string(&b).unwrap();
        assert!(!text.contains("acme") && !text.contains("Acme") && !text.contains(&a1.id), "[{name}] b_admin: {text}");

        // An organization user: their assigned instance, no machines, no jobs.
        let u = w.works.status_summary(&w.a_user.actor).await.unwrap();
        assert_eq!((u.counts.organizations, u.counts.nodes_online, u.counts.instances_healthy, u.counts.jobs_failed_24h), (1, 0, 1, 0), "[{name}] a_user: {u:?}");
        assert_eq!(versions(&u), vec![("2026.9.6".to_owned(), 1)], "[{name}] a_user");
        let u2 = w.works.status_summary(&w.a_user2.actor).await.unwrap();
        assert_eq!((u2.counts.instances_healthy, u2.versions.len()), (0, 0), "[{name}] a_user2: {u2:?}");
        let bu = w.works.status_summary(&w.b_user.actor).await.unwrap();
        assert!(!serde_json::to_string(&bu).unwrap().contains("acme"), "[{name}] b_user");

        // Reading the summary changes nothing.
        let audit_after = w.works.audit_query(&w.msp_admin.actor, AuditQuery::default()).await.unwrap().records.first().map(|r| r.seq);
        assert_eq!(audit_before, audit_after, "[{name}] the summary is read-only");
    }
}
