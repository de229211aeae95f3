//! The forms of permissions, connections and workflows: each is the same core call as
//! its JSON route; a refused form shows the problem next to its field in plain English
//! and saves nothing; a credential is never sent back, not even on a refused form; and
//! another organization's admin posting to these forms gets exactly the answer for a
//! record that does not exist.

use reqwest::StatusCode;
use works_core::{ConnectionQuery, ConnectionStatus, PermissionQuery, RiskLevel, Role, WorkflowQuery};
use works_testkit::{TestServer, ADMIN_PASSWORD, USER_PASSWORD};

use crate::browser_session::sign_in;
use crate::common::random_id;
use crate::workflows::{page, submit};

crate::on_both_backends!(permissions_connections_and_workflows_through_their_forms);

async fn permissions_connections_and_workflows_through_their_forms(s: &TestServer) {
    let acme = s.create_org("Acme Dental").await;
    let bolt = s.create_org("Bolt Legal").await;
    s.create_user("bolt-admin", Role::OrgAdmin, Some(&bolt.id)).await;
    let b = sign_in(s, "admin", ADMIN_PASSWORD).await;
    let perms = |s: &TestServer| {
        let works = s.works.clone();
        let admin = s.admin.clone();
        async move { works.permission_list(&admin, PermissionQuery::default()).await.unwrap().items }
    };

    // Permissions: two approvers without confirmation is refused next to the field; nothing saved.
    let add = [("org_id", acme.id.as_str()), ("capability_id", "google_drive"), ("allowed_actions", "list_files"), ("max_risk", "low"), ("approvers_required", "2")];
    let (status, _, body) = submit(s, &b, "/ui/permissions", &add).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("id=\"p-approvers-error\">2 approvers needs require_confirmation to be true"), "{body}");
    assert!(perms(s).await.is_empty());
    let (status, location, _) = submit(s, &b, "/ui/permissions", &[&add[..], &[("require_confirmation", "yes")]].concat()).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/ui/permissions?notice=added"));
    let p = perms(s).await.pop().unwrap();
    assert_eq!((p.allowed_actions.clone(), p.max_risk, p.require_confirmation, p.approvers_required), (vec!["list_files".to_owned()], RiskLevel::Low, true, 2));
    let (_, body) = page(s, &b, "/ui/permissions?notice=added").await;
    assert!(body.contains("Permission added.") && body.contains("two people") && body.contains(&format!("/ui/permissions/{}", p.id)), "{body}");

    // Editing: an action above the highest risk is refused naming it; then a good change.
    let perm_page = format!("/ui/permissions/{}", p.id);
    let (status, _, body) = submit(s, &b, &perm_page, &[("allowed_actions", "list_files"), ("allowed_actions", "delete_file"), ("max_risk", "low"), ("approvers_required", "1")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("id=\"allowed-actions-error\">Delete_file is critical risk, above the highest risk allowed (low)") || body.contains("delete_file is critical risk"), "{body}");
    assert_eq!(perms(s).await[0], p, "nothing saved");
    let (status, location, _) = submit(s, &b, &perm_page, &[("allowed_actions", "list_files"), ("max_risk", "medium"), ("approvers_required", "1")]).await;
    assert_eq!((status, location), (StatusCode::SEE_OTHER, format!("{perm_page}?notice=saved")));
    let p2 = perms(s).await.pop().unwrap();
    assert_eq!((p2.max_risk, p2.require_confirmation, p2.approvers_required), (RiskLevel::Medium, false, 1));
    let (status, body) = page(s, &b, &format!("{perm_page}?notice=saved")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("value=\"list_files\" checked") && body.contains("Saved."), "{body}");

    // Connections: a refused form never echoes the credential; a good one seals it.
    let secret = "ya29.form-secret-never-shown";
    let conn = [("org_id", acme.id.as_str()), ("name", "  "), ("provider", "google_drive"), ("capabilities", "google_drive"), ("credential", secret)];
    let (status, _, body) = submit(s, &b, "/ui/connections", &conn).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("id=\"c-name-error\">Must not be empty") && !body.contains(secret), "{body}");
    let (status, _, body) = submit(s, &b, "/ui/connections", &[("org_id", acme.id.as_str()), ("name", "Acme QB"), ("provider", "quickbooks"), ("capabilities", "google_drive"), ("credential", secret)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("id=\"c-caps-error\">Google Drive works with Google Drive connections, not QuickBooks") && !body.contains(secret), "{body}");
    assert!(s.works.connection_list(&s.admin, ConnectionQuery::default()).await.unwrap().items.is_empty(), "nothing saved");
    let conn = [("org_id", acme.id.as_str()), ("name", "Acme Drive"), ("provider", "google_drive"), ("capabilities", "google_drive"), ("credential", secret)];
    let (status, location, _) = submit(s, &b, "/ui/connections", &conn).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let c = s.works.connection_list(&s.admin, ConnectionQuery::default()).await.unwrap().items.pop().unwrap();
    assert_eq!(location, format!("/ui/connections/{}?notice=added", c.id));
    assert_eq!((c.status, c.has_credential, c.capabilities.clone()), (ConnectionStatus::Connected, true, vec!["google_drive".to_owned()]));
    let conn_page = format!("/ui/connections/{}", c.id);
    for path in [location.as_str(), "/ui/connections"] {
        let (status, body) = page(s, &b, path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.contains(secret) && body.contains("stored, sealed"), "{path}: {body}");
    }
    let (status, location, _) = submit(s, &b, &conn_page, &[("name", "Acme Drive 2"), ("capabilities", "google_drive"), ("status", "error"), ("credential", "")]).await;
    assert_eq!((status, location), (StatusCode::SEE_OTHER, format!("{conn_page}?notice=saved")));
    let c2 = s.works.connection_get(&s.admin, &c.id).await.unwrap();
    assert_eq!((c2.name.as_str(), c2.status, c2.has_credential), ("Acme Drive 2", ConnectionStatus::Error, true), "an empty credential field keeps the stored one");
    let (_, location, _) = submit(s, &b, &conn_page, &[("name", "Acme Drive"), ("capabilities", "google_drive"), ("status", ""), ("credential", "ya29.replacement")]).await;
    assert_eq!(location, format!("{conn_page}?notice=saved"));
    let c3 = s.works.connection_get(&s.admin, &c.id).await.unwrap();
    assert_eq!(c3.status, ConnectionStatus::Connected, "a new credential clears the error");

    // Workflows: a step without its connection, and parameters that are not JSON, are
    // refused next to the step's field; nothing is saved. Then fixed and saved.
    let (status, body) = page(s, &b, "/ui/workflows/new").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("step-1-action") && body.contains("step-3-action"), "one filled row and two spare: {body}");
    let new_workflow = |conn: &str, params: &str| -> Vec<(&'static str, String)> {
        vec![
            ("org_id", acme.id.clone()),
            ("name", "Weekly files".into()),
            ("description", String::new()),
            ("step_action", "google_drive/list_files".into()),
            ("step_connection", conn.into()),
            ("step_parameters", params.into()),
            ("step_action", String::new()),
            ("step_connection", String::new()),
            ("step_parameters", String::new()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let b = &b;
        async move {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            submit(s, b, "/ui/workflows", &refs).await
        }
    };
    let (status, _, body) = send(new_workflow("", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("id=\"step-1-connection-error\">Step 1: Google Drive needs a Google Drive connection"), "{body}");
    assert!(body.contains("A step needs a change") && body.contains("value=\"Weekly files\""), "{body}");
    let (status, _, body) = send(new_workflow(&c.id, "{page_size: 5")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("id=\"step-1-parameters-error\">Step 1: is not valid JSON"), "{body}");
    let (status, _, body) = send(new_workflow(&c.id, r#"{"page_size": 5000}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("id=\"step-1-parameters-error\">Step 1: must be a whole number from 1 to 1000"), "{body}");
    assert!(s.works.workflow_list(&s.admin, WorkflowQuery::default()).await.unwrap().items.is_empty(), "nothing saved");
    let (status, location, _) = send(new_workflow(&c.id, r#"{"page_size": 5}"#)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let w = s.works.workflow_list(&s.admin, WorkflowQuery::default()).await.unwrap().items.pop().unwrap();
    assert_eq!(location, format!("/ui/workflows/{}?notice=saved", w.id));
    assert_eq!((w.name.as_str(), w.steps.len(), w.steps[0].parameters.clone()), ("Weekly files", 1, serde_json::json!({"page_size": 5})));

    // Editing: rename and append a step; a typo-free edit is saved in order.
    let edit = format!("/ui/workflows/{}/edit", w.id);
    let (status, body) = page(s, &b, &edit).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("value=\"Weekly files\"") && body.contains("page_size") && body.contains(&format!("<option value=\"{}\" selected>", c.id)), "{body}");
    let fields = [
        ("name", "Weekly files and summary"),
        ("description", "Lists, then summarizes"),
        ("step_action", "google_drive/list_files"),
        ("step_connection", c.id.as_str()),
        ("step_parameters", r#"{"page_size": 5}"#),
        ("step_action", "summarize/summarize_text"),
        ("step_connection", ""),
        ("step_parameters", ""),
    ];
    let (status, location, body) = submit(s, &b, &edit, &fields).await;
    assert_eq!((status, location), (StatusCode::SEE_OTHER, format!("/ui/workflows/{}?notice=saved", w.id)), "{body}");
    let w2 = s.works.workflow_get(&s.admin, &w.id).await.unwrap();
    assert_eq!((w2.name.as_str(), w2.steps.iter().map(|s| s.capability_id.as_str()).collect::<Vec<_>>()), ("Weekly files and summary", vec!["google_drive", "summarize"]));

    // Disabled from its page, the workflow cannot be run; enabled again, it can.
    let wf_page = format!("/ui/workflows/{}", w.id);
    let (_, location, _) = submit(s, &b, &format!("{wf_page}/disable"), &[]).await;
    assert_eq!(location, format!("{wf_page}?notice=disabled"));
    let (status, _, body) = submit(s, &b, &format!("{wf_page}/runs"), &[("mode", "simulation")]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("Weekly files and summary is disabled, so it cannot be run"), "{body}");
    let (_, location, _) = submit(s, &b, &format!("{wf_page}/enable"), &[]).await;
    assert_eq!(location, format!("{wf_page}?notice=enabled"));
    let (status, _, _) = submit(s, &b, &format!("{wf_page}/runs"), &[("mode", "simulation")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let w2 = s.works.workflow_get(&s.admin, &w.id).await.unwrap();

    // Another organization's admin: every page and form of Acme's records answers exactly
    // like a record that does not exist, and changes nothing.
    let other = sign_in(s, "bolt-admin", USER_PASSWORD).await;
    let missing = random_id();
    type Form<'a> = Option<Vec<(&'a str, &'a str)>>;
    let cases: Vec<(String, Form)> = vec![
        (format!("/ui/permissions/{}", p.id), None),
        (format!("/ui/permissions/{}", p.id), Some(vec![("allowed_actions", "list_files"), ("max_risk", "critical"), ("approvers_required", "1")])),
        (format!("/ui/permissions/{}/disable", p.id), Some(vec![])),
        (format!("/ui/permissions/{}/delete", p.id), Some(vec![])),
        (format!("/ui/connections/{}", c.id), None),
        (format!("/ui/connections/{}", c.id), Some(vec![("name", "Mine now"), ("credential", "ya29.theirs"), ("status", "connected")])),
        (format!("/ui/connections/{}/delete", c.id), Some(vec![])),
        (format!("/ui/workflows/{}/edit", w.id), None),
        (format!("/ui/workflows/{}/edit", w.id), Some(vec![("name", "Mine now"), ("step_action", "summarize/summarize_text"), ("step_connection", ""), ("step_parameters", "")])),
        (format!("/ui/workflows/{}/delete", w.id), Some(vec![])),
        (format!("/ui/workflows/{}/disable", w.id), Some(vec![])),
    ];
    for (path, form) in cases {
        let real_id = [p.id.as_str(), c.id.as_str(), w.id.as_str()].into_iter().find(|id| path.contains(id)).unwrap();
        let absent = path.replace(real_id, &missing);
        let (theirs, nothing) = match &form {
            None => (page(s, &other, &path).await, page(s, &other, &absent).await),
            Some(f) => {
                let (a, _, x) = submit(s, &other, &path, f).await;
                let (b2, _, y) = submit(s, &other, &absent, f).await;
                ((a, x), (b2, y))
            }
        };
        assert_eq!(theirs.0, StatusCode::NOT_FOUND, "{path}: {}", theirs.1);
        assert_eq!(nothing.0, StatusCode::NOT_FOUND, "{absent}: {}", nothing.1);
        assert_eq!(theirs.1.replace(real_id, "ID"), nothing.1.replace(&missing, "ID"), "{path} answers like a missing record");
    }
    // Attaching a pack to another organization answers like an organization that does not exist.
    let (theirs, _, x) = submit(s, &other, "/ui/capabilities/packs/office_essentials/attach", &[("org_id", acme.id.as_str())]).await;
    let (nothing, _, y) = submit(s, &other, "/ui/capabilities/packs/office_essentials/attach", &[("org_id", missing.as_str())]).await;
    assert_eq!((theirs, nothing), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND), "{x}");
    assert_eq!(x.replace(&acme.id, "ID"), y.replace(&missing, "ID"));
    assert_eq!(perms(s).await, vec![p2.clone()], "unchanged");
    assert_eq!(s.works.connection_get(&s.admin, &c.id).await.unwrap().name, "Acme Drive");
    assert_eq!(s.works.workflow_get(&s.admin, &w.id).await.unwrap(), w2);

    // Disable, enable, and delete through the forms.
    let (_, location, _) = submit(s, &b, &format!("{perm_page}/disable"), &[]).await;
    assert_eq!(location, "/ui/permissions?notice=disabled");
    assert!(!perms(s).await[0].enabled);
    let (_, location, _) = submit(s, &b, &format!("{perm_page}/delete"), &[]).await;
    assert_eq!(location, "/ui/permissions?notice=deleted");
    assert!(perms(s).await.is_empty());
    let (_, location, _) = submit(s, &b, &format!("/ui/workflows/{}/delete", w.id), &[]).await;
    assert_eq!(location, "/ui/workflows?notice=deleted");
    let (_, location, _) = submit(s, &b, &format!("{conn_page}/delete"), &[]).await;
    assert_eq!(location, "/ui/connections?notice=deleted");
    assert!(s.works.connection_list(&s.admin, ConnectionQuery::default()).await.unwrap().items.is_empty());

    // A capability pack attached to an organization in one step from the catalog page.
    let (_, body) = page(s, &b, "/ui/capabilities").await;
    assert!(body.contains("/ui/capabilities/packs/office_essentials/attach"), "{body}");
    let (status, location, _) = submit(s, &b, "/ui/capabilities/packs/office_essentials/attach", &[("org_id", acme.id.as_str())]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/ui/capabilities?notice=attached"));
    assert_eq!(perms(s).await.len(), 3, "the pack's three capabilities are enabled");
    let (_, body) = page(s, &other, "/ui/capabilities").await;
    assert!(body.contains(&bolt.name) && !body.contains(&acme.name), "an org admin attaches only to their own organization: {body}");
}
