//! The Command Center's layout follows the person, in real Chromium: panels moved
//! (roster and inspector swapped, activity on top), resized by their grips and an
//! organization collapsed are saved on the server; after signing in again (a new
//! session, a fresh page) the layout is as they left it, and another person still gets
//! the default.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use works_core::{NewNode, Role};
use works_testkit::{TestServer, ADMIN_PASSWORD};

use crate::browser::{chromedriver_or_skip, connect, Driver};
use crate::command_center::{js, rendered, shot, sign_in};
use crate::common::as_admin;

/// Waits until the page read the person's layout and drew the map.
async fn ready(c: &Client) {
    for _ in 0..100 {
        if js(c, "return document.getElementById('cc').getAttribute('data-layout-loaded')").await == json!("true") {
            return rendered(c, 1).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the layout was never loaded");
}

/// Where the panels are: [roster left, inspector left, map top, activity top, roster width].
async fn panels(c: &Client) -> Value {
    js(
        c,
        "const r = s => document.querySelector(s).getBoundingClientRect();
         return [r('.cc-roster').left, r('.cc-inspector').left, r('.cc-map').top, r('.cc-activity').top, Math.round(r('.cc-roster').width)];",
    )
    .await
}

async fn saved_layout(s: &TestServer, want: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = as_admin(s).get("/api/v1/me/layout").await.expect_status(200).clone();
        if want(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the layout was not saved as expected: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layout_is_kept_per_person_across_sign_ins() {
    let Some(binary) = chromedriver_or_skip() else { return };
    let s = TestServer::start_sqlite().await;
    let org = s.create_org("Acme Dental").await;
    s.works.node_create(&s.admin, NewNode { name: "acme-web-01".into(), org_id: Some(org.id.clone()) }).await.unwrap();
    let other = s.create_user("acme-admin", Role::OrgAdmin, Some(&org.id)).await;
    let driver = Driver::start(&binary).await;
    let profile = tempfile::tempdir().unwrap();
    let c = connect(&driver, profile.path()).await;

    sign_in(&c, &s, "admin", ADMIN_PASSWORD).await;
    c.goto(&s.url("/")).await.unwrap();
    ready(&c).await;
    let p = panels(&c).await;
    assert!(p[0].as_f64() < p[1].as_f64(), "the roster starts on the left: {p}");
    assert!(p[2].as_f64() < p[3].as_f64(), "the activity starts at the bottom: {p}");

    // Move: swap sides, activity to the top; resize the roster by its grip; collapse Acme.
    c.find(Locator::Css("#cc-swap")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#cc-activity-place")).await.unwrap().select_by_value("top").await.unwrap();
    let dragged = js(
        &c,
        "const grip = document.querySelector('.cc-grip-roster'), cc = document.getElementById('cc').getBoundingClientRect();
         const at = (type, x) => grip.dispatchEvent(new PointerEvent(type, { pointerId: 1, clientX: x, clientY: cc.top + 200, bubbles: true, cancelable: true }));
         at('pointerdown', cc.right - 300); at('pointermove', cc.right - 340); at('pointerup', cc.right - 340);
         return Math.round(cc.right - 340);",
    )
    .await;
    assert!(dragged.as_i64().unwrap() > 0);
    let group = format!("org:{}", org.id);
    js(&c, &format!("document.querySelector(\"#cc-groups [data-group='{group}'] text.title\").dispatchEvent(new MouseEvent('click', {{ bubbles: true }})); return null")).await;
    let saved = saved_layout(&s, |l| l["roster_side"] == "right" && l["activity"] == "top" && l["roster_width"] == 340 && l["collapsed_groups"] == json!([group])).await;
    assert_eq!(saved["inspector_width"], 352, "{saved}");

    // Sign out, sign in again: a new session and a fresh page find the layout kept.
    c.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    sign_in(&c, &s, "admin", ADMIN_PASSWORD).await;
    c.goto(&s.url("/")).await.unwrap();
    ready(&c).await;
    let p = panels(&c).await;
    assert!(p[0].as_f64() > p[1].as_f64(), "the roster is on the right: {p}");
    assert!(p[3].as_f64() < p[2].as_f64(), "the activity is on top: {p}");
    assert_eq!(p[4], json!(340), "the roster keeps its width: {p}");
    assert_eq!(js(&c, "return document.getElementById('cc-activity-place').value").await, json!("top"));
    let collapsed = js(&c, &format!("return document.querySelector(\"#cc-groups [data-group='{group}']\").classList.contains('collapsed')")).await;
    assert_eq!(collapsed, json!(true), "Acme stays collapsed");
    shot(&c, "command-center-layout").await;

    // Hidden activity, then another person: the default, not the admin's layout.
    c.find(Locator::Css("#cc-activity-place")).await.unwrap().select_by_value("hidden").await.unwrap();
    assert_eq!(js(&c, "return getComputedStyle(document.querySelector('.cc-activity')).display").await, json!("none"));
    saved_layout(&s, |l| l["activity"] == "hidden").await;
    sign_in(&c, &s, "acme-admin", &other.password).await;
    c.goto(&s.url("/ui/map")).await.unwrap();
    ready(&c).await;
    let p = panels(&c).await;
    assert!(p[0].as_f64() < p[1].as_f64() && p[2].as_f64() < p[3].as_f64(), "another person gets the default layout: {p}");
    c.close().await.unwrap();
}
