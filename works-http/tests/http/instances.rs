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

crate::on_both_backends!(instances_over_the_api_and_the_pages);

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
