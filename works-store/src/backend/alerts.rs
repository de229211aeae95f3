//! The alerts part of the store: webhook targets, the state last notified, and the
//! delivery log. Written once for both backends.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use works_core::alerts::{AlertStore, Delivery, DeliveryStatus, Webhook, WebhookRecord};
use works_core::audit::AuditDraft;
use works_core::health::HealthState;
use works_core::model::Page;
use works_core::{Error, Result};

use super::{finish, PgStore, SqliteStore};
use crate::error::{db_error, write_error, Subject};
use crate::rows::{convert, millis, opt_millis};

const WEBHOOK_COLUMNS: &str = "id, name, url, secret_sealed, created_by, created_at";

const INSERT_WEBHOOK: &str =
    "INSERT INTO alert_webhooks (id, name, url, secret_sealed, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

const DELIVERY_COLUMNS: &str = "id, webhook_id, webhook_name, event_id, from_state, to_state, body, status, attempts, \
    max_attempts, last_status_code, last_error, next_attempt_at, created_at, updated_at, delivered_at";

const INSERT_DELIVERY: &str = "INSERT INTO alert_deliveries (id, webhook_id, webhook_name, event_id, from_state, \
    to_state, body, status, attempts, max_attempts, last_status_code, last_error, next_attempt_at, created_at, \
    updated_at, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";

/// First notification of a channel: only one server's insert lands.
const INSERT_STATE: &str =
    "INSERT INTO alert_state (channel, state, changed_at) VALUES ($1, $2, $3) ON CONFLICT (channel) DO NOTHING";

/// Later ones: a compare-and-set on the stored state.
const UPDATE_STATE: &str = "UPDATE alert_state SET state = $2, changed_at = $3 WHERE channel = $1 AND state = $4";

const CLAIM: &str = "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = $3 \
    WHERE id = $1 AND attempts = $2 AND status = 'pending'";

const FINISH: &str = "UPDATE alert_deliveries SET status = $3, last_status_code = $4, last_error = $5, \
    next_attempt_at = $6, updated_at = $7, delivered_at = $8 WHERE id = $1 AND attempts = $2";

fn time(column: &str, ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| {
        tracing::error!(column, value = ms, "stored timestamp out of range");
        Error::internal(format!("A stored alert {column} timestamp is out of range."))
    })
}

fn state(column: &str, s: &str) -> Result<HealthState> {
    HealthState::parse(s).ok_or_else(|| {
        tracing::error!(column, value = s, "stored health state unknown");
        Error::internal("A stored alert record has an unknown health state.")
    })
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: String,
    name: String,
    url: String,
    secret_sealed: Option<String>,
    created_by: String,
    created_at: i64,
}

impl WebhookRow {
    fn into_record(self) -> Result<WebhookRecord> {
        Ok(WebhookRecord {
            webhook: Webhook {
                created_at: time("created_at", self.created_at)?,
                signed: self.secret_sealed.is_some(),
                id: self.id,
                name: self.name,
                url: self.url,
                created_by: self.created_by,
            },
            secret_sealed: self.secret_sealed,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    webhook_id: String,
    webhook_name: String,
    event_id: String,
    from_state: String,
    to_state: String,
    body: String,
    status: String,
    attempts: i64,
    max_attempts: i64,
    last_status_code: Option<i64>,
    last_error: Option<String>,
    next_attempt_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    delivered_at: Option<i64>,
}

impl DeliveryRow {
    fn into_delivery(self) -> Result<Delivery> {
        let status = DeliveryStatus::parse(&self.status).ok_or_else(|| {
            tracing::error!(delivery_id = %self.id, status = %self.status, "stored delivery status unknown");
            Error::internal("A stored alert delivery has an unknown status.")
        })?;
        Ok(Delivery {
            from_state: state("from_state", &self.from_state)?,
            to_state: state("to_state", &self.to_state)?,
            status,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            max_attempts: u32::try_from(self.max_attempts).unwrap_or(0),
            last_status_code: self.last_status_code.and_then(|c| u16::try_from(c).ok()),
            next_attempt_at: self.next_attempt_at.map(|v| time("next_attempt_at", v)).transpose()?,
            created_at: time("created_at", self.created_at)?,
            updated_at: time("updated_at", self.updated_at)?,
            delivered_at: self.delivered_at.map(|v| time("delivered_at", v)).transpose()?,
            id: self.id,
            webhook_id: self.webhook_id,
            webhook_name: self.webhook_name,
            event_id: self.event_id,
            body: self.body,
            last_error: self.last_error,
        })
    }
}

macro_rules! alerts_impl {
    ($store:ty) => {
        #[async_trait]
        impl AlertStore for $store {
            #[tracing::instrument(skip_all)]
            async fn insert_webhook(&self, w: &WebhookRecord, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    sqlx::query(INSERT_WEBHOOK)
                        .bind(&w.webhook.id)
                        .bind(&w.webhook.name)
                        .bind(&w.webhook.url)
                        .bind(&w.secret_sealed)
                        .bind(&w.webhook.created_by)
                        .bind(millis(w.webhook.created_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match write_error(e, Subject::Other) {
                            Error::Conflict { .. } => {
                                Error::conflict(Some("name"), format!("A webhook named {} already exists.", w.webhook.name))
                            }
                            other => other,
                        })?;
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_webhook(&self, id: &str) -> Result<Option<WebhookRecord>> {
                let row: Option<WebhookRow> = sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM alert_webhooks WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(WebhookRow::into_record).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn list_webhooks(&self) -> Result<Vec<WebhookRecord>> {
                let rows: Vec<WebhookRow> = sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM alert_webhooks ORDER BY name, id"))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                convert(rows, WebhookRow::into_record)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_webhook(&self, id: &str, audit: AuditDraft) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let done = sqlx::query("DELETE FROM alert_webhooks WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::not_found("webhook", id));
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| ())
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn get_alert_state(&self, channel: &str) -> Result<Option<(HealthState, DateTime<Utc>)>> {
                let row: Option<(String, i64)> = sqlx::query_as("SELECT state, changed_at FROM alert_state WHERE channel = $1")
                    .bind(channel)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_error)?;
                row.map(|(s, at)| Ok((state("state", &s)?, time("changed_at", at)?))).transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn record_alert_change(
                &self,
                channel: &str,
                expected: Option<HealthState>,
                to: HealthState,
                at: DateTime<Utc>,
                deliveries: &[Delivery],
                audit: AuditDraft,
            ) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let result = async {
                    let q = match expected {
                        None => sqlx::query(INSERT_STATE).bind(channel).bind(to.as_str()).bind(millis(at)),
                        Some(old) => sqlx::query(UPDATE_STATE).bind(channel).bind(to.as_str()).bind(millis(at)).bind(old.as_str()),
                    };
                    if q.execute(&mut *tx).await.map_err(db_error)?.rows_affected() != 1 {
                        return Ok(false);
                    }
                    for d in deliveries {
                        sqlx::query(INSERT_DELIVERY)
                            .bind(&d.id)
                            .bind(&d.webhook_id)
                            .bind(&d.webhook_name)
                            .bind(&d.event_id)
                            .bind(d.from_state.as_str())
                            .bind(d.to_state.as_str())
                            .bind(&d.body)
                            .bind(d.status.as_str())
                            .bind(i64::from(d.attempts))
                            .bind(i64::from(d.max_attempts))
                            .bind(d.last_status_code.map(i64::from))
                            .bind(&d.last_error)
                            .bind(opt_millis(d.next_attempt_at))
                            .bind(millis(d.created_at))
                            .bind(millis(d.updated_at))
                            .bind(opt_millis(d.delivered_at))
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| write_error(e, Subject::Other))?;
                    }
                    Self::append_in(&mut tx, audit).await.map(|_| true)
                }
                .await;
                finish(tx, result).await
            }

            #[tracing::instrument(skip_all)]
            async fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Delivery>> {
                let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
                     ORDER BY next_attempt_at, id LIMIT $2"
                ))
                .bind(millis(now))
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
                convert(rows, DeliveryRow::into_delivery)
            }

            #[tracing::instrument(skip_all)]
            async fn claim_delivery(&self, id: &str, expected_attempts: u32, until: DateTime<Utc>) -> Result<bool> {
                let done = sqlx::query(CLAIM)
                    .bind(id)
                    .bind(i64::from(expected_attempts))
                    .bind(millis(until))
                    .execute(self.writer())
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(skip_all)]
            async fn finish_delivery(&self, d: &Delivery) -> Result<()> {
                sqlx::query(FINISH)
                    .bind(&d.id)
                    .bind(i64::from(d.attempts))
                    .bind(d.status.as_str())
                    .bind(d.last_status_code.map(i64::from))
                    .bind(&d.last_error)
                    .bind(opt_millis(d.next_attempt_at))
                    .bind(millis(d.updated_at))
                    .bind(opt_millis(d.delivered_at))
                    .execute(self.writer())
                    .await
                    .map_err(db_error)?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn list_deliveries(&self, webhook_id: Option<&str>, page: Page) -> Result<Vec<Delivery>> {
                let rows: Vec<DeliveryRow> = match webhook_id {
                    Some(w) => sqlx::query_as(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE webhook_id = $1 \
                         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                    ))
                    .bind(w)
                    .bind(i64::from(page.limit))
                    .bind(i64::from(page.offset))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?,
                    None => sqlx::query_as(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
                    ))
                    .bind(i64::from(page.limit))
                    .bind(i64::from(page.offset))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?,
                };
                convert(rows, DeliveryRow::into_delivery)
            }
        }
    };
}

alerts_impl!(SqliteStore);
alerts_impl!(PgStore);
