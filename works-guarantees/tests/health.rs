//! System health: each documented condition moves the answer, acknowledged issues and
//! test or validation records do not, and every actor sees only their own tenant's
//! issues. Runs on SQLite and PostgreSQL.

use chrono::Duration;
use works_core::{
    AgentIdentity, AuditQuery, CheckIn, EnrollRequest, Error, HealthReport, HealthState, JobKind, JobReport, NewJob,
    NewNode, Node, NodeHealth, Outcome,
};
use works_guarantees::{backends, World};

async fn node(w: &World, name: &str, org: Option<&str>) -> Node {
    w.works
        .node_create(&w.msp_admin.actor, NewNode { name: name.into(), org_id: org.map(str::to_owned) })
        .await
        .unwrap_or_else(|e| panic!("node {name}: {e}"))
}

async fn enrolled(w: &World, node: &Node) -> AgentIdentity {
    let token = w.works.enrollment_token_create(&w.msp_admin.actor, &node.id).await.unwrap();
    let cred = w
        .works
        .agent_enroll(EnrollRequest { token: token.token, hostname: Some(node.name.clone()), agent_version: Some("test".into()) })
        .await
        .unwrap();
    w.works.authenticate_agent(&cred.credential).await.unwrap()
}

async fn check_in(w: &World, agent: &AgentIdentity) {
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    w.works.agent_checkin(agent, CheckIn { health, containers: None }).await.unwrap();
}

/// A node with an agent that has just checked in.
async fn online(w: &World, name: &str, org: Option<&str>) -> (Node, AgentIdentity) {
    let n = node(w, name, org).await;
    let agent = enrolled(w, &n).await;
    check_in(w, &agent).await;
    (n, agent)
}

async fn failed_job(w: &World, agent: &AgentIdentity, node: &Node, params: serde_json::Value) -> works_core::Job {
    let job = w.works.job_request(&w.msp_admin.actor, NewJob { node_id: node.id.clone(), kind: JobKind::HealthCheck, params }).await.unwrap();
    let claimed = w.works.agent_claim(agent, std::time::Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(claimed.id, job.id);
    w.works.agent_job_start(agent, &job.id).await.unwrap();
    w.works
        .agent_job_complete(agent, &job.id, JobReport { succeeded: false, result: None, output: Some("boom".into()), reason: Some("Docker did not answer.".into()) })
        .await
        .unwrap()
}

fn ids(report: &HealthReport) -> Vec<&str> {
    report.issues.iter().map(|i| i.id.as_str()).collect()
}

#[tokio::test]
async fn each_condition_moves_the_answer_as_documented() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let name = backend.name;

        // Nothing wrong: healthy. A node that never enrolled is waiting to be set up, not down.
        let (one, agent1) = online(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let (two, agent2) = online(&w, "acme-web-02", Some(&w.org_a.id)).await;
        node(&w, "acme-new-03", Some(&w.org_a.id)).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Healthy, "[{name}] {r:?}");
        assert!(r.issues.is_empty() && r.acknowledged.is_empty() && r.validation.is_empty(), "[{name}] {r:?}");
        assert!(r.summary.starts_with("Everything is working"), "[{name}] {}", r.summary);

        // Stale: quiet for longer than 90 seconds.
        w.clock.advance(Duration::seconds(120));
        check_in(&w, &agent2).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Degraded, "[{name}]");
        assert_eq!(ids(&r), vec![format!("node-stale:{}", one.id).as_str()], "[{name}]");
        let issue = &r.issues[0];
        assert_eq!(issue.link, format!("/ui/nodes/{}", one.id));
        assert_eq!(issue.kind, "node");
        assert!(issue.title.contains("acme-web-01") && !issue.why.is_empty() && !issue.next_action.is_empty());
        assert_eq!(issue.detail["node_id"], serde_json::json!(one.id));

        // Offline while another node is online: degraded.
        w.clock.advance(Duration::seconds(240));
        check_in(&w, &agent2).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Degraded, "[{name}]");
        assert_eq!(ids(&r), vec![format!("node-offline:{}", one.id).as_str()], "[{name}]");
        assert_eq!(r.issues[0].severity, HealthState::Degraded);

        // Every node offline: critical.
        w.clock.advance(Duration::minutes(6));
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Critical, "[{name}] {r:?}");
        assert_eq!(r.issues.len(), 2);
        assert!(r.issues.iter().all(|i| i.severity == HealthState::Critical && i.id.starts_with("node-offline:")));

        // Back online: healthy again.
        check_in(&w, &agent1).await;
        check_in(&w, &agent2).await;
        assert_eq!(w.works.health(admin).await.unwrap().state, HealthState::Healthy, "[{name}]");

        // A failed job in the last 24 hours: degraded, until it is older than that.
        let job = failed_job(&w, &agent1, &one, serde_json::json!({})).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Degraded, "[{name}]");
        assert_eq!(ids(&r), vec![format!("job-failed:{}", job.id).as_str()]);
        assert_eq!(r.issues[0].link, format!("/ui/jobs/{}", job.id));
        assert!(r.issues[0].why.contains("Docker did not answer"), "{}", r.issues[0].why);
        w.clock.advance(Duration::hours(25));
        check_in(&w, &agent1).await;
        check_in(&w, &agent2).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Healthy, "[{name}] {r:?}");

        // A retired node raises nothing, however long it has been quiet.
        w.clock.advance(Duration::minutes(6));
        check_in(&w, &agent2).await;
        assert_eq!(ids(&w.works.health(admin).await.unwrap()), vec![format!("node-offline:{}", one.id).as_str()], "[{name}]");
        w.works.node_retire(admin, &one.id).await.unwrap();
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Healthy, "[{name}] {r:?}");
        assert_eq!(two.name, "acme-web-02");
    }
}

#[tokio::test]
async fn a_recovery_monitor_that_stopped_renewing_its_lease_degrades_the_answer_for_the_msp() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let name = backend.name;
        // No monitor has ever run against this database: nothing to say.
        assert_eq!(w.works.health(&w.msp_admin.actor).await.unwrap().state, HealthState::Healthy);
        // A monitor renews every 10 seconds, for three intervals at a time.
        let now = w.works.health(&w.msp_admin.actor).await.unwrap().checked_at;
        assert!(backend.store.try_lease("recovery-monitor", "server-1", now, Duration::seconds(30)).await.unwrap());
        w.clock.advance(Duration::seconds(29));
        assert_eq!(w.works.health(&w.msp_admin.actor).await.unwrap().state, HealthState::Healthy, "[{name}]");
        w.clock.advance(Duration::seconds(2));
        let r = w.works.health(&w.msp_operator.actor).await.unwrap();
        assert_eq!(r.state, HealthState::Degraded, "[{name}]");
        assert_eq!(ids(&r), vec!["recovery-monitor"]);
        assert_eq!(r.issues[0].detail["last_holder"], serde_json::json!("server-1"));
        // It is the MSP's own machinery: organization admins are not told.
        assert_eq!(w.works.health(&w.a_admin.actor).await.unwrap().state, HealthState::Healthy);
    }
}

#[tokio::test]
async fn an_acknowledged_issue_leaves_the_answer_until_its_condition_changes() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let name = backend.name;
        let (one, agent1) = online(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let (_two, agent2) = online(&w, "acme-web-02", Some(&w.org_a.id)).await;
        w.clock.advance(Duration::minutes(6));
        check_in(&w, &agent2).await;
        let issue_id = format!("node-offline:{}", one.id);
        assert_eq!(ids(&w.works.health(admin).await.unwrap()), vec![issue_id.as_str()]);

        let acked = w.works.health_acknowledge(&w.a_admin.actor, &issue_id, "Machine is being moved to a new rack.").await.unwrap();
        assert!(acked.acknowledged);
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Healthy, "[{name}] {r:?}");
        assert!(r.issues.is_empty());
        assert_eq!(r.acknowledged.len(), 1);
        let ack = r.acknowledged[0].acknowledgement.clone().unwrap();
        assert_eq!(ack.note, "Machine is being moved to a new rack.");
        assert_eq!(ack.acknowledged_by, w.a_admin.actor.name);
        let audit = w
            .works
            .audit_query(admin, AuditQuery { action: Some("health.acknowledge".into()), outcome: Some(Outcome::Succeeded), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(audit.records.len(), 1, "[{name}]");
        assert_eq!(audit.records[0].target_id.as_deref(), Some(issue_id.as_str()));
        assert_eq!(audit.records[0].org_id.as_deref(), Some(w.org_a.id.as_str()));

        // Still offline, still acknowledged, however long it stays so.
        w.clock.advance(Duration::minutes(30));
        check_in(&w, &agent2).await;
        assert_eq!(w.works.health(admin).await.unwrap().state, HealthState::Healthy);

        // It comes back, then goes offline again: a new condition, a current issue again.
        check_in(&w, &agent1).await;
        w.clock.advance(Duration::minutes(6));
        check_in(&w, &agent2).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Degraded, "[{name}]");
        assert_eq!(ids(&r), vec![issue_id.as_str()]);
        assert!(r.acknowledged.is_empty());

        // A failed job acknowledged; a new failure is a new issue.
        check_in(&w, &agent1).await;
        let first = failed_job(&w, &agent1, &one, serde_json::json!({})).await;
        w.works.health_acknowledge(&w.msp_operator.actor, &format!("job-failed:{}", first.id), "known flaky check").await.unwrap();
        assert_eq!(w.works.health(admin).await.unwrap().state, HealthState::Healthy, "[{name}]");
        let second = failed_job(&w, &agent1, &one, serde_json::json!({})).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(ids(&r), vec![format!("job-failed:{}", second.id).as_str()], "[{name}]");
    }
}

#[tokio::test]
async fn test_and_validation_records_are_listed_apart_and_never_move_the_answer() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let name = backend.name;
        let (real, real_agent) = online(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let (check, check_agent) = online(&w, "validation-acme-01", Some(&w.org_a.id)).await;
        // A validation job on a real node, and any job on a validation node.
        let marked = failed_job(&w, &real_agent, &real, serde_json::json!({ "validation": true })).await;
        let on_check = failed_job(&w, &check_agent, &check, serde_json::json!({})).await;
        // The validation node goes offline; the real one stays up.
        w.clock.advance(Duration::minutes(6));
        check_in(&w, &real_agent).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Healthy, "[{name}] {r:?}");
        assert!(r.issues.is_empty());
        let mut listed: Vec<String> = r.validation.iter().map(|i| i.id.clone()).collect();
        listed.sort();
        let mut expected = vec![format!("job-failed:{}", marked.id), format!("job-failed:{}", on_check.id), format!("node-offline:{}", check.id)];
        expected.sort();
        assert_eq!(listed, expected, "[{name}]");
        // Every real node offline, the validation one too: critical, counted on the real one only.
        w.clock.advance(Duration::minutes(6));
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Critical, "[{name}]");
        assert_eq!(ids(&r), vec![format!("node-offline:{}", real.id).as_str()]);
        assert!(r.validation.iter().all(|i| i.severity == HealthState::Degraded));
    }
}

#[tokio::test]
async fn each_actor_sees_and_acknowledges_only_their_own_tenants_issues() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let name = backend.name;
        let (a_node, _a) = online(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let (b_node, _b) = online(&w, "bolt-web-01", Some(&w.org_b.id)).await;
        let (shared, _s) = online(&w, "msp-jump-01", None).await;
        w.clock.advance(Duration::minutes(2));
        let a_issue = format!("node-stale:{}", a_node.id);
        let b_issue = format!("node-stale:{}", b_node.id);

        let msp = w.works.health(&w.msp_operator.actor).await.unwrap();
        assert_eq!(msp.issues.len(), 3, "[{name}] {msp:?}");
        let a = w.works.health(&w.a_admin.actor).await.unwrap();
        assert_eq!(ids(&a), vec![a_issue.as_str()], "[{name}]");
        let b = w.works.health(&w.b_admin.actor).await.unwrap();
        assert_eq!(ids(&b), vec![b_issue.as_str()], "[{name}]");
        for user in [&w.a_user, &w.b_user] {
            let r = w.works.health(&user.actor).await.unwrap();
            assert_eq!(r.state, HealthState::Healthy, "[{name}] organization users have no machines");
            assert!(r.issues.is_empty() && r.acknowledged.is_empty() && r.validation.is_empty());
        }

        // B's issue and the MSP's own answer A's admin as missing, and the attempt is recorded.
        for foreign in [b_issue.as_str(), &format!("node-stale:{}", shared.id), "node-stale:no-such-node"] {
            let got = w.works.health_acknowledge(&w.a_admin.actor, foreign, "not mine").await;
            assert!(matches!(got, Err(Error::NotFound { .. })), "[{name}] {foreign}: {got:?}");
        }
        let got = w.works.health_acknowledge(&w.a_user.actor, &a_issue, "mine?").await;
        assert!(matches!(got, Err(Error::NotFound { .. })), "[{name}] {got:?}");
        let denied = w
            .works
            .audit_query(
                &w.msp_admin.actor,
                AuditQuery { action: Some("health.acknowledge".into()), outcome: Some(Outcome::Denied), ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(denied.records.len(), 4, "[{name}]");
        assert!(denied.records.iter().any(|r| r.actor_id == w.a_admin.actor.id && r.target_id.as_deref() == Some(b_issue.as_str())));
        // Nothing of B's changed.
        assert_eq!(ids(&w.works.health(&w.b_admin.actor).await.unwrap()), vec![b_issue.as_str()]);

        // A's admin acknowledges A's own issue; the MSP sees it reviewed, B is untouched.
        w.works.health_acknowledge(&w.a_admin.actor, &a_issue, "planned maintenance").await.unwrap();
        let msp = w.works.health(&w.msp_admin.actor).await.unwrap();
        assert_eq!(msp.issues.len(), 2);
        assert_eq!(msp.acknowledged.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), vec![a_issue.as_str()]);
        assert!(w.works.health(&w.b_admin.actor).await.unwrap().acknowledged.is_empty());
    }
}

#[tokio::test]
async fn a_long_note_is_refused_and_metrics_are_for_the_msp() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let (n, _) = online(&w, "acme-web-01", Some(&w.org_a.id)).await;
        w.clock.advance(Duration::minutes(2));
        let id = format!("node-stale:{}", n.id);
        let got = w.works.health_acknowledge(&w.msp_admin.actor, &id, &"x".repeat(1001)).await;
        assert!(matches!(got, Err(Error::InvalidInput { .. })), "{got:?}");
        let m = w.works.metrics(&w.msp_operator.actor).await.unwrap();
        assert_eq!(m.state, HealthState::Degraded);
        assert!(m.nodes_by_status.contains(&("stale".to_owned(), 1)));
        assert_eq!(m.counts.orgs, 2);
        assert!(m.counts.users >= 7 && m.counts.audit_records > 0);
        assert!(matches!(w.works.metrics(&w.a_admin.actor).await, Err(Error::Forbidden { .. })));
    }
}

/// Runs one statement on the test database behind the store's back.
async fn execute(backend: &works_guarantees::Backend, statement: &str) {
    use sqlx::Connection;
    if backend.name == "sqlite" {
        let mut c = sqlx::SqliteConnection::connect(&backend.url).await.unwrap();
        sqlx::query(statement).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(&backend.url).await.unwrap();
        sqlx::query(statement).execute(&mut c).await.unwrap();
    }
}

#[tokio::test]
async fn a_database_that_cannot_be_read_is_critical_for_the_msp() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let name = backend.name;
        assert_eq!(w.works.health(&w.msp_admin.actor).await.unwrap().state, HealthState::Healthy);
        // The store can no longer confirm it is migrated: it is not usable.
        execute(&backend, "ALTER TABLE _sqlx_migrations RENAME TO migrations_moved_away").await;
        let r = w.works.health(&w.msp_operator.actor).await.unwrap();
        assert_eq!(r.state, HealthState::Critical, "[{name}] {r:?}");
        assert_eq!(ids(&r), vec!["database-unreachable"]);
        assert!(!r.issues[0].next_action.is_empty());
        // An organization admin is not shown the MSP's machinery; they get the error.
        assert!(w.works.health(&w.a_admin.actor).await.is_err(), "[{name}]");
        execute(&backend, "ALTER TABLE migrations_moved_away RENAME TO _sqlx_migrations").await;
        assert_eq!(w.works.health(&w.msp_admin.actor).await.unwrap().state, HealthState::Healthy, "[{name}]");
    }
}

fn openclaw(id: &str, state: &str, health: Option<&str>) -> works_core::Container {
    works_core::Container {
        id: id.into(),
        name: format!("openclaw-{id}"),
        image: "anthropy/openclaw:2026.9.6".into(),
        state: state.into(),
        health: health.map(str::to_owned),
        labels: Default::default(),
        ports: vec![works_core::PublishedPort { container_port: 18789, host_port: Some(18789), host_ip: Some("127.0.0.1".into()), protocol: "tcp".into() }],
        mounts: vec![],
    }
}

async fn inventory(w: &World, agent: &AgentIdentity, containers: Vec<works_core::Container>) {
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    w.works.agent_checkin(agent, CheckIn { health, containers: Some(containers) }).await.unwrap();
}

#[tokio::test]
async fn unhealthy_and_missing_openclaw_instances_degrade_the_answer_within_their_tenant() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let name = backend.name;
        let (_, agent_a) = online(&w, "acme-oc-01", Some(&w.org_a.id)).await;
        let (_, agent_b) = online(&w, "bolt-oc-01", Some(&w.org_b.id)).await;

        // Running (with or without a passing health check): healthy.
        inventory(&w, &agent_a, vec![openclaw("a1", "running", Some("healthy")), openclaw("a2", "running", None)]).await;
        inventory(&w, &agent_b, vec![openclaw("b1", "running", Some("starting"))]).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Healthy, "[{name}] {r:?}");

        // a1's health check fails; a2 is gone from the inventory.
        inventory(&w, &agent_a, vec![openclaw("a1", "running", Some("unhealthy"))]).await;
        let instances = w.works.instance_list(admin, works_core::InstanceQuery::default()).await.unwrap().items;
        let a1 = instances.iter().find(|i| i.container_id == "a1").unwrap();
        let a2 = instances.iter().find(|i| i.container_id == "a2").unwrap();
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(r.state, HealthState::Degraded, "[{name}]");
        let mut want = [format!("instance-missing:{}", a2.id), format!("instance-unhealthy:{}", a1.id)];
        want.sort();
        assert_eq!(ids(&r), want.iter().map(String::as_str).collect::<Vec<_>>(), "[{name}]");
        let unhealthy = r.issues.iter().find(|i| i.id.starts_with("instance-unhealthy")).unwrap();
        assert_eq!(unhealthy.link, format!("/ui/instances/{}", a1.id), "[{name}]");
        assert_eq!(unhealthy.kind, "instance");
        assert!(unhealthy.title.contains("openclaw-a1") && unhealthy.title.contains("acme-oc-01"), "[{name}] {}", unhealthy.title);
        assert!(unhealthy.why.contains("unhealthy") && !unhealthy.next_action.is_empty(), "[{name}] {unhealthy:?}");
        let missing = r.issues.iter().find(|i| i.id.starts_with("instance-missing")).unwrap();
        assert!(missing.why.contains("inventory"), "[{name}] {}", missing.why);

        // Tenancy: organization A's admin sees A's instance issues; B's admin sees none of them.
        assert_eq!(w.works.health(&w.a_admin.actor).await.unwrap().issues.len(), 2, "[{name}]");
        let rb = w.works.health(&w.b_admin.actor).await.unwrap();
        assert_eq!(rb.state, HealthState::Healthy, "[{name}] {rb:?}");
        assert!(w.works.health(&w.a_user.actor).await.unwrap().issues.is_empty(), "[{name}]");
        // B's admin cannot acknowledge A's issue: it answers as missing.
        let e = w.works.health_acknowledge(&w.b_admin.actor, &missing.id, "not mine").await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "[{name}] {e:?}");

        // Acknowledging the missing one sets it aside; a stopped container is unhealthy too.
        w.works.health_acknowledge(&w.a_admin.actor, &missing.id, "removed on purpose").await.unwrap();
        inventory(&w, &agent_a, vec![openclaw("a1", "exited", None)]).await;
        let r = w.works.health(admin).await.unwrap();
        assert_eq!(ids(&r), vec![format!("instance-unhealthy:{}", a1.id).as_str()], "[{name}]");
        assert!(r.issues[0].why.contains("exited"), "[{name}] {}", r.issues[0].why);
        assert_eq!(r.acknowledged.len(), 1, "[{name}]");

        // Back to running: healthy again.
        inventory(&w, &agent_a, vec![openclaw("a1", "running", Some("healthy"))]).await;
        assert_eq!(w.works.health(admin).await.unwrap().state, HealthState::Healthy, "[{name}]");
    }
}
