//! The access layer: nothing an operator types can become an ssh option or a command;
//! SSH credentials are for MSP roles, sealed at rest and never returned; hosts and Test
//! Access attempts follow tenancy; a verified host registers as a node candidate.
//! Runs on SQLite and PostgreSQL, with a scripted SSH adapter that counts its runs (the
//! real OpenSSH adapter is tested against real hosts in `works-ssh`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use works_core::probe::{AccessProbe, Check, ProbeEvent, ProbeFailure, ProbeRoute};
use works_core::{
    AccessAttempt, AttemptStatus, AuditQuery, Error, FailureKind, Hop, Host, HostQuery, NewHost, NewJumpbox, NewSshCredential, Step, Works,
};
use works_guarantees::{backends, Person, World};

/// A scripted adapter: succeeds like a healthy host with Docker, or fails as told.
struct Scripted {
    runs: AtomicUsize,
    host_key: String,
    fail: Option<FailureKind>,
}

#[async_trait]
impl AccessProbe for Scripted {
    async fn probe(&self, route: ProbeRoute, events: tokio::sync::mpsc::UnboundedSender<ProbeEvent>) -> Result<(), ProbeFailure> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if let Some(kind) = self.fail {
            return Err(ProbeFailure { hop: Hop::Target, step: Step::Authenticate, kind, technical: "root@203.0.113.5: Permission denied (publickey).".into() });
        }
        if route.jumpbox.is_some() {
            let _ = events.send(ProbeEvent::Connected { hop: Hop::Jumpbox, host_key: self.host_key.clone() });
        }
        let _ = events.send(ProbeEvent::Connected { hop: Hop::Target, host_key: self.host_key.clone() });
        for check in Check::ALL {
            let stdout = match check {
                Check::OsRelease => "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
                Check::Kernel => "6.1.0-test\n",
                Check::Arch => "x86_64\n",
                Check::Cpus => "4\n",
                Check::Memory => "MemTotal: 8000000 kB\n",
                Check::Disk => "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 40000000 1 30000000 1% /\n",
                Check::DockerCli => "Docker version 27.5.1\n",
                Check::DockerEngine => "27.5.1\n",
                Check::Containers => "openclaw-gateway\tghcr.io/openclaw/openclaw:1\tUp\n",
            };
            let _ = events.send(ProbeEvent::CheckDone { check, exit: Some(0), stdout: stdout.into(), stderr: String::new() });
        }
        Ok(())
    }
}

fn keygen(dir: &std::path::Path, name: &str, passphrase: &str) -> (String, String) {
    let path = dir.join(name);
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-C", "test", "-N", passphrase, "-f"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("ssh-keygen is needed (openssh-client): {e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (std::fs::read_to_string(&path).unwrap(), std::fs::read_to_string(path.with_extension("pub")).unwrap())
}

struct Fixture {
    works: Works,
    probe: Arc<Scripted>,
    key: String,
    credential: String,
    host: Host,
    _dir: tempfile::TempDir,
}

async fn fixture(w: &World, fail: Option<FailureKind>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path(), "id", "");
    let (_, host_pub) = keygen(dir.path(), "host", "");
    let host_key = host_pub.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let probe = Arc::new(Scripted { runs: AtomicUsize::new(0), host_key, fail });
    let works = w.works.clone().with_access_probe(probe.clone());
    let admin = &w.msp_admin.actor;
    let cred = works.ssh_credential_create(admin, NewSshCredential { name: "msp-key".into(), private_key: key.clone() }).await.unwrap();
    works
        .jumpbox_create(admin, NewJumpbox { name: "bastion".into(), address: "bastion.example.test".into(), port: Some(2222), user: "jump".into(), credential_id: cred.id.clone() })
        .await
        .unwrap();
    let host = works.host_create(admin, new_host(w, &cred.id)).await.unwrap();
    Fixture { works, probe, key, credential: cred.id, host, _dir: dir }
}

fn new_host(w: &World, credential: &str) -> NewHost {
    NewHost {
        org_id: w.org_a.id.clone(),
        name: "acme-web-01".into(),
        address: "203.0.113.5".into(),
        port: None,
        user: "root".into(),
        credential_id: credential.into(),
        jumpbox: Some("bastion".into()),
    }
}

async fn finished(works: &Works, who: &Person, id: &str) -> AccessAttempt {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = works.access_attempt_get(&who.actor, id).await.unwrap();
        if a.status != AttemptStatus::Running {
            return a;
        }
        assert!(Instant::now() < deadline, "attempt did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn field(e: &Error) -> &str {
    match e {
        Error::InvalidInput { field, .. } => field,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

/// Values that would be an option, a second line, an expansion or a command if they
/// reached ssh or a shell.
const CORPUS: &[&str] = &[
    "-oProxyCommand=touch /tmp/works-pwned",
    "-oProxyCommand=sh",
    "-J",
    "$(touch /tmp/works-pwned)",
    "`touch /tmp/works-pwned`",
    "%h",
    "a%d",
    "a;id",
    "a|id",
    "a&&id",
    "a\nProxyCommand touch /tmp/works-pwned",
    "a\r\nb",
    "a\0b",
    "a b",
    "a\tb",
    "'a'",
    "\"a\"",
    "a\\b",
    "<a",
    "a>b",
    "a(b)",
    "${IFS}",
    "",
];

#[tokio::test]
async fn injection_corpus_is_refused_in_every_field_and_nothing_runs() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let f = fixture(&w, None).await;
        let admin = &w.msp_admin.actor;
        let before = serde_json::to_string(&f.works.host_list(admin, HostQuery::default()).await.unwrap()).unwrap();
        let jumpboxes_before = f.works.jumpbox_list(admin, Default::default()).await.unwrap().items.len();
        for bad in CORPUS {
            let e = f.works.ssh_credential_create(admin, NewSshCredential { name: bad.to_string(), private_key: f.key.clone() }).await.unwrap_err();
            assert_eq!(field(&e), "name", "{bad:?}");
            let jb = |name: &str, address: &str, user: &str| NewJumpbox { name: name.into(), address: address.into(), port: None, user: user.into(), credential_id: f.credential.clone() };
            for (input, expected) in [(jb(bad, "198.18.0.2", "root"), "name"), (jb("j2", bad, "root"), "address"), (jb("j2", "198.18.0.2", bad), "user")] {
                let e = f.works.jumpbox_create(admin, input).await.unwrap_err();
                assert_eq!(field(&e), expected, "{bad:?}");
                assert!(!e.to_string().is_empty());
            }
            let mut cases = Vec::new();
            let base = new_host(&w, &f.credential);
            cases.push((NewHost { name: bad.to_string(), ..base.clone() }, "name"));
            cases.push((NewHost { name: "h2".into(), address: bad.to_string(), ..base.clone() }, "address"));
            cases.push((NewHost { name: "h2".into(), user: bad.to_string(), ..base.clone() }, "user"));
            if !bad.is_empty() {
                cases.push((NewHost { name: "h2".into(), jumpbox: Some(bad.to_string()), ..base.clone() }, "jumpbox"));
            }
            cases.push((NewHost { name: "h2".into(), credential_id: bad.to_string(), ..base.clone() }, "credential_id"));
            for (input, expected) in cases {
                let e = f.works.host_create(admin, input).await.unwrap_err();
                assert_eq!(field(&e), expected, "{bad:?}");
            }
        }
        // Port 0 is not a port.
        let e = f.works.host_create(admin, NewHost { name: "h2".into(), port: Some(0), ..new_host(&w, &f.credential) }).await.unwrap_err();
        assert_eq!(field(&e), "port");
        // The reason says why, e.g. an option.
        let e = f.works.host_create(admin, NewHost { name: "h2".into(), user: "-oProxyCommand=x".into(), ..new_host(&w, &f.credential) }).await.unwrap_err();
        assert!(e.to_string().contains("option"), "{e}");

        // Nothing was stored, nothing ran.
        assert_eq!(serde_json::to_string(&f.works.host_list(admin, HostQuery::default()).await.unwrap()).unwrap(), before);
        assert_eq!(f.works.jumpbox_list(admin, Default::default()).await.unwrap().items.len(), jumpboxes_before);
        assert_eq!(f.probe.runs.load(Ordering::SeqCst), 0);

        // A bad value put straight into the database is still refused before any ssh runs.
        let mut planted = f.host.clone();
        planted.id = "0192f0a3-7c1b-7d2e-9f00-00000000beef".into();
        planted.name = "planted".into();
        planted.address = "-oProxyCommand=touch /tmp/works-pwned".into();
        let draft = works_core::AuditDraft {
            at: chrono::Utc::now(),
            actor_id: "test".into(),
            actor_name: "test".into(),
            org_id: None,
            action: "test.plant".into(),
            target_kind: "host".into(),
            target_id: None,
            outcome: works_core::Outcome::Succeeded,
            reason: "planted".into(),
        };
        backend.store.insert_host(&planted, draft).await.unwrap();
        let e = f.works.host_test_access(admin, &planted.id).await.unwrap_err();
        assert_eq!(field(&e), "address", "{backend_name}", backend_name = backend.name);
        assert_eq!(f.probe.runs.load(Ordering::SeqCst), 0);
        assert!(!std::path::Path::new("/tmp/works-pwned").exists());
    }
}

#[tokio::test]
async fn ssh_credentials_are_for_msp_roles_sealed_and_never_returned() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let f = fixture(&w, None).await;
        let body: String = f.key.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("");
        let lines: Vec<&str> = f.key.lines().filter(|l| !l.starts_with("-----") && l.len() > 20).collect();

        // Organization roles may neither add nor see credentials.
        for p in [&w.a_admin, &w.a_user, &w.b_admin] {
            let e = f.works.ssh_credential_create(&p.actor, NewSshCredential { name: "mine".into(), private_key: f.key.clone() }).await.unwrap_err();
            assert_eq!(e.kind(), "forbidden", "{}", p.user.username);
            assert_eq!(f.works.ssh_credential_list(&p.actor, Default::default()).await.unwrap_err().kind(), "forbidden");
            assert_eq!(f.works.ssh_credential_get(&p.actor, &f.credential).await.unwrap_err().kind(), "forbidden");
        }
        // The operator may; the answer has the type and fingerprint, not the key.
        let dir = tempfile::tempdir().unwrap();
        let (key2, pub2) = keygen(dir.path(), "k2", "");
        let c = f.works.ssh_credential_create(&w.msp_operator.actor, NewSshCredential { name: "ops-key".into(), private_key: key2.clone() }).await.unwrap();
        assert_eq!(c.key_type, "ssh-ed25519");
        assert!(c.fingerprint.starts_with("SHA256:"));
        assert!(pub2.starts_with(&c.public_key), "{} vs {pub2}", c.public_key);

        // Passphrase-protected and damaged keys are refused plainly.
        let (locked, _) = keygen(dir.path(), "k3", "a passphrase");
        let e = f.works.ssh_credential_create(&w.msp_admin.actor, NewSshCredential { name: "locked".into(), private_key: locked }).await.unwrap_err();
        assert_eq!(field(&e), "private_key");
        assert!(e.to_string().contains("passphrase"), "{e}");
        let damaged = key2.replace(&key2.lines().nth(2).unwrap().to_owned(), "AAAA");
        let e = f.works.ssh_credential_create(&w.msp_admin.actor, NewSshCredential { name: "damaged".into(), private_key: damaged }).await.unwrap_err();
        assert_eq!(field(&e), "private_key");
        let e = f.works.ssh_credential_create(&w.msp_admin.actor, NewSshCredential { name: "public".into(), private_key: pub2.clone() }).await.unwrap_err();
        assert!(e.to_string().contains("public key"), "{e}");

        // Sealed at rest, bound to the credential.
        let rec = backend.store.get_ssh_credential(&f.credential).await.unwrap().unwrap();
        assert!(rec.sealed_key.starts_with("v1."));
        for l in &lines {
            assert!(!rec.sealed_key.contains(l));
        }
        assert!(format!("{rec:?}").contains("<sealed>"));

        // Run an attempt, then search every answer and the audit log for the key.
        let started = f.works.host_test_access(&w.msp_admin.actor, &f.host.id).await.unwrap();
        let attempt = finished(&f.works, &w.msp_admin, &started.id).await;
        let mut texts = vec![
            serde_json::to_string(&c).unwrap(),
            serde_json::to_string(&f.works.ssh_credential_list(&w.msp_admin.actor, Default::default()).await.unwrap()).unwrap(),
            serde_json::to_string(&f.works.ssh_credential_get(&w.msp_admin.actor, &f.credential).await.unwrap()).unwrap(),
            serde_json::to_string(&f.works.host_list(&w.msp_admin.actor, HostQuery::default()).await.unwrap()).unwrap(),
            serde_json::to_string(&f.works.jumpbox_list(&w.msp_admin.actor, Default::default()).await.unwrap()).unwrap(),
            serde_json::to_string(&attempt).unwrap(),
        ];
        let audit = f.works.audit_query(&w.msp_admin.actor, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap();
        texts.push(serde_json::to_string(&audit).unwrap());
        for t in &texts {
            assert!(!t.contains(&body), "the key shows in {t}");
            for l in &lines {
                assert!(!t.contains(l), "a key line shows in {t}");
            }
            assert!(!t.contains("PRIVATE KEY"), "{t}");
        }
        assert!(audit.records.iter().any(|r| r.action == "ssh_credential.create"));

        // A credential in use cannot be deleted; an unused one can.
        assert_eq!(f.works.ssh_credential_delete(&w.msp_admin.actor, &f.credential).await.unwrap_err().kind(), "conflict");
        f.works.ssh_credential_delete(&w.msp_admin.actor, &c.id).await.unwrap();
    }
}

#[tokio::test]
async fn hosts_and_attempts_follow_tenancy_and_a_verified_host_registers_as_a_candidate() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let f = fixture(&w, None).await;
        let id = f.host.id.clone();

        // MSP roles manage; organization admins see their organization's hosts only.
        assert_eq!(f.works.host_list(&w.a_admin.actor, HostQuery::default()).await.unwrap().items.len(), 1);
        assert_eq!(f.works.host_get(&w.a_admin.actor, &id).await.unwrap().id, id);
        for p in [&w.b_admin, &w.a_user, &w.b_user] {
            assert!(f.works.host_list(&p.actor, HostQuery::default()).await.unwrap().items.is_empty(), "{}", p.user.username);
            assert_eq!(f.works.host_get(&p.actor, &id).await.unwrap_err().kind(), "not_found", "{}", p.user.username);
            assert_eq!(f.works.host_test_access(&p.actor, &id).await.unwrap_err().kind(), "not_found");
        }
        let e = f.works.host_create(&w.a_admin.actor, NewHost { name: "mine".into(), ..new_host(&w, &f.credential) }).await.unwrap_err();
        assert_eq!(e.kind(), "forbidden");
        assert_eq!(f.works.host_test_access(&w.a_admin.actor, &id).await.unwrap_err().kind(), "forbidden");
        assert_eq!(f.works.jumpbox_list(&w.a_admin.actor, Default::default()).await.unwrap_err().kind(), "forbidden");
        // Not verified yet: no registering.
        assert_eq!(f.works.host_register(&w.msp_admin.actor, &id).await.unwrap_err().kind(), "conflict");
        assert_eq!(f.probe.runs.load(Ordering::SeqCst), 0);

        // An attempt by the operator, visible to the organization's admin, not to another's.
        let started = f.works.host_test_access(&w.msp_operator.actor, &id).await.unwrap();
        assert_eq!(started.status, AttemptStatus::Running);
        let a = finished(&f.works, &w.a_admin, &started.id).await;
        assert_eq!(a.status, AttemptStatus::Succeeded, "{a:#?}");
        assert_eq!(a.discovery.docker_version.as_deref(), Some("27.5.1"));
        assert_eq!(a.discovery.openclaw_likely, Some(true));
        assert!(a.next_action.as_deref().unwrap().contains("register"));
        assert_eq!(f.works.access_attempt_get(&w.b_admin.actor, &a.id).await.unwrap_err().kind(), "not_found");
        assert!(f.works.access_attempt_list(&w.b_admin.actor, Default::default()).await.unwrap().items.is_empty());
        assert_eq!(f.works.access_attempt_list(&w.a_admin.actor, Default::default()).await.unwrap().items.len(), 1);
        let host = f.works.host_get(&w.msp_admin.actor, &id).await.unwrap();
        assert!(host.host_key_fingerprint.is_some() && host.verified_at.is_some());
        let jb = f.works.jumpbox_list(&w.msp_admin.actor, Default::default()).await.unwrap().items;
        assert!(jb[0].host_key.is_some(), "the jumpbox key is pinned too");

        // Registering: organization admins may not; MSP roles may, once.
        assert_eq!(f.works.host_register(&w.a_admin.actor, &id).await.unwrap_err().kind(), "forbidden");
        assert_eq!(f.works.host_register(&w.b_admin.actor, &id).await.unwrap_err().kind(), "not_found");
        let node = f.works.host_register(&w.msp_operator.actor, &id).await.unwrap();
        assert_eq!(node.org_id.as_deref(), Some(w.org_a.id.as_str()));
        assert!(node.enrolled_at.is_none(), "a candidate: no agent yet");
        assert_eq!(f.works.node_get(&w.a_admin.actor, &node.id).await.unwrap().name, "acme-web-01");

        // Refusals are recorded.
        let audit = f.works.audit_query(&w.msp_admin.actor, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap();
        assert!(audit.records.iter().any(|r| r.action == "host.test_access" && r.outcome == works_core::Outcome::Denied));
        assert!(audit.records.iter().any(|r| r.action == "host.register" && r.outcome == works_core::Outcome::Succeeded));
    }
}

#[tokio::test]
async fn a_failed_attempt_says_where_why_and_what_next() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let f = fixture(&w, Some(FailureKind::AuthenticationFailed)).await;
        let started = f.works.host_test_access(&w.msp_admin.actor, &f.host.id).await.unwrap();
        let a = finished(&f.works, &w.msp_admin, &started.id).await;
        assert_eq!(a.status, AttemptStatus::Failed);
        assert_eq!(a.failure, Some(FailureKind::AuthenticationFailed));
        assert_eq!((a.stage.hop, a.stage.step), (Hop::Target, Step::Authenticate));
        assert!(a.reason.as_deref().unwrap().contains("acme-web-01"), "{a:#?}");
        assert!(a.next_action.as_deref().unwrap().contains("authorized_keys"), "{a:#?}");
        assert!(a.technical.contains("Permission denied"), "raw output apart: {a:#?}");
        assert!(!a.reason.as_deref().unwrap().contains("Permission denied"), "the reason is plain English");
        let host = f.works.host_get(&w.msp_admin.actor, &f.host.id).await.unwrap();
        assert!(host.verified_at.is_none() && host.host_key.is_none());
        // The audit log says the attempt failed, not that it succeeded, and finds it
        // by that outcome.
        let failed = AuditQuery { outcome: Some(works_core::Outcome::Failed), limit: Some(50), ..Default::default() };
        let records = f.works.audit_query(&w.msp_admin.actor, failed).await.unwrap().records;
        let record = records.iter().find(|r| r.action == "host.test_access" && r.target_id.as_deref() == Some(a.id.as_str()));
        let record = record.unwrap_or_else(|| panic!("[{}] no failed Test Access record: {records:#?}", backend.name));
        assert!(record.reason.contains("failed at target authenticate"), "{record:#?}");
    }
}

#[tokio::test]
async fn an_attempt_a_stopped_server_left_running_ends_as_interrupted() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let f = fixture(&w, None).await;
        let long_ago = works_core::Clock::now(w.clock.as_ref()) - chrono::Duration::hours(1);
        let left = AccessAttempt {
            id: "0192f0a3-7c1b-7d2e-9f00-0000000a7701".into(),
            host_id: f.host.id.clone(),
            org_id: f.host.org_id.clone(),
            host_name: f.host.name.clone(),
            jumpbox_id: f.host.jumpbox_id.clone(),
            route: "left running".into(),
            status: AttemptStatus::Running,
            stage: works_core::Stage { hop: Hop::Target, step: Step::Discover },
            failure: None,
            reason: None,
            next_action: None,
            transcript: vec![],
            discovery: Default::default(),
            technical: String::new(),
            requested_by: "admin".into(),
            started_at: long_ago,
            updated_at: long_ago,
            finished_at: None,
        };
        let draft = works_core::AuditDraft {
            at: long_ago,
            actor_id: "test".into(),
            actor_name: "test".into(),
            org_id: None,
            action: "test.plant".into(),
            target_kind: "access_attempt".into(),
            target_id: None,
            outcome: works_core::Outcome::Succeeded,
            reason: "planted".into(),
        };
        backend.store.insert_access_attempt(&left, draft).await.unwrap();
        w.works.recover().await.unwrap();
        let a = w.works.access_attempt_get(&w.msp_admin.actor, &left.id).await.unwrap();
        assert_eq!(a.status, AttemptStatus::Failed, "{}", backend.name);
        assert_eq!(a.failure, Some(FailureKind::Interrupted));
        assert!(a.reason.as_deref().unwrap().contains("cut off"), "{a:#?}");
        assert!(a.next_action.as_deref().unwrap().contains("Test Access"), "{a:#?}");
        let audit = w.works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some("host.test_access".into()), limit: Some(50), ..Default::default() }).await.unwrap();
        let ended: Vec<_> = audit.records.iter().filter(|r| r.target_id.as_deref() == Some(left.id.as_str())).map(|r| r.outcome).collect();
        assert_eq!(ended, vec![works_core::Outcome::Failed], "[{}] the interrupted attempt is recorded as failed", backend.name);
        // A second pass leaves it as it is.
        w.works.recover().await.unwrap();
        assert_eq!(w.works.access_attempt_get(&w.msp_admin.actor, &left.id).await.unwrap(), a);
    }
}

#[tokio::test]
async fn hosts_and_jumpboxes_are_edited_and_deleted_by_msp_roles_with_every_field_checked() {
    use works_core::{HostUpdate, JumpboxUpdate};
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let f = fixture(&w, None).await;
        let admin = &w.msp_admin.actor;
        let id = f.host.id.clone();
        let jb = f.works.jumpbox_list(admin, Default::default()).await.unwrap().items.remove(0);

        // Every field of both is checked like on creation; nothing changes, nothing runs.
        let host_before = f.works.host_get(admin, &id).await.unwrap();
        for bad in CORPUS {
            let mut cases = vec![
                (HostUpdate { name: Some(bad.to_string()), ..Default::default() }, "name"),
                (HostUpdate { address: Some(bad.to_string()), ..Default::default() }, "address"),
                (HostUpdate { user: Some(bad.to_string()), ..Default::default() }, "user"),
                (HostUpdate { credential_id: Some(bad.to_string()), ..Default::default() }, "credential_id"),
            ];
            if !bad.is_empty() {
                cases.push((HostUpdate { jumpbox: Some(bad.to_string()), ..Default::default() }, "jumpbox"));
            }
            for (input, expected) in cases {
                let e = f.works.host_update(admin, &id, input).await.unwrap_err();
                assert_eq!(field(&e), expected, "{bad:?}");
            }
            for (input, expected) in [
                (JumpboxUpdate { name: Some(bad.to_string()), ..Default::default() }, "name"),
                (JumpboxUpdate { address: Some(bad.to_string()), ..Default::default() }, "address"),
                (JumpboxUpdate { user: Some(bad.to_string()), ..Default::default() }, "user"),
                (JumpboxUpdate { credential_id: Some(bad.to_string()), ..Default::default() }, "credential_id"),
            ] {
                let e = f.works.jumpbox_update(admin, &jb.id, input).await.unwrap_err();
                assert_eq!(field(&e), expected, "{bad:?}");
            }
        }
        let e = f.works.host_update(admin, &id, HostUpdate { port: Some(0), ..Default::default() }).await.unwrap_err();
        assert_eq!(field(&e), "port");
        assert_eq!(f.works.host_get(admin, &id).await.unwrap(), host_before);
        assert_eq!(f.works.jumpbox_get(admin, &jb.id).await.unwrap(), jb);
        assert_eq!(f.probe.runs.load(Ordering::SeqCst), 0);

        // Tenancy: organization roles may not change or delete; another organization's
        // people do not even see the host.
        let rename = || HostUpdate { name: Some("renamed".into()), ..Default::default() };
        assert_eq!(f.works.host_update(&w.a_admin.actor, &id, rename()).await.unwrap_err().kind(), "forbidden");
        assert_eq!(f.works.host_delete(&w.a_admin.actor, &id).await.unwrap_err().kind(), "forbidden");
        for p in [&w.b_admin, &w.a_user, &w.b_user] {
            assert_eq!(f.works.host_update(&p.actor, &id, rename()).await.unwrap_err().kind(), "not_found", "{}", p.user.username);
            assert_eq!(f.works.host_delete(&p.actor, &id).await.unwrap_err().kind(), "not_found", "{}", p.user.username);
        }
        for p in [&w.a_admin, &w.b_admin, &w.a_user] {
            let e = f.works.jumpbox_update(&p.actor, &jb.id, JumpboxUpdate { port: Some(2200), ..Default::default() }).await.unwrap_err();
            assert_eq!(e.kind(), "forbidden");
            assert_eq!(f.works.jumpbox_delete(&p.actor, &jb.id).await.unwrap_err().kind(), "forbidden");
        }
        assert_eq!(f.works.host_get(admin, &id).await.unwrap(), host_before);

        // Verified and pinned; a new name keeps that, a new address clears both.
        let started = f.works.host_test_access(admin, &id).await.unwrap();
        assert_eq!(finished(&f.works, &w.msp_admin, &started.id).await.status, AttemptStatus::Succeeded);
        let h = f.works.host_update(&w.msp_operator.actor, &id, rename()).await.unwrap();
        assert_eq!(h.name, "renamed");
        assert!(h.verified_at.is_some() && h.host_key.is_some());
        let h = f.works.host_update(admin, &id, HostUpdate { address: Some("203.0.113.6".into()), port: Some(2222), ..Default::default() }).await.unwrap();
        assert_eq!((h.address.as_str(), h.port), ("203.0.113.6", 2222));
        assert!(h.verified_at.is_none() && h.host_key.is_none(), "{h:#?}");
        assert_eq!(f.works.host_get(&w.a_admin.actor, &id).await.unwrap(), h);
        // A name another host of the organization has is a conflict.
        f.works.host_create(admin, NewHost { name: "acme-web-02".into(), jumpbox: None, ..new_host(&w, &f.credential) }).await.unwrap();
        assert_eq!(f.works.host_update(admin, &id, HostUpdate { name: Some("acme-web-02".into()), ..Default::default() }).await.unwrap_err().kind(), "conflict");

        // A jumpbox still in use is not deleted, and the reason names the host.
        let e = f.works.jumpbox_delete(admin, &jb.id).await.unwrap_err();
        assert_eq!(e.kind(), "conflict");
        assert!(e.to_string().contains("renamed") && e.to_string().contains("another route"), "{e}");
        let j = f.works.jumpbox_update(admin, &jb.id, JumpboxUpdate { address: Some("198.18.0.9".into()), ..Default::default() }).await.unwrap();
        assert!(j.host_key.is_none(), "a new address clears the pinned key");
        let h = f.works.host_update(admin, &id, HostUpdate { jumpbox: Some(String::new()), ..Default::default() }).await.unwrap();
        assert!(h.jumpbox_id.is_none());
        f.works.jumpbox_delete(admin, &jb.id).await.unwrap();
        assert_eq!(f.works.jumpbox_get(admin, &jb.id).await.unwrap_err().kind(), "not_found");

        // Deleting a host takes its attempts with it.
        f.works.host_delete(&w.msp_operator.actor, &id).await.unwrap();
        assert_eq!(f.works.host_get(admin, &id).await.unwrap_err().kind(), "not_found");
        assert_eq!(f.works.access_attempt_get(admin, &started.id).await.unwrap_err().kind(), "not_found");

        let audit = f.works.audit_query(admin, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap();
        for action in ["host.update", "host.delete", "jumpbox.update", "jumpbox.delete"] {
            assert!(audit.records.iter().any(|r| r.action == action && r.outcome == works_core::Outcome::Succeeded), "{action}");
        }
        assert!(audit.records.iter().any(|r| r.action == "host.update" && r.outcome == works_core::Outcome::Denied));
        assert!(audit.records.iter().any(|r| r.action == "host.update" && r.reason.contains("acme-web-01 → renamed")));
    }
}

/// A scripted installer that misbehaves: it echoes the token it was given in its output.
struct LeakyInstaller {
    inner: Scripted,
    installs: AtomicUsize,
}

#[async_trait]
impl AccessProbe for LeakyInstaller {
    async fn probe(&self, route: ProbeRoute, events: tokio::sync::mpsc::UnboundedSender<ProbeEvent>) -> Result<(), ProbeFailure> {
        self.inner.probe(route, events).await
    }

    async fn install_agent(
        &self,
        request: works_core::probe::InstallRequest,
        events: tokio::sync::mpsc::UnboundedSender<works_core::probe::InstallEvent>,
    ) -> Result<works_core::probe::Installed, ProbeFailure> {
        use works_core::probe::{InstallEvent, InstallStep};
        self.installs.fetch_add(1, Ordering::SeqCst);
        assert!(request.token.expose().starts_with("wke_"));
        assert!(request.route.jumpbox.is_some(), "through the host's jumpbox");
        for step in InstallStep::ALL {
            let _ = events.send(InstallEvent::Started(step));
            let _ = events.send(InstallEvent::Finished { step, output: format!("token was {} ok", request.token.expose()) });
        }
        Err(ProbeFailure {
            hop: Hop::Target,
            step: Step::Enroll,
            kind: FailureKind::EnrollFailed,
            technical: format!("enroll with {} failed: connection refused", request.token.expose()),
        })
    }
}

#[tokio::test]
async fn agent_installation_needs_msp_roles_a_verified_host_and_a_typed_phrase_and_never_shows_the_token() {
    use works_core::agent_install::AgentInstallConfig;
    use works_core::{ApproveJob, JobState};
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let f = fixture(&w, None).await;
        let admin = &w.msp_admin.actor;
        let id = f.host.id.clone();

        // Without the server's address for agents: a plain refusal saying what to set.
        let e = f.works.host_install_agent(admin, &id).await.unwrap_err();
        assert_eq!(e.kind(), "conflict");
        assert!(e.to_string().contains("WORKS_AGENT_SERVER_URL"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("works");
        std::fs::write(&binary, b"#!/bin/sh\n").unwrap();
        let probe = Arc::new(LeakyInstaller { inner: Scripted { runs: AtomicUsize::new(0), host_key: f.probe.host_key.clone(), fail: None }, installs: AtomicUsize::new(0) });
        let works = f.works.clone().with_access_probe(probe.clone()).with_agent_install(AgentInstallConfig { binary, server_url: "http://198.18.0.1:8080".into() }).unwrap();
        assert_eq!(field(&w.works.clone().with_agent_install(AgentInstallConfig { binary: "/x".into(), server_url: "http://x;id".into() }).err().unwrap()), "agent_server_url");

        // Tenancy and roles.
        assert_eq!(works.host_install_agent(&w.a_admin.actor, &id).await.unwrap_err().kind(), "forbidden");
        for p in [&w.b_admin, &w.a_user, &w.b_user] {
            assert_eq!(works.host_install_agent(&p.actor, &id).await.unwrap_err().kind(), "not_found", "{}", p.user.username);
        }
        // Not before Test Access passed.
        assert_eq!(works.host_install_agent(admin, &id).await.unwrap_err().kind(), "conflict");
        let started = works.host_test_access(admin, &id).await.unwrap();
        assert_eq!(finished(&works, &w.msp_admin, &started.id).await.status, AttemptStatus::Succeeded);

        let job = works.host_install_agent(&w.msp_operator.actor, &id).await.unwrap();
        assert_eq!(job.state, JobState::AwaitingApproval);
        assert_eq!(job.approval_phrase.as_deref(), Some("install agent on acme-web-01"));
        assert_eq!(works.job_get(&w.b_admin.actor, &job.id).await.unwrap_err().kind(), "not_found");
        let e = works.job_approve(admin, &job.id, ApproveJob { phrase: "install agent on acme-web-02".into() }).await.unwrap_err();
        assert_eq!(field(&e), "phrase");
        assert_eq!(probe.installs.load(Ordering::SeqCst), 0, "nothing runs before the phrase");
        // The organization's admin may approve risky work on its nodes, but not an SSH
        // installation with the MSP's credentials: refused, recorded, nothing runs.
        let other = works.host_install_agent(admin, &id).await.unwrap();
        works.job_approve(&w.a_admin.actor, &other.id, ApproveJob { phrase: "install agent on acme-web-01".into() }).await.unwrap();
        let refused = works.job_get(admin, &other.id).await.unwrap();
        assert_eq!(refused.state, JobState::Failed, "{refused:#?}");
        assert!(refused.reason.as_deref().unwrap().contains("Only an MSP admin or operator"), "{refused:#?}");
        assert_eq!(probe.installs.load(Ordering::SeqCst), 0);

        works.job_approve(admin, &job.id, ApproveJob { phrase: "install agent on acme-web-01".into() }).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let done = loop {
            let j = works.job_get(admin, &job.id).await.unwrap();
            if matches!(j.state, JobState::Succeeded | JobState::Failed) {
                break j;
            }
            assert!(Instant::now() < deadline, "{j:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(probe.installs.load(Ordering::SeqCst), 1);
        assert_eq!(done.state, JobState::Failed);
        assert!(done.reason.as_deref().unwrap().contains("could not enroll"), "{done:#?}");
        let attempt_id = done.result.as_ref().unwrap()["attempt_id"].as_str().unwrap().to_owned();
        let a = works.access_attempt_get(&w.a_admin.actor, &attempt_id).await.unwrap();
        assert_eq!(a.status, AttemptStatus::Failed);
        assert_eq!(a.failure, Some(FailureKind::EnrollFailed));
        assert_eq!(a.stage.step, Step::Enroll);
        assert!(a.next_action.as_deref().unwrap().contains("WORKS_AGENT_SERVER_URL"), "{a:#?}");
        assert!(a.technical.contains("connection refused"));

        // The token the adapter echoed shows nowhere.
        let audit = works.audit_query(admin, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap();
        for t in [serde_json::to_string(&a).unwrap(), serde_json::to_string(&done).unwrap(), serde_json::to_string(&audit).unwrap()] {
            assert!(!t.contains("wke_"), "the enrollment token shows: {t}");
        }
        assert!(audit.records.iter().any(|r| r.action == "host.install_agent" && r.outcome == works_core::Outcome::Denied));
        // Its start is recorded as begun, its end as failed.
        let mut records: Vec<_> = audit.records.iter().filter(|r| r.action == "host.install_agent" && r.target_id.as_deref() == Some(attempt_id.as_str())).collect();
        records.sort_by_key(|r| r.seq);
        let outcomes: Vec<_> = records.iter().map(|r| (r.outcome, r.reason.contains("failed at"))).collect();
        assert_eq!(outcomes, vec![(works_core::Outcome::Succeeded, false), (works_core::Outcome::Failed, true)], "{records:#?}");
    }
}
