//! The audit log: every change and every refusal is recorded with a redacted reason;
//! the hash chain verifies, and any edit of a stored record is found.

use works_core::{AuditQuery, NewOrg, Outcome, RenameOrg};
use works_guarantees::{backends, World};

#[tokio::test]
async fn every_change_is_recorded_with_actor_org_target_and_outcome() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let org = w.works.org_create(admin, NewOrg { name: "Cobalt Clinics".into() }).await.unwrap();
        w.works.org_rename(admin, &org.id, RenameOrg { name: "Cobalt Health".into() }).await.unwrap();
        let page = w
            .works
            .audit_query(admin, AuditQuery { target_id: Some(org.id.clone()), ..Default::default() })
            .await
            .unwrap();
        let actions: Vec<&str> = page.records.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["org.rename", "org.create"], "[{}] newest first", backend.name);
        let rename = &page.records[0];
        assert_eq!(rename.actor_id, w.msp_admin.user.id);
        assert_eq!(rename.actor_name, "admin");
        assert_eq!(rename.org_id.as_deref(), Some(org.id.as_str()));
        assert_eq!(rename.target_kind, "org");
        assert_eq!(rename.outcome, Outcome::Succeeded);
        assert_eq!(rename.reason, "Renamed organization Cobalt Clinics to Cobalt Health");
    }
}

#[tokio::test]
async fn secrets_never_reach_the_audit_log() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        // An operator pastes a secret where it does not belong.
        w.works.org_create(admin, NewOrg { name: "Oops password=hunter2hunter2".into() }).await.unwrap();
        let page = w.works.audit_query(admin, AuditQuery { action: Some("org.create".into()), ..Default::default() }).await.unwrap();
        assert!(page.records.iter().all(|r| !r.reason.contains("hunter2")), "[{}] {:?}", backend.name, page.records);
        assert!(page.records.iter().any(|r| r.reason.contains("[redacted]")));
        // Token creation records the prefix, never the secret.
        let all = w.works.audit_query(admin, AuditQuery { action: Some("token.".into()), limit: Some(500), ..Default::default() }).await.unwrap();
        assert!(!all.records.is_empty());
        for r in &all.records {
            assert!(!r.reason.contains("wkt_") || r.reason.contains('…') || r.reason.contains("[redacted]"), "{}", r.reason);
        }
        let v = w.works.audit_verify(admin).await.unwrap();
        assert!(v.intact, "{v:?}");
    }
}

#[tokio::test]
async fn audit_pages_and_filters() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        for i in 0..7 {
            w.works.org_create(admin, NewOrg { name: format!("Paged {i}") }).await.unwrap();
        }
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = w
                .works
                .audit_query(admin, AuditQuery { action: Some("org.create".into()), before_seq: before, limit: Some(3), ..Default::default() })
                .await
                .unwrap();
            assert!(page.records.len() <= 3);
            seen.extend(page.records.iter().map(|r| r.seq));
            match page.next_before {
                Some(b) => before = Some(b),
                None => break,
            }
        }
        assert_eq!(seen.len(), 9, "[{}] 2 fixture orgs + 7: {seen:?}", backend.name);
        assert!(seen.windows(2).all(|p| p[0] > p[1]), "newest first, no repeats");
        // Family filter and outcome filter.
        let fam = w.works.audit_query(admin, AuditQuery { action: Some("org.".into()), limit: Some(500), ..Default::default() }).await.unwrap();
        assert!(fam.records.iter().all(|r| r.action.starts_with("org.")));
        let denied = w.works.audit_query(admin, AuditQuery { outcome: Some(Outcome::Denied), ..Default::default() }).await.unwrap();
        assert!(denied.records.iter().all(|r| r.outcome == Outcome::Denied));
        // Time window.
        let now = works_core::Clock::now(w.clock.as_ref());
        let future = w.works.audit_query(admin, AuditQuery { since: Some(now + chrono::Duration::hours(1)), ..Default::default() }).await.unwrap();
        assert!(future.records.is_empty());
        let past = w.works.audit_query(admin, AuditQuery { until: Some(now + chrono::Duration::hours(1)), limit: Some(500), ..Default::default() }).await.unwrap();
        assert!(past.records.len() >= 9);
    }
}

#[tokio::test]
async fn an_edited_deleted_or_forged_record_breaks_the_chain() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let ok = w.works.audit_verify(admin).await.unwrap();
        assert!(ok.intact && ok.checked > 10, "[{}] {ok:?}", backend.name);
        // Only MSP roles may verify.
        assert!(w.works.audit_verify(&w.a_admin.actor).await.is_err());

        // Someone with database access rewrites a reason.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&backend.url).await.unwrap_or_else(|e| panic!("{}: {e}", backend.url));
        sqlx::query("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 5").execute(&pool).await.unwrap();
        let broken = w.works.audit_verify(admin).await.unwrap();
        assert!(!broken.intact, "[{}] an edited record went unnoticed", backend.name);
        assert_eq!(broken.broken_at_seq, Some(5));
        assert!(broken.problem.unwrap().contains("changed after it was written"));
    }
}

#[tokio::test]
async fn a_deleted_record_breaks_the_chain() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&backend.url).await.unwrap();
        sqlx::query("DELETE FROM audit_log WHERE seq = 3").execute(&pool).await.unwrap();
        let v = w.works.audit_verify(&w.msp_admin.actor).await.unwrap();
        assert_eq!(v.broken_at_seq, Some(4), "[{}] {v:?}", backend.name);
    }
}

#[tokio::test]
async fn what_an_operation_returns_equals_what_is_read_back() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        // A clock with sub-millisecond precision must not make the two differ.
        w.clock.advance(chrono::Duration::nanoseconds(123_456));
        let made = w.works.org_create(admin, NewOrg { name: "Exact Dental".into() }).await.unwrap();
        assert_eq!(w.works.org_get(admin, &made.id).await.unwrap(), made, "[{}]", backend.name);
        let renamed = w.works.org_rename(admin, &made.id, RenameOrg { name: "Exact Dental Group".into() }).await.unwrap();
        assert_eq!(w.works.org_get(admin, &made.id).await.unwrap(), renamed);
    }
}
