//! OpenClaw instances over HTTP: the JSON routes and the pages drive the same core
//! calls; a wrong phrase is refused with the field named; another tenant's instance is a
//! record that does not exist; markup in a container name stays text.

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use works_core::{NewNode, PublishedPort, Role};
use works_testkit::{TestServer, ADMIN_PASSWORD, USER_PASSWORD};

use crate::browser_session::{sign_in, Browser};
use crate::common::{as_admin, as_token};
use crate::fleet::{check_in, container, enroll_agent};

crate::on_both_backends!(instances_over_the_api_and_the_pages, deploy_and_instance_actions_over_the_api_and_the_pages);

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

async fn instances_over_the_api_and_the_pages(s: &TestServer) {
    let acme = s.create_org("Acme Dental").await;
    let bolt = s.create_org("Bolt Legal").await;
    let a_node = s.works.node_create(&s.admin, NewNode { name: "acme-web-01".into(), org_id: Some(acme.id.clone()) }).await.unwrap();
    let b_node = s.works.node_create(&s.admin, NewNode { name: "bolt-web-01".into(), org_id: Some(bolt.id.clone()) }).await.unwrap();
    let mut gateway = container("openclaw-gateway", "registry.example/openclaw/openclaw:2026.8.1-r20260820", &[]);
    gateway.ports.push(PublishedPort { container_port: 18789, host_port: Some(18789), host_ip: Some("127.0.0.1".into()), protocol: "tcp".into() });
    let cell = container("openclaw-cell-<b>x</b>", "custom:1", &[("openclaw.fleet.tenant", "x")]);
    let ours = container("openclaw-abc-gateway", "anthropy/openclaw:2026.9.6", &[("works.managed", "true"), ("works.instance", "i-1")]);
    check_in(s, &enroll_agent(s, &a_node.id).await, vec![gateway.clone(), cell, ours, container("web", "nginx:1", &[])]).await;
    check_in(s, &enroll_agent(s, &b_node.id).await, vec![gateway]).await;

    // The collection: both discovered gateways and the cell, not our own container.
    let all = as_admin(s).get("/api/v1/instances").await.expect_status(200).clone();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{all}");
    for i in items {
        for field in ["id", "node_id", "org_id", "state", "version", "health"] {
            assert!(i.get(field).is_some(), "an instance has {field}: {i}");
        }
        assert_eq!(i["state"], "discovered");
    }
    let a_gw = items.iter().find(|i| i["node_id"] == json!(a_node.id) && i["container_name"] == "openclaw-gateway").unwrap().clone();
    let b_gw = items.iter().find(|i| i["node_id"] == json!(b_node.id)).unwrap().clone();
    assert_eq!(a_gw["version"], "2026.8.1");
    let id = a_gw["id"].as_str().unwrap();
    let only_a = as_admin(s).get(&format!("/api/v1/instances?node_id={}", a_node.id)).await.expect_status(200).clone();
    assert_eq!(only_a["items"].as_array().unwrap().len(), 2);

    // Tenancy: Acme's admin sees Acme's; Bolt's instance answers like a missing one.
    let a_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&acme.id)).await;
    let a_user = s.create_user("acme-user", Role::OrgUser, Some(&acme.id)).await;
    let seen = as_token(s, &a_admin.token).get("/api/v1/instances").await.expect_status(200).clone();
    assert!(seen["items"].as_array().unwrap().iter().all(|i| i["org_id"] == json!(acme.id)));
    as_token(s, &a_admin.token).get(&format!("/api/v1/instances/{}", b_gw["id"].as_str().unwrap())).await.expect_error(404, "not_found");
    as_token(s, &a_admin.token)
        .post(&format!("/api/v1/instances/{}/takeover", b_gw["id"].as_str().unwrap()), json!({"phrase": b_gw["takeover_phrase"]}))
        .await
        .expect_error(404, "not_found");
    let none = as_token(s, &a_user.token).get("/api/v1/instances").await.expect_status(200).clone();
    assert_eq!(none["items"], json!([]));

    // A wrong phrase is refused with the field named; the right one takes it over.
    as_admin(s).post(&format!("/api/v1/instances/{id}/takeover"), json!({"phrase": "take over"})).await.expect_invalid("phrase");
    as_admin(s).post(&format!("/api/v1/instances/{id}/takeover"), json!({"phrase": "x", "extra": 1})).await.expect_status(400);
    let done = as_token(s, &a_admin.token)
        .post(&format!("/api/v1/instances/{id}/takeover"), json!({"phrase": "take over openclaw openclaw-gateway on acme-web-01"}))
        .await
        .expect_status(200)
        .clone();
    assert_eq!(done["state"], "managed");
    assert_eq!(done["container_id"], a_gw["container_id"]);
    assert_eq!(done["takeover_phrase"], Value::Null);

    // The pages: managed and discovered apart, markup escaped, the phrase form.
    let b = sign_in(s, "admin", ADMIN_PASSWORD).await;
    let (status, html) = page(s, &b, "/ui/instances").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Take over existing OpenClaw"), "{html}");
    let managed_part = &html[html.find("<h2>Managed</h2>").unwrap()..html.find("Take over existing OpenClaw").unwrap()];
    assert!(managed_part.contains(&format!("/ui/instances/{id}")), "the taken-over instance is listed as managed");
    assert!(html.contains("openclaw-cell-&#60;b&#62;x&#60;/b&#62;") || html.contains("openclaw-cell-&lt;b&gt;x&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>x</b>"), "container names stay text");

    let cell_id = items.iter().find(|i| i["container_name"] == "openclaw-cell-<b>x</b>").unwrap()["id"].as_str().unwrap().to_owned();
    let (status, html) = page(s, &b, &format!("/ui/instances/{cell_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let shown = "take over openclaw openclaw-cell-&#60;b&#62;x&#60;/b&#62; on acme-web-01";
    assert!(html.contains(shown) || html.contains(&shown.replace("&#60;", "&lt;").replace("&#62;", "&gt;")), "the phrase is shown: {html}");
    assert!(html.contains("openclaw fleet label openclaw.fleet.tenant"), "why it was recognised");
    let (status, _, html) = submit(s, &b, &format!("/ui/instances/{cell_id}/takeover"), &[("phrase", "wrong")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("oes not match; type exactly"), "{html}");
    let (status, location, _) =
        submit(s, &b, &format!("/ui/instances/{cell_id}/takeover"), &[("phrase", "take over openclaw openclaw-cell-<b>x</b> on acme-web-01")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/ui/instances/{cell_id}?notice=taken-over"));
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("not restarted or changed") && html.contains("Managed"), "{html}");

    // Another tenant's page does not exist.
    let bb = sign_in(s, "acme-admin", USER_PASSWORD).await;
    let (status, _) = page(s, &bb, &format!("/ui/instances/{}", b_gw["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}


async fn deploy_and_instance_actions_over_the_api_and_the_pages(s: &TestServer) {
    let acme = s.create_org("Acme Dental").await;
    let bolt = s.create_org("Bolt Legal").await;
    let a_node = s.works.node_create(&s.admin, NewNode { name: "acme-web-01".into(), org_id: Some(acme.id.clone()) }).await.unwrap();
    let b_admin = s.create_user("bolt-admin", Role::OrgAdmin, Some(&bolt.id)).await;

    // The JSON route: 201 with the instance and the job waiting for its phrase.
    let d = as_admin(s).post("/api/v1/instances", json!({"node_id": a_node.id, "version": "2026.9.6"})).await.expect_status(201).clone();
    assert_eq!(d["instance"]["state"], "deploying");
    assert_eq!(d["job"]["state"], "awaiting_approval");
    assert_eq!(d["job"]["approval_phrase"], "deploy openclaw 2026.9.6 on acme-web-01");
    assert!(!d.to_string().contains("oct_"), "no token in the answer: {d}");
    as_admin(s).post("/api/v1/instances", json!({"node_id": a_node.id, "version": "latest"})).await.expect_invalid("version");
    as_admin(s).post("/api/v1/instances", json!({"node_id": a_node.id, "token": "x"})).await.expect_status(400);
    as_token(s, &b_admin.token).post("/api/v1/instances", json!({"node_id": a_node.id})).await.expect_error(404, "not_found");
    let id = d["instance"]["id"].as_str().unwrap();
    // A deploying instance is not restarted; another tenant's is not found.
    as_admin(s).post(&format!("/api/v1/instances/{id}/restart"), json!({})).await.expect_error(409, "conflict");
    as_token(s, &b_admin.token).post(&format!("/api/v1/instances/{id}/remove"), json!({})).await.expect_error(404, "not_found");

    // A taken-over instance is managed: health and logs are queued, restart waits for its phrase.
    let mut gw = container("openclaw-gateway", "anthropy/openclaw:2026.9.6", &[]);
    gw.ports.push(PublishedPort { container_port: 18789, host_port: Some(18789), host_ip: Some("127.0.0.1".into()), protocol: "tcp".into() });
    check_in(s, &enroll_agent(s, &a_node.id).await, vec![gw]).await;
    let listed = as_admin(s).get("/api/v1/instances").await.expect_status(200).clone();
    let found = listed["items"].as_array().unwrap().iter().find(|i| i["state"] == "discovered").unwrap().clone();
    let managed = found["id"].as_str().unwrap();
    as_admin(s)
        .post(&format!("/api/v1/instances/{managed}/takeover"), json!({"phrase": found["takeover_phrase"]}))
        .await
        .expect_status(200);
    let h = as_admin(s).post(&format!("/api/v1/instances/{managed}/health-checks"), json!({})).await.expect_status(201).clone();
    assert_eq!((h["kind"].as_str(), h["state"].as_str()), (Some("health_check"), Some("queued")));
    let l = as_admin(s).post(&format!("/api/v1/instances/{managed}/logs"), json!({"lines": 20})).await.expect_status(201).clone();
    assert_eq!(l["params"]["lines"], 20);
    as_admin(s).post(&format!("/api/v1/instances/{managed}/logs"), json!({"lines": 5000})).await.expect_invalid("lines");
    let r = as_admin(s).post(&format!("/api/v1/instances/{managed}/restart"), json!({})).await.expect_status(201).clone();
    assert_eq!(r["approval_phrase"], "restart openclaw openclaw-gateway on acme-web-01");

    // The pages: the node offers a deploy, which opens the job with its phrase; a
    // managed instance offers its actions.
    let b = sign_in(s, "admin", ADMIN_PASSWORD).await;
    let (_, html) = page(s, &b, &format!("/ui/nodes/{}", a_node.id)).await;
    assert!(html.contains("Deploy OpenClaw") && html.contains(&format!("/ui/nodes/{}/deploy", a_node.id)), "{html}");
    let (status, location, _) = submit(s, &b, &format!("/ui/nodes/{}/deploy", a_node.id), &[("version", "2026.9.6"), ("with_cli", "1")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/ui/jobs/") && location.ends_with("?notice=requested"), "{location}");
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("deploy openclaw 2026.9.6 on acme-web-01"), "the job page shows the phrase: {html}");
    let (status, _, _) = submit(s, &b, &format!("/ui/nodes/{}/deploy", a_node.id), &[("version", "next week")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, html) = page(s, &b, &format!("/ui/instances/{managed}")).await;
    for label in ["Check health", "View logs", "Restart gateway", "Remove (keep volumes)"] {
        assert!(html.contains(label), "{label} is offered: {html}");
    }
    let (status, location, _) = submit(s, &b, &format!("/ui/instances/{managed}/actions"), &[("action", "remove")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(s, &b, &location).await;
    assert!(html.contains("remove openclaw openclaw-gateway on acme-web-01"), "{html}");
    let (status, _, _) = submit(s, &b, &format!("/ui/instances/{managed}/actions"), &[("action", "rm -rf")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A deploying instance offers no actions.
    let (_, html) = page(s, &b, &format!("/ui/instances/{id}")).await;
    assert!(!html.contains("Restart gateway") && html.contains("Deploying"), "{html}");
}
