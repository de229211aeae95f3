//! Sign-in, sessions, tokens and the first admin: access ends when it should, at once.

use chrono::Duration;
use works_core::{
    AuditQuery, Bootstrap, Error, LoginInput, NewOrg, NewToken, Outcome, ResetPassword, Role, SessionKind, UserUpdate,
    Works,
};
use works_guarantees::{backends, sign_in, World, ADMIN_PASSWORD, USER_PASSWORD};

fn login(u: &str, p: &str) -> LoginInput {
    LoginInput { username: u.into(), password: p.into() }
}

#[tokio::test]
async fn the_first_admin_is_created_once_and_the_bootstrap_path_is_then_dead() {
    for backend in backends().await {
        let works = Works::new(backend.store.clone());
        let first = works.bootstrap(None).await.unwrap();
        let Bootstrap::CreatedWithGeneratedPassword(generated) = first else { panic!("[{}] {first:?}", backend.name) };
        assert!(generated.len() >= 16);
        works.login(login("admin", &generated), SessionKind::Api).await.unwrap();
        // A second start, even with a password given, changes nothing.
        assert_eq!(works.bootstrap(Some("another-password".into())).await.unwrap(), Bootstrap::AlreadyDone);
        assert!(matches!(works.login(login("admin", "another-password"), SessionKind::Api).await, Err(Error::Unauthenticated { .. })));
        works.login(login("admin", &generated), SessionKind::Api).await.unwrap();
    }
}

#[tokio::test]
async fn a_weak_first_password_is_refused_with_the_variable_named() {
    for backend in backends().await {
        let works = Works::new(backend.store.clone());
        let err = works.bootstrap(Some("short".into())).await.unwrap_err();
        assert_eq!(err.field(), Some("WORKS_ADMIN_PASSWORD"), "[{}]", backend.name);
    }
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_and_tokens_at_once() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let second = w.works.login(login("a-user", USER_PASSWORD), SessionKind::Browser).await.unwrap();
        let secret = w.works.token_create(&w.a_user.actor, NewToken { name: "cron".into(), expires_in_days: Some(30) }).await.unwrap().token;
        w.works.authenticate(&secret).await.unwrap();
        w.works.user_disable(&w.a_admin.actor, &w.a_user.user.id).await.unwrap();
        for s in [&second.token, &secret] {
            assert!(matches!(w.works.authenticate(s).await, Err(Error::Unauthenticated { .. })), "[{}] still valid", backend.name);
        }
        let again = w.works.login(login("a-user", USER_PASSWORD), SessionKind::Api).await;
        assert!(matches!(again, Err(Error::Unauthenticated { ref message }) if message.contains("disabled")), "{again:?}");
        // Enabling lets them sign in again, but old credentials stay dead.
        w.works.user_enable(&w.a_admin.actor, &w.a_user.user.id).await.unwrap();
        w.works.login(login("a-user", USER_PASSWORD), SessionKind::Api).await.unwrap();
        assert!(w.works.authenticate(&secret).await.is_err());
    }
}

#[tokio::test]
async fn a_role_change_or_password_reset_ends_old_access() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let s = w.works.login(login("a-user2", USER_PASSWORD), SessionKind::Api).await.unwrap();
        w.works.user_update(&w.a_admin.actor, &w.a_user2.user.id, UserUpdate { role: Some(Role::OrgAdmin), ..Default::default() }).await.unwrap();
        assert!(w.works.authenticate(&s.token).await.is_err(), "[{}] old rights survived a role change", backend.name);

        let s = w.works.login(login("b-user", USER_PASSWORD), SessionKind::Api).await.unwrap();
        let reset = w.works.user_reset_password(&w.b_admin.actor, &w.b_user.user.id, ResetPassword { new_password: None }).await.unwrap();
        let new_pw = reset.generated_password.expect("a generated password is shown once");
        assert!(w.works.authenticate(&s.token).await.is_err());
        assert!(w.works.login(login("b-user", USER_PASSWORD), SessionKind::Api).await.is_err());
        w.works.login(login("b-user", &new_pw), SessionKind::Api).await.unwrap();
    }
}

#[tokio::test]
async fn revoked_and_expired_credentials_stop_working() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let created = w.works.token_create(&w.b_admin.actor, NewToken { name: "short".into(), expires_in_days: Some(1) }).await.unwrap();
        assert!(!created.info.prefix.is_empty() && created.token.starts_with(&created.info.prefix));
        w.works.authenticate(&created.token).await.unwrap();
        let revoked = w.works.token_revoke(&w.b_admin.actor, &created.info.id).await.unwrap();
        assert!(revoked.revoked_at.is_some());
        assert!(w.works.authenticate(&created.token).await.is_err(), "[{}] a revoked token still works", backend.name);
        // Revoking twice is a plain conflict, not a crash.
        assert!(matches!(w.works.token_revoke(&w.b_admin.actor, &created.info.id).await, Err(Error::Conflict { .. })));

        let expiring = w.works.token_create(&w.b_admin.actor, NewToken { name: "day".into(), expires_in_days: Some(1) }).await.unwrap();
        let session = w.works.login(login("b-admin", USER_PASSWORD), SessionKind::Browser).await.unwrap();
        w.clock.advance(Duration::hours(13));
        assert!(w.works.authenticate(&session.token).await.is_err(), "[{}] a session outlived its 12 hours", backend.name);
        w.works.authenticate(&expiring.token).await.unwrap();
        w.clock.advance(Duration::hours(12));
        assert!(w.works.authenticate(&expiring.token).await.is_err(), "[{}] a token outlived its expiry", backend.name);

        // Garbage never authenticates.
        for bad in ["", "wks_", "wkt_nope", "Bearer x", "wks_ÅÅÅ"] {
            assert!(matches!(w.works.authenticate(bad).await, Err(Error::Unauthenticated { .. })), "{bad:?}");
        }
    }
}

#[tokio::test]
async fn sign_in_is_throttled_after_repeated_failures_and_recovers() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        for _ in 0..5 {
            let e = w.works.login(login("b-user", "wrong-password!"), SessionKind::Browser).await.unwrap_err();
            assert!(matches!(e, Error::Unauthenticated { .. }));
        }
        // Even the right password is refused while throttled.
        let e = w.works.login(login("b-user", USER_PASSWORD), SessionKind::Browser).await.unwrap_err();
        assert!(matches!(e, Error::RateLimited { .. }), "[{}] {e:?}", backend.name);
        // Another account is not affected.
        w.works.login(login("a-user", USER_PASSWORD), SessionKind::Browser).await.unwrap();
        // Unknown usernames answer exactly like wrong passwords.
        let unknown = w.works.login(login("nobody", "whatever-pass"), SessionKind::Api).await.unwrap_err();
        let wrong = w.works.login(login("a-admin", "whatever-pass"), SessionKind::Api).await.unwrap_err();
        assert_eq!(unknown, wrong);
        w.clock.advance(Duration::minutes(16));
        w.works.login(login("b-user", USER_PASSWORD), SessionKind::Browser).await.unwrap();
        // Every refusal was recorded, under the organization of the account.
        let refused = w
            .works
            .audit_query(&w.b_admin.actor, AuditQuery { action: Some("auth.login".into()), outcome: Some(Outcome::Denied), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(refused.records.len(), 6, "[{}] {:?}", backend.name, refused.records);
    }
}

/// Housekeeping removes expired sessions, failed sign-ins past the throttling window
/// and long-ended enrollment tokens: while they count, they are kept and still work.
#[tokio::test]
async fn housekeeping_removes_only_what_no_longer_counts() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let name = backend.name;
        let expiring = w.works.login(login("a-user", USER_PASSWORD), SessionKind::Browser).await.unwrap();
        for _ in 0..5 {
            w.works.login(login("b-user", "wrong-password!"), SessionKind::Browser).await.unwrap_err();
        }
        let node = w.works.node_create(&w.msp_admin.actor, works_core::NewNode { name: "web-1".into(), org_id: Some(w.org_a.id.clone()) }).await.unwrap();
        let token = w.works.enrollment_token_create(&w.msp_admin.actor, &node.id).await.unwrap();
        let audit_before = w.works.audit_query(&w.msp_admin.actor, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap().records.len();

        // Nothing has ended yet: nothing goes, and the throttle still holds.
        assert_eq!(w.works.housekeeping().await.unwrap().total(), 0, "[{name}]");
        let e = w.works.login(login("b-user", USER_PASSWORD), SessionKind::Browser).await.unwrap_err();
        assert!(matches!(e, Error::RateLimited { .. }), "[{name}] {e:?}");
        w.works.authenticate(&expiring.token).await.unwrap();

        // Past the window and the session's 12 hours: those go; the token, expired for
        // less than 30 days, stays.
        w.clock.advance(Duration::hours(13));
        let pruned = w.works.housekeeping().await.unwrap();
        assert_eq!((pruned.login_failures, pruned.enrollment_tokens), (5, 0), "[{name}] the five failures; the refusal while throttled is not one {pruned:?}");
        assert!(pruned.sessions >= 1, "[{name}] {pruned:?}");
        assert!(w.works.authenticate(&expiring.token).await.is_err(), "[{name}]");
        w.works.login(login("b-user", USER_PASSWORD), SessionKind::Browser).await.unwrap();

        // Thirty days after it expired, the token's row goes too.
        w.clock.advance(Duration::days(31));
        assert_eq!(w.works.housekeeping().await.unwrap().enrollment_tokens, 1, "[{name}]");
        let late = w.works.agent_enroll(works_core::EnrollRequest { token: token.token.clone(), hostname: None, agent_version: None }).await;
        assert!(matches!(late, Err(Error::Unauthenticated { .. })), "[{name}] {late:?}");

        // The recovery monitor's leader does it by itself.
        w.works.login(login("b-user", "wrong-password!"), SessionKind::Browser).await.unwrap_err();
        w.clock.advance(Duration::minutes(16));
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        assert_eq!(backend.store.count_login_failures("b-user", epoch).await.unwrap(), 1, "[{name}]");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let monitor = {
            let works = w.works.clone();
            tokio::spawn(async move {
                works.recovery_monitor("housekeeping-test".into(), std::time::Duration::from_millis(20), async { let _ = stopped.await; }).await
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while backend.store.count_login_failures("b-user", epoch).await.unwrap() > 0 {
            assert!(std::time::Instant::now() < deadline, "[{name}] the monitor did not prune within 10 s");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = stop.send(());
        monitor.await.unwrap();

        // The audit log keeps every sign-in, refusal and token, and gains no record.
        let audit_after = w.works.audit_query(&w.msp_admin.actor, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap().records;
        assert!(audit_after.len() > audit_before, "[{name}] later sign-ins are recorded");
        assert!(audit_after.iter().all(|r| !r.action.starts_with("housekeeping")), "[{name}]");
        assert!(audit_after.iter().any(|r| r.action == "node.enrollment_token" && r.target_id.as_deref() == Some(node.id.as_str())), "[{name}] the token's creation is still in the log");
    }
}

#[tokio::test]
async fn archiving_an_organization_ends_its_users_access() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        assert_eq!(w.works.whoami(&w.b_user.actor).await.unwrap().id, w.b_user.user.id);
        w.works.org_archive(&w.msp_admin.actor, &w.org_b.id).await.unwrap();
        assert!(w.works.login(login("b-user", USER_PASSWORD), SessionKind::Api).await.is_err(), "[{}]", backend.name);
        let listed = w.works.org_list(&w.msp_admin.actor, Default::default()).await.unwrap();
        assert!(listed.items.iter().all(|o| o.id != w.org_b.id), "archived organizations are hidden by default");
        let all = w.works.org_list(&w.msp_admin.actor, works_core::OrgQuery { include_archived: true, ..Default::default() }).await.unwrap();
        assert!(all.items.iter().any(|o| o.id == w.org_b.id), "but never disappear");
    }
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_changes_nothing() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let before = w.works.org_list(admin, Default::default()).await.unwrap().items.len();
        for (name, problem) in [("", "empty"), ("   ", "empty"), (&"x".repeat(101)[..], "at most"), ("two\nlines", "control")] {
            let e = w.works.org_create(admin, NewOrg { name: name.into() }).await.unwrap_err();
            assert_eq!(e.field(), Some("name"), "[{}] {e:?}", backend.name);
            assert!(e.to_string().contains(problem), "{e}");
        }
        assert_eq!(w.works.org_list(admin, Default::default()).await.unwrap().items.len(), before);
        let rejected = w
            .works
            .audit_query(admin, AuditQuery { action: Some("org.create".into()), outcome: Some(Outcome::Rejected), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(rejected.records.len(), 4, "[{}] each refused create is recorded", backend.name);

        let e = w
            .works
            .user_create(admin, works_core::NewUser { username: "x y".into(), display_name: None, role: Role::OrgUser, org_id: Some(w.org_a.id.clone()), password: USER_PASSWORD.into() })
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("username"));
        let e = w
            .works
            .user_create(admin, works_core::NewUser { username: "newbie".into(), display_name: None, role: Role::OrgUser, org_id: None, password: USER_PASSWORD.into() })
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("org_id"));
        let e = w
            .works
            .user_create(admin, works_core::NewUser { username: "newbie".into(), display_name: None, role: Role::OrgUser, org_id: Some(w.org_a.id.clone()), password: "short".into() })
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("password"));
        let dup = w
            .works
            .user_create(admin, works_core::NewUser { username: "a-user".into(), display_name: None, role: Role::OrgUser, org_id: Some(w.org_a.id.clone()), password: USER_PASSWORD.into() })
            .await
            .unwrap_err();
        assert!(matches!(dup, Error::Conflict { .. }), "[{}] {dup:?}", backend.name);
        assert_eq!(dup.field(), Some("username"));
        let users = w.works.user_list(admin, Default::default()).await.unwrap().items;
        assert!(users.iter().all(|u| u.username != "newbie"));
        let e = w.works.org_list(admin, works_core::OrgQuery { limit: Some(0), ..Default::default() }).await.unwrap_err();
        assert_eq!(e.field(), Some("limit"));
    }
}

#[tokio::test]
async fn nobody_locks_themselves_out() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin;
        assert!(matches!(w.works.user_disable(&admin.actor, &admin.user.id).await, Err(Error::Conflict { .. })));
        let demote = w.works.user_update(&admin.actor, &admin.user.id, UserUpdate { role: Some(Role::MspOperator), ..Default::default() }).await;
        assert!(matches!(demote, Err(Error::Conflict { .. })), "[{}] {demote:?}", backend.name);
        let again = sign_in(&w.works, "admin", ADMIN_PASSWORD).await;
        assert_eq!(again.user.role, Role::MspAdmin);
    }
}

#[tokio::test]
async fn organization_names_are_unique_ignoring_case() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let e = w.works.org_create(&w.msp_admin.actor, NewOrg { name: "acme dental".into() }).await.unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "[{}] {e:?}", backend.name);
        assert_eq!(e.field(), Some("name"));
        assert!(e.to_string().contains("already exists"), "{e}");
        // Renaming onto another's name is refused the same way.
        let e = w.works.org_rename(&w.msp_admin.actor, &w.org_b.id, works_core::RenameOrg { name: "ACME DENTAL".into() }).await.unwrap_err();
        assert_eq!(e.field(), Some("name"), "[{}] {e:?}", backend.name);
    }
}
