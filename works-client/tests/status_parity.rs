//! The status summary and the layout, remote and embedded: the same answers and the same
//! refusals for the same signed-in person.

use works_client::RemoteClient;
use works_core::{Api, Error, Layout, Role, Session};
use works_testkit::TestServer;

async fn pair(server: &TestServer, token: &str) -> (RemoteClient, Session) {
    let remote = RemoteClient::new(&server.url, token).unwrap();
    let actor = server.works.authenticate(token).await.unwrap();
    (remote, Session::new(server.works.clone(), actor))
}

#[tokio::test]
async fn status_and_layout_are_the_same_remote_and_embedded() {
    let server = TestServer::start_sqlite().await;
    let acme = server.create_org("Acme").await;
    server.create_org("Other").await;
    let alice = server.create_user("alice", Role::OrgAdmin, Some(&acme.id)).await;

    for token in [&server.admin_token, &alice.token] {
        let (remote, local) = pair(&server, token).await;
        let (mut r, l) = (remote.status_summary().await.unwrap(), local.status_summary().await.unwrap());
        r.generated_at = l.generated_at;
        assert_eq!(r, l);
    }
    let (remote, local) = pair(&server, &alice.token).await;
    assert_eq!(remote.status_summary().await.unwrap().counts.organizations, 1, "alice sees her organization only");

    let layout = Layout { roster_side: "right".into(), collapsed_groups: vec![format!("org:{}", acme.id)], ..Layout::default() };
    let saved = remote.layout_put(layout).await.unwrap();
    assert_eq!(local.layout_get().await.unwrap(), saved);
    assert_eq!(remote.layout_get().await.unwrap(), saved);
    let bad = Layout { activity_height: 1, ..Layout::default() };
    let (r, l) = (remote.layout_put(bad.clone()).await.unwrap_err(), local.layout_put(bad).await.unwrap_err());
    assert!(matches!(&r, Error::InvalidInput { field, .. } if field == "activity_height"), "{r:?}");
    assert_eq!(r, l);
}
