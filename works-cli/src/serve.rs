//! `works serve`: open the store, set up the first admin, serve the HTTP API and web UI
//! until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;

use works_core::{Error, Result};

use crate::cli::{Cli, ServeArgs};
use crate::connect;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub async fn run(cli: &Cli, args: &ServeArgs) -> Result<()> {
    if cli.server.is_some() {
        return Err(Error::invalid("server", "does not apply to works serve: it serves its own database"));
    }
    crate::ops::guard_start(cli, args)?;
    let listen = args.listen.trim();
    let addr: SocketAddr = tokio::net::lookup_host(listen)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::invalid("listen", format!("{listen} is not an address to listen on, such as 127.0.0.1:8080")))?;

    let (core_config, recovery_every) = core_config(args)?;
    let url = connect::database_url(cli)?;
    let (works, outcome) = connect::open_works(&url).await?;
    let notifier = works_client::WebhookNotifier::new()?;
    let works = works.with_config(core_config).with_notifier(std::sync::Arc::new(notifier));
    if let Some(message) = connect::bootstrap_message(&outcome) {
        say(&message);
    }

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::unavailable(format!("Cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| Error::internal(format!("Cannot read the bound address: {e}")))?;

    let config = works_http::HttpConfig {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: crate::build_commit(),
        secure_cookies: args.secure_cookies,
        metrics_public: works_http::metrics_public_from(std::env::var("WORKS_METRICS_PUBLIC").ok()),
    };
    let backend = works.store().backend();

    // Work left overdue while no server ran is settled before anything else happens;
    // then a monitor keeps doing so (one leader among servers sharing the database).
    match works.recover().await {
        Ok(r) if !r.requeued.is_empty() || !r.timed_out.is_empty() || !r.runs_failed.is_empty() => {
            tracing::info!(requeued = r.requeued.len(), timed_out = r.timed_out.len(), runs_failed = r.runs_failed.len(), "recovered overdue work at start")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "recovery at start failed; the monitor will try again"),
    }
    let (stop_monitor, monitor_stopped) = tokio::sync::oneshot::channel::<()>();
    let holder = monitor_holder();
    let monitor = {
        let works = works.clone();
        let holder = holder.clone();
        tokio::spawn(async move {
            works
                .recovery_monitor(holder, recovery_every, async {
                    let _ = monitor_stopped.await;
                })
                .await
        })
    };
    // Schedules fire from every server; each fire is claimed once in the database.
    let (stop_schedules, schedules_stopped) = tokio::sync::oneshot::channel::<()>();
    let ticker = {
        let works = works.clone();
        tokio::spawn(async move { works.schedule_ticker(std::time::Duration::from_secs(15), async { let _ = schedules_stopped.await; }).await })
    };
    let cluster = ClusterWork::start(&works);
    let app = works_http::router(works, config);
    let stop = shutdown_signal();

    say(&format!("Anthropy Works is running at http://{bound} — sign in as {}", works_core::auth::FIRST_ADMIN));
    tracing::info!(address = %bound, database = backend, "serving");

    let served = works_http::serve_until(listener, app, stop)
        .await
        .map_err(|e| Error::internal(format!("The server stopped unexpectedly: {e}")));
    let _ = stop_monitor.send(());
    let _ = stop_schedules.send(());
    if tokio::time::timeout(std::time::Duration::from_secs(10), ticker).await.is_err() {
        tracing::warn!("the schedule ticker did not stop within 10 seconds");
    }
    if tokio::time::timeout(std::time::Duration::from_secs(10), monitor).await.is_err() {
        tracing::warn!("the recovery monitor did not stop within 10 seconds");
    }
    cluster.stop(&holder).await;
    served?;
    say("Anthropy Works stopped.");
    Ok(())
}

/// The core's settings from the serve options, and how often recovery runs.
fn core_config(args: &ServeArgs) -> Result<(works_core::CoreConfig, std::time::Duration)> {
    if args.node_stale_after_secs == 0 {
        return Err(Error::invalid("node_stale_after_secs", "must be at least 1"));
    }
    if args.node_offline_after_secs <= args.node_stale_after_secs {
        return Err(Error::invalid(
            "node_offline_after_secs",
            format!("must be more than the stale threshold ({} seconds)", args.node_stale_after_secs),
        ));
    }
    if args.checkin_interval_secs == 0 || args.checkin_interval_secs > 3600 {
        return Err(Error::invalid("checkin_interval_secs", "must be from 1 to 3600"));
    }
    if args.checkin_interval_secs >= args.node_stale_after_secs {
        tracing::warn!(
            checkin_interval_secs = args.checkin_interval_secs,
            node_stale_after_secs = args.node_stale_after_secs,
            "agents check in less often than the stale threshold: healthy nodes will show as stale"
        );
    }
    if args.run_stale_after_secs == 0 {
        return Err(Error::invalid("run_stale_after_secs", "must be at least 1"));
    }
    if args.checkin_max_in_flight == 0 || args.checkin_max_in_flight > 1_000_000 {
        return Err(Error::invalid("checkin_max_in_flight", "must be from 1 to 1000000"));
    }
    if args.recovery_interval_secs == 0 || args.recovery_interval_secs > 3600 {
        return Err(Error::invalid("recovery_interval_secs", "must be from 1 to 3600"));
    }
    let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
    let config = works_core::CoreConfig {
        nodes: works_core::NodeThresholds {
            stale_after: secs(args.node_stale_after_secs),
            offline_after: secs(args.node_offline_after_secs),
        },
        checkin_interval_secs: args.checkin_interval_secs,
        openclaw_repository: connect::openclaw_repository()?,
        run_stale_after: secs(args.run_stale_after_secs),
        checkin_max_in_flight: args.checkin_max_in_flight,
        ..Default::default()
    };
    Ok((config, std::time::Duration::from_secs(args.recovery_interval_secs)))
}

/// This server's name as the holder of the recovery lease: host, process and a random
/// part, so that two servers (or a restarted one) never share it.
fn monitor_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "works".to_owned());
    let random: String = works_core::secret::new_id().chars().rev().filter(char::is_ascii_hexdigit).take(8).collect();
    format!("{host}-{}-{random}", std::process::id())
}

/// What a server does for the others sharing its database: relays announcements of
/// work queued through them to the agents long-polling this server, looks for queued
/// work on behalf of every waiting agent (work queued by another process, or an
/// announcement lost), and at shutdown gives up the recovery lease so that another
/// server takes the periodic work over at once. (The periodic work itself runs in the
/// recovery monitor, on the lease holder.)
struct ClusterWork {
    works: works_core::Works,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ClusterWork {
    fn start(works: &works_core::Works) -> ClusterWork {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let relay = {
            let (works, stopped) = (works.clone(), until_stopped.clone());
            tokio::spawn(async move { works.relay_work_announcements(stopped()).await })
        };
        let sweep = {
            let works = works.clone();
            tokio::spawn(async move { works.sweep_queued_work(until_stopped()).await })
        };
        ClusterWork { works: works.clone(), stop, tasks: vec![relay, sweep] }
    }

    async fn stop(self, holder: &str) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
        match self.works.step_down(holder).await {
            Ok(true) => tracing::info!("gave up the recovery lease; another server takes the periodic work over"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not give up the recovery lease; another server takes it over when it runs out"),
        }
    }
}

/// Installs the Ctrl-C and SIGTERM handlers now (before the server says it is running)
/// and resolves when one arrives.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    let signal = works_agent::stop_signal();
    async move {
        signal.await;
        say("Stopping: finishing the requests in progress…");
    }
}
