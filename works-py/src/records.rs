//! The records the core returns, as frozen Python objects: read-only attributes,
//! equality, hashing and a readable `repr`. Datetimes are timezone-aware (UTC); enums
//! are their lower-case names (`"org_admin"`, `"denied"`).

use chrono::{DateTime, SecondsFormat, Utc};
use pyo3::prelude::*;

/// A string as Python's `repr` writes it: single quotes, unless the text holds a
/// single quote and no double quote.
pub(crate) fn q(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

pub(crate) fn q_opt(s: &Option<String>) -> String {
    s.as_deref().map(q).unwrap_or_else(|| "None".to_owned())
}

pub(crate) fn when(at: &DateTime<Utc>) -> String {
    q(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub(crate) fn when_opt(at: &Option<DateTime<Utc>>) -> String {
    at.as_ref().map(when).unwrap_or_else(|| "None".to_owned())
}

pub(crate) fn flag(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A customer organization of the MSP.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Org {
    /// The organization's id.
    #[pyo3(get)]
    pub id: String,
    /// Its name, unique among organizations (ignoring case).
    #[pyo3(get)]
    pub name: String,
    /// When it was created (UTC).
    #[pyo3(get)]
    pub created_at: DateTime<Utc>,
    /// When it last changed (UTC).
    #[pyo3(get)]
    pub updated_at: DateTime<Utc>,
    /// When it was archived, or None. Archived organizations keep their records, but
    /// their users can no longer sign in.
    #[pyo3(get)]
    pub archived_at: Option<DateTime<Utc>>,
}

#[pymethods]
impl Org {
    /// True once the organization is archived.
    #[getter]
    fn archived(&self) -> bool {
        self.archived_at.is_some()
    }

    fn __repr__(&self) -> String {
        format!(
            "Org(id={}, name={}, created_at={}, archived_at={})",
            q(&self.id),
            q(&self.name),
            when(&self.created_at),
            when_opt(&self.archived_at)
        )
    }
}

impl From<works_core::Org> for Org {
    fn from(o: works_core::Org) -> Self {
        Org { id: o.id, name: o.name, created_at: o.created_at, updated_at: o.updated_at, archived_at: o.archived_at }
    }
}

/// A person who signs in. MSP users (`msp_admin`, `msp_operator`) have no organization.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct User {
    /// The user's id.
    #[pyo3(get)]
    pub id: String,
    /// The name they sign in with.
    #[pyo3(get)]
    pub username: String,
    /// The name people see.
    #[pyo3(get)]
    pub display_name: String,
    /// One of `msp_admin`, `msp_operator`, `org_admin`, `org_user`.
    #[pyo3(get)]
    pub role: String,
    /// The organization of an organization role; None for MSP roles.
    #[pyo3(get)]
    pub org_id: Option<String>,
    /// True when the user may not sign in.
    #[pyo3(get)]
    pub disabled: bool,
    /// When the user was created (UTC).
    #[pyo3(get)]
    pub created_at: DateTime<Utc>,
    /// When the user last changed (UTC).
    #[pyo3(get)]
    pub updated_at: DateTime<Utc>,
}

#[pymethods]
impl User {
    fn __repr__(&self) -> String {
        format!(
            "User(id={}, username={}, display_name={}, role={}, org_id={}, disabled={})",
            q(&self.id),
            q(&self.username),
            q(&self.display_name),
            q(&self.role),
            q_opt(&self.org_id),
            flag(self.disabled)
        )
    }
}

impl From<works_core::User> for User {
    fn from(u: works_core::User) -> Self {
        User {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role.as_str().to_owned(),
            org_id: u.org_id,
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// An API token's public face. Its secret was shown once, at creation.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiToken {
    /// The token's id (not its secret).
    #[pyo3(get)]
    pub id: String,
    /// The user who owns it and whose rights it carries.
    #[pyo3(get)]
    pub user_id: String,
    /// What it is for.
    #[pyo3(get)]
    pub name: String,
    /// The first characters of the secret, to recognise it by.
    #[pyo3(get)]
    pub prefix: String,
    /// When it was created (UTC).
    #[pyo3(get)]
    pub created_at: DateTime<Utc>,
    /// When it stops working, or None for never.
    #[pyo3(get)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute), or None.
    #[pyo3(get)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, or None.
    #[pyo3(get)]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[pymethods]
impl ApiToken {
    /// True once the token is revoked.
    #[getter]
    fn revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    fn __repr__(&self) -> String {
        format!(
            "ApiToken(id={}, name={}, prefix={}, user_id={}, expires_at={}, revoked_at={})",
            q(&self.id),
            q(&self.name),
            q(&self.prefix),
            q(&self.user_id),
            when_opt(&self.expires_at),
            when_opt(&self.revoked_at)
        )
    }
}

impl From<works_core::ApiToken> for ApiToken {
    fn from(t: works_core::ApiToken) -> Self {
        ApiToken {
            id: t.id,
            user_id: t.user_id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A freshly created API token. `token` is the secret: it is not stored anywhere and
/// cannot be shown again, so keep it now. It is left out of `repr`.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CreatedToken {
    /// The secret, to pass as `works.connect(url, token=...)`.
    #[pyo3(get)]
    pub token: String,
    /// The token's public record.
    #[pyo3(get)]
    pub info: ApiToken,
}

#[pymethods]
impl CreatedToken {
    fn __repr__(&self) -> String {
        format!("CreatedToken(info={}, token=<secret, shown once: read .token>)", self.info.__repr__())
    }
}

impl From<works_core::CreatedToken> for CreatedToken {
    fn from(c: works_core::CreatedToken) -> Self {
        CreatedToken { token: c.token, info: c.info.into() }
    }
}

/// The outcome of a password reset. `generated_password` is set only when the password
/// was generated; it is shown this once and left out of `repr`.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PasswordReset {
    /// The user whose password was reset.
    #[pyo3(get)]
    pub user: User,
    /// The generated password, or None when one was given.
    #[pyo3(get)]
    pub generated_password: Option<String>,
}

#[pymethods]
impl PasswordReset {
    fn __repr__(&self) -> String {
        let password = if self.generated_password.is_some() { "<generated, shown once: read .generated_password>" } else { "None" };
        format!("PasswordReset(user={}, generated_password={password})", self.user.__repr__())
    }
}

impl From<works_core::PasswordReset> for PasswordReset {
    fn from(p: works_core::PasswordReset) -> Self {
        PasswordReset { user: p.user.into(), generated_password: p.generated_password }
    }
}

/// One record of the audit log: a change, or a refused attempt.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuditRecord {
    /// Position in the hash chain, from 1.
    #[pyo3(get)]
    pub seq: i64,
    /// When it happened (UTC, to the millisecond).
    #[pyo3(get)]
    pub at: DateTime<Utc>,
    /// Who acted: a user id, or `system`.
    #[pyo3(get)]
    pub actor_id: String,
    /// The actor as the log shows them (`admin`, `admin (local)`).
    #[pyo3(get)]
    pub actor_name: String,
    /// The organization the record belongs to, if any.
    #[pyo3(get)]
    pub org_id: Option<String>,
    /// What was attempted, e.g. `org.create`.
    #[pyo3(get)]
    pub action: String,
    /// The kind of record acted on, e.g. `org`.
    #[pyo3(get)]
    pub target_kind: String,
    /// The record acted on, if any.
    #[pyo3(get)]
    pub target_id: Option<String>,
    /// `succeeded`, `denied` (because of who asked), `rejected` (because of what was
    /// asked) or `failed` (allowed and tried, and it did not work).
    #[pyo3(get)]
    pub outcome: String,
    /// Why, in plain English, with secrets redacted.
    #[pyo3(get)]
    pub reason: String,
    /// The hash of the record before this one.
    #[pyo3(get)]
    pub prev_hash: String,
    /// This record's hash.
    #[pyo3(get)]
    pub hash: String,
}

#[pymethods]
impl AuditRecord {
    fn __repr__(&self) -> String {
        format!(
            "AuditRecord(seq={}, at={}, actor_name={}, action={}, target_id={}, outcome={}, reason={})",
            self.seq,
            when(&self.at),
            q(&self.actor_name),
            q(&self.action),
            q_opt(&self.target_id),
            q(&self.outcome),
            q(&self.reason)
        )
    }
}

impl From<works_core::AuditRecord> for AuditRecord {
    fn from(r: works_core::AuditRecord) -> Self {
        AuditRecord {
            seq: r.seq,
            at: r.at,
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            org_id: r.org_id,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            outcome: r.outcome.as_str().to_owned(),
            reason: r.reason,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// The result of checking the audit log's whole hash chain.
#[pyclass(frozen, eq, hash, module = "works")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuditVerification {
    /// True when every record is intact and in order.
    #[pyo3(get)]
    pub intact: bool,
    /// How many records were checked.
    #[pyo3(get)]
    pub checked: u64,
    /// The first record where the chain breaks, or None.
    #[pyo3(get)]
    pub broken_at_seq: Option<i64>,
    /// What is wrong there, in plain English, or None.
    #[pyo3(get)]
    pub problem: Option<String>,
}

#[pymethods]
impl AuditVerification {
    fn __repr__(&self) -> String {
        format!(
            "AuditVerification(intact={}, checked={}, broken_at_seq={}, problem={})",
            flag(self.intact),
            self.checked,
            self.broken_at_seq.map(|s| s.to_string()).unwrap_or_else(|| "None".to_owned()),
            q_opt(&self.problem)
        )
    }
}

impl From<works_core::AuditVerification> for AuditVerification {
    fn from(v: works_core::AuditVerification) -> Self {
        AuditVerification { intact: v.intact, checked: v.checked, broken_at_seq: v.broken_at_seq, problem: v.problem }
    }
}
