//! The web UI in a real, headless Chromium driven through ChromeDriver.
//!
//! The test starts `chromedriver` itself on a free port (found on `PATH`, or named by
//! `CHROMEDRIVER`; Debian packages `chromium` and `chromium-driver`). When it is missing
//! the test is skipped with a message — except in CI (`CI` set), where it fails.
//! Run it alone with `cargo test -p works-http --test http browser::`. Set
//! `WORKS_SCREENSHOT_DIR` to keep screenshots of the pages it visits, and
//! `WORKS_BROWSER_DARK=1` to see the dark appearance.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use works_core::{OrgQuery, Role};
use works_testkit::{TestServer, ADMIN_PASSWORD};

pub(crate) fn in_ci() -> bool {
    std::env::var("CI").map(|v| !v.is_empty() && v != "0" && v != "false").unwrap_or(false)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

pub(crate) fn chromedriver() -> Option<PathBuf> {
    match std::env::var_os("CHROMEDRIVER") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => find_on_path("chromedriver"),
    }
}

/// The chromedriver to use; outside CI, `None` (the caller skips) with a note when it is
/// not installed; under CI its absence fails the test.
pub(crate) fn chromedriver_or_skip() -> Option<PathBuf> {
    let found = chromedriver();
    if found.is_none() {
        if in_ci() {
            panic!("chromedriver is not installed, and CI must run the browser test: apt-get install chromium chromium-driver");
        }
        eprintln!("skipped: chromedriver is not installed (apt-get install chromium chromium-driver)");
    }
    found
}

/// A running chromedriver, stopped when dropped.
pub(crate) struct Driver {
    child: tokio::process::Child,
    url: String,
}

impl Driver {
    pub(crate) async fn start(binary: &PathBuf) -> Driver {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = tokio::process::Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()));
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Driver { child, url };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start listening on port {port} within 10 seconds");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

pub(crate) async fn connect(driver: &Driver, profile: &std::path::Path) -> Client {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--no-first-run".to_owned(),
        "--window-size=1280,900".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    if std::env::var("WORKS_BROWSER_DARK").is_ok_and(|v| v == "1") {
        args.push("--force-dark-mode".to_owned());
        args.push("--blink-settings=preferredColorScheme=0".to_owned());
    }
    let mut options = json!({ "args": args });
    if let Some(bin) = std::env::var_os("CHROME_BIN") {
        options["binary"] = json!(bin.to_string_lossy());
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    // Two rustls crypto providers are linked in (through fantoccini and reqwest); pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("could not set up TLS for the WebDriver client")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("could not start a Chromium session through chromedriver: {e}"))
}

pub(crate) struct Shots {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Shots {
    pub(crate) fn new() -> Shots {
        match std::env::var_os("WORKS_SCREENSHOT_DIR") {
            Some(d) => {
                let dir = PathBuf::from(d);
                std::fs::create_dir_all(&dir).unwrap();
                Shots { dir, _temp: None }
            }
            None => {
                let t = tempfile::tempdir().unwrap();
                Shots { dir: t.path().to_owned(), _temp: Some(t) }
            }
        }
    }

    pub(crate) async fn take(&self, c: &Client, name: &str) {
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let path = self.dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

async fn path_of(c: &Client) -> String {
    let url = c.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

pub(crate) async fn wait_for_path(c: &Client, prefix: &str) {
    for _ in 0..100 {
        if path_of(c).await.starts_with(prefix) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser did not reach {prefix}; it is at {}", path_of(c).await);
}

pub(crate) async fn text_of(c: &Client, css: &str) -> String {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_and_creates_an_organization_in_chromium() {
    let Some(binary) = chromedriver_or_skip() else { return };
    let server = TestServer::start_sqlite().await;
    let existing = server.create_org("Existing Org").await;
    server.create_user("dana", Role::OrgAdmin, Some(&existing.id)).await;
    let driver = Driver::start(&binary).await;
    let profile = tempfile::tempdir().unwrap();
    let c = connect(&driver, profile.path()).await;
    let shots = Shots::new();

    // Not signed in: the UI sends the browser to the sign-in form.
    c.goto(&server.url("/ui/orgs")).await.unwrap();
    wait_for_path(&c, "/login").await;
    assert_eq!(text_of(&c, "h1").await, "Sign in");

    // A wrong password is answered on the form, in plain English.
    c.find(Locator::Css("#username")).await.unwrap().send_keys("admin").await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys("not the password").await.unwrap();
    c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(&c, ".alert.error p").await, "The username or password is not correct.");
    shots.take(&c, "login-error").await;

    // Signing in lands on the dashboard: the health answer first.
    let username = c.find(Locator::Css("#username")).await.unwrap();
    username.clear().await.unwrap();
    username.send_keys("admin").await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(ADMIN_PASSWORD).await.unwrap();
    c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui").await;
    assert_eq!(text_of(&c, "h1").await, "Healthy");
    assert_eq!(text_of(&c, "nav.sections a[aria-current=page]").await, "Health");
    assert_eq!(text_of(&c, "#issues .empty").await, "Nothing needs attention.");
    shots.take(&c, "dashboard").await;

    // The organizations list.
    c.goto(&server.url("/ui/orgs")).await.unwrap();
    wait_for_path(&c, "/ui/orgs").await;
    assert_eq!(text_of(&c, "h1").await, "Organizations");
    assert_eq!(text_of(&c, ".who-name").await, "admin");
    assert_eq!(text_of(&c, ".who-role").await, "MSP admin");
    assert_eq!(text_of(&c, "nav.sections a[aria-current=page]").await, "Organizations");
    shots.take(&c, "orgs").await;

    // Create an organization through the form; it appears in the list.
    c.find(Locator::Css("#org-name")).await.unwrap().send_keys("Acme Browser Co").await.unwrap();
    c.find(Locator::XPath("//button[normalize-space()='Create organization']")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui/orgs?created=").await;
    assert_eq!(text_of(&c, ".alert.success p").await, "Organization “Acme Browser Co” was created.");
    let names: Vec<String> = {
        let mut out = Vec::new();
        for link in c.find_all(Locator::Css("table tbody td a")).await.unwrap() {
            out.push(link.text().await.unwrap());
        }
        out
    };
    assert!(names.contains(&"Acme Browser Co".to_owned()), "{names:?}");
    assert!(names.contains(&"Existing Org".to_owned()), "{names:?}");
    let stored = server.works.org_list(&server.admin, OrgQuery::default()).await.unwrap();
    assert!(stored.items.iter().any(|o| o.name == "Acme Browser Co"));
    shots.take(&c, "orgs-created").await;

    // An empty name is refused next to the field, and nothing is created.
    c.find(Locator::Css("#org-name")).await.unwrap().send_keys("   ").await.unwrap();
    c.find(Locator::XPath("//button[normalize-space()='Create organization']")).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(&c, "#org-name-error").await, "Must not be empty");
    let invalid = c.find(Locator::Css("#org-name")).await.unwrap().attr("aria-invalid").await.unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    assert_eq!(server.works.org_list(&server.admin, OrgQuery::default()).await.unwrap().items.len(), 2);
    shots.take(&c, "orgs-empty-name").await;

    // The detail page, and the other sections.
    c.goto(&server.url("/ui/orgs")).await.unwrap();
    c.find(Locator::LinkText("Acme Browser Co")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui/orgs/").await;
    assert_eq!(text_of(&c, "h1").await, "Acme Browser Co");
    shots.take(&c, "org-detail").await;
    c.find(Locator::LinkText("Archive this organization…")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui/orgs/").await;
    assert_eq!(text_of(&c, "h1").await, "Archive “Acme Browser Co”?");
    shots.take(&c, "org-archive-confirm").await;
    c.find(Locator::XPath("//button[normalize-space()='Yes, archive it']")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui/orgs/").await;
    let notice = text_of(&c, ".alert.success p").await;
    assert_eq!(notice, "The organization was archived. Its users can no longer sign in.");
    let archived = server.works.org_list(&server.admin, OrgQuery { include_archived: true, ..Default::default() }).await.unwrap();
    assert!(archived.items.iter().any(|o| o.name == "Acme Browser Co" && o.archived_at.is_some()));

    c.goto(&server.url("/ui/users")).await.unwrap();
    assert_eq!(text_of(&c, "h1").await, "Users");
    assert!(c.source().await.unwrap().contains("dana"));
    shots.take(&c, "users").await;

    c.goto(&server.url("/ui/audit")).await.unwrap();
    c.find(Locator::XPath("//button[normalize-space()='Verify chain']")).await.unwrap().click().await.unwrap();
    let verdict = text_of(&c, ".alert.success p").await;
    assert!(verdict.starts_with("The audit log is intact"), "{verdict}");
    shots.take(&c, "audit").await;

    // Signing out returns to the sign-in form, and the pages need signing in again.
    c.find(Locator::XPath("//button[normalize-space()='Sign out']")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/login").await;
    c.goto(&server.url("/ui/users")).await.unwrap();
    wait_for_path(&c, "/login").await;

    c.close().await.unwrap();
    drop(driver);
}
