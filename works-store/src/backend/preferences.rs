//! The preferences part of the store: each person's Command Center layout, one row per
//! user. Written once for both backends.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use works_core::preferences::{Layout, PreferenceStore};
use works_core::{Error, Result};

use super::{PgStore, SqliteStore};
use crate::error::db_error;
use crate::rows::{json_error, millis};

const GET: &str = "SELECT layout FROM user_preferences WHERE user_id = $1";
const PUT: &str = "INSERT INTO user_preferences (user_id, layout, updated_at) VALUES ($1, $2, $3) \
ON CONFLICT (user_id) DO UPDATE SET layout = excluded.layout, updated_at = excluded.updated_at";

macro_rules! preferences_impl {
    ($store:ty) => {
        #[async_trait]
        impl PreferenceStore for $store {
            #[tracing::instrument(skip_all)]
            async fn get_layout(&self, user_id: &str) -> Result<Option<Layout>> {
                let doc: Option<String> = sqlx::query_scalar(GET).bind(user_id).fetch_optional(self.reader()).await.map_err(db_error)?;
                doc.map(|d| {
                    serde_json::from_str(&d).map_err(|e| {
                        tracing::error!(error = %e, "stored layout unreadable");
                        Error::internal("A stored layout could not be read.")
                    })
                })
                .transpose()
            }

            #[tracing::instrument(skip_all)]
            async fn put_layout(&self, user_id: &str, layout: &Layout, at: DateTime<Utc>) -> Result<()> {
                let doc = serde_json::to_string(layout).map_err(json_error("layout"))?;
                sqlx::query(PUT).bind(user_id).bind(doc).bind(millis(at)).execute(self.writer()).await.map_err(db_error)?;
                Ok(())
            }
        }
    };
}

preferences_impl!(SqliteStore);
preferences_impl!(PgStore);
