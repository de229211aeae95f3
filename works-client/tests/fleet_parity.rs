//! Nodes and jobs through the remote client against a real server give what the
//! embedded core gives: the same results and the same errors, for the same user.

use std::collections::BTreeMap;

use serde_json::json;
use works_client::RemoteClient;
use works_core::{
    Api, ApproveJob, CheckIn, Container, EnrollRequest, Error, JobKind, JobQuery, JobReport, JobState, NewJob, NewNode,
    Node, NodeHealth, NodeQuery, RenameNode, Result, Role, Session,
};
use works_testkit::TestServer;

const MISSING: &str = "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff";

async fn pair(server: &TestServer, token: &str) -> (RemoteClient, Session) {
    let remote = RemoteClient::new(&server.url, token).unwrap();
    let actor = server.works.authenticate(token).await.unwrap();
    (remote, Session::new(server.works.clone(), actor))
}

/// A node without the one field that depends on the moment it is read ("checked in 3
/// seconds ago"), for nodes that have checked in.
fn steady(r: Result<Node>) -> Result<Node> {
    r.map(|mut n| {
        n.status_reason.clear();
        n
    })
}

fn health() -> NodeHealth {
    NodeHealth {
        uptime_secs: 600,
        load1: 0.1,
        memory_total_bytes: 1 << 30,
        memory_available_bytes: 1 << 29,
        disk_total_bytes: 10 << 30,
        disk_available_bytes: 5 << 30,
        agent_version: "test".into(),
        docker_reachable: true,
        docker_version: Some("26.1.5".into()),
    }
}

fn inventory() -> Vec<Container> {
    vec![Container {
        id: "c".repeat(64),
        name: "openclaw-gateway".into(),
        image: "openclaw/openclaw:2026.1".into(),
        state: "running".into(),
        health: Some("healthy".into()),
        labels: BTreeMap::from([("works.managed".to_owned(), "true".to_owned()), ("<b>".to_owned(), "$(x)".to_owned())]),
        ports: vec![],
        mounts: vec![],
    }]
}

#[tokio::test]
async fn node_and_job_reads_and_refusals_are_the_same_remote_and_embedded() {
    let server = TestServer::start_sqlite().await;
    let works = &server.works;
    let admin = &server.admin;
    let acme = server.create_org("Acme").await;
    let other = server.create_org("Other").await;
    let alice = server.create_user("alice", Role::OrgAdmin, Some(&acme.id)).await;
    let bob = server.create_user("bob", Role::OrgUser, Some(&acme.id)).await;

    let acme_node = works.node_create(admin, NewNode { name: "acme-web-01".into(), org_id: Some(acme.id.clone()) }).await.unwrap();
    let other_node = works.node_create(admin, NewNode { name: "other-web-01".into(), org_id: Some(other.id.clone()) }).await.unwrap();
    let shared = works.node_create(admin, NewNode { name: "msp-jump-01".into(), org_id: None }).await.unwrap();
    let token = works.enrollment_token_create(admin, &acme_node.id).await.unwrap();
    let cred = works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
    let agent = works.authenticate_agent(&cred.credential).await.unwrap();
    works.agent_checkin(&agent, CheckIn { health: health(), containers: Some(inventory()) }).await.unwrap();
    let job = |node: &str, kind: JobKind| NewJob { node_id: node.to_owned(), kind, params: json!({}) };
    let acme_deploy = works.job_request(admin, job(&acme_node.id, JobKind::Deploy)).await.unwrap();
    let acme_health = works.job_request(admin, job(&acme_node.id, JobKind::HealthCheck)).await.unwrap();
    let other_restart = works.job_request(admin, job(&other_node.id, JobKind::Restart)).await.unwrap();

    for token in [&server.admin_token, &alice.token, &bob.token] {
        let (remote, local) = pair(&server, token).await;
        let who = local.whoami().await.unwrap().username;
        let ctx = |what: &str| format!("{what} as {who}");

        for q in [
            NodeQuery::default(),
            NodeQuery { org_id: Some(acme.id.clone()), include_retired: true, offset: None, limit: Some(1) },
            NodeQuery { offset: Some(1), limit: Some(1), ..Default::default() },
            NodeQuery { org_id: Some("bad id!".into()), ..Default::default() },
            NodeQuery { limit: Some(0), ..Default::default() },
        ] {
            let (r, l) = (remote.node_list(q.clone()).await, local.node_list(q).await);
            let steady_list = |x: Result<works_core::Listing<Node>>| {
                x.map(|mut l| {
                    l.items.iter_mut().for_each(|n| n.status_reason.clear());
                    l
                })
            };
            assert_eq!(steady_list(r), steady_list(l), "{}", ctx("node_list"));
        }
        for id in [acme_node.id.as_str(), other_node.id.as_str(), shared.id.as_str(), MISSING, "not an id", "a/b", "", ".."] {
            assert_eq!(steady(remote.node_get(id).await), steady(local.node_get(id).await), "{} {id:?}", ctx("node_get"));
            assert_eq!(remote.node_containers(id).await, local.node_containers(id).await, "{} {id:?}", ctx("node_containers"));
        }
        for q in [
            JobQuery::default(),
            JobQuery { node_id: Some(acme_node.id.clone()), state: Some(JobState::AwaitingApproval), offset: None, limit: Some(5) },
            JobQuery { state: Some(JobState::Queued), offset: Some(0), limit: Some(1), ..Default::default() },
            JobQuery { node_id: Some("zzz".into()), ..Default::default() },
        ] {
            assert_eq!(remote.job_list(q.clone()).await, local.job_list(q).await, "{}", ctx("job_list"));
        }
        for id in [acme_deploy.id.as_str(), other_restart.id.as_str(), MISSING, "not an id", ".."] {
            assert_eq!(remote.job_get(id).await, local.job_get(id).await, "{} {id:?}", ctx("job_get"));
        }

        // Refused changes: the same error, and nothing changes.
        let bad_name = || NewNode { name: "web;$(reboot)".into(), org_id: Some(acme.id.clone()) };
        assert_eq!(remote.node_create(bad_name()).await, local.node_create(bad_name()).await, "{}", ctx("node_create bad name"));
        let into_other = || NewNode { name: "sneaky-01".into(), org_id: Some(other.id.clone()) };
        if who != "admin" {
            assert_eq!(remote.node_create(into_other()).await, local.node_create(into_other()).await, "{}", ctx("node_create other"));
        }
        let foreign: &[&str] = if who == "admin" { &[MISSING] } else { &[other_node.id.as_str(), MISSING] };
        for &id in foreign {
            let rename = || RenameNode { name: "mine".into() };
            assert_eq!(
                remote.node_rename(id, rename()).await.map(|n| n.name),
                local.node_rename(id, rename()).await.map(|n| n.name),
                "{} {id}",
                ctx("node_rename")
            );
        }
        assert_eq!(remote.node_retire(MISSING).await, local.node_retire(MISSING).await, "{}", ctx("node_retire"));
        assert_eq!(
            remote.enrollment_token_create(MISSING).await.map(|t| t.node_id),
            local.enrollment_token_create(MISSING).await.map(|t| t.node_id),
            "{}",
            ctx("enrollment_token_create")
        );
        assert_eq!(remote.agent_revoke(MISSING).await, local.agent_revoke(MISSING).await, "{}", ctx("agent_revoke"));
        let not_object = || NewJob { node_id: acme_node.id.clone(), kind: JobKind::Logs, params: json!(["sh"]) };
        assert_eq!(remote.job_request(not_object()).await, local.job_request(not_object()).await, "{}", ctx("job_request params"));
        let nowhere = || NewJob { node_id: MISSING.into(), kind: JobKind::HealthCheck, params: json!({}) };
        assert_eq!(remote.job_request(nowhere()).await, local.job_request(nowhere()).await, "{}", ctx("job_request nowhere"));
        let wrong = || ApproveJob { phrase: "deploy openclaw on someone-else".into() };
        assert_eq!(
            remote.job_approve(&acme_deploy.id, wrong()).await,
            local.job_approve(&acme_deploy.id, wrong()).await,
            "{}",
            ctx("job_approve wrong phrase")
        );
        assert_eq!(remote.job_cancel(MISSING).await, local.job_cancel(MISSING).await, "{}", ctx("job_cancel"));
        assert_eq!(remote.job_retry(&acme_health.id).await, local.job_retry(&acme_health.id).await, "{}", ctx("job_retry queued"));
        if who != "admin" {
            assert_eq!(remote.job_cancel(&other_restart.id).await, local.job_cancel(&other_restart.id).await, "{}", ctx("job_cancel other"));
        }
    }
    assert_eq!(works.job_get(admin, &acme_deploy.id).await.unwrap().state, JobState::AwaitingApproval);
    assert_eq!(works.job_get(admin, &other_restart.id).await.unwrap().state, JobState::AwaitingApproval);
    assert_eq!(works.node_get(admin, &other_node.id).await.unwrap().name, "other-web-01");
}

#[tokio::test]
async fn node_and_job_changes_made_remotely_are_what_the_core_stored() {
    let server = TestServer::start_sqlite().await;
    let acme = server.create_org("Acme").await;
    let alice = server.create_user("alice", Role::OrgAdmin, Some(&acme.id)).await;
    let (remote, local) = pair(&server, &alice.token).await;

    let node = remote.node_create(NewNode { name: "acme-web-01".into(), org_id: Some(acme.id.clone()) }).await.unwrap();
    assert_eq!(local.node_get(&node.id).await.unwrap(), node);
    let renamed = remote.node_rename(&node.id, RenameNode { name: "acme-web-02".into() }).await.unwrap();
    assert_eq!(local.node_get(&node.id).await.unwrap(), renamed);

    // A token made remotely enrolls an agent once.
    let token = remote.enrollment_token_create(&node.id).await.unwrap();
    assert_eq!(token.node_id, node.id);
    let enroll = |t: String| EnrollRequest { token: t, hostname: None, agent_version: None };
    let cred = server.works.agent_enroll(enroll(token.token.clone())).await.unwrap();
    assert!(matches!(server.works.agent_enroll(enroll(token.token)).await, Err(Error::Unauthenticated { .. })));
    let agent = server.works.authenticate_agent(&cred.credential).await.unwrap();
    server.works.agent_checkin(&agent, CheckIn { health: health(), containers: Some(inventory()) }).await.unwrap();
    assert_eq!(remote.node_containers(&node.id).await.unwrap(), inventory());
    assert_eq!(remote.node_get(&node.id).await.unwrap().status, works_core::NodeStatus::Online);

    // Jobs: request, approve, cancel, and retry of a failed one.
    let restart = remote.job_request(NewJob { node_id: node.id.clone(), kind: JobKind::Restart, params: json!({"why": "stuck"}) }).await.unwrap();
    assert_eq!(local.job_get(&restart.id).await.unwrap(), restart);
    assert_eq!(restart.approval_phrase.as_deref(), Some("restart openclaw on acme-web-02"));
    let approved = remote.job_approve(&restart.id, ApproveJob { phrase: "restart openclaw on acme-web-02".into() }).await.unwrap();
    assert_eq!((approved.state, approved.approved_by.as_deref()), (JobState::Queued, Some("alice")));
    assert_eq!(local.job_get(&restart.id).await.unwrap(), approved);
    let cancelled = remote.job_cancel(&restart.id).await.unwrap();
    assert_eq!(local.job_get(&restart.id).await.unwrap(), cancelled);

    let check = remote.job_request(NewJob { node_id: node.id.clone(), kind: JobKind::HealthCheck, params: json!({}) }).await.unwrap();
    let claimed = server.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(claimed.id, check.id);
    let report = JobReport { succeeded: false, result: None, output: None, reason: Some("no".into()) };
    server.works.agent_job_complete(&agent, &check.id, report).await.unwrap();
    let retry = remote.job_retry(&check.id).await.unwrap();
    assert_eq!(retry.retry_of.as_deref(), Some(check.id.as_str()));
    assert_eq!(local.job_get(&retry.id).await.unwrap(), retry);
    let listed = remote.job_list(JobQuery { node_id: Some(node.id.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(listed, local.job_list(JobQuery { node_id: Some(node.id.clone()), ..Default::default() }).await.unwrap());
    assert_eq!(listed.items.len(), 3);

    // Revoking cuts the agent off; retiring keeps the node on record.
    remote.agent_revoke(&node.id).await.unwrap();
    assert!(server.works.authenticate_agent(&cred.credential).await.is_err());
    let retired = remote.node_retire(&node.id).await.unwrap();
    assert!(retired.retired_at.is_some());
    assert_eq!(steady(local.node_get(&node.id).await).unwrap(), steady(Ok(retired)).unwrap());
    assert!(matches!(remote.node_retire(&node.id).await, Err(Error::Conflict { .. })));
}
