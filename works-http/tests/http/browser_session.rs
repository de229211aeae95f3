//! The browser session over plain HTTP: the sign-in form, its cookies, CSRF on every
//! state-changing cookie request, the sign-in rate limit, and the UI's error pages.

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;
use works_core::Role;
use works_testkit::{TestServer, ADMIN_PASSWORD};

use crate::common::{answer, as_admin, ids, random_id};

crate::on_both_backends!(
    cookies_are_strict_and_state_changes_need_the_csrf_token,
    sign_in_is_rate_limited_after_five_failures,
    ui_pages_answer_plainly,
);

/// A signed-in browser: its cookies and the CSRF token its pages carry.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
    pub set_cookies: Vec<String>,
}

fn form(body: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in body {
        s.append_pair(k, v);
    }
    s.finish()
}

async fn post_form(s: &TestServer, path: &str, cookie: Option<&str>, body: &[(&str, &str)]) -> reqwest::Response {
    let mut r = s
        .client()
        .post(s.url(path))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(body));
    if let Some(c) = cookie {
        r = r.header(COOKIE, c);
    }
    r.send().await.unwrap()
}

async fn get_page(s: &TestServer, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut r = s.client().get(s.url(path));
    if let Some(c) = cookie {
        r = r.header(COOKIE, c);
    }
    let r = r.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The value of `name` in `Set-Cookie: name=value; …`.
fn cookie_value<'a>(set_cookies: &'a [String], name: &str) -> &'a str {
    set_cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {set_cookies:?}"))
}

pub async fn sign_in(s: &TestServer, username: &str, password: &str) -> Browser {
    let r = post_form(s, "/login", None, &[("username", username), ("password", password)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signing in through the form failed");
    assert_eq!(r.headers()[LOCATION], "/ui");
    let set_cookies: Vec<String> =
        r.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let session = cookie_value(&set_cookies, "works_session").to_owned();
    let csrf = cookie_value(&set_cookies, "works_csrf").to_owned();
    Browser { cookie: format!("works_session={session}; works_csrf={csrf}"), csrf, set_cookies }
}

async fn cookies_are_strict_and_state_changes_need_the_csrf_token(s: &TestServer) {
    let browser = sign_in(s, "admin", ADMIN_PASSWORD).await;
    for c in &browser.set_cookies {
        let attrs: Vec<String> = c.split(';').map(|a| a.trim().to_ascii_lowercase()).collect();
        assert!(attrs.contains(&"httponly".to_owned()), "{c}");
        assert!(attrs.contains(&"samesite=strict".to_owned()), "{c}");
        assert!(attrs.contains(&"path=/".to_owned()), "{c}");
        assert!(attrs.iter().any(|a| a.starts_with("max-age=")), "{c}");
        assert!(!attrs.contains(&"secure".to_owned()), "plain-HTTP test servers do not mark cookies Secure: {c}");
    }
    assert!(cookie_value(&browser.set_cookies, "works_session").starts_with("wks_"));

    // The pages carry the CSRF token in their forms.
    let (status, html) = get_page(s, "/ui/orgs", Some(&browser.cookie)).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!(r#"name="csrf_token" value="{}""#, browser.csrf)), "{html}");

    let count = || async { ids(as_admin(s).get("/api/v1/orgs").await.expect_status(200)).len() };
    assert_eq!(count().await, 0);

    // JSON with the cookie: without the header 403, with a wrong one 403, with it 201.
    let cookie_json = |token: Option<&str>| {
        let mut r = s
            .client()
            .request(Method::POST, s.url("/api/v1/orgs"))
            .header(COOKIE, &browser.cookie)
            .json(&json!({"name": "Cookie Co"}));
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        r
    };
    answer(cookie_json(None).send().await.unwrap()).await.expect_error(403, "forbidden");
    answer(cookie_json(Some("forged")).send().await.unwrap()).await.expect_error(403, "forbidden");
    assert_eq!(count().await, 0, "a refused request created something");
    answer(cookie_json(Some(&browser.csrf)).send().await.unwrap()).await.expect_status(201);
    assert_eq!(count().await, 1);
    // Reads by cookie need no token.
    let me = s.client().get(s.url("/api/v1/me")).header(COOKIE, &browser.cookie).send().await.unwrap();
    assert_eq!(me.status(), 200);

    // The UI form: without the field 403, with it a redirect to the list.
    let r = post_form(s, "/ui/orgs", Some(&browser.cookie), &[("name", "Form Co")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_form(s, "/ui/orgs", Some(&browser.cookie), &[("name", "Form Co"), ("csrf_token", "forged")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(count().await, 1);
    let r = post_form(s, "/ui/orgs", Some(&browser.cookie), &[("name", "Form Co"), ("csrf_token", &browser.csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with("/ui/orgs?created="), "{location}");
    let (_, html) = get_page(s, &location, Some(&browser.cookie)).await;
    assert!(html.contains("Organization “Form Co” was created."), "{html}");
    assert_eq!(count().await, 2);

    // An inline error keeps what was typed and names the problem next to the field.
    let r = post_form(s, "/ui/orgs", Some(&browser.cookie), &[("name", "   "), ("csrf_token", &browser.csrf)]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"id="org-name-error">Must not be empty"#), "{html}");

    // Signing out needs the token too, and ends the session.
    let r = post_form(s, "/logout", Some(&browser.cookie), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_form(s, "/logout", Some(&browser.cookie), &[("csrf_token", &browser.csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login");
    let cleared: Vec<&str> = r.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    assert!(cleared.iter().any(|c| c.starts_with("works_session=;") && c.contains("Max-Age=0")), "{cleared:?}");
    let me = s.client().get(s.url("/api/v1/me")).header(COOKIE, &browser.cookie).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let (status, _) = get_page(s, "/ui/orgs", Some(&browser.cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "a page without a live session sends the browser to sign in");
}

async fn sign_in_is_rate_limited_after_five_failures(s: &TestServer) {
    let org = s.create_org("Limits").await;
    let victim = s.create_user("victim", Role::OrgUser, Some(&org.id)).await;
    for attempt in 1..=5 {
        let (status, body) = s.login("victim", "wrong password").await;
        assert_eq!(status, 401, "attempt {attempt}: {body}");
    }
    let r = s
        .client()
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "victim", "password": victim.password}))
        .send()
        .await
        .unwrap();
    let limited = answer(r).await;
    limited.expect_error(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0);
    assert!(limited.body["error"]["retry_after_secs"].as_u64().unwrap() > 0);

    // The sign-in form says so in plain English.
    let r = post_form(s, "/login", None, &[("username", "victim"), ("password", &victim.password)]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let html = r.text().await.unwrap();
    assert!(html.contains("Too many failed sign-in attempts"), "{html}");

    // Other accounts are not affected.
    assert_eq!(s.login("admin", ADMIN_PASSWORD).await.0, 200);
    let denied = as_admin(s).get("/api/v1/audit?action=auth.login&outcome=denied&limit=500").await;
    assert!(denied.expect_status(200)["records"].as_array().unwrap().len() >= 6);
}

async fn ui_pages_answer_plainly(s: &TestServer) {
    let (status, _) = get_page(s, "/", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, html) = get_page(s, "/login", None).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<form method="post" action="/login""#));

    let r = post_form(s, "/login", None, &[("username", "admin"), ("password", "wrong password")]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let html = r.text().await.unwrap();
    assert!(html.contains("The username or password is not correct."), "{html}");
    assert!(html.contains(r#"value="admin""#), "the username is kept: {html}");

    let cross = s
        .client()
        .post(s.url("/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(form(&[("username", "admin"), ("password", ADMIN_PASSWORD)]))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN, "a sign-in posted from another site is refused");
    assert!(cross.headers().get(SET_COOKIE).is_none());

    let browser = sign_in(s, "admin", ADMIN_PASSWORD).await;
    let c = Some(browser.cookie.as_str());
    let (status, _) = get_page(s, "/", c).await;
    assert_eq!(status, StatusCode::OK, "the Command Center is the page at / for MSP roles");

    let missing = random_id();
    let (status, html) = get_page(s, &format!("/ui/orgs/{missing}"), c).await;
    assert_eq!(status, 404);
    assert!(html.contains(&format!("No organization with id {missing} exists")), "{html}");
    let (status, html) = get_page(s, "/ui/nowhere", c).await;
    assert_eq!(status, 404);
    assert!(html.contains("There is no page at /ui/nowhere."), "{html}");

    // Names are escaped everywhere they appear.
    let org = s.create_org("<b>Bold</b> & \"Quoted\"").await;
    let (status, html) = get_page(s, &format!("/ui/orgs/{}", org.id), c).await;
    assert_eq!(status, 200);
    assert!(!html.contains("<b>Bold</b>"), "{html}");
    let (_, html) = get_page(s, "/ui/orgs", c).await;
    assert!(!html.contains("<b>Bold</b>"), "{html}");

    // Users: create with a select, disable, reset password shown once.
    let r = post_form(
        s,
        "/ui/users",
        c,
        &[
            ("username", "ui-made"),
            ("display_name", "Made In UI"),
            ("role", "org_user"),
            ("org_id", &org.id),
            ("password", "a-long-password"),
            ("csrf_token", &browser.csrf),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = get_page(s, "/ui/users", c).await;
    assert!(html.contains("Made In UI"), "{html}");
    let r = post_form(
        s,
        "/ui/users",
        c,
        &[("username", "x"), ("role", "org_user"), ("org_id", &org.id), ("password", "a-long-password"), ("csrf_token", &browser.csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"id="u-username-error">Must be 3 to 64 characters"#), "{html}");

    let made = as_admin(s).get("/api/v1/users").await;
    let user_id = made.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "ui-made")
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .unwrap();
    let r = post_form(s, &format!("/ui/users/{user_id}/reset-password"), c, &[("csrf_token", &browser.csrf)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains("It is shown only this once"), "{html}");
    let r = post_form(s, &format!("/ui/users/{user_id}/disable"), c, &[("csrf_token", &browser.csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(as_admin(s).get(&format!("/api/v1/users/{user_id}")).await.body["disabled"], true);

    // Audit: filters, and the chain check in plain English.
    let (status, html) = get_page(s, "/ui/audit?action=user.&outcome=succeeded&verify=true", c).await;
    assert_eq!(status, 200);
    assert!(html.contains("The audit log is intact"), "{html}");
    assert!(html.contains("user.disable"), "{html}");
    assert!(!html.contains(">org.create<"), "the action filter applies: {html}");
    let (status, _) = get_page(s, "/ui/audit?outcome=sideways", c).await;
    assert_eq!(status, 400);
    // Failed attempts (Test Access, agent installations) have an outcome of their own.
    let (status, html) = get_page(s, "/ui/audit?outcome=failed", c).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<option value="failed" selected>Failed</option>"#), "{html}");

    // Paging: more than a page of records offers "Older", which shows older records.
    for n in 0..50 {
        s.works.org_create(&s.admin, works_core::NewOrg { name: format!("Filler {n}") }).await.unwrap();
    }
    let (_, html) = get_page(s, "/ui/audit?action=org.create", c).await;
    // 51 creations: the newest 50 (all the fillers) on the first page, the first one on the next.
    assert!(html.contains("Created organization Filler 49") && html.contains("Created organization Filler 0"), "{html}");
    assert!(!html.contains("Created organization &#60;b&#62;Bold"), "{html}");
    let older = html
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.contains("before="))
        .expect("an Older link")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(html.contains(">Older</a>"));
    let (status, html) = get_page(s, &older, c).await;
    assert_eq!(status, 200);
    assert!(html.contains("Created organization &#60;b&#62;Bold"), "{html}");
    assert!(!html.contains("Created organization Filler"), "{html}");
    assert!(html.contains(">Newest</a>") && !html.contains(">Older</a>"), "{html}");
}
