//! Backups on SQLite and (when a test server is configured) PostgreSQL: a populated store
//! is backed up, verified, restore-tested and restored into a fresh database, table by
//! table; damaged backups, missing confirmations and databases in use are refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use works_core::ops::{
    local_operator, verify_audit_chain, BackupEngine, BackupService, RetentionPolicy, TableSummary,
};
use works_core::{Actor, Error, ManualClock, NewOrg, NewToken, NewUser, Role, Store, SystemClock, Works};
use works_store::backup::{backup_engine, known_migrations, probe, table_summaries};
use works_store::testing::{fresh_postgres, fresh_sqlite};

/// A fresh database: its store, its URL, and the folder a SQLite one lives in.
struct Db {
    store: Option<Arc<dyn Store>>,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    /// Lets go of the store, so nothing of this process keeps the database open.
    fn release(&mut self) {
        self.store = None;
    }
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone().expect("the store is open")
    }
}

async fn fresh(backend: &str) -> Option<Db> {
    match backend {
        "sqlite" => {
            let (dir, store, url) = fresh_sqlite().await;
            Some(Db { store: Some(store), url, _dir: Some(dir) })
        }
        _ => match fresh_postgres().await {
            Some((store, url)) => Some(Db { store: Some(store), url, _dir: None }),
            None => {
                eprintln!("WORKS_TEST_POSTGRES_URL is not set: PostgreSQL is skipped");
                None
            }
        },
    }
}

const BACKENDS: [&str; 2] = ["sqlite", "postgres"];

/// Organizations, users, a token, a rename and a refused attempt, all through the core.
async fn populate(store: Arc<dyn Store>) -> Actor {
    let works = Works::new(store);
    works.bootstrap(Some("a long admin password for tests".into())).await.expect("bootstrap");
    let admin = works.local_actor("admin").await.expect("admin");
    let mut orgs = Vec::new();
    for name in ["Acme", "Globex", "Initech"] {
        orgs.push(works.org_create(&admin, NewOrg { name: name.into() }).await.expect("org"));
    }
    works
        .user_create(
            &admin,
            NewUser {
                username: "alice".into(),
                display_name: Some("Alice Admin".into()),
                role: Role::OrgAdmin,
                org_id: Some(orgs[0].id.clone()),
                password: "alice's long password".into(),
            },
        )
        .await
        .expect("user");
    works.token_create(&admin, NewToken { name: "nightly report".into(), expires_in_days: Some(30) }).await.expect("token");
    works
        .org_rename(&admin, &orgs[1].id, works_core::RenameOrg { name: "Globex Group".into() })
        .await
        .expect("rename");
    let clash = works.org_create(&admin, NewOrg { name: "acme".into() }).await;
    assert!(matches!(clash, Err(Error::Conflict { .. })), "{clash:?}");
    admin
}

fn summary<'a>(tables: &'a [TableSummary], name: &str) -> &'a TableSummary {
    tables.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no table {name} in {tables:?}"))
}

/// Every table but the audit log is identical; the audit log has `extra` more records.
fn same_but_audit(before: &[TableSummary], after: &[TableSummary], extra: u64, what: &str) {
    let names = |t: &[TableSummary]| t.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(before), names(after), "{what}: the same tables");
    for b in before.iter().filter(|t| t.name != "audit_log") {
        assert_eq!(b, summary(after, &b.name), "{what}: table {} is unchanged", b.name);
    }
    assert_eq!(summary(after, "audit_log").rows, summary(before, "audit_log").rows + extra, "{what}: audit records added");
}

fn corrupt_one_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read backup");
    let i = bytes.len() / 2;
    bytes[i] ^= 0x5a;
    std::fs::write(path, bytes).expect("write backup");
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|e| e.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

async fn last_audit(url: &str) -> works_core::AuditRecord {
    let store = works_store::open(url).await.expect("open");
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let batch = store.audit_chain(after, 1000).await.expect("chain");
        let Some(last) = batch.last() else { break };
        after = last.seq;
        all.extend(batch);
    }
    all.pop().expect("an audit record")
}

#[tokio::test]
async fn a_populated_store_is_backed_up_verified_restore_tested_and_restored_table_by_table() {
    for backend in BACKENDS {
        let Some(live) = fresh(backend).await else { continue };
        populate(live.store()).await;
        let backups = tempfile::tempdir().unwrap();
        let engine = backup_engine(&live.url).await.unwrap();
        let clock = SystemClock;
        let service = BackupService::new(engine.as_ref(), &clock, local_operator());

        let before = table_summaries(&live.url).await.unwrap();
        let created = service.create(backups.path(), None).await.unwrap_or_else(|e| panic!("{backend}: create: {e}"));
        let manifest = &created.backup.manifest;
        assert_eq!(manifest.backend, backend);
        assert_eq!(manifest.tables, before, "{backend}: the manifest describes the database at backup time");
        assert_eq!(summary(&manifest.tables, "orgs").rows, 3);
        assert_eq!(summary(&manifest.tables, "users").rows, 2);
        assert_eq!(summary(&manifest.tables, "api_tokens").rows, 1);
        assert!(summary(&manifest.tables, "audit_log").rows >= 6);
        assert_eq!(manifest.schema_version, known_migrations(backend).into_iter().max());
        assert!(!manifest.source.contains("password"), "{}", manifest.source);
        assert!(matches!(created.audit, works_core::ops::AuditNote::Recorded { .. }), "{:?}", created.audit);
        let record = last_audit(&live.url).await;
        assert_eq!((record.action.as_str(), record.actor_name.as_str()), ("backup.create", "works backup (local)"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&created.backup.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{backend}: backups are readable by their owner only");
        }

        let verified = service.verify(&created.backup.path).await.unwrap_or_else(|e| panic!("{backend}: verify: {e}"));
        assert!(verified.verified.checks.iter().any(|c| c.contains("SHA-256 matches")), "{:?}", verified.verified.checks);

        let live_before_test = table_summaries(&live.url).await.unwrap();
        let tested = service.restore_test(&created.backup.path).await.unwrap_or_else(|e| panic!("{backend}: restore-test: {e}"));
        assert!(tested.test.audit_chain.intact, "{backend}: {:?}", tested.test.audit_chain);
        assert_eq!(tested.test.audit_chain.checked, summary(&manifest.tables, "audit_log").rows);
        assert!(tested.test.checks.iter().any(|c| c.contains("nothing live was touched")), "{:?}", tested.test.checks);
        same_but_audit(&live_before_test, &table_summaries(&live.url).await.unwrap(), 1, "restore-test");
        if backend == "postgres" {
            let dropped = tested.test.checks.iter().find_map(|c| c.split_whitespace().find(|w| w.starts_with("works_restore_test_")));
            let name = dropped.expect("the temporary database is named").to_owned();
            let admin = works_store::testing::postgres_admin_url().unwrap();
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap();
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(left, 0, "the temporary database {name} was dropped");
        }

        // Restore into a fresh, empty database.
        let mut target = fresh(backend).await.unwrap();
        target.release();
        let target_engine = backup_engine(&target.url).await.unwrap();
        let target_service = BackupService::new(target_engine.as_ref(), &clock, local_operator());
        let safety_dir = tempfile::tempdir().unwrap();
        let name = created.backup.file_name();
        let restored = target_service
            .restore(&created.backup.path, Some(&name), safety_dir.path())
            .await
            .unwrap_or_else(|e| panic!("{backend}: restore: {e}"));
        let safety = restored.safety.clone().expect("a safety backup of the database it replaced");
        assert!(safety.path.starts_with(safety_dir.path()) && safety.path.is_file(), "{backend}: {safety:?}");
        assert_eq!(summary(&safety.manifest.tables, "orgs").rows, 0, "the safety backup holds the empty database");
        assert!(restored.report.left_alone.is_empty(), "{:?}", restored.report.left_alone);

        let after = table_summaries(&target.url).await.unwrap();
        same_but_audit(&manifest.tables, &after, 1, "restored copy");
        works_store::backup::verify_file(&safety.path).await.unwrap_or_else(|e| panic!("{backend}: the safety backup verifies: {e}"));
        let record = last_audit(&target.url).await;
        assert_eq!(record.action, "backup.restore");
        assert!(record.reason.contains(&safety.path.display().to_string()), "{}", record.reason);
        let store = works_store::open(&target.url).await.unwrap();
        let chain = verify_audit_chain(store.as_ref()).await.unwrap();
        assert!(chain.intact, "{backend}: the restored audit chain continues intact: {chain:?}");
        let works = Works::new(store);
        let admin = works.local_actor("admin").await.expect("the restored admin");
        let orgs = works.org_list(&admin, Default::default()).await.unwrap();
        let names: Vec<&str> = orgs.items.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["Acme", "Globex Group", "Initech"], "{backend}");
    }
}

#[tokio::test]
async fn a_damaged_backup_is_found_by_verify_and_refused_by_restore() {
    for backend in BACKENDS {
        let Some(mut live) = fresh(backend).await else { continue };
        populate(live.store()).await;
        let backups = tempfile::tempdir().unwrap();
        let engine = backup_engine(&live.url).await.unwrap();
        let service = BackupService::new(engine.as_ref(), &SystemClock, local_operator());
        let created = service.create(backups.path(), None).await.unwrap();
        let file = created.backup.path.clone();
        let name = created.backup.file_name();
        let pristine = std::fs::read(&file).unwrap();

        corrupt_one_byte(&file);
        let e = service.verify(&file).await.expect_err("a damaged backup does not verify");
        assert_eq!(e.field(), Some("backup"), "{e}");
        assert!(e.to_string().contains("is damaged: its SHA-256 does not match the manifest"), "{backend}: {e}");

        live.release();
        let before = table_summaries(&live.url).await.unwrap();
        let safety_dir = tempfile::tempdir().unwrap();
        let e = service.restore(&file, Some(&name), safety_dir.path()).await.expect_err("restore refuses");
        assert!(e.to_string().contains("SHA-256") && e.to_string().contains("Nothing was restored"), "{backend}: {e}");
        same_but_audit(&before, &table_summaries(&live.url).await.unwrap(), 1, "refused restore");
        let record = last_audit(&live.url).await;
        assert_eq!((record.action.as_str(), record.outcome), ("backup.restore", works_core::Outcome::Rejected));
        assert!(files_in(safety_dir.path()).is_empty(), "no safety backup for a refused restore");

        // Truncated.
        std::fs::write(&file, &pristine[..pristine.len() - 100]).unwrap();
        let e = service.verify(&file).await.expect_err("a truncated backup does not verify");
        assert!(e.to_string().contains("is truncated"), "{e}");

        // Intact file, but the manifest promises other contents.
        std::fs::write(&file, &pristine).unwrap();
        service.verify(&file).await.expect("the pristine file verifies again");
        let manifest_path = PathBuf::from(format!("{}.manifest.json", file.display()));
        let text = std::fs::read_to_string(&manifest_path).unwrap();
        let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
        for t in manifest["tables"].as_array_mut().unwrap() {
            if t["name"] == "orgs" {
                t["rows"] = 4.into();
            }
        }
        std::fs::write(&manifest_path, serde_json::to_string(&manifest).unwrap()).unwrap();
        if backend == "sqlite" {
            let e = service.verify(&file).await.expect_err("the contents differ from the manifest");
            assert!(e.to_string().contains("table orgs has 3 rows where the manifest says 4"), "{e}");
        } else {
            let e = service.restore_test(&file).await.expect_err("the restored copy differs from the manifest");
            assert!(e.to_string().contains("table orgs has 3 rows where the manifest says 4"), "{e}");
        }

        std::fs::remove_file(&manifest_path).unwrap();
        let e = service.verify(&file).await.expect_err("no manifest");
        assert!(e.to_string().contains("has no manifest next to it"), "{e}");
    }
}

#[tokio::test]
async fn restore_without_the_exact_confirmation_or_while_in_use_changes_nothing() {
    for backend in BACKENDS {
        let Some(mut live) = fresh(backend).await else { continue };
        populate(live.store()).await;
        let backups = tempfile::tempdir().unwrap();
        let engine = backup_engine(&live.url).await.unwrap();
        let service = BackupService::new(engine.as_ref(), &SystemClock, local_operator());
        let created = service.create(backups.path(), None).await.unwrap();
        let name = created.backup.file_name();
        let safety_dir = tempfile::tempdir().unwrap();

        // The live store is open here: the database is in use.
        let before = table_summaries(&live.url).await.unwrap();
        let e = service.restore(&created.backup.path, Some(&name), safety_dir.path()).await.expect_err("in use");
        assert!(matches!(e, Error::Conflict { .. }), "{backend}: {e:?}");
        assert!(e.to_string().contains("is in use") && e.to_string().contains("Stop the server"), "{e}");
        same_but_audit(&before, &table_summaries(&live.url).await.unwrap(), 1, "in use");

        live.release();
        for confirmation in [None, Some("yes"), Some("works-backup.gz")] {
            let before = table_summaries(&live.url).await.unwrap();
            let e = service.restore(&created.backup.path, confirmation, safety_dir.path()).await.expect_err("refused");
            assert_eq!(e.field(), Some("confirm"), "{e}");
            assert!(e.to_string().contains(&format!("--confirm {name}")), "the refusal shows what to type: {e}");
            same_but_audit(&before, &table_summaries(&live.url).await.unwrap(), 1, "unconfirmed");
        }
        assert!(files_in(safety_dir.path()).is_empty(), "{backend}: no safety backup for refused restores");

        // Confirmed: the safety backup comes first, and holds what was replaced.
        let before = table_summaries(&live.url).await.unwrap();
        let restored = service.restore(&created.backup.path, Some(&name), safety_dir.path()).await.unwrap();
        let safety = restored.safety.expect("a safety backup");
        assert_eq!(safety.manifest.kind, works_core::ops::BackupKind::Safety);
        assert_eq!(safety.manifest.tables, before, "{backend}: the safety backup is the database just before");
        assert!(safety.file_name().contains("-safety-"), "{}", safety.file_name());
    }
}

#[tokio::test]
async fn prune_keeps_the_newest_and_lists_what_it_removed() {
    let (dir, store, url) = fresh_sqlite().await;
    populate(store).await;
    let backups = dir.path().join("backups");
    let engine = backup_engine(&url).await.unwrap();
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 3, 0, 0).unwrap();
    let clock = ManualClock::new(start);
    let service = BackupService::new(engine.as_ref(), &clock, local_operator());
    let mut made = Vec::new();
    for _ in 0..4 {
        made.push(service.create(&backups, None).await.unwrap().backup.file_name());
        clock.advance(Duration::days(1));
    }
    let keep2 = RetentionPolicy::new(Some(2), None).unwrap().unwrap();
    let pruned = service.prune(&backups, keep2).await.unwrap();
    let mut removed: Vec<String> = pruned.removed.iter().map(|b| b.file_name()).collect();
    removed.sort();
    assert_eq!(removed, made[..2].to_vec());
    assert_eq!(pruned.kept, 2);
    let left: Vec<String> = files_in(&backups).into_iter().filter(|n| !n.ends_with(".manifest.json")).collect();
    assert_eq!(left, made[2..].to_vec());
    let record = last_audit(&url).await;
    assert_eq!(record.action, "backup.prune");
    assert!(record.reason.contains(&made[0]) && record.reason.contains(&made[1]), "{}", record.reason);

    // Everything is older than a day: the newest stays all the same.
    clock.advance(Duration::days(30));
    let day = RetentionPolicy::new(None, Some(1)).unwrap().unwrap();
    let pruned = service.prune(&backups, day).await.unwrap();
    assert_eq!(pruned.removed.len(), 1);
    assert_eq!(files_in(&backups), vec![made[3].clone(), format!("{}.manifest.json", made[3])]);

    // Creating with a policy applies it.
    let created = service.create(&backups, Some(RetentionPolicy::new(Some(1), None).unwrap().unwrap())).await.unwrap();
    let pruned = created.pruned.expect("retention ran");
    assert_eq!(pruned.removed.iter().map(|b| b.file_name()).collect::<Vec<_>>(), vec![made[3].clone()]);
    assert_eq!(files_in(&backups), vec![created.backup.file_name(), format!("{}.manifest.json", created.backup.file_name())]);
}

#[tokio::test]
async fn probe_reports_migrations_without_changing_anything() {
    for backend in BACKENDS {
        let Some(db) = fresh(backend).await else { continue };
        let found = probe(&db.url).await.unwrap();
        let status = found.migrations.expect("a database");
        assert_eq!(status.applied, known_migrations(backend));
        assert!(status.pending().is_empty() && status.unknown().is_empty());
        assert!(!found.location.contains("password"));

        let store = db.store();
        let engine: Arc<dyn BackupEngine> = backup_engine(&db.url).await.unwrap();
        drop(engine);
        // A migration from a newer version shows as unknown.
        let sql = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                   VALUES (999999, 'from the future', TRUE, X'00', 1)";
        let sql = if backend == "postgres" { sql.replace("X'00'", "'\\x00'::bytea") } else { sql.to_owned() };
        match backend {
            "sqlite" => {
                let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
                sqlx::query(&sql).execute(&mut conn).await.unwrap();
            }
            _ => {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
                sqlx::query(&sql).execute(&mut conn).await.unwrap();
            }
        }
        let status = probe(&db.url).await.unwrap().migrations.unwrap();
        assert_eq!(status.unknown(), vec![999999], "{backend}");
        drop(store);
    }

    let dir = tempfile::tempdir().unwrap();
    let url = works_store::sqlite_url_for_dir(dir.path());
    let found = probe(&url).await.unwrap();
    assert_eq!(found.migrations, None, "no database file yet");
    assert!(!dir.path().join("works.db").exists(), "probing creates nothing");
}
