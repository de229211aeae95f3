//! The real `works` binary: production start-up refuses each unsafe setting by name and
//! starts with safe ones; `works check` exit codes; backups created, verified,
//! restore-tested and restored through the command line, on SQLite with a server
//! running, and on PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Env, Run, Server, ADMIN_PASSWORD};
use works_core::{Listing, Org};

const GOOD_KEY: &str = "q3Zp8m0Vb1xY7LwR2nKc4tGh9sJd6fEa5uIo0PlMkNw=";
const SAFE_ADMIN_PASSWORD: &str = "vX9!kq2#Lm7pR4zT8wYe";

/// Runs `works serve`, which must end by itself within 30 s (a refusal); a server that
/// keeps running fails the test.
fn serve_refused(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut child = env
        .command()
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("works serve could not be started");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "works {} kept running instead of refusing:\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        what: format!("works {}", args.join(" ")),
    }
}

#[test]
fn production_refuses_each_unsafe_setting_by_name() {
    let env = Env::new();
    let data = env.path("data");
    let data = data.to_string_lossy();
    let base = ["serve", "--env", "production", "--listen", "127.0.0.1:0", "--data-dir", &data];
    let with = |extra: &[&'static str]| -> Vec<String> {
        base.iter().map(|s| s.to_string()).chain(extra.iter().map(|s| s.to_string())).collect()
    };
    let secure = &["--secure-cookies"][..];
    let key = ("WORKS_MASTER_KEY", GOOD_KEY);
    let zeros = "0".repeat(64);
    // (arguments, environment, the setting named, what is said about it)
    type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (with(secure), vec![key, ("WORKS_ADMIN_PASSWORD", "admin")], "WORKS_ADMIN_PASSWORD", "well-known default"),
        (with(secure), vec![key, ("WORKS_ADMIN_PASSWORD", "ChangeMe123!")], "WORKS_ADMIN_PASSWORD", "well-known default"),
        (with(secure), vec![key, ("WORKS_ADMIN_PASSWORD", "Tr0ub4dor&3x")], "WORKS_ADMIN_PASSWORD", "shorter than 16 characters"),
        (with(secure), vec![], "WORKS_MASTER_KEY", "is not set"),
        (with(secure), vec![("WORKS_MASTER_KEY", "changeme")], "WORKS_MASTER_KEY", "placeholder"),
        (with(secure), vec![("WORKS_MASTER_KEY", "c2hvcnQga2V5")], "WORKS_MASTER_KEY", "it must be exactly 32"),
        (with(secure), vec![("WORKS_MASTER_KEY", &zeros)], "WORKS_MASTER_KEY", "all the same"),
        (with(&["--secure-cookies", "--debug"]), vec![key], "WORKS_DEBUG (--debug)", "debug mode is on"),
        (with(secure), vec![key, ("WORKS_DEBUG", "true")], "WORKS_DEBUG (--debug)", "debug mode is on"),
        (with(secure), vec![key, ("RUST_LOG", "debug")], "RUST_LOG", "debug logging"),
        (with(secure), vec![key, ("WORKS_LOG", "info,works=trace")], "WORKS_LOG", "trace logging"),
        (with(&[]), vec![key], "WORKS_SECURE_COOKIES", "not marked Secure"),
    ];
    for (args, envs, setting, problem) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = serve_refused(&env, &args, &envs);
        assert_eq!(run.code, 2, "{envs:?}: exit 2\n{}", run.stderr);
        assert!(run.stderr.contains("will not start in production"), "{envs:?}:\n{}", run.stderr);
        assert!(
            run.stderr.lines().any(|l| l.contains(&format!("✗ {setting}")) && l.contains(problem)),
            "{args:?} {envs:?}: {setting} named with '{problem}':\n{}",
            run.stderr
        );
        assert!(run.stderr.contains("error: env: production refuses to start"), "{}", run.stderr);
        assert!(!run.stdout.contains("is running at"), "{}", run.stdout);
        for (name, value) in &envs {
            if (name.contains("PASSWORD") || name.contains("KEY")) && value.len() >= 8 {
                assert!(!run.stderr.contains(value), "the value of {name} was shown:\n{}", run.stderr);
            }
        }
    }
    assert!(!env.path("data").join("works.db").exists(), "a refused start opens no database");

    // Reachable from other machines without Secure cookies; every problem listed at once.
    let run = serve_refused(
        &env,
        &["serve", "--listen", "0.0.0.0:0", "--data-dir", &data, "--debug"],
        &[("WORKS_ENV", "production"), ("WORKS_ADMIN_PASSWORD", "password"), ("RUST_LOG", "trace")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    for setting in ["WORKS_ADMIN_PASSWORD", "WORKS_MASTER_KEY", "WORKS_DEBUG", "RUST_LOG", "WORKS_SECURE_COOKIES", "WORKS_LISTEN"] {
        assert!(run.stderr.contains(&format!("✗ {setting}")), "{setting} is named:\n{}", run.stderr);
    }
    assert!(run.stderr.contains("the 6 problems above are fixed"), "{}", run.stderr);
    assert!(run.stderr.contains("0.0.0.0:0"), "{}", run.stderr);
}

#[test]
fn production_starts_with_safe_settings_and_staging_only_warns() {
    let env = Env::new();
    let data = env.path("data");
    let data_arg = data.to_string_lossy().into_owned();
    let server = Server::start_args(
        &env,
        &["serve", "--env", "production", "--listen", "127.0.0.1:0", "--secure-cookies", "--data-dir", &data_arg],
        &[("WORKS_MASTER_KEY", GOOD_KEY), ("WORKS_ADMIN_PASSWORD", SAFE_ADMIN_PASSWORD), ("WORKS_LOG", "info")],
    );
    assert!(server.banner.contains("with the password from WORKS_ADMIN_PASSWORD"), "{}", server.banner);
    let ready = status_of(&format!("{}/readyz", server.url));
    assert_eq!(ready, 200, "the production server answers /readyz");
    assert!(!server.log_text().contains("refused in production"), "{}", server.log_text());
    let (status, _) = server.stop();
    assert!(status.success(), "{status}");

    // Staging starts with the same unsafe settings production refuses, and says so.
    let staging = Server::start_args(
        &env,
        &["serve", "--env", "staging", "--listen", "127.0.0.1:0", "--data-dir", &data_arg],
        &[("RUST_LOG", "debug")],
    );
    let log = staging.log_text();
    assert!(log.contains("warning: these settings would be refused in production (staging)"), "{log}");
    assert!(log.contains("! WORKS_MASTER_KEY") && log.contains("! RUST_LOG") && log.contains("! WORKS_SECURE_COOKIES"), "{log}");
    staging.stop();

    // Local says nothing.
    let local = Server::start_args(&env, &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_arg], &[]);
    assert!(!local.log_text().contains("refused in production"), "{}", local.log_text());
    local.stop();
}

/// The status of a GET, or 0 when nothing answers.
fn status_of(url: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async { reqwest::get(url).await.map(|r| r.status().as_u16()).unwrap_or(0) })
}

fn check(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    env.run_with(&all, envs, None)
}

#[test]
fn check_exits_0_when_ready_1_with_warnings_and_2_with_failures() {
    let env = Env::new();
    let key = ("WORKS_MASTER_KEY", GOOD_KEY);

    let before = check(&env, &["--secure-cookies"], &[key]);
    assert_eq!(before.code, 1, "no database yet is a warning:\n{}", before.stdout);
    assert!(before.stdout.contains("! Database: there is no SQLite database at"), "{}", before.stdout);
    assert!(!env.path("works-data").join("works.db").exists(), "works check creates no database");

    env.run_with(&["org", "list"], &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)], None).ok();
    let ready = check(&env, &["--secure-cookies"], &[key]);
    assert_eq!(ready.code, 0, "{}", ready.stdout);
    for line in ["✓ Configuration", "✓ Database: SQLite at", "✓ Migrations: all", "✓ Master key", "Ready: every check passed."] {
        assert!(ready.stdout.contains(line), "{line}:\n{}", ready.stdout);
    }

    let warned = check(&env, &[], &[]);
    assert_eq!(warned.code, 1, "{}", warned.stdout);
    assert!(warned.stdout.contains("! Master key: WORKS_MASTER_KEY is not set (production requires it)."), "{}", warned.stdout);
    assert!(warned.stdout.contains("! Configuration: WORKS_SECURE_COOKIES"), "{}", warned.stdout);
    assert!(warned.stdout.contains("    next: "), "each problem says what to do:\n{}", warned.stdout);

    let failed = check(&env, &["--env", "production"], &[("WORKS_MASTER_KEY", "changeme")]);
    assert_eq!(failed.code, 2, "{}", failed.stdout);
    assert!(failed.stdout.contains("✗ Master key: WORKS_MASTER_KEY looks like a placeholder"), "{}", failed.stdout);
    assert!(failed.stdout.contains("✗ Configuration: WORKS_SECURE_COOKIES"), "{}", failed.stdout);
    assert!(failed.stdout.contains("Not ready"), "{}", failed.stdout);

    let unreachable = check(&env, &["--secure-cookies", "--database", "postgres://works:pw@127.0.0.1:1/works"], &[key]);
    assert_eq!(unreachable.code, 2, "{}", unreachable.stdout);
    assert!(unreachable.stdout.contains("✗ Database: cannot be reached"), "{}", unreachable.stdout);
    assert!(!unreachable.stdout.contains(":pw@"), "the password is never shown:\n{}", unreachable.stdout);

    let json = check(&env, &["--json", "--env", "production", "--secure-cookies"], &[key]);
    assert_eq!(json.code, 0, "{}", json.stdout);
    let report = json.json();
    assert_eq!(report["status"], "ok");
    assert_eq!(report["environment"], "production");
    let names: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    assert_eq!(names, ["configuration", "database", "migrations", "master_key", "openclaw"]);

    let image = check(&env, &["--secure-cookies"], &[key, ("WORKS_OPENCLAW_IMAGE", "registry.example.net/oc/openclaw")]);
    assert!(image.stdout.contains("✓ OpenClaw bundle: deploys registry.example.net/oc/openclaw:"), "{}", image.stdout);
    let tagged = check(&env, &["--secure-cookies"], &[key, ("WORKS_OPENCLAW_IMAGE", "registry.example.net/oc/openclaw:latest")]);
    assert_eq!(tagged.code, 2, "{}", tagged.stdout);
    assert!(tagged.stdout.contains("✗ OpenClaw bundle: the image is not usable"), "{}", tagged.stdout);
}

fn backups_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|e| e.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| !n.ends_with(".manifest.json"));
    names.sort();
    names
}

/// The path a line of output starting with `prefix` names.
fn path_after(text: &str, prefix: &str) -> PathBuf {
    let line = text.lines().find_map(|l| l.trim().strip_prefix(prefix)).unwrap_or_else(|| panic!("no '{prefix}' in:\n{text}"));
    PathBuf::from(line.trim())
}

fn org_names(env: &Env, db: &[&str]) -> Vec<String> {
    let mut args = db.to_vec();
    args.extend_from_slice(&["--json", "org", "list"]);
    let listing: Listing<Org> = env.run_with(&args, &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)], None).ok().typed();
    listing.items.into_iter().map(|o| o.name).collect()
}

#[test]
fn sqlite_backups_through_the_cli_with_a_server_running() {
    let env = Env::new();
    let data = env.path("data");
    let data_arg = data.to_string_lossy().into_owned();
    let db = ["--data-dir", data_arg.as_str()];
    let admin = [("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)];
    for name in ["Acme", "Globex"] {
        env.run_with(&["--data-dir", &data_arg, "org", "create", name], &admin, None).ok();
    }
    let server = Server::start(&env, &data, &admin);

    // An online backup while the server runs.
    let created = env.run(&["--data-dir", &data_arg, "backup", "create"]).ok();
    let file = path_after(&created.stdout, "Backed up the database to ");
    assert!(file.starts_with(data.join("backups")), "{}", file.display());
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(created.stdout.contains("Recorded in the audit log as record"), "{}", created.stdout);
    let file_arg = file.to_string_lossy().into_owned();
    env.run_with(&["--data-dir", &data_arg, "org", "create", "Initech"], &admin, None).ok();

    let verified = env.run(&["--data-dir", &data_arg, "backup", "verify", &file_arg]).ok();
    assert!(verified.stdout.contains("is intact") && verified.stdout.contains("integrity check"), "{}", verified.stdout);
    let tested = env.run(&["--data-dir", &data_arg, "backup", "restore-test", &file_arg]).ok();
    assert!(tested.stdout.contains("Nothing live was touched"), "{}", tested.stdout);
    assert!(tested.stdout.contains("hash chain is intact"), "{}", tested.stdout);

    // No confirmation, or the wrong one: refused with what to type.
    let refused = env.run(&["--data-dir", &data_arg, "backup", "restore", &file_arg]).fails_with(2);
    assert!(refused.stderr.contains(&format!("--confirm {name}")), "{}", refused.stderr);
    let wrong = env.run(&["--data-dir", &data_arg, "backup", "restore", &file_arg, "--confirm", "yes"]).fails_with(2);
    assert!(wrong.stderr.contains("is not the backup's file name"), "{}", wrong.stderr);

    // Confirmed, but the server has the database open.
    let busy = env.run(&["--data-dir", &data_arg, "backup", "restore", &file_arg, "--confirm", &name]).fails_with(5);
    assert!(busy.stderr.contains("is in use") && busy.stderr.contains("Stop the server"), "{}", busy.stderr);
    assert_eq!(backups_in(&data.join("backups")), vec![name.clone()], "no safety backup for a refused restore");
    assert_eq!(org_names(&env, &db), ["Acme", "Globex", "Initech"], "nothing was restored");

    // A damaged copy is found, and refused.
    let damaged = env.path("damaged.sqlite.gz");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&damaged, &bytes).unwrap();
    std::fs::copy(format!("{file_arg}.manifest.json"), env.path("damaged.sqlite.gz.manifest.json")).unwrap();
    let damaged_arg = damaged.to_string_lossy().into_owned();
    let bad = env.run(&["--data-dir", &data_arg, "backup", "verify", &damaged_arg]).fails_with(2);
    assert!(bad.stderr.contains("is damaged: its SHA-256 does not match the manifest"), "{}", bad.stderr);
    server.stop();
    let bad = env
        .run(&["--data-dir", &data_arg, "backup", "restore", &damaged_arg, "--confirm", "damaged.sqlite.gz"])
        .fails_with(2);
    assert!(bad.stderr.contains("Nothing was restored"), "{}", bad.stderr);
    assert_eq!(org_names(&env, &db), ["Acme", "Globex", "Initech"]);

    // The server is stopped: the restore goes ahead, after a safety backup.
    let restored = env.run(&["--data-dir", &data_arg, "backup", "restore", &file_arg, "--confirm", &name]).ok();
    let safety = path_after(&restored.stdout, "Saved the database as it was before the restore to ");
    assert!(safety.is_file(), "{}", safety.display());
    assert!(restored.stdout.contains(&format!("--confirm {}", safety.file_name().unwrap().to_string_lossy())), "{}", restored.stdout);
    assert_eq!(org_names(&env, &db), ["Acme", "Globex"], "the database is as it was at the backup");
    let audit = env.run_with(&["--data-dir", &data_arg, "--json", "audit", "--action", "backup."], &admin, None).ok().json();
    assert_eq!(audit["records"][0]["action"], "backup.restore", "{audit}");

    // Rolling back is restoring the safety backup.
    let safety_arg = safety.to_string_lossy().into_owned();
    let safety_name = safety.file_name().unwrap().to_string_lossy().into_owned();
    env.run(&["--data-dir", &data_arg, "backup", "restore", &safety_arg, "--confirm", &safety_name]).ok();
    assert_eq!(org_names(&env, &db), ["Acme", "Globex", "Initech"], "the safety backup brings back what was replaced");

    // Retention: the newest stays.
    let listed = env.run(&["--data-dir", &data_arg, "backup", "list"]).ok();
    assert!(listed.stdout.contains(&name) && listed.stdout.contains(&safety_name), "{}", listed.stdout);
    let all = backups_in(&data.join("backups"));
    assert_eq!(all.len(), 3, "{all:?}");
    let pruned = env.run(&["--data-dir", &data_arg, "backup", "prune", "--keep", "1"]).ok();
    assert!(pruned.stdout.contains("removed 2 backup(s), kept 1"), "{}", pruned.stdout);
    let left = backups_in(&data.join("backups"));
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("-safety-"), "the newest (the second safety backup) is kept: {left:?}");
    let created = env.run_with(&["--data-dir", &data_arg, "backup", "create"], &[("WORKS_BACKUP_KEEP", "1")], None).ok();
    assert!(created.stdout.contains("Retention (keep the newest 1): removed 1 backup(s), kept 1"), "{}", created.stdout);
    let newest = path_after(&created.stdout, "Backed up the database to ");
    assert_eq!(backups_in(&data.join("backups")), vec![newest.file_name().unwrap().to_string_lossy().into_owned()]);
    let none = env.run(&["--data-dir", &data_arg, "backup", "prune"]).fails_with(2);
    assert!(none.stderr.contains("--keep N, --max-age-days DAYS"), "{}", none.stderr);
}

#[test]
fn postgres_backups_through_the_cli() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let Some((store, url)) = rt.block_on(works_store::testing::fresh_postgres()) else {
        eprintln!("WORKS_TEST_POSTGRES_URL is not set: PostgreSQL is skipped");
        return;
    };
    drop(store);
    drop(rt);
    let env = Env::new();
    let db = ["--database", url.as_str()];
    let admin = [("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)];
    for name in ["Acme", "Globex"] {
        env.run_with(&["--database", &url, "org", "create", name], &admin, None).ok();
    }
    let dir = env.path("pg-backups");
    let dir_arg = dir.to_string_lossy().into_owned();
    let created = env.run(&["--database", &url, "backup", "create", "--dir", &dir_arg]).ok();
    let file = path_after(&created.stdout, "Backed up the database to ");
    let file_arg = file.to_string_lossy().into_owned();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("works-postgres-") && name.ends_with(".pgdump"), "{name}");
    env.run_with(&["--database", &url, "org", "create", "Initech"], &admin, None).ok();

    let verified = env.run(&["--database", &url, "backup", "verify", &file_arg]).ok();
    assert!(verified.stdout.contains("pg_restore reads its table of contents"), "{}", verified.stdout);
    let tested = env.run(&["--database", &url, "--json", "backup", "restore-test", &file_arg]).ok().json();
    assert_eq!(tested["audit_chain"]["intact"], true, "{tested}");
    assert_eq!(org_names(&env, &db), ["Acme", "Globex", "Initech"], "the restore test touched nothing live");

    let refused = env.run(&["--database", &url, "backup", "restore", &file_arg]).fails_with(2);
    assert!(refused.stderr.contains(&format!("--confirm {name}")), "{}", refused.stderr);
    let restored = env
        .run(&["--database", &url, "backup", "restore", &file_arg, "--confirm", &name, "--dir", &dir_arg])
        .ok();
    let safety = path_after(&restored.stdout, "Saved the database as it was before the restore to ");
    assert!(safety.is_file() && safety.starts_with(&dir), "{}", safety.display());
    assert_eq!(org_names(&env, &db), ["Acme", "Globex"], "the database is as it was at the backup");
    let audit = env.run_with(&["--database", &url, "--json", "audit", "--action", "backup."], &admin, None).ok().json();
    assert_eq!(audit["records"][0]["action"], "backup.restore", "{audit}");
}
