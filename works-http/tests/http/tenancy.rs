//! Tenancy over HTTP: another organization's records are answered exactly like
//! records that do not exist, changes to them are refused and recorded, and lists hold
//! exactly what the caller may see.

use serde_json::{json, Value};
use works_core::Role;
use works_testkit::TestServer;

use crate::common::{as_admin, as_token, ids, random_id, Answer};

crate::on_both_backends!(another_tenant_is_answered_like_nothing, lists_hold_exactly_the_permitted_set);

/// The body with `id` replaced, so answers about different ids can be compared.
fn without_id(a: &Answer, id: &str) -> String {
    a.text.replace(id, "<id>")
}

async fn another_tenant_is_answered_like_nothing(s: &TestServer) {
    let org_a = s.create_org("Alpha").await;
    let org_b = s.create_org("Beta").await;
    let admin_a = s.create_user("alpha-admin", Role::OrgAdmin, Some(&org_a.id)).await;
    let user_a = s.create_user("alpha-user", Role::OrgUser, Some(&org_a.id)).await;
    let admin_b = s.create_user("beta-admin", Role::OrgAdmin, Some(&org_b.id)).await;
    let b_token = as_token(s, &admin_b.token).post("/api/v1/tokens", json!({"name": "beta script"})).await;
    let b_token_id = b_token.expect_status(201)["info"]["id"].as_str().unwrap().to_owned();

    for who in [&admin_a, &user_a] {
        let a = as_token(s, &who.token);
        let missing_id = random_id();

        // Reads: identical to a record that does not exist.
        let foreign = a.get(&format!("/api/v1/orgs/{}", org_b.id)).await;
        let nothing = a.get(&format!("/api/v1/orgs/{missing_id}")).await;
        foreign.expect_error(404, "not_found");
        nothing.expect_error(404, "not_found");
        assert_eq!(without_id(&foreign, &org_b.id), without_id(&nothing, &missing_id));

        let foreign = a.get(&format!("/api/v1/users/{}", admin_b.user.id)).await;
        let nothing = a.get(&format!("/api/v1/users/{missing_id}")).await;
        foreign.expect_error(404, "not_found");
        assert_eq!(without_id(&foreign, &admin_b.user.id), without_id(&nothing, &missing_id));

        a.get(&format!("/api/v1/tokens?user_id={}", admin_b.user.id)).await.expect_error(404, "not_found");
        let filtered = a.get(&format!("/api/v1/users?org_id={}", org_b.id)).await;
        assert_eq!(ids(filtered.expect_status(200)), Vec::<String>::new());

        // Changes: refused, and nothing changes.
        for answer in [
            a.patch(&format!("/api/v1/orgs/{}", org_b.id), json!({"name": "Taken over"})).await,
            a.post_empty(&format!("/api/v1/orgs/{}/archive", org_b.id)).await,
            a.patch(&format!("/api/v1/users/{}", admin_b.user.id), json!({"display_name": "Pwned"})).await,
            a.post_empty(&format!("/api/v1/users/{}/disable", admin_b.user.id)).await,
            a.post(&format!("/api/v1/users/{}/reset-password", admin_b.user.id), json!({})).await,
            a.delete(&format!("/api/v1/tokens/{b_token_id}")).await,
        ] {
            assert!(matches!(answer.status.as_u16(), 403 | 404), "expected 403 or 404, got {}: {}", answer.status, answer.text);
            let kind = answer.body["error"]["kind"].as_str().unwrap();
            assert!(kind == "not_found" || kind == "forbidden", "{}", answer.text);
        }
        // Creating a user in B is refused too.
        let into_b = a
            .post(
                "/api/v1/users",
                json!({"username": "mole", "role": "org_user", "org_id": org_b.id, "password": "a-long-password"}),
            )
            .await;
        assert!(matches!(into_b.status.as_u16(), 400 | 403 | 404), "{}", into_b.text);
    }

    let admin = as_admin(s);
    let org_b_now = admin.get(&format!("/api/v1/orgs/{}", org_b.id)).await;
    assert_eq!(org_b_now.expect_status(200)["name"], "Beta");
    assert!(org_b_now.body["archived_at"].is_null());
    let b_now = admin.get(&format!("/api/v1/users/{}", admin_b.user.id)).await;
    assert_eq!(b_now.body["display_name"], "beta-admin");
    assert_eq!(b_now.body["disabled"], false);
    let b_tokens = admin.get(&format!("/api/v1/tokens?user_id={}", admin_b.user.id)).await;
    assert!(b_tokens.expect_status(200)["items"][0]["revoked_at"].is_null());
    as_token(s, &admin_b.token).get("/api/v1/me").await.expect_status(200);
    assert!(admin.get("/api/v1/users?include_disabled=true").await.text.contains("alpha-user"));
    assert!(!admin.get("/api/v1/users?include_disabled=true").await.text.contains("mole"));

    // Every refusal is in the audit log, under the actor who tried.
    let denied = admin.get(&format!("/api/v1/audit?outcome=denied&actor_id={}&limit=500", admin_a.user.id)).await;
    let records: &Vec<Value> = denied.expect_status(200)["records"].as_array().unwrap();
    let seen = |action: &str, target: &str| {
        records.iter().any(|r| r["action"] == action && r["target_id"] == target && r["outcome"] == "denied")
    };
    assert!(seen("org.get", &org_b.id), "{}", denied.text);
    assert!(seen("org.rename", &org_b.id), "{}", denied.text);
    assert!(seen("org.archive", &org_b.id), "{}", denied.text);
    assert!(seen("user.get", &admin_b.user.id), "{}", denied.text);
    assert!(seen("user.update", &admin_b.user.id), "{}", denied.text);
    assert!(seen("user.disable", &admin_b.user.id), "{}", denied.text);
    assert!(seen("user.reset_password", &admin_b.user.id), "{}", denied.text);
    assert!(seen("token.revoke", &b_token_id), "{}", denied.text);
    let by_user = admin.get(&format!("/api/v1/audit?outcome=denied&actor_id={}&action=org.rename", user_a.user.id)).await;
    assert_eq!(by_user.expect_status(200)["records"].as_array().unwrap().len(), 1);

    // The refused attempts are not visible to the other tenant.
    let b_view = as_token(s, &admin_b.token).get("/api/v1/audit?limit=500").await;
    assert!(!b_view.expect_status(200).to_string().contains(&admin_a.user.id), "{}", b_view.text);
}

async fn lists_hold_exactly_the_permitted_set(s: &TestServer) {
    let org_a = s.create_org("Alpha").await;
    let org_b = s.create_org("Beta").await;
    let admin_a = s.create_user("alpha-admin", Role::OrgAdmin, Some(&org_a.id)).await;
    let user_a = s.create_user("alpha-user", Role::OrgUser, Some(&org_a.id)).await;
    let admin_b = s.create_user("beta-admin", Role::OrgAdmin, Some(&org_b.id)).await;
    let operator = s.create_user("operator", Role::MspOperator, None).await;

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let orgs_of = |token: String| async move { sorted(ids(as_token(s, &token).get("/api/v1/orgs").await.expect_status(200))) };
    let users_of = |token: String| async move {
        sorted(ids(as_token(s, &token).get("/api/v1/users?include_disabled=true").await.expect_status(200)))
    };

    assert_eq!(orgs_of(admin_a.token.clone()).await, vec![org_a.id.clone()]);
    assert_eq!(orgs_of(user_a.token.clone()).await, vec![org_a.id.clone()]);
    assert_eq!(orgs_of(admin_b.token.clone()).await, vec![org_b.id.clone()]);
    assert_eq!(orgs_of(operator.token.clone()).await, sorted(vec![org_a.id.clone(), org_b.id.clone()]));
    assert_eq!(orgs_of(s.admin_token.clone()).await, sorted(vec![org_a.id.clone(), org_b.id.clone()]));

    assert_eq!(users_of(admin_a.token.clone()).await, sorted(vec![admin_a.user.id.clone(), user_a.user.id.clone()]));
    assert_eq!(users_of(user_a.token.clone()).await, vec![user_a.user.id.clone()]);
    assert_eq!(users_of(admin_b.token.clone()).await, vec![admin_b.user.id.clone()]);
    let everyone = users_of(operator.token.clone()).await;
    assert_eq!(everyone.len(), 5, "admin, operator and the three organization users");

    // Organization roles may not create organizations or read the whole chain.
    as_token(s, &admin_a.token).post("/api/v1/orgs", json!({"name": "Gamma"})).await.expect_error(403, "forbidden");
    as_token(s, &operator.token).post("/api/v1/orgs", json!({"name": "Gamma"})).await.expect_error(403, "forbidden");
    as_token(s, &admin_a.token).get("/api/v1/audit/verify").await.expect_error(403, "forbidden");
    as_token(s, &operator.token).get("/api/v1/audit/verify").await.expect_status(200);

    // An organization admin manages their own organization's users.
    let made = as_token(s, &admin_a.token)
        .post("/api/v1/users", json!({"username": "alpha-new", "role": "org_user", "org_id": org_a.id, "password": "a-long-password"}))
        .await;
    made.expect_status(201);
    as_token(s, &user_a.token)
        .post("/api/v1/users", json!({"username": "alpha-newer", "role": "org_user", "org_id": org_a.id, "password": "a-long-password"}))
        .await
        .expect_error(403, "forbidden");
}
