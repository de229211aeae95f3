//! The shell of the resource pages in real Chromium: the roster lists the page's rows,
//! selecting one shows it in the inspector (status, why, what to do next, a link), a
//! hover card names a row with text only (markup in a name never becomes elements), a
//! record opens in a focused view with a clear Close, and the activity strip shows the
//! recorded events of the page's kind. Screenshots of two resource pages in the shell go
//! to `target/screenshots/`.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;
use works_core::NewNode;
use works_testkit::{TestServer, ADMIN_PASSWORD};

use crate::browser::{chromedriver_or_skip, connect, text_of, wait_for_path, Driver};
use crate::browser_session;
use crate::command_center::{js, shot, sign_in};

const EVIL_ORG: &str = "Acme <b id=\"evil\">bold</b><img src=x onerror=\"window.__pwned=1\"> Dental";

async fn activity_loaded(c: &fantoccini::Client) -> serde_json::Value {
    for _ in 0..100 {
        let v = js(c, "return document.getElementById('shell').getAttribute('data-activity')").await;
        if !v.is_null() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the activity strip was never filled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_pages_share_the_command_center_shell() {
    let Some(binary) = chromedriver_or_skip() else { return };
    let s = TestServer::start_sqlite().await;
    let org = s.create_org(EVIL_ORG).await;
    let node = s.works.node_create(&s.admin, NewNode { name: "acme-web-01".into(), org_id: Some(org.id.clone()) }).await.unwrap();
    s.works.node_create(&s.admin, NewNode { name: "acme-db-01".into(), org_id: Some(org.id.clone()) }).await.unwrap();
    let driver = Driver::start(&binary).await;
    let profile = tempfile::tempdir().unwrap();
    let c = connect(&driver, profile.path()).await;
    sign_in(&c, &s, "admin", ADMIN_PASSWORD).await;

    // The nodes page: roster with the section and the rows, activity of nodes.
    c.goto(&s.url("/ui/nodes")).await.unwrap();
    wait_for_path(&c, "/ui/nodes").await;
    assert_eq!(text_of(&c, ".shell-sections a.current").await, "Nodes");
    let rows = js(&c, "return Array.from(document.querySelectorAll('#shell-rows button')).map(b => b.textContent).sort()").await;
    assert_eq!(rows, json!(["acme-db-01", "acme-web-01"]));
    let events = activity_loaded(&c).await;
    assert_eq!(events, json!("2"), "two node.create records");
    let strip = text_of(&c, "#shell-activity-list").await;
    assert!(strip.contains("node.create") && !strip.contains("org.create"), "{strip}");

    // Select a row from the roster: the inspector shows it, in plain English.
    c.find(Locator::XPath("//ul[@id='shell-rows']//button[normalize-space()='acme-web-01']")).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(&c, "#shell-i-title").await, "acme-web-01");
    assert_eq!(text_of(&c, "#shell-i-status").await, "Offline", "no agent ever checked in");
    assert_eq!(c.find(Locator::Css("#shell-i-status")).await.unwrap().attr("class").await.unwrap(), Some("badge bad".to_owned()));
    assert!(!text_of(&c, "#shell-i-why").await.is_empty());
    assert!(!text_of(&c, "#shell-i-next").await.is_empty());
    assert_eq!(c.find(Locator::Css("#shell-i-open")).await.unwrap().attr("href").await.unwrap(), Some(format!("/ui/nodes/{}", node.id)));
    assert_eq!(text_of(&c, "#shell-i-body details summary").await, "Show technical details");
    assert_eq!(js(&c, "return document.querySelectorAll('tr.shell-selected').length").await, json!(1));
    shot(&c, "shell-nodes").await;
    c.find(Locator::Css("#shell-i-close")).await.unwrap().click().await.unwrap();
    assert_eq!(js(&c, "return [document.getElementById('shell-i-body').hidden, document.querySelectorAll('tr.shell-selected').length]").await, json!([true, 0]));

    // A hover card on a row: text only, even for a name carrying markup.
    c.goto(&s.url("/ui/orgs")).await.unwrap();
    wait_for_path(&c, "/ui/orgs").await;
    let card = js(
        &c,
        "const tr = document.querySelector('main tbody tr'); tr.dispatchEvent(new MouseEvent('mouseenter'));
         const h = document.getElementById('shell-hover');
         return [h.hidden, h.querySelector('strong').textContent, h.querySelectorAll('b, img').length, document.querySelectorAll('#evil').length];",
    )
    .await;
    assert_eq!(card, json!([false, EVIL_ORG, 0, 0]), "the hover card shows the name as text");
    assert_eq!(js(&c, "return window.__pwned === undefined").await, json!(true));
    shot(&c, "shell-orgs").await;

    // A record opens in a focused view with a clear Close back to its list.
    c.goto(&s.url(&format!("/ui/nodes/{}", node.id))).await.unwrap();
    wait_for_path(&c, "/ui/nodes/").await;
    let close = c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("#shell-close")).await.unwrap();
    assert_eq!(close.attr("href").await.unwrap(), Some("/ui/nodes".to_owned()));
    assert_eq!(text_of(&c, "#shell-i-title").await, "acme-web-01");
    assert!(text_of(&c, "#shell-i-why").await.starts_with("No agent has enrolled yet"), "the page's own explanation");
    let hidden = js(&c, "return ['shell-i-open', 'shell-i-close'].map(id => getComputedStyle(document.getElementById(id)).display)").await;
    assert_eq!(hidden, json!(["none", "none"]), "the page itself is the record: no Open, and Close is in the bar");
    assert_eq!(js(&c, "return document.getElementById('shell').classList.contains('focused')").await, json!(true));
    shot(&c, "shell-node-detail").await;
    close.click().await.unwrap();
    for _ in 0..50 {
        if js(&c, "return location.pathname").await == json!("/ui/nodes") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(js(&c, "return location.pathname").await, json!("/ui/nodes"));

    // The executive status page stands alone, without the shell or any script.
    c.goto(&s.url("/ui/status")).await.unwrap();
    wait_for_path(&c, "/ui/status").await;
    assert_eq!(text_of(&c, "h1").await, "Healthy");
    assert_eq!(js(&c, "return [document.querySelectorAll('#shell, script').length, window.__pwned === undefined]").await, json!([0, true]));
    shot(&c, "status").await;
    c.close().await.unwrap();
}

/// Every resource page is drawn in the shell, with its section current in the roster;
/// the Command Center (its own shell), the dashboard, the status page and alert
/// settings are not.
pub async fn every_resource_page_is_drawn_in_the_shell(s: &TestServer) {
    let browser = browser_session::sign_in(s, "admin", ADMIN_PASSWORD).await;
    let get = |path: &'static str| {
        let r = s.client().get(s.url(path)).header("cookie", &browser.cookie).send();
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.text().await.unwrap()
        }
    };
    for (path, family) in [
        ("/ui/orgs", "org."),
        ("/ui/users", "user."),
        ("/ui/nodes", "node."),
        ("/ui/instances", "instance."),
        ("/ui/jobs", "job."),
        ("/ui/capabilities", "pack."),
        ("/ui/permissions", "permission."),
        ("/ui/connections", "connection."),
        ("/ui/workflows", "workflow."),
        ("/ui/schedules", "schedule."),
        ("/ui/hosts", "host."),
        ("/ui/audit", ""),
    ] {
        let html = get(path).await;
        assert!(html.contains(r#"<div class="shell" id="shell""#), "{path} is in the shell: {html}");
        assert!(html.contains(r#"<script src="/assets/shell.js" defer></script>"#), "{path}");
        assert!(html.contains(&format!(r#"<a href="{path}" data-family="{family}">"#)), "{path} is in the roster");
        assert!(html.contains(r#"id="shell-inspector""#) && html.contains(r#"id="shell-activity-list""#), "{path}");
        assert_eq!(html.matches("<script").count(), 1, "{path}: the one script, from the server");
    }
    for path in ["/", "/ui", "/ui/status", "/ui/alerts"] {
        let html = get(path).await;
        assert!(!html.contains(r#"id="shell""#) && !html.contains("/assets/shell.js"), "{path} stands alone");
    }
    let js = s.client().get(s.url("/assets/shell.js")).send().await.unwrap();
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    let js = js.text().await.unwrap();
    assert!(!js.contains("innerHTML") && !js.contains("insertAdjacentHTML") && !js.contains("eval("), "the script never parses text as markup");
}

crate::on_both_backends!(every_resource_page_is_drawn_in_the_shell);
