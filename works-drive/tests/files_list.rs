//! The Drive client against a local server that implements the documented `files.list`
//! request and response: the query parameters, paging with `nextPageToken`, the bearer
//! token, and Drive's 401, 403, 404 and 429 error bodies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use works_core::{DataLabel, DriveApi, Error, ListFilesParams};
use works_drive::{GoogleDrive, FIELDS};

type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

fn drive_error(status: StatusCode, reason: &str, message: &str, code_status: &str) -> axum::response::Response {
    let body = json!({
        "error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{ "message": message, "domain": "global", "reason": reason }],
            "status": code_status,
        }
    });
    (status, Json(body)).into_response()
}

async fn files_list(State(seen): State<Seen>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> axum::response::Response {
    seen.lock().unwrap().push(q.clone());
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    match auth {
        "Bearer good-token" => {}
        "Bearer no-scope" => return drive_error(StatusCode::FORBIDDEN, "insufficientPermissions", "Request had insufficient authentication scopes.", "PERMISSION_DENIED"),
        "Bearer busy" => return drive_error(StatusCode::TOO_MANY_REQUESTS, "rateLimitExceeded", "Rate Limit Exceeded", "RESOURCE_EXHAUSTED"),
        "Bearer busy-403" => return drive_error(StatusCode::FORBIDDEN, "userRateLimitExceeded", "User Rate Limit Exceeded", "PERMISSION_DENIED"),
        _ => return drive_error(StatusCode::UNAUTHORIZED, "authError", "Request had invalid authentication credentials.", "UNAUTHENTICATED"),
    }
    if q.get("fields").map(String::as_str) != Some(FIELDS) {
        return drive_error(StatusCode::BAD_REQUEST, "invalidParameter", "Invalid field selection", "INVALID_ARGUMENT");
    }
    if q.get("q").is_some_and(|q| q.contains("'missing-folder' in parents")) {
        return drive_error(StatusCode::NOT_FOUND, "notFound", "File not found: missing-folder.", "NOT_FOUND");
    }
    let page_size: usize = q.get("pageSize").and_then(|p| p.parse().ok()).unwrap_or(100);
    let all: Vec<Value> = (1..=5).map(|i| json!({"kind": "drive#file", "id": format!("file-{i}"), "name": format!("Report {i}.pdf"), "mimeType": "application/pdf", "modifiedTime": "2026-11-20T10:00:00.000Z"})).collect();
    let start: usize = q.get("pageToken").and_then(|t| t.strip_prefix("from-")).and_then(|n| n.parse().ok()).unwrap_or(0);
    let end = (start + page_size).min(all.len());
    let mut body = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": all[start..end]});
    if end < all.len() {
        body["nextPageToken"] = json!(format!("from-{end}"));
    }
    Json(body).into_response()
}

async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new().route("/drive/v3/files", get(files_list)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/"), seen)
}

fn params(q: Option<&str>, page_size: u32, max_pages: u32) -> ListFilesParams {
    ListFilesParams { q: q.map(str::to_owned), page_size, max_pages }
}

#[tokio::test]
async fn lists_files_following_next_page_tokens_with_the_documented_parameters() {
    let (base, seen) = server().await;
    let drive = GoogleDrive::new(&base, Duration::from_secs(30)).unwrap();
    let listing = drive.list_files("good-token", &params(Some("mimeType = 'application/pdf'"), 2, 10)).await.unwrap();
    assert_eq!(listing.label, DataLabel::LiveData);
    assert_eq!(listing.files.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), vec!["file-1", "file-2", "file-3", "file-4", "file-5"]);
    assert_eq!((listing.pages, listing.truncated), (3, false));
    assert_eq!(listing.files[0].mime_type.as_deref(), Some("application/pdf"));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].get("q").map(String::as_str), Some("mimeType = 'application/pdf'"));
    assert_eq!(seen[0].get("pageSize").map(String::as_str), Some("2"));
    assert_eq!(seen[0].get("pageToken"), None);
    assert_eq!(seen[1].get("pageToken").map(String::as_str), Some("from-2"));
    assert_eq!(seen[2].get("pageToken").map(String::as_str), Some("from-4"));
}

#[tokio::test]
async fn stops_at_the_page_limit_and_says_so() {
    let (base, _) = server().await;
    let drive = GoogleDrive::new(&base, Duration::from_secs(30)).unwrap();
    let listing = drive.list_files("good-token", &params(None, 2, 2)).await.unwrap();
    assert_eq!((listing.files.len(), listing.pages, listing.truncated), (4, 2, true));
}

#[tokio::test]
async fn drive_errors_become_plain_english_without_the_token() {
    let (base, _) = server().await;
    let drive = GoogleDrive::new(&base, Duration::from_secs(30)).unwrap();
    // (token, query, what is said, the next action, whether the credential is at fault)
    let cases = [
        ("expired-token", None, "did not accept the connection's token (401)", "Replace the credential", true),
        ("no-scope", None, "does not allow this token to list files (403)", "read access", true),
        ("busy", None, "too many requests were made (429)", "Wait a few minutes", false),
        ("busy-403", None, "too many requests were made (403)", "Wait a few minutes", false),
        ("good-token", Some("'missing-folder' in parents"), "did not find what the step asked for (404)", "q parameter", false),
    ];
    for (token, q, what, next, credential) in cases {
        let e = drive.list_files(token, &params(q, 10, 1)).await.unwrap_err();
        if credential {
            assert!(matches!(e, Error::Forbidden { .. }), "{token}: the credential is refused: {e:?}");
        } else {
            assert!(matches!(e, Error::Unavailable { .. }), "{token}: {e:?}");
        }
        let text = e.to_string();
        assert!(text.contains(what) && text.contains(next), "{token}: {text}");
        assert!(text.contains("Drive said: \""), "{token}: Drive's own message is kept: {text}");
        assert!(!text.contains(token) || token == "good-token", "{token} leaked: {text}");
    }
}

#[tokio::test]
async fn an_unreachable_drive_says_what_to_check() {
    // A port nothing listens on: bind, learn it, let it go.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let drive = GoogleDrive::new(&format!("http://{addr}"), Duration::from_secs(30)).unwrap();
    let e = drive.list_files("good-token", &params(None, 10, 1)).await.unwrap_err();
    assert!(e.to_string().contains("could not be reached") && e.to_string().contains("WORKS_GOOGLE_DRIVE_BASE_URL"), "{e}");
    assert!(GoogleDrive::new("ftp://drive", Duration::from_secs(1)).is_err());
}

/// A live "list files" step whose token Drive refuses fails with Drive's reason, and the
/// connection turns `error` with that reason (audited), so the next run is blocked by the
/// rule `connection_connected` naming it. A new credential makes it `connected` again and
/// the next call lists files. On SQLite, and on PostgreSQL when configured.
#[tokio::test]
async fn a_refused_token_puts_the_connection_in_error_until_the_credential_is_replaced() {
    use works_core::{AuditQuery, ConnectionStatus, ConnectionUpdate, NewConnection, NewPermission, NewWorkflow, Provider, RiskLevel, RunMode, RunState, StartRun, StepOutcome, WorkflowStep};
    let (base, _) = server().await;
    for backend in works_guarantees::backends().await {
        let w = works_guarantees::World::build(backend.store.clone()).await;
        let works = w.works.clone().with_drive(Arc::new(GoogleDrive::new(&base, Duration::from_secs(30)).unwrap()));
        let name = backend.name;
        works
            .permission_create(&w.msp_admin.actor, NewPermission { org_id: w.org_a.id.clone(), capability_id: "google_drive".into(), allowed_actions: Some(vec!["list_files".into()]), max_risk: Some(RiskLevel::Low), require_confirmation: None, approvers_required: None })
            .await
            .unwrap();
        let conn = works
            .connection_create(&w.a_admin.actor, NewConnection { instances: vec![], org_id: None, name: "Acme Drive".into(), provider: Provider::GoogleDrive, capabilities: vec!["google_drive".into()], credential: Some("expired-token".into()), status: None })
            .await
            .unwrap();
        assert_eq!(conn.status, ConnectionStatus::Connected);
        let step = WorkflowStep { capability_id: "google_drive".into(), action: "list_files".into(), connection_id: Some(conn.id.clone()), parameters: json!({"page_size": 2}) };
        let wf = works.workflow_create(&w.a_admin.actor, NewWorkflow { org_id: None, name: "Weekly files".into(), description: None, steps: vec![step] }).await.unwrap();

        // Drive answers 401: the step fails saying why and what to do; the token is not in it.
        let run = works.run_start(&w.a_admin.actor, &wf.id, StartRun { mode: RunMode::Live }).await.unwrap();
        assert_eq!(run.state, RunState::Failed, "[{name}] {}", run.reason);
        let reason = &run.steps[0].reason;
        assert_eq!(run.steps[0].outcome, StepOutcome::Failed);
        assert!(reason.contains("did not accept the connection's token (401)") && reason.contains("Replace the credential") && reason.contains("marked error"), "[{name}] {reason}");
        assert!(!reason.contains("expired-token"), "[{name}] the token leaked: {reason}");

        // The connection says so, for the operator on the connections page, and it is audited.
        let c = works.connection_get(&w.a_admin.actor, &conn.id).await.unwrap();
        assert_eq!(c.status, ConnectionStatus::Error, "[{name}]");
        let why = c.status_reason.clone().unwrap_or_default();
        assert!(why.contains("(401)") && why.contains("Replace the credential"), "[{name}] {why}");
        let audit = works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some("connection.status".into()), ..Default::default() }).await.unwrap();
        assert_eq!(audit.records.len(), 1, "[{name}]");
        assert!(audit.records[0].reason.contains("now in error") && audit.records[0].reason.contains(&run.id), "[{name}] {}", audit.records[0].reason);
        assert_eq!(audit.records[0].org_id.as_deref(), Some(w.org_a.id.as_str()));
        assert!(works.connection_get(&w.b_admin.actor, &conn.id).await.is_err(), "[{name}] another tenant does not see it");

        // While in error, the next run is blocked by the rule, with Drive's reason.
        let blocked = works.run_start(&w.a_admin.actor, &wf.id, StartRun { mode: RunMode::Live }).await.unwrap();
        assert_eq!(blocked.state, RunState::Blocked, "[{name}] {}", blocked.reason);
        assert!(blocked.reason.contains("connection_connected") && blocked.reason.contains("(401)"), "[{name}] {}", blocked.reason);

        // A new credential: connected again, and the next call lists the files (Live data).
        let replaced = works.connection_update(&w.a_admin.actor, &conn.id, ConnectionUpdate { credential: Some("good-token".into()), ..Default::default() }).await.unwrap();
        assert_eq!((replaced.status, replaced.status_reason.as_deref()), (ConnectionStatus::Connected, None), "[{name}]");
        let ok = works.run_start(&w.a_admin.actor, &wf.id, StartRun { mode: RunMode::Live }).await.unwrap();
        assert_eq!(ok.state, RunState::Succeeded, "[{name}] {}", ok.reason);
        assert_eq!(ok.steps[0].label, Some(DataLabel::LiveData));
        assert!(ok.steps[0].reason.contains("Listed 5 file(s)"), "[{name}] {}", ok.steps[0].reason);
        let c = works.connection_get(&w.a_admin.actor, &conn.id).await.unwrap();
        assert_eq!((c.status, c.status_reason), (ConnectionStatus::Connected, None), "[{name}]");

        // A refused token that is not about the credential (rate limit) leaves the status alone.
        works.connection_update(&w.a_admin.actor, &conn.id, ConnectionUpdate { credential: Some("busy".into()), ..Default::default() }).await.unwrap();
        let busy = works.run_start(&w.a_admin.actor, &wf.id, StartRun { mode: RunMode::Live }).await.unwrap();
        assert_eq!(busy.state, RunState::Failed, "[{name}]");
        assert!(busy.steps[0].reason.contains("too many requests"), "[{name}] {}", busy.steps[0].reason);
        assert_eq!(works.connection_get(&w.a_admin.actor, &conn.id).await.unwrap().status, ConnectionStatus::Connected, "[{name}]");
    }
}
