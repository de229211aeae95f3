//! Several servers on one database: a job queued through one server is announced to the
//! others (PostgreSQL LISTEN/NOTIFY), and the recovery lease passes from one holder to
//! another when it is given up or runs out. Runs on SQLite and PostgreSQL.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use works_core::{ApproveJob, JobKind, NewJob, NewNode};
use works_guarantees::{backends, World};

#[tokio::test]
async fn a_job_queued_through_one_server_is_announced_to_the_others() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        // The other server: its own connections to the same database.
        let other = works_store::open(&backend.url).await.expect("a second store on the same database");
        let listener = other.work_listener().await.expect("listen");
        let Some(mut listener) = listener else {
            assert_eq!(backend.name, "sqlite", "only SQLite, which serves one server, may have no announcements");
            continue;
        };
        assert_eq!(backend.name, "postgres");
        let node = w.works.node_create(&w.msp_admin.actor, NewNode { name: "cluster-web-01".into(), org_id: None }).await.unwrap();

        // A safe job is queued at once: announced.
        w.works.job_request(&w.msp_admin.actor, NewJob { node_id: node.id.clone(), kind: JobKind::HealthCheck, params: serde_json::json!({}) }).await.unwrap();
        tokio::time::timeout(StdDuration::from_secs(20), listener.next()).await.expect("no announcement of a queued job").expect("the listener");

        // A risky job is announced when it is approved (queued), not when requested.
        let risky = w.works.job_request(&w.msp_admin.actor, NewJob { node_id: node.id.clone(), kind: JobKind::Restart, params: serde_json::json!({}) }).await.unwrap();
        let phrase = risky.approval_phrase.clone().expect("a phrase");
        w.works.job_approve(&w.msp_admin.actor, &risky.id, ApproveJob { phrase }).await.unwrap();
        tokio::time::timeout(StdDuration::from_secs(20), listener.next()).await.expect("no announcement of an approved job").expect("the listener");
    }
}

#[tokio::test]
async fn the_recovery_lease_passes_to_another_server_when_given_up_or_run_out() {
    for backend in backends().await {
        let store = backend.store.clone();
        let name = works_core::recovery::RECOVERY_LEASE;
        let now = Utc::now();
        let ttl = Duration::seconds(30);
        assert!(store.try_lease(name, "server-a", now, ttl).await.unwrap(), "[{}] a free lease is taken", backend.name);
        assert!(!store.try_lease(name, "server-b", now, ttl).await.unwrap(), "[{}] a held lease is not taken by another", backend.name);
        assert!(store.try_lease(name, "server-a", now + Duration::seconds(10), ttl).await.unwrap(), "[{}] the holder renews", backend.name);
        // Only the holder can give it up.
        assert!(!store.release_lease(name, "server-b", now).await.unwrap(), "[{}] another server gave up a lease it does not hold", backend.name);
        assert!(!store.try_lease(name, "server-b", now + Duration::seconds(11), ttl).await.unwrap());
        assert!(store.release_lease(name, "server-a", now + Duration::seconds(12)).await.unwrap(), "[{}] the holder gives it up", backend.name);
        assert!(store.try_lease(name, "server-b", now + Duration::seconds(12), ttl).await.unwrap(), "[{}] another takes a given-up lease at once", backend.name);
        // The new holder dies without giving it up: taken over once it runs out, not before.
        assert!(!store.try_lease(name, "server-c", now + Duration::seconds(41), ttl).await.unwrap());
        assert!(store.try_lease(name, "server-c", now + Duration::seconds(42), ttl).await.unwrap(), "[{}] an expired lease is taken over", backend.name);
        let held = store.get_lease(name).await.unwrap().expect("the lease");
        assert_eq!(held.holder, "server-c");
    }
}
