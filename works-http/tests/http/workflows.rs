//! Capabilities, permissions, connections, workflows and runs over HTTP: the JSON routes
//! and the pages drive the same core calls; a bad step is a 400 naming the step and
//! field; a paused step is approved by typing its phrase on the run page; another
//! tenant's workflow and run are records that do not exist; credentials never come back.

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use works_core::Role;
use works_testkit::{TestServer, ADMIN_PASSWORD};

use crate::browser_session::{sign_in, Browser};
use crate::common::{as_admin, as_token};

crate::on_both_backends!(workflows_over_the_api_and_the_pages);

pub(crate) async fn page(s: &TestServer, b: &Browser, path: &str) -> (StatusCode, String) {
    let r = s.client().get(s.url(path)).header(COOKIE, &b.cookie).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

pub(crate) async fn submit(s: &TestServer, b: &Browser, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        f.append_pair(k, v);
    }
    f.append_pair("csrf_token", &b.csrf);
    let r = s.client().post(s.url(path)).header(COOKIE, &b.cookie).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(f.finish()).send().await.unwrap();
    let status = r.status();
    let location = r.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

async fn workflows_over_the_api_and_the_pages(s: &TestServer) {
    let acme = s.create_org("Acme Dental").await;
    let bolt = s.create_org("Bolt Legal").await;
    let bolt_admin = s.create_user("bolt-admin", Role::OrgAdmin, Some(&bolt.id)).await;
    let admin = as_admin(s);

    let caps = admin.get("/api/v1/capabilities").await.expect_status(200).clone();
    assert!(caps.as_array().unwrap().iter().any(|c| c["id"] == "google_drive"), "{caps}");
    admin.post("/api/v1/capability-packs/office_essentials/attach", json!({"org_id": acme.id})).await.expect_status(200);
    let perms = admin.get(&format!("/api/v1/permissions?org_id={}", acme.id)).await.expect_status(200).clone();
    let drive = perms["items"].as_array().unwrap().iter().find(|p| p["capability_id"] == "google_drive").unwrap().clone();
    admin.patch(&format!("/api/v1/permissions/{}", drive["id"].as_str().unwrap()), json!({"require_confirmation": true})).await.expect_status(200);

    let secret = "ya29.never-shown-again";
    let conn = admin
        .post("/api/v1/connections", json!({"org_id": acme.id, "name": "Acme Drive", "provider": "google_drive", "capabilities": ["google_drive"], "credential": secret}))
        .await
        .expect_status(201)
        .clone();
    assert!(!conn.to_string().contains(secret) && conn["has_credential"] == true, "{conn}");
    let conn_id = conn["id"].as_str().unwrap().to_owned();

    let bad = admin.post("/api/v1/workflows", json!({"org_id": acme.id, "name": "Bad", "steps": [{"capability_id": "google_drive", "action": "list_files"}]})).await.expect_status(400).clone();
    assert_eq!(bad["error"]["field"], "steps[0].connection_id", "{bad}");
    let wf = admin
        .post("/api/v1/workflows", json!({"org_id": acme.id, "name": "Weekly files", "steps": [{"capability_id": "google_drive", "action": "list_files", "connection_id": conn_id, "parameters": {"page_size": 5}}]}))
        .await
        .expect_status(201)
        .clone();
    let wf_id = wf["id"].as_str().unwrap().to_owned();

    // Another tenant sees none of it, exactly like records that do not exist.
    let bolt_api = as_token(s, &bolt_admin.token);
    bolt_api.get(&format!("/api/v1/workflows/{wf_id}")).await.expect_status(404);
    bolt_api.get(&format!("/api/v1/connections/{conn_id}")).await.expect_status(404);
    bolt_api.post(&format!("/api/v1/workflows/{wf_id}/runs"), json!({"mode": "simulation"})).await.expect_status(404);
    assert_eq!(bolt_api.get("/api/v1/workflows").await.expect_status(200)["items"], json!([]));

    let run = admin.post(&format!("/api/v1/workflows/{wf_id}/runs"), json!({"mode": "live"})).await.expect_status(201).clone();
    assert_eq!(run["state"], "awaiting_approval", "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let phrase = run["steps"][0]["approval_phrase"].as_str().unwrap().to_owned();
    bolt_api.post(&format!("/api/v1/workflows/{wf_id}/runs/{run_id}/approve"), json!({"phrase": phrase})).await.expect_status(404);
    let wrong = admin.post(&format!("/api/v1/workflows/{wf_id}/runs/{run_id}/approve"), json!({"phrase": "yes"})).await.expect_status(400).clone();
    assert_eq!(wrong["error"]["field"], "phrase");

    // The pages: the run view shows the phrase; a wrong one is refused next to the field;
    // the right one runs the step, labelled.
    let browser = sign_in(s, "admin", ADMIN_PASSWORD).await;
    for path in ["/ui/capabilities", "/ui/permissions", "/ui/connections", "/ui/workflows", &format!("/ui/workflows/{wf_id}")] {
        let (status, body) = page(s, &browser, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(!body.contains(secret), "{path}");
    }
    let run_page = format!("/ui/workflows/{wf_id}/runs/{run_id}");
    let (_, body) = page(s, &browser, &run_page).await;
    assert!(body.contains(&phrase) && body.contains("Waiting for approval"), "{body}");
    let (status, _, body) = submit(s, &browser, &format!("{run_page}/approve"), &[("phrase", "nope")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Does not match") && body.contains("aria-invalid=\"true\""), "{body}");
    let (status, location, _) = submit(s, &browser, &format!("{run_page}/approve"), &[("phrase", &phrase)]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, format!("{run_page}?notice=approved").as_str()));
    let (_, body) = page(s, &browser, &run_page).await;
    assert!(body.contains("Complete") && body.contains("Approved by admin"), "{body}");
    assert!(body.contains("Live data") || body.contains("Stub"), "results are labelled: {body}");

    // A simulation started from the workflow page lands on its run.
    let (status, location, _) = submit(s, &browser, &format!("/ui/workflows/{wf_id}/runs"), &[("mode", "simulation")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, body) = page(s, &browser, &location).await;
    assert!(body.contains("Waiting for approval"), "confirmation applies to simulations too: {body}");

    let doc: Value = s.client().get(s.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for path in ["/api/v1/capabilities", "/api/v1/permissions", "/api/v1/connections", "/api/v1/workflows", "/api/v1/workflows/{id}/runs", "/api/v1/workflows/{id}/runs/{run_id}/approve"] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
}
