//! The store conformance suite: every test runs against SQLite and, when a test server is
//! configured (`WORKS_TEST_POSTGRES_URL`, see `scripts/test-postgres`), PostgreSQL.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use works_core::audit::{verify_chain, AuditDraft, AuditQuery, AuditRecord, Outcome};
use works_core::model::{ApiToken, ApiTokenRecord, Org, Page, Role, Scope, SessionKind, SessionRecord, User, UserRecord};
use works_core::store::{Store, UserFilter};
use works_core::Error;
use works_store::testing::{fresh_postgres, fresh_sqlite};

struct Backend {
    name: &'static str,
    store: Arc<dyn Store>,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh, empty store of every available backend.
async fn backends() -> Vec<Backend> {
    let (dir, store, url) = fresh_sqlite().await;
    let mut all = vec![Backend { name: "sqlite", store, url, _dir: Some(dir) }];
    match fresh_postgres().await {
        Some((store, url)) => all.push(Backend { name: "postgres", store, url, _dir: None }),
        None => eprintln!("WORKS_TEST_POSTGRES_URL is not set: PostgreSQL is skipped"),
    }
    all
}

fn t(offset_ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_700_000_000_000 + offset_ms).single().expect("valid time")
}

fn id(prefix: &str, n: u32) -> String {
    format!("{prefix}-{n:04}-0000-0000-000000000000")
}

fn draft(action: &str, org_id: Option<&str>) -> AuditDraft {
    AuditDraft {
        at: t(0),
        actor_id: "actor-1".into(),
        actor_name: "admin".into(),
        org_id: org_id.map(str::to_owned),
        action: action.into(),
        target_kind: "test".into(),
        target_id: None,
        outcome: Outcome::Succeeded,
        reason: format!("{action} for the test"),
    }
}

fn org(n: u32, name: &str) -> Org {
    Org { id: id("org", n), name: name.into(), created_at: t(i64::from(n)), updated_at: t(i64::from(n)), archived_at: None }
}

fn user(n: u32, username: &str, role: Role, org_id: Option<&str>) -> UserRecord {
    UserRecord {
        user: User {
            id: id("usr", n),
            username: username.into(),
            display_name: format!("User {username}"),
            role,
            org_id: org_id.map(str::to_owned),
            disabled: false,
            created_at: t(i64::from(n)),
            updated_at: t(i64::from(n)),
        },
        password_hash: format!("$argon2id$hash-of-{username}"),
    }
}

fn token(n: u32, user_id: &str, created: i64) -> ApiTokenRecord {
    ApiTokenRecord {
        token: ApiToken {
            id: id("tok", n),
            user_id: user_id.into(),
            name: format!("token {n}"),
            prefix: format!("wkt_{n:04}"),
            created_at: t(created),
            expires_at: Some(t(created + 86_400_000)),
            last_used_at: None,
            revoked_at: None,
        },
        secret_hash: format!("token-hash-{n}"),
    }
}

fn session(n: u32, user_id: &str, expires: i64) -> SessionRecord {
    SessionRecord {
        id: id("ses", n),
        user_id: user_id.into(),
        kind: match n % 2 {
            0 => SessionKind::Browser,
            _ => SessionKind::Api,
        },
        secret_hash: format!("session-hash-{n}"),
        csrf_hash: format!("csrf-hash-{n}"),
        created_at: t(0),
        expires_at: t(expires),
    }
}

async fn all_audit(store: &dyn Store) -> Vec<AuditRecord> {
    store.audit_chain(0, 10_000).await.expect("audit chain")
}

async fn audit_count(store: &dyn Store) -> usize {
    all_audit(store).await.len()
}

fn names(orgs: &[Org]) -> Vec<&str> {
    orgs.iter().map(|o| o.name.as_str()).collect()
}

fn usernames(users: &[UserRecord]) -> Vec<&str> {
    users.iter().map(|u| u.user.username.as_str()).collect()
}

fn page(offset: u32, limit: u32) -> Page {
    Page { offset, limit }
}

#[tokio::test]
async fn backend_names_and_ping() {
    for b in backends().await {
        assert_eq!(b.store.backend(), b.name);
        b.store.ping().await.unwrap_or_else(|e| panic!("[{}] ping: {e}", b.name));
        assert_eq!(b.store.count_users().await.expect("count"), 0, "[{}]", b.name);
        assert!(all_audit(&*b.store).await.is_empty(), "[{}]", b.name);
    }
}

#[tokio::test]
async fn organizations_insert_get_update_and_list() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let alpha = org(1, "Alpha");
        let beta = org(2, "beta");
        let gamma = org(3, "gamma");
        let mut delta = org(4, "Delta");
        delta.archived_at = Some(t(50));
        for o in [&alpha, &beta, &gamma, &delta] {
            s.insert_org(o, draft("org.create", Some(&o.id))).await.unwrap_or_else(|e| panic!("[{n}] insert: {e}"));
        }
        assert_eq!(s.get_org(&alpha.id).await.expect("get"), Some(alpha.clone()), "[{n}]");
        assert_eq!(s.get_org(&delta.id).await.expect("get"), Some(delta.clone()), "[{n}] archived_at survives");
        assert_eq!(s.get_org("no-such-org").await.expect("get"), None, "[{n}]");

        // The same id twice is a conflict naming the id.
        let err = s.insert_org(&org(1, "Other"), draft("org.create", None)).await.expect_err("duplicate id");
        assert!(matches!(&err, Error::Conflict { field: Some(f), .. } if f == "id"), "[{n}] {err:?}");

        // Rename.
        let mut renamed = gamma.clone();
        renamed.name = "Gamma Two".into();
        renamed.updated_at = t(99);
        s.update_org(&renamed, draft("org.rename", Some(&gamma.id))).await.expect("update");
        assert_eq!(s.get_org(&gamma.id).await.expect("get"), Some(renamed.clone()), "[{n}]");

        // Updating a missing organization changes nothing and records nothing.
        let before = audit_count(s).await;
        let err = s.update_org(&org(77, "Ghost"), draft("org.rename", None)).await.expect_err("missing");
        assert!(matches!(err, Error::NotFound { .. }), "[{n}] {err:?}");
        assert_eq!(audit_count(s).await, before, "[{n}] no audit for a failed update");

        // Order: by name regardless of case, archived only when asked.
        let all = s.list_orgs(&Scope::All, false, page(0, 50)).await.expect("list");
        assert_eq!(names(&all), ["Alpha", "beta", "Gamma Two"], "[{n}]");
        let with_archived = s.list_orgs(&Scope::All, true, page(0, 50)).await.expect("list");
        assert_eq!(names(&with_archived), ["Alpha", "beta", "Delta", "Gamma Two"], "[{n}]");

        // Paging.
        assert_eq!(names(&s.list_orgs(&Scope::All, true, page(1, 2)).await.expect("list")), ["beta", "Delta"], "[{n}]");
        assert!(s.list_orgs(&Scope::All, true, page(4, 2)).await.expect("list").is_empty(), "[{n}]");

        // Scopes.
        let only_beta = s.list_orgs(&Scope::Org(beta.id.clone()), true, page(0, 50)).await.expect("list");
        assert_eq!(names(&only_beta), ["beta"], "[{n}]");
        let archived_hidden = s.list_orgs(&Scope::Org(delta.id.clone()), false, page(0, 50)).await.expect("list");
        assert!(archived_hidden.is_empty(), "[{n}]");

        let member = user(1, "member", Role::OrgUser, Some(&beta.id));
        let msp = user(2, "msp", Role::MspAdmin, None);
        s.insert_user(&member, draft("user.create", Some(&beta.id))).await.expect("user");
        s.insert_user(&msp, draft("user.create", None)).await.expect("user");
        let mine = s.list_orgs(&Scope::User(member.user.id.clone()), true, page(0, 50)).await.expect("list");
        assert_eq!(names(&mine), ["beta"], "[{n}] a user's own organization");
        let none = s.list_orgs(&Scope::User(msp.user.id.clone()), true, page(0, 50)).await.expect("list");
        assert!(none.is_empty(), "[{n}] a user without an organization sees none");
        let unknown = s.list_orgs(&Scope::User("nobody".into()), true, page(0, 50)).await.expect("list");
        assert!(unknown.is_empty(), "[{n}] an unknown user sees none");

        // One audit record per change, in order.
        let actions: Vec<String> = all_audit(s).await.into_iter().map(|r| r.action).collect();
        assert_eq!(
            actions,
            ["org.create", "org.create", "org.create", "org.create", "org.rename", "user.create", "user.create"],
            "[{n}]"
        );
    }
}

#[tokio::test]
async fn users_insert_conflict_lookup_update_and_list() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let acme = org(1, "Acme");
        let globex = org(2, "Globex");
        s.insert_org(&acme, draft("org.create", None)).await.expect("org");
        s.insert_org(&globex, draft("org.create", None)).await.expect("org");

        let admin = user(1, "admin", Role::MspAdmin, None);
        let alice = user(2, "alice", Role::OrgAdmin, Some(&acme.id));
        let bob = user(3, "bob", Role::OrgUser, Some(&acme.id));
        let mut carol = user(4, "carol", Role::OrgUser, Some(&globex.id));
        carol.user.disabled = true;
        for u in [&admin, &alice, &bob, &carol] {
            s.insert_user(u, draft("user.create", u.user.org_id.as_deref())).await.expect("insert user");
        }
        assert_eq!(s.count_users().await.expect("count"), 4, "[{n}]");

        // A username is taken once; the clash names the field and writes nothing.
        let audit_before = audit_count(s).await;
        let clash = user(9, "bob", Role::OrgUser, Some(&globex.id));
        match s.insert_user(&clash, draft("user.create", None)).await {
            Err(Error::Conflict { field, message }) => {
                assert_eq!(field.as_deref(), Some("username"), "[{n}]");
                assert_eq!(message, "A user named bob already exists.", "[{n}]");
            }
            other => panic!("[{n}] expected a username conflict, got {other:?}"),
        }
        assert_eq!(audit_count(s).await, audit_before, "[{n}] no audit record for a refused insert");
        assert_eq!(s.count_users().await.expect("count"), 4, "[{n}]");
        assert!(s.get_user(&clash.user.id).await.expect("get").is_none(), "[{n}]");

        // An organization that does not exist is refused, naming org_id.
        let orphan = user(10, "orphan", Role::OrgUser, Some("no-such-org"));
        let err = s.insert_user(&orphan, draft("user.create", None)).await.expect_err("missing org");
        assert_eq!(err.field(), Some("org_id"), "[{n}] {err:?}");
        assert_eq!(audit_count(s).await, audit_before, "[{n}]");

        // Lookups return every field.
        let got = s.get_user_by_username("alice").await.expect("by username").expect("alice exists");
        assert_eq!(got.user, alice.user, "[{n}]");
        assert_eq!(got.password_hash, alice.password_hash, "[{n}]");
        assert!(s.get_user_by_username("nobody").await.expect("by username").is_none(), "[{n}]");
        assert_eq!(s.get_user(&carol.user.id).await.expect("get").expect("carol").user, carol.user, "[{n}]");

        // Update writes every field including the password hash.
        let mut bob2 = bob.clone();
        bob2.user.display_name = "Robert".into();
        bob2.user.role = Role::OrgAdmin;
        bob2.user.disabled = true;
        bob2.user.updated_at = t(500);
        bob2.password_hash = "$argon2id$new".into();
        s.update_user(&bob2, draft("user.update", Some(&acme.id))).await.expect("update");
        let got = s.get_user(&bob.user.id).await.expect("get").expect("bob");
        assert_eq!(got.user, bob2.user, "[{n}]");
        assert_eq!(got.password_hash, "$argon2id$new", "[{n}]");

        // Renaming onto a taken username is a conflict and changes nothing.
        let mut bob3 = bob2.clone();
        bob3.user.username = "alice".into();
        let err = s.update_user(&bob3, draft("user.update", None)).await.expect_err("clash");
        assert_eq!(err.field(), Some("username"), "[{n}] {err:?}");
        assert_eq!(s.get_user(&bob.user.id).await.expect("get").expect("bob").user.username, "bob", "[{n}]");

        let err = s.update_user(&user(55, "ghost", Role::OrgUser, None), draft("user.update", None)).await;
        assert!(matches!(err, Err(Error::NotFound { .. })), "[{n}] {err:?}");

        // Lists: scope, filter, disabled users, order, paging.
        let enabled = UserFilter::default();
        let everyone = UserFilter { org_id: None, include_disabled: true };
        assert_eq!(usernames(&s.list_users(&Scope::All, &enabled, page(0, 50)).await.expect("list")), ["admin", "alice"], "[{n}]");
        assert_eq!(
            usernames(&s.list_users(&Scope::All, &everyone, page(0, 50)).await.expect("list")),
            ["admin", "alice", "bob", "carol"],
            "[{n}]"
        );
        assert_eq!(usernames(&s.list_users(&Scope::All, &everyone, page(1, 2)).await.expect("list")), ["alice", "bob"], "[{n}]");
        assert_eq!(
            usernames(&s.list_users(&Scope::Org(acme.id.clone()), &everyone, page(0, 50)).await.expect("list")),
            ["alice", "bob"],
            "[{n}]"
        );
        assert_eq!(
            usernames(&s.list_users(&Scope::User(carol.user.id.clone()), &everyone, page(0, 50)).await.expect("list")),
            ["carol"],
            "[{n}]"
        );
        assert!(
            s.list_users(&Scope::User(carol.user.id.clone()), &enabled, page(0, 50)).await.expect("list").is_empty(),
            "[{n}] disabled users are left out unless asked for"
        );
        let globex_filter = UserFilter { org_id: Some(globex.id.clone()), include_disabled: true };
        assert_eq!(usernames(&s.list_users(&Scope::All, &globex_filter, page(0, 50)).await.expect("list")), ["carol"], "[{n}]");
        assert!(
            s.list_users(&Scope::Org(acme.id.clone()), &globex_filter, page(0, 50)).await.expect("list").is_empty(),
            "[{n}] the filter is intersected with the scope"
        );
    }
}

#[tokio::test]
async fn api_tokens_by_hash_list_revoke_and_touch() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let owner = user(1, "owner", Role::MspAdmin, None);
        let other = user(2, "other", Role::MspAdmin, None);
        s.insert_user(&owner, draft("user.create", None)).await.expect("user");
        s.insert_user(&other, draft("user.create", None)).await.expect("user");
        let t1 = token(1, &owner.user.id, 100);
        let t2 = token(2, &owner.user.id, 300);
        let t3 = token(3, &owner.user.id, 200);
        let t4 = token(4, &other.user.id, 400);
        for tk in [&t1, &t2, &t3, &t4] {
            s.insert_token(tk, draft("token.create", None)).await.expect("token");
        }

        let got = s.get_token_by_hash("token-hash-2").await.expect("by hash").expect("found");
        assert_eq!(got.token, t2.token, "[{n}]");
        assert_eq!(got.secret_hash, "token-hash-2", "[{n}]");
        assert!(s.get_token_by_hash("token-hash-99").await.expect("by hash").is_none(), "[{n}]");
        assert_eq!(s.get_token(&t3.token.id).await.expect("get").expect("found").token, t3.token, "[{n}]");

        // Newest first, one user's only, paged.
        let list = s.list_tokens(&owner.user.id, page(0, 50)).await.expect("list");
        let ids: Vec<&str> = list.iter().map(|r| r.token.id.as_str()).collect();
        assert_eq!(ids, [t2.token.id.as_str(), t3.token.id.as_str(), t1.token.id.as_str()], "[{n}]");
        let second = s.list_tokens(&owner.user.id, page(1, 1)).await.expect("list");
        assert_eq!(second.len(), 1, "[{n}]");
        assert_eq!(second[0].token.id, t3.token.id, "[{n}]");

        // A secret hash is unique.
        let mut dup = token(5, &owner.user.id, 500);
        dup.secret_hash = t1.secret_hash.clone();
        let before = audit_count(s).await;
        let err = s.insert_token(&dup, draft("token.create", None)).await.expect_err("duplicate hash");
        assert!(matches!(&err, Error::Conflict { field: Some(f), .. } if f == "secret_hash"), "[{n}] {err:?}");
        assert_eq!(audit_count(s).await, before, "[{n}]");

        // A token of a user that does not exist is refused, naming user_id.
        let err = s.insert_token(&token(6, "no-such-user", 1), draft("token.create", None)).await.expect_err("no user");
        assert_eq!(err.field(), Some("user_id"), "[{n}] {err:?}");

        // Revoke keeps the first revocation time.
        s.revoke_token(&t1.token.id, t(1_000), draft("token.revoke", None)).await.expect("revoke");
        assert_eq!(s.get_token(&t1.token.id).await.expect("get").expect("t1").token.revoked_at, Some(t(1_000)), "[{n}]");
        s.revoke_token(&t1.token.id, t(2_000), draft("token.revoke", None)).await.expect("revoke again");
        assert_eq!(s.get_token(&t1.token.id).await.expect("get").expect("t1").token.revoked_at, Some(t(1_000)), "[{n}]");
        let before = audit_count(s).await;
        let err = s.revoke_token("no-such-token", t(1), draft("token.revoke", None)).await;
        assert!(matches!(err, Err(Error::NotFound { .. })), "[{n}] {err:?}");
        assert_eq!(audit_count(s).await, before, "[{n}]");

        // Touch records use without an audit record.
        let before = audit_count(s).await;
        s.touch_token(&t2.token.id, t(7_777)).await.expect("touch");
        assert_eq!(s.get_token(&t2.token.id).await.expect("get").expect("t2").token.last_used_at, Some(t(7_777)), "[{n}]");
        assert_eq!(audit_count(s).await, before, "[{n}]");
    }
}

#[tokio::test]
async fn sessions_insert_get_delete_and_expire() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let u = user(1, "sess", Role::MspOperator, None);
        s.insert_user(&u, draft("user.create", None)).await.expect("user");
        let s1 = session(1, &u.user.id, 1_000);
        let s2 = session(2, &u.user.id, 2_000);
        let s3 = session(3, &u.user.id, 3_000);
        for x in [&s1, &s2, &s3] {
            s.insert_session(x, draft("auth.login", None)).await.expect("session");
        }
        let got = s.get_session_by_hash("session-hash-2").await.expect("get").expect("found");
        assert_eq!(got.id, s2.id, "[{n}]");
        assert_eq!(got.user_id, s2.user_id, "[{n}]");
        assert_eq!(got.kind, SessionKind::Browser, "[{n}]");
        assert_eq!(got.csrf_hash, "csrf-hash-2", "[{n}]");
        assert_eq!((got.created_at, got.expires_at), (s2.created_at, s2.expires_at), "[{n}]");
        assert_eq!(s.get_session_by_hash("session-hash-1").await.expect("get").expect("s1").kind, SessionKind::Api, "[{n}]");

        let err = s.insert_session(&SessionRecord { id: id("ses", 9), ..s1.clone() }, draft("auth.login", None)).await;
        assert!(matches!(&err, Err(Error::Conflict { field: Some(f), .. }) if f == "secret_hash"), "[{n}] {err:?}");

        let audit_before = audit_count(s).await;
        s.delete_session(&s3.id, draft("auth.logout", None)).await.expect("delete");
        assert!(s.get_session_by_hash("session-hash-3").await.expect("get").is_none(), "[{n}]");
        assert_eq!(audit_count(s).await, audit_before + 1, "[{n}]");
        let err = s.delete_session(&s3.id, draft("auth.logout", None)).await;
        assert!(matches!(err, Err(Error::NotFound { .. })), "[{n}] {err:?}");
        assert_eq!(audit_count(s).await, audit_before + 1, "[{n}]");

        // Expired before 2 000 ms: only s1 (expires exactly at 2 000 is kept).
        assert_eq!(s.delete_expired_sessions(t(2_000)).await.expect("expire"), 1, "[{n}]");
        assert!(s.get_session_by_hash("session-hash-1").await.expect("get").is_none(), "[{n}]");
        assert!(s.get_session_by_hash("session-hash-2").await.expect("get").is_some(), "[{n}]");
        assert_eq!(s.delete_expired_sessions(t(2_000)).await.expect("expire"), 0, "[{n}]");
    }
}

#[tokio::test]
async fn ending_access_updates_the_user_deletes_sessions_and_revokes_tokens_together() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let target = user(1, "target", Role::MspOperator, None);
        let bystander = user(2, "bystander", Role::MspOperator, None);
        s.insert_user(&target, draft("user.create", None)).await.expect("user");
        s.insert_user(&bystander, draft("user.create", None)).await.expect("user");
        s.insert_session(&session(1, &target.user.id, 9_000), draft("auth.login", None)).await.expect("session");
        s.insert_session(&session(2, &target.user.id, 9_000), draft("auth.login", None)).await.expect("session");
        s.insert_session(&session(3, &bystander.user.id, 9_000), draft("auth.login", None)).await.expect("session");
        let old = token(1, &target.user.id, 1);
        let live = token(2, &target.user.id, 2);
        let theirs = token(3, &bystander.user.id, 3);
        for tk in [&old, &live, &theirs] {
            s.insert_token(tk, draft("token.create", None)).await.expect("token");
        }
        s.revoke_token(&old.token.id, t(10), draft("token.revoke", None)).await.expect("revoke");

        // A clash rolls back the whole change: sessions and tokens stay as they were.
        let mut clashing = target.clone();
        clashing.user.username = "bystander".into();
        let before = audit_count(s).await;
        let err = s.update_user_and_end_access(&clashing, t(20), draft("user.disable", None)).await;
        assert!(matches!(&err, Err(Error::Conflict { .. })), "[{n}] {err:?}");
        assert!(s.get_session_by_hash("session-hash-1").await.expect("get").is_some(), "[{n}]");
        assert_eq!(s.get_token(&live.token.id).await.expect("get").expect("live").token.revoked_at, None, "[{n}]");
        assert_eq!(audit_count(s).await, before, "[{n}]");

        let mut disabled = target.clone();
        disabled.user.disabled = true;
        disabled.user.updated_at = t(30);
        s.update_user_and_end_access(&disabled, t(30), draft("user.disable", None)).await.expect("end access");

        assert!(s.get_user(&target.user.id).await.expect("get").expect("target").user.disabled, "[{n}]");
        assert!(s.get_session_by_hash("session-hash-1").await.expect("get").is_none(), "[{n}]");
        assert!(s.get_session_by_hash("session-hash-2").await.expect("get").is_none(), "[{n}]");
        assert!(s.get_session_by_hash("session-hash-3").await.expect("get").is_some(), "[{n}] other users keep theirs");
        assert_eq!(s.get_token(&live.token.id).await.expect("get").expect("live").token.revoked_at, Some(t(30)), "[{n}]");
        assert_eq!(s.get_token(&old.token.id).await.expect("get").expect("old").token.revoked_at, Some(t(10)), "[{n}]");
        assert_eq!(s.get_token(&theirs.token.id).await.expect("get").expect("theirs").token.revoked_at, None, "[{n}]");
        let last = all_audit(s).await.pop().expect("a record");
        assert_eq!(last.action, "user.disable", "[{n}]");
        assert_eq!(audit_count(s).await, before + 1, "[{n}]");
    }
}

#[tokio::test]
async fn login_failures_are_counted_within_the_window() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        for at in [0, 60_000, 600_000, 600_001] {
            s.record_login_failure("mallory", t(at)).await.expect("record");
        }
        s.record_login_failure("someone", t(600_000)).await.expect("record");
        assert_eq!(s.count_login_failures("mallory", t(0)).await.expect("count"), 4, "[{n}]");
        assert_eq!(s.count_login_failures("mallory", t(30_000)).await.expect("count"), 3, "[{n}]");
        assert_eq!(s.count_login_failures("mallory", t(600_000)).await.expect("count"), 2, "[{n}] the start is inclusive");
        assert_eq!(s.count_login_failures("mallory", t(700_000)).await.expect("count"), 0, "[{n}]");
        assert_eq!(s.count_login_failures("nobody", t(0)).await.expect("count"), 0, "[{n}]");
        assert!(all_audit(s).await.is_empty(), "[{n}] failures are not audit records themselves");
    }
}

#[tokio::test]
async fn a_failed_change_leaves_no_audit_record() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let first = user(1, "dup", Role::MspAdmin, None);
        s.insert_user(&first, draft("user.create", None)).await.expect("user");
        let chain_before = all_audit(s).await;
        assert_eq!(chain_before.len(), 1, "[{n}]");

        for attempt in 0..3 {
            let again = user(10 + attempt, "dup", Role::MspAdmin, None);
            assert!(s.insert_user(&again, draft("user.create", None)).await.is_err(), "[{n}]");
        }
        assert_eq!(all_audit(s).await, chain_before, "[{n}] nothing was appended");

        // The chain continues from where it was: the next record is seq 2.
        let r = s.append_audit(draft("audit.note", None)).await.expect("append");
        assert_eq!(r.seq, 2, "[{n}]");
        assert_eq!(r.prev_hash, chain_before[0].hash, "[{n}]");
        assert!(verify_chain(&all_audit(s).await).intact, "[{n}]");
    }
}

#[tokio::test]
async fn concurrent_appends_from_two_store_instances_form_one_intact_chain() {
    for b in backends().await {
        let n = b.name;
        // A second store on the same database stands for a second server process.
        let second = works_store::open(&b.url).await.expect("second store");
        let stores = [b.store.clone(), second];
        let mut tasks = Vec::new();
        for task in 0..8usize {
            let store = stores[task % 2].clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..25 {
                    let mut d = draft("audit.concurrent", None);
                    d.reason = format!("task {task} record {i}");
                    // Mix plain appends with audited changes.
                    if i % 5 == 0 {
                        let o = org(u32::try_from(task * 100 + i).expect("small"), &format!("org {task}/{i}"));
                        store.insert_org(&o, d).await.expect("insert org");
                    } else {
                        store.append_audit(d).await.expect("append");
                    }
                }
            }));
        }
        for task in tasks {
            task.await.expect("task finished");
        }
        let chain = all_audit(&*b.store).await;
        let seqs: BTreeSet<i64> = chain.iter().map(|r| r.seq).collect();
        assert_eq!(chain.len(), 200, "[{n}]");
        assert_eq!(seqs, (1..=200).collect::<BTreeSet<i64>>(), "[{n}]");
        let v = verify_chain(&chain);
        assert!(v.intact, "[{n}] {v:?}");
        assert_eq!(v.checked, 200, "[{n}]");
        assert_eq!(b.store.list_orgs(&Scope::All, true, page(0, 500)).await.expect("list").len(), 40, "[{n}]");
    }
}

#[tokio::test]
async fn appended_records_read_back_exactly_and_are_redacted() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let mut d = draft("token.create", Some("org-x"));
        d.at = t(123) + Duration::microseconds(456);
        d.target_id = Some("tok-1".into());
        d.outcome = Outcome::Rejected;
        d.reason = "leaked wkt_abcdefghijklmnopqrstuvwxyz012345 here".into();
        let written = s.append_audit(d).await.expect("append");
        assert_eq!(written.seq, 1, "[{n}]");
        assert_eq!(written.at, t(123), "[{n}] kept to the millisecond");
        assert!(!written.reason.contains("abcdefghijklmnop"), "[{n}] {}", written.reason);
        let read = s.audit_chain(0, 10).await.expect("chain");
        assert_eq!(read, vec![written.clone()], "[{n}]");
        let page = s.query_audit(&Scope::All, &AuditQuery::default(), 10).await.expect("query");
        assert_eq!(page.records, vec![written], "[{n}]");
        assert_eq!(page.next_before, None, "[{n}]");
        assert!(s.audit_chain(1, 10).await.expect("chain").is_empty(), "[{n}]");
    }
}

/// Appends a varied log: 30 records over three actors, two organizations and three
/// action families, one record per second.
async fn varied_log(s: &dyn Store) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    for i in 0..30u32 {
        let actor = ["actor-a", "actor-b", "actor-c"][(i % 3) as usize];
        let org_id = match i % 4 {
            0 | 1 => Some("org-1"),
            2 => Some("org-2"),
            _ => None,
        };
        let action = ["org.create", "org.rename", "user.create", "users_x.list", "org_create"][(i % 5) as usize];
        let outcome = [Outcome::Succeeded, Outcome::Denied, Outcome::Rejected][(i % 3) as usize];
        let d = AuditDraft {
            at: t(i64::from(i) * 1_000),
            actor_id: actor.into(),
            actor_name: actor.into(),
            org_id: org_id.map(str::to_owned),
            action: action.into(),
            target_kind: "thing".into(),
            target_id: Some(format!("target-{}", i % 2)),
            outcome: if i % 7 == 0 { Outcome::Denied } else { outcome },
            reason: format!("record {i}"),
        };
        out.push(s.append_audit(d).await.expect("append"));
    }
    out
}

fn expect_seqs(all: &[AuditRecord], keep: impl Fn(&AuditRecord) -> bool) -> Vec<i64> {
    let mut seqs: Vec<i64> = all.iter().filter(|r| keep(r)).map(|r| r.seq).collect();
    seqs.reverse();
    seqs
}

async fn query_seqs(s: &dyn Store, scope: &Scope, q: AuditQuery) -> Vec<i64> {
    let page = s.query_audit(scope, &q, 500).await.expect("query");
    assert_eq!(page.next_before, None);
    page.records.iter().map(|r| r.seq).collect()
}

#[tokio::test]
async fn audit_queries_honour_every_filter_and_the_scope() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let all = varied_log(s).await;
        let q = AuditQuery::default;

        assert_eq!(query_seqs(s, &Scope::All, q()).await, expect_seqs(&all, |_| true), "[{n}] newest first");
        assert_eq!(
            query_seqs(s, &Scope::Org("org-1".into()), q()).await,
            expect_seqs(&all, |r| r.org_id.as_deref() == Some("org-1")),
            "[{n}] org scope"
        );
        assert_eq!(
            query_seqs(s, &Scope::User("actor-b".into()), q()).await,
            expect_seqs(&all, |r| r.actor_id == "actor-b"),
            "[{n}] user scope"
        );
        assert_eq!(
            query_seqs(s, &Scope::All, AuditQuery { actor_id: Some("actor-c".into()), ..q() }).await,
            expect_seqs(&all, |r| r.actor_id == "actor-c"),
            "[{n}] actor"
        );
        assert_eq!(
            query_seqs(s, &Scope::All, AuditQuery { org_id: Some("org-2".into()), ..q() }).await,
            expect_seqs(&all, |r| r.org_id.as_deref() == Some("org-2")),
            "[{n}] org filter"
        );
        assert!(
            query_seqs(s, &Scope::Org("org-1".into()), AuditQuery { org_id: Some("org-2".into()), ..q() }).await.is_empty(),
            "[{n}] a filter never widens the scope"
        );
        assert_eq!(
            query_seqs(s, &Scope::All, AuditQuery { action: Some("org.".into()), ..q() }).await,
            expect_seqs(&all, |r| r.action.starts_with("org.")),
            "[{n}] action family"
        );
        assert_eq!(
            query_seqs(s, &Scope::All, AuditQuery { action: Some("user.".into()), ..q() }).await,
            expect_seqs(&all, |r| r.action == "user.create"),
            "[{n}] a family does not match a longer word"
        );
        assert_eq!(
            query_seqs(s, &Scope::All, AuditQuery { action: Some("org.create".into()), ..q() }).await,
            expect_seqs(&all, |r| r.action == "org.create"),
            "[{n}] exact action (org_create is a different action)"
        );
        assert!(
            query_seqs(s, &Scope::All, AuditQuery { action: Some("ORG.".into()), ..q() }).await.is_empty(),
            "[{n}] actions match case-sensitively"
        );
        assert_eq!(
            query_seqs(s, &Scope::All, AuditQuery { outcome: Some(Outcome::Denied), ..q() }).await,
            expect_seqs(&all, |r| r.outcome == Outcome::Denied),
            "[{n}] outcome"
        );
        assert_eq!(
            query_seqs(s, &Scope::All, AuditQuery { target_id: Some("target-1".into()), ..q() }).await,
            expect_seqs(&all, |r| r.target_id.as_deref() == Some("target-1")),
            "[{n}] target"
        );
        assert_eq!(
            query_seqs(s, &Scope::All, AuditQuery { since: Some(t(10_000)), until: Some(t(14_000)), ..q() }).await,
            vec![15, 14, 13, 12, 11],
            "[{n}] since and until are inclusive"
        );
        assert_eq!(
            query_seqs(s, &Scope::All, AuditQuery { before_seq: Some(4), ..q() }).await,
            vec![3, 2, 1],
            "[{n}] before_seq"
        );
        let combined = AuditQuery {
            actor_id: Some("actor-a".into()),
            action: Some("org.".into()),
            since: Some(t(3_000)),
            before_seq: Some(28),
            ..q()
        };
        assert_eq!(
            query_seqs(s, &Scope::Org("org-1".into()), combined).await,
            expect_seqs(&all, |r| r.actor_id == "actor-a"
                && r.action.starts_with("org.")
                && r.org_id.as_deref() == Some("org-1")
                && r.at >= t(3_000)
                && r.seq < 28),
            "[{n}] filters combine"
        );
    }
}

#[tokio::test]
async fn audit_pages_walk_back_through_next_before() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let all = varied_log(s).await;

        let mut seen = Vec::new();
        let mut q = AuditQuery::default();
        let mut pages = 0;
        loop {
            let page = s.query_audit(&Scope::All, &q, 7).await.expect("page");
            pages += 1;
            assert!(page.records.len() <= 7, "[{n}]");
            seen.extend(page.records.iter().map(|r| r.seq));
            match page.next_before {
                Some(before) => {
                    assert_eq!(Some(before), page.records.last().map(|r| r.seq), "[{n}]");
                    q.before_seq = Some(before);
                }
                None => break,
            }
        }
        assert_eq!(pages, 5, "[{n}] 30 records in pages of 7");
        assert_eq!(seen, expect_seqs(&all, |_| true), "[{n}]");

        // A page that ends exactly at the oldest record has no next page.
        let exact = s.query_audit(&Scope::All, &AuditQuery { before_seq: Some(11), ..AuditQuery::default() }, 10).await.expect("page");
        assert_eq!(exact.records.len(), 10, "[{n}]");
        assert_eq!(exact.next_before, None, "[{n}]");
        let more = s.query_audit(&Scope::All, &AuditQuery { before_seq: Some(12), ..AuditQuery::default() }, 10).await.expect("page");
        assert_eq!(more.next_before, Some(2), "[{n}]");

        // Filtered paging: the family org. over pages of 3.
        let wanted = expect_seqs(&all, |r| r.action.starts_with("org."));
        let mut got = Vec::new();
        let mut q = AuditQuery { action: Some("org.".into()), ..AuditQuery::default() };
        loop {
            let page = s.query_audit(&Scope::All, &q, 3).await.expect("page");
            got.extend(page.records.iter().map(|r| r.seq));
            match page.next_before {
                Some(before) => q.before_seq = Some(before),
                None => break,
            }
        }
        assert_eq!(got, wanted, "[{n}]");

        // The chain reads in ascending batches.
        let first = s.audit_chain(0, 12).await.expect("chain");
        let rest = s.audit_chain(12, 100).await.expect("chain");
        assert_eq!(first.len(), 12, "[{n}]");
        assert_eq!(rest.len(), 18, "[{n}]");
        assert_eq!(rest[0].seq, 13, "[{n}]");
    }
}

#[tokio::test]
async fn opening_the_same_database_again_keeps_data_and_migrations_are_idempotent() {
    for b in backends().await {
        let n = b.name;
        let acme = org(1, "Acme");
        b.store.insert_org(&acme, draft("org.create", None)).await.expect("org");
        drop(b.store);
        for _ in 0..2 {
            let again = works_store::open(&b.url).await.unwrap_or_else(|e| panic!("[{n}] reopen: {e}"));
            again.ping().await.expect("ping");
            assert_eq!(again.get_org(&acme.id).await.expect("get"), Some(acme.clone()), "[{n}]");
            assert_eq!(again.audit_chain(0, 10).await.expect("chain").len(), 1, "[{n}]");
        }
    }
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_unavailable() {
    // Port 1 on loopback: nothing listens there.
    match works_store::open("postgres://nobody@127.0.0.1:1/works").await {
        Err(Error::Unavailable { message }) => assert!(message.contains("PostgreSQL"), "{message}"),
        Err(other) => panic!("expected unavailable, got {other:?}"),
        Ok(_) => panic!("connected to nothing"),
    }
}

#[tokio::test]
async fn an_unopenable_sqlite_file_is_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = works_store::sqlite_url_for_dir(&dir.path().join("missing").join("deeper"));
    match works_store::open(&url).await {
        Err(Error::Unavailable { message }) => assert!(message.contains("SQLite"), "{message}"),
        Err(other) => panic!("expected unavailable, got {other:?}"),
        Ok(_) => panic!("opened a file in a missing directory"),
    }
}

#[tokio::test]
async fn sqlite_files_use_wal_and_the_memory_url_works() {
    let (dir, store, _url) = fresh_sqlite().await;
    store.append_audit(draft("audit.note", None)).await.expect("append");
    assert!(dir.path().join("works.db-wal").exists() || dir.path().join("works.db-shm").exists());

    let memory = works_store::open("sqlite::memory:").await.expect("memory");
    memory.insert_org(&org(1, "Mem"), draft("org.create", None)).await.expect("org");
    assert_eq!(memory.list_orgs(&Scope::All, false, page(0, 10)).await.expect("list").len(), 1);
    assert_eq!(memory.audit_chain(0, 10).await.expect("chain").len(), 1);
}
