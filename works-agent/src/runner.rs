//! `works agent run`: check in every interval (with jitter), long-poll for work between
//! check-ins, run what is claimed with heartbeats, report the end. Server failures are
//! met with exponential back-off; a refused credential stops the agent.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Mutex;
use tracing::Instrument;
use tokio_util::sync::CancellationToken;
use works_core::{CheckIn, CheckInReply, Error, Job, JobReport, Result};

use crate::backoff::{advised_delay, checkin_delay, Backoff};
use crate::client::AgentClient;
use crate::docker::{inventory_hash, Engine};
use crate::state;

/// How long one claim waits on the server for work.
pub const CLAIM_WAIT: Duration = Duration::from_secs(20);
/// The least time between two claims that found no work.
pub const MIN_CLAIM_SPACING: Duration = Duration::from_secs(1);
/// How often a running job is reported alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// How long a job in progress may still take once the agent is asked to stop.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// What the agent needs to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The Docker engine's address (see [`crate::docker::docker_host_from_env`]).
    pub docker_host: String,
    /// Other servers sharing the enrolled server's database, tried in order when the
    /// server in use cannot be reached.
    pub fallback_servers: Vec<String>,
}

/// The agent of one node, running.
pub struct Agent {
    pub(crate) client: AgentClient,
    pub(crate) engine: Engine,
    node_id: String,
    /// The digest of the inventory the server last accepted.
    sent_inventory: Mutex<Option<[u8; 32]>>,
    /// Ends both loops: the stop signal, or a refused credential.
    halt: CancellationToken,
    /// Why the agent was cut off, when it was.
    refused: OnceLock<Error>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("node_id", &self.node_id).field("client", &self.client).finish()
    }
}

/// Runs the agent enrolled in `state_dir` until `shutdown` is cancelled (Ok) or the
/// server refuses its credential (an `Unauthenticated` error saying so).
/// Runs the agent until the process is told to stop (SIGINT or SIGTERM).
pub async fn run_until_stopped(state_dir: &Path, options: RunOptions) -> Result<()> {
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    let stopped = crate::stop_signal();
    let signals = tokio::spawn(async move {
        stopped.await;
        tracing::info!("stopping the agent");
        on_signal.cancel();
    });
    let result = run(state_dir, options, stop).await;
    signals.abort();
    result
}

pub async fn run(state_dir: &Path, options: RunOptions, shutdown: CancellationToken) -> Result<()> {
    let saved = state::load(state_dir)?;
    let client = AgentClient::with_fallbacks(&saved.server, &options.fallback_servers, saved.credential)?;
    let agent = Arc::new(Agent::with_client(client, saved.node_id, &options.docker_host, shutdown)?);
    agent.run().await
}

impl Agent {
    pub fn new(server: &str, credential: String, node_id: String, docker_host: &str, shutdown: CancellationToken) -> Result<Agent> {
        Self::with_client(AgentClient::new(server, credential)?, node_id, docker_host, shutdown)
    }

    /// The agent of `node_id` talking through `client` (one server, or several with
    /// failover: [`AgentClient::with_fallbacks`]).
    pub fn with_client(client: AgentClient, node_id: String, docker_host: &str, shutdown: CancellationToken) -> Result<Agent> {
        Ok(Agent {
            client,
            engine: Engine::new(docker_host)?,
            node_id,
            sent_inventory: Mutex::new(None),
            halt: shutdown.child_token(),
            refused: OnceLock::new(),
        })
    }

    pub async fn run(self: Arc<Self>) -> Result<()> {
        tracing::info!(
            server = %self.client.server(),
            node_id = %self.node_id,
            docker = %self.engine.host(),
            version = crate::health::AGENT_VERSION,
            "agent started"
        );
        let checkins = tokio::spawn(self.clone().checkin_loop());
        let work = tokio::spawn(self.clone().work_loop());
        let (a, b) = tokio::join!(checkins, work);
        for joined in [a, b] {
            if let Err(e) = joined {
                tracing::error!(error = %e, "an agent task ended unexpectedly");
                self.halt.cancel();
            }
        }
        match self.refused.get() {
            Some(e) => Err(e.clone()),
            None => {
                tracing::info!("agent stopped");
                Ok(())
            }
        }
    }

    /// The server no longer accepts the credential: stop everything, say why.
    fn cut_off(&self, e: &Error) {
        let message = format!(
            "The server at {} refused this agent's credential: it was revoked, or the node was retired. The agent stopped. To run it again, ask an admin for a new enrollment token and run `works agent enroll --force`.",
            self.client.server()
        );
        if self.refused.set(Error::unauthenticated(message)).is_ok() {
            tracing::error!(answer = %e, "the server refused the agent credential; stopping");
        }
        self.halt.cancel();
    }

    /// Sleeps for `d`, or less if the agent is told to stop. True when it should stop.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = self.halt.cancelled() => true,
            _ = tokio::time::sleep(d) => self.halt.is_cancelled(),
        }
    }

    /// One check-in: health always; the inventory when it changed since the server last
    /// accepted one, or when `full` asks for it. An engine that cannot be reached sends
    /// no inventory (the server keeps the last one) and reports itself unreachable.
    pub async fn checkin(&self, full: bool) -> Result<(CheckInReply, Option<usize>)> {
        let mut sent = self.sent_inventory.lock().await;
        let health = crate::health::collect(&self.engine).await;
        let (containers, digest) = match self.engine.inventory().await {
            Ok(list) => {
                let digest = inventory_hash(&list);
                if full || *sent != Some(digest) {
                    (Some(list), Some(digest))
                } else {
                    (None, None)
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the container inventory");
                (None, None)
            }
        };
        let count = containers.as_ref().map(Vec::len);
        let sending_inventory = containers.is_some();
        let mut input = CheckIn { health, containers };
        match self.client.checkin(&input).await {
            Ok(reply) => {
                if digest.is_some() {
                    *sent = digest;
                }
                Ok((reply, count))
            }
            // An inventory the server will not take (too many containers, too large):
            // the health still goes through, and the inventory is tried again next time.
            Err(Error::InvalidInput { field, problem }) if sending_inventory && (field == "containers" || field == "body") => {
                tracing::warn!(field = %field, problem = %problem, "the server refused the container inventory; checking in without it");
                input.containers = None;
                let reply = self.client.checkin(&input).await?;
                Ok((reply, None))
            }
            Err(e) => Err(e),
        }
    }

    async fn checkin_loop(self: Arc<Self>) {
        let mut backoff = Backoff::default();
        let mut delay = Duration::ZERO;
        loop {
            if self.pause(delay).await {
                return;
            }
            delay = match self.checkin(false).await {
                Ok((reply, sent)) => {
                    if backoff.failures() > 0 {
                        tracing::info!("the server answers again");
                    }
                    backoff.reset();
                    tracing::debug!(containers_sent = ?sent, next_secs = reply.next_checkin_secs, "checked in");
                    checkin_delay(reply.next_checkin_secs)
                }
                Err(e @ Error::Unauthenticated { .. }) => {
                    self.cut_off(&e);
                    return;
                }
                // A busy server (after a restart the whole fleet comes back at once) says
                // when to try again; that is advice, not a failure.
                Err(Error::RateLimited { retry_after_secs, .. }) => {
                    let wait = advised_delay(retry_after_secs);
                    tracing::info!(retry_in_secs = wait.as_secs_f32(), "the server is busy; checking in later as it advised");
                    wait
                }
                Err(e) => {
                    let wait = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in_secs = wait.as_secs_f32(), "check-in failed");
                    wait
                }
            };
        }
    }

    async fn work_loop(self: Arc<Self>) {
        let mut backoff = Backoff::default();
        loop {
            if self.halt.is_cancelled() {
                return;
            }
            let asked = tokio::time::Instant::now();
            let claimed = tokio::select! {
                _ = self.halt.cancelled() => return,
                r = self.client.claim(CLAIM_WAIT) => r,
            };
            match claimed {
                Ok(Some(job)) => {
                    backoff.reset();
                    self.handle_with_grace(job).await;
                }
                Ok(None) => {
                    backoff.reset();
                    // A server that answers "no work" at once (it is stopping, or does
                    // not hold claims open) is not asked again more than once a second.
                    let quick = MIN_CLAIM_SPACING.saturating_sub(asked.elapsed());
                    if !quick.is_zero() && self.pause(quick).await {
                        return;
                    }
                }
                Err(e @ Error::Unauthenticated { .. }) => {
                    self.cut_off(&e);
                    return;
                }
                Err(e) => {
                    let wait = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in_secs = wait.as_secs_f32(), "asking for work failed");
                    if self.pause(wait).await {
                        return;
                    }
                }
            }
        }
    }

    /// Runs a claimed job; when the agent is told to stop meanwhile, the job has
    /// [`STOP_GRACE`] to finish before it is left to the server's recovery.
    async fn handle_with_grace(&self, job: Job) {
        let id = job.id.clone();
        let deadline = async {
            self.halt.cancelled().await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        tokio::select! {
            _ = self.handle(job) => {}
            _ = deadline => tracing::warn!(job_id = %id, "stopped before the job finished; the server will recover it"),
        }
    }

    async fn handle(&self, job: Job) {
        let span = tracing::info_span!("job", id = %job.id, kind = job.kind.as_str());
        self.handle_in_span(job).instrument(span).await
    }

    async fn handle_in_span(&self, job: Job) {
        tracing::info!(attempt = job.attempts, "picked up a job");
        if !crate::jobs::supported(job.kind) {
            let report = crate::jobs::unsupported(job.kind);
            self.report(&job, report).await;
            return;
        }
        match self.client.start(&job.id).await {
            Ok(_) => {}
            Err(e @ Error::Unauthenticated { .. }) => return self.cut_off(&e),
            Err(e @ (Error::Conflict { .. } | Error::NotFound { .. })) => {
                tracing::warn!(error = %e, "the server did not let the job start; leaving it");
                return;
            }
            // The claim stands; the report is accepted from a claimed job too.
            Err(e) => tracing::warn!(error = %e, "could not tell the server the job started; running it anyway"),
        }
        let work = crate::jobs::perform(self, &job);
        tokio::pin!(work);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_EVERY, HEARTBEAT_EVERY);
        let report = loop {
            tokio::select! {
                report = &mut work => break report,
                _ = ticker.tick() => match self.client.heartbeat(&job.id).await {
                    Ok(_) => {}
                    Err(e @ Error::Unauthenticated { .. }) => return self.cut_off(&e),
                    Err(e @ (Error::Conflict { .. } | Error::NotFound { .. })) => {
                        tracing::warn!(error = %e, "the server asked to stop the job; stopped");
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed; still working"),
                },
            }
        };
        self.report(&job, report).await;
    }

    /// Reports the end of a job, retrying while the server cannot be reached and the
    /// job's window is open.
    async fn report(&self, job: &Job, report: JobReport) {
        let mut backoff = Backoff::default();
        let window = Duration::from_secs(u64::from(job.timeout_secs.max(1)));
        let give_up = tokio::time::Instant::now() + window;
        loop {
            match self.client.complete(&job.id, &report).await {
                Ok(j) => {
                    tracing::info!(state = j.state.as_str(), "reported the job");
                    return;
                }
                Err(e @ Error::Unauthenticated { .. }) => return self.cut_off(&e),
                Err(e @ (Error::Conflict { .. } | Error::NotFound { .. } | Error::InvalidInput { .. })) => {
                    tracing::warn!(error = %e, "the server did not accept the report");
                    return;
                }
                Err(e) => {
                    let wait = backoff.next_delay();
                    if tokio::time::Instant::now() + wait > give_up {
                        tracing::warn!(error = %e, "could not report the job within its window; the server will recover it");
                        return;
                    }
                    tracing::warn!(error = %e, retry_in_secs = wait.as_secs_f32(), "reporting the job failed");
                    // Reporting goes on through a stop request: it is the end of work already done.
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a signal that arrives between the call and the
/// first poll (a server that has just said it is running, on a busy machine) still
/// stops the process cleanly instead of killing it.
pub fn stop_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => {},
                _ = wait(terminate) => {},
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
