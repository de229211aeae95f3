//! `works-bench agent`: the real agent process, enrolled against a real `works serve`,
//! left idle at the server's 30-second check-in interval. Measures, from /proc, its
//! resident memory (VmRSS sampled every second, and the peak VmHWM) and its CPU time
//! (utime + stime) over the window, as a share of one core; and the binary's size.
//!
//! Measures `works agent run` (the agent hosted by the big `works` binary) and, when it
//! is there beside this benchmark, the slim `works-agent run`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use works_core::{NewNode, NewOrg, Works};

use crate::start_server;

const TARGET_RSS_MB: f64 = 10.0;
const TARGET_CPU_PERCENT: f64 = 0.1;
/// Time given to the agent to start, enroll its first check-in and inventory before
/// the window opens.
const WARM_UP: Duration = Duration::from_secs(10);

struct Footprint {
    label: String,
    binary: PathBuf,
    binary_bytes: u64,
    rss_mean_mb: f64,
    rss_max_mb: f64,
    hwm_mb: f64,
    cpu_percent: f64,
    /// One clock tick over the window, as a share of one core: the finest CPU figure.
    cpu_resolution: f64,
    checkins: u64,
}

pub(crate) async fn run(seconds: u64, works_bin: Option<PathBuf>, agent_bin: Option<PathBuf>) -> Result<()> {
    let works = match works_bin {
        Some(b) => b,
        None => crate::default_works_bin()?,
    };
    let slim = match agent_bin {
        Some(b) => Some(b),
        None => Some(works.with_file_name("works-agent")).filter(|p| p.exists()),
    };
    let dir = tempfile::tempdir()?;
    let url = works_store::sqlite_url_for_dir(dir.path());
    let store = works_store::open(&url).await.map_err(|e| anyhow!("{e}"))?;
    let core = Works::new(store);
    core.bootstrap(Some("benchmark-admin-password".into())).await.map_err(|e| anyhow!("{e}"))?;
    let admin = core.local_actor("admin").await.map_err(|e| anyhow!("{e}"))?;
    let org = core.org_create(&admin, NewOrg { name: "Bench Org".into() }).await.map_err(|e| anyhow!("{e}"))?;
    let (mut server, base) = start_server(Some(works.clone()), dir.path(), &url).await?;
    println!("agent: idle for {seconds} s after a {} s warm-up, at the server's check-in interval (30 s); docker at {}", WARM_UP.as_secs(), works_agent_docker());

    let mut results = Vec::new();
    let mut candidates = vec![("works agent run".to_owned(), works.clone(), vec!["agent".to_owned()])];
    if let Some(s) = slim {
        candidates.push(("works-agent run".to_owned(), s, vec![]));
    }
    for (i, (label, bin, prefix)) in candidates.into_iter().enumerate() {
        let node = core.node_create(&admin, NewNode { name: format!("bench-agent-{i}"), org_id: Some(org.id.clone()) }).await.map_err(|e| anyhow!("{e}"))?;
        let token = core.enrollment_token_create(&admin, &node.id).await.map_err(|e| anyhow!("{e}"))?.token;
        let state = dir.path().join(format!("agent-{i}"));
        let enrolled = tokio::process::Command::new(&bin)
            .args(&prefix)
            .arg("enroll")
            .args(["--server", &base, "--state-dir"])
            .arg(&state)
            .env("WORKS_ENROLLMENT_TOKEN", &token)
            .env("WORKS_SERVER", &base)
            .stdout(Stdio::null())
            .output()
            .await
            .with_context(|| format!("starting {}", bin.display()))?;
        if !enrolled.status.success() {
            bail!("{label}: enrollment failed: {}", String::from_utf8_lossy(&enrolled.stderr));
        }
        let f = measure(&label, &bin, &prefix, &state, seconds, &core, &admin, &node.id).await?;
        println!(
            "{}: RSS mean {:.1} MB, max {:.1} MB, peak (VmHWM) {:.1} MB (target {TARGET_RSS_MB} MB, {:.2}x); CPU {:.4}% of one core, to within {:.4}% (target {TARGET_CPU_PERCENT}%, {:.2}x); {} check-ins seen; binary {} = {:.1} MB",
            f.label,
            f.rss_mean_mb,
            f.rss_max_mb,
            f.hwm_mb,
            f.rss_max_mb / TARGET_RSS_MB,
            f.cpu_percent,
            f.cpu_resolution,
            f.cpu_percent / TARGET_CPU_PERCENT,
            f.checkins,
            f.binary.display(),
            f.binary_bytes as f64 / 1e6
        );
        results.push(f);
    }
    let _ = server.kill().await;
    let best = results.iter().min_by(|a, b| a.rss_max_mb.total_cmp(&b.rss_max_mb)).ok_or_else(|| anyhow!("nothing was measured"))?;
    println!(
        "headline: idle agent ({}) = {:.2}x of the {TARGET_RSS_MB} MB RSS target, at most {:.2}x of the {TARGET_CPU_PERCENT}% CPU target; binary {:.1} MB",
        best.label,
        best.rss_max_mb / TARGET_RSS_MB,
        // Less than one clock tick reads as zero: count it as one tick, an upper bound.
        best.cpu_percent.max(best.cpu_resolution) / TARGET_CPU_PERCENT,
        best.binary_bytes as f64 / 1e6
    );
    Ok(())
}

fn works_agent_docker() -> String {
    std::env::var("WORKS_DOCKER_HOST").or_else(|_| std::env::var("DOCKER_HOST")).unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

#[allow(clippy::too_many_arguments)]
async fn measure(label: &str, bin: &Path, prefix: &[String], state: &Path, seconds: u64, core: &Works, admin: &works_core::Actor, node_id: &str) -> Result<Footprint> {
    let mut child = tokio::process::Command::new(bin)
        .args(prefix)
        .args(["run", "--state-dir"])
        .arg(state)
        .env("WORKS_LOG", "warn")
        .env_remove("WORKS_SERVER")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id().ok_or_else(|| anyhow!("{label} has no process id"))?;
    tokio::time::sleep(WARM_UP).await;
    if let Some(status) = child.try_wait()? {
        bail!("{label} stopped during the warm-up ({status})");
    }
    let before_checkin = core.node_get(admin, node_id).await.map_err(|e| anyhow!("{e}"))?.last_checkin_at;
    if before_checkin.is_none() {
        bail!("{label} did not check in during the warm-up; is the server reachable?");
    }
    let tick = clock_ticks().await;
    let cpu0 = cpu_ticks(pid)?;
    let started = Instant::now();
    let mut rss = Vec::new();
    let mut checkins = 0u64;
    let mut last = before_checkin;
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss.push(status_kb(pid, "VmRSS")?);
        let now = core.node_get(admin, node_id).await.map_err(|e| anyhow!("{e}"))?.last_checkin_at;
        if now != last {
            checkins += 1;
            last = now;
        }
    }
    let cpu = cpu_ticks(pid)? - cpu0;
    let wall = started.elapsed().as_secs_f64();
    let hwm = status_kb(pid, "VmHWM")?;
    let _ = child.kill().await;
    let bytes = std::fs::metadata(bin)?.len();
    Ok(Footprint {
        label: label.to_owned(),
        binary: bin.to_owned(),
        binary_bytes: bytes,
        rss_mean_mb: rss.iter().sum::<u64>() as f64 / rss.len().max(1) as f64 / 1024.0,
        rss_max_mb: rss.iter().copied().max().unwrap_or_default() as f64 / 1024.0,
        hwm_mb: hwm as f64 / 1024.0,
        cpu_percent: cpu as f64 / tick / wall * 100.0,
        cpu_resolution: 1.0 / tick / wall * 100.0,
        checkins,
    })
}

/// A field of /proc/PID/status, in kB.
pub(crate) fn status_kb(pid: u32, field: &str) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))
}

/// utime + stime of the process, in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name (which may hold spaces) start after ") ".
    let rest = s.rsplit_once(") ").map(|(_, r)| r).ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 of `rest`.
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat"));
    Ok(get(11)? + get(12)?)
}

pub(crate) async fn clock_ticks() -> f64 {
    let out = tokio::process::Command::new("getconf").arg("CLK_TCK").output().await.ok();
    out.and_then(|o| String::from_utf8(o.stdout).ok()).and_then(|s| s.trim().parse().ok()).unwrap_or(100.0)
}
