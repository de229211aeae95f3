//! Live actions: the outside calls a live workflow run may make, as traits the core
//! defines and adapters implement. The first is Google Drive "list files". Every result
//! is labelled "Live data" (it came from the outside system) or "Stub" (demo data, or a
//! record of what would have been done).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::workflows::ListFilesParams;

/// Where a step's result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DataLabel {
    /// Read from the outside system just now.
    #[serde(rename = "Live data")]
    LiveData,
    /// Demo data, or a record of what would have been done: nothing outside was touched.
    #[serde(rename = "Stub")]
    Stub,
}

impl DataLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            DataLabel::LiveData => "Live data",
            DataLabel::Stub => "Stub",
        }
    }
}

/// One file of a Drive listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriveFile {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub modified_time: Option<String>,
}

/// The files of a Drive listing, all pages followed up to the step's limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriveListing {
    pub label: DataLabel,
    pub files: Vec<DriveFile>,
    /// How many pages were read.
    pub pages: u32,
    /// True when more pages followed than the step allowed.
    pub truncated: bool,
}

/// Google Drive, as the core needs it. The adapter calls Drive v3 `files.list` with the
/// bearer token and follows `nextPageToken` up to `max_pages`. Its errors are plain
/// English saying what Drive answered and what to do: `Error::Forbidden` when Drive
/// refused the token itself (expired, revoked, lacking the scope), which puts the
/// connection in `error` with that reason; `Error::Unavailable` for everything else.
#[async_trait]
pub trait DriveApi: Send + Sync + 'static {
    async fn list_files(&self, token: &str, params: &ListFilesParams) -> Result<DriveListing>;
}

/// The demo listing shown when a connection has no token: clearly a stub.
pub fn demo_listing() -> DriveListing {
    let file = |id: &str, name: &str, mime: &str| DriveFile { id: id.into(), name: name.into(), mime_type: Some(mime.into()), modified_time: Some("2026-11-20T10:00:00.000Z".into()) };
    DriveListing {
        label: DataLabel::Stub,
        files: vec![
            file("demo-1", "Quarterly report (demo).pdf", "application/pdf"),
            file("demo-2", "Customer list (demo)", "application/vnd.google-apps.spreadsheet"),
            file("demo-3", "Onboarding notes (demo)", "application/vnd.google-apps.document"),
        ],
        pages: 0,
        truncated: false,
    }
}
