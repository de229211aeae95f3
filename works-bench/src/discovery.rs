//! `works-bench discovery --hosts N`: discovery across N real `sshd` hosts behind one
//! jumpbox, ours against Ansible's.
//!
//! Builds, in network namespaces (root needed), the same kind of testbed as the access
//! layer's tests (`works-ssh/tests/testbed`): a jumpbox namespace reached from the root
//! namespace over a veth pair, and N target namespaces on a bridge inside the jumpbox's
//! namespace, each with its own `sshd`; the targets are reachable only through the
//! jumpbox. Every target has a Docker stand-in first on its PATH (answers like an engine
//! running an OpenClaw gateway), so nothing touches this machine's Docker.
//!
//! Then it runs, and times from start to the last result:
//! 1. ours: Test Access on all N hosts at once through the core and the OpenSSH adapter
//!    (host keys pinned on first contact, the nine built-in checks, results stored in a
//!    SQLite store);
//! 2. Ansible (`ansible-playbook` from `scripts/bench-ansible-setup`): the same nine
//!    commands as `raw` tasks over the same ProxyJump route, `forks` = N, first contact
//!    too (an empty known-hosts file).
//!
//! It prints hosts per minute for each and, on the last line, the ratio. Everything it
//! made is removed at the end, also when a step fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use works_core::probe::Check;
use works_core::{AttemptStatus, NewHost, NewJumpbox, NewOrg, NewSshCredential, Works};

const DOCKER_STAND_IN: &str = r#"#!/bin/sh
# A stand-in for the Docker CLI: an engine that runs an OpenClaw gateway.
case "$1" in
  --version) echo "Docker version 27.5.1, build bench" ;;
  version) echo "27.5.1" ;;
  ps) printf 'openclaw-gateway\tghcr.io/openclaw/openclaw:2026.1.0\tUp 2 hours\n' ;;
  *) echo "unsupported" >&2; exit 1 ;;
esac
"#;

fn run(args: &[&str]) -> Result<String> {
    let out = Command::new(args[0]).args(&args[1..]).output().with_context(|| format!("{args:?}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr))
    }
}

fn text(p: &Path) -> Result<String> {
    p.to_str().map(str::to_owned).ok_or_else(|| anyhow!("{} is not text", p.display()))
}

/// A jumpbox and N targets in namespaces; removed on drop.
struct Bed {
    dir: tempfile::TempDir,
    tag: String,
    x: u8,
    targets: usize,
    made_namespaces: Vec<String>,
    veth_root: Option<String>,
    route: Option<String>,
    pid_files: Vec<PathBuf>,
}

impl Bed {
    fn ns_jump(&self) -> String {
        format!("wb-{}-j", self.tag)
    }
    fn ns_target(&self, i: usize) -> String {
        format!("wb-{}-t{i}", self.tag)
    }
    fn jump_address(&self) -> String {
        format!("198.18.{}.2", self.x)
    }
    fn target_address(&self, i: usize) -> String {
        format!("198.19.{}.{}", self.x, i + 2)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start(targets: usize) -> Result<Bed> {
        if !Path::new("/usr/sbin/sshd").exists() {
            bail!("sshd is missing: install openssh-server (scripts/install-test-deps)");
        }
        if run(&["id", "-u"])?.trim() != "0" {
            bail!("the discovery benchmark makes network namespaces and needs root");
        }
        let used = run(&["ip", "-o", "route", "show", "table", "all"])?;
        let x = (1..=250u8)
            .map(|i| ((std::process::id() as usize + i as usize * 37) % 250 + 1) as u8)
            .find(|x| !used.contains(&format!("198.18.{x}.")) && !used.contains(&format!("198.19.{x}.")))
            .ok_or_else(|| anyhow!("no free subnet in 198.18.0.0/15"))?;
        let dir = tempfile::Builder::new().prefix("works-bench-ssh-").tempdir()?;
        let mut bed = Bed {
            dir,
            tag: format!("{:x}", std::process::id() & 0xfffff),
            x,
            targets,
            made_namespaces: Vec::new(),
            veth_root: None,
            route: None,
            pid_files: Vec::new(),
        };
        bed.build()?;
        Ok(bed)
    }

    fn build(&mut self) -> Result<()> {
        let x = self.x;
        let nj = self.ns_jump();
        let vr = format!("wb{}r", self.tag);
        let vj = format!("wb{}j", self.tag);
        run(&["ip", "netns", "add", &nj])?;
        self.made_namespaces.push(nj.clone());
        run(&["ip", "link", "add", &vr, "type", "veth", "peer", "name", &vj])?;
        self.veth_root = Some(vr.clone());
        run(&["ip", "link", "set", &vj, "netns", &nj])?;
        run(&["ip", "addr", "add", &format!("198.18.{x}.1/24"), "dev", &vr])?;
        run(&["ip", "link", "set", &vr, "up"])?;
        let inj = |args: &[&str]| {
            let mut all = vec!["ip", "netns", "exec", nj.as_str()];
            all.extend_from_slice(args);
            run(&all)
        };
        inj(&["ip", "addr", "add", &format!("198.18.{x}.2/24"), "dev", &vj])?;
        inj(&["ip", "link", "set", &vj, "up"])?;
        inj(&["ip", "link", "set", "lo", "up"])?;
        inj(&["ip", "link", "add", "br0", "type", "bridge"])?;
        inj(&["ip", "addr", "add", &format!("198.19.{x}.1/24"), "dev", "br0"])?;
        inj(&["ip", "link", "set", "br0", "up"])?;
        for i in 0..self.targets {
            let nt = self.ns_target(i);
            run(&["ip", "netns", "add", &nt])?;
            self.made_namespaces.push(nt.clone());
            let vb = format!("vb{i}");
            let vt = format!("vt{i}");
            inj(&["ip", "link", "add", &vb, "type", "veth", "peer", "name", &vt, "netns", &nt])?;
            inj(&["ip", "link", "set", &vb, "master", "br0"])?;
            inj(&["ip", "link", "set", &vb, "up"])?;
            run(&["ip", "netns", "exec", &nt, "ip", "addr", "add", &format!("{}/24", self.target_address(i)), "dev", &vt])?;
            run(&["ip", "netns", "exec", &nt, "ip", "link", "set", &vt, "up"])?;
            run(&["ip", "netns", "exec", &nt, "ip", "link", "set", "lo", "up"])?;
        }
        let subnet = format!("198.19.{x}.0/24");
        run(&["ip", "route", "add", "unreachable", &subnet])?;
        self.route = Some(subnet);

        std::fs::create_dir_all("/run/sshd")?;
        for key in ["client", "jump_host", "target_host"] {
            let p = text(&self.path(key))?;
            run(&["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", &p])?;
        }
        std::fs::copy(self.path("client.pub"), self.path("authorized_keys"))?;
        let bin = self.path("bin");
        std::fs::create_dir(&bin)?;
        std::fs::write(bin.join("docker"), DOCKER_STAND_IN)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755))?;

        self.start_sshd("jump", &self.ns_jump(), "jump_host")?;
        for i in 0..self.targets {
            self.start_sshd(&format!("target{i}"), &self.ns_target(i), "target_host")?;
        }
        Ok(())
    }

    fn start_sshd(&mut self, name: &str, ns: &str, host_key: &str) -> Result<()> {
        let pid = self.path(&format!("{name}.pid"));
        let cfg = format!(
            "Port 22\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nAllowTcpForwarding yes\nMaxStartups 500\nMaxSessions 100\n\
             SetEnv PATH={}:/usr/bin:/bin\n",
            text(&self.path(host_key))?,
            text(&pid)?,
            text(&self.path("authorized_keys"))?,
            text(&self.path("bin"))?,
        );
        let cfg_path = self.path(&format!("{name}.sshd_config"));
        std::fs::write(&cfg_path, cfg)?;
        run(&["ip", "netns", "exec", ns, "/usr/sbin/sshd", "-f", &text(&cfg_path)?, "-E", &text(&self.path(&format!("{name}.log")))?])?;
        self.pid_files.push(pid.clone());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pid.exists() {
            if Instant::now() > deadline {
                bail!("sshd {name} did not start: {}", std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        for pid_path in &self.pid_files {
            if let Ok(pid) = std::fs::read_to_string(pid_path) {
                let pid = pid.trim();
                if !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()) {
                    let _ = run(&["kill", pid]);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        for ns in self.made_namespaces.iter().rev() {
            let _ = run(&["ip", "netns", "del", ns]);
        }
        if let Some(v) = &self.veth_root {
            let _ = run(&["ip", "link", "del", v]);
        }
        if let Some(r) = &self.route {
            let _ = run(&["ip", "route", "del", "unreachable", r]);
        }
    }
}

/// Ours: Test Access on every host at once; the seconds until the last one ended.
async fn ours(bed: &Bed) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let store = works_store::open(&works_store::sqlite_url_for_dir(dir.path())).await.map_err(|e| anyhow!("{e}"))?;
    let works = Works::new(store).with_master_key(&works_store::testing::test_master_key()).with_access_probe(Arc::new(works_ssh::OpenSshProbe::new()));
    works.bootstrap(Some("benchmark-admin-password".into())).await.map_err(|e| anyhow!("{e}"))?;
    let admin = works.local_actor("admin").await.map_err(|e| anyhow!("{e}"))?;
    let org = works.org_create(&admin, NewOrg { name: "Bench Org".into() }).await.map_err(|e| anyhow!("{e}"))?;
    let key = std::fs::read_to_string(bed.path("client"))?;
    let cred = works.ssh_credential_create(&admin, NewSshCredential { name: "bench-key".into(), private_key: key }).await.map_err(|e| anyhow!("{e}"))?;
    works
        .jumpbox_create(&admin, NewJumpbox { name: "bastion".into(), address: bed.jump_address(), port: None, user: "root".into(), credential_id: cred.id.clone() })
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let mut hosts = Vec::new();
    for i in 0..bed.targets {
        let h = works
            .host_create(
                &admin,
                NewHost {
                    org_id: org.id.clone(),
                    name: format!("bench-{i:04}"),
                    address: bed.target_address(i),
                    port: None,
                    user: "root".into(),
                    credential_id: cred.id.clone(),
                    jumpbox: Some("bastion".into()),
                },
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
        hosts.push(h);
    }

    let started = Instant::now();
    let mut attempts = Vec::new();
    for h in &hosts {
        attempts.push(works.host_test_access(&admin, &h.id).await.map_err(|e| anyhow!("{e}"))?.id);
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut pending = attempts.clone();
    let mut failed = Vec::new();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for id in pending {
            let a = works.access_attempt_get(&admin, &id).await.map_err(|e| anyhow!("{e}"))?;
            match a.status {
                AttemptStatus::Running => still.push(id),
                AttemptStatus::Failed => failed.push(format!("{}: {}", a.host_name, a.reason.unwrap_or_default())),
                AttemptStatus::Succeeded => {}
            }
        }
        pending = still;
        if Instant::now() > deadline {
            bail!("our discovery did not end within 10 minutes");
        }
        if !pending.is_empty() {
            // Often enough to time the end to a tenth of a second, rarely enough not to
            // take processor time from the attempts.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if !failed.is_empty() {
        bail!("our discovery failed on {} host(s): {}", failed.len(), failed.join("; "));
    }
    Ok(secs)
}

/// One argument, quoted for the remote shell.
fn sh_quote(a: &str) -> String {
    if a.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.' | '_')) {
        a.to_owned()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// Ansible: the same commands as raw tasks over the same route; the seconds it took.
fn ansible(bed: &Bed, ansible_dir: &Path) -> Result<f64> {
    let playbook_bin = ansible_dir.join("bin/ansible-playbook");
    if !playbook_bin.exists() {
        bail!("{} is missing: run scripts/bench-ansible-setup {} first", playbook_bin.display(), ansible_dir.display());
    }
    let work = bed.path("ansible");
    std::fs::create_dir(&work)?;
    let ssh_config = work.join("ssh_config");
    std::fs::write(
        &ssh_config,
        format!(
            "Host works-bench-jump\n    HostName {}\n    User root\nHost 198.19.{}.*\n    ProxyJump works-bench-jump\nHost *\n    IdentityFile {}\n    IdentitiesOnly yes\n    \
             IdentityAgent none\n    UserKnownHostsFile {}\n    GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking accept-new\n    BatchMode yes\n    \
             ConnectTimeout 10\n    ForwardAgent no\n",
            bed.jump_address(),
            bed.x,
            text(&bed.path("client"))?,
            text(&work.join("known_hosts"))?,
        ),
    )?;
    let mut inventory = String::from("[targets]\n");
    for i in 0..bed.targets {
        inventory.push_str(&format!("bench-{i:04} ansible_host={}\n", bed.target_address(i)));
    }
    inventory.push_str(&format!("\n[targets:vars]\nansible_user=root\nansible_ssh_common_args=-F {}\n", text(&ssh_config)?));
    std::fs::write(work.join("inventory.ini"), inventory)?;
    let mut playbook = String::from("- hosts: targets\n  gather_facts: false\n  tasks:\n");
    for check in Check::ALL {
        let line = check.argv().iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" ");
        // !unsafe: Ansible must not read the Go templates of the docker checks as its own.
        playbook.push_str(&format!("    - name: {}\n      raw: !unsafe \"{}\"\n", check.as_str(), line.replace('\\', "\\\\").replace('"', "\\\"")));
    }
    std::fs::write(work.join("discovery.yml"), playbook)?;

    let started = Instant::now();
    let out = Command::new(&playbook_bin)
        .arg("-i")
        .arg(work.join("inventory.ini"))
        .arg(work.join("discovery.yml"))
        .arg("--forks")
        .arg(bed.targets.to_string())
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .env("ANSIBLE_LOCAL_TEMP", work.join("tmp"))
        .env("ANSIBLE_SSH_CONTROL_PATH_DIR", work.join("cp"))
        .env("ANSIBLE_CONFIG", work.join("none.cfg"))
        .output()
        .with_context(|| format!("running {}", playbook_bin.display()))?;
    let secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ok_hosts = stdout.lines().filter(|l| l.contains(" ok=9 ") && l.contains("unreachable=0") && l.contains("failed=0")).count();
    if !out.status.success() || ok_hosts != bed.targets {
        bail!("Ansible did not finish on every host ({ok_hosts} of {} ok):\n{stdout}\n{}", bed.targets, String::from_utf8_lossy(&out.stderr));
    }
    Ok(secs)
}

pub async fn discovery(hosts: usize, ansible_dir: PathBuf) -> Result<()> {
    let bed = tokio::task::spawn_blocking(move || Bed::start(hosts)).await??;
    println!("testbed: {hosts} target sshd behind one jumpbox sshd at {}, in network namespaces", bed.jump_address());
    let ours_secs = ours(&bed).await?;
    let ours_rate = hosts as f64 / ours_secs * 60.0;
    println!("works:   {hosts} hosts in {ours_secs:.2} s = {ours_rate:.0} hosts/minute (Test Access: pin keys, 9 checks, results stored)");
    let bed = Arc::new(bed);
    let b = bed.clone();
    let ansible_secs = tokio::task::spawn_blocking(move || ansible(&b, &ansible_dir)).await??;
    let ansible_rate = hosts as f64 / ansible_secs * 60.0;
    println!("ansible: {hosts} hosts in {ansible_secs:.2} s = {ansible_rate:.0} hosts/minute (ansible-playbook, 9 raw tasks, forks={hosts})");
    println!("headline: works = {:.2}x Ansible's hosts per minute over the same ProxyJump route ({hosts} hosts)", ours_rate / ansible_rate);
    Ok(())
}
