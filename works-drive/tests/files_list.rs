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
    let cases = [
        ("expired-token", None, "did not accept the connection's token (401)", "Replace the credential"),
        ("no-scope", None, "does not allow this token to list files (403)", "read access"),
        ("busy", None, "too many requests were made (429)", "Wait a few minutes"),
        ("busy-403", None, "too many requests were made (403)", "Wait a few minutes"),
        ("good-token", Some("'missing-folder' in parents"), "did not find what the step asked for (404)", "q parameter"),
    ];
    for (token, q, what, next) in cases {
        let e = drive.list_files(token, &params(q, 10, 1)).await.unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{token}: {e:?}");
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
