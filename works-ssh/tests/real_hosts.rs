//! Test Access against real `sshd` hosts in network namespaces (see `testbed`), through
//! the core with a real store, on SQLite and (when the run has one) PostgreSQL.

mod testbed;

use std::sync::Arc;
use std::time::{Duration, Instant};

use works_core::{
    AccessAttempt, Actor, AttemptStatus, Bootstrap, FailureKind, Hop, Host, LoginInput, NewHost, NewJumpbox, NewOrg, NewSshCredential, Org,
    SessionKind, Step, Works,
};
use works_ssh::OpenSshProbe;


struct World {
    works: Works,
    admin: Actor,
    org: Org,
    good_credential: String,
    wrong_credential: String,
    jumpbox: String,
}

async fn world(store: Arc<dyn works_core::Store>, tb: &testbed::Testbed) -> World {
    testbed::capture_logs();
    let works = Works::new(store).with_master_key(&works_store::testing::test_master_key()).with_access_probe(Arc::new(OpenSshProbe::new()));
    assert_eq!(works.bootstrap(Some("first-admin-password".into())).await.unwrap(), Bootstrap::CreatedWithGivenPassword);
    let login = works.login(LoginInput { username: "admin".into(), password: "first-admin-password".into() }, SessionKind::Api).await.unwrap();
    let admin = works.authenticate(&login.token).await.unwrap();
    let org = works.org_create(&admin, NewOrg { name: "Acme Dental".into() }).await.unwrap();
    let good = works.ssh_credential_create(&admin, NewSshCredential { name: "msp-key".into(), private_key: tb.client_key.private.clone() }).await.unwrap();
    let wrong = works.ssh_credential_create(&admin, NewSshCredential { name: "old-key".into(), private_key: tb.wrong_key.private.clone() }).await.unwrap();
    let jumpbox = works
        .jumpbox_create(&admin, NewJumpbox { name: "bastion".into(), address: tb.jump_address.clone(), port: None, user: "root".into(), credential_id: good.id.clone() })
        .await
        .unwrap();
    World { works, admin, org, good_credential: good.id, wrong_credential: wrong.id, jumpbox: jumpbox.id }
}

impl World {
    async fn host(&self, name: &str, address: &str, port: u16, credential: &str, via_jumpbox: bool) -> Host {
        self.works
            .host_create(
                &self.admin,
                NewHost {
                    org_id: self.org.id.clone(),
                    name: name.into(),
                    address: address.into(),
                    port: Some(port),
                    user: "root".into(),
                    credential_id: credential.into(),
                    jumpbox: via_jumpbox.then(|| "bastion".to_owned()),
                },
            )
            .await
            .unwrap()
    }

    /// Starts Test Access and reads the attempt until it ends.
    async fn test_access(&self, host: &Host) -> AccessAttempt {
        let started = self.works.host_test_access(&self.admin, &host.id).await.unwrap();
        assert_eq!(started.status, AttemptStatus::Running);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let a = self.works.access_attempt_get(&self.admin, &started.id).await.unwrap();
            if a.status != AttemptStatus::Running {
                return a;
            }
            assert!(Instant::now() < deadline, "attempt did not end: {a:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn assert_failed(a: &AccessAttempt, kind: FailureKind, hop: Hop, step: Step) {
    assert_eq!(a.status, AttemptStatus::Failed, "{a:#?}");
    assert_eq!(a.failure, Some(kind), "{a:#?}");
    assert_eq!((a.stage.hop, a.stage.step), (hop, step), "{a:#?}");
    assert!(a.reason.as_deref().is_some_and(|r| !r.is_empty()), "{a:#?}");
    assert!(a.next_action.as_deref().is_some_and(|r| !r.is_empty()), "{a:#?}");
    assert!(a.finished_at.is_some());
}

/// No part of a private key body in any text.
fn assert_no_key(tb: &testbed::Testbed, what: &str, text: &str) {
    for key in [&tb.client_key.private, &tb.wrong_key.private] {
        for line in key.lines().filter(|l| !l.starts_with("-----") && l.len() > 20) {
            assert!(!text.contains(line), "a private key line shows in {what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_jumpbox_access_is_verified_discovered_and_registered() {
    if !testbed::available() {
        return;
    }
    for backend in backends().await {
        let tb = testbed::Testbed::start();
        let w = world(backend.1.clone(), &tb).await;
        let host = w.host("acme-web-01", &tb.target_address, testbed::DOCKER_OK, &w.good_credential, true).await;

        let a = w.test_access(&host).await;
        assert_eq!(a.status, AttemptStatus::Succeeded, "{}: {a:#?}", backend.0);
        assert_eq!((a.stage.hop, a.stage.step), (Hop::Target, Step::Done));
        assert!(a.route.contains("bastion") && a.route.contains(&tb.target_address), "{}", a.route);
        let d = &a.discovery;
        assert!(d.os.is_some() && d.kernel.is_some() && d.arch.is_some() && d.cpus.is_some(), "{d:#?}");
        assert!(d.memory_mib.is_some() && d.disk_total_mib.is_some(), "{d:#?}");
        assert_eq!(d.docker_installed, Some(true));
        assert_eq!(d.docker_version.as_deref(), Some("27.5.1"));
        assert_eq!(d.openclaw_likely, Some(true));
        assert!(d.containers.iter().any(|c| c.name == "openclaw-gateway" && c.likely_openclaw), "{d:#?}");
        assert!(a.transcript.iter().any(|t| t.hop == Hop::Jumpbox), "{:#?}", a.transcript);
        assert!(a.transcript.iter().any(|t| t.message.contains("now pinned")), "{:#?}", a.transcript);

        // Host keys pinned on both hops, the host verified.
        let host = w.works.host_get(&w.admin, &host.id).await.unwrap();
        assert!(host.host_key.is_some() && host.host_key_fingerprint.as_deref().is_some_and(|f| f.starts_with("SHA256:")), "{host:#?}");
        assert!(host.verified_at.is_some());
        let jump = w.works.jumpbox_get(&w.admin, &w.jumpbox).await.unwrap();
        assert!(jump.host_key.is_some(), "{jump:#?}");

        // Again, now checked strictly against the pinned keys.
        let again = w.test_access(&host).await;
        assert_eq!(again.status, AttemptStatus::Succeeded, "{again:#?}");
        assert!(again.transcript.iter().any(|t| t.message.contains("matches the pinned one")), "{:#?}", again.transcript);

        // A node candidate in the host's organization, without an agent.
        let node = w.works.host_register(&w.admin, &host.id).await.unwrap();
        assert_eq!(node.org_id.as_deref(), Some(w.org.id.as_str()));
        assert_eq!(node.name, "acme-web-01");
        let host = w.works.host_get(&w.admin, &host.id).await.unwrap();
        assert_eq!(host.node_id.as_deref(), Some(node.id.as_str()));
        let twice = w.works.host_register(&w.admin, &host.id).await.unwrap_err();
        assert_eq!(twice.kind(), "conflict");

        // The key shows nowhere: attempts, records, audit.
        let mut texts = vec![serde_json::to_string(&a).unwrap(), serde_json::to_string(&again).unwrap(), serde_json::to_string(&host).unwrap()];
        texts.push(serde_json::to_string(&w.works.ssh_credential_list(&w.admin, Default::default()).await.unwrap()).unwrap());
        texts.push(serde_json::to_string(&w.works.audit_query(&w.admin, Default::default()).await.unwrap()).unwrap());
        for t in &texts {
            assert_no_key(&tb, "a response", t);
        }
        let log = testbed::logged();
        assert!(!log.is_empty(), "the log was captured");
        assert_no_key(&tb, "the log", &log);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_has_its_own_reason_and_next_action() {
    if !testbed::available() {
        return;
    }
    for backend in backends().await {
        let tb = testbed::Testbed::start();
        let w = world(backend.1.clone(), &tb).await;
        let name = backend.0;

        // Wrong key: the target refuses it.
        let h = w.host("wrong-key", &tb.target_address, testbed::DOCKER_OK, &w.wrong_credential, true).await;
        let a = w.test_access(&h).await;
        assert_failed(&a, FailureKind::AuthenticationFailed, Hop::Target, Step::Authenticate);
        assert!(a.reason.as_deref().unwrap().contains("refused the SSH key"), "{name}: {a:#?}");

        // Docker absent, and Docker not permitted.
        let h = w.host("no-docker", &tb.target_address, testbed::DOCKER_ABSENT, &w.good_credential, true).await;
        let a = w.test_access(&h).await;
        assert_failed(&a, FailureKind::DockerMissing, Hop::Target, Step::Docker);
        assert!(a.reason.as_deref().unwrap().contains("Docker is not installed"), "{a:#?}");
        assert!(a.discovery.kernel.is_some(), "the other findings are kept: {a:#?}");
        let h = w.host("docker-denied", &tb.target_address, testbed::DOCKER_DENIED, &w.good_credential, true).await;
        let a = w.test_access(&h).await;
        assert_failed(&a, FailureKind::DockerNotPermitted, Hop::Target, Step::Docker);
        assert!(a.next_action.as_deref().unwrap().contains("docker group"), "{a:#?}");

        // A direct route to the target: no route from here.
        let h = w.host("direct", &tb.target_address, testbed::DOCKER_OK, &w.good_credential, false).await;
        let a = w.test_access(&h).await;
        assert_failed(&a, FailureKind::NoRoute, Hop::Target, Step::Connect);
        assert!(a.next_action.as_deref().unwrap().contains("jumpbox"), "{a:#?}");

        // Changed host key: pinned first, then the machine is "rebuilt".
        let h = w.host("rebuilt", &tb.target_address, testbed::DOCKER_OK, &w.good_credential, true).await;
        assert_eq!(w.test_access(&h).await.status, AttemptStatus::Succeeded);
        tb.rebuild_target(testbed::DOCKER_OK);
        let a = w.test_access(&h).await;
        assert_failed(&a, FailureKind::HostKeyChanged, Hop::Target, Step::HostKey);
        assert!(a.reason.as_deref().unwrap().contains("different host key"), "{a:#?}");
        assert!(!a.technical.is_empty(), "raw output is kept apart: {a:#?}");
        let pinned_before = w.works.host_get(&w.admin, &h.id).await.unwrap().host_key;
        assert!(pinned_before.is_some(), "the old key stays pinned until someone clears it");
        // After the owner confirms, the pin is cleared and the new key pinned.
        w.works.host_forget_host_key(&w.admin, &h.id).await.unwrap();
        assert_eq!(w.test_access(&h).await.status, AttemptStatus::Succeeded);
        assert_ne!(w.works.host_get(&w.admin, &h.id).await.unwrap().host_key, pinned_before);

        // Target down: the jumpbox cannot open the way to it.
        tb.stop_target(testbed::DOCKER_OK);
        let a = w.test_access(&h).await;
        assert_failed(&a, FailureKind::ConnectionRefused, Hop::Target, Step::Connect);
        assert!(a.reason.as_deref().unwrap().contains("through jumpbox bastion"), "{a:#?}");

        // Jumpbox down.
        tb.stop_jumpbox();
        let a = w.test_access(&h).await;
        assert_failed(&a, FailureKind::JumpboxUnreachable, Hop::Jumpbox, Step::Connect);
        assert!(a.reason.as_deref().unwrap().contains("bastion"), "{a:#?}");

        // Every reason differs.
        let all = w.works.access_attempt_list(&w.admin, Default::default()).await.unwrap().items;
        let failed: Vec<_> = all.iter().filter(|a| a.status == AttemptStatus::Failed).collect();
        let mut kinds: Vec<_> = failed.iter().map(|a| a.failure).collect();
        kinds.sort_by_key(|k| k.map(|k| k.as_str()));
        kinds.dedup();
        assert_eq!(kinds.len(), failed.len(), "{name}: each failure kind once");
        for a in &all {
            assert_no_key(&tb, "an attempt", &serde_json::to_string(a).unwrap());
        }
        assert_no_key(&tb, "the log", &testbed::logged());
    }
}

async fn backends() -> Vec<(&'static str, Arc<dyn works_core::Store>, Option<tempfile::TempDir>)> {
    let (dir, store, _) = works_store::testing::fresh_sqlite().await;
    let mut out = vec![("sqlite", store, Some(dir))];
    if let Some((store, _)) = works_store::testing::fresh_postgres().await {
        out.push(("postgres", store, None));
    }
    out
}
