//! The canary: many generated secrets pushed through every place a secret can enter —
//! passwords, API tokens, enrollment tokens, agent credentials, connection credentials,
//! SSH private keys, and secret-looking text in job output, failure reasons and failed
//! sign-ins — then searched for everywhere they could leak: the database's own files
//! (or every table, on PostgreSQL), a backup, the audit log, the answers of the list
//! operations, error messages and the log output. None may be found. Runs on SQLite and
//! PostgreSQL.

use std::io::Read;
use std::sync::{Arc, Mutex};

use rand::distributions::Alphanumeric;
use rand::Rng;
use sqlx::{Connection, Row};
use works_core::connections::{ConnectionUpdate, NewConnection, Provider};
use works_core::hosts::NewSshCredential;
use works_core::ops::BackupKind;
use works_core::{
    AuditQuery, EnrollRequest, JobKind, JobQuery, JobReport, LoginInput, NewJob, NewNode, NewToken, NewUser, Role,
    SessionKind,
};
use works_guarantees::{backends, World};

/// How many secrets of each kind one run generates.
const PER_KIND: usize = 12;

fn random_secret() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(28).map(char::from).collect()
}

/// Log output of this test's thread, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn ssh_private_key(dir: &std::path::Path, i: usize) -> String {
    let path = dir.join(format!("key{i}"));
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("ssh-keygen is needed (openssh-client): {e}"));
    assert!(out.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&path).unwrap()
}

/// The inner lines of a PEM block: the parts of a key that must never be seen again.
fn key_body_lines(pem: &str) -> Vec<String> {
    pem.lines().filter(|l| !l.starts_with("-----") && l.len() >= 20).map(str::to_owned).collect()
}

struct Haystack {
    name: String,
    text: String,
}

fn find_leaks(secrets: &[(String, String)], stacks: &[Haystack]) -> Vec<String> {
    let mut leaks = Vec::new();
    for (kind, secret) in secrets {
        for h in stacks {
            if h.text.contains(secret.as_str()) {
                leaks.push(format!("a {kind} ({}…) was found in {}", &secret[..6.min(secret.len())], h.name));
            }
        }
    }
    leaks
}

#[tokio::test]
async fn generated_secrets_are_found_nowhere_afterwards() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_ansi(false).with_writer(logs.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let keys_dir = tempfile::tempdir().unwrap();
        // (kind, the text that must never be seen again)
        let mut secrets: Vec<(String, String)> = Vec::new();
        let mut errors: Vec<String> = Vec::new();

        // Passwords: accounts created with them, and failed sign-ins that typed others.
        for i in 0..PER_KIND {
            let password = random_secret();
            w.works
                .user_create(admin, NewUser { username: format!("canary-{i}"), display_name: None, role: Role::OrgUser, org_id: Some(w.org_a.id.clone()), password: password.clone() })
                .await
                .unwrap();
            secrets.push(("password".into(), password));
            let typed = random_secret();
            let e = w.works.login(LoginInput { username: format!("canary-{i}"), password: typed.clone() }, SessionKind::Api).await.unwrap_err();
            errors.push(e.to_string());
            secrets.push(("mistyped password".into(), typed));
        }

        // API tokens.
        for i in 0..PER_KIND {
            let t = w.works.token_create(admin, NewToken { name: format!("canary token {i}"), expires_in_days: Some(30) }).await.unwrap();
            let body = t.token.split_once('_').map(|(_, b)| b.to_owned()).unwrap_or(t.token.clone());
            secrets.push(("API token".into(), body));
        }

        // Enrollment tokens and the agent credentials they turn into; job output and
        // failure reasons full of secret-looking text.
        for i in 0..PER_KIND / 3 {
            let node = w.works.node_create(admin, NewNode { name: format!("canary-node-{i}"), org_id: Some(w.org_a.id.clone()) }).await.unwrap();
            let enroll = w.works.enrollment_token_create(admin, &node.id).await.unwrap();
            secrets.push(("enrollment token".into(), enroll.token.split_once('_').map(|(_, b)| b.to_owned()).unwrap_or(enroll.token.clone())));
            let cred = w.works.agent_enroll(EnrollRequest { token: enroll.token, hostname: Some(node.name.clone()), agent_version: Some("canary".into()) }).await.unwrap();
            secrets.push(("agent credential".into(), cred.credential.split_once('_').map(|(_, b)| b.to_owned()).unwrap_or(cred.credential.clone())));
            let agent = w.works.authenticate_agent(&cred.credential).await.unwrap();

            for succeed in [true, false] {
                let job = w.works.job_request(admin, NewJob { node_id: node.id.clone(), kind: JobKind::HealthCheck, params: serde_json::Value::Null }).await.unwrap();
                let claimed = w.works.agent_claim(&agent, std::time::Duration::ZERO).await.unwrap().expect("the job just requested");
                assert_eq!(claimed.id, job.id);
                w.works.agent_job_start(&agent, &job.id).await.unwrap();
                let (s1, s2, s3, s4) = (random_secret(), random_secret(), random_secret(), random_secret());
                let output = format!(
                    "checking…\nDB_PASSWORD={s1}\nconfig: {{\"api_key\": \"{s2}\"}}\ncurl -H 'Authorization: Bearer {s3}'\nused wks_{s4}\n-----BEGIN OPENSSH PRIVATE KEY-----\n{s1}{s2}\n-----END OPENSSH PRIVATE KEY-----\ndone"
                );
                let reason = (!succeed).then(|| format!("login failed with password={s1} and token: {s4}"));
                w.works.agent_job_complete(&agent, &job.id, JobReport { succeeded: succeed, result: None, output: Some(output), reason }).await.unwrap();
                for s in [s1, s2, s3, s4] {
                    secrets.push(("secret in job output".into(), s));
                }
            }
        }

        // Connection credentials, given on create and replaced on update.
        for i in 0..PER_KIND / 2 {
            let first = random_secret();
            let c = w
                .works
                .connection_create(
                    &w.a_admin.actor,
                    NewConnection { instances: vec![], org_id: None, name: format!("Canary Drive {i}"), provider: Provider::GoogleDrive, capabilities: vec![], credential: Some(first.clone()), status: None },
                )
                .await
                .unwrap();
            let second = random_secret();
            w.works.connection_update(&w.a_admin.actor, &c.id, ConnectionUpdate { credential: Some(second.clone()), ..Default::default() }).await.unwrap();
            secrets.push(("connection credential".into(), first));
            secrets.push(("replaced connection credential".into(), second));
        }

        // SSH private keys.
        for i in 0..3 {
            let pem = ssh_private_key(keys_dir.path(), i);
            w.works.ssh_credential_create(admin, NewSshCredential { name: format!("canary-key-{i}"), private_key: pem.clone() }).await.unwrap();
            for line in key_body_lines(&pem) {
                secrets.push(("SSH private key line".into(), line));
            }
            // A key pasted where it does not belong is refused without being echoed.
            let e = w.works.ssh_credential_create(admin, NewSshCredential { name: format!("-bad-{i}"), private_key: pem }).await.unwrap_err();
            errors.push(e.to_string());
        }
        assert!(secrets.len() > 100, "the canary should carry many secrets, not {}", secrets.len());

        // Where they could be.
        let mut stacks = Vec::new();
        let audit = all_audit(&w).await;
        assert!(audit.len() > 50);
        stacks.push(Haystack { name: "the audit log".into(), text: audit });
        let jobs = w.works.job_list(admin, JobQuery { limit: Some(500), ..Default::default() }).await.unwrap();
        stacks.push(Haystack { name: "the job list".into(), text: serde_json::to_string(&jobs.items).unwrap() });
        let conns = w.works.connection_list(admin, Default::default()).await.unwrap();
        stacks.push(Haystack { name: "the connection list".into(), text: serde_json::to_string(&conns.items).unwrap() });
        let keys = w.works.ssh_credential_list(admin, Default::default()).await.unwrap();
        stacks.push(Haystack { name: "the SSH credential list".into(), text: serde_json::to_string(&keys.items).unwrap() });
        stacks.push(Haystack { name: "an error message".into(), text: errors.join("\n") });

        if backend.name == "sqlite" {
            let db = sqlx::sqlite::SqliteConnectOptions::from_str_url(&backend.url);
            let dir = db.parent().unwrap().to_owned();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    stacks.push(Haystack { name: format!("database file {}", path.file_name().unwrap().to_string_lossy()), text: String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned() });
                }
            }
            let backups = tempfile::tempdir().unwrap();
            let engine = works_store::backup::backup_engine(&backend.url).await.unwrap();
            let file = engine.create(backups.path(), BackupKind::Regular, chrono::Utc::now()).await.unwrap();
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&file.path).unwrap()).read_to_end(&mut raw).unwrap();
            assert!(raw.len() > 10_000, "the backup should hold the database");
            stacks.push(Haystack { name: "the backup".into(), text: String::from_utf8_lossy(&raw).into_owned() });
        } else {
            let mut conn = sqlx::PgConnection::connect(&backend.url).await.unwrap();
            let tables: Vec<String> = sqlx::query("SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("t"))
                .collect();
            assert!(tables.len() > 10, "{tables:?}");
            for t in tables {
                let text: String = sqlx::query(&format!("SELECT coalesce(string_agg(row_to_json(x)::text, E'\\n'), '') AS rows FROM \"{t}\" x"))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
                    .get("rows");
                stacks.push(Haystack { name: format!("table {t}"), text });
            }
        }
        stacks.push(Haystack { name: "the log output".into(), text: String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned() });

        let leaks = find_leaks(&secrets, &stacks);
        assert!(leaks.is_empty(), "[{}] {} secret(s) leaked:\n{}", backend.name, leaks.len(), leaks.join("\n"));
        assert!(jobs.items.iter().any(|j| j.output.as_deref().unwrap_or("").contains("[redacted]")), "job output should show where secrets were removed");

        // The search itself works: a secret that was stored in the clear is found.
        let planted = random_secret();
        w.works.org_create(admin, works_core::NewOrg { name: format!("Org {planted}") }).await.unwrap();
        let found = find_leaks(&[("planted name".into(), planted)], &[Haystack { name: "the audit log".into(), text: all_audit(&w).await }]);
        assert_eq!(found.len(), 1, "the canary search must find what is there");
        assert!(w.works.audit_verify(admin).await.unwrap().intact);
    }
}

/// Every audit record, page by page, as JSON lines.
async fn all_audit(w: &World) -> String {
    let mut out = String::new();
    let mut before = None;
    loop {
        let page = w.works.audit_query(&w.msp_admin.actor, AuditQuery { before_seq: before, limit: Some(500), ..Default::default() }).await.unwrap();
        for r in &page.records {
            out.push_str(&serde_json::to_string(r).unwrap());
            out.push('\n');
        }
        match page.next_before {
            Some(b) => before = Some(b),
            None => return out,
        }
    }
}

/// `sqlite://<path>?mode=rwc` → the database file's path.
trait FromStrUrl {
    fn from_str_url(url: &str) -> std::path::PathBuf;
}

impl FromStrUrl for sqlx::sqlite::SqliteConnectOptions {
    fn from_str_url(url: &str) -> std::path::PathBuf {
        use std::str::FromStr;
        sqlx::sqlite::SqliteConnectOptions::from_str(url).unwrap().get_filename().to_path_buf()
    }
}
