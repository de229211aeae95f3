//! `works-bench checkins`: many simulated agents checking in against one real
//! `works serve` process over HTTP, on SQLite or PostgreSQL. Prints check-ins per second
//! and latency percentiles. Bounded in count and time; loopback only.
//!
//! `works-bench discovery --hosts N`: SSH discovery across N real sshd hosts behind one
//! jumpbox, ours against Ansible's (see `discovery.rs`; needs root).
//!
//! `works-bench map --objects 5000`: the Command Center over a fleet of that many map
//! objects, in headless Chromium: time to first render and frame time while panning
//! (see `map.rs`).
//!
//! ```sh
//! cargo build --release -p works-cli -p works-bench
//! target/release/works-bench checkins --agents 500 --seconds 10 --concurrency 64
//! target/release/works-bench checkins --database postgres://postgres@127.0.0.1:55432/postgres
//! ```

mod map;
mod jobs;
mod workflow_steps;
mod agent_footprint;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncBufReadExt, BufReader};
use works_core::{EnrollRequest, NewNode, NewOrg, Works};

mod discovery;

#[derive(Parser)]
#[command(about = "Benchmarks against a real Anthropy Works server process")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Agents checking in: throughput and latency.
    Checkins {
        /// How many enrolled agents take turns checking in.
        #[arg(long, default_value_t = 500)]
        agents: usize,
        /// How many check-ins are in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// How long to measure, after a one-second warm-up.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// A PostgreSQL admin URL (a fresh database is created in it); SQLite in a temporary folder when absent.
        #[arg(long)]
        database: Option<String>,
        /// The `works` binary to start; defaults to the one beside this benchmark.
        #[arg(long)]
        works_bin: Option<PathBuf>,
    },
    /// SSH discovery across many hosts behind one jumpbox: ours against Ansible (needs root).
    Discovery {
        /// How many target sshd hosts to make behind the jumpbox (1 to 250).
        #[arg(long, default_value_t = 10)]
        hosts: usize,
        /// The virtual environment with ansible-core (scripts/bench-ansible-setup).
        #[arg(long, default_value = "target/bench-ansible")]
        ansible: PathBuf,
    },
    /// The Command Center map in headless Chromium: time to first render, frame time while panning.
    Map {
        /// About how many map objects (organizations, nodes, OpenClaw instances) to seed.
        #[arg(long, default_value_t = 5000)]
        objects: usize,
        /// Frames to measure while panning, at each zoom level.
        #[arg(long, default_value_t = 240)]
        frames: usize,
        /// A PostgreSQL admin URL (a fresh database is created in it); SQLite in a temporary folder when absent.
        #[arg(long)]
        database: Option<String>,
        /// The `works` binary to start; defaults to the one beside this benchmark.
        #[arg(long)]
        works_bin: Option<PathBuf>,
        /// The chromedriver to start; `chromedriver` on PATH when absent.
        #[arg(long)]
        chromedriver: Option<PathBuf>,
    },
    /// Jobs: claim-to-complete against a bare SKIP LOCKED loop, batched claims, and enqueue-to-pickup latency.
    Jobs {
        /// How many nodes, each with one agent claiming (the concurrency of both loops).
        #[arg(long, default_value_t = 16)]
        agents: usize,
        /// About how many jobs each throughput phase drains.
        #[arg(long, default_value_t = 2000)]
        jobs: usize,
        /// Most jobs per batched claim and per batched report.
        #[arg(long, default_value_t = 50)]
        batch: u32,
        /// How many jobs to time from request to pickup.
        #[arg(long, default_value_t = 200)]
        pickups: usize,
        /// A PostgreSQL admin URL (a fresh database is created in it); SQLite in a temporary folder when absent.
        #[arg(long)]
        database: Option<String>,
        /// The `works` binary to start; defaults to the one beside this benchmark.
        #[arg(long)]
        works_bin: Option<PathBuf>,
    },
    /// Workflow step overhead (policy check and state change, excluding the action).
    WorkflowSteps {
        /// Steps in the workflow (1 to 50).
        #[arg(long, default_value_t = 50)]
        steps: usize,
        /// Runs of each mode (simulation, live).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// A PostgreSQL admin URL (a fresh database is created in it); SQLite in a temporary folder when absent.
        #[arg(long)]
        database: Option<String>,
        /// The `works` binary to start; defaults to the one beside this benchmark.
        #[arg(long)]
        works_bin: Option<PathBuf>,
    },
    /// The idle agent: resident memory, CPU and binary size.
    Agent {
        /// How long to watch the idle agent, after a 10-second warm-up.
        #[arg(long, default_value_t = 120)]
        seconds: u64,
        /// The `works` binary (server, and `works agent`); defaults to the one beside this benchmark.
        #[arg(long)]
        works_bin: Option<PathBuf>,
        /// The slim `works-agent` binary; defaults to the one beside this benchmark, when there.
        #[arg(long)]
        agent_bin: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Bench::Checkins { agents, concurrency, seconds, database, works_bin } => {
            checkins(agents.clamp(1, 100_000), concurrency.clamp(1, 1024), seconds.clamp(1, 300), database, works_bin).await
        }
        Bench::Jobs { agents, jobs, batch, pickups, database, works_bin } => {
            jobs::run(jobs::Options {
                agents: agents.clamp(1, 1000),
                jobs: jobs.clamp(1, 200_000),
                batch: batch.clamp(1, works_core::agent::MAX_CLAIM_BATCH),
                pickups: pickups.clamp(1, 10_000),
                database,
                works_bin,
            })
            .await
        }
        Bench::WorkflowSteps { steps, runs, database, works_bin } => {
            workflow_steps::run(steps.clamp(1, works_core::workflows::MAX_STEPS), runs.clamp(1, 1000), database, works_bin).await
        }
        Bench::Agent { seconds, works_bin, agent_bin } => agent_footprint::run(seconds.clamp(5, 3600), works_bin, agent_bin).await,
        Bench::Discovery { hosts, ansible } => discovery::discovery(hosts.clamp(1, 250), ansible).await,
        Bench::Map { objects, frames, database, works_bin, chromedriver } => {
            map::run(objects.clamp(10, 50_000), database, works_bin, chromedriver, frames.clamp(10, 2000)).await
        }
    }
}

/// Starts `works serve` on a free loopback port over `url`, and answers the process and
/// the address it printed once it was ready.
pub(crate) async fn start_server(works_bin: Option<PathBuf>, data_dir: &std::path::Path, url: &str) -> Result<(tokio::process::Child, String)> {
    let bin = match works_bin {
        Some(b) => b,
        None => default_works_bin()?,
    };
    let mut server = tokio::process::Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--database", url])
        .env("WORKS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = server.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.split("running at ").nth(1) {
                return Ok::<_, anyhow::Error>(rest.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
        bail!("the server stopped before it was ready")
    })
    .await
    .context("waiting for the server")??;
    // Keep reading what it prints, so its standard output never closes under it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((server, base))
}

pub(crate) fn default_works_bin() -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().ok_or_else(|| anyhow!("no folder for {}", me.display()))?;
    Ok(dir.join("works"))
}

pub(crate) async fn fresh_postgres(admin_url: &str) -> Result<String> {
    let name = format!("works_bench_{}", std::process::id());
    let store_url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => bail!("the PostgreSQL URL must end with a database name"),
    };
    let status = tokio::process::Command::new("psql")
        .arg(admin_url)
        .arg("-q")
        .arg("-c")
        .arg(format!("DROP DATABASE IF EXISTS {name}"))
        .arg("-c")
        .arg(format!("CREATE DATABASE {name}"))
        .status()
        .await
        .context("running psql to create the benchmark database")?;
    if !status.success() {
        bail!("psql could not create the benchmark database");
    }
    Ok(store_url)
}

async fn checkins(agents: usize, concurrency: usize, seconds: u64, database: Option<String>, works_bin: Option<PathBuf>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, backend) = match &database {
        Some(admin) => (fresh_postgres(admin).await?, "postgres"),
        None => (works_store::sqlite_url_for_dir(dir.path()), "sqlite"),
    };

    // Set up the fleet through the core, directly on the database.
    let store = works_store::open(&url).await.map_err(|e| anyhow!("{e}"))?;
    let works = Works::new(store);
    works.bootstrap(Some("benchmark-admin-password".into())).await.map_err(|e| anyhow!("{e}"))?;
    let admin = works.local_actor("admin").await.map_err(|e| anyhow!("{e}"))?;
    let org = works.org_create(&admin, NewOrg { name: "Bench Org".into() }).await.map_err(|e| anyhow!("{e}"))?;
    let mut tokens = Vec::with_capacity(agents);
    for i in 0..agents {
        let node = works
            .node_create(&admin, NewNode { name: format!("bench-{i:06}"), org_id: Some(org.id.clone()) })
            .await
            .map_err(|e| anyhow!("{e}"))?;
        tokens.push(works.enrollment_token_create(&admin, &node.id).await.map_err(|e| anyhow!("{e}"))?.token);
    }

    // The server, as its own process.
    let (mut server, base) = start_server(works_bin, dir.path(), &url).await?;

    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let mut creds = Vec::with_capacity(agents);
    for t in tokens {
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
    let creds = Arc::new(creds);
    let body = serde_json::json!({
        "health": {"uptime_secs": 1000, "load1": 0.1, "memory_total_bytes": 8_000_000_000u64, "memory_available_bytes": 4_000_000_000u64,
                   "disk_total_bytes": 100_000_000_000u64, "disk_available_bytes": 50_000_000_000u64, "agent_version": "bench",
                   "docker_reachable": true, "docker_version": "20.10"},
        "containers": null
    });
    let body = Arc::new(serde_json::to_vec(&body)?);

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (http, creds, body, base, measuring, stop) =
            (http.clone(), creds.clone(), body.clone(), base.clone(), measuring.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let cred = &creds[i % creds.len()];
                i += concurrency;
                let t = Instant::now();
                let ok = http
                    .post(format!("{base}/api/v1/agent/checkin"))
                    .bearer_auth(cred)
                    .header("content-type", "application/json")
                    .body(body.as_ref().clone())
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (lat, e) = w.await?;
        all.extend(lat);
        errors += e;
    }
    let _ = server.kill().await;
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or_default();
    println!(
        "checkins backend={backend} agents={agents} concurrency={concurrency} seconds={:.1} ok={} errors={errors} rate={:.0}/s p50={:.1}ms p99={:.1}ms max={:.1}ms",
        elapsed.as_secs_f64(),
        all.len(),
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    if let Some(admin_url) = &database {
        let name = format!("works_bench_{}", std::process::id());
        let _ = tokio::process::Command::new("psql").arg(admin_url).arg("-qc").arg(format!("DROP DATABASE IF EXISTS {name}")).status().await;
    }
    Ok(())
}
