//! How results look: aligned tables and key-value blocks for people, the core types'
//! own JSON for machines.

use chrono::{DateTime, Utc};
use serde::Serialize;
use works_core::{ApiToken, AuditPage, AuditRecord, AuditVerification, Error, Org, Result, User};

/// JSON of a core type, exactly as serde writes it.
pub fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| Error::internal(format!("Could not write the result as JSON: {e}")))
}

pub fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn time_or(at: &Option<DateTime<Utc>>, none: &str) -> String {
    at.as_ref().map(time).unwrap_or_else(|| none.to_owned())
}

/// Columns padded to the widest cell; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            line.push_str(cell);
            if i < last {
                let pad = w.saturating_sub(cell.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `Label  value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let pad = width - k.chars().count() + 2;
        out.push_str(k);
        out.extend(std::iter::repeat_n(' ', pad));
        out.push_str(v);
        out.push('\n');
    }
    out
}

fn org_status(org: &Org) -> String {
    match &org.archived_at {
        Some(at) => format!("archived {}", time(at)),
        None => "active".into(),
    }
}

pub fn org(org: &Org) -> String {
    fields(&[
        ("ID", org.id.clone()),
        ("Name", org.name.clone()),
        ("Status", org_status(org)),
        ("Created", time(&org.created_at)),
        ("Updated", time(&org.updated_at)),
    ])
}

pub fn orgs(orgs: &[Org]) -> String {
    if orgs.is_empty() {
        return "No organizations.\n".into();
    }
    let rows: Vec<Vec<String>> =
        orgs.iter().map(|o| vec![o.id.clone(), o.name.clone(), org_status(o), time(&o.created_at)]).collect();
    table(&["ID", "NAME", "STATUS", "CREATED"], &rows)
}

fn user_status(user: &User) -> &'static str {
    if user.disabled {
        "disabled"
    } else {
        "active"
    }
}

pub fn user(user: &User) -> String {
    fields(&[
        ("ID", user.id.clone()),
        ("Username", user.username.clone()),
        ("Display name", user.display_name.clone()),
        ("Role", format!("{} ({})", user.role.as_str(), user.role.label())),
        ("Organization", user.org_id.clone().unwrap_or_else(|| "none (MSP)".into())),
        ("Status", user_status(user).into()),
        ("Created", time(&user.created_at)),
        ("Updated", time(&user.updated_at)),
    ])
}

pub fn users(users: &[User]) -> String {
    if users.is_empty() {
        return "No users.\n".into();
    }
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.id.clone(),
                u.username.clone(),
                u.display_name.clone(),
                u.role.as_str().into(),
                u.org_id.clone().unwrap_or_else(|| "-".into()),
                user_status(u).into(),
            ]
        })
        .collect();
    table(&["ID", "USERNAME", "DISPLAY NAME", "ROLE", "ORGANIZATION", "STATUS"], &rows)
}

fn token_status(t: &ApiToken) -> String {
    match (&t.revoked_at, &t.expires_at) {
        (Some(at), _) => format!("revoked {}", time(at)),
        (None, Some(exp)) if *exp <= Utc::now() => "expired".into(),
        _ => "active".into(),
    }
}

pub fn token(t: &ApiToken) -> String {
    fields(&[
        ("ID", t.id.clone()),
        ("Name", t.name.clone()),
        ("Starts with", format!("{}…", t.prefix)),
        ("Owner", t.user_id.clone()),
        ("Status", token_status(t)),
        ("Created", time(&t.created_at)),
        ("Expires", time_or(&t.expires_at, "never")),
        ("Last used", time_or(&t.last_used_at, "never")),
    ])
}

pub fn tokens(tokens: &[ApiToken]) -> String {
    if tokens.is_empty() {
        return "No API tokens.\n".into();
    }
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.name.clone(),
                format!("{}…", t.prefix),
                token_status(t),
                time(&t.created_at),
                time_or(&t.expires_at, "never"),
                time_or(&t.last_used_at, "never"),
            ]
        })
        .collect();
    table(&["ID", "NAME", "STARTS WITH", "STATUS", "CREATED", "EXPIRES", "LAST USED"], &rows)
}

fn target(r: &AuditRecord) -> String {
    match &r.target_id {
        Some(id) => format!("{} {}", r.target_kind, id),
        None => r.target_kind.clone(),
    }
}

pub fn audit(page: &AuditPage) -> String {
    if page.records.is_empty() {
        return "No audit records.\n".into();
    }
    let rows: Vec<Vec<String>> = page
        .records
        .iter()
        .map(|r| {
            vec![
                r.seq.to_string(),
                time(&r.at),
                r.actor_name.clone(),
                r.action.clone(),
                r.outcome.as_str().into(),
                target(r),
                r.reason.clone(),
            ]
        })
        .collect();
    let mut out = table(&["SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "TARGET", "REASON"], &rows);
    if let Some(before) = page.next_before {
        out.push_str(&format!("Older records: works audit --before {before}\n"));
    }
    out
}

pub fn verification(v: &AuditVerification) -> String {
    if v.intact {
        format!("The audit log is intact: {} records checked, every link verified.\n", v.checked)
    } else {
        let at = v.broken_at_seq.map(|s| s.to_string()).unwrap_or_else(|| "?".into());
        let problem = v.problem.clone().unwrap_or_default();
        format!("The audit log is BROKEN at record {at}: {problem}\n{} records checked.\n", v.checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell() {
        let t = table(&["ID", "NAME"], &[vec!["1".into(), "Acme".into()], vec!["1234".into(), "Bé".into()]]);
        assert_eq!(t, "ID    NAME\n1     Acme\n1234  Bé\n");
    }

    #[test]
    fn fields_align_values() {
        assert_eq!(fields(&[("ID", "1".into()), ("Name", "x".into())]), "ID    1\nName  x\n");
    }

    #[test]
    fn times_read_plainly() {
        let at: DateTime<Utc> = "2025-01-31T09:05:00.123Z".parse().unwrap();
        assert_eq!(time(&at), "2025-01-31 09:05:00 UTC");
    }
}
