//! The tenant-isolation sweep, generated from the OpenAPI document.
//!
//! Organization B gets records of every kind, made through the API (an agent enrolls
//! and checks in through the agent routes). B's ids are then discovered generically:
//! every collection of the document is listed as the MSP admin and the records that
//! belong to B (or to the MSP alone) are kept, nested collections resolved from their
//! parents' ids. Then, for every path and method of the document:
//!
//! - as organization A's admin and A's user, with B's ids and with ids that name
//!   nothing (path, query and body ids): never a success, only 403 or 404 (a few routes
//!   validate a body before they look anything up: 400), and the answer about B's id is
//!   the answer about a missing id, byte for byte once the id is replaced;
//! - with no token, a forged token and a revoked token: 401, except the documented
//!   public routes; the agent routes refuse every person's token;
//! - every list A's roles may read holds no record of B;
//! - B's records, read as the MSP admin, are the same before and after.
//!
//! The sweep fails when an id-taking route of the document could not be given a
//! foreign id, so a new route is covered as soon as it is documented, or the failure
//! names the fixture that is missing. It prints its coverage and how many requests it
//! sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{json, Map, Value};
use works_core::Role;
use works_testkit::TestServer;

use crate::common::{answer, Answer};

crate::on_both_backends!(organization_a_reaches_nothing_of_organization_b);

/// Routes anyone may call without a token (the document gives them no security).
const PUBLIC: &[&str] =
    &["GET /healthz", "GET /readyz", "GET /api/v1/version", "GET /api/v1/openapi.json", "POST /api/v1/auth/login", "POST /api/v1/agent/enroll"];

/// Id-taking routes swept without a foreign id, and why. Keep this list short: every
/// entry is a route whose ids name no tenant's record.
const NOT_TENANT_IDS: &[(&str, &str)] = &[
    // The capability catalog is the same for every organization: its ids name no
    // tenant's record. (The attach route's body `org_id` is swept like any body id.)
    ("GET /api/v1/capabilities/{id}", "the capability catalog is shared"),
    ("POST /api/v1/capability-packs/{id}/attach", "the capability catalog is shared"),
];

/// Body and query fields whose ids name a record of another collection than the one
/// their name suggests.
const ALIASES: &[(&str, &str)] = &[
    ("actor", "/api/v1/users"),
    ("target", "/api/v1/nodes"),
    ("credential", "/api/v1/ssh-credentials"),
    ("webhook", "/api/v1/alerts/webhooks"),
];

/// Fields whose ids name catalog entries, not records (see `NOT_TENANT_IDS`).
const CATALOG_FIELDS: &[&str] = &["capability_id", "command_id"];

struct Sweep<'a> {
    s: &'a TestServer,
    sent: AtomicUsize,
}

impl Sweep<'_> {
    async fn call(&self, token: Option<&str>, method: Method, path: &str, body: Option<&Value>) -> Answer {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let mut r = self.s.client().request(method, self.s.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        answer(r.send().await.unwrap()).await
    }

    async fn ok(&self, token: &str, method: Method, path: &str, body: Value) -> Value {
        let a = self.call(Some(token), method.clone(), path, Some(&body)).await;
        assert!(a.status.is_success(), "fixture {method} {path} failed ({}): {}", a.status, a.text);
        a.body
    }
}

/// One operation of the document.
#[derive(Clone)]
struct Op {
    method: Method,
    path: String,
    op: Value,
}

impl Op {
    fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
    fn path_params(&self) -> Vec<String> {
        self.path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|p| p.strip_suffix('}'))).map(str::to_owned).collect()
    }
    fn query_id_params(&self) -> Vec<String> {
        self.op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query" && p["name"].as_str().is_some_and(|n| n.ends_with("_id")))
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    }
    fn is_public(&self) -> bool {
        PUBLIC.contains(&self.key().as_str())
    }
    fn is_agent(&self) -> bool {
        self.path.starts_with("/api/v1/agent/")
    }
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let method = match m.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            ops.push(Op { method, path: path.clone(), op: op.clone() });
        }
    }
    ops
}

fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    while let Some(r) = schema["$ref"].as_str() {
        schema = &doc["components"]["schemas"][r.rsplit('/').next().unwrap()];
    }
    if let Some(first) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()).and_then(|v| v.first()) {
        return resolve(doc, first);
    }
    schema
}

/// A value of `schema` that passes shape checks: the last enum value (`org_user`, not `msp_admin`), 1, false, a string
/// long enough for a password.
fn minimal(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    if let Some(e) = schema["enum"].as_array().and_then(|e| e.last()) {
        return e.clone();
    }
    let ty = match &schema["type"] {
        Value::Array(types) => types.iter().find(|t| *t != "null").cloned().unwrap_or(Value::Null),
        t => t.clone(),
    };
    match ty.as_str() {
        Some("integer" | "number") => json!(1),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("string") => json!("sweep-minimal-value"),
        _ => {
            let mut body = Map::new();
            let required: BTreeSet<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                if required.contains(name.as_str()) {
                    body.insert(name.clone(), minimal(doc, prop));
                }
            }
            Value::Object(body)
        }
    }
}

/// The JSON body schema of an operation and its `*_id` properties.
fn body_schema<'a>(doc: &'a Value, op: &'a Op) -> Option<&'a Value> {
    op.op["requestBody"]["content"]["application/json"]["schema"].as_object().map(|_| resolve(doc, &op.op["requestBody"]["content"]["application/json"]["schema"]))
}

fn body_id_fields(doc: &Value, op: &Op) -> Vec<String> {
    body_schema(doc, op)
        .and_then(|s| s["properties"].as_object())
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .filter(|k| k.ends_with("_id") && !CATALOG_FIELDS.contains(&k.as_str()))
        .collect()
}

/// The collection a `<kind>_id` field names.
fn collection_of(field: &str, collections: &BTreeSet<String>) -> Option<String> {
    let kind = field.strip_suffix("_id")?;
    if let Some((_, c)) = ALIASES.iter().find(|(k, _)| *k == kind) {
        return Some((*c).to_owned());
    }
    let kind = kind.replace('_', "-");
    [format!("/api/v1/{kind}s"), format!("/api/v1/{kind}es")].into_iter().find(|c| collections.contains(c))
}

/// The items of a list answer: an array, or `items`/`records`.
fn items_of(body: &Value) -> Option<Vec<Value>> {
    body.as_array().or(body["items"].as_array()).cloned()
}

/// An id of the same shape that names nothing: every UUID in it replaced.
fn missing_like(id: &str) -> String {
    let re_uuid = |s: &str| uuid::Uuid::parse_str(s).is_ok();
    let mut out = String::new();
    let mut rest = id;
    let mut replaced = false;
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && re_uuid(&rest[..36]) {
            out.push_str(&uuid::Uuid::new_v4().to_string());
            rest = &rest[36..];
            replaced = true;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if replaced {
        out
    } else {
        format!("{id}-{}", uuid::Uuid::new_v4())
    }
}

fn fill(template: &str, ids: &BTreeMap<String, String>) -> String {
    let mut p = template.to_owned();
    for (k, v) in ids {
        p = p.replace(&format!("{{{k}}}"), v);
    }
    p
}

/// The answer with every given id replaced, to compare answers about different ids.
fn normalized(a: &Answer, ids: &[&str]) -> (u16, String) {
    let mut text = a.text.clone();
    for id in ids {
        text = text.replace(id, "<id>");
    }
    (a.status.as_u16(), text)
}

/// A request to compare: the path with foreign ids, the path with missing ids, and the
/// (foreign, missing) id pairs to replace before comparing the answers.
type Case = (String, String, Vec<(String, String)>);

/// Who a foreign record belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Owner {
    OrgB,
    Msp,
}

struct Found {
    /// Collection template → foreign ids (B's first).
    foreign: BTreeMap<String, Vec<(String, Owner)>>,
    /// Every id of a B record.
    b_ids: BTreeSet<String>,
    /// MSP-admin answers cached by path.
    cache: BTreeMap<String, (u16, Value)>,
}

fn ssh_key() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "sweep", "-f"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("ssh-keygen is needed (openssh-client): {e}"));
    assert!(out.status.success());
    let key = std::fs::read_to_string(&path).unwrap();
    (dir, key)
}

/// Records of every kind in organization B (and the MSP's own shared ones), made
/// through the API.
async fn populate_b(w: &Sweep<'_>, org_b: &str, b_admin: &str, b_user_id: &str) {
    let admin = w.s.admin_token.as_str();
    let post = |path: &'static str, body: Value| async move { w.ok(admin, Method::POST, path, body).await };

    w.ok(b_admin, Method::POST, "/api/v1/tokens", json!({"name": "beta script"})).await;
    let node = post("/api/v1/nodes", json!({"name": "beta-web-01", "org_id": org_b})).await;
    let node_id = node["id"].as_str().unwrap().to_owned();
    post("/api/v1/nodes", json!({"name": "beta-spare-01", "org_id": org_b})).await;
    post("/api/v1/nodes", json!({"name": "msp-jump-01"})).await;

    // The node's agent enrolls and checks in through the agent routes, with an
    // OpenClaw gateway in its inventory.
    let enrollment = w.ok(admin, Method::POST, &format!("/api/v1/nodes/{node_id}/enrollment-token"), json!({})).await;
    let enrolled = w.call(None, Method::POST, "/api/v1/agent/enroll", Some(&json!({"token": enrollment["token"], "hostname": "beta-web-01", "agent_version": "test"}))).await;
    assert!(enrolled.status.is_success(), "{}", enrolled.text);
    let agent = enrolled.body["credential"].as_str().unwrap().to_owned();
    let health = json!({"uptime_secs": 1000, "load1": 0.1, "memory_total_bytes": 4_u64 << 30, "memory_available_bytes": 1_u64 << 30,
        "disk_total_bytes": 100_u64 << 30, "disk_available_bytes": 60_u64 << 30, "agent_version": "test", "docker_reachable": true, "docker_version": "26.1.5"});
    let gateway = json!({"id": format!("{:0>64}", 7), "name": "openclaw-gateway", "image": "anthropy/openclaw:2026.9.6", "state": "running",
        "labels": {}, "ports": [{"container_port": 18789, "host_port": 18789, "host_ip": "127.0.0.1", "protocol": "tcp"}], "mounts": []});
    w.ok(&agent, Method::POST, "/api/v1/agent/checkin", json!({"health": health, "containers": [gateway]})).await;

    // A failed job (a health issue), claimed and reported by the agent.
    let failing = w.ok(admin, Method::POST, "/api/v1/jobs", json!({"node_id": node_id, "kind": "health_check"})).await;
    let claimed = w.ok(&agent, Method::POST, "/api/v1/agent/jobs/claim?wait_secs=0", json!({})).await;
    assert_eq!(claimed["id"], failing["id"], "{claimed}");
    let job_path = format!("/api/v1/agent/jobs/{}", failing["id"].as_str().unwrap());
    w.ok(&agent, Method::POST, &format!("{job_path}/start"), json!({})).await;
    w.ok(&agent, Method::POST, &format!("{job_path}/complete"), json!({"succeeded": false, "reason": "Docker did not answer."})).await;

    // Instances: the discovered gateway taken over, and a deploy waiting for its phrase.
    let instances = w.ok(admin, Method::GET, &format!("/api/v1/instances?node_id={node_id}"), Value::Null).await;
    let found = instances["items"].as_array().unwrap().iter().find(|i| i["state"] == "discovered").unwrap_or_else(|| panic!("{instances}")).clone();
    let managed = found["id"].as_str().unwrap().to_owned();
    w.ok(admin, Method::POST, &format!("/api/v1/instances/{managed}/takeover"), json!({"phrase": found["takeover_phrase"]})).await;
    post("/api/v1/instances", json!({"node_id": node_id, "version": "2026.9.6"})).await;
    post("/api/v1/jobs", json!({"node_id": node_id, "kind": "deploy"})).await;
    let i = format!("/api/v1/instances/{managed}");
    w.ok(admin, Method::POST, &format!("{i}/assignments"), json!({"user_id": b_user_id})).await;
    w.ok(admin, Method::POST, &format!("{i}/cli-runs"), json!({"command_id": "health"})).await;
    w.ok(admin, Method::POST, &format!("{i}/upgrade-plans"), json!({"to_version": "2026.10.1"})).await;
    w.ok(admin, Method::POST, &format!("{i}/health-checks"), json!({})).await;

    // Capabilities, permissions, a connection, a workflow and a run.
    post("/api/v1/capability-packs/office_essentials/attach", json!({"org_id": org_b})).await;
    let conn = post("/api/v1/connections", json!({"org_id": org_b, "name": "Beta Drive", "provider": "google_drive", "capabilities": ["google_drive"], "credential": "ya29.beta"})).await;
    let wf = post(
        "/api/v1/workflows",
        json!({"org_id": org_b, "name": "Beta files", "steps": [{"capability_id": "google_drive", "action": "list_files", "connection_id": conn["id"], "parameters": {"page_size": 5}}]}),
    )
    .await;
    w.ok(admin, Method::POST, &format!("/api/v1/workflows/{}/runs", wf["id"].as_str().unwrap()), json!({"mode": "simulation"})).await;
    // A schedule of B's workflow, made by B's admin.
    w.ok(
        b_admin,
        Method::POST,
        "/api/v1/schedules",
        json!({"name": "Beta mornings", "target": {"type": "workflow", "workflow_id": wf["id"], "mode": "simulation"}, "cron": "0 9 * * 1-5", "time_zone": "Europe/Berlin"}),
    )
    .await;

    // The access layer: the MSP's key and jumpbox, B's host and a real (refused) attempt.
    let (_dir, key) = ssh_key();
    let cred = post("/api/v1/ssh-credentials", json!({"name": "msp-key", "private_key": key})).await;
    post("/api/v1/jumpboxes", json!({"name": "bastion", "address": "127.0.0.1", "port": 1, "user": "root", "credential_id": cred["id"]})).await;
    let host = post("/api/v1/hosts", json!({"org_id": org_b, "name": "beta-db-01", "address": "127.0.0.1", "port": 1, "user": "root", "credential_id": cred["id"]})).await;
    let attempt = w.ok(admin, Method::POST, &format!("/api/v1/hosts/{}/test-access", host["id"].as_str().unwrap()), json!({})).await;
    let attempt_path = format!("/api/v1/access-attempts/{}", attempt["id"].as_str().unwrap());
    for _ in 0..600 {
        if w.ok(admin, Method::GET, &attempt_path, Value::Null).await["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Alerts are the MSP's.
    post("/api/v1/alerts/webhooks", json!({"name": "msp pager", "url": "https://example.com/hook"})).await;
}

/// Lists every collection of the document as the MSP admin and keeps what A may not
/// see; marks B's records (`org_id` B, or pointing at a B record, or under a B parent).
async fn discover(w: &Sweep<'_>, ops: &[Op], org_b: &str, b_user_ids: &[String], a_admin: &str) -> Found {
    let admin = w.s.admin_token.clone();
    let mut found = Found { foreign: BTreeMap::new(), b_ids: BTreeSet::new(), cache: BTreeMap::new() };
    found.b_ids.insert(org_b.to_owned());
    found.b_ids.extend(b_user_ids.iter().cloned());

    // Collection templates: every prefix of an id-taking path that ends before an id.
    let mut templates: BTreeSet<String> = BTreeSet::new();
    for op in ops.iter().filter(|o| !o.is_agent()) {
        let segs: Vec<&str> = op.path.split('/').collect();
        for (i, seg) in segs.iter().enumerate() {
            if seg.starts_with('{') {
                templates.insert(segs[..i].join("/"));
            }
        }
    }

    // Top-level collections first, twice, so that records pointing at B's records
    // found later are marked too.
    let top: Vec<String> = templates.iter().filter(|t| !t.contains('{')).cloned().collect();
    let mut top_items: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for t in &top {
        let mine = list(w, &admin, t, &mut found.cache).await;
        let theirs = list(w, a_admin, t, &mut BTreeMap::new()).await;
        let visible: BTreeSet<String> = theirs.iter().filter_map(|i| id_of(i, "id")).collect();
        top_items.insert(t.clone(), mine.into_iter().filter(|i| id_of(i, "id").is_some_and(|id| !visible.contains(&id))).collect());
    }
    // Collections filtered by another record (`/api/v1/tokens?user_id=…`): listed for
    // each of B's records of that kind too.
    let collections: BTreeSet<String> = top.iter().cloned().collect();
    for t in &top {
        let Some(op) = ops.iter().find(|o| o.method == Method::GET && &o.path == t) else { continue };
        for q in op.query_id_params() {
            let Some(c) = collection_of(&q, &collections) else { continue };
            let parents: Vec<String> = top_items.get(&c).into_iter().flatten().filter_map(|i| id_of(i, "id")).filter(|id| found.b_ids.contains(id)).collect();
            for parent in parents {
                let extra = list(w, &admin, &format!("{t}?{q}={parent}"), &mut found.cache).await;
                let known: BTreeSet<String> = top_items[t].iter().filter_map(|i| id_of(i, "id")).collect();
                let new: Vec<Value> = extra.into_iter().filter(|i| id_of(i, "id").is_some_and(|id| !known.contains(&id))).collect();
                top_items.get_mut(t).unwrap().extend(new);
            }
        }
    }
    for _ in 0..3 {
        for items in top_items.values() {
            for item in items {
                let id = id_of(item, "id").unwrap();
                let is_b = item["org_id"] == org_b
                    || item.as_object().unwrap().iter().any(|(k, v)| k != "id" && k.ends_with("_id") && v.as_str().is_some_and(|v| found.b_ids.contains(v)));
                if is_b {
                    found.b_ids.insert(id);
                }
            }
        }
    }
    for (t, items) in &top_items {
        let mut ids: Vec<(String, Owner)> = items
            .iter()
            .map(|i| {
                let id = id_of(i, "id").unwrap();
                let owner = if found.b_ids.contains(&id) { Owner::OrgB } else { Owner::Msp };
                (id, owner)
            })
            .collect();
        ids.sort_by_key(|(_, o)| *o == Owner::Msp);
        found.foreign.insert(t.clone(), ids);
    }
    found
}

fn id_of(item: &Value, field: &str) -> Option<String> {
    item[field].as_str().or(item["id"].as_str()).map(str::to_owned)
}

/// The items of a collection: `GET path`, or the array named by its last segment in
/// the parent's answer (`/api/v1/health/issues` is `issues` of `/api/v1/health`).
async fn list(w: &Sweep<'_>, token: &str, path: &str, cache: &mut BTreeMap<String, (u16, Value)>) -> Vec<Value> {
    let (status, body) = get_cached(w, token, path, cache).await;
    if (200..300).contains(&status) {
        if let Some(items) = items_of(&body) {
            return items;
        }
    }
    let (parent, last) = path.rsplit_once('/').unwrap();
    let (status, body) = get_cached(w, token, parent, cache).await;
    if (200..300).contains(&status) {
        if let Some(items) = body[last].as_array() {
            return items.clone();
        }
    }
    Vec::new()
}

async fn get_cached(w: &Sweep<'_>, token: &str, path: &str, cache: &mut BTreeMap<String, (u16, Value)>) -> (u16, Value) {
    if let Some(hit) = cache.get(path) {
        return hit.clone();
    }
    let a = w.call(Some(token), Method::GET, path, None).await;
    let got = (a.status.as_u16(), a.body);
    cache.insert(path.to_owned(), got.clone());
    got
}

/// Foreign ids for every path parameter of `op`: B's where there are any.
async fn bind(w: &Sweep<'_>, found: &mut Found, op: &Op) -> Option<(BTreeMap<String, String>, Owner)> {
    let admin = w.s.admin_token.clone();
    let segs: Vec<String> = op.path.split('/').map(str::to_owned).collect();
    // Depth-first over candidate parents until every parameter has a value.
    async fn go(
        w: &Sweep<'_>,
        admin: &str,
        found: &mut Found,
        segs: &[String],
        i: usize,
        bound: BTreeMap<String, String>,
        owner: Owner,
    ) -> Option<(BTreeMap<String, String>, Owner)> {
        let Some(pos) = (i..segs.len()).find(|&j| segs[j].starts_with('{')) else {
            return Some((bound, owner));
        };
        let param = segs[pos].trim_matches(|c| c == '{' || c == '}').to_owned();
        let template = segs[..pos].join("/");
        let candidates: Vec<(String, Owner)> = if template.contains('{') {
            // Nested: everything under a foreign parent is the parent's owner's.
            let path = fill(&template, &bound);
            let items = list(w, admin, &path, &mut found.cache).await;
            let ids: Vec<String> = items.iter().filter_map(|it| id_of(it, &param)).collect();
            for id in &ids {
                if owner == Owner::OrgB {
                    found.b_ids.insert(id.clone());
                }
            }
            ids.into_iter().map(|id| (id, owner)).collect()
        } else {
            found.foreign.get(&template).cloned().unwrap_or_default()
        };
        for (id, o) in candidates {
            let mut next = bound.clone();
            next.insert(param.clone(), id);
            if let Some(done) = Box::pin(go(w, admin, found, segs, pos + 1, next, o)).await {
                return Some(done);
            }
        }
        None
    }
    go(w, &admin, found, &segs, 0, BTreeMap::new(), Owner::OrgB).await
}

/// The bodies (foreign, missing) for an operation: a minimal valid body with every
/// `*_id` field given a foreign id, or a missing one.
fn bodies(doc: &Value, op: &Op, found: &Found, collections: &BTreeSet<String>) -> (Option<Value>, Option<Value>, Vec<(String, String)>) {
    let Some(schema) = body_schema(doc, op) else {
        return (if op.method == Method::POST { Some(json!({})) } else { None }, if op.method == Method::POST { Some(json!({})) } else { None }, vec![]);
    };
    let base = minimal(doc, schema);
    let mut foreign = base.clone();
    let mut missing = base;
    let mut swapped = Vec::new();
    for field in body_id_fields(doc, op) {
        let Some(c) = collection_of(&field, collections) else { continue };
        let Some((id, _)) = found.foreign.get(&c).and_then(|ids| ids.first()) else { continue };
        let gone = missing_like(id);
        foreign[&field] = json!(id);
        missing[&field] = json!(gone);
        swapped.push((id.clone(), gone));
    }
    (Some(foreign), Some(missing), swapped)
}

fn forget_key(v: &mut Value, key: &str) {
    match v {
        Value::Object(m) => {
            m.remove(key);
            m.values_mut().for_each(|v| forget_key(v, key));
        }
        Value::Array(a) => a.iter_mut().for_each(|v| forget_key(v, key)),
        _ => {}
    }
}

async fn snapshot(w: &Sweep<'_>, ops: &[Op], found: &mut Found) -> BTreeMap<String, String> {
    let admin = w.s.admin_token.clone();
    let mut snap = BTreeMap::new();
    for op in ops.iter().filter(|o| o.method == Method::GET && !o.is_public()) {
        // The audit log grows with every refusal; metrics, the health answer, the map and the status summary
        // carry the time they were made (the map's records are snapshotted one by one).
        if op.path.starts_with("/api/v1/audit") || op.path.contains("metrics") || op.path == "/api/v1/health" || op.path == "/api/v1/map" || op.path == "/api/v1/status-summary" {
            continue;
        }
        let path = if op.path_params().is_empty() {
            op.path.clone()
        } else {
            match bind(w, found, op).await {
                Some((ids, _)) => fill(&op.path, &ids),
                None => continue,
            }
        };
        let mut a = w.call(Some(&admin), Method::GET, &path, None).await;
        // "The agent checked in 3 seconds ago" is about the clock, not the record.
        forget_key(&mut a.body, "status_reason");
        snap.insert(path, format!("{} {}", a.status, a.body));
    }
    snap
}

async fn organization_a_reaches_nothing_of_organization_b(s: &TestServer) {
    let w = Sweep { s, sent: AtomicUsize::new(0) };
    let org_a = s.create_org("Alpha").await;
    let org_b = s.create_org("Beta").await;
    let a_admin = s.create_user("alpha-admin", Role::OrgAdmin, Some(&org_a.id)).await;
    let a_user = s.create_user("alpha-user", Role::OrgUser, Some(&org_a.id)).await;
    let b_admin = s.create_user("beta-admin", Role::OrgAdmin, Some(&org_b.id)).await;
    let b_user = s.create_user("beta-user", Role::OrgUser, Some(&org_b.id)).await;
    populate_b(&w, &org_b.id, &b_admin.token, &b_user.user.id).await;

    let doc = w.call(None, Method::GET, "/api/v1/openapi.json", None).await.body;
    let ops = operations(&doc);
    // The document names each path parameter where it is: a query filter documented as
    // a path parameter is never sent by a client generated from it.
    for op in &ops {
        let documented: BTreeSet<String> = op.op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        let in_template: BTreeSet<String> = op.path_params().into_iter().collect();
        assert_eq!(documented, in_template, "{}: the path parameters the document names", op.key());
    }
    let collections: BTreeSet<String> = ops.iter().filter(|o| o.method == Method::GET).map(|o| o.path.clone()).collect();
    let mut found = discover(&w, &ops, &org_b.id, &[b_admin.user.id.clone(), b_user.user.id.clone()], &a_admin.token).await;
    let before = snapshot(&w, &ops, &mut found).await;
    assert!(before.len() > 20, "the snapshot reads B's records: {before:?}");

    // A revoked API token of A's admin.
    let revoked = w.ok(&a_admin.token, Method::POST, "/api/v1/tokens", json!({"name": "soon revoked"})).await;
    let revoked_token = revoked["token"].as_str().unwrap_or_else(|| panic!("{revoked}")).to_owned();
    w.ok(&a_admin.token, Method::DELETE, &format!("/api/v1/tokens/{}", revoked["info"]["id"].as_str().unwrap()), Value::Null).await;

    let forged = [format!("wks_{}", uuid::Uuid::new_v4().simple()), format!("wkt_{}", uuid::Uuid::new_v4().simple()), "not-a-token".to_owned()];
    let roles = [("A's admin", a_admin.token.as_str()), ("A's user", a_user.token.as_str())];

    let mut problems: Vec<String> = Vec::new();
    let mut uncovered: Vec<String> = Vec::new();
    let (mut id_ops, mut with_b, mut with_msp, mut excepted, mut bodies_swept, mut queries_swept) = (0, 0, 0, 0, 0, 0);

    // Every list A's roles may read holds nothing of B's: no id, no name. (First, before
    // A's own refused attempts put B's ids into A's part of the audit log.)
    for op in ops.iter().filter(|o| o.method == Method::GET && o.path_params().is_empty() && !o.is_public()) {
        for (who, token) in roles {
            let a = w.call(Some(token), Method::GET, &op.path, None).await;
            if let Some(leak) = found.b_ids.iter().find(|id| a.text.contains(id.as_str())) {
                problems.push(format!("{who}: GET {} shows B's record {leak}: {}", op.path, a.text));
            }
            if a.text.contains("Beta") || a.text.contains("beta-") {
                problems.push(format!("{who}: GET {} shows B's names: {}", op.path, a.text));
            }
        }
    }

    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for op in &ops {
        let key = op.key();
        let (foreign_body, missing_body, body_swaps) = bodies(&doc, op, &found, &collections);
        let params = op.path_params();
        let sample_path = if params.is_empty() { op.path.clone() } else { fill(&op.path, &params.iter().map(|p| (p.clone(), missing_like(&uuid::Uuid::new_v4().to_string()))).collect()) };

        // Without a valid token: 401, unless the route is public.
        if !op.is_public() {
            let mut tokens: Vec<Option<&str>> = vec![None, Some(revoked_token.as_str())];
            tokens.extend(forged.iter().map(|f| Some(f.as_str())));
            for t in tokens {
                let a = w.call(t, op.method.clone(), &sample_path, missing_body.as_ref()).await;
                if a.status != 401 {
                    problems.push(format!("{key} with token {t:?}: expected 401, got {} {}", a.status, a.text));
                }
            }
        }
        // Agent routes take agent credentials: every person's token is refused.
        if op.is_agent() {
            if !op.is_public() {
                for t in [a_admin.token.as_str(), a_user.token.as_str(), s.admin_token.as_str()] {
                    let a = w.call(Some(t), op.method.clone(), &sample_path, missing_body.as_ref()).await;
                    if a.status != 401 {
                        problems.push(format!("{key} with a person's token: expected 401, got {} {}", a.status, a.text));
                    }
                }
            }
            continue;
        }
        if op.is_public() {
            continue;
        }

        // Path ids.
        let mut cases: Vec<Case> = Vec::new();
        if !params.is_empty() {
            id_ops += 1;
            if let Some((_, why)) = NOT_TENANT_IDS.iter().find(|(k, _)| *k == key) {
                excepted += 1;
                eprintln!("sweep: {key}: no foreign path id ({why})");
            } else {
                match bind(&w, &mut found, op).await {
                    Some((ids, owner)) => {
                        if owner == Owner::OrgB {
                            with_b += 1;
                        } else {
                            with_msp += 1;
                        }
                        let gone: BTreeMap<String, String> = ids.iter().map(|(k, v)| (k.clone(), missing_like(v))).collect();
                        let swaps = params.iter().map(|p| (ids[p].clone(), gone[p].clone())).collect();
                        cases.push((fill(&op.path, &ids), fill(&op.path, &gone), swaps));
                    }
                    None => uncovered.push(key.clone()),
                }
            }
        }
        // Query ids (lists filtered by another tenant's record).
        for q in op.query_id_params() {
            let Some(c) = collection_of(&q, &collections) else { continue };
            let Some((id, _)) = found.foreign.get(&c).and_then(|ids| ids.first()).cloned() else { continue };
            if !params.is_empty() {
                continue;
            }
            queries_swept += 1;
            let gone = missing_like(&id);
            cases.push((format!("{}?{q}={id}", op.path), format!("{}?{q}={gone}", op.path), vec![(id, gone)]));
        }
        // Body ids on routes without path ids.
        if params.is_empty() && !body_swaps.is_empty() {
            bodies_swept += 1;
            cases.push((op.path.clone(), op.path.clone(), vec![]));
        }

        for (foreign_path, missing_path, mut swaps) in cases {
            swaps.extend(body_swaps.iter().cloned());
            let replaced: Vec<&str> = swaps.iter().flat_map(|(f, m)| [f.as_str(), m.as_str()]).collect();
            for (who, token) in roles {
                let theirs = w.call(Some(token), op.method.clone(), &foreign_path, foreign_body.as_ref()).await;
                let nothing = w.call(Some(token), op.method.clone(), &missing_path, missing_body.as_ref()).await;
                *statuses.entry(theirs.status.as_u16()).or_default() += 1;
                if theirs.status == 400 {
                    eprintln!("sweep: {who}: {} {foreign_path} is refused as bad input before any lookup: {}", op.method, theirs.text);
                }
                let is_list = op.method == Method::GET && theirs.status.is_success();
                if is_list {
                    // A filtered list: allowed, but it holds nothing of B's.
                    if let Some(leak) = found.b_ids.iter().find(|id| theirs.text.contains(id.as_str())) {
                        problems.push(format!("{who}: {} {foreign_path} shows B's record {leak}: {}", op.method, theirs.text));
                    }
                } else if !matches!(theirs.status.as_u16(), 400 | 403 | 404) {
                    problems.push(format!("{who}: {} {foreign_path}: expected 403 or 404, got {} {}", op.method, theirs.status, theirs.text));
                }
                if normalized(&theirs, &replaced) != normalized(&nothing, &replaced) {
                    problems.push(format!(
                        "{who}: {} {foreign_path} answers unlike a missing id:\n  theirs:  {} {}\n  missing: {} {}",
                        op.method, theirs.status, theirs.text, nothing.status, nothing.text
                    ));
                }
            }
        }

    }

    // Every route the document marks public is in PUBLIC, and back.
    let documented_public: BTreeSet<String> =
        ops.iter().filter(|o| o.op["security"].as_array().is_none_or(|s| s.is_empty()) && doc["security"].is_null()).map(Op::key).collect();
    let listed: BTreeSet<String> = PUBLIC.iter().map(|p| (*p).to_owned()).collect();
    assert_eq!(documented_public, listed, "the routes the document marks public are the routes the sweep expects without a token");

    let after = snapshot(&w, &ops, &mut found).await;
    for (path, was) in &before {
        let now = after.get(path).unwrap_or_else(|| panic!("{path} could not be read after the sweep"));
        if now != was {
            problems.push(format!("B's record changed at {path}:\n  before: {was}\n  after:  {now}"));
        }
    }

    let sent = w.sent.load(Ordering::Relaxed);
    eprintln!(
        "sweep ({}): {} operations; {id_ops} take path ids: {with_b} swept with B's ids, {with_msp} with the MSP's own, {excepted} excepted, {} uncovered; \
         {bodies_swept} bodies and {queries_swept} query filters with foreign ids; {} B records; answers to A's roles about foreign ids by status: {statuses:?}; {sent} requests",
        s.backend,
        ops.len(),
        uncovered.len(),
        found.b_ids.len(),
    );
    assert!(
        uncovered.is_empty() && problems.is_empty(),
        "no foreign id could be found for these id-taking routes (add a fixture to populate_b): {uncovered:#?}\n{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(with_b >= 40, "most id-taking routes are swept with B's ids ({with_b})");
}
