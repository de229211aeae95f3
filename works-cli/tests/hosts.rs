//! `works ssh-credential`, `works jumpbox` and `works host` as real processes, against a
//! running server (remote) and the same database opened directly (embedded). Test
//! Access is real: aimed at a closed port on loopback, it fails as "connection refused"
//! with a plain reason and the exit code of a failure. The private key shows in no
//! output and not in the server's log.

mod common;

use common::{Env, Server, ADMIN_PASSWORD};
use works_core::{Actor, Host, NewOrg, SshCredential, Works};

fn keygen(env: &Env) -> (std::path::PathBuf, String) {
    let path = env.path("msp_key");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("ssh-keygen is needed (openssh-client): {e}"));
    assert!(out.status.success());
    let key = std::fs::read_to_string(&path).unwrap();
    (path, key)
}

fn org(database: &str) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let works = Works::new(works_store::open(database).await.unwrap());
        works.org_create(&Actor::system(), NewOrg { name: "Acme Dental".into() }).await.unwrap().id
    })
}

fn story(env: &Env, mode: &[&str], tag: &str, org: &str, key_file: &str, key: &str) {
    let run = |args: &[&str]| env.run(&[mode, args].concat());
    let key_lines: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----") && l.len() > 20).collect();
    let mut outputs = Vec::new();

    let added = run(&["ssh-credential", "add", "--name", &format!("key-{tag}"), "--key-file", key_file]).ok();
    assert!(added.stdout.contains("SHA256:") && added.stdout.contains("ssh-ed25519"), "{}", added.stdout);
    outputs.push(added.stdout.clone());
    let listing = run(&["--json", "ssh-credential", "list"]).ok();
    outputs.push(listing.stdout.clone());
    let creds: works_core::Listing<SshCredential> = listing.typed();
    let cred = creds.items.iter().find(|c| c.name == format!("key-{tag}")).unwrap().id.clone();

    run(&["jumpbox", "add", "--name", &format!("bastion-{tag}"), "--address", "127.0.0.1", "--port", "1", "--user", "root", "--credential", &cred]).ok();
    let bad = run(&["host", "add", "--org", org, "--name", "web", "--address", "127.0.0.1", "--user=-oProxyCommand=touch /tmp/works-pwned", "--credential", &cred]).fails_with(2);
    assert!(bad.stderr.contains("field: user") && bad.stderr.contains("option"), "{}", bad.stderr);
    let host: Host = run(&["--json", "host", "add", "--org", org, "--name", &format!("web-{tag}"), "--address", "127.0.0.1", "--port", "1", "--user", "root", "--credential", &cred])
        .ok()
        .typed();

    let failed = run(&["host", "test-access", &host.id, "--technical"]).fails_with(5);
    assert!(failed.stderr.contains("refused the connection"), "{}", failed.stderr);
    assert!(failed.stderr.contains("Transcript:") && failed.stderr.contains("Technical details:"), "{}", failed.stderr);
    outputs.push(failed.stderr.clone());
    let attempts = run(&["host", "attempts", "--host", &host.id]).ok();
    assert!(attempts.stdout.contains("connection_refused") && attempts.stdout.contains("failed"), "{}", attempts.stdout);
    let not_yet = run(&["host", "register", &host.id]).fails_with(5);
    assert!(not_yet.stderr.contains("has not passed Test Access"), "{}", not_yet.stderr);
    let shown = run(&["host", "get", &host.id]).ok();
    assert!(shown.stdout.contains("not pinned yet"), "{}", shown.stdout);

    // Editing and deleting.
    let bad = run(&["host", "update", &host.id, "--address=$(touch /tmp/works-pwned)"]).fails_with(2);
    assert!(bad.stderr.contains("field: address"), "{}", bad.stderr);
    let changed = run(&["host", "update", &host.id, "--name", &format!("web-{tag}-2"), "--jumpbox", &format!("bastion-{tag}")]).ok();
    assert!(changed.stdout.contains("Changed.") && changed.stdout.contains(&format!("web-{tag}-2")), "{}", changed.stdout);
    let jumpboxes: works_core::Listing<works_core::Jumpbox> = run(&["--json", "jumpbox", "list"]).ok().typed();
    let jb = jumpboxes.items.iter().find(|j| j.name == format!("bastion-{tag}")).unwrap().id.clone();
    let in_use = run(&["jumpbox", "delete", &jb]).fails_with(5);
    assert!(in_use.stderr.contains(&format!("web-{tag}-2")) && in_use.stderr.contains("another route"), "{}", in_use.stderr);
    let moved = run(&["jumpbox", "update", &jb, "--port", "2222"]).ok();
    assert!(moved.stdout.contains("127.0.0.1:2222"), "{}", moved.stdout);
    // This server was started without an address for agents.
    let install = run(&["host", "install-agent", &host.id]).fails_with(5);
    assert!(install.stderr.contains("WORKS_AGENT_SERVER_URL"), "{}", install.stderr);
    run(&["host", "update", &host.id, "--jumpbox", ""]).ok();
    run(&["host", "delete", &host.id]).ok();
    run(&["host", "get", &host.id]).fails_with(3);
    run(&["jumpbox", "delete", &jb]).ok();

    for text in outputs {
        for l in &key_lines {
            assert!(!text.contains(l), "a private key line shows in the output");
        }
    }
}

#[test]
fn access_commands_answer_the_same_remote_and_embedded() {
    let env = Env::new();
    let data = env.path("data");
    let server = Server::start(&env, &data, &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let database = format!("sqlite://{}/works.db", data.display());
    let org = org(&database);
    let (key_file, key) = keygen(&env);
    let key_file = key_file.to_string_lossy().into_owned();
    env.run_with(&["--server", &server.url, "login", "--username", "admin"], &[("WORKS_PASSWORD", ADMIN_PASSWORD)], None).ok();

    story(&env, &["--server", &server.url], "remote", &org, &key_file, &key);
    story(&env, &["--database", &database], "local", &org, &key_file, &key);

    let log = server.log_text();
    for l in key.lines().filter(|l| !l.starts_with("-----") && l.len() > 20) {
        assert!(!log.contains(l), "a private key line shows in the server log");
    }
    let _ = server.stop();
}
