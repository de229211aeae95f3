//! Schedules: a workflow run, or safe (read-only) work on a set of nodes, started by a
//! cron expression in an IANA time zone. Each fire is started exactly as a person's
//! would be, with the rights its creator has at fire time, and recorded like any other.
//! A schedule never approves anything: a scheduled run that reaches a step needing
//! confirmation waits for a person. With several servers on one database, a fire is
//! claimed with a compare-and-set on the schedule's next fire time, so it starts once.
//! Fires missed while no server was running are fired once, not once per missed time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::{Actor, Via};
use crate::audit::{AuditDraft, Outcome};
use crate::error::{Error, Result};
use crate::jobs::{JobKind, NewJob, Risk};
use crate::model::{Listing, Page, Scope};
use crate::runs::{RunMode, StartRun};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

/// Largest number of nodes one schedule may name.
pub const MAX_NODES: usize = 100;
/// How many missed fire times are counted before giving up counting.
const MISSED_COUNT_CAP: u32 = 10_000;

/// What a schedule starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleTarget {
    /// A run of a workflow, in simulation or live.
    Workflow { workflow_id: String, mode: RunMode },
    /// Read-only work (health_check, logs, inventory_refresh) on each node.
    Job { job_kind: JobKind, node_ids: Vec<String> },
}

impl ScheduleTarget {
    /// A short plain-English description.
    pub fn describe(&self) -> String {
        match self {
            ScheduleTarget::Workflow { workflow_id, mode } => format!("{} run of workflow {workflow_id}", mode.as_str()),
            ScheduleTarget::Job { job_kind, node_ids } => format!("{} on {} node(s)", job_kind.verb(), node_ids.len()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    pub id: String,
    pub org_id: String,
    /// Who created it: the fire acts with this person's rights at fire time.
    pub owner_id: String,
    pub owner_name: String,
    pub name: String,
    pub target: ScheduleTarget,
    /// Five fields: minute hour day-of-month month day-of-week.
    pub cron: String,
    /// IANA time zone name the cron expression is read in, e.g. Europe/Berlin.
    pub time_zone: String,
    pub enabled: bool,
    /// The next time it fires (None while disabled).
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fire_at: Option<DateTime<Utc>>,
    /// What the last fire did, in plain English.
    pub last_outcome: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Schedule {
    /// The next fire time shown in the schedule's own time zone.
    pub fn next_fire_local(&self) -> Option<String> {
        let tz: Tz = self.time_zone.parse().ok()?;
        self.next_fire_at.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    /// Defaults to the creator's organization; MSP roles must name one.
    #[serde(default)]
    pub org_id: Option<String>,
    pub name: String,
    pub target: ScheduleTarget,
    pub cron: String,
    pub time_zone: String,
    /// Defaults to true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub cron: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ScheduleQuery {
    pub org_id: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// What one tick did with one due schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleFire {
    pub schedule_id: String,
    /// Earlier fire times skipped (the server was not running): fired once for all.
    pub missed: u32,
    /// False when the fire was refused (the creator is disabled or lost the rights).
    pub started: bool,
    pub run_id: Option<String>,
    pub job_ids: Vec<String>,
    pub outcome: String,
}

/// The storage contract of schedules. Same rules as [`crate::store`].
#[async_trait]
pub trait ScheduleStore: Send + Sync + 'static {
    async fn insert_schedule(&self, s: &Schedule, audit: AuditDraft) -> Result<()>;
    /// Writes a person's change (name, cron, time zone, enabled, next fire time); leaves
    /// the last fire's time and outcome as they are.
    async fn update_schedule(&self, s: &Schedule, audit: AuditDraft) -> Result<()>;
    async fn delete_schedule(&self, id: &str, audit: AuditDraft) -> Result<()>;
    async fn get_schedule(&self, id: &str) -> Result<Option<Schedule>>;
    /// `Scope::Org` → that organization's; `Scope::User` → the ones that user created. By name.
    async fn list_schedules(&self, scope: &Scope, org_id: Option<&str>, page: Page) -> Result<Vec<Schedule>>;
    /// Enabled schedules whose next fire time is at or before `now`, earliest first.
    async fn due_schedules(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Schedule>>;
    /// Claims a fire: moves the next fire time from `expected_next` to `next` and sets
    /// the last fire time, only if the stored next fire time is still `expected_next`
    /// and the schedule is enabled; writes the audit record with it. Answers whether
    /// this caller claimed it (false: another server did, or it changed).
    async fn claim_schedule_fire(&self, id: &str, expected_next: DateTime<Utc>, next: Option<DateTime<Utc>>, fired_at: DateTime<Utc>, audit: AuditDraft) -> Result<bool>;
    /// Records what a claimed fire did; no audit record (the fire and what it started are audited).
    async fn record_schedule_outcome(&self, id: &str, outcome: &str) -> Result<()>;
}

/// Parses a five-field cron expression, or says what is wrong with it.
pub fn parse_cron(field: &str, expr: &str) -> Result<Cron> {
    let e = expr.trim();
    let fields = e.split_whitespace().count();
    if e.is_empty() {
        return Err(Error::invalid(field, "must not be empty: give five fields, minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\""));
    }
    if fields != 5 || e.starts_with('@') {
        return Err(Error::invalid(field, format!("has {fields} field(s); a schedule needs exactly five: minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\"")));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(e)
        .map_err(|err| Error::invalid(field, format!("\"{e}\" is not a valid cron expression ({err}); use minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\"")))
}

/// Parses an IANA time zone name, or says what is wrong with it.
pub fn parse_time_zone(field: &str, name: &str) -> Result<Tz> {
    let n = name.trim();
    if n.is_empty() {
        return Err(Error::invalid(field, "must not be empty: give an IANA time zone name such as Europe/Berlin, America/New_York or UTC"));
    }
    n.parse::<Tz>().map_err(|_| Error::invalid(field, format!("\"{n}\" is not a known IANA time zone; use a name such as Europe/Berlin, America/New_York or UTC")))
}

/// The first fire time strictly after `after`, reading the expression in `tz`.
pub fn next_fire(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&after.with_timezone(&tz), false).ok().map(|t| t.with_timezone(&Utc))
}

/// From a due fire time: how many later fire times also passed by `now` (missed), and
/// the first fire time after `now`.
pub fn catch_up(cron: &Cron, tz: Tz, due: DateTime<Utc>, now: DateTime<Utc>) -> (u32, Option<DateTime<Utc>>) {
    let mut missed = 0;
    let mut t = due;
    loop {
        match next_fire(cron, tz, t) {
            Some(n) if n <= now && missed < MISSED_COUNT_CAP => {
                missed += 1;
                t = n;
            }
            _ => return (missed, next_fire(cron, tz, now)),
        }
    }
}

/// The refusal of an expression that names no date that exists.
fn never() -> Error {
    Error::invalid("cron", "never matches a date that exists (such as 30 February), so the schedule would never fire; check the day-of-month and month fields")
}

fn fmt_local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

impl Works {
    pub async fn schedule_create(&self, actor: &Actor, input: NewSchedule) -> Result<Schedule> {
        self.change(actor, "schedule.create", "schedule", None, async {
            let org_id = input.org_id.clone().or_else(|| actor.org_id.clone()).ok_or_else(|| Error::invalid("org_id", "is required: name the organization the schedule belongs to"))?;
            let org = self.visible_org_for_policy(actor, &org_id).await?;
            access::require_connection_creator(actor, &org.id)?;
            let name = validate::name("name", &input.name)?;
            let cron = parse_cron("cron", &input.cron)?;
            let tz = parse_time_zone("time_zone", &input.time_zone)?;
            let target = self.check_target(actor, &org.id, &input.target).await?;
            let now = self.now();
            let enabled = input.enabled.unwrap_or(true);
            let next_fire_at = if enabled { Some(next_fire(&cron, tz, now).ok_or_else(never)?) } else { None };
            let s = Schedule {
                id: new_id(),
                org_id: org.id.clone(),
                owner_id: actor.id.clone(),
                owner_name: actor.name.clone(),
                name,
                target,
                cron: input.cron.trim().to_owned(),
                time_zone: tz.name().to_owned(),
                enabled,
                next_fire_at,
                last_fire_at: None,
                last_outcome: None,
                created_at: now,
                updated_at: now,
            };
            let when = next_fire_at.map(|t| format!(", next fire {}", fmt_local(t, tz))).unwrap_or_else(|| ", disabled".to_owned());
            let audit = self.draft(actor, Some(org.id.clone()), "schedule.create", "schedule", Some(&s.id), Outcome::Succeeded, format!("Added schedule {} ({}, \"{}\" in {}){when}", s.name, s.target.describe(), s.cron, s.time_zone));
            self.store.insert_schedule(&s, audit).await?;
            Ok(s)
        })
        .await
    }

    pub async fn schedule_list(&self, actor: &Actor, query: ScheduleQuery) -> Result<Listing<Schedule>> {
        let page = Page::new(query.offset, query.limit)?;
        let org_id = query.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?;
        let items = self.store.list_schedules(&access::owned_scope(actor), org_id.as_deref(), probe(page)).await?;
        Ok(paged(items, page))
    }

    pub async fn schedule_get(&self, actor: &Actor, id: &str) -> Result<Schedule> {
        self.read(actor, "schedule.get", "schedule", Some(id), self.visible_schedule(actor, id)).await
    }

    /// Changes the name, cron expression, time zone, or enables/disables. The next fire
    /// time is worked out again from now: enabling never fires for the time it was off.
    pub async fn schedule_update(&self, actor: &Actor, id: &str, input: ScheduleUpdate) -> Result<Schedule> {
        self.change(actor, "schedule.update", "schedule", Some(id), async {
            let mut s = self.visible_schedule(actor, id).await?;
            let mut changes = Vec::new();
            if let Some(n) = &input.name {
                s.name = validate::name("name", n)?;
                changes.push(format!("name {}", s.name));
            }
            if let Some(c) = &input.cron {
                parse_cron("cron", c)?;
                s.cron = c.trim().to_owned();
                changes.push(format!("cron \"{}\"", s.cron));
            }
            if let Some(t) = &input.time_zone {
                s.time_zone = parse_time_zone("time_zone", t)?.name().to_owned();
                changes.push(format!("time zone {}", s.time_zone));
            }
            if let Some(e) = input.enabled {
                s.enabled = e;
                changes.push(if e { "enabled".to_owned() } else { "disabled".to_owned() });
            }
            if changes.is_empty() {
                return Err(Error::invalid("name", "nothing to change: give at least one of name, cron, time_zone, enabled"));
            }
            let cron = parse_cron("cron", &s.cron)?;
            let tz = parse_time_zone("time_zone", &s.time_zone)?;
            let now = self.now();
            s.next_fire_at = if s.enabled { Some(next_fire(&cron, tz, now).ok_or_else(never)?) } else { None };
            s.updated_at = now;
            let audit = self.draft(actor, Some(s.org_id.clone()), "schedule.update", "schedule", Some(&s.id), Outcome::Succeeded, format!("Changed schedule {}: {}", s.name, changes.join(", ")));
            self.store.update_schedule(&s, audit).await?;
            Ok(s)
        })
        .await
    }

    pub async fn schedule_delete(&self, actor: &Actor, id: &str) -> Result<Schedule> {
        self.change(actor, "schedule.delete", "schedule", Some(id), async {
            let s = self.visible_schedule(actor, id).await?;
            let audit = self.draft(actor, Some(s.org_id.clone()), "schedule.delete", "schedule", Some(&s.id), Outcome::Succeeded, format!("Deleted schedule {}", s.name));
            self.store.delete_schedule(&s.id, audit).await?;
            Ok(s)
        })
        .await
    }

    /// The tick: fires each schedule due at `now` once. Run by every server every few
    /// seconds; a fire another server claimed first is left to it.
    pub async fn run_due_schedules(&self, now: DateTime<Utc>) -> Result<Vec<ScheduleFire>> {
        let now = crate::audit::truncate_to_millis(now);
        let mut fires = Vec::new();
        for s in self.store.due_schedules(now, 100).await? {
            let Some(due) = s.next_fire_at else { continue };
            let (cron, tz) = match (parse_cron("cron", &s.cron), parse_time_zone("time_zone", &s.time_zone)) {
                (Ok(c), Ok(t)) => (c, t),
                _ => {
                    tracing::error!(schedule_id = %s.id, "a stored schedule has an unreadable cron expression or time zone");
                    continue;
                }
            };
            let (missed, next) = catch_up(&cron, tz, due, now);
            let missed_note = match missed {
                0 => String::new(),
                n => format!(" {n} earlier fire time(s) passed while no server was running; it fired once for all of them."),
            };
            let audit = self.draft(
                &Actor::system(),
                Some(s.org_id.clone()),
                "schedule.fire",
                "schedule",
                Some(&s.id),
                Outcome::Succeeded,
                format!("Schedule {} fired for {} ({}).{missed_note}", s.name, fmt_local(due, tz), s.target.describe()),
            );
            if !self.store.claim_schedule_fire(&s.id, due, next, now, audit).await? {
                continue;
            }
            let mut fire = self.fire(&s).await;
            fire.missed = missed;
            fire.outcome.push_str(&missed_note);
            if let Err(e) = self.store.record_schedule_outcome(&s.id, &fire.outcome).await {
                tracing::warn!(error = %e, schedule_id = %s.id, "could not record what a schedule's fire did");
            }
            fires.push(fire);
        }
        Ok(fires)
    }

    /// Ticks every `every` until `stop` completes: what `works serve` runs. The first
    /// tick is at once, so fires missed while no server ran are fired (once) at start.
    pub async fn schedule_ticker(&self, every: std::time::Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            match self.run_due_schedules(self.clock.now()).await {
                Ok(fires) => {
                    for f in fires {
                        tracing::info!(schedule_id = %f.schedule_id, started = f.started, missed = f.missed, outcome = %f.outcome, "schedule fired");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not fire due schedules; trying again at the next tick"),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Starts what a claimed schedule names, as its creator, or refuses and records why.
    async fn fire(&self, s: &Schedule) -> ScheduleFire {
        let mut fire = ScheduleFire { schedule_id: s.id.clone(), missed: 0, started: false, run_id: None, job_ids: Vec::new(), outcome: String::new() };
        let actor = match self.schedule_actor(s).await {
            Ok(a) => a,
            Err(why) => {
                fire.outcome = why;
                self.refuse_fire(s, &fire.outcome).await;
                return fire;
            }
        };
        match &s.target {
            ScheduleTarget::Workflow { workflow_id, mode } => {
                let checked = match self.visible_workflow(&actor, workflow_id).await {
                    Ok(w) if w.org_id == s.org_id => Ok(()),
                    Ok(_) | Err(Error::NotFound { .. }) => Err(format!("Not started: {} can no longer see workflow {workflow_id} in this organization (it was deleted, or their rights changed). Edit or delete the schedule.", s.owner_name)),
                    Err(e) => Err(format!("Not started: {e}")),
                };
                if let Err(why) = checked {
                    fire.outcome = why;
                    self.refuse_fire(s, &fire.outcome).await;
                    return fire;
                }
                match self.run_start(&actor, workflow_id, StartRun { mode: *mode }).await {
                    Ok(run) => {
                        fire.started = true;
                        fire.outcome = format!("Started {} run {}: {} — {}", mode.as_str(), run.id, run.state.label().to_lowercase(), run.reason);
                        fire.run_id = Some(run.id);
                    }
                    Err(e) => {
                        fire.outcome = format!("Not started: the run could not start: {e}");
                        self.refuse_fire(s, &fire.outcome).await;
                    }
                }
            }
            ScheduleTarget::Job { job_kind, node_ids } => {
                let mut problems = Vec::new();
                for node_id in node_ids {
                    match self.job_request(&actor, NewJob { node_id: node_id.clone(), kind: *job_kind, params: serde_json::Value::Null }).await {
                        Ok(job) => fire.job_ids.push(job.id),
                        Err(e) => problems.push(format!("node {node_id}: {e}")),
                    }
                }
                fire.started = !fire.job_ids.is_empty();
                fire.outcome = format!("Requested {} on {} of {} node(s).", job_kind.verb(), fire.job_ids.len(), node_ids.len());
                if !problems.is_empty() {
                    fire.outcome.push_str(&format!(" Not requested: {}.", problems.join("; ")));
                    self.refuse_fire(s, &fire.outcome).await;
                }
            }
        }
        fire
    }

    /// The creator's rights now, or why the schedule may not act for them.
    async fn schedule_actor(&self, s: &Schedule) -> std::result::Result<Actor, String> {
        let user = match self.store.get_user(&s.owner_id).await {
            Ok(Some(u)) => u.user,
            Ok(None) => return Err(format!("Not started: {}, who created this schedule, no longer exists. Ask someone with the rights to create a new schedule, then delete this one.", s.owner_name)),
            Err(e) => return Err(format!("Not started: {e}")),
        };
        if user.disabled {
            return Err(format!("Not started: {}, who created this schedule, is disabled, so the schedule cannot act for them. Enable the user or have someone else create the schedule again.", user.username));
        }
        if !user.role.is_msp() && user.org_id.as_deref() != Some(s.org_id.as_str()) {
            return Err(format!("Not started: {}, who created this schedule, is no longer in its organization. Have someone of the organization create the schedule again.", user.username));
        }
        Ok(Actor { id: user.id.clone(), name: format!("{} (schedule {})", user.username, s.name), role: user.role, org_id: user.org_id.clone(), via: Via::System })
    }

    async fn refuse_fire(&self, s: &Schedule, why: &str) {
        let draft = self.draft(&Actor::system(), Some(s.org_id.clone()), "schedule.fire_refused", "schedule", Some(&s.id), Outcome::Rejected, format!("Schedule {}: {why}", s.name));
        if let Err(e) = self.store.append_audit(draft).await {
            tracing::error!(error = %e, schedule_id = %s.id, "could not record a refused schedule fire");
        }
    }

    /// Checks a target against the creator's rights and the schedule's organization.
    async fn check_target(&self, actor: &Actor, org_id: &str, target: &ScheduleTarget) -> Result<ScheduleTarget> {
        match target {
            ScheduleTarget::Workflow { workflow_id, mode } => {
                let w = self.visible_workflow(actor, workflow_id).await?;
                if w.org_id != org_id {
                    return Err(Error::invalid("target.workflow_id", "belongs to another organization than the schedule; pick a workflow of the same organization"));
                }
                Ok(ScheduleTarget::Workflow { workflow_id: w.id, mode: *mode })
            }
            ScheduleTarget::Job { job_kind, node_ids } => {
                if job_kind.risk() == Risk::Risky {
                    return Err(Error::invalid(
                        "target.job_kind",
                        format!("{} changes machines and needs a person's approval each time, so it cannot be scheduled; schedule read-only work instead: health_check, logs or inventory_refresh", job_kind.as_str()),
                    ));
                }
                if *job_kind == JobKind::CliCommand {
                    return Err(Error::invalid("target.job_kind", "cli_command runs on an instance by command id and cannot be scheduled on nodes; schedule health_check, logs or inventory_refresh"));
                }
                if node_ids.is_empty() {
                    return Err(Error::invalid("target.node_ids", "must name at least one node"));
                }
                if node_ids.len() > MAX_NODES {
                    return Err(Error::invalid("target.node_ids", format!("must name at most {MAX_NODES} nodes")));
                }
                let mut ids: Vec<String> = Vec::new();
                for n in node_ids {
                    let node = self.visible_node(actor, n).await?;
                    access::require_node_manager(actor, node.org_id.as_deref())?;
                    if node.org_id.as_deref() != Some(org_id) {
                        return Err(Error::invalid("target.node_ids", format!("node {} is not a node of the schedule's organization", node.name)));
                    }
                    if !ids.contains(&node.id) {
                        ids.push(node.id);
                    }
                }
                Ok(ScheduleTarget::Job { job_kind: *job_kind, node_ids: ids })
            }
        }
    }

    async fn visible_schedule(&self, actor: &Actor, id: &str) -> Result<Schedule> {
        let not_found = || Error::not_found("schedule", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_schedule(&id).await? {
            Some(s) if access::can_see_owned(actor, &s.org_id, &s.owner_id) => Ok(s),
            _ => Err(not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn nine_in_berlin_follows_the_clock_change() {
        let cron = parse_cron("cron", "0 9 * * *").unwrap();
        let tz = parse_time_zone("time_zone", "Europe/Berlin").unwrap();
        // Summer time (UTC+2) ends on 25 October 2026.
        let before = next_fire(&cron, tz, Utc.with_ymd_and_hms(2026, 10, 24, 12, 0, 0).unwrap()).unwrap();
        assert_eq!(before, Utc.with_ymd_and_hms(2026, 10, 25, 8, 0, 0).unwrap());
        let after = next_fire(&cron, tz, before).unwrap();
        assert_eq!(after, Utc.with_ymd_and_hms(2026, 10, 26, 8, 0, 0).unwrap());
        let summer = next_fire(&cron, tz, Utc.with_ymd_and_hms(2026, 10, 23, 12, 0, 0).unwrap()).unwrap();
        assert_eq!(summer, Utc.with_ymd_and_hms(2026, 10, 24, 7, 0, 0).unwrap());
    }

    #[test]
    fn missed_fire_times_are_counted_and_skipped() {
        let cron = parse_cron("cron", "0 * * * *").unwrap();
        let tz = parse_time_zone("time_zone", "UTC").unwrap();
        let due = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        let (missed, next) = catch_up(&cron, tz, due, Utc.with_ymd_and_hms(2026, 1, 1, 4, 30, 0).unwrap());
        assert_eq!(missed, 3);
        assert_eq!(next, Some(Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 0).unwrap()));
    }

    #[test]
    fn bad_expressions_and_zones_name_their_field() {
        for bad in ["", "* * * *", "0 0 9 * * *", "61 * * * *", "@daily", "0 9 * * MON-XYZ"] {
            let e = parse_cron("cron", bad).unwrap_err();
            assert_eq!(e.field(), Some("cron"), "{bad}: {e}");
        }
        let feb30 = parse_cron("cron", "0 0 30 2 *").unwrap();
        assert_eq!(next_fire(&feb30, Tz::UTC, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()), None);
        assert_eq!(parse_time_zone("time_zone", "Mars/Olympus").unwrap_err().field(), Some("time_zone"));
        assert_eq!(parse_time_zone("time_zone", "America/New_York").unwrap().name(), "America/New_York");
    }
}
