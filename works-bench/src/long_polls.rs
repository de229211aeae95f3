//! `works-bench long-polls`: what agents holding long polls with no work cost the server.
//! Every agent of the fleet asks for work with `POST /api/v1/agent/jobs/claim?wait_secs=20`,
//! as `works-agent` does, and asks again when the answer is "no work" (204). Once every
//! poll is held, the benchmark watches the server for a window: its CPU (utime + stime,
//! as a share of one core), its private memory against before the polls (per poll
//! held), and on PostgreSQL the transactions the database committed for it (every
//! read the server makes is one). Nothing is queued, so every answer must be 204.
//!
//! The last line is the headline: the server's CPU and memory per thousand polls held.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use crate::agent_footprint::{clock_ticks, cpu_ticks, status_kb};

pub(crate) struct Options {
    pub agents: usize,
    pub seconds: u64,
    pub database: Option<String>,
    pub works_bin: Option<std::path::PathBuf>,
}

pub(crate) async fn run(o: Options) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, backend) = match &o.database {
        Some(admin) => (crate::fresh_postgres(admin).await?, "postgres"),
        None => (works_store::sqlite_url_for_dir(dir.path()), "sqlite"),
    };
    let result = measure(&o, dir.path(), &url, backend).await;
    if let Some(admin) = &o.database {
        crate::drop_postgres(admin).await;
    }
    result
}

async fn measure(o: &Options, dir: &std::path::Path, url: &str, backend: &str) -> Result<()> {
    println!("long-polls: {} agents holding 20 s long polls, {backend}", o.agents);
    let creds = crate::checkins::seed_fleet(url, o.agents).await?;
    let (mut server, base) = crate::start_server(o.works_bin.clone(), &dir.join("server"), url).await?;
    let pid = server.id().ok_or_else(|| anyhow!("the server has no process id"))?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(o.agents).timeout(Duration::from_secs(60)).build()?;

    // Every agent once, so that the server has seen each credential before the window.
    for cred in &creds {
        let status = http.post(format!("{base}/api/v1/agent/jobs/claim")).bearer_auth(cred).send().await?.status();
        if status.as_u16() != 204 {
            bail!("a claim with nothing queued answered {status}");
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let private_before = status_kb(pid, "RssAnon")?;

    let (answered, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut agents = Vec::new();
    for cred in creds {
        let (http, base, answered, errors, stop) = (http.clone(), base.clone(), answered.clone(), errors.clone(), stop.clone());
        agents.push(tokio::spawn(async move {
            loop {
                let poll = http.post(format!("{base}/api/v1/agent/jobs/claim?wait_secs=20")).bearer_auth(&cred).send();
                tokio::select! {
                    _ = stop.notified() => return,
                    r = poll => match r {
                        Ok(r) if r.status().as_u16() == 204 => answered.fetch_add(1, Ordering::Relaxed),
                        _ => errors.fetch_add(1, Ordering::Relaxed),
                    },
                };
            }
        }));
    }
    // Let every poll reach the server and settle.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let tick = clock_ticks().await;
    let commits_before = commits(url).await?;
    let cpu_before = cpu_ticks(pid)?;
    let started = Instant::now();
    let mut private_max = 0;
    while started.elapsed() < Duration::from_secs(o.seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        private_max = private_max.max(status_kb(pid, "RssAnon")?);
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = (cpu_ticks(pid)? - cpu_before) as f64 / tick / wall * 100.0;
    let commits = match (commits_before, commits(url).await?) {
        (Some(a), Some(b)) => Some((b - a) as f64 / wall),
        _ => None,
    };
    stop.notify_waiters();
    for a in agents {
        a.abort();
    }
    let _ = server.kill().await;

    let (answered, errors) = (answered.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
    let per_poll_kb = private_max.saturating_sub(private_before) as f64 / o.agents as f64;
    println!("  server private memory: {:.0} MB before the polls, {:.0} MB at most while they were held = {per_poll_kb:.1} KB per poll held", private_before as f64 / 1024.0, private_max as f64 / 1024.0);
    println!("  server CPU over {wall:.0} s: {cpu:.1}% of one core ({:.2}% per thousand polls held); {answered} polls answered \"no work\", {errors} errors", cpu / o.agents as f64 * 1000.0);
    match commits {
        Some(c) => println!("  database: {c:.0} transactions a second = {:.2} a second per poll held (reads, each its own transaction)", c / o.agents as f64),
        None => println!("  database: SQLite keeps no count of reads (PostgreSQL: run with --database)"),
    }
    if errors > 0 {
        bail!("{errors} polls failed");
    }
    println!(
        "headline: {} long polls held ({backend}{}): server {cpu:.1}% of one core, {per_poll_kb:.1} KB each{}",
        o.agents,
        crate::database_note(),
        commits.map(|c| format!(", {:.2} database reads a second each", c / o.agents as f64)).unwrap_or_default()
    );
    Ok(())
}

/// Transactions committed in the benchmark's PostgreSQL database so far, by every
/// client (the server's periodic work included); None on SQLite.
async fn commits(url: &str) -> Result<Option<i64>> {
    if !url.starts_with("postgres") {
        return Ok(None);
    }
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
    // Backends report their counts about once a second: close enough over a window of
    // many seconds.
    let n: i64 = sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetch_one(&pool).await?;
    pool.close().await;
    Ok(Some(n))
}
