//! Operating instances over HTTP and in the pages: read commands by id (a refused one
//! answers 403 with the reason), versions and upgrade plans (approval by phrase,
//! recorded only), assignments deciding what an organization user sees; another tenant's
//! instance answers 404 like a missing one.

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::json;
use works_core::{InstanceQuery, NewNode, Role, TakeoverInput};
use works_testkit::{TestServer, ADMIN_PASSWORD};

use crate::browser_session::{sign_in, Browser};
use crate::common::{as_admin, as_token};
use crate::fleet::{check_in, container, enroll_agent};

crate::on_both_backends!(instance_operations_over_the_api_and_the_pages);

async fn page(s: &TestServer, b: &Browser, path: &str) -> (StatusCode, String) {
    let r = s.client().get(s.url(path)).header(COOKIE, &b.cookie).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn submit(s: &TestServer, b: &Browser, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        f.append_pair(k, v);
    }
    f.append_pair("csrf_token", &b.csrf);
    let r = s
        .client()
        .post(s.url(path))
        .header(COOKIE, &b.cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(f.finish())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// A managed instance on a node of `org`.
async fn managed(s: &TestServer, node: &str, org: &str, name: &str) -> String {
    let n = s.works.node_create(&s.admin, NewNode { name: node.into(), org_id: Some(org.to_owned()) }).await.unwrap();
    check_in(s, &enroll_agent(s, &n.id).await, vec![container(name, "anthropy/openclaw:2026.9.6", &[])]).await;
    let i = s.works.instance_list(&s.admin, InstanceQuery { node_id: Some(n.id.clone()), ..Default::default() }).await.unwrap().items.remove(0);
    let phrase = i.takeover_phrase.clone().unwrap();
    s.works.instance_takeover(&s.admin, &i.id, TakeoverInput { phrase }).await.unwrap().id
}

async fn instance_operations_over_the_api_and_the_pages(s: &TestServer) {
    let acme = s.create_org("Acme Dental").await;
    let bolt = s.create_org("Bolt Legal").await;
    let id = managed(s, "acme-web-01", &acme.id, "openclaw-gateway").await;
    let bolt_id = managed(s, "bolt-web-01", &bolt.id, "openclaw-bolt-gw").await;
    let a_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&acme.id)).await;
    let a_user = s.create_user("acme-user", Role::OrgUser, Some(&acme.id)).await;
    let b_admin = s.create_user("bolt-admin", Role::OrgAdmin, Some(&bolt.id)).await;

    // The inventory, for anyone signed in.
    let inventory = as_token(s, &a_user.token).get("/api/v1/openclaw/cli-commands").await.expect_status(200).clone();
    let list = inventory.as_array().unwrap();
    assert!(list.iter().any(|c| c["id"] == "health" && c["runnable"] == json!(true) && c["class"] == "read"), "{inventory}");
    assert!(list.iter().any(|c| c["id"] == "gateway-call" && c["runnable"] == json!(false) && c["class"] == "mutates"));
    as_admin(s).get(&format!("/api/v1/instances/{id}/cli-commands")).await.expect_status(200);
    as_token(s, &b_admin.token).get(&format!("/api/v1/instances/{id}/cli-commands")).await.expect_error(404, "not_found");

    // Read commands by id: refused ones answer 403 with the reason; allowlisted ones 202.
    let path = format!("/api/v1/instances/{id}/cli-runs");
    let refused = as_admin(s).post(&path, json!({"command_id": "gateway-call"})).await;
    refused.expect_error(403, "forbidden");
    assert!(refused.body["message"].as_str().unwrap().contains("openclaw gateway call"), "{}", refused.text);
    as_admin(s).post(&path, json!({"command_id": "nope"})).await.expect_invalid("command_id");
    as_admin(s).post(&path, json!({"command_id": "health", "argv": ["reset"]})).await.expect_status(400);
    as_token(s, &b_admin.token).post(&path, json!({"command_id": "health"})).await.expect_error(404, "not_found");
    as_token(s, &a_user.token).post(&path, json!({"command_id": "health"})).await.expect_error(404, "not_found");
    let job = as_token(s, &a_admin.token).post(&path, json!({"command_id": "health"})).await.expect_status(202).clone();
    assert_eq!((job["kind"].as_str(), job["risk"].as_str(), job["state"].as_str()), (Some("cli_command"), Some("safe"), Some("queued")));
    let job_id = job["id"].as_str().unwrap();
    let runs = as_admin(s).get(&path).await.expect_status(200).clone();
    assert_eq!(runs["items"].as_array().unwrap().len(), 1);
    as_admin(s).get(&format!("{path}/{job_id}")).await.expect_status(200);
    as_token(s, &b_admin.token).get(&format!("{path}/{job_id}")).await.expect_error(404, "not_found");

    // Versions and an upgrade plan: recorded, approved by phrase, nothing run.
    let v = as_admin(s).get(&format!("/api/v1/instances/{id}/versions?to_version=2026.10.1&channel=stable")).await.expect_status(200).clone();
    assert_eq!((v["current"].as_str(), v["eligibility"]["direction"].as_str()), (Some("2026.9.6"), Some("upgrade")), "{v}");
    as_admin(s).get(&format!("/api/v1/instances/{id}/versions?channel=nightly")).await.expect_invalid("channel");
    let plans = format!("/api/v1/instances/{id}/upgrade-plans");
    as_admin(s).post(&plans, json!({"to_version": "2026.9.6"})).await.expect_invalid("to_version");
    as_token(s, &b_admin.token).post(&plans, json!({"to_version": "2026.10.1"})).await.expect_error(404, "not_found");
    let plan = as_token(s, &a_admin.token).post(&plans, json!({"to_version": "2026.10.1", "channel": "extended-stable"})).await.expect_status(201).clone();
    assert_eq!((plan["state"].as_str(), plan["channel"].as_str()), (Some("proposed"), Some("extended-stable")));
    assert!(plan["note"].as_str().unwrap().contains("records the approval only"));
    let plan_id = plan["id"].as_str().unwrap();
    let approve = format!("{plans}/{plan_id}/approve");
    as_admin(s).post(&approve, json!({"phrase": "upgrade"})).await.expect_invalid("phrase");
    as_token(s, &b_admin.token).post(&approve, json!({"phrase": plan["approval_phrase"]})).await.expect_error(404, "not_found");
    let approved = as_admin(s).post(&approve, json!({"phrase": plan["approval_phrase"]})).await.expect_status(200).clone();
    assert_eq!(approved["state"], "approved");
    as_admin(s).post(&approve, json!({"phrase": plan["approval_phrase"]})).await.expect_error(409, "conflict");
    assert_eq!(as_admin(s).get(&format!("/api/v1/instances/{id}")).await.expect_status(200)["version"], "2026.9.6", "nothing ran");

    // Assignments decide what an organization user sees.
    let assignments = format!("/api/v1/instances/{id}/assignments");
    as_token(s, &b_admin.token).post(&assignments, json!({"user_id": a_user.user.id})).await.expect_error(404, "not_found");
    as_token(s, &a_admin.token).post(&assignments, json!({"user_id": b_admin.user.id})).await.expect_invalid("user_id");
    as_token(s, &a_admin.token).post(&assignments, json!({"user_id": a_user.user.id})).await.expect_status(201);
    let seen = as_token(s, &a_user.token).get("/api/v1/instances").await.expect_status(200).clone();
    assert_eq!(seen["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect::<Vec<_>>(), vec![id.as_str()]);
    as_token(s, &a_user.token).get(&format!("/api/v1/instances/{bolt_id}")).await.expect_error(404, "not_found");
    as_token(s, &a_user.token).post(&path, json!({"command_id": "status"})).await.expect_status(202);
    let listed = as_token(s, &a_admin.token).get(&assignments).await.expect_status(200).clone();
    assert_eq!(listed[0]["username"], "acme-user");
    as_token(s, &a_user.token).delete(&format!("{assignments}/{}", a_user.user.id)).await.expect_error(403, "forbidden");
    as_token(s, &a_admin.token).delete(&format!("{assignments}/{}", a_user.user.id)).await.expect_status(204);
    as_token(s, &a_user.token).get(&format!("/api/v1/instances/{id}")).await.expect_error(404, "not_found");

    // The OpenAPI document describes the routes.
    let doc = as_admin(s).get("/api/v1/openapi.json").await.expect_status(200).clone();
    for p in ["/api/v1/openclaw/cli-commands", "/api/v1/instances/{id}/cli-runs", "/api/v1/instances/{id}/upgrade-plans/{plan_id}/approve", "/api/v1/instances/{id}/assignments/{user_id}"] {
        assert!(doc["paths"].get(p).is_some(), "{p} is documented");
    }

    // The page: versions, plans, commands and assignments, with forms that call the same operations.
    let b = sign_in(s, "admin", ADMIN_PASSWORD).await;
    let (status, html) = page(s, &b, &format!("/ui/instances/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    for text in ["OpenClaw version", "Upgrade plans", "Approved, not run", "OpenClaw read commands", "openclaw health --json", "Assigned to", "acme-user"] {
        assert!(html.contains(text), "{text}: {html}");
    }
    let (status, location, _) = submit(s, &b, &format!("/ui/instances/{id}/cli-runs"), &[("command_id", "version")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/ui/instances/{id}?notice=cli-queued#cli"));
    let (status, _, html) = submit(s, &b, &format!("/ui/instances/{id}/cli-runs"), &[("command_id", "reset")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("deletes data"), "the reason is shown: {html}");
    let (status, location, _) = submit(s, &b, &format!("/ui/instances/{id}/upgrade-plans"), &[("to_version", "2026.8.1"), ("channel", "stable")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("upgrade openclaw openclaw-gateway on acme-web-01 to 2026.8.1") && html.contains("downgrade"), "{html}");
    let plan = s.works.upgrade_plan_list(&s.admin, &id, Default::default()).await.unwrap().items.remove(0);
    let (status, _, html) = submit(s, &b, &format!("/ui/instances/{id}/upgrade-plans/{}/approve", plan.id), &[("phrase", "wrong")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("oes not match; type exactly"), "{html}");
    let (status, location, _) = submit(s, &b, &format!("/ui/instances/{id}/upgrade-plans/{}/approve", plan.id), &[("phrase", &plan.approval_phrase)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("Nothing was run"), "{html}");
    let (status, location, _) = submit(s, &b, &format!("/ui/instances/{id}/assignments"), &[("user_id", &a_user.user.id)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("the user now sees this instance"), "{html}");
    let (status, _, _) = submit(s, &b, &format!("/ui/instances/{id}/assignments/{}/remove", a_user.user.id), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(s.works.instance_assignments(&s.admin, &id).await.unwrap().is_empty());
}
