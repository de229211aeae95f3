//! `works-bench checkins`: agent check-ins against a real `works serve` process, compared
//! in the same run with the ceiling of a naive server that writes one row per check-in,
//! each in its own transaction, with plain sqlx (`works-bench ceiling-server`, started as
//! its own process over the same kind of database).
//!
//! Phases, all driven over HTTP from this process with the same client:
//! 1. **ceiling**: the naive server: every agent checks in once (the steady state of a
//!    fleet: each agent has checked in before), then a closed loop (`--concurrency`
//!    check-ins in flight) for `--seconds`;
//! 2. **works**: the real server, the same warm-up and closed loop;
//! 3. **paced**: the real server at a fixed `--rate` (3,300 a second is a fleet of
//!    100,000 agents checking in every 30 seconds), latency measured from when each
//!    check-in was due, so a slow server cannot hide its queue;
//! 4. **storm**: the server is killed and started again, and every agent checks in at
//!    once (`--storm-concurrency` connections); agents turned away wait as advised
//!    (`Retry-After`) and come back. Reports how long the fleet took to be back, how many
//!    were advised to wait, errors, and whether every node's check-in landed;
//! 5. the server's memory with the whole fleet known.
//!
//! The last line is the headline: our closed-loop rate over the ceiling's.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;
use works_core::secret::{hash_secret, new_id, new_secret};
use works_core::{NewOrg, Works};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// How many enrolled agents (the fleet); each check-in goes to the next agent in turn.
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Check-ins in flight at once in the closed-loop phases.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long each closed-loop phase measures, after a one-second warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Check-ins a second in the paced phase (0 skips it).
    #[arg(long, default_value_t = 3300)]
    rate: u64,
    /// How long the paced phase lasts.
    #[arg(long, default_value_t = 15)]
    paced_seconds: u64,
    /// Connections at once in the reconnect storm (0 skips it).
    #[arg(long, default_value_t = 800)]
    storm_concurrency: usize,
    /// A PostgreSQL admin URL (a fresh database is created in it); SQLite in a temporary folder when absent.
    #[arg(long)]
    database: Option<String>,
    /// The `works` binary to start; defaults to the one beside this benchmark.
    #[arg(long)]
    works_bin: Option<PathBuf>,
}

/// What one phase measured.
#[derive(Default)]
struct Figures {
    ok: u64,
    errors: u64,
    advised: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn pct(&self, p: f64) -> f64 {
        let l = &self.latencies;
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).copied().unwrap_or_default().as_secs_f64() * 1000.0
    }
    fn line(&self) -> String {
        format!(
            "{:>8.0}/s  p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>7.1} ms  ok {}  errors {}  told to wait {}",
            self.rate(),
            self.pct(0.50),
            self.pct(0.99),
            self.latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            self.ok,
            self.errors,
            self.advised
        )
    }
}

/// The same requests to whichever server is up.
#[derive(Clone)]
struct Load {
    http: reqwest::Client,
    url: Arc<String>,
    creds: Arc<Vec<String>>,
    body: Arc<Vec<u8>>,
}

enum Answer {
    Ok,
    Wait(u64),
    Failed,
}

impl Load {
    async fn check_in(&self, agent: usize) -> Answer {
        let sent = self
            .http
            .post(self.url.as_str())
            .bearer_auth(&self.creds[agent % self.creds.len()])
            .header("content-type", "application/json")
            .body(self.body.as_ref().clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Answer::Ok,
            Ok(r) if r.status().as_u16() == 429 => {
                let secs = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
                secs.map(Answer::Wait).unwrap_or(Answer::Failed)
            }
            _ => Answer::Failed,
        }
    }

    /// Every agent once, `concurrency` at a time: a fleet in its steady state has
    /// checked in before.
    async fn warm_up(&self, concurrency: usize) -> Duration {
        let started = Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let (load, next) = (self.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let agent = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if agent >= load.creds.len() {
                        return;
                    }
                    while let Answer::Wait(_) | Answer::Failed = load.check_in(agent).await {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }));
        }
        for w in workers {
            let _ = w.await;
        }
        started.elapsed()
    }

    /// `concurrency` check-ins in flight at all times for `seconds`.
    async fn closed_loop(&self, concurrency: usize, seconds: u64) -> Figures {
        let measuring = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..concurrency {
            let (load, measuring, stop) = (self.clone(), measuring.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let mut f = Figures::default();
                let mut agent = w;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let answer = load.check_in(agent).await;
                    agent += concurrency;
                    if measuring.load(Ordering::Relaxed) {
                        match answer {
                            Answer::Ok => {
                                f.ok += 1;
                                f.latencies.push(t.elapsed());
                            }
                            Answer::Wait(_) => f.advised += 1,
                            Answer::Failed => f.errors += 1,
                        }
                    }
                }
                f
            }));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        measuring.store(false, Ordering::Relaxed);
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let mut all = Figures { elapsed, ..Figures::default() };
        for w in workers {
            if let Ok(f) = w.await {
                all.ok += f.ok;
                all.errors += f.errors;
                all.advised += f.advised;
                all.latencies.extend(f.latencies);
            }
        }
        all.latencies.sort();
        all
    }

    /// Check-ins started at a fixed `rate`, whatever the server's pace; each one's latency
    /// counts from when it was due. At most `max_in_flight` at once (beyond that a
    /// check-in is counted as an error: the server fell behind).
    async fn paced(&self, rate: u64, seconds: u64, max_in_flight: usize) -> Figures {
        let total = rate * seconds;
        let started = Instant::now();
        let in_flight = Arc::new(Semaphore::new(max_in_flight));
        let mut tasks = Vec::with_capacity(total as usize);
        let mut overrun = 0u64;
        for i in 0..total {
            let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                overrun += 1;
                continue;
            };
            let load = self.clone();
            tasks.push(tokio::spawn(async move {
                let answer = load.check_in(i as usize).await;
                drop(permit);
                (answer, due.elapsed())
            }));
        }
        let mut f = Figures { errors: overrun, ..Figures::default() };
        for t in tasks {
            match t.await {
                Ok((Answer::Ok, latency)) => {
                    f.ok += 1;
                    f.latencies.push(latency);
                }
                Ok((Answer::Wait(_), _)) => f.advised += 1,
                _ => f.errors += 1,
            }
        }
        f.elapsed = started.elapsed();
        f.latencies.sort();
        f
    }

    /// Every agent checks in once, all at the same moment, over `concurrency` connections;
    /// an agent told to wait sleeps as told (with the agent's own jitter) and tries again.
    async fn storm(&self, concurrency: usize) -> Figures {
        let started = Instant::now();
        let gate = Arc::new(Semaphore::new(concurrency));
        let advised = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::with_capacity(self.creds.len());
        for agent in 0..self.creds.len() {
            let (load, gate, advised, errors) = (self.clone(), gate.clone(), advised.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                let mut failures = 0u32;
                loop {
                    let answer = {
                        let _connection = gate.acquire().await;
                        load.check_in(agent).await
                    };
                    match answer {
                        Answer::Ok => return started.elapsed(),
                        Answer::Wait(secs) => {
                            advised.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(works_agent::backoff::advised_delay(secs)).await;
                        }
                        Answer::Failed => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            failures += 1;
                            tokio::time::sleep(Duration::from_millis(250 << failures.min(6))).await;
                        }
                    }
                }
            }));
        }
        let mut f = Figures::default();
        for t in tasks {
            if let Ok(at) = t.await {
                f.ok += 1;
                f.latencies.push(at);
            }
        }
        f.elapsed = started.elapsed();
        f.advised = advised.load(Ordering::Relaxed);
        f.errors = errors.load(Ordering::Relaxed);
        f.latencies.sort();
        f
    }
}

pub(crate) async fn run(a: Args) -> Result<()> {
    let agents = a.agents.clamp(1, 200_000);
    let concurrency = a.concurrency.clamp(1, 1024);
    let seconds = a.seconds.clamp(1, 300);
    let dir = tempfile::tempdir()?;
    let (url, backend) = match &a.database {
        Some(admin) => (crate::fresh_postgres(admin).await?, "postgres"),
        None => (works_store::sqlite_url_for_dir(dir.path()), "sqlite"),
    };
    println!("checkins: {agents} agents, {backend}, {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));

    let seeding = Instant::now();
    let creds = seed_fleet(&url, agents).await?;
    println!("  fleet written in {:.1} s (nodes and agent credentials, straight into the database)", seeding.elapsed().as_secs_f64());
    let body = serde_json::to_vec(&serde_json::json!({
        "health": {"uptime_secs": 1000, "load1": 0.1, "memory_total_bytes": 8_000_000_000u64, "memory_available_bytes": 4_000_000_000u64,
                   "disk_total_bytes": 100_000_000_000u64, "disk_available_bytes": 50_000_000_000u64, "agent_version": "bench",
                   "docker_reachable": true, "docker_version": "20.10"},
        "containers": null
    }))?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(a.storm_concurrency.max(concurrency)).build()?;
    let load = |base: &str| Load {
        http: http.clone(),
        url: Arc::new(format!("{base}/api/v1/agent/checkin")),
        creds: Arc::new(creds.clone()),
        body: Arc::new(body.clone()),
    };

    // 1. The ceiling.
    let ceiling_url = match &a.database {
        Some(_) => url.clone(),
        None => works_store::sqlite_url_for_dir(&dir.path().join("ceiling")),
    };
    std::fs::create_dir_all(dir.path().join("ceiling"))?;
    let (mut ceiling_server, ceiling_base) = start_ceiling_server(&ceiling_url).await?;
    let warm = load(&ceiling_base).warm_up(concurrency).await;
    println!("  ceiling: every agent checked in once in {:.1} s", warm.as_secs_f64());
    let ceiling = load(&ceiling_base).closed_loop(concurrency, seconds).await;
    let _ = ceiling_server.kill().await;
    println!("  ceiling (one row per transaction, plain sqlx), {concurrency} in flight: {}", ceiling.line());

    // 2. Ours, the same loop.
    let (mut server, base) = crate::start_server(a.works_bin.clone(), dir.path(), &url).await?;
    let warm = load(&base).warm_up(concurrency).await;
    println!("  works: every agent checked in once in {:.1} s (first check-ins: credentials looked up)", warm.as_secs_f64());
    let ours = load(&base).closed_loop(concurrency, seconds).await;
    println!("  works, {concurrency} in flight:                                 {}", ours.line());

    // 3. Paced, as a fleet checks in.
    if a.rate > 0 {
        let paced = load(&base).paced(a.rate.min(50_000), a.paced_seconds.clamp(1, 120), 4096).await;
        println!("  works, paced at {}/s for {} s:                       {}", a.rate, a.paced_seconds, paced.line());
    }
    let rss_before_storm = memory(server.id());

    // 4. The reconnect storm: the server dies and comes back; the whole fleet at once.
    if a.storm_concurrency > 0 {
        let _ = server.kill().await;
        let _ = server.wait().await;
        let restarted_at = chrono::Utc::now().timestamp_millis();
        let (s, b) = crate::start_server(a.works_bin.clone(), dir.path(), &url).await?;
        server = s;
        let storm = load(&b).storm(a.storm_concurrency.clamp(1, 10_000)).await;
        let landed = count_checked_in_since(&url, restarted_at).await?;
        println!(
            "  storm: {agents} agents back in {:.1} s over {} connections (last in at p50 {:.1} s, p99 {:.1} s); told to wait {} times; errors {}; check-ins recorded {landed} of {agents}",
            storm.elapsed.as_secs_f64(),
            a.storm_concurrency,
            storm.pct(0.5) / 1000.0,
            storm.pct(0.99) / 1000.0,
            storm.advised,
            storm.errors,
        );
        if landed != agents as u64 {
            println!("  storm: {} check-ins were LOST", agents as u64 - landed);
        }
    }
    println!("  server memory with {agents} agents known, after the storm: {}", memory(server.id()));
    println!("  server memory with {agents} agents known, before the storm: {rss_before_storm}");
    let _ = server.kill().await;
    if let Some(admin_url) = &a.database {
        crate::drop_postgres(admin_url).await;
    }
    println!(
        "headline: check-ins = {:.2}x the one-row-per-transaction ceiling ({backend}{}, {concurrency} in flight: {:.0}/s against {:.0}/s)",
        ours.rate() / ceiling.rate().max(1e-9),
        crate::database_note(),
        ours.rate(),
        ceiling.rate()
    );
    Ok(())
}

fn mb(kb: Option<u64>) -> String {
    kb.map(|k| format!("{:.0} MB", k as f64 / 1024.0)).unwrap_or_else(|| "unknown".into())
}

/// A process's memory, in KiB (Linux): resident, of which private (heap, stacks) and
/// file-backed (the program's code and, on SQLite, the database file mapped for
/// reading: page cache the kernel can drop), and the peak resident.
#[derive(Clone, Copy, Default)]
struct Memory {
    rss: Option<u64>,
    anon: Option<u64>,
    file: Option<u64>,
    peak: Option<u64>,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resident: {} private, {} file-backed (the program, and on SQLite the database file mapped for reading); peak {}", mb(self.rss), mb(self.anon), mb(self.file), mb(self.peak))
    }
}

fn memory(pid: Option<u32>) -> Memory {
    let Some(status) = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok()) else { return Memory::default() };
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok())
    };
    Memory { rss: field("VmRSS:"), anon: field("RssAnon:"), file: field("RssFile:"), peak: field("VmHWM:") }
}

async fn any_pool(url: &str) -> Result<AnyPool> {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new().max_connections(1).connect(url).await.with_context(|| "opening the benchmark database")
}

/// Writes `agents` enrolled nodes (in organizations of 1,000) straight into the
/// database, as enrollment leaves them, and answers their agent credentials.
pub(crate) async fn seed_fleet(url: &str, agents: usize) -> Result<Vec<String>> {
    let store = works_store::open(url).await.map_err(|e| anyhow!("{e}"))?;
    let works = Works::new(store);
    works.bootstrap(Some("benchmark-admin-password".into())).await.map_err(|e| anyhow!("{e}"))?;
    let admin = works.local_actor("admin").await.map_err(|e| anyhow!("{e}"))?;
    let pool = any_pool(url).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut creds = Vec::with_capacity(agents);
    for (o, chunk) in (0..agents).collect::<Vec<_>>().chunks(1000).enumerate() {
        let org = works.org_create(&admin, NewOrg { name: format!("Bench Org {o:03}") }).await.map_err(|e| anyhow!("{e}"))?;
        let mut nodes = String::from("INSERT INTO nodes (id, name, org_id, created_at, updated_at, enrolled_at) VALUES ");
        let mut credentials = String::from("INSERT INTO agent_credentials (id, node_id, secret_hash, created_at) VALUES ");
        for (k, i) in chunk.iter().enumerate() {
            let (node_id, secret) = (new_id(), new_secret(works_core::agent::AGENT_PREFIX));
            let sep = if k == 0 { "" } else { "," };
            nodes.push_str(&format!("{sep}('{node_id}','bench-{i:06}','{}',{now},{now},{now})", org.id));
            credentials.push_str(&format!("{sep}('{}','{node_id}','{}',{now})", new_id(), hash_secret(&secret)));
            creds.push(secret);
        }
        let mut tx = pool.begin().await?;
        tx.execute(nodes.as_str()).await?;
        tx.execute(credentials.as_str()).await?;
        tx.commit().await?;
    }
    pool.close().await;
    Ok(creds)
}

async fn count_checked_in_since(url: &str, since_millis: i64) -> Result<u64> {
    let pool = any_pool(url).await?;
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM nodes WHERE last_checkin_at >= {since_millis}")).fetch_one(&pool).await?;
    pool.close().await;
    Ok(n as u64)
}

async fn start_ceiling_server(url: &str) -> Result<(tokio::process::Child, String)> {
    let me = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(&me)
        .args(["ceiling-server", "--database", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting the ceiling server")?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.split("running at ").nth(1) {
                return Ok::<_, anyhow::Error>(rest.trim().to_owned());
            }
        }
        bail!("the ceiling server stopped before it was ready")
    })
    .await
    .context("waiting for the ceiling server")??;
    Ok((child, base))
}

/// `works-bench ceiling-server`: the naive check-in endpoint the real one is compared
/// with. Each check-in is one upsert of one row, in its own transaction (autocommit),
/// with plain sqlx; no authentication, no group commit. SQLite gets one connection
/// (writers queue in the process instead of fighting over the file lock, the fastest a
/// per-row design gets there); PostgreSQL a pool of ten, as the real server has.
pub(crate) async fn ceiling_server(database: &str) -> Result<()> {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;

    sqlx::any::install_default_drivers();
    let sqlite = database.starts_with("sqlite:");
    let pool = AnyPoolOptions::new().max_connections(if sqlite { 1 } else { 10 }).connect(database).await?;
    if sqlite {
        pool.execute("PRAGMA journal_mode = WAL").await?;
        pool.execute("PRAGMA synchronous = NORMAL").await?;
    }
    pool.execute("CREATE TABLE IF NOT EXISTS bench_heartbeats (node TEXT NOT NULL PRIMARY KEY, at BIGINT NOT NULL, health TEXT NOT NULL)").await?;

    async fn check_in(State(pool): State<AnyPool>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
        let Some(node) = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) else {
            return StatusCode::UNAUTHORIZED;
        };
        let Ok(report) = serde_json::from_slice::<serde_json::Value>(&body) else { return StatusCode::BAD_REQUEST };
        let written = sqlx::query(
            "INSERT INTO bench_heartbeats (node, at, health) VALUES ($1, $2, $3) \
             ON CONFLICT (node) DO UPDATE SET at = excluded.at, health = excluded.health",
        )
        .bind(node.to_owned())
        .bind(chrono::Utc::now().timestamp_millis())
        .bind(report["health"].to_string())
        .execute(&pool)
        .await;
        if written.is_ok() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }

    let app = axum::Router::new().route("/api/v1/agent/checkin", post(check_in)).with_state(pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("ceiling server running at http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
