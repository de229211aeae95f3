//! Nodes, agents and jobs: tenancy for every new operation, an agent reaches only its
//! own node's work, approvals are typed and recorded, and recovery never re-runs risky
//! work. Runs on SQLite and PostgreSQL.

use chrono::Duration;
use works_core::{
    AgentIdentity, ApproveJob, AuditQuery, CheckIn, EnrollRequest, Error, JobKind, JobQuery, JobReport, JobState, NewJob,
    NewNode, Node, NodeHealth, NodeQuery, NodeStatus, Outcome, RenameNode, Works,
};
use works_guarantees::{backends, World};

async fn node(w: &World, name: &str, org: Option<&str>) -> Node {
    w.works
        .node_create(&w.msp_admin.actor, NewNode { name: name.into(), org_id: org.map(str::to_owned) })
        .await
        .unwrap_or_else(|e| panic!("node {name}: {e}"))
}

async fn enrolled(works: &Works, admin: &works_core::Actor, node: &Node) -> (AgentIdentity, String) {
    let token = works.enrollment_token_create(admin, &node.id).await.unwrap();
    let cred = works
        .agent_enroll(EnrollRequest { token: token.token, hostname: Some(node.name.clone()), agent_version: Some("test".into()) })
        .await
        .unwrap();
    (works.authenticate_agent(&cred.credential).await.unwrap(), cred.credential)
}

fn health() -> NodeHealth {
    NodeHealth { agent_version: "test".into(), docker_reachable: true, docker_version: Some("20.10".into()), ..Default::default() }
}

#[tokio::test]
async fn nodes_and_jobs_of_another_organization_answer_like_missing_ones() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let b_node = node(&w, "bolt-web-01", Some(&w.org_b.id)).await;
        let shared = node(&w, "msp-jump-01", None).await;
        let job = w.works.job_request(&w.msp_admin.actor, NewJob { node_id: b_node.id.clone(), kind: JobKind::Restart, params: serde_json::json!({}) }).await.unwrap();
        let missing = "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff";
        for (label, p) in [("a_admin", &w.a_admin), ("a_user", &w.a_user), ("b_user", &w.b_user)] {
            let a = &p.actor;
            let x = &w.works;
            for target in [&b_node.id, &shared.id] {
                if label == "b_user" && target == &shared.id {
                    continue;
                }
                let attempts: Vec<(&str, Result<(), Error>)> = vec![
                    ("node_get", x.node_get(a, target).await.map(drop)),
                    ("node_rename", x.node_rename(a, target, RenameNode { name: "taken".into() }).await.map(drop)),
                    ("node_retire", x.node_retire(a, target).await.map(drop)),
                    ("node_containers", x.node_containers(a, target).await.map(drop)),
                    ("enrollment_token", x.enrollment_token_create(a, target).await.map(drop)),
                    ("agent_revoke", x.agent_revoke(a, target).await.map(drop)),
                    ("job_request", x.job_request(a, NewJob { node_id: target.clone(), kind: JobKind::HealthCheck, params: serde_json::Value::Null }).await.map(drop)),
                ];
                for (op, got) in attempts {
                    assert!(matches!(got, Err(Error::NotFound { .. })), "[{}] {label} {op} on a foreign node: {got:?}", backend.name);
                }
            }
            for (op, got) in [
                ("job_get", w.works.job_get(a, &job.id).await.map(drop)),
                ("job_approve", w.works.job_approve(a, &job.id, ApproveJob { phrase: job.approval_phrase.clone().unwrap() }).await.map(drop)),
                ("job_cancel", w.works.job_cancel(a, &job.id).await.map(drop)),
                ("job_retry", w.works.job_retry(a, &job.id).await.map(drop)),
            ] {
                if label == "b_user" {
                    // B's own user is not an approver nor a node manager: the job is invisible to organization users.
                    assert!(got.is_err(), "[{}] b_user {op}: {got:?}", backend.name);
                    continue;
                }
                assert!(matches!(got, Err(Error::NotFound { .. })), "[{}] {label} {op} on a foreign job: {got:?}", backend.name);
            }
            // Same answer as for an id that does not exist.
            let absent = w.works.node_get(a, missing).await.unwrap_err();
            let foreign = w.works.node_get(a, &b_node.id).await.unwrap_err();
            assert_eq!(absent.kind(), foreign.kind());
            // Lists hold exactly the permitted set.
            let nodes = w.works.node_list(a, NodeQuery::default()).await.unwrap().items;
            let jobs = w.works.job_list(a, JobQuery::default()).await.unwrap().items;
            if label == "b_user" || label == "a_user" {
                assert!(nodes.is_empty() && jobs.is_empty(), "[{}] organization users see no machines", backend.name);
            } else {
                assert!(nodes.iter().all(|n| n.org_id.as_deref() == Some(w.org_a.id.as_str())), "[{}] {label}", backend.name);
                assert!(jobs.iter().all(|j| j.org_id.as_deref() == Some(w.org_a.id.as_str())));
            }
            // Every refusal was recorded.
            let refused = w
                .works
                .audit_query(&w.msp_admin.actor, AuditQuery { actor_id: Some(a.id.clone()), outcome: Some(Outcome::Denied), limit: Some(500), ..Default::default() })
                .await
                .unwrap();
            assert!(refused.records.iter().any(|r| r.action == "node.retire"), "[{}] {label}", backend.name);
            assert!(refused.records.iter().any(|r| r.action == "job.request"));
        }
        // B's own admin sees B's node and job; nothing of B changed.
        let seen = w.works.node_get(&w.b_admin.actor, &b_node.id).await.unwrap();
        assert_eq!(seen.name, "bolt-web-01");
        assert!(seen.retired_at.is_none());
        assert_eq!(w.works.job_get(&w.b_admin.actor, &job.id).await.unwrap().state, JobState::AwaitingApproval);
        // Shared infrastructure is the MSP's alone.
        assert!(matches!(w.works.node_get(&w.b_admin.actor, &shared.id).await, Err(Error::NotFound { .. })));
        assert!(w.works.node_get(&w.msp_operator.actor, &shared.id).await.is_ok());
    }
}

#[tokio::test]
async fn an_agent_reaches_only_its_own_nodes_work() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let one = node(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let two = node(&w, "acme-web-02", Some(&w.org_a.id)).await;
        let (agent1, _) = enrolled(&w.works, admin, &one).await;
        let (agent2, cred2) = enrolled(&w.works, admin, &two).await;
        let job = w.works.job_request(admin, NewJob { node_id: one.id.clone(), kind: JobKind::HealthCheck, params: serde_json::Value::Null }).await.unwrap();

        // The second agent sees no work, and cannot touch the first node's job.
        assert!(w.works.agent_claim(&agent2, std::time::Duration::ZERO).await.unwrap().is_none());
        for got in [
            w.works.agent_job_start(&agent2, &job.id).await.map(drop),
            w.works.agent_job_heartbeat(&agent2, &job.id).await.map(drop),
            w.works.agent_job_complete(&agent2, &job.id, JobReport { succeeded: true, result: None, output: None, reason: None }).await.map(drop),
        ] {
            assert!(matches!(got, Err(Error::NotFound { .. })), "[{}] {got:?}", backend.name);
        }
        let refused = w
            .works
            .audit_query(admin, AuditQuery { actor_id: Some(format!("agent:{}", two.id)), outcome: Some(Outcome::Denied), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(refused.records.len(), 3, "[{}] each attempt is recorded", backend.name);

        // The first agent claims it, once, and reports with its output redacted.
        let claimed = w.works.agent_claim(&agent1, std::time::Duration::ZERO).await.unwrap().expect("work for agent 1");
        assert_eq!((claimed.id.as_str(), claimed.state, claimed.attempts), (job.id.as_str(), JobState::Claimed, 1));
        assert!(w.works.agent_claim(&agent1, std::time::Duration::ZERO).await.unwrap().is_none());
        w.works.agent_job_start(&agent1, &job.id).await.unwrap();
        let done = w
            .works
            .agent_job_complete(&agent1, &job.id, JobReport { succeeded: true, result: Some(serde_json::json!({"ok": true})), output: Some("token=abc123secret ok".into()), reason: None })
            .await
            .unwrap();
        assert_eq!(done.state, JobState::Succeeded);
        assert!(!done.output.unwrap().contains("abc123secret"));
        // A late second report is refused.
        assert!(matches!(
            w.works.agent_job_complete(&agent1, &job.id, JobReport { succeeded: false, result: None, output: None, reason: None }).await,
            Err(Error::Conflict { .. })
        ));

        // A revoked agent is cut off at its next call; re-enrolling replaces the credential.
        w.works.agent_revoke(admin, &two.id).await.unwrap();
        assert!(matches!(w.works.authenticate_agent(&cred2).await, Err(Error::Unauthenticated { .. })));
        // Agent credentials are not user credentials, and the other way round.
        assert!(w.works.authenticate(&cred2).await.is_err());
        assert!(w.works.authenticate_agent(&w.works.token_create(&w.a_admin.actor, works_core::NewToken { name: "x".into(), expires_in_days: None }).await.unwrap().token).await.is_err());
    }
}

#[tokio::test]
async fn an_enrollment_token_works_once_and_expires() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let n = node(&w, "acme-db-01", Some(&w.org_a.id)).await;
        let t = w.works.enrollment_token_create(&w.a_admin.actor, &n.id).await.unwrap();
        let req = || EnrollRequest { token: t.token.clone(), hostname: None, agent_version: None };
        w.works.agent_enroll(req()).await.unwrap();
        assert!(matches!(w.works.agent_enroll(req()).await, Err(Error::Unauthenticated { .. })), "[{}] replay accepted", backend.name);
        let late = w.works.enrollment_token_create(&w.a_admin.actor, &n.id).await.unwrap();
        w.clock.advance(Duration::minutes(31));
        assert!(w.works.agent_enroll(EnrollRequest { token: late.token, hostname: None, agent_version: None }).await.is_err());
        let denied = w.works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some("agent.enroll".into()), outcome: Some(Outcome::Denied), ..Default::default() }).await.unwrap();
        assert_eq!(denied.records.len(), 2, "[{}] replay and expiry are recorded", backend.name);
    }
}

#[tokio::test]
async fn node_status_moves_with_check_ins_and_the_node_never_disappears() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let n = node(&w, "acme-web-03", Some(&w.org_a.id)).await;
        assert_eq!(n.status, NodeStatus::Offline);
        assert!(n.status_reason.contains("enroll"), "{}", n.status_reason);
        let (agent, _) = enrolled(&w.works, &w.msp_admin.actor, &n).await;
        w.works.agent_checkin(&agent, CheckIn { health: health(), containers: Some(vec![]) }).await.unwrap();
        let status = |w: &World| {
            let works = w.works.clone();
            let actor = w.a_admin.actor.clone();
            let id = n.id.clone();
            async move { works.node_get(&actor, &id).await.unwrap().status }
        };
        assert_eq!(status(&w).await, NodeStatus::Online);
        w.clock.advance(Duration::seconds(100));
        assert_eq!(status(&w).await, NodeStatus::Stale, "[{}]", backend.name);
        w.clock.advance(Duration::minutes(10));
        assert_eq!(status(&w).await, NodeStatus::Offline);
        assert_eq!(w.works.node_list(&w.a_admin.actor, NodeQuery::default()).await.unwrap().items.len(), 1);
    }
}

#[tokio::test]
async fn risky_work_needs_the_exact_phrase_from_a_permitted_approver() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let n = node(&w, "acme-web-04", Some(&w.org_a.id)).await;
        let job = w.works.job_request(&w.a_admin.actor, NewJob { node_id: n.id.clone(), kind: JobKind::Deploy, params: serde_json::json!({"version": "2026.9.6"}) }).await.unwrap();
        assert_eq!(job.state, JobState::AwaitingApproval);
        let phrase = job.approval_phrase.clone().unwrap();
        assert_eq!(phrase, "deploy openclaw on acme-web-04");
        let wrong = w.works.job_approve(&w.a_admin.actor, &job.id, ApproveJob { phrase: "deploy openclaw".into() }).await.unwrap_err();
        assert_eq!(wrong.field(), Some("phrase"), "[{}] {wrong:?}", backend.name);
        let user = w.works.job_approve(&w.a_user.actor, &job.id, ApproveJob { phrase: phrase.clone() }).await;
        assert!(user.is_err(), "an organization user approved risky work");
        assert_eq!(w.works.job_get(&w.a_admin.actor, &job.id).await.unwrap().state, JobState::AwaitingApproval);
        let ok = w.works.job_approve(&w.msp_operator.actor, &job.id, ApproveJob { phrase }).await.unwrap();
        assert_eq!((ok.state, ok.approved_by.as_deref()), (JobState::Queued, Some("operator")));
        let log = w.works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some("job.approve".into()), target_id: Some(job.id.clone()), ..Default::default() }).await.unwrap();
        let outcomes: Vec<Outcome> = log.records.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [Outcome::Succeeded, Outcome::Denied, Outcome::Rejected], "[{}] approval, the refused approver and the wrong phrase are recorded", backend.name);
        // An expired request cannot be approved.
        let late = w.works.job_request(&w.a_admin.actor, NewJob { node_id: n.id.clone(), kind: JobKind::Restart, params: serde_json::Value::Null }).await.unwrap();
        w.clock.advance(Duration::hours(25));
        let e = w.works.job_approve(&w.a_admin.actor, &late.id, ApproveJob { phrase: late.approval_phrase.unwrap() }).await.unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    }
}

#[tokio::test]
async fn recovery_times_out_risky_work_and_retries_safe_work() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let n = node(&w, "acme-web-05", Some(&w.org_a.id)).await;
        let (agent, _) = enrolled(&w.works, admin, &n).await;
        let risky = w.works.job_request(admin, NewJob { node_id: n.id.clone(), kind: JobKind::Restart, params: serde_json::Value::Null }).await.unwrap();
        w.works.job_approve(admin, &risky.id, ApproveJob { phrase: risky.approval_phrase.clone().unwrap() }).await.unwrap();
        let claimed = w.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
        assert_eq!(claimed.id, risky.id);
        w.works.agent_job_start(&agent, &risky.id).await.unwrap();
        let safe = w.works.job_request(admin, NewJob { node_id: n.id.clone(), kind: JobKind::HealthCheck, params: serde_json::Value::Null }).await.unwrap();
        assert_eq!(w.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap().id, safe.id);

        // Nothing is overdue yet.
        assert_eq!(w.works.recover().await.unwrap(), Default::default());
        w.clock.advance(Duration::minutes(6));
        let report = w.works.recover().await.unwrap();
        assert_eq!(report.timed_out, vec![risky.id.clone()], "[{}] {report:?}", backend.name);
        assert_eq!(report.requeued, vec![safe.id.clone()]);
        let r = w.works.job_get(admin, &risky.id).await.unwrap();
        assert_eq!(r.state, JobState::TimedOut);
        assert!(r.reason.as_deref().unwrap_or("").contains("not re-run automatically"), "{:?}", r.reason);
        // The agent's late report is refused; the risky job is never claimed again.
        assert!(w.works.agent_job_complete(&agent, &risky.id, JobReport { succeeded: true, result: None, output: None, reason: None }).await.is_err());
        let again = w.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
        assert_eq!((again.id.as_str(), again.attempts), (safe.id.as_str(), 2));
        // A second recovery pass changes nothing more.
        assert_eq!(w.works.recover().await.unwrap(), Default::default());
        // A person retries the risky job: a new request that needs approval again.
        let retry = w.works.job_retry(admin, &risky.id).await.unwrap();
        assert_eq!((retry.state, retry.retry_of.as_deref()), (JobState::AwaitingApproval, Some(risky.id.as_str())));
        assert!(w.works.audit_verify(admin).await.unwrap().intact);
    }
}

#[tokio::test]
async fn bad_fleet_input_names_the_field_and_changes_nothing() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        for bad in ["", "web 01", "-oProxyCommand=x", "$(reboot)", &"a".repeat(101)] {
            let e = w.works.node_create(admin, NewNode { name: bad.into(), org_id: None }).await.unwrap_err();
            assert_eq!(e.field(), Some("name"), "[{}] {bad:?}: {e:?}", backend.name);
        }
        let e = w.works.node_create(admin, NewNode { name: "ok-01".into(), org_id: Some("not-an-id".into()) }).await.unwrap_err();
        assert_eq!(e.field(), Some("org_id"));
        assert!(w.works.node_list(admin, NodeQuery::default()).await.unwrap().items.is_empty());
        let n = node(&w, "ok-02", None).await;
        let e = w.works.job_request(admin, NewJob { node_id: n.id.clone(), kind: JobKind::Logs, params: serde_json::json!([1, 2]) }).await.unwrap_err();
        assert_eq!(e.field(), Some("params"));
        assert!(w.works.job_list(admin, JobQuery::default()).await.unwrap().items.is_empty());
    }
}

#[tokio::test]
async fn a_bad_enrollment_request_does_not_spend_the_token() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let n = node(&w, "acme-db-02", Some(&w.org_a.id)).await;
        let t = w.works.enrollment_token_create(&w.a_admin.actor, &n.id).await.unwrap();
        let e = w.works.agent_enroll(EnrollRequest { token: t.token.clone(), hostname: Some("two\nlines".into()), agent_version: None }).await.unwrap_err();
        assert_eq!(e.field(), Some("hostname"), "[{}] {e:?}", backend.name);
        w.works.agent_enroll(EnrollRequest { token: t.token, hostname: Some("acme-db-02".into()), agent_version: None }).await.unwrap();
    }
}
