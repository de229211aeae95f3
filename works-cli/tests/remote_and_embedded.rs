//! The same commands against a running server (remote) and against the database opened
//! directly (embedded) give the same JSON.

mod common;

use std::collections::BTreeMap;

use common::{shape, Env, Server, ADMIN_PASSWORD};
use serde_json::Value;
use works_core::{
    ApiToken, AuditPage, AuditVerification, CreatedToken, Listing, Org, PasswordReset, Role, User,
};

/// Runs one command sequence through `mode` (the flags that pick remote or embedded)
/// and returns each step's JSON, checking the values on the way.
fn scenario(env: &Env, mode: &[&str], tag: &str) -> BTreeMap<&'static str, Value> {
    let mut out = BTreeMap::new();
    let run = |args: &[&str]| env.run(&[mode, args, &["--json"]].concat()).ok();
    let run_with = |args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>| {
        env.run_with(&[mode, args, &["--json"]].concat(), envs, stdin).ok()
    };

    let me: User = run(&["whoami"]).typed();
    assert_eq!((me.username.as_str(), me.role), ("admin", Role::MspAdmin));
    out.insert("whoami", run(&["whoami"]).json());

    let name = format!("{tag} Dental");
    let created = run(&["org", "create", &name]);
    let org: Org = created.typed();
    assert_eq!(org.name, name);
    assert!(org.archived_at.is_none());
    out.insert("org create", created.json());

    let listed = run(&["org", "list"]);
    let orgs: Listing<Org> = listed.typed();
    assert!(orgs.items.iter().any(|o| o.id == org.id), "{orgs:?}");
    assert_eq!(orgs.next_offset, None);
    out.insert("org list", listed.json());

    let got = run(&["org", "get", &org.id]);
    let fetched: Org = got.typed();
    assert_eq!((fetched.id.as_str(), fetched.name.as_str()), (org.id.as_str(), org.name.as_str()));
    out.insert("org get", got.json());

    let renamed = run(&["org", "rename", &org.id, &format!("{tag} Dental Care")]);
    assert_eq!(renamed.typed::<Org>().name, format!("{tag} Dental Care"));
    out.insert("org rename", renamed.json());

    let username = format!("{}-dana", tag.to_lowercase());
    let user_created = run_with(
        &["user", "create", "--username", &username, "--role", "org_admin", "--org", &org.id, "--display-name", "Dana"],
        &[("WORKS_NEW_PASSWORD", "dana's long password")],
        None,
    );
    let dana: User = user_created.typed();
    assert_eq!((dana.username.as_str(), dana.role, dana.org_id.as_deref()), (username.as_str(), Role::OrgAdmin, Some(org.id.as_str())));
    out.insert("user create", user_created.json());

    // A second user, its password read from standard input.
    let piped = run_with(
        &["user", "create", "--username", &format!("{username}-2"), "--role", "org_user", "--org", &org.id, "--password-stdin"],
        &[],
        Some("another long password\n"),
    );
    assert_eq!(piped.typed::<User>().role, Role::OrgUser);

    let users = run(&["user", "list", "--org", &org.id]);
    let listing: Listing<User> = users.typed();
    assert_eq!(listing.items.len(), 2, "{listing:?}");
    out.insert("user list", users.json());

    let limited: Listing<User> = run(&["user", "list", "--limit", "1"]).typed();
    assert_eq!(limited.items.len(), 1);
    assert_eq!(limited.next_offset, Some(1), "a limited list says that more follow");

    let updated = run(&["user", "update", &dana.id, "--display-name", "Dana Reyes"]);
    assert_eq!(updated.typed::<User>().display_name, "Dana Reyes");
    out.insert("user update", updated.json());

    assert!(run(&["user", "disable", &dana.id]).typed::<User>().disabled);
    let enabled = run(&["user", "enable", &dana.id]);
    assert!(!enabled.typed::<User>().disabled);
    out.insert("user enable", enabled.json());

    let reset = run(&["user", "reset-password", &dana.id]);
    let reset_value: PasswordReset = reset.typed();
    assert!(reset_value.generated_password.as_deref().is_some_and(|p| p.len() >= 10));
    out.insert("user reset-password", reset.json());

    let token = run(&["token", "create", &format!("{tag} nightly"), "--expires-in-days", "30"]);
    let created_token: CreatedToken = token.typed();
    assert!(created_token.token.starts_with("wkt_"));
    assert!(created_token.info.expires_at.is_some());
    out.insert("token create", token.json());

    let tokens = run(&["token", "list"]);
    let token_list: Listing<ApiToken> = tokens.typed();
    assert!(token_list.items.iter().any(|t| t.id == created_token.info.id));
    assert!(!tokens.stdout.contains(&created_token.token), "a token list must not show secrets");
    out.insert("token list", tokens.json());

    let revoked = run(&["token", "revoke", &created_token.info.id]);
    assert!(revoked.typed::<ApiToken>().revoked_at.is_some());
    out.insert("token revoke", revoked.json());

    let audit = run(&["audit", "--limit", "5"]);
    let page: AuditPage = audit.typed();
    assert_eq!(page.records.len(), 5);
    assert_eq!(page.records[0].action, "token.revoke", "newest first");
    assert!(page.next_before.is_some());
    out.insert("audit", audit.json());

    let orgs_only: AuditPage = run(&["audit", "--action", "org.", "--outcome", "succeeded"]).typed();
    assert!(orgs_only.records.iter().all(|r| r.action.starts_with("org.")), "{orgs_only:?}");
    assert!(orgs_only.records.iter().any(|r| r.action == "org.rename" && r.target_id.as_deref() == Some(org.id.as_str())));

    let older: AuditPage = run(&["audit", "--before", &page.records[4].seq.to_string(), "--limit", "1"]).typed();
    assert_eq!(older.records[0].seq, page.records[4].seq - 1);

    let verify = run(&["audit", "verify"]);
    let v: AuditVerification = verify.typed();
    assert!(v.intact, "{v:?}");
    out.insert("audit verify", verify.json());

    let archived = run(&["org", "archive", &org.id]);
    assert!(archived.typed::<Org>().archived_at.is_some());
    out.insert("org archive", archived.json());
    let without: Listing<Org> = run(&["org", "list"]).typed();
    assert!(without.items.iter().all(|o| o.id != org.id));
    let with: Listing<Org> = run(&["org", "list", "--include-archived"]).typed();
    assert!(with.items.iter().any(|o| o.id == org.id));

    out.insert("org id", Value::from(org.id));
    out
}

/// Runs the scenario through a server started with `serve_args`, then embedded on
/// `database` (the same database), and compares.
fn parity(env: &Env, serve_args: &[&str], database: &str) {
    let args = [&["serve", "--listen", "127.0.0.1:0"], serve_args].concat();
    let server = Server::start_args(env, &args, &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    assert!(server.banner.contains("with the password from WORKS_ADMIN_PASSWORD"), "{}", server.banner);
    assert!(!server.banner.contains(ADMIN_PASSWORD), "the given password must not be printed");

    let login = env.run_with(
        &["--server", &server.url, "login", "--username", "admin", "--password-stdin"],
        &[],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    let login = login.ok();
    assert!(login.stdout.contains("Signed in to"), "{}", login.stdout);

    let remote = scenario(env, &["--server", &server.url], "Remote");
    let remote_org_id = remote["org id"].as_str().unwrap_or_default().to_owned();
    let remote_org_get = env.run(&["--server", &server.url, "--json", "org", "get", &remote_org_id]).ok();

    let (status, _) = server.stop();
    assert!(status.success(), "works serve did not stop cleanly: {status}");

    let embedded = scenario(env, &["--database", database], "Local");

    assert_eq!(remote.keys().collect::<Vec<_>>(), embedded.keys().collect::<Vec<_>>());
    for (step, value) in &remote {
        assert_eq!(shape(value), shape(&embedded[step]), "the JSON of `{step}` differs between remote and embedded");
    }

    // One database: what the server wrote, the embedded command reads, field for field.
    let embedded_view = env.run(&["--database", database, "--json", "org", "get", &remote_org_id]).ok();
    assert_eq!(embedded_view.json(), remote_org_get.json());

    // The audit log tells remote and embedded actions apart, and the chain is whole.
    let page: AuditPage = env.run(&["--database", database, "--json", "audit", "--action", "org.create"]).ok().typed();
    let actors: Vec<&str> = page.records.iter().map(|r| r.actor_name.as_str()).collect();
    assert_eq!(actors, vec!["admin (local)", "admin"], "{page:?}");
    let v: AuditVerification = env.run(&["--database", database, "--json", "audit", "verify"]).ok().typed();
    assert!(v.intact && v.checked >= 20, "{v:?}");
}

#[test]
fn remote_and_embedded_answer_the_same_commands_with_the_same_json() {
    let env = Env::new();
    let data = env.path("data");
    parity(&env, &["--data-dir", &data.to_string_lossy()], &format!("sqlite://{}/works.db", data.display()));
}

#[test]
fn remote_and_embedded_agree_on_postgresql_too() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // A new, empty database on the test server; skipped outside CI when none is configured.
    let Some(url) = runtime.block_on(async { works_store::testing::fresh_postgres().await.map(|(_, url)| url) }) else {
        eprintln!("skipped: {} is not set", works_store::testing::POSTGRES_URL_VAR);
        return;
    };
    let env = Env::new();
    parity(&env, &["--database", &url], &url);
}

#[test]
fn people_get_aligned_tables_and_readable_dates() {
    let env = Env::new();
    let db = format!("sqlite://{}/works.db", env.dir.path().display());
    let envs = [("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)];
    env.run_with(&["--database", &db, "org", "create", "Acme Dental"], &envs, None).ok();
    env.run_with(&["--database", &db, "org", "create", "Northwind"], &envs, None).ok();
    let list = env.run_with(&["--database", &db, "org", "list"], &envs, None).ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", list.stdout);
    let header = lines[0];
    assert!(header.starts_with("ID "), "{header}");
    let name_col = header.find("NAME").expect("a NAME column");
    let status_col = header.find("STATUS").expect("a STATUS column");
    for row in &lines[1..] {
        let name = &row[name_col..];
        assert!(name.starts_with("Acme Dental") || name.starts_with("Northwind"), "misaligned: {row}");
        assert!(row[status_col..].starts_with("active"), "misaligned: {row}");
        assert!(row.trim_end().ends_with(" UTC"), "dates read as dates: {row}");
    }
    assert!(!list.stdout.contains('{'), "human output is not JSON");

    let who = env.run_with(&["--database", &db, "whoami"], &envs, None).ok();
    assert!(who.stdout.contains("Username      admin"), "{}", who.stdout);
    assert!(who.stdout.contains("msp_admin (MSP admin)"), "{}", who.stdout);

    let verify = env.run_with(&["--database", &db, "audit", "verify"], &envs, None).ok();
    assert!(verify.stdout.starts_with("The audit log is intact: 3 records checked"), "{}", verify.stdout);
}

#[test]
fn an_api_token_signs_in_remote_commands_until_it_is_revoked() {
    let env = Env::new();
    let server = Server::start(&env, &env.path("data"), &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    env.run_with(
        &["--server", &server.url, "login", "--username", "admin"],
        &[("WORKS_PASSWORD", ADMIN_PASSWORD)],
        None,
    )
    .ok();
    let created = env.run(&["--server", &server.url, "token", "create", "ci job"]).ok();
    let secret = created
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Token: "))
        .expect("the token is shown once")
        .to_owned();
    assert!(created.stdout.contains("cannot be shown again"), "{}", created.stdout);

    // Another person's shell: no saved sign-in, only the token.
    let other = Env::new();
    let who: User =
        other.run_with(&["--server", &server.url, "--json", "whoami"], &[("WORKS_TOKEN", &secret)], None).ok().typed();
    assert_eq!(who.username, "admin");

    let tokens: Listing<ApiToken> = env.run(&["--server", &server.url, "--json", "token", "list"]).ok().typed();
    let id = tokens.items[0].id.clone();
    env.run(&["--server", &server.url, "token", "revoke", &id]).ok();
    let refused = other.run_with(&["--server", &server.url, "whoami"], &[("WORKS_TOKEN", &secret)], None).fails_with(4);
    assert!(refused.stderr.contains("not valid or has ended"), "{}", refused.stderr);
    assert!(!refused.stderr.contains(&secret));
}
