//! The one error type that crosses the core boundary. Every frontend maps it once:
//! an HTTP status, a CLI exit code, a Python exception.

use serde::{Deserialize, Serialize};

/// What went wrong, in plain English, with the next action an operator can take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Error {
    /// The record does not exist, or belongs to a tenant the actor cannot see. The two
    /// cases are answered identically on purpose.
    #[error("No {what} with id {id} exists, or you do not have access to it.")]
    NotFound { what: String, id: String },
    /// The actor is known but may not do this.
    #[error("{message}")]
    Forbidden { message: String },
    /// A field of the request is wrong; `field` names it.
    #[error("{field}: {problem}")]
    InvalidInput { field: String, problem: String },
    /// The request clashes with what exists (a duplicate name, a state that forbids it).
    #[error("{message}")]
    Conflict { field: Option<String>, message: String },
    /// No valid credential was presented.
    #[error("{message}")]
    Unauthenticated { message: String },
    /// Too many attempts; try again later.
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    /// A dependency (the database) cannot be reached right now.
    #[error("{message}")]
    Unavailable { message: String },
    /// Something the software did not expect. The message is safe to show; details are logged.
    #[error("{message}")]
    Internal { message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(what: impl Into<String>, id: impl Into<String>) -> Self {
        Error::NotFound { what: what.into(), id: id.into() }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden { message: message.into() }
    }
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), problem: problem.into() }
    }
    pub fn conflict(field: Option<&str>, message: impl Into<String>) -> Self {
        Error::Conflict { field: field.map(str::to_owned), message: message.into() }
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::Unauthenticated { message: message.into() }
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable { message: message.into() }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal { message: message.into() }
    }

    /// A short machine-readable name of the kind, stable across frontends.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Forbidden { .. } => "forbidden",
            Error::InvalidInput { .. } => "invalid_input",
            Error::Conflict { .. } => "conflict",
            Error::Unauthenticated { .. } => "unauthenticated",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable { .. } => "unavailable",
            Error::Internal { .. } => "internal",
        }
    }

    /// The field the error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidInput { field, .. } => Some(field),
            Error::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// What the person seeing this error can do next, in plain English.
    pub fn next_action(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "Check the id, or ask an administrator for access.",
            Error::Forbidden { .. } => "Ask an administrator with the right role to do this.",
            Error::InvalidInput { .. } => "Correct the named field and try again.",
            Error::Conflict { .. } => "Choose a different value, or refresh to see the current state.",
            Error::Unauthenticated { .. } => "Sign in again, or use a valid API token.",
            Error::RateLimited { .. } => "Wait a few minutes before trying again.",
            Error::Unavailable { .. } => "Try again shortly; if it persists, check that the server and its database are running.",
            Error::Internal { .. } => "Try again; if it persists, check the server log.",
        }
    }

    /// Was the request refused because of who asked (as opposed to what was asked)?
    pub fn is_denial(&self) -> bool {
        matches!(self, Error::NotFound { .. } | Error::Forbidden { .. })
    }
}
