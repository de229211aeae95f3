//! Every route, exercised by the MSP admin through HTTP.

use serde_json::{json, Value};
use works_core::Role;
use works_testkit::TestServer;

use crate::common::{anonymous, as_admin, as_token, ids};

crate::on_both_backends!(
    health_version_and_openapi,
    organizations_from_create_to_archive,
    users_from_create_to_password_reset,
    tokens_show_their_secret_once_and_revocation_is_immediate,
    disabling_a_user_ends_their_sessions_and_tokens_at_once,
    audit_query_and_verify,
    sign_in_and_out,
    unknown_routes_and_missing_credentials_answer_json,
);

async fn health_version_and_openapi(s: &TestServer) {
    let anon = anonymous(s);
    let health = anon.get("/healthz").await;
    assert_eq!(health.expect_status(200), &json!({"status": "ok"}));
    let ready = anon.get("/readyz").await;
    assert_eq!(ready.expect_status(200)["status"], "ready");

    let version = anon.get("/api/v1/version").await;
    let expected = works_http::HttpConfig::from_env();
    assert_eq!(version.expect_status(200)["version"], expected.version);
    assert_eq!(version.body["commit"], expected.commit);
    assert!(!expected.commit.is_empty());

    let doc = anon.get("/api/v1/openapi.json").await;
    let doc = doc.expect_status(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let expected_paths: &[(&str, &[&str])] = &[
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/api/v1/version", &["get"]),
        ("/api/v1/openapi.json", &["get"]),
        ("/api/v1/auth/login", &["post"]),
        ("/api/v1/auth/logout", &["post"]),
        ("/api/v1/me", &["get"]),
        ("/api/v1/orgs", &["get", "post"]),
        ("/api/v1/orgs/{id}", &["get", "patch"]),
        ("/api/v1/orgs/{id}/archive", &["post"]),
        ("/api/v1/users", &["get", "post"]),
        ("/api/v1/users/{id}", &["get", "patch"]),
        ("/api/v1/users/{id}/disable", &["post"]),
        ("/api/v1/users/{id}/enable", &["post"]),
        ("/api/v1/users/{id}/reset-password", &["post"]),
        ("/api/v1/tokens", &["get", "post"]),
        ("/api/v1/tokens/{id}", &["delete"]),
        ("/api/v1/audit", &["get"]),
        ("/api/v1/audit/verify", &["get"]),
        ("/api/v1/nodes", &["get", "post"]),
        ("/api/v1/nodes/{id}", &["get", "patch"]),
        ("/api/v1/nodes/{id}/retire", &["post"]),
        ("/api/v1/nodes/{id}/enrollment-token", &["post"]),
        ("/api/v1/nodes/{id}/revoke-agent", &["post"]),
        ("/api/v1/nodes/{id}/containers", &["get"]),
        ("/api/v1/jobs", &["get", "post"]),
        ("/api/v1/jobs/{id}", &["get"]),
        ("/api/v1/jobs/{id}/approve", &["post"]),
        ("/api/v1/jobs/{id}/cancel", &["post"]),
        ("/api/v1/jobs/{id}/retry", &["post"]),
        ("/api/v1/agent/enroll", &["post"]),
        ("/api/v1/agent/checkin", &["post"]),
        ("/api/v1/agent/jobs/claim", &["post"]),
        ("/api/v1/agent/jobs/claim-many", &["post"]),
        ("/api/v1/agent/jobs/complete-many", &["post"]),
        ("/api/v1/agent/jobs/{id}/start", &["post"]),
        ("/api/v1/agent/jobs/{id}/heartbeat", &["post"]),
        ("/api/v1/agent/jobs/{id}/complete", &["post"]),
        ("/api/v1/agent/jobs/{id}/gateway-token", &["post"]),
        ("/api/v1/health", &["get"]),
        ("/api/v1/health/issues/{id}/acknowledge", &["post"]),
        ("/api/v1/map", &["get"]),
        ("/api/v1/status-summary", &["get"]),
        ("/api/v1/me/layout", &["get", "put"]),
        ("/metrics", &["get"]),
        ("/api/v1/instances", &["get", "post"]),
        ("/api/v1/instances/{id}", &["get"]),
        ("/api/v1/instances/{id}/takeover", &["post"]),
        ("/api/v1/instances/{id}/health-checks", &["post"]),
        ("/api/v1/instances/{id}/logs", &["post"]),
        ("/api/v1/instances/{id}/restart", &["post"]),
        ("/api/v1/instances/{id}/remove", &["post"]),
        ("/api/v1/nodes/{id}/openclaw-readiness", &["post"]),
        ("/api/v1/metrics/history", &["get"]),
        ("/api/v1/alerts/webhooks", &["get", "post"]),
        ("/api/v1/alerts/webhooks/{id}", &["delete"]),
        ("/api/v1/alerts/deliveries", &["get"]),
        ("/api/v1/openclaw/cli-commands", &["get"]),
        ("/api/v1/instances/{id}/cli-commands", &["get"]),
        ("/api/v1/instances/{id}/cli-runs", &["get", "post"]),
        ("/api/v1/instances/{id}/cli-runs/{job_id}", &["get"]),
        ("/api/v1/instances/{id}/versions", &["get"]),
        ("/api/v1/instances/{id}/upgrade-plans", &["get", "post"]),
        ("/api/v1/instances/{id}/upgrade-plans/{plan_id}", &["get"]),
        ("/api/v1/instances/{id}/upgrade-plans/{plan_id}/approve", &["post"]),
        ("/api/v1/instances/{id}/upgrade-plans/{plan_id}/cancel", &["post"]),
        ("/api/v1/instances/{id}/assignments", &["get", "post"]),
        ("/api/v1/instances/{id}/assignments/{user_id}", &["delete"]),
        ("/api/v1/ssh-credentials", &["get", "post"]),
        ("/api/v1/ssh-credentials/{id}", &["get", "delete"]),
        ("/api/v1/jumpboxes", &["get", "post"]),
        ("/api/v1/jumpboxes/{id}", &["get", "patch", "delete"]),
        ("/api/v1/jumpboxes/{id}/forget-host-key", &["post"]),
        ("/api/v1/hosts", &["get", "post"]),
        ("/api/v1/hosts/{id}", &["get", "patch", "delete"]),
        ("/api/v1/hosts/{id}/install-agent", &["post"]),
        ("/api/v1/hosts/{id}/test-access", &["post"]),
        ("/api/v1/hosts/{id}/register", &["post"]),
        ("/api/v1/hosts/{id}/forget-host-key", &["post"]),
        ("/api/v1/access-attempts", &["get"]),
        ("/api/v1/access-attempts/{id}", &["get"]),
        ("/api/v1/capabilities", &["get"]),
        ("/api/v1/capabilities/{id}", &["get"]),
        ("/api/v1/capability-packs", &["get"]),
        ("/api/v1/capability-packs/{id}/attach", &["post"]),
        ("/api/v1/permissions", &["get", "post"]),
        ("/api/v1/permissions/{id}", &["get", "patch", "delete"]),
        ("/api/v1/permissions/{id}/disable", &["post"]),
        ("/api/v1/permissions/{id}/enable", &["post"]),
        ("/api/v1/connections", &["get", "post"]),
        ("/api/v1/connections/{id}", &["get", "patch", "delete"]),
        ("/api/v1/workflows", &["get", "post"]),
        ("/api/v1/workflows/{id}", &["get", "patch", "delete"]),
        ("/api/v1/workflows/{id}/runs", &["get", "post"]),
        ("/api/v1/workflows/{id}/runs/{run_id}", &["get"]),
        ("/api/v1/workflows/{id}/runs/{run_id}/approve", &["post"]),
        ("/api/v1/schedules", &["get", "post"]),
        ("/api/v1/schedules/{id}", &["get", "patch", "delete"]),
    ];
    for (path, methods) in expected_paths {
        for method in *methods {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "the document lacks {method} {path}");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        }
    }
    assert_eq!(doc["paths"].as_object().unwrap().len(), expected_paths.len(), "unexpected extra paths");
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    let create = &doc["paths"]["/api/v1/orgs"]["post"];
    assert_eq!(create["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/NewOrg");
    assert!(create["responses"]["201"].is_object());
    assert!(create["responses"]["400"].is_object());
    assert!(create["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some())));
    let list_params: Vec<&str> = doc["paths"]["/api/v1/audit"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["in"], "query");
            p["name"].as_str().unwrap()
        })
        .collect();
    for p in ["actor_id", "org_id", "action", "outcome", "target_id", "since", "until", "before_seq", "limit"] {
        assert!(list_params.contains(&p), "audit lacks parameter {p}");
    }
    for schema in ["Org", "User", "NewOrg", "NewUser", "ApiToken", "CreatedToken", "AuditPage", "ErrorBody", "LoginOutcome"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "the document lacks schema {schema}");
    }
}

async fn organizations_from_create_to_archive(s: &TestServer) {
    let admin = as_admin(s);
    let created = admin.post("/api/v1/orgs", json!({"name": "  Acme Corp  "})).await;
    let org = created.expect_status(201).clone();
    let id = org["id"].as_str().unwrap().to_owned();
    assert_eq!(org["name"], "Acme Corp", "names are trimmed");
    assert!(org["archived_at"].is_null());

    let listing = admin.get("/api/v1/orgs").await;
    assert_eq!(ids(listing.expect_status(200)), vec![id.clone()]);
    assert!(listing.body["next_offset"].is_null());

    let got = admin.get(&format!("/api/v1/orgs/{id}")).await;
    assert_eq!(got.expect_status(200), &org, "what is created is what is read back");

    let renamed = admin.patch(&format!("/api/v1/orgs/{id}"), json!({"name": "Acme Holdings"})).await;
    assert_eq!(renamed.expect_status(200)["name"], "Acme Holdings");
    assert_eq!(admin.get(&format!("/api/v1/orgs/{id}")).await.body["name"], "Acme Holdings");

    // Names are unique, ignoring case.
    admin.post("/api/v1/orgs", json!({"name": "Globex"})).await.expect_status(201);
    let dup = admin.post("/api/v1/orgs", json!({"name": "globex"})).await;
    assert_eq!(dup.expect_error(409, "conflict")["field"], "name");
    let dup = admin.patch(&format!("/api/v1/orgs/{id}"), json!({"name": "GLOBEX"})).await;
    assert_eq!(dup.expect_error(409, "conflict")["field"], "name");

    let archived = admin.post_empty(&format!("/api/v1/orgs/{id}/archive")).await;
    assert!(archived.expect_status(200)["archived_at"].is_string());
    admin.post_empty(&format!("/api/v1/orgs/{id}/archive")).await.expect_error(409, "conflict");

    let active = admin.get("/api/v1/orgs").await;
    assert!(!ids(&active.body).contains(&id), "archived organizations are hidden by default");
    let all = admin.get("/api/v1/orgs?include_archived=true").await;
    assert!(ids(&all.body).contains(&id));

    // Paging.
    let page = admin.get("/api/v1/orgs?include_archived=true&limit=1").await;
    assert_eq!(ids(page.expect_status(200)).len(), 1);
    assert_eq!(page.body["next_offset"], 1);
    let second = admin.get("/api/v1/orgs?include_archived=true&limit=1&offset=1").await;
    assert_eq!(ids(&second.body).len(), 1);
    assert_ne!(ids(&second.body), ids(&page.body));
}

async fn users_from_create_to_password_reset(s: &TestServer) {
    let admin = as_admin(s);
    let org = s.create_org("Initech").await;
    let created = admin
        .post(
            "/api/v1/users",
            json!({"username": "peter", "display_name": "Peter Gibbons", "role": "org_admin", "org_id": org.id, "password": "tps-reports-1999"}),
        )
        .await;
    let user = created.expect_status(201).clone();
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["role"], "org_admin");
    assert_eq!(user["org_id"], org.id.as_str());
    assert!(user.get("password").is_none() && user.get("password_hash").is_none(), "{user}");

    let listing = admin.get("/api/v1/users").await;
    assert!(ids(listing.expect_status(200)).contains(&id));
    let of_org = admin.get(&format!("/api/v1/users?org_id={}", org.id)).await;
    assert_eq!(ids(&of_org.body), vec![id.clone()]);

    admin.get(&format!("/api/v1/users/{id}")).await.expect_status(200);
    let updated = admin.patch(&format!("/api/v1/users/{id}"), json!({"display_name": "Peter G."})).await;
    assert_eq!(updated.expect_status(200)["display_name"], "Peter G.");
    let promoted = admin.patch(&format!("/api/v1/users/{id}"), json!({"role": "org_user"})).await;
    assert_eq!(promoted.expect_status(200)["role"], "org_user");

    let disabled = admin.post_empty(&format!("/api/v1/users/{id}/disable")).await;
    assert_eq!(disabled.expect_status(200)["disabled"], true);
    let hidden = admin.get("/api/v1/users").await;
    assert!(!ids(&hidden.body).contains(&id), "disabled users are hidden unless asked for");
    let shown = admin.get("/api/v1/users?include_disabled=true").await;
    assert!(ids(&shown.body).contains(&id));
    let enabled = admin.post_empty(&format!("/api/v1/users/{id}/enable")).await;
    assert_eq!(enabled.expect_status(200)["disabled"], false);

    let generated = admin.post(&format!("/api/v1/users/{id}/reset-password"), json!({})).await;
    let password = generated.expect_status(200)["generated_password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 16);
    assert_eq!(s.login("peter", &password).await.0, 200);
    assert_eq!(s.login("peter", "tps-reports-1999").await.0, 401, "the old password no longer works");

    let chosen = admin.post(&format!("/api/v1/users/{id}/reset-password"), json!({"new_password": "a-chosen-password"})).await;
    assert!(chosen.expect_status(200)["generated_password"].is_null());
    assert_eq!(s.login("peter", "a-chosen-password").await.0, 200);

    // An admin cannot disable themselves.
    let me = admin.get("/api/v1/me").await;
    let me_id = me.expect_status(200)["id"].as_str().unwrap().to_owned();
    admin.post_empty(&format!("/api/v1/users/{me_id}/disable")).await.expect_error(409, "conflict");
}

async fn tokens_show_their_secret_once_and_revocation_is_immediate(s: &TestServer) {
    let admin = as_admin(s);
    let created = admin.post("/api/v1/tokens", json!({"name": "nightly report", "expires_in_days": 30})).await;
    let created = created.expect_status(201).clone();
    let secret = created["token"].as_str().unwrap().to_owned();
    let token_id = created["info"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("wkt_"), "{secret}");
    assert!(created["info"]["expires_at"].is_string());

    let listing = admin.get("/api/v1/tokens").await;
    assert_eq!(ids(listing.expect_status(200)), vec![token_id.clone()]);
    assert!(!listing.text.contains(&secret), "a listing must never contain the secret");
    assert!(listing.body["items"][0].get("token").is_none());

    let with_token = as_token(s, &secret);
    let me = with_token.get("/api/v1/me").await;
    assert_eq!(me.expect_status(200)["username"], "admin");
    // A bearer API token needs no CSRF token to change state.
    with_token.post("/api/v1/orgs", json!({"name": "Made by a token"})).await.expect_status(201);

    let revoked = admin.delete(&format!("/api/v1/tokens/{token_id}")).await;
    assert!(revoked.expect_status(200)["revoked_at"].is_string());
    with_token.get("/api/v1/me").await.expect_error(401, "unauthenticated");
    admin.delete(&format!("/api/v1/tokens/{token_id}")).await.expect_error(409, "conflict");

    let bad = admin.post("/api/v1/tokens", json!({"name": "x", "expires_in_days": 0})).await;
    bad.expect_invalid("expires_in_days");
}

async fn disabling_a_user_ends_their_sessions_and_tokens_at_once(s: &TestServer) {
    let org = s.create_org("Umbrella").await;
    let alice = s.create_user("alice", Role::OrgAdmin, Some(&org.id)).await;
    let session = as_token(s, &alice.token);
    let made = session.post("/api/v1/tokens", json!({"name": "alice's script"})).await;
    let api_token = made.expect_status(201)["token"].as_str().unwrap().to_owned();
    as_token(s, &api_token).get("/api/v1/me").await.expect_status(200);
    session.get("/api/v1/me").await.expect_status(200);

    as_admin(s).post_empty(&format!("/api/v1/users/{}/disable", alice.user.id)).await.expect_status(200);
    session.get("/api/v1/me").await.expect_error(401, "unauthenticated");
    as_token(s, &api_token).get("/api/v1/me").await.expect_error(401, "unauthenticated");
    let (status, body) = s.login("alice", &alice.password).await;
    assert_eq!(status, 401, "{body}");

    // Enabling does not bring the old credentials back.
    as_admin(s).post_empty(&format!("/api/v1/users/{}/enable", alice.user.id)).await.expect_status(200);
    session.get("/api/v1/me").await.expect_error(401, "unauthenticated");
    as_token(s, &api_token).get("/api/v1/me").await.expect_error(401, "unauthenticated");
    assert_eq!(s.login("alice", &alice.password).await.0, 200);
}

async fn audit_query_and_verify(s: &TestServer) {
    let admin = as_admin(s);
    let org = admin.post("/api/v1/orgs", json!({"name": "Audited"})).await.expect_status(201).clone();
    let org_id = org["id"].as_str().unwrap();
    admin.patch(&format!("/api/v1/orgs/{org_id}"), json!({"name": ""})).await.expect_invalid("name");

    let creates = admin.get("/api/v1/audit?action=org.create").await;
    let records = creates.expect_status(200)["records"].as_array().unwrap().clone();
    assert_eq!(records.len(), 1, "{}", creates.text);
    assert_eq!(records[0]["target_id"], org_id);
    assert_eq!(records[0]["outcome"], "succeeded");
    assert_eq!(records[0]["actor_name"], "admin");

    let family = admin.get("/api/v1/audit?action=org.").await;
    let actions: Vec<&str> =
        family.body["records"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"org.create") && actions.contains(&"org.rename"), "{actions:?}");

    let rejected = admin.get(&format!("/api/v1/audit?outcome=rejected&target_id={org_id}")).await;
    let rejected = rejected.expect_status(200)["records"].as_array().unwrap().clone();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["action"], "org.rename");

    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let recent = admin.get(&format!("/api/v1/audit?since={since}&limit=2")).await;
    let page = recent.expect_status(200).clone();
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    let before = page["next_before"].as_i64().expect("more records follow");
    let older = admin.get(&format!("/api/v1/audit?since={since}&limit=2&before_seq={before}")).await;
    for r in older.expect_status(200)["records"].as_array().unwrap() {
        assert!(r["seq"].as_i64().unwrap() < before);
    }
    let future = admin.get("/api/v1/audit?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future.expect_status(200)["records"], json!([]));

    let verified = admin.get("/api/v1/audit/verify").await;
    let v = verified.expect_status(200);
    assert_eq!(v["intact"], true, "{v}");
    assert!(v["checked"].as_u64().unwrap() >= 4);
}

async fn sign_in_and_out(s: &TestServer) {
    let (status, outcome) = s.login("admin", works_testkit::ADMIN_PASSWORD).await;
    assert_eq!(status, 200);
    assert!(outcome["token"].as_str().unwrap().starts_with("wks_"));
    assert!(outcome["csrf_token"].is_string() && outcome["expires_at"].is_string());
    assert_eq!(outcome["user"]["username"], "admin");
    let session = as_token(s, outcome["token"].as_str().unwrap());
    session.get("/api/v1/me").await.expect_status(200);
    let out = session.post_empty("/api/v1/auth/logout").await;
    assert_eq!(out.status, 204, "{}", out.text);
    session.get("/api/v1/me").await.expect_error(401, "unauthenticated");

    let (status, body) = s.login("admin", "not the password").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["kind"], "unauthenticated");
    let (status, body) = s.login("nobody-here", "not the password").await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "The username or password is not correct.", "an unknown user reads like a wrong password");
}

async fn unknown_routes_and_missing_credentials_answer_json(s: &TestServer) {
    let admin = as_admin(s);
    let missing = admin.get("/api/v1/nothing-here").await;
    missing.expect_error(404, "not_found");
    let wrong_method = admin.delete("/api/v1/version").await;
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.text);
    assert_eq!(wrong_method.body["error"]["kind"], "invalid_input");

    let anon = anonymous(s);
    let denied = anon.get("/api/v1/orgs").await;
    denied.expect_error(401, "unauthenticated");
    assert_eq!(denied.headers["www-authenticate"], "Bearer");
    anon.post("/api/v1/orgs", json!({"name": "x"})).await.expect_error(401, "unauthenticated");
    as_token(s, "wkt_not-a-real-token").get("/api/v1/me").await.expect_error(401, "unauthenticated");
    let basic = anon
        .request(reqwest::Method::GET, "/api/v1/me")
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    let body: Value = basic.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "unauthenticated");
}

