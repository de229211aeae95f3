//! Schedules: a due schedule fires once (also with two servers ticking at once), as
//! its creator and with their rights at fire time; a scheduled run that needs approval
//! waits for a person; disabled schedules never fire; missed fires fire once; the cron
//! expression is read in the schedule's time zone across clock changes; bad input names
//! its field; other tenants are answered as if the schedule did not exist; every change
//! is audited. Runs on SQLite and PostgreSQL.

use chrono::{Duration, TimeZone, Utc};
use works_core::{
    AuditQuery, Clock, Error, JobKind, JobQuery, JobState, ConnectionStatus, NewConnection, NewNode, NewPermission, NewSchedule, NewWorkflow, Node, Outcome,
    PermissionUpdate, Provider, RiskLevel, RunMode, RunQuery, RunState, Schedule, ScheduleQuery, ScheduleTarget, ScheduleUpdate, Workflow,
    WorkflowStep, Works,
};
use works_guarantees::{backends, Person, World};

/// A workflow of organization A owned by `who`: one Drive listing (demo data, no token).
async fn workflow(w: &World, who: &Person, confirm: bool) -> Workflow {
    let perm = w
        .works
        .permission_create(&w.msp_admin.actor, NewPermission { org_id: w.org_a.id.clone(), capability_id: "google_drive".into(), allowed_actions: Some(vec!["list_files".into()]), max_risk: Some(RiskLevel::Low), require_confirmation: None, approvers_required: None })
        .await;
    match perm {
        Ok(perm) if confirm => {
            w.works.permission_update(&w.a_admin.actor, &perm.id, PermissionUpdate { require_confirmation: Some(true), ..Default::default() }).await.unwrap();
        }
        Ok(_) => {}
        // A second workflow of the same world: the permission is there already.
        Err(e) => assert!(!confirm && matches!(e, Error::Conflict { .. }), "{e:?}"),
    }
    let conn = w
        .works
        .connection_create(&who.actor, NewConnection { instances: vec![], org_id: None, name: "Acme Drive".into(), provider: Provider::GoogleDrive, capabilities: vec!["google_drive".into()], credential: None, status: Some(ConnectionStatus::Connected) })
        .await
        .unwrap();
    let step = WorkflowStep { capability_id: "google_drive".into(), action: "list_files".into(), connection_id: Some(conn.id), parameters: serde_json::json!({"page_size": 10}) };
    w.works.workflow_create(&who.actor, NewWorkflow { org_id: None, name: "Weekly files".into(), description: None, steps: vec![step] }).await.unwrap()
}

fn wf_schedule(wf: &Workflow, cron: &str, tz: &str) -> NewSchedule {
    NewSchedule { org_id: None, name: "Every quarter hour".into(), target: ScheduleTarget::Workflow { workflow_id: wf.id.clone(), mode: RunMode::Simulation }, cron: cron.into(), time_zone: tz.into(), enabled: None }
}

async fn node(w: &World, name: &str) -> Node {
    w.works.node_create(&w.msp_admin.actor, NewNode { name: name.into(), org_id: Some(w.org_a.id.clone()) }).await.unwrap()
}

async fn audit_count(works: &Works, w: &World, action: &str, outcome: Outcome) -> usize {
    let page = works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some(action.into()), ..Default::default() }).await.unwrap();
    page.records.iter().filter(|r| r.action == action && r.outcome == outcome).count()
}

async fn runs(w: &World, wf: &Workflow) -> usize {
    w.works.run_list(&w.msp_admin.actor, &wf.id, RunQuery::default()).await.unwrap().items.len()
}

async fn reread(w: &World, s: &Schedule) -> Schedule {
    w.works.schedule_get(&w.msp_admin.actor, &s.id).await.unwrap()
}

#[tokio::test]
async fn a_due_schedule_fires_once_as_its_creator_and_moves_on() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let wf = workflow(&w, &w.a_user, false).await;
        let s = w.works.schedule_create(&w.a_user.actor, wf_schedule(&wf, "*/15 * * * *", "UTC")).await.unwrap();
        let start = w.clock.now();
        assert_eq!(s.next_fire_at, Some(start + Duration::minutes(15)), "[{}]", backend.name);
        assert!(s.enabled && s.owner_id == w.a_user.user.id);

        assert!(w.works.run_due_schedules(w.clock.now()).await.unwrap().is_empty(), "[{}] not due yet", backend.name);
        w.clock.advance(Duration::minutes(15));
        let fires = w.works.run_due_schedules(w.clock.now()).await.unwrap();
        assert_eq!(fires.len(), 1, "[{}]", backend.name);
        assert!(fires[0].started && fires[0].missed == 0, "[{}] {:?}", backend.name, fires[0]);
        assert!(w.works.run_due_schedules(w.clock.now()).await.unwrap().is_empty(), "[{}] a fire happens once", backend.name);

        let list = w.works.run_list(&w.a_user.actor, &wf.id, RunQuery::default()).await.unwrap().items;
        assert_eq!(list.len(), 1, "[{}]", backend.name);
        let run = &list[0];
        assert_eq!(Some(run.id.clone()), fires[0].run_id);
        assert_eq!((run.state, run.mode), (RunState::Succeeded, RunMode::Simulation), "[{}] {}", backend.name, run.reason);
        assert_eq!(run.started_by_id, w.a_user.user.id, "[{}] the run is the creator's", backend.name);
        assert!(run.started_by.contains("schedule Every quarter hour"), "{}", run.started_by);

        let after = reread(&w, &s).await;
        assert_eq!(after.next_fire_at, Some(start + Duration::minutes(30)), "[{}]", backend.name);
        assert_eq!(after.last_fire_at, Some(w.clock.now()));
        assert!(after.last_outcome.as_deref().unwrap_or_default().contains(&run.id), "{:?}", after.last_outcome);
        assert_eq!(audit_count(&w.works, &w, "schedule.fire", Outcome::Succeeded).await, 1, "[{}]", backend.name);
        assert_eq!(audit_count(&w.works, &w, "run.start", Outcome::Succeeded).await, 1, "[{}]", backend.name);
    }
}

#[tokio::test]
async fn two_servers_ticking_at_once_start_one_run() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let wf = workflow(&w, &w.a_user, false).await;
        w.works.schedule_create(&w.a_user.actor, wf_schedule(&wf, "*/15 * * * *", "UTC")).await.unwrap();
        let other = Works::new(backend.store.clone()).with_clock(w.clock.clone());
        w.clock.advance(Duration::minutes(15));
        let now = w.clock.now();
        let (a, b) = tokio::join!(w.works.run_due_schedules(now), other.run_due_schedules(now));
        assert_eq!(a.unwrap().len() + b.unwrap().len(), 1, "[{}] exactly one server fires", backend.name);
        assert_eq!(runs(&w, &wf).await, 1, "[{}]", backend.name);
        assert_eq!(audit_count(&w.works, &w, "schedule.fire", Outcome::Succeeded).await, 1, "[{}]", backend.name);
    }
}

#[tokio::test]
async fn a_scheduled_run_that_reaches_an_approval_waits_for_a_person() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let wf = workflow(&w, &w.a_user, true).await;
        w.works.schedule_create(&w.a_user.actor, wf_schedule(&wf, "0 * * * *", "UTC")).await.unwrap();
        w.clock.advance(Duration::hours(1));
        let fires = w.works.run_due_schedules(w.clock.now()).await.unwrap();
        let run_id = fires[0].run_id.clone().unwrap();
        // Later ticks fire again (a new run each hour) but never approve the waiting one.
        for _ in 0..2 {
            w.clock.advance(Duration::hours(1));
            w.works.run_due_schedules(w.clock.now()).await.unwrap();
        }
        let run = w.works.run_get(&w.a_user.actor, &wf.id, &run_id).await.unwrap();
        assert_eq!(run.state, RunState::AwaitingApproval, "[{}] {}", backend.name, run.reason);
        assert!(run.steps[0].approvals.is_empty(), "[{}] nobody approved it", backend.name);
        assert!(run.steps[0].approval_phrase.is_some());
        let all = w.works.run_list(&w.a_user.actor, &wf.id, RunQuery::default()).await.unwrap().items;
        assert_eq!(all.len(), 3, "[{}]", backend.name);
        assert!(all.iter().all(|r| r.state == RunState::AwaitingApproval), "[{}]", backend.name);
        assert_eq!(audit_count(&w.works, &w, "run.approve", Outcome::Succeeded).await, 0, "[{}]", backend.name);
    }
}

#[tokio::test]
async fn a_disabled_schedule_never_fires_and_enabling_does_not_catch_up() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let wf = workflow(&w, &w.a_user, false).await;
        let s = w.works.schedule_create(&w.a_user.actor, NewSchedule { enabled: Some(false), ..wf_schedule(&wf, "*/15 * * * *", "UTC") }).await.unwrap();
        assert_eq!(s.next_fire_at, None);
        w.clock.advance(Duration::hours(2));
        assert!(w.works.run_due_schedules(w.clock.now()).await.unwrap().is_empty(), "[{}]", backend.name);

        let on = w.works.schedule_update(&w.a_user.actor, &s.id, ScheduleUpdate { enabled: Some(true), ..Default::default() }).await.unwrap();
        assert!(on.next_fire_at.unwrap() > w.clock.now(), "[{}] enabling plans from now", backend.name);
        assert!(w.works.run_due_schedules(w.clock.now()).await.unwrap().is_empty(), "[{}]", backend.name);
        w.works.schedule_update(&w.a_user.actor, &s.id, ScheduleUpdate { enabled: Some(false), ..Default::default() }).await.unwrap();
        w.clock.advance(Duration::hours(2));
        assert!(w.works.run_due_schedules(w.clock.now()).await.unwrap().is_empty(), "[{}]", backend.name);
        assert_eq!(runs(&w, &wf).await, 0, "[{}]", backend.name);
    }
}

#[tokio::test]
async fn fires_missed_while_no_server_ran_fire_once_and_say_so() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let wf = workflow(&w, &w.a_user, false).await;
        let s = w.works.schedule_create(&w.a_user.actor, wf_schedule(&wf, "0 * * * *", "UTC")).await.unwrap();
        let start = w.clock.now(); // 09:00
        w.clock.advance(Duration::minutes(5 * 60 + 10)); // 14:10: 10, 11, 12, 13 and 14 o'clock passed
        let fires = w.works.run_due_schedules(w.clock.now()).await.unwrap();
        assert_eq!(fires.len(), 1, "[{}]", backend.name);
        assert_eq!(fires[0].missed, 4, "[{}]", backend.name);
        assert!(fires[0].outcome.contains("4 earlier fire time(s)"), "{}", fires[0].outcome);
        assert_eq!(runs(&w, &wf).await, 1, "[{}]", backend.name);
        let after = reread(&w, &s).await;
        assert_eq!(after.next_fire_at, Some(start + Duration::hours(6)), "[{}]", backend.name);
        assert!(after.last_outcome.unwrap().contains("fired once"), "[{}]", backend.name);
        let page = w.works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some("schedule.fire".into()), ..Default::default() }).await.unwrap();
        assert!(page.records.iter().any(|r| r.reason.contains("4 earlier fire time(s)")), "[{}] the audit says so", backend.name);
    }
}

#[tokio::test]
async fn nine_in_berlin_is_nine_in_berlin_on_both_sides_of_the_clock_change() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let wf = workflow(&w, &w.a_user, false).await;
        let s = w.works.schedule_create(&w.a_user.actor, wf_schedule(&wf, "0 9 * * *", "Europe/Berlin")).await.unwrap();
        // 24 November 2026: winter time, UTC+1.
        assert_eq!(s.next_fire_at, Some(Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap()), "[{}]", backend.name);
        assert_eq!(s.next_fire_local().unwrap(), "2026-11-25 09:00 CET");
        // Summer time starts on 28 March 2027 at 02:00: from then 09:00 is 07:00 UTC.
        let target = Utc.with_ymd_and_hms(2027, 3, 27, 12, 0, 0).unwrap();
        w.clock.advance(target - w.clock.now());
        let fires = w.works.run_due_schedules(w.clock.now()).await.unwrap();
        assert_eq!(fires.len(), 1, "[{}] missed days fire once", backend.name);
        let next = reread(&w, &s).await.next_fire_at.unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2027, 3, 28, 7, 0, 0).unwrap(), "[{}]", backend.name);
        w.clock.advance(next - w.clock.now());
        assert_eq!(w.works.run_due_schedules(w.clock.now()).await.unwrap().len(), 1, "[{}]", backend.name);
        let s = reread(&w, &s).await;
        assert_eq!(s.next_fire_at, Some(Utc.with_ymd_and_hms(2027, 3, 29, 7, 0, 0).unwrap()), "[{}]", backend.name);
        assert_eq!(s.next_fire_local().unwrap(), "2027-03-29 09:00 CEST");
    }
}

#[tokio::test]
async fn bad_input_names_its_field_in_plain_english() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let wf = workflow(&w, &w.a_admin, false).await;
        let n = node(&w, "acme-01").await;
        let job = |kind: JobKind, nodes: Vec<String>| NewSchedule {
            org_id: None,
            name: "Nightly".into(),
            target: ScheduleTarget::Job { job_kind: kind, node_ids: nodes },
            cron: "0 2 * * *".into(),
            time_zone: "UTC".into(),
            enabled: None,
        };
        let cases = vec![
            (wf_schedule(&wf, "every morning", "UTC"), "cron"),
            (wf_schedule(&wf, "0 9 * *", "UTC"), "cron"),
            (wf_schedule(&wf, "0 0 9 * * *", "UTC"), "cron"),
            (wf_schedule(&wf, "0 25 * * *", "UTC"), "cron"),
            (wf_schedule(&wf, "0 0 30 2 *", "UTC"), "cron"),
            (wf_schedule(&wf, "0 9 * * *", "Europe/Atlantis"), "time_zone"),
            (wf_schedule(&wf, "0 9 * * *", ""), "time_zone"),
            (NewSchedule { name: "  ".into(), ..wf_schedule(&wf, "0 9 * * *", "UTC") }, "name"),
            (job(JobKind::HealthCheck, vec![]), "target.node_ids"),
            (job(JobKind::Restart, vec![n.id.clone()]), "target.job_kind"),
            (job(JobKind::Remove, vec![n.id.clone()]), "target.job_kind"),
            (job(JobKind::Deploy, vec![n.id.clone()]), "target.job_kind"),
            (job(JobKind::CliCommand, vec![n.id.clone()]), "target.job_kind"),
        ];
        for (input, field) in cases {
            let e = w.works.schedule_create(&w.a_admin.actor, input.clone()).await.unwrap_err();
            assert_eq!(e.field(), Some(field), "[{}] {input:?}: {e}", backend.name);
            assert!(matches!(e, Error::InvalidInput { .. }));
        }
        let e = w.works.schedule_create(&w.a_admin.actor, job(JobKind::Restart, vec![n.id.clone()])).await.unwrap_err();
        assert!(e.to_string().contains("cannot be scheduled"), "{e}");
        let s = w.works.schedule_create(&w.a_admin.actor, wf_schedule(&wf, "0 9 * * *", "UTC")).await.unwrap();
        let e = w.works.schedule_update(&w.a_admin.actor, &s.id, ScheduleUpdate { time_zone: Some("Moon/Base".into()), ..Default::default() }).await.unwrap_err();
        assert_eq!(e.field(), Some("time_zone"));
        assert_eq!(reread(&w, &s).await.time_zone, "UTC", "[{}] nothing changed", backend.name);
        assert!(audit_count(&w.works, &w, "schedule.create", Outcome::Rejected).await >= 13, "[{}]", backend.name);
    }
}

#[tokio::test]
async fn safe_node_work_fires_on_every_node_and_an_org_user_cannot_schedule_it() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let (n1, n2) = (node(&w, "acme-01").await, node(&w, "acme-02").await);
        let input = NewSchedule {
            org_id: None,
            name: "Health every hour".into(),
            target: ScheduleTarget::Job { job_kind: JobKind::HealthCheck, node_ids: vec![n1.id.clone(), n2.id.clone()] },
            cron: "0 * * * *".into(),
            time_zone: "America/New_York".into(),
            enabled: None,
        };
        assert!(matches!(w.works.schedule_create(&w.a_user.actor, input.clone()).await.unwrap_err(), Error::NotFound { .. } | Error::Forbidden { .. }), "[{}]", backend.name);
        w.works.schedule_create(&w.a_admin.actor, input).await.unwrap();
        w.clock.advance(Duration::hours(1));
        let fires = w.works.run_due_schedules(w.clock.now()).await.unwrap();
        assert_eq!(fires[0].job_ids.len(), 2, "[{}] {:?}", backend.name, fires[0]);
        let jobs = w.works.job_list(&w.a_admin.actor, JobQuery::default()).await.unwrap().items;
        assert_eq!(jobs.len(), 2, "[{}]", backend.name);
        assert!(jobs.iter().all(|j| j.kind == JobKind::HealthCheck && j.state == JobState::Queued), "[{}]", backend.name);
    }
}

#[tokio::test]
async fn a_fire_for_a_disabled_creator_is_refused_and_recorded() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let wf = workflow(&w, &w.a_user, false).await;
        let s = w.works.schedule_create(&w.a_user.actor, wf_schedule(&wf, "*/15 * * * *", "UTC")).await.unwrap();
        w.works.user_disable(&w.a_admin.actor, &w.a_user.user.id).await.unwrap();
        w.clock.advance(Duration::minutes(15));
        let fires = w.works.run_due_schedules(w.clock.now()).await.unwrap();
        assert_eq!(fires.len(), 1, "[{}]", backend.name);
        assert!(!fires[0].started && fires[0].outcome.contains("disabled"), "[{}] {:?}", backend.name, fires[0]);
        assert_eq!(runs(&w, &wf).await, 0, "[{}]", backend.name);
        assert_eq!(audit_count(&w.works, &w, "schedule.fire_refused", Outcome::Rejected).await, 1, "[{}]", backend.name);
        assert!(reread(&w, &s).await.last_outcome.unwrap().contains("disabled"));

        // A creator who can no longer see the workflow (it was deleted): refused and recorded too.
        let wf2 = workflow(&w, &w.a_user2, false).await;
        let s2 = w.works.schedule_create(&w.a_user2.actor, wf_schedule(&wf2, "*/15 * * * *", "UTC")).await.unwrap();
        w.works.workflow_delete(&w.a_admin.actor, &wf2.id).await.unwrap();
        w.clock.advance(Duration::minutes(15));
        let fires = w.works.run_due_schedules(w.clock.now()).await.unwrap();
        let f = fires.iter().find(|f| f.schedule_id == s2.id).unwrap();
        assert!(!f.started && f.outcome.contains("can no longer see workflow"), "[{}] {f:?}", backend.name);
        assert_eq!(audit_count(&w.works, &w, "schedule.fire_refused", Outcome::Rejected).await, 3, "[{}] both schedules' refusals", backend.name);
    }
}

#[tokio::test]
async fn other_tenants_cannot_see_or_change_a_schedule_and_every_change_is_audited() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let wf = workflow(&w, &w.a_user, false).await;
        let s = w.works.schedule_create(&w.a_user.actor, wf_schedule(&wf, "0 9 * * *", "Europe/Berlin")).await.unwrap();

        let visible = |p: &Person| {
            let works = w.works.clone();
            let actor = p.actor.clone();
            async move { works.schedule_list(&actor, ScheduleQuery::default()).await.unwrap().items.len() }
        };
        assert_eq!(visible(&w.a_user).await, 1);
        assert_eq!(visible(&w.a_admin).await, 1, "an org admin sees the organization's");
        assert_eq!(visible(&w.msp_operator).await, 1, "MSP roles see all");
        assert_eq!(visible(&w.a_user2).await, 0, "an org user sees only their own");
        assert_eq!(visible(&w.b_admin).await, 0);
        assert_eq!(visible(&w.b_user).await, 0);

        for outsider in [&w.b_admin, &w.b_user, &w.a_user2] {
            let e = w.works.schedule_get(&outsider.actor, &s.id).await.unwrap_err();
            assert!(matches!(e, Error::NotFound { .. }), "[{}] {e:?}", backend.name);
            let e = w.works.schedule_update(&outsider.actor, &s.id, ScheduleUpdate { enabled: Some(false), ..Default::default() }).await.unwrap_err();
            assert!(matches!(e, Error::NotFound { .. }), "[{}] {e:?}", backend.name);
            let e = w.works.schedule_delete(&outsider.actor, &s.id).await.unwrap_err();
            assert!(matches!(e, Error::NotFound { .. }), "[{}] {e:?}", backend.name);
        }
        // Answered like a schedule that does not exist.
        let missing = w.works.schedule_get(&w.b_admin.actor, "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff").await.unwrap_err();
        let theirs = w.works.schedule_get(&w.b_admin.actor, &s.id).await.unwrap_err();
        assert_eq!(missing.to_string().replace("0192f0a3-7c1b-7d2e-9f00-aabbccddeeff", "X"), theirs.to_string().replace(&s.id, "X"));
        // B's admin cannot schedule A's workflow, nor put a schedule in A.
        let e = w.works.schedule_create(&w.b_admin.actor, wf_schedule(&wf, "0 9 * * *", "UTC")).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "[{}] {e:?}", backend.name);
        let e = w.works.schedule_create(&w.b_admin.actor, NewSchedule { org_id: Some(w.org_a.id.clone()), ..wf_schedule(&wf, "0 9 * * *", "UTC") }).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "[{}] {e:?}", backend.name);
        assert!(reread(&w, &s).await.enabled, "[{}] unchanged", backend.name);
        assert!(audit_count(&w.works, &w, "schedule.update", Outcome::Denied).await >= 3, "[{}]", backend.name);
        assert!(audit_count(&w.works, &w, "schedule.delete", Outcome::Denied).await >= 3, "[{}]", backend.name);

        // The org admin manages the organization's schedules.
        w.works.schedule_update(&w.a_admin.actor, &s.id, ScheduleUpdate { cron: Some("30 8 * * 1-5".into()), name: Some("Weekday mornings".into()), ..Default::default() }).await.unwrap();
        let deleted = w.works.schedule_delete(&w.a_admin.actor, &s.id).await.unwrap();
        assert_eq!(deleted.name, "Weekday mornings");
        assert!(matches!(w.works.schedule_get(&w.a_user.actor, &s.id).await.unwrap_err(), Error::NotFound { .. }));
        for action in ["schedule.create", "schedule.update", "schedule.delete"] {
            let page = w.works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some(action.into()), target_id: Some(s.id.clone()), ..Default::default() }).await.unwrap();
            let ok: Vec<_> = page.records.iter().filter(|r| r.outcome == Outcome::Succeeded).collect();
            assert_eq!(ok.len(), 1, "[{}] {action}", backend.name);
            assert_eq!(ok[0].org_id.as_deref(), Some(w.org_a.id.as_str()), "[{}] {action}", backend.name);
        }
    }
}
