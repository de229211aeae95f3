//! Alerts and the metrics history over HTTP: webhooks managed by an MSP admin only, the
//! delivery log, the history API, the Alerts page and the dashboard's chart.

use serde_json::json;
use works_core::Role;
use works_testkit::TestServer;

use crate::common::{anonymous, as_admin, as_token};

async fn browse(s: &TestServer, path: &str, cookie: &str, form: Option<&[(&str, &str)]>) -> reqwest::Response {
    let r = match form {
        None => s.client().get(s.url(path)),
        Some(fields) => {
            let mut body = form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                body.append_pair(k, v);
            }
            s.client().post(s.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body.finish())
        }
    };
    r.header("cookie", cookie).send().await.unwrap()
}

pub async fn webhooks_and_deliveries_over_the_api(s: &TestServer) {
    let org = s.create_org("Acme Dental").await;
    let org_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&org.id)).await;
    let operator = s.create_user("operator", Role::MspOperator, None).await;
    let hook = json!({ "name": "pager", "url": "https://alerts.example.com/hook", "secret": "a-long-shared-secret-42" });

    anonymous(s).get("/api/v1/alerts/webhooks").await.expect_error(401, "unauthenticated");
    as_token(s, &org_admin.token).post("/api/v1/alerts/webhooks", hook.clone()).await.expect_error(403, "forbidden");
    as_token(s, &operator.token).post("/api/v1/alerts/webhooks", hook.clone()).await.expect_error(403, "forbidden");
    as_token(s, &org_admin.token).get("/api/v1/alerts/deliveries").await.expect_error(403, "forbidden");
    as_admin(s).post("/api/v1/alerts/webhooks", json!({ "name": "x", "url": "ftp://example.com" })).await.expect_invalid("url");
    as_admin(s).post("/api/v1/alerts/webhooks", json!({ "name": "x", "url": "https://example.com", "secret": "short" })).await.expect_invalid("secret");

    let r = as_admin(s).post("/api/v1/alerts/webhooks", hook.clone()).await;
    let created = r.expect_status(201).clone();
    assert_eq!(created["signed"], true);
    assert!(!r.text.contains("a-long-shared-secret-42"), "the secret is never shown: {}", r.text);
    let listed = as_token(s, &operator.token).get("/api/v1/alerts/webhooks").await;
    assert_eq!(listed.expect_status(200)[0]["id"], created["id"]);
    assert!(!listed.text.contains("a-long-shared-secret-42") && !listed.text.contains("secret_sealed"));
    let log = as_token(s, &operator.token).get("/api/v1/alerts/deliveries").await;
    assert_eq!(log.expect_status(200)["items"], json!([]));

    let id = created["id"].as_str().unwrap();
    as_token(s, &org_admin.token).delete(&format!("/api/v1/alerts/webhooks/{id}")).await.expect_error(403, "forbidden");
    as_admin(s).delete(&format!("/api/v1/alerts/webhooks/{id}")).await.expect_status(200);
    as_admin(s).delete(&format!("/api/v1/alerts/webhooks/{id}")).await.expect_error(404, "not_found");

    let doc = anonymous(s).get("/api/v1/openapi.json").await;
    let paths = &doc.expect_status(200)["paths"];
    for p in ["/api/v1/alerts/webhooks", "/api/v1/alerts/webhooks/{id}", "/api/v1/alerts/deliveries", "/api/v1/metrics/history"] {
        assert!(paths.get(p).is_some(), "{p} is missing from the OpenAPI document");
    }
}

pub async fn the_history_over_the_api_and_on_the_dashboard(s: &TestServer) {
    let org = s.create_org("Acme Dental").await;
    let org_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&org.id)).await;
    // One sample, as the background monitor takes them.
    let sample = s.works.sample_metrics().await.unwrap().expect("the first sample is stored");
    assert_eq!(s.works.sample_metrics().await.unwrap(), None, "not again within the interval");

    as_token(s, &org_admin.token).get("/api/v1/metrics/history").await.expect_error(403, "forbidden");
    as_admin(s).get("/api/v1/metrics/history?hours=0").await.expect_invalid("hours");
    as_admin(s).get("/api/v1/metrics/history?hours=169").await.expect_invalid("hours");
    let r = as_admin(s).get("/api/v1/metrics/history?hours=1").await;
    let body = r.expect_status(200);
    assert_eq!(body["samples"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["samples"][0]["state"], "healthy");
    assert_eq!(body["samples"][0]["counts"]["orgs"], 1);
    assert_eq!(body["samples"][0]["counts"]["nodes"]["online"], 0);
    assert_eq!(body["sample_every_secs"], 60);
    assert_eq!(body["retention_days"], 7);
    assert_eq!(body["samples"][0]["counts"], serde_json::to_value(&sample.counts).unwrap());

    let browser = crate::browser_session::sign_in(s, "admin", works_testkit::ADMIN_PASSWORD).await;
    let page = browse(s, "/ui", &browser.cookie, None).await.text().await.unwrap();
    assert!(page.contains("<svg class=\"history-chart\""), "{page}");
    assert!(page.contains("Last 24 hours") && !page.contains("<script"), "{page}");
}

pub async fn the_alerts_page(s: &TestServer) {
    let browser = crate::browser_session::sign_in(s, "admin", works_testkit::ADMIN_PASSWORD).await;
    let page = browse(s, "/ui/alerts", &browser.cookie, None).await.text().await.unwrap();
    assert!(page.contains("No webhooks yet") && page.contains("Add a webhook"), "{page}");
    assert!(page.contains(r#"<a href="/ui/alerts" aria-current="page">Alerts</a>"#), "{page}");

    // Without the CSRF token: refused.
    let r = browse(s, "/ui/alerts", &browser.cookie, Some(&[("name", "pager"), ("url", "https://alerts.example.com/h")])).await;
    assert_eq!(r.status().as_u16(), 403);
    // Bad input goes back to the form, next to the field.
    let fields = [("csrf_token", browser.csrf.as_str()), ("name", "pager"), ("url", "https://user:pw@alerts.example.com/h"), ("secret", "")];
    let r = browse(s, "/ui/alerts", &browser.cookie, Some(&fields)).await;
    assert_eq!(r.status().as_u16(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("hook-url-error") && page.contains("user name or password"), "{page}");
    let fields = [("csrf_token", browser.csrf.as_str()), ("name", "pager"), ("url", "https://alerts.example.com/h"), ("secret", "")];
    let r = browse(s, "/ui/alerts", &browser.cookie, Some(&fields)).await;
    assert_eq!(r.status().as_u16(), 303);
    let page = browse(s, "/ui/alerts?notice=added", &browser.cookie, None).await.text().await.unwrap();
    assert!(page.contains("Webhook added") && page.contains("https://alerts.example.com/h") && page.contains("Not signed"), "{page}");

    // An organization admin is not offered the page and is refused it.
    let org = s.create_org("Acme Dental").await;
    s.create_user("acme-admin", Role::OrgAdmin, Some(&org.id)).await;
    let other = crate::browser_session::sign_in(s, "acme-admin", works_testkit::USER_PASSWORD).await;
    let r = browse(s, "/ui/alerts", &other.cookie, None).await;
    assert_eq!(r.status().as_u16(), 403);
    let page = browse(s, "/ui", &other.cookie, None).await.text().await.unwrap();
    assert!(!page.contains("/ui/alerts") && !page.contains("history-chart"), "{page}");
}

crate::on_both_backends!(webhooks_and_deliveries_over_the_api, the_history_over_the_api_and_on_the_dashboard, the_alerts_page);
