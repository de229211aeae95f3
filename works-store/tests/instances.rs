//! The instances part of the store contract, on SQLite and (when configured) PostgreSQL:
//! one instance per node and container, refreshes that keep id, state and takeover, the
//! takeover written once with its audit record, and lists scoped in the query.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use works_core::audit::{AuditDraft, AuditQuery, Outcome};
use works_core::instances::{Instance, InstanceFilter, InstanceState};
use works_core::model::{Org, Page, Scope};
use works_core::nodes::NodeRecord;
use works_core::store::Store;
use works_core::Error;
use works_store::testing::{fresh_postgres, fresh_sqlite};

fn t(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_700_000_000_000 + ms).single().unwrap()
}

fn draft(action: &str, org_id: Option<&str>) -> AuditDraft {
    AuditDraft {
        at: t(0),
        actor_id: "agent:n".into(),
        actor_name: "agent".into(),
        org_id: org_id.map(str::to_owned),
        action: action.into(),
        target_kind: "instance".into(),
        target_id: None,
        outcome: Outcome::Succeeded,
        reason: format!("{action} for the test"),
    }
}

fn node(id: &str, org_id: Option<&str>) -> NodeRecord {
    NodeRecord {
        id: id.into(),
        name: id.into(),
        org_id: org_id.map(str::to_owned),
        created_at: t(0),
        updated_at: t(0),
        retired_at: None,
        last_checkin_at: None,
        health: None,
        enrolled_at: None,
    }
}

fn instance(id: &str, node: &NodeRecord, container_id: &str, name: &str, at: i64) -> Instance {
    Instance {
        id: id.into(),
        node_id: node.id.clone(),
        org_id: node.org_id.clone(),
        state: InstanceState::Discovered,
        container_id: container_id.into(),
        container_name: name.into(),
        image: "anthropy/openclaw:2026.9.6".into(),
        version: Some("2026.9.6".into()),
        health: Some("running".into()),
        reasons: vec!["its image anthropy/openclaw:2026.9.6 is named openclaw".into()],
        discovered_at: t(at),
        updated_at: t(at),
        taken_over_by: None,
        taken_over_at: None,
        takeover_phrase: None,
        reason: None,
        job_id: None,
        health_detail: None,
    }
}

async fn audit_count(s: &dyn Store, action: &str) -> usize {
    s.query_audit(&Scope::All, &AuditQuery { action: Some(action.into()), ..Default::default() }, 500).await.unwrap().records.len()
}

async fn exercise(name: &str, s: Arc<dyn Store>) {
    let org = Org { id: "org-a".into(), name: "Acme".into(), created_at: t(0), updated_at: t(0), archived_at: None };
    s.insert_org(&org, draft("org.create", None)).await.unwrap();
    let a = node("node-a", Some("org-a"));
    let shared = node("node-m", None);
    s.insert_node(&a, draft("node.create", Some("org-a"))).await.unwrap();
    s.insert_node(&shared, draft("node.create", None)).await.unwrap();

    let first = instance("inst-1", &a, "c1", "openclaw-gateway", 10);
    assert!(s.record_discovered_instance(&first, draft("instance.discover", Some("org-a"))).await.unwrap(), "[{name}] new");
    assert_eq!(s.get_instance("inst-1").await.unwrap().as_ref(), Some(&first), "[{name}] reads back exactly");

    // The same container again: refreshed under the first id, no second audit record.
    let mut again = instance("inst-2", &a, "c1", "openclaw-gateway-renamed", 20);
    again.health = Some("running, healthy".into());
    again.version = None;
    assert!(!s.record_discovered_instance(&again, draft("instance.discover", Some("org-a"))).await.unwrap(), "[{name}] known");
    assert!(s.get_instance("inst-2").await.unwrap().is_none());
    let stored = s.get_instance("inst-1").await.unwrap().unwrap();
    assert_eq!((stored.container_name.as_str(), stored.health.as_deref(), stored.version.as_deref()), ("openclaw-gateway-renamed", Some("running, healthy"), None));
    assert_eq!((stored.discovered_at, stored.updated_at), (t(10), t(20)));
    assert_eq!(audit_count(&*s, "instance.discover").await, 1, "[{name}]");

    // Another container of the node, and one on shared infrastructure.
    s.record_discovered_instance(&instance("inst-3", &a, "c2", "openclaw-cell-a", 30), draft("instance.discover", Some("org-a"))).await.unwrap();
    s.record_discovered_instance(&instance("inst-4", &shared, "c1", "openclaw-gateway", 40), draft("instance.discover", None)).await.unwrap();

    // Takeover: once, with its record; a second is a conflict; a refresh keeps it managed.
    let mut taken = stored.clone();
    taken.state = InstanceState::Managed;
    taken.taken_over_by = Some("admin".into());
    taken.taken_over_at = Some(t(50));
    taken.updated_at = t(50);
    s.take_over_instance(&taken, draft("instance.takeover", Some("org-a"))).await.unwrap();
    assert_eq!(s.get_instance("inst-1").await.unwrap().unwrap(), taken, "[{name}]");
    let twice = s.take_over_instance(&taken, draft("instance.takeover", Some("org-a"))).await.unwrap_err();
    assert!(matches!(twice, Error::Conflict { .. }), "[{name}] {twice:?}");
    assert_eq!(audit_count(&*s, "instance.takeover").await, 1, "[{name}] the refused write left no record");
    s.record_discovered_instance(&instance("inst-5", &a, "c1", "openclaw-gateway", 60), draft("instance.discover", Some("org-a"))).await.unwrap();
    let kept = s.get_instance("inst-1").await.unwrap().unwrap();
    assert_eq!((kept.state, kept.taken_over_by.as_deref()), (InstanceState::Managed, Some("admin")), "[{name}]");

    // Lists: scoped in the query, managed first, then by container name, paged.
    let ids = |v: Vec<Instance>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    let page = Page { offset: 0, limit: 50 };
    let f = InstanceFilter::default();
    assert_eq!(ids(s.list_instances(&Scope::All, &f, page).await.unwrap()), ["inst-1", "inst-3", "inst-4"], "[{name}]");
    assert_eq!(ids(s.list_instances(&Scope::Org("org-a".into()), &f, page).await.unwrap()), ["inst-1", "inst-3"]);
    assert!(s.list_instances(&Scope::User("u".into()), &f, page).await.unwrap().is_empty());
    let by_node = InstanceFilter { node_id: Some("node-m".into()) };
    assert_eq!(ids(s.list_instances(&Scope::All, &by_node, page).await.unwrap()), ["inst-4"]);
    assert_eq!(ids(s.list_instances(&Scope::All, &f, Page { offset: 1, limit: 1 }).await.unwrap()), ["inst-3"]);

    // An instance of an unknown node is refused.
    let ghost = node("node-x", None);
    assert!(s.record_discovered_instance(&instance("inst-9", &ghost, "c9", "x", 70), draft("instance.discover", None)).await.is_err());
}

#[tokio::test]
async fn instances_conform_on_every_backend() {
    let (_dir, store, _) = fresh_sqlite().await;
    exercise("sqlite", store).await;
    match fresh_postgres().await {
        Some((store, _)) => exercise("postgres", store).await,
        None => eprintln!("WORKS_TEST_POSTGRES_URL is not set: PostgreSQL is skipped"),
    }
}
