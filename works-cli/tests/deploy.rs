//! The self-hosting scripts against a temporary prefix and the real `works` binary:
//! `scripts/deploy` switches `current` only after the new release answered `/readyz`
//! and `/api/v1/version`, and leaves everything alone when it does not; `scripts/rollback`
//! shows what it would do, refuses a wrong confirmation and acts on the exact one.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_works");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scripts").join(name)
}

/// Runs a script with a clean environment: only what a service's shell would have.
fn run(name: &str, args: &[&str], dir: &Path) -> Out {
    let out = Command::new("bash")
        .arg(script(name))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("TMPDIR", dir)
        .current_dir(dir)
        .output()
        .expect("the script could not be run");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn link(prefix: &Path, name: &str) -> Option<String> {
    std::fs::read_link(prefix.join(name)).ok().map(|p| p.to_string_lossy().into_owned())
}

fn restarts(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("restarts")).unwrap_or_default().lines().map(str::to_owned).collect()
}

#[test]
fn deploy_switches_only_after_readiness_and_rollback_needs_the_exact_version() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let prefix = dir.join("opt-works");
    std::fs::create_dir_all(&prefix).unwrap();
    // The settings the service runs with.
    let data = dir.join("data");
    std::fs::write(
        prefix.join("works.env"),
        format!("WORKS_DATA_DIR={}\nWORKS_ADMIN_PASSWORD='a long first admin password'\n", data.display()),
    )
    .unwrap();
    // Two builds' copies of the binary, installed as two releases.
    std::fs::copy(BIN, dir.join("works-a")).unwrap();
    std::fs::copy(BIN, dir.join("works-b")).unwrap();
    let prefix_s = prefix.to_string_lossy().into_owned();
    // The restart command records which release `current` named when it ran.
    let restart = format!("readlink {prefix_s}/current >> {}/restarts", dir.display());
    let deploy = |version: &str, binary: &str, extra: &[&str]| {
        let binary = dir.join(binary).to_string_lossy().into_owned();
        let mut args = vec!["--prefix", &prefix_s, "--version", version, "--binary", &binary, "--restart-command", &restart, "--wait", "60"];
        args.extend_from_slice(extra);
        run("deploy", &args, dir)
    };

    let first = deploy("v1", "works-a", &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("answered /readyz and /api/v1/version"), "{}", first.stdout);
    assert_eq!(link(&prefix, "current").as_deref(), Some("releases/v1"));
    assert!(prefix.join("releases/v1/works").exists() && prefix.join("releases/v1/RELEASE").exists());
    assert_eq!(restarts(dir), ["releases/v1"], "restarted once, after the switch");

    let second = deploy("v2", "works-b", &[]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(link(&prefix, "current").as_deref(), Some("releases/v2"));
    assert_eq!(link(&prefix, "previous").as_deref(), Some("releases/v1"));
    assert_eq!(restarts(dir), ["releases/v1", "releases/v2"]);

    // A release that does not become ready is installed but never switched to: here the
    // real binary, started with settings production refuses.
    std::fs::write(dir.join("bad.env"), format!("WORKS_DATA_DIR={}\nWORKS_ENV=production\n", data.display())).unwrap();
    let bad_env = dir.join("bad.env").to_string_lossy().into_owned();
    let refused = deploy("v3", "works-a", &["--env-file", &bad_env]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(refused.stderr.contains("did not become ready; nothing was switched"), "{}", refused.stderr);
    assert!(refused.stderr.contains("WORKS_MASTER_KEY"), "it shows why:\n{}", refused.stderr);
    assert_eq!(link(&prefix, "current").as_deref(), Some("releases/v2"));
    assert_eq!(restarts(dir).len(), 2, "no restart without readiness");

    // A binary that answers --version but never serves is not switched to either.
    std::fs::write(dir.join("fake"), "#!/bin/sh\necho 'works 9.9.9 (commit fake)'\n").unwrap();
    Command::new("chmod").arg("+x").arg(dir.join("fake")).status().unwrap();
    let fake = deploy("v4", "fake", &["--wait", "3"]);
    assert_ne!(fake.code, 0);
    assert_eq!(link(&prefix, "current").as_deref(), Some("releases/v2"));
    // Another binary under an installed version name is refused.
    let clash = deploy("v1", "fake", &[]);
    assert_ne!(clash.code, 0);
    assert!(clash.stderr.contains("already installed with a different binary"), "{}", clash.stderr);

    // Rollback: shown first, nothing changes.
    let rb = |args: &[&str]| {
        let mut all = vec!["--prefix", prefix_s.as_str(), "--restart-command", restart.as_str()];
        all.extend_from_slice(args);
        run("rollback", &all, dir)
    };
    let shown = rb(&[]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("Current release: v2") && shown.stdout.contains("Rollback target: v1"), "{}", shown.stdout);
    assert!(shown.stdout.contains("--confirm v1") && shown.stdout.contains("Nothing was changed"), "{}", shown.stdout);
    assert_eq!(link(&prefix, "current").as_deref(), Some("releases/v2"));
    assert_eq!(restarts(dir).len(), 2);

    // The wrong version is refused, also the current one and an empty one.
    for wrong in ["v3", "v2", ""] {
        let refused = rb(&["--confirm", wrong]);
        assert_eq!(refused.code, 2, "--confirm {wrong:?}: {}", refused.stdout);
        assert!(refused.stderr.contains("the rollback target is v1; nothing was changed"), "{}", refused.stderr);
        assert_eq!(link(&prefix, "current").as_deref(), Some("releases/v2"));
    }
    assert_eq!(restarts(dir).len(), 2);

    // The right one switches and restarts.
    let done = rb(&["--confirm", "v1"]);
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    assert_eq!(link(&prefix, "current").as_deref(), Some("releases/v1"));
    assert_eq!(link(&prefix, "previous").as_deref(), Some("releases/v2"));
    assert_eq!(restarts(dir), ["releases/v1", "releases/v2", "releases/v1"]);
    // And the installed v1 binary is the one now current.
    let version = Command::new(prefix.join("current/works")).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("works "), "{version:?}");
}
