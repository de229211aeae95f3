//! `GET`/`PUT /api/v1/me/layout`: each person reads and writes only their own Command
//! Center layout (another person, of the same organization or another, still sees the
//! default); bad shapes are refused with 400 naming the field and change nothing; a
//! browser must send its CSRF token to save.

use reqwest::Method;
use serde_json::{json, Value};
use works_core::Role;
use works_testkit::TestServer;

use crate::common::{answer, anonymous, as_admin, as_token, Answer};

const PATH: &str = "/api/v1/me/layout";

async fn put(s: &TestServer, token: &str, body: Value) -> Answer {
    answer(as_token(s, token).request(Method::PUT, PATH).json(&body).send().await.unwrap()).await
}

fn default_layout() -> Value {
    json!({ "roster_side": "left", "activity": "bottom", "roster_width": 288, "inspector_width": 352, "activity_height": 152, "collapsed_groups": [] })
}

pub async fn each_person_keeps_only_their_own_layout(s: &TestServer) {
    anonymous(s).get(PATH).await.expect_error(401, "unauthenticated");
    let acme = s.create_org("Acme Dental").await;
    let bolt = s.create_org("Bolt Logistics").await;
    let a_admin = s.create_user("acme-admin", Role::OrgAdmin, Some(&acme.id)).await;
    let a_user = s.create_user("acme-user", Role::OrgUser, Some(&acme.id)).await;
    let b_admin = s.create_user("bolt-admin", Role::OrgAdmin, Some(&bolt.id)).await;

    assert_eq!(as_token(s, &a_admin.token).get(PATH).await.expect_status(200), &default_layout());
    let mine = json!({
        "roster_side": "right", "activity": "top", "roster_width": 320, "inspector_width": 400, "activity_height": 200,
        "collapsed_groups": [format!("org:{}", acme.id), "org:msp", "org:msp"]
    });
    let saved = put(s, &a_admin.token, mine).await.expect_status(200).clone();
    assert_eq!(saved["roster_side"], "right");
    let mut groups = vec![format!("org:{}", acme.id), "org:msp".to_owned()];
    groups.sort();
    assert_eq!(saved["collapsed_groups"], json!(groups), "sorted, each once");
    assert_eq!(as_token(s, &a_admin.token).get(PATH).await.expect_status(200), &saved, "kept");

    // Nobody else sees it: not a person of the same organization, not another
    // organization's admin, not the MSP admin.
    for token in [&a_user.token, &b_admin.token, &s.admin_token] {
        assert_eq!(as_token(s, token).get(PATH).await.expect_status(200), &default_layout());
    }
    // Saving one's own never touches another's.
    put(s, &b_admin.token, json!({ "activity": "hidden" })).await.expect_status(200);
    assert_eq!(as_token(s, &a_admin.token).get(PATH).await.expect_status(200), &saved);
    let b = as_token(s, &b_admin.token).get(PATH).await.expect_status(200).clone();
    assert_eq!((b["activity"].clone(), b["roster_side"].clone()), (json!("hidden"), json!("left")), "left-out fields take their default");

    // Bad shapes: refused naming the field; nothing changes.
    for (body, field) in [
        (json!({ "roster_side": "middle" }), "roster_side"),
        (json!({ "activity": "floating" }), "activity"),
        (json!({ "roster_width": 5 }), "roster_width"),
        (json!({ "inspector_width": 100000 }), "inspector_width"),
        (json!({ "activity_height": 0 }), "activity_height"),
        (json!({ "collapsed_groups": ["<script>alert(1)</script>"] }), "collapsed_groups"),
        (json!({ "collapsed_groups": ["acme"] }), "collapsed_groups"),
        (json!({ "collapsed_groups": (0..1001).map(|i| format!("org:{i}")).collect::<Vec<_>>() }), "collapsed_groups"),
        (json!({ "roster_width": "wide" }), "roster_width"),
        (json!({ "roster_width": -1 }), "roster_width"),
    ] {
        put(s, &a_admin.token, body.clone()).await.expect_invalid(field);
    }
    put(s, &a_admin.token, json!({ "colour": "pink" })).await.expect_error(400, "invalid_input");
    put(s, &a_admin.token, json!([1, 2])).await.expect_error(400, "invalid_input");
    assert_eq!(as_token(s, &a_admin.token).get(PATH).await.expect_status(200), &saved, "bad input changed nothing");

    // A browser: reads with its cookie, saves only with its CSRF token.
    let browser = crate::browser_session::sign_in(s, "admin", works_testkit::ADMIN_PASSWORD).await;
    let cookie_put = |csrf: Option<&str>| {
        let mut r = s.client().put(s.url(PATH)).header("cookie", &browser.cookie).json(&json!({ "roster_side": "right" }));
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r
    };
    answer(cookie_put(None).send().await.unwrap()).await.expect_error(403, "forbidden");
    answer(cookie_put(Some(&browser.csrf)).send().await.unwrap()).await.expect_status(200);
    let r = answer(s.client().get(s.url(PATH)).header("cookie", &browser.cookie).send().await.unwrap()).await;
    assert_eq!(r.expect_status(200)["roster_side"], "right");
    assert_eq!(as_admin(s).get(PATH).await.expect_status(200)["roster_side"], "right", "the same person by token");
}

crate::on_both_backends!(each_person_keeps_only_their_own_layout);
