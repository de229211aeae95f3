//! A database an earlier version made is migrated with what it holds unchanged: here,
//! the SQLite audit log, which a migration copies into a table that also allows the
//! `failed` outcome (SQLite cannot change a CHECK constraint in place).

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use works_core::audit::{verify_chain, AuditDraft, AuditRecord, Outcome, GENESIS_HASH};

fn draft(n: i64, outcome: Outcome, org_id: Option<&str>) -> AuditDraft {
    AuditDraft {
        at: Utc.timestamp_millis_opt(1_700_000_000_000 + n * 1000).single().expect("time"),
        actor_id: "user-1".into(),
        actor_name: "admin".into(),
        org_id: org_id.map(str::to_owned),
        action: format!("test.step{n}"),
        target_kind: "test".into(),
        target_id: (n % 2 == 0).then(|| format!("target-{n}")),
        outcome,
        reason: format!("record {n}: Zürich ✓"),
    }
}

#[tokio::test]
async fn the_sqlite_audit_log_keeps_every_record_and_hash_when_it_learns_the_failed_outcome() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = works_store::sqlite_url_for_dir(dir.path());

    // The database as the version before left it: migrations up to 15, and a chain.
    let mut sealed: Vec<AuditRecord> = Vec::new();
    {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut before = sqlx::migrate::Migrator::new(path).await.expect("migrations");
        let kept: Vec<_> = before.migrations.iter().filter(|m| m.version <= 15).cloned().collect();
        assert!(kept.len() < before.migrations.len(), "a migration after 15 exists");
        before.migrations = kept.into();
        let pool = SqlitePool::connect_with(SqliteConnectOptions::from_str(&url).expect("url").create_if_missing(true)).await.expect("open");
        before.run(&pool).await.expect("migrate to 15");
        let mut prev = GENESIS_HASH.to_owned();
        for (n, outcome) in [Outcome::Succeeded, Outcome::Denied, Outcome::Rejected, Outcome::Succeeded].into_iter().enumerate() {
            let r = draft(n as i64, outcome, (n != 1).then_some("org-1")).seal(n as i64 + 1, &prev);
            prev = r.hash.clone();
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor_id, actor_name, org_id, action, target_kind, target_id, outcome, reason, prev_hash, hash) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(r.seq)
            .bind(r.at.timestamp_millis())
            .bind(&r.actor_id)
            .bind(&r.actor_name)
            .bind(&r.org_id)
            .bind(&r.action)
            .bind(&r.target_kind)
            .bind(&r.target_id)
            .bind(r.outcome.as_str())
            .bind(&r.reason)
            .bind(&r.prev_hash)
            .bind(&r.hash)
            .execute(&pool)
            .await
            .expect("insert a record as the earlier version did");
            sealed.push(r);
        }
        let refused = sqlx::query("UPDATE audit_log SET outcome = 'failed' WHERE seq = 1").execute(&pool).await;
        assert!(refused.is_err(), "before the migration the outcome `failed` is refused");
        pool.close().await;
    }

    // Opening it with this version migrates it.
    let store = works_store::open(&url).await.expect("open and migrate");
    let chain = store.audit_chain(0, 100).await.expect("chain");
    assert_eq!(chain, sealed, "every record kept, in place, with its hash");
    let next = store.append_audit(draft(9, Outcome::Failed, Some("org-1"))).await.expect("a failed outcome is recorded");
    assert_eq!((next.seq, next.prev_hash.as_str(), next.outcome), (5, sealed[3].hash.as_str(), Outcome::Failed));
    let all = store.audit_chain(0, 100).await.expect("chain");
    let v = verify_chain(&all);
    assert!(v.intact && v.checked == 5, "{v:?}");
    // The indexes came back with the table.
    let (indexes,): (i64,) = {
        let pool = SqlitePool::connect_with(SqliteConnectOptions::from_str(&url).expect("url")).await.expect("open");
        let n = sqlx::query_as("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log' AND name LIKE 'audit_log_%_idx'")
            .fetch_one(&pool)
            .await
            .expect("indexes");
        pool.close().await;
        n
    };
    assert_eq!(indexes, 3, "the audit log's three indexes");
}
