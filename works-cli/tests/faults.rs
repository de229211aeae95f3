//! Faults injected into real processes: `works serve` killed with SIGKILL at each point
//! of a job's life, an agent cut off mid-job and brought back, a private PostgreSQL
//! restarted under load, and the disk of the SQLite data directory filled. After each:
//! no job lost, no risky job run twice, states and reasons right, the audit log's hash
//! chain intact.
//!
//! The whole file stays within a few minutes on two cores. `WORKS_HEAVY_FAULTS=1` runs
//! heavier variants (more rounds of PostgreSQL restarts under more load).

mod cluster;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cluster::*;
use common::{Env, Server, ADMIN_PASSWORD};
use works_core::{ApproveJob, JobKind, JobState, NewJob, NewNode, Works};

fn heavy() -> bool {
    std::env::var("WORKS_HEAVY_FAULTS").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

const SERVE_ENVS: [(&str, &str); 2] = [("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD), ("WORKS_RECOVERY_INTERVAL_SECS", "1")];

async fn sqlite_works(data: &Path) -> (Works, works_core::Actor) {
    let store = works_store::open(&works_store::sqlite_url_for_dir(data)).await.expect("open the server's database");
    let works = Works::new(store);
    let admin = works.local_actor("admin").await.expect("the admin");
    (works, admin)
}

async fn request(works: &Works, admin: &works_core::Actor, node_id: &str, kind: JobKind) -> works_core::Job {
    works.job_request(admin, NewJob { node_id: node_id.into(), kind, params: serde_json::json!({}) }).await.expect("request a job")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_at_each_point_of_a_jobs_life_loses_nothing_and_doubles_nothing() {
    let env = Env::new();
    let data = env.path("data");
    let mut server = Server::start(&env, &data, &SERVE_ENVS);
    let (works, admin) = sqlite_works(&data).await;
    let node = works.node_create(&admin, NewNode { name: "fault-web-01".into(), org_id: None }).await.expect("node");
    let agent = RawAgent::enroll(&works, &admin, &server.url, &node.id).await;

    // One job at each point of its life when the server dies.
    let claimed = request(&works, &admin, &node.id, JobKind::HealthCheck).await;
    assert_eq!(agent.claim(&server.url).await.map(|j| j.id), Some(claimed.id.clone()));
    let running = request(&works, &admin, &node.id, JobKind::Restart).await;
    works.job_approve(&admin, &running.id, ApproveJob { phrase: running.approval_phrase.clone().unwrap() }).await.unwrap();
    assert_eq!(agent.claim(&server.url).await.map(|j| j.id), Some(running.id.clone()));
    assert_eq!(agent.step(&server.url, &running.id, "start").await.0, 200);
    assert_eq!(agent.step(&server.url, &running.id, "heartbeat").await.0, 200);
    let reporting = request(&works, &admin, &node.id, JobKind::InventoryRefresh).await;
    assert_eq!(agent.claim(&server.url).await.map(|j| j.id), Some(reporting.id.clone()));
    assert_eq!(agent.step(&server.url, &reporting.id, "start").await.0, 200);
    let waiting = request(&works, &admin, &node.id, JobKind::Restart).await;
    assert_eq!(waiting.state, JobState::AwaitingApproval);
    let queued = request(&works, &admin, &node.id, JobKind::HealthCheck).await;

    // Fault 1: SIGKILL with one job claimed, one running, one about to report, one
    // awaiting approval and one queued.
    kill9(&mut server);
    let expect = [
        (&claimed.id, JobState::Claimed),
        (&running.id, JobState::Running),
        (&reporting.id, JobState::Running),
        (&waiting.id, JobState::AwaitingApproval),
        (&queued.id, JobState::Queued),
    ];
    for (id, state) in expect {
        assert_eq!(works.job_get(&admin, id).await.expect("the job survived").state, state);
    }

    // Back up: each job goes on from where it was.
    let mut server = Server::start(&env, &data, &SERVE_ENVS);
    assert_eq!(agent.step(&server.url, &claimed.id, "start").await.0, 200);
    assert_eq!(agent.complete(&server.url, &claimed.id).await.0, 200);
    assert_eq!(agent.step(&server.url, &running.id, "heartbeat").await.0, 200);
    assert_eq!(agent.complete(&server.url, &running.id).await.0, 200);
    assert_eq!(agent.complete(&server.url, &reporting.id).await.0, 200);
    let still = works.job_get(&admin, &waiting.id).await.unwrap();
    assert_eq!(still.state, JobState::AwaitingApproval, "a restart changed a job waiting for a person: {still:?}");
    works.job_approve(&admin, &waiting.id, ApproveJob { phrase: waiting.approval_phrase.clone().unwrap() }).await.expect("approve after the restart");

    // Fault 2: SIGKILL right after the approval, before the agent picked anything up.
    kill9(&mut server);
    let server = Server::start(&env, &data, &SERVE_ENVS);
    let mut picked = Vec::new();
    while let Some(job) = agent.claim(&server.url).await {
        assert_eq!(agent.step(&server.url, &job.id, "start").await.0, 200);
        assert_eq!(agent.complete(&server.url, &job.id).await.0, 200);
        picked.push(job.id);
    }
    picked.sort();
    let mut expected = vec![waiting.id.clone(), queued.id.clone()];
    expected.sort();
    assert_eq!(picked, expected, "the jobs left waiting and queued, each handed out once");

    // A report repeated (the agent never heard the answer) is refused, not counted.
    let (status, body) = agent.complete(&server.url, &running.id).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("This job is complete; the report was not accepted."), "{body}");

    for id in [&claimed.id, &running.id, &reporting.id, &waiting.id, &queued.id] {
        let job = works.job_get(&admin, id).await.unwrap();
        assert_done_once(&works, &admin, &job, JobState::Succeeded).await;
    }
    assert_audit_intact(&works, &admin).await;
    let (status, _) = server.stop();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cut_off_mid_job_comes_back_without_doubling_risky_work() {
    let env = Env::new();
    let data = env.path("data");
    let server = Server::start(&env, &data, &SERVE_ENVS);
    let (works, admin) = sqlite_works(&data).await;
    let node = works.node_create(&admin, NewNode { name: "fault-web-02".into(), org_id: None }).await.expect("node");
    let agent = RawAgent::enroll(&works, &admin, &server.url, &node.id).await;

    // A short cut: the agent is back within the job's window and finishes it.
    let short = request(&works, &admin, &node.id, JobKind::HealthCheck).await;
    assert!(agent.claim(&server.url).await.is_some());
    assert_eq!(agent.step(&server.url, &short.id, "start").await.0, 200);
    tokio::time::sleep(Duration::from_secs(2)).await; // silent; the monitor runs meanwhile
    assert_eq!(agent.step(&server.url, &short.id, "heartbeat").await.0, 200);
    assert_eq!(agent.complete(&server.url, &short.id).await.0, 200);
    assert_done_once(&works, &admin, &works.job_get(&admin, &short.id).await.unwrap(), JobState::Succeeded).await;

    // A long cut: past the window of a risky and a safe job.
    let risky = request(&works, &admin, &node.id, JobKind::Restart).await;
    works.job_approve(&admin, &risky.id, ApproveJob { phrase: risky.approval_phrase.clone().unwrap() }).await.unwrap();
    let safe = request(&works, &admin, &node.id, JobKind::HealthCheck).await;
    for id in [&risky.id, &safe.id] {
        assert_eq!(agent.claim(&server.url).await.map(|j| j.id).as_ref(), Some(id));
        assert_eq!(agent.step(&server.url, id, "start").await.0, 200);
    }
    make_overdue(&works, &admin, &risky.id).await;
    make_overdue(&works, &admin, &safe.id).await;
    let timed_out = eventually("the risky job to time out", Duration::from_secs(20), || async {
        let j = works.job_get(&admin, &risky.id).await.unwrap();
        (j.state == JobState::TimedOut).then_some(j)
    })
    .await;
    let why = timed_out.reason.clone().unwrap_or_default();
    assert!(why.contains("did not report back") && why.contains("not re-run automatically") && why.contains("retry by hand"), "{why}");
    let requeued = works.job_get(&admin, &safe.id).await.unwrap();
    assert_eq!(requeued.state, JobState::Queued, "{requeued:?}");
    assert!(requeued.reason.as_deref().unwrap_or("").contains("queued again (attempt 2 of"), "{requeued:?}");

    // The agent comes back: told to stop the risky job, which is never handed out again;
    // the safe one is done once more, on its second attempt.
    let (status, body) = agent.step(&server.url, &risky.id, "heartbeat").await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = agent.complete(&server.url, &risky.id).await;
    assert_eq!(status, 409, "a late report of a timed-out job was taken: {body}");
    assert!(body.to_string().contains("timed out"), "{body}");
    let again = agent.claim(&server.url).await.expect("the safe job, again");
    assert_eq!((again.id.as_str(), again.attempts), (safe.id.as_str(), 2));
    assert_eq!(agent.step(&server.url, &safe.id, "start").await.0, 200);
    assert_eq!(agent.complete(&server.url, &safe.id).await.0, 200);
    assert!(agent.claim(&server.url).await.is_none(), "the risky job was handed out again");
    assert_eq!(audited(&works, &admin, "job.claim", &risky.id).await, 1);
    assert_eq!(audited(&works, &admin, "job.complete", &risky.id).await, 0);
    assert_eq!(works.job_get(&admin, &safe.id).await.unwrap().state, JobState::Succeeded);
    assert_audit_intact(&works, &admin).await;
    let (status, _) = server.stop();
    assert!(status.success());
}

/// A private PostgreSQL server in a temporary folder, stopped when dropped. The shared
/// test server is not restarted: other tests use it.
struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// None (skipped, with the reason) unless this runs as root with the server binaries
    /// installed; a failure under CI.
    fn start(test: &str) -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .max();
        let root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
        let Some(bin) = bin.filter(|_| root) else {
            assert!(!in_ci(), "{test}: needs root and the PostgreSQL server binaries (apt-get install postgresql) in CI");
            eprintln!("{test}: skipped: needs root and the PostgreSQL server binaries under /usr/lib/postgresql");
            return None;
        };
        let dir = tempfile::tempdir().expect("a folder for PostgreSQL");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let pg = PrivatePostgres { bin, dir, port };
        assert!(Command::new("chown").args(["postgres:postgres", &pg.dir.path().to_string_lossy()]).status().unwrap().success());
        let data = pg.data();
        pg.as_postgres(&["initdb", "-D", &data, "-U", "postgres", "-E", "UTF8", "--locale=C", "--auth-local=trust", "--auth-host=trust"]);
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nfsync = off\n",
            pg.port,
            pg.dir.path().display()
        );
        let mut text = std::fs::read_to_string(format!("{data}/postgresql.conf")).unwrap();
        text.push_str(&conf);
        std::fs::write(format!("{data}/postgresql.conf"), text).unwrap();
        pg.ctl("start");
        Some(pg)
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    fn log(&self) -> String {
        format!("{}/server.log", self.dir.path().display())
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs a server program as the postgres user. Its output goes to a file, never to
    /// pipes the server started by `pg_ctl` would inherit and hold open.
    fn as_postgres(&self, args: &[&str]) {
        let program = self.bin.join(args[0]);
        let out_path = self.dir.path().join(format!("{}.out", args[0]));
        let out = std::fs::File::create(&out_path).expect("an output file");
        let _ = Command::new("chown").args(["postgres:postgres", &out_path.to_string_lossy()]).status();
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&program)
            .args(&args[1..])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the output file"))
            .stderr(out)
            .status()
            .expect("runuser");
        assert!(status.success(), "{} failed: {}", args[0], std::fs::read_to_string(&out_path).unwrap_or_default());
    }

    fn ctl(&self, action: &str) {
        let data = self.data();
        let log = self.log();
        match action {
            "start" => self.as_postgres(&["pg_ctl", "start", "-D", &data, "-l", &log, "-w", "-t", "60"]),
            other => self.as_postgres(&["pg_ctl", other, "-D", &data, "-m", "fast", "-w", "-t", "60"]),
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["stop", "-D", &data, "-m", "immediate", "-w"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_loses_no_job_and_answers_plainly_meanwhile() {
    let test = "PostgreSQL restart under load";
    let Some(docker_host) = docker_host(test) else { return };
    let Some(pg) = PrivatePostgres::start(test) else { return };
    let env = Env::new();
    let envs = [
        ("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("WORKS_RECOVERY_INTERVAL_SECS", "1"),
        ("WORKS_CHECKIN_INTERVAL_SECS", "1"),
    ];
    let server = serve_database(&env, &pg.url(), &envs);
    let store = works_store::open(&pg.url()).await.expect("open the private database");
    let works = Works::new(store);
    let admin = works.local_actor("admin").await.expect("the admin");
    let http = reqwest::Client::new();
    let token = login(&http, &server.url, ADMIN_PASSWORD).await;
    let node = works.node_create(&admin, NewNode { name: "fault-pg-01".into(), org_id: None }).await.expect("node");
    let state = env.path("agent");
    enroll(&env, &works, &admin, &node.id, &server.url, &state).await;
    let agent = AgentProcess::start(&env, &state, &docker_host, &[], "agent.log");

    // Load: jobs requested through the API without pause while the database restarts.
    let rounds = if heavy() { 5 } else { 2 };
    let mut accepted = Vec::new();
    let mut refused = 0;
    for round in 0..rounds {
        let restart = {
            let pg_bin = pg.bin.clone();
            let data = pg.data();
            let log = pg.log();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                // The restarted server writes to the log file, never to inherited pipes.
                let status = Command::new("runuser")
                    .args(["-u", "postgres", "--"])
                    .arg(pg_bin.join("pg_ctl"))
                    .args(["restart", "-D", &data, "-l", &log, "-m", "fast", "-w", "-t", "60"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("pg_ctl restart");
                assert!(status.success(), "pg_ctl restart failed; see {log}");
            })
        };
        let per_round = if heavy() { 120 } else { 40 };
        for _ in 0..per_round {
            let answer = http
                .post(format!("{}/api/v1/jobs", server.url))
                .bearer_auth(&token)
                .json(&serde_json::json!({"node_id": node.id, "kind": "health_check", "params": {}}))
                .send()
                .await
                .expect("the server answers while its database restarts");
            match answer.status().as_u16() {
                201 => accepted.push(answer.json::<works_core::Job>().await.unwrap().id),
                503 => {
                    refused += 1;
                    let body = answer.text().await.unwrap_or_default();
                    assert!(body.contains("database cannot be reached"), "round {round}: {body}");
                }
                other => panic!("round {round}: HTTP {other} while the database restarted: {}", answer.text().await.unwrap_or_default()),
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        restart.join().expect("the restart");
    }
    eprintln!("{test}: {rounds} restarts, {} jobs accepted, {refused} requests refused with 503", accepted.len());
    assert!(!accepted.is_empty());

    // Every accepted job is done, once; the server is ready again.
    for id in &accepted {
        let job = wait_final(&works, &admin, id, Duration::from_secs(120)).await;
        assert_eq!(job.state, JobState::Succeeded, "{job:?}\nagent log:\n{}", agent.log_text());
        assert_eq!(audited(&works, &admin, "job.claim", id).await, job.attempts as usize);
        assert_eq!(audited(&works, &admin, "job.complete", id).await, 1, "job {id} completed more than once");
    }
    let mut stored = 0;
    loop {
        let query = works_core::JobQuery { node_id: Some(node.id.clone()), offset: Some(stored), limit: Some(500), ..Default::default() };
        let page = works.job_list(&admin, query).await.unwrap().items.len();
        stored += u32::try_from(page).unwrap();
        if page < 500 {
            break;
        }
    }
    assert_eq!(stored as usize, accepted.len(), "a refused request left a job behind, or an accepted one was lost");
    eventually("the server to be ready again", Duration::from_secs(30), || async {
        let r = http.get(format!("{}/readyz", server.url)).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    assert_audit_intact(&works, &admin).await;
    drop(agent);
    let (status, _) = server.stop();
    assert!(status.success());
}

/// A size-limited tmpfs mounted on a folder, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(test: &str, size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("a mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", &dir.path().to_string_lossy()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(!in_ci(), "{test}: mounting a small tmpfs needs root, and CI runs as root");
            eprintln!("{test}: skipped: mounting a size-limited tmpfs needs root");
            return None;
        }
        Some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Writes a file until the disk is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("the filler file");
    let block = vec![0x5au8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_changes_plainly_and_loses_nothing_once_space_is_back() {
    let test = "full SQLite disk";
    let Some(disk) = SmallDisk::mount(test, "24m") else { return };
    let env = Env::new();
    let data = disk.dir.path().join("data");
    let server = Server::start(&env, &data, &SERVE_ENVS);
    let (works, admin) = sqlite_works(&data).await;
    let http = reqwest::Client::new();
    let token = login(&http, &server.url, ADMIN_PASSWORD).await;
    let node = works.node_create(&admin, NewNode { name: "fault-disk-01".into(), org_id: None }).await.expect("node");
    let before = request_job(&http, &server.url, &token, &node.id, "health_check").await;

    // The disk fills up: changes are refused with a plain answer, the server stays up.
    let filler = disk.dir.path().join("filler");
    fill(&filler);
    let mut accepted = vec![before.id.clone()];
    let mut refusals = Vec::new();
    for _ in 0..200 {
        let answer = http
            .post(format!("{}/api/v1/jobs", server.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({"node_id": node.id, "kind": "health_check", "params": {"note": "x".repeat(2000)}}))
            .send()
            .await
            .expect("the server answers with a full disk");
        match answer.status().as_u16() {
            201 => accepted.push(answer.json::<works_core::Job>().await.unwrap().id),
            status => {
                let body = answer.text().await.unwrap_or_default();
                refusals.push((status, body));
                if refusals.len() >= 3 {
                    break;
                }
            }
        }
    }
    assert!(!refusals.is_empty(), "{test}: 200 jobs were stored on a full disk");
    for (status, body) in &refusals {
        assert_eq!(*status, 503, "{body}\nserver log:\n{}", server.log_text().lines().filter(|l| l.contains("database")).take(5).collect::<Vec<_>>().join("\n"));
        assert!(body.contains("disk") && body.contains("full") && body.contains("Free space"), "not a plain answer: {body}");
    }
    let health = http.get(format!("{}/healthz", server.url)).send().await.expect("healthz");
    assert_eq!(health.status(), 200, "the server went down with a full disk");

    // Space is back: changes are taken again, and nothing half-written remains.
    std::fs::remove_file(&filler).expect("remove the filler");
    let after = request_job(&http, &server.url, &token, &node.id, "health_check").await;
    accepted.push(after.id.clone());
    let listed = works.job_list(&admin, works_core::JobQuery { node_id: Some(node.id.clone()), limit: Some(500), ..Default::default() }).await.unwrap();
    let mut ids: Vec<String> = listed.items.iter().map(|j| j.id.clone()).collect();
    ids.sort();
    accepted.sort();
    assert_eq!(ids, accepted, "the jobs stored are exactly the ones accepted");
    assert_audit_intact(&works, &admin).await;
    let (status, _) = server.stop();
    assert!(status.success());
}

/// A Drive that accepts connections and never answers: a live step hangs in it.
fn silent_drive() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            match stream {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_workflow_run_fails_the_executing_run_and_the_other_server_takes_the_approval() {
    use works_core::{Listing, Org, RunState, Workflow, WorkflowRun};
    let test = "workflow runs across a killed server";
    let Some((_store, url)) = fresh_postgres(test).await else { return };
    let env = Env::new();
    let drive = silent_drive();
    let envs = [
        ("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("WORKS_RECOVERY_INTERVAL_SECS", "1"),
        ("WORKS_RUN_STALE_AFTER_SECS", "2"),
        ("WORKS_GOOGLE_DRIVE_BASE_URL", drive.as_str()),
        ("WORKS_MASTER_KEY", "5f1c0a7d9e2b4c6a8d0f1e3b5a7c9d1e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c"),
    ];
    let mut first = serve_database(&env, &url, &envs);
    let second = serve_database(&env, &url, &envs);
    let http = reqwest::Client::new();
    let token = login(&http, &first.url, ADMIN_PASSWORD).await;
    let on = |server: &str, args: &[&str]| env.run(&[&["--server", server, "--token", token.as_str()][..], args].concat());

    let org: Org = on(&first.url, &["--json", "org", "create", "Acme Dental"]).ok().typed();
    on(&first.url, &["permission", "create", "--org", &org.id, "--capability", "summarize", "--confirm"]).ok();
    on(&first.url, &["permission", "create", "--org", &org.id, "--capability", "google_drive", "--action", "list_files", "--max-risk", "low"]).ok();
    let conn: serde_json::Value = env
        .run_with(
            &["--server", &first.url, "--token", &token, "--json", "connection", "create", "Acme Drive", "--provider", "google-drive", "--org", &org.id, "--capability", "google_drive"],
            &[("WORKS_CONNECTION_CREDENTIAL", "ya29.a-token-for-the-silent-drive")],
            None,
        )
        .ok()
        .json();
    let conn_id = conn["id"].as_str().expect("id").to_owned();
    let steps = |name: &str, steps: serde_json::Value| {
        let path = env.path(name);
        std::fs::write(&path, steps.to_string()).expect("write steps");
        path.to_string_lossy().into_owned()
    };
    let waits = steps("waits.json", serde_json::json!([{"capability_id": "summarize", "action": "summarize_text"}]));
    let waits: Workflow = on(&first.url, &["--json", "workflow", "create", "Needs a person", "--steps", &waits, "--org", &org.id]).ok().typed();
    let lists = steps("lists.json", serde_json::json!([{"capability_id": "google_drive", "action": "list_files", "connection_id": conn_id, "parameters": {"page_size": 5}}]));
    let lists: Workflow = on(&first.url, &["--json", "workflow", "create", "List files", "--steps", &lists, "--org", &org.id]).ok().typed();

    // On the first server: one run waits for approval, one executes (hanging in Drive).
    on(&first.url, &["workflow", "run", &waits.id, "--mode", "live"]).ok();
    let waiting: Listing<WorkflowRun> = on(&first.url, &["--json", "workflow", "runs", &waits.id]).ok().typed();
    let waiting = waiting.items[0].clone();
    assert_eq!(waiting.state, RunState::AwaitingApproval);
    let mut hanging = env
        .command()
        .args(["--server", &first.url, "--token", &token, "workflow", "run", &lists.id, "--mode", "live"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the live run");
    let executing = eventually("the live run to be executing", Duration::from_secs(60), || async {
        let runs: Listing<WorkflowRun> = on(&second.url, &["--json", "workflow", "runs", &lists.id]).ok().typed();
        runs.items.into_iter().find(|r| r.state == RunState::Running)
    })
    .await;

    // SIGKILL the first server mid-run; the second one carries on alone.
    kill9(&mut first);
    let _ = hanging.kill();
    let _ = hanging.wait();
    let failed = eventually("the surviving server to fail the interrupted run", Duration::from_secs(60), || async {
        let run: WorkflowRun = on(&second.url, &["--json", "workflow", "show", &lists.id, &executing.id]).ok().typed();
        (run.state != RunState::Running).then_some(run)
    })
    .await;
    assert_eq!(failed.state, RunState::Failed, "{}", failed.reason);
    assert!(failed.reason.contains("The server stopped while this run was executing step 1") && failed.reason.contains("not re-run"), "{}", failed.reason);

    // The run waiting for a person is approved through the other server.
    let still: WorkflowRun = on(&second.url, &["--json", "workflow", "show", &waits.id, &waiting.id]).ok().typed();
    assert_eq!(still.state, RunState::AwaitingApproval, "{}", still.reason);
    let phrase = still.steps[0].approval_phrase.clone().expect("phrase");
    let done: WorkflowRun = on(&second.url, &["--json", "workflow", "approve", &waits.id, &waiting.id, "--phrase", &phrase]).ok().typed();
    assert_eq!(done.state, RunState::Succeeded, "{}", done.reason);
    let verified = on(&second.url, &["--json", "audit", "verify"]).ok().json();
    assert_eq!(verified["intact"], true, "{verified}");
    let (status, _) = second.stop();
    assert!(status.success());
}
