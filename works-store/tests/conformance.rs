//! The store conformance suite: every test runs against SQLite and, when a test server is
//! configured (`WORKS_TEST_POSTGRES_URL`, see `scripts/test-postgres`), PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use works_core::agent::{AgentCredentialRecord, EnrollmentRecord};
use works_core::audit::{verify_chain, AuditDraft, AuditQuery, AuditRecord, Outcome};
use works_core::jobs::{Job, JobFilter, JobKind, JobState};
use works_core::model::{ApiToken, ApiTokenRecord, Org, Page, Role, Scope, SessionKind, SessionRecord, User, UserRecord};
use works_core::nodes::{Container, ContainerMount, NodeHealth, NodeRecord, PublishedPort};
use works_core::store::{PruneBefore, Pruned, Store, UserFilter};
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
        let sessions_before = |at| PruneBefore { sessions_expired: t(at), login_failures: t(-1), enrollment_tokens_ended: t(-1) };
        assert_eq!(s.prune(&sessions_before(2_000)).await.expect("expire").sessions, 1, "[{n}]");
        assert!(s.get_session_by_hash("session-hash-1").await.expect("get").is_none(), "[{n}]");
        assert!(s.get_session_by_hash("session-hash-2").await.expect("get").is_some(), "[{n}]");
        assert_eq!(s.prune(&sessions_before(2_000)).await.expect("expire"), Pruned::default(), "[{n}]");
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

/// Housekeeping removes old failed sign-ins and enrollment tokens used or expired
/// before its cutoff, and nothing else: not a later failure, not a token still to be
/// used, not the audit log.
#[tokio::test]
async fn prune_removes_only_what_ended_before_each_cutoff() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        for at in [0, 60_000, 600_000] {
            s.record_login_failure("mallory", t(at)).await.expect("record");
        }
        let nd = node(1, "web-1", None);
        s.insert_node(&nd, draft("node.create", None)).await.expect("node");
        // 1: used at 1 000; 2: never used, expired at 5 000; 3: unused, expires at 1 800 000.
        let mut used = enrollment(1, &nd.id, None);
        used.expires_at = t(1_800_000);
        let mut expired = enrollment(2, &nd.id, None);
        expired.expires_at = t(5_000);
        let waiting = enrollment(3, &nd.id, None);
        for e in [&used, &expired, &waiting] {
            s.insert_enrollment(e, draft("enrollment.create", None)).await.expect("enrollment");
        }
        s.consume_enrollment(&used.secret_hash, t(1_000)).await.expect("consume").expect("found");
        let audit_before = audit_count(s).await;

        let before = PruneBefore { sessions_expired: t(-1), login_failures: t(60_000), enrollment_tokens_ended: t(2_000) };
        assert_eq!(s.prune(&before).await.expect("prune"), Pruned { sessions: 0, login_failures: 1, enrollment_tokens: 1 }, "[{n}]");
        assert_eq!(s.count_login_failures("mallory", t(0)).await.expect("count"), 2, "[{n}] the failure at 60 000 is kept");
        // The used token is gone: presenting it again finds nothing. The others remain.
        assert!(s.consume_enrollment(&used.secret_hash, t(3_000)).await.expect("consume").is_none(), "[{n}]");
        let before = PruneBefore { sessions_expired: t(-1), login_failures: t(-1), enrollment_tokens_ended: t(10_000) };
        assert_eq!(s.prune(&before).await.expect("prune").enrollment_tokens, 1, "[{n}] the expired one goes next");
        let kept = s.consume_enrollment(&waiting.secret_hash, t(20_000)).await.expect("consume").expect("the waiting token is kept");
        assert_eq!(kept.used_at, None, "[{n}]");
        assert_eq!(audit_count(s).await, audit_before, "[{n}] pruning writes no audit record and removes none");
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

// --- fleet: nodes, agents, jobs, leases ---

fn node(n: u32, name: &str, org_id: Option<&str>) -> NodeRecord {
    NodeRecord {
        id: id("nod", n),
        name: name.into(),
        org_id: org_id.map(str::to_owned),
        created_at: t(i64::from(n)),
        updated_at: t(i64::from(n)),
        retired_at: None,
        last_checkin_at: None,
        health: None,
        enrolled_at: None,
    }
}

fn health(uptime_secs: u64) -> NodeHealth {
    NodeHealth {
        uptime_secs,
        load1: 0.25,
        memory_total_bytes: 8 << 30,
        memory_available_bytes: 3 << 30,
        disk_total_bytes: 100 << 30,
        disk_available_bytes: 40 << 30,
        agent_version: "0.1.0".into(),
        docker_reachable: true,
        docker_version: Some("26.1.5".into()),
    }
}

fn container(name: &str) -> Container {
    Container {
        id: format!("{name}-0123456789ab"),
        name: name.into(),
        image: "openclaw:2026.1".into(),
        state: "running".into(),
        health: Some("healthy".into()),
        labels: BTreeMap::from([("works.managed".to_owned(), "true".to_owned())]),
        ports: vec![PublishedPort { container_port: 18789, host_port: Some(18789), host_ip: Some("127.0.0.1".into()), protocol: "tcp".into() }],
        mounts: vec![ContainerMount { kind: "volume".into(), source: "openclaw-data".into(), destination: "/data".into() }],
    }
}

fn enrollment(n: u32, node_id: &str, org_id: Option<&str>) -> EnrollmentRecord {
    EnrollmentRecord {
        id: id("enr", n),
        node_id: node_id.into(),
        org_id: org_id.map(str::to_owned),
        secret_hash: format!("enrollment-hash-{n}"),
        created_by: "admin".into(),
        created_at: t(0),
        expires_at: t(1_800_000),
        used_at: None,
    }
}

fn credential(n: u32, node_id: &str, created: i64) -> AgentCredentialRecord {
    AgentCredentialRecord {
        id: id("crd", n),
        node_id: node_id.into(),
        secret_hash: format!("agent-hash-{n}"),
        created_at: t(created),
        revoked_at: None,
    }
}

fn job(n: u32, node: &NodeRecord, kind: JobKind, state: JobState, created: i64) -> Job {
    Job {
        id: id("job", n),
        node_id: node.id.clone(),
        org_id: node.org_id.clone(),
        kind,
        risk: kind.risk(),
        state,
        params: serde_json::json!({ "n": n, "lines": 200 }),
        attempts: 0,
        max_attempts: kind.max_attempts(),
        timeout_secs: u32::try_from(kind.timeout().num_seconds()).expect("small"),
        reason: Some("waiting".into()),
        approval_phrase: None,
        requested_by: "admin".into(),
        approved_by: None,
        approved_at: None,
        retry_of: None,
        result: None,
        output: None,
        created_at: t(created),
        updated_at: t(created),
        claimed_at: None,
        heartbeat_at: None,
        deadline_at: None,
        expires_at: t(created + 86_400_000),
        finished_at: None,
    }
}

fn node_names(nodes: &[NodeRecord]) -> Vec<&str> {
    nodes.iter().map(|n| n.name.as_str()).collect()
}

fn job_ids(jobs: &[Job]) -> Vec<String> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

async fn audit_actions(store: &dyn Store, action: &str) -> Vec<AuditRecord> {
    all_audit(store).await.into_iter().filter(|r| r.action == action).collect()
}

/// Two organizations with nodes, written through the store.
async fn fleet(s: &dyn Store) -> (Org, Org) {
    let acme = org(1, "Acme");
    let globex = org(2, "Globex");
    s.insert_org(&acme, draft("org.create", Some(&acme.id))).await.expect("org");
    s.insert_org(&globex, draft("org.create", Some(&globex.id))).await.expect("org");
    (acme, globex)
}

#[tokio::test]
async fn nodes_insert_get_update_list_and_scope() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, globex) = fleet(s).await;
        let web_b = node(1, "web-b", Some(&acme.id));
        let web_a = node(2, "web-a", Some(&acme.id));
        let db = node(3, "db-01", Some(&globex.id));
        let mut jump = node(4, "Jumpbox", None);
        jump.health = Some(health(7));
        jump.last_checkin_at = Some(t(4));
        for x in [&web_b, &web_a, &db, &jump] {
            s.insert_node(x, draft("node.create", x.org_id.as_deref())).await.unwrap_or_else(|e| panic!("[{n}] insert node: {e}"));
        }
        assert_eq!(s.get_node(&web_a.id).await.expect("get"), Some(web_a.clone()), "[{n}]");
        assert_eq!(s.get_node(&jump.id).await.expect("get"), Some(jump.clone()), "[{n}] every field survives");
        assert_eq!(s.get_node("no-such-node").await.expect("get"), None, "[{n}]");

        // Clashes and missing organizations change nothing and record nothing.
        let before = audit_count(s).await;
        let err = s.insert_node(&node(1, "other", None), draft("node.create", None)).await.expect_err("duplicate id");
        assert!(matches!(&err, Error::Conflict { field: Some(f), .. } if f == "id"), "[{n}] {err:?}");
        let err = s.insert_node(&node(9, "orphan", Some("no-such-org")), draft("node.create", None)).await.expect_err("no org");
        assert_eq!(err.field(), Some("org_id"), "[{n}] {err:?}");
        assert!(err.to_string().contains("no-such-org"), "[{n}] {err}");
        assert_eq!(audit_count(s).await, before, "[{n}]");

        // Rename writes the name and updated_at, and leaves check-in fields alone.
        s.record_checkin(&web_b.id, t(500), &health(1), None).await.expect("check-in");
        let mut renamed = web_b.clone();
        renamed.name = "web-c".into();
        renamed.updated_at = t(600);
        s.update_node(&renamed, draft("node.rename", Some(&acme.id))).await.expect("rename");
        let got = s.get_node(&web_b.id).await.expect("get").expect("node");
        assert_eq!(got.name, "web-c", "[{n}]");
        assert_eq!(got.updated_at, t(600), "[{n}]");
        assert_eq!(got.created_at, web_b.created_at, "[{n}]");
        assert_eq!(got.last_checkin_at, Some(t(500)), "[{n}] rename keeps the check-in");
        assert_eq!(got.health, Some(health(1)), "[{n}] rename keeps the health");
        let before = audit_count(s).await;
        let err = s.update_node(&node(77, "ghost", None), draft("node.rename", None)).await;
        assert!(matches!(err, Err(Error::NotFound { .. })), "[{n}] {err:?}");
        assert_eq!(audit_count(s).await, before, "[{n}] no audit for a failed rename");

        // Lists: ordered by name (bytewise), scoped in the query, filtered, paged.
        let all = s.list_nodes(&Scope::All, None, false, page(0, 50)).await.expect("list");
        assert_eq!(node_names(&all), ["Jumpbox", "db-01", "web-a", "web-c"], "[{n}]");
        assert_eq!(node_names(&s.list_nodes(&Scope::All, None, false, page(1, 2)).await.expect("list")), ["db-01", "web-a"], "[{n}]");
        assert!(s.list_nodes(&Scope::All, None, false, page(4, 2)).await.expect("list").is_empty(), "[{n}]");
        let acme_nodes = s.list_nodes(&Scope::Org(acme.id.clone()), None, false, page(0, 50)).await.expect("list");
        assert_eq!(node_names(&acme_nodes), ["web-a", "web-c"], "[{n}] an organization sees its own nodes only");
        let filtered = s.list_nodes(&Scope::All, Some(&globex.id), false, page(0, 50)).await.expect("list");
        assert_eq!(node_names(&filtered), ["db-01"], "[{n}]");
        assert!(
            s.list_nodes(&Scope::Org(acme.id.clone()), Some(&globex.id), false, page(0, 50)).await.expect("list").is_empty(),
            "[{n}] a filter never widens the scope"
        );
        let member = user(1, "member", Role::OrgUser, Some(&acme.id));
        s.insert_user(&member, draft("user.create", Some(&acme.id))).await.expect("user");
        assert!(
            s.list_nodes(&Scope::User(member.user.id.clone()), None, true, page(0, 50)).await.expect("list").is_empty(),
            "[{n}] a user scope holds no nodes"
        );
    }
}

#[tokio::test]
async fn retiring_a_node_revokes_its_credentials_in_the_same_change() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, _) = fleet(s).await;
        let web = node(1, "web", Some(&acme.id));
        let other = node(2, "other", Some(&acme.id));
        s.insert_node(&web, draft("node.create", None)).await.expect("node");
        s.insert_node(&other, draft("node.create", None)).await.expect("node");
        s.insert_agent_credential(&credential(1, &web.id, 100), draft("agent.enroll", None)).await.expect("cred");
        s.insert_agent_credential(&credential(2, &web.id, 200), draft("agent.enroll", None)).await.expect("cred");
        s.insert_agent_credential(&credential(3, &other.id, 300), draft("agent.enroll", None)).await.expect("cred");

        let before = audit_count(s).await;
        let mut retired = web.clone();
        retired.retired_at = Some(t(1_000));
        retired.updated_at = t(1_000);
        s.retire_node(&retired, t(1_000), draft("node.retire", Some(&acme.id))).await.expect("retire");
        let got = s.get_node(&web.id).await.expect("get").expect("node");
        assert_eq!(got.retired_at, Some(t(1_000)), "[{n}]");
        assert_eq!(got.updated_at, t(1_000), "[{n}]");
        let cred = |h: &'static str| async move { s.get_agent_credential_by_hash(h).await.expect("get").expect("credential") };
        assert_eq!(cred("agent-hash-1").await.revoked_at, Some(t(200)), "[{n}] an earlier revocation is kept");
        assert_eq!(cred("agent-hash-2").await.revoked_at, Some(t(1_000)), "[{n}] the live credential is revoked");
        assert_eq!(cred("agent-hash-3").await.revoked_at, None, "[{n}] other nodes keep theirs");
        assert_eq!(audit_count(s).await, before + 1, "[{n}]");
        assert_eq!(all_audit(s).await.pop().expect("record").action, "node.retire", "[{n}]");

        // Retired nodes are listed only when asked for.
        assert_eq!(node_names(&s.list_nodes(&Scope::All, None, false, page(0, 50)).await.expect("list")), ["other"], "[{n}]");
        assert_eq!(node_names(&s.list_nodes(&Scope::All, None, true, page(0, 50)).await.expect("list")), ["other", "web"], "[{n}]");

        let before = audit_count(s).await;
        let err = s.retire_node(&node(77, "ghost", None), t(2_000), draft("node.retire", None)).await;
        assert!(matches!(err, Err(Error::NotFound { .. })), "[{n}] {err:?}");
        assert_eq!(audit_count(s).await, before, "[{n}]");
    }
}

#[tokio::test]
async fn check_ins_write_health_and_replace_the_inventory_only_when_given() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, _) = fleet(s).await;
        let web = node(1, "web", Some(&acme.id));
        let other = node(2, "other", None);
        s.insert_node(&web, draft("node.create", None)).await.expect("node");
        s.insert_node(&other, draft("node.create", None)).await.expect("node");
        assert_eq!(s.get_inventory(&web.id).await.expect("inventory"), None, "[{n}] nothing reported yet");
        let before = audit_count(s).await;

        let first = vec![container("openclaw-gateway"), container("openclaw-cli")];
        s.record_checkin(&web.id, t(1_000), &health(10), Some(&first)).await.expect("check-in");
        let got = s.get_node(&web.id).await.expect("get").expect("node");
        assert_eq!(got.last_checkin_at, Some(t(1_000)), "[{n}]");
        assert_eq!(got.health, Some(health(10)), "[{n}]");
        assert_eq!(s.get_inventory(&web.id).await.expect("inventory"), Some(first.clone()), "[{n}] every field survives");

        // No inventory: the old one stays, health and time move on.
        s.record_checkin(&web.id, t(2_000), &health(20), None).await.expect("check-in");
        let got = s.get_node(&web.id).await.expect("get").expect("node");
        assert_eq!((got.last_checkin_at, got.health), (Some(t(2_000)), Some(health(20))), "[{n}]");
        assert_eq!(s.get_inventory(&web.id).await.expect("inventory"), Some(first.clone()), "[{n}] None keeps the inventory");

        // A new inventory replaces the old one entirely, even an empty one.
        let second = vec![container("other-app")];
        s.record_checkin(&web.id, t(3_000), &health(30), Some(&second)).await.expect("check-in");
        assert_eq!(s.get_inventory(&web.id).await.expect("inventory"), Some(second), "[{n}]");
        s.record_checkin(&web.id, t(4_000), &health(40), Some(&[])).await.expect("check-in");
        assert_eq!(s.get_inventory(&web.id).await.expect("inventory"), Some(Vec::new()), "[{n}]");
        assert_eq!(s.get_inventory(&other.id).await.expect("inventory"), None, "[{n}] other nodes are untouched");
        assert_eq!(s.get_node(&other.id).await.expect("get").expect("node").health, None, "[{n}]");

        let err = s.record_checkin("no-such-node", t(5_000), &health(1), Some(&first)).await;
        match err {
            Err(Error::NotFound { what, id }) => assert_eq!((what.as_str(), id.as_str()), ("node", "no-such-node"), "[{n}]"),
            other => panic!("[{n}] expected not found, got {other:?}"),
        }
        assert_eq!(s.get_inventory("no-such-node").await.expect("inventory"), None, "[{n}]");
        assert_eq!(audit_count(s).await, before, "[{n}] check-ins are not audit records");
    }
}

#[tokio::test]
async fn an_enrollment_token_is_consumed_once() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, _) = fleet(s).await;
        let web = node(1, "web", Some(&acme.id));
        s.insert_node(&web, draft("node.create", None)).await.expect("node");
        let token = enrollment(1, &web.id, Some(&acme.id));
        let before = audit_count(s).await;
        s.insert_enrollment(&token, draft("node.enrollment_token", Some(&acme.id))).await.expect("enrollment");
        assert_eq!(audit_count(s).await, before + 1, "[{n}]");

        let mut dup = enrollment(2, &web.id, None);
        dup.secret_hash = token.secret_hash.clone();
        let err = s.insert_enrollment(&dup, draft("node.enrollment_token", None)).await.expect_err("duplicate hash");
        assert!(matches!(&err, Error::Conflict { field: Some(f), .. } if f == "secret_hash"), "[{n}] {err:?}");
        assert!(err.to_string().contains("enrollment token"), "[{n}] {err}");
        let err = s.insert_enrollment(&enrollment(3, "no-such-node", None), draft("node.enrollment_token", None)).await;
        assert_eq!(err.expect_err("no node").field(), Some("node_id"), "[{n}]");
        assert_eq!(audit_count(s).await, before + 1, "[{n}] refused inserts record nothing");

        assert!(s.consume_enrollment("unknown-hash", t(10)).await.expect("consume").is_none(), "[{n}]");
        let first = s.consume_enrollment(&token.secret_hash, t(10)).await.expect("consume").expect("known");
        assert_eq!(first.used_at, None, "[{n}] the first consumer sees it unused");
        assert_eq!(
            (&first.id, &first.node_id, &first.org_id, &first.created_by, first.created_at, first.expires_at),
            (&token.id, &token.node_id, &token.org_id, &token.created_by, token.created_at, token.expires_at),
            "[{n}]"
        );
        let again = s.consume_enrollment(&token.secret_hash, t(20)).await.expect("consume").expect("known");
        assert_eq!(again.used_at, Some(t(10)), "[{n}] later consumers see when it was used");
        let third = s.consume_enrollment(&token.secret_hash, t(30)).await.expect("consume").expect("known");
        assert_eq!(third.used_at, Some(t(10)), "[{n}] the first use time is kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_consumers_of_one_enrollment_token_see_it_unused_exactly_once() {
    for b in backends().await {
        let n = b.name;
        let (acme, _) = fleet(&*b.store).await;
        let web = node(1, "web", Some(&acme.id));
        b.store.insert_node(&web, draft("node.create", None)).await.expect("node");
        for round in 0..3u32 {
            let token = enrollment(round, &web.id, Some(&acme.id));
            b.store.insert_enrollment(&token, draft("node.enrollment_token", None)).await.expect("enrollment");
            let second = works_store::open(&b.url).await.expect("second store");
            let stores = [b.store.clone(), second];
            let barrier = Arc::new(tokio::sync::Barrier::new(8));
            let mut tasks = Vec::new();
            for task in 0..8usize {
                let store = stores[task % 2].clone();
                let hash = token.secret_hash.clone();
                let barrier = barrier.clone();
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    let at = t(1_000 + i64::try_from(task).expect("small"));
                    store.consume_enrollment(&hash, at).await.expect("consume").expect("known token")
                }));
            }
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.expect("task finished"));
            }
            let unused = answers.iter().filter(|r| r.used_at.is_none()).count();
            assert_eq!(unused, 1, "[{n}] round {round}: exactly one consumer sees the token unused");
            let used: BTreeSet<_> = answers.iter().filter_map(|r| r.used_at).collect();
            assert_eq!(used.len(), 1, "[{n}] everyone else sees the one use time: {used:?}");
        }
    }
}

#[tokio::test]
async fn a_new_agent_credential_revokes_the_earlier_ones_and_marks_the_node_enrolled() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, _) = fleet(s).await;
        let web = node(1, "web", Some(&acme.id));
        let other = node(2, "other", None);
        s.insert_node(&web, draft("node.create", None)).await.expect("node");
        s.insert_node(&other, draft("node.create", None)).await.expect("node");
        s.insert_agent_credential(&credential(9, &other.id, 50), draft("agent.enroll", None)).await.expect("cred");

        let before = audit_count(s).await;
        s.insert_agent_credential(&credential(1, &web.id, 100), draft("agent.enroll", Some(&acme.id))).await.expect("cred");
        assert_eq!(s.get_node(&web.id).await.expect("get").expect("node").enrolled_at, Some(t(100)), "[{n}]");
        let c1 = s.get_agent_credential_by_hash("agent-hash-1").await.expect("get").expect("c1");
        assert_eq!((c1.id.as_str(), c1.node_id.as_str(), c1.created_at, c1.revoked_at), (id("crd", 1).as_str(), web.id.as_str(), t(100), None), "[{n}]");

        s.insert_agent_credential(&credential(2, &web.id, 200), draft("agent.enroll", Some(&acme.id))).await.expect("cred");
        assert_eq!(s.get_node(&web.id).await.expect("get").expect("node").enrolled_at, Some(t(200)), "[{n}]");
        let get = |h: &'static str| async move { s.get_agent_credential_by_hash(h).await.expect("get").expect("credential") };
        assert_eq!(get("agent-hash-1").await.revoked_at, Some(t(200)), "[{n}] the earlier credential is revoked");
        assert_eq!(get("agent-hash-2").await.revoked_at, None, "[{n}] the new one is live");
        assert_eq!(get("agent-hash-9").await.revoked_at, None, "[{n}] other nodes keep theirs");
        assert!(s.get_agent_credential_by_hash("agent-hash-404").await.expect("get").is_none(), "[{n}]");
        assert_eq!(audit_count(s).await, before + 2, "[{n}]");

        // A refused credential rolls the whole change back: nothing is revoked.
        let mut dup = credential(3, &web.id, 300);
        dup.secret_hash = "agent-hash-9".into();
        let err = s.insert_agent_credential(&dup, draft("agent.enroll", None)).await.expect_err("duplicate hash");
        assert!(matches!(&err, Error::Conflict { field: Some(f), .. } if f == "secret_hash"), "[{n}] {err:?}");
        assert_eq!(get("agent-hash-2").await.revoked_at, None, "[{n}] rolled back");
        assert_eq!(s.get_node(&web.id).await.expect("get").expect("node").enrolled_at, Some(t(200)), "[{n}] rolled back");
        let err = s.insert_agent_credential(&credential(4, "no-such-node", 300), draft("agent.enroll", None)).await;
        assert_eq!(err.expect_err("no node").field(), Some("node_id"), "[{n}]");
        assert_eq!(audit_count(s).await, before + 2, "[{n}]");

        // Revoking cuts the live one off and keeps earlier revocation times.
        s.revoke_agent_credentials(&web.id, t(400), draft("agent.revoke", Some(&acme.id))).await.expect("revoke");
        assert_eq!(get("agent-hash-2").await.revoked_at, Some(t(400)), "[{n}]");
        assert_eq!(get("agent-hash-1").await.revoked_at, Some(t(200)), "[{n}]");
        assert_eq!(get("agent-hash-9").await.revoked_at, None, "[{n}]");
        assert_eq!(audit_count(s).await, before + 3, "[{n}]");
        let err = s.revoke_agent_credentials("no-such-node", t(500), draft("agent.revoke", None)).await;
        assert!(matches!(err, Err(Error::NotFound { .. })), "[{n}] {err:?}");
        assert_eq!(audit_count(s).await, before + 3, "[{n}]");
    }
}

#[tokio::test]
async fn jobs_insert_get_list_filter_and_scope() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, globex) = fleet(s).await;
        let web = node(1, "web", Some(&acme.id));
        let api = node(2, "api", Some(&acme.id));
        let db = node(3, "db", Some(&globex.id));
        let jump = node(4, "jump", None);
        for x in [&web, &api, &db, &jump] {
            s.insert_node(x, draft("node.create", None)).await.expect("node");
        }
        let mut full = job(1, &web, JobKind::Deploy, JobState::Succeeded, 100);
        full.attempts = 1;
        full.approval_phrase = Some("deploy openclaw on web".into());
        full.approved_by = Some("approver".into());
        full.approved_at = Some(t(110));
        full.retry_of = Some(id("job", 99));
        full.result = Some(serde_json::json!({ "version": "2026.1", "ok": true, "nested": [1, 2, { "x": null }] }));
        full.output = Some("line one\nline two".into());
        full.claimed_at = Some(t(120));
        full.heartbeat_at = Some(t(130));
        full.deadline_at = Some(t(120 + 900_000));
        full.finished_at = Some(t(140));
        full.reason = None;
        let jobs = [
            full.clone(),
            job(2, &web, JobKind::HealthCheck, JobState::Queued, 200),
            job(3, &api, JobKind::Logs, JobState::Queued, 300),
            job(4, &db, JobKind::Restart, JobState::AwaitingApproval, 400),
            job(5, &jump, JobKind::InventoryRefresh, JobState::Running, 500),
            job(6, &web, JobKind::Logs, JobState::Failed, 600),
        ];
        for j in &jobs {
            s.insert_job(j, draft("job.request", j.org_id.as_deref())).await.unwrap_or_else(|e| panic!("[{n}] insert job: {e}"));
        }
        assert_eq!(s.get_job(&full.id).await.expect("get"), Some(full.clone()), "[{n}] every field survives");
        assert_eq!(s.get_job(&jobs[3].id).await.expect("get"), Some(jobs[3].clone()), "[{n}]");
        assert_eq!(s.get_job("no-such-job").await.expect("get"), None, "[{n}]");

        let before = audit_count(s).await;
        let err = s.insert_job(&job(1, &web, JobKind::Logs, JobState::Queued, 1), draft("job.request", None)).await.expect_err("dup");
        assert!(matches!(&err, Error::Conflict { field: Some(f), .. } if f == "id"), "[{n}] {err:?}");
        let ghost = node(77, "ghost", None);
        let err = s.insert_job(&job(7, &ghost, JobKind::Logs, JobState::Queued, 1), draft("job.request", None)).await.expect_err("no node");
        assert_eq!(err.field(), Some("node_id"), "[{n}] {err:?}");
        assert_eq!(audit_count(s).await, before, "[{n}]");

        let list = |scope: Scope, filter: JobFilter, p: Page| async move { job_ids(&s.list_jobs(&scope, &filter, p).await.expect("list")) };
        let ids = |ns: &[u32]| ns.iter().map(|k| id("job", *k)).collect::<Vec<_>>();
        let none = JobFilter::default;
        assert_eq!(list(Scope::All, none(), page(0, 50)).await, ids(&[6, 5, 4, 3, 2, 1]), "[{n}] newest first");
        assert_eq!(list(Scope::All, none(), page(2, 3)).await, ids(&[4, 3, 2]), "[{n}] paged");
        assert_eq!(list(Scope::Org(acme.id.clone()), none(), page(0, 50)).await, ids(&[6, 3, 2, 1]), "[{n}] org scope");
        assert_eq!(list(Scope::Org(globex.id.clone()), none(), page(0, 50)).await, ids(&[4]), "[{n}]");
        assert!(list(Scope::User(id("usr", 1)), none(), page(0, 50)).await.is_empty(), "[{n}] a user scope holds no jobs");
        let on_web = JobFilter { node_id: Some(web.id.clone()), state: None };
        assert_eq!(list(Scope::All, on_web.clone(), page(0, 50)).await, ids(&[6, 2, 1]), "[{n}] node filter");
        assert!(list(Scope::Org(globex.id.clone()), on_web, page(0, 50)).await.is_empty(), "[{n}] a filter never widens the scope");
        let queued = JobFilter { node_id: None, state: Some(JobState::Queued) };
        assert_eq!(list(Scope::All, queued, page(0, 50)).await, ids(&[3, 2]), "[{n}] state filter");
        let both = JobFilter { node_id: Some(web.id.clone()), state: Some(JobState::Queued) };
        assert_eq!(list(Scope::Org(acme.id.clone()), both, page(0, 50)).await, ids(&[2]), "[{n}] filters combine");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_job_is_a_compare_and_set_on_the_stored_state() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, _) = fleet(s).await;
        let web = node(1, "web", Some(&acme.id));
        s.insert_node(&web, draft("node.create", None)).await.expect("node");
        let waiting = job(1, &web, JobKind::Deploy, JobState::AwaitingApproval, 100);
        s.insert_job(&waiting, draft("job.request", None)).await.expect("job");

        let mut approved = waiting.clone();
        approved.state = JobState::Queued;
        approved.approved_by = Some("approver".into());
        approved.approved_at = Some(t(200));
        approved.reason = Some("Approved by approver.".into());
        approved.updated_at = t(200);
        let before = audit_count(s).await;
        s.update_job(&approved, JobState::AwaitingApproval, draft("job.approve", None)).await.expect("approve");
        assert_eq!(s.get_job(&waiting.id).await.expect("get"), Some(approved.clone()), "[{n}] every field written");
        assert_eq!(audit_count(s).await, before + 1, "[{n}]");

        // A second writer that still expects the old state loses, writes nothing, records nothing.
        let mut cancelled = waiting.clone();
        cancelled.state = JobState::Cancelled;
        cancelled.reason = Some("Cancelled by someone.".into());
        match s.update_job(&cancelled, JobState::AwaitingApproval, draft("job.cancel", None)).await {
            Err(Error::Conflict { field, message }) => {
                assert_eq!(field, None, "[{n}]");
                assert!(message.contains("waiting for the agent"), "[{n}] names the current state: {message}");
                for technical in ["UPDATE", "rows", "SQL", "state ="] {
                    assert!(!message.contains(technical), "[{n}] plain English: {message}");
                }
            }
            other => panic!("[{n}] expected a conflict, got {other:?}"),
        }
        assert_eq!(s.get_job(&waiting.id).await.expect("get"), Some(approved.clone()), "[{n}] nothing written");
        assert_eq!(audit_count(s).await, before + 1, "[{n}] no audit record for a lost race");
        assert!(audit_actions(s, "job.cancel").await.is_empty(), "[{n}]");

        let err = s.update_job(&job(9, &web, JobKind::Logs, JobState::Queued, 1), JobState::Queued, draft("job.cancel", None)).await;
        assert!(matches!(err, Err(Error::Conflict { .. })), "[{n}] a missing job is not in the expected state: {err:?}");
        assert_eq!(audit_count(s).await, before + 1, "[{n}]");

        // Concurrent compare-and-sets from the same state: exactly one wins.
        let second = works_store::open(&b.url).await.expect("second store");
        let stores = [b.store.clone(), second];
        let mut tasks = Vec::new();
        for task in 0..8usize {
            let store = stores[task % 2].clone();
            let mut next = approved.clone();
            next.state = JobState::Cancelled;
            next.reason = Some(format!("cancelled by task {task}"));
            tasks.push(tokio::spawn(async move { store.update_job(&next, JobState::Queued, draft("job.cancel", None)).await }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.expect("task finished") {
                Ok(()) => won += 1,
                Err(Error::Conflict { .. }) => {}
                Err(e) => panic!("[{n}] unexpected error: {e:?}"),
            }
        }
        assert_eq!(won, 1, "[{n}] exactly one writer wins");
        assert_eq!(audit_actions(s, "job.cancel").await.len(), 1, "[{n}] one audit record, of the winner");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_from_two_store_instances_take_every_job_exactly_once() {
    for b in backends().await {
        let n = b.name;
        let (acme, _) = fleet(&*b.store).await;
        let web = node(1, "web", Some(&acme.id));
        b.store.insert_node(&web, draft("node.create", None)).await.expect("node");
        let mut queued = BTreeSet::new();
        for k in 0..40u32 {
            let j = job(k, &web, JobKind::HealthCheck, JobState::Queued, i64::from(k));
            b.store.insert_job(&j, draft("job.request", None)).await.expect("job");
            queued.insert(j.id);
        }
        let audit_before = audit_count(&*b.store).await;

        let second = works_store::open(&b.url).await.expect("second store");
        let stores = [b.store.clone(), second];
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for task in 0..8usize {
            let store = stores[task % 2].clone();
            let node_id = web.id.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut claimed = Vec::new();
                let now = t(10_000 + i64::try_from(task).expect("small"));
                while let Some(job) = store.claim_job(&node_id, now, draft("job.claim", None)).await.expect("claim") {
                    claimed.push(job);
                }
                claimed
            }));
        }
        let mut claimed = Vec::new();
        for task in tasks {
            claimed.extend(task.await.expect("task finished"));
        }

        let ids: Vec<String> = job_ids(&claimed);
        let distinct: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(ids.len(), 40, "[{n}] 40 claims in all, no job handed out twice");
        assert_eq!(distinct, queued, "[{n}] every job claimed exactly once");
        for j in &claimed {
            assert_eq!((j.state, j.attempts), (JobState::Claimed, 1), "[{n}] {}", j.id);
            let stored = b.store.get_job(&j.id).await.expect("get").expect("job");
            assert_eq!(&stored, j, "[{n}] the answer is what was stored");
        }
        let claims = audit_actions(&*b.store, "job.claim").await;
        assert_eq!(claims.len(), 40, "[{n}] one audit record per claim");
        let audited: BTreeSet<String> = claims.iter().filter_map(|r| r.target_id.clone()).collect();
        assert_eq!(audited, queued, "[{n}] each claim's record names its job");
        assert_eq!(audit_count(&*b.store).await, audit_before + 40, "[{n}]");
        assert!(verify_chain(&all_audit(&*b.store).await).intact, "[{n}]");
    }
}

#[tokio::test]
async fn a_claim_takes_the_oldest_queued_job_of_that_node_only() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, _) = fleet(s).await;
        let web = node(1, "web", Some(&acme.id));
        let other = node(2, "other", Some(&acme.id));
        s.insert_node(&web, draft("node.create", None)).await.expect("node");
        s.insert_node(&other, draft("node.create", None)).await.expect("node");
        let mut retried = job(2, &web, JobKind::HealthCheck, JobState::Queued, 100);
        retried.attempts = 1;
        retried.reason = Some("queued again after a timeout".into());
        let jobs = [
            job(1, &web, JobKind::Logs, JobState::Queued, 300),
            retried.clone(),
            job(3, &web, JobKind::InventoryRefresh, JobState::Queued, 200),
            job(4, &web, JobKind::Deploy, JobState::AwaitingApproval, 10),
            job(5, &web, JobKind::Logs, JobState::Running, 20),
            job(6, &web, JobKind::Logs, JobState::Requested, 30),
            job(7, &web, JobKind::Logs, JobState::Cancelled, 40),
            job(8, &other, JobKind::Logs, JobState::Queued, 0),
        ];
        for j in &jobs {
            s.insert_job(j, draft("job.request", None)).await.expect("job");
        }

        let before = audit_count(s).await;
        let now = t(50_000);
        let mut d = draft("job.claim", Some(&acme.id));
        d.at = now;
        let got = s.claim_job(&web.id, now, d).await.expect("claim").expect("a queued job");
        assert_eq!(got.id, retried.id, "[{n}] the oldest queued job of the node");
        let mut expected = retried.clone();
        expected.state = JobState::Claimed;
        expected.attempts = 2;
        expected.claimed_at = Some(now);
        expected.heartbeat_at = Some(now);
        expected.deadline_at = Some(now + Duration::seconds(60));
        expected.reason = None;
        expected.updated_at = now;
        assert_eq!(got, expected, "[{n}]");
        assert_eq!(s.get_job(&got.id).await.expect("get"), Some(expected), "[{n}]");
        let record = all_audit(s).await.pop().expect("record");
        assert_eq!((record.action.as_str(), record.target_id.as_deref()), ("job.claim", Some(got.id.as_str())), "[{n}]");
        assert_eq!(record.org_id.as_deref(), Some(acme.id.as_str()), "[{n}] the rest of the draft is kept");
        assert_eq!(audit_count(s).await, before + 1, "[{n}]");

        let second = s.claim_job(&web.id, now, draft("job.claim", None)).await.expect("claim").expect("job");
        assert_eq!(second.id, id("job", 3), "[{n}]");
        assert_eq!(second.deadline_at, Some(now + Duration::seconds(120)), "[{n}] its own timeout");
        let third = s.claim_job(&web.id, now, draft("job.claim", None)).await.expect("claim").expect("job");
        assert_eq!(third.id, id("job", 1), "[{n}]");
        assert_eq!(s.claim_job(&web.id, now, draft("job.claim", None)).await.expect("claim"), None, "[{n}] nothing else is queued");
        assert_eq!(audit_count(s).await, before + 3, "[{n}] an empty claim records nothing");
        for k in [4, 5, 6, 7] {
            let untouched = s.get_job(&id("job", k)).await.expect("get").expect("job");
            assert_eq!(untouched, jobs[usize::try_from(k - 1).expect("small")], "[{n}] job {k} is not queued and stays as it was");
        }
        assert_eq!(s.get_job(&id("job", 8)).await.expect("get").expect("job").state, JobState::Queued, "[{n}] another node's job");
        assert_eq!(s.claim_job("no-such-node", now, draft("job.claim", None)).await.expect("claim"), None, "[{n}]");
        let theirs = s.claim_job(&other.id, now, draft("job.claim", None)).await.expect("claim").expect("job");
        assert_eq!(theirs.id, id("job", 8), "[{n}]");
    }
}

#[tokio::test]
async fn overdue_jobs_are_those_past_their_deadline_or_expiry() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let web = node(1, "web", None);
        s.insert_node(&web, draft("node.create", None)).await.expect("node");
        let now = t(1_000_000);
        let with = |k: u32, state: JobState, created: i64, deadline: Option<i64>, expires: i64| {
            let mut j = job(k, &web, JobKind::Logs, state, created);
            j.deadline_at = deadline.map(t);
            j.expires_at = t(expires);
            j
        };
        let far = 10_000_000;
        let jobs = [
            with(1, JobState::Claimed, 60, Some(999_999), far),       // past its deadline
            with(2, JobState::Running, 10, Some(1_000_000), far),     // deadline exactly now
            with(3, JobState::Running, 20, Some(1_000_001), far),     // still within
            with(4, JobState::Claimed, 30, None, far),                // no deadline
            with(5, JobState::Queued, 50, None, 1_000_000),           // expired exactly now
            with(6, JobState::Requested, 40, None, 5),                // long expired
            with(7, JobState::AwaitingApproval, 70, None, 999_000),   // expired
            with(8, JobState::AwaitingApproval, 80, None, 1_000_001), // not yet
            with(9, JobState::Queued, 90, Some(1), far),              // a deadline does not apply to waiting work
            with(10, JobState::Running, 95, Some(far), 1),            // expiry does not apply to running work
            with(11, JobState::Succeeded, 1, Some(1), 1),
            with(12, JobState::Failed, 2, Some(1), 1),
            with(13, JobState::TimedOut, 3, Some(1), 1),
            with(14, JobState::Cancelled, 4, Some(1), 1),
        ];
        for j in &jobs {
            s.insert_job(j, draft("job.request", None)).await.expect("job");
        }
        let ids = |ns: &[u32]| ns.iter().map(|k| id("job", *k)).collect::<Vec<_>>();
        assert_eq!(job_ids(&s.overdue_jobs(now, 100).await.expect("overdue")), ids(&[2, 6, 5, 1, 7]), "[{n}] oldest first");
        assert_eq!(job_ids(&s.overdue_jobs(now, 2).await.expect("overdue")), ids(&[2, 6]), "[{n}] at most the limit");
        assert_eq!(job_ids(&s.overdue_jobs(t(0), 100).await.expect("overdue")), Vec::<String>::new(), "[{n}]");
        let full = s.overdue_jobs(now, 100).await.expect("overdue");
        assert_eq!(full[3], jobs[0], "[{n}] whole jobs are returned");

        // A heartbeat is recorded without an audit record; it does not move the deadline.
        let before = audit_count(s).await;
        s.job_heartbeat(&id("job", 3), t(999_000)).await.expect("heartbeat");
        let beat = s.get_job(&id("job", 3)).await.expect("get").expect("job");
        assert_eq!((beat.heartbeat_at, beat.deadline_at), (Some(t(999_000)), Some(t(1_000_001))), "[{n}]");
        assert_eq!(audit_count(s).await, before, "[{n}]");
        let err = s.job_heartbeat("no-such-job", t(1)).await;
        assert!(matches!(err, Err(Error::NotFound { .. })), "[{n}] {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lease_is_held_by_one_holder_until_it_expires() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let ttl = Duration::seconds(30);
        assert!(s.try_lease("recovery", "server-a", t(0), ttl).await.expect("lease"), "[{n}] a free lease is taken");
        assert!(!s.try_lease("recovery", "server-b", t(1_000), ttl).await.expect("lease"), "[{n}] refused while valid");
        assert!(!s.try_lease("recovery", "server-b", t(29_999), ttl).await.expect("lease"), "[{n}] refused until the end");
        assert!(s.try_lease("other", "server-b", t(1_000), ttl).await.expect("lease"), "[{n}] leases are independent");

        // The holder renews its own lease, which pushes the expiry on.
        assert!(s.try_lease("recovery", "server-a", t(20_000), ttl).await.expect("lease"), "[{n}] renewal");
        assert!(!s.try_lease("recovery", "server-b", t(30_000), ttl).await.expect("lease"), "[{n}] renewed until 50 s");
        assert!(!s.try_lease("recovery", "server-b", t(49_999), ttl).await.expect("lease"), "[{n}]");

        // Once expired, another holder takes it, and the first is refused.
        assert!(s.try_lease("recovery", "server-b", t(50_000), ttl).await.expect("lease"), "[{n}] taken at expiry");
        assert!(!s.try_lease("recovery", "server-a", t(50_001), ttl).await.expect("lease"), "[{n}] the old holder is refused");
        assert!(s.try_lease("recovery", "server-b", t(60_000), ttl).await.expect("lease"), "[{n}] the new holder renews");
        assert!(all_audit(s).await.is_empty(), "[{n}] leases are not audit records");

        // Many contenders at once, on two store instances: exactly one holder.
        let second = works_store::open(&b.url).await.expect("second store");
        let stores = [b.store.clone(), second];
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for task in 0..8usize {
            let store = stores[task % 2].clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.try_lease("contested", &format!("server-{task}"), t(0), Duration::seconds(30)).await.expect("lease")
            }));
        }
        let mut holders = 0;
        for task in tasks {
            if task.await.expect("task finished") {
                holders += 1;
            }
        }
        assert_eq!(holders, 1, "[{n}] exactly one contender holds the lease");
    }
}

/// The one write path of agents' claims and reports: many in one transaction, claims of
/// distinct nodes (on SQLite, of one job each) and ends of distinct jobs sharing a
/// statement, and each answered exactly as its own method would answer it.
#[tokio::test]
async fn write_jobs_answers_each_write_as_its_own_claim_or_end_would() {
    use works_core::{JobWrite, JobWritten};
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, globex) = fleet(s).await;
        let web = node(1, "web", Some(&acme.id));
        let db = node(2, "db", Some(&acme.id));
        let mail = node(3, "mail", Some(&acme.id));
        let theirs = node(4, "theirs", Some(&globex.id));
        let busy = node(5, "busy", Some(&acme.id));
        for x in [&web, &db, &mail, &theirs, &busy] {
            s.insert_node(x, draft("node.create", x.org_id.as_deref()))
                .await
                .expect("node");
        }
        let mut k = 0;
        let mut queue = |node: &NodeRecord, count: u32| {
            let jobs: Vec<Job> = (0..count)
                .map(|_| {
                    k += 1;
                    job(
                        k,
                        node,
                        JobKind::HealthCheck,
                        JobState::Queued,
                        i64::from(k),
                    )
                })
                .collect();
            jobs
        };
        let (w, d, o, e) = (
            queue(&web, 2),
            queue(&db, 1),
            queue(&theirs, 3),
            queue(&busy, 3),
        );
        for j in w.iter().chain(&d).chain(&o).chain(&e) {
            s.insert_job(j, draft("job.request", j.org_id.as_deref()))
                .await
                .expect("job");
        }
        let claimed = s
            .claim_jobs(&busy.id, t(50), 3, draft("job.claim", Some(&acme.id)))
            .await
            .expect("claim the busy node's jobs");
        assert_eq!(job_ids(&claimed), job_ids(&e), "[{n}]");
        let ended = |j: &Job, state: JobState| {
            let mut end = j.clone();
            end.state = state;
            end.result = Some(serde_json::json!({ "ok": state == JobState::Succeeded }));
            end.output = Some(format!("{} output", j.id));
            end.reason = Some(format!("{} ended", j.id));
            end.finished_at = Some(t(200));
            end
        };
        let mut on_wrong_node = ended(&e[1], JobState::Succeeded);
        on_wrong_node.node_id = web.id.clone();
        let claim = |node: &NodeRecord, max: u32, at: i64| JobWrite::Claim {
            node_id: node.id.clone(),
            now: t(at),
            max,
            audit: draft("job.claim", node.org_id.as_deref()),
        };
        let end = |end: Job| JobWrite::End {
            end,
            audit: draft("job.complete", None),
        };
        let before = audit_count(s).await;
        let writes = vec![
            claim(&web, 1, 100),
            claim(&db, 1, 101),
            claim(&mail, 1, 102), // nothing queued
            claim(&web, 1, 103),  // the same node again: its next job
            end(ended(&e[0], JobState::Succeeded)),
            end(on_wrong_node),                  // another node's job: not ended
            end(ended(&e[0], JobState::Failed)), // the same job again: already ended
            claim(&theirs, 2, 104),              // a batch claim: two of three
            end(ended(&e[2], JobState::Failed)),
        ];
        let done = s
            .write_jobs(writes)
            .await
            .unwrap_or_else(|err| panic!("[{n}] write_jobs: {err}"));
        let claimed_ids = |i: usize| match &done[i] {
            JobWritten::Claimed(jobs) => job_ids(jobs),
            other => panic!("[{n}] write {i} answered {other:?}"),
        };
        let ended_job = |i: usize| match &done[i] {
            JobWritten::Ended(job) => job.clone(),
            other => panic!("[{n}] write {i} answered {other:?}"),
        };
        assert_eq!(done.len(), 9, "[{n}]");
        assert_eq!(
            claimed_ids(0),
            vec![w[0].id.clone()],
            "[{n}] the oldest job of web"
        );
        assert_eq!(claimed_ids(1), vec![d[0].id.clone()], "[{n}]");
        assert!(claimed_ids(2).is_empty(), "[{n}] nothing queued on mail");
        assert_eq!(
            claimed_ids(3),
            vec![w[1].id.clone()],
            "[{n}] web's next job, not the same one twice"
        );
        assert_eq!(
            claimed_ids(7),
            job_ids(&o[..2]),
            "[{n}] two of theirs, oldest first"
        );
        assert_eq!(
            s.get_job(&o[2].id).await.expect("get").map(|j| j.state),
            Some(JobState::Queued),
            "[{n}] a batch claim takes no more than its most"
        );
        let JobWritten::Claimed(web_first) = &done[0] else {
            unreachable!()
        };
        let c = &web_first[0];
        assert_eq!(
            (
                c.state,
                c.attempts,
                c.claimed_at,
                c.heartbeat_at,
                c.reason.clone()
            ),
            (JobState::Claimed, 1, Some(t(100)), Some(t(100)), None),
            "[{n}]"
        );
        assert_eq!(
            c.deadline_at,
            Some(t(100) + Duration::seconds(60)),
            "[{n}] each claim at its own time"
        );
        assert_eq!(
            s.get_job(&c.id).await.expect("get").as_ref(),
            Some(c),
            "[{n}] answered as stored"
        );

        let first = ended_job(4).expect("the busy node's first job ended");
        assert_eq!(
            (first.state, first.output.as_deref(), first.finished_at),
            (
                JobState::Succeeded,
                Some(format!("{} output", e[0].id).as_str()),
                Some(t(200))
            ),
            "[{n}]"
        );
        assert_eq!(
            ended_job(5),
            None,
            "[{n}] a job is ended only on its own node"
        );
        assert_eq!(ended_job(6), None, "[{n}] a job is ended once");
        assert_eq!(
            ended_job(8).map(|j| j.state),
            Some(JobState::Failed),
            "[{n}]"
        );
        assert_eq!(
            s.get_job(&e[0].id).await.expect("get").map(|j| j.state),
            Some(JobState::Succeeded),
            "[{n}] the first end stands"
        );
        assert_eq!(
            s.get_job(&e[1].id).await.expect("get").map(|j| j.state),
            Some(JobState::Claimed),
            "[{n}] untouched"
        );

        // One record per job claimed or ended, the ends in their job's organization, in
        // an intact chain.
        let all = all_audit(s).await;
        let new: Vec<&AuditRecord> = all
            .iter()
            .filter(|r| r.seq > i64::try_from(before).expect("small"))
            .collect();
        let claims: BTreeSet<String> = new
            .iter()
            .filter(|r| r.action == "job.claim")
            .filter_map(|r| r.target_id.clone())
            .collect();
        let expected: BTreeSet<String> = [&w[0], &w[1], &d[0], &o[0], &o[1]]
            .iter()
            .map(|j| j.id.clone())
            .collect();
        assert_eq!(claims, expected, "[{n}]");
        let ends: Vec<(Option<String>, Option<String>)> = new
            .iter()
            .filter(|r| r.action == "job.complete")
            .map(|r| (r.target_id.clone(), r.org_id.clone()))
            .collect();
        assert_eq!(ends.len(), 2, "[{n}] {ends:?}");
        assert!(
            ends.iter()
                .all(|(_, org)| org.as_deref() == Some(acme.id.as_str())),
            "[{n}] {ends:?}"
        );
        assert!(verify_chain(&all).intact, "[{n}] the chain is intact");
    }
}

/// The nodes with queued work, each once, and only those: a node whose jobs are all
/// claimed, finished or waiting for approval is not named; the limit is kept.
#[tokio::test]
async fn nodes_with_queued_jobs_names_each_node_with_queued_work_once() {
    for b in backends().await {
        let s = &*b.store;
        let n = b.name;
        let (acme, globex) = fleet(s).await;
        let busy = node(1, "busy", Some(&acme.id));
        let theirs = node(2, "theirs", Some(&globex.id));
        let done = node(3, "done", Some(&acme.id));
        let waiting = node(4, "waiting", Some(&acme.id));
        for x in [&busy, &theirs, &done, &waiting] {
            s.insert_node(x, draft("node.create", x.org_id.as_deref())).await.expect("node");
        }
        let jobs = [
            job(1, &busy, JobKind::HealthCheck, JobState::Queued, 1),
            job(2, &busy, JobKind::HealthCheck, JobState::Queued, 2),
            job(3, &theirs, JobKind::HealthCheck, JobState::Queued, 3),
            job(4, &done, JobKind::HealthCheck, JobState::Succeeded, 4),
            job(5, &done, JobKind::HealthCheck, JobState::Claimed, 5),
            job(6, &waiting, JobKind::HealthCheck, JobState::AwaitingApproval, 6),
        ];
        for j in &jobs {
            s.insert_job(j, draft("job.request", j.org_id.as_deref())).await.expect("job");
        }
        let mut named = s.nodes_with_queued_jobs(100).await.expect("read");
        named.sort();
        let mut expected = vec![busy.id.clone(), theirs.id.clone()];
        expected.sort();
        assert_eq!(named, expected, "[{n}]");
        assert_eq!(s.nodes_with_queued_jobs(1).await.expect("read").len(), 1, "[{n}] the limit is kept");
        // Claimed, the busy node's first job leaves its second still queued.
        s.claim_job(&busy.id, t(10), draft("job.claim", Some(&acme.id))).await.expect("claim");
        assert!(s.nodes_with_queued_jobs(100).await.expect("read").contains(&busy.id), "[{n}]");
        s.claim_job(&busy.id, t(11), draft("job.claim", Some(&acme.id))).await.expect("claim");
        assert_eq!(s.nodes_with_queued_jobs(100).await.expect("read"), vec![theirs.id.clone()], "[{n}]");
    }
}
