//! The Command Center: `GET /api/v1/map` answers each role exactly its part of the fleet
//! (on SQLite and PostgreSQL), and the page at `/` (MSP roles) or `/ui/map` draws it in a
//! real, headless Chromium: each role sees exactly its objects; search, select, zoom and
//! focus work; a node that goes quiet becomes a hotspot without a reload; markup and
//! script in organization, container, workflow and connection names are shown as text and
//! never run (and the page's Content Security Policy forbids inline script).
//!
//! Screenshots of the Command Center and two resource pages are written to
//! `target/screenshots/` (or `WORKS_SCREENSHOT_DIR`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::header::CONTENT_SECURITY_POLICY;
use serde_json::{json, Value};
use works_core::{
    AgentIdentity, AssignInput, CheckIn, Container, EnrollRequest, InstanceQuery, JobKind, NewConnection, NewJob, NewNode, NewWorkflow,
    NodeHealth, Provider, Role, TakeoverInput, WorkflowStep,
};
use works_testkit::{TestServer, TestUser, ADMIN_PASSWORD};

use crate::browser::{chromedriver_or_skip, connect, wait_for_path, Driver};
use crate::common::{anonymous, as_admin, as_token};

const ORG_A: &str = "Acme <img src=x onerror=\"window.__pwned='org'\"> Dental";
const ORG_B: &str = "Bolt Logistics";
const EVIL_CONTAINER: &str = "openclaw-<script>window.__pwned='container'</script>";
const EVIL_WORKFLOW: &str = "Weekly <svg onload=\"window.__pwned='workflow'\"></svg> summary";
const EVIL_CONNECTION: &str = "Drive\"><img src=x onerror=\"window.__pwned='connection'\">";

/// The fleet of the tests: two organizations, a node each plus a shared MSP node, three
/// OpenClaw instances (one assigned to Acme's user), an active job, workflows and
/// connections of different owners. Names carry markup and script.
pub(crate) struct Fleet {
    pub a_admin: TestUser,
    pub a_user: TestUser,
    pub b_admin: TestUser,
    pub b_user: TestUser,
    pub agents: BTreeMap<String, AgentIdentity>,
    /// Graph ids each person should see.
    pub expect: BTreeMap<&'static str, BTreeSet<String>>,
    pub node_a: String,
    pub evil_instance: String,
}

fn gateway(name: &str) -> Container {
    Container {
        id: format!("c-{}", name.len() + name.bytes().map(usize::from).sum::<usize>()),
        name: name.into(),
        image: "anthropy/openclaw:2026.9.6".into(),
        state: "running".into(),
        health: Some("healthy".into()),
        labels: BTreeMap::new(),
        ports: vec![],
        mounts: vec![],
    }
}

async fn check_in(s: &TestServer, agent: &AgentIdentity, containers: &[&str]) {
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    let containers = Some(containers.iter().map(|c| gateway(c)).collect());
    s.works.agent_checkin(agent, CheckIn { health, containers }).await.unwrap();
}

/// A node with an agent that checked in with `containers`, each taken over; returns the
/// node id, its agent and the instance ids in the order given.
async fn machine(s: &TestServer, name: &str, org: Option<&str>, containers: &[&str]) -> (String, AgentIdentity, Vec<String>) {
    let w = &s.works;
    let node = w.node_create(&s.admin, NewNode { name: name.into(), org_id: org.map(str::to_owned) }).await.unwrap();
    let token = w.enrollment_token_create(&s.admin, &node.id).await.unwrap();
    let cred = w.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
    let agent = w.authenticate_agent(&cred.credential).await.unwrap();
    check_in(s, &agent, containers).await;
    let found = w.instance_list(&s.admin, InstanceQuery { node_id: Some(node.id.clone()), ..Default::default() }).await.unwrap().items;
    let mut ids = Vec::new();
    for c in containers {
        let i = found.iter().find(|i| i.container_name == *c).unwrap_or_else(|| panic!("{c} was not discovered: {found:?}"));
        let phrase = i.takeover_phrase.clone().unwrap();
        w.instance_takeover(&s.admin, &i.id, TakeoverInput { phrase }).await.unwrap();
        ids.push(i.id.clone());
    }
    (node.id, agent, ids)
}

async fn connection(s: &TestServer, token: &str, name: &str) -> String {
    let actor = s.works.authenticate(token).await.unwrap();
    let input = NewConnection { instances: vec![], org_id: None, name: name.into(), provider: Provider::Generic, capabilities: vec![], credential: None, status: None };
    s.works.connection_create(&actor, input).await.unwrap().id
}

async fn workflow(s: &TestServer, token: &str, name: &str) -> String {
    let actor = s.works.authenticate(token).await.unwrap();
    let step = WorkflowStep { capability_id: "summarize".into(), action: "summarize_text".into(), connection_id: None, parameters: json!({}) };
    s.works.workflow_create(&actor, NewWorkflow { org_id: None, name: name.into(), description: None, steps: vec![step] }).await.unwrap().id
}

pub(crate) async fn seed(s: &TestServer) -> Fleet {
    let a = s.create_org(ORG_A).await;
    let b = s.create_org(ORG_B).await;
    let a_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&a.id)).await;
    let a_user = s.create_user("acme-user", Role::OrgUser, Some(&a.id)).await;
    let b_admin = s.create_user("bolt-admin", Role::OrgAdmin, Some(&b.id)).await;
    let b_user = s.create_user("bolt-user", Role::OrgUser, Some(&b.id)).await;
    let (node_a, agent_a, inst_a) = machine(s, "acme-web-01", Some(&a.id), &[EVIL_CONTAINER, "openclaw-front"]).await;
    let (node_b, agent_b, inst_b) = machine(s, "bolt-app-01", Some(&b.id), &["openclaw-bolt"]).await;
    let (node_m, agent_m, _) = machine(s, "msp-jump-01", None, &[]).await;
    s.works.instance_assign(&s.admin, &inst_a[0], AssignInput { user_id: a_user.user.id.clone() }).await.unwrap();
    let job = s.works.job_request(&s.admin, NewJob { node_id: node_a.clone(), kind: JobKind::HealthCheck, params: json!({}) }).await.unwrap();
    let c_user = connection(s, &a_user.token, EVIL_CONNECTION).await;
    let c_admin = connection(s, &a_admin.token, "Acme books").await;
    let c_b = connection(s, &b_admin.token, "Bolt books").await;
    let wf_user = workflow(s, &a_user.token, EVIL_WORKFLOW).await;
    let wf_b = workflow(s, &b_admin.token, "Bolt summary").await;

    let set = |ids: &[String]| ids.iter().cloned().collect::<BTreeSet<String>>();
    let (oa, ob) = (format!("org:{}", a.id), format!("org:{}", b.id));
    let a_admin_sees = set(&[
        oa.clone(),
        format!("node:{node_a}"),
        format!("instance:{}", inst_a[0]),
        format!("instance:{}", inst_a[1]),
        format!("job:{}", job.id),
        format!("connection:{c_user}"),
        format!("connection:{c_admin}"),
        format!("workflow:{wf_user}"),
    ]);
    let b_admin_sees = set(&[ob.clone(), format!("node:{node_b}"), format!("instance:{}", inst_b[0]), format!("connection:{c_b}"), format!("workflow:{wf_b}")]);
    let mut everything: BTreeSet<String> = a_admin_sees.union(&b_admin_sees).cloned().collect();
    everything.insert(format!("node:{node_m}"));
    let mut expect = BTreeMap::new();
    expect.insert("admin", everything);
    expect.insert("acme-admin", a_admin_sees);
    expect.insert("acme-user", set(&[oa, format!("instance:{}", inst_a[0]), format!("connection:{c_user}"), format!("workflow:{wf_user}")]));
    expect.insert("bolt-admin", b_admin_sees);
    expect.insert("bolt-user", set(&[ob]));
    let mut agents = BTreeMap::new();
    agents.insert(node_a.clone(), agent_a);
    agents.insert(node_b, agent_b);
    agents.insert(node_m, agent_m);
    Fleet { a_admin, a_user, b_admin, b_user, agents, expect, node_a, evil_instance: inst_a[0].clone() }
}

fn graph_ids(map: &Value) -> BTreeSet<String> {
    map["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

/// Makes a node's last check-in two minutes old, as if its agent had gone quiet.
async fn go_quiet(s: &TestServer, node_id: &str) {
    let store = works_store::open(&s.database_url).await.unwrap();
    let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
    store.record_checkin(node_id, chrono::Utc::now() - chrono::Duration::seconds(150), &health, None).await.unwrap();
}

async fn the_map_answers_each_role_exactly_its_part(s: &TestServer) {
    anonymous(s).get("/api/v1/map").await.expect_error(401, "unauthenticated");
    let f = seed(s).await;
    let tokens = [
        ("admin", s.admin_token.clone()),
        ("acme-admin", f.a_admin.token.clone()),
        ("acme-user", f.a_user.token.clone()),
        ("bolt-admin", f.b_admin.token.clone()),
        ("bolt-user", f.b_user.token.clone()),
    ];
    for (who, token) in &tokens {
        let map = as_token(s, token).get("/api/v1/map").await.expect_status(200).clone();
        assert_eq!(&graph_ids(&map), &f.expect[who], "[{}] {who} gets exactly the permitted objects", s.backend);
        let ids = graph_ids(&map);
        for e in map["edges"].as_array().unwrap() {
            assert!(ids.contains(e["from"].as_str().unwrap()) && ids.contains(e["to"].as_str().unwrap()), "[{}] {who}: edge outside the map: {e}", s.backend);
        }
        for n in map["nodes"].as_array().unwrap() {
            for field in ["id", "kind", "label", "status", "status_label", "why", "group", "link"] {
                assert!(n[field].as_str().is_some_and(|v| !v.is_empty()), "[{}] {who}: {field} of {n}", s.backend);
            }
        }
        assert_eq!(map["hotspots"], json!([]), "[{}] {who}", s.backend);
    }
    let map = as_admin(s).get("/api/v1/map").await.expect_status(200).clone();
    let evil = map["nodes"].as_array().unwrap().iter().find(|n| n["id"] == format!("instance:{}", f.evil_instance)).unwrap().clone();
    assert_eq!(evil["label"], EVIL_CONTAINER, "labels are sent as they are, as JSON strings");
    assert_eq!(evil["parent"], format!("node:{}", f.node_a));

    // acme-web-01 goes quiet: a hotspot on it, for the MSP and Acme's admin only.
    go_quiet(s, &f.node_a).await;
    let stale = format!("node:{}", f.node_a);
    for (who, token) in &tokens {
        let map = as_token(s, token).get("/api/v1/map").await.expect_status(200).clone();
        let spots: Vec<&Value> = map["hotspots"].as_array().unwrap().iter().filter(|h| h["target"] == stale.as_str()).collect();
        let sees = f.expect[who].contains(&stale);
        assert_eq!(spots.len(), usize::from(sees), "[{}] {who}: {}", s.backend, map["hotspots"]);
        if let Some(h) = spots.first() {
            assert_eq!(h["id"], format!("node-stale:{}", f.node_a));
            assert!(h["why"].as_str().unwrap().contains("last checked in") && !h["next_action"].as_str().unwrap().is_empty(), "{h}");
        }
        if !sees {
            assert_eq!(map["hotspots"], json!([]), "[{}] {who}", s.backend);
        }
    }

    // The page: MSP roles get it at `/`, organization roles at /ui/map; no inline script.
    for (username, password, path) in [("admin", ADMIN_PASSWORD, "/"), ("acme-admin", f.a_admin.password.as_str(), "/ui/map")] {
        let browser = crate::browser_session::sign_in(s, username, password).await;
        let r = s.client().get(s.url(path)).header(reqwest::header::COOKIE, &browser.cookie).send().await.unwrap();
        assert_eq!(r.status(), 200, "{username} {path}");
        let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        let html = r.text().await.unwrap();
        assert!(html.contains(r#"<script src="/assets/command-center.js" defer></script>"#), "{html}");
        assert_eq!(html.matches("<script").count(), 1, "the only script is the file: {html}");
        assert!(!html.contains("onerror") && !html.contains("<img src=x"), "no data in the page itself");
    }
    let browser = crate::browser_session::sign_in(s, "acme-admin", &f.a_admin.password).await;
    let r = s.client().get(s.url("/")).header(reqwest::header::COOKIE, &browser.cookie).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/ui"), "organization roles keep their dashboard at /");
    let js = s.client().get(s.url("/assets/command-center.js")).send().await.unwrap();
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    let js = js.text().await.unwrap();
    assert!(!js.contains("innerHTML") && !js.contains("insertAdjacentHTML") && !js.contains("eval("), "the script never parses data as markup");
}

crate::on_both_backends!(the_map_answers_each_role_exactly_its_part);

// ---------------------------------------------------------------------------------
// In Chromium.

fn screenshot_dir() -> std::path::PathBuf {
    let dir = match std::env::var_os("WORKS_SCREENSHOT_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

pub(crate) async fn sign_in(c: &Client, s: &TestServer, username: &str, password: &str) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&s.url("/login")).await.unwrap();
    c.find(Locator::Css("#username")).await.unwrap().send_keys(username).await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(password).await.unwrap();
    c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_path(c, "/ui").await;
}

pub(crate) async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Waits until the page drew the map at least `renders` times.
pub(crate) async fn rendered(c: &Client, renders: u64) {
    for _ in 0..150 {
        let n = js(c, "return Number(document.getElementById('cc').getAttribute('data-renders') || 0)").await;
        if n.as_u64().unwrap_or(0) >= renders {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = js(c, "return document.getElementById('cc-state').textContent").await;
    panic!("the map was not drawn: {state}");
}

async fn drawn_ids(c: &Client) -> BTreeSet<String> {
    let v = js(c, "return Array.from(document.querySelectorAll('#cc-objects .cc-obj')).map(e => e.getAttribute('data-id'))").await;
    let mut out: BTreeSet<String> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect();
    // Organizations are drawn as group boxes.
    let groups = js(c, "return Array.from(document.querySelectorAll('#cc-groups .cc-group')).map(e => e.getAttribute('data-group'))").await;
    out.extend(groups.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).filter(|g| g != "org:msp"));
    out
}

async fn pwned(c: &Client) -> Value {
    js(c, "return window.__pwned === undefined ? null : String(window.__pwned)").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_center_in_chromium() {
    let Some(binary) = chromedriver_or_skip() else { return };
    let s = TestServer::start_sqlite().await;
    let f = seed(&s).await;
    let driver = Driver::start(&binary).await;
    let profile = tempfile::tempdir().unwrap();
    let c = connect(&driver, profile.path()).await;

    // Each role sees exactly its objects.
    let people = [
        ("acme-admin", f.a_admin.password.clone(), "/ui/map"),
        ("acme-user", f.a_user.password.clone(), "/ui/map"),
        ("bolt-admin", f.b_admin.password.clone(), "/ui/map"),
        ("bolt-user", f.b_user.password.clone(), "/ui/map"),
        ("admin", ADMIN_PASSWORD.to_owned(), "/"),
    ];
    for (who, password, path) in &people {
        sign_in(&c, &s, who, password).await;
        c.goto(&s.url(path)).await.unwrap();
        rendered(&c, 1).await;
        assert_eq!(&drawn_ids(&c).await, &f.expect[who], "{who} sees exactly the permitted objects");
        assert_eq!(pwned(&c).await, Value::Null, "{who}: nothing injected ran");
    }

    // Signed in as the MSP admin at `/`: markup in names is shown as text.
    let title = js(&c, "return Array.from(document.querySelectorAll('#cc-groups text.title')).map(e => e.textContent).join('|')").await;
    assert!(title.as_str().unwrap().contains(ORG_A), "{title}");
    let injected = js(&c, "return document.querySelectorAll('#cc img, #cc script, #cc-objects svg, #cc-groups svg').length").await;
    assert_eq!(injected, json!(0), "no element was made from a name");
    shot(&c, "command-center").await;

    // The overview is painted on one canvas; the pointer still finds a dot there.
    assert_eq!(js(&c, "return document.getElementById('cc').getAttribute('data-canvas')").await, json!("true"));
    let node = format!("node:{}", f.node_a);
    let picked = js(
        &c,
        &format!(
            "const p = window.commandCenter.screenOf('{node}'); const svg = document.getElementById('cc-svg');
             const at = t => svg.dispatchEvent(new PointerEvent(t, {{ pointerId: 1, button: 0, clientX: p.x, clientY: p.y, bubbles: true }}));
             at('pointerdown'); at('pointerup'); return document.getElementById('cc').getAttribute('data-selected');"
        ),
    )
    .await;
    assert_eq!(picked, json!(node), "a click on a dot of the overview selects it");

    // Search → select → the inspector shows the object.
    let search = c.find(Locator::Css("#cc-search")).await.unwrap();
    search.send_keys("openclaw-<script>").await.unwrap();
    let hit = c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("#cc-results button[data-id]")).await.unwrap();
    assert_eq!(hit.attr("data-id").await.unwrap(), Some(format!("instance:{}", f.evil_instance)));
    hit.click().await.unwrap();
    let label = c.find(Locator::Css("#cc-i-label")).await.unwrap().text().await.unwrap();
    assert_eq!(label, EVIL_CONTAINER);
    assert_eq!(js(&c, "return document.getElementById('cc-i-kind').textContent").await, json!("OpenClaw instance"));
    assert_eq!(c.find(Locator::Css("#cc-i-link")).await.unwrap().attr("href").await.unwrap(), Some(format!("/ui/instances/{}", f.evil_instance)));
    let selected = js(&c, "return document.querySelector('#cc-objects .cc-obj.selected').getAttribute('data-id')").await;
    assert_eq!(selected, json!(format!("instance:{}", f.evil_instance)));
    let related = c.find(Locator::Css("#cc-i-related button")).await.unwrap().text().await.unwrap();
    assert!(related.starts_with("acme-web-01"), "{related}");
    shot(&c, "command-center-inspector").await;

    // Focus: the neighbours stay, the rest dims.
    c.find(Locator::Css("#cc-focus")).await.unwrap().click().await.unwrap();
    let dimmed = js(&c, "return [document.getElementById('cc-svg').classList.contains('focusing'), Array.from(document.querySelectorAll('#cc-objects .cc-obj:not(.dim)')).map(e => e.getAttribute('data-id')).sort()]").await;
    let mut near = vec![format!("instance:{}", f.evil_instance), format!("node:{}", f.node_a)];
    near.sort();
    assert_eq!(dimmed, json!([true, near]));
    c.find(Locator::Css("#cc-focus")).await.unwrap().click().await.unwrap();

    // Zoom levels, and the wheel zooms at the cursor: the point under it stays put.
    for level in ["overview", "organization", "detail"] {
        c.find(Locator::Css(&format!("[data-zoom={level}]"))).await.unwrap().click().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(js(&c, "return document.getElementById('cc').getAttribute('data-zoom')").await, json!(level));
    }
    let anchored = js(
        &c,
        "const svg = document.getElementById('cc-svg'); const r = svg.getBoundingClientRect();
         const cx = r.left + 200, cy = r.top + 150; const before = window.commandCenter.view();
         const world = [(200 - before.x) / before.k, (150 - before.y) / before.k];
         svg.dispatchEvent(new WheelEvent('wheel', { deltaY: -300, clientX: cx, clientY: cy, bubbles: true, cancelable: true }));
         const after = window.commandCenter.view();
         return [after.k > before.k, Math.abs(world[0] * after.k + after.x - 200) < 0.5, Math.abs(world[1] * after.k + after.y - 150) < 0.5];",
    )
    .await;
    assert_eq!(anchored, json!([true, true, true]));

    // Filters by kind and by status.
    c.find(Locator::Css("#cc-kinds input[value=instance]")).await.unwrap().click().await.unwrap();
    let hidden = js(&c, "return Array.from(document.querySelectorAll('#cc-objects .cc-obj.filtered')).map(e => e.getAttribute('data-id').split(':')[0])").await;
    assert!(!hidden.as_array().unwrap().is_empty() && hidden.as_array().unwrap().iter().all(|k| k == "instance"), "{hidden}");
    c.find(Locator::Css("#cc-kinds input[value=instance]")).await.unwrap().click().await.unwrap();

    // acme-web-01 goes quiet: it becomes a hotspot without a reload.
    let renders = js(&c, "return Number(document.getElementById('cc').getAttribute('data-renders'))").await.as_u64().unwrap();
    js(&c, "window.__sameDocument = 'yes'; return null").await;
    go_quiet(&s, &f.node_a).await;
    let hot = format!("#cc-objects .cc-obj.hot[data-id='node:{}']", f.node_a);
    c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(&hot)).await.unwrap();
    assert_eq!(js(&c, "return window.__sameDocument || null").await, json!("yes"), "the page was not reloaded");
    assert!(js(&c, "return Number(document.getElementById('cc').getAttribute('data-renders'))").await.as_u64().unwrap() > renders);
    let spot = c.find(Locator::Css(&format!("#cc-hotspots li[data-hotspot='node-stale:{}'] button", f.node_a))).await.unwrap();
    assert_eq!(spot.text().await.unwrap(), "Node acme-web-01 has gone quiet");
    spot.click().await.unwrap();
    assert_eq!(c.find(Locator::Css("#cc-i-label")).await.unwrap().text().await.unwrap(), "acme-web-01");
    assert!(c.find(Locator::Css("#cc-i-next")).await.unwrap().text().await.unwrap().contains("agent"));
    shot(&c, "command-center-hotspot").await;

    // Two resource pages, for people to look at.
    c.goto(&s.url("/ui/nodes")).await.unwrap();
    wait_for_path(&c, "/ui/nodes").await;
    shot(&c, "resource-nodes").await;
    c.goto(&s.url("/ui/instances")).await.unwrap();
    wait_for_path(&c, "/ui/instances").await;
    shot(&c, "resource-instances").await;

    // An inline script is refused by the policy of the Command Center page.
    c.goto(&s.url("/")).await.unwrap();
    rendered(&c, 1).await;
    let blocked = js(
        &c,
        "const s = document.createElement('script'); s.textContent = 'window.__pwned = \"inline\"'; document.body.appendChild(s); return window.__pwned === undefined",
    )
    .await;
    assert_eq!(blocked, json!(true), "the Content Security Policy forbids inline script");
    assert_eq!(pwned(&c).await, Value::Null);
    let _ = &f.agents;
    c.close().await.unwrap();
}
