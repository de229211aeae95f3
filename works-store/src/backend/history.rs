//! The metrics history part of the store: samples of the health answer and fleet
//! counts. Written once for both backends.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use works_core::health::HealthState;
use works_core::history::{HistoryStore, MetricSample};
use works_core::{Error, Result};

use super::{PgStore, SqliteStore};
use crate::error::db_error;
use crate::rows::{json_error, millis};

const INSERT: &str = "INSERT INTO metric_samples (at, state, counts) VALUES ($1, $2, $3) ON CONFLICT (at) DO NOTHING";
const LIST: &str = "SELECT at, state, counts FROM metric_samples WHERE at >= $1 AND at <= $2 ORDER BY at LIMIT $3";

fn into_sample((at, state, counts): (i64, String, String)) -> Result<MetricSample> {
    let at = Utc.timestamp_millis_opt(at).single().ok_or_else(|| Error::internal("A stored metric sample's time is out of range."))?;
    let state = HealthState::parse(&state).ok_or_else(|| Error::internal("A stored metric sample has an unknown health state."))?;
    let counts = serde_json::from_str(&counts).map_err(|e| {
        tracing::error!(error = %e, "stored metric sample counts unreadable");
        Error::internal("A stored metric sample's counts could not be read.")
    })?;
    Ok(MetricSample { at, state, counts })
}

macro_rules! history_impl {
    ($store:ty) => {
        #[async_trait]
        impl HistoryStore for $store {
            #[tracing::instrument(skip_all)]
            async fn insert_sample(&self, sample: &MetricSample) -> Result<bool> {
                let counts = serde_json::to_string(&sample.counts).map_err(json_error("metric sample counts"))?;
                let done = sqlx::query(INSERT)
                    .bind(millis(sample.at))
                    .bind(sample.state.as_str())
                    .bind(counts)
                    .execute(self.writer())
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(skip_all)]
            async fn list_samples(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: u32) -> Result<Vec<MetricSample>> {
                let rows: Vec<(i64, String, String)> = sqlx::query_as(LIST)
                    .bind(millis(from))
                    .bind(millis(to))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_error)?;
                rows.into_iter().map(into_sample).collect()
            }

            #[tracing::instrument(skip_all)]
            async fn last_sample_at(&self) -> Result<Option<DateTime<Utc>>> {
                let at: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(at) FROM metric_samples").fetch_one(self.reader()).await.map_err(db_error)?;
                Ok(at.and_then(|ms| Utc.timestamp_millis_opt(ms).single()))
            }

            #[tracing::instrument(skip_all)]
            async fn prune_samples(&self, before: DateTime<Utc>) -> Result<u64> {
                let done = sqlx::query("DELETE FROM metric_samples WHERE at < $1")
                    .bind(millis(before))
                    .execute(self.writer())
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected())
            }
        }
    };
}

history_impl!(SqliteStore);
history_impl!(PgStore);
