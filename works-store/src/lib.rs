//! SQLite and PostgreSQL implementations of `works_core::Store`.
//!
//! [`open`] picks the backend from the URL once, at start-up, and runs that backend's
//! versioned migrations. Both backends share every SQL statement (`sql.rs`) and every
//! method body (`backend.rs`); they differ only in how a write transaction starts, how
//! the audit chain is held while a record is appended, and how a job is picked to claim:
//!
//! - SQLite (WAL, `synchronous=NORMAL`, foreign keys on, 5 s busy timeout) writes through
//!   one connection with `BEGIN IMMEDIATE`, so the write lock is taken before the chain
//!   head is read or a job is picked, also against other processes.
//! - PostgreSQL takes a transaction-scoped advisory lock before reading the chain head, so
//!   several servers on one database never hand out the same `seq`, and picks a job to
//!   claim with `FOR UPDATE SKIP LOCKED`, so concurrent claimers take different jobs.
//!
//! Timestamps are stored as unix milliseconds (BIGINT), ids as TEXT.
//!
//! Details the trait leaves open, decided here:
//! - Updating or deleting a record that does not exist (`update_org`, `update_user`,
//!   `update_user_and_end_access`, `revoke_token`, `delete_session`) is
//!   `Error::NotFound` and records nothing; `touch_token` of a missing token does nothing.
//! - Revoking a revoked token keeps its first revocation time.
//! - A user in an organization that does not exist, or a token or session of a user that
//!   does not exist, is `Error::InvalidInput` naming `org_id` or `user_id`.
//! - Audit queries: `since` and `until` are both inclusive; an action ending in `.` is a
//!   case-sensitive prefix.
//! - Organizations are listed by name ignoring ASCII case, then by name and id; the
//!   PostgreSQL schema orders names bytewise (`COLLATE "C"`) like SQLite does.
//! - `update_node` writes the name and `updated_at`; `created_at` never changes and
//!   `retired_at` changes only through `retire_node`, which keeps the first retirement
//!   time. `update_node`, `retire_node`, `record_checkin` and `revoke_agent_credentials`
//!   of a node that does not exist, and `job_heartbeat` of a job that does not exist, are
//!   `Error::NotFound` and record nothing. `insert_agent_credential` revokes the earlier
//!   credentials at the new credential's `created_at`.
//! - `update_job` of a job that does not exist is a `Conflict` too: no stored state is
//!   the expected one.
//! - `claim_job` also sets `updated_at` to the claim time. Claims and `overdue_jobs` take
//!   the oldest first (by `created_at`, then id); `list_jobs` is newest first. Nodes are
//!   listed by name (bytewise) and id.
//! - A stored node health report that cannot be read (an older format) is returned as no
//!   report, with a warning in the log; it is replaced at the next check-in.
//! - A lease whose `expires_at` is at or before `now` is expired.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

use std::path::Path;
use std::sync::Arc;

use works_core::{Error, Result, Store};

mod backend;
pub mod backup;
mod error;
pub mod master_key;
mod rows;
mod sql;
pub mod testing;

pub use backup::{backup_engine, probe};
pub use master_key::master_key;

/// Opens the store at `url` and brings its schema up to date.
///
/// - `sqlite://<path>` (for example `sqlite:///srv/works/works.db` or a relative
///   `sqlite://works.db`); the file is created when missing. `sqlite::memory:` keeps
///   everything in memory for the life of the store.
/// - `postgres://…` or `postgresql://…`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    let url = url.trim();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(backend::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(backend::PgStore::open(url).await?))
    } else if url.is_empty() {
        Err(Error::invalid("database", "must not be empty: give a sqlite:// or postgres:// URL"))
    } else {
        Err(Error::invalid(
            "database",
            "must be a URL starting with sqlite:// (a database file) or postgres:// (a PostgreSQL server)",
        ))
    }
}

/// The URL of the database file `works.db` in `dir`.
pub fn sqlite_url_for_dir(dir: &Path) -> String {
    let path = dir.join("works.db");
    format!("sqlite://{}?mode=rwc", encode_path(&path.to_string_lossy()))
}

/// Escapes the characters a SQLite URL gives meaning to (`%`, `?`, `#`).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_url_escapes_reserved_characters() {
        let url = sqlite_url_for_dir(Path::new("/data/50%?#x"));
        assert_eq!(url, "sqlite:///data/50%25%3F%23x/works.db?mode=rwc");
    }

    #[tokio::test]
    async fn unknown_schemes_name_the_database_field() {
        for url in ["mysql://localhost/works", "", "works.db"] {
            match open(url).await {
                Err(Error::InvalidInput { field, problem }) => {
                    assert_eq!(field, "database");
                    assert!(problem.contains("sqlite://"), "{problem}");
                }
                Err(other) => panic!("unexpected error for {url:?}: {other:?}"),
                Ok(_) => panic!("{url:?} was accepted"),
            }
        }
    }
}
