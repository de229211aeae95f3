//! Preferences of one person: the layout of their Command Center — which side the
//! roster is on, where the activity strip is (or whether it is hidden), the panels'
//! sizes and which organizations are collapsed on the map. Kept on the server so it
//! follows the person from browser to browser.
//!
//! # Scope
//!
//! Only the caller's own layout is ever read or written: there is no id to pass, so no
//! one can reach anyone else's. A preference is not a change to the fleet and is not
//! audited. Every field is checked; a bad one is refused naming the field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::works::Works;

/// Most organizations remembered as collapsed.
pub const MAX_COLLAPSED: usize = 1000;
/// Longest group id remembered as collapsed.
pub const MAX_GROUP_ID: usize = 100;
pub const ROSTER_WIDTH: (u32, u32) = (160, 640);
pub const INSPECTOR_WIDTH: (u32, u32) = (200, 720);
pub const ACTIVITY_HEIGHT: (u32, u32) = (60, 600);

/// The layout of a person's Command Center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Layout {
    /// `left` (the inspector on the right) or `right` (the inspector on the left).
    pub roster_side: String,
    /// `bottom`, `top` or `hidden`.
    pub activity: String,
    /// In CSS pixels, 160 to 640.
    pub roster_width: u32,
    /// In CSS pixels, 200 to 720.
    pub inspector_width: u32,
    /// In CSS pixels, 60 to 600.
    pub activity_height: u32,
    /// Map groups (`org:<id>`, `org:msp`) shown collapsed; at most 1000.
    pub collapsed_groups: Vec<String>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            roster_side: "left".into(),
            activity: "bottom".into(),
            roster_width: 288,
            inspector_width: 352,
            activity_height: 152,
            collapsed_groups: Vec::new(),
        }
    }
}

impl Layout {
    /// Checks every field; the first bad one is refused naming it.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.roster_side.as_str(), "left" | "right") {
            return Err(Error::invalid("roster_side", "must be left or right"));
        }
        if !matches!(self.activity.as_str(), "bottom" | "top" | "hidden") {
            return Err(Error::invalid("activity", "must be bottom, top or hidden"));
        }
        for (field, value, (lo, hi)) in [
            ("roster_width", self.roster_width, ROSTER_WIDTH),
            ("inspector_width", self.inspector_width, INSPECTOR_WIDTH),
            ("activity_height", self.activity_height, ACTIVITY_HEIGHT),
        ] {
            if value < lo || value > hi {
                return Err(Error::invalid(field, format!("must be between {lo} and {hi} pixels")));
            }
        }
        if self.collapsed_groups.len() > MAX_COLLAPSED {
            return Err(Error::invalid("collapsed_groups", format!("can hold at most {MAX_COLLAPSED} organizations")));
        }
        for g in &self.collapsed_groups {
            let ok = g.starts_with("org:")
                && g.len() <= MAX_GROUP_ID
                && g.len() > 4
                && g.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_'));
            if !ok {
                return Err(Error::invalid("collapsed_groups", "must hold map group ids such as org:msp or org:<organization id>"));
            }
        }
        Ok(())
    }
}

/// The storage contract of preferences. Same rules as [`crate::store`].
#[async_trait::async_trait]
pub trait PreferenceStore: Send + Sync + 'static {
    /// The stored layout of the user, if they saved one.
    async fn get_layout(&self, user_id: &str) -> Result<Option<Layout>>;
    /// Stores the user's layout, replacing the one before.
    async fn put_layout(&self, user_id: &str, layout: &Layout, at: DateTime<Utc>) -> Result<()>;
}

impl Works {
    /// The caller's own Command Center layout (the default when they never saved one).
    pub async fn layout_get(&self, actor: &Actor) -> Result<Layout> {
        Ok(self.store.get_layout(&actor.id).await?.unwrap_or_default())
    }

    /// Saves the caller's own layout, after checking every field. Not audited: it
    /// changes nothing but how the caller's own screen is arranged.
    pub async fn layout_put(&self, actor: &Actor, mut layout: Layout) -> Result<Layout> {
        layout.collapsed_groups.sort();
        layout.collapsed_groups.dedup();
        layout.validate()?;
        self.store.put_layout(&actor.id, &layout, self.now()).await?;
        Ok(layout)
    }
}
