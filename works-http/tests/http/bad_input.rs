//! Bad input is refused with 400 `invalid_input` naming the field, in the API's one
//! error shape, and changes nothing.

use reqwest::Method;
use serde_json::json;
use works_testkit::TestServer;

use crate::common::{as_admin, ids};

crate::on_both_backends!(bad_organization_input_changes_nothing, bad_user_input_and_queries_are_named);

async fn bad_organization_input_changes_nothing(s: &TestServer) {
    let admin = as_admin(s);
    let org = admin.post("/api/v1/orgs", json!({"name": "Original"})).await.expect_status(201).clone();
    let id = org["id"].as_str().unwrap().to_owned();
    let before = admin.get("/api/v1/orgs?include_archived=true").await.expect_status(200).clone();

    admin.post("/api/v1/orgs", json!({"name": ""})).await.expect_invalid("name");
    admin.post("/api/v1/orgs", json!({"name": "   "})).await.expect_invalid("name");
    admin.post("/api/v1/orgs", json!({"name": "x".repeat(101)})).await.expect_invalid("name");
    admin.post("/api/v1/orgs", json!({"name": "line\nbreak"})).await.expect_invalid("name");
    admin.post("/api/v1/orgs", json!({"name": 5})).await.expect_invalid("name");
    admin.post("/api/v1/orgs", json!({"name": null})).await.expect_invalid("name");
    admin.post("/api/v1/orgs", json!({})).await.expect_invalid("name");
    let unknown = admin.post("/api/v1/orgs", json!({"name": "Sneaky", "archived_at": "2024-01-01T00:00:00Z"})).await;
    unknown.expect_invalid("archived_at");
    assert!(unknown.body["error"]["problem"].as_str().unwrap().contains("not a known field"), "{}", unknown.text);

    let malformed = admin.send_raw(Method::POST, "/api/v1/orgs", "application/json", r#"{"name": "Acme""#).await;
    malformed.expect_invalid("body");
    let not_json = admin.send_raw(Method::POST, "/api/v1/orgs", "application/json", "name=Acme").await;
    not_json.expect_invalid("body");
    let array = admin.send_raw(Method::POST, "/api/v1/orgs", "application/json", r#"["Acme"]"#).await;
    array.expect_invalid("body");
    let wrong_type = admin.send_raw(Method::POST, "/api/v1/orgs", "text/plain", r#"{"name": "Acme"}"#).await;
    wrong_type.expect_invalid("body");
    let form = admin.send_raw(Method::POST, "/api/v1/orgs", "application/x-www-form-urlencoded", "name=Acme").await;
    form.expect_invalid("body");
    let empty = admin.send_raw(Method::POST, "/api/v1/orgs", "application/json", "").await;
    empty.expect_invalid("body");

    admin.patch(&format!("/api/v1/orgs/{id}"), json!({"name": ""})).await.expect_invalid("name");
    admin.patch(&format!("/api/v1/orgs/{id}"), json!({"name": "Renamed", "extra": 1})).await.expect_invalid("extra");
    admin.patch(&format!("/api/v1/orgs/{id}"), json!({"name": ["Renamed"]})).await.expect_invalid("name");

    for bad in ["limit=0", "limit=501", "limit=abc", "limit=-1", "offset=x", "include_archived=maybe", "colour=red"] {
        let a = admin.get(&format!("/api/v1/orgs?{bad}")).await;
        let field = bad.split('=').next().unwrap();
        a.expect_invalid(field);
    }

    let after = admin.get("/api/v1/orgs?include_archived=true").await;
    assert_eq!(after.expect_status(200), &before, "a refused request changed something");
    assert_eq!(admin.get(&format!("/api/v1/orgs/{id}")).await.body["name"], "Original");
    assert_eq!(ids(&after.body).len(), 1);
}

async fn bad_user_input_and_queries_are_named(s: &TestServer) {
    let admin = as_admin(s);
    let org = s.create_org("Hooli").await;
    let before = admin.get("/api/v1/users?include_disabled=true").await.expect_status(200).clone();
    let good = json!({"username": "gavin", "role": "org_user", "org_id": org.id, "password": "nucleus-is-great"});
    let with = |key: &str, value: serde_json::Value| {
        let mut v = good.clone();
        v[key] = value;
        v
    };

    admin.post("/api/v1/users", with("role", json!("boss"))).await.expect_invalid("role");
    admin.post("/api/v1/users", with("role", json!(3))).await.expect_invalid("role");
    admin.post("/api/v1/users", with("username", json!("Gavin Belson"))).await.expect_invalid("username");
    admin.post("/api/v1/users", with("password", json!("short"))).await.expect_invalid("password");
    admin.post("/api/v1/users", with("org_id", json!("not-an-id"))).await.expect_invalid("org_id");
    admin.post("/api/v1/users", with("org_id", json!(null))).await.expect_invalid("org_id");
    admin.post("/api/v1/users", with("is_admin", json!(true))).await.expect_invalid("is_admin");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("password");
    admin.post("/api/v1/users", missing).await.expect_invalid("password");

    let after = admin.get("/api/v1/users?include_disabled=true").await;
    assert_eq!(after.expect_status(200), &before, "a refused request changed something");

    let me = admin.get("/api/v1/me").await.expect_status(200)["id"].as_str().unwrap().to_owned();
    admin.patch(&format!("/api/v1/users/{me}"), json!({"role": "superuser"})).await.expect_invalid("role");
    admin.patch(&format!("/api/v1/users/{me}"), json!({})).await.expect_invalid("body");
    admin.post(&format!("/api/v1/users/{me}/reset-password"), json!({"new_password": "short"})).await.expect_invalid("new_password");

    for (query, field) in [
        ("since=yesterday", "since"),
        ("until=2024-13-01T00:00:00Z", "until"),
        ("outcome=maybe", "outcome"),
        ("before_seq=ten", "before_seq"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("actor=admin", "actor"),
    ] {
        admin.get(&format!("/api/v1/audit?{query}")).await.expect_invalid(field);
    }
    admin.get("/api/v1/tokens?limit=zero").await.expect_invalid("limit");
    admin.get("/api/v1/users?include_disabled=perhaps").await.expect_invalid("include_disabled");
}
