//! Errors: plain messages with the next step, and exit codes by kind — the same embedded
//! and remote. Version: `works --version` and `GET /api/v1/version`.

mod common;

use common::{Env, Server, ADMIN_PASSWORD};
use works_core::{Org, User};

const MISSING_ID: &str = "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff";

/// Checks every error case through one mode (remote or embedded), acting as the admin
/// with `admin` and as an organization user with `org_user`.
fn error_cases(admin: &dyn Fn(&[&str]) -> common::Run, org_user: &dyn Fn(&[&str]) -> common::Run) {
    let bad = admin(&["org", "create", ""]).fails_with(2);
    assert!(bad.stderr.starts_with("error: name: must not be empty\n"), "{}", bad.stderr);
    assert!(bad.stderr.contains("\n  next: Correct the named field and try again.\n"), "{}", bad.stderr);
    assert!(bad.stderr.contains("\n  field: name\n"), "{}", bad.stderr);

    let role = admin(&["user", "create", "--username", "zed", "--role", "boss", "--password-stdin"]).fails_with(2);
    assert!(role.stderr.contains("field: role"), "{}", role.stderr);

    let missing = admin(&["org", "get", MISSING_ID]).fails_with(3);
    assert!(
        missing.stderr.starts_with(&format!("error: No organization with id {MISSING_ID} exists, or you do not have access to it.")),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("next: Check the id"), "{}", missing.stderr);
    admin(&["user", "disable", MISSING_ID]).fails_with(3);
    admin(&["token", "revoke", "not-an-id"]).fails_with(3);

    let denied = org_user(&["org", "create", "Mine Now"]).fails_with(4);
    assert!(denied.stderr.contains("Only an MSP admin can create"), "{}", denied.stderr);
    // Another tenant's record is answered as missing.
    let org: Org = admin(&["--json", "org", "create", "Other Tenant"]).ok().typed();
    org_user(&["org", "get", &org.id]).fails_with(3);

    admin(&["org", "archive", &org.id]).ok();
    let twice = admin(&["org", "archive", &org.id]).fails_with(5);
    assert!(twice.stderr.contains("already archived"), "{}", twice.stderr);

    admin(&["audit", "--since", "yesterday"]).fails_with(2);
    admin(&["audit", "--outcome", "maybe"]).fails_with(2);
    admin(&["org", "list", "--limit", "0"]).fails_with(2);
    admin(&["org", "frobnicate"]).fails_with(2);
    org_user(&["audit", "verify"]).fails_with(4);
}

/// An organization with an org_user `bob` in it; returns bob.
fn make_bob(admin: &dyn Fn(&[&str]) -> common::Run, stdin_run: &dyn Fn(&[&str], &str) -> common::Run) -> User {
    let org: Org = admin(&["--json", "org", "create", "Bob's Org"]).ok().typed();
    stdin_run(
        &["--json", "user", "create", "--username", "bob", "--role", "org_user", "--org", &org.id, "--password-stdin"],
        "bob's long password\n",
    )
    .ok()
    .typed()
}

#[test]
fn embedded_errors_have_plain_messages_and_exit_codes() {
    let env = Env::new();
    let db = format!("sqlite://{}/works.db", env.dir.path().display());
    let envs = [("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)];
    let admin = |args: &[&str]| env.run_with(&[&["--database", db.as_str()], args].concat(), &envs, None);
    let stdin_run =
        |args: &[&str], input: &str| env.run_with(&[&["--database", db.as_str()], args].concat(), &envs, Some(input));
    make_bob(&admin, &stdin_run);
    let bob = |args: &[&str]| env.run_with(&[&["--database", db.as_str(), "--as", "bob"], args].concat(), &envs, None);
    error_cases(&admin, &bob);

    let nobody = env.run_with(&["--database", &db, "--as", "nobody", "whoami"], &envs, None).fails_with(2);
    assert!(nobody.stderr.contains("no user named nobody exists"), "{}", nobody.stderr);
    let unusable = env.run(&["--database", "mysql://x", "org", "list"]).fails_with(2);
    assert!(unusable.stderr.contains("field: database"), "{}", unusable.stderr);
}

#[test]
fn remote_errors_have_the_same_messages_and_exit_codes() {
    let env = Env::new();
    let server = Server::start(&env, &env.path("data"), &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let url = server.url.clone();
    env.run_with(&["--server", &url, "login", "--username", "admin"], &[("WORKS_PASSWORD", ADMIN_PASSWORD)], None).ok();
    let admin = |args: &[&str]| env.run(&[&["--server", url.as_str()], args].concat());
    let stdin_run = |args: &[&str], input: &str| env.run_with(&[&["--server", url.as_str()], args].concat(), &[], Some(input));
    make_bob(&admin, &stdin_run);

    // Bob signs in from his own shell, with his own saved sign-in.
    let bob_env = Env::new();
    bob_env
        .run_with(&["--server", &url, "login", "-u", "bob", "--password-stdin"], &[], Some("bob's long password\n"))
        .ok();
    let bob = |args: &[&str]| bob_env.run(&[&["--server", url.as_str()], args].concat());
    error_cases(&admin, &bob);

    let local_only = env.run(&["--server", &url, "--as", "bob", "whoami"]).fails_with(2);
    assert!(local_only.stderr.contains("field: as"), "{}", local_only.stderr);
    let both = env.run(&["--server", &url, "--database", "sqlite://x.db", "whoami"]).fails_with(2);
    assert!(both.stderr.contains("field: server"), "{}", both.stderr);

    // Nothing listens on a port that was just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9);
    let gone = format!("http://127.0.0.1:{port}");
    let down = env.run_with(&["--server", &gone, "org", "list"], &[("WORKS_TOKEN", "wkt_whatever")], None).fails_with(6);
    assert!(
        down.stderr.starts_with(&format!("error: Cannot reach the Anthropy Works server at {gone}: ")),
        "{}",
        down.stderr
    );
    let not_signed_in = Env::new().run(&["--server", &url, "whoami"]).fails_with(4);
    assert!(not_signed_in.stderr.contains(&format!("works login --server {url}")), "{}", not_signed_in.stderr);
}

#[test]
fn the_version_names_the_commit_from_anthropy_version() {
    let env = Env::new();
    let plain = env.run(&["--version"]).ok();
    assert!(plain.stdout.starts_with(&format!("works {} (commit ", env!("CARGO_PKG_VERSION"))), "{}", plain.stdout);
    assert!(!plain.stdout.contains("(commit )"), "{}", plain.stdout);

    let marked = [("ANTHROPY_VERSION", "test-commit-42")];
    let v = env.run_with(&["--version"], &marked, None).ok();
    assert_eq!(v.stdout.trim(), format!("works {} (commit test-commit-42)", env!("CARGO_PKG_VERSION")));

    let server = Server::start(
        &env,
        &env.path("data"),
        &[("ANTHROPY_VERSION", "test-commit-42"), ("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let answer: serde_json::Value = runtime.block_on(async {
        let response = reqwest::get(format!("{}/api/v1/version", server.url)).await.expect("GET /api/v1/version");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.expect("JSON")
    });
    assert_eq!(answer, serde_json::json!({"version": env!("CARGO_PKG_VERSION"), "commit": "test-commit-42"}));
}

#[test]
fn help_does_not_show_a_database_password_from_the_environment() {
    let env = Env::new();
    let secret = [("WORKS_DATABASE_URL", "postgres://works:topsecret-pw@127.0.0.1:1/works")];
    for args in [&["--help"][..], &["org", "list", "--help"][..], &["serve", "--help"][..]] {
        let help = env.run_with(args, &secret, None).ok();
        assert!(help.stdout.contains("--database <URL>"), "{}", help.stdout);
        assert!(!help.stdout.contains("topsecret-pw"), "{}", help.stdout);
    }
}
