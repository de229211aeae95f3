//! The access layer over HTTP: credentials, jumpboxes, hosts, Test Access and its
//! attempts through the JSON routes and the pages. The attempt here is real: the OpenSSH
//! adapter is aimed at a closed port on loopback, so it fails as "connection refused"
//! with a plain reason and next action. Another tenant's host is a record that does not
//! exist, and the private key shows in no answer.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use works_core::Role;
use works_testkit::{TestServer, ADMIN_PASSWORD};

use crate::browser_session::{sign_in, Browser};
use crate::common::{as_admin, as_token};

crate::on_both_backends!(hosts_over_the_api_and_the_pages);

fn keygen() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("ssh-keygen is needed (openssh-client): {e}"));
    assert!(out.status.success());
    let key = std::fs::read_to_string(&path).unwrap();
    (dir, key)
}

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

async fn hosts_over_the_api_and_the_pages(s: &TestServer) {
    let (_dir, key) = keygen();
    let key_lines: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----") && l.len() > 20).collect();
    let mut seen: Vec<String> = Vec::new();
    let acme = s.create_org("Acme Dental").await;
    let bolt = s.create_org("Bolt Legal").await;
    let acme_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&acme.id)).await;
    let bolt_admin = s.create_user("bolt-admin", Role::OrgAdmin, Some(&bolt.id)).await;
    let admin = as_admin(s);

    // Credentials: MSP roles only; the answer never holds the key.
    let r = as_token(s, &acme_admin.token).post("/api/v1/ssh-credentials", json!({"name": "mine", "private_key": key})).await;
    r.expect_error(403, "forbidden");
    let r = admin.post("/api/v1/ssh-credentials", json!({"name": "msp-key", "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"})).await;
    r.expect_invalid("private_key");
    let r = admin.post("/api/v1/ssh-credentials", json!({"name": "msp-key", "private_key": key})).await;
    let cred = r.expect_status(201).clone();
    assert_eq!(cred["key_type"], "ssh-ed25519");
    assert!(cred.get("private_key").is_none() && cred.get("sealed_key").is_none(), "{cred}");
    seen.push(r.text.clone());
    let cred_id = cred["id"].as_str().unwrap().to_owned();
    seen.push(admin.get("/api/v1/ssh-credentials").await.expect_status(200).to_string());

    // Jumpbox and host; option-like input is refused naming the field.
    let r = admin.post("/api/v1/jumpboxes", json!({"name": "bastion", "address": "127.0.0.1", "port": 1, "user": "root", "credential_id": cred_id})).await;
    r.expect_status(201);
    let host = |user: &str| json!({"org_id": acme.id, "name": "acme-web-01", "address": "127.0.0.1", "port": 1, "user": user, "credential_id": cred_id});
    admin.post("/api/v1/hosts", host("-oProxyCommand=touch /tmp/works-pwned")).await.expect_invalid("user");
    admin.post("/api/v1/hosts", json!({"org_id": acme.id, "name": "$(id)", "address": "127.0.0.1", "user": "root", "credential_id": cred_id})).await.expect_invalid("name");
    let r = admin.post("/api/v1/hosts", host("root")).await;
    let h = r.expect_status(201).clone();
    let hid = h["id"].as_str().unwrap().to_owned();

    // Tenancy: the organization's admin sees it and may not test it; another's sees nothing.
    as_token(s, &acme_admin.token).get(&format!("/api/v1/hosts/{hid}")).await.expect_status(200);
    as_token(s, &acme_admin.token).post_empty(&format!("/api/v1/hosts/{hid}/test-access")).await.expect_error(403, "forbidden");
    as_token(s, &bolt_admin.token).get(&format!("/api/v1/hosts/{hid}")).await.expect_error(404, "not_found");
    as_token(s, &bolt_admin.token).post_empty(&format!("/api/v1/hosts/{hid}/test-access")).await.expect_error(404, "not_found");
    let list = as_token(s, &bolt_admin.token).get("/api/v1/hosts").await;
    assert!(list.expect_status(200)["items"].as_array().unwrap().is_empty());
    as_token(s, &bolt_admin.token).get("/api/v1/jumpboxes").await.expect_error(403, "forbidden");

    // Test Access, for real, to a closed port on loopback.
    let r = admin.post_empty(&format!("/api/v1/hosts/{hid}/test-access")).await;
    let started = r.expect_status(202).clone();
    assert_eq!(started["status"], "running");
    let aid = started["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let attempt: Value = loop {
        let a = admin.get(&format!("/api/v1/access-attempts/{aid}")).await.expect_status(200).clone();
        if a["status"] != "running" {
            break a;
        }
        assert!(Instant::now() < deadline, "the attempt did not end: {a}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(attempt["status"], "failed", "{attempt}");
    assert_eq!(attempt["failure"], "connection_refused", "{attempt}");
    assert_eq!(attempt["stage"], json!({"hop": "target", "step": "connect"}));
    assert!(attempt["reason"].as_str().unwrap().contains("refused the connection"), "{attempt}");
    assert!(attempt["next_action"].as_str().unwrap().contains("test-access"), "{attempt}");
    assert!(attempt["transcript"].as_array().unwrap().len() >= 2, "{attempt}");
    assert!(attempt["technical"].as_str().unwrap().contains("Connection refused"), "{attempt}");
    seen.push(attempt.to_string());
    as_token(s, &acme_admin.token).get(&format!("/api/v1/access-attempts/{aid}")).await.expect_status(200);
    as_token(s, &bolt_admin.token).get(&format!("/api/v1/access-attempts/{aid}")).await.expect_error(404, "not_found");
    // Not verified: no registering.
    admin.post_empty(&format!("/api/v1/hosts/{hid}/register")).await.expect_error(409, "conflict");

    // The pages: the list, the host with its buttons, Test Access leading to the attempt.
    let b = sign_in(s, "admin", ADMIN_PASSWORD).await;
    let (status, html) = page(s, &b, "/ui/hosts").await;
    assert_eq!(status, 200);
    assert!(html.contains("acme-web-01") && html.contains("msp-key") && html.contains("bastion"), "{html}");
    seen.push(html);
    let (status, html) = page(s, &b, &format!("/ui/hosts/{hid}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Test Access") && html.contains("refused the connection"), "{html}");
    let (status, location, _) = submit(s, &b, &format!("/ui/hosts/{hid}/test-access"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/ui/access-attempts/"), "{location}");
    let (status, html) = page(s, &b, &format!("/ui/access-attempts/{aid}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Transcript") && html.contains("Technical details") && html.contains("Why it stopped"), "{html}");
    seen.push(html);
    // A form with option-like input comes back with the field's problem.
    let (status, _, html) = submit(
        s,
        &b,
        "/ui/hosts",
        &[("org_id", &acme.id), ("name", "web-02"), ("address", "127.0.0.1"), ("port", "22;id"), ("user", "root"), ("credential_id", &cred_id), ("jumpbox", "")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("ust not contain shell characters"), "{html}");
    // A refused key is not echoed back into the page.
    let broken = key.replace(key_lines[1], "AAAA");
    let (status, _, html) = submit(s, &b, "/ui/hosts/credentials", &[("name", "broken"), ("private_key", &broken)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    seen.push(html);
    // The organization admin sees the host, without the MSP's forms.
    let ab = sign_in(s, "acme-admin", works_testkit::USER_PASSWORD).await;
    let (status, html) = page(s, &ab, "/ui/hosts").await;
    assert_eq!(status, 200);
    assert!(html.contains("acme-web-01") && !html.contains("Upload a private key"), "{html}");

    // Editing and deleting: fields checked like on creation, tenancy, plain refusals.
    let jid = admin.get("/api/v1/jumpboxes").await.expect_status(200)["items"][0]["id"].as_str().unwrap().to_owned();
    admin.patch(&format!("/api/v1/hosts/{hid}"), json!({"user": "-oProxyCommand=touch /tmp/works-pwned"})).await.expect_invalid("user");
    admin.patch(&format!("/api/v1/jumpboxes/{jid}"), json!({"address": "$(id)"})).await.expect_invalid("address");
    admin.patch(&format!("/api/v1/hosts/{hid}"), json!({"shell": "sh"})).await.expect_error(400, "invalid_input");
    as_token(s, &acme_admin.token).patch(&format!("/api/v1/hosts/{hid}"), json!({"name": "mine"})).await.expect_error(403, "forbidden");
    as_token(s, &bolt_admin.token).patch(&format!("/api/v1/hosts/{hid}"), json!({"name": "mine"})).await.expect_error(404, "not_found");
    as_token(s, &bolt_admin.token).delete(&format!("/api/v1/hosts/{hid}")).await.expect_error(404, "not_found");
    as_token(s, &acme_admin.token).delete(&format!("/api/v1/jumpboxes/{jid}")).await.expect_error(403, "forbidden");
    let h = admin.patch(&format!("/api/v1/hosts/{hid}"), json!({"name": "acme-web-renamed", "jumpbox": "bastion"})).await.expect_status(200).clone();
    assert_eq!(h["name"], "acme-web-renamed");
    let j = admin.patch(&format!("/api/v1/jumpboxes/{jid}"), json!({"port": 2222})).await.expect_status(200).clone();
    assert_eq!(j["port"], 2222);
    let r = admin.delete(&format!("/api/v1/jumpboxes/{jid}")).await;
    r.expect_error(409, "conflict");
    assert!(r.body["message"].as_str().unwrap().contains("acme-web-renamed"), "{}", r.text);
    // This server was not given an address for agents: installing says what to set.
    let r = admin.post_empty(&format!("/api/v1/hosts/{hid}/install-agent")).await;
    r.expect_error(409, "conflict");
    assert!(r.text.contains("WORKS_AGENT_SERVER_URL"), "{}", r.text);

    // The pages: the host's edit form, its refusals, deleting the host, then the jumpbox.
    let (status, html) = page(s, &b, &format!("/ui/hosts/{hid}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Edit host") && html.contains("Edit jumpbox bastion") && html.contains("Delete host acme-web-renamed"), "{html}");
    let edit = |user: &'static str| {
        vec![("name", "acme-web-01"), ("address", "127.0.0.1"), ("port", "1"), ("user", user), ("credential_id", cred_id.as_str()), ("jumpbox", "")]
    };
    let (status, _, html) = submit(s, &b, &format!("/ui/hosts/{hid}/edit"), &edit("-oProxyCommand=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("field-error") && html.contains("-oProxyCommand=x"), "{html}");
    let (status, location, _) = submit(s, &b, &format!("/ui/hosts/{hid}/edit"), &edit("root")).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, format!("/ui/hosts/{hid}?notice=changed").as_str()));
    let h = admin.get(&format!("/api/v1/hosts/{hid}")).await.expect_status(200).clone();
    assert_eq!(h["name"], "acme-web-01");
    assert!(h["jumpbox_id"].is_null(), "{h}");
    let (status, location, _) = submit(s, &b, &format!("/ui/hosts/{hid}/delete"), &[]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/ui/hosts?notice=host-deleted"));
    admin.get(&format!("/api/v1/hosts/{hid}")).await.expect_error(404, "not_found");
    admin.get(&format!("/api/v1/access-attempts/{aid}")).await.expect_error(404, "not_found");
    let (status, location, _) = submit(s, &b, &format!("/ui/jumpboxes/{jid}/delete"), &[]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/ui/hosts?notice=jumpbox-deleted"));
    admin.get(&format!("/api/v1/jumpboxes/{jid}")).await.expect_error(404, "not_found");

    // The OpenAPI document has the collections.
    let doc = admin.get("/api/v1/openapi.json").await.expect_status(200).clone();
    for p in ["/api/v1/ssh-credentials", "/api/v1/jumpboxes", "/api/v1/hosts", "/api/v1/hosts/{id}/test-access", "/api/v1/access-attempts/{id}"] {
        assert!(doc["paths"].get(p).is_some(), "{p} is missing from the OpenAPI document");
    }

    // The private key shows in no answer.
    for text in &seen {
        for l in &key_lines {
            assert!(!text.contains(l), "a private key line shows in an answer");
        }
    }
}
