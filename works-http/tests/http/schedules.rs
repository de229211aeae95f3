//! Schedules over HTTP: create, list, show, change and delete through the JSON routes
//! and the page; a bad cron expression, time zone or risky job kind is a 400 naming its
//! field; another tenant's schedule is a record that does not exist; a fire starts a run
//! recorded on the workflow like any other.

use chrono::{Duration, Utc};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::json;
use works_core::{NewNode, Role};
use fantoccini::Locator;
use works_testkit::{TestServer, ADMIN_PASSWORD, USER_PASSWORD};

use crate::browser::{chromedriver_or_skip, connect, text_of, wait_for_path, Driver};
use crate::browser_session::{sign_in, Browser};
use crate::common::{as_admin, as_token};

crate::on_both_backends!(schedules_over_the_api_and_the_page);

async fn submit(s: &TestServer, b: &Browser, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
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

async fn schedules_over_the_api_and_the_page(s: &TestServer) {
    let acme = s.create_org("Acme Dental").await;
    let bolt = s.create_org("Bolt Legal").await;
    let acme_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&acme.id)).await;
    let bolt_admin = s.create_user("bolt-admin", Role::OrgAdmin, Some(&bolt.id)).await;
    let admin = as_admin(s);
    let acme_api = as_token(s, &acme_admin.token);
    let bolt_api = as_token(s, &bolt_admin.token);

    admin.post("/api/v1/capability-packs/office_essentials/attach", json!({"org_id": acme.id})).await.expect_status(200);
    let conn = admin
        .post("/api/v1/connections", json!({"org_id": acme.id, "name": "Acme Drive", "provider": "google_drive", "capabilities": ["google_drive"], "status": "connected"}))
        .await
        .expect_status(201)
        .clone();
    let wf = admin
        .post("/api/v1/workflows", json!({"org_id": acme.id, "name": "Weekly files", "steps": [{"capability_id": "google_drive", "action": "list_files", "connection_id": conn["id"], "parameters": {"page_size": 5}}]}))
        .await
        .expect_status(201)
        .clone();
    let wf_id = wf["id"].as_str().unwrap().to_owned();
    let node = s.works.node_create(&s.admin, NewNode { name: "acme-web-01".into(), org_id: Some(acme.id.clone()) }).await.unwrap();

    // Bad input names its field.
    let body = |cron: &str, tz: &str| json!({"name": "Mornings", "target": {"type": "workflow", "workflow_id": wf_id, "mode": "simulation"}, "cron": cron, "time_zone": tz});
    acme_api.post("/api/v1/schedules", body("every morning", "UTC")).await.expect_invalid("cron");
    acme_api.post("/api/v1/schedules", body("0 9 * * *", "Mars/Olympus")).await.expect_invalid("time_zone");
    acme_api
        .post("/api/v1/schedules", json!({"name": "Restarts", "target": {"type": "job", "job_kind": "restart", "node_ids": [node.id]}, "cron": "0 3 * * *", "time_zone": "UTC"}))
        .await
        .expect_invalid("target.job_kind");
    acme_api
        .post("/api/v1/schedules", json!({"name": "Checks", "target": {"type": "job", "job_kind": "health_check", "node_ids": []}, "cron": "0 3 * * *", "time_zone": "UTC"}))
        .await
        .expect_invalid("target.node_ids");
    // Another tenant's workflow is one that does not exist.
    bolt_api.post("/api/v1/schedules", body("0 9 * * *", "UTC")).await.expect_error(404, "not_found");

    let created = acme_api.post("/api/v1/schedules", body("0 9 * * 1-5", "Europe/Berlin")).await.expect_status(201).clone();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["target"]["type"], "workflow", "{created}");
    assert_eq!(created["enabled"], true);
    assert!(created["next_fire_at"].is_string(), "{created}");
    let checks = acme_api
        .post("/api/v1/schedules", json!({"name": "Hourly checks", "target": {"type": "job", "job_kind": "health_check", "node_ids": [node.id]}, "cron": "0 * * * *", "time_zone": "UTC"}))
        .await
        .expect_status(201)
        .clone();

    // Scoping: the organization's admin and MSP roles see them; another organization does not.
    assert_eq!(acme_api.get("/api/v1/schedules").await.expect_status(200)["items"].as_array().unwrap().len(), 2);
    assert_eq!(admin.get("/api/v1/schedules").await.expect_status(200)["items"].as_array().unwrap().len(), 2);
    assert!(bolt_api.get("/api/v1/schedules").await.expect_status(200)["items"].as_array().unwrap().is_empty());
    let path = format!("/api/v1/schedules/{id}");
    bolt_api.get(&path).await.expect_error(404, "not_found");
    bolt_api.patch(&path, json!({"enabled": false})).await.expect_error(404, "not_found");
    bolt_api.delete(&path).await.expect_error(404, "not_found");
    assert_eq!(acme_api.get(&path).await.expect_status(200)["enabled"], true, "unchanged by the other tenant");

    // Disable, enable, bad change.
    let off = acme_api.patch(&path, json!({"enabled": false})).await.expect_status(200).clone();
    assert!(off["next_fire_at"].is_null() && off["enabled"] == false, "{off}");
    acme_api.patch(&path, json!({"cron": "0 9 * *"})).await.expect_invalid("cron");
    acme_api.patch(&path, json!({"enabled": true})).await.expect_status(200);

    // A fire (the tick, a week ahead) starts a run recorded on the workflow.
    let fires = s.works.run_due_schedules(Utc::now() + Duration::days(8)).await.unwrap();
    assert_eq!(fires.len(), 2, "{fires:?}");
    let runs = acme_api.get(&format!("/api/v1/workflows/{wf_id}/runs")).await.expect_status(200).clone();
    assert_eq!(runs["items"].as_array().unwrap().len(), 1, "{runs}");
    let shown = acme_api.get(&path).await.expect_status(200).clone();
    assert!(shown["last_outcome"].as_str().unwrap().contains(runs["items"][0]["id"].as_str().unwrap()), "{shown}");
    let jobs = acme_api.get(&format!("/api/v1/jobs?node_id={}", node.id)).await.expect_status(200).clone();
    assert_eq!(jobs["items"].as_array().unwrap().len(), 1, "{jobs}");

    // The page lists them with the next fire time in the schedule's zone, and adds one.
    let browser = sign_in(s, "admin", ADMIN_PASSWORD).await;
    let r = s.client().get(s.url("/ui/schedules")).header(COOKIE, &browser.cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let local = s.works.schedule_get(&s.admin, &id).await.unwrap().next_fire_local().unwrap();
    assert!(html.contains("Mornings") && html.contains("Europe/Berlin") && html.contains(&local), "{html}");
    assert!(html.contains("href=\"/ui/schedules\""), "a nav link");
    let (status, _, html) = submit(s, &browser, "/ui/schedules", &[("name", "Nightly"), ("target", "workflow"), ("workflow_id", &wf_id), ("mode", "simulation"), ("cron", "0 25 * * *"), ("time_zone", "UTC")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("sched-cron-error"), "the problem is shown next to the field");
    let (status, location, _) = submit(s, &browser, "/ui/schedules", &[("name", "Nightly"), ("target", "workflow"), ("workflow_id", &wf_id), ("mode", "simulation"), ("cron", "0 2 * * *"), ("time_zone", "America/New_York")]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/ui/schedules?notice=added"));
    assert_eq!(admin.get("/api/v1/schedules").await.expect_status(200)["items"].as_array().unwrap().len(), 3);
    let (status, location, _) = submit(s, &browser, &format!("/ui/schedules/{id}/disable"), &[]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/ui/schedules?notice=disabled"));
    assert_eq!(acme_api.get(&path).await.expect_status(200)["enabled"], false);

    // Documented; deleted; every change audited.
    let doc = admin.get("/api/v1/openapi.json").await.expect_status(200).clone();
    assert!(doc["paths"]["/api/v1/schedules/{id}"]["patch"].is_object(), "documented");
    acme_api.delete(&format!("/api/v1/schedules/{}", checks["id"].as_str().unwrap())).await.expect_status(200);
    acme_api.delete(&path).await.expect_status(200);
    acme_api.get(&path).await.expect_error(404, "not_found");
    let audit = admin.get("/api/v1/audit?action=schedule.").await.expect_status(200).clone();
    let actions: Vec<&str> = audit["records"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for a in ["schedule.create", "schedule.update", "schedule.delete", "schedule.fire"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

/// An organization admin adds a schedule on the page in a real Chromium: a bad cron
/// expression is answered next to its field; the added schedule shows its next fire time
/// in its own time zone; Disable turns it off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_adds_and_disables_a_schedule_in_chromium() {
    let Some(binary) = chromedriver_or_skip() else { return };
    let s = TestServer::start_sqlite().await;
    let acme = s.create_org("Acme Dental").await;
    s.create_user("acme-admin", Role::OrgAdmin, Some(&acme.id)).await;
    let admin = as_admin(&s);
    admin.post("/api/v1/capability-packs/office_essentials/attach", json!({"org_id": acme.id})).await.expect_status(200);
    let conn = admin
        .post("/api/v1/connections", json!({"org_id": acme.id, "name": "Acme Drive", "provider": "google_drive", "capabilities": ["google_drive"], "status": "connected"}))
        .await
        .expect_status(201)
        .clone();
    let wf = admin
        .post("/api/v1/workflows", json!({"org_id": acme.id, "name": "Weekly files", "steps": [{"capability_id": "google_drive", "action": "list_files", "connection_id": conn["id"]}]}))
        .await
        .expect_status(201)
        .clone();
    let driver = Driver::start(&binary).await;
    let profile = tempfile::tempdir().unwrap();
    let c = connect(&driver, profile.path()).await;

    c.goto(&s.url("/login")).await.unwrap();
    c.find(Locator::Css("#username")).await.unwrap().send_keys("acme-admin").await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(USER_PASSWORD).await.unwrap();
    c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui").await;
    c.find(Locator::Css("nav.sections a[href='/ui/schedules']")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui/schedules").await;
    assert_eq!(text_of(&c, "h1").await, "Schedules");
    assert_eq!(text_of(&c, "nav.sections a[aria-current=page]").await, "Schedules");

    let fill = |cron: &'static str| {
        let c = c.clone();
        let wf_id = wf["id"].as_str().unwrap().to_owned();
        async move {
            let name = c.find(Locator::Css("#sched-name")).await.unwrap();
            name.clear().await.unwrap();
            name.send_keys("Weekday mornings").await.unwrap();
            c.find(Locator::Css("#sched-workflow")).await.unwrap().select_by_value(&wf_id).await.unwrap();
            let field = c.find(Locator::Css("#sched-cron")).await.unwrap();
            field.clear().await.unwrap();
            field.send_keys(cron).await.unwrap();
            let tz = c.find(Locator::Css("#sched-tz")).await.unwrap();
            tz.clear().await.unwrap();
            tz.send_keys("Europe/Berlin").await.unwrap();
            c.find(Locator::XPath("//button[normalize-space()='Add schedule']")).await.unwrap().click().await.unwrap();
        }
    };
    fill("0 9 * *").await;
    assert!(text_of(&c, "#sched-cron-error").await.contains("five"), "the problem is shown next to the field");
    fill("0 9 * * 1-5").await;
    wait_for_path(&c, "/ui/schedules?notice=added").await;
    let row = text_of(&c, "table tbody tr").await;
    let listed = s.works.schedule_list(&s.admin, works_core::ScheduleQuery::default()).await.unwrap().items;
    let local = listed[0].next_fire_local().unwrap();
    assert!(row.contains("Weekday mornings") && row.contains("Europe/Berlin") && row.contains(&local), "{row}");

    c.find(Locator::XPath("//button[normalize-space()='Disable']")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/ui/schedules?notice=disabled").await;
    assert!(text_of(&c, "table tbody tr").await.contains("Disabled"));
    assert!(!s.works.schedule_get(&s.admin, &listed[0].id).await.unwrap().enabled);
    c.close().await.unwrap();
}
