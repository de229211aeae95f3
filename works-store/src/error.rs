//! Turning database errors into the core's plain-English errors. Technical detail goes
//! to the log, never to the person.

use sqlx::error::{DatabaseError, ErrorKind};
use works_core::Error;

/// What a write was about, to name the field of a clash.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Org { id: &'a str, name: &'a str },
    User { id: &'a str, username: &'a str, org_id: Option<&'a str> },
    Token { id: &'a str, user_id: &'a str },
    Session { id: &'a str, user_id: &'a str },
    Node { id: &'a str, org_id: Option<&'a str> },
    Enrollment { id: &'a str, node_id: &'a str },
    AgentCredential { id: &'a str, node_id: &'a str },
    Job { id: &'a str, node_id: &'a str },
    Other,
}

/// Maps an error of a write about `subject`: uniqueness clashes become conflicts naming
/// the field, missing referenced records become invalid input naming the field.
pub fn write_error(e: sqlx::Error, subject: Subject<'_>) -> Error {
    if let Some(db) = e.as_database_error() {
        match db.kind() {
            ErrorKind::UniqueViolation => return unique_violation(db, subject),
            ErrorKind::ForeignKeyViolation => return foreign_key_violation(db, subject),
            _ => {}
        }
    }
    db_error(e)
}

fn unique_violation(db: &dyn DatabaseError, subject: Subject<'_>) -> Error {
    // PostgreSQL names the constraint; SQLite names the columns in the message
    // ("UNIQUE constraint failed: users.username").
    let which = db.constraint().map(str::to_owned).unwrap_or_else(|| db.message().to_owned());
    tracing::info!(constraint = %which, "uniqueness clash");
    if which.contains("username") {
        let name = match subject {
            Subject::User { username, .. } => username,
            _ => "with this username",
        };
        return Error::conflict(Some("username"), format!("A user named {name} already exists."));
    }
    if which.contains("orgs_name") {
        let name = match subject {
            Subject::Org { name, .. } => name,
            _ => "with this name",
        };
        return Error::conflict(Some("name"), format!("An organization named {name} already exists."));
    }
    if which.contains("secret_hash") {
        return match subject {
            Subject::Session { .. } => {
                Error::conflict(Some("secret_hash"), "A session with the same secret already exists; sign in again.")
            }
            Subject::Enrollment { .. } => Error::conflict(
                Some("secret_hash"),
                "An enrollment token with the same secret already exists; make the token again.",
            ),
            Subject::AgentCredential { .. } => Error::conflict(
                Some("secret_hash"),
                "An agent credential with the same secret already exists; enroll the agent again.",
            ),
            _ => Error::conflict(
                Some("secret_hash"),
                "An API token with the same secret already exists; create the token again.",
            ),
        };
    }
    if which.contains("audit_log") {
        return Error::unavailable("Another change was recorded at the same moment; try again.");
    }
    match subject {
        Subject::Org { id, .. } => Error::conflict(Some("id"), format!("An organization with id {id} already exists.")),
        Subject::User { id, .. } => Error::conflict(Some("id"), format!("A user with id {id} already exists.")),
        Subject::Token { id, .. } => Error::conflict(Some("id"), format!("An API token with id {id} already exists.")),
        Subject::Session { id, .. } => Error::conflict(Some("id"), format!("A session with id {id} already exists.")),
        Subject::Node { id, .. } => Error::conflict(Some("id"), format!("A node with id {id} already exists.")),
        Subject::Enrollment { id, .. } => {
            Error::conflict(Some("id"), format!("An enrollment token with id {id} already exists."))
        }
        Subject::AgentCredential { id, .. } => {
            Error::conflict(Some("id"), format!("An agent credential with id {id} already exists."))
        }
        Subject::Job { id, .. } => Error::conflict(Some("id"), format!("A job with id {id} already exists.")),
        Subject::Other => Error::conflict(None, "A record with the same value already exists."),
    }
}

fn foreign_key_violation(db: &dyn DatabaseError, subject: Subject<'_>) -> Error {
    tracing::info!(constraint = ?db.constraint(), message = db.message(), "reference to a missing record");
    match subject {
        Subject::User { org_id, .. } | Subject::Node { org_id, .. } => Error::invalid(
            "org_id",
            format!("refers to organization {}, which does not exist", org_id.unwrap_or("(none)")),
        ),
        Subject::Token { user_id, .. } | Subject::Session { user_id, .. } => {
            Error::invalid("user_id", format!("refers to user {user_id}, which does not exist"))
        }
        Subject::Enrollment { node_id, .. } | Subject::AgentCredential { node_id, .. } | Subject::Job { node_id, .. } => {
            Error::invalid("node_id", format!("refers to node {node_id}, which does not exist"))
        }
        Subject::Org { .. } | Subject::Other => {
            Error::conflict(None, "The change refers to a record that does not exist, or is still referred to.")
        }
    }
}

/// Maps any other database error: unreachable or busy → unavailable, the rest → internal.
pub fn db_error(e: sqlx::Error) -> Error {
    if is_disk_full(&e) {
        tracing::error!(error = %e, "the database's disk is full");
        return Error::unavailable(DISK_FULL);
    }
    if is_unavailable(&e) {
        tracing::warn!(error = %e, "database unavailable");
        return Error::unavailable("The database cannot be reached right now.");
    }
    tracing::error!(error = %e, "database error");
    Error::internal("The database reported an unexpected error.")
}

/// What a change refused for want of disk space answers.
pub const DISK_FULL: &str = "The database's disk is full, so the change was not saved (nothing was half-written). Free space where the database keeps its files, or give it a larger disk, then try again.";

/// SQLite's SQLITE_FULL (13), PostgreSQL's disk_full (53100).
fn is_disk_full(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else { return false };
    let Some(code) = db.code() else { return false };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        sqlite_primary_code(code.as_ref()) == Some(13)
    } else {
        code.as_ref() == "53100"
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else { return false };
            let code = code.as_ref();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite: BUSY, LOCKED (and their extended codes), CANTOPEN.
                sqlite_primary_code(code).is_some_and(|c| matches!(c, 5 | 6 | 14))
            } else {
                // PostgreSQL: connection exceptions (08…), insufficient resources (53…),
                // shutdowns and "cannot connect now" (57P…), serialization failure and
                // deadlock (40001, 40P01): all worth retrying.
                code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57P")
                    || code == "40001"
                    || code == "40P01"
            }
        }
        _ => false,
    }
}

/// SQLite reports (extended) result codes as decimal numbers; the primary code is the
/// low byte.
fn sqlite_primary_code(code: &str) -> Option<i64> {
    code.parse::<i64>().ok().map(|c| c & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_are_unavailable() {
        assert!(matches!(db_error(sqlx::Error::PoolTimedOut), Error::Unavailable { .. }));
        assert!(matches!(db_error(sqlx::Error::RowNotFound), Error::Internal { .. }));
    }

    #[test]
    fn sqlite_extended_codes_reduce_to_the_primary_code() {
        assert_eq!(sqlite_primary_code("517"), Some(5)); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(sqlite_primary_code("2067"), Some(19)); // SQLITE_CONSTRAINT_UNIQUE
        assert_eq!(sqlite_primary_code("not a number"), None);
    }
}
