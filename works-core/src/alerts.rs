//! Alerts: a webhook notification when the health answer changes between healthy,
//! degraded and critical.
//!
//! # Rules
//!
//! - An MSP admin adds and removes webhook targets; MSP admins and operators read them
//!   and the delivery log. Organization roles see none of it: the answer is the whole
//!   installation's.
//! - A target's URL is `http://` or `https://` with a host and no user name or password
//!   in it. An optional shared secret is sealed at rest with the master key and signs
//!   each body: `X-Works-Signature: sha256=<hex of HMAC-SHA256(secret, body)>`.
//! - The background monitor compares the answer (as the MSP sees it) with the last one
//!   notified, which is stored. A change is recorded with a compare-and-set on that
//!   stored state, together with one delivery per target and an audit record, in one
//!   transaction: however many servers share the database, and across restarts, each
//!   change is notified exactly once. An installation that never notified counts as
//!   healthy.
//! - A delivery is tried until the target answers 2xx, at most [`MAX_ATTEMPTS`] times,
//!   waiting [`RETRY_BASE_SECS`] × 2^(attempt − 1) seconds between tries (at most
//!   [`RETRY_MAX_SECS`]). Each attempt is claimed with a compare-and-set on its attempt
//!   count before it is sent. Every attempt's status code or error is kept in the log.
//!
//! Sending is an adapter's work, behind [`Notifier`]; the core decides what, to whom,
//! when, and what an answer means.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access;
use crate::actor::Actor;
use crate::audit::{AuditDraft, Outcome};
use crate::error::{Error, Result};
use crate::health::{HealthReport, HealthState};
use crate::model::{Listing, Page};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

/// Most attempts of one delivery.
pub const MAX_ATTEMPTS: u32 = 6;
/// The wait after the first failed attempt; it doubles with each further one.
pub const RETRY_BASE_SECS: i64 = 30;
/// The longest wait between attempts.
pub const RETRY_MAX_SECS: i64 = 3600;
/// How long a claimed attempt may take before another pass may try it again.
pub const CLAIM_SECS: i64 = 120;
/// The stored state the health notifications compare against.
pub const HEALTH_CHANNEL: &str = "health";
/// The header carrying the body's signature when the target has a secret.
pub const SIGNATURE_HEADER: &str = "X-Works-Signature";
pub const EVENT_HEADER: &str = "X-Works-Event";
pub const DELIVERY_HEADER: &str = "X-Works-Delivery";
/// The event name of a change of the health answer.
pub const HEALTH_CHANGED: &str = "health.changed";
/// Longest URL accepted.
pub const URL_MAX: usize = 2000;
/// Shortest and longest shared secret accepted.
pub const SECRET_MIN: usize = 16;
pub const SECRET_MAX: usize = 512;
/// Most issues listed in one notification.
pub const ISSUES_IN_BODY: usize = 20;
/// Most targets.
pub const MAX_WEBHOOKS: usize = 20;

/// A webhook target, as shown. The secret never leaves the store unsealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    /// Whether bodies are signed with a shared secret.
    pub signed: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A webhook target as stored: the shown part and the sealed secret.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub webhook: Webhook,
    pub secret_sealed: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// What it is, e.g. "on-call pager".
    pub name: String,
    /// Where to POST, `https://…` (or `http://` on a private network).
    pub url: String,
    /// A shared secret of 16 to 512 characters to sign bodies with; optional.
    #[serde(default)]
    pub secret: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    /// The target answered 2xx.
    Delivered,
    /// Every attempt failed, or the target was removed.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One notification to one target, with what its attempts gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub webhook_name: String,
    /// The change notified; the same for every target of one change.
    pub event_id: String,
    pub from_state: HealthState,
    pub to_state: HealthState,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub max_attempts: u32,
    /// The HTTP status of the last attempt, when the target answered.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed, in plain English.
    pub last_error: Option<String>,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The JSON body sent.
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Only deliveries to this webhook.
    pub webhook_id: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// What one pass of the notifier did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertPass {
    /// The change this pass recorded, as (from, to), when it recorded one.
    pub changed: Option<(HealthState, HealthState)>,
    pub delivered: u32,
    pub retrying: u32,
    pub failed: u32,
}

/// An answer of a webhook target.
pub type SendResult = std::result::Result<u16, String>;

/// Sends one webhook request. The adapter POSTs `body` as `application/json` with the
/// given headers, follows no redirects, and gives up after a short timeout. It answers
/// the HTTP status, or why no answer came, in plain English.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn post(&self, url: &str, headers: &[(String, String)], body: &str) -> SendResult;
}

/// The storage contract of alerts. Same rules as [`crate::store`].
#[async_trait]
pub trait AlertStore: Send + Sync + 'static {
    async fn insert_webhook(&self, webhook: &WebhookRecord, audit: AuditDraft) -> Result<()>;
    async fn get_webhook(&self, id: &str) -> Result<Option<WebhookRecord>>;
    /// Every target, by name.
    async fn list_webhooks(&self) -> Result<Vec<WebhookRecord>>;
    /// Removes the target; its deliveries stay in the log. With the audit record, one
    /// transaction.
    async fn delete_webhook(&self, id: &str, audit: AuditDraft) -> Result<()>;
    /// The state last notified on the channel, and since when.
    async fn get_alert_state(&self, channel: &str) -> Result<Option<(HealthState, DateTime<Utc>)>>;
    /// Sets the channel's state to `to` if it is still `expected` (`None`: never set),
    /// and in the same transaction inserts the deliveries and the audit record. False,
    /// with nothing written, when the stored state was not `expected`.
    async fn record_alert_change(
        &self,
        channel: &str,
        expected: Option<HealthState>,
        to: HealthState,
        at: DateTime<Utc>,
        deliveries: &[Delivery],
        audit: AuditDraft,
    ) -> Result<bool>;
    /// Pending deliveries with `next_attempt_at <= now`, oldest first.
    async fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Delivery>>;
    /// Claims the next attempt: if the delivery is pending with `attempts` equal to
    /// `expected_attempts`, adds one to its attempts and sets `next_attempt_at` to
    /// `until`. True when claimed.
    async fn claim_delivery(&self, id: &str, expected_attempts: u32, until: DateTime<Utc>) -> Result<bool>;
    /// Writes status, last status code and error, next attempt, delivered and updated
    /// times, if the stored attempts still equal the delivery's.
    async fn finish_delivery(&self, delivery: &Delivery) -> Result<()>;
    /// Newest first.
    async fn list_deliveries(&self, webhook_id: Option<&str>, page: Page) -> Result<Vec<Delivery>>;
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        let digest = Sha256::digest(key);
        for (b, d) in block.iter_mut().zip(digest.iter()) {
            *b = *d;
        }
    } else {
        for (b, k) in block.iter_mut().zip(key.iter()) {
            *b = *k;
        }
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The value of [`SIGNATURE_HEADER`] for `body` signed with `secret`.
pub fn signature(secret: &str, body: &str) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(secret.as_bytes(), body.as_bytes())))
}

/// The wait before attempt `failed_attempts + 1`.
pub fn retry_delay(failed_attempts: u32) -> Duration {
    let exponent = failed_attempts.saturating_sub(1).min(20);
    let secs = RETRY_BASE_SECS.saturating_mul(1i64 << exponent).min(RETRY_MAX_SECS);
    Duration::seconds(secs)
}

/// Checks a webhook URL: `http` or `https`, a host, no credentials, no spaces.
pub fn webhook_url(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid("url", "must not be empty"));
    }
    if v.chars().count() > URL_MAX {
        return Err(Error::invalid("url", format!("must be at most {URL_MAX} characters")));
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid("url", "must not contain spaces or control characters"));
    }
    let lower = v.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("http://") {
        rest
    } else {
        return Err(Error::invalid("url", "must start with https:// (or http:// on a private network)"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(Error::invalid(
            "url",
            "must not contain a user name or password: anyone who can read the settings would see it; give a shared secret instead",
        ));
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(Error::invalid("url", "must name a host, e.g. https://alerts.example.com/hook"));
    }
    if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_')) {
        return Err(Error::invalid("url", format!("has a host that is not a name or an address: {host}")));
    }
    if let Some(port) = authority.strip_prefix('[').and_then(|a| a.split_once("]:")).map(|(_, p)| p).or_else(|| {
        (!authority.starts_with('[')).then(|| authority.split_once(':').map(|(_, p)| p)).flatten()
    }) {
        if port.parse::<u16>().ok().filter(|p| *p > 0).is_none() {
            return Err(Error::invalid("url", format!("has a port that is not a number from 1 to 65535: {port}")));
        }
    }
    Ok(v.to_owned())
}

fn secret_purpose(webhook_id: &str) -> String {
    format!("webhook-secret:{webhook_id}")
}

/// The JSON body of a health change notification.
pub fn health_change_body(event_id: &str, from: HealthState, report: &HealthReport) -> String {
    let issues: Vec<serde_json::Value> = report
        .issues
        .iter()
        .take(ISSUES_IN_BODY)
        .map(|i| serde_json::json!({ "id": i.id, "severity": i.severity, "title": i.title, "next_action": i.next_action, "link": i.link }))
        .collect();
    serde_json::json!({
        "event": HEALTH_CHANGED,
        "event_id": event_id,
        "from": from,
        "to": report.state,
        "summary": report.summary,
        "issue_count": report.issues.len(),
        "issues": issues,
        "changed_at": report.checked_at,
    })
    .to_string()
}

impl Works {
    /// Adds a webhook target. MSP admins only.
    pub async fn webhook_create(&self, actor: &Actor, input: NewWebhook) -> Result<Webhook> {
        self.change(actor, "alert.webhook_create", "webhook", None, async {
            access::require_alert_admin(actor)?;
            let name = validate::name("name", &input.name)?;
            let url = webhook_url(&input.url)?;
            let secret = match input.secret.as_deref() {
                None => None,
                Some("") => None,
                Some(s) => {
                    let n = s.chars().count();
                    if !(SECRET_MIN..=SECRET_MAX).contains(&n) {
                        return Err(Error::invalid("secret", format!("must be {SECRET_MIN} to {SECRET_MAX} characters")));
                    }
                    if s.chars().any(char::is_control) {
                        return Err(Error::invalid("secret", "must not contain control characters such as newlines"));
                    }
                    Some(s.to_owned())
                }
            };
            let existing = self.store.list_webhooks().await?;
            if existing.iter().any(|w| w.webhook.name.eq_ignore_ascii_case(&name)) {
                return Err(Error::conflict(Some("name"), format!("A webhook named {name} already exists.")));
            }
            if existing.len() >= MAX_WEBHOOKS {
                return Err(Error::conflict(None, format!("There are already {MAX_WEBHOOKS} webhooks; remove one first.")));
            }
            let id = new_id();
            let secret_sealed = match &secret {
                Some(s) => Some(self.sealer()?.seal(&secret_purpose(&id), s.as_bytes())?),
                None => None,
            };
            let webhook = Webhook { id: id.clone(), name, url, signed: secret.is_some(), created_by: actor.name.clone(), created_at: self.now() };
            let reason = format!(
                "Added webhook {} for health changes{}",
                webhook.name,
                if webhook.signed { ", signed with a shared secret" } else { "" }
            );
            let audit = self.draft(actor, None, "alert.webhook_create", "webhook", Some(&id), Outcome::Succeeded, reason);
            self.store.insert_webhook(&WebhookRecord { webhook: webhook.clone(), secret_sealed }, audit).await?;
            Ok(webhook)
        })
        .await
    }

    /// Every webhook target. MSP roles only.
    pub async fn webhook_list(&self, actor: &Actor) -> Result<Vec<Webhook>> {
        self.read(actor, "alert.webhook_list", "webhook", None, async {
            access::require_msp(actor, "see alert webhooks")?;
            Ok(self.store.list_webhooks().await?.into_iter().map(|w| w.webhook).collect())
        })
        .await
    }

    /// Removes a webhook target; its deliveries stay in the log and pending ones stop.
    pub async fn webhook_delete(&self, actor: &Actor, id: &str) -> Result<Webhook> {
        self.change(actor, "alert.webhook_delete", "webhook", Some(id), async {
            access::require_alert_admin(actor)?;
            let record = self.store.get_webhook(id).await?.ok_or_else(|| Error::not_found("webhook", id))?;
            let reason = format!("Removed webhook {}", record.webhook.name);
            let audit = self.draft(actor, None, "alert.webhook_delete", "webhook", Some(id), Outcome::Succeeded, reason);
            self.store.delete_webhook(id, audit).await?;
            Ok(record.webhook)
        })
        .await
    }

    /// The delivery log, newest first. MSP roles only.
    pub async fn delivery_list(&self, actor: &Actor, query: DeliveryQuery) -> Result<Listing<Delivery>> {
        self.read(actor, "alert.delivery_list", "delivery", None, async {
            access::require_msp(actor, "see alert deliveries")?;
            let page = Page::new(query.offset, query.limit)?;
            let webhook_id = match query.webhook_id.as_deref() {
                Some(id) => Some(validate::id("webhook_id", id)?),
                None => None,
            };
            let items = self.store.list_deliveries(webhook_id.as_deref(), probe(page)).await?;
            Ok(paged(items, page))
        })
        .await
    }

    /// One pass of the notifier: records a change of the health answer (once, whatever
    /// the number of servers) with a delivery per target, then makes the attempts that
    /// are due. Run by the background monitor.
    pub async fn alert_pass(&self, notifier: &dyn Notifier) -> Result<AlertPass> {
        let mut pass = AlertPass { changed: self.record_health_change().await?, ..AlertPass::default() };
        let now = self.now();
        for delivery in self.store.due_deliveries(now, 100).await? {
            match self.attempt(notifier, delivery).await? {
                Some(DeliveryStatus::Delivered) => pass.delivered += 1,
                Some(DeliveryStatus::Pending) => pass.retrying += 1,
                Some(DeliveryStatus::Failed) => pass.failed += 1,
                None => {}
            }
        }
        Ok(pass)
    }

    async fn record_health_change(&self) -> Result<Option<(HealthState, HealthState)>> {
        let system = Actor::system();
        let report = self.health(&system).await?;
        let stored = self.store.get_alert_state(HEALTH_CHANNEL).await?;
        let last = stored.map(|(s, _)| s).unwrap_or(HealthState::Healthy);
        if report.state == last {
            return Ok(None);
        }
        let now = self.now();
        let event_id = new_id();
        let body = health_change_body(&event_id, last, &report);
        let deliveries: Vec<Delivery> = self
            .store
            .list_webhooks()
            .await?
            .into_iter()
            .map(|w| Delivery {
                id: new_id(),
                webhook_id: w.webhook.id,
                webhook_name: w.webhook.name,
                event_id: event_id.clone(),
                from_state: last,
                to_state: report.state,
                status: DeliveryStatus::Pending,
                attempts: 0,
                max_attempts: MAX_ATTEMPTS,
                last_status_code: None,
                last_error: None,
                next_attempt_at: Some(now),
                created_at: now,
                updated_at: now,
                delivered_at: None,
                body: body.clone(),
            })
            .collect();
        let reason = format!(
            "The health answer changed from {} to {}: {} Notifying {} webhook(s).",
            last.as_str(),
            report.state.as_str(),
            report.summary,
            deliveries.len()
        );
        let audit = self.draft(&system, None, "alert.health_changed", "health", Some(HEALTH_CHANNEL), Outcome::Succeeded, reason);
        let recorded = self
            .store
            .record_alert_change(HEALTH_CHANNEL, stored.map(|(s, _)| s), report.state, now, &deliveries, audit)
            .await?;
        if recorded {
            tracing::info!(from = last.as_str(), to = report.state.as_str(), webhooks = deliveries.len(), "health answer changed");
            Ok(Some((last, report.state)))
        } else {
            // Another server recorded this change first.
            Ok(None)
        }
    }

    /// Makes one attempt of a due delivery. None when another pass claimed it first.
    async fn attempt(&self, notifier: &dyn Notifier, mut d: Delivery) -> Result<Option<DeliveryStatus>> {
        let now = self.now();
        if !self.store.claim_delivery(&d.id, d.attempts, now + Duration::seconds(CLAIM_SECS)).await? {
            return Ok(None);
        }
        d.attempts += 1;
        d.updated_at = now;
        let webhook = self.store.get_webhook(&d.webhook_id).await?;
        let answer: SendResult = match &webhook {
            None => Err("The webhook was removed before this notification was delivered.".to_owned()),
            Some(_) if d.attempts > d.max_attempts => Err(format!("Gave up after {} attempts.", d.max_attempts)),
            Some(w) => {
                let mut headers = vec![
                    (EVENT_HEADER.to_owned(), HEALTH_CHANGED.to_owned()),
                    (DELIVERY_HEADER.to_owned(), d.id.clone()),
                ];
                let signed = match &w.secret_sealed {
                    Some(sealed) => self.sealer().and_then(|s| s.open_text(&secret_purpose(&w.webhook.id), sealed)).map(Some),
                    None => Ok(None),
                };
                match signed {
                    Ok(secret) => {
                        if let Some(secret) = secret {
                            headers.push((SIGNATURE_HEADER.to_owned(), signature(&secret, &d.body)));
                        }
                        notifier.post(&w.webhook.url, &headers, &d.body).await
                    }
                    Err(e) => Err(format!("The webhook's shared secret could not be opened, so nothing was sent: {e}")),
                }
            }
        };
        let done = self.now();
        d.updated_at = done;
        match answer {
            Ok(code) if (200..300).contains(&code) => {
                d.status = DeliveryStatus::Delivered;
                d.last_status_code = Some(code);
                d.last_error = None;
                d.next_attempt_at = None;
                d.delivered_at = Some(done);
            }
            other => {
                let (code, why) = match other {
                    Ok(code) => (Some(code), format!("The webhook answered HTTP {code}; a 2xx answer was expected.")),
                    Err(why) => (None, crate::redact::redact(&why)),
                };
                d.last_status_code = code;
                let removed = webhook.is_none();
                if removed || d.attempts >= d.max_attempts {
                    d.status = DeliveryStatus::Failed;
                    d.next_attempt_at = None;
                    d.last_error = Some(if removed {
                        why
                    } else {
                        format!("{why} Gave up after {} attempts: check the receiving service and its URL.", d.attempts)
                    });
                } else {
                    let next = done + retry_delay(d.attempts);
                    d.status = DeliveryStatus::Pending;
                    d.next_attempt_at = Some(next);
                    d.last_error = Some(why);
                }
                tracing::warn!(delivery = %d.id, webhook = %d.webhook_name, attempts = d.attempts, status = d.status.as_str(), "webhook delivery failed");
            }
        }
        self.store.finish_delivery(&d).await?;
        Ok(Some(d.status))
    }

    /// The notifier the background monitor sends alerts with.
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block.
        let key = [0xaau8; 131];
        let mac = hmac_sha256(&key, b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn retries_back_off_exponentially_to_a_cap() {
        assert_eq!(retry_delay(1), Duration::seconds(30));
        assert_eq!(retry_delay(2), Duration::seconds(60));
        assert_eq!(retry_delay(3), Duration::seconds(120));
        assert_eq!(retry_delay(30), Duration::seconds(RETRY_MAX_SECS));
    }

    #[test]
    fn webhook_urls_are_checked() {
        assert!(webhook_url("https://alerts.example.com/hook?x=1").is_ok());
        assert!(webhook_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(webhook_url("http://[::1]:9000/").is_ok());
        for bad in ["", "ftp://example.com", "example.com/hook", "https://", "https://user:pw@example.com/", "https://exa mple.com", "https://example.com:0/", "https://example.com:99999/", "https://ex<ample.com/"] {
            let e = webhook_url(bad).unwrap_err();
            assert_eq!(e.field(), Some("url"), "{bad}: {e}");
        }
    }
}
