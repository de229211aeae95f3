//! Capabilities, permissions, connections, workflows and their runs: tenancy on every
//! operation, the policy rules before each step, typed approvals with the two-person
//! rule, recovery of interrupted runs, and credentials that never come back.
//! Runs on SQLite and PostgreSQL.

use std::sync::Arc;

use chrono::Duration;
use works_core::Clock;
use works_core::{
    ApproveRun, AttachPack, AuditQuery, Connection, ConnectionStatus, ConnectionUpdate, DataLabel, DriveApi, DriveFile,
    DriveListing, Error, ListFilesParams, NewConnection, NewPermission, NewWorkflow, Outcome, Permission, PermissionQuery,
    PermissionUpdate, Provider, RiskLevel, Rule, RunMode, RunQuery, RunState, StartRun, StepOutcome, Workflow,
    WorkflowQuery, WorkflowRun, WorkflowStep, WorkflowUpdate, Works,
};
use works_guarantees::{backends, Person, World};

const MISSING: &str = "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff";

fn list_files(conn: &str) -> WorkflowStep {
    WorkflowStep { capability_id: "google_drive".into(), action: "list_files".into(), connection_id: Some(conn.into()), parameters: serde_json::json!({"page_size": 10}) }
}

fn summarize() -> WorkflowStep {
    WorkflowStep { capability_id: "summarize".into(), action: "summarize_text".into(), connection_id: None, parameters: serde_json::json!({}) }
}

async fn drive_permission(w: &World, org: &str) -> Permission {
    w.works
        .permission_create(&w.msp_admin.actor, NewPermission { org_id: org.into(), capability_id: "google_drive".into(), allowed_actions: Some(vec!["list_files".into()]), max_risk: Some(RiskLevel::Low), require_confirmation: None, approvers_required: None })
        .await
        .unwrap()
}

async fn drive_connection(w: &World, who: &Person, credential: Option<&str>) -> Connection {
    w.works
        .connection_create(&who.actor, NewConnection { instances: vec![], org_id: None, name: "Acme Drive".into(), provider: Provider::GoogleDrive, capabilities: vec!["google_drive".into()], credential: credential.map(str::to_owned), status: Some(ConnectionStatus::Connected) })
        .await
        .unwrap()
}

async fn workflow(w: &World, who: &Person, steps: Vec<WorkflowStep>) -> Workflow {
    w.works.workflow_create(&who.actor, NewWorkflow { org_id: None, name: "Weekly files".into(), description: None, steps }).await.unwrap()
}

async fn start(w: &World, who: &Person, wf: &Workflow, mode: RunMode) -> WorkflowRun {
    w.works.run_start(&who.actor, &wf.id, StartRun { mode }).await.unwrap()
}

async fn audit_count(works: &Works, w: &World, action: &str, outcome: Outcome) -> usize {
    let page = works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some(action.into()), ..Default::default() }).await.unwrap();
    page.records.iter().filter(|r| r.outcome == outcome).count()
}

fn not_found(e: Error, what: &str) {
    assert!(matches!(e, Error::NotFound { .. }), "{what}: expected not found, got {e:?}");
}

#[tokio::test]
async fn the_catalog_is_data_and_a_pack_enables_its_capabilities_in_one_step() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let caps = w.works.capability_list(&w.b_user.actor).await.unwrap();
        assert!(caps.iter().any(|c| c.id == "google_drive" && c.actions.iter().any(|a| a.name == "delete_file" && a.risk == RiskLevel::Critical)));
        not_found(w.works.capability_get(&w.a_user.actor, "teleport").await.unwrap_err(), "unknown capability");
        let packs = w.works.pack_list(&w.a_user.actor).await.unwrap();
        assert!(packs.iter().any(|p| p.id == "office_essentials"));

        // Cross-tenant and role refusals, recorded.
        not_found(w.works.pack_attach(&w.b_admin.actor, "office_essentials", AttachPack { org_id: w.org_a.id.clone() }).await.unwrap_err(), "other org");
        let e = w.works.pack_attach(&w.a_user.actor, "office_essentials", AttachPack { org_id: w.org_a.id.clone() }).await.unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }), "[{}] {e:?}", backend.name);
        assert_eq!(audit_count(&w.works, &w, "pack.attach", Outcome::Denied).await, 2, "[{}]", backend.name);

        let perms = w.works.pack_attach(&w.a_admin.actor, "office_essentials", AttachPack { org_id: w.org_a.id.clone() }).await.unwrap();
        assert_eq!(perms.len(), 3, "[{}]", backend.name);
        let listed = w.works.permission_list(&w.a_user.actor, PermissionQuery::default()).await.unwrap().items;
        assert_eq!(listed.len(), 3, "[{}] organization people read their permissions", backend.name);
        assert!(listed.iter().all(|p| p.enabled && p.org_id == w.org_a.id && p.max_risk == RiskLevel::Medium));
        assert!(w.works.permission_list(&w.b_admin.actor, PermissionQuery::default()).await.unwrap().items.is_empty(), "[{}]", backend.name);

        // Attaching again re-enables a disabled one and leaves the rest.
        let drive = listed.iter().find(|p| p.capability_id == "google_drive").unwrap();
        w.works.permission_disable(&w.a_admin.actor, &drive.id).await.unwrap();
        let again = w.works.pack_attach(&w.msp_operator.actor, "office_essentials", AttachPack { org_id: w.org_a.id.clone() }).await.unwrap();
        assert!(again.iter().all(|p| p.enabled));
        assert_eq!(again.iter().find(|p| p.capability_id == "google_drive").unwrap().id, drive.id);
        assert_eq!(audit_count(&w.works, &w, "pack.attach", Outcome::Succeeded).await, 2);
    }
}

#[tokio::test]
async fn permissions_are_managed_by_msp_roles_and_the_orgs_admin_and_every_change_is_audited() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let new = |org: &str| NewPermission { org_id: org.into(), capability_id: "quickbooks".into(), allowed_actions: None, max_risk: Some(RiskLevel::High), require_confirmation: Some(true), approvers_required: Some(2) };
        // Refusals: another organization's admin, an organization user, bad input naming the field.
        not_found(w.works.permission_create(&w.b_admin.actor, new(&w.org_a.id)).await.unwrap_err(), "b_admin creating in A");
        assert!(matches!(w.works.permission_create(&w.a_user.actor, new(&w.org_a.id)).await.unwrap_err(), Error::Forbidden { .. }));
        let bad = NewPermission { allowed_actions: Some(vec!["void_invoice".into()]), ..new(&w.org_a.id) };
        assert_eq!(w.works.permission_create(&w.a_admin.actor, bad).await.unwrap_err().field(), Some("allowed_actions"));
        let bad = NewPermission { approvers_required: Some(3), ..new(&w.org_a.id) };
        assert_eq!(w.works.permission_create(&w.a_admin.actor, bad).await.unwrap_err().field(), Some("approvers_required"));
        let bad = NewPermission { capability_id: "teleport".into(), ..new(&w.org_a.id) };
        assert_eq!(w.works.permission_create(&w.a_admin.actor, bad).await.unwrap_err().field(), Some("capability_id"));

        let p = w.works.permission_create(&w.a_admin.actor, new(&w.org_a.id)).await.unwrap();
        assert_eq!(p.allowed_actions, vec!["list_invoices".to_owned(), "create_invoice".to_owned()]);
        assert_eq!(w.works.permission_create(&w.msp_admin.actor, new(&w.org_a.id)).await.unwrap_err().field(), Some("capability_id"), "[{}] one per capability", backend.name);

        // Edit, disable, delete; cross-tenant refused like a missing record.
        let edited = w.works.permission_update(&w.msp_operator.actor, &p.id, PermissionUpdate { max_risk: Some(RiskLevel::Low), allowed_actions: Some(vec!["list_invoices".into()]), ..Default::default() }).await.unwrap();
        assert_eq!(edited.max_risk, RiskLevel::Low);
        for (who, e) in [
            ("b_admin get", w.works.permission_get(&w.b_admin.actor, &p.id).await.unwrap_err()),
            ("b_admin update", w.works.permission_update(&w.b_admin.actor, &p.id, PermissionUpdate::default()).await.unwrap_err()),
            ("b_admin disable", w.works.permission_disable(&w.b_admin.actor, &p.id).await.unwrap_err()),
            ("b_admin delete", w.works.permission_delete(&w.b_admin.actor, &p.id).await.unwrap_err()),
        ] {
            not_found(e, who);
        }
        let foreign = w.works.permission_get(&w.b_admin.actor, &p.id).await.unwrap_err().to_string().replace(&p.id, "X");
        assert_eq!(foreign, w.works.permission_get(&w.b_admin.actor, MISSING).await.unwrap_err().to_string().replace(MISSING, "X"));
        assert!(matches!(w.works.permission_disable(&w.a_user.actor, &p.id).await.unwrap_err(), Error::Forbidden { .. }));
        assert!(!w.works.permission_disable(&w.a_admin.actor, &p.id).await.unwrap().enabled);
        assert!(w.works.permission_enable(&w.a_admin.actor, &p.id).await.unwrap().enabled);
        w.works.permission_delete(&w.a_admin.actor, &p.id).await.unwrap();
        not_found(w.works.permission_get(&w.a_admin.actor, &p.id).await.unwrap_err(), "deleted");

        for action in ["permission.create", "permission.update", "permission.delete"] {
            assert!(audit_count(&w.works, &w, action, Outcome::Succeeded).await >= 1, "[{}] {action}", backend.name);
        }
        assert_eq!(audit_count(&w.works, &w, "permission.update", Outcome::Succeeded).await, 3, "edit, disable, enable");
        assert!(audit_count(&w.works, &w, "permission.update", Outcome::Denied).await >= 3, "[{}] refusals recorded", backend.name);
    }
}

#[tokio::test]
async fn connection_credentials_are_sealed_write_only_and_connections_follow_ownership() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let secret = "ya29.a-drive-token-never-to-be-seen";
        let c = w
            .works
            .connection_create(&w.a_user.actor, NewConnection { instances: vec![], org_id: None, name: "My Drive".into(), provider: Provider::GoogleDrive, capabilities: vec!["google_drive".into()], credential: Some(secret.into()), status: None })
            .await
            .unwrap();
        assert_eq!((c.status, c.has_credential, c.org_id.as_str()), (ConnectionStatus::Connected, true, w.org_a.id.as_str()));
        assert!(!serde_json::to_string(&c).unwrap().contains(secret));
        let stored = backend.store.get_connection(&c.id).await.unwrap().unwrap();
        let sealed = stored.sealed_credential.clone().unwrap();
        assert!(!sealed.contains(secret) && !format!("{stored:?}").contains(secret), "[{}]", backend.name);

        // Linking checks the catalog and the provider, naming the field.
        let bad = NewConnection { instances: vec![], org_id: None, name: "x".into(), provider: Provider::Quickbooks, capabilities: vec!["google_drive".into()], credential: None, status: None };
        assert_eq!(w.works.connection_create(&w.a_admin.actor, bad).await.unwrap_err().field(), Some("capabilities"));
        let placeholder = w
            .works
            .connection_create(&w.a_admin.actor, NewConnection { instances: vec![], org_id: None, name: "Books".into(), provider: Provider::Quickbooks, capabilities: vec![], credential: None, status: None })
            .await
            .unwrap();
        assert_eq!((placeholder.status, placeholder.has_credential), (ConnectionStatus::Placeholder, false));

        // Organization users see their own; the admin the organization's; others none.
        let mine = w.works.connection_list(&w.a_user.actor, Default::default()).await.unwrap().items;
        assert_eq!(mine.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec![c.id.as_str()], "[{}]", backend.name);
        assert!(w.works.connection_list(&w.a_user2.actor, Default::default()).await.unwrap().items.is_empty());
        assert_eq!(w.works.connection_list(&w.a_admin.actor, Default::default()).await.unwrap().items.len(), 2);
        assert!(w.works.connection_list(&w.b_admin.actor, Default::default()).await.unwrap().items.is_empty());
        not_found(w.works.connection_get(&w.a_user2.actor, &c.id).await.unwrap_err(), "a colleague's connection");
        not_found(w.works.connection_get(&w.b_admin.actor, &c.id).await.unwrap_err(), "other org get");
        not_found(w.works.connection_update(&w.b_admin.actor, &c.id, ConnectionUpdate::default()).await.unwrap_err(), "other org update");
        not_found(w.works.connection_delete(&w.b_user.actor, &c.id).await.unwrap_err(), "other org delete");
        not_found(
            w.works.connection_create(&w.b_admin.actor, NewConnection { instances: vec![], org_id: Some(w.org_a.id.clone()), name: "x".into(), provider: Provider::Generic, capabilities: vec![], credential: None, status: None }).await.unwrap_err(),
            "creating in another org",
        );

        // Replacing the credential is recorded without it.
        let other = "ya29.the-replacement-token";
        let c2 = w.works.connection_update(&w.a_admin.actor, &c.id, ConnectionUpdate { credential: Some(other.into()), ..Default::default() }).await.unwrap();
        assert!(c2.has_credential);
        let log = w.works.audit_query(&w.msp_admin.actor, AuditQuery::default()).await.unwrap();
        assert!(log.records.iter().all(|r| !r.reason.contains(secret) && !r.reason.contains(other)), "[{}]", backend.name);
        assert!(log.records.iter().any(|r| r.action == "connection.update" && r.reason.contains("credential replaced")));
        w.works.connection_delete(&w.a_user.actor, &c.id).await.unwrap();
        not_found(w.works.connection_get(&w.a_user.actor, &c.id).await.unwrap_err(), "deleted");
    }
}

#[tokio::test]
async fn workflows_are_validated_naming_the_step_and_field_and_follow_ownership() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let conn = drive_connection(&w, &w.a_user, None).await;
        let bad = |steps: Vec<WorkflowStep>| NewWorkflow { org_id: None, name: "Bad".into(), description: None, steps };
        let cases = [
            (vec![], "steps"),
            (vec![summarize(), WorkflowStep { capability_id: "teleport".into(), ..summarize() }], "steps[1].capability_id"),
            (vec![WorkflowStep { action: "fly".into(), ..summarize() }], "steps[0].action"),
            (vec![summarize(), WorkflowStep { connection_id: None, ..list_files(&conn.id) }], "steps[1].connection_id"),
            (vec![WorkflowStep { parameters: serde_json::json!({"page_size": 0}), ..list_files(&conn.id) }], "steps[0].parameters.page_size"),
            (vec![list_files(MISSING)], "steps[0].connection_id"),
        ];
        for (steps, field) in cases {
            let e = w.works.workflow_create(&w.a_user.actor, bad(steps)).await.unwrap_err();
            assert_eq!(e.field(), Some(field), "[{}] {e}", backend.name);
            if field.starts_with("steps[") {
                assert!(e.to_string().contains("step "), "the message says which step: {e}");
            }
        }
        // A colleague cannot use someone else's connection.
        let e = w.works.workflow_create(&w.a_user2.actor, bad(vec![list_files(&conn.id)])).await.unwrap_err();
        assert_eq!(e.field(), Some("steps[0].connection_id"));

        let mine = workflow(&w, &w.a_user, vec![list_files(&conn.id), summarize()]).await;
        assert_eq!((mine.owner_id.as_str(), mine.org_id.as_str()), (w.a_user.user.id.as_str(), w.org_a.id.as_str()));
        let theirs = workflow(&w, &w.a_user2, vec![summarize()]).await;
        let bolt = workflow(&w, &w.b_user, vec![summarize()]).await;

        let ids = |l: Vec<Workflow>| l.into_iter().map(|w| w.id).collect::<Vec<_>>();
        assert_eq!(ids(w.works.workflow_list(&w.a_user.actor, WorkflowQuery::default()).await.unwrap().items), vec![mine.id.clone()]);
        assert_eq!(w.works.workflow_list(&w.a_admin.actor, WorkflowQuery::default()).await.unwrap().items.len(), 2, "[{}]", backend.name);
        assert_eq!(w.works.workflow_list(&w.msp_operator.actor, WorkflowQuery::default()).await.unwrap().items.len(), 3);
        for (who, e) in [
            ("colleague get", w.works.workflow_get(&w.a_user.actor, &theirs.id).await.unwrap_err()),
            ("other org get", w.works.workflow_get(&w.a_admin.actor, &bolt.id).await.unwrap_err()),
            ("other org update", w.works.workflow_update(&w.b_admin.actor, &mine.id, WorkflowUpdate::default()).await.unwrap_err()),
            ("other org delete", w.works.workflow_delete(&w.b_admin.actor, &mine.id).await.unwrap_err()),
            ("other org run", w.works.run_start(&w.b_admin.actor, &mine.id, StartRun { mode: RunMode::Simulation }).await.unwrap_err()),
            ("colleague run", w.works.run_start(&w.a_user2.actor, &mine.id, StartRun { mode: RunMode::Simulation }).await.unwrap_err()),
            ("other org runs", w.works.run_list(&w.b_admin.actor, &mine.id, RunQuery::default()).await.unwrap_err()),
        ] {
            not_found(e, who);
        }
        let renamed = w.works.workflow_update(&w.a_admin.actor, &mine.id, WorkflowUpdate { name: Some("Files, weekly".into()), ..Default::default() }).await.unwrap();
        assert_eq!(renamed.name, "Files, weekly");
        let e = w.works.workflow_update(&w.a_user.actor, &mine.id, WorkflowUpdate { steps: Some(vec![WorkflowStep { action: "fly".into(), ..summarize() }]), ..Default::default() }).await.unwrap_err();
        assert_eq!(e.field(), Some("steps[0].action"));
        w.works.workflow_delete(&w.a_user2.actor, &theirs.id).await.unwrap();
        assert!(audit_count(&w.works, &w, "workflow.create", Outcome::Rejected).await >= 6, "[{}] bad input recorded", backend.name);
        assert!(audit_count(&w.works, &w, "run.start", Outcome::Denied).await >= 2);
    }
}

#[tokio::test]
async fn every_policy_rule_blocks_the_step_and_the_run_with_a_reason_and_an_audit_record() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let conn = drive_connection(&w, &w.a_admin, None).await;
        let wf = workflow(&w, &w.a_admin, vec![summarize(), list_files(&conn.id)]).await;
        let summarize_perm = NewPermission { org_id: w.org_a.id.clone(), capability_id: "summarize".into(), allowed_actions: None, max_risk: None, require_confirmation: None, approvers_required: None };
        w.works.permission_create(&w.a_admin.actor, summarize_perm).await.unwrap();

        let blocked = |run: &WorkflowRun, rule: Rule| {
            assert_eq!(run.state, RunState::Blocked, "{run:?}");
            assert_eq!(run.steps[0].outcome, StepOutcome::Simulated);
            assert_eq!(run.steps[1].outcome, StepOutcome::Blocked);
            assert_eq!(run.steps[1].rule, Some(rule), "{}", run.steps[1].reason);
            assert!(run.reason.contains("Step 2 was blocked") && run.reason.contains(rule.as_str()), "{}", run.reason);
        };
        // Capability not enabled.
        let run = start(&w, &w.a_admin, &wf, RunMode::Simulation).await;
        blocked(&run, Rule::CapabilityEnabled);
        assert!(run.steps[1].reason.contains("not enabled"));
        // Enabled, but the action is not allowed.
        let perm = w.works.permission_create(&w.a_admin.actor, NewPermission { org_id: w.org_a.id.clone(), capability_id: "google_drive".into(), allowed_actions: Some(vec![]), max_risk: Some(RiskLevel::Low), require_confirmation: None, approvers_required: None }).await.unwrap();
        blocked(&start(&w, &w.a_admin, &wf, RunMode::Simulation).await, Rule::ActionAllowed);
        // Disabled.
        w.works.permission_disable(&w.a_admin.actor, &perm.id).await.unwrap();
        blocked(&start(&w, &w.a_admin, &wf, RunMode::Simulation).await, Rule::CapabilityEnabled);
        w.works.permission_update(&w.a_admin.actor, &perm.id, PermissionUpdate { enabled: Some(true), allowed_actions: Some(vec!["list_files".into()]), ..Default::default() }).await.unwrap();
        // Risk above the limit: a step whose action is allowed by name in a wider permission
        // that was then narrowed is refused by the permission check, so use a share step.
        let share = WorkflowStep { action: "share_file".into(), parameters: serde_json::json!({}), ..list_files(&conn.id) };
        let wf_share = workflow(&w, &w.a_admin, vec![summarize(), share]).await;
        w.works.permission_update(&w.a_admin.actor, &perm.id, PermissionUpdate { max_risk: Some(RiskLevel::High), allowed_actions: Some(vec!["list_files".into(), "share_file".into()]), ..Default::default() }).await.unwrap();
        backend.store.update_permission(&Permission { max_risk: RiskLevel::Medium, ..w.works.permission_get(&w.a_admin.actor, &perm.id).await.unwrap() }, w_draft(&w)).await.unwrap();
        blocked(&start(&w, &w.a_admin, &wf_share, RunMode::Simulation).await, Rule::RiskWithinLimit);
        // Connection not linked.
        w.works.connection_update(&w.a_admin.actor, &conn.id, ConnectionUpdate { capabilities: Some(vec![]), ..Default::default() }).await.unwrap();
        blocked(&start(&w, &w.a_admin, &wf, RunMode::Simulation).await, Rule::ConnectionLinked);
        // Linked but a placeholder.
        w.works.connection_update(&w.a_admin.actor, &conn.id, ConnectionUpdate { capabilities: Some(vec!["google_drive".into()]), status: Some(ConnectionStatus::Placeholder), ..Default::default() }).await.unwrap();
        blocked(&start(&w, &w.a_admin, &wf, RunMode::Simulation).await, Rule::ConnectionConnected);
        // Connection removed.
        w.works.connection_update(&w.a_admin.actor, &conn.id, ConnectionUpdate { status: Some(ConnectionStatus::Connected), ..Default::default() }).await.unwrap();

        // Every rule passes: the simulation records what each step would do.
        let ok = start(&w, &w.a_admin, &wf, RunMode::Simulation).await;
        assert_eq!(ok.state, RunState::Succeeded, "[{}] {}", backend.name, ok.reason);
        assert!(ok.steps.iter().all(|s| s.outcome == StepOutcome::Simulated && s.label == Some(DataLabel::Stub)));
        assert!(ok.steps[1].reason.starts_with("Simulation: would list files with Google Drive"), "{}", ok.steps[1].reason);

        w.works.connection_delete(&w.a_admin.actor, &conn.id).await.unwrap();
        blocked(&start(&w, &w.a_admin, &wf, RunMode::Simulation).await, Rule::ConnectionLinked);

        assert_eq!(audit_count(&w.works, &w, "run.block", Outcome::Rejected).await, 7, "[{}] one record per blocked run", backend.name);
        let runs = w.works.run_list(&w.a_admin.actor, &wf.id, RunQuery { state: Some(RunState::Blocked), ..Default::default() }).await.unwrap().items;
        assert_eq!(runs.len(), 6, "[{}]", backend.name);
        assert!(w.works.run_list(&w.a_user.actor, &wf.id, RunQuery::default()).await.is_err(), "an org user does not see an admin's workflow");
        not_found(w.works.run_get(&w.b_admin.actor, &wf.id, &ok.id).await.unwrap_err(), "other org run");
        assert_eq!(w.works.run_get(&w.msp_operator.actor, &wf.id, &ok.id).await.unwrap(), ok);
    }
}

fn w_draft(w: &World) -> works_core::AuditDraft {
    works_core::AuditDraft {
        at: w.clock.now(),
        actor_id: "test".into(),
        actor_name: "test".into(),
        org_id: None,
        action: "test.setup".into(),
        target_kind: "permission".into(),
        target_id: None,
        outcome: Outcome::Succeeded,
        reason: "narrowed the limit below an allowed action, as an older version could have stored".into(),
    }
}

/// A Drive that answers from memory, to see live steps and their labels.
struct FakeDrive;

#[async_trait::async_trait]
impl DriveApi for FakeDrive {
    async fn list_files(&self, token: &str, params: &ListFilesParams) -> works_core::Result<DriveListing> {
        assert_eq!(token, "ya29.live-token");
        Ok(DriveListing { label: DataLabel::LiveData, files: vec![DriveFile { id: "f1".into(), name: format!("page size {}", params.page_size), mime_type: None, modified_time: None }], pages: 1, truncated: false })
    }
}

#[tokio::test]
async fn confirmation_pauses_the_run_until_an_allowed_approver_types_the_phrase() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let works = w.works.clone().with_drive(Arc::new(FakeDrive));
        let perm = drive_permission(&w, &w.org_a.id).await;
        works.permission_update(&w.a_admin.actor, &perm.id, PermissionUpdate { require_confirmation: Some(true), ..Default::default() }).await.unwrap();
        let conn = drive_connection(&w, &w.a_user, Some("ya29.live-token")).await;
        let wf = workflow(&w, &w.a_user, vec![list_files(&conn.id)]).await;

        let run = works.run_start(&w.a_user.actor, &wf.id, StartRun { mode: RunMode::Live }).await.unwrap();
        assert_eq!(run.state, RunState::AwaitingApproval, "[{}] {}", backend.name, run.reason);
        let phrase = run.steps[0].approval_phrase.clone().unwrap();
        assert!(phrase.starts_with("list files with Google Drive for run "), "{phrase}");
        let other = works.run_start(&w.a_user.actor, &wf.id, StartRun { mode: RunMode::Live }).await.unwrap();
        let other_phrase = other.steps[0].approval_phrase.clone().unwrap();
        assert_ne!(phrase, other_phrase);

        // Refused and recorded: a wrong phrase, the phrase of another run (a replay), an
        // approver of another organization, a user without the role.
        let approve = |who: &Person, run: &WorkflowRun, phrase: &str| {
            let works = works.clone();
            let (actor, wf, id, phrase) = (who.actor.clone(), run.workflow_id.clone(), run.id.clone(), phrase.to_owned());
            async move { works.run_approve(&actor, &wf, &id, ApproveRun { phrase }).await }
        };
        assert_eq!(approve(&w.a_admin, &run, "list files").await.unwrap_err().field(), Some("phrase"));
        assert_eq!(approve(&w.a_admin, &run, &other_phrase).await.unwrap_err().field(), Some("phrase"), "an approval replayed on another run");
        not_found(approve(&w.b_admin, &run, &phrase).await.unwrap_err(), "approver of another org");
        assert!(matches!(approve(&w.a_user2, &run, &phrase).await.unwrap_err(), Error::NotFound { .. } | Error::Forbidden { .. }));
        assert_eq!(works.run_get(&w.a_user.actor, &wf.id, &run.id).await.unwrap().state, RunState::AwaitingApproval);
        assert_eq!(audit_count(&works, &w, "run.approve", Outcome::Rejected).await, 2, "[{}]", backend.name);
        assert!(audit_count(&works, &w, "run.approve", Outcome::Denied).await >= 2);

        // The right phrase from the person who started it (one approver needed): the live step runs.
        let done = approve(&w.a_user, &run, &phrase).await.unwrap();
        assert_eq!(done.state, RunState::Succeeded, "[{}] {}", backend.name, done.reason);
        assert_eq!(done.steps[0].outcome, StepOutcome::Succeeded);
        assert_eq!(done.steps[0].label, Some(DataLabel::LiveData));
        assert_eq!(done.steps[0].approvals.len(), 1);
        assert!(done.steps[0].reason.contains("(Live data)"), "{}", done.steps[0].reason);
        assert_eq!(done.steps[0].output.as_ref().unwrap()["files"][0]["name"], "page size 10");
        assert!(approve(&w.a_user, &run, &phrase).await.is_err(), "not twice");

        // An expired request is refused; recovery then fails it with a reason.
        w.clock.advance(Duration::hours(25));
        let e = approve(&w.a_admin, &other, &other_phrase).await.unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }) && e.to_string().contains("expired"), "{e:?}");
        let report = works.recover().await.unwrap();
        assert_eq!(report.runs_failed, vec![other.id.clone()], "[{}]", backend.name);
        let failed = works.run_get(&w.a_admin.actor, &wf.id, &other.id).await.unwrap();
        assert_eq!(failed.state, RunState::Failed);
        assert!(failed.reason.contains("Nobody approved step 1"), "{}", failed.reason);
    }
}

#[tokio::test]
async fn the_two_person_rule_needs_two_different_approvers_other_than_the_starter() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let perm = drive_permission(&w, &w.org_a.id).await;
        w.works.permission_update(&w.a_admin.actor, &perm.id, PermissionUpdate { require_confirmation: Some(true), approvers_required: Some(2), ..Default::default() }).await.unwrap();
        let conn = drive_connection(&w, &w.a_admin, None).await;
        let wf = workflow(&w, &w.a_admin, vec![list_files(&conn.id), summarize()]).await;
        let run = start(&w, &w.a_admin, &wf, RunMode::Live).await;
        assert_eq!((run.state, run.steps[0].approvers_required), (RunState::AwaitingApproval, 2));
        let phrase = run.steps[0].approval_phrase.clone().unwrap();
        let approve = |who: &Person| {
            let (works, actor, wf, id, phrase) = (w.works.clone(), who.actor.clone(), wf.id.clone(), run.id.clone(), phrase.clone());
            async move { works.run_approve(&actor, &wf, &id, ApproveRun { phrase }).await }
        };

        let e = approve(&w.a_admin).await.unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }) && e.to_string().contains("your own run"), "[{}] {e:?}", backend.name);
        let half = approve(&w.msp_operator).await.unwrap();
        assert_eq!((half.state, half.steps[0].approvals.len()), (RunState::AwaitingApproval, 1));
        let e = approve(&w.msp_operator).await.unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }) && e.to_string().contains("already approved"), "{e:?}");
        // No token on the connection: demo data, labelled a stub. The unpermitted summarize step then blocks.
        let done = approve(&w.msp_admin).await.unwrap();
        assert_eq!(done.steps[0].approvals.iter().map(|a| a.by_name.as_str()).collect::<Vec<_>>(), vec!["operator", "admin"]);
        assert_eq!((done.steps[0].outcome, done.steps[0].label), (StepOutcome::Succeeded, Some(DataLabel::Stub)));
        assert!(done.steps[0].reason.contains("demo") && done.steps[0].reason.contains("(Stub)"), "{}", done.steps[0].reason);
        assert_eq!((done.state, done.steps[1].rule), (RunState::Blocked, Some(Rule::CapabilityEnabled)), "[{}]", backend.name);
        assert_eq!(audit_count(&w.works, &w, "run.approve", Outcome::Denied).await, 2);
        assert_eq!(audit_count(&w.works, &w, "run.approve", Outcome::Succeeded).await, 2);
    }
}

#[tokio::test]
async fn recovery_fails_runs_left_executing_and_leaves_runs_waiting_for_approval() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let perm = drive_permission(&w, &w.org_a.id).await;
        let conn = drive_connection(&w, &w.a_admin, None).await;
        let wf = workflow(&w, &w.a_admin, vec![list_files(&conn.id)]).await;
        w.works.permission_update(&w.a_admin.actor, &perm.id, PermissionUpdate { require_confirmation: Some(true), ..Default::default() }).await.unwrap();
        let waiting = start(&w, &w.a_admin, &wf, RunMode::Live).await;

        // A run whose server died mid-step: on record as running, its heartbeat stopping.
        let mut executing = waiting.clone();
        executing.id = works_core::secret::new_id();
        executing.state = RunState::Running;
        executing.steps[0].outcome = StepOutcome::Running;
        executing.steps[0].approval_phrase = None;
        executing.approval_expires_at = None;
        backend.store.insert_run(&executing, w_draft(&w)).await.unwrap();

        assert!(w.works.recover().await.unwrap().runs_failed.is_empty(), "[{}] within the heartbeat window", backend.name);
        w.clock.advance(Duration::minutes(3));
        let report = w.works.recover().await.unwrap();
        assert_eq!(report.runs_failed, vec![executing.id.clone()], "[{}]", backend.name);
        let failed = w.works.run_get(&w.a_admin.actor, &wf.id, &executing.id).await.unwrap();
        assert_eq!((failed.state, failed.steps[0].outcome), (RunState::Failed, StepOutcome::Failed));
        assert!(failed.reason.contains("The server stopped while this run was executing step 1") && failed.reason.contains("not re-run"), "{}", failed.reason);
        assert_eq!(audit_count(&w.works, &w, "run.recover", Outcome::Succeeded).await, 1);
        // The failed run moves the health answer for those who can see it, and no one else.
        let issue_id = format!("run-failed:{}", executing.id);
        let health = w.works.health(&w.a_admin.actor).await.unwrap();
        let issue = health.issues.iter().find(|i| i.id == issue_id).unwrap_or_else(|| panic!("[{}] {health:?}", backend.name));
        assert_eq!(health.state, works_core::HealthState::Degraded);
        assert!(issue.why.contains("The server stopped") && issue.link.contains(&executing.id), "{issue:?}");
        assert!(w.works.health(&w.b_admin.actor).await.unwrap().issues.iter().all(|i| i.id != issue_id), "[{}] another tenant", backend.name);

        // The waiting run is untouched and can still be approved.
        let still = w.works.run_get(&w.a_admin.actor, &wf.id, &waiting.id).await.unwrap();
        assert_eq!(still.state, RunState::AwaitingApproval);
        let phrase = still.steps[0].approval_phrase.clone().unwrap();
        let done = w.works.run_approve(&w.a_admin.actor, &wf.id, &waiting.id, ApproveRun { phrase }).await.unwrap();
        assert_eq!(done.state, RunState::Succeeded, "[{}] {}", backend.name, done.reason);
    }
}

#[tokio::test]
async fn a_connection_is_linked_only_to_instances_of_its_own_organization() {
    for backend in backends().await {
        let b = backend.name;
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let deploy = |org: String, name: &'static str| {
            let works = w.works.clone();
            let admin = admin.clone();
            async move {
                let n = works.node_create(&admin, works_core::NewNode { name: name.into(), org_id: Some(org) }).await.unwrap();
                works.instance_deploy(&admin, works_core::DeployInput { node_id: n.id, version: None, with_cli: false, gateway_port: None }).await.unwrap().instance
            }
        };
        let a_inst = deploy(w.org_a.id.clone(), "acme-web-01").await;
        let b_inst = deploy(w.org_b.id.clone(), "bolt-web-01").await;

        // Linked on creation, shown on the record, and replaced or cleared by an update.
        let c = w
            .works
            .connection_create(&w.a_admin.actor, NewConnection { instances: vec![a_inst.id.clone(), a_inst.id.clone()], org_id: None, name: "Acme Drive".into(), provider: Provider::GoogleDrive, capabilities: vec!["google_drive".into()], credential: None, status: None })
            .await
            .unwrap();
        assert_eq!(c.instances, vec![a_inst.id.clone()], "[{b}] linked once");
        assert_eq!(w.works.connection_get(&w.a_user.actor, &c.id).await.map(|c| c.instances).ok(), None, "[{b}] an org user sees only their own connections");
        assert_eq!(w.works.connection_get(&w.a_admin.actor, &c.id).await.unwrap().instances, vec![a_inst.id.clone()]);

        // Another organization's instance is refused exactly like one that does not exist,
        // and nothing changes.
        let foreign = w.works.connection_update(&w.a_admin.actor, &c.id, ConnectionUpdate { instances: Some(vec![b_inst.id.clone()]), ..Default::default() }).await.unwrap_err();
        let missing_id = "0190d3c5-0000-7000-8000-000000000000";
        let missing = w.works.connection_update(&w.a_admin.actor, &c.id, ConnectionUpdate { instances: Some(vec![missing_id.into()]), ..Default::default() }).await.unwrap_err();
        assert_eq!(foreign.field(), Some("instances[0]"), "[{b}] {foreign:?}");
        assert_eq!(foreign.to_string().replace(&b_inst.id, "<id>"), missing.to_string().replace(missing_id, "<id>"), "[{b}]");
        assert!(foreign.to_string().contains("is not an OpenClaw instance of this organization"), "{foreign}");
        // Even the MSP admin cannot link B's instance to A's connection.
        let e = w.works.connection_update(admin, &c.id, ConnectionUpdate { instances: Some(vec![a_inst.id.clone(), b_inst.id.clone()]), ..Default::default() }).await.unwrap_err();
        assert_eq!(e.field(), Some("instances[1]"), "[{b}] {e:?}");
        let bad = w.works.connection_update(&w.a_admin.actor, &c.id, ConnectionUpdate { instances: Some(vec!["$(id)".into()]), ..Default::default() }).await.unwrap_err();
        assert_eq!(bad.field(), Some("instances[0]"), "[{b}] {bad:?}");
        assert_eq!(w.works.connection_get(admin, &c.id).await.unwrap().instances, vec![a_inst.id.clone()], "[{b}] refusals change nothing");

        // An organization user may link only instances assigned to them.
        let own = w
            .works
            .connection_create(&w.a_user.actor, NewConnection { instances: vec![a_inst.id.clone()], org_id: None, name: "My Drive".into(), provider: Provider::GoogleDrive, capabilities: vec![], credential: None, status: None })
            .await
            .unwrap_err();
        assert_eq!(own.field(), Some("instances[0]"), "[{b}] an unassigned instance: {own:?}");

        let cleared = w.works.connection_update(&w.a_admin.actor, &c.id, ConnectionUpdate { instances: Some(vec![]), ..Default::default() }).await.unwrap();
        assert!(cleared.instances.is_empty(), "[{b}]");
        let page = w.works.audit_query(admin, AuditQuery { action: Some("connection.update".into()), ..Default::default() }).await.unwrap();
        assert!(page.records.iter().any(|r| r.outcome == Outcome::Succeeded && r.reason.contains("used by 0 OpenClaw instance(s)")), "[{b}] {:?}", page.records);
        assert!(page.records.iter().any(|r| r.outcome == Outcome::Rejected || r.outcome == Outcome::Denied), "[{b}] refusals are recorded: {:?}", page.records);
    }
}
