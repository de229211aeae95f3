//! Real SSH hosts on this machine for the access layer's tests: a jumpbox and a target,
//! each a network namespace with its own `sshd`, the target reachable only through the
//! jumpbox (the root namespace has an `unreachable` route for its subnet, so a direct
//! attempt fails at once). Traffic stays inside the namespaces the test made.
//!
//! The target runs three sshd: port 22 with a Docker stand-in on its PATH that answers
//! like a Docker engine running an OpenClaw gateway, port 2201 with no `docker` on its
//! PATH, and port 2202 with a Docker stand-in that answers "permission denied". The
//! stand-in keeps the tests away from whatever Docker engine this machine may run.
//!
//! Everything made — sshd processes, namespaces, veth pairs, the route — is removed on
//! drop, also when the test fails. Names and subnets are unique per testbed.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub const DOCKER_OK: u16 = 22;
pub const DOCKER_ABSENT: u16 = 2201;
pub const DOCKER_DENIED: u16 = 2202;
/// A target sshd for agent installation: the Docker stand-in, the tools the installer
/// uses, `HOME` in the testbed's folder (so nothing is written to the machine's own home)
/// and a Docker address that leads nowhere (so the agent leaves this machine's Docker be).
pub const INSTALL: u16 = 2203;

/// Whether real hosts can be made here; under CI their absence fails the test.
pub fn available() -> bool {
    let missing: Vec<&str> = [("/usr/sbin/sshd", "sshd (openssh-server)"), ("/usr/bin/ssh-keygen", "ssh-keygen"), ("/usr/bin/ssh", "ssh")]
        .into_iter()
        .filter(|(p, _)| !Path::new(p).exists())
        .map(|(_, n)| n)
        .collect();
    let root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
    let ip = Command::new("ip").arg("-V").output().is_ok();
    let ok = missing.is_empty() && root && ip;
    if !ok {
        let why = format!("missing: {missing:?}, root: {root}, ip: {ip}");
        if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
            panic!("real SSH hosts are needed under CI=true but cannot be made here ({why}); run scripts/install-test-deps as root");
        }
        eprintln!("skipping: real SSH hosts cannot be made here ({why}); run scripts/install-test-deps as root");
    }
    ok
}

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn must(args: &[&str]) -> String {
    run(args).unwrap_or_else(|e| panic!("testbed: {e}"))
}

/// A key pair made with ssh-keygen.
pub struct KeyPair {
    pub private: String,
    pub public: String,
}

fn keygen(path: &Path) -> KeyPair {
    let p = path.to_str().unwrap_or_else(|| panic!("path"));
    must(&["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "testbed", "-f", p]);
    KeyPair {
        private: std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}")),
        public: std::fs::read_to_string(format!("{p}.pub")).unwrap_or_else(|e| panic!("{e}")),
    }
}

pub struct Testbed {
    pub dir: tempfile::TempDir,
    pub ns_jump: String,
    pub ns_target: String,
    veth_root: String,
    pub jump_address: String,
    pub target_address: String,
    pub target_subnet: String,
    route_added: bool,
    /// The key both sshd accept.
    pub client_key: KeyPair,
    /// A key neither accepts.
    pub wrong_key: KeyPair,
}

impl Testbed {
    pub fn start() -> Testbed {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{:x}{n:x}", std::process::id() & 0xfffff);
        let dir = tempfile::Builder::new().prefix("works-testbed-").tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut tb = Testbed {
            dir,
            ns_jump: format!("wks-{tag}-j"),
            ns_target: format!("wks-{tag}-t"),
            veth_root: format!("wk{tag}r"),
            jump_address: String::new(),
            target_address: String::new(),
            target_subnet: String::new(),
            route_added: false,
            client_key: KeyPair { private: String::new(), public: String::new() },
            wrong_key: KeyPair { private: String::new(), public: String::new() },
        };
        // A free pair of subnets of the benchmarking range 198.18.0.0/15.
        let mut octet = None;
        for _ in 0..50 {
            let x: u8 = rand::random::<u8>() % 250 + 1;
            let used = must(&["ip", "-o", "route", "show", "table", "all"]);
            if !used.contains(&format!("198.18.{x}.")) && !used.contains(&format!("198.19.{x}.")) {
                octet = Some(x);
                break;
            }
        }
        let x = octet.unwrap_or_else(|| panic!("testbed: no free subnet"));
        tb.jump_address = format!("198.18.{x}.2");
        tb.target_address = format!("198.19.{x}.2");
        tb.target_subnet = format!("198.19.{x}.0/24");
        tb.build(x);
        tb
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).to_str().unwrap_or_else(|| panic!("path")).to_owned()
    }

    fn build(&mut self, x: u8) {
        let (nj, nt, vr) = (self.ns_jump.clone(), self.ns_target.clone(), self.veth_root.clone());
        let vj1 = format!("{vr}a");
        let vj2 = format!("{vr}b");
        let vt = format!("{vr}c");
        must(&["ip", "netns", "add", &nj]);
        must(&["ip", "netns", "add", &nt]);
        must(&["ip", "link", "add", &vr, "type", "veth", "peer", "name", &vj1]);
        must(&["ip", "link", "set", &vj1, "netns", &nj]);
        must(&["ip", "addr", "add", &format!("198.18.{x}.1/24"), "dev", &vr]);
        must(&["ip", "link", "set", &vr, "up"]);
        must(&["ip", "netns", "exec", &nj, "ip", "addr", "add", &format!("198.18.{x}.2/24"), "dev", &vj1]);
        must(&["ip", "netns", "exec", &nj, "ip", "link", "set", &vj1, "up"]);
        must(&["ip", "netns", "exec", &nj, "ip", "link", "set", "lo", "up"]);
        must(&["ip", "netns", "exec", &nj, "ip", "link", "add", &vj2, "type", "veth", "peer", "name", &vt, "netns", &nt]);
        must(&["ip", "netns", "exec", &nj, "ip", "addr", "add", &format!("198.19.{x}.1/24"), "dev", &vj2]);
        must(&["ip", "netns", "exec", &nj, "ip", "link", "set", &vj2, "up"]);
        must(&["ip", "netns", "exec", &nt, "ip", "addr", "add", &format!("198.19.{x}.2/24"), "dev", &vt]);
        must(&["ip", "netns", "exec", &nt, "ip", "link", "set", &vt, "up"]);
        must(&["ip", "netns", "exec", &nt, "ip", "link", "set", "lo", "up"]);
        must(&["ip", "route", "add", "unreachable", &self.target_subnet]);
        self.route_added = true;

        std::fs::create_dir_all("/run/sshd").unwrap_or_else(|e| panic!("{e}"));
        self.client_key = keygen(&self.path("client"));
        self.wrong_key = keygen(&self.path("wrong"));
        keygen(&self.path("jump_host"));
        keygen(&self.path("target_host"));
        keygen(&self.path("target_host_new"));
        std::fs::write(self.path("authorized_keys"), &self.client_key.public).unwrap_or_else(|e| panic!("{e}"));

        // The target's PATHs: the tools the checks use, and a Docker stand-in or none.
        for (bin, docker) in [("bin-ok", Some(DOCKER_OK_SCRIPT)), ("bin-absent", None), ("bin-denied", Some(DOCKER_DENIED_SCRIPT)), ("bin-install", Some(DOCKER_OK_SCRIPT))] {
            let b = self.path(bin);
            std::fs::create_dir(&b).unwrap_or_else(|e| panic!("{e}"));
            let install_tools: &[&str] = if bin == "bin-install" { &["mkdir", "chmod", "mv", "rm", "id", "sleep", "setsid", "nohup", "kill"] } else { &[] };
            for tool in ["cat", "uname", "nproc", "df", "sh"].iter().chain(install_tools) {
                let real = ["/usr/bin", "/bin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.exists()).unwrap_or_else(|| panic!("no {tool}"));
                std::os::unix::fs::symlink(real, b.join(tool)).unwrap_or_else(|e| panic!("{e}"));
            }
            if let Some(script) = docker {
                use std::os::unix::fs::PermissionsExt;
                std::fs::write(b.join("docker"), script).unwrap_or_else(|e| panic!("{e}"));
                std::fs::set_permissions(b.join("docker"), std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        self.start_sshd("jump", 22, "jump_host", None);
        self.start_target(DOCKER_OK, "target_host");
        self.start_target(DOCKER_ABSENT, "target_host");
        self.start_target(DOCKER_DENIED, "target_host");
        std::fs::create_dir(self.path("home")).unwrap_or_else(|e| panic!("{e}"));
        self.start_target(INSTALL, "target_host");
    }

    /// The installing user's home on the target.
    pub fn install_home(&self) -> PathBuf {
        self.path("home")
    }

    /// Binds a TCP listener inside the jumpbox's namespace, on its address towards the
    /// target (the target's own subnet), so that the target reaches it directly.
    pub fn listen_towards_target(&self) -> std::net::TcpListener {
        let ns = format!("/var/run/netns/{}", self.ns_jump);
        let addr = self.target_address.rsplit_once('.').map(|(net, _)| format!("{net}.1:0")).unwrap_or_else(|| panic!("address"));
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let f = std::fs::File::open(&ns).unwrap_or_else(|e| panic!("{ns}: {e}"));
            // This thread only: it moves into the jumpbox's namespace, binds, and ends.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let l = std::net::TcpListener::bind(&addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
            l.set_nonblocking(true).unwrap_or_else(|e| panic!("{e}"));
            l
        })
        .join()
        .unwrap_or_else(|_| panic!("the binding thread failed"))
    }

    /// Stops an agent the installer started in the background, if any.
    pub fn stop_agent(&self) {
        let pid_path = self.path("home").join(".works-agent/agent.pid");
        if let Ok(pid) = std::fs::read_to_string(&pid_path) {
            let pid = pid.trim().to_owned();
            if !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()) {
                let _ = run(&["kill", &pid]);
                let deadline = Instant::now() + Duration::from_secs(10);
                while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    fn start_target(&self, port: u16, host_key: &str) {
        let bin = match port {
            DOCKER_OK => "bin-ok",
            DOCKER_ABSENT => "bin-absent",
            INSTALL => "bin-install",
            _ => "bin-denied",
        };
        self.start_sshd(&format!("target{port}"), port, host_key, Some(bin));
    }

    fn start_sshd(&self, name: &str, port: u16, host_key: &str, path: Option<&str>) {
        let pid = self.p(&format!("{name}.pid"));
        let _ = std::fs::remove_file(&pid);
        let mut cfg = format!(
            "Port {port}\nHostKey {}\nPidFile {pid}\nAuthorizedKeysFile {}\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nAllowTcpForwarding yes\nLogLevel VERBOSE\n",
            self.p(host_key),
            self.p("authorized_keys")
        );
        if let Some(bin) = path {
            if bin == "bin-install" {
                cfg.push_str(&format!("SetEnv PATH={} HOME={} WORKS_DOCKER_HOST=unix://{}\n", self.p(bin), self.p("home"), self.p("no-docker.sock")));
            } else {
                cfg.push_str(&format!("SetEnv PATH={}\n", self.p(bin)));
            }
        }
        let cfg_path = self.p(&format!("{name}.sshd_config"));
        std::fs::write(&cfg_path, cfg).unwrap_or_else(|e| panic!("{e}"));
        let ns = if name == "jump" { &self.ns_jump } else { &self.ns_target };
        must(&["ip", "netns", "exec", ns, "/usr/sbin/sshd", "-f", &cfg_path, "-E", &self.p(&format!("{name}.log"))]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(&pid).exists() {
            assert!(Instant::now() < deadline, "sshd {name} did not start: {}", std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop_sshd(&self, name: &str) {
        let pid_path = self.path(&format!("{name}.pid"));
        if let Ok(pid) = std::fs::read_to_string(&pid_path) {
            let pid = pid.trim().to_owned();
            let _ = run(&["kill", &pid]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = std::fs::remove_file(&pid_path);
        }
    }

    pub fn stop_jumpbox(&self) {
        self.stop_sshd("jump");
    }

    pub fn stop_target(&self, port: u16) {
        self.stop_sshd(&format!("target{port}"));
    }

    /// Restarts the target's sshd on `port` with another host key, as a rebuilt machine would.
    pub fn rebuild_target(&self, port: u16) {
        self.stop_target(port);
        self.start_target(port, "target_host_new");
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        self.stop_agent();
        for name in ["jump", "target22", "target2201", "target2202", "target2203"] {
            self.stop_sshd(name);
        }
        let _ = run(&["ip", "netns", "del", &self.ns_jump]);
        let _ = run(&["ip", "netns", "del", &self.ns_target]);
        let _ = run(&["ip", "link", "del", &self.veth_root]);
        if self.route_added {
            let _ = run(&["ip", "route", "del", "unreachable", &self.target_subnet]);
        }
    }
}

const DOCKER_OK_SCRIPT: &str = r#"#!/bin/sh
# A stand-in for the Docker CLI: an engine that runs an OpenClaw gateway.
case "$1" in
  --version) echo "Docker version 27.5.1, build testbed" ;;
  version) echo "27.5.1" ;;
  ps) printf 'openclaw-gateway\tghcr.io/openclaw/openclaw:2026.1.0\tUp 2 hours\nredis\tredis:7\tUp 2 hours\n' ;;
  *) echo "unsupported" >&2; exit 1 ;;
esac
"#;

const DOCKER_DENIED_SCRIPT: &str = r#"#!/bin/sh
# A stand-in for the Docker CLI of a user outside the docker group.
case "$1" in
  --version) echo "Docker version 27.5.1, build testbed" ;;
  *) echo "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock" >&2; exit 1 ;;
esac
"#;

// --- the log output of the test binary ---

/// Everything logged by this test binary, at every level.
fn logs() -> &'static std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
}

struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What this test binary has logged so far.
pub fn logged() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// Starts capturing this test binary's log output (once; later calls do nothing).
pub fn capture_logs() {
    logs();
}
