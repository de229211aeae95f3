//! The remote client against a real server gives what the embedded core gives: the same
//! results and the same errors, for the same signed-in user.

use works_client::RemoteClient;
use works_core::{
    Api, AuditQuery, Error, NewOrg, NewToken, NewUser, OrgQuery, Outcome, RenameOrg, ResetPassword, Role, Session,
    TokenQuery, UserQuery, UserUpdate,
};
use works_testkit::{TestServer, ADMIN_PASSWORD, USER_PASSWORD};

const MISSING: &str = "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff";

/// A remote client and an embedded session for the holder of `token`.
async fn pair(server: &TestServer, token: &str) -> (RemoteClient, Session) {
    let remote = RemoteClient::new(&server.url, token).unwrap();
    let actor = server.works.authenticate(token).await.unwrap();
    (remote, Session::new(server.works.clone(), actor))
}

#[tokio::test]
async fn reads_and_refusals_are_the_same_remote_and_embedded() {
    let server = TestServer::start_sqlite().await;
    let acme = server.create_org("Acme").await;
    let other = server.create_org("Other").await;
    let alice = server.create_user("alice", Role::OrgAdmin, Some(&acme.id)).await;
    let bob = server.create_user("bob", Role::OrgUser, Some(&acme.id)).await;
    let carol = server.create_user("carol", Role::OrgUser, Some(&other.id)).await;

    for token in [&server.admin_token, &alice.token, &bob.token] {
        let (remote, local) = pair(&server, token).await;
        let who = local.whoami().await.unwrap().username;
        let ctx = |what: &str| format!("{what} as {who}");

        assert_eq!(remote.whoami().await, local.whoami().await, "{}", ctx("whoami"));
        for q in [OrgQuery::default(), OrgQuery { include_archived: true, offset: Some(1), limit: Some(1) }] {
            assert_eq!(remote.org_list(q.clone()).await, local.org_list(q).await, "{}", ctx("org_list"));
        }
        for id in [acme.id.as_str(), other.id.as_str(), MISSING, "not an id", "a/b", "", ".."] {
            assert_eq!(remote.org_get(id).await, local.org_get(id).await, "{} {id:?}", ctx("org_get"));
        }
        for q in [
            UserQuery::default(),
            UserQuery { org_id: Some(acme.id.clone()), include_disabled: true, offset: None, limit: Some(2) },
            UserQuery { org_id: Some("bad id!".into()), ..Default::default() },
            UserQuery { limit: Some(0), ..Default::default() },
        ] {
            assert_eq!(remote.user_list(q.clone()).await, local.user_list(q).await, "{}", ctx("user_list"));
        }
        for id in [alice.user.id.as_str(), carol.user.id.as_str(), MISSING] {
            assert_eq!(remote.user_get(id).await, local.user_get(id).await, "{} {id}", ctx("user_get"));
        }
        for q in [TokenQuery::default(), TokenQuery { user_id: Some(carol.user.id.clone()), ..Default::default() }] {
            assert_eq!(remote.token_list(q.clone()).await, local.token_list(q).await, "{}", ctx("token_list"));
        }
        // Refused changes: the same error, and nothing changes.
        assert_eq!(
            remote.org_create(NewOrg { name: "  ".into() }).await,
            local.org_create(NewOrg { name: "  ".into() }).await,
            "{}",
            ctx("org_create blank")
        );
        assert_eq!(
            remote.org_rename(&other.id, RenameOrg { name: "Mine".into() }).await.map(|o| o.name),
            local.org_rename(&other.id, RenameOrg { name: "Mine".into() }).await.map(|o| o.name),
            "{}",
            ctx("org_rename another tenant")
        );
        let weak = || NewUser {
            username: "dave".into(),
            display_name: None,
            role: Role::OrgUser,
            org_id: Some(acme.id.clone()),
            password: "short".into(),
        };
        assert_eq!(remote.user_create(weak()).await, local.user_create(weak()).await, "{}", ctx("user_create weak"));
        assert_eq!(remote.user_disable(MISSING).await, local.user_disable(MISSING).await, "{}", ctx("user_disable"));
        assert_eq!(remote.token_revoke(MISSING).await, local.token_revoke(MISSING).await, "{}", ctx("token_revoke"));
        assert_eq!(remote.audit_verify().await, local.audit_verify().await, "{}", ctx("audit_verify"));

        // Nothing was recorded between these two reads, so they see the same page.
        let q = AuditQuery { limit: Some(7), ..Default::default() };
        assert_eq!(remote.audit_query(q.clone()).await, local.audit_query(q).await, "{}", ctx("audit_query"));
    }

    // Every audit filter crosses the wire intact.
    let (remote, local) = pair(&server, &server.admin_token).await;
    let newest = local.audit_query(AuditQuery::default()).await.unwrap().records;
    let middle = &newest[newest.len() / 2];
    let queries = [
        AuditQuery { outcome: Some(Outcome::Denied), ..Default::default() },
        AuditQuery { outcome: Some(Outcome::Rejected), action: Some("org.".into()), ..Default::default() },
        AuditQuery { actor_id: Some(alice.user.id.clone()), ..Default::default() },
        AuditQuery { org_id: Some(acme.id.clone()), limit: Some(3), ..Default::default() },
        AuditQuery { target_id: Some(other.id.clone()), ..Default::default() },
        AuditQuery { since: Some(middle.at), until: Some(middle.at + chrono::Duration::milliseconds(1)), ..Default::default() },
        AuditQuery { before_seq: Some(middle.seq), limit: Some(2), ..Default::default() },
        AuditQuery { limit: Some(501), ..Default::default() },
    ];
    for q in queries {
        let r = remote.audit_query(q.clone()).await;
        assert_eq!(r, local.audit_query(q.clone()).await, "{q:?}");
        if q.limit != Some(501) {
            assert!(!r.unwrap().records.is_empty(), "{q:?} should find records");
        }
    }
}

#[tokio::test]
async fn changes_made_remotely_are_what_the_core_stored() {
    let server = TestServer::start_sqlite().await;
    let (remote, local) = pair(&server, &server.admin_token).await;

    let org = remote.org_create(NewOrg { name: "Northwind".into() }).await.unwrap();
    let stored = local.org_get(&org.id).await.unwrap();
    assert_eq!((stored.id.as_str(), stored.name.as_str()), (org.id.as_str(), "Northwind"));
    let renamed = remote.org_rename(&org.id, RenameOrg { name: "Northwind Ltd".into() }).await.unwrap();
    assert_eq!(local.org_get(&org.id).await.unwrap().name, renamed.name);

    let user = remote
        .user_create(NewUser {
            username: "erin".into(),
            display_name: Some("Erin".into()),
            role: Role::OrgAdmin,
            org_id: Some(org.id.clone()),
            password: USER_PASSWORD.into(),
        })
        .await
        .unwrap();
    assert_eq!(local.user_get(&user.id).await.unwrap().username, "erin");
    let updated = remote
        .user_update(&user.id, UserUpdate { role: Some(Role::OrgUser), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(local.user_get(&user.id).await.unwrap().role, updated.role);
    assert!(remote.user_disable(&user.id).await.unwrap().disabled);
    assert!(local.user_get(&user.id).await.unwrap().disabled);
    assert!(!remote.user_enable(&user.id).await.unwrap().disabled);

    // A generated password is returned once and signs in.
    let reset = remote.user_reset_password(&user.id, ResetPassword::default()).await.unwrap();
    let generated = reset.generated_password.expect("a generated password");
    let (erin, outcome) = RemoteClient::login(&server.url, "erin", &generated).await.unwrap();
    assert_eq!(outcome.user.id, user.id);
    assert_eq!(erin.whoami().await.unwrap().username, "erin");

    // An API token works as a bearer until it is revoked.
    let created = erin.token_create(NewToken { name: "script".into(), expires_in_days: Some(1) }).await.unwrap();
    let script = RemoteClient::new(&server.url, created.token.clone()).unwrap();
    assert_eq!(script.whoami().await.unwrap().username, "erin");
    let listed = erin.token_list(TokenQuery::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, created.info.id);
    assert!(remote.token_revoke(&created.info.id).await.unwrap().revoked_at.is_some());
    assert!(matches!(script.whoami().await, Err(Error::Unauthenticated { .. })));

    // Signing out ends the session.
    erin.logout().await.unwrap();
    assert!(matches!(erin.whoami().await, Err(Error::Unauthenticated { .. })));

    let archived = remote.org_archive(&org.id).await.unwrap();
    assert!(archived.archived_at.is_some());
    assert_eq!(remote.org_archive(&org.id).await, local.org_archive(&org.id).await);
    assert!(remote.audit_verify().await.unwrap().intact);
}

#[tokio::test]
async fn sign_in_errors_come_back_as_core_errors() {
    let server = TestServer::start_sqlite().await;
    match RemoteClient::login(&server.url, "admin", "not the password").await {
        Err(Error::Unauthenticated { message }) => assert_eq!(message, "The username or password is not correct."),
        other => panic!("{other:?}"),
    }
    match RemoteClient::login(&server.url, "", "x").await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "username"),
        other => panic!("{other:?}"),
    }
    let (client, outcome) = RemoteClient::login(&server.url, "admin", ADMIN_PASSWORD).await.unwrap();
    assert_eq!(outcome.user.role, Role::MspAdmin);
    assert!(!format!("{client:?}").contains(&outcome.token));

    let nobody = RemoteClient::new(&server.url, "wks_not_a_real_session").unwrap();
    assert!(matches!(nobody.whoami().await, Err(Error::Unauthenticated { .. })));

    let version = client.server_version().await.unwrap();
    assert_eq!(version.version, env!("CARGO_PKG_VERSION"));
    assert!(!version.commit.is_empty());
}

#[tokio::test]
async fn an_answer_that_is_not_the_api_is_an_internal_error_naming_the_status() {
    // A plain HTTP server that answers every request with a non-JSON 502.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let body = "<html>bad gateway</html>";
            let answer = format!(
                "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    let client = RemoteClient::new(&format!("http://{addr}"), "t").unwrap();
    match client.org_list(OrgQuery::default()).await {
        Err(Error::Internal { message }) => assert!(message.contains("HTTP 502"), "{message}"),
        other => panic!("{other:?}"),
    }
}
