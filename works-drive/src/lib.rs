//! # works-drive
//!
//! Google Drive for live workflow steps: [`GoogleDrive`] implements the core's
//! [`works_core::DriveApi`] by calling Drive v3 `files.list`
//! (`GET {base}/drive/v3/files` with `q`, `pageSize`, `pageToken` and `fields`, and the
//! connection's token as a bearer), following `nextPageToken` up to the step's page
//! limit. Drive's error answers become plain English that says what happened and what
//! to do. The token is never logged or put in an error.
//!
//! The base address comes from `WORKS_GOOGLE_DRIVE_BASE_URL` (default
//! `https://www.googleapis.com`), so tests and proxies can stand in for Drive.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use works_core::{DataLabel, DriveApi, DriveFile, DriveListing, Error, ListFilesParams, Result};

/// Where Drive answers when nothing else is configured.
pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com";
/// The fields asked of `files.list`.
pub const FIELDS: &str = "nextPageToken,files(id,name,mimeType,modifiedTime)";

/// Drive v3 over HTTPS.
#[derive(Clone)]
pub struct GoogleDrive {
    base: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for GoogleDrive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleDrive").field("base", &self.base).finish()
    }
}

impl GoogleDrive {
    /// A client for Drive at `base_url` (such as `https://www.googleapis.com`) that gives
    /// up on a call after `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self> {
        let base = base_url.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid("WORKS_GOOGLE_DRIVE_BASE_URL", "must start with http:// or https://"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .user_agent(concat!("anthropy-works/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("Could not set up the Google Drive client: {e}")))?;
        Ok(GoogleDrive { base, http })
    }

    /// From `WORKS_GOOGLE_DRIVE_BASE_URL` and `WORKS_GOOGLE_DRIVE_TIMEOUT_SECS` (default 30).
    pub fn from_env() -> Result<Self> {
        let base = std::env::var("WORKS_GOOGLE_DRIVE_BASE_URL").ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let secs = match std::env::var("WORKS_GOOGLE_DRIVE_TIMEOUT_SECS") {
            Ok(v) => v.trim().parse::<u64>().ok().filter(|s| (1..=600).contains(s)).ok_or_else(|| Error::invalid("WORKS_GOOGLE_DRIVE_TIMEOUT_SECS", "must be a number of seconds from 1 to 600"))?,
            Err(_) => 30,
        };
        Self::new(&base, Duration::from_secs(secs))
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileList {
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    files: Vec<FileResource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileResource {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    modified_time: Option<String>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize, Default)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

/// Drive's error answer as plain English: what happened, why, and what to do. A token
/// Drive does not accept (401) or that lacks the permission (403, other than a rate
/// limit) is `Error::Forbidden`: the connection's credential is the problem, and the core
/// puts the connection in `error`. Everything else is `Error::Unavailable`.
pub fn describe_error(status: u16, body: &str) -> Error {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let reason = parsed.error.errors.first().map(|e| e.reason.as_str()).unwrap_or("");
    let said: String = parsed.error.message.chars().filter(|c| !c.is_control()).take(300).collect();
    let said = if said.is_empty() { String::new() } else { format!(" Drive said: \"{said}\"") };
    match (status, reason) {
        (401, _) => Error::forbidden(format!(
            "Google Drive did not accept the connection's token (401): it is invalid or has expired.{said} Replace the credential on the connection, then run the workflow again."
        )),
        (403, "rateLimitExceeded" | "userRateLimitExceeded" | "dailyLimitExceeded") | (429, _) => Error::unavailable(format!(
            "Google Drive refused the call because too many requests were made ({status}).{said} Wait a few minutes, then run the workflow again."
        )),
        (403, _) => Error::forbidden(format!(
            "Google Drive does not allow this token to list files (403): it lacks the permission or scope.{said} Give the connection a token with read access to Drive, then run again."
        )),
        (404, _) => Error::unavailable(format!(
            "Google Drive did not find what the step asked for (404), such as a folder named in its query.{said} Check the step's q parameter, then run again."
        )),
        (s, _) if s >= 500 => Error::unavailable(format!("Google Drive had a problem of its own ({s}).{said} Try the run again later.")),
        (s, _) => Error::unavailable(format!("Google Drive refused the request ({s}).{said} Check the step's parameters, then run again.")),
    }
}

fn transport_error(base: &str, e: reqwest::Error) -> Error {
    tracing::warn!(error = %e, "a Google Drive call failed");
    if e.is_timeout() {
        Error::unavailable(format!("Google Drive at {base} did not answer in time. Check the network and Drive's status, then run again."))
    } else {
        Error::unavailable(format!("Google Drive at {base} could not be reached. Check the network (and WORKS_GOOGLE_DRIVE_BASE_URL), then run again."))
    }
}

#[async_trait]
impl DriveApi for GoogleDrive {
    async fn list_files(&self, token: &str, params: &ListFilesParams) -> Result<DriveListing> {
        let url = format!("{}/drive/v3/files", self.base);
        let mut files = Vec::new();
        let mut page_token: Option<String> = None;
        let mut pages = 0u32;
        let mut truncated = false;
        loop {
            let mut query: Vec<(&str, String)> = vec![("pageSize", params.page_size.to_string()), ("fields", FIELDS.to_owned())];
            if let Some(q) = &params.q {
                query.push(("q", q.clone()));
            }
            if let Some(t) = &page_token {
                query.push(("pageToken", t.clone()));
            }
            let response = self.http.get(&url).bearer_auth(token).query(&query).send().await.map_err(|e| transport_error(&self.base, e))?;
            let status = response.status().as_u16();
            let body = response.text().await.map_err(|e| transport_error(&self.base, e))?;
            if !(200..300).contains(&status) {
                return Err(describe_error(status, &body));
            }
            let list: FileList = serde_json::from_str(&body).map_err(|e| {
                tracing::warn!(error = %e, "Google Drive answered something that is not a file list");
                Error::unavailable("Google Drive answered with something that is not a file list. Check WORKS_GOOGLE_DRIVE_BASE_URL, then run again.")
            })?;
            pages += 1;
            files.extend(list.files.into_iter().map(|f| DriveFile { id: f.id, name: f.name, mime_type: f.mime_type, modified_time: f.modified_time }));
            match list.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) if pages < params.max_pages => page_token = Some(t),
                Some(_) => {
                    truncated = true;
                    break;
                }
                None => break,
            }
        }
        Ok(DriveListing { label: DataLabel::LiveData, files, pages, truncated })
    }
}
