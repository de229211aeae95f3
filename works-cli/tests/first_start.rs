//! First start: a generated admin password is shown once and works; the saved sign-in;
//! stopping on SIGTERM.

mod common;

use common::{generated_password, Env, Server, ADMIN_PASSWORD};
use works_core::{Listing, Org, User};

#[test]
fn serve_shows_a_generated_password_once_and_it_signs_in() {
    let env = Env::new();
    let data = env.path("data");
    let first = Server::start(&env, &data, &[]);
    assert!(first.banner.contains("First start: created the MSP admin 'admin' with password "), "{}", first.banner);
    assert!(first.banner.contains("it will not be shown again"), "{}", first.banner);
    let password = generated_password(&first.banner).expect("a generated password");
    assert!(password.len() >= 10, "{password}");
    assert!(data.join("works.db").is_file(), "the data folder holds works.db");

    // A wrong password is refused; the shown one works.
    let wrong = env.run_with(
        &["--server", &first.url, "login", "--username", "admin", "--password-stdin"],
        &[],
        Some("not the password\n"),
    );
    let wrong = wrong.fails_with(4);
    assert!(wrong.stderr.contains("username or password is not correct"), "{}", wrong.stderr);
    let login = env
        .run_with(
            &["--server", &first.url, "login", "--username", "admin", "--password-stdin"],
            &[],
            Some(&format!("{password}\n")),
        )
        .ok();
    assert!(login.stdout.contains("as admin (MSP admin)"), "{}", login.stdout);

    // The sign-in is saved for the owner only, and its token is never printed.
    let saved = std::fs::read_to_string(env.saved_credentials()).expect("credentials.json");
    let saved: serde_json::Value = serde_json::from_str(&saved).expect("JSON");
    let token = saved["token"].as_str().expect("a token").to_owned();
    assert_eq!(saved["server"].as_str(), Some(first.url.as_str()));
    assert!(!login.stdout.contains(&token) && !login.stderr.contains(&token));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.saved_credentials()).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "credentials.json is readable by its owner only");
    }
    let me: User = env.run(&["--server", &first.url, "--json", "whoami"]).ok().typed();
    assert_eq!(me.username, "admin");

    let log = first.log_text();
    assert!(!log.contains(&password), "the password reached the server log");
    assert!(!log.contains(&token), "the token reached the server log");

    let (status, rest) = first.stop();
    assert!(status.success(), "SIGTERM stops the server cleanly: {status}");
    assert!(rest.contains("Anthropy Works stopped."), "{rest}");

    // Second start: nothing to show.
    let second = Server::start(&env, &data, &[]);
    assert!(!second.banner.contains("First start"), "{}", second.banner);
    assert!(!second.banner.contains(&password), "{}", second.banner);
    assert!(second.banner.contains("sign in as admin"), "{}", second.banner);

    // The saved sign-in names the old port; sign in to the new one and sign out again.
    env.run_with(
        &["--server", &second.url, "login", "--username", "admin", "--password-stdin"],
        &[],
        Some(&format!("{password}\n")),
    )
    .ok();
    let out = env.run(&["--server", &second.url, "logout"]).ok();
    assert!(out.stdout.contains("Signed out of"), "{}", out.stdout);
    assert!(!env.saved_credentials().exists(), "logout forgets the sign-in");
    let after = env.run(&["--server", &second.url, "org", "list"]).fails_with(4);
    assert!(after.stderr.contains("works login --server"), "{}", after.stderr);
}

#[test]
fn an_empty_database_opened_directly_gets_its_admin_once() {
    let env = Env::new();
    let db = format!("sqlite://{}/fresh.db", env.path("db").display());
    std::fs::create_dir_all(env.path("db")).expect("folder");

    let first = env.run(&["--database", &db, "--json", "org", "list"]).ok();
    let listing: Listing<Org> = first.typed();
    assert!(listing.items.is_empty());
    let password = generated_password(&first.stderr).expect("the one-time password is on standard error");
    assert!(first.stderr.contains("it will not be shown again"), "{}", first.stderr);

    let second = env.run(&["--database", &db, "org", "list"]).ok();
    assert!(!second.stderr.contains("First start") && !second.stderr.contains(&password), "{}", second.stderr);
    assert_eq!(second.stdout, "No organizations.\n");

    // The password is real: a server on the same database accepts it.
    let server = Server::start_args(&env, &["serve", "--listen", "127.0.0.1:0", "--database", &db], &[]);
    assert!(!server.banner.contains("First start"), "{}", server.banner);
    env.run_with(&["--server", &server.url, "login", "--username", "admin"], &[("WORKS_PASSWORD", &password)], None)
        .ok();
}

#[test]
fn without_flags_commands_use_the_data_folder() {
    let env = Env::new();
    let envs = [("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)];
    let created = env.run_with(&["org", "create", "Acme"], &envs, None).ok();
    assert!(created.stdout.starts_with("Created organization Acme."), "{}", created.stdout);
    assert!(created.stderr.contains("with the password from WORKS_ADMIN_PASSWORD"), "{}", created.stderr);
    assert!(env.path("works-data").join("works.db").is_file(), "./works-data/works.db is the default");

    let other = env.path("elsewhere");
    let listed: Listing<Org> =
        env.run_with(&["--json", "org", "list"], &[("WORKS_DATA_DIR", &other.to_string_lossy())], None).ok().typed();
    assert!(listed.items.is_empty(), "WORKS_DATA_DIR picks another database");
    assert!(other.join("works.db").is_file());
}
