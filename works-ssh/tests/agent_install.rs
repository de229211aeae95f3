//! Agent installation against a real `sshd` target reached only through a real `sshd`
//! jumpbox (see `testbed`), with a real server the installed agent enrolls and checks in
//! with: one typed approval takes a verified host to an online node.
//!
//! The server listens inside the jumpbox's namespace, on the jumpbox's address towards
//! the target, so the target reaches it directly. The agent copied is this workspace's
//! `works` executable (`target/<profile>/works`; build it with `cargo build -p works-cli`
//! first, or point `WORKS_TEST_AGENT_BINARY` at one).

mod testbed;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use works_core::agent_install::AgentInstallConfig;
use works_core::audit::AuditQuery;
use works_core::{
    AccessAttempt, ApproveJob, AttemptStatus, Bootstrap, HostUpdate, JobKind, JobState, LoginInput, NewHost, NewJumpbox, NewOrg, NewSshCredential,
    NodeStatus, SessionKind, Step, Works,
};
use works_ssh::OpenSshProbe;

/// Everything logged by this test binary (the server runs in it), at every level.

fn agent_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("WORKS_TEST_AGENT_BINARY") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/agent_install-… → target/<profile>/works
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().and_then(|d| d.parent()).map(|d| d.join("works")).unwrap();
    assert!(p.is_file(), "the agent binary {} is missing: build it with `cargo build -p works-cli`, or set WORKS_TEST_AGENT_BINARY", p.display());
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_typed_approval_takes_a_verified_host_through_the_jumpbox_to_an_online_node() {
    if !testbed::available() {
        return;
    }
    testbed::capture_logs();
    let tb = testbed::Testbed::start();
    let (_dir, store, _) = works_store::testing::fresh_sqlite().await;

    // The server, listening where the target can reach it.
    let listener = tokio::net::TcpListener::from_std(tb.listen_towards_target()).unwrap();
    let server_url = format!("http://{}", listener.local_addr().unwrap());
    let works = Works::new(store)
        .with_master_key(&works_store::testing::test_master_key())
        .with_access_probe(Arc::new(OpenSshProbe::new()))
        .with_agent_install(AgentInstallConfig { binary: agent_binary(), server_url: server_url.clone() })
        .unwrap();
    let server = tokio::spawn(works_http::serve(listener, works_http::router(works.clone(), works_http::HttpConfig::from_env())));

    assert_eq!(works.bootstrap(Some("first-admin-password".into())).await.unwrap(), Bootstrap::CreatedWithGivenPassword);
    let login = works.login(LoginInput { username: "admin".into(), password: "first-admin-password".into() }, SessionKind::Api).await.unwrap();
    let admin = works.authenticate(&login.token).await.unwrap();
    let org = works.org_create(&admin, NewOrg { name: "Acme Dental".into() }).await.unwrap();
    let key = works.ssh_credential_create(&admin, NewSshCredential { name: "msp-key".into(), private_key: tb.client_key.private.clone() }).await.unwrap();
    works
        .jumpbox_create(&admin, NewJumpbox { name: "bastion".into(), address: tb.jump_address.clone(), port: None, user: "root".into(), credential_id: key.id.clone() })
        .await
        .unwrap();
    let host = works
        .host_create(
            &admin,
            NewHost {
                org_id: org.id.clone(),
                name: "acme-web-01".into(),
                address: tb.target_address.clone(),
                port: Some(testbed::INSTALL),
                user: "root".into(),
                credential_id: key.id.clone(),
                jumpbox: Some("bastion".into()),
            },
        )
        .await
        .unwrap();

    // Not before Test Access passed.
    let e = works.host_install_agent(&admin, &host.id).await.unwrap_err();
    assert!(e.to_string().contains("has not passed Test Access"), "{e}");

    let started = works.host_test_access(&admin, &host.id).await.unwrap();
    let verified = wait_attempt(&works, &admin, &started.id).await;
    assert_eq!(verified.status, AttemptStatus::Succeeded, "{verified:#?}");

    // The request registers the host as a node and waits for the typed phrase.
    let job = works.host_install_agent(&admin, &host.id).await.unwrap();
    assert_eq!(job.kind, JobKind::AgentInstall);
    assert_eq!(job.state, JobState::AwaitingApproval);
    assert_eq!(job.approval_phrase.as_deref(), Some("install agent on acme-web-01"));
    let node_id = works.host_get(&admin, &host.id).await.unwrap().node_id.unwrap();
    assert_eq!(job.node_id, node_id);
    assert_eq!(works.node_get(&admin, &node_id).await.unwrap().status, NodeStatus::Offline);
    let e = works.job_approve(&admin, &job.id, ApproveJob { phrase: "install agent".into() }).await.unwrap_err();
    assert_eq!(e.field(), Some("phrase"));
    assert_eq!(works.job_get(&admin, &job.id).await.unwrap().state, JobState::AwaitingApproval);

    works.job_approve(&admin, &job.id, ApproveJob { phrase: "install agent on acme-web-01".into() }).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let done = loop {
        let j = works.job_get(&admin, &job.id).await.unwrap();
        if matches!(j.state, JobState::Succeeded | JobState::Failed | JobState::TimedOut) {
            break j;
        }
        assert!(Instant::now() < deadline, "the installation did not end: {j:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let attempt_id = done.result.as_ref().and_then(|r| r.get("attempt_id")).and_then(|v| v.as_str()).map(str::to_owned);
    let attempt = match &attempt_id {
        Some(id) => Some(works.access_attempt_get(&admin, id).await.unwrap()),
        None => None,
    };
    let home = tb.install_home().join(".works-agent");
    assert_eq!(
        done.state,
        JobState::Succeeded,
        "{done:#?}\n{attempt:#?}\nagent log: {}",
        std::fs::read_to_string(home.join("agent.log")).unwrap_or_default()
    );
    let attempt = attempt.unwrap();
    assert_eq!(attempt.status, AttemptStatus::Succeeded);
    assert!(attempt.next_action.as_deref().unwrap_or_default().contains("the node is online"), "{attempt:#?}");
    assert_eq!(attempt.stage.step, Step::Done);
    assert!(attempt.route.contains("bastion"), "{}", attempt.route);
    let said: Vec<&str> = attempt.transcript.iter().map(|t| t.message.as_str()).collect();
    for needle in ["copying the agent", "enrolling the agent", "starting the agent", "running as a start script", "checked in", "the node is online"] {
        assert!(said.iter().any(|m| m.contains(needle)), "{needle}: {said:#?}");
    }

    // On the host: the agent, its start script, its credential; the token file is gone.
    use std::os::unix::fs::PermissionsExt;
    let copied = std::fs::metadata(home.join("works")).unwrap();
    assert_eq!(copied.len(), std::fs::metadata(agent_binary()).unwrap().len());
    assert_eq!(copied.permissions().mode() & 0o777, 0o700);
    assert!(home.join("start.sh").is_file());
    assert!(home.join("state/agent.json").is_file());
    assert!(!home.join("enroll.token").exists());
    assert_eq!(std::fs::read_to_string(home.join("server")).unwrap().trim(), server_url);
    let pid = std::fs::read_to_string(home.join("agent.pid")).unwrap();
    assert!(PathBuf::from(format!("/proc/{}", pid.trim())).exists(), "the agent is not running");

    // The agent checks in through the namespace: the node goes online.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let node = works.node_get(&admin, &node_id).await.unwrap();
        if node.status == NodeStatus::Online {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not come online: {node:#?}\nagent log: {}",
            std::fs::read_to_string(home.join("agent.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The enrollment token shows nowhere: not in the attempt, the job or the audit trail.
    let audit = works.audit_query(&admin, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap();
    let texts = [
        serde_json::to_string(&attempt).unwrap(),
        serde_json::to_string(&works.job_get(&admin, &job.id).await.unwrap()).unwrap(),
        serde_json::to_string(&audit).unwrap(),
    ];
    let logged = testbed::logged();
    assert!(logged.contains("host.install_agent") || logged.contains("install"), "the log holds the run");
    let agent_log = std::fs::read_to_string(home.join("agent.log")).unwrap_or_default();
    for t in texts.iter().chain([&logged, &agent_log]) {
        assert!(!t.contains("wke_"), "an enrollment token shows: {t}");
    }
    assert!(audit.records.iter().any(|r| r.action == "host.install_agent"));

    // Changing how the host is reached asks for Test Access again.
    let h = works.host_update(&admin, &host.id, HostUpdate { port: Some(testbed::DOCKER_OK), ..Default::default() }).await.unwrap();
    assert!(h.verified_at.is_none() && h.host_key.is_none());

    tb.stop_agent();
    server.abort();
}

async fn wait_attempt(works: &Works, admin: &works_core::Actor, id: &str) -> AccessAttempt {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let a = works.access_attempt_get(admin, id).await.unwrap();
        if a.status != AttemptStatus::Running {
            return a;
        }
        assert!(Instant::now() < deadline, "attempt did not end: {a:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
