//! The resource commands. Each is one operation of `works_core::Api` (lists repeat it
//! page by page) and a rendering of its result.

use std::future::Future;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use works_core::{
    Api, AuditQuery, Error, Listing, NewOrg, NewToken, NewUser, OrgQuery, Outcome, Page, RenameOrg, ResetPassword,
    Result, Role, TokenQuery, UserQuery, UserUpdate,
};

use crate::cli::{AuditArgs, AuditCommand, OrgCommand, TokenCommand, UserCommand};
use crate::output;
use crate::secrets;

/// Fetches every page of a list, or up to `limit` records.
pub async fn all_pages<T, F, Fut>(limit: Option<u32>, mut fetch: F) -> Result<Listing<T>>
where
    F: FnMut(Option<u32>, Option<u32>) -> Fut,
    Fut: Future<Output = Result<Listing<T>>>,
{
    let mut items: Vec<T> = Vec::new();
    let mut offset: Option<u32> = None;
    loop {
        let want = match limit {
            // The core judges a limit of 0 or one that is too large.
            Some(l) if items.is_empty() && (l == 0 || l > Page::MAX_LIMIT) => l,
            Some(l) => (l - items.len() as u32).min(Page::MAX_LIMIT),
            None => Page::MAX_LIMIT,
        };
        let page = fetch(offset, Some(want)).await?;
        items.extend(page.items);
        let reached = limit.is_some_and(|l| items.len() as u32 >= l);
        match page.next_offset {
            Some(next) if !reached && offset.is_none_or(|o| next > o) => offset = Some(next),
            next => return Ok(Listing { items, next_offset: if reached { next } else { None } }),
        }
    }
}

fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::invalid(field, "must be a time such as 2025-01-31T09:00:00Z"))
}

fn more_hint(next_offset: Option<u32>) -> &'static str {
    if next_offset.is_some() {
        "More records follow; raise --limit to see them.\n"
    } else {
        ""
    }
}

pub async fn whoami(api: &dyn Api, json: bool) -> Result<String> {
    let user = api.whoami().await?;
    if json {
        return output::json(&user);
    }
    Ok(output::user(&user))
}

/// `works status`: the executive summary of what the caller may see.
pub async fn status(api: &dyn Api, json: bool) -> Result<String> {
    let s = api.status_summary().await?;
    if json {
        return output::json(&s);
    }
    let c = &s.counts;
    let mut out = format!("{}: {}\n\n", s.state.label(), s.summary);
    out.push_str(&format!("Organizations:       {}\n", c.organizations));
    out.push_str(&format!(
        "Nodes:               {} online, {} stale, {} offline, {} waiting for an agent\n",
        c.nodes_online, c.nodes_stale, c.nodes_offline, c.nodes_waiting
    ));
    out.push_str(&format!(
        "OpenClaw instances:  {} healthy, {} not healthy, {} deploying or unknown\n",
        c.instances_healthy, c.instances_unhealthy, c.instances_other
    ));
    out.push_str(&format!("Failed jobs (24 h):  {}\n", c.jobs_failed_24h));
    out.push_str(&format!("Runs to approve:     {}\n", c.runs_awaiting_approval));
    if !s.versions.is_empty() {
        let versions: Vec<String> = s.versions.iter().map(|v| format!("{} ({})", v.version, v.instances)).collect();
        out.push_str(&format!("OpenClaw versions:   {}\n", versions.join(", ")));
    }
    if s.incidents.is_empty() {
        out.push_str("\nNo incidents.\n");
    } else {
        out.push_str(&format!("\nIncidents, newest first ({}):\n", s.incidents.len()));
        for i in &s.incidents {
            out.push_str(&format!("  {} — {}\n    {}\n    Next: {}\n", i.severity.label(), i.title, i.why, i.next_action));
        }
    }
    Ok(out)
}

pub async fn org(api: &dyn Api, cmd: OrgCommand, json: bool) -> Result<String> {
    let (headline, org) = match cmd {
        OrgCommand::List { include_archived, limit } => {
            let listing = all_pages(limit, |offset, limit| api.org_list(OrgQuery { include_archived, offset, limit }))
                .await?;
            if json {
                return output::json(&listing);
            }
            return Ok(output::orgs(&listing.items) + more_hint(listing.next_offset));
        }
        OrgCommand::Create { name } => {
            let org = api.org_create(NewOrg { name }).await?;
            (format!("Created organization {}.", org.name), org)
        }
        OrgCommand::Get { id } => (String::new(), api.org_get(&id).await?),
        OrgCommand::Rename { id, name } => {
            let org = api.org_rename(&id, RenameOrg { name }).await?;
            (format!("Renamed the organization to {}.", org.name), org)
        }
        OrgCommand::Archive { id } => {
            let org = api.org_archive(&id).await?;
            (format!("Archived organization {}; its users can no longer sign in.", org.name), org)
        }
    };
    if json {
        return output::json(&org);
    }
    Ok(with_headline(&headline, output::org(&org)))
}

fn with_headline(headline: &str, body: String) -> String {
    if headline.is_empty() {
        body
    } else {
        format!("{headline}\n\n{body}")
    }
}

fn new_password(password_stdin: bool) -> Result<String> {
    if password_stdin {
        return secrets::from_stdin("password");
    }
    if let Some(p) = secrets::from_env("WORKS_NEW_PASSWORD") {
        return Ok(p);
    }
    if secrets::stdin_is_terminal() {
        return secrets::prompt_new("password", "Password for the new user: ");
    }
    Err(Error::invalid(
        "password",
        "is needed: pipe it with --password-stdin or set WORKS_NEW_PASSWORD",
    ))
}

pub async fn user(api: &dyn Api, cmd: UserCommand, json: bool) -> Result<String> {
    let (headline, user) = match cmd {
        UserCommand::List { org, include_disabled, limit } => {
            let listing = all_pages(limit, |offset, limit| {
                api.user_list(UserQuery { org_id: org.clone(), include_disabled, offset, limit })
            })
            .await?;
            if json {
                return output::json(&listing);
            }
            return Ok(output::users(&listing.items) + more_hint(listing.next_offset));
        }
        UserCommand::ResetPassword { id, password_stdin } => {
            let new_password = if password_stdin { Some(secrets::from_stdin("new_password")?) } else { None };
            let reset = api.user_reset_password(&id, ResetPassword { new_password }).await?;
            if json {
                return output::json(&reset);
            }
            let mut out = format!(
                "Reset the password of {}; their sessions and API tokens were ended.\n",
                reset.user.username
            );
            if let Some(p) = &reset.generated_password {
                out.push_str(&format!("New password: {p}\nIt is shown only this once.\n"));
            }
            return Ok(out);
        }
        UserCommand::Create { username, role, org, display_name, password_stdin } => {
            let role = Role::from_str(&role)?;
            let password = new_password(password_stdin)?;
            let user = api.user_create(NewUser { username, display_name, role, org_id: org, password }).await?;
            (format!("Created user {} ({}).", user.username, user.role.label()), user)
        }
        UserCommand::Get { id } => (String::new(), api.user_get(&id).await?),
        UserCommand::Update { id, role, org, display_name } => {
            let role = role.as_deref().map(Role::from_str).transpose()?;
            let user = api.user_update(&id, UserUpdate { display_name, role, org_id: org }).await?;
            (format!("Updated user {}.", user.username), user)
        }
        UserCommand::Disable { id } => {
            let user = api.user_disable(&id).await?;
            (format!("Disabled user {}; their sessions and API tokens were ended.", user.username), user)
        }
        UserCommand::Enable { id } => {
            let user = api.user_enable(&id).await?;
            (format!("Enabled user {}.", user.username), user)
        }
    };
    if json {
        return output::json(&user);
    }
    Ok(with_headline(&headline, output::user(&user)))
}

pub async fn token(api: &dyn Api, cmd: TokenCommand, json: bool) -> Result<String> {
    match cmd {
        TokenCommand::Create { name, expires_in_days } => {
            let created = api.token_create(NewToken { name, expires_in_days }).await?;
            if json {
                return output::json(&created);
            }
            Ok(format!(
                "Created API token {}.\n\nToken: {}\nCopy it now: it is not stored and cannot be shown again.\n\n{}",
                created.info.name,
                created.token,
                output::token(&created.info)
            ))
        }
        TokenCommand::List { user, limit } => {
            let listing =
                all_pages(limit, |offset, limit| api.token_list(TokenQuery { user_id: user.clone(), offset, limit }))
                    .await?;
            if json {
                return output::json(&listing);
            }
            Ok(output::tokens(&listing.items) + more_hint(listing.next_offset))
        }
        TokenCommand::Revoke { id } => {
            let token = api.token_revoke(&id).await?;
            if json {
                return output::json(&token);
            }
            Ok(with_headline(&format!("Revoked API token {}.", token.name), output::token(&token)))
        }
    }
}

pub async fn audit(api: &dyn Api, args: AuditArgs, json: bool) -> Result<String> {
    if let Some(AuditCommand::Verify) = args.command {
        let verification = api.audit_verify().await?;
        if json {
            return output::json(&verification);
        }
        return Ok(output::verification(&verification));
    }
    let outcome = args
        .outcome
        .as_deref()
        .map(|o| {
            Outcome::parse(o.trim()).ok_or_else(|| Error::invalid("outcome", "must be one of succeeded, denied, rejected, failed"))
        })
        .transpose()?;
    let query = AuditQuery {
        actor_id: args.actor,
        org_id: args.org,
        action: args.action,
        outcome,
        target_id: args.target,
        since: args.since.as_deref().map(|t| parse_time("since", t)).transpose()?,
        until: args.until.as_deref().map(|t| parse_time("until", t)).transpose()?,
        before_seq: args.before,
        limit: args.limit,
    };
    let page = api.audit_query(query).await?;
    if json {
        return output::json(&page);
    }
    Ok(output::audit(&page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(total: u32) -> impl FnMut(Option<u32>, Option<u32>) -> std::future::Ready<Result<Listing<u32>>> {
        move |offset, limit| {
            let offset = offset.unwrap_or(0);
            let limit = limit.unwrap_or(50);
            let end = (offset + limit).min(total);
            let next_offset = (end < total).then_some(end);
            std::future::ready(Ok(Listing { items: (offset..end).collect(), next_offset }))
        }
    }

    #[tokio::test]
    async fn every_page_is_fetched() {
        let all = all_pages(None, pages(1234)).await.unwrap();
        assert_eq!(all.items, (0..1234).collect::<Vec<_>>());
        assert_eq!(all.next_offset, None);
    }

    #[tokio::test]
    async fn a_limit_stops_early_and_says_more_follow() {
        let some = all_pages(Some(700), pages(1234)).await.unwrap();
        assert_eq!(some.items, (0..700).collect::<Vec<_>>());
        assert_eq!(some.next_offset, Some(700));
        let exact = all_pages(Some(10), pages(10)).await.unwrap();
        assert_eq!((exact.items.len(), exact.next_offset), (10, None));
    }

    #[tokio::test]
    async fn a_zero_limit_is_left_to_the_core() {
        let mut asked = Vec::new();
        let _ = all_pages(Some(0), |o, l| {
            asked.push((o, l));
            std::future::ready(Ok(Listing::<u32> { items: vec![], next_offset: None }))
        })
        .await;
        assert_eq!(asked, vec![(None, Some(0))]);
    }
}
