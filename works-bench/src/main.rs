//! `works-bench checkins`: many simulated agents checking in against one real
//! `works serve` process over HTTP, on SQLite or PostgreSQL, compared in the same run with
//! a naive one-row-per-transaction server (see `checkins.rs`). Bounded in count and
//! time; loopback only.
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
//! target/release/works-bench checkins --agents 100000
//! target/release/works-bench checkins --database postgres://postgres@127.0.0.1:55432/postgres
//! ```

mod checkins;
mod map;
mod jobs;
mod long_polls;
mod workflow_steps;
mod agent_footprint;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncBufReadExt, BufReader};

mod discovery;

#[derive(Parser)]
#[command(about = "Benchmarks against a real Anthropy Works server process")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Agents checking in: throughput and latency against the one-row-per-transaction
    /// ceiling, a paced fleet, a reconnect storm and the server's memory.
    Checkins(checkins::Args),
    /// The naive check-in server `checkins` compares with (started by it).
    #[command(hide = true)]
    CeilingServer {
        #[arg(long)]
        database: String,
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
        /// How many nodes, each with one agent claiming (the concurrency of both loops;
        /// the bare loop also runs with 16 claimers, and its best is reported too).
        #[arg(long, default_value_t = 64)]
        agents: usize,
        /// About how many jobs each throughput phase drains.
        #[arg(long, default_value_t = 8000)]
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
    /// Agents holding long polls with no work: the server's CPU, memory per poll, and
    /// database reads.
    LongPolls {
        /// How many agents, each holding one long poll (1 to 15,000; each is a
        /// connection, so the open-files limit must allow twice as many).
        #[arg(long, default_value_t = 2000)]
        agents: usize,
        /// How long to watch the server once every poll is held.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
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
        Bench::Checkins(args) => checkins::run(args).await,
        Bench::CeilingServer { database } => checkins::ceiling_server(&database).await,
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
        Bench::LongPolls { agents, seconds, database, works_bin } => {
            long_polls::run(long_polls::Options { agents: agents.clamp(1, 15_000), seconds: seconds.clamp(5, 600), database, works_bin }).await
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
        .env("PGOPTIONS", "--client-min-messages=warning")
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
    // Whether commits reach the disk changes every PostgreSQL figure (the ceilings'
    // most of all), so every run says which kind of server it had.
    let settings = tokio::process::Command::new("psql")
        .arg(admin_url)
        .arg("-Atc")
        .arg("SELECT current_setting('fsync') || ' ' || current_setting('synchronous_commit')")
        .output()
        .await
        .context("running psql to read the server's durability settings")?;
    let settings = String::from_utf8_lossy(&settings.stdout).trim().to_owned();
    let (fsync, commit) = settings.split_once(' ').unwrap_or((settings.as_str(), "?"));
    // Every synchronous_commit but `off` waits for the local flush.
    let durable = fsync == "on" && commit != "off";
    let note = if durable { "durable commits" } else { "commits not flushed to disk" };
    let _ = DATABASE_NOTE.set(note);
    println!("database: PostgreSQL with fsync={fsync}, synchronous_commit={commit} ({note})");
    Ok(store_url)
}

static DATABASE_NOTE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// For headlines: ", durable commits" or ", commits not flushed to disk" on
/// PostgreSQL; nothing on SQLite, whose settings are the server's own.
pub(crate) fn database_note() -> String {
    DATABASE_NOTE.get().map(|n| format!(", {n}")).unwrap_or_default()
}

/// Drops the database `fresh_postgres` made.
pub(crate) async fn drop_postgres(admin_url: &str) {
    let name = format!("works_bench_{}", std::process::id());
    let _ = tokio::process::Command::new("psql").env("PGOPTIONS", "--client-min-messages=warning").arg(admin_url).arg("-qc").arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).status().await;
}
