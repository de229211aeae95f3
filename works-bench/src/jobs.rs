//! `works-bench jobs`: agents claiming and completing jobs over HTTP against one real
//! `works serve` process, compared with a bare claim-and-complete loop on a scratch
//! table of the same database, at the same concurrency, measured in the same run.
//!
//! 1. Ceiling: plain sqlx, no server. PostgreSQL: `UPDATE … WHERE id = (SELECT … FOR
//!    UPDATE SKIP LOCKED) RETURNING` then a second transaction marks it done. SQLite:
//!    `BEGIN IMMEDIATE; UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING; COMMIT`, then
//!    a second transaction, over one writer connection as the server has.
//! 2. Ours, one job at a time: `POST /api/v1/agent/jobs/claim` then
//!    `POST /api/v1/agent/jobs/{id}/complete`, each audited; the server writes the
//!    claims and reports of agents calling at the same time together (group commit).
//! 3. Ours, batched: `POST /api/v1/agent/jobs/claim-many?max=B` then
//!    `POST /api/v1/agent/jobs/complete-many`.
//! 4. Enqueue-to-pickup: every agent long-polls; the bench requests one job at a time
//!    through `POST /api/v1/jobs` (as an operator would) and times until the agent of
//!    that node has it.
//!
//! Jobs are enqueued through the core before each throughput phase; the clock runs only
//! while agents claim and complete.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use works_core::{EnrollRequest, JobKind, NewJob, NewNode, NewOrg, NewToken, Works};

use crate::{fresh_postgres, start_server};

pub(crate) struct Options {
    pub agents: usize,
    pub jobs: usize,
    pub batch: u32,
    pub pickups: usize,
    pub database: Option<String>,
    pub works_bin: Option<PathBuf>,
}

pub(crate) async fn run(o: Options) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, backend) = match &o.database {
        Some(admin) => (fresh_postgres(admin).await?, "postgres"),
        None => (works_store::sqlite_url_for_dir(dir.path()), "sqlite"),
    };
    let per_node = o.jobs.div_ceil(o.agents);
    let total = per_node * o.agents;
    println!("jobs backend={backend} agents={} jobs={total} ({per_node} per node) batch={} pickups={}", o.agents, o.batch, o.pickups);

    // The fleet, through the core, directly on the database.
    let store = works_store::open(&url).await.map_err(|e| anyhow!("{e}"))?;
    let works = Works::new(store);
    works.bootstrap(Some("benchmark-admin-password".into())).await.map_err(|e| anyhow!("{e}"))?;
    let admin = works.local_actor("admin").await.map_err(|e| anyhow!("{e}"))?;
    let org = works.org_create(&admin, NewOrg { name: "Bench Org".into() }).await.map_err(|e| anyhow!("{e}"))?;
    let mut nodes = Vec::with_capacity(o.agents);
    let mut enrollments = Vec::with_capacity(o.agents);
    for i in 0..o.agents {
        let node = works
            .node_create(&admin, NewNode { name: format!("bench-{i:05}"), org_id: Some(org.id.clone()) })
            .await
            .map_err(|e| anyhow!("{e}"))?;
        enrollments.push(works.enrollment_token_create(&admin, &node.id).await.map_err(|e| anyhow!("{e}"))?.token);
        nodes.push(node.id);
    }
    let api_token = works
        .token_create(&admin, NewToken { name: "jobs benchmark".into(), expires_in_days: Some(1) })
        .await
        .map_err(|e| anyhow!("{e}"))?
        .token;

    // 1. The ceiling, before the server starts, so nothing else uses the database: at
    // the agents' concurrency, and with 16 claimers too (on two cores, many more
    // connections than cores can slow the bare loop down); the better of the two is
    // the stricter comparison.
    let bare = |claimers: usize| {
        let url = url.clone();
        async move {
            let per_claimer = total.div_ceil(claimers);
            if backend == "postgres" { ceiling_postgres(&url, claimers, per_claimer).await } else { ceiling_sqlite(&url, claimers, per_claimer).await }
        }
    };
    let ceiling = bare(o.agents).await?;
    println!("ceiling: bare claim-and-complete loop = {:.0} jobs/s ({total} jobs, {} concurrent claimers, no server, no audit)", ceiling, o.agents);
    let (mut best, mut best_claimers) = (ceiling, o.agents);
    if o.agents != FEW_CLAIMERS {
        let few = bare(FEW_CLAIMERS).await?;
        println!("  the same loop with {FEW_CLAIMERS} concurrent claimers = {few:.0} jobs/s");
        if few > best {
            (best, best_claimers) = (few, FEW_CLAIMERS);
        }
    }

    // The server, as its own process.
    let (mut server, base) = start_server(o.works_bin.clone(), dir.path(), &url).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(o.agents * 2).build()?;
    let mut creds = Vec::with_capacity(o.agents);
    for t in enrollments {
        let cred: works_core::AgentCredential = http
            .post(format!("{base}/api/v1/agent/enroll"))
            .json(&EnrollRequest { token: t, hostname: None, agent_version: Some("bench".into()) })
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        creds.push(cred.credential);
    }

    // 2. Ours, one job at a time.
    enqueue(&works, &admin, &nodes, per_node).await?;
    let single = drain(&http, &base, &creds, None).await?;
    if single.done != total {
        bail!("one at a time: {} of {total} jobs were completed ({} errors)", single.done, single.errors);
    }
    let single_rate = single.done as f64 / single.elapsed.as_secs_f64();
    println!(
        "ours, one at a time: claim + complete over HTTP = {single_rate:.0} jobs/s = {:.2}x of ceiling {ceiling:.0} jobs/s (errors {}); mean claim {:.2} ms, mean report {:.2} ms",
        single_rate / ceiling,
        single.errors,
        single.in_claims.as_secs_f64() * 1000.0 / single.done.max(1) as f64,
        single.in_reports.as_secs_f64() * 1000.0 / single.done.max(1) as f64
    );
    // Where the time goes: the same calls when there is nothing to claim cost the HTTP
    // request, the agent's authentication and a claim that finds nothing (a shared write
    // transaction without an audit record).
    let idle = idle_claims(&http, &base, &creds, per_node * 2).await?;
    println!(
        "  for comparison, a claim that finds nothing (HTTP + authentication + a claim writing no audit record): {idle:.0} calls/s at the same concurrency; one job at a time is two audited calls: {:.2}x of half that",
        single_rate / (idle / 2.0)
    );

    // 3. Ours, batched.
    enqueue(&works, &admin, &nodes, per_node).await?;
    let batched = drain(&http, &base, &creds, Some(o.batch)).await?;
    if batched.done != total {
        bail!("batched: {} of {total} jobs were completed ({} errors)", batched.done, batched.errors);
    }
    let batched_rate = batched.done as f64 / batched.elapsed.as_secs_f64();
    println!(
        "ours, batched (up to {} per claim and per report) = {batched_rate:.0} jobs/s = {:.2}x of ceiling, {:.1}x of one at a time (errors {})",
        o.batch,
        batched_rate / ceiling,
        batched_rate / single_rate,
        batched.errors
    );

    // 4. Enqueue-to-pickup for long-polling agents.
    let pickup = pickups(&http, &base, &api_token, &creds, &nodes, o.pickups).await?;
    let pct = |p: f64| pickup.get(((pickup.len() as f64 * p) as usize).min(pickup.len() - 1)).copied().unwrap_or_default().as_secs_f64() * 1000.0;
    let (p50, p99) = (pct(0.50), pct(0.99));
    println!(
        "enqueue-to-pickup, {} long-polling agents, {} jobs requested one at a time through the API: p50 {p50:.1} ms (target 5 ms, {:.2}x), p99 {p99:.1} ms (target 50 ms, {:.2}x), max {:.1} ms",
        o.agents,
        pickup.len(),
        p50 / 5.0,
        p99 / 50.0,
        pickup.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );

    let _ = server.kill().await;
    if let Some(admin_url) = &o.database {
        crate::drop_postgres(admin_url).await;
    }
    println!(
        "ours, one at a time, against the bare loop's best run here ({best:.0} jobs/s with {best_claimers} claimers) = {:.2}x",
        single_rate / best
    );
    println!(
        "headline: jobs claim-to-complete = {:.2}x of bare {} ceiling at the same concurrency ({} agents), {:.2}x of its best ({backend}{}); batched {:.2}x; pickup p50 {p50:.1} ms p99 {p99:.1} ms",
        single_rate / ceiling,
        if backend == "postgres" { "SKIP LOCKED" } else { "BEGIN IMMEDIATE" },
        o.agents,
        single_rate / best,
        crate::database_note(),
        batched_rate / ceiling
    );
    Ok(())
}

/// The bare loop's second concurrency, a few claimers (the benchmark's default before it
/// ran 64 agents).
const FEW_CLAIMERS: usize = 16;

/// Requests `per_node` health checks on every node, through the core.
async fn enqueue(works: &Works, admin: &works_core::Actor, nodes: &[String], per_node: usize) -> Result<()> {
    for _ in 0..per_node {
        for n in nodes {
            works
                .job_request(admin, NewJob { node_id: n.clone(), kind: JobKind::HealthCheck, params: serde_json::Value::Null })
                .await
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    Ok(())
}

struct Drained {
    done: usize,
    errors: usize,
    elapsed: Duration,
    /// Total time spent waiting for claim answers and for report answers.
    in_claims: Duration,
    in_reports: Duration,
}

/// Every agent claims and completes its node's jobs until none is left; one at a time,
/// or `batch` at a time.
async fn drain(http: &reqwest::Client, base: &str, creds: &[String], batch: Option<u32>) -> Result<Drained> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for cred in creds {
        let (http, base, cred) = (http.clone(), base.to_owned(), cred.clone());
        tasks.push(tokio::spawn(async move {
            let (mut done, mut errors) = (0usize, 0usize);
            let (mut in_claims, mut in_reports) = (Duration::ZERO, Duration::ZERO);
            let report = serde_json::json!({"succeeded": true, "result": {"ok": true}, "output": "healthy"});
            loop {
                match batch {
                    None => {
                        let t = Instant::now();
                        let r = http.post(format!("{base}/api/v1/agent/jobs/claim")).bearer_auth(&cred).send().await?;
                        in_claims += t.elapsed();
                        if r.status() == reqwest::StatusCode::NO_CONTENT {
                            break;
                        }
                        if !r.status().is_success() {
                            errors += 1;
                            continue;
                        }
                        let job: serde_json::Value = r.json().await?;
                        let id = job["id"].as_str().context("a claimed job without an id")?;
                        let t = Instant::now();
                        let r = http.post(format!("{base}/api/v1/agent/jobs/{id}/complete")).bearer_auth(&cred).json(&report).send().await?;
                        in_reports += t.elapsed();
                        if r.status().is_success() {
                            done += 1;
                        } else {
                            errors += 1;
                        }
                    }
                    Some(max) => {
                        let r = http.post(format!("{base}/api/v1/agent/jobs/claim-many?max={max}")).bearer_auth(&cred).send().await?;
                        if !r.status().is_success() {
                            errors += 1;
                            continue;
                        }
                        let got: serde_json::Value = r.json().await?;
                        let jobs = got["jobs"].as_array().cloned().unwrap_or_default();
                        if jobs.is_empty() {
                            break;
                        }
                        let reports: Vec<_> = jobs
                            .iter()
                            .map(|j| serde_json::json!({"job_id": j["id"], "succeeded": true, "result": {"ok": true}, "output": "healthy"}))
                            .collect();
                        let r = http
                            .post(format!("{base}/api/v1/agent/jobs/complete-many"))
                            .bearer_auth(&cred)
                            .json(&serde_json::json!({ "reports": reports }))
                            .send()
                            .await?;
                        if !r.status().is_success() {
                            errors += jobs.len();
                            continue;
                        }
                        let answers: serde_json::Value = r.json().await?;
                        for a in answers["results"].as_array().cloned().unwrap_or_default() {
                            if a["job"].is_object() {
                                done += 1;
                            } else {
                                errors += 1;
                            }
                        }
                    }
                }
                if errors > 100 {
                    bail!("too many failed calls; is the server healthy?");
                }
            }
            Ok::<_, anyhow::Error>((done, errors, in_claims, in_reports))
        }));
    }
    let (mut done, mut errors, mut in_claims, mut in_reports) = (0, 0, Duration::ZERO, Duration::ZERO);
    for t in tasks {
        let (d, e, c, r) = t.await??;
        done += d;
        errors += e;
        in_claims += c;
        in_reports += r;
    }
    Ok(Drained { done, errors, elapsed: started.elapsed(), in_claims, in_reports })
}

/// Calls per second of claims that find nothing, `per_agent` by every agent at once.
async fn idle_claims(http: &reqwest::Client, base: &str, creds: &[String], per_agent: usize) -> Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for cred in creds {
        let (http, base, cred) = (http.clone(), base.to_owned(), cred.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_agent {
                let r = http.post(format!("{base}/api/v1/agent/jobs/claim")).bearer_auth(&cred).send().await?;
                if r.status() != reqwest::StatusCode::NO_CONTENT {
                    bail!("a claim with nothing queued answered {}", r.status());
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((per_agent * creds.len()) as f64 / started.elapsed().as_secs_f64())
}

/// Every agent long-polls for work; jobs are requested through the API one at a time,
/// round the nodes, each timed from just before its request is sent until its agent
/// has it. Answers the times, sorted.
async fn pickups(http: &reqwest::Client, base: &str, api_token: &str, creds: &[String], nodes: &[String], count: usize) -> Result<Vec<Duration>> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut agents = Vec::new();
    for (i, cred) in creds.iter().enumerate() {
        let (http, base, cred, tx, stop) = (http.clone(), base.to_owned(), cred.clone(), tx.clone(), stop.clone());
        agents.push(tokio::spawn(async move {
            let report = serde_json::json!({"succeeded": true});
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = match http.post(format!("{base}/api/v1/agent/jobs/claim?wait_secs=2")).bearer_auth(&cred).send().await {
                    Ok(r) => r,
                    Err(_) => break,
                };
                if r.status() != reqwest::StatusCode::OK {
                    continue;
                }
                let got = Instant::now();
                let Ok(job) = r.json::<serde_json::Value>().await else { continue };
                let _ = tx.send((i, got));
                if let Some(id) = job["id"].as_str() {
                    let _ = http.post(format!("{base}/api/v1/agent/jobs/{id}/complete")).bearer_auth(&cred).json(&report).send().await;
                }
            }
        }));
    }
    drop(tx);
    // Let every agent reach its long poll.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut times = Vec::with_capacity(count);
    for k in 0..count {
        let i = k % nodes.len();
        let sent = Instant::now();
        http.post(format!("{base}/api/v1/jobs"))
            .bearer_auth(api_token)
            .json(&serde_json::json!({"node_id": nodes[i], "kind": "health_check"}))
            .send()
            .await?
            .error_for_status()
            .context("requesting a job through the API")?;
        let (who, got) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .context("no agent picked the job up within 10 seconds")?
            .context("the agents stopped")?;
        if who != i {
            bail!("the job for node {i} was picked up by the agent of node {who}");
        }
        times.push(got.saturating_duration_since(sent));
        // Let the agent report and return to its long poll.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for a in agents {
        a.abort();
    }
    times.sort();
    Ok(times)
}

const SCRATCH_PG: &str = "CREATE TABLE bench_jobs (id BIGSERIAL PRIMARY KEY, node INT NOT NULL, state TEXT NOT NULL, claimed_at BIGINT, finished_at BIGINT)";
const SCRATCH_SQLITE: &str = "CREATE TABLE bench_jobs (id INTEGER PRIMARY KEY, node INT NOT NULL, state TEXT NOT NULL, claimed_at INTEGER, finished_at INTEGER)";
const SCRATCH_INDEX: &str = "CREATE INDEX bench_jobs_next ON bench_jobs (node, state, id)";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The bare loop on PostgreSQL: one claimer per node, `agents` connections.
async fn ceiling_postgres(url: &str, agents: usize, per_node: usize) -> Result<f64> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(agents as u32).connect(url).await?;
    sqlx::query("DROP TABLE IF EXISTS bench_jobs").execute(&pool).await?;
    sqlx::query(SCRATCH_PG).execute(&pool).await?;
    sqlx::query(SCRATCH_INDEX).execute(&pool).await?;
    sqlx::query("INSERT INTO bench_jobs (node, state) SELECT n, 'queued' FROM generate_series(1, $1) k, generate_series(0, $2 - 1) n")
        .bind(per_node as i32)
        .bind(agents as i32)
        .execute(&pool)
        .await?;
    sqlx::query("ANALYZE bench_jobs").execute(&pool).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for node in 0..agents as i32 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            loop {
                let id: Option<i64> = sqlx::query_scalar(
                    "UPDATE bench_jobs SET state = 'claimed', claimed_at = $2 WHERE id = \
                     (SELECT id FROM bench_jobs WHERE node = $1 AND state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                )
                .bind(node)
                .bind(now_ms())
                .fetch_optional(&pool)
                .await?;
                let Some(id) = id else { break };
                sqlx::query("UPDATE bench_jobs SET state = 'done', finished_at = $2 WHERE id = $1").bind(id).bind(now_ms()).execute(&pool).await?;
                done += 1;
            }
            Ok::<_, sqlx::Error>(done)
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await??;
    }
    let elapsed = started.elapsed();
    sqlx::query("DROP TABLE bench_jobs").execute(&pool).await?;
    pool.close().await;
    if done != agents * per_node {
        bail!("the ceiling loop completed {done} of {} jobs", agents * per_node);
    }
    Ok(done as f64 / elapsed.as_secs_f64())
}

/// The bare loop on SQLite: WAL, `synchronous=NORMAL`, one writer connection as the
/// server has; `BEGIN IMMEDIATE` for each claim and each completion.
async fn ceiling_sqlite(url: &str, agents: usize, per_node: usize) -> Result<f64> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
    sqlx::query("DROP TABLE IF EXISTS bench_jobs").execute(&pool).await?;
    sqlx::query(SCRATCH_SQLITE).execute(&pool).await?;
    sqlx::query(SCRATCH_INDEX).execute(&pool).await?;
    sqlx::query(
        "WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM k WHERE x < ?1), n(y) AS (SELECT 0 UNION ALL SELECT y + 1 FROM n WHERE y < ?2 - 1) \
         INSERT INTO bench_jobs (node, state) SELECT y, 'queued' FROM k, n",
    )
    .bind(per_node as i64)
    .bind(agents as i64)
    .execute(&pool)
    .await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for node in 0..agents as i64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            loop {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let id: Option<i64> = sqlx::query_scalar(
                    "UPDATE bench_jobs SET state = 'claimed', claimed_at = ?2 WHERE id = \
                     (SELECT id FROM bench_jobs WHERE node = ?1 AND state = 'queued' ORDER BY id LIMIT 1) RETURNING id",
                )
                .bind(node)
                .bind(now_ms())
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                let Some(id) = id else { break };
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                sqlx::query("UPDATE bench_jobs SET state = 'done', finished_at = ?2 WHERE id = ?1").bind(id).bind(now_ms()).execute(&mut *tx).await?;
                tx.commit().await?;
                done += 1;
            }
            Ok::<_, sqlx::Error>(done)
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await??;
    }
    let elapsed = started.elapsed();
    sqlx::query("DROP TABLE bench_jobs").execute(&pool).await?;
    pool.close().await;
    if done != agents * per_node {
        bail!("the ceiling loop completed {done} of {} jobs", agents * per_node);
    }
    Ok(done as f64 / elapsed.as_secs_f64())
}
