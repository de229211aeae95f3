//! The machine's health as the agent reports it: uptime, load and memory from /proc,
//! disk space of `/` from statvfs, and whether the Docker engine answers.

use std::path::Path;

use works_core::NodeHealth;

use crate::docker::Engine;

/// The version of this agent.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Seconds since boot, from the first field of `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Option<u64> {
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then_some(secs as u64)
}

/// The one-minute load average, from the first field of `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<f64> {
    let load: f64 = text.split_whitespace().next()?.parse().ok()?;
    load.is_finite().then_some(load)
}

/// Total and available memory in bytes, from `/proc/meminfo`.
pub fn parse_meminfo(text: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let mut parts = rest.split_whitespace();
            let value: u64 = parts.next()?.parse().ok()?;
            let factor = match parts.next() {
                Some("kB") => 1024,
                None => 1,
                Some(_) => return None,
            };
            value.checked_mul(factor)
        })
    };
    (field("MemTotal"), field("MemAvailable"))
}

fn read(path: &str) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::debug!(path, error = %e, "could not read");
            None
        }
    }
}

/// Total and available bytes of the file system holding `path`.
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    match rustix::fs::statvfs(path) {
        Ok(s) => {
            let unit = if s.f_frsize > 0 { s.f_frsize } else { s.f_bsize };
            Some((s.f_blocks.saturating_mul(unit), s.f_bavail.saturating_mul(unit)))
        }
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "statvfs failed");
            None
        }
    }
}

/// What the machine reports without Docker: a value that cannot be read is reported as 0.
pub fn machine_health() -> NodeHealth {
    let uptime = read("/proc/uptime").as_deref().and_then(parse_uptime).unwrap_or(0);
    let load1 = read("/proc/loadavg").as_deref().and_then(parse_loadavg).unwrap_or(0.0);
    let (mem_total, mem_available) = read("/proc/meminfo").as_deref().map(parse_meminfo).unwrap_or((None, None));
    let (disk_total, disk_available) = disk_space(Path::new("/")).unwrap_or((0, 0));
    NodeHealth {
        uptime_secs: uptime,
        load1,
        memory_total_bytes: mem_total.unwrap_or(0),
        memory_available_bytes: mem_available.unwrap_or(0),
        disk_total_bytes: disk_total,
        disk_available_bytes: disk_available,
        agent_version: AGENT_VERSION.to_owned(),
        docker_reachable: false,
        docker_version: None,
    }
}

/// The machine's health with the engine's reachability and version.
pub async fn collect(engine: &Engine) -> NodeHealth {
    let mut health = machine_health();
    match engine.version().await {
        Ok(version) => {
            health.docker_reachable = true;
            health.docker_version = version;
        }
        Err(e) => tracing::debug!(error = %e, "the Docker engine did not answer"),
    }
    health
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read() {
        assert_eq!(parse_uptime("12345.67 23456.78\n"), Some(12345));
        assert_eq!(parse_uptime("garbage"), None);
        assert_eq!(parse_loadavg("0.52 0.40 0.30 1/123 4567\n"), Some(0.52));
        let meminfo = "MemTotal:       16303428 kB\nMemFree:         1234 kB\nMemAvailable:   8000000 kB\n";
        assert_eq!(parse_meminfo(meminfo), (Some(16303428 * 1024), Some(8000000 * 1024)));
        assert_eq!(parse_meminfo("MemTotalX: 5 kB\n"), (None, None));
    }

    #[test]
    fn this_machine_reports_its_health() {
        let h = machine_health();
        assert!(h.uptime_secs > 0);
        assert!(h.memory_total_bytes > 0 && h.memory_available_bytes <= h.memory_total_bytes);
        assert!(h.disk_total_bytes > 0 && h.disk_available_bytes <= h.disk_total_bytes);
        assert_eq!(h.agent_version, AGENT_VERSION);
    }
}
