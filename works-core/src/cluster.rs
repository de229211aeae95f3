//! Several servers on one database. The database is the only shared state: sessions,
//! tokens, jobs and the audit log live there, job claims are atomic in the store, and
//! one server at a time (the holder of the recovery lease) runs the periodic work.
//!
//! What the database alone cannot do is wake an agent that is long-polling one server
//! when its job is queued through another. The store announces every job that becomes
//! queued (on PostgreSQL with `NOTIFY`, sent when the transaction commits); each server
//! listens and wakes its waiting agents at once. Announcements missed while the listener
//! reconnects are covered by the server's sweep, one read every half second for all of
//! its waiting claims (or, where no sweep runs, by each claim's own short poll), so a
//! lost announcement delays a job by at most that, never loses it. SQLite serves one
//! server and has no announcements: the server's in-process signal wakes its claims,
//! and the sweep catches work queued by another process on the same file (the `works`
//! command, say).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::works::Works;

/// Announcements of queued work from every server sharing the database.
#[async_trait]
pub trait WorkListener: Send {
    /// Waits for the next announcement (one or more jobs were queued, by any server,
    /// this one included), answering the node the work is for when the announcement
    /// names it. An error means the connection was lost; the next call reconnects, and
    /// announcements sent meanwhile are lost.
    async fn next(&mut self) -> Result<Option<String>>;
}

/// The storage contract for running several servers on one database.
#[async_trait]
pub trait ClusterStore: Send + Sync {
    /// A listener for queued work announced by every server, or None when this
    /// database serves one server only (SQLite).
    async fn work_listener(&self) -> Result<Option<Box<dyn WorkListener>>>;

    /// Gives up the named lease if `holder` holds it (it expires at `now`), so that
    /// another server takes it over at its next try instead of waiting for it to run
    /// out. Answers whether the lease was held.
    async fn release_lease(&self, name: &str, holder: &str, now: DateTime<Utc>) -> Result<bool>;
}

/// Wakes the agents long-polling this server for work, one node at a time: queuing a
/// job for a node wakes only the claims of that node (never every waiting agent, which
/// at thousands of long polls would be a thundering herd). A node's entry exists only
/// while one of its claims waits.
#[derive(Debug, Default)]
pub struct JobSignal {
    nodes: Mutex<HashMap<String, Arc<tokio::sync::Notify>>>,
    /// How many sweeps ([`Works::sweep_queued_work`]) are running: while one is, a
    /// waiting claim does not look for work by itself every [`CLAIM_POLL`].
    sweeps: AtomicUsize,
    /// How many times a claim looked for work of its node with a read (diagnostics).
    looks: AtomicU64,
}

/// One waiting claim's hold on its node's wake-up; the entry goes when the last holder
/// of the node drops.
pub struct JobWaiter<'a> {
    signal: &'a JobSignal,
    node_id: String,
    notify: Arc<tokio::sync::Notify>,
}

impl JobSignal {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Notify>>> {
        // The map holds no invariant a panic elsewhere could break.
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the claims waiting for work of `node_id` on this server.
    pub fn notify_node(&self, node_id: &str) {
        let notify = self.lock().get(node_id).cloned();
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    /// Wakes every waiting claim (when the work's node is not known, or announcements
    /// may have been missed).
    pub fn notify_waiters(&self) {
        let all: Vec<_> = self.lock().values().cloned().collect();
        for n in all {
            n.notify_waiters();
        }
    }

    /// Registers a claim waiting for work of `node_id`.
    pub fn waiter(&self, node_id: &str) -> JobWaiter<'_> {
        let notify = self.lock().entry(node_id.to_owned()).or_default().clone();
        JobWaiter { signal: self, node_id: node_id.to_owned(), notify }
    }

    /// How many nodes have a claim waiting (for tests and diagnostics).
    pub fn waiting_nodes(&self) -> usize {
        self.lock().len()
    }

    /// Whether a sweep looks for queued work on behalf of every waiting claim.
    pub(crate) fn swept(&self) -> bool {
        self.sweeps.load(Ordering::SeqCst) > 0
    }

    pub(crate) fn count_look(&self) {
        self.looks.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts a running sweep while it lives.
struct Sweeping<'a>(&'a JobSignal);

impl<'a> Sweeping<'a> {
    fn start(signal: &'a JobSignal) -> Self {
        signal.sweeps.fetch_add(1, Ordering::SeqCst);
        Sweeping(signal)
    }
}

impl Drop for Sweeping<'_> {
    fn drop(&mut self) {
        self.0.sweeps.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How often a waiting claim looks for work by itself when no sweep runs, and how often
/// a sweep looks for every waiting claim: the most a lost announcement delays a job.
pub(crate) const CLAIM_POLL: StdDuration = StdDuration::from_millis(500);

/// The most nodes with queued work one sweep reads.
const SWEEP_NODES_MAX: u32 = 10_000;

impl JobWaiter<'_> {
    /// A wake-up of this node; enable it (`Notified::enable`) before looking for work,
    /// so work queued between the look and the wait is not missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for JobWaiter<'_> {
    fn drop(&mut self) {
        let mut nodes = self.signal.lock();
        // Clones are made only under the lock: two means the map and this waiter.
        if nodes.get(&self.node_id).is_some_and(|n| Arc::ptr_eq(n, &self.notify) && Arc::strong_count(n) == 2) {
            nodes.remove(&self.node_id);
        }
    }
}

/// How long the relay waits before listening again after the connection was lost.
const RELISTEN_AFTER: StdDuration = StdDuration::from_secs(1);

impl Works {
    /// Wakes this server's long-polling agents whenever another server (or this one)
    /// queues work, until `stop` resolves. Returns at once, having nothing to relay,
    /// when the store has no announcements (SQLite).
    pub async fn relay_work_announcements(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut listener = loop {
            match self.store.work_listener().await {
                Ok(Some(listener)) => break listener,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for work queued on other servers yet; agents are woken by polling meanwhile");
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(RELISTEN_AFTER * 5) => {}
                    }
                }
            }
        };
        let mut lost = false;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                next = listener.next() => match next {
                    Ok(node) => {
                        if lost {
                            tracing::info!("listening for work queued on other servers again");
                            lost = false;
                        }
                        match node {
                            Some(node_id) => self.job_signal.notify_node(&node_id),
                            None => self.job_signal.notify_waiters(),
                        }
                    }
                    Err(e) => {
                        if !lost {
                            tracing::warn!(error = %e, "lost the database connection that announces work queued on other servers; agents are woken by polling until it is back");
                            lost = true;
                        }
                        // Whatever was announced meanwhile is lost: let the waiting
                        // claims look for it now.
                        self.job_signal.notify_waiters();
                        tokio::select! {
                            _ = &mut stop => return,
                            _ = tokio::time::sleep(RELISTEN_AFTER) => {}
                        }
                    }
                }
            }
        }
    }

    /// Looks for queued work on behalf of every claim waiting on this server, every
    /// [`CLAIM_POLL`], until `stop` resolves, and wakes the claims of the nodes that have
    /// some: one read per server instead of one per waiting claim, which at thousands of
    /// long polls would be thousands of reads a second. It catches work queued by
    /// another process on the same SQLite file, and announcements lost while the
    /// PostgreSQL listener reconnected. While it runs, waiting claims do not look by
    /// themselves.
    pub async fn sweep_queued_work(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut sweeping = Some(Sweeping::start(&self.job_signal));
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(CLAIM_POLL) => {}
            }
            if self.job_signal.waiting_nodes() == 0 {
                continue;
            }
            match self.store.nodes_with_queued_jobs(SWEEP_NODES_MAX).await {
                Ok(nodes) => {
                    if sweeping.is_none() {
                        tracing::info!("looking for queued work for the waiting agents again");
                        sweeping = Some(Sweeping::start(&self.job_signal));
                    }
                    for node_id in nodes {
                        self.job_signal.notify_node(&node_id);
                    }
                }
                Err(e) => {
                    if sweeping.take().is_some() {
                        tracing::warn!(error = %e, "cannot look for queued work for the waiting agents; each looks by itself until this works again");
                        // Woken, each waiting claim tries its claim once and then
                        // looks by itself.
                        self.job_signal.notify_waiters();
                    }
                }
            }
        }
    }

    /// How many times, since this server started, a claim looked for its node's work
    /// with a read (diagnostics: with a sweep running, an idle long poll looks once).
    pub fn claim_looks(&self) -> u64 {
        self.job_signal.looks.load(Ordering::Relaxed)
    }

    /// Gives up the recovery lease held by `holder` (at shutdown), so that another
    /// server takes the periodic work over at its next try.
    pub async fn step_down(&self, holder: &str) -> Result<bool> {
        self.store.release_lease(crate::recovery::RECOVERY_LEASE, holder, self.now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a wake-up already arrived (polls the future once, no waiting).
    async fn woken(n: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>) -> bool {
        tokio::time::timeout(StdDuration::ZERO, n).await.is_ok()
    }

    #[tokio::test]
    async fn work_for_a_node_wakes_only_that_nodes_claims() {
        let signal = JobSignal::default();
        let a = signal.waiter("node-a");
        let b = signal.waiter("node-b");
        let (wa, wb) = (a.notified(), b.notified());
        tokio::pin!(wa, wb);
        wa.as_mut().enable();
        wb.as_mut().enable();
        signal.notify_node("node-a");
        signal.notify_node("node-c");
        assert!(woken(wa).await, "the claim of node a is woken");
        assert!(!woken(wb.as_mut()).await, "the claim of node b is not");
        signal.notify_waiters();
        assert!(woken(wb).await, "waking every claim reaches node b too");
    }

    #[tokio::test]
    async fn a_nodes_entry_goes_with_its_last_waiting_claim() {
        let signal = JobSignal::default();
        let first = signal.waiter("node-a");
        let second = signal.waiter("node-a");
        let other = signal.waiter("node-b");
        assert_eq!(signal.waiting_nodes(), 2);
        drop(first);
        assert_eq!(signal.waiting_nodes(), 2, "a claim of node a still waits");
        drop(second);
        drop(other);
        assert_eq!(signal.waiting_nodes(), 0);
        // Waking a node nobody waits for is harmless.
        signal.notify_node("node-a");
        signal.notify_waiters();
    }
}
