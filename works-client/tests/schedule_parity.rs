//! Schedules through the remote client against a real server give what the embedded
//! core gives: the same records and the same errors, for the same signed-in user.

use works_client::RemoteClient;
use works_core::{
    Api, Error, NewConnection, NewPermission, NewSchedule, NewWorkflow, Provider, RiskLevel, RunMode, Role, ScheduleQuery, ScheduleTarget,
    ScheduleUpdate, Session, WorkflowStep,
};
use works_testkit::TestServer;

const MISSING: &str = "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff";

#[tokio::test]
async fn schedules_are_the_same_remote_and_embedded() {
    let server = TestServer::start_sqlite().await;
    let acme = server.create_org("Acme").await;
    let other = server.create_org("Other").await;
    let alice = server.create_user("alice", Role::OrgAdmin, Some(&acme.id)).await;
    let carol = server.create_user("carol", Role::OrgAdmin, Some(&other.id)).await;
    let remote = RemoteClient::new(&server.url, &alice.token).unwrap();
    let local = Session::new(server.works.clone(), server.works.authenticate(&alice.token).await.unwrap());
    let carol_remote = RemoteClient::new(&server.url, &carol.token).unwrap();
    let carol_local = Session::new(server.works.clone(), server.works.authenticate(&carol.token).await.unwrap());

    server
        .works
        .permission_create(&server.admin, NewPermission { org_id: acme.id.clone(), capability_id: "google_drive".into(), allowed_actions: None, max_risk: Some(RiskLevel::Low), require_confirmation: None, approvers_required: None })
        .await
        .unwrap();
    let conn = local.connection_create(NewConnection { instances: vec![], org_id: None, name: "Drive".into(), provider: Provider::GoogleDrive, capabilities: vec!["google_drive".into()], credential: None, status: None }).await.unwrap();
    let step = WorkflowStep { capability_id: "google_drive".into(), action: "list_files".into(), connection_id: Some(conn.id), parameters: serde_json::json!({}) };
    let wf = local.workflow_create(NewWorkflow { org_id: None, name: "Files".into(), description: None, steps: vec![step] }).await.unwrap();
    let input = |name: &str, cron: &str| NewSchedule {
        org_id: None,
        name: name.into(),
        target: ScheduleTarget::Workflow { workflow_id: wf.id.clone(), mode: RunMode::Simulation },
        cron: cron.into(),
        time_zone: "Europe/Berlin".into(),
        enabled: None,
    };

    // The same refusal, both ways.
    let (r, l) = (remote.schedule_create(input("Bad", "0 9 * *")).await.unwrap_err(), local.schedule_create(input("Bad", "0 9 * *")).await.unwrap_err());
    assert_eq!(r, l);
    assert_eq!(r.field(), Some("cron"));

    let a = remote.schedule_create(input("Remote", "0 9 * * 1-5")).await.unwrap();
    let b = local.schedule_create(input("Local", "0 9 * * 1-5")).await.unwrap();
    assert_eq!((a.next_fire_at, a.target.clone(), a.time_zone.clone()), (b.next_fire_at, b.target.clone(), b.time_zone.clone()));
    assert_eq!(remote.schedule_get(&b.id).await.unwrap(), local.schedule_get(&b.id).await.unwrap());
    assert_eq!(remote.schedule_list(ScheduleQuery::default()).await.unwrap().items, local.schedule_list(ScheduleQuery::default()).await.unwrap().items);

    // Another organization's schedule is missing, both ways and identically.
    let r = carol_remote.schedule_get(&a.id).await.unwrap_err();
    let l = carol_local.schedule_get(&a.id).await.unwrap_err();
    assert!(matches!(r, Error::NotFound { .. }) && r == l, "{r:?} / {l:?}");
    assert!(carol_remote.schedule_list(ScheduleQuery::default()).await.unwrap().items.is_empty());
    assert_eq!(remote.schedule_get(MISSING).await.unwrap_err(), local.schedule_get(MISSING).await.unwrap_err());

    let off = remote.schedule_update(&a.id, ScheduleUpdate { enabled: Some(false), ..Default::default() }).await.unwrap();
    assert_eq!((off.enabled, off.next_fire_at), (false, None));
    assert_eq!(local.schedule_get(&a.id).await.unwrap(), off);
    assert_eq!(remote.schedule_delete(&a.id).await.unwrap().id, a.id);
    assert_eq!(local.schedule_delete(&b.id).await.unwrap().id, b.id);
    assert!(matches!(remote.schedule_get(&b.id).await.unwrap_err(), Error::NotFound { .. }));
}
