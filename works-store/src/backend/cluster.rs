//! Several servers on one database: announcements of queued work (PostgreSQL
//! `LISTEN`, fed by the trigger of migration 0013) and giving up a lease at shutdown.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use works_core::cluster::{ClusterStore, WorkListener};
use works_core::{Error, Result};

use super::{PgStore, SqliteStore};
use crate::error::db_error;
use crate::rows::millis;

/// The channel the trigger `jobs_announce_queued` notifies.
pub const WORK_QUEUED_CHANNEL: &str = "works_job_queued";

const RELEASE_LEASE: &str = "UPDATE leases SET expires_at = $3 WHERE name = $1 AND holder = $2 AND expires_at > $3";

macro_rules! cluster_impl {
    ($store:ty, |$this:ident| $listener:expr) => {
        #[async_trait]
        impl ClusterStore for $store {
            async fn work_listener(&self) -> Result<Option<Box<dyn WorkListener>>> {
                let $this = self;
                $listener
            }

            async fn release_lease(&self, name: &str, holder: &str, now: DateTime<Utc>) -> Result<bool> {
                let done = sqlx::query(RELEASE_LEASE)
                    .bind(name)
                    .bind(holder)
                    .bind(millis(now))
                    .execute(self.writer())
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

// SQLite serves one server: its in-process signal is all there is.
cluster_impl!(SqliteStore, |_this| Ok(None));

cluster_impl!(PgStore, |this| {
    let mut listener = PgListener::connect_with(this.writer()).await.map_err(db_error)?;
    listener.listen(WORK_QUEUED_CHANNEL).await.map_err(db_error)?;
    Ok(Some(Box::new(PgWorkListener { listener }) as Box<dyn WorkListener>))
});

/// A dedicated PostgreSQL connection listening on [`WORK_QUEUED_CHANNEL`]; sqlx
/// reconnects it (and listens again) on the call after a lost connection.
struct PgWorkListener {
    listener: PgListener,
}

#[async_trait]
impl WorkListener for PgWorkListener {
    async fn next(&mut self) -> Result<Option<String>> {
        match self.listener.try_recv().await {
            // The trigger sends the node id as the payload.
            Ok(Some(n)) => Ok(Some(n.payload().to_owned()).filter(|p| !p.is_empty())),
            // The connection was lost; the next call reconnects.
            Ok(None) => Err(Error::unavailable("The connection that announces queued work was lost; listening again.")),
            Err(e) => Err(db_error(e)),
        }
    }
}
