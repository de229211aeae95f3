//! The life of a deployed OpenClaw instance, as the core keeps it: a deploy is typed,
//! role- and tenant-checked and audited; the gateway token is sealed at rest and handed
//! only to the agent running that instance's deploy; the instance follows its jobs
//! (managed, failed, removed). Runs on SQLite and PostgreSQL. The agent's side against
//! the real engine and gateway is `works-cli/tests/openclaw_lifecycle.rs`.

use chrono::Duration;
use serde_json::json;
use works_core::lifecycle::{DeployResult, RemoveResult};
use works_core::{
    AgentIdentity, ApproveJob, AuditQuery, DeployInput, EnrollRequest, Error, InstanceHealth, InstanceState, JobReport,
    JobState, LogsInput, NewNode, Node, Outcome, Probe, Works,
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

fn healthy() -> InstanceHealth {
    let probe = |detail: &str| Probe { ok: true, status: Some(200), detail: detail.into() };
    InstanceHealth::judge(
        vec![works_core::ComponentStatus {
            role: "gateway".into(),
            container_name: "gw".into(),
            required: true,
            state: "running".into(),
            health: None,
        }],
        probe(r#"{"ok":true,"status":"live"}"#),
        probe(r#"{"ok":true}"#),
        Some(40001),
    )
}

/// The agent claims the next job of its node and reports it.
async fn agent_runs(works: &Works, agent: &AgentIdentity, report: JobReport) -> works_core::Job {
    let job = works.agent_claim(agent, std::time::Duration::ZERO).await.unwrap().expect("a job to claim");
    works.agent_job_start(agent, &job.id).await.unwrap();
    works.agent_job_complete(agent, &job.id, report).await.unwrap()
}

fn done(result: serde_json::Value) -> JobReport {
    JobReport { succeeded: true, result: Some(result), output: Some("done".into()), reason: None }
}

#[tokio::test]
async fn a_deploy_is_approved_by_phrase_and_the_instance_follows_its_jobs() {
    for backend in backends().await {
        let b = backend.name;
        let w = World::build(backend.store.clone()).await;
        let n = node(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let agent = enrolled(&w.works, &w.msp_admin.actor, &n).await;

        let d = w.works.instance_deploy(&w.a_admin.actor, DeployInput { node_id: n.id.clone(), version: None, with_cli: true, gateway_port: None }).await.unwrap();
        assert_eq!(d.instance.state, InstanceState::Deploying, "[{b}]");
        assert_eq!(d.instance.version.as_deref(), Some(works_core::openclaw::DEFAULT_VERSION));
        assert_eq!(d.job.state, JobState::AwaitingApproval);
        assert_eq!(d.job.approval_phrase.as_deref(), Some("deploy openclaw 2026.9.6 on acme-web-01"));
        assert_eq!(d.job.params["instance_id"], d.instance.id.as_str());
        assert_eq!(d.job.params["with_cli"], true);
        assert!(d.job.params.get("token").is_none() && !d.job.params.to_string().contains("oct_"), "[{b}] {}", d.job.params);
        let id = d.instance.id.clone();

        // Before approval nobody, not even the node's agent, gets the token.
        let early = w.works.agent_gateway_token(&agent, &d.job.id).await.unwrap_err();
        assert!(matches!(early, Error::Conflict { .. }), "[{b}] {early:?}");

        // A wrong phrase, then the right one.
        let wrong = w.works.job_approve(&w.a_admin.actor, &d.job.id, ApproveJob { phrase: "deploy openclaw".into() }).await.unwrap_err();
        assert_eq!(wrong.field(), Some("phrase"), "[{b}]");
        let phrase = d.job.approval_phrase.clone().unwrap();
        w.works.job_approve(&w.a_admin.actor, &d.job.id, ApproveJob { phrase }).await.unwrap();
        let waiting = w.works.instance_get(&w.a_admin.actor, &id).await.unwrap();
        assert_eq!(waiting.state, InstanceState::Deploying);
        assert!(waiting.reason.as_deref().unwrap_or("").contains("Approved"), "[{b}] {waiting:?}");

        // The agent claims it, receives the token once it runs it, and reports success.
        let claimed = w.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
        assert_eq!(claimed.id, d.job.id);
        w.works.agent_job_start(&agent, &claimed.id).await.unwrap();
        let token = w.works.agent_gateway_token(&agent, &claimed.id).await.unwrap();
        assert!(token.expose().starts_with("oct_"));
        let sealed = backend.store.get_instance_token(&id).await.unwrap().unwrap();
        assert!(sealed.starts_with("v1.") && !sealed.contains(token.expose()), "[{b}] the token is sealed at rest");
        let result = DeployResult {
            container_id: "c-gw-1".into(),
            container_name: d.instance.container_name.clone(),
            version: "2026.9.6".into(),
            health: healthy(),
        };
        w.works.agent_job_complete(&agent, &claimed.id, done(serde_json::to_value(&result).unwrap())).await.unwrap();
        let managed = w.works.instance_get(&w.a_admin.actor, &id).await.unwrap();
        assert_eq!(managed.state, InstanceState::Managed, "[{b}] {managed:?}");
        assert_eq!((managed.container_id.as_str(), managed.health.as_deref()), ("c-gw-1", Some("healthy")));
        assert!(managed.health_detail.as_ref().unwrap()["summary"].as_str().unwrap().starts_with("Healthy"));
        // Once the job ended, the token is no longer handed out.
        assert!(w.works.agent_gateway_token(&agent, &claimed.id).await.is_err());

        // Health and logs are safe: queued at once. Restart and remove wait for their phrase.
        let h = w.works.instance_health_check(&w.a_user.actor, &id).await;
        assert!(matches!(h, Err(Error::NotFound { .. })), "[{b}] an org user sees no unassigned instance: {h:?}");
        let h = w.works.instance_health_check(&w.a_admin.actor, &id).await.unwrap();
        assert_eq!((h.state, h.approval_phrase.as_deref()), (JobState::Queued, None));
        agent_runs(&w.works, &agent, done(json!({"instance": healthy()}))).await;
        let l = w.works.instance_logs(&w.a_admin.actor, &id, LogsInput { lines: Some(50) }).await.unwrap();
        assert_eq!(l.params["container"], d.instance.container_name.as_str());
        assert_eq!(w.works.instance_logs(&w.a_admin.actor, &id, LogsInput { lines: Some(0) }).await.unwrap_err().field(), Some("lines"));
        agent_runs(&w.works, &agent, done(json!({}))).await;

        let r = w.works.instance_restart(&w.a_admin.actor, &id).await.unwrap();
        assert_eq!(r.approval_phrase.as_deref(), Some(format!("restart openclaw {} on acme-web-01", d.instance.container_name).as_str()));
        w.works.job_approve(&w.a_admin.actor, &r.id, ApproveJob { phrase: r.approval_phrase.clone().unwrap() }).await.unwrap();
        // A gateway token goes only with a deploy.
        let claimed = w.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
        w.works.agent_job_start(&agent, &claimed.id).await.unwrap();
        assert!(matches!(w.works.agent_gateway_token(&agent, &claimed.id).await, Err(Error::Conflict { .. })));
        w.works
            .agent_job_complete(&agent, &claimed.id, done(json!({"container_id": "c-gw-1", "health": healthy()})))
            .await
            .unwrap();
        assert!(w.works.instance_get(&w.a_admin.actor, &id).await.unwrap().reason.unwrap().contains("restarted"));

        let rm = w.works.instance_remove(&w.a_admin.actor, &id).await.unwrap();
        w.works.job_approve(&w.a_admin.actor, &rm.id, ApproveJob { phrase: rm.approval_phrase.clone().unwrap() }).await.unwrap();
        let removed = RemoveResult { removed: vec![d.instance.container_name.clone()], volumes_kept: vec!["openclaw-x-data".into()] };
        agent_runs(&w.works, &agent, done(serde_json::to_value(&removed).unwrap())).await;
        let gone = w.works.instance_get(&w.a_admin.actor, &id).await.unwrap();
        assert_eq!(gone.state, InstanceState::Removed, "[{b}]");
        assert!(gone.reason.as_deref().unwrap().contains("kept the volumes openclaw-x-data"), "[{b}] {gone:?}");
        // A removed instance takes no more work.
        assert!(matches!(w.works.instance_restart(&w.a_admin.actor, &id).await, Err(Error::Conflict { .. })));

        // The token is in no audit record; its handover is.
        let audit = w.works.audit_query(&w.msp_admin.actor, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap();
        let text = serde_json::to_string(&audit).unwrap();
        assert!(!text.contains(token.expose()), "[{b}] the token reached the audit log");
        assert!(audit.records.iter().any(|r| r.action == "instance.gateway_token" && r.outcome == Outcome::Succeeded));
        assert!(audit.records.iter().any(|r| r.action == "instance.gateway_token" && r.outcome == Outcome::Denied));
        for listed in [serde_json::to_string(&w.works.instance_list(&w.msp_admin.actor, Default::default()).await.unwrap()).unwrap()] {
            assert!(!listed.contains(token.expose()));
        }
    }
}

#[tokio::test]
async fn deploys_are_refused_across_tenants_by_role_when_expired_and_fail_clearly() {
    for backend in backends().await {
        let b = backend.name;
        let w = World::build(backend.store.clone()).await;
        let a = node(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let other = node(&w, "bolt-web-01", Some(&w.org_b.id)).await;
        let agent_a = enrolled(&w.works, &w.msp_admin.actor, &a).await;
        let agent_b = enrolled(&w.works, &w.msp_admin.actor, &other).await;
        let deploy = |who: &works_core::Actor, node: &Node, version: Option<&str>| {
            let works = w.works.clone();
            let who = who.clone();
            let input = DeployInput { node_id: node.id.clone(), version: version.map(str::to_owned), with_cli: false, gateway_port: None };
            async move { works.instance_deploy(&who, input).await }
        };

        // Another organization's node is "not found", for its admin and user alike; an
        // organization user may not deploy on their own organization's node.
        assert!(matches!(deploy(&w.b_admin.actor, &a, None).await, Err(Error::NotFound { .. })), "[{b}]");
        let by_user = deploy(&w.a_user.actor, &a, None).await;
        assert!(matches!(by_user, Err(Error::Forbidden { .. } | Error::NotFound { .. })), "[{b}] {by_user:?}");
        assert_eq!(deploy(&w.a_admin.actor, &a, Some("latest")).await.unwrap_err().field(), Some("version"));
        let refused = w.works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some("instance.deploy".into()), ..Default::default() }).await.unwrap();
        assert!(refused.records.iter().filter(|r| r.outcome != Outcome::Succeeded).count() >= 3, "[{b}] refusals are recorded");

        // An approver of another organization does not see the job; the phrase is typed exactly.
        let d = deploy(&w.a_admin.actor, &a, Some("2026.9.6")).await.unwrap();
        let phrase = d.job.approval_phrase.clone().unwrap();
        let cross = w.works.job_approve(&w.b_admin.actor, &d.job.id, ApproveJob { phrase: phrase.clone() }).await;
        assert!(matches!(cross, Err(Error::NotFound { .. })), "[{b}] {cross:?}");
        // The other node's agent cannot fetch this deploy's token.
        assert!(matches!(w.works.agent_gateway_token(&agent_b, &d.job.id).await, Err(Error::NotFound { .. })));
        // Instances of another organization are invisible, and their actions refused alike.
        for act in [
            w.works.instance_get(&w.b_admin.actor, &d.instance.id).await.map(|_| ()),
            w.works.instance_health_check(&w.b_admin.actor, &d.instance.id).await.map(|_| ()),
            w.works.instance_restart(&w.b_admin.actor, &d.instance.id).await.map(|_| ()),
            w.works.instance_remove(&w.b_admin.actor, &d.instance.id).await.map(|_| ()),
        ] {
            assert!(matches!(act, Err(Error::NotFound { .. })), "[{b}] {act:?}");
        }
        // A deploying instance is not restarted or checked yet.
        assert!(matches!(w.works.instance_restart(&w.a_admin.actor, &d.instance.id).await, Err(Error::Conflict { .. })));

        // An expired request is refused; recovery marks the job timed out and the instance failed.
        w.clock.advance(Duration::hours(25));
        let late = w.works.job_approve(&w.a_admin.actor, &d.job.id, ApproveJob { phrase }).await;
        assert!(matches!(late, Err(Error::Conflict { .. })), "[{b}] {late:?}");
        w.works.recover().await.unwrap();
        let failed = w.works.instance_get(&w.a_admin.actor, &d.instance.id).await.unwrap();
        assert_eq!(failed.state, InstanceState::Failed, "[{b}] {failed:?}");
        assert!(failed.reason.as_deref().unwrap().contains("did not finish"), "[{b}] {failed:?}");
        assert!(w.works.agent_claim(&agent_a, std::time::Duration::ZERO).await.unwrap().is_none(), "[{b}] nothing was deployed");

        // A deploy the agent reports failed leaves the instance failed with the agent's reason;
        // a person's retry asks for the same phrase and brings it back to deploying.
        let d2 = deploy(&w.a_admin.actor, &a, None).await.unwrap();
        w.works.job_approve(&w.a_admin.actor, &d2.job.id, ApproveJob { phrase: d2.job.approval_phrase.clone().unwrap() }).await.unwrap();
        let why = "The image anthropy/openclaw:2026.9.6 is not on this node. Nothing was created.";
        agent_runs(&w.works, &agent_a, JobReport { succeeded: false, result: None, output: None, reason: Some(why.into()) }).await;
        let f = w.works.instance_get(&w.a_admin.actor, &d2.instance.id).await.unwrap();
        assert_eq!(f.state, InstanceState::Failed);
        assert!(f.reason.as_deref().unwrap().contains("is not on this node"), "[{b}] {f:?}");
        let retry = w.works.job_retry(&w.a_admin.actor, &d2.job.id).await.unwrap();
        assert_eq!(retry.approval_phrase, d2.job.approval_phrase, "[{b}]");
        let back = w.works.instance_get(&w.a_admin.actor, &d2.instance.id).await.unwrap();
        assert_eq!((back.state, back.job_id.as_deref()), (InstanceState::Deploying, Some(retry.id.as_str())), "[{b}]");
    }
}

#[tokio::test]
async fn without_a_master_key_a_deploy_is_refused_plainly_and_nothing_is_stored() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let n = node(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let keyless = Works::new(backend.store.clone());
        let err = keyless.instance_deploy(&w.a_admin.actor, DeployInput { node_id: n.id.clone(), version: None, with_cli: false, gateway_port: None }).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }) && err.to_string().contains("WORKS_MASTER_KEY"), "{err}");
        assert!(w.works.instance_list(&w.msp_admin.actor, Default::default()).await.unwrap().items.is_empty());
    }
}

#[tokio::test]
async fn readiness_checks_are_tenant_and_role_checked_validated_and_audited() {
    for backend in backends().await {
        let b = backend.name;
        let w = World::build(backend.store.clone()).await;
        let a = node(&w, "acme-web-01", Some(&w.org_a.id)).await;
        let input = |version: Option<&str>, port: Option<u16>| works_core::ReadinessInput { version: version.map(str::to_owned), gateway_port: port };

        let job = w.works.node_openclaw_readiness(&w.a_admin.actor, &a.id, input(None, Some(40000))).await.unwrap();
        assert_eq!((job.state, job.approval_phrase.as_deref()), (JobState::Queued, None), "[{b}] a safe job");
        assert_eq!(job.params["readiness"]["image"], "anthropy/openclaw:2026.9.6");
        assert_eq!(job.params["readiness"]["gateway_port"], 40000);

        let cross = w.works.node_openclaw_readiness(&w.b_admin.actor, &a.id, input(None, None)).await;
        assert!(matches!(cross, Err(Error::NotFound { .. })), "[{b}] {cross:?}");
        let by_user = w.works.node_openclaw_readiness(&w.a_user.actor, &a.id, input(None, None)).await;
        assert!(matches!(by_user, Err(Error::NotFound { .. } | Error::Forbidden { .. })), "[{b}] {by_user:?}");
        let bad = w.works.node_openclaw_readiness(&w.a_admin.actor, &a.id, input(Some("latest"), None)).await.unwrap_err();
        assert_eq!(bad.field(), Some("version"), "[{b}]");
        let bad = w.works.node_openclaw_readiness(&w.a_admin.actor, &a.id, input(None, Some(80))).await.unwrap_err();
        assert_eq!(bad.field(), Some("gateway_port"), "[{b}]");
        // A deploy to a privileged port is refused the same way, and nothing is stored.
        let bad = w.works.instance_deploy(&w.a_admin.actor, DeployInput { node_id: a.id.clone(), version: None, with_cli: false, gateway_port: Some(22) }).await.unwrap_err();
        assert_eq!(bad.field(), Some("gateway_port"), "[{b}]");
        assert!(w.works.instance_list(&w.msp_admin.actor, Default::default()).await.unwrap().items.is_empty());

        let audit = w.works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some("node.openclaw_readiness".into()), ..Default::default() }).await.unwrap();
        assert_eq!(audit.records.iter().filter(|r| r.outcome == Outcome::Succeeded).count(), 1, "[{b}]");
        assert!(audit.records.iter().filter(|r| r.outcome != Outcome::Succeeded).count() >= 4, "[{b}] refusals are recorded");
    }
}
