//! Alerts: a webhook receiver on loopback gets exactly one notification per change of
//! the health answer — across passes, a restart and two servers at once — and a retry
//! when it first answers 500. Only an MSP admin manages webhooks; organization roles see
//! none of it. Runs on SQLite and PostgreSQL.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::Duration;
use works_client::WebhookNotifier;
use works_core::alerts::{signature, DELIVERY_HEADER, EVENT_HEADER, RETRY_BASE_SECS, SIGNATURE_HEADER};
use works_core::{
    AuditQuery, CheckIn, CoreConfig, DeliveryQuery, DeliveryStatus, EnrollRequest, Error, HealthState, NewNode, NewWebhook, NodeHealth,
    NodeThresholds, Outcome, Works,
};
use works_guarantees::{backends, World};

const SECRET: &str = "a-shared-secret-for-the-pager";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    event: String,
    delivery: String,
    signature: Option<String>,
    body: serde_json::Value,
    raw: String,
}

#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Answer 500 to this many requests first.
    fail_next: Arc<AtomicU32>,
}

impl Receiver {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, raw: String) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    r.hits.lock().unwrap().push(Hit {
        event: header(EVENT_HEADER).unwrap_or_default(),
        delivery: header(DELIVERY_HEADER).unwrap_or_default(),
        signature: header(SIGNATURE_HEADER),
        body: serde_json::from_str(&raw).unwrap_or(serde_json::Value::Null),
        raw,
    });
    let failing = r.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

/// A webhook receiver on a free loopback port; its URL.
async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let app = Router::new().route("/hook", post(receive)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, format!("http://{addr}/hook"))
}

#[tokio::test]
async fn one_notification_per_change_with_a_retry_after_a_500() {
    for backend in backends().await {
        let name = backend.name;
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let (receiver, url) = start_receiver().await;
        let notifier = WebhookNotifier::new().unwrap();
        // This server's core, and its master key, which a restarted server is given again.
        let key = works_store::testing::test_master_key();
        let server = Works::new(backend.store.clone()).with_clock(w.clock.clone()).with_master_key(&key);

        let hook = server
            .webhook_create(admin, NewWebhook { name: "On-call pager".into(), url: url.clone(), secret: Some(SECRET.into()) })
            .await
            .unwrap();
        assert!(hook.signed, "[{name}]");
        let listed = w.works.webhook_list(&w.msp_operator.actor).await.unwrap();
        assert_eq!(listed, vec![hook.clone()], "[{name}] operators read the webhooks");

        // Healthy, as an installation that never notified counts: nothing is sent.
        let pass = server.alert_pass(&notifier).await.unwrap();
        assert_eq!(pass.changed, None, "[{name}]");
        assert!(receiver.hits().is_empty(), "[{name}]");

        // A node goes quiet: degraded. The receiver answers 500 the first time.
        let node = w.works.node_create(admin, NewNode { name: "acme-web-01".into(), org_id: Some(w.org_a.id.clone()) }).await.unwrap();
        let token = w.works.enrollment_token_create(admin, &node.id).await.unwrap();
        let cred = w
            .works
            .agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: Some("test".into()) })
            .await
            .unwrap();
        let agent = w.works.authenticate_agent(&cred.credential).await.unwrap();
        let check_in = || async {
            let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
            w.works.agent_checkin(&agent, CheckIn { health, containers: None }).await.unwrap();
        };
        check_in().await;
        assert_eq!(server.alert_pass(&notifier).await.unwrap().changed, None, "[{name}] still healthy");
        w.clock.advance(Duration::seconds(120));
        receiver.fail_next.store(1, Ordering::SeqCst);
        let pass = server.alert_pass(&notifier).await.unwrap();
        assert_eq!(pass.changed, Some((HealthState::Healthy, HealthState::Degraded)), "[{name}]");
        assert_eq!((pass.delivered, pass.retrying), (0, 1), "[{name}]");
        assert_eq!(receiver.hits().len(), 1, "[{name}]");

        let log = w.works.delivery_list(&w.msp_operator.actor, DeliveryQuery::default()).await.unwrap().items;
        assert_eq!(log.len(), 1, "[{name}] {log:?}");
        let first = &log[0];
        assert_eq!((first.status, first.attempts, first.last_status_code), (DeliveryStatus::Pending, 1, Some(500)), "[{name}]");
        assert!(first.last_error.as_deref().unwrap_or_default().contains("HTTP 500"), "[{name}] {first:?}");
        let retry_at = first.next_attempt_at.unwrap();
        assert_eq!(retry_at - first.updated_at, Duration::seconds(RETRY_BASE_SECS), "[{name}] the first retry waits the base delay");

        // Not due yet: nothing is sent and nothing new is recorded.
        let pass = server.alert_pass(&notifier).await.unwrap();
        assert_eq!((pass.changed, pass.delivered, pass.retrying), (None, 0, 0), "[{name}]");
        assert_eq!(receiver.hits().len(), 1, "[{name}]");

        // Due: the retry is delivered, with the same body and delivery id.
        w.clock.advance(Duration::seconds(RETRY_BASE_SECS + 1));
        let pass = server.alert_pass(&notifier).await.unwrap();
        assert_eq!((pass.changed, pass.delivered), (None, 1), "[{name}]");
        let hits = receiver.hits();
        assert_eq!(hits.len(), 2, "[{name}]");
        assert_eq!(hits[0].delivery, hits[1].delivery, "[{name}] a retry is the same delivery");
        assert_eq!(hits[0].raw, hits[1].raw, "[{name}] a retry sends the same body");
        for hit in &hits {
            assert_eq!(hit.event, "health.changed", "[{name}]");
            assert_eq!(hit.signature.as_deref(), Some(signature(SECRET, &hit.raw).as_str()), "[{name}] signed with the shared secret");
            assert!(!hit.raw.contains(SECRET), "[{name}] the secret is never sent");
        }
        assert_eq!(hits[1].body["from"], "healthy", "[{name}]");
        assert_eq!(hits[1].body["to"], "degraded", "[{name}]");
        assert_eq!(hits[1].body["issues"][0]["id"], format!("node-stale:{}", node.id), "[{name}]");
        let log = w.works.delivery_list(admin, DeliveryQuery::default()).await.unwrap().items;
        assert_eq!((log[0].status, log[0].attempts, log[0].last_status_code), (DeliveryStatus::Delivered, 2, Some(204)), "[{name}]");
        assert!(log[0].delivered_at.is_some() && log[0].next_attempt_at.is_none(), "[{name}]");

        // A restarted server (a new core over the same database) does not send again.
        let restarted = Works::new(backend.store.clone())
            .with_clock(w.clock.clone())
            .with_master_key(&key);
        let pass = restarted.alert_pass(&notifier).await.unwrap();
        assert_eq!((pass.changed, pass.delivered), (None, 0), "[{name}]");
        assert_eq!(receiver.hits().len(), 2, "[{name}]");

        // Every node offline: critical. Two servers pass at the same time: one notification.
        w.clock.advance(Duration::seconds(300));
        let (a, b) = tokio::join!(server.alert_pass(&notifier), restarted.alert_pass(&notifier));
        let (a, b) = (a.unwrap(), b.unwrap());
        let changes: Vec<_> = [a.changed, b.changed].into_iter().flatten().collect();
        assert_eq!(changes, vec![(HealthState::Degraded, HealthState::Critical)], "[{name}] exactly one server records the change");
        assert_eq!(a.delivered + b.delivered, 1, "[{name}] {a:?} {b:?} {:?}", w.works.delivery_list(admin, DeliveryQuery::default()).await.unwrap().items.first());
        assert_eq!(receiver.hits().len(), 3, "[{name}]");
        assert_eq!(receiver.hits()[2].body["to"], "critical", "[{name}]");

        // The node comes back: healthy, one more notification; quiet passes send nothing.
        check_in().await;
        server.alert_pass(&notifier).await.unwrap();
        server.alert_pass(&notifier).await.unwrap();
        restarted.alert_pass(&notifier).await.unwrap();
        let hits = receiver.hits();
        assert_eq!(hits.len(), 4, "[{name}]");
        assert_eq!(hits[3].body["from"], "critical", "[{name}]");
        assert_eq!(hits[3].body["to"], "healthy", "[{name}]");
        let events: std::collections::BTreeSet<_> = hits.iter().map(|h| h.body["event_id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(events.len(), 3, "[{name}] three changes, three events");

        // Each change is in the audit log once.
        let changes = w
            .works
            .audit_query(admin, AuditQuery { action: Some("alert.health_changed".into()), ..Default::default() })
            .await
            .unwrap()
            .records;
        assert_eq!(changes.len(), 3, "[{name}]");
    }
}

#[tokio::test]
async fn a_delivery_gives_up_after_its_attempts_and_a_removed_webhook_stops() {
    for backend in backends().await {
        let name = backend.name;
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        // Nodes stay stale (degraded) for a day, so the answer holds while retries run.
        let works = w.works.clone().with_config(CoreConfig {
            nodes: NodeThresholds { stale_after: Duration::seconds(90), offline_after: Duration::days(1) },
            ..CoreConfig::default()
        });
        let (receiver, url) = start_receiver().await;
        let notifier = WebhookNotifier::new().unwrap();
        works.webhook_create(admin, NewWebhook { name: "always failing".into(), url, secret: None }).await.unwrap();
        receiver.fail_next.store(u32::MAX, Ordering::SeqCst);

        // One stale node: degraded.
        let node = w.works.node_create(admin, NewNode { name: "bolt-db-01".into(), org_id: Some(w.org_b.id.clone()) }).await.unwrap();
        let token = w.works.enrollment_token_create(admin, &node.id).await.unwrap();
        let cred = w.works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
        let agent = w.works.authenticate_agent(&cred.credential).await.unwrap();
        let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
        w.works.agent_checkin(&agent, CheckIn { health, containers: None }).await.unwrap();
        w.clock.advance(Duration::seconds(120));

        let mut passes = 0;
        loop {
            works.alert_pass(&notifier).await.unwrap();
            passes += 1;
            let d = works.delivery_list(admin, DeliveryQuery::default()).await.unwrap().items.remove(0);
            if d.status != DeliveryStatus::Pending {
                assert_eq!(d.status, DeliveryStatus::Failed, "[{name}]");
                assert_eq!(d.attempts, works_core::alerts::MAX_ATTEMPTS, "[{name}]");
                assert!(d.last_error.as_deref().unwrap().contains("Gave up after"), "[{name}] {d:?}");
                break;
            }
            assert!(passes < 20, "[{name}] the delivery never gave up");
            w.clock.advance(d.next_attempt_at.unwrap() - d.updated_at);
        }
        assert_eq!(receiver.hits().len() as u32, works_core::alerts::MAX_ATTEMPTS, "[{name}] bounded attempts");

        // No more attempts once given up, and no new change while the answer holds.
        w.clock.advance(Duration::hours(2));
        works.alert_pass(&notifier).await.unwrap();
        assert_eq!(receiver.hits().len() as u32, works_core::alerts::MAX_ATTEMPTS, "[{name}]");
        assert_eq!(works.delivery_list(admin, DeliveryQuery::default()).await.unwrap().items.len(), 1, "[{name}]");

        // The node comes back: a new change, whose first attempt fails. Removing the
        // webhook then stops it without sending again.
        let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
        works.agent_checkin(&agent, CheckIn { health, containers: None }).await.unwrap();
        let pass = works.alert_pass(&notifier).await.unwrap();
        assert_eq!(pass.changed, Some((HealthState::Degraded, HealthState::Healthy)), "[{name}]");
        let sent = receiver.hits().len();
        let hook = works.webhook_list(admin).await.unwrap().remove(0);
        works.webhook_delete(admin, &hook.id).await.unwrap();
        w.clock.advance(Duration::hours(2));
        works.alert_pass(&notifier).await.unwrap();
        assert_eq!(receiver.hits().len(), sent, "[{name}] nothing is sent to a removed webhook");
        let log = works.delivery_list(admin, DeliveryQuery::default()).await.unwrap().items;
        assert_eq!(log.len(), 2, "[{name}] the log keeps the removed webhook's deliveries");
        assert_eq!(log[0].status, DeliveryStatus::Failed, "[{name}]");
        assert!(log[0].last_error.as_deref().unwrap().contains("removed"), "[{name}] {:?}", log[0]);
    }
}

#[tokio::test]
async fn only_an_msp_admin_manages_webhooks_and_organizations_see_none() {
    for backend in backends().await {
        let name = backend.name;
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let input = |url: &str| NewWebhook { name: "pager".into(), url: url.into(), secret: None };

        for (who, person) in [("msp_operator", &w.msp_operator), ("a_admin", &w.a_admin), ("b_user", &w.b_user)] {
            let e = w.works.webhook_create(&person.actor, input("https://alerts.example.com/hook")).await.unwrap_err();
            assert!(matches!(e, Error::Forbidden { .. }), "[{name}] {who}: {e:?}");
        }
        for (who, person) in [("a_admin", &w.a_admin), ("a_user", &w.a_user), ("b_admin", &w.b_admin)] {
            assert!(matches!(w.works.webhook_list(&person.actor).await, Err(Error::Forbidden { .. })), "[{name}] {who}");
            assert!(
                matches!(w.works.delivery_list(&person.actor, DeliveryQuery::default()).await, Err(Error::Forbidden { .. })),
                "[{name}] {who}"
            );
        }
        let hook = w.works.webhook_create(admin, input("https://alerts.example.com/hook")).await.unwrap();
        let e = w.works.webhook_delete(&w.b_admin.actor, &hook.id).await.unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }), "[{name}] {e:?}");
        assert_eq!(w.works.webhook_list(admin).await.unwrap().len(), 1, "[{name}] a refused removal changes nothing");

        // Bad input names the field and changes nothing.
        for (url, secret, field) in [
            ("ftp://alerts.example.com", None, "url"),
            ("https://user:pw@alerts.example.com/", None, "url"),
            ("https://alerts.example.com/2", Some("short"), "secret"),
        ] {
            let e = w
                .works
                .webhook_create(admin, NewWebhook { name: format!("bad {field}"), url: url.into(), secret: secret.map(str::to_owned) })
                .await
                .unwrap_err();
            assert_eq!(e.field(), Some(field), "[{name}] {url}: {e}");
        }
        let e = w.works.webhook_create(admin, input("https://alerts.example.com/other")).await.unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "[{name}] duplicate name: {e:?}");
        assert_eq!(w.works.webhook_list(admin).await.unwrap().len(), 1, "[{name}]");

        // Refusals are recorded.
        let denied = w
            .works
            .audit_query(admin, AuditQuery { action: Some("alert.".into()), outcome: Some(Outcome::Denied), ..Default::default() })
            .await
            .unwrap()
            .records;
        assert_eq!(denied.len(), 3 + 6 + 1, "[{name}] every refusal is recorded");
        let rejected = w
            .works
            .audit_query(admin, AuditQuery { action: Some("alert.webhook_create".into()), outcome: Some(Outcome::Rejected), ..Default::default() })
            .await
            .unwrap()
            .records;
        assert_eq!(rejected.len(), 4, "[{name}]");
        assert!(rejected.iter().all(|r| !r.reason.contains("pw@")), "[{name}]");
    }
}
