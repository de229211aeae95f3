//! Check-in ingest at fleet scale: group commit and admission.
//!
//! A fleet of 100,000 agents checking in every 30 seconds sends about 3,300 check-ins a
//! second. Writing each in its own transaction spends most of the time committing, so
//! check-ins that arrive together are written together ([`GroupCommit`]).
//!
//! Admission bounds how many check-ins a server works on at once. Past the bound an
//! agent is told to come back after a few seconds, spread at random so that a fleet
//! reconnecting after a restart arrives over a window instead of all at once; the agent
//! waits as told and nothing it reported is lost, since its next check-in carries the
//! same state.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::agent::AgentIdentity;
use crate::error::{Error, Result};
use crate::group_commit::GroupCommit;
use crate::nodes::CheckinWrite;
use crate::store::Store;
use crate::works::Works;

/// The check-ins waiting to be written (group commit), admission, and the agents this
/// server has resolved.
#[derive(Default)]
pub(crate) struct CheckinQueue {
    writes: GroupCommit<CheckinWrite, bool>,
    in_flight: Arc<AtomicUsize>,
    /// Agents this server has resolved, by the first 16 bytes of their credential's
    /// hash, with when. Only a shortcut: the check-in's write checks the whole hash
    /// again.
    agents: Mutex<HashMap<u128, (Arc<AgentIdentity>, DateTime<Utc>)>>,
}

/// How long a server trusts what it remembers of an agent (its node's name, for the
/// audit records its check-ins lead to) before resolving it again: a node renamed
/// through another server shows its new name here within this time. A rename through
/// this server shows at once.
pub(crate) const REMEMBER_AGENTS_FOR: chrono::Duration = chrono::Duration::minutes(10);

/// How many resolved agents a server keeps in memory (about 250 bytes each); past it
/// the memory is emptied and refilled as agents check in.
const KNOWN_AGENTS_MAX: usize = 250_000;

fn agent_key(hash: &str) -> Option<u128> {
    hash.get(..32).and_then(|h| u128::from_str_radix(h, 16).ok())
}

/// A check-in's place among those the server works on at once; given back when dropped.
#[must_use = "the place is given back when this is dropped"]
pub struct CheckinPermit {
    in_flight: Arc<AtomicUsize>,
}

impl Drop for CheckinPermit {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl CheckinQueue {
    /// The agent remembered for this credential hash, unless remembered before
    /// [`REMEMBER_AGENTS_FOR`] ago.
    pub(crate) fn known_agent(&self, hash: &str, now: DateTime<Utc>) -> Option<AgentIdentity> {
        let key = agent_key(hash)?;
        let agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        agents.get(&key).filter(|(_, at)| now - *at < REMEMBER_AGENTS_FOR).map(|(a, _)| AgentIdentity::clone(a))
    }

    pub(crate) fn remember_agent(&self, hash: &str, agent: &AgentIdentity, now: DateTime<Utc>) {
        let Some(key) = agent_key(hash) else { return };
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        if agents.len() >= KNOWN_AGENTS_MAX {
            agents.clear();
        }
        agents.insert(key, (Arc::new(agent.clone()), now));
    }

    /// Forgets the agents of a node (renamed here), so that its next check-in resolves
    /// them again.
    pub(crate) fn forget_node(&self, node_id: &str) {
        self.agents.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, (a, _)| a.node_id != node_id);
    }

    pub(crate) fn forget_agent(&self, hash: &str) {
        if let Some(key) = agent_key(hash) {
            self.agents.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        }
    }

    /// Writes one check-in together with any others waiting; answers whether its node
    /// exists.
    pub(crate) async fn record(&self, store: &Arc<dyn Store>, write: CheckinWrite) -> Result<bool> {
        let store = store.clone();
        self.writes
            .submit(write, move |writes| async move {
                let n = writes.len();
                match store.record_checkins(&writes).await {
                    Ok(found) => found.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e); n],
                }
            })
            .await
    }
}

impl Works {
    /// Takes a place for one check-in, or tells the agent to come back later when the
    /// server already works on as many as it allows
    /// ([`crate::CoreConfig::checkin_max_in_flight`]). The wait advised is spread at
    /// random up to [`crate::CoreConfig::checkin_retry_max_secs`].
    pub fn checkin_admission(&self) -> Result<CheckinPermit> {
        let in_flight = &self.checkins.in_flight;
        let before = in_flight.fetch_add(1, Ordering::AcqRel);
        let permit = CheckinPermit { in_flight: in_flight.clone() };
        if before >= self.config.checkin_max_in_flight {
            drop(permit);
            let most = self.config.checkin_retry_max_secs.max(1);
            let retry_after_secs = rand::thread_rng().gen_range(1..=most);
            return Err(Error::RateLimited {
                message: format!(
                    "The server is busy taking check-ins from many agents at once; check in again in {retry_after_secs} seconds. Nothing is lost: the next check-in carries the same state."
                ),
                retry_after_secs,
            });
        }
        Ok(permit)
    }

    /// Since this server started: how many check-in transactions it wrote, and how many
    /// check-ins they held.
    pub fn checkin_batches(&self) -> (u64, u64) {
        self.checkins.writes.counts()
    }

    /// How many check-ins the server is working on now.
    pub fn checkins_in_flight(&self) -> usize {
        self.checkins.in_flight.load(Ordering::Acquire)
    }
}
